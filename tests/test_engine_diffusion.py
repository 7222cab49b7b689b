"""The diffusion backend: parity with transformers' generate(), every knob's effect, the trace, stop."""

from __future__ import annotations

import json
import math
import threading
import warnings
from pathlib import Path

import pytest
import torch

from workbench.engine.diffusion.handle import BlockSizeWarning
from workbench.engine.result import KEPT, NEW, NOISE

PROMPT = "once upon a time , there was a cat"


@pytest.mark.parametrize("compile", [False, True], ids=["eager", "fast-path"])
@pytest.mark.parametrize("seed", [0, 1, 7])
def test_same_tokens_as_transformers_generate(diffusion, seed, compile):
    ids = diffusion.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    torch.manual_seed(seed)
    reference = diffusion.model.generate(ids, max_new_tokens=24, max_denoising_steps=6)
    ours = diffusion.generate(PROMPT, seed=seed, max_new_tokens=24, steps=6, compile=compile)
    assert ours.telemetry.get("fast_path", {}).get("used", False) is compile
    expected = reference.sequences[0, ids.shape[1] :].tolist()
    cut = expected.index(1) + 1 if 1 in expected else len(expected)  # transformers pads after EOS
    assert ours.token_ids == expected[:cut]
    assert ours.tokens_per_forward == pytest.approx(float(reference.tokens_per_forward[0]))


def test_same_tokens_as_transformers_without_early_exit(diffusion):
    ids = diffusion.tokenizer(PROMPT, return_tensors="pt")["input_ids"]
    torch.manual_seed(3)
    reference = diffusion.model.generate(ids, max_new_tokens=8, max_denoising_steps=5, confidence_threshold=1e-30)
    ours = diffusion.generate(PROMPT, seed=3, max_new_tokens=8, steps=5, early_exit=False)
    assert ours.token_ids == reference.sequences[0, ids.shape[1] :].tolist()[: len(ours.token_ids)]
    assert ours.forward_passes == 5


@pytest.mark.parametrize("seed", [0, 2])
def test_same_tokens_as_transformers_in_bfloat16(seed):
    # A GPU runs bf16; there the engine once gave the decoder float32 self-conditioning logits where
    # generate() casts them to the embeddings' dtype, and the tokens parted within a few steps.
    import workbench

    handle = workbench.load("tiny-diffusion", dtype="bfloat16")
    ids = handle.tokenizer("Once upon a time", return_tensors="pt")["input_ids"]
    torch.manual_seed(seed)
    reference = handle.model.generate(ids, max_new_tokens=64, max_denoising_steps=16, confidence_threshold=1e-30)
    ours = handle.generate("Once upon a time", seed=seed, max_new_tokens=64, steps=16, early_exit=False)
    expected = reference.sequences[0, ids.shape[1] :].tolist()
    assert ours.token_ids == expected[: len(ours.token_ids)] and len(ours.token_ids) > 8


def test_steps_bound_forward_passes(diffusion):
    for steps in (1, 3, 7):
        result = diffusion.generate(PROMPT, seed=0, max_new_tokens=16, steps=steps, early_exit=False)
        canvases = result.canvases
        assert result.forward_passes == steps * canvases
        assert len(result.trace) == result.forward_passes
        assert [s.step for s in result.trace[:steps]] == list(range(1, steps + 1))


@pytest.fixture
def without_eos(diffusion):
    """The handle with EOS switched off, so every run fills its whole length (and can be asserted on)."""
    saved, diffusion.eos_ids = diffusion.eos_ids, set()
    yield diffusion
    diffusion.eos_ids = saved


def test_block_size_sets_canvas_length_and_count(without_eos):
    result = without_eos.generate(PROMPT, seed=0, max_new_tokens=16, steps=2, block_size=4, early_exit=False)
    assert all(len(s.tokens) == 4 for s in result.trace)
    assert result.settings["canvases"] == 4
    assert result.finish_reason == "length" and result.canvases == 4 and result.new_tokens == 16


def test_untrained_block_size_warns_but_runs(diffusion):
    with pytest.warns(BlockSizeWarning, match="block_size=5"):
        result = diffusion.generate(PROMPT, seed=0, max_new_tokens=5, steps=2, block_size=5)
    assert all(len(s.tokens) == 5 for s in result.trace)
    with warnings.catch_warnings():
        warnings.simplefilter("error", BlockSizeWarning)
        diffusion.generate(PROMPT, seed=0, max_new_tokens=4, steps=2, block_size=4)


def test_temperature_zero_commits_the_argmax(without_eos):
    result = without_eos.generate(PROMPT, seed=0, max_new_tokens=8, steps=4, temperature=0, early_exit=False)
    last = result.trace[-1]
    assert all(s.temperature == 0.0 for s in result.trace)
    # Accepted positions hold the argmax token; the committed canvas is the final argmax.
    assert all(tok == arg for tok, arg, ok in zip(last.tokens, last.argmax, last.accepted) if ok)
    assert result.finish_reason == "length" and result.token_ids == last.argmax


def test_schedule_anneals_from_t_max_to_t_min(diffusion):
    result = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=4, early_exit=False)
    temps = [s.temperature for s in result.trace]
    resolved = diffusion.settings()
    t_min, t_max = resolved.t_min, resolved.t_max
    generation = diffusion.model.generation_config  # the model's own schedule, else DiffusionGemma's 0.4 -> 0.8
    assert (t_min, t_max) == (generation.t_min or 0.4, generation.t_max or 0.8)
    assert temps[0] == pytest.approx(t_max) and temps == sorted(temps, reverse=True)
    assert temps[-1] == pytest.approx(t_min + (t_max - t_min) / 4)
    constant = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=4, temperature=1.3, early_exit=False)
    assert {s.temperature for s in constant.trace} == {1.3}


def test_temperature_changes_the_draws(diffusion):
    cold = diffusion.generate(PROMPT, seed=11, max_new_tokens=8, steps=3, temperature=0.05, early_exit=False)
    hot = diffusion.generate(PROMPT, seed=11, max_new_tokens=8, steps=3, temperature=50.0, early_exit=False)
    assert [s.tokens for s in cold.trace] != [s.tokens for s in hot.trace]
    # A hot distribution is flatter: higher mean entropy at every step.
    assert sum(map(sum, (s.entropy for s in hot.trace))) > sum(map(sum, (s.entropy for s in cold.trace)))


def test_entropy_bound_sampler_respects_its_bound(diffusion):
    for bound in (0.01, 0.5, 5.0):
        result = diffusion.generate(PROMPT, seed=2, max_new_tokens=8, steps=4, entropy_bound=bound, early_exit=False)
        for s in result.trace:
            accepted = sorted(e for e, ok in zip(s.entropy, s.accepted) if ok)
            assert accepted, "the lowest-entropy position is always accepted"
            assert sum(accepted) - accepted[-1] <= bound + 1e-5
            # Nothing is locked: non-accepted positions are renoised.
            assert all(st == NOISE for st, ok in zip(s.state, s.accepted) if not ok)


def test_larger_entropy_bound_accepts_more(diffusion):
    counts = []
    for bound in (0.001, 100.0):
        result = diffusion.generate(PROMPT, seed=2, max_new_tokens=8, steps=3, entropy_bound=bound, early_exit=False)
        counts.append(sum(s.accepted_count for s in result.trace))
    assert counts[1] > counts[0]


def test_quota_sampler_locks_and_meets_its_quota(diffusion):
    steps = 4
    result = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=steps, sampler="quota", threshold=0.999)
    first_canvas = [s for s in result.trace if s.canvas == 0]
    for previous, current in zip(first_canvas, first_canvas[1:]):
        for position, was in enumerate(previous.accepted):
            if was:  # locked: stays accepted with the same token
                assert current.accepted[position] and current.tokens[position] == previous.tokens[position]
                assert current.state[position] == KEPT
    for s in first_canvas:
        assert s.accepted_count >= math.ceil(s.step * 8 / steps)
    assert first_canvas[-1].accepted_count == 8 and len(first_canvas) <= steps


def test_confidence_sampler_commits_at_least_one_per_step(diffusion):
    result = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=20, sampler="confidence", threshold=0.999)
    first_canvas = [s for s in result.trace if s.canvas == 0]
    counts = [s.accepted_count for s in first_canvas]
    assert all(b >= a + 1 for a, b in zip(counts, counts[1:]))
    assert counts[-1] == 8 and len(first_canvas) <= 8  # done once everything is locked


def test_locking_samplers_rank_by_the_models_own_probability_not_the_tempered_one():
    # Every position's best token has probability 0.6 at temperature 1; a temperature of 0.1 makes it
    # look certain (> 0.99). Confidence is the model's 0.6 (as in LLaDA and Fast-dLLM), so a 0.9
    # threshold commits only the one position the rule always takes, not the whole canvas of guesses.
    from workbench.engine.diffusion.samplers.confidence import ConfidenceSampler
    from workbench.engine.diffusion.scheduler import CanvasState, DenoisingScheduler
    from workbench.engine.settings import DiffusionSettings

    vocab, canvas_length = 16, 8
    probs = torch.full((1, canvas_length, vocab), 0.4 / (vocab - 1))
    probs[..., 3] = 0.6
    settings = DiffusionSettings(
        max_new_tokens=canvas_length,
        temperature=0.1,
        seed=0,
        steps=4,
        block_size=canvas_length,
        sampler="confidence",
        entropy_bound=0.1,
        threshold=0.9,
        t_min=0.1,
        t_max=0.1,
    )
    generator = torch.Generator().manual_seed(0)
    scheduler = DenoisingScheduler(settings, ConfidenceSampler(0.9), vocab, generator)
    canvas = CanvasState.from_noise(torch.randint(0, vocab, (1, canvas_length), generator=generator), False)
    tempered_best = torch.softmax(probs.log() / 0.1, dim=-1).max().item()
    output = scheduler.step(probs.log(), 1, canvas)
    assert tempered_best > 0.99
    assert output.confidence.flatten().tolist() == pytest.approx([0.6] * canvas_length)
    assert int(output.accepted.sum()) == 1 and int(canvas.locked.sum()) == 1


def test_trace_states_and_shapes(diffusion):
    result = diffusion.generate(PROMPT, seed=4, max_new_tokens=16, steps=5, early_exit=False)
    assert len(result.trace) == result.forward_passes == len(result.step_times_s)
    for s in result.trace:
        assert len(s.tokens) == len(s.argmax) == len(s.accepted) == len(s.confidence) == len(s.entropy) == 8
        assert all((st == NOISE) == (not ok) for st, ok in zip(s.state, s.accepted))
        assert all(0.0 <= c <= 1.0 for c in s.confidence) and all(e >= -1e-6 for e in s.entropy)
    first = result.trace[0]
    assert KEPT not in first.state and NEW in first.state  # nothing can be kept at the first step
    times = [s.elapsed_s for s in result.trace]
    assert times == sorted(times) and result.total_s >= times[-1]
    assert result.time_to_first_token_s is not None and result.prefill_s <= result.time_to_first_token_s


def test_early_exit_saves_forward_passes_on_a_confident_model(diffusion):
    # A sharp temperature makes the model confident, so the stable-and-confident rule fires early.
    off = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=12, temperature=0.001, early_exit=False)
    on = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=12, temperature=0.001, early_exit=True)
    assert off.forward_passes == 12 and on.forward_passes < 12


def test_seed_makes_runs_repeatable_and_is_recorded(diffusion):
    a = diffusion.generate(PROMPT, seed=5, max_new_tokens=8, steps=3)
    b = diffusion.generate(PROMPT, seed=5, max_new_tokens=8, steps=3)
    assert a.token_ids == b.token_ids and [s.tokens for s in a.trace] == [s.tokens for s in b.trace]
    unseeded = diffusion.generate(PROMPT, max_new_tokens=8, steps=3)
    repeat = diffusion.generate(PROMPT, max_new_tokens=8, steps=3, seed=unseeded.settings["seed"])
    assert repeat.token_ids == unseeded.token_ids


def test_stop_mid_run_returns_partial_and_model_stays_usable(diffusion):
    stop = threading.Event()
    events = []

    def on_step(event):
        events.append(event)
        if len(events) == 3:
            stop.set()

    result = diffusion.generate(
        PROMPT, seed=0, max_new_tokens=32, steps=4, early_exit=False, callback=on_step, stop=stop
    )
    assert result.finish_reason == "stopped" and result.stopped
    assert result.forward_passes == 3 and len(result.trace) == 3
    assert result.token_ids == []  # the first canvas was never finished
    assert events[-1].step is result.trace[-1] and events[-1].forward_passes == 3
    again = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=2)
    assert again.finish_reason in ("eos", "length") and again.forward_passes >= 1


def test_interrupt_returns_partial_result(diffusion):
    def interrupt(event):
        if event.forward_passes == 6:
            raise KeyboardInterrupt

    result = diffusion.generate(PROMPT, seed=0, max_new_tokens=16, steps=3, early_exit=False, callback=interrupt)
    assert result.finish_reason == "interrupted" and result.forward_passes == 6
    # Canvas 0 was final before the interrupt; canvas 1 was interrupted before its commit.
    assert result.new_tokens <= 8 and result.canvases == 2


def test_result_serialises_to_json(diffusion):
    import json

    result = diffusion.generate(PROMPT, seed=0, max_new_tokens=8, steps=2)
    data = json.loads(result.to_json(include_trace=True))
    assert data["kind"] == "diffusion" and data["forward_passes"] == result.forward_passes
    assert len(data["trace"]) == len(result.trace) and data["settings"]["sampler"] == "entropy-bound"
    assert "trace" not in json.loads(result.to_json())


def test_a_loaded_model_keeps_its_name_and_the_defaults_its_folder_declares():
    import workbench

    handle = workbench.load("tiny-diffusion", device="cpu")
    assert handle.name == "tiny-diffusion"  # reading the generation config once overwrote it with "t_max"
    declared = json.loads((Path(handle.source) / "workbench.json").read_text())["default_settings"]
    chosen = handle.settings()
    assert (chosen.t_min, chosen.t_max, chosen.block_size) == (
        declared["t_min"],
        declared["t_max"],
        declared["block_size"],
    )
