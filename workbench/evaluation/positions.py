"""Where each word of a generated story sits: its token position and the canvas that produced it.

The story checks read words; canvases hold tokens. `story_words(result, tokenizer)` decodes the new
tokens prefix by prefix to learn which characters each token produced, so a word is tied to the token
its first character came from. That works for word-level and sub-word tokenizers alike. Prompt words
get position -1 and canvas -1 (the prompt is read by the encoder, like a finished canvas).

Canvas k holds new-token positions [k * block_size, (k + 1) * block_size). An autoregressive result
has no canvases; given a `block_size` it is cut at the same positions, so the two kinds can be
compared word for word. Left out: chat templates and prompts the tokenizer would split differently
when decoded together with the continuation (the checks then read prompt and text separately).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workbench.engine.result import GenerationResult
from workbench.errors import InvalidSettingError
from workbench.tiny.stories.checks import split_sentences

PROMPT = -1  # position and canvas of words that came from the prompt


@dataclass(frozen=True)
class Word:
    text: str
    sentence: int  # index of its sentence in the story (prompt included)
    position: int  # new-token position it came from, or PROMPT
    canvas: int  # position // block_size, or PROMPT


def diffusion_trace(result: GenerationResult) -> None:
    """Raise InvalidSettingError unless `result` is a diffusion run with a trace to read."""
    if result.kind != "diffusion" or not result.trace:
        raise InvalidSettingError("result", result, "a diffusion result with its per-step trace")


def canvas_size(result: GenerationResult, block_size: int | None = None) -> int:
    """The canvas length to cut `result` at: its own block_size (diffusion) or the one given (AR)."""
    size = block_size if block_size is not None else result.settings.get("block_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 1:
        raise InvalidSettingError(
            "block_size", size, "a whole number >= 1 (autoregressive results have none: pass one)"
        )
    return size


def token_spans(tokenizer: Any, token_ids: list[int]) -> list[tuple[int, int]]:
    """Character span of each token in `tokenizer.decode(token_ids)`, from decoding growing prefixes."""
    spans, previous = [], 0
    for end in range(1, len(token_ids) + 1):
        length = len(tokenizer.decode(token_ids[:end], skip_special_tokens=True))
        spans.append((previous, max(previous, length)))
        previous = max(previous, length)
    return spans


def story_words(result: GenerationResult, tokenizer: Any, block_size: int | None = None) -> list[Word]:
    """Every word and punctuation mark of prompt + text, in order, with its sentence, position and canvas."""
    size = canvas_size(result, block_size)
    spans = token_spans(tokenizer, result.token_ids)
    prompt_words = [w for s in split_sentences(result.prompt) for w in s]
    words: list[Word] = []
    cursor, index = 0, 0
    for sentence_index, sentence in enumerate(split_sentences(f"{result.prompt} {result.text}")):
        for text in sentence:
            if index < len(prompt_words):
                position = PROMPT
            else:
                found = result.text.find(text, cursor)
                start = found if found >= 0 else cursor  # decoding changed the word: keep the last place
                cursor = start + len(text)
                position = next((i for i, (a, b) in enumerate(spans) if a <= start < b), len(spans) - 1)
            words.append(Word(text, sentence_index, position, PROMPT if position == PROMPT else position // size))
            index += 1
    return words
