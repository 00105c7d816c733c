"""Earcons: short, soft, click-free chimes."""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable

import pytest

from audio.chunk import AudioChunk
from audio.earcon import DONE, LISTENING, done, listening, render
from audio.tts import TTS_RATE


def samples(chunk: AudioChunk) -> array[int]:
    return array("h", chunk.audio)


@pytest.mark.parametrize("make", [listening, done])
def test_about_120_ms_of_16_bit_mono(make: Callable[..., AudioChunk]) -> None:
    chime = make()
    assert (chime.rate, chime.width, chime.channels) == (TTS_RATE, 2, 1)
    assert 100 <= chime.milliseconds <= 150


@pytest.mark.parametrize("make", [listening, done])
def test_audible_but_soft(make: Callable[..., AudioChunk]) -> None:
    values = samples(make())
    peak = max(abs(v) for v in values) / 32768
    rms = math.sqrt(sum(v * v for v in values) / len(values)) / 32768
    assert rms > 0.02  # clearly there (above -34 dBFS)
    assert peak < 0.25  # never harsh (below -12 dBFS)


@pytest.mark.parametrize("make", [listening, done])
def test_starts_and_ends_at_silence(make: Callable[..., AudioChunk]) -> None:
    values = samples(make())
    assert abs(values[0]) < 50
    assert abs(values[-1]) < 50
    assert max(abs(v) for v in values[-20:]) < 300  # faded out, no click


def test_listening_rises_and_done_falls() -> None:
    assert LISTENING.first_hz < LISTENING.second_hz
    assert DONE.first_hz > DONE.second_hz
    assert listening().audio != done().audio


def test_any_rate() -> None:
    chime = listening(16000)
    assert chime.rate == 16000
    assert chime.samples == 16000 * LISTENING.length_ms // 1000


def test_rendered_once() -> None:
    assert render(LISTENING, TTS_RATE) is render(LISTENING, TTS_RATE)
