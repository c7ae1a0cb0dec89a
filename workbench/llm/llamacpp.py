"""In-process llama.cpp (`llama-cpp-python`): a GGUF planner on llama.cpp's own CPU kernels (TinyAgent Sec. 6).

`LlamaCppLLM` is the third in-process engine beside `TransformersLLM` and `MLXLLM` (`llm.local`), with the same
surface (`prompt_ids`, `decode`, `generate_batch`, streaming), so the planner runtime drives it like the others.
Where those two take logits processors, this one takes a GBNF grammar (`with_grammar`): llama.cpp applies it in
its own sampler, which is how a constrained GGUF planner decodes (the grammar is the planner's; this module
knows nothing of plans).

The prompt is the chat template stored in the GGUF file, rendered with jinja2 (as llama-cpp-python's own chat
formatter does) and tokenized by llama.cpp with its special tokens parsed. Each generation starts from an empty
KV cache unless `reuse_prefix` is set: llama.cpp would otherwise skip the prompt prefix it evaluated for the
previous query, which is real on a server but makes one-query-at-a-time latencies incomparable with the other
engines. `stats` gets token counts and speeds per generation, as `MLXLLM.stats` does.

llama_cpp is imported inside the class, so importing this module needs nothing.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
import time
import weakref
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.llm.base import LLM, Message, StreamState, Usage, _prompt_text
from workbench.llm.local import _thread_stream


def need_llama_cpp() -> Any:
    """`llama_cpp`, or an ImportError that says how to get it."""
    try:
        import llama_cpp
    except ImportError as exc:
        raise ImportError(
            f"the GGUF path needs llama-cpp-python, which did not import ({exc}): `make gguf` builds it once "
            "(pip compiles it from source with cmake and a C++ compiler: 10-20 minutes on 2 cores; the wheel is "
            "then cached) or `pip install 'tinyagent-workbench[gguf]'`"
        ) from None
    return llama_cpp


def gguf_file(path: str | os.PathLike[str]) -> Path:
    """Check that `path` is a GGUF file, with an error that names it."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise FileNotFoundError(
            f"GGUF file {str(file)!r} does not exist: `workbench quantize` writes the planner's GGUF files "
            "to <artifacts>/gguf/"
        )
    with open(file, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{file} is not a GGUF file (it does not start with the GGUF magic)")
    return file


class LlamaCppLLM(LLM):
    """A GGUF model run by llama.cpp in process. `threads`: CPU threads (None: llama.cpp's default);
    `n_ctx`: context positions (0: the model's own); `lora`: a llama.cpp LoRA file applied on top of the
    model's weights (`finetune.llamacpp.export_gguf_lora`). Temperature 0 is greedy decoding."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        n_ctx: int = 0,
        threads: int | None = None,
        default_max_tokens: int = 512,
        name: str | None = None,
        reuse_prefix: bool = False,
        lora: str | os.PathLike[str] | None = None,
    ):
        llama_cpp = need_llama_cpp()
        self.path = gguf_file(path)
        self.lora = gguf_file(lora) if lora else None
        self.network = llama_cpp.Llama(
            model_path=str(self.path),
            n_ctx=n_ctx,
            n_threads=threads,
            lora_path=str(self.lora) if self.lora else None,
            verbose=False,
        )
        self.metadata: dict[str, str] = dict(self.network.metadata)
        self.chat_template = self.metadata.get("tokenizer.chat_template")
        self.default_max_tokens = default_max_tokens
        self.model = name or self.path.name
        self.reuse_prefix = reuse_prefix
        self.grammar: str | None = None
        self.stats: list[dict[str, float]] = []
        self._lock = threading.Lock()  # one generation at a time: the context is shared
        # freed before the interpreter tears down the modules llama_cpp's own finalizer needs
        self._finalizer = weakref.finalize(self, self.network.close)

    def close(self) -> None:
        """Free the model and its context now (also done at exit)."""
        self._finalizer()

    def __repr__(self) -> str:
        return f"LlamaCppLLM(model={self.model!r})"

    @property
    def tokenizer(self) -> Any:
        """llama.cpp's own tokenizer (the GGUF file's vocabulary)."""
        return self.network.tokenizer()

    def with_grammar(self, gbnf: str | None) -> LlamaCppLLM:
        """The same model (shared, not copied) decoding under the GBNF grammar `gbnf` (None: unconstrained)."""
        out = copy.copy(self)  # shares the network, the lock and the finalizer
        out.grammar = gbnf
        out._owner = self  # the model is freed when the original goes, so a copy keeps it alive
        return out

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The token ids the model is given for `messages`: the file's chat template, special tokens parsed."""
        if self.chat_template:
            import jinja2

            env = jinja2.sandbox.ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            text = env.from_string(self.chat_template).render(
                messages=list(messages), add_generation_prompt=True
            )
        else:
            text = _prompt_text(messages)
        return self.network.tokenize(text.encode("utf-8"), add_bos=False, special=True)

    def decode(
        self, prompt: Sequence[int], max_tokens: int, temperature: float = 0.0, cancel: Any = None
    ) -> Iterator[str]:
        """The one llama.cpp generation loop: text pieces as whole UTF-8 characters are complete; the
        generation's figures go to `stats` (and the last one's usage and finish reason with them)."""
        llama_cpp = need_llama_cpp()
        llm = self.network
        grammar = llama_cpp.LlamaGrammar.from_string(self.grammar, verbose=False) if self.grammar else None
        vocab = llama_cpp.llama_model_get_vocab(llm.model)
        pending, n, finish = b"", 0, "length"
        with self._lock:
            if not self.reuse_prefix:
                llm.reset()
            start = time.perf_counter()
            first = None
            for token in self.network.generate(list(prompt), temp=temperature, grammar=grammar, reset=True):
                if first is None:
                    first = time.perf_counter()
                n += 1
                if llama_cpp.llama_vocab_is_eog(vocab, token):  # end of sequence, end of turn
                    finish = "stop"
                    break
                pending += llm.detokenize([token], special=False)
                text, pending = _complete_utf8(pending)
                if text:
                    yield text
                if n >= max_tokens or (cancel is not None and cancel.is_set()):
                    break
            end = time.perf_counter()
        if pending:
            yield pending.decode("utf-8", errors="replace")
        first = first or end
        self.stats.append(
            {
                "prompt_tokens": len(prompt),
                "generation_tokens": n,
                "prompt_tps": len(prompt) / max(first - start, 1e-9),
                "generation_tps": (n - 1) / max(end - first, 1e-9) if n > 1 else 0.0,
                "finish_reason": finish,
            }
        )

    def generate_batch(self, rows: Sequence[Sequence[int]], max_tokens: int | None = None) -> list[str]:
        """Greedy completions of several prompts, one after another (llama.cpp here decodes one sequence)."""
        limit = max_tokens if max_tokens is not None else self.default_max_tokens
        return ["".join(self.decode(ids, limit)).strip() for ids in rows]

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        cancel = threading.Event()
        prompt = self.prompt_ids(messages)
        limit = max_tokens if max_tokens is not None else self.default_max_tokens

        def produce() -> Iterator[str]:
            yield from self.decode(prompt, limit, temperature, cancel)
            last = self.stats[-1]
            state.usage = Usage(len(prompt), int(last["generation_tokens"]))
            state.finish_reason = str(last["finish_reason"])

        async with contextlib.aclosing(_thread_stream(produce, cancel)) as texts:
            async for text in texts:
                yield text


def _complete_utf8(data: bytes) -> tuple[str, bytes]:
    """The longest prefix of `data` that is whole UTF-8 characters, decoded, and the bytes after it.

    >>> _complete_utf8("Zoë".encode()[:3])
    ('Zo', b'\\xc3')
    """
    for cut in range(len(data), max(len(data) - 4, -1), -1):
        try:
            return data[:cut].decode("utf-8"), data[cut:]
        except UnicodeDecodeError:
            continue
    return data.decode("utf-8", errors="replace"), b""
