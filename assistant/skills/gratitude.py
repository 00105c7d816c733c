"""The gratitude journal as a skill: save, read back by period, count, delete."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from assistant.journal import Entry
from assistant.skills.base import SkillContext

PAGE = 3
"""Entries read aloud per turn; "next" reads the next few."""
PERIOD_WORDS = {
    "today": "today",
    "yesterday": "yesterday",
    "this_week": "this week",
    "this_month": "this month",
    "all": "in all",
}


def period_bounds(period: str, now: datetime) -> tuple[float | None, float | None]:
    """[since, until) in Unix seconds for a period name, in the local time of `now`."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "today":
        return midnight.timestamp(), None
    if period == "yesterday":
        return (midnight - timedelta(days=1)).timestamp(), midnight.timestamp()
    if period == "this_week":
        return (midnight - timedelta(days=midnight.weekday())).timestamp(), None
    if period == "this_month":
        return midnight.replace(day=1).timestamp(), None
    return None, None


def spoken_when(created_at: str, now: datetime) -> str:
    """ "today", "yesterday", "on Monday" or "on March 3" for an entry's time."""
    stamp = datetime.fromisoformat(created_at)
    if stamp.tzinfo is not None and now.tzinfo is not None:
        stamp = stamp.astimezone(now.tzinfo)
    days = (now.date() - stamp.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"on {stamp.strftime('%A')}"
    return f"on {stamp.strftime('%B')} {stamp.day}"


@dataclass
class Review:
    """A read-back in progress."""

    entries: list[Entry]
    """What is left to read, newest first."""
    period: str
    """The spoken period ("this week")."""
    last_read: list[Entry] = field(default_factory=list)
    """The entries read in the latest page (for "delete that")."""


def read_page(ctx: SkillContext, review: Review) -> str:
    """Read the next few entries and say whether more remain."""
    now = ctx.clock.now()
    page, review.entries = review.entries[:PAGE], review.entries[PAGE:]
    review.last_read = page
    lines = [ctx.say("review_entry", when=spoken_when(e.created_at, now), text=e.text) for e in page]
    lines.append(ctx.say("review_more") if review.entries else ctx.say("review_end"))
    return " ".join(lines)


def start_review(ctx: SkillContext, period: str | None) -> tuple[str, Review | None]:
    """Count the entries of a period and read the first few; Review is None when there is nothing."""
    assert ctx.journal is not None
    key = period or "all"
    since, until = period_bounds(key, ctx.clock.now())
    entries = ctx.journal.entries(since, until)
    words = PERIOD_WORDS[key]
    if not entries:
        return ctx.say("review_none", period=words), None
    review = Review(entries, words)
    return f"{ctx.say('review_count', count=len(entries), period=words)} {read_page(ctx, review)}", review


def save(ctx: SkillContext, text: str, source: str, audio: str | None) -> tuple[str, Entry]:
    """Commit an entry, then say it back."""
    assert ctx.journal is not None
    entry = ctx.journal.add(text, source=source, audio=audio, created_at=ctx.clock.now().isoformat(timespec="seconds"))
    return ctx.say("gratitude_saved", text=entry.text), entry
