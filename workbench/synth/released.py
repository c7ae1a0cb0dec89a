"""TinyAgent's released dataset, imported into the workbench's records (TinyAgent, Sec. 3.1; its data release).

The authors published the data they trained on as `training_data.json` and `testing_data.json`. The format is the
one their repository defines (SqueezeAILab/TinyAgent, `src/utils/data_utils.py`): one JSON object keyed by an id,
each value a query and the model calls made for it:

    {"<id>": {"input": "Text Sid that I'm late",
              "output": [{"type": "plan", "raw_input": <the prompt>, "raw_output": "1. get_phone_number(...)...",
                          "parsed_output": [{"tool_name": "get_phone_number", "tool_args": {...}}, ...],
                          "id": "<uuid>", "index": 0},
                         {"type": "join", "raw_input": ..., "raw_output": "Thought: ...\\nAction: Finish(...)",
                          "parsed_output": {"thought": ..., "action": "Finish", "message": ...}, ...}],
              "closest_5_queries": [...]}}

So the released "80K" is about 40K queries, each with a plan and a join data point (independent reproductions
counted the same). Each query becomes one of our records: its plan point's `raw_output` parsed (thoughts
dropped), checked by the same sanity checks as synthesized records (`records.Checker`), and rendered in our
canonical form; today's date is read from the prompt ("Today's date is Friday 2024-05-03 ..."), as TinyAgent's
planner prompt states it. A plan whose tools differ from its own `parsed_output` is rejected (`parsed_mismatch`).
Join points become joiner examples (`joiner.jsonl`: the prompt and the reply), which fine-tuning can add where the
planner is an LLM that also joins (the paper's model does both).

    >>> today_of("... - Today's date is Friday 2024-05-03 10:00\\n ...")
    '2024-05-03'
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench.files import read_text
from workbench.plan import Plan, PlanError, parse_plan, render_plan
from workbench.synth.records import Checker, Record, normalize_query
from workbench.tools.tinyagent import tinyagent_tools

FORMATS = ("tinyagent",)
TRAIN_FILE, TEST_FILE = "training_data.json", "testing_data.json"
JOINER_FILE = "joiner.jsonl"
POINT_TYPES = ("plan", "join", "replan")
_TODAY = re.compile(r"Today's date is (?:[A-Za-z]+,? )?(\d{4}-\d{2}-\d{2})")
DEFAULT_TODAY = "2024-06-01"  # a prompt without a date (none in TinyAgent's own): counted as `today_missing`


def today_of(prompt: str) -> str | None:
    """The date the planner prompt states as today, or None."""
    m = _TODAY.search(prompt)
    return m.group(1) if m else None


def prompt_text(raw_input: Any) -> str:
    """A data point's prompt as text: a string as is, chat messages as their contents joined."""
    if isinstance(raw_input, str):
        return raw_input
    if isinstance(raw_input, list):
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m) for m in raw_input)
    return str(raw_input)


def input_files(path: str | Path) -> dict[str, Path]:
    """The files to import: a folder with `training_data.json` (and `testing_data.json`, which becomes the test
    split), or one file (its queries are split into train, val and test)."""
    path = Path(path)
    if path.is_dir():
        files = {"train": path / TRAIN_FILE, "test": path / TEST_FILE}
        if not files["train"].exists():
            raise FileNotFoundError(
                f"{path} has no {TRAIN_FILE}: give the folder that holds TinyAgent's {TRAIN_FILE} "
                f"(and {TEST_FILE}), or one such file"
            )
        return {k: v for k, v in files.items() if v.exists()}
    if not path.exists():
        raise FileNotFoundError(
            f"{path} does not exist: give TinyAgent's {TRAIN_FILE} or the folder holding it"
        )
    return {"train": path}


def read_released(path: Path) -> dict[str, dict[str, Any]]:
    """The file's entries by id; a clear error for a file that is not this format, naming what is wrong."""
    text = read_text(path, "a TinyAgent data file")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(
            f"{path} is not JSON ({e.msg} at line {e.lineno}): expected TinyAgent's data file"
        ) from None
    if isinstance(
        data, list
    ):  # a list of entries instead of an object keyed by id: accept, with the index as id
        data = {str(i): v for i, v in enumerate(data)}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object of entries keyed by id, got {type(data).__name__}")
    for key, value in data.items():
        if not (
            isinstance(value, dict)
            and isinstance(value.get("input"), str)
            and isinstance(value.get("output"), list)
        ):
            raise ValueError(
                f"{path}: entry {key!r} is not a TinyAgent data point (needs 'input' as text and 'output' as a "
                "list of plan/join data points, as in TinyAgent's src/utils/data_utils.py)"
            )
    return data


def _points(entry: dict[str, Any], kind: str) -> Iterator[dict[str, Any]]:
    points = [p for p in entry["output"] if isinstance(p, dict) and p.get("type") == kind]
    yield from sorted(points, key=lambda p: p.get("index", 0))


def _parsed_tools(parsed: Any) -> list[str] | None:
    """The tools of a plan point's `parsed_output` (join left out), or None when it is not a list of steps."""
    if not isinstance(parsed, list):
        return None
    names = [s.get("tool_name") for s in parsed if isinstance(s, dict)]
    return [n for n in names if n != "join"]


@dataclass
class Imported:
    """What one import found: records per split, joiner examples, and why queries were left out."""

    records: dict[str, list[Record]] = field(default_factory=dict)
    joins: list[dict[str, Any]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    notes: Counter = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)  # one rejected query per reason, to look at

    def report(self) -> dict[str, Any]:
        return {
            "imported": {s: len(r) for s, r in self.records.items()},
            "joiner_examples": len(self.joins),
            "rejected": dict(sorted(self.rejected.items())),
            "notes": dict(sorted(self.notes.items())),
            "rejected_examples": dict(sorted(self.examples.items())),
        }


def convert_entry(
    key: str, entry: dict[str, Any], checker: Checker, found: Imported
) -> dict[str, Any] | None:
    """One entry as a record's fields (no id or split yet), or None with the reason counted in `found`."""
    query = entry["input"].strip()
    plans = list(_points(entry, "plan"))
    counts = Counter(checker.rejected)

    def reject(reason: str) -> None:
        checker.rejected[reason] += 1
        found.examples.setdefault(reason, f"{key}: {query[:120]}")

    if not plans:
        return reject("no_plan_point")
    point = plans[0]
    if not isinstance(point.get("raw_output"), str):
        return reject("no_raw_output")
    try:
        plan = parse_plan(point["raw_output"])
    except (PlanError, ValueError):
        return reject("unparseable")
    if plan.dropped:
        return reject("steps_after_join")
    text = render_plan(Plan([replace(s, thought=None) for s in plan.steps]))  # our targets carry no thoughts
    tools = checker.check(query, text)
    if tools is None:  # the checker counted the reason; keep one example of it
        found.examples.setdefault(_last_reason(checker, counts), f"{key}: {query[:120]}")
        return None
    parsed = _parsed_tools(point.get("parsed_output"))
    if parsed is not None and parsed != tools:
        checker.seen.discard(normalize_query(query))
        return reject("parsed_mismatch")
    today = today_of(prompt_text(point.get("raw_input", "")))
    if today is None:
        found.notes["today_missing"] += 1
    return {"query": query, "plan": text, "tools": tools, "today": today or DEFAULT_TODAY}


def _last_reason(checker: Checker, before: Counter) -> str:
    grown = checker.rejected - before
    return next(iter(grown), "rejected")


def joiner_examples(key: str, entry: dict[str, Any], split: str) -> list[dict[str, Any]]:
    """The entry's join and replan points as (prompt, reply) examples for an LLM joiner."""
    out = []
    for kind in ("join", "replan"):
        for point in _points(entry, kind):
            if isinstance(point.get("raw_output"), str) and point.get("raw_input"):
                out.append(
                    {
                        "id": f"{split}-{key}-{kind}-{point.get('index', 0)}",
                        "query": entry["input"].strip(),
                        "kind": kind,
                        "split": split,
                        "prompt": prompt_text(point["raw_input"]),
                        "reply": point["raw_output"],
                    }
                )
    return out


def import_released(
    path: str | Path,
    checker: Checker,
    *,
    train: int | None = None,
    val: int = 1000,
    test: int = 1000,
    seed: int = 0,
    progress: bool = True,
) -> Imported:
    """Records for train, val and test from TinyAgent's files (`input_files`), through `checker`.

    The test file is read first, so that a training query repeating a test query is the one dropped. Without a
    test file, val and test are cut from the shuffled training queries (at most a tenth each).
    """
    from tqdm.auto import tqdm

    files = input_files(path)
    found = Imported()
    fields: dict[str, list[tuple[str, dict[str, Any], dict[str, Any]]]] = {}
    for role in ("test", "train"):
        if role not in files:
            continue
        entries = read_released(files[role])
        rows = []
        for key, entry in tqdm(
            entries.items(), desc=f"import {files[role].name}", disable=not progress or len(entries) < 5000
        ):
            if (converted := convert_entry(key, entry, checker, found)) is not None:
                rows.append((key, entry, converted))
        fields[role] = rows
    found.rejected = Counter(checker.rejected)
    pool = fields["train"]
    random.Random(seed).shuffle(pool)
    parts: dict[str, list] = {}
    n_val = min(val, len(pool) // 10)
    parts["val"], pool = pool[:n_val], pool[n_val:]
    if "test" in fields:
        parts["test"] = fields["test"][:test]
    else:
        n_test = min(test, len(pool) // 10)
        parts["test"], pool = pool[:n_test], pool[n_test:]
    parts["train"] = pool[:train] if train else pool
    for split in ("train", "val", "test"):
        records = []
        for i, (key, entry, f) in enumerate(parts[split]):
            records.append(
                Record(f"{split}-{i:06d}", f["query"], f["plan"], f["tools"], f["today"], split, "tinyagent")
            )
            found.joins.extend(joiner_examples(key, entry, split))
        found.records[split] = records
    return found


def as_released(record: dict[str, Any], thought: str = "I have made the plan.") -> dict[str, Any]:
    """A record in TinyAgent's released format (a plan point with a `Thought:` before join, and a join point): the
    way back, for tests and for sharing a dataset with TinyAgent's own code. The prompt here is ours, short."""
    plan = parse_plan(record["plan"])
    steps = [s for s in plan.steps if not s.is_join]
    raw = (
        "\n".join(s.render() for s in steps) + f"\nThought: {thought}\n{plan.steps[-1].render()}<END_OF_PLAN>"
    )
    prompt = f"Given a user query, create a plan to solve it.\n - Today's date is {record['today']} 09:00\n"
    specs = {t.name: t for t in tinyagent_tools()}
    parsed = [
        {
            "tool_name": s.tool,
            "tool_args": {p.name: a for p, a in zip(specs[s.tool].params, s.args, strict=True)},
        }
        for s in steps
    ] + [{"tool_name": "join", "tool_args": {}}]
    return {
        "input": record["query"],
        "output": [
            {
                "type": "plan",
                "raw_input": prompt + f"Question: {record['query']}",
                "raw_output": raw,
                "parsed_output": parsed,
                "id": f"{record['id']}-plan",
                "index": 0,
            },
            {
                "type": "join",
                "raw_input": prompt + raw,
                "raw_output": "Thought: Done.\nAction: Finish(Task completed!)",
                "parsed_output": {"thought": "Done.", "action": "Finish", "message": "Task completed!"},
                "id": f"{record['id']}-join",
                "index": 1,
            },
        ],
        "closest_5_queries": [],
    }
