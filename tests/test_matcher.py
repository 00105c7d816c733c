"""Text -> intent: golden cases, paraphrase accuracy, out-of-domain rejection, robustness, template contracts."""

from __future__ import annotations

import json
import pickle
import shutil
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.errors import ContentError
from intents import matcher as matcher_module
from intents.matcher import (
    FALLBACK_CONFIDENCE,
    INTENT_NAMES,
    MAX_INPUT_CHARS,
    NONE,
    SLOT_VALUES,
    TEMPLATE_DIR,
    IntentResult,
    Matcher,
    template_files,
)
from intents.normalize import normalize
from intents.template_stats import sentence_counts, template_words

PARAPHRASES = Path(__file__).resolve().parents[1] / "intents" / "paraphrases.tsv"

# Floors set just under what the matcher reaches (see bench/intent_text.py for the figures).
DEV_ACCURACY_FLOOR = 0.97
TEST_ACCURACY_FLOOR = 0.94
TEST_SLOT_ACCURACY_FLOOR = 0.92
WRONG_ACTION_CEILING = 0.01
OUT_OF_DOMAIN_ACCEPT_CEILING = 0.04
"""Share of a split's out-of-domain lines that may come back as a command (2026-11-28, with the first bank of
near-misses: dev 3/254, test 10/349; with the second, harder one: dev 11/397, test 18/502). A deletion still asks
"delete ...?" before it acts."""
GRAMMAR_PATHS_CEILING = 10_000_000_000


@lru_cache(maxsize=1)
def matcher() -> Matcher:
    return Matcher()


def paraphrases() -> list[tuple[str, str, dict[str, str | int], str]]:
    rows = []
    for line in PARAPHRASES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, intent, slots, split = line.split("\t")
            rows.append((text, intent, json.loads(slots), split))
    return rows


def assert_valid(result: IntentResult) -> None:
    assert result.intent in INTENT_NAMES
    for name, value in result.slots.items():
        allowed = SLOT_VALUES[name]
        if isinstance(allowed, frozenset):
            assert value in allowed, (name, value)
        else:
            assert isinstance(value, allowed) and not isinstance(value, bool), (name, value)
    assert 0.0 <= result.confidence <= 1.0
    assert (result.confidence == 0.0) == (result.intent == NONE)


# The user's own examples, and one case per slot value.
GOLDEN = [
    ("give me a conversation starter", "conversation_starter", {}),
    ("what should we talk about", "conversation_starter", {}),
    ("ask us a question", "conversation_starter", {}),
    ("ask us something deep", "conversation_starter", {"depth": "deep"}),
    ("give us a light question", "conversation_starter", {"depth": "light"}),
    ("log something I'm grateful for", "log_gratitude", {}),
    ("add to my gratitude journal", "log_gratitude", {}),
    ("I'm grateful that Sam cooked dinner", "log_gratitude", {"text": "Sam cooked dinner"}),
    ("I’m thankful for my wife’s patience.", "log_gratitude", {"text": "my wife's patience"}),
    ("what have I been grateful for this week", "review_gratitude", {"period": "this_week"}),
    ("read my gratitude journal", "review_gratitude", {}),
    ("how many things have I been grateful for", "review_gratitude", {}),
    ("what was I grateful for today", "review_gratitude", {"period": "today"}),
    ("what did I write in my journal yesterday", "review_gratitude", {"period": "yesterday"}),
    ("read my gratitude entries from this month", "review_gratitude", {"period": "this_month"}),
    ("read me everything in my gratitude journal", "review_gratitude", {"period": "all"}),
    ("tell me about active listening", "strategy_advice", {"strategy": "active_listening"}),
    ("how can we communicate better", "strategy_advice", {"strategy": "communication"}),
    ("give me a tip", "strategy_advice", {}),
    ("how can I listen better", "strategy_advice", {"strategy": "active_listening"}),
    ("how do we keep the romance alive", "strategy_advice", {"strategy": "romance"}),
    ("how do we deal with our underlying issues", "strategy_advice", {"strategy": "underlying_issues"}),
    ("how can I be more vulnerable", "strategy_advice", {"strategy": "vulnerability"}),
    ("tips on quality time", "strategy_advice", {"strategy": "quality_time"}),
    ("should we see a couples therapist", "strategy_advice", {"strategy": "professional_help"}),
    ("tell me about gratitude", "strategy_advice", {"strategy": "gratitude"}),
    ("give me a date night idea", "date_idea", {}),
    ("start date night", "date_night_start", {}),
    ("start date night for 90 minutes", "date_night_start", {"minutes": 90}),
    ("start date night for an hour and a half", "date_night_start", {"minutes": 90}),
    ("start date night for ninety minutes", "date_night_start", {"minutes": 90}),
    ("end date night", "date_night_stop", {}),
    ("pause date night", "date_night_pause", {}),
    ("resume date night", "date_night_resume", {}),
    ("another one", "next", {}),
    ("tell me more", "next", {}),
    ("say that again", "repeat", {}),
    ("what can you do", "help", {}),
    ("stop", "stop", {}),
    ("yes", "yes", {}),
    ("no", "no", {}),
    ("delete that", "delete_gratitude", {}),
    ("remove the last entry", "delete_gratitude", {}),
    ("Hey Rekindle, um, could you please give us a question?", "conversation_starter", {}),
]


@pytest.mark.parametrize(("text", "intent", "slots"), GOLDEN, ids=[case[0] for case in GOLDEN])
def test_golden(text: str, intent: str, slots: dict[str, str | int]) -> None:
    result = matcher().match(text)
    assert (result.intent, result.slots) == (intent, slots)
    assert result.confidence == 1.0


@pytest.mark.parametrize("text", ["I feel distant from my partner", "we've been drifting apart"])
def test_relationship_complaints_ask_for_guidance(text: str) -> None:
    result = matcher().match(text)
    assert result.intent == "strategy_advice"
    assert_valid(result)


OUT_OF_DOMAIN = [
    "what's the weather",
    "play music",
    "set a timer",
    "set a timer for 10 minutes",
    "turn on the lights",
    "tell me a joke",
    "what time is it",
    "I had pasta for lunch",
    "the cat is asleep on the sofa",
    "what's the date today",
    "pause the movie",
    "delete my last email",
    "give me a tip for cooking rice",
    "how can I sleep better",
    "I appreciate it",
    "I appreciate you so much",
]


@pytest.mark.parametrize("text", OUT_OF_DOMAIN)
def test_out_of_domain_is_none(text: str) -> None:
    assert matcher().match(text).intent == NONE


@pytest.mark.parametrize("text", ["", "   ", "\n\t", "...", "?!", "um", "please", "rekindle", "\x00\x01\u200b"])
def test_empty_or_content_free_input_is_none(text: str) -> None:
    assert matcher().match(text) == IntentResult(NONE, {}, 0.0, text.strip())


@pytest.mark.parametrize("text", ["a" * 1_000_000, "stop " * 200_000, "😀🙏❤️ " * 1000, "مرحبا " * 100])
def test_huge_or_foreign_input_is_none(text: str) -> None:
    result = matcher().match(text)
    assert result.intent == NONE
    assert len(result.text) <= MAX_INPUT_CHARS


def test_long_line_is_still_a_journal_entry_in_full() -> None:
    thing = " ".join(f"word{i}" for i in range(150))
    result = matcher().match(f"I'm grateful for {thing}.")
    assert result.intent == "log_gratitude"
    assert result.slots == {"text": thing}


def test_journal_text_keeps_the_users_words() -> None:
    result = matcher().match("I'm so grateful that Sam, my 2 kids & I cooked dinner!!")
    assert result.slots == {"text": "Sam, my 2 kids & I cooked dinner"}


def test_thanking_the_assistant_is_not_a_journal_entry() -> None:
    assert matcher().match("I appreciate that").intent == NONE
    assert matcher().match("I appreciate how patient Jo was").slots == {"text": "how patient Jo was"}


def test_unicode_forms_are_normalised() -> None:
    assert matcher().match("ｓｔｏｐ").intent == "stop"
    assert matcher().match("ﬁnish date night").intent == "date_night_stop"


def test_clauses_that_agree_give_the_intent() -> None:
    result = matcher().match("we're bored, give us a question to discuss")
    assert result.intent == "conversation_starter"
    assert 0.0 < result.confidence < 1.0


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("never mind, stop", "stop"),  # an interjection before a command is dropped...
        ("never mind give us a date idea", "date_idea"),
        ("we're back, resume the timer", "date_night_resume"),
        ("oops, remove that", "delete_gratitude"),
        ("never mind", "stop"),  # ...but not where it is the command itself
        ("we're back now", "date_night_resume"),
        ("hold on a second", "date_night_pause"),
        ("hang on", NONE),
    ],
)
def test_an_opening_interjection_counts_only_when_the_rest_is_a_command(text: str, intent: str) -> None:
    result = matcher().match(text)
    assert (result.intent, result.confidence) == (intent, 1.0 if intent != NONE else 0.0)


def test_clauses_that_disagree_give_none() -> None:
    assert matcher().match("yes, stop").intent == NONE


def test_keyword_fallback_is_marked_uncertain() -> None:
    result = matcher().match("we'd love some kind of question for date night, maybe something silly")
    assert result.intent == "conversation_starter"
    assert result.confidence == FALLBACK_CONFIDENCE < 1.0


def test_fallback_never_guesses_at_prose() -> None:
    long = "my partner and I keep wondering how couples find advice about communication in a long relationship"
    assert matcher().match(long).intent == NONE


def paraphrase_accuracy(split: str) -> tuple[float, float]:
    rows = [row for row in paraphrases() if row[3] == split]
    results = [(row, matcher().match(row[0])) for row in rows]
    intent_ok = sum(result.intent == row[1] for row, result in results)
    slots_ok = sum(result.intent == row[1] and result.slots == row[2] for row, result in results)
    return intent_ok / len(rows), slots_ok / len(rows)


def test_dev_paraphrase_accuracy() -> None:
    assert paraphrase_accuracy("dev")[0] >= DEV_ACCURACY_FLOOR


def test_test_paraphrase_accuracy() -> None:
    intent_accuracy, slot_accuracy = paraphrase_accuracy("test")
    assert intent_accuracy >= TEST_ACCURACY_FLOOR
    assert slot_accuracy >= TEST_SLOT_ACCURACY_FLOOR


@pytest.mark.parametrize("split", ["dev", "test"])
def test_out_of_domain_paraphrases_rarely_become_actions(split: str) -> None:
    lines = [text for text, intent, _, line_split in paraphrases() if intent == NONE and line_split == split]
    accepted = [(text, result.intent) for text in lines if (result := matcher().match(text)).intent != NONE]
    assert len(lines) >= 200
    assert len(accepted) / len(lines) <= OUT_OF_DOMAIN_ACCEPT_CEILING, accepted


def test_in_domain_paraphrases_rarely_become_the_wrong_action() -> None:
    rows = [row for row in paraphrases() if row[1] != NONE]
    wrong = [row[0] for row in rows if matcher().match(row[0]).intent not in (NONE, row[1])]
    assert len(wrong) / len(rows) <= WRONG_ACTION_CEILING, wrong


def test_paraphrase_file_covers_every_intent() -> None:
    rows = paraphrases()
    per_intent = Counter(intent for _, intent, _, _ in rows)
    splits = Counter(split for _, _, _, split in rows)
    assert len(rows) >= 250
    assert set(per_intent) == set(INTENT_NAMES)
    assert min(per_intent.values()) >= 8
    assert per_intent[NONE] >= 40
    assert set(splits) == {"dev", "test"}
    assert 0.25 <= splits["dev"] / len(rows) <= 0.4
    assert len({text.lower() for text, _, _, _ in rows}) == len(rows)
    for _, _, slots, _ in rows:
        assert_valid(IntentResult("help", slots, 1.0, ""))


def test_intent_names_contract() -> None:
    assert len(INTENT_NAMES) == len(set(INTENT_NAMES)) == 17
    assert INTENT_NAMES[-1] == NONE


@pytest.mark.parametrize("intent", [name for name in INTENT_NAMES if name != NONE])
def test_every_intent_has_templates(intent: str) -> None:
    data = matcher().intents.intents[intent].data
    assert sum(len(block.sentences) for block in data) >= 1


def test_templates_define_only_known_intents() -> None:
    assert set(matcher().intents.intents) == set(INTENT_NAMES) - {NONE}


def test_template_files_are_the_shipped_yaml() -> None:
    files = template_files()
    assert files == sorted(TEMPLATE_DIR.glob("*.yaml")) and len(files) >= 2
    assert matcher().files == files


def pocketsphinx_words() -> set[str]:
    import pocketsphinx

    path = Path(pocketsphinx.__file__).parent / "model" / "en-us" / "cmudict-en-us.dict"
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return {line.split()[0].split("(")[0] for line in lines if line.strip()}


def test_template_words_are_in_the_speech_dictionary() -> None:
    words = template_words(matcher().intents)
    assert not any(char.isdigit() for word in words for char in word)
    known = pocketsphinx_words()
    # A possessive the dictionary lacks ("break's") is said as its base word plus -s (audio/stt/pocketsphinx.py).
    assert sorted(w for w in words - known if not (w.endswith("'s") and w[:-2] in known)) == []


def test_grammar_size_is_bounded() -> None:
    counts = sentence_counts(matcher().intents)
    assert set(counts) == set(INTENT_NAMES) - {NONE}
    assert all(count > 0 for count in counts.values())
    assert sum(counts.values()) < GRAMMAR_PATHS_CEILING


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_gives_a_valid_result(text: str) -> None:
    assert_valid(matcher().match(text))


@pytest.mark.parametrize("text", ["\U00011052", "x\u00b2", "start a date night for \u00b9\u00b2 minutes"])
def test_digits_int_cannot_read_are_plain_text(text: str) -> None:
    # Hypothesis found these: Brahmi number one and superscripts are digits to str.isdigit but not to int().
    assert_valid(matcher().match(text))


DOMAIN_WORDS = [
    "i'm",
    "grateful",
    "for",
    "that",
    "the",
    "date",
    "night",
    "start",
    "stop",
    "pause",
    "resume",
    "journal",
    "question",
    "deep",
    "light",
    "this",
    "week",
    "today",
    "ninety",
    "minutes",
    "an",
    "hour",
    "and",
    "a",
    "half",
    "tip",
    "advice",
    "listening",
    "romance",
    "delete",
    "last",
    "entry",
    "what",
    "how",
    "many",
    "give",
    "us",
    "me",
    "please",
    "um",
    "rekindle",
    "hey",
    ",",
    ".",
    "?",
    "45",
    "2",
    "next",
    "another",
    "yes",
    "no",
    "help",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(DOMAIN_WORDS), max_size=25))
def test_any_mix_of_domain_words_gives_a_valid_result(words: list[str]) -> None:
    assert_valid(matcher().match(" ".join(words)))


def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(TEMPLATE_DIR, target)
    return target


def test_broken_yaml_names_the_file(tmp_path: Path) -> None:
    templates = copy_templates(tmp_path)
    (templates / "control.yaml").write_text("intents: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"control\.yaml"):
        Matcher(templates)


def test_unknown_rule_names_the_intent(tmp_path: Path) -> None:
    templates = copy_templates(tmp_path)
    (templates / "extra.yaml").write_text(
        'intents:\n  stop:\n    data:\n      - sentences: ["halt <nowhere>"]\n', encoding="utf-8"
    )
    with pytest.raises(ContentError, match=r"intent stop: unknown rule <nowhere>"):
        Matcher(templates)


def test_unknown_intent_is_refused(tmp_path: Path) -> None:
    templates = copy_templates(tmp_path)
    (templates / "extra.yaml").write_text(
        'intents:\n  dance:\n    data:\n      - sentences: ["dance"]\n', encoding="utf-8"
    )
    with pytest.raises(ContentError, match="dance"):
        Matcher(templates)


def test_no_templates_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="no intent templates"):
        Matcher(tmp_path)


def kept_templates(cache_dir: Path) -> list[Path]:
    return sorted(cache_dir.glob("templates-*.pickle"))


def test_parsed_templates_are_kept_privately_and_read_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The first matcher parses the templates and keeps them (owner-only); the next reads them back unparsed and
    matches the same way."""
    cache_dir = tmp_path / "cache"
    first = Matcher(semantic=False, cache_dir=cache_dir)
    (kept,) = kept_templates(cache_dir)
    assert kept.stat().st_mode & 0o077 == 0

    def no_parsing(files: list[Path]) -> None:
        raise AssertionError(f"parsed {files} again")

    monkeypatch.setattr(matcher_module, "_load", no_parsing)
    second = Matcher(semantic=False, cache_dir=cache_dir)
    for text in ("start date night for 90 minutes", "I'm grateful that Sam cooked dinner", "what's the weather"):
        assert second.match(text) == first.match(text)
    assert sorted(second.intents.intents) == sorted(first.intents.intents)


def test_changed_templates_are_parsed_again(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    templates = copy_templates(tmp_path)
    assert Matcher(templates, semantic=False, cache_dir=cache_dir).match("hush now").intent == NONE
    (templates / "extra.yaml").write_text(
        'intents:\n  stop:\n    data:\n      - sentences: ["hush now"]\n', encoding="utf-8"
    )
    assert Matcher(templates, semantic=False, cache_dir=cache_dir).match("hush now").intent == "stop"
    assert len(kept_templates(cache_dir)) == 2


@pytest.mark.parametrize("damage", ["garbage", "truncated", "foreign", "shared"])
def test_a_damaged_or_shared_template_cache_is_parsed_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str
) -> None:
    """A cache file that is not what this version wrote, or that others may write, is never trusted."""
    cache_dir = tmp_path / "cache"
    Matcher(semantic=False, cache_dir=cache_dir)
    (kept,) = kept_templates(cache_dir)
    if damage == "garbage":
        kept.write_bytes(b"not a pickle at all")
    elif damage == "truncated":
        kept.write_bytes(kept.read_bytes()[:1000])
    elif damage == "foreign":
        kept.write_bytes(pickle.dumps({"something": "else"}))
    else:
        kept.chmod(0o666)
    parsed: list[int] = []
    real_load = matcher_module._load

    def counting(files: list[Path]) -> object:
        parsed.append(len(files))
        return real_load(files)

    monkeypatch.setattr(matcher_module, "_load", counting)
    again = Matcher(semantic=False, cache_dir=cache_dir)
    assert parsed == [len(again.files)]
    assert again.match("give us a conversation starter").intent == "conversation_starter"
    (kept,) = kept_templates(cache_dir)
    assert kept.stat().st_mode & 0o077 == 0  # written afresh


def test_an_unwritable_cache_still_matches(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder", encoding="utf-8")
    assert Matcher(semantic=False, cache_dir=blocked / "cache").match("next").intent == "next"


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("Hey Rekindle, START date-night for 90 mins!", "start date night for ninety minutes"),
        ("um, uh, stop please", "stop"),
        ("Could you give us a question for me and my wife?", "give us a question"),
        ("I'm grateful for me and my wife", "i'm grateful for me and my wife"),
        ("1.5 hours", "one and a half hours"),
        ("im thankful", "i'm thankful"),
        ("uh huh", "yes"),
        ("no thank you", "no"),
        ("thank you", "thank you"),
        # The name as a recogniser misspells it (Moonshine, benchmark clips), and words that only look alike.
        ("goodbye recandal", "goodbye"),
        ("how does rikendel work", "how does rekindle work"),
        ("vikendal, would you give us a question", "give us a question"),
        ("stop rectangle", "stop rectangle"),
        ("rekindled our love", "rekindled our love"),
        ("recondition the car", "recondition the car"),
    ],
)
def test_normalize(text: str, canonical: str) -> None:
    assert normalize(text).text == canonical


@pytest.mark.parametrize(
    "text,intent",
    [
        ("that's enough for now", "stop"),
        ("that's enough for today", "stop"),
        ("that's enough date night for today", "date_night_stop"),
    ],
)
def test_ending_the_date_night_needs_the_date_night_named(text: str, intent: str) -> None:
    # "turn off", "that's enough for now": stop; only phrases that name the date night end it.
    assert matcher().match(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "ask me a trivia question",
        "we need to talk about the budget before Monday's meeting",
        "we had a massive fight at work about the deadline",
    ],
)
def test_other_peoples_quizzes_meetings_and_deadlines_are_refused(text: str) -> None:
    """Dev lines of the out-of-domain bank the keyword tier used to take (a conversation starter, advice)."""
    assert matcher().fallback.vetoed(normalize(text))
    assert matcher().match(text).intent == NONE


def test_work_schedules_are_still_a_relationship_matter() -> None:
    result = matcher().match("we barely see each other with our work schedules")
    assert (result.intent, result.slots) == ("strategy_advice", {"strategy": "quality_time"})
