"""The story grammar is reproducible, its recogniser is exact, and the story checks catch corruption."""

from __future__ import annotations

import random

import pytest

from workbench.tiny.stories import (
    check_stories,
    check_story,
    generate_stories,
    parse_sentence,
    vocabulary,
)
from workbench.tiny.stories.checks import split_sentences
from workbench.tiny.stories.grammar import BOY_NAMES, GIRL_NAMES
from workbench.tiny.train.configs import VOCAB_SIZE, story_tokenizer

STORIES = generate_stories(300, seed=11)


def test_generation_is_reproducible_from_a_seed():
    assert [s.text for s in generate_stories(40, seed=5)] == [s.text for s in generate_stories(40, seed=5)]
    assert [s.text for s in generate_stories(40, seed=5)] != [s.text for s in generate_stories(40, seed=6)]


def test_corpus_is_varied_and_small_in_vocabulary():
    assert len({s.text for s in STORIES}) == len(STORIES)
    assert {s.shape for s in STORIES} == {"find", "lose", "friend", "weather"}
    assert {s.gender for s in STORIES} == {"female", "male"}
    assert len(vocabulary()) + 4 <= VOCAB_SIZE < 512


def test_recogniser_accepts_every_generated_sentence():
    assert all(parse_sentence(sentence.split()) for story in STORIES for sentence in story.sentences)
    report = check_stories([s.text for s in STORIES])
    assert report.valid_sentence_share == report.consistent_story_share == report.fully_valid_story_share == 1.0


def test_checks_read_decoded_model_text():
    tokenizer = story_tokenizer()
    for story in STORIES[:20]:
        ids = tokenizer(story.text, add_special_tokens=False)["input_ids"]
        assert tokenizer.unk_token_id not in ids
        assert check_story(tokenizer.decode(ids)).fully_valid  # decoding glues punctuation: "Lisa."


def test_recogniser_rejects_swapped_words():
    rng = random.Random(0)
    for story in STORIES[:50]:
        for sentence in story.sentences:
            words = sentence.split()
            i = rng.randrange(len(words) - 1)
            if words[i] != words[i + 1]:
                words[i], words[i + 1] = words[i + 1], words[i]
                assert not parse_sentence(words), " ".join(words)


@pytest.mark.parametrize(
    "sentence",
    [
        "Once upon a time , there was a old cat named Lisa .",  # a/an agreement
        "Once upon a time , there was an shy cat named Lisa .",
        "Once upon a time , there was a shy boy named Lisa .",  # boy with a girl's name
        "Once upon a time , there was a shy cat named .",  # missing word
        "Lisa liked to play in the park",  # no full stop
        "Lisa liked to play in the park . Lisa",  # trailing words
        "The end . The end .",
    ],
)
def test_recogniser_rejects_ungrammatical_sentences(sentence):
    assert not parse_sentence(sentence.split())


def _swap_subject_pronouns(text: str) -> str:
    # he/she are unambiguous (unlike "her", which is both "his" and "him"), so the swap stays grammatical.
    swap = {"he": "she", "she": "he", "He": "She", "She": "He"}
    return " ".join(swap.get(word, word) for word in text.split())


def test_wrong_pronoun_is_caught():
    with_pronouns = [s for s in STORIES if set(s.text.split()) & {"he", "she", "He", "She"}]
    assert len(with_pronouns) > 100
    for story in with_pronouns:
        check = check_story(_swap_subject_pronouns(story.text))
        assert not check.pronouns_agree and not check.consistent
        assert check.valid_sentences == check.sentences  # every sentence is still grammatical


def test_stray_name_is_caught():
    for story in STORIES[:50]:
        stranger = next(n for n in GIRL_NAMES + BOY_NAMES if n not in story.names)
        sentences = list(story.sentences)
        sentences.insert(-1, f"{stranger} was very happy .")
        check = check_story(" ".join(sentences))
        assert not check.no_stray_names and not check.consistent and check.valid_sentences == check.sentences


def test_missing_or_early_ending_is_caught():
    story = STORIES[0]
    assert not check_story(" ".join(story.sentences[:-1])).ends_properly
    assert not check_story(story.text + " " + story.sentences[1]).ends_properly
    assert not check_story("").consistent


def test_unfinished_tail_counts_as_an_invalid_sentence():
    sentences = split_sentences("Once upon a time , there was a shy cat named Lisa . Lisa liked to")
    assert len(sentences) == 2
    assert check_story("Once upon a time , there was a shy cat named Lisa . Lisa liked to").valid_sentences == 1
