"""Speech to text: one small protocol, one file per engine, chosen by name."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol

from audio.chunk import AudioChunk


class Mode(str, enum.Enum):
    """What the dialog expects the next turn to be."""

    COMMAND = "command"
    """A command: decode against the grammar built from the intent templates, with rejection."""
    DICTATION = "dictation"
    """Free text (e.g. a gratitude entry): open vocabulary."""


@dataclass(frozen=True)
class Transcript:
    """What an engine heard in one utterance."""

    text: str
    """Lower-case words; empty when nothing (or nothing in-grammar) was heard."""
    confidence: float
    """0..1; the engine's own estimate, 0 when rejected."""
    mode: Mode
    """The mode it was decoded in."""
    decode_ms: float = 0.0
    """Milliseconds spent decoding after the last audio arrived."""
    words: list[tuple[str, float]] = field(default_factory=list)
    """Per-word confidences where the engine gives them."""


class Stream(Protocol):
    """Incremental decoding of one utterance: audio goes in while the person speaks."""

    def feed(self, chunk: AudioChunk) -> None:
        """Decode a 16 kHz 16-bit mono chunk."""

    def pause(self, paused: bool) -> None:
        """The person paused (True: the utterance may be over) or went on speaking (False). Audio fed while
        paused is silence, so an engine that decodes whole utterances may decode the audio so far now and return
        that at `finish`; a streaming engine ignores this."""

    def finish(self) -> Transcript:
        """End of utterance: return the result."""


class SpeechToText(Protocol):
    """An engine, loaded once and reused for every utterance."""

    name: str
    raw_audio: bool
    """True: callers pass the audio as recorded, without noise suppression (the engine needs none, or
    suppresses noise in its own copy)."""
    whole_first: bool
    """True: a microphone's first utterance is decoded whole, not streamed: that tunes the engine to the
    microphone (PocketSphinx's cepstral mean), where a first stream would start from a preset."""

    def start(self, mode: Mode) -> Stream:
        """Begin an utterance in the given mode."""

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        """Decode a whole utterance (16 kHz 16-bit mono)."""
