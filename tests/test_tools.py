"""The 16 TinyAgent tool specs, argument checking, the simulated desktop and its latency model."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import subprocess
import sys
import time

import pytest

from workbench.bench.mathtool import as_expression, evaluate, solve_math
from workbench.plan import parse_plan
from workbench.tools import (
    LatencyModel,
    Param,
    SimulatedDesktop,
    ToolCall,
    ToolSpec,
    tinyagent_tools,
    tool_block,
)
from workbench.tools.desktop import ERROR_PREFIX, maps_directions_url, maps_location_url

EXPECTED_NAMES = [
    "get_phone_number",
    "get_email_address",
    "create_calendar_event",
    "open_and_get_file_path",
    "summarize_pdf",
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
    "get_zoom_meeting_link",
]

SPECS = {t.name: t for t in tinyagent_tools()}


def sig(name: str) -> list[tuple[str, str]]:
    return [(p.name, p.type) for p in SPECS[name].params]


# ------------------------------------------------------------------------------------------- specs


def test_tinyagent_tools_are_exactly_the_sixteen_in_order():
    tools = tinyagent_tools()
    assert [t.name for t in tools] == EXPECTED_NAMES
    assert len({t.name for t in tools}) == 16
    assert all(isinstance(t, ToolSpec) and t.description and t.app for t in tools)


def test_tinyagent_tools_subset_and_unknown_name():
    assert [t.name for t in tinyagent_tools(["send_sms", "get_phone_number"])] == [
        "send_sms",
        "get_phone_number",
    ]
    with pytest.raises(KeyError, match="no_such_tool"):
        tinyagent_tools(["send_sms", "no_such_tool"])


def test_exact_signatures():
    assert sig("create_calendar_event") == [
        ("title", "str"),
        ("start_date", "str"),
        ("end_date", "str"),
        ("location", "str"),
        ("invitees", "list[str]"),
        ("notes", "str"),
        ("calendar", "str"),
    ]
    assert sig("create_reminder") == [
        ("name", "str"),
        ("due_date", "str"),
        ("notes", "str"),
        ("list_name", "str"),
        ("priority", "int"),
        ("all_day", "bool"),
    ]
    assert sig("get_zoom_meeting_link") == [
        ("topic", "str"),
        ("start_time", "str"),
        ("duration", "int"),
        ("meeting_invitees", "list[str]"),
    ]
    assert sig("compose_new_email") == [
        ("recipients", "list[str]"),
        ("cc", "list[str]"),
        ("subject", "str"),
        ("context", "str"),
        ("attachments", "list[str]"),
    ]
    assert sig("send_sms") == [("recipients", "list[str]"), ("message", "str")]
    assert sig("get_phone_number") == [("name", "str")]
    assert SPECS["get_zoom_meeting_link"].signature() == (
        "get_zoom_meeting_link(topic: str, start_time: str, duration: int, meeting_invitees: list[str]) -> str"
    )


def test_describe_renders_numbered_block_with_bullets():
    spec = SPECS["create_calendar_event"]
    block = spec.describe(3)
    lines = block.split("\n")
    assert lines[0].startswith("3. create_calendar_event(")
    assert lines[0].endswith(":")
    assert len(lines) == 1 + 1 + len(spec.rules)
    assert all(line.startswith(" - ") for line in lines[1:])
    assert lines[1] == " - " + spec.description
    unnumbered = spec.describe()
    assert unnumbered.startswith("create_calendar_event(")
    whole = tool_block(tinyagent_tools())
    for i, name in enumerate(EXPECTED_NAMES, 1):
        assert re.search(rf"^{i}\. {name}\(", whole, re.M), name


def test_param_rejects_unknown_type():
    with pytest.raises(ValueError, match="unknown type"):
        Param("x", "dict")


# ------------------------------------------------------------------------------- argument checking


def test_argument_errors_wrong_count():
    errors = SPECS["get_email_address"].argument_errors(["Sid", "Lutfi"])
    assert errors == ["takes 1 argument (name), got 2"]
    errors = SPECS["send_sms"].argument_errors([])
    assert len(errors) == 1 and errors[0].startswith("takes 2 arguments (recipients, message), got 0")


def test_argument_errors_wrong_types():
    assert SPECS["get_phone_number"].argument_errors([5]) == ["name must be str, got int 5"]
    zoom = SPECS["get_zoom_meeting_link"]
    assert zoom.argument_errors(["t", "2024-06-12 10:00:00", 30, ["a@b.c"]]) == []
    errs = zoom.argument_errors(["t", "2024-06-12 10:00:00", True, ["a@b.c"]])  # bool is not an int
    assert len(errs) == 1 and errs[0].startswith("duration must be int")
    errs = zoom.argument_errors(["t", "2024-06-12 10:00:00", "30", ["a@b.c"]])
    assert len(errs) == 1 and errs[0].startswith("duration must be int")
    rem = SPECS["create_reminder"]
    assert rem.argument_errors(["r", "", "", "", 1, False]) == []
    errs = rem.argument_errors(["r", "", "", "", 1, 1])  # int is not a bool
    assert len(errs) == 1 and errs[0].startswith("all_day must be bool")
    # every problem is reported, in parameter order
    errs = rem.argument_errors([1, "", "", "", "high", "yes"])
    assert [e.split()[0] for e in errs] == ["name", "priority", "all_day"]


def test_list_params_accept_single_string_only_where_single_ok():
    sms = SPECS["send_sms"]
    assert sms.params[0].single_ok
    assert sms.argument_errors(["+15551234567", "hi"]) == []
    assert sms.argument_errors([["+15551234567", "Sid"], "hi"]) == []
    assert sms.argument_errors([("+15551234567",), "hi"]) == []
    errs = sms.argument_errors([["+1555", 3], "hi"])
    assert len(errs) == 1 and errs[0].startswith("recipients must be list[str] (or a single str)")
    strict = ToolSpec("t", (Param("xs", "list[str]"),), "d")
    assert strict.argument_errors([["a"]]) == []
    errs = strict.argument_errors(["a"])
    assert len(errs) == 1 and errs[0].startswith("xs must be list[str], got str")


@pytest.mark.parametrize("ref", ["$1", "${2}", " $3 ", "${12}"])
def test_reference_accepted_for_any_type(ref):
    zoom = SPECS["get_zoom_meeting_link"]
    assert zoom.argument_errors([ref, ref, ref, ref]) == []
    rem = SPECS["create_reminder"]
    assert rem.argument_errors([ref, ref, ref, ref, ref, ref]) == []
    strict = ToolSpec("t", (Param("xs", "list[str]"),), "d")
    assert strict.argument_errors([ref]) == []


@pytest.mark.parametrize("not_ref", ["$", "$x", "$1 and $2", "${1", "1"])
def test_non_reference_strings_are_not_accepted_for_int(not_ref):
    zoom = SPECS["get_zoom_meeting_link"]
    errs = zoom.argument_errors(["t", "2024-06-12 10:00:00", not_ref, ["a@b.c"]])
    assert len(errs) == 1 and errs[0].startswith("duration must be int")


def test_none_accepted_only_for_optional_params():
    cal = SPECS["create_calendar_event"]
    assert (
        cal.argument_errors(["T", "2024-06-12 10:00:00", "2024-06-12 11:00:00", None, None, None, None]) == []
    )
    errs = cal.argument_errors([None, "2024-06-12 10:00:00", "2024-06-12 11:00:00", None, None, None, None])
    assert errs == ["title is required (got None)"]
    rem = SPECS["create_reminder"]
    assert rem.argument_errors(["r", None, None, None, None, None]) == []
    errs = SPECS["get_zoom_meeting_link"].argument_errors(["t", "2024-06-12 10:00:00", None, ["a@b.c"]])
    assert errs == ["duration is required (got None)"]


def test_bind_names_and_wraps_single_values():
    sms = SPECS["send_sms"]
    assert sms.bind(["+15551234567", "hi"]) == {"recipients": ["+15551234567"], "message": "hi"}
    assert sms.bind([("a", "b"), "hi"]) == {"recipients": ["a", "b"], "message": "hi"}
    email = SPECS["compose_new_email"]
    bound = email.bind(["a@b.c", None, "S", "", "/tmp/x.pdf"])
    assert bound == {
        "recipients": ["a@b.c"],
        "cc": None,
        "subject": "S",
        "context": "",
        "attachments": ["/tmp/x.pdf"],
    }
    with pytest.raises(ValueError, match="send_sms: .*takes 2 arguments"):
        sms.bind(["a"])
    with pytest.raises(ValueError, match="message must be str"):
        sms.bind(["a", 3])


# ------------------------------------------------------------------------------- simulated desktop


def run_sequence(d: SimulatedDesktop) -> list[str]:
    return [
        d.call("get_phone_number", ["Sid"]),
        d.call("get_email_address", ["Lutfi Erdogan"]),
        d.call("get_zoom_meeting_link", ["Sync", "2024-06-12 10:00:00", 30, ["Nick Lee"]]),
        d.call("send_sms", ["Kurt Keutzer", "hello"]),
        d.call("get_phone_number", ["Nobody At All"]),
        d.call("create_calendar_event", ["Sync", "2024-06-12 10:00:00", "", "", ["Sid"], "", ""]),
    ]


def test_desktop_deterministic_for_seed():
    a, b = SimulatedDesktop(seed=7), SimulatedDesktop(seed=7)
    assert a.contacts == b.contacts
    assert run_sequence(a) == run_sequence(b)
    assert [(c.tool, c.args, c.result, c.ok) for c in a.calls] == [
        (c.tool, c.args, c.result, c.ok) for c in b.calls
    ]
    assert a.calendar == b.calendar and a.sms == b.sms and a.zoom_meetings == b.zoom_meetings


def test_desktop_different_seed_changes_phone_numbers():
    a, b = SimulatedDesktop(seed=1), SimulatedDesktop(seed=2)
    common = sorted(set(a.contacts) & set(b.contacts))
    assert {"Sid Jha", "Lutfi Erdogan", "Nick Lee", "Kurt Keutzer", "Amir Gholami"} <= set(common)
    assert all(a.contacts[n].phone != b.contacts[n].phone for n in common)
    assert a.call("get_phone_number", ["Sid Jha"]) != b.call("get_phone_number", ["Sid Jha"])


def test_contact_lookup():
    d = SimulatedDesktop(seed=0)
    sid = d.contacts["Sid Jha"]
    assert re.fullmatch(r"\+1\d{10}", sid.phone)
    assert d.call("get_phone_number", ["Sid Jha"]) == sid.phone
    assert d.call("get_phone_number", ["sid"]) == sid.phone  # first name, any case
    assert d.call("get_phone_number", ["Jha"]) == sid.phone  # last name
    assert d.call("get_email_address", ["Sid"]) == "sid.jha@example.com"
    assert d.call("get_email_address", ["Lutfi"]) == "lutfi.erdogan@example.com"


def test_calendar_event_resolves_invitee_names():
    d = SimulatedDesktop(seed=0)
    out = d.call(
        "create_calendar_event",
        [
            "Review",
            "2024-06-13 14:00:00",
            "2024-06-13 15:30:00",
            "Room 1",
            ["Sid", "x@y.org"],
            "bring notes",
            "",
        ],
    )
    assert not out.startswith(ERROR_PREFIX), out
    assert "2024-06-13" in out and "14:00" in out and "15:30" in out
    assert d.calendar == [
        {
            "title": "Review",
            "start": "2024-06-13 14:00:00",
            "end": "2024-06-13 15:30:00",
            "location": "Room 1",
            "invitees": ["sid.jha@example.com", "x@y.org"],
            "notes": "bring notes",
            "calendar": "Calendar",
        }
    ]
    # a single invitee string is wrapped; an empty end date means one hour
    d.call("create_calendar_event", ["Solo", "2024-06-14 09:00:00", "", None, "Nick Lee", None, "Work"])
    assert d.calendar[-1]["invitees"] == ["nick.lee@example.com"]
    assert d.calendar[-1]["end"] == "2024-06-14 10:00:00"
    assert d.calendar[-1]["calendar"] == "Work"


def test_calendar_event_ending_before_start_is_an_error():
    d = SimulatedDesktop(seed=0)
    out = d.call("create_calendar_event", ["X", "2024-06-13 14:00:00", "2024-06-13 13:00:00", "", [], "", ""])
    assert out.startswith(ERROR_PREFIX)
    assert d.calendar == []


def test_files_and_summarize_pdf():
    d = SimulatedDesktop(seed=0)
    path = d.call("open_and_get_file_path", ["LLMCompiler"])
    assert path == "/Users/me/Documents/Research/LLMCompiler.pdf"
    assert (
        d.call("open_and_get_file_path", ["lease agreement.pdf"]) == "/Users/me/Downloads/Lease Agreement.pdf"
    )
    summary = d.call("summarize_pdf", [path])
    assert summary.startswith("LLMCompiler plans function calls as a DAG")
    assert summary in d.files[path]
    d.add_file("/Users/me/Desktop/Notes On Things.pdf", "First point. Second point! Third point? Fourth.")
    assert d.call("summarize_pdf", ["Notes On Things"]) == "First point. Second point!"


def test_compose_email_resolves_recipients_and_attachments():
    d = SimulatedDesktop(seed=0)
    out = d.call(
        "compose_new_email", [["Sid", "x@y.org"], "Lutfi", "Paper", "see attached", ["LLMCompiler", "Lease"]]
    )
    assert not out.startswith(ERROR_PREFIX), out
    mail = d.outbox[-1]
    assert mail.kind == "new"
    assert mail.to == ["sid.jha@example.com", "x@y.org"]
    assert mail.cc == ["lutfi.erdogan@example.com"]
    assert mail.subject == "Paper" and mail.body == "see attached"
    assert mail.attachments == [
        "/Users/me/Documents/Research/LLMCompiler.pdf",
        "/Users/me/Downloads/Lease Agreement.pdf",
    ]


def test_reply_and_forward_use_selected_email():
    d = SimulatedDesktop(seed=0)
    original = d.inbox[0]
    out = d.call("reply_to_email", [None, "Looks good", "Quarterly Report"])
    assert not out.startswith(ERROR_PREFIX), out
    reply = d.outbox[-1]
    assert (
        reply.kind == "reply" and reply.to == [original.sender] and reply.subject == "Re: " + original.subject
    )
    assert reply.body == "Looks good"
    assert reply.attachments == ["/Users/me/Documents/Quarterly Report Q2.pdf"]
    out = d.call("forward_email", ["Nick", ["Kurt"], "FYI", None])
    assert not out.startswith(ERROR_PREFIX), out
    fwd = d.outbox[-1]
    assert (
        fwd.kind == "forward"
        and fwd.to == ["nick.lee@example.com"]
        and fwd.cc == ["kurt.keutzer@example.com"]
    )
    assert fwd.subject == "Fwd: " + original.subject
    assert fwd.body.startswith("FYI") and original.body in fwd.body
    d.selected_email = None
    assert d.call("reply_to_email", [None, "x", None]).startswith(ERROR_PREFIX)
    assert len(d.outbox) == 2


def test_maps_urls():
    d = SimulatedDesktop(seed=0)
    assert (
        d.call("maps_open_location", ["Golden Gate Bridge"])
        == "https://maps.apple.com/?q=Golden%20Gate%20Bridge"
    )
    assert d.call("maps_open_location", ["Golden Gate Bridge"]) == maps_location_url("Golden Gate Bridge")
    url = d.call("maps_show_directions", ["Berkeley", "San Francisco & Co", "walking"])
    assert url == "https://maps.apple.com/?saddr=Berkeley&daddr=San%20Francisco%20%26%20Co&dirflg=w"
    assert url == maps_directions_url("Berkeley", "San Francisco & Co", "w")
    assert d.call("maps_show_directions", ["", "SFO", None]) == "https://maps.apple.com/?daddr=SFO&dirflg=d"
    assert d.call("maps_show_directions", [None, "SFO", "r"]).endswith("dirflg=r")
    assert d.call("maps_show_directions", ["A", "B", "teleport"]).startswith(ERROR_PREFIX)
    assert d.call("maps_open_location", ["   "]).startswith(ERROR_PREFIX)


def test_notes_create_open_append():
    d = SimulatedDesktop(seed=0)
    assert not d.call("create_note", ["Plan", "Step one.", ""]).startswith(ERROR_PREFIX)
    assert d.notes["Notes"]["Plan"] == "Step one."
    assert d.call("open_note", ["plan", None]) == "Step one."  # any folder, case-insensitive
    assert not d.call("append_note_content", ["Plan", "Step two.", "Notes"]).startswith(ERROR_PREFIX)
    assert d.notes["Notes"]["Plan"] == "Step one.\nStep two."
    assert d.call("open_note", ["Plan", ""]) == "Step one.\nStep two."
    d.call("create_note", ["Trip", "Pack.", "Travel"])
    assert d.notes["Travel"] == {"Trip": "Pack."}
    assert d.call("open_note", ["Trip", "Travel"]) == "Pack."
    assert d.call("open_note", ["Trip", "Work"]).startswith(ERROR_PREFIX)
    assert d.call("open_note", ["Missing", None]).startswith(ERROR_PREFIX)
    assert d.call("append_note_content", ["Missing", "x", None]).startswith(ERROR_PREFIX)


def test_reminder_recorded():
    d = SimulatedDesktop(seed=0)
    out = d.call("create_reminder", ["Pay rent", "2024-07-01 09:00:00", "by transfer", "Home", 1, False])
    assert out == "Reminder 'Pay rent' created due 2024-07-01 09:00."
    assert d.reminders == [
        {
            "name": "Pay rent",
            "due": "2024-07-01 09:00:00",
            "notes": "by transfer",
            "list": "Home",
            "priority": 1,
            "all_day": False,
        }
    ]
    d.call("create_reminder", ["Call mum", "2024-07-02", None, None, None, True])
    assert d.reminders[-1] == {
        "name": "Call mum",
        "due": "2024-07-02 00:00:00",
        "notes": "",
        "list": "Reminders",
        "priority": 0,
        "all_day": True,
    }


def test_sms_resolves_phone_from_name():
    d = SimulatedDesktop(seed=0)
    out = d.call("send_sms", [["Sid", "+15550001111"], "Running late"])
    assert not out.startswith(ERROR_PREFIX), out
    assert d.sms == [{"to": [d.contacts["Sid Jha"].phone, "+15550001111"], "message": "Running late"}]
    d.call("send_sms", ["Amir Gholami", "hi"])
    assert d.sms[-1]["to"] == [d.contacts["Amir Gholami"].phone]


def test_zoom_link_format_and_stability():
    d = SimulatedDesktop(seed=0)
    args = ["Standup", "2024-06-12 10:00:00", 15, ["Sid", "x@y.org"]]
    link = d.call("get_zoom_meeting_link", args)
    assert re.fullmatch(r"https://zoom\.us/j/\d{10}", link), link
    assert d.call("get_zoom_meeting_link", list(args)) == link
    assert SimulatedDesktop(seed=0).call("get_zoom_meeting_link", args) == link
    assert d.call("get_zoom_meeting_link", ["Other topic", "2024-06-12 10:00:00", 15, "Sid"]) != link
    assert d.zoom_meetings[0] == {
        "topic": "Standup",
        "start": "2024-06-12 10:00:00",
        "duration": 15,
        "invitees": ["sid.jha@example.com", "x@y.org"],
        "link": link,
    }
    assert d.call("get_zoom_meeting_link", ["T", "2024-06-12 10:00:00", 0, ["Sid"]]).startswith(ERROR_PREFIX)
    links = {
        d.call("get_zoom_meeting_link", [f"Topic {i}", "2024-06-12 10:00:00", 30, []]) for i in range(200)
    }
    assert len(links) == 200
    assert all(re.fullmatch(r"https://zoom\.us/j/[1-9]\d{9}", link) for link in links)


def test_lone_surrogate_from_plan_text_is_an_error_observation():
    # A plan may spell a lone surrogate as "\ud800"; the call must still return an observation, not raise.
    plan = parse_plan('1. maps_open_location("\\ud800")\n2. join()<END_OF_PLAN>', tools=tinyagent_tools())
    step = plan.steps[0]
    d = SimulatedDesktop(seed=0)
    out = d.call(step.tool, step.args)
    assert out.startswith(ERROR_PREFIX) and "surrogate" in out
    assert d.calls[-1].ok is False


def test_all_sixteen_tools_run():
    d = SimulatedDesktop(seed=3)
    calls = {
        "get_phone_number": ["Sid Jha"],
        "get_email_address": ["Nick Lee"],
        "create_calendar_event": ["Meet", "2024-06-12 10:00:00", "2024-06-12 11:00:00", "", ["Sid"], "", ""],
        "open_and_get_file_path": ["TinyAgent Paper"],
        "summarize_pdf": ["/Users/me/Documents/Research/TinyAgent Paper.pdf"],
        "compose_new_email": ["Sid", None, "Hi", "", None],
        "reply_to_email": [None, "Thanks", None],
        "forward_email": [["Kurt Keutzer"], None, "", None],
        "maps_open_location": ["Berkeley"],
        "maps_show_directions": ["Berkeley", "Oakland", "d"],
        "create_note": ["N", "c", ""],
        "open_note": ["Shopping", ""],
        "append_note_content": ["Ideas", "more", "Work"],
        "create_reminder": ["R", "", "", "", 0, False],
        "send_sms": ["Lutfi", "hi"],
        "get_zoom_meeting_link": ["Z", "2024-06-12 10:00:00", 30, ["Sid"]],
    }
    assert sorted(calls) == sorted(EXPECTED_NAMES)
    for tool, args in calls.items():
        assert SPECS[tool].argument_errors(args) == [], tool
        out = d.call(tool, args)
        assert isinstance(out, str) and out and not out.startswith(ERROR_PREFIX), (tool, out)
    assert [c.tool for c in d.calls] == list(calls)
    assert all(c.ok for c in d.calls)
    assert d.call("open_note", ["Shopping", ""]) == "Milk, eggs, coffee."
    assert d.notes["Work"]["Ideas"] == "Try ToolRAG on the new dataset.\nmore"


@pytest.mark.parametrize(
    ("tool", "args"),
    [
        ("get_phone_number", ["Nobody Known"]),
        ("get_email_address", ["Zed"]),  # ambiguous first name (two Zeds)
        ("get_email_address", [""]),
        ("open_and_get_file_path", ["no-such-file-anywhere"]),
        ("summarize_pdf", ["Budget 2024"]),  # an .xlsx
        ("summarize_pdf", ["Slides Final"]),
        ("create_calendar_event", ["X", "2024-13-01 10:00:00", "", "", [], "", ""]),
        ("create_calendar_event", ["X", "tomorrow at ten", "", "", [], "", ""]),
        ("create_reminder", ["R", "June 5th", "", "", 0, False]),
        ("get_zoom_meeting_link", ["Z", "not a date", 30, ["Sid"]]),
        ("send_sms", ["Nobody Known", "hi"]),
        ("compose_new_email", ["Sid", None, "S", "", ["no-such-file-anywhere"]]),
        ("compose_new_email", [[], None, "S", "", None]),
        ("get_phone_number", [42]),
        ("get_zoom_meeting_link", ["Z", "2024-06-12 10:00:00", "30", ["Sid"]]),
        ("create_note", ["N"]),
        ("delete_everything", []),
        ("maps_open_location", ["\ud800"]),  # a lone surrogate parses from plan text ("\\ud800")
        ("get_zoom_meeting_link", ["Sync \udfff", "2024-06-12 10:00:00", 30, ["Sid"]]),
        ("send_sms", [["Sid", "\udc00"], "hi"]),
    ],
)
def test_failures_become_error_observations(tool, args):
    d = SimulatedDesktop(seed=0, contacts=["Zed Alpha", "Zed Beta"])
    before = (len(d.calendar), len(d.outbox), len(d.sms), len(d.reminders), len(d.zoom_meetings))
    out = d.call(tool, args)
    assert out.startswith("Error: "), out
    assert len(out) > len("Error: ")
    assert (len(d.calendar), len(d.outbox), len(d.sms), len(d.reminders), len(d.zoom_meetings)) == before
    assert len(d.calls) == 1
    call = d.calls[0]
    assert isinstance(call, ToolCall)
    assert (call.tool, call.args, call.result, call.ok) == (tool, tuple(args), out, False)
    assert call.start <= call.end


def test_specific_error_messages():
    d = SimulatedDesktop(seed=0, contacts=["Zed Alpha", "Zed Beta"])
    assert d.call("get_email_address", ["Zed"]) == (
        "Error: several contacts match 'Zed' (Zed Alpha, Zed Beta); give the full name"
    )
    assert d.call("get_email_address", ["Zed Beta"]) == "zed.beta@example.com"
    assert d.call("delete_everything", []) == "Error: unknown tool 'delete_everything'"
    assert "is not a PDF" in d.call("summarize_pdf", ["Budget 2024"])
    assert "not a date" in d.call("create_calendar_event", ["X", "2024-02-30 10:00:00", "", "", [], "", ""])


def test_calls_record_ok_and_failed():
    d = SimulatedDesktop(seed=0)
    d.call("get_phone_number", ["Sid"])
    d.call("get_phone_number", ["Nobody Known"])
    d.call("maps_open_location", ["Paris"])
    assert [(c.tool, c.ok) for c in d.calls] == [
        ("get_phone_number", True),
        ("get_phone_number", False),
        ("maps_open_location", True),
    ]
    assert d.calls[0].result == d.contacts["Sid Jha"].phone
    assert d.calls[1].result.startswith(ERROR_PREFIX)
    assert d.calls[0].args == ("Sid",)


def test_add_contact_makes_name_resolvable():
    d = SimulatedDesktop(seed=0)
    assert d.call("get_email_address", ["Grace Hopper"]).startswith(ERROR_PREFIX)
    c = d.add_contact("Grace Hopper")
    assert c.email == "grace.hopper@example.com" and re.fullmatch(r"\+1\d{10}", c.phone)
    assert d.call("get_email_address", ["Grace Hopper"]) == "grace.hopper@example.com"
    assert d.call("get_phone_number", ["Hopper"]) == c.phone
    d.add_contact("Ada Lovelace", email="ada@analytical.org", phone="+441234")
    assert d.call("get_email_address", ["Ada"]) == "ada@analytical.org"
    assert d.call("send_sms", ["Ada Lovelace", "hi"]) == "Message sent to +441234."
    # contacts passed to the constructor resolve too, with non-ASCII names slugged
    d2 = SimulatedDesktop(seed=0, contacts=["Zoë Ångström"])
    assert d2.call("get_email_address", ["Zoë Ångström"]) == "zoe.angstrom@example.com"


# ----------------------------------------------------------------------------------- latency model


def test_latency_sample_in_range_and_order_independent():
    model = LatencyModel({"send_sms": (0.2, 0.5)}, (0.01, 0.02), seed=5)
    draws = {
        (tool, i): model.sample(tool, [f"arg{i}"]) for tool in ("send_sms", "create_note") for i in range(50)
    }
    for (tool, _), v in draws.items():
        lo, hi = (0.2, 0.5) if tool == "send_sms" else (0.01, 0.02)
        assert lo <= v <= hi
    again = LatencyModel({"send_sms": (0.2, 0.5)}, (0.01, 0.02), seed=5)
    for key in reversed(list(draws)):  # reverse order, fresh model: same values
        tool, i = key
        assert again.sample(tool, [f"arg{i}"]) == draws[key]
    assert len(set(draws.values())) > 90  # draws depend on the arguments
    other = LatencyModel({"send_sms": (0.2, 0.5)}, (0.01, 0.02), seed=6)
    assert other.sample("send_sms", ["arg0"]) != draws[("send_sms", 0)]
    assert LatencyModel().sample("anything", ["x"]) == 0.0


def test_latency_typical_covers_every_tool():
    model = LatencyModel.typical()
    assert set(model.ranges) == set(EXPECTED_NAMES)
    assert model.ranges["summarize_pdf"] == (1.0, 2.0)
    for name in EXPECTED_NAMES:
        lo, hi = model.ranges[name]
        assert 0 < lo <= model.sample(name, ["x"]) <= hi


def test_acall_concurrent_calls_overlap():
    d = SimulatedDesktop(seed=0, latency=LatencyModel.uniform(0.05, 0.05))

    async def main() -> tuple[list[str], float]:
        t0 = time.perf_counter()
        results = await asyncio.gather(
            d.acall("get_phone_number", ["Sid"]),
            d.acall("get_email_address", ["Nick"]),
            d.acall("maps_open_location", ["Paris"]),
            d.acall("get_phone_number", ["Nobody Known"]),
        )
        return list(results), time.perf_counter() - t0

    results, elapsed = asyncio.run(main())
    assert elapsed >= 0.045  # it did wait
    assert elapsed < 0.15, f"4 concurrent 50 ms calls took {elapsed:.3f} s"
    assert results[0] == d.contacts["Sid Jha"].phone
    assert results[1] == "nick.lee@example.com"
    assert results[3].startswith(ERROR_PREFIX)
    assert len(d.calls) == 4 and sorted(c.ok for c in d.calls) == [False, True, True, True]
    assert all(c.end - c.start >= 0.045 for c in d.calls)  # each call's record spans its wait


def test_functions_match_call():
    d_async, d_sync = SimulatedDesktop(seed=4), SimulatedDesktop(seed=4)
    fns = d_async.functions()
    assert list(fns) == EXPECTED_NAMES
    assert all(inspect.iscoroutinefunction(f) for f in fns.values())
    assert all(f.__name__ == name for name, f in fns.items())
    cases = [
        ("get_phone_number", ("Sid",)),
        ("get_email_address", ("Nobody Known",)),
        ("open_and_get_file_path", ("Lease",)),
        ("summarize_pdf", ("LLMCompiler",)),
        ("get_zoom_meeting_link", ("Z", "2024-06-12 10:00:00", 20, "Sid")),
        ("send_sms", ("Nick Lee", "hi")),
        ("create_note", ("N", "c", "")),
        ("maps_show_directions", ("A", "B", "w")),
        ("get_phone_number", (1,)),
    ]

    async def run_all() -> list[str]:
        return [await fns[tool](*args) for tool, args in cases]

    got = asyncio.run(run_all())
    want = [d_sync.call(tool, list(args)) for tool, args in cases]
    assert got == want
    assert [(c.tool, c.ok) for c in d_async.calls] == [(c.tool, c.ok) for c in d_sync.calls]
    assert d_async.sms == d_sync.sms and d_async.notes == d_sync.notes


# ------------------------------------------------------------------ the math tool's evaluator (issue 21)

# Expressions a plan may carry whose naive evaluation takes minutes or all memory; each must be refused fast.
RUNAWAY_MATH = [
    ("round(5, -999999999)", "round()'s second argument must be between"),
    ("round(5.5, -10**12)", "round()'s second argument must be between"),
    ("round(7**1000, -10**12)", "round()'s second argument must be between"),
    ("10**10**10", "exponent"),
    ("9**9**9", "exponent"),
    ("(10**1000)**5", "too large"),
    ("7**1000 * 7**1000", "too large"),
    ("2**2000", "exponent"),
    ("2**1000 * 2**1000 * 2**1000 * 2**1000 * 2**100", "too large"),
    ("1<<10**9", "not allowed"),
    ("'a'*10**10", "only numbers"),
    ("[1]*10**9", "not allowed"),
    ("pow(2, 10**9)", "not allowed"),
    ("factorial(10**6)", "not allowed"),
    ("1e999", "not a finite number"),
    ("(-8) ** 0.5", "not a real number"),
]


@pytest.mark.parametrize("expression, why", RUNAWAY_MATH, ids=[e for e, _ in RUNAWAY_MATH])
def test_the_math_evaluator_refuses_runaway_expressions_fast(expression, why):
    t = time.perf_counter()
    out = evaluate(expression)
    assert time.perf_counter() - t < 0.5  # unbounded, some take minutes
    assert out.startswith("Error: ") and why in out, out


def test_the_math_evaluator_still_rounds_to_tens_and_decimals():
    assert evaluate("round(1234.5678, 2)") == "1234.57"
    assert evaluate("round(1234, -2)") == "1200"
    assert evaluate("round(7**1000, -800)") == str(round(7**1000, -800))


def test_the_math_tool_never_hangs_a_run():
    # In a fresh process: a runaway evaluation holds the GIL, so a hang here would hang the test itself.
    script = (
        "import asyncio, json, sys\n"
        "from workbench.bench.mathtool import evaluate, math_tool\n"
        "from workbench.compiler import Executor\n"
        "from workbench.plan import parse_plan\n"
        "exprs = json.loads(sys.argv[1])\n"
        "plan = ''.join(f'{i}. math({json.dumps(e)})\\n' for i, e in enumerate(exprs, 1))\n"
        "res = asyncio.run(Executor([math_tool()], timeout_s=0.2).run(parse_plan(plan).steps))\n"
        "print(json.dumps([r.observation for _, r in sorted(res.records.items())]))\n"
    )
    exprs = [e for e, _ in RUNAWAY_MATH] + ["What is 12 * 4.5?"]
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(exprs)], capture_output=True, text=True, timeout=10
    )
    assert done.returncode == 0, done.stderr
    observations = json.loads(done.stdout)
    assert observations[-1] == "54"
    assert all(o.startswith("Error: ") for o in observations[:-1]), observations


def test_tidying_a_long_problem_takes_linear_time():
    problem = "1 +" + " " * 20_000 + "x?! ."
    t = time.perf_counter()
    assert as_expression(problem) == problem[:-4].rstrip(" ")
    assert as_expression("what is 1,234 + 5 ?") == "1234 + 5"
    assert asyncio.run(solve_math(problem)).startswith("Error: ")
    assert time.perf_counter() - t < 0.5
