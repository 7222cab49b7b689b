"""Exact quality checks for story text: grammatical sentences and consistency across sentences.

A sentence is valid when the story grammar's recogniser accepts it (`grammar.parse_sentence`).
A story is consistent when (1) every he/she/his/her/him agrees with the hero's gender (the hero is
the first name introduced; all singular pronouns in the grammar refer to the hero), (2) every name is
introduced with "named <Name>" before it is used again, and (3) it ends with "The end ." and nothing
after. The checks read plain text, so they score model output and corpus stories alike. Left out:
whether the sentences come in a sensible order, and meaning (a story may lose a ball it never had).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench.tiny.stories.grammar import NAME_GENDER, PRONOUNS, parse_sentence

_TOKEN = re.compile(r"[A-Za-z]+|[^\sA-Za-z]")
_ENDERS = {".", "!"}
_PRONOUN_GENDER: dict[str, set[str]] = {}
for _gender, _forms in PRONOUNS.items():
    for _form in _forms.values():
        _PRONOUN_GENDER.setdefault(_form, set()).add(_gender)


def split_sentences(text: str) -> list[list[str]]:
    """Words and punctuation, cut after each "." or "!"; an unfinished tail counts as a sentence."""
    sentences: list[list[str]] = [[]]
    for token in _TOKEN.findall(text):
        sentences[-1].append(token)
        if token in _ENDERS:
            sentences.append([])
    return [s for s in sentences if s]


@dataclass(frozen=True)
class StoryCheck:
    """Per-story result of the checks."""

    sentences: int
    valid_sentences: int
    hero: str | None
    pronouns_agree: bool
    no_stray_names: bool
    ends_properly: bool

    @property
    def consistent(self) -> bool:
        return self.hero is not None and self.pronouns_agree and self.no_stray_names and self.ends_properly

    @property
    def fully_valid(self) -> bool:
        return self.consistent and self.sentences > 0 and self.valid_sentences == self.sentences


def check_story(text: str) -> StoryCheck:
    """Run every check on one story's text."""
    sentences = split_sentences(text)
    tokens = [t for s in sentences for t in s]
    introduced: list[str] = []
    stray = False
    for i, token in enumerate(tokens):
        if token in NAME_GENDER:
            if i > 0 and tokens[i - 1] == "named":
                introduced.append(token)
            elif token not in introduced:
                stray = True
    hero = introduced[0] if introduced else None
    agree = hero is not None and all(NAME_GENDER[hero] in _PRONOUN_GENDER[t] for t in tokens if t in _PRONOUN_GENDER)
    return StoryCheck(
        sentences=len(sentences),
        valid_sentences=sum(parse_sentence(s) for s in sentences),
        hero=hero,
        pronouns_agree=agree,
        no_stray_names=not stray,
        ends_properly=bool(sentences) and sentences[-1] == ["The", "end", "."],
    )


@dataclass(frozen=True)
class QualityReport:
    """Shares over a set of stories, plus the per-story checks they come from."""

    stories: list[StoryCheck] = field(repr=False)
    valid_sentence_share: float
    consistent_story_share: float
    fully_valid_story_share: float

    def as_dict(self) -> dict[str, float]:
        return {
            "valid_sentence_share": self.valid_sentence_share,
            "consistent_story_share": self.consistent_story_share,
            "fully_valid_story_share": self.fully_valid_story_share,
            "stories": len(self.stories),
        }


def check_stories(texts: list[str]) -> QualityReport:
    """Check every story; sentence share pools sentences across stories."""
    checks = [check_story(t) for t in texts]
    n = max(len(checks), 1)
    return QualityReport(
        stories=checks,
        valid_sentence_share=sum(c.valid_sentences for c in checks) / max(sum(c.sentences for c in checks), 1),
        consistent_story_share=sum(c.consistent for c in checks) / n,
        fully_valid_story_share=sum(c.fully_valid for c in checks) / n,
    )
