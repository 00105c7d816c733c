"""Speech-to-text engines by name: a thin dispatcher so callers never import an engine's heavy library."""

from __future__ import annotations

import enum
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import SpeechError

if TYPE_CHECKING:
    from audio.stt import SpeechToText
    from intents.matcher import Matcher

_LOGGER = logging.getLogger(__name__)

ENV_VOSK_MODEL = "REKINDLE_VOSK_MODEL"
"""Environment variable naming a Vosk model folder (the same one audio/models.py reads)."""


class EngineName(str, enum.Enum):
    """The speech-to-text engines Rekindle can use."""

    POCKETSPHINX = "pocketsphinx"
    """Embedded, always available: grammar decoding for commands, open vocabulary for dictation."""
    VOSK = "vosk"
    """Kaldi-based; needs a downloaded model folder."""
    MOONSHINE = "moonshine"
    """A small neural recogniser (the model inside the moonshine-cpp wheel) on ONNX Runtime; no grammar."""
    HYBRID = "hybrid"
    """PocketSphinx's grammar and Moonshine's transcript, cross-checked (audio/stt/hybrid.py)."""
    AUTO = "auto"
    """Vosk when a model folder is given or named by $REKINDLE_VOSK_MODEL; else hybrid where Moonshine is installed
    (x86-64); else PocketSphinx (a Raspberry Pi: no moonshine-cpp wheel for ARM)."""


def moonshine_available() -> bool:
    """True when Moonshine's model package and onnxruntime are installed (found, not imported)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("moonshine_cpp", "onnxruntime", "onnx"))


def engine_names() -> list[str]:
    """Every accepted engine name, for help texts and settings validation."""
    return [name.value for name in EngineName]


def create_engine(
    name: str | EngineName,
    matcher: Matcher | None = None,
    vosk_model: Path | None = None,
    cache_dir: Path | None = None,
    noise: str = "auto",
    **options: Any,
) -> SpeechToText:
    """Create (but do not yet load) the engine `name`; its grammar comes from the matcher's templates.

    `options` go to the engine's constructor (for PocketSphinx: `settings`, `model_dir`, `grammar`);
    `cache_dir` keeps PocketSphinx's compiled grammar between runs (and Moonshine's prepared model); `noise` is
    the noise suppression setting, for an engine that applies it itself (hybrid).
    """
    try:
        wanted = EngineName(str(getattr(name, "value", name)).lower())
    except ValueError:
        raise SpeechError(f"unknown speech engine {name!r}; choose one of {', '.join(engine_names())}") from None
    if wanted is EngineName.AUTO:
        if vosk_model is None and os.environ.get(ENV_VOSK_MODEL):
            vosk_model = Path(os.environ[ENV_VOSK_MODEL]).expanduser()
        if vosk_model is not None:
            wanted = EngineName.VOSK
        elif moonshine_available():
            wanted = EngineName.HYBRID
        else:
            wanted = EngineName.POCKETSPHINX
        _LOGGER.debug("Engine auto -> %s", wanted.value)
    if wanted is EngineName.VOSK:
        if vosk_model is None:
            raise SpeechError("the vosk engine needs a model; run `rekindle models download vosk-small-en`")
        from audio.stt.vosk import VoskEngine

        phrases = options.pop("phrases", None)
        if phrases is None:
            phrases = sorted(_grammar_words(matcher))
        return VoskEngine(Path(vosk_model), phrases, **options)
    if wanted is EngineName.MOONSHINE:
        from audio.stt.moonshine import MoonshineEngine

        return MoonshineEngine(cache_dir=cache_dir)
    if wanted is EngineName.HYBRID:
        from audio.denoise import Denoise
        from audio.stt.hybrid import HybridEngine
        from audio.stt.moonshine import MoonshineEngine
        from audio.stt.pocketsphinx import PocketSphinxEngine
        from intents.matcher import Matcher

        matcher = matcher or Matcher()
        grammar = PocketSphinxEngine(matcher=matcher, cache_dir=cache_dir, **options)
        return HybridEngine(grammar, MoonshineEngine(cache_dir=cache_dir), matcher, Denoise(noise))
    from audio.stt.pocketsphinx import PocketSphinxEngine

    return PocketSphinxEngine(matcher=matcher, cache_dir=cache_dir, **options)


def _grammar_words(matcher: Matcher | None) -> frozenset[str]:
    """The words of the command grammar (Vosk limits words, not their order)."""
    from intents.grammar import compile_grammar

    if matcher is None:
        from intents.matcher import Matcher

        matcher = Matcher()
    return compile_grammar(matcher.intents).words
