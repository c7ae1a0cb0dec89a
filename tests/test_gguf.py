"""GGUF and llama.cpp: the bundled planner exported, quantized, planned with in process and through the server.

Skipped where the `.[gguf]` extra is not installed (`make gguf` builds llama-cpp-python once and caches it).
"""

import asyncio
import json
import socket
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gguf", reason="the GGUF extra is not installed: `make gguf` (or pip install '.[gguf]')")
pytest.importorskip(
    "llama_cpp",
    reason="llama-cpp-python is not installed: `make gguf` builds it once (cmake and a C++ compiler)",
)

import torch  # noqa: E402
from peft import LoraConfig, get_peft_model  # noqa: E402
from safetensors.torch import load_file  # noqa: E402
from transformers import AutoModelForCausalLM  # noqa: E402

from workbench.agent import TinyAgent, served_grammar  # noqa: E402
from workbench.finetune import base  # noqa: E402
from workbench.finetune.bundled import BUNDLED_DIR  # noqa: E402
from workbench.finetune.llamacpp import (  # noqa: E402
    DECODING_KEY,
    dequantize_gguf,
    export_gguf,
    export_gguf_lora,
    gguf_summary,
    quantize_gguf,
)
from workbench.finetune.settings import DECODING_FILE  # noqa: E402
from workbench.finetune.tokenizer import train_tokenizer  # noqa: E402
from workbench.finetune.train import lora_settings  # noqa: E402
from workbench.llm.llamacpp import LlamaCppLLM  # noqa: E402
from workbench.llm.openai_compat import RetryPolicy  # noqa: E402
from workbench.plan import parse_plan, validate_plan  # noqa: E402
from workbench.planner import GGUFPlanner, Planner, load_planner  # noqa: E402
from workbench.planner.grammar import grammar_accepts, max_plan_bytes, plan_grammar, query_spans  # noqa: E402
from workbench.serve import LlamaCppServer  # noqa: E402
from workbench.tools.desktop import LatencyModel, SimulatedDesktop  # noqa: E402
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools  # noqa: E402
from workbench.viz.explorer import PlanExplorer  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2024-06-12"
SPECS = {s.name: s for s in tinyagent_tools()}
#: queries as people type them (the hand-written dev set): casual, non-ASCII names, digits, several requests
QUERIES = [json.loads(line)["query"] for line in (ROOT / "data/human/dev.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("gguf")
    f16 = export_gguf(BUNDLED_DIR, out / "planner-f16.gguf")
    return {
        "F16": f16,
        "Q4_0": quantize_gguf(f16, out / "planner-q4_0.gguf", "Q4_0"),
        "Q4_K_M": quantize_gguf(f16, out / "planner-q4_k_m.gguf", "Q4_K_M"),
    }


@pytest.fixture(scope="module")
def reference():
    return Planner.load(BUNDLED_DIR, constrained=True, grounded=True)


def test_llama_cpp_tokenizes_exactly_as_transformers(files, reference):
    llm = LlamaCppLLM(files["F16"])
    tok = reference.tokenizer
    for q in QUERIES:
        assert llm.network.tokenize(q.encode(), add_bos=False, special=False) == tok(q)["input_ids"], q
    for q in QUERIES[:20]:  # the whole prompt: chat template, special tokens and whole-token tool names
        chat = reference.messages(q, TODAY, list(TOOL_NAMES))
        assert llm.prompt_ids(chat) == reference.engine.prompt_ids(chat), q
    assert llm.network.detokenize(tok(" send_sms(")["input_ids"]) == b" send_sms(", "tool names print"
    llm.close()


def test_decoding_settings_travel_in_the_file(files):
    planner = GGUFPlanner.load(files["Q4_0"])
    saved = json.loads((BUNDLED_DIR / DECODING_FILE).read_text())
    assert json.loads(planner.engine.metadata[DECODING_KEY]) == saved
    assert planner.kind == saved["prompt"] and planner.max_new_tokens == saved["max_new_tokens"]
    assert "llama.cpp" in planner.describe()


def test_quantized_files_are_smaller_and_typed(files):
    f16, q4, qk = (gguf_summary(files[k]) for k in ("F16", "Q4_0", "Q4_K_M"))
    assert f16["tensor_types"] == {"F16": 29, "F32": 9} and f16["bits_per_weight"] == pytest.approx(
        16, abs=0.1
    )
    assert q4["tensor_types"]["Q4_0"] >= 28, "every matrix but the tied embedding/output is Q4_0"
    assert q4["bits_per_weight"] < 5.2 and f16["size_bytes"] / q4["size_bytes"] > 3.0
    assert qk["bits_per_weight"] < 8, (
        "Q4_K_M: rows of 128 are not K-quantizable, llama.cpp falls back to Q5_0"
    )
    with pytest.raises(ValueError, match="choose one of"):
        quantize_gguf(files["F16"], files["F16"].with_name("x.gguf"), "Q3_XL")


def test_gguf_f16_plans_as_transformers_and_streams_the_same_plan(files, reference):
    planner = GGUFPlanner.load(files["F16"], constrained=True, grounded=True)
    queries = QUERIES[:30]
    ours = [p["plan"] for p in planner.plan(queries, [TODAY] * len(queries))]
    theirs = [p["plan"] for p in reference.plan(queries, [TODAY] * len(queries))]
    same = sum(a == b for a, b in zip(ours, theirs, strict=True))
    assert same >= 24, f"float16 in llama.cpp vs float32 in torch: {same} of 30 plans the same"
    for q, plan in zip(queries, ours, strict=True):  # the GBNF grammar accepts what the Lark grammar does
        tools = list(dict.fromkeys(parse_plan(plan).tools)) or ["get_phone_number"]
        lark = plan_grammar([SPECS[t] for t in tools], **reference.grammar_limits, spans=query_spans(q))
        assert grammar_accepts(reference.tokenizer, lark, plan), (q, plan)

    async def stream(q):
        return "".join(
            [
                c
                async for c in planner.llm(list(TOOL_NAMES), q, TODAY).stream(
                    planner.messages(q, TODAY, TOOL_NAMES)
                )
            ]
        )

    for q, plan in list(zip(queries, ours, strict=True))[:5]:
        assert asyncio.run(stream(q)) == plan


def _last_logits(llm, ids):
    llm.network.reset()
    llm.network.eval(ids)
    return np.ctypeslib.as_array(llm.network._ctx.get_logits(), shape=(llm.network.n_vocab(),)).copy()


def test_qlora_on_q4_0_dequantized_weights_runs_as_a_llama_cpp_lora_file(files, tmp_path):
    """`dequantize_gguf` gives transformers the very weights llama.cpp reads; a peft LoRA trained on them,
    written by `export_gguf_lora`, changes llama.cpp's logits as it changes torch's (q/k rows permuted)."""
    f16 = load_file(dequantize_gguf(files["F16"], BUNDLED_DIR, tmp_path / "f16") / "model.safetensors")
    src = load_file(BUNDLED_DIR / "model.safetensors")
    assert set(f16) == set(src)
    assert max(float((src[k].float() - f16[k]).abs().max()) for k in src) < 1e-3, "F16 rounding only"
    frozen = dequantize_gguf(files["Q4_0"], BUNDLED_DIR, tmp_path / "q4")
    assert not (frozen / "SHA256SUMS").exists(), "the source's checksums do not describe these weights"
    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(frozen, dtype=torch.float32),
        LoraConfig(**lora_settings(8, 16, 0.0)),
    )
    for name, param in model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero: a trained-like adapter instead
            torch.nn.init.normal_(param, std=0.05)
    model.save_pretrained(tmp_path / "adapter")
    lora = export_gguf_lora(tmp_path / "adapter", frozen, tmp_path / "adapter.gguf")
    assert set(gguf_summary(lora)["tensor_types"]) == {"F32"}

    chat = Planner.load(frozen).messages("text sam i'm late and remind me to buy milk", TODAY, TOOL_NAMES)
    plain, adapted = LlamaCppLLM(files["Q4_0"], threads=1), LlamaCppLLM(files["Q4_0"], threads=1, lora=lora)
    ids = plain.prompt_ids(chat)
    with torch.no_grad():
        torch_lora = model(torch.tensor([ids])).logits[0, -1].numpy()
        with model.disable_adapter():
            torch_base = model(torch.tensor([ids])).logits[0, -1].numpy()
    cpp_base, cpp_lora = _last_logits(plain, ids), _last_logits(adapted, ids)
    effect = np.abs(torch_lora - torch_base).max()
    # llama.cpp rounds activations to 8 bits for its 4-bit matmuls: close, not equal
    assert np.abs(cpp_base - torch_base).max() < 0.3 < effect
    assert np.abs(cpp_lora - torch_lora).max() < 0.15 * effect
    assert cpp_lora.argmax() == torch_lora.argmax()
    plain.close()
    adapted.close()
    with LlamaCppServer(files["Q4_0"], lora=lora) as server:  # served with the LoRA file on top
        assert server.command()[-2:] == ["--lora_path", str(lora)]
        done = asyncio.run(server.llm().complete(chat, max_tokens=8, temperature=0.0))
        assert done.text


def test_grammar_holds_a_random_model_to_valid_plans(tmp_path):
    """An untrained model writes garbage; under the GBNF plan grammar every plan parses and validates."""
    tokenizer = train_tokenizer(QUERIES * 3, vocab_size=300, whole_words=TOOL_NAMES)
    folder = base.save_model(
        base.small_llama(tokenizer, hidden=64, layers=2, heads=2, intermediate=128),
        tokenizer,
        tmp_path / "hf",
    )
    limits = {"max_steps": 3, "max_str_len": 6, "max_list_len": 2}
    budget = max_plan_bytes(tinyagent_tools(), **limits)
    (folder / DECODING_FILE).write_text(
        json.dumps({"prompt": "compact", "max_new_tokens": budget, "grammar_limits": limits})
    )
    planner = load_planner(export_gguf(folder, tmp_path / "random.gguf"), constrained=True)
    assert isinstance(planner, GGUFPlanner)
    planner.recover_requests = False
    for p in planner.plan(QUERIES[:12], [TODAY] * 12):
        assert not p["cut"], "the budget always suffices"
        validate_plan(parse_plan(p["plan"]), tinyagent_tools())  # raises PlanError on any fault


def test_server_plans_as_in_process_under_the_grammar(files):
    # the server decodes; the runtime's repairs (requests put back, repeats merged, dates) are off to compare
    planner = GGUFPlanner.load(
        files["Q4_0"],
        constrained=True,
        grounded=True,
        recover_requests=False,
        merge_repeats=False,
        resolve_dates=False,
    )
    queries = QUERIES[:3]
    local = [p["plan"] for p in planner.plan(queries, [TODAY] * 3)]
    with LlamaCppServer(files["Q4_0"], max_tokens=planner.max_new_tokens) as server:
        for q, plan in zip(queries, local, strict=True):
            grammar = planner.grammar(list(TOOL_NAMES), q)
            llm = server.llm(extra_body={"grammar": grammar, "repeat_penalty": 1.0})
            done = asyncio.run(llm.complete(planner.messages(q, TODAY, TOOL_NAMES), temperature=0.0))
            assert done.text.strip() == plan, (q, done.text)
            validate_plan(parse_plan(done.text.strip()), tinyagent_tools())
        # the agent on the served planner sends the grammar itself (`workbench agent --provider llamacpp`)
        agent = TinyAgent(
            server.llm(retry=RetryPolicy(max_attempts=1)),  # a failed replan is not retried here
            kind="compact",
            max_plan_tokens=planner.max_new_tokens,
            grammar=served_grammar,
        )
        result = asyncio.run(agent.closing(agent.run(queries[0], TODAY, SimulatedDesktop(today=TODAY))))
        assert result.first_plan.strip() == local[0].removesuffix("<END_OF_PLAN>"), result.first_plan
        # the desktop has no "Mom", so the agent replans; the replan prompt (the plan and its observations) can
        # outgrow this planner's 1,024-token context on the server: the run then ends saying so, not raising
        # (`test_compiler.py::test_a_replan_the_planner_cannot_write_ends_the_run_with_the_reason`)
        assert result.finished or "I could not complete the task" in result.answer, result.answer
        port, proc = server.port, server.process
    assert proc.poll() is not None, "the server is stopped on exit"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on its port any more"


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="workbench quantize"):
        LlamaCppLLM(tmp_path / "missing.gguf")
    (tmp_path / "not.gguf").write_text("hello")
    with pytest.raises(ValueError, match="not a GGUF file"):
        GGUFPlanner.load(tmp_path / "not.gguf")
    with pytest.raises(ValueError, match="not a GGUF file"):
        LlamaCppServer(tmp_path / "not.gguf")
    with pytest.raises(ValueError, match="writes Llama models"):
        (tmp_path / "bert").mkdir()
        (tmp_path / "bert" / "config.json").write_text('{"model_type": "bert"}')
        export_gguf(tmp_path / "bert", tmp_path / "bert.gguf")


def test_the_explorer_and_the_agent_plan_with_a_gguf_planner(files):
    planner = GGUFPlanner.load(files["Q4_0"], constrained=True, grounded=True)
    query = "Create a meeting with Sid and Lutfi for tomorrow 2pm"
    w = PlanExplorer(
        plan_fn=planner,
        select=lambda qs: [list(TOOL_NAMES) for _ in qs],
        latency=LatencyModel.uniform(0.001, 0.002),
    )
    w.query.value = query
    assert "compact prompt, planner tokenizer" in w.prompt.value
    assert set(w.node_states().values()) == {"done"}, w.node_states()
    result = asyncio.run(TinyAgent(planner).run(query, TODAY, SimulatedDesktop(today=TODAY)))
    assert parse_plan(result.first_plan).tools[-1] == "create_calendar_event", result.first_plan


def test_a_llama_style_tokenizer_is_exported_as_sentencepiece_and_tokenizes_as_hugging_face_does(tmp_path):
    """TinyLlama's tokenizer (byte-fallback BPE, `▁` for spaces, no byte-level pre-tokenizer) goes into the GGUF as
    llama.cpp's SentencePiece vocabulary: scores order the merges, `<0x..>` pieces are bytes; the chat prompts the
    planner is served with tokenize to the same ids in llama.cpp as in transformers (names with accents, CJK)."""
    import llama_cpp
    from transformers import AutoTokenizer

    from workbench.stages.rehearse import corpus, planner_standin

    folder = planner_standin(tmp_path / "planner", corpus(n=200))
    tokenizer = base.with_chat_template(
        AutoTokenizer.from_pretrained(folder), "Doctor-Shotgun/TinyLlama-1.1B-32k-Instruct"
    )
    tokenizer.save_pretrained(folder)
    vocab = llama_cpp.Llama(str(export_gguf(folder, tmp_path / "p.gguf")), vocab_only=True, verbose=False)
    chats = [
        [
            {"role": "system", "content": "Plan it."},
            {"role": "user", "content": "Text Zoë that I'm late, 日本"},
        ],
        [
            {"role": "system", "content": "Plan it."},
            {"role": "user", "content": "Call Émile"},
            {"role": "assistant", "content": '1. get_phone_number("Émile")\n2. join()<END_OF_PLAN>'},
        ],
    ]
    for chat in chats:
        text = tokenizer.apply_chat_template(chat, add_generation_prompt=len(chat) == 2, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        assert vocab.tokenize(text.encode(), add_bos=False, special=True) == ids
        assert vocab.detokenize(ids).decode() == text.replace("<s>", "").replace(
            "</s>", ""
        )  # specials unprinted
