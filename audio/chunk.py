"""Audio as a value: every stage after capture takes these, never a device."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from assistant.errors import AudioError, RekindleError

RATE = 16000
"""Hertz. The one rate every stage after loading/capture works at."""
WIDTH = 2
"""Bytes per sample (signed 16-bit little-endian)."""
CHANNELS = 1


@dataclass(frozen=True)
class AudioChunk:
    """A piece of PCM audio."""

    rate: int
    """Samples per second (Hertz)."""
    width: int
    """Bytes per sample (2 = signed 16-bit little-endian)."""
    channels: int
    """Interleaved channels."""
    audio: bytes
    """Raw PCM bytes."""
    timestamp: int = 0
    """Milliseconds from the start of the stream to the first sample of this chunk."""

    @property
    def samples(self) -> int:
        """Number of samples per channel."""
        return len(self.audio) // (self.width * self.channels)

    @property
    def milliseconds(self) -> float:
        """Duration in milliseconds."""
        return 1000.0 * self.samples / self.rate if self.rate else 0.0


def is_standard(chunk: AudioChunk) -> bool:
    """True when the chunk is already 16 kHz, 16-bit mono."""
    return (chunk.rate, chunk.width, chunk.channels) == (RATE, WIDTH, CHANNELS)


def require_standard(chunk: AudioChunk, stage: str, error: type[RekindleError] = AudioError) -> None:
    """Raise `error` naming `stage` (who needs it) unless the chunk is 16 kHz, 16-bit mono."""
    if is_standard(chunk):
        return
    raise error(
        f"{stage} needs 16 kHz 16-bit mono audio, got {chunk.rate} Hz, {chunk.width * 8}-bit, "
        f"{chunk.channels} channel(s); resample it first"
    )


def join(chunks: Iterable[AudioChunk]) -> AudioChunk:
    """Concatenate standard-format chunks into one (timestamp of the first)."""
    parts: list[bytes] = []
    first_ts: int | None = None
    for chunk in chunks:
        if first_ts is None:
            first_ts = chunk.timestamp
        parts.append(chunk.audio)
    return AudioChunk(RATE, WIDTH, CHANNELS, b"".join(parts), first_ts or 0)


def split(audio: AudioChunk, milliseconds: int = 30) -> Iterator[AudioChunk]:
    """Cut one chunk into consecutive chunks of `milliseconds` each (the last may be shorter)."""
    step = audio.rate * milliseconds // 1000 * audio.width * audio.channels
    for i in range(0, len(audio.audio), step):
        offset_ms = audio.timestamp + (i // (audio.width * audio.channels)) * 1000 // audio.rate
        yield AudioChunk(audio.rate, audio.width, audio.channels, audio.audio[i : i + step], offset_ms)
