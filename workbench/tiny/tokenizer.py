"""A word-level tokenizer for the embedded tiny models, as a real transformers tokenizer.

The tiny models read simple English made of a few hundred words, so one token per word (and per
punctuation mark) keeps the vocabulary small and makes every canvas position a readable word in the
live view. It is a `PreTrainedTokenizerFast` over the `tokenizers` WordLevel model, so it saves,
loads and decodes like any hub tokenizer. Sub-word tokenizers are left to real models.
"""

from __future__ import annotations

from collections.abc import Iterable

from tokenizers import (
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)
from transformers import PreTrainedTokenizerFast

PAD, EOS, BOS, UNK = "<pad>", "<eos>", "<bos>", "<unk>"
SPECIAL_TOKENS = (PAD, EOS, BOS, UNK)  # ids 0, 1, 2, 3, the order Gemma configs assume for pad/eos/bos


def build_word_tokenizer(
    words: Iterable[str], vocab_size: int | None = None, *, lowercase: bool = True
) -> PreTrainedTokenizerFast:
    """Tokenizer with the special tokens, then `words` in order, padded with unused slots to vocab_size.

    `lowercase=False` keeps capitals (names, sentence starts) as distinct words, for readable output.
    """
    vocab: dict[str, int] = {token: index for index, token in enumerate(SPECIAL_TOKENS)}
    for word in words:
        vocab.setdefault(word, len(vocab))
    if vocab_size is not None:
        if vocab_size < len(vocab):
            raise ValueError(f"vocab_size={vocab_size} is smaller than the {len(vocab)} words given")
        for slot in range(len(vocab), vocab_size):
            vocab[f"<unused{slot}>"] = slot
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    if lowercase:
        core.normalizer = normalizers.Lowercase()
    # Words and each punctuation mark become separate tokens; decoding joins them with spaces.
    core.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.WhitespaceSplit(), pre_tokenizers.Punctuation()])
    core.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    # Every training story starts with <bos>, so a prompt must too: encoding adds it (as Gemma's does);
    # `add_special_tokens=False` leaves it out for building corpora.
    core.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", special_tokens=[(BOS, SPECIAL_TOKENS.index(BOS))]
    )
    return PreTrainedTokenizerFast(tokenizer_object=core, pad_token=PAD, eos_token=EOS, bos_token=BOS, unk_token=UNK)
