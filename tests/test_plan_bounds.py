"""Bounds on the work of the plan language (issue 21): values a plan cannot hold, plan size, linear-time
parsing, and `plan check` / `plan score` on long plans."""

from __future__ import annotations

import asyncio
import functools
import gc
import time

import pytest

from workbench import cli
from workbench.compiler import LLMCompiler, desktop_tools
from workbench.llm import ScriptedLLM
from workbench.paper_examples import FIG1_PLAN, FIG1_QUERY
from workbench.plan import END_OF_PLAN, MAX_PLAN_CHARS, MAX_STEPS, PlanError, StreamingPlanParser, parse_plan
from workbench.tools import LatencyModel, SimulatedDesktop

FINISH = "Thought: done.\nAction: Finish(Event created (2pm))"


def chain(tasks: int, first: str = "get_email_address") -> str:
    """`tasks` look-ups, each of the previous one's result, then join()."""
    lines = [f'1. {first}("Sid")'] + [f'{i}. get_email_address("${i - 1}")' for i in range(2, tasks + 1)]
    return "\n".join([*lines, f"{tasks + 1}. join()"])


def seconds(fn, *args, **kw) -> float:
    """CPU seconds of `fn(*args, **kw)`, a PlanError included: unlike the wall clock, what other processes
    on a busy machine take does not count."""
    start = time.process_time()
    try:
        fn(*args, **kw)
    except PlanError:
        pass
    return time.process_time() - start


# --------------------------------------------------------------------------- values a plan cannot hold


@pytest.mark.parametrize("stream", [True, False])
def test_the_agent_replans_a_plan_holding_a_value_it_cannot_write(stream):
    """`...` used to reach the executor, whose rendering of the task crashed the run (rc 1)."""
    desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.02, 0.02))
    bad = "1. get_email_address(...)\n2. join()"
    llm = ScriptedLLM([bad, "Thought: bad plan\nAction: Replan(fix it)", FIG1_PLAN, FINISH], ttft_s=0.01)
    agent = LLMCompiler(llm, desktop_tools(desktop), tinyagent=True, today="2024-06-12", stream=stream)
    result = asyncio.run(agent.run(FIG1_QUERY))
    assert result.finished and len(result.rounds) == 2
    assert "step 1: get_email_address: argument 1 ('...'): a plan cannot hold Ellipsis" in str(
        result.rounds[0].execution.plan_error
    )


# ------------------------------------------------------------------------------------ size and time

# Near the size limit. The first two took the old parser time quadratic in the run of spaces (it was killed
# after 45 s; 40,000 spaces took 14 s); the others guard the paths a long line takes (each under 0.7 s of CPU).
NEAR_THE_LIMIT = {
    "spaces inside a call": '1. f(   "a"' + " " * (MAX_PLAN_CHARS - 20) + ")",
    "spaces inside a thought": "Thought: a" + " " * (MAX_PLAN_CHARS - 30) + 'b\n1. f("a")',
    "blank lines": "\n" * (MAX_PLAN_CHARS - 20) + '1. f("a")',
    "one long string": '1. f("' + "a" * (MAX_PLAN_CHARS - 20) + '")',
    "a long step number": "1" * (MAX_PLAN_CHARS - 20) + " f()",
    "nested unary minus": "1. f(" + "-" * (MAX_PLAN_CHARS - 20) + "1)",
    "a long sum": "1. f(" + "1+" * (MAX_PLAN_CHARS // 2 - 20) + "1)",
    "open brackets": "1. f(" + "[" * (MAX_PLAN_CHARS - 20),
    "many arguments": "1. f(" + "1," * (MAX_PLAN_CHARS // 2 - 20) + "1)",
    "many arguments, the last not a literal": "1. f(" + "1," * (MAX_PLAN_CHARS // 2 - 20) + "x)",
    "many arguments, the last unwritable": "1. f(" + "1," * (MAX_PLAN_CHARS // 2 - 20) + "...)",
}


@pytest.mark.parametrize("text", NEAR_THE_LIMIT.values(), ids=NEAR_THE_LIMIT)
def test_parsing_up_to_the_size_limit_is_fast(text):
    """A bound in CPU seconds, generous for a busy machine (the target is under 1 s on an idle one)."""
    assert len(text) <= MAX_PLAN_CHARS
    assert seconds(parse_plan, text) < 5.0  # generous: the quadratic parser took over 45 s here
    assert seconds(parse_plan, text, strict=False) < 5.0  # generous: the quadratic parser took over 45 s here


def test_a_parse_inside_a_finalizer_cannot_break_a_plan_parse():
    """A long plan starts a garbage collection mid-parse; a finalizer that parses then (asyncio logging a lost
    task's error does) used to fail the plan's parse with CPython's "AST constructor recursion depth mismatch"."""
    parsed = []

    class Trap:
        def __init__(self):
            self.cycle = self  # freed only by the collector

        def __del__(self):
            parsed.append(parse_plan('1. f("x")'))

    for _ in range(3):
        Trap()
        assert len(parse_plan(NEAR_THE_LIMIT["many arguments"]).steps[0].args) == MAX_PLAN_CHARS // 2 - 19
    gc.collect()
    assert len(parsed) == 3  # the finalizers ran, after the long parses


def test_streaming_a_long_line_in_small_chunks_is_linear():
    """Each chunk used to copy and search the whole unfinished line: quadratic in its length."""
    text = '1. f("' + "a" * (MAX_PLAN_CHARS - 40) + '")\n2. join()' + END_OF_PLAN + "3. ignored"
    parser = StreamingPlanParser()
    start = time.process_time()
    steps = [s for c in text for s in parser.feed(c)] + parser.close()
    assert (
        time.process_time() - start < 3.0
    )  # generous: a bound for linear work on a busy machine, not a timing
    assert [s.idx for s in steps] == [1, 2] and len(steps[0].args[0]) == MAX_PLAN_CHARS - 40


def test_a_plan_longer_than_the_limit_is_a_clear_error_at_once():
    text = "\n".join(f'{i}. f("{"a" * 200}")' for i in range(1, 5_000))  # 1 MB of steps
    assert len(text) > 1_000_000
    message = f"the plan is longer than {MAX_PLAN_CHARS:,} characters"
    start = time.process_time()
    with pytest.raises(PlanError, match=message) as e:
        parse_plan(text)
    assert (
        time.process_time() - start < 3.0
    )  # generous: a bound for linear work on a busy machine, not a timing
    assert "split" in e.value.message  # says what to do
    parser = StreamingPlanParser()
    with pytest.raises(PlanError, match=message):
        for i in range(0, len(text), 1000):
            parser.feed(text[i : i + 1000])
    assert len(parser.steps) < MAX_STEPS
    # text after the end-of-plan marker is never read, so it does not count
    assert len(parse_plan('1. f("a")\n2. join()' + END_OF_PLAN + "x" * 2 * MAX_PLAN_CHARS)) == 2


def test_a_plan_with_more_steps_than_the_limit_is_a_clear_error():
    text = "\n".join(f"{i}. f()" for i in range(1, MAX_STEPS + 2))
    with pytest.raises(PlanError, match=f"the plan has more than {MAX_STEPS:,} steps") as e:
        parse_plan(text)
    assert e.value.line == MAX_STEPS + 1 and "split" in e.value.message
    assert len(parse_plan(text.rsplit("\n", 1)[0])) == MAX_STEPS


# ------------------------------------------------------------------------------- plan check and score


def test_plan_check_on_the_longest_plan_allowed_is_fast(tmp_path, capsys):
    """2,000 chained steps took 23 s (the width built the transitive closure): the limit is checked fast."""
    path = tmp_path / "chain.txt"
    path.write_text(chain(MAX_STEPS - 1))
    start = time.process_time()
    assert cli.main(["plan", "check", str(path)]) == 0
    assert time.process_time() - start < 5.0  # generous: the quadratic parser took over 45 s here
    assert f"{MAX_STEPS - 1} tasks, depth {MAX_STEPS - 1}, width 1" in capsys.readouterr().out


def test_plan_check_past_the_limits_is_a_clear_error(tmp_path, capsys):
    """10,000 steps gave a MemoryError."""
    path = tmp_path / "chain.txt"
    path.write_text(chain(10_000))
    start = time.process_time()
    assert cli.main(["plan", "check", str(path)]) == 1
    assert (
        time.process_time() - start < 3.0
    )  # generous: a bound for linear work on a busy machine, not a timing
    assert capsys.readouterr().err.startswith(f"error: the plan is longer than {MAX_PLAN_CHARS:,} characters")


def test_plan_score_of_identical_long_plans_is_zero_and_a_timeout_says_so(tmp_path, capsys, monkeypatch):
    """Identical 2,000-step plans printed graph_edit_distance 7998, a timed-out bound shown as exact."""
    long = tmp_path / "long.txt"
    long.write_text(chain(MAX_STEPS - 1))
    assert cli.main(["plan", "score", str(long), str(long)]) == 0
    assert "success 1\ngraph_edit_distance 0\n" in capsys.readouterr().out
    monkeypatch.setattr(cli, "graph_edit_distance", functools.partial(cli.graph_edit_distance, timeout=1e-4))
    (tmp_path / "a").write_text(chain(15))
    (tmp_path / "b").write_text(chain(15, first="get_phone_number"))
    assert cli.main(["plan", "score", str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    out = capsys.readouterr().out
    assert "graph_edit_distance <= " in out and "(timed out)" in out
