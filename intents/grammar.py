"""Command grammar: the intent templates compiled into a small word graph a recogniser can search.

The hassil templates (alternatives, optionals, permutations, expansion rules, text and range lists) are
walked into a graph whose arcs carry whole spoken words, then determinised and minimised so phrases that
share a beginning or an end share states. Range lists become number words ("twenty five"), which the
matcher turns back into numbers. A wildcard list ({text} in log_gratitude) cannot be a set of words: it
becomes one arc labelled `WILDCARD`, which each engine replaces with its own free-speech model.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import logging
import os
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.errors import ContentError

if TYPE_CHECKING:
    from hassil import Intents
    from hassil.expression import Expression, ListReference
    from hassil.intents import IntentData

_LOGGER = logging.getLogger(__name__)

WILDCARD = "<wildcard>"
"""Arc label standing for free speech (a wildcard slot); never a dictionary word."""

_SPACE = "\x00"
"""Token for a word boundary while walking templates (templates may split words: 'minute[s]')."""
_MAX_RULE_DEPTH = 20
_WORD = re.compile(r"'?[a-z][a-z']*|<wildcard>")


@dataclass(frozen=True)
class Arc:
    """One transition of the grammar."""

    src: int
    """State the arc leaves."""
    dst: int
    """State the arc enters."""
    word: str | None
    """Spoken word (lower case), several words joined by spaces (after `compact`), `WILDCARD`, or None for
    an empty (epsilon) move."""


@dataclass(frozen=True)
class Grammar:
    """A finite-state command grammar: every path from `start` to `final` is one accepted phrase."""

    start: int
    """Initial state."""
    final: int
    """The one accepting state (engines such as PocketSphinx want exactly one)."""
    arcs: tuple[Arc, ...]
    """All transitions; words on arcs, or None for an empty move (between the shared start and end and each
    intent's own part)."""
    num_states: int
    """States are numbered 0 .. num_states - 1."""

    @property
    def words(self) -> frozenset[str]:
        """Every spoken word the grammar uses (not `WILDCARD`); each needs a pronunciation."""
        return frozenset(w for a in self.arcs if a.word and a.word != WILDCARD for w in a.word.split())

    @property
    def has_wildcard(self) -> bool:
        """True when some phrase contains free speech."""
        return any(a.word == WILDCARD for a in self.arcs)

    def outgoing(self) -> dict[int, list[Arc]]:
        """Arcs grouped by the state they leave."""
        out: dict[int, list[Arc]] = defaultdict(list)
        for arc in self.arcs:
            out[arc.src].append(arc)
        return out

    def phrases(self, limit: int = 1000) -> list[str]:
        """Up to `limit` accepted phrases (depth first; for tests and debugging)."""
        out = self.outgoing()
        found: list[str] = []
        stack: list[tuple[int, tuple[str, ...]]] = [(self.start, ())]
        while stack and len(found) < limit:
            state, words = stack.pop()
            if state == self.final:
                found.append(" ".join(words))
            for arc in reversed(out.get(state, [])):
                stack.append((arc.dst, (*words, arc.word) if arc.word else words))
        return found

    def accepts(self, phrase: str) -> bool:
        """True when the space-separated words are one path through the grammar (WILDCARD takes 1+ words)."""
        out = self.outgoing()
        words = phrase.split()
        todo: list[tuple[int, int]] = [(self.start, 0)]
        seen: set[tuple[int, int]] = set()
        while todo:
            state, pos = todo.pop()
            if (state, pos) in seen:
                continue
            seen.add((state, pos))
            if state == self.final and pos == len(words):
                return True
            for arc in out.get(state, []):
                if arc.word is None:
                    todo.append((arc.dst, pos))
                elif arc.word == WILDCARD:
                    todo.extend((arc.dst, end) for end in range(pos + 1, len(words) + 1))
                else:
                    label = arc.word.split()
                    if words[pos : pos + len(label)] == label:
                        todo.append((arc.dst, pos + len(label)))
        return False


SPOKEN_BEFORE = ("please", "could you", "can you", "would you", "hey rekindle", "okay rekindle", "rekindle")
"""Words people put before a command that the text matcher drops (intents/normalize.py) and the spoken grammar
therefore accepts before every phrase ("could you give us a question")."""
SPOKEN_AFTER = ("please", "thanks", "thank you")
"""... and after every phrase ("a date idea please")."""


def compile_grammar(
    intents: Intents,
    intent_names: Iterable[str] | None = None,
    before: Iterable[str] = SPOKEN_BEFORE,
    after: Iterable[str] = SPOKEN_AFTER,
) -> Grammar:
    """Compile every sentence of the (chosen) intents into one word graph; each phrase may be preceded by one of
    `before` and followed by one of `after`.

    Each intent is minimised on its own, and the intents share only the start (their first words leave it) and an
    end (empty moves into it), where the wrappers are: a few arcs, not a copy per intent. Determinising all intents
    together would merge phrases of different intents that begin alike ("give me a ...") into states that remember
    every intent still possible, which cannot be merged again: on the shipped templates that took 36,863 arcs
    against 19,067 this way, and a recogniser's memory grows with the arcs. (No empty moves leave the start:
    PocketSphinx then rejected short commands such as "stop".)
    """
    wanted = set(intent_names) if intent_names is not None else None
    arcs: list[Arc] = []
    start, end, final = 0, 1, 2
    count = 3

    def chain(src: int, phrase: str, dst: int) -> None:
        nonlocal count
        words = [token for token in _text_tokens(phrase) if token != _SPACE]
        for number, word in enumerate(words):
            nxt = dst if number == len(words) - 1 else count
            count += nxt == count
            arcs.append(Arc(src, nxt, word))
            src = nxt

    entries = [start]
    """Where a command's first word may be said: the start, and after a word said before commands ("please")."""
    before, after = tuple(before), tuple(after)
    if before:
        entries.append(count)
        count += 1
        for phrase in before:
            chain(start, phrase, entries[1])
    for name, intent in intents.intents.items():
        if wanted is not None and name not in wanted:
            continue
        builder = _TokenGraph(intents)
        for data in intent.data:
            for sentence in data.sentences:
                first = builder.chain(builder.start, [_SPACE])
                last = builder.walk(sentence.expression, first, data, f"intent {name}", 0)
                builder.add(last, builder.final, _SPACE)
        one = _minimise(builder.word_arcs(), builder.start, builder.final)
        offset = count
        count += one.num_states

        def state(number: int, one: Grammar = one, offset: int = offset) -> int:
            return end if number == one.final else number + offset

        arcs.extend(Arc(state(a.src), state(a.dst), a.word) for a in one.arcs)
        arcs.extend(Arc(entry, state(a.dst), a.word) for a in one.arcs if a.src == one.start for entry in entries)
    arcs.append(Arc(end, final, None))
    for phrase in after:
        chain(end, phrase, final)
    return _reachable(arcs, start, final)


def _reachable(arcs: list[Arc], start: int, final: int) -> Grammar:
    """The part of the graph reachable from `start`, its states numbered densely in order of first use."""
    out: dict[int, list[Arc]] = defaultdict(list)
    for arc in arcs:
        out[arc.src].append(arc)
    number = {start: 0}
    todo = [start]
    while todo:
        for arc in out[todo.pop()]:
            if arc.dst not in number:
                number[arc.dst] = len(number)
                todo.append(arc.dst)
    if final not in number:
        raise ContentError("the intent templates accept no phrase; add sentences")
    kept = tuple(Arc(number[a.src], number[a.dst], a.word) for a in arcs if a.src in number)
    return Grammar(start=0, final=number[final], arcs=kept, num_states=len(number))


def compact(grammar: Grammar, max_states: int) -> Grammar:
    """The same phrases with at most about `max_states` states: states are removed by joining the words
    into and out of them into multi-word arcs ('give us'), cheapest first (fewest new arcs).

    Decoders such as PocketSphinx spend time on every grammar state in every frame, so fewer states with
    longer arcs decode faster. States next to a `WILDCARD` arc are kept.
    """
    import heapq

    into: dict[int, set[int]] = defaultdict(set)
    out_of: dict[int, set[int]] = defaultdict(set)
    labels: dict[int, tuple[int, int, str | None]] = {}
    for number, arc in enumerate(grammar.arcs):
        labels[number] = (arc.src, arc.dst, arc.word)
        out_of[arc.src].add(number)
        into[arc.dst].add(number)
    next_id = len(labels)
    keep = {grammar.start, grammar.final}
    keep |= {s for a in grammar.arcs if a.word == WILDCARD for s in (a.src, a.dst)}

    def cost(state: int) -> int:
        return len(into[state]) * len(out_of[state]) - len(into[state]) - len(out_of[state])

    heap = [(cost(s), s) for s in range(grammar.num_states) if s not in keep]
    heapq.heapify(heap)
    alive = grammar.num_states
    removed: set[int] = set()
    while alive > max_states and heap:
        old_cost, state = heapq.heappop(heap)
        if state in removed:
            continue
        if old_cost != cost(state):
            heapq.heappush(heap, (cost(state), state))
            continue
        touched: set[int] = set()
        for arc_in in into[state]:
            src, _, first = labels[arc_in]
            for arc_out in out_of[state]:
                _, dst, second = labels[arc_out]
                label = " ".join(w for w in (first, second) if w) or None
                labels[next_id] = (src, dst, label)
                out_of[src].add(next_id)
                into[dst].add(next_id)
                next_id += 1
                touched |= {src, dst}
        for arc_in in into.pop(state):
            out_of[labels.pop(arc_in)[0]].discard(arc_in)
        for arc_out in out_of.pop(state):
            into[labels.pop(arc_out)[1]].discard(arc_out)
        removed.add(state)
        alive -= 1
        for other in touched - keep - removed:
            heapq.heappush(heap, (cost(other), other))
    used = sorted({s for src, dst, _ in labels.values() for s in (src, dst)} | keep)
    number_of = {state: i for i, state in enumerate(used)}
    arcs = tuple(
        sorted(
            {Arc(number_of[src], number_of[dst], label) for src, dst, label in labels.values()},
            key=lambda a: (a.src, a.dst, a.word or ""),
        )
    )
    return Grammar(number_of[grammar.start], number_of[grammar.final], arcs, len(used))


CACHE_FORMAT = 1
"""Bump when the cached grammar's JSON layout changes."""


def to_json(grammar: Grammar) -> str:
    """The grammar as compact JSON (for the on-disk cache)."""
    arcs = [[a.src, a.dst, a.word] for a in grammar.arcs]
    return json.dumps(
        {
            "format": CACHE_FORMAT,
            "start": grammar.start,
            "final": grammar.final,
            "states": grammar.num_states,
            "arcs": arcs,
        },
        separators=(",", ":"),
    )


def from_json(text: str) -> Grammar:
    """A grammar written by `to_json`; ContentError when the text is not one."""
    try:
        data = json.loads(text)
        if data.get("format") != CACHE_FORMAT:
            raise ContentError(f"grammar cache format {data.get('format')!r}, expected {CACHE_FORMAT}")
        arcs = tuple(Arc(int(src), int(dst), None if word is None else str(word)) for src, dst, word in data["arcs"])
        return Grammar(int(data["start"]), int(data["final"]), arcs, int(data["states"]))
    except (ValueError, KeyError, TypeError, AttributeError) as err:
        raise ContentError(f"not a grammar cache ({err})") from err


def cache_key(files: Iterable[Path], *parts: str) -> str:
    """A hash of the template files, this module's code and `parts` (settings): any change gives a new key."""
    digest = hashlib.sha256()
    for path in [Path(__file__), *files]:
        data = path.read_bytes()
        digest.update(f"{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    for part in parts:
        digest.update(f"\0{part}".encode())
    return digest.hexdigest()[:32]


def cached(path: Path | None, build: Callable[[], Grammar]) -> Grammar:
    """The grammar stored at `path`, or `build()` stored there for next time.

    The cache is only a speed-up: an unreadable or damaged file is rebuilt, and a cache that cannot be
    written (read-only home, full disk) is skipped with a debug line.
    """
    if path is not None:
        try:
            grammar = from_json(path.read_text(encoding="utf-8"))
            _LOGGER.debug("Loaded the command grammar from %s", path)
            return grammar
        except FileNotFoundError:
            pass
        except (OSError, UnicodeDecodeError, ContentError) as err:
            _LOGGER.debug("Ignoring the grammar cache %s: %s", path, err)
    grammar = build()
    if path is not None:
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            partial.write_text(to_json(grammar), encoding="utf-8")
            os.replace(partial, path)
        except OSError as err:
            _LOGGER.debug("Could not write the grammar cache %s: %s", path, err)
            with contextlib.suppress(OSError):
                partial.unlink(missing_ok=True)
    return grammar


class _TokenGraph:
    """Templates as a graph over text pieces and word boundaries (before pieces are joined into words)."""

    def __init__(self, intents: Intents) -> None:
        self.intents = intents
        self.arcs: dict[int, list[tuple[int, str | None]]] = defaultdict(list)
        self.count = 0
        self.start = self.new_state()
        self.final = self.new_state()

    def new_state(self) -> int:
        self.count += 1
        return self.count - 1

    def add(self, src: int, dst: int, token: str | None) -> None:
        self.arcs[src].append((dst, token))

    def chain(self, src: int, tokens: Iterable[str]) -> int:
        for token in tokens:
            nxt = self.new_state()
            self.add(src, nxt, token)
            src = nxt
        return src

    def optional(self, src: int, phrases: tuple[str, ...], trailing_space: bool) -> int:
        """Nothing or one of `phrases` (with a word boundary after it, or before it) from `src`."""
        if not phrases:
            return src
        end = self.new_state()
        self.add(src, end, None)
        for phrase in phrases:
            tokens = [*_text_tokens(phrase), _SPACE] if trailing_space else [_SPACE, *_text_tokens(phrase)]
            self.add(self.chain(src, tokens), end, None)
        return end

    def walk(self, expr: Expression, src: int, data: IntentData, where: str, depth: int) -> int:
        """Add `expr` starting at `src`; return the state where it ends."""
        from hassil.expression import (
            Alternative,
            ListReference,
            Permutation,
            RuleReference,
            Sequence,
            TextChunk,
        )

        if isinstance(expr, TextChunk):
            return self.chain(src, _text_tokens(expr.original_text))
        if isinstance(expr, Permutation):
            orders = [
                Sequence([item for pair in zip(order, _spaces(len(order)), strict=True) for item in pair])
                for order in itertools.permutations(expr.items)
            ]
            return self.walk(Alternative(list(orders)), src, data, where, depth)
        if isinstance(expr, Alternative):
            end = self.new_state()
            for item in expr.items:
                self.add(self.walk(item, src, data, where, depth), end, None)
            if expr.is_optional:
                self.add(src, end, None)
            return end
        if isinstance(expr, Sequence):
            for item in expr.items:
                src = self.walk(item, src, data, where, depth)
            return src
        if isinstance(expr, ListReference):
            before = self.chain(src, [_SPACE])
            return self.chain(self.walk_list(expr, before, data, where, depth), [_SPACE])
        if isinstance(expr, RuleReference):
            rule = data.expansion_rules.get(expr.rule_name) or self.intents.expansion_rules.get(expr.rule_name)
            if rule is None:
                raise ContentError(f"{where}: rule <{expr.rule_name}> is not defined; add it to expansion_rules")
            if depth > _MAX_RULE_DEPTH:
                raise ContentError(f"{where}: rule <{expr.rule_name}> refers to itself; break the cycle")
            return self.walk(rule.expression, src, data, where, depth + 1)
        raise ContentError(f"{where}: unsupported template part {type(expr).__name__}")

    def walk_list(self, ref: ListReference, src: int, data: IntentData, where: str, depth: int) -> int:
        from hassil.expression import Alternative
        from hassil.intents import RangeSlotList, TextSlotList, WildcardSlotList

        inline = ref.get_inline_range()
        if inline is not None:
            return self.numbers(src, range(inline[0], inline[1] + 1, inline[2]))
        slot_list = data.slot_lists.get(ref.list_name) or self.intents.slot_lists.get(ref.list_name)
        if slot_list is None:
            raise ContentError(f"{where}: list {{{ref.list_name}}} is not defined; add it under lists")
        if isinstance(slot_list, WildcardSlotList):
            return self.chain(src, [WILDCARD])
        if isinstance(slot_list, RangeSlotList):
            if slot_list.fraction_type is not None:
                raise ContentError(f"{where}: list {{{ref.list_name}}} has fractions; speak whole numbers only")
            return self.numbers(src, range(slot_list.start, slot_list.stop + 1, slot_list.step))
        if isinstance(slot_list, TextSlotList):
            values = Alternative([value.text_in for value in slot_list.values])
            return self.walk(values, src, data, f"{where}, list {{{ref.list_name}}}", depth)
        raise ContentError(f"{where}: list {{{ref.list_name}}} has an unknown type")

    def numbers(self, src: int, numbers: Iterable[int]) -> int:
        end = self.new_state()
        for number in numbers:
            self.add(self.chain(src, _spaced(number_words(number).split())), end, None)
        return end

    def word_arcs(self) -> list[Arc]:
        """Join pieces between boundaries into words: one arc per distinct (boundary, word, boundary)."""
        boundaries = {self.start} | {dst for arcs in self.arcs.values() for dst, tok in arcs if tok == _SPACE}
        found: set[tuple[int, int, str | None]] = set()
        for boundary in boundaries:
            todo: list[tuple[int, str]] = [(boundary, "")]
            seen: set[tuple[int, str]] = set()
            while todo:
                state, piece = todo.pop()
                if (state, piece) in seen:
                    continue
                seen.add((state, piece))
                for dst, token in self.arcs[state]:
                    if token == _SPACE:
                        found.add((boundary, dst, piece or None))
                    else:
                        todo.append((dst, piece + (token or "")))
        arcs = []
        for src, dst, word in sorted(found, key=lambda a: (a[0], a[1], a[2] or "")):
            if word is not None and not _WORD.fullmatch(word):
                raise ContentError(f"template word {word!r} cannot be spoken; write it in letters")
            arcs.append(Arc(src, dst, word))
        return arcs


def number_words(number: int) -> str:
    """English words for a whole number, space separated ('one hundred twenty five')."""
    from hassil.numbers import get_rbnf_engine

    text = get_rbnf_engine("en").format_number(number).text
    return " ".join(re.sub(r"[^a-z' ]", " ", text.lower().replace("-", " ")).split())


def _spaced(words: list[str]) -> list[str]:
    return [token for word in words for token in (word, _SPACE)][:-1]


def _spaces(count: int) -> Iterator[Expression]:
    from hassil.expression import TextChunk

    for _ in range(count):
        yield TextChunk(" ")


def _text_tokens(text: str) -> Iterator[str]:
    """Pieces and boundaries of one template chunk; punctuation other than apostrophes is a boundary."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"[^a-z0-9'\s]", " ", text)
    for match in re.finditer(r"\s+|\S+", text):
        run = match.group()
        if run.isspace():
            yield _SPACE
        elif run.isdigit():
            yield from _spaced(number_words(int(run)).split())
        else:
            yield run


def _minimise(arcs: list[Arc], start: int, final: int) -> Grammar:
    """Brzozowski minimisation (reverse and determinise, twice); one final state joined by epsilon arcs."""
    rev = [Arc(a.dst, a.src, a.word) for a in arcs]
    rev_arcs, rev_start, rev_finals = _determinise(rev, {final}, {start})
    back = [Arc(a.dst, a.src, a.word) for a in rev_arcs]
    det_arcs, det_start, det_finals = _determinise(back, rev_finals, {rev_start})
    if not det_finals:
        raise ContentError("the intent templates accept no phrase; add sentences")
    super_final = 1 + max([det_start, *(a.src for a in det_arcs), *(a.dst for a in det_arcs)])
    out = det_arcs + [Arc(state, super_final, None) for state in sorted(det_finals)]
    return Grammar(start=det_start, final=super_final, arcs=tuple(out), num_states=super_final + 1)


def _determinise(arcs: list[Arc], starts: set[int], finals: set[int]) -> tuple[list[Arc], int, set[int]]:
    """Subset construction with epsilon closure; returns (arcs, start, final states) of a DFA."""
    out: dict[int, list[Arc]] = defaultdict(list)
    for arc in arcs:
        out[arc.src].append(arc)

    def closure(states: Iterable[int]) -> frozenset[int]:
        stack = list(states)
        seen = set(stack)
        while stack:
            for arc in out[stack.pop()]:
                if arc.word is None and arc.dst not in seen:
                    seen.add(arc.dst)
                    stack.append(arc.dst)
        return frozenset(seen)

    first = closure(starts)
    ids: dict[frozenset[int], int] = {first: 0}
    todo = [first]
    dfa: list[Arc] = []
    dfa_finals: set[int] = set()
    while todo:
        subset = todo.pop()
        src = ids[subset]
        if subset & finals:
            dfa_finals.add(src)
        moves: dict[str, set[int]] = defaultdict(set)
        for state in subset:
            for arc in out[state]:
                if arc.word is not None:
                    moves[arc.word].add(arc.dst)
        for word in sorted(moves):
            target = closure(moves[word])
            if target not in ids:
                ids[target] = len(ids)
                todo.append(target)
            dfa.append(Arc(src, ids[target], word))
    return dfa, 0, dfa_finals
