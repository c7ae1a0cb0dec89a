"""Dollar cost of a run from its token usage (Kim et al. 2023, Sec. 5, the "cost" columns of Tables 1-2).

LLMCompiler reports cost next to latency and accuracy, computed from prompt and completion tokens at the
API's per-token prices. Prices change and differ per provider, so they are data, not code: pass your own
mapping `model -> (USD per 1M prompt tokens, USD per 1M completion tokens)`. The defaults below are
OpenAI list prices as published in 2024, included only so a notebook shows a number out of the box;
**check them against your provider before reporting any cost**.

A model without a price has cost None, not 0: a local model costs electricity, and an unpriced API model
costs money, and neither is free.

    >>> cost_usd("gpt-4o", {"prompt_tokens": 1_000_000, "completion_tokens": 0})
    2.5
    >>> cost_usd("my-local-model", {"prompt_tokens": 10, "completion_tokens": 10}) is None
    True
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

Prices = dict[str, tuple[float, float]]

# OpenAI list prices (USD per 1M tokens, prompt then completion) as published in 2024. Check before use.
DEFAULT_PRICES: Prices = {
    "gpt-4": (30.0, 60.0),  # gpt-4-0613, the model of LLMCompiler's GPT-4 runs
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-3.5-turbo": (0.50, 1.50),  # gpt-3.5-turbo-0125
}

_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")


def validate_prices(prices: Mapping[str, Any]) -> Prices:
    """Check a price table (e.g. read from a profile): two finite non-negative numbers per model."""
    out: Prices = {}
    for model, pair in prices.items():
        if not isinstance(pair, (list, tuple)) or len(pair) != 2:
            raise ValueError(
                f"price of {model!r} must be [prompt, completion] USD per 1M tokens, got {pair!r}"
            )
        values = []
        for value in pair:
            if (
                isinstance(value, bool)
                or not isinstance(value, (int, float))
                or not math.isfinite(value)
                or value < 0
            ):
                raise ValueError(f"price of {model!r} must be finite non-negative numbers, got {pair!r}")
            values.append(float(value))
        out[str(model)] = (values[0], values[1])
    return out


def price_of(
    model: str,
    prices: Mapping[str, tuple[float, float]] | None = None,
) -> tuple[float, float] | None:
    """The price pair of `model`; a dated snapshot ("gpt-4o-2024-08-06") falls back to its base name."""
    table = DEFAULT_PRICES if prices is None else prices
    if model in table:
        return table[model]
    base = _DATE_SUFFIX.sub("", model)
    return table.get(base)


def _tokens(usage: Any) -> tuple[int, int]:
    """(prompt, completion) tokens from a `Usage`, an OpenAI-style dict, or a pair."""
    if isinstance(usage, Mapping):
        return int(usage.get("prompt_tokens", 0)), int(usage.get("completion_tokens", 0))
    if isinstance(usage, (tuple, list)) and len(usage) == 2:
        return int(usage[0]), int(usage[1])
    return int(usage.prompt_tokens), int(usage.completion_tokens)


def cost_usd(model: str, usage: Any, prices: Mapping[str, tuple[float, float]] | None = None) -> float | None:
    """USD for `usage` tokens of `model`, or None when the model has no price in the table."""
    pair = price_of(model, prices)
    if pair is None:
        return None
    prompt, completion = _tokens(usage)
    if prompt < 0 or completion < 0:
        raise ValueError(f"token counts must be >= 0, got {prompt} and {completion}")
    return (prompt * pair[0] + completion * pair[1]) / 1_000_000
