"""audio/stt/moonshine.py on the REAL model: Moonshine's base English model from the moonshine-cpp wheel,
prepared for onnxruntime (audio/stt/moonshine_prepare.py), decoding real synthesised speech.

The model is prepared once per machine into the user's cache folder (about 40 s the first time)."""

from __future__ import annotations

import importlib.util
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from helpers_cli import json_lines, one_error_line, rekindle

from assistant.errors import ModelError, SpeechError
from audio.chunk import AudioChunk
from audio.files import save_wav
from audio.recognize import recognize_utterance
from audio.stt import Mode
from audio.synth import BABBLE_10, PINK_10, PIPER, ROOM_FAR, Voice
from intents.matcher import Matcher

if importlib.util.find_spec("moonshine_cpp") is None or importlib.util.find_spec("onnxruntime") is None:
    pytest.skip("moonshine-cpp is not installed (it has x86-64 wheels only)", allow_module_level=True)

from audio.stt.moonshine import (
    MoonshineEngine,
    _clean,
    _looping,
    _to_words,
    prepared_model,
    read_tokens,
    source_folder,
    unloop,
)
from audio.stt.moonshine_prepare import DECODER_NEXT, PREPARED

SLOW = Voice("piper", "joe", 0.9)


@pytest.fixture(scope="module")
def moonshine() -> MoonshineEngine:
    from assistant.paths import default_cache_dir

    engine = MoonshineEngine(cache_dir=default_cache_dir())
    engine.load()
    return engine


@pytest.mark.parametrize(
    ("text", "intent", "slots"),
    [
        ("give us something romantic to do tonight", "date_idea", {}),
        ("ask us a deep question", "conversation_starter", {"depth": "deep"}),
        ("how can I listen better", "strategy_advice", {"strategy": "active_listening"}),
        ("what was I grateful for this week", "review_gratitude", {"period": "this_week"}),
        ("start date night for thirty minutes", "date_night_start", {"minutes": 30}),
    ],
)
def test_spoken_commands_are_understood(
    moonshine: MoonshineEngine,
    intent_matcher: Matcher,
    say: Callable[..., AudioChunk],
    text: str,
    intent: str,
    slots: dict[str, object],
) -> None:
    heard = recognize_utterance(moonshine, intent_matcher, say(text), Mode.COMMAND)
    assert heard.intent.intent == intent, heard.transcript.text
    assert heard.intent.slots == slots
    assert 0.0 < heard.transcript.confidence <= 1.0
    assert all(word == word.lower() and "." not in word for word, _ in heard.transcript.words)


@pytest.mark.parametrize("condition", [PINK_10, BABBLE_10, ROOM_FAR], ids=lambda c: c.name)
def test_commands_survive_noise_talk_and_a_far_talker(
    moonshine: MoonshineEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk], condition: object
) -> None:
    """What PocketSphinx's acoustic model loses: background speech at 10 dB (2% of its commands kept on the
    bench) and a talker across a reverberant room (33%)."""
    heard = recognize_utterance(
        moonshine, intent_matcher, say("give us a conversation starter", PIPER, condition), Mode.COMMAND
    )
    assert heard.intent.intent == "conversation_starter", heard.transcript.text


def test_one_breath_gratitude_keeps_its_words(
    moonshine: MoonshineEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    heard = recognize_utterance(
        moonshine, intent_matcher, say("I'm grateful that Sam cooked dinner for me tonight", SLOW), Mode.COMMAND
    )
    assert heard.intent.intent == "log_gratitude"
    assert str(heard.intent.slots["text"]) == "sam cooked dinner for me tonight"


def test_dictation_transcribes_a_sentence(moonshine: MoonshineEngine, say: Callable[..., AudioChunk]) -> None:
    heard = moonshine.transcribe(say("we walked along the river after work"), Mode.DICTATION)
    assert heard.text == "we walked along the river after work"
    assert heard.mode is Mode.DICTATION


def test_speech_that_is_not_a_command_means_none(
    moonshine: MoonshineEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    for text in ("what's the weather like in paris", "turn off the kitchen lights"):
        heard = recognize_utterance(moonshine, intent_matcher, say(text), Mode.COMMAND)
        assert heard.transcript.text, text  # heard, but not a command
        assert heard.intent.intent == "none", heard.transcript.text


def test_streaming_in_chunks_equals_whole(moonshine: MoonshineEngine, say: Callable[..., AudioChunk]) -> None:
    audio = say("tell us a date night idea")
    stream = moonshine.start(Mode.COMMAND)
    step = 3200
    for at in range(0, len(audio.audio), step):
        stream.feed(AudioChunk(audio.rate, audio.width, audio.channels, audio.audio[at : at + step]))
    assert stream.finish().text == moonshine.transcribe(audio, Mode.COMMAND).text
    with pytest.raises(SpeechError):
        stream.finish()


def test_silence_and_a_click_give_nothing(moonshine: MoonshineEngine) -> None:
    assert moonshine.transcribe(AudioChunk(16000, 2, 1, b""), Mode.COMMAND).text == ""
    click = AudioChunk(16000, 2, 1, np.full(400, 8000, np.int16).tobytes())
    assert moonshine.transcribe(click, Mode.COMMAND).confidence == 0.0


def test_wrong_audio_format_is_refused(moonshine: MoonshineEngine) -> None:
    with pytest.raises(SpeechError, match="16"):
        moonshine.start(Mode.COMMAND).feed(AudioChunk(44100, 2, 2, b"\0" * 400))


def test_prepared_model_matches_the_original_decoder(
    moonshine: MoonshineEngine, say: Callable[..., AudioChunk]
) -> None:
    """The rebuilt, quantised model hears what the wheel's own files hear (run, slowly, by onnxruntime)."""
    import onnxruntime

    source = source_folder()
    audio = say("help me plan a surprise for my partner")
    samples = np.frombuffer(audio.audio, "<i2").astype(np.float32) / 32768.0
    from audio.stt.moonshine import _trim

    samples = _trim(samples)
    encoder = onnxruntime.InferenceSession(str(source / "encoder_model.ort"), providers=["CPUExecutionProvider"])
    decoder = onnxruntime.InferenceSession(str(source / "decoder_model_merged.ort"), providers=["CPUExecutionProvider"])
    hidden = encoder.run(None, {"input_values": samples[None, :]})[0]
    names = [o.name for o in decoder.get_outputs()][1:]
    past = {n.replace("present", "past_key_values"): np.zeros((1, 8, 0, 52), np.float32) for n in names}
    tokens: list[tuple[int, float]] = []
    token, cached = 1, False
    for _ in range(40):
        feed = {"input_ids": np.array([[token]], np.int64), "encoder_hidden_states": hidden}
        feed["use_cache_branch"] = np.array([cached])
        outputs = decoder.run(None, {**feed, **past})
        token = int(outputs[0][0, -1].argmax())
        if token == 2:
            break
        tokens.append((token, 1.0))
        for name, value in zip(names, outputs[1:], strict=True):
            if not (cached and ".encoder." in name):
                past[name.replace("present", "past_key_values")] = value
        cached = True
    table = read_tokens((source / "tokenizer.bin").read_bytes())
    original = " ".join(word for word, _ in _to_words(tokens, table))
    assert original == "help me plan a surprise for my partner"
    assert moonshine.transcribe(audio, Mode.COMMAND).text == original


def test_words_are_cleaned_as_people_write_them() -> None:
    assert _clean("give us something romantic to do to-night.") == "give us something romantic to do tonight"
    assert _clean("what's a good idea?") == "what's a good idea"
    assert _clean("five-minute chat, please!") == "five minute chat please"
    assert _clean("‘quoted’ words") == "quoted words"


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("move on move on", "move on"),
        ("another another another", "another"),
        ("add an entry add an entry add an entry add an", "add an entry"),
        ("stop rekindle stop rekindle stop rekind", "stop rekindle"),
        ("bye bye", "bye"),
        (
            "how can i be more romantic with my wife how can i be more romantic",
            "how can i be more romantic with my wife",
        ),
        ("we need to talk we", "we need to talk we"),  # the second copy too short to tell
        ("let's talk about talk", "let's talk about talk"),
        ("no no no no", "no"),
        ("yes please", "yes please"),
        ("", ""),
    ],
)
def test_a_transcript_said_over_and_over_is_kept_once(heard: str, meant: str) -> None:
    words = [(word, 0.5 + i / 100) for i, word in enumerate(heard.split())]
    kept = unloop(words)
    assert " ".join(word for word, _ in kept) == meant
    assert kept == words[: len(kept)]  # the first copy, with its own confidences


def test_the_decoder_stops_once_it_repeats_itself_three_times() -> None:
    assert _looping([7, 7, 7])
    assert _looping([4, 9, 4, 9, 4, 9])
    assert not _looping([4, 9, 4, 9])
    assert not _looping([4, 9, 4, 9, 4])
    assert not _looping([1, 2, 3, 1, 2, 3, 1, 2])
    assert not _looping([])


def test_the_tokenizer_file_is_read_and_checked() -> None:
    table = read_tokens((source_folder() / "tokenizer.bin").read_bytes())
    assert table[:3] == [b"<unk>", b"<s>", b"</s>"]
    assert len(table) == 32000
    with pytest.raises(ValueError, match="cut short"):
        read_tokens(b"\x05<unk>\x03<s>\x09</s")
    long_token = read_tokens(b"\x01a\x01b\x01c" + bytes([0x80 | 2, 1]) + b"x" * 130)
    assert long_token[3] == b"x" * 130


def test_a_damaged_prepared_model_is_reported_in_one_line(tmp_path: Path) -> None:
    from assistant.paths import default_cache_dir

    prepared = prepared_model(default_cache_dir())
    broken_cache = tmp_path / "cache"
    shutil.copytree(prepared, broken_cache / prepared.name)
    (broken_cache / prepared.name / DECODER_NEXT).write_bytes(b"not a model")
    with pytest.raises(ModelError, match=r"damaged.*delete that folder"):
        MoonshineEngine(cache_dir=broken_cache).load()
    assert all((prepared / name).is_file() for name in PREPARED)  # the real one is untouched


def test_a_missing_model_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no Moonshine model in .*reinstall moonshine-cpp"):
        MoonshineEngine(cache_dir=tmp_path, model_dir=tmp_path / "nothing").load()


def test_preparing_refuses_a_damaged_source_and_leaves_nothing_behind(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in ("encoder_model.ort", "decoder_model_merged.ort", "tokenizer.bin"):
        (source / name).write_bytes(b"\0" * 64)
    with pytest.raises(ModelError, match="could not prepare the Moonshine model"):
        prepared_model(tmp_path / "cache", source)
    assert [p for p in (tmp_path / "cache").iterdir()] == []


def test_hear_cli_with_the_moonshine_engine(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    files = [
        save_wav(say(text), tmp_path / f"{name}.wav")
        for name, text in (("idea", "give us a date night idea"), ("weather", "what's the weather like in paris"))
    ]
    done = rekindle("hear", "--json", "--engine", "moonshine", *files, data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    results = json_lines(done.stdout)
    assert [r["intent"] for r in results] == ["date_idea", "none"]
    assert "weather" in results[1]["transcript"]
    assert "Traceback" not in done.stderr
    bad = rekindle("hear", "--engine", "moonshine", tmp_path / "missing.wav", data_dir=tmp_path / "data")
    assert bad.returncode == 1
    assert "missing.wav" in one_error_line(bad.stderr) or "missing.wav" in bad.stdout
