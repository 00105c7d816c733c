"""audio/stt/hybrid.py with both REAL engines: PocketSphinx's grammar and Moonshine, cross-checked, on
synthesised speech; and `rekindle hear` / `rekindle listen --engine hybrid` as processes (listen through the
virtual ALSA microphone)."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers_cli import json_lines, rekindle

from assistant.errors import SpeechError
from audio.chunk import AudioChunk
from audio.files import save_wav
from audio.recognize import recognize_utterance
from audio.stt import Mode, Transcript
from audio.synth import BABBLE_10, PINK_10, PIPER, ROOM_FAR
from intents.matcher import Matcher

if importlib.util.find_spec("moonshine_cpp") is None or importlib.util.find_spec("onnxruntime") is None:
    pytest.skip("moonshine-cpp is not installed (it has x86-64 wheels only)", allow_module_level=True)

from audio.stt.hybrid import SURE, SURE_WORDS, HybridEngine, agree
from audio.stt.registry import create_engine


@pytest.fixture(scope="module")
def hybrid(intent_matcher: Matcher) -> HybridEngine:
    from assistant.paths import default_cache_dir

    engine = create_engine("hybrid", matcher=intent_matcher, cache_dir=default_cache_dir())
    assert isinstance(engine, HybridEngine)
    engine.load()
    return engine


def _heard(text: str, confidence: float = 0.9) -> Transcript:
    return Transcript(text, confidence, Mode.COMMAND)


def test_agreement_rule() -> None:
    assert agree("help me plan a date night", _heard("help me plant a date night"))
    assert not agree("start date night", _heard("start a timer for twenty minutes"))  # 1 of 3 words
    assert agree("skip", _heard(""))  # Moonshine often hears nothing in a one-word command
    assert agree("stop", _heard("star"))
    assert agree("skip", _heard("let's get it let", 0.58))  # or something else, unsure
    assert not agree("skip", _heard("let's get it let", 0.9))
    assert not agree("give us a conversation starter", _heard(""))
    assert not agree("show me one new dates", _heard("show me the news", 0.3))  # long: words count, not confidence
    assert agree("help me find my core issues", _heard("help me find my glasses"))  # 4 of 6: a known false accept


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("give us something romantic to do tonight", "date_idea"),  # Moonshine's words match a template
        ("skip", "next"),  # the grammar's, Moonshine agreeing or silent
        ("stop", "stop"),
        ("help me plan a date night", "date_idea"),
    ],
)
def test_commands(
    hybrid: HybridEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk], text: str, intent: str
) -> None:
    heard = recognize_utterance(hybrid, intent_matcher, say(text), Mode.COMMAND)
    assert heard.intent.intent == intent, heard.transcript.text


def test_moonshine_vetoes_what_the_grammar_forced(
    hybrid: HybridEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    """Out-of-domain speech the grammar alone takes for a command is rejected when Moonshine heard other words."""
    forced, vetoed = 0, 0
    for text in ("read me the news", "play some jazz", "is the store open", "show me the news"):
        audio = say(text)
        alone = recognize_utterance(hybrid.grammar, intent_matcher, audio, Mode.COMMAND, second_chance=False)
        both = recognize_utterance(hybrid, intent_matcher, audio, Mode.COMMAND)
        assert both.intent.intent == "none", (text, both.transcript.text)
        forced += alone.intent.intent != "none"
        vetoed += alone.intent.intent != "none" and both.intent.intent == "none"
    assert forced >= 2 and vetoed == forced  # the grammar alone took these for commands on the bench


def test_a_sentence_moonshine_is_sure_of_is_not_bent_into_a_command(
    hybrid: HybridEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    """Cooking timers: the grammar alone hears a date night ("set date timer for ten minutes"), and half its words
    are Moonshine's too; Moonshine is sure of a sentence no template reads, so nothing is a command."""
    for text in ("set a timer for ten minutes for the potatoes", "set a timer for twelve minutes for the eggs"):
        audio = say(text)
        alone = recognize_utterance(hybrid.grammar, intent_matcher, audio, Mode.COMMAND, second_chance=False)
        assert alone.intent.intent == "date_night_start", alone.transcript.text
        heard = hybrid.moonshine.transcribe(audio, Mode.COMMAND)
        assert len(heard.words) >= SURE_WORDS and heard.confidence >= SURE, heard
        both = recognize_utterance(hybrid, intent_matcher, audio, Mode.COMMAND)
        assert both.intent.intent == "none", both.transcript.text


@pytest.mark.parametrize("condition", [PINK_10, BABBLE_10, ROOM_FAR], ids=lambda c: c.name)
def test_commands_in_noise_talk_and_a_far_room(
    hybrid: HybridEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk], condition: object
) -> None:
    heard = recognize_utterance(
        hybrid, intent_matcher, say("give us a conversation starter", PIPER, condition), Mode.COMMAND
    )
    assert heard.intent.intent == "conversation_starter", heard.transcript.text


def test_streamed_like_the_microphone_equals_whole(hybrid: HybridEngine, say: Callable[..., AudioChunk]) -> None:
    for text in ("how can we listen to each other better", "next"):
        audio = say(text)
        stream = hybrid.start(Mode.COMMAND)
        for at in range(0, len(audio.audio), 960):
            stream.feed(AudioChunk(audio.rate, audio.width, audio.channels, audio.audio[at : at + 960]))
        assert stream.finish().text == hybrid.transcribe(audio, Mode.COMMAND).text


def _endpointed(hybrid: HybridEngine, audio: AudioChunk, mode: Mode, pauses: bool = True) -> tuple[Transcript, int]:
    """The audio through a real Endpointer (Silero VAD) in microphone-sized chunks, into a stream as `listen`
    drives it: (the transcript, how many pauses were announced)."""
    from audio.endpoint import Endpointer, SpeechAudio, SpeechEnded, SpeechPaused, SpeechResumed, SpeechStarted

    endpointer, stream, paused = Endpointer(), None, 0
    data = audio.audio + bytes(32 * 800)  # the clip, then silence past the endpoint (600 ms)
    for at in range(0, len(data), 960):
        chunk = AudioChunk(audio.rate, audio.width, audio.channels, data[at : at + 960], at // 32)
        for event in endpointer.process(chunk):
            if isinstance(event, SpeechStarted):
                stream = hybrid.start(mode)
            elif isinstance(event, SpeechAudio) and stream is not None:
                stream.feed(event.chunk)
            elif isinstance(event, (SpeechPaused, SpeechResumed)) and stream is not None and pauses:
                paused += isinstance(event, SpeechPaused)
                stream.pause(isinstance(event, SpeechPaused))
            elif isinstance(event, SpeechEnded) and stream is not None:
                return stream.finish(), paused
    raise AssertionError("no endpoint")


@pytest.mark.parametrize("mode", [Mode.COMMAND, Mode.DICTATION])
def test_decoding_from_the_pause_gives_what_decoding_at_the_end_gives(
    hybrid: HybridEngine, say: Callable[..., AudioChunk], mode: Mode
) -> None:
    """Moonshine starts at the pause (`anticipate_ms` before the endpoint): same words as decoding at the end."""
    for text in ("give us a conversation starter", "we cooked dinner together and laughed a lot"):
        audio = say(text)
        early, paused = _endpointed(hybrid, audio, mode)
        late, _ = _endpointed(hybrid, audio, mode, pauses=False)
        assert paused >= 1
        assert early.text == late.text == hybrid.transcribe(audio, mode).text, (early.text, late.text)


def test_speech_after_a_pause_is_not_lost(hybrid: HybridEngine, say: Callable[..., AudioChunk]) -> None:
    """A decode started at a pause is dropped when the person goes on: the words after it are heard."""
    first, second = say("we cooked dinner together"), say("and then we danced in the kitchen")
    stream = hybrid.start(Mode.DICTATION)
    stream.feed(first)
    stream.pause(True)
    stream.feed(second)
    stream.pause(False)
    heard = stream.finish().text
    assert heard.startswith("we cook") and heard.endswith("danced in the kitchen"), heard
    stale = hybrid.start(Mode.DICTATION)  # what the pause alone would have given: the first half only
    stale.feed(first)
    stale.pause(True)
    assert stale.finish().text in ("we cooked dinner together", "we cook dinner together")


def test_the_listener_starts_decoding_at_the_pause(
    hybrid: HybridEngine, say: Callable[..., AudioChunk], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`listen`'s loop hands the endpointer's pauses to the stream: every turn, the first of the session too, is
    answered by the decode that started at the pause."""
    import logging

    from assistant.app import App
    from assistant.listen import Listener

    app = App(tmp_path / "data", None)
    app.settings = app.settings.replace(mute=True)
    listener = Listener(app, hybrid, app.dialog(), as_json=True)
    audio = b"".join(say(text).audio + bytes(32 * 800) for text in ("give us a conversation starter", "next"))
    chunks = [AudioChunk(16000, 2, 1, audio[at : at + 960], at // 32) for at in range(0, len(audio), 960)]
    with caplog.at_level(logging.DEBUG, logger="audio.stt.whole"):
        listener.process(chunks)
    app.close()
    assert listener.turns == 2
    assert sum("decoded from the pause" in r.getMessage() for r in caplog.records) == 2


def test_wrong_audio_format_is_refused_in_either_mode(hybrid: HybridEngine) -> None:
    for mode in (Mode.COMMAND, Mode.DICTATION):
        with pytest.raises(SpeechError, match="16"):
            hybrid.start(mode).feed(AudioChunk(44100, 2, 2, b"\0" * 400))


def test_dictation_is_moonshines(hybrid: HybridEngine, say: Callable[..., AudioChunk]) -> None:
    heard = hybrid.transcribe(say("we walked along the river after work"), Mode.DICTATION)
    assert heard.text == "we walked along the river after work"
    stream = hybrid.start(Mode.DICTATION)
    stream.feed(say("we walked along the river after work"))
    assert stream.finish().text == heard.text


def test_hear_cli(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    files = [
        save_wav(say(text), tmp_path / f"{name}.wav")
        for name, text in (("skip", "skip"), ("news", "read me the news"), ("thanks", "I'm grateful for our walk"))
    ]
    done = rekindle("hear", "--json", "--engine", "hybrid", *files, data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    results = json_lines(done.stdout)
    assert [r["intent"] for r in results] == ["next", "none", "log_gratitude"], results
    assert results[2]["slots"] == {"text": "our walk"}


def test_hear_cli_reads_a_request_by_meaning_unless_turned_off(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    """Spoken words no template or keyword rule reads: the second chance hands Moonshine's words to the matcher,
    whose meaning tier reads them (confidence at most 0.5); `understand_by_meaning = false` leaves them `none`."""
    wav = save_wav(say("we feel like flatmates passing each other in the hallway"), tmp_path / "flatmates.wav")
    done = rekindle("hear", "--json", "--engine", "hybrid", wav, data_dir=tmp_path / "data")
    assert done.returncode == 0, done.stderr
    (heard,) = json_lines(done.stdout)
    assert (heard["intent"], heard["slots"]) == ("strategy_advice", {"strategy": "quality_time"}), heard
    assert 0 < heard["confidence"] <= 0.5
    assert "hallway" in heard["transcript"]
    settings = tmp_path / "config.toml"
    settings.write_text("understand_by_meaning = false\n")
    off = rekindle("--config", settings, "hear", "--json", "--engine", "hybrid", wav, data_dir=tmp_path / "data")
    assert [x["intent"] for x in json_lines(off.stdout)] == ["none"], off.stderr


def test_listen_through_the_virtual_microphone(tmp_path: Path, say: Callable[..., AudioChunk]) -> None:
    from test_listen import listen, mic_file

    clips = [say("give us a conversation starter"), say("what's the weather like in paris"), say("next")]
    lines, code, err = listen(tmp_path, mic_file(tmp_path / "mic.raw", clips), 2, "--engine", "hybrid", timeout=240.0)
    assert [x["intent"] for x in lines if "intent" in x] == ["conversation_starter", "next"], err
    assert code == 0, err
    assert "Traceback" not in err
