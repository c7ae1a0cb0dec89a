"""The MLX path, hermetic: a tiny Llama trained nowhere, converted, quantized, LoRA-tuned, fused and served."""

import json
import socket

import numpy as np
import openai
import pytest

pytest.importorskip("mlx_lm")

import mlx.core as mx  # noqa: E402
from conftest import synthesized_workbench  # noqa: E402

from workbench.finetune import base, mlx  # noqa: E402
from workbench.finetune.settings import DECODING_FILE  # noqa: E402
from workbench.finetune.tokenizer import train_tokenizer  # noqa: E402
from workbench.plan import parse_plan, validate_plan  # noqa: E402
from workbench.planner import MLXPlanner  # noqa: E402
from workbench.planner.grammar import max_plan_bytes  # noqa: E402
from workbench.quantize import QuantizeConfig  # noqa: E402
from workbench.serve import MLXServer  # noqa: E402
from workbench.stages.quantize import run  # noqa: E402
from workbench.synth.dataset import load_split  # noqa: E402
from workbench.tools.tinyagent import TOOL_NAMES, tinyagent_tools  # noqa: E402

LIMITS = {
    "max_steps": 1,
    "max_str_len": 4,
    "max_list_len": 1,
}  # a short budget: an untrained model writes to it


@pytest.fixture(scope="module")
def workbench_dir(tmp_path_factory):
    with synthesized_workbench(tmp_path_factory.mktemp("mlx"), train=200, val=20, test=8, ood=8) as root:
        yield root


@pytest.fixture(scope="module")
def hf_model(workbench_dir):
    """A random Llama (hidden 64: every matrix splits into groups of 32) saved as a Hugging Face folder."""
    docs = base.pretraining_corpus(load_split("train"), calendar=100, doc_repeats=1)
    tokenizer = train_tokenizer(docs, vocab_size=320, whole_words=TOOL_NAMES)
    folder = base.save_model(
        base.small_llama(tokenizer, hidden=64, layers=2, heads=2, intermediate=128),
        tokenizer,
        workbench_dir / "hf",
    )
    budget = max_plan_bytes(tinyagent_tools(), **LIMITS)
    (folder / DECODING_FILE).write_text(
        json.dumps({"prompt": "compact", "examples": 0, "max_new_tokens": budget, "grammar_limits": LIMITS})
    )
    return folder


@pytest.fixture(scope="module")
def quantized(hf_model, workbench_dir):
    return mlx.to_mlx(hf_model, workbench_dir / "q4g32", bits=4, group_size=32)


@pytest.fixture(scope="module")
def chat_data(workbench_dir):
    # each prompt lists only its query's tools (no random extra ones): shorter sequences for mlx's slow CPU build
    return mlx.export_chat_data(
        workbench_dir / "mlx_data", load_split("train")[:64], load_split("val")[:8], negatives=False
    )


def test_quantized_layers_are_4_bit_with_group_32(hf_model, quantized, workbench_dir):
    fp16 = mlx.to_mlx(hf_model, workbench_dir / "fp16")
    from mlx_lm import load

    model = load(str(quantized))[0]
    layers = mlx.quantized_layers(model)
    assert len(layers) == 2 * 7 + 1, "every attention and MLP projection and the (tied) embedding"
    assert set(layers.values()) == {(4, 32)}
    assert mlx.bits_per_weight(model) == pytest.approx(5.0, abs=0.1), "4 bits + float16 scale and bias per 32"
    assert mlx.bits_per_weight(load(str(fp16))[0]) / mlx.bits_per_weight(model) >= 3.0
    assert mlx.weights_bytes(fp16) / mlx.weights_bytes(quantized) >= 2.9, "file headers weigh on a tiny model"
    assert (quantized / DECODING_FILE).exists(), "decoding settings travel with the model"
    # the 4-bit weights are the float ones up to one quantization step (16 levels per group), and not equal
    q = model.model.layers[0].mlp.down_proj
    w = mx.dequantize(q.weight, q.scales, q.biases, group_size=32, bits=4)
    ref = load(str(fp16))[0].model.layers[0].mlp.down_proj.weight
    step = (ref.reshape(-1, 32).max(axis=1) - ref.reshape(-1, 32).min(axis=1)) / 15
    err = mx.abs(w - ref).reshape(-1, 32).max(axis=1)
    assert float(mx.max(err - step - 1e-3)) <= 0 < float(mx.max(err))


def test_chat_export_is_mlx_lm_chat_format(chat_data):
    line = json.loads((chat_data / "train.jsonl").read_text().splitlines()[0])
    roles = [m["role"] for m in line["messages"]]
    assert roles == ["system", "user", "assistant"]
    assert line["messages"][-1]["content"].endswith("join()<END_OF_PLAN>")


def test_mlx_lora_lowers_the_loss_and_fuses_to_the_same_model(hf_model, chat_data, workbench_dir):
    adapter = workbench_dir / "adapter"
    report = mlx.lora(
        hf_model,
        chat_data,
        adapter,
        iters=14,  # each iteration takes ~4 s on mlx's CPU build, whatever the sequence length
        batch_size=8,
        lr=3e-2,
        rank=8,
        scale=10.0,
        steps_per_report=1,
        steps_per_eval=13,
        val_batches=1,
    )
    losses = [c["train_loss"] for c in report["train_curve"]]
    # the train curve is noisy (each batch holds other chats; a CI run once fell 0.0998): it falls by a margin
    # below its noise, and the validation loss, on the same chats at both ends, by 0.1
    assert len(losses) == 14 and np.mean(losses[-5:]) < np.mean(losses[:5]) - 0.05
    assert report["val_curve"][-1]["val_loss"] < report["val_curve"][0]["val_loss"] - 0.1
    assert all((adapter / f).exists() for f in mlx.ADAPTER_FILES)
    fused = mlx.fuse(hf_model, adapter, workbench_dir / "fused")
    from mlx_lm import load

    with_adapter, tok = load(str(hf_model), adapter_path=str(adapter))
    merged = load(str(fused))[0]
    ids = mx.array([tok.encode("Text Ana that I'm late")])
    assert mx.allclose(with_adapter(ids), merged(ids), atol=1e-3).item()


def test_qlora_trains_on_the_4_bit_model(quantized, workbench_dir):
    # short pairs: a 4-bit backward pass is slow on mlx's CPU build; at lr 1e-3 the loss falls smoothly (at 3e-3
    # it overshot on the model of this generator's tokenizer, 5.88 -> 5.31 -> 6.04)
    data = workbench_dir / "short"
    data.mkdir()
    chat = {
        "messages": [{"role": "user", "content": "Text Ana"}, {"role": "assistant", "content": "1. join()"}]
    }
    for name in ("train", "valid"):
        (data / f"{name}.jsonl").write_text((json.dumps(chat) + "\n") * 8)
    report = mlx.lora(
        quantized,
        data,
        workbench_dir / "qlora",
        iters=12,
        batch_size=4,
        lr=1e-3,
        rank=8,
        scale=4.0,
        steps_per_report=1,
        steps_per_eval=100,
        val_batches=1,
    )
    losses = [c["train_loss"] for c in report["train_curve"]]
    assert (
        report["quantized_base"]
        and np.isfinite(losses).all()
        and np.mean(losses[-3:]) < np.mean(losses[:3]) - 0.1
    )


def test_a_peft_adapter_runs_on_the_mlx_model(hf_model, workbench_dir):
    import torch
    from mlx_lm import load
    from peft import LoraConfig, get_peft_model

    from workbench.finetune.train import lora_settings

    model, tok = base.load_model(hf_model)
    peft_model = get_peft_model(model, LoraConfig(**lora_settings(4, 8, 0.0), init_lora_weights=False))
    peft_model.save_pretrained(workbench_dir / "peft")
    adapter = mlx.peft_to_mlx_adapter(workbench_dir / "peft", workbench_dir / "peft_mlx")
    ids = tok("Text Ana that I'm late")["input_ids"]
    with torch.no_grad():
        want = peft_model(torch.tensor([ids])).logits.numpy()
    got = np.array(load(str(hf_model), adapter_path=str(adapter))[0](mx.array([ids])))
    plain = np.array(load(str(hf_model))[0](mx.array([ids])))
    assert np.abs(want - got).max() < 1e-3 < np.abs(want - plain).max(), (
        "same function, and the adapter matters"
    )


def test_constrained_mlx_planner_writes_only_valid_plans_with_random_weights(quantized):
    planner = MLXPlanner.load(quantized, constrained=True, recover_requests=False)  # one generation per query
    queries = [r["query"] for r in load_split("test")[:3]]
    specs = {s.name: s for s in tinyagent_tools()}
    for p in planner.plan(queries, ["2024-06-12"] * 3, tools=[["get_phone_number", "send_sms"]] * 3):
        validate_plan(parse_plan(p["plan"]), specs)
    assert len(planner.stats) == 3 and planner.stats[0]["generation_tokens"] > 0


def test_server_answers_plain_and_streamed_chat_completions(quantized):
    with MLXServer(quantized, max_tokens=16) as server:
        client = openai.OpenAI(base_url=server.url, api_key="local")
        chat = [{"role": "user", "content": "Text Ana that I'm late"}]
        done = client.chat.completions.create(model="default_model", messages=chat, max_tokens=8)
        assert isinstance(done.choices[0].message.content, str) and done.usage.completion_tokens > 0
        chunks = client.chat.completions.create(
            model="default_model", messages=chat, max_tokens=8, stream=True
        )
        pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
        assert pieces, "the stream carried text"
        port, proc = server.port, server.process
    assert proc.poll() is not None, "the server is stopped on exit"
    with socket.socket() as s:
        assert s.connect_ex(("127.0.0.1", port)) != 0, "nothing listens on its port any more"


def test_server_errors_name_the_problem(quantized, tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        with pytest.raises(OSError, match="already in use"):
            MLXServer(quantized, port=s.getsockname()[1])
    with pytest.raises(FileNotFoundError, match="workbench quantize"):
        MLXServer(tmp_path / "no_model")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.json").write_text("{}")
    with pytest.raises(RuntimeError, match="could not load(.|\n)*No safetensors"):
        MLXServer(tmp_path / "broken", startup_timeout_s=60).start()


@pytest.mark.parametrize("method", ["awq", "dwq"])
def test_learned_quantization_keeps_4_bits_at_group_32(method, hf_model, chat_data, workbench_dir):
    """mlx-lm's AWQ and DWQ, calibrated on our training chats, give a model like round-to-nearest's: every
    linear layer and the embedding at 4 bits, group 32, in a folder that loads (GPTQ runs in the stage test)."""
    fp16 = mlx.to_mlx(hf_model, workbench_dir / f"fp16-{method}")
    folder = mlx.learned_quantize(
        fp16, workbench_dir / f"q4-{method}", method, chat_data, samples=4, seq_len=64
    )
    planner = MLXPlanner.load(folder, constrained=True)
    assert set(mlx.quantized_layers(planner.model).values()) == {(4, 32)}
    assert len(mlx.quantized_layers(planner.model)) == 2 * 7 + 1
    assert planner.describe() and (folder / DECODING_FILE).exists(), "the decoding settings travel with it"
    with pytest.raises(ValueError, match="choose one of"):
        mlx.learned_quantize(fp16, workbench_dir / "q4-x", "hqq", chat_data)


@pytest.mark.slow
def test_stage_writes_table_2(hf_model, workbench_dir):
    cfg = QuantizeConfig(
        source=str(hf_model),
        base=str(hf_model),
        qlora_iters=3,
        mlx_lora_iters=3,
        qlora_batch_size=4,
        train_records=40,
        val_records=8,
        latency_n=1,
        served_n=1,
        eval_test=4,
        eval_ood=4,
        learned="gptq",  # a learned method's row (AWQ and DWQ: test_learned_quantization_keeps_4_bits_at_group_32)
        calib_samples=4,
        gguf_latency_n=2,
        constrained=True,  # the plan grammar holds the random model to valid plans, on every engine
    )
    r = run(cfg)
    assert {
        "size_ratio_vs_fp16",
        "success_test_full",
        "success_test_4bit",
        "latency_ratio_4bit_over_full",
        "device",
    } <= set(r)
    gguf = ["gguf-f16", "gguf-q4_0", "gguf-q4_k_m", "gguf-q4_0-qlora"] if "gguf_device" in r else []
    assert r["size_ratio_vs_fp16"] >= 2.9 and [row["row"] for row in r["rows"]] == [
        "float16",
        "4bit",
        "4bit-gptq",
        "qlora",
        *gguf,
    ]
    assert r["mlx_best_4bit_method"] in ("rtn", "gptq")
    assert r["success_test_4bit_best"] == max(row["success_test"] for row in r["rows"][1:3])
    assert r["rows"][2]["quantization"] == ["4-bit/g32"] and r["rows"][2]["bits_per_weight"] < 5.2
    if gguf:
        assert r["gguf_size_ratio_q4_0_vs_f16"] > 2.5 and r["gguf_parse_failure_rate"] == 0.0
        assert {"gguf_success_test_f16", "gguf_success_test_q4_0", "gguf_latency_ratio_q4_0_over_f16"} <= set(
            r
        )
        assert r["gguf_served"]["served_n"] == 1 and (workbench_dir / "artifacts" / "gguf").is_dir()
        q4, qlora = (
            r["rows"][-3],
            r["rows"][-1],
        )  # QLoRA on Q4_0: its LoRA file trained and applied by llama.cpp
        assert qlora["adapter"].endswith("planner-q4_0-qlora.gguf") and qlora["file"] == q4["file"]
        assert qlora["size_bytes"] == q4["size_bytes"] + qlora["adapter_bytes"]
        assert r["gguf_qlora_training"]["steps"] > 0 and "gguf_success_test_q4_0_qlora" in r
    assert r["rows"][1]["quantization"] == ["4-bit/g32"] and r["rows"][0]["quantization"] == []
    assert r["served"]["served_n"] == 1 and r["training"]["mlx_lora"]["iters"] == 3
    table = (workbench_dir / "figures" / "table2_quantization.md").read_text()
    assert "reported" in table and "measured" in table
    assert json.loads((workbench_dir / "data" / "results" / "quantization.json").read_text())["device"]
