"""The fine-tuning stage (TinyAgent, Sec. 5 and Table 1's success rates): `run(cfg)` trains and evaluates.

Steps, each cached under `<artifacts>/planner/` and skipped when its saved settings match:

1. the base model: the offline profile trains a tokenizer and pre-trains a small Llama on plan-free text
   (`finetune.base`); the paper profile names a hub checkpoint;
2. LoRA and full fine-tuning on (prompt, gold plan) pairs (`finetune.prompts`, `finetune.train`);
3. evaluation of base / LoRA / full x ToolRAG on/off x decoding (free, constrained, and for the trained models
   grounded: constrained with names, files and places copied from the query), on test and ood
   (`finetune.predict`, `finetune.evaluate`), into `data/results/planner.json` and `figures/fig_success_rate.png`.

    >>> run(stage_config(FinetuneConfig, "finetune", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import shutil
import statistics
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from workbench import config

PAPER_ROWS = [  # TinyAgent (Erdogan et al. 2024), Table 1 / Sec. 5, success rate on their test set
    {"variant": "GPT-4-Turbo", "success_test": 0.7908},
    {"variant": "TinyLlama-1.1B (base)", "success_test": 0.1271},
    {"variant": "TinyLlama-1.1B + LoRA + ToolRAG", "success_test": 0.8006},
    {"variant": "Wizard-2-7B (base)", "success_test": 0.4125},
    {"variant": "Wizard-2-7B + LoRA + ToolRAG", "success_test": 0.8495},
]


@dataclass
class FinetuneConfig:
    base_model: str = field(
        default="offline",
        metadata={"help": "offline (pre-train a small Llama here), a model folder, or a hub id"},
    )
    vocab_size: int = field(
        default=1024, metadata={"help": "offline tokenizer: byte-level BPE size (+16 tool names)"}
    )
    hidden: int = field(default=128, metadata={"help": "offline base: hidden size"})
    layers: int = field(default=4, metadata={"help": "offline base: transformer layers"})
    heads: int = field(default=4, metadata={"help": "offline base: attention heads"})
    intermediate: int = field(default=384, metadata={"help": "offline base: MLP width"})
    calendar_docs: int = field(default=20_000, metadata={"help": "offline base: calendar/clock sentences"})
    restate: float = field(
        default=0.5, metadata={"help": "offline base: fraction of queries also quoted twice"}
    )
    pretrain_records: int | None = field(
        default=None, metadata={"help": "train queries pre-trained on (None: all)"}
    )
    pretrain_epochs: float = field(default=1.0, metadata={"help": "offline base: passes over the corpus"})
    pretrain_lr: float = field(default=3e-3, metadata={"help": "offline base: learning rate"})
    prompt: str = field(
        default="compact", metadata={"help": "compact (tool names) or full (LLMCompiler prompt)"}
    )
    plan_order: str = field(
        default="grouped",
        metadata={
            "help": "training targets' step order: gold (as synthesized, every lookup first) or grouped (each "
            "request's steps together; the same DAG)"
        },
    )
    train_examples: int = field(
        default=0,
        metadata={
            "help": "retrieved in-context examples in each training prompt (the paper's; 0 keeps CPU prompts short)"
        },
    )
    train_records: int | None = field(default=24_000, metadata={"help": "training pairs used (None: all)"})
    val_records: int = field(default=300, metadata={"help": "val pairs for the best checkpoint"})
    batch_size: int = field(default=32, metadata={"help": "pairs per step"})
    eval_every: int = field(default=200, metadata={"help": "steps between val losses and checkpoints"})
    methods: list[str] = field(
        default_factory=lambda: ["lora", "full"], metadata={"help": "lora and/or full"}
    )
    lora_r: int = field(default=32, metadata={"help": "LoRA rank (all linear layers)"})
    lora_alpha: int = field(default=64, metadata={"help": "LoRA scale numerator"})
    lora_dropout: float = field(default=0.0, metadata={"help": "LoRA dropout"})
    lora_lr: float = field(default=2e-3, metadata={"help": "LoRA learning rate"})
    lora_epochs: float = field(default=1.0, metadata={"help": "LoRA: passes over the training pairs"})
    full_lr: float = field(default=1e-3, metadata={"help": "full fine-tuning learning rate"})
    full_epochs: float = field(
        default=1.0, metadata={"help": "full fine-tuning: passes over the training pairs"}
    )
    max_length: int = field(default=1024, metadata={"help": "longer training pairs are dropped"})
    eval_val: int = field(
        default=200, metadata={"help": "val records evaluated (the best variant is chosen on val)"}
    )
    eval_test: int | None = field(default=1000, metadata={"help": "test records evaluated (None: all)"})
    eval_ood: int | None = field(default=1000, metadata={"help": "ood records evaluated (None: all)"})
    base_examples: int = field(
        default=2, metadata={"help": "retrieved in-context examples for the base model"}
    )
    latency_n: int = field(default=30, metadata={"help": "test queries timed one at a time per variant"})
    eval_batch_size: int = field(default=64, metadata={"help": "queries decoded together in evaluation"})
    max_new_tokens: int = field(default=320, metadata={"help": "generation budget per plan"})
    grammar_max_steps: int = field(default=20, metadata={"help": "constrained decoding: most tool steps"})
    grammar_max_str_len: int = field(default=200, metadata={"help": "constrained decoding: longest string"})
    grammar_max_list_len: int = field(default=8, metadata={"help": "constrained decoding: longest list"})
    seed: int = field(default=0, metadata={"help": "sampling, shuffling and initialization seed"})
    precision: str = field(
        default="auto",
        metadata={
            "help": "training arithmetic: bf16 (autocast, ~1.5x faster on a CPU with AVX512-BF16), fp32, or auto"
        },
    )
    threads: int = field(default=2, metadata={"help": "torch CPU threads"})
    progress: bool = field(default=True, metadata={"help": "progress bars"})


BASE_FIELDS = (
    "base_model",
    "vocab_size",
    "hidden",
    "layers",
    "heads",
    "intermediate",
    "calendar_docs",
    "restate",
    "pretrain_records",
    "pretrain_epochs",
    "pretrain_lr",
    "precision",
    "seed",
)
TUNE_FIELDS = (
    "prompt",
    "plan_order",
    "train_examples",
    "train_records",
    "val_records",
    "batch_size",
    "eval_every",
    "max_length",
    "precision",
    "seed",
)
METHOD_FIELDS = {
    "lora": ("lora_r", "lora_alpha", "lora_dropout", "lora_lr", "lora_epochs"),
    "full": ("full_lr", "full_epochs"),
}


def planner_dir() -> Path:
    return config.artifacts_dir() / "planner"


def _settings(cfg: FinetuneConfig, names: tuple[str, ...], **extra: Any) -> dict[str, Any]:
    from workbench.synth.dataset import split_path
    from workbench.toolrag.classifier import data_fingerprint

    d = {k: getattr(cfg, k) for k in names}
    d["data"] = data_fingerprint([split_path("train"), split_path("val")])
    return {**d, **extra}


def _resolved(cfg: FinetuneConfig) -> FinetuneConfig:
    """`precision="auto"` made concrete, so that cached models name what they were trained in."""
    from workbench.finetune.train import resolve_precision

    return replace(cfg, precision=resolve_precision(cfg.precision))


def _fits(folder: Path, settings: dict[str, Any]) -> bool:
    meta = folder / "settings.json"
    return (
        (folder / "model" / "config.json").exists()
        and meta.exists()
        and json.loads(meta.read_text(encoding="utf-8")) == json.loads(json.dumps(settings))
    )


def _mark(folder: Path, settings: dict[str, Any]) -> None:
    """Written last: a folder certifies its model only once everything in it is complete."""
    config.write_json_atomic(folder / "settings.json", settings)


def _begin(folder: Path, settings: dict[str, Any]) -> None:
    """Uncertify the folder, and drop checkpoints left by an interrupted run with other settings."""
    (folder / "settings.json").unlink(missing_ok=True)
    ckpt = folder / "checkpoints"
    meta = ckpt / "settings.json"
    same = meta.exists() and json.loads(meta.read_text(encoding="utf-8")) == json.loads(json.dumps(settings))
    if not same:
        shutil.rmtree(ckpt, ignore_errors=True)
    config.write_json_atomic(meta, settings)


def _base_id(base_dir: Path) -> str:
    """What a fine-tuned model depends on: the offline base's own settings, or the given folder / hub id."""
    meta = base_dir.parent / "settings.json"
    if base_dir.parent == planner_dir() / "base" and meta.exists():
        import hashlib

        return "offline:" + hashlib.sha256(meta.read_bytes()).hexdigest()[:16]
    return str(base_dir)


# ------------------------------------------------------------------------------------------ base model


def build_base(cfg: FinetuneConfig) -> Path:
    """The base model folder: pre-trained here (offline) or the hub id / folder as given."""
    if cfg.base_model != "offline":
        return Path(cfg.base_model)
    from workbench.finetune import base
    from workbench.finetune.tokenizer import train_tokenizer
    from workbench.finetune.train import run_trainer
    from workbench.synth.dataset import load_split
    from workbench.tools.tinyagent import TOOL_NAMES

    folder = planner_dir() / "base"
    cfg = _resolved(cfg)
    settings = _settings(cfg, BASE_FIELDS, corpus=base.CORPUS_VERSION)
    if _fits(folder, settings):
        return folder / "model"
    _begin(folder, settings)
    records = load_split("train", limit=cfg.pretrain_records)
    docs = base.pretraining_corpus(records, seed=cfg.seed, calendar=cfg.calendar_docs, restate=cfg.restate)
    tokenizer = train_tokenizer(docs, vocab_size=cfg.vocab_size, whole_words=TOOL_NAMES)
    model = base.small_llama(tokenizer, cfg.hidden, cfg.layers, cfg.heads, cfg.intermediate, seed=cfg.seed)
    blocks = base.PackedBlocks(tokenizer, docs)
    result = run_trainer(
        model,
        tokenizer,
        [blocks[i] for i in range(len(blocks))],
        [],
        folder / "checkpoints",
        lr=cfg.pretrain_lr,
        epochs=cfg.pretrain_epochs,
        batch_size=32,
        eval_every=500,
        length_grouped=False,
        progress=cfg.progress,
        seed=cfg.seed,
        precision=cfg.precision,
    )
    base.save_model(result.pop("model"), tokenizer, folder / "model")
    shutil.copy(
        folder / "model" / "tokenizer.json", planner_dir() / "tokenizer.json"
    )  # ToolRAG counts with it
    report = {"parameters": base.count_parameters(model), "corpus_docs": len(docs), **result}
    config.write_json_atomic(folder / "pretraining.json", report)
    shutil.rmtree(folder / "checkpoints", ignore_errors=True)
    _mark(folder, settings)
    return folder / "model"


# ------------------------------------------------------------------------------------------ fine-tuning


def finetune_method(cfg: FinetuneConfig, method: str, base_dir: Path) -> dict[str, Any]:
    """Train one method (cached); returns its training report."""
    from workbench.finetune.base import load_model
    from workbench.finetune.prompts import build_examples
    from workbench.finetune.train import finetune, lora_settings
    from workbench.synth.dataset import load_split

    folder = planner_dir() / method
    cfg = _resolved(cfg)
    if method not in METHOD_FIELDS:
        raise ValueError(f"unknown fine-tuning method {method!r}; use one of {list(METHOD_FIELDS)}")
    settings = _settings(cfg, TUNE_FIELDS + METHOD_FIELDS[method], method=method, base=_base_id(base_dir))
    if _fits(folder, settings):
        return json.loads((folder / "training.json").read_text(encoding="utf-8"))
    _begin(folder, settings)
    train = load_split("train")
    if cfg.train_records and cfg.train_records < len(train):
        train = random.Random(cfg.seed).sample(train, cfg.train_records)
    val = load_split("val", limit=cfg.val_records)
    _, tokenizer = load_model(base_dir)
    retrieve = _training_examples(cfg) if cfg.train_examples else None
    rows = build_examples(
        tokenizer,
        train,
        cfg.prompt,
        cfg.seed,
        retrieve=retrieve,
        max_length=cfg.max_length,
        order=cfg.plan_order,
    )
    val_rows = build_examples(
        tokenizer,
        val,
        cfg.prompt,
        cfg.seed + 1,
        retrieve=retrieve,
        max_length=cfg.max_length,
        order=cfg.plan_order,
    )
    lr, epochs = (cfg.lora_lr, cfg.lora_epochs) if method == "lora" else (cfg.full_lr, cfg.full_epochs)
    report = finetune(
        base_dir,
        method,
        rows,
        val_rows,
        folder,
        lr=lr,
        epochs=epochs,
        batch_size=cfg.batch_size,
        eval_every=cfg.eval_every,
        seed=cfg.seed,
        progress=cfg.progress,
        precision=cfg.precision,
        lora=lora_settings(cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout),
    )
    report["dropped_too_long"] = len(train) - len(rows)
    config.write_json_atomic(folder / "training.json", report)
    config.write_json_atomic(folder / "model" / DECODING_FILE, decoding_settings(cfg))
    _mark(folder, settings)
    return report


def _training_examples(cfg: FinetuneConfig) -> Any:
    """In-context examples for training prompts: the nearest other train records whose tools fit (the paper's)."""
    from workbench.synth.dataset import load_split
    from workbench.toolrag.encoder import load_encoder
    from workbench.toolrag.examples import ExampleRetriever, format_examples

    retriever = ExampleRetriever(load_encoder("minilm"), load_split("train"))
    return lambda r: format_examples(retriever.retrieve(r["query"], r["tools"], k=cfg.train_examples))


# ------------------------------------------------------------------------------------------ evaluation


def example_source(k: int) -> Any:
    """Retrieved in-context examples (MiniLM over train queries) for prompting at evaluation time."""
    from workbench.synth.dataset import load_split
    from workbench.toolrag.encoder import load_encoder
    from workbench.toolrag.examples import ExampleRetriever, format_examples

    retriever = ExampleRetriever(load_encoder("minilm"), load_split("train", limit=5000))
    return lambda query, tools: format_examples(retriever.retrieve(query, tools, k=k))


def evaluate_variant(
    planner: Any, records: list[dict[str, Any]], tools: list[list[str]] | None
) -> dict[str, Any]:
    from workbench.finetune.evaluate import evaluate

    preds = planner.plan(
        [r["query"] for r in records], [r["today"] for r in records], tools=tools, progress=len(records) > 100
    )
    cut = {"cut": round(sum(p["cut"] for p in preds) / len(preds), 4)} if planner.constrained else {}
    return {**evaluate([p["plan"] for p in preds], [r["plan"] for r in records]), **cut, "preds": preds}


def run(cfg: FinetuneConfig | None = None) -> dict[str, Any]:
    """Train what is missing, evaluate every variant, save `planner.json` and the success-rate figure."""
    import torch

    from workbench.finetune.base import count_parameters, load_model
    from workbench.finetune.evaluate import success_by_steps
    from workbench.finetune.predict import Planner, toolrag_selector
    from workbench.finetune.prompts import PLAN_ORDERS
    from workbench.synth.dataset import load_split

    cfg = cfg or config.stage_config(FinetuneConfig, "finetune")
    unknown = [m for m in cfg.methods if m not in METHOD_FIELDS]
    if unknown:
        raise ValueError(f"unknown fine-tuning method(s) {unknown}; use lora and/or full")
    if cfg.plan_order not in PLAN_ORDERS:
        raise ValueError(f"unknown plan_order {cfg.plan_order!r}; use one of {PLAN_ORDERS}")
    torch.set_num_threads(cfg.threads)
    cfg = _resolved(cfg)
    t0 = time.perf_counter()
    base_dir = build_base(cfg)
    reports = {m: finetune_method(cfg, m, base_dir) for m in cfg.methods}
    splits = {
        "val": load_split("val", limit=cfg.eval_val),
        "test": load_split("test", limit=cfg.eval_test),
        "ood": load_split("ood", limit=cfg.eval_ood),
    }
    select = toolrag_selector("auto")
    selected = {s: select([r["query"] for r in recs]) for s, recs in splits.items()} if select else None
    models = {"base": base_dir, **{m: planner_dir() / m / "model" for m in cfg.methods}}
    rows, samples = [], {}
    for name, folder in models.items():
        model, tokenizer = load_model(folder)
        k = cfg.base_examples if name == "base" else cfg.train_examples
        examples = example_source(k) if k else None
        # decoding: free, constrained, and for trained models constrained + grounded (names copied from the query)
        decodings = [(False, False), (True, False), *([(True, True)] if name in reports else [])]
        for use_rag in [False, True] if selected else [False]:
            for constrained, grounded in decodings:
                planner = Planner(
                    model,
                    tokenizer,
                    kind=cfg.prompt,
                    constrained=constrained,
                    examples=examples,
                    max_new_tokens=cfg.max_new_tokens,
                    select=select if use_rag else None,
                    batch_size=cfg.eval_batch_size,
                    grounded=grounded,
                    grammar_limits=grammar_limits(cfg),
                )
                row = {
                    "variant": _variant(name, use_rag, constrained, grounded),
                    "model": name,
                    "toolrag": use_rag,
                    "constrained": constrained,
                    "grounded": grounded,
                    "prompt": cfg.prompt + (" + examples" if examples else ""),
                    "parameters": count_parameters(model),
                }
                for split, recs in splits.items():
                    res = evaluate_variant(planner, recs, selected[split] if use_rag else None)
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
                elif (
                    planner_dir() / "base" / "pretraining.json"
                ).exists():  # the offline base's pre-training
                    pre = json.loads(
                        (planner_dir() / "base" / "pretraining.json").read_text(encoding="utf-8")
                    )
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
    results = summarize(cfg, rows, reports, base_dir, time.perf_counter() - t0)
    results["best_success_by_steps"] = {
        split: success_by_steps(
            [p["plan"] for p in samples[(results["best_variant"], split)]], [r["plan"] for r in splits[split]]
        )
        for split in ("test", "ood")
    }
    _save_predictions(samples)
    config.save_results("planner", results)
    from workbench.viz.planner import fig_success_rate

    fig_success_rate(results)
    return results


DECODING_FILE = "workbench_decoding.json"  # inside a model folder: how it was trained to be prompted


def decoding_settings(cfg: FinetuneConfig) -> dict[str, Any]:
    return {
        "prompt": cfg.prompt,
        "plan_order": cfg.plan_order,
        "examples": cfg.train_examples,
        "max_new_tokens": cfg.max_new_tokens,
        "grammar_limits": grammar_limits(cfg),
    }


def grammar_limits(cfg: FinetuneConfig) -> dict[str, int]:
    return {
        "max_steps": cfg.grammar_max_steps,
        "max_str_len": cfg.grammar_max_str_len,
        "max_list_len": cfg.grammar_max_list_len,
    }


def _variant(model: str, rag: bool, constrained: bool, grounded: bool = False) -> str:
    return (
        model
        + (" + ToolRAG" if rag else "")
        + (" + grounded" if grounded else " + constrained" if constrained else "")
    )


def summarize(
    cfg: FinetuneConfig, rows: list[dict[str, Any]], reports: dict[str, Any], base_dir: Path, wall: float
) -> dict[str, Any]:
    trained = [r for r in rows if r["model"] != "base"] or rows
    best = max(trained, key=lambda r: (r["success_val"], -r["parse_failure_val"]))  # chosen on val, not test
    constrained = [r for r in rows if r["constrained"] and r["model"] == best["model"]]
    pretrain = planner_dir() / "base" / "pretraining.json"
    best_info = {
        "model_dir": str((planner_dir() / best["model"] / "model").relative_to(config.artifacts_dir())),
        "toolrag": best["toolrag"],
        "constrained": best["constrained"],
        "grounded": best.get("grounded", False),
        "prompt": cfg.prompt,
        "max_new_tokens": cfg.max_new_tokens,
        "grammar_limits": grammar_limits(cfg),
    }
    config.write_json_atomic(planner_dir() / "best.json", best_info)
    return {
        "profile": config.active_profile(),
        "best_variant": best["variant"],
        "best_success_test": best["success_test"],
        "best_success_ood": best["success_ood"],
        "constrained_parse_failure_rate": max(r["parse_failure_test"] for r in constrained)
        if constrained
        else None,
        "train_wall_s": reports[best["model"]]["wall_s"] if best["model"] in reports else 0.0,
        "pretrain_wall_s": json.loads(pretrain.read_text())["wall_s"] if pretrain.exists() else None,
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


def _save_predictions(samples: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    out = planner_dir() / "predictions"
    out.mkdir(parents=True, exist_ok=True)
    for (variant, split), preds in samples.items():
        name = variant.replace(" + ", "_").replace(" ", "_").lower()
        lines = "".join(
            json.dumps({"query": p["query"], "plan": p["plan"]}, ensure_ascii=False) + "\n" for p in preds
        )
        tmp = out / f"{name}.{split}.jsonl.tmp"
        tmp.write_text(lines, encoding="utf-8")
        tmp.replace(out / f"{name}.{split}.jsonl")
