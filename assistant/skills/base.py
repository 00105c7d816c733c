"""What every skill gets: content, journal, decks, a clock and a random source."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from assistant.clock import Clock
from assistant.content import Content, reply
from assistant.deck import Deck, StateStore
from assistant.journal import Journal


@dataclass
class SkillContext:
    """Shared by the skills of one dialog."""

    content: Content
    """Starters, strategies, date ideas, exercises, replies."""
    journal: Journal | None
    """The gratitude journal (None only where a command needs no journal)."""
    state: StateStore
    """Where decks keep their order across restarts."""
    clock: Clock
    """Wall and monotonic time."""
    rng: random.Random
    """Random source (seedable for reproducible sessions)."""
    _decks: dict[str, Deck] = field(default_factory=dict)

    def say(self, key: str, **values: Any) -> str:
        """A reply line from the content's replies, formatted."""
        return reply(self.content, key, self.rng, **values)

    def deck(self, name: str, ids: list[str]) -> Deck:
        """The persistent no-repeat deck called `name`."""
        if name not in self._decks:
            self._decks[name] = Deck(self.state, name, ids, self.rng)
        return self._decks[name]
