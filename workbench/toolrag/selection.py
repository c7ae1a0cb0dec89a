"""ToolRAG's selection as the planner and the agent use it: `select(queries) -> tool lists` (TinyAgent, Sec. 4).

>>> toolrag_selector(None) is None  # no classifier: the planner is shown all 16 tools
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from workbench.toolrag.classifier import ToolRAGClassifier

Selector = Callable[[Sequence[str]], list[list[str]]]
CallCounter = Callable[[Sequence[str]], list[dict[str, int]]]  # queries -> {tool: calls} of each plan


def toolrag_selector(folder: str | Path | None) -> Selector | None:
    """The `select` of the ToolRAG classifier saved in `folder`, or None (all tools) when `folder` is None.

    A folder that holds no classifier raises, naming the command that trains one."""
    if folder is None:
        return None
    return ToolRAGClassifier.load(Path(folder)).select


def call_counter(select: Selector | None) -> CallCounter | None:
    """The count head's reading (`ToolRAGClassifier.counts`) of the classifier whose `select` this is, or None
    where `select` is no classifier's or its classifier was trained without a count head or counter."""
    classifier = getattr(select, "__self__", None)
    if isinstance(classifier, ToolRAGClassifier) and classifier.counted:
        return classifier.counts
    return None
