"""Text -> intent: Rekindle's hassil templates (intents/templates/*.yaml) matched against normalised text.

    >>> Matcher().match("I'm grateful that Sam cooked dinner")
    IntentResult(intent='log_gratitude', slots={'text': 'sam cooked dinner'}, confidence=1.0, ...)

Order: the whole text against the templates (confidence 1.0); else its clauses, if they agree (0.8); else a
keyword guess that needs a domain word and an ask word (0.6, intents/fallback.py); else the intent a classifier
over example requests reads by meaning, when it is sure (0.5, intents/semantic.py); else `none`. A wrong action
is worse than asking again, so anything unsure comes back as `none`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ContentError, RekindleError
from intents.fallback import Fallback
from intents.normalize import Normalized, normalize
from intents.semantic import SemanticGuesser

if TYPE_CHECKING:
    from hassil import Intents
    from hassil.expression import Sentence

_LOGGER = logging.getLogger(__name__)

TEMPLATE_DIR = Path(__file__).with_name("templates")
"""Where the intent templates ship (one YAML file per group of intents)."""

NONE = "none"
"""The intent for anything that is not a Rekindle command."""

INTENT_NAMES: tuple[str, ...] = (
    "conversation_starter",
    "log_gratitude",
    "review_gratitude",
    "strategy_advice",
    "date_idea",
    "date_night_start",
    "date_night_stop",
    "date_night_pause",
    "date_night_resume",
    "next",
    "repeat",
    "help",
    "stop",
    "yes",
    "no",
    "delete_gratitude",
    NONE,
)
"""Every intent the matcher can return (a contract shared with the dialog and outside tools)."""

SLOT_VALUES: dict[str, frozenset[str] | type] = {
    "depth": frozenset({"light", "deep"}),
    "period": frozenset({"today", "yesterday", "this_week", "this_month", "all"}),
    "strategy": frozenset(
        {
            "communication",
            "active_listening",
            "romance",
            "underlying_issues",
            "vulnerability",
            "quality_time",
            "professional_help",
            "gratitude",
        }
    ),
    "text": str,
    "minutes": int,
}
"""Allowed values of each slot: a closed set of ids, or the type of a free value."""

MAX_INPUT_CHARS = 2000
"""Longer input (characters, after stripping) is never a command or a spoken journal entry: it is `none`."""

MATCH_WINDOW_CHARS = 200
"""Only this many characters of normalised text go to hassil; a longer line can only be a journal entry whose
wildcard runs to the end, and then the entry keeps the whole line."""

CLAUSE_CONFIDENCE = 0.8
"""Confidence when no template matches the whole text but its clauses ("sorry, can you repeat that?") agree."""

MAX_CLAUSES = 4
"""Text with more clauses than this is not split (a command has one or two: "sorry, can you repeat that?")."""

FALLBACK_CONFIDENCE = 0.6
"""Confidence of a keyword guess (intents/fallback.py) when neither the text nor its clauses match a template."""

SEMANTIC_CONFIDENCE = 0.5
"""Confidence of a guess by meaning (intents/semantic.py), the last tier."""

SEMANTIC_MIN_WORDS = 4
"""Shorter text (in normalised words) is never guessed at by meaning: short commands are the templates' ground,
and a two- or three-word line ("repeat after me") is near too many examples to be judged by meaning alone.
Longer text than the keyword tier's `max_words` is not guessed at either."""

_CLAUSE_BREAK = re.compile(r"[,;:.!?…]+(?:\s+|$)|\s+[-–—]+\s+")

_CONTENT_FREE = frozenset(
    {"it", "that", "this", "you", "them", "him", "her", "everything", "all", "all of it", "it all", "all that"}
    | {f"{owner} {thing}" for owner in ("the", "your") for thing in ("help", "advice", "tip", "tips", "idea", "time")}
    | {"you guys", "rekindle", "your help", "that you", "it that", "the question", "the suggestion", "the reminder"}
)
_INTENSIFIERS = ("so much", "very much", "a lot", "a bunch", "so", "too", "though", "really", "lots")


@dataclass(frozen=True)
class IntentResult:
    """What one utterance asks for."""

    intent: str
    """One of INTENT_NAMES; `none` when the text is not a Rekindle command."""

    slots: dict[str, str | int] = field(default_factory=dict)
    """Slot values by name: depth, period, strategy (ids), text (the user's words), minutes (an int, minutes)."""

    confidence: float = 0.0
    """1.0 for an exact template match, CLAUSE_CONFIDENCE when its clauses match and agree, FALLBACK_CONFIDENCE
    for a keyword guess, 0.0 for `none`."""

    text: str = ""
    """The input text, stripped of surrounding whitespace (at most MAX_INPUT_CHARS characters)."""


def template_files(template_dir: Path | None = None) -> list[Path]:
    """The template YAML files, sorted, so that the speech side can build a grammar from the same data."""
    directory = TEMPLATE_DIR if template_dir is None else template_dir
    return sorted(directory.glob("*.yaml"))


class Matcher:
    """Loads the templates once; `match` turns one utterance into an IntentResult."""

    def __init__(
        self,
        template_dir: Path | None = None,
        semantic: SemanticGuesser | bool | None = True,
        cache_dir: Path | None = None,
    ) -> None:
        """`semantic`: True for the sentence encoder when its wheel is installed, False for none, or a guesser.
        `cache_dir` keeps the parsed templates (default: the user's cache folder)."""
        started = time.perf_counter()
        self.files: list[Path] = template_files(template_dir)
        """The YAML files the templates came from."""
        self.intents: Intents
        """The parsed hassil Intents (for grammar building and sampling)."""
        self.intents, section = _load_cached(self.files, cache_dir)
        self.fallback = Fallback(section, self.intents)
        """Keyword guesses for text no template matches."""
        if semantic is True:
            semantic = SemanticGuesser() if SemanticGuesser.available() else None
        self.semantic: SemanticGuesser | None = semantic or None
        """Guesses by meaning for text nothing else reads (loaded on first use)."""
        _LOGGER.debug(
            "Loaded %d intents from %d files in %.3f s",
            len(self.intents.intents),
            len(self.files),
            time.perf_counter() - started,
        )

    def match(self, text: str, *, guess: bool = True) -> IntentResult:
        """The intent and slots of `text`; `none` (never an exception) for anything that is not a command.

        `guess=False`: only a template that reads the whole text counts (no clauses, keywords or meaning)."""
        stripped = text.strip()
        if not stripped or len(stripped) > MAX_INPUT_CHARS:
            return IntentResult(NONE, text=stripped[:MAX_INPUT_CHARS])
        normalized = normalize(stripped)
        found = self._recognize(normalized)
        rest = normalized.after_interjection() if found is None else None
        if rest is not None:
            found = self._recognize(rest)
        if found is not None:
            return IntentResult(found[0], found[1], 1.0 if found[0] != NONE else 0.0, stripped)
        if not guess:
            return IntentResult(NONE, text=stripped)
        clauses = [clause for clause in _CLAUSE_BREAK.split(stripped) if clause.strip()]
        by_clause: IntentResult | None = None
        intents: set[str] = set()
        if 1 < len(clauses) <= MAX_CLAUSES:
            by_clause, intents, partial = self._match_clauses(clauses, stripped)
            if by_clause is not None and not partial:
                return by_clause
        keywords = self.fallback.guess(normalized)
        if keywords is not None:
            return IntentResult(keywords[0], keywords[1], FALLBACK_CONFIDENCE, stripped)
        if by_clause is not None:
            # Only some clauses matched: the others are context ("my wife says I never listen, what should I do"
            # asks for advice, not for help with Rekindle), so the whole text is read by meaning first.
            by_meaning = self._by_meaning(normalized, stripped)
            return by_meaning if by_meaning.intent != NONE else by_clause
        if intents:  # clauses that ask for different things ("yes, stop") are not guessed at by meaning
            return IntentResult(NONE, text=stripped)
        return self._by_meaning(normalized, stripped)

    def _by_meaning(self, normalized: Normalized, stripped: str) -> IntentResult:
        """The semantic tier: the nearest example's intent, with slots read as the keyword tier reads them."""
        words = normalized.words
        if (
            self.semantic is None
            or not SEMANTIC_MIN_WORDS <= len(words) <= self.fallback.max_words
            or self.fallback.vetoed(normalized)
        ):
            return IntentResult(NONE, text=stripped)
        try:
            found = self.semantic.guess(stripped)
        except (RekindleError, OSError, ValueError, EOFError) as err:
            # A missing or damaged encoder: warn once, and the other tiers go on as before.
            _LOGGER.warning("Reading requests by meaning is off: %s", err)
            self.semantic = None
            return IntentResult(NONE, text=stripped)
        if found is None:
            return IntentResult(NONE, text=stripped)
        slots = self.fallback.slots(found.intent, normalized)
        if found.intent == "strategy_advice" and "strategy" not in slots and found.strategy:
            slots["strategy"] = found.strategy
        _LOGGER.debug(
            "By meaning: %r -> %s (probability %.2f, nearest %r at %.2f)",
            stripped,
            found.intent,
            found.probability,
            found.example,
            found.similarity,
        )
        return IntentResult(found.intent, slots, SEMANTIC_CONFIDENCE, stripped)

    def _match_clauses(self, clauses: list[str], stripped: str) -> tuple[IntentResult | None, set[str], bool]:
        """The one intent the clauses agree on ("we're bored, give us a question") or None, the intents the
        clauses that matched ask for (none, one, or several that disagree), and whether some clause matched none."""
        found = [self._recognize(normalize(clause)) for clause in clauses]
        matched = [result for result in found if result is not None and result[0] != NONE]
        intents = {intent for intent, _ in matched}
        partial = len(matched) < len(found)
        if len(intents) != 1:
            return None, intents, partial
        intent, slots = max(matched, key=lambda result: len(result[1]))
        return IntentResult(intent, slots, CLAUSE_CONFIDENCE, stripped), intents, partial

    def _recognize(self, normalized: Normalized) -> tuple[str, dict[str, str | int]] | None:
        """Intent name and slots if a template matches the whole of `normalized`.

        `none` when a template matched but is refused ("I appreciate it" thanks the assistant, it logs nothing).
        """
        from hassil.recognize import recognize_best

        if not normalized.words:
            return None
        window = _window(normalized)
        window_text = " ".join(normalized.words[:window])
        result = recognize_best(window_text, self.intents)
        if result is None:
            return None
        truncated = window < len(normalized.words)
        slots: dict[str, str | int] = {}
        for entity in result.entities_list:
            if entity.is_wildcard:
                if entity.text_span is None:
                    return None
                start, end = entity.text_span
                first = window_text[:start].count(" ")
                last = window_text[: max(end - 1, start)].count(" ")
                if truncated and end >= len(window_text):
                    last = len(normalized.words) - 1
                words = normalized.source_text(first, last)
                if not words:
                    return None
                slots[entity.name] = words
            elif isinstance(entity.value, (str, int)) and not isinstance(entity.value, bool):
                slots[entity.name] = entity.value
        if truncated and "text" not in slots:
            return None
        metadata = result.intent_metadata or {}
        if metadata.get("needs_content") and _content_free(str(slots.get("text", ""))):
            return NONE, {}
        return result.intent.name, slots


def _window(normalized: Normalized) -> int:
    """How many leading words fit in MATCH_WINDOW_CHARS."""
    used = 0
    for index, word in enumerate(normalized.words):
        used += len(word) + (1 if index else 0)
        if used > MATCH_WINDOW_CHARS:
            return max(index, 1)
    return len(normalized.words)


def _content_free(text: str) -> bool:
    """True for "it", "you so much", "that a lot": thanks to the assistant, not a journal entry."""
    words = text.lower().strip(" .!?,")
    changed = True
    while changed:
        changed = False
        for tail in _INTENSIFIERS:
            if words.endswith(" " + tail):
                words = words[: -len(tail) - 1]
                changed = True
    return words in _CONTENT_FREE


_PARSED_FORMAT = 1
"""Bump when what `_load` returns changes shape."""


def _load_cached(files: list[Path], cache_dir: Path | None) -> tuple[Intents, dict[str, Any]]:
    """`_load(files)`, kept parsed in `cache_dir` under a hash of the files, this module and hassil's parser:
    reading it back takes 0.08 s where parsing takes 0.44 s (a third of a cold `rekindle ask`). A cache file
    that is damaged, or that another user could have written, is ignored and parsed again."""
    if cache_dir is None:
        from assistant.paths import default_cache_dir

        cache_dir = default_cache_dir()
    try:
        path = cache_dir / f"templates-{_parsed_key(files)}.pickle"
    except OSError as err:
        raise ContentError(f"intent templates cannot be read ({err}); reinstall Rekindle") from err
    parsed = _read_parsed(path)
    if parsed is not None:
        return parsed
    parsed = _load(files)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=cache_dir)
        with os.fdopen(handle, "wb") as out:
            pickle.dump((_PARSED_FORMAT, parsed), out, protocol=pickle.HIGHEST_PROTOCOL)
        Path(name).replace(path)
    except (OSError, pickle.PicklingError, RecursionError) as err:
        _LOGGER.debug("Could not keep the parsed templates in %s: %s", cache_dir, err)
    return parsed


def _parsed_key(files: list[Path]) -> str:
    """A hash of the template files, this module and the hassil modules whose objects are kept."""
    import hassil.expression
    import hassil.intents

    digest = hashlib.sha256(f"{_PARSED_FORMAT}".encode())
    for path in [Path(__file__), Path(hassil.intents.__file__), Path(hassil.expression.__file__), *files]:
        data = path.read_bytes()
        digest.update(f"\0{path.name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:32]


def _read_parsed(path: Path) -> tuple[Intents, dict[str, Any]] | None:
    """The parsed templates kept at `path`, or None (missing, damaged, or writable by someone else)."""
    from hassil import Intents

    try:
        with path.open("rb") as stream:
            status = os.fstat(stream.fileno())
            if status.st_uid != os.getuid() or status.st_mode & 0o022:
                _LOGGER.debug("Ignoring %s: not private to this user", path)
                return None
            kept = pickle.load(stream)  # our own cache file, checked private above
    except FileNotFoundError:
        return None
    except Exception as err:  # any damage means: parse again
        _LOGGER.debug("Ignoring damaged %s: %s", path, err)
        return None
    if (
        isinstance(kept, tuple)
        and len(kept) == 2
        and kept[0] == _PARSED_FORMAT
        and isinstance(kept[1], tuple)
        and len(kept[1]) == 2
        and isinstance(kept[1][0], Intents)
        and isinstance(kept[1][1], dict)
    ):
        return kept[1][0], kept[1][1]
    _LOGGER.debug("Ignoring %s: not parsed templates", path)
    return None


def _load(files: list[Path]) -> tuple[Intents, dict[str, Any]]:
    """Parse and check the template files; any fault is a ContentError naming the file or intent."""
    import yaml
    from hassil import Intents
    from hassil.parser import ParseError
    from hassil.util import merge_dict

    if not files:
        raise ContentError("no intent templates found (intents/templates/*.yaml); reinstall Rekindle")
    merged: dict[str, Any] = {}
    for path in files:
        try:
            with path.open(encoding="utf-8") as stream:
                data = yaml.load(stream, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except (OSError, yaml.YAMLError) as error:
            raise ContentError(f"{path.name} cannot be read as YAML ({error}); fix the template file") from error
        if not isinstance(data, dict):
            raise ContentError(f"{path.name} is not a mapping of intents/lists/rules; fix the template file")
        merge_dict(merged, data)
    try:
        intents = Intents.from_dict(merged)
    except (KeyError, TypeError, ValueError, AssertionError, ParseError) as error:
        raise ContentError(f"intent templates are malformed ({error}); fix intents/templates/*.yaml") from error
    unknown = sorted(set(intents.intents) - set(INTENT_NAMES[:-1]))
    if unknown:
        raise ContentError(f"templates define unknown intents {unknown}; use the names in INTENT_NAMES")
    for name, intent in intents.intents.items():
        for data in intent.data:
            try:
                sentences = data.sentences
            except ParseError as error:
                raise ContentError(f"intent {name}: a template does not parse ({error}); fix it") from error
            rules = {**intents.expansion_rules, **data.expansion_rules}
            lists = {**intents.slot_lists, **data.slot_lists}
            for sentence in sentences:
                _check_references(name, sentence, rules, lists)
    section = merged.get("fallback", {})
    if not isinstance(section, dict):
        raise ContentError("the fallback section of the intent templates must be a mapping; fix the YAML")
    return intents, section


def _check_references(intent: str, sentence: Sentence, rules: dict[str, Sentence], lists: dict[str, Any]) -> None:
    """Raise ContentError if `sentence` uses a rule or list that does not exist (hassil would fail at match time)."""
    from hassil.expression import ListReference, RuleReference

    from intents.template_stats import walk

    for expression in walk(sentence.expression, rules, lists):
        if isinstance(expression, RuleReference) and expression.rule_name not in rules:
            raise ContentError(f"intent {intent}: unknown rule <{expression.rule_name}> in {sentence.text!r}")
        if isinstance(expression, ListReference) and expression.list_name not in lists:
            raise ContentError(f"intent {intent}: unknown list {{{expression.list_name}}} in {sentence.text!r}")
