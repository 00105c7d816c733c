"""The no-repeat deck: whole cycles before any repeat, kept across restarts in memory and in a real journal."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from assistant.deck import Deck, MemoryState, StateStore
from assistant.journal import Journal

IDS = [f"s{n:02d}" for n in range(12)]
LIGHT = {"l1", "l2", "l3", "l4"}
DEEP = {"d1", "d2", "d3"}
MIXED = sorted(LIGHT | DEEP)
SEEDS = range(8)


def is_light(item: str) -> bool:
    return item in LIGHT


def is_deep(item: str) -> bool:
    return item in DEEP


def draws(deck: Deck, count: int, allowed: Callable[[str], bool] | None = None) -> list[tuple[str, bool]]:
    return [deck.draw(allowed) for _ in range(count)]


def restarted_draws(store: StateStore, ids: list[str], count: int, seed: int = 0) -> list[str]:
    """Each draw from a brand-new Deck with a differently seeded generator, as after a restart."""
    return [Deck(store, "starters", ids, random.Random(seed * 1000 + n)).draw()[0] for n in range(count)]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal(tmp_path / "journal.db") as book:
        yield book


# -- one cycle, many cycles -----------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_one_cycle_uses_every_item_once(seed: int) -> None:
    got = draws(Deck(MemoryState(), "starters", IDS, random.Random(seed)), len(IDS))
    assert sorted(item for item, _ in got) == IDS
    assert [flag for _, flag in got] == [False] * len(IDS)


@pytest.mark.parametrize("seed", SEEDS)
def test_every_cycle_is_a_permutation(seed: int) -> None:
    items = [item for item, _ in draws(Deck(MemoryState(), "starters", IDS, random.Random(seed)), 5 * len(IDS))]
    cycles = [items[k : k + len(IDS)] for k in range(0, len(items), len(IDS))]
    assert all(sorted(cycle) == IDS for cycle in cycles)


def test_reshuffle_flag_marks_the_first_draw_of_each_new_cycle() -> None:
    got = draws(Deck(MemoryState(), "starters", IDS[:3], random.Random(1)), 9)
    assert [flag for _, flag in got] == [False, False, False, True, False, False, True, False, False]


def test_order_is_shuffled_not_listed() -> None:
    firsts = {Deck(MemoryState(), "s", IDS, random.Random(seed)).draw()[0] for seed in range(30)}
    assert len(firsts) > 3


def test_same_seed_same_order() -> None:
    a = draws(Deck(MemoryState(), "s", IDS, random.Random(7)), 30)
    b = draws(Deck(MemoryState(), "s", IDS, random.Random(7)), 30)
    assert a == b


def test_single_item_deck_repeats_with_reshuffle_flag() -> None:
    got = draws(Deck(MemoryState(), "s", ["only"], random.Random(0)), 3)
    assert got == [("only", False), ("only", True), ("only", True)]


def test_empty_deck_raises_lookup_error() -> None:
    with pytest.raises(LookupError, match="deck:empty"):
        Deck(MemoryState(), "empty", [], random.Random(0)).draw()


# -- no immediate repeat across a reshuffle -------------------------------------------------------------------


@pytest.mark.parametrize("size", [2, 3, 5, 12])
def test_no_immediate_repeat_across_reshuffles(size: int) -> None:
    for seed in range(40):
        items = [item for item, _ in draws(Deck(MemoryState(), "s", IDS[:size], random.Random(seed)), 6 * size)]
        assert all(a != b for a, b in itertools.pairwise(items)), (seed, items)


def test_no_immediate_repeat_across_a_filtered_reshuffle() -> None:
    for seed in range(40):
        deck = Deck(MemoryState(), "s", MIXED, random.Random(seed))
        items = [item for item, _ in draws(deck, 4 * len(LIGHT), is_light)]
        assert all(a != b for a, b in itertools.pairwise(items)), (seed, items)


# -- persistence across restarts -------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_restarts_keep_the_cycle_in_memory_store(seed: int) -> None:
    items = restarted_draws(MemoryState(), IDS, 3 * len(IDS), seed)
    assert all(sorted(items[k : k + len(IDS)]) == IDS for k in range(0, len(items), len(IDS)))


def test_restarts_keep_the_cycle_in_a_real_journal(tmp_path: Path) -> None:
    items = []
    for n in range(2 * len(IDS)):
        with Journal(tmp_path / "journal.db") as book:  # a new process each time, as far as the deck knows
            items.append(Deck(book, "starters", IDS, random.Random(n)).draw()[0])
    assert sorted(items[: len(IDS)]) == IDS
    assert sorted(items[len(IDS) :]) == IDS


def test_journal_store_keeps_json_state(journal: Journal) -> None:
    Deck(journal, "starters", IDS, random.Random(0)).draw()
    saved = journal.get_state("deck:starters")
    assert len(saved["remaining"]) == len(IDS) - 1
    assert len(saved["seen"]) == 1


def test_decks_with_different_names_are_independent(journal: Journal) -> None:
    starters = [item for item, _ in draws(Deck(journal, "starters", IDS, random.Random(0)), len(IDS))]
    tips = [item for item, _ in draws(Deck(journal, "tips", IDS, random.Random(1)), len(IDS))]
    assert sorted(starters) == sorted(tips) == IDS


def test_a_deck_survives_a_journal_reopen_mid_cycle(tmp_path: Path) -> None:
    with Journal(tmp_path / "journal.db") as book:
        first = [item for item, _ in draws(Deck(book, "s", IDS, random.Random(3)), 5)]
    with Journal(tmp_path / "journal.db") as book:
        rest = draws(Deck(book, "s", IDS, random.Random(99)), len(IDS) - 5)
    assert sorted(first + [item for item, _ in rest]) == IDS
    assert not any(flag for _, flag in rest)


# -- filters ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("allowed", "kind"), [(is_light, LIGHT), (is_deep, DEEP)], ids=["light", "deep"])
def test_filtered_draws_only_match(allowed: Callable[[str], bool], kind: set[str]) -> None:
    deck = Deck(MemoryState(), "s", MIXED, random.Random(5))
    items = [item for item, _ in draws(deck, 3 * len(kind), allowed)]
    assert set(items) == kind
    assert all(sorted(items[k : k + len(kind)]) == sorted(kind) for k in range(0, len(items), len(kind)))


def test_filtered_reshuffle_happens_when_the_kind_runs_out() -> None:
    deck = Deck(MemoryState(), "s", MIXED, random.Random(2))
    flags = [flag for _, flag in draws(deck, len(DEEP) + 1, is_deep)]
    assert flags == [False] * len(DEEP) + [True]


def test_filtered_draws_leave_other_items_unused() -> None:
    deck = Deck(MemoryState(), "s", MIXED, random.Random(4))
    draws(deck, 2 * len(LIGHT), is_light)  # light cycles twice
    rest = draws(deck, len(DEEP))
    assert {item for item, _ in rest} == DEEP
    assert not any(flag for _, flag in rest)


def test_unfiltered_draws_after_filtered_finish_the_cycle() -> None:
    deck = Deck(MemoryState(), "s", MIXED, random.Random(6))
    light = [item for item, _ in draws(deck, 2, is_light)]
    rest = [item for item, _ in draws(deck, len(MIXED) - 2)]
    assert sorted(light + rest) == MIXED


def test_filter_matching_nothing_raises_and_keeps_state() -> None:
    store = MemoryState()
    deck = Deck(store, "s", MIXED, random.Random(0))
    deck.draw()
    before = store.get_state("deck:s")
    with pytest.raises(LookupError, match="no item that fits"):
        deck.draw(lambda item: item.startswith("zzz"))
    assert store.get_state("deck:s") == before


# -- content changes between runs ----------------------------------------------------------------------


def test_new_ids_join_the_unused_part(journal: Journal) -> None:
    old, new = IDS[:6], IDS[6:]
    first = [item for item, _ in draws(Deck(journal, "s", old, random.Random(0)), 3)]
    rest = draws(Deck(journal, "s", IDS, random.Random(1)), len(IDS) - 3)
    assert sorted(first + [item for item, _ in rest]) == IDS
    assert set(new) <= {item for item, _ in rest}
    assert not any(flag for _, flag in rest)


def test_new_ids_after_a_finished_cycle_come_before_any_repeat() -> None:
    store = MemoryState()
    draws(Deck(store, "s", IDS[:4], random.Random(0)), 4)
    got = draws(Deck(store, "s", IDS[:6], random.Random(1)), 2)
    assert sorted(item for item, _ in got) == IDS[4:6]
    assert [flag for _, flag in got] == [False, False]


def test_new_ids_do_not_always_go_last() -> None:
    lasts = set()
    for seed in range(30):
        store = MemoryState()
        Deck(store, "s", IDS[:6], random.Random(seed)).draw()
        items = [item for item, _ in draws(Deck(store, "s", [*IDS[:6], "new"], random.Random(seed)), 6)]
        lasts.add(items.index("new"))
    assert len(lasts) > 2


def test_removed_ids_vanish(journal: Journal) -> None:
    draws(Deck(journal, "s", IDS, random.Random(0)), 4)
    kept = IDS[::2]
    items = [item for item, _ in draws(Deck(journal, "s", kept, random.Random(1)), 3 * len(kept))]
    assert set(items) == set(kept)
    assert set(journal.get_state("deck:s")["remaining"]) | set(journal.get_state("deck:s")["seen"]) <= set(kept)


def test_removing_every_unused_id_reshuffles_the_rest() -> None:
    store = MemoryState()
    first = [item for item, _ in draws(Deck(store, "s", IDS[:4], random.Random(0)), 2)]
    item, reshuffled = Deck(store, "s", first, random.Random(1)).draw()
    assert item in first
    assert reshuffled is True


def test_saved_state_with_unknown_or_duplicate_ids_is_cleaned() -> None:
    store = MemoryState()
    store.set_state("deck:s", {"remaining": ["a", "gone"], "seen": ["a", "b", "old"]})
    got = draws(Deck(store, "s", ["a", "b", "c"], random.Random(0)), 2)
    assert sorted(item for item, _ in got) == ["a", "c"]
    assert store.get_state("deck:s")["seen"][0] == "b"


def test_empty_saved_state_starts_fresh() -> None:
    store = MemoryState()
    store.set_state("deck:s", {})
    assert sorted(item for item, _ in draws(Deck(store, "s", IDS, random.Random(0)), len(IDS))) == IDS
