"""`OpenAICompatLLM`: streaming chat completions from any OpenAI-compatible server, with our own retries.

One class serves OpenAI, Azure OpenAI, vLLM, Friendli, llama.cpp, LM Studio and ``mlx_lm.server``;
`from_env` builds it for a provider from environment variables. The `openai` client's own retries are
switched off (``max_retries=0``) because they cannot cover the failure that matters most for streaming:
a stream cut part-way through, after text has already reached the caller. `_generate` retries that
itself, together with HTTP 429, 5xx, connection errors and timeouts, with exponential backoff and
jitter. On a retry after a cut, the new stream must repeat what was already delivered: the repeated part
is skipped so the caller sees every character exactly once, and a retry that says something else is an
error (the caller cannot take text back).

Anything else (401, 400, 404, ...) fails at once with an `LLMError` that says what to check. The API key
is never shown: not in ``repr``, not in error messages (server messages are redacted before quoting).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import random
import weakref
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import openai

from workbench.llm.base import LLM, LLMError, Message, StreamState, Usage

#: OpenAI accepts at most this many stop sequences; the rest are still applied on the client side.
MAX_SERVER_STOPS = 4


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. `timeout_s` bounds connecting and each wait for the next bytes of a response
    (so a long generation is fine, but a server silent for that long is a failed attempt)."""

    max_attempts: int = 4
    base_delay_s: float = 0.5
    max_delay_s: float = 8.0
    timeout_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, not {self.max_attempts}")
        if self.base_delay_s < 0 or self.max_delay_s < 0 or self.timeout_s <= 0:
            raise ValueError("delays must be >= 0 and timeout_s > 0")

    def delay(self, attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based): doubling, capped, +0-10%.

        A server's Retry-After is honoured up to `max_delay_s`.
        """
        base = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        if retry_after_s is not None:
            base = min(self.max_delay_s, max(base, retry_after_s))
        return base * (1 + 0.1 * random.random())


class _Secret:
    """Holds the API key so that printing the holder can never show it."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        return self._value

    def redact(self, text: str) -> str:
        return text.replace(self._value, "***") if len(self._value) >= 4 else text

    def __repr__(self) -> str:
        return "<secret>"

    __str__ = __repr__


class _Retryable(Exception):
    """A transient failure of one attempt (the text says what happened)."""

    def __init__(self, what: str, retry_after_s: float | None = None):
        super().__init__(what)
        self.retry_after_s = retry_after_s


class OpenAICompatLLM(LLM):
    """A chat model behind an OpenAI-compatible HTTP API, streamed.

    `api_version` switches to Azure: `base_url` is then the Azure endpoint and `model` the deployment name.
    `api_key_env` only names where the key came from, for error messages. `stream_usage` asks the server
    for a final usage chunk (``stream_options.include_usage``); a server that rejects the option is asked
    again without it, and without server usage the base class counts tokens approximately.
    `max_tokens_param` is the request field for the token limit (OpenAI's newer models want
    ``max_completion_tokens``). `extra_body` is merged into every request (server-specific options).
    """

    def __init__(
        self,
        model: str,
        base_url: str | None = None,
        api_key: str | None = None,
        retry: RetryPolicy | None = None,
        *,
        provider: str = "openai-compatible",
        api_key_env: str | None = None,
        api_version: str | None = None,
        stream_usage: bool = True,
        max_tokens_param: str = "max_tokens",
        extra_body: Mapping[str, Any] | None = None,
    ):
        if not model:
            raise ValueError("OpenAICompatLLM needs a model name (the deployment name on Azure)")
        if api_version is not None and not base_url:
            raise ValueError(
                "Azure needs base_url set to the endpoint, e.g. https://<resource>.openai.azure.com"
            )
        self.model = model
        self.base_url = base_url
        self.provider = provider
        self.retry = retry or RetryPolicy()
        self.api_key_env = api_key_env
        self.api_version = api_version
        self.stream_usage = stream_usage
        self.max_tokens_param = max_tokens_param
        self.extra_body = dict(extra_body or {})
        # Local servers ignore the key, but the client insists on one; never fall back to OPENAI_API_KEY
        # (that would send an OpenAI key to whatever server base_url names).
        self._key = _Secret(api_key or "")
        # One client per event loop: an async HTTP connection pool cannot move between loops.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, openai.AsyncOpenAI] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        where = f", api_version={self.api_version!r}" if self.api_version else ""
        return (
            f"OpenAICompatLLM(provider={self.provider!r}, model={self.model!r}, base_url={self.base_url!r}"
            f"{where}, retry={self.retry!r})"
        )

    __str__ = __repr__

    def _client(self) -> openai.AsyncOpenAI:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            common: dict[str, Any] = {
                "api_key": self._key.reveal() or "EMPTY",
                "max_retries": 0,
                "timeout": self.retry.timeout_s,
            }
            if self.api_version is not None:
                client = openai.AsyncAzureOpenAI(
                    azure_endpoint=self.base_url,
                    azure_deployment=self.model,
                    api_version=self.api_version,
                    **common,
                )
            else:
                client = openai.AsyncOpenAI(base_url=self.base_url, **common)
            self._clients[loop] = client
        return client

    def with_extra_body(self, **extra: Any) -> OpenAICompatLLM:
        """The same client (its HTTP connections shared) sending `extra` in every request besides its own
        `extra_body`: per-request server options, such as the GBNF grammar of one query for llama.cpp."""
        out = copy.copy(self)
        out.extra_body = {**self.extra_body, **extra}
        return out

    async def aclose(self) -> None:
        """Close this event loop's HTTP client (optional: clients are also dropped with their loop)."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.close()

    # ------------------------------------------------------------------------------------------ request

    def _request(
        self, messages: list[Message], stop: Sequence[str], temperature: float, max_tokens: int | None
    ) -> dict[str, Any]:
        request: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "temperature": temperature,
            "stream": True,
        }
        if stop:
            request["stop"] = list(stop)[:MAX_SERVER_STOPS]
        if max_tokens is not None:
            request[self.max_tokens_param] = max_tokens
        if self.stream_usage:
            request["stream_options"] = {"include_usage": True}
        if self.extra_body:
            request["extra_body"] = self.extra_body
        return request

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        """Stream one completion, retrying transient failures and resuming cut streams (module docstring)."""
        delivered = ""  # text already yielded to the caller, over all attempts
        for attempt in range(1, self.retry.max_attempts + 1):
            received = ""  # text of this attempt
            try:
                async with contextlib.aclosing(
                    self._attempt(messages, stop, temperature, max_tokens, state)
                ) as pieces:
                    async for piece in pieces:
                        received += piece
                        if not (delivered.startswith(received) or received.startswith(delivered)):
                            raise self._diverged(delivered, received, attempt)
                        if len(received) > len(delivered):  # past what the caller already has
                            new, delivered = received[len(delivered) :], received
                            yield new
                if len(received) < len(delivered):
                    raise self._diverged(delivered, received, attempt)
                return
            except _Retryable as failure:
                if attempt == self.retry.max_attempts:
                    raise LLMError(
                        f"{self._where()} gave up after {attempt} attempts; last failure: {failure}. "
                        f"{self._hint_unreachable()}"
                    ) from None
                await asyncio.sleep(self.retry.delay(attempt, failure.retry_after_s))

    async def _attempt(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        """One request: yield its text pieces; raise `_Retryable` for a transient failure (a cut stream
        included), `LLMError` for a final one. Usage and finish reason go to `state`."""
        stream = None
        finish: str | None = None
        try:
            try:
                stream = await self._client().chat.completions.create(
                    **self._request(messages, stop, temperature, max_tokens)
                )
            except openai.APIStatusError as err:
                if not (err.status_code == 400 and "stream_options" in _message(err) and self.stream_usage):
                    raise
                self.stream_usage = False  # this server does not know the option: ask again without it
                stream = await self._client().chat.completions.create(
                    **self._request(messages, stop, temperature, max_tokens)
                )
            async for chunk in stream:
                if chunk.usage is not None:
                    state.usage = Usage(chunk.usage.prompt_tokens or 0, chunk.usage.completion_tokens or 0)
                for choice in chunk.choices[:1]:
                    finish = choice.finish_reason or finish
                    if choice.delta is not None and choice.delta.content:
                        yield choice.delta.content
        except openai.APIStatusError as err:
            raise self._classify(err) from None
        except openai.APIConnectionError as err:  # includes APITimeoutError and a connection dropped mid-body
            raise _Retryable(self._describe(err)) from None
        except openai.OpenAIError as err:
            raise LLMError(f"{self._where()}: {self._describe(err)}") from None
        finally:
            if stream is not None:
                await stream.close()
        if finish is None:  # the body ended cleanly but the answer did not: treat it as a cut
            raise _Retryable("the stream ended without a finish reason (connection closed mid-answer)")
        state.finish_reason = "length" if finish == "length" else "stop"

    # ------------------------------------------------------------------------------------------- errors

    def _where(self) -> str:
        return f"chat completion from {self.provider} model {self.model!r} at {self.base_url or 'api.openai.com'}"

    def _describe(self, err: openai.OpenAIError) -> str:
        if isinstance(err, openai.APITimeoutError):
            return f"no response within {self.retry.timeout_s:g} s (timeout)"
        if isinstance(err, openai.APIConnectionError):
            cause = err.__cause__ or err.__context__
            detail = f" ({type(cause).__name__}: {self._key.redact(str(cause))})" if cause else ""
            return f"connection error{detail}"
        if isinstance(err, openai.APIStatusError):
            return f"HTTP {err.status_code}: {_message(err, self._key)}"
        return self._key.redact(str(err))

    def _classify(self, err: openai.APIStatusError) -> Exception:
        """A retryable marker for 408/429/5xx; otherwise the final `LLMError` with what to check."""
        code = err.status_code
        if code in (408, 429) or code >= 500:
            return _Retryable(self._describe(err), _retry_after(err))
        key = f"the API key in {self.api_key_env}" if self.api_key_env else "the API key"
        hint = {
            401: f"check {key} (it was rejected)",
            403: f"check that {key} is allowed to use model {self.model!r}",
            404: f"check the model name {self.model!r} and the base URL (is the server serving this model?)",
            400: "the server rejected the request; check the model's limits and the request options",
            422: "the server rejected the request; check the model's limits and the request options",
        }.get(code, "this error is not transient")
        return LLMError(
            f"{self._where()} failed with {self._describe(err)}; {hint} (not retried).", permanent=True
        )

    def _hint_unreachable(self) -> str:
        return (
            "Check that the server is running and reachable at the base URL, that it is not overloaded, "
            "or raise RetryPolicy.max_attempts / timeout_s."
        )

    def _diverged(self, delivered: str, received: str, attempt: int) -> LLMError:
        at = next(
            (i for i, (a, b) in enumerate(zip(delivered, received, strict=False)) if a != b),
            min(len(delivered), len(received)),
        )
        return LLMError(
            f"{self._where()}: the stream was cut after {len(delivered)} characters had been delivered, and "
            f"the retried stream (attempt {attempt}) differed from them at character {at} "
            f"({delivered[at : at + 20]!r} vs {received[at : at + 20]!r}). Text already given to the caller "
            "cannot be replaced; use temperature 0 on a deterministic server, or retry the whole call."
        )


def _message(err: openai.APIStatusError, key: _Secret | None = None) -> str:
    """The server's error message (from the JSON body when there is one), redacted."""
    body = err.body
    message = None
    if isinstance(body, dict):
        inner = body.get("error", body)
        message = inner.get("message") if isinstance(inner, dict) else inner
    text = str(message or err.message)
    return key.redact(text) if key is not None else text


def _retry_after(err: openai.APIStatusError) -> float | None:
    try:
        value = err.response.headers.get("retry-after")
        return float(value) if value is not None else None
    except (ValueError, AttributeError):
        return None


# ---------------------------------------------------------------------------------------------- from_env


@dataclass(frozen=True)
class _Provider:
    base_url: str | None  # the default base URL (None: the client's own default, api.openai.com)
    base_url_env: str | None = None
    key_env: str | None = None
    key_required: bool = False
    model_env: str | None = None
    default_model: str | None = None
    max_tokens_param: str = "max_tokens"


PROVIDERS: dict[str, _Provider] = {
    "openai": _Provider(
        None,
        "OPENAI_BASE_URL",
        "OPENAI_API_KEY",
        True,
        "OPENAI_MODEL",
        max_tokens_param="max_completion_tokens",
    ),
    "azure": _Provider(
        None,
        "AZURE_ENDPOINT",
        "AZURE_OPENAI_API_KEY",
        True,
        "AZURE_DEPLOYMENT_NAME",
        max_tokens_param="max_completion_tokens",
    ),
    "vllm": _Provider("http://127.0.0.1:8000/v1", "VLLM_BASE_URL", "VLLM_API_KEY", False, "VLLM_MODEL"),
    "friendli": _Provider(
        "https://inference.friendli.ai/v1", "FRIENDLI_BASE_URL", "FRIENDLI_TOKEN", True, "FRIENDLI_MODEL"
    ),
    "llamacpp": _Provider(
        "http://127.0.0.1:8080/v1", "LLAMACPP_BASE_URL", "LLAMACPP_API_KEY", False, "LLAMACPP_MODEL", "local"
    ),
    "lmstudio": _Provider(
        "http://127.0.0.1:1234/v1", "LMSTUDIO_BASE_URL", "LMSTUDIO_API_KEY", False, "LMSTUDIO_MODEL"
    ),
    "mlx": _Provider("http://127.0.0.1:8080/v1", "MLX_BASE_URL", None, False, "MLX_MODEL", "default_model"),
}


def from_env(provider: str, model: str | None = None, **overrides: Any) -> OpenAICompatLLM:
    """Build the client for `provider` from environment variables.

    ====================  =========================================  =====================================
    provider              base URL (variable, default)               key variable (required?), model
    ====================  =========================================  =====================================
    openai                OPENAI_BASE_URL, api.openai.com            OPENAI_API_KEY (yes), OPENAI_MODEL
    azure                 AZURE_ENDPOINT (required)                  AZURE_OPENAI_API_KEY (yes),
                          + AZURE_OPENAI_API_VERSION (required)      AZURE_DEPLOYMENT_NAME
    vllm                  VLLM_BASE_URL, http://127.0.0.1:8000/v1    VLLM_API_KEY (no), VLLM_MODEL
    friendli              FRIENDLI_BASE_URL,                         FRIENDLI_TOKEN (yes), FRIENDLI_MODEL
                          https://inference.friendli.ai/v1
    llamacpp              LLAMACPP_BASE_URL, http://127.0.0.1:8080/v1  LLAMACPP_API_KEY (no), "local"
    lmstudio              LMSTUDIO_BASE_URL, http://127.0.0.1:1234/v1  LMSTUDIO_API_KEY (no), LMSTUDIO_MODEL
    mlx (mlx_lm.server)   MLX_BASE_URL, http://127.0.0.1:8080/v1     none, "default_model" (the loaded one)
    ====================  =========================================  =====================================

    `model` wins over the model variable. `overrides` go to `OpenAICompatLLM` (e.g. ``retry=``,
    ``base_url=``). A missing required variable is a `LLMError` naming it.
    """
    spec = PROVIDERS.get(provider)
    if spec is None:
        raise ValueError(f"unknown provider {provider!r}: choose one of {', '.join(PROVIDERS)}")

    def need(var: str, what: str) -> str:
        value = os.environ.get(var)
        if not value:
            raise LLMError(f"provider {provider!r} needs {what}: set the environment variable {var}")
        return value

    kwargs: dict[str, Any] = {
        "provider": provider,
        "max_tokens_param": spec.max_tokens_param,
        "api_key_env": spec.key_env,
    }
    if provider == "azure":
        kwargs["base_url"] = need(
            "AZURE_ENDPOINT", "the Azure endpoint (https://<resource>.openai.azure.com)"
        )
        kwargs["api_version"] = need("AZURE_OPENAI_API_VERSION", "the Azure OpenAI API version")
    else:
        kwargs["base_url"] = (
            os.environ.get(spec.base_url_env) if spec.base_url_env else None
        ) or spec.base_url
    if spec.key_env is not None:
        kwargs["api_key"] = (
            need(spec.key_env, "an API key") if spec.key_required else os.environ.get(spec.key_env) or None
        )
    model = model or (os.environ.get(spec.model_env) if spec.model_env else None) or spec.default_model
    if not model:
        what = "a deployment name" if provider == "azure" else "a model name"
        raise LLMError(
            f"provider {provider!r} needs {what}: pass model=... or set the environment "
            f"variable {spec.model_env}"
        )
    kwargs.update(overrides)
    return OpenAICompatLLM(model, **kwargs)
