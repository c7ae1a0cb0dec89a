"""LLM backends behind one async streaming interface (see `base.py`).

The base interface and `ScriptedLLM` are imported eagerly. The network backend (`OpenAICompatLLM`,
`RetryPolicy`, `from_env`: imports `openai`) and the in-process ones (`TransformersLLM`, `MLXLLM`: torch,
transformers, mlx_lm) load on first use, so ``import workbench.llm`` stays fast and needs none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from workbench.llm.base import (
    LLM,
    Completion,
    LLMError,
    Message,
    StreamState,
    Usage,
    approx_tokens,
    count_tokens,
)
from workbench.llm.replay import ScriptedLLM

if TYPE_CHECKING:
    from workbench.llm.local import MLXLLM, TransformersLLM
    from workbench.llm.openai_compat import OpenAICompatLLM, RetryPolicy, from_env

_LAZY = {
    "OpenAICompatLLM": "workbench.llm.openai_compat",
    "RetryPolicy": "workbench.llm.openai_compat",
    "from_env": "workbench.llm.openai_compat",
    "TransformersLLM": "workbench.llm.local",
    "MLXLLM": "workbench.llm.local",
}

__all__ = [
    "LLM",
    "MLXLLM",
    "Completion",
    "LLMError",
    "Message",
    "OpenAICompatLLM",
    "RetryPolicy",
    "ScriptedLLM",
    "StreamState",
    "TransformersLLM",
    "Usage",
    "approx_tokens",
    "count_tokens",
    "from_env",
]


def __getattr__(name: str) -> Any:
    """Import a backend module the first time one of its names is used (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
