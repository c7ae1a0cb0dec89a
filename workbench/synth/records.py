"""The TinyAgent dataset record and the sanity checks every record must pass (TinyAgent, Sec. 3.1).

A record is one (query, plan) pair:

    {"id": "train-000042", "query": "...", "plan": "1. ...\\n2. join()<END_OF_PLAN>",
     "tools": ["get_email_address", ...], "today": "2024-06-12", "split": "train", "teacher": "offline"}

Both teachers (the LLM and the procedural one) go through `check_record`: the plan must parse, validate
against the tool specs (names, arity, types), reference only earlier steps, end in exactly one `join()`, number
its steps 1..n, and use every look-up it makes (unless the query asks for what it finds); the query must not repeat an earlier one (exact or near:
normalized text). Each rejection has a reason, counted in the run's report.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from workbench import config
from workbench.jsonl import read_jsonl
from workbench.plan import END_OF_PLAN, PlanError, parse_plan
from workbench.tools.tinyagent import tinyagent_tools

SPLITS = ("train", "val", "test", "ood")
# Tools whose only purpose is to feed a later step: a plan of several steps that looks something up must use
# it (a one-step plan may simply answer with it). A Zoom link is not one: creating the meeting is an action.
LOOKUPS = frozenset({"get_phone_number", "get_email_address", "open_and_get_file_path"})
_SPECS = {t.name: t for t in tinyagent_tools()}
# A look-up no later step uses is still right when the query asks for what it finds ("what's Ana's number?").
ASKED = {
    "get_phone_number": re.compile(r"(?i)\b(numbers?|phone|cell|digits|mobile)\b"),
    "get_email_address": re.compile(r"(?i)\b(e-?mails?|e-?mail address|mail address)\b"),
    "open_and_get_file_path": re.compile(
        r"(?i)\b(find|open|locate|where|path|pull up|bring up|dig up|fetch)\b"
    ),
}


@dataclass
class Record:
    id: str
    query: str
    plan: str
    tools: list[str]
    today: str
    split: str
    teacher: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def normalize_query(text: str) -> str:
    """Lower-case, accents and punctuation removed, digits kept, whitespace collapsed: the near-duplicate key."""
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


class Rejected(ValueError):
    """A record that fails a sanity check; `reason` is a short stable key for the report's counts."""

    def __init__(self, reason: str, detail: str = ""):
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


def check_plan(plan_text: str, query: str | None = None) -> list[str]:
    """The plan's tool names (in step order, join excluded) if it passes every plan check, else `Rejected`.
    With the `query`, a look-up that no step uses passes when the query asks for what it finds (`ASKED`)."""
    if not plan_text.rstrip().endswith(END_OF_PLAN):
        raise Rejected("no_end_marker", "the plan must end with join()<END_OF_PLAN>")
    try:
        plan = parse_plan(plan_text, tools=_SPECS)
    except PlanError as e:
        if "after join" in e.message:
            reason = "steps_after_join"
        elif any(k in e.message for k in ("unknown tool", "takes", "must be", "required")):
            reason = "invalid_tool_call"
        else:
            reason = "unparseable"
        raise Rejected(reason, str(e)) from None
    if not plan.has_join:
        raise Rejected("no_join", "the plan does not end in join()")
    if not plan.tasks:
        raise Rejected("no_tasks", "the plan calls no tool")
    if [s.idx for s in plan.steps] != list(range(1, len(plan.steps) + 1)):
        raise Rejected("bad_numbering", "steps must be numbered 1, 2, 3, ...")
    used = {d for s in plan.tasks for d in s.deps}
    unused = [
        s.idx
        for s in plan.tasks
        if s.tool in LOOKUPS
        and s.idx not in used
        and len(plan.tasks) > 1
        and not (query and ASKED[s.tool].search(query))
    ]
    if unused:
        raise Rejected("unused_step", f"step(s) {unused} look something up that no later step uses")
    return plan.tools


def human_dev_file() -> Path:
    """The hand-written dev set in the repository (never under `WORKBENCH_DATA_DIR`: it is an input, not an
    output, and a test run must read the same queries)."""
    return config.repo_root() / "data" / "human" / "dev.jsonl"


def human_dev_queries(path: Path | None = None) -> frozenset[str]:
    """The dev set's queries, normalized: a generator that happens to write one of them word for word (a short
    request can) has that record dropped, so the dev set stays unseen by training."""
    path = path or human_dev_file()
    if not path.exists():
        return frozenset()
    rows = read_jsonl(path, "the human dev set", required=("query",))
    return frozenset(normalize_query(r["query"]) for r in rows)


@dataclass
class Checker:
    """Applies every check and remembers accepted queries, so near-duplicates across splits are dropped."""

    seen: set[str] = field(default_factory=set)
    rejected: Counter = field(default_factory=Counter)
    #: normalized queries never to write (the hand-written dev set: it measures queries the planner never saw)
    held_out: frozenset[str] = field(default_factory=frozenset)

    def check(self, query: str, plan_text: str) -> list[str] | None:
        """The tools of an accepted record, or None (the reason is counted in `rejected`)."""
        try:
            if not query or not query.strip():
                raise Rejected("empty_query")
            key = normalize_query(query)
            if key in self.seen:
                raise Rejected("duplicate_query")
            if key in self.held_out:
                raise Rejected("human_dev_query")
            tools = check_plan(plan_text, query)
        except Rejected as e:
            self.rejected[e.reason] += 1
            return None
        self.seen.add(key)
        return tools
