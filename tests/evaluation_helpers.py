"""Hand-built results and traces with known properties, for the evaluation tests."""

from __future__ import annotations

from workbench.engine.result import NEW, NOISE, DenoisingStep, GenerationResult
from workbench.tiny.stories import vocabulary
from workbench.tiny.tokenizer import build_word_tokenizer

TOKENIZER = build_word_tokenizer(vocabulary(), lowercase=False)


def ids(text: str) -> list[int]:
    return TOKENIZER(text, add_special_tokens=False)["input_ids"]


def result(
    text: str,
    *,
    kind: str = "diffusion",
    prompt: str = "Once upon a time ,",
    block_size: int | None = 8,
    trace: list[DenoisingStep] | None = None,
    token_ids: list[int] | None = None,
    **settings,
) -> GenerationResult:
    token_ids = ids(text) if token_ids is None else token_ids
    chosen = {"block_size": block_size, "steps": 4, "sampler": "entropy-bound", "temperature": 0.0, **settings}
    if kind == "autoregressive":
        chosen = {"temperature": 0.8}
    return GenerationResult(
        model="hand-built",
        kind=kind,
        prompt=prompt,
        text=TOKENIZER.decode(token_ids, skip_special_tokens=True),
        token_ids=token_ids,
        settings=chosen,
        finish_reason="length",
        device="cpu",
        dtype="float32",
        load_s=0.0,
        prefill_s=0.0,
        time_to_first_token_s=0.1,
        total_s=1.0,
        step_times_s=[],
        forward_passes=len(trace or []) or 1,
        prompt_tokens=5,
        trace=trace or [],
    )


def step(canvas: int, number: int, tokens: list[int], accepted: list[bool], elapsed_s: float = 0.0) -> DenoisingStep:
    n = len(tokens)
    return DenoisingStep(
        canvas=canvas,
        step=number,
        temperature=0.0,
        tokens=tokens,
        argmax=tokens,
        accepted=accepted,
        state=[NEW if a else NOISE for a in accepted],
        confidence=[0.5] * n,
        entropy=[1.0] * n,
        elapsed_s=elapsed_s,
    )
