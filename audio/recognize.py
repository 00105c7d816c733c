"""One utterance from audio to intent: the engine's transcript, then the template matcher.

COMMAND mode: the grammar transcript goes to the matcher. An empty transcript (the engine rejected the speech)
gets a second chance when the caller allows one: the same audio is decoded once more with the open vocabulary,
and the matcher (templates, then its keyword fallback) reads that. The command grammar holds only what the
templates hold, so a phrasing nobody wrote a template for ("i have trouble opening up") can only be understood
this way. Otherwise, or when the matcher finds nothing there either, it is intent `none` with confidence 0.
A gratitude said in one breath ("i'm grateful that sam cooked dinner") needs free text: PocketSphinx fills it in
itself; for an engine whose command transcript leaves the text slot empty, a dictation pass over the same audio
supplies it.
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
SECOND_CHANCE_MAX_MS = 6000.0
"""Longest rejected command given a second chance (commands are short; the matcher's keyword fallback reads at
most 14 words): longer speech is chatter, and its dictation pass would only cost time."""
SECOND_CHANCE_NEVER = frozenset({"yes", "no"})
"""Intents a second chance never gives: an answer to "delete ...? yes or no" must come from the grammar."""


@dataclass(frozen=True)
class Heard:
    """What one utterance was taken to mean."""

    transcript: Transcript
    """The engine's words (in COMMAND mode with any free text filled in)."""
    intent: IntentResult
    """The matcher's reading; `none` with confidence 0 when the engine rejected the speech."""
    decode_ms: float
    """Milliseconds from having the whole utterance to having the intent."""
    second_chance: bool = False
    """The grammar rejected the speech and the intent comes from its open-vocabulary reading."""


def recognize_utterance(
    engine: SpeechToText, matcher: Matcher, audio: AudioChunk, mode: Mode, second_chance: bool = True
) -> Heard:
    """Decode a whole utterance and interpret it (`second_chance`: see `interpret`)."""
    started = time.perf_counter()
    transcript = engine.transcribe(audio, mode)
    return interpret(transcript, matcher, engine, audio, started, second_chance)


def interpret(
    transcript: Transcript,
    matcher: Matcher,
    engine: SpeechToText | None = None,
    audio: AudioChunk | None = None,
    started: float | None = None,
    second_chance: bool = True,
) -> Heard:
    """Turn a transcript (e.g. from a stream) into a Heard; `engine` and `audio` allow a dictation pass.

    `second_chance`: a rejected command is dictated and read again (see the module's docstring). Callers turn it
    off where stray speech is common and nobody addressed the assistant (always-on listening).
    """
    from intents.matcher import NONE, IntentResult

    began = time.perf_counter() - transcript.decode_ms / 1000 if started is None else started
    if transcript.mode is Mode.COMMAND and not transcript.text:
        if second_chance and engine is not None and audio is not None:
            retried = _second_chance(engine, matcher, audio)
            if retried is not None:
                return Heard(retried[0], retried[1], _ms_since(began), second_chance=True)
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


def _second_chance(engine: SpeechToText, matcher: Matcher, audio: AudioChunk) -> tuple[Transcript, IntentResult] | None:
    """The open-vocabulary reading of a rejected command, when the matcher finds a command in it."""
    from intents.matcher import NONE

    if audio.milliseconds > SECOND_CHANCE_MAX_MS:
        return None
    dictated = engine.transcribe(audio, Mode.DICTATION)
    if not dictated.text:
        return None
    result = matcher.match(dictated.text)
    if result.intent == NONE or result.intent in SECOND_CHANCE_NEVER:
        _LOGGER.debug("Second chance found no command in %r", dictated.text)
        return None
    _LOGGER.debug("Second chance: %r -> %s", dictated.text, result.intent)
    confidence = result.confidence * dictated.confidence
    transcript = Transcript(dictated.text, dictated.confidence, Mode.COMMAND, dictated.decode_ms, dictated.words)
    return transcript, dataclasses.replace(result, confidence=confidence)


def _ms_since(started: float) -> float:
    return 1000.0 * (time.perf_counter() - started)
