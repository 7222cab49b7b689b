"""Two notebooks writing to one store at once, and a notebook killed mid-run, with real processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from workbench.result import GenerationResult
from workbench.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]

# A writer process: opens the store, says "ready", waits for the go file, then adds `count` runs
# (forever when count < 0), printing each committed row id as soon as `add` returns.
WRITER = """
import sys, time
from pathlib import Path
from workbench.result import GenerationResult
from workbench.store import ResultsStore

store_path, writer, count, go = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
store = ResultsStore(store_path)
print("ready", flush=True)
while not go.exists():
    time.sleep(0.005)
i = 0
while count < 0 or i < count:
    result = GenerationResult(
        model=f"writer-{writer}", kind="autoregressive", prompt=f"prompt {i}", text="x " * i,
        token_ids=list(range(i % 7 + 1)), settings={"i": i}, finish_reason="length", device="cpu",
        dtype="float32", load_s=0.0, prefill_s=0.001, time_to_first_token_s=0.002, total_s=0.01 + i / 1e4,
        step_times_s=[0.001], forward_passes=1, prompt_tokens=2,
    )
    print(store.add(result, tags={"writer": writer, "i": i}), flush=True)
    i += 1
"""


def _start_writers(store: Path, count: int, go: Path, writers: int = 1) -> list[subprocess.Popen]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(store), str(writer), str(count), str(go)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
        )  # fmt: skip
        for writer in range(writers)
    ]
    for process in processes:  # started together, so their (slow) imports overlap
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
    return processes


def test_two_processes_writing_at_once_both_succeed(tmp_path):
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    ResultsStore(path)
    writers = _start_writers(path, 50, go, writers=2)
    go.touch()  # both are imported and waiting: they now write at the same moment
    for process in writers:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert len(out.split()) == 50
    store = ResultsStore(path)
    assert len(store) == 100
    for writer in (0, 1):
        rows = store.to_dataframe(tags={"writer": writer})
        assert sorted(json.loads(settings)["i"] for settings in rows["settings"]) == list(range(50))


def test_a_writer_killed_mid_run_loses_nothing_it_committed(tmp_path):
    path, go = tmp_path / "killed.sqlite", tmp_path / "go"
    (process,) = _start_writers(path, -1, go)
    go.touch()
    committed = []
    while len(committed) < 30:
        line = process.stdout.readline()
        assert line, process.stderr.read()
        committed.append(int(line))
    os.kill(process.pid, signal.SIGKILL)
    rest, _ = process.communicate(timeout=30)
    committed += [int(line) for line in rest.split()]
    assert process.returncode == -signal.SIGKILL

    store = ResultsStore(path)
    ids = set(store.to_dataframe()["id"])
    assert set(committed) <= ids and len(store) >= len(committed)
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    after = GenerationResult(
        model="after-the-crash", kind="diffusion", prompt="p", text="t", token_ids=[1], settings={},
        finish_reason="eos", device="cpu", dtype="float32", load_s=0.0, prefill_s=0.0,
        time_to_first_token_s=None, total_s=0.1, step_times_s=[], forward_passes=1, prompt_tokens=1,
    )  # fmt: skip
    store.add(after)  # and the store still takes new runs
    assert len(ResultsStore(path)) == len(ids) + 1
