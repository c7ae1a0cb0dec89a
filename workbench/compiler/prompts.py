"""Prompts of the LLMCompiler planner and joiner (Kim et al. 2023, Sec. 3.1 and 3.3), with TinyAgent's rules.

The planner prompt lists the tools (signature plus rules), describes `join()`, states the plan format and
the guidelines, adds the user's custom instructions and in-context examples, and asks for `<END_OF_PLAN>`
after the plan. With `tinyagent=True` it also carries TinyAgent's rules (today's date, ISO dates, positional
arguments only, fill every argument). The replan prompt shows the previous plans with their observations.
The wording is ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.compiler.tools import Tool
from workbench.plan import END_OF_PLAN
from workbench.tools.spec import tool_block

JOIN_DESCRIPTION = (
    "join() -> None:\n"
    " - Collects the results of the steps before it and hands them to the final answer.\n"
    " - Every plan ends with join(); write nothing after it."
)

GUIDELINES = [
    'Write one step per line: the step number, a period, then one tool call, e.g. 2. search("$1").',
    'Arguments are Python literals passed by position. To use the result of an earlier step, write "$N" '
    "inside a string argument (N is that step's number).",
    "Number steps 1, 2, 3, ... in order. A step may only use results of steps before it.",
    "Make the plan as parallel as possible: steps that do not need each other's results must not "
    "refer to each other, so that they run at the same time.",
    "Only use the tools listed above, and only as many steps as the question needs.",
    "You may add a line `Thought: ...` before a step to explain it.",
    f"End the plan with join() and then {END_OF_PLAN}.",
]

TINYAGENT_RULES = [
    "Today's date is {today}. Resolve relative dates (tomorrow, next Monday) against it and write every date "
    "as 'YYYY-MM-DD HH:MM:SS'.",
    "Never use keyword arguments; pass every argument by position.",
    'Fill in every argument of each call; write "", [] or None where a value does not apply.',
    "Look up a person's email address or phone number with a tool unless the query gives it.",
]


@dataclass(frozen=True)
class PlannerPrompt:
    """Everything the planner's system message is made of."""

    tools: Sequence[Tool]
    examples: str = ""
    custom_instructions: str = ""
    today: str | None = None
    tinyagent: bool = False

    def system(self) -> str:
        n = len(self.tools)
        parts = [
            f"Write a plan of tool calls that answers the user's query, using these {n + 1} tools:",
            tool_block([t.spec for t in self.tools]) + f"\n\n{n + 1}. " + JOIN_DESCRIPTION,
            "Guidelines:\n" + "\n".join(f" - {g}" for g in GUIDELINES),
        ]
        if self.tinyagent:
            rules = [r.format(today=self.today or "unknown") for r in TINYAGENT_RULES]
            parts.append("Rules:\n" + "\n".join(f" - {r}" for r in rules))
        if self.custom_instructions.strip():
            parts.append("Custom instructions (always follow these):\n" + self.custom_instructions.strip())
        if self.examples.strip():
            parts.append("Examples:\n" + self.examples.strip())
        return "\n\n".join(parts)


def planner_messages(prompt: PlannerPrompt, question: str, context: str = "") -> list[dict[str, str]]:
    """The planner's chat: system prompt, then the query (and, when replanning, what happened so far)."""
    user = f"Query: {question}"
    if context:
        user += (
            "\n\nA previous plan was run but could not answer the query. Its steps and observations:\n"
            f"{context}\n\nWrite a new plan, numbered from 1, that gets what is still missing. "
            "Reuse the values above directly instead of calling a tool for them again."
        )
    return [{"role": "system", "content": prompt.system()}, {"role": "user", "content": user}]


JOINER_SYSTEM = """\
You answer a user's query from the results of a plan that was just executed.
The scratchpad shows each step of the plan with its observation.
 - Reason in one or two sentences about whether the observations answer the query; ignore irrelevant ones.
 - If they do, finish with a short, complete answer.
 - If they do not (missing information, an error), ask for a new plan and say what is missing.

Reply in exactly this format:
Thought: <your reasoning>
Action: Finish(<the answer>)    or    Action: Replan(<what is missing and why>)"""


def joiner_messages(question: str, scratchpad: str, examples: str = "") -> list[dict[str, str]]:
    system = JOINER_SYSTEM + (f"\n\nExamples:\n{examples.strip()}" if examples.strip() else "")
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": f"Query: {question}\n\nScratchpad:\n{scratchpad}"},
    ]
