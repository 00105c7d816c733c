"""Settings: defaults, overridden by a TOML file, overridden by command-line options."""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from assistant.errors import ConfigError
from audio.stt.registry import engine_names

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ENGINES = tuple(engine_names())
WAKE_WORDS = ("okay_nabu", "hey_jarvis", "hey_mycroft", "alexa")
NOISE_SUPPRESSION = ("auto", "on", "off")


@dataclass(frozen=True)
class Settings:
    """Everything a user can set. Each field may appear as a key in the TOML config file."""

    date_night_interval: float = 480.0
    """Seconds between date-night prompts (default 8 minutes)."""
    engine: str = "auto"
    """Speech-to-text engine: auto (vosk when a model is present, else hybrid where Moonshine is installed, else
    pocketsphinx), pocketsphinx, vosk, moonshine, hybrid."""
    vosk_model: str = ""
    """Path of a Vosk model directory; empty means $REKINDLE_VOSK_MODEL or the data directory."""
    voice: str = ""
    """Text-to-speech voice id or name; empty means the engine's default."""
    speech_rate: int = 165
    """Speaking rate in words per minute."""
    mute: bool = False
    """Print replies without speaking them."""
    wake_word: str = ""
    """Wake word for `listen`: okay_nabu, hey_jarvis, hey_mycroft, alexa; empty for always-on commands."""
    trailing_silence_ms: int = 600
    """Milliseconds of silence that end an utterance."""
    max_utterance_s: float = 15.0
    """Seconds after which an utterance is cut."""
    noise_suppression: str = "auto"
    """Suppress steady noise before recognition: auto (only when the room is noisy), on, off."""
    second_chance: bool = True
    """Dictate a command the grammar rejected and read it again (`listen`: only after the wake word, Enter or a
    follow-up question); false keeps every reply instant on a slow machine."""
    understand_by_meaning: bool = True
    """Read requests no template or keyword rule matches by their meaning (a small sentence encoder, about 65 MB
    while loaded; intents/semantic.py); false keeps only templates and keywords, for a machine short of memory."""
    seed: int | None = None
    """Random seed for picking reply variants (for reproducible sessions); none means random."""

    def validated(self) -> Settings:
        """Check ranges and choices; raise ConfigError naming the setting and what is allowed."""
        if not 0 < self.date_night_interval < math.inf:  # TOML allows nan and inf
            raise ConfigError(
                f"date_night_interval must be a positive number of seconds, not {self.date_night_interval}"
            )
        if self.engine not in ENGINES:
            raise ConfigError(f"unknown engine '{self.engine}'; use one of: {', '.join(ENGINES)}")
        if self.wake_word and self.wake_word not in WAKE_WORDS:
            raise ConfigError(f"unknown wake_word '{self.wake_word}'; use one of: {', '.join(WAKE_WORDS)}")
        if not 80 <= self.speech_rate <= 400:
            raise ConfigError(f"speech_rate must be between 80 and 400 words per minute, not {self.speech_rate}")
        if not 100 <= self.trailing_silence_ms <= 5000:
            raise ConfigError(f"trailing_silence_ms must be between 100 and 5000, not {self.trailing_silence_ms}")
        if self.noise_suppression not in NOISE_SUPPRESSION:
            raise ConfigError(
                f"unknown noise_suppression '{self.noise_suppression}'; use one of: {', '.join(NOISE_SUPPRESSION)}"
            )
        if not 1 <= self.max_utterance_s <= 120:
            raise ConfigError(f"max_utterance_s must be between 1 and 120 seconds, not {self.max_utterance_s}")
        return self

    def replace(self, **changes: Any) -> Settings:
        """A copy with the given fields changed (None values are ignored), validated."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None}).validated()


def _coerce(name: str, value: Any, default: Any, path: Path) -> Any:
    expected = type(default) if default is not None else int
    if isinstance(value, bool) != (expected is bool):
        raise ConfigError(f"{path}: setting '{name}' must be {expected.__name__}, not {value!r}")
    if expected is float and isinstance(value, int):
        return float(value)
    if not isinstance(value, expected):
        raise ConfigError(f"{path}: setting '{name}' must be {expected.__name__}, not {value!r}")
    return value


def load_settings(path: Path | None) -> Settings:
    """Read settings from a TOML file (missing optional file -> defaults)."""
    base = Settings()
    if path is None:
        return base
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"config file {path} does not exist; create it or drop --config") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file {path} is a directory; pass a TOML file") from exc
    except PermissionError as exc:
        raise ConfigError(f"cannot read config file {path}: permission denied") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML ({exc}); fix it or remove it") from exc
    allowed = {f.name: f for f in fields(Settings)}
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in allowed:
            raise ConfigError(f"{path}: unknown setting '{key}'; allowed: {', '.join(allowed)}")
        values[key] = _coerce(key, value, getattr(base, key), path)
    try:
        return dataclasses.replace(base, **values).validated()
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
