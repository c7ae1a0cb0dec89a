"""In-context example retrieval (TinyAgent, Sec. 4): the training examples most like the query; and the size
of the planner prompt that the selected tools make (Table 1's prompt-token column).

TinyAgent puts a few solved examples in the planner prompt, chosen by similarity to the query among those
whose tools are all among the tools ToolRAG selected, so that every example demonstrates only tools the
prompt describes. The fine-tuning stage builds its training prompts with the same function.

    >>> retriever.retrieve("email Ana the slides", ["get_email_address", "compose_new_email"], k=2)  # doctest: +SKIP

Embeddings are cached in a folder the caller names (`cache`); without one, in `<artifacts>/toolrag/cache/`.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from workbench import config
from workbench.compiler.prompts import full_prompt
from workbench.llm.base import count_tokens
from workbench.synth.dataset import load_split
from workbench.toolrag.encoder import TextEncoder, load_encoder
from workbench.tools.tinyagent import TOOL_NAMES

PROMPT_TODAY = "2024-06-12"  # the date in the prompts whose sizes are counted


def cached_embeddings(
    encoder: TextEncoder, texts: Sequence[str], tag: str, cache: Path | None = None
) -> np.ndarray:
    """Embed once, then load from `cache` (default `<artifacts>/toolrag/cache/`), keyed by encoder, texts, tag."""
    key = [encoder.name, str(getattr(encoder, "max_length", "")), *texts]  # what the vectors depend on
    digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:16]
    path = (cache or config.toolrag_dir() / "cache") / f"{tag}-{digest}.npy"
    if path.exists():
        return np.load(path)
    vectors = encoder.embed(list(texts), progress=len(texts) > 2000)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, vectors)
    tmp.replace(path)
    return vectors


class ExampleRetriever:
    """Nearest training records by query similarity, restricted to records whose tools fit the selection."""

    def __init__(
        self,
        encoder: TextEncoder,
        records: Sequence[dict[str, Any]],
        vectors: np.ndarray | None = None,
        cache: Path | None = None,
    ):
        self.encoder = encoder
        self.records = list(records)
        self.vectors = (
            vectors
            if vectors is not None
            else cached_embeddings(encoder, [r["query"] for r in self.records], "examples", cache)
        )
        self.tool_sets = [frozenset(r["tools"]) for r in self.records]
        # each query's vector, kept: an evaluation plans the same queries once per variant
        self.query_vector = functools.lru_cache(maxsize=4096)(self._embed_one)

    def _embed_one(self, query: str) -> np.ndarray:
        return self.encoder.embed([query])[0]

    def retrieve(
        self,
        query: str,
        tools: Sequence[str],
        k: int = 3,
        query_vector: np.ndarray | None = None,
        exclude_query: bool = True,
    ) -> list[dict[str, Any]]:
        """Up to `k` records, most similar first; none whose tools fall outside `tools`."""
        allowed = frozenset(tools)
        q = query_vector if query_vector is not None else self.query_vector(query)
        sims = self.vectors @ q
        out = []
        for i in np.argsort(-sims, kind="stable"):
            r = self.records[i]
            if self.tool_sets[i] <= allowed and not (exclude_query and r["query"] == query):
                out.append(r)
                if len(out) == k:
                    break
        return out


def format_examples(records: Sequence[dict[str, Any]]) -> str:
    """Examples for a planner prompt: the query, then its plan."""
    return "\n\n".join(f"Query: {r['query']}\n{r['plan']}" for r in records)


def example_source(
    k: int, dataset: Path | None = None, cache: Path | None = None
) -> Callable[[str, Sequence[str]], str]:
    """Retrieved in-context examples (MiniLM over the first 5,000 train queries of `dataset`, default
    `config.dataset_dir()`) for prompting a planner: `examples(query, tools)` is the prompt's examples text."""
    retriever = ExampleRetriever(
        load_encoder("minilm"), load_split("train", limit=5000, folder=dataset), cache=cache
    )
    return lambda query, tools: format_examples(retriever.retrieve(query, tools, k=k))


# ------------------------------------------------------------------------------------ prompt sizes


def planner_token_counter(tokenizer: Path) -> tuple[Callable[[str], int], str]:
    """The planner's tokenizer file (`<artifacts>/planner/tokenizer.json`, which the fine-tuning stage saves)
    if it exists, else word pieces; and its name for the results."""
    path = Path(tokenizer)
    if path.exists():
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        return (lambda text: len(tok.encode(text).ids)), f"planner tokenizer ({path.name})"
    return count_tokens, "word pieces (no planner tokenizer saved yet)"


def prompt_tokens(tool_sets: Sequence[Sequence[str]], count: Callable[[str], int]) -> list[int]:
    """Size of the planner's system prompt (TinyAgent rules on) when it describes only these tools."""
    cache: dict[tuple[str, ...], int] = {}
    out = []
    for tools in tool_sets:
        key = tuple(n for n in TOOL_NAMES if n in set(tools))  # the prompt lists tools in a fixed order
        if key not in cache:
            cache[key] = count(full_prompt(PROMPT_TODAY, key))
        out.append(cache[key])
    return out
