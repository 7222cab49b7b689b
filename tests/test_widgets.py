"""The control panel and the race, headless: no kernel, no browser.

Setting a widget's value fires its observers at once and `button.click()` runs the click handlers
(REFERENCE §7), so these tests press the same buttons a person would, then wait for the worker.
"""

from __future__ import annotations

import re
import time

import pytest
import torch

import workbench
from workbench.engine.result import KEPT, NEW, NOISE
from workbench.measure.store import ResultsStore
from workbench.widgets import ControlPanel
from workbench.widgets.race import NO_GPU, power_text

PROMPT = "once upon a time , there was a cat"
TIMEOUT_S = 60


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Two intra-op threads on two cores shared with other jobs spin against each other (a step
    # went from ~4 ms to ~250 ms here); one thread keeps these tests fast and steady.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def store(tmp_path):
    return ResultsStore(tmp_path / "runs.sqlite")


@pytest.fixture
def panel(autoregressive, diffusion, store):
    panel = ControlPanel(autoregressive, diffusion, store=store)
    panel.controls.prompt.value = PROMPT
    yield panel
    panel.stop()
    panel.wait(TIMEOUT_S)


def status(panel: ControlPanel) -> tuple[str, str]:
    level = re.search(r'data-level="(\w+)"', panel.status.value).group(1)
    return level, re.sub(r"<[^>]+>", "", panel.status.value).replace("&#x27;", "'")


def lane_numbers(panel: ControlPanel, kind: str) -> dict[str, str]:
    cells = re.findall(r'<td class="wb-([\w-]+)"[^>]*>([^<]*)</td>', panel.race.lanes[kind].html.value)
    return dict(cells)


def test_sliders_take_their_ranges_from_the_models(panel, diffusion, autoregressive):
    controls = panel.controls
    assert controls.steps.max == diffusion.limits.max_steps
    assert controls.steps.value == diffusion.defaults["steps"]
    assert controls.block_size.value == diffusion.defaults["block_size"]
    assert controls.block_size.max <= diffusion.limits.max_block_size
    assert max(controls.max_new_tokens.options) < diffusion.limits.context_length
    assert controls.max_new_tokens.value == diffusion.defaults["max_new_tokens"]
    assert controls.temperature.value == autoregressive.defaults["temperature"]
    assert controls.schedule.value  # the tiny diffusion model's default temperature is its schedule


def test_run_fills_the_canvas_the_race_the_table_and_the_store(panel, diffusion, store):
    controls = panel.controls
    controls.steps.value, controls.block_size.value, controls.max_new_tokens.value = 5, 4, 8
    controls.seed.value = "3"
    panel.run_button.click()
    assert panel.wait(TIMEOUT_S)

    ar_result, diffusion_result = panel.results
    assert status(panel)[0] == "info" and status(panel)[1].startswith("Done.")
    # The panel passed exactly the slider values to the engine: a direct call gives the same tokens.
    direct = diffusion.generate(PROMPT, seed=3, steps=5, block_size=4, max_new_tokens=8)
    assert diffusion_result.token_ids == direct.token_ids
    assert diffusion_result.settings["steps"] == 5 and diffusion_result.settings["block_size"] == 4

    canvas = panel.canvas.html.value
    assert 'data-frame="final"' in canvas and "Resolved text" in canvas
    assert canvas.count('class="wb-token') == 4  # one chip per canvas position
    assert panel.canvas.scrubber.max == len(diffusion_result.trace) == diffusion_result.forward_passes
    assert not panel.canvas.scrubber.disabled

    for kind, result in (("autoregressive", ar_result), ("diffusion", diffusion_result)):
        numbers = lane_numbers(panel, kind)
        assert numbers["tokens"] == str(result.new_tokens)
        assert numbers["forward-passes"] == str(result.forward_passes)
        assert float(numbers["tokens-per-s"]) == pytest.approx(result.tokens_per_second, abs=0.06)
        assert numbers["first-token"] == f"{result.time_to_first_token_s:.3f} s"
        assert numbers["power"] == NO_GPU

    table = panel.table.html.value
    assert table.count("</tr>") == 3 and "steps=5 block=4" in table  # header + two runs
    stored = store.to_dataframe()
    assert list(stored["kind"]) == ["autoregressive", "diffusion"]
    assert list(stored["new_tokens"]) == [ar_result.new_tokens, diffusion_result.new_tokens]
    assert not panel.run_button.disabled and panel.stop_button.disabled


def test_scrubber_replays_every_step_of_the_trace(panel):
    panel.controls.steps.value, panel.controls.max_new_tokens.value = 4, 8
    panel.controls.early_exit.value = False
    panel.run()
    assert panel.wait(TIMEOUT_S)
    trace = panel.results[-1].trace
    scrubber, view = panel.canvas.scrubber, panel.canvas.html
    scrubber.value = 0
    assert "Noise \u2014 step 0" in view.value and view.value.count("wb-noise") == 8
    for index in range(1, len(trace)):
        scrubber.value = index
        step = trace[index - 1]
        assert f"Step {index} of {len(trace)}" in view.value
        for state, name in ((NOISE, "wb-noise"), (NEW, "wb-new"), (KEPT, "wb-kept")):
            assert view.value.count(f"wb-token {name}") == step.state.count(state)
    scrubber.value = len(trace)
    assert "Resolved text \u2014 final step" in view.value


def test_stop_ends_the_run_within_a_step_and_keeps_the_partial_result(panel, store):
    controls = panel.controls
    controls.steps.value, controls.block_size.value, controls.max_new_tokens.value = 64, 8, 64
    controls.early_exit.value = False  # 8 canvases x 64 steps: seconds of work, plenty of time to press Stop
    seen: list[int] = []
    live_redraw = panel.canvas.on_step

    def record(event):
        seen.append(event.forward_passes)
        live_redraw(event)

    panel.canvas.on_step = record
    panel.run_button.click()
    deadline = time.monotonic() + TIMEOUT_S
    while len(seen) < 3 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert panel.run_button.disabled and not panel.stop_button.disabled
    panel.run_button.click()  # ignored while running: still one race
    passes_at_stop = seen[-1]
    panel.stop_button.click()
    pressed = time.monotonic()
    assert panel.wait(TIMEOUT_S)

    assert time.monotonic() - pressed < 5
    stopped = panel.results[-1]
    assert len(panel.results) == 2 and stopped.kind == "diffusion"
    assert stopped.finish_reason == "stopped"
    # One step may be in flight when Stop lands, and one more may start between reading `seen` and the click.
    assert passes_at_stop <= stopped.forward_passes <= passes_at_stop + 2 < 64 * 8
    assert "Stopped" in panel.canvas.html.value and 'data-frame="final"' in panel.canvas.html.value
    assert 'data-status="stopped"' in panel.race.lanes["diffusion"].html.value
    assert status(panel)[1].startswith("Stopped.")
    assert list(store.to_dataframe()["kind"]) == ["autoregressive"]  # the half-run is shown, not stored
    assert not panel.run_button.disabled and panel.stop_button.disabled


def test_invalid_setting_shows_the_engine_message_and_run_stays_usable(panel, store):
    panel.controls.seed.value = "-1"
    panel.run_button.click()
    level, message = status(panel)
    assert level == "error"
    assert message == "seed=-1 is not allowed: an integer from 0 to 9223372036854775807"
    assert not panel.run_button.disabled and not panel.worker.running and panel.results == []

    panel.controls.seed.value = ""  # empty = random: the next run works
    panel.run_button.click()
    assert panel.wait(TIMEOUT_S) and status(panel)[0] == "info" and len(panel.results) == 2
    assert len(store) == 2


def test_an_error_inside_the_worker_lands_in_the_panel(panel):
    panel.controls.prompt.value = "   "  # only generate() checks the prompt, inside the worker thread
    panel.run_button.click()
    assert panel.wait(TIMEOUT_S)
    level, message = status(panel)
    assert level == "error" and message == "prompt='   ' is not allowed: a non-empty string"
    assert isinstance(panel.last_error, workbench.InvalidSettingError)
    assert 'data-status="failed"' in panel.race.lanes["autoregressive"].html.value
    assert not panel.run_button.disabled and panel.stop_button.disabled


def test_untrained_block_size_is_a_note_not_a_failure(panel):
    panel.controls.block_size.value, panel.controls.max_new_tokens.value = 5, 8
    panel.run_button.click()
    level, message = status(panel)
    assert level == "note" and "trained with canvas lengths [4, 8]" in message
    assert panel.wait(TIMEOUT_S) and len(panel.results) == 2


def test_picking_another_model_loads_it_and_a_bad_pick_is_refused(panel, ar_folder, diffusion_folder, tmp_path):
    picker = panel.pickers["autoregressive"]
    first = panel.handles["autoregressive"]
    other = tmp_path / "another-ar"
    other.symlink_to(ar_folder)  # a second name for a loadable folder
    picker.options = [*picker.options, ("another-ar", str(other)), ("wrong kind", str(diffusion_folder))]

    picker.value = str(other)
    assert panel.wait(TIMEOUT_S)
    assert panel.handles["autoregressive"].name == str(other) and status(panel)[1].startswith("Loaded another-ar")

    picker.value = str(diffusion_folder)
    assert panel.wait(TIMEOUT_S)
    level, message = status(panel)
    assert level == "error" and "an autoregressive model" in message
    assert picker.value == str(other) and panel.handles["autoregressive"].name == str(other)
    picker.value = first.name  # loaded before: switching back needs no load
    assert panel.wait(TIMEOUT_S) and panel.handles["autoregressive"] is first


def test_models_of_the_wrong_kind_are_refused(autoregressive, diffusion):
    with pytest.raises(workbench.InvalidSettingError, match="an autoregressive model"):
        ControlPanel(diffusion, diffusion, store=None)


def test_panel_displays_as_a_widget_and_can_run_without_a_store(autoregressive, diffusion):
    panel = ControlPanel(autoregressive, diffusion, store=None)
    bundle = panel._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert "kept in this panel only" in status(panel)[1]
    panel.run(PROMPT)
    assert panel.wait(TIMEOUT_S) and len(panel.to_dataframe()) == 2


def test_power_is_never_shown_as_zero():
    from workbench.measure.measurement import Measurement

    def measured(**telemetry):
        return Measurement.from_record({"device": "cuda:0", "telemetry": telemetry})

    assert power_text("cpu", measured(avg_power_w=None)) == NO_GPU
    assert power_text("cpu", None) == NO_GPU
    assert power_text("cuda", None) == "measuring\u2026"
    assert power_text("cuda", measured(avg_power_w=87.4)) == "87 W"
    missing = measured(avg_power_w=None, joules_per_token_missing="no NVIDIA driver")
    assert power_text("cuda", missing) == "n/a (no NVIDIA driver)"


def test_a_lane_shows_live_watts_while_running_and_the_average_at_the_end(diffusion):
    from workbench.widgets.race import Lane

    readings = iter([150.0, 212.0, 230.0, 245.0] + [250.0] * 1000)
    lane = Lane("diffusion", hz=1000, live_power=lambda device: (lambda: next(readings), None))
    lane.begin(diffusion)
    assert "150 W now" in lane.html.value
    lane.on_step(workbench.StepEvent("diffusion", 1, 0.01, [], None))
    assert "212 W now" in lane.html.value
    result = diffusion.generate(PROMPT, steps=2, max_new_tokens=4, seed=0)
    result.device, result.telemetry = "cuda:0", {"avg_power_w": 201.6}  # as a GPU run's energy window reports it
    lane.finish(result)
    assert "202 W average" in lane.html.value and "now" not in lane.html.value


def test_a_lane_without_a_gpu_says_so_and_a_failing_reader_gives_its_reason(diffusion):
    from workbench.widgets.race import Lane

    cpu = Lane("diffusion")  # the real NVML reader: on a CPU device there is nothing to read
    cpu.begin(diffusion)
    assert NO_GPU in cpu.html.value and " W" not in cpu.html.value

    def broken():
        raise RuntimeError("GPU is lost")

    lane = Lane("diffusion", hz=1000, live_power=lambda device: (broken, None))
    lane.begin(diffusion)
    assert "n/a (power reading failed: GPU is lost)" in lane.html.value
