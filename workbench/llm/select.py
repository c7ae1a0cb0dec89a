"""Which LLM a notebook uses: a real endpoint when one is configured, else the scripted replay LLM.

In the small profiles (quick and smoke, see `config.SMALL_PROFILES`) the scripted replay LLM is always used. Otherwise:
`WORKBENCH_LLM_BASE_URL` (any OpenAI-compatible server: vLLM, llama.cpp, LM Studio, mlx_lm.server) wins,
then `OPENAI_API_KEY` (OpenAI); `WORKBENCH_LLM_MODEL` names the model. The scripted LLM replays the given
texts and is reported as what it is, never as a model.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from workbench import config
from workbench.llm.base import LLM, LLMError, Message
from workbench.llm.openai_compat import from_env
from workbench.llm.replay import ScriptedLLM


def choose_llm(
    scripted: Sequence[str] | Callable[[list[Message]], str], ttft_s: float = 0.2, tokens_per_s: float = 50.0
) -> LLM:
    if config.active_profile() not in config.SMALL_PROFILES:
        model = os.environ.get("WORKBENCH_LLM_MODEL")
        if os.environ.get("WORKBENCH_LLM_BASE_URL"):
            if not model:
                raise LLMError(
                    "WORKBENCH_LLM_BASE_URL is set: also set WORKBENCH_LLM_MODEL to the served model's name"
                )
            return from_env("vllm", model=model, base_url=os.environ["WORKBENCH_LLM_BASE_URL"])
        if os.environ.get("OPENAI_API_KEY"):
            return from_env("openai", model=model or "gpt-4o-mini")
    return ScriptedLLM(scripted, ttft_s=ttft_s, tokens_per_s=tokens_per_s)


def describe_llm(llm: LLM) -> str:
    if isinstance(llm, ScriptedLLM):
        return "scripted replay LLM (replays fixed text: a latency model, not a model's output)"
    return f"{type(llm).__name__} ({llm.model})"
