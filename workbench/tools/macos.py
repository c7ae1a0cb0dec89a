"""A macOS backend for the 16 TinyAgent tools: AppleScript through `osascript`, as TinyAgent drives the apps.

Only `MacOSBackend.call` touches the machine, and only on Darwin. Everything else here builds text: each
tool becomes one AppleScript program in which every user-supplied string is a quoted literal made by
`applescript_string`, so no argument (quotes, backslashes, newlines, `" & do shell script "...`) can leave
its literal and become code. Scripts are passed to `osascript -` on standard input, never through a shell.

    >>> applescript_string('say "hi" & do shell script "rm"')
    '"say \\\\"hi\\\\" & do shell script \\\\"rm\\\\""'

Not covered by AppleScript: `open_and_get_file_path` uses Spotlight (`mdfind`) and opens documents only
(`open_command`: an app or a script a plan names is shown in Finder, never launched), `summarize_pdf`
reads the PDF with `pypdf` when it is installed (extractive summary, where TinyAgent calls an LLM), and
`get_zoom_meeting_link` calls Zoom's REST API with `ZOOM_ACCESS_TOKEN`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import urllib.request
from collections.abc import Sequence
from typing import Any

from workbench.tools.desktop import (
    ToolError,
    bind_arguments,
    maps_directions_url,
    maps_location_url,
    parse_datetime,
)
from workbench.tools.spec import ERROR_PREFIX
from workbench.tools.tinyagent import tinyagent_tools

_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def applescript_string(value: str) -> str:
    """A double-quoted AppleScript literal whose value is exactly `value` (NUL is refused)."""
    if not isinstance(value, str):
        raise TypeError(f"expected str, got {type(value).__name__}")
    if "\x00" in value:
        raise ValueError("text for AppleScript cannot contain a NUL character")
    if re.search("[\ud800-\udfff]", value):
        raise ValueError("text for AppleScript cannot contain a lone surrogate (it is not valid Unicode)")
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def applescript_list(values: Sequence[str]) -> str:
    return "{" + ", ".join(applescript_string(v) for v in values) + "}"


def _date_lines(var: str, when: dt.datetime) -> str:
    """Build an AppleScript date from numbers (parsing date text in AppleScript depends on the locale)."""
    return (
        f"set {var} to current date\n"
        f"set day of {var} to 1\n"
        f"set year of {var} to {when.year}\n"
        f"set month of {var} to {when.month}\n"
        f"set day of {var} to {when.day}\n"
        f"set time of {var} to {when.hour * 3600 + when.minute * 60 + when.second}\n"
    )


def _lookup(kind: str, name: str) -> str:
    prop = {"phone": "phones", "email": "emails"}[kind]
    return (
        'tell application "Contacts"\n'
        f"set hits to (every person whose name contains {applescript_string(name)})\n"
        'if (count of hits) is 0 then error "No contact matches that name."\n'
        "set p to item 1 of hits\n"
        f'if (count of {prop} of p) is 0 then error "The contact has no {kind} on record."\n'
        f"return value of item 1 of {prop} of p\n"
        "end tell\n"
    )


def _recipients(var: str, kind: str, addresses: Sequence[str]) -> str:
    return "".join(
        f"make new {kind} recipient at end of {kind} recipients of {var} with properties "
        f"{{address:{applescript_string(a)}}}\n"
        for a in addresses
    )


def _attachments(var: str, paths: Sequence[str]) -> str:
    return "".join(
        f"make new attachment with properties {{file name:(POSIX file {applescript_string(p)}) as alias}} "
        f"at after the last paragraph of content of {var}\n"
        for p in paths
    )


def build_script(tool: str, args: dict[str, Any]) -> str:
    """The AppleScript program for one call, from arguments already named by `ToolSpec.bind`."""
    s = applescript_string
    if tool == "get_phone_number":
        return _lookup("phone", args["name"])
    if tool == "get_email_address":
        return _lookup("email", args["name"])
    if tool == "create_calendar_event":
        start = parse_datetime(args["start_date"], "start_date") or dt.datetime.now().replace(microsecond=0)
        end = parse_datetime(args["end_date"], "end_date") or start + dt.timedelta(hours=1)
        target = f"calendar {s(args['calendar'])}" if args.get("calendar") else "first calendar"
        props = f"summary:{s(args['title'])}, start date:sd, end date:ed"
        if args.get("location"):
            props += f", location:{s(args['location'])}"
        if args.get("notes"):
            props += f", description:{s(args['notes'])}"
        attendees = "".join(
            f"make new attendee at end of attendees of e with properties {{email:{s(a)}}}\n"
            for a in args.get("invitees") or []
        )
        return (
            _date_lines("sd", start)
            + _date_lines("ed", end)
            + f'tell application "Calendar"\ntell {target}\n'
            + f"set e to make new event at end with properties {{{props}}}\n"
            + attendees
            + "end tell\nend tell\n"
            + 'return "Event created successfully."\n'
        )
    if tool == "compose_new_email":
        return (
            'tell application "Mail"\n'
            f"set m to make new outgoing message with properties {{subject:{s(args['subject'])}, "
            f"content:{s(args.get('context') or '')}, visible:true}}\n"
            "tell m\n"
            + _recipients("m", "to", args["recipients"])
            + _recipients("m", "cc", args.get("cc") or [])
            + _attachments("m", args.get("attachments") or [])
            + "end tell\nactivate\nend tell\n"
            'return "New email composed."\n'
        )
    if tool in ("reply_to_email", "forward_email"):
        verb = "reply" if tool == "reply_to_email" else "forward"
        to = _recipients("r", "to", args["recipients"]) if verb == "forward" else ""
        return (
            'tell application "Mail"\n'
            "set sel to selection\n"
            'if (count of sel) is 0 then error "No email is selected in Mail."\n'
            f"set r to {verb} (item 1 of sel) opening window yes\n"
            "tell r\n"
            + to
            + _recipients("r", "cc", args.get("cc") or [])
            + _attachments("r", args.get("attachments") or [])
            + "end tell\n"
            f"set content of r to {s(args.get('context') or '')} & return & (content of r)\n"
            "end tell\n"
            f'return "Email {verb} ready."\n'
        )
    if tool in ("maps_open_location", "maps_show_directions"):
        url = (
            maps_location_url(args["location"])
            if tool == "maps_open_location"
            else maps_directions_url(args.get("start_location"), args["end_location"], args.get("transport"))
        )
        return f"open location {s(url)}\nreturn {s(url)}\n"
    if tool in ("create_note", "open_note", "append_note_content"):
        folder = f"folder {s(args['folder'])}" if args.get("folder") else "default account"
        if tool == "create_note":
            return (
                f'tell application "Notes"\nmake new note at {folder} with properties '
                f"{{name:{s(args['name'])}, body:{s(args['content'])}}}\nend tell\n"
                'return "Note created successfully."\n'
            )
        find = f"set n to first note of {folder} whose name is {s(args['name'])}\n"
        if tool == "open_note":
            return f'tell application "Notes"\n{find}show n\nreturn plaintext of n\nend tell\n'
        return (
            f'tell application "Notes"\n{find}'
            f'set body of n to (body of n) & "<br>" & {s(args["content"])}\nend tell\n'
            'return "Note updated successfully."\n'
        )
    if tool == "create_reminder":
        due = parse_datetime(args.get("due_date"), "due_date")
        target = f"list {s(args['list_name'])}" if args.get("list_name") else "default list"
        props = f"name:{s(args['name'])}, body:{s(args.get('notes') or '')}, priority:{int(args.get('priority') or 0)}"
        date_prop = ""
        if due is not None:
            date_prop = ", allday due date:dd" if args.get("all_day") else ", due date:dd"
        return (
            (_date_lines("dd", due) if due else "")
            + f'tell application "Reminders"\ntell {target}\n'
            + f"make new reminder with properties {{{props}{date_prop}}}\nend tell\nend tell\n"
            + 'return "Reminder created successfully."\n'
        )
    if tool == "send_sms":
        return (
            'tell application "Messages"\n'
            "set svc to 1st account whose service type = iMessage\n"
            f"repeat with num in {applescript_list(args['recipients'])}\n"
            f"send {s(args['message'])} to participant (contents of num) of svc\n"
            "end repeat\nend tell\n"
            'return "Message sent."\n'
        )
    raise ValueError(f"{tool} is not an AppleScript tool")


# Kinds of file that `open` hands to a viewer or an editor. Everything else (apps, scripts, installers, web
# pages, macro-enabled Office files, folders) could run code when opened, so it is only revealed in Finder.
DOCUMENT_TYPES = frozenset(
    {
        *("pdf", "txt", "md", "markdown", "rtf", "rtfd", "csv", "tsv"),
        *("docx", "xlsx", "pptx", "odt", "ods", "odp", "pages", "key", "numbers"),
        *("png", "jpg", "jpeg", "gif", "heic", "heif", "tif", "tiff", "bmp", "webp"),
    }
)


def open_command(path: str) -> list[str]:
    """How to show a found file: a document opens in its app; anything else is only revealed in Finder.

    A plan is model output (and its file names may come from an email or a web page), so it must not be
    able to launch programs: `open Tool.command` runs a shell script and `open X.app` starts an app. The
    type is read from the real path, after links, because `open` follows them; the path is absolute, so
    that no name can read as an option of `open`.

        >>> open_command("/Users/me/Lease.pdf"), open_command("/Applications/Terminal.app")
        (['open', '/Users/me/Lease.pdf'], ['open', '-R', '/Applications/Terminal.app'])
    """
    real = os.path.realpath(path)
    kind = os.path.splitext(real)[1].lower().lstrip(".")
    return ["open", real] if kind in DOCUMENT_TYPES else ["open", "-R", real]


SCRIPT_TOOLS = (
    "get_phone_number",
    "get_email_address",
    "create_calendar_event",
    "compose_new_email",
    "reply_to_email",
    "forward_email",
    "maps_open_location",
    "maps_show_directions",
    "create_note",
    "open_note",
    "append_note_content",
    "create_reminder",
    "send_sms",
)


def zoom_request(
    topic: str, start_time: str, duration: int, invitees: Sequence[str], token: str
) -> urllib.request.Request:
    """The Zoom REST call that creates a meeting (sent by `MacOSBackend`; built separately for tests)."""
    start = parse_datetime(start_time, "start_time")
    body = {
        "topic": topic,
        "type": 2,
        "duration": duration,
        "start_time": start.strftime("%Y-%m-%dT%H:%M:%S") if start else None,
        "settings": {"meeting_invitees": [{"email": e} for e in invitees]},
    }
    return urllib.request.Request(
        "https://api.zoom.us/v2/users/me/meetings",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )


class MacOSBackend:
    """Runs the tools on this Mac. Same interface as `SimulatedDesktop.call`: returns an observation."""

    def __init__(self, timeout_s: float = 30.0):
        if sys.platform != "darwin":
            raise RuntimeError("the macOS backend runs only on macOS; use workbench.tools.SimulatedDesktop")
        self.timeout_s = timeout_s
        self.specs = {t.name: t for t in tinyagent_tools()}

    def call(self, tool: str, args: Sequence[Any]) -> str:
        try:
            return self._run(tool, bind_arguments(self.specs, tool, args))
        except ToolError as e:
            return f"{ERROR_PREFIX}{e}"

    def _run(self, tool: str, a: dict[str, Any]) -> str:
        if tool in SCRIPT_TOOLS:
            try:
                script = build_script(tool, a)
            except ValueError as e:  # text AppleScript cannot carry (NUL, lone surrogate): an observation
                raise ToolError(str(e)) from None
            return self.osascript(script)
        if tool == "open_and_get_file_path":
            return self._find_file(a["file_name"], open_it=True)
        if tool == "summarize_pdf":
            return self._summarize(a["pdf_path"])
        if tool == "get_zoom_meeting_link":
            token = os.environ.get("ZOOM_ACCESS_TOKEN")
            if not token:
                raise ToolError("set ZOOM_ACCESS_TOKEN to create Zoom meetings")
            req = zoom_request(a["topic"], a["start_time"], a["duration"], a["meeting_invitees"], token)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout_s) as resp:
                    return json.load(resp)["join_url"]
            except (OSError, ValueError, KeyError) as e:  # HTTP and network errors, a body without the link
                raise ToolError(f"Zoom did not create the meeting: {e}") from None
        raise ToolError(f"unknown tool {tool!r}")

    def osascript(self, script: str) -> str:
        try:
            done = subprocess.run(
                ["osascript", "-"],
                input=script,
                capture_output=True,
                text=True,
                timeout=self.timeout_s,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ToolError(f"the app did not answer within {self.timeout_s:.0f} s") from None
        if done.returncode != 0:
            raise ToolError(done.stderr.strip() or f"osascript exited with {done.returncode}")
        return done.stdout.strip()

    def _find_file(self, name: str, open_it: bool) -> str:
        if os.path.exists(name):
            path = os.path.abspath(name)
        else:
            found = subprocess.run(
                ["mdfind", "-name", name], capture_output=True, text=True, timeout=self.timeout_s, check=False
            ).stdout.splitlines()
            if not found:
                raise ToolError(f"no file matching {name!r} was found")
            path = found[0]
        if open_it:
            subprocess.run(open_command(path), check=False, timeout=self.timeout_s)
        return path

    def _summarize(self, pdf_path: str) -> str:
        path = self._find_file(pdf_path, open_it=False)
        try:
            from pypdf import PdfReader
        except ImportError:
            raise ToolError("summarize_pdf on macOS needs `pip install pypdf`") from None
        text = " ".join((page.extract_text() or "") for page in PdfReader(path).pages[:3])
        sentences = re.split(r"(?<=[.!?])\s+", text.strip())
        return " ".join(sentences[:2]) or "The PDF has no extractable text."
