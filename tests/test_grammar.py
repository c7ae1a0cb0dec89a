"""Grammar-constrained plan decoding: the grammar accepts gold plans and rejects broken ones, and a random
model sampling under the constraint writes only plans that parse and validate."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.finetune.tokenizer import train_tokenizer
from workbench.plan import END_OF_PLAN, Plan, Step, parse_plan, render_plan
from workbench.planner.grammar import (
    PlanLogitsProcessor,
    _mask_logits,
    close_cut_plan,
    constrained_generate_kwargs,
    grammar_accepts,
    ll_tokenizer,
    mlx_logits_processor,
    new_matcher,
    plan_grammar,
    query_spans,
)
from workbench.synth import offline
from workbench.tools import tinyagent_tools
from workbench.tools.spec import Param, ToolSpec

TOOLS = tinyagent_tools()
SPECS = {t.name: t for t in TOOLS}
ALL = plan_grammar(TOOLS)
# The TinyAgent tools have no float or "any" parameters; this one does.
CONVERT = ToolSpec("convert", (Param("x", "float"), Param("y", "any"), Param("z", "bool", optional=True)), "")
WITH_CONVERT = plan_grammar([*TOOLS, CONVERT])


def _records(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    return [offline.compose(rng, "train", offline.random_today(rng))[:2] for _ in range(n)]


RECORDS = _records(300)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from torch's thread pool, which stalls when other processes share the cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tok():
    tok = train_tokenizer([text for record in RECORDS for text in record], vocab_size=400)
    tok.padding_side = "left"  # for batched generation
    return tok


def _own(plan: str) -> str:
    """The grammar of the plan's own tools."""
    return plan_grammar([SPECS[name] for name in dict.fromkeys(parse_plan(plan).tools)])


# ------------------------------------------------------------------------------------------ acceptance


def test_accepts_composed_gold_plans(tok):
    for _, plan in RECORDS:
        assert grammar_accepts(tok, _own(plan), plan), plan
        assert grammar_accepts(tok, ALL, plan), plan


GOLD = """\
1. get_phone_number("Alejandro")
2. get_phone_number("Sehoon Liu")
3. send_sms(["$1", "$2"], "see you at the station")
4. join()<END_OF_PLAN>"""


@pytest.mark.parametrize(
    "bad",
    [
        GOLD.replace("send_sms", "send_text"),  # unknown tool
        GOLD.replace('"Sehoon Liu"', '"$3"'),  # forward reference
        GOLD.replace('"Sehoon Liu"', '"$2"'),  # self reference
        GOLD.replace('"$1"', '"${1}"'),  # braces are not written
        GOLD.replace(', "see you at the station"', ""),  # too few arguments
        GOLD.replace('"see you at the station"', '"hi", "there"'),  # too many arguments
        GOLD.replace("\n4. join()<END_OF_PLAN>", ""),  # no join
        GOLD.replace("<END_OF_PLAN>", ""),  # no end marker
        GOLD.replace('send_sms(["$1", "$2"], ', 'send_sms(recipients=["$1", "$2"], '),  # keyword argument
        "Thought: look them up first.\n" + GOLD,  # thoughts
        GOLD.replace("2. get", "3. get"),  # numbering
        GOLD.replace('"Alejandro"', "'Alejandro'"),  # single quotes
        GOLD.replace('"Alejandro"', "Alejandro"),  # bare word
        GOLD.replace('"Alejandro"', '"$1"'),  # reference at step 1
        GOLD.replace('"Alejandro"', '"Ale $5"'),  # dollar in a plain string
        GOLD.replace('["$1", "$2"]', '["$1","$2"]'),  # separator
        GOLD.replace('"Alejandro"', '"' + "a" * 201 + '"'),  # string too long
        GOLD + "\n5. join()",  # text after the end
        "1. join()<END_OF_PLAN>",  # no tool step
    ],
)
def test_rejects_broken_plans(tok, bad):
    assert bad != GOLD
    assert not grammar_accepts(tok, ALL, bad)


def test_rejects_wrong_types_and_tools_outside_the_subset(tok):
    reminder = '1. create_reminder("Pay rent", None, "", "", {}, {})\n2. join()<END_OF_PLAN>'
    assert grammar_accepts(tok, ALL, reminder.format(0, "False"))
    assert grammar_accepts(tok, ALL, reminder.format("None", "True"))
    assert not grammar_accepts(tok, ALL, reminder.format('"0"', "False"))  # str for int
    assert not grammar_accepts(tok, ALL, reminder.format(0, "false"))  # not a Python bool
    assert not grammar_accepts(tok, ALL, reminder.format(0, '"False"'))
    assert not grammar_accepts(tok, plan_grammar([SPECS["send_sms"]]), reminder.format(0, "False"))
    assert not grammar_accepts(tok, ALL, GOLD.replace('"Alejandro"', "None"))  # name is required


def test_step_bound(tok):
    one = '{}. get_phone_number("A")'
    plan = "\n".join(one.format(k) for k in range(1, 4)) + f"\n4. join(){END_OF_PLAN}"
    assert grammar_accepts(tok, plan_grammar(TOOLS, max_steps=3), plan)
    assert not grammar_accepts(tok, plan_grammar(TOOLS, max_steps=2), plan)


def test_float_and_any_parameters(tok):
    grammar = plan_grammar([CONVERT])
    plan = "1. convert({})\n2. join()<END_OF_PLAN>"
    for args in ['2.5, ["a"], None', "-3, 7, True", '0.125, "s", False', "1, None, None", "0, -1.5, False"]:
        assert grammar_accepts(tok, grammar, plan.format(args)), args
        parse_plan(plan.format(args), [CONVERT])
    for args in ['"2.5", 1, None', "2.5e3, 1, None", "1., 1, None", "1, 1", "1, {}, None", "01, 1, None"]:
        assert not grammar_accepts(tok, grammar, plan.format(args)), args


def test_rejects_tool_sets_it_cannot_write(tok):
    with pytest.raises(ValueError):
        plan_grammar([])
    with pytest.raises(ValueError):
        plan_grammar([ToolSpec("join", (), "")])
    with pytest.raises(ValueError, match="invalid plan grammar"):
        new_matcher(ll_tokenizer(tok), "start: undefined_rule")


# Strings in the grammar's alphabet, as the offline teacher writes them (names, dates, Unicode letters).
_TEXT = st.text(
    st.characters(codec="utf-8", exclude_characters="$<", exclude_categories=("Cc", "Cs")), max_size=30
)


@st.composite
def _plans(draw):
    """A random valid plan over random tools, with references only to earlier steps."""
    steps = []
    n = draw(st.integers(1, 6))
    for k in range(1, n + 1):
        spec = draw(st.sampled_from([*TOOLS, CONVERT]))
        refs = [f"${j}" for j in range(1, k)]
        string = st.one_of(_TEXT, st.sampled_from(refs)) if refs else _TEXT
        args = []
        for p in spec.params:
            value = {
                "str": string,
                "list[str]": st.lists(string, max_size=3),
                "int": st.integers(-9, 10**6),
                "float": st.floats(-1e6, 1e6).map(lambda x: round(x, 3)),
                "bool": st.booleans(),
                "any": st.one_of(
                    string, st.lists(string, max_size=3), st.integers(-9, 99), st.booleans(), st.none()
                ),
            }[p.type]
            if p.single_ok:
                value = st.one_of(value, string)
            if p.optional:
                value = st.one_of(value, st.none())
            args.append(draw(value))
        steps.append(Step(k, spec.name, tuple(args)))
    return Plan([*steps, Step(n + 1, "join")])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=_plans())
def test_accepts_every_rendered_plan(tok, plan):
    text = render_plan(plan)
    assert grammar_accepts(tok, WITH_CONVERT, text), text


# ------------------------------------------------------------------------------------------- decoding


def _tiny_llama(vocab: int, seed: int):
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=4096,
    )
    return LlamaForCausalLM(config).eval()


BOUNDS = {"max_steps": 3, "max_str_len": 6, "max_list_len": 2}
# Every token is at least one byte, so a plan's length in bytes bounds its tokens: 3 steps of at most 7
# arguments, each `[s, s], ` with strings of 6 characters of at most 4 bytes (\" counts 2), plus names.
MAX_NEW = 3 * (40 + 7 * (6 + 2 * (2 + 4 * BOUNDS["max_str_len"]))) + 40


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_model_writes_only_valid_plans(tok, seed):
    rng = random.Random(seed)
    rows = [rng.sample(TOOLS, rng.randint(1, 5)) for _ in range(8)]
    model = _tiny_llama(len(tok), seed)
    queries = [q for q, _ in RECORDS[8 * seed : 8 * seed + 8]]
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in queries
    ]
    inputs = tok(prompts, return_tensors="pt", padding=True)
    kwargs = constrained_generate_kwargs(tok, [plan_grammar(specs, **BOUNDS) for specs in rows])
    torch.manual_seed(seed)
    out = model.generate(**inputs, do_sample=True, temperature=1.0, top_k=0, max_new_tokens=MAX_NEW, **kwargs)
    new = out[:, inputs["input_ids"].shape[1] :]
    for specs, ids in zip(rows, new.tolist(), strict=True):
        assert tok.eos_token_id in ids, "the row did not finish"
        text = tok.decode(ids[: ids.index(tok.eos_token_id)])
        assert text.endswith(f"join(){END_OF_PLAN}"), text
        plan = parse_plan(text, specs)  # parses and validates
        assert 1 <= len(plan.tasks) <= BOUNDS["max_steps"] and set(plan.tools) <= {s.name for s in specs}
    assert not any(kwargs["logits_processor"][0].batch.errors())


def test_greedy_and_broadcast_grammar(tok):
    """One grammar for all rows and num_return_sequences; greedy decoding of a random model also ends."""
    model = _tiny_llama(len(tok), 7)
    inputs = tok(["<|user|>\nText Bo<|end|>\n<|assistant|>\n"], return_tensors="pt")
    grammar = plan_grammar([SPECS["get_phone_number"], SPECS["send_sms"]], **BOUNDS)
    out = model.generate(
        **inputs,
        do_sample=True,
        num_return_sequences=3,
        max_new_tokens=MAX_NEW,
        **constrained_generate_kwargs(tok, grammar),
    )
    greedy = model.generate(
        **inputs, do_sample=False, max_new_tokens=MAX_NEW, **constrained_generate_kwargs(tok, [grammar])
    )
    start = inputs["input_ids"].shape[1]
    for ids in out[:, start:].tolist() + greedy[:, start:].tolist():
        assert tok.eos_token_id in ids
        parse_plan(tok.decode(ids[: ids.index(tok.eos_token_id)]), TOOLS)


def test_processor_masks_to_eos_after_the_plan(tok):
    grammar = plan_grammar([SPECS["get_phone_number"]])
    ids = tok(f'1. get_phone_number("Bo")\n2. join(){END_OF_PLAN}')["input_ids"]
    proc = PlanLogitsProcessor(tok, [grammar, grammar])
    vocab = len(tok) + 5  # a model may have more logits than the tokenizer has tokens
    prompt = torch.zeros((2, 3), dtype=torch.long)
    for i in range(len(ids) + 3):
        raw = torch.zeros((2, vocab))
        allowed = torch.isfinite(proc(prompt, raw))
        assert torch.isfinite(raw).all()  # generate keeps the raw logits: no masking in place
        if i < len(ids):
            assert allowed[0, ids[i]]
            nxt = torch.tensor([[ids[i]], [tok.eos_token_id]])  # row 1: a disallowed token breaks it
        else:
            assert allowed[0].nonzero().flatten().tolist() == [tok.eos_token_id]
            nxt = torch.tensor([[tok.pad_token_id]] * 2)  # finished rows get padding
        assert i == 0 or allowed[1].nonzero().flatten().tolist() == [tok.eos_token_id]
        assert not allowed[:, len(tok) :].any()
        prompt = torch.cat([prompt, nxt], dim=1)
    first = torch.isfinite(proc(torch.zeros((2, 3), dtype=torch.long), torch.zeros((2, vocab))))
    assert first[:, ids[0]].all() and first.sum() < len(tok)  # a new prompt starts the plans over


def test_both_mask_paths_agree():
    """The numpy path (CPU float32) and the torch path (GPU, other dtypes) mask the same tokens."""
    rng = np.random.default_rng(0)
    bitmask = rng.integers(-(2**31), 2**31, size=(3, 4), dtype=np.int32)
    for vocab in (100, 128, 140):  # fewer, as many and more logits than the mask has bits
        scores = torch.randn(3, vocab)
        a = _mask_logits(scores, bitmask)
        b = _mask_logits(scores.double(), bitmask)
        assert torch.equal(torch.isfinite(a), torch.isfinite(b)) and torch.isfinite(scores).all()
        assert not torch.isfinite(a[:, 128:]).any() and torch.isfinite(a).any()
        bits = [(int(bitmask[r, t // 32]) >> (t % 32)) & 1 for r in range(3) for t in range(min(vocab, 128))]
        assert torch.isfinite(a[:, :128]).flatten().tolist() == [bool(bit) for bit in bits]


def test_mlx_processor_with_numpy_logits(tok):
    grammar = plan_grammar([SPECS["open_note"]], **BOUNDS)
    process = mlx_logits_processor(tok, grammar)
    rng = np.random.default_rng(0)
    tokens = list(tok("<|user|>\nOpen my note<|end|>\n<|assistant|>\n")["input_ids"])
    start = len(tokens)
    for _ in range(MAX_NEW):
        logits = process(np.array(tokens), rng.normal(size=(1, len(tok))).astype(np.float32))
        tokens.append(int(np.argmax(logits)))
        if tokens[-1] == tok.eos_token_id:
            break
    text = tok.decode(tokens[start:-1])
    assert tokens[-1] == tok.eos_token_id and set(parse_plan(text, TOOLS).tools) == {"open_note"}
    restart = process(np.array(tokens[:start]), np.zeros((1, len(tok)), dtype=np.float32))  # a new generation
    assert np.isfinite(restart[0, tokens[start]]) and np.isfinite(restart).sum() < len(tok)


def test_mlx_lm_generate(tok):
    """End to end with mlx-lm (its CPU build runs on Linux): a random mlx Llama writes a valid plan."""
    mx = pytest.importorskip("mlx.core")
    llama = pytest.importorskip("mlx_lm.models.llama")
    from mlx_lm.generate import generate
    from mlx_lm.sample_utils import make_sampler
    from mlx_lm.tokenizer_utils import TokenizerWrapper

    mx.random.seed(0)
    model = llama.Model(
        llama.ModelArgs(
            model_type="llama",
            hidden_size=32,
            num_hidden_layers=2,
            intermediate_size=64,
            num_attention_heads=4,
            rms_norm_eps=1e-5,
            vocab_size=len(tok),
        )
    )
    wrapper = TokenizerWrapper(tok)
    specs = [SPECS["get_phone_number"], SPECS["send_sms"]]
    text = generate(
        model,
        wrapper,
        "<|user|>\nText Bo<|end|>\n<|assistant|>\n",
        max_tokens=MAX_NEW,
        sampler=make_sampler(temp=1.0),
        logits_processors=[mlx_logits_processor(wrapper, plan_grammar(specs, **BOUNDS))],
    )
    assert text.endswith(f"join(){END_OF_PLAN}") and parse_plan(text, specs)


def test_a_plan_cut_off_by_the_budget_is_closed_and_still_parses(tok):
    from workbench.planner import Planner

    tools = [["get_phone_number", "send_sms"], ["create_note", "open_note", "get_email_address"]]
    planner = Planner(
        _tiny_llama(len(tok), 3),
        tok,
        constrained=True,
        max_new_tokens=30,
        grammar_limits={"max_steps": 20, "max_str_len": 200, "max_list_len": 8},
    )
    preds = planner.plan(["Text Bo I'm late", "Note the milk"] * 3, ["2024-06-12"] * 6, tools=tools * 3)
    assert any(p["cut"] for p in preds), "a 30-token budget cuts a random model's plans"
    for p in preds:
        plan = parse_plan(p["plan"], TOOLS)  # parses and validates: only the offered tools, closed by join()
        assert set(plan.tools) <= set(p["tools"]) and p["plan"].endswith(f"join(){END_OF_PLAN}")
    assert close_cut_plan('1. open_note("a", "")\n2. join()<END_OF_PLAN>').endswith("2. join()<END_OF_PLAN>")


# ------------------------------------------------------------------------------------------ grounded decoding


def test_grounded_grammar_accepts_gold_plans_and_only_names_from_the_query(tok):
    for query, plan in RECORDS[:100]:  # every grounded gold argument is a span of its query
        assert grammar_accepts(tok, plan_grammar(TOOLS, spans=query_spans(query)), plan), (query, plan)
    g = plan_grammar(
        TOOLS, spans=query_spans('Text Ana (my boss) that I\'m late, then open my Q3 "draft" plan note.')
    )
    ok = [
        '1. get_phone_number("Ana")\n2. send_sms(["$1"], "anything at all")\n3. join()<END_OF_PLAN>',
        '1. get_phone_number("Ana")\n2. get_phone_number("$1")\n3. join()<END_OF_PLAN>',
        '1. get_phone_number("boss")\n2. open_note("Q3 \\"draft\\" plan", "")\n3. join()<END_OF_PLAN>',  # quotes escaped
        '1. open_note("Q3", "")\n2. open_note("Q3", None)\n3. join()<END_OF_PLAN>',
    ]
    bad = [
        '1. get_phone_number("Bob")\n2. join()<END_OF_PLAN>',  # not in the query
        '1. get_phone_number("An")\n2. join()<END_OF_PLAN>',  # not a whole word
        '1. get_phone_number("")\n2. join()<END_OF_PLAN>',  # required: no empty name
        '1. open_note("Shopping", "")\n2. join()<END_OF_PLAN>',
    ]
    for plan in ok:
        assert grammar_accepts(tok, g, plan), plan
    for plan in bad:
        assert not grammar_accepts(tok, g, plan), plan
    assert plan_grammar(TOOLS, spans=[]) == ALL, "no spans: the plain grammar"
    odd = plan_grammar(
        TOOLS, spans=query_spans("Pay $5 to <Bo> now")
    )  # spans a plain string cannot hold are left out
    assert grammar_accepts(tok, odd, '1. get_phone_number("Pay")\n2. join()<END_OF_PLAN>')
    assert not grammar_accepts(tok, odd, '1. get_phone_number("Pay $5")\n2. join()<END_OF_PLAN>')
    assert not grammar_accepts(tok, odd, '1. get_phone_number("<Bo>")\n2. join()<END_OF_PLAN>')


def test_random_model_under_the_grounded_grammar_copies_every_name(tok):
    queries = [q for q, _ in RECORDS[40:48]]
    rows = [[SPECS["get_phone_number"], SPECS["open_and_get_file_path"], SPECS["maps_open_location"]]] * len(
        queries
    )
    grammars = [
        plan_grammar(specs, **BOUNDS, spans=query_spans(q)) for specs, q in zip(rows, queries, strict=True)
    ]
    for query, text in zip(queries, _sampled_plans(tok, queries, grammars, seed=3), strict=True):
        plan = parse_plan(text)
        names = [a for step in plan.tasks for a in step.args if not a.startswith("$")]
        assert names and all(n in query_spans(query) for n in names), (query, names)


# --------------------------------------------------------------------------------------- covering grammar


def test_a_covering_grammar_accepts_gold_plans_and_only_plans_that_call_every_required_tool(tok):
    extra = [SPECS["create_note"], SPECS["maps_open_location"]]
    for _, plan in RECORDS[:60]:
        tools = list(dict.fromkeys(parse_plan(plan).tools))
        if len(tools) > 6 or {"create_note", "maps_open_location"} & set(tools):
            continue
        specs = [*(SPECS[t] for t in tools), *extra]
        assert grammar_accepts(tok, plan_grammar(specs, require=tools), plan), plan
        assert not grammar_accepts(tok, plan_grammar(specs, require=[*tools, "create_note"]), plan), plan
    with pytest.raises(ValueError, match="cannot all be called"):
        plan_grammar(TOOLS, max_steps=3, require=[t.name for t in TOOLS[:4]])


def test_random_model_under_a_covering_grammar_calls_every_required_tool(tok):
    rng = random.Random(5)
    rows = [rng.sample(TOOLS, 3) for _ in range(8)]
    required = [[s.name for s in specs[:2]] for specs in rows]
    queries = [q for q, _ in RECORDS[60:68]]
    grammars = [plan_grammar(s, **BOUNDS, require=r) for s, r in zip(rows, required, strict=True)]
    for need, text in zip(required, _sampled_plans(tok, queries, grammars, seed=5), strict=True):
        plan = parse_plan(text)
        assert set(need) <= set(plan.tools) and len(plan.tasks) <= BOUNDS["max_steps"], plan.tools


# ---------------------------------------------------------------------------------------- counted grammar


def test_a_counted_grammar_accepts_gold_plans_and_only_plans_of_exactly_those_calls(tok):
    for _, plan in RECORDS[:60]:
        calls = Counter(parse_plan(plan).tools)
        specs = [SPECS[t] for t in calls]
        assert grammar_accepts(tok, plan_grammar(specs, counts=calls), plan), plan
        tool = next(iter(calls))
        for wrong in ({**calls, tool: calls[tool] + 1}, {**calls, tool: calls[tool] - 1}):
            if sum(wrong.values()):
                assert not grammar_accepts(tok, plan_grammar(specs, counts=wrong), plan), (plan, wrong)
    with pytest.raises(ValueError, match="not given"):
        plan_grammar(TOOLS[:1], counts={TOOLS[1].name: 1})
    with pytest.raises(ValueError, match="steps"):
        plan_grammar(TOOLS[:1], max_steps=2, counts={TOOLS[0].name: 3})
    with pytest.raises(ValueError, match="grammar states"):
        plan_grammar(TOOLS, max_steps=30, counts={t.name: 3 for t in TOOLS[:7]})  # 4**7 count vectors


def test_random_model_under_a_counted_grammar_writes_exactly_those_calls(tok):
    rng = random.Random(7)
    pairs = [rng.sample(TOOLS, 2) for _ in range(8)]
    wanted = [Counter({a.name: rng.randint(1, 2), b.name: 1}) for a, b in pairs]  # up to BOUNDS' 3 steps
    queries = [q for q, _ in RECORDS[70:78]]
    grammars = [plan_grammar([SPECS[t] for t in c], **BOUNDS, counts=c) for c in wanted]
    for calls, text in zip(wanted, _sampled_plans(tok, queries, grammars, seed=7), strict=True):
        assert Counter(parse_plan(text).tools) == calls, text


def _sampled_plans(tok, queries: list[str], grammars: list[str], seed: int) -> list[str]:
    """Plans a random tiny model samples for `queries`, row i under `grammars[i]`."""
    prompts = [
        tok.apply_chat_template([{"role": "user", "content": q}], tokenize=False, add_generation_prompt=True)
        for q in queries
    ]
    inputs = tok(prompts, return_tensors="pt", padding=True)
    torch.manual_seed(seed)
    out = _tiny_llama(len(tok), seed).generate(
        **inputs,
        do_sample=True,
        temperature=1.0,
        top_k=0,
        max_new_tokens=MAX_NEW,
        **constrained_generate_kwargs(tok, grammars),
    )
    new = out[:, inputs["input_ids"].shape[1] :].tolist()
    return [tok.decode(ids[: ids.index(tok.eos_token_id)]) for ids in new]
