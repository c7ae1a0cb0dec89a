"""How close the task fetching unit gets to the physical limit (LLMCompiler, Sec. 3.2 and 5).

On random DAGs of tasks with known durations, the best any scheduler can do is the critical path: the
longest chain of dependent durations. We report makespan / critical path (1.0 is the limit) for:

- our event-driven executor with tools that hold exactly their duration (isolates scheduling),
- the same executor with tools that `asyncio.sleep` (adds the event loop's timer slack, ~0.5 ms per sleep),
- a polling scheduler that checks for ready tasks every 10 ms, as the original LLMCompiler code does.

and the scheduling overhead in microseconds per task on no-op tasks. `workbench bench executor` runs it
(through `workbench.stages.bench.executor`).
"""

from __future__ import annotations

import asyncio
import os
import platform
import random
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from workbench.aio import run_sync
from workbench.compiler.executor import Executor
from workbench.compiler.tools import Tool
from workbench.plan import Step
from workbench.tools.spec import Param, ToolSpec


@dataclass
class ExecutorBenchConfig:
    n_tasks: int = field(default=30, metadata={"help": "tasks per random DAG"})
    edge_prob: float = field(default=0.1, metadata={"help": "probability of an edge i -> j for each i < j"})
    latency_ms: tuple[float, float] = field(default=(5.0, 20.0), metadata={"help": "uniform task durations"})
    seeds: int = field(default=10, metadata={"help": "number of random DAGs"})
    overhead_tasks: int = field(default=1000, metadata={"help": "no-op tasks for the overhead measurement"})
    overhead_repeats: int = field(default=5, metadata={"help": "repeats of the overhead run (median kept)"})
    poll_interval_ms: float = field(default=10.0, metadata={"help": "the polling baseline's interval"})


async def exact_sleep(seconds: float) -> None:
    """Hold for `seconds` without the loop's timer slack: a coarse sleep, then yield until the deadline."""
    deadline = time.perf_counter() + seconds
    if seconds > 0.002:
        await asyncio.sleep(seconds - 0.0015)
    while time.perf_counter() < deadline:
        await asyncio.sleep(0)


def _work_tool(exact: bool) -> Tool:
    async def work(ms: float, *after: str) -> str:
        await (exact_sleep(ms / 1000) if exact else asyncio.sleep(ms / 1000))
        return "done"

    return Tool(ToolSpec("work", (Param("ms", "float"),), "Works for `ms` milliseconds."), work)


def random_dag(seed: int, n: int, p: float, latency_ms: Sequence[float]) -> tuple[list[Step], float]:
    """Steps of a random DAG (each task depends on each earlier one with probability p) and its critical path (s)."""
    rng = random.Random(seed)
    steps, finish = [], {}
    for i in range(1, n + 1):
        deps = tuple(j for j in range(1, i) if rng.random() < p)
        ms = rng.uniform(*latency_ms)
        steps.append(Step(i, "work", (ms, *(f"${d}" for d in deps)), deps))
        finish[i] = ms / 1000 + max((finish[d] for d in deps), default=0.0)
    return steps, max(finish.values())


async def run_polling(steps: Sequence[Step], tool: Tool, interval_s: float) -> float:
    """The baseline: every `interval_s`, start the tasks whose dependencies are done. Returns the makespan."""
    pending, done, running = list(steps), set(), {}
    start = time.perf_counter()
    while pending or running:
        for idx in [i for i, t in running.items() if t.done()]:
            running.pop(idx).result()
            done.add(idx)
        for step in [s for s in pending if all(d in done for d in s.deps)]:
            pending.remove(step)
            running[step.idx] = asyncio.ensure_future(tool.fn(*step.args))
        if pending or running:
            await asyncio.sleep(interval_s)
    return time.perf_counter() - start


async def _ameasure(cfg: ExecutorBenchConfig) -> dict:
    rows = []
    exact, plain = _work_tool(exact=True), _work_tool(exact=False)
    for seed in range(cfg.seeds):
        steps, critical = random_dag(seed, cfg.n_tasks, cfg.edge_prob, cfg.latency_ms)
        ev = await Executor([exact]).run(steps)
        ev_plain = await Executor([plain]).run(steps)
        assert all(r.ok for r in ev.records.values()), "a benchmark task failed"
        polled = await run_polling(steps, exact, cfg.poll_interval_ms / 1000)
        rows.append(
            {
                "seed": seed,
                "critical_path_ms": critical * 1000,
                "event_driven": ev.makespan / critical,
                "event_driven_plain_sleep": ev_plain.makespan / critical,
                "polling": polled / critical,
            }
        )

    async def noop(*after: str) -> str:
        return ""

    noop_tool = Tool(ToolSpec("noop", (), "Does nothing."), noop)
    n = cfg.overhead_tasks
    independent = [Step(i, "noop", (), ()) for i in range(1, n + 1)]
    chain = [Step(1, "noop", (), ())] + [Step(i, "noop", (f"${i - 1}",), (i - 1,)) for i in range(2, n + 1)]
    overhead = {}
    for name, plan in (("independent", independent), ("chain", chain)):
        times = []
        for _ in range(cfg.overhead_repeats):
            t = time.perf_counter()
            await Executor([noop_tool]).run(plan)
            times.append((time.perf_counter() - t) / n * 1e6)
        overhead[name] = statistics.median(times)
    med = lambda key: statistics.median(r[key] for r in rows)  # noqa: E731
    return {
        "makespan_over_critical_path_median": med("event_driven"),
        "makespan_over_critical_path_median_plain_sleep": med("event_driven_plain_sleep"),
        "polling_10ms_makespan_over_critical_path_median": med("polling"),
        "overhead_us_per_task": max(overhead.values()),
        "overhead_us_per_task_independent": overhead["independent"],
        "overhead_us_per_task_chain": overhead["chain"],
        "per_seed": rows,
    }


def measure(cfg: ExecutorBenchConfig) -> dict:
    """Measure; returns what the bench stage saves as `data/results/executor.json`."""
    results = run_sync(_ameasure(cfg))
    results.update(
        {
            "config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
            "targets": {"makespan_over_critical_path_median": 1.05, "overhead_us_per_task": 100.0},
            "machine": {
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
                "platform": platform.platform(),
            },
            "what": "makespan / critical path on random DAGs (1.0 = physical limit); scheduling overhead per task",
        }
    )
    return results
