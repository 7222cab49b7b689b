"""Evaluations refuse what they cannot measure instead of answering wrongly (class 5 of issue 26).

A check's verdict must be a bool: every other value (text, None, a dict, a number, a list) is refused
naming the check, never counted by its truthiness. A blocklist is a list of plain words: a bare string
or anything that is not a word is refused with `InvalidSettingError`. A diffusion result without its
trace cannot say what a canvas view showed, so guard_run refuses it rather than report 0.
"""

from __future__ import annotations

import numpy as np
import pytest
from evaluation_helpers import TOKENIZER, ids, result, step
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.errors import InvalidSettingError
from workbench.evaluation import guardrails

NOT_A_BOOL = st.one_of(
    st.text(max_size=5),
    st.none(),
    st.dictionaries(st.text(max_size=3), st.booleans(), max_size=2),
    st.integers(),
    st.floats(allow_nan=True),
    st.lists(st.booleans(), max_size=2),
    st.sampled_from(["True", "False", "", b"yes", (True,), np.int64(1), np.float64(0.0)]),
)
AR = result("She loved to sing . Then she ran", kind="autoregressive", block_size=None)


@settings(max_examples=60, deadline=None)
@given(verdict=NOT_A_BOOL, unit=st.sampled_from(["token", "sentence"]))
def test_a_check_that_does_not_return_a_bool_is_refused(verdict, unit):
    with pytest.raises(InvalidSettingError, match="check=.* returning True .* or False; it returned"):
        guardrails.guard_run(AR, TOKENIZER, lambda text: verdict, unit=unit)


@pytest.mark.parametrize("verdict", [True, False, np.bool_(True), np.bool_(False)])
def test_a_bool_verdict_is_counted(verdict):
    report = guardrails.guard_run(AR, TOKENIZER, lambda text: verdict)
    assert report.checks_run == 8 and report.failed == (0 if verdict else 8) and report.problem is None


BAD_WORDS = [
    "cat",
    b"cat",
    "a",
    [None],
    ["cat", None],
    [1],
    [["cat"]],
    [b"cat"],
    ["two words"],
    [""],
    ["cat!"],
    [],
    (),
    None,
    5,
    {"cat": 1, 2: 3},
]


@pytest.mark.parametrize("words", BAD_WORDS, ids=repr)
def test_a_blocklist_of_anything_but_plain_words_is_refused(words):
    with pytest.raises(InvalidSettingError, match="words="):
        guardrails.Blocklist(words)


def test_a_diffusion_result_without_its_trace_is_refused():
    cat, dog, bird, dot = ids("cat dog bird .")
    traced = result(
        "", trace=[step(0, 1, [cat, dog, bird, dot], [True] * 4)], token_ids=[cat, dog, bird, dot], block_size=4
    )
    assert guardrails.guard_run(traced, TOKENIZER, guardrails.ends_with_sentence).shown_unchecked_tokens == 4
    untraced = result("", trace=[], token_ids=[cat, dog, bird, dot], block_size=4)
    with pytest.raises(InvalidSettingError, match="result=.*trace"):
        guardrails.guard_run(untraced, TOKENIZER, guardrails.ends_with_sentence)
