"""Tests for the LLM backends: ScriptedLLM, OpenAICompatLLM against a real local HTTP server, from_env,
and the in-process TransformersLLM / MLXLLM on a tiny random Llama with a tokenizer trained here."""

from __future__ import annotations

import asyncio
import socket
import sys
import time
import traceback
from pathlib import Path
from typing import Any

import openai
import pytest

from workbench.llm import (
    LLM,
    Completion,
    LLMError,
    OpenAICompatLLM,
    RetryPolicy,
    ScriptedLLM,
    Usage,
    approx_tokens,
    count_tokens,
    from_env,
)
from workbench.llm.testing import FakeChatServer, Reply

USER = [{"role": "user", "content": "plan the steps"}]
KEY = "sk-test-NOT-A-REAL-KEY-1234567890"
FAST = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2.0)
TEXT = "1. get_email('Sid')\n2. send_sms($1, 'hello')\njoin()"


async def collect(
    llm: LLM, messages: list[dict[str, str]] = USER, **kwargs: Any
) -> tuple[list[str], Completion]:
    """Every chunk the consumer sees, and the call's Completion."""
    result: list[Completion] = []
    chunks = [chunk async for chunk in llm.stream(messages, result=result, **kwargs)]
    assert len(result) == 1
    return chunks, result[0]


def run(llm: LLM, **kwargs: Any) -> tuple[list[str], Completion]:
    return asyncio.run(collect(llm, **kwargs))


def no_key_in(*objects: object) -> None:
    for obj in objects:
        texts = [str(obj), repr(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            assert KEY not in text, f"the API key leaked into {text!r}"


# ------------------------------------------------------------------------------------------ ScriptedLLM


def test_scripted_timing_honours_ttft_and_token_rate():
    llm = ScriptedLLM([TEXT], ttft_s=0.1, tokens_per_s=100)
    chunks, done = run(llm)
    n = len(approx_tokens(TEXT))
    assert "".join(chunks) == TEXT == done.text
    assert done.ttft_s is not None and 0.09 <= done.ttft_s < 0.4
    expected_total = 0.1 + (n - 1) / 100
    assert expected_total * 0.95 <= done.total_s < expected_total + 0.5


@pytest.mark.parametrize("stop", ["<END_OF_PLAN>", "join()<END", ")<"])
def test_scripted_stop_sequences_split_across_chunks(stop):
    text = "1. f()\njoin()<END_OF_PLAN> ignored text"
    assert stop not in approx_tokens(text)  # the stop really is split over several chunks
    chunks, done = run(ScriptedLLM([text]), stop=[stop])
    expected = text[: text.find(stop)]
    assert "".join(chunks) == expected == done.text
    assert done.finish_reason == "stop"


def test_scripted_partial_stop_that_is_not_a_stop_is_released():
    """'<' is held back while it could start '<END>', then released when it does not."""
    chunks, done = run(ScriptedLLM(["a <b> c <END> d"]), stop=["<END>"])
    assert "".join(chunks) == "a <b> c " == done.text


def test_scripted_completion_fields():
    llm = ScriptedLLM(["Thought: done\nAction: Finish(42)"], model="replay-x")
    done = asyncio.run(llm.complete(USER))
    assert done.text == "Thought: done\nAction: Finish(42)"
    assert done.usage == Usage(count_tokens(USER[0]["content"]), count_tokens(done.text))
    assert done.usage.total_tokens == done.usage.prompt_tokens + done.usage.completion_tokens > 0
    assert done.ttft_s is not None and 0 <= done.ttft_s <= done.total_s
    assert (done.model, done.finish_reason) == ("replay-x", "stop")
    assert llm.calls == [USER]


def test_scripted_max_tokens_gives_length():
    done = asyncio.run(ScriptedLLM([TEXT]).complete(USER, max_tokens=5))
    assert done.text == "".join(approx_tokens(TEXT)[:5])
    assert done.finish_reason == "length"
    assert done.usage.completion_tokens == 5


def test_scripted_empty_text_has_no_ttft():
    done = asyncio.run(ScriptedLLM([""]).complete(USER))
    assert done.text == "" and done.ttft_s is None


def test_scripted_past_the_script_raises():
    llm = ScriptedLLM(["one"])
    asyncio.run(llm.complete(USER))
    with pytest.raises(LLMError, match="1 responses and was called again"):
        asyncio.run(llm.complete(USER))


# ----------------------------------------------------------------------------- OpenAICompatLLM over HTTP


def client_for(server: FakeChatServer, retry: RetryPolicy = FAST, **kwargs: Any) -> OpenAICompatLLM:
    return OpenAICompatLLM("fake-model", server.base_url, KEY, retry, api_key_env="FAKE_KEY", **kwargs)


def test_fake_server_speaks_the_non_streaming_protocol_too():
    with FakeChatServer([Reply("Hello there", usage=(7, 2))]) as server:
        client = openai.OpenAI(base_url=server.base_url, api_key=KEY, max_retries=0)
        reply = client.chat.completions.create(model="m1", messages=USER)
        client.close()
    assert reply.choices[0].message.content == "Hello there"
    assert reply.choices[0].finish_reason == "stop"
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (7, 2)
    assert server.requests[0]["model"] == "m1" and "stream" not in server.requests[0]


def test_fake_server_binds_loopback_only_and_stops():
    server = FakeChatServer(["x"])
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    with server:
        assert server.base_url.startswith("http://127.0.0.1:")
        port = int(server.base_url.split(":")[2].split("/")[0])
        thread = server._thread
        assert thread is not None and thread.is_alive()
    assert not thread.is_alive()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_streams_the_scripted_text_with_server_usage():
    with FakeChatServer([Reply(TEXT, usage=(123, 45))]) as server:
        chunks, done = run(client_for(server))
    assert "".join(chunks) == TEXT == done.text
    assert len(chunks) > 5  # really streamed, not one piece
    assert done.usage == Usage(123, 45)  # the server's numbers, not a local estimate
    assert done.finish_reason == "stop" and done.model == "fake-model"
    body = server.requests[0]
    assert body["model"] == "fake-model" and body["messages"] == USER
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_without_server_usage_tokens_are_counted():
    with FakeChatServer([Reply(TEXT, usage=(123, 45))]) as server:
        _, done = run(client_for(server, stream_usage=False))
    assert "stream_options" not in server.requests[0]
    assert done.usage == Usage(count_tokens(USER[0]["content"]), count_tokens(TEXT))


def test_server_rejecting_stream_options_is_asked_again_without():
    with FakeChatServer([TEXT, TEXT], accepts_stream_options=False) as server:
        llm = client_for(server)
        _, first = run(llm)
        _, second = run(llm)
    assert first.text == second.text == TEXT
    assert ["stream_options" in body for body in server.requests] == [True, False, False]
    assert second.usage == Usage(count_tokens(USER[0]["content"]), count_tokens(TEXT))


def test_stop_and_max_tokens_are_passed_to_the_server():
    with FakeChatServer([TEXT, TEXT]) as server:
        llm = client_for(server)
        _, stopped = run(llm, stop=["join()", "\n2."], temperature=0.0)
        _, limited = run(llm, max_tokens=4)
    assert server.requests[0]["stop"] == ["join()", "\n2."]
    assert server.requests[0]["temperature"] == 0.0
    assert stopped.text == "1. get_email('Sid')"
    assert server.requests[1]["max_tokens"] == 4
    assert limited.finish_reason == "length"
    assert limited.text == "".join(approx_tokens(TEXT)[:4])


def test_429_then_success_is_retried():
    with FakeChatServer([("status", 429), TEXT]) as server:
        _, done = run(client_for(server))
    assert done.text == TEXT
    assert len(server.requests) == 2


def test_two_500s_then_success():
    with FakeChatServer([("status", 500), ("status", 503), TEXT]) as server:
        _, done = run(client_for(server))
    assert done.text == TEXT
    assert len(server.requests) == 3


def test_cut_stream_is_resumed_without_duplicating_text():
    with FakeChatServer([("cut", 4), Reply(TEXT, usage=(9, 30))]) as server:
        chunks, done = run(client_for(server))
    pieces = approx_tokens(TEXT)
    assert chunks[:4] == pieces[:4]  # the first attempt's text reached the consumer before the cut
    assert "".join(chunks) == TEXT == done.text  # ... and was not repeated after the retry
    assert done.usage == Usage(9, 30)
    assert len(server.requests) == 2


def test_stream_ending_without_finish_reason_counts_as_cut():
    with FakeChatServer([Reply(TEXT, finish_reason=None), TEXT]) as server:
        chunks, done = run(client_for(server))
    assert "".join(chunks) == TEXT == done.text
    assert len(server.requests) == 2


def test_cut_then_a_different_text_is_an_error():
    with FakeChatServer([("cut", 3, "Alpha beta gamma delta"), "Alpha beta GAMMA delta"]) as server:
        llm = client_for(server)
        seen: list[str] = []

        async def consume() -> None:
            async for chunk in llm.stream(USER):
                seen.append(chunk)

        with pytest.raises(LLMError, match="differed") as info:
            asyncio.run(consume())
    assert "".join(seen) == "Alpha beta gamma"
    assert "retried stream" in str(info.value)


def test_budget_of_two_attempts_gives_up_on_three_500s():
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, timeout_s=2.0)
    with FakeChatServer([("status", 500)] * 3) as server:
        with pytest.raises(LLMError) as info:
            run(client_for(server, retry))
    message = str(info.value)
    assert "gave up after 2 attempts" in message and "HTTP 500" in message
    assert len(server.requests) == 2
    assert server.remaining == 1
    no_key_in(info.value)


def test_401_fails_at_once_and_never_shows_the_key():
    with FakeChatServer([("status", 401), TEXT]) as server:
        llm = client_for(server)
        with pytest.raises(LLMError) as info:
            run(llm)
    message = str(info.value)
    assert "HTTP 401" in message and "check the API key in FAKE_KEY" in message
    assert "***" in message  # the server echoed the key; it was redacted
    assert len(server.requests) == 1
    no_key_in(info.value, llm)


def test_404_names_the_model():
    with FakeChatServer([("status", 404)]) as server:
        with pytest.raises(LLMError, match="check the model name 'fake-model'"):
            run(client_for(server))
    assert len(server.requests) == 1


def test_hang_beyond_timeout_is_retried_then_fails():
    retry = RetryPolicy(max_attempts=2, base_delay_s=0.01, max_delay_s=0.05, timeout_s=0.3)
    with FakeChatServer([("hang", 10), ("hang", 10)]) as server:
        start = time.perf_counter()
        with pytest.raises(LLMError, match="gave up after 2 attempts.*timeout"):
            run(client_for(server, retry))
        assert time.perf_counter() - start < 3
    assert len(server.requests) == 2


def test_no_server_is_a_connection_error_after_retries():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    llm = OpenAICompatLLM("m", f"http://127.0.0.1:{port}/v1", KEY, FAST)
    with pytest.raises(LLMError, match="gave up after 3 attempts; last failure: connection error") as info:
        run(llm)
    no_key_in(info.value)


def test_chunk_delay_shows_up_in_ttft_and_total():
    with FakeChatServer([Reply("a b c d e", chunk_delay_s=0.05)]) as server:
        _, done = run(client_for(server))
    assert done.text == "a b c d e"
    assert done.ttft_s is not None and done.ttft_s >= 0.04
    assert done.total_s >= 5 * 0.05 * 0.9


def test_retry_policy_backoff_doubles_and_is_capped():
    policy = RetryPolicy(max_attempts=5, base_delay_s=0.1, max_delay_s=0.5)
    delays = [policy.delay(a) for a in (1, 2, 3, 4)]
    for got, want in zip(delays, [0.1, 0.2, 0.4, 0.5], strict=True):
        assert want <= got <= want * 1.1
    assert 0.5 <= policy.delay(1, retry_after_s=30) <= 0.55
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)


# ------------------------------------------------------------------------------------------- from_env

PROVIDER_VARS = [
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_MODEL",
    "AZURE_ENDPOINT",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_DEPLOYMENT_NAME",
    "AZURE_OPENAI_API_KEY",
    "VLLM_BASE_URL",
    "VLLM_API_KEY",
    "VLLM_MODEL",
    "FRIENDLI_TOKEN",
    "FRIENDLI_BASE_URL",
    "FRIENDLI_MODEL",
    "LLAMACPP_BASE_URL",
    "LLAMACPP_MODEL",
    "LLAMACPP_API_KEY",
    "LMSTUDIO_BASE_URL",
    "LMSTUDIO_MODEL",
    "LMSTUDIO_API_KEY",
    "MLX_BASE_URL",
    "MLX_MODEL",
]


@pytest.fixture
def clean_env(monkeypatch):
    for var in PROVIDER_VARS:
        monkeypatch.delenv(var, raising=False)
    return monkeypatch


@pytest.mark.parametrize(
    "provider, env, model, base_url, want_model",
    [
        ("openai", {"OPENAI_API_KEY": KEY}, "gpt-4o-mini", None, "gpt-4o-mini"),
        (
            "openai",
            {"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": "http://proxy:9/v1", "OPENAI_MODEL": "gpt-x"},
            None,
            "http://proxy:9/v1",
            "gpt-x",
        ),
        (
            "azure",
            {
                "AZURE_ENDPOINT": "https://res.openai.azure.com",
                "AZURE_OPENAI_API_VERSION": "2024-10-21",
                "AZURE_DEPLOYMENT_NAME": "planner",
                "AZURE_OPENAI_API_KEY": KEY,
            },
            None,
            "https://res.openai.azure.com",
            "planner",
        ),
        ("vllm", {"VLLM_MODEL": "tiny-agent-1b"}, None, "http://127.0.0.1:8000/v1", "tiny-agent-1b"),
        (
            "vllm",
            {"VLLM_BASE_URL": "http://gpu:8001/v1", "VLLM_API_KEY": KEY},
            "m",
            "http://gpu:8001/v1",
            "m",
        ),
        (
            "friendli",
            {"FRIENDLI_TOKEN": KEY},
            "meta-llama-3.1-8b",
            "https://inference.friendli.ai/v1",
            "meta-llama-3.1-8b",
        ),
        ("llamacpp", {}, None, "http://127.0.0.1:8080/v1", "local"),
        (
            "lmstudio",
            {"LMSTUDIO_MODEL": "tinyagent-1.1b"},
            None,
            "http://127.0.0.1:1234/v1",
            "tinyagent-1.1b",
        ),
        ("mlx", {}, None, "http://127.0.0.1:8080/v1", "default_model"),
    ],
)
def test_from_env_resolves_each_provider(clean_env, provider, env, model, base_url, want_model):
    for var, value in env.items():
        clean_env.setenv(var, value)
    llm = from_env(provider, model)
    assert (llm.provider, llm.base_url, llm.model) == (provider, base_url, want_model)
    assert llm._key.reveal() == (KEY if KEY in env.values() else "")
    no_key_in(llm)


@pytest.mark.parametrize(
    "provider, env, missing",
    [
        ("openai", {}, "OPENAI_API_KEY"),
        (
            "azure",
            {"AZURE_OPENAI_API_VERSION": "v", "AZURE_DEPLOYMENT_NAME": "d", "AZURE_OPENAI_API_KEY": KEY},
            "AZURE_ENDPOINT",
        ),
        (
            "azure",
            {"AZURE_ENDPOINT": "https://r", "AZURE_DEPLOYMENT_NAME": "d", "AZURE_OPENAI_API_KEY": KEY},
            "AZURE_OPENAI_API_VERSION",
        ),
        (
            "azure",
            {"AZURE_ENDPOINT": "https://r", "AZURE_OPENAI_API_VERSION": "v", "AZURE_DEPLOYMENT_NAME": "d"},
            "AZURE_OPENAI_API_KEY",
        ),
        (
            "azure",
            {"AZURE_ENDPOINT": "https://r", "AZURE_OPENAI_API_VERSION": "v", "AZURE_OPENAI_API_KEY": KEY},
            "AZURE_DEPLOYMENT_NAME",
        ),
        ("friendli", {}, "FRIENDLI_TOKEN"),
        ("vllm", {}, "VLLM_MODEL"),
        ("openai", {"OPENAI_API_KEY": KEY}, "OPENAI_MODEL"),
    ],
)
def test_from_env_missing_variable_is_named(clean_env, provider, env, missing):
    for var, value in env.items():
        clean_env.setenv(var, value)
    with pytest.raises(LLMError, match=missing) as info:
        from_env(provider)
    no_key_in(info.value)


def test_from_env_unknown_provider_lists_the_known_ones():
    with pytest.raises(ValueError, match="openai, azure, vllm"):
        from_env("bard")


def test_from_env_overrides_and_a_local_server_never_gets_the_openai_key(clean_env):
    clean_env.setenv("OPENAI_API_KEY", KEY)
    with FakeChatServer([TEXT]) as server:
        llm = from_env("vllm", "tiny", base_url=server.base_url, retry=FAST)
        _, done = run(llm)
    assert done.text == TEXT and llm.retry is FAST
    assert server.requests[0]["model"] == "tiny"
    no_key_in(llm)


def test_azure_client_talks_to_the_deployment_path(clean_env):
    with FakeChatServer([TEXT, ("status", 401)]) as server:
        endpoint = server.base_url.removesuffix("/v1")
        for var, value in {
            "AZURE_ENDPOINT": endpoint,
            "AZURE_OPENAI_API_VERSION": "2024-10-21",
            "AZURE_DEPLOYMENT_NAME": "planner-dep",
            "AZURE_OPENAI_API_KEY": KEY,
        }.items():
            clean_env.setenv(var, value)
        llm = from_env("azure", retry=FAST)
        _, done = run(llm, max_tokens=50)
        with pytest.raises(LLMError, match="AZURE_OPENAI_API_KEY") as info:
            run(llm)
    assert done.text == TEXT
    assert server.paths[0].startswith("/openai/deployments/planner-dep/chat/completions")
    assert "api-version=2024-10-21" in server.paths[0]
    assert server.requests[0]["max_completion_tokens"] == 50
    no_key_in(llm, info.value)


# ------------------------------------------------------------------------------- in-process local models


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> tuple[Any, Any, Path]:
    """A random 2-layer Llama (hidden 32) with a BPE tokenizer trained here, also saved as an HF folder."""
    torch = pytest.importorskip("torch")
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    raw = Tokenizer(models.BPE(unk_token="<unk>"))
    # No decoder: decoding joins tokens with spaces, so TextIteratorStreamer (which releases text up to
    # the last space) streams token by token even from a random model that never emits a space token.
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    sentences = [
        "1. get_email('Sid') 2. send_sms($1, 'hello') join()",
        "The quick brown fox jumps over the lazy dog.",
        "user: plan the steps\nassistant: Thought: done",
        "create_calendar_event open_and_get_file_path",
    ]
    raw.train_from_iterator(
        sentences * 3, trainers.BpeTrainer(vocab_size=160, special_tokens=["<unk>", "<s>", "</s>"])
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw, bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    tokenizer.chat_template = (
        "<s>{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
        "{% if add_generation_prompt %}assistant:{% endif %}"
    )
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.eos_token_id,
        tie_word_embeddings=False,
    )
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval()
    folder = tmp_path_factory.mktemp("models") / "tiny-llama"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return model, tokenizer, folder


MESSAGES = [
    {"role": "system", "content": "You are a planner."},
    {"role": "user", "content": "plan the steps"},
]


def test_transformers_stream_equals_complete_and_usage_is_exact(tiny_llama):
    import torch

    from workbench.llm import TransformersLLM

    model, tokenizer, _ = tiny_llama
    llm = TransformersLLM(model, tokenizer)
    chunks, streamed = run(llm, messages=MESSAGES, max_tokens=24)
    done = asyncio.run(llm.complete(MESSAGES, max_tokens=24))
    assert "".join(chunks) == streamed.text == done.text and done.text.strip()

    prompt = tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    ids = torch.tensor([prompt])
    reference = model.generate(
        ids,
        attention_mask=torch.ones_like(ids),
        max_new_tokens=24,
        do_sample=False,
        pad_token_id=tokenizer.eos_token_id,
    )[0, len(prompt) :]
    assert done.text == tokenizer.decode(reference, skip_special_tokens=True)
    assert done.usage == Usage(len(prompt), len(reference))
    assert done.usage.prompt_tokens > 5
    assert done.finish_reason == ("length" if len(reference) == 24 else "stop")


def test_transformers_stop_cancels_generation(tiny_llama):
    from workbench.llm import TransformersLLM

    model, tokenizer, _ = tiny_llama
    llm = TransformersLLM(model, tokenizer)
    full = asyncio.run(llm.complete(MESSAGES, max_tokens=40)).text
    stop = full.split()[3]
    _, done = run(llm, messages=MESSAGES, stop=[stop], max_tokens=400)
    assert done.text == full[: full.find(stop)]
    assert done.finish_reason == "stop"
    # generation was cancelled a few tokens after the stop word (one token per word here), not run on
    assert 0 < done.usage.completion_tokens <= 15


def test_transformers_loads_a_saved_folder(tiny_llama):
    from workbench.llm import TransformersLLM

    model, tokenizer, folder = tiny_llama
    from_folder = asyncio.run(TransformersLLM(folder).complete(MESSAGES, max_tokens=10))
    in_memory = asyncio.run(TransformersLLM(model, tokenizer).complete(MESSAGES, max_tokens=10))
    assert from_folder.text == in_memory.text and from_folder.usage == in_memory.usage
    assert from_folder.model == "tiny-llama"


def test_local_backends_name_a_missing_folder(tmp_path):
    from workbench.llm import MLXLLM, TransformersLLM

    missing = tmp_path / "no-such-model"
    for backend in (TransformersLLM, MLXLLM):
        with pytest.raises(FileNotFoundError, match="no-such-model.*does not exist") as info:
            backend(missing)
        assert "transformers" not in "".join(traceback.format_tb(info.value.__traceback__))
    with pytest.raises(FileNotFoundError, match="has no config.json"):
        TransformersLLM(tmp_path)


def test_importing_workbench_llm_loads_no_heavy_library():
    import subprocess

    code = (
        "import sys, workbench.llm; heavy = [m for m in ('torch', 'mlx', 'transformers', 'openai') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _mlx_lm_or_skip() -> Any:
    try:
        import mlx_lm
    except Exception as exc:  # ImportError, or a platform library that fails to load
        pytest.skip(f"mlx_lm does not import here: {exc}")
    return mlx_lm


def test_mlx_streams_text_and_exact_usage(tiny_llama):
    _mlx_lm_or_skip()
    from workbench.llm import MLXLLM

    _, tokenizer, folder = tiny_llama
    llm = MLXLLM(folder)
    chunks, streamed = run(llm, messages=MESSAGES, max_tokens=8)
    done = asyncio.run(llm.complete(MESSAGES, max_tokens=8))
    assert "".join(chunks) == streamed.text == done.text and done.text.strip()
    prompt = tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True
    )["input_ids"]
    assert done.usage.prompt_tokens == len(prompt)
    assert 1 <= done.usage.completion_tokens <= 8
    assert done.finish_reason == ("length" if done.usage.completion_tokens == 8 else "stop")
    assert done.model == "tiny-llama"
