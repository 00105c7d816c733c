"""Rekindle's content (starters, strategies, date ideas, exercises, reply lines) loaded from YAML and validated."""

from __future__ import annotations

import functools
import logging
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from assistant.errors import ContentError

if TYPE_CHECKING:
    import random

_LOGGER = logging.getLogger(__name__)

CONTENT_DIR = Path(__file__).with_name("content")
"""The content files shipped with the package."""

STRATEGY_IDS: tuple[str, ...] = (
    "communication",
    "active_listening",
    "romance",
    "underlying_issues",
    "vulnerability",
    "quality_time",
    "professional_help",
    "gratitude",
)
"""The eight strategies, in the seed text's order."""
DEPTHS: tuple[str, ...] = ("light", "deep")
"""Starter depths: light (easy, playful) and deep (more personal)."""
DATE_STRATEGIES: tuple[str, ...] = ("romance", "quality_time")
"""The strategies a date idea can serve."""
PLACES: tuple[str, ...] = ("home", "out")
"""Where a date happens."""
COSTS: tuple[str, ...] = ("free", "low", "medium")
"""What a date costs, roughly."""
EXERCISE_KINDS: tuple[str, ...] = (
    "listening_round",
    "appreciation_round",
    "vulnerability_share",
    "memory_lane",
    "dream_together",
    "playful",
)
"""The sorts of date-night exercise."""

REPLY_KEYS: dict[str, frozenset[str]] = {
    "greeting": frozenset(),
    "not_understood": frozenset(),
    "help": frozenset(),
    "stopped": frozenset(),
    "nothing_to_repeat": frozenset(),
    "next_nothing": frozenset(),
    "deck_reshuffled": frozenset(),
    "gratitude_ask": frozenset(),
    "gratitude_saved": frozenset({"text"}),
    "gratitude_empty": frozenset(),
    "gratitude_cancelled": frozenset(),
    "review_none": frozenset({"period"}),  # period: "today", "this week", "in all"
    "review_count": frozenset({"count", "period"}),  # count: a number; phrase it so 1 reads well too
    "review_entry": frozenset({"when", "text"}),  # when: "today", "yesterday", "on Monday"
    "review_more": frozenset(),
    "review_end": frozenset(),
    "delete_confirm": frozenset({"text"}),
    "deleted": frozenset(),
    "delete_kept": frozenset(),
    "delete_none": frozenset(),
    "nothing_pending": frozenset(),
    "tip_intro": frozenset({"name"}),  # name: a strategy's spoken name
    "more_none": frozenset({"name"}),
    "date_intro": frozenset(),
    "date_night_started": frozenset({"minutes"}),  # minutes: a spoken span with its unit, "20 minutes"
    "date_night_already": frozenset(),
    "date_night_not_running": frozenset(),
    "date_night_paused": frozenset(),
    "date_night_resumed": frozenset(),
    "date_night_prompt_intro": frozenset(),
    "date_night_summary": frozenset({"minutes", "prompts"}),  # minutes as above; prompts: a number
    "listening": frozenset(),
    "goodbye": frozenset(),
}
"""Every reply key the dialog speaks, with the str.format placeholders its variants may use."""


@dataclass(frozen=True)
class Starter:
    """A conversation starter: one question, read aloud."""

    id: str
    """Unique slug."""
    text: str
    """The question as spoken (about eight seconds)."""
    strategy: str
    """The strategy it serves, one of STRATEGY_IDS."""
    depth: str
    """"light" (easy, playful) or "deep" (more personal)."""


@dataclass(frozen=True)
class Strategy:
    """One of the eight ways to rekindle connection, with spoken tips."""

    id: str
    """One of STRATEGY_IDS."""
    name: str
    """How it is spoken ("active listening")."""
    summary: str
    """One sentence on what it is."""
    tips: tuple[str, ...]
    """Short spoken tips, each at most three short sentences."""
    more: tuple[str, ...]
    """Deeper follow-ups for "tell me more", same length rule."""


@dataclass(frozen=True)
class DateIdea:
    """A date idea."""

    id: str
    """Unique slug."""
    text: str
    """One or two sentences, as spoken."""
    strategy: str
    """"romance" or "quality_time"."""
    place: str
    """"home" or "out"."""
    cost: str
    """"free", "low" or "medium"."""


@dataclass(frozen=True)
class Exercise:
    """A date-night exercise: spoken instructions for the couple."""

    id: str
    """Unique slug."""
    kind: str
    """What sort of exercise it is."""
    text: str
    """The instructions, at most three short sentences."""


@dataclass(frozen=True)
class Content:
    """Everything Rekindle says that is not computed."""

    starters: tuple[Starter, ...]
    """Conversation starters, in file order."""
    strategies: tuple[Strategy, ...]
    """The eight strategies, in STRATEGY_IDS order."""
    dates: tuple[DateIdea, ...]
    """Date ideas, in file order."""
    exercises: tuple[Exercise, ...]
    """Date-night exercises, in file order."""
    replies: Mapping[str, tuple[str, ...]]
    """Reply key -> its variants (str.format templates), read-only."""

    def strategy(self, strategy_id: str) -> Strategy:
        """The strategy with this id."""
        for strategy in self.strategies:
            if strategy.id == strategy_id:
                return strategy
        raise ContentError(f"no strategy {strategy_id!r}; use one of {', '.join(STRATEGY_IDS)}")


def read_yaml(path: Path, *keys: str) -> dict[str, Any]:
    """A YAML mapping file that has all of `keys` at the top, with one-line ContentErrors for every failure."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ContentError(f"{path.name} not found in {path.parent}; reinstall Rekindle or restore it") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ContentError(f"{path.name}: cannot read ({exc}); check the file is UTF-8 text") from exc
    try:
        data = yaml.load(text, Loader=loader)  # a safe loader: CSafeLoader or SafeLoader
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else "?"
        raise ContentError(f"{path.name} line {line}: not valid YAML ({exc.problem}); fix the syntax") from exc
    except yaml.YAMLError as exc:
        raise ContentError(f"{path.name}: not valid YAML ({exc}); fix the syntax") from exc
    for key in keys:
        if not isinstance(data, dict) or key not in data:
            raise ContentError(f"{path.name}: no top-level '{key}:' key; add a line '{key}:' at the top level")
    return cast(dict[str, Any], data)


class _File:
    """Validation helpers that name the file and entry in every error."""

    def __init__(self, path: Path, top_key: str) -> None:
        self.name = path.name
        self.data = read_yaml(path, top_key)[top_key]

    def fail(self, message: str) -> ContentError:
        return ContentError(f"{self.name}: {message}")

    def entries(self, fields: Sequence[str]) -> list[tuple[str, dict[str, Any]]]:
        """(id, mapping) for each entry of a list of mappings with exactly `fields`, ids unique."""
        if not isinstance(self.data, list) or not self.data:
            raise self.fail("expected a non-empty list of entries; give at least one '- id: ...' entry")
        seen: set[str] = set()
        result = []
        for number, entry in enumerate(self.data, start=1):
            if not isinstance(entry, dict):
                raise self.fail(f"entry {number} is not a mapping; give it fields {', '.join(fields)}")
            entry_id = entry.get("id")
            if not isinstance(entry_id, str) or not entry_id.strip():
                raise self.fail(f"entry {number} has no text id; give each entry a unique 'id' slug")
            if entry_id in seen:
                raise self.fail(f"entry '{entry_id}' appears twice; give each entry a unique id")
            seen.add(entry_id)
            for key in entry:
                if key not in fields:
                    raise self.fail(f"entry '{entry_id}' has unknown field '{key}'; use {', '.join(fields)}")
            for key in fields:
                if key not in entry:
                    raise self.fail(f"entry '{entry_id}' has no '{key}'; add it")
            result.append((entry_id, entry))
        return result

    def text(self, entry_id: str, field: str, value: object) -> str:
        """A non-empty one-line string."""
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"entry '{entry_id}' has an empty or non-text '{field}'; write it as text")
        if "\n" in value.strip():
            raise self.fail(f"entry '{entry_id}' has a '{field}' over several lines; keep it to one line")
        return value.strip()

    def texts(self, entry_id: str, field: str, value: object) -> tuple[str, ...]:
        """A non-empty list of one-line strings."""
        if not isinstance(value, list) or not value:
            raise self.fail(f"entry '{entry_id}' has no '{field}' list; give at least one item")
        return tuple(self.text(entry_id, field, item) for item in value)

    def choice(self, entry_id: str, field: str, value: object, allowed: Sequence[str]) -> str:
        """One of `allowed`."""
        if value not in allowed:
            options = " or ".join(allowed) if len(allowed) == 2 else "one of " + ", ".join(allowed)
            raise self.fail(f"entry '{entry_id}' has {field} '{value}'; use {options}")
        return cast(str, value)


def _starters(directory: Path) -> tuple[Starter, ...]:
    f = _File(directory / "starters.yaml", "starters")
    return tuple(
        Starter(
            id=entry_id,
            text=f.text(entry_id, "text", e["text"]),
            strategy=f.choice(entry_id, "strategy", e["strategy"], STRATEGY_IDS),
            depth=f.choice(entry_id, "depth", e["depth"], DEPTHS),
        )
        for entry_id, e in f.entries(("id", "text", "strategy", "depth"))
    )


def _strategies(directory: Path) -> tuple[Strategy, ...]:
    f = _File(directory / "strategies.yaml", "strategies")
    found = {}
    for entry_id, e in f.entries(("id", "name", "summary", "tips", "more")):
        strategy_id = f.choice(entry_id, "id", entry_id, STRATEGY_IDS)
        found[strategy_id] = Strategy(
            id=strategy_id,
            name=f.text(entry_id, "name", e["name"]),
            summary=f.text(entry_id, "summary", e["summary"]),
            tips=f.texts(entry_id, "tips", e["tips"]),
            more=f.texts(entry_id, "more", e["more"]),
        )
    missing = [s for s in STRATEGY_IDS if s not in found]
    if missing:
        raise f.fail(f"strategy '{missing[0]}' is missing; add an entry for each of {', '.join(STRATEGY_IDS)}")
    return tuple(found[s] for s in STRATEGY_IDS)


def _dates(directory: Path) -> tuple[DateIdea, ...]:
    f = _File(directory / "dates.yaml", "dates")
    return tuple(
        DateIdea(
            id=entry_id,
            text=f.text(entry_id, "text", e["text"]),
            strategy=f.choice(entry_id, "strategy", e["strategy"], DATE_STRATEGIES),
            place=f.choice(entry_id, "place", e["place"], PLACES),
            cost=f.choice(entry_id, "cost", e["cost"], COSTS),
        )
        for entry_id, e in f.entries(("id", "text", "strategy", "place", "cost"))
    )


def _exercises(directory: Path) -> tuple[Exercise, ...]:
    f = _File(directory / "exercises.yaml", "exercises")
    return tuple(
        Exercise(
            id=entry_id,
            kind=f.choice(entry_id, "kind", e["kind"], EXERCISE_KINDS),
            text=f.text(entry_id, "text", e["text"]),
        )
        for entry_id, e in f.entries(("id", "kind", "text"))
    )


def placeholders(template: str) -> set[str]:
    """The str.format field names in a template ("{text}" -> {"text"}); ValueError if its braces are broken."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _replies(directory: Path) -> Mapping[str, tuple[str, ...]]:
    f = _File(directory / "replies.yaml", "replies")
    if not isinstance(f.data, dict):
        raise f.fail("expected a mapping of reply key -> list of variants; write 'key:' then '- variant' lines")
    replies: dict[str, tuple[str, ...]] = {}
    for key, value in f.data.items():
        if key not in REPLY_KEYS:
            raise f.fail(f"entry '{key}' is not a reply the dialog uses; remove it or add it to REPLY_KEYS")
        variants = f.texts(key, "variants", value)
        allowed = REPLY_KEYS[key]
        for variant in variants:
            try:
                names = placeholders(variant)
            except ValueError:
                raise f.fail(f"entry '{key}' has unbalanced braces in {variant!r}; write {{name}}") from None
            extra = sorted(names - allowed)
            if extra:
                use = ", ".join("{" + a + "}" for a in sorted(allowed)) or "no placeholders"
                raise f.fail(f"entry '{key}' uses placeholder {{{extra[0]}}} in {variant!r}; use {use}")
        replies[key] = variants
    missing = [k for k in REPLY_KEYS if k not in replies]
    if missing:
        raise f.fail(f"entry '{missing[0]}' is missing; add variants for every key in REPLY_KEYS")
    return MappingProxyType(replies)


def _load(directory: Path) -> Content:
    if not directory.is_dir():
        raise ContentError(f"content directory {directory} does not exist; give a folder with the content files")
    content = Content(
        starters=_starters(directory),
        strategies=_strategies(directory),
        dates=_dates(directory),
        exercises=_exercises(directory),
        replies=_replies(directory),
    )
    _LOGGER.debug(
        "content from %s: %d starters, %d dates, %d exercises",
        directory,
        len(content.starters),
        len(content.dates),
        len(content.exercises),
    )
    return content


@functools.lru_cache(maxsize=1)
def _load_default() -> Content:
    return _load(CONTENT_DIR)


def load_content(directory: Path | None = None) -> Content:
    """Load and validate the content files of `directory` (default: the package's own, loaded once)."""
    if directory is None:
        return _load_default()
    return _load(Path(directory))


def reply(content: Content, key: str, rng: random.Random, **values: object) -> str:
    """A random variant of reply `key`, formatted with `values` (exactly the key's placeholders)."""
    variants = content.replies.get(key)
    if variants is None:
        raise ContentError(f"no reply '{key}'; use one of the keys in assistant.content.REPLY_KEYS")
    expected = REPLY_KEYS.get(key, frozenset())
    if set(values) != expected:
        want = ", ".join(sorted(expected)) or "none"
        raise ContentError(f"reply '{key}' takes values {want}; got {', '.join(sorted(values)) or 'none'}")
    return rng.choice(variants).format(**values)
