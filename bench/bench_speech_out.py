"""How fast is speech out? Engine start, synthesis per sentence, and time from play() to the first sample.

    .venv/bin/python bench/bench_speech_out.py [--runs 20] [--piper] [--pyaudio]

Playback is timed on the virtual ALSA speaker (tests/alsa/vmic.conf): the time from `play()` being called to
the first audio bytes landing in the speaker's file, polled every 0.1 ms. That is process start + device open
+ first write; a real card adds its own buffer latency on top, the same for any player.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SENTENCES = (
    "Hello. I'm listening.",
    "Tell me one small thing your partner did this week that you were grateful for.",
    "Here is a question for tonight: what is a place you would both like to see again, and why?",
    "Got it.",
    "Date night starts now. I'll check in every eight minutes with something new to talk about.",
)


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f} ms"


def _summary(values: list[float]) -> str:
    return f"median {_ms(statistics.median(values))}, min {_ms(min(values))}, max {_ms(max(values))}"


def bench_pyttsx3() -> None:
    started = time.perf_counter()
    from audio.tts import Pyttsx3Voice

    imported = time.perf_counter()
    voice = Pyttsx3Voice()
    ready = time.perf_counter()
    print(f"pyttsx3: import {_ms(imported - started)}, engine start {_ms(ready - imported)}")
    times, factors = [], []
    for _ in range(3):
        for sentence in SENTENCES:
            t0 = time.perf_counter()
            chunk = voice.synthesize(sentence)
            elapsed = time.perf_counter() - t0
            times.append(elapsed)
            factors.append(elapsed / (chunk.milliseconds / 1000))
    print(f"pyttsx3: per sentence {_summary(times)}; real-time factor median {statistics.median(factors):.4f}")


def bench_piper() -> None:
    started = time.perf_counter()
    from audio.tts import PiperVoice

    voice = PiperVoice()
    voice.synthesize("Warm up.")
    ready = time.perf_counter()
    print(f"piper: import + load + first sentence {_ms(ready - started)}")
    times, factors = [], []
    for sentence in SENTENCES:
        t0 = time.perf_counter()
        chunk = voice.synthesize(sentence)
        elapsed = time.perf_counter() - t0
        times.append(elapsed)
        factors.append(elapsed / (chunk.milliseconds / 1000))
    print(f"piper: per sentence {_summary(times)}; real-time factor median {statistics.median(factors):.3f}")


def _first_sample(path: Path, play: Callable[[], object]) -> float:
    """Seconds from calling `play` (in a thread) to more than a WAV header in `path`."""
    path.unlink(missing_ok=True)
    t0 = time.perf_counter()
    worker = threading.Thread(target=play)
    worker.start()
    seen = None
    while seen is None and (worker.is_alive() or not path.exists()):
        if path.exists() and path.stat().st_size > 44:
            seen = time.perf_counter() - t0
        time.sleep(0.0001)
    worker.join()
    if seen is None and path.exists() and path.stat().st_size > 44:
        seen = time.perf_counter() - t0  # finished between two polls
    if seen is None:
        raise SystemExit(f"nothing reached the virtual speaker ({path})")
    return seen


def bench_playback(runs: int, pyaudio: bool) -> None:
    from audio.earcon import listening
    from audio.playback import AplaySpeaker
    from audio.tts import Pyttsx3Voice

    spk = Path(os.environ["VSPK_FILE"])
    speaker = AplaySpeaker()
    chime = listening()
    speech = Pyttsx3Voice().synthesize(SENTENCES[1])
    for label, chunk in (("earcon", chime), ("sentence", speech)):
        times = [_first_sample(spk, functools.partial(speaker.play, chunk)) for _ in range(runs)]
        print(f"aplay: play() -> first sample ({label}): {_summary(times)}")
    if pyaudio:
        import pyaudio as pa

        t0 = time.perf_counter()
        audio = pa.PyAudio()
        print(f"pyaudio: PyAudio() {_ms(time.perf_counter() - t0)}")

        def play() -> None:
            stream = audio.open(format=pa.paInt16, channels=1, rate=chime.rate, output=True)
            stream.write(chime.audio)
            stream.stop_stream()
            stream.close()

        times = [_first_sample(spk, play) for _ in range(runs)]
        print(f"pyaudio: open + write -> first sample (earcon): {_summary(times)}")
        audio.terminate()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="playback runs per measurement")
    parser.add_argument("--piper", action="store_true", help="also time the optional Piper voice")
    parser.add_argument("--pyaudio", action="store_true", help="also time PyAudio playback, for comparison")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="rekindle-bench-"))
    # Before anything loads ALSA: the virtual speaker, for us and for aplay.
    os.environ["ALSA_CONFIG_PATH"] = f"/usr/share/alsa/alsa.conf:{ROOT / 'tests/alsa/vmic.conf'}"
    os.environ["VSPK_FILE"] = str(tmp / "speaker.wav")
    bench_pyttsx3()
    if args.piper:
        bench_piper()
    bench_playback(args.runs, args.pyaudio)


if __name__ == "__main__":
    main()
