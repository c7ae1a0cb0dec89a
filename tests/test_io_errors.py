"""A user's files that are not what the workbench expects (issue 21): every error names the file, the line
where there is one, and what to fix; nothing ends in a traceback or in a silently wrong score."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from workbench.files import read_text, write_jsonl_atomic
from workbench.finetune.evaluate import evaluate_files, evaluate_splits, evaluate_variant
from workbench.jsonl import read_jsonl
from workbench.planner import predict_file

GOLD = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "hi")\n3. join()<END_OF_PLAN>'


def _lines(path: Path, rows: list[str]) -> Path:
    path.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    return path


# ------------------------------------------------------------------------------------ text and encodings


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b'{"query": "a"}\n\n{"query": "Jos\xe9"}\n', r"x.jsonl, line 3: not UTF-8 \(byte 0xe9 at byte 15"),
        ('{"query": "a"}\n'.encode("utf-16"), r"x.jsonl is UTF-16 .*save the file as UTF-8"),
        (b"\x00\x01\x02\x03", r"x.jsonl, line 1: a NUL byte"),
    ],
    ids=["latin-1", "utf-16", "binary"],
)
def test_a_file_that_is_not_utf8_is_named_with_its_line(tmp_path, data, expected):
    (tmp_path / "x.jsonl").write_bytes(data)
    with pytest.raises(ValueError, match=expected):
        read_jsonl(tmp_path / "x.jsonl")
    with pytest.raises(IsADirectoryError, match=f"{tmp_path} is a directory"):
        read_jsonl(tmp_path)


def test_read_text_drops_a_utf8_byte_order_mark(tmp_path):
    (tmp_path / "plan.txt").write_bytes("\ufeff1. join()".encode())
    assert read_text(tmp_path / "plan.txt") == "1. join()"
    with pytest.raises(FileNotFoundError, match="plan file .*none.txt does not exist"):
        read_text(tmp_path / "none.txt", "plan")


# ------------------------------------------------------------------------------ wrong-shaped JSON records


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"query": ["a"], "plan": "x"}', r'line 2: "query" must be a non-empty string, not a list'),
        ('{"query": "a", "plan": 3}', r'line 2: "plan" must be a string, not a number'),
        ('{"query": "\\ud800", "plan": "x"}', r'line 2: "query" holds a lone surrogate \(\\ud800\)'),
        ('{"query": ' + "[" * 100_000 + "]" * 100_000 + "}", r"line 2: nested too deeply"),
        (
            '{"query": "a", "plan": "x", "today": "tomorrow"}',
            r'line 2: "today" must be a date written YYYY-MM-DD',
        ),
        (
            '{"query": "a", "plan": "x", "today": "2024-02-30"}',
            r'line 2: "today" must be a date written YYYY-MM-DD',
        ),
    ],
    ids=["list-query", "int-plan", "lone-surrogate", "deep", "today-text", "today-no-such-day"],
)
def test_wrong_shaped_records_name_the_file_and_line(tmp_path, line, expected):
    path = _lines(tmp_path / "p.jsonl", [json.dumps({"query": "ok", "plan": GOLD}), line])
    with pytest.raises(ValueError, match=expected):
        read_jsonl(path)
    gold = _lines(tmp_path / "g.jsonl", [json.dumps({"query": "ok", "plan": GOLD})])
    with pytest.raises(ValueError, match=f"{path}, {expected}"):
        evaluate_files(str(path), str(gold))
    with pytest.raises(ValueError, match=f"{path}, {expected}"):
        evaluate_files(str(gold), str(path))


def test_a_huge_number_is_not_json_with_its_line(tmp_path):
    path = _lines(tmp_path / "p.jsonl", ['{"query": "a", "n": 1' + "0" * 5000 + "}"])
    with pytest.raises(ValueError, match="p.jsonl, line 1: not JSON"):
        read_jsonl(path)


# --------------------------------------------------------------------------------- evaluate's own input


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_evaluate_reads_what_predict_writes_whatever_the_query_holds(tmp_path, separator):
    rows = [{"query": f"Text Ana{separator}that I'm late", "plan": GOLD}, {"query": "b", "plan": GOLD}]
    pred = write_jsonl_atomic(tmp_path / "pred.jsonl", rows)  # as `workbench predict` writes it
    gold = write_jsonl_atomic(tmp_path / "gold.jsonl", rows)
    assert read_jsonl(pred) == rows
    assert evaluate_files(str(pred), str(gold)) == {
        "n": 2,
        "success": 1.0,
        "parse_failure": 0.0,
        "tool_recall": 1.0,
        "argument_exact": 1.0,
    }


def test_a_bad_gold_plan_names_the_gold_file_and_its_line(tmp_path):
    gold = _lines(
        tmp_path / "gold.jsonl",
        [json.dumps({"query": q, "plan": GOLD}) for q in "ab"]
        + ["", json.dumps({"query": "c", "plan": "1. nope("})],
    )
    pred = write_jsonl_atomic(tmp_path / "pred.jsonl", [{"query": q, "plan": GOLD} for q in "abc"])
    with pytest.raises(ValueError, match=rf"{gold}, line 4: the gold plan is not a valid plan \(line 1: "):
        evaluate_files(str(pred), str(gold))


def test_an_empty_gold_file_says_so(tmp_path):
    (tmp_path / "gold.jsonl").write_text("\n\n")
    pred = write_jsonl_atomic(tmp_path / "pred.jsonl", [{"query": "a", "plan": GOLD}])
    with pytest.raises(ValueError, match=f"the gold file {tmp_path / 'gold.jsonl'} is empty"):
        evaluate_files(str(pred), str(tmp_path / "gold.jsonl"))


def test_conflicting_duplicate_predictions_are_an_error_naming_the_lines(tmp_path):
    gold = write_jsonl_atomic(tmp_path / "gold.jsonl", [{"query": "a", "plan": GOLD}])
    pred = _lines(
        tmp_path / "pred.jsonl",
        [json.dumps({"query": "a", "plan": GOLD}), json.dumps({"query": "b", "plan": GOLD}), ""]
        + [json.dumps({"query": "a", "plan": "junk"})],
    )
    with pytest.raises(ValueError, match=rf"{pred}, lines 1 and 4: two different plans for the query 'a'"):
        evaluate_files(str(pred), str(gold))
    _lines(pred, [json.dumps({"query": "a", "plan": "junk"}), json.dumps({"query": "a", "plan": GOLD})])
    with pytest.raises(
        ValueError, match="lines 1 and 2"
    ):  # the order of the lines no longer decides the score
        evaluate_files(str(pred), str(gold))
    # the same plan twice (`workbench predict` on a gold file that repeats a query) is no ambiguity
    _lines(pred, [json.dumps({"query": "a", "plan": GOLD})] * 2)
    assert evaluate_files(str(pred), str(gold))["success"] == 1.0


# ------------------------------------------------------------------------------------------ predict


class _StubPlanner:
    """The parts of a `Planner` that `predict_file` uses: one token per character of the prompt."""

    def __init__(self, positions: int = 1024, max_new_tokens: int = 200):
        self.model = SimpleNamespace(config=SimpleNamespace(max_position_embeddings=positions))
        self.max_new_tokens = max_new_tokens
        self.planned: list[str] = []

    def tools_for(self, queries):
        return [["send_sms"] for _ in queries]

    def prompts(self, queries, todays, tools):
        return [[0] * (100 + len(q)) for q in queries]

    def plan(self, queries, todays=None, progress=False, tools=None):
        tools = tools if tools is not None else self.tools_for(queries)
        self.planned += queries
        return [{"query": q, "plan": GOLD, "tools": t} for q, t in zip(queries, tools, strict=True)]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"query": "a", "today": "12/06/2024"}', r'line 2: "today" must be a date written YYYY-MM-DD'),
        ('{"query": ["a"]}', r'line 2: "query" must be a non-empty string, not a list'),
        ('{"query": "  "}', r'line 2: "query" must be a non-empty string'),
        ('{"today": "2024-06-12"}', r'line 2: needs a "query"'),
        ('{"query": "\\udfff"}', r'line 2: "query" holds a lone surrogate'),
    ],
)
def test_predict_checks_its_input_before_loading_the_model(tmp_path, line, expected):
    path = _lines(tmp_path / "in.jsonl", ['{"query": "fine", "today": "2024-06-12"}', line])

    def load():
        raise AssertionError("the model was loaded before the input was checked")

    with pytest.raises(ValueError, match=f"{path}, {expected}"):
        predict_file(path, tmp_path / "out.jsonl", load, progress=False)
    assert not (tmp_path / "out.jsonl").exists()


def test_predict_refuses_a_query_past_the_model_context(tmp_path):
    path = _lines(tmp_path / "in.jsonl", ['{"query": "fine"}', "", json.dumps({"query": "x" * 60_000})])
    planner = _StubPlanner(positions=1024, max_new_tokens=200)
    with pytest.raises(
        ValueError,
        match=rf"{path}, line 3: the query is too long for the planner: its prompt takes 60,100 tokens, "
        r"leaving fewer than 64 of the model's 1,024 positions for the plan",
    ):
        predict_file(path, tmp_path / "out.jsonl", lambda: planner, progress=False)
    assert planner.planned == [] and not (tmp_path / "out.jsonl").exists()
    _lines(path, ['{"query": "fine"}', json.dumps({"query": "x" * 860})])  # 960 + 64 = 1,024: room for a plan
    assert predict_file(path, tmp_path / "out.jsonl", lambda: planner, progress=False) == 2
    assert read_jsonl(tmp_path / "out.jsonl") == [
        {"query": "fine", "plan": GOLD},
        {"query": "x" * 860, "plan": GOLD},
    ]


# ------------------------------------------------------------------------------ resumable evaluation


class _CountingPlanner(_StubPlanner):
    constrained = False
    kind, grounded, grammar_limits, batch_size = "compact", False, {}, 8

    def __init__(self):
        super().__init__()
        self.calls: list[list[str]] = []  # the queries of each `plan` call

    def plan(self, queries, *args, **kwargs):
        self.calls.append(list(queries))
        return super().plan(queries, *args, **kwargs)


def test_a_variant_evaluation_is_kept_and_read_back_while_its_inputs_are_the_same(tmp_path):
    records = [{"query": q, "today": "2024-06-12", "plan": GOLD} for q in "ab"]
    cache = tmp_path / "evaluations" / "base.test.json"
    planner = _CountingPlanner()
    first = evaluate_variant(planner, records, None, cache=cache, depends_on={"model": "m1"})
    assert planner.planned == ["a", "b"] and first["success"] == 1.0 and cache.is_file()
    assert not [p for p in cache.parent.iterdir() if p.name != cache.name]  # no temporary file left
    again = evaluate_variant(planner, records, None, cache=cache, depends_on={"model": "m1"})
    assert again == first and planner.planned == ["a", "b"]  # read back, not planned again
    evaluate_variant(planner, records, None, cache=cache, depends_on={"model": "m2"})  # another model
    evaluate_variant(planner, records[:1], None, cache=cache, depends_on={"model": "m2"})  # other records
    planner.max_new_tokens = 100  # other decoding settings
    evaluate_variant(planner, records[:1], None, cache=cache, depends_on={"model": "m2"})
    assert planner.planned == ["a", "b", "a", "b", "a", "a"]
    cache.write_text("{torn")  # an unreadable cache is evaluated again
    evaluate_variant(planner, records[:1], None, cache=cache, depends_on={"model": "m2"})
    assert planner.planned[-1] == "a" and len(planner.planned) == 7


def test_the_splits_of_a_variant_are_planned_in_one_call_and_kept_per_split(tmp_path):
    splits = {
        "val": [{"query": "v", "today": "2024-06-12", "plan": GOLD}],
        "test": [{"query": q, "today": "2024-06-12", "plan": GOLD} for q in "ab"],
    }
    caches = {name: tmp_path / f"base.{name}.json" for name in splits}
    planner = _CountingPlanner()
    first = evaluate_splits(planner, splits, None, caches=caches, depends_on={"model": "m1"})
    assert planner.calls == [["v", "a", "b"]]  # one call for both splits
    assert first["val"]["n"] == 1 and first["test"]["n"] == 2
    assert [p["query"] for p in first["test"]["preds"]] == ["a", "b"]
    assert first == {
        name: evaluate_variant(planner, recs, None, cache=caches[name], depends_on={"model": "m1"})
        for name, recs in splits.items()
    }  # each split kept on its own, the way evaluate_variant reads it back
    caches["val"].unlink()  # a stage killed after the test split: only val is planned again
    evaluate_splits(planner, splits, None, caches=caches, depends_on={"model": "m1"})
    assert planner.calls[-1] == ["v"] and len(planner.calls) == 2
    tools = {"val": [["send_sms"]], "test": [["send_sms"], ["open_note"]]}
    evaluate_splits(planner, splits, tools, caches=caches, depends_on={"model": "m1"})  # other tools: planned
    assert planner.calls[-1] == ["v", "a", "b"]
