"""DAG success (TinyAgent's metric), graph edit distance, tool recall and plan shape."""

from __future__ import annotations

import itertools
import random
import re

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.metrics import (
    ERROR_KINDS,
    critical_path_length,
    error_breakdown,
    error_kind,
    graph_edit_distance,
    plan_depth,
    plan_success,
    plan_to_graph,
    plan_width,
    tool_recall,
)
from workbench.paper_examples import FIG1_PLAN, FIG3_CASES
from workbench.plan import REFERENCE_RE, Plan, Step, parse_plan, render_plan

E, P, EV, J = "get_email_address", "get_phone_number", "create_calendar_event", "join()"


def plan(*lines: str) -> str:
    return "\n".join(f"{i}. {line}" for i, line in enumerate(lines, 1))


EVENT = f'{EV}("M", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", ["$1", "$2"], "", None)'
GOLD = plan(f'{E}("Sid")', f'{E}("Lutfi")', EVENT, J)


@pytest.mark.parametrize("caption, gold, pred, expected", FIG3_CASES)
def test_paper_figure3_cases(caption, gold, pred, expected):
    assert plan_success(pred, gold) == expected


# Hand-labelled pairs: (what differs, predicted plan, expected verdict against GOLD)
LABELLED = [
    ("identical", GOLD, 1.0),
    (
        "look-ups swapped",
        plan(f'{E}("Lutfi")', f'{E}("Sid")', EVENT.replace('"$1", "$2"', '"$2", "$1"'), J),
        1.0,
    ),
    ("argument values differ", plan(f'{E}("Nick")', f'{E}("Kurt")', EVENT.replace('"M"', '"Other"'), J), 1.0),
    ("${N} spelling", plan(f'{E}("Sid")', f'{E}("Lutfi")', EVENT.replace('"$1"', '"${1}"'), J), 1.0),
    (
        "numbering with gaps",
        "\n".join([f'1. {E}("Sid")', f'5. {E}("Lutfi")', "9. " + EVENT.replace('"$2"', '"$5"'), f"10. {J}"]),
        1.0,
    ),
    ("no join at the end", plan(f'{E}("Sid")', f'{E}("Lutfi")', EVENT), 1.0),
    ("one wrong function", plan(f'{E}("Sid")', f'{P}("Lutfi")', EVENT, J), 0.0),
    ("a step missing", plan(f'{E}("Sid")', EVENT.replace(', "$2"', ""), J), 0.0),
    ("an extra step", plan(f'{E}("Sid")', f'{E}("Lutfi")', f'{E}("Nick")', EVENT, J), 0.0),
    ("a dependency missing", plan(f'{E}("Sid")', f'{E}("Lutfi")', EVENT.replace(', "$2"', ""), J), 0.0),
    ("a chain instead of parallel look-ups", plan(f'{E}("Sid")', f'{E}("$1")', EVENT, J), 0.0),
    (
        "event before the look-ups",
        plan(EVENT.replace('["$1", "$2"]', "[]"), f'{E}("Sid")', f'{E}("Lutfi")', J),
        0.0,
    ),
    ("unparseable prediction", "1. get_email_address(Sid", 0.0),
    ("empty prediction", "", 0.0),
    ("only join", plan(J), 0.0),
]


@pytest.mark.parametrize("what, pred, expected", LABELLED, ids=[x[0] for x in LABELLED])
def test_hand_labelled_pairs(what, pred, expected):
    assert plan_success(pred, GOLD) == expected
    if expected == 1.0:  # isomorphism is symmetric
        assert plan_success(GOLD, pred) == 1.0


def test_same_tools_different_shape_is_a_failure():
    chain = plan('a("x")', 'b("$1")', 'c("$2")', J)
    fork = plan('a("x")', 'b("$1")', 'c("$1")', J)
    diamond = plan('a("x")', 'b("$1")', 'b("$1")', 'c("$2", "$3")', J)
    double = plan('a("x")', 'b("$1")', 'a("y")', 'b("$3")', 'c("$2", "$4")', J)
    assert plan_success(chain, fork) == 0.0
    assert plan_success(diamond, plan('a("x")', 'b("$1")', 'b("$2")', 'c("$2", "$3")', J)) == 0.0
    assert plan_success(double, double) == 1.0


def test_accepts_plan_objects_and_rejects_a_broken_gold():
    assert plan_success(parse_plan(GOLD), parse_plan(GOLD)) == 1.0
    with pytest.raises(ValueError, match="gold plan does not parse"):
        plan_success(GOLD, "1. f(")


@st.composite
def dags(draw, max_tasks: int = 7) -> Plan:
    n = draw(st.integers(1, max_tasks))
    steps = []
    for i in range(1, n + 1):
        deps = sorted(draw(st.sets(st.integers(1, i - 1), max_size=3))) if i > 1 else []
        args = tuple(f"${d}" for d in deps)
        steps.append(Step(i, draw(st.sampled_from(["a", "b", "c"])), args, tuple(deps)))
    steps.append(Step(n + 1, "join", (), tuple(range(1, n + 1))))
    return Plan(steps)


def renumber(p: Plan, seed: int) -> str:
    """The same DAG written in another topological order (what a planner may legitimately do)."""
    g = plan_to_graph(p, include_join=False)
    rng = random.Random(seed)
    order, ready = [], sorted(n for n in g if g.in_degree(n) == 0)
    indeg = dict(g.in_degree())
    while ready:
        n = ready.pop(rng.randrange(len(ready)))
        order.append(n)
        for m in g.successors(n):
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    new = {old: i for i, old in enumerate(order, 1)}
    lines = []
    for old in order:
        s = p.step(old)
        args = [REFERENCE_RE.sub(lambda m: f"${new[int(m.group(1) or m.group(2))]}", a) for a in s.args]
        lines.append(Step(new[old], s.tool, tuple(args), ()).render())
    return "\n".join([*lines, f"{len(order) + 1}. join()"])


@given(dags(), st.integers(0, 10**6))
@settings(max_examples=300, deadline=None)
def test_any_reordering_of_a_dag_is_a_success(p, seed):
    assert plan_success(renumber(p, seed), p) == 1.0
    assert graph_edit_distance(renumber(p, seed), p) == 0.0


def _brute_force_isomorphic(p: Plan, q: Plan) -> bool:
    """An independent reference: try every bijection between the two task lists."""
    a, b = p.tasks, q.tasks
    if len(a) != len(b):
        return False
    edges_b = {(d, s.idx) for s in b for d in s.deps}
    tool_b = {s.idx: s.tool for s in b}
    for perm in itertools.permutations([s.idx for s in b]):
        m = {s.idx: t for s, t in zip(a, perm, strict=True)}
        if (
            all(tool_b[m[s.idx]] == s.tool for s in a)
            and {(m[d], m[s.idx]) for s in a for d in s.deps} == edges_b
        ):
            return True
    return False


@given(dags(max_tasks=6), dags(max_tasks=6))
@settings(max_examples=300, deadline=None)
def test_success_agrees_with_a_brute_force_isomorphism_check(p, q):
    iso = _brute_force_isomorphic(p, q)
    assert plan_success(p, q) == float(iso)
    assert (graph_edit_distance(p, q) == 0.0) == iso


def test_graph_edit_distance():
    assert graph_edit_distance(GOLD, GOLD) == 0.0
    assert (
        graph_edit_distance(plan(f'{E}("Sid")', f'{P}("Lutfi")', EVENT, J), GOLD) == 1.0
    )  # one substitution
    assert (
        graph_edit_distance(plan(f'{E}("Sid")', EVENT.replace(', "$2"', ""), J), GOLD) == 2.0
    )  # node + edge
    assert graph_edit_distance("not a plan", GOLD) == 5.0  # 3 nodes + 2 edges from nothing


def test_tool_recall():
    assert tool_recall(GOLD, GOLD) == 1.0
    assert tool_recall(plan(f'{E}("Sid")', J), GOLD) == 0.5
    assert tool_recall(["get_email_address", "send_sms"], [E, EV]) == 0.5
    assert tool_recall("garbage", GOLD) == 0.0
    assert tool_recall([], []) == 1.0


def test_plan_shape():
    chain = plan('a("x")', 'b("$1")', 'c("$2")', J)
    parallel = plan('a("x")', 'a("y")', 'a("z")', J)
    diamond = plan('a("x")', 'b("$1")', 'c("$1")', 'd("$2", "$3")', J)
    assert (plan_depth(chain), plan_width(chain)) == (3, 1)
    assert (plan_depth(parallel), plan_width(parallel)) == (1, 3)
    assert (plan_depth(diamond), plan_width(diamond)) == (3, 2)
    assert (plan_depth(FIG1_PLAN), plan_width(FIG1_PLAN)) == (2, 2)
    # {c, d, e} are mutually independent although no depth level holds more than two of them
    skew = plan('a("x")', 'b("$1")', 'c("$2")', 'd("$1")', 'e("$2")', J)
    assert plan_width(skew) == 3
    lat = {"a": 1.0, "b": 2.0, "c": 5.0, "d": 0.5}
    assert critical_path_length(diamond, lat) == pytest.approx(6.5)
    assert critical_path_length(diamond, lambda tool: 1.0) == 3.0
    assert critical_path_length(plan(J)) == 0.0


def test_graph_has_join_and_dependency_edges():
    g = plan_to_graph(FIG1_PLAN)
    assert set(g.edges) == {(1, 3), (2, 3), (1, 4), (2, 4), (3, 4)}
    assert g.nodes[3]["tool"] == EV and g.nodes[4]["tool"] == "join"
    assert set(plan_to_graph(FIG1_PLAN, include_join=False)) == {1, 2, 3}


def test_render_keeps_the_graph():
    assert plan_success(render_plan(parse_plan(GOLD)), GOLD) == 1.0
    assert re.search(r"4\. join\(\)<END_OF_PLAN>$", render_plan(parse_plan(GOLD)))


def _width_by_closure_matching(p: Plan) -> int:
    """Reference: Dilworth through networkx (tasks minus a maximum matching in the transitive closure)."""
    g = plan_to_graph(p, include_join=False)
    closure = nx.transitive_closure_dag(g)
    b = nx.Graph()
    left = [("out", n) for n in g]
    b.add_nodes_from([*left, *(("in", n) for n in g)])
    b.add_edges_from((("out", u), ("in", v)) for u, v in closure.edges)
    return g.number_of_nodes() - len(nx.bipartite.maximum_matching(b, top_nodes=left)) // 2


@given(dags(max_tasks=12))
@settings(max_examples=300, deadline=None)
def test_width_agrees_with_dilworth_through_networkx(p):
    assert plan_width(p) == _width_by_closure_matching(p)


def chain(tasks: int, first: str = E) -> str:
    return plan(f'{first}("Sid")', *(f'{E}("${i}")' for i in range(1, tasks)), J)


def test_identical_long_plans_are_at_distance_zero_exactly():
    """networkx timed out on these and its bound (1198) was reported as the distance (issue 21)."""
    d = graph_edit_distance(chain(300), chain(300))
    assert d == 0.0 and d.exact


def test_a_timed_out_edit_distance_says_it_is_an_upper_bound():
    d = graph_edit_distance(chain(15), chain(15, first=P), timeout=1e-4)
    assert d >= 1.0 and not d.exact
    small = graph_edit_distance(plan(f'{E}("Sid")', f'{P}("Lutfi")', EVENT, J), GOLD)
    assert small == 1.0 and small.exact
    assert graph_edit_distance("not a plan", GOLD).exact


# ------------------------------------------------------------------------------------------ error analysis

LOOKUP_SMS = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. join()'
NO_TOOL = "1. join()"


@pytest.mark.parametrize(
    ("pred", "golds", "kind"),
    [
        (LOOKUP_SMS, LOOKUP_SMS, None),
        ('1. get_phone_number("Bo")\n2. send_sms(["$1"], "other words")\n3. join()', LOOKUP_SMS, None),
        ("not a plan at all (", LOOKUP_SMS, "parse_failure"),
        (NO_TOOL, LOOKUP_SMS, "out_of_scope_confusion"),
        (LOOKUP_SMS, NO_TOOL, "out_of_scope_confusion"),
        ('1. get_email_address("Ana")\n2. send_sms(["$1"], "hi")\n3. join()', LOOKUP_SMS, "wrong_tool"),
        ('1. send_sms(["555"], "hi")\n2. join()', LOOKUP_SMS, "missing_step"),
        (
            LOOKUP_SMS.replace("3. join()", '3. create_note("x", "y", "")\n4. join()'),
            LOOKUP_SMS,
            "extra_step",
        ),
        ('1. get_phone_number("Ana")\n2. send_sms(["555"], "hi")\n3. join()', LOOKUP_SMS, "wrong_dependency"),
        # a request that allows two plans: right against either, and judged against the closest when wrong
        (
            '1. create_reminder("x", None, "", "", 0, False)\n2. join()',
            [
                '1. create_note("x", "y", "")\n2. join()',
                '1. create_reminder("x", None, "", "", 0, False)\n2. join()',
            ],
            None,
        ),
        (
            '1. create_reminder("x", None, "", "", 0, False)\n2. create_note("x", "y", "")\n3. join()',
            ['1. create_note("x", "y", "")\n2. join()', '1. send_sms(["1"], "y")\n2. join()'],
            "extra_step",
        ),
    ],
)
def test_error_kind_names_what_is_wrong(pred, golds, kind):
    assert error_kind(pred, golds) == kind


def test_error_breakdown_counts_every_kind_and_skips_the_right_ones():
    preds = [LOOKUP_SMS, NO_TOOL, "(", '1. send_sms(["555"], "hi")\n2. join()']
    counts = error_breakdown(preds, [LOOKUP_SMS] * 4)
    assert list(counts) == list(ERROR_KINDS) and sum(counts.values()) == 3
    assert counts["parse_failure"] == counts["out_of_scope_confusion"] == counts["missing_step"] == 1
