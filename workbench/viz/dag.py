"""Drawing plan DAGs with matplotlib (through networkx), and the paper figures made of them.

Nodes are coloured by the app their tool drives (Contacts, Calendar, Mail, ...), edges are `$` references,
and columns are dependency depth, so parallel steps stand above each other:

    >>> from workbench.paper_examples import FIG1_PLAN
    >>> ax = draw_plan(FIG1_PLAN)  # doctest: +SKIP
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import matplotlib

matplotlib.use(matplotlib.get_backend())  # keep the caller's backend; tests set MPLBACKEND=Agg
import matplotlib.pyplot as plt  # noqa: E402
import networkx as nx  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from workbench import config  # noqa: E402
from workbench.metrics import plan_success, plan_to_graph  # noqa: E402
from workbench.paper_examples import FIG1_PLAN, FIG1_QUERY, FIG3_CASES  # noqa: E402
from workbench.plan import Plan, PlanError, parse_plan  # noqa: E402
from workbench.tools.tinyagent import APPS, tinyagent_tools  # noqa: E402

_PALETTE = plt.get_cmap("tab10").colors
APP_COLORS = {app: _PALETTE[i % len(_PALETTE)] for i, app in enumerate(APPS)}
JOIN_COLOR = "#dddddd"
OTHER_COLOR = "#b0c4de"
_TOOL_APP = {t.name: t.app for t in tinyagent_tools()}


def node_color(tool: str) -> tuple[float, ...] | str:
    if tool == "join":
        return JOIN_COLOR
    app = _TOOL_APP.get(tool)
    return APP_COLORS[app] if app else OTHER_COLOR


def layered_layout(g: nx.DiGraph) -> dict[int, tuple[float, float]]:
    """Columns by longest-path depth (join last), steps in index order within a column."""
    depth: dict[int, int] = {}
    for n in nx.topological_sort(g):
        depth[n] = 1 + max((depth[p] for p in g.predecessors(n)), default=-1)
    columns: dict[int, list[int]] = {}
    for n in sorted(g):
        columns.setdefault(depth[n], []).append(n)
    pos = {}
    for x, nodes in columns.items():
        for i, n in enumerate(nodes):
            pos[n] = (float(x), (len(nodes) - 1) / 2 - i)
    return pos


def _label(idx: int, tool: str) -> str:
    return f"{idx}\n" + "\n".join(textwrap.wrap(tool.replace("_", " "), 11))


def draw_plan(
    plan: Plan | str,
    ax: plt.Axes | None = None,
    title: str | None = None,
    legend: bool = False,
    highlight: set[int] | frozenset[int] = frozenset(),
) -> plt.Axes:
    """Draw one plan's DAG on `ax` (a new figure when None); `highlight` outlines those steps in red.

    Edges into `join()` are dashed and light: join waits for everything, the other edges are data flow.
    """
    plan = plan if isinstance(plan, Plan) else parse_plan(plan)
    g = plan_to_graph(plan)
    if ax is None:
        _, ax = plt.subplots(figsize=(2.2 + 2.0 * len(set(layered_layout(g).values())) ** 0.5, 3))
    pos = layered_layout(g)
    colors = [node_color(g.nodes[n]["tool"]) for n in g]
    to_join = [(u, v) for u, v in g.edges if g.nodes[v]["tool"] == "join"]
    data = [e for e in g.edges if e not in set(to_join)]
    nx.draw_networkx_edges(
        g,
        pos,
        edgelist=data,
        ax=ax,
        arrows=True,
        arrowsize=14,
        node_size=1900,
        edge_color="#444444",
        width=1.4,
    )
    nx.draw_networkx_edges(
        g,
        pos,
        edgelist=to_join,
        ax=ax,
        arrows=True,
        arrowsize=10,
        node_size=1900,
        edge_color="#bbbbbb",
        style="dashed",
    )
    edge_colors = ["#d92d20" if n in highlight else "#333333" for n in g]
    widths = [3.0 if n in highlight else 1.0 for n in g]
    nx.draw_networkx_nodes(
        g, pos, ax=ax, node_color=colors, node_size=1900, edgecolors=edge_colors, linewidths=widths, alpha=0.9
    )
    labels = {n: _label(n, g.nodes[n]["tool"]) for n in g}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=6.5)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    ax.set_ylim(min(ys) - 0.7, max(ys) + 0.7)
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    if legend:
        apps = list(dict.fromkeys(_TOOL_APP.get(t) for t in plan.tools if t in _TOOL_APP))
        ax.legend(
            handles=[Patch(color=APP_COLORS[a], label=a) for a in apps],
            loc="lower center",
            fontsize=7,
            ncol=len(apps) or 1,
            frameon=False,
            bbox_to_anchor=(0.5, -0.12),
        )
    return ax


def draw_comparison(
    pred: Plan | str, gold: Plan | str, axes: tuple[plt.Axes, plt.Axes] | None = None, caption: str = ""
) -> tuple[plt.Axes, plt.Axes]:
    """Gold and predicted DAG side by side; the verdict (DAG isomorphism) is the right panel's title."""
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(9, 3))
    gold_plan = gold if isinstance(gold, Plan) else parse_plan(gold)
    try:
        pred_plan = pred if isinstance(pred, Plan) else parse_plan(pred)
    except PlanError as e:  # a model's output that is not a plan: show why, beside the gold DAG
        draw_plan(gold_plan, ax=axes[0], title="gold plan")
        axes[1].axis("off")
        axes[1].text(
            0, 0.5, textwrap.fill(f"predicted text does not parse: {e}", 60), fontsize=8, color="#b42318"
        )
        axes[1].set_title("predicted plan -> failure: not a plan", color="#b42318")
        return axes[0], axes[1]
    ok = plan_success(pred_plan, gold_plan) == 1.0
    extra = Counter(pred_plan.tools) - Counter(gold_plan.tools)  # tools the gold plan does not call
    wrong = {s.idx for s in pred_plan.tasks if extra[s.tool] > 0}
    draw_plan(gold_plan, ax=axes[0], title="gold plan")
    verdict = "success: isomorphic DAGs" if ok else "failure: DAGs differ"
    draw_plan(pred_plan, ax=axes[1], title=f"predicted plan -> {verdict}", highlight=wrong)
    axes[1].title.set_color("#1a7f37" if ok else "#b42318")
    if caption:
        axes[0].annotate(caption, xy=(0, 1.12), xycoords="axes fraction", fontsize=10, weight="bold")
    return axes[0], axes[1]


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Write `fig` to figures/<name> (PNG without a software stamp, so reruns give the same bytes)."""
    path = config.figure_path(name)
    fig.savefig(path, dpi=150, bbox_inches="tight", metadata={"Software": None})
    return path


def fig1_plan_dag(plan: Plan | str | None = None, query: str | None = None) -> Path:
    """Figure 1: a plan and its DAG -> figures/fig1_plan_dag.png."""
    plan = FIG1_PLAN if plan is None else plan
    fig, ax = plt.subplots(figsize=(6, 3.2))
    draw_plan(plan, ax=ax, legend=True)
    ax.set_title(f"Query: {query or FIG1_QUERY}", fontsize=8, wrap=True)
    path = save_figure(fig, "fig1_plan_dag.png")
    plt.close(fig)
    return path


def fig3_dag_isomorphism(cases: list[tuple[str, str, str, float]] | None = None) -> Path:
    """Figure 3: gold vs predicted DAGs with the verdicts of `plan_success` -> figures/fig3_dag_isomorphism.png.

    `cases` are (caption, gold, predicted, expected); the default is the paper's two kinds of case.
    The verdicts drawn are computed, not copied from `expected`.
    """
    cases = FIG3_CASES if cases is None else cases
    fig, axes = plt.subplots(len(cases), 2, figsize=(9, 3.2 * len(cases)), squeeze=False)
    for row, (caption, gold, pred, _expected) in zip(axes, cases, strict=True):
        draw_comparison(pred, gold, axes=(row[0], row[1]), caption=caption)
    fig.suptitle(
        "DAG isomorphism as the success metric (computed by workbench.metrics.plan_success)", fontsize=10
    )
    fig.tight_layout()
    path = save_figure(fig, "fig3_dag_isomorphism.png")
    plt.close(fig)
    return path
