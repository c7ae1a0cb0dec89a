"""Spoken commands (TinyAgent, Sec. 6: the assistant takes speech, transcribed on the device).

    audio file -> `audio.load_audio` (mono, 16 kHz, bad files named) -> an engine (`engines`: PocketSphinx with
    the domain language model of `lm`, an OpenAI-compatible endpoint, faster-whisper, mlx-whisper)
    -> `Transcript` -> `spoken.written` (digits and times as typed) -> the agent, as for a typed query

    >>> transcriber(VoiceConfig(), config.artifacts_dir()).transcribe(load_audio("command.wav"))  # doctest: +SKIP

`VoiceConfig` chooses the engine (`stt`) and holds the benchmark's settings (`workbench voice`,
`data/results/voice.json`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from workbench.synth import pools
from workbench.synth.dataset import SynthConfig, generate_offline, load_split, split_path
from workbench.voice.audio import AudioError, can_speak, load_audio, speak
from workbench.voice.engines import (
    Engine,
    FasterWhisper,
    MissingEngineError,
    MlxWhisper,
    OpenAITranscription,
    PocketSphinx,
    Transcript,
)
from workbench.voice.lm import DomainModel, build, cached
from workbench.voice.spoken import spoken, written

__all__ = [
    "AudioError",
    "Engine",
    "MissingEngineError",
    "SpeechConfig",
    "Transcript",
    "VoiceConfig",
    "can_speak",
    "hear",
    "load_audio",
    "name_forms",
    "speak",
    "spoken",
    "transcriber",
    "written",
]

ENGINES = ("pocketsphinx", "openai", "faster-whisper", "mlx-whisper")


@dataclass
class SpeechConfig:
    """The speech engine (`workbench agent --audio`). Field help texts serve `--help` and notebooks."""

    stt: str = field(
        default="pocketsphinx",
        metadata={"help": "speech engine: pocketsphinx (offline), openai (any /v1/audio/transcriptions), "
                  "faster-whisper or mlx-whisper (in process, where installed)", "choices": ENGINES},
    )  # fmt: skip
    stt_lm: str = field(
        default="domain", metadata={"help": "pocketsphinx: domain (built from the training queries) or stock"}
    )
    stt_base_url: str | None = field(
        default=None, metadata={"help": "openai engine: server URL (None: api.openai.com)"}
    )
    stt_model: str | None = field(
        default=None,
        metadata={"help": "openai: model name (whisper-1); whisper engines: model folder or id (base.en)"},
    )
    lm_queries: int = field(
        default=20_000, metadata={"help": "training queries the domain language model learns from"}
    )


@dataclass
class VoiceConfig(SpeechConfig):
    """The engine and the voice benchmark (`workbench voice`, `data/results/voice.json`)."""

    n: int = field(default=200, metadata={"help": "benchmark: test queries spoken (and as many ood ones)"})
    voices: str = field(
        default="en-us,en-us+f3", metadata={"help": "benchmark: espeak-ng voices, taken in turn"}
    )
    speeds: str = field(
        default="150,180", metadata={"help": "benchmark: espeak-ng words per minute, in turn"}
    )
    stock_n: int = field(
        default=40, metadata={"help": "benchmark: queries also transcribed with the stock language model"}
    )


@cache
def name_forms() -> dict[str, str]:
    """{spoken: written} for the first and last names the desktop's people have ("ayse": "Ayşe")."""
    return {spoken(name): name for name in (*pools.FIRST, *pools.LAST) if " " not in spoken(name)}


def hear(engine: Engine, path: str | Path) -> tuple[Transcript, str]:
    """Transcribe the command in `path` with `engine`: (the transcript, the query it is as typed text)."""
    heard = engine.transcribe(load_audio(path))
    query = written(heard.text, name_forms())
    if not query.strip():
        raise AudioError(f"{path}: {heard.engine} heard no words; speak closer to the microphone and again")
    return heard, query


def lm_source(n: int, dataset: Path | None) -> list[Any]:
    """What the domain model learns from: the dataset's training split (by size and time) or the generator."""
    train = split_path("train", dataset) if dataset is not None else None
    if train is not None and train.exists():
        return [str(train), train.stat().st_size, train.stat().st_mtime_ns, n]
    return ["offline generator, seed 0", n]


def lm_sentences(n: int, dataset: Path | None) -> list[str]:
    """The spoken form of `n` training queries: the dataset's, or the offline generator's when there is none."""
    if dataset is not None and split_path("train", dataset).exists():
        records = load_split("train", limit=n, folder=dataset)
        return [spoken(r["query"]) for r in records]
    generated, _ = generate_offline(SynthConfig(train=n, val=0, test=0, ood=0), splits=("train",))
    return [spoken(r.query) for r in generated["train"]]


def domain_model(cfg: SpeechConfig, folder: Path, dataset: Path | None = None) -> DomainModel:
    """The domain language model for PocketSphinx in `folder` (built once, then reused): the training queries,
    and the names of the people, places and files the training split draws from."""
    source = lm_source(cfg.lm_queries, dataset)
    if (model := cached(folder, source)) is not None:
        return model
    # each first and last name once (not every pairing: tens of thousands of them would outweigh the queries)
    people = {spoken(x) for full in pools.people("train") for x in full.split()}
    names = sorted(people | {spoken(x) for x in (*pools.places("train"), *pools.files("train"))})
    return build(lm_sentences(cfg.lm_queries, dataset), folder, names, source)


def transcriber(cfg: SpeechConfig, artifacts: Path, dataset: Path | None = None) -> Engine:
    """The engine `cfg.stt` names; the domain model of PocketSphinx lives in `artifacts/voice`."""
    if cfg.stt == "pocketsphinx":
        if cfg.stt_lm not in ("domain", "stock"):
            raise ValueError(f"unknown stt_lm {cfg.stt_lm!r}: use domain or stock")
        return PocketSphinx(
            domain_model(cfg, artifacts / "voice", dataset) if cfg.stt_lm == "domain" else None
        )
    if cfg.stt == "openai":
        key = os.environ.get("OPENAI_API_KEY")
        if not key and not cfg.stt_base_url:
            raise ValueError("the openai engine needs OPENAI_API_KEY, or --stt-base-url of a local server")
        return OpenAITranscription(cfg.stt_base_url, cfg.stt_model or "whisper-1", key)
    if cfg.stt == "faster-whisper":
        return FasterWhisper(cfg.stt_model or "base.en")
    if cfg.stt == "mlx-whisper":
        return MlxWhisper(cfg.stt_model or "mlx-community/whisper-base.en-mlx")
    raise ValueError(f"unknown speech engine {cfg.stt!r}: choose one of {', '.join(ENGINES)}")
