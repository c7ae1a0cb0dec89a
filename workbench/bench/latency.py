"""LLMCompiler vs ReAct end-to-end latency as plans get wider (LLMCompiler, Sec. 5.1, Fig. 4 and Table 1).

This is a LATENCY MODEL, not a model's accuracy: both agents are driven by the scripted replay LLM, which
writes known-correct text at the same time to first token and token rate, and the tools run on the simulated
desktop with its latency model. What differs is only the agents' structure: ReAct makes one LLM call per
tool call and runs tools one after another; LLMCompiler writes one plan, runs independent tasks in parallel
(while the plan streams, with `stream=True`) and makes one joiner call.

The workload of width w: look up w people's email addresses (independent), then send one email to all.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from workbench.aio import run_sync
from workbench.compiler import ExecutionResult, Executor, LLMCompiler, ReAct, desktop_tools
from workbench.llm import ScriptedLLM
from workbench.metrics import critical_path_length, plan_width
from workbench.plan import Plan, parse_plan, render_args, render_plan
from workbench.tools import LatencyModel, SimulatedDesktop

PEOPLE = [
    "Ana Costa",
    "Ben Okoro",
    "Chloé Martin",
    "Dev Patel",
    "Eun-ji Park",
    "Farid Haddad",
    "Greta Lind",
    "Hiro Tanaka",
    "Ines Duarte",
    "Jon Berg",
    "Kemal Aydın",
    "Lena Vogel",
    "Mia Rossi",
    "Noor Khan",
    "Olek Nowak",
    "Pia Jensen",
]
SLIDES = "/Users/me/Desktop/Slides Final.key"


@dataclass
class LatencyBenchConfig:
    widths: tuple[int, ...] = field(default=(1, 2, 4, 8), metadata={"help": "independent look-ups per plan"})
    ttft_s: float = field(default=0.2, metadata={"help": "scripted LLM: time to first token (s)"})
    tokens_per_s: float = field(default=50.0, metadata={"help": "scripted LLM: tokens per second"})
    repeats: int = field(default=3, metadata={"help": "runs per width and agent (median kept)"})
    seed: int = field(default=0, metadata={"help": "desktop and latency-model seed"})
    testset_n: int = field(default=50, metadata={"help": "synthesized test records to time (0: skip)"})


def workload(width: int) -> tuple[str, str, list[str], str]:
    """(query, LLMCompiler plan, ReAct turns, joiner reply) for `width` recipients."""
    people = PEOPLE[:width]
    query = f"Send the final slides to {', '.join(people)}."
    lookups = [f'{i}. get_email_address("{p}")' for i, p in enumerate(people, 1)]
    refs = ", ".join(f'"${i}"' for i in range(1, width + 1))
    email = f'{width + 1}. compose_new_email([{refs}], [], "Final slides", "", ["{SLIDES}"])'
    plan = "\n".join(
        [
            "Thought: Look up every recipient's address, then send one email.",
            *lookups,
            email,
            f"{width + 2}. join()<END_OF_PLAN>",
        ]
    )
    react = [f'Thought: I need the email address of {p}.\nAction: get_email_address["{p}"]' for p in people]
    addresses = ", ".join(f'"{p.lower().replace(" ", ".")}@example.com"' for p in people)
    react.append(
        f'Thought: I have every address.\nAction: compose_new_email[[{addresses}], [], "Final slides", '
        f'"", ["{SLIDES}"]]'
    )
    react.append("Thought: The email is ready.\nAction: Finish[The email with the slides is ready to send.]")
    join = "Thought: The email is ready.\nAction: Finish(The email with the slides is ready to send.)"
    return query, plan, react, join


def _desktop(cfg: LatencyBenchConfig) -> SimulatedDesktop:
    return SimulatedDesktop(seed=cfg.seed, contacts=PEOPLE, latency=LatencyModel.typical(cfg.seed))


async def _once(cfg: LatencyBenchConfig, width: int, agent: str) -> dict:
    query, plan, react_turns, join = workload(width)
    desktop = _desktop(cfg)
    if agent == "react":
        llm = ScriptedLLM(react_turns, cfg.ttft_s, cfg.tokens_per_s)
        result = await ReAct(llm, desktop_tools(desktop)).run(query)
    else:
        llm = ScriptedLLM([plan, join], cfg.ttft_s, cfg.tokens_per_s)
        result = await LLMCompiler(llm, desktop_tools(desktop), stream=agent == "llmcompiler_stream").run(
            query
        )
    if not result.finished or not desktop.outbox:
        raise RuntimeError(f"{agent} did not complete the width-{width} workload: {result.answer}")
    return {
        "latency_s": result.latency_s,
        "prompt_tokens": result.usage.prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "llm_calls": result.llm_calls,
    }


AGENTS = ("llmcompiler_stream", "llmcompiler_no_stream", "react")
JOIN_REPLY = "Thought: Every step is done.\nAction: Finish(Done.)"


def react_turns(plan: Plan, execution: ExecutionResult) -> list[str]:
    """ReAct's turns for the same work: one call per task, with the values a ReAct model would have read."""
    turns = []
    for step in plan.tasks:
        args = execution.records[step.idx].resolved_args or step.args
        turns.append(
            f"Thought: Next, {step.tool.replace('_', ' ')}.\nAction: {step.tool}[{render_args(args)}]"
        )
    return turns + ["Thought: Every step is done.\nAction: Finish[Done.]"]


async def _testset(cfg: LatencyBenchConfig, records: list[dict[str, Any]]) -> dict:
    """LLMCompiler (streaming) vs ReAct on synthesized test queries, each driven by its gold plan."""
    rows = []
    for r in records:
        plan = parse_plan(r["plan"])
        dry = await Executor(desktop_tools(SimulatedDesktop(cfg.seed).prepare_for(plan))).run(plan.steps)
        turns = react_turns(plan, dry)
        times = {}
        for agent in ("llmcompiler_stream", "react"):
            desktop = SimulatedDesktop(cfg.seed, latency=LatencyModel.typical(cfg.seed)).prepare_for(plan)
            if agent == "react":
                llm = ScriptedLLM(turns, cfg.ttft_s, cfg.tokens_per_s)
                result = await ReAct(llm, desktop_tools(desktop), max_steps=len(turns)).run(r["query"])
            else:
                llm = ScriptedLLM([r["plan"], JOIN_REPLY], cfg.ttft_s, cfg.tokens_per_s)
                result = await LLMCompiler(llm, desktop_tools(desktop), tinyagent=True, today=r["today"]).run(
                    r["query"]
                )
            if not result.finished or any(not c.ok for c in desktop.calls):
                raise RuntimeError(f"{agent} failed on {r['id']}: {result.answer}")
            times[agent] = result.latency_s
        rows.append(
            {
                "id": r["id"],
                "width": plan_width(plan),
                "tasks": len(plan.tasks),
                "speedup": times["react"] / times["llmcompiler_stream"],
                **times,
            }
        )
    by_width: dict[str, list[float]] = {}
    for row in rows:
        by_width.setdefault(str(min(row["width"], 4)) + ("+" if row["width"] >= 4 else ""), []).append(
            row["speedup"]
        )
    return {
        "n": len(rows),
        "median_latency_s": {
            a: statistics.median(r[a] for r in rows) for a in ("llmcompiler_stream", "react")
        },
        "median_speedup": statistics.median(r["speedup"] for r in rows),
        "median_speedup_by_width": {k: statistics.median(v) for k, v in sorted(by_width.items())},
        "rows": rows,
    }


async def _ameasure(cfg: LatencyBenchConfig) -> list[dict]:
    rows = []
    for width in cfg.widths:
        plan = parse_plan(workload(width)[1])
        row: dict = {
            "width": width,
            "plan_width": plan_width(plan),
            "plan_depth": int(critical_path_length(plan)),
        }
        for agent in AGENTS:
            runs = [await _once(cfg, width, agent) for _ in range(cfg.repeats)]
            row[agent] = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        for agent in AGENTS[:2]:
            row[f"speedup_{agent}"] = row["react"]["latency_s"] / row[agent]["latency_s"]
        rows.append(row)
    return rows


def measure(cfg: LatencyBenchConfig, testset: list[dict[str, Any]] | None = None) -> dict:
    """Measure the workloads of `cfg.widths`, and the synthesized `testset` records when given; returns what the
    bench stage saves as `data/results/llmcompiler_vs_react.json`."""
    rows = run_sync(_ameasure(cfg))
    timed = run_sync(_testset(cfg, testset)) if testset else None
    return {
        "what": "end-to-end latency, LLMCompiler vs ReAct, under a scripted-LLM latency model (not accuracy)",
        "llm": "scripted replay LLM (not a model)",
        "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
        "rows": rows,
        "speedup_stream_by_width": {str(r["width"]): r["speedup_llmcompiler_stream"] for r in rows},
        "speedup_no_stream_by_width": {str(r["width"]): r["speedup_llmcompiler_no_stream"] for r in rows},
        "example_plan": render_plan(parse_plan(workload(min(cfg.widths))[1])),
        "testset": timed
        if timed is not None
        else "skipped: no data/tinyagent/test.jsonl (run workbench synth)",
    }
