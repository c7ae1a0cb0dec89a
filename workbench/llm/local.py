"""In-process backends for local (fine-tuned) planners: `TransformersLLM` (PyTorch) and `MLXLLM` (Apple MLX).

Each backend calls its engine in one place (`TransformersLLM.decode`, `MLXLLM.decode`): streaming (`stream`,
one row, text handed to the event loop as it is produced) and batch decoding (`generate_batch`, several rows
at once, greedy) are both built on it. A backend may carry a factory of logits processors
(`with_logits_processors`), called afresh for every generation: that is how a planner decodes under a grammar
(`workbench.planner`) without this module knowing what a plan is.

Streaming runs generation on a background thread, so a planner streaming from a local model does not block
the other coroutines (tool calls the LLMCompiler executor starts while the plan is still streaming). Both report exact usage: the prompt token count of the
templated prompt and the number of generated tokens (the end-of-sequence token included when one is
generated, as servers count it). When the caller stops reading (a stop sequence was found), generation is
cancelled rather than left running to `max_tokens`.

torch, transformers and mlx_lm are imported inside the classes, so importing `workbench.llm` stays cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import os
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from workbench.llm.base import LLM, Message, StreamState, Usage, _prompt_text

_END = object()


def model_folder(path: str | os.PathLike[str]) -> Path:
    """Check that `path` is a saved model folder, with an error that names it (instead of a deep traceback)."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(
            f"model folder {str(folder)!r} does not exist (or is not a folder): pass the folder "
            "that save_pretrained / mlx_lm.convert / the fine-tuning notebook wrote"
        )
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"model folder {str(folder)!r} has no config.json, so it is not a saved model "
            "(did you pass its parent folder, or an adapter-only folder?)"
        )
    return folder


def model_folder_or_hub_id(path: str | os.PathLike[str]) -> Path:
    """A local model folder, or a hub id (`org/name`, not a local path) that mlx-lm downloads where it can."""
    text, folder = str(path), Path(path)
    if not folder.exists() and text.count("/") == 1 and not text.startswith((".", "/", "~")):
        return folder
    if not (folder / "config.json").exists():
        raise FileNotFoundError(
            f"{folder} is not a model folder (no config.json): run `workbench finetune` "
            "(and `workbench quantize` for the MLX models) first"
        )
    return folder


async def _thread_stream(produce: Callable[[], Iterator[str]], cancel: threading.Event) -> AsyncIterator[str]:
    """Run the blocking iterator `produce()` on its own thread; yield its items on the event loop.

    When the consumer stops early, `cancel` is set (the producer must watch it) and the thread is joined
    without blocking the loop, so no generation outlives the call.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()

    def run() -> None:
        error: BaseException | None = None
        try:
            for item in produce():
                loop.call_soon_threadsafe(queue.put_nowait, item)
        except BaseException as exc:  # handed to the consumer, which re-raises it
            error = exc
        loop.call_soon_threadsafe(queue.put_nowait, (_END, error))

    thread = threading.Thread(target=run, name="local-llm-generate", daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if isinstance(item, tuple) and item[0] is _END:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        cancel.set()
        await asyncio.to_thread(thread.join)


# ------------------------------------------------------------------------------------------- transformers

ProcessorFactory = Callable[[int], list[Any]]  # rows -> fresh logits processors for one generation


class TransformersLLM(LLM):
    """A Hugging Face causal LM, in process. `model_or_path`: a loaded model (then pass `tokenizer`) or a
    saved folder. The prompt is the tokenizer's chat template when it has one, else the message contents
    joined by newlines. Temperature 0 is greedy decoding; `max_tokens=None` means `default_max_tokens`.
    `device` is where a model loaded from a folder is put; a model passed in stays where it is.
    """

    def __init__(
        self,
        model_or_path: Any,
        tokenizer: Any = None,
        device: str = "cpu",
        default_max_tokens: int = 512,
        name: str | None = None,
    ):
        if isinstance(model_or_path, (str, os.PathLike)):
            folder = model_folder(model_or_path)
            from transformers import AutoModelForCausalLM, AutoTokenizer

            tokenizer = tokenizer if tokenizer is not None else AutoTokenizer.from_pretrained(folder)
            network = AutoModelForCausalLM.from_pretrained(folder).to(device)
            name = name or folder.name
        else:
            if tokenizer is None:
                raise ValueError(
                    "TransformersLLM got a loaded model without its tokenizer: pass tokenizer=..."
                )
            network = model_or_path
            name = name or getattr(network.config, "_name_or_path", "") or type(network).__name__
        self.network = network.eval()
        self.tokenizer = tokenizer
        self.default_max_tokens = default_max_tokens
        self.model = name
        self.logits_processors: ProcessorFactory | None = None

    def __repr__(self) -> str:
        return f"TransformersLLM(model={self.model!r}, device={str(self.network.device)!r})"

    def with_logits_processors(self, factory: ProcessorFactory | None) -> TransformersLLM:
        """The same model (shared, not copied) with `factory(rows)` adding logits processors to each generation."""
        out = copy.copy(self)
        out.logits_processors = factory
        return out

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The token ids the model is given for `messages` (usage counts exactly these)."""
        if getattr(self.tokenizer, "chat_template", None):
            ids = self.tokenizer.apply_chat_template(
                list(messages), add_generation_prompt=True, tokenize=True, return_dict=True
            )["input_ids"]
        else:
            ids = self.tokenizer(_prompt_text(messages))["input_ids"]
        return list(ids)

    def eos_ids(self) -> list[int]:
        """Every id that ends a generation: the tokenizer's end-of-turn token and the model's own."""
        ids = _as_set(self.tokenizer.eos_token_id) | _as_set(
            getattr(self.network.generation_config, "eos_token_id", None)
        )
        return sorted(ids)

    def decode(
        self,
        rows: Sequence[Sequence[int]],
        max_tokens: int,
        temperature: float = 0.0,
        streamer: Any = None,
        stopping_criteria: Any = None,
    ) -> Any:
        """The one `model.generate` call: prompts left-padded into a batch, greedy at temperature 0, the
        backend's logits processors added; returns the new tokens (rows x steps, padded after an end)."""
        import torch
        from transformers import LogitsProcessorList

        eos = self.eos_ids()
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else eos[0]
        n = max(len(r) for r in rows)
        input_ids = torch.tensor([[pad] * (n - len(r)) + list(r) for r in rows], device=self.network.device)
        mask = torch.tensor([[0] * (n - len(r)) + [1] * len(r) for r in rows], device=self.network.device)
        sampling: dict[str, Any] = (
            {"do_sample": True, "temperature": temperature}
            if temperature > 0
            else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
        )
        processors = self.logits_processors(len(rows)) if self.logits_processors else []
        with torch.inference_mode():
            out = self.network.generate(
                input_ids=input_ids,
                attention_mask=mask,
                max_new_tokens=max_tokens,
                pad_token_id=pad,
                eos_token_id=eos,
                logits_processor=LogitsProcessorList(processors),
                streamer=streamer,
                stopping_criteria=stopping_criteria,
                **sampling,
            )
        return out[:, n:]

    def generate_batch(self, rows: Sequence[Sequence[int]], max_tokens: int | None = None) -> list[str]:
        """Greedy completions of several prompts (token ids) at once, special tokens dropped."""
        new = self.decode(rows, max_tokens if max_tokens is not None else self.default_max_tokens)
        return [t.strip() for t in self.tokenizer.batch_decode(new, skip_special_tokens=True)]

    async def _generate(
        self,
        messages: list[Message],
        stop: Sequence[str],
        temperature: float,
        max_tokens: int | None,
        state: StreamState,
    ) -> AsyncIterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        cancel = threading.Event()

        class _Cancelled(StoppingCriteria):
            """Stops `generate` when the caller has stopped reading."""

            def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor, **kwargs: Any) -> Any:
                return torch.full(
                    (input_ids.shape[0],), cancel.is_set(), dtype=torch.bool, device=input_ids.device
                )

        prompt = self.prompt_ids(messages)
        limit = max_tokens if max_tokens is not None else self.default_max_tokens

        def produce() -> Iterator[str]:
            streamer = TextIteratorStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True)
            outcome: dict[str, Any] = {}

            def generate() -> None:
                try:
                    outcome["ids"] = self.decode(
                        [prompt], limit, temperature, streamer, StoppingCriteriaList([_Cancelled()])
                    )
                except BaseException as exc:
                    outcome["error"] = exc
                    streamer.end()  # wake the reader below

            worker = threading.Thread(target=generate, name="transformers-generate", daemon=True)
            worker.start()
            yield from streamer
            worker.join()
            if "error" in outcome:
                raise outcome["error"]
            new = outcome["ids"][0].tolist()
            eos = set(self.eos_ids())
            ended = next((i for i, t in enumerate(new) if t in eos), None)
            new = new if ended is None else new[: ended + 1]  # the end token counts, padding after it not
            state.usage = Usage(len(prompt), len(new))
            state.finish_reason = "length" if len(new) >= limit and ended is None else "stop"

        async with contextlib.aclosing(_thread_stream(produce, cancel)) as texts:
            async for text in texts:
                yield text


def _as_set(token_id: int | list[int] | None) -> set[int]:
    if token_id is None:
        return set()
    return set(token_id) if isinstance(token_id, (list, tuple)) else {token_id}


# --------------------------------------------------------------------------------------------------- MLX


def need_mlx_lm() -> Any:
    """`mlx_lm`, or an ImportError that says how to install it."""
    try:
        import mlx_lm
    except ImportError as exc:
        raise ImportError(
            f"the MLX path needs mlx-lm, which did not import ({exc}); on Apple silicon "
            "`pip install mlx-lm`, on Linux `pip install 'mlx[cpu]' mlx-lm`"
        ) from None
    return mlx_lm


class MLXLLM(LLM):
    """A model run with `mlx_lm` (Apple silicon; the Linux CPU build works for tests).

    `path_or_model`: a local folder in Hugging Face or mlx_lm format (mlx_lm reads HF Llama-style folders
    directly), with an optional LoRA `adapter_path` from ``mlx_lm.lora``; or a loaded mlx-lm model (then
    pass its `tokenizer`). Each generation's token counts, speeds and peak memory (mlx-lm's own figures) are
    appended to `stats`.
    """

    def __init__(
        self,
        path_or_model: Any,
        tokenizer: Any = None,
        adapter_path: str | os.PathLike[str] | None = None,
        default_max_tokens: int = 512,
        name: str | None = None,
    ):
        mlx_lm = need_mlx_lm()
        if isinstance(path_or_model, (str, os.PathLike)):
            folder = model_folder(path_or_model)
            if adapter_path is not None and not Path(adapter_path).is_dir():
                raise FileNotFoundError(f"adapter folder {str(adapter_path)!r} does not exist")
            loaded = mlx_lm.load(str(folder), adapter_path=str(adapter_path) if adapter_path else None)
            self.network, self.tokenizer = loaded[0], loaded[1]
            name = name or folder.name
        else:
            if tokenizer is None:
                raise ValueError("MLXLLM got a loaded model without its tokenizer: pass tokenizer=...")
            self.network, self.tokenizer = path_or_model, tokenizer
        self.default_max_tokens = default_max_tokens
        self.model = name or type(self.network).__name__
        self.logits_processors: ProcessorFactory | None = None
        self.stats: list[dict[str, float]] = []
        self._lock = threading.Lock()  # one generation at a time: mlx_lm's generation stream is shared

    def __repr__(self) -> str:
        return f"MLXLLM(model={self.model!r})"

    def with_logits_processors(self, factory: ProcessorFactory | None) -> MLXLLM:
        """The same model (shared, not copied) with `factory(1)` adding logits processors to each generation."""
        out = copy.copy(self)
        out.logits_processors = factory
        return out

    def prompt_ids(self, messages: Sequence[Message]) -> list[int]:
        """The token ids the model is given for `messages`."""
        tokenizer = self.tokenizer
        if getattr(tokenizer, "chat_template", None):
            ids = tokenizer.apply_chat_template(list(messages), add_generation_prompt=True, tokenize=True)
            if hasattr(ids, "keys"):
                ids = ids["input_ids"]
        else:
            ids = tokenizer.encode(_prompt_text(messages))
        return list(ids)

    def decode(
        self, prompt: Sequence[int], max_tokens: int, temperature: float = 0.0, cancel: Any = None
    ) -> Iterator[Any]:
        """The one `mlx_lm.stream_generate` call (one prompt, the backend's logits processors added): its
        responses, as mlx-lm gives them; the last one's figures go to `stats`."""
        from mlx_lm import stream_generate
        from mlx_lm.sample_utils import make_sampler

        processors = self.logits_processors(1) if self.logits_processors else None
        last = None
        with self._lock:
            for last in stream_generate(
                self.network,
                self.tokenizer,
                list(prompt),
                max_tokens=max_tokens,
                sampler=make_sampler(temp=temperature),
                logits_processors=processors,
            ):
                yield last
                if cancel is not None and cancel.is_set():
                    break
        if last is not None:
            self.stats.append(
                {
                    "prompt_tokens": last.prompt_tokens,
                    "generation_tokens": last.generation_tokens,
                    "prompt_tps": last.prompt_tps,
                    "generation_tps": last.generation_tps,
                    "peak_memory_gb": last.peak_memory,
                }
            )

    def generate_batch(self, rows: Sequence[Sequence[int]], max_tokens: int | None = None) -> list[str]:
        """Greedy completions of several prompts, one after another (mlx-lm generates one sequence at a time)."""
        limit = max_tokens if max_tokens is not None else self.default_max_tokens
        return ["".join(r.text for r in self.decode(ids, limit)).strip() for ids in rows]

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
            for response in self.decode(prompt, limit, temperature, cancel):
                state.usage = Usage(response.prompt_tokens, response.generation_tokens)
                if response.finish_reason is not None:
                    state.finish_reason = "length" if response.finish_reason == "length" else "stop"
                if response.text:
                    yield response.text

        async with contextlib.aclosing(_thread_stream(produce, cancel)) as texts:
            async for text in texts:
                yield text
