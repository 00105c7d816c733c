"""Shared fixtures: synthesised speech (cached under tests/.cache/) and the real speech engines, loaded once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from audio.chunk import AudioChunk
from audio.stt import Mode
from audio.synth import CLEAN, PIPER, Condition, Synthesizer, Voice

if TYPE_CHECKING:
    from audio.stt.pocketsphinx import PocketSphinxEngine
    from intents.matcher import Matcher

CACHE = Path(__file__).parent / ".cache"
"""Synthesised WAVs, keyed by a hash of voice and text (git-ignored)."""


@pytest.fixture(scope="session")
def synth() -> Synthesizer:
    """espeak-ng and Piper speech, cached between runs."""
    return Synthesizer(CACHE)


@pytest.fixture(scope="session")
def say(synth: Synthesizer) -> Callable[..., AudioChunk]:
    """say(text, voice=PIPER, condition=CLEAN) -> a 16 kHz clip with lead/trail and a noise floor."""

    def speak(text: str, voice: Voice = PIPER, condition: Condition = CLEAN) -> AudioChunk:
        return synth.utterance(text, voice, condition)

    return speak


@pytest.fixture(scope="session")
def intent_matcher() -> Matcher:
    """The template matcher over the shipped templates."""
    from intents.matcher import Matcher

    return Matcher()


@pytest.fixture(scope="session")
def sphinx(intent_matcher: Matcher) -> PocketSphinxEngine:
    """PocketSphinx with the grammar of the shipped templates, both decoders loaded."""
    from audio.stt.pocketsphinx import PocketSphinxEngine

    engine = PocketSphinxEngine(matcher=intent_matcher)
    engine.load(Mode.COMMAND)
    engine.load(Mode.DICTATION)
    return engine
