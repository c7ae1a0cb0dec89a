"""A simulated desktop on which the 16 TinyAgent tools really run, on any OS.

TinyAgent's tools drive macOS apps (Contacts, Calendar, Mail, Notes, Reminders, Messages, Maps, Files,
Zoom). This module keeps the same state in memory (a seeded contacts book, calendar, mailbox with a selected
message, notes in folders, reminders, an SMS outbox, a file tree with PDFs, Zoom meetings) so that plans can
be executed, inspected and timed anywhere. It is a simulation: its observations are not those of a Mac.

    >>> d = SimulatedDesktop(seed=0)
    >>> d.call("get_email_address", ["Sid"])
    'sid.jha@example.com'
    >>> d.call("get_email_address", ["Nobody Known"])
    "Error: no contact named 'Nobody Known' in Contacts"

A failing call (unknown contact or file, bad date) returns an observation starting with `Error:`; nothing
escapes `call`. Every call is recorded in `desktop.calls`. With a `LatencyModel`, `await desktop.acall(...)`
also waits a seeded, per-tool time, for the latency experiments.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import random
import re
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.aio import run_sync
from workbench.plan import is_reference, parse_plan
from workbench.tools.spec import ERROR_PREFIX, ToolSpec
from workbench.tools.subagents import OfflineWriter, SubAgent, WritingTask, Written
from workbench.tools.tinyagent import tinyagent_tools


class ToolError(Exception):
    """A tool failure the planner should hear about; it becomes an `Error: ...` observation."""


@dataclass
class ToolCall:
    """One recorded call: what was asked, what came back, and when (time.perf_counter seconds)."""

    tool: str
    args: tuple[Any, ...]
    result: str
    ok: bool
    start: float
    end: float


@dataclass
class LatencyModel:
    """Seconds a call of each tool takes: uniform in a per-tool (low, high) range, seeded per call.

    The sample depends on (seed, tool, arguments) only, so concurrent runs draw the same latencies in any
    order. `LatencyModel.typical()` is a rough model of a laptop's apps (ours, not measured on a Mac).
    """

    ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    default: tuple[float, float] = (0.0, 0.0)
    seed: int = 0

    def sample(self, tool: str, args: Sequence[Any] = ()) -> float:
        lo, hi = self.ranges.get(tool, self.default)
        rng = random.Random(f"{self.seed}|{tool}|{list(args)!r}")  # a tuple and a list draw alike
        return rng.uniform(lo, hi)

    @classmethod
    def uniform(cls, low: float, high: float, seed: int = 0) -> LatencyModel:
        return cls({}, (low, high), seed)

    @classmethod
    def typical(cls, seed: int = 0) -> LatencyModel:
        per_app = {
            "Contacts": (0.05, 0.15),
            "Calendar": (0.2, 0.5),
            "Files": (0.1, 0.3),
            "Mail": (0.3, 0.8),
            "Maps": (0.1, 0.3),
            "Notes": (0.1, 0.3),
            "Reminders": (0.1, 0.3),
            "SMS": (0.2, 0.5),
            "Zoom": (0.5, 1.0),
        }
        ranges = {t.name: per_app[t.app] for t in tinyagent_tools()}
        ranges["summarize_pdf"] = (1.0, 2.0)  # an LLM call in TinyAgent
        return cls(ranges, (0.1, 0.3), seed)


@dataclass
class Contact:
    name: str
    email: str
    phone: str


@dataclass
class Email:
    sender: str
    to: list[str]
    subject: str
    body: str
    cc: list[str] = field(default_factory=list)
    attachments: list[str] = field(default_factory=list)
    kind: str = "received"  # received | new | reply | forward


# Small seed pools for the desktop's own contents (the synthesis stage has far larger ones).
_FIRST = [
    "Amara",
    "Bo",
    "Chiara",
    "Dmitri",
    "Élodie",
    "Farah",
    "Gustavo",
    "Hana",
    "Ioana",
    "Jonas",
    "Kenji",
    "Leila",
    "Mateo",
    "Nadia",
    "Oluwaseun",
    "Priya",
    "Quentin",
    "Rin",
    "Søren",
    "Tomás",
    "Uma",
    "Wen",
]
_LAST = [
    "Abebe",
    "Bianchi",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fernández",
    "García",
    "Haddad",
    "Ivanova",
    "Kim",
    "Kowalski",
    "Müller",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Rossi",
    "Sato",
    "Singh",
    "Yılmaz",
    "Zhang",
]
# The people of the papers' running examples, so the demos resolve.
_DEMO_CONTACTS = ["Sid Jha", "Lutfi Erdogan", "Nick Lee", "Kurt Keutzer", "Amir Gholami"]
_DOCS = [
    (
        "Documents/Quarterly Report Q2.pdf",
        "Revenue grew 12% in the second quarter. Costs were flat. "
        "The team recommends expanding the pilot to two more regions.",
    ),
    (
        "Documents/Research/TinyAgent Paper.pdf",
        "TinyAgent trains small language models to call functions. "
        "A 1.1B model fine-tuned on synthetic plans matches GPT-4-Turbo. Quantization makes it fast on a laptop.",
    ),
    (
        "Documents/Research/LLMCompiler.pdf",
        "LLMCompiler plans function calls as a DAG and runs them in "
        "parallel. It lowers latency and cost compared with ReAct.",
    ),
    (
        "Downloads/Lease Agreement.pdf",
        "The lease runs for twelve months from the first of July. "
        "Rent is due on the first day of each month.",
    ),
    (
        "Downloads/Conference Schedule.pdf",
        "Keynotes start at nine each morning. Workshops run in the "
        "afternoon. The poster session is on Thursday.",
    ),
    (
        "Documents/Travel Itinerary.pdf",
        "The flight leaves at 8:05 on Monday. The hotel is two blocks "
        "from the venue. Return is on Friday evening.",
    ),
    ("Documents/Budget 2024.xlsx", "A spreadsheet of planned expenses by month."),
    ("Desktop/Slides Final.key", "The slide deck for the project review."),
]

_SURROGATE_RE = re.compile("[\ud800-\udfff]")
_DATE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
TRANSPORT_MODES = {
    "d": "d",
    "w": "w",
    "r": "r",
    "driving": "d",
    "walking": "w",
    "transit": "r",
    "public transit": "r",
}


def parse_datetime(value: str | None, what: str) -> dt.datetime | None:
    """'YYYY-MM-DD HH:MM:SS' (or without seconds, or a bare date); None for empty; else a `ToolError`.

    Shared by every backend, so that a plan valid on the simulated desktop is valid on a Mac.
    """
    if value is None or not value.strip():
        return None
    for fmt in _DATE_FORMATS:
        try:
            return dt.datetime.strptime(value.strip(), fmt)
        except ValueError:
            pass
    raise ToolError(f"{what} {value!r} is not a date in the format 'YYYY-MM-DD HH:MM:SS'")


def maps_location_url(location: str) -> str:
    """The Apple Maps URL that shows `location` (shared by the simulated and the macOS backend)."""
    if not location.strip():
        raise ToolError("a location is required")
    return "https://maps.apple.com/?q=" + urllib.parse.quote(location.strip())


def maps_directions_url(start: str | None, end: str, transport: str | None) -> str:
    """The Apple Maps directions URL; transport is 'd', 'w' or 'r' (or driving, walking, transit)."""
    if not end.strip():
        raise ToolError("an end_location is required")
    mode = TRANSPORT_MODES.get((transport or "d").strip().lower())
    if mode is None:
        raise ToolError(f"transport {transport!r} is not 'd' (driving), 'w' (walking) or 'r' (transit)")
    query = {"daddr": end.strip(), "dirflg": mode}
    if start and start.strip():
        query = {"saddr": start.strip(), **query}
    return "https://maps.apple.com/?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote)


def bind_arguments(specs: dict[str, ToolSpec], tool: str, args: Sequence[Any]) -> dict[str, Any]:
    """Name a call's arguments by its spec (shared by every backend); any problem is a `ToolError`."""
    spec = specs.get(tool)
    if spec is None:
        raise ToolError(f"unknown tool {tool!r}")
    try:
        bound = spec.bind(args)
    except ValueError as e:
        raise ToolError(str(e)) from None
    for name, value in bound.items():  # "\ud800" in a plan parses, but cannot be encoded or hashed
        texts = value if isinstance(value, list) else [value]
        if any(isinstance(t, str) and _SURROGATE_RE.search(t) for t in texts):
            raise ToolError(f"{tool}: {name} is not valid Unicode text (it contains a lone surrogate)")
    return bound


def _slug(name: str) -> str:
    import unicodedata

    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", ".", ascii_name.lower()).strip(".") or "contact"


def _wrote(written: str | None) -> str:
    """What a sub-agent wrote, appended to the tool's observation (the explorer's replay shows it)."""
    return "" if written is None else f" Written by the sub-agent: {written!r}"


class SimulatedDesktop:
    """In-memory apps for the 16 tools; deterministic for a seed.

    `contacts` adds people (by full name) to the seeded contacts book, e.g. those named in a query.
    `today` anchors empty dates; `latency` is used by `acall` only. `writer` writes what the plan leaves to a
    sub-agent (`tools.subagents`: email bodies left empty, PDF summaries, notes without content; default the
    offline templates and extractive summary); `request`, the user's request, is what it writes from; each
    text written is recorded in `written`.
    """

    def __init__(
        self,
        seed: int = 0,
        n_contacts: int = 30,
        contacts: Sequence[str] = (),
        today: str = "2024-06-12",
        latency: LatencyModel | None = None,
        writer: SubAgent | None = None,
    ):
        self.seed = seed
        self.writer: SubAgent = writer or OfflineWriter()
        self.request = ""
        self.written: list[Written] = []
        self.today = dt.date.fromisoformat(today)
        self.latency = latency or LatencyModel()
        self.specs = {t.name: t for t in tinyagent_tools()}
        rng = random.Random(seed)
        self.contacts: dict[str, Contact] = {}
        names = list(_DEMO_CONTACTS)
        while len(names) < len(_DEMO_CONTACTS) + n_contacts:
            name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
            if name not in names:
                names.append(name)
        for name in [*names, *contacts]:
            self.add_contact(name)
        self.files: dict[str, str] = {f"/Users/me/{p}": text for p, text in _DOCS}
        self.calendar: list[dict[str, Any]] = []
        self.reminders: list[dict[str, Any]] = []
        self.sms: list[dict[str, Any]] = []
        self.notes: dict[str, dict[str, str]] = {
            "Notes": {"Shopping": "Milk, eggs, coffee."},
            "Work": {"Ideas": "Try ToolRAG on the new dataset."},
        }
        self.zoom_meetings: list[dict[str, Any]] = []
        sender = self.contacts[_DEMO_CONTACTS[0]]
        self.inbox = [
            Email(
                sender.email,
                ["me@example.com"],
                "Draft of the paper",
                "Could you take a look at the draft before Friday?",
            )
        ]
        self.outbox: list[Email] = []
        self.selected_email: int | None = 0
        self.calls: list[ToolCall] = []

    # ----------------------------------------------------------------------------------------- set-up

    def add_contact(self, name: str, email: str | None = None, phone: str | None = None) -> Contact:
        digest = int(hashlib.sha256(f"{self.seed}|{name}".encode()).hexdigest(), 16)
        contact = Contact(
            name,
            email or f"{_slug(name)}@example.com",
            phone or f"+1{digest % 9_000_000_000 + 1_000_000_000}",
        )
        self.contacts[name] = contact
        return contact

    def add_file(self, path: str, text: str) -> None:
        self.files[path] = text

    def prepare_for(self, plan: Any) -> SimulatedDesktop:
        """Add the people, files and notes a plan names, so that a correct plan runs without errors.

        For running synthesized queries end to end: their entities are not in the seeded desktop.
        `plan` is a `Plan` or plan text; references (`$1`) are skipped. Returns the desktop.
        """
        plan = parse_plan(plan) if isinstance(plan, str) else plan
        for step in plan.tasks:
            arg = step.args[0] if step.args else None
            if not isinstance(arg, str) or is_reference(arg) or not arg.strip():
                continue
            if step.tool in ("get_email_address", "get_phone_number"):
                try:
                    self.find_contact(arg)
                except ToolError:
                    self.add_contact(arg)
            elif step.tool in ("open_and_get_file_path", "summarize_pdf"):
                try:
                    self.find_file(arg)
                except ToolError:
                    base = arg.rsplit("/", 1)[-1]
                    stem = base.rsplit(".", 1)[0]
                    # a document named as people say it ("the lease", "my resume") is a PDF on this desktop
                    self.add_file(
                        f"/Users/me/Documents/{base if '.' in base else base + '.pdf'}",
                        f"{stem} is a document about {stem.lower()}. It has three sections. "
                        "The last one lists the next steps.",
                    )
            elif step.tool in ("open_note", "append_note_content"):
                folder = (
                    step.args[-1] if isinstance(step.args[-1], str) and step.args[-1].strip() else "Notes"
                )
                try:
                    self._find_note(arg, folder)
                except ToolError:
                    self.notes.setdefault(folder, {})[arg] = f"{arg}:"
        return self

    # -------------------------------------------------------------------------------------- calling

    def call(self, tool: str, args: Sequence[Any]) -> str:
        """Run one tool; a `ToolError` or bad argument becomes an `Error: ...` observation."""
        return run_sync(self.acall(tool, args, latency=False))

    async def acall(self, tool: str, args: Sequence[Any], latency: bool = True) -> str:
        """`call` after waiting the latency model's time for this call (concurrent calls overlap), and the
        sub-agent's writing when the tool has some."""
        start = time.perf_counter()
        delay = self.latency.sample(tool, args) if latency else 0.0
        if delay > 0:
            await asyncio.sleep(delay)
        try:
            bound = bind_arguments(self.specs, tool, args)  # first: an unknown tool has no method
            if (task := self._writing_task(tool, bound)) is not None:
                try:
                    text = await self.writer.write(task)
                except Exception as e:  # noqa: BLE001 - any writer failure becomes the tool's error observation
                    raise ToolError(
                        f"the sub-agent ({self.writer.name}) could not write the {task.kind}: {e}"
                    ) from e
                self.written.append(Written(tool, task.kind, self.writer.name, text))
                bound["written"] = text
            result, ok = getattr(self, f"_{tool}")(**bound), True
        except ToolError as e:
            result, ok = f"{ERROR_PREFIX}{e}", False
        self.calls.append(ToolCall(tool, tuple(args), result, ok, start, time.perf_counter()))
        return result

    def _writing_task(self, tool: str, bound: dict[str, Any]) -> WritingTask | None:
        """What the sub-agent is asked to write for this call, or None when the plan wrote it (or nothing is
        to be written)."""
        if tool == "summarize_pdf":
            path = self._pdf(bound["pdf_path"])
            return WritingTask("summary", self.request, path.rsplit("/", 1)[-1], self.files[path])
        if tool == "create_note" and not (bound["content"] or "").strip():
            return WritingTask("note", self.request, bound["name"])
        if tool in ("compose_new_email", "forward_email") and not (bound["context"] or "").strip():
            kind = "email" if tool == "compose_new_email" else "forward"
            source = "" if kind == "email" else self._selected().body
            subject = bound.get("subject") or self._selected().subject
            people = tuple(self._person(r) for r in bound["recipients"] or ())
            return WritingTask(kind, self.request, subject, source, people)
        if tool == "reply_to_email" and not (bound["context"] or "").strip():
            original = self._selected()
            people = (self._person(original.sender),)
            return WritingTask("reply", self.request, original.subject, original.body, people)
        return None

    def _person(self, value: str) -> str:
        """A recipient as a writer names them: the contact's name for a known address, else as given."""
        return next((c.name for c in self.contacts.values() if c.email == value.strip()), value)

    def functions(self) -> dict[str, Callable[..., Awaitable[str]]]:
        """One async function per tool, `await f(*args) -> observation`, for an executor."""

        def bind(name: str) -> Callable[..., Awaitable[str]]:
            async def tool_fn(*args: Any) -> str:
                return await self.acall(name, args)

            tool_fn.__name__ = name
            return tool_fn

        return {name: bind(name) for name in self.specs}

    # ------------------------------------------------------------------------------------ contacts

    def find_contact(self, name: str) -> Contact:
        """Exact full name, else the one contact whose first or last name (or name prefix) matches."""
        key = name.strip().casefold()
        if not key:
            raise ToolError("a contact name is required")
        for c in self.contacts.values():
            if c.name.casefold() == key:
                return c
        hits = [
            c
            for c in self.contacts.values()
            if key in (p.casefold() for p in c.name.split()) or c.name.casefold().startswith(key)
        ]
        if len(hits) == 1:
            return hits[0]
        if hits:
            names = ", ".join(sorted(c.name for c in hits)[:5])
            raise ToolError(f"several contacts match {name!r} ({names}); give the full name")
        raise ToolError(f"no contact named {name!r} in Contacts")

    def _emails(self, values: list[str] | None) -> list[str]:
        return [v if "@" in v else self.find_contact(v).email for v in (values or []) if v.strip()]

    def _phones(self, values: list[str]) -> list[str]:
        return [v if re.search(r"\d", v) else self.find_contact(v).phone for v in values if v.strip()]

    def _get_phone_number(self, name: str) -> str:
        return self.find_contact(name).phone

    def _get_email_address(self, name: str) -> str:
        return self.find_contact(name).email

    # ------------------------------------------------------------------------------------ calendar

    def _create_calendar_event(
        self,
        title: str,
        start_date: str,
        end_date: str,
        location: str | None,
        invitees: list[str] | None,
        notes: str | None,
        calendar: str | None,
    ) -> str:
        morning = dt.datetime.combine(self.today, dt.time(9))
        start = parse_datetime(start_date, "start_date")
        end = parse_datetime(end_date, "end_date")
        start = start or (end - dt.timedelta(hours=1) if end else morning)
        end = end or start + dt.timedelta(hours=1)
        if end < start:
            raise ToolError(f"the event ends ({end}) before it starts ({start})")
        emails = self._emails(invitees)
        self.calendar.append(
            {
                "title": title,
                "start": start.isoformat(" "),
                "end": end.isoformat(" "),
                "location": location or "",
                "invitees": emails,
                "notes": notes or "",
                "calendar": calendar or "Calendar",
            }
        )
        who = f" with {', '.join(emails)}" if emails else ""
        return f"Event '{title}' created on {start:%Y-%m-%d} from {start:%H:%M} to {end:%H:%M}{who}."

    # --------------------------------------------------------------------------------------- files

    def find_file(self, name: str) -> str:
        """The best match for `name` in the file tree: exact name or stem, then prefix, then substring."""
        key = name.strip().casefold()
        if not key:
            raise ToolError("a file name is required")
        if name in self.files:
            return name

        def rank(path: str) -> int | None:
            base = path.rsplit("/", 1)[-1].casefold()
            stem = base.rsplit(".", 1)[0]
            for r, ok in enumerate((key in (base, stem), base.startswith(key), key in base)):
                if ok:
                    return r
            return None

        ranked = sorted((r, p) for p in self.files if (r := rank(p)) is not None)
        if not ranked:
            raise ToolError(f"no file matching {name!r} was found")
        return ranked[0][1]

    def _open_and_get_file_path(self, file_name: str) -> str:
        return self.find_file(file_name)

    def _pdf(self, pdf_path: str) -> str:
        path = self.find_file(pdf_path)
        if not path.lower().endswith(".pdf"):
            raise ToolError(f"{path} is not a PDF")
        return path

    def _summarize_pdf(self, pdf_path: str, written: str) -> str:
        self._pdf(pdf_path)
        return written

    # ---------------------------------------------------------------------------------------- mail

    def _attachments(self, paths: list[str] | None) -> list[str]:
        return [self.find_file(p) for p in (paths or []) if p.strip()]

    def _compose_new_email(
        self,
        recipients: list[str],
        cc: list[str] | None,
        subject: str,
        context: str | None,
        attachments: list[str] | None,
        written: str | None = None,
    ) -> str:
        to = self._emails(recipients)
        if not to:
            raise ToolError("an email needs at least one recipient")
        body = written if written is not None else context or ""
        mail = Email(
            "me@example.com", to, subject, body, self._emails(cc), self._attachments(attachments), kind="new"
        )
        self.outbox.append(mail)
        return f"New email to {', '.join(to)} with subject '{subject}' is ready to send.{_wrote(written)}"

    def _selected(self) -> Email:
        if self.selected_email is None or not 0 <= self.selected_email < len(self.inbox):
            raise ToolError("no email is selected in Mail")
        return self.inbox[self.selected_email]

    def _reply_to_email(
        self,
        cc: list[str] | None,
        context: str | None,
        attachments: list[str] | None,
        written: str | None = None,
    ) -> str:
        original = self._selected()
        mail = Email(
            "me@example.com",
            [original.sender],
            f"Re: {original.subject}",
            written if written is not None else context or "",
            self._emails(cc),
            self._attachments(attachments),
            kind="reply",
        )
        self.outbox.append(mail)
        return f"Reply to {original.sender} ('{original.subject}') is ready to send.{_wrote(written)}"

    def _forward_email(
        self,
        recipients: list[str],
        cc: list[str] | None,
        context: str | None,
        attachments: list[str] | None,
        written: str | None = None,
    ) -> str:
        original = self._selected()
        to = self._emails(recipients)
        if not to:
            raise ToolError("forwarding needs at least one recipient")
        mail = Email(
            "me@example.com",
            to,
            f"Fwd: {original.subject}",
            (written if written is not None else context or "") + "\n\n" + original.body,
            self._emails(cc),
            original.attachments + self._attachments(attachments),
            kind="forward",
        )
        self.outbox.append(mail)
        return f"'{original.subject}' forwarded to {', '.join(to)}.{_wrote(written)}"

    # ---------------------------------------------------------------------------------------- maps

    def _maps_open_location(self, location: str) -> str:
        return maps_location_url(location)

    def _maps_show_directions(
        self, start_location: str | None, end_location: str, transport: str | None
    ) -> str:
        return maps_directions_url(start_location, end_location, transport)

    # --------------------------------------------------------------------------------------- notes

    def _folder(self, folder: str | None) -> str:
        return folder.strip() if folder and folder.strip() else "Notes"

    def _find_note(self, name: str, folder: str | None) -> tuple[str, str]:
        folders = [self._folder(folder)] if folder and folder.strip() else list(self.notes)
        for f in folders:
            for title in self.notes.get(f, {}):
                if title.casefold() == name.strip().casefold():
                    return f, title
        where = f"folder '{folder}'" if folder and folder.strip() else "any folder"
        raise ToolError(f"no note named {name!r} in {where}")

    def _create_note(self, name: str, content: str, folder: str | None, written: str | None = None) -> str:
        if not name.strip():
            raise ToolError("a note needs a name")
        f = self._folder(folder)
        self.notes.setdefault(f, {})[name] = written if written is not None else content
        return f"Note '{name}' created in folder '{f}'.{_wrote(written)}"

    def _open_note(self, name: str, folder: str | None) -> str:
        f, title = self._find_note(name, folder)
        return self.notes[f][title]

    def _append_note_content(self, name: str, content: str, folder: str | None) -> str:
        f, title = self._find_note(name, folder)
        self.notes[f][title] = (self.notes[f][title] + "\n" + content).strip()
        return f"Content appended to note '{title}' in folder '{f}'."

    # ----------------------------------------------------------------------------------- reminders

    def _create_reminder(
        self,
        name: str,
        due_date: str | None,
        notes: str | None,
        list_name: str | None,
        priority: int | None,
        all_day: bool | None,
    ) -> str:
        due = parse_datetime(due_date, "due_date")
        self.reminders.append(
            {
                "name": name,
                "due": due.isoformat(" ") if due else None,
                "notes": notes or "",
                "list": list_name or "Reminders",
                "priority": priority or 0,
                "all_day": bool(all_day),
            }
        )
        when = f" due {due:%Y-%m-%d %H:%M}" if due else ""
        return f"Reminder '{name}' created{when}."

    # ----------------------------------------------------------------------------------------- sms

    def _send_sms(self, recipients: list[str], message: str) -> str:
        phones = self._phones(recipients)
        if not phones:
            raise ToolError("a message needs at least one recipient")
        self.sms.append({"to": phones, "message": message})
        return f"Message sent to {', '.join(phones)}."

    # ---------------------------------------------------------------------------------------- zoom

    def _get_zoom_meeting_link(
        self, topic: str, start_time: str, duration: int, meeting_invitees: list[str]
    ) -> str:
        start = parse_datetime(start_time, "start_time")
        if duration is None or duration <= 0:
            raise ToolError(f"duration must be a positive number of minutes, got {duration!r}")
        digest = hashlib.sha256(f"{self.seed}|{topic}|{start_time}".encode()).hexdigest()
        link = f"https://zoom.us/j/{int(digest, 16) % 9_000_000_000 + 1_000_000_000}"
        self.zoom_meetings.append(
            {
                "topic": topic,
                "start": start.isoformat(" ") if start else None,
                "duration": duration,
                "invitees": self._emails(meeting_invitees),
                "link": link,
            }
        )
        return link
