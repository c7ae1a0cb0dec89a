"""The ToolRAG stage (TinyAgent, Sec. 4, Table 1): train the classifier, compare it with basic RAG and no RAG.

`run(cfg)` trains the classifier unless one saved for the same data and training settings exists (or with
`retrain=True`), then measures on the test and ood splits, for no RAG (all 16 tools), basic RAG at every k and
the classifier: tool recall (every needed tool selected), tools per query, precision, and the planner prompt's
size in tokens. It also measures how many out-of-scope queries (held-out templates of `synth.out_of_scope`) the
classifier rejects, and how many in-scope ones it wrongly rejects. Writes `data/results/toolrag.json` and
`figures/table1_toolrag.{md,csv}`.

Prompt tokens are counted with the planner's tokenizer once the fine-tuning stage has saved one
(`<artifacts>/planner/tokenizer.json`); until then with word pieces (`workbench.llm.approx_tokens`). The
results name which was used.
"""

from __future__ import annotations

import json
import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from workbench import config
from workbench.synth.dataset import load_split, split_path
from workbench.synth.out_of_scope import out_of_scope_items
from workbench.toolrag.basic import BasicRAG
from workbench.toolrag.classifier import (
    TRAINING_FIELDS,
    ToolRAGClassifier,
    ToolRAGConfig,
    data_fingerprint,
)
from workbench.toolrag.encoder import load_encoder
from workbench.toolrag.examples import cached_embeddings, planner_token_counter, prompt_tokens
from workbench.toolrag.metrics import selection_metrics
from workbench.tools.tinyagent import TOOL_NAMES
from workbench.viz.tables import table1_toolrag

PROMPT_K = (3, 4, 5, 6)  # basic-RAG k whose prompt sizes are reported


def classifier_dir() -> Path:
    """Where the classifier is trained and read: `<artifacts>/toolrag/classifier` (what "auto" selects)."""
    return config.toolrag_dir() / "classifier"


def _row(
    method: str, selected: list[list[str]], needed: list[list[str]], count: Callable[[str], int] | None
) -> dict:
    row = {"method": method, **selection_metrics(selected, needed)}
    if count is not None:
        sizes = prompt_tokens(selected, count)
        row.update(
            prompt_tokens_mean=round(statistics.fmean(sizes), 1),
            prompt_tokens_median=statistics.median(sizes),
        )
    return row


def _fingerprint() -> str:
    dataset = config.dataset_dir()
    return data_fingerprint([split_path("train", dataset), split_path("val", dataset)])


def train(cfg: ToolRAGConfig | None = None) -> dict[str, Any]:
    """Fine-tune the classifier on the train split (best-on-val checkpoint under the artifacts folder)."""
    cfg = cfg or config.stage_config(ToolRAGConfig, "toolrag")
    dataset = config.dataset_dir()
    _, history = ToolRAGClassifier.train(
        cfg,
        load_split("train", folder=dataset),
        load_split("val", folder=dataset),
        classifier_dir(),
        data_fingerprint_of=_fingerprint(),
    )
    return history


def saved_classifier_fits(cfg: ToolRAGConfig) -> bool:
    """True when a saved classifier was trained on the current data with the current training settings."""
    meta_path = classifier_dir() / "toolrag.json"
    if not meta_path.exists() or not (classifier_dir() / "history.json").exists():
        return False
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    # a setting added since the classifier was saved counts as its default (what it was trained with)
    defaults = {f.name: f.default for f in fields(ToolRAGConfig)}
    same_config = all(meta["config"].get(k, defaults[k]) == getattr(cfg, k) for k in TRAINING_FIELDS)
    # a classifier saved before the count head has none: retrained when the settings want one
    counted = bool(meta.get("count_classes") or meta.get("counter")) == (cfg.count_weight > 0)
    return same_config and counted and meta.get("data") == _fingerprint()


def run(cfg: ToolRAGConfig | None = None, retrain: bool = False) -> dict[str, Any]:
    """Evaluate (training first when no saved classifier fits the current data and settings, or `retrain`)."""
    cfg = cfg or config.stage_config(ToolRAGConfig, "toolrag")
    if retrain or not saved_classifier_fits(cfg):
        train(cfg)
    dataset, cache = config.dataset_dir(), config.toolrag_dir() / "cache"
    history = json.loads((classifier_dir() / "history.json").read_text(encoding="utf-8"))
    classifier = ToolRAGClassifier.load(classifier_dir(), device=cfg.device)
    # the profile's selection settings, recorded in the saved classifier that later stages load
    classifier.set_selection(classifier_dir(), cfg.threshold, cfg.refuse_below)
    encoder = load_encoder(cfg.basic_encoder)
    rag = BasicRAG(encoder)
    by_examples = None
    if cfg.basic_examples:
        train_rows = load_split("train", folder=dataset)
        sample = random.Random(cfg.seed).sample(train_rows, min(cfg.basic_examples, len(train_rows)))
        queries_ = [r["query"] for r in sample]
        by_examples = BasicRAG(
            encoder,
            mode="examples",
            train_queries=queries_,
            train_tools=[r["tools"] for r in sample],
            train_vectors=cached_embeddings(encoder, queries_, "basic-examples", cache),
        )
    count, tokenizer_name = planner_token_counter(config.planner_dir() / "tokenizer.json")
    results: dict[str, Any] = {
        "profile": config.active_profile(),
        "encoder": classifier.meta["base_encoder"],
        "basic_encoder": cfg.basic_encoder,
        "threshold": cfg.threshold,
        "refuse_below": cfg.refuse_below,
        "prompt_tokenizer": tokenizer_name,
        "train_wall_s": history["train_wall_s"],
        "n_train": classifier.meta["n_train"],
        "device": history.get("device", "cpu"),
        "splits": {},
    }
    for split in ("test", "ood"):
        records = load_split(split, folder=dataset)
        queries, needed = [r["query"] for r in records], [r["tools"] for r in records]
        vectors = encoder.embed(queries)
        rows = [_row("no RAG (all 16 tools)", [list(TOOL_NAMES)] * len(queries), needed, count)]
        for k in range(1, len(TOOL_NAMES) + 1):
            rows.append(
                _row(
                    f"basic RAG top-{k}",
                    rag.select(queries, k, vectors),
                    needed,
                    count if k in PROMPT_K else None,
                )
            )
        if by_examples is not None:
            for k in range(1, len(TOOL_NAMES) + 1):
                rows.append(
                    _row(
                        f"basic RAG (examples) top-{k}",
                        by_examples.select(queries, k, vectors),
                        needed,
                        count if k in PROMPT_K else None,
                    )
                )
        picks = classifier.select(queries, cfg.threshold, cfg.refuse_below)
        rows.append(_row("ToolRAG classifier", picks, needed, count))
        results["splits"][split] = rows
        # in-scope queries the classifier rejects: the agent would wrongly answer "no tool can serve"
        results[f"classifier_no_tool_{split}"] = round(sum(not p for p in picks) / max(1, len(picks)), 4)
        if classifier.counted:  # every call of the plan read right: tools and how often
            results[f"classifier_calls_exact_{split}"] = classifier.calls_exact(records)
    results["out_of_scope"] = out_of_scope_rejection(classifier, cfg)
    test = {r["method"]: r for r in results["splits"]["test"]}
    ood = {r["method"]: r for r in results["splits"]["ood"]}
    clf, none = test["ToolRAG classifier"], test["no RAG (all 16 tools)"]
    results.update(
        {
            "classifier_recall_test": clf["recall"],
            "classifier_avg_tools_test": clf["avg_tools"],
            "classifier_precision_test": clf["precision"],
            "classifier_recall_ood": ood["ToolRAG classifier"]["recall"],
            "classifier_avg_tools_ood": ood["ToolRAG classifier"]["avg_tools"],
            "basic_recall_at_k_test": {str(k): test[f"basic RAG top-{k}"]["recall"] for k in range(1, 17)},
            "basic_recall_at_k_ood": {str(k): ood[f"basic RAG top-{k}"]["recall"] for k in range(1, 17)},
            "basic_examples_recall_at_k_test": {
                str(k): test[f"basic RAG (examples) top-{k}"]["recall"] for k in range(1, 17)
            }
            if by_examples is not None
            else None,
            "prompt_tokens_no_rag_test": none["prompt_tokens_mean"],
            "prompt_tokens_classifier_test": clf["prompt_tokens_mean"],
            "prompt_tokens_reduction_test": round(none["prompt_tokens_mean"] / clf["prompt_tokens_mean"], 3),
            "targets": {
                "classifier_recall_test": ">= 0.998",
                "classifier_avg_tools_test": "<= 4.0",
                "prompt_tokens_reduction_test": ">= 2.0",
            },
        }
    )
    config.save_results("toolrag", results)
    table1_toolrag(results)
    return results


def out_of_scope_rejection(classifier: ToolRAGClassifier, cfg: ToolRAGConfig, n: int = 300) -> dict[str, Any]:
    """How many queries no tool serves the classifier rejects (selects no tool for), on templates and topics
    held out of its training (`synth.out_of_scope`); the agent answers those with "no tool can serve"."""
    items = out_of_scope_items(n, seed=cfg.seed, held_out=True)
    queries = [q for q, _ in items]
    picks = classifier.select(queries, cfg.threshold, cfg.refuse_below)
    by_topic: dict[str, list[bool]] = {}
    for (_, topic), p in zip(items, picks, strict=True):
        by_topic.setdefault(topic, []).append(not p)
    return {
        "n": n,
        "rejected": round(sum(not p for p in picks) / n, 4),
        "rejected_by_topic": {
            t: {"n": len(v), "rejected": round(sum(v) / len(v), 4)} for t, v in sorted(by_topic.items())
        },
        "trained_with": cfg.out_of_scope,
        "queries": "templates and topics held out of training, typed in the held-out parts of the casual register",
        "examples": [{"query": q, "selected": p} for q, p in zip(queries[:8], picks[:8], strict=True)],
        "missed": [{"query": q, "selected": p} for q, p in zip(queries, picks, strict=True) if p][:12],
    }


def compare(queries: Sequence[str], k: int = 3, cfg: ToolRAGConfig | None = None) -> list[dict[str, Any]]:
    """What each method picks for a few queries (for the notebook's "auxiliary tool" examples)."""
    cfg = cfg or config.stage_config(ToolRAGConfig, "toolrag")
    rag = BasicRAG(load_encoder(cfg.basic_encoder))
    picks = ToolRAGClassifier.load(classifier_dir(), device=cfg.device).select(
        list(queries), cfg.threshold, cfg.refuse_below
    )
    return [
        {"query": q, f"basic top-{k}": b, "classifier": c}
        for q, b, c in zip(queries, rag.select(list(queries), k), picks, strict=True)
    ]
