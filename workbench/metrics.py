"""Plan metrics: TinyAgent's DAG success (Erdogan et al. 2024, Sec. 3.2 and Fig. 3) and plan shape.

A predicted plan succeeds when its DAG is isomorphic to the gold plan's, nodes matched on tool name.
Argument values and step numbering are ignored, so fetching Lutfi's address before Sid's is still a success,
while calling one wrong tool is a failure:

    >>> gold = '1. get_email_address("Sid")\\n2. get_email_address("Lutfi")\\n3. send_sms(["$1", "$2"], "hi")\\n4. join()'
    >>> swapped = '1. get_email_address("Lutfi")\\n2. get_email_address("Sid")\\n3. send_sms(["$2", "$1"], "hi")\\n4. join()'
    >>> plan_success(swapped, gold), plan_success(swapped.replace("email_address", "phone_number", 1), gold)
    (1.0, 0.0)

`join()` is left out of the graphs that are compared: by definition it depends on every step, so it carries
no information, and leaving it out treats a plan whose stream ended without it the same way on both sides.
`plan_to_graph` (for drawing) keeps it.

`score_plan` gives the four numbers every evaluation of a planner reports for one prediction (success, parse
failure, tool recall, argument-exact match). `error_kind` names what is wrong with a failed one (a wrong tool,
a missing or extra step, a wrong dependency, out-of-scope confusion), against several equally right gold
plans where a request allows more than one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import networkx as nx

from workbench.plan import Plan, PlanError, is_reference, parse_plan, references
from workbench.tools.tinyagent import tinyagent_tools

PlanLike = Plan | str


def _as_plan(plan: PlanLike) -> Plan:
    return plan if isinstance(plan, Plan) else parse_plan(plan)


def plan_to_graph(plan: PlanLike, include_join: bool = True) -> nx.DiGraph:
    """Node = step index (attributes `tool`, `args`, `label`), edge = dependency (from dep to step)."""
    plan = _as_plan(plan)
    g = nx.DiGraph()
    for s in plan.steps:
        if s.is_join and not include_join:
            continue
        g.add_node(s.idx, tool=s.tool, args=s.args, label=f"{s.idx}. {s.tool}")
        g.add_edges_from((d, s.idx) for d in s.deps)
    return g


def _task_graph(plan: PlanLike) -> nx.DiGraph:
    return plan_to_graph(plan, include_join=False)


def _gold(gold: PlanLike) -> Plan:
    try:
        return _as_plan(gold)
    except PlanError as e:
        raise ValueError(f"the gold plan does not parse ({e}); fix the reference data") from None


def plan_success(pred: PlanLike, gold: PlanLike) -> float:
    """1.0 when the predicted plan's DAG is isomorphic to the gold one (tools matched), else 0.0.

    An unparseable prediction scores 0.0 and never raises; an unparseable gold plan is a ValueError.
    """
    gold_plan = _gold(gold)
    try:
        pred_plan = _as_plan(pred)
    except PlanError:
        return 0.0
    return float(_isomorphic(_task_graph(pred_plan), _task_graph(gold_plan)))


def _isomorphic(g1: nx.DiGraph, g2: nx.DiGraph) -> bool:
    """Task DAGs equal up to renumbering, tools matched; cheap tests first, the VF2 search last."""
    if (g1.number_of_nodes(), g1.number_of_edges()) != (g2.number_of_nodes(), g2.number_of_edges()):
        return False
    if Counter(nx.get_node_attributes(g1, "tool").values()) != Counter(
        nx.get_node_attributes(g2, "tool").values()
    ):
        return False
    if _in_order(g1) == _in_order(g2):  # the same DAG written in the same order: no search needed
        return True
    return nx.is_isomorphic(g1, g2, node_match=lambda a, b: a.get("tool") == b.get("tool"))


def _in_order(g: nx.DiGraph) -> list[tuple[Any, tuple[int, ...]]]:
    """Each task's tool and the positions of its dependencies, tasks in step order.

    >>> _in_order(_task_graph('1. f("a")\\n5. g("$1")'))
    [('f', ()), ('g', (0,))]
    """
    pos = {n: i for i, n in enumerate(sorted(g))}
    return [(g.nodes[n].get("tool"), tuple(sorted(pos[p] for p in g.predecessors(n)))) for n in sorted(g)]


class EditDistance(float):
    """A graph edit distance that knows whether it is exact: `exact=False` when the search ran out of time,
    and the value is then only the best upper bound found. It is a float, so that it sums and formats
    as one: `f"{d:g}" if d.exact else f"<= {d:g} (timed out)"`."""

    exact: bool

    def __new__(cls, value: float, exact: bool = True) -> EditDistance:
        d = super().__new__(cls, value)
        d.exact = exact
        return d

    def __repr__(self) -> str:
        return f"EditDistance({float(self)!r}, exact={self.exact})"


def graph_edit_distance(pred: PlanLike, gold: PlanLike, timeout: float = 2.0) -> EditDistance:
    """Fewest node/edge insertions, deletions and tool substitutions (cost 1 each) from pred to gold.

    Exact for plans of TinyAgent's size. Past `timeout` seconds networkx returns the best path found so far,
    without saying so: the result is then marked `exact=False` (an upper bound). Isomorphic plans are 0
    without a search, however long (a 300-step plan against itself timed out at 1198).
    An unparseable prediction costs building the gold graph from nothing (its nodes plus edges).
    """
    g2 = _task_graph(_gold(gold))
    try:
        g1 = _task_graph(_as_plan(pred))
    except PlanError:
        return EditDistance(g2.number_of_nodes() + g2.number_of_edges())
    if _isomorphic(g1, g2):
        return EditDistance(0.0)
    start = time.perf_counter()
    d = nx.graph_edit_distance(
        g1,
        g2,
        node_subst_cost=lambda a, b: 0.0 if a["tool"] == b["tool"] else 1.0,
        timeout=timeout,
    )
    exact = time.perf_counter() - start < timeout  # a search that ran to the limit was cut short
    if d is None:  # nothing found in time: deleting everything and inserting the gold graph is a bound
        d = g1.number_of_nodes() + g1.number_of_edges() + g2.number_of_nodes() + g2.number_of_edges()
    return EditDistance(d, exact)


def tool_recall(pred: PlanLike | Iterable[str], gold: PlanLike | Iterable[str]) -> float:
    """The fraction of the gold plan's distinct tools that the prediction uses (1.0 for no gold tools)."""

    def tools(x: PlanLike | Iterable[str]) -> set[str]:
        if isinstance(x, (Plan, str)):
            try:
                return set(_as_plan(x).tools)
            except PlanError:
                return set()
        return set(x)

    wanted = tools(gold)
    return len(wanted & tools(pred)) / len(wanted) if wanted else 1.0


def critical_path_length(
    plan: PlanLike, latency: Mapping[str, float] | Callable[[str], float] | None = None
) -> float:
    """The longest chain of dependent tasks, in steps (default) or in seconds with per-tool `latency`.

    With a perfect parallel executor, this is the plan's execution time: the physical limit that
    LLMCompiler's task fetching unit approaches.
    """
    g = _task_graph(plan)
    if latency is None:
        cost: Callable[[str], float] = lambda tool: 1.0  # noqa: E731
    elif callable(latency):
        cost = latency
    else:
        cost = latency.__getitem__
    finish: dict[int, float] = {}
    for n in nx.topological_sort(g):
        finish[n] = cost(g.nodes[n]["tool"]) + max((finish[p] for p in g.predecessors(n)), default=0.0)
    return max(finish.values(), default=0.0)


def plan_depth(plan: PlanLike) -> int:
    """Number of tasks on the longest dependency chain (a plan of independent calls has depth 1)."""
    return int(critical_path_length(plan))


def plan_width(plan: PlanLike) -> int:
    """The most tasks that can run at once: the largest set of mutually independent tasks.

    Computed exactly as a maximum antichain (Dilworth: tasks minus a maximum matching in the
    transitive closure), so a diamond's two middle tasks count 2 even though they sit at one level.
    The closure is held as one bit set per task, not as a graph: a chain of n tasks has n²/2 closure
    edges, and as networkx edges 2,000 chained steps took 23 s and 10,000 ran out of memory.
    """
    g = _task_graph(plan)
    order = list(nx.topological_sort(g))
    pos = {n: i for i, n in enumerate(order)}
    below = [0] * len(order)  # bit j of below[i]: task order[j] depends, directly or not, on task order[i]
    for i in reversed(range(len(order))):
        for n in g.successors(order[i]):
            below[i] |= below[pos[n]] | 1 << pos[n]
    return len(order) - _max_matching(below)


def _max_matching(adj: list[int]) -> int:
    """The size of a maximum matching between left i and right j, joined when bit j of `adj[i]` is set.

    Kuhn's algorithm over bit sets: each left node in turn looks breadth-first (so without recursion,
    however long the path) for an alternating path to a free right node, and flips it.
    """
    left_to_right: dict[int, int] = {}
    right_to_left: dict[int, int] = {}
    free = (1 << len(adj)) - 1  # right nodes not matched yet
    for i in range(len(adj)):
        came_from: dict[int, int] = {}  # right node -> the left node that reached it
        seen, frontier, found = 0, [i], -1
        while frontier and found < 0:
            ahead = []
            for u in frontier:
                new = adj[u] & ~seen
                seen |= new
                if new & free:
                    found = _lowest_bit(new & free)
                    came_from[found] = u
                    break
                while new:
                    j = _lowest_bit(new)
                    new &= new - 1
                    came_from[j] = u
                    ahead.append(right_to_left[j])
            frontier = ahead
        if found < 0:
            continue
        free &= ~(1 << found)
        j = found
        while j >= 0:  # along the path back to i, each left node takes the right node it reached
            u = came_from[j]
            j_before = left_to_right.get(u, -1)
            left_to_right[u], right_to_left[j] = j, u
            j = j_before
    return len(left_to_right)


def _lowest_bit(x: int) -> int:
    return (x & -x).bit_length() - 1


# ------------------------------------------------------------------------------- one prediction, scored

SCORES = ("success", "parse_failure", "tool_recall", "argument_exact")


def _canonical(plan: Plan) -> Counter:
    """Each step as (tool, args) with every `$k` replaced by step k's own canonical form."""
    memo: dict[int, Any] = {}
    by_idx = {s.idx: s for s in plan.steps}

    def value(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return tuple(value(x) for x in v)
        if isinstance(v, str) and references(v):
            if is_reference(v):
                return step(int(v.strip().lstrip("$").strip("{}")))
            return ("text", v, tuple(sorted((k, step(k)) for k in references(v))))
        return v

    def step(i: int) -> Any:
        if i not in memo:
            s = by_idx[i]
            memo[i] = (s.tool, tuple(value(a) for a in s.args))
        return memo[i]

    return Counter(step(s.idx) for s in plan.steps if not s.is_join)


def score_plan(pred: str, gold: str) -> dict[str, float]:
    """TinyAgent's metric and three more for one prediction against its gold plan (Sec. 3.2):

    - `success`: the DAGs are isomorphic with nodes matched on tool name (the paper's metric);
    - `parse_failure`: the text is not a valid plan over the 16 tools (syntax, unknown tool, wrong arity or
      types, bad references); it then scores 0 on everything else;
    - `tool_recall`: the fraction of the gold plan's distinct tools that the prediction calls;
    - `argument_exact`: every step also has exactly the gold arguments (a `$k` compared by what step k
      computes), so step order may differ but nothing else may.

        >>> gold = '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "hi")\\n3. join()<END_OF_PLAN>'
        >>> score_plan(gold.replace("Ana", "Anna"), gold)
        {'success': 1.0, 'parse_failure': 0.0, 'tool_recall': 1.0, 'argument_exact': 0.0}
    """
    gold_plan = parse_plan(gold)
    try:
        plan = parse_plan(pred, tinyagent_tools())
    except PlanError:
        return {"success": 0.0, "parse_failure": 1.0, "tool_recall": 0.0, "argument_exact": 0.0}
    return {
        "success": plan_success(plan, gold_plan),
        "parse_failure": 0.0,
        "tool_recall": tool_recall(plan, gold_plan),
        "argument_exact": float(_canonical(plan) == _canonical(gold_plan)),
    }


# ------------------------------------------------------------------------------------------ error analysis

#: What can be wrong with a prediction, from the coarsest to the finest.
ERROR_KINDS = (
    "parse_failure",  # the text is not a plan
    "out_of_scope_confusion",  # a plan for a request no tool serves, or no plan for one that a tool serves
    "wrong_tool",  # a tool the gold plan does not call (in place of, or beside, one it does)
    "missing_step",  # the gold plan's tools minus some
    "extra_step",  # the gold plan's tools plus some
    "wrong_dependency",  # the right tools, wired differently
)


def error_kind(pred: PlanLike, golds: PlanLike | Iterable[PlanLike]) -> str | None:
    """None when `pred`'s DAG is isomorphic to one of `golds` (a plan, or the right alternatives); otherwise one
    of `ERROR_KINDS`, judged against the gold whose tools are closest to the prediction's.

        >>> gold = '1. get_phone_number("Ana")\\n2. send_sms(["$1"], "hi")\\n3. join()'
        >>> error_kind(gold, gold), error_kind('1. send_sms(["1"], "hi")\\n2. join()', gold)
        (None, 'missing_step')
    """
    options = [_gold(g) for g in ([golds] if isinstance(golds, Plan | str) else golds)]
    try:
        plan = _as_plan(pred)
    except PlanError:
        return "parse_failure"
    graph = _task_graph(plan)
    if any(_isomorphic(graph, _task_graph(g)) for g in options):
        return None
    tools = Counter(s.tool for s in plan.tasks)

    def distance(gold: Plan) -> int:  # calls in one plan and not in the other
        other = Counter(s.tool for s in gold.tasks)
        return sum(((tools - other) + (other - tools)).values())

    want = Counter(s.tool for s in min(options, key=distance).tasks)
    if not want or not tools:
        return "out_of_scope_confusion"
    if tools == want:
        return "wrong_dependency"
    if not tools - want:  # every predicted call is in the gold plan: some are missing
        return "missing_step"
    if not want - tools:  # every gold call is predicted: some are extra
        return "extra_step"
    return "wrong_tool"


def error_breakdown(
    preds: Iterable[PlanLike], golds: Iterable[PlanLike | Iterable[PlanLike]]
) -> dict[str, int]:
    """How many predictions fail in each way (`error_kind`), every kind listed; right ones are not counted."""
    counts = Counter(error_kind(p, g) for p, g in zip(preds, golds, strict=True))
    return {kind: counts[kind] for kind in ERROR_KINDS}
