"""ToolRAG: the offline MiniLM encoder, basic RAG, the tool classifier, example retrieval, Table 1."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import numpy as np
import pytest
import torch
from conftest import synthesized_workbench

from workbench.plan import parse_plan
from workbench.stages import toolrag as toolrag_stage
from workbench.synth.dataset import load_split, split_path
from workbench.toolrag import (
    BasicRAG,
    EncoderError,
    ExampleRetriever,
    ToolRAGClassifier,
    ToolRAGConfig,
    load_encoder,
)
from workbench.toolrag.classifier import MAX_COUNT, count_targets, select_from_probabilities, targets
from workbench.toolrag.encoder import HFEncoder, minilm_path
from workbench.tools.tinyagent import TOOL_NAMES


@pytest.fixture(scope="module")
def encoder():
    return load_encoder("minilm")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """A small synthesized dataset and the classifier the stage trains on it (once for the whole module, with
    out-of-scope negatives and two passes: enough to reject queries no tool serves), in a temporary workbench."""
    with synthesized_workbench(
        tmp_path_factory.mktemp("toolrag"), train=1000, val=60, test=60, ood=20, report_sample=20
    ) as root:
        cfg = ToolRAGConfig(  # the quick profile's rate and tool weight, made for so few steps
            max_train=600, out_of_scope=150, epochs=2, eval_every=10, max_val=60, basic_examples=200,
            lr=5e-4, pos_weight=3.0,
        )  # fmt: skip
        results = toolrag_stage.run(cfg)
        saved = root / "artifacts" / "toolrag" / "classifier"  # where the stage keeps it
        history = json.loads((saved / "history.json").read_text())
        yield root, cfg, ToolRAGClassifier.load(saved), history, results


def test_minilm_ships_in_a_pip_package_and_embeds_offline(encoder):
    assert (minilm_path() / "model.safetensors").exists()
    v = encoder.embed(
        ["Email Ana the slides", "Send Ana the slides by email", "Remind me to water the plants"]
    )
    assert v.shape == (3, 384) and np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2, "paraphrases are closer than unrelated requests"


def test_odd_inputs_give_defined_results(encoder):
    v = encoder.embed(["", "word " * 5000, "Envoie un e-mail à Zoë à propos du budget", "送信してください"])
    assert v.shape == (4, 384) and np.isfinite(v).all()
    assert encoder.embed([]).shape == (0, 384)


def test_missing_or_broken_encoder_folders_are_clear_errors(tmp_path):
    with pytest.raises(EncoderError, match="does not exist"):
        load_encoder(str(tmp_path / "nope"))
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(EncoderError, match="incomplete: model weights"):
        HFEncoder(tmp_path / "broken")
    with pytest.raises(FileNotFoundError, match="workbench toolrag train"):
        ToolRAGClassifier.load(tmp_path)


def test_basic_rag_top_k(encoder):
    rag = BasicRAG(encoder)
    picks = rag.select(["Text Ana that I'm running late", "Show me the Golden Gate Bridge on the map"], k=3)
    assert "send_sms" in picks[0] and "maps_open_location" in picks[1]
    assert len(rag.select(["x"], k=16)[0]) == 16
    with pytest.raises(ValueError, match="k must be between 1 and 16"):
        rag.select(["x"], k=0)


def test_basic_rag_from_examples(encoder):
    rows = [
        {"query": "text Bo that dinner is at 7", "tools": ["get_phone_number", "send_sms"]},
        {"query": "open my grocery note", "tools": ["open_note"]},
    ]
    rag = BasicRAG(
        encoder,
        mode="examples",
        train_queries=[r["query"] for r in rows],
        train_tools=[r["tools"] for r in rows],
    )
    assert set(rag.select(["send a text to Ana saying hi"], k=2)[0]) == {"get_phone_number", "send_sms"}


def test_targets_and_selection():
    y = targets([["send_sms", "get_phone_number"], []])
    assert y.shape == (2, 16) and y[0].sum() == 2 and y[1].sum() == 0
    probs = np.zeros((2, 16))
    probs[0, TOOL_NAMES.index("send_sms")] = 0.9
    probs[1, TOOL_NAMES.index("open_note")] = 0.3  # nothing above 0.5: no tool serves this query
    assert select_from_probabilities(probs, 0.5) == [["send_sms"], []]
    assert select_from_probabilities(probs, 0.2) == [["send_sms"], ["open_note"]]
    # a floor under the threshold: no tool only where every tool is at most the floor
    probs[1, TOOL_NAMES.index("create_note")] = 0.2
    assert select_from_probabilities(probs, 0.5, 0.25) == [["send_sms"], ["open_note"]]
    assert select_from_probabilities(probs, 0.5, 0.3) == [["send_sms"], []]
    assert select_from_probabilities(np.zeros((1, 16)), 0.5, 0.0) == [[]]
    with pytest.raises(ValueError, match="refuse_below"):
        select_from_probabilities(probs, 0.5, 0.6)


def test_count_targets_read_each_tool_s_calls_and_ignore_the_rest():
    plan = '1. get_email_address("Ana")\n2. get_email_address("Li")\n3. compose_new_email(["$1", "$2"], [], "Hi", "", [])\n4. join()<END_OF_PLAN>'
    many = "\n".join(f'{i}. open_note("n{i}", "")' for i in range(1, 9)) + "\n9. join()<END_OF_PLAN>"
    y = count_targets([plan, None, many])
    email, compose, note = (
        TOOL_NAMES.index(t) for t in ("get_email_address", "compose_new_email", "open_note")
    )
    assert y[0, email] == 1 and y[0, compose] == 0 and (y[0] == -1).sum() == 14  # class = calls - 1
    assert (y[1] == -1).all(), "no plan (an out-of-scope query): no count to learn"
    assert y[2, note] == MAX_COUNT - 1, "more calls than the head has classes read as the most"


def test_classifier_trains_saves_and_loads(data):
    root, cfg, model, history, _ = data
    saved = root / "artifacts" / "toolrag" / "classifier"
    assert {p.name for p in saved.iterdir()} >= {
        "encoder",
        "head.pt",
        "count_head.pt",
        "toolrag.json",
        "history.json",
    }
    losses = history["train_loss"]
    assert np.mean(losses[-3:]) < np.mean(losses[:3]), "the training loss goes down"
    probs = model.probabilities(["Text Ana that I'm late", ""])
    assert probs.shape == (2, 16) and ((probs >= 0) & (probs <= 1)).all()
    meta = json.loads((saved / "toolrag.json").read_text())
    best = max(history["val"], key=lambda v: v["recall"] - 0.01 * v["avg_tools"])
    assert meta["saved_at_step"] == best["step"], "the checkpoint kept is the best one on val"
    # a save/load round trip keeps the weights (of a second copy, perturbed so that they differ from the file;
    # the module's classifier stays as trained)
    perturbed = ToolRAGClassifier.load(saved)
    with torch.no_grad():
        perturbed.head.bias.add_(0.5)
    copy = root / "copy"
    perturbed.save(copy, cfg, history)
    assert np.allclose(
        ToolRAGClassifier.load(copy).probabilities(["Text Ana that I'm late"]),
        perturbed.probabilities(["Text Ana that I'm late"]),
        atol=1e-5,
    )
    assert not np.allclose(
        perturbed.probabilities(["Text Ana"]), model.probabilities(["Text Ana"]), atol=1e-3
    )
    odd = model.select(["", "x" * 20000, "Envoie un SMS à Zoë"])  # defined results; "no tool" is one of them
    assert len(odd) == 3 and all(isinstance(s, list) and set(s) <= set(TOOL_NAMES) for s in odd)
    assert meta["labels"] == list(TOOL_NAMES) and meta["threshold"] == 0.5
    queries = [r["query"] for r in load_split("val")[:20]]
    counts = ToolRAGClassifier.load(copy).counts(queries)  # the count head is saved and read back too
    assert counts == perturbed.counts(queries)
    assert [sorted(c) for c in counts] == [sorted(s) for s in perturbed.select(queries)]
    assert all(1 <= n <= MAX_COUNT for c in counts for n in c.values())
    # the refusal floor is a selection setting: saved from the config that trained the classifier (training
    # never reads it), and set afterwards in the saved classifier, which a new load reads back
    perturbed.save(copy, replace(cfg, refuse_below=0.25), history)
    assert ToolRAGClassifier.load(copy).refuse_below == 0.25
    low = ["what's the weather in Oslo", "Text Ana that I'm late"]
    best = ToolRAGClassifier.load(copy).probabilities(low).max(1)
    floor = float(best.min()) / 2
    again = ToolRAGClassifier.load(copy)
    again.set_selection(copy, 1.0, floor)  # nothing passes the threshold: each query its most likely tool
    picked = ToolRAGClassifier.load(copy).select(low)
    assert [len(p) for p in picked] == [1, 1] and picked == again.select(low)
    assert [sorted(c) for c in ToolRAGClassifier.load(copy).counts(low)] == picked  # counts as selected
    again.set_selection(copy, 1.0, 1.0)
    assert ToolRAGClassifier.load(copy).select(low) == [[], []]
    with pytest.raises(ValueError, match="refuse_below"):
        again.set_selection(copy, 0.5, 0.9)


def test_the_count_head_learns_how_many_calls_a_plan_makes(data):
    """The count head's own loss goes down, and its reading of val is recorded. (This module's 38 steps are too
    few for it to beat reading "once"; the offline run's head reads every call of 0.93 of val plans.)"""
    *_, model, history, _ = data
    counted = history["train_count_loss"]
    assert len(counted) == len(history["train_loss"]), "every batch has in-scope queries to count"
    assert np.mean(counted[-5:]) < 0.8 * np.mean(counted[:5]), counted
    assert 0.0 <= history["val"][-1]["calls_exact"] <= 1.0
    with torch.inference_mode():
        logits = model._count_logits(model._pooled(["Text Ana and Li", "Email Bo"]))
    assert logits.shape == (2, len(TOOL_NAMES), MAX_COUNT)


def test_a_classifier_without_a_count_head_says_how_to_get_one(data, tmp_path):
    root, cfg, model, history, _ = data
    plain = ToolRAGClassifier(model.encoder, model.threshold)  # as trained before the count head
    plain.head.load_state_dict(model.head.state_dict())
    plain.save(tmp_path / "plain", ToolRAGConfig(**{**cfg.__dict__, "count_weight": 0.0}), history)
    loaded = ToolRAGClassifier.load(tmp_path / "plain")
    assert loaded.count_head is None and loaded.select(["Text Ana"]) == model.select(["Text Ana"])
    with pytest.raises(EncoderError, match="without a count head"):
        loaded.counts(["Text Ana"])


def test_a_counter_trained_apart_reads_the_counts_and_leaves_the_selection_alone(data, tmp_path):
    """With `counter_records`, selection trains as without a count loss, and a copy of it, trained on, counts."""
    root, cfg, *_ = data
    small = replace(
        cfg, max_train=96, out_of_scope=32, epochs=1, eval_every=2, max_val=20, counter_records=64
    )
    train, val = load_split("train"), load_split("val")
    model, history = ToolRAGClassifier.train(small, train, val, tmp_path / "apart", progress=False)
    assert (tmp_path / "apart" / "counter" / "count_head.pt").exists()
    assert not (tmp_path / "apart" / "count_head.pt").exists()
    assert model.count_head is None and model.counter is not None and model.counted
    assert history["counter"]["n_train"] == 64 and history["counter"]["steps"] == 2
    assert history["train_wall_s"] > history["counter"]["train_wall_s"] > 0
    assert 0.0 <= history["counter"]["calls_exact_val"] <= 1.0
    queries = [r["query"] for r in val[:20]]
    counts = model.counts(queries)  # the classifier's tools, the counter's counts
    assert [sorted(c) for c in counts] == [sorted(s) for s in model.select(queries)]
    with torch.inference_mode():
        read = (model.counter._count_logits(model.counter._pooled(queries)).argmax(-1) + 1).numpy()
    assert all(n == read[i, TOOL_NAMES.index(t)] for i, c in enumerate(counts) for t, n in c.items())
    assert ToolRAGClassifier.load(tmp_path / "apart").counts(queries) == counts  # saved and read back
    plain, _ = ToolRAGClassifier.train(
        replace(small, count_weight=0.0, counter_records=0), train, val, tmp_path / "plain", progress=False
    )
    assert np.allclose(plain.probabilities(queries), model.probabilities(queries), atol=1e-5), (
        "the count loss never reaches the selection"
    )


def test_a_counter_from_the_base_encoder_learns_as_the_shared_head_does_on_weights_of_its_own(data, tmp_path):
    """`counter_from="base"`: the counter is the shared-head classifier trained on the counter's records (no
    out-of-scope ones), so its counts are that classifier's; a value other than the two is refused up front."""
    root, cfg, *_ = data
    small = replace(cfg, max_train=64, out_of_scope=32, epochs=1, eval_every=2, max_val=20)
    train, val = load_split("train"), load_split("val")
    with pytest.raises(ValueError, match="counter_from is 'scratch'"):
        ToolRAGClassifier.train(
            replace(small, counter_records=64, counter_from="scratch"), train, val, tmp_path / "x"
        )
    assert not (tmp_path / "x").exists()
    model, _ = ToolRAGClassifier.train(
        replace(small, counter_records=64, counter_from="base"), train, val, tmp_path / "base", progress=False
    )
    shared, _ = ToolRAGClassifier.train(
        replace(small, out_of_scope=0, eval_every=2), train, val, tmp_path / "shared", progress=False
    )
    queries = [r["query"] for r in val[:20]]
    with torch.inference_mode():
        mine = model.counter._count_logits(model.counter._pooled(queries))
        theirs = shared._count_logits(shared._pooled(queries))
    assert torch.allclose(mine, theirs, atol=1e-5)
    assert model.count_head is None and ToolRAGClassifier.load(tmp_path / "base").counter is not None


def _planned_under_counts(planner, rows) -> int:
    """How many of `rows` the planner decoded under the count head's counts; each such plan calls exactly those."""
    out = planner.plan([r["query"] for r in rows], [r["today"] for r in rows])
    held = 0
    for r, p in zip(rows, out, strict=True):
        if calls := planner.calls(p["tools"], r["query"]):
            assert Counter(parse_plan(p["plan"]).tools) == calls, (calls, p["plan"])
            held += 1
    return held


def test_the_planner_decodes_exactly_the_calls_the_count_head_reads(data):
    from workbench.finetune.bundled import bundled_planner
    from workbench.planner import Planner

    root, *_ = data
    saved = root / "artifacts" / "toolrag" / "classifier"
    options = dict(constrained=True, merge_repeats=False, recover_requests=False)  # the model's plans alone
    planner = Planner.load(bundled_planner(), toolrag=saved, exact_counts=True, **options)
    assert _planned_under_counts(planner, load_split("test")[:8]) >= 6, (
        "most queries are planned under their counts"
    )
    with pytest.raises(ValueError, match="count head"):
        Planner.load(bundled_planner(), toolrag=None, exact_counts=True, **options).plan(["Text Ana hi"])


def test_table_2_decodes_with_the_count_head_where_the_best_variant_did(data, tmp_path):
    """The quantized planner decodes as the best variant was measured: under the counted grammar (GBNF, in
    llama.cpp's sampler) when the classifier has a count head, and without it otherwise."""
    from workbench.finetune.bundled import bundled_planner
    from workbench.quantize import row_decoding

    root, _, classifier, *_ = data
    best = {"constrained": True, "grounded": False, "exact_counts": True}
    assert row_decoding(best, classifier.select)["exact_counts"]
    assert not row_decoding(best, None)["exact_counts"], "no classifier: no counts to decode under"
    assert not row_decoding({**best, "constrained": False}, classifier.select)["exact_counts"]
    pytest.importorskip("llama_cpp", reason="the GGUF extra is not installed: `make gguf`")
    from workbench.planner import GGUFPlanner
    from workbench.quantize_gguf import build_gguf

    path = build_gguf(bundled_planner(), tmp_path)["Q4_0"]
    planner = GGUFPlanner.load(path, **row_decoding(best, classifier.select), recover_requests=False)
    planner.select, planner.merge_repeats = classifier.select, False
    held = _planned_under_counts(planner, load_split("test")[:4])
    planner.engine.close()
    assert held >= 3, "most queries are planned under their counts"


@pytest.mark.slow
def test_queries_no_tool_serves_are_rejected_and_the_agent_says_so(data):
    """Trained with out-of-scope negatives, the classifier selects no tool for out-of-scope templates and topics
    it never saw, while it still selects tools for in-scope queries; the agent then answers without planning."""
    import asyncio

    from workbench.agent import TinyAgent
    from workbench.llm import ScriptedLLM
    from workbench.synth.out_of_scope import out_of_scope_queries

    _, _, model, *_ = data
    test = [r["query"] for r in load_split("test")]
    unseen = out_of_scope_queries(60, seed=7, held_out=True)
    rejected = sum(not s for s in model.select(unseen)) / len(unseen)
    kept = sum(bool(s) for s in model.select(test)) / len(test)
    assert rejected >= 0.7 and kept >= 0.75, (rejected, kept)  # offline profile: 0.92 and 1.00 (toolrag.json)
    llm = ScriptedLLM(
        ['1. create_calendar_event("Weather", "", "", "", [], "", None)\n2. join()<END_OF_PLAN>']
    )
    result = asyncio.run(
        TinyAgent(llm, select=model.select).run("What's the weather in Paris tomorrow?", "2024-06-12")
    )
    assert not result.served and "ToolRAG selected none" in result.answer and llm.calls == []


def test_example_retrieval_respects_the_selected_tools(data, encoder):
    root, *_ = data
    train = load_split("train")[:300]  # embedding the whole split would test nothing more
    retriever = ExampleRetriever(encoder, train)
    tools = ["get_phone_number", "send_sms"]
    picked = retriever.retrieve("Text Ana that the meeting moved", tools, k=3)
    assert picked and all(set(r["tools"]) <= set(tools) for r in picked)
    assert retriever.retrieve("Text Ana that the meeting moved", tools, k=3) == picked
    assert retriever.query_vector.cache_info().hits == 1, "a query planned again is not embedded again"
    cache = list((root / "artifacts" / "toolrag" / "cache").glob("examples-*.npy"))
    assert len(cache) == 1
    assert np.allclose(ExampleRetriever(encoder, train).vectors, retriever.vectors)  # loaded from the cache


def test_stage_writes_results_and_table(data):
    root, *_, r = data
    for key in (
        "classifier_recall_test",
        "classifier_avg_tools_test",
        "classifier_recall_ood",
        "basic_recall_at_k_test",
        "prompt_tokens_reduction_test",
        "train_wall_s",
        "classifier_calls_exact_ood",
    ):
        assert key in r
    assert r["basic_recall_at_k_test"]["16"] == 1.0 and r["prompt_tokens_reduction_test"] > 1.0
    assert r["basic_examples_recall_at_k_test"]["16"] == 1.0
    ex = r["basic_examples_recall_at_k_test"]
    assert all(ex[str(k)] <= ex[str(k + 1)] for k in range(1, 16)), "recall grows with k"
    assert 0.0 <= r["classifier_recall_test"] <= 1.0
    assert r["out_of_scope"]["n"] == 300 and 0.0 <= r["out_of_scope"]["rejected"] <= 1.0
    assert 0.0 <= r["classifier_no_tool_test"] <= 1.0
    table = (root / "figures" / "table1_toolrag.md").read_text()
    assert "ToolRAG classifier (reported)" in table and "measured" in table
    saved = json.loads((root / "data" / "results" / "toolrag.json").read_text())
    assert saved["classifier_recall_test"] == r["classifier_recall_test"]


def test_a_saved_classifier_is_reused_only_for_the_same_data_and_settings(data):
    root, cfg, *_ = data
    assert toolrag_stage.saved_classifier_fits(cfg)
    assert not toolrag_stage.saved_classifier_fits(ToolRAGConfig(**{**cfg.__dict__, "lr": cfg.lr * 2}))
    assert not toolrag_stage.saved_classifier_fits(ToolRAGConfig(**{**cfg.__dict__, "pos_weight": 1.5}))
    assert not toolrag_stage.saved_classifier_fits(replace(cfg, counter_records=100))
    meta_path = root / "artifacts" / "toolrag" / "classifier" / "toolrag.json"
    meta = meta_path.read_text()
    try:  # saved before `pos_weight` existed: trained with its default, so still a fit
        old = json.loads(meta)
        del old["config"]["pos_weight"]
        meta_path.write_text(json.dumps(old))
        assert toolrag_stage.saved_classifier_fits(cfg) == (cfg.pos_weight == 1.0)
        del old["config"]["count_weight"], old["count_classes"]  # saved before the count head: retrained
        meta_path.write_text(json.dumps(old))
        assert not toolrag_stage.saved_classifier_fits(cfg)
    finally:
        meta_path.write_text(meta)
    path = split_path("val")
    original = path.read_bytes()
    try:
        path.write_bytes(original + original[: original.index(b"\n") + 1])  # the data changed
        assert not toolrag_stage.saved_classifier_fits(cfg)
    finally:
        path.write_bytes(original)
    assert toolrag_stage.saved_classifier_fits(cfg)
