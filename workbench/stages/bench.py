"""The LLMCompiler benchmarks (Kim et al. 2023, Sec. 5): `run(cfg)` picks one by the type of `cfg`.

- `ExecutorBenchConfig` -> `executor`: makespan / critical path on random DAGs and the overhead per task
  (`data/results/executor.json`);
- `LatencyBenchConfig` -> `latency`: LLMCompiler vs ReAct latency by plan width under a scripted LLM
  (`data/results/llmcompiler_vs_react.json`, `figures/fig_llmcompiler_vs_react.png`);
- `ReliabilityConfig` -> `reliability`: the fuzz and fault harness (`data/results/reliability.json`);
- `BenchRunConfig` -> `llmcompiler`: LLMCompiler (or ReAct) on HotpotQA, Movie or ParallelQA; the run's
  records go to its own resumable store (`cfg.store`), the summary is returned.

    >>> run(config.stage_config(LatencyBenchConfig, "bench_latency", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from workbench import config
from workbench.bench import executor_bench
from workbench.bench import latency as latency_bench
from workbench.bench import reliability as reliability_bench
from workbench.bench.executor_bench import ExecutorBenchConfig
from workbench.bench.latency import LatencyBenchConfig
from workbench.bench.reliability import ReliabilityConfig
from workbench.bench.runner import BenchRunConfig, run_benchmark
from workbench.synth.dataset import load_split, split_path
from workbench.viz.timeline import fig_llmcompiler_vs_react


def executor(cfg: ExecutorBenchConfig | None = None) -> dict[str, Any]:
    """Measure the task fetching unit and write `executor.json`."""
    cfg = cfg or config.stage_config(ExecutorBenchConfig, "bench_executor")
    results = executor_bench.measure(cfg)
    config.save_results("executor", results)
    return results


def latency(cfg: LatencyBenchConfig | None = None) -> dict[str, Any]:
    """Measure LLMCompiler vs ReAct (and on `cfg.testset_n` synthesized test queries when the dataset exists);
    write `llmcompiler_vs_react.json` and its figure."""
    cfg = cfg or config.stage_config(LatencyBenchConfig, "bench_latency")
    dataset = config.dataset_dir()
    testset = None
    if cfg.testset_n and split_path("test", dataset).exists():
        testset = load_split("test", cfg.testset_n, folder=dataset)
    results = {"profile": config.active_profile(), **latency_bench.measure(cfg, testset)}
    config.save_results("llmcompiler_vs_react", results)
    fig_llmcompiler_vs_react(results)
    return results


def reliability(cfg: ReliabilityConfig | None = None) -> dict[str, Any]:
    """Run the fuzz and fault harness and write `reliability.json` (the failures, with examples)."""
    cfg = cfg or config.stage_config(ReliabilityConfig, "bench_reliability")
    results = {"profile": config.active_profile(), **reliability_bench.run(cfg)}
    config.save_results("reliability", results)
    return results


def llmcompiler(cfg: BenchRunConfig, llm: Any = None, wiki: Any = None) -> dict[str, Any]:
    """One paper benchmark run (resumed from `cfg.store` when it holds records); returns the summary.

    `llm` and `wiki` replace what the config would build (a scripted LLM or a prepared docstore).
    """
    return run_benchmark(cfg, llm=llm, wiki=wiki)


def run(cfg: ExecutorBenchConfig | LatencyBenchConfig | BenchRunConfig | ReliabilityConfig) -> dict[str, Any]:
    """The benchmark that `cfg` configures (see the module docstring)."""
    if isinstance(cfg, ExecutorBenchConfig):
        return executor(cfg)
    if isinstance(cfg, LatencyBenchConfig):
        return latency(cfg)
    if isinstance(cfg, BenchRunConfig):
        return llmcompiler(cfg)
    if isinstance(cfg, ReliabilityConfig):
        return reliability(cfg)
    raise TypeError(f"no benchmark is configured by a {type(cfg).__name__}")
