"""The joiner of LLMCompiler (Kim et al. 2023, Sec. 3.3): answer from the observations, or ask to replan.

    >>> parse_joiner_output("Thought: both found.\\nAction: Finish(Paris (France) is larger)")
    JoinDecision(action='finish', answer='Paris (France) is larger', thought='both found.')

An answer that itself contains parentheses stays whole: the answer runs to the last `)`. Output with no
`Action:` line is taken as a finished answer (the whole text), as LLMCompiler does when no replan is asked.

`RuleJoiner` needs no model: it finishes with the observations, or replans when a step failed. It stands in
where no joiner model exists (the offline TinyAgent planner); it is a rule, not a model's judgement.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.compiler.executor import ExecutionResult
from workbench.compiler.prompts import joiner_messages
from workbench.llm.base import LLM, Completion
from workbench.plan import Step

_ACTION_RE = re.compile(r"Action\s*:\s*(Finish|Replan)\b\s*(.*)\Z", re.IGNORECASE | re.DOTALL)


@dataclass
class JoinDecision:
    action: str  # finish | replan
    answer: str
    thought: str = ""


def _unwrap(text: str) -> str:
    text = text.strip()
    if text.startswith("(") or text.startswith("["):
        close = ")" if text[0] == "(" else "]"
        end = text.rfind(close)
        return text[1:end].strip() if end > 0 else text[1:].strip()
    return text


def read_thoughts(text: str) -> str:
    """Every `Thought:` line of a model's reply, joined (joiner and ReAct replies alike)."""
    return " ".join(m.group(1).strip() for m in re.finditer(r"^\s*Thought\s*:\s*(.*)$", text, re.MULTILINE))


def parse_joiner_output(text: str) -> JoinDecision:
    thought = read_thoughts(text)
    starts = [m.start() for m in re.finditer(r"Action\s*:", text, re.IGNORECASE)]
    m = _ACTION_RE.match(text, starts[-1]) if starts else None  # the last action counts
    if m is None:
        return JoinDecision("finish", text.strip(), thought)
    kind = m.group(1).lower()
    return JoinDecision("finish" if kind == "finish" else "replan", _unwrap(m.group(2)), thought)


def scratchpad(steps: list[Step], execution: ExecutionResult) -> str:
    """Each task with its observation, in step order; plan errors at the end."""
    lines = []
    for step in steps:
        if step.is_join:
            continue
        lines.append(step.render())
        record = execution.records.get(step.idx)
        obs = record.observation if record and record.observation is not None else "(not run)"
        lines.append(f"Observation: {obs}")
    if execution.plan_error is not None:
        lines.append(f"Plan error: {execution.plan_error}")
    return "\n".join(lines)


class LLMJoiner:
    """Asks a model (LLMCompiler's joiner) for Finish or Replan."""

    def __init__(self, llm: LLM, examples: str = ""):
        self.llm = llm
        self.examples = examples

    async def __call__(
        self, question: str, pad: str, execution: ExecutionResult
    ) -> tuple[JoinDecision, Completion | None]:
        done = await self.llm.complete(joiner_messages(question, pad, self.examples), stop=["\nObservation:"])
        return parse_joiner_output(done.text), done


class RuleJoiner:
    """Finish with the last observations when every task succeeded; otherwise replan (a rule, not a model)."""

    async def __call__(
        self, question: str, pad: str, execution: ExecutionResult
    ) -> tuple[JoinDecision, Completion | None]:
        if execution.plan_error is not None:
            return JoinDecision("replan", f"the plan was invalid: {execution.plan_error}", "rule"), None
        errors = execution.errors
        if errors:
            why = "; ".join(f"step {i}: {e}" for i, e in sorted(errors.items()))
            return JoinDecision("replan", why, "rule"), None
        if not execution.records:
            return JoinDecision("finish", "No tool was needed for this query.", "rule"), None
        sinks = [
            r
            for r in execution.records.values()
            if not any(r.idx in o.deps for o in execution.records.values())
        ]
        answer = "\n".join(r.observation or "" for r in sorted(sinks, key=lambda r: r.idx))
        return JoinDecision("finish", answer, "rule"), None
