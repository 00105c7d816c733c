"""Speech turns for the voice commands: pick the engine, recognise a file or an utterance, keep gratitude clips."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.app import App
from assistant.errors import SpeechError
from audio.chunk import AudioChunk

if TYPE_CHECKING:
    from assistant.dialog import Dialog, Turn
    from audio.recognize import Heard
    from audio.stt import Mode, SpeechToText

_LOGGER = logging.getLogger(__name__)


def open_engine(app: App, name: str | None, vosk_model: Path | None = None) -> SpeechToText:
    """The speech-to-text engine by name (auto: Vosk when a model is found, else PocketSphinx), loaded once."""
    from assistant.paths import default_cache_dir
    from audio.models import find_vosk_model
    from audio.stt.registry import create_engine

    wanted = name or app.settings.engine
    explicit = vosk_model or (Path(app.settings.vosk_model) if app.settings.vosk_model else None)
    model = find_vosk_model(explicit, app.data.root)
    if wanted == "vosk" and model is None:
        raise SpeechError("no Vosk model found; run `rekindle models download vosk-small-en` or pass --vosk-model PATH")
    return create_engine(
        wanted,
        matcher=app.matcher,
        vosk_model=model,
        cache_dir=default_cache_dir(),
        noise=app.settings.noise_suppression,
    )


def load_recording(app: App, path: Path, max_seconds: float, engine: SpeechToText) -> AudioChunk:
    """A recording as 16 kHz mono, with steady noise suppressed when the `noise_suppression` setting says so
    (not for an engine that wants the audio as recorded: `raw_audio`)."""
    from audio.denoise import Denoise, denoise
    from audio.files import load_audio

    audio = load_audio(path, max_seconds)
    if engine.raw_audio:
        return audio
    return denoise(audio, Denoise(app.settings.noise_suppression))


def hear_file_audio(
    engine: SpeechToText, matcher: Any, audio: AudioChunk, mode: Mode, second_chance: bool = True
) -> Any:
    """Recognise a whole recording, but only if the voice activity detector finds speech in it.

    Files are not endpointed by a microphone loop, so silence, hum or white noise would otherwise reach the
    grammar decoder, which forces every sound onto some command. No speech -> intent none, empty transcript.
    """
    from audio.chunk import split
    from audio.endpoint import segment
    from audio.recognize import Heard, recognize_utterance
    from audio.stt import Transcript
    from intents.matcher import NONE, IntentResult

    if next(segment(split(audio, 30)), None) is None:
        return Heard(Transcript("", 0.0, mode), IntentResult(NONE, confidence=0.0), 0.0)
    return recognize_utterance(engine, matcher, audio, mode, second_chance)


@dataclass(frozen=True)
class VoiceTurn:
    """One spoken turn through the dialog."""

    turn: Turn
    """The dialog's turn (intent, reply)."""
    transcript: str
    """What the engine heard."""
    decode_ms: float
    """Milliseconds of decoding after the audio was complete."""


def clip_path(app: App) -> Path:
    """A fresh path for a gratitude clip in the private clips directory."""
    from assistant.paths import ensure_private_dir

    ensure_private_dir(app.data.clips)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(1000):
        candidate = app.data.clips / f"{stamp}-{n:03d}.wav"
        if not candidate.exists():
            return candidate
    raise SpeechError(f"too many clips in {app.data.clips} this second")


def spoken_turn(
    app: App,
    engine: SpeechToText,
    dialog: Dialog,
    audio: AudioChunk,
    heard: Heard | None = None,
    second_chance: bool = True,
) -> VoiceTurn:
    """Recognise one utterance in the mode the dialog expects and take the turn.

    The audio of anything that may become a gratitude entry is saved first and kept only if an entry was saved.
    `heard` is a result already decoded while the person spoke (streaming). `second_chance`: a rejected command
    is dictated and read again (`audio.recognize.interpret`).
    """
    from audio.files import save_wav
    from audio.stt import Mode

    mode: Mode = dialog.expect
    if heard is None:
        heard = hear_file_audio(engine, app.matcher, audio, mode, second_chance)
    clip: Path | None = None
    if mode is Mode.DICTATION or (heard.intent.intent == "log_gratitude" and heard.intent.slots.get("text")):
        clip = save_wav(audio, clip_path(app))
    if mode is Mode.DICTATION:
        turn = dialog.handle(heard.transcript.text, source="voice", audio=str(clip) if clip else None)
    else:
        turn = dialog.handle(
            heard.transcript.text, result=heard.intent, source="voice", audio=str(clip) if clip else None
        )
    if clip is not None and turn.entry is None:
        clip.unlink(missing_ok=True)
    return VoiceTurn(turn, heard.transcript.text, heard.decode_ms)
