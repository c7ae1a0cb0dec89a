"""The human-written dev set (`data/human/dev.jsonl`, issue 16): well formed, covering, and never trained on."""

import json
from collections import Counter
from pathlib import Path

import pytest

from workbench.finetune.evaluate import human_dev_report
from workbench.jsonl import read_jsonl
from workbench.plan import END_OF_PLAN, parse_plan
from workbench.stages.synth import run as synth
from workbench.synth.dataset import SynthConfig, load_split
from workbench.synth.records import SPLITS, normalize_query
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools

NO_TOOL_PLAN = f"1. join(){END_OF_PLAN}"
DEV = Path(__file__).resolve().parent.parent / "data" / "human" / "dev.jsonl"


@pytest.fixture(scope="module")
def dev():
    return read_jsonl(DEV, "the human dev set", required=("query", "plan", "today"))


def test_every_gold_plan_parses_and_uses_only_the_16_tools(dev):
    assert len(dev) >= 150 and len({r["id"] for r in dev}) == len(dev)
    for r in dev:
        for plan in [r["plan"], *r["alternatives"]]:
            parse_plan(plan, tools=tinyagent_tools())  # raises PlanError on a bad plan or an unknown tool


def test_it_covers_every_tool_and_the_phrasings_the_issue_names(dev):
    uses = Counter(t for r in dev for t in {s.tool for s in parse_plan(r["plan"]).tasks})
    assert {t: uses[t] for t in TOOL_NAMES if uses[t] < 5} == {}
    tags = Counter(t for r in dev for t in r["tags"])
    for tag in (
        "casual",
        "typo",
        "abbrev",
        "question",
        "pronoun",
        "given_number",
        "group",
        "reply_forward",
        "chain",
        "no_time",
        "non_ascii",
        "relative_date",
        "out_of_scope",
    ):
        assert tags[tag] >= 2, tag
    requests = Counter(min(len(parse_plan(r["plan"]).tasks), 4) for r in dev)
    assert all(requests[n] for n in (1, 2, 3, 4))


def test_no_dev_query_is_in_a_synthesized_split(tmp_workbench, dev):
    synth(SynthConfig(train=2000, val=200, test=200, ood=200, report_sample=5))
    seen = {normalize_query(r["query"]) for split in SPLITS for r in load_split(split)}
    leaked = [r["query"] for r in dev if normalize_query(r["query"]) in seen]
    assert leaked == []


def test_the_file_is_one_json_object_per_line_in_utf8():
    lines = DEV.read_text(encoding="utf-8").split("\n")
    assert lines[-1] == "" and all(isinstance(json.loads(line), dict) for line in lines[:-1])


def test_the_report_scores_gold_and_alternatives_right_and_names_what_is_wrong(dev):
    report = human_dev_report([r["plan"] for r in dev], dev)
    assert report["success"] == 1.0 and sum(report["error_breakdown"].values()) == 0
    with_alternatives = [r for r in dev if r["alternatives"]]
    assert (
        human_dev_report([r["alternatives"][-1] for r in with_alternatives], with_alternatives)["success"]
        == 1.0
    )
    # Every prediction "no plan": the out-of-scope queries are right, every other one is a confusion.
    report = human_dev_report([NO_TOOL_PLAN] * len(dev), dev)
    out_of_scope = sum("out_of_scope" in r["tags"] for r in dev)
    assert report["success_by_tag"]["out_of_scope"] == {"n": out_of_scope, "success": 1.0}
    assert report["error_breakdown"]["out_of_scope_confusion"] == len(dev) - out_of_scope
