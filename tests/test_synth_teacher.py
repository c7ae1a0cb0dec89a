"""Tests for the LLM teacher (TinyAgent Sec. 3.1): the reply parser, and `synthesize` against a real local
OpenAI-compatible HTTP server (`FakeChatServer`): rejections, tokens and cost, bounded concurrency, the rate
limit, and resuming a run killed with SIGKILL."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from workbench.llm import LLMError, OpenAICompatLLM, RetryPolicy
from workbench.llm.testing import FakeChatServer, Reply
from workbench.synth.records import Checker, Record, normalize_query
from workbench.synth.teacher import (
    COMPANIONS,
    DEFAULT_EXAMPLES,
    StoreLockedError,
    TeacherConfig,
    parse_teacher_reply,
    read_store,
    run_teacher,
    sample_tools,
    synthesize,
    teacher_messages,
)
from workbench.tools.tinyagent import tinyagent_tools

REPO = Path(__file__).resolve().parent.parent
FAST = RetryPolicy(max_attempts=1, base_delay_s=0.01, max_delay_s=0.02, timeout_s=5.0)
NAMES = ["Ana", "Bo", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jun", "Kai", "Lea", "Mo", "Noor"]


# ------------------------------------------------------------------------------------------- fixtures


def pair(i: int) -> tuple[str, str]:
    """A valid TinyAgent (query, plan) pair; the index makes the query unique."""
    name = NAMES[i % len(NAMES)]
    kind = i % 4
    if kind == 0:
        return (
            f"Text {name} that order {i} has shipped.",
            f'1. get_phone_number("{name}")\n2. send_sms(["$1"], "Order {i} has shipped.")\n'
            "3. join()<END_OF_PLAN>",
        )
    if kind == 1:
        return (
            f"Invite {name} to review draft {i} tomorrow at 3pm.",
            f'1. get_email_address("{name}")\n'
            f'2. create_calendar_event("Review draft {i}", "2024-06-13 15:00:00", "2024-06-13 16:00:00", "", '
            '["$1"], "", None)\n3. join()<END_OF_PLAN>',
        )
    if kind == 2:
        return (
            f"Email {name} a summary of report {i}.",
            f'1. open_and_get_file_path("report {i}")\n2. get_email_address("{name}")\n'
            f'3. summarize_pdf("$1")\n4. compose_new_email(["$2"], [], "Report {i}", "$3", [])\n'
            "5. join()<END_OF_PLAN>",
        )
    return (
        f"Remind me to water plant {i} on Friday morning.",
        f'1. create_reminder("Water plant {i}", "2024-06-14 09:00:00", "", "", 0, False)\n'
        "2. join()<END_OF_PLAN>",
    )


def block(query: str, plan: str) -> str:
    return f"Query: {query}\nPlan:\n{plan}\n###\n"


def reply(*pairs: tuple[str, str], prose: str = "") -> str:
    return prose + "".join(block(q, p) for q, p in pairs)


BAD_TOOL = ("Book me a flight to JFK on Monday.", '1. book_flight("SFO", "JFK")\n2. join()<END_OF_PLAN>')
GARBAGE = "Sure! Generating examples is a wonderful idea. Let me know which tools you would like to cover."


def lines_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


async def _synth(
    server: FakeChatServer,
    out: Path,
    cfg: TeacherConfig,
    model: str = "fake-model",
) -> dict[str, Any]:
    llm = OpenAICompatLLM(model, server.base_url, "k", FAST)
    try:
        return await synthesize(llm, out, cfg, progress=False)
    finally:
        await llm.aclose()


def synth(server: FakeChatServer, out: Path, cfg: TeacherConfig, model: str = "fake-model") -> dict[str, Any]:
    return asyncio.run(_synth(server, out, cfg, model))


def config(**kw: Any) -> TeacherConfig:
    base: dict[str, Any] = {
        "concurrency": 1,
        "requests_per_minute": None,
        "max_attempts_per_call": 2,
        "retry_backoff_s": 0.01,
        "call_timeout_s": 10.0,
    }
    return TeacherConfig(**{**base, **kw})


class CountingServer(FakeChatServer):
    """A FakeChatServer that also records when each request starts and how many are open at once."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, **kw)
        self.starts: list[float] = []
        self.active = 0
        self.max_active = 0
        self._count_lock = threading.Lock()

    def start(self) -> CountingServer:
        super().start()
        base = self._httpd.RequestHandlerClass  # type: ignore[union-attr]
        owner = self

        class Counting(base):  # type: ignore[valid-type, misc]
            def do_POST(self) -> None:
                with owner._count_lock:
                    owner.starts.append(time.monotonic())
                    owner.active += 1
                    owner.max_active = max(owner.max_active, owner.active)
                try:
                    super().do_POST()
                finally:
                    with owner._count_lock:
                        owner.active -= 1

        self._httpd.RequestHandlerClass = Counting  # type: ignore[union-attr]
        return self


# ------------------------------------------------------------------------------------------- parsing


def test_parse_good_reply_with_prose_fences_and_markdown() -> None:
    (q1, p1), (q2, p2) = pair(0), pair(1)
    text = (
        f"Here are the examples you asked for.\n\n**Query:** {q1}\n**Plan:**\n```\n{p1}\n```\n###\n"
        f'Some words between blocks.\n###\nQuery: "{q2}"\nPlan:\n{p2}  (this plan is parallel)\n###\n'
        "Hope these help!"
    )
    skipped: Counter = Counter()
    assert parse_teacher_reply(text, skipped) == [(q1, p1), (q2, p2)]
    assert skipped == Counter()


def test_parse_mixed_reply_counts_blocks_without_plans() -> None:
    q, p = pair(2)
    text = (
        "Query: Call my mom about Sunday lunch.\nPlan: I would look up her number and then call her.\n###\n"
        f"Query: {q}\n{p}\n###\n"  # no `Plan:` heading: the steps are still found
        f"Plan:\n{pair(3)[1]}\n###\n"  # steps without a query
        'Query:\n   Show me the way to the zoo.\nPlan:\n1. maps_show_directions("", "Zoo", "d")\n'
        '2. join()<END_OF_PLAN> and that\'s it\n3. send_sms([], "after the end")\n###'
    )
    skipped: Counter = Counter()
    pairs = parse_teacher_reply(text, skipped)
    assert pairs == [
        (q, p),
        ("Show me the way to the zoo.", '1. maps_show_directions("", "Zoo", "d")\n2. join()<END_OF_PLAN>'),
    ]
    assert skipped == Counter({"prose_not_plan": 1, "missing_query": 1})


def test_parse_garbage() -> None:
    skipped: Counter = Counter()
    assert parse_teacher_reply(GARBAGE, skipped) == []
    assert skipped == Counter({"prose_not_plan": 1})
    assert parse_teacher_reply("", skipped) == [] and skipped["prose_not_plan"] == 1
    assert parse_teacher_reply("###\n###\nQuery:\n###") == []


# ------------------------------------------------------------------------------------------- prompt


def test_default_examples_pass_the_checker() -> None:
    checker = Checker()
    assert all(checker.check(q, p) is not None for q, p in DEFAULT_EXAMPLES), checker.rejected


def test_prompt_names_tools_date_rules_and_round_trips_examples() -> None:
    tools = tinyagent_tools(["send_sms", "get_phone_number"])
    messages = teacher_messages(tools, DEFAULT_EXAMPLES[:2], "2024-06-12", 7)
    user = messages[-1]["content"]
    assert messages[0]["role"] == "system" and "Wednesday, 2024-06-12" in user
    assert "send_sms(recipients: list[str], message: str)" in user and "create_note" not in user
    assert "YYYY-MM-DD HH:MM:SS" in user and "join()<END_OF_PLAN>" in user and "Write 7 new" in user
    # The demonstrations are written in the reply format: the parser reads them back unchanged.
    assert parse_teacher_reply(user) == list(DEFAULT_EXAMPLES[:2])


def test_sample_tools_is_seeded_sized_and_adds_lookups() -> None:
    for seed in range(200):
        tools = [t.name for t in sample_tools(random.Random(seed), 2, 4)]
        assert tools == [t.name for t in sample_tools(random.Random(seed), 2, 4)]
        assert 2 <= len(tools) <= 4 + 3 and len(set(tools)) == len(tools)
        for name in tools:
            assert set(COMPANIONS.get(name, ())) <= set(tools)
    assert len({tuple(t.name for t in sample_tools(random.Random(s), 2, 4)) for s in range(50)}) > 20


def test_config_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="tools_per_prompt"):
        TeacherConfig(tools_per_prompt=(3, 2))
    with pytest.raises(ValueError):
        TeacherConfig(today="12/06/2024")
    with pytest.raises(ValueError, match="concurrency"):
        TeacherConfig(concurrency=0)
    assert TeacherConfig(tools_per_prompt=[1, 3]).tools_per_prompt == (1, 3)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ synthesize


def test_synthesize_mixed_script(tmp_path: Path) -> None:
    q1, q2, q4, q5, q6 = (pair(i) for i in (0, 1, 2, 3, 4))
    dup = (q1[0].upper().replace(".", "!"), q1[1])  # the same query up to case and punctuation
    usage = (100, 10)
    script = [
        Reply(
            reply(q1, q2, prose="Here you go:\n") + "Query: Plan a trip.\nPlan: first find flights.\n###\n",
            usage=usage,
        ),
        ("status", 429),  # first try of call 2 fails, the second try answers with prose
        Reply(GARBAGE, usage=usage),
        ("status", 500),
        ("status", 500),  # call 3 fails twice: llm_error
        Reply(reply(BAD_TOOL, dup, q4), usage=usage),
        Reply(reply(q5, q6), usage=usage),  # q6 is past the target: not written
    ]
    out = tmp_path / "teacher.jsonl"
    with FakeChatServer(script) as server:
        report = synth(server, out, config(n_records=4, prices={"fake-model": (1.0, 2.0)}))
        assert server.remaining == 0 and len(server.requests) == 7
    assert report["accepted"] == 4 and report["total"] == 4 and report["stopped"] == "target"
    assert report["rejected"] == {
        "prose_not_plan": 2,
        "llm_error": 1,
        "invalid_tool_call": 1,
        "duplicate_query": 1,
    }
    assert report["calls"] == 5 and report["attempts"] == 7
    assert (report["prompt_tokens"], report["completion_tokens"]) == (400, 40)
    assert report["cost_usd"] == pytest.approx((400 * 1.0 + 40 * 2.0) / 1e6)
    assert report["model"] == "fake-model" and report["wall_s"] > 0

    records = lines_of(out)
    assert [r["query"] for r in records] == [q1[0], q2[0], q4[0], q5[0]]  # not q6: past the target
    assert [r["id"] for r in records] == [f"llm-{i:06d}" for i in range(4)]
    checker = Checker()
    for r in records:
        Record(**r)  # exactly the record's fields
        assert checker.check(r["query"], r["plan"]) == r["tools"]
        assert (r["split"], r["today"], r["teacher"]) == ("unsplit", "2024-06-12", "llm:fake-model")
    # The prompt a call sends holds its tools and the requested number of pairs.
    assert "Write 5 new" in server.requests[0]["messages"][-1]["content"]


def test_concurrency_is_bounded_and_used(tmp_path: Path) -> None:
    # Each reply streams for about 0.4 s, so calls that are allowed to overlap do.
    script = [Reply(reply(pair(i)), chunk_delay_s=0.3 / 40) for i in range(12)]
    with CountingServer(script) as server:
        report = synth(server, tmp_path / "t.jsonl", config(n_records=6, concurrency=3))
    assert server.max_active == 3
    assert report["accepted"] == 6 and len(lines_of(tmp_path / "t.jsonl")) == 6
    assert report["cost_usd"] is None  # "fake-model" has no price


def test_rate_limit_spaces_request_starts(tmp_path: Path) -> None:
    script = [reply(pair(i)) for i in range(10)]
    with CountingServer(script) as server:
        report = synth(
            server, tmp_path / "t.jsonl", config(n_records=6, concurrency=4, requests_per_minute=600)
        )
    assert report["accepted"] == 6
    # 600/min: one start per 0.1 s. The server sees each start after a connection delay that varies with the
    # machine's load, so single gaps can shrink; the span of six starts cannot, without the limiter (concurrency 4
    # alone would start four at once).
    assert len(server.starts) >= 6
    assert server.starts[5] - server.starts[0] > 0.4
    assert server.starts[3] - server.starts[0] > 0.2


def test_call_budget_stops_a_teacher_that_never_plans(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    with FakeChatServer([GARBAGE] * 3) as server:
        llm = OpenAICompatLLM("gpt-4o", server.base_url, "k", FAST)
        report = run_teacher(config(n_records=5, max_calls=3), llm, out, progress=False)
    assert report["stopped"] == "call_budget" and report["calls"] == 3 and report["accepted"] == 0
    assert report["rejected"] == {"prose_not_plan": 3}
    assert out.exists() and out.read_bytes() == b""
    assert report["cost_usd"] is not None and report["cost_usd"] > 0  # a priced model (bench defaults)


def test_a_stuck_call_times_out_and_the_run_goes_on(tmp_path: Path) -> None:
    with FakeChatServer([("hang", 5.0), reply(pair(0))]) as server:
        start = time.monotonic()
        report = synth(
            server, tmp_path / "t.jsonl", config(n_records=1, max_attempts_per_call=1, call_timeout_s=0.3)
        )
    assert time.monotonic() - start < 3
    assert report["rejected"] == {"timeout": 1} and report["accepted"] == 1 and report["calls"] == 2


def _write_records(path: Path, n: int) -> list[bytes]:
    lines = [
        json.dumps(
            Record(f"llm-{i:06d}", pair(i)[0], pair(i)[1], [], "2024-06-12", "unsplit", "llm:x").to_dict()
        ).encode()
        + b"\n"
        for i in range(n)
    ]
    path.write_bytes(b"".join(lines))
    return lines


def test_resume_cuts_a_torn_line_and_continues_numbering(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    lines = _write_records(out, 3)
    with open(out, "ab") as f:
        f.write(b'{"id": "llm-000003", "query": "Text Bo')  # a kill in the middle of a write
    assert read_store(out) == [json.loads(line) for line in lines]
    with FakeChatServer([reply(pair(0), pair(5), pair(6))]) as server:  # pair(0) is already in the file
        report = synth(server, out, config(n_records=5))
    assert report["resumed"] == 3 and report["accepted"] == 2 and report["rejected"] == {"duplicate_query": 1}
    data = out.read_bytes()
    assert data.startswith(b"".join(lines)) and data.endswith(b"\n")
    assert [r["id"] for r in lines_of(out)] == [f"llm-{i:06d}" for i in range(5)]
    assert [r["query"] for r in lines_of(out)][3:] == [pair(5)[0], pair(6)[0]]


def test_resume_of_a_finished_file_calls_nothing(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    lines = _write_records(out, 3)
    out.write_bytes(b"".join(lines) + b"not json\n")  # a garbage last line counts as torn as well
    with FakeChatServer([]) as server:
        report = synth(server, out, config(n_records=3))
        assert server.requests == []
    assert report["calls"] == 0 and report["accepted"] == 0 and report["stopped"] == "target"
    assert out.read_bytes() == b"".join(lines)


def test_a_damaged_middle_line_is_an_error(tmp_path: Path) -> None:
    out = tmp_path / "t.jsonl"
    lines = _write_records(out, 3)
    out.write_bytes(lines[0] + b"{broken\n" + lines[2])
    with pytest.raises(ValueError, match="damaged"):
        read_store(out)


# --------------------------------------------------------------------------------------------- SIGKILL

CHILD = """
import asyncio, sys
from workbench.llm import LLMError, OpenAICompatLLM, RetryPolicy
from workbench.synth.teacher import TeacherConfig, synthesize

base_url, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
llm = OpenAICompatLLM("fake-model", base_url, "k", RetryPolicy(max_attempts=1, timeout_s=10.0))
cfg = TeacherConfig(n_records=n, concurrency=2, requests_per_minute=None, max_attempts_per_call=1)
asyncio.run(synthesize(llm, out, cfg, progress=False))
"""


def start_teacher(server: FakeChatServer, out: Path, n: int, lines: int) -> subprocess.Popen:
    """A teacher run in a child process (`CHILD`), returned once it has written `lines` records."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, server.base_url, str(out), str(n)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while not (out.exists() and out.read_bytes().count(b"\n") >= lines):
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise AssertionError(f"the child wrote no records: {child.communicate()[0].decode()}")
        time.sleep(0.005)
    return child


def test_resume_after_sigkill_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    out, n = tmp_path / "teacher.jsonl", 12
    # Slow replies of two pairs each (over a second per call), so the child is mid-run when it is killed.
    slow = [Reply(reply(pair(2 * i), pair(2 * i + 1)), chunk_delay_s=0.01) for i in range(20)]
    with FakeChatServer(slow) as server:
        child = start_teacher(server, out, n, lines=2)
        try:
            os.kill(child.pid, signal.SIGKILL)
        finally:
            child.kill()
            child.wait(timeout=10)
    assert child.returncode == -signal.SIGKILL  # killed mid-run, not finished
    before = out.read_bytes().split(b"\n")[:-1]  # the whole lines on disk at the kill
    assert 2 <= len(before) < n
    with open(out, "ab") as f:
        f.write(b'{"id": "llm-0000')  # as if the kill had hit in the middle of a write

    # The resumed run is offered every query already written (all duplicates) before new ones.
    old = [(r["query"], r["plan"]) for r in map(json.loads, before)]
    fresh = [Reply(reply(pair(100 + 2 * i), pair(101 + 2 * i))) for i in range(n)]
    with FakeChatServer([reply(*old), *fresh]) as server:
        report = synth(server, out, config(n_records=n))
    assert report["resumed"] == len(before) and report["accepted"] == n - len(before)
    assert report["rejected"] == {"duplicate_query": len(before)}

    data = out.read_bytes()
    assert data.endswith(b"\n") and data.split(b"\n")[: len(before)] == before  # nothing lost, same order
    records = lines_of(out)
    assert len(records) == n
    assert [r["id"] for r in records] == [f"llm-{i:06d}" for i in range(n)]
    assert len({normalize_query(r["query"]) for r in records}) == n
    checker = Checker()
    assert all(checker.check(r["query"], r["plan"]) == r["tools"] for r in records)


# ------------------------------------------------------------------------- failures that must stop a run


@pytest.mark.parametrize("code", [400, 401, 403, 404])
def test_a_permanent_error_stops_the_run_at_once_and_names_the_cause(tmp_path: Path, code: int) -> None:
    # Issue 21, defect 1: a rejected key used to be retried for the whole call budget (~7,200 requests here).
    out = tmp_path / "t.jsonl"
    with FakeChatServer([("status", code)] * 50) as server:
        with pytest.raises(LLMError, match=rf"HTTP {code}.*not retried") as err:
            synth(server, out, config(n_records=100, concurrency=2, max_attempts_per_call=3))
        assert len(server.requests) <= 2  # one per worker in flight, no retries
    assert "0 of 100 records" in str(err.value) and str(out) in str(err.value)
    assert err.value.permanent


def test_failures_are_printed_as_they_happen_and_a_streak_stops_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A server that keeps failing transiently: every failed call is printed, and the run stops after
    # `max_consecutive_failures` failed calls in a row instead of working through the call budget.
    with FakeChatServer([("status", 503)] * 50) as server:
        with pytest.raises(LLMError, match=r"3 teacher calls in a row failed.*HTTP 503"):
            synth(server, tmp_path / "t.jsonl", config(n_records=100, max_consecutive_failures=3))
        assert len(server.requests) == 3 * 2  # 3 calls x 2 attempts
    printed = capsys.readouterr().err
    assert printed.count("teacher call failed") == 3 and "HTTP 503" in printed


def test_a_success_resets_the_failure_streak(tmp_path: Path) -> None:
    script = [
        ("status", 503),
        ("status", 503),
        reply(pair(0)),
        ("status", 503),
        ("status", 503),
        reply(pair(1)),
    ]
    with FakeChatServer(script) as server:
        report = synth(
            server,
            tmp_path / "t.jsonl",
            config(n_records=2, max_attempts_per_call=1, max_consecutive_failures=3),
        )
    assert report["accepted"] == 2 and report["rejected"] == {"llm_error": 4}


def test_two_runs_on_one_store_cannot_interleave(tmp_path: Path) -> None:
    # Issue 21, defect 2: two runs appending to one file wrote duplicate ids, and reading dropped paid-for records.
    # The second run is refused (an OS file lock) with a message that says which process holds the store.
    out = tmp_path / "t.jsonl"
    slow = [Reply(reply(pair(i)), chunk_delay_s=0.02) for i in range(12)]
    with FakeChatServer(slow) as server:
        child = start_teacher(server, out, 8, lines=1)
        try:
            with FakeChatServer([reply(pair(50))]) as second:
                with pytest.raises(StoreLockedError, match=rf"{out.name}.*process {child.pid}"):
                    synth(second, out, config(n_records=8))
                assert second.requests == []  # refused before any paid call
        finally:
            child.wait(timeout=30)
    assert child.returncode == 0, child.communicate()[0].decode()
    records = lines_of(out)
    assert len(records) == 8 and len({r["id"] for r in records}) == 8
    # Once the first run has ended, the store is free again.
    with FakeChatServer([]) as server:
        assert synth(server, out, config(n_records=8))["resumed"] == 8


def test_a_stored_record_without_a_plan_is_named_not_a_key_error(tmp_path: Path) -> None:
    # Issue 21, defect 15: a teacher record without "plan" ended in `KeyError: 'plan'` far from the file.
    out = tmp_path / "t.jsonl"
    _write_records(out, 3)
    lines = out.read_bytes().split(b"\n")
    damaged = json.loads(lines[1])
    del damaged["plan"]
    lines[1] = json.dumps(damaged).encode()
    out.write_bytes(b"\n".join(lines))
    with pytest.raises(ValueError, match=rf"{out.name}:2: .*plan.*damaged"):
        read_store(out)
    with FakeChatServer([]) as server, pytest.raises(ValueError, match=rf"{out.name}:2: .*plan"):
        synth(server, out, config(n_records=5))
