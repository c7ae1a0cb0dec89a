"""LLM backends behind one async streaming interface (see `base.py`)."""

from workbench.llm.base import LLM, Completion, LLMError, Message, StreamState, Usage, approx_tokens, count_tokens
from workbench.llm.replay import ScriptedLLM

__all__ = ["LLM", "Completion", "LLMError", "Message", "ScriptedLLM", "StreamState", "Usage", "approx_tokens",
           "count_tokens"]
