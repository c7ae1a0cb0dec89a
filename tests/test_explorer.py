"""The plan-graph explorer, driven as a user would: set widget values, read the other widgets."""

import datetime as dt
import html
import re
import time

import pytest
from conftest import synthesized_workbench

from workbench.llm import ScriptedLLM
from workbench.plan import END_OF_PLAN, parse_plan
from workbench.synth.dataset import load_split
from workbench.tools.desktop import LatencyModel
from workbench.tools.tinyagent import TOOL_NAMES
from workbench.viz.explorer import PlanExplorer, explore

FAST = LatencyModel.uniform(0.002, 0.006)  # distinct event times, a run in milliseconds


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    with synthesized_workbench(
        tmp_path_factory.mktemp("explorer"), train=10, val=4, test=8, ood=8, report_sample=4
    ):
        yield {r["id"]: r for split in ("test", "ood") for r in load_split(split)}


def gold_tools(records):
    """A stand-in for the ToolRAG classifier: each query's gold tools."""
    by_query = {r["query"]: r["tools"] for r in records.values()}
    return lambda queries: [sorted(set(by_query.get(q, TOOL_NAMES))) for q in queries]


def gold_planner(records):
    by_query = {r["query"]: r["plan"] for r in records.values()}
    return lambda query, today, tools: by_query[query]


def with_references(records):
    """An example whose plan has a task that uses another task's observation."""
    return next(i for i, r in records.items() if any(s.deps for s in parse_plan(r["plan"]).tasks))


def explorer(records, plan_fn=None, **kwargs):
    return PlanExplorer(
        plan_fn=plan_fn or gold_planner(records), select=gold_tools(records), latency=FAST, **kwargs
    )


def numbers(text):
    return [int(n.replace(",", "")) for n in re.findall(r"[\d,]+(?= tokens|;)", text)]


# ------------------------------------------------------------------------------------------------ tests


def test_an_example_shows_tools_prompt_plan_gold_dag_and_verdict(records):
    w = explorer(records)
    example = with_references(records)
    w.example.value = example
    record = records[example]
    assert w.last_error is None
    assert w.query.value == record["query"]
    assert w.plan.value == record["plan"].removesuffix(END_OF_PLAN)
    for name in TOOL_NAMES:  # exactly the selected tools are listed
        assert (name in w.tools.value) == (name in record["tools"]), name
    n, n_all = numbers(w.prompt.value)
    assert 0 < n < n_all, "the prompt names fewer tools than all 16, so it is shorter"
    assert "success: the DAGs are isomorphic" in w.verdict.value
    assert w.gold.value[:8] == b"\x89PNG\r\n\x1a\n" and w.dag.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert w.timeline.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert w.step.max == len(w.run.events) > 0 and w.step.value == w.step.max, "opens on the finished run"
    assert set(w.node_states().values()) == {"done"}


def test_replay_steps_recolour_the_dag_and_show_substitution_without_a_new_layout(records, monkeypatch):
    import workbench.viz.dag as dag

    calls = []
    layout = dag.layered_layout
    monkeypatch.setattr(dag, "layered_layout", lambda g: calls.append(1) or layout(g))
    w = explorer(records)
    example = with_references(records)
    w.example.value = example
    after_select = len(calls)
    assert w.layouts == 1 and after_select == 2, "the plan's DAG and the gold DAG, laid out once each"

    images = []
    for k in range(w.step.max + 1):
        w.step.value = k
        images.append(w.dag.value)
        if k == 0:
            assert set(w.node_states().values()) == {"waiting"}
            assert all(r["resolved"] == "" and r["observation"] == "" for r in w.rows())
    assert len(set(images)) == len(images), "every replay step changes the picture"
    assert len(calls) == after_select and w.layouts == 1, "no layout on a replay step"
    seen = {s for k in range(w.step.max + 1) for s in w.node_states(k).values()}
    assert {"waiting", "running", "done"} <= seen

    # at the end, a task that refers to others shows its arguments before and after substitution
    rows = {r["step"]: r for r in w.rows()}
    step = next(s for s in parse_plan(records[example]["plan"]).tasks if s.deps)
    row = rows[str(step.idx)]
    assert "$" in row["args"] and "$" not in row["resolved"]
    for d in step.deps:
        assert rows[str(d)]["observation"] in row["resolved"]
    assert html.escape(row["resolved"]) in w.states.value  # the table widget shows it too
    assert "event" in w.event.value and f"of {w.step.max}" in w.event.value

    # the same plan again reuses its drawing; another plan is laid out once
    w.example.value = next(i for i in records if i != example)
    w.example.value = example
    assert w.layouts == 2


def test_a_different_plan_is_judged_not_isomorphic(records):
    w = explorer(records, plan_fn=lambda query, today, tools: '1. maps_open_location("Paris")\n2. join()')
    w.example.value = with_references(records)
    assert "failure: the DAGs are not isomorphic" in w.verdict.value
    assert w.gold.value[:4] == b"\x89PNG" and w.gold.value != w.dag.value


def test_a_failing_tool_call_fails_its_node_and_skips_its_dependents(records):
    plan = (
        '1. get_email_address("Nobody Known")\n2. get_phone_number("Sid")\n'
        '3. compose_new_email(["$1"], [], "hi", "see you", [])\n4. join()'
    )
    w = explorer(records, plan_fn=lambda query, today, tools: plan)
    w.example.value = with_references(records)
    assert w.node_states() == {1: "failed", 2: "done", 3: "skipped", 4: "done"}
    rows = w.rows()
    assert rows[0]["observation"].startswith("Error: no contact named 'Nobody Known'")
    assert rows[2]["resolved"] == "" and "skipped because $1 failed" in rows[2]["observation"]
    assert "failed" in w.states.value and "skipped" in w.states.value


def test_a_streamed_plan_appears_chunk_by_chunk_while_tasks_already_run(records):
    example = with_references(records)
    gold = records[example]["plan"]

    def streaming(query, today, tools):
        for i in range(0, len(gold), 12):
            time.sleep(0.005)
            yield gold[i : i + 12]

    w = explorer(records, plan_fn=streaming)
    seen = []
    w.plan.observe(lambda change: seen.append(change["new"]), "value")
    w.example.value = example
    texts = [t for t in seen if t]
    assert len(texts) > 3 and all(gold.startswith(t) for t in texts)
    assert texts[-1] == gold.removesuffix(END_OF_PLAN), "the text up to the end marker, as the loop reads it"
    rnd = w.run.result.rounds[0]
    first_start = min(r.started for r in w.run.execution.records.values())
    assert first_start < rnd.plan_end, "LLMCompiler streaming: a task starts before the plan is written"


def test_text_that_is_not_a_plan_gets_a_message_not_a_crash(records):
    w = explorer(records, plan_fn=lambda query, today, tools: "Sorry, I cannot help with that.")
    w.example.value = with_references(records)
    assert w.last_error is None
    assert w.step.max == 0 and w.run.plan.steps == []
    assert "not a valid plan" in w.verdict.value
    assert "stopped at" in w.note.value and w.dag.value[:4] == b"\x89PNG"


def test_without_a_trained_planner_examples_show_the_gold_plan_and_typed_queries_say_what_to_run(records):
    w = PlanExplorer(latency=FAST)  # nothing trained in this folder: default planner and selector
    example = with_references(records)
    w.example.value = example
    assert w.last_error is None
    assert w.plan.value == records[example]["plan"].removesuffix(END_OF_PLAN)
    assert "workbench finetune" in w.note.value and "gold plan" in w.note.value
    assert "gold plan itself" in w.verdict.value
    assert f"({len(TOOL_NAMES)} of {len(TOOL_NAMES)})" in w.tools.value, "no classifier: all tools"

    w.query.value = "Text Ana that I'm running late"
    assert w.example.value is None, "a typed query is not the example any more"
    assert "workbench finetune" in w.note.value
    assert w.plan.value == "" and w.dag.value == b"" and w.verdict.value == ""
    assert w.tools.value and "tokens" in w.prompt.value


def test_a_typed_query_runs_on_a_desktop_that_knows_the_people_it_names(records):
    plan = '1. get_phone_number("Zoë Ngũgĩ")\n2. send_sms(["$1"], "running late")\n3. join()'
    w = explorer(records, plan_fn=lambda query, today, tools: plan)
    w.query.value = "Text Zoë Ngũgĩ that I'm running late"
    assert w.node_states() == {1: "done", 2: "done", 3: "done"}
    assert w.gold.value == b"" and "no gold plan" in w.verdict.value
    assert w.rows()[1]["resolved"].startswith('["+1')

    w.query.value = "   "
    assert "Pick an example or type a query" in w.note.value and w.run is None


def test_a_planner_object_plans_and_counts_its_own_prompt(records):
    class FakePlanner:  # the planner runtime's interface: prompt ids, and a streaming LLM per query
        kind = "compact"

        def prompts(self, queries, todays, tools):
            return [[0] * (10 + len(t)) for t in tools]

        def llm(self, tools, query, today=None):
            return ScriptedLLM(['1. open_note("Ideas", "Work")\n2. join()<END_OF_PLAN>'])

    w = explorer(records, plan_fn=FakePlanner())
    w.query.value = "Open my Ideas note"
    assert numbers(w.prompt.value) == [10 + len(TOOL_NAMES), 10 + len(TOOL_NAMES)]
    assert "compact prompt" in w.prompt.value
    assert w.node_states() == {1: "done", 2: "done"}


def test_widgets_carry_the_css_classes_a_browser_test_targets(records):
    w = explore(
        with_references(records), plan_fn=gold_planner(records), select=gold_tools(records), latency=FAST
    )
    assert w.run is not None, "explore(example) opens the example at once"
    for attr, css in (
        ("example", "wb-example"),
        ("query", "wb-query"),
        ("step", "wb-step"),
        ("play", "wb-play"),
        ("dag", "wb-dag"),
        ("gold", "wb-gold"),
        ("verdict", "wb-verdict"),
        ("plan", "wb-plan"),
        ("timeline", "wb-timeline"),
        ("tools", "wb-tools"),
        ("prompt", "wb-prompt"),
    ):
        assert css in getattr(w, attr)._dom_classes, attr
    assert "wb-explorer" in w._dom_classes and w.step.description == "replay"


def test_without_a_dataset_the_explorer_says_which_command_makes_one(tmp_workbench):
    w = PlanExplorer(
        plan_fn=lambda query, today, tools: '1. open_note("Ideas", "Work")\n2. join()', latency=FAST
    )
    assert w.example.options == (("(type a query below)", None),)
    assert "workbench synth" in w.note.value
    w.query.value = "Open my Ideas note"
    assert w.node_states() == {1: "done", 2: "done"} and w.play.max == w.step.max == 2


def test_a_spoken_command_is_transcribed_then_explored_as_typed(records):
    import io

    import numpy as np
    import soundfile as sf

    from workbench.llm.testing import FakeChatServer
    from workbench.voice.engines import OpenAITranscription

    buf = io.BytesIO()
    sf.write(buf, (0.3 * np.sin(np.arange(16_000) / 8)).astype(np.float32), 16_000, format="WAV")
    data = buf.getvalue()
    plan = '1. get_phone_number("Zoë Ngũgĩ")\n2. send_sms(["$1"], "running late")\n3. join()'
    with FakeChatServer(["Text Zoë Ngũgĩ that I'm running late"]) as server:
        speech = OpenAITranscription(server.base_url, "whisper-1")
        w = explorer(records, plan_fn=lambda query, today, tools: plan, speech=speech)
        upload = {"name": "cmd.wav", "type": "audio/wav", "size": len(data), "content": memoryview(data)}
        w.audio.value = ({**upload, "last_modified": dt.datetime(2026, 12, 1, tzinfo=dt.UTC)},)
        assert len(server.uploads) == 1 and w.last_error is None
    assert w.query.value == "Text Zoë Ngũgĩ that I'm running late"
    assert "heard (openai-compatible" in w.note.value and "wb-audio" in w.audio._dom_classes
    assert w.node_states() == {1: "done", 2: "done", 3: "done"}
    w.explore_audio(b"RIFF but not audio", "bad.wav")
    assert "AudioError" in w.note.value and "cannot read" in w.note.value


def test_the_replay_shows_what_the_sub_agent_wrote(records):
    plan = '1. get_email_address("Sid")\n2. compose_new_email(["$1"], [], "Budget", "", [])\n3. join()'
    w = explorer(records, plan_fn=lambda query, today, tools: plan)
    w.query.value = "email Sid about the budget"
    w.step.value = w.step.max
    email = w.rows()[1]["observation"]
    assert 'Written by the sub-agent: "Hi Sid,' in email and "about Budget" in email
