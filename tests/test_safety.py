"""Crisis detection: what must fire, what must not, and the safety file's validation."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from assistant.content import CONTENT_DIR
from assistant.errors import ContentError
from assistant.safety import crisis_reply, is_crisis, load_safety, normalise

CRISIS = [
    "I want to kill myself",
    "Sometimes I think about ending my life",
    "I've been having suicidal thoughts again",
    "honestly everyone would be better off without me",
    "I don't want to be alive anymore",
    "i dont want to live anymore",
    "I just want to die",
    "I've been hurting myself and I can't stop. Been hurting myself for weeks.",
    "I keep thinking about self-harm",
    "He hit me last night",
    "She hits me when she's drunk",
    "My partner choked me during an argument",
    "he threatened to kill me if I leave",
    "I'm scared of my husband",
    "I'm afraid of my girlfriend when she's angry",
    "I don't feel safe at home",
    "I do not feel safe at home any more",
    "my boyfriend is abusive",
    "this is domestic violence isn't it",
    "he gets violent when he drinks",
    "I think I'm having a panic attack",
    "I'm in crisis and I don't know what to do",
    "My wife slapped me",
    "she pulled a knife on me",
    "I took an overdose",
    "he's been hurting the kids",
    "There's no reason to live",
    "I CAN'T GO ON LIVING LIKE THIS!",
    "I’m scared of my partner",  # curly apostrophe
    "We need an ambulance",
]

ORDINARY = [
    "I'm grateful Sam killed the spider",
    "I'm grateful for how you killed it at the quiz last night",
    "my mum is going to kill me if we're late again",
    "it just hit me how much I love you",
    "beats me why the kettle keeps switching off",
    "she beat me at chess again",
    "he kicked me under the table to make me laugh",
    "we watched a really violent film and I hated it",
    "I hurt myself playing football on Sunday",
    "I cut myself chopping onions for our dinner",
    "I don't want to live in the city forever",
    "I can't go on holiday in May because of work",
    "we're in danger of missing the train",
    "my team at work is in crisis mode this month",
    "the plants are dying because we forgot to water them",
    "I'm dying to try that new restaurant",
    "I don't feel safe driving in the snow",
    "you always make me laugh so hard I could die",
    "give us a deep conversation starter",
    "I'm grateful that Sam cooked dinner for me tonight",
    "start date night for forty minutes",
    "that film about the heist was a blast",
    "she forced me to watch her favourite film and I loved it",
    "I'm scared of heights but I'll try the climbing date",
    "thanks for fixing the leaking tap, it was driving me mad",
]


@pytest.mark.parametrize("text", CRISIS)
def test_crisis_is_detected(text: str) -> None:
    assert is_crisis(text)


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_sentence_is_not_a_crisis(text: str) -> None:
    assert not is_crisis(text)


def test_enough_cases() -> None:
    assert len(CRISIS) >= 15
    assert len(ORDINARY) >= 15


def test_empty_text_is_not_a_crisis() -> None:
    assert not is_crisis("")
    assert not is_crisis("   ")


def test_phrase_must_be_whole_words() -> None:
    assert not is_crisis("the drape was torn")  # "rape" inside a word
    assert not is_crisis("superabuser")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I don't feel SAFE!", "i dont feel safe"),
        ("I do not feel safe", "i dont feel safe"),
        ("I cannot go on", "i cant go on"),
        ("I am scared", "im scared"),
        ("I’m scared", "im scared"),
        ("self-harm", "self harm"),
        ("  lots   of\tspace ", "lots of space"),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_match_names_the_phrase() -> None:
    assert load_safety().match("Honestly, he hit me.") == "he hit me"
    assert load_safety().match("he made me tea") is None


def test_phrases_are_written_normalised() -> None:
    for phrase in load_safety().phrases:
        assert normalise(phrase) == phrase


@pytest.mark.parametrize("word", ["kill", "killed", "hit", "hurt", "die", "dead", "violent", "danger", "unsafe", "cut"])
def test_no_overly_broad_single_word(word: str) -> None:
    assert word not in load_safety().phrases


def test_reply_points_to_emergency_and_professional_help() -> None:
    text = crisis_reply().lower()
    assert "emergency number" in text
    assert "counsellor" in text
    assert "crisis line" in text
    assert "not able to help with this myself" in text


def test_reply_does_not_diagnose() -> None:
    text = crisis_reply().lower()
    for phrase in ("you have", "you are suffering", "diagnos", "disorder", "abuser", "your problem"):
        assert phrase not in text


def test_reply_is_one_line() -> None:
    assert "\n" not in crisis_reply()
    assert crisis_reply() == " ".join(crisis_reply().split())


def test_default_safety_is_cached() -> None:
    assert load_safety() is load_safety()


def write_safety(tmp_path: Path, text: str) -> Path:
    directory = tmp_path / "content"
    shutil.copytree(CONTENT_DIR, directory)
    (directory / "safety.yaml").write_text(text, encoding="utf-8")
    return directory


def test_custom_safety_file_is_used(tmp_path: Path) -> None:
    safety = load_safety(write_safety(tmp_path, "phrases: [in a pickle]\nreply: Please get help.\n"))
    assert safety.match("I'm in a pickle") == "in a pickle"
    assert safety.reply == "Please get help."


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phrases: []\nreply: Help.\n", "safety.yaml: 'phrases' is not a list of phrases"),
        ("phrases: [ok, '!!']\nreply: Help.\n", "safety.yaml: phrase '!!' is empty or not text"),
        ("phrases: [I am scared, im scared]\nreply: Help.\n", "phrase 'im scared' repeats 'I am scared'"),
        ("phrases: [scared]\nreply: ''\n", "safety.yaml: 'reply' is empty or not text"),
        ("phrases: [scared]\n", "safety.yaml: no top-level 'reply:' key"),
        ("phrases: [scared\n", "safety.yaml line"),
    ],
)
def test_bad_safety_file_raises(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ContentError) as caught:
        load_safety(write_safety(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
