"""Plan evaluation (TinyAgent, Sec. 3.2): success rate by DAG isomorphism, and what else went wrong.

Per prediction, against the gold plan:

- `success`: the DAGs are isomorphic with nodes matched on tool name (the paper's metric; arguments ignored);
- `parse_failure`: the text is not a valid plan (syntax, unknown tool, wrong arity or types, bad references);
- `tool_recall`: the fraction of the gold plan's distinct tools that the prediction calls;
- `argument_exact`: the stricter check that every step also has exactly the gold arguments (a `$k` compared by
  what step k computes), so step order may differ but nothing else may.

    >>> gold = '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "hi")\\n3. join()<END_OF_PLAN>'
    >>> score_plan(gold.replace("Ana", "Anna"), gold)
    {'success': 1.0, 'parse_failure': 0.0, 'tool_recall': 1.0, 'argument_exact': 0.0}
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from workbench.metrics import plan_success, tool_recall
from workbench.plan import Plan, PlanError, is_reference, parse_plan, references
from workbench.tools.tinyagent import tinyagent_tools

METRICS = ("success", "parse_failure", "tool_recall", "argument_exact")


def _canonical(plan: Plan) -> Counter:
    """Each step as (tool, args) with every `$k` replaced by step k's own canonical form."""
    memo: dict[int, Any] = {}
    by_idx = {s.idx: s for s in plan.steps}

    def value(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(value(x) for x in v)
        if isinstance(v, str) and references(v):
            if is_reference(v):
                return step(int(v.strip().lstrip("$").strip("{}")))
            return ("text", v, tuple(sorted((k, step(k)) for k in references(v))))
        return v

    def step(i: int) -> Any:
        if i not in memo:
            s = by_idx[i]
            memo[i] = (s.tool, tuple(value(a) for a in s.args))
        return memo[i]

    return Counter(step(s.idx) for s in plan.steps if not s.is_join)


def score_plan(pred: str, gold: str) -> dict[str, float]:
    """The four metrics for one prediction (a parse failure scores 0 on everything else)."""
    specs = tinyagent_tools()
    gold_plan = parse_plan(gold)
    try:
        plan = parse_plan(pred, specs)
    except PlanError:
        return {"success": 0.0, "parse_failure": 1.0, "tool_recall": 0.0, "argument_exact": 0.0}
    return {
        "success": plan_success(plan, gold_plan),
        "parse_failure": 0.0,
        "tool_recall": tool_recall(plan, gold_plan),
        "argument_exact": float(_canonical(plan) == _canonical(gold_plan)),
    }


def evaluate(preds: Sequence[str], golds: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over paired predictions and gold plans."""
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} gold plans: pair them one to one")
    if not golds:
        raise ValueError("nothing to evaluate: no predictions")
    scores = [score_plan(p, g) for p, g in zip(preds, golds, strict=True)]
    out = {m: round(sum(s[m] for s in scores) / len(scores), 4) for m in METRICS}
    return {"n": len(scores), **out}


STEP_BUCKETS = ((1, 2), (3, 4), (5, 6), (7, 99))


def success_by_steps(
    preds: Sequence[str], golds: Sequence[str], buckets: Sequence[tuple[int, int]] = STEP_BUCKETS
) -> dict[str, dict[str, float]]:
    """Success rate by the gold plan's number of tool steps: where a small planner breaks down.

    >>> success_by_steps(['1. get_phone_number("Ana")\\n2. join()'], ['1. get_phone_number("Bo")\\n2. join()'])
    {'1-2': {'n': 1, 'success': 1.0}}
    """
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} gold plans: pair them one to one")
    out: dict[str, list[float]] = {}
    for pred, gold in zip(preds, golds, strict=True):
        n = sum(not s.is_join for s in parse_plan(gold).steps)
        lo, hi = next(b for b in buckets if b[0] <= n <= b[1])
        out.setdefault(f"{lo}-{hi}" if hi < 99 else f"{lo}+", []).append(plan_success(pred, gold))
    order = [f"{lo}-{hi}" if hi < 99 else f"{lo}+" for lo, hi in buckets]
    return {k: {"n": len(out[k]), "success": round(sum(out[k]) / len(out[k]), 4)} for k in order if k in out}


def pair_by_query(
    preds: Sequence[dict[str, Any]], golds: Sequence[dict[str, Any]]
) -> tuple[list[str], list[str]]:
    """Match `{"query", "plan"}` predictions to gold records by query text; every gold query must be predicted."""
    by_query = {p["query"]: p.get("plan", "") for p in preds}
    missing = [g["query"] for g in golds if g["query"] not in by_query]
    if missing:
        raise ValueError(
            f"{len(missing)} gold queries have no prediction, e.g. {missing[0]!r}: "
            "predict every query of the gold file"
        )
    return [by_query[g["query"]] for g in golds], [g["plan"] for g in golds]


def evaluate_files(pred_path: str, gold_path: str) -> dict[str, float]:
    """`workbench evaluate`: predictions `{"query", "plan"}` against gold records `{"query", "plan"}`."""
    rows = {}
    for name, path in (("predictions", pred_path), ("gold", gold_path)):
        rows[name] = read_jsonl(path, name)
        bad = [
            i for i, r in enumerate(rows[name]) if "query" not in r or (name == "gold" and "plan" not in r)
        ]
        if bad:
            raise ValueError(
                f'{path}, line {bad[0] + 1}: needs a "query"' + (' and a "plan"' if name == "gold" else "")
            )
    return evaluate(*pair_by_query(rows["predictions"], rows["gold"]))


def read_jsonl(path: str, what: str = "input") -> list[dict[str, Any]]:
    """Every line a JSON object; a clear error names the file and line otherwise."""
    import json
    from pathlib import Path

    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{what} file {path} does not exist")
    out = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(
                f"{path}, line {i}: not JSON ({e.msg}); write one JSON object per line"
            ) from None
        if not isinstance(row, dict):
            raise ValueError(f'{path}, line {i}: a JSON object with a "query" is expected')
        out.append(row)
    return out
