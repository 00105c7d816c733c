"""A shuffled deck of content ids that never repeats an item until every item has been used, across restarts."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any, Protocol


class StateStore(Protocol):
    """Where the deck keeps its order (the journal's state table, or memory)."""

    def get_state(self, key: str) -> Any: ...

    def set_state(self, key: str, value: Any) -> None: ...


class MemoryState:
    """A StateStore that forgets on exit."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}

    def get_state(self, key: str) -> Any:
        return self._values.get(key)

    def set_state(self, key: str, value: Any) -> None:
        self._values[key] = value


class Deck:
    """Draws ids in a random order; an item comes back only when all items passing the filter were drawn."""

    def __init__(self, store: StateStore, name: str, ids: Sequence[str], rng: random.Random) -> None:
        self._store = store
        self._key = f"deck:{name}"
        self._ids = list(ids)
        self._rng = rng

    def _load(self) -> tuple[list[str], list[str]]:
        saved = self._store.get_state(self._key) or {}
        known = set(self._ids)
        remaining = [i for i in saved.get("remaining", []) if i in known]
        seen = [i for i in saved.get("seen", []) if i in known and i not in remaining]
        fresh = [i for i in self._ids if i not in set(remaining) and i not in set(seen)]
        self._rng.shuffle(fresh)
        for item in fresh:  # new content joins the unused part of the deck at a random place
            remaining.insert(self._rng.randint(0, len(remaining)), item)
        return remaining, seen

    def draw(self, allowed: Callable[[str], bool] | None = None) -> tuple[str, bool]:
        """Next id passing `allowed`; the flag is True when that part of the deck was reshuffled first."""
        ok = allowed or (lambda _id: True)
        remaining, seen = self._load()
        reshuffled = False
        choice = next((i for i in remaining if ok(i)), None)
        if choice is None:
            back = [i for i in seen if ok(i)]
            if not back:
                raise LookupError(f"deck {self._key} has no item that fits")
            last = seen[-1] if seen else None
            self._rng.shuffle(back)
            if len(back) > 1 and back[0] == last:
                back.append(back.pop(0))
            seen = [i for i in seen if not ok(i)]
            remaining = back + remaining
            choice = back[0]
            reshuffled = True
        remaining.remove(choice)
        seen.append(choice)
        self._store.set_state(self._key, {"remaining": remaining, "seen": seen})
        return choice, reshuffled
