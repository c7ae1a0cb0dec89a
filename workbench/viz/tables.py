"""Tables written by code to `figures/` as Markdown and CSV, measured rows beside the papers' reported ones."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from workbench import config

# TinyAgent, Table 1 (reported by the paper, on its own data and with DeBERTa-v3-small).
REPORTED_TOOLRAG = [
    {"method": "basic RAG top-6 (reported)", "recall": 0.968},
    {"method": "ToolRAG classifier (reported)", "recall": 0.998, "avg_tools": 3.97},
]


def write_table(
    rows: list[dict[str, Any]], columns: list[tuple[str, str]], name: str, note: str = ""
) -> tuple[Path, Path]:
    """`rows` as figures/<name>.md and figures/<name>.csv; `columns` are (key, header) pairs."""

    def cell(v: Any) -> str:
        if v is None or v == "":
            return ""
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    md = ["| " + " | ".join(h for _, h in columns) + " |", "|" + "---|" * len(columns)]
    md += ["| " + " | ".join(cell(r.get(k)) for k, _ in columns) + " |" for r in rows]
    md_path = config.figure_path(f"{name}.md")
    md_path.write_text(("\n".join(md) + "\n") + (f"\n{note}\n" if note else ""), encoding="utf-8")
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([h for _, h in columns])
    writer.writerows([[cell(r.get(k)) for k, _ in columns] for r in rows])
    csv_path = config.figure_path(f"{name}.csv")
    csv_path.write_text(buf.getvalue(), encoding="utf-8")
    return md_path, csv_path


def table1_toolrag(results: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """TinyAgent's Table 1 from `data/results/toolrag.json` -> figures/table1_toolrag.{md,csv}."""
    results = results or config.load_results("toolrag")
    rows = []
    for split in ("test", "ood"):
        for r in results["splits"][split]:
            k = r["method"].rsplit("top-", 1)[-1]
            if r["method"].startswith("basic") and int(k) not in (3, 4, 5, 6):
                continue
            rows.append({"split": split, "source": f"measured ({results['profile']})", **r})
    rows += [{"split": "paper's test", "source": "reported", **r} for r in REPORTED_TOOLRAG]
    columns = [
        ("split", "split"),
        ("source", "source"),
        ("method", "method"),
        ("recall", "tool recall"),
        ("avg_tools", "tools / query"),
        ("precision", "precision"),
        ("prompt_tokens_mean", "prompt tokens (mean)"),
        ("prompt_tokens_median", "prompt tokens (median)"),
    ]
    note = (
        f"Encoder: {results['encoder']}; classifier threshold {results['threshold']}. Prompt tokens: "
        f"{results['prompt_tokenizer']}. Reported rows are the paper's numbers on its own data."
    )
    return write_table(rows, columns, "table1_toolrag", note)


def table2_quantization(results: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """TinyAgent's Table 2 from `data/results/quantization.json` (measured rows on MLX and, where measured, on
    llama.cpp; the paper's under `reported`) -> figures/table2_quantization.{md,csv}."""
    results = results or config.load_results("quantization")
    bits, group = results["bits"], results["group_size"]
    names = {
        "float16": "float16",
        "4bit": f"{bits}-bit, group {group} (round to nearest)",
        "qlora": f"{bits}-bit + QLoRA",
        **{f"4bit-{m}": f"{bits}-bit, group {group} ({m.upper()})" for m in ("gptq", "awq", "dwq")},
        "gguf-f16": "GGUF F16",
        "gguf-q4_0": "GGUF Q4_0 (4-bit, group 32)",
        "gguf-q4_k_m": "GGUF Q4_K_M",
        "gguf-q4_0-qlora": "GGUF Q4_0 + QLoRA (LoRA file)",
    }
    source = f"measured ({results['profile']})"
    rows = [
        {
            "source": source,
            "model": "offline planner",
            "engine": r.get("engine", "mlx"),
            "precision": names.get(r["row"], r["row"]),
            "latency_s": r["median_latency_s"],
            "p95_latency_s": r.get("p95_latency_s"),
            "tokens_per_s": r["generation_tokens_per_s"],
            "size_mb": round(r["size_bytes"] / 2**20, 3),
            "bits_per_weight": r["bits_per_weight"],
            "peak_memory_mb": r["peak_memory_mb"],
            "success_test": r["success_test"],
            "success_ood": r["success_ood"],
        }
        for r in results["rows"]
    ]
    rows += [
        {
            "source": "reported",
            "model": r["model"],
            "precision": r["precision"],
            "latency_s": r["latency_s"],
            "size_mb": round(r["size_gb"] * 1024, 1),
            "success_test": r["success"],
        }
        for r in results["reported"]
    ]
    columns = [
        ("source", "source"),
        ("model", "model"),
        ("engine", "engine"),
        ("precision", "weights"),
        ("latency_s", "latency (s)"),
        ("p95_latency_s", "p95 (s)"),
        ("tokens_per_s", "tokens/s"),
        ("size_mb", "size (MiB)"),
        ("bits_per_weight", "bits/weight"),
        ("peak_memory_mb", "peak memory (MiB)"),
        ("success_test", "success (test)"),
        ("success_ood", "success (ood)"),
    ]
    gguf = f"; llama.cpp rows on {results['gguf_device']}" if "gguf_device" in results else ""
    note = (
        f"Measured on {results['device']}{gguf}. Latency is the median (and 95th percentile) time to plan one "
        "test query alone on the row's engine (prompt + generation); success is DAG isomorphism on our "
        f"synthesized test/ood sets, scored with the {results['success_backend']} backend for the MLX rows and "
        "on llama.cpp's own kernels for the GGUF rows. Peak memory: MLX's peak allocation, or the resident memory "
        "llama.cpp adds. Reported rows are TinyAgent's Table 2 (its own test set, on a MacBook)."
    )
    return write_table(rows, columns, "table2_quantization", note)
