"""Tools that misbehave (issue 21): they overrun timeouts or raise what `Exception` does not catch.

Every fault must become an `Error: ...` observation of its own task, on time; the run goes on, and the
joiner reads the error like any other observation.
"""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from workbench.compiler import Executor, LLMCompiler, RuleJoiner, function_tool
from workbench.compiler.tools import Tool
from workbench.llm import ScriptedLLM
from workbench.plan import parse_plan
from workbench.tools import Param, ToolSpec


def steps(text: str):
    return parse_plan(text).steps


def ok(x: str) -> str:
    """Echoes."""
    return f"ok {x}"


# ---------------------------------------------------------------------------------- timeouts (defect 8)


def test_a_timed_out_sync_tool_does_not_hold_the_run_open():
    gate = threading.Event()

    def stuck(x: str) -> str:
        gate.wait(5)
        return "late"

    try:
        t = time.perf_counter()
        res = asyncio.run(
            Executor([function_tool(stuck), function_tool(ok)], timeout_s=0.1).run(
                steps('1. stuck("a")\n2. ok("b")')
            )
        )
        wall = time.perf_counter() - t
    finally:
        gate.set()
    assert res.records[1].status == "failed"
    assert res.records[1].observation == "Error: stuck timed out after 0.1 s"
    assert res.records[2].observation == "ok b"
    assert wall < 1.0, f"the run returned after {wall:.2f} s: it waited for the stuck thread"


def test_timed_out_sync_tools_do_not_starve_later_calls():
    gate = threading.Event()

    def stuck(x: str) -> str:
        gate.wait(5)
        return "late"

    # More stuck calls than any small thread pool has workers: later calls must still run at once.
    plan = "\n".join(f'{i}. stuck("{i}")' for i in range(1, 41)) + '\n41. ok("$1")\n42. ok("x")'
    try:
        t = time.perf_counter()
        res = asyncio.run(Executor([function_tool(stuck), function_tool(ok)], timeout_s=0.1).run(steps(plan)))
        wall = time.perf_counter() - t
    finally:
        gate.set()
    assert res.records[42].observation == "ok x" and res.records[41].status == "skipped"
    assert wall < 1.0


def test_an_async_tool_that_blocks_the_loop_is_timed_out_not_done():
    async def blocks(x: str) -> str:
        time.sleep(0.3)  # a mistake: blocks the event loop, so the timeout cannot interrupt it
        return "finished anyway"

    res = asyncio.run(Executor([function_tool(blocks)], timeout_s=0.1).run(steps('1. blocks("a")')))
    r = res.records[1]
    assert r.status == "failed", r.observation
    assert r.observation.startswith("Error: blocks timed out after 0.1 s")
    assert "blocked the event loop" in r.observation


def test_an_async_tool_that_swallows_its_cancellation_is_timed_out_not_done():
    async def stubborn(x: str) -> str:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            pass
        return "finished anyway"

    t = time.perf_counter()
    res = asyncio.run(Executor([function_tool(stubborn)], timeout_s=0.1).run(steps('1. stubborn("a")')))
    assert time.perf_counter() - t < 1.0
    assert res.records[1].status == "failed"
    assert res.records[1].observation.startswith("Error: stubborn timed out after 0.1 s")


def test_a_fast_async_tool_is_not_flagged():
    async def quick(x: str) -> str:
        await asyncio.sleep(0.01)
        return "fine"

    res = asyncio.run(Executor([function_tool(quick)], timeout_s=0.5).run(steps('1. quick("a")')))
    assert res.records[1].status == "done" and res.records[1].observation == "fine"


# ------------------------------------------------------------------- exceptions past `Exception` (defect 9)


def _raiser(exc: BaseException, is_async: bool) -> Tool:
    spec = ToolSpec("bad", (Param("x", "str"),), "Fails.")
    if is_async:

        async def bad(x: str) -> str:
            raise exc

    else:

        def bad(x: str) -> str:
            raise exc

    return Tool(spec, bad)


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
@pytest.mark.parametrize(
    "exc",
    [SystemExit(3), KeyboardInterrupt(), GeneratorExit(), StopIteration(), StopAsyncIteration()],
    ids=lambda e: type(e).__name__,
)
def test_base_exceptions_from_a_tool_become_observations(exc, is_async):
    plan = '1. bad("a")\n2. ok("b")\n3. ok("$1")'
    res = asyncio.run(Executor([_raiser(exc, is_async), function_tool(ok)], timeout_s=1.0).run(steps(plan)))
    r = res.records
    assert r[1].status == "failed"
    if is_async and isinstance(exc, StopIteration):  # PEP 479: leaving a coroutine, it became RuntimeError
        assert r[1].observation == "Error: bad raised RuntimeError: coroutine raised StopIteration"
    else:
        assert r[1].observation.startswith(f"Error: bad raised {type(exc).__name__}")
    assert r[2].status == "done" and r[2].observation == "ok b"
    assert r[3].status == "skipped"


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_cancelled_error_raised_by_a_tool_itself_is_its_failure(is_async):
    res = asyncio.run(
        Executor([_raiser(asyncio.CancelledError(), is_async), function_tool(ok)], timeout_s=1.0).run(
            steps('1. bad("a")\n2. ok("b")')
        )
    )
    assert res.records[1].status == "failed"
    assert res.records[1].observation.startswith("Error: bad raised CancelledError")
    assert res.records[2].observation == "ok b"


class Unprintable:
    def __str__(self) -> str:
        raise RuntimeError("no text for you")

    __repr__ = __str__


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("no text for you either")


@pytest.mark.parametrize("is_async", [False, True], ids=["sync", "async"])
def test_a_result_whose_str_raises_is_an_error_observation(is_async):
    spec = ToolSpec("weird", (Param("x", "str"),), "Returns an object.")
    if is_async:

        async def weird(x: str) -> object:
            return Unprintable()

    else:

        def weird(x: str) -> object:
            return Unprintable()

    res = asyncio.run(
        Executor([Tool(spec, weird), function_tool(ok)]).run(steps('1. weird("a")\n2. ok("$1")\n3. ok("c")'))
    )
    r = res.records
    assert r[1].status == "failed"
    assert r[1].observation.startswith("Error: weird returned a result that cannot be shown as text")
    assert "RuntimeError" in r[1].observation
    assert r[2].status == "skipped" and r[3].observation == "ok c"
    assert set(res.errors) == {1, 2}


def test_an_exception_whose_str_raises_is_still_an_observation():
    def bad(x: str) -> str:
        raise UnprintableError()

    res = asyncio.run(Executor([function_tool(bad)]).run(steps('1. bad("a")')))
    assert res.records[1].status == "failed"
    assert res.records[1].observation.startswith("Error: bad raised UnprintableError")


def test_the_joiner_sees_a_tool_that_raised_system_exit():
    def quits(x: str) -> str:
        """Quits."""
        raise SystemExit("bye")

    llm = ScriptedLLM(['1. quits("a")\n2. ok("b")\n3. join()', '1. ok("c")\n2. join()'])
    result = asyncio.run(
        LLMCompiler(llm, [function_tool(quits), function_tool(ok)], joiner=RuleJoiner(), max_replans=1).run(
            "?"
        )
    )
    first = result.rounds[0].execution
    assert first.records[1].observation == "Error: quits raised SystemExit: bye"
    assert first.records[2].observation == "ok b"
    assert len(result.rounds) == 2  # the rule joiner saw the failure and replanned
