"""Shared pieces of the issue-5 benchmarks: machine details, statistics, tables, test speech, the virtual sound card.

Not a benchmark itself; bench/latency.py, bench/footprint.py and bench/hear_scaling.py import it.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import statistics
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from audio.synth import PIPER, Voice  # noqa: E402

if TYPE_CHECKING:
    from audio.chunk import AudioChunk
    from audio.synth import Synthesizer
    from intents.matcher import Matcher

CACHE = ROOT / "tests" / ".cache"
"""Synthesised speech, shared with the tests (git-ignored)."""
ALSA_CONF = Path("/usr/share/alsa/alsa.conf")
VMIC_CONF = ROOT / "tests" / "alsa" / "vmic.conf"
REKINDLE = Path(sys.executable).with_name("rekindle")
"""The console script of the venv running this benchmark."""


@dataclass(frozen=True)
class Command:
    """One spoken command of the latency set."""

    text: str
    """What is said."""
    intent: str
    """The intent it should give."""


COMMANDS = (
    Command("give us a conversation starter", "conversation_starter"),
    Command("ask us a deep question", "conversation_starter"),
    Command("give me some advice on communication", "strategy_advice"),
    Command("how can we get better at active listening", "strategy_advice"),
    Command("give us a date idea", "date_idea"),
    Command("what should we do tonight", "date_idea"),
    Command("start a date night for ninety minutes", "date_night_start"),
    Command("read me my gratitude journal", "review_gratitude"),
    Command("what was i grateful for yesterday", "review_gratitude"),
    Command("i'm grateful that sam cooked dinner for me tonight", "log_gratitude"),
    Command("say that again", "repeat"),
    Command("stop", "stop"),
)
"""A dozen commands: short words, long phrases, slots, and a one-breath gratitude (wildcard + dictation pass)."""

REJECTED = (
    Command("we're having dinner, give us something to talk about", "conversation_starter"),
    Command("how can we keep our relationship strong", "strategy_advice"),
    Command("i have something to add to my journal", "log_gratitude"),
    Command("tell me about the weather tomorrow", "none"),
    Command("i'm so tired today", "none"),
)
"""Requests no template holds and lines for no command: the grammar rejects them, the second chance reads them."""

DICTATION = (
    "my partner made me breakfast this morning",
    "we had a long walk by the river after work",
    "sam listened to me when i had a rough day",
    "you fixed the bike so we could ride together on sunday",
)
"""Free-text gratitude entries, decoded in DICTATION mode."""

VOICES = (PIPER, Voice("espeak", "en-us"), Voice("espeak", "en+f3"), Voice("espeak", "en-gb-x-rp", 0.85))
QUICK_VOICES = (PIPER, Voice("espeak", "en-us"))

FLOOR_DBFS = -60.0
"""RMS level of the quiet between utterances (a room is never digital zero)."""
SPEECH_END_DBFS = -50.0
"""A 10 ms frame of dry speech louder than this (RMS) still counts as speech when finding where speech ends."""


# -- machine and statistics ----------------------------------------------------------------------------------
def machine() -> dict[str, str]:
    """CPU model, cores, memory, OS, Python, date and source revision."""
    cpu = platform.processor() or platform.machine()
    try:
        fields = dict(
            (k.strip().lower(), v.strip())
            for k, _, v in (line.partition(":") for line in Path("/proc/cpuinfo").read_text().splitlines())
        )
        cpu = fields.get("model name") or fields.get("hardware") or fields.get("model") or cpu
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1024 / 1024:.1f} GB"
    except (OSError, ValueError, IndexError):
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    revision = subprocess.run(
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    engine_files = ", ".join(
        f"{name} {hashlib.sha1((ROOT / name).read_bytes()).hexdigest()[:8]}"
        for name in ("audio/stt/pocketsphinx.py", "intents/grammar.py")
        if (ROOT / name).is_file()
    )
    return {
        "date": datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": cpu,
        "cores": f"{usable} usable of {os.cpu_count()}",
        "memory": memory,
        "os": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "revision": f"{revision}{' + local changes' if dirty else ''}" or "unknown",
        "engine files (sha1)": engine_files,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def print_machine(title: str) -> None:
    """A heading with the machine's details (every report starts with it)."""
    print(f"# {title}")
    for key, value in machine().items():
        print(f"- {key}: {value}")
    print()


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p90(values: Sequence[float]) -> float:
    """90th percentile (inclusive method; the largest value for fewer than 2 values)."""
    if len(values) < 2:
        return max(values) if values else float("nan")
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table (pads columns so it also reads well in a terminal)."""
    cells = [[str(h) for h in headers]] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"
    return str(value)


class Stopwatch:
    """Wall and CPU time of a block: `with Stopwatch() as sw: ...; sw.wall, sw.cpu` (seconds)."""

    def __enter__(self) -> Stopwatch:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


# -- test speech ---------------------------------------------------------------------------------------------
def synthesizer() -> Synthesizer:
    from audio.synth import Synthesizer

    return Synthesizer(CACHE)


def quiet(seconds: float, seed: int = 1) -> bytes:
    """16 kHz 16-bit mono noise floor at FLOOR_DBFS."""
    import numpy as np

    rng = np.random.default_rng(seed)
    samples = rng.normal(0.0, 32768 * 10 ** (FLOOR_DBFS / 20), int(16000 * seconds))
    return np.clip(samples, -32768, 32767).astype("<i2").tobytes()


@dataclass(frozen=True)
class Clip:
    """A command as a microphone hears it, with where its speech really ends."""

    label: str
    """'voice: text' for reports."""
    audio: AudioChunk
    """16 kHz 16-bit mono: lead quiet, speech, trailing quiet."""
    speech_end_ms: float
    """Milliseconds from the start of `audio` to the end of the last frame louder than SPEECH_END_DBFS."""
    speech_ms: float
    """Milliseconds of the dry speech (first to last loud frame)."""


def clip(synth: Synthesizer, text: str, voice: Voice, lead_s: float = 0.5, trail_s: float = 2.0, seed: int = 0) -> Clip:
    """Dry speech between quiet stretches; the true end of speech is found on the dry samples."""
    import numpy as np

    from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk

    dry = synth.speech(text, voice)
    frame = RATE // 100
    frames = dry[: dry.size - dry.size % frame].reshape(-1, frame)
    rms_db = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1)) + 1e-12)
    loud = np.flatnonzero(rms_db > SPEECH_END_DBFS)
    first, last = (int(loud[0]), int(loud[-1])) if loud.size else (0, len(frames) - 1)
    pcm = (np.clip(dry, -1.0, 32767 / 32768) * 32768).astype("<i2").tobytes()
    floor_seed = seed * 1000 + zlib.crc32(text.encode()) % 1000
    audio = quiet(lead_s, floor_seed) + _add_floor(pcm, floor_seed + 1) + quiet(trail_s, floor_seed + 2)
    return Clip(
        f"{voice.label}: {text}",
        AudioChunk(RATE, WIDTH, CHANNELS, audio),
        1000 * lead_s + 10 * (last + 1),
        10.0 * (last + 1 - first),
    )


def _add_floor(pcm: bytes, seed: int) -> bytes:
    import numpy as np

    speech = np.frombuffer(pcm, dtype="<i2").astype(np.float64)
    # Two samples over: `quiet` rounds its length down, which left the floor one sample short of some clips.
    floor = np.frombuffer(quiet((speech.size + 2) / 16000, seed), dtype="<i2").astype(np.float64)
    return np.clip(speech + floor[: speech.size], -32768, 32767).astype("<i2").tobytes()


def mic_chunks(audio: AudioChunk, chunk_ms: int = 30, start_ms: int = 0) -> list[AudioChunk]:
    """The audio cut as a microphone delivers it: `chunk_ms` pieces with stream timestamps."""
    from audio.chunk import AudioChunk, split

    return [
        AudioChunk(c.rate, c.width, c.channels, c.audio, c.timestamp + start_ms)
        for c in split(AudioChunk(audio.rate, audio.width, audio.channels, audio.audio, 0), chunk_ms)
    ]


def paced(chunks: Sequence[AudioChunk]) -> Iterator[AudioChunk]:
    """The chunks in real time, each when its last sample would have been spoken, as a microphone hands them
    over: what runs in the background while the person speaks (or pauses) gets the wall time it would get."""
    started = time.perf_counter()
    first = chunks[0].timestamp if chunks else 0
    for chunk in chunks:
        wait = started + (chunk.timestamp + chunk.milliseconds - first) / 1000 - time.perf_counter()
        if wait > 0:
            time.sleep(wait)
        yield chunk


# -- the engine and the virtual sound card --------------------------------------------------------------------
def load_engine(matcher: Matcher | None = None, name: str = "auto") -> tuple[Any, Matcher, float]:
    """The engine `name` (auto: the default, as `rekindle listen` picks it) loaded for commands; returns
    (engine, matcher, load seconds)."""
    from assistant.paths import default_cache_dir
    from audio.stt.registry import create_engine
    from intents.matcher import Matcher

    started = time.perf_counter()
    matcher = matcher or Matcher()
    engine: Any = create_engine(name, matcher=matcher, cache_dir=default_cache_dir())
    engine.load()
    return engine, matcher, time.perf_counter() - started


def alsa_env(mic: Path | None = None, speaker: str | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for the virtual microphone (raw file `mic`) and speaker (a path or a `|command`)."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if not k.startswith("REKINDLE_")}
    env["ALSA_CONFIG_PATH"] = f"{ALSA_CONF}:{VMIC_CONF}"
    env["VMIC_FILE"] = str(mic) if mic else "/dev/null"
    env["VSPK_FILE"] = speaker or "/dev/null"
    return env
