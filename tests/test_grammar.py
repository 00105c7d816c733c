"""Templates -> word graph: every template construct, compaction, and the shipped templates."""

from __future__ import annotations

import io

import pytest
from hassil import Intents

from assistant.errors import ContentError
from intents.grammar import WILDCARD, Grammar, compact, compile_grammar, number_words

TEMPLATES = """
language: en
intents:
  date_night_start:
    data:
      - sentences:
          - "start [a] date night [for {minutes} minute[s]]"
          - "<begin> date night"
        expansion_rules:
          begin: "(let's|let us) (start|begin)"
  conversation_starter:
    data:
      - sentences:
          - "(give|tell) me a [{depth}] question"
          - "(quick;fun) question"
  log_gratitude:
    data:
      - sentences:
          - "i'm grateful (for|that) {text}"
  help:
    data:
      - sentences:
          - "what can you do?"
lists:
  minutes:
    range:
      from: 1
      to: 3
  depth:
    values:
      - in: "(light|easy)"
        out: light
      - in: "deep"
        out: deep
  text:
    wildcard: true
"""


def grammar_of(text: str) -> Grammar:
    return compile_grammar(Intents.from_yaml(io.StringIO(text)))


@pytest.fixture(scope="module")
def grammar() -> Grammar:
    return grammar_of(TEMPLATES)


def test_plain_sentence_with_punctuation(grammar: Grammar) -> None:
    assert grammar.accepts("what can you do")
    assert not grammar.accepts("what can you")


def test_optional_words(grammar: Grammar) -> None:
    assert grammar.accepts("start a date night")
    assert grammar.accepts("start date night")


def test_range_list_becomes_number_words(grammar: Grammar) -> None:
    assert grammar.accepts("start date night for two minutes")
    assert not grammar.accepts("start date night for four minutes")


def test_partial_word_joins_into_one_word(grammar: Grammar) -> None:
    assert grammar.accepts("start a date night for one minute")
    assert "minutes" in grammar.words and "s" not in grammar.words


def test_text_list_values_and_alternatives(grammar: Grammar) -> None:
    assert grammar.accepts("tell me a easy question")
    assert grammar.accepts("give me a deep question")
    assert grammar.accepts("give me a question")


def test_permutation_in_either_order(grammar: Grammar) -> None:
    assert grammar.accepts("quick fun question")
    assert grammar.accepts("fun quick question")


def test_expansion_rule(grammar: Grammar) -> None:
    assert grammar.accepts("let us begin date night")


def test_wildcard_is_one_arc(grammar: Grammar) -> None:
    assert grammar.has_wildcard
    assert WILDCARD not in grammar.words
    assert grammar.accepts("i'm grateful that sam cooked dinner")
    assert not grammar.accepts("i'm grateful that")


def test_intents_are_minimised_apart_and_joined_at_one_start_and_end(grammar: Grammar) -> None:
    assert not grammar.outgoing().get(grammar.final)
    assert grammar.accepts("please start date night thanks")
    assert grammar.accepts("could you tell me a deep question")
    assert not grammar.accepts("please please start date night")
    # Empty moves lead from where each intent's phrases end to one shared end (then "thanks"), and from it to final;
    # none leaves the start.
    empty = [a for a in grammar.arcs if a.word is None]
    assert len({a.dst for a in empty}) == 2
    assert grammar.final in {a.dst for a in empty}
    assert all(a.src != grammar.start for a in empty)
    # "date night" ends two different sentences of one intent; minimisation shares it.
    assert sum(1 for a in grammar.arcs if a.word == "night") <= 2


def test_phrases_lists_accepted_sentences(grammar: Grammar) -> None:
    phrases = grammar.phrases(limit=10000)
    assert "start a date night for three minutes" in phrases
    assert all(grammar.accepts(p) for p in phrases if WILDCARD not in p)


def test_number_words() -> None:
    assert number_words(25) == "twenty five"
    assert number_words(120) == "one hundred twenty"


def test_digits_in_templates_are_spoken() -> None:
    text = "language: en\nintents:\n  next:\n    data:\n      - sentences:\n          - 'give me 2 more'\n"
    assert grammar_of(text).accepts("give me two more")


def test_missing_rule_is_a_content_error() -> None:
    text = "language: en\nintents:\n  next:\n    data:\n      - sentences:\n          - '<nowhere> next'\n"
    with pytest.raises(ContentError, match="nowhere"):
        grammar_of(text)


def test_missing_list_is_a_content_error() -> None:
    text = "language: en\nintents:\n  next:\n    data:\n      - sentences:\n          - 'next {thing}'\n"
    with pytest.raises(ContentError, match="thing"):
        grammar_of(text)


def test_compact_keeps_the_language(grammar: Grammar) -> None:
    small = compact(grammar, 4)
    assert small.num_states < grammar.num_states
    for phrase in grammar.phrases(limit=10000):
        assert small.accepts(phrase.replace(WILDCARD, "sam cooked dinner"))
    assert not small.accepts("start a date night for four minutes")


def test_compact_keeps_wildcard_states(grammar: Grammar) -> None:
    small = compact(grammar, 2)
    assert any(a.word == WILDCARD for a in small.arcs)
    assert small.accepts("i'm grateful for the rain")


@pytest.fixture(scope="module")
def shipped() -> Grammar:
    from intents.matcher import Matcher

    return compile_grammar(Matcher().intents)


def test_shipped_templates_compile(shipped: Grammar) -> None:
    assert shipped.has_wildcard
    assert shipped.accepts("give us a deep question")
    assert shipped.accepts("start a date night for ninety minutes")
    assert shipped.accepts("i'm grateful that sam cooked dinner")
    assert not shipped.accepts("what's the weather like tomorrow")


def test_shipped_grammar_is_not_multiplied_across_intents(shipped: Grammar) -> None:
    # Determinised all together the intents took 36,863 arcs (PocketSphinx: 94 MB); apart, 19,067 (47 MB).
    assert len(shipped.arcs) < 25_000


def test_every_shipped_word_has_a_pronunciation(shipped: Grammar) -> None:
    import pocketsphinx

    decoder = pocketsphinx.Decoder(lm=None, loglevel="FATAL")
    missing = sorted(w for w in shipped.words if decoder.lookup_word(w) is None)
    # Possessives the dictionary lacks are built from their base word (audio/stt/pocketsphinx.py).
    assert [w for w in missing if not (w.endswith("'s") and decoder.lookup_word(w[:-2]))] == []
    assert "'s" not in shipped.words  # "what 's" would need a word "'s"


def test_spoken_wrappers_are_accepted_around_every_phrase(shipped: Grammar) -> None:
    assert shipped.accepts("could you give us a deep question please")
    assert shipped.accepts("hey rekindle start a date night")
    assert shipped.accepts("a date idea thanks")
    assert not shipped.accepts("please")
    assert not shipped.accepts("thank you")


@pytest.mark.parametrize(
    "sentence",
    [
        "give us a deep question",
        "deep question",
        "give us some deep questions",
        "deep questions please",
        "what's a good light question",
        "ask us a deep one",
        "surprise me with a serious topic",
        "give me a topic",
    ],
)
def test_a_depth_word_before_one_question_comes_with_its_article(shipped: Grammar, sentence: str) -> None:
    assert shipped.accepts(sentence)


@pytest.mark.parametrize(
    "sentence", ["give me deep topic", "what's light question", "ask us deep one", "give me a big topic"]
)
def test_sentences_a_recogniser_could_hear_a_topic_as_are_not_in_the_grammar(shipped: Grammar, sentence: str) -> None:
    # "give me a topic" (Piper) came back as "give me big topic" while the grammar allowed it (0 of 6 clips right).
    assert not shipped.accepts(sentence)
