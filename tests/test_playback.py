"""Playback through real `aplay` into the virtual ALSA speaker (tests/alsa/vmic.conf), which writes a WAV file."""

from __future__ import annotations

import logging
import math
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
import wave
from array import array
from pathlib import Path

import pytest
from helpers_cli import ctrl_c_as_in_a_terminal

from audio.chunk import AudioChunk
from audio.earcon import listening
from audio.playback import AplaySpeaker, NullSpeaker, Speaker, make_speaker, resample
from audio.tts import TTS_RATE, Pyttsx3Voice

ROOT = Path(__file__).resolve().parent.parent
ALSA_CONF = ROOT / "tests" / "alsa" / "vmic.conf"
PACED_SINK = ROOT / "tests" / "alsa" / "paced_sink.py"

pytestmark = pytest.mark.skipif(not ALSA_CONF.exists(), reason="tests/alsa/vmic.conf (virtual sound card) missing")


def virtual_card(monkeypatch: pytest.MonkeyPatch, speaker_file: str) -> None:
    """Select the virtual sound card for aplay (the environment is what the child process inherits)."""
    monkeypatch.setenv("ALSA_CONFIG_PATH", f"/usr/share/alsa/alsa.conf:{ALSA_CONF}")
    monkeypatch.setenv("VSPK_FILE", speaker_file)


@pytest.fixture
def speaker_wav(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "speaker.wav"
    virtual_card(monkeypatch, str(path))
    return path


@pytest.fixture
def paced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A virtual card that takes audio no faster than real time (22,050 Hz 16-bit mono); (output, first-byte file)."""
    out, first = tmp_path / "paced.raw", tmp_path / "first"
    args = [sys.executable, str(PACED_SINK), str(out), str(2 * TTS_RATE), str(first)]
    virtual_card(monkeypatch, "|exec " + shlex.join(args))
    return out, first


@pytest.fixture(scope="module")
def speech() -> AudioChunk:
    return Pyttsx3Voice().synthesize("This sentence goes out through the virtual loudspeaker.")


def read_wav(path: Path) -> AudioChunk:
    with wave.open(str(path)) as wav:
        return AudioChunk(wav.getframerate(), wav.getsampwidth(), wav.getnchannels(), wav.readframes(wav.getnframes()))


def rms(chunk: AudioChunk) -> float:
    samples = array("h", chunk.audio)
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768 if samples else 0.0


def tone(seconds: float, rate: int = TTS_RATE, hz: float = 440.0) -> AudioChunk:
    samples = array("h", (round(8000 * math.sin(2 * math.pi * hz * n / rate)) for n in range(int(seconds * rate))))
    return AudioChunk(rate, 2, 1, samples.tobytes())


def wait_for(path: Path, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.01)


def test_speech_reaches_the_speaker(speaker_wav: Path, speech: AudioChunk) -> None:
    assert AplaySpeaker().play(speech)
    heard = read_wav(speaker_wav)
    assert (heard.rate, heard.channels) == (TTS_RATE, 1)
    assert speech.milliseconds <= heard.milliseconds < speech.milliseconds + 250  # aplay pads the last period
    assert heard.audio.startswith(speech.audio)
    assert rms(heard) > 0.02


def test_other_rates_play_at_their_own_rate(speaker_wav: Path) -> None:
    # The virtual speaker records in whatever format aplay opened it with, so the 16 kHz tone arrives as 16 kHz.
    assert AplaySpeaker().play(tone(0.5, rate=16000))
    heard = read_wav(speaker_wav)
    assert heard.rate == 16000
    assert 500 <= heard.milliseconds < 750
    assert rms(heard) > 0.1


def test_speaker_with_a_fixed_rate_resamples(speaker_wav: Path) -> None:
    assert AplaySpeaker(rate=48000).play(tone(0.5))
    assert 500 <= read_wav(speaker_wav).milliseconds < 750


def test_earcon_plays(speaker_wav: Path) -> None:
    chime = listening()
    assert AplaySpeaker().play(chime)
    assert read_wav(speaker_wav).audio.startswith(chime.audio)


def test_several_replies_in_a_row(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, speech: AudioChunk) -> None:
    speaker = AplaySpeaker()
    for i in range(3):
        path = tmp_path / f"reply{i}.wav"
        virtual_card(monkeypatch, str(path))
        assert speaker.play(speech)
        assert read_wav(path).audio.startswith(speech.audio)


def test_nothing_to_play_is_done_at_once(speaker_wav: Path) -> None:
    assert AplaySpeaker().play(AudioChunk(TTS_RATE, 2, 1, b""))
    assert not speaker_wav.exists()


def test_resample_keeps_duration() -> None:
    out = resample(tone(1.0, rate=22050), 16000)
    assert (out.rate, out.samples) == (16000, 16000)
    assert rms(out) == pytest.approx(rms(tone(1.0)), rel=0.05)


def test_missing_device_warns_once(caplog: pytest.LogCaptureFixture, speech: AudioChunk) -> None:
    speaker = AplaySpeaker(device="rekindle_no_such_device")
    with caplog.at_level(logging.DEBUG, logger="audio.playback"):
        assert speaker.play(speech) is False
        assert speaker.play(speech) is False
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "no sound output device" in warnings[0].getMessage()
    assert "--mute" in warnings[0].getMessage()


def test_missing_aplay_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH without alsa-utils
    with caplog.at_level(logging.WARNING, logger="audio.playback"):
        assert AplaySpeaker().play(tone(0.1)) is False
    assert "sudo apt-get install alsa-utils" in caplog.text


def test_stop_cuts_playback_short(paced: tuple[Path, Path]) -> None:
    out, first = paced
    speaker = AplaySpeaker()
    result: list[bool] = []
    worker = threading.Thread(target=lambda: result.append(speaker.play(tone(20.0))))
    worker.start()
    wait_for(first)
    assert speaker.playing
    started = time.monotonic()
    speaker.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    assert time.monotonic() - started < 2.0
    assert result == [False]
    assert not speaker.playing
    assert out.stat().st_size < 2 * TTS_RATE * 5  # far less than the 20 s it was given


def test_stop_when_idle_does_not_block_the_next_reply(speaker_wav: Path) -> None:
    speaker = AplaySpeaker()
    speaker.stop()
    assert speaker.play(tone(0.2))
    assert speaker_wav.exists()


def test_ctrl_c_ends_aplay_too(paced: tuple[Path, Path]) -> None:
    _, first = paced
    code = (
        "import os\n"
        "from audio.playback import AplaySpeaker\n"
        "from audio.chunk import AudioChunk\n"
        "try:\n"
        "    AplaySpeaker().play(AudioChunk(22050, 2, 1, b'\\x10\\x00' * 22050 * 30))\n"
        "except KeyboardInterrupt:\n"
        "    try:\n        os.waitpid(-1, os.WNOHANG)\n        print('aplay still there')\n"
        "    except ChildProcessError:\n        print('interrupted, aplay gone')\n"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True, preexec_fn=ctrl_c_as_in_a_terminal
    )
    wait_for(first)
    os.kill(child.pid, signal.SIGINT)
    out, _ = child.communicate(timeout=10)
    assert out.strip() == "interrupted, aplay gone"


def test_make_speaker_follows_mute() -> None:
    from assistant.config import Settings

    assert isinstance(make_speaker(Settings(mute=True)), NullSpeaker)
    assert isinstance(make_speaker(Settings()), AplaySpeaker)


def test_null_speaker_plays_nothing(speech: AudioChunk) -> None:
    speaker: Speaker = NullSpeaker()
    assert speaker.play(speech)
    speaker.stop()
    assert speaker.name == "mute"
