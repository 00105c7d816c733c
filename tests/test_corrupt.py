"""A corrupt or foreign journal.db, met through the command line: refused in one line, never changed.

Every command that opens the journal (chat, ask, journal list/delete/import) must exit 1 with one line on
stderr that names the file and says what to do, print nothing on stdout, and leave the file byte-identical.
`journal export` reads what can still be read from a damaged journal (with one warning line) and refuses in one
line when nothing can be read.
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers_cli import one_error_line, rekindle

from assistant.journal import Entry, Journal

PAGE = 4096
ENTRIES = 600
"""Entries in the real journal that gets damaged (about 28 pages of 4 KiB)."""


def real_journal(path: Path) -> list[Entry]:
    saved = [
        Entry(n, f"2026-01-{1 + n // 60:02d}T10:{n % 60:02d}:00+00:00", f"entry {n} " + "x" * 80, "text", None)
        for n in range(1, ENTRIES + 1)
    ]
    with Journal(path) as book:
        book.import_entries(saved)
    return saved


def text_file(path: Path) -> None:
    path.write_text("Shopping: milk, eggs, bread\nCall mum on Sunday\n", encoding="utf-8")


def random_bytes(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(20_000))


def foreign_sqlite(path: Path) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE recipes (name TEXT, minutes INTEGER)")
    db.executemany("INSERT INTO recipes VALUES (?, ?)", [("soup", 40), ("bread", 180)])
    db.commit()
    db.close()


def damaged_pages(path: Path) -> None:
    """A real journal whose middle page was overwritten (a bad sector, a bad copy)."""
    real_journal(path)
    data = bytearray(path.read_bytes())
    middle = (len(data) // PAGE // 2) * PAGE
    data[middle : middle + PAGE] = b"\xff" * PAGE
    path.write_bytes(bytes(data))


def truncated(path: Path) -> None:
    """A real journal cut in half (a copy that stopped early)."""
    real_journal(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CASES: dict[str, Callable[[Path], None]] = {
    "text": text_file,
    "random-bytes": random_bytes,
    "foreign-sqlite": foreign_sqlite,
    "damaged-pages": damaged_pages,
    "truncated": truncated,
}
EXPECTED = {
    "text": "is not a Rekindle journal (not an SQLite database); nothing was changed: move it aside",
    "random-bytes": "is not a Rekindle journal (not an SQLite database); nothing was changed: move it aside",
    "foreign-sqlite": "is an SQLite database from another program, not a Rekindle journal; nothing was changed",
    "damaged-pages": "is damaged (",
    "truncated": "is damaged (",
}
"""A part of the one line each case must give."""

COMMANDS: dict[str, tuple[list[str], str | None]] = {
    "chat": (["chat", "--json", "--mute"], "I'm grateful that we laughed\nhelp\n"),
    "ask": (["ask", "--mute", "I'm grateful that we laughed"], None),
    "journal list": (["journal", "list", "--json"], None),
    "journal delete": (["journal", "delete", "1"], None),
    "journal import": (["journal", "import", "EXPORT"], None),
}


@pytest.fixture(params=list(CASES))
def bad_journal(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, Path]:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    CASES[request.param](data / "journal.db")
    return request.param, data


def sidecars(data: Path) -> list[str]:
    return sorted(p.name for p in data.iterdir() if p.name != "journal.db")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_command_refuses_with_one_line_and_leaves_the_file_byte_identical(
    bad_journal: tuple[str, Path], tmp_path: Path, command: str
) -> None:
    case, data = bad_journal
    path = data / "journal.db"
    before = path.read_bytes()
    export = tmp_path / "other.json"
    export.write_text(json.dumps([{"id": 1, "created_at": "2026-02-01T09:00:00+00:00", "text": "t", "source": "text"}]))
    args, stdin = COMMANDS[command]
    done = rekindle(*(str(export) if a == "EXPORT" else a for a in args), data_dir=data, stdin=stdin)
    assert done.returncode == 1, done.stderr
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith(f"rekindle: {'journal ' if 'damaged' in EXPECTED[case] else ''}{path} ")
    assert EXPECTED[case] in line
    assert "move it aside" in line
    assert path.read_bytes() == before
    if case not in ("damaged-pages", "truncated"):  # SQLite itself never even opened these
        assert sidecars(data) == []


def test_export_recovers_what_a_damaged_journal_still_holds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = data / "journal.db"
    damaged_pages(path)
    before = path.read_bytes()
    target = tmp_path / "rescued.json"
    done = rekindle("journal", "export", "-o", target, data_dir=data)
    assert done.returncode == 0, done.stderr
    warning, summary = done.stderr.strip().splitlines()
    assert warning.startswith(f"rekindle: warning: journal {path} is damaged (")
    assert warning.endswith("exporting what can still be read")
    rescued = json.loads(target.read_text(encoding="utf-8"))
    assert summary == f"Exported {len(rescued)} entries to {target}"
    # One 4 KiB page holds about 30 of these entries: everything else comes back, exactly as saved.
    assert ENTRIES - 80 <= len(rescued) < ENTRIES
    assert all(e["text"] == f"entry {e['id']} " + "x" * 80 for e in rescued)
    assert path.read_bytes() == before
    to_stdout = rekindle("journal", "export", data_dir=data)
    assert to_stdout.returncode == 0
    assert json.loads(to_stdout.stdout) == rescued
    assert one_error_line(to_stdout.stderr) == warning


@pytest.mark.parametrize("case", ["text", "random-bytes", "foreign-sqlite", "truncated"])
def test_export_of_a_file_with_nothing_readable_fails_with_one_line(tmp_path: Path, case: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    path = data / "journal.db"
    CASES[case](path)
    before = path.read_bytes()
    target = tmp_path / "rescued.json"
    done = rekindle("journal", "export", "-o", target, data_dir=data)
    assert done.returncode == 1
    line = one_error_line(done.stderr)
    assert line.startswith("rekindle: ") and str(path) in line
    assert "holds no readable entries" in line or "cannot recover anything" in line
    assert not target.exists()
    assert path.read_bytes() == before


def test_moving_the_damaged_file_aside_lets_rekindle_start_afresh(tmp_path: Path) -> None:
    """What the error line tells a person to do really works, and the rescued entries can be imported."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    damaged_pages(data / "journal.db")
    rescued = tmp_path / "rescued.json"
    assert rekindle("journal", "export", "-o", rescued, data_dir=data).returncode == 0
    for name in ("journal.db", "journal.db-wal", "journal.db-shm"):
        if (data / name).exists():
            (data / name).rename(tmp_path / name)
    imported = rekindle("journal", "import", rescued, data_dir=data)
    assert imported.returncode == 0, imported.stderr
    count = len(json.loads(rescued.read_text(encoding="utf-8")))
    assert imported.stdout.strip() == f"Imported {count} entries (0 already present)."
    done = rekindle("ask", "--mute", "I'm grateful that we start again", data_dir=data)
    assert done.returncode == 0, done.stderr
    listed = rekindle("journal", "list", "--json", data_dir=data)
    assert len(json.loads(listed.stdout)) == count + 1
