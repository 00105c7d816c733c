"""Strategy guidance: short spoken tips per strategy, and deeper "tell me more" follow-ups."""

from __future__ import annotations

from assistant.content import Strategy
from assistant.skills.base import SkillContext


def _strategy(ctx: SkillContext, strategy_id: str | None) -> Strategy:
    by_id = {s.id: s for s in ctx.content.strategies}
    if strategy_id is None:
        chosen, _ = ctx.deck("strategies", list(by_id)).draw()
        return by_id[chosen]
    return by_id[strategy_id]


def tip(ctx: SkillContext, strategy_id: str | None) -> tuple[str, str]:
    """(reply, strategy id): a tip on the named strategy, or on one picked for the person."""
    strategy = _strategy(ctx, strategy_id)
    variants = {f"{strategy.id}:{n}": text for n, text in enumerate(strategy.tips)}
    chosen, _ = ctx.deck(f"tips:{strategy.id}", list(variants)).draw()
    return f"{ctx.say('tip_intro', name=strategy.name)} {variants[chosen]}", strategy.id


def more(ctx: SkillContext, strategy_id: str, depth: int) -> str:
    """The `depth`-th deeper follow-up for a strategy (0-based), then further tips once those run out."""
    strategy = _strategy(ctx, strategy_id)
    if depth < len(strategy.more):
        return strategy.more[depth]
    return tip(ctx, strategy_id)[0]
