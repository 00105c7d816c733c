"""Facts about the templates as a speech grammar: how many sentences they expand to and which words they use.

The speech side compiles a grammar from the same templates the text matcher uses (`Matcher.intents`); these
helpers measure it without expanding it (the expansion runs to hundreds of thousands of sentences).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hassil import Intents
    from hassil.expression import Expression, Sentence


def sentence_counts(intents: Intents) -> dict[str, int]:
    """Number of word sequences each intent's templates expand to (a wildcard counts as one word).

    Counts paths through the templates, so a sentence reachable two ways is counted twice: an upper bound on
    distinct sentences, and the right measure of how much a grammar-constrained decoder has to tell apart.
    """
    counts: dict[str, int] = {}
    for name, intent in intents.intents.items():
        total = 0
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            memo: dict[str, int] = {}
            total += sum(_count(sentence.expression, rules, lists, memo) for sentence in data.sentences)
        counts[name] = total
    return counts


def template_words(intents: Intents) -> set[str]:
    """Every literal word the templates can produce (lists and rules included, wildcards excluded)."""
    from hassil.expression import TextChunk

    words: set[str] = set()
    for intent in intents.intents.values():
        for data in intent.data:
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            for sentence in data.sentences:
                for expression in walk(sentence.expression, rules, lists):
                    if isinstance(expression, TextChunk):
                        words.update(expression.text.lower().split())
    return words


def walk(expression: Expression, rules: dict[str, Sentence], lists: dict[str, Any]) -> Iterator[Expression]:
    """Every expression reachable from `expression`, following rules and text-list values (each one once)."""
    from hassil.expression import Group, ListReference, RuleReference
    from hassil.intents import TextSlotList

    seen: set[str] = set()
    stack: list[Expression] = [expression]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Group):
            stack.extend(reversed(current.items))
        elif isinstance(current, RuleReference) and current.rule_name in rules and "<" + current.rule_name not in seen:
            seen.add("<" + current.rule_name)
            stack.append(rules[current.rule_name].expression)
        elif (
            isinstance(current, ListReference)
            and isinstance(lists.get(current.list_name), TextSlotList)
            and "{" + current.list_name not in seen
        ):
            seen.add("{" + current.list_name)
            stack.extend(value.text_in for value in lists[current.list_name].values)


def _count(expression: Expression, rules: dict[str, Sentence], lists: dict[str, Any], memo: dict[str, int]) -> int:
    from hassil.expression import Alternative, Group, ListReference, Permutation, RuleReference, TextChunk
    from hassil.intents import RangeSlotList, TextSlotList

    if isinstance(expression, TextChunk):
        return 1
    if isinstance(expression, Alternative):
        return sum(_count(item, rules, lists, memo) for item in expression.items)
    if isinstance(expression, Permutation):
        product = 1
        for item in expression.items:
            product *= _count(item, rules, lists, memo)
        for factor in range(2, len(expression.items) + 1):
            product *= factor
        return product
    if isinstance(expression, Group):
        product = 1
        for item in expression.items:
            product *= _count(item, rules, lists, memo)
        return product
    if isinstance(expression, RuleReference):
        key = "<" + expression.rule_name
        if key not in memo:
            memo[key] = _count(rules[expression.rule_name].expression, rules, lists, memo)
        return memo[key]
    if isinstance(expression, ListReference):
        key = "{" + expression.list_name
        if key not in memo:
            slot_list = lists.get(expression.list_name)
            if isinstance(slot_list, TextSlotList):
                memo[key] = sum(_count(value.text_in, rules, lists, memo) for value in slot_list.values)
            elif isinstance(slot_list, RangeSlotList):
                memo[key] = len(list(slot_list.get_numbers()))
            else:
                memo[key] = 1
        return memo[key]
    return 1
