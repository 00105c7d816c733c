"""Whatever people feed Rekindle gets one clear line (never a traceback), the right exit code, and no harm done.

The lines each input gives are listed in docs/bad-inputs.md. Exit codes: 0 when the command did its job (silence
and noise are valid audio: they are heard as no command), 1 when an input could not be used, 2 for a bad command
line (click's usage error).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
from helpers_cli import REKINDLE, TIMEOUT, clean_env, json_lines, one_error_line, rekindle
from helpers_nobody import as_nobody
from privileges import reachable_dir

from intents.matcher import INTENT_NAMES

SPEECH_READY = all(importlib.util.find_spec(m) is not None for m in ("audio.recognize", "audio.stt.registry"))
needs_speech = pytest.mark.skipif(
    not SPEECH_READY, reason="audio/recognize.py (the speech engine, issue 3) is not written yet"
)

RATE = 16000
HEAR_KEYS = {"file", "transcript", "intent", "slots", "confidence", "decode_ms"}
TURN_KEYS = {"text", "intent", "slots", "confidence", "reply"}


# -- audio files ---------------------------------------------------------------------------------------


def speech(rate: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    """A spoken command (Piper's natural voice, cached under tests/.cache) as float samples at `rate` Hz."""
    import soxr

    from audio.synth import PIPER, Synthesizer

    chunk = Synthesizer(Path(__file__).parent / ".cache").utterance("give me a conversation starter", PIPER)
    samples = np.frombuffer(chunk.audio, dtype="<i2").astype(np.float32) / 32768.0
    return samples if rate == RATE else soxr.resample(samples, RATE, rate).astype(np.float32)


def write_truncated(path: Path) -> None:
    """A WAV whose header promises 3 s of audio but whose file stops after about 1.5 s (a recording cut off)."""
    pcm = (speech(RATE) * 32767).astype("<i2").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(pcm)
    data = path.read_bytes()
    path.write_bytes(data[: 44 + (len(data) - 44) // 2])


def make_audio(folder: Path) -> dict[str, Path]:
    """Every kind of audio input, good and bad, by name."""
    rng = np.random.default_rng(4)
    files = {name: folder / f"{name}.wav" for name in AUDIO}
    files["empty"].write_bytes(b"")
    files["text"].write_text("Dear diary, today we went to the beach.\n", encoding="utf-8")
    write_truncated(files["truncated"])
    eight = speech(8000)
    soundfile.write(files["8k-stereo"], np.stack([eight, eight * 0.8], axis=1), 8000, subtype="PCM_16")
    soundfile.write(files["44k-float"], speech(44100), 44100, subtype="FLOAT")
    ten_minutes = (rng.standard_normal(600 * 8000) * 0.01).astype(np.float32)
    soundfile.write(files["10-minutes"], ten_minutes, 8000, subtype="PCM_16")
    soundfile.write(files["silence"], np.zeros(3 * RATE, np.float32), RATE, subtype="PCM_16")
    soundfile.write(files["noise"], (rng.standard_normal(3 * RATE) * 0.1).astype(np.float32), RATE, subtype="PCM_16")
    files["folder"].mkdir()
    return files


AUDIO: dict[str, tuple[int, str | None]] = {
    "empty": (1, "{} is empty (0 bytes); record or export the audio again"),
    "text": (1, "{} is not audio (it holds text, no RIFF header); give a WAV, FLAC or AIFF file"),
    "truncated": (0, None),
    "8k-stereo": (0, None),
    "44k-float": (0, None),
    "10-minutes": (1, "{} is 600 s long; Rekindle hears one utterance per file, at most 30 s"),
    "silence": (0, None),
    "noise": (0, None),
    "missing": (1, "{} does not exist; check the path"),
    "folder": (1, "{} is a folder, not an audio file; give a WAV, FLAC or AIFF file"),
    "unreadable": (1, "cannot read {} (permission denied); check the file's permissions"),
}
"""Each audio input: the exit code of `hear` with that file alone, and the line it must print (None: it works)."""


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_audio(tmp_path_factory.mktemp("audio"))


@pytest.fixture(scope="module")
def journal_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data directory holding two entries, which no bad input may change."""
    data = tmp_path_factory.mktemp("journal") / "data"
    for text in ("the spring rain", "your laugh"):
        assert rekindle("ask", "--mute", f"I'm grateful for {text}", data_dir=data).returncode == 0
    return data


def entries(data: Path) -> list[dict[str, Any]]:
    done = rekindle("journal", "list", "--json", data_dir=data)
    assert done.returncode == 0, done.stderr
    value: list[dict[str, Any]] = json.loads(done.stdout)
    return value


@pytest.fixture(scope="module")
def heard_together(audio: dict[str, Path], journal_dir: Path) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """One `hear --json` over every file but the unreadable one, good and bad mixed (one engine start-up)."""
    names = [name for name in AUDIO if name != "unreadable"]
    return rekindle("hear", "--json", *(audio[n] for n in names), data_dir=journal_dir), names


@needs_speech
@pytest.mark.parametrize("name", list(AUDIO))
def test_hear_gives_one_line_for_each_bad_file(
    audio: dict[str, Path],
    journal_dir: Path,
    heard_together: tuple[subprocess.CompletedProcess[str], list[str]],
    tmp_path: Path,
    name: str,
) -> None:
    path = audio[name]
    code, expected = AUDIO[name]
    before = entries(journal_dir)
    if name == "unreadable":  # as 'nobody', in a folder 'nobody' may enter, so that only the file says no
        with reachable_dir(tmp_path) as base:
            path = base / "unreadable.wav"
            path.write_bytes(audio["silence"].read_bytes())
            path.chmod(0o000)
            warm_up = ["hear", "--json", str(audio["missing"])]
            done = as_nobody("hear", "--json", str(path), data=base / "data", warm_up=warm_up)
        rc, stdout, stderr = done["rc"], done["stdout"], done["stderr"]
    elif expected is None:  # usable audio: its line in the run over all files (decoding needs the engine)
        together, names = heard_together
        rc = 0
        stdout = json_lines(together.stdout)[names.index(name)]
        stderr = "\n".join(line for line in together.stderr.splitlines() if str(path) in line)
        stdout = json.dumps(stdout)
    else:  # a file that cannot be used, alone: nothing gets decoded, so this is quick
        run = rekindle("hear", "--json", path, data_dir=journal_dir)
        rc, stdout, stderr = run.returncode, run.stdout, run.stderr
    assert rc == code, stderr
    [result] = json_lines(stdout)
    assert result["file"] == str(path)
    if expected is None:
        assert set(result) == HEAR_KEYS, result
        assert result["intent"] in INTENT_NAMES
        if name in ("silence", "noise"):
            assert (result["intent"], result["slots"]) == ("none", {}), result
        if name == "truncated":  # what is there is heard; the header's promise is reported once
            assert one_error_line(stderr).startswith(f"WARNING audio.files: {path} is truncated")
        else:
            assert stderr == ""
    else:
        line = f"rekindle: {expected.format(path)}"
        assert result == {"file": str(path), "error": line.removeprefix("rekindle: ")}
        assert one_error_line(stderr) == line
    assert entries(journal_dir) == before


@needs_speech
def test_hear_plain_output_for_a_bad_file_is_one_line_too(audio: dict[str, Path], tmp_path: Path) -> None:
    done = rekindle("hear", audio["text"], data_dir=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert one_error_line(done.stderr) == f"rekindle: {AUDIO['text'][1]}".format(audio["text"])


@needs_speech
def test_hear_goes_on_after_a_bad_file(
    audio: dict[str, Path], heard_together: tuple[subprocess.CompletedProcess[str], list[str]]
) -> None:
    together, names = heard_together
    assert together.returncode == 1
    results = json_lines(together.stdout)
    assert [r["file"] for r in results] == [str(audio[n]) for n in names]
    bad = [n for n in names if AUDIO[n][1] is not None]
    assert [n for n, r in zip(names, results, strict=True) if set(r) == {"file", "error"}] == bad
    assert [n for n, r in zip(names, results, strict=True) if set(r) == HEAR_KEYS] == [n for n in names if n not in bad]
    errors = [line for line in together.stderr.splitlines() if not line.startswith("WARNING ")]
    assert errors == [f"rekindle: {r['error']}" for r in results if "error" in r]


@needs_speech
def test_converse_takes_every_usable_turn_and_reports_the_others(
    audio: dict[str, Path], journal_dir: Path, tmp_path: Path
) -> None:
    names = [n for n in AUDIO if n != "unreadable"]
    before = entries(journal_dir)
    done = rekindle("converse", "--json", *(audio[n] for n in names), data_dir=journal_dir)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    results = json_lines(done.stdout)
    assert [r["file"] for r in results] == [str(audio[n]) for n in names]
    errors = []
    for name, result in zip(names, results, strict=True):
        expected = AUDIO[name][1]
        if expected is None:
            assert TURN_KEYS | {"file", "transcript", "decode_ms"} == set(result), result
            assert result["reply"].strip()
            if name in ("silence", "noise"):
                assert result["intent"] == "none"
        else:
            expected = expected.replace("at most 30 s", "at most 60 s")  # a spoken entry may be longer
            assert result == {"file": str(audio[name]), "error": expected.format(audio[name])}
            errors.append(f"rekindle: {result['error']}")
    assert [line for line in done.stderr.splitlines() if line.startswith("rekindle: ")] == errors
    assert entries(journal_dir) == before


# -- speech models, microphone, voice --------------------------------------------------------------------


@needs_speech
@pytest.mark.parametrize("model", ["nonexistent", "empty-folder", "junk-folder", "a-file"])
def test_a_missing_or_broken_vosk_model_is_one_line_with_the_fix(
    audio: dict[str, Path], tmp_path: Path, model: str
) -> None:
    path = tmp_path / model
    if model == "empty-folder":
        path.mkdir()
    elif model == "junk-folder":
        for part in ("am/final.mdl", "conf/model.conf", "graph/HCLr.fst", "README"):
            (path / part).parent.mkdir(parents=True, exist_ok=True)
            (path / part).write_bytes(np.random.default_rng(1).bytes(5000))
    elif model == "a-file":
        path.write_bytes(b"PK\x03\x04 a zip that was never unpacked")
    done = rekindle("hear", "--engine", "vosk", "--vosk-model", path, audio["silence"], data_dir=tmp_path / "data")
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith("rekindle: ") and str(path) in line
    assert "rekindle models download vosk-small-en" in line


@needs_speech
@pytest.mark.parametrize("args", [["listen", "--mute"], []], ids=["listen", "bare"])
def test_no_microphone_is_one_line(tmp_path: Path, args: list[str]) -> None:
    env = clean_env()
    env.pop("ALSA_CONFIG_PATH", None)  # the real machine: no sound card, no virtual microphone
    done = rekindle(*args, data_dir=tmp_path, env=env)
    assert done.returncode == 1
    assert one_error_line(done.stderr) == "rekindle: no microphone found; plug one in or use `rekindle hear FILE`"


NO_VOICE = (
    "rekindle: no text-to-speech voice called 'nonexistent-voice' (close: nog); list them with `espeak-ng --voices=en`"
)


@pytest.mark.parametrize(
    ("args", "stdin"),
    [
        (["say", "Welcome home", "-o", "OUT"], ""),
        (["ask", "I'm grateful that the bus was on time"], ""),
        (["chat"], "I'm grateful that the bus was on time\nI'm grateful that we walked home\n"),
    ],
    ids=["say", "ask", "chat"],
)
def test_an_unknown_voice_is_one_line_before_anything_is_saved(tmp_path: Path, args: list[str], stdin: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "config.toml").write_text('voice = "nonexistent-voice"\n', encoding="utf-8")
    out = tmp_path / "welcome.wav"
    done = rekindle(*(str(out) if a == "OUT" else a for a in args), data_dir=data, stdin=stdin)
    assert done.returncode == 1
    assert done.stdout == ""  # no reply was given, so no entry can have been saved and then reported as failed
    assert one_error_line(done.stderr) == NO_VOICE
    assert not out.exists()
    assert not (data / "journal.db").exists() or entries(data) == []


# -- configuration ----------------------------------------------------------------------------------------

CONFIGS: dict[str, tuple[bytes | None, list[str]]] = {
    "malformed": (b"engine = [\n", ["is not valid TOML", "fix it or remove it"]),
    "not-utf8": (b"voice = '\xff\xfe'\n", ["is not valid TOML"]),
    "unknown-setting": (
        b"colour = 'blue'\n",
        ["unknown setting 'colour'; allowed: date_night_interval, engine, vosk_model, voice, speech_rate, mute"],
    ),
    "wrong-type": (b"speech_rate = 'fast'\n", ["setting 'speech_rate' must be int, not 'fast'"]),
    "wrong-type-bool": (b"mute = 'yes'\n", ["setting 'mute' must be bool, not 'yes'"]),
    "unknown-engine": (
        b"engine = 'whisper'\n",
        ["unknown engine 'whisper'; use one of: pocketsphinx, vosk, moonshine, hybrid, auto"],
    ),
    "unknown-wake-word": (b"wake_word = 'hey_rekindle'\n", ["unknown wake_word 'hey_rekindle'; use one of: okay_nabu"]),
    "out-of-range": (b"speech_rate = 20\n", ["speech_rate must be between 80 and 400 words per minute, not 20"]),
    "nan": (b"date_night_interval = nan\n", ["date_night_interval must be a positive number of seconds, not nan"]),
    "directory": (None, ["is a directory; pass a TOML file"]),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_a_bad_config_file_is_one_line_naming_the_setting(tmp_path: Path, case: str) -> None:
    content, words = CONFIGS[case]
    config = tmp_path / "settings.toml"
    if content is None:
        config.mkdir()
    else:
        config.write_bytes(content)
    data = tmp_path / "data"
    done = rekindle("--config", config, "ask", "--mute", "I'm grateful that we talked", data_dir=data)
    assert done.returncode == 1
    assert done.stdout == ""
    line = one_error_line(done.stderr)
    assert line.startswith(
        f"rekindle: {'config file ' if content is None or case in ('malformed', 'not-utf8') else ''}"
    )
    assert str(config) in line
    for word in words:
        assert word in line
    assert not data.exists()  # nothing was created, let alone saved


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    done = rekindle("--config", missing, "journal", "list", data_dir=tmp_path)
    assert done.returncode == 1
    assert one_error_line(done.stderr) == f"rekindle: config file {missing} does not exist; create it or drop --config"


@pytest.mark.parametrize("what", ["config", "import"])
def test_an_unreadable_config_or_export_file_is_one_line(tmp_path: Path, what: str) -> None:
    """Not click's usage error (exit 2): Rekindle's own line, exit 1 (checked as 'nobody': root reads anything)."""
    with reachable_dir(tmp_path) as base:
        path = base / ("settings.toml" if what == "config" else "rescued.json")
        path.write_text("mute = true\n" if what == "config" else "[]\n", encoding="utf-8")
        path.chmod(0o000)
        args = ["--config", str(path), "journal", "list"] if what == "config" else ["journal", "import", str(path)]
        done = as_nobody(*args, data=base / "data")
    assert done["rc"] == 1
    expected = (
        f"cannot read config file {path}: permission denied"
        if what == "config"
        else f"cannot read {path}: permission denied"
    )
    assert one_error_line(done["stderr"]) == f"rekindle: {expected}"


# -- the command line itself -------------------------------------------------------------------------------

USAGE_ERRORS = [
    ["chat", "--date-night-interval", "-5"],
    ["chat", "--date-night-interval", "0"],
    ["chat", "--date-night-interval", "inf"],
    ["chat", "--date-night-interval", "nan"],
    ["chat", "--date-night-interval", "soon"],
    ["listen", "--date-night-interval", "-1"],
    ["listen", "--engine", "whisper"],
    ["listen", "--wake-word", "hey_rekindle"],
    ["listen", "--wake-word", "hey_jarvis", "--push-to-talk"],
    ["listen", "--device", "first"],
    ["hear", "--engine", "whisper", "x.wav"],
    ["hear"],
    ["converse", "--engine", "whisper", "x.wav"],
    ["journal", "retranscribe", "--engine", "whisper"],
    ["journal", "export", "--format", "pdf"],
    ["journal", "delete", "seven"],
    ["say", "", "-o", "x.wav"],
    ["say", "hello"],
    ["ask", "   "],
    ["models", "download"],
    ["frobnicate"],
]


@pytest.mark.parametrize("args", USAGE_ERRORS, ids=" ".join)
def test_bad_command_line_values_exit_2(tmp_path: Path, args: list[str]) -> None:
    done = rekindle(*args, data_dir=tmp_path / "data")
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.startswith("Usage: rekindle")
    assert done.stderr.strip().splitlines()[-1].startswith("Error: ")
    assert not (tmp_path / "data").exists()


# -- odd text in chat -------------------------------------------------------------------------------------

ODD_LINES: list[tuple[bytes, str | None]] = [
    (b"", None),
    (b"   \t ", None),
    (
        "I'm grateful for \u05e9\u05dc\u05d5\u05dd \u200fand \u0645\u0631\u062d\u0628\u0627".encode(),
        "\u05e9\u05dc\u05d5\u05dd \u200fand \u0645\u0631\u062d\u0628\u0627",
    ),
    ("I'm grateful for e\u0301te\u0301 and cafe\u0301s".encode(), "\u00e9t\u00e9 and caf\u00e9s"),
    (
        "I'm grateful for \U0001f469\u200d\u2764\ufe0f\u200d\U0001f468 and \U0001f305".encode(),
        "\U0001f469\u200d\u2764\ufe0f\u200d\U0001f468 and \U0001f305",
    ),
    (b"I'm grateful for the tea\x00and toast", "the tea\x00and toast"),
    (b"I'm grateful for \xed\xa0\x80 the odd bytes", "\ufffd\ufffd\ufffd the odd bytes"),
    (b"I'm grateful for caf\xe9 mornings \xff\xfe", "caf\ufffd mornings \ufffd\ufffd"),
    ("\ufeffgive me a conversation starter".encode(), None),
    (b"\x1b[31mhelp\x1b[0m", None),
    ("\u0301\u0301\u0301".encode(), None),
    ("\u202egive me a tip".encode(), None),
    (b"give me a date night idea\r", None),
    (("we " * 350_000).encode(), None),
    (b"x" * 200_000, None),
]
"""Each chat line, with the entry text it must save exactly (None: not a one-breath gratitude entry)."""


def test_odd_text_in_chat_always_gives_valid_json_and_saves_entries_exactly(tmp_path: Path) -> None:
    stdin = b"\n".join(line for line, _ in ODD_LINES) + b"\n"
    done = subprocess.run(
        [str(REKINDLE), "--data-dir", str(tmp_path), "chat", "--json", "--mute"],
        input=stdin,
        capture_output=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == b""
    turns = json_lines(done.stdout.decode("utf-8"))  # strict: the output is always valid UTF-8
    assert len(turns) == len([line for line, _ in ODD_LINES if line.strip()])
    assert all(set(t) == TURN_KEYS and t["intent"] in INTENT_NAMES and t["reply"].strip() for t in turns)
    saved = [text for _, text in ODD_LINES if text is not None]
    assert [t["slots"]["text"] for t in turns if t["intent"] == "log_gratitude"] == [
        __import__("unicodedata").normalize("NFKC", text) for text in saved
    ]
    assert [e["text"] for e in entries(tmp_path)][::-1] == [t["slots"]["text"] for t in turns[: len(saved)]]


@pytest.mark.parametrize(
    "arg",
    [b"I'm grateful for caf\xe9 mornings", b"\xff\xfe", "\u202e\u200f\U0001f305".encode(), b"help\x1b[2J"],
    ids=["latin1-bytes", "invalid-utf8", "rtl-emoji", "escape"],
)
def test_odd_bytes_on_the_command_line_give_valid_json(tmp_path: Path, arg: bytes) -> None:
    done = subprocess.run(
        [str(REKINDLE).encode(), b"--data-dir", str(tmp_path).encode(), b"ask", b"--json", b"--mute", arg],
        capture_output=True,
        env=clean_env(),
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    [turn] = json_lines(done.stdout.decode("utf-8"))
    assert set(turn) == TURN_KEYS and turn["intent"] in INTENT_NAMES and turn["reply"].strip()
    for entry in entries(tmp_path):
        entry["text"].encode("utf-8")  # nothing unencodable reached the journal
