"""Tool-selection metrics of TinyAgent's Table 1: recall of whole tool sets, tools selected, precision.

>>> selection_metrics([["a", "b"], ["a"]], [["a"], ["a", "c"]])
{'recall': 0.5, 'avg_tools': 1.5, 'precision': 0.6667, 'tool_recall': 0.6667, 'n': 2}
"""

from __future__ import annotations

from collections.abc import Sequence


def selection_metrics(selected: Sequence[Sequence[str]], needed: Sequence[Sequence[str]]) -> dict[str, float]:
    """recall: share of queries whose every needed tool is selected (the paper's "tool recall");
    avg_tools: tools selected per query; precision: share of selected tools that are needed;
    tool_recall: share of needed (query, tool) pairs selected."""
    if len(selected) != len(needed):
        raise ValueError(f"{len(selected)} selections for {len(needed)} queries")
    n = len(needed) or 1
    full = sum(set(nd) <= set(s) for s, nd in zip(selected, needed, strict=True))
    picked = sum(len(set(s)) for s in selected)
    hits = sum(len(set(s) & set(nd)) for s, nd in zip(selected, needed, strict=True))
    wanted = sum(len(set(nd)) for nd in needed)
    return {
        "recall": round(full / n, 4),
        "avg_tools": round(picked / n, 4),
        "precision": round(hits / picked, 4) if picked else 0.0,
        "tool_recall": round(hits / wanted, 4) if wanted else 1.0,
        "n": len(needed),
    }
