"""Planning with a fine-tuned model: ToolRAG picks the tools, the model writes the plan, optionally under a grammar.

`Planner` turns queries into plans in batches (greedy decoding, left padding). With a ToolRAG classifier
the prompt names only the selected tools, as in TinyAgent; without one it names all 16. With
`constrained=True` each row decodes under the grammar of its own tools (`finetune.grammar`), so even a weak
model can only write plans that parse and validate; a row that `max_new_tokens` cuts off is closed after its
last whole step (`grammar.close_cut_plan`) and marked `"cut"`. With `grounded=True` as well, the grammar
also holds each grounded argument (a person, file, place or note) to a span of the query (`grammar.query_spans`):
the model may choose which name to copy, but cannot misspell or invent one.

    >>> planner = Planner.best()  # doctest: +SKIP
    >>> planner.plan(["Text Ana that I'm late"], ["2024-06-12"])[0]["plan"]  # doctest: +SKIP
    '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "I\\'m late")\\n3. join()<END_OF_PLAN>'
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from workbench.finetune.prompts import planner_chat, prompt_ids
from workbench.plan import END_OF_PLAN, JOIN
from workbench.tools.tinyagent import TOOL_NAMES

NO_TOOL_PLAN = f"1. {JOIN}(){END_OF_PLAN}"  # the plan for a query that no selected tool serves


class Planner:
    """A causal LM planner with its prompt settings, tool selection and decoding mode."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        select: Callable[[Sequence[str]], list[list[str]]] | None = None,
        kind: str = "compact",
        constrained: bool = False,
        examples: Callable[[str, list[str]], str] | None = None,
        max_new_tokens: int = 320,
        batch_size: int = 32,
        grammar_limits: dict[str, int] | None = None,
        grounded: bool = False,
    ):
        if grounded and not constrained:
            raise ValueError("grounded decoding is a kind of constrained decoding: pass constrained=True too")
        self.model, self.tokenizer, self.grounded = model.eval(), tokenizer, grounded
        self.grammar_limits = grammar_limits or {}
        self.select, self.kind, self.constrained = select, kind, constrained
        self.examples, self.max_new_tokens, self.batch_size = examples, max_new_tokens, batch_size

    @classmethod
    def load(cls, model_dir: str | Path, toolrag: str | Path | None = None, **kwargs: Any) -> Planner:
        """`toolrag`: a classifier folder, "auto" (the trained one if it exists) or None (all tools).

        Prompt kind, examples, generation budget and grammar limits default to what the model was trained
        with (`workbench_decoding.json` in its folder, written by `workbench finetune`); `kwargs` override them.
        """
        from workbench.finetune.base import load_model

        model, tokenizer = load_model(model_dir)
        return cls(
            model, tokenizer, select=toolrag_selector(toolrag), **{**saved_decoding(model_dir), **kwargs}
        )

    @classmethod
    def best(
        cls,
        toolrag: str | Path | None = "auto",
        constrained: bool | None = None,
        grounded: bool | None = None,
    ) -> Planner:
        """The best model `workbench finetune` last trained, with its decoding settings, and (as `workbench
        predict` promises) the trained ToolRAG classifier when one exists. `toolrag` may name another
        classifier folder, or "none" for all tools; `constrained` and `grounded` override the best variant's
        decoding mode."""
        model_dir, info = best_planner()
        constrained = info.get("constrained", False) if constrained is None else constrained
        grounded = (info.get("grounded", False) if grounded is None else grounded) and constrained
        return cls.load(
            model_dir,
            toolrag=None if str(toolrag) == "none" else toolrag,
            constrained=constrained,
            grounded=grounded,
        )

    def tools_for(self, queries: Sequence[str]) -> list[list[str]]:
        return self.select(queries) if self.select else [list(TOOL_NAMES) for _ in queries]

    def prompts(
        self, queries: Sequence[str], todays: Sequence[str], tools: Sequence[Sequence[str]]
    ) -> list[list[int]]:
        out = []
        for q, today, names in zip(queries, todays, tools, strict=True):
            examples = self.examples(q, list(names)) if self.examples else ""
            out.append(prompt_ids(self.tokenizer, planner_chat(q, today, names, self.kind, examples)))
        return out

    def plan(
        self,
        queries: Sequence[str],
        todays: Sequence[str] | None = None,
        progress: bool = False,
        tools: Sequence[Sequence[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """One `{"query", "plan", "tools"}` per query, in order; constrained, also `"cut"` (closed by `close_cut_plan`)."""
        todays = list(todays) if todays is not None else [dt.date.today().isoformat()] * len(queries)
        tools = [list(t) for t in tools] if tools is not None else self.tools_for(queries)
        # ToolRAG selected no tool: nothing serves the query, and the plan says so by calling none
        plans: dict[int, str] = {i: NO_TOOL_PLAN for i, names in enumerate(tools) if not names}
        todo = [i for i in range(len(queries)) if i not in plans]
        ids = dict(
            zip(
                todo,
                self.prompts([queries[i] for i in todo], [todays[i] for i in todo], [tools[i] for i in todo]),
                strict=True,
            )
        )
        order = sorted(todo, key=lambda i: len(ids[i]))  # similar lengths share a batch
        batches = [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        if progress:
            from tqdm.auto import tqdm

            batches = tqdm(batches, desc="planning", unit="batch")
        for batch in batches:
            texts = self._generate(
                [ids[i] for i in batch], [tools[i] for i in batch], [queries[i] for i in batch]
            )
            plans.update(zip(batch, texts, strict=True))
        out = [{"query": q, "plan": plans[i], "tools": tools[i]} for i, q in enumerate(queries)]
        if (
            self.constrained
        ):  # a plan the budget cut off is closed after its last whole step, so it still parses
            from workbench.finetune.grammar import close_cut_plan

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

    def _generate(self, rows: list[list[int]], tools: list[list[str]], queries: list[str]) -> list[str]:
        import torch

        pad = self.tokenizer.pad_token_id
        n = max(len(r) for r in rows)
        input_ids = torch.tensor([[pad] * (n - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (n - len(r)) + [1] * len(r) for r in rows])
        kwargs: dict[str, Any] = {}
        if self.constrained:
            from workbench.finetune.grammar import PlanLogitsProcessor, plan_grammar, query_spans
            from workbench.tools.tinyagent import tinyagent_tools

            specs = {s.name: s for s in tinyagent_tools()}
            grammars = [
                plan_grammar(
                    [specs[n] for n in names],
                    **self.grammar_limits,
                    spans=query_spans(q) if self.grounded else None,
                )
                for names, q in zip(tools, queries, strict=True)
            ]
            kwargs["logits_processor"] = [PlanLogitsProcessor(self.tokenizer, grammars)]
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids,
                attention_mask=mask,
                do_sample=False,
                max_new_tokens=self.max_new_tokens,
                pad_token_id=pad,
                eos_token_id=self.tokenizer.eos_token_id,
                **kwargs,
            )
        return [t.strip() for t in self.tokenizer.batch_decode(out[:, n:], skip_special_tokens=True)]


def toolrag_selector(toolrag: str | Path | None) -> Callable[[Sequence[str]], list[list[str]]] | None:
    """The trained ToolRAG classifier's `select`, or None (all tools) when `toolrag` is None or none is trained."""
    if toolrag is None:
        return None
    from workbench.toolrag.classifier import ToolRAGClassifier, classifier_dir

    auto = str(toolrag) == "auto"
    path = classifier_dir() if auto else Path(toolrag)
    if auto and not (path / "toolrag.json").exists():
        return None
    return ToolRAGClassifier.load(path).select  # a missing folder raises, naming the command that makes it


def saved_decoding(model_dir: str | Path) -> dict[str, Any]:
    """The prompt kind, examples, generation budget and grammar limits a model was trained with, as `Planner`
    arguments (from `workbench_decoding.json` in its folder, written by `workbench finetune`)."""
    from workbench.finetune.stage import example_source

    saved = _saved(model_dir)
    out = {k: saved[k] for k in ("max_new_tokens", "grammar_limits") if k in saved}
    if "prompt" in saved:
        out["kind"] = saved["prompt"]
    if saved.get("examples"):
        out["examples"] = example_source(saved["examples"])
    return out


def saved_plan_order(model_dir: str | Path) -> str:
    """The step order of the plans a model was trained on ("gold" when its folder does not say): further
    training of it (QLoRA after quantization) keeps that order."""
    return _saved(model_dir).get("plan_order", "gold")


def _saved(model_dir: str | Path) -> dict[str, Any]:
    """`workbench_decoding.json` of a model folder, or {} for a model that `workbench finetune` did not train."""
    from workbench.finetune.stage import DECODING_FILE

    meta = Path(model_dir) / DECODING_FILE
    return json.loads(meta.read_text(encoding="utf-8")) if meta.exists() else {}


def best_planner() -> tuple[Path, dict[str, Any]]:
    """The folder and decoding settings of the best planner `workbench finetune` last trained."""
    from workbench import config

    meta = config.artifacts_dir() / "planner" / "best.json"
    if not meta.exists():
        raise FileNotFoundError(f"no trained planner ({meta} is missing): run `workbench finetune` first")
    info = json.loads(meta.read_text(encoding="utf-8"))
    return config.artifacts_dir() / info["model_dir"], info


def predict_file(
    input_path: str,
    output_path: str,
    model: str | None = None,
    toolrag: str | None = None,
    constrained: bool | None = None,
    progress: bool = True,
    grounded: bool | None = None,
) -> int:
    """`workbench predict`: a plan for each `{"query": ..., "today"?: ...}` line; returns how many.

    Without `model`, the best trained planner with its decoding settings and the trained ToolRAG classifier
    when one exists; `toolrag="none"` turns tool selection off; `grounded` implies `constrained`. The output is
    written whole and then moved into place.
    """
    from workbench.finetune.evaluate import read_jsonl

    rows = read_jsonl(input_path)
    bad = [i for i, r in enumerate(rows, 1) if not isinstance(r.get("query"), str) or not r["query"].strip()]
    if bad:
        raise ValueError(f'{input_path}, line {bad[0]}: needs a non-empty "query" string')
    if model is None:
        planner = Planner.best(
            toolrag=toolrag or "auto", constrained=True if grounded else constrained, grounded=grounded
        )
    else:
        rag = None if toolrag == "none" else (toolrag or "auto")
        planner = Planner.load(
            model, toolrag=rag, constrained=bool(constrained or grounded), grounded=bool(grounded)
        )
    today = dt.date.today().isoformat()
    preds = planner.plan([r["query"] for r in rows], [r.get("today", today) for r in rows], progress=progress)
    out = Path(output_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(
        "".join(
            json.dumps({"query": p["query"], "plan": p["plan"]}, ensure_ascii=False) + "\n" for p in preds
        ),
        encoding="utf-8",
    )
    tmp.replace(out)
    return len(preds)
