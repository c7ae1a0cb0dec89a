"""AppleScript generation for the macOS backend (script text only: osascript is never run).

A small reference lexer reads the scripts the way AppleScript reads text literals, so the tests can check
that no argument, however adversarial, changes the code outside the literals.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.tools.desktop import ToolError, maps_directions_url, maps_location_url
from workbench.tools.macos import (
    SCRIPT_TOOLS,
    MacOSBackend,
    applescript_list,
    applescript_string,
    build_script,
    zoom_request,
)
from workbench.tools.tinyagent import tinyagent_tools

SPECS = {t.name: t for t in tinyagent_tools()}

# ------------------------------------------------------------------------------ reference lexer

PLACEHOLDER = "<STR>"
_DECODE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


class LexError(AssertionError):
    """The script is not one AppleScript would read as intended (a test failure)."""


def lex(script: str) -> tuple[str, list[str]]:
    """(code with each text literal replaced by PLACEHOLDER, the decoded literals in order)."""
    code: list[str] = []
    literals: list[str] = []
    i, n = 0, len(script)
    while i < n:
        ch = script[i]
        if ch != '"':
            code.append(ch)
            i += 1
            continue
        start = i
        i += 1
        buf: list[str] = []
        while True:
            if i >= n:
                raise LexError(f"unterminated literal starting at {start}: {script[start : start + 40]!r}")
            ch = script[i]
            if ch == "\\":
                if i + 1 >= n:
                    raise LexError("backslash at the end of the script")
                esc = script[i + 1]
                if esc not in _DECODE:
                    raise LexError(f"unknown escape \\{esc} at {i}")
                buf.append(_DECODE[esc])
                i += 2
            elif ch == '"':
                i += 1
                break
            elif ch in "\n\r":
                raise LexError(f"raw line break inside the literal starting at {start}")
            else:
                buf.append(ch)
                i += 1
        literals.append("".join(buf))
        code.append(PLACEHOLDER)
    return "".join(code), literals


# Tokens that would change how AppleScript reads the code around literals (comments, continuation, raw codes).
_DANGEROUS_IN_CODE = ("--", "(*", "*)", "#", "¬", "«", "»", "\\")


def test_lexer_reads_literals_and_escapes():
    assert lex('say "hi" & "a\\"b\\\\c\\nd\\re\\tf"\n') == (
        f"say {PLACEHOLDER} & {PLACEHOLDER}\n",
        ["hi", 'a"b\\c\nd\re\tf'],
    )
    assert lex('""') == (PLACEHOLDER, [""])
    assert lex("set x to 1") == ("set x to 1", [])


@pytest.mark.parametrize("bad", ['"abc', '"a\\qb"', '"a\nb"', '"a\rb"', '"a\\', 'x "\\u0041"'])
def test_lexer_rejects_malformed_literals(bad):
    with pytest.raises(LexError):
        lex(bad)


# ------------------------------------------------------------------------------- adversarial text

INJECTION = '" & do shell script "rm -rf ~" & "'
FRAGMENTS = [
    '"',
    "\\",
    "\n",
    "\r",
    "\t",
    "\r\n",
    '\\"',
    '\\\\"',
    "\\n",
    '""',
    INJECTION,
    "¬",
    "¬\n",
    "«data»",
    "«event sysodlog»",
    "--",
    "(*",
    "*)",
    "#",
    "“",
    "”",
    "'",
    "é",
    "日本語",
    "🙂",
    "\u2028",
    "\u0085",
    "\x7f",
    "\x01",
    "end tell",
    "return",
    "$1",
    "{",
    "}",
    "&",
    " ",
]
_chars = st.characters(codec="utf-8", exclude_characters="\x00")  # no NUL, no lone surrogates: refused
adversarial = st.lists(
    st.one_of(st.sampled_from(FRAGMENTS), st.text(alphabet=_chars, min_size=1, max_size=6)),
    max_size=8,
).map("".join)
# Non-empty (an empty optional string legitimately drops a clause) and, for maps, not blank either.
adversarial_nonempty = st.tuples(adversarial, adversarial).map(lambda t: t[0] + "Z" + t[1])


@settings(max_examples=300, deadline=None)
@given(adversarial)
def test_applescript_string_round_trips(s):
    literal = applescript_string(s)
    assert lex(literal) == (PLACEHOLDER, [s])


@settings(max_examples=300, deadline=None)
@given(st.lists(adversarial, max_size=5))
def test_applescript_list_round_trips(values):
    code, literals = lex(applescript_list(values))
    assert code == "{" + ", ".join([PLACEHOLDER] * len(values)) + "}"
    assert literals == values


def test_applescript_string_known_values():
    assert applescript_string("") == '""'
    assert (
        applescript_string('say "hi" & do shell script "rm"') == '"say \\"hi\\" & do shell script \\"rm\\""'
    )
    assert applescript_string("a\\b\nc\rd\te") == '"a\\\\b\\nc\\rd\\te"'
    assert applescript_string("¬ «data» -- (*") == '"¬ «data» -- (*"'


@pytest.mark.parametrize("bad", ["\x00", "abc\x00", "\x00" + INJECTION])
def test_applescript_string_rejects_nul(bad):
    with pytest.raises(ValueError, match="NUL"):
        applescript_string(bad)


@pytest.mark.parametrize("bad", ["\ud800", "ok\udfff", "\udc00" + INJECTION])
def test_applescript_string_rejects_lone_surrogates(bad):
    with pytest.raises(ValueError, match="surrogate"):
        applescript_string(bad)


@pytest.mark.parametrize("bad", [None, 5, 1.5, b"bytes", ["a"], True])
def test_applescript_string_rejects_non_str(bad):
    with pytest.raises(TypeError):
        applescript_string(bad)


def test_nul_in_a_tool_argument_is_refused():
    with pytest.raises(ValueError, match="NUL"):
        build_script("create_note", SPECS["create_note"].bind(["a\x00b", "c", ""]))


# ------------------------------------------------------------------------------- tool scripts

FIXED = {  # values that are not fuzzed: they must stay valid, and they shape the script legitimately
    "start_date": "2024-06-12 10:00:00",
    "end_date": "2024-06-12 11:30:00",
    "due_date": "2024-06-20 09:30:15",
    "transport": "w",
}
LIST_LEN = 2
MAPS_TOOLS = ("maps_open_location", "maps_show_directions")


def slots(tool: str) -> list[tuple[str, str]]:
    """(param name, 'str' | 'list') for each fuzzed parameter of `tool`."""
    out = []
    for p in SPECS[tool].params:
        if p.name in FIXED:
            continue
        if p.type == "str":
            out.append((p.name, "str"))
        elif p.type == "list[str]":
            out.append((p.name, "list"))
    return out


def positional(tool: str, texts: dict[str, Any], priority: int = 2, all_day: bool = False) -> list[Any]:
    args = []
    for p in SPECS[tool].params:
        if p.name in FIXED:
            args.append(FIXED[p.name])
        elif p.name == "priority":
            args.append(priority)
        elif p.name == "all_day":
            args.append(all_day)
        else:
            args.append(texts[p.name])
    return args


def script_for(tool: str, texts: dict[str, Any], **fixed: Any) -> str:
    spec = SPECS[tool]
    args = positional(tool, texts, **fixed)
    assert spec.argument_errors(args) == []
    return build_script(tool, spec.bind(args))


def benign(tool: str, tag: bool = False) -> dict[str, Any]:
    """ "x" everywhere, or with `tag` a distinct marker per string so literals can be traced to inputs."""
    out: dict[str, Any] = {}
    for name, kind in slots(tool):
        if kind == "str":
            out[name] = f"x:{name}" if tag else "x"
        else:
            out[name] = [f"x:{name}:{i}" if tag else "x" for i in range(LIST_LEN)]
    return out


@st.composite
def tool_texts(draw: st.DrawFn, tool: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, kind in slots(tool):
        if kind == "str":
            out[name] = draw(adversarial_nonempty)
        else:
            out[name] = [draw(adversarial_nonempty) for _ in range(LIST_LEN)]
    return out


def test_script_tools_are_the_applescript_ones():
    assert set(SCRIPT_TOOLS) == set(SPECS) - {
        "open_and_get_file_path",
        "summarize_pdf",
        "get_zoom_meeting_link",
    }
    for tool in SCRIPT_TOOLS:
        assert slots(tool), tool  # every script tool takes some text to fuzz


@pytest.mark.parametrize("tool", SCRIPT_TOOLS)
def test_benign_scripts_lex_cleanly(tool):
    code, literals = lex(script_for(tool, benign(tool)))
    for token in _DANGEROUS_IN_CODE:
        assert token not in code, (tool, token)
    assert code.endswith("\n")
    assert literals


@pytest.mark.parametrize("tool", SCRIPT_TOOLS)
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_argument_can_change_the_code(tool, data):
    texts = data.draw(tool_texts(tool), label="texts")
    priority = data.draw(st.integers(0, 9), label="priority")
    all_day = data.draw(st.booleans(), label="all_day")
    fixed = {"priority": priority, "all_day": all_day}

    evil_code, evil_lits = lex(script_for(tool, texts, **fixed))
    plain_code, plain_lits = lex(script_for(tool, benign(tool), **fixed))
    assert evil_code == plain_code
    assert len(evil_lits) == len(plain_lits)

    if tool in MAPS_TOOLS:
        if tool == "maps_open_location":
            url = maps_location_url(texts["location"])
        else:
            url = maps_directions_url(texts["start_location"], texts["end_location"], FIXED["transport"])
        assert evil_lits == [url, url]
        return

    inputs = [v for value in texts.values() for v in (value if isinstance(value, list) else [value])]
    for text in inputs:
        assert text in evil_lits
    # Position by position: each literal is either the input placed there or the script's own constant.
    tag_code, tag_lits = lex(script_for(tool, benign(tool, tag=True), **fixed))
    assert tag_code == plain_code
    where = {}
    for name, value in benign(tool, tag=True).items():
        for i, marker in enumerate(value if isinstance(value, list) else [value]):
            where[marker] = texts[name][i] if isinstance(value, list) else texts[name]
    for tag_lit, evil_lit, plain_lit in zip(tag_lits, evil_lits, plain_lits, strict=True):
        if tag_lit in where:
            assert evil_lit == where[tag_lit]
        else:
            assert evil_lit == plain_lit == tag_lit
    assert set(where) <= set(tag_lits)


def test_calendar_script_dates_are_built_from_numbers():
    script = script_for("create_calendar_event", benign("create_calendar_event"))
    for line in (
        "set year of sd to 2024",
        "set month of sd to 6",
        "set day of sd to 12",
        "set time of sd to 36000",
        "set time of ed to 41400",
    ):
        assert line + "\n" in script
    assert script.index("set day of sd to 1\n") < script.index("set month of sd to 6")
    assert script.count("make new attendee") == LIST_LEN


def test_reminder_script_due_date_and_all_day():
    texts = benign("create_reminder")
    timed = script_for("create_reminder", texts, all_day=False)
    allday = script_for("create_reminder", texts, all_day=True)
    assert "set time of dd to 34215\n" in timed  # 09:30:15
    assert ", due date:dd}" in timed and "allday due date" not in timed
    assert ", allday due date:dd}" in allday
    assert "priority:2" in timed
    no_due = build_script("create_reminder", SPECS["create_reminder"].bind(["r", "", "", "", None, None]))
    assert "dd" not in lex(no_due)[0]
    assert "priority:0" in no_due


def test_bad_date_and_unknown_tool():
    with pytest.raises(ToolError, match="not a date"):
        build_script(
            "create_calendar_event",
            SPECS["create_calendar_event"].bind(["t", "next tuesday", "", "", [], "", ""]),
        )
    with pytest.raises(ToolError, match="not a date"):
        build_script("create_reminder", SPECS["create_reminder"].bind(["r", "2024-13-01", "", "", 0, False]))
    with pytest.raises(ValueError, match="not an AppleScript tool"):
        build_script("get_zoom_meeting_link", {})


# ------------------------------------------------------------------------------------------- zoom


def test_zoom_request_is_built_not_sent():
    req = zoom_request(
        "Design review", "2024-06-12 10:00:00", 45, ["sid.jha@example.com", "x@y.org"], "tok123"
    )
    assert req.full_url == "https://api.zoom.us/v2/users/me/meetings"
    assert req.get_method() == "POST"
    assert req.get_header("Authorization") == "Bearer tok123"
    assert req.get_header("Content-type") == "application/json"
    body = json.loads(req.data.decode())
    assert body["topic"] == "Design review"
    assert body["duration"] == 45
    assert body["start_time"] == "2024-06-12T10:00:00"
    assert [i["email"] for i in body["settings"]["meeting_invitees"]] == ["sid.jha@example.com", "x@y.org"]
    with pytest.raises(ToolError):
        zoom_request("t", "soon", 30, [], "tok")


# --------------------------------------------------------------------------------------- backend


@pytest.mark.skipif(sys.platform == "darwin", reason="the macOS backend starts on macOS")
def test_macos_backend_refuses_other_platforms():
    with pytest.raises(RuntimeError, match="SimulatedDesktop"):
        MacOSBackend()


def test_macos_backend_call_returns_errors_before_running_anything():
    # Skip __init__'s platform guard: every call below fails before osascript (absent on Linux) would run.
    backend = object.__new__(MacOSBackend)
    backend.timeout_s = 1.0
    backend.specs = SPECS
    assert backend.call("no_such_tool", []) == "Error: unknown tool 'no_such_tool'"
    assert backend.call("create_note", [1, "c", ""]).startswith("Error: create_note: name must be str")
    assert backend.call("create_note", ["a\x00b", "c", ""]).startswith(
        "Error: text for AppleScript cannot contain a NUL"
    )
    assert "surrogate" in backend.call("send_sms", ["+15550001111", "hi \ud800"])
    assert "not a date" in backend.call("create_reminder", ["r", "someday", "", "", 0, False])


# ------------------------------------------------------------------------ opening files (issue 21)


@pytest.fixture
def recording_backend(monkeypatch):
    """A backend whose subprocess calls are recorded, not run (`open` and `mdfind` exist only on macOS)."""
    from workbench.tools import macos

    ran: list[list[str]] = []
    found: list[str] = []

    def fake_run(cmd, *args, **kwargs):
        ran.append(list(cmd))
        out = "".join(f"{p}\n" for p in found) if cmd[0] == "mdfind" else ""
        return subprocess.CompletedProcess(cmd, 0, stdout=out, stderr="")

    monkeypatch.setattr(macos.subprocess, "run", fake_run)
    backend = object.__new__(MacOSBackend)
    backend.timeout_s = 1.0
    backend.specs = SPECS
    return backend, ran, found


@pytest.mark.parametrize("name", ["Lease Agreement.pdf", "plan.DOCX", "notes.md", "q3.numbers", "scan.jpeg"])
def test_open_and_get_file_path_opens_documents(tmp_path, recording_backend, name):
    backend, ran, _ = recording_backend
    doc = tmp_path.resolve() / name
    doc.write_text("x")
    assert backend.call("open_and_get_file_path", [str(doc)]) == str(doc)
    assert ran == [["open", str(doc)]]


@pytest.mark.parametrize(
    "name",
    [
        "Calculator.app",
        "run.command",
        "install.sh",
        "setup.pkg",
        "page.html",
        "Report.pdf.app",
        "macro.docm",
        "bin",
    ],
)
def test_open_and_get_file_path_only_reveals_what_is_not_a_document(tmp_path, recording_backend, name):
    backend, ran, _ = recording_backend
    target = tmp_path.resolve() / name
    if name.endswith(".app"):
        (target / "Contents" / "MacOS").mkdir(parents=True)  # an app is a folder (a bundle)
    else:
        target.write_text("#!/bin/sh\necho launched\n")
    assert backend.call("open_and_get_file_path", [str(target)]) == str(target)
    assert ran == [["open", "-R", str(target)]]  # shown in Finder, never launched


def test_a_link_named_like_a_document_is_judged_by_its_target(tmp_path, recording_backend):
    backend, ran, _ = recording_backend
    tmp_path = tmp_path.resolve()
    app = tmp_path / "Terminal.app"
    app.mkdir()
    link = tmp_path / "minutes.pdf"
    link.symlink_to(app)
    backend.call("open_and_get_file_path", [str(link)])
    assert ran == [["open", "-R", str(app)]]


def test_a_relative_path_is_opened_as_an_absolute_one(tmp_path, recording_backend, monkeypatch):
    backend, ran, _ = recording_backend
    tmp_path = tmp_path.resolve()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "-a Terminal.pdf").write_text("x")  # a leading dash must not read as an option of `open`
    assert backend.call("open_and_get_file_path", ["-a Terminal.pdf"]) == str(tmp_path / "-a Terminal.pdf")
    assert ran == [["open", str(tmp_path / "-a Terminal.pdf")]]


def test_a_spotlight_hit_that_is_an_app_is_only_revealed(recording_backend):
    backend, ran, found = recording_backend
    found.append("/System/Applications/Calculator.app")
    assert backend.call("open_and_get_file_path", ["Calculator"]) == "/System/Applications/Calculator.app"
    assert ran[0][0] == "mdfind"
    assert ran[1:] == [["open", "-R", "/System/Applications/Calculator.app"]]
