"""Exports of real runs: the HTML player in a real Chromium with the network off, the GIF, the MP4,
the results store's timelines, `workbench export`, and the bad inputs that must fail clearly."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import imageio.v2 as imageio
import pytest
from PIL import Image
from test_browser import CHROMIUM_ARGS, chromium  # noqa: F401  (the fixture: skips without /usr/bin/chromium)
from test_widgets import one_torch_thread  # noqa: F401

from workbench.errors import InvalidSettingError, WorkbenchError
from workbench.export import save_gif, save_html, save_video, timeline
from workbench.export.animation import HOLD_S, MIN_GIF_DELAY_MS
from workbench.measure.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]
PROMPT = "Once upon a time"


@pytest.fixture(scope="module")
def runs(embedded_models):
    ar, diffusion = embedded_models
    ar_result = ar.generate(PROMPT, max_new_tokens=32, seed=2)
    diffusion_result = diffusion.generate(PROMPT, max_new_tokens=32, block_size=16, seed=2)
    assert len(diffusion_result.trace) >= 4
    return ar, diffusion, ar_result, diffusion_result


def words(tokenizer, ids):
    return [tokenizer.decode([t], skip_special_tokens=False) for t in ids]


@pytest.mark.browser
def test_the_html_player_plays_offline_and_scrubs_to_the_traced_canvases(runs, chromium, tmp_path):  # noqa: F811
    from playwright.sync_api import expect, sync_playwright

    ar, diffusion, ar_result, result = runs
    path = save_html(tmp_path / "race.html", [ar_result, result], [ar.tokenizer, diffusion.tokenizer])
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(offline=True)
            context.route(
                "**/*", lambda route: route.continue_() if route.request.url.startswith("file:") else route.abort()
            )
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.goto(path.as_uri())
            page.get_by_role("button", name="Play").click()
            expect(page.locator("body")).to_have_attribute("data-playing", "0", timeout=30_000)  # played to the end
            lane = page.locator("#wb-lane-1")
            assert lane.get_attribute("data-frame") == str(len(result.trace))
            for index in (1, len(result.trace) // 2):
                step = result.trace[index]
                between = (step.elapsed_s + result.trace[index + 1].elapsed_s) / 2  # after this step, before the next
                page.locator("#wb-scrub").evaluate(
                    "(el, t) => { el.value = t; el.dispatchEvent(new Event('input')); }", between
                )
                expect(lane).to_have_attribute("data-frame", str(index + 1))
                shown = lane.locator(".wb-token").all_text_contents()
                expected = [w if w.strip() else "\u2423" for w in words(diffusion.tokenizer, step.tokens)]
                assert shown == expected
                assert lane.locator(".wb-label").inner_text().startswith(f"step {index + 1} of {len(result.trace)}")
            ar_lane = page.locator("#wb-lane-0")
            assert ar_lane.locator(".wb-text").inner_text() != ""  # the AR lane shows its text on the same clock
        finally:
            browser.close()
    assert requests and all(url.startswith("file:") for url in requests)  # nothing went to the network
    page_text = path.read_text()
    assert "http://" not in page_text and "https://" not in page_text  # no CDN, nothing to fetch


def test_the_html_carries_every_frame_and_the_settings(runs, tmp_path):
    _, diffusion, _, result = runs
    path = result.save_html(tmp_path / "one.html", diffusion.tokenizer)
    page = path.read_text()
    data = json.loads(page.split('<script id="wb-data" type="application/json">')[1].split("</script>")[0])
    assert len(data["lanes"][0]["frames"]) == len(result.trace) + 1
    assert data["end_s"] == result.trace[-1].elapsed_s
    assert "entropy_bound" in page and "tokens/forward" in page  # the settings and timing beside the player


def test_the_gif_has_one_frame_per_recorded_step_and_its_delays_follow_the_clock(runs, tmp_path):
    _, diffusion, _, result = runs
    path = result.save_gif(tmp_path / "run.gif", diffusion.tokenizer, size=(640, 360), speed=0.25)
    lane = timeline(result, diffusion.tokenizer)
    with Image.open(path) as gif:
        assert gif.n_frames == len(result.trace) + 1 and gif.size == (640, 360)
        delays = []
        for index in range(gif.n_frames):
            gif.seek(index)
            gif.convert("RGB")  # decodes
            delays.append(gif.info["duration"])
    gaps = [b - a for a, b in zip(lane.times, lane.times[1:])]
    for delay, gap in zip(delays, gaps):
        assert delay == max(MIN_GIF_DELAY_MS, round(gap / 0.25 * 100) * 10)
    assert delays[-1] == HOLD_S * 1000


def test_the_mp4_decodes_and_lasts_as_long_as_the_speed_implies(runs, tmp_path):
    ar, diffusion, ar_result, result = runs
    speed, fps = 0.25, 10
    path = save_video(
        tmp_path / "race.mp4", [ar_result, result], [ar.tokenizer, diffusion.tokenizer], fps=fps, speed=speed
    )
    end = max(timeline(ar_result).end_s, result.trace[-1].elapsed_s)
    with imageio.get_reader(path, format="FFMPEG") as reader:
        meta = reader.get_meta_data()
        shapes = [frame.shape for frame in reader.iter_data()]  # every frame decodes
    assert len(shapes) == int(end / speed * fps) + 1 and shapes[0] == (720, 1280, 3)
    assert meta["fps"] == fps
    assert abs(len(shapes) / fps - end / speed) <= 1 / fps  # x1/4: four times as long as the run


def test_a_huge_trace_gives_a_bounded_export(runs, tmp_path):
    _, diffusion, _, result = runs
    steps = [replace(result.trace[i % len(result.trace)], elapsed_s=0.0005 * (i + 1)) for i in range(4000)]
    huge = replace(result, trace=steps)
    page = save_html(tmp_path / "huge.html", huge, diffusion.tokenizer)
    assert page.stat().st_size < 3_000_000 and "subsampled: 1000 of 4001" in page.read_text()
    gif = save_gif(tmp_path / "huge.gif", huge, diffusion.tokenizer, size=(320, 240), max_frames=40, progress=False)
    with Image.open(gif) as image:
        assert image.n_frames == 40


def test_bad_paths_and_settings_fail_before_rendering(runs, tmp_path):
    _, _, _, result = runs
    with pytest.raises(InvalidSettingError, match="path.*existing folder"):
        result.save_html(tmp_path / "missing" / "x.html")
    with pytest.raises(InvalidSettingError, match="ending in .gif"):
        result.save_gif(tmp_path / "x.png")
    with pytest.raises(InvalidSettingError, match="path"):
        result.save_html(tmp_path)  # a folder
    with pytest.raises(InvalidSettingError, match="size"):
        result.save_video(tmp_path / "x.mp4", size=(1281, 720))
    with pytest.raises(InvalidSettingError, match="speed"):
        result.save_video(tmp_path / "x.mp4", speed=0.0001)  # hours of video
    with pytest.raises(InvalidSettingError, match="tokenizers"):
        save_html(tmp_path / "x.html", [result, result], [None])
    assert not list(tmp_path.iterdir())


def test_a_missing_ffmpeg_is_one_clear_error(runs, tmp_path, monkeypatch):
    import imageio_ffmpeg

    def absent():
        raise RuntimeError("No ffmpeg exe could be found.")  # what imageio-ffmpeg raises without a binary

    monkeypatch.setattr(imageio_ffmpeg, "get_ffmpeg_exe", absent)
    with pytest.raises(WorkbenchError, match="needs ffmpeg.*imageio-ffmpeg"):
        runs[3].save_video(tmp_path / "x.mp4")


def test_the_store_keeps_timelines_and_old_runs_say_they_have_none(runs, tmp_path):
    ar, diffusion, ar_result, result = runs
    store = ResultsStore(tmp_path / "runs.sqlite")
    first = store.add(result)
    back = store.result(first)
    assert timeline(back, diffusion.tokenizer).times == timeline(result, diffusion.tokenizer).times
    assert back.trace == result.trace and back.token_ids == result.token_ids
    with sqlite3.connect(store.path) as connection:  # what a store written before the side table holds
        connection.execute("DROP TABLE traces")
    old = store.result(first)
    assert old.trace == [] and "without its timeline" in timeline(old).note
    store.add(ar_result)  # the table comes back with the next run
    assert store.result(2).step_times_s == ar_result.step_times_s
    with pytest.raises(InvalidSettingError, match="run_id"):
        store.result(99)


def test_workbench_export_writes_a_stored_run_and_refuses_an_unknown_id(runs, tmp_path):
    _, _, _, result = runs
    store = ResultsStore(tmp_path / "runs.sqlite")
    run_id = store.add(result)
    command = [sys.executable, "-m", "workbench.cli", "export", "--store", str(store.path)]
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [*command, str(run_id), "--html", str(tmp_path / "r.html"), "--gif", str(tmp_path / "r.gif"), "--size", "640x360"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "r.html").stat().st_size > 0
    with Image.open(tmp_path / "r.gif") as gif:
        assert gif.n_frames == len(result.trace) + 1
    unknown = subprocess.run(
        [*command, "77", "--html", str(tmp_path / "u.html")], capture_output=True, text=True, env=env, timeout=120
    )
    assert unknown.returncode == 2 and "run_id='77'" in unknown.stderr and "\n" == unknown.stderr[-1]
    assert unknown.stderr.count("\n") == 1


def test_compare_export_writes_the_race_and_refuses_a_missing_folder_before_running(tmp_path):
    env = {"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "workbench.cli", "compare", PROMPT, "--max-new-tokens", "12", "--no-store"]
    missing = subprocess.run(
        [*command, "--export", str(tmp_path / "nope")], capture_output=True, text=True, env=env, timeout=120
    )
    assert missing.returncode == 2 and "--export" in missing.stderr and "running" not in missing.stderr
    done = subprocess.run(
        [*command, "--export", str(tmp_path), "--size", "640x360", "--fps", "10"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (tmp_path / "race.html").read_text()
    assert "autoregressive: tiny-ar" in page and "diffusion: tiny-diffusion" in page
    with Image.open(tmp_path / "race.gif") as gif:
        assert gif.size == (640, 360) and gif.n_frames > 2
    with imageio.get_reader(tmp_path / "race.mp4", format="FFMPEG") as reader:
        assert reader.get_meta_data()["fps"] == 10
