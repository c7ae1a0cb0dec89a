"""The task fetching unit of LLMCompiler (Kim et al. 2023, Sec. 3.2): run each task the moment it can run.

Steps arrive from the planner (a list, or an async stream while the plan is still being written). Each step
becomes an asyncio task that awaits the futures of the steps it depends on and starts as soon as the last
one resolves: there is no polling interval, so a task's start is one event-loop hop after its inputs exist.

    >>> import asyncio
    >>> from workbench.compiler.tools import function_tool
    >>> from workbench.plan import parse_plan
    >>> add = function_tool(lambda a, b: str(int(a) + int(b)), name="add")
    >>> run = asyncio.run(Executor([add]).run(parse_plan('1. add("1", "2")\\n2. add("$1", "10")').steps))
    >>> run.observations()
    {1: '3', 2: '13'}

`$N` and `${N}` inside arguments (also inside lists) are replaced by step N's observation; a string that is
exactly one reference becomes the observation itself. A tool that raises or times out yields an `Error: ...`
observation; tasks that depend on it are skipped with an observation saying why; independent tasks go on.
Every run records, per task, when it was dispatched, started and ended (seconds from the run's start).

A tool's failure of any kind is its task's observation, and the joiner reads it like any other: an
exception (`SystemExit` and `KeyboardInterrupt` too), a result whose `str()` fails, a timeout, even one the
tool hid by blocking the event loop. Two kinds of exception do escape: `LLMError` and `ToolUnavailable` (a
service is down), because scoring an outage as a wrong answer would be dishonest; the other tasks are
cancelled first. Cancelling a run cancels its tasks too.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import AsyncIterable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.compiler.events import Event, Listener, clip, ignore
from workbench.compiler.tools import Tool
from workbench.llm.base import LLMError
from workbench.plan import REFERENCE_RE, PlanError, Step, render_args
from workbench.tools.spec import ERROR_PREFIX, ToolUnavailable, is_error

# Failures of the infrastructure, not of the plan: they stop the run instead of becoming an observation that
# a benchmark would score as the model's mistake.
FATAL = (LLMError, ToolUnavailable)


def substitute(value: Any, observations: Mapping[int, str]) -> Any:
    """Replace references in `value` by observations, recursively (strings, lists, tuples, dicts)."""
    if isinstance(value, str):
        whole = REFERENCE_RE.fullmatch(value.strip())
        if whole:
            return observations[int(whole.group(1) or whole.group(2))]
        return REFERENCE_RE.sub(lambda m: observations[int(m.group(1) or m.group(2))], value)
    if isinstance(value, list):
        return [substitute(v, observations) for v in value]
    if isinstance(value, tuple):
        return tuple(substitute(v, observations) for v in value)
    if isinstance(value, dict):
        return {k: substitute(v, observations) for k, v in value.items()}
    return value


@dataclass
class TaskRecord:
    """One task's life: as planned, as called, what came back, and when (seconds from the run's start)."""

    idx: int
    tool: str
    args: tuple[Any, ...]
    deps: tuple[int, ...]
    dispatched: float
    resolved_args: tuple[Any, ...] | None = None
    observation: str | None = None
    status: str = "waiting"  # waiting | running | done | failed | skipped
    started: float | None = None
    ended: float | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done"


@dataclass
class ExecutionResult:
    records: dict[int, TaskRecord] = field(default_factory=dict)
    plan_error: PlanError | None = None
    joined: bool = False  # the plan reached join()
    wall_s: float = 0.0

    def observations(self) -> dict[int, str]:
        return {i: r.observation for i, r in self.records.items() if r.observation is not None}

    @property
    def errors(self) -> dict[int, str]:
        return {i: r.observation or "" for i, r in self.records.items() if r.status in ("failed", "skipped")}

    @property
    def makespan(self) -> float:
        """From the first task's start to the last task's end (0 for no task)."""
        starts = [r.started for r in self.records.values() if r.started is not None]
        ends = [r.ended for r in self.records.values() if r.ended is not None]
        return max(ends) - min(starts) if starts and ends else 0.0

    def timeline(self) -> list[dict[str, Any]]:
        """Rows for a Gantt chart, in step order."""
        return [
            {
                "idx": r.idx,
                "tool": r.tool,
                "status": r.status,
                "dispatched": r.dispatched,
                "started": r.started,
                "ended": r.ended,
            }
            for r in sorted(self.records.values(), key=lambda r: r.idx)
        ]


class Executor:
    """Event-driven task fetching unit over a set of tools.

    `timeout_s`: per task (None: no limit). Sync tools run in a daemon thread each, so they never block the
    loop and a timed-out one is abandoned, not waited for (`_in_daemon_thread`).

    Async tools run on the run's own loop, because they may share loop-bound state with the rest of the
    run (an LLM client's connection pool, the simulated desktop, asyncio locks); a private loop in a thread
    would break those, and still could not stop a coroutine that never yields. So the timeout of an async
    tool is checked twice: by cancellation at the deadline, and when the call returns: a tool that came
    back after its deadline (it blocked the loop with `time.sleep`, or swallowed its cancellation) is
    timed out, never "done". Write a CPU-bound or blocking tool as a sync function.
    """

    def __init__(self, tools: Iterable[Tool], timeout_s: float | None = 60.0, substitute: bool = True):
        self.tools = {t.name: t for t in tools}
        self.timeout_s = timeout_s
        self.substitute = substitute  # False: arguments are passed as written (ReAct has no $ references)

    async def run(
        self,
        steps: Iterable[Step] | AsyncIterable[Step],
        origin: float | None = None,
        on_event: Listener = ignore,
        round: int = 0,
    ) -> ExecutionResult:
        """Dispatch steps as they arrive; return when every dispatched task has finished.

        Times are seconds from `origin` (a `time.perf_counter()` value; default: now), so that an agent can
        put the executions of several rounds on one timeline. `on_event` hears each task's `start` and `end`
        (`compiler.events`), tagged with `round`.

        A `PlanError` raised by the step stream (a bad line mid-plan) stops dispatching; tasks already
        running finish, and the error is returned in `plan_error` for the joiner / replanner.
        """
        result = ExecutionResult()
        began = time.perf_counter()
        start = began if origin is None else origin
        loop = asyncio.get_running_loop()
        futures: dict[int, asyncio.Future[bool]] = {}
        tasks: list[asyncio.Task[None]] = []
        source = _aiter(steps)

        fatal_seen = asyncio.Event()

        def stop_all(task: asyncio.Task[None]) -> None:  # a fatal error in one task cancels the others
            if not task.cancelled() and isinstance(task.exception(), FATAL):
                fatal_seen.set()
                for t in tasks:
                    t.cancel()

        try:
            while True:
                step = await _next_or_stop(
                    source, fatal_seen
                )  # does not wait for the planner after a fatal error
                if step is None:
                    break
                if step.is_join:
                    result.joined = True
                    break
                record = TaskRecord(step.idx, step.tool, step.args, step.deps, time.perf_counter() - start)
                result.records[step.idx] = record
                futures[step.idx] = loop.create_future()
                task = loop.create_task(
                    self._run_task(record, futures, result.records, start, on_event, round)
                )
                task.add_done_callback(stop_all)
                tasks.append(task)
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        except PlanError as e:
            result.plan_error = e
            outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        except BaseException:  # cancelled, or the step source failed: stop every task, then pass it on
            await _cancel(tasks)
            raise
        finally:
            await source.aclose()
        fatal = next((o for o in outcomes if isinstance(o, FATAL)), None)
        if fatal is not None:
            raise fatal
        result.wall_s = time.perf_counter() - began
        return result

    async def _run_task(
        self,
        record: TaskRecord,
        futures: dict[int, asyncio.Future[bool]],
        records: dict[int, TaskRecord],
        start: float,
        on_event: Listener = ignore,
        round: int = 0,
    ) -> None:
        ok = False
        try:
            missing = [d for d in record.deps if d not in futures]
            if missing:
                record.status, record.observation = (
                    "skipped",
                    f"{ERROR_PREFIX}depends on unknown step(s) {missing}",
                )
                return
            failed = [d for d in record.deps if not await asyncio.shield(futures[d])]
            if failed:
                names = ", ".join(f"${d}" for d in failed)
                record.status = "skipped"
                record.observation = f"{ERROR_PREFIX}skipped because {names} failed"
                return
            record.started = time.perf_counter() - start
            record.status = "running"
            observations = {d: records[d].observation or "" for d in record.deps}
            try:
                record.resolved_args = (
                    substitute(record.args, observations) if self.substitute else record.args
                )
            except (KeyError, ValueError) as e:  # a reference the planner did not declare as a dependency
                record.status, record.observation = (
                    "failed",
                    f"{ERROR_PREFIX}cannot fill in the arguments: {e}",
                )
                return
            on_event(Event("start", f"{record.tool}({clip(_shown(record.resolved_args))})", record, round))
            record.observation = await self._call(record.tool, record.resolved_args)
            ok = not is_error(record.observation)
            record.status = "done" if ok else "failed"
        except asyncio.CancelledError:
            record.status, record.observation = "failed", f"{ERROR_PREFIX}cancelled"
            raise
        except FATAL as e:
            record.status, record.observation = "failed", f"{ERROR_PREFIX}{e}"
            raise
        except Exception as e:  # a fault outside the tool (a listener's): the task still gets an outcome
            record.status = "failed"
            record.observation = f"{ERROR_PREFIX}{record.tool} failed in the executor: {_describe(e)}"
        finally:
            record.ended = time.perf_counter() - start
            on_event(Event("end", f"{record.tool} -> {clip(record.observation)}", record, round))
            if not futures[record.idx].done():
                futures[record.idx].set_result(ok)

    async def _call(self, name: str, args: tuple[Any, ...]) -> str:
        """The tool's observation. Raises only `FATAL` errors and the cancellation of this task."""
        tool = self.tools.get(name)
        if tool is None:
            return f"{ERROR_PREFIX}unknown tool {name!r}; available: {', '.join(sorted(self.tools))}"
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(self.timeout_s) as window:
                if tool.is_async:
                    out = _as_text(await tool.fn(*args))
                else:
                    out = _outcome(await _in_daemon_thread(tool.fn, args))
        except TimeoutError as e:
            if window.expired():
                return f"{ERROR_PREFIX}{name} timed out after {self.timeout_s:g} s"
            return f"{ERROR_PREFIX}{name} raised {_describe(e)}"  # the tool's own (a socket's) timeout
        except FATAL:
            raise
        except asyncio.CancelledError as e:
            if _being_cancelled():
                raise
            return f"{ERROR_PREFIX}{name} raised {_describe(e)}"  # raised by the tool, nobody cancelled it
        except _NotText as e:
            return (
                f"{ERROR_PREFIX}{name} returned a result that cannot be shown as text ({_describe(e.cause)})"
            )
        except BaseException as e:  # SystemExit, KeyboardInterrupt, ... from a tool: an observation too
            return f"{ERROR_PREFIX}{name} raised {_describe(e)}"
        overran = window.when() is not None and loop.time() > window.when()
        if overran and tool.is_async:  # it kept the loop from enforcing the timeout
            late = loop.time() - began
            why = (
                f"it ignored its cancellation and returned after {late:.2f} s"
                if window.expired()
                else f"it blocked the event loop for {late:.2f} s (an async tool must await, not block)"
            )
            return f"{ERROR_PREFIX}{name} timed out after {self.timeout_s:g} s: {why}"
        return out


class _NotText(Exception):
    """A tool's result whose `str()` failed; `cause` is what it raised."""

    def __init__(self, cause: BaseException):
        super().__init__(type(cause).__name__)
        self.cause = cause


def _as_text(out: Any) -> str:
    """The observation a result stands for: itself if it is a string, else its `str()`."""
    if isinstance(out, str):
        return out
    try:
        return str(out)
    except BaseException as e:  # whatever __str__ raises is the tool's failure
        raise _NotText(e) from e


def _describe(e: BaseException) -> str:
    """`Type: message` for an observation, even for an exception whose own `str()` raises."""
    try:
        text = str(e)
    except BaseException:
        text = "(its message cannot be shown)"
    return f"{type(e).__name__}: {text}" if text else type(e).__name__


def _being_cancelled() -> bool:
    task = asyncio.current_task()
    return task is not None and task.cancelling() > 0


def _in_daemon_thread(fn: Any, args: tuple[Any, ...]) -> asyncio.Future[tuple[bool, Any]]:
    """A future of (True, `str(fn(*args))`) or (False, what it raised), computed in a new daemon thread.

    Awaiting it can be timed out and cancelled. Why not `asyncio.to_thread`: it uses the loop's default executor, which `asyncio.run` joins at
    shutdown, so a tool still stuck after its timeout kept the whole run open until it returned (a sync
    tool sleeping 8 s under a 1 s timeout: reported at 1 s, returned at 8 s). A thread cannot be killed,
    so a timed-out call is abandoned instead: nobody joins a daemon thread, its late result is dropped,
    and a thread per call means stuck calls never occupy the workers that later calls need. Whatever the
    tool raises (even `SystemExit`) travels back as a value, re-raised by `_outcome` in the task.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[tuple[bool, Any]] = loop.create_future()
    context = contextvars.copy_context()

    def work() -> None:
        try:
            outcome: tuple[bool, Any] = (True, _as_text(context.run(fn, *args)))
        except BaseException as e:  # delivered to the task, which decides what it means
            outcome = (False, e)
        try:
            loop.call_soon_threadsafe(_settle, future, outcome)
        except RuntimeError:  # the loop has closed: nobody waits for this call any more
            pass

    threading.Thread(target=work, name=f"tool-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    return future


def _outcome(outcome: tuple[bool, Any]) -> str:
    """The text of a thread's outcome, or what the tool raised, raised again.

    A plain function, not a coroutine: a `StopIteration` leaving a coroutine would become a `RuntimeError`.
    """
    ok, value = outcome
    if not ok:
        raise value
    return value


def _settle(future: asyncio.Future[tuple[bool, Any]], outcome: tuple[bool, Any]) -> None:
    if not future.done():  # a timed-out or cancelled call was abandoned
        future.set_result(outcome)


def _shown(args: tuple[Any, ...]) -> str:
    try:
        return render_args(args)
    except ValueError:  # an observation substituted in is always a string, but a tool may be called directly
        return repr(args)


async def _next_or_stop(source: Any, stop: asyncio.Event) -> Step | None:
    """The next step, or None at the end of the source or as soon as `stop` is set."""
    if stop.is_set():
        return None
    fetch = asyncio.ensure_future(source.__anext__())
    waiter = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({fetch, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    if fetch not in done:
        fetch.cancel()
        await asyncio.gather(fetch, return_exceptions=True)
        return None
    try:
        return fetch.result()
    except StopAsyncIteration:
        return None


async def _cancel(tasks: list[asyncio.Task[None]]) -> None:
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _aiter(steps: Iterable[Step] | AsyncIterable[Step]):
    """Iterate either kind; closing this closes an async source too (e.g. the planner's stream)."""
    if isinstance(steps, AsyncIterable):
        it = aiter(steps)
        try:
            async for s in it:
                yield s
        finally:
            if hasattr(it, "aclose"):
                await it.aclose()
    else:
        for s in steps:
            yield s
