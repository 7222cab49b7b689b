"""A probabilistic grammar of short, simple English stories, and a recogniser for its sentences.

One context-free grammar serves both directions. `generate_story` picks a story shape (meets a
friend, loses something, finds something, bad weather) and expands each sentence symbol from the
grammar, with story-level *bindings* (the hero's name and gender, a friend's name, the story's
object) so that every sentence speaks about the same characters. `parse_sentence` is an exact
recogniser for the same rules with the bindings left free: it accepts any name where a name may
stand, so cross-sentence consistency is checked separately (see `workbench.tiny.stories.checks`).

Agreement inside a sentence is part of the grammar itself: "a"/"an" before consonant/vowel words,
"girl"/"boy" with a girl's/boy's name. Left out: story-level grammar (the order of sentences is not
recognised, only each sentence), punctuation beyond "," "." "!", and any word not in the lexicon.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

GIRL_NAMES = ("Lisa", "Mia", "Lily", "Anna", "Sara", "Emma", "Zoe", "Lucy", "Ella", "Rosa")
BOY_NAMES = ("Tom", "Ben", "Max", "Sam", "Leo", "Jack", "Tim", "Finn", "Noah", "Omar")
NAME_GENDER: dict[str, str] = {**{n: "female" for n in GIRL_NAMES}, **{n: "male" for n in BOY_NAMES}}
PRONOUNS: dict[str, dict[str, str]] = {
    "female": {"he": "she", "He": "She", "his": "her", "His": "Her", "him": "her"},
    "male": {"he": "he", "He": "He", "his": "his", "His": "His", "him": "him"},
}
THINGS_C = ("ball", "kite", "hat", "book", "box", "toy", "car", "doll", "drum", "cup", "key", "shell", "boat")
THINGS_V = ("apple", "umbrella", "egg")  # vowel-initial nouns take "an"

# Word lists used by several rules. Words starting with a vowel sound are kept apart so that the
# grammar itself encodes "a" vs "an".
_WORDS: dict[str, tuple[str, ...]] = {
    "<girl_name>": GIRL_NAMES,
    "<boy_name>": BOY_NAMES,
    "<trait_c>": ("shy", "brave", "little", "happy", "kind", "curious", "funny", "sleepy", "clever", "gentle"),
    "<trait_v>": ("old", "eager"),
    "<animal>": ("cat", "dog", "bunny", "bird", "fox", "bear", "mouse", "duck", "frog", "pig", "owl", "elephant"),
    "<color_c>": ("red", "blue", "green", "yellow", "pink", "purple", "shiny", "big", "small"),
    "<color_v>": ("orange",),
    "<thing_c>": THINGS_C,
    "<thing_v>": THINGS_V,
    "<place>": ("park", "garden", "forest", "beach", "river", "farm", "hill", "lake", "meadow", "playground"),
    "<spot>": ("tree", "bush", "rock", "bench", "bed", "table", "flower", "log"),
    "<prep>": ("under", "behind", "near", "next to"),
    "<family>": ("mom", "dad", "sister", "brother", "grandma", "grandpa"),
    "<activity>": ("play", "run", "jump", "sing", "dance", "read", "swim", "draw"),
    "<weather>": ("rainy", "cold", "windy", "snowy", "stormy"),
    "<game>": ("tag", "hide and seek", "catch"),
    "<feeling>": ("sad", "scared", "upset"),
    "<indoor>": ("read a book", "drew a picture", "sang a song", "built a tower", "baked a cake"),
}

# Sentence rules. "<x>" is a symbol, anything else a word. Symbols in BOUND take their value from
# the story when generating; when recognising they expand like ordinary symbols.
_RULES: dict[str, tuple[str, ...]] = {
    "<name>": ("<girl_name>", "<boy_name>"),
    "<hero>": ("<name>",),
    "<girl_hero>": ("<girl_name>",),
    "<boy_hero>": ("<boy_name>",),
    "<friend>": ("<name>",),
    "<he>": ("he", "she"),
    "<He>": ("He", "She"),
    "<his>": ("his", "her"),
    "<His>": ("His", "Her"),
    "<him>": ("him", "her"),
    "<thing>": ("<thing_c>", "<thing_v>"),
    "<any_thing>": ("<thing_c>", "<thing_v>"),
    "<a_trait>": ("a <trait_c>", "an <trait_v>"),
    "<A_trait>": ("A <trait_c>", "An <trait_v>"),
    "<a_thing>": ("a <color_c> <thing>", "an <color_v> <thing>", "a <thing_c>", "an <thing_v>"),
    "<a_toy>": ("a <color_c> <any_thing>", "an <color_v> <any_thing>"),
    "<color>": ("<color_c>", "<color_v>"),
    # Sentences.
    "<intro>": (
        "Once upon a time , there was <a_trait> girl named <girl_hero> .",
        "Once upon a time , there was <a_trait> boy named <boy_hero> .",
        "Once upon a time , there was <a_trait> <animal> named <hero> .",
        "Once upon a time , in a little house near the <place> , there lived <a_trait> <animal> named <hero> .",
    ),
    "<habit>": (
        "<hero> liked to <activity> in the <place> .",
        "<He> loved to <activity> every day .",
        "Every day , <hero> liked to <activity> with <his> <family> .",
        "<hero> lived with <his> <family> near the <place> .",
    ),
    "<find>": (
        "One day , <hero> found <a_thing> at the <place> .",
        "One day , <he> saw <a_thing> <prep> a <spot> .",
    ),
    "<find_2>": (
        "<He> picked up the <thing> and took it home .",
        "<hero> showed the <thing> to <his> <family> .",
    ),
    "<find_3>": (
        "<His> <family> smiled and gave <him> a big hug .",
        "<hero> played with the <thing> all day .",
    ),
    "<lose>": (
        "One day , <hero> took <his> <color> <thing> to the <place> .",
        "One day , <hero> played with <his> <color> <thing> in the <place> .",
    ),
    "<lose_2>": (
        "When <he> wanted to go home , the <thing> was gone !",
        "Then <he> could not find the <thing> !",
    ),
    "<lose_3>": (
        "<hero> was very <feeling> .",
        "<hero> felt <feeling> and began to cry .",
    ),
    "<search>": (
        "<He> looked for the <thing> <prep> the <spot> .",
        "<He> looked everywhere , but <he> could not find it .",
    ),
    "<found_self>": (
        "At last , <he> found the <thing> <prep> a <spot> !",
        "Then <he> saw the <thing> <prep> the <spot> .",
    ),
    "<helper>": (
        "<A_trait> <animal> named <friend> came to help <him> .",
        "Soon , <a_trait> <animal> named <friend> came to help .",
    ),
    "<helper_2>": ("<friend> found the <thing> <prep> the <spot> .",),
    "<thanks>": (
        "<hero> said thank you to <friend> .",
        "<hero> gave <friend> a big hug .",
    ),
    "<visit>": (
        "One day , <hero> went to the <place> .",
        "One day , <hero> walked to the <place> with <his> <family> .",
    ),
    "<meet>": (
        "There , <he> met <a_trait> <animal> named <friend> .",
        "There , <he> saw <a_trait> <animal> named <friend> .",
    ),
    "<play>": (
        "<friend> wanted to play with <him> .",
        "<friend> asked <him> to play <game> .",
    ),
    "<play_2>": (
        "They played <game> all day .",
        "They played with <a_toy> all day .",
    ),
    "<friends>": (
        "<hero> and <friend> became best friends .",
        "From that day on , <hero> and <friend> played together every day .",
    ),
    "<weather_1>": ("One day , it was very <weather> .",),
    "<weather_2>": (
        "<hero> wanted to play in the <place> , but it was too <weather> .",
        "<He> could not go to the <place> .",
    ),
    "<weather_3>": (
        "So <he> stayed inside and <indoor> .",
        "So <hero> and <his> <family> <indoor> .",
    ),
    "<weather_4>": (
        "Soon , the sun came out .",
        "The next day , the sun came out .",
    ),
    "<weather_5>": (
        "<hero> ran to the <place> and played all day .",
        "<He> went outside to <activity> in the <place> .",
    ),
    "<happy>": (
        "<hero> was very happy .",
        "<hero> was happy again .",
        "<He> went to bed with a big smile .",
        "<He> had a lot of fun .",
    ),
    "<the_end>": ("The end .",),
}

GRAMMAR: dict[str, tuple[tuple[str, ...], ...]] = {
    symbol: tuple(tuple(rule.split()) for rule in rules) for symbol, rules in _RULES.items()
}
GRAMMAR.update({symbol: tuple(tuple(word.split()) for word in words) for symbol, words in _WORDS.items()})

# Story shapes: sentence symbols in order; a (symbol, p) pair is included with probability p, and a
# tuple of shapes nested as {"any": (...)} picks one branch.
_STORY_SHAPES: dict[str, tuple] = {
    "find": ("<find>", "<find_2>", ("<find_3>", 0.7)),
    "lose": (
        "<lose>",
        "<lose_2>",
        "<lose_3>",
        ("<search>", 0.7),
        {"any": (("<found_self>",), ("<helper>", "<helper_2>", "<thanks>"))},
    ),
    "friend": ("<visit>", "<meet>", "<play>", ("<play_2>", 0.8), ("<friends>", 0.8)),
    "weather": ("<weather_1>", "<weather_2>", "<weather_3>", ("<weather_4>", 0.8), ("<weather_5>", 0.8)),
}
SENTENCE_SYMBOLS: tuple[str, ...] = tuple(
    s
    for s in _RULES
    if s[1:-1].split("_")[0]
    in {
        "intro",
        "habit",
        "find",
        "lose",
        "search",
        "found",
        "helper",
        "thanks",
        "visit",
        "meet",
        "play",
        "friends",
        "weather",
        "happy",
        "the",
    }
)
BOUND = frozenset(
    {
        "<hero>",
        "<girl_hero>",
        "<boy_hero>",
        "<friend>",
        "<he>",
        "<He>",
        "<his>",
        "<His>",
        "<him>",
        "<thing>",
        "<thing_c>",
        "<thing_v>",
    }
)


@dataclass(frozen=True)
class Story:
    """A generated story and the facts it was generated from."""

    text: str  # words and punctuation separated by single spaces
    sentences: tuple[str, ...]
    hero: str
    gender: str
    shape: str
    names: tuple[str, ...]  # every name the story introduces, hero first


def vocabulary() -> list[str]:
    """Every word the grammar can produce, in a fixed order (rules first, then word lists)."""
    words: dict[str, None] = {}
    for expansions in GRAMMAR.values():
        for expansion in expansions:
            for token in expansion:
                if not token.startswith("<"):
                    words.setdefault(token)
    return list(words)


def _bindings(rng: random.Random) -> dict[str, str]:
    gender = rng.choice(("female", "male"))
    hero = rng.choice(GIRL_NAMES if gender == "female" else BOY_NAMES)
    friend = rng.choice([n for n in NAME_GENDER if n != hero])
    thing = rng.choice(THINGS_C + THINGS_V)
    env = {"<hero>": hero, "<friend>": friend, "<thing>": thing}
    env["<girl_hero>" if gender == "female" else "<boy_hero>"] = hero
    env["<thing_c>" if thing in THINGS_C else "<thing_v>"] = thing
    env.update({f"<{k}>": v for k, v in PRONOUNS[gender].items()})
    return env


def _can_expand(symbol: str, env: dict[str, str]) -> bool:
    """False when a bound symbol has no value in this story (e.g. <girl_hero> for a boy)."""
    if symbol in env:
        return True
    if symbol in BOUND:
        return False
    return any(all(_can_expand(t, env) for t in rule if t.startswith("<")) for rule in GRAMMAR[symbol])


def _expand(symbol: str, env: dict[str, str], rng: random.Random) -> list[str]:
    if symbol in env:
        return env[symbol].split()
    usable = [rule for rule in GRAMMAR[symbol] if all(_can_expand(t, env) for t in rule if t.startswith("<"))]
    words: list[str] = []
    for token in rng.choice(usable):
        words.extend(_expand(token, env, rng) if token.startswith("<") else [token])
    return words


def _plan(items: tuple, rng: random.Random) -> list[str]:
    symbols: list[str] = []
    for item in items:
        if isinstance(item, str):
            symbols.append(item)
        elif isinstance(item, dict):
            symbols.extend(_plan(rng.choice(item["any"]), rng))
        elif rng.random() < item[1]:
            symbols.append(item[0])
    return symbols


def generate_story(rng: random.Random) -> Story:
    """One story: intro, an optional habit, one story shape, an optional happy line, "The end ."."""
    env = _bindings(rng)
    shape = rng.choice(sorted(_STORY_SHAPES))
    symbols = ["<intro>"] + (["<habit>"] if rng.random() < 0.8 else []) + _plan(_STORY_SHAPES[shape], rng)
    symbols += (["<happy>"] if rng.random() < 0.8 else []) + ["<the_end>"]
    sentences = tuple(" ".join(_expand(s, env, rng)) for s in symbols)
    text = " ".join(sentences)
    introduced = tuple(n for n in (env["<hero>"], env["<friend>"]) if n in text.split())
    return Story(text, sentences, env["<hero>"], NAME_GENDER[env["<hero>"]], shape, introduced)


def generate_stories(count: int, seed: int) -> list[Story]:
    """`count` stories from one seeded generator: the same seed always gives the same stories."""
    rng = random.Random(seed)
    return [generate_story(rng) for _ in range(count)]


def parse_sentence(words: list[str] | tuple[str, ...]) -> bool:
    """True when the words form one complete sentence of the grammar (any sentence symbol)."""
    words = tuple(words)
    memo: dict[tuple[str, int], frozenset[int]] = {}

    def ends(symbol: str, start: int) -> frozenset[int]:
        """All positions where `symbol`, starting at `start`, can end (the grammar has no recursion)."""
        if (symbol, start) not in memo:
            found: set[int] = set()
            for rule in GRAMMAR[symbol]:
                positions = {start}
                for token in rule:
                    if token.startswith("<"):
                        positions = {e for p in positions for e in ends(token, p)}
                    else:
                        positions = {p + 1 for p in positions if p < len(words) and words[p] == token}
                found |= positions
            memo[symbol, start] = frozenset(found)
        return memo[symbol, start]

    return any(len(words) in ends(symbol, 0) for symbol in SENTENCE_SYMBOLS)
