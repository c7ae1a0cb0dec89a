"""How many ways the synthesized data says each request (issue 16): distinct clause skeletons and distinct word
trigrams per intent, and how much of ood's phrasing training ever shows.

A clause's skeleton is the clause with its slot values (the plan's string arguments: names, messages, titles,
files, places) replaced by `{}` and every number by `#`, in lower case: what is left is the phrasing. Two
clauses that differ only in who and what share a skeleton; a new verb, word order, abbreviation or typo makes
a new one.

    >>> skeleton("Text Ana Costa that I'm late tmrw at 5pm", ["Ana Costa", "I'm late"])
    'text {} that {} tmrw at #pm'
    >>> d = Diversity()
    >>> d.add("sms", "text {} that {}"); d.add("sms", "text {} that {}"); d.add("sms", "pls text {} {}")
    >>> d.report()["sms"]
    {'clauses': 3, 'skeletons': 2, 'trigrams': 4}
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

SLOT = "{}"


def skeleton(clause: str, values: Sequence[str]) -> str:
    """The clause with slot values (longest first, case-insensitive) as `{}` and digit runs as `#`."""
    text = clause
    for v in sorted({v for v in values if len(v) >= 2}, key=len, reverse=True):
        text = re.sub(re.escape(v), "\x00", text, flags=re.IGNORECASE)
    text = re.sub(r"\d+", "#", text.lower())
    return " ".join(text.replace("\x00", SLOT).split())


class Diversity:
    """Counts, per intent, the clauses, their distinct skeletons and the distinct word trigrams among them."""

    def __init__(self) -> None:
        self.clauses: dict[str, int] = defaultdict(int)
        self.skeletons: dict[str, set[str]] = defaultdict(set)
        self.trigrams: dict[str, set[tuple[str, ...]]] = defaultdict(set)

    def add(self, intent: str, skel: str) -> None:
        self.clauses[intent] += 1
        if skel not in self.skeletons[intent]:
            self.skeletons[intent].add(skel)
            words = skel.split()
            self.trigrams[intent].update(zip(words, words[1:], words[2:], strict=False))

    def report(self) -> dict[str, dict[str, int]]:
        return {
            intent: {
                "clauses": self.clauses[intent],
                "skeletons": len(self.skeletons[intent]),
                "trigrams": len(self.trigrams[intent]),
            }
            for intent in sorted(self.clauses)
        }

    def all_skeletons(self) -> set[str]:
        return set().union(*self.skeletons.values()) if self.skeletons else set()


def unseen_share(held_out: Diversity, training: Diversity) -> float:
    """The share of the held-out split's distinct skeletons that training never shows (1.0: none seen)."""
    skels = held_out.all_skeletons()
    return round(len(skels - training.all_skeletons()) / len(skels), 4) if skels else 0.0
