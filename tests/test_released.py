"""TinyAgent's released dataset format: import with the sanity checks, a report of rejections, joiner examples.

The files here are written by the test in that format (`released.as_released` over our own generator's records);
no copy of the authors' data is used.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random

import pytest
from transformers import AutoTokenizer

from workbench.cli import main
from workbench.finetune.bundled import bundled_planner
from workbench.finetune.settings import FinetuneConfig
from workbench.finetune.train import finetune_method, joiner_rows
from workbench.jsonl import read_jsonl
from workbench.synth import offline
from workbench.synth.dataset import split_path
from workbench.synth.records import Checker
from workbench.synth.released import (
    DEFAULT_TODAY,
    JOINER_FILE,
    as_released,
    import_released,
    read_released,
)


def _records(n: int, seed: int, start: int = 0) -> list[dict]:
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        query, plan, *_ = offline.compose(rng, "train", dt.date(2024, 5, 3))
        out.append({"id": f"r{start + len(out)}", "query": query, "plan": plan, "today": "2024-05-03"})
    return out


def _broken() -> dict[str, dict]:
    """One entry per way a released point can fail, and one without a date (kept, with a default date)."""
    ok = as_released(
        {
            "id": "x",
            "query": "Text Sid hi",
            "plan": '1. get_phone_number("Sid")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>',
            "today": "2024-05-03",
        }
    )
    unknown = json.loads(json.dumps(ok))
    unknown["input"] = "Text Ana hi"
    unknown["output"][0]["raw_output"] = '1. get_contact("Ana")\n2. join()<END_OF_PLAN>'
    mismatch = json.loads(json.dumps(ok))
    mismatch["input"] = "Text Bo hi"
    mismatch["output"][0]["parsed_output"][0]["tool_name"] = "get_email_address"
    no_plan = {"input": "Text Cy hi", "output": [ok["output"][1]]}
    after_join = json.loads(json.dumps(ok))
    after_join["input"] = "Text Di hi"
    after_join["output"][0]["raw_output"] = (
        '1. get_phone_number("Di")\n2. join()\n3. send_sms(["$1"], "hi")\n4. join()<END_OF_PLAN>'
    )
    undated = json.loads(json.dumps(ok))
    undated["input"] = "Text Ed hi"
    undated["output"][0]["raw_input"] = "Question: Text Ed hi"
    dup = json.loads(json.dumps(ok))
    dup["input"] = "text sid, hi!"  # the same query, normalized
    return {
        "ok": ok,
        "unknown": unknown,
        "mismatch": mismatch,
        "no_plan": no_plan,
        "after_join": after_join,
        "undated": undated,
        "dup": dup,
    }


def test_import_keeps_good_points_and_names_every_rejection(tmp_path):
    path = tmp_path / "training_data.json"
    path.write_text(json.dumps(_broken()), encoding="utf-8")
    checker = Checker()
    found = import_released(path, checker, val=0, test=0, progress=False)
    records = found.records["train"]
    assert sorted(r.query for r in records) == ["Text Ed hi", "Text Sid hi"]
    assert all("Thought" not in r.plan and r.plan.endswith("join()<END_OF_PLAN>") for r in records)
    assert {r.query: r.today for r in records} == {"Text Sid hi": "2024-05-03", "Text Ed hi": DEFAULT_TODAY}
    assert found.rejected == {
        "invalid_tool_call": 1,
        "parsed_mismatch": 1,
        "no_plan_point": 1,
        "steps_after_join": 1,
        "duplicate_query": 1,
    }
    report = found.report()
    assert report["notes"] == {"today_missing": 1}
    assert set(report["rejected_examples"]) == set(found.rejected)
    assert report["joiner_examples"] == 2 and all(j["reply"].startswith("Thought") for j in found.joins)


def test_round_trip_and_the_test_file_is_the_test_split(tmp_path):
    train, test = _records(60, seed=1), _records(10, seed=2, start=100)
    train.append(dict(test[0], id="leak"))  # a training query that repeats a test query is dropped from train
    (tmp_path / "training_data.json").write_text(json.dumps({r["id"]: as_released(r) for r in train}))
    (tmp_path / "testing_data.json").write_text(json.dumps({r["id"]: as_released(r) for r in test}))
    found = import_released(tmp_path, Checker(), val=5, test=1000, seed=0, progress=False)
    assert len(found.records["test"]) == 10 and len(found.records["val"]) == 5
    assert found.rejected.get("duplicate_query", 0) >= 1
    by_query = {r["query"]: r["plan"] for r in train + test}
    for split, records in found.records.items():
        for r in records:
            assert r.plan == by_query[r.query] and r.split == split and r.teacher == "tinyagent"
    assert {r.query for r in found.records["test"]} == {r["query"] for r in test}
    assert not {r.query for r in found.records["train"]} & {r["query"] for r in test}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "is not JSON"),
        ("[1, 2]", "is not a TinyAgent data point"),
        ('"x"', "expected a JSON object"),
    ],
)
def test_a_file_of_another_format_is_a_clear_error(tmp_path, text, message):
    path = tmp_path / "training_data.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        read_released(path)


def test_cli_import_writes_the_splits_the_joiner_file_and_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    for name in ("WORKBENCH_PROFILE", "WB_QUICK"):  # restored after the test, whatever the CLI sets
        monkeypatch.setenv(name, os.environ.get(name, ""))
    records = _records(80, seed=5)
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "training_data.json").write_text(
        json.dumps({r["id"]: as_released(r) for r in records})
    )
    args = [
        "synth",
        "--profile",
        "smoke",
        "--import",
        "tinyagent",
        str(tmp_path / "in"),
        "--val",
        "4",
        "--test",
        "4",
        "--ood",
        "6",
    ]
    assert main(args) == 0
    counts = {s: len(read_jsonl(split_path(s), s)) for s in ("train", "val", "test", "ood")}
    assert counts == {"train": 72, "val": 4, "test": 4, "ood": 6}
    joins = read_jsonl(tmp_path / "data" / "tinyagent" / JOINER_FILE, "joins")
    assert len(joins) == 80 and {j["split"] for j in joins} == {"train", "val", "test"}
    report = json.loads((tmp_path / "data" / "results" / "synthesis.json").read_text())
    assert report["teacher"] == "imported (tinyagent)" and report["import"]["imported"]["train"] == 72
    assert "imported (tinyagent)" in capsys.readouterr().out
    tokenizer = AutoTokenizer.from_pretrained(bundled_planner())
    rows = joiner_rows(tokenizer, tmp_path / "data" / "tinyagent", max_length=1024)
    assert {k: len(v) for k, v in rows.items()} == {"train": 72, "val": 4}  # the loss on the reply only
    reply = tokenizer("Thought: Done.\nAction: Finish(Task completed!)", add_special_tokens=False)[
        "input_ids"
    ]
    assert [t for t in rows["train"][0]["labels"] if t != -100] == [*reply, tokenizer.eos_token_id]
    # the planner model trains on the join points beside the plans (a few real steps of the bundled planner)
    cfg = FinetuneConfig(
        train_joiner=True, train_records=8, val_records=4, batch_size=16, eval_every=2, train_examples=0,
        full_epochs=1, precision="fp32", progress=False, threads=1,
    )  # fmt: skip
    dataset = tmp_path / "data" / "tinyagent"
    report = finetune_method(cfg, "full", bundled_planner(), tmp_path / "planner", dataset)
    assert report["joiner_examples"] == 72 and report["steps"] == 5  # (8 plans + 72 joins) / 16
    assert (tmp_path / "planner" / "full" / "model" / "model.safetensors").exists()
    assert main(["synth", "--import", "tinyagent", str(tmp_path / "nowhere")]) == 1
