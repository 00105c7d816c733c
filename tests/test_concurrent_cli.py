"""Several `rekindle` processes on one data directory at once: nothing lost, nothing corrupted.

A long-running `chat` logs entries one after another while a second process keeps running `journal list --json`
and `journal export` and a third logs entries with `ask`. Every entry confirmed by either writer must be there at
the end, exactly once; every listing must be valid and hold everything confirmed before it started; the file must
pass `PRAGMA integrity_check`; and no process may report the journal as busy.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path

from helpers_cli import TIMEOUT, LineReader, json_lines, popen, rekindle

CHAT_TURNS = 150
ASK_TURNS = 12
CHAT_PAUSE_S = 0.02
"""Seconds between chat turns, so the chat session lasts as long as the `ask` runs (about 4 s)."""


class Confirmed:
    """Entry texts confirmed so far, with the moment each was confirmed (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._at: dict[str, float] = {}

    def add(self, text: str) -> None:
        with self._lock:
            assert text not in self._at, text
            self._at[text] = time.monotonic()

    def before(self, moment: float) -> set[str]:
        with self._lock:
            return {text for text, at in self._at.items() if at < moment}

    def all(self) -> set[str]:
        return self.before(float("inf"))


def chat_writer(data: Path, confirmed: Confirmed, errors: list[str]) -> None:
    process = popen("chat", "--json", "--mute", data_dir=data)
    assert process.stdin is not None and process.stderr is not None
    reader = LineReader(process)
    for n in range(CHAT_TURNS):
        time.sleep(CHAT_PAUSE_S)
        process.stdin.write(f"I'm grateful that chat turn {n} went well\n")
        process.stdin.flush()
        turn = json.loads(reader.next() or "null")
        if turn["intent"] != "log_gratitude":
            errors.append(f"chat turn {n}: {turn}")
        confirmed.add(turn["slots"]["text"])
        if n % 10 == 0:  # other kinds of turns touch the journal's state table too
            process.stdin.write("give me a conversation starter\n")
            process.stdin.flush()
            json.loads(reader.next() or "null")
    process.stdin.close()
    code = process.wait(timeout=TIMEOUT)
    stderr = process.stderr.read()
    process.stderr.close()
    if code != 0 or stderr:
        errors.append(f"chat exited {code}: {stderr}")


def ask_writer(data: Path, confirmed: Confirmed, errors: list[str]) -> None:
    for n in range(ASK_TURNS):
        done = rekindle("ask", "--json", "--mute", f"I'm grateful that ask turn {n} went well", data_dir=data)
        if done.returncode != 0 or done.stderr:
            errors.append(f"ask {n} exited {done.returncode}: {done.stderr}")
            continue
        [turn] = json_lines(done.stdout)
        confirmed.add(turn["slots"]["text"])


def reader_loop(data: Path, confirmed: Confirmed, stop: threading.Event, errors: list[str], reads: list[str]) -> None:
    while not stop.is_set():
        for args in (["journal", "list", "--json"], ["journal", "export", "--format", "json"]):
            started = time.monotonic()
            done = rekindle(*args, data_dir=data)
            if done.returncode != 0 or done.stderr:
                errors.append(f"{' '.join(args)} exited {done.returncode}: {done.stderr}")
                continue
            seen = [entry["text"] for entry in json.loads(done.stdout)]
            if len(seen) != len(set(seen)):
                errors.append(f"{' '.join(args)} listed an entry twice")
            missing = confirmed.before(started) - set(seen)
            if missing:
                errors.append(f"{' '.join(args)} missed entries confirmed before it started: {sorted(missing)}")
            reads.append(args[1])


def test_chat_ask_and_readers_at_once_lose_nothing(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert rekindle("ask", "--mute", "I'm grateful that we began", data_dir=data).returncode == 0
    confirmed = Confirmed()
    confirmed.add("we began")
    errors: list[str] = []
    reads: list[str] = []
    stop = threading.Event()
    readers = [threading.Thread(target=reader_loop, args=(data, confirmed, stop, errors, reads))]
    writers = [
        threading.Thread(target=chat_writer, args=(data, confirmed, errors)),
        threading.Thread(target=ask_writer, args=(data, confirmed, errors)),
    ]
    for thread in readers + writers:
        thread.start()
    for thread in writers:
        thread.join(timeout=4 * TIMEOUT)
    stop.set()
    for thread in readers:
        thread.join(timeout=TIMEOUT)
    assert errors == []

    done = rekindle("journal", "list", "--json", data_dir=data)
    listed = [entry["text"] for entry in json.loads(done.stdout)]
    db = sqlite3.connect(data / "journal.db")
    try:
        direct = [row[0] for row in db.execute("SELECT text FROM entries")]
        check = db.execute("PRAGMA integrity_check").fetchall()
    finally:
        db.close()
    print(f"{len(direct)} entries from 2 writers, {len(reads)} reads ({Counter(reads)}) while they wrote")
    assert check == [("ok",)]
    assert sorted(direct) == sorted(listed)
    assert Counter(direct) == Counter(confirmed.all())  # everything confirmed, once, and nothing else
    assert len(direct) == 1 + CHAT_TURNS + ASK_TURNS
    assert len(reads) >= 10
