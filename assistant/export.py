"""Journal export and import in JSON, CSV and Markdown; each round-trips exactly."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from assistant.errors import JournalError
from assistant.journal import Entry
from assistant.paths import FILE_MODE

FORMATS = ("json", "csv", "markdown")
FIELDS = ("id", "created_at", "text", "source", "audio")
_HEADING = re.compile(r"^## (\d+) · (.+) · (voice|text)$")


def dumps(entries: list[Entry], fmt: str) -> str:
    """Entries as text in one of FORMATS."""
    if fmt == "json":
        return json.dumps([e.to_dict() for e in entries], ensure_ascii=False, indent=2) + "\n"
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for e in entries:
            writer.writerow([e.id, e.created_at, e.text, e.source, "" if e.audio is None else e.audio])
        return out.getvalue()
    if fmt == "markdown":
        parts = ["# Rekindle gratitude journal\n"]
        for e in entries:
            quoted = "\n".join(f"> {line}" if line else ">" for line in e.text.split("\n"))
            parts.append(f"\n## {e.id} · {e.created_at} · {e.source}\n\n{quoted}\n")
            if e.audio is not None:
                parts.append(f"\nAudio: {json.dumps(e.audio, ensure_ascii=False)}\n")
        return "".join(parts)
    raise JournalError(f"unknown export format '{fmt}'; use one of: {', '.join(FORMATS)}")


def _entry(raw: dict[str, Any], where: str) -> Entry:
    missing = [key for key in FIELDS[:4] if raw.get(key) is None]
    if missing:  # a short CSV row or a JSON null must not turn into the text "None"
        raise JournalError(f"{where}: each entry needs id, created_at, text and source (no {', '.join(missing)})")
    try:
        entry_id = int(raw["id"])
        created_at, text, source = str(raw["created_at"]), str(raw["text"]), str(raw["source"])
    except (TypeError, ValueError) as exc:
        raise JournalError(f"{where}: each entry needs id, created_at, text and source ({exc})") from exc
    audio = raw.get("audio")
    for value in (text, str(audio)):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise JournalError(
                f"{where}: {value[:40]!r} holds a broken character escape; fix it or export again"
            ) from exc
    return Entry(entry_id, created_at, text, source, str(audio) if audio not in (None, "") else None)


def loads(text: str, fmt: str, name: str) -> list[Entry]:
    """Parse an export back into entries; errors name the file and the fix."""
    if fmt == "json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise JournalError(f"{name} is not valid JSON ({exc.msg} at line {exc.lineno}); export it again") from exc
        if not isinstance(data, list):
            raise JournalError(f"{name} must hold a JSON array of entries, as `rekindle journal export` writes")
        return [_entry(item if isinstance(item, dict) else {}, f"{name} item {n}") for n, item in enumerate(data, 1)]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        return [_entry(row, f"{name} row {n}") for n, row in enumerate(rows, 2)]
    if fmt == "markdown":
        entries: list[Entry] = []
        current: dict[str, Any] | None = None
        for number, line in enumerate(text.split("\n"), 1):
            match = _HEADING.match(line)
            if match:
                if current:
                    entries.append(_entry(current, name))
                current = {"id": match[1], "created_at": match[2], "source": match[3], "lines": []}
            elif current is not None and (line.startswith("> ") or line == ">"):
                current["lines"].append(line[2:])
            elif current is not None and line.startswith("Audio: "):
                try:
                    current["audio"] = json.loads(line[7:])
                except json.JSONDecodeError as exc:
                    raise JournalError(f"{name} line {number}: the audio path is not quoted JSON") from exc
            elif line.strip() and not (current is None and line.startswith("# ")):
                raise JournalError(
                    f"{name} line {number} is not part of a Rekindle export ({line[:40]!r}); "
                    "export it again or fix that line"
                )
            if current is not None:
                current["text"] = "\n".join(current["lines"])
        if current:
            entries.append(_entry(current, name))
        return entries
    raise JournalError(f"unknown format '{fmt}'; use one of: {', '.join(FORMATS)}")


def guess_format(path: Path) -> str:
    """json, csv or markdown from a file's extension."""
    suffix = path.suffix.lower()
    if suffix == ".json":
        return "json"
    if suffix == ".csv":
        return "csv"
    if suffix in (".md", ".markdown"):
        return "markdown"
    raise JournalError(f"cannot tell the format of {path.name}; name it .json, .csv or .md")


def write_private(path: Path, text: str) -> None:
    """Write a file atomically, readable by the owner only."""
    directory = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise JournalError(f"cannot write {path}: {exc.strerror}; check the directory exists and is writable") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise JournalError(f"cannot write {path}: {exc.strerror}; free some space or choose another folder") from exc
