"""LLMCompiler runtime: executor (task fetching unit), joiner, agent loop with replanning, ReAct, custom tools."""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from workbench.compiler import (
    Executor,
    LLMCompiler,
    ReAct,
    RuleJoiner,
    desktop_tools,
    function_tool,
    parse_joiner_output,
    substitute,
)
from workbench.compiler.prompts import PlannerPrompt, planner_messages
from workbench.compiler.react import parse_action
from workbench.compiler.tools import Tool, as_tools
from workbench.llm import ScriptedLLM
from workbench.llm.base import LLMError
from workbench.paper_examples import FIG1_PLAN, FIG1_QUERY
from workbench.plan import PlanError, Step, parse_plan
from workbench.tools import LatencyModel, Param, SimulatedDesktop, ToolSpec


def run(coro):
    return asyncio.run(coro)


async def sleepy(seconds: float, *refs: str) -> str:
    """Waits, then reports."""
    await asyncio.sleep(float(seconds))
    return f"slept {seconds}"


# extra arguments are references that only order the task (the executor does not check arity)
SLEEP = Tool(ToolSpec("sleep", (Param("seconds", "any"),), "Waits."), sleepy)


def steps(text: str) -> list[Step]:
    return parse_plan(text).steps


# ------------------------------------------------------------------------------------ substitution


def test_substitute_replaces_every_reference_without_prefix_confusion():
    obs = {1: "A", 2: "B", 10: "TEN"}
    assert substitute(("$1 and ${2}", ["$10", "x$1y"], "$10$1"), obs) == ("A and B", ["TEN", "xAy"], "TENA")
    assert substitute({"k": ["$2"]}, obs) == {"k": ["B"]}
    assert substitute(3, obs) == 3 and substitute(None, obs) is None


# ----------------------------------------------------------------------------------------- executor


def test_independent_tasks_run_in_parallel_and_dependants_wait():
    plan = '1. sleep(0.1)\n2. sleep(0.1)\n3. sleep(0.1)\n4. sleep(0.05, "$1", "$2", "$3")\n5. join()'
    t = time.perf_counter()
    res = run(Executor([SLEEP]).run(steps(plan)))
    wall = time.perf_counter() - t
    assert wall < 0.25, f"three 0.1 s tasks and a 0.05 s one took {wall:.3f} s: not parallel"
    r = res.records
    assert r[4].started >= max(r[i].ended for i in (1, 2, 3))
    assert all(x.status == "done" for x in r.values()) and res.joined


def test_a_task_starts_the_moment_its_last_dependency_ends():
    chain = "\n".join(["1. sleep(0.01)"] + [f'{i}. sleep(0.01, "${i - 1}")' for i in range(2, 21)])
    res = run(Executor([SLEEP]).run(steps(chain)))
    gaps = [res.records[i].started - res.records[i - 1].ended for i in range(2, 21)]
    assert statistics.median(gaps) < 0.002, (
        f"median start delay {statistics.median(gaps) * 1e3:.2f} ms: polling?"
    )


def test_tasks_start_while_the_plan_is_still_streaming():
    async def slow_plan():
        yield Step(1, "sleep", (0.01,), ())
        await asyncio.sleep(0.2)
        yield Step(2, "sleep", (0.01,), ())

    res = run(Executor([SLEEP]).run(slow_plan()))
    assert res.records[1].ended < res.records[2].dispatched - 0.1


def test_failures_become_observations_and_only_dependants_are_skipped():
    def boom(x: str) -> str:
        raise ValueError("no such thing")

    plan = '1. boom("a")\n2. sleep(0.01, "$1")\n3. sleep(0.01)\n4. sleep(0.01, "$2")\n5. nope("x")'
    res = run(Executor([SLEEP, function_tool(boom)]).run(steps(plan)))
    r = res.records
    assert r[1].status == "failed" and r[1].observation == "Error: boom raised ValueError: no such thing"
    assert r[2].status == "skipped" and "$1 failed" in r[2].observation
    assert r[4].status == "skipped" and "$2 failed" in r[4].observation
    assert r[3].status == "done"
    assert r[5].status == "failed" and "unknown tool 'nope'" in r[5].observation
    assert set(res.errors) == {1, 2, 4, 5}


def test_timeouts_and_sync_tools_in_threads():
    res = run(
        Executor([SLEEP], timeout_s=0.05).run(steps('1. sleep(5)\n2. sleep(0.01, "$1")\n3. sleep(0.01)'))
    )
    assert "timed out after 0.05 s" in res.records[1].observation and res.records[2].status == "skipped"
    assert res.wall_s < 1.0

    def blocking(seconds: float) -> str:
        time.sleep(seconds)
        return "ok"

    t = time.perf_counter()
    run(Executor([function_tool(blocking)]).run(steps("1. blocking(0.15)\n2. blocking(0.15)")))
    assert time.perf_counter() - t < 0.28, "sync tools must not block the event loop"


def test_desktop_error_observation_fails_the_task():
    desktop = SimulatedDesktop()
    plan = '1. get_email_address("Nobody Known")\n2. send_sms("$1", "hi")\n3. get_email_address("Sid")'
    res = run(Executor(desktop_tools(desktop)).run(steps(plan)))
    assert res.records[1].status == "failed" and res.records[2].status == "skipped"
    assert res.records[3].observation == "sid.jha@example.com"
    assert desktop.sms == []


def test_a_plan_error_mid_stream_stops_dispatching_but_keeps_what_ran():
    async def bad():
        yield Step(1, "sleep", (0.01,), ())
        raise PlanError("cannot read the call", 2)

    res = run(Executor([SLEEP]).run(bad()))
    assert res.records[1].status == "done" and res.plan_error.line == 2 and not res.joined


# ------------------------------------------------------------------------------------------- joiner


@pytest.mark.parametrize(
    "text, action, answer",
    [
        ("Thought: ok\nAction: Finish(Paris (France))", "finish", "Paris (France)"),
        ("Thought: missing\nAction: Replan(need the date)", "replan", "need the date"),
        ("Action: Replan", "replan", ""),
        ("Thought: a\nAction: Replan(x)\nThought: b\nAction: Finish(f(x) = 2)", "finish", "f(x) = 2"),
        ("The answer is 42.", "finish", "The answer is 42."),
        ("Action: Finish[yes]", "finish", "yes"),
        ("Action: Finish(multi\nline (answer))", "finish", "multi\nline (answer)"),
    ],
)
def test_joiner_output(text, action, answer):
    d = parse_joiner_output(text)
    assert (d.action, d.answer) == (action, answer)


# -------------------------------------------------------------------------------------- agent loop

FINISH = "Thought: done.\nAction: Finish(Event created (2pm))"


def _agent(responses, stream=True, **kw):
    desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.02, 0.02))
    llm = ScriptedLLM(responses, ttft_s=0.01, tokens_per_s=2000)
    return (
        LLMCompiler(llm, desktop_tools(desktop), tinyagent=True, today="2024-06-12", stream=stream, **kw),
        desktop,
        llm,
    )


@pytest.mark.parametrize("stream", [True, False])
def test_end_to_end_on_the_desktop(stream):
    agent, desktop, llm = _agent([FIG1_PLAN, FINISH], stream=stream)
    result = run(agent.run(FIG1_QUERY))
    assert result.finished and result.answer == "Event created (2pm)"
    assert desktop.calendar[0]["invitees"] == ["sid.jha@example.com", "lutfi.erdogan@example.com"]
    assert result.llm_calls == 2 and result.usage.completion_tokens > 0
    assert "Today's date is 2024-06-12" in llm.calls[0][0]["content"]
    assert "sid.jha@example.com" in llm.calls[1][1]["content"]  # the joiner sees the observations


def test_streaming_and_not_give_the_same_answer_and_observations():
    a = run(_agent([FIG1_PLAN, FINISH], stream=True)[0].run(FIG1_QUERY))
    b = run(_agent([FIG1_PLAN, FINISH], stream=False)[0].run(FIG1_QUERY))
    assert a.answer == b.answer
    assert a.rounds[0].execution.observations() == b.rounds[0].execution.observations()
    assert (a.usage, a.llm_calls, a.rounds[0].plan_text) == (b.usage, b.llm_calls, b.rounds[0].plan_text)


@pytest.mark.parametrize("stream", [True, False])
def test_one_loop_tells_a_listener_every_chunk_line_step_task_and_join(stream):
    agent, _, _ = _agent([FIG1_PLAN, FINISH], stream=stream)
    events = []
    result = run(agent.run(FIG1_QUERY, on_event=events.append))
    kinds = [e.kind for e in events]
    assert kinds[0] == "chunk" and kinds[-1] == "join" and events[-1].data.action == "finish"
    assert "".join(e.data for e in events if e.kind == "chunk") == result.rounds[0].plan_text
    lines = [e.text for e in events if e.kind == "plan"]
    assert lines == [x.strip() for x in result.rounds[0].plan_text.splitlines() if x.strip()]
    steps = [e.data for e in events if e.kind == "step"]
    assert steps == result.rounds[0].steps, "every step the executor was handed, in order"
    records = result.rounds[0].execution.records
    for kind in ("start", "end"):
        assert sorted(e.data.idx for e in events if e.kind == kind) == sorted(records)
    for idx in records:  # a task starts after its step is parsed and ends after it starts
        step_at = next(i for i, e in enumerate(events) if e.kind == "step" and e.data.idx == idx)
        start_at = next(i for i, e in enumerate(events) if e.kind == "start" and e.data.idx == idx)
        end_at = next(i for i, e in enumerate(events) if e.kind == "end" and e.data.idx == idx)
        assert step_at < start_at < end_at
    assert 'get_email_address("Sid")' in next(e.text for e in events if e.kind == "start")


def test_a_replan_is_an_event_of_its_round():
    desktop = SimulatedDesktop()
    llm = ScriptedLLM(
        ['1. get_email_address("Nobody Known")\n2. join()', '1. get_email_address("Sid")\n2. join()']
    )
    events = []
    run(LLMCompiler(llm, desktop_tools(desktop), joiner=RuleJoiner()).run("email of Sid", events.append))
    decisions = [(e.kind, e.round) for e in events if e.kind in ("join", "replan")]
    assert decisions == [("replan", 0), ("join", 1)]
    assert {e.round for e in events if e.kind == "end"} == {0, 1}


@pytest.mark.parametrize("stream", [True, False])
def test_a_replan_the_planner_cannot_write_ends_the_run_with_the_reason(stream):
    """A served planner can fail on a replan only (its context outgrown by the plan and its observations): the
    first round stays, and the answer names the failure instead of raising."""

    def respond(messages):
        if len(llm.calls) > 1:
            raise LLMError("Requested tokens (1028) exceed context window of 1024")
        return '1. get_email_address("Nobody Known")\n2. join()'

    llm = ScriptedLLM(respond)
    result = run(
        LLMCompiler(llm, desktop_tools(SimulatedDesktop()), joiner=RuleJoiner()).run("email of Nobody")
    )
    assert not result.finished and len(result.rounds) == 1
    assert "replanning failed" in result.answer and "context window" in result.answer
    with pytest.raises(LLMError):  # no first plan at all is still an error
        run(
            LLMCompiler(ScriptedLLM([]), desktop_tools(SimulatedDesktop()), stream=stream).run("email of Sid")
        )


def test_streaming_overlaps_execution_with_planning():
    desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.05, 0.05))
    llm = ScriptedLLM([FIG1_PLAN, FINISH], ttft_s=0.01, tokens_per_s=200)
    result = run(LLMCompiler(llm, desktop_tools(desktop), stream=True).run(FIG1_QUERY))
    r = result.rounds[0]
    assert r.execution.records[1].started < r.plan_end - 0.1, "step 1 should run while the plan streams"


@pytest.mark.parametrize(
    "bad, message",
    [
        ("1. get_email_address(Sid\n2. join()", "cannot read the call"),
        ('1. send_email("Sid")\n2. join()', "unknown tool 'send_email'"),
        ('1. get_email_address("Sid")\n2. send_sms("$3", "hi")\n3. join()', "refers to a later step"),
    ],
)
def test_bad_plans_are_replanned_not_crashed(bad, message):
    agent, desktop, llm = _agent([bad, "Thought: bad plan\nAction: Replan(fix it)", FIG1_PLAN, FINISH])
    result = run(agent.run(FIG1_QUERY))
    assert result.finished and len(result.rounds) == 2
    assert message in str(result.rounds[0].execution.plan_error)
    assert message in llm.calls[2][1]["content"]  # the replanner is shown the error


def test_garbage_three_times_ends_with_a_clear_message():
    garbage = "I am not sure what to do here."
    agent, _, _ = _agent([garbage, "Action: Replan(no plan)"] * 3, max_replans=2)
    result = run(agent.run(FIG1_QUERY))
    assert not result.finished and len(result.rounds) == 3
    assert "replanning budget (2) ran out" in result.answer


def test_rule_joiner_replans_on_tool_errors():
    desktop = SimulatedDesktop()
    llm = ScriptedLLM(
        ['1. get_email_address("Nobody Known")\n2. join()', '1. get_email_address("Sid")\n2. join()']
    )
    result = run(LLMCompiler(llm, desktop_tools(desktop), joiner=RuleJoiner()).run("email of Sid"))
    assert result.finished and result.answer == "sid.jha@example.com" and len(result.rounds) == 2


def test_empty_query():
    agent, _, llm = _agent([FIG1_PLAN, FINISH])
    assert "empty" in run(agent.run("  ")).answer and llm.calls == []


# ------------------------------------------------------------------------------------ custom tools


def test_custom_tools_from_plain_functions():
    def lookup_price(item: str) -> float:
        """Returns the price of an item in euros."""
        return {"apple": 0.5, "pear": 0.75}[item]

    async def total(prices: list[str], discount: float | None = None) -> str:
        """Adds prices up.

        - prices are numbers as text.
        """
        return f"{sum(float(p) for p in prices) * (1 - (discount or 0)):.2f}"

    tools = as_tools([lookup_price, total])
    assert tools[1].spec.signature() == "total(prices: list[str], discount: float) -> str"
    assert tools[1].spec.params[1].optional and tools[1].spec.rules == ("prices are numbers as text.",)
    plan = '1. lookup_price("apple")\n2. lookup_price("pear")\n3. total(["$1", "$2"], 0.1)\n4. join()'
    llm = ScriptedLLM([plan, "Thought: sum known\nAction: Finish(1.12 euros)"])
    agent = LLMCompiler(
        llm, tools, custom_instructions="Always answer in euros.", examples="Query: x\n1. join()"
    )
    result = run(agent.run("What do an apple and a pear cost together?"))
    assert result.rounds[0].execution.records[3].observation == "1.12"
    system = llm.calls[0][0]["content"]
    assert "Always answer in euros." in system and "lookup_price(item: str) -> float" in system
    with pytest.raises(ValueError, match="unique"):
        as_tools([lookup_price, lookup_price])
    with pytest.raises(TypeError, match="positional"):
        function_tool(lambda *, x: x)


def test_planner_prompt_and_replan_context():
    prompt = PlannerPrompt(
        [t.spec for t in desktop_tools(SimulatedDesktop())], tinyagent=True, today="2024-06-12"
    )
    msgs = planner_messages(prompt, "q", context="1. f()\nObservation: Error: x")
    system = msgs[0]["content"]
    assert "17. join() -> None" in system and "<END_OF_PLAN>" in system and "keyword arguments" in system
    assert "create_calendar_event(title: str, start_date: str" in system
    assert "Observation: Error: x" in msgs[1]["content"] and "numbered from 1" in msgs[1]["content"]


# -------------------------------------------------------------------------------------------- ReAct


def test_parse_action():
    assert parse_action("Thought: t\nAction: search[Barack Obama]") == ("t", "search", ("Barack Obama",))
    assert parse_action('Action: f["a", ["b"], None]')[2] == ("a", ["b"], None)
    assert parse_action("Action: Finish[it is (probably) 3]")[1:] == ("Finish", ("it is (probably) 3",))
    assert parse_action("no action here") is None


def test_react_runs_tools_one_at_a_time():
    desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.03, 0.03))
    llm = ScriptedLLM(
        [
            "Thought: Sid first\nAction: get_email_address[Sid]",
            "I forgot the format",
            'Thought: then Lutfi\nAction: get_email_address["Lutfi"]',
            "Thought: both known\nAction: Finish[sid.jha@example.com, lutfi.erdogan@example.com]",
        ]
    )
    result = run(ReAct(llm, desktop_tools(desktop)).run("Emails of Sid and Lutfi?"))
    assert result.finished and result.answer.startswith("sid.jha@example.com")
    calls = [r.execution.records for r in result.rounds if r.execution.records]
    assert len(calls) == 2 and calls[1][3].started > calls[0][1].ended
    assert "Observation: sid.jha@example.com" in llm.calls[1][1]["content"]
    assert "no action found" in llm.calls[2][1]["content"]
    budget = run(ReAct(ScriptedLLM(["Thought: hmm"] * 3), desktop_tools(desktop), max_steps=3).run("?"))
    assert not budget.finished and "within 3 steps" in budget.answer


# ------------------------------------------------------------------------------ review regressions


@pytest.mark.parametrize("ending", ["join()\n<END_OF_PLAN>", "join()\nThought: that is all.\n<END_OF_PLAN>"])
def test_the_planner_call_is_recorded_when_join_is_followed_by_more_text(ending):
    plan = FIG1_PLAN.replace("join()<END_OF_PLAN>", ending)
    runs = [run(_agent([plan, FINISH], stream=s)[0].run(FIG1_QUERY)) for s in (True, False)]
    for r in runs:
        assert r.rounds[0].plan_completion is not None and "4. join()" in r.rounds[0].plan_text
        assert r.llm_calls == 2 and r.usage.completion_tokens > 40
    assert runs[0].rounds[0].plan_text.startswith(runs[1].rounds[0].plan_text[:200])


class _OneChunkLLM(ScriptedLLM):
    """Sends each scripted text as a single chunk (a fast server's whole reply in one read)."""

    async def _generate(self, messages, stop, temperature, max_tokens, state):
        yield self._next_text(messages)


def test_good_steps_in_the_same_chunk_as_a_bad_line_still_run():
    plan = '1. get_phone_number("Sid")\n2. send_sms("$1", "hi")\n3. bogus(\n4. join()'
    desktop = SimulatedDesktop()
    llm = _OneChunkLLM([plan, "Action: Finish(done)"])
    result = run(LLMCompiler(llm, desktop_tools(desktop), stream=True).run("text Sid hi"))
    records = result.rounds[0].execution.records
    assert records[1].status == "done" and records[2].status == "done" and desktop.sms
    assert "cannot read the call" in str(result.rounds[0].execution.plan_error)


def test_the_joiner_sees_every_round_after_a_replan():
    desktop = SimulatedDesktop()
    llm = ScriptedLLM(
        [
            '1. get_email_address("Sid")\n2. join()',
            "Action: Replan(need Lutfi too)",
            '1. get_email_address("Lutfi")\n2. join()',
            "Action: Finish(both)",
        ]
    )
    run(LLMCompiler(llm, desktop_tools(desktop)).run("emails of Sid and Lutfi"))
    last_joiner_prompt = llm.calls[3][1]["content"]
    assert "sid.jha@example.com" in last_joiner_prompt and "lutfi.erdogan@example.com" in last_joiner_prompt


def test_react_passes_dollar_text_through_and_finds_the_last_action():
    seen = []

    def math(expression: str) -> str:
        seen.append(expression)
        return "15"

    llm = ScriptedLLM(
        ["Thought: compute\nAction: math[$5 * 3]", "Thought: ok\nAction: Finish[Action Comics]"]
    )
    result = run(ReAct(llm, [function_tool(math)]).run("?"))
    assert seen == ["$5 * 3"] and result.answer == "Action Comics"
    assert parse_action("Thought: x\nAction: Finish[Action Comics sold more]")[2] == (
        "Action Comics sold more",
    )


def test_infrastructure_failures_stop_the_run_and_cancel_the_rest():
    from workbench.llm import LLMError

    def broken(x: str) -> str:
        raise LLMError("the model behind this tool is down")

    plan = steps('1. broken("a")\n2. sleep(5)\n3. sleep(0.01, "$1")')
    t = time.perf_counter()
    with pytest.raises(LLMError, match="down"):
        run(Executor([SLEEP, function_tool(broken)]).run(plan))
    assert time.perf_counter() - t < 1.0, "the 5 s task was not cancelled"


def test_cancelling_a_run_cancels_its_tasks_promptly():
    async def scenario():
        task = asyncio.create_task(
            Executor([SLEEP]).run(steps('1. sleep(5)\n2. sleep(5, "$1")\n3. sleep(5, "$1")'))
        )
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    t = time.perf_counter()
    run(scenario())
    assert time.perf_counter() - t < 1.0


def test_a_fatal_error_does_not_wait_for_the_planners_next_step():
    from workbench.llm import LLMError

    def broken(x: str) -> str:
        raise LLMError("down")

    async def slow_plan():
        yield Step(1, "broken", ("a",), ())
        await asyncio.sleep(5)  # a planner still writing
        yield Step(2, "sleep", (0.01,), ())

    t = time.perf_counter()
    with pytest.raises(LLMError):
        run(Executor([SLEEP, function_tool(broken)]).run(slow_plan()))
    assert time.perf_counter() - t < 1.0
