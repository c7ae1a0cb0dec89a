"""The planner prompt, in one place: LLMCompiler's (Kim et al. 2023, Sec. 3.1 and 3.3), TinyAgent's compact
one (Erdogan et al. 2024, Sec. 3.2), and the replan request; the joiner prompt beside them.

- `PlannerPrompt(specs)`: LLMCompiler's system prompt: the tools (signature plus rules), `join()`, the plan
  format and guidelines, custom instructions and in-context examples, `<END_OF_PLAN>` after the plan. With
  `tinyagent=True` it also carries TinyAgent's rules (today's date, ISO dates, positional arguments only, fill
  every argument). A prompt needs the tools' specs only, never runnable tools.
- `full_prompt` / `compact_prompt`: the two system prompts a TinyAgent planner is trained and run with
  (`PROMPT_KINDS`): the full LLMCompiler prompt over the selected tools (the paper's setting, about
  1,000-2,000 tokens), or today's date, the tool *names* and optional examples (what the offline profile
  fine-tunes on, because the full one is too long to train on a 2-core CPU).
- `planner_chat(query, today, tools, kind, examples, context)`: the chat a TinyAgent planner sees; with a
  replan `context`, the user turn is LLMCompiler's replan request (`replan_request`), the same wording for
  every planner.
- `planner_messages(prompt, question, context)`: the chat of a general LLMCompiler planner.

Tools are always listed in the fixed order of `TOOL_NAMES` (`ordered`), so their position says nothing
about which are needed. The wording is ours.

    >>> print(planner_chat("Text Ana I'm late", "2024-06-12", ["send_sms", "get_phone_number"])[0]["content"])
    Today's date is 2024-06-12.
    Tools: get_phone_number, send_sms
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.plan import END_OF_PLAN
from workbench.tools.spec import ToolSpec, tool_block
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools

PROMPT_KINDS = ("compact", "full")
_SPECS = {t.name: t for t in tinyagent_tools()}

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
    """Everything the planner's system message is made of: the tools' specs, examples, instructions."""

    tools: Sequence[ToolSpec]
    examples: str = ""
    custom_instructions: str = ""
    today: str | None = None
    tinyagent: bool = False

    def system(self) -> str:
        n = len(self.tools)
        parts = [
            f"Write a plan of tool calls that answers the user's query, using these {n + 1} tools:",
            tool_block(self.tools) + f"\n\n{n + 1}. " + JOIN_DESCRIPTION,
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


def replan_request(question: str, context: str) -> str:
    """The user turn of a replan: the query, and the previous plans' steps and observations."""
    return (
        f"Query: {question}\n\nA previous plan was run but could not answer the query. Its steps and "
        f"observations:\n{context}\n\nWrite a new plan, numbered from 1, that gets what is still missing. "
        "Reuse the values above directly instead of calling a tool for them again."
    )


def planner_messages(prompt: PlannerPrompt, question: str, context: str = "") -> list[dict[str, str]]:
    """A general LLMCompiler planner's chat: system prompt, then the query (or, replanning, `replan_request`)."""
    user = replan_request(question, context) if context else f"Query: {question}"
    return [{"role": "system", "content": prompt.system()}, {"role": "user", "content": user}]


# --------------------------------------------------------------------------------- TinyAgent's planner


def ordered(tools: Sequence[str]) -> list[str]:
    """The distinct known tools in the canonical order."""
    chosen = set(tools)
    unknown = chosen - set(TOOL_NAMES)
    if unknown:
        raise ValueError(f"unknown tool(s) {sorted(unknown)}; the planner knows {list(TOOL_NAMES)}")
    return [n for n in TOOL_NAMES if n in chosen]


def compact_prompt(today: str, tools: Sequence[str], examples: str = "") -> str:
    """Today's date, the tool names and optional examples: the offline planner's system prompt."""
    text = f"Today's date is {today}.\nTools: {', '.join(ordered(tools))}"
    return text + (f"\nExamples:\n{examples.strip()}" if examples.strip() else "")


def full_prompt(today: str, tools: Sequence[str], examples: str = "") -> str:
    """LLMCompiler's planner prompt with TinyAgent's rules over `tools`: the paper's system prompt."""
    specs = [_SPECS[n] for n in ordered(tools)]
    return PlannerPrompt(specs, examples=examples, today=today, tinyagent=True).system()


def system_prompt(today: str, tools: Sequence[str], kind: str = "compact", examples: str = "") -> str:
    """The system prompt of `kind` (`PROMPT_KINDS`)."""
    if kind == "compact":
        return compact_prompt(today, tools, examples)
    if kind == "full":
        return full_prompt(today, tools, examples)
    raise ValueError(f"unknown prompt kind {kind!r}; use one of {PROMPT_KINDS}")


@dataclass(frozen=True)
class PlannerChat:
    """`planner_chat` for one query's day, tools, prompt kind and examples, as `LLMCompiler(messages=...)`
    calls it: `(query, replan context) -> chat`."""

    today: str
    tools: Sequence[str]
    kind: str = "compact"
    examples: str = ""

    def __call__(self, query: str, context: str = "") -> list[dict[str, str]]:
        return planner_chat(query, self.today, self.tools, self.kind, self.examples, context)


def planner_chat(
    query: str, today: str, tools: Sequence[str], kind: str = "compact", examples: str = "", context: str = ""
) -> list[dict[str, str]]:
    """The chat a TinyAgent planner sees: system prompt (date, tools, examples), then the query; when
    replanning, the user turn is `replan_request` (the fine-tuned planner never saw one in training, so for it
    a replan is little more than a retry)."""
    user = replan_request(query, context) if context else query
    return [
        {"role": "system", "content": system_prompt(today, tools, kind, examples)},
        {"role": "user", "content": user},
    ]


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
