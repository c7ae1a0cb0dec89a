"""TinyAgent's sub-agents: the offline writer, the LLM writer against the OpenAI-compatible test server, the
desktop's record of what they wrote, and both in the agent."""

import asyncio

import pytest

from workbench.agent import AgentConfig, TinyAgent
from workbench.compiler.subagents import LLMWriter, clean, writing_messages
from workbench.llm import ScriptedLLM, from_env
from workbench.llm.testing import FakeChatServer
from workbench.plan import END_OF_PLAN
from workbench.tools.desktop import SimulatedDesktop
from workbench.tools.spec import ERROR_PREFIX
from workbench.tools.subagents import OfflineWriter, WritingTask, extractive_summary

TODAY = "2024-06-12"
EMAIL_PLAN = (
    f'1. get_email_address("Sid")\n2. compose_new_email(["$1"], [], "Budget", "", [])\n3. join(){END_OF_PLAN}'
)


def test_the_extractive_summary_keeps_the_sentences_about_what_the_text_is_about():
    text = (
        "The budget grew by ten percent. Lunch was served at noon. The budget covers two new hires. "
        "It rained. The budget review is on Friday."
    )
    summary = extractive_summary(text)
    assert summary == "The budget grew by ten percent. The budget covers two new hires."
    assert extractive_summary("One sentence only.") == "One sentence only."


def test_the_offline_writer_fills_templates_and_says_what_it_is():
    w = OfflineWriter()
    assert "no model" in w.name
    body = asyncio.run(
        w.write(WritingTask("email", "email Sid about the budget", "Budget", recipients=("Sid Jha",)))
    )
    assert body.startswith("Hi Sid,") and "Budget" in body and body.endswith("Best regards")
    note = asyncio.run(w.write(WritingTask("note", "note: buy milk and eggs", "Groceries")))
    assert note == "note: buy milk and eggs"
    with pytest.raises(ValueError, match="unknown writing task 'poem'"):
        asyncio.run(w.write(WritingTask("poem", "", "")))


def test_the_desktop_asks_its_writer_only_for_what_the_plan_left_empty():
    d = SimulatedDesktop(seed=0)
    d.request = "email Sid about the budget"
    out = d.call("compose_new_email", [["Sid"], [], "Budget", "", []])
    assert "Written by the sub-agent" in out and d.outbox[-1].body.startswith("Hi Sid,")
    assert [(w.tool, w.kind) for w in d.written] == [("compose_new_email", "email")]
    d.call("compose_new_email", [["Sid"], [], "Budget", "numbers attached", []])
    assert d.outbox[-1].body == "numbers attached" and len(d.written) == 1, "the plan wrote this one"
    d.call("reply_to_email", [[], "", []])
    assert d.outbox[-1].body.startswith("Hi,\n\nThanks for your email about Draft of the paper")
    summary = d.call("summarize_pdf", ["LLMCompiler"])
    assert summary in d.files["/Users/me/Documents/Research/LLMCompiler.pdf"]
    d.call("create_note", ["Budget", "", "Work"])
    assert d.notes["Work"]["Budget"] == "email Sid about the budget"
    assert [w.kind for w in d.written] == ["email", "reply", "summary", "note"]
    assert all(w.writer == OfflineWriter.name for w in d.written)


def test_the_llm_writer_is_prompted_per_kind_and_its_failure_is_the_tools_error():
    with FakeChatServer(
        ["Subject: Budget\n\nHi Sid,\n\nThe budget is ready.\n\nBest", ("status", 400)]
    ) as server:
        d = SimulatedDesktop(seed=0, writer=LLMWriter(from_env("vllm", "writer", base_url=server.base_url)))
        d.request = "email Sid that the budget is ready"
        out = d.call("compose_new_email", [["Sid"], [], "Budget", "", []])
        assert d.outbox[-1].body == "Hi Sid,\n\nThe budget is ready.\n\nBest", "the subject line is dropped"
        assert d.written[-1].writer == "LLM sub-agent (writer)" and "Written by the sub-agent" in out
        messages = server.requests[0]["messages"]
        assert "body of an email" in messages[0]["content"]
        assert "Request: email Sid that the budget is ready" in messages[1]["content"]
        assert "To: Sid" in messages[1]["content"]
        failed = d.call("summarize_pdf", ["LLMCompiler"])
    assert failed.startswith(ERROR_PREFIX) and "could not write the summary" in failed and len(d.outbox) == 1


def test_writing_messages_and_cleaning():
    task = WritingTask("summary", "sum up the paper", "Paper.pdf", source="x" * 10_000)
    system, user = writing_messages(task)
    assert "summarize" in system["content"] and len(user["content"]) < 6_200, "a long document is cut"
    assert clean('"Hello there."') == "Hello there." and clean("subject: Hi\n\nBody") == "Body"


@pytest.mark.parametrize("backend", ["offline", "llm"])
def test_the_agent_runs_its_sub_agents_with_either_backend(backend):
    planner = ScriptedLLM([EMAIL_PLAN])
    with FakeChatServer(["Hi Sid,\n\nThe budget is ready.\n\nBest"]) as server:
        writer = LLMWriter(from_env("vllm", "writer", base_url=server.base_url)) if backend == "llm" else None
        agent = TinyAgent(planner, kind="full", writer=writer)
        desktop = SimulatedDesktop(seed=0, today=TODAY)
        result = asyncio.run(agent.run("email Sid that the budget is ready", TODAY, desktop))
        assert result.finished, result.answer
    assert desktop.request == "email Sid that the budget is ready"
    assert [w.kind for w in desktop.written] == ["email"]
    body = desktop.outbox[-1].body
    assert (
        body == "Hi Sid,\n\nThe budget is ready.\n\nBest" if backend == "llm" else body.startswith("Hi Sid,")
    )
    assert ("LLM sub-agent" if backend == "llm" else "no model") in agent.describe()


def test_the_writer_is_chosen_by_config():
    with pytest.raises(ValueError, match="writer must be offline or llm"):
        AgentConfig(writer="gpt")
    with pytest.raises(ValueError, match="writer=llm needs an LLM"):
        AgentConfig(writer="llm")
