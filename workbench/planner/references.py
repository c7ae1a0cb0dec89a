"""References of the right kind: a step's `$j` re-pointed where step j cannot give what the parameter takes.

Every reference in TinyAgent's plans passes one kind of value (checked on 30,000 training plans of the offline
teacher, and on the human-written dev set): an email address (`get_email_address`) to recipients, cc and
invitees; a phone number (`get_phone_number`) to a text's recipients; a file path (`open_and_get_file_path`)
to attachments and `summarize_pdf`; and text (a note, a summary, a Zoom or Maps link) to a body, a note's
content, a message or an event's notes. A small planner that has the right calls still wires them wrong on
phrasings it never saw: a note's body that names the email look-up, a text whose message is the reminder just
created. Such a reference is re-pointed at the nearest earlier step that gives the right kind and that no step
has used yet; where there is none, a list drops it and a text parameter gets "" (a message left for the user
to write, not a wrong value sent). Only earlier steps are candidates, so the repair runs line by line as a plan
streams (LLMCompiler runs each step as soon as it is written). A reference of the right kind, and every
parameter of no kind (names, titles, dates), is left as the model wrote it.

    >>> typer = ReferenceTyper()
    >>> typer.line('1. get_phone_number("Ilya")')
    '1. get_phone_number("Ilya")'
    >>> typer.line('2. create_reminder("Bring the projector", "2024-06-13", "", "", 0, True)')
    '2. create_reminder("Bring the projector", "2024-06-13", "", "", 0, True)'
    >>> typer.line('3. send_sms(["$1"], "$2")')
    '3. send_sms(["$1"], "")'
"""

from __future__ import annotations

from typing import Any

from workbench.plan import is_reference, read_step_line, render_args
from workbench.tools.tinyagent import tinyagent_tools

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
    """Re-points wrong-kind references in a plan's step lines, fed in order (`line`); `plan` does a whole plan.
    A line that is not a step of a known tool passes unchanged, so the plan's parser still judges it."""

    def __init__(self) -> None:
        self._tools: dict[int, str] = {}  # step number -> its tool
        self._used: set[int] = set()  # steps some later step refers to

    def plan(self, text: str) -> str:
        return "\n".join(map(self.line, text.split("\n")))

    def line(self, raw: str) -> str:
        step = read_step_line(raw)
        if step is None or step[1] not in TAKES:
            return raw
        idx, tool, args, end = step
        # extra arguments take no kind; too few are left for the plan's checks to report
        kinds = TAKES[tool] + (None,) * max(0, len(args) - len(TAKES[tool]))
        new = tuple(self._fit(value, kind) for value, kind in zip(args, kinds, strict=False))
        self._tools[idx] = tool
        return raw if new == args else f"{idx}. {tool}({render_args(new)}){end}"

    def _fit(self, value: Any, kind: str | None) -> Any:
        if kind is None:
            return value
        if isinstance(value, list):
            out: list[Any] = []
            for v in value:
                w = self._pointed(v, kind, out)
                if w is not None and (w == v or w not in out):  # a re-pointed one is not named twice
                    out.append(w)
            return out
        if is_reference(value):
            w = self._pointed(value, kind, [])
            return "" if w is None else w
        return value

    def _pointed(self, value: Any, kind: str, taken: list[Any]) -> Any:
        """`value`, or the reference it should be, or None (no earlier step gives `kind`: drop it)."""
        if not is_reference(value):
            return value
        j = int(value[1:])
        if GIVES.get(self._tools.get(j, "")) == kind:
            self._used.add(j)
            return value
        for i in sorted(self._tools, reverse=True):  # the nearest earlier step of the kind nothing uses yet
            if GIVES.get(self._tools[i]) == kind and i not in self._used and f"${i}" not in taken:
                self._used.add(i)
                return f"${i}"
        return None


def retype_references(text: str) -> str:
    """`text` (a plan) with each wrong-kind reference re-pointed or dropped (`ReferenceTyper`)."""
    return ReferenceTyper().plan(text)
