"""`rekindle` driven as a process, from pipes, the way people and scripts use it."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import shutil
import stat
import subprocess
import sys
import time
import wave
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import numpy as np
import pytest
from helpers_cli import REKINDLE, TIMEOUT, LineReader, clean_env, json_lines, one_error_line, popen, rekindle

from assistant import __version__
from assistant.content import load_content
from assistant.journal import Journal
from audio.chunk import AudioChunk

CONTENT = load_content()
STARTERS = {s.text for s in CONTENT.starters}
TURN_KEYS = {"text", "intent", "slots", "confidence", "reply"}
ENTRY_KEYS = {"id", "created_at", "text", "source", "audio"}

SCRIPT = [
    "give me a conversation starter",
    "",
    "I'm grateful that Sam cooked dinner",
    "log something I'm grateful for",
    "The smell of fresh bread, and a quiet morning",
    "what's the weather",
    "   ",
    "I'm thankful for our walk by the river",
]
"""One chat session: blank lines are skipped; three journal entries get saved."""
ENTRIES_NEWEST_FIRST = ["our walk by the river", "The smell of fresh bread, and a quiet morning", "Sam cooked dinner"]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A data directory written by one `chat --json` session (shared: tests that change it work on a copy)."""
    data = tmp_path_factory.mktemp("session") / "data"
    done = rekindle("chat", "--json", "--mute", data_dir=data, stdin="\n".join(SCRIPT) + "\n")
    assert done.returncode == 0, done.stderr
    return data, done


@pytest.fixture
def journal_copy(session: tuple[Path, Any], tmp_path: Path) -> Path:
    return Path(shutil.copytree(session[0], tmp_path / "data"))


def listed(data: Path | None, **kwargs: Any) -> list[dict[str, Any]]:
    done = rekindle("journal", "list", "--json", data_dir=data, **kwargs)
    assert done.returncode == 0, done.stderr
    value = json.loads(done.stdout)
    assert isinstance(value, list)
    return value


# -- chat and ask --------------------------------------------------------------------------------------


def test_chat_plain_from_a_pipe(tmp_path: Path) -> None:
    done = rekindle(
        "chat", "--mute", data_dir=tmp_path, stdin="give me a conversation starter\nanother one\n\nwhat can you do\n"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    first, second, help_ = done.stdout.splitlines()
    assert first in STARTERS and second in STARTERS and first != second
    assert help_ in CONTENT.replies["help"]


def test_chat_json_turns_have_exactly_the_contract_keys(session: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    _, done = session
    assert done.stderr == ""
    turns = json_lines(done.stdout)
    assert [set(t) for t in turns] == [TURN_KEYS] * 6
    assert [t["text"] for t in turns] == [line for line in SCRIPT if line.strip()]
    assert [t["intent"] for t in turns] == [
        "conversation_starter",
        "log_gratitude",
        "log_gratitude",
        "log_gratitude",
        "none",
        "log_gratitude",
    ]
    assert turns[1]["slots"] == {"text": "Sam cooked dinner"}
    assert turns[4] == {
        "text": "what's the weather",
        "intent": "none",
        "slots": {},
        "confidence": 0.0,
        "reply": turns[4]["reply"],
    }
    assert turns[4]["reply"] in CONTENT.replies["not_understood"]
    assert all(isinstance(t["confidence"], float) and t["reply"].strip() for t in turns)


def test_chat_json_prints_date_night_prompts_while_stdin_stays_open(tmp_path: Path) -> None:
    process = popen("chat", "--json", "--mute", "--date-night-interval", "0.5", data_dir=tmp_path)
    assert process.stdin is not None
    reader = LineReader(process)
    process.stdin.write("start date night\n")
    process.stdin.flush()
    started = json.loads(reader.next() or "null")
    assert started["intent"] == "date_night_start"
    assert "0 seconds" not in started["reply"]
    time.sleep(2.0)  # four prompts are due; a busy machine may print fewer, so wait for two at least
    prompts = [json.loads(reader.next() or "null") for _ in range(2)]
    process.stdin.write("end date night\n")
    process.stdin.close()
    rest = [json.loads(line) for line in reader.rest()]
    assert process.wait(timeout=TIMEOUT) == 0, process.stderr.read() if process.stderr else ""
    prompts += rest[:-1]
    assert all(set(p) == {"event", "reply"} and p["event"] == "prompt" and p["reply"].strip() for p in prompts)
    assert rest[-1]["intent"] == "date_night_stop"
    assert str(len(prompts)) in rest[-1]["reply"]


def test_chat_survives_input_that_is_not_utf8(tmp_path: Path) -> None:
    done = subprocess.run(
        [str(REKINDLE), "--data-dir", str(tmp_path), "chat", "--json", "--mute"],
        input=b"\xff\xfe give me a \xc3 tip\nhelp\n",
        capture_output=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert [t["intent"] for t in json_lines(done.stdout.decode())][-1] == "help"


def test_command_line_text_that_is_not_utf8_is_saved_and_spoken(tmp_path: Path) -> None:
    """A terminal in another encoding: the undecodable byte becomes U+FFFD instead of a crash."""
    asked = subprocess.run(
        [REKINDLE, b"--data-dir", tmp_path, b"ask", b"--json", b"--mute", b"I'm grateful for caf\xe9 mornings"],
        capture_output=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert asked.returncode == 0, asked.stderr.decode()
    [turn] = json_lines(asked.stdout.decode())
    assert turn["slots"] == {"text": "caf\ufffd mornings"}
    assert [e["text"] for e in listed(tmp_path)] == ["caf\ufffd mornings"]
    said = subprocess.run(
        [REKINDLE, b"say", b"caf\xe9 time", b"-o", tmp_path / "cafe.wav"],
        capture_output=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert said.returncode == 0, said.stderr.decode()
    assert (tmp_path / "cafe.wav").stat().st_size > 1000


def test_ask_plain_prints_one_reply(tmp_path: Path) -> None:
    done = rekindle("ask", "give me a date night idea", "--mute", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    [line] = done.stdout.splitlines()
    assert any(line.endswith(d.text) for d in CONTENT.dates)


def test_ask_json_saves_a_one_breath_entry(tmp_path: Path) -> None:
    done = rekindle("ask", "--json", "--mute", "I'm grateful for the garden", data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    [turn] = json_lines(done.stdout)
    assert set(turn) == TURN_KEYS
    assert (turn["intent"], turn["slots"], turn["confidence"]) == ("log_gratitude", {"text": "the garden"}, 1.0)
    assert [e["text"] for e in listed(tmp_path)] == ["the garden"]


# -- journal -------------------------------------------------------------------------------------------


def test_journal_list_json_is_newest_first_with_the_contract_keys(session: tuple[Path, Any]) -> None:
    entries = listed(session[0])
    assert [set(e) for e in entries] == [ENTRY_KEYS] * 3
    assert [e["text"] for e in entries] == ENTRIES_NEWEST_FIRST
    assert [e["id"] for e in entries] == sorted((e["id"] for e in entries), reverse=True)
    assert {(e["source"], e["audio"]) for e in entries} == {("text", None)}
    for e in entries:
        assert datetime.fromisoformat(e["created_at"]).tzinfo is not None


def test_journal_list_plain(session: tuple[Path, Any]) -> None:
    done = rekindle("journal", "list", data_dir=session[0])
    assert done.returncode == 0, done.stderr
    assert [line.split("  ")[-1].strip() for line in done.stdout.splitlines()] == ENTRIES_NEWEST_FIRST


def parse_export(text: str, fmt: str) -> list[str]:
    """The entry texts found in an export."""
    if fmt == "json":
        return [e["text"] for e in json.loads(text)]
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(text)))
        assert set(rows[0]) == ENTRY_KEYS
        return [row["text"] for row in rows]
    return [line[2:] for line in text.splitlines() if line.startswith("> ")]


@pytest.mark.parametrize("fmt", ["json", "csv", "markdown"])
def test_export_to_a_file_and_to_stdout(session: tuple[Path, Any], tmp_path: Path, fmt: str) -> None:
    target = tmp_path / f"gratitude.{fmt}"
    to_file = rekindle("journal", "export", "--format", fmt, "-o", target, data_dir=session[0])
    assert to_file.returncode == 0, to_file.stderr
    assert to_file.stdout == ""
    to_stdout = rekindle("journal", "export", "--format", fmt, data_dir=session[0])
    assert to_stdout.returncode == 0, to_stdout.stderr
    assert target.read_text(encoding="utf-8") == to_stdout.stdout
    assert parse_export(to_stdout.stdout, fmt) == ENTRIES_NEWEST_FIRST
    assert mode(target) == 0o600


@pytest.mark.parametrize("suffix", ["json", "csv", "md"])
def test_import_round_trip_and_importing_twice_adds_nothing(
    session: tuple[Path, Any], tmp_path: Path, suffix: str
) -> None:
    fmt = {"md": "markdown"}.get(suffix, suffix)
    exported = tmp_path / f"gratitude.{suffix}"
    assert rekindle("journal", "export", "--format", fmt, "-o", exported, data_dir=session[0]).returncode == 0
    fresh = tmp_path / "fresh"
    first = rekindle("journal", "import", exported, data_dir=fresh)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "Imported 3 entries (0 already present)."
    second = rekindle("journal", "import", exported, data_dir=fresh)
    assert second.stdout.strip() == "Imported 0 entries (3 already present)."
    assert listed(fresh) == listed(session[0])


def test_import_of_a_broken_character_escape_fails_with_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    entry = {"id": 1, "created_at": "2026-11-26T20:00:00+00:00", "text": "caf\udce9", "source": "text", "audio": None}
    broken.write_text(json.dumps([entry]), encoding="utf-8")  # json writes the lone surrogate as an escape
    done = rekindle("journal", "import", broken, data_dir=tmp_path / "data")
    assert done.returncode == 1
    assert "broken.json" in one_error_line(done.stderr)
    assert listed(tmp_path / "data") == []


def test_delete_by_id(journal_copy: Path) -> None:
    before = listed(journal_copy)
    gone = before[1]["id"]
    done = rekindle("journal", "delete", str(gone), data_dir=journal_copy)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"Deleted entry {gone}."
    assert listed(journal_copy) == [before[0], before[2]]


def test_delete_an_unknown_id_fails_with_one_line(journal_copy: Path) -> None:
    done = rekindle("journal", "delete", "999", data_dir=journal_copy)
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("rekindle: ") and "999" in line
    assert len(listed(journal_copy)) == 3


def test_retranscribe_redoes_a_voice_entry_from_its_clip(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    from audio.files import save_wav

    data = tmp_path / "data"
    turns = [
        save_wav(say(text), tmp_path / f"turn{number}.wav")
        for number, text in enumerate(["log something i'm grateful for", "my partner made me breakfast this morning"])
    ]
    spoken = rekindle("converse", "--json", *turns, data_dir=data)
    assert spoken.returncode == 0, spoken.stderr
    heard = json_lines(spoken.stdout)[1]["transcript"]
    assert "breakfast" in heard
    assert rekindle("ask", "--mute", "I'm grateful that the kettle was on", data_dir=data).returncode == 0
    [typed, voice] = listed(data)
    with Journal(data / "journal.db") as book:  # as if an older, worse model had heard it
        book.update_text(voice["id"], "my partner mate me break fast")
    done = rekindle("journal", "retranscribe", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [f"{voice['id']}: {heard}", "Re-transcribed 1 entries (0 clips missing)."]
    assert listed(data) == [typed, {**voice, "text": heard}]  # the typed entry is left alone


# -- say -----------------------------------------------------------------------------------------------


def test_say_writes_a_real_wav_with_sound(tmp_path: Path) -> None:
    target = tmp_path / "welcome.wav"
    done = rekindle("say", "Welcome to date night, you two.", "-o", target, data_dir=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(target)  # nothing from pyttsx3 leaks onto stdout
    with wave.open(str(target), "rb") as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        seconds = wav.getnframes() / wav.getframerate()
        samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float64)
    assert 1.0 < seconds < 10.0
    rms = float(np.sqrt(np.mean(samples**2)))
    assert rms > 300, rms  # about -40 dBFS; silence would be 0
    assert np.abs(samples).max() > 3000


# -- the command line itself ---------------------------------------------------------------------------


def test_version() -> None:
    done = rekindle("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"rekindle, version {__version__}"


def command_paths() -> list[tuple[str, ...]]:
    """Every command and sub-command, as wired by `assistant.cli.main` (run in-process with --help)."""
    from assistant import cli as cli_module

    argv = sys.argv
    sys.argv = ["rekindle", "--help"]
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            cli_module.main()
    finally:
        sys.argv = argv
    paths: list[tuple[str, ...]] = []

    def walk(command: click.Command, path: tuple[str, ...]) -> None:
        paths.append(path)
        if isinstance(command, click.Group):
            for name, sub in command.commands.items():
                walk(sub, (*path, name))

    walk(cli_module.cli, ())
    return paths


COMMAND_PATHS = command_paths()


def test_the_command_tree_has_every_documented_command() -> None:
    for path in [("ask",), ("chat",), ("say",), ("journal", "list"), ("journal", "export"), ("journal", "import")]:
        assert path in COMMAND_PATHS
    assert ("journal", "delete") in COMMAND_PATHS


@pytest.mark.parametrize("path", COMMAND_PATHS, ids=lambda p: " ".join(p) or "rekindle")
def test_every_command_has_help_with_an_example(path: tuple[str, ...]) -> None:
    done = rekindle(*path, "--help")
    assert done.returncode == 0, done.stderr
    assert "Example:" in done.stdout
    if not path:
        assert all(p[0] in done.stdout for p in COMMAND_PATHS if len(p) == 1)


@pytest.mark.parametrize(
    "args",
    [
        ["frobnicate"],
        ["chat", "--date-night-interval", "-5"],
        ["chat", "--date-night-interval", "0"],
        ["hear", "--engine", "foo", "x.wav"],
        ["ask", ""],
        ["journal", "delete", "seven"],
        ["journal", "export", "--format", "pdf"],
    ],
    ids=" ".join,
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = rekindle(*args, data_dir=tmp_path)
    assert done.returncode == 2
    assert "Usage:" in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    ("toml", "named"),
    [
        ("engine = [\n", ["not valid TOML"]),
        ("colour = 'blue'\n", ["colour", "date_night_interval", "engine", "speech_rate", "seed"]),
        ('engine = "whisper"\n', ["engine", "whisper", "auto", "pocketsphinx", "vosk"]),
        ('wake_word = "hey_rekindle"\n', ["wake_word", "okay_nabu", "hey_jarvis"]),
        ("date_night_interval = -5\n", ["date_night_interval", "positive"]),
        ('speech_rate = "fast"\n', ["speech_rate", "int"]),
    ],
    ids=["malformed", "unknown-setting", "engine", "wake-word", "interval", "rate-type"],
)
def test_bad_config_fails_with_one_line_naming_the_setting(tmp_path: Path, toml: str, named: list[str]) -> None:
    config = tmp_path / "settings.toml"
    config.write_text(toml, encoding="utf-8")
    done = rekindle("--config", config, "ask", "--mute", "help", data_dir=tmp_path / "data")
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("rekindle: ") and str(config) in line
    for word in named:
        assert word in line


def test_config_toml_in_the_data_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("mute = 'yes'\n", encoding="utf-8")
    done = rekindle("journal", "list", data_dir=tmp_path)
    assert done.returncode == 1
    assert "mute" in one_error_line(done.stderr)


def test_rekindle_home_sets_the_data_directory(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = clean_env(REKINDLE_HOME=str(home))
    done = rekindle("ask", "--mute", "I'm grateful for the quiet morning", env=env)
    assert done.returncode == 0, done.stderr
    assert (home / "journal.db").is_file()
    assert [e["text"] for e in listed(None, env=env)] == ["the quiet morning"]
    assert listed(tmp_path / "other", env=env) == []  # --data-dir wins over the variable


def test_data_directory_and_journal_are_private(tmp_path: Path) -> None:
    data = tmp_path / "a" / "b" / "data"
    done = rekindle("ask", "--mute", "I'm grateful for the quiet morning", data_dir=data)
    assert done.returncode == 0, done.stderr
    assert mode(data) == 0o700
    assert mode(data / "journal.db") == 0o600
    assert [p.name for p in data.iterdir() if mode(p) != 0o600] == []


def test_hear_gives_a_rejected_command_its_second_chance_unless_turned_off(
    tmp_path: Path, say: Callable[..., Any]
) -> None:
    from audio.files import save_wav

    wav = save_wav(say("we're having dinner, give us something to talk about"), tmp_path / "untemplated.wav")
    heard = json_lines(rekindle("hear", "--json", wav, data_dir=tmp_path / "data").stdout)
    assert [(x["intent"], "dinner" in x["transcript"]) for x in heard] == [("conversation_starter", True)]
    settings = tmp_path / "config.toml"
    settings.write_text("second_chance = false\n")
    off = rekindle("--config", settings, "hear", "--json", wav, data_dir=tmp_path / "data")
    assert [(x["intent"], x["transcript"]) for x in json_lines(off.stdout)] == [("none", "")], off.stderr
