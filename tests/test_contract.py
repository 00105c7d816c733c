"""The intent contract: every intent has templates, a handler, and a real reply when driven through the dialog."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.clock import FakeClock
from assistant.content import load_content
from assistant.dialog import HANDLERS, Dialog
from assistant.journal import Journal
from assistant.skills.base import SkillContext
from intents.matcher import INTENT_NAMES, NONE, Matcher

CONTENT = load_content()

SCENES: dict[str, tuple[tuple[str, ...], str, str | None]] = {
    "conversation_starter": ((), "give me a conversation starter", None),
    "log_gratitude": ((), "log something I'm grateful for", "gratitude_ask"),
    "review_gratitude": (("I'm grateful for the sunshine",), "read my gratitude journal", None),
    "strategy_advice": ((), "tell me about active listening", None),
    "date_idea": ((), "give me a date night idea", None),
    "date_night_start": ((), "start date night", None),
    "date_night_stop": (("start date night",), "end date night", None),
    "date_night_pause": (("start date night",), "pause date night", "date_night_paused"),
    "date_night_resume": (("start date night", "pause date night"), "resume date night", "date_night_resumed"),
    "next": (("give me a conversation starter",), "another one", None),
    "repeat": (("give me a date night idea",), "say that again", None),
    "help": ((), "what can you do", "help"),
    "stop": ((), "stop", "stopped"),
    "yes": (("I'm grateful for the sunshine", "delete that"), "yes", "deleted"),
    "no": (("I'm grateful for the sunshine", "delete that"), "no", "delete_kept"),
    "delete_gratitude": (("I'm grateful for the sunshine",), "delete that", None),
    NONE: ((), "what's the weather", "not_understood"),
}
"""intent -> (turns that set the scene, a representative phrase, the reply key expected, if one fixed key)."""


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher()


@pytest.fixture
def dialog(tmp_path: Path, matcher: Matcher) -> Iterator[Dialog]:
    with Journal(tmp_path / "journal.db") as book:
        ctx = SkillContext(CONTENT, book, book, FakeClock(), random.Random(3))
        yield Dialog(ctx, matcher)


def test_the_scenes_cover_every_intent() -> None:
    assert set(SCENES) == set(INTENT_NAMES)


@pytest.mark.parametrize("intent", [name for name in INTENT_NAMES if name != NONE])
def test_every_intent_has_templates(matcher: Matcher, intent: str) -> None:
    assert intent in matcher.intents.intents
    assert sum(len(data.sentences) for data in matcher.intents.intents[intent].data) > 0


def test_none_has_no_templates(matcher: Matcher) -> None:
    assert NONE not in matcher.intents.intents


def test_every_intent_has_a_handler_and_no_handler_is_orphaned() -> None:
    assert set(HANDLERS) == set(INTENT_NAMES)


@pytest.mark.parametrize("intent", INTENT_NAMES)
def test_every_intent_gets_a_reply_through_the_dialog(dialog: Dialog, intent: str) -> None:
    setup, phrase, key = SCENES[intent]
    for text in setup:
        assert dialog.handle(text).intent.intent != NONE, text
    turn = dialog.handle(phrase)
    assert turn.intent.intent == intent
    assert turn.reply.strip()
    if key is not None:
        assert turn.reply in CONTENT.replies[key]
    if intent != NONE:
        assert turn.reply not in CONTENT.replies["not_understood"]
