"""Training loops on the Hugging Face Trainer: pre-training the offline base, LoRA (peft) and full fine-tuning.

`build_base` and `finetune_method` train the planner's models into a folder given by the caller (the stage
passes `<artifacts>/planner`), each cached there and skipped when its saved settings match.

The Trainer is used for all three so that `accelerate launch` takes the same code to several GPUs, checkpoints
are resumable (a rerun continues from the last checkpoint in the output folder), and the best checkpoint on
val (lowest val loss) is the one kept, as in TinyAgent (Sec. 5: 3 epochs, learning rate 7e-5, best on val).

    >>> lora_settings(8, 16, 0.0)["target_modules"][:2]
    ['q_proj', 'k_proj']
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from workbench.files import write_json_atomic
from workbench.finetune import base, distributed
from workbench.finetune.bundled import SUMS, bundled_planner
from workbench.finetune.prompts import PadCollator, build_examples, training_example
from workbench.finetune.settings import (
    BASE_FIELDS,
    DECODING_FILE,
    METHOD_FIELDS,
    TUNE_FIELDS,
    FinetuneConfig,
    decoding_settings,
)
from workbench.finetune.tokenizer import train_tokenizer
from workbench.jsonl import read_records
from workbench.synth.dataset import load_split, split_path
from workbench.synth.released import JOINER_FILE
from workbench.toolrag.classifier import data_fingerprint
from workbench.toolrag.encoder import load_encoder
from workbench.toolrag.examples import ExampleRetriever, format_examples
from workbench.tools.tinyagent import TOOL_NAMES

LLAMA_LINEAR = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def lora_settings(
    r: int, alpha: int, dropout: float, targets: Sequence[str] = LLAMA_LINEAR
) -> dict[str, Any]:
    return {
        "r": r,
        "lora_alpha": alpha,
        "lora_dropout": dropout,
        "target_modules": list(targets),
        "task_type": "CAUSAL_LM",
        "bias": "none",
    }


class ListDataset:
    """A list of tokenized examples as a torch-style dataset."""

    def __init__(self, rows: Sequence[dict[str, Any]]):
        self.rows = list(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows[i]


def _args(
    out: Path,
    *,
    lr: float,
    epochs: float,
    batch_size: int,
    eval_every: int,
    seed: int,
    warmup: float,
    length_grouped: bool,
    has_eval: bool,
    progress: bool,
    steps: int,
    bf16: bool,
) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(out),
        learning_rate=lr,
        num_train_epochs=epochs,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, int(warmup * steps)),
        weight_decay=0.0,
        logging_steps=max(1, min(eval_every, 25, steps // 10)),
        eval_strategy="steps" if has_eval else "no",
        eval_steps=eval_every,
        save_strategy="steps",
        save_steps=eval_every,
        save_total_limit=2,
        load_best_model_at_end=has_eval,
        metric_for_best_model="eval_loss" if has_eval else None,
        greater_is_better=False,
        report_to="none",
        seed=seed,
        data_seed=seed,
        disable_tqdm=not progress,
        train_sampling_strategy="group_by_length" if length_grouped else "random",
        dataloader_pin_memory=False,
        remove_unused_columns=False,
        use_cpu=_cpu_only(),
        ddp_find_unused_parameters=False,  # every trainable weight is used (LoRA's frozen ones need no gradient)
        bf16=bf16,
    )


def resolve_precision(precision: str) -> str:
    """ "auto" is bf16 where the hardware computes in it (a bf16 CUDA GPU, a CPU with AVX512-BF16 or AMX), else fp32.

    bf16 here is autocast: master weights and optimizer state stay float32, matmuls run in bfloat16. On this
    machine's 2-core AMD EPYC (avx512_bf16) it trains the 1M-parameter planner ~1.5x faster than fp32.
    """
    if precision not in ("auto", "bf16", "fp32"):
        raise ValueError(f"unknown precision {precision!r}; use auto, bf16 or fp32")
    if precision != "auto":
        return precision
    import torch

    if torch.cuda.is_available():
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if torch.backends.mps.is_available():
        return "fp32"
    return "bf16" if _cpu_flags() & {"avx512_bf16", "amx_bf16"} else "fp32"


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:  # not Linux: stay in float32
        return set()
    return {
        f for line in text.splitlines() if line.startswith("flags") for f in line.split(":", 1)[1].split()
    }


def cpu_description() -> str:
    """The CPU that a training time was measured on: model name, cores, and whether it computes in bf16."""
    import os
    import platform

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    flags = _cpu_flags()
    bf16 = "with" if flags & {"avx512_bf16", "amx_bf16"} else "without"
    simd = "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "no avx2"
    return f"{name}, {os.cpu_count()} cores, {simd}, {bf16} avx512_bf16/amx"


def _cpu_only() -> bool:
    import torch

    return not (torch.cuda.is_available() or torch.backends.mps.is_available())


def run_trainer(
    model: Any,
    tokenizer: Any,
    train: Sequence[dict],
    val: Sequence[dict],
    out: Path,
    *,
    lr: float,
    epochs: float,
    batch_size: int,
    eval_every: int,
    seed: int = 0,
    warmup: float = 0.03,
    length_grouped: bool = True,
    progress: bool = True,
    collator: Any = None,
    callbacks: list | None = None,
    precision: str = "fp32",
) -> dict[str, Any]:
    """Train (resuming from the last checkpoint under `out` if any); returns wall time, tokens and the log.

    `precision` is "fp32", "bf16" (autocast) or "auto" (`resolve_precision`).
    """
    from transformers import Trainer

    steps = math.ceil(len(train) / (batch_size * distributed.processes())) * epochs  # each process a shard
    args = _args(
        out,
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        eval_every=eval_every,
        seed=seed,
        warmup=warmup,
        length_grouped=length_grouped,
        has_eval=bool(val),
        progress=progress,
        steps=int(steps),
        bf16=resolve_precision(precision) == "bf16",
    )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=ListDataset(train),
        eval_dataset=ListDataset(val) if val else None,
        data_collator=collator or PadCollator(tokenizer.pad_token_id),
        callbacks=callbacks,
    )
    last = last_complete_checkpoint(out)
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=last)
    wall = time.perf_counter() - start
    tokens = sum(len(x["input_ids"]) for x in train) * epochs
    log = trainer.state.log_history
    best = trainer.state.best_metric
    return {
        "wall_s": round(wall, 1),
        "precision": "bf16" if args.bf16 else "fp32",
        "processes": distributed.processes(),
        "train_tokens": int(tokens),
        "tokens_per_s": round(tokens / max(wall, 1e-9)),
        "resumed_from": Path(last).name if last else None,
        "best_val_loss": best,
        "log": log,
        "steps": trainer.state.global_step,
        "model": trainer.model,
    }


def last_complete_checkpoint(out: Path) -> str | None:
    """The newest `checkpoint-N` under `out` that a kill did not cut short; broken newer ones are removed.

    The Trainer writes `trainer_state.json` last, so a checkpoint whose state file is missing or torn was
    interrupted mid-save; `transformers`' own `get_last_checkpoint` would pick it and every rerun would fail.
    """
    if not out.exists():
        return None
    found = [
        (int(m.group(1)), p) for p in out.iterdir() if p.is_dir() and (m := _CHECKPOINT.fullmatch(p.name))
    ]
    for _, folder in sorted(found, reverse=True):
        try:
            json.loads((folder / "trainer_state.json").read_text(encoding="utf-8"))
            return str(folder)
        except (OSError, ValueError):
            print(f"removing {folder}: an interrupted save (no complete trainer_state.json)")
            shutil.rmtree(folder, ignore_errors=True)
    return None


_CHECKPOINT = re.compile(r"checkpoint-(\d+)")


def finetune(
    base_dir: Path,
    method: str,
    train: Sequence[dict],
    val: Sequence[dict],
    out: Path,
    *,
    lr: float,
    epochs: float,
    batch_size: int,
    eval_every: int,
    seed: int = 0,
    lora: dict[str, Any] | None = None,
    progress: bool = True,
    precision: str = "fp32",
) -> dict[str, Any]:
    """LoRA (adapter saved, then merged into a plain model) or full fine-tuning of the model at `base_dir`.

    Writes `out/model` (a complete HF folder, merged for LoRA), `out/adapter` for LoRA, and
    `out/training.json` (wall time, tokens, parameters, the Trainer's log).
    """
    if method not in ("lora", "full"):
        raise ValueError(f"unknown fine-tuning method {method!r}; use 'lora' or 'full'")
    model, tokenizer = base.load_model(base_dir)
    total = base.count_parameters(model)
    if method == "lora":
        from peft import LoraConfig, get_peft_model

        model = get_peft_model(model, LoraConfig(**(lora or lora_settings(16, 32, 0.0))))
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result = run_trainer(
        model,
        tokenizer,
        train,
        val,
        out / "checkpoints",
        lr=lr,
        epochs=epochs,
        batch_size=batch_size,
        eval_every=eval_every,
        seed=seed,
        progress=progress,
        precision=precision,
    )
    model = result.pop("model")
    report = {
        "method": method,
        "parameters": total,
        "trainable_parameters": trainable,
        "train_examples": len(train),
        **result,
    }
    if distributed.is_main():  # one process writes; the others wait until the folder is complete
        if method == "lora":
            adapter = out / "adapter"
            shutil.rmtree(adapter, ignore_errors=True)
            model.save_pretrained(adapter)
            model = model.merge_and_unload()
        base.save_model(model, tokenizer, out / "model")
        (out / "training.json").write_text(json.dumps(report, indent=1, default=str), encoding="utf-8")
        shutil.rmtree(
            out / "checkpoints", ignore_errors=True
        )  # the best model is saved; they were for resuming
    distributed.wait_for_everyone()
    return report


# ------------------------------------------------------------------------- the planner's models, cached


def resolved(cfg: FinetuneConfig) -> FinetuneConfig:
    """`precision="auto"` made concrete, so that cached models name what they were trained in."""
    return replace(cfg, precision=resolve_precision(cfg.precision))


def settings_of(cfg: FinetuneConfig, names: tuple[str, ...], dataset: Path, **extra: Any) -> dict[str, Any]:
    """What a cached model depends on: the named settings and a hash of the train and val files."""
    d = {k: getattr(cfg, k) for k in names}
    d["data"] = data_fingerprint([split_path("train", dataset), split_path("val", dataset)])
    return {**d, **extra}


def fits(folder: Path, settings: dict[str, Any]) -> bool:
    meta = folder / "settings.json"
    return (
        (folder / "model" / "config.json").exists()
        and meta.exists()
        and json.loads(meta.read_text(encoding="utf-8")) == json.loads(json.dumps(settings))
    )


def mark(folder: Path, settings: dict[str, Any]) -> None:
    """Written last: a folder certifies its model only once everything in it is complete."""
    write_json_atomic(folder / "settings.json", settings)


def begin(folder: Path, settings: dict[str, Any]) -> None:
    """Uncertify the folder, and drop checkpoints left by an interrupted run with other settings."""
    (folder / "settings.json").unlink(missing_ok=True)
    ckpt = folder / "checkpoints"
    meta = ckpt / "settings.json"
    same = meta.exists() and json.loads(meta.read_text(encoding="utf-8")) == json.loads(json.dumps(settings))
    if not same:
        shutil.rmtree(ckpt, ignore_errors=True)
    write_json_atomic(meta, settings)


def base_id(base_dir: Path, planner: Path) -> str:
    """What a fine-tuned model depends on: the offline base's own settings, or the given folder / hub id."""
    meta = base_dir.parent / "settings.json"
    if base_dir.parent == planner / "base" and meta.exists():
        return "offline:" + hashlib.sha256(meta.read_bytes()).hexdigest()[:16]
    if (base_dir / SUMS).exists():  # the bundled planner: by content, wherever the clone is
        return "bundled:" + hashlib.sha256((base_dir / SUMS).read_bytes()).hexdigest()[:16]
    return str(base_dir)


def build_base(cfg: FinetuneConfig, planner: Path, dataset: Path) -> Path:
    """The base model folder: pre-trained into `planner/base` (offline) or the hub id / folder as given.

    The offline base's tokenizer is also copied to `planner/tokenizer.json` (ToolRAG counts prompt tokens with it).
    """
    if cfg.base_model == "bundled":  # the planner in the repository (`finetune.bundled`)
        folder = bundled_planner()
        with distributed.main_first():
            if distributed.is_main():
                planner.mkdir(parents=True, exist_ok=True)
                shutil.copy(folder / "tokenizer.json", planner / "tokenizer.json")
        return folder
    if cfg.base_model != "offline":
        return Path(cfg.base_model)
    folder = planner / "base"
    cfg = resolved(cfg)
    settings = settings_of(cfg, BASE_FIELDS, dataset, corpus=base.CORPUS_VERSION)
    if fits(folder, settings):
        return folder / "model"
    with distributed.main_first():
        if distributed.is_main():
            begin(folder, settings)
    records = load_split("train", limit=cfg.pretrain_records, folder=dataset)
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
    if distributed.is_main():
        base.save_model(result.pop("model"), tokenizer, folder / "model")
        shutil.copy(folder / "model" / "tokenizer.json", planner / "tokenizer.json")
        report = {"parameters": base.count_parameters(model), "corpus_docs": len(docs), **result}
        write_json_atomic(folder / "pretraining.json", report)
        shutil.rmtree(folder / "checkpoints", ignore_errors=True)
        mark(folder, settings)
    distributed.wait_for_everyone()
    return folder / "model"


def finetune_method(
    cfg: FinetuneConfig,
    method: str,
    base_dir: Path,
    planner: Path,
    dataset: Path,
    cache: Path | None = None,
) -> dict[str, Any]:
    """Train one method into `planner/<method>` (cached); returns its training report.

    `cache` is where retrieved training examples' embeddings are kept (`cached_embeddings`).
    """
    folder = planner / method
    cfg = resolved(cfg)
    if method not in METHOD_FIELDS:
        raise ValueError(f"unknown fine-tuning method {method!r}; use one of {list(METHOD_FIELDS)}")
    settings = settings_of(
        cfg, TUNE_FIELDS + METHOD_FIELDS[method], dataset, method=method, base=base_id(base_dir, planner)
    )
    if fits(folder, settings):
        return json.loads((folder / "training.json").read_text(encoding="utf-8"))
    with distributed.main_first():
        if distributed.is_main():
            begin(folder, settings)
    train = load_split("train", folder=dataset)
    if cfg.train_records and cfg.train_records < len(train):
        train = random.Random(cfg.seed).sample(train, cfg.train_records)
    val = load_split("val", limit=cfg.val_records, folder=dataset)
    _, tokenizer = base.load_model(base_dir)
    with (
        distributed.main_first()
    ):  # the main process computes and caches the embeddings, the others read them
        retrieve = _training_examples(cfg, dataset, cache) if cfg.train_examples else None
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
    joins = joiner_rows(tokenizer, dataset, cfg.max_length) if cfg.train_joiner else {"train": [], "val": []}
    rows, val_rows = rows + joins["train"], val_rows + joins["val"]
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
    report["dropped_too_long"] = len(train) - (len(rows) - len(joins["train"]))
    report["joiner_examples"] = len(joins["train"])
    if distributed.is_main():
        write_json_atomic(folder / "training.json", report)
        write_json_atomic(folder / "model" / DECODING_FILE, decoding_settings(cfg))
        mark(folder, settings)
    distributed.wait_for_everyone()
    return report


def joiner_rows(tokenizer: Any, dataset: Path, max_length: int) -> dict[str, list[dict[str, list[int]]]]:
    """Training rows from the dataset's joiner examples (`synth.released.JOINER_FILE`: TinyAgent's join points),
    by split: the prompt as one user turn, the loss on the reply. The paper's model is trained to join with these
    prompts (TinyAgent's joiner prompt); an agent that joins with this model should prompt it the same way."""
    path = dataset / JOINER_FILE
    out: dict[str, list[dict[str, list[int]]]] = {"train": [], "val": []}
    if not path.exists():
        return out
    for row in read_records(path, required=("prompt", "reply", "split")):
        if row["split"] in out:
            ex = training_example(tokenizer, [{"role": "user", "content": row["prompt"]}], row["reply"])
            if len(ex["input_ids"]) <= max_length:
                out[row["split"]].append(ex)
    return out


def _training_examples(
    cfg: FinetuneConfig, dataset: Path, cache: Path | None
) -> Callable[[dict[str, Any]], str]:
    """In-context examples for training prompts: the nearest other train records whose tools fit (the paper's)."""
    retriever = ExampleRetriever(load_encoder("minilm"), load_split("train", folder=dataset), cache=cache)
    return lambda r: format_examples(retriever.retrieve(r["query"], r["tools"], k=cfg.train_examples))
