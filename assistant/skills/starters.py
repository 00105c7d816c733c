"""Conversation starters, from a deck that does not repeat until it is used up."""

from __future__ import annotations

from assistant.skills.base import SkillContext


def starter(ctx: SkillContext, depth: str | None = None) -> str:
    """The next starter, optionally only light or only deep ones."""
    by_id = {s.id: s for s in ctx.content.starters}
    deck = ctx.deck("starters", list(by_id))
    chosen, reshuffled = deck.draw(None if depth is None else lambda i: by_id[i].depth == depth)
    text = by_id[chosen].text
    return f"{ctx.say('deck_reshuffled')} {text}" if reshuffled else text
