"""The dialog as a person meets it, turn by turn: real journal file, real content, real matcher, a fake clock."""

from __future__ import annotations

import random
import re
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from assistant.clock import FakeClock
from assistant.content import Content, load_content
from assistant.datenight import Phase
from assistant.dialog import Dialog, Turn
from assistant.journal import Journal
from assistant.safety import crisis_reply
from assistant.skills.base import SkillContext
from audio.stt import Mode
from intents.matcher import Matcher

CONTENT = load_content()
STARTERS = {s.text: s for s in CONTENT.starters}
EXERCISES = {e.text for e in CONTENT.exercises}
ROMANCE_AT_HOME = {d.text for d in CONTENT.dates if d.strategy == "romance" and d.place == "home"}
DATE_IDEAS = {d.text for d in CONTENT.dates}
INTERVAL = 480.0
"""Seconds between date-night prompts: the default 8 minutes."""


def variants(key: str, **values: object) -> set[str]:
    """Every way the dialog may say reply `key` with these values."""
    return {v.format(**values) for v in CONTENT.replies[key]}


def starts_with_variant(reply: str, key: str, **values: object) -> bool:
    return any(reply.startswith(v) for v in variants(key, **values))


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as book:
        yield book


def make_dialog(
    journal: Journal, clock: FakeClock, matcher: Matcher, seed: int = 7, interval: float = INTERVAL
) -> Dialog:
    """Wired the way App.dialog() wires it, with a fake clock and a seeded random source."""
    ctx = SkillContext(load_content(), journal, journal, clock, random.Random(seed))
    return Dialog(ctx, matcher, interval)


@pytest.fixture
def dialog(journal: Journal, clock: FakeClock, matcher: Matcher) -> Dialog:
    return make_dialog(journal, clock, matcher)


def say(dialog: Dialog, text: str, intent: str | None = None) -> Turn:
    """One turn; if `intent` is given, the text must have been understood as that intent."""
    turn = dialog.handle(text)
    if intent is not None:
        assert turn.intent.intent == intent, (text, turn.intent)
    assert turn.reply.strip(), text
    return turn


def starter_of(reply: str) -> str:
    """The starter text in a reply (which may open with the deck-reshuffled notice)."""
    for notice in variants("deck_reshuffled"):
        if reply.startswith(notice + " "):
            reply = reply[len(notice) + 1 :]
    assert reply in STARTERS, reply
    return reply


def snapshot(path: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    """Every row of the journal file (entries and state), read through a separate connection."""
    with sqlite3.connect(path) as db:
        entries = db.execute("SELECT * FROM entries ORDER BY id").fetchall()
        state = db.execute("SELECT * FROM state ORDER BY key").fetchall()
    return entries, state


def advance_to(clock: FakeClock, when: datetime) -> None:
    delta = (when - clock.now()).total_seconds()
    assert delta >= 0
    clock.advance(delta)


# -- conversation starters -----------------------------------------------------------------------------


def test_another_one_gives_a_different_starter(dialog: Dialog) -> None:
    first = starter_of(say(dialog, "give me a conversation starter", "conversation_starter").reply)
    second = starter_of(say(dialog, "another one", "next").reply)
    assert first != second


def test_whole_starter_deck_is_drawn_without_repeat_across_a_restart(
    tmp_path: Path, clock: FakeClock, matcher: Matcher
) -> None:
    path = tmp_path / "journal.db"
    total = len(CONTENT.starters)
    heard: list[str] = []
    with Journal(path) as book:
        first = make_dialog(book, clock, matcher, seed=1)
        heard.append(starter_of(say(first, "give me a conversation starter").reply))
        heard += [starter_of(say(first, "another one").reply) for _ in range(total // 2 - 1)]
    with Journal(path) as book:  # a restart: new process, new dialog, new random seed, same file
        second = make_dialog(book, clock, matcher, seed=2)
        heard.append(starter_of(say(second, "ask us a question").reply))
        heard += [starter_of(say(second, "next").reply) for _ in range(total - len(heard))]
        assert len(heard) == total
        assert set(heard) == set(STARTERS)
        again = say(second, "another one").reply
    assert starts_with_variant(again, "deck_reshuffled")
    assert starter_of(again) != heard[-1]


@pytest.mark.parametrize(
    ("text", "depth"),
    [("ask us a deep question", "deep"), ("give me a light conversation starter", "light")],
)
def test_depth_is_respected_also_for_another_one(dialog: Dialog, text: str, depth: str) -> None:
    turn = say(dialog, text, "conversation_starter")
    assert turn.intent.slots == {"depth": depth}
    replies = [turn.reply] + [say(dialog, "another one").reply for _ in range(8)]
    assert {STARTERS[starter_of(r)].depth for r in replies} == {depth}
    assert len(set(replies)) == len(replies)


# -- gratitude journal ---------------------------------------------------------------------------------


def test_log_gratitude_asks_then_saves_the_next_turn_verbatim(dialog: Dialog, journal: Journal) -> None:
    asked = say(dialog, "log something I'm grateful for", "log_gratitude")
    assert asked.reply in variants("gratitude_ask")
    assert asked.expect is Mode.DICTATION
    assert dialog.expect is Mode.DICTATION
    assert journal.entries() == []

    words = "Our slow Sunday breakfast, and Sam's pancakes!"
    saved = say(dialog, words)
    assert saved.intent.intent == "log_gratitude"
    assert saved.entry is not None
    assert saved.entry.text == words
    assert saved.reply in variants("gratitude_saved", text=words)
    assert saved.expect is Mode.COMMAND
    assert dialog.expect is Mode.COMMAND
    [entry] = journal.entries()
    assert (entry.text, entry.source, entry.audio) == (words, "text", None)


def test_one_breath_gratitude_saves_at_once(dialog: Dialog, journal: Journal, clock: FakeClock) -> None:
    turn = say(dialog, "I'm grateful that Sam cooked dinner", "log_gratitude")
    assert turn.entry is not None
    assert turn.entry.text.lower() == "sam cooked dinner"
    assert turn.entry.source == "text"
    assert turn.entry.created_at == clock.now().isoformat(timespec="seconds")
    assert "cooked dinner" in turn.reply
    assert turn.expect is Mode.COMMAND
    assert journal.entries() == [turn.entry]


def test_spoken_gratitude_keeps_its_clip_and_delete_removes_it(dialog: Dialog, tmp_path: Path) -> None:
    clip = tmp_path / "clip.wav"
    clip.write_bytes(b"RIFF")
    turn = dialog.handle("I'm grateful for the rain on the roof", source="voice", audio=str(clip))
    assert turn.entry is not None
    assert (turn.entry.source, turn.entry.audio) == ("voice", str(clip))
    say(dialog, "delete that", "delete_gratitude")
    say(dialog, "yes", "yes")
    assert not clip.exists()


def test_undecodable_characters_are_saved_as_replacement_characters(dialog: Dialog, journal: Journal) -> None:
    """Lone surrogates (bytes a terminal could not decode) must not crash the journal or the voice."""
    one_breath = say(dialog, "I'm grateful for caf\udce9 mornings", "log_gratitude")
    assert one_breath.entry is not None and one_breath.entry.text == "caf\ufffd mornings"
    say(dialog, "log something I'm grateful for", "log_gratitude")
    dictated = say(dialog, "\udcff the na\udcefve joke")
    assert dictated.entry is not None and dictated.entry.text == "\ufffd the na\ufffdve joke"
    assert [e.text for e in journal.entries()] == ["\ufffd the na\ufffdve joke", "caf\ufffd mornings"]
    dictated.reply.encode("utf-8")


def test_empty_dictation_saves_nothing(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "add to my gratitude journal", "log_gratitude")
    assert say(dialog, "   ").reply in variants("gratitude_empty")
    assert journal.entries() == []
    assert dialog.expect is Mode.COMMAND


# The journal seen from Thursday 26 November 2026, 20:00 UTC (the week began on Monday the 23rd).
EVENING = datetime(2026, 11, 26, 20, 0, tzinfo=timezone.utc)
DIARY = [
    (datetime(2026, 10, 30, 12, 0, tzinfo=timezone.utc), "the harvest fair"),  # last month
    (datetime(2026, 11, 16, 19, 0, tzinfo=timezone.utc), "the long phone call"),  # this month, last week
    (datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc), "the new bookshelf"),  # Monday this week
    (datetime(2026, 11, 25, 21, 0, tzinfo=timezone.utc), "the soup you made"),  # yesterday
    (datetime(2026, 11, 26, 7, 30, tzinfo=timezone.utc), "the morning walk"),  # today
    (datetime(2026, 11, 26, 12, 15, tzinfo=timezone.utc), "your funny text message"),  # today
]


@pytest.fixture
def diary(journal: Journal, matcher: Matcher) -> Dialog:
    """A dialog whose journal was written over a month, the clock now on the evening of DIARY's last day."""
    clock = FakeClock(DIARY[0][0])
    dialog = make_dialog(journal, clock, matcher)
    for when, thing in DIARY:
        advance_to(clock, when)
        turn = say(dialog, f"I'm grateful for {thing}", "log_gratitude")
        assert turn.entry is not None and turn.entry.text == thing
    advance_to(clock, EVENING)
    return dialog


def in_order(reply: str, things: list[str]) -> bool:
    positions = [reply.find(t) for t in things]
    return -1 not in positions and positions == sorted(positions)


def said_count(reply: str, count: int) -> bool:
    return re.search(rf"(?<![\w.]){count}(?![\w])", reply) is not None


@pytest.mark.parametrize(
    ("text", "period", "expected"),
    [
        ("what have I been grateful for today", "today", ["your funny text message", "the morning walk"]),
        ("what was I grateful for yesterday", "yesterday", ["the soup you made"]),
        (
            "what have I been grateful for this week",
            "this_week",
            ["your funny text message", "the morning walk", "the soup you made"],  # + 1 on the next page
        ),
    ],
)
def test_review_by_period_reads_newest_first_with_a_count(
    diary: Dialog, text: str, period: str, expected: list[str]
) -> None:
    turn = say(diary, text, "review_gratitude")
    assert turn.intent.slots == {"period": period}
    total = {"today": 2, "yesterday": 1, "this_week": 4}[period]
    assert said_count(turn.reply, total)
    assert in_order(turn.reply, expected)
    others = {thing for _, thing in DIARY} - set(expected)
    assert not [thing for thing in others if thing in turn.reply]


def test_review_says_when_each_entry_was_written(diary: Dialog) -> None:
    week = say(diary, "what have I been grateful for this week", "review_gratitude").reply
    assert "today" in week and "yesterday" in week
    assert "on Monday" in say(diary, "next", "next").reply
    month = say(diary, "what have I been grateful for this month", "review_gratitude").reply
    assert said_count(month, 5)
    assert "on November 16" in say(diary, "next").reply


def test_review_all_pages_three_at_a_time_with_next(diary: Dialog) -> None:
    newest_first = [thing for _, thing in reversed(DIARY)]
    first = say(diary, "read my gratitude journal", "review_gratitude")
    assert said_count(first.reply, 6)
    assert in_order(first.reply, newest_first[:3])
    assert not [t for t in newest_first[3:] if t in first.reply]
    assert any(v in first.reply for v in variants("review_more"))

    second = say(diary, "next", "next").reply
    assert in_order(second, newest_first[3:])
    assert not [t for t in newest_first[:3] if t in second]
    assert "on October 30" in second
    assert any(v in second for v in variants("review_end"))
    assert say(diary, "another one").reply in variants("review_end")


def test_review_of_an_empty_period(dialog: Dialog) -> None:
    assert say(dialog, "what have I been grateful for today", "review_gratitude").reply in variants(
        "review_none", period="today"
    )
    assert say(dialog, "next").reply in variants("next_nothing")


# -- delete, yes, no -----------------------------------------------------------------------------------


def test_delete_asks_and_no_keeps_the_entry(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    asked = say(dialog, "delete that", "delete_gratitude")
    assert asked.reply in variants("delete_confirm", text="the picnic")
    assert say(dialog, "no", "no").reply in variants("delete_kept")
    assert [e.text for e in journal.entries()] == ["the picnic"]
    assert say(dialog, "yes", "yes").reply in variants("nothing_pending")  # the question was answered
    assert len(journal.entries()) == 1


def test_delete_asks_and_yes_deletes_the_entry(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "I'm grateful for the first snow", "log_gratitude")
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    assert say(dialog, "delete that", "delete_gratitude").reply in variants("delete_confirm", text="the picnic")
    assert say(dialog, "yes", "yes").reply in variants("deleted")
    assert [e.text for e in journal.entries()] == ["the first snow"]


def test_delete_after_a_review_targets_the_entry_just_read(diary: Dialog, journal: Journal) -> None:
    say(diary, "what was I grateful for yesterday", "review_gratitude")
    assert say(diary, "delete that").reply in variants("delete_confirm", text="the soup you made")
    say(diary, "yes", "yes")
    assert "the soup you made" not in [e.text for e in journal.entries()]
    assert len(journal.entries()) == len(DIARY) - 1


def test_delete_after_logging_targets_the_new_entry_not_the_review(diary: Dialog, journal: Journal) -> None:
    say(diary, "read my gratitude journal", "review_gratitude")
    say(diary, "I'm grateful for the fresh bread", "log_gratitude")
    assert say(diary, "delete that").reply in variants("delete_confirm", text="the fresh bread")


def test_next_after_a_one_page_review_says_that_was_all(diary: Dialog) -> None:
    say(diary, "what have I been grateful for today", "review_gratitude")
    assert say(diary, "next", "next").reply in variants("review_end")


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_yes_or_no_with_nothing_pending(dialog: Dialog, journal: Journal, answer: str) -> None:
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    assert say(dialog, answer, answer).reply in variants("nothing_pending")
    assert len(journal.entries()) == 1


def test_delete_with_an_empty_journal(dialog: Dialog) -> None:
    assert say(dialog, "delete that", "delete_gratitude").reply in variants("delete_none")
    assert say(dialog, "yes").reply in variants("nothing_pending")


def test_another_command_abandons_a_pending_delete(dialog: Dialog, journal: Journal) -> None:
    """A "yes" said minutes later, to something else, must not delete an entry."""
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    say(dialog, "delete that", "delete_gratitude")
    say(dialog, "give me a conversation starter", "conversation_starter")
    assert say(dialog, "yes", "yes").reply in variants("nothing_pending")
    assert len(journal.entries()) == 1


@pytest.mark.parametrize("aside", ["say that again", "what can you do", "what's the weather"])
def test_a_pending_delete_survives_asides(dialog: Dialog, journal: Journal, aside: str) -> None:
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    say(dialog, "delete that", "delete_gratitude")
    say(dialog, aside)
    assert say(dialog, "yes", "yes").reply in variants("deleted")
    assert journal.entries() == []


def test_stop_cancels_a_pending_delete(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    say(dialog, "delete that", "delete_gratitude")
    say(dialog, "stop", "stop")
    assert say(dialog, "yes").reply in variants("nothing_pending")
    assert len(journal.entries()) == 1


# -- stop, repeat, help, not understood ----------------------------------------------------------------


def test_stop_cancels_a_pending_gratitude_question(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "log something I'm grateful for", "log_gratitude")
    cancelled = say(dialog, "stop", "stop")
    assert cancelled.reply in variants("gratitude_cancelled")
    assert cancelled.expect is Mode.COMMAND
    later = say(dialog, "our walk in the park")
    assert later.intent.intent == "none"
    assert later.entry is None
    assert journal.entries() == []


def test_repeat_says_the_last_reply_again(dialog: Dialog) -> None:
    assert say(dialog, "say that again", "repeat").reply in variants("nothing_to_repeat")
    idea = say(dialog, "give me a date night idea", "date_idea").reply
    assert say(dialog, "say that again", "repeat").reply == idea
    assert say(dialog, "repeat that", "repeat").reply == idea


def test_help_lists_what_to_say(dialog: Dialog) -> None:
    turn = say(dialog, "what can you do", "help")
    assert turn.reply in variants("help")
    assert "date night" in turn.reply and "grateful" in turn.reply


@pytest.mark.parametrize("text", ["what's the weather", "play music", "set a timer for ten minutes"])
def test_out_of_domain_is_none_says_what_rekindle_does_and_changes_nothing(
    dialog: Dialog, journal: Journal, text: str
) -> None:
    say(dialog, "I'm grateful for the picnic", "log_gratitude")
    say(dialog, "give me a conversation starter", "conversation_starter")
    before = snapshot(journal.path)
    turn = say(dialog, text, "none")
    assert turn.intent.confidence == 0.0
    assert turn.entry is None
    assert turn.reply in variants("not_understood")
    assert "conversation starter" in turn.reply and "gratitude journal" in turn.reply
    assert snapshot(journal.path) == before


# -- strategy guidance ---------------------------------------------------------------------------------

STRATEGY_PHRASES = {
    "communication": "how can we communicate better",
    "active_listening": "tell me about active listening",
    "romance": "tips on romance",
    "underlying_issues": "tell me about underlying issues",
    "vulnerability": "tell me about vulnerability",
    "quality_time": "tell me about quality time",
    "professional_help": "tips on professional help",
    "gratitude": "tell me about gratitude",
}


@pytest.mark.parametrize("strategy", sorted(STRATEGY_PHRASES))
def test_tip_on_a_named_strategy_names_it(dialog: Dialog, strategy: str) -> None:
    turn = say(dialog, STRATEGY_PHRASES[strategy], "strategy_advice")
    assert turn.intent.slots == {"strategy": strategy}
    named = CONTENT.strategy(strategy)
    assert named.name in turn.reply
    assert any(turn.reply.endswith(tip) for tip in named.tips)


def strategy_in(content: Content, reply: str) -> str:
    [found] = [s.id for s in content.strategies if any(reply.endswith(t) for t in s.tips)]
    return found


def test_give_me_a_tip_picks_a_strategy_and_tell_me_more_goes_deeper(dialog: Dialog) -> None:
    turn = say(dialog, "give me a tip", "strategy_advice")
    assert turn.intent.slots == {}
    chosen = CONTENT.strategy(strategy_in(CONTENT, turn.reply))
    assert chosen.name in turn.reply
    assert say(dialog, "tell me more").reply == chosen.more[0]
    assert say(dialog, "tell me more").reply == chosen.more[1]


def test_general_tips_rotate_through_all_strategies(dialog: Dialog) -> None:
    picked = [strategy_in(CONTENT, say(dialog, "give me a tip").reply) for _ in CONTENT.strategies]
    assert sorted(picked) == sorted(s.id for s in CONTENT.strategies)


NOT_GENTLE = (
    "diagnos",
    "disorder",
    "patholog",
    "dysfunction",
    "mental illness",
    "toxic",
    "narcissis",
    "codependen",
    "abusive",
    "wrong with you",
    "your problem",
    "you suffer",
    "you have a condition",
    "symptom",
)


def test_professional_help_never_sounds_like_a_diagnosis(dialog: Dialog) -> None:
    help_ = CONTENT.strategy("professional_help")
    replies = [say(dialog, "tips on professional help").reply for _ in help_.tips]
    replies += [say(dialog, "tell me more").reply for _ in range(len(help_.more) + 2)]
    assert len(set(replies[: len(help_.tips)])) == len(help_.tips)
    assert {r for r in replies if r in help_.more} == set(help_.more)
    for text in replies:
        assert not [word for word in NOT_GENTLE if word in text.lower()], text


# -- safety --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["I want to die", "give me a conversation starter, I want to end it all", "start date night, i'm suicidal"],
)
def test_crisis_text_gets_the_safety_reply_not_a_game(dialog: Dialog, journal: Journal, text: str) -> None:
    turn = say(dialog, text)
    assert turn.reply == crisis_reply()
    assert dialog.date_night.phase is Phase.IDLE
    assert not [s for s in STARTERS if s in turn.reply]
    assert journal.entries() == []


def test_crisis_text_cancels_a_pending_question(dialog: Dialog, journal: Journal) -> None:
    say(dialog, "log something I'm grateful for", "log_gratitude")
    turn = say(dialog, "honestly I feel like I want to die")
    assert turn.reply == crisis_reply()
    assert turn.expect is Mode.COMMAND
    assert say(dialog, "our walk in the park").entry is None
    assert journal.entries() == []


def test_crisis_text_pauses_date_night_so_no_game_prompt_follows(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    clock.advance(INTERVAL - 10)
    assert say(dialog, "I don't want to live anymore").reply == crisis_reply()
    clock.advance(3 * INTERVAL)
    assert dialog.poll() == []
    assert dialog.date_night.phase is Phase.PAUSED
    say(dialog, "resume date night", "date_night_resume")  # the couple can carry on when they choose to
    clock.advance(10)
    assert len(dialog.poll()) == 1


# -- date night ----------------------------------------------------------------------------------------


def without_intro(prompt: str) -> str:
    """A date-night prompt without the intro the first one opens with."""
    for intro in variants("date_night_prompt_intro"):
        if prompt.startswith(intro + " "):
            return prompt[len(intro) + 1 :]
    return prompt


def prompt_kind(prompt: str) -> str:
    """starter, exercise or romance, for a date-night prompt."""
    prompt = without_intro(prompt)
    if prompt in STARTERS:
        return "starter"
    if prompt in EXERCISES:
        return "exercise"
    assert prompt in ROMANCE_AT_HOME, prompt
    return "romance"


def run_evening(dialog: Dialog, clock: FakeClock, seconds: float) -> list[tuple[float, str]]:
    """Wait from event to event as the chat loop does, for `seconds`; (time since start, reply) of each."""
    start = clock.monotonic()
    said: list[tuple[float, str]] = []
    while clock.monotonic() - start < seconds:
        wait = dialog.seconds_until_event()
        if wait is None:
            break
        clock.advance(min(wait, seconds - (clock.monotonic() - start)))
        said += [(clock.monotonic() - start, reply) for reply in dialog.poll()]
    return said


def test_date_night_first_prompt_comes_after_one_interval(dialog: Dialog, clock: FakeClock) -> None:
    started = say(dialog, "start date night", "date_night_start")
    assert started.reply in variants("date_night_started", minutes="8 minutes")
    assert dialog.poll() == []
    clock.advance(INTERVAL - 0.5)
    assert dialog.poll() == []
    assert dialog.seconds_until_event() == pytest.approx(0.5)
    clock.advance(0.5)
    [prompt] = dialog.poll()
    assert starts_with_variant(prompt, "date_night_prompt_intro")
    assert dialog.poll() == []
    assert say(dialog, "say that again", "repeat").reply == prompt


def test_a_whole_evening_mixes_starters_exercises_and_romance(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    said = run_evening(dialog, clock, 3 * 3600)
    assert [t for t, _ in said] == pytest.approx([INTERVAL * n for n in range(1, 23)])
    kinds = [prompt_kind(reply) for _, reply in said]
    assert kinds[:4] == ["starter", "exercise", "starter", "romance"]
    assert {"starter", "exercise", "romance"} == set(kinds)
    assert len({reply for _, reply in said}) == len(said)
    assert STARTERS[without_intro(said[0][1])].depth == "light"
    ended = say(dialog, "end date night", "date_night_stop").reply
    assert "180 minutes" in ended and said_count(ended, 22)


def test_pause_stops_prompts_and_resume_keeps_the_remaining_time(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    assert len(run_evening(dialog, clock, INTERVAL)) == 1
    clock.advance(100)
    assert say(dialog, "pause date night", "date_night_pause").reply in variants("date_night_paused")
    clock.advance(3600)
    assert dialog.poll() == []
    assert dialog.seconds_until_event() is None
    assert say(dialog, "resume date night", "date_night_resume").reply in variants("date_night_resumed")
    assert dialog.seconds_until_event() == pytest.approx(INTERVAL - 100)
    clock.advance(INTERVAL - 100 - 1)
    assert dialog.poll() == []
    clock.advance(1)
    assert len(dialog.poll()) == 1
    summary = say(dialog, "end date night", "date_night_stop").reply  # 16 minutes running, the hour paused not
    assert summary in variants("date_night_summary", minutes="16 minutes", prompts=2)


def test_next_gives_a_prompt_now_and_restarts_the_interval(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    clock.advance(60)
    now = say(dialog, "next", "next").reply
    assert prompt_kind(now) == "starter"
    assert dialog.date_night.prompts == 1
    clock.advance(INTERVAL - 1)
    assert dialog.poll() == []
    clock.advance(1)
    [due] = dialog.poll()
    assert prompt_kind(due) == "exercise"


def test_date_night_for_30_minutes_ends_itself_with_a_summary(dialog: Dialog, clock: FakeClock) -> None:
    turn = say(dialog, "start date night for 30 minutes", "date_night_start")
    assert turn.intent.slots == {"minutes": 30}
    said = run_evening(dialog, clock, 3600)
    assert [t for t, _ in said] == pytest.approx([480, 960, 1440, 1800])
    assert said[-1][1] in variants("date_night_summary", minutes="30 minutes", prompts=3)
    assert dialog.date_night.phase is Phase.IDLE
    assert dialog.seconds_until_event() is None
    assert say(dialog, "next").reply in variants("next_nothing")


def test_stop_sums_up_minutes_and_prompts(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    assert say(dialog, "start date night").reply in variants("date_night_already")
    assert len(run_evening(dialog, clock, 2 * 3600)) == 15
    summary = say(dialog, "end date night", "date_night_stop").reply
    assert summary in variants("date_night_summary", minutes="120 minutes", prompts=15)
    assert dialog.poll() == []
    assert say(dialog, "end date night").reply in variants("date_night_not_running")
    assert say(dialog, "pause date night").reply in variants("date_night_not_running")


def test_a_very_short_date_night_never_claims_zero_time(dialog: Dialog, clock: FakeClock) -> None:
    say(dialog, "start date night", "date_night_start")
    clock.advance(20)
    summary = say(dialog, "end date night", "date_night_stop").reply
    assert not re.search(r"\b0 (seconds|minutes)\b", summary), summary


def test_a_sub_second_interval_is_not_announced_as_zero(journal: Journal, clock: FakeClock, matcher: Matcher) -> None:
    dialog = make_dialog(journal, clock, matcher, interval=0.5)
    started = say(dialog, "start date night", "date_night_start").reply
    assert not re.search(r"\b0 seconds\b", started), started


def test_turn_json_has_exactly_the_contract_keys(dialog: Dialog) -> None:
    data = say(dialog, "ask us a deep question").to_json()
    assert set(data) == {"text", "intent", "slots", "confidence", "reply"}
    assert data["slots"] == {"depth": "deep"}
    assert data["confidence"] == 1.0


def test_dates_ideas_do_not_repeat_until_used_up(dialog: Dialog) -> None:
    first = say(dialog, "give me a date night idea", "date_idea").reply
    ideas = [first] + [say(dialog, "another one").reply for _ in range(len(DATE_IDEAS) - 1)]
    stripped = {next(i for i in DATE_IDEAS if r.endswith(i)) for r in ideas}
    assert stripped == DATE_IDEAS
