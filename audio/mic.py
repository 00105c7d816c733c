"""The microphone: the one module that touches a capture device.

Audio comes through SpeechRecognition's `sr.Microphone` (PyAudio / PortAudio) and leaves as
16 kHz 16-bit mono AudioChunks whose timestamps count samples, not wall-clock time: a device
that delivers faster than real time (a test's virtual microphone reading a file) or slower
(an overloaded Raspberry Pi) gives the same stream.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from assistant.errors import AudioError
from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk
from audio.native import native_stderr_to_log

_LOGGER = logging.getLogger(__name__)

NO_MICROPHONE = "no microphone found; plug one in or use `rekindle hear FILE`"


@dataclass(frozen=True)
class MicrophoneInfo:
    """One capture device as PortAudio lists it."""

    index: int
    """Device index to pass as `device` (PortAudio's numbering)."""
    name: str
    """The device's name."""
    default_rate: int
    """Hertz the device prefers; audio is converted to 16 kHz either way."""
    is_default: bool
    """True for the system's default input."""


def list_microphones() -> list[MicrophoneInfo]:
    """Every device that can capture audio (empty when there is none)."""
    pyaudio = _pyaudio()
    with _quiet_native_stderr():
        audio = pyaudio.PyAudio()
    try:
        try:
            default = int(audio.get_default_input_device_info()["index"])
        except OSError:
            default = -1
        found = []
        for index in range(audio.get_device_count()):
            info = audio.get_device_info_by_index(index)
            if int(info.get("maxInputChannels", 0)) > 0:
                rate = int(info.get("defaultSampleRate") or RATE)
                found.append(MicrophoneInfo(index, str(info.get("name")), rate, index == default))
        return found
    finally:
        audio.terminate()


class Microphone:
    """A capture stream: open it in a `with` block and iterate over `chunks()`.

    Chunks are `chunk_ms` long. The device is opened at 16 kHz; if it refuses, it is opened at
    its own default rate and the audio is resampled (soxr, streaming).
    """

    def __init__(self, device: int | None = None, chunk_ms: int = 30) -> None:
        if chunk_ms <= 0:
            raise AudioError(f"microphone chunk_ms is {chunk_ms}; use a positive number of milliseconds")
        self.device = device
        """PortAudio device index; None = the system default input."""
        self.chunk_ms = chunk_ms
        """Milliseconds of audio per chunk."""
        self._source: Any = None
        self._resampler: Any = None
        self._samples = 0

    def __enter__(self) -> Microphone:
        microphones = list_microphones()
        if not microphones:
            raise AudioError(NO_MICROPHONE)
        if self.device is not None and self.device not in {m.index for m in microphones}:
            listed = ", ".join(f"{m.index} ({m.name})" for m in microphones)
            raise AudioError(f"microphone {self.device} does not exist; choose one of: {listed}")
        source = self._open(RATE)
        if source is None:
            info = next(
                (m for m in microphones if m.index == self.device or (self.device is None and m.is_default)), None
            )
            rate = info.default_rate if info else 44100
            if rate != RATE:
                source = self._open(rate)
                if source is not None:
                    import soxr

                    self._resampler = soxr.ResampleStream(rate, RATE, 1, dtype="int16")
        if source is None:
            which = "the default microphone" if self.device is None else f"microphone {self.device}"
            raise AudioError(
                f"cannot open {which} (busy or unsupported); close other recording programs or pick another"
            )
        self._source = source
        self._samples = 0
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop and release the device (safe to call twice)."""
        source, self._source = self._source, None
        if source is not None and source.stream is not None:
            source.__exit__(None, None, None)

    def chunks(self) -> Iterator[AudioChunk]:
        """Audio as it arrives, forever (until the caller stops or the device fails)."""
        if self._source is None:
            raise AudioError("the microphone is not open; use it in a `with Microphone() as mic:` block")
        frames = max(1, self._source.SAMPLE_RATE * self.chunk_ms // 1000)
        while self._source is not None:
            try:
                raw = self._source.stream.read(frames)
            except OSError as exc:
                raise AudioError(
                    f"the microphone stopped delivering audio ({exc}); check that it is still plugged in"
                ) from exc
            if self._resampler is not None:
                raw = self._resample(raw)
            if raw:
                yield self._chunk(raw)

    def _chunk(self, raw: bytes) -> AudioChunk:
        timestamp = self._samples * 1000 // RATE
        self._samples += len(raw) // WIDTH
        return AudioChunk(RATE, WIDTH, CHANNELS, raw, timestamp)

    def _resample(self, raw: bytes) -> bytes:
        import numpy as np

        samples = np.frombuffer(raw, dtype="<i2")
        return bytes(self._resampler.resample_chunk(samples).astype("<i2").tobytes())

    def _open(self, rate: int) -> Any:
        """An entered sr.Microphone at `rate`, or None when PortAudio refused to open it."""
        import speech_recognition as sr

        frames = max(1, rate * self.chunk_ms // 1000)
        try:
            with _quiet_native_stderr():
                source = sr.Microphone(device_index=self.device, sample_rate=rate, chunk_size=frames)
                source.__enter__()
        except (OSError, AssertionError) as exc:
            _LOGGER.debug("opening microphone %s at %d Hz failed: %s", self.device, rate, exc)
            return None
        if source.stream is None:  # sr.Microphone swallows PortAudio's error when opening
            _LOGGER.debug("PortAudio refused microphone %s at %d Hz", self.device, rate)
            return None
        return source


def _pyaudio() -> Any:
    try:
        import pyaudio
    except ImportError as exc:
        raise AudioError(
            "PyAudio is not installed, so the microphone cannot be used; install it "
            "(Debian: apt install portaudio19-dev, then pip install PyAudio) or use `rekindle hear FILE`"
        ) from exc
    return pyaudio


def _quiet_native_stderr() -> contextlib.AbstractContextManager[None]:
    """Keep what ALSA and JACK print straight to file descriptor 2 while PortAudio probes devices ("ALSA lib
    pcm.c: Unknown PCM ...", "jack server is not running") out of the terminal; --debug shows it in the log."""
    return native_stderr_to_log(_LOGGER, "PortAudio")
