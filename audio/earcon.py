"""Earcons: short, soft chimes made in code ("I'm listening", "got it"), as audio values.

Each is two bell-like notes a fourth apart (E5 and A5), the second starting before the first has faded, so the
pair sounds like one gentle chime: rising for "listening", falling for "done". Every note has a 6 ms
raised-cosine attack and an exponential decay, and the whole chime fades to zero in its last 25 ms, so
there are no clicks. The peak stays near -15 dBFS: clearly there, never startling next to speech.
"""

from __future__ import annotations

import math
import sys
from array import array
from dataclasses import dataclass
from functools import lru_cache

from audio.chunk import AudioChunk
from audio.tts import TTS_RATE

E5 = 659.26
"""Hertz."""
A5 = 880.0
"""Hertz."""


@dataclass(frozen=True)
class Chime:
    """How a two-note chime is shaped."""

    first_hz: float
    """Pitch of the first note (Hertz)."""
    second_hz: float
    """Pitch of the second note (Hertz)."""
    length_ms: int = 120
    """Total length (milliseconds)."""
    second_at_ms: int = 45
    """When the second note starts (milliseconds from the start)."""
    peak: float = 0.2
    """Peak amplitude, 0..1 of full scale (0.2 gives chimes peaking near -15 dBFS)."""
    attack_ms: float = 6.0
    """Raised-cosine attack of each note (milliseconds)."""
    decay_ms: float = 40.0
    """Time for each note to fall to 1/e of its level (milliseconds)."""
    fade_ms: float = 25.0
    """Raised-cosine fade to silence at the end of the chime (milliseconds)."""


LISTENING = Chime(E5, A5)
"""Rising: the assistant is listening now."""
DONE = Chime(A5, E5)
"""Falling: the assistant heard you and stopped listening."""


def listening(rate: int = TTS_RATE) -> AudioChunk:
    """The "I'm listening" chime (16-bit mono at `rate` Hertz; the voice's rate by default)."""
    return render(LISTENING, rate)


def done(rate: int = TTS_RATE) -> AudioChunk:
    """The "got it" chime (16-bit mono at `rate` Hertz)."""
    return render(DONE, rate)


@lru_cache(maxsize=8)
def render(chime: Chime, rate: int = TTS_RATE) -> AudioChunk:
    """Synthesise `chime` as 16-bit mono PCM."""
    total = rate * chime.length_ms // 1000
    second_at = rate * chime.second_at_ms // 1000
    fade = max(1, int(rate * chime.fade_ms / 1000))
    samples = array("h")
    for n in range(total):
        value = _note(chime, chime.first_hz, n, rate) + 0.8 * _note(chime, chime.second_hz, n - second_at, rate)
        if n >= total - fade:
            value *= 0.5 * (1 - math.cos(math.pi * (total - 1 - n) / fade))
        samples.append(round(32767 * max(-1.0, min(1.0, chime.peak * value))))
    if sys.byteorder == "big":  # pragma: no cover - PCM here is little-endian
        samples.byteswap()
    return AudioChunk(rate, 2, 1, samples.tobytes())


def _note(chime: Chime, hz: float, n: int, rate: int) -> float:
    """One bell-like note at sample `n` of it (0 before it starts): a sine with a soft octave overtone."""
    if n < 0:
        return 0.0
    t = n / rate
    ms = 1000 * t
    attack = 0.5 * (1 - math.cos(math.pi * ms / chime.attack_ms)) if ms < chime.attack_ms else 1.0
    envelope = attack * math.exp(-ms / chime.decay_ms)
    phase = 2 * math.pi * hz * t
    return envelope * (math.sin(phase) + 0.25 * math.sin(2 * phase)) / 1.25
