"""Out-of-scope queries: requests that none of the 16 TinyAgent tools can serve (weather, news, music, ...).

TinyAgent's dataset holds only queries its tools can serve, so a classifier trained on it alone always
picks *some* tool: asked for the weather it picks the calendar, and the agent books an event. Its ToolRAG
(Sec. 4) is a multi-label classifier with a sigmoid per tool, so "no tool" is simply every probability below
the threshold; it only has to see such queries. This procedural generator (ours; the paper has none) writes
them: topic templates filled from small pools, among them near misses that sound like a tool's request
("set an alarm", "what's on my calendar", "call Ana", "get me an uber"), typed plainly or in the casual
register of the planner's data (`phrasing`). ToolRAG trains on them as negatives (an empty tool set), and its
evaluation measures how many it rejects on *held-out* templates, topics and register parts, so the number says
how far "no tool" generalizes, not how well the templates were memorized.

    >>> qs = out_of_scope_queries(3, seed=0)
    >>> len(qs), len(set(qs))
    (3, 3)
"""

from __future__ import annotations

import random
from typing import Any

from workbench.synth import phrasing, pools
from workbench.synth.records import human_dev_queries, normalize_query

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
_ITEMS = (
    "paper towels",
    "AA batteries",
    "dog food",
    "coffee beans",
    "printer ink",
    "a phone charger",
    "socks",
)
_TIMES = ("6:30", "7am", "noon", "5:45", "8 pm", "9:15", "10am", "11:30", "6 am")
_DAYS = ("tomorrow", "today", "on friday", "this weekend", "next monday", "tonight", "on the 14th")
_OPENERS = ("", "", "Can you ", "Please ", "Hey, ", "I need you to ", "Could you ")  # before a request
_ASKERS = ("", "", "Hey, ", "Quick question: ", "So, ")  # before a question

# topic -> templates; the last template of every topic, and the last two topics, are held out for evaluation.
_TOPICS: dict[str, tuple[str, ...]] = {
    "weather": (
        "what's the weather in {city} tomorrow?",
        "tell me if it will rain in {city} this weekend.",
        "do I need an umbrella {day}?",
        "how cold is it in {city} right now?",
        "will it snow in {city} {day}?",
        "hows the weather looking {day}",
    ),
    "stocks": (
        "what is {company} stock trading at?",
        "how did {company} shares do today?",
        "buy 10 shares of {company}.",
        "what's the price of {company} stock?",
        "give me the market cap of {company}.",
    ),
    "sports": (
        "what was the score of the {team} game last night?",
        "when do {team} play next?",
        "did {team} win?",
        "who won the {team} match?",
        "what's the {team} score?",
        "who is leading the league, {team} or someone else?",
    ),
    "music": (
        "play some {artist}.",
        "put on the latest album by {artist}.",
        "pause the music.",
        "play my workout playlist.",
        "turn the music up.",
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
        "write me a poem about {thing}.",
        "who came up with {thing}?",
        "summarize the history of {thing} for me.",
        "give me a short history of {thing}.",
    ),
    "math": ("what is {a} times {b}?", "calculate {a} divided by {b}.", "what's {a} percent of {b}?"),
    "smart_home": (
        "turn off the lights in the {room}.",
        "set the {room} thermostat to {t} degrees.",
        "is the {room} window open?",
        "dim the {room} lights.",
        "lock the {room} door.",
    ),
    "jokes": (
        "tell me a joke.",
        "make me laugh with a pun about {thing}.",
        "say something funny about {city}.",
    ),
    # Near misses: requests that sound like a tool's but that no tool serves (there is no alarm, no call, no
    # reading of the calendar or the inbox, no deleting, no ride or purchase among the 16 tools).
    "alarms": (
        "set an alarm for {time}.",
        "wake me up at {time} {day}.",
        "start a {n} minute timer.",
        "timer for {n} mins.",
        "alarm at {time} {day} pls.",
        "set a {n} min countdown.",
        "snooze my {time} alarm.",
    ),
    "calendar_read": (
        "what's on my calendar {day}?",
        "do I have any meetings {day}?",
        "when is my next meeting?",
        "am I free {day} at {time}?",
        "what do I have {day}?",
        "anything on my schedule {day}?",
        "how busy is my week?",
    ),
    "inbox_read": (
        "read me my latest email.",
        "any new emails from {person}?",
        "did {person} text me back?",
        "how many unread messages do I have?",
        "show me the emails from {person}.",
        "what did {person} email me about?",
        "read {person}'s last text.",
        "check my inbox for anything from {person}.",
    ),
    "calls": (
        "call {person}.",
        "facetime {person}.",
        "ring {person} on speaker.",
        "video call {person} {day} at {time}.",
        "give {person} a call.",
        "phone {person} {day} at {time}.",
        "call {person} back.",
        "start a facetime with {person} and {person2}.",
        "dial {person}'s cell.",
    ),
    "rides": (
        "get me an uber to {place}.",
        "book a lyft to {place} {day}.",
        "how much is a cab to {place}?",
        "order a ride to {place} for {time}.",
        "need a car to {place} at {time}.",
        "call me a taxi to {place}.",
    ),
    "shopping": (
        "order {item} on amazon.",
        "buy more {item}.",
        "add {item} to my cart.",
        "reorder the {item} I got last time.",
        "order {item} for delivery {day}.",
        "get {item} delivered {day}.",
    ),
    "undo": (
        "delete my {note} note.",
        "cancel my meeting {day}.",
        "clear all my reminders.",
        "remove {person} from my contacts.",
        "delete the reminder about the {note}.",
        "cancel the zoom with {person}.",
        "unsend my last email.",
    ),
    "device": (
        "turn on do not disturb.",
        "set the volume to {n} percent.",
        "turn bluetooth off.",
        "take a screenshot.",
        "mute my mac.",
        "turn the screen brightness up.",
        "restart my mac.",
    ),
    "web": (
        "google {thing}.",
        "search the web for {thing}.",
        "look up {thing} on wikipedia.",
        "summarize the top search results for {thing}.",
        "read me the wikipedia page on {thing}.",
        "open youtube and find videos about {thing}.",
    ),
    "payments": (
        "send {person} {n} dollars on venmo.",
        "pay {person} back for dinner.",
        "what's my bank balance?",
        "request {n} dollars from {person}.",
        "transfer {n} bucks to {person}.",
        "how much do I owe {person}?",
        "split the bill with {person}.",
    ),
    "conversions": (
        "convert {n} miles to km.",
        "what time is it in {city}?",
        "how many grams are in a pound?",
        "convert {n} dollars to euros.",
        "how many cups are in a liter?",
    ),
    "places_info": (
        "is {place} open right now?",
        "what time does {place} close {day}?",
        "book a table at {place} for {time}.",
        "what are the hours of {place}?",
        "is {place} busy {day}?",
        "how busy is {place} right now?",
    ),
    # the last two topics are held out whole
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


def _templates(held_out: bool) -> list[tuple[str, str]]:
    """(topic, template) pairs: for training every template but each topic's last, of all topics but the last
    two; held out, the rest."""
    topics = list(_TOPICS.items())
    seen, unseen = topics[:-_HELD_OUT_TOPICS], topics[-_HELD_OUT_TOPICS:]
    if held_out:
        return [(k, t[-1]) for k, t in seen] + [(k, x) for k, t in unseen for x in t]
    return [(k, x) for k, t in seen for x in t[:-1]]


def _slots(rng: random.Random, split: str) -> dict[str, Any]:
    return {
        "city": rng.choice(_CITIES),
        "company": rng.choice(_COMPANIES),
        "team": rng.choice(_TEAMS),
        "artist": rng.choice(_ARTISTS),
        "lang": rng.choice(_LANGS),
        "phrase": rng.choice(_PHRASES),
        "thing": rng.choice(_THINGS),
        "dish": rng.choice(_DISHES),
        "room": rng.choice(_ROOMS),
        "item": rng.choice(_ITEMS),
        "time": rng.choice(_TIMES),
        "day": rng.choice(_DAYS),
        "person": rng.choice(pools.first_names(split)),
        "person2": rng.choice(pools.first_names(split)),
        "place": rng.choice(pools.places(split)),
        "note": rng.choice(pools.note_names(split)).lower(),
        "a": rng.randint(2, 999),
        "b": rng.randint(2, 999),
        "n": rng.randint(2, 60),
        "t": rng.randint(16, 26),
    }


def out_of_scope_items(n: int, seed: int = 0, held_out: bool = False) -> list[tuple[str, str]]:
    """`n` distinct (query, topic) pairs; `held_out` draws only from the templates and topics kept from training
    (and the held-out halves of the names and of the casual register's parts). A query of the hand-written dev
    set is never written."""
    rng = random.Random(f"out-of-scope/{seed}/{held_out}")
    split = "ood" if held_out else "train"
    templates = _templates(held_out)
    never = human_dev_queries()
    out: dict[str, str] = {}
    misses = 0  # draws in a row that gave nothing new: the templates have run out
    while len(out) < n and misses < 10_000:
        topic, template = rng.choice(templates)
        slots = _slots(rng, split)
        text = template.format(**slots)
        question = text.endswith("?")
        register = phrasing.choose_register(rng)
        if register == "plain":
            opener = rng.choice(_ASKERS if question else _OPENERS)
            query = opener + (text if opener else text[0].upper() + text[1:])
        else:  # as people type it: lower case, abbreviations, typos, no final stop, a sign-off
            values = [v for v in slots.values() if isinstance(v, str) and v in text]
            clause = phrasing.realize(rng, text.rstrip(".?"), values, register, held_out, rng.random() < 0.5)
            query = phrasing.join_clauses(rng, [clause], held_out, opener=not question)
        new = query not in out and normalize_query(query) not in never
        misses = 0 if new else misses + 1
        if new:
            out[query] = topic
    if len(out) < n:
        raise ValueError(f"only {len(out)} distinct out-of-scope queries can be made; ask for fewer than {n}")
    return list(out.items())


def out_of_scope_queries(n: int, seed: int = 0, held_out: bool = False) -> list[str]:
    """`n` distinct out-of-scope queries (`out_of_scope_items` without the topics)."""
    return [q for q, _ in out_of_scope_items(n, seed, held_out)]
