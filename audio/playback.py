"""Speech out to a loudspeaker: one small protocol, an `aplay` player, and a silent one for --mute.

`aplay` (alsa-utils) is fed raw PCM on its stdin. A child process is the robust choice on a Raspberry Pi:
no native audio library inside our process (PortAudio prints ALSA/JACK noise and can abort on odd
devices), a stop is just ending the process, and a missing device is an exit status, not a crash. It costs
a few milliseconds to start (see bench/bench_speech_out.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import shutil
import subprocess
import tempfile
import threading
import time
from typing import IO, TYPE_CHECKING, Protocol

from assistant.errors import AudioError
from audio.chunk import AudioChunk

if TYPE_CHECKING:
    from assistant.config import Settings

_LOGGER = logging.getLogger(__name__)

_FORMATS = {1: "U8", 2: "S16_LE", 4: "S32_LE"}
"""aplay sample formats by sample width in bytes."""

POLL_S = 0.05
"""Seconds between looks at the stop flag while aplay's input is full or it is draining."""
_WRITE_BYTES = 65536
"""Most bytes handed to the pipe in one write."""

STOP_GRACE_S = 0.2
"""Seconds aplay gets to end after SIGTERM before it is killed."""

NO_DEVICE_FIX = "check `aplay -l` (on a Raspberry Pi: sudo raspi-config > System Options > Audio) or use --mute"
"""What to do when there is no usable sound output."""


class Speaker(Protocol):
    """Somewhere to play audio."""

    name: str
    """Short name for logs ('aplay', 'mute')."""

    def play(self, audio: AudioChunk) -> bool:
        """Play and block until done. True when played to the end; False when stopped or there is no device."""
        ...

    def stop(self) -> None:
        """Cut the current playback short (safe from another thread or a signal handler); no-op when idle."""
        ...


class NullSpeaker:
    """Plays nothing (for --mute): every reply counts as played at once."""

    name = "mute"

    def play(self, audio: AudioChunk) -> bool:
        return True

    def stop(self) -> None:
        return None


class AplaySpeaker:
    """Plays through ALSA with `aplay`; problems become one logged warning and `play() -> False`, never a crash."""

    name = "aplay"

    def __init__(self, device: str | None = None, rate: int | None = None) -> None:
        """`device`: ALSA PCM name (None = ALSA's default); `rate`: Hertz to resample to (None = keep the audio's).

        ALSA's default device converts rates itself; set `rate` only for a raw `hw:` device that needs one.
        """
        self.device = device
        """ALSA PCM name such as 'default', 'plughw:1,0'; None for ALSA's default."""
        self.rate = rate
        """Hertz every chunk is resampled to before playing; None to play at the chunk's own rate."""
        self._play_lock = threading.Lock()
        self._state_lock = threading.RLock()  # re-entrant: stop() may come from a signal handler
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._warned: set[str] = set()

    def play(self, audio: AudioChunk) -> bool:
        """Play `audio` (any rate, 8/16/32-bit) and block until it is done or `stop()` is called."""
        if not audio.audio:
            return True
        audio = self._converted(audio)
        with self._play_lock:
            self._stopping.clear()
            command = self._command(audio)
            if command is None:
                return False
            with tempfile.TemporaryFile() as errors:  # not a pipe: aplay's complaints can never block it
                process = self._spawn(command, errors)
                if process is None:
                    return False
                try:
                    completed = self._feed(process, audio)
                    return self._finished(process, errors) and completed
                finally:
                    with self._state_lock:
                        self._process = None
                    _end(process)

    def stop(self) -> None:
        """End the playback in progress (the rest of the audio is dropped)."""
        with self._state_lock:
            self._stopping.set()
            process = self._process
        if process is not None and process.poll() is None:
            process.terminate()

    @property
    def playing(self) -> bool:
        """True while a `play()` call is sending audio to the device."""
        with self._state_lock:
            return self._process is not None

    def _command(self, audio: AudioChunk) -> list[str] | None:
        binary = shutil.which("aplay")
        if binary is None:
            self._warn("no sound output: aplay is not installed; sudo apt-get install alsa-utils, or use --mute")
            return None
        fmt = _FORMATS.get(audio.width)
        if fmt is None:
            raise AudioError(f"cannot play {8 * audio.width}-bit audio; give 8, 16 or 32-bit samples")
        command = [binary, "-q", "-t", "raw", "-f", fmt, "-r", str(audio.rate), "-c", str(audio.channels)]
        if self.device:
            command += ["-D", self.device]
        return [*command, "-"]

    def _spawn(self, command: list[str], errors: IO[bytes]) -> subprocess.Popen[bytes] | None:
        try:
            process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=errors)
        except OSError as err:
            self._warn(f"no sound output: cannot run aplay ({err.strerror}); {NO_DEVICE_FIX}")
            return None
        with self._state_lock:
            self._process = process
            if self._stopping.is_set():  # stop() came between clear() and now
                process.terminate()
        return process

    def _feed(self, process: subprocess.Popen[bytes], audio: AudioChunk) -> bool:
        """Send the audio without ever blocking on a full pipe; False when stopped or aplay went away."""
        stdin = process.stdin
        assert stdin is not None
        fd = stdin.fileno()
        os.set_blocking(fd, False)
        data = memoryview(audio.audio)
        sent = 0
        try:
            while sent < len(data):
                if self._stopping.is_set():
                    return False
                if not select.select([], [fd], [], POLL_S)[1]:
                    continue
                with contextlib.suppress(BlockingIOError):
                    sent += os.write(fd, data[sent : sent + _WRITE_BYTES])
            stdin.close()
        except (BrokenPipeError, ConnectionResetError):
            return False  # aplay exited (stopped, or no device: _finished says which)
        return True

    def _finished(self, process: subprocess.Popen[bytes], errors: IO[bytes]) -> bool:
        """Wait for aplay to drain; warn (once) when it failed."""
        code = self._wait(process)
        if self._stopping.is_set():
            return False
        if code == 0:
            return True
        detail = _last_line(errors) or f"exit status {code}"
        if "audio open error" in detail or "Unknown PCM" in detail:
            self._warn(f"no sound output device ({detail}); {NO_DEVICE_FIX}")
        else:
            self._warn(f"sound output failed ({detail}); {NO_DEVICE_FIX}")
        return False

    def _wait(self, process: subprocess.Popen[bytes]) -> int:
        """Wait for aplay to exit; once a stop is asked for, kill it if SIGTERM has not ended it in time."""
        deadline: float | None = None
        while True:
            try:
                return process.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                if not self._stopping.is_set():
                    continue
                if deadline is None:
                    deadline = time.monotonic() + STOP_GRACE_S
                elif time.monotonic() > deadline:
                    process.kill()

    def _converted(self, audio: AudioChunk) -> AudioChunk:
        if self.rate is None or audio.rate == self.rate:
            return audio
        return resample(audio, self.rate)

    def _warn(self, message: str) -> None:
        if message in self._warned:
            _LOGGER.debug("%s", message)
        else:
            self._warned.add(message)
            _LOGGER.warning("%s", message)


def make_speaker(settings: Settings) -> Speaker:
    """The speaker the settings ask for: silent when `mute`, else ALSA's default output."""
    return NullSpeaker() if settings.mute else AplaySpeaker()


def resample(audio: AudioChunk, rate: int) -> AudioChunk:
    """The same 16-bit audio at another rate (soxr, high quality)."""
    if audio.width != 2:
        raise AudioError(f"cannot resample {8 * audio.width}-bit audio; give 16-bit samples")
    import numpy as np
    import soxr

    samples = np.frombuffer(audio.audio, dtype="<i2").reshape(-1, audio.channels)
    out = soxr.resample(samples, audio.rate, rate, quality="HQ")
    return AudioChunk(rate, 2, audio.channels, np.asarray(out, dtype="<i2").tobytes(), audio.timestamp)


def _end(process: subprocess.Popen[bytes]) -> None:
    """Make sure aplay is gone (also on Ctrl-C in the middle of a reply)."""
    if process.stdin is not None:
        with contextlib.suppress(OSError):
            process.stdin.close()
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _last_line(stream: IO[bytes]) -> str:
    stream.seek(0)
    lines = [line.strip() for line in stream.read().decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else ""
