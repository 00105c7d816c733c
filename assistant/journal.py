"""The gratitude journal: a private SQLite file (WAL mode, versioned schema, migrations).

Every write is committed before it returns, so a reply that says "saved" is never ahead of the disk.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from assistant.errors import JournalError
from assistant.paths import FILE_MODE

_LOGGER = logging.getLogger(__name__)

APPLICATION_ID = 0x524B444C
"""`PRAGMA application_id` of a Rekindle journal ("RKDL")."""
SCHEMA_VERSION = 2
"""`PRAGMA user_version` this code writes."""
SOURCES = ("voice", "text")
_SQLITE_MAGIC = b"SQLite format 3\x00"
_ROOM_NEEDED = 1 << 20
_BUSY_SECONDS = 10.0
"""How long to wait for another process that holds the journal, as SQLite's busy timeout does."""
"""Bytes. Below this much free space an I/O error while opening or writing is reported as a full disk."""

_MIGRATIONS: dict[int, str] = {
    1: """
        CREATE TABLE entries (
            id INTEGER PRIMARY KEY,
            created_at TEXT NOT NULL,
            text TEXT NOT NULL,
            source TEXT NOT NULL CHECK (source IN ('voice', 'text')),
            audio TEXT
        );
        CREATE TABLE state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    2: """
        ALTER TABLE entries ADD COLUMN created_epoch REAL;
        CREATE INDEX entries_epoch ON entries (created_epoch);
    """,
}


@dataclass(frozen=True)
class Entry:
    """One gratitude entry."""

    id: int
    """Stable id, unique in this journal."""
    created_at: str
    """ISO-8601 local time with offset, to the second."""
    text: str
    """What the person is grateful for."""
    source: str
    """voice or text."""
    audio: str | None
    """Path of the spoken clip (voice entries), else None."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready mapping with the field names of the CLI contract."""
        return asdict(self)


def _epoch(created_at: str) -> float:
    try:
        stamp = datetime.fromisoformat(created_at)
    except ValueError as exc:
        raise JournalError(f"'{created_at}' is not an ISO-8601 time; use e.g. 2026-11-26T20:15:00+00:00") from exc
    if stamp.tzinfo is None:
        stamp = stamp.astimezone()
    return stamp.timestamp()


def check_file(path: Path) -> None:
    """Refuse a file that is not an SQLite database before SQLite gets to touch it."""
    try:  # exists() itself raises PermissionError when the directory cannot be searched
        if not path.exists():
            return
        if path.is_dir():
            raise JournalError(f"{path} is a directory, not a journal; move it aside or use another --data-dir")
        with path.open("rb") as handle:
            head = handle.read(16)
    except PermissionError as exc:
        raise JournalError(f"cannot read journal {path}: permission denied; fix its owner or permissions") from exc
    if head and head != _SQLITE_MAGIC:
        raise JournalError(
            f"{path} is not a Rekindle journal (not an SQLite database); nothing was changed: move it aside "
            "or use another --data-dir"
        )


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """Open without writing. In a read-only directory, or on a full disk, SQLite cannot make the -shm file a WAL
    journal needs to be read; the file is then opened as immutable, which reads exactly what is saved as long as
    the -wal file is missing or empty (it holds no saved entry yet)."""
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10.0, isolation_level=None)
    try:
        db.execute("PRAGMA schema_version").fetchone()
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        name = getattr(exc, "sqlite_errorname", "")
        if name in ("SQLITE_READONLY_DIRECTORY", "SQLITE_IOERR_SHMSIZE", "SQLITE_IOERR_SHMOPEN") and (
            not wal.exists() or wal.stat().st_size == 0
        ):
            db.close()
            db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None)
    return db


def _disk_full(directory: Path) -> bool:
    """True when the disk holding `directory` has too little room left for SQLite's -wal and -shm files."""
    try:
        return shutil.disk_usage(directory).free < _ROOM_NEEDED
    except OSError:
        return False


class Journal:
    """Gratitude entries and small persistent state (e.g. which starters were heard)."""

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        """The SQLite file."""
        check_file(path)
        created = not path.exists()
        if readonly and created:
            raise JournalError(f"no journal at {path} yet; log an entry first")
        try:
            if readonly:
                self._db = _connect_readonly(path)
            else:
                old_umask = os.umask(0o077)
                try:
                    self._db = sqlite3.connect(str(path), timeout=10.0, isolation_level=None)
                finally:
                    os.umask(old_umask)
                if created:
                    os.chmod(path, FILE_MODE)
            self._db.execute("PRAGMA busy_timeout=10000")
            self._db.execute("PRAGMA synchronous=FULL")
            self._check_identity(created)
            if not created:
                self._check_pages()
            if not readonly:
                self._migrate()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise self._error("open", exc) from exc
        except JournalError:
            self._close_quietly()
            raise

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            db.close()

    # -- opening -------------------------------------------------------------------------------------
    def _error(self, action: str, exc: sqlite3.Error) -> JournalError:
        text = str(exc)
        if "readonly" in text or "read-only" in text:
            return JournalError(
                f"cannot {action} journal {self.path}: the data directory is read-only; "
                "make it writable or pass --data-dir"
            )
        if "disk is full" in text or ("disk I/O error" in text and _disk_full(self.path.parent)):
            return JournalError(
                f"cannot {action} journal {self.path}: the disk is full; free some space "
                "(nothing already saved was lost)"
            )
        if "disk I/O error" in text:
            return JournalError(
                f"cannot {action} journal {self.path}: disk I/O error; check the disk and its free space "
                "(nothing already saved was lost)"
            )
        if "malformed" in text or "not a database" in text or "corrupt" in text:
            return JournalError(
                f"journal {self.path} is damaged ({text}); nothing was changed: move it aside, "
                "and `rekindle journal export` can try to recover it"
            )
        if "locked" in text or "busy" in text:
            return JournalError(f"journal {self.path} is busy in another Rekindle process; try again")
        return JournalError(f"cannot {action} journal {self.path}: {text}")

    def _check_identity(self, created: bool) -> None:
        # One read transaction: another process may be creating this journal right now, and its schema and
        # application id appear together only to a reader that sees one consistent snapshot.
        self._db.execute("BEGIN")
        try:
            app_id = self._db.execute("PRAGMA application_id").fetchone()[0]
            tables = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        finally:
            self._db.execute("COMMIT")
        if app_id == APPLICATION_ID:
            return
        if app_id == 0 and not tables:
            return
        raise JournalError(
            f"{self.path} is an SQLite database from another program, not a Rekindle journal; nothing was "
            "changed: move it aside or use another --data-dir"
        )

    def _check_pages(self) -> None:
        """Refuse a damaged file before anything is written to it (a write could spread the damage).

        `PRAGMA quick_check` reads every page once: about 6 ms for 20,000 entries (4 MB) on a laptop.
        """
        rows = self._db.execute("PRAGMA quick_check(1)").fetchall()
        problems = [" ".join(str(row[0]).replace("*** in database main ***", "").split()) for row in rows]
        if problems != ["ok"]:
            raise JournalError(
                f"journal {self.path} is damaged ({problems[0]}); nothing was changed: move it aside, "
                "and `rekindle journal export` can try to recover it"
            )

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"journal {self.path} was written by a newer Rekindle (schema {version}); upgrade Rekindle"
            )
        # Only now that the file is known to be ours: switching to WAL rewrites the header of the file.
        old_umask = os.umask(0o077)
        try:
            self._switch_to_wal()
        finally:
            os.umask(old_umask)
        if version == SCHEMA_VERSION:
            return
        with self._transaction():
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            for target in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        self._db.execute(statement)
                if target == 2:
                    rows = self._db.execute("SELECT id, created_at FROM entries").fetchall()
                    for row_id, created_at in rows:
                        self._db.execute("UPDATE entries SET created_epoch=? WHERE id=?", (_epoch(created_at), row_id))
                _LOGGER.debug("Migrated %s to schema %s", self.path, target)
            self._db.execute(f"PRAGMA application_id={APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    def _switch_to_wal(self) -> None:
        # Two processes switching a new file to WAL at once: SQLite answers "locked" at once, without its busy
        # handler, to the one that would otherwise deadlock. Retry it as the busy timeout would.
        deadline = time.monotonic() + _BUSY_SECONDS
        pause = 0.005
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")
            raise self._error("write", exc) from exc

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # -- entries -------------------------------------------------------------------------------------
    def add(self, text: str, *, source: str = "text", audio: str | None = None, created_at: str | None = None) -> Entry:
        """Save one entry and commit it before returning."""
        text = text.strip()
        if not text:
            raise JournalError("a gratitude entry needs some text; say what you are grateful for")
        if source not in SOURCES:
            raise JournalError(f"unknown source '{source}'; use voice or text")
        stamp = created_at or datetime.now().astimezone().isoformat(timespec="seconds")
        epoch = _epoch(stamp)
        try:
            with self._transaction():
                cursor = self._db.execute(
                    "INSERT INTO entries (created_at, text, source, audio, created_epoch) VALUES (?, ?, ?, ?, ?)",
                    (stamp, text, source, audio, epoch),
                )
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        row_id = cursor.lastrowid
        assert row_id is not None
        return Entry(row_id, stamp, text, source, audio)

    def entries(self, since: float | None = None, until: float | None = None) -> list[Entry]:
        """Entries, newest first, optionally within [since, until) in Unix seconds."""
        sql = "SELECT id, created_at, text, source, audio FROM entries"
        args: list[float] = []
        clauses = []
        if since is not None:
            clauses.append("created_epoch >= ?")
            args.append(since)
        if until is not None:
            clauses.append("created_epoch < ?")
            args.append(until)
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        sql += " ORDER BY created_epoch DESC, id DESC"
        try:
            return [Entry(*row) for row in self._db.execute(sql, args)]
        except sqlite3.Error as exc:
            raise self._error("read", exc) from exc

    def get(self, entry_id: int) -> Entry | None:
        """One entry by id."""
        row = self._db.execute(
            "SELECT id, created_at, text, source, audio FROM entries WHERE id=?", (entry_id,)
        ).fetchone()
        return Entry(*row) if row else None

    def delete(self, entry_id: int) -> bool:
        """Delete one entry; True if it existed. The clip file, if any, is left for the caller."""
        try:
            with self._transaction():
                cursor = self._db.execute("DELETE FROM entries WHERE id=?", (entry_id,))
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return cursor.rowcount > 0

    def update_text(self, entry_id: int, text: str) -> None:
        """Replace an entry's text (e.g. after re-transcribing its clip)."""
        try:
            with self._transaction():
                self._db.execute("UPDATE entries SET text=? WHERE id=?", (text, entry_id))
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc

    def import_entries(self, entries: list[Entry]) -> tuple[int, int]:
        """Add entries keeping their ids; an identical entry already present is skipped.

        Returns (added, skipped). An id taken by a *different* entry gets a fresh id, so nothing is overwritten.
        """
        added = skipped = 0
        try:
            with self._transaction():
                for entry in entries:
                    if entry.source not in SOURCES:
                        raise JournalError(f"entry {entry.id}: unknown source '{entry.source}'; use voice or text")
                    existing = self.get(entry.id)
                    if existing == entry:
                        skipped += 1
                        continue
                    duplicate = self._db.execute(
                        "SELECT 1 FROM entries WHERE created_at=? AND text=? AND source=? AND audio IS ?",
                        (entry.created_at, entry.text, entry.source, entry.audio),
                    ).fetchone()
                    if duplicate:
                        skipped += 1
                        continue
                    row_id = None if existing else entry.id
                    self._db.execute(
                        "INSERT INTO entries (id, created_at, text, source, audio, created_epoch)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (row_id, entry.created_at, entry.text, entry.source, entry.audio, _epoch(entry.created_at)),
                    )
                    added += 1
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc
        return added, skipped

    # -- small state ---------------------------------------------------------------------------------
    def get_state(self, key: str) -> Any:
        """A JSON value stored under key, or None."""
        row = self._db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def set_state(self, key: str, value: Any) -> None:
        """Store a JSON value under key (committed)."""
        try:
            with self._transaction():
                self._db.execute(
                    "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (key, json.dumps(value)),
                )
        except sqlite3.Error as exc:
            raise self._error("write", exc) from exc


def recover_entries(path: Path) -> list[Entry]:
    """Read whatever entries can still be read from a journal, even a damaged or foreign-marked one.

    Never writes to the file. Rows that cannot be read are skipped.
    """
    try:
        exists = path.exists()
    except PermissionError as exc:
        raise JournalError(f"cannot read journal {path}: permission denied; fix its owner or permissions") from exc
    if not exists:
        raise JournalError(f"no journal at {path}; check --data-dir")
    try:
        db = _connect_readonly(path)
    except sqlite3.Error as exc:
        raise JournalError(f"cannot recover anything from {path} ({exc}); it is not a readable journal") from exc
    found: list[Entry] = []
    problem = ""
    try:
        try:
            return [
                Entry(*row)
                for row in db.execute(
                    "SELECT id, created_at, text, source, audio FROM entries ORDER BY created_at DESC, id DESC"
                )
            ]
        except sqlite3.DatabaseError as exc:
            problem = str(exc)
        try:
            max_id = db.execute("SELECT max(id) FROM entries").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            max_id = 100_000
        for row_id in range(1, max_id + 1):
            try:
                row = db.execute(
                    "SELECT id, created_at, text, source, audio FROM entries WHERE id=?", (row_id,)
                ).fetchone()
            except sqlite3.DatabaseError:
                continue
            if row:
                found.append(Entry(*row))
    finally:
        db.close()
    if not found:
        raise JournalError(f"{path} holds no readable entries ({problem}); it may not be a Rekindle journal")
    found.sort(key=lambda e: (e.created_at, e.id), reverse=True)
    return found
