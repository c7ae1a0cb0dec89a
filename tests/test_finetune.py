"""Planner fine-tuning, hermetic: a tiny Llama and a tokenizer trained here exercise every path in seconds."""

import json
import random
import shutil

import pytest
import torch
from conftest import synthesized_workbench

from workbench.cli import main as cli
from workbench.compiler import prompts as planner_prompts
from workbench.finetune import base, prompts
from workbench.finetune.evaluate import evaluate, evaluate_files
from workbench.finetune.settings import FinetuneConfig
from workbench.finetune.tokenizer import train_tokenizer
from workbench.finetune.train import (
    base_id,
    begin,
    finetune,
    fits,
    lora_settings,
    mark,
    resolve_precision,
    run_trainer,
)
from workbench.metrics import score_plan
from workbench.plan import merge_repeated_calls, parse_plan
from workbench.planner import NO_TOOL_PLAN, Planner, resolve_toolrag, saved_plan_order
from workbench.planner.grammar import max_plan_bytes, query_spans
from workbench.stages.finetune import best_row, run
from workbench.synth.dataset import load_split
from workbench.toolrag.selection import toolrag_selector
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools

GOLD = '1. get_phone_number("Ana")\n2. get_phone_number("Bo")\n3. send_sms(["$1", "$2"], "late")\n4. join()<END_OF_PLAN>'


@pytest.fixture(scope="module")
def workbench_dir(tmp_path_factory):
    with synthesized_workbench(
        tmp_path_factory.mktemp("finetune"), train=300, val=30, test=10, ood=6
    ) as root:
        yield root


@pytest.fixture(scope="module")
def tokenizer(workbench_dir):
    docs = base.pretraining_corpus(load_split("train"), calendar=200, doc_repeats=2)
    return train_tokenizer(docs, vocab_size=320, whole_words=TOOL_NAMES)


TINY = dict(
    eval_val=4,
    vocab_size=320,
    hidden=32,
    layers=2,
    heads=2,
    intermediate=64,
    calendar_docs=200,
    train_records=300,
    val_records=30,
    batch_size=16,
    eval_every=5,
    eval_test=6,
    best_eval_test=10,  # the best variant, chosen on val, plans all 10 test records
    eval_ood=6,
    eval_human_dev=8,
    base_examples=1,
    latency_n=1,
    max_new_tokens=max_plan_bytes(tinyagent_tools(), 1, 4, 1),  # an untrained variant writes to its budget
    grammar_max_steps=1,
    grammar_max_str_len=4,
    grammar_max_list_len=1,
    lora_r=4,
    lora_alpha=8,
    progress=False,
    pretrain_lr=3e-3,
    lora_lr=3e-3,
    full_lr=3e-3,
)


def _gold_tools_selector():
    """A stand-in for the ToolRAG classifier (its own tests train the real one): each query's gold tools."""
    tools = {r["query"]: r["tools"] for split in ("val", "test", "ood") for r in load_split(split)}
    return lambda queries: [list(tools.get(q, TOOL_NAMES)) for q in queries]


@pytest.fixture(scope="module")
def stage_results(workbench_dir):
    mp = pytest.MonkeyPatch()
    mp.setattr("workbench.stages.finetune.toolrag_selector", lambda folder: _gold_tools_selector())
    yield run(FinetuneConfig(**TINY))
    mp.undo()


# ------------------------------------------------------------------------------------ tokenizer, corpus


def test_tokenizer_spells_unseen_names_and_splits_digits(tokenizer):
    text = 'send_sms(["$2"], "Zoë Ngũgĩ at 2024-06-12 09:30:00")'
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == text
    pieces = tokenizer.convert_ids_to_tokens(ids)
    assert "send_sms" in pieces, "tool names are whole tokens"
    assert all(len(p.lstrip("Ġ")) == 1 for p in pieces if p.lstrip("Ġ")[:1].isdigit()), "one token per digit"
    chat = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert chat == "<|user|>\nhi<|end|>\n<|assistant|>\n" and tokenizer.eos_token == "<|end|>"


def test_pretraining_corpus_has_no_plans(workbench_dir):
    records = load_split("train")
    docs = base.pretraining_corpus(records, calendar=300, doc_repeats=1)
    assert {r["query"] for r in records} <= set(docs)
    assert not any("join()" in d or '"$' in d or "<END_OF_PLAN>" in d for d in docs)
    assert any("weeks after" in d for d in docs) and any("24-hour clock" in d for d in docs)


# ------------------------------------------------------------------------------------ prompts


def test_training_example_puts_the_loss_on_the_plan_only(tokenizer):
    messages = planner_prompts.planner_chat(
        "Text Ana and Bo that I'm late", "2024-06-12", ["send_sms", "get_phone_number"]
    )
    ex = prompts.training_example(tokenizer, messages, GOLD)
    n_prompt = sum(1 for x in ex["labels"] if x == prompts.IGNORE)
    assert ex["input_ids"][:n_prompt] == prompts.prompt_ids(tokenizer, messages)
    target = ex["labels"][n_prompt:]
    assert target[-1] == tokenizer.eos_token_id and tokenizer.decode(target[:-1]) == GOLD


def test_grouped_targets_write_each_request_after_its_own_lookups(tokenizer):
    gold = (
        '1. get_phone_number("Ana")\n2. get_email_address("Bo")\n3. send_sms(["$1"], "late")\n'
        '4. compose_new_email(["$2"], [], "Late", "", [])\n5. join()<END_OF_PLAN>'
    )
    record = {
        "query": "Text Ana and email Bo that I'm late",
        "today": "2024-06-12",
        "tools": [],
        "plan": gold,
    }
    for order, second in (("gold", 'get_email_address("Bo")'), ("grouped", 'send_sms(["$1"], "late")')):
        ex = prompts.build_examples(tokenizer, [record], negatives=False, order=order)[0]
        target = tokenizer.decode([t for t in ex["labels"] if t != prompts.IGNORE][:-1])
        assert target == prompts.target_plan(gold, order) and target.splitlines()[1] == f"2. {second}"
        assert score_plan(target, gold)["argument_exact"] == 1.0  # the same DAG, arguments and all
    with pytest.raises(ValueError, match="unknown plan order 'random'"):
        prompts.target_plan(gold, "random")


def test_negatives_keep_every_needed_tool_in_canonical_order():
    rng = random.Random(0)
    sizes = set()
    for _ in range(300):
        tools = prompts.with_negatives(["send_sms", "get_phone_number"], rng)
        assert {"send_sms", "get_phone_number"} <= set(tools) and tools == planner_prompts.ordered(tools)
        sizes.add(len(tools))
    assert min(sizes) == 2 and max(sizes) == 16, "from no negatives to every tool"
    with pytest.raises(ValueError, match="unknown tool"):
        planner_prompts.ordered(["send_fax"])


def test_full_prompt_describes_only_the_given_tools():
    text = planner_prompts.system_prompt("2024-06-12", ["send_sms"], kind="full")
    assert "send_sms(" in text and "get_phone_number" not in text and "2024-06-12" in text


# ------------------------------------------------------------------------------------ metrics


def test_scores_of_typical_predictions():
    swapped = (
        GOLD.replace('"Ana"', "X")
        .replace('"Bo"', '"Ana"')
        .replace("X", '"Bo"')
        .replace('"$1", "$2"', '"$2", "$1"')
    )
    assert score_plan(GOLD, GOLD) == {
        "success": 1.0,
        "parse_failure": 0.0,
        "tool_recall": 1.0,
        "argument_exact": 1.0,
    }
    assert score_plan(swapped, GOLD)["argument_exact"] == 1.0, "the same plan in another step order"
    assert score_plan(GOLD.replace('"late"', '"later"'), GOLD)["argument_exact"] == 0.0
    wrong_tool = GOLD.replace("get_phone_number", "get_email_address", 1)
    assert (
        score_plan(wrong_tool, GOLD)["success"] == 0.0 and score_plan(wrong_tool, GOLD)["tool_recall"] == 1.0
    )
    assert score_plan("1. send_sms(", GOLD) == {
        "success": 0.0,
        "parse_failure": 1.0,
        "tool_recall": 0.0,
        "argument_exact": 0.0,
    }
    assert score_plan(GOLD.replace('"$1", "$2"', '"$1", "$4"'), GOLD)["parse_failure"] == 1.0
    assert evaluate([GOLD, "junk"], [GOLD, GOLD])["success"] == 0.5
    with pytest.raises(ValueError, match="pair them"):
        evaluate([GOLD], [])


def test_evaluate_files_matches_by_query_and_names_bad_lines(tmp_path):
    gold, pred = tmp_path / "gold.jsonl", tmp_path / "pred.jsonl"
    gold.write_text(
        json.dumps({"query": "a", "plan": GOLD}) + "\n" + json.dumps({"query": "b", "plan": GOLD}) + "\n"
    )
    pred.write_text(
        json.dumps({"query": "b", "plan": "nope"}) + "\n" + json.dumps({"query": "a", "plan": GOLD}) + "\n"
    )
    assert evaluate_files(str(pred), str(gold))["success"] == 0.5
    pred.write_text(json.dumps({"query": "a", "plan": GOLD}) + "\n")
    with pytest.raises(ValueError, match="no prediction"):
        evaluate_files(str(pred), str(gold))
    pred.write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1: not JSON"):
        evaluate_files(str(pred), str(gold))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        evaluate_files(str(tmp_path / "none.jsonl"), str(gold))


# ------------------------------------------------------------------------------------ training


def _tiny_rows(tokenizer, n=64):
    return prompts.build_examples(tokenizer, load_split("train", limit=n))


def test_training_resumes_from_the_last_complete_checkpoint(tokenizer, tmp_path):
    from transformers import TrainerCallback

    class Crash(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 5:
                raise KeyboardInterrupt("simulated kill")

    rows = _tiny_rows(tokenizer)
    model = base.small_llama(tokenizer, hidden=32, layers=1, heads=2, intermediate=64)
    with pytest.raises(KeyboardInterrupt):
        run_trainer(
            model,
            tokenizer,
            rows,
            rows[:8],
            tmp_path / "ckpt",
            lr=1e-3,
            epochs=2,
            batch_size=8,
            eval_every=2,
            progress=False,
            callbacks=[Crash()],
        )
    assert (tmp_path / "ckpt" / "checkpoint-4").exists()
    # Issue 21, defect 3: a kill during a checkpoint save left a folder that every rerun failed on ("Can't find a
    # valid checkpoint"). An empty one, and one whose trainer state (written last) is torn, are skipped and removed.
    (tmp_path / "ckpt" / "checkpoint-6").mkdir()
    shutil.copytree(tmp_path / "ckpt" / "checkpoint-4", tmp_path / "ckpt" / "checkpoint-5")
    state = tmp_path / "ckpt" / "checkpoint-5" / "trainer_state.json"
    state.write_text(state.read_text()[:40])
    result = run_trainer(
        base.small_llama(tokenizer, hidden=32, layers=1, heads=2, intermediate=64),
        tokenizer,
        rows,
        rows[:8],
        tmp_path / "ckpt",
        lr=1e-3,
        epochs=2,
        batch_size=8,
        eval_every=2,
        progress=False,
    )
    assert result["resumed_from"] == "checkpoint-4" and result["steps"] == 16
    assert (
        not (tmp_path / "ckpt" / "checkpoint-5").exists()
        and not (tmp_path / "ckpt" / "checkpoint-6").exists()
    )


def test_bf16_autocast_trains_and_keeps_float32_weights(tokenizer, tmp_path):
    rows = _tiny_rows(tokenizer, 32)
    model = base.small_llama(tokenizer, hidden=32, layers=1, heads=2, intermediate=64)
    result = run_trainer(
        model,
        tokenizer,
        rows,
        rows[:8],
        tmp_path / "ckpt",
        lr=1e-2,
        epochs=2,
        batch_size=8,
        eval_every=4,
        progress=False,
        precision="bf16",
    )
    losses = [e["loss"] for e in result["log"] if "loss" in e]
    assert result["precision"] == "bf16" and losses[-1] < losses[0]
    assert all(p.dtype == torch.float32 for p in result["model"].parameters())  # autocast, not a bf16 model
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp8")
    assert resolve_precision("auto") in ("bf16", "fp32")


def test_lora_merge_gives_the_adapted_model(tokenizer, tmp_path):
    base_dir = base.save_model(
        base.small_llama(tokenizer, hidden=32, layers=1, heads=2, intermediate=64),
        tokenizer,
        tmp_path / "base",
    )
    rows = _tiny_rows(tokenizer, 32)
    report = finetune(
        base_dir,
        "lora",
        rows,
        [],
        tmp_path / "lora",
        lr=1e-2,
        epochs=1,
        batch_size=8,
        eval_every=2,
        lora=lora_settings(4, 8, 0.0),
        progress=False,
    )
    assert report["trainable_parameters"] < report["parameters"] / 2
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    peft_model = PeftModel.from_pretrained(
        AutoModelForCausalLM.from_pretrained(base_dir), tmp_path / "lora" / "adapter"
    )
    merged = AutoModelForCausalLM.from_pretrained(tmp_path / "lora" / "model")
    plain = AutoModelForCausalLM.from_pretrained(base_dir)
    ids = torch.tensor([rows[0]["input_ids"]])
    with torch.no_grad():
        a, b, c = peft_model(ids).logits, merged(ids).logits, plain(ids).logits
    assert torch.allclose(a, b, atol=1e-4) and not torch.allclose(b, c, atol=1e-3)
    assert not (tmp_path / "lora" / "checkpoints").exists()


# ------------------------------------------------------------------------------------ the stage


@pytest.mark.slow
def test_stage_trains_and_evaluates_every_variant(stage_results, workbench_dir):
    r = stage_results
    variants = {row["variant"] for row in r["rows"]}
    decodings = {"base": ("", " + constrained"), "lora": ("", " + constrained", " + grounded")}
    decodings["full"] = decodings["lora"]  # grounded decoding is measured for the trained models
    assert variants == {
        f"{m}{t}{c}" for m in ("base", "lora", "full") for t in ("", " + ToolRAG") for c in decodings[m]
    }
    assert all(row["constrained"] for row in r["rows"] if row["grounded"])
    for row in r["rows"]:
        for key in (
            "success_val",
            "success_test",
            "success_ood",
            "argument_exact_test",
            "tool_recall_ood",
            "median_latency_s",
            "parameters",
            "wall_s",
            "train_tokens",
        ):
            assert key in row, (row["variant"], key)
    assert r["best_chosen_on"] == "val" and r["toolrag_rows"] == "measured"
    for key in (
        "best_variant",
        "best_success_test",
        "best_success_ood",
        "constrained_parse_failure_rate",
        "train_wall_s",
        "profile",
    ):
        assert key in r
    assert r["constrained_parse_failure_rate"] == 0.0
    assert r["human_dev_n"] == 8 and 0.0 <= r["best_success_human_dev"] <= 1.0
    assert set(r["error_breakdown"]) == {"human_dev", "test", "ood"}
    assert sum(r["error_breakdown"]["human_dev"].values()) == round(8 * (1 - r["best_success_human_dev"]))
    assert set(r["human_dev_success_by_tag"]) and all(t["n"] for t in r["human_dev_success_by_tag"].values())
    stages = r["training_wall_s_by_stage"]
    assert stages["lora"] > 0 and stages["full"] > 0 and stages["pretrain"] > 0
    assert r["training_wall_s_all_stages"] >= stages["lora"] + stages["full"] + stages["pretrain"]
    assert "cores" in r["cpu"]
    by_steps = r["best_success_by_steps"]["test"]
    assert r["rows"][0]["n_test"] == 6 and r["best_test_n"] == 10 == sum(b["n"] for b in by_steps.values())
    assert sum(r["error_breakdown"]["test"].values()) == round(10 * (1 - r["best_success_test"]))
    for row in r["rows"]:
        if row["constrained"]:
            assert row["parse_failure_test"] == 0.0 and row["parse_failure_ood"] == 0.0, row["variant"]
    art = workbench_dir / "artifacts" / "planner"
    assert (art / "lora" / "adapter" / "adapter_config.json").exists() and (art / "full" / "model").exists()
    pre = json.loads((art / "base" / "pretraining.json").read_text())
    losses = [e["loss"] for e in pre["log"] if "loss" in e]
    assert losses[-1] < losses[0], "pre-training lowers the loss"
    assert (workbench_dir / "figures" / "fig_success_rate.png").exists()
    assert (art / "tokenizer.json").exists(), "ToolRAG counts prompt tokens with the planner's tokenizer"
    assert r["plan_order"] == "grouped" and saved_plan_order(art / "full" / "model") == "grouped"


def test_a_leaked_human_dev_query_stops_the_stage_before_training(workbench_dir, tmp_path, monkeypatch):
    leaked = {"query": "yo text ana running late", "today": "2024-06-12", "plan": GOLD}
    monkeypatch.setattr("workbench.stages.finetune.load_human_dev", lambda: [leaked])
    train = load_split("train")
    monkeypatch.setattr(
        "workbench.stages.finetune.load_split",
        lambda split, limit=None, folder=None: (
            [*train, {**train[0], "query": "Yo, text Ana: running LATE!"}]
            if split == "train"
            else load_split(split, limit, folder)
        ),
    )
    monkeypatch.setattr(
        "workbench.stages.finetune.build_base", lambda *a: pytest.fail("trained despite a leak")
    )
    with pytest.raises(
        ValueError,
        match=r"1 queries of the human dev set .* occur in the training data.*'yo text ana running late'",
    ):
        run(FinetuneConfig(**TINY))


@pytest.mark.slow
def test_a_second_run_reuses_the_trained_models(stage_results, workbench_dir):
    art = workbench_dir / "artifacts" / "planner"
    before = {m: (art / m / "training.json").stat().st_mtime for m in ("lora", "full")}
    kept = {p.name: p.stat().st_mtime_ns for p in (art / "evaluations").iterdir()}
    again = run(FinetuneConfig(**TINY))
    assert before == {m: (art / m / "training.json").stat().st_mtime for m in ("lora", "full")}
    # every variant's evaluation is read back too (only the latencies are measured again)
    assert kept == {p.name: p.stat().st_mtime_ns for p in (art / "evaluations").iterdir()}
    assert [r["success_test"] for r in again["rows"]] == [r["success_test"] for r in stage_results["rows"]]


@pytest.mark.slow
def test_predict_and_evaluate_from_the_command_line(stage_results, workbench_dir, capsys):
    queries = workbench_dir / "q.jsonl"
    queries.write_text(
        "".join(json.dumps({"query": r["query"], "today": r["today"]}) + "\n" for r in load_split("test"))
    )
    out = workbench_dir / "p.jsonl"
    assert (
        cli(["predict", "--input", str(queries), "--output", str(out), "--constrained", "--toolrag", "none"])
        == 0
    )
    preds = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(preds) == len(load_split("test")) and all(
        parse_plan(p["plan"], tinyagent_tools()) for p in preds
    )
    gold = workbench_dir / "data" / "tinyagent" / "test.jsonl"
    assert cli(["evaluate", "--pred", str(out), "--gold", str(gold)]) == 0
    assert "parse failures 0.0000" in capsys.readouterr().out
    raw = workbench_dir / "raw.jsonl"  # the model's plans as decoded: the runtime's repairs turned off
    flags = ["--constrained", "--toolrag", "none", "--no-merge-repeats", "--no-recover-requests"]
    assert cli(["predict", "--input", str(queries), "--output", str(raw), *flags]) == 0
    raw_preds = [json.loads(line) for line in raw.read_text().splitlines()]
    assert len(raw_preds) == len(preds) and all(parse_plan(p["plan"]) for p in raw_preds)
    assert all(
        merge_repeated_calls(p["plan"], TOOL_NAMES) == p["plan"] for p in preds
    )  # repaired: no repeats


def test_missing_model_and_bad_input_are_clear_errors(workbench_dir, tmp_path, capsys):
    bad = tmp_path / "q.jsonl"
    bad.write_text(json.dumps({"text": "no query"}) + "\n")
    assert cli(["predict", "--input", str(bad), "--output", str(tmp_path / "o.jsonl"), "--model", "x"]) == 1
    assert 'needs a "query" (a non-empty string)' in capsys.readouterr().err
    bad.write_text(json.dumps({"query": "hi"}) + "\n")
    assert (
        cli(
            [
                "predict",
                "--input",
                str(bad),
                "--output",
                str(tmp_path / "o.jsonl"),
                "--model",
                str(tmp_path / "nope"),
            ]
        )
        == 1
    )
    assert "workbench finetune" in capsys.readouterr().err
    assert not (tmp_path / "o.jsonl").exists()


def test_an_unknown_plan_order_is_a_clear_error(workbench_dir):
    with pytest.raises(ValueError, match="unknown plan_order 'shuffled'"):
        run(FinetuneConfig(**{**TINY, "plan_order": "shuffled"}))


def test_toolrag_selector_is_optional_unless_named(tmp_path, workbench_dir):
    assert toolrag_selector(None) is None
    assert resolve_toolrag("auto", workbench_dir / "artifacts") is None, "none trained here: all tools"
    assert resolve_toolrag("none", workbench_dir / "artifacts") is None
    with pytest.raises(FileNotFoundError, match="workbench toolrag train"):
        toolrag_selector(tmp_path / "missing")


@pytest.mark.slow
def test_planner_uses_the_tools_it_is_given(stage_results, workbench_dir):
    planner = Planner.load(
        workbench_dir / "artifacts" / "planner" / "full" / "model",
        constrained=True,
        max_new_tokens=TINY["max_new_tokens"],
        grammar_limits={"max_steps": 1, "max_str_len": 4, "max_list_len": 1},
    )
    out = planner.plan(["Text Ana that I'm late"], ["2024-06-12"], tools=[["get_phone_number", "send_sms"]])
    used = {s.tool for s in parse_plan(out[0]["plan"]).steps if not s.is_join}
    assert used <= {"get_phone_number", "send_sms"}
    grounded = Planner.load(
        workbench_dir / "artifacts" / "planner" / "full" / "model",
        constrained=True,
        grounded=True,
        max_new_tokens=TINY["max_new_tokens"],
    )
    out = grounded.plan(
        ["Text Ana that I'm late", "What's the weather?"],
        ["2024-06-12"] * 2,
        tools=[["get_phone_number", "send_sms"], []],
    )
    names = [s.args[0] for s in parse_plan(out[0]["plan"]).steps if s.tool == "get_phone_number"]
    assert all(n.startswith("$") or n in query_spans("Text Ana that I'm late") for n in names), names
    assert out[1]["plan"] == NO_TOOL_PLAN and not out[1]["cut"], "no tool selected: a plan that calls none"
    with pytest.raises(ValueError, match="constrained=True"):
        Planner.load(workbench_dir / "artifacts" / "planner" / "full" / "model", grounded=True)


def test_changed_settings_never_reuse_a_model_or_its_checkpoints(tmp_path):
    planner = tmp_path / "planner"
    base_dir = planner / "base" / "model"
    base_dir.mkdir(parents=True)
    (base_dir.parent / "settings.json").write_text(json.dumps({"hidden": 32}))
    first = base_id(base_dir, planner)
    (base_dir.parent / "settings.json").write_text(json.dumps({"hidden": 64}))
    assert base_id(base_dir, planner) != first, "a retrained base changes what its fine-tunes depend on"
    folder = planner / "full"
    (folder / "checkpoints" / "checkpoint-4").mkdir(parents=True)
    begin(folder, {"lr": 1})
    assert not (folder / "checkpoints" / "checkpoint-4").exists(), (
        "checkpoints of unknown settings are dropped"
    )
    (folder / "checkpoints" / "checkpoint-8").mkdir()
    begin(folder, {"lr": 1})
    assert (folder / "checkpoints" / "checkpoint-8").exists(), "the same settings resume"
    (folder / "model").mkdir()
    (folder / "model" / "config.json").write_text("{}")
    mark(folder, {"lr": 1})
    assert fits(folder, {"lr": 1}) and not fits(folder, {"lr": 2})
    begin(folder, {"lr": 2})
    assert not fits(folder, {"lr": 1}), "a run in progress uncertifies the folder"
    assert not (folder / "checkpoints" / "checkpoint-8").exists()
    with pytest.raises(ValueError, match="unknown fine-tuning method"):
        run(FinetuneConfig(methods=["ful"]))


def test_the_best_variant_is_chosen_on_val_among_those_that_can_refuse():
    def row(variant, val, toolrag=False, constrained=False, grounded=False, model="full", fail=0.0):
        return {"variant": variant, "model": model, "success_val": val, "parse_failure_val": fail,
                "toolrag": toolrag, "constrained": constrained, "grounded": grounded}  # fmt: skip

    rows = [
        row("base + ToolRAG", 1.0, toolrag=True, model="base"),  # the untuned model is never chosen
        row("full", 0.9),
        row("full + grounded", 0.9, constrained=True, grounded=True),
        row("full + ToolRAG", 0.9, toolrag=True),
        row("full + ToolRAG + grounded", 0.9, toolrag=True, constrained=True, grounded=True),
        row("full + ToolRAG + constrained", 0.9, toolrag=True, constrained=True, fail=0.05),
    ]
    assert best_row(rows)["variant"] == "full + ToolRAG + grounded"  # a tie: grounded, and plans that parse
    rows[1]["success_val"] = 0.95  # better on val, but without ToolRAG it cannot select no tool
    assert best_row(rows)["variant"] == "full + ToolRAG + grounded"
    rows[3]["success_val"] = 0.92  # among the ToolRAG variants, val decides
    assert best_row(rows)["variant"] == "full + ToolRAG"
    no_toolrag = [r for r in rows if not r["toolrag"]]  # no classifier trained: the best on val of the rest
    assert best_row(no_toolrag)["variant"] == "full"


def test_planner_sizes_times_real_training_steps_and_writes_its_results(workbench_dir):
    import json

    from workbench import config
    from workbench.finetune.sizes import PlannerSizesConfig
    from workbench.stages.finetune import sizes

    cfg = PlannerSizesConfig(sizes="1m,minilm", records=12, batch_size=4, steps=1, budget_s=60, threads=1)
    results = sizes(cfg)
    rows = {r["size"]: r for r in results["rows"]}
    assert rows["1m"]["parameters"] < 2_000_000 < 20_000_000 < rows["minilm"]["parameters"]  # MiniLM is 22M
    for row in rows.values():
        assert row["step_s"] > 0 and row["tokens_per_s"] > 0
        # pairs_in_budget counts whole pairs (floor, so up to 1 below), and pairs_per_s is rounded to 2 places
        # (up to 0.005 a second either way, 0.3 over the 60 s budget)
        exact = row["pairs_per_s"] * 60
        assert exact - 1 - 0.3 - 1e-6 <= row["pairs_in_budget"] <= exact + 0.3 + 1e-6
    assert json.loads(config.results_path("planner_sizes").read_text())["rows"] == results["rows"]
    with pytest.raises(ValueError, match="unknown planner size '2b'"):
        sizes(PlannerSizesConfig(sizes="2b", records=12, batch_size=4, steps=1))
    with pytest.raises(ValueError, match="too few full batches"):
        sizes(PlannerSizesConfig(sizes="1m", records=4, batch_size=4, steps=1))


def test_training_wall_counts_toolrag_from_the_classifier_it_trained(tmp_path, monkeypatch):
    """ToolRAG's training time comes from the classifier's own history, so it counts before `toolrag eval`."""
    import json

    from workbench.stages.finetune import _training_wall

    monkeypatch.setenv("WORKBENCH_ARTIFACTS_DIR", str(tmp_path / "artifacts"))
    monkeypatch.setenv("WORKBENCH_DATA_DIR", str(tmp_path / "data"))
    folder = tmp_path / "artifacts" / "toolrag" / "classifier"
    folder.mkdir(parents=True)
    (folder / "history.json").write_text(json.dumps({"train_wall_s": 12.5}))
    out = _training_wall({"pretrain_wall_s": None}, {"full": {"wall_s": 2.0}})
    assert out["training_wall_s_by_stage"]["toolrag"] == 12.5
    assert out["training_wall_s_all_stages"] == 14.5  # no synthesis results in this data folder


@pytest.mark.parametrize("option", ["cover_tools", "exact_counts"])
def test_an_evaluation_kept_without_a_decoding_option_is_not_reused_with_it(option):
    from types import SimpleNamespace

    from workbench.finetune.evaluate import _result_key

    settings = dict(kind="compact", constrained=True, grounded=False, grammar_limits={}, max_new_tokens=8)
    settings |= dict(batch_size=1, merge_repeats=True, recover_requests=True, resolve_dates=True, select=None)
    records = [{"query": "q", "today": "2024-01-01", "plan": "1. join()<END_OF_PLAN>"}]
    off = _result_key(SimpleNamespace(**settings, **{option: False}), records, None, {})
    assert off == _result_key(SimpleNamespace(**settings), records, None, {})  # as kept before the option
    assert off != _result_key(SimpleNamespace(**settings, **{option: True}), records, None, {})


def test_an_evaluation_kept_from_an_earlier_reference_repair_is_redone():
    """Plans are kept after the runtime's repairs: a new version of the reference repair (or of the look-up
    binding) must not reuse them."""
    from types import SimpleNamespace

    from workbench.finetune.evaluate import _result_key
    from workbench.planner import Planner

    settings = dict(kind="compact", constrained=True, grounded=False, grammar_limits={}, max_new_tokens=8)
    settings |= dict(batch_size=1, merge_repeats=True, recover_requests=True, resolve_dates=True, select=None)
    records = [{"query": "q", "today": "2024-01-01", "plan": "1. join()<END_OF_PLAN>"}]

    def key(**kw):
        return _result_key(SimpleNamespace(**settings, **kw), records, None, {})

    now = key(type_references=True, reference_repair=Planner.reference_repair)
    assert now != key(type_references=True, reference_repair=Planner.reference_repair - 1)
    assert key(type_references=False, reference_repair=1) == key(type_references=False, reference_repair=2)
    # the same for the look-up binding
    bound = dict(type_references=True, reference_repair=Planner.reference_repair, bind_lookups=True)
    assert key(**bound, lookup_binding=Planner.lookup_binding) != key(**bound, lookup_binding=0)
    assert key(**bound, lookup_binding=Planner.lookup_binding) != now


def test_an_evaluation_under_exact_counts_is_redone_when_the_counts_change():
    """Exact-count plans follow the classifier's counts: a counter retrained to read otherwise, with the same
    selection, must not reuse them."""
    from types import SimpleNamespace

    import torch

    from workbench.finetune.evaluate import _result_key
    from workbench.toolrag.classifier import ToolRAGClassifier
    from workbench.toolrag.encoder import load_encoder

    classifier = ToolRAGClassifier(load_encoder("minilm"), count_head=True)
    with torch.no_grad():
        classifier.head.bias[0] = 10.0  # one tool selected for every query
    settings = dict(kind="compact", constrained=True, grounded=False, grammar_limits={}, max_new_tokens=8)
    settings |= dict(batch_size=1, merge_repeats=True, recover_requests=True, resolve_dates=True)
    records = [{"query": "Text Ana and Li", "today": "2024-01-01", "plan": "1. join()<END_OF_PLAN>"}]

    def key():
        return _result_key(
            SimpleNamespace(**settings, exact_counts=True, select=classifier.select), records, None, {}
        )

    before, selected = key(), classifier.select(["Text Ana and Li"])
    with torch.no_grad():
        classifier.count_head.bias[2::6] = 50.0  # every tool now read as called 3 times
    assert classifier.select(["Text Ana and Li"]) == selected and classifier.counts(["Text Ana and Li"])[
        0
    ] == {t: 3 for t in selected[0]}
    assert key() != before
