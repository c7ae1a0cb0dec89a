"""Data synthesis: the offline teacher, sanity checks, splits, ood hold-outs, reproducibility, exports."""

from __future__ import annotations

import datetime as dt
import json
import random
import re

import pytest

from workbench import config
from workbench.finetune.mlx_data import export_mlx_chat
from workbench.jsonl import read_jsonl
from workbench.plan import parse_plan
from workbench.stages.synth import run
from workbench.synth import everyday, offline, pools
from workbench.synth.dataset import SynthConfig, hf_data_files, load_hf, load_split, split_path, synthesize
from workbench.synth.records import (
    SPLITS,
    Checker,
    check_plan,
    human_dev_file,
    human_dev_queries,
    normalize_query,
)
from workbench.tools.tinyagent import TOOL_NAMES

SMALL = SynthConfig(train=600, val=60, test=60, ood=80, seed=3, report_sample=200)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    mp = pytest.MonkeyPatch()
    mp.setenv("WORKBENCH_DATA_DIR", str(root / "data"))
    report = run(SMALL)
    data = {
        s: [json.loads(line) for line in split_path(s).read_text(encoding="utf-8").splitlines()]
        for s in SPLITS
    }
    yield report, data, root
    mp.undo()


def test_sizes_fields_and_every_record_passes_the_checks(built):
    report, data, _ = built
    assert report["counts"] == {"train": 600, "val": 60, "test": 60, "ood": 80}
    assert {"counts", "rejected", "distinct_queries", "wall_s"} <= set(report)
    for split, rows in data.items():
        assert len({r["id"] for r in rows}) == len(rows)
        for r in rows:
            assert set(r) == {"id", "query", "plan", "tools", "today", "split", "teacher"}
            assert (
                r["split"] == split
                and r["teacher"] == "offline"
                and r["plan"].endswith("join()<END_OF_PLAN>")
            )
            assert check_plan(r["plan"], r["query"]) == r["tools"]
            dt.date.fromisoformat(r["today"])


def test_no_query_repeats_across_splits(built):
    _, data, _ = built
    keys = [normalize_query(r["query"]) for rows in data.values() for r in rows]
    assert len(keys) == len(set(keys))


def test_same_seed_same_bytes_other_seed_other_bytes(built, tmp_path, monkeypatch):
    _, _, root = built
    first = (root / "data" / "tinyagent" / "train.jsonl").read_bytes()
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "again"))
    run(SMALL)
    assert split_path("train").read_bytes() == first
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "other"))
    run(SynthConfig(**{**SMALL.__dict__, "seed": 4}))
    assert split_path("train").read_bytes() != first


def _people_in(plan_text: str) -> set[str]:
    return {
        s.args[0] for s in parse_plan(plan_text).steps if s.tool in ("get_email_address", "get_phone_number")
    }


def test_ood_uses_held_out_people_templates_and_pairs(built):
    report, data, _ = built
    assert report["ood_templates_seen_in_training"] == 0

    def lower(names):
        return {n.lower() for n in names}

    train_people = lower([*pools.people("train"), *pools.first_names("train")])
    train_groups = lower(pools.GROUP_LOOKUP[g] for g in pools.groups("train"))
    ood_people = lower(p for r in data["ood"] for p in _people_in(r["plan"]))  # casual queries: lower case
    assert ood_people and not ood_people & (train_people | train_groups)
    train_named = lower(p for r in data["train"] for p in _people_in(r["plan"]))
    assert train_named <= train_people | train_groups
    held = offline.HELD_OUT_PAIRS
    assert held, "some intent pairs are held out"
    for _ in range(300):  # in-distribution compositions never use a held-out pair
        names = offline._choose_intents(random.Random(_), ood=False)
        assert not any(frozenset((a, b)) in held for a in names for b in names if a != b)


def test_plans_are_maximally_parallel_and_look_up_once(built):
    _, data, _ = built
    for r in data["train"][:300]:
        plan = parse_plan(r["plan"])
        deps = [bool(s.deps) for s in plan.tasks]
        assert deps == sorted(deps), f"a dependency-free step comes after a dependent one: {r['plan']}"
        lookups = [
            (s.tool, s.args)
            for s in plan.tasks
            if s.tool.startswith("get_") or s.tool == "open_and_get_file_path"
        ]
        assert len(lookups) == len(set(map(repr, lookups)))


def test_diversity_figures(built):
    report, _, _ = built
    train = report["splits"]["train"]
    assert len(train["tools"]) == 16, "every tool appears in training"
    assert report["distinct_templates"]["train"] > 80 and report["distinct_templates"]["ood"] > 20
    assert len(train["tasks_per_plan"]) >= 8 and len(train["dag_width"]) >= 5
    assert len(pools.people("train")) > 30_000 and any(not p.isascii() for p in pools.people("train")[:5000])


# ------------------------------------------------------------------------------------- date phrases

WEEKDAYS = {d: i for i, d in enumerate(offline.WEEKDAYS)}
MONTHS = {m: i + 1 for i, m in enumerate(offline.MONTHS)}


def reference_date(phrase: str, today: dt.date) -> dt.date:
    """An independent reading of the generator's date phrases (the rules in its docstring)."""
    fixed = {"today": 0, "tomorrow": 1, "the day after tomorrow": 2}
    if phrase in fixed:
        return today + dt.timedelta(fixed[phrase])
    if m := re.fullmatch(r"(on|next) (\w+day)", phrase):
        d = today + dt.timedelta(1)
        while d.weekday() != WEEKDAYS[m.group(2)]:
            d += dt.timedelta(1)
        return d + dt.timedelta(7 if m.group(1) == "next" else 0)
    if m := re.fullmatch(r"in (\d) days", phrase):
        return today + dt.timedelta(int(m.group(1)))
    if m := re.fullmatch(r"in (two|three) weeks", phrase):
        return today + dt.timedelta(14 if m.group(1) == "two" else 21)
    if m := re.fullmatch(r"on (\d{4}-\d\d-\d\d)", phrase):
        return dt.date.fromisoformat(m.group(1))
    m = re.fullmatch(r"on (?:the (\d+)\w\w of (\w+)|(\w+) (\d+))", phrase)
    assert m, f"unknown phrase {phrase!r}"
    day, month = (
        (int(m.group(1)), MONTHS[m.group(2)]) if m.group(1) else (int(m.group(4)), MONTHS[m.group(3)])
    )
    for year in (today.year, today.year + 1):
        if (d := dt.date(year, month, day)) >= today:
            return d
    raise AssertionError(phrase)


@pytest.mark.parametrize("ood", [False, True])
def test_date_phrases_mean_what_they_say(ood):
    rng = random.Random(7)
    for _ in range(2000):
        today = offline.random_today(rng)
        phrase, day = offline.date_phrase(rng, today, ood)
        assert reference_date(phrase, today) == day, (phrase, today)


def test_time_phrases():
    rng = random.Random(1)
    for _ in range(500):
        phrase, t = offline.time_phrase(rng, False)
        m = re.fullmatch(r"(?:at )?(\d+)(?::(\d\d))? ?(am|pm)?", phrase)
        assert phrase.startswith("at ") or m.group(3), phrase  # a bare hour always says am or pm
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if m.group(3):
            hour = hour % 12 + (12 if m.group(3) == "pm" else 0)
        assert dt.time(hour, minute) == t


def test_untitled_meetings_read_after_for():
    assert offline.for_day("tomorrow") == "for tomorrow"
    assert offline.for_day("on Monday") == "for Monday"
    assert offline.for_day("on 2024-06-13") == "for 2024-06-13"
    assert offline.for_day("in 3 days") == "in 3 days"
    rng, seen = random.Random(0), 0
    for _ in range(300):
        query, plan, used, _ = offline.compose(rng, "train", dt.date(2024, 6, 12))
        if any(u.startswith("event_untitled:") for u in used):
            seen += 1
            assert "create_calendar_event(" in plan and "for on " not in query and "for in " not in query
    assert seen > 5


# --------------------------------------------------------------------------------------- sanity checks


@pytest.mark.parametrize(
    "plan, reason",
    [
        ('1. get_email_address("A")\n2. join()', "no_end_marker"),
        ('1. get_email_address("A"\n2. join()<END_OF_PLAN>', "unparseable"),
        ('1. send_email("A")\n2. join()<END_OF_PLAN>', "invalid_tool_call"),
        ('1. get_email_address("A", "B")\n2. join()<END_OF_PLAN>', "invalid_tool_call"),
        ('1. open_note("A", "")\n2. join()\n3. open_note("B", "")<END_OF_PLAN>', "steps_after_join"),
        ('1. open_note("A", "")<END_OF_PLAN>', "no_join"),
        ("1. join()<END_OF_PLAN>", "no_tasks"),
        ('1. open_note("A", "")\n3. open_note("B", "")\n4. join()<END_OF_PLAN>', "bad_numbering"),
        ('1. get_email_address("A")\n2. open_note("B", "")\n3. join()<END_OF_PLAN>', "unused_step"),
    ],
)
def test_each_rejection_has_a_reason(plan, reason):
    checker = Checker()
    assert checker.check("a query", plan) is None
    assert checker.rejected == {reason: 1}


def test_duplicates_and_empty_queries_are_rejected():
    checker = Checker()
    good = '1. get_email_address("A")\n2. send_sms("$1", "hi")\n3. join()<END_OF_PLAN>'
    assert checker.check("Text Ana: hi!", good) == ["get_email_address", "send_sms"]
    assert checker.check("text ana hi", good) is None and checker.check("  ", good) is None
    assert checker.rejected == {"duplicate_query": 1, "empty_query": 1}
    assert checker.check("what's Ana's email?", '1. get_email_address("Ana")\n2. join()<END_OF_PLAN>')


# ------------------------------------------------------------------------------------------- exports


def test_exports(built, monkeypatch):
    _, data, root = built
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(root / "data"))
    out = export_mlx_chat(root / "mlx", config.dataset_dir())
    lines = (out / "train.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(lines[0])["messages"]
    assert len(lines) == 600 and [m["role"] for m in first] == ["system", "user", "assistant"]
    assert first[2]["content"] == data["train"][0]["plan"] and (out / "valid.jsonl").exists()
    assert set(hf_data_files()) == set(SPLITS)
    ds = load_hf()
    assert ds["ood"].num_rows == 80 and ds["train"][0]["query"] == data["train"][0]["query"]


def test_the_library_writes_where_it_is_told(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "elsewhere"))
    report = synthesize(SynthConfig(train=20, val=5, test=5, ood=5, report_sample=5), tmp_path / "ds")
    assert report["counts"]["train"] == 20 and "profile" not in report
    assert len(load_split("train", folder=tmp_path / "ds")) == 20
    assert not (tmp_path / "elsewhere").exists(), (
        "no results saved and nothing written to the default folders"
    )


def test_llm_teacher_path_builds_splits(tmp_path, monkeypatch):
    """The paper's path through the synth stage: LLM-teacher records for train/val/test, offline ood."""
    from workbench.llm import ScriptedLLM
    from workbench.synth.teacher import format_pair

    rng = random.Random(11)

    def reply(messages):  # a scripted stand-in for GPT-4-Turbo: well-formed blocks, one of them garbage
        pairs = [offline.compose(rng, "train", dt.date(2024, 6, 12))[:2] for _ in range(5)]
        return (
            "Here you go:\n"
            + "".join(format_pair(q, p) + "\n" for q, p in pairs)
            + "Query: x\nPlan:\nnonsense\n###"
        )

    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path))
    cfg = SynthConfig(
        train=30, val=5, test=5, ood=10, teacher="llm", requests_per_minute=1e6, report_sample=20
    )
    report = run(cfg, llm=ScriptedLLM(reply, model="scripted-teacher"))
    assert report["counts"] == {"train": 30, "val": 5, "test": 5, "ood": 10}
    assert report["llm_teacher"]["accepted"] == 40 and report["llm_teacher"]["rejected"]
    rows = [json.loads(line) for line in split_path("train").read_text().splitlines()]
    assert all(r["teacher"] == "llm:scripted-teacher" for r in rows)
    assert all(r["teacher"] == "offline" for r in map(json.loads, split_path("ood").read_text().splitlines()))


def test_every_synthesized_plan_runs_cleanly_on_a_prepared_desktop(built):
    """The gold plans and the simulated desktop agree: no tool error on any sampled record."""
    import asyncio

    from workbench.compiler import Executor, desktop_tools
    from workbench.tools import SimulatedDesktop

    _, data, _ = built
    for r in data["test"] + data["ood"]:
        desktop = SimulatedDesktop().prepare_for(r["plan"])
        result = asyncio.run(Executor(desktop_tools(desktop)).run(parse_plan(r["plan"]).steps))
        assert not result.errors, (r["query"], r["plan"], result.errors)
        assert len(desktop.calls) == len(r["tools"])


def test_the_phrasing_names_the_channel_of_a_shared_place():
    """A query that says "text" is planned as an SMS, one that says "email" as an email (no label noise)."""
    rng = random.Random(5)
    for i in range(600):
        ctx = offline.Ctx(rng, "ood" if i % 3 == 0 else "train", dt.date(2024, 6, 12), offline.PlanBuilder())
        query = offline.intent_share_place(ctx).lower()
        by_text = any(w in query for w in ("text", "sms", "message"))
        assert by_text == ("send_sms" in ctx.plan.render()), query


# ------------------------------------------------------------------------------------ out-of-scope queries


def test_out_of_scope_queries_are_distinct_seeded_and_held_out_templates_are_unseen(monkeypatch):
    from workbench.synth import out_of_scope
    from workbench.synth.out_of_scope import _templates, out_of_scope_queries

    train = out_of_scope_queries(500, seed=0)
    assert len(set(train)) == 500 and train == out_of_scope_queries(500, seed=0) != out_of_scope_queries(
        500, seed=1
    )
    assert not set(_templates(held_out=False)) & set(_templates(held_out=True))
    held = out_of_scope_queries(200, seed=0, held_out=True)
    assert not set(train) & set(held)
    assert any("recipe" in q or "cook" in q for q in held) and not any(
        "recipe" in q or "cook" in q for q in train
    )
    # the register layer makes a handful of a one-template topic (openers, sign-offs, case), not thousands
    monkeypatch.setattr(out_of_scope, "_templates", lambda held_out: [("jokes", "say hi.")])
    with pytest.raises(ValueError, match="distinct out-of-scope queries can be made"):
        out_of_scope_queries(500)


def test_out_of_scope_queries_include_near_misses_typed_casually_and_never_a_dev_query():
    """Requests that sound like a tool's (an alarm, reading the calendar, a call, a ride) are out of scope too,
    typed as people type; held out, each topic keeps its last template and the casual register its held-out parts;
    no query of the hand-written dev set is ever written."""
    from workbench.synth.out_of_scope import out_of_scope_items
    from workbench.synth.records import human_dev_queries, normalize_query

    train = out_of_scope_items(2000, seed=0)
    topics = {t for _, t in train}
    assert {"alarms", "calendar_read", "calls", "rides", "undo"} <= topics
    assert not {"recipes", "news"} & topics
    queries = [q for q, _ in train]
    assert sum(q == q.lower() for q in queries) > 200 and sum(q[-1] not in ".?" for q in queries) > 400
    dev = human_dev_queries()
    held = out_of_scope_items(300, seed=0, held_out=True)
    assert not {normalize_query(q) for q, _ in train + held} & dev
    assert any("snooze" in q.lower() for q, _ in held) and not any("snooze" in q.lower() for q in queries)


# -------------------------------------------------------------------------- requests composed from parts


def _everyday(n: int, split: str) -> list[tuple[str, str, list[str]]]:
    out = []
    for i in range(n):
        query, plan, ids, _ = everyday.compose(random.Random(f"{split}:{i}"), split, dt.date(2024, 6, 12))
        out.append((query, plan, ids))
    return out


def test_everyday_requests_pass_the_checks_and_write_the_shapes_templates_never_write():
    rows, checker = _everyday(1500, "train"), Checker()
    accepted = [(q, parse_plan(p)) for q, p, _ in rows if checker.check(q, p) is not None]
    assert len(accepted) > 0.97 * len(rows), checker.rejected
    assert {t for _, plan in accepted for t in plan.tools} == set(TOOL_NAMES)

    def has(test):
        return sum(1 for _, plan in accepted if test(plan))

    by_tool = lambda plan, tool: [s for s in plan.tasks if s.tool == tool]  # noqa: E731
    assert has(lambda p: any(s.args[1] is None for s in by_tool(p, "create_reminder"))), "a reminder, no time"
    assert has(lambda p: [s.tool for s in p.tasks] == ["get_email_address", "get_zoom_meeting_link"])
    assert has(lambda p: by_tool(p, "reply_to_email") and by_tool(p, "forward_email")), "reply and forward"
    assert has(lambda p: any(s.deps for s in by_tool(p, "send_sms")) and by_tool(p, "maps_show_directions"))
    assert has(lambda p: [s.tool for s in p.tasks] == ["open_and_get_file_path"] * 2), "two files opened"
    assert has(lambda p: {s.tool for s in p.tasks} == {"get_phone_number", "get_email_address"})
    short = sum(len(q.split()) <= 12 for q, _ in accepted) / len(accepted)
    assert short > 0.35, "people write short requests"


def test_everyday_parts_for_ood_are_held_out():
    train = {i for _, _, ids in _everyday(1500, "train") for i in ids}
    ood = {i for _, _, ids in _everyday(400, "ood") for i in ids}
    assert len(train) > 150 and ood and not train & ood


def test_a_query_of_the_human_dev_set_is_never_synthesized():
    dev = read_jsonl(human_dev_file(), "the human dev set", required=("query", "plan"))
    checker = Checker(held_out=human_dev_queries())
    assert checker.check(dev[0]["query"].upper() + "!", dev[0]["plan"]) is None
    assert checker.rejected == {"human_dev_query": 1}


def test_free_text_is_composed_from_parts_and_never_adds_a_step():
    for pool in (pools.messages, pools.tasks, pools.note_items):
        assert not set(pool("train")) & set(pool("ood")), "ood holds out its own free text"
    assert len(pools.messages("train")) > 500 and len(pools.tasks("train")) > 80
    actions = ("text ", "email ", "send ", "reply to ", "call ")
    seen = 0
    for seed in range(400):  # a reminder to do what a tool could do is one reminder, nothing more
        query, plan, _, clauses = everyday.compose(random.Random(seed), "train", dt.date(2024, 6, 12))
        steps = parse_plan(plan).tasks
        if len(clauses) == 1 and [s.tool for s in steps] == ["create_reminder"]:
            seen += steps[0].args[0].lower().startswith(actions)
    assert seen >= 3
