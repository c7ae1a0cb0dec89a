"""Dropped requests: a query's requests planned one by one, to put back a request the whole plan left out.

A small planner given a query of three or four requests most often fails by leaving one out (missing steps
were 40 of the 62 failures of the offline-recipe planner on 300 test queries), while it plans a single
request almost always right. So the runtime splits the query into its requests (`split_requests`), plans
each one alone as well, and appends the plan of every request none of whose action tools the whole plan
calls (`add_dropped_requests`). The whole plan keeps everything it got right, the links between requests
included; only a request it dropped entirely is added, as its own part of the DAG. Neither paper does this;
it is the runtime's, like the plan grammar.

The split is a rule, written here rather than taken from a library because it is about this assistant's
requests, not about sentences: it cuts at sentence ends and semicolons, at connectives ("then", "also",
"after that", "finally", "plus") and at "and", "n", "&" or "+" before a verb an assistant request starts with.
A part that points back at an earlier one ("it", "them", "the link", "the summary") stays with it, since
alone it could not be planned right; parts of a single word are dropped.

    >>> split_requests("Text Ana that I'm late, then make a zoom meeting with Li tmrw and email him the link")
    ["Text Ana that I'm late", 'make a zoom meeting with Li tmrw and email him the link']
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from workbench.plan import (
    END_OF_PLAN,
    JOIN,
    PlanError,
    Step,
    parse_plan,
    render_args,
    renumber_references,
)
from workbench.tools.tinyagent import LOOKUP_TOOLS

# Words an assistant request starts with: "and" before one of them starts a new request ("text Ana and
# email Li"), while "Sid and Lutfi" or "eggs and milk" stay whole.
_VERBS = (
    "text|txt|sms|message|msg|ping|email|e-mail|mail|send|shoot|tell|let|create|make|schedule|set|book|block|put"
    "|add|remind|open|pull|show|find|look|get|navigate|give|how|what|whats|what's|where|write|jot|save|append"
    "|include|reply|respond|answer|forward|fwd|pass|share|summarize|summarise|sum|draft|start|invite|note"
)
_CONNECTIVES = "and then|and also|after that|afterwards|then|also|finally|plus|on top of that"
_SPLIT = re.compile(
    rf"(?<=[.!?;])\s+|\s*;\s*|,?\s+(?:{_CONNECTIVES})\b,?\s*|\s+(?:and|n|&|\+)\s+(?=(?:{_VERBS})\b)",
    re.IGNORECASE,
)
_LEADING = re.compile(rf"^(?:{_CONNECTIVES})\b,?\s*", re.IGNORECASE)
_POINTS_BACK = re.compile(
    r"\b(?:it|them|everyone|everybody|they|him|her|the link|the summary)\b", re.IGNORECASE
)


def split_requests(query: str) -> list[str]:
    """The requests of `query`, in order (one item when it cannot be split).

    >>> split_requests("Forward this email to Kwame. Also, remind me to call the school at 4pm")
    ['Forward this email to Kwame', 'remind me to call the school at 4pm']
    >>> split_requests("schedule a meeting with Arjun and Beatriz tmrw 10am")
    ['schedule a meeting with Arjun and Beatriz tmrw 10am']
    """
    out: list[str] = []
    for part in _SPLIT.split(query):
        part = _LEADING.sub("", part.strip(" ,.;"))
        if len(part.split()) < 2:
            continue
        if out and _POINTS_BACK.search(part):
            out[-1] = f"{out[-1]} and {part}"
        else:
            out.append(part)
    return out or [query]


def add_dropped_requests(
    plan: str, request_plans: Sequence[str], lookups: Iterable[str] = LOOKUP_TOOLS
) -> str:
    """`plan` with the plan of each request it dropped put before its `join()` (see `dropped_steps`).

    >>> whole = '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "late")\\n3. join()<END_OF_PLAN>'
    >>> note = '1. create_note("Milk", "", "")\\n2. join()<END_OF_PLAN>'
    >>> print(add_dropped_requests(whole, [whole, note]))
    1. get_phone_number("Ana")
    2. send_sms(["$1"], "late")
    3. create_note("Milk", "", "")
    4. join()<END_OF_PLAN>
    """
    return insert_before_join(plan, dropped_steps(plan, request_plans, lookups))


def insert_before_join(plan: str, steps: Sequence[str]) -> str:
    """`plan` (ending in its `join()` line) with the step lines `steps` put before that line, renumbered."""
    if not steps:
        return plan
    head = plan.rstrip().rsplit("\n", 1)[0] if "\n" in plan.strip() else ""
    return "\n".join([*filter(None, [head]), *steps, join_line(plan, len(steps))])


def dropped_steps(
    plan: str, request_plans: Sequence[str], lookups: Iterable[str] = LOOKUP_TOOLS
) -> list[str]:
    """The step lines to put before `plan`'s `join()`: the plan of each request whose action tools (tools
    other than `lookups`) the plan calls none of, numbered after the plan's last step, references with them.
    Look-ups repeated this way are left for the planner runtime's merge (`plan.RepeatMerger`). A plan that
    does not parse or does not end in its `join()` line, or a request plan that does not parse, adds nothing:
    nothing is guessed."""
    tasks = _tasks(plan)
    if tasks is None or not ends_in_join(plan):
        return []
    lookups = frozenset(lookups)
    called = {s.tool for s in tasks}
    n = max((s.idx for s in tasks), default=0)
    out: list[str] = []
    for text in request_plans:
        steps = _tasks(text) or []
        actions = {s.tool for s in steps} - lookups
        if not actions or actions & called:
            continue
        new = {s.idx: n + i for i, s in enumerate(steps, 1)}
        out += [
            f"{new[s.idx]}. {renumber_references(f'{s.tool}({render_args(s.args)})', new)}" for s in steps
        ]
        n += len(steps)
        called |= actions
    return out


def join_line(plan: str, shift: int) -> str:
    """`plan`'s closing `join()` line with its step number moved on by `shift` steps."""
    last = plan.rstrip().rsplit("\n", 1)[-1].strip()
    m = _JOIN_LINE.match(last)
    if m is None:
        raise ValueError(f"the plan does not end in a join() line: {last[:60]!r}")
    return f"{int(m.group(1)) + shift}. {JOIN}(){END_OF_PLAN}"


def ends_in_join(plan: str) -> bool:
    """Whether `plan` parses and its last line is its `join()`: only such a plan can take dropped requests (a
    caller skips planning the requests of any other)."""
    return _tasks(plan) is not None and is_join_line(plan.rstrip().rsplit("\n", 1)[-1])


def is_join_line(line: str) -> bool:
    """Whether `line` is a plan's closing `N. join()` line (with or without `<END_OF_PLAN>`)."""
    return _JOIN_LINE.match(line) is not None


_JOIN_LINE = re.compile(rf"^\s*(\d+)\.\s*{JOIN}\(\)\s*(?:{re.escape(END_OF_PLAN)})?\s*$")


def _tasks(text: str) -> list[Step] | None:
    """The tool steps of a plan that parses and ends in join, else None."""
    try:
        plan = parse_plan(text)
    except PlanError:
        return None
    return plan.tasks if plan.has_join else None
