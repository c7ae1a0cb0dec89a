"""Benchmark runner (LLMCompiler Sec. 5.1-5.2): scoring, JSONL store, resuming, ReAct, streaming, real client.

The "models" here are scripted: their replies are computed from the prompt (which question, which
observations came back), so that the runner's plumbing is tested on real benchmark questions with a small
offline docstore. No accuracy measured here is a model's.
"""

from __future__ import annotations

import asyncio
import dataclasses
import doctest
import json
import math
import re
from pathlib import Path
from typing import Any

import pytest

from workbench import config
from workbench.bench import examples as bench_examples
from workbench.bench import runner
from workbench.bench.cost import cost_usd
from workbench.bench.examples import JOINS, PLANS, REACT, benchmark_tools, examples_for
from workbench.bench.runner import (
    BenchRunConfig,
    StoreWarning,
    evaluate,
    format_summary,
    read_store,
    run_benchmark,
)
from workbench.bench.wiki import LocalDocstore
from workbench.compiler.joiner import parse_joiner_output
from workbench.compiler.react import parse_action
from workbench.llm import LLMError, ScriptedLLM
from workbench.llm.base import Message, count_tokens
from workbench.llm.testing import FakeChatServer, Reply
from workbench.plan import parse_plan

MIRROR = Path(config.repo_root()).parent / "shared" / "datasets"
needs_mirror = pytest.mark.skipif(
    not (MIRROR / "llmcompiler").is_dir(),
    reason=f"the LLMCompiler dataset mirror {MIRROR / 'llmcompiler'} is absent (it is not part of the repo)",
)
PAGES = {
    "Scott Derrickson": "Scott Derrickson is an American director, screenwriter and producer.",
    "Ed Wood": "Edward Davis Wood Jr. was an American filmmaker, actor and author.",
    "Laleli Mosque": "The Laleli Mosque is an 18th-century Ottoman imperial mosque in Laleli, Fatih, Istanbul.",
    "Esma Sultan Mansion": "The Esma Sultan Mansion is a historical yali on the Bosphorus in Ortakoy, Istanbul.",
    "Local H": "Local H is an American rock band from Zion, Illinois.",
    "For Against": "For Against is an American post-punk band from Lincoln, Nebraska.",
    "Random House Tower": "Random House Tower is a mixed-use tower in Manhattan, New York City.",
    "888 7th Avenue": "888 7th Avenue is an office skyscraper in Midtown Manhattan.",
    "Mariana Trench": "The Mariana Trench is in the western Pacific Ocean. Its deepest point is 10,994 m deep.",
    "Puerto Rico Trench": "The Puerto Rico Trench is in the Atlantic Ocean. Its deepest point is 8,376 m deep.",
}

# The first four HotpotQA questions of the released file: (entities searched, the scripted final answer).
# The Laleli answer is deliberately wrong (gold "no"); Local H first searches a title the docstore lacks.
HOTPOT = {
    "Were Scott Derrickson and Ed Wood of the same nationality?": (["Scott Derrickson", "Ed Wood"], "yes"),
    "Are the Laleli Mosque and Esma Sultan Mansion located in the same neighborhood?": (
        ["Laleli Mosque", "Esma Sultan Mansion"],
        "yes",
    ),
    "Are Local H and For Against both from the United States?": (["Local H", "For Against"], "Yes."),
    "Are Random House Tower and 888 7th Avenue both used for real estate?": (
        ["Random House Tower", "888 7th Avenue"],
        "no",
    ),
}
FIRST_TRY = {"For Against": "For Against (band)"}  # not a page: the joiner must ask for a replan
LALELI = "Laleli Mosque"


def _query(messages: list[Message]) -> str:
    user = messages[-1]["content"]
    assert user.startswith("Query: ")
    return user[len("Query: ") :].split("\n\n")[0]


def _plan(entities: list[str], first_try: bool) -> str:
    names = [FIRST_TRY.get(e, e) if first_try else e for e in entities]
    lines = ["Thought: The searches are independent."]
    lines += [f'{i}. search("{name}")' for i, name in enumerate(names, 1)]
    return "\n".join(lines + [f"{len(names) + 1}. join()<END_OF_PLAN>"])


def hotpot_model(messages: list[Message]) -> str:
    """Planner, joiner and ReAct for the HOTPOT questions, chosen by the system prompt."""
    system, user = messages[0]["content"], messages[-1]["content"]
    entities, answer = HOTPOT[_query(messages)]
    if system.startswith("Write a plan"):
        replanning = "A previous plan was run" in user
        if replanning:
            entities = [e for e in entities if e in FIRST_TRY]
        return _plan(entities, first_try=not replanning)
    if system.startswith("You answer a user's query"):
        latest = user.rsplit("Why this was not enough:", 1)[
            -1
        ]  # the joiner sees every round; decide on the last
        if "Could not find" in latest:
            return "Thought: A page is missing.\nAction: Replan(search the exact title)"
        assert all(PAGES[e] in user for e in entities)  # every round's observations reached the joiner
        return f"Thought: Both pages say it.\nAction: Finish({answer})"
    if system.startswith("Answer the user's query by thinking"):
        done = user.count("Observation:")
        if done < len(entities):
            return f"Thought: I need {entities[done]}.\nAction: search[{entities[done]}]"
        return f"Thought: I have both.\nAction: Finish[{answer}]"
    raise AssertionError(f"unexpected prompt: {system[:60]!r}")


def trench_model(messages: list[Message]) -> str:
    """ParallelQA question 1: two searches, two math steps (their expressions written by this 'model')."""
    system, user = messages[0]["content"], messages[-1]["content"]
    if system.startswith("You turn a math problem"):
        depth = re.search(r"([\d,]+) m deep", user)
        assert depth, user
        factor = 0.8 if "reduced by 20%" in user else 1.2
        return f"Expression: {depth.group(1).replace(',', '')} * {factor}"
    if system.startswith("Write a plan"):
        return (
            '1. search("Mariana Trench")\n2. search("Puerto Rico Trench")\n'
            '3. math("the depth of the Mariana Trench reduced by 20%", ["$1"])\n'
            '4. math("the depth of the Puerto Rico Trench increased by 20%", ["$2"])\n'
            "5. join()<END_OF_PLAN>"
        )
    if system.startswith("You answer a user's query"):
        values = [float(v) for v in re.findall(r"^Observation: ([\d.]+)$", user, re.MULTILINE)]
        assert len(values) == 2, user
        shallower = "Mariana Trench" if values[0] < values[1] else "Puerto Rico Trench"
        return f"Thought: {values[0]:g} m against {values[1]:g} m.\nAction: Finish({shallower})"
    raise AssertionError(f"unexpected prompt: {system[:60]!r}")


@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    if not (MIRROR / "llmcompiler").is_dir():
        pytest.skip(
            f"the LLMCompiler dataset mirror {MIRROR / 'llmcompiler'} is absent (not part of the repo)"
        )
    monkeypatch.setenv("WORKBENCH_DATASETS_MIRROR", str(MIRROR))
    return MIRROR


@pytest.fixture
def docstore(tmp_path: Path) -> Path:
    """A docstore folder: some pages as <Title>.txt files, the rest in pages.jsonl."""
    folder = tmp_path / "wiki"
    folder.mkdir()
    items = list(PAGES.items())
    for title, text in items[:3]:
        (folder / f"{title}.txt").write_text(text, encoding="utf-8")
    (folder / "pages.jsonl").write_text(
        "".join(json.dumps({"title": t, "text": x}) + "\n" for t, x in items[3:]), encoding="utf-8"
    )
    return folder


def cfg_for(docstore: Path, store: Path | None, **kw: Any) -> BenchRunConfig:
    values: dict[str, Any] = {
        "benchmark": "hotpotqa",
        "limit": 4,
        "docstore": str(docstore),
        "store": str(store) if store else None,
    }
    values.update(kw)
    return BenchRunConfig(**values)


def planner_queries(llm: ScriptedLLM) -> list[str]:
    return [_query(m) for m in llm.calls if m[0]["content"].startswith("Write a plan")]


def store_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# --------------------------------------------------------------------------------------------- examples


def test_examples_module_doctest() -> None:
    result = doctest.testmod(bench_examples)
    assert result.attempted > 0 and result.failed == 0


@pytest.mark.parametrize("name", ["hotpotqa", "movie", "parallelqa"])
def test_every_example_is_valid_for_its_agent(name: str) -> None:
    store = LocalDocstore.from_pages({})
    specs = [t.spec for t in benchmark_tools(name, store)]
    for example in PLANS[name]:
        plan = parse_plan(
            example.plan, specs
        )  # strict: Thought lines and steps only, tools and types checked
        assert plan.has_join and plan.tasks
    tools = {"search", "math"} if name == "parallelqa" else {"search"}
    used = {t for e in PLANS[name] for t in parse_plan(e.plan).tools}
    assert used == tools
    decisions = [parse_joiner_output(e.reply) for e in JOINS[name]]
    assert {d.action for d in decisions} == {"finish", "replan"}
    react_tools = {t.name for t in benchmark_tools(name, store, react=True)} | {"Finish"}
    for example in REACT[name]:
        turns = re.split(r"\n(?=Thought:)", example.trace)
        actions = [parse_action(turn.split("\nObservation:")[0]) for turn in turns]
        assert all(a is not None and a[1] in react_tools for a in actions)
        assert actions[-1] is not None and actions[-1][1] == "Finish"
    texts = examples_for(name)
    assert texts.planner.count("<END_OF_PLAN>") == len(PLANS[name])
    assert texts.joiner.count("Action: ") == len(JOINS[name]) and "Replan(" in texts.joiner


def test_benchmark_tools_and_unknown_names() -> None:
    store = LocalDocstore.from_pages({})
    assert [t.name for t in benchmark_tools("movie", store)] == ["search"]
    assert [t.name for t in benchmark_tools("parallelqa", store, react=True)] == ["search", "lookup", "math"]
    with pytest.raises(ValueError, match="unknown benchmark 'gsm8k'"):
        benchmark_tools("gsm8k", store)
    with pytest.raises(ValueError, match="unknown benchmark"):
        examples_for("gsm8k")


# ------------------------------------------------------------------------------------------------ runs


@needs_mirror
def test_accuracy_records_and_store(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    store = tmp_path / "runs" / "hotpot.jsonl"
    llm = ScriptedLLM(hotpot_model, model="gpt-4o-mini")
    summary = run_benchmark(cfg_for(docstore, store), llm=llm)

    assert summary["n"] == 4 and summary["accuracy"] == pytest.approx(0.75)
    lines = store_lines(store)
    assert len(lines) == 4 and len({r["id"] for r in lines}) == 4
    by_q = {r["question"]: r for r in lines}
    assert [q for q, r in by_q.items() if not r["correct"]] == [next(q for q in HOTPOT if LALELI in q)]
    assert by_q[next(q for q in HOTPOT if "Local H" in q)]["answer"] == "Yes."  # scored after normalization
    record = by_q[next(q for q in HOTPOT if "Local H" in q)]
    assert record["replans"] == 1 and len(record["plans"]) == 2 and record["llm_calls"] == 4
    assert "For Against (band)" in record["plans"][0] and record["finished"] is True
    assert summary["replans_total"] == 1
    for r in lines:
        assert set(r) >= {
            "id",
            "question",
            "gold",
            "answer",
            "correct",
            "latency_s",
            "prompt_tokens",
            "completion_tokens",
            "llm_calls",
            "replans",
            "finished",
            "cost_usd",
            "plans",
        }
        assert r["prompt_tokens"] > 0 and r["completion_tokens"] > 0 and r["latency_s"] > 0
        assert r["cost_usd"] == pytest.approx(cost_usd("gpt-4o-mini", r))
    assert summary["cost_usd_total"] == pytest.approx(math.fsum(r["cost_usd"] for r in lines))
    assert summary["prompt_tokens_mean"] == pytest.approx(sum(r["prompt_tokens"] for r in lines) / 4)
    assert (
        summary["agent"] == "llmcompiler" and summary["model"] == "gpt-4o-mini" and summary["stream"] is True
    )
    assert evaluate(store) == summary
    text = format_summary(summary)
    assert "75.0 %" in text and "hotpotqa / llmcompiler / gpt-4o-mini: 4 examples" in text


@needs_mirror
def test_resume_skips_stored_ids(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    store = tmp_path / "hotpot.jsonl"
    first = ScriptedLLM(hotpot_model)
    run_benchmark(cfg_for(docstore, store, limit=2), llm=first)
    assert len(store_lines(store)) == 2
    done = set(planner_queries(first))
    assert len(done) == 2

    second = ScriptedLLM(hotpot_model)
    summary = run_benchmark(cfg_for(docstore, store, limit=4), llm=second)
    assert not done & set(planner_queries(second))  # stored examples were not asked again
    assert len(set(planner_queries(second))) == 2
    assert summary["n"] == 4 and summary["accuracy"] == pytest.approx(0.75)
    assert len(store_lines(store)) == 4
    assert evaluate(store) == summary

    third = ScriptedLLM(hotpot_model)  # everything stored: no call at all, same summary
    assert run_benchmark(cfg_for(docstore, store, limit=4), llm=third) == summary
    assert third.calls == []


@needs_mirror
def test_truncated_last_line_is_tolerated_and_rerun(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    store = tmp_path / "hotpot.jsonl"
    run_benchmark(cfg_for(docstore, store, limit=3), llm=ScriptedLLM(hotpot_model))
    data = store.read_bytes()
    lines = data.splitlines(keepends=True)
    torn_id = json.loads(lines[-1])["id"]
    store.write_bytes(b"".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])  # killed mid-write

    with pytest.warns(StoreWarning, match="line 3 is not a complete record"):
        partial = evaluate(store)
    assert partial["n"] == 2

    llm = ScriptedLLM(hotpot_model)
    with pytest.warns(StoreWarning):
        summary = run_benchmark(cfg_for(docstore, store, limit=3), llm=llm)
    assert len(set(planner_queries(llm))) == 1  # only the torn example ran again
    records = store_lines(store)  # every line parses: the torn tail was cut before appending
    assert [r["id"] for r in records].count(torn_id) == 1 and len(records) == 3
    assert summary["n"] == 3 and evaluate(store) == summary


def test_damaged_store_line_in_the_middle_is_an_error(tmp_path: Path) -> None:
    store = tmp_path / "bad.jsonl"
    good = json.dumps({"id": "a", "correct": True})
    store.write_text(f"{good}\nnot json\n{json.dumps({'id': 'b'})}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:2: not a JSON record"):
        read_store(store)
    assert read_store(tmp_path / "absent.jsonl") == []


def test_evaluating_a_store_of_another_kind_says_what_it_expected(tmp_path: Path) -> None:
    store = tmp_path / "teacher.jsonl"
    store.write_text(
        json.dumps({"id": "t-1", "query": "Text Ana", "plan": "1. join()"}) + "\n", encoding="utf-8"
    )
    with pytest.raises(
        ValueError,
        match=r"teacher.jsonl is not a stored benchmark run: its record 't-1' has no "
        r"benchmark, agent, model, stream, correct, latency_s, prompt_tokens, completion_tokens",
    ):
        runner.evaluate(store)
    record = {"id": "q-1", "benchmark": "hotpotqa", "agent": "llmcompiler", "model": "m", "stream": True}
    store.write_text(
        json.dumps(
            {**record, "correct": True, "latency_s": "slow", "prompt_tokens": 1, "completion_tokens": 1}
        )
        + "\n",
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match=r"its record 'q-1' has latency_s 'slow', not a number"):
        runner.evaluate(store)


@needs_mirror
def test_react_mode(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    llm = ScriptedLLM(hotpot_model)
    summary = run_benchmark(cfg_for(docstore, tmp_path / "react.jsonl", react=True), llm=llm)
    assert summary["agent"] == "react" and summary["accuracy"] == pytest.approx(0.75)
    assert summary["replans_total"] is None
    records = store_lines(tmp_path / "react.jsonl")
    assert all(r["llm_calls"] == 3 and len(r["plans"]) == 3 for r in records)  # two searches, then Finish
    system = llm.calls[0][0]["content"]
    assert "lookup" in system and "Action: search[McGill University]" in system  # tools and examples
    assert not any(m[0]["content"].startswith("Write a plan") for m in llm.calls)


@needs_mirror
def test_stream_and_no_stream_give_the_same_answers(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    answers = {}
    for stream in (True, False):
        store = tmp_path / f"stream-{stream}.jsonl"
        summary = run_benchmark(cfg_for(docstore, store, stream=stream), llm=ScriptedLLM(hotpot_model))
        assert summary["stream"] is stream
        answers[stream] = {r["id"]: (r["answer"], r["correct"], r["plans"]) for r in store_lines(store)}
    assert answers[True] == answers[False] and len(answers[True]) == 4


@needs_mirror
def test_parallelqa_math_tool_and_its_tokens(mirror: Path, tmp_path: Path) -> None:
    wiki = LocalDocstore.from_pages(PAGES)
    llm = ScriptedLLM(trench_model)
    cfg = BenchRunConfig(benchmark="parallelqa", limit=1, store=str(tmp_path / "pqa.jsonl"))
    summary = run_benchmark(cfg, llm=llm, wiki=wiki)
    assert summary["accuracy"] == 1.0
    (record,) = store_lines(tmp_path / "pqa.jsonl")
    assert record["answer"] == "Mariana Trench" and record["gold"] == "Mariana Trench"
    math_calls = [m for m in llm.calls if m[0]["content"].startswith("You turn a math problem")]
    assert len(math_calls) == 2 and record["llm_calls"] == 4  # planner + joiner + two math expressions
    prompt_tokens = sum(count_tokens("\n".join(m["content"] for m in call)) for call in llm.calls)
    assert record["prompt_tokens"] == prompt_tokens  # the math tool's calls are paid for too
    assert "Expression" not in record["plans"][0]
    planner_prompt = llm.calls[0][0]["content"]
    assert 'math("the length of the Nile in km decreased by 10%", ["$1"])' in planner_prompt


@needs_mirror
def test_resuming_with_another_agent_is_refused(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    store = tmp_path / "hotpot.jsonl"
    run_benchmark(cfg_for(docstore, store, limit=1), llm=ScriptedLLM(hotpot_model))
    with pytest.raises(ValueError, match="another run .*agent"):
        run_benchmark(cfg_for(docstore, store, limit=2, react=True), llm=ScriptedLLM(hotpot_model))
    assert len(store_lines(store)) == 1


# ---------------------------------------------------------------------------------------------- errors


def test_config_help_and_validation() -> None:
    assert all(f.metadata.get("help") for f in dataclasses.fields(BenchRunConfig))
    assert BenchRunConfig().temperature == 0.0 and BenchRunConfig().max_replans == 2
    with pytest.raises(
        ValueError, match="unknown benchmark 'squad'; choose one of hotpotqa, movie, parallelqa"
    ):
        BenchRunConfig(benchmark="squad")
    with pytest.raises(ValueError, match="limit"):
        BenchRunConfig(limit=-1)


def test_user_errors_have_clear_messages(
    tmp_path: Path, docstore: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    llm = ScriptedLLM(hotpot_model)
    with pytest.raises(FileNotFoundError, match="docstore folder .*missing does not exist"):
        run_benchmark(cfg_for(tmp_path / "missing", None), llm=llm)
    with pytest.raises(IsADirectoryError, match="is a directory"):
        run_benchmark(cfg_for(docstore, tmp_path), llm=llm)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(LLMError, match="OPENAI_API_KEY"):
        run_benchmark(cfg_for(docstore, None, provider="openai", model="gpt-4o"))
    assert llm.calls == []


# --------------------------------------------------------------------------------- real client, fake server


@needs_mirror
def test_openai_client_path_against_fake_server(
    mirror: Path, docstore: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-DO-NOT-LEAK-4242"
    monkeypatch.setenv("VLLM_API_KEY", secret)
    questions = list(HOTPOT)[:2]
    script = []
    for q in questions:
        entities, answer = HOTPOT[q]
        script += [
            Reply(_plan(entities, first_try=False), usage=(100, 10)),
            Reply(f"Thought: found.\nAction: Finish({answer})", usage=(50, 5)),
        ]
    store = tmp_path / "served.jsonl"
    with FakeChatServer(script) as server:
        cfg = cfg_for(
            docstore,
            store,
            limit=2,
            provider="vllm",
            model="gpt-4o",
            base_url=server.base_url,
            temperature=0.3,
        )
        summary = run_benchmark(cfg, llm=None)
        assert server.remaining == 0 and len(server.requests) == 4
        assert all(r["temperature"] == 0.3 and r["model"] == "gpt-4o" for r in server.requests)
        assert "<END_OF_PLAN>" in server.requests[0]["stop"]
        assert "Scott Derrickson" in server.requests[1]["messages"][-1]["content"]  # the joiner saw the page
    records = store_lines(store)
    assert [r["question"] for r in records] == questions
    assert all(r["prompt_tokens"] == 150 and r["completion_tokens"] == 15 for r in records)  # server usage
    assert summary["accuracy"] == pytest.approx(0.5) and summary["model"] == "gpt-4o"
    assert summary["cost_usd_total"] == pytest.approx(2 * cost_usd("gpt-4o", (150, 15)))
    assert secret not in store.read_text(encoding="utf-8") and secret not in json.dumps(summary)
    assert secret not in repr(runner.BenchRunConfig(base_url="x"))


@needs_mirror
def test_whole_record_without_its_newline_is_kept(mirror: Path, docstore: Path, tmp_path: Path) -> None:
    store = tmp_path / "hotpot.jsonl"
    run_benchmark(cfg_for(docstore, store, limit=1), llm=ScriptedLLM(hotpot_model))
    store.write_bytes(store.read_bytes().rstrip(b"\n"))
    llm = ScriptedLLM(hotpot_model)
    summary = run_benchmark(cfg_for(docstore, store, limit=2), llm=llm)
    assert len(set(planner_queries(llm))) == 1 and summary["n"] == 2
    assert len(store_lines(store)) == 2


@needs_mirror
def test_inside_an_event_loop_use_arun_benchmark(mirror: Path, docstore: Path) -> None:
    async def main() -> dict[str, Any]:
        with pytest.raises(RuntimeError, match="await arun_benchmark"):
            run_benchmark(cfg_for(docstore, None, limit=1), llm=ScriptedLLM(hotpot_model))
        return await runner.arun_benchmark(cfg_for(docstore, None, limit=1), llm=ScriptedLLM(hotpot_model))

    assert asyncio.run(main())["n"] == 1
