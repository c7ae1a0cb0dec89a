"""Out-of-scope queries: requests that none of the 16 TinyAgent tools can serve (weather, news, music, ...).

TinyAgent's dataset holds only queries its tools can serve, so a classifier trained on it alone always
picks *some* tool: asked for the weather it picks the calendar, and the agent books an event. Its ToolRAG
(Sec. 4) is a multi-label classifier with a sigmoid per tool, so "no tool" is simply every probability below
the threshold; it only has to see such queries. This procedural generator (ours; the paper has none) writes
them: topic templates filled from small pools. ToolRAG trains on them as negatives (an empty tool set), and
its evaluation measures how many it rejects on *held-out* templates and topics, so the number says how far
"no tool" generalizes, not how well the templates were memorized.

    >>> qs = out_of_scope_queries(3, seed=0)
    >>> len(qs), len(set(qs))
    (3, 3)
"""

from __future__ import annotations

import random

_CITIES = (
    "Paris",
    "Lagos",
    "Osaka",
    "Denver",
    "Lima",
    "Oslo",
    "Pune",
    "Cairo",
    "Austin",
    "Hanoi",
    "Porto",
    "Perth",
)
_COMPANIES = ("Apple", "Tesla", "Nvidia", "Toyota", "Siemens", "Infosys", "Nestle", "Airbus")
_TEAMS = ("the Warriors", "Arsenal", "the Yankees", "Real Madrid", "the Lakers", "Bayern", "the Packers")
_ARTISTS = ("Taylor Swift", "Bach", "Burna Boy", "Miles Davis", "Adele", "Radiohead", "BTS", "Nina Simone")
_LANGS = ("French", "Japanese", "Spanish", "Swahili", "German", "Korean", "Hindi", "Portuguese")
_PHRASES = (
    "good morning",
    "where is the station",
    "thank you very much",
    "how much does this cost",
    "I'm lost",
)
_THINGS = ("photosynthesis", "a black hole", "inflation", "the French Revolution", "blockchain", "a sonnet")
_DISHES = ("lasagna", "pad thai", "banana bread", "shakshuka", "ramen", "guacamole", "paella")
_ROOMS = ("living room", "kitchen", "bedroom", "office", "garage")
_OPENERS = ("", "", "Can you ", "Please ", "Hey, ", "I need you to ", "Could you ")  # before a request
_ASKERS = ("", "", "Hey, ", "Quick question: ", "So, ")  # before a question

# topic -> templates; the last template of every topic, and the last two topics, are held out for evaluation.
_TOPICS: dict[str, tuple[str, ...]] = {
    "weather": (
        "what's the weather in {city} tomorrow?",
        "tell me if it will rain in {city} this weekend.",
        "how cold is it in {city} right now?",
    ),
    "stocks": (
        "what is {company} stock trading at?",
        "how did {company} shares do today?",
        "give me the market cap of {company}.",
    ),
    "sports": (
        "what was the score of the {team} game last night?",
        "when do {team} play next?",
        "who is leading the league, {team} or someone else?",
    ),
    "music": (
        "play some {artist}.",
        "put on the latest album by {artist}.",
        "skip to the next {artist} song.",
    ),
    "translate": (
        "translate '{phrase}' into {lang}.",
        "how do you say '{phrase}' in {lang}?",
        "what does '{phrase}' sound like in {lang}?",
    ),
    "explain": (
        "explain {thing} in simple terms.",
        "what is {thing}?",
        "give me a short history of {thing}.",
    ),
    "math": ("what is {a} times {b}?", "calculate {a} divided by {b}.", "what's {a} percent of {b}?"),
    "smart_home": (
        "turn off the lights in the {room}.",
        "set the {room} thermostat to {t} degrees.",
        "lock the {room} door.",
    ),
    "jokes": (
        "tell me a joke.",
        "make me laugh with a pun about {thing}.",
        "say something funny about {city}.",
    ),
    "recipes": (
        "how do I make {dish}?",
        "what do I need to cook {dish} for four?",
        "find me a recipe for {dish}.",
    ),
    "news": (
        "what's in the news in {city} today?",
        "any headlines about {company}?",
        "summarize today's top stories about {team}.",
    ),
}
_HELD_OUT_TOPICS = 2


def _templates(held_out: bool) -> list[str]:
    topics = list(_TOPICS.values())
    seen, unseen = topics[:-_HELD_OUT_TOPICS], topics[-_HELD_OUT_TOPICS:]
    if held_out:
        return [t[-1] for t in seen] + [x for t in unseen for x in t]
    return [x for t in seen for x in t[:-1]]


def out_of_scope_queries(n: int, seed: int = 0, held_out: bool = False) -> list[str]:
    """`n` distinct out-of-scope queries; `held_out` draws only from the templates and topics kept from training."""
    rng = random.Random(f"out-of-scope/{seed}/{held_out}")
    templates = _templates(held_out)
    out: dict[str, None] = {}
    misses = 0  # draws in a row that gave nothing new: the templates have run out
    while len(out) < n and misses < 10_000:
        text = rng.choice(templates).format(
            city=rng.choice(_CITIES),
            company=rng.choice(_COMPANIES),
            team=rng.choice(_TEAMS),
            artist=rng.choice(_ARTISTS),
            lang=rng.choice(_LANGS),
            phrase=rng.choice(_PHRASES),
            thing=rng.choice(_THINGS),
            dish=rng.choice(_DISHES),
            room=rng.choice(_ROOMS),
            a=rng.randint(2, 999),
            b=rng.randint(2, 999),
            t=rng.randint(16, 26),
        )
        opener = rng.choice(_ASKERS if text.endswith("?") else _OPENERS)
        query = opener + (text if opener else text[0].upper() + text[1:])
        misses = 0 if query not in out else misses + 1
        out[query] = None
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct out-of-scope queries can be made; ask for fewer than {n}")
    return list(out)
