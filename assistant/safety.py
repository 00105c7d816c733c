"""Crisis detection: spot words of harm, abuse or danger and answer with a pointer to real help instead."""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from assistant.content import CONTENT_DIR, read_yaml
from assistant.errors import ContentError

_LOGGER = logging.getLogger(__name__)

SAFETY_FILE = "safety.yaml"

_APOSTROPHES = re.compile(r"['’‘`´]")
_NOT_WORD = re.compile(r"[^a-z0-9]+")
_CONTRACTIONS = (
    (re.compile(r"\b(do|does|did|is|are|was|were|could|would|should|have|has) not\b"), r"\1nt"),
    (re.compile(r"\b(can not|cannot)\b"), "cant"),
    (re.compile(r"\bwill not\b"), "wont"),
    (re.compile(r"\bi am\b"), "im"),
)


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped, other punctuation as spaces, some contractions joined.

    "I don't feel safe!" and "i do not feel safe" both become "i dont feel safe".
    """
    text = _APOSTROPHES.sub("", text.lower())
    text = " ".join(_NOT_WORD.sub(" ", text).split())
    for pattern, replacement in _CONTRACTIONS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class Safety:
    """The crisis phrases and the reply spoken when one is heard."""

    phrases: tuple[str, ...]
    """Normalised phrases; any one of them, as whole words, marks a crisis."""
    reply: str
    """What Rekindle says instead of its usual answer."""
    _pattern: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        longest_first = sorted(self.phrases, key=len, reverse=True)
        pattern = re.compile(r"(?<![a-z0-9])(?:" + "|".join(map(re.escape, longest_first)) + r")(?![a-z0-9])")
        object.__setattr__(self, "_pattern", pattern)

    def match(self, text: str) -> str | None:
        """The first crisis phrase found in `text`, or None when there is none."""
        found = self._pattern.search(normalise(text))
        return found.group(0) if found else None


def _parse(directory: Path) -> Safety:
    path = directory / SAFETY_FILE
    data = read_yaml(path, "phrases", "reply")
    raw_phrases, raw_reply = data["phrases"], data["reply"]
    if not isinstance(raw_phrases, list) or not raw_phrases:
        raise ContentError(f"{SAFETY_FILE}: 'phrases' is not a list of phrases; give at least one '- phrase'")
    seen: dict[str, str] = {}
    for raw in raw_phrases:
        if not isinstance(raw, str) or not normalise(raw):
            raise ContentError(f"{SAFETY_FILE}: phrase {raw!r} is empty or not text; write words")
        phrase = normalise(raw)
        if phrase in seen:
            raise ContentError(
                f"{SAFETY_FILE}: phrase '{raw}' repeats '{seen[phrase]}' once normalised; remove one of them"
            )
        seen[phrase] = raw
    if not isinstance(raw_reply, str) or not raw_reply.strip():
        raise ContentError(f"{SAFETY_FILE}: 'reply' is empty or not text; write the reply as text")
    return Safety(tuple(seen), " ".join(raw_reply.split()))


@functools.lru_cache(maxsize=1)
def _default() -> Safety:
    return _parse(CONTENT_DIR)


def load_safety(directory: Path | None = None) -> Safety:
    """Load and validate safety.yaml from `directory` (default: the package's own, loaded once)."""
    return _default() if directory is None else _parse(Path(directory))


def is_crisis(text: str) -> bool:
    """Whether `text` contains a phrase that signals harm, abuse, violence, self-harm or danger."""
    phrase = load_safety().match(text)
    if phrase is not None:
        _LOGGER.info("crisis phrase heard; answering with the safety reply")
        _LOGGER.debug("crisis phrase: %r", phrase)
    return phrase is not None


def crisis_reply() -> str:
    """The calm reply pointing to emergency and professional help."""
    return load_safety().reply
