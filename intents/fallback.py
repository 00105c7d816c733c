"""Keyword fallback for text no template matches: "we'd love a question for date night, something silly".

Rules are data (the `fallback:` section of the template YAML files, ignored by hassil):

    fallback:
      max_words: 14                       # longer text is never guessed at
      veto: [weather, music]              # any of these words: never guess
      order: [delete_gratitude, ...]      # the first intent whose rule holds wins
      cues:                               # named sets of words or phrases; "appreci*" matches a word's start
        gratitude: [grateful, thankful, gratitude]
      rules:                              # a rule holds when the text has a cue from every named set
        review_gratitude: [[gratitude, review]]           # ... and none from a set named with a leading "!"
      strategy:                           # strategy slot: the id whose cues occur most often
        active_listening: [listen*]

A guess needs a domain word ("gratitude", "date night", "question") and an ask word, so chatter and requests for
other assistants ("what's the weather") stay `none`. Slots come from the same lists the templates use.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from assistant.errors import ContentError
from intents.normalize import Normalized

if TYPE_CHECKING:
    from hassil import Intents

_GRATITUDE_LEADS = (("grateful", "for"), ("grateful", "that"), ("thankful", "for"), ("thankful", "that"))


@dataclass(frozen=True)
class Cue:
    """One word or phrase to look for; a trailing "*" on a word matches any word that starts so."""

    words: tuple[str, ...]
    """The words, in order."""

    def find(self, words: Sequence[str]) -> int:
        """Index of the first occurrence in `words`, or -1."""
        size = len(self.words)
        for start in range(len(words) - size + 1):
            if all(_word_matches(pattern, words[start + i]) for i, pattern in enumerate(self.words)):
                return start
        return -1


@dataclass(frozen=True)
class Rule:
    """Holds when the text contains at least one cue of every set."""

    intent: str
    """The intent guessed when the rule holds."""

    needs: tuple[tuple[Cue, ...], ...]
    """Sets of cues; each set must be hit."""

    unless: tuple[tuple[Cue, ...], ...] = ()
    """Sets of cues none of which may be hit."""

    def holds(self, words: Sequence[str]) -> bool:
        """True if `words` hit every set in `needs` and no set in `unless`."""
        return all(_hits(cues, words) for cues in self.needs) and not any(_hits(cues, words) for cues in self.unless)


class Fallback:
    """Guesses an intent from keywords when no template matched; `guess` returns None when unsure."""

    def __init__(self, section: Mapping[str, Any], intents: Intents) -> None:
        try:
            cues = {name: _cues(phrases) for name, phrases in section["cues"].items()}
            self.veto: tuple[Cue, ...] = _cues(section.get("veto", []))
            """Words that stop any guess (other assistants' domains: weather, music, timers)."""
            self.rules: tuple[Rule, ...] = tuple(
                Rule(
                    intent,
                    tuple(cues[name] for name in need if not name.startswith("!")),
                    tuple(cues[name[1:]] for name in need if name.startswith("!")),
                )
                for intent in section["order"]
                for need in section["rules"].get(intent, [])
            )
            """Rules in priority order."""
            self.max_words = int(section.get("max_words", 14))
            """Longer text (in normalised words) is never guessed at."""
            self.strategy_cues: dict[str, tuple[Cue, ...]] = {
                strategy: _cues(phrases) for strategy, phrases in section.get("strategy", {}).items()
            }
            """Cues for each strategy id."""
        except (KeyError, TypeError, AttributeError, ValueError) as error:
            raise ContentError(f"the fallback section of the intent templates is malformed ({error!r})") from error
        self._phrases = {
            name: _list_phrases(intents, name) for name in ("depth", "period", "period_possessive", "all_words")
        }
        self._durations = _list_phrases(intents, "hour_span") + [
            ((*phrase, unit), value)
            for phrase, value in _list_phrases(intents, "minute_count")
            for unit in ("minutes", "minute")
        ]

    def guess(self, normalized: Normalized) -> tuple[str, dict[str, str | int]] | None:
        """The intent and slots the keywords point to, or None."""
        words = normalized.words
        if not words or len(words) > self.max_words or self.vetoed(normalized):
            return None
        for rule in self.rules:
            if rule.holds(words):
                return rule.intent, self.slots(rule.intent, normalized)
        return None

    def vetoed(self, normalized: Normalized) -> bool:
        """True when the text names another assistant's domain (weather, music, ...): never guessed at."""
        return _hits(self.veto, normalized.words)

    def slots(self, intent: str, normalized: Normalized) -> dict[str, str | int]:
        """The slots of `intent` that its lists' words in the text give (depth, period, minutes, strategy, text)."""
        words = normalized.words
        slots: dict[str, str | int] = {}
        if intent == "conversation_starter":
            _put(slots, "depth", _find_phrase(words, self._phrases["depth"]))
        elif intent == "review_gratitude":
            for name in ("period", "period_possessive", "all_words"):
                _put(slots, "period", _find_phrase(words, self._phrases[name]))
        elif intent == "date_night_start":
            _put(slots, "minutes", _find_phrase(words, self._durations))
        elif intent == "strategy_advice":
            _put(slots, "strategy", self._strategy(words))
        elif intent == "log_gratitude":
            for lead in _GRATITUDE_LEADS:
                start = Cue(lead).find(words)
                if start >= 0 and start + 2 < len(words):
                    slots["text"] = normalized.source_text(start + 2, len(words) - 1)
                    break
        return slots

    def _strategy(self, words: Sequence[str]) -> str | None:
        hits = {strategy: sum(cue.find(words) >= 0 for cue in cues) for strategy, cues in self.strategy_cues.items()}
        best = max(hits.values(), default=0)
        winners = [strategy for strategy, count in hits.items() if count == best]
        return winners[0] if best and len(winners) == 1 else None


def _hits(cues: Sequence[Cue], words: Sequence[str]) -> bool:
    return any(cue.find(words) >= 0 for cue in cues)


def _word_matches(pattern: str, word: str) -> bool:
    return word.startswith(pattern[:-1]) if pattern.endswith("*") else word == pattern


def _cues(phrases: Iterable[str]) -> tuple[Cue, ...]:
    return tuple(Cue(tuple(str(phrase).split())) for phrase in phrases)


def _put(slots: dict[str, str | int], name: str, value: str | int | None) -> None:
    if value is not None and name not in slots:
        slots[name] = value


def _find_phrase(words: Sequence[str], phrases: Sequence[tuple[tuple[str, ...], Any]]) -> Any:
    """Value of the longest listed phrase found in `words` (phrases are sorted longest first)."""
    for phrase, value in phrases:
        if Cue(phrase).find(words) >= 0:
            return value
    return None


def _list_phrases(intents: Intents, list_name: str) -> list[tuple[tuple[str, ...], Any]]:
    """Every (words, value) a hassil text list can produce, longest first."""
    from hassil.intents import TextSlotList
    from hassil.sample import sample_expression

    slot_list = intents.slot_lists.get(list_name)
    if not isinstance(slot_list, TextSlotList):
        return []
    phrases = [
        (tuple(text.split()), value.value_out)
        for value in slot_list.values
        for text in sample_expression(value.text_in, intents.slot_lists, intents.expansion_rules)
    ]
    return sorted(phrases, key=lambda item: len(item[0]), reverse=True)
