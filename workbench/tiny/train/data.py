"""Training data: the story corpus as one padded token tensor, and batch samplers for both objectives.

Every story is `<bos> words <eos>` followed by padding. The AR sampler returns whole stories; the
diffusion sampler cuts every story of a batch at the same point (so no attention masks are needed)
and returns the clean context before the cut and the clean canvas after it. All randomness comes
from one `torch.Generator`, whose state the checkpoint saves. Left out: held-out splits (the grammar
is the test set: quality is measured on generated text, not on a loss).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import PreTrainedTokenizerFast

from workbench.tiny.stories.grammar import generate_stories


@dataclass(frozen=True)
class Corpus:
    """Token ids `[stories, max_len + max_canvas]` (pad-filled) and each story's length with bos/eos."""

    ids: torch.Tensor
    lengths: torch.Tensor


def build_corpus(tokenizer: PreTrainedTokenizerFast, stories: int, seed: int, max_canvas: int = 64) -> Corpus:
    """Generate and tokenize `stories` stories from the grammar; extra padding lets a canvas run past the end."""
    texts = [s.text for s in generate_stories(stories, seed)]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    if any(tokenizer.unk_token_id in ids for ids in encoded):
        raise ValueError("the tokenizer does not cover the grammar's vocabulary")
    rows = [[tokenizer.bos_token_id, *ids, tokenizer.eos_token_id] for ids in encoded]
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.full((len(rows), int(lengths.max()) + max_canvas), tokenizer.pad_token_id, dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    return Corpus(ids, lengths)


def ar_batch(corpus: Corpus, batch_size: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Whole stories cut to the batch's longest, and labels that ignore the padding after <eos>."""
    rows = torch.randint(len(corpus.lengths), (batch_size,), generator=generator)
    lengths = corpus.lengths[rows]
    input_ids = corpus.ids[rows, : int(lengths.max())]
    labels = input_ids.masked_fill(torch.arange(input_ids.shape[1]) >= lengths[:, None], -100)
    return input_ids, labels


def diffusion_batch(
    corpus: Corpus, batch_size: int, canvas_length: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(context, clean canvas): a cut point k first, then stories long enough to have a token after it.

    k is uniform over every cut a story allows (1 keeps just <bos>), so canvases start anywhere,
    not only at the block boundaries a prompt of <bos> gives; the canvas may run past <eos> into padding.
    """
    cut = int(torch.randint(1, int(corpus.lengths.max()), (1,), generator=generator))
    candidates = torch.nonzero(corpus.lengths > cut).squeeze(1)
    rows = candidates[torch.randint(len(candidates), (batch_size,), generator=generator)]
    return corpus.ids[rows, :cut], corpus.ids[rows, cut : cut + canvas_length]
