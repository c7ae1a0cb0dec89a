"""Figures of the synthesized dataset (TinyAgent, Sec. 3.1): tools, plan lengths, DAG widths and depths.

Drawn from `data/results/synthesis.json` alone, train beside ood, each as a share of its split.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from workbench import config
from workbench.viz.dag import save_figure


def _shares(hist: dict[str, int], keys: list[str]) -> np.ndarray:
    total = sum(hist.values()) or 1
    return np.array([hist.get(k, 0) / total for k in keys])


def fig_dataset_distributions(report: dict[str, Any] | None = None) -> Path:
    """Four panels, train vs ood -> figures/fig_dataset_distributions.png."""
    report = report or config.load_results("synthesis")
    train, ood = report["splits"]["train"], report["splits"]["ood"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    panels = [
        ("tools", "share of tool calls", axes[0, 0]),
        ("tasks_per_plan", "share of plans", axes[0, 1]),
        ("dag_width", "share of plans (sample)", axes[1, 0]),
        ("dag_depth", "share of plans (sample)", axes[1, 1]),
    ]
    for key, ylabel, ax in panels:
        keys = sorted(set(train[key]) | set(ood[key]), key=lambda k: (len(k), k) if key != "tools" else k)
        x = np.arange(len(keys))
        ax.bar(x - 0.2, _shares(train[key], keys), 0.4, label=f"train ({train['n']:,})")
        ax.bar(x + 0.2, _shares(ood[key], keys), 0.4, label=f"ood ({ood['n']:,})")
        ax.set_xticks(x, keys, rotation=75 if key == "tools" else 0, fontsize=7 if key == "tools" else 8)
        ax.set_ylabel(ylabel)
        ax.set_title(
            {
                "tools": "tools",
                "tasks_per_plan": "tool calls per plan",
                "dag_width": "DAG width",
                "dag_depth": "DAG depth",
            }[key],
            fontsize=10,
        )
        ax.grid(axis="y", alpha=0.3)
    axes[0, 1].legend(fontsize=8)
    fig.suptitle(
        f"measured ({report.get('profile', '?')} profile, {report['teacher']} teacher): "
        f"{sum(report['counts'].values()):,} records, {report['distinct_queries']:,} distinct queries",
        fontsize=10,
    )
    fig.tight_layout()
    path = save_figure(fig, "fig_dataset_distributions.png")
    plt.close(fig)
    return path


def fig_toolrag_recall(results: dict[str, Any] | None = None) -> Path:
    """Recall vs k for basic RAG, with the classifier's point -> figures/fig_toolrag_recall.png."""
    results = results or config.load_results("toolrag")
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, split in zip(axes, ("test", "ood"), strict=True):
        rows = {r["method"]: r for r in results["splits"][split]}
        ks = list(range(1, 17))
        ax.plot(
            [rows[f"basic RAG top-{k}"]["avg_tools"] for k in ks],
            [rows[f"basic RAG top-{k}"]["recall"] for k in ks],
            marker=".",
            label="basic RAG, tool descriptions",
        )
        if "basic RAG (examples) top-1" in rows:
            ax.plot(
                [rows[f"basic RAG (examples) top-{k}"]["avg_tools"] for k in ks],
                [rows[f"basic RAG (examples) top-{k}"]["recall"] for k in ks],
                marker=".",
                label="basic RAG, training queries",
            )
        clf = rows["ToolRAG classifier"]
        ax.scatter(
            [clf["avg_tools"]],
            [clf["recall"]],
            color="#d92d20",
            zorder=3,
            s=50,
            label=f"classifier, measured ({clf['recall']:.3f} at {clf['avg_tools']:.2f} tools)",
        )
        ax.scatter([6, 3.97], [0.968, 0.998], marker="x", color="#555555", label="reported (paper)")
        ax.set(xlabel="tools selected per query", title=f"{split} split", xlim=(0, 16.5))
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("tool recall (every needed tool selected)")
    axes[0].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"ToolRAG ({results['profile']} profile, encoder {results['encoder']})", fontsize=9)
    fig.tight_layout()
    path = save_figure(fig, "fig_toolrag_recall.png")
    plt.close(fig)
    return path
