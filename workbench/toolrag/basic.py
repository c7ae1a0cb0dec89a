"""Basic RAG over tools, the paper's baseline (TinyAgent, Sec. 4, Table 1): the top-k tools by similarity.

Two ways to score a tool for a query, both with the same sentence encoder:
- `descriptions`: cosine between the query and the tool's description (name, text and rules);
- `examples`: the best cosine between the query and the training queries that used the tool.

    >>> rag = BasicRAG(encoder)                             # doctest: +SKIP
    >>> rag.select(["text Ana that I'm late"], k=3)[0]     # doctest: +SKIP
    ['send_sms', 'get_phone_number', ...]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from workbench.toolrag.encoder import TextEncoder
from workbench.tools.spec import ToolSpec
from workbench.tools.tinyagent import tinyagent_tools


def tool_text(spec: ToolSpec) -> str:
    return f"{spec.name.replace('_', ' ')}: {spec.description} {' '.join(spec.rules)}"


class BasicRAG:
    def __init__(
        self,
        encoder: TextEncoder,
        tools: Sequence[ToolSpec] | None = None,
        mode: str = "descriptions",
        train_queries: Sequence[str] = (),
        train_tools: Sequence[Sequence[str]] = (),
        train_vectors: np.ndarray | None = None,
    ):
        self.encoder = encoder
        self.tools = list(tools or tinyagent_tools())
        self.names = [t.name for t in self.tools]
        if mode == "descriptions":
            self.keys = encoder.embed([tool_text(t) for t in self.tools])
        elif mode == "examples":
            if not len(train_queries):
                raise ValueError("mode='examples' needs training queries and their tools")
            vectors = train_vectors if train_vectors is not None else encoder.embed(list(train_queries))
            self.example_vectors = vectors
            self.uses = np.array([[n in set(tools) for n in self.names] for tools in train_tools], dtype=bool)
        else:
            raise ValueError(f"unknown mode {mode!r}: use 'descriptions' or 'examples'")
        self.mode = mode

    def scores(self, queries: Sequence[str], query_vectors: np.ndarray | None = None) -> np.ndarray:
        """(len(queries), n_tools) similarities."""
        q = query_vectors if query_vectors is not None else self.encoder.embed(list(queries))
        if self.mode == "descriptions":
            return q @ self.keys.T
        sims = q @ self.example_vectors.T  # (queries, examples)
        out = np.full((len(q), len(self.names)), -1.0, dtype=np.float32)
        for j in range(len(self.names)):
            if self.uses[:, j].any():
                out[:, j] = sims[:, self.uses[:, j]].max(axis=1)
        return out

    def select(
        self, queries: Sequence[str], k: int, query_vectors: np.ndarray | None = None
    ) -> list[list[str]]:
        if not 1 <= k <= len(self.names):
            raise ValueError(f"k must be between 1 and {len(self.names)}, got {k}")
        order = np.argsort(-self.scores(queries, query_vectors), axis=1, kind="stable")[:, :k]
        return [[self.names[j] for j in row] for row in order]
