"""The LLMCompiler agent loop (Kim et al. 2023, Sec. 3): plan -> execute while streaming -> join -> replan.

    agent = LLMCompiler(planner=llm, tools=[...])
    result = await agent.run("Who is older, X or Y?")
    result.answer, result.latency_s, result.usage

With `stream=True` (the default) the task fetching unit receives each step as soon as the planner has
written its line, so tools run while the rest of the plan is still being generated. `stream=False` waits
for the whole plan first; both parse with the same parser and give the same answer.

A plan that does not parse, names an unknown tool or refers to a later step never crashes the run: the
steps before the bad line run, the error is shown to the joiner, and the planner is asked again (up to
`max_replans` times). When the budget runs out the answer says so.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.compiler.events import Event, Listener, clip, ignore
from workbench.compiler.executor import ExecutionResult, Executor
from workbench.compiler.joiner import JoinDecision, LLMJoiner, scratchpad
from workbench.compiler.prompts import PlannerPrompt, planner_messages
from workbench.compiler.tools import Tool, as_tools
from workbench.llm.base import LLM, Completion, LLMError, Message, Usage
from workbench.plan import END_OF_PLAN, Plan, PlanError, Step, StreamingPlanParser, validate_plan


class Joiner(Protocol):
    async def __call__(
        self, question: str, pad: str, execution: ExecutionResult
    ) -> tuple[JoinDecision, Completion | None]: ...


@dataclass
class Round:
    """One plan-execute-join cycle. Times are seconds from the start of the run."""

    plan_text: str
    steps: list[Step]
    execution: ExecutionResult
    decision: JoinDecision
    plan_completion: Completion | None
    join_completion: Completion | None
    plan_start: float
    plan_end: float
    exec_end: float
    join_end: float


@dataclass
class AgentResult:
    question: str
    answer: str
    finished: bool
    latency_s: float
    rounds: list[Round] = field(default_factory=list)
    agent: str = "llmcompiler"  # or "react"

    @property
    def completions(self) -> list[Completion]:
        out = []
        for r in self.rounds:
            out += [c for c in (r.plan_completion, r.join_completion) if c is not None]
        return out

    @property
    def usage(self) -> Usage:
        return sum((c.usage for c in self.completions), Usage())

    @property
    def llm_calls(self) -> int:
        return len(self.completions)


class PlanningError(LLMError):
    """The planner's LLM failed while writing a plan (as opposed to a tool's LLM failing while it runs)."""


@contextlib.contextmanager
def _planning() -> Iterator[None]:
    """Inside it, the planner's LLM failing is raised as a `PlanningError`."""
    try:
        yield
    except LLMError as err:
        if isinstance(err, PlanningError):
            raise
        raise PlanningError(str(err)) from err


class LLMCompiler:
    """Planner + task fetching unit + joiner, with replanning.

    `joiner`: an LLMJoiner (default: the planner model), a RuleJoiner, or any callable of that shape.
    `tinyagent`: add TinyAgent's planner rules (today's date, ISO dates, positional arguments).
    `strict`: reject prose lines in the plan (False skips them, for chatty models).
    `messages`: builds the planner's chat from (question, replan context); default: the LLMCompiler planner
    prompt over `tools`. TinyAgent's fine-tuned planner brings its own prompt (`workbench.agent`).
    """

    def __init__(
        self,
        planner: LLM,
        tools: Iterable[Tool | Any],
        joiner: Joiner | None = None,
        examples: str = "",
        custom_instructions: str = "",
        today: str | None = None,
        tinyagent: bool = False,
        max_replans: int = 2,
        stream: bool = True,
        tool_timeout_s: float | None = 60.0,
        strict: bool = True,
        max_plan_tokens: int | None = 1024,
        messages: Callable[[str, str], list[Message]] | None = None,
    ):
        self.planner = planner
        self.tools: list[Tool] = as_tools(tools)
        self.joiner = joiner or LLMJoiner(planner)
        self.prompt = PlannerPrompt(
            [t.spec for t in self.tools], examples, custom_instructions, today, tinyagent
        )
        self.max_replans = max_replans
        self.stream = stream
        self.strict = strict
        self.max_plan_tokens = max_plan_tokens
        self.executor = Executor(self.tools, timeout_s=tool_timeout_s)
        self.specs = {t.name: t.spec for t in self.tools}
        self.messages = messages

    async def run(self, question: str, on_event: Listener = ignore) -> AgentResult:
        """Plan, execute while the plan streams, join; replan until the joiner finishes or the budget ends.

        `on_event` hears every plan chunk and line, step, task start and end, and join decision
        (`compiler.events`)."""
        if not question or not question.strip():
            return AgentResult(question, "The query is empty: nothing to do.", False, 0.0)
        start = time.perf_counter()
        result = AgentResult(question, "", False, 0.0)
        context = ""
        decision = JoinDecision("replan", "no plan was made")
        for k in range(self.max_replans + 1):
            messages = (
                self.messages(question, context)
                if self.messages
                else planner_messages(self.prompt, question, context)
            )
            completions: list[Completion] = []
            parser = StreamingPlanParser(strict=self.strict)
            plan_start = time.perf_counter() - start
            heard = _Heard(on_event, k)
            try:
                steps = (
                    self._streamed_steps(messages, parser, completions, heard)
                    if self.stream
                    else await self._whole_plan_steps(messages, parser, completions, heard)
                )
                execution = await self.executor.run(steps, start, on_event, k)
            except PlanningError as err:
                if k == 0:
                    raise  # no plan at all: the caller's error to see (an unreachable server, a bad key)
                # a replan the planner could not write (a served small model's context outgrown by the plan
                # and its observations, a server gone): the rounds so far stay, and the answer says why
                result.answer = f"I could not complete the task: replanning failed ({err}). "
                result.answer += f"Last problem: {decision.answer}"
                break
            exec_end = time.perf_counter() - start
            plan_end = plan_start + (completions[0].total_s if completions else 0.0)
            pad = scratchpad(parser.steps, execution)
            decision, join_completion = await self.joiner(question, context + pad, execution)  # every round
            on_event(
                Event(
                    "join" if decision.action == "finish" else "replan",
                    clip(decision.answer, 200),
                    decision,
                    k,
                )
            )
            result.rounds.append(
                Round(
                    completions[0].text if completions else "",
                    list(parser.steps),
                    execution,
                    decision,
                    completions[0] if completions else None,
                    join_completion,
                    plan_start,
                    plan_end,
                    exec_end,
                    time.perf_counter() - start,
                )
            )
            if decision.action == "finish":
                result.answer, result.finished = decision.answer, True
                break
            context += f"{pad}\nWhy this was not enough: {decision.answer}\n"
        else:
            result.answer = (
                f"I could not complete the task: the replanning budget ({self.max_replans}) ran "
                f"out. Last problem: {decision.answer}"
            )
        result.latency_s = time.perf_counter() - start
        return result

    def _check(self, step: Step, heard: _Heard) -> Step:
        if not step.is_join:
            validate_plan(Plan([step]), self.specs)
        heard.step(step)
        return step

    async def _streamed_steps(
        self,
        messages: list[dict[str, str]],
        parser: StreamingPlanParser,
        completions: list[Completion],
        heard: _Heard,
    ) -> AsyncIterator[Step]:
        """Steps as the planner writes them; a bad line is raised after the stream is drained.

        Closing this generator (the executor does at `join()`) closes the planner's stream, which still
        records its call in `completions`.
        """
        error: PlanError | None = None
        stream = self.planner.stream(
            messages, stop=[END_OF_PLAN], max_tokens=self.max_plan_tokens, result=completions
        )
        try:
            with _planning():
                async with contextlib.aclosing(stream) as chunks:
                    async for chunk in chunks:
                        heard.chunk(chunk)
                        if error is not None:
                            continue  # keep reading, so the call's whole text is recorded for the replanner
                        try:
                            for step in _feed_lines(parser, chunk):
                                yield self._check(step, heard)
                        except PlanError as e:
                            error = e
        finally:
            heard.close()
        if error is None:
            for step in parser.close():
                yield self._check(step, heard)
        else:
            raise error

    async def _whole_plan_steps(
        self,
        messages: list[dict[str, str]],
        parser: StreamingPlanParser,
        completions: list[Completion],
        heard: _Heard,
    ) -> AsyncIterator[Step]:
        with _planning():
            done = await self.planner.complete(messages, stop=[END_OF_PLAN], max_tokens=self.max_plan_tokens)
        completions.append(done)
        heard.chunk(done.text)
        heard.close()

        async def replay() -> AsyncIterator[Step]:
            for step in _feed_lines(parser, done.text):
                yield self._check(step, heard)
            for step in parser.close():
                yield self._check(step, heard)

        return replay()


class _Heard:
    """Tells a listener about the plan of one round: each chunk, each whole line, each step."""

    def __init__(self, on_event: Listener, round: int):
        self.on_event, self.round, self.pending = on_event, round, ""

    def chunk(self, text: str) -> None:
        self.on_event(Event("chunk", "", text, self.round))
        *lines, self.pending = (self.pending + text).split("\n")
        for line in lines:
            self._line(line)

    def close(self) -> None:
        self._line(self.pending)
        self.pending = ""

    def step(self, step: Step) -> None:
        self.on_event(Event("step", step.tool, step, self.round))

    def _line(self, line: str) -> None:
        if line.strip():
            self.on_event(Event("plan", line.strip(), None, self.round))


def _feed_lines(parser: StreamingPlanParser, text: str):
    """Feed `text` a line at a time, so that the steps before a bad line are yielded before its error."""
    for piece in re.split(r"(?<=\n)", text):
        if piece:
            yield from parser.feed(piece)
