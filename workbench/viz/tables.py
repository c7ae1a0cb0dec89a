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


def write_table(rows: list[dict[str, Any]], columns: list[tuple[str, str]], name: str, note: str = "") -> tuple[Path, Path]:
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
    columns = [("split", "split"), ("source", "source"), ("method", "method"), ("recall", "tool recall"),
               ("avg_tools", "tools / query"), ("precision", "precision"),
               ("prompt_tokens_mean", "prompt tokens (mean)"), ("prompt_tokens_median", "prompt tokens (median)")]
    note = (f"Encoder: {results['encoder']}; classifier threshold {results['threshold']}. Prompt tokens: "
            f"{results['prompt_tokenizer']}. Reported rows are the paper's numbers on its own data.")
    return write_table(rows, columns, "table1_toolrag", note)
