"""One utterance from audio to intent: the engine's transcript, then the template matcher.

COMMAND mode: the grammar transcript goes to the matcher; an empty transcript (the engine rejected the
speech) is intent `none` with confidence 0. A gratitude said in one breath ("i'm grateful that sam cooked
dinner") needs free text: PocketSphinx fills it in itself; for an engine whose command transcript leaves
the text slot empty, a dictation pass over the same audio supplies it.
DICTATION mode: the open-vocabulary transcript (the matcher still runs, so "cancel" can be caught).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from audio.stt import Mode, Transcript

if TYPE_CHECKING:
    from audio.chunk import AudioChunk
    from audio.stt import SpeechToText
    from intents.matcher import IntentResult, Matcher

_LOGGER = logging.getLogger(__name__)

_GRATITUDE_CUES = ("grateful", "thankful", "appreciate", "gratitude")
"""Words that make a command transcript worth a dictation pass when its text slot came out empty."""


@dataclass(frozen=True)
class Heard:
    """What one utterance was taken to mean."""

    transcript: Transcript
    """The engine's words (in COMMAND mode with any free text filled in)."""
    intent: IntentResult
    """The matcher's reading; `none` with confidence 0 when the engine rejected the speech."""
    decode_ms: float
    """Milliseconds from having the whole utterance to having the intent."""


def recognize_utterance(engine: SpeechToText, matcher: Matcher, audio: AudioChunk, mode: Mode) -> Heard:
    """Decode a whole utterance and interpret it."""
    started = time.perf_counter()
    transcript = engine.transcribe(audio, mode)
    return interpret(transcript, matcher, engine, audio, started)


def interpret(
    transcript: Transcript,
    matcher: Matcher,
    engine: SpeechToText | None = None,
    audio: AudioChunk | None = None,
    started: float | None = None,
) -> Heard:
    """Turn a transcript (e.g. from a stream) into a Heard; `engine` and `audio` allow a dictation pass."""
    from intents.matcher import NONE, IntentResult

    began = time.perf_counter() - transcript.decode_ms / 1000 if started is None else started
    if transcript.mode is Mode.COMMAND and not transcript.text:
        return Heard(transcript, IntentResult(NONE, confidence=0.0), _ms_since(began))
    result = matcher.match(transcript.text)
    if (
        transcript.mode is Mode.COMMAND
        and engine is not None
        and audio is not None
        and result.intent in (NONE, "log_gratitude")
        and not result.slots.get("text")
        and any(cue in transcript.text for cue in _GRATITUDE_CUES)
    ):
        dictated = engine.transcribe(audio, Mode.DICTATION)
        second = matcher.match(dictated.text)
        if second.intent == "log_gratitude" and second.slots.get("text"):
            _LOGGER.debug("Gratitude text from a dictation pass: %r", dictated.text)
            transcript = dataclasses.replace(transcript, text=dictated.text)
            result = second
    confidence = result.confidence * (transcript.confidence if transcript.mode is Mode.COMMAND else 1.0)
    return Heard(transcript, dataclasses.replace(result, confidence=confidence), _ms_since(began))


def _ms_since(started: float) -> float:
    return 1000.0 * (time.perf_counter() - started)
