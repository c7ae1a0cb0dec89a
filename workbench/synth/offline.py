"""The offline teacher: writes (query, plan) records procedurally, with no model (TinyAgent, Sec. 3.1).

Where the paper asks GPT-4-Turbo for realistic queries and their plans, this generator composes 1-4 intents
(email, reply, forward, SMS, calendar event, Zoom meeting shared by calendar or email, notes, reminders, maps,
PDF summaries sent or saved, ...), fills them from large entity pools, phrases each with one of many
templates, joins them with varied connectives, and writes the gold plan by TinyAgent's rules:

- look up every email address, phone number and file path the query does not give;
- independent steps first (numbered before anything that depends on them), so the plan is maximally parallel,
  and each look-up once even when two intents need it;
- dates resolved from relative phrases ("next Friday at 2pm") against the record's `today`, written ISO;
- `join()<END_OF_PLAN>` last.

For the `ood` split every template, connective, entity pool and some intent combinations are held out of
train/val/test, so a score on `ood` measures generalization, not memorization.

Date rules, used consistently: "on Friday" is the first Friday after today, "next Friday" one week later;
"June 20" is the next June 20 that is not in the past.

    >>> q, plan, template_ids, clauses = compose(random.Random(0), "train", dt.date(2024, 6, 12))
    >>> plan.endswith("join()<END_OF_PLAN>")
    True
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.plan import END_OF_PLAN
from workbench.synth import phrasing, pools
from workbench.synth.diversity import skeleton

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five"}


def _pick(rng: random.Random, items: Sequence[Any], ood: bool, n_ood: int = 2) -> tuple[int, Any]:
    """A template from its list: the last `n_ood` are held out for ood. Returns (index, template)."""
    candidates = list(range(len(items) - n_ood, len(items))) if ood else list(range(len(items) - n_ood))
    i = rng.choice(candidates)
    return i, items[i]


# ------------------------------------------------------------------------------------------------ dates


def date_phrase(rng: random.Random, today: dt.date, ood: bool) -> tuple[str, dt.date]:
    """A relative or absolute day and the date it means."""
    kind = rng.choice(
        ["in_weeks", "the_nth"]
        if ood
        else ["tomorrow", "today", "after", "on_day", "next_day", "month_day", "in_days", "iso"]
    )
    if kind in ("tomorrow", "today", "after"):
        days = {"today": 0, "tomorrow": 1, "after": 2}[kind]
        return {"after": "the day after tomorrow"}.get(kind, kind), today + dt.timedelta(days)
    if kind in ("on_day", "next_day"):
        wd = rng.randrange(7)
        ahead = (wd - today.weekday() - 1) % 7 + 1
        if kind == "next_day":
            return f"next {WEEKDAYS[wd]}", today + dt.timedelta(ahead + 7)
        return f"on {WEEKDAYS[wd]}", today + dt.timedelta(ahead)
    if kind == "in_days":
        n = rng.randint(2, 5)
        return f"in {n} days", today + dt.timedelta(n)
    if kind == "in_weeks":
        n = rng.randint(2, 3)
        return f"in {NUMBER_WORDS[n]} weeks", today + dt.timedelta(7 * n)
    day = _future_day(rng, today)
    if kind == "iso":
        return f"on {day.isoformat()}", day
    if kind == "the_nth":
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
        return f"on the {day.day}{suffix} of {MONTHS[day.month - 1]}", day
    return f"on {MONTHS[day.month - 1]} {day.day}", day


def _future_day(rng: random.Random, today: dt.date) -> dt.date:
    return today + dt.timedelta(rng.randint(3, 120))


def time_phrase(rng: random.Random, ood: bool) -> tuple[str, dt.time]:
    hour = rng.choice([8, 9, 10, 11, 13, 14, 15, 16, 17, 18])
    minute = rng.choice([0, 0, 0, 15, 30, 45])
    when = dt.time(hour, minute)
    if ood:
        if rng.random() < 0.5:
            return ("at noon", dt.time(12)) if rng.random() < 0.5 else ("at half past nine", dt.time(9, 30))
        return f"at {hour}h{minute:02d}", when
    h12 = hour % 12 or 12
    ampm = "am" if hour < 12 else "pm"
    style = rng.randrange(4)
    if style == 3:  # the bare hour, as in "tomorrow 2pm"
        return (f"{h12}{ampm}" if minute == 0 else f"{h12}:{minute:02d}{ampm}"), when
    if style == 0:
        return (f"at {h12}{ampm}" if minute == 0 else f"at {h12}:{minute:02d}{ampm}"), when
    if style == 1:
        return (f"at {h12} {ampm}" if minute == 0 else f"at {h12}:{minute:02d} {ampm}"), when
    return f"at {hour:02d}:{minute:02d}", when


def duration_phrase(rng: random.Random, ood: bool) -> tuple[str, int]:
    minutes = rng.choice([15, 30, 45, 60, 90, 120])
    if ood:
        return f"lasting {minutes} min", minutes
    words = {60: "an hour", 90: "an hour and a half", 120: "two hours"}
    return f"for {words.get(minutes, f'{minutes} minutes')}", minutes


def iso(day: dt.date, time: dt.time) -> str:
    return dt.datetime.combine(day, time).strftime("%Y-%m-%d %H:%M:%S")


# ----------------------------------------------------------------------------------------- plan builder


@dataclass(frozen=True)
class Ref:
    node: int


@dataclass
class PlanBuilder:
    """Collects calls; renders them with dependency-free calls first, each look-up made once."""

    nodes: list[tuple[str, tuple[Any, ...]]] = field(default_factory=list)
    _index: dict[str, Ref] = field(default_factory=dict)

    def call(self, tool: str, *args: Any, once: bool = False) -> Ref:
        key = json.dumps([tool, _plain(args)], ensure_ascii=False)
        if once and key in self._index:
            return self._index[key]
        self.nodes.append((tool, args))
        ref = Ref(len(self.nodes) - 1)
        if once:
            self._index[key] = ref
        return ref

    def email(self, person: str) -> Ref | str:
        """The address: typed in the query (no look-up), else looked up once (a group by its lookup name)."""
        if "@" in person:
            return person
        return self.call("get_email_address", pools.GROUP_LOOKUP.get(person, person), once=True)

    def phone(self, person: str) -> Ref | str:
        if person[:1].isdigit() or person[:1] in "+(":
            return person
        return self.call("get_phone_number", pools.GROUP_LOOKUP.get(person, person), once=True)

    def values(self) -> list[str]:
        """Every string argument of the plan so far: the slot values a rephrasing must leave alone."""
        out: list[str] = []
        for _, args in self.nodes:
            _map_strings(args, lambda v: out.append(v) or v)
        return out

    def lowercase(self) -> None:
        """Every string argument in lower case: the plan copies a query typed all in lower case."""
        self.nodes = [(tool, _map_strings(args, str.lower)) for tool, args in self.nodes]

    def file(self, name: str) -> Ref:
        return self.call("open_and_get_file_path", name, once=True)

    def render(self) -> str:
        roots = [i for i, (_, args) in enumerate(self.nodes) if not _refs(args)]
        order = roots + [i for i in range(len(self.nodes)) if i not in set(roots)]
        number = {node: k for k, node in enumerate(order, 1)}
        lines = [
            f"{number[i]}. {self.nodes[i][0]}({', '.join(_lit(a, number) for a in self.nodes[i][1])})"
            for i in order
        ]
        return "\n".join([*lines, f"{len(order) + 1}. join(){END_OF_PLAN}"])


def _map_strings(value: Any, fn: Callable[[str], str]) -> Any:
    """`value` with `fn` applied to every string in it (lists and tuples walked, references kept)."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, (list, tuple)):
        return type(value)(_map_strings(v, fn) for v in value)
    return value


def _refs(value: Any) -> bool:
    if isinstance(value, Ref):
        return True
    return isinstance(value, (list, tuple)) and any(_refs(v) for v in value)


def _plain(value: Any) -> Any:
    if isinstance(value, Ref):
        return f"<{value.node}>"
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _lit(value: Any, number: dict[int, int]) -> str:
    if isinstance(value, Ref):
        return f'"${number[value.node]}"'
    if isinstance(value, list):
        return "[" + ", ".join(_lit(v, number) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


# ------------------------------------------------------------------------------------------------ intents


@dataclass
class Ctx:
    rng: random.Random
    split: str
    today: dt.date
    plan: PlanBuilder
    used: list[str] = field(default_factory=list)  # template ids, for the diversity report
    named: list[str] = field(default_factory=list)  # the people the latest request named

    @property
    def ood(self) -> bool:
        return self.split == "ood"

    def template(self, intent: str, items: Sequence[Any]) -> Any:
        i, t = _pick(self.rng, items, self.ood)
        self.used.append(f"{intent}:{i}")
        return t

    def people(self, lo: int = 1, hi: int = 3, cc: bool = False) -> list[str]:
        """1 to 3 people (or a group), or, sometimes, those an earlier request named (`Them`); a cc is never
        a pronoun and is never what a later "them" means."""
        if self.named and not cc and len(self.named) <= hi and self.rng.random() < 0.2:
            return Them(self.named)  # the people an earlier request named: "... and text them the link"
        pool = pools.people(self.split)
        chosen = list(dict.fromkeys(self.rng.choice(pool) for _ in range(self.rng.randint(lo, hi))))
        # sometimes a person is named by first name only, as users do ("Sid")
        chosen = [p.split()[0] if self.rng.random() < 0.15 else p for p in chosen]
        if self.rng.random() < 0.07:  # a group or a role instead of a person ("the design team")
            chosen[-1] = self.rng.choice(pools.groups(self.split))
        chosen = list(dict.fromkeys(chosen))
        if not cc:
            self.named = chosen
        return chosen

    def typed(self, people: list[str], kind: str) -> list[str]:
        """Sometimes the first recipient's number or address is typed in the query: no look-up then."""
        if self.rng.random() < 0.1:
            literal = pools.email_address if kind == "email" else pools.phone_number
            people = [literal(self.rng, self.split), *people[1:]]
            self.named = []  # "them" never means a typed number or address
        return people

    def one(self, pool: Callable[[str], Any]) -> str:
        return self.rng.choice(list(pool(self.split)))


class Them(list):
    """People named by an earlier request of the same query, written as a pronoun (the plan looks them up
    once and uses the look-up for both requests)."""


def names(people: list[str]) -> str:
    if isinstance(people, Them):
        return "them"
    return people[0] if len(people) == 1 else ", ".join(people[:-1]) + " and " + people[-1]


def subject_title(subject: str) -> str:
    words = re.sub(r"^(the|our|next week's|tomorrow's)\s+", "", subject).strip()
    return words[:1].upper() + words[1:]


EMAIL = [
    "email {P} about {S}",
    "send an email to {P} about {S}",
    "write to {P} regarding {S}",
    "shoot {P} an email about {S}",
    "draft an email to {P} on {S}",
    "compose a mail to {P} about {S}",
    "email {P} with an update on {S}",
    "send {P} a message by email about {S}",
    "fire off an email to {P} concerning {S}",
    "get an email out to {P} re {S}",
]


EMAIL_FILES = [  # the files are what is sent: attachments without the word "attach"
    "email {P} {F}",
    "send {P} {F}",
    "send {F} to {P}",
    "email {F} to {P}",
    "get {F} over to {P}",
    "mail {P} {F}",
    "can you send {P} {F}",
    "share {F} with {P} by email",
    "mail {P} a copy of {F}",
]


def _file_stem(name: str) -> str:
    return name.rsplit(".", 1)[0]


def intent_email(c: Ctx) -> str:
    if c.rng.random() < 0.15:
        return _intent_email_files(c)
    to, subject = c.typed(c.people(), "email"), c.one(pools.subjects)
    clause = c.template("email", EMAIL).format(P=names(to), S=subject)
    cc = c.people(1, 1, cc=True) if c.rng.random() < 0.3 else []
    if cc:
        clause += c.rng.choice([" and cc {C}", ", copying {C}"] if not c.ood else [" with {C} on cc"]).format(
            C=cc[0]
        )
    attach = [c.one(pools.files)] if c.rng.random() < 0.3 else []
    if attach:
        clause += c.rng.choice(
            [" and attach {F}", " with {F} attached"] if not c.ood else [", including {F} as an attachment"]
        ).format(F=attach[0])
    c.plan.call(
        "compose_new_email",
        [c.plan.email(p) for p in to],
        [c.plan.email(p) for p in cc],
        subject_title(subject),
        "",
        [c.plan.file(f) for f in attach],
    )
    return clause


REPLY = [
    "reply to this email",
    "respond to the email I have open",
    "answer the selected email",
    "write back to this email",
    "reply to the current email",
    "send a reply to this message",
    "hit reply on this email",
    "get back to the sender of this email",
]
SAYING = [" saying {M}", " to say {M}", " and tell them {M}", ": {M}"]


def _intent_email_files(c: Ctx) -> str:
    to = c.typed(c.people(1, 2), "email")
    files = list(dict.fromkeys(c.one(pools.files) for _ in range(c.rng.randint(1, 2))))
    c.plan.call(
        "compose_new_email",
        [c.plan.email(p) for p in to],
        [],
        " and ".join(_file_stem(f) for f in files),
        "",
        [c.plan.file(f) for f in files],
    )
    return c.template("email_files", EMAIL_FILES).format(P=names(to), F=names(files))


def intent_reply(c: Ctx) -> str:
    clause = c.template("reply", REPLY)
    message = c.one(pools.messages) if c.rng.random() < 0.6 else ""
    if message:
        clause += (
            c.template("saying", SAYING).format(M=message) if not c.ood else f" letting them know {message}"
        )
    cc = c.people(1, 1, cc=True) if c.rng.random() < 0.3 else []
    if cc:
        clause += f" and cc {cc[0]}" if not c.ood else f", with {cc[0]} copied"
    attach = [c.one(pools.files)] if c.rng.random() < 0.25 else []
    if attach:
        clause += f" with {attach[0]} attached" if not c.ood else f", including {attach[0]}"
    c.plan.call("reply_to_email", [c.plan.email(p) for p in cc], message, [c.plan.file(f) for f in attach])
    return clause


FORWARD = [
    "forward this email to {P}",
    "pass this email on to {P}",
    "send this email along to {P}",
    "forward the selected message to {P}",
    "share this email with {P}",
    "fwd this to {P}",
    "bounce this email over to {P}",
    "loop {P} in by forwarding this email",
]


def intent_forward(c: Ctx) -> str:
    to = c.people(1, 2)
    clause = c.template("forward", FORWARD).format(P=names(to))
    cc = c.people(1, 1, cc=True) if c.rng.random() < 0.25 else []
    if cc:
        clause += f" and cc {cc[0]}" if not c.ood else f", with {cc[0]} copied"
    c.plan.call("forward_email", [c.plan.email(p) for p in to], [c.plan.email(p) for p in cc], "", [])
    return clause


SMS = [
    "text {P} that {M}",
    "send {P} a message saying {M}",
    "let {P} know by text that {M}",
    "message {P}: {M}",
    "send a text to {P} saying {M}",
    "sms {P} that {M}",
    "tell {P} via text that {M}",
    "drop {P} a quick text: {M}",
    "ping {P} over SMS to say {M}",
]


def intent_sms(c: Ctx) -> str:
    to, message = c.typed(c.people(1, 2), "phone"), c.one(pools.messages)
    c.plan.call("send_sms", [c.plan.phone(p) for p in to], message)
    return c.template("sms", SMS).format(P=names(to), M=message)


EVENT = [
    "schedule a {T} with {P} {D} {H}",
    "set up a meeting called {T} with {P} {D} {H}",
    "put a {T} with {P} on my calendar {D} {H}",
    "create a calendar event '{T}' with {P} {D} {H}",
    "book a {T} with {P} {D} {H}",
    "add a {T} with {P} to my calendar {D} {H}",
    "invite {P} to a {T} {D} {H}",
    "organize a {T} with {P} {D} {H}",
    "create a calendar invite with {P} {F} {H} about the {T}",
    "send {P} an invite for a {T} {D} {H}",
    "pencil in a {T} with {P} {D} {H}",
    "get a {T} with {P} on the books {D} {H}",
]
# Meetings without a title, as people ask for them ("Create a meeting with Sid and Lutfi for tomorrow 2pm"): the
# plan names the event by its kind. {F} is the day after "for" ("for tomorrow", "for Monday", "in 3 days").
EVENT_UNTITLED = [
    ("create a meeting with {P} {F} {H}", "Meeting"),
    ("set up a meeting with {P} {D} {H}", "Meeting"),
    ("schedule a call with {P} {D} {H}", "Call"),
    ("put a meeting with {P} on my calendar {D} {H}", "Meeting"),
    ("I need to meet {P} {D} {H}, add it to my calendar", "Meeting"),
    ("create an event with {P} {F} {H}", "Event"),
    ("book time with {P} {F} {H}", "Meeting"),
    ("make a meeting w {P} {D} {H}", "Meeting"),
    ("set a call with {P} {F} {H}", "Call"),
]
EVENT_ALONE = [
    "block my calendar {D} {H} for a {T}",
    "create an event called {T} {D} {H}",
    "add {T} to my calendar {D} {H}",
    "schedule {T} {D} {H}",
    "reserve time {D} {H} for {T}",
    "mark {D} {H} as {T} in my calendar",
]


def _when(c: Ctx) -> tuple[str, str, str, str, int]:
    """(day phrase, time phrase, start, end, minutes) of a timed event."""
    dp, day = date_phrase(c.rng, c.today, c.ood)
    tp, time = time_phrase(c.rng, c.ood)
    minutes = 60
    start = dt.datetime.combine(day, time)
    end = start + dt.timedelta(minutes=minutes)
    return dp, tp, iso(day, time), end.strftime("%Y-%m-%d %H:%M:%S"), minutes


def for_day(day_phrase: str) -> str:
    """The day as it reads after "for": "for tomorrow", "for Monday", "for June 3"; "in 3 days" stays."""
    if day_phrase.startswith("in "):
        return day_phrase
    return "for " + day_phrase.removeprefix("on ")


def intent_event(c: Ctx) -> str:
    title = c.one(pools.titles)
    who = c.people(1, 3) if c.rng.random() < 0.75 else []
    dp, tp, start, end, _ = _when(c)
    if c.rng.random() < 0.4:
        phrase, minutes = duration_phrase(c.rng, c.ood)
        end = (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        tp += " " + phrase
    if not who:
        template = c.template("event_alone", EVENT_ALONE)
    elif c.rng.random() < 0.25:
        template, title = c.template("event_untitled", EVENT_UNTITLED)
    else:
        template = c.template("event", EVENT)
    clause = template.format(T=title, P=names(who) if who else "", D=dp, F=for_day(dp), H=tp)
    location = c.one(pools.places) if c.rng.random() < 0.3 else ""
    if location:
        clause += f" at {location}" if not c.ood else f", venue {location}"
    c.plan.call(
        "create_calendar_event", title, start, end, location, [c.plan.email(p) for p in who], "", None
    )
    return clause


ZOOM = [
    "create a zoom meeting about {T} with {P} {D} {H} for {N} minutes",
    "set up a zoom call on {T} with {P} {D} {H}, {N} minutes long",
    "make a {N}-minute zoom meeting about {T} with {P} {D} {H}",
    "get a zoom link for a {T} with {P} {D} {H} ({N} minutes)",
    "spin up a zoom call about {T} with {P} {D} {H} for {N} minutes",
    "arrange a video call on zoom regarding {T} with {P} {D} {H}, {N} min",
]
ZOOM_SHARE = {
    "calendar": [
        "and put it on my calendar",
        "and add it to my calendar with the link",
        "then block it on my calendar",
        "and save it to the calendar too",
    ],
    "email": [
        "and email them the link",
        "and send everyone the link by email",
        "then mail the invite link to them",
        "and get the link to them over email",
    ],
}


def intent_zoom(c: Ctx) -> str:
    topic, who = c.one(pools.titles), c.people(1, 3)
    dp, tp, start, _, _ = _when(c)
    minutes = c.rng.choice([15, 30, 45, 60, 90])
    end = (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
    emails = [c.plan.email(p) for p in who]
    link = c.plan.call("get_zoom_meeting_link", topic, start, minutes, emails)
    share = c.rng.choice(["calendar", "email"])
    if share == "calendar":
        c.plan.call("create_calendar_event", topic, start, end, "", emails, link, None)
    else:
        c.plan.call("compose_new_email", emails, [], topic, link, [])
    clause = c.template("zoom", ZOOM).format(T=topic, P=names(who), D=dp, H=tp, N=minutes)
    return clause + " " + c.template(f"zoom_{share}", ZOOM_SHARE[share])


def _items(c: Ctx) -> str:
    items = list(dict.fromkeys(c.rng.choice(pools.note_items(c.split)) for _ in range(c.rng.randint(1, 3))))
    return names(items)


NOTE_NEW = [
    "create a note called {N} with {C}",
    "make a new note '{N}' listing {C}",
    "start a note named {N}: {C}",
    "write down {C} in a new note called {N}",
    "jot down {C} in a note titled {N}",
    "save a note '{N}' that says {C}",
    "open a fresh note, {N}, containing {C}",
    "put {C} into a brand-new note called {N}",
]
NOTE_OPEN = [
    "open my {N} note",
    "show me the note called {N}",
    "pull up my {N} note",
    "what's in my {N} note",
    "open the note {N}",
    "display my {N} note",
    "bring up the {N} note",
    "let me see my note named {N}",
]
NOTE_ADD = [
    "add {C} to my {N} note",
    "append {C} to the note {N}",
    "put {C} on my {N} note",
    "update my {N} note with {C}",
    "include {C} in the {N} note",
    "write {C} at the end of my {N} note",
    "tack {C} onto the {N} note",
    "throw {C} into my {N} note",
]


def _folder(c: Ctx) -> tuple[str, str]:
    if c.rng.random() < 0.3:
        f = c.one(pools.folders)
        return f, (f" in my {f} folder" if not c.ood else f" under {f}")
    return "", ""


def intent_note_new(c: Ctx) -> str:
    name, content = c.one(pools.note_names), _items(c)
    folder, where = _folder(c)
    c.plan.call("create_note", name, content, folder)
    return c.template("note_new", NOTE_NEW).format(N=name, C=content) + where


def intent_note_open(c: Ctx) -> str:
    name = c.one(pools.note_names)
    folder, where = _folder(c)
    c.plan.call("open_note", name, folder)
    return c.template("note_open", NOTE_OPEN).format(N=name) + where


def intent_note_add(c: Ctx) -> str:
    name, content = c.one(pools.note_names), _items(c)
    folder, where = _folder(c)
    c.plan.call("append_note_content", name, content, folder)
    return c.template("note_add", NOTE_ADD).format(N=name, C=content) + where


REMIND = [
    "remind me to {K} {D} {H}",
    "set a reminder to {K} {D} {H}",
    "create a reminder to {K} {D} {H}",
    "don't let me forget to {K} {D} {H}",
    "add a reminder: {K}, {D} {H}",
    "I need a reminder to {K} {D} {H}",
    "nudge me to {K} {D} {H}",
    "make sure I remember to {K} {D} {H}",
]


def intent_reminder(c: Ctx) -> str:
    task = c.one(pools.tasks)
    dp, day = date_phrase(c.rng, c.today, c.ood)
    all_day = c.rng.random() < 0.3
    if all_day:
        tp, due = "", day.isoformat()
    else:
        tp, time = time_phrase(c.rng, c.ood)
        due = iso(day, time)
    clause = c.template("remind", REMIND).format(K=task, D=dp, H=tp).replace("  ", " ").rstrip(", ")
    lst = ""
    if c.rng.random() < 0.25:
        lst = c.one(pools.reminder_lists)
        clause += f" in my {lst} list" if not c.ood else f", filed under {lst}"
    c.plan.call("create_reminder", task[:1].upper() + task[1:], due, "", lst, 0, all_day)
    return clause


MAP_OPEN = [
    "show me {L} on the map",
    "open {L} in Maps",
    "find {L} on the map",
    "pull up {L} in Apple Maps",
    "show {L} in Maps",
    "open Maps at {L}",
    "drop a pin on {L}",
    "look up {L} on the map",
]
DIRECTIONS = [
    "get directions from {A} to {B}",
    "how do I get from {A} to {B}",
    "show me the route from {A} to {B}",
    "navigate from {A} to {B}",
    "find a way from {A} to {B}",
    "directions from {A} to {B}",
    "plot a route from {A} to {B}",
    "what's the best way to {B} from {A}",
]
DIRECTIONS_HERE = [
    "get directions to {B}",
    "how do I get to {B}",
    "show me the way to {B}",
    "navigate to {B}",
    "take me to {B}",
    "route me to {B}",
    "guide me over to {B}",
    "point me toward {B}",
]
MODES = {
    "w": ["on foot", "walking", "by walking"],
    "r": ["by public transit", "by bus", "by train"],
    "d": ["by car", "driving", "behind the wheel"],
}


def intent_map(c: Ctx) -> str:
    place = c.one(pools.places)
    c.plan.call("maps_open_location", place)
    return c.template("map_open", MAP_OPEN).format(L=place)


def intent_directions(c: Ctx) -> str:
    a, b = c.one(pools.places), c.one(pools.places)
    here = a == b or c.rng.random() < 0.4
    clause = (
        c.template("directions_here", DIRECTIONS_HERE).format(B=b)
        if here
        else c.template("directions", DIRECTIONS).format(A=a, B=b)
    )
    mode = "d"
    if c.rng.random() < 0.6:
        mode = c.rng.choice("wrd")
        clause += " " + c.rng.choice(MODES[mode][:2] if not c.ood else MODES[mode][2:])
    c.plan.call("maps_show_directions", "" if here else a, b, mode)
    return clause


SUMMARY = [
    "summarize {F}",
    "give me a summary of {F}",
    "what is {F} about",
    "sum up {F} for me",
    "write a short summary of {F}",
    "tell me what {F} says",
    "boil {F} down for me",
    "give me the gist of {F}",
]
SUMMARY_SHARE = {
    "email": ["and email the summary to {P}", "then send the summary to {P} by email", "and mail it to {P}"],
    "note": [
        "and save it in a note called {N}",
        "then put the summary in a new note named {N}",
        "and keep it in a note titled {N}",
    ],
    "sms": ["and text the summary to {P}", "then send it to {P} as a text", "and message it to {P}"],
}


def intent_summary(c: Ctx) -> str:
    file = c.rng.choice([f for f in pools.files(c.split) if f.endswith(".pdf")])
    summary = c.plan.call("summarize_pdf", c.plan.file(file))
    clause = c.template("summary", SUMMARY).format(F=file)
    share = c.rng.choice(["", "", "email", "note", "sms"])
    if share == "email":
        to = c.people(1, 2)
        c.plan.call(
            "compose_new_email",
            [c.plan.email(p) for p in to],
            [],
            f"Summary of {_file_stem(file)}",
            summary,
            [],
        )
        clause += " " + c.template(
            "summary_email", SUMMARY_SHARE["email"] + ["and pass it to {P} over email"]
        ).format(P=names(to))
    elif share == "note":
        name = c.one(pools.note_names)
        c.plan.call("create_note", name, summary, "")
        clause += " " + c.template(
            "summary_note", SUMMARY_SHARE["note"] + ["and file it as a note, {N}"]
        ).format(N=name)
    elif share == "sms":
        to = c.people(1, 1)
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], summary)
        clause += " " + c.template(
            "summary_sms", SUMMARY_SHARE["sms"] + ["and shoot it to {P} by SMS"]
        ).format(P=names(to))
    return clause


SHARE_PLACE = {  # the phrasing names the channel, and the plan follows it
    "sms": [
        "text {P} where {L} is",
        "send {P} the location of {L} by text",
        "text {P} a map link to {L}",
        "let {P} know by SMS where {L} is",
        "message {P} the spot on the map for {L}",
        "beam {P} a map pin for {L} over text",
        "shoot {P} a text with the location of {L}",
    ],
    "email": [
        "email {P} the location of {L}",
        "send {P} a map link to {L} by email",
        "share {L} on the map with {P} over email",
        "mail {P} where {L} is",
        "email {P} a map pin for {L}",
        "put the map location of {L} in an email to {P}",
        "drop {P} an email with a map of {L}",
    ],
}


def intent_share_place(c: Ctx) -> str:
    who, place = c.people(1, 1), c.one(pools.places)
    channel = c.rng.choice(["sms", "email"])
    link = c.plan.call("maps_open_location", place)
    if channel == "email":
        c.plan.call("compose_new_email", [c.plan.email(who[0])], [], f"Location of {place}", link, [])
    else:
        c.plan.call("send_sms", [c.plan.phone(who[0])], link)
    return c.template(f"share_place_{channel}", SHARE_PLACE[channel]).format(P=who[0], L=place)


OPEN_FILE = [
    "open {F}",
    "find {F} and open it",
    "pull up {F}",
    "open the file {F}",
    "locate {F} for me",
    "bring up {F}",
    "dig up {F}",
    "fetch {F} and open it",
]


def intent_open_file(c: Ctx) -> str:
    file = c.one(pools.files)
    c.plan.file(file)
    return c.template("open_file", OPEN_FILE).format(F=file)


LOOKUP = {  # a question or request for a contact detail: the look-up is the whole plan for it
    "phone": [
        "what's {P}'s number",
        "what is {P}'s phone number",
        "find {P}'s phone number",
        "look up {P}'s cell",
        "get me {P}'s number",
        "do you have {P}'s number",
        "what's the number for {P}",
        "I need {P}'s digits",
        "{P}'s mobile number?",
    ],
    "email": [
        "what's {P}'s email",
        "what is the email address of {P}",
        "find {P}'s email address",
        "look up {P}'s email",
        "get me {P}'s email",
        "what's the email for {P}",
        "which address does {P} use for email",
        "{P}'s email address?",
        "I need the mail address of {P}",
    ],
}


def intent_lookup(c: Ctx) -> str:
    who, kind = c.people(1, 1)[0], c.rng.choice(["phone", "email"])
    c.plan.phone(who) if kind == "phone" else c.plan.email(who)
    return c.template(f"lookup_{kind}", LOOKUP[kind]).format(P=who)


NOTE_SHARE = {  # a note's text is what is sent: open_note's output is the body
    "email": [
        "email {P} my {N} note",
        "send my {N} note to {P} by email",
        "mail {P} what's in my {N} note",
        "forward my {N} note to {P} over email",
        "send {P} the {N} note as an email",
        "put my {N} note in an email to {P}",
        "email the contents of my {N} note to {P}",
    ],
    "sms": [
        "text {P} my {N} note",
        "send {P} my {N} note as a text",
        "message {P} what's on my {N} note",
        "text the {N} note to {P}",
        "send the {N} note to {P} by text",
        "sms {P} the {N} note",
        "shoot {P} my {N} note over text",
    ],
}


def intent_note_share(c: Ctx) -> str:
    name, channel = c.one(pools.note_names), c.rng.choice(["email", "sms"])
    to = c.people(1, 2)
    note = c.plan.call("open_note", name, "")
    if channel == "email":
        c.plan.call("compose_new_email", [c.plan.email(p) for p in to], [], name, note, [])
    else:
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], note)
    return c.template(f"note_share_{channel}", NOTE_SHARE[channel]).format(P=names(to), N=name.lower())


INTENTS: dict[str, Callable[[Ctx], str]] = {
    "email": intent_email,
    "reply": intent_reply,
    "forward": intent_forward,
    "sms": intent_sms,
    "event": intent_event,
    "zoom": intent_zoom,
    "note_new": intent_note_new,
    "note_open": intent_note_open,
    "note_add": intent_note_add,
    "reminder": intent_reminder,
    "map": intent_map,
    "directions": intent_directions,
    "summary": intent_summary,
    "share_place": intent_share_place,
    "open_file": intent_open_file,
    "lookup": intent_lookup,
    "note_share": intent_note_share,
}
ALONE_ONLY = {"open_file"}  # a bare look-up: only a query of its own
# Held-out intent pairs: queries that combine them appear only in the ood split.
HELD_OUT_PAIRS = {
    frozenset(p) for i, p in enumerate(itertools.combinations(sorted(INTENTS), 2)) if i % 9 == 4
}

CONNECTIVES = [
    " and ",
    ", then ",
    ". Also, ",
    ". After that, ",
    " and also ",
    ", and then ",
    ". Then ",
    ". Finally, ",
    "; ",
]
OOD_CONNECTIVES = [" plus ", "; afterwards ", ". On top of that, "]
OPENERS = ["", "", "", "please ", "can you ", "could you ", "I need you to ", "hey, "]
OOD_OPENERS = ["", "would you kindly ", "quick favor: "]


def _choose_intents(rng: random.Random, ood: bool) -> list[str]:
    k = rng.choices([1, 2, 3, 4], weights=[30, 35, 23, 12])[0]
    while True:
        names_ = rng.sample(sorted(INTENTS), k)
        if k > 1 and ALONE_ONLY & set(names_):
            continue
        held = any(frozenset(p) in HELD_OUT_PAIRS for p in itertools.combinations(names_, 2))
        if held and not ood:
            continue
        return names_


def compose(
    rng: random.Random, split: str, today: dt.date
) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """One (query, plan text, template ids, (intent, clause skeleton) pairs) for a split. About half the
    queries are written as the templates write them; the rest casually or with typos (`phrasing`)."""
    ood = split == "ood"
    ctx = Ctx(rng, split, today, PlanBuilder())
    chosen = _choose_intents(rng, ood)
    clauses = [INTENTS[name](ctx) for name in chosen]
    register = phrasing.choose_register(rng)
    if register != "plain":
        values = ctx.plan.values()
        lower = rng.random() < 0.5  # names and values typed in lower case too: the plan copies them so
        clauses = [phrasing.realize(rng, clause, values, register, ood, lower) for clause in clauses]
        query = phrasing.join_clauses(rng, clauses, ood)
        if lower:
            ctx.plan.lowercase()
        return query, ctx.plan.render(), ctx.used, _skeletons(chosen, clauses, values)
    opener = rng.choice(OOD_OPENERS if ood else OPENERS)
    if re.match(
        r"(what|how|I need|don't|make sure|tell me|which|find|look up|get me|do you)\b", clauses[0]
    ) or (clauses[0].endswith("?")):
        opener = ""  # these clauses are not imperatives: "could you what is ..." is not English
    query = opener + clauses[0]
    for clause in clauses[1:]:
        query += rng.choice(OOD_CONNECTIVES if ood else CONNECTIVES) + clause
    query = re.sub(r"([.!?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), query)
    query = query[:1].upper() + query[1:]
    if not query.endswith("?"):
        query += (
            "?"
            if re.match(r"(can|could|would|do) you|what|how|which", query, re.IGNORECASE)
            and len(clauses) == 1
            else "."
        )
    return query, ctx.plan.render(), ctx.used, _skeletons(chosen, clauses, ctx.plan.values())


def _skeletons(intents: list[str], clauses: list[str], values: list[str]) -> list[tuple[str, str]]:
    return [(i, skeleton(c, values)) for i, c in zip(intents, clauses, strict=True)]


def random_today(rng: random.Random) -> dt.date:
    return dt.date(2024, 1, 1) + dt.timedelta(rng.randrange(730))
