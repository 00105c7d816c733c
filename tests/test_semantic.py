"""Guesses by meaning: the NumPy encoder against BERT's tokenizer and itself, the guesser's rules, the matcher's
last tier, and the files prepared in the cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from assistant.errors import ModelError
from intents.matcher import NONE, SEMANTIC_CONFIDENCE, SEMANTIC_MIN_WORDS, Matcher
from intents.normalize import normalize
from intents.semantic import (
    EXAMPLES,
    Encoder,
    SemanticGuesser,
    SemanticSettings,
    load_examples,
    prepare,
    train,
)

ROOT = Path(__file__).resolve().parents[1]

CLS, SEP, UNK = 101, 102, 100

# Held-back (test split) requests that no template or keyword rule reads, with their labels.
UNREAD = [
    ("what should we do this saturday night", "date_idea", None),
    ("there's this resentment building up and I don't know what to do with it", "strategy_advice", "underlying_issues"),
    ("do you think we should see a counselor", "strategy_advice", "professional_help"),
]

NEAREST_EXAMPLE = "what should we do tonight"
"""A dev line near UNREAD[0] in meaning."""

# A few examples of every kind the guesser treats apart; the `test` line must be ignored.
SMALL_EXAMPLES = """# text\tintent\tslots\tsplit
yes go ahead\tyes\t{}\tdev
yep that's right\tyes\t{}\tdev
no, not now\tno\t{}\tdev
what kind of things can I ask you\thelp\t{}\tdev
give us a date idea for tonight\tdate_idea\t{}\tdev
tell me about the weather tomorrow\tnone\t{}\tdev
sure thing go right ahead\tstop\t{}\ttest
"""


@cache
def guesser() -> SemanticGuesser:
    """The default guesser (default cache folder, the dev lines of paraphrases.tsv), loaded once."""
    shared = SemanticGuesser()
    shared.load()
    return shared


@cache
def encoder() -> Encoder:
    return guesser().load()[0]


@cache
def matcher() -> Matcher:
    return Matcher(semantic=guesser())


@cache
def plain_matcher() -> Matcher:
    return Matcher(semantic=False)


@pytest.fixture(scope="module")
def small_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A cache folder of this module's own, prepared once, for guessers over small example files."""
    folder = tmp_path_factory.mktemp("semantic-cache")
    prepare(folder)
    return folder


def write_examples(folder: Path, text: str = SMALL_EXAMPLES) -> Path:
    path = folder / "examples.tsv"
    path.write_text(text, encoding="utf-8")
    return path


def vector_files(cache_dir: Path) -> set[Path]:
    return set(prepare(cache_dir).glob("examples-*.npy"))


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# Tokenizer


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        (
            "Hey, could you give us a conversation-starter?",
            [101, 4931, 1010, 2071, 2017, 2507, 2149, 1037, 4512, 1011, 11753, 1029, 102],
        ),
        (
            "um so like, twenty-five minutes of date night_time 3.5",
            [101, 8529, 2061, 2066, 1010, 3174, 1011, 2274, 2781, 1997, 3058, 2305, 1035, 2051, 1017, 1012, 1019, 102],
        ),
        ("£5 costs €20", [101, 27813, 5366, 1574, 11387, 102]),  # currency signs are not punctuation
        ("中文 ok", [101, 1746, 1861, 7929, 102]),  # one word per CJK character
        ("a\u200bb\u00adc", [101, 5925, 102]),  # format characters dropped
        ("x" * 101 + " ok", [101, 100, 7929, 102]),  # a word over 100 characters is one [UNK]
    ],
)
def test_tokens_match_bert_wordpiece(text: str, ids: list[int]) -> None:
    """Ids produced by Hugging Face `tokenizers` from the model's own tokenizer.json."""
    assert encoder().tokens(text) == ids


def test_accents_fold_away() -> None:
    assert encoder().tokens("café") == encoder().tokens("cafe") == [CLS, 7668, SEP]
    assert encoder().tokens("Café au lait") == encoder().tokens("cafe au lait")


def test_word_with_no_pieces_is_one_unknown() -> None:
    """A word no split of which is in the vocabulary becomes a single [UNK] (as `tokenizers` gives)."""
    assert "ꙮ" not in encoder().vocab
    assert encoder().tokens("ꙮꙮꙮ") == [CLS, UNK, SEP]
    assert encoder().tokens("we saw ꙮꙮꙮ today") == [CLS, 2057, 2387, UNK, 2651, SEP]
    assert encoder().tokens("hello") == [CLS, 7592, SEP]
    assert encoder().tokens("helloꙮ") == [CLS, UNK, SEP]  # the whole word, not "hello" and then [UNK]


def test_tokens_are_cut_at_128_keeping_sep() -> None:
    ids = encoder().tokens("tell me more " * 100)
    assert len(ids) == 128
    assert ids[0] == CLS and ids[-1] == SEP
    assert ids[1:4] == ids[4:7]


# Encoder


def test_batch_equals_one_at_a_time() -> None:
    """Padding and the attention mask leave each text's vector as it is alone."""
    texts = [
        "hi",
        "what can we do together this weekend",
        " ".join(["we talked for hours about where we might travel next summer and what we would cook"] * 5),
    ]
    lengths = [len(encoder().tokens(text)) for text in texts]
    assert lengths[0] < 5 and lengths[2] > 60
    together = encoder().embed(texts)
    assert together.shape == (3, 384)
    assert together.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)
    for row, text in enumerate(texts):
        alone = encoder().embed([text])
        assert alone.shape == (1, 384)
        assert cosine(alone[0], together[row]) >= 0.9999, text


def test_meaning_not_words() -> None:
    """Near in meaning with few shared words beats far in meaning (figures: 0.63 against 0.03)."""
    query, near, far = encoder().embed(
        [
            "how can I become a better listener for my wife",
            "tips for listening to my partner",
            "what's the weather tomorrow",
        ]
    )
    assert float(query @ near) - float(query @ far) > 0.4


# Guesser


def test_unread_requests_are_test_lines() -> None:
    """The requests below are held back from the examples, so guessing them right is a fair check."""
    rows = {}
    for line in EXAMPLES.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            text, intent, slots, split = line.split("\t")
            rows[text] = (intent, json.loads(slots).get("strategy"), split)
    examples = {example.text for example in load_examples()}
    for text, intent, strategy in UNREAD:
        assert rows[text] == (intent, strategy, "test")
        assert text not in examples


@pytest.mark.parametrize(("text", "intent", "strategy"), UNREAD)
def test_guesses_a_request_no_template_reads(text: str, intent: str, strategy: str | None) -> None:
    settings = guesser().settings
    found = guesser().guess(text)
    assert found is not None
    assert (found.intent, found.strategy) == (intent, strategy)
    assert found.probability >= settings.min_probability


@pytest.mark.parametrize("text", ["who won the football match yesterday", "is it going to be sunny tomorrow"])
def test_out_of_domain_reading_is_not_guessed(text: str) -> None:
    """The classifier is sure these are out of domain, and that is why they stay none."""
    found = guesser().classify(text)
    assert found is not None
    assert found.intent == NONE
    assert found.probability >= guesser().settings.min_probability
    assert guesser().guess(text) is None


def test_no_text_is_not_classified() -> None:
    assert guesser().classify("   ") is None
    assert guesser().guess("") is None


def test_only_dev_lines_are_examples(tmp_path: Path, small_cache: Path) -> None:
    small = SemanticGuesser(cache_dir=small_cache, examples=write_examples(tmp_path))
    _, vectors, examples = small.load()
    assert [example.intent for example in examples] == ["yes", "yes", "no", "help", "date_idea", "none"]
    assert vectors.shape == (6, 384)
    found = small.guess("what sort of things can I ask you")
    assert found is not None and found.intent == "help"


def test_yes_is_never_guessed(tmp_path: Path, small_cache: Path) -> None:
    """Nearest to a `yes` example (not to the held-back `stop` line of the same words), well within the
    thresholds: still not guessed."""
    small = SemanticGuesser(cache_dir=small_cache, examples=write_examples(tmp_path))
    found = small.classify("sure thing go right ahead")
    assert found is not None
    assert (found.intent, found.example) == ("yes", "yes go ahead")
    assert found.probability >= small.settings.min_probability
    assert small.guess("sure thing go right ahead") is None


def test_classifier_reads_past_the_nearest_example() -> None:
    """A held-back line whose single nearest example is another intent's (deleting an entry): the classifier still
    reads it as advice about gratitude."""
    text = "we've stopped saying thank you to each other"
    encoder_, vectors, examples = guesser().load()
    assert text not in {example.text for example in examples}
    nearest = examples[int((vectors @ encoder_.embed([text])[0]).argmax())]
    assert nearest.intent == "delete_gratitude"
    found = guesser().guess(text)
    assert found is not None
    assert (found.intent, found.strategy) == ("strategy_advice", "gratitude")
    assert plain_matcher().match(text).intent == NONE
    result = matcher().match(text)
    assert (result.intent, result.slots, result.confidence) == (
        "strategy_advice",
        {"strategy": "gratitude"},
        SEMANTIC_CONFIDENCE,
    )


def test_train_separates_and_is_deterministic() -> None:
    """Three clusters of unit vectors: each point is classed as its own cluster, and training twice gives the
    same weights."""
    rng = np.random.default_rng(7)
    centres = np.eye(384, dtype=np.float32)[:3]
    labels = ["a", "b", "c"] * 10
    points = np.array([centres[i % 3] for i in range(30)]) + rng.normal(0, 0.02, (30, 384)).astype(np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    first, second = train(points, labels), train(points, labels)
    np.testing.assert_array_equal(first.weights, second.weights)
    assert first.intents == ("a", "b", "c")
    for point, label in zip(points, labels, strict=True):
        probabilities = first.probabilities(point)
        assert first.intents[int(probabilities.argmax())] == label
        assert probabilities.sum() == pytest.approx(1.0)
    assert first.probabilities(centres[1]).max() > 0.9


def test_min_probability_is_obeyed() -> None:
    text = UNREAD[0][0]
    found = guesser().guess(text)
    assert found is not None
    strict = SemanticGuesser(SemanticSettings(min_probability=found.probability + 0.001))
    again = strict.classify(text)
    assert again is not None and again.intent == UNREAD[0][1]
    assert strict.guess(text) is None


# Matcher


@pytest.mark.parametrize(("text", "intent", "strategy"), UNREAD)
def test_matcher_reads_by_meaning_last(text: str, intent: str, strategy: str | None) -> None:
    assert plain_matcher().match(text).intent == NONE
    result = matcher().match(text)
    assert (result.intent, result.confidence) == (intent, SEMANTIC_CONFIDENCE)
    assert result.slots.get("strategy") == strategy
    assert matcher().match(text, guess=False).intent == NONE


def test_short_text_is_not_guessed() -> None:
    """Three words are not guessed even when the classifier would guess them; four are."""
    short, enough = "what to say", "what do I say"
    assert len(normalize(short).words) == SEMANTIC_MIN_WORDS - 1
    assert len(normalize(enough).words) == SEMANTIC_MIN_WORDS
    for text in (short, enough):
        found = guesser().guess(text)
        assert found is not None and found.intent == "help"
    assert matcher().match(short).intent == NONE
    assert (matcher().match(enough).intent, matcher().match(enough).confidence) == ("help", SEMANTIC_CONFIDENCE)


def test_long_text_is_not_guessed() -> None:
    """One word over the keyword tier's max_words is not guessed even when the classifier would guess it."""
    most = "i want to become an attentive listener because my wife says i never listen"
    over = "i want to become a more attentive listener because my wife says i never listen"
    max_words = matcher().fallback.max_words
    assert len(normalize(most).words) == max_words
    assert len(normalize(over).words) == max_words + 1
    for text in (most, over):
        found = guesser().guess(text)
        assert found is not None and found.intent == "strategy_advice"
    assert matcher().match(most).intent == "strategy_advice"
    assert matcher().match(over).intent == NONE


def test_vetoed_word_stops_a_guess() -> None:
    text = "what can we do together this weekend besides watching movies"
    assert matcher().fallback.vetoed(normalize(text))
    found = guesser().guess(text)
    assert found is not None and found.intent == "date_idea"
    assert matcher().match(text).intent == NONE


def test_clauses_that_disagree_are_not_guessed() -> None:
    assert matcher().match("yes, stop").intent == NONE
    text = "yes, help us start a conversation"
    assert matcher().match("yes", guess=False).intent == "yes"
    assert matcher().match("help us start a conversation", guess=False).intent == "conversation_starter"
    assert len(normalize(text).words) >= SEMANTIC_MIN_WORDS
    found = guesser().guess(text)
    assert found is not None and found.intent == "conversation_starter"
    assert matcher().match(text).intent == NONE


# Prepared files


def test_prepare_unpacks_once(tmp_path: Path) -> None:
    folder = prepare(tmp_path)
    assert folder.parent == tmp_path
    assert folder.name.startswith("minilm-l6-")
    files = [folder / "model.safetensors", folder / "vocab.json"]
    assert all(path.is_file() for path in files)
    assert list(tmp_path.iterdir()) == [folder]  # no work folder left behind
    stamps = [path.stat().st_mtime_ns for path in files]
    assert prepare(tmp_path) == folder
    assert [path.stat().st_mtime_ns for path in files] == stamps


def test_example_vectors_are_kept_and_reused(tmp_path: Path, small_cache: Path) -> None:
    examples = write_examples(tmp_path, SMALL_EXAMPLES + "let's plan a picnic\tdate_idea\t{}\tdev\n")
    before = vector_files(small_cache)
    _, vectors, _ = SemanticGuesser(cache_dir=small_cache, examples=examples).load()
    written = vector_files(small_cache) - before
    assert len(written) == 1
    (path,) = written
    stamp = path.stat().st_mtime_ns
    _, again, _ = SemanticGuesser(cache_dir=small_cache, examples=examples).load()
    assert path.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(again, vectors)


def test_damaged_example_vectors_are_recomputed(tmp_path: Path, small_cache: Path) -> None:
    examples = write_examples(tmp_path, SMALL_EXAMPLES + "what should we cook together tonight\tdate_idea\t{}\tdev\n")
    before = vector_files(small_cache)
    _, vectors, _ = SemanticGuesser(cache_dir=small_cache, examples=examples).load()
    (path,) = vector_files(small_cache) - before
    path.write_bytes(b"these bytes are not a NumPy array" * 20)
    damaged = path.stat().st_mtime_ns
    time.sleep(0.01)
    redone = SemanticGuesser(cache_dir=small_cache, examples=examples)
    _, again, _ = redone.load()
    np.testing.assert_allclose(again, vectors, atol=1e-6)
    assert path.stat().st_mtime_ns != damaged
    np.testing.assert_array_equal(np.load(path), again)
    found = redone.guess("what sort of things can I ask you")
    assert found is not None and found.intent == "help"


def test_empty_example_vectors_are_recomputed(tmp_path: Path, small_cache: Path) -> None:
    """An empty vectors file (a full disk, a crash) is encoded again."""
    examples = write_examples(tmp_path, SMALL_EXAMPLES + "plan us a picnic by the lake\tdate_idea\t{}\tdev\n")
    before = vector_files(small_cache)
    _, vectors, _ = SemanticGuesser(cache_dir=small_cache, examples=examples).load()
    (path,) = vector_files(small_cache) - before
    path.write_bytes(b"")
    _, again, _ = SemanticGuesser(cache_dir=small_cache, examples=examples).load()
    np.testing.assert_allclose(again, vectors, atol=1e-6)
    assert path.stat().st_size > 0


def test_classifier_is_kept_reused_and_retrained_when_damaged(tmp_path: Path, small_cache: Path) -> None:
    examples = write_examples(tmp_path, SMALL_EXAMPLES + "we could go dancing on friday\tdate_idea\t{}\tdev\n")
    before = set(prepare(small_cache).glob("classifier-*.npy"))
    first = SemanticGuesser(cache_dir=small_cache, examples=examples)
    found = first.classify("what sort of things can I ask you")
    (path,) = set(prepare(small_cache).glob("classifier-*.npy")) - before
    kept = np.load(path)
    assert kept.shape == (385, 5)  # a weight row per dimension and the bias; yes, no, help, date_idea, none
    stamp = path.stat().st_mtime_ns
    again = SemanticGuesser(cache_dir=small_cache, examples=examples).classify("what sort of things can I ask you")
    assert path.stat().st_mtime_ns == stamp
    assert found == again
    path.write_bytes(b"not weights")
    redone = SemanticGuesser(cache_dir=small_cache, examples=examples)
    assert redone.classify("what sort of things can I ask you") == found
    np.testing.assert_array_equal(np.load(path), kept)


def test_malformed_examples_name_the_line(tmp_path: Path, small_cache: Path) -> None:
    bad = write_examples(tmp_path, "# comment\nyes go ahead\tyes\t{}\tdev\nstop now\tstop\tdev\n")
    with pytest.raises(ModelError, match=r"examples\.tsv line 3"):
        load_examples(bad)
    with pytest.raises(ModelError, match="line 3"):
        SemanticGuesser(cache_dir=small_cache, examples=bad).load()


def test_matcher_prepares_on_demand_in_a_fresh_cache(tmp_path: Path) -> None:
    """A new process with an empty cache folder reads templates without preparing the encoder, and prepares it
    there on the first guess. (Small examples: encoding all the default ones takes minutes on a busy machine.)"""
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    examples = write_examples(tmp_path, SMALL_EXAMPLES + f"{NEAREST_EXAMPLE}\tdate_idea\t{{}}\tdev\n")
    script = """
import json, sys
from pathlib import Path
from intents.matcher import Matcher
from intents.semantic import SemanticGuesser
cache = Path(sys.argv[1])
template = Matcher().match("give me a conversation starter")
untouched = not any(cache.glob("minilm-l6-*"))
guessed = Matcher(semantic=SemanticGuesser(examples=Path(sys.argv[2]))).match(sys.argv[3])
print(json.dumps([template.intent, untouched, guessed.intent, guessed.confidence]))
"""
    done = subprocess.run(
        [sys.executable, "-c", script, str(cache_dir), str(examples), UNREAD[0][0]],
        env={**os.environ, "REKINDLE_CACHE_DIR": str(cache_dir)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == ["conversation_starter", True, "date_idea", SEMANTIC_CONFIDENCE]
    (folder,) = cache_dir.glob("minilm-l6-*")
    assert (folder / "model.safetensors").is_file()
    assert len(list(folder.glob("examples-*.npy"))) == 1
    assert len(list(folder.glob("classifier-*.npy"))) == 1


def test_a_broken_meaning_tier_turns_itself_off(
    tmp_path: Path, small_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Matching never raises: a guesser that cannot load is dropped with one warning; templates still answer."""
    bad = write_examples(tmp_path, "# comment\nstop now\tstop\tdev\n")
    broken = Matcher(semantic=SemanticGuesser(cache_dir=small_cache, examples=bad))
    text = UNREAD[1][0]
    with caplog.at_level("WARNING", logger="intents.matcher"):
        assert broken.match(text).intent == NONE
        assert broken.match(text).intent == NONE
    assert broken.semantic is None
    assert [r.getMessage() for r in caplog.records].count(
        f"Reading requests by meaning is off: {bad.name} line 2: expected 4 tab-separated columns; fix that line"
    ) == 1
    assert broken.match("give me a conversation starter").intent == "conversation_starter"
    assert matcher().match(text).intent == UNREAD[1][1]  # the same text, read by a working tier
