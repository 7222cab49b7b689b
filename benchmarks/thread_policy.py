"""How many torch threads should workbench use on this machine? Measured, quiet and with one busy process.

For each thread count, a fresh process (so the first run is really cold) loads the model, runs it
once (cold: time to first token, total) and then `--repeats` warm runs (median tokens/s and total,
with the spread as min..max). Each setting is measured on the machine as it is ("quiet": other load is
recorded, not controlled) and again with one extra process spinning on a core ("busy", as a browser
or a second notebook would). workbench's default (`workbench.loading.load.DEFAULT_THREADS`) was
chosen from this table; run it on your own machine and set `WORKBENCH_THREADS` if yours differs.

    python benchmarks/thread_policy.py                          # tiny-diffusion and tiny-ar, 1 and 2 threads
    python benchmarks/thread_policy.py --threads 1 2 4 --models tiny-diffusion --repeats 8

Left out: GPU runs (the thread count matters for CPU kernels; on a GPU it only drives the launch loop).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd

CHILD = """
import json, statistics, sys
from workbench.measure.measurement import Measurement
from workbench.measure.telemetry.energy import measured_generate
import workbench
model, threads, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
handle = workbench.load(model, device="cpu", threads=threads)
runs = [measured_generate(handle, "Once upon a time", seed=0, warn=False) for _ in range(repeats + 1)]
warm = runs[1:]
shares = [Measurement.from_result(r).conditions.other_core_share for r in runs]
print(json.dumps({
    "cold_first_token_s": runs[0].time_to_first_token_s, "cold_total_s": runs[0].total_s,
    "warm_first_token_s": statistics.median(r.time_to_first_token_s for r in warm),
    "warm_total_s": statistics.median(r.total_s for r in warm),
    "warm_total_min_s": min(r.total_s for r in warm), "warm_total_max_s": max(r.total_s for r in warm),
    "warm_tokens_per_s": statistics.median(r.tokens_per_second for r in warm),
    "forward_passes": warm[0].forward_passes, "other_cores_max": max(s or 0 for s in shares),
}))
"""
SPIN = "import time\nend = time.monotonic() + 600\nwhile time.monotonic() < end:\n    pass\n"


def measure(model: str, threads: int, repeats: int, busy: bool) -> dict:
    spinner = subprocess.Popen([sys.executable, "-c", SPIN]) if busy else None
    try:
        if spinner is not None:
            time.sleep(0.5)
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        done = subprocess.run([sys.executable, "-c", CHILD, model, str(threads), str(repeats)],
                              capture_output=True, text=True, timeout=900, env=env, check=True)  # fmt: skip
    finally:
        if spinner is not None:
            os.kill(spinner.pid, signal.SIGKILL)
            spinner.wait(timeout=10)
    return {"model": model, "threads": threads, "machine": "one busy process" if busy else "as it is",
            **json.loads(done.stdout.strip().splitlines()[-1])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["tiny-diffusion", "tiny-ar"])
    parser.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = [measure(model, threads, args.repeats, busy)
            for busy in (False, True) for model in args.models for threads in args.threads]  # fmt: skip
    frame = pd.DataFrame(rows)
    print(frame.to_json(orient="records", indent=2) if args.json else frame.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
