"""Profiles of the hot paths (issue 5), written as text under bench/profiles/ with pyinstrument.

    .venv/bin/python bench/profile.py            # engine load, command decoding, ask and listen start-up
    .venv/bin/python bench/profile.py --quick    # fewer decodes

Written:
- engine_load.txt: matcher + grammar compilation + both PocketSphinx decoders (what `rekindle listen` and
  `rekindle hear` pay once per process).
- command_decode.txt: streamed COMMAND decoding of a dozen spoken commands, chunk by chunk as in the loop, with
  the endpointer and matcher (the per-utterance cost).
- engine_load_native.txt: the same load sampled by py-spy with native frames (which C functions of PocketSphinx
  the time goes to; pyinstrument only sees the Python caller).
- ask_cold_start.txt: a whole `rekindle ask "give me a date night idea" --mute` process.
Each file starts with the machine's details. The first lines of each profile are printed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import COMMANDS, QUICK_VOICES, REKINDLE, clip, mic_chunks, print_machine, synthesizer

OUT = Path(__file__).with_name("profiles")


def _header() -> str:
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        print_machine("profile")
    return buffer.getvalue()


def _save(name: str, text: str) -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / name).write_text(_header() + text)
    lines = [line for line in text.splitlines() if line.strip()]
    print(f"== {OUT / name} ({len(lines)} lines); top:")
    print("\n".join(lines[:28]))
    print()


def profile_engine_load() -> object:
    from pyinstrument import Profiler

    from audio.stt.pocketsphinx import PocketSphinxEngine
    from intents.matcher import Matcher

    profiler = Profiler(interval=0.001)
    with profiler:
        engine = PocketSphinxEngine(matcher=Matcher())
        engine.load()
    _save("engine_load.txt", profiler.output_text(unicode=False, color=False, show_all=False))
    return engine


def profile_decode(engine: object, rounds: int) -> None:
    from pyinstrument import Profiler

    from audio.endpoint import Endpointer, SpeechAudio, SpeechEnded, SpeechStarted
    from audio.recognize import interpret
    from audio.stt import Mode

    synth = synthesizer()
    clips = [clip(synth, c.text, v, seed=n) for v in QUICK_VOICES for n, c in enumerate(COMMANDS)]
    chunked = [mic_chunks(c.audio) for c in clips]
    endpointer = Endpointer()
    matcher = engine._matcher  # type: ignore[attr-defined]
    profiler = Profiler(interval=0.0005)
    with profiler:
        for _ in range(rounds):
            for chunks in chunked:
                endpointer.reset()
                stream = None
                for chunk in chunks:
                    for event in endpointer.process(chunk):
                        if isinstance(event, SpeechStarted):
                            stream = engine.start(Mode.COMMAND)  # type: ignore[attr-defined]
                        elif isinstance(event, SpeechAudio) and stream is not None:
                            stream.feed(event.chunk)
                        elif isinstance(event, SpeechEnded) and stream is not None:
                            interpret(stream.finish(), matcher, engine, event.utterance)  # type: ignore[arg-type]
                            stream = None
    _save("command_decode.txt", profiler.output_text(unicode=False, color=False, show_all=False))


_LOAD_SCRIPT = """
import sys
sys.path.insert(0, {root!r})
from audio.stt.pocketsphinx import PocketSphinxEngine
from intents.matcher import Matcher
PocketSphinxEngine(matcher=Matcher()).load()
"""


def profile_engine_load_native(top: int = 25) -> None:
    """py-spy --native over a child process that loads the engine; leaf and inclusive shares of the samples."""
    from collections import Counter

    raw = OUT / "engine_load_native.raw"
    OUT.mkdir(exist_ok=True)
    py_spy = Path(sys.executable).with_name("py-spy")
    script = _LOAD_SCRIPT.format(root=str(Path(__file__).resolve().parent.parent))
    record = [str(py_spy), "record", "--native", "-r", "200", "-f", "raw", "-o", str(raw), "--"]
    done = subprocess.run(
        [*record, sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0 or not raw.exists():
        print(f"py-spy failed ({done.stderr.strip()[-200:]}); skipping the native profile")
        return
    leaf: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = [f.split(" (")[0] for f in stack.split(";")]
        total += int(count)
        leaf[frames[-1]] += int(count)
        for frame in set(frames):
            inclusive[frame] += int(count)
    raw.unlink()
    lines = [f"py-spy --native, {total} samples at 200 Hz of: PocketSphinxEngine(matcher=Matcher()).load()", ""]
    lines += ["share  inclusive (frames on the stack)"]
    lines += [f"{n / total:6.1%} {name}" for name, n in inclusive.most_common(top)]
    lines += ["", "share  leaf (where the CPU was)"]
    lines += [f"{n / total:6.1%} {name}" for name, n in leaf.most_common(top)]
    _save("engine_load_native.txt", "\n".join(lines) + "\n")


def profile_ask() -> None:
    pyinstrument = Path(sys.executable).with_name("pyinstrument")
    out = OUT / "ask_cold_start.raw.txt"
    OUT.mkdir(exist_ok=True)
    command = [str(pyinstrument), "--interval", "0.0005", "-r", "text", "--no-color", "--no-unicode", "-o", str(out)]
    subprocess.run(
        [*command, "-m", "assistant", "ask", "give me a date night idea", "--mute"],
        stdout=subprocess.DEVNULL,
        check=True,
    )
    text = out.read_text()
    out.unlink()
    _save("ask_cold_start.txt", text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one round of decodes instead of three")
    args = parser.parse_args()
    if not REKINDLE.exists():
        raise SystemExit(f"{REKINDLE} not found; install the project in this venv (pip install -e .)")
    print_machine("Rekindle profiles (bench/profile.py)")
    engine = profile_engine_load()
    profile_engine_load_native()
    profile_decode(engine, 1 if args.quick else 3)
    profile_ask()


if __name__ == "__main__":
    main()
