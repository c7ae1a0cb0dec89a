"""The 16 TinyAgent tools (Erdogan et al. 2024, Sec. 2 and Table 3) with TinyAgent's signatures.

The wording of descriptions and rules is ours; the names, parameter order and types follow the paper's
released agent, so that plans written for it parse and validate here.

    >>> [t.name for t in tinyagent_tools()][:2]
    ['get_phone_number', 'get_email_address']
"""

from __future__ import annotations

from workbench.tools.spec import Param, ToolSpec

DATE_RULE = "Dates are ISO 8601 with seconds: 'YYYY-MM-DD HH:MM:SS'."


def _p(
    name: str,
    type: str = "str",
    desc: str = "",
    optional: bool = False,
    single: bool = False,
    grounded: bool = False,
) -> Param:
    return Param(name, type, desc, optional=optional, single_ok=single, grounded=grounded)


_TOOLS = (
    ToolSpec(
        "get_phone_number",
        (_p("name", desc="the contact's name", grounded=True),),
        "Looks a contact up by name and returns their phone number.",
        app="Contacts",
    ),
    ToolSpec(
        "get_email_address",
        (_p("name", desc="the contact's name", grounded=True),),
        "Looks a contact up by name and returns their email address.",
        app="Contacts",
    ),
    ToolSpec(
        "create_calendar_event",
        (
            _p("title"),
            _p("start_date"),
            _p("end_date"),
            _p("location", optional=True, grounded=True),
            _p("invitees", "list[str]", "email addresses", optional=True, single=True),
            _p("notes", optional=True),
            _p("calendar", optional=True),
        ),
        "Creates an event in Calendar and returns whether it worked.",
        rules=(
            DATE_RULE,
            "invitees is a list of email addresses: look each one up first; use [] when nobody is invited.",
            "location, notes and calendar may be empty strings or None.",
        ),
        app="Calendar",
    ),
    ToolSpec(
        "open_and_get_file_path",
        (_p("file_name", desc="a file name or part of one", grounded=True),),
        "Finds a file by name, opens it and returns its full path.",
        app="Files",
    ),
    ToolSpec(
        "summarize_pdf",
        (_p("pdf_path"),),
        "Returns a short summary of a PDF file.",
        rules=("Call open_and_get_file_path first to get the PDF's path.",),
        app="Files",
    ),
    ToolSpec(
        "compose_new_email",
        (
            _p("recipients", "list[str]", "email addresses", single=True),
            _p("cc", "list[str]", optional=True, single=True),
            _p("subject"),
            _p("context", optional=True),
            _p("attachments", "list[str]", "file paths", optional=True, single=True),
        ),
        "Writes a new email in Mail and returns whether it worked.",
        rules=(
            "recipients and cc take one email address or a list of them.",
            "attachments takes one file path or a list of them (from open_and_get_file_path).",
            "context carries intermediate results into the body (a map link, a zoom link, a summary); "
            "otherwise leave it empty.",
        ),
        app="Mail",
    ),
    ToolSpec(
        "reply_to_email",
        (
            _p("cc", "list[str]", optional=True, single=True),
            _p("context", optional=True),
            _p("attachments", "list[str]", optional=True, single=True),
        ),
        "Replies to the email selected in Mail and returns whether it worked.",
        rules=(
            "cc and attachments take one value or a list.",
            "context is optional; leave it empty if unused.",
        ),
        app="Mail",
    ),
    ToolSpec(
        "forward_email",
        (
            _p("recipients", "list[str]", single=True),
            _p("cc", "list[str]", optional=True, single=True),
            _p("context", optional=True),
            _p("attachments", "list[str]", optional=True, single=True),
        ),
        "Forwards the email selected in Mail and returns whether it worked.",
        rules=("recipients, cc and attachments take one value or a list.",),
        app="Mail",
    ),
    ToolSpec(
        "maps_open_location",
        (_p("location", desc="a place name, address or coordinates", grounded=True),),
        "Shows a location in Maps and returns its Maps URL.",
        app="Maps",
    ),
    ToolSpec(
        "maps_show_directions",
        (
            _p("start_location", optional=True, grounded=True),
            _p("end_location", grounded=True),
            _p("transport", optional=True),
        ),
        "Shows directions between two locations in Maps and returns the URL.",
        rules=(
            "transport is 'd' (driving, the default), 'w' (walking) or 'r' (public transit).",
            "An empty start_location means the device's current location.",
        ),
        app="Maps",
    ),
    ToolSpec(
        "create_note",
        (_p("name", grounded=True), _p("content"), _p("folder", optional=True, grounded=True)),
        "Creates a note with a title and content and returns whether it worked.",
        rules=("folder is optional: use an empty string for the default folder.",),
        app="Notes",
    ),
    ToolSpec(
        "open_note",
        (_p("name", grounded=True), _p("folder", optional=True, grounded=True)),
        "Opens a note by its title and returns its content.",
        app="Notes",
    ),
    ToolSpec(
        "append_note_content",
        (_p("name", grounded=True), _p("content"), _p("folder", optional=True, grounded=True)),
        "Adds content to the end of an existing note and returns whether it worked.",
        app="Notes",
    ),
    ToolSpec(
        "create_reminder",
        (
            _p("name"),
            _p("due_date", optional=True),
            _p("notes", optional=True),
            _p("list_name", optional=True, grounded=True),
            _p("priority", "int", optional=True),
            _p("all_day", "bool", optional=True),
        ),
        "Creates a reminder and returns whether it worked.",
        rules=(
            DATE_RULE + " With all_day True the format is 'YYYY-MM-DD'.",
            "list_name may be empty; priority defaults to 0 and all_day to False.",
        ),
        app="Reminders",
    ),
    ToolSpec(
        "send_sms",
        (_p("recipients", "list[str]", "phone numbers", single=True), _p("message")),
        "Sends a text message and returns whether it worked.",
        rules=("recipients takes one phone number or a list of them: look them up first.",),
        app="SMS",
    ),
    ToolSpec(
        "get_zoom_meeting_link",
        (
            _p("topic"),
            _p("start_time"),
            _p("duration", "int", "minutes"),
            _p("meeting_invitees", "list[str]", "email addresses", single=True),
        ),
        "Creates a Zoom meeting and returns its join link.",
        rules=(
            DATE_RULE,
            "duration is in minutes.",
            "To share the link, pass it to create_calendar_event (notes) or compose_new_email (context).",
        ),
        app="Zoom",
    ),
)

TOOL_NAMES = tuple(t.name for t in _TOOLS)
#: The contact look-ups: reads with no side effect, so one call per name is all a plan ever needs.
LOOKUP_TOOLS = ("get_phone_number", "get_email_address")
APPS = tuple(dict.fromkeys(t.app for t in _TOOLS))


def tinyagent_tools(names: list[str] | None = None) -> list[ToolSpec]:
    """The 16 tools in a fixed order, or the named subset (in the order given)."""
    if names is None:
        return list(_TOOLS)
    by_name = {t.name: t for t in _TOOLS}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise KeyError(f"unknown TinyAgent tool(s) {missing}; the tools are: {', '.join(TOOL_NAMES)}")
    return [by_name[n] for n in names]
