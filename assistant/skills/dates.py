"""Date ideas and date-night prompts."""

from __future__ import annotations

from assistant.skills.base import SkillContext
from assistant.skills.starters import starter

PROMPT_CYCLE = ("starter", "exercise", "starter", "romance")
"""The mix of date-night prompts, repeated: a starter, an exercise, another starter, a light romance idea."""


def date_idea(ctx: SkillContext) -> str:
    """The next date idea from its deck."""
    by_id = {d.id: d for d in ctx.content.dates}
    chosen, _ = ctx.deck("dates", list(by_id)).draw()
    return by_id[chosen].text


def date_night_prompt(ctx: SkillContext, number: int) -> str:
    """The `number`-th prompt (0-based) of a date night."""
    kind = PROMPT_CYCLE[number % len(PROMPT_CYCLE)]
    if kind == "exercise":
        by_id = {e.id: e for e in ctx.content.exercises}
        chosen, _ = ctx.deck("exercises", list(by_id)).draw()
        return by_id[chosen].text
    if kind == "romance":
        romance = {d.id: d for d in ctx.content.dates if d.strategy == "romance" and d.place == "home"}
        if romance:
            chosen, _ = ctx.deck("dates", [d.id for d in ctx.content.dates]).draw(lambda i: i in romance)
            return romance[chosen].text
    return starter(ctx, "light" if number == 0 else None)
