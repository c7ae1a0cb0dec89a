"""A scripted replay LLM: streams given text at a set time to first token and token rate.

It is not a model. It serves tests and the latency experiments (LLMCompiler vs ReAct under the same
token timing), and nothing it produces is ever reported as a model's accuracy.

    >>> import asyncio
    >>> llm = ScriptedLLM(["Thought: done\\nAction: Finish(42)"], ttft_s=0.0, tokens_per_s=None)
    >>> asyncio.run(llm.complete([{"role": "user", "content": "?"}])).text
    'Thought: done\\nAction: Finish(42)'
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence

from workbench.llm.base import LLM, LLMError, Message, StreamState, approx_tokens


class ScriptedLLM(LLM):
    """Replays `responses` in order (or `responses(messages)` when it is a function).

    Timing: the first token arrives `ttft_s` after the call; then one token every 1/`tokens_per_s` s
    (None: all at once). Tokens are `approx_tokens` pieces. `calls` keeps the messages of every call.
    """

    def __init__(
        self,
        responses: Sequence[str] | Callable[[list[Message]], str],
        ttft_s: float = 0.0,
        tokens_per_s: float | None = None,
        model: str = "scripted-replay",
    ):
        self.responses = responses
        self.ttft_s = ttft_s
        self.tokens_per_s = tokens_per_s
        self.model = model
        self.calls: list[list[Message]] = []

    def _next_text(self, messages: list[Message]) -> str:
        self.calls.append(messages)
        if callable(self.responses):
            return self.responses(messages)
        i = len(self.calls) - 1
        if i >= len(self.responses):
            raise LLMError(f"the scripted LLM has {len(self.responses)} responses and was called again")
        return self.responses[i]

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        text = self._next_text(messages)
        tokens = approx_tokens(text)
        if max_tokens is not None and len(tokens) > max_tokens:
            tokens, state.finish_reason = tokens[:max_tokens], "length"
        start = time.perf_counter()
        for i, tok in enumerate(tokens):
            due = self.ttft_s + (i / self.tokens_per_s if self.tokens_per_s else 0.0)
            wait = start + due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            yield tok
