"""Noise suppression before recognition, engaged only when the room is noisy.

WebRTC's noise suppressor (through `webrtc-noise-gain`, the package Home Assistant's voice pipeline uses)
removes steady noise such as a fan, a fridge or traffic. bench/spoken_intents.py measured it in front of
PocketSphinx: commands in pink noise at 10 dB SNR went from 71% to 89% right (Piper voice) and 61% to 69%
(espeak-ng), but on clean audio it cost accuracy (espeak-ng 58% -> 33%), because it also reshapes speech
that had no noise to lose. So it runs only while the noise floor is high: the quietest fifth of the recent
10 ms frames above `NOISY_FLOOR_DBFS` (the clean test clips, with their -60 dBFS floor, measure -60;
pink noise at 10 dB SNR measures about -33). Background speech (babble) is not steady noise; it is not helped.
"""

from __future__ import annotations

import enum
from collections import deque
from typing import Any

import numpy as np

from assistant.errors import AudioError
from audio.chunk import AudioChunk, require_standard

NOISY_FLOOR_DBFS = -45.0
"""Noise floor (dBFS) above which audio is denoised in `Denoise.AUTO` mode."""
LEVEL = 2
"""WebRTC suppression level, 0 (mild) to 4 (strongest); 2 measured best (levels 1 and 3: 75% and 87%)."""
_FRAME_BYTES = 320
"""10 ms of 16 kHz 16-bit mono: the unit WebRTC processes."""
_QUIETEST = 0.2
"""Share of frames whose energy makes the noise floor."""
_WINDOW_FRAMES = 1000
"""Frames (10 s) of recent audio the live noise floor is taken over."""


class Denoise(str, enum.Enum):
    """When to suppress noise (the `noise_suppression` setting)."""

    AUTO = "auto"
    """Only while the noise floor is above NOISY_FLOOR_DBFS."""
    ON = "on"
    """Always."""
    OFF = "off"
    """Never."""


def noise_floor_dbfs(audio: AudioChunk) -> float:
    """The level of the quietest fifth of the 10 ms frames (dBFS; -120 for digital silence)."""
    return _floor(_frame_levels(audio.audio))


def denoise(audio: AudioChunk, mode: Denoise = Denoise.AUTO) -> AudioChunk:
    """A whole recording (16 kHz 16-bit mono) with its noise suppressed, if `mode` says so for its noise floor."""
    if mode is Denoise.OFF or (mode is Denoise.AUTO and noise_floor_dbfs(audio) <= NOISY_FLOOR_DBFS):
        return audio
    suppressor = Suppressor()
    out = suppressor.process(audio) + suppressor.flush()
    return AudioChunk(audio.rate, audio.width, audio.channels, out[: len(audio.audio)], audio.timestamp)


class Suppressor:
    """WebRTC noise suppression over a stream of any chunk sizes (it works in 10 ms frames)."""

    def __init__(self, level: int = LEVEL) -> None:
        self._processor = _processor(level)
        self._pending = b""

    def process(self, chunk: AudioChunk) -> bytes:
        """The denoised audio of every whole 10 ms frame received so far and not yet returned."""
        require_standard(chunk, "noise suppression")
        data = self._pending + chunk.audio
        whole = len(data) - len(data) % _FRAME_BYTES
        self._pending = data[whole:]
        return b"".join(
            self._processor.Process10ms(data[i : i + _FRAME_BYTES]).audio for i in range(0, whole, _FRAME_BYTES)
        )

    def flush(self) -> bytes:
        """The last partial frame, padded with silence to 10 ms and denoised."""
        if not self._pending:
            return b""
        frame, self._pending = self._pending.ljust(_FRAME_BYTES, b"\x00"), b""
        return bytes(self._processor.Process10ms(frame).audio)


class LiveDenoiser:
    """Microphone chunks in, chunks out: denoised while the room's recent noise floor is high.

    The suppressor always runs, so its noise estimate is current when it is needed; only its output is
    switched. Each chunk comes back with its own length and timestamp; the denoised audio runs 10 ms behind
    (WebRTC works in whole 10 ms frames and microphone chunks need not be).
    """

    def __init__(self, mode: Denoise = Denoise.AUTO, threshold_dbfs: float = NOISY_FLOOR_DBFS) -> None:
        self.mode = mode
        self.threshold_dbfs = threshold_dbfs
        self._suppressor = Suppressor() if mode is not Denoise.OFF else None
        self._levels: deque[float] = deque(maxlen=_WINDOW_FRAMES)
        self._out = bytearray(_FRAME_BYTES)
        """Denoised audio not yet handed out, starting with the 10 ms of delay."""
        self._partial = b""

    @property
    def floor_dbfs(self) -> float:
        """The noise floor over the recent audio."""
        return _floor(np.array(self._levels)) if self._levels else -120.0

    @property
    def active(self) -> bool:
        """True while audio comes out denoised."""
        if self.mode is Denoise.AUTO:
            return len(self._levels) >= 50 and self.floor_dbfs > self.threshold_dbfs
        return self.mode is Denoise.ON

    def process(self, chunk: AudioChunk) -> AudioChunk:
        """The chunk, denoised when `active`."""
        if self._suppressor is None:
            return chunk
        self._out += self._suppressor.process(chunk)
        cleaned = bytes(self._out[: len(chunk.audio)])
        del self._out[: len(chunk.audio)]
        levels = self._partial + chunk.audio
        whole = len(levels) - len(levels) % _FRAME_BYTES
        self._levels.extend(_frame_levels(levels[:whole]))
        self._partial = levels[whole:]
        if not self.active:
            return chunk
        return AudioChunk(chunk.rate, chunk.width, chunk.channels, cleaned, chunk.timestamp)


def _frame_levels(data: bytes) -> np.ndarray[Any, np.dtype[np.float64]]:
    samples = np.frombuffer(data[: len(data) - len(data) % _FRAME_BYTES], dtype="<i2").astype(np.float64)
    frames = samples.reshape(-1, _FRAME_BYTES // 2)
    rms = np.sqrt(np.mean(frames**2, axis=1)) if len(frames) else np.zeros(0)
    return np.asarray(20 * np.log10(np.maximum(rms, 1e-6) / 32768.0), dtype=np.float64)


def _floor(levels: np.ndarray[Any, np.dtype[np.float64]]) -> float:
    if len(levels) == 0:
        return -120.0
    quietest = np.sort(levels)[: max(1, int(len(levels) * _QUIETEST))]
    return max(-120.0, float(np.mean(quietest)))


def _processor(level: int) -> Any:
    try:
        from webrtc_noise_gain import AudioProcessor
    except ImportError as err:
        raise AudioError("noise suppression needs webrtc-noise-gain; pip install webrtc-noise-gain") from err
    return AudioProcessor(0, level)
