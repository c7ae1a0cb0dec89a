"""Requests as people type them to an assistant, composed from parts (issue 16, lever 1).

The offline teacher (`offline`) says each request with one of about eight whole-clause templates, and its
queries run long (two to four requests joined by "then", "also", "after that"). People write short lines, one
or two requests, in many shapes the templates never take: "tl;dr of the board minutes pdf pls", "zoom w/ Ana
tmrw 8am, 1 hour", "remind me to call the bank" (no time), "email Gabe the photos from saturday" (a document
named the way one says it, not `Photos 2024.pdf`), "text him the link", "reply thanks and forward it to
Dmitri".

Here each request is composed from parts: a verb phrase (several per intent), the way its object is named (a
file as "the lease pdf", "my resume", "Lease Agreement.pdf"; a person, a group, a typed number; a pronoun for
someone already named), the argument order (recipient first or object first), optional modifiers (a time or
none, a duration, a list, a cc) and a question or an imperative; `phrasing` then adds the casual register,
abbreviations and typos, as for the template queries. The plan is built by the same `PlanBuilder` under
TinyAgent's rules. Plan shapes the templates never write are here too: a Zoom link alone or sent by text, a
reply that is also forwarded, a reply carrying a note or a Zoom link, directions sent on or saved in a note, a
summary sent by text, two files opened, a contact's number and address asked together, reminders without a
time, events without guests.

Every list of parts keeps its last two entries (and `pools`' every fifth value) for `ood`, so ood still holds
out phrasings as well as entities.

    >>> q, plan, ids, clauses = compose(random.Random(3), "train", dt.date(2024, 6, 12))
    >>> plan.endswith("join()<END_OF_PLAN>") and len(clauses) >= 1
    True
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import re
from collections.abc import Callable, Sequence
from typing import Any

from workbench.synth import phrasing, pools
from workbench.synth.offline import (
    OOD_OPENERS,
    OPENERS,
    Ctx,
    PlanBuilder,
    Them,
    _pick,
    _skeletons,
    date_phrase,
    iso,
    names,
    time_phrase,
)

#: Share of the offline dataset written by this module (the rest by the templates of `offline`).
SHARE = 0.5
#: Requests per query: people mostly ask for one or two things at a time.
REQUESTS_PER_QUERY = ([1, 2, 3, 4], [55, 33, 9, 3])


def pick(c: Ctx, key: str, items: Sequence[Any]) -> Any:
    """One part from `items` (the last two held out for ood), recorded for the diversity report."""
    i, item = _pick(c.rng, items, c.ood)
    c.used.append(f"everyday:{key}:{i}")
    return item


# ------------------------------------------------------------------------------------- how things are named


def folks(c: Ctx, most: int = 2, cc: bool = False) -> list[str]:
    """One person (sometimes up to `most`, now and then one more: "Ines, Tariq and Mei-Ling"), often by first
    name as people write them, or the people a pronoun stands for."""
    r = c.rng.random()
    chosen = c.people(1, 1 if r >= 0.3 else most + 1 if r < 0.06 and most > 1 else most, cc=cc)
    if isinstance(chosen, Them):
        return chosen
    first = [p.split()[0] if " " in p and p[:1].isupper() and c.rng.random() < 0.45 else p for p in chosen]
    first = list(dict.fromkeys(first))
    if not cc:
        c.named = first
    return first


def cc_folks(c: Ctx) -> list[str]:
    """Whom an email copies: a person, now and then an address typed in the query (no look-up then)."""
    if c.rng.random() < 0.15:
        return [pools.email_address(c.rng, c.split)]
    return folks(c, 1, cc=True)


def who(c: Ctx, people: list[str]) -> str:
    """People as the request names them; someone named earlier in the query as a pronoun."""
    if not people:
        return ""
    if isinstance(people, Them):
        return "them" if len(people) > 1 else c.rng.choice(["him", "her", "them"])
    return names(people)


DOC_KINDS = (["pdf", "doc", "file", "spreadsheet", "deck", "document"], ["sheet", "PDF file"])


def file_ref(c: Ctx, pdf: bool = False) -> tuple[str, str]:
    """(how the query names a document, the name the plan looks up)."""
    topics = [t.lower() for t in pools.file_topics(c.split)] + pools.doc_nouns(c.split)
    form = c.rng.choice(
        ["the_kind", "the", "my", "exact", "my_kind"] if not pdf else ["the_kind", "exact", "my_kind"]
    )
    if form == "exact":
        name = c.rng.choice([f for f in pools.files(c.split) if f.endswith(".pdf") or not pdf])
        return name, name
    topic = c.rng.choice(topics)
    kind = "pdf" if pdf and c.rng.random() < 0.8 else c.rng.choice(phrasing.part(DOC_KINDS, c.ood))
    phrase = {
        "the_kind": f"the {topic} {kind}",
        "the": f"the {topic}",
        "my": f"my {topic}",
        "my_kind": f"my {topic} {kind}",
    }[form]
    return phrase, topic


# Times of day as people say them, and the hour the plan writes (the last two held out for ood).
VAGUE_TIMES = [
    ("in the morning", 9),
    ("this afternoon", 15),
    ("in the evening", 18),
    ("tonight", 20),
    ("first thing", 8),
    ("after lunch", 13),
    ("at lunch", 12),
    ("end of day", 17),
]


def day_time(c: Ctx, optional: bool = False) -> tuple[str, str | None, dt.date]:
    """(the words, the ISO time or None, the day): "tmrw at 5pm", "friday in the evening", or nothing."""
    if optional and c.rng.random() < 0.35:
        return "", None, c.today
    dp, day = date_phrase(c.rng, c.today, c.ood)
    dp = dp.removeprefix("on ") if c.rng.random() < 0.5 else dp
    if c.rng.random() < 0.15:
        words, hour = pick(c, "vague_time", VAGUE_TIMES)
        if words in ("this afternoon", "tonight"):
            day, dp = c.today, ""  # "this afternoon" is today
        return f"{dp} {words}".strip(), iso(day, dt.time(hour)), day
    tp, time = time_phrase(c.rng, c.ood)
    order = c.rng.random() < 0.7
    return (f"{dp} {tp}" if order else f"{tp} {dp}"), iso(day, time), day


def quoted(c: Ctx, text: str) -> str:
    """Free text now and then in quotes, as people mark what to write ("add 'oil change' to my car note"); the
    plan's value has no quotes."""
    r = c.rng.random()
    return f"'{text}'" if r < 0.15 else f'"{text}"' if r < 0.2 else text


def with_time(clause: str, when: str, front: bool) -> str:
    if not when:
        return clause
    return f"{when} {clause}" if front else f"{clause} {when}"


# ------------------------------------------------------------------------------------------------- requests


def req_sms(c: Ctx) -> str:
    to, message = c.typed(folks(c), "phone"), c.one(pools.messages)
    c.plan.call("send_sms", [c.plan.phone(p) for p in to], message)
    verb = pick(
        c,
        "sms_verb",
        [
            "text {P}",
            "msg {P}",
            "send {P} a text",
            "shoot {P} a text",
            "txt {P}",
            "let {P} know by text",
            "tell {P} by text",
            "text {P} back",
            "sms {P}",
            "send a quick text to {P}",
            "drop {P} a line by text",
        ],
    )
    link = pick(c, "sms_link", [" ", " that ", ": ", " saying ", " - ", " to say "])
    return (
        verb.format(P=who(c, to))
        + link
        + (message if link.strip() in ("that", "to say") else quoted(c, message))
    )


def req_lookup(c: Ctx) -> str:
    person = folks(c, 1)[0]
    kinds = c.rng.choice([["phone"], ["email"], ["phone", "email"]])
    for kind in kinds:
        c.plan.phone(person) if kind == "phone" else c.plan.email(person)
    if len(kinds) == 2:
        return pick(
            c,
            "lookup_both",
            [
                "what's {P}'s number and email",
                "get me {P}'s phone and email",
                "find {P}'s email and her phone number",
                "{P}'s cell and email address?",
                "look up {P}'s contact info, number and email",
                "i need {P}'s email + number",
                "{P} - phone number and email pls",
            ],
        ).format(P=person)
    what = {
        "phone": ["number", "phone number", "cell", "mobile"],
        "email": ["email", "email address", "email addy"],
    }
    form = pick(
        c,
        "lookup",
        [
            "what's {P}'s {W}?",
            "whats {P}'s {W}",
            "{P}'s {W}?",
            "find {P}'s {W}",
            "do i have {P}'s {W}",
            "can you look up {P}'s {W}",
            "what {W} does {P} use",
            "send me {P}'s {W}",
            "need {P}'s {W}",
            "who's {P}, whats their {W}",
        ],
    )
    return form.format(P=person, W=c.rng.choice(what[kinds[0]]))


def req_email(c: Ctx) -> str:
    to = c.typed(folks(c), "email")
    cc = cc_folks(c) if c.rng.random() < 0.2 else []
    shape = c.rng.choice(["files", "files", "about", "saying", "subject"])
    files = []
    if shape == "files":
        refs = [file_ref(c) for _ in range(c.rng.choice([1, 1, 1, 2]))]
        files = [arg for _, arg in refs]
        thing = " and ".join(phrase for phrase, _ in refs)
        clause = pick(
            c,
            "email_files",
            [
                "email {P} {F}",
                "send {F} to {P}",
                "email {F} to {P}",
                "send {P} {F} by email",
                "attach {F} and email it to {P}",
                "mail {P} {F}",
                "get {F} to {P} over email",
                "email {P} a copy of {F}",
                "open {F} and email it to {P}",
                "find {F} and send it to {P} by email",
                "share {F} w {P} via email",
                "fire {F} over to {P} by email",
            ],
        )
        clause = clause.format(P=who(c, to), F=thing)
        subject = thing
    elif shape == "about":
        subject = c.one(pools.subjects)
        clause = pick(
            c,
            "email_about",
            [
                "email {P} about {S}",
                "email {P} re {S}",
                "send {P} an email on {S}",
                "write {P} an email about {S}",
                "shoot {P} an email about {S}",
                "email {P} regarding {S}",
                "ping {P} by email about {S}",
                "drop {P} an email re: {S}",
            ],
        ).format(P=who(c, to), S=subject)
    elif shape == "subject":  # subject and body spelled out: "email Fatima, subject 'offsite', say ..."
        subject, body = c.one(pools.subjects), c.one(pools.messages)
        clause = pick(
            c,
            "email_subject",
            [
                "email {P}, subject '{S}', say {M}",
                "send {P} an email w/ subject {S}: {M}",
                "new email to {P} - subject {S} - {M}",
                "email {P} subject: {S} body: {M}",
                "write {P} an email titled '{S}' saying {M}",
            ],
        ).format(P=who(c, to), S=subject, M=body)
    else:
        subject = c.one(pools.messages)
        clause = pick(
            c,
            "email_saying",
            [
                "email {P} that {M}",
                "email {P}: {M}",
                "send {P} an email saying {M}",
                "tell {P} by email that {M}",
                "let {P} know over email {M}",
                "shoot {P} an email - {M}",
                "mail {P} to say {M}",
            ],
        ).format(P=who(c, to), M=subject)
    if cc:
        clause += pick(
            c, "cc", [" and cc {C}", ", cc {C}", " cc {C}", " + cc {C}", ", copy {C}", " with {C} in cc"]
        ).format(C=cc[0])
    c.plan.call(
        "compose_new_email",
        [c.plan.email(p) for p in to],
        [c.plan.email(p) for p in cc],
        subject[:1].upper() + subject[1:],
        "",
        [c.plan.file(f) for f in files],
    )
    return clause


def req_summary(c: Ctx) -> str:
    phrase, arg = file_ref(c, pdf=True)
    summary = c.plan.call("summarize_pdf", c.plan.file(arg))
    share = c.rng.choice(["", "", "email", "sms", "note", "append", "note_email"])
    if share == "note_email":  # one output, two uses: saved and sent
        note, to = c.one(pools.note_names), folks(c, 1)
        c.plan.call("create_note", note, summary, "")
        c.plan.call("compose_new_email", [c.plan.email(to[0])], [], f"Summary of {arg}", summary, [])
        return pick(
            c,
            "summary_note_email",
            [
                "summarize {F}, save it in a note called {N} and email it to {P}",
                "sum up {F} into a new note {N} and send it to {P} by email too",
                "put the summary of {F} in a note and email it to {P}",
                "tl;dr of {F} -> new note {N} + email to {P}",
            ],
        ).format(F=phrase, N=note, P=who(c, to))
    if not share:
        return pick(
            c,
            "summary",
            [
                "summarize {F}",
                "tl;dr of {F}",
                "what's in {F}? summarize it",
                "give me a quick summary of {F}",
                "sum up {F} pls",
                "what does {F} say",
                "can u summarize {F}",
                "key points of {F}",
                "short summary of {F}",
                "i need the gist of {F}",
                "recap {F} for me",
                "skim {F} and summarize",
            ],
        ).format(F=phrase)
    if share in ("email", "sms"):
        to = folks(c, 1)
        if share == "email":
            c.plan.call("compose_new_email", [c.plan.email(to[0])], [], f"Summary of {arg}", summary, [])
        else:
            c.plan.call("send_sms", [c.plan.phone(to[0])], summary)
        channel = {"email": ["email", "mail"], "sms": ["text", "message"]}[share]
        return pick(
            c,
            f"summary_{share}",
            [
                "summarize {F} and {V} it to {P}",
                "{V} {P} a summary of {F}",
                "send {P} the summary of {F} by {V}",
                "{V} {P} the tl;dr of {F}",
                "sum up {F}, then {V} {P} the summary",
                "{V} the key points of {F} to {P}",
            ],
        ).format(F=phrase, P=who(c, to), V=c.rng.choice(channel))
    note = c.one(pools.note_names)
    if share == "note":
        c.plan.call("create_note", note, summary, "")
        return pick(
            c,
            "summary_note",
            [
                "save the summary of {F} in a new note",
                "summarize {F} into a note called {N}",
                "make a note {N} with the summary of {F}",
                "put a summary of {F} in a new note named {N}",
                "sum up {F} and save it as a note",
                "note down the gist of {F}",
            ],
        ).format(F=phrase, N=note)
    c.plan.call("append_note_content", note, summary, "")
    return pick(
        c,
        "summary_append",
        [
            "add a summary of {F} to my {N} note",
            "summarize {F} and add it to the {N} note",
            "put the tl;dr of {F} in my {N} note",
            "append the summary of {F} to {N}",
        ],
    ).format(F=phrase, N=note.lower())


def req_open_file(c: Ctx) -> str:
    refs = [file_ref(c) for _ in range(c.rng.choice([1, 1, 1, 2]))]
    for _, arg in refs:
        c.plan.file(arg)
    thing = " and ".join(phrase for phrase, _ in refs)
    return pick(
        c,
        "open_file",
        [
            "open {F}",
            "find {F}",
            "pull up {F}",
            "where's {F}",
            "open up {F} pls",
            "can u find {F}",
            "show me {F}",
            "bring up {F}",
            "i need {F} open",
            "get me {F}",
            "look for {F}",
        ],
    ).format(F=thing)


def req_event(c: Ctx) -> str:
    title = c.one(pools.titles)
    guests = folks(c) if c.rng.random() < 0.6 else []
    when, start, day = day_time(c)
    end = (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=60)).strftime("%Y-%m-%d %H:%M:%S")
    if c.rng.random() < 0.2:  # a range: "2-4pm", "from 9 to 10:30"
        a, hours = c.rng.choice([9, 10, 11, 13, 14, 15, 16]), c.rng.choice([1, 2, 3])
        b, half = a + hours, c.rng.random() < 0.3
        end_t = dt.time(b, 30 if half else 0)
        ampm = lambda h: f"{h % 12 or 12}{'am' if h < 12 else 'pm'}"  # noqa: E731
        span = pick(
            c,
            "range",
            [
                f"{a % 12 or 12}-{ampm(b)}" if not half else f"{a % 12 or 12}-{b % 12 or 12}:30",
                f"from {a % 12 or 12} to {b % 12 or 12}{':30' if half else ''}",
                f"{ampm(a)} to {ampm(b)}" if not half else f"{ampm(a)} till {b % 12 or 12}:30",
                f"between {ampm(a)} and {b % 12 or 12}{':30' if half else ''}",
                f"{a}:00-{b}:{'30' if half else '00'}",
            ],
        )
        dp, day = date_phrase(c.rng, c.today, c.ood)
        when = f"{dp.removeprefix('on ')} {span}"
        start, end = iso(day, dt.time(a)), iso(day, end_t)
    place = c.one(pools.places) if c.rng.random() < 0.25 else ""
    c.plan.call(
        "create_calendar_event", title, start, end, place, [c.plan.email(p) for p in guests], "", None
    )
    if guests:
        form = pick(
            c,
            "event_guests",
            [
                "put a {T} w/ {P} on my cal",
                "schedule {T} with {P}",
                "set up a {T} with {P}",
                "meeting with {P} ({T})",
                "add {T} with {P} to my calendar",
                "invite {P} to {T}",
                "{T} with {P}, put it on the calendar",
                "book {T} w/ {P}",
                "calendar invite for {P}: {T}",
                "get {P} on my calendar for {T}",
                "set a {T} with {P}",
            ],
        )
    else:
        form = pick(
            c,
            "event_alone",
            [
                "put {T} on my calendar",
                "add {T}",
                "add a {T} event",
                "block time for {T}",
                "add {T} to my cal",
                "calendar: {T}",
                "schedule {T}",
                "new event {T}",
                "hold time for {T}",
                "save the date, {T}",
                "create an event for {T}",
            ],
        )
    clause = with_time(form.format(T=title, P=who(c, guests)), when, front=c.rng.random() < 0.15)
    clause += c.rng.choice([" at ", " @ ", ", location "]) + place if place else ""
    if place and c.rng.random() < 0.4:  # the place used again: "... and get directions there"
        if c.rng.random() < 0.5:
            c.plan.call("maps_show_directions", "", place, "d")
            return clause + pick(
                c,
                "event_there",
                [
                    " and get directions there",
                    ", directions there pls",
                    " + how do i get there",
                    " and show me the way there",
                ],
            )
        to = guests or folks(c, 1, cc=True)
        pin = c.plan.call("maps_open_location", place)
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], pin)
        return clause + pick(
            c,
            "event_pin",
            [
                " and text {P} the location",
                ", send {P} the spot on the map by text",
                " & text {P} where it is",
            ],
        ).format(P=who(c, Them(to)) if to is guests else who(c, to))
    return clause


def req_zoom(c: Ctx) -> str:
    share = c.rng.choice(["", "", "sms", "sms_first", "email", "calendar", "reply", "note"])
    alone = (
        share in ("reply", "note", "sms_first") and c.rng.random() < 0.5
    )  # "the zoom link for a 15 min call"
    topic, guests = c.one(pools.titles), [] if alone else folks(c)
    when, start, _ = day_time(c)
    minutes = c.rng.choice([15, 20, 30, 45, 60, 90])
    emails = [c.plan.email(p) for p in guests]
    link = c.plan.call("get_zoom_meeting_link", topic, start, minutes, emails)
    length = c.rng.choice(
        [f"{minutes} min", f"for {minutes} minutes", f", {minutes} mins", f"{minutes}-minute"]
    )
    call = f"{c.rng.choice(['a ', ''])}{minutes} min {c.rng.choice(['call', 'chat', 'meeting', topic])}"
    with_them = f" with {who(c, guests)}" if guests else ""
    if share == "sms_first":  # the sending comes first: "text Bea the zoom link for saturday 10am, 30 min"
        to = guests if guests and c.rng.random() < 0.7 else folks(c, 1, cc=True)
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], link)
        return pick(
            c,
            "zoom_sms_first",
            [
                "text {P} the zoom link for {C}{G} {W}",
                "send {P} a zoom link for {C} {W}",
                "msg {P} a zoom link, {C} {W}",
                "text {P} a zoom invite for {W}{G}, {C}",
                "get {P} a zoom link by text for {C} {W}",
            ],
        ).format(P=who(c, to), C=call, G="" if to is guests else with_them, W=when)
    if alone:
        clause = pick(
            c,
            "zoom_alone",
            [
                "the zoom link for {C} {W}",
                "a zoom link for {C} {W}",
                "a new zoom for {W}, {C}",
                "zoom link for {T} {W}",
            ],
        ).format(C=call, W=when, T=topic)
        if share == "reply":
            c.plan.call("reply_to_email", [], link, [])
            return pick(
                c,
                "zoom_alone_reply",
                [
                    "reply to this with {Z}",
                    "reply w/ {Z}",
                    "answer this email with {Z}",
                    "write back with {Z}",
                ],
            ).format(Z=clause)
        note = c.one(pools.note_names)
        c.plan.call("append_note_content", note, link, "")
        return pick(
            c,
            "zoom_alone_note",
            ["add {Z} to my {N} note", "put {Z} in the {N} note", "make {Z} and save it in my {N} note"],
        ).format(Z=clause, N=note.lower())
    base = pick(
        c,
        "zoom",
        [
            "zoom w/ {P} {W}",
            "set up a zoom with {P} {W}",
            "i need a zoom link for a call with {P} {W}",
            "zoom call with {P} {W}",
            "make a zoom for {T} with {P} {W}",
            "get a zoom link, {P}, {W}",
            "create a zoom meeting w {P} {W}",
            "schedule a zoom with {P} about {T} {W}",
            "zoom link for {T} with {P} {W}",
            "video call on zoom with {P} {W}",
        ],
    )
    clause = base.format(P=who(c, guests), T=topic, W=when) + " " + length.lstrip(", ")
    if share == "sms":
        to = guests if c.rng.random() < 0.5 else folks(c, 1, cc=True)
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], link)
        return clause + pick(
            c,
            "zoom_sms",
            [
                " and text {P} the link",
                ", text the link to {P}",
                " then send {P} the link by text",
                " & msg {P} the link",
                " and let {P} know the link by text",
            ],
        ).format(P=who(c, Them(to) if to is guests else to))
    if share == "email":
        c.plan.call("compose_new_email", emails, [], topic, link, [])
        return clause + pick(
            c,
            "zoom_email",
            [
                " and email them the link",
                ", email the link to everyone",
                " then send the link by email",
                " and mail the link out",
            ],
        )
    if share == "calendar":
        end = (dt.datetime.fromisoformat(start) + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")
        c.plan.call("create_calendar_event", topic, start, end, "", emails, link, None)
        return clause + pick(
            c,
            "zoom_cal",
            [
                " and put it on my calendar",
                ", add it to my cal",
                " + calendar invite",
                " and block it in my calendar",
            ],
        )
    if share == "reply":
        c.plan.call("reply_to_email", [], link, [])
        return clause + pick(
            c,
            "zoom_reply",
            [
                " and reply to this email with the link",
                ", then reply w/ the link",
                " and send the link as a reply to this email",
            ],
        )
    if share == "note":
        note = c.one(pools.note_names)
        c.plan.call("append_note_content", note, link, "")
        return clause + pick(
            c,
            "zoom_note",
            [
                " and add the link to my {N} note",
                ", put the link in {N}",
                " then save the link in the {N} note",
            ],
        ).format(N=note.lower())
    return clause


def req_reminder(c: Ctx) -> str:
    if c.rng.random() < 0.12:  # "set two reminders: gym at 6am tomorrow and meal prep on saturday"
        tasks = [c.one(pools.tasks) for _ in range(2)]
        whens = [day_time(c, optional=True) for _ in tasks]
        for task, (_, due, _) in zip(tasks, whens, strict=True):
            c.plan.call("create_reminder", task[:1].upper() + task[1:], due, "", "", 0, False)
        pair = " and ".join(with_time(t, w, front=False) for t, (w, _, _) in zip(tasks, whens, strict=True))
        return pick(
            c,
            "remind_two",
            [
                "set two reminders: {R}",
                "remind me about two things: {R}",
                "2 reminders pls - {R}",
                "reminders: {R}",
            ],
        ).format(R=pair)
    task = c.one(pools.tasks)
    when, due, _ = day_time(c, optional=True)
    lst = c.one(pools.reminder_lists) if c.rng.random() < 0.2 else ""
    # Reminders' own modifiers: a priority (Reminders' 1 = high, 5 = medium, 9 = low; the tool has no flag, so
    # "flag it" asks for high)
    flag = ("", 0)
    if c.rng.random() < 0.15:
        flag = pick(
            c,
            "remind_flag",
            [
                (", high priority", 1),
                (", flag it", 1),
                (" - urgent", 1),
                (" (medium priority)", 5),
                (", low priority", 9),
                (", mark it important", 1),
            ],
        )
    c.plan.call("create_reminder", task[:1].upper() + task[1:], due, "", lst, flag[1], False)
    form = pick(
        c,
        "remind",
        [
            "remind me to {K}",
            "reminder to {K}",
            "don't let me forget to {K}",
            "remind me: {K}",
            "set a reminder - {K}",
            "pls remind me to {K}",
            "add '{K}' to my reminders",
            "i have to {K}, remind me",
            "make a reminder {K}",
            "need a reminder to {K}",
            "remember to {K}",
        ],
    )
    if due and c.rng.random() < 0.15:
        when = "due " + when.removeprefix("on ")
    front = not when.startswith("due ") and c.rng.random() < 0.15
    if lst and c.rng.random() < 0.35:  # "add 'pay rent' to my Bills list, due July 1st"
        form = c.rng.choice(["add {K} to my {L} list", "put {K} on the {L} list", "{L} list: {K}"])
        clause = form.format(K=quoted(c, task), L=lst) + (", " + when if when else "")
        return clause + flag[0]
    clause = with_time(form.format(K=quoted(c, task) if "'" not in form else task), when, front=front)
    listed = c.rng.choice([" in my {L} list", ", {L} list", " on the {L} list"]) if lst else ""
    return clause + listed.format(L=lst) + flag[0]


def req_note(c: Ctx) -> str:
    name, content = (
        c.one(pools.note_names),
        " and ".join(dict.fromkeys(c.one(pools.note_items) for _ in range(2))),
    )
    kind = c.rng.choice(["new", "new", "add", "add", "open"])
    if kind == "new":
        named = c.rng.random() < 0.6
        folder = c.one(pools.folders) if named and c.rng.random() < 0.25 else ""
        c.plan.call("create_note", name if named else content[:1].upper() + content[1:], content, folder)
        if folder:
            return pick(
                c,
                "note_folder",
                [
                    "create a note in {F} named {N} with {C}",
                    "new note in my {F} folder, {N}: {C}",
                    "make a {N} note under {F} with {C}",
                    "note in {F} called {N} - {C}",
                ],
            ).format(F=folder, N=name, C=content)
        forms = (
            [
                "new note '{N}': {C}",
                "make a note called {N} with {C}",
                "start a note {N} - {C}",
                "note titled {N}: {C}",
                "create a {N} note with {C}",
            ]
            if named
            else [
                "jot down {C}",
                "note: {C}",
                "make a note, {C}",
                "write down {C}",
                "take a note - {C}",
                "save a quick note: {C}",
                "new note: {C}",
            ]
        )
        return pick(c, "note_new" if named else "note_jot", forms).format(N=name, C=content)
    if kind == "add":
        c.plan.call("append_note_content", name, content, "")
        content = quoted(c, content)
        return pick(
            c,
            "note_add",
            [
                "add {C} to my {N} note",
                "put {C} in the {N} note",
                "add {C} to {N}",
                "{N} note: add {C}",
                "stick {C} on my {N} note",
                "append {C} to my {N}",
                "update {N} with {C}",
            ],
        ).format(N=name.lower(), C=content)
    c.plan.call("open_note", name, "")
    return pick(
        c,
        "note_open",
        [
            "open my {N} note",
            "what's in my {N} note",
            "show me {N}",
            "pull up the {N} note",
            "where's my {N} note",
            "open {N}",
            "let me see the {N} note",
        ],
    ).format(N=name.lower())


def req_place(c: Ctx) -> str:
    place = c.one(pools.places)
    kind = c.rng.choice(["map", "directions", "directions", "send", "note", "note_send"])
    if kind == "map":
        c.plan.call("maps_open_location", place)
        return pick(
            c,
            "map",
            [
                "open maps at {L}",
                "where is {L}",
                "show {L} on the map",
                "map of {L}",
                "pull up {L} in maps",
                "find {L} on a map",
                "{L} on maps pls",
                "where's {L} on the map",
            ],
        ).format(L=place)
    mode = c.rng.choice(["d", "w", "r", "d"])
    words = {
        "d": ["driving", "by car", "drive"],
        "w": ["walking", "on foot", "walk"],
        "r": ["by bus", "by train", "transit"],
    }
    source = c.rng.choice(["", "", "", "work", "home", c.one(pools.places)])
    route = c.plan.call("maps_show_directions", source, place, mode)
    frm = f" from {source}" if source else ""
    if kind == "directions":
        return pick(
            c,
            "directions",
            [
                "directions to {L}{A} {M}",
                "how do i get to {L}{A} {M}",
                "how long to {L}{A} {M}",
                "route to {L}{A} {M}",
                "get me to {L}{A} {M}",
                "dirs to {L}{A} {M}",
                "how far is {L}{A} {M}",
                "navigate me to {L}{A} {M}",
                "best way to {L}{A} {M}",
            ],
        ).format(L=place, A=frm, M=c.rng.choice(words[mode]))
    if kind == "send":
        to = folks(c, 1)
        channel = c.rng.choice(["sms", "email"])
        if channel == "sms":
            c.plan.call("send_sms", [c.plan.phone(to[0])], route)
        else:
            c.plan.call("compose_new_email", [c.plan.email(to[0])], [], f"Directions to {place}", route, [])
        verb = c.rng.choice(["text", "message"] if channel == "sms" else ["email", "mail"])
        return pick(
            c,
            "directions_send",
            [
                "{V} {P} directions to {L}{A}",
                "get directions to {L}{A} and {V} them to {P}",
                "{V} {P} the route to {L}{A}",
                "send {P} directions to {L}{A} by {V}",
                "{V} {P} how to get to {L}{A}",
            ],
        ).format(V=verb, P=who(c, to), L=place, A=frm)
    note = c.one(pools.note_names)
    if kind == "note_send":  # one output, two uses: a new note and a text
        to = folks(c, 1)
        c.plan.call("create_note", note, route, "")
        c.plan.call("send_sms", [c.plan.phone(to[0])], route)
        return pick(
            c,
            "directions_note_send",
            [
                "save the directions to {L} in a note and text them to {P}",
                "directions to {L}{A}: new note {N} + text {P}",
                "get directions to {L}, put them in a new note and send them to {P} by text",
            ],
        ).format(L=place, A=frm, N=note, P=who(c, to))
    c.plan.call("append_note_content", note, route, "")
    return pick(
        c,
        "directions_note",
        [
            "put the directions to {L} in my {N} note",
            "save directions to {L} in {N}",
            "add the route to {L}{A} to my {N} note",
            "directions to {L}, add them to the {N} note",
        ],
    ).format(L=place, N=note.lower(), A=frm)


def req_reply_forward(c: Ctx) -> str:
    kind = c.rng.choice(["reply", "reply", "forward", "both", "note"])
    if kind in ("forward", "both"):
        message = c.one(pools.messages) if kind == "both" else ""
        if kind == "both":
            c.plan.call("reply_to_email", [], message, [])
        to = c.typed(folks(c), "email")
        cc = cc_folks(c) if c.rng.random() < 0.2 else []
        attach = file_ref(c) if c.rng.random() < 0.25 else None
        c.plan.call(
            "forward_email",
            [c.plan.email(p) for p in to],
            [c.plan.email(p) for p in cc],
            "",
            [c.plan.file(attach[1])] if attach else [],
        )
        fwd = pick(
            c,
            "forward",
            [
                "forward this to {P}",
                "fwd this email to {P}",
                "send this email on to {P}",
                "forward it to {P}",
                "pass this along to {P}",
                "fw to {P}",
                "loop {P} in on this email",
            ],
        ).format(P=who(c, to))
        fwd += f" and cc {cc[0]}" if cc else ""
        fwd += f" and attach {attach[0]}" if attach else ""
        if kind == "forward":
            return fwd
        reply = pick(
            c,
            "reply_then",
            ["reply {M}", "reply to this email saying {M}", "answer this w/ {M}", "write back {M}"],
        ).format(M=message)
        return reply + c.rng.choice([" and ", " then ", ", also "]) + fwd
    if kind == "note":
        note = c.one(pools.note_names)
        body = c.plan.call("open_note", note, "")
        c.plan.call("reply_to_email", [], body, [])
        return pick(
            c,
            "reply_note",
            [
                "reply to this email with my {N} note",
                "reply w/ what's in my {N} note",
                "answer this email with the {N} note",
                "send my {N} note as a reply",
            ],
        ).format(N=note.lower())
    message = c.one(pools.messages)
    attach = file_ref(c) if c.rng.random() < 0.25 else None
    c.plan.call("reply_to_email", [], message, [c.plan.file(attach[1])] if attach else [])
    clause = pick(
        c,
        "reply",
        [
            "reply {M}",
            "reply to this email: {M}",
            "reply saying {M}",
            "write back that {M}",
            "answer this email - {M}",
            "tell the sender {M}",
            "respond {M}",
            "reply to this one, {M}",
        ],
    ).format(M=message)
    return clause + (f" and attach {attach[0]}" if attach else "")


def req_note_share(c: Ctx) -> str:
    name, to = c.one(pools.note_names), folks(c)
    note = c.plan.call("open_note", name, "")
    if c.rng.random() < 0.5:
        c.plan.call("compose_new_email", [c.plan.email(p) for p in to], [], name, note, [])
        verb = c.rng.choice(["email", "mail"])
    else:
        c.plan.call("send_sms", [c.plan.phone(p) for p in to], note)
        verb = c.rng.choice(["text", "message"])
    return pick(
        c,
        "note_share",
        [
            "{V} {P} my {N} note",
            "{V} my {N} note to {P}",
            "send {P} the {N} note by {V}",
            "{V} {P} what's in my {N} note",
            "share my {N} note w/ {P} by {V}",
        ],
    ).format(V=verb, P=who(c, to), N=name.lower())


REQUESTS: dict[str, Callable[[Ctx], str]] = {
    "sms": req_sms,
    "lookup": req_lookup,
    "email": req_email,
    "summary": req_summary,
    "open_file": req_open_file,
    "event": req_event,
    "zoom": req_zoom,
    "reminder": req_reminder,
    "note": req_note,
    "place": req_place,
    "reply_forward": req_reply_forward,
    "note_share": req_note_share,
}
#: How often each kind of request comes up (people write some far more than others).
WEIGHTS = {
    "sms": 3,
    "lookup": 1,
    "email": 3,
    "summary": 2,
    "open_file": 1,
    "event": 2,
    "zoom": 2,
    "reminder": 2,
    "note": 2,
    "place": 2,
    "reply_forward": 2,
    "note_share": 1,
}
# Held-out pairs of these kinds for ood, as `offline` holds out intent pairs.
HELD_OUT = {frozenset(p) for i, p in enumerate(itertools.combinations(sorted(REQUESTS), 2)) if i % 9 == 4}


def _choose(rng: random.Random, ood: bool) -> list[str]:
    k = rng.choices(*REQUESTS_PER_QUERY)[0]
    kinds, weights = list(WEIGHTS), list(WEIGHTS.values())
    while True:
        chosen = list(dict.fromkeys(rng.choices(kinds, weights=weights, k=k)))
        if len(chosen) > 1 and "open_file" in chosen:
            continue
        if not ood and any(frozenset(p) in HELD_OUT for p in itertools.combinations(chosen, 2)):
            continue
        return chosen


NOT_IMPERATIVE = re.compile(
    r"(?i)(don.t|what|whats|where|who|how|do i|i |need |reminder|calendar|note|new |key |short |map |dirs |"
    r"route |"
    r"best |zoom |meeting |tl;dr|\S+'s |\d|today|tomorrow|on |in |next |the |saturday|sunday|monday|tuesday|"
    r"wednesday|thursday|friday)"
)


def compose(
    rng: random.Random, split: str, today: dt.date
) -> tuple[str, str, list[str], list[tuple[str, str]]]:
    """One (query, plan text, part ids, (request kind, clause skeleton) pairs), as `offline.compose`
    returns."""
    ood = split == "ood"
    ctx = Ctx(rng, split, today, PlanBuilder())
    chosen = _choose(rng, ood)
    clauses = [REQUESTS[kind](ctx) for kind in chosen]
    values = ctx.plan.values()
    register = phrasing.choose_register(rng)
    lower = register != "plain" and rng.random() < 0.5
    clauses = [phrasing.realize(rng, clause, values, register, ood, lower) for clause in clauses]
    # a question or a statement takes no opener: "can you what's Ana's number" is not English
    imperative = not NOT_IMPERATIVE.match(clauses[0])
    if register == "plain":
        opener = rng.choice(OOD_OPENERS if ood else OPENERS) if imperative and rng.random() < 0.5 else ""
        query = opener + clauses[0]
        for clause in clauses[1:]:
            query += rng.choice([" and ", ", then ", ". also ", ", and "] if not ood else [" plus "]) + clause
        query = query[:1].upper() + query[1:] if rng.random() < 0.6 else query
    else:
        query = phrasing.join_clauses(rng, clauses, ood, opener=imperative)
    if lower:
        ctx.plan.lowercase()
    return query, ctx.plan.render(), ctx.used, _skeletons(chosen, clauses, values)
