"""Noise suppression (audio/denoise.py): real WebRTC processing of synthesised speech in pink noise, decoded by the
real PocketSphinx engine."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from assistant.config import Settings
from assistant.errors import AudioError, ConfigError
from audio.chunk import AudioChunk, split
from audio.denoise import NOISY_FLOOR_DBFS, Denoise, LiveDenoiser, Suppressor, denoise, noise_floor_dbfs
from audio.stt import Mode
from audio.stt.pocketsphinx import PocketSphinxEngine
from audio.synth import PINK_10, PIPER, Voice

COMMANDS = ["give us a deep question", "stop", "next", "read me my gratitude journal", "give me a date idea"]
FAST_PIPER = Voice("piper", "joe", 1.15)


def test_noise_floor_separates_a_quiet_room_from_a_noisy_one(say: Callable[..., AudioChunk]) -> None:
    assert noise_floor_dbfs(say("give us a deep question")) < NOISY_FLOOR_DBFS - 10
    assert noise_floor_dbfs(say("give us a deep question", PIPER, PINK_10)) > NOISY_FLOOR_DBFS + 5
    assert noise_floor_dbfs(AudioChunk(16000, 2, 1, bytes(32000))) == -120.0


def test_quiet_audio_is_left_alone_in_auto_mode(say: Callable[..., AudioChunk]) -> None:
    clean = say("tell me more")
    assert denoise(clean) is clean
    assert denoise(clean, Denoise.ON).audio != clean.audio


def test_denoised_audio_keeps_its_length_and_loses_its_noise(say: Callable[..., AudioChunk]) -> None:
    noisy = say("tell me more", PIPER, PINK_10)
    cleaned = denoise(noisy)
    assert len(cleaned.audio) == len(noisy.audio)
    assert (cleaned.rate, cleaned.width, cleaned.channels, cleaned.timestamp) == (16000, 2, 1, noisy.timestamp)
    assert noise_floor_dbfs(cleaned) < noise_floor_dbfs(noisy) - 10


def test_denoising_recovers_commands_heard_in_pink_noise(
    sphinx: PocketSphinxEngine, say: Callable[..., AudioChunk]
) -> None:
    """Pink noise at 10 dB SNR, Piper at two speeds: the same clips decoded raw and after suppression."""
    raw = denoised = 0
    for voice in (PIPER, FAST_PIPER):
        for text in COMMANDS:
            noisy = say(text, voice, PINK_10)
            raw += sphinx.transcribe(noisy, Mode.COMMAND).text == text
            denoised += sphinx.transcribe(denoise(noisy), Mode.COMMAND).text == text
    assert denoised >= 9  # of 10 (measured 10/10; raw 5/10)
    assert denoised > raw


def test_live_denoiser_engages_only_in_a_noisy_room(say: Callable[..., AudioChunk]) -> None:
    quiet = LiveDenoiser()
    for chunk in split(say("tell me more"), 30):
        assert quiet.process(chunk) is chunk
    assert not quiet.active

    noisy = LiveDenoiser()
    chunks = list(split(say("tell me more", PIPER, PINK_10), 30))
    out = [noisy.process(chunk) for chunk in chunks]
    assert noisy.active
    assert out[-1].audio != chunks[-1].audio
    assert [c.timestamp for c in out] == [c.timestamp for c in chunks]
    assert [len(c.audio) for c in out] == [len(c.audio) for c in chunks]


def test_live_denoiser_off_and_on() -> None:
    rng = np.random.default_rng(3)
    chunk = AudioChunk(16000, 2, 1, rng.normal(0, 3000, 480).astype("<i2").tobytes(), 0)
    assert LiveDenoiser(Denoise.OFF).process(chunk) is chunk
    assert LiveDenoiser(Denoise.ON).process(chunk).audio != chunk.audio


def test_live_denoiser_takes_odd_chunk_sizes(say: Callable[..., AudioChunk]) -> None:
    """A resampling microphone delivers chunks that are not whole 10 ms frames."""
    audio = say("next", PIPER, PINK_10)
    live = LiveDenoiser(Denoise.ON)
    out = [live.process(part) for part in split(audio, 7)]
    assert b"".join(c.audio for c in out)[320:] == denoise(audio, Denoise.ON).audio[: len(audio.audio) - 320]
    with pytest.raises(AudioError, match="16 kHz"):
        live.process(AudioChunk(8000, 2, 1, bytes(160), 0))


def test_suppressor_streams_any_chunk_sizes_without_losing_samples(say: Callable[..., AudioChunk]) -> None:
    audio = say("next", PIPER, PINK_10)
    suppressor = Suppressor()
    out = b"".join(suppressor.process(part) for part in split(audio, 7)) + suppressor.flush()
    assert len(out) >= len(audio.audio)
    assert len(out) - len(audio.audio) < 320
    with pytest.raises(AudioError, match="16 kHz"):
        suppressor.process(AudioChunk(8000, 2, 1, bytes(160), 0))


def test_noise_suppression_setting_is_validated() -> None:
    assert Settings(noise_suppression="off").validated().noise_suppression == "off"
    with pytest.raises(ConfigError, match="unknown noise_suppression 'loud'; use one of: auto, on, off"):
        Settings(noise_suppression="loud").validated()
