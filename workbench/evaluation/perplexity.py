"""Generative perplexity: how likely a reference AR model finds generated text, with sample entropy.

Perplexity alone rewards dull text: a sample that repeats one phrase scores well under any reference
model, and so do samples drawn at an effectively lower temperature. So every perplexity comes with
the sample's unigram entropy (in bits, over its own tokens); compare runs only at similar entropy.
The reference model re-tokenises the decoded text with its own tokenizer. Left out: batching.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence

import pandas as pd
import torch

from workbench.engine.handle import ModelHandle
from workbench.errors import InvalidSettingError
from workbench.evaluation.registry import Inputs, register_evaluation


def sample_entropy(token_ids: Sequence[int]) -> float | None:
    """Unigram entropy in bits of a token sequence (None for an empty one)."""
    if not token_ids:
        return None
    counts = Counter(token_ids)
    total = len(token_ids)
    return max(0.0, -sum(n / total * math.log2(n / total) for n in counts.values()))  # no -0.0


def text_perplexity(reference: ModelHandle, text: str, context: str = "") -> float | None:
    """exp(mean negative log-likelihood) of `text`'s tokens under `reference`, given `context`."""
    if reference.kind != "autoregressive":
        raise InvalidSettingError("reference", reference.name, "an autoregressive model (e.g. 'gemma-3-270m')")
    tokenizer = reference.tokenizer
    context_ids = tokenizer(context, return_tensors="pt")["input_ids"] if context else None
    text_ids = tokenizer(text, return_tensors="pt", add_special_tokens=context_ids is None)["input_ids"]
    if text_ids.shape[1] == 0 or (context_ids is None and text_ids.shape[1] < 2):
        return None
    ids = text_ids if context_ids is None else torch.cat([context_ids, text_ids], dim=1)
    scored_from = 1 if context_ids is None else context_ids.shape[1]
    with torch.inference_mode():
        logits = reference.model(input_ids=ids.to(reference.device)).logits[0, :-1].float()
    targets = ids[0, 1:].to(logits.device)
    nll = torch.nn.functional.cross_entropy(logits[scored_from - 1 :], targets[scored_from - 1 :])
    return float(torch.exp(nll))


def generative_perplexity(reference: ModelHandle, results: Iterable) -> pd.DataFrame:
    """One row per GenerationResult: model, perplexity under `reference` (given the prompt), entropy."""
    rows = [
        {
            "model": result.model,
            "kind": result.kind,
            "perplexity": text_perplexity(reference, result.text, context=result.prompt)
            if result.text.strip()
            else None,
            "sample_entropy_bits": sample_entropy(result.token_ids),
            "new_tokens": result.new_tokens,
        }
        for result in results
    ]
    return pd.DataFrame(rows)


@register_evaluation(
    "perplexity",
    needs=("reference",),
    help="perplexity of each run's text under a reference AR model, with the sample's entropy beside it",
)
def perplexity_evaluation(inputs: Inputs) -> pd.DataFrame:
    if not isinstance(inputs.reference, ModelHandle):  # scoring reads the reference's logits, here
        raise InvalidSettingError(
            "reference", inputs.reference, "a model loaded here, e.g. workbench.load('gemma-3-270m')"
        )
    return generative_perplexity(inputs.reference, inputs.results)
