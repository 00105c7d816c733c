"""The dialog: one state machine that turns recognised intents into replies and remembers what is pending."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assistant.datenight import DateNight, Phase, Summary
from assistant.journal import Entry
from assistant.safety import crisis_reply, is_crisis
from assistant.skills import dates, gratitude, guidance, starters
from assistant.skills.base import SkillContext
from audio.stt import Mode
from intents.matcher import IntentResult, Matcher

_LOGGER = logging.getLogger(__name__)

_SURROGATES = re.compile("[\ud800-\udfff]")
"""Lone surrogates (bytes a terminal could not decode): SQLite and the voice cannot encode them."""
_KEEP_DELETE_QUESTION = frozenset({"yes", "no", "repeat", "help", "none"})
"""Turns that leave "delete ...? yes or no" open; any other command abandons the question."""


class Pending(str, enum.Enum):
    """A question Rekindle asked and is waiting on."""

    NONE = "none"
    GRATITUDE_TEXT = "gratitude_text"
    """"What are you grateful for?": the next turn is the entry itself (dictation)."""
    DELETE_CONFIRM = "delete_confirm"
    """"Delete ...? Say yes or no.\""""


class Topic(str, enum.Enum):
    """What "next" / "another one" continues."""

    NONE = "none"
    STARTER = "starter"
    TIP = "tip"
    DATE = "date"
    REVIEW = "review"
    DATE_NIGHT = "date_night"


@dataclass(frozen=True)
class Turn:
    """One exchange."""

    text: str
    """What the person said or typed."""
    intent: IntentResult
    """What it was understood as."""
    reply: str
    """What Rekindle answers (spoken unless muted)."""
    expect: Mode
    """What the next turn is expected to be: a command or free dictation."""
    entry: Entry | None = None
    """The journal entry this turn saved, if any."""

    def to_json(self) -> dict[str, Any]:
        """The `chat --json` / `ask --json` object."""
        return {
            "text": self.text,
            "intent": self.intent.intent,
            "slots": self.intent.slots,
            "confidence": round(self.intent.confidence, 3),
            "reply": self.reply,
        }


@dataclass
class _State:
    pending: Pending = Pending.NONE
    delete_target: Entry | None = None
    topic: Topic = Topic.NONE
    depth: str | None = None
    strategy: str | None = None
    more_depth: int = 0
    review: gratitude.Review | None = None
    last_entry: Entry | None = None
    last_reply: str = ""
    extras: dict[str, Any] = field(default_factory=dict)


Handler = Callable[["Dialog", IntentResult], str]


class Dialog:
    """Feed it turns (`handle`) and, while date night runs, ask it for due prompts (`poll`)."""

    def __init__(self, ctx: SkillContext, matcher: Matcher, date_night_interval: float = 480.0) -> None:
        self.ctx = ctx
        self.matcher = matcher
        self.date_night = DateNight(date_night_interval)
        self._state = _State()
        self._voice_audio: str | None = None

    # -- the turn --------------------------------------------------------------------------------------
    @property
    def expect(self) -> Mode:
        """DICTATION while a gratitude entry is awaited, else COMMAND."""
        return Mode.DICTATION if self._state.pending is Pending.GRATITUDE_TEXT else Mode.COMMAND

    @property
    def awaiting_answer(self) -> bool:
        """True while Rekindle has asked something and waits for the answer."""
        return self._state.pending is not Pending.NONE

    def handle(
        self, text: str, *, result: IntentResult | None = None, source: str = "text", audio: str | None = None
    ) -> Turn:
        """One turn. `result` is given when speech recognition already matched it; `audio` is the clip path."""
        state = self._state
        text = _SURROGATES.sub("\ufffd", text)
        intent = result or self.matcher.match(text)
        entry: Entry | None = None
        self._voice_audio = audio
        source = source if source in ("voice", "text") else "text"
        if is_crisis(text):
            state.pending = Pending.NONE
            if self.date_night.phase is Phase.RUNNING:  # no playful prompt may follow; "resume" carries on
                self.date_night.pause(self.ctx.clock.monotonic())
            reply = crisis_reply()
        elif state.pending is Pending.GRATITUDE_TEXT and intent.intent not in ("stop", "no", "help"):
            state.pending = Pending.NONE
            words = text.strip()
            if intent.intent == "log_gratitude" and intent.slots.get("text"):
                words = str(intent.slots["text"])
            if not words:
                reply = self.ctx.say("gratitude_empty")
            else:
                reply, entry = gratitude.save(self.ctx, words, source, audio)
                state.last_entry, state.review = entry, None
            intent = IntentResult("log_gratitude", {"text": words} if words else {}, intent.confidence or 1.0, text)
        else:
            if state.pending is Pending.GRATITUDE_TEXT:
                state.pending = Pending.NONE
                if intent.intent != "help":
                    reply = self.ctx.say("gratitude_cancelled")
                    return self._finish(text, intent, reply, None)
            if state.pending is Pending.DELETE_CONFIRM and intent.intent not in _KEEP_DELETE_QUESTION:
                state.pending, state.delete_target = Pending.NONE, None  # a later "yes" must not delete
            reply = HANDLERS[intent.intent](self, intent)
            entry = state.extras.pop("saved", None)
        return self._finish(text, intent, reply, entry)

    def _finish(self, text: str, intent: IntentResult, reply: str, entry: Entry | None) -> Turn:
        if intent.intent != "repeat":
            self._state.last_reply = reply
        _LOGGER.debug("turn %r -> %s %s", text, intent.intent, intent.slots)
        return Turn(text, intent, reply, self.expect, entry)

    def poll(self) -> list[str]:
        """Replies due now without being asked: date-night prompts and its end."""
        now = self.ctx.clock.monotonic()
        if self.date_night.finished(now):
            summary = self.date_night.stop(now)
            return [self._remember(self._summary(summary))]
        if self.date_night.due(now):
            return [self._remember(self._prompt(now))]
        return []

    def seconds_until_event(self) -> float | None:
        """How long a loop may wait before calling `poll` again (None: nothing scheduled)."""
        return self.date_night.seconds_until_event(self.ctx.clock.monotonic())

    def _remember(self, reply: str) -> str:
        self._state.last_reply = reply
        return reply

    def _prompt(self, now: float) -> str:
        text = dates.date_night_prompt(self.ctx, self.date_night.prompts)
        if self.date_night.prompts == 0:
            text = f"{self.ctx.say('date_night_prompt_intro')} {text}"
        self.date_night.prompted(now)
        self._state.topic = Topic.DATE_NIGHT
        return text

    # -- handlers --------------------------------------------------------------------------------------
    def _starter(self, intent: IntentResult) -> str:
        depth = intent.slots.get("depth")
        self._state.topic, self._state.depth = Topic.STARTER, str(depth) if depth else None
        return starters.starter(self.ctx, self._state.depth)

    def _tip(self, intent: IntentResult) -> str:
        strategy = intent.slots.get("strategy")
        reply, chosen = guidance.tip(self.ctx, str(strategy) if strategy else None)
        self._state.topic, self._state.strategy, self._state.more_depth = Topic.TIP, chosen, 0
        return reply

    def _date_idea(self, _intent: IntentResult) -> str:
        self._state.topic = Topic.DATE
        return f"{self.ctx.say('date_intro')} {dates.date_idea(self.ctx)}"

    def _log_gratitude(self, intent: IntentResult) -> str:
        text = str(intent.slots.get("text") or "").strip()
        if text:
            reply, entry = gratitude.save(self.ctx, text, "voice" if self._voice_audio else "text", self._voice_audio)
            self._state.last_entry, self._state.review = entry, None  # "delete that" now means this entry
            self._state.extras["saved"] = entry
            return reply
        self._state.pending = Pending.GRATITUDE_TEXT
        return self.ctx.say("gratitude_ask")

    def _review(self, intent: IntentResult) -> str:
        period = intent.slots.get("period")
        reply, review = gratitude.start_review(self.ctx, str(period) if period else None)
        self._state.review = review
        self._state.topic = Topic.REVIEW if review else Topic.NONE  # also when one page held them all
        return reply

    def _delete(self, _intent: IntentResult) -> str:
        state = self._state
        target: Entry | None = None
        if state.topic is Topic.REVIEW and state.review and state.review.last_read:
            target = state.review.last_read[-1]
        elif state.last_entry is not None:
            target = state.last_entry
        elif self.ctx.journal is not None:
            newest = self.ctx.journal.entries()
            target = newest[0] if newest else None
        if target is None:
            return self.ctx.say("delete_none")
        state.pending, state.delete_target = Pending.DELETE_CONFIRM, target
        return self.ctx.say("delete_confirm", text=target.text)

    def _yes(self, _intent: IntentResult) -> str:
        state = self._state
        if state.pending is not Pending.DELETE_CONFIRM or state.delete_target is None:
            return self.ctx.say("nothing_pending")
        target, state.pending, state.delete_target = state.delete_target, Pending.NONE, None
        assert self.ctx.journal is not None
        self.ctx.journal.delete(target.id)
        if target.audio:
            Path(target.audio).unlink(missing_ok=True)
        if state.last_entry and state.last_entry.id == target.id:
            state.last_entry = None
        return self.ctx.say("deleted")

    def _no(self, _intent: IntentResult) -> str:
        state = self._state
        if state.pending is not Pending.DELETE_CONFIRM:
            return self.ctx.say("nothing_pending")
        state.pending, state.delete_target = Pending.NONE, None
        return self.ctx.say("delete_kept")

    def _next(self, _intent: IntentResult) -> str:
        state = self._state
        if state.topic is Topic.STARTER:
            return starters.starter(self.ctx, state.depth)
        if state.topic is Topic.TIP and state.strategy:
            state.more_depth += 1
            return guidance.more(self.ctx, state.strategy, state.more_depth - 1)
        if state.topic is Topic.DATE:
            return f"{self.ctx.say('date_intro')} {dates.date_idea(self.ctx)}"
        if state.topic is Topic.REVIEW and state.review:
            if not state.review.entries:
                return self.ctx.say("review_end")
            return gratitude.read_page(self.ctx, state.review)
        if state.topic is Topic.DATE_NIGHT and self.date_night.phase is Phase.RUNNING:
            return self._prompt(self.ctx.clock.monotonic())
        return self.ctx.say("next_nothing")

    def _repeat(self, _intent: IntentResult) -> str:
        return self._state.last_reply or self.ctx.say("nothing_to_repeat")

    def _help(self, _intent: IntentResult) -> str:
        return self.ctx.say("help")

    def _stop(self, _intent: IntentResult) -> str:
        self._state.pending, self._state.delete_target = Pending.NONE, None
        return self.ctx.say("stopped")

    def _none(self, _intent: IntentResult) -> str:
        return self.ctx.say("not_understood")

    def _date_night_start(self, intent: IntentResult) -> str:
        now = self.ctx.clock.monotonic()
        if self.date_night.phase is not Phase.IDLE:
            return self.ctx.say("date_night_already")
        minutes = intent.slots.get("minutes")
        duration = float(minutes) * 60 if isinstance(minutes, int) and minutes > 0 else None
        self.date_night.start(now, duration)
        self._state.topic = Topic.DATE_NIGHT
        return self.ctx.say("date_night_started", minutes=_spoken_minutes(self.date_night.interval))

    def _date_night_stop(self, _intent: IntentResult) -> str:
        if self.date_night.phase is Phase.IDLE:
            return self.ctx.say("date_night_not_running")
        summary = self.date_night.stop(self.ctx.clock.monotonic())
        self._state.topic = Topic.NONE
        return self._summary(summary)

    def _summary(self, summary: Summary) -> str:
        self._state.topic = Topic.NONE
        spoken = _spoken_minutes(summary.minutes * 60) if summary.minutes else "less than a minute"
        return self.ctx.say("date_night_summary", minutes=spoken, prompts=summary.prompts)

    def _date_night_pause(self, _intent: IntentResult) -> str:
        if self.date_night.phase is not Phase.RUNNING:
            return self.ctx.say("date_night_not_running")
        self.date_night.pause(self.ctx.clock.monotonic())
        return self.ctx.say("date_night_paused")

    def _date_night_resume(self, _intent: IntentResult) -> str:
        if self.date_night.phase is not Phase.PAUSED:
            return self.ctx.say("date_night_not_running")
        self.date_night.resume(self.ctx.clock.monotonic())
        return self.ctx.say("date_night_resumed")


def _spoken_minutes(seconds: float) -> str:
    if seconds < 90:
        whole = max(1, round(seconds))
        return "one second" if whole == 1 else f"{whole} seconds" if seconds < 60 else "a minute"
    minutes = round(seconds / 60)
    return "one minute" if minutes == 1 else f"{minutes} minutes"


HANDLERS: dict[str, Handler] = {
    "conversation_starter": Dialog._starter,
    "log_gratitude": Dialog._log_gratitude,
    "review_gratitude": Dialog._review,
    "strategy_advice": Dialog._tip,
    "date_idea": Dialog._date_idea,
    "date_night_start": Dialog._date_night_start,
    "date_night_stop": Dialog._date_night_stop,
    "date_night_pause": Dialog._date_night_pause,
    "date_night_resume": Dialog._date_night_resume,
    "next": Dialog._next,
    "repeat": Dialog._repeat,
    "help": Dialog._help,
    "stop": Dialog._stop,
    "yes": Dialog._yes,
    "no": Dialog._no,
    "delete_gratitude": Dialog._delete,
    "none": Dialog._none,
}
"""Every intent's handler (a contract test checks that each intent has one)."""
