"""How people type a request (issue 16): a register and noise layer over the offline teacher's clauses.

The teacher's intents write clean clauses from templates ("text Ana Costa that the demo moved"). People type
the same requests casually: lower case, abbreviations ("pls", "u", "tmrw", "w/"), typos, no final full stop,
openers and sign-offs ("hey", "thx"), other connectives ("&", "+", "then"). `realize` rewrites the words
*around* the slot values (the plan's string arguments: names, messages, titles, files, places), never inside
them, so the gold plan stays right.

Every list comes in two parts, as the templates do: the first part for train/val/test, the rest held out for
ood (an abbreviation, opener, sign-off, connective or kind of typo that training never shows).

    >>> rng = random.Random(0)
    >>> realize(rng, "remind me to call Ana Costa tomorrow at 5pm", ["Ana Costa"], "casual", ood=False)
    'remind me to call Ana Costa tmrw at 5pm'
    >>> protected_spans("text Ana that I'm late", ["Ana", "I'm late"])
    [(5, 8), (14, 22)]
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any

REGISTERS = ("plain", "casual", "noisy")  # noisy: casual plus typos
REGISTER_WEIGHTS = (0.5, 0.32, 0.18)

# Each word's abbreviations: those before "|" for training, after it held out for ood.
ABBREVIATIONS = {
    "please": ("pls", "plz"),
    "you": ("u", "ya"),
    "your": ("ur", "yr"),
    "tomorrow": ("tmrw", "2moro"),
    "with": ("w/", "wit"),
    "about": ("abt", "bout"),
    "message": ("msg", "mssg"),
    "minutes": ("mins", "min"),
    "and": ("&", "n"),
    "meeting": ("mtg", "mtng"),
    "tonight": ("tonite", "2nite"),
    "appointment": ("appt", "apt"),
    "because": ("bc", "cuz"),
    "information": ("info", "infos"),
    "calendar": ("cal", "calender"),
    "directions": ("dirs", "directons"),
    "thanks": ("thx", "tnx"),
    "people": ("ppl", "ppl"),
    "to": ("to", "2"),  # held out: "2" for "to" only in ood
}
ABBREVIATE = 0.55  # chance that a casual query abbreviates a word it can

OPENERS = (["hey ", "hey can u ", "pls ", "can u ", "could u ", "i need u to ", "ok ", "quick one: ", "need to "],
           ["hiya ", "ok so ", "real quick, "])  # fmt: skip
SIGN_OFFS = ([" thx", " thanks", " pls", " asap", " ty", "!", ""], [" cheers", " tia"])
CONNECTIVES = (
    [" and ", " & ", " then ", ", also ", " + ", " and then ", ", ", " also "],
    [" n ", " / ", " after that "],
)
TYPO_KINDS = (("swap", "drop", "double"), ("neighbor",))
TYPO_RATE = 0.12  # per eligible word of a noisy request (at most two per request)
# Words a typo never touches: dates and times must stay computable, and short words are rarely mistyped.
NO_TYPO = re.compile(
    r"(?i)^(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july"
    r"|august|september|october|november|december|am|pm|noon|today|tomorrow|next|week|weeks|days)$"
)
KEYBOARD = {
    row[i]: row[i - 1] + row[i + 1] if 0 < i < len(row) - 1 else row[i - 1] if i else row[1]
    for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm")
    for i in range(len(row))
}


def part(pair: tuple[Any, Any], ood: bool) -> Any:
    """The held-out half of a (train, ood) pair for ood, else the training half."""
    return pair[1] if ood else pair[0]


def choose_register(rng: random.Random) -> str:
    return rng.choices(REGISTERS, weights=REGISTER_WEIGHTS)[0]


def protected_spans(text: str, values: Sequence[str]) -> list[tuple[int, int]]:
    """Sorted, merged (start, end) spans of `text` where a slot value occurs (case-insensitive), and of every
    token holding a digit (dates, times, numbers, addresses)."""
    spans = []
    for v in values:
        if len(v) >= 2:
            spans += [(m.start(), m.end()) for m in re.finditer(re.escape(v), text, re.IGNORECASE)]
    spans += [(m.start(), m.end()) for m in re.finditer(r"\S*\d\S*", text)]
    merged: list[tuple[int, int]] = []
    for s, e in sorted(spans):
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _rewrite_free(text: str, values: Sequence[str], fn) -> str:
    """Apply `fn` to each stretch of `text` outside the protected spans."""
    out, pos = [], 0
    for s, e in protected_spans(text, values):
        out += [fn(text[pos:s]), text[s:e]]
        pos = e
    out.append(fn(text[pos:]))
    return "".join(out)


def typo(rng: random.Random, word: str, kinds: Sequence[str]) -> str:
    """One typing mistake inside a word (its first letter kept, as people rarely miss that one)."""
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(kinds)
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    near = KEYBOARD.get(word[i].lower())
    return word[:i] + rng.choice(near) + word[i + 1 :] if near else word


def realize(
    rng: random.Random, clause: str, values: Sequence[str], register: str, ood: bool, lower: bool = False
) -> str:
    """A clause as typed in `register`; `values` (the slot values) are never changed, except that with `lower`
    the whole clause is in lower case, names too (the caller then writes the plan's values in lower case)."""
    if register == "plain":
        return clause
    typos = [0]

    def casual(stretch: str) -> str:
        words = re.split(r"(\s+)", stretch.lower())
        for k, w in enumerate(words):
            bare = w.strip(",.;:!?'\"")
            if bare in ABBREVIATIONS and rng.random() < ABBREVIATE:
                words[k] = w.replace(bare, part(ABBREVIATIONS[bare], ood), 1)
            elif (
                register == "noisy"
                and typos[0] < 2
                and len(bare) >= 4
                and bare.isalpha()
                and not NO_TYPO.match(bare)
                and rng.random() < TYPO_RATE
            ):
                typos[0] += 1
                words[k] = w.replace(bare, typo(rng, bare, part(TYPO_KINDS, ood)), 1)
        return "".join(words).replace("i'm", "im" if rng.random() < 0.5 else "i'm")

    text = _rewrite_free(clause, values, casual)
    return text.lower() if lower else text


def join_clauses(rng: random.Random, clauses: Sequence[str], ood: bool, opener: bool = True) -> str:
    """The clauses as one casual query: an opener (where the first clause can take one), casual connectives, a
    sign-off, no final full stop."""
    query = rng.choice(part(OPENERS, ood)) if opener and rng.random() < 0.45 else ""
    query += clauses[0]
    for clause in clauses[1:]:
        query += rng.choice(part(CONNECTIVES, ood)) + clause
    if rng.random() < 0.35:
        query += rng.choice(part(SIGN_OFFS, ood))
    return query
