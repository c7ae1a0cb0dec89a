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

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from workbench.files import write_json_atomic
from workbench.jsonl import read_jsonl, read_jsonl_numbered
from workbench.metrics import ERROR_KINDS, SCORES, error_kind, plan_success, score_plan
from workbench.plan import PlanError, parse_plan
from workbench.synth.records import human_dev_file, normalize_query
from workbench.toolrag.selection import call_counter

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
    planner: Any,
    records: Sequence[dict[str, Any]],
    tools: Sequence[Sequence[str]] | None,
    cache: str | Path | None = None,
    depends_on: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Plan `records` with `planner` (a `Planner`; `tools`: ToolRAG's selection per query, None for all 16)
    and score the plans; `cut` (constrained planners) is the share of plans the grammar's limits cut short;
    `preds` are the plans themselves.

    With a `cache` file, the result is kept there (atomically) and read back by a later call whose inputs are
    the same: the records, the tools, the planner's decoding settings and `depends_on` (what else the plans
    depend on, such as the model's files), so a stage killed after an hour of evaluation resumes at the
    variant it was on instead of planning every variant again."""
    caches = {"records": cache} if cache is not None else None
    split_tools = {"records": tools} if tools is not None else None
    return evaluate_splits(planner, {"records": records}, split_tools, caches, depends_on)["records"]


def evaluate_splits(
    planner: Any,
    splits: Mapping[str, Sequence[dict[str, Any]]],
    tools: Mapping[str, Sequence[Sequence[str]]] | None = None,
    caches: Mapping[str, str | Path] | None = None,
    depends_on: dict[str, Any] | None = None,
) -> dict[str, dict[str, Any]]:
    """`evaluate_variant` for several splits of one variant (`tools`, `caches`: per split, or None).

    The splits not already kept in their cache files are planned together, in one `planner.plan` call: one
    pass of batched decoding instead of one per split (a weak planner writes every batch to its token budget,
    so the number of batches is what costs). Each split is then scored and kept on its own, so a killed stage
    still resumes per split."""
    caches = caches or {}
    results: dict[str, dict[str, Any]] = {}
    todo: list[tuple[str, str | None]] = []
    for name, records in splits.items():
        split_tools = tools[name] if tools is not None else None
        key = _result_key(planner, records, split_tools, depends_on or {}) if name in caches else None
        if key is not None and (kept := _read_kept(Path(caches[name]))).get("key") == key:
            results[name] = kept["result"]
        else:
            todo.append((name, key))
    if todo:
        records = [r for name, _ in todo for r in splits[name]]
        selected = [t for name, _ in todo for t in tools[name]] if tools is not None else None
        queries, todays = [r["query"] for r in records], [r["today"] for r in records]
        preds = planner.plan(queries, todays, tools=selected, progress=len(records) > 100)
        start = 0
        for name, key in todo:
            n = len(splits[name])
            results[name] = _score(planner, preds[start : start + n], splits[name])
            start += n
            if key is not None:
                write_json_atomic(caches[name], {"key": key, "result": results[name]})
    return {name: results[name] for name in splits}


def _score(planner: Any, preds: list[dict[str, Any]], records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    cut = {"cut": round(sum(p["cut"] for p in preds) / len(preds), 4)} if planner.constrained else {}
    return {**evaluate([p["plan"] for p in preds], [r["plan"] for r in records]), **cut, "preds": preds}


def _result_key(
    planner: Any,
    records: Sequence[dict[str, Any]],
    tools: Sequence[Sequence[str]] | None,
    depends_on: dict[str, Any],
) -> str:
    """A hash of everything a variant's plans depend on (the batch size too: left padding can shift a logit
    enough to change a greedy plan)."""
    names = (
        "kind",
        "constrained",
        "grounded",
        "grammar_limits",
        "max_new_tokens",
        "batch_size",
        "merge_repeats",
        "recover_requests",
        "resolve_dates",
        "type_references",
        "bind_lookups",
    )
    settings = {
        **{k: getattr(planner, k, None) for k in names},
        "rag": getattr(planner, "select", None) is not None,
    }
    # only when on, so results kept from before the option existed still count
    for option in ("cover_tools", "exact_counts"):
        if getattr(planner, option, False):
            settings[option] = True
    if settings.get("exact_counts") and (count := call_counter(getattr(planner, "select", None))) is not None:
        # the counts the grammar holds each plan to: a classifier that selects the same tools but counts
        # otherwise (a counter retrained) plans again
        settings["exact_counts"] = count([r["query"] for r in records])
    if settings["type_references"]:  # the repair's version: plans kept from an earlier one are redone
        settings["type_references"] = getattr(planner, "reference_repair", True)
    if settings["bind_lookups"]:
        settings["bind_lookups"] = getattr(planner, "lookup_binding", True)
    inputs = [[r["query"], r["today"], r["plan"]] for r in records]
    payload = {"planner": settings, "records": inputs, "tools": tools, "depends_on": depends_on}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _read_kept(path: Path) -> dict[str, Any]:
    """A kept result, or {} when there is none (or it cannot be read: it is then evaluated again)."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return kept if isinstance(kept, dict) else {}


def folder_fingerprint(folder: str | Path) -> list[list[Any]]:
    """Name, size and modification time of each file in a model folder: retraining the model changes it (a
    name that is no folder, such as a hub id, stands for itself)."""
    folder = Path(folder)
    if not folder.is_dir():
        return [[str(folder)]]
    return [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in sorted(folder.iterdir()) if p.is_file()]


STEP_BUCKETS = ((1, 2), (3, 4), (5, 6), (7, 99))


def load_human_dev(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of the human dev set: id, query, today, plan, alternatives, tags (`data/README.md`)."""
    return read_jsonl(path or human_dev_file(), "the human dev set", required=("query", "plan", "today"))


def leaked_queries(rows: Sequence[dict[str, Any]], queries: Iterable[str]) -> list[str]:
    """The dev queries that occur, normalized (`synth.records.normalize_query`), among `queries`.

    >>> leaked_queries([{"query": "Text Ana pls!"}, {"query": "call Bo"}], ["text ana pls", "email Bo"])
    ['Text Ana pls!']
    """
    seen = {normalize_query(q) for q in queries}
    return [r["query"] for r in rows if normalize_query(r["query"]) in seen]


def human_dev_report(preds: Sequence[str], rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Success on hand-written queries whose gold may allow several plans (`plan` and `alternatives` of
    `data/human/dev.jsonl`): a prediction is right when its DAG matches any of them. Also the failures by kind
    (`metrics.error_kind`) and the success per tag, for error analysis.

        >>> row = {"plan": '1. create_note("a", "b", "")\\n2. join()', "tags": ["note"],
        ...        "alternatives": ['1. create_reminder("a", None, "", "", 0, False)\\n2. join()']}
        >>> human_dev_report(['1. create_reminder("x", None, "", "", 0, False)\\n2. join()'], [row])["success"]
        1.0
    """
    golds = [[r["plan"], *r.get("alternatives", [])] for r in rows]
    kinds = [error_kind(p, g) for p, g in zip(preds, golds, strict=True)]
    tags = sorted({t for r in rows for t in r.get("tags", [])})
    by_tag = {}
    for tag in tags:
        picked = [k for k, r in zip(kinds, rows, strict=True) if tag in r.get("tags", [])]
        by_tag[tag] = {"n": len(picked), "success": round(sum(k is None for k in picked) / len(picked), 4)}
    return {
        "n": len(rows),
        "success": round(sum(k is None for k in kinds) / max(len(rows), 1), 4),
        "error_breakdown": {kind: kinds.count(kind) for kind in ERROR_KINDS},
        "success_by_tag": by_tag,
    }


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
    preds: Sequence[tuple[int, dict[str, Any]]],
    golds: Sequence[dict[str, Any]],
    pred_path: str = "predictions",
) -> tuple[list[str], list[str]]:
    """Match numbered `{"query", "plan"}` predictions to gold records by query text; every gold query must be
    predicted, and a query predicted twice must have the same plan both times (else which one counts would
    depend on the order of the lines, and a file could score 1 or 0 by it)."""
    by_query: dict[str, tuple[int, str]] = {}
    for line, p in preds:
        plan = p.get("plan", "")
        first = by_query.setdefault(p["query"], (line, plan))
        if first[1] != plan:
            raise ValueError(
                f"{pred_path}, lines {first[0]} and {line}: two different plans for the query {p['query']!r}; "
                "keep one prediction per query"
            )
    missing = [g["query"] for g in golds if g["query"] not in by_query]
    if missing:
        raise ValueError(
            f"{len(missing)} gold queries have no prediction, e.g. {missing[0]!r}: "
            "predict every query of the gold file"
        )
    return [by_query[g["query"]][1] for g in golds], [g["plan"] for g in golds]


def evaluate_files(pred_path: str, gold_path: str) -> dict[str, Any]:
    """`workbench evaluate`: predictions `{"query", "plan"}` against gold records `{"query", "plan"}`. An
    error names the file and its line: a record of the wrong shape, a gold plan that is no plan, a query
    predicted twice with different plans. Gold records that list `alternatives` (other right plans, as the
    human dev set does) add `success_any_right_plan` and the failures by kind (`error_breakdown`)."""
    preds = read_jsonl_numbered(pred_path, "predictions", required=("query",))
    golds = read_jsonl_numbered(gold_path, "gold", required=("query", "plan"))
    if not golds:
        raise ValueError(f"the gold file {gold_path} is empty: nothing to evaluate")
    for line, g in golds:
        for k, plan in enumerate([g["plan"], *g.get("alternatives", [])]):
            try:
                parse_plan(plan)
            except PlanError as e:
                what = "the gold plan" if k == 0 else f"alternative {k}"
                raise ValueError(f"{gold_path}, line {line}: {what} is not a valid plan ({e})") from None
    rows = [g for _, g in golds]
    plans, gold_plans = pair_by_query(preds, rows, pred_path)
    out: dict[str, Any] = dict(evaluate(plans, gold_plans))
    if any(g.get("alternatives") for g in rows):
        report = human_dev_report(plans, rows)
        out["success_any_right_plan"] = report["success"]
        out["error_breakdown"] = report["error_breakdown"]
    return out
