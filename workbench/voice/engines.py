"""Speech to text behind one call, `Engine.transcribe(audio) -> Transcript`, with four engines:

- `PocketSphinx` (the offline default): CMU PocketSphinx 5 with the English acoustic model its wheel ships,
  decoding with the domain language model (`voice.lm`) or its stock one (`lm="stock"`);
- `OpenAITranscription`: any OpenAI-compatible `/v1/audio/transcriptions` endpoint (OpenAI's Whisper, a local
  faster-whisper or whisper.cpp server) through the `openai` client;
- `FasterWhisper` and `MlxWhisper`: Whisper in process (CTranslate2 elsewhere, MLX on Apple silicon), imported
  only when chosen, with a message naming the package when it is missing. TinyAgent transcribes with
  Whisper (whisper.cpp on the Mac); these are that path where the weights are at hand.

    >>> engine = PocketSphinx(model)  # doctest: +SKIP
    >>> engine.transcribe(load_audio("command.wav")).text  # doctest: +SKIP
    "text sid that i'm running late and create a meeting with ..."
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.voice.audio import Audio, padded
from workbench.voice.lm import DomainModel


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Transcript:
    """What an engine heard: the text, per-word timing where the engine gives it, and how long it took."""

    text: str
    engine: str
    audio_s: float
    seconds: float  # wall time of the transcription
    words: tuple[Word, ...] = field(default=())


class Engine(Protocol):
    name: str

    def transcribe(self, audio: Audio) -> Transcript: ...


class MissingEngineError(RuntimeError):
    """The chosen engine's package is not installed; the message names it."""


class PocketSphinx:
    """PocketSphinx with a language model: the domain one (`DomainModel`) or, with None, its stock model."""

    FRAME_S = 0.01  # PocketSphinx counts 100 frames a second

    def __init__(self, model: DomainModel | None = None, **options: Any):
        from pocketsphinx import Decoder

        self.model = model
        self.name = f"pocketsphinx ({'domain' if model else 'stock'} language model)"
        paths = {"lm": str(model.arpa), "dict": str(model.dictionary)} if model else {}
        self.decoder = Decoder(loglevel="FATAL", **paths, **options)

    def transcribe(self, audio: Audio) -> Transcript:
        t0 = time.perf_counter()
        d = self.decoder
        d.start_utt()
        d.process_raw(padded(audio).pcm16(), full_utt=True)
        d.end_utt()
        hyp = d.hyp()
        pad = 0.5  # `padded` adds half a second before the first sample
        words = tuple(
            Word(
                s.word,
                max(0.0, s.start_frame * self.FRAME_S - pad),
                max(0.0, s.end_frame * self.FRAME_S - pad),
            )
            for s in d.seg()
            if not s.word.startswith(("<", "[")) and s.word != "(NULL)"
        )
        text = hyp.hypstr if hyp else ""
        return Transcript(text, self.name, audio.seconds, time.perf_counter() - t0, words)


def wav_bytes(audio: Audio) -> bytes:
    """`audio` as a 16-bit WAV file in memory (what transcription endpoints accept)."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, audio.samples, audio.rate, format="WAV", subtype="PCM_16")
    return buf.getvalue()


class OpenAITranscription:
    """`POST {base_url}/audio/transcriptions` through the `openai` client (the audio sent as 16 kHz WAV)."""

    def __init__(self, base_url: str | None = None, model: str = "whisper-1", api_key: str | None = None):
        from openai import OpenAI

        self.client = OpenAI(
            base_url=base_url, api_key=api_key or "not-needed-for-a-local-server", max_retries=1
        )
        self._key = api_key or ""
        self.model = model
        self.name = f"openai-compatible ({model} at {self.client.base_url})"

    def transcribe(self, audio: Audio) -> Transcript:
        from openai import OpenAIError

        t0 = time.perf_counter()
        try:
            result = self.client.audio.transcriptions.create(
                model=self.model, file=("command.wav", wav_bytes(audio), "audio/wav"), response_format="json"
            )
        except OpenAIError as e:
            reason = str(e).replace(self._key, "***") if len(self._key) >= 4 else str(e)  # servers echo keys
            raise RuntimeError(
                f"the transcription endpoint {self.client.base_url} failed ({type(e).__name__}: {reason}); "
                "check --stt-base-url, --stt-model and OPENAI_API_KEY"
            ) from None
        return Transcript(result.text.strip(), self.name, audio.seconds, time.perf_counter() - t0)


class FasterWhisper:
    """faster-whisper in process (`pip install faster-whisper`; the model from a folder or the hub)."""

    def __init__(self, model: str = "base.en"):
        try:
            from faster_whisper import WhisperModel
        except ImportError as e:
            raise MissingEngineError(
                "the faster-whisper engine needs `pip install faster-whisper` (and its model, a folder or a hub "
                "id such as base.en); the offline default is --stt pocketsphinx"
            ) from e
        self.model = WhisperModel(model, device="cpu", compute_type="int8")
        self.name = f"faster-whisper ({model})"

    def transcribe(self, audio: Audio) -> Transcript:
        t0 = time.perf_counter()
        segments, _ = self.model.transcribe(audio.samples, language="en", word_timestamps=True)
        segments = list(segments)
        words = tuple(Word(w.word.strip(), w.start, w.end) for s in segments for w in (s.words or []))
        text = " ".join(s.text.strip() for s in segments)
        return Transcript(text, self.name, audio.seconds, time.perf_counter() - t0, words)


class MlxWhisper:
    """mlx-whisper on Apple silicon (`pip install mlx-whisper`; the model from a folder or the hub)."""

    def __init__(self, model: str = "mlx-community/whisper-base.en-mlx"):
        try:
            import mlx_whisper
        except ImportError as e:
            raise MissingEngineError(
                "the mlx-whisper engine needs `pip install mlx-whisper` on Apple silicon (and its model); the "
                "offline default is --stt pocketsphinx"
            ) from e
        self.module, self.model = mlx_whisper, model
        self.name = f"mlx-whisper ({model})"

    def transcribe(self, audio: Audio) -> Transcript:
        t0 = time.perf_counter()
        result = self.module.transcribe(audio.samples, path_or_hf_repo=self.model, language="en")
        return Transcript(result["text"].strip(), self.name, audio.seconds, time.perf_counter() - t0)
