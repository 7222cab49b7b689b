"""The race's numbers: an untimed warm-up shown as the cold figure, the busy note, the verdict line."""

from __future__ import annotations

from tests.busy_helpers import busy_loop
from workbench.widgets.race import RaceView

AR = {"max_new_tokens": 6, "seed": 0}
DIFFUSION = {"max_new_tokens": 6, "steps": 2, "seed": 0}


def test_first_race_warms_up_and_shows_the_cold_first_token(autoregressive, diffusion):
    race = RaceView()
    race.run("once upon a time", ar=(autoregressive, AR), diffusion=(diffusion, DIFFUSION))
    for lane in race.lanes.values():
        assert "cold first token" in lane.html.value and "(first run, untimed)" in lane.html.value
    assert race.verdict.value.count("data-outcome") == 1
    assert 'data-outcome="too_few"' in race.verdict.value or 'data-outcome="withheld"' in race.verdict.value
    assert "1 race(s)" in race.verdict.value
    # A new seed is the same work: no second warm-up, the same cold figure stays
    race.run(
        "once upon a time", ar=(autoregressive, {**AR, "seed": 1}), diffusion=(diffusion, {**DIFFUSION, "seed": 1})
    )
    assert len(race._cold) == 2
    assert "2 race(s)" in race.verdict.value  # the same work, so the same series of races


def test_a_busy_race_says_so_and_gives_no_verdict(autoregressive, diffusion):
    race = RaceView()
    # Runs of a few tenths of a second: over a run of a few ms the CPU counters' 10 ms ticks can read 0
    # for the busy child (a short run says nothing either way; see workbench.measure.conditions).
    longer_ar, longer_diffusion = {**AR, "max_new_tokens": 48}, {**DIFFUSION, "max_new_tokens": 48, "steps": 8}
    with busy_loop():
        race.run("once upon a time", ar=(autoregressive, longer_ar), diffusion=(diffusion, longer_diffusion))
    assert "machine was busy" in race.lanes["diffusion"].html.value
    assert 'data-outcome="withheld"' in race.verdict.value and "faster" not in race.verdict.value
