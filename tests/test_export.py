"""Journal export and import: exact round-trips in every format, clear errors on bad input, private atomic files."""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path

import pytest

from assistant.errors import JournalError
from assistant.export import FIELDS, FORMATS, dumps, guess_format, loads, write_private
from assistant.journal import Entry, Journal

T = "2026-11-26T20:15:00+00:00"

TRICKY_TEXTS = {
    "plain": "you fixed the bike",
    "unicode": "Zoë's crème brûlée, 東京の夜, Ελλάδα",
    "emoji": "the sunset 🌅 and your laugh 😂💛 👩🏽‍❤️‍👨🏻",
    "commas-quotes": "she said \"yes, of course\", then, 'again'",
    "newlines": "line one\nline two\n\nline four after a blank",
    "crlf": "windows line\r\nnext line\r\n",
    "heading-like": "## 12 · 2026-01-01T00:00:00+00:00 · text",
    "quote-like": "> already quoted\n>\n> twice",
    "gt": ">",
    "audio-like": 'Audio: "not/a/clip.wav"',
    "title-like": "# Rekindle gratitude journal",
    "spaces": "  leading and trailing  \n\t tabbed line ",
    "trailing-newline": "ends with a newline\n",
    "leading-newline": "\nstarts with a newline",
    "only-newlines": "\n\n",
    "backslashes": "C:\\path\\to\\nothing and \\n literally",
    "line-separator": "unicode line\u2028separator and\u0085next",
}

AUDIO = {
    "none": None,
    "simple": "clips/0001.wav",
    "spaces-quotes": 'clips/our "best" day, 1.wav',
    "unicode": "clips/tüdelü 🎵.wav",
}


def entry(text: str, audio: str | None = None, entry_id: int = 1, created_at: str = T) -> Entry:
    return Entry(entry_id, created_at, text, "voice" if audio else "text", audio)


def all_entries() -> list[Entry]:
    texts = [entry(text, None, n) for n, text in enumerate(TRICKY_TEXTS.values(), 1)]
    clips = [entry(f"clip {name}", audio, 100 + n) for n, (name, audio) in enumerate(AUDIO.items())]
    odd_times = [
        entry("space-separated time", None, 200, "2026-11-26 20:15:00+00:00"),
        entry("naive time", None, 201, "2026-11-26T20:15:00"),
        entry("fractional seconds", None, 202, "2026-11-26T20:15:00.250000+05:30"),
    ]
    return texts + clips + odd_times


# -- round trips ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_every_tricky_entry_together(fmt: str) -> None:
    entries = all_entries()
    assert loads(dumps(entries, fmt), fmt, f"x.{fmt}") == entries


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(TRICKY_TEXTS))
def test_round_trip_of_tricky_text(fmt: str, name: str) -> None:
    entries = [entry(TRICKY_TEXTS[name]), entry("a neighbour after it", None, 2)]
    assert loads(dumps(entries, fmt), fmt, "x") == entries


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", list(AUDIO))
def test_round_trip_of_audio_path(fmt: str, name: str) -> None:
    entries = [entry("spoken", AUDIO[name]), entry("written", None, 2)]
    back = loads(dumps(entries, fmt), fmt, "x")
    assert back == entries
    assert back[0].audio == AUDIO[name]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_of_no_entries(fmt: str) -> None:
    assert loads(dumps([], fmt), fmt, "x") == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_keeps_order_and_ids(fmt: str) -> None:
    entries = [entry(f"n{n}", None, n) for n in (9, 3, 1000000, 4)]
    assert [e.id for e in loads(dumps(entries, fmt), fmt, "x")] == [9, 3, 1000000, 4]


@pytest.mark.parametrize("fmt", FORMATS)
def test_round_trip_through_a_file_on_disk(tmp_path: Path, fmt: str) -> None:
    entries = all_entries()
    path = tmp_path / f"export.{'md' if fmt == 'markdown' else fmt}"
    write_private(path, dumps(entries, fmt))
    assert loads(path.read_bytes().decode("utf-8"), guess_format(path), path.name) == entries


@pytest.mark.parametrize("fmt", FORMATS)
def test_journal_to_export_to_new_journal_is_exact_and_idempotent(tmp_path: Path, fmt: str) -> None:
    with Journal(tmp_path / "a.db") as source:
        for n, text in enumerate(TRICKY_TEXTS.values()):
            source.import_entries([Entry(n + 1, f"2026-11-{n + 1:02d}T08:00:00+01:00", text, "text", None)])
        source.add("spoken one", source="voice", audio=AUDIO["spaces-quotes"], created_at=T)
        exported = source.entries()
    text = dumps(exported, fmt)
    with Journal(tmp_path / "b.db") as target:
        assert target.import_entries(loads(text, fmt, "x")) == (len(exported), 0)
        assert target.entries() == exported
        assert target.import_entries(loads(text, fmt, "x")) == (0, len(exported))


# -- what the formats look like ------------------------------------------------------------------------


def test_json_is_an_array_of_contract_objects_with_literal_unicode() -> None:
    text = dumps([entry(TRICKY_TEXTS["emoji"], AUDIO["simple"])], "json")
    assert json.loads(text) == [
        {"id": 1, "created_at": T, "text": TRICKY_TEXTS["emoji"], "source": "voice", "audio": "clips/0001.wav"}
    ]
    assert "🌅" in text
    assert text.endswith("]\n")


def test_json_null_audio() -> None:
    assert json.loads(dumps([entry("x")], "json"))[0]["audio"] is None


def test_csv_has_header_and_quotes_awkward_fields() -> None:
    text = dumps([entry(TRICKY_TEXTS["commas-quotes"])], "csv")
    assert text.splitlines()[0] == ",".join(FIELDS)
    assert list(csv.reader(io.StringIO(text)))[1] == ["1", T, TRICKY_TEXTS["commas-quotes"], "text", ""]


def test_markdown_quotes_every_text_line() -> None:
    text = dumps([entry("first\n## not a heading\n\nlast")], "markdown")
    assert text.startswith("# Rekindle gratitude journal\n")
    assert f"## 1 · {T} · text\n" in text
    assert "> first\n> ## not a heading\n>\n> last\n" in text


def test_markdown_audio_line_is_quoted_json() -> None:
    text = dumps([entry("spoken", AUDIO["spaces-quotes"])], "markdown")
    assert 'Audio: "clips/our \\"best\\" day, 1.wav"' in text


def test_markdown_ignores_blank_lines_and_title() -> None:
    text = f'# Rekindle gratitude journal\n\n\n## 5 · {T} · voice\n\n> hi\n\nAudio: "a.wav"\n\n\n'
    assert loads(text, "markdown", "x.md") == [Entry(5, T, "hi", "voice", "a.wav")]


def test_csv_empty_audio_reads_as_none() -> None:
    text = f"id,created_at,text,source,audio\n4,{T},hello,text,\n"
    assert loads(text, "csv", "x.csv") == [Entry(4, T, "hello", "text", None)]


def test_csv_without_audio_column_reads_as_none() -> None:
    text = f"id,created_at,text,source\n4,{T},hello,text\n"
    assert loads(text, "csv", "x.csv") == [Entry(4, T, "hello", "text", None)]


def test_json_without_audio_key_reads_as_none() -> None:
    text = json.dumps([{"id": 4, "created_at": T, "text": "hello", "source": "text"}])
    assert loads(text, "json", "x.json") == [Entry(4, T, "hello", "text", None)]


# -- malformed input -------------------------------------------------------------------------------------

GOOD = {"id": 1, "created_at": T, "text": "hello", "source": "text", "audio": None}
HEADER = "id,created_at,text,source,audio"


@pytest.mark.parametrize(
    ("fmt", "text", "match"),
    [
        ("json", "{not json", "not valid JSON"),
        ("json", "", "not valid JSON"),
        ("json", json.dumps(GOOD), "JSON array"),
        ("json", "[1, 2]", "needs id, created_at, text and source"),
        ("json", json.dumps([{"id": 1}]), "needs id, created_at, text and source"),
        ("json", json.dumps([{**GOOD, "id": "seven"}]), "needs id"),
        ("json", json.dumps([{**GOOD, "text": None}]), "no text"),
        ("json", json.dumps([{**GOOD, "id": None}]), "no id"),
        ("csv", f"id,created_at\n1,{T}\n", "no text, source"),
        ("csv", f"{HEADER}\n1,{T}\n", "no text, source"),
        ("csv", f"{HEADER}\nseven,{T},hi,text,\n", "needs id"),
        ("csv", "just some words\nand more\n", "needs id"),
        ("markdown", f"## 1 · {T} · text\n\n> hi\n\nAudio: clips/a.wav\n", "audio path is not quoted JSON"),
        ("markdown", "my own notes\nabout nothing\n", "line 1 is not part of a Rekindle export"),
        ("markdown", f"## 1 · {T} · text\n\n> hi\nstray line\n", "line 4 is not part of a Rekindle export"),
        ("markdown", f"## 1 · {T} · email\n\n> hi\n", "line 1 is not part of a Rekindle export"),
        ("markdown", f"## one · {T} · text\n\n> hi\n", "line 1 is not part of a Rekindle export"),
    ],
    ids=[
        "json-syntax",
        "json-empty",
        "json-object",
        "json-numbers",
        "json-missing-keys",
        "json-bad-id",
        "json-null-text",
        "json-null-id",
        "csv-missing-columns",
        "csv-short-row",
        "csv-bad-id",
        "csv-not-csv",
        "md-unquoted-audio",
        "md-not-an-export",
        "md-stray-line",
        "md-unknown-source",
        "md-bad-id",
    ],
)
def test_malformed_input_raises_one_line_journal_error(fmt: str, text: str, match: str) -> None:
    with pytest.raises(JournalError, match=match) as caught:
        loads(text, fmt, "gratitude.export")
    message = str(caught.value)
    assert "\n" not in message
    assert "gratitude.export" in message


def test_csv_error_names_the_row() -> None:
    text = f"{HEADER}\n1,{T},fine,text,\nseven,{T},bad,text,\n"
    with pytest.raises(JournalError, match="row 3"):
        loads(text, "csv", "x.csv")


def test_json_error_names_the_item() -> None:
    with pytest.raises(JournalError, match="item 2"):
        loads(json.dumps([GOOD, {"id": 2}]), "json", "x.json")


@pytest.mark.parametrize("fmt", ["xml", "JSON", "md", ""])
def test_unknown_format_refused_both_ways(fmt: str) -> None:
    with pytest.raises(JournalError, match="json, csv, markdown"):
        dumps([entry("x")], fmt)
    with pytest.raises(JournalError, match="json, csv, markdown"):
        loads("[]", fmt, "x")


# -- guessing the format ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.json", "json"),
        ("A.JSON", "json"),
        ("dir.v2/b.csv", "csv"),
        ("c.md", "markdown"),
        ("d.markdown", "markdown"),
        ("E.Md", "markdown"),
        ("our journal.json", "json"),
    ],
)
def test_guess_format(name: str, fmt: str) -> None:
    assert guess_format(Path(name)) == fmt


@pytest.mark.parametrize("name", ["notes.txt", "export", "export.json.bak", ".json", "x.yaml"])
def test_guess_format_refuses_unknown_extension(name: str) -> None:
    with pytest.raises(JournalError, match=r"name it \.json, \.csv or \.md"):
        guess_format(Path(name))


# -- writing files ----------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_write_private_writes_exact_bytes(tmp_path: Path) -> None:
    text = "ünïcødé 💛\r\nkept CRLF\nand LF\n"
    write_private(tmp_path / "out.csv", text)
    assert (tmp_path / "out.csv").read_bytes() == text.encode("utf-8")


def test_write_private_is_owner_only_even_with_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        write_private(tmp_path / "out.json", "[]\n")
    finally:
        os.umask(old)
    assert mode(tmp_path / "out.json") == 0o600


def test_write_private_replaces_a_world_readable_file(tmp_path: Path) -> None:
    target = tmp_path / "out.md"
    target.write_text("old")
    target.chmod(0o644)
    old_inode = target.stat().st_ino
    write_private(target, "new")
    assert target.read_text() == "new"
    assert mode(target) == 0o600
    assert target.stat().st_ino != old_inode  # renamed over, never rewritten in place


def test_write_private_leaves_no_temporary_file(tmp_path: Path) -> None:
    write_private(tmp_path / "out.json", "[]\n")
    write_private(tmp_path / "out.json", "[1]\n")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_write_private_relative_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_private(Path("here.csv"), "id\n")
    assert (tmp_path / "here.csv").read_text() == "id\n"
    assert [p.name for p in tmp_path.iterdir()] == ["here.csv"]


def test_write_private_missing_directory_is_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(JournalError, match="cannot write") as caught:
        write_private(tmp_path / "no" / "such" / "dir" / "out.json", "[]")
    assert "\n" not in str(caught.value)
    assert list(tmp_path.iterdir()) == []


def test_write_private_onto_a_directory_fails_and_cleans_up(tmp_path: Path) -> None:
    (tmp_path / "out.json").mkdir()
    with pytest.raises(JournalError, match="cannot write"):
        write_private(tmp_path / "out.json", "[]")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert (tmp_path / "out.json").is_dir()
