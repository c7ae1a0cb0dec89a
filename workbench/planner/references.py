"""References of the right kind: a step's `$j` re-pointed where step j cannot give what the parameter takes.

Every reference in TinyAgent's plans passes one kind of value (checked on 30,000 training plans of the offline
teacher, and on the human-written dev set): an email address (`get_email_address`) to recipients, cc and
invitees; a phone number (`get_phone_number`) to a text's recipients; a file path (`open_and_get_file_path`)
to attachments and `summarize_pdf`; and text (a note, a summary, a Zoom or Maps link) to a body, a note's
content, a message or an event's notes. A small planner that has the right calls still wires them wrong on
phrasings it never saw: a note's body that names the email look-up, a text whose message is the reminder just
created. Such a reference is re-pointed at the nearest earlier step that gives the right kind and that no step
has used yet. Where there is none, the step waits until the plan is whole and takes the first later step of
the kind that nothing uses (the model wrote the email before the look-up of its recipient, or before the note
it sends), and the plan is numbered again so that references point back. Where there is none either, a list
drops the reference and a text parameter gets "" (a message left for the user to write, not a wrong value
sent). The repair runs line by line as a plan streams (LLMCompiler runs each step as soon as it is written):
only a step that waits is held back, until `join()`. A reference of the right kind, and every parameter of no
kind (names, titles, dates), is left as the model wrote it.

    >>> typer = ReferenceTyper()
    >>> typer.feed('1. get_phone_number("Ilya")')
    ['1. get_phone_number("Ilya")']
    >>> typer.feed('2. create_reminder("Bring the projector", "2024-06-13", "", "", 0, True)')
    ['2. create_reminder("Bring the projector", "2024-06-13", "", "", 0, True)']
    >>> typer.feed('3. send_sms(["$1"], "$2")')  # a reminder as the message, and no text before it: held
    []
    >>> typer.feed('4. join()<END_OF_PLAN>')  # nor after it: the message is left for the user to write
    ['3. send_sms(["$1"], "")', '4. join()<END_OF_PLAN>']
    >>> print(retype_references('''1. get_email_address("Gabe")
    ... 2. compose_new_email(["$3"], [], "Photos", "", ["$3"])
    ... 3. open_and_get_file_path("photos")
    ... 4. join()<END_OF_PLAN>'''))
    1. get_email_address("Gabe")
    2. open_and_get_file_path("photos")
    3. compose_new_email(["$1"], [], "Photos", "", ["$2"])
    4. join()<END_OF_PLAN>
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.plan import JOIN, is_reference, read_step_line, references, render_args, renumber_references
from workbench.tools.tinyagent import tinyagent_tools

#: Changes whenever the repair changes what it writes: evaluations kept from an earlier one are then redone.
#: 2: a step with no earlier step of the kind waits for a later one.
VERSION = 2

#: The kind of value each tool's result is, where a later step may use it.
GIVES = {
    "get_email_address": "email",
    "get_phone_number": "phone",
    "open_and_get_file_path": "file",
    **dict.fromkeys(
        ("open_note", "summarize_pdf", "get_zoom_meeting_link", "maps_open_location", "maps_show_directions"),
        "text",
    ),
}
_TAKES_BY_NAME = {
    **dict.fromkeys(("recipients", "cc", "invitees", "meeting_invitees"), "email"),
    **dict.fromkeys(("attachments", "pdf_path"), "file"),
    **dict.fromkeys(("context", "content", "message", "notes"), "text"),
}
#: The kind of value each parameter takes from a reference (None: any; names, titles and dates are no kind).
TAKES = {
    s.name: tuple(
        "phone" if (s.name, p.name) == ("send_sms", "recipients") else _TAKES_BY_NAME.get(p.name)
        for p in s.params
    )
    for s in tinyagent_tools()
}


class ReferenceTyper:
    """Re-points wrong-kind references in a plan's lines, fed in order (`feed`, then `close`); `plan` does a
    whole plan. A line that is not a step of a known tool passes unchanged, so the plan's parser still judges
    it.

    A step whose wrong-kind reference has no earlier step to point at is held back, with every step that
    refers to it, until the plan's `join()` (or its end): by then the steps after it are known, and the
    reference goes to the first of them that gives the right kind and that nothing uses (a model that wrote
    the email before the look-up of its recipient). Held steps come out just before `join()`, in their order,
    and the plan is numbered again so that every reference points back."""

    def __init__(self) -> None:
        self._tools: dict[int, str] = {}  # step number as written -> its tool (steps passed on)
        self._used: set[int] = set()  # steps (as written) some step refers to with the right kind
        self._number: dict[int, int] = {}  # step number as written -> as passed on
        self._held: list[tuple[int, str, tuple[Any, ...], str, str]] = []  # read_step_line's, and the line
        self._next = 1  # the number the next step passed on gets

    def plan(self, text: str) -> str:
        out = [o for raw in text.split("\n") for o in self.feed(raw)] + self.close()
        return "\n".join(out)

    def feed(self, raw: str) -> list[str]:
        """The lines to pass on for line `raw` (none while it is held; held ones after it once released)."""
        step = read_step_line(raw)
        if step is None:
            return [raw]
        idx, tool, args, end = step
        if tool == JOIN:
            out = self._release()
            self._number[idx] = self._next
            return [*out, renumbered_step(raw, idx, self._next)]
        held = {h[0] for h in self._held}
        if references(args) & held or not self._fits(idx, tool, args, later=False):
            self._held.append((*step, raw))
            return []
        return [self._passed(idx, tool, args, self._typed(idx, tool, args, later=False), end, raw)]

    def close(self) -> list[str]:
        """The steps still held (a plan that ended without `join()`), their references settled."""
        return self._release()

    # ------------------------------------------------------------------------------------------ internals

    @staticmethod
    def _kinds(tool: str, args: tuple[Any, ...]) -> tuple[str | None, ...]:
        # an unknown tool's arguments and extra ones take no kind; too few are left for the plan's checks
        takes = TAKES.get(tool, ())
        return takes + (None,) * max(0, len(args) - len(takes))

    def _fits(self, idx: int, tool: str, args: tuple[Any, ...], later: bool) -> bool:
        """Whether every reference of `args` is of the right kind or has a step to point at."""
        for value, kind in zip(args, self._kinds(tool, args), strict=False):
            for v in value if isinstance(value, list) else [value]:
                if kind and is_reference(v) and not self._right(v, kind):
                    if self._candidate(kind, idx, later) is None:
                        return False
        return True

    def _typed(self, idx: int, tool: str, args: tuple[Any, ...], later: bool) -> tuple[Any, ...]:
        kinds = self._kinds(tool, args)
        return tuple(self._fit(v, k, idx, later) for v, k in zip(args, kinds, strict=False))

    def _passed(
        self, idx: int, tool: str, written: tuple[Any, ...], args: tuple[Any, ...], end: str, raw: str
    ) -> str:
        """The line of step `idx` as passed on: `args` (its references re-pointed) with every number as
        passed on; `raw` itself where that changes nothing of what was `written`."""
        self._tools[idx] = tool
        self._number[idx] = self._next
        self._next += 1
        for value, kind in zip(args, self._kinds(tool, args), strict=False):
            if kind:
                self._used |= references(value)
        new = tuple(renumber_value(v, self._number) for v in args)
        if new == written and self._number[idx] == idx:
            return raw
        return f"{self._number[idx]}. {tool}({render_args(new)}){end}"

    def _release(self) -> list[str]:
        held, self._held = self._held, []
        return [
            self._passed(i, tool, args, self._typed(i, tool, args, later=True), end, raw)
            for i, tool, args, end, raw in held
        ]

    def _right(self, value: str, kind: str) -> bool:
        (j,) = references(value)  # `value` is one reference (`is_reference`)
        return GIVES.get(self._tools.get(j, "")) == kind

    def _candidate(self, kind: str, idx: int, later: bool, taken: Sequence[Any] = ()) -> int | None:
        """The step to point step `idx`'s `kind` reference at: the nearest earlier one that nothing uses yet;
        failing that, once the plan is whole (`later`), the first such step after it."""
        free = [
            i
            for i in self._tools
            if GIVES.get(self._tools[i]) == kind and i not in self._used and f"${i}" not in taken
        ]
        earlier = [i for i in free if i < idx]
        if earlier:
            return max(earlier)
        after = [i for i in free if i > idx] if later else []
        return min(after) if after else None

    def _fit(self, value: Any, kind: str | None, idx: int, later: bool) -> Any:
        if kind is None:
            return value
        if isinstance(value, list):
            out: list[Any] = []
            for v in value:
                w = self._pointed(v, kind, out, idx, later)
                if w is not None and (w == v or w not in out):  # a re-pointed one is not named twice
                    out.append(w)
            return out
        if is_reference(value):
            w = self._pointed(value, kind, [], idx, later)
            return "" if w is None else w
        return value

    def _pointed(self, value: Any, kind: str, taken: list[Any], idx: int, later: bool) -> Any:
        """`value`, or the reference it should be, or None (no step gives `kind`: drop it)."""
        if not is_reference(value) or self._right(value, kind):
            return value
        i = self._candidate(kind, idx, later, taken)
        if i is None:
            return None
        self._used.add(i)
        return f"${i}"


def renumbered_step(raw: str, idx: int, number: int) -> str:
    """The line `raw` of step `idx` as written (its arguments unchanged: a `join()`) numbered `number`."""
    return raw if number == idx else raw.replace(f"{idx}.", f"{number}.", 1)


def renumber_value(value: Any, number: dict[int, int]) -> Any:
    """`value` (an argument, a list of them) with each reference `$j` written `$number[j]`."""
    if isinstance(value, list):
        return [renumber_value(v, number) for v in value]
    return renumber_references(value, number) if isinstance(value, str) else value


def retype_references(text: str) -> str:
    """`text` (a plan) with each wrong-kind reference re-pointed or dropped (`ReferenceTyper`)."""
    return ReferenceTyper().plan(text)
