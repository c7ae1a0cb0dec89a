"""The TinyAgent end to end (Erdogan et al. 2024, Sec. 2-5), on the LLMCompiler loop (Kim et al. 2023, Sec. 3).

    query -> ToolRAG (tools, retrieved examples) -> planner prompt -> planner -> streaming executor on the
    simulated desktop -> joiner -> answer, replanning on errors

    >>> agent = TinyAgent(Planner.best())  # doctest: +SKIP
    >>> run_sync(agent.run("Create a meeting with Sid and Lutfi for tomorrow 2pm")).answer  # doctest: +SKIP

    workbench agent "Create a meeting with Sid and Lutfi for tomorrow 2pm"   # plan, tasks, answer, latency
    workbench agent --benchmark [-n N]                                      # data/results/agent.json
    workbench agent "..." --provider mlx --base-url http://127.0.0.1:8080/v1  # the planner `workbench serve` runs

The stages are the existing modules; this one only wires them together:

- ToolRAG: the planner's own selector (`finetune.predict.toolrag_selector`: the trained classifier, or all 16
  tools); retrieved in-context examples are added when the planner was trained with them.
- Planner: the fine-tuned planner in process (`Planner.best()` / `Planner.load(...)`: its prompt kind, examples
  and grammar-constrained decoding as trained), or any `workbench.llm.LLM` (`mlx_lm.server` through
  `MLXServer(...).llm()`, vLLM, OpenAI). The in-process planner *streams*: its model runs in `TransformersLLM`,
  with the plan grammar of the selected tools added to each `generate` call, so a task starts as soon as its
  line is written; greedy decoding gives the same plan as `Planner.plan`.
- Executor and replanning: `compiler.LLMCompiler`, with the planner's own prompt (`planner_chat`); a replan
  appends the previous steps and observations to the query. The fine-tuned planner never saw such a replan
  prompt in training, so for it a replan is little more than a retry.
- Joiner: rule-based (`RuleJoiner`: finish with the observations, replan on an error observation), because no
  joiner model exists offline; a served general LLM may join instead (`joiner="llm"`).

Latency per query (`TinyAgentResult.latency`): `toolrag` (tool selection and example retrieval), `planning`
(the planner's calls), `execution` (tool time after the plan was written: streaming hides the rest),
`joining`, and `total`. `run_benchmark` measures them over test queries into `data/results/agent.json`.

Bad input never crashes a run: an empty query, a query no tool can serve (ToolRAG selects nothing, or the plan
calls no tool), a planner that writes garbage (replanned, then a clear message), a tool that raises (an error
observation; independent tasks go on); a missing model folder is an error naming `workbench finetune`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import statistics
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any, TypeVar

from workbench import config
from workbench.compiler.agent import AgentResult, LLMCompiler, Round
from workbench.compiler.joiner import LLMJoiner, RuleJoiner
from workbench.compiler.prompts import PlannerPrompt, planner_messages
from workbench.compiler.tools import Tool, desktop_tools
from workbench.finetune.prompts import planner_chat
from workbench.llm.base import LLM, Message, StreamState
from workbench.plan import END_OF_PLAN, render_args
from workbench.tools.desktop import LatencyModel, SimulatedDesktop
from workbench.tools.tinyagent import APPS, TOOL_NAMES, tinyagent_tools

if TYPE_CHECKING:
    from workbench.finetune.predict import Planner

STAGES = ("toolrag", "planning", "execution", "joining")
EMPTY_QUERY = 'The query is empty: say what to do, e.g. "Text Sid that I\'m running late".'
NO_TOOL = "None of my tools can do this: {why}. I work with {apps}."
Emit = Callable[[str, str], None]
T = TypeVar("T")


@dataclass
class AgentConfig:
    """The agent and its benchmark. Field help texts serve `--help` and notebooks (`config.describe`)."""

    n: int = field(
        default=20, metadata={"help": "benchmark: the first N queries of data/tinyagent/test.jsonl"}
    )
    warmup: int = field(
        default=1,
        metadata={
            "help": "benchmark: queries run untimed first (the first call of each model pays one-time costs)"
        },
    )
    model: str | None = field(
        default=None,
        metadata={"help": "planner model folder (None: the best planner `workbench finetune` trained)"},
    )
    toolrag: str = field(
        default="auto",
        metadata={
            "help": "ToolRAG classifier folder, 'auto' (the trained one if any) or 'none' (all 16 tools)"
        },
    )
    constrained: bool | None = field(
        default=None,
        metadata={
            "help": "grammar-constrained decoding of the in-process planner (None: as its best variant / False)"
        },
    )
    provider: str | None = field(
        default=None,
        metadata={
            "help": "plan with a served model instead (mlx, vllm, openai, ...: workbench.llm.from_env); None: the "
            "fine-tuned planner in process"
        },
    )
    base_url: str | None = field(default=None, metadata={"help": "served planner: server URL"})
    model_name: str | None = field(default=None, metadata={"help": "served planner: model name"})
    prompt: str | None = field(
        default=None,
        metadata={
            "help": "served planner's prompt: compact (a fine-tuned planner) or full (a general LLM); None: compact "
            "for provider mlx (`workbench serve`), full otherwise"
        },
    )
    examples: int = field(default=0, metadata={"help": "served planner: retrieved in-context examples"})
    joiner: str = field(
        default="rule",
        metadata={
            "help": "rule (finish with the observations, replan on an error) or llm (the served model joins)"
        },
    )
    max_replans: int = field(default=2, metadata={"help": "new plans after the first one, at most"})
    stream: bool = field(default=True, metadata={"help": "dispatch each task as soon as its line is written"})
    max_plan_tokens: int = field(
        default=512,
        metadata={"help": "served planner: generation budget (the in-process one uses its trained budget)"},
    )
    tool_latency: str = field(
        default="none",
        metadata={
            "help": "simulated app latency: none, or typical (a rough model of a laptop's apps, not measured)"
        },
    )

    def __post_init__(self) -> None:
        if self.joiner not in ("rule", "llm"):
            raise ValueError(f"joiner must be rule or llm, got {self.joiner!r}")
        if self.joiner == "llm" and self.provider is None:
            raise ValueError("joiner=llm needs a served model (--provider): no joiner model exists offline")
        if self.tool_latency not in ("none", "typical"):
            raise ValueError(f"tool_latency must be none or typical, got {self.tool_latency!r}")
        if self.n < 1 or self.max_replans < 0 or self.warmup < 0:
            raise ValueError(
                f"need n >= 1, warmup >= 0 and max_replans >= 0, got n={self.n}, warmup={self.warmup}, "
                f"max_replans={self.max_replans}"
            )


@dataclass
class TinyAgentResult:
    """One query's answer, ToolRAG's selection, and the LLMCompiler run (None when no plan was made)."""

    query: str
    answer: str
    tools: list[str]
    toolrag_s: float = 0.0
    run: AgentResult | None = None
    served: bool = True  # False: no tool fits the query

    @property
    def rounds(self) -> list[Round]:
        return self.run.rounds if self.run else []

    @property
    def finished(self) -> bool:
        return self.served and self.run is not None and self.run.finished

    @property
    def first_plan(self) -> str:
        return self.rounds[0].plan_text if self.rounds else ""

    @property
    def latency(self) -> dict[str, float]:
        """Seconds per stage, summed over rounds; `execution` counts only tool time after the plan ended."""
        out = {"toolrag": self.toolrag_s, "planning": 0.0, "execution": 0.0, "joining": 0.0}
        for r in self.rounds:
            out["planning"] += r.plan_end - r.plan_start
            out["execution"] += max(0.0, r.exec_end - r.plan_end)
            out["joining"] += r.join_end - r.exec_end
        out["total"] = self.toolrag_s + (self.run.latency_s if self.run else 0.0)
        return out


class TinyAgent:
    """ToolRAG + planner + LLMCompiler executor and joiner on a `SimulatedDesktop`.

    `planner`: a `finetune.predict.Planner` (run in process, with its own selector, prompt kind, examples and
    decoding) or any `LLM` (then `select`, `kind` and `examples` say how to prompt it).
    `select(queries) -> tool lists`: ToolRAG (None: all 16 tools). `joiner`: default `RuleJoiner`.
    """

    def __init__(
        self,
        planner: LLM | Planner,
        select: Callable[[Sequence[str]], list[list[str]]] | None = None,
        kind: str = "full",
        examples: Callable[[str, list[str]], str] | None = None,
        joiner: Any = None,
        max_replans: int = 2,
        stream: bool = True,
        max_plan_tokens: int = 512,
        tool_latency: LatencyModel | None = None,
    ):
        self.llm: LLM | None = planner if isinstance(planner, LLM) else None
        self.local: Planner | None = None if isinstance(planner, LLM) else planner
        if self.local is not None:  # the fine-tuned planner brings its own selection, prompt and budget
            select, kind, examples = self.local.select, self.local.kind, self.local.examples
            max_plan_tokens = self.local.max_new_tokens
        self.select, self.kind, self.examples = select, kind, examples
        self.joiner = joiner or RuleJoiner()
        self.max_replans, self.stream, self.max_plan_tokens = max_replans, stream, max_plan_tokens
        self.tool_latency = tool_latency

    @classmethod
    def from_config(cls, cfg: AgentConfig) -> TinyAgent:
        """The in-process fine-tuned planner, or the served one when `cfg.provider` is set."""
        from workbench.finetune.predict import Planner, toolrag_selector

        latency = LatencyModel.typical() if cfg.tool_latency == "typical" else None
        common = {"max_replans": cfg.max_replans, "stream": cfg.stream, "tool_latency": latency}
        rag = None if cfg.toolrag == "none" else cfg.toolrag
        if cfg.provider is None:
            if cfg.model is None:
                planner = Planner.best(toolrag=cfg.toolrag, constrained=cfg.constrained)
            else:
                decoding = {} if cfg.constrained is None else {"constrained": cfg.constrained}
                planner = Planner.load(cfg.model, toolrag=rag, **decoding)
            return cls(planner, **common)
        from workbench.finetune.stage import example_source
        from workbench.llm import from_env

        llm = from_env(cfg.provider, cfg.model_name, **({"base_url": cfg.base_url} if cfg.base_url else {}))
        kind = cfg.prompt or ("compact" if cfg.provider == "mlx" else "full")
        return cls(
            llm,
            select=toolrag_selector(rag),
            kind=kind,
            examples=example_source(cfg.examples) if cfg.examples else None,
            joiner=LLMJoiner(llm) if cfg.joiner == "llm" else None,
            max_plan_tokens=cfg.max_plan_tokens,
            **common,
        )

    def describe(self) -> str:
        from workbench.llm.select import describe_llm

        joiner = "rule-based (no joiner model offline)" if isinstance(self.joiner, RuleJoiner) else "LLM"
        if self.local is None:
            planner = describe_llm(self.llm)
        else:
            mode = (
                "grounded"
                if self.local.grounded
                else "grammar-constrained"
                if self.local.constrained
                else "unconstrained"
            )
            name = self.local.model.config._name_or_path
            planner = (
                f"fine-tuned planner in process ({config.shown_path(name) if name else 'in memory'}; "
                f"{mode} greedy decoding, streamed token by token)"
            )
        toolrag = "all 16 tools" if self.select is None else "ToolRAG classifier"
        return f"planner: {planner}; prompt {self.kind}; tools: {toolrag}; joiner: {joiner}"

    @property
    def device(self) -> str:
        if self.local is not None:
            import torch

            return f"{self.local.model.device.type} ({torch.get_num_threads()} threads)"
        url = getattr(self.llm, "base_url", None)
        return f"served at {url}" if url else type(self.llm).__name__

    def tools_for(self, query: str) -> list[str]:
        return list(self.select([query])[0]) if self.select else list(TOOL_NAMES)

    async def run(
        self,
        query: str,
        today: str | None = None,
        desktop: SimulatedDesktop | None = None,
        on_event: Emit | None = None,
    ) -> TinyAgentResult:
        """Answer `query` on `desktop` (default: a fresh simulated one). `on_event(kind, text)` hears the
        selection, each plan line as it is written, each task as it starts and ends, and each replan."""
        emit = on_event or _ignore
        if not query or not query.strip():
            return TinyAgentResult(query, EMPTY_QUERY, [], served=False)
        today = today or dt.date.today().isoformat()
        start = time.perf_counter()
        tools = self.tools_for(query)
        examples = self.examples(query, tools) if self.examples and tools else ""
        toolrag_s = time.perf_counter() - start
        shown = (
            ", ".join(tools) + f" ({len(tools)} of 16)" if len(tools) < len(TOOL_NAMES) else "all 16 tools"
        )
        emit("toolrag", (shown if tools else "no tool") + (", with retrieved examples" if examples else ""))
        if not tools:
            return TinyAgentResult(
                query, _no_tool("ToolRAG selected none of the 16 tools"), tools, toolrag_s, served=False
            )
        desktop = desktop or SimulatedDesktop(today=today, latency=self.tool_latency)
        compiler = LLMCompiler(
            _PlanEcho(self._planner_llm(tools, query), emit),
            [_reporting(t, emit) for t in desktop_tools(desktop)],
            joiner=_ReportingJoiner(self.joiner, emit),
            today=today,
            max_replans=self.max_replans,
            stream=self.stream,
            max_plan_tokens=self.max_plan_tokens,
            messages=lambda q, context: tinyagent_messages(q, today, tools, self.kind, examples, context),
        )
        run = await compiler.run(query)
        out = TinyAgentResult(query, run.answer, tools, toolrag_s, run)
        if (
            run.finished
            and isinstance(self.joiner, RuleJoiner)
            and not any(r.execution.records for r in run.rounds)
        ):
            out.answer, out.served = _no_tool("the planner wrote a plan without a tool call"), False
        return out

    async def closing(self, coro: Awaitable[T]) -> T:
        """`await coro`, then close the served planner's HTTP client of this event loop."""
        try:
            return await coro
        finally:
            close = getattr(self.llm, "aclose", None)
            if close is not None:
                await close()

    def _planner_llm(self, tools: list[str], query: str) -> LLM:
        """The served LLM, or the in-process model under the grammar of `tools` (and, decoding grounded, of the
        spans of `query`) when it decodes constrained."""
        if self.local is None:
            return self.llm
        from workbench.llm.local import TransformersLLM

        grammar = None
        if self.local.constrained:
            from workbench.finetune.grammar import plan_grammar, query_spans

            spans = query_spans(query) if self.local.grounded else None
            grammar = plan_grammar(tinyagent_tools(tools), **self.local.grammar_limits, spans=spans)
        model = _DecodingModel(self.local.model, self.local.tokenizer, grammar)
        return TransformersLLM(
            model, self.local.tokenizer, default_max_tokens=self.max_plan_tokens, name="fine-tuned planner"
        )


def tinyagent_messages(
    query: str, today: str, tools: Sequence[str], kind: str = "compact", examples: str = "", context: str = ""
) -> list[Message]:
    """The planner's chat (`planner_chat`); a replan's user message carries LLMCompiler's replan request."""
    chat = planner_chat(query, today, tools, kind, examples)
    if context:  # one wording of the replan request for every planner: LLMCompiler's (its system part unused)
        chat[-1] = planner_messages(PlannerPrompt(()), query, context)[-1]
    return chat


def _ignore(kind: str, text: str) -> None:
    pass


def _no_tool(why: str) -> str:
    return NO_TOOL.format(why=why, apps=", ".join(APPS))


def _clip(text: str, n: int = 100) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 3] + "..."


class _DecodingModel:
    """The planner's model with its decoding settings added to each `generate` call: the end-of-turn token, and
    a fresh logits processor for the plan grammar when decoding is constrained (as `Planner.plan` decodes)."""

    def __init__(self, model: Any, tokenizer: Any, grammar: str | None):
        self._model, self._tokenizer, self._grammar = model, tokenizer, grammar

    def eval(self) -> _DecodingModel:
        self._model.eval()
        return self

    def generate(self, *args: Any, **kwargs: Any) -> Any:
        extra: dict[str, Any] = {"eos_token_id": self._tokenizer.eos_token_id}
        if self._grammar is not None:
            from workbench.finetune.grammar import constrained_generate_kwargs

            extra = constrained_generate_kwargs(self._tokenizer, self._grammar)
        return self._model.generate(*args, **{**kwargs, **extra})

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class _PlanEcho(LLM):
    """The planner, unchanged, telling `emit` each line of its plan as soon as the line is complete."""

    def __init__(self, inner: LLM, emit: Emit):
        self.inner, self.emit, self.model = inner, emit, inner.model

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        pending, ended = "", False
        async with contextlib.aclosing(
            self.inner._generate(messages, stop, temperature, max_tokens, state)
        ) as chunks:
            async for chunk in chunks:  # closing this stream (at join()) closes the inner one
                if not ended:
                    pending += chunk
                    ended = END_OF_PLAN in pending
                    *lines, pending = (pending.split(END_OF_PLAN)[0] + "\n" if ended else pending).split("\n")
                    for line in lines:
                        if line.strip():
                            self.emit("plan", line.strip())
                yield chunk
        if pending.strip():
            self.emit("plan", pending.strip())


def _reporting(tool: Tool, emit: Emit) -> Tool:
    """`tool`, telling `emit` when each call starts and ends (a raise is passed on: the executor records it)."""

    async def call(*args: Any) -> Any:
        emit("start", f"{tool.name}({_clip(render_args(args))})")
        try:
            out = await tool.fn(*args) if tool.is_async else await asyncio.to_thread(tool.fn, *args)
        except asyncio.CancelledError:
            emit("end", f"{tool.name} cancelled (timed out, or the run was stopped)")
            raise
        except Exception as e:
            emit("end", f"{tool.name} raised {type(e).__name__}: {_clip(e)}")
            raise
        emit("end", f"{tool.name} -> {_clip(out)}")
        return out

    return Tool(tool.spec, call)


class _ReportingJoiner:
    def __init__(self, inner: Any, emit: Emit):
        self.inner, self.emit = inner, emit

    async def __call__(self, question: str, pad: str, execution: Any) -> Any:
        decision, completion = await self.inner(question, pad, execution)
        if decision.action == "replan":
            self.emit("replan", _clip(decision.answer, 200))
        return decision, completion


# --------------------------------------------------------------------------------------- printing, CLI


class EventPrinter:
    """Prints each event with the seconds since the query was given: `[ 0.213 s] plan    1. ...`."""

    def __init__(self, file: IO[str] | None = None):
        self.file = file or sys.stdout
        self.start = time.perf_counter()

    def __call__(self, kind: str, text: str) -> None:
        print(f"[{time.perf_counter() - self.start:7.3f} s] {kind:<7} {text}", file=self.file, flush=True)


def format_latency(latency: dict[str, float]) -> str:
    parts = ", ".join(f"{k} {latency[k]:.3f} s" for k in STAGES)
    return f"latency: {parts}; total {latency['total']:.3f} s"


def ask(
    agent: TinyAgent, query: str, today: str | None = None, file: IO[str] | None = None
) -> TinyAgentResult:
    """`workbench agent "..."`: run one query, printing the plan, the tasks, the answer and the latency."""
    from workbench.aio import run_sync

    file = file or sys.stdout
    print(agent.describe(), file=file)
    result = run_sync(agent.closing(agent.run(query, today, on_event=EventPrinter(file))))
    print(f"answer: {result.answer}", file=file)
    print(format_latency(result.latency), file=file)
    return result


# ------------------------------------------------------------------------------------------- benchmark


def _median_p95(values: Sequence[float]) -> dict[str, float]:
    import numpy as np

    return {
        "median_s": round(statistics.median(values), 4),
        "p95_s": round(float(np.percentile(values, 95)), 4),
    }


def run_benchmark(
    cfg: AgentConfig | None = None, agent: TinyAgent | None = None, progress: bool = True
) -> dict[str, Any]:
    """End-to-end latency and first-plan success over the first `cfg.n` test queries: `data/results/agent.json`.

    Queries run one after another (after `cfg.warmup` untimed ones), each on a fresh simulated desktop that
    knows the people and files its gold plan names (so a right plan runs without errors). Keys:
    `median_latency_s`, `p95_latency_s`, `mean_latency_s`, `latencies_s` (end to end, per query);
    `per_stage` ({stage: {median_s, p95_s}} for toolrag, planning, execution, joining); `success_test` (DAG
    isomorphism of the first round's plan with the gold plan, `finetune.evaluate.score_plan`, as in `workbench
    finetune`); `finished_rate` (answered within the replanning budget), `mean_rounds`, `toolrag_recall_test`
    (ToolRAG kept every gold tool); `profile`, `n`, `device`, `agent`, `stream`, `tool_latency`, `warmup`, `wall_s`.
    """
    from tqdm.auto import tqdm

    from workbench.aio import run_sync
    from workbench.finetune.evaluate import score_plan
    from workbench.synth.dataset import load_split

    cfg = cfg or config.stage_config(AgentConfig, "agent")
    records = load_split("test", limit=cfg.n)
    agent = agent or TinyAgent.from_config(cfg)
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


def format_benchmark(r: dict[str, Any]) -> str:
    stages = ", ".join(f"{s} {v['median_s']:.3f}/{v['p95_s']:.3f}" for s, v in r["per_stage"].items())
    return (
        f"{r['n']} test queries on {r['device']}: latency median {r['median_latency_s']:.3f} s, p95 "
        f"{r['p95_latency_s']:.3f} s; first-plan success {r['success_test']:.3f}; finished "
        f"{r['finished_rate']:.3f}\nper stage (median/p95 s): {stages}"
    )
