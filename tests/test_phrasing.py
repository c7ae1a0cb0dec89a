"""The offline teacher's phrasing layer and new plan shapes (issue 16): casual registers and typos around slot
values that stay intact, a held-out part of the grammar for ood, plan shapes people ask for, and the diversity
report."""

import datetime as dt
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from workbench.plan import parse_plan
from workbench.synth import everyday, offline, phrasing, pools
from workbench.synth.dataset import SynthConfig, synthesize
from workbench.synth.diversity import skeleton
from workbench.synth.records import Checker, Rejected, check_plan

TODAY = dt.date(2024, 6, 12)
# the held-out abbreviations ("2" for "to" aside: training queries hold the number 2)
OOD_ONLY_WORDS = {a for _, a in phrasing.ABBREVIATIONS.values() if not a.isdigit()} - {
    t for t, _ in phrasing.ABBREVIATIONS.values()
}


@pytest.fixture(scope="module")
def composed():
    rng, checker, out = random.Random(11), Checker(), {"train": [], "ood": []}
    for split in out:
        while len(out[split]) < 2500:
            query, plan, _, skeletons = offline.compose(rng, split, TODAY)
            if checker.check(query, plan) is not None:
                out[split].append((query, plan, skeletons))
    return out


def test_lookups_files_and_places_are_named_in_the_query_whatever_the_register(composed):
    """Typos, abbreviations and lower case never touch a value that the plan copies from the query."""
    lookups = {"get_email_address", "get_phone_number", "open_and_get_file_path", "maps_open_location"}
    groups = {v.lower(): g.lower() for g, v in pools.GROUP_LOOKUP.items()}
    for records in composed.values():
        for query, plan, _ in records:
            for step in parse_plan(plan).tasks:
                if step.tool in lookups:
                    value = step.args[0].lower()
                    assert value in query.lower() or groups.get(value, "\0") in query.lower(), (query, plan)


def test_every_register_occurs_and_casual_queries_look_casual(composed):
    queries = [q for q, _, _ in composed["train"]]
    lower = sum(q == q.lower() for q in queries) / len(queries)
    no_stop = sum(not q.endswith((".", "?")) for q in queries) / len(queries)
    abbreviated = sum(bool(re.search(r"\b(pls|u|tmrw|abt|thx|mtg|msg)\b|w/|&", q)) for q in queries) / len(
        queries
    )
    assert 0.1 < lower < 0.5 and 0.2 < no_stop < 0.7 and abbreviated > 0.1, (lower, no_stop, abbreviated)


def test_the_held_out_grammar_appears_only_in_ood(composed):
    def words(records):
        return Counter(w for q, _, _ in records for w in re.findall(r"[\w/']+", q.lower()))

    train, ood = words(composed["train"]), words(composed["ood"])
    assert OOD_ONLY_WORDS and not OOD_ONLY_WORDS & set(train), OOD_ONLY_WORDS & set(train)
    assert OOD_ONLY_WORDS & set(ood), "ood uses its held-out abbreviations"
    ood_openers = [o.strip() for o in phrasing.OPENERS[1]]
    assert not any(q.lower().startswith(o) for q, _, _ in composed["train"] for o in ood_openers)


def test_typos_leave_dates_times_and_values_alone():
    rng = random.Random(3)
    clause = "schedule the budget review with Ana Costa next Friday at 5pm on June 20 and remind everybody"
    seen_typo = False
    for _ in range(400):
        out = phrasing.realize(rng, clause, ["Ana Costa", "budget review"], "noisy", ood=rng.random() < 0.5)
        for kept in ("Ana Costa", "budget review", "next friday", "5pm", "june 20"):
            assert kept.lower() in out.lower(), out
        seen_typo |= not re.search(r"\bschedule\b", out) or "everybody" not in out
    assert seen_typo


def test_plan_shapes_people_ask_for(composed):
    """Typed numbers and addresses (no look-up), groups, reply and forward together, a note's text sent on,
    look-ups asked for as questions, "them" for people an earlier request named (looked up once: see
    test_synth's look-up-once test), and files sent as the object of the sentence."""
    plans = [(q, parse_plan(p)) for q, p, _ in composed["train"]]

    def count(pred):
        return sum(1 for q, p in plans if pred(q, p))

    def literal_recipient(p, tool, mark):
        return any(s.tool == tool and any(mark in str(a) for a in s.args[0]) for s in p.tasks)

    groups = {v.lower() for v in pools.GROUP_LOOKUP.values()}
    found = {
        "typed number": count(lambda q, p: literal_recipient(p, "send_sms", "555")),
        "typed address": count(lambda q, p: literal_recipient(p, "compose_new_email", "@")),
        "group": count(
            lambda q, p: any(str(s.args[0]).lower() in groups for s in p.tasks if s.tool.startswith("get_"))
        ),
        "reply and forward": count(lambda q, p: {"reply_to_email", "forward_email"} <= set(p.tools)),
        "note sent on": count(
            lambda q, p: any(
                s.tool in ("compose_new_email", "send_sms")
                and any(p.steps[d - 1].tool == "open_note" for d in s.deps)
                for s in p.tasks
            )
        ),
        "asked look-up": count(
            lambda q, p: (
                len(p.tasks) > 1
                and any(
                    s.tool == "get_phone_number" and not any(s.idx in t.deps for t in p.tasks)
                    for s in p.tasks
                )
            )
        ),
        "pronoun for earlier people": count(lambda q, p: re.search(r"\bthem\b", q) is not None),
        "files as the object": count(
            lambda q, p: any(
                s.tool == "compose_new_email" and s.args[4] and "attach" not in q.lower() for s in p.tasks
            )
        ),
    }
    assert all(n >= 10 for n in found.values()), found


def test_an_unused_look_up_passes_only_when_the_query_asks_for_it():
    plan = '1. get_phone_number("Ana")\n2. get_phone_number("Bo")\n3. send_sms(["$2"], "hi")\n4. join()<END_OF_PLAN>'
    assert check_plan(plan, "what's Ana's number? and text Bo hi") == [
        "get_phone_number",
        "get_phone_number",
        "send_sms",
    ]
    with pytest.raises(Rejected, match="unused_step"):
        check_plan(plan, "text Bo hi and say hello to Ana")
    with pytest.raises(Rejected, match="unused_step"):
        check_plan(plan)


def test_skeletons_hide_values_and_numbers():
    assert (
        skeleton("Email ANA COSTA the 2 files re Budget", ["Ana Costa", "Budget"])
        == "email {} the # files re {}"
    )


def test_synthesis_reports_diversity_per_intent_and_ood_skeletons_are_unseen(tmp_path: Path):
    report = synthesize(SynthConfig(train=600, val=60, test=60, ood=120, report_sample=20), tmp_path)
    train = report["diversity"]["train"]
    assert set(train) == set(offline.INTENTS) | set(everyday.REQUESTS)  # the two generators share some names
    for intent, d in train.items():
        assert 0 < d["skeletons"] <= d["clauses"] and d["trigrams"] > 0, intent
    assert report["ood_skeletons_unseen_in_training"] >= 0.95
