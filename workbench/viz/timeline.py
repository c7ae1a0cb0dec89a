"""Execution timelines (Gantt charts) and the LLMCompiler-vs-ReAct latency figure (LLMCompiler, Sec. 5.1).

A timeline row per LLM call and per task: the planner's stream, each task from start to end (a thin line
from when it was dispatched to when its inputs were ready), and the joiner. With streaming, task bars start
inside the planner's bar: execution overlaps planning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from workbench import config
from workbench.compiler.agent import AgentResult
from workbench.viz.dag import node_color, save_figure

STATUS_HATCH = {"failed": "////", "skipped": "...."}  # app colours stay; failure is hatched and outlined red
LLM_COLOR = "#6941c6"


def timeline_rows(result: AgentResult) -> list[dict[str, Any]]:
    """Bars of a run, in time order: kind (llm|task), label, start, end, wait_from (tasks), color."""
    rows = []
    for k, rnd in enumerate(result.rounds, 1):
        react = result.agent == "react"
        suffix = f" (round {k})" if len(result.rounds) > 1 and not react else ""
        if rnd.plan_completion is not None:
            label = f"LLM call {k}" if react else "planner" + suffix
            rows.append(
                {
                    "kind": "llm",
                    "label": label,
                    "start": rnd.plan_start,
                    "end": rnd.plan_end,
                    "color": LLM_COLOR,
                }
            )
        for rec in sorted(rnd.execution.records.values(), key=lambda r: r.idx):
            start = rec.started if rec.started is not None else rec.ended
            rows.append(
                {
                    "kind": "task",
                    "label": f"{rec.idx}. {rec.tool}",
                    "start": start,
                    "end": rec.ended,
                    "wait_from": rec.dispatched,
                    "status": rec.status,
                    "color": node_color(rec.tool),
                }
            )
        if rnd.join_completion is not None:
            rows.append(
                {
                    "kind": "llm",
                    "label": "joiner" + suffix,
                    "start": rnd.exec_end,
                    "end": rnd.join_end,
                    "color": LLM_COLOR,
                }
            )
    return rows


def draw_timeline(
    result: AgentResult, ax: plt.Axes | None = None, title: str | None = None, xmax: float | None = None
) -> plt.Axes:
    rows = timeline_rows(result)
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.2))
    for y, row in enumerate(rows):
        if row["kind"] == "task" and row.get("wait_from") is not None and row["start"] > row["wait_from"]:
            ax.plot([row["wait_from"], row["start"]], [y, y], color="#999999", lw=1, ls=":")
        bad = row.get("status") in STATUS_HATCH
        ax.barh(
            y,
            max(row["end"] - row["start"], 0.004),
            left=row["start"],
            color=row["color"],
            height=0.6,
            edgecolor="#d92d20" if bad else "#333333",
            lw=1.5 if bad else 0.5,
            hatch=STATUS_HATCH.get(row.get("status"), None),
        )
    ax.set_yticks(range(len(rows)), [r["label"] for r in rows], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("seconds since the query")
    ax.set_xlim(0, xmax or max((r["end"] for r in rows), default=1.0) * 1.02)
    ax.grid(axis="x", alpha=0.3)
    ax.set_title(title or f"{result.latency_s:.2f} s end to end", fontsize=9)
    return ax


def fig_execution_timeline(
    runs: dict[str, AgentResult], note: str, name: str = "fig_execution_timeline.png"
) -> Path:
    """Timelines of several runs of the same query, one panel each, on a shared time axis.

    `note` says what drove the runs (e.g. "scripted replay LLM: a latency model"); it is the figure's title.
    """
    xmax = max(r.latency_s for r in runs.values()) * 1.02
    heights = [len(timeline_rows(r)) + 2 for r in runs.values()]
    fig, axes = plt.subplots(
        len(runs),
        1,
        figsize=(8, 0.3 * sum(heights) + 1),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (label, result) in zip(axes[:, 0], runs.items(), strict=True):
        draw_timeline(
            result, ax=ax, title=f"{label}: {result.latency_s:.2f} s, {result.llm_calls} LLM calls", xmax=xmax
        )
    fig.suptitle(note, fontsize=9)
    fig.tight_layout()
    path = save_figure(fig, name)
    plt.close(fig)
    return path


def fig_llmcompiler_vs_react(results: dict[str, Any] | None = None) -> Path:
    """Latency vs plan width from `data/results/llmcompiler_vs_react.json` -> figures/fig_llmcompiler_vs_react.png."""
    results = results or config.load_results("llmcompiler_vs_react")
    rows = results["rows"]
    widths = [r["width"] for r in rows]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    labels = {
        "react": "ReAct",
        "llmcompiler_no_stream": "LLMCompiler",
        "llmcompiler_stream": "LLMCompiler (streaming)",
    }
    for agent, label in labels.items():
        ax.plot(widths, [r[agent]["latency_s"] for r in rows], marker="o", label=label)
        ax2.plot(
            widths,
            [r[agent]["prompt_tokens"] + r[agent]["completion_tokens"] for r in rows],
            marker="o",
            label=label,
        )
    for r in rows:
        ax.annotate(
            f"{r['speedup_llmcompiler_stream']:.2f}x",
            (r["width"], r["llmcompiler_stream"]["latency_s"]),
            textcoords="offset points",
            xytext=(0, -12),
            ha="center",
            fontsize=7,
        )
    ax.set(
        xlabel="independent tool calls in the plan (width)", ylabel="end-to-end latency (s)", xticks=widths
    )
    ax2.set(xlabel="width", ylabel="tokens per query (prompt + completion)", xticks=widths)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax2.grid(alpha=0.3)
    cfg = results.get("config", {})
    fig.suptitle(
        f"measured ({results.get('profile', '?')} profile): scripted-LLM latency model, "
        f"TTFT {cfg.get('ttft_s')} s, {cfg.get('tokens_per_s')} tokens/s; simulated desktop tools "
        "(a latency model, not accuracy)",
        fontsize=8,
    )
    fig.tight_layout()
    path = save_figure(fig, "fig_llmcompiler_vs_react.png")
    plt.close(fig)
    return path
