"""The replay clock and the replay widget, on real runs of the embedded models (no kernel needed).

The clock (`workbench.export.timeline`) is checked against the times each run recorded; the widget
(`workbench.widgets.replay.ReplayView`) is driven as a person would: set the scrubber, click Replay,
click Pause, and its worker thread must reach every lane's last frame at that lane's recorded time.
"""

from __future__ import annotations

import re
import time
from dataclasses import replace
from itertools import accumulate

import pytest
from test_widgets import one_torch_thread  # noqa: F401  (a module fixture: one torch thread here too)

from workbench.errors import InvalidSettingError
from workbench.export.timeline import numbers_at, shared_end_s, timeline
from workbench.widgets.race import RaceView
from workbench.widgets.replay import ReplayView

PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def runs(embedded_models):
    ar, diffusion = embedded_models
    ar_result = ar.generate(PROMPT, max_new_tokens=32, seed=1)
    diffusion_result = diffusion.generate(PROMPT, max_new_tokens=32, block_size=16, seed=1)
    assert diffusion_result.trace and ar_result.step_times_s
    return ar, diffusion, ar_result, diffusion_result


def test_diffusion_lane_has_the_noise_then_one_frame_per_step_at_its_recorded_time(runs):
    _, diffusion, _, result = runs
    lane = timeline(result, diffusion.tokenizer)
    assert len(lane.frames) == len(result.trace) + 1
    assert lane.times == [0.0] + [step.elapsed_s for step in result.trace]
    assert lane.end_s == result.trace[-1].elapsed_s
    words = [diffusion.tokenizer.decode([t], skip_special_tokens=False) for t in result.trace[2].tokens]
    middle = (result.trace[2].elapsed_s + result.trace[3].elapsed_s) / 2
    assert [chip.word for chip in lane.frame_at(middle).chips] == words  # step 3's canvas until step 4 lands
    assert lane.frame_at(-1.0) is lane.frames[0] and lane.frame_at(99.0) is lane.frames[-1]
    assert lane.frames[-1].text == result.text and lane.frames[-1].tokens == result.new_tokens
    assert "not available" not in lane.note


def test_ar_lane_has_one_frame_per_token_and_says_it_has_no_canvas(runs):
    ar, _, result, _ = runs
    lane = timeline(result, ar.tokenizer)
    expected = [result.time_to_first_token_s] + [
        result.time_to_first_token_s + gap for gap in accumulate(result.step_times_s)
    ]
    assert lane.times == pytest.approx(expected)
    assert len(lane.frames) == result.new_tokens
    assert lane.frames[4].text == ar.tokenizer.decode(result.token_ids[:5], skip_special_tokens=True)
    assert lane.frames[-1].text == result.text
    assert not lane.has_canvas and "canvases are not available" in lane.note
    at = lane.times[9]
    assert numbers_at(lane, at)["tokens"] == "10"
    assert numbers_at(lane, at)["tokens/s"] == f"{10 / at:.1f}"


def test_runs_without_a_trace_or_tokenizer_still_replay_and_say_what_is_missing(runs):
    _, _, _, result = runs
    bare = replace(result, trace=[])
    lane = timeline(bare)
    assert len(lane.frames) == len(result.step_times_s) + 1  # one per step, from the step times alone
    assert "no trace" in lane.note and "no tokenizer" in lane.note
    assert lane.frames[-1].text == result.text  # the text is known once the run is over
    served = replace(result, trace=[], device="served", forward_passes=None)
    lane = timeline(served)
    assert lane.kind == "served" and lane.frames[0].label.startswith("chunk 1 of")
    assert numbers_at(lane, 0.0 + lane.times[0])["tokens"].startswith("n/a")
    with_ids = timeline(result)  # a trace but no tokenizer: chips show ids
    assert with_ids.frames[1].chips[0].word == f"#{result.trace[0].tokens[0]}"


def test_a_huge_trace_is_subsampled_evenly_keeping_first_last_and_true_times(runs):
    _, diffusion, _, result = runs
    steps = [replace(result.trace[i % len(result.trace)], elapsed_s=0.001 * (i + 1)) for i in range(3000)]
    lane = timeline(replace(result, trace=steps), diffusion.tokenizer, max_frames=50)
    assert len(lane.frames) == 50
    assert lane.times[0] == 0.0 and lane.end_s == pytest.approx(3.0)
    assert lane.times == sorted(lane.times) and "subsampled: 50 of 3001" in lane.note
    with pytest.raises(InvalidSettingError, match="max_frames"):
        timeline(result, max_frames=1)


def test_scrubbing_the_widget_shows_each_lanes_numbers_at_that_time(runs):
    ar, diffusion, ar_result, diffusion_result = runs
    view = ReplayView()
    view.load_results([ar_result, diffusion_result], [ar.tokenizer, diffusion.tokenizer])
    assert view.scrubber.max == pytest.approx(max(diffusion_result.trace[-1].elapsed_s, view.lanes[0].end_s))
    at = diffusion_result.trace[1].elapsed_s
    view.scrubber.value = at
    ar_pane, diffusion_pane = (pane.value for pane in view.panes.children)
    assert f'data-frame="{view.lanes[1].index_at(at)}"' in diffusion_pane
    assert "step 2 of" in diffusion_pane and diffusion_pane.count('class="wb-token"') == 16
    tokens_now = numbers_at(view.lanes[0], at)["tokens"]
    assert re.search(rf'class="wb-tokens"[^>]*>{tokens_now}<', ar_pane)


def test_replay_reaches_each_lanes_last_frame_at_its_recorded_time(runs):
    ar, diffusion, ar_result, diffusion_result = runs
    view = ReplayView(hz=50)
    view.load_results([ar_result, diffusion_result], [ar.tokenizer, diffusion.tokenizer])
    started = time.monotonic()
    view.play_button.click()
    assert view.play_button.disabled and view.wait(timeout=30)
    wall = time.monotonic() - started
    end = shared_end_s(view.lanes)
    assert wall >= end  # true speed: never faster than the run was
    for number, lane in enumerate(view.lanes):
        # Shown no earlier than recorded, and within a frame (plus scheduling slack on busy cores).
        assert lane.end_s <= view.reached[number] <= lane.end_s + view.tick_s + 0.05
    assert view.scrubber.value == end and not view.play_button.disabled


def test_pause_stops_a_slow_replay_promptly_and_replay_resumes_from_there(runs):
    ar, diffusion, ar_result, diffusion_result = runs
    view = ReplayView()
    view.load_results([ar_result, diffusion_result], [ar.tokenizer, diffusion.tokenizer])
    view.speed.value = 1 / 16
    view.play_button.click()
    time.sleep(0.3)
    view.pause_button.click()
    assert view.wait(timeout=2)
    paused_at = view.scrubber.value
    assert 0 < paused_at < shared_end_s(view.lanes)
    view.play_button.click()
    time.sleep(0.2)
    view.pause_button.click()
    assert view.wait(timeout=2) and view.scrubber.value > paused_at


def test_a_race_loads_its_results_into_its_replay(runs):
    ar, diffusion, _, _ = runs
    race = RaceView()
    results = race.run(PROMPT, ar=(ar, {"max_new_tokens": 12}), diffusion=(diffusion, {"max_new_tokens": 16}))
    assert [lane.kind for lane in race.replay.lanes] == ["autoregressive", "diffusion"]
    assert race.replay.lanes[1].end_s == results[1].trace[-1].elapsed_s
    assert not race.replay.play_button.disabled
