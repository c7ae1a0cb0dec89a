"""The plan language: parsing, streaming, rendering, validation, and fuzzing (hypothesis)."""

from __future__ import annotations

import keyword
import re

import networkx as nx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.metrics import plan_success
from workbench.paper_examples import FIG1_PLAN
from workbench.plan import (
    END_OF_PLAN,
    Plan,
    PlanError,
    RepeatMerger,
    Step,
    StreamingPlanParser,
    grouped_by_part,
    merge_repeated_calls,
    parse_plan,
    references,
    render_plan,
    validate_plan,
)
from workbench.tools import tinyagent_tools
from workbench.tools.tinyagent import LOOKUP_TOOLS

TOOLS = tinyagent_tools()

# ------------------------------------------------------------------------------------------ examples


def test_parses_the_issue_example():
    plan = parse_plan(FIG1_PLAN, tools=TOOLS)
    assert [s.idx for s in plan.steps] == [1, 2, 3, 4]
    assert [s.tool for s in plan.steps] == [
        "get_email_address",
        "get_email_address",
        "create_calendar_event",
        "join",
    ]
    assert plan.steps[0].args == ("Sid",)
    assert plan.steps[2].args[4] == ["$1", "${2}"] and plan.steps[2].args[6] is None
    assert plan.steps[2].deps == (1, 2)
    assert plan.steps[3].deps == (1, 2, 3)
    assert plan.steps[0].thought.startswith("First, get the email")
    assert plan.steps[1].thought is None
    assert plan.steps[3].thought == "I have created the event."
    assert plan.tools == ["get_email_address", "get_email_address", "create_calendar_event"]
    assert plan.has_join


def test_several_references_in_one_string_and_in_lists():
    text = '1. f("a")\n2. f("b")\n3. f("c")\n4. g("$1 and $2", [["${3}"]])\n5. join()'
    assert parse_plan(text).step(4).deps == (1, 2, 3)


def test_dollar_one_never_matches_inside_dollar_ten():
    lines = [f'{i}. f("x")' for i in range(1, 11)] + ['11. g("$10")', '12. g("${10}$1")', "13. join()"]
    plan = parse_plan("\n".join(lines))
    assert plan.step(11).deps == (10,)
    assert plan.step(12).deps == (1, 10)
    assert references("$10 $1 ${2}") == {10, 1, 2}


def test_parsing_stops_at_the_first_join_and_validation_reports_what_was_dropped():
    text = '1. f("a")\n2. join()\n3. f("b")\nThought: ignored\n4. join()'
    plan = parse_plan(text)
    assert [s.idx for s in plan.steps] == [1, 2]
    assert plan.dropped == ['3. f("b")', "4. join()"]
    with pytest.raises(PlanError, match=r"line 2: 2 step\(s\) after join\(\) were dropped"):
        parse_plan(text.replace("f(", "get_phone_number("), tools=TOOLS)


def test_end_of_plan_marker_ends_the_text():
    plan = parse_plan('1. f("a")\n2. join()<END_OF_PLAN>\nanything at all ((( ')
    assert len(plan) == 2 and plan.dropped == []


def test_literals_only_never_eval():
    with pytest.raises(PlanError, match="argument 1 .* is not a Python literal"):
        parse_plan('1. f(__import__("os").system("echo hacked"))')
    with pytest.raises(PlanError, match="not a Python literal"):
        parse_plan("1. f(x)")


@pytest.mark.parametrize(
    "text, message, line",
    [
        ("", "the plan has no steps", None),
        ("Thought: nothing to do", "the plan has no steps", None),
        ('1. f("a")\n1. f("b")', "step 1 is numbered twice", 2),
        ('2. f("a")\n1. f("b")', "step numbers must increase", 2),
        ('0. f("a")', "step numbers start at 1", 1),
        ('1. f("$2")\n2. g("b")', r"refers to a later step \(\$2\)", 1),
        ('1. f("a")\n3. g("$2")', "refers to step 2, which does not exist", 2),
        ('1. f("a")\n2. g("${2}")', r"step 2 refers to itself", 2),
        ('1. f(name="a")', "keyword arguments are not allowed", 1),
        ("1. f($1)", r"references must be quoted", 1),
        ('1. f("a"', "cannot read the call", 1),
        ('1. join("a")', "join\\(\\) takes no arguments", 1),
        ('1. f("a")\nHere is my plan', "expected a numbered step", 2),
        ("1. f(*[1])", "uses `\\*`", 1),
    ],
)
def test_structural_errors_name_the_line(text, message, line):
    with pytest.raises(PlanError, match=message) as e:
        parse_plan(text)
    assert e.value.line == line
    if line is not None:
        assert str(e.value).startswith(f"line {line}: ")


@pytest.mark.parametrize(
    "text, message",
    [
        ('1. send_email("a")', "unknown tool 'send_email'; the tools are: "),
        ('1. get_email_address("Sid", "Lutfi")', r"get_email_address: takes 1 argument \(name\), got 2"),
        ("1. get_email_address(42)", "name must be str, got int 42"),
        ('1. get_zoom_meeting_link("t", "2024-06-13 14:00:00", "30", [])', "duration must be int, got str"),
        ('1. get_zoom_meeting_link("t", "2024-06-13 14:00:00", True, [])', "duration must be int, got bool"),
        ('1. create_note("n", "c", 3)', "folder must be str, got int"),
        ('1. create_note(None, "c", "")', "name is required"),
        ('1. open_note("n", "")\n2. join()\n3. open_note("m", "")', "after join"),
    ],
)
def test_validation_against_tool_specs(text, message):
    with pytest.raises(PlanError, match=message) as e:
        parse_plan(text, tools=TOOLS)
    assert e.value.line is not None


def test_single_values_for_list_parameters_are_accepted():
    text = (
        '1. get_email_address("Sid")\n'
        '2. compose_new_email("$1", "nick@example.com", "Hi", "", "/Users/me/a.pdf")\n'
        '3. send_sms("+15551234567", "hi")\n4. join()'
    )
    assert len(parse_plan(text, tools=TOOLS)) == 4
    with pytest.raises(PlanError, match="duration must be int"):
        parse_plan('1. get_zoom_meeting_link("t", "2024-06-13 14:00:00", ["30"], [])', tools=TOOLS)


def test_references_pass_for_any_type_and_none_for_optional():
    text = (
        '1. open_and_get_file_path("report")\n'
        '2. get_zoom_meeting_link("t", "2024-06-13 14:00:00", "$1", "$1")\n'
        '3. create_calendar_event("T", "2024-06-13 14:00:00", "2024-06-13 15:00:00", None, [], None, None)\n'
        "4. join()"
    )
    validate_plan(parse_plan(text), TOOLS)


def test_lenient_mode_skips_prose():
    text = 'Here is the plan:\n1. f("a")\nHope this helps!\n2. join()'
    assert [s.idx for s in parse_plan(text, strict=False).steps] == [1, 2]


def test_streaming_returns_each_step_as_soon_as_its_line_is_complete():
    p = StreamingPlanParser()
    assert p.feed("Thought: go\n1. get_email_addr") == []
    assert [s.idx for s in p.feed('ess("Sid")\n2. get_email_address("Lu')] == [1]
    assert [s.idx for s in p.feed('tfi")\n3. send_sms(["$1", "$2"], "hi")')] == [2]
    assert p.feed("\n4. join()<END_OF") == [p.steps[2]]
    last = p.feed("_PLAN>")
    assert [s.tool for s in last] == ["join"] and p.done
    assert p.feed("3. more text after the end") == []
    assert p.close() == []
    assert p.plan().steps[0].thought == "go"


# --------------------------------------------------------------------------- values a plan cannot write


@pytest.mark.parametrize(
    "value, named",
    [
        ("...", "Ellipsis"),
        ("{1, 2}", "set {1, 2}"),
        ("b'x'", "bytes b'x'"),
        ("1j", "complex 1j"),
        ("1e999", "float inf"),
        ("-1e999", "float -inf"),
        ('["a", [{1}]]', "set {1}"),
        ('{"k": b"v"}', "bytes b'v'"),
        ("(1, ...)", "Ellipsis"),
    ],
)
def test_values_a_plan_cannot_write_are_plan_errors_naming_the_step(value, named):
    """A literal that `render_args` cannot write back (the executor renders every task) is a parse error,
    so that the agent replans instead of crashing mid-run (issue 21, defect 4)."""
    text = f'1. f("a")\n2. g("$1", {value})\n3. join()'
    with pytest.raises(PlanError, match="step 2: g: argument 2") as e:
        parse_plan(text)
    assert e.value.line == 2 and named in e.value.message and "a plan cannot hold" in e.value.message
    parser = StreamingPlanParser()
    assert [s.idx for s in parser.feed(text[:12])] == [1]
    with pytest.raises(PlanError, match=re.escape(named)):
        parser.feed(text[12:])


# ---------------------------------------------------------------------------------- generated plans

_IDENT = st.from_regex(r"[a-z][a-z0-9_]{0,12}", fullmatch=True).filter(
    lambda t: not keyword.iskeyword(t) and t != "join"
)
_TEXT = st.text(st.characters(blacklist_characters="$", blacklist_categories=("Cs",)), max_size=20).filter(
    lambda t: END_OF_PLAN not in t
)
_THOUGHT_LINE = (
    st.text(st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",)), max_size=30)
    .map(str.strip)
    .filter(lambda t: END_OF_PLAN not in t)
)  # the marker ends a plan wherever it appears


@st.composite
def plans(draw) -> Plan:
    """Valid plans: increasing (possibly gapped) indices, literal args, references to earlier steps only."""
    n = draw(st.integers(1, 7))
    idx, steps = 0, []
    for _ in range(n):
        idx += draw(st.integers(1, 3))
        earlier = [s.idx for s in steps]
        ref = (
            st.sampled_from(earlier).flatmap(lambda k: st.sampled_from([f"${k}", f"${{{k}}}"]))
            if earlier
            else st.nothing()
        )
        # a digit right after `$1` would make it `$10`: the suffix never starts with one
        suffix = _TEXT.filter(lambda t: not (t and t[0] in "0123456789"))
        text_arg = st.one_of(_TEXT, st.tuples(_TEXT, ref, suffix).map("".join)) if earlier else _TEXT
        leaf = st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(10**9), 10**9),
            st.floats(allow_nan=False, allow_infinity=False),
            text_arg,
        )
        value = st.recursive(leaf, lambda c: st.lists(c, max_size=3), max_leaves=5)
        args = tuple(draw(st.lists(value, max_size=4)))
        thought = draw(st.one_of(st.none(), st.lists(_THOUGHT_LINE, min_size=1, max_size=2).map("\n".join)))
        steps.append(Step(idx, draw(_IDENT), args, tuple(sorted(references(args))), thought))
    if draw(st.booleans()):
        steps.append(
            Step(idx + 1, "join", (), tuple(s.idx for s in steps), draw(st.one_of(st.none(), _THOUGHT_LINE)))
        )
    return Plan(steps)


@given(plans())
@settings(max_examples=400, deadline=None)
def test_render_then_parse_is_the_identity(plan):
    assert parse_plan(render_plan(plan)) == plan
    assert parse_plan(render_plan(plan, end_marker=False)) == plan


@given(plans(), st.data())
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_streaming_equals_batch_for_any_split(plan, data):
    text = render_plan(plan, end_marker=data.draw(st.booleans()))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=12)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    parser = StreamingPlanParser()
    streamed = [s for c in chunks for s in parser.feed(c)] + parser.close()
    assert streamed == parse_plan(text).steps == plan.steps


@given(plans())
@settings(max_examples=400, deadline=None)
def test_grouping_by_part_keeps_the_dag_and_writes_each_part_together(plan):
    grouped = grouped_by_part(plan)
    assert [s.idx for s in grouped.steps] == list(range(1, len(plan.steps) + 1))
    assert parse_plan(render_plan(grouped)) == grouped  # references renumbered consistently with deps
    if plan.tasks:
        assert plan_success(grouped, plan) == 1.0
    graph = nx.Graph()
    graph.add_nodes_from(s.idx for s in grouped.tasks)
    graph.add_edges_from((s.idx, d) for s in grouped.tasks for d in s.deps)
    for part in nx.connected_components(graph):  # each part's steps are consecutive
        assert max(part) - min(part) + 1 == len(part)
    assert all(d < s.idx for s in grouped.steps for d in s.deps)


def test_grouping_by_part_puts_each_request_after_its_own_lookups():
    gold = parse_plan(
        '1. get_email_address("Ana")\n2. get_phone_number("Bo")\n3. open_and_get_file_path("a.pdf")\n'
        '4. compose_new_email(["$1"], [], "Hi", "", [])\n5. send_sms(["${2}"], "hi")\n'
        '6. summarize_pdf("$3")\n7. join()'
    )
    assert render_plan(grouped_by_part(gold), end_marker=False).splitlines() == [
        '1. get_email_address("Ana")',
        '2. compose_new_email(["$1"], [], "Hi", "", [])',
        '3. get_phone_number("Bo")',
        '4. send_sms(["${3}"], "hi")',
        '5. open_and_get_file_path("a.pdf")',
        '6. summarize_pdf("$5")',
        "7. join()",
    ]


# --------------------------------------------------------------------------------------------- fuzz

_FRAGMENTS = [
    "1. ",
    "2. ",
    "10. ",
    "join()",
    "f(",
    ")",
    '"',
    "'",
    "$1",
    "${2}",
    "$10",
    "[",
    "]",
    ", ",
    "\n",
    "\r\n",
    "Thought: ",
    "<END_OF_PLAN>",
    "None",
    "get_email_address",
    "(",
    "\\",
    "*",
    "=",
    "{",
    "}",
    " ",
    "0",
    "9999999999999999999999",
    "((((((((",
    "lambda: 0",
    "\x00",
    "é",
    "\u2028",
    "...",
    "b''",
    "1j",
    "1e999",
    "{1}",
]


def _parse_or_plan_error(text: str, **kw) -> Plan | None:
    """The plan, or None for a PlanError; a plan that parses can always be written back."""
    try:
        plan = parse_plan(text, **kw)
    except PlanError:
        return None
    render_plan(plan)
    return plan


@pytest.mark.slow
@given(st.text(max_size=200))
@settings(max_examples=10_000, deadline=None)
def test_fuzz_arbitrary_text_raises_only_plan_error(text):
    _parse_or_plan_error(text)
    _parse_or_plan_error(text, tools=TOOLS, strict=False)


@pytest.mark.slow
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join), st.data())
@settings(max_examples=10_000, deadline=None)
def test_fuzz_plan_like_text_streams_like_batch(text, data):
    batch = _parse_or_plan_error(text, tools=TOOLS)
    cut = data.draw(st.integers(0, len(text)))
    parser = StreamingPlanParser()
    try:
        steps = parser.feed(text[:cut]) + parser.feed(text[cut:]) + parser.close()
    except PlanError:
        steps = None
    if batch is not None:  # valid for the tools implies structurally valid, streamed identically
        assert steps == batch.steps
    elif steps is not None:  # structurally fine: only the tool check can have failed
        with pytest.raises(PlanError):
            validate_plan(parser.plan(), TOOLS)


# ---------------------------------------------------------------------------------- repeated look-ups

_REPEATED = (
    '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n3. get_email_address("Lutfi")\n'
    '4. create_calendar_event("Meeting", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "$2", "$3"], '
    '"", None)\n5. send_sms(["${3}"], "see you")\n6. join()<END_OF_PLAN>'
)


def test_a_repeated_lookup_is_merged_into_the_first_and_the_steps_renumbered():
    merged = merge_repeated_calls(_REPEATED, LOOKUP_TOOLS)
    assert merged == (
        '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n'
        '3. create_calendar_event("Meeting", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "$2"], '
        '"", None)\n4. send_sms(["${2}"], "see you")\n5. join()<END_OF_PLAN>'
    )
    plan = parse_plan(merged, tools=tinyagent_tools())
    assert plan.step(3).deps == (1, 2) and plan.step(4).deps == (2,) and plan.step(5).deps == (1, 2, 3, 4)


def test_merging_keeps_what_is_not_a_repeated_lookup_as_written():
    different = (
        '1. get_phone_number("Ana")\n2. get_phone_number("Ana B")\n3. send_sms(["$1", "$2"], "hi")\n4. join()'
    )
    twice = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. send_sms(["$1"], "hi")\n4. join()'
    broken = '1. get_phone_number("Ana")\n2. get_phone_number("Ana")\n3. send_sms(["$2"], "hi"\n4. join()'
    for text in (different, twice, FIG1_PLAN):  # other arguments; a repeated action (not a look-up)
        assert merge_repeated_calls(text, LOOKUP_TOOLS) == text
    # a line the parser would reject passes unchanged, so that it is still rejected
    merged = merge_repeated_calls(broken, LOOKUP_TOOLS)
    assert merged.splitlines()[1] == '3. send_sms(["$2"], "hi"'
    with pytest.raises(PlanError):
        parse_plan(merged)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 40])
def test_merging_a_stream_equals_merging_the_whole_text(size):
    merger = RepeatMerger(LOOKUP_TOOLS)
    chunks = [_REPEATED[i : i + size] for i in range(0, len(_REPEATED), size)]
    streamed = "".join(merger.feed(c) for c in chunks) + merger.close()
    assert streamed == merge_repeated_calls(_REPEATED, LOOKUP_TOOLS)
