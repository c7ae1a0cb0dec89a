"""The quantization stage (TinyAgent, Sec. 6, Table 2): the best planner as MLX float16, 4-bit (group 32) by
round-to-nearest and by mlx-lm's learned methods (GPTQ, AWQ, DWQ), 4-bit + QLoRA, and as GGUF F16, Q4_0 and
Q4_K_M on llama.cpp, each measured for size, memory, latency and success (`workbench.quantize` has the MLX parts,
`workbench.quantize_gguf` the llama.cpp ones).

Models go to `<artifacts>/mlx/` and `<artifacts>/gguf/`, results to `data/results/quantization.json`, the table
to `figures/table2_quantization.{md,csv}` and the mlx-lm LoRA loss curve to `figures/fig_mlx_lora.png`.

    >>> run(config.stage_config(QuantizeConfig, "quantize", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from workbench import config
from workbench.finetune.settings import FinetuneConfig
from workbench.finetune.train import build_base
from workbench.planner import GGUFPlanner, MLXPlanner, resolve_toolrag
from workbench.quantize import (
    QuantizeConfig,
    build_models,
    device,
    learned_methods,
    measure,
    row_decoding,
    served_check,
    source_planner,
)
from workbench.quantize_gguf import (
    GGUF_ROWS,
    build_gguf,
    build_gguf_qlora,
    device_gguf,
    gguf_available,
    measure_gguf,
    served_gguf_check,
)
from workbench.synth.dataset import load_split, require_splits
from workbench.toolrag.selection import toolrag_selector
from workbench.viz.planner import fig_mlx_lora
from workbench.viz.tables import table2_quantization

#: TinyAgent, Table 2 (on a MacBook, as reported): latency per query, model size, success rate.
REPORTED = [
    {"model": "TinyAgent-1.1B", "precision": "16-bit", "latency_s": 3.9, "size_gb": 2.2, "success": 0.8006},
    {"model": "TinyAgent-1.1B", "precision": "4-bit", "latency_s": 2.9, "size_gb": 0.68, "success": 0.8035},
    {"model": "TinyAgent-7B", "precision": "16-bit", "latency_s": 19.5, "size_gb": 14.5, "success": 0.8495},
    {"model": "TinyAgent-7B", "precision": "4-bit", "latency_s": 13.1, "size_gb": 4.37, "success": 0.8514},
]


def lora_base(cfg: QuantizeConfig) -> Path:
    """The base model of the mlx-lm LoRA run: the one `workbench finetune` started from, or `cfg.base`."""
    if cfg.base != "finetune":
        return Path(cfg.base)
    return build_base(
        config.stage_config(FinetuneConfig, "finetune"), config.planner_dir(), config.dataset_dir()
    )


def run(cfg: QuantizeConfig | None = None) -> dict[str, Any]:
    """Build the three MLX models, measure each, write `quantization.json`, Table 2 and the LoRA figure."""
    cfg = cfg or config.stage_config(QuantizeConfig, "quantize")
    out, dataset, artifacts = config.mlx_dir(), config.dataset_dir(), config.artifacts_dir()
    require_splits(dataset)
    source_planner(
        cfg, artifacts
    )  # a missing planner fails here, naming `workbench finetune`, not after work
    t0 = time.perf_counter()
    built = build_models(cfg, out, dataset, artifacts, base=lora_base(cfg) if cfg.mlx_lora_iters else None)
    splits = {
        "test": load_split("test", limit=cfg.eval_test, folder=dataset),
        "ood": load_split("ood", limit=cfg.eval_ood, folder=dataset),
    }
    select = toolrag_selector(resolve_toolrag("auto", artifacts)) if built["info"].get("toolrag") else None
    selected = {s: select([r["query"] for r in recs]) for s, recs in splits.items()} if select else None
    kinds = ["float16", "4bit", *(f"4bit-{m}" for m in learned_methods(cfg)), "qlora"]
    rows = [measure(cfg, kind, built, splits, selected, out, artifacts, select) for kind in kinds]
    by = {r["row"]: r for r in rows}
    served = None
    if cfg.served_n:
        planner = MLXPlanner.load(built["quantized"], constrained=False)
        served = served_check(built["quantized"], None, splits["test"][: cfg.served_n], planner)
    gguf = gguf_rows(cfg, built, dataset, artifacts) if cfg.gguf else {"gguf": "off (gguf=False)"}
    four_bit = [r for r in rows if r["row"].startswith("4bit")]
    best_4bit = max(four_bit, key=lambda r: r["success_test"])  # the first (round-to-nearest) on a tie
    results = {
        "profile": config.active_profile(),
        "device": device(),
        "source": config.shown_path(built["source"]),
        "bits": cfg.bits,
        "group_size": cfg.group_size,
        "size_ratio_vs_fp16": round(by["float16"]["size_bytes"] / by["4bit"]["size_bytes"], 3),
        "success_test_full": by["float16"]["success_test"],
        "success_test_4bit": by["4bit"]["success_test"],
        "success_test_qlora": by["qlora"]["success_test"],
        "success_ood_full": by["float16"]["success_ood"],
        "success_ood_4bit": by["4bit"]["success_ood"],
        "success_ood_qlora": by["qlora"]["success_ood"],
        "latency_ratio_4bit_over_full": round(
            by["4bit"]["median_latency_s"] / by["float16"]["median_latency_s"], 3
        ),
        "mlx_best_4bit_method": "rtn"
        if best_4bit["row"] == "4bit"
        else best_4bit["row"].removeprefix("4bit-"),
        "success_test_4bit_best": best_4bit["success_test"],
        "success_backend": cfg.success_backend,
        **{k: v for k, v in gguf.items() if k != "rows"},
        "rows": rows + gguf.get("rows", []),
        "training": built["reports"],
        "served": served,
        "settings": asdict(cfg),
        "wall_s": round(time.perf_counter() - t0, 1),
        "reported": REPORTED,
        "note": "success = DAG isomorphism on our synthesized test/ood sets, not the paper's; latency is planning "
        "one query alone on the engine of its row (mlx or llama.cpp) on the device named here",
    }
    config.save_results("quantization", results)
    table2_quantization(results)
    fig_mlx_lora(results)
    return results


def gguf_rows(cfg: QuantizeConfig, built: dict[str, Any], dataset: Path, artifacts: Path) -> dict[str, Any]:
    """The GGUF rows and their keys for `quantization.json`, on `cfg.gguf_eval_test` / `gguf_eval_ood` records
    (llama.cpp plans them on its own kernels, much faster than MLX here); a note instead where llama-cpp-python
    is missing."""
    if not gguf_available():
        return {"gguf": "skipped: llama-cpp-python and gguf are not installed (`make gguf` builds them)"}
    splits = {
        "test": load_split("test", limit=cfg.gguf_eval_test, folder=dataset),
        "ood": load_split("ood", limit=cfg.gguf_eval_ood, folder=dataset),
    }
    select = toolrag_selector(resolve_toolrag("auto", artifacts)) if built["info"].get("toolrag") else None
    selected = {s: select([r["query"] for r in recs]) for s, recs in splits.items()} if select else None
    decoding = row_decoding(built["info"], select)
    files = build_gguf(built["source"], artifacts / "gguf")
    rows = [
        measure_gguf(cfg, kind, files[kind], splits, selected, decoding, artifacts, select=select)
        for kind in GGUF_ROWS
    ]
    training = None
    if cfg.gguf_qlora:
        lora, training = build_gguf_qlora(cfg, files["Q4_0"], built["source"], dataset, artifacts / "gguf")
        q4 = files["Q4_0"]
        rows.append(measure_gguf(cfg, "Q4_0", q4, splits, selected, decoding, artifacts, lora, select))
    by = {r["row"].removeprefix("gguf-").replace("-", "_"): r for r in rows}
    out: dict[str, Any] = {
        "gguf_device": device_gguf(),
        "gguf_size_ratio_q4_0_vs_f16": round(by["f16"]["size_bytes"] / by["q4_0"]["size_bytes"], 3),
        **{f"gguf_success_test_{k}": r["success_test"] for k, r in by.items()},
        **{f"gguf_success_ood_{k}": r["success_ood"] for k, r in by.items()},
        "gguf_latency_ratio_q4_0_over_f16": round(
            by["q4_0"]["median_latency_s"] / by["f16"]["median_latency_s"], 3
        ),
        "gguf_parse_failure_rate": max(r[f"parse_failure_{s}"] for r in rows for s in splits),
        "gguf_n_test": len(splits["test"]),
        "gguf_n_ood": len(splits["ood"]),
        "gguf_qlora_training": training,
        "rows": rows,
    }
    if cfg.served_n:
        planner = GGUFPlanner.load(files["Q4_0"], threads=cfg.gguf_threads, **decoding)
        planner.select = select
        out["gguf_served"] = served_gguf_check(files["Q4_0"], splits["test"][: cfg.served_n], planner)
        planner.engine.close()
    return out
