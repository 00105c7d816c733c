"""SIGKILL `rekindle chat` at random moments while it logs gratitude: nothing it confirmed may be lost.

A turn counts as confirmed once its reply line has arrived on the pipe (the reply is printed only after the
entry is committed). The process is killed in four ways, chosen at random each round: during start-up, right
after a line was written, in the middle of a stream of turns, and after a random number of confirmations.
Every round starts a new process on the same data directory, so each one also opens the journal a killed
process left behind (with its -wal and -shm files).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from helpers_cli import TIMEOUT, LineReader, popen, rekindle

ROUNDS = 40
"""Processes started and killed (about 0.5 s each)."""
SEED = int(os.environ.get("REKINDLE_KILL_SEED", "20261126"))
"""Seed of the kill schedule; set REKINDLE_KILL_SEED to try another one."""
WAYS = ("startup", "after_write", "mid_stream", "after_confirmations")

pytestmark = pytest.mark.slow


def gratitude(round_no: int, turn: int) -> tuple[str, str]:
    """A chat line and the entry text it should save (unique across the whole test)."""
    text = f"we shared moment {round_no}-{turn} by the window"
    return f"I'm grateful that {text}", text


@dataclass
class Round:
    """What one killed process did."""

    way: str
    """How it was killed (one of WAYS)."""
    sent: list[str] = field(default_factory=list)
    """Entry texts of every line written to the process."""
    confirmed: list[str] = field(default_factory=list)
    """Entry texts whose reply arrived before the kill."""
    returncode: int | None = None
    """The process's exit status (-9 when the kill landed)."""
    stderr: str = ""


class Feeder:
    """Writes gratitude lines to the process on a thread, as fast as it takes them, until stopped."""

    def __init__(self, process: subprocess.Popen[str], round_no: int, first: int, record: Round) -> None:
        self._process, self._round_no, self._next, self._record = process, round_no, first, record
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self._process.stdin is not None
        while not self._stop.is_set():
            line, text = gratitude(self._round_no, self._next)
            self._next += 1
            self._record.sent.append(text)  # before the write: a half-written line may still be read
            try:
                self._process.stdin.write(line + "\n")
                self._process.stdin.flush()
            except (BrokenPipeError, ValueError, OSError):
                return
            time.sleep(0.001)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=TIMEOUT)


def confirm(record: Round, line: str | None) -> bool:
    """Count a reply line; False at the end of output or for a line cut short by the kill."""
    if line is None:
        return False
    try:
        turn = json.loads(line)
    except json.JSONDecodeError:
        return False  # the process died while printing this reply
    assert turn["intent"] == "log_gratitude", turn
    assert turn["reply"].strip(), turn
    record.confirmed.append(turn["slots"]["text"])
    return True


def kill_round(data: Path, rng: random.Random, round_no: int) -> Round:
    """Start `chat --json --mute`, feed it gratitude, SIGKILL it at a random moment, collect what it confirmed."""
    record = Round(rng.choice(WAYS))
    process = popen("chat", "--json", "--mute", data_dir=data)
    assert process.stdin is not None and process.stderr is not None
    reader = LineReader(process)
    feeder: Feeder | None = None
    if record.way == "startup":
        feeder = Feeder(process, round_no, 0, record)
        time.sleep(rng.uniform(0.0, 0.6))  # start-up takes ~0.35 s: opening, migrating, matching, first turns
    elif record.way == "after_write":
        for turn in range(rng.randrange(0, 12)):  # a few confirmed turns first, one at a time
            line, text = gratitude(round_no, turn)
            record.sent.append(text)
            process.stdin.write(line + "\n")
            process.stdin.flush()
            assert confirm(record, reader.next())
        line, text = gratitude(round_no, 99)
        record.sent.append(text)
        process.stdin.write(line + "\n")
        process.stdin.flush()
        time.sleep(rng.choice([0.0, 0.0, rng.uniform(0.0, 0.008)]))  # the turn takes ~4 ms: land inside it
    elif record.way == "mid_stream":
        feeder = Feeder(process, round_no, 0, record)
        assert confirm(record, reader.next())  # it is running
        time.sleep(rng.uniform(0.0, 0.25))
    else:
        feeder = Feeder(process, round_no, 0, record)
        for _ in range(rng.randrange(1, 40)):
            assert confirm(record, reader.next())
    process.send_signal(signal.SIGKILL)
    record.returncode = process.wait(timeout=TIMEOUT)
    if feeder is not None:
        feeder.stop()
    while confirm(record, reader.next()):  # replies already in the pipe when the kill landed
        pass
    record.stderr = process.stderr.read()
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(BrokenPipeError):
                stream.close()
    return record


def listed_texts(data: Path) -> list[str]:
    done = rekindle("journal", "list", "--json", data_dir=data)
    assert done.returncode == 0, done.stderr
    return [entry["text"] for entry in json.loads(done.stdout)]


def test_sigkill_at_random_points_loses_no_confirmed_entry(tmp_path: Path) -> None:
    data = tmp_path / "data"
    rng = random.Random(SEED)
    rounds: list[Round] = []
    confirmed: list[str] = []
    for round_no in range(ROUNDS):
        record = kill_round(data, rng, round_no)
        rounds.append(record)
        assert record.returncode == -signal.SIGKILL, (SEED, round_no, record.way, record.stderr)
        assert "Traceback" not in record.stderr, record.stderr
        confirmed += record.confirmed
        if rng.random() < 0.25:  # read the journal a killed writer left behind, as a person might
            assert set(confirmed) <= set(listed_texts(data)), (SEED, round_no)

    listed = listed_texts(data)
    db = sqlite3.connect(data / "journal.db")
    try:
        direct = [row[0] for row in db.execute("SELECT text FROM entries")]
        check = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    sent = {text for record in rounds for text in record.sent}
    kills = Counter(record.way for record in rounds)
    summary = (
        f"seed {SEED}: {len(rounds)} kills {dict(kills)}, {len(confirmed)} confirmed, "
        f"{len(listed)} in the journal ({len(listed) - len(confirmed)} saved but not yet confirmed)"
    )
    print(summary)
    assert check == [("ok",)], summary
    assert sorted(direct) == sorted(listed), summary
    duplicates = [text for text, count in Counter(direct).items() if count > 1]
    assert duplicates == [], summary
    missing = sorted(set(confirmed) - set(direct))
    assert missing == [], f"{summary}; lost: {missing}"
    assert set(direct) <= sent, summary  # nothing half-written or garbled
    assert len(confirmed) > ROUNDS  # the schedule really logged entries between kills
    assert len(kills) == len(WAYS)  # and used every way of killing


@pytest.mark.parametrize("delay_ms", range(150, 450, 25))
def test_a_kill_while_the_journal_is_first_created_leaves_a_usable_journal(tmp_path: Path, delay_ms: int) -> None:
    """Killed somewhere between creating the file and finishing its schema: the next start must not refuse it."""
    data = tmp_path / "data"
    process = popen("chat", "--json", "--mute", data_dir=data)
    assert process.stdin is not None
    process.stdin.write("I'm grateful that we started\n")
    process.stdin.flush()
    time.sleep(delay_ms / 1000)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=TIMEOUT)
    for stream in (process.stdin, process.stdout, process.stderr):
        if stream is not None:
            with contextlib.suppress(BrokenPipeError):
                stream.close()
    done = rekindle("ask", "--json", "--mute", "I'm grateful that we carried on", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert "we carried on" in listed_texts(data)
