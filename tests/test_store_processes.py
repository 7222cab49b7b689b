"""Two notebooks writing to one store at once, and a notebook killed mid-run, with real processes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from workbench.engine.result import GenerationResult
from workbench.measure.store import ResultsStore

REPO = Path(__file__).resolve().parents[1]

# A writer process: opens the store, says "ready", waits for the go file, then adds `count` runs
# (forever when count < 0), printing each committed row id as soon as `add` returns.
WRITER = """
import sys, time
from pathlib import Path
from workbench.engine.result import GenerationResult
from workbench.measure.store import ResultsStore

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
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
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


# A process that takes the store's write lock, says "locked", and holds it until killed.
LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(600)
"""


def _run(i: int) -> GenerationResult:
    return GenerationResult(
        model="m", kind="autoregressive", prompt=f"p{i}", text="t", token_ids=[1], settings={"i": i},
        finish_reason="eos", device="cpu", dtype="float32", load_s=0.0, prefill_s=0.0,
        time_to_first_token_s=0.01, total_s=0.1, step_times_s=[], forward_passes=1, prompt_tokens=1,
    )  # fmt: skip


def test_runs_are_kept_beside_a_store_another_process_keeps_locked(tmp_path):
    path = tmp_path / "busy.sqlite"
    store = ResultsStore(path, busy_timeout_s=0.5)
    holder = subprocess.Popen([sys.executable, "-c", LOCK_HOLDER, str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        side = store.add_all([_run(0), _run(1)], tags={"source": "test"})
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert side is not None and side.parent == path.parent and side.suffix == ".csv"
    assert len(store) == 0  # nothing half-written into the store
    assert store.import_(side) == 2  # the kept runs go in once the lock is free
    assert sorted(json.loads(s)["i"] for s in store.to_dataframe(tags={"source": "test"})["settings"]) == [0, 1]
    assert store.add_all([_run(2)]) is None and len(store) == 3


def test_ctrl_c_ends_workbench_compare_with_no_further_run_and_nothing_stored(tmp_path):
    store = tmp_path / "compare.sqlite"
    command = [
        sys.executable,
        "-m",
        "workbench.cli",
        "compare",
        "Once upon a time",
        "--max-new-tokens",
        "256",
        "--temperature",
        "1.0",
        "--device",
        "cpu",
        "--store",
        str(store),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}
    )
    seen = []
    for line in process.stderr:
        seen.append(line)
        if "running tiny-ar" in line:
            process.send_signal(signal.SIGINT)  # mid-run: the AR model is generating
            break
    rest_out, rest_err = process.communicate(timeout=120)
    stderr = "".join(seen) + rest_err
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "running tiny-diffusion" not in stderr  # the next run never started
    assert rest_err.strip().splitlines()[-1] == "workbench: interrupted; nothing more was run or stored"
    assert rest_out == ""
    assert len(ResultsStore(store)) == 0
    with sqlite3.connect(store) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()


def test_ctrl_c_during_start_up_is_one_line(tmp_path):
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", "compare", "x", "--no-store"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    for line in process.stderr:
        if "loading" in line:
            process.send_signal(signal.SIGINT)  # while torch and the models load
            break
    _, rest_err = process.communicate(timeout=120)
    assert process.returncode == 130, rest_err
    assert "Traceback" not in rest_err
