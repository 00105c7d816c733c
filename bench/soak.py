"""Soak of `rekindle listen` (always-on): hundreds of spoken turns in one process; replies, journal, memory, FDs.

    .venv/bin/python bench/soak.py                          # 520 spoken utterances (~45 min of audio)
    .venv/bin/python bench/soak.py --quick                  # a short run: 60 utterances (~30 s)
    .venv/bin/python bench/soak.py --seed 2 --json-out soak.json

One raw file for the virtual microphone (tests/alsa/vmic.conf: 16 kHz mono s16le, read as fast as the process
asks) holds, in an order drawn from --seed: spoken commands, gratitude turns ("log something i'm grateful for",
then the entry, dictated), one-breath gratitude (bench/soak.tsv), bursts of pink or white noise (must give no
turn) and long silences; every item is followed by 1.2-2.5 s of a -60 dBFS floor, the file by a 30 s quiet tail.
Speech is Piper's Joe voice, and espeak-ng en-us for the phrases it decodes (synthesis cached in tests/.cache/).

`rekindle --data-dir TMP --debug listen --json --mute` runs on it. Each output line is tied to an item through
the process's read position in the microphone file (/proc/PID/fdinfo) when the line arrives: a turn belongs to
an item whose audio was read before it, in order (an alignment); --debug's "rejected an utterance" lines tell a
rejected utterance from one never heard. Every --sample-every spoken utterances the process's VmRSS, VmHWM, open
file descriptors and threads are sampled. Ctrl-C comes once 3 s of the tail were read.

Printed: machine; items fed by kind and by voice; turns; expected replies given, mis-recognised and missing;
turns out of noise or silence; journal entries saved vs expected (the SQLite file opened afterwards, `PRAGMA
integrity_check`, clips on disk); the RSS/FD/thread series with a flatness verdict. Exit 1 when a reply is
missing, noise or silence gave a turn, FDs grew or RSS grew more than --rss-bound-mb from the 20% mark to the
end, the journal disagrees with the turns or fails its check, or the process did not end cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REKINDLE, alsa_env, machine, median, p90, quiet, synthesizer, table

from audio.synth import PIPER, Voice

PHRASES = Path(__file__).with_name("soak.tsv")
VOICES = {"piper": PIPER, "espeak": Voice("espeak", "en-us")}
SPOKEN = ("command", "ask entry", "entry", "one-breath")
KINDS = (*SPOKEN, "noise", "silence")
BYTES_PER_MS = 32
"""16 kHz x 2 bytes."""
READY = "Rekindle is listening"
TAIL_S = 30.0
"""Seconds of quiet after the last item (past the file's end the virtual microphone replays stale audio)."""
STOP_AFTER_MS = 3000
"""Milliseconds of the tail the process must have read before it gets Ctrl-C: every turn is out by then."""
SLACK_MS = 800
"""A turn may come up to this long before its item's audio ends (the clip's quiet trail is 300-700 ms)."""


@dataclass(frozen=True)
class Item:
    """One stretch of the microphone file."""

    kind: str
    """One of KINDS."""
    text: str
    """The words said, or what the noise or silence is ('pink -30 dBFS 1.2 s', '8.5 s')."""
    voice: str
    """Voice label ('' for noise and silence)."""
    expected: str | None
    """The intent its turn must carry; None: it must give no turn."""
    start_ms: int
    """Milliseconds from the start of the file to the item's first sample."""
    end_ms: int
    """Milliseconds from the start of the file to the end of the item's audio (a clip's quiet trail included)."""
    spoken: int
    """Spoken utterances up to and including this item."""

    @property
    def label(self) -> str:
        """'voice: text' for reports."""
        return f"{self.voice}: {self.text}"


@dataclass(frozen=True)
class Sample:
    """The listen process at one moment."""

    spoken: int
    """Spoken utterances whose audio the process had read."""
    audio_s: float
    """Seconds of the microphone file read."""
    wall_s: float
    """Seconds since the process started."""
    rss_mb: float
    """VmRSS in MiB."""
    hwm_mb: float
    """VmHWM (peak RSS so far) in MiB."""
    fds: int
    """Open file descriptors."""
    threads: int
    """Threads."""
    turns: int
    """Lines printed so far."""


@dataclass
class Run:
    """What came out of the process."""

    lines: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    """(read position in ms, JSON object) of each stdout line."""
    stderr: list[tuple[int, str]] = field(default_factory=list)
    """(read position in ms, line) of each stderr line."""
    samples: list[Sample] = field(default_factory=list)
    """At the ready line, every few spoken utterances, at the end."""
    ready_s: float = float("nan")
    """Seconds from the start to the "Rekindle is listening" line (the recogniser may still be loading then)."""
    wall_s: float = float("nan")
    """Seconds from the start to Ctrl-C."""
    returncode: int | None = None
    """The exit code after Ctrl-C (None: it had to be killed)."""


# -- the microphone file ---------------------------------------------------------------------------------------
def load_phrases(piper_only: bool) -> dict[str, list[tuple[str, str, tuple[Voice, ...]]]]:
    """kind -> (text, intent, voices) from bench/soak.tsv."""
    phrases: dict[str, list[tuple[str, str, tuple[Voice, ...]]]] = {kind: [] for kind in SPOKEN}
    for line in PHRASES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            kind, text, intent, voices = line.split("\t")
            chosen = tuple(VOICES[v] for v in voices.split() if not piper_only or v == "piper")
            phrases[kind].append((text, intent, chosen))
    return phrases


def plan(utterances: int, seed: int, piper_only: bool) -> list[tuple[str, str, Voice | None, str | None]]:
    """(kind, text, voice, expected intent) in order: `utterances` spoken ones, noise and silence between them."""
    phrases, rng = load_phrases(piper_only), random.Random(seed)
    items: list[tuple[str, str, Voice | None, str | None]] = []

    def say(kind: str) -> None:
        text, intent, voices = rng.choice(phrases[kind])
        items.append((kind, text, rng.choice(voices), intent))

    spoken = 0
    while spoken < utterances:
        draw = rng.random()
        if draw < 0.15 and utterances - spoken >= 2:
            say("ask entry")
            say("entry")  # no noise in between: Rekindle waits for the entry and would take the noise for it
            spoken += 2
        else:
            say("one-breath" if draw < 0.2 else "command")
            spoken += 1
        draw = rng.random()
        if draw < 0.1:
            colour, level, seconds = rng.choice(("pink", "white")), rng.uniform(-40, -15), rng.uniform(0.3, 2.0)
            items.append(("noise", f"{colour} {level:.0f} dBFS {seconds:.1f} s", None, None))
        elif draw < 0.16:
            items.append(("silence", f"{rng.uniform(4, 15):.1f} s", None, None))
    return items


def noise_burst(description: str, seed: int) -> bytes:
    """'pink -30 dBFS 1.2 s' as 16 kHz 16-bit samples over the noise floor."""
    import numpy as np

    from audio.synth import pink_noise

    colour, level, _, seconds, _ = description.split()
    rng = np.random.default_rng(seed)
    size = int(16000 * float(seconds))
    noise = pink_noise(size, rng) if colour == "pink" else rng.standard_normal(size)
    samples = noise * 32768 * 10 ** (float(level) / 20) + np.frombuffer(quiet(size / 16000, seed), "<i2")
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def mic_file(path: Path, utterances: int, seed: int, piper_only: bool) -> list[Item]:
    """Write the microphone file; returns where each item lies in it."""
    synth, rng = synthesizer(), random.Random(seed + 1)
    items: list[Item] = []
    spoken = 0
    with path.open("wb") as out:
        out.write(quiet(0.5))
        for n, (kind, text, voice, expected) in enumerate(plan(utterances, seed, piper_only)):
            start = out.tell()
            if voice is not None:
                out.write(synth.utterance(text, voice, seed=n).audio)
                spoken += 1
            elif kind == "noise":
                out.write(noise_burst(text, seed * 100_000 + n))
            else:
                out.write(quiet(float(text.split()[0]), seed * 100_000 + n))
            label = voice.label if voice else ""
            items.append(Item(kind, text, label, expected, start // BYTES_PER_MS, out.tell() // BYTES_PER_MS, spoken))
            out.write(quiet(rng.uniform(1.2, 2.5), seed * 100_000 + n + 50_000))
        out.write(quiet(TAIL_S, 99))
    return items


def screen(seeds: int = 4) -> int:
    """Decode every command, "ask entry" and one-breath phrase of soak.tsv alone, whole, in each voice, as `rekindle
    hear` does (fresh engine, clips as the soak synthesises them, seeds 0..seeds-1), and compare with the voices
    column: a voice is listed for a phrase only where it was understood every time. Exit 1 when the column
    disagrees. A miss in the soak then points at the loop, or at a clip at the edge of what the recogniser does."""
    from common import load_engine

    from audio.recognize import recognize_utterance
    from audio.stt import Mode

    engine, matcher, _ = load_engine()
    synth, rows, disagree = synthesizer(), [], 0
    print(f"# Screen of {PHRASES.name}: each phrase alone, whole, {seeds} seeds per voice")
    print("\n".join(f"- {key}: {value}" for key, value in machine().items()) + "\n")
    for kind, phrases in load_phrases(piper_only=False).items():
        if kind == "entry":
            continue  # entries are dictated (any words will do): Piper only
        for text, intent, listed in phrases:
            for name, voice in VOICES.items():
                clips = (synth.utterance(text, voice, seed=seed) for seed in range(seeds))
                right = sum(
                    recognize_utterance(engine, matcher, c, Mode.COMMAND).intent.intent == intent for c in clips
                )
                should, marked = right == seeds, voice in listed
                disagree += should != marked
                verdict = "ok" if should == marked else ("add" if should else "remove")
                rows.append([kind, text, name, f"{right}/{seeds}", "yes" if marked else "no", verdict])
    print(table(["kind", "text", "voice", "understood", "listed", "column"], rows))
    print(f"\nVerdict: {'FAIL: ' + str(disagree) + ' rows disagree' if disagree else 'PASS'}")
    return 1 if disagree else 0


# -- the process ----------------------------------------------------------------------------------------------
def read_position_ms(pid: int, raw: Path) -> int:
    """How far the process has read the microphone file, in ms of audio (-1 before it opened it)."""
    best = -1
    with contextlib.suppress(OSError):
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError, IndexError, ValueError):
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(raw):
                    pos = Path(f"/proc/{pid}/fdinfo/{fd}").read_text().split("\n", 1)[0].split()[1]
                    best = max(best, int(pos) // BYTES_PER_MS)
    return best


def sample(pid: int, spoken: int, audio_ms: int, wall_s: float, turns: int) -> Sample | None:
    """The process's memory, descriptors and threads now (None once it has gone)."""
    try:
        status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None
    mib = {key: int(status[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}
    return Sample(spoken, audio_ms / 1000, wall_s, mib["VmRSS"], mib["VmHWM"], fds, int(status["Threads"]), turns)


def run_listen(data: Path, raw: Path, items: list[Item], every: int, interval: float) -> Run:
    """`rekindle listen --json --mute` on the file until 3 s of its tail were read; samples along the way."""
    run, started = Run(), time.monotonic()
    options = ["--date-night-interval", str(interval)]
    process = subprocess.Popen(
        [str(REKINDLE), "--data-dir", str(data), "--debug", "listen", "--json", "--mute", *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=alsa_env(mic=raw, speaker=str(data.parent / "speaker.wav")),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),  # Ctrl-C works under nohup too
    )
    assert process.stdout is not None and process.stderr is not None
    out, err = process.stdout, process.stderr

    def read_stdout() -> None:
        for line in out:
            run.lines.append((read_position_ms(process.pid, raw), json.loads(line)))

    def read_stderr() -> None:
        for line in err:
            run.stderr.append((read_position_ms(process.pid, raw), line.rstrip()))
            if READY in line and run.ready_s != run.ready_s:
                run.ready_s = time.monotonic() - started

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stdout, read_stderr)]
    for reader in readers:
        reader.start()
    marks = [item.end_ms for item in items if item.spoken % every == 0 and item.kind in SPOKEN]
    stop_ms = items[-1].end_ms + STOP_AFTER_MS
    deadline = started + 120 + stop_ms / 1000  # slower than real time is a failure of its own
    position = -1
    while process.poll() is None and time.monotonic() < deadline and position < stop_ms:
        position = read_position_ms(process.pid, raw)
        passed = [end for end in marks if position >= end + SLACK_MS]
        marks = marks[len(passed) :]
        if passed or (run.ready_s == run.ready_s and not run.samples):
            spoken = max((i.spoken for i in items if i.end_ms + SLACK_MS <= position), default=0)
            taken = sample(process.pid, spoken, max(position, 0), time.monotonic() - started, len(run.lines))
            run.samples += [taken] if taken else []
        time.sleep(0.02)
    time.sleep(0.5)  # the last line on its way
    last = sample(process.pid, items[-1].spoken, position, time.monotonic() - started, len(run.lines))
    run.samples += [last] if last else []
    run.wall_s = time.monotonic() - started
    with contextlib.suppress(ProcessLookupError):
        process.send_signal(signal.SIGINT)
    try:
        run.returncode = process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    for reader in readers:
        reader.join(timeout=5)
    return run


# -- what it means --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """An item and the turn it gave."""

    item: Item
    """What was fed."""
    turn: dict[str, Any] | None
    """The turn's JSON object (None: no turn)."""
    lag_ms: int
    """Milliseconds of audio the process had read past the item's end when the turn arrived (0: no turn)."""
    rejected_as: str | None = None
    """No turn, but the loop heard an utterance here and rejected it: what the grammar made of it."""


def align(items: list[Item], turns: list[tuple[int, dict[str, Any]]]) -> tuple[list[Outcome], list[int]]:
    """Pair items with turns in order: most pairs, then most right intents, then the least lag.

    A turn can only belong to an item whose audio (less SLACK_MS) the process had read when the turn arrived.
    Returns each item's outcome and the indices of the turns that belong to no item.
    """

    def gain(i: int, j: int) -> float:
        item, (position, turn) = items[i], turns[j]
        if position < item.end_ms - SLACK_MS:
            return float("-inf")
        return 1000.0 + 10.0 * (turn.get("intent") == item.expected) - max(0, position - item.end_ms) / 1000

    best = [[0.0] * (len(turns) + 1) for _ in range(len(items) + 1)]
    for i in range(1, len(items) + 1):
        above, here = best[i - 1], best[i]
        for j in range(1, len(turns) + 1):
            here[j] = max(above[j], here[j - 1], above[j - 1] + gain(i - 1, j - 1))
    paired: dict[int, int] = {}
    i, j = len(items), len(turns)
    while i > 0 and j > 0:
        if best[i][j] == best[i - 1][j - 1] + gain(i - 1, j - 1):
            paired[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif best[i][j] == best[i - 1][j]:
            i -= 1
        else:
            j -= 1
    outcomes = [
        Outcome(item, turns[paired[n]][1], turns[paired[n]][0] - item.end_ms) if n in paired else Outcome(item, None, 0)
        for n, item in enumerate(items)
    ]
    return outcomes, sorted(set(range(len(turns))) - set(paired.values()))


def with_rejections(outcomes: list[Outcome], run: Run) -> list[Outcome]:
    """Mark items without a turn where --debug logged a rejected utterance (and what the grammar heard)."""
    marked = list(outcomes)
    heard = ""
    for position, line in run.stderr:
        if "Rejected" in line:  # audio/stt/pocketsphinx.py, just before the loop's own line
            heard = line.split("Rejected", 1)[1].removeprefix(":").strip()
        elif "rejected an utterance" in line:
            n = max((n for n, o in enumerate(outcomes) if o.item.end_ms - SLACK_MS <= position), default=0)
            if marked[n].turn is None:
                marked[n] = Outcome(marked[n].item, None, 0, heard or "?")
            heard = ""
    return marked


def retries(run: Run) -> dict[str, int]:
    """Streamed commands the recogniser rejected and decoded once more, whole, with their own cepstral mean
    (`PocketSphinxSettings.retry_ms`), and how many of them the second pass accepted."""
    lines = [line for _, line in run.stderr]
    tried = [n for n, line in enumerate(lines) if "Retrying a rejected streamed command" in line]
    failed = sum(any("Rejected" in line for line in lines[n + 1 : n + 3]) for n in tried)
    return {"retried": len(tried), "accepted on the retry": len(tried) - failed}


def journal_figures(data: Path) -> dict[str, Any]:
    """Entries in the real SQLite journal, its integrity check, and the clips on disk."""
    path, rows, integrity = data / "journal.db", [], "no journal"
    if path.exists():
        db = sqlite3.connect(path)
        try:
            integrity = str(db.execute("PRAGMA integrity_check").fetchone()[0])
            rows = db.execute("SELECT source, audio FROM entries").fetchall()
        finally:
            db.close()
    clips = {str(p) for p in (data / "clips").glob("*.wav")}
    referenced = {audio for _, audio in rows if audio}
    return {
        "entries": len(rows),
        "voice entries": sum(source == "voice" for source, _ in rows),
        "integrity_check": integrity,
        "clips on disk": len(clips),
        "entries whose clip is missing": len(referenced - clips),
        "clips without an entry": len(clips - referenced),
    }


def flatness(samples: list[Sample], utterances: int, rss_bound_mb: float) -> dict[str, Any]:
    """Growth from the first sample at or past 20% of the utterances (the mark) to the last one."""
    mark = next((s for s in samples if s.spoken >= 0.2 * utterances), samples[-1])
    first, last = samples[0], samples[-1]
    growth = last.rss_mb - mark.rss_mb
    return {
        "mark (spoken utterances)": mark.spoken,
        "RSS MB first/mark/last/max": [round(s, 1) for s in (first.rss_mb, mark.rss_mb, last.rss_mb)]
        + [round(max(s.rss_mb for s in samples), 1)],
        "RSS growth mark->last MB": round(growth, 1),
        "RSS flat": growth < rss_bound_mb,
        "FDs first/mark/last/max": [first.fds, mark.fds, last.fds, max(s.fds for s in samples)],
        "FDs constant from mark": len({s.fds for s in samples[samples.index(mark) :]}) == 1,
        "FDs grew": last.fds > mark.fds,
        "threads first/mark/last/max": [first.threads, mark.threads, last.threads, max(s.threads for s in samples)],
        "threads grew": last.threads > mark.threads,
    }


def _brief(outcome: Outcome, after_missed_ask: bool = False) -> dict[str, Any]:
    item, turn = outcome.item, outcome.turn or {}
    return {
        "at_s": item.start_ms / 1000,
        "kind": item.kind,
        "said": item.text,
        "voice": item.voice,
        "expected": item.expected,
        "intent": turn.get("intent"),
        "transcript": turn.get("transcript"),
        "rejected as": outcome.rejected_as,
        "after a missed ask": after_missed_ask,
    }


def _kept(said: str, turn: dict[str, Any]) -> float:
    """Share of the dictated words found in the entry the turn saved."""
    saved = set(str(turn.get("slots", {}).get("text", "")).split())
    return sum(word in saved for word in said.split()) / len(said.split())


def _tally(outcomes: list[Outcome], key: str) -> dict[str, dict[str, int]]:
    rows: dict[str, dict[str, int]] = {}
    for o in sorted(outcomes, key=lambda o: KINDS.index(o.item.kind)):
        row = rows.setdefault(getattr(o.item, key), dict.fromkeys(("fed", "turns", "right", "wrong", "none"), 0))
        row["fed"] += 1
        row["turns"] += o.turn is not None
        row["right"] += o.turn is not None and o.turn["intent"] == o.item.expected
        row["wrong"] += o.turn is not None and o.item.expected is not None and o.turn["intent"] != o.item.expected
        row["none"] += o.turn is None and o.rejected_as is not None
    return rows


def figures(items: list[Item], run: Run, data: Path, utterances: int, rss_bound_mb: float) -> dict[str, Any]:
    """Everything the report prints, as one JSON-ready object."""
    turns = [(pos, obj) for pos, obj in run.lines if "intent" in obj]
    aligned, extra = align(items, turns)
    outcomes = with_rejections(aligned, run)
    expected = [o for o in outcomes if o.item.expected is not None]
    missing = [(n, o) for n, o in enumerate(outcomes) if o.item.expected is not None and o.turn is None]
    wrong = [(n, o) for n, o in enumerate(outcomes) if o.turn and o.item.expected not in (None, o.turn["intent"])]
    failed = [o for _, o in missing + wrong]
    half = len(expected) // 2
    right = [o.turn is not None and o.turn["intent"] == o.item.expected for o in expected]
    lags = [o.lag_ms for o in outcomes if o.turn is not None]
    decode = [float(t.get("decode_ms", 0.0)) for _, t in turns]
    kept = [_kept(o.item.text, o.turn) for o in outcomes if o.item.kind == "entry" and o.turn]
    audio_s = items[-1].end_ms / 1000
    return {
        "utterances": utterances,
        "audio_min": round(audio_s / 60, 1),
        "by kind": _tally(outcomes, "kind"),
        "by voice": _tally(expected, "voice"),
        "by phrase and voice": _tally(expected, "label"),
        "turns out": len(turns),
        "date-night prompts": sum(obj.get("event") == "prompt" for _, obj in run.lines),
        "replies expected": len(expected),
        "replies given": sum(bool((o.turn or {}).get("reply")) for o in expected),
        "right intent": sum(right),
        "right intent, first/second half": [sum(right[:half]), half, sum(right[half:]), len(right) - half],
        "mis-recognised": [_brief(o, o.item.kind == "entry" and outcomes[n - 1] in failed) for n, o in wrong],
        "missing": [_brief(o, o.item.kind == "entry" and outcomes[n - 1] in failed) for n, o in missing],
        "turns out of noise or silence": [_brief(o) for o in outcomes if o.item.expected is None and o.turn],
        "noise or silence heard and rejected": sum(
            o.item.expected is None and o.rejected_as is not None for o in outcomes
        ),
        "extra turns": [turns[j][1] for j in extra],
        "journal": {
            "expected (dictated + one-breath)": sum(o.item.kind in ("entry", "one-breath") for o in outcomes),
            "turns that saved one": sum(
                t["intent"] == "log_gratitude" and bool(t["slots"].get("text")) for _, t in turns
            ),
            **journal_figures(data),
            "dictated words kept, median share": round(median(kept), 2),
        },
        "retries": retries(run),
        "timing": {
            "ready s": round(run.ready_s, 1),
            "wall s": round(run.wall_s, 1),
            "audio s per wall s after ready": round(audio_s / (run.wall_s - run.ready_s), 1),
            "decode_ms median/p90/max": [round(median(decode), 1), round(p90(decode), 1), max(decode, default=0.0)],
            "audio read past the item when its turn came, ms median/p90/max": [
                median(lags),
                p90(lags),
                max(lags, default=0),
            ],
        },
        "series": [asdict(s) for s in run.samples],
        "flatness": flatness(run.samples, utterances, rss_bound_mb) if run.samples else {},
        "process": {"returncode": run.returncode, "problems on stderr": [ln for _, ln in run.stderr if _problem(ln)]},
    }


def _problem(line: str) -> bool:
    """A stderr line worth reporting (not --debug chatter, nor ALSA's device probing, which --debug lets through)."""
    if line.startswith(("WARNING", "ERROR", "CRITICAL", "Traceback", "rekindle:")):
        return True
    return "Error" in line and not line.startswith(("ALSA lib", "DEBUG "))


def failures(fig: dict[str, Any]) -> list[str]:
    """Why the soak failed (empty: it passed)."""
    flat, journal, process = fig["flatness"], fig["journal"], fig["process"]
    reasons = []
    if fig["missing"]:
        reasons.append(f"{len(fig['missing'])} expected replies missing")
    if fig["turns out of noise or silence"]:
        reasons.append(f"{len(fig['turns out of noise or silence'])} turns out of noise or silence")
    if not flat:
        reasons.append("no samples of the process")
    elif flat["FDs grew"]:
        reasons.append(f"open file descriptors grew ({flat['FDs first/mark/last/max']})")
    if flat and not flat["RSS flat"]:
        reasons.append(f"RSS grew {flat['RSS growth mark->last MB']} MB from the 20% mark")
    saved, said, check = journal["entries"], journal["turns that saved one"], journal["integrity_check"]
    if saved != said or check not in ("ok", "no journal" if said == 0 else "ok"):
        reasons.append(f"journal: {saved} entries for {said} turns that saved one, integrity_check: {check}")
    if process["returncode"] != 0 or any("Traceback" in line for line in process["problems on stderr"]):
        reasons.append(f"listen ended with code {process['returncode']}")
    return reasons


def report(fig: dict[str, Any], show: bool) -> None:
    """The figures as Markdown."""
    print(f"## Fed: {fig['utterances']} spoken utterances, {fig['audio_min']} min of audio\n")
    for key, title in (("by kind", "kind"), ("by voice", "voice (spoken)")):
        header = [title, "fed", "turns", "right intent", "mis-recognised", "no turn, heard and rejected"]
        print(table(header, [[name, *row.values()] for name, row in fig[key].items()]) + "\n")
    given, expected, halves = fig["replies given"], fig["replies expected"], fig["right intent, first/second half"]
    print(f"- turns out: {fig['turns out']} (and {fig['date-night prompts']} date-night prompts)")
    print(f"- expected replies given: {given}/{expected}; right intent {fig['right intent']}, ", end="")
    print(f"mis-recognised {len(fig['mis-recognised'])}, missing {len(fig['missing'])}")
    print(f"- right intent in the first half {halves[0]}/{halves[1]}, in the second half {halves[2]}/{halves[3]}")
    print(f"- noise bursts and silences that gave a turn: {len(fig['turns out of noise or silence'])} ", end="")
    print(f"(heard as an utterance and rejected: {fig['noise or silence heard and rejected']})")
    print(f"- turns that belong to no item: {len(fig['extra turns'])}")
    print(f"- streamed commands rejected, then decoded again whole: {fig['retries']['retried']}, ", end="")
    print(f"accepted on the retry: {fig['retries']['accepted on the retry']}")
    for title in ("missing", "mis-recognised", "turns out of noise or silence"):
        for b in fig[title] if show else fig[title][:25]:
            got = f"rejected as {b['rejected as']}" if b["rejected as"] else f"{b['intent']} {b['transcript']!r}"
            got += " (after a missed 'log something', so heard as a command)" if b["after a missed ask"] else ""
            print(f"- {title}: {b['at_s']:.1f} s, {b['kind']}, {b['voice']} {b['said']!r} -> {got}")
    for turn in fig["extra turns"]:
        print(f"- extra turn: {turn.get('intent')} {turn.get('transcript')!r}")
    for title in ("journal", "timing", "flatness"):
        print(f"\n## {title.capitalize()}\n")
        print("\n".join(f"- {key}: {value}" for key, value in fig[title].items()))
        if title == "timing":
            print("\n## Memory, descriptors, threads of the listen process\n")
            keys = [f.name for f in Sample.__dataclass_fields__.values()]
            print(table(keys, [[s[k] for k in keys] for s in fig["series"]]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--utterances", type=int, default=520, help="spoken utterances to feed (default 520)")
    parser.add_argument("--quick", action="store_true", help="a short run: --utterances 60")
    parser.add_argument("--seed", type=int, default=1, help="order, phrases, voices and noise (default 1)")
    parser.add_argument("--json-out", type=Path, help="write the figures as JSON to this file")
    parser.add_argument("--sample-every", type=int, default=25, help="spoken utterances between samples (25)")
    parser.add_argument("--rss-bound-mb", type=float, default=5.0, help="RSS growth allowed after the 20%% mark (5)")
    parser.add_argument("--date-night-interval", type=float, default=30.0, help="seconds between its prompts (30)")
    parser.add_argument("--piper-only", action="store_true", help="no espeak-ng voice")
    parser.add_argument("--keep", action="store_true", help="keep the temporary microphone file and data directory")
    parser.add_argument("--show", action="store_true", help="list every miss (default: the first 25 of each)")
    parser.add_argument("--screen", action="store_true", help="only check soak.tsv's voices column (see `screen`)")
    args = parser.parse_args()
    if args.screen:
        return screen()
    args.utterances = 60 if args.quick else args.utterances
    started = machine()  # at the start: the engine files are what the process loads
    print(f"# Soak: rekindle listen, {args.utterances} utterances, seed {args.seed}")
    print("\n".join(f"- {key}: {value}" for key, value in started.items()) + "\n")
    work = Path(tempfile.mkdtemp(prefix="rekindle-soak-"))
    try:
        built = time.monotonic()
        items = mic_file(work / "mic.raw", args.utterances, args.seed, args.piper_only)
        took = time.monotonic() - built
        print(f"Microphone file: {len(items)} items, {items[-1].end_ms / 60000:.1f} min, made in {took:.1f} s\n")
        sys.stdout.flush()
        run = run_listen(work / "data", work / "mic.raw", items, args.sample_every, args.date_night_interval)
        fig = figures(items, run, work / "data", args.utterances, args.rss_bound_mb)
    finally:
        if args.keep:
            print(f"Kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    fig["machine"], fig["args"] = started, {k: str(v) for k, v in vars(args).items()}
    fig["failures"] = failures(fig)
    report(fig, args.show)
    for line in fig["process"]["problems on stderr"][:20]:
        print(f"- listen stderr: {line}")
    print(f"\nVerdict: {'FAIL: ' + '; '.join(fig['failures']) if fig['failures'] else 'PASS'}")
    if args.json_out:
        args.json_out.write_text(json.dumps(fig, indent=2) + "\n")
    return 1 if fig["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
