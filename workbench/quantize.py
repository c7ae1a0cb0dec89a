"""4-bit quantization of the planner in MLX, quantization-aware LoRA (QLoRA), and the paper's Table 2 (TinyAgent Sec. 6).

The quantization stage (`workbench.stages.quantize.run(cfg)`) takes the best planner `workbench finetune` trained
and makes three MLX models of it, with the functions here, in a folder it passes (`<artifacts>/mlx`):

- **float16**: the planner converted to MLX, the full-precision reference;
- **4-bit**: post-training affine quantization, `bits` with `group_size` (TinyAgent: 4 bits, group 32;
  mlx-lm's default group is 64);
- **4-bit + QLoRA**: a LoRA adapter trained with mlx-lm on top of the 4-bit model, which the paper credits with
  a slight accuracy gain after quantization (kept as an adapter beside the 4-bit model, as `mlx_lm.load` and
  `mlx_lm.server --adapter-path` use it).

It also runs mlx-lm LoRA on the base model (`mlx_lora_iters`; a handful on Linux, a real run on a Mac) and
reports its loss curve. For each model it measures size on disk, bits per weight, peak memory, the median
latency of planning one query alone (prompt processing plus generation, in MLX) and tokens per second, and
success on test and ood. Success is computed with `success_backend`:

- "torch": the model's own weights, exactly dequantized to float32, decoded in batches by `finetune.Planner`.
  This is the same function the MLX model computes, up to float rounding; `mlx_agreement` says on how many of
  the timed queries the MLX kernels wrote the very same plan. It exists because the Linux CPU build of mlx
  runs a 4-bit matmul tens of times slower than a float one.
- "mlx": every query through mlx-lm, one at a time (the right choice on Apple silicon).

The stage writes the results to `data/results/quantization.json` and `figures/table2_quantization.{md,csv}`,
beside the paper's reported rows.
"""

from __future__ import annotations

import hashlib
import json
import platform
import random
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from workbench.aio import run_sync
from workbench.compiler.prompts import planner_chat
from workbench.files import write_json_atomic
from workbench.finetune import mlx
from workbench.finetune.base import load_model
from workbench.finetune.evaluate import evaluate_variant
from workbench.finetune.prompts import build_examples
from workbench.finetune.train import finetune, lora_settings
from workbench.planner import (
    MLXPlanner,
    Planner,
    best_planner,
    saved_decoding,
    saved_plan_order,
    saved_settings,
)
from workbench.serve import MLXServer
from workbench.synth.dataset import load_split
from workbench.toolrag.selection import Selector, call_counter
from workbench.tools.tinyagent import TOOL_NAMES


@dataclass
class QuantizeConfig:
    source: str = field(
        default="best",
        metadata={
            "help": "the planner to quantize: 'best' (what `workbench finetune` chose) or a Hugging Face model folder"
        },
    )
    bits: int = field(default=4, metadata={"help": "quantization bits"})
    group_size: int = field(
        default=32, metadata={"help": "weights sharing one scale and bias (TinyAgent: 32)"}
    )
    dtype: str = field(default="float16", metadata={"help": "float weights, scales and biases"})
    qlora_backend: str = field(
        default="torch",
        metadata={
            "help": "QLoRA trainer: torch (peft LoRA on the exactly dequantized 4-bit weights, then converted to an "
            "mlx-lm adapter) or mlx (mlx-lm LoRA on the 4-bit model; the Apple-silicon path)"
        },
    )
    qlora_iters: int = field(default=100, metadata={"help": "QLoRA (mlx backend): iterations"})
    qlora_epochs: float = field(
        default=1.0, metadata={"help": "QLoRA (torch backend): passes over train_records"}
    )
    qlora_batch_size: int = field(default=8, metadata={"help": "QLoRA: pairs per iteration"})
    qlora_lr: float = field(default=2e-4, metadata={"help": "QLoRA: learning rate"})
    qlora_rank: int = field(default=8, metadata={"help": "QLoRA: adapter rank (all linear layers)"})
    qlora_scale: float = field(default=2.0, metadata={"help": "QLoRA: adapter scale (alpha / rank)"})
    train_records: int = field(default=4000, metadata={"help": "training pairs exported for mlx-lm"})
    val_records: int = field(default=64, metadata={"help": "val pairs exported for mlx-lm"})
    base: str = field(
        default="finetune",
        metadata={
            "help": "base model for mlx-lm LoRA: 'finetune' (the one `workbench finetune` started from) or a folder"
        },
    )
    mlx_lora_iters: int = field(
        default=200,
        metadata={
            "help": "mlx-lm LoRA on the base model (0: skip); a handful on Linux, where mlx runs on a reference BLAS"
        },
    )
    mlx_lora_lr: float = field(default=1e-3, metadata={"help": "mlx-lm LoRA on the base: learning rate"})
    mlx_lora_rank: int = field(default=16, metadata={"help": "mlx-lm LoRA on the base: rank"})
    eval_test: int | None = field(default=300, metadata={"help": "test records scored (None: all)"})
    eval_ood: int | None = field(default=300, metadata={"help": "ood records scored (None: all)"})
    success_backend: str = field(
        default="torch",
        metadata={
            "help": "torch (exactly dequantized weights, batched) or mlx (mlx kernels, one query at a time)"
        },
    )
    latency_n: int = field(
        default=20, metadata={"help": "test queries planned one at a time in MLX and timed"}
    )
    served_n: int = field(
        default=3, metadata={"help": "test queries planned through mlx_lm.server (0: skip)"}
    )
    eval_batch_size: int = field(default=64, metadata={"help": "queries decoded together (torch backend)"})
    seed: int = field(default=0, metadata={"help": "sampling and shuffling seed"})
    constrained: bool | None = field(
        default=None,
        metadata={
            "help": "decode under the plan grammar (None: as the best variant; a folder source: unconstrained)"
        },
    )
    grounded: bool | None = field(
        default=None,
        metadata={"help": "grounded decoding, with constrained (None: as the best variant; a folder: no)"},
    )
    exact_counts: bool | None = field(
        default=None,
        metadata={
            "help": "with constrained, each selected tool called exactly as often as ToolRAG's count head reads "
            "(None: as the best variant; a folder: no)"
        },
    )
    learned: str = field(
        default="gptq,awq,dwq",
        metadata={
            "help": "mlx-lm's learned 4-bit methods (mlx_lm.quant) measured beside round-to-nearest, "
            "comma-separated (gptq, awq, dwq; '' for none)"
        },
    )
    calib_samples: int = field(
        default=128, metadata={"help": "learned quantization: training chats it calibrates (or distils) on"}
    )
    dwq_lr: float = field(default=1e-4, metadata={"help": "DWQ: learning rate of the scales and biases"})
    gguf: bool = field(
        default=True,
        metadata={
            "help": "GGUF rows on llama.cpp (F16, Q4_0, Q4_K_M); skipped, with a note, where the .[gguf] extra "
            "is not installed"
        },
    )
    gguf_eval_test: int | None = field(
        default=None,
        metadata={
            "help": "GGUF: test records scored on llama.cpp (None: all; its kernels plan ~10 queries/s here)"
        },
    )
    gguf_eval_ood: int | None = field(default=None, metadata={"help": "GGUF: ood records scored (None: all)"})
    gguf_latency_n: int = field(
        default=50, metadata={"help": "GGUF: test queries planned one at a time on llama.cpp and timed"}
    )
    gguf_threads: int | None = field(
        default=None, metadata={"help": "GGUF: llama.cpp CPU threads (None: its default)"}
    )
    gguf_qlora: bool = field(
        default=True,
        metadata={
            "help": "GGUF: also QLoRA on Q4_0 (LoRA trained on its dequantized weights with the qlora_* "
            "settings, run by llama.cpp as a LoRA file on the 4-bit model)"
        },
    )


def source_planner(cfg: QuantizeConfig, artifacts: Path) -> tuple[Path, dict[str, Any]]:
    """The planner folder to quantize and its decoding mode (ToolRAG, constrained, grounded); "best" is the
    best planner `workbench finetune` trained under `artifacts`."""
    if cfg.source == "best":
        folder, info = best_planner(artifacts)
    else:
        folder = Path(cfg.source)
        info = {"toolrag": False, "constrained": False, "grounded": False, "exact_counts": False}
        if not (folder / "config.json").exists():
            raise FileNotFoundError(
                f"{folder} is not a model folder: give one, or source='best' after `workbench finetune`"
            )
    if cfg.constrained is not None:
        info = {**info, "constrained": cfg.constrained}
    if cfg.grounded is not None:
        info = {**info, "grounded": cfg.grounded and info.get("constrained", False)}
    if cfg.exact_counts is not None:
        info = {**info, "exact_counts": cfg.exact_counts and info.get("constrained", False)}
    return folder, info


def row_decoding(info: dict[str, Any], select: Selector | None) -> dict[str, bool]:
    """The decoding mode every row of Table 2 plans with: the source's (`source_planner`), exact counts only
    where `select` is a ToolRAG classifier with a count head (as `Planner.best` does)."""
    constrained = bool(info.get("constrained", False))
    exact = bool(info.get("exact_counts", False)) and constrained and call_counter(select) is not None
    return {
        "constrained": constrained,
        "grounded": bool(info.get("grounded", False)) and constrained,
        "exact_counts": exact,
    }


def _fingerprint(folder: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.glob("*.safetensors")) + [folder / "config.json"]:
        if p.exists() or p.name != "config.json":  # an adapter folder has weights but no config.json
            h.update(p.read_bytes())
    return h.hexdigest()[:16]


def _cached(folder: Path, stamp: dict[str, Any]) -> bool:
    meta = folder / "workbench_stamp.json"
    return meta.exists() and json.loads(meta.read_text(encoding="utf-8")) == json.loads(json.dumps(stamp))


def _stamp(folder: Path, stamp: dict[str, Any]) -> None:
    write_json_atomic(folder / "workbench_stamp.json", stamp)


# ----------------------------------------------------------------------------------------- building


def build_models(
    cfg: QuantizeConfig, out: Path, dataset: Path, artifacts: Path, base: Path | None = None
) -> dict[str, Any]:
    """Convert, quantize and train into `out` (each step cached by its inputs), on the splits in `dataset`;
    with `base`, also mlx-lm LoRA on that base model (`cfg.mlx_lora_iters`). Returns the folders and the
    training reports. `artifacts` is where `source_planner` finds the best planner."""
    src, info = source_planner(cfg, artifacts)
    src_id = _fingerprint(src)
    fp = out / cfg.dtype
    q = out / f"q{cfg.bits}g{cfg.group_size}"
    for folder, bits in ((fp, None), (q, cfg.bits)):
        stamp = {"source": src_id, "dtype": cfg.dtype, "bits": bits, "group_size": cfg.group_size}
        if not _cached(folder, stamp):
            mlx.to_mlx(src, folder, dtype=cfg.dtype, bits=bits, group_size=cfg.group_size)
            _stamp(folder, stamp)
    data = out / "data"
    data_stamp = {
        "train": cfg.train_records,
        "val": cfg.val_records,
        "seed": cfg.seed,
        "prompt": saved_decoding(src).get("kind", "compact"),
        "plan_order": saved_plan_order(src),
    }
    if not _cached(data, data_stamp):
        train = load_split("train", folder=dataset)
        train = random.Random(cfg.seed).sample(train, min(cfg.train_records, len(train)))
        mlx.export_chat_data(
            data,
            train,
            load_split("val", limit=cfg.val_records, folder=dataset),
            kind=data_stamp["prompt"],
            seed=cfg.seed,
            order=data_stamp["plan_order"],
        )
        _stamp(data, data_stamp)
    reports: dict[str, Any] = {}
    adapter = out / "qlora_adapter"
    stamp = {
        "model": _fingerprint(q),
        "data": data_stamp,
        "backend": cfg.qlora_backend,
        "lr": cfg.qlora_lr,
        "rank": cfg.qlora_rank,
        "scale": cfg.qlora_scale,
        "batch": cfg.qlora_batch_size,
        "iters": cfg.qlora_iters if cfg.qlora_backend == "mlx" else cfg.qlora_epochs,
    }
    if not _cached(adapter, stamp):
        if cfg.qlora_backend == "mlx":
            report = mlx.lora(
                q,
                data,
                adapter,
                iters=cfg.qlora_iters,
                batch_size=cfg.qlora_batch_size,
                lr=cfg.qlora_lr,
                rank=cfg.qlora_rank,
                scale=cfg.qlora_scale,
                seed=cfg.seed,
                steps_per_eval=max(cfg.qlora_iters // 2, 1),
            )
        elif cfg.qlora_backend == "torch":
            report = qlora_torch(cfg, q, adapter, out, dataset)
        else:
            raise ValueError(f"qlora_backend {cfg.qlora_backend!r}: use 'torch' or 'mlx'")
        write_json_atomic(adapter / "training.json", {**report, "backend": cfg.qlora_backend})
        _stamp(adapter, stamp)
    reports["qlora"] = json.loads((adapter / "training.json").read_text(encoding="utf-8"))
    if cfg.mlx_lora_iters and base is not None:
        reports["mlx_lora"] = mlx_lora_on_base(cfg, base, data, data_stamp, out)
    learned = {}
    for method in learned_methods(cfg):
        folder = out / f"{q.name}-{method}"
        stamp = {
            "model": _fingerprint(fp),
            "data": data_stamp,
            "method": method,
            "bits": cfg.bits,
            "group_size": cfg.group_size,
            "samples": cfg.calib_samples,
            "lr": cfg.dwq_lr if method == "dwq" else None,
        }
        if not _cached(folder, stamp):
            start = time.perf_counter()
            mlx.learned_quantize(
                fp,
                folder,
                method,
                data,
                bits=cfg.bits,
                group_size=cfg.group_size,
                samples=cfg.calib_samples,
                dwq_lr=cfg.dwq_lr,
                seed=cfg.seed,
            )
            write_json_atomic(
                folder / "training.json", {"method": method, "wall_s": time.perf_counter() - start}
            )
            _stamp(folder, stamp)
        learned[method] = folder
        reports[f"4bit_{method}"] = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    return {
        "source": src,
        "info": info,
        "float": fp,
        "quantized": q,
        "adapter": adapter,
        "learned": learned,
        "reports": reports,
    }


def learned_methods(cfg: QuantizeConfig) -> list[str]:
    """`cfg.learned` as a list, each checked against `mlx.LEARNED_METHODS`."""
    methods = [m.strip() for m in cfg.learned.split(",") if m.strip()]
    unknown = [m for m in methods if m not in mlx.LEARNED_METHODS]
    if unknown:
        raise ValueError(
            f"learned={cfg.learned!r}: unknown {unknown}; choose from {', '.join(mlx.LEARNED_METHODS)}"
        )
    return methods


def row_folder(kind: str, built: dict[str, Any]) -> Path:
    """The MLX folder of a Table 2 row: float16, 4bit (round-to-nearest), qlora (4bit + adapter), 4bit-<method>."""
    if kind == "float16":
        return built["float"]
    if kind.startswith("4bit-"):
        return built["learned"][kind.removeprefix("4bit-")]
    return built["quantized"]


def qlora_torch(
    cfg: QuantizeConfig, quantized: Path, adapter: Path, out: Path, dataset: Path
) -> dict[str, Any]:
    """QLoRA with the transformers path: peft LoRA on a float32 copy of the 4-bit weights (frozen), then the
    adapter converted for mlx-lm. The forward pass is QLoRA's, dequant(W) x + scale B A x; only the arithmetic
    of the frozen matmul differs (float32 here, 4-bit kernels in MLX). Works in `out/qlora_torch`."""
    work = out / "qlora_torch"
    frozen = mlx.dequantize(quantized, work / "frozen_4bit")
    report = lora_on_frozen(cfg, frozen, work, dataset)
    mlx.peft_to_mlx_adapter(work / "adapter", adapter)
    return report


def lora_on_frozen(cfg: QuantizeConfig, frozen: Path, work: Path, dataset: Path) -> dict[str, Any]:
    """peft LoRA (`cfg.qlora_*`) on `frozen`, a float32 folder holding a 4-bit model's dequantized weights,
    on `cfg.train_records` training pairs in the prompt and plan order the model was trained with; the
    adapter goes to `work/adapter`. Returns the training report. Shared by the MLX and the GGUF QLoRA rows."""
    _, tokenizer = load_model(frozen)
    kind, order = saved_decoding(frozen).get("kind", "compact"), saved_plan_order(frozen)
    train = load_split("train", folder=dataset)
    train = random.Random(cfg.seed).sample(train, min(cfg.train_records, len(train)))
    max_length = saved_settings(frozen).get(
        "max_length", 1024
    )  # the paper's full prompt runs to 4,096 tokens
    rows = build_examples(tokenizer, train, kind, cfg.seed, order=order, max_length=max_length)
    if not rows:
        raise ValueError(
            f"every one of {len(train)} training pairs is longer than {max_length} tokens with the {kind!r} prompt: "
            "fine-tune with a larger finetune.max_length"
        )
    val_records = load_split("val", limit=cfg.val_records, folder=dataset)
    val = build_examples(tokenizer, val_records, kind, cfg.seed + 1, order=order, max_length=max_length)
    report = finetune(
        frozen,
        "lora",
        rows,
        val,
        work,
        lr=cfg.qlora_lr,
        epochs=cfg.qlora_epochs,
        batch_size=cfg.qlora_batch_size,
        eval_every=max(len(rows) // cfg.qlora_batch_size // 4, 1),
        seed=cfg.seed,
        lora=lora_settings(cfg.qlora_rank, int(cfg.qlora_scale * cfg.qlora_rank), 0.0),
        progress=True,
    )
    report.pop("log", None)
    return report


def mlx_lora_on_base(
    cfg: QuantizeConfig, base: Path, data: Path, data_stamp: dict[str, Any], out: Path
) -> dict[str, Any]:
    """mlx-lm LoRA on `base` (the stage passes the base model the torch fine-tunes started from), then fused
    into a model folder `out/base_lora_fused`."""
    adapter, fused = out / "base_lora_adapter", out / "base_lora_fused"
    stamp = {
        "base": _fingerprint(base) if base.exists() else str(base),
        "data": data_stamp,
        "iters": cfg.mlx_lora_iters,
        "lr": cfg.mlx_lora_lr,
        "rank": cfg.mlx_lora_rank,
    }
    if not _cached(fused, stamp):
        report = mlx.lora(
            base,
            data,
            adapter,
            iters=cfg.mlx_lora_iters,
            batch_size=cfg.qlora_batch_size,
            lr=cfg.mlx_lora_lr,
            rank=cfg.mlx_lora_rank,
            scale=2.0,
            seed=cfg.seed,
            steps_per_eval=max(cfg.mlx_lora_iters // 2, 1),
        )
        mlx.fuse(base, adapter, fused)
        write_json_atomic(fused / "training.json", report)
        _stamp(fused, stamp)
    return json.loads((fused / "training.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------- measuring


def _torch_copy(kind: str, built: dict[str, Any], cfg: QuantizeConfig, out: Path) -> Path:
    """A float32 Hugging Face folder computing exactly what the MLX model computes (for batched scoring)."""
    dst = out / "eval" / kind
    if kind == "qlora" and cfg.qlora_backend == "torch":  # the merged peft model: the 4-bit weights + B A
        return out / "qlora_torch" / "model"
    if kind == "qlora":
        tmp = out / "eval" / "qlora_f16"
        mlx.fuse(built["quantized"], built["adapter"], tmp, dequantize=True)
        return mlx.dequantize(tmp, dst)
    return mlx.dequantize(row_folder(kind, built), dst)


def measure(
    cfg: QuantizeConfig,
    kind: str,
    built: dict[str, Any],
    splits: dict[str, list[dict[str, Any]]],
    selected: dict[str, list[list[str]]] | None,
    out: Path,
    root: Path,
    select: Selector | None = None,
) -> dict[str, Any]:
    """One Table 2 row: size, bits per weight, MLX latency / speed / memory, success on test and ood.

    `out` is the folder `build_models` built in; the row names its folders relative to `root` (the artifacts).
    `selected`: ToolRAG's tools per split (None: all 16), by `select`, whose count head also gives the exact
    counts where the source decodes with them.
    """
    import mlx.core as mx

    folder = row_folder(kind, built)
    adapter = built["adapter"] if kind == "qlora" else None
    decoding = row_decoding(built["info"], select)
    planner = MLXPlanner.load(folder, adapter_dir=adapter, **decoding)
    planner.select = select  # the tools are `selected`'s; the count head reads the counts per query
    layers = mlx.quantized_layers(planner.model)
    size = mlx.weights_bytes(folder) + (mlx.weights_bytes(adapter) if adapter else 0)
    row: dict[str, Any] = {
        "row": kind,
        "engine": "mlx",
        "folder": str(folder.relative_to(root)),
        "adapter": str(adapter.relative_to(root)) if adapter else None,
        "size_bytes": size,
        "bits_per_weight": round(mlx.bits_per_weight(planner.model), 3),
        "quantized_layers": len(layers),
        "quantization": sorted({f"{b}-bit/g{g}" for b, g in layers.values()}),
        **decoding,
        "toolrag": bool(selected),
    }
    test = splits["test"][: cfg.latency_n]
    tools = selected["test"][: cfg.latency_n] if selected else None
    mx.reset_peak_memory()
    times, mlx_plans = [], []
    for i, r in enumerate(test):
        start = time.perf_counter()
        mlx_plans.append(
            planner.plan([r["query"]], [r["today"]], tools=[tools[i]] if tools else None)[0]["plan"]
        )
        times.append(time.perf_counter() - start)
    stats = planner.stats
    row.update(
        {
            "latency_n": len(times),
            "median_latency_s": round(statistics.median(times), 4),
            "p95_latency_s": round(float(np.percentile(times, 95)), 4) if times else None,
            "generation_tokens_per_s": round(statistics.median(s["generation_tps"] for s in stats), 1),
            "prompt_tokens_per_s": round(statistics.median(s["prompt_tps"] for s in stats), 1),
            "median_generated_tokens": statistics.median(s["generation_tokens"] for s in stats),
            "peak_memory_mb": round(mx.get_peak_memory() / 2**20, 2),
        }
    )
    if cfg.success_backend == "mlx":
        scorer: Any = planner
        weights = {"mlx": _fingerprint(folder), "adapter": _fingerprint(adapter) if adapter else None}
    elif cfg.success_backend == "torch":
        copy = _torch_copy(kind, built, cfg, out)
        scorer = Planner.load(copy, **decoding, batch_size=cfg.eval_batch_size)
        scorer.select = select
        scorer.model.float()
        weights = {"torch": _fingerprint(copy)}
    else:
        raise ValueError(f"success_backend {cfg.success_backend!r}: use 'torch' or 'mlx'")
    for split, recs in splits.items():
        # kept per row and split: a rerun (or a stage killed at the fifth row) plans only what changed
        cache = out / "eval" / f"{kind}.{split}.json"
        depends = {"backend": cfg.success_backend, **weights}
        res = evaluate_variant(scorer, recs, selected[split] if selected else None, cache, depends)
        preds = res.pop("preds")
        row.update({f"{k}_{split}": v for k, v in res.items()})
        if split == "test":
            same = [p["plan"] == m for p, m in zip(preds[: len(mlx_plans)], mlx_plans, strict=True)]
            row["mlx_agreement"] = round(sum(same) / len(same), 4) if same else None
    return row


def served_check(
    folder: Path, adapter: Path | None, recs: list[dict[str, Any]], planner: Any
) -> dict[str, Any]:
    """Plan a few queries through `mlx_lm.server` with the `openai` client; compare with in-process MLX plans."""

    async def ask_all(llm: Any) -> list[str]:
        try:
            out = []
            for r in recs:
                done = await llm.complete(
                    planner_chat(r["query"], r["today"], list(TOOL_NAMES), planner.kind),
                    max_tokens=planner.max_new_tokens,
                )
                out.append(done.text.strip())
            return out
        finally:
            await llm.aclose()  # in this event loop, not at garbage collection after it closed

    start = time.perf_counter()
    with MLXServer(folder, adapter_dir=adapter, max_tokens=planner.max_new_tokens) as server:
        ready = time.perf_counter() - start
        served = run_sync(ask_all(server.llm()))
    # the server returns the model's decoding: compare with the in-process decoding before the runtime's repairs
    local = [p["plan"] for p in planner._decode([r["query"] for r in recs], [r["today"] for r in recs])]
    return {
        "served_n": len(recs),
        "served_same_as_in_process": sum(a == b for a, b in zip(served, local, strict=True)),
        "server_startup_s": round(ready, 2),
        "served_example": {"query": recs[0]["query"], "plan": served[0]},
    }


def device() -> str:
    import mlx.core as mx

    return f"{platform.system()} {platform.machine()}, mlx {mx.__version__} on {mx.default_device()}"
