"""In-context example retrieval (TinyAgent, Sec. 4): the training examples most like the query.

TinyAgent puts a few solved examples in the planner prompt, chosen by similarity to the query among those
whose tools are all among the tools ToolRAG selected, so that every example demonstrates only tools the
prompt describes. The fine-tuning stage is meant to build its prompts with the same function.

    >>> retriever.retrieve("email Ana the slides", ["get_email_address", "compose_new_email"], k=2)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench import config
from workbench.toolrag.encoder import TextEncoder


def cached_embeddings(encoder: TextEncoder, texts: Sequence[str], tag: str) -> np.ndarray:
    """Embed once, then load from `<artifacts>/toolrag/cache/` (keyed by encoder, texts and tag)."""
    key = [encoder.name, str(getattr(encoder, "max_length", "")), *texts]  # what the vectors depend on
    digest = hashlib.sha256("\n".join(key).encode()).hexdigest()[:16]
    path = config.artifacts_dir() / "toolrag" / "cache" / f"{tag}-{digest}.npy"
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
        self, encoder: TextEncoder, records: Sequence[dict[str, Any]], vectors: np.ndarray | None = None
    ):
        self.encoder = encoder
        self.records = list(records)
        self.vectors = (
            vectors
            if vectors is not None
            else cached_embeddings(encoder, [r["query"] for r in self.records], "examples")
        )
        self.tool_sets = [frozenset(r["tools"]) for r in self.records]

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
        q = query_vector if query_vector is not None else self.encoder.embed([query])[0]
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
