"""The voice benchmark (issue 18; TinyAgent Sec. 6 takes spoken commands): synthetic speech of test and ood
queries, transcribed offline, then planned: `data/results/voice.json`.

espeak-ng speaks the spoken form of each query (`voice.spoken`: "3:30pm" as "three thirty p m"), in turn in
`cfg.voices` x `cfg.speeds`, to WAV files in a temporary folder (never kept). The engine transcribes each; the
transcript, written back in typed form (`voice.written`), goes to the agent as a typed query would, and its
first plan is scored against the gold plan beside the plan of the typed query.

Keys: `wer` (jiwer, over all spoken queries), `wer_entities` (the share of the words of names, places and
files in the gold plan's look-up, file and map arguments that the engine did not hear as said: substitutions
and deletions; insertions belong to no word), `success_speech`, `success_text` (first-plan DAG success from the
transcript and from the typed query), `stt_engine`, `stt_seconds_per_audio_second`, per split (`test`, `ood`)
and per voice, and the stock language model's WER on the first `cfg.stock_n` queries (`wer_stock_lm`) beside
the domain model's on the same ones (`wer_domain_lm_same_queries`).

    >>> run(config.stage_config(VoiceConfig, "voice", "quick"))  # doctest: +SKIP
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import jiwer
from tqdm.auto import tqdm

from workbench import config
from workbench.agent import AgentConfig, TinyAgent
from workbench.aio import run_sync
from workbench.metrics import score_plan
from workbench.plan import parse_plan
from workbench.synth.dataset import load_split
from workbench.tools.desktop import SimulatedDesktop
from workbench.voice import VoiceConfig, load_audio, name_forms, transcriber, written
from workbench.voice.audio import speak
from workbench.voice.engines import PocketSphinx
from workbench.voice.spoken import spoken, spoken_words

ENTITY_TOOLS = {  # tools whose string arguments name a person, a place or a file
    "get_phone_number",
    "get_email_address",
    "open_and_get_file_path",
    "summarize_pdf",
    "maps_open_location",
    "maps_show_directions",
}


def entity_words(plan: str) -> set[str]:
    """The spoken words of the names, places and files that the gold plan looks up, opens or maps."""
    words: set[str] = set()
    for step in parse_plan(plan).steps:
        if step.tool in ENTITY_TOOLS:
            for arg in step.args:
                if isinstance(arg, str) and not arg.startswith("$"):
                    words.update(spoken_words(arg))
    return words


def missed_entities(reference: str, hypothesis: str, entities: set[str]) -> tuple[int, int]:
    """(entity words of `reference` not heard as said, entity words of `reference`), by jiwer's alignment."""
    ref = reference.split()
    heard = [False] * len(ref)
    if hypothesis.strip():
        out = jiwer.process_words(reference, hypothesis)
        for chunk in out.alignments[0]:
            if chunk.type == "equal":
                for i in range(chunk.ref_start_idx, chunk.ref_end_idx):
                    heard[i] = True
    idx = [i for i, w in enumerate(ref) if w in entities]
    return sum(not heard[i] for i in idx), len(idx)


def _wer(refs: list[str], hyps: list[str]) -> float:
    return round(jiwer.wer(refs, [h if h.strip() else "<nothing>" for h in hyps]), 4)


def run(
    cfg: VoiceConfig | None = None, agent: TinyAgent | None = None, progress: bool = True
) -> dict[str, Any]:
    """Speak, transcribe and plan `cfg.n` test and `cfg.n` ood queries; save `voice.json`."""
    cfg = cfg or config.stage_config(VoiceConfig, "voice")
    dataset, artifacts = config.dataset_dir(), config.artifacts_dir()
    engine = transcriber(cfg, artifacts, dataset)
    stock = (
        PocketSphinx(None) if cfg.stock_n and cfg.stt == "pocketsphinx" and cfg.stt_lm == "domain" else None
    )
    # the first plan is what is scored: no replans (a replan of a garbled transcript only costs time)
    agent = agent or TinyAgent.from_config(
        config.stage_config(AgentConfig, "agent", max_replans=0), artifacts
    )
    voices = [(v, int(s)) for s in cfg.speeds.split(",") for v in cfg.voices.split(",")]
    records = [r for split in ("test", "ood") for r in load_split(split, limit=cfg.n, folder=dataset)]
    t0 = time.perf_counter()

    async def first_plan(query: str, r: dict[str, Any]) -> float:
        res = await agent.run(query, r["today"], SimulatedDesktop(today=r["today"]).prepare_for(r["plan"]))
        return score_plan(res.first_plan, r["plan"])["success"]

    rows = []
    with tempfile.TemporaryDirectory(prefix="workbench-voice-") as tmp:

        async def run_all() -> None:
            for i, r in enumerate(tqdm(records, desc="voice", unit="query", disable=not progress)):
                voice, wpm = voices[i % len(voices)]
                reference = spoken(r["query"])
                audio = load_audio(speak(reference, Path(tmp) / f"{i}.wav", voice, wpm))
                heard = engine.transcribe(audio)
                missed, n_entities = missed_entities(reference, heard.text, entity_words(r["plan"]))
                row = {
                    "split": r["split"],
                    "voice": f"{voice} {wpm} wpm",
                    "reference": reference,
                    "transcript": heard.text,
                    "audio_s": audio.seconds,
                    "stt_s": heard.seconds,
                    "entities_missed": missed,
                    "entities": n_entities,
                    "success_text": await first_plan(r["query"], r),
                    "success_speech": await first_plan(written(heard.text, name_forms()) or reference, r),
                }
                if stock is not None and i < cfg.stock_n:
                    row["transcript_stock_lm"] = stock.transcribe(audio).text
                rows.append(row)

        run_all_started = time.perf_counter()
        run_sync(agent.closing(run_all()))
    results: dict[str, Any] = {
        "profile": config.active_profile(),
        "stt_engine": engine.name,
        "n": len(rows),
        "voices": sorted({row["voice"] for row in rows}),
        **_summary(rows),
        "by_split": {s: _summary([r for r in rows if r["split"] == s]) for s in ("test", "ood")},
        "by_voice": {
            v: _summary([r for r in rows if r["voice"] == v]) for v in sorted({r["voice"] for r in rows})
        },
        "speech": "espeak-ng (formant synthesis) speaking the spoken form of each query; not human speech",
        "wall_s": round(time.perf_counter() - t0, 2),
        "planning_and_stt_wall_s": round(time.perf_counter() - run_all_started, 2),
        "examples": rows[:20],
    }
    same = [r for r in rows if "transcript_stock_lm" in r]
    if same:
        results["stock_n"] = len(same)
        results["wer_stock_lm"] = _wer(
            [r["reference"] for r in same], [r["transcript_stock_lm"] for r in same]
        )
        results["wer_domain_lm_same_queries"] = _wer(
            [r["reference"] for r in same], [r["transcript"] for r in same]
        )
    config.save_results("voice", results)
    return results


def _summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {}
    missed, entities = sum(r["entities_missed"] for r in rows), sum(r["entities"] for r in rows)
    return {
        "wer": _wer([r["reference"] for r in rows], [r["transcript"] for r in rows]),
        "wer_entities": round(missed / entities, 4) if entities else None,
        "success_speech": round(statistics.fmean(r["success_speech"] for r in rows), 4),
        "success_text": round(statistics.fmean(r["success_text"] for r in rows), 4),
        "stt_seconds_per_audio_second": round(
            sum(r["stt_s"] for r in rows) / sum(r["audio_s"] for r in rows), 4
        ),
        "n": len(rows),
    }
