"""Plan evaluation (TinyAgent, Sec. 3.2): success rate by DAG isomorphism, and what else went wrong, averaged
over a set of predictions. Per prediction, against the gold plan (`metrics.score_plan`):

- `success`: the DAGs are isomorphic with nodes matched on tool name (the paper's metric; arguments ignored);
- `parse_failure`: the text is not a valid plan (syntax, unknown tool, wrong arity or types, bad references);
- `tool_recall`: the fraction of the gold plan's distinct tools that the prediction calls;
- `argument_exact`: the stricter check that every step also has exactly the gold arguments (a `$k` compared by
  what step k computes), so step order may differ but nothing else may.

    >>> gold = '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "hi")\\n3. join()<END_OF_PLAN>'
    >>> evaluate([gold.replace("Ana", "Anna")], [gold])
    {'n': 1, 'success': 1.0, 'parse_failure': 0.0, 'tool_recall': 1.0, 'argument_exact': 0.0}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from workbench.jsonl import read_jsonl
from workbench.metrics import SCORES, plan_success, score_plan
from workbench.plan import parse_plan

METRICS = SCORES  # the four numbers of `metrics.score_plan`, averaged


def evaluate(preds: Sequence[str], golds: Sequence[str]) -> dict[str, float]:
    """Mean of each metric over paired predictions and gold plans."""
    if len(preds) != len(golds):
        raise ValueError(f"{len(preds)} predictions for {len(golds)} gold plans: pair them one to one")
    if not golds:
        raise ValueError("nothing to evaluate: no predictions")
    scores = [score_plan(p, g) for p, g in zip(preds, golds, strict=True)]
    out = {m: round(sum(s[m] for s in scores) / len(scores), 4) for m in METRICS}
    return {"n": len(scores), **out}


def evaluate_variant(
    planner: Any, records: Sequence[dict[str, Any]], tools: Sequence[Sequence[str]] | None
) -> dict[str, Any]:
    """Plan `records` with `planner` (a `Planner`; `tools`: ToolRAG's selection per query, None for all 16)
    and score the plans; `cut` (constrained planners) is the share of plans the grammar's limits cut short;
    `preds` are the plans themselves."""
    preds = planner.plan(
        [r["query"] for r in records], [r["today"] for r in records], tools=tools, progress=len(records) > 100
    )
    cut = {"cut": round(sum(p["cut"] for p in preds) / len(preds), 4)} if planner.constrained else {}
    return {**evaluate([p["plan"] for p in preds], [r["plan"] for r in records]), **cut, "preds": preds}


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
