"""Settings: defaults, real TOML files, and one clear error for every kind of bad file or value."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
from privileges import reachable_dir, run_unprivileged

from assistant.config import ENGINES, WAKE_WORDS, Settings, load_settings
from assistant.errors import ConfigError

FIELD_NAMES = [f.name for f in dataclasses.fields(Settings)]


def config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path) -> str:
    """The message of the ConfigError that loading `path` raises; it must be one line naming the file."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    return message


# -- defaults ----------------------------------------------------------------------------------------------


def test_defaults() -> None:
    settings = Settings()
    assert (settings.date_night_interval, settings.engine, settings.speech_rate) == (480.0, "auto", 165)
    assert (settings.mute, settings.wake_word, settings.seed) == (False, "", None)
    assert (settings.trailing_silence_ms, settings.max_utterance_s) == (600, 15.0)


def test_defaults_are_valid() -> None:
    assert Settings().validated() == Settings()


def test_no_file_gives_defaults() -> None:
    assert load_settings(None) == Settings()


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(config(tmp_path, "")) == Settings()


def test_comments_only_file_gives_defaults(tmp_path: Path) -> None:
    assert load_settings(config(tmp_path, "# nothing set yet\n\n# engine = 'vosk'\n")) == Settings()


def test_settings_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings().mute = True  # type: ignore[misc]


# -- values from a file -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "value"),
    [
        ("date_night_interval = 600.5", "date_night_interval", 600.5),
        ("engine = 'pocketsphinx'", "engine", "pocketsphinx"),
        ("engine = 'vosk'", "engine", "vosk"),
        ("vosk_model = '/opt/models/vosk-small'", "vosk_model", "/opt/models/vosk-small"),
        ("voice = 'en-us+f3'", "voice", "en-us+f3"),
        ("speech_rate = 140", "speech_rate", 140),
        ("mute = true", "mute", True),
        ("wake_word = 'hey_jarvis'", "wake_word", "hey_jarvis"),
        ("trailing_silence_ms = 900", "trailing_silence_ms", 900),
        ("max_utterance_s = 30.0", "max_utterance_s", 30.0),
        ("seed = 42", "seed", 42),
        ("seed = -7", "seed", -7),
    ],
)
def test_file_value_is_used(tmp_path: Path, line: str, field: str, value: Any) -> None:
    settings = load_settings(config(tmp_path, line + "\n"))
    assert getattr(settings, field) == value
    assert dataclasses.replace(settings, **{field: getattr(Settings(), field)}) == Settings()


@pytest.mark.parametrize(
    ("line", "field"),
    [("date_night_interval = 600", "date_night_interval"), ("max_utterance_s = 20", "max_utterance_s")],
)
def test_whole_number_for_a_seconds_setting_becomes_float(tmp_path: Path, line: str, field: str) -> None:
    value = getattr(load_settings(config(tmp_path, line)), field)
    assert isinstance(value, float)
    assert value == float(line.split("=")[1])


def test_every_setting_in_one_file(tmp_path: Path) -> None:
    text = """
        # Rekindle settings
        date_night_interval = 300
        engine = "vosk"
        vosk_model = "~/models/vosk"
        voice = "en-gb"
        speech_rate = 180
        mute = true
        wake_word = "okay_nabu"
        trailing_silence_ms = 700
        max_utterance_s = 12.5
        noise_suppression = "off"
        second_chance = false
        seed = 1
    """
    assert load_settings(config(tmp_path, text)) == Settings(
        300.0, "vosk", "~/models/vosk", "en-gb", 180, True, "okay_nabu", 700, 12.5, "off", second_chance=False, seed=1
    )


@pytest.mark.parametrize("engine", ENGINES)
def test_every_engine_is_accepted(tmp_path: Path, engine: str) -> None:
    assert load_settings(config(tmp_path, f"engine = '{engine}'")).engine == engine


@pytest.mark.parametrize("wake_word", ["", *WAKE_WORDS])
def test_every_wake_word_is_accepted(tmp_path: Path, wake_word: str) -> None:
    assert load_settings(config(tmp_path, f"wake_word = '{wake_word}'")).wake_word == wake_word


@pytest.mark.parametrize(
    "line",
    [
        "speech_rate = 80",
        "speech_rate = 400",
        "trailing_silence_ms = 100",
        "trailing_silence_ms = 5000",
        "max_utterance_s = 1",
        "max_utterance_s = 120",
        "date_night_interval = 0.001",
    ],
)
def test_range_limits_are_inclusive(tmp_path: Path, line: str) -> None:
    load_settings(config(tmp_path, line))


def test_unicode_value(tmp_path: Path) -> None:
    assert load_settings(config(tmp_path, "voice = 'Zoë – en-gb'")).voice == "Zoë – en-gb"


# -- unknown keys ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("interval = 300", "interval"),
        ("speechrate = 150", "speechrate"),
        ("Mute = true", "Mute"),
        ("[audio]\nengine = 'vosk'", "audio"),
        ("engine = 'vosk'\ncolour = 'blue'", "colour"),
    ],
)
def test_unknown_key_names_it_and_lists_allowed_keys(tmp_path: Path, text: str, key: str) -> None:
    message = load_error(config(tmp_path, text))
    assert f"unknown setting '{key}'" in message
    assert "allowed: " + ", ".join(FIELD_NAMES) in message


# -- wrong types ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "field", "expected_type"),
    [
        ("speech_rate = 'fast'", "speech_rate", "int"),
        ("speech_rate = 165.5", "speech_rate", "int"),
        ("speech_rate = true", "speech_rate", "int"),
        ("mute = 'yes'", "mute", "bool"),
        ("mute = 1", "mute", "bool"),
        ("date_night_interval = '8 minutes'", "date_night_interval", "float"),
        ("date_night_interval = true", "date_night_interval", "float"),
        ("engine = 3", "engine", "str"),
        ("voice = ['a', 'b']", "voice", "str"),
        ("wake_word = false", "wake_word", "str"),
        ("trailing_silence_ms = 0.6", "trailing_silence_ms", "int"),
        ("seed = true", "seed", "int"),
        ("seed = 1.5", "seed", "int"),
        ("seed = 'random'", "seed", "int"),
        ("max_utterance_s = { seconds = 3 }", "max_utterance_s", "float"),
        ("vosk_model = 1979-05-27", "vosk_model", "str"),
    ],
)
def test_wrong_type_names_setting_and_type(tmp_path: Path, line: str, field: str, expected_type: str) -> None:
    message = load_error(config(tmp_path, line))
    assert f"setting '{field}' must be {expected_type}" in message


# -- out of range ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("date_night_interval = 0", "date_night_interval must be a positive number"),
        ("date_night_interval = -480", "date_night_interval must be a positive number"),
        ("date_night_interval = nan", "date_night_interval must be a positive number"),
        ("date_night_interval = inf", "date_night_interval must be a positive number"),
        ("speech_rate = 79", "speech_rate must be between 80 and 400"),
        ("speech_rate = 401", "speech_rate must be between 80 and 400"),
        ("trailing_silence_ms = 99", "trailing_silence_ms must be between 100 and 5000"),
        ("trailing_silence_ms = 5001", "trailing_silence_ms must be between 100 and 5000"),
        ("max_utterance_s = 0.5", "max_utterance_s must be between 1 and 120"),
        ("max_utterance_s = 121", "max_utterance_s must be between 1 and 120"),
        ("max_utterance_s = nan", "max_utterance_s must be between 1 and 120"),
        ("engine = 'whisper'", "unknown engine 'whisper'; use one of: pocketsphinx, vosk, moonshine, hybrid, auto"),
        ("engine = ''", "unknown engine ''"),
        ("wake_word = 'hey_siri'", "unknown wake_word 'hey_siri'; use one of: okay_nabu, hey_jarvis"),
    ],
)
def test_out_of_range_value_names_setting_and_range(tmp_path: Path, line: str, words: str) -> None:
    assert words in load_error(config(tmp_path, line))


# -- bad files -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["engine = ", "engine = vosk", "[unclosed", "mute = true\nmute = false", "speech_rate = 1_", "= 3"],
    ids=["no-value", "bare-word", "unclosed-table", "duplicate-key", "bad-number", "no-key"],
)
def test_malformed_toml(tmp_path: Path, text: str) -> None:
    message = load_error(config(tmp_path, text))
    assert "is not valid TOML" in message
    assert "fix it or remove it" in message


def test_non_utf8_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes("voice = 'Zoë'".encode("latin-1"))
    assert "is not valid TOML" in load_error(path)


def test_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(bytes(range(256)))
    assert "is not valid TOML" in load_error(path)


def test_missing_file(tmp_path: Path) -> None:
    message = load_error(tmp_path / "nope.toml")
    assert "does not exist" in message
    assert "drop --config" in message


def test_directory_given(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    assert "is a directory; pass a TOML file" in load_error(tmp_path / "conf.d")


def test_unreadable_file(tmp_path: Path) -> None:
    with reachable_dir(tmp_path) as base:
        path = config(base, "mute = true")
        path.chmod(0)

        def attempt() -> str:
            try:
                load_settings(path)
            except ConfigError as exc:
                return str(exc)
            return "read"

        assert run_unprivileged(attempt) == f"cannot read config file {path}: permission denied"


# -- replace (command-line overrides) ------------------------------------------------------------------


def test_replace_changes_given_fields_and_ignores_none() -> None:
    settings = Settings().replace(mute=True, engine=None, speech_rate=200)
    assert (settings.mute, settings.engine, settings.speech_rate) == (True, "auto", 200)


def test_replace_returns_a_new_object() -> None:
    base = Settings()
    assert base.replace(mute=True) is not base
    assert base.mute is False


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"speech_rate": 10}, "speech_rate"),
        ({"engine": "nope"}, "unknown engine"),
        ({"date_night_interval": -1.0}, "date_night_interval"),
    ],
)
def test_replace_validates(change: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Settings().replace(**change)


def test_replace_unknown_field_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Settings().replace(volume=3)
