"""Reading a spoken command: any file soundfile (libsndfile: WAV, FLAC, OGG, MP3) or ffmpeg reads, as mono
float32 at the rate the speech engine takes, with a clear error for what cannot be a command.

    >>> audio = load_audio("command.wav")  # doctest: +SKIP
    >>> audio.rate, round(audio.seconds, 1)  # doctest: +SKIP
    (16000, 4.7)
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np

RATE = 16_000  # what PocketSphinx's English model and Whisper take
MIN_SECONDS = 0.2
SILENCE_RMS = 1e-4  # about -80 dBFS: digital silence or a muted microphone


class AudioError(ValueError):
    """A file that cannot be a spoken command; the message names the problem and what to do."""


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # mono float32 in [-1, 1]
    rate: int
    source: str

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def pcm16(self) -> bytes:
        """Little-endian 16-bit PCM, as PocketSphinx's `process_raw` reads it."""
        return (np.clip(self.samples, -1.0, 1.0) * 32767).astype("<i2").tobytes()


def _read_soundfile(path: Path) -> tuple[np.ndarray, int] | None:
    import soundfile as sf

    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError):
        return None
    return data.mean(axis=1), int(rate)


def _read_ffmpeg(path: Path, rate: int) -> tuple[np.ndarray, int] | None:
    ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        return None
    cmd = [
        ffmpeg,
        "-nostdin",
        "-loglevel",
        "error",
        "-i",
        str(path),
        "-ac",
        "1",
        "-ar",
        str(rate),
        "-f",
        "f32le",
        "-",
    ]
    done = subprocess.run(cmd, capture_output=True, timeout=120)
    if done.returncode != 0:
        return None
    return np.frombuffer(done.stdout, dtype="<f4").copy(), rate


def resample(samples: np.ndarray, rate: int, target: int = RATE) -> np.ndarray:
    """Polyphase resampling (scipy) to `target` Hz: 22,050 -> 16,000 is up 320, down 441."""
    if rate == target:
        return samples.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    return resample_poly(samples, target // g, rate // g).astype(np.float32)


def load_audio(path: str | Path, rate: int = RATE) -> Audio:
    """The command in `path` as mono float32 at `rate` Hz; an `AudioError` for a missing, unreadable, empty,
    too short or silent file."""
    path = Path(path)
    if not path.exists():
        raise AudioError(f"no audio file at {path}: give the path of a WAV, FLAC or MP3 recording")
    if path.is_dir():
        raise AudioError(f"{path} is a folder: give the path of a WAV, FLAC or MP3 recording")
    if path.stat().st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes): record the command again")
    read = _read_soundfile(path) or _read_ffmpeg(path, rate)
    if read is None:
        hint = "" if shutil.which("ffmpeg") else "; install ffmpeg to read other formats"
        raise AudioError(
            f"cannot read {path} as audio: not a WAV, FLAC, OGG or MP3 file libsndfile can decode{hint}"
        )
    samples, source_rate = read
    if source_rate < 8_000:
        raise AudioError(
            f"{path} is sampled at {source_rate} Hz; speech engines need at least 8,000 Hz (16,000 is best)"
        )
    samples = resample(samples, source_rate, rate)
    if len(samples) < MIN_SECONDS * rate:
        raise AudioError(f"{path} holds {len(samples) / rate:.2f} s of audio: too short for a spoken command")
    if float(np.sqrt(np.mean(np.square(samples)))) < SILENCE_RMS:
        raise AudioError(
            f"{path} is silent (no signal above -80 dBFS): check the microphone and record again"
        )
    return Audio(samples, rate, str(path))


def padded(audio: Audio, seconds: float = 0.5, seed: int = 0) -> Audio:
    """`audio` with `seconds` of quiet noise before and after, scaled to half of full range.

    PocketSphinx's voice-activity and cepstral-mean estimates need a little silence before the first word:
    an espeak-ng recording of "Text Sid that I am running late ..." starts at its first sample, and was heard
    as "the" without the padding and "text sid that i'm running ..." with it (measured here)."""
    rng = np.random.default_rng(seed)
    peak = float(np.abs(audio.samples).max()) or 1.0
    pad = np.zeros(int(seconds * audio.rate), dtype=np.float32)
    body = np.concatenate([pad, audio.samples / peak * 0.5, pad])
    noise = rng.normal(0.0, 3e-4, len(body)).astype(np.float32)
    return Audio(body + noise, audio.rate, audio.source)


def can_speak() -> bool:
    """Whether espeak-ng (Debian's `espeak-ng` package) is installed to say commands into WAV files."""
    return shutil.which("espeak-ng") is not None


def speak(text: str, path: str | Path, voice: str = "en-us", wpm: int = 150) -> Path:
    """espeak-ng (formant synthesis: a machine voice, not a person's) says `text` into the WAV file `path`."""
    espeak = shutil.which("espeak-ng")
    if espeak is None:
        raise FileNotFoundError("speaking a command needs espeak-ng: `apt-get install espeak-ng`")
    subprocess.run([espeak, "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True, timeout=60)
    return Path(path)
