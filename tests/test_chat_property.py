"""Whatever is typed, the dialog answers: a known intent and a non-empty reply, never an exception."""

from __future__ import annotations

import random
from pathlib import Path

from helpers_cli import json_lines, rekindle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.clock import FakeClock
from assistant.content import load_content
from assistant.dialog import Dialog
from assistant.journal import Journal
from assistant.skills.base import SkillContext
from intents.matcher import INTENT_NAMES, Matcher

COMMANDS = [
    "give me a conversation starter",
    "another one",
    "log something I'm grateful for",
    "I'm grateful for ",
    "what have I been grateful for this week",
    "delete that",
    "yes",
    "no",
    "stop",
    "say that again",
    "start date night for 1 minutes",
    "pause date night",
    "resume date night",
    "end date night",
    "tell me more",
]
"""Commands mixed into random input so the dialog's pending states (dictation, delete) are exercised too."""

ODD = st.characters(exclude_categories=())
"""Any code point: controls, NUL, combining marks, right-to-left, emoji, and lone surrogates (what undecodable bytes
on a command line become)."""
TEXTS = st.one_of(
    st.text(ODD, max_size=80),
    st.text(ODD, min_size=2000, max_size=3000),  # around and past the matcher's input limit
    st.builds(lambda a, b: a + b, st.sampled_from(COMMANDS), st.text(ODD, max_size=40)),
    st.sampled_from(COMMANDS),
)


def make_dialog(path: Path, clock: FakeClock) -> Dialog:
    book = Journal(path)
    ctx = SkillContext(load_content(), book, book, clock, random.Random(11))
    return Dialog(ctx, Matcher())


def test_any_text_gets_a_known_intent_and_a_reply(tmp_path: Path) -> None:
    clock = FakeClock()
    dialog = make_dialog(tmp_path / "journal.db", clock)

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(texts=st.lists(TEXTS, min_size=1, max_size=4), wait=st.floats(0, 600))
    def check(texts: list[str], wait: float) -> None:
        for text in texts:
            turn = dialog.handle(text)
            assert turn.intent.intent in INTENT_NAMES
            assert turn.reply.strip()
            clock.advance(wait)
            assert all(reply.strip() for reply in dialog.poll())

    try:
        check()
    finally:
        assert dialog.ctx.journal is not None
        dialog.ctx.journal.close()


def test_a_one_megabyte_line_through_chat_gives_one_json_line(tmp_path: Path) -> None:
    huge = "we " * 350_000  # about 1 MB
    done = rekindle("chat", "--json", "--mute", data_dir=tmp_path, stdin=f"\n{huge}\n   \n\n")
    assert done.returncode == 0, done.stderr
    [turn] = json_lines(done.stdout)
    assert turn["intent"] in INTENT_NAMES
    assert turn["reply"].strip()
    assert turn["text"] == huge
