"""The agent benchmark (TinyAgent, Sec. 6): the whole agent over test queries, into `data/results/agent.json`.

>>> run(config.stage_config(AgentConfig, "agent", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from workbench import config
from workbench.agent import STAGES, AgentConfig, TinyAgent
from workbench.aio import run_sync
from workbench.metrics import score_plan
from workbench.synth.dataset import load_split
from workbench.tools.desktop import SimulatedDesktop


def _median_p95(values: Sequence[float]) -> dict[str, float]:
    return {
        "median_s": round(statistics.median(values), 4),
        "p95_s": round(float(np.percentile(values, 95)), 4),
    }


def run(
    cfg: AgentConfig | None = None, agent: TinyAgent | None = None, progress: bool = True
) -> dict[str, Any]:
    """End-to-end latency and first-plan success over the first `cfg.n` test queries: `data/results/agent.json`.

    Queries run one after another (after `cfg.warmup` untimed ones), each on a fresh simulated desktop that
    knows the people and files its gold plan names (so a right plan runs without errors); `agent` replaces the
    one `cfg` describes. Keys: `median_latency_s`, `p95_latency_s`, `mean_latency_s`, `latencies_s` (end to
    end, per query); `per_stage` ({stage: {median_s, p95_s}} for toolrag, planning, execution, joining);
    `success_test` (DAG isomorphism of the first round's plan with the gold plan, `score_plan`, as in `workbench
    finetune`); `finished_rate` (answered within the replanning budget), `mean_rounds`, `toolrag_recall_test`
    (ToolRAG kept every gold tool); `profile`, `n`, `device`, `agent`, `stream`, `tool_latency`, `warmup`, `wall_s`.
    """
    cfg = cfg or config.stage_config(AgentConfig, "agent")
    records = load_split("test", limit=cfg.n, folder=config.dataset_dir())
    agent = agent or TinyAgent.from_config(cfg, config.artifacts_dir())
    t0 = time.perf_counter()

    async def run_all() -> list[dict[str, Any]]:
        for r in records[: cfg.warmup]:
            await agent.run(r["query"], r["today"], SimulatedDesktop(today=r["today"]).prepare_for(r["plan"]))
        rows = []
        for r in tqdm(records, desc="agent", unit="query", disable=not progress):
            desktop = SimulatedDesktop(today=r["today"], latency=agent.tool_latency).prepare_for(r["plan"])
            res = await agent.run(r["query"], r["today"], desktop)
            rows.append(
                {
                    "latency": res.latency,
                    "success": score_plan(res.first_plan, r["plan"])["success"],
                    "finished": res.finished,
                    "rounds": len(res.rounds),
                    "toolrag_recall": float(set(r["tools"]) <= set(res.tools)),
                }
            )
        return rows

    rows = run_sync(agent.closing(run_all()))
    totals = [row["latency"]["total"] for row in rows]
    results = {
        "profile": config.active_profile(),
        "n": len(rows),
        "device": agent.device,
        "agent": agent.describe(),
        "stream": agent.stream,
        "tool_latency": cfg.tool_latency,
        "warmup": cfg.warmup,
        "median_latency_s": round(statistics.median(totals), 4),
        "p95_latency_s": _median_p95(totals)["p95_s"],
        "mean_latency_s": round(statistics.fmean(totals), 4),
        "success_test": round(statistics.fmean(row["success"] for row in rows), 4),
        "finished_rate": round(statistics.fmean(row["finished"] for row in rows), 4),
        "mean_rounds": round(statistics.fmean(row["rounds"] for row in rows), 4),
        "toolrag_recall_test": round(statistics.fmean(row["toolrag_recall"] for row in rows), 4),
        "per_stage": {s: _median_p95([row["latency"][s] for row in rows]) for s in STAGES},
        "latencies_s": [round(t, 4) for t in totals],
        "wall_s": round(time.perf_counter() - t0, 2),
    }
    config.save_results("agent", results)
    return results
