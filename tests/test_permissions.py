"""Private by default, and honest when the disk says no.

- Modes: whatever the umask, the data directory and the clips directory are 0700 and the journal (with its -wal
  and -shm files), the clips and exported files are 0600.
- A read-only data directory (made real by running as 'nobody', see tests/privileges.py) and a full disk (a small
  tmpfs, or RLIMIT_FSIZE where mounting is not allowed) give one clear line and a non-zero exit, keep every entry
  saved before, and leave a journal that passes `PRAGMA integrity_check`.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import resource
import signal
import sqlite3
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from helpers_cli import REKINDLE, TIMEOUT, LineReader, clean_env, json_lines, one_error_line, rekindle
from helpers_nobody import as_nobody
from privileges import give_to_nobody, is_root, reachable_dir, take_back

SPEECH_READY = all(importlib.util.find_spec(m) is not None for m in ("audio.recognize", "audio.stt.registry"))
needs_speech = pytest.mark.skipif(not SPEECH_READY, reason="audio/recognize.py (the speech engine) is not written yet")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def run(
    *args: str | Path,
    data_dir: Path,
    stdin: str = "",
    preexec: Callable[[], None] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Like helpers_cli.rekindle, with a function run in the child before `rekindle` starts (umask, limits)."""
    return subprocess.run(
        [str(REKINDLE), "--data-dir", str(data_dir), *(str(a) for a in args)],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
        preexec_fn=preexec,
    )


def open_umask() -> None:
    os.umask(0)


def texts(data: Path) -> list[str]:
    done = rekindle("journal", "list", "--json", data_dir=data)
    assert done.returncode == 0, done.stderr
    return [e["text"] for e in json.loads(done.stdout)]


def integrity(path: Path) -> str:
    db = sqlite3.connect(path)
    try:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        db.close()


# -- modes ---------------------------------------------------------------------------------------------


def test_chat_with_an_open_umask_keeps_the_journal_and_its_wal_files_private(tmp_path: Path) -> None:
    data = tmp_path / "home" / "data"
    process = subprocess.Popen(
        [str(REKINDLE), "--data-dir", str(data), "chat", "--json", "--mute"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        preexec_fn=open_umask,
    )
    assert process.stdin is not None
    reader = LineReader(process)
    process.stdin.write("I'm grateful that the kettle was already on\n")
    process.stdin.flush()
    assert json.loads(reader.next() or "null")["intent"] == "log_gratitude"
    try:  # while it runs, the -wal and -shm files exist
        assert mode(data) == 0o700
        assert mode(tmp_path / "home") == 0o700  # parents Rekindle made are private too
        files = {p.name: mode(p) for p in data.iterdir()}
        assert files == {"journal.db": 0o600, "journal.db-wal": 0o600, "journal.db-shm": 0o600}
    finally:
        process.stdin.close()
        assert process.wait(timeout=TIMEOUT) == 0
    assert all(mode(p) == 0o600 for p in data.iterdir())


def test_ask_with_an_open_umask_creates_only_private_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run("ask", "--mute", "I'm grateful that you called", data_dir=data, preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    assert {p.name: mode(p) for p in data.iterdir()} == {"journal.db": 0o600}


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
def test_exports_are_private_even_over_a_world_readable_file(tmp_path: Path, fmt: str) -> None:
    data = tmp_path / "data"
    assert rekindle("ask", "--mute", "I'm grateful that we danced", data_dir=data).returncode == 0
    target = tmp_path / f"out.{fmt}"
    target.write_text("old")
    target.chmod(0o644)
    done = run("journal", "export", "--format", fmt, "-o", target, data_dir=data, preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert mode(target) == 0o600
    assert "we danced" in target.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []  # no temporary file left


def test_say_leaves_the_data_directory_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    done = run("say", "Welcome back", "-o", tmp_path / "welcome.wav", data_dir=data, preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert not data.exists()


def test_say_output_is_private_even_over_a_world_readable_file(tmp_path: Path) -> None:
    target = tmp_path / "welcome.wav"
    target.write_bytes(b"old")
    target.chmod(0o644)
    done = run("say", "Welcome back", "-o", target, data_dir=tmp_path / "data", preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert mode(target) == 0o600
    assert target.read_bytes().startswith(b"RIFF")


@needs_speech
def test_converse_reply_files_are_private(tmp_path: Path) -> None:
    """The second reply reads the new journal entry aloud: it must be as private as the journal."""
    from audio.files import save_wav
    from audio.synth import PIPER, Synthesizer

    synth = Synthesizer(Path(__file__).parent / ".cache")
    turns = [
        save_wav(synth.utterance(text, PIPER), tmp_path / f"turn{number}.wav")
        for number, text in enumerate(["log something I'm grateful for", "the long walk by the river"])
    ]
    replies = tmp_path / "replies"
    replies.mkdir()
    (replies / "reply-002.wav").write_bytes(b"old")
    (replies / "reply-002.wav").chmod(0o644)
    done = run("converse", "--json", "--out-dir", replies, *turns, data_dir=tmp_path / "data", preexec=open_umask)
    assert done.returncode == 0, done.stderr
    written = [Path(turn["reply_audio"]) for turn in json_lines(done.stdout)]
    assert [p.name for p in written] == ["reply-001.wav", "reply-002.wav"]
    assert {p.name: mode(p) for p in replies.iterdir()} == {"reply-001.wav": 0o600, "reply-002.wav": 0o600}
    assert all(p.read_bytes().startswith(b"RIFF") for p in written)
    fresh = tmp_path / "new" / "replies"
    done = run("converse", "--out-dir", fresh, turns[0], data_dir=tmp_path / "data", preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert mode(fresh) == 0o700  # a folder Rekindle creates for replies is private too


def test_an_existing_loose_data_directory_still_gets_a_private_journal(tmp_path: Path) -> None:
    """A directory the person made themselves keeps its mode (theirs to choose), but the journal is 0600."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o755)
    done = run("ask", "--mute", "I'm grateful that we talked", data_dir=data, preexec=open_umask)
    assert done.returncode == 0, done.stderr
    assert mode(data / "journal.db") == 0o600


@needs_speech
def test_a_spoken_gratitude_entry_keeps_a_private_clip(tmp_path: Path) -> None:
    from audio.files import save_wav
    from audio.synth import PIPER, Synthesizer

    synth = Synthesizer(Path(__file__).parent / ".cache")
    turns = []
    for number, text in enumerate(["log something I'm grateful for", "the long walk by the river"]):
        turns.append(save_wav(synth.utterance(text, PIPER), tmp_path / f"turn{number}.wav"))
    data = tmp_path / "data"
    done = run("converse", "--json", *turns, data_dir=data, preexec=open_umask)
    assert done.returncode == 0, done.stderr
    [first, second] = json_lines(done.stdout)
    assert first["intent"] == "log_gratitude", first
    entries = json.loads(rekindle("journal", "list", "--json", data_dir=data).stdout)
    assert [e["source"] for e in entries] == ["voice"], second
    clip = Path(entries[0]["audio"])
    assert clip.parent == data / "clips"
    assert mode(data / "clips") == 0o700
    assert mode(clip) == 0o600
    assert mode(data / "journal.db") == 0o600


# -- a read-only data directory -----------------------------------------------------------------------


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    """A data directory with two entries, owned by 'nobody' and made read-only (0500) while the test runs."""
    with reachable_dir(tmp_path) as base:
        data = base / "data"
        for text in ("the first snow", "the quiet breakfast"):
            assert rekindle("ask", "--mute", f"I'm grateful for {text}", data_dir=data).returncode == 0
        journal = data / "journal.db"
        give_to_nobody(data, journal)
        data.chmod(0o500)
        try:
            yield data
        finally:
            data.chmod(0o700)
            take_back(data, journal)


READ_ONLY_LINE = (
    "rekindle: cannot open journal {}: the data directory is read-only; make it writable or pass --data-dir"
)


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["ask", "--mute", "I'm grateful that the sun came out"], ""),
        (["chat", "--json", "--mute"], "I'm grateful that the sun came out\n"),
        (["journal", "delete", "1"], ""),
    ],
    ids=["ask", "chat", "delete"],
)
def test_writing_into_a_read_only_data_directory_fails_with_one_line(
    read_only_data: Path, args: list[str], stdin: str
) -> None:
    journal = read_only_data / "journal.db"
    before = journal.read_bytes()
    done = as_nobody(*args, data=read_only_data, stdin=stdin)
    assert done["rc"] == 1
    assert done["stdout"] == ""
    assert one_error_line(done["stderr"]) == READ_ONLY_LINE.format(journal)
    assert journal.read_bytes() == before
    assert texts(read_only_data) == ["the quiet breakfast", "the first snow"]


def test_a_read_only_data_directory_can_still_be_read_and_exported(read_only_data: Path) -> None:
    listed = as_nobody("journal", "list", "--json", data=read_only_data)
    assert listed["rc"] == 0, listed["stderr"]
    assert [e["text"] for e in json.loads(listed["stdout"])] == ["the quiet breakfast", "the first snow"]
    exported = as_nobody("journal", "export", "--format", "csv", data=read_only_data)
    assert exported["rc"] == 0, exported["stderr"]
    assert exported["stderr"] == ""
    assert "the first snow" in exported["stdout"]


def test_exporting_into_a_read_only_directory_fails_with_one_line(read_only_data: Path) -> None:
    target = read_only_data / "export.json"
    done = as_nobody("journal", "export", "-o", str(target), data=read_only_data)
    assert done["rc"] == 1
    line = one_error_line(done["stderr"])
    assert line.startswith(f"rekindle: cannot write {target}: ") and "writable" in line
    assert not target.exists()


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["journal", "list"], "cannot read journal {journal}: permission denied; fix its owner or permissions"),
        (["journal", "export"], "cannot read journal {journal}: permission denied; fix its owner or permissions"),
        (["ask", "--mute", "help"], "cannot create data directory {data}: permission denied; pass --data-dir DIR"),
        (["chat", "--mute"], "cannot create data directory {data}: permission denied; pass --data-dir DIR"),
        (["journal", "delete", "1"], "cannot create data directory {data}: permission denied; pass --data-dir DIR"),
    ],
    ids=["list", "export", "ask", "chat", "delete"],
)
def test_a_data_directory_behind_a_locked_folder_is_one_line(tmp_path: Path, args: list[str], line: str) -> None:
    """e.g. --data-dir pointing into another user's home: no traceback, before or after the command starts."""
    with reachable_dir(tmp_path) as base:
        locked = base / "someone-else"
        locked.mkdir(mode=0o700)  # root's (or, as a user, mode 000 below): 'nobody' cannot search it
        data = locked / "data"
        if not is_root():
            locked.chmod(0o000)
        try:
            done = as_nobody(*args, data=data, stdin="help\n")
        finally:
            locked.chmod(0o700)
    assert done["rc"] == 1
    assert done["stdout"] == ""
    assert one_error_line(done["stderr"]) == "rekindle: " + line.format(journal=data / "journal.db", data=data)


# -- a full disk ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def small_disk(kib: int) -> Iterator[Path]:
    """A tmpfs of `kib` KiB (needs root and a kernel that lets us mount); skips the test otherwise."""
    mount_point = Path(tempfile.mkdtemp(prefix="rekindle-full-"))
    try:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={kib}k,mode=0700", "tmpfs", str(mount_point)],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a small tmpfs here ({done.stderr.strip() or done.returncode})")
        try:
            yield mount_point
        finally:
            subprocess.run(["umount", str(mount_point)], check=False)
    finally:
        mount_point.rmdir()


def fill(disk: Path) -> Path:
    """Take every free byte of the disk with one file; returns it (delete it to free the space)."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with contextlib.suppress(OSError):
            while True:
                os.write(descriptor, bytes(4096))
    finally:
        os.close(descriptor)
    return filler


LONG = "x" * 1500
"""Padding that makes every entry take a good part of a page, so a small disk fills in a few turns."""


def chat_until_it_fails(data: Path, preexec: Callable[[], None] | None = None) -> tuple[list[str], str, int]:
    """Feed long gratitude turns to `chat --json`; returns the texts it confirmed, its stderr and exit code."""
    script = "".join(f"I'm grateful that entry {n} {LONG}\n" for n in range(300))
    done = run("chat", "--json", "--mute", data_dir=data, stdin=script, preexec=preexec)
    confirmed = [turn["slots"]["text"] for turn in json_lines(done.stdout)]
    return confirmed, done.stderr, done.returncode


def test_a_disk_that_fills_during_chat_keeps_every_confirmed_entry() -> None:
    with small_disk(600) as disk:
        data = disk / "data"
        assert rekindle("ask", "--mute", "I'm grateful that we planned the trip", data_dir=data).returncode == 0
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "ballast").write_bytes(bytes(max(0, free - 120 * 1024)))  # leave room for a few turns only
        confirmed, stderr, code = chat_until_it_fails(data)
        assert code == 1
        line = one_error_line(stderr)
        assert line == (
            f"rekindle: cannot write journal {data / 'journal.db'}: the disk is full; free some space "
            "(nothing already saved was lost)"
        )
        assert 0 < len(confirmed) < 300
        saved = texts(data)  # listing still works on the full disk
        assert saved[-1] == "we planned the trip"
        assert set(confirmed) <= set(saved)
        assert len(saved) == len(set(saved))
        (disk / "ballast").unlink()
        assert integrity(data / "journal.db") == "ok"
        assert rekindle("ask", "--mute", "I'm grateful that there is room again", data_dir=data).returncode == 0
        assert texts(data)[0] == "there is room again"


def test_a_full_disk_refuses_new_entries_but_still_lists_and_exports() -> None:
    with small_disk(600) as disk:
        data = disk / "data"
        assert rekindle("ask", "--mute", "I'm grateful that we planned the trip", data_dir=data).returncode == 0
        journal = data / "journal.db"
        filler = fill(disk)
        before = journal.read_bytes()
        full_line = (
            f"rekindle: cannot open journal {journal}: the disk is full; free some space "
            "(nothing already saved was lost)"
        )
        for args, stdin in (
            (["ask", "--mute", "I'm grateful that it rained"], ""),
            (["chat", "--mute"], "I'm grateful that it rained\n"),
        ):
            done = rekindle(*args, data_dir=data, stdin=stdin)
            assert done.returncode == 1
            assert done.stdout == ""
            assert one_error_line(done.stderr) == full_line
        assert texts(data) == ["we planned the trip"]
        exported = rekindle("journal", "export", data_dir=data)
        assert exported.returncode == 0, exported.stderr
        assert [e["text"] for e in json.loads(exported.stdout)] == ["we planned the trip"]
        target = disk / "export.json"
        to_disk = rekindle("journal", "export", "-o", target, data_dir=data)
        assert to_disk.returncode == 1
        line = one_error_line(to_disk.stderr)
        assert line.startswith(f"rekindle: cannot write {target}: No space left on device; ")
        assert not target.exists()
        assert sorted(p.name for p in disk.iterdir()) == ["data", "filler"]  # no half-written export left
        assert journal.read_bytes() == before
        filler.unlink()
        assert integrity(journal) == "ok"


def limit_file_size(limit: int) -> Callable[[], None]:
    """A preexec function: files may not grow past `limit` bytes; writes past it fail with EFBIG."""

    def preexec() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the kernel kills the process instead of failing the write
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return preexec


def test_a_file_size_limit_during_chat_keeps_every_confirmed_entry(tmp_path: Path) -> None:
    """Works without root: RLIMIT_FSIZE makes the -wal file hit a wall the way a full disk does."""
    data = tmp_path / "data"
    assert rekindle("ask", "--mute", "I'm grateful that we planned the trip", data_dir=data).returncode == 0
    journal = data / "journal.db"
    confirmed, stderr, code = chat_until_it_fails(data, limit_file_size(journal.stat().st_size + 40_000))
    assert code == 1
    assert one_error_line(stderr) == (
        f"rekindle: cannot write journal {journal}: disk I/O error; check the disk and its free space "
        "(nothing already saved was lost)"
    )
    assert 0 < len(confirmed) < 300
    saved = texts(data)
    assert saved[-1] == "we planned the trip"
    assert set(confirmed) <= set(saved)
    assert len(saved) == len(set(saved))
    assert integrity(journal) == "ok"
