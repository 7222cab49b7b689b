"""The control panel: pick two models, set the knobs, press Run, watch the race and the canvas.

    panel = ControlPanel("tiny-ar", "tiny-diffusion")   # names or loaded handles
    panel                                               # shows it in the notebook
    panel.run("Once upon a time"); panel.wait()         # the same as typing and pressing Run
    ControlPanel(served="http://127.0.0.1:8000/v1")     # a third lane: a model behind a server

Run checks the settings with the engine first, so a bad value is refused at once with the engine's
own one-line message (value given, what is allowed) in the panel's status line. The race then runs
in a worker thread: the notebook stays usable, Stop ends the run at its next step, Run stays
disabled until the worker is done, and any error lands in the status line (the full exception is
kept as `panel.last_error`), never as a traceback in some other cell. Picking another model loads it
in the same worker. Finished runs go to the results store (`store=`) and the table under the race.
A served model (`served=`, a URL or a `workbench.engine.served` handle) runs third with the autoregressive
settings. Left out: more than two local models at once, picking the served model from the panel, and
editing a run's settings after it started.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

import ipywidgets as widgets
import pandas as pd

from workbench.engine.generator import Generator
from workbench.engine.handle import ModelHandle
from workbench.engine.result import GenerationResult
from workbench.engine.served.handle import load_served
from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.loading.load import load
from workbench.loading.registry import REGISTRY, available_offline
from workbench.measure.store import ResultsStore
from workbench.widgets.canvas_view import CanvasView
from workbench.widgets.controls import Controls
from workbench.widgets.race import RaceView, display_name
from workbench.widgets.results_table import ResultsTable, StoreChoice, open_store
from workbench.widgets.throttle import DEFAULT_HZ
from workbench.widgets.worker import Worker

KINDS = ("autoregressive", "diffusion")
_STATUS_COLOURS = {"info": "#374151", "note": "#b45309", "error": "#b91c1c"}


class ControlPanel:
    def __init__(
        self,
        ar: str | ModelHandle = "tiny-ar",
        diffusion: str | ModelHandle = "tiny-diffusion",
        *,
        store: StoreChoice = True,
        device: str = "auto",
        hz: float = DEFAULT_HZ,
        served: str | Generator | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        """`store`: True = your default `ResultsStore()`, a store or a path = that one, None = keep runs here only.

        `settings`: starting values of the controls by name (`controls.CONTROL_NAMES`), e.g. a notebook's
        parameters, so the panel starts where the notebook's tables did; unset ones start at the models' defaults.
        """
        self.device = device
        self._loaded: dict[str, ModelHandle] = {}
        self.handles = {
            "autoregressive": self._handle(ar, "autoregressive"),
            "diffusion": self._handle(diffusion, "diffusion"),
        }
        self.served = load_served(served) if isinstance(served, str) else served
        if self.served is not None and not (isinstance(self.served, Generator) and self.served.is_served):
            raise InvalidSettingError(
                "served", served, "a server URL like http://HOST:PORT/v1, a served handle, or None"
            )
        self.last_error: Exception | None = None
        self.controls = Controls()
        self.controls.configure(self.handles["autoregressive"], self.handles["diffusion"])
        self.controls.apply(settings or {})
        self.pickers = {kind: self._picker(kind) for kind in KINDS}
        self.run_button = widgets.Button(description="Run", button_style="success", icon="play")
        self.stop_button = widgets.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.run_button.add_class("wb-run")
        self.stop_button.add_class("wb-stop")
        self.run_button.on_click(lambda _: self._start_race())
        self.stop_button.on_click(lambda _: self.stop())
        self.status = widgets.HTML()
        self.status.add_class("wb-status")
        self.canvas = CanvasView(hz)
        self.race = RaceView(hz, served=self.served is not None)
        self.table = ResultsTable(open_store(store))
        self.worker = Worker(on_error=self._show_error, on_done=self._idle)
        self.widget = widgets.VBox([
            widgets.HBox(list(self.pickers.values())),
            self.controls.widget,
            widgets.HBox([self.run_button, self.stop_button]),
            self.status,
            self.race.widget,
            self.canvas.widget,
            self.race.replay.widget,
            widgets.HTML("<b>Runs so far</b>"),
            self.table.html,
        ])  # fmt: skip
        self.widget.add_class("wb-panel")
        self._say(self._where_stored(), "info")

    # -- the public, scriptable side of the buttons -----------------------------------------------------

    def run(self, prompt: str | None = None) -> None:
        """Start a race (as pressing Run does), optionally with a new prompt; returns at once."""
        if prompt is not None:
            self.controls.prompt.value = prompt
        self._start_race()

    def stop(self) -> None:
        """End the current run at its next step (as pressing Stop does)."""
        self.worker.stop()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the panel is idle; False if it is still busy after `timeout` seconds."""
        return self.worker.wait(timeout)

    @property
    def results(self) -> list[GenerationResult]:
        return self.table.results

    @property
    def store(self) -> ResultsStore | None:
        return self.table.store

    def to_dataframe(self) -> pd.DataFrame:
        """This panel's runs as a pandas DataFrame (the whole store: `panel.store.to_dataframe()`)."""
        return self.table.to_dataframe()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    # -- running --------------------------------------------------------------------------------------

    def _start_race(self) -> None:
        if self.worker.running:  # a headless click() reaches here even while the button is disabled
            return
        ar, diffusion = self.handles["autoregressive"], self.handles["diffusion"]
        try:  # resolved once, here: the race and generate() use these as they are
            ar_settings = ar.settings(**self.controls.ar_settings())
            diffusion_settings = diffusion.settings(**self.controls.diffusion_settings())
            # A served model runs with the autoregressive knobs: those are what a request carries.
            served_knobs = {**self.controls.ar_settings(), "compile": False}  # a server runs its own forward
            served_settings = self.served.settings(**served_knobs) if self.served is not None else None
        except WorkbenchError as error:
            self._say(str(error), "error")
            return
        notes = [str(note) for note in ar.notes(ar_settings) + diffusion.notes(diffusion_settings)]
        prompt = self.controls.prompt.value

        served = (self.served, served_settings) if self.served is not None and served_settings is not None else None

        def race(stop: Any) -> None:
            results = self.race.run(
                prompt,
                ar=(ar, ar_settings),
                diffusion=(diffusion, diffusion_settings),
                served=served,
                stop=stop,
                canvas=self.canvas,
            )
            problem = self.table.add(results)
            self._say(problem or self._summary(results), "note" if problem else "info")

        running = [ar, diffusion] + ([self.served] if self.served is not None else [])
        self._busy("Running " + " then ".join(display_name(handle.name) for handle in running) + "\u2026", notes)
        self.worker.start(race, name="workbench-race")

    def _pick(self, kind: str, name: str) -> None:
        current = self.handles[kind]
        if name == current.name or self.worker.running:
            return

        def load_model(_: Any) -> None:
            try:
                handle = self._handle(name, kind)
            except Exception:
                self.pickers[kind].value = current.name  # keep showing the model that is still in use
                raise
            self.handles[kind] = handle
            self.controls.configure(self.handles["autoregressive"], self.handles["diffusion"])
            self._say(
                f"Loaded {display_name(handle.name)} ({handle.parameters / 1e6:.1f}M parameters) in {handle.load_s:.1f} s.",
                "info",
            )

        self._busy(f"Loading {name}\u2026")
        self.worker.start(load_model, name="workbench-load")

    def _handle(self, spec: str | ModelHandle, kind: str) -> ModelHandle:
        handle = spec if isinstance(spec, ModelHandle) else self._loaded.get(spec) or load(spec, device=self.device)
        if not isinstance(handle, ModelHandle):
            raise InvalidSettingError(kind, spec, "a model loaded in this process (a served one races in its own lane)")
        if handle.kind != kind:
            article = "an" if kind == "autoregressive" else "a"
            raise InvalidSettingError(kind, handle.name, f"{article} {kind} model ({handle.name!r} is {handle.kind})")
        self._loaded[handle.name] = handle
        return handle

    # -- what the panel shows -------------------------------------------------------------------------

    def _picker(self, kind: str) -> widgets.Dropdown:
        current = self.handles[kind].name
        names = [current] + [entry.name for entry in REGISTRY.values()
                             if entry.kind == kind and entry.name != current and available_offline(entry)]  # fmt: skip
        picker = widgets.Dropdown(
            options=[(display_name(name), name) for name in names],
            value=current,
            description="autoregressive" if kind == "autoregressive" else "diffusion",
            style={"description_width": "120px"},
        )
        picker.add_class(f"wb-picker-{kind}")
        picker.observe(lambda change: self._pick(kind, change["new"]), names="value")
        return picker

    def _busy(self, message: str, notes: list[str] | None = None) -> None:
        self.run_button.disabled, self.stop_button.disabled = True, False
        for picker in self.pickers.values():
            picker.disabled = True
        self._say(" ".join([message, *(notes or [])]), "note" if notes else "info")

    def _idle(self) -> None:
        for picker in self.pickers.values():
            picker.disabled = False
        self.run_button.disabled, self.stop_button.disabled = False, True

    def _show_error(self, error: Exception) -> None:
        self.last_error = error
        if isinstance(error, WorkbenchError):
            self._say(str(error), "error")
        else:  # a bug, not a bad input: say what it was; the traceback is in panel.last_error
            self._say(
                f"Unexpected {type(error).__name__}: {error} (the panel still works; details in panel.last_error)",
                "error",
            )

    def _say(self, message: str, level: str) -> None:
        self.status.value = f'<div data-level="{level}" style="color:{_STATUS_COLOURS[level]}">{escape(message)}</div>'

    def _summary(self, results: list[GenerationResult]) -> str:
        parts = []
        for result in results:
            rate = result.tokens_per_second
            where = " (served)" if result.device == "served" else ""
            parts.append(
                f"{display_name(result.model)}{where}: {result.new_tokens} tokens, "
                + (f"{rate:.1f} tok/s" if rate else "no tokens")
            )
        ended = "Stopped" if any(result.stopped for result in results) else "Done"
        return f"{ended}. " + "; ".join(parts) + f". {self._where_stored()}"

    def _where_stored(self) -> str:
        store = self.table.store
        return (
            f"Finished runs are saved to {store.path}."
            if store is not None
            else "Runs are kept in this panel only (store=None)."
        )
