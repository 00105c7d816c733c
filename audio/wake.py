"""Wake words: a small detector that listens to every chunk and says when its phrase was spoken.

The engine is pymicro-wakeword (Home Assistant's microWakeWord runtime, TensorFlow Lite Micro),
which ships models for "okay nabu", "hey jarvis", "hey mycroft" and "alexa". A custom
microWakeWord model is used by giving the path of its JSON config instead of a name.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import AudioError, ModelError
from audio.chunk import AudioChunk, require_standard

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_LOGGER = logging.getLogger(__name__)

WAKE_WORDS = {
    "okay_nabu": "okay nabu",
    "hey_jarvis": "hey jarvis",
    "hey_mycroft": "hey mycroft",
    "alexa": "alexa",
}
"""The models shipped with pymicro-wakeword: name -> the phrase to say."""

DEFAULT_WAKE_WORD = "hey_jarvis"


class WakeWord(Protocol):
    """Listens to a stream of 16 kHz 16-bit mono chunks, in order."""

    phrase: str
    """What the person says, e.g. "hey jarvis"."""

    def process(self, chunk: AudioChunk) -> bool:
        """True when the wake word ended within this chunk (once per utterance of it)."""

    def reset(self) -> None:
        """Forget past audio (call after a conversation turn, before listening again)."""


class MicroWakeWordDetector:
    """One microWakeWord model with its feature front end.

    After a detection the detector resets itself, so one spoken wake word gives one True.
    `cutoff` overrides the model's own probability cutoff (0..1; higher = fewer false wakes).
    """

    def __init__(self, name_or_config: str | Path = DEFAULT_WAKE_WORD, cutoff: float | None = None) -> None:
        try:
            from pymicro_wakeword import MicroWakeWord, MicroWakeWordFeatures, Model
        except ImportError as exc:
            raise AudioError("pymicro-wakeword is not installed; run `pip install pymicro-wakeword`") from exc
        self._model: Any = _load(str(name_or_config), MicroWakeWord, Model)
        if cutoff is not None:
            if not 0.0 < cutoff < 1.0:
                raise AudioError(f"wake word cutoff {cutoff} is out of range; use a value between 0 and 1")
            self._model.probability_cutoff = cutoff
        self._features: Any = MicroWakeWordFeatures()
        self.phrase: str = str(self._model.wake_word).lower()
        """What the person says."""
        self.best = 0.0
        """Highest probability seen since the last reset (for tuning and reports)."""

    @property
    def cutoff(self) -> float:
        """The probability (averaged over the model's sliding window) above which it fires."""
        return float(self._model.probability_cutoff)

    def process(self, chunk: AudioChunk) -> bool:
        require_standard(chunk, "wake word detection")
        for features in self._features.process_streaming(chunk.audio):
            if self._step(features):
                _LOGGER.debug("wake word %r detected in chunk at %d ms", self.phrase, chunk.timestamp)
                self.reset()
                return True
        return False

    def _step(self, features: npt.NDArray[np.float64]) -> bool:
        probability = self._model.process_streaming_prob(features)
        if probability is None:
            return False
        self.best = max(self.best, float(probability))
        return bool(probability > self._model.probability_cutoff)

    def reset(self) -> None:
        self._model.reset()
        self._features.reset()
        self.best = 0.0


def make_wake_word(name_or_config: str | Path = DEFAULT_WAKE_WORD, cutoff: float | None = None) -> WakeWord:
    """A wake word detector by model name (see WAKE_WORDS) or microWakeWord JSON config path."""
    return MicroWakeWordDetector(name_or_config, cutoff)


def _load(name_or_config: str, micro_wake_word: Any, model_enum: Any) -> Any:
    if name_or_config in WAKE_WORDS:
        return micro_wake_word.from_builtin(model_enum(name_or_config))
    path = Path(name_or_config)
    if path.suffix != ".json":
        raise AudioError(
            f"unknown wake word {name_or_config!r}; choose one of {', '.join(WAKE_WORDS)} "
            "or give a microWakeWord .json config"
        )
    if not path.is_file():
        raise ModelError(f"wake word config {path} does not exist; check the path")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
        tflite = path.parent / str(config["model"])
        float(config["micro"]["probability_cutoff"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(
            f"wake word config {path} is not a microWakeWord config ({type(exc).__name__}: {exc}); check the file"
        ) from exc
    if not tflite.is_file():
        # Checked here: the TensorFlow Lite runtime crashes the process on a missing model file.
        raise ModelError(f"wake word model {tflite} (named in {path}) does not exist; put it beside the config")
    return micro_wake_word.from_config(path)
