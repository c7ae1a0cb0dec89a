"""The paper profile's dress rehearsal (`workbench rehearse`, `make rehearse`): every stage of `PROFILE=paper` on
stand-ins, offline, in minutes, so that what only a GPU run with hub access would otherwise meet first is met here.

What stands in for what, and what stays real:

- **the hub**: a Hugging Face cache of the run's own (`HF_HOME`, `HF_HUB_CACHE`, `HF_HUB_OFFLINE=1`) holding,
  under the paper's repository ids, randomly initialised tiny models of the same classes: a `LlamaForCausalLM`
  with a `LlamaTokenizer` (byte-fallback BPE with `<unk>`, `<s>`, `</s>` at ids 0-2 and no chat template, like
  TinyLlama-1.1B-32k-Instruct's) and a `DebertaV2Model` with a `DebertaV2Tokenizer` (Unigram, `[PAD]` `[CLS]`
  `[SEP]` `[UNK]` `[MASK]`, like DeBERTa-v3-small's), the tokenizers trained here with the `tokenizers` library
  on the project's own text. The stages load them by those ids through `from_pretrained`, the code path a
  user's machine takes with the real weights.
- **GPT-4-Turbo and the other LLM endpoints**: the project's test server (`llm.testing.FakeChatServer`) on
  127.0.0.1 with a responder (`Responder`) that reads each prompt: the teacher gets (query, plan) blocks from the
  offline generator plus one broken block per call (so the sanity checks reject something), the joiner gets a
  `Finish`, the sub-agents' writer a text, the transcription endpoint a fixed transcript, a general LLMCompiler
  planner (notebook 01) a plan that only joins, ReAct a `Finish`. Named as what it is, never as a model.
- **real**: every line of the stages, the LLM client and its retries, the Trainer, peft's LoRA on Llama's
  projections, the full LLMCompiler prompt with retrieved examples, MLX conversion and 4-bit quantization, GGUF
  export, the agent, speech through a transcription endpoint, the figures; then (`make rehearse`) every
  numbered notebook top to bottom in the rehearsal profile.

The rehearsal runs in a child process (`python -m workbench.stages.rehearse OUT`), because huggingface_hub reads
`HF_HUB_OFFLINE` and the cache folder when it is first imported. Everything goes under `OUT` (data, figures,
artifacts, the cache); `summary.json` there holds each stage's wall time, any result keys missing, and the
test server's calls by kind.

    >>> sorted(REQUIRED)[:3]
    ['agent', 'planner', 'quantization']
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from workbench import config
from workbench.agent import AgentConfig
from workbench.files import write_json_atomic
from workbench.finetune.base import tool_documentation
from workbench.finetune.settings import FinetuneConfig
from workbench.llm.testing import FakeChatServer
from workbench.plan import END_OF_PLAN
from workbench.quantize import QuantizeConfig
from workbench.stages import agent, finetune, quantize, synth, toolrag, voice
from workbench.synth import offline
from workbench.synth.dataset import SynthConfig
from workbench.synth.teacher import format_pair
from workbench.toolrag.classifier import ToolRAGConfig
from workbench.viz.paper import paper_figures
from workbench.voice import VoiceConfig
from workbench.voice.audio import can_speak

PROFILE = "paper-rehearsal"
SNAPSHOT = "0" * 40  # the commit a stand-in is cached under (the cache layout needs one)
# result file -> keys every rehearsal must find in it (the shape of each stage's results)
REQUIRED = {
    "synthesis": ("counts", "rejected", "llm_teacher"),
    "toolrag": ("classifier_recall_test", "classifier_no_tool_test", "train_wall_s"),
    "planner": ("best_variant", "best_success_test", "rows", "training", "best_success_human_dev"),
    "quantization": ("group_size", "size_ratio_vs_fp16", "success_test_4bit"),
    "agent": ("n", "per_stage", "success_test", "finished_rate"),
    "voice": ("wer", "success_speech", "success_text", "stt_engine"),  # where espeak-ng can speak the queries
}


# ------------------------------------------------------------------------------------------ stand-ins


def corpus(n: int = 1500, seed: int = 0) -> list[str]:
    """The text the stand-ins' tokenizers learn from: our tool documentation, queries and plans."""
    rng = random.Random(seed)
    docs = tool_documentation()
    for _ in range(n):
        query, plan, *_ = offline.compose(rng, "train", dt.date(2024, 6, 12))
        docs += [query, plan]
    return docs


def planner_standin(folder: Path, docs: list[str]) -> Path:
    """A tiny Llama with a TinyLlama-style tokenizer (no chat template) saved at `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, LlamaTokenizer

    special = ["<unk>", "<s>", "</s>", *(f"<0x{i:02X}>" for i in range(256))]  # Llama's byte-fallback pieces
    bpe = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    bpe.train_from_iterator(
        docs, trainers.BpeTrainer(vocab_size=4000, special_tokens=special, show_progress=False)
    )
    model = json.loads(bpe.to_str())["model"]
    tokenizer = LlamaTokenizer(vocab=model["vocab"], merges=[tuple(m) for m in model["merges"]])
    torch.manual_seed(0)
    cfg = LlamaConfig(  # TinyLlama's shape, scaled down: grouped-query attention, 32K positions, untied head
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=176,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=32768,
        rope_theta=1_000_000.0,
        tie_word_embeddings=False,
        bos_token_id=1,
        eos_token_id=2,
    )
    LlamaForCausalLM(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def encoder_standin(folder: Path, docs: list[str]) -> Path:
    """A tiny DeBERTa-v2 encoder with a DeBERTa-v3-style Unigram tokenizer saved at `folder`."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import DebertaV2Config, DebertaV2Model, DebertaV2Tokenizer

    special = ["[PAD]", "[CLS]", "[SEP]", "[UNK]", "[MASK]"]
    unigram = Tokenizer(models.Unigram())
    unigram.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    trainer = trainers.UnigramTrainer(
        vocab_size=800, special_tokens=special, unk_token="[UNK]", show_progress=False
    )
    unigram.train_from_iterator(docs, trainer)
    vocab = [tuple(v) for v in json.loads(unigram.to_str())["model"]["vocab"]]
    tokenizer = DebertaV2Tokenizer(vocab=vocab, unk_id=special.index("[UNK]"))
    torch.manual_seed(0)
    cfg = DebertaV2Config(  # DeBERTa-v3's attention (relative positions, shared keys), scaled down
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        relative_attention=True,
        position_buckets=256,
        norm_rel_ebd="layer_norm",
        share_att_key=True,
        pos_att_type=["p2c", "c2p"],
        pad_token_id=0,
    )
    DebertaV2Model(cfg).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def cache_as(hub_cache: Path, repo_id: str, folder: Path) -> Path:
    """Put a saved model into a Hugging Face hub cache under `repo_id` (the cache's own layout: the files in
    `snapshots/<commit>/`, the commit named by `refs/main`), so `from_pretrained(repo_id)` finds it offline."""
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / SNAPSHOT
    shutil.rmtree(repo, ignore_errors=True)
    shutil.copytree(folder, snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(SNAPSHOT, encoding="utf-8")
    return snapshot


# ------------------------------------------------------------------------------------------ the server


class Responder:
    """The test server's answers by prompt: the teacher, the joiner, the sub-agents' writer, transcription.

    Teacher replies hold the requested number of blocks from the offline generator and one broken block (an
    unknown tool), so the run's report has rejections; which kind of prompt it is, is read from the system
    message. Counts what it answered (`calls`), for the summary.
    """

    def __init__(self, seed: int = 0):
        self.rng = random.Random(seed)
        self.calls: dict[str, int] = {}

    def __call__(self, path: str, body: dict[str, Any]) -> str:
        kind, reply = self._answer(path, body)
        self.calls[kind] = self.calls.get(kind, 0) + 1
        return reply

    def _answer(self, path: str, body: dict[str, Any]) -> tuple[str, str]:
        if path.split("?")[0].endswith("/audio/transcriptions"):
            return "transcription", "text sid that i am running late"
        messages = body.get("messages") or [{}]
        system, user = str(messages[0].get("content", "")), str(messages[-1].get("content", ""))
        if "training data" in system and "Write " in user:  # synth.teacher's prompt
            n = int(user.split("Write ", 1)[1].split()[0])
            today = dt.date.fromisoformat(user.split("Today is ", 1)[1].split(", ", 1)[1][:10])
            pairs = [offline.compose(self.rng, "train", today)[:2] for _ in range(n)]
            broken = format_pair("Ping Ana on Slack", '1. send_slack("Ana")\n2. join()<END_OF_PLAN>')
            return "teacher", "\n".join([*(format_pair(q, p) for q, p in pairs), broken])
        if system.startswith("Write a plan of tool calls"):  # an LLMCompiler planner (notebook 01's, served)
            return "planner", f"Thought: the rehearsal's server plans nothing.\n1. join(){END_OF_PLAN}"
        if system.startswith("Answer the user's query by thinking"):  # the ReAct baseline
            return "react", "Thought: the rehearsal's server calls no tool.\nAction: Finish[nothing]"
        if "Scratchpad:" in user:  # compiler.prompts.joiner_messages
            return "joiner", "Thought: every task is done.\nAction: Finish(Done: the requested actions ran.)"
        if system.startswith("You "):  # compiler.subagents: the writer's kinds
            return "writer", "Hi,\n\nA short text written by the rehearsal's test server.\n\nBest"
        return "other", "Thought: nothing to add.\nAction: Finish(ok)"


# ------------------------------------------------------------------------------------------------ run


def environment(out: Path, server_url: str) -> dict[str, str]:
    """The child's environment: the paper-rehearsal profile, folders under `out`, the offline hub cache, the
    test server as the OpenAI endpoint."""
    env = {k: v for k, v in os.environ.items() if k != "WB_QUICK"}
    hf = out / "hf"
    env.update(
        {
            "WORKBENCH_PROFILE": PROFILE,
            "WORKBENCH_DATA_DIR": str(out / "data"),
            "WORKBENCH_FIGURES_DIR": str(out / "figures"),
            "WORKBENCH_ARTIFACTS_DIR": str(out / "artifacts"),
            "HF_HOME": str(hf),
            "HF_HUB_CACHE": str(hf / "hub"),
            "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1",
            "OPENAI_BASE_URL": server_url,
            "OPENAI_API_KEY": "rehearsal",  # the test server takes any key
        }
    )
    return env


def rehearse(
    out: Path, progress: Callable[[str], None] = print, keep: bool = False, notebooks: bool = True
) -> dict[str, Any]:
    """Build the stand-ins, serve the test server, run every stage in a child process; returns the summary.

    `notebooks` also runs every numbered notebook top to bottom in the rehearsal profile after the stages (they
    find the stages' caches, so mostly their own cells run). `keep` reuses what an earlier rehearsal in `out`
    built (each stage skips what its cache holds), for a rerun after a fix; by default `out` starts empty.
    Raises `RuntimeError` naming the stage that broke (its output is in `out/rehearsal.log`).
    """
    out = Path(out).resolve()
    if not keep:
        shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    paper = config.load_profile("paper")
    ids = {"planner": paper["finetune"]["base_model"], "encoder": paper["toolrag"]["encoder"]}
    docs = corpus()
    built = out / "standins"
    progress(f"stand-ins under {', '.join(ids.values())} in {out / 'hf' / 'hub'}")
    cache_as(out / "hf" / "hub", ids["planner"], planner_standin(built / "planner", docs))
    cache_as(out / "hf" / "hub", ids["encoder"], encoder_standin(built / "encoder", docs))
    responder = Responder()
    log = out / "rehearsal.log"
    with FakeChatServer(responder=responder, model="gpt-4-turbo") as server, open(log, "a") as sink:
        env = environment(out, server.base_url)
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "workbench.stages.rehearse",
                str(out),
                *(["--notebooks"] if notebooks else []),
            ],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            check=False,
        )
    summary_path = out / "summary.json"
    summary = json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.exists() else {}
    summary["server_calls"] = responder.calls
    write_json_atomic(summary_path, summary)
    if child.returncode != 0:
        failed = summary.get("failed", "before the first stage")
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise RuntimeError(f"the rehearsal broke at {failed} (log: {log}):\n{tail}")
    return summary


def _stages() -> list[tuple[str, Callable[[], Any]]]:
    """Each stage's `run(cfg)` in the order of the pipeline, with the rehearsal profile's settings."""

    def cfg(cls: type, stage: str) -> Any:
        return config.stage_config(cls, stage, PROFILE)

    return [
        ("synth", lambda: synth.run(cfg(SynthConfig, "synth"))),
        ("toolrag", lambda: toolrag.run(cfg(ToolRAGConfig, "toolrag"))),
        ("finetune", lambda: finetune.run(cfg(FinetuneConfig, "finetune"))),
        ("quantize", lambda: quantize.run(cfg(QuantizeConfig, "quantize"))),
        ("agent", lambda: agent.run(cfg(AgentConfig, "agent"))),
        *([("voice", lambda: voice.run(cfg(VoiceConfig, "voice")))] if can_speak() else []),
        ("figures", paper_figures),
    ]


def _inside(out: Path, notebooks: bool) -> int:
    """The child: run the stages (and the notebooks), check each result file's shape, write `summary.json` as it
    goes."""
    summary: dict[str, Any] = {"profile": PROFILE, "stages": {}}
    steps = _stages() + ([("notebooks", _notebooks)] if notebooks else [])
    for name, run in steps:
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            run()
        except Exception:
            summary["failed"] = name
            write_json_atomic(out / "summary.json", summary)
            raise
        summary["stages"][name] = {"wall_s": round(time.perf_counter() - start, 1)}
        write_json_atomic(out / "summary.json", summary)
    expected = [
        s for s in REQUIRED if s != "voice" or "voice" in summary["stages"]
    ]  # voice: where espeak-ng is
    missing = {s: [k for k in REQUIRED[s] if k not in _results(s)] for s in expected}
    missing = {stage: keys for stage, keys in missing.items() if keys}
    summary["missing_keys"] = missing
    write_json_atomic(out / "summary.json", summary)
    if missing:
        summary["failed"] = "the results' shape"
        write_json_atomic(out / "summary.json", summary)
        print(f"result files lack keys: {missing}", flush=True)
        return 1
    return 0


def _notebooks() -> None:
    """Every numbered notebook top to bottom in the rehearsal profile (`workbench reproduce`, the command line's
    own runner, in this child's environment)."""
    subprocess.run([sys.executable, "-m", "workbench", "reproduce", "--profile", PROFILE], check=True)


def _results(stage: str) -> dict[str, Any]:
    path = config.results_path(stage)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


if __name__ == "__main__":
    raise SystemExit(_inside(Path(sys.argv[1]), "--notebooks" in sys.argv[2:]))
