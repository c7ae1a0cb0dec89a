"""The planner runtime: a fine-tuned planner, its prompt and its decoding, written once for every caller.

TinyAgent (Erdogan et al. 2024, Sec. 3-5) plans with a small fine-tuned model: ToolRAG picks the tools, the
prompt names them (`compiler.prompts.planner_chat`, the kind it was trained with), and the model writes the
plan, here optionally under the plan grammar of the selected tools (`planner.grammar`: constrained decoding,
and grounded decoding, which also holds names, files and places to spans of the query).

One `Planner` serves every caller, on any in-process engine (`TransformersLLM`, `MLXLLM` or `LlamaCppLLM`: a
GGUF file on llama.cpp, whose sampler applies the same grammar written as GBNF):

- `plan(queries)`: batch decoding (greedy, left-padded batches of similar length), for evaluation and
  `workbench predict`; a constrained plan that the token budget cut off is closed after its last whole step
  (`grammar.close_cut_plan`) and marked `"cut"`;
- `llm(tools, query)`: the same model as a streaming `workbench.llm.LLM` that decodes under the same grammar,
  for the agent and the plan-graph explorer (LLMCompiler streams the plan into the executor);
- `messages(query, today, tools)`: the chat both of them decode from.

Both paths run the engine's one decoding function (`TransformersLLM.decode`, `MLXLLM.decode`,
`LlamaCppLLM.decode`) under the same grammar (`constrained_engine`), so a greedy streamed plan is the batch plan.

    >>> planner = Planner.best(artifacts_dir())  # doctest: +SKIP
    >>> planner.plan(["Text Ana that I'm late"], ["2024-06-12"])[0]["plan"]  # doctest: +SKIP
    '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "I\\'m late")\\n3. join()<END_OF_PLAN>'
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import json
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench import config
from workbench.compiler.prompts import planner_chat
from workbench.files import write_text_atomic
from workbench.finetune.base import load_model
from workbench.finetune.llamacpp import saved_gguf_decoding
from workbench.finetune.settings import DECODING_FILE
from workbench.jsonl import read_jsonl_numbered
from workbench.llm.base import LLM, Message, StreamState
from workbench.llm.llamacpp import LlamaCppLLM
from workbench.llm.local import MLXLLM, TransformersLLM, model_folder_or_hub_id, need_mlx_lm
from workbench.plan import END_OF_PLAN, JOIN, RepeatMerger, merge_repeated_calls
from workbench.planner.dates import DateRepair, named_day
from workbench.planner.grammar import (
    MAX_COUNTED_STATES,
    PlanLogitsProcessor,
    close_cut_plan,
    mlx_logits_processor,
    plan_grammar,
    query_spans,
)
from workbench.planner.lookups import VERSION as LOOKUP_BINDING_VERSION
from workbench.planner.lookups import LookupBinder, bind_lookups
from workbench.planner.references import VERSION as REFERENCE_REPAIR_VERSION
from workbench.planner.references import ReferenceTyper, retype_references
from workbench.planner.requests import (
    dropped_steps,
    ends_in_join,
    insert_before_join,
    is_join_line,
    join_line,
    split_requests,
)
from workbench.toolrag.examples import example_source
from workbench.toolrag.selection import Selector, call_counter, toolrag_selector
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools

NO_TOOL_PLAN = f"1. {JOIN}(){END_OF_PLAN}"  # the plan for a query that no selected tool serves
ExampleFn = Callable[[str, list[str]], str]  # (query, tools) -> in-context examples for the prompt
_SPECS = {s.name: s for s in tinyagent_tools()}
MAX_COVERED = 6  # `cover_tools` requires at most this many selected tools (a grammar of 2**6 states per step)


@dataclass
class Repairs:
    """The runtime's repairs of a model's plan; `workbench predict --no-merge-repeats` (and the like) turns one
    off to measure the model's plans alone. The five repairs are on by default; the two decoding constraints
    (`cover_tools`, `exact_counts`) are off."""

    merge_repeats: bool = field(
        default=True,
        metadata={"help": "merge a call the model repeats with the same arguments into the first"},
    )
    recover_requests: bool = field(
        default=True,
        metadata={"help": "plan each request of a query alone too, and put back one the whole plan dropped"},
    )
    resolve_dates: bool = field(
        default=True,
        metadata={"help": "move the plan's dates onto the day the query names, worked out from today"},
    )
    type_references: bool = field(
        default=True,
        metadata={"help": "re-point a reference to a step that cannot give what the parameter takes"},
    )
    bind_lookups: bool = field(
        default=True,
        metadata={
            "help": "bind a contact look-up nothing uses (and no request asks for) to the step that needs it"
        },
    )
    cover_tools: bool = field(
        default=False,
        metadata={"help": "under the plan grammar, call each tool ToolRAG selected (up to 6) before join()"},
    )
    exact_counts: bool = field(
        default=False,
        metadata={
            "help": "under the plan grammar, call each tool ToolRAG selected exactly as often as its count head "
            "reads (a classifier trained with one)"
        },
    )


class Planner:
    """A planner model with its prompt settings, tool selection and decoding mode.

    `model`: a `TransformersLLM`, `MLXLLM` or `LlamaCppLLM`, or a loaded Hugging Face model (then pass `tokenizer`).
    `select(queries) -> tool lists`: ToolRAG (None: all 16 tools). `kind`: the prompt kind. `examples(query,
    tools)`: retrieved in-context examples. `constrained` / `grounded`: decoding under the plan grammar
    (`grammar_limits` bound it), grounded also to the query's spans. `merge_repeats`: a call the model
    writes twice with the same arguments is merged into the first (`plan.RepeatMerger`), in batch and stream.
    `recover_requests`: the requests of a query are planned one by one as well, and one the whole plan
    dropped is put back (`planner.requests`). `resolve_dates`: the day a query names ("tomorrow", "on
    Friday") is worked out from today's date and the plan's dates moved onto it (`planner.dates`).
    `type_references`: a reference to a step of the wrong kind is re-pointed (`planner.references`).
    `bind_lookups`: a contact look-up nothing uses, and no request asks for, is bound to the step with an
    empty slot of its kind (`planner.lookups`). `cover_tools` (off by default): under the grammar, a plan calls each tool ToolRAG selected before it
    joins (at most `MAX_COVERED` of them), since a plan that leaves one out has usually dropped a request.
    Measured on the offline run of cf1ba92 (full + ToolRAG + constrained) it fixes half the missing steps but
    the model, kept from joining, pads the plan with repeats: dev 0.842 against 0.848, ood 0.473 against
    0.487, test 0.900 against 0.893, val 0.853 both. `exact_counts` (off by default): under the grammar, a
    plan calls each selected tool exactly as many times as ToolRAG's count head reads (`calls`), and nothing
    else, so it can neither drop a second look-up nor pad with a repeat.
    """

    #: the versions of `type_references`' and `bind_lookups`' repairs, which the kept evaluations' key holds
    reference_repair = REFERENCE_REPAIR_VERSION
    lookup_binding = LOOKUP_BINDING_VERSION

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        select: Selector | None = None,
        kind: str = "compact",
        constrained: bool = False,
        examples: ExampleFn | None = None,
        max_new_tokens: int = 320,
        batch_size: int = 32,
        grammar_limits: dict[str, int] | None = None,
        grounded: bool = False,
        merge_repeats: bool = True,
        recover_requests: bool = True,
        resolve_dates: bool = True,
        type_references: bool = True,
        bind_lookups: bool = True,
        cover_tools: bool = False,
        exact_counts: bool = False,
    ):
        if grounded and not constrained:
            raise ValueError("grounded decoding is a kind of constrained decoding: pass constrained=True too")
        engine = model if isinstance(model, (TransformersLLM, MLXLLM, LlamaCppLLM)) else None
        self.engine: TransformersLLM | MLXLLM | LlamaCppLLM = engine or TransformersLLM(
            model, tokenizer, default_max_tokens=max_new_tokens, name="fine-tuned planner"
        )
        self.select, self.kind, self.examples = select, kind, examples
        self.constrained, self.grounded = constrained, grounded
        self.grammar_limits = grammar_limits or {}
        self.max_new_tokens = max_new_tokens
        self.merge_repeats, self.recover_requests = merge_repeats, recover_requests
        self.resolve_dates, self.type_references = resolve_dates, type_references
        self.bind_lookups = bind_lookups
        self.cover_tools, self.exact_counts = cover_tools, exact_counts
        if exact_counts and not constrained:
            raise ValueError(
                "exact_counts holds the plan grammar to ToolRAG's counts: pass constrained=True too"
            )
        self.batch_size = 1 if isinstance(self.engine, (MLXLLM, LlamaCppLLM)) else batch_size

    # ------------------------------------------------------------------------------------- loading

    @classmethod
    def load(cls, model_dir: str | Path, toolrag: str | Path | None = None, **kwargs: Any) -> Planner:
        """A Hugging Face model folder; `toolrag`: a classifier folder, or None (all tools).

        Prompt kind, examples, generation budget and grammar limits default to what the model was trained
        with (`workbench_decoding.json` in its folder, written by `workbench finetune`); `kwargs` override them.
        """
        model, tokenizer = load_model(model_dir)
        return cls(
            model, tokenizer, select=toolrag_selector(toolrag), **{**saved_decoding(model_dir), **kwargs}
        )

    @classmethod
    def best(
        cls,
        artifacts: str | Path,
        toolrag: str | Path | None = "auto",
        constrained: bool | None = None,
        grounded: bool | None = None,
        exact_counts: bool | None = None,
    ) -> Planner:
        """The best model `workbench finetune` last trained under `artifacts`, with its decoding settings,
        and the trained ToolRAG classifier when the best variant used one (`toolrag="auto"`); `toolrag` may name another
        classifier folder, or "none" for all tools; `constrained`, `grounded` and `exact_counts` override the best
        variant's decoding mode (exact counts only where the classifier has a count head)."""
        model_dir, info = best_planner(artifacts)
        if str(toolrag) == "auto" and not info.get("toolrag", True):
            toolrag = "none"  # the best variant was chosen offered all 16 tools: it plans as it was measured
        constrained = info.get("constrained", False) if constrained is None else constrained
        grounded = (info.get("grounded", False) if grounded is None else grounded) and constrained
        exact = (info.get("exact_counts", False) if exact_counts is None else exact_counts) and constrained
        planner = cls.load(
            model_dir, toolrag=resolve_toolrag(toolrag, artifacts), constrained=constrained, grounded=grounded
        )
        planner.exact_counts = exact and call_counter(planner.select) is not None
        return planner

    # ----------------------------------------------------------------------------- prompt, grammar

    @property
    def model(self) -> Any:
        """The engine's network (a torch module, an mlx-lm model or a `llama_cpp.Llama`)."""
        return self.engine.network

    @property
    def tokenizer(self) -> Any:
        return self.engine.tokenizer

    @property
    def stats(self) -> list[dict[str, float]]:
        """mlx-lm's or llama.cpp's figures per generation (token counts, speeds); empty on transformers."""
        return getattr(self.engine, "stats", [])

    def tools_for(self, queries: Sequence[str]) -> list[list[str]]:
        return self.select(queries) if self.select else [list(TOOL_NAMES) for _ in queries]

    def messages(self, query: str, today: str, tools: Sequence[str], context: str = "") -> list[Message]:
        """The planner's chat for `query` over `tools` (with a replan `context`, the replan request)."""
        examples = self.examples(query, list(tools)) if self.examples else ""
        return planner_chat(query, today, tools, self.kind, examples, context)

    def prompts(
        self, queries: Sequence[str], todays: Sequence[str], tools: Sequence[Sequence[str]]
    ) -> list[list[int]]:
        """Token ids of each query's chat, as the engine is given them."""
        return [
            self.engine.prompt_ids(self.messages(q, today, names))
            for q, today, names in zip(queries, todays, tools, strict=True)
        ]

    def grammar(self, tools: Sequence[str], query: str) -> str | None:
        """The plan grammar of `tools` (grounded: and of `query`'s spans), or None decoding unconstrained."""
        if not self.constrained:
            return None
        spans = query_spans(query) if self.grounded else None
        dialect = "gbnf" if isinstance(self.engine, LlamaCppLLM) else "lark"
        cover = self.cover_tools and self.select is not None and len(tools) <= MAX_COVERED
        return plan_grammar(
            [_SPECS[n] for n in tools],
            **self.grammar_limits,
            spans=spans,
            dialect=dialect,
            require=tools if cover else (),
            counts=self.calls(tools, query) if self.exact_counts else None,
        )

    def calls(self, tools: Sequence[str], query: str) -> dict[str, int] | None:
        """How many times the plan of `query` calls each of `tools`, as ToolRAG's count head reads it, or None
        (the plain grammar) where it reads none of them or more calls than a grammar is written for."""
        count = call_counter(self.select)
        if count is None:
            raise ValueError(
                "exact_counts needs a ToolRAG classifier with a count head: pass --toolrag with one (`workbench "
                "toolrag train --retrain` trains it)"
            )
        calls = {tool: n for tool, n in count([query])[0].items() if tool in tools}
        too_many = sum(calls.values()) > self.grammar_limits.get("max_steps", 20)
        if not calls or too_many or math.prod(n + 1 for n in calls.values()) > MAX_COUNTED_STATES:
            return None
        return calls

    def constrained_engine(self, grammars: Sequence[str | None]) -> TransformersLLM | MLXLLM | LlamaCppLLM:
        """The engine decoding row i under `grammars[i]` (llama.cpp: its sampler with the GBNF grammar; the
        others: llguidance's masks as logits processors)."""
        if isinstance(self.engine, LlamaCppLLM):
            return self.engine.with_grammar(grammars[0] if self.constrained else None)
        return self.engine.with_logits_processors(self.logits_processors(grammars))

    def logits_processors(self, grammars: Sequence[str | None]) -> Callable[[int], list[Any]] | None:
        """A factory of fresh logits processors that hold row i to `grammars[i]` (None: unconstrained)."""
        if not self.constrained:
            return None
        grammars = list(grammars)
        if isinstance(self.engine, MLXLLM):
            return lambda rows: [mlx_logits_processor(self.tokenizer, grammars[0])]
        return lambda rows: [PlanLogitsProcessor(self.tokenizer, grammars)]

    # ----------------------------------------------------------------------------------- decoding

    def llm(self, tools: Sequence[str], query: str, today: str | None = None) -> LLM:
        """The planner as a streaming `LLM` for one query over `tools`: the same model, decoding under the
        same grammar as `plan`, token by token, with the same repeats merged; with `today`, the first plan
        also gets the requests it dropped back before its `join()`, and the dates the day the query names,
        as `plan` does."""
        llm = self.constrained_engine([self.grammar(tools, query)])
        recover = None
        if self.recover_requests and today is not None and len(split_requests(query)) > 1:
            recover = functools.partial(self._dropped_steps, query, today)
        dates = self._date_repair(query, today)
        binder = query if self.bind_lookups else None
        if self.merge_repeats or recover or dates or self.type_references or binder is not None:
            return _PlanStream(llm, self.merge_repeats, recover, dates, self.type_references, binder)
        return llm

    async def _dropped_steps(self, query: str, today: str, plan: str) -> list[str]:
        """`dropped_steps` of `plan` for `query`, its requests planned off the event loop."""
        if not ends_in_join(plan):
            return []
        requests = split_requests(query)
        if isinstance(self.engine, MLXLLM):  # mlx's arrays belong to the thread that made them
            subs = self._decode(requests, [today] * len(requests))
        else:
            subs = await asyncio.to_thread(self._decode, requests, [today] * len(requests))
        return dropped_steps(plan, [p["plan"] for p in subs])

    def plan(
        self,
        queries: Sequence[str],
        todays: Sequence[str] | None = None,
        progress: bool = False,
        tools: Sequence[Sequence[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """One `{"query", "plan", "tools"}` per query, in order; constrained, also `"cut"` (closed by
        `close_cut_plan`); with `recover_requests`, also `"requests_added"` (requests put back)."""
        todays = list(todays) if todays is not None else [dt.date.today().isoformat()] * len(queries)
        out = self._decode(queries, todays, progress, tools)
        if self.recover_requests:
            split = [
                (i, r)
                for i, q in enumerate(queries)
                if ends_in_join(out[i]["plan"]) and len(rs := split_requests(q)) > 1
                for r in rs
            ]
            subs = self._decode([r for _, r in split], [todays[i] for i, _ in split], progress)
            by_query: dict[int, list[str]] = {}
            for (i, _), sub in zip(split, subs, strict=True):
                by_query.setdefault(i, []).append(sub["plan"])
            for i, p in enumerate(out):
                added = dropped_steps(p["plan"], by_query.get(i, []))
                p["plan"], p["requests_added"] = insert_before_join(p["plan"], added), len(added) > 0
        for p, today in zip(out, todays, strict=True):
            if self.merge_repeats:
                p["plan"] = merge_repeated_calls(p["plan"], TOOL_NAMES)
            if self.type_references:
                p["plan"] = retype_references(p["plan"])
            if self.bind_lookups:
                p["plan"] = bind_lookups(p["plan"], p["query"])
            if repair := self._date_repair(p["query"], today):
                p["plan"] = repair.plan(p["plan"])
        return out

    def _date_repair(self, query: str, today: str | None) -> DateRepair | None:
        """The repair that moves a plan's dates onto the day `query` names, where it names one."""
        if not self.resolve_dates or today is None:
            return None
        day = named_day(query, dt.date.fromisoformat(today))
        return DateRepair(day) if day else None

    def _decode(
        self,
        queries: Sequence[str],
        todays: Sequence[str],
        progress: bool = False,
        tools: Sequence[Sequence[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """The model's plans as decoded (a cut constrained plan closed), before any of the runtime's repairs."""
        tools = [list(t) for t in tools] if tools is not None else self.tools_for(queries)
        # ToolRAG selected no tool: nothing serves the query, and the plan says so by calling none
        plans: dict[int, str] = {i: NO_TOOL_PLAN for i, names in enumerate(tools) if not names}
        todo = [i for i in range(len(queries)) if i not in plans]
        prompts = self.prompts(
            [queries[i] for i in todo], [todays[i] for i in todo], [tools[i] for i in todo]
        )
        ids = dict(zip(todo, prompts, strict=True))
        order = sorted(todo, key=lambda i: len(ids[i]))  # similar lengths share a batch
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if progress and batches:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="planning", unit="batch")
        for batch in batches:
            grammars = [self.grammar(tools[i], queries[i]) for i in batch]
            texts = self.constrained_engine(grammars).generate_batch(
                [ids[i] for i in batch], self.max_new_tokens
            )
            plans.update(zip(batch, texts, strict=True))
        out = [{"query": q, "plan": plans[i], "tools": tools[i]} for i, q in enumerate(queries)]
        if self.constrained:  # a plan the budget cut off is closed after its last whole step, so it parses
            for p in out:
                p["cut"] = not p["plan"].endswith(END_OF_PLAN)
                p["plan"] = close_cut_plan(p["plan"])
        return out

    def latency(self, queries: Sequence[str], todays: Sequence[str]) -> list[float]:
        """Seconds per query planned alone (tool selection, prompt, generation), as a user waits for it."""
        out = []
        for q, today in zip(queries, todays, strict=True):
            start = time.perf_counter()
            self.plan([q], [today])
            out.append(time.perf_counter() - start)
        return out

    def describe(self) -> str:
        """One line: the engine, the model folder and the decoding mode."""
        mode = "grounded" if self.grounded else "grammar-constrained" if self.constrained else "unconstrained"
        if self.exact_counts:
            mode += " (to ToolRAG's call counts)"
        engine = {MLXLLM: "mlx-lm", LlamaCppLLM: "llama.cpp"}.get(type(self.engine), "transformers")
        name = getattr(getattr(self.model, "config", None), "_name_or_path", "") or self.engine.model
        if isinstance(self.engine, LlamaCppLLM):
            name = str(self.engine.path)
        where = _shown_path(name)
        return f"fine-tuned planner in process ({engine}, {where}; {mode} greedy decoding, streamed token by token)"


def _shown_path(name: str) -> str:
    """A model folder as results files name it: under the artifacts folder relative to it (no machine's paths in
    `data/results/`), anything else (a hub id, a folder elsewhere) as given."""
    try:
        return Path(name).resolve().relative_to(config.artifacts_dir().resolve()).as_posix()
    except ValueError:
        return name


class _PlanStream(LLM):
    """The planner's streaming `LLM` with the runtime's repairs applied line by line as the plan streams:
    repeated calls merged (`plan.RepeatMerger`); where `recover` is given, the `join()` line held back until
    `recover(plan so far)` has returned the steps of dropped requests, which go before it (the first plan
    only: a replan is left as the model writes it); where `dates` is given, each step's dates moved onto the
    day the query names; with `type_references`, references of the wrong kind re-pointed
    (`planner.references`, each plan afresh); with `bind_for` (the query), its unused contact look-ups bound
    to the steps that need them (`planner.lookups`). Usage and timings are the wrapped model's."""

    def __init__(
        self,
        llm: LLM,
        merge: bool,
        recover: Callable[[str], Awaitable[list[str]]] | None = None,
        dates: DateRepair | None = None,
        type_references: bool = False,
        bind_for: str | None = None,
    ):
        self.llm, self.model = llm, llm.model
        self.merge, self.recover, self.dates = merge, recover, dates
        self.type_references, self.typer = type_references, None
        self.bind_for, self.binder = bind_for, None

    def _repaired(self, text: str) -> str:
        """`text` (whole lines, the last one maybe without its newline, each line once and in order) with each
        line's references re-pointed where of the wrong kind, unused look-ups bound and its dates repaired."""
        lines = text.split("\n")
        if self.typer:  # a step that waits for a later one is held back: it comes out before join()
            lines = [out for line in lines for out in self.typer.feed(line)]
        if self.binder:  # so is a step an unused look-up may be bound to
            lines = [out for line in lines for out in self.binder.feed(line)]
        if self.dates:
            lines = list(map(self.dates.line, lines))
        return "\n".join(lines)

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        merger, result = RepeatMerger(TOOL_NAMES if self.merge else ()), []
        self.typer = ReferenceTyper() if self.type_references else None
        self.binder = LookupBinder(self.bind_for) if self.bind_for is not None else None
        recover, self.recover = self.recover, None
        raw, pending, held = "", "", False  # held: from the join() line on, nothing passes until the end
        async for chunk in self.llm.stream(messages, stop, temperature, max_tokens, result):
            raw += chunk
            pending += chunk
            if held:
                continue
            *lines, rest = pending.split("\n")
            out = ""
            for i, line in enumerate(lines):
                if recover and is_join_line(line):
                    held, rest = True, "\n".join([*lines[i:], rest])
                    break
                out += merger.feed(line + "\n")
            pending = rest
            if out:
                yield self._repaired(out)
        first, _, after = pending.partition("\n")
        if recover and is_join_line(first) and (added := await recover(raw)):
            pending = "\n".join([*added, join_line(first, len(added))]) + ("\n" + after if after else "")
        if text := merger.feed(pending) + merger.close():
            yield self._repaired(text)
        waited = self.typer.close() if self.typer else []  # a plan that ended without join()
        if self.binder:
            waited = [out for line in waited for out in self.binder.feed(line)] + self.binder.close()
        if waited:
            if self.dates:  # as `_repaired` does for every other line
                waited = list(map(self.dates.line, waited))
            yield ("\n" if text and not text.endswith("\n") else "") + "\n".join(waited)
        if result:
            state.usage, state.finish_reason = result[0].usage, result[0].finish_reason


class MLXPlanner(Planner):
    """A `Planner` on mlx-lm (one query at a time); `stats` holds mlx-lm's figures per generation."""

    @classmethod
    def load(
        cls,
        model_dir: str | Path,
        toolrag: str | Path | None = None,
        adapter_dir: str | Path | None = None,
        **kwargs: Any,
    ) -> MLXPlanner:
        """An MLX model folder (with an optional adapter); decoding settings as in `Planner.load`."""
        need_mlx_lm()
        folder = model_folder_or_hub_id(model_dir)
        engine = MLXLLM(folder, adapter_path=adapter_dir, name="fine-tuned planner (MLX)")
        return cls(engine, select=toolrag_selector(toolrag), **{**saved_decoding(folder), **kwargs})


class GGUFPlanner(Planner):
    """A `Planner` on llama.cpp (a GGUF file, one query at a time); `stats` holds llama.cpp's figures per
    generation. Constrained decoding uses the plan grammar as GBNF in llama.cpp's own sampler."""

    @classmethod
    def load(
        cls,
        path: str | Path,
        toolrag: str | Path | None = None,
        threads: int | None = None,
        lora: str | Path | None = None,
        **kwargs: Any,
    ) -> GGUFPlanner:
        """A GGUF file (`workbench quantize` writes the planner's), with a llama.cpp LoRA file on top where
        `lora` names one; decoding settings as in `Planner.load`, from the file's metadata
        (`finetune.llamacpp.DECODING_KEY`)."""
        shown = Path(path).name + (f" + {Path(lora).name}" if lora else "")
        engine = LlamaCppLLM(path, threads=threads, lora=lora, name=f"fine-tuned planner (GGUF, {shown})")
        saved = _decoding_kwargs(saved_gguf_decoding(engine.metadata))
        return cls(engine, select=toolrag_selector(toolrag), **{**saved, **kwargs})


def load_planner(model: str | Path, toolrag: str | Path | None = None, **kwargs: Any) -> Planner:
    """A planner from a path: a GGUF file (`.gguf`: llama.cpp) or a Hugging Face model folder (transformers)."""
    if str(model).endswith(".gguf"):
        return GGUFPlanner.load(model, toolrag=toolrag, **kwargs)
    return Planner.load(model, toolrag=toolrag, **kwargs)


# ------------------------------------------------------------------------------ saved settings, files


def saved_settings(model_dir: str | Path) -> dict[str, Any]:
    """`workbench_decoding.json` of a model folder, or {} for a model that `workbench finetune` did not train."""
    meta = Path(model_dir) / DECODING_FILE
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


def saved_decoding(model_dir: str | Path) -> dict[str, Any]:
    """The prompt kind, examples, generation budget and grammar limits a model was trained with, as `Planner`
    arguments (from `workbench_decoding.json` in its folder, written by `workbench finetune`)."""
    return _decoding_kwargs(saved_settings(model_dir))


def _decoding_kwargs(saved: dict[str, Any]) -> dict[str, Any]:
    """Saved decoding settings (`workbench_decoding.json`) as `Planner` arguments."""
    out = {k: saved[k] for k in ("max_new_tokens", "grammar_limits") if k in saved}
    if "prompt" in saved:
        out["kind"] = saved["prompt"]
    if saved.get("examples"):
        out["examples"] = example_source(saved["examples"])
    return out


def saved_plan_order(model_dir: str | Path) -> str:
    """The step order of the plans a model was trained on ("gold" when its folder does not say): further
    training of it (QLoRA after quantization) keeps that order."""
    return saved_settings(model_dir).get("plan_order", "gold")


def best_planner(artifacts: str | Path) -> tuple[Path, dict[str, Any]]:
    """The folder and decoding settings of the best planner `workbench finetune` last trained under `artifacts`."""
    meta = Path(artifacts) / "planner" / "best.json"
    if not meta.exists():
        raise FileNotFoundError(f"no trained planner ({meta} is missing): run `workbench finetune` first")
    info = json.loads(meta.read_text(encoding="utf-8"))
    return Path(artifacts) / info["model_dir"], info


def context_positions(planner: Planner) -> int | None:
    """How many positions the planner's model reads (`max_position_embeddings` of its config; None when the
    config does not say)."""
    if isinstance(
        getattr(planner, "engine", None), LlamaCppLLM
    ):  # a GGUF file: the context it was opened with
        return int(planner.model.n_ctx())
    config = getattr(planner.model, "config", None) or getattr(planner.model, "args", None)
    positions = getattr(config, "max_position_embeddings", None)
    return positions if isinstance(positions, int) else None


#: The fewest positions a prompt must leave for its plan (a two-step plan takes about 40 tokens). The whole
#: generation budget is not required: plans end long before it, and it is an upper bound, not a length.
MIN_PLAN_TOKENS = 64


def check_context(
    planner: Planner,
    queries: Sequence[str],
    todays: Sequence[str],
    tools: Sequence[Sequence[str]],
    where: Sequence[str],
) -> None:
    """Refuse a query whose prompt leaves no room for a plan within the model's positions (`where[i]` names
    query i's line): past them a model reads positions it never saw, and writes a plan of no meaning, silently."""
    limit = context_positions(planner)
    todo = [i for i, names in enumerate(tools) if names]  # no tool selected: no decoding
    if limit is None or not todo:
        return
    prompts = planner.prompts([queries[i] for i in todo], [todays[i] for i in todo], [tools[i] for i in todo])
    room = min(planner.max_new_tokens, MIN_PLAN_TOKENS)
    for i, ids in zip(todo, prompts, strict=True):
        if len(ids) + room > limit:
            raise ValueError(
                f"{where[i]}: the query is too long for the planner: its prompt takes {len(ids):,} tokens, "
                f"leaving fewer than {room} of the model's {limit:,} positions for the plan; shorten the query "
                f"({len(queries[i]):,} characters)"
            )


def resolve_toolrag(toolrag: str | Path | None, artifacts: str | Path) -> Path | None:
    """A ToolRAG setting as a classifier folder: "auto" is the trained one under `artifacts` if it exists,
    "none" or None is no classifier (all tools), anything else is a folder (which must exist)."""
    if toolrag is None or str(toolrag) == "none":
        return None
    if str(toolrag) == "auto":
        folder = Path(artifacts) / "toolrag" / "classifier"
        return folder if (folder / "toolrag.json").exists() else None
    return Path(toolrag)


def predict_file(
    input_path: str | Path,
    output_path: str | Path,
    planner: Planner | Callable[[], Planner],
    progress: bool = True,
) -> int:
    """`workbench predict`: a plan for each `{"query": ..., "today"?: ...}` line of `input_path`, written
    whole to `output_path` and then moved into place; returns how many. `planner` may be a function that
    loads one: it is called only once the input has been checked (`jsonl.FIELDS`). A query too long for the
    model's context is refused before any is planned (`check_context`)."""
    numbered = read_jsonl_numbered(input_path, "input", required=("query",))
    today = dt.date.today().isoformat()
    queries, todays = [r["query"] for _, r in numbered], [r.get("today", today) for _, r in numbered]
    planner = planner if isinstance(planner, Planner) else planner()
    tools = planner.tools_for(queries)
    check_context(planner, queries, todays, tools, [f"{input_path}, line {n}" for n, _ in numbered])
    preds = planner.plan(queries, todays, progress=progress, tools=tools)
    lines = [json.dumps({"query": p["query"], "plan": p["plan"]}, ensure_ascii=False) + "\n" for p in preds]
    write_text_atomic(Path(output_path), "".join(lines))
    return len(preds)
