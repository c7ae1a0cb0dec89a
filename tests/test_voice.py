"""Spoken commands: audio loading and its errors, spoken forms, the domain language model, the speech engines
(PocketSphinx on espeak-ng speech, an OpenAI-compatible endpoint with a real upload), and the agent from audio."""

import io
import math
import shutil
import subprocess

import numpy as np
import pytest
import soundfile as sf

from workbench import cli, config
from workbench.llm.testing import FakeChatServer
from workbench.voice import MissingEngineError, SpeechConfig, VoiceConfig, name_forms, transcriber
from workbench.voice.audio import Audio, AudioError, load_audio
from workbench.voice.engines import OpenAITranscription, PocketSphinx
from workbench.voice.lm import build, ipa_to_cmu, write_arpa
from workbench.voice.spoken import spoken, spoken_words, written

needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs Debian's espeak-ng")
COMMAND = "Text Sid that I am running late and create a meeting with Lutfi tomorrow at 2pm"


def _write(path, samples, rate=16_000):
    sf.write(str(path), np.asarray(samples, dtype=np.float32), rate)
    return path


def _say(text, path, voice="en-us", wpm=150):
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(wpm), "-w", str(path), text], check=True)
    return path


# ------------------------------------------------------------------------------------------------ audio


def test_audio_is_read_as_mono_16khz_from_any_rate_and_format(tmp_path):
    t = np.arange(22_050) / 22_050
    stereo = np.stack([np.sin(2 * math.pi * 220 * t), np.sin(2 * math.pi * 330 * t)], axis=1) * 0.3
    wav = tmp_path / "a.wav"
    sf.write(str(wav), stereo.astype(np.float32), 22_050)
    flac = tmp_path / "a.flac"
    sf.write(str(flac), stereo.astype(np.float32), 22_050)
    for path in (wav, flac):
        audio = load_audio(path)
        assert audio.rate == 16_000 and audio.samples.ndim == 1
        assert audio.seconds == pytest.approx(1.0, abs=0.01)


def _bad_file(kind, p):
    if kind == "missing":
        return p / "missing.wav"
    if kind == "folder":
        return p
    if kind == "empty":
        (p / "empty.wav").write_bytes(b"")
        return p / "empty.wav"
    if kind == "not audio":
        (p / "text.wav").write_text("not audio")
        return p / "text.wav"
    if kind == "silent":
        return _write(p / "silent.wav", np.zeros(16_000))
    if kind == "short":
        return _write(p / "short.wav", np.full(400, 0.1))
    return _write(p / "low.wav", np.random.default_rng(0).normal(0, 0.1, 4000), 4000)


@pytest.mark.parametrize(
    "kind, message",
    [
        ("missing", "no audio file at"),
        ("folder", "is a folder"),
        ("empty", "is empty"),
        ("not audio", "cannot read"),
        ("silent", "is silent"),
        ("short", "too short"),
        ("low rate", "4000 Hz"),
    ],
)
def test_bad_audio_is_a_clear_error(tmp_path, kind, message):
    with pytest.raises(AudioError, match=message):
        load_audio(_bad_file(kind, tmp_path))


def test_bad_audio_on_the_command_line_is_one_line_not_a_traceback(tmp_path, capsys):
    path = _write(tmp_path / "silent.wav", np.zeros(16_000))
    assert cli.main(["agent", "--audio", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error:") and "silent" in err and "Traceback" not in err
    assert cli.main(["agent", "text sid", "--audio", str(path)]) == 1
    assert "one of them" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ spoken form


def test_spoken_and_written_forms():
    assert spoken("Meet Łukasz at 3:30pm re lease.pdf") == "meet lukasz at three thirty p m re lease dot pdf"
    assert spoken("call 555-123-4567 on 2024-09-17") == (
        "call five five five one two three four five six seven on september seventeenth twenty twenty four"
    )
    assert spoken_words("a 45-minute call at 10:05") == [
        "a",
        "forty",
        "five",
        "minute",
        "call",
        "at",
        "ten",
        "oh",
        "five",
    ]
    assert written("meet ayse at two thirty p m for forty five minutes", name_forms()) == (
        "meet Ayşe at 2:30 pm for 45 minutes"
    )
    assert written("text one of them at ten a m") == "text one of them at 10 am"  # small numbers stay words


def test_ipa_maps_to_cmu_phones():
    assert ipa_to_cmu("l_ˈʌ_t_f_i") == "L AH T F IY"
    assert ipa_to_cmu("tʃ_ˈɜː_tʃ") == "CH ER CH"
    assert ipa_to_cmu("q_a") is None  # a phoneme with no CMU match: no guess rather than a wrong one


def _arpa(path):
    """{order: {gram: (log10 p, log10 backoff)}} of an ARPA file."""
    grams, n = {}, 0
    for line in path.read_text().splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1])
            grams[n] = {}
        elif n and line and not line.startswith("\\"):
            parts = line.split("\t")
            grams[n][tuple(parts[1].split())] = (float(parts[0]), float(parts[2]) if len(parts) > 2 else 0.0)
    return grams


def test_the_arpa_model_is_a_probability_distribution_in_every_context(tmp_path):
    sentences = [
        s.split() for s in ["text sid now", "text mom now", "call sid", "text sid later", "call mom now"]
    ]
    vocab = write_arpa(sentences, tmp_path / "m.arpa")
    g = _arpa(tmp_path / "m.arpa")
    assert vocab == 6 and ("text", "sid", "now") in g[3]

    def p(w, h):  # the backoff recursion a decoder runs
        if not h:
            return 10 ** g[1][(w,)][0]
        if (*h, w) in g[len(h) + 1]:
            return 10 ** g[len(h) + 1][(*h, w)][0]
        return 10 ** g[len(h)].get(h, (0, 0.0))[1] * p(w, h[1:])

    words = [w for (w,) in g[1] if w != "<s>"]
    for h in [(), ("<s>",), ("text",), ("text", "sid"), ("sid",), ("<s>", "call")]:
        assert sum(p(w, h) for w in words) == pytest.approx(1.0, abs=1e-3), h


# ------------------------------------------------------------------------------------------ the engines


@pytest.fixture(scope="module")
def domain(tmp_path_factory):
    sentences = [
        spoken(q)
        for q in [
            COMMAND,
            "text Sid that I'm running late",
            "create a meeting with Lutfi tomorrow at 3pm",
            "send an email to Lutfi about the budget",
            "what is Sid's phone number",
            "remind me to call mom tomorrow",
        ]
        * 5
    ]
    return build(sentences, tmp_path_factory.mktemp("lm"), names=["lutfi", "sid"])


@needs_espeak
def test_pocketsphinx_with_the_domain_model_hears_a_command_the_stock_model_does_not(domain, tmp_path):
    import jiwer

    audio = load_audio(_say(spoken(COMMAND), tmp_path / "c.wav"))
    heard = PocketSphinx(domain).transcribe(audio)
    assert heard.engine.startswith("pocketsphinx (domain") and heard.seconds > 0
    assert jiwer.wer(spoken(COMMAND), heard.text) < 0.3, heard.text
    assert heard.words and heard.words[0].start_s <= heard.words[-1].start_s <= audio.seconds
    stock = PocketSphinx(None).transcribe(audio)
    assert jiwer.wer(spoken(COMMAND), stock.text) > jiwer.wer(spoken(COMMAND), heard.text)


def test_an_openai_compatible_endpoint_gets_the_audio_as_a_wav_upload():
    t = np.arange(8000) / 16_000
    audio = Audio((0.3 * np.sin(2 * math.pi * 200 * t)).astype(np.float32), 16_000, "tone")
    with FakeChatServer(["Text Sid that I'm running late.", ("status", 401)]) as server:
        engine = OpenAITranscription(server.base_url, "whisper-1", "sk-secret-key")
        heard = engine.transcribe(audio)
        assert heard.text == "Text Sid that I'm running late." and heard.audio_s == pytest.approx(0.5)
        assert server.paths == ["/v1/audio/transcriptions"]
        assert server.requests[0]["model"] == "whisper-1" and server.requests[0]["file"] == "command.wav"
        uploaded, rate = sf.read(io.BytesIO(server.uploads[0]), dtype="float32")
        assert rate == 16_000 and np.abs(uploaded - audio.samples).max() < 1e-4  # 16-bit PCM of the samples
        with pytest.raises(RuntimeError, match="transcription endpoint .* failed") as e:
            engine.transcribe(audio)
        assert "sk-secret-key" not in str(e.value)  # the server echoes the key; the message must not


def test_engines_are_chosen_by_config_and_missing_ones_are_named(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match="OPENAI_API_KEY, or --stt-base-url"):
        transcriber(SpeechConfig(stt="openai"), tmp_path)
    engine = transcriber(SpeechConfig(stt="openai", stt_base_url="http://127.0.0.1:9/v1"), tmp_path)
    assert engine.name.startswith("openai-compatible (whisper-1")
    with pytest.raises(ValueError, match="unknown speech engine 'vosk'"):
        transcriber(SpeechConfig(stt="vosk"), tmp_path)
    for stt, package in [("faster-whisper", "faster-whisper"), ("mlx-whisper", "mlx-whisper")]:
        try:
            transcriber(SpeechConfig(stt=stt), tmp_path)
        except MissingEngineError as e:
            assert f"pip install {package}" in str(e)
        except Exception as e:  # installed, but no model can be fetched offline
            assert "pip install" not in str(e)


# ------------------------------------------------------------------------------------- end to end


@needs_espeak
def test_a_spoken_command_runs_through_the_agent(tmp_workbench, tmp_path, capsys):
    from workbench.finetune.bundled import bundled_planner

    wav = _say(spoken("create a meeting with Amara tomorrow at 2pm"), tmp_path / "cmd.wav")
    args = [
        "agent",
        "--audio",
        str(wav),
        "--model",
        str(bundled_planner()),
        "--toolrag",
        "none",
        "--constrained",
    ]
    code = cli.main(args)
    out = capsys.readouterr().out
    assert code == 0, out
    heard = out.split("heard (pocketsphinx (domain language model)", 1)[1].splitlines()[0]
    assert "create a meeting with amara tomorrow at two p m" in heard  # then written as "... at 2 pm"
    assert 'get_email_address("Amara")' in out
    assert "create_calendar_event(" in out and "14:00:00" in out
    assert (config.artifacts_dir() / "voice" / "domain.arpa").exists()  # built once, then reused


@needs_espeak
def test_the_voice_benchmark_writes_its_keys(tmp_workbench):
    from workbench.agent import AgentConfig, TinyAgent
    from workbench.finetune.bundled import bundled_planner
    from workbench.stages import synth, voice
    from workbench.synth.dataset import SynthConfig

    synth.run(SynthConfig(train=300, val=5, test=5, ood=5, report_sample=5))
    agent = TinyAgent.from_config(
        AgentConfig(model=str(bundled_planner()), toolrag="none", constrained=True, max_replans=0),
        config.artifacts_dir(),
    )
    r = voice.run(VoiceConfig(n=2, stock_n=1, lm_queries=300), agent=agent, progress=False)
    for key in (
        "wer",
        "wer_entities",
        "success_speech",
        "success_text",
        "stt_engine",
        "stt_seconds_per_audio_second",
    ):
        assert key in r
    assert r["n"] == 4 and set(r["by_split"]) == {"test", "ood"} and 0 <= r["wer"] <= 2
    assert 0 < r["stt_seconds_per_audio_second"] < 5 and "wer_stock_lm" in r
    assert config.load_results("voice")["stt_engine"].startswith("pocketsphinx")
