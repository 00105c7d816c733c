"""Audio files in and out: any WAV/FLAC/AIFF becomes one 16 kHz 16-bit mono AudioChunk.

Every bad input raises AudioError with one line that names the file, the problem and the fix.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import wave
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import AudioError
from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk, is_standard

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

MAX_SECONDS = 30.0
"""Seconds. The longest file `load_audio` accepts by default: Rekindle hears one utterance per file."""

_FIX_FORMAT = "give a WAV, FLAC or AIFF file"
_MAGIC = (b"RIFF", b"RIFX", b"RF64", b"FORM", b"fLaC", b"OggS", b"caff", b".snd")
_TRUNCATED = re.compile(r"^data\s*:\s*(\d+)\s*\(should be (\d+)\)", re.MULTILINE)


def load_audio(path: Path, max_seconds: float = MAX_SECONDS) -> AudioChunk:
    """Read an audio file and return it as 16 kHz, 16-bit, mono.

    Any rate, sample format (8/16/24/32-bit integer, 32/64-bit float) and channel count that
    libsndfile reads is accepted; channels are averaged and the rate is converted with soxr.
    A file already in the standard format comes back byte for byte.

    A truncated WAV (its header promises more audio than the file holds, as after a recording
    was cut off) is LOADED: what is there is returned and a warning is logged, because the
    speech in it is usually intact and only the header is wrong.

    Silence and noise are valid audio and load fine (recognition will find no words in them).

    Raises:
        AudioError: the file is missing, a directory, unreadable, empty, not audio, damaged,
            holds no samples, or is longer than `max_seconds`.
    """
    path = Path(path)
    _check_readable(path)
    import soundfile

    try:
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as exc:
        raise _not_audio(path, exc) from exc
    seconds = info.frames / info.samplerate if info.samplerate else 0.0
    if info.frames <= 0:
        raise AudioError(f"{path} holds no audio (0 samples); record or export it again")
    if seconds > max_seconds:
        raise AudioError(
            f"{path} is {seconds:.0f} s long; Rekindle hears one utterance per file, at most {max_seconds:.0f} s"
        )
    _warn_if_truncated(path, info.extra_info)
    try:
        if (info.samplerate, info.channels, info.subtype) == (RATE, CHANNELS, "PCM_16"):
            data, _ = soundfile.read(str(path), dtype="int16", always_2d=False)
            pcm = data.astype("<i2").tobytes()
        else:
            floats, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
            pcm = _to_standard(floats, rate)
    except soundfile.LibsndfileError as exc:
        raise AudioError(f"{path} is damaged ({_reason(exc)}); export or record it again") from exc
    if not pcm:
        raise AudioError(f"{path} holds no audio (0 samples); record or export it again")
    return AudioChunk(RATE, WIDTH, CHANNELS, pcm, 0)


def save_wav(chunk: AudioChunk, path: Path) -> Path:
    """Write a 16 kHz 16-bit mono chunk as a WAV file, atomically and readable by the owner only (0600).

    The audio goes to a temporary file beside `path` that is renamed over it once complete, so a
    crash never leaves a half-written file under the final name.
    """
    path = Path(path)
    if not is_standard(chunk):
        raise AudioError(
            f"cannot save {path}: audio is {chunk.rate} Hz, {chunk.width * 8}-bit, {chunk.channels} channel(s); "
            "convert it to 16 kHz 16-bit mono first"
        )
    directory = path.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except FileNotFoundError as exc:
        raise AudioError(f"cannot save {path}: folder {directory} does not exist; create it first") from exc
    except OSError as exc:
        raise AudioError(f"cannot save {path}: {exc.strerror}; check the folder's permissions") from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as raw:
            with wave.open(raw, "wb") as wav:
                wav.setnchannels(chunk.channels)
                wav.setsampwidth(chunk.width)
                wav.setframerate(chunk.rate)
                wav.writeframes(chunk.audio)
            raw.flush()
            os.fsync(raw.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise AudioError(f"cannot save {path}: {exc.strerror}; check free space and permissions") from exc
    return path


def _check_readable(path: Path) -> None:
    """Raise a clear AudioError for problems the OS can tell us about before decoding."""
    try:
        stat = path.stat()
    except FileNotFoundError as exc:
        raise AudioError(f"{path} does not exist; check the path") from exc
    except PermissionError as exc:
        raise AudioError(f"cannot read {path} (permission denied); check the folder's permissions") from exc
    if path.is_dir():
        raise AudioError(f"{path} is a folder, not an audio file; {_FIX_FORMAT}")
    if stat.st_size == 0:
        raise AudioError(f"{path} is empty (0 bytes); record or export the audio again")
    try:
        with path.open("rb") as handle:
            head = handle.read(12)
    except PermissionError as exc:
        raise AudioError(f"cannot read {path} (permission denied); check the file's permissions") from exc
    except OSError as exc:
        raise AudioError(f"cannot read {path} ({exc.strerror}); check the file") from exc
    if not head.startswith(_MAGIC):
        _check_text(path, head)


def _check_text(path: Path, head: bytes) -> None:
    """Files that are plainly text get the clearest message; other headers are left to libsndfile."""
    if head and all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        raise AudioError(f"{path} is not audio (it holds text, no RIFF header); {_FIX_FORMAT}")


def _not_audio(path: Path, exc: Exception) -> AudioError:
    reason = _reason(exc)
    with path.open("rb") as handle:
        head = handle.read(4)
    if head in (b"RIFF", b"RIFX", b"RF64"):
        return AudioError(f"{path} is a damaged WAV file ({reason}); export or record it again")
    if head == b"fLaC":
        return AudioError(f"{path} is a damaged FLAC file ({reason}); export it again")
    if head == b"FORM":
        return AudioError(f"{path} is a damaged AIFF file ({reason}); export it again")
    return AudioError(f"{path} is not audio libsndfile can read ({reason}); {_FIX_FORMAT}")


def _reason(exc: Exception) -> str:
    """libsndfile's own words without the 'Error opening ...:' prefix, on one line."""
    text = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
    return " ".join(text.split()).rstrip(".") or type(exc).__name__


def _warn_if_truncated(path: Path, extra_info: str) -> None:
    match = _TRUNCATED.search(extra_info or "")
    if match and int(match.group(2)) < int(match.group(1)):
        _LOGGER.warning(
            "%s is truncated: its header promises %s bytes of audio but only %s are there; using what is there",
            path,
            match.group(1),
            match.group(2),
        )


def _to_standard(floats: npt.NDArray[np.float32], rate: int) -> bytes:
    """Average channels, resample to 16 kHz and quantise to signed 16-bit little-endian."""
    import numpy as np

    mono = floats.mean(axis=1, dtype=np.float32) if floats.shape[1] > 1 else floats[:, 0]
    if rate != RATE:
        import soxr

        mono = soxr.resample(mono, rate, RATE, quality="HQ")
    scaled = np.clip(np.rint(mono * 32768.0), -32768, 32767)
    return bytes(scaled.astype("<i2").tobytes())
