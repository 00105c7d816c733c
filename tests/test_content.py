"""Schema and quality tests for Rekindle's content files and their loader."""

from __future__ import annotations

import collections
import hashlib
import os
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from assistant.content import (
    CONTENT_DIR,
    COSTS,
    DATE_STRATEGIES,
    DEPTHS,
    EXERCISE_KINDS,
    PLACES,
    REPLY_KEYS,
    STRATEGY_IDS,
    Content,
    load_content,
    placeholders,
    reply,
)
from assistant.errors import ContentError

CONTENT = load_content()
SEED_HASHES = Path(__file__).parent / "data" / "seed_7grams.txt"
SEED_TEXT = Path(os.environ.get("REKINDLE_SEED", "/work/shared/seed/rekindling-connection.txt"))
FILES = ("starters.yaml", "strategies.yaml", "dates.yaml", "exercises.yaml", "replies.yaml", "safety.yaml")
FREQUENT_REPLIES = (
    "greeting", "not_understood", "stopped", "gratitude_ask", "gratitude_saved", "review_count", "review_entry",
    "tip_intro", "date_intro", "date_night_started", "date_night_prompt_intro", "date_night_summary", "listening",
    "goodbye",
)  # fmt: skip
SAMPLE_VALUES = {"text": "Sam cooked dinner", "period": "this week", "count": 1, "when": "yesterday",
                 "name": "active listening", "minutes": "20 minutes", "prompts": 1}  # fmt: skip
NOT_GENTLE = ("you have a problem", "your problem", "something is wrong with you", "diagnos", "disorder",
              "you need therapy", "you need help", "dysfunctional", "toxic")  # fmt: skip


def sentences(text: str) -> list[str]:
    """Split spoken text into sentences at . ! ? followed by a space or the end."""
    return [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]


def words(text: str) -> list[str]:
    """Lower-case words, apostrophes dropped, punctuation ignored (as the seed hashes were made)."""
    return re.sub(r"[^a-z0-9]+", " ", re.sub(r"['’‘`´]", "", text.lower())).split()


def gram_hashes(text: str, n: int = 7) -> set[str]:
    w = words(text)
    return {hashlib.sha256(" ".join(w[i : i + n]).encode()).hexdigest()[:16] for i in range(len(w) - n + 1)}


def every_text(content: Content) -> list[tuple[str, str]]:
    """(label, text) for every piece of human-facing text in the content."""
    items = [(f"starter {s.id}", s.text) for s in content.starters]
    for st in content.strategies:
        items += [(f"{st.id} summary", st.summary)]
        items += [(f"{st.id} tip {n}", t) for n, t in enumerate(st.tips)]
        items += [(f"{st.id} more {n}", t) for n, t in enumerate(st.more)]
    items += [(f"date {d.id}", d.text) for d in content.dates]
    items += [(f"exercise {e.id}", e.text) for e in content.exercises]
    for key, variants in content.replies.items():
        items += [(f"reply {key} {n}", v) for n, v in enumerate(variants)]
    return items


ALL_TEXTS = every_text(CONTENT)
TIPS = [(f"{s.id} tip {n}", t) for s in CONTENT.strategies for n, t in enumerate(s.tips)]
MORES = [(f"{s.id} more {n}", t) for s in CONTENT.strategies for n, t in enumerate(s.more)]


# -- loading ---------------------------------------------------------------------------------------------


def test_default_content_loads_and_is_cached() -> None:
    assert load_content() is load_content()
    assert isinstance(CONTENT, Content)


def test_explicit_directory_loads_the_same_content() -> None:
    assert load_content(CONTENT_DIR) == CONTENT


@pytest.mark.parametrize("name", FILES)
def test_every_content_file_exists(name: str) -> None:
    assert (CONTENT_DIR / name).is_file()


@pytest.mark.parametrize("name", FILES)
def test_every_content_file_is_a_yaml_mapping(name: str) -> None:
    assert isinstance(yaml.safe_load((CONTENT_DIR / name).read_text(encoding="utf-8")), dict)


def test_strategy_ids_follow_the_seed_order() -> None:
    assert STRATEGY_IDS == ("communication", "active_listening", "romance", "underlying_issues",
                            "vulnerability", "quality_time", "professional_help", "gratitude")  # fmt: skip


def test_strategies_load_in_strategy_id_order() -> None:
    assert tuple(s.id for s in CONTENT.strategies) == STRATEGY_IDS


def test_strategy_lookup() -> None:
    assert CONTENT.strategy("romance").name == "romance"
    with pytest.raises(ContentError, match="no strategy 'cuddles'"):
        CONTENT.strategy("cuddles")


def test_replies_are_read_only() -> None:
    with pytest.raises(TypeError):
        CONTENT.replies["greeting"] = ("hi",)  # type: ignore[index]


# -- counts ----------------------------------------------------------------------------------------------


def test_at_least_130_starters() -> None:
    assert len(CONTENT.starters) >= 130


@pytest.mark.parametrize("depth", DEPTHS)
def test_at_least_40_starters_per_depth(depth: str) -> None:
    assert sum(s.depth == depth for s in CONTENT.starters) >= 40


@pytest.mark.parametrize("strategy", STRATEGY_IDS)
def test_starters_cover_every_strategy(strategy: str) -> None:
    assert sum(s.strategy == strategy for s in CONTENT.starters) >= 12


@pytest.mark.parametrize("strategy", STRATEGY_IDS)
def test_every_strategy_has_five_tips_and_three_follow_ups(strategy: str) -> None:
    chosen = CONTENT.strategy(strategy)
    assert len(chosen.tips) >= 5
    assert len(chosen.more) >= 3


def test_at_least_45_date_ideas() -> None:
    assert len(CONTENT.dates) >= 45


def test_date_ideas_are_mostly_at_home_or_cheap() -> None:
    cheap = sum(d.cost in ("free", "low") for d in CONTENT.dates)
    home = sum(d.place == "home" for d in CONTENT.dates)
    assert cheap >= 0.8 * len(CONTENT.dates)
    assert home > len(CONTENT.dates) / 2


@pytest.mark.parametrize(("field", "values"), [("strategy", DATE_STRATEGIES), ("place", PLACES), ("cost", COSTS)])
def test_date_ideas_use_every_value(field: str, values: tuple[str, ...]) -> None:
    assert {getattr(d, field) for d in CONTENT.dates} == set(values)


def test_at_least_14_exercises() -> None:
    assert len(CONTENT.exercises) >= 14


@pytest.mark.parametrize("kind", EXERCISE_KINDS)
def test_every_exercise_kind_is_used(kind: str) -> None:
    assert any(e.kind == kind for e in CONTENT.exercises)


# -- uniqueness ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("items", ["starters", "dates", "exercises"])
def test_ids_are_unique(items: str) -> None:
    ids = [item.id for item in getattr(CONTENT, items)]
    assert len(ids) == len(set(ids))


def test_no_text_appears_twice() -> None:
    counts = collections.Counter(words_joined for _, t in ALL_TEXTS if (words_joined := " ".join(words(t))))
    repeated = [text for text, n in counts.items() if n > 1]
    assert repeated == []


@pytest.mark.parametrize("items", ["starters", "dates", "exercises"])
def test_ids_are_slugs(items: str) -> None:
    for item in getattr(CONTENT, items):
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", item.id), item.id


# -- shape of the spoken text ----------------------------------------------------------------------------


@pytest.mark.parametrize("starter", CONTENT.starters, ids=lambda s: s.id)
def test_starter_is_one_short_question(starter: Any) -> None:
    assert starter.text.endswith("?")
    assert starter.text.count("?") == 1
    assert len(starter.text.split()) <= 22  # about eight seconds spoken


@pytest.mark.parametrize(("label", "text"), TIPS + MORES, ids=[label for label, _ in TIPS + MORES])
def test_tip_is_at_most_three_short_sentences(label: str, text: str) -> None:
    assert 1 <= len(sentences(text)) <= 3
    assert all(len(s.split()) <= 22 for s in sentences(text))


@pytest.mark.parametrize("exercise", CONTENT.exercises, ids=lambda e: e.id)
def test_exercise_is_at_most_three_short_sentences(exercise: Any) -> None:
    assert 1 <= len(sentences(exercise.text)) <= 3
    assert all(len(s.split()) <= 22 for s in sentences(exercise.text))


@pytest.mark.parametrize("date", CONTENT.dates, ids=lambda d: d.id)
def test_date_idea_is_one_or_two_sentences(date: Any) -> None:
    assert 1 <= len(sentences(date.text)) <= 2


@pytest.mark.parametrize("strategy", CONTENT.strategies, ids=lambda s: s.id)
def test_strategy_summary_is_one_sentence(strategy: Any) -> None:
    assert len(sentences(strategy.summary)) == 1
    assert strategy.name == strategy.name.lower()


@pytest.mark.parametrize(("label", "text"), ALL_TEXTS, ids=[label for label, _ in ALL_TEXTS])
def test_text_is_gentle(label: str, text: str) -> None:
    assert not [phrase for phrase in NOT_GENTLE if phrase in text.lower()]


@pytest.mark.parametrize(("label", "text"), ALL_TEXTS, ids=[label for label, _ in ALL_TEXTS])
def test_text_speaks_cleanly(label: str, text: str) -> None:
    assert not re.search(r"[\n\t*_#<>\[\]|]", text)
    assert "  " not in text


def test_professional_help_is_offered_as_a_choice() -> None:
    help_ = CONTENT.strategy("professional_help")
    assert any("counsellor" in tip for tip in help_.tips)
    assert not [t for t in help_.tips + help_.more if re.search(r"\byou (must|should) (see|get)\b", t.lower())]


# -- replies ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(REPLY_KEYS))
def test_every_reply_key_is_present(key: str) -> None:
    assert CONTENT.replies[key]


def test_no_unknown_reply_keys() -> None:
    assert set(CONTENT.replies) == set(REPLY_KEYS)


@pytest.mark.parametrize("key", sorted(REPLY_KEYS))
def test_reply_variants_use_only_allowed_placeholders(key: str) -> None:
    for variant in CONTENT.replies[key]:
        assert placeholders(variant) <= REPLY_KEYS[key], variant


@pytest.mark.parametrize("key", sorted(k for k, names in REPLY_KEYS.items() if names))
def test_reply_variants_use_their_values(key: str) -> None:
    for variant in CONTENT.replies[key]:
        assert placeholders(variant), variant


@pytest.mark.parametrize("key", FREQUENT_REPLIES)
def test_frequent_replies_have_variants(key: str) -> None:
    assert len(CONTENT.replies[key]) >= 2


@pytest.mark.parametrize("key", sorted(REPLY_KEYS))
def test_every_variant_formats(key: str) -> None:
    values = {name: SAMPLE_VALUES[name] for name in REPLY_KEYS[key]}
    for variant in CONTENT.replies[key]:
        assert "{" not in variant.format(**values)


@pytest.mark.parametrize("key", ["review_count", "date_night_summary"])
def test_counts_read_well_when_one(key: str) -> None:
    for variant in CONTENT.replies[key]:
        assert not re.search(r"\{(count|prompts)\}\s+[a-z]+s\b", variant), variant


@pytest.mark.parametrize("phrase", ["starter", "tip", "gratitude", "date idea", "date night", "help"])
def test_not_understood_says_what_rekindle_can_do(phrase: str) -> None:
    for variant in CONTENT.replies["not_understood"]:
        assert phrase in variant.lower(), variant


def test_help_is_at_most_four_sentences() -> None:
    for variant in CONTENT.replies["help"]:
        assert len(sentences(variant)) <= 4


def test_listening_cue_is_very_short() -> None:
    assert all(len(v.split()) <= 2 for v in CONTENT.replies["listening"])


def test_reply_formats_a_variant() -> None:
    text = reply(CONTENT, "tip_intro", random.Random(0), name="romance")
    assert "romance" in text
    assert text in {v.format(name="romance") for v in CONTENT.replies["tip_intro"]}


def test_reply_is_reproducible_with_a_seeded_rng() -> None:
    first = [reply(CONTENT, "stopped", random.Random(7)) for _ in range(3)]
    assert len(set(first)) == 1


def test_reply_uses_every_variant() -> None:
    rng = random.Random(3)
    heard = {reply(CONTENT, "not_understood", rng) for _ in range(200)}
    assert heard == set(CONTENT.replies["not_understood"])


def test_reply_unknown_key_raises() -> None:
    with pytest.raises(ContentError, match="no reply 'hello_there'"):
        reply(CONTENT, "hello_there", random.Random(0))


def test_reply_missing_value_raises() -> None:
    with pytest.raises(ContentError, match="reply 'gratitude_saved' takes values text; got none"):
        reply(CONTENT, "gratitude_saved", random.Random(0))


def test_reply_extra_value_raises() -> None:
    with pytest.raises(ContentError, match="takes values none; got text"):
        reply(CONTENT, "deleted", random.Random(0), text="x")


# -- nothing copied from the seed ------------------------------------------------------------------------


def seed_hashes() -> set[str]:
    lines = SEED_HASHES.read_text(encoding="utf-8").splitlines()
    return {line for line in lines if line and not line.startswith("#")}


def test_seed_hash_file_is_not_empty() -> None:
    assert len(seed_hashes()) > 500


@pytest.mark.skipif(not SEED_TEXT.is_file(), reason="seed text not on this machine")
def test_seed_hash_file_matches_the_seed() -> None:
    assert seed_hashes() == gram_hashes(SEED_TEXT.read_text(encoding="utf-8"))


def test_overlap_check_catches_a_copied_sentence() -> None:
    copied = "Remember: active listening is an essential skill in any healthy relationship."
    assert gram_hashes(copied) & seed_hashes()


@pytest.mark.parametrize(("label", "text"), ALL_TEXTS, ids=[label for label, _ in ALL_TEXTS])
def test_no_seven_word_run_from_the_seed(label: str, text: str) -> None:
    assert not gram_hashes(text) & seed_hashes()


# -- bad files -------------------------------------------------------------------------------------------


def broken(tmp_path: Path, name: str, change: Callable[[Any], None]) -> Path:
    """A copy of the content directory in which `name` was loaded, changed and written back."""
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    data = yaml.safe_load((directory / name).read_text(encoding="utf-8"))
    change(data)
    (directory / name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return directory


def first(items: str, **fields: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data[items][0].update(fields)

    return change


def pop_field(items: str, field: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        del data[items][0][field]

    return change


def drop_strategy(data: Any) -> None:
    data["strategies"] = [s for s in data["strategies"] if s["id"] != "gratitude"]


def duplicate_date(data: Any) -> None:
    data["dates"].append(dict(data["dates"][0]))


def reply_set(key: str, value: Any) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        data["replies"][key] = value

    return change


def reply_drop(key: str) -> Callable[[Any], None]:
    def change(data: Any) -> None:
        del data["replies"][key]

    return change


def empty_tips(data: Any) -> None:
    data["strategies"][2]["tips"] = []


BAD_CASES = [
    ("starters.yaml", first("starters", depth="medium"), "entry 'best-part-of-today' has depth 'medium'; use light or deep"),
    ("starters.yaml", first("starters", strategy="cuddling"), "entry 'best-part-of-today' has strategy 'cuddling'"),
    ("starters.yaml", first("starters", text=""), "entry 'best-part-of-today' has an empty or non-text 'text'"),
    ("starters.yaml", first("starters", text=42), "entry 'best-part-of-today' has an empty or non-text 'text'"),
    ("starters.yaml", first("starters", colour="red"), "entry 'best-part-of-today' has unknown field 'colour'"),
    ("starters.yaml", pop_field("starters", "depth"), "entry 'best-part-of-today' has no 'depth'"),
    ("starters.yaml", pop_field("starters", "id"), "entry 1 has no text id"),
    ("strategies.yaml", drop_strategy, "strategy 'gratitude' is missing"),
    ("strategies.yaml", first("strategies", id="flirting"), "entry 'flirting' has id 'flirting'"),
    ("strategies.yaml", empty_tips, "entry 'romance' has no 'tips' list"),
    ("dates.yaml", first("dates", cost="high"), "entry 'candlelit-leftovers' has cost 'high'; use one of free, low"),
    ("dates.yaml", first("dates", strategy="gratitude"), "entry 'candlelit-leftovers' has strategy 'gratitude'"),
    ("dates.yaml", duplicate_date, "entry 'candlelit-leftovers' appears twice"),
    ("exercises.yaml", first("exercises", kind="karaoke"), "entry 'two-minute-listen' has kind 'karaoke'"),
    ("replies.yaml", reply_set("deleted", ["Deleted {text}."]), "entry 'deleted' uses placeholder {text}"),
    ("replies.yaml", reply_set("tip_intro", ["On {topic}."]), "entry 'tip_intro' uses placeholder {topic}"),
    ("replies.yaml", reply_set("greeting", ["Hi {"]), "entry 'greeting' has unbalanced braces"),
    ("replies.yaml", reply_set("greeting", []), "entry 'greeting' has no 'variants' list"),
    ("replies.yaml", reply_set("hello", ["Hi."]), "entry 'hello' is not a reply the dialog uses"),
    ("replies.yaml", reply_drop("goodbye"), "entry 'goodbye' is missing"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "change", "message"), BAD_CASES, ids=[m for _, _, m in BAD_CASES])
def test_bad_file_raises_content_error_naming_file_and_entry(
    tmp_path: Path, name: str, change: Callable[[Any], None], message: str
) -> None:
    directory = broken(tmp_path, name, change)
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    assert str(caught.value).startswith(f"{name}: ")
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    (directory / "dates.yaml").write_text("dates:\n  - id: a\n    text: [unclosed\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"^dates\.yaml line \d+: not valid YAML"):
        load_content(directory)


def test_missing_top_key_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    (directory / "exercises.yaml").write_text("exercise:\n  - id: a\n", encoding="utf-8")
    with pytest.raises(ContentError, match=r"^exercises\.yaml: no top-level 'exercises:' key"):
        load_content(directory)


def test_missing_file_is_reported(tmp_path: Path) -> None:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    (directory / "starters.yaml").unlink()
    with pytest.raises(ContentError, match=r"^starters\.yaml not found in "):
        load_content(directory)


def test_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(ContentError, match="does not exist"):
        load_content(tmp_path / "nowhere")
