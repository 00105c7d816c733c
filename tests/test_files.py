"""audio/files.py: every readable format becomes 16 kHz 16-bit mono; every bad file gets one clear line."""

from __future__ import annotations

import logging
import os
import shutil
import stat
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile

from assistant.errors import AudioError
from audio.chunk import AudioChunk
from audio.files import load_audio, save_wav

ROOT = Path(__file__).resolve().parent.parent


def tone(rate: int, seconds: float = 1.0, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (amp * np.sin(2 * np.pi * freq * t)).astype(np.float64)


def dominant_hz(chunk: AudioChunk) -> float:
    samples = np.frombuffer(chunk.audio, dtype="<i2").astype(np.float64)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.fft.rfftfreq(samples.size, 1 / chunk.rate)[int(np.argmax(spectrum))])


def rms(chunk: AudioChunk) -> float:
    samples = np.frombuffer(chunk.audio, dtype="<i2").astype(np.float64) / 32768
    return float(np.sqrt(np.mean(samples**2)))


FORMATS = [
    ("WAV", "PCM_U8", 8000),
    ("WAV", "PCM_16", 22050),
    ("WAV", "PCM_24", 44100),
    ("WAV", "PCM_32", 48000),
    ("WAV", "FLOAT", 16000),
    ("WAV", "DOUBLE", 32000),
    ("FLAC", "PCM_16", 44100),
    ("FLAC", "PCM_24", 16000),
    ("AIFF", "PCM_16", 11025),
    ("AIFF", "PCM_24", 48000),
]


@pytest.mark.parametrize(("container", "subtype", "rate"), FORMATS)
@pytest.mark.parametrize("channels", [1, 2])
def test_any_format_becomes_16k_mono(tmp_path: Path, container: str, subtype: str, rate: int, channels: int) -> None:
    path = tmp_path / f"tone.{container.lower()}"
    data = np.stack([tone(rate)] * channels, axis=1)
    soundfile.write(path, data, rate, subtype=subtype, format=container)
    chunk = load_audio(path)
    assert (chunk.rate, chunk.width, chunk.channels) == (16000, 2, 1)
    assert chunk.milliseconds == pytest.approx(1000, abs=1)
    assert dominant_hz(chunk) == pytest.approx(440, abs=2)
    assert rms(chunk) == pytest.approx(0.5 / np.sqrt(2), rel=0.03)


def test_standard_wav_loads_byte_for_byte(tmp_path: Path) -> None:
    pcm = np.random.default_rng(1).integers(-20000, 20000, 16000, dtype=np.int16).astype("<i2").tobytes()
    path = tmp_path / "exact.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16000)
        wav.writeframes(pcm)
    assert load_audio(path).audio == pcm


def test_channels_are_averaged(tmp_path: Path) -> None:
    path = tmp_path / "left_only.wav"
    left = tone(16000)
    soundfile.write(path, np.stack([left, np.zeros_like(left)], axis=1), 16000, subtype="PCM_16")
    assert rms(load_audio(path)) == pytest.approx(0.25 / np.sqrt(2), rel=0.02)


def test_float_beyond_full_scale_is_clipped(tmp_path: Path) -> None:
    path = tmp_path / "loud.wav"
    soundfile.write(path, tone(16000, amp=3.0), 16000, subtype="FLOAT")
    samples = np.frombuffer(load_audio(path).audio, dtype="<i2")
    assert samples.max() == 32767
    assert samples.min() == -32768


@pytest.mark.parametrize("kind", ["silence", "noise"])
def test_silence_and_noise_are_valid_audio(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"{kind}.wav"
    data = np.zeros(16000) if kind == "silence" else np.random.default_rng(2).normal(0, 0.3, 16000)
    soundfile.write(path, np.clip(data, -1, 1), 16000, subtype="PCM_16")
    assert load_audio(path).samples == 16000


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match=r"nothere\.wav does not exist; check the path"):
        load_audio(tmp_path / "nothere.wav")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="is a folder, not an audio file; give a WAV, FLAC or AIFF file"):
        load_audio(tmp_path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.touch()
    with pytest.raises(AudioError, match=r"empty\.wav is empty \(0 bytes\); record or export the audio again"):
        load_audio(path)


def test_text_named_wav(tmp_path: Path) -> None:
    path = tmp_path / "notes.wav"
    path.write_text("remember to buy flowers\n")
    with pytest.raises(AudioError, match=r"notes\.wav is not audio \(it holds text, no RIFF header\)"):
        load_audio(path)


def test_binary_junk(tmp_path: Path) -> None:
    path = tmp_path / "junk.wav"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(AudioError, match=r"junk\.wav is not audio libsndfile can read"):
        load_audio(path)


def test_wav_without_data_chunk_is_damaged(tmp_path: Path) -> None:
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, tone(16000), 16000, subtype="PCM_16")
    path = tmp_path / "cut.wav"
    path.write_bytes(whole.read_bytes()[:30])
    with pytest.raises(AudioError, match=r"cut\.wav is a damaged WAV file \(.*\); export or record it again"):
        load_audio(path)


def test_truncated_wav_loads_what_is_there_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    whole = tmp_path / "whole.wav"
    soundfile.write(whole, tone(16000), 16000, subtype="PCM_16")
    path = tmp_path / "cut.wav"
    data = whole.read_bytes()
    path.write_bytes(data[: 44 + 16000])
    with caplog.at_level(logging.WARNING, logger="audio.files"):
        chunk = load_audio(path)
    assert chunk.audio == data[44 : 44 + 16000]
    assert "cut.wav is truncated" in caplog.text


def test_zero_samples(tmp_path: Path) -> None:
    path = tmp_path / "nothing.wav"
    soundfile.write(path, np.zeros(0), 16000, subtype="PCM_16")
    with pytest.raises(AudioError, match=r"nothing\.wav holds no audio \(0 samples\)"):
        load_audio(path)


def test_too_long(tmp_path: Path) -> None:
    path = tmp_path / "x.wav"
    soundfile.write(path, np.zeros(8000 * 600, dtype=np.int16), 8000, subtype="PCM_U8")
    with pytest.raises(AudioError) as caught:
        load_audio(path)
    assert str(caught.value) == f"{path} is 600 s long; Rekindle hears one utterance per file, at most 30 s"


def test_max_seconds_is_a_parameter(tmp_path: Path) -> None:
    path = tmp_path / "two.wav"
    soundfile.write(path, tone(16000, seconds=2.0), 16000, subtype="PCM_16")
    assert load_audio(path, max_seconds=2.5).milliseconds == 2000
    with pytest.raises(AudioError, match=r"is 2 s long; .* at most 1 s"):
        load_audio(path, max_seconds=1.0)


def test_unreadable_file(tmp_path: Path) -> None:
    """Permission denied for real: as root (CI) the check runs in a child without CAP_DAC_OVERRIDE."""
    path = tmp_path / "private.wav"
    soundfile.write(path, tone(16000), 16000, subtype="PCM_16")
    path.chmod(0o000)
    if os.geteuid() != 0:
        with pytest.raises(AudioError, match=r"cannot read .*private\.wav \(permission denied\)"):
            load_audio(path)
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and util-linux setpriv is missing: cannot drop the override capability")
    script = (
        "import sys; from pathlib import Path; from audio.files import load_audio\n"
        "from assistant.errors import AudioError\n"
        "try:\n    load_audio(Path(sys.argv[1]))\nexcept AudioError as e:\n    print(e)\n"
    )
    done = subprocess.run(
        [setpriv, "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-c", script, str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    assert "permission denied" in done.stdout, done.stderr
    assert "private.wav" in done.stdout


def test_save_wav_round_trip_private_and_atomic(tmp_path: Path) -> None:
    pcm = np.arange(-8000, 8000, dtype="<i2").tobytes()
    path = save_wav(AudioChunk(16000, 2, 1, pcm), tmp_path / "clip.wav")
    assert load_audio(path).audio == pcm
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.wav"]


def test_save_wav_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.wav"
    path.write_text("old")
    save_wav(AudioChunk(16000, 2, 1, bytes(320)), path)
    assert load_audio(path).samples == 160


def test_save_wav_refuses_non_standard_audio(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="convert it to 16 kHz 16-bit mono first"):
        save_wav(AudioChunk(44100, 2, 2, bytes(400)), tmp_path / "x.wav")


def test_save_wav_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="does not exist; create it first"):
        save_wav(AudioChunk(16000, 2, 1, bytes(320)), tmp_path / "nope" / "x.wav")
