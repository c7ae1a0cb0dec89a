"""The TinyAgent end to end (Erdogan et al. 2024, Sec. 2-5), on the LLMCompiler loop (Kim et al. 2023, Sec. 3).

    query -> ToolRAG (tools, retrieved examples) -> planner prompt -> planner -> streaming executor on the
    simulated desktop -> joiner -> answer, replanning on errors

    >>> agent = TinyAgent(Planner.best(config.artifacts_dir()))  # doctest: +SKIP
    >>> run_sync(agent.run("Create a meeting with Sid and Lutfi for tomorrow 2pm")).answer  # doctest: +SKIP

    workbench agent "Create a meeting with Sid and Lutfi for tomorrow 2pm"   # plan, tasks, answer, latency
    workbench agent --benchmark [-n N]                                      # data/results/agent.json
    workbench agent "..." --provider mlx --base-url http://127.0.0.1:8080/v1  # the planner `workbench serve` runs
    workbench agent "..." --provider llamacpp --prompt compact --constrained  # served GGUF, grammar per request

One query goes through each part once per round, in this order, and the agent only wires them together:

1. ToolRAG (`toolrag.selection`: the trained classifier, or all 16 tools), and retrieved in-context examples
   when the planner was trained with them;
2. the planner: the planner runtime in process (`planner.Planner`: its prompt kind, examples and grammar-
   constrained decoding as trained; `Planner.llm(tools, query)` streams token by token under the grammar of the
   selected tools, the same decoding as `Planner.plan`), or any `workbench.llm.LLM` (`mlx_lm.server` through
   `MLXServer(...).llm()`, vLLM, OpenAI); a planner served by `llama_cpp.server` is sent the plan grammar of
   the selected tools and the query's spans as GBNF with each request (`grammar`), so it decodes constrained
   and grounded as the in-process one does;
3. `compiler.LLMCompiler`: the task fetching unit runs each task on the desktop's tools as soon as its line is
   written, and the joiner decides. The prompt is `compiler.prompts.planner_chat`; a replan's user turn is
   LLMCompiler's replan request (the fine-tuned planner never saw one in training, so for it a replan is
   little more than a retry). The joiner is rule-based (`RuleJoiner`: finish with the observations, replan on
   an error observation), because no joiner model exists offline; a served general LLM may join instead
   (`joiner="llm"`).

What happens is told to a listener as events (`compiler.events`): the agent adds `toolrag`, the compiler the
rest; `ask` prints them with `EventPrinter`.

Latency per query (`TinyAgentResult.latency`): `toolrag` (tool selection and example retrieval), `planning`
(the planner's calls), `execution` (tool time after the plan was written: streaming hides the rest),
`joining`, and `total`. The agent stage (`workbench.stages.agent`) measures them over test queries into
`data/results/agent.json`.

Bad input never crashes a run: an empty query, a query no tool can serve (ToolRAG selects nothing, or the plan
calls no tool), a planner that writes garbage (replanned, then a clear message), a tool that raises (an error
observation; independent tasks go on); a missing model folder is an error naming `workbench finetune`.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

from workbench.aio import run_sync
from workbench.compiler.agent import AgentResult, LLMCompiler, Round
from workbench.compiler.events import Event, EventPrinter, Listener, ignore
from workbench.compiler.joiner import LLMJoiner, RuleJoiner
from workbench.compiler.prompts import PlannerChat
from workbench.compiler.subagents import LLMWriter
from workbench.compiler.tools import desktop_tools
from workbench.llm.base import LLM
from workbench.llm.openai_compat import from_env
from workbench.llm.select import describe_llm
from workbench.planner.grammar import plan_grammar, query_spans
from workbench.planner.runtime import ExampleFn, Planner, check_context, load_planner, resolve_toolrag
from workbench.toolrag.examples import example_source
from workbench.toolrag.selection import Selector, toolrag_selector
from workbench.tools.desktop import LatencyModel, SimulatedDesktop
from workbench.tools.subagents import OfflineWriter, SubAgent
from workbench.tools.tinyagent import APPS, TOOL_NAMES, tinyagent_tools

STAGES = ("toolrag", "planning", "execution", "joining")
EMPTY_QUERY = 'The query is empty: say what to do, e.g. "Text Sid that I\'m running late".'
NO_TOOL = "None of my tools can do this: {why}. I work with {apps}."
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
        metadata={
            "help": "planner model folder, or a GGUF file (run by llama.cpp) (None: the best planner `workbench "
            "finetune` trained)"
        },
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
            "help": "grammar-constrained decoding: the in-process planner's (None: as its best variant), or a "
            "planner served by llama_cpp.server (provider llamacpp: the GBNF grammar sent with each request)"
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
            "help": "rule (finish with the observations, replan on an error) or llm (an LLM joins: "
            "--joiner-provider, else the served planner)"
        },
    )
    joiner_provider: str | None = field(
        default=None, metadata={"help": "joiner=llm: its backend (openai, vllm, ...; workbench.llm.from_env)"}
    )
    joiner_base_url: str | None = field(default=None, metadata={"help": "joiner=llm: server URL"})
    joiner_model: str | None = field(default=None, metadata={"help": "joiner=llm: model name"})
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
    writer: str = field(
        default="offline",
        metadata={
            "help": "sub-agents that write email bodies, PDF summaries and notes: offline (templates and an "
            "extractive summary, no model) or llm (an LLM: --writer-provider, else the served planner)"
        },
    )
    writer_provider: str | None = field(
        default=None, metadata={"help": "writer=llm: its backend (openai, vllm, ...; workbench.llm.from_env)"}
    )
    writer_base_url: str | None = field(default=None, metadata={"help": "writer=llm: server URL"})
    writer_model: str | None = field(default=None, metadata={"help": "writer=llm: model name"})

    def __post_init__(self) -> None:
        if self.joiner not in ("rule", "llm"):
            raise ValueError(f"joiner must be rule or llm, got {self.joiner!r}")
        if self.writer not in ("offline", "llm"):
            raise ValueError(f"writer must be offline or llm, got {self.writer!r}")
        if self.writer == "llm" and self.provider is None and self.writer_provider is None:
            raise ValueError("writer=llm needs an LLM: --writer-provider (or a served planner, --provider)")
        if self.joiner == "llm" and self.provider is None and self.joiner_provider is None:
            raise ValueError(
                "joiner=llm needs an LLM: --joiner-provider (or a served planner, --provider); no joiner model "
                "exists offline"
            )
        if self.constrained and self.provider not in (None, "llamacpp"):
            raise ValueError(
                f"constrained decoding of a served planner needs --provider llamacpp (its server takes a GBNF "
                f"grammar per request); provider {self.provider!r} decodes unconstrained: drop --constrained"
            )
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
    served: bool = True  # False: no plan was made (no tool fits the query, or it is too long to plan)

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


def served_grammar(tools: Sequence[str], query: str) -> str:
    """The plan grammar of `tools`, grounded in `query`'s spans, as GBNF for a served llama.cpp planner (the
    default limits: the server's file keeps its own decoding settings out of the client's reach)."""
    specs = {s.name: s for s in tinyagent_tools()}
    return plan_grammar([specs[t] for t in tools], spans=query_spans(query), dialect="gbnf")


class TinyAgent:
    """ToolRAG + planner + LLMCompiler executor and joiner on a `SimulatedDesktop`.

    `planner`: a `planner.Planner` (run in process, with its own selector, prompt kind, examples and
    decoding) or any `LLM` (then `select`, `kind` and `examples` say how to prompt it).
    `select(queries) -> tool lists`: ToolRAG (None: all 16 tools). `joiner`: default `RuleJoiner`.
    `grammar(tools, query) -> GBNF` (a served planner only): sent with each planning request as llama.cpp's
    `grammar` option, greedy (`repeat_penalty` 1), so the server decodes under the plan grammar.
    """

    def __init__(
        self,
        planner: LLM | Planner,
        select: Selector | None = None,
        kind: str = "full",
        examples: ExampleFn | None = None,
        joiner: Any = None,
        max_replans: int = 2,
        stream: bool = True,
        max_plan_tokens: int = 512,
        tool_latency: LatencyModel | None = None,
        grammar: Callable[[Sequence[str], str], str] | None = None,
        writer: SubAgent | None = None,
    ):
        self.writer = writer or OfflineWriter()  # the sub-agents (email bodies, summaries, notes)
        self.llm: LLM | None = planner if isinstance(planner, LLM) else None
        if grammar is not None and not hasattr(self.llm, "with_extra_body"):
            raise ValueError("grammar= is for a planner served through the openai client (llama_cpp.server)")
        self.grammar = grammar
        self.local: Planner | None = None if isinstance(planner, LLM) else planner
        if self.local is not None:  # the fine-tuned planner brings its own selection, prompt and budget
            select, kind, examples = self.local.select, self.local.kind, self.local.examples
            max_plan_tokens = self.local.max_new_tokens
        self.select, self.kind, self.examples = select, kind, examples
        self.joiner = joiner or RuleJoiner()
        self.max_replans, self.stream, self.max_plan_tokens = max_replans, stream, max_plan_tokens
        self.tool_latency = tool_latency

    @classmethod
    def from_config(cls, cfg: AgentConfig, artifacts: str | Path) -> TinyAgent:
        """The in-process fine-tuned planner trained under `artifacts`, or the served one when `cfg.provider`
        is set."""
        latency = LatencyModel.typical() if cfg.tool_latency == "typical" else None
        common = {
            "max_replans": cfg.max_replans,
            "stream": cfg.stream,
            "tool_latency": latency,
            "writer": _writer(cfg),
            "joiner": _joiner(cfg),
        }
        if cfg.provider is None:
            if cfg.model is None:
                planner = Planner.best(artifacts, toolrag=cfg.toolrag, constrained=cfg.constrained)
            else:
                decoding = {} if cfg.constrained is None else {"constrained": cfg.constrained}
                planner = load_planner(cfg.model, toolrag=resolve_toolrag(cfg.toolrag, artifacts), **decoding)
            return cls(planner, **common)
        llm = from_env(cfg.provider, cfg.model_name, **({"base_url": cfg.base_url} if cfg.base_url else {}))
        kind = cfg.prompt or ("compact" if cfg.provider == "mlx" else "full")
        return cls(
            llm,
            grammar=served_grammar if cfg.constrained else None,
            select=toolrag_selector(resolve_toolrag(cfg.toolrag, artifacts)),
            kind=kind,
            examples=example_source(cfg.examples) if cfg.examples else None,
            max_plan_tokens=cfg.max_plan_tokens,
            **common,
        )

    def describe(self) -> str:
        joiner = "rule-based (no joiner model offline)" if isinstance(self.joiner, RuleJoiner) else "LLM"
        planner = describe_llm(self.llm) if self.local is None else self.local.describe()
        toolrag = "all 16 tools" if self.select is None else "ToolRAG classifier"
        return (
            f"planner: {planner}; prompt {self.kind}; tools: {toolrag}; joiner: {joiner}; sub-agents: "
            f"{self.writer.name}"
        )

    @property
    def device(self) -> str:
        if self.local is not None:
            import torch

            device = getattr(self.local.model, "device", None)
            kind = getattr(device, "type", "mlx")
            return f"{kind} ({torch.get_num_threads()} threads)"
        url = getattr(self.llm, "base_url", None)
        return f"served at {url}" if url else type(self.llm).__name__

    def tools_for(self, query: str) -> list[str]:
        return list(self.select([query])[0]) if self.select else list(TOOL_NAMES)

    async def run(
        self,
        query: str,
        today: str | None = None,
        desktop: SimulatedDesktop | None = None,
        on_event: Listener = ignore,
    ) -> TinyAgentResult:
        """Answer `query` on `desktop` (default: a fresh simulated one).

        The path of one query: ToolRAG (`select`, retrieved examples), then one `LLMCompiler` run whose
        planner is the planner runtime's streaming LLM (`Planner.llm`: the grammar of the selected tools),
        whose executor runs the desktop's tools, and whose joiner decides. `on_event` hears the selection
        (`toolrag`) and every event of that run (`compiler.events`)."""
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
        on_event(
            Event(
                "toolrag",
                (shown if tools else "no tool") + (", with retrieved examples" if examples else ""),
                tools,
            )
        )
        if not tools:
            return TinyAgentResult(
                query, _no_tool("ToolRAG selected none of the 16 tools"), tools, toolrag_s, served=False
            )
        if self.local is not None:  # past the model's positions a plan would be noise: refuse, and say why
            try:
                check_context(self.local, [query], [today], [tools], ["the query"])
            except ValueError as e:
                return TinyAgentResult(query, str(e), tools, toolrag_s, served=False)
        desktop = desktop or SimulatedDesktop(today=today, latency=self.tool_latency)
        desktop.writer, desktop.request = self.writer, query  # what the sub-agents write from
        if self.local is not None:
            llm = self.local.llm(tools, query, today)
        elif self.grammar is not None:
            llm = self.llm.with_extra_body(grammar=self.grammar(tools, query), repeat_penalty=1.0)
        else:
            llm = self.llm
        compiler = LLMCompiler(
            llm,
            desktop_tools(desktop),
            joiner=self.joiner,
            today=today,
            max_replans=self.max_replans,
            stream=self.stream,
            max_plan_tokens=self.max_plan_tokens,
            messages=PlannerChat(today, tools, self.kind, examples),
        )
        run = await compiler.run(query, on_event)
        out = TinyAgentResult(query, run.answer, tools, toolrag_s, run)
        no_task = not any(r.execution.records for r in run.rounds)
        if run.finished and isinstance(self.joiner, RuleJoiner) and no_task:
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


def _no_tool(why: str) -> str:
    return NO_TOOL.format(why=why, apps=", ".join(APPS))


# ------------------------------------------------------------------------------------ printing, CLI


def format_latency(latency: dict[str, float]) -> str:
    parts = ", ".join(f"{k} {latency[k]:.3f} s" for k in STAGES)
    return f"latency: {parts}; total {latency['total']:.3f} s"


def _side_llm(cfg: AgentConfig, provider: str | None, base_url: str | None, model: str | None) -> Any:
    """The LLM of a joiner or writer: its own when `provider` is set, else the served planner's endpoint."""
    if provider is None:
        provider, base_url, model = cfg.provider, cfg.base_url, model or cfg.model_name
    return from_env(provider, model, **({"base_url": base_url} if base_url else {}))


def _joiner(cfg: AgentConfig) -> LLMJoiner | None:
    """The LLM joiner `cfg` asks for (its own LLM, else the served planner), or None: the rule-based one."""
    if cfg.joiner == "rule":
        return None
    return LLMJoiner(_side_llm(cfg, cfg.joiner_provider, cfg.joiner_base_url, cfg.joiner_model))


def _writer(cfg: AgentConfig) -> SubAgent:
    """The sub-agents `cfg` asks for: the offline writer, or an LLM (its own, else the served planner)."""
    if cfg.writer == "offline":
        return OfflineWriter()
    return LLMWriter(_side_llm(cfg, cfg.writer_provider, cfg.writer_base_url, cfg.writer_model))


def ask(
    agent: TinyAgent, query: str, today: str | None = None, file: IO[str] | None = None
) -> TinyAgentResult:
    """`workbench agent "..."`: run one query, printing the plan, the tasks, the answer and the latency."""
    file = file or sys.stdout
    print(agent.describe(), file=file)
    result = run_sync(agent.closing(agent.run(query, today, on_event=EventPrinter(file))))
    print(f"answer: {result.answer}", file=file)
    print(format_latency(result.latency), file=file)
    return result


def format_benchmark(r: dict[str, Any]) -> str:
    stages = ", ".join(f"{s} {v['median_s']:.3f}/{v['p95_s']:.3f}" for s, v in r["per_stage"].items())
    return (
        f"{r['n']} test queries on {r['device']}: latency median {r['median_latency_s']:.3f} s, p95 "
        f"{r['p95_latency_s']:.3f} s; first-plan success {r['success_test']:.3f}; finished "
        f"{r['finished_rate']:.3f}\nper stage (median/p95 s): {stages}"
    )
