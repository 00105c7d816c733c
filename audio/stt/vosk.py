"""Vosk (Kaldi) speech to text: streaming, per-word confidences, a runtime phrase list for commands.

The model is loaded once per engine (it is large: ~40 MB on disk for small English, hundreds of
MB in memory); every utterance gets a fresh, cheap recogniser.

COMMAND mode decodes against a phrase list (Vosk turns it into a small bigram model: it limits
the words, not their order) plus "[unk]" where the model has that word, so speech outside the
list can come out as "[unk]" instead of being forced onto a command. DICTATION mode uses the
model's full vocabulary and language model.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from assistant.errors import ModelError, SpeechError
from audio.chunk import RATE, AudioChunk, require_standard
from audio.native import native_stderr_to_log
from audio.stt import Mode, Transcript

_LOGGER = logging.getLogger(__name__)

UNKNOWN = "[unk]"
"""The word Vosk models use for out-of-vocabulary speech (present in most English models)."""
DOWNLOAD_HINT = "run `rekindle models download vosk-small-en`"
_FEED_BYTES = RATE * 2 // 5
"""Bytes handed to AcceptWaveform at a time when transcribing a whole utterance (0.2 s)."""


class VoskEngine:
    """The SpeechToText engine for one Vosk model directory."""

    name = "vosk"
    raw_audio = False
    whole_first = True

    def __init__(self, model_path: Path, phrases: Sequence[str] = ()) -> None:
        self.model_path = Path(model_path)
        """The model directory (the one holding am/, conf/, graph/)."""
        self._model = _load_model(self.model_path)
        self.oov_words: list[str] = []
        """Words of `phrases` the model does not know (dropped from the grammar)."""
        self.grammar: list[str] = self._build_grammar(phrases)
        """The phrase list used in COMMAND mode (empty: COMMAND mode decodes like DICTATION)."""

    def knows(self, word: str) -> bool:
        """True when `word` is in the model's vocabulary."""
        return int(self._model.vosk_model_find_word(word)) >= 0

    def start(self, mode: Mode) -> VoskStream:
        import vosk

        if mode is Mode.COMMAND and self.grammar:
            recognizer = vosk.KaldiRecognizer(self._model, RATE, json.dumps(self.grammar, ensure_ascii=False))
        else:
            recognizer = vosk.KaldiRecognizer(self._model, RATE)
        recognizer.SetWords(True)
        return VoskStream(recognizer, mode)

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        stream = self.start(mode)
        for offset in range(0, len(audio.audio), _FEED_BYTES):
            stream.feed(AudioChunk(audio.rate, audio.width, audio.channels, audio.audio[offset : offset + _FEED_BYTES]))
        return stream.finish()

    def _build_grammar(self, phrases: Iterable[str]) -> list[str]:
        grammar: list[str] = []
        oov: dict[str, None] = {}
        for phrase in phrases:
            words = phrase.lower().split()
            known = [w for w in words if w != UNKNOWN and self.knows(w)]
            oov.update((w, None) for w in words if w != UNKNOWN and not self.knows(w))
            text = " ".join(known)
            if text and text not in grammar:
                grammar.append(text)
        self.oov_words = list(oov)
        if self.oov_words:
            _LOGGER.info(
                "Vosk model %s does not know %d word(s) of the commands, dropped: %s",
                self.model_path,
                len(self.oov_words),
                " ".join(self.oov_words[:20]),
            )
        if grammar and self.knows(UNKNOWN):
            grammar.append(UNKNOWN)
        return grammar


class VoskStream:
    """One utterance being decoded; Vosk's own endpointing may split it, the parts are joined."""

    def __init__(self, recognizer: Any, mode: Mode) -> None:
        self._recognizer = recognizer
        self._mode = mode
        self._parts: list[dict[str, Any]] = []
        self._finished = False

    def feed(self, chunk: AudioChunk) -> None:
        if self._finished:
            raise SpeechError("this Vosk stream is finished; start a new one for the next utterance")
        require_standard(chunk, "Vosk", SpeechError)
        if chunk.audio and self._recognizer.AcceptWaveform(chunk.audio):
            self._parts.append(json.loads(self._recognizer.Result()))

    def pause(self, paused: bool) -> None:
        """Nothing to do: Vosk decodes as the audio arrives."""

    def finish(self) -> Transcript:
        if self._finished:
            raise SpeechError("this Vosk stream is finished; start a new one for the next utterance")
        started = time.perf_counter()
        self._parts.append(json.loads(self._recognizer.FinalResult()))
        decode_ms = (time.perf_counter() - started) * 1000.0
        self._finished = True
        return _transcript(self._parts, self._mode, decode_ms)


def _transcript(parts: list[dict[str, Any]], mode: Mode, decode_ms: float) -> Transcript:
    """Join Vosk results; "[unk]" words are left out of the text and count as zero confidence."""
    scored: list[tuple[str, float]] = []
    for part in parts:
        for item in part.get("result", []):
            scored.append((str(item["word"]), float(item.get("conf", 1.0))))
        if not part.get("result") and part.get("text"):
            scored.extend((word, 1.0) for word in str(part["text"]).split())
    known = [(w, c) for w, c in scored if w != UNKNOWN]
    if not known:
        return Transcript("", 0.0, mode, decode_ms, scored)
    confidence = sum(c for _, c in known) / len(scored)
    return Transcript(" ".join(w for w, _ in known), confidence, mode, decode_ms, scored)


def _load_model(path: Path) -> Any:
    if not path.exists():
        raise ModelError(f"no Vosk model at {path}; {DOWNLOAD_HINT} or pass the model folder")
    if not path.is_dir():
        raise ModelError(f"{path} is a file, not a Vosk model folder; unzip it or {DOWNLOAD_HINT}")
    if not (path / "am" / "final.mdl").is_file() and not (path / "final.mdl").is_file():
        raise ModelError(f"{path} is not a Vosk model folder (no am/final.mdl); {DOWNLOAD_HINT}")
    try:
        import vosk
    except ImportError as exc:
        raise SpeechError("the vosk package is not installed; run `pip install vosk`") from exc
    vosk.SetLogLevel(-1)
    started = time.perf_counter()
    try:
        with native_stderr_to_log(_LOGGER, "Vosk"):  # Kaldi prints "ERROR (VoskAPI:...)" for a broken model itself
            model = vosk.Model(str(path))
    except Exception as exc:  # the binding raises a bare Exception("Failed to create a model")
        raise ModelError(
            f"the Vosk model at {path} is damaged or incomplete ({exc}); delete it and {DOWNLOAD_HINT}"
        ) from exc
    _LOGGER.debug("loaded Vosk model %s in %.2f s", path, time.perf_counter() - started)
    return model
