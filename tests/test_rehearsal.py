"""The paper profile's dress rehearsal (`make rehearse`): every paper-profile stage on stand-ins, in a child process
with its own offline Hugging Face cache; it fails if any stage of the paper path breaks."""

from __future__ import annotations

import json
import random

import pytest
from transformers import AutoTokenizer

from workbench import config
from workbench.compiler.prompts import joiner_messages
from workbench.finetune.base import with_chat_template
from workbench.stages.rehearse import REQUIRED, Responder, cache_as, corpus, planner_standin, rehearse
from workbench.synth.teacher import DEFAULT_EXAMPLES, sample_tools, teacher_messages
from workbench.voice.audio import can_speak


def test_the_paper_profile_runs_end_to_end_on_stand_ins(tmp_path):
    # the stages; `make rehearse` runs the notebooks after them too (minutes more than this test's budget has)
    summary = rehearse(tmp_path / "rehearsal", progress=lambda _: None, notebooks=False)
    spoken = ["voice"] if can_speak() else []  # espeak-ng makes the recordings (CI installs it)
    assert set(summary["stages"]) == {"synth", "toolrag", "finetune", "quantize", "agent", *spoken, "figures"}
    assert summary["missing_keys"] == {} and "failed" not in summary
    results = {stage: json.loads((tmp_path / "rehearsal" / "data" / "results" / f"{stage}.json").read_text())
               for stage in REQUIRED if stage != "voice" or spoken}  # fmt: skip
    paper = config.load_profile("paper")
    # the paper's models by their hub ids, the LLM teacher and its rejections, the full prompt
    assert results["planner"]["base_model"] == paper["finetune"]["base_model"]
    assert results["toolrag"]["encoder"] == paper["toolrag"]["encoder"]
    assert results["synthesis"]["teacher"] == "llm" and results["synthesis"]["llm_teacher"]["rejected"]
    assert results["planner"]["prompt"] == "full" and set(results["planner"]["training"]) == {"lora", "full"}
    assert results["quantization"]["group_size"] == 32
    assert summary["server_calls"]["teacher"] >= 1 and summary["server_calls"]["joiner"] >= 1


def test_the_stand_in_has_no_chat_template_and_loads_by_its_hub_id(tmp_path, monkeypatch):
    """What TinyLlama-1.1B-32k-Instruct's tokenizer lacks, the stand-in lacks; `load_model` supplies the Alpaca
    format the model was tuned with."""
    folder = planner_standin(tmp_path / "built", corpus(n=50))
    cache_as(tmp_path / "hub", "Doctor-Shotgun/TinyLlama-1.1B-32k-Instruct", folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert tokenizer.chat_template is None and tokenizer.convert_ids_to_tokens([0, 1, 2]) == [
        "<unk>",
        "<s>",
        "</s>",
    ]
    with pytest.raises(ValueError, match="no chat template"):
        with_chat_template(tokenizer, "someone/some-model")
    text = with_chat_template(tokenizer, "Doctor-Shotgun/TinyLlama-1.1B-32k-Instruct").apply_chat_template(
        [{"role": "system", "content": "Plan."}, {"role": "user", "content": "Text Sid"}],
        add_generation_prompt=True,
        tokenize=False,
    )
    assert text == "<s>### Instruction:\nPlan.\n\n### Input:\nText Sid\n\n### Response:\n"


def test_the_responder_reads_each_prompt():
    responder = Responder()
    teacher = teacher_messages(sample_tools(random.Random(0), 1, 2), DEFAULT_EXAMPLES[:1], "2024-06-12", 3)
    reply = responder("/v1/chat/completions", {"messages": teacher})
    assert reply.count("Plan:") == 4 and "send_slack" in reply
    assert "Action: Finish" in responder("/v1/chat/completions", {"messages": joiner_messages("q", "x")})
    assert responder.calls == {"teacher": 1, "joiner": 1}
