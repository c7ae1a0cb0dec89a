"""Fine-tuning prompts (TinyAgent, Sec. 3.2 and 4): the tools to describe, negatives, targets, loss masks.

TinyAgent trains with prompts that describe the query's tools *plus some irrelevant ones* (negatives), so the
planner learns to pick among the tools it is shown rather than to use every tool listed; at inference the
tools come from ToolRAG. The prompt itself (`full` or `compact`, `PROMPT_KINDS`) is the one the planner runs
with, `compiler.prompts.planner_chat`. The target is the gold plan followed by the end-of-turn token; the
loss covers those tokens only. The target's step order is a choice (`PLAN_ORDERS`): as synthesized, or grouped
by request (the same DAG, so the same success; see `plan.grouped_by_part`).

    >>> rng = random.Random(0)
    >>> with_negatives(["send_sms"], rng, max_negatives=0)
    ['send_sms']
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from workbench.compiler.prompts import ordered, planner_chat
from workbench.plan import grouped_by_part, parse_plan, render_plan
from workbench.tools.tinyagent import TOOL_NAMES

PLAN_ORDERS = (
    "gold",
    "grouped",
)  # target step order: as synthesized (lookups first), or each request together
IGNORE = -100  # label of a token that carries no loss


def with_negatives(tools: Sequence[str], rng: random.Random, max_negatives: int | None = None) -> list[str]:
    """The needed tools plus a random number of irrelevant ones (0 to all the rest), in canonical order."""
    rest = [n for n in TOOL_NAMES if n not in set(tools)]
    k = rng.randint(0, len(rest) if max_negatives is None else min(max_negatives, len(rest)))
    return ordered([*tools, *rng.sample(rest, k)])


def prompt_ids(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of the chat up to and including the assistant's header."""
    enc = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(enc["input_ids"] if isinstance(enc, dict) or hasattr(enc, "keys") else enc)


def target_plan(plan: str, order: str = "gold") -> str:
    """The plan a model is trained to write: the gold text, or the same DAG with each request's steps together.

    >>> print(target_plan('1. f("a")\\n2. g("b")\\n3. h("$1")\\n4. join()<END_OF_PLAN>', "grouped"))
    1. f("a")
    2. h("$1")
    3. g("b")
    4. join()<END_OF_PLAN>
    """
    if order == "gold":
        return plan
    if order == "grouped":
        return render_plan(grouped_by_part(parse_plan(plan)))
    raise ValueError(f"unknown plan order {order!r}; use one of {PLAN_ORDERS}")


def training_example(tokenizer: Any, messages: list[dict[str, str]], plan: str) -> dict[str, list[int]]:
    """input_ids = prompt + plan + end-of-turn; labels mask the prompt so only the plan is learned."""
    prompt = prompt_ids(tokenizer, messages)
    target = tokenizer(plan, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return {"input_ids": prompt + target, "labels": [IGNORE] * len(prompt) + target}


def build_examples(
    tokenizer: Any,
    records: Sequence[dict[str, Any]],
    kind: str = "compact",
    seed: int = 0,
    negatives: bool = True,
    retrieve: Any = None,
    max_length: int = 1024,
    order: str = "gold",
) -> list[dict[str, Any]]:
    """Tokenized training examples; `retrieve(record) -> str` adds in-context examples when given; `order` is
    the target's step order (`target_plan`).

    Records longer than `max_length` tokens are dropped (and counted by the caller from the lengths).
    """
    rng = random.Random(seed)
    out = []
    for r in records:
        tools = with_negatives(r["tools"], rng) if negatives else ordered(r["tools"])
        examples = retrieve(r) if retrieve else ""
        chat = planner_chat(r["query"], r["today"], tools, kind, examples)
        ex = training_example(tokenizer, chat, target_plan(r["plan"], order))
        if len(ex["input_ids"]) <= max_length:
            out.append(ex)
    return out


class PadCollator:
    """Right-pads a batch: pad id for inputs, IGNORE for labels, an attention mask."""

    def __init__(self, pad_id: int):
        self.pad_id = pad_id

    def __call__(self, batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        import torch

        n = max(len(b["input_ids"]) for b in batch)
        ids = torch.full((len(batch), n), self.pad_id, dtype=torch.long)
        labels = torch.full((len(batch), n), IGNORE, dtype=torch.long)
        mask = torch.zeros((len(batch), n), dtype=torch.long)
        for i, b in enumerate(batch):
            k = len(b["input_ids"])
            ids[i, :k] = torch.tensor(b["input_ids"])
            labels[i, :k] = torch.tensor(b["labels"])
            mask[i, :k] = 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}
