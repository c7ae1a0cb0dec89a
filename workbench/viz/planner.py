"""The planner figures: success rate of every measured variant beside the paper's reported ones, and the
fine-tuning loss curves. Both read `data/results/planner.json` only."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from workbench import config
from workbench.compiler.prompts import ordered, system_prompt
from workbench.finetune.prompts import target_plan
from workbench.viz.dag import save_figure


def fig_success_rate(results: dict[str, Any] | None = None) -> Path:
    """Horizontal bars: measured test and ood success per variant, then the paper's -> fig_success_rate.png."""
    results = results or config.load_results("planner")
    rows = results["rows"]
    reported = results.get("reported", [])
    labels = [f"{r['variant']} (measured)" for r in rows] + [f"{r['variant']} (reported)" for r in reported]
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * len(labels) + 1.4))
    y = list(range(len(labels)))[::-1]
    test = [r["success_test"] for r in rows] + [r["success_test"] for r in reported]
    ood = [r["success_ood"] for r in rows] + [None] * len(reported)
    h = 0.38
    ax.barh(
        [v + h / 2 for v in y],
        test,
        height=h,
        color=["#2e6fd8"] * len(rows) + ["#9a9a9a"] * len(reported),
        label="test (measured: blue; reported, their test set: grey)",
    )
    ax.barh(
        [v - h / 2 for v, o in zip(y, ood, strict=True) if o is not None],
        [o for o in ood if o is not None],
        height=h,
        color="#f08c2e",
        label="ood (unseen names, phrasings)",
    )
    for v, t in zip(y, test, strict=True):
        ax.text(t + 0.005, v + h / 2, f"{t:.2f}", va="center", fontsize=6)
    ax.set_yticks(y, labels, fontsize=7)
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("success rate (plan DAG isomorphic to the gold plan)")
    ax.axvline(0.8495, color="#555555", lw=0.8, ls="--", label="best reported (Wizard-2-7B + LoRA + ToolRAG)")
    ax.legend(fontsize=7, loc="upper right")
    ax.set_title(
        f"Planner success, {results['profile']} profile ({results['prompt']} prompt, "
        f"{rows[-1]['parameters'] / 1e6:.1f}M parameters) vs TinyAgent reported",
        fontsize=9,
    )
    fig.tight_layout()
    path = save_figure(fig, "fig_success_rate.png")
    plt.close(fig)
    return path


def _loss_figure(curves: dict[str, tuple[list, list]], name: str, **axes: Any) -> Path:
    """Train (faint line) and val (line with dots) loss per step for each run -> figures/<name>."""
    fig, ax = plt.subplots(figsize=(6, 3.4))
    for (label, (train, val)), color in zip(curves.items(), ("#2e6fd8", "#d92d20", "#2a9d5c"), strict=False):
        if train:
            ax.plot(*zip(*train, strict=True), color=color, alpha=0.5, lw=1, label=f"{label} train")
        if val:
            ax.plot(*zip(*val, strict=True), color=color, marker="o", ms=3, label=f"{label} val")
    ax.set(ylabel="loss (plan tokens)", **axes)
    ax.title.set_fontsize(9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    path = save_figure(fig, name)
    plt.close(fig)
    return path


def fig_training_curves(results: dict[str, Any] | None = None) -> Path:
    """Train and val loss per step for each fine-tuning method -> fig_finetune_loss.png."""
    results = results or config.load_results("planner")
    curves = {
        method: (
            [(e["step"], e["loss"]) for e in log if "loss" in e],
            [(e["step"], e["eval_loss"]) for e in log if "eval_loss" in e],
        )
        for method, log in results["curves"].items()
    }
    return _loss_figure(
        curves,
        "fig_finetune_loss.png",
        xlabel="step",
        yscale="log",
        title=f"Fine-tuning ({results['profile']})",
    )


def fig_mlx_lora(results: dict[str, Any] | None = None) -> Path:
    """Train and val loss of the mlx-lm LoRA runs in `quantization.json` -> fig_mlx_lora_loss.png."""
    results = results or config.load_results("quantization")
    names = {"mlx_lora": "LoRA on the base,", "qlora": "QLoRA on the 4-bit planner,"}
    curves = {
        names.get(name, name): (
            [(c["iteration"], c["train_loss"]) for c in run["train_curve"]],
            [(c["iteration"], c["val_loss"]) for c in run.get("val_curve", [])],
        )
        for name, run in results["training"].items()
        if run.get("train_curve")
    }
    return _loss_figure(
        curves,
        "fig_mlx_lora_loss.png",
        xlabel="iteration",
        title=f"mlx-lm LoRA, measured ({results['profile']}; {results['device']})",
    )


def prompt_html(
    record: dict[str, Any], tools: list[str], examples: str = "", kind: str = "compact", order: str = "gold"
) -> str:
    """One training prompt as HTML: needed tools in green, negatives in grey, retrieved examples in blue,
    the target plan (the only tokens with a loss, in the step `order` trained on) in bold."""
    needed = set(record["tools"])
    text = html.escape(system_prompt(record["today"], tools, kind))
    for name in ordered(tools):
        color, tag = ("#1a7f37", "needed") if name in needed else ("#8a8a8a", "negative")
        text = text.replace(name, f'<span style="color:{color}" title="{tag}">{name}</span>', 1)
    parts = [f"<b>system</b><br>{text}"]
    if examples.strip():
        parts.append(
            f'<span style="color:#2e6fd8"><b>retrieved examples</b><br>{html.escape(examples)}</span>'
        )
    parts.append(f"<b>user</b><br>{html.escape(record['query'])}")
    target = html.escape(target_plan(record["plan"], order))
    parts.append(f"<b>assistant (target, {order} order; loss on these tokens only)</b><br><b>{target}</b>")
    body = "<br><br>".join(p.replace("\n", "<br>") for p in parts)
    return f'<div style="font-family:monospace;font-size:12px;line-height:1.4">{body}</div>'
