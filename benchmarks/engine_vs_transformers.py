"""Engine vs transformers at equal work: eager, fast path (compile=True), transformers' generate().

For each kind (autoregressive, diffusion) up to four sides run the same work on the same model:
workbench eager, workbench fast path, transformers' default `generate()`, and transformers'
static-cache compiled `generate()` (where transformers supports it for the model). Equal work
means the same prompt, the same number of new tokens (EOS off on every side), the same canvas
length (transformers' DiffusionGemma reads it from `config.canvas_length`, so the engine runs at
that length, or the config is set to `--block-size` for both), and the same number of logits
passes, counted on every side by a forward hook on `model.get_output_embeddings()` (DiffusionGemma's
`generate()` never calls the top-level forward). The counts are printed; if any side did
different work the script refuses (exit 2) instead of printing a ratio.

Every side is warmed up (compile times are taken there and printed on their own), then the sides
run in turn, in a rotating order, for `--pairs` rounds; each round gives each side's tokens/s over
transformers' default generate() in that round, and the median of those ratios is printed with a
95% bootstrap interval. Also printed: the diffusion trace's cost (time building the per-step
trace, share of the run), token parity at temperature 0 / with seeds (how often each side's
tokens differ from the eager engine's), the torch thread count and the CPU other processes used
while measuring (psutil). Targets (issue 29, CPU, embedded models, warm): fast path >= 1.5x
transformers' default generate(), compile under 60 s per model and canvas length.

    python benchmarks/engine_vs_transformers.py                      # embedded tiny models
    python benchmarks/engine_vs_transformers.py --kinds diffusion --pairs 6
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil
import torch

import workbench


@dataclass
class Work:
    """What one call did: new tokens, logits passes (hook on the output head), canvas length."""

    tokens: int
    logits_passes: int
    canvas: int | None = None
    token_ids: list[int] = field(default_factory=list)


@dataclass
class Side:
    name: str
    run: Callable[[int], Work] = lambda seed: Work(0, 0)  # seed -> the work done (set by *_sides)
    rates: list[float] = field(default_factory=list)
    setup_s: float | None = None  # first call (compiling sides: compile + warm-up), timed alone
    compile_s: float | None = None
    trace_share: list[float] = field(default_factory=list)
    # index of the first token unlike eager's, per run that differs
    first_differences: list[int] = field(default_factory=list)
    unsupported: str | None = None


class UnequalWork(SystemExit):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.code = 2


def check_equal_work(works: dict[str, Work]) -> None:
    """Refuse (exit 2) unless every side made the same tokens with the same passes on the same canvas."""
    shapes = {name: (w.tokens, w.logits_passes, w.canvas) for name, w in works.items()}
    if len(set(shapes.values())) > 1:
        listed = "; ".join(f"{name}: {t} tokens, {p} logits passes, canvas {c}" for name, (t, p, c) in shapes.items())
        raise UnequalWork(f"refusing to compare: the sides did different work ({listed})")


class PassCounter:
    """Counts calls of the model's output head (one per logits pass, on every side).

    The count is a tensor bumped in place: a Python number changed by the hook would be a value
    torch.compile guards on, and every pass of a compiled side would compile again."""

    def __init__(self, model) -> None:
        self.count = torch.zeros((), dtype=torch.long, device=model.device)
        self.handle = model.get_output_embeddings().register_forward_hook(self._hook)

    def _hook(self, *_: object) -> None:
        self.count.add_(1)

    def measure(self, fn: Callable[[], tuple[int, list[int]]], canvas: int | None) -> tuple[float, Work]:
        self.count.zero_()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        started = time.perf_counter()
        tokens, ids = fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        return tokens / elapsed, Work(tokens, int(self.count), canvas, ids)


def ar_sides(handle, ids, new_tokens: int, counter: PassCounter) -> list[Side]:
    from transformers import CompileConfig

    prompt = handle.tokenizer.decode(ids[0], skip_special_tokens=True)

    def engine(compile: bool, side: Side) -> Callable[[int], Work]:
        def run(seed: int) -> Work:
            out = {}

            def call():
                out["r"] = handle.generate(prompt, max_new_tokens=new_tokens, temperature=0, seed=seed, compile=compile)
                return out["r"].new_tokens, out["r"].token_ids

            rate, work = counter.measure(call, None)
            side.rates.append(rate)
            _note_fast_path(side, out["r"])
            return work

        return run

    def transformers_generate(static: bool, side: Side) -> Callable[[int], Work]:
        extra = {}
        if static:
            config = CompileConfig(mode="reduce-overhead" if handle.device.type == "cuda" else "default")
            config._compile_all_devices = True  # transformers compiles on accelerators only unless told
            extra = {"cache_implementation": "static", "compile_config": config}

        def run(seed: int) -> Work:
            def call():
                out = handle.model.generate(
                    ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, **extra
                )
                return out.shape[1] - ids.shape[1], out[0, ids.shape[1] :].tolist()

            rate, work = counter.measure(call, None)
            side.rates.append(rate)
            return work

        return run

    return _four_sides(engine, transformers_generate)


def diffusion_sides(handle, ids, new_tokens: int, steps: int, block: int, counter: PassCounter) -> list[Side]:
    prompt = handle.tokenizer.decode(ids[0], skip_special_tokens=True)

    def engine(compile: bool, side: Side) -> Callable[[int], Work]:
        def run(seed: int) -> Work:
            out = {}

            def call():
                out["r"] = handle.generate(
                    prompt,
                    max_new_tokens=new_tokens,
                    steps=steps,
                    block_size=block,
                    early_exit=False,
                    seed=seed,
                    compile=compile,
                )
                return out["r"].new_tokens, out["r"].token_ids

            rate, work = counter.measure(call, block)
            side.rates.append(rate)
            side.trace_share.append(out["r"].telemetry["trace_s"] / out["r"].total_s)
            _note_fast_path(side, out["r"])
            return work

        return run

    def transformers_generate(static: bool, side: Side) -> Callable[[int], Work]:
        extra = {"cache_implementation": "static"} if static else {}

        def run(seed: int) -> Work:
            def call():
                torch.manual_seed(seed)  # transformers draws from the global generator; the engine from its own
                # A confidence threshold no canvas reaches turns transformers' early exit off, like ours.
                out = handle.model.generate(
                    ids, max_new_tokens=new_tokens, max_denoising_steps=steps, confidence_threshold=1e-30, **extra
                )
                new = out.sequences[0, ids.shape[1] :].tolist()
                return len(new), new

            rate, work = counter.measure(call, handle.model.config.canvas_length)
            side.rates.append(rate)
            return work

        return run

    return _four_sides(engine, transformers_generate)


def _four_sides(engine, transformers_generate) -> list[Side]:
    """The uncompiled sides first: unequal work is refused before anything compiles."""
    sides = [Side("eager"), Side("transformers"), Side("fast path"), Side("transformers static+compile")]
    sides[0].run, sides[2].run = engine(False, sides[0]), engine(True, sides[2])
    sides[1].run, sides[3].run = transformers_generate(False, sides[1]), transformers_generate(True, sides[3])
    return sides


def _note_fast_path(side: Side, result) -> None:
    report = result.telemetry.get("fast_path")
    if report and report["compile_s"]:
        side.compile_s = report["compile_s"] + report["warmup_s"]
    if report and not report["used"]:
        side.unsupported = f"ran eager: {report['reason']}"


def measure(sides: list[Side], pairs: int) -> dict[str, Work]:
    """Warm every side up (timing its first call), check equal work, then run the sides in rotating order.

    The work checked is a second, warm call's: a compiling side's first call also runs its warm-up passes."""
    works: dict[str, Work] = {}
    for side in sides:
        started = time.perf_counter()
        try:
            side.run(0)
        except Exception as error:  # transformers may not support its static path for this model
            side.unsupported = f"{type(error).__name__}: {str(error).splitlines()[0][:160]}"
            continue
        side.setup_s = time.perf_counter() - started
        works[side.name] = side.run(0)
        print(f"  warmed up {side.name}: first call {side.setup_s:.1f} s", file=sys.stderr, flush=True)
        side.rates.clear(), side.trace_share.clear()
        check_equal_work(works)
    live = [side for side in sides if side.name in works]
    for index in range(pairs):
        order = live[index % len(live) :] + live[: index % len(live)]
        done = {side.name: side.run(index) for side in order}
        check_equal_work(done)
        print(f"  round {index + 1}/{pairs}", file=sys.stderr, flush=True)
        for side in live:
            ours, eager = done[side.name].token_ids, done["eager"].token_ids
            if ours != eager:
                side.first_differences.append(next(i for i, (a, b) in enumerate(zip(ours, eager)) if a != b))
    return works


def interval(ratios: list[float], seed: int = 0) -> tuple[float, float, float]:
    """Median and its 95% bootstrap interval."""
    draw = random.Random(seed)
    medians = sorted(statistics.median(draw.choices(ratios, k=len(ratios))) for _ in range(2000))
    return statistics.median(ratios), medians[50], medians[1949]


def report(kind: str, name: str, sides: list[Side], works: dict[str, Work], pairs: int) -> dict:
    """Print the table for one kind and return it as a dict (for --json)."""
    base = next(s for s in sides if s.name == "transformers")
    first = next(iter(works.values()))
    table: dict = {"kind": kind, "model": name, "canvas": first.canvas, "new_tokens": first.tokens, "pairs": pairs}
    table["logits_passes"] = {n: w.logits_passes for n, w in works.items()}
    table["sides"] = []
    print(f"\n{kind} {name}: logits passes per run " + ", ".join(f"{n} {w.logits_passes}" for n, w in works.items()))
    print(f"  canvas {first.canvas or '-'}, {first.tokens} new tokens per run")
    print(
        f"  {'side':<30}{'tok/s (median)':>15}{'x transformers [95% CI]':>30}{'first call s':>14}{'compile s':>11}{'differs':>9}"
    )
    for side in sides:
        if side.unsupported and not side.rates:
            print(f"  {side.name:<30} not measured: {side.unsupported}")
            table["sides"].append({"side": side.name, "not_measured": side.unsupported})
            continue
        ratios = [ours / theirs for ours, theirs in zip(side.rates, base.rates)]
        middle, low, high = interval(ratios)
        table["sides"].append(
            {
                "side": side.name,
                "tokens_per_s_median": round(statistics.median(side.rates), 2),
                "x_transformers": [round(middle, 3), round(low, 3), round(high, 3)],
                "first_call_s": round(side.setup_s or 0.0, 2),
                "compile_s": None if side.compile_s is None else round(side.compile_s, 2),
                "differs_from_eager": f"{len(side.first_differences)}/{pairs}",
                "first_different_token": side.first_differences,
                "trace_share": round(statistics.median(side.trace_share), 5) if side.trace_share else None,
                "note": side.unsupported,
            }
        )
        compile_s = f"{side.compile_s:.1f}" if side.compile_s is not None else "-"
        print(
            f"  {side.name:<30}{statistics.median(side.rates):>15.1f}{f'{middle:.2f} [{low:.2f}-{high:.2f}]':>30}"
            f"{side.setup_s:>14.1f}{compile_s:>11}{f'{len(side.first_differences)}/{pairs}':>9}"
        )
        if side.trace_share:
            print(f"  {'':<30} trace: {100 * statistics.median(side.trace_share):.2f}% of the run's time building it")
        if side.first_differences:
            print(f"  {'':<30} first token unlike eager's, per differing run: {side.first_differences}")
        if side.unsupported:
            print(f"  {'':<30} {side.unsupported}")
    return table


def machine() -> str:
    return (
        f"torch threads {torch.get_num_threads()} (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
        f"{psutil.cpu_count()} CPUs, load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ar", default="tiny-ar")
    parser.add_argument("--diffusion", default="tiny-diffusion")
    parser.add_argument("--kinds", default="autoregressive,diffusion")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=16)
    parser.add_argument("--block-size", type=int, default=None, help="canvas length (default: the model config's)")
    parser.add_argument(
        "--transformers-canvas", type=int, default=None, help="give transformers another canvas (to see the refusal)"
    )
    parser.add_argument("--pairs", type=int, default=10, help="rounds of all sides (at least 4)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", help="also write the tables and the machine's conditions to this JSON file")
    args = parser.parse_args(argv)
    if args.pairs < 4:
        parser.error(f"--pairs={args.pairs}: at least 4, for a median and an interval")
    kinds = args.kinds.split(",")
    tables: list[dict] = []
    print(machine())
    me, others_before, wall = psutil.Process(), _busy_s(), time.perf_counter()
    mine_before = sum(me.cpu_times()[:2])
    if "autoregressive" in kinds:
        handle = workbench.load(args.ar, device=args.device)
        with _eos_off(handle):
            ids = handle.tokenizer(args.prompt, return_tensors="pt")["input_ids"].to(handle.device)
            sides = ar_sides(handle, ids, args.new_tokens, PassCounter(handle.model))
            tables.append(report("autoregressive", args.ar, sides, measure(sides, args.pairs), args.pairs))
    if "diffusion" in kinds:
        handle = workbench.load(args.diffusion, device=args.device)
        config = handle.model.config
        saved_canvas = config.canvas_length
        block = args.block_size or saved_canvas
        config.canvas_length = args.transformers_canvas or block  # what transformers' generate() reads
        try:
            with _eos_off(handle):
                ids = handle.tokenizer(args.prompt, return_tensors="pt")["input_ids"].to(handle.device)
                sides = diffusion_sides(handle, ids, args.new_tokens, args.steps, block, PassCounter(handle.model))
                tables.append(report("diffusion", args.diffusion, sides, measure(sides, args.pairs), args.pairs))
        finally:
            config.canvas_length = saved_canvas
    elapsed = time.perf_counter() - wall
    others = _busy_s() - others_before - (sum(me.cpu_times()[:2]) - mine_before)
    print(
        f"\nother processes used {others / elapsed:.2f} CPUs on average while this ran ({elapsed:.0f} s); {machine()}"
    )
    if args.json:
        conditions = {
            "machine": machine(),
            "other_processes_cpus": round(others / elapsed, 2),
            "elapsed_s": round(elapsed),
            "torch": torch.__version__,
            "device": args.device,
        }
        with open(args.json, "w") as out:
            json.dump({"conditions": conditions, "tables": tables}, out, indent=1)


def _busy_s() -> float:
    times = psutil.cpu_times()
    return times.user + times.system + getattr(times, "nice", 0.0)


class _eos_off:
    """EOS off on both sides, so every run makes exactly the requested number of tokens."""

    def __init__(self, handle) -> None:
        self.handle = handle

    def __enter__(self) -> None:
        self.saved = self.handle.model.generation_config.eos_token_id, self.handle.eos_ids
        self.handle.model.generation_config.eos_token_id, self.handle.eos_ids = None, set()

    def __exit__(self, *_: object) -> None:
        self.handle.model.generation_config.eos_token_id, self.handle.eos_ids = self.saved


if __name__ == "__main__":
    try:
        main()
    except UnequalWork as refusal:
        print(refusal, file=sys.stderr)
        raise
