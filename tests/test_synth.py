"""The test-speech synthesiser's own promises: flite voices, simulated rooms (bench/spoken_intents.py uses both)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from assistant.errors import VoiceError
from audio.chunk import AudioChunk
from audio.synth import CLEAN, ROOM_FAR, ROOM_NEAR, Condition, Synthesizer, Voice, room_response


@pytest.mark.parametrize("condition", [ROOM_NEAR, ROOM_FAR], ids=lambda c: c.name)
def test_a_room_response_has_the_reverberation_it_is_named_for(condition: Condition) -> None:
    response = room_response(condition.rt60_s, condition.drr_db, np.random.default_rng(1)).astype(np.float64)
    tail = response[1:]
    assert 10 * np.log10(response[0] ** 2 / np.sum(tail**2)) == pytest.approx(condition.drr_db, abs=0.01)
    assert len(response) == int(16000 * condition.rt60_s)
    early, late = np.sum(tail[80:880] ** 2), np.sum(tail[-800:] ** 2)  # 50 ms after the gap vs the last 50 ms
    assert 10 * np.log10(early / late) > 45  # 60 dB over RT60, less the length of each window


def test_a_reverberant_clip_keeps_the_speech_level_and_rings_on(say: Callable[..., AudioChunk]) -> None:
    def samples(clip: AudioChunk) -> np.ndarray:
        return np.frombuffer(clip.audio, np.int16).astype(np.float64)

    def level_db(x: np.ndarray) -> float:  # over the samples above the noise floor
        return float(10 * np.log10(np.sum(x**2) / np.count_nonzero(np.abs(x) > 300)))

    dry, wet = samples(say("tell me more", condition=CLEAN)), samples(say("tell me more", condition=ROOM_FAR))
    assert len(wet) > len(dry) + 0.3 * 16000  # lead and trail differ by up to 0.4 s; the tail adds 0.5 s
    assert level_db(wet) == pytest.approx(level_db(dry), abs=3.0)


def test_flite_voices_speak_and_an_unknown_one_is_refused(synth: Synthesizer) -> None:
    speech = synth.speech("give us a deep question", Voice("flite", "slt"))
    assert 1.0 < len(speech) / 16000 < 4.0
    with pytest.raises(VoiceError, match="no voice 'nobody'"):
        synth.speech("hello", Voice("flite", "nobody"))
