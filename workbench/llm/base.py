"""One async streaming interface for every LLM backend (planner, joiner, ReAct, teacher).

A backend implements `_generate`, an async iterator of text chunks that may set `self.last_usage`-style
usage through `StreamState`. Callers use `stream` (chunks as they arrive) or `complete` (the whole text);
both give a `Completion` with the text, token usage and timings (time to first token, total):

    >>> import asyncio
    >>> from workbench.llm import ScriptedLLM
    >>> llm = ScriptedLLM(["1. f()\\njoin()<END_OF_PLAN>"])
    >>> asyncio.run(llm.complete([{"role": "user", "content": "plan"}], stop=["<END_OF_PLAN>"])).text
    '1. f()\\njoin()'

Stop sequences are applied here, on the client side, as well as passed to the backend, so every backend
stops at the same place (servers differ in whether they honour them mid-token).
"""

from __future__ import annotations

import abc
import re
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass

Message = dict[str, str]
_TOKEN_RE = re.compile(r"\s*\w+|\s*[^\w\s]|\s+")


def approx_tokens(text: str) -> list[str]:
    """Split text into word/punctuation pieces: a tokenizer-free token estimate (for scripted models).

    >>> approx_tokens("1. f('x')")
    ['1', '.', ' f', '(', "'", 'x', "'", ')']
    """
    return _TOKEN_RE.findall(text)


def count_tokens(text: str) -> int:
    return len(approx_tokens(text))


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens, self.completion_tokens + other.completion_tokens
        )


@dataclass
class Completion:
    """What one call produced. `ttft_s` is None when no text came back."""

    text: str
    usage: Usage
    ttft_s: float | None
    total_s: float
    model: str = ""
    finish_reason: str = "stop"


@dataclass
class StreamState:
    """Filled in by a backend while it streams: exact usage when the server reports it."""

    usage: Usage | None = None
    finish_reason: str = "stop"


class LLMError(RuntimeError):
    """A call failed for good (after retries); the message says what to check.

    `permanent` marks a failure that no retry can fix (a rejected key, an unknown model, a refused request):
    callers that loop over many calls (the teacher) stop at once instead of repeating it.
    """

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class LLM(abc.ABC):
    """Base class: subclasses implement `_generate`; `stream` and `complete` add stops, usage and timings."""

    model: str = ""

    @abc.abstractmethod
    def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        """Yield text chunks; set `state.usage` if the backend knows the exact counts."""

    async def stream(
        self,
        messages: list[Message],
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        max_tokens: int | None = None,
        result: list[Completion] | None = None,
    ) -> AsyncIterator[str]:
        """Yield text chunks up to (not including) the first stop sequence.

        When the stream ends, a `Completion` for the whole call is appended to `result` (if given).
        """
        state = StreamState()
        start = time.perf_counter()
        ttft: float | None = None
        text = ""
        emitted = 0
        stopped = False
        gen = self._generate(list(messages), list(stop), temperature, max_tokens, state)
        try:
            async for chunk in gen:
                if not chunk:
                    continue
                text += chunk
                cut = min((i for s in stop if (i := text.find(s, max(0, emitted - len(s)))) >= 0), default=-1)
                if cut >= 0:
                    text, stopped = text[:cut], True
                safe = len(text) if stopped else max(emitted, len(text) - _partial_stop(text, stop))
                if safe > emitted:
                    if ttft is None:
                        ttft = time.perf_counter() - start
                    yield text[emitted:safe]
                    emitted = safe
                if stopped:
                    break
            if emitted < len(text):
                if ttft is None:
                    ttft = time.perf_counter() - start
                yield text[emitted:]
                emitted = len(text)
        finally:  # also when the caller closes the stream early: the call is still recorded
            await gen.aclose()
            if result is not None:
                usage = state.usage or Usage(count_tokens(_prompt_text(messages)), count_tokens(text))
                result.append(
                    Completion(
                        text,
                        usage,
                        ttft,
                        time.perf_counter() - start,
                        self.model,
                        "stop" if stopped else state.finish_reason,
                    )
                )

    async def complete(
        self,
        messages: list[Message],
        stop: Sequence[str] = (),
        temperature: float = 0.0,
        max_tokens: int | None = None,
    ) -> Completion:
        result: list[Completion] = []
        async for _ in self.stream(messages, stop, temperature, max_tokens, result):
            pass
        return result[0]


def _partial_stop(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of `text` that could be the start of a stop sequence (held back)."""
    best = 0
    for s in stops:
        for n in range(min(len(s) - 1, len(text)), best, -1):
            if text.endswith(s[:n]):
                best = n
                break
    return best


def _prompt_text(messages: Sequence[Message]) -> str:
    return "\n".join(m.get("content", "") for m in messages)
