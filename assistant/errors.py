"""One error base for the whole program; the CLI turns any of these into one clear line."""

from __future__ import annotations


class RekindleError(Exception):
    """Base of every error Rekindle raises on purpose. The message is one line: the problem and the fix."""


class ConfigError(RekindleError):
    """A configuration file or setting is malformed or unknown."""


class ContentError(RekindleError):
    """A content data file (starters, tips, templates) is invalid."""


class JournalError(RekindleError):
    """The gratitude journal cannot be opened, read or written."""


class AudioError(RekindleError):
    """An audio file or device cannot be used."""


class SpeechError(RekindleError):
    """A speech-to-text engine or its model cannot be used."""


class VoiceError(RekindleError):
    """Text to speech cannot run (no engine, no voice)."""


class ModelError(SpeechError):
    """A model is missing, corrupt or failed to download."""
