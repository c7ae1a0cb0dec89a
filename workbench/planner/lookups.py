"""Look-ups the plan left unused, bound to the step that needs them.

In TinyAgent's plans a contact look-up (`get_email_address`, `get_phone_number`) feeds a later step, unless the
user asked for the address or number itself ("what's Sarah's number?"). A small planner often writes the
look-up and the step that needs it but not the reference between them: an invitation with no invitees beside
an email look-up nothing uses, a text to one of the two people looked up. On the first 300 ood queries of the
offline run of issue 16 (full + ToolRAG + exact counts), 48 of the 56 plans with an unused email look-up were
wrong; of the 164 right ones, 8 had one.

So, once the plan is whole (at `join()`), each contact look-up that no step uses, and that no request of the
query asks for as an answer (`asked_for`), is bound to the nearest step with an empty slot of its kind: the
invitees of an event or a Zoom link, the recipients of an email or a text, and, for a phone number (which only
a text takes), a text's recipients even where they are not empty. A step that could take one (an event or a
Zoom link with no invitees, an email with no recipients, any text) is held back from where the model wrote it
until `join()`; the steps after it are passed on at once, numbered as passed (look-ups are never held, so what
a held step refers to always comes first). This keeps LLMCompiler's streaming for the look-ups, which are what
runs in parallel; the held steps are leaves that run when the plan is whole. A step that refers to a held step
is held too. Nothing else changes: a plan with no unused look-up keeps its DAG, its held steps moved to just
before `join()` and the plan numbered again.

Measured (the run above, first 150 val, 158 dev, 300 test and 300 ood queries): val 134 -> 135, dev 139 -> 143,
test 270 -> 270, ood 164 -> 168, and no right plan turned wrong. On 30,000 training gold plans, written request
by request as the planner writes them, it changes 28 (0.09%): each a look-up asked for in words `asked_for`
does not read ("Siobhan's cell and email address?" after another request, "fid Andrés's email").

    >>> print(bind_lookups('''1. get_email_address("Haruto")
    ... 2. create_calendar_event("Design review", "2024-06-13 11:00:00", "2024-06-13 12:00:00", "", [], "", None)
    ... 3. get_phone_number("Haruto")
    ... 4. send_sms(["$3"], "Check your inbox")
    ... 5. join()<END_OF_PLAN>''', "look up Haruto's email, invite him to the design review, and text him"))
    1. get_email_address("Haruto")
    2. get_phone_number("Haruto")
    3. create_calendar_event("Design review", "2024-06-13 11:00:00", "2024-06-13 12:00:00", "", ["$1"], "", None)
    4. send_sms(["$2"], "Check your inbox")
    5. join()<END_OF_PLAN>
"""

from __future__ import annotations

import re
from typing import Any

from workbench.plan import JOIN, read_step_line, references, render_args
from workbench.planner.references import GIVES, renumber_value, renumbered_step
from workbench.planner.requests import split_requests

#: Changes whenever the repair changes what it writes: evaluations kept from an earlier one are then redone.
VERSION = 1

#: The look-ups bound (the kinds they give).
BOUND = ("email", "phone")
#: (tool, parameter position) -> the kind its list takes: the slots a look-up is bound to where empty
_SLOTS = {
    ("create_calendar_event", 4): "email",
    ("get_zoom_meeting_link", 3): "email",
    ("compose_new_email", 0): "email",
    ("send_sms", 0): "phone",
}
#: the slots a look-up of the kind joins even where the model already put someone there
_JOINED = {("send_sms", 0)}

_CONTACT = re.compile(r"\b(?:number|phone|e-?mail|cell|contact|digits|mobile)\b", re.I)
_ASKED = re.compile(
    r"\bwhat(?:'s|s| is)?\b|\bwhich\b|\bdo (?:i|you|u|we) have\b|\b(?:get|give|send|tell) me\b|\bfind\b"
    r"|\blook ?up\b|\bneed\b|\bgrab\b|\bpull up\b|\?",
    re.I,
)
_POINTS_BACK = re.compile(r"\b(?:him|her|them|they|he|she|his)\b", re.I)


def asked_for(name: str, query: str) -> bool:
    """Whether a request of `query` asks for `name`'s address or number itself: it names them, a contact word
    ("number", "email", "cell"), asks ("what's", "do you have", "get me", "?"), and no pronoun after the
    name takes them on to another action ("look up Haruto's email and invite him" is not an answer).

    >>> asked_for("Santiago", "text Timur the note. Then do you have Santiago's number.")
    True
    >>> asked_for("Haruto", "look up Haruto's email, invite him to the review")
    False
    """
    name = name.lower().strip()
    for request in split_requests(query) if name else ():
        text = request.lower()
        at = text.find(name)
        if at >= 0 and _CONTACT.search(text) and _ASKED.search(text):
            if not _POINTS_BACK.search(text[at + len(name) :]):
                return True
    return False


def _open_slot(tool: str, args: tuple[Any, ...] | list[Any]) -> tuple[int, str] | None:
    """(position, kind) of the slot a look-up could be bound to in this step (an empty one, or one a look-up
    joins), or None."""
    for (t, pos), kind in _SLOTS.items():
        if t == tool and pos < len(args) and isinstance(args[pos], list):
            return (pos, kind) if args[pos] == [] or (t, pos) in _JOINED else None
    return None


class LookupBinder:
    """Binds unused contact look-ups (see the module docstring) in a plan's lines, fed in order (`feed`, then
    `close`); `plan` does a whole plan. A line that is no step passes unchanged."""

    def __init__(self, query: str) -> None:
        self.query = query
        self._tools: dict[int, tuple[str, str]] = {}  # step as written -> (tool, first argument) of look-ups
        self._used: set[int] = set()  # steps (as written) a step refers to
        self._number: dict[int, int] = {}  # step as written -> as passed on
        self._held: list[tuple[int, str, list[Any], str]] = []
        self._next = 1

    def plan(self, text: str) -> str:
        return "\n".join([o for raw in text.split("\n") for o in self.feed(raw)] + self.close())

    def feed(self, raw: str) -> list[str]:
        step = read_step_line(raw)
        if step is None:
            return [raw]
        idx, tool, args, end = step
        if tool == JOIN:
            out = self.close()
            self._number[idx] = self._next
            return [*out, renumbered_step(raw, idx, self._next)]
        self._used |= {j for value in args for j in references(value)}
        if _open_slot(tool, args) or references(args) & {h[0] for h in self._held}:
            self._held.append((idx, tool, list(args), end))
            return []
        if GIVES.get(tool) in BOUND:
            self._tools[idx] = (tool, args[0] if args and isinstance(args[0], str) else "")
        return [self._passed(idx, tool, list(args), end, raw)]

    def close(self) -> list[str]:
        """The held steps, each unused look-up bound to the nearest that can take it, in their order."""
        held, self._held = self._held, []
        for i, (tool, name) in sorted(self._tools.items()):
            if i in self._used or asked_for(name, self.query):
                continue
            slots = {h[0]: _open_slot(h[1], h[2]) for h in held}
            takers = [h for h in held if (slot := slots[h[0]]) and slot[1] == GIVES[tool]]
            if takers:
                # the nearest as written; of two as near, the one after the look-up
                j, _, args, _ = min(takers, key=lambda h: (abs(h[0] - i), h[0] < i))
                pos = slots[j][0]  # type: ignore[index]
                args[pos] = [*args[pos], f"${i}"]
                self._used.add(i)
        return [self._passed(i, t, args, end, None) for i, t, args, end in held]

    def _passed(self, idx: int, tool: str, args: list[Any], end: str, raw: str | None) -> str:
        self._number[idx] = self._next
        self._next += 1
        new = [renumber_value(v, self._number) for v in args]
        if raw is not None and new == args and self._number[idx] == idx:
            return raw
        return f"{self._number[idx]}. {tool}({render_args(new)}){end}"


def bind_lookups(text: str, query: str) -> str:
    """`text` (a plan for `query`) with its unused contact look-ups bound (`LookupBinder`)."""
    return LookupBinder(query).plan(text)
