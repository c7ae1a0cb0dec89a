"""The TinyAgent end to end, hermetic: scripted planners, the simulated desktop, and one tiny random planner."""

from __future__ import annotations

import asyncio
import json
import sys

import pytest

from workbench import config
from workbench.agent import EMPTY_QUERY, STAGES, AgentConfig, TinyAgent
from workbench.cli import main as cli
from workbench.finetune.bundled import bundled_planner
from workbench.llm import ScriptedLLM
from workbench.llm.testing import FakeChatServer
from workbench.paper_examples import FIG1_PLAN, FIG1_QUERY
from workbench.plan import END_OF_PLAN, parse_plan
from workbench.planner.runtime import _shown_path
from workbench.stages.agent import run as run_benchmark
from workbench.tools import LatencyModel, SimulatedDesktop, tinyagent_tools

TODAY = "2024-06-12"
GARBAGE = "Sure! I would be glad to help you with your calendar."


def run(coro):
    return asyncio.run(coro)


def _events():
    seen: list[tuple[str, str]] = []
    return seen, lambda event: seen.append((event.kind, event.text))


# ------------------------------------------------------------------------------------ the agent


def test_plan_streams_into_the_executor_and_the_rule_joiner_answers():
    llm = ScriptedLLM([FIG1_PLAN], ttft_s=0.05, tokens_per_s=300)
    desktop = SimulatedDesktop(latency=LatencyModel.uniform(0.02, 0.02))
    seen, emit = _events()
    result = run(TinyAgent(llm, kind="compact").run(FIG1_QUERY, TODAY, desktop, on_event=emit))
    assert result.finished and result.served
    assert result.answer.startswith("Event 'Apple Design Award' created on 2024-06-13"), (
        "the rule joiner's answer"
    )
    assert desktop.calendar[0]["invitees"] == ["sid.jha@example.com", "lutfi.erdogan@example.com"]
    r = result.rounds[0]
    assert r.execution.records[1].started < r.plan_end - 0.05, "step 1 runs while the plan is still written"
    kinds = [k for k, _ in seen]
    first_start = kinds.index("start")
    plan_lines = [t for k, t in seen if k == "plan"]
    assert plan_lines[1] == '1. get_email_address("Sid")' and plan_lines[-1] == "4. join()"
    assert kinds.index("plan") < first_start < max(i for i, k in enumerate(kinds) if k == "plan"), (
        "the first task starts between plan lines"
    )
    assert ("end", "get_email_address -> sid.jha@example.com") in seen
    system, user = llm.calls[0]
    assert system["content"].endswith("Tools: " + ", ".join(t.name for t in tinyagent_tools()))
    assert user["content"] == FIG1_QUERY, "the fine-tuned planner's compact prompt: the query alone"
    assert seen[0] == ("toolrag", "all 16 tools")


def test_latency_breakdown_has_every_stage():
    llm = ScriptedLLM([FIG1_PLAN], ttft_s=0.1)
    result = run(
        TinyAgent(llm, select=lambda qs: [["get_email_address", "create_calendar_event"]] * len(qs)).run(
            FIG1_QUERY, TODAY
        )
    )
    lat = result.latency
    assert set(lat) == {*STAGES, "total"} and all(v >= 0 for v in lat.values())
    assert lat["planning"] >= 0.1, "the planner's time to first token is planning time"
    assert lat["total"] >= lat["toolrag"] + lat["planning"] and lat["total"] < lat["planning"] + 0.5
    assert result.tools == ["get_email_address", "create_calendar_event"]
    assert (
        "create_calendar_event(" in llm.calls[0][0]["content"]
        and "send_sms" not in llm.calls[0][0]["content"]
    )


def test_garbage_is_replanned_then_a_clear_message():
    llm = ScriptedLLM([GARBAGE] * 3)
    seen, emit = _events()
    result = run(TinyAgent(llm, max_replans=2).run(FIG1_QUERY, TODAY, on_event=emit))
    assert not result.finished and len(llm.calls) == 3
    assert "replanning budget (2) ran out" in result.answer and "plan was invalid" in result.answer
    assert [k for k, _ in seen].count("replan") == 3 and ("plan", GARBAGE) in seen
    assert "A previous plan was run" in llm.calls[1][-1]["content"], "the replan shows what went wrong"


def test_a_raising_tool_is_an_observation_and_the_rest_goes_on():
    desktop = SimulatedDesktop()

    def broken(name):
        if name == "Sid":
            raise RuntimeError("Contacts crashed")
        return desktop.find_contact(name).email

    desktop._get_email_address = broken
    retry = '1. get_email_address("Lutfi")\n2. join()<END_OF_PLAN>'
    seen, emit = _events()
    result = run(TinyAgent(ScriptedLLM([FIG1_PLAN, retry])).run(FIG1_QUERY, TODAY, desktop, on_event=emit))
    records = result.rounds[0].execution.records
    assert records[1].observation == "Error: get_email_address raised RuntimeError: Contacts crashed"
    assert records[2].status == "done" and records[3].status == "skipped"
    assert (
        "end",
        "get_email_address -> Error: get_email_address raised RuntimeError: Contacts crashed",
    ) in seen
    assert result.finished and len(result.rounds) == 2 and result.answer == "lutfi.erdogan@example.com"


def test_empty_and_unservable_queries_are_answered_not_crashed():
    llm = ScriptedLLM(["1. join()<END_OF_PLAN>"])
    agent = TinyAgent(llm)
    empty = run(agent.run("   ", TODAY))
    assert empty.answer == EMPTY_QUERY and not empty.finished and llm.calls == []
    weather = run(agent.run("What will the weather be in Paris tomorrow?", TODAY))
    assert not weather.served and weather.answer.startswith("None of my tools can do this")
    assert "without a tool call" in weather.answer and "Calendar" in weather.answer
    nothing = run(TinyAgent(llm, select=lambda qs: [[] for _ in qs]).run("Bake me a cake", TODAY))
    assert "ToolRAG selected none" in nothing.answer and len(llm.calls) == 1, "no planner call without tools"


# ------------------------------------------------------------------------------------ the command line


def test_cli_prints_plan_tasks_answer_and_latency(capsys):
    plan = '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n3. join()<END_OF_PLAN>'
    with FakeChatServer([plan]) as server:
        rc = cli(
            [
                "agent",
                "Emails of Sid and Lutfi",
                "--provider",
                "vllm",
                "--base-url",
                server.base_url,
                "--model-name",
                "m",
                "--toolrag",
                "none",
            ]
        )
        system = server.requests[0]["messages"][0]["content"]
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "get_email_address(name: str)" in system, "a general LLM gets the full LLMCompiler prompt"
    lines = out.splitlines()
    assert lines[0].startswith("planner: OpenAICompatLLM (m)") and "joiner: rule-based" in lines[0]
    plan_at = next(i for i, line in enumerate(lines) if line.endswith('plan    1. get_email_address("Sid")'))
    start_at = next(i for i, line in enumerate(lines) if 'start   get_email_address("Sid")' in line)
    assert plan_at < start_at and any("end     get_email_address -> sid.jha@example.com" in x for x in lines)
    assert "answer: sid.jha@example.com\nlutfi.erdogan@example.com" in out
    assert lines[-1].startswith("latency: toolrag ") and all(f"{s} " in lines[-1] for s in STAGES)


def test_cli_sends_a_served_llama_cpp_planner_the_plan_grammar(capsys):
    plan = '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n3. join()<END_OF_PLAN>'
    with FakeChatServer([plan]) as server:
        args = ["agent", "Emails of Sid and Lutfi", "--provider", "llamacpp", "--base-url", server.base_url]
        rc = cli([*args, "--prompt", "compact", "--constrained", "--toolrag", "none"])
        request = server.requests[0]
    out = capsys.readouterr().out
    assert rc == 0, out
    grammar = request["grammar"]  # GBNF: every tool's call, and the query's names as grounded strings
    assert "\nroot ::= " in grammar and '"get_email_address("' in grammar and "Lutfi" in grammar
    assert request["repeat_penalty"] == 1.0, "greedy as in process (llama.cpp's server defaults to 1.1)"
    assert "answer: sid.jha@example.com" in out


def test_cli_bad_input_is_a_clear_error(tmp_workbench, capsys):
    assert cli(["agent", "  "]) == 1
    assert "The query is empty" in capsys.readouterr().err
    assert cli(["agent", "Text Sid hi"]) == 1
    assert "run `workbench finetune` first" in capsys.readouterr().err
    assert cli(["agent", "Text Sid hi", "--model", str(tmp_workbench / "nope"), "--toolrag", "none"]) == 1
    assert "workbench finetune" in capsys.readouterr().err
    assert cli(["agent", "--joiner", "llm", "Text Sid hi"]) == 1
    assert "no joiner model exists offline" in capsys.readouterr().err
    assert cli(["agent", "--provider", "vllm", "--constrained", "Text Sid hi"]) == 1
    assert "needs --provider llamacpp" in capsys.readouterr().err
    assert cli(["agent", "--benchmark", "Text Sid hi"]) == 1
    assert "give a query, --audio FILE or --benchmark, one of them" in capsys.readouterr().err
    assert cli(["agent", "--benchmark", "-n", "3"]) == 1
    assert "run `workbench synth`" in capsys.readouterr().err, "no test split yet"


# ------------------------------------------------------------------------------------ benchmark


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    from workbench.stages.synth import run as synth
    from workbench.synth.dataset import SynthConfig, load_split

    root = tmp_path_factory.mktemp("agent")
    mp = pytest.MonkeyPatch()
    for name in ("DATA", "FIGURES", "ARTIFACTS"):
        mp.setenv(f"WORKBENCH_{name}_DIR", str(root / name.lower()))
    synth(SynthConfig(train=120, val=10, test=8, ood=4, report_sample=10))
    yield load_split("test")
    mp.undo()


def test_benchmark_writes_latency_and_success(dataset):
    gold = {r["query"]: r["plan"] for r in dataset}
    first = dataset[0]["query"]

    def planner(messages):  # the gold plan, except garbage for the first query
        query = messages[-1]["content"]
        return GARBAGE if first in query else gold[query]

    r = run_benchmark(
        AgentConfig(n=4), agent=TinyAgent(ScriptedLLM(planner), kind="compact", max_replans=1), progress=False
    )
    saved = json.loads(config.results_path("agent").read_text())
    assert saved == r and r["n"] == 4 and r["profile"] == config.active_profile()
    assert r["success_test"] == 0.75 and r["finished_rate"] == 0.75, "garbage once, gold three times"
    assert r["median_latency_s"] <= r["p95_latency_s"] and len(r["latencies_s"]) == 4
    assert set(r["per_stage"]) == set(STAGES)
    assert all(
        set(v) == {"median_s", "p95_s"} and v["median_s"] <= v["p95_s"] for v in r["per_stage"].values()
    )
    assert r["device"] == "ScriptedLLM" and "joiner: rule-based" in r["agent"]


# ------------------------------------------------------------------------------------ in process


@pytest.fixture(scope="module")
def tiny(dataset):
    """A tiny random Llama and its tokenizer, trained here (a planner that writes valid plans only under the
    grammar)."""
    from workbench.finetune import base
    from workbench.finetune.tokenizer import train_tokenizer
    from workbench.synth.dataset import load_split
    from workbench.tools.tinyagent import TOOL_NAMES

    docs = base.pretraining_corpus(load_split("train"), calendar=50, doc_repeats=1)
    tokenizer = train_tokenizer(docs, vocab_size=320, whole_words=TOOL_NAMES)
    return base.small_llama(tokenizer, hidden=32, layers=2, heads=2, intermediate=64), tokenizer


def _tiny_planner(tiny, tools, limits):
    from workbench.planner import Planner
    from workbench.planner.grammar import max_plan_bytes

    def select(queries):
        return [tools] * len(queries)

    return Planner(
        *tiny,
        select=select,
        constrained=True,
        grammar_limits=limits,
        max_new_tokens=max_plan_bytes(tinyagent_tools(tools), **limits),
    )


def test_one_query_visits_toolrag_planner_executor_and_joiner_in_order_and_never_calls_back(tiny):
    """The path of one query, traced: each part once per round, in order, and nothing re-enters the agent."""
    tools = ["get_phone_number", "send_sms"]
    agent = TinyAgent(_tiny_planner(tiny, tools, {"max_steps": 2, "max_str_len": 6, "max_list_len": 2}))
    calls: list[tuple[str, str]] = []

    def profile(frame, event, arg):
        if event == "call":
            calls.append((frame.f_code.co_filename.replace("\\", "/"), frame.f_code.co_qualname))

    sys.setprofile(profile)
    try:
        result = run(agent.run("Text Ana that I'm late", TODAY))
    finally:
        sys.setprofile(None)

    def first(path: str, name: str) -> int:
        return next(i for i, (f, q) in enumerate(calls) if f.endswith(path) and q == name)

    order = [
        first("tests/test_agent.py", "_tiny_planner.<locals>.select"),  # ToolRAG
        first("workbench/planner/runtime.py", "Planner.llm"),  # the planner runtime
        first("workbench/compiler/executor.py", "Executor.run"),  # the task fetching unit
        first("workbench/compiler/executor.py", "Executor._call"),  # a tool
        first("workbench/compiler/joiner.py", "RuleJoiner.__call__"),  # the joiner
    ]
    assert order == sorted(order), "ToolRAG, planner, executor, tools, joiner"
    rounds = len(result.rounds)
    assert sum(q == "Planner.llm" for _, q in calls) == 1, "one streaming planner per query"
    assert sum(q == "LLMCompiler.run" for _, q in calls) >= 1
    entered = {q.split(".<locals>")[0] for f, q in calls if f.endswith("workbench/agent.py")}
    assert entered <= {"TinyAgent.run", "TinyAgent.tools_for"}, f"called back into the agent: {entered}"
    assert rounds >= 1 and result.rounds[0].plan_completion is not None


def test_a_tiny_random_planner_streams_valid_plans_in_process(tiny, tmp_path):
    from workbench.finetune import base
    from workbench.finetune.settings import DECODING_FILE
    from workbench.planner.grammar import max_plan_bytes
    from workbench.tools.tinyagent import TOOL_NAMES

    model, tokenizer = tiny
    tools = ["get_phone_number", "send_sms"]
    limits = {"max_steps": 2, "max_str_len": 6, "max_list_len": 2}
    planner = _tiny_planner(tiny, tools, limits)
    agent = TinyAgent(planner, max_replans=0)
    assert "fine-tuned planner in process" in agent.describe() and "grammar-constrained" in agent.describe()
    query = "Text Ana that I'm late"
    result = run(agent.run(query, TODAY))
    plan = parse_plan(result.first_plan, tinyagent_tools())  # constrained: parses and validates
    assert {s.tool for s in plan.tasks} <= set(tools) and result.tools == tools
    whole = planner.plan([query], [TODAY])[0]["plan"]
    assert whole.removesuffix(END_OF_PLAN).strip() == result.first_plan.strip(), (
        "streamed = whole-plan decoding"
    )
    assert result.rounds[0].plan_completion.usage.completion_tokens > 0 and result.latency["planning"] > 0

    folder = base.save_model(model, tokenizer, tmp_path / "planner")  # as `workbench finetune` leaves it
    budget = max_plan_bytes(tinyagent_tools(), **limits)  # enough for any plan over all 16 tools
    (folder / DECODING_FILE).write_text(
        json.dumps({"prompt": "compact", "max_new_tokens": budget, "grammar_limits": limits})
    )
    loaded = TinyAgent.from_config(
        AgentConfig(model=str(folder), toolrag="none", constrained=True, max_replans=0), tmp_path
    )
    assert loaded.local.grammar_limits == limits and loaded.max_plan_tokens == budget
    assert str(folder) in loaded.describe() and loaded.select is None
    again = run(loaded.run(query, TODAY))
    assert parse_plan(again.first_plan, tinyagent_tools()).tasks and again.tools == list(TOOL_NAMES)


@pytest.mark.parametrize("profile", config.PROFILES)
def test_every_profile_has_valid_agent_settings(profile):
    cfg = config.stage_config(AgentConfig, "agent", profile)
    # the rehearsal of the paper profile joins with an LLM on its test server; every other profile by rule
    assert (
        cfg.n >= 1
        and cfg.joiner == ("llm" if profile == "paper-rehearsal" else "rule")
        and cfg.provider is None
    )
    with pytest.raises(ValueError, match="no joiner model exists offline"):
        AgentConfig(joiner="llm")


def test_a_query_past_the_planner_context_is_refused_and_says_so(tiny):
    # Issue 21, defect 15: a 60,000-character query ran silently past the model's 1,024 positions.
    tools = ["get_phone_number", "send_sms"]
    agent = TinyAgent(_tiny_planner(tiny, tools, {"max_steps": 2, "max_str_len": 6, "max_list_len": 2}))
    query = "Text Ana that " + "very " * 12_000 + "late"
    result = run(agent.run(query, TODAY))
    assert "too long for the planner" in result.answer and "1,024 positions" in result.answer
    assert result.rounds == [] and result.first_plan == "" and not result.served


def test_the_planner_runtime_merges_a_repeated_lookup_in_batch_and_in_stream(tiny, monkeypatch):
    """The model's text is scripted here (a tiny random model seldom repeats a look-up on cue): what is tested is
    that `Planner.plan` and the streaming `Planner.llm` both pass it through the merge, and `merge_repeats=False`
    keeps it as written."""
    from workbench.plan import merge_repeated_calls
    from workbench.tools.tinyagent import LOOKUP_TOOLS

    text = (
        '1. get_email_address("Sid")\n2. get_email_address("Lutfi")\n3. get_email_address("Lutfi")\n'
        '4. create_calendar_event("Meeting", "2024-06-13 14:00:00", "2024-06-13 15:00:00", "", '
        '["$1", "$2", "$3"], "", None)\n5. join()<END_OF_PLAN>'
    )
    merged = merge_repeated_calls(text, LOOKUP_TOOLS)
    assert merged != text and len(parse_plan(merged).tasks) == 3
    tools = ["get_email_address", "create_calendar_event"]
    planner = _tiny_planner(tiny, tools, {"max_steps": 4, "max_str_len": 8, "max_list_len": 3})
    monkeypatch.setattr(planner.engine, "generate_batch", lambda prompts, budget: [text] * len(prompts))
    assert planner.plan([FIG1_QUERY], ["2024-06-12"])[0]["plan"] == merged
    planner.merge_repeats = False
    assert planner.plan([FIG1_QUERY], ["2024-06-12"])[0]["plan"] == text
    monkeypatch.setattr(planner.engine, "with_logits_processors", lambda _: ScriptedLLM([text] * 2))
    chat = [{"role": "user", "content": FIG1_QUERY}]
    assert run(planner.llm(tools, FIG1_QUERY).complete(chat)).text == text
    planner.merge_repeats = True
    assert run(planner.llm(tools, FIG1_QUERY).complete(chat)).text == merged


def test_the_planner_runtime_puts_back_a_request_the_whole_plan_dropped_in_batch_and_in_stream(
    tiny, monkeypatch
):
    """The model's plans are scripted by prompt (what is tested is the runtime around them): the whole plan of a
    two-request query leaves out the note; the note's request, planned alone, is put back before join(), in
    `Planner.plan` and in the agent's stream alike. A request the whole plan did serve adds nothing."""
    query = "Text Ana that I'm late. Also, make a note called Milk"
    sms = '1. get_phone_number("Ana")\n2. send_sms(["$1"], "I\'m late")\n3. join()<END_OF_PLAN>'
    note = '1. create_note("Milk", "", "")\n2. join()<END_OF_PLAN>'
    # the text comes out at join(): a look-up written after it could be bound to it (`planner.lookups`)
    both = '1. get_phone_number("Ana")\n2. create_note("Milk", "", "")\n3. send_sms(["$1"], "I\'m late")\n4. join()<END_OF_PLAN>'
    tools = ["get_phone_number", "send_sms", "create_note"]
    planner = _tiny_planner(tiny, tools, {"max_steps": 4, "max_str_len": 10, "max_list_len": 2})
    decode = planner.tokenizer.decode

    def generate_batch(
        prompts, budget
    ):  # the whole query and the sms request: the sms plan; the note's: a note
        texts = [decode(p) for p in prompts]
        return [sms if "Also" in t or "Milk" not in t else note for t in texts]

    monkeypatch.setattr(planner.engine, "generate_batch", generate_batch)
    out = planner.plan([query, "Text Ana that I'm late"], [TODAY] * 2)
    assert [p["plan"] for p in out] == [both, sms] and [p["requests_added"] for p in out] == [True, False]
    planner.recover_requests = False
    assert planner.plan([query], [TODAY])[0]["plan"] == sms
    planner.recover_requests = True

    scripted = ScriptedLLM([sms] * 3)
    scripted.generate_batch = generate_batch  # the requests are planned in batch, as `plan` does
    monkeypatch.setattr(planner.engine, "with_logits_processors", lambda _: scripted)
    chat = [{"role": "user", "content": query}]
    streamed = planner.llm(tools, query, TODAY)
    assert run(streamed.complete(chat)).text == both
    assert run(streamed.complete(chat)).text == sms  # a replan is left as the model writes it
    assert run(planner.llm(tools, query).complete(chat)).text == sms  # without today: no requests planned


def test_the_planner_runtime_moves_dates_onto_the_day_the_query_names_in_batch_and_in_stream(
    tiny, monkeypatch
):
    """The model's plan is scripted (a date off by one, as small planners write "tomorrow"): `Planner.plan` and
    the streamed plan both carry the day the query names; `resolve_dates=False` keeps the model's."""
    wrong = (
        '1. get_email_address("Sid")\n2. create_calendar_event("Meeting", "2024-06-12 14:00:00", '
        '"2024-06-12 15:00:00", "", ["$1"], "", None)\n3. join()<END_OF_PLAN>'
    )
    right = wrong.replace("2024-06-12", "2024-06-13")
    tools = ["get_email_address", "create_calendar_event"]
    planner = _tiny_planner(tiny, tools, {"max_steps": 3, "max_str_len": 20, "max_list_len": 2})
    monkeypatch.setattr(planner.engine, "generate_batch", lambda prompts, budget: [wrong] * len(prompts))
    query = "Create a meeting with Sid for tomorrow 2pm"
    assert planner.plan([query], ["2024-06-12"])[0]["plan"] == right
    assert planner.plan([query], ["2024-06-13"])[0]["plan"] == right.replace("2024-06-13", "2024-06-14")
    planner.resolve_dates = False
    assert planner.plan([query], ["2024-06-12"])[0]["plan"] == wrong
    monkeypatch.setattr(planner.engine, "with_logits_processors", lambda _: ScriptedLLM([wrong] * 3))
    chat = [{"role": "user", "content": query}]
    assert run(planner.llm(tools, query, "2024-06-12").complete(chat)).text == wrong
    planner.resolve_dates = True
    assert run(planner.llm(tools, query, "2024-06-12").complete(chat)).text == right


@pytest.mark.parametrize(
    ("wrong", "right"),
    [
        (  # the note is there before the text
            '1. get_phone_number("Ana")\n2. get_email_address("Ana")\n3. open_note("Milk", "")\n'
            '4. send_sms(["$1"], "$2")\n5. join()<END_OF_PLAN>',
            '1. get_phone_number("Ana")\n2. get_email_address("Ana")\n3. open_note("Milk", "")\n'
            '4. send_sms(["$1"], "$3")\n5. join()<END_OF_PLAN>',
        ),
        (  # the note comes after the text: the text waits for it
            '1. get_phone_number("Ana")\n2. send_sms(["$1"], "$1")\n3. get_email_address("Ana")\n'
            '4. open_note("Milk", "")\n5. join()<END_OF_PLAN>',
            '1. get_phone_number("Ana")\n2. get_email_address("Ana")\n3. open_note("Milk", "")\n'
            '4. send_sms(["$1"], "$3")\n5. join()<END_OF_PLAN>',
        ),
    ],
)
def test_the_planner_runtime_re_points_a_reference_of_the_wrong_kind_in_batch_and_in_stream(
    tiny, monkeypatch, wrong, right
):
    """The model's plan is scripted (a text whose message names a look-up, not the note): `Planner.plan` and
    the streamed plan both send the note; `type_references=False` (and `bind_lookups=False`) keeps the model's
    wiring."""
    tools = ["get_phone_number", "get_email_address", "open_note", "send_sms"]
    planner = _tiny_planner(tiny, tools, {"max_steps": 4, "max_str_len": 10, "max_list_len": 2})
    monkeypatch.setattr(planner.engine, "generate_batch", lambda prompts, budget: [wrong] * len(prompts))
    query = "text Ana my milk note"
    assert planner.plan([query], [TODAY])[0]["plan"] == right
    planner.type_references = planner.bind_lookups = False  # the binding would hold the text back
    assert planner.plan([query], [TODAY])[0]["plan"] == wrong
    monkeypatch.setattr(planner.engine, "with_logits_processors", lambda _: ScriptedLLM([wrong] * 3))
    chat = [{"role": "user", "content": query}]
    assert run(planner.llm(tools, query).complete(chat)).text == wrong
    planner.type_references = planner.bind_lookups = True
    streamed = planner.llm(tools, query)
    assert run(streamed.complete(chat)).text == right
    assert run(streamed.complete(chat)).text == right, "a replan is typed afresh"


def test_the_best_planner_is_offered_the_tools_its_variant_was_measured_with(tiny, tmp_path):
    """The first run chose a variant offered all 16 tools; a ToolRAG classifier trained beside it must not then
    narrow the tools the agent plans with (it had selected 1 of the 2 tools a meeting needs)."""
    from workbench.finetune import base
    from workbench.planner import Planner

    base.save_model(*tiny, tmp_path / "planner" / "full" / "model")
    (tmp_path / "toolrag" / "classifier").mkdir(parents=True)
    (tmp_path / "toolrag" / "classifier" / "toolrag.json").write_text("{}")  # a classifier is there
    best = {"model_dir": "planner/full/model", "toolrag": False, "constrained": True, "grounded": False}
    (tmp_path / "planner" / "best.json").write_text(json.dumps(best))
    planner = Planner.best(tmp_path)
    assert planner.select is None and planner.constrained
    agent = TinyAgent.from_config(AgentConfig(toolrag="auto"), tmp_path)
    assert agent.select is None and "all 16 tools" in agent.describe()


def test_the_in_process_planner_joins_with_an_llm_of_its_own(capsys):
    """The paper's agent: the fine-tuned planner in process, an LLM joiner on a server (`--joiner-provider`)."""
    with FakeChatServer(["Thought: found it.\nAction: Finish(Sid's email is sid.jha@example.com)"]) as server:
        rc = cli(
            [
                "agent", "Find Sid's email", "--model", str(bundled_planner()), "--toolrag", "none",
                "--joiner", "llm", "--joiner-provider", "vllm", "--joiner-base-url", server.base_url,
                "--joiner-model", "judge",
            ]
        )  # fmt: skip
        joined = server.requests[0]
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "joiner: LLM" in out and joined["model"] == "judge"
    assert "answer: Sid's email is sid.jha@example.com" in out
    with pytest.raises(ValueError, match="joiner=llm needs an LLM"):
        AgentConfig(joiner="llm")


def test_results_name_a_model_folder_relative_to_the_artifacts_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_ARTIFACTS_DIR", str(tmp_path / "art"))
    assert _shown_path(str(tmp_path / "art" / "planner" / "full" / "model")) == "planner/full/model"
    assert _shown_path(str(tmp_path / "elsewhere")) == str(tmp_path / "elsewhere")
