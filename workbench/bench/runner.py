"""Run LLMCompiler (or the ReAct baseline) over a benchmark and score it (Kim et al. 2023, Sec. 5.1-5.2).

The paper reports, per benchmark and agent, accuracy, mean end-to-end latency, tokens and dollar cost
(Tables 1-2). Latency is measured one query at a time, so that no query competes with another for the
model server: the examples run strictly one after another here too.

    cfg = BenchRunConfig(benchmark="hotpotqa", limit=50, model="gpt-4o", store="runs/hotpotqa.jsonl")
    summary = run_benchmark(cfg)          # in a notebook: summary = await arun_benchmark(cfg)
    print(format_summary(summary))

A benchmark run is long and pays for every call, so the store is an append-only JSONL file with one
record per example, flushed and fsynced as soon as the example is scored. Running again with the same
store resumes: examples already stored are not run again, their records count in the summary. A process
killed mid-write leaves at most a truncated last line; it is ignored with a warning (and cut off before
appending, so that the next record starts on a line of its own), and that example is run again.

Exceptions from the model (an `LLMError` after its retries) stop the run rather than being scored as a
wrong answer: the stored examples stay, and the next run resumes after them.
"""

from __future__ import annotations

import asyncio
import json
import math
import statistics
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from workbench.bench.cost import cost_usd
from workbench.bench.datasets import BENCHMARKS, Example, load_benchmark
from workbench.bench.examples import benchmark_tools, examples_for
from workbench.bench.scoring import score
from workbench.bench.wiki import Docstore, LocalDocstore, OnlineWikipedia
from workbench.compiler.agent import AgentResult, LLMCompiler
from workbench.compiler.joiner import LLMJoiner
from workbench.compiler.react import ReAct
from workbench.jsonl import StoreWarning, append, open_for_append, read_records
from workbench.llm.base import LLM, Completion, Message, StreamState, Usage
from workbench.llm.openai_compat import from_env

AGENTS = ("llmcompiler", "react")
#: What a record must agree on with the run that resumes it (mixing them would make the summary meaningless).
RUN_KEYS = ("benchmark", "agent", "model", "stream")


@dataclass
class BenchRunConfig:
    """One benchmark run. Field help texts serve `--help` and notebooks (`config.describe`)."""

    benchmark: str = field(
        default="hotpotqa", metadata={"help": "hotpotqa | movie | parallelqa", "choices": tuple(BENCHMARKS)}
    )
    limit: int | None = field(default=None, metadata={"help": "run only the first N examples (None: all)"})
    react: bool = field(default=False, metadata={"help": "run the ReAct baseline instead of LLMCompiler"})
    stream: bool = field(
        default=True,
        metadata={"help": "LLMCompiler: dispatch each task as soon as the planner has written its line"},
    )
    provider: str = field(
        default="openai",
        metadata={
            "help": "LLM provider for from_env (openai, azure, vllm, friendli, llamacpp, lmstudio, mlx)"
        },
    )
    model: str | None = field(default=None, metadata={"help": "model name (None: the provider's variable)"})
    base_url: str | None = field(default=None, metadata={"help": "server URL (None: the provider's default)"})
    docstore: str | None = field(
        default=None,
        metadata={"help": "folder of Wikipedia pages for LocalDocstore (None: the online Wikipedia API)"},
    )
    store: str | None = field(
        default=None,
        metadata={"help": "JSONL file of per-example records; a run resumes from it (None: keep nothing)"},
    )
    logging: bool = field(default=False, metadata={"help": "print each example's answer and score"})
    max_replans: int = field(
        default=2, metadata={"help": "LLMCompiler: how many times the joiner may replan"}
    )
    temperature: float = field(default=0.0, metadata={"help": "sampling temperature of every LLM call"})

    def __post_init__(self) -> None:
        if self.benchmark not in BENCHMARKS:
            raise ValueError(f"unknown benchmark {self.benchmark!r}; choose one of {', '.join(BENCHMARKS)}")
        if self.limit is not None and self.limit < 0:
            raise ValueError(f"limit must be >= 0 or None, got {self.limit}")
        if self.max_replans < 0:
            raise ValueError(f"max_replans must be >= 0, got {self.max_replans}")
        if not 0.0 <= self.temperature <= 2.0:
            raise ValueError(f"temperature must be between 0 and 2, got {self.temperature}")

    @property
    def agent(self) -> str:
        return "react" if self.react else "llmcompiler"


# ------------------------------------------------------------------------------------------- LLM wrappers


class _Tempered(LLM):
    """Another LLM at a fixed temperature: the agents call with the default (0), the config may say else."""

    def __init__(self, inner: LLM, temperature: float):
        self.inner = inner
        self.temperature = temperature
        self.model = inner.model

    def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        return self.inner._generate(messages, stop, self.temperature, max_tokens, state)

    async def aclose(self) -> None:
        close = getattr(self.inner, "aclose", None)
        if close is not None:
            await close()


class _ToolLLM:
    """The math tool's model, with its completions kept: a tool's LLM calls cost tokens like the agent's."""

    def __init__(self, llm: LLM):
        self.llm = llm
        self.completions: list[Completion] = []

    async def complete(self, messages: list[Message]) -> Completion:
        done = await self.llm.complete(messages)
        self.completions.append(done)
        return done


# ---------------------------------------------------------------------------------------------- the store


def read_store(path: str | Path) -> list[dict[str, Any]]:
    """The whole records of a stored run, in file order (see `workbench.jsonl` for torn lines)."""
    return read_records(path)


# -------------------------------------------------------------------------------------------- summaries


def _mean(values: Iterable[float]) -> float | None:
    values = list(values)
    return statistics.fmean(values) if values else None


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The run's figures from its records; independent of record order (fsum-based means), so a resumed
    run and `evaluate` of its store agree exactly."""
    if not records:
        raise ValueError("no records to summarize")
    first = records[0]
    for key in RUN_KEYS:
        values = sorted({json.dumps(r.get(key)) for r in records})
        if len(values) > 1:
            raise ValueError(f"the records mix runs with different {key}: {', '.join(values)}")
    costs = [r.get("cost_usd") for r in records]
    replans = [r["replans"] for r in records if r.get("replans") is not None]
    return {
        "benchmark": first["benchmark"],
        "agent": first["agent"],
        "stream": first["stream"],
        "model": first["model"],
        "n": len(records),
        "accuracy": _mean(1.0 if r["correct"] else 0.0 for r in records),
        "latency_mean_s": _mean(r["latency_s"] for r in records),
        "latency_median_s": statistics.median(r["latency_s"] for r in records),
        "prompt_tokens_mean": _mean(r["prompt_tokens"] for r in records),
        "completion_tokens_mean": _mean(r["completion_tokens"] for r in records),
        "cost_usd_total": None if any(c is None for c in costs) else math.fsum(costs),
        "replans_total": sum(replans) if replans else None,
    }


#: What `summarize` reads of every record: (types, what it is called). A store of another kind (the LLM
#: teacher's, or predictions) is refused by name rather than failing with a `KeyError` deep inside.
RECORD_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "benchmark": ((str,), "text"),
    "agent": ((str,), "text"),
    "model": ((str,), "text"),
    "stream": ((bool,), "true or false"),
    "correct": ((bool, int), "true or false"),
    "latency_s": ((int, float), "a number"),
    "prompt_tokens": ((int,), "a whole number"),
    "completion_tokens": ((int,), "a whole number"),
}


def evaluate(path: str | Path) -> dict[str, Any]:
    """The summary of every record in a stored JSONL run (what `run_benchmark` returned for it)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no stored run at {path}")
    records = read_store(path)  # a folder: an error that says so
    if not records:
        raise ValueError(f"{path} holds no complete record")
    for record in records:
        _check_run_record(path, record)
    return summarize(records)


def _check_run_record(path: Path, record: dict[str, Any]) -> None:
    """A record that `summarize` can read, or an error naming the store and what it expected."""
    missing = [k for k in RECORD_FIELDS if k not in record]
    if missing:
        raise ValueError(
            f"{path} is not a stored benchmark run: its record {record['id']!r} has no {', '.join(missing)} "
            "(`workbench bench evaluate` reads the store that `workbench bench run --store` writes)"
        )
    for key, (types, kind) in RECORD_FIELDS.items():
        if not isinstance(record[key], types):
            raise ValueError(
                f"{path} is not a stored benchmark run: its record {record['id']!r} has {key} "
                f"{record[key]!r}, not {kind}"
            )


def format_summary(summary: dict[str, Any]) -> str:
    """A short block for a terminal or notebook cell."""

    def num(value: float | None, fmt: str) -> str:
        return "n/a" if value is None else format(value, fmt)

    agent = summary["agent"]
    if agent != "react" and not summary["stream"]:
        agent += " (no streaming)"
    accuracy = summary["accuracy"]
    cost = summary["cost_usd_total"]
    return "\n".join(
        [
            f"{summary['benchmark']} / {agent} / {summary['model']}: {summary['n']} examples",
            f"  accuracy   {num(None if accuracy is None else 100 * accuracy, '.1f')} %",
            f"  latency    mean {num(summary['latency_mean_s'], '.2f')} s, median "
            f"{num(summary['latency_median_s'], '.2f')} s",
            f"  tokens     {num(summary['prompt_tokens_mean'], '.0f')} prompt + "
            f"{num(summary['completion_tokens_mean'], '.0f')} completion per example",
            f"  cost       {'unknown (no price for this model)' if cost is None else f'${cost:.4f}'}",
            f"  replans    {num(summary['replans_total'], 'd')}",
        ]
    )


# -------------------------------------------------------------------------------------------------- run


def _wiki(cfg: BenchRunConfig) -> Docstore:
    if cfg.docstore is None:
        return OnlineWikipedia()
    folder = Path(cfg.docstore)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"docstore folder {folder} does not exist: give a folder of <Title>.txt pages "
            "and/or a pages.jsonl, or leave docstore unset to use the online Wikipedia"
        )
    return LocalDocstore(folder)


def _llm(cfg: BenchRunConfig) -> LLM:
    overrides = {"base_url": cfg.base_url} if cfg.base_url else {}
    return from_env(cfg.provider, cfg.model, **overrides)


def _record(
    cfg: BenchRunConfig, model: str, example: Example, result: AgentResult, tool_calls: Sequence[Completion]
) -> dict[str, Any]:
    usage = result.usage + sum((c.usage for c in tool_calls), Usage())
    answer = result.answer
    return {
        "id": example.id,
        "question": example.question,
        "gold": example.answer,
        "answer": answer,
        "correct": score(cfg.benchmark, answer, example.answer),
        "latency_s": result.latency_s,
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "llm_calls": result.llm_calls + len(tool_calls),
        # ReAct has no plans to redo: each of its turns is one step, so replans do not apply.
        "replans": None if cfg.react else max(0, len(result.rounds) - 1),
        "finished": result.finished,
        "cost_usd": cost_usd(model, usage),
        "plans": [r.plan_text for r in result.rounds],  # ReAct: its turns
        "benchmark": cfg.benchmark,
        "agent": cfg.agent,
        "model": model,
        "stream": cfg.stream,
    }


def _check_resumable(path: Path, records: Iterable[dict[str, Any]], expected: dict[str, Any]) -> None:
    for record in records:
        for key, value in expected.items():
            if record.get(key) != value:
                raise ValueError(
                    f"the store {path} holds a record of another run ({key}={record.get(key)!r}, "
                    f"this run has {value!r}, id {record['id']!r}); use another store path"
                )


async def arun_benchmark(
    cfg: BenchRunConfig, llm: LLM | None = None, wiki: Docstore | None = None
) -> dict[str, Any]:
    """`run_benchmark` for callers inside an event loop (Jupyter: ``await arun_benchmark(cfg)``)."""
    store = Path(cfg.store) if cfg.store else None
    if store is not None:
        if store.is_dir():
            raise IsADirectoryError(
                f"the store {store} is a directory; give a file path such as {store / 'run.jsonl'}"
            )
    wiki = wiki if wiki is not None else _wiki(cfg)
    base = llm if llm is not None else _llm(cfg)
    model = cfg.model or base.model
    agent_llm = base if cfg.temperature == 0.0 else _Tempered(base, cfg.temperature)
    examples = load_benchmark(cfg.benchmark, cfg.limit)
    tool_llm = _ToolLLM(agent_llm)
    texts = examples_for(cfg.benchmark)
    tools = benchmark_tools(cfg.benchmark, wiki, tool_llm, react=cfg.react)
    agent: LLMCompiler | ReAct
    if cfg.react:
        agent = ReAct(agent_llm, tools, examples=texts.react)
    else:
        agent = LLMCompiler(
            agent_llm,
            tools,
            joiner=LLMJoiner(agent_llm, texts.joiner),
            examples=texts.planner,
            max_replans=cfg.max_replans,
            stream=cfg.stream,
        )

    stored: dict[str, dict[str, Any]] = {}
    out: IO[str] | None = None
    if store is not None:
        previous, out = open_for_append(store)
        try:
            _check_resumable(
                store,
                previous,
                {"benchmark": cfg.benchmark, "agent": cfg.agent, "model": model, "stream": cfg.stream},
            )
        except ValueError:
            out.close()
            raise
        stored = {r["id"]: r for r in previous}
    records: list[dict[str, Any]] = []
    todo = [e for e in examples if e.id not in stored]
    records += [stored[e.id] for e in examples if e.id in stored]
    bar = tqdm(total=len(examples), initial=len(records), unit="q", desc=f"{cfg.benchmark}/{cfg.agent}")
    try:
        for example in todo:
            tool_llm.completions.clear()
            result = await agent.run(example.question)
            record = _record(cfg, model, example, result, tool_llm.completions)
            if out is not None:
                append(out, record)
            records.append(record)
            bar.update(1)
            bar.set_postfix(acc=f"{sum(r['correct'] for r in records) / len(records):.2f}")
            if cfg.logging:
                mark = "ok   " if record["correct"] else "WRONG"
                bar.write(
                    f"{mark} {example.id}  {record['latency_s']:.2f}s  answer={record['answer']!r}  "
                    f"gold={record['gold']!r}"
                )
    finally:
        bar.close()
        if out is not None:
            out.close()
        close = getattr(agent_llm, "aclose", None)
        if llm is None and close is not None:
            await close()  # a client we built: close its connections on this event loop
    if not records:
        raise ValueError(f"benchmark {cfg.benchmark!r} with limit={cfg.limit} has no example to run")
    return summarize(records)


def run_benchmark(
    cfg: BenchRunConfig, llm: LLM | None = None, wiki: Docstore | None = None
) -> dict[str, Any]:
    """Run `cfg` and return its summary (see the module docstring); `llm` and `wiki` replace what the
    config would build (a scripted LLM or a prepared docstore in tests and notebooks).

    The summary covers this run's examples, stored earlier or run now; `evaluate(store)` covers every
    record in the file, which is the same set unless the store also holds other examples.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(arun_benchmark(cfg, llm, wiki))
    raise RuntimeError(
        "run_benchmark was called inside a running event loop (a notebook?): use "
        "`await arun_benchmark(cfg)` there instead"
    )


__all__ = [
    "AGENTS",
    "BenchRunConfig",
    "StoreWarning",
    "arun_benchmark",
    "evaluate",
    "format_summary",
    "read_store",
    "run_benchmark",
    "summarize",
]
