"""The ReAct baseline (Yao et al. 2023) that LLMCompiler is compared with: one tool call per LLM turn.

Each turn the model writes `Thought: ...` and `Action: tool[arguments]`; the tool runs; its result is
appended as `Observation: ...`; the model is called again with the longer scratchpad, until it writes
`Action: Finish[answer]` or the step budget runs out. Calls are strictly sequential, which is the latency
LLMCompiler removes.

    >>> parse_action('Thought: look it up\\nAction: search[Ronald Reagan]')
    ('look it up', 'search', ('Ronald Reagan',))
    >>> parse_action('Action: create_note["Todo", "buy milk", ""]')[2]
    ('Todo', 'buy milk', '')
"""

from __future__ import annotations

import ast
import re
import time
from collections.abc import Iterable
from typing import Any

from workbench.compiler.agent import AgentResult, Round
from workbench.compiler.executor import ExecutionResult, Executor
from workbench.compiler.joiner import JoinDecision, read_thoughts
from workbench.compiler.tools import Tool, as_tools
from workbench.llm.base import LLM
from workbench.plan import Step
from workbench.tools.spec import tool_block

_ACTION_RE = re.compile(r"Action\s*:\s*([A-Za-z_]\w*)\s*\[(.*)\]\s*\Z", re.DOTALL)

REACT_SYSTEM = """\
Answer the user's query by thinking and calling tools, one call per turn, with these tools:

{tools}

Each turn, write exactly:
Thought: <what you need next and why>
Action: <tool name>[<arguments>]
Arguments are Python literals separated by commas (a single text argument may be written plainly).
You will then see `Observation: <the tool's result>`. When you can answer, write:
Thought: <why the observations answer the query>
Action: Finish[<the answer>]"""


def parse_action(text: str) -> tuple[str, str, tuple[Any, ...]] | None:
    """(thought, tool, args) from one ReAct turn, or None when there is no `Action: name[...]`."""
    thought = read_thoughts(text)
    starts = [m.start() for m in re.finditer(r"Action\s*:", text)]
    m = _ACTION_RE.match(text, starts[-1]) if starts else None  # the last action; "Action" may occur in args
    if m is None:
        return None
    name, inner = m.group(1), m.group(2).strip()
    if name.lower() == "finish":
        return thought, "Finish", (inner,)
    try:
        value = ast.literal_eval(f"[{inner}]") if inner else []
        args = tuple(value)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError):
        args = (inner,)  # plain text: one argument
    return thought, name, args


class ReAct:
    """The baseline agent over the same tools and LLM interface as `LLMCompiler`."""

    def __init__(
        self,
        llm: LLM,
        tools: Iterable[Tool | Any],
        examples: str = "",
        max_steps: int = 10,
        tool_timeout_s: float | None = 60.0,
    ):
        self.llm = llm
        self.tools = as_tools(tools)
        self.examples = examples
        self.max_steps = max_steps
        self.executor = Executor(self.tools, timeout_s=tool_timeout_s, substitute=False)  # no $ refs in ReAct

    def system(self) -> str:
        text = REACT_SYSTEM.format(tools=tool_block([t.spec for t in self.tools]))
        return text + (f"\n\nExamples:\n{self.examples.strip()}" if self.examples.strip() else "")

    async def run(self, question: str) -> AgentResult:
        start = time.perf_counter()
        result = AgentResult(question, "", False, 0.0, agent="react")
        if not question or not question.strip():
            result.answer = "The query is empty: nothing to do."
            return result
        pad = ""
        for i in range(1, self.max_steps + 1):
            messages = [
                {"role": "system", "content": self.system()},
                {"role": "user", "content": f"Query: {question}\n\n{pad}"},
            ]
            t0 = time.perf_counter() - start
            done = await self.llm.complete(messages, stop=["\nObservation:", "Observation:"])
            t1 = time.perf_counter() - start
            parsed = parse_action(done.text)
            execution = ExecutionResult()
            if parsed is None:
                observation = (
                    "Error: no action found; write `Action: tool[arguments]` or `Action: Finish[answer]`."
                )
                decision = JoinDecision("replan", observation)
            elif parsed[1] == "Finish":
                decision = JoinDecision("finish", str(parsed[2][0]), parsed[0])
                observation = ""
            else:
                _, tool, args = parsed
                execution = await self.executor.run([Step(i, tool, args)], start)
                observation = execution.records[i].observation or ""
                decision = JoinDecision("replan", observation, parsed[0])
            t2 = time.perf_counter() - start
            result.rounds.append(Round(done.text, [], execution, decision, done, None, t0, t1, t2, t2))
            if decision.action == "finish":
                result.answer, result.finished = decision.answer, True
                break
            pad += f"{done.text.strip()}\nObservation: {observation}\n"
        else:
            result.answer = f"I could not answer within {self.max_steps} steps."
        result.latency_s = time.perf_counter() - start
        return result
