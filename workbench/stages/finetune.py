"""The fine-tuning stage (TinyAgent, Sec. 5 and Table 1's success rates): `run(cfg)` trains and evaluates.

Steps, each cached under `<artifacts>/planner/` and skipped when its saved settings match:

1. the base model: the offline profile trains a tokenizer and pre-trains a small Llama on plan-free text
   (`finetune.base`, `finetune.train.build_base`); the paper profile names a hub checkpoint;
2. LoRA and full fine-tuning on (prompt, gold plan) pairs (`finetune.prompts`, `finetune.train`);
3. evaluation of base / LoRA / full x ToolRAG on/off x decoding (free, constrained, and for the trained models
   grounded: constrained with names, files and places copied from the query; with ToolRAG's count head, exact
   counts: constrained to the calls it reads), on val, test and ood
   (`workbench.planner`, `finetune.evaluate`), into `data/results/planner.json` and
   `figures/fig_success_rate.png`; the best variant (chosen on val) into `<artifacts>/planner/best.json`.
   Each variant's result per split is kept in `<artifacts>/planner/evaluations/`, so a killed run resumes
   at the variant it was on (the latency of each variant is measured again).

    >>> run(stage_config(FinetuneConfig, "finetune", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench import config
from workbench.files import write_json_atomic, write_jsonl_atomic
from workbench.finetune import distributed
from workbench.finetune.base import count_parameters, load_model
from workbench.finetune.bundled import bundled_planner
from workbench.finetune.evaluate import (
    evaluate,
    evaluate_splits,
    evaluate_variant,
    folder_fingerprint,
    human_dev_file,
    human_dev_report,
    leaked_queries,
    load_human_dev,
    success_by_steps,
)
from workbench.finetune.prompts import PLAN_ORDERS
from workbench.finetune.settings import METHOD_FIELDS, FinetuneConfig, grammar_limits
from workbench.finetune.sizes import PlannerSizesConfig, measure
from workbench.finetune.train import build_base, cpu_description, finetune_method, resolved
from workbench.metrics import error_breakdown
from workbench.planner import Planner, resolve_toolrag
from workbench.synth.dataset import load_split, require_splits
from workbench.toolrag.examples import example_source
from workbench.toolrag.selection import call_counter, toolrag_selector
from workbench.viz.planner import fig_success_rate

PAPER_ROWS = [  # TinyAgent (Erdogan et al. 2024), Table 1 / Sec. 5, success rate on their test set
    {"variant": "GPT-4-Turbo", "success_test": 0.7908},
    {"variant": "TinyLlama-1.1B (base)", "success_test": 0.1271},
    {"variant": "TinyLlama-1.1B + LoRA + ToolRAG", "success_test": 0.8006},
    {"variant": "Wizard-2-7B (base)", "success_test": 0.4125},
    {"variant": "Wizard-2-7B + LoRA + ToolRAG", "success_test": 0.8495},
]


def base_model(cfg: FinetuneConfig | None = None) -> Path:
    """The base model folder of `cfg` (pre-trained first when the offline one is missing or stale)."""
    cfg = cfg or config.stage_config(FinetuneConfig, "finetune")
    return build_base(cfg, config.planner_dir(), config.dataset_dir())


def sizes(cfg: PlannerSizesConfig | None = None) -> dict[str, Any]:
    """Time training steps of planners of several sizes on this machine; save `planner_sizes.json`."""
    from transformers import AutoTokenizer

    cfg = cfg or config.stage_config(PlannerSizesConfig, "planner_sizes")
    dataset = config.dataset_dir()
    require_splits(dataset)
    records = load_split("train", limit=cfg.records, folder=dataset)
    rows = measure(cfg, records, AutoTokenizer.from_pretrained(bundled_planner()))
    results = {
        "profile": config.active_profile(),
        "device": f"{cpu_description()}, torch fp32, {cfg.threads} threads",
        "batch_size": cfg.batch_size,
        "budget_s": cfg.budget_s,
        "rows": rows,
        "settings": asdict(cfg),
    }
    write_json_atomic(config.results_path("planner_sizes"), results)
    return results


def run(cfg: FinetuneConfig | None = None) -> dict[str, Any]:
    """Train what is missing, evaluate every variant, save `planner.json` and the success-rate figure."""
    import torch

    cfg = cfg or config.stage_config(FinetuneConfig, "finetune")
    unknown = [m for m in cfg.methods if m not in METHOD_FIELDS]
    if unknown:
        raise ValueError(f"unknown fine-tuning method(s) {unknown}; use lora and/or full")
    if cfg.plan_order not in PLAN_ORDERS:
        raise ValueError(f"unknown plan_order {cfg.plan_order!r}; use one of {PLAN_ORDERS}")
    planner_dir, dataset, cache = config.planner_dir(), config.dataset_dir(), config.toolrag_dir() / "cache"
    require_splits(dataset)
    human = load_human_dev()
    _refuse_leaks(human, dataset)
    human = human[: cfg.eval_human_dev]
    if note := distributed.single_process_note():
        print(note, flush=True)
    torch.set_num_threads(max(1, cfg.threads // distributed.processes()))  # processes share the cores
    cfg = resolved(cfg)
    t0 = time.perf_counter()
    base_dir = build_base(cfg, planner_dir, dataset)
    reports = {m: finetune_method(cfg, m, base_dir, planner_dir, dataset, cache) for m in cfg.methods}
    if (
        not distributed.is_main()
    ):  # `accelerate launch`: training is shared; evaluation runs once, on the main
        return {
            "process": "not main: trained, the main process evaluates and writes",
            "methods": list(reports),
        }
    splits = {
        "val": load_split("val", limit=cfg.eval_val, folder=dataset),
        "test": load_split("test", limit=cfg.eval_test, folder=dataset),
        "ood": load_split("ood", limit=cfg.eval_ood, folder=dataset),
    }
    select = toolrag_selector(resolve_toolrag("auto", config.artifacts_dir()))
    selected = {s: select([r["query"] for r in recs]) for s, recs in splits.items()} if select else None
    models = {"base": base_dir, **{m: planner_dir / m / "model" for m in cfg.methods}}
    pretraining = planner_dir / "base" / "pretraining.json"
    rows, samples = [], {}
    for name, folder in models.items():
        model, tokenizer = load_model(folder)
        k, examples = _examples(cfg, name, dataset, cache)
        # decoding: free, constrained, and for trained models constrained + grounded (names copied from the query)
        # and, with a ToolRAG whose count head reads each tool's calls, constrained to exactly those calls
        decodings = [(False, False, False), (True, False, False)]
        if name in reports:
            decodings.append((True, True, False))
        for use_rag in [False, True] if selected else [False]:
            counted = use_rag and name in reports and call_counter(select) is not None
            for constrained, grounded, exact in [*decodings, *([(True, False, True)] if counted else [])]:
                planner = _planner(
                    model, tokenizer, cfg, examples, select if use_rag else None, constrained, grounded, exact
                )
                row = {
                    "variant": _variant(name, use_rag, constrained, grounded, exact),
                    "model": name,
                    "toolrag": use_rag,
                    "constrained": constrained,
                    "grounded": grounded,
                    "exact_counts": exact,
                    "prompt": cfg.prompt + (" + examples" if examples else ""),
                    "parameters": count_parameters(model),
                }
                evaluations = evaluate_splits(  # kept per split: a killed stage resumes here
                    planner,
                    splits,
                    selected if use_rag else None,
                    caches={
                        split: planner_dir / "evaluations" / f"{variant_slug(row['variant'])}.{split}.json"
                        for split in splits
                    },
                    depends_on={"model": folder_fingerprint(folder), "examples": k},
                )
                for split, res in evaluations.items():
                    samples[(row["variant"], split)] = res.pop("preds")
                    row.update({f"{k}_{split}": v for k, v in res.items()})
                lat = planner.latency(
                    [r["query"] for r in splits["test"][: cfg.latency_n]],
                    [r["today"] for r in splits["test"][: cfg.latency_n]],
                )
                row["median_latency_s"] = round(statistics.median(lat), 4)
                if name in reports:
                    row.update(
                        {k: reports[name][k] for k in ("wall_s", "train_tokens", "trainable_parameters")}
                    )
                elif cfg.base_model == "offline" and pretraining.exists():  # the offline base's pre-training
                    pre = json.loads(pretraining.read_text(encoding="utf-8"))
                    row.update(
                        {
                            "wall_s": pre["wall_s"],
                            "train_tokens": pre["train_tokens"],
                            "trainable_parameters": pre["parameters"],
                        }
                    )
                rows.append(row)
                print(
                    f"{row['variant']}: success test {row['success_test']:.3f}, ood {row['success_ood']:.3f}, "
                    f"parse failures {row['parse_failure_test']:.3f}",
                    flush=True,
                )
    results = summarize(cfg, rows, reports, time.perf_counter() - t0)
    best = next(r for r in rows if r["variant"] == results["best_variant"])
    if cfg.best_eval_test > len(splits["test"]):  # the chosen planner on more test queries than each variant
        splits["test"] = load_split("test", limit=cfg.best_eval_test, folder=dataset)
        preds = _plan_best(
            cfg, best, models[best["model"]], splits["test"], "best_test", select, dataset, cache
        )
        samples[(best["variant"], "test")] = preds
        results["best_success_test"] = evaluate(
            [p["plan"] for p in preds], [r["plan"] for r in splits["test"]]
        )["success"]
    results["best_test_n"] = len(splits["test"])
    results["best_success_by_steps"] = {
        split: success_by_steps(
            [p["plan"] for p in samples[(results["best_variant"], split)]], [r["plan"] for r in splits[split]]
        )
        for split in ("test", "ood")
    }
    human_preds = _plan_best(cfg, best, models[best["model"]], human, "human_dev", select, dataset, cache)
    samples[(best["variant"], "human_dev")] = human_preds
    report = human_dev_report([p["plan"] for p in human_preds], human)
    results["best_success_human_dev"] = report["success"]
    results["human_dev_n"] = report["n"]
    results["human_dev_success_by_tag"] = report["success_by_tag"]
    results["error_breakdown"] = {  # the best variant's failures by kind (`metrics.error_kind`)
        "human_dev": report["error_breakdown"],
        **{
            split: error_breakdown(
                [p["plan"] for p in samples[(best["variant"], split)]], [r["plan"] for r in splits[split]]
            )
            for split in ("test", "ood")
        },
    }
    results.update(_training_wall(results, reports))
    _save_predictions(samples, planner_dir / "predictions")
    config.save_results("planner", results)
    fig_success_rate(results)
    return results


def _planner(
    model: Any,
    tokenizer: Any,
    cfg: FinetuneConfig,
    examples: Any,
    select: Any,
    constrained: bool,
    grounded: bool,
    exact_counts: bool = False,
) -> Planner:
    return Planner(
        model,
        tokenizer,
        kind=cfg.prompt,
        constrained=constrained,
        examples=examples,
        max_new_tokens=cfg.max_new_tokens,
        select=select,
        batch_size=cfg.eval_batch_size,
        grounded=grounded,
        grammar_limits=grammar_limits(cfg),
        exact_counts=exact_counts,
    )


def _examples(cfg: FinetuneConfig, model: str, dataset: Path, cache: Path) -> tuple[int, Any]:
    """How many retrieved examples a model's prompt holds (the base model's own number), and their source."""
    k = cfg.base_examples if model == "base" else cfg.train_examples
    return k, example_source(k, dataset, cache) if k else None


def _refuse_leaks(human: list[dict[str, Any]], dataset: Path) -> None:
    """Stop before any training when a hand-written dev query occurs in the training or validation split: the
    dev set measures queries the planner never saw."""
    queries = (r["query"] for split in ("train", "val") for r in load_split(split, folder=dataset))
    leaks = leaked_queries(human, queries)
    if leaks:
        raise ValueError(
            f"{len(leaks)} queries of the human dev set ({config.shown_path(human_dev_file())}) occur in the "
            f"training data under {config.shown_path(dataset)}, e.g. {leaks[0]!r}: the dev set must stay unseen; "
            "remove them from the generator's phrasings (or the teacher's records) and synthesize again"
        )


def _plan_best(
    cfg: FinetuneConfig,
    best: dict[str, Any],
    folder: Path,
    records: list[dict[str, Any]],
    name: str,
    select: Any,
    dataset: Path,
    cache: Path,
) -> list[dict[str, Any]]:
    """The best variant's plans for `records` (the hand-written dev queries, or more test queries), kept like
    the other evaluations under the name `name`."""
    model, tokenizer = load_model(folder)
    k, examples = _examples(cfg, best["model"], dataset, cache)
    rag = select if best["toolrag"] else None
    planner = _planner(
        model,
        tokenizer,
        cfg,
        examples,
        rag,
        best["constrained"],
        best["grounded"],
        best.get("exact_counts", False),
    )
    res = evaluate_variant(
        planner,
        records,
        rag([r["query"] for r in records]) if rag else None,
        cache=config.planner_dir() / "evaluations" / f"{variant_slug(best['variant'])}.{name}.json",
        depends_on={"model": folder_fingerprint(folder), "examples": k},
    )
    return res["preds"]


def _training_wall(results: dict[str, Any], reports: dict[str, Any]) -> dict[str, Any]:
    """The wall time of every offline training step behind the planner (synthesis, ToolRAG, pre-training,
    fine-tuning), as each stage measured it, and the CPU it ran on."""
    # ToolRAG's from the classifier's own history, which `toolrag train` writes (toolrag.json waits for `eval`)
    history = config.toolrag_dir() / "classifier" / "history.json"
    toolrag = json.loads(history.read_text(encoding="utf-8")) if history.exists() else {}
    stages = {"synthesis": _measured("synthesis", "wall_s"), "toolrag": toolrag.get("train_wall_s")}
    stages["pretrain"] = results["pretrain_wall_s"]
    stages.update({m: r["wall_s"] for m, r in reports.items()})
    return {
        "training_wall_s_all_stages": round(sum(v for v in stages.values() if v is not None), 1),
        "training_wall_s_by_stage": stages,
        "cpu": cpu_description(),
    }


def _measured(stage: str, key: str) -> float | None:
    """A number from another stage's results file; None when that stage has not run here."""
    path = config.results_path(stage)
    return json.loads(path.read_text(encoding="utf-8")).get(key) if path.exists() else None


def _variant(model: str, rag: bool, constrained: bool, grounded: bool = False, exact: bool = False) -> str:
    decoding = (
        " + exact counts" if exact else " + grounded" if grounded else " + constrained" if constrained else ""
    )
    return model + (" + ToolRAG" if rag else "") + decoding


def best_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The variant the agent uses: the best on val (never test) of the trained models with ToolRAG, where there
    are any. Only ToolRAG can select no tool, so only a ToolRAG variant refuses an out-of-scope request; val is
    all in scope and cannot reward that (one offline run's val chose `full` over `full + ToolRAG + constrained`
    by 1 query of 150, and `full` planned every out-of-scope dev request). On a tie, the variant whose decoding
    is held to exact counts, grounded or constrained (plans that always parse)."""
    trained = [r for r in rows if r["model"] != "base"] or rows
    trained = [r for r in trained if r["toolrag"]] or trained
    return max(
        trained,
        key=lambda r: (
            r["success_val"],
            -r["parse_failure_val"],
            bool(r["toolrag"]),
            bool(r.get("exact_counts")),
            bool(r.get("grounded")),
            bool(r["constrained"]),
        ),
    )


def summarize(
    cfg: FinetuneConfig, rows: list[dict[str, Any]], reports: dict[str, Any], wall: float
) -> dict[str, Any]:
    """The results of `run`; also writes `<artifacts>/planner/best.json`, the best variant chosen on val."""
    planner_dir = config.planner_dir()
    best = best_row(rows)
    constrained = [r for r in rows if r["constrained"] and r["model"] == best["model"]]
    pretrain = planner_dir / "base" / "pretraining.json"
    best_info = {
        "model_dir": str((planner_dir / best["model"] / "model").relative_to(config.artifacts_dir())),
        "toolrag": best["toolrag"],
        "constrained": best["constrained"],
        "grounded": best.get("grounded", False),
        "exact_counts": best.get("exact_counts", False),
        "prompt": cfg.prompt,
        "max_new_tokens": cfg.max_new_tokens,
        "grammar_limits": grammar_limits(cfg),
    }
    write_json_atomic(planner_dir / "best.json", best_info)
    return {
        "profile": config.active_profile(),
        "best_variant": best["variant"],
        "best_success_test": best["success_test"],
        "best_success_ood": best["success_ood"],
        "constrained_parse_failure_rate": max(r["parse_failure_test"] for r in constrained)
        if constrained
        else None,
        "train_wall_s": reports[best["model"]]["wall_s"] if best["model"] in reports else 0.0,
        "pretrain_wall_s": json.loads(pretrain.read_text())[
            "wall_s"
        ]  # the offline base's own, when it is the base
        if cfg.base_model == "offline" and pretrain.exists()
        else None,
        "training_processes": distributed.processes(),
        "stage_wall_s": round(wall, 1),
        "prompt": cfg.prompt,
        "plan_order": cfg.plan_order,
        "best_chosen_on": "val",
        "toolrag_rows": "measured"
        if any(r["toolrag"] for r in rows)
        else "missing: no trained ToolRAG classifier (run `workbench toolrag train`)",
        "base_model": cfg.base_model,
        "settings": asdict(cfg),
        "training": {m: {k: v for k, v in r.items() if k != "log"} for m, r in reports.items()},
        "curves": {
            m: [e for e in r.get("log", []) if "loss" in e or "eval_loss" in e] for m, r in reports.items()
        },
        "rows": rows,
        "reported": PAPER_ROWS,
        "note": "our test set is synthesized by the offline teacher, not the paper's; success = DAG isomorphism",
    }


def _save_predictions(samples: dict[tuple[str, str], list[dict[str, Any]]], out: Path) -> None:
    """Each variant's plans per split, as `<out>/<variant>.<split>.jsonl` of {query, plan}."""
    for (variant, split), preds in samples.items():
        write_jsonl_atomic(
            out / f"{variant_slug(variant)}.{split}.jsonl",
            ({"query": p["query"], "plan": p["plan"]} for p in preds),
        )


def variant_slug(variant: str) -> str:
    """A variant's name as a file name: "lora + ToolRAG + grounded" -> "lora_toolrag_grounded"."""
    return variant.replace(" + ", "_").replace(" ", "_").lower()
