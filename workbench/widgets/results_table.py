"""The panel's table of runs so far, and the hand-off of each finished run to a results store.

The table lists this panel's runs (oldest first) with `workbench.experiments.compare.comparison_table`'s columns
plus the settings, how the run ended and its power, rendered from a pandas DataFrame to HTML (the
`busy` column marks runs during which other processes took CPU: their speed says little). Runs
that finished are added to the `ResultsStore`; stopped runs are shown but not stored, so a store
never mixes half-runs into speed figures. The whole store (every notebook, every day) is
`store.to_dataframe()`; this table is only what this panel did.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import ipywidgets as widgets
import pandas as pd

from workbench.engine.result import GenerationResult
from workbench.errors import WorkbenchError
from workbench.experiments.compare import comparison_table
from workbench.measure.measurement import Measurement
from workbench.measure.store import ResultsStore
from workbench.widgets.race import power_text

StoreChoice = ResultsStore | str | Path | bool | None
SHOWN_ROWS = 50  # the newest runs; older ones stay in `to_dataframe()` and the store
TEXT_CHARS = 80


def open_store(store: StoreChoice) -> ResultsStore | None:
    """True: the user's default store; a path or a `ResultsStore`: that one; None or False: no store."""
    if store is None or store is False:
        return None
    if store is True:
        return ResultsStore()
    if isinstance(store, ResultsStore):
        return store
    return ResultsStore(store)


def settings_text(result: GenerationResult) -> str:
    settings = result.settings
    temperature = settings.get("temperature")
    parts = [f"T={temperature:g}" if isinstance(temperature, (int, float)) else f"T={temperature}"]
    if result.kind == "diffusion":
        parts = [
            f"steps={settings.get('steps')}",
            f"block={settings.get('block_size')}",
            settings.get("sampler", ""),
            *parts,
        ]
    fast = result.telemetry.get("fast_path") or {}
    if settings.get("compile") and fast:  # what was asked for, and what ran
        parts.append("compiled" if fast.get("used") else "compile asked, ran eager")
    return " ".join(part for part in parts if part) + f" seed={settings.get('seed')}"


class ResultsTable:
    def __init__(self, store: ResultsStore | None) -> None:
        self.store = store
        self.results: list[GenerationResult] = []
        self.html = widgets.HTML(value=_empty())
        self.html.add_class("wb-results")

    def add(self, results: list[GenerationResult]) -> str | None:
        """Show the runs and store the finished ones; returns a problem with the store, if any."""
        self.results.extend(results)
        frame = self.to_dataframe().tail(SHOWN_ROWS)
        frame["text"] = frame["text"].map(
            lambda text: text if len(text) <= TEXT_CHARS else text[: TEXT_CHARS - 1] + "\u2026"
        )
        with self.html.hold_sync():
            self.html.value = frame.to_html(index=False, na_rep="\u2013", border=0, classes="wb-results-table")
        if self.store is None:
            return None
        try:
            for result in results:
                if not result.stopped:
                    self.store.add(result, tags={"source": "control-panel"})
        except (WorkbenchError, OSError, sqlite3.Error) as error:  # the runs stay in this table; only saving failed
            return f"could not save to the results store: {error}"
        return None

    def to_dataframe(self) -> pd.DataFrame:
        """This panel's runs, one row each, oldest first (None/NaN = not measured)."""
        if not self.results:
            return pd.DataFrame()
        frame = comparison_table(self.results)
        frame.insert(0, "run", range(1, len(self.results) + 1))
        frame.insert(3, "settings", [settings_text(result) for result in self.results])
        frame["finish"] = [result.finish_reason for result in self.results]
        frame["power"] = [power_text(result.device, Measurement.from_result(result)) for result in self.results]
        return frame


def _empty() -> str:
    return '<div style="color:#6b7280">No runs yet.</div>'
