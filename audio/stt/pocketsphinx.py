"""PocketSphinx speech to text: the embedded engine (its US English model ships in the `pocketsphinx` wheel).

COMMAND mode searches a finite-state grammar compiled from the intent templates (intents/grammar.py),
compacted to about 1000 states with multi-word arcs ('give_us'), because PocketSphinx spends time on every
grammar state in every frame. A grammar alone accepts everything: any sound is forced onto the nearest
phrase. So a garbage loop over the 39 English phones competes with the commands: it may take the whole
utterance (prior `garbage_prior`) or take over part-way through a phrase until the end (`garbage_inside`,
for "i think we need <more milk>"). Whenever the best path uses it, the utterance is rejected (empty
transcript, confidence 0). A second check catches speech forced onto command words that sound a little alike
("turn on the kitchen lights" -> "turn on the date tonight"): a free phone decoder hears the same audio, and a
command whose words fit the audio much worse than the best free phones do is rejected (`word_fit`,
`fit_floor`); the margin is the command's confidence. bench/spoken_intents.py measures both error rates.

The wildcard of one-breath gratitude ("i'm grateful that {text}") is a phone loop too; when the best path
uses it, the same audio is also decoded in DICTATION mode (started early while streaming), the
open-vocabulary words heard in the time span of the wildcard replace it, and the phrase is rejected when
that pass did not also hear its key words ("grateful") before the free part.

DICTATION mode uses the open-vocabulary language model shipped in the wheel (en-us.lm.bin).

Decoders are created lazily, once per mode, and reused for every utterance; audio is decoded while it
arrives, so the result is ready when the speaker stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import math
import os
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.errors import ModelError, SpeechError
from audio.chunk import RATE, WIDTH, AudioChunk, require_standard
from audio.native import trim_heap
from audio.stt import Mode, Transcript
from intents.grammar import WILDCARD, Grammar, cached, compact

if TYPE_CHECKING:
    from intents.matcher import Matcher

_LOGGER = logging.getLogger(__name__)

PHONES: tuple[str, ...] = ("AA", "AE", "AH", "AO", "AW", "AY", "B", "CH", "D", "DH", "EH", "ER", "EY", "F", "G")
PHONES += ("HH", "IH", "IY", "JH", "K", "L", "M", "N", "NG", "OW", "OY", "P", "R", "S", "SH", "T", "TH", "UH", "UW")
PHONES += ("V", "W", "Y", "Z", "ZH")
"""The CMU phone set of the shipped US English model (without silence)."""

_CATCH_ALL_TEXT = """the be to of and a in that have i it for not on with he as you do at this but his by from they we say her
    she or an will my one all would there their what so up out if about who get which go me when make can like time
    no just him know take people into year your good some could them see other than then now look only come its
    over think also back after use two how our work first well way even new want because any these give day most us
    is are was were has had did does said got went made going thing things really very much more little right yeah
    okay oh well here where why still too off down before never always maybe need feel long home house car dog
    today night morning water food money phone music movie game school friend mother father kids weather door
    room table store buy call play watch read open turn put keep let help start stop tell ask try leave find"""
CATCH_ALL = tuple(_CATCH_ALL_TEXT.split())
"""Frequent English words for a word-level garbage loop (`garbage_kind='words'`)."""

GARBAGE_PREFIX = "garbage+"
"""Dictionary words of the rejection phone loop are this prefix plus a phone ('garbage+aa')."""
WILDCARD_PREFIX = "wildcard+"
"""Dictionary words of the free-speech phone loop of a wildcard slot ('wildcard+aa')."""
_JOIN = "_"
"""Joins the words of a multi-word grammar arc into one dictionary word ('give_us')."""
INITIAL_CMN = "50.56,-7.30,-3.83,4.01,-6.51,-0.28,-5.78,-6.30,-1.75,0.53,0.26,-0.54,-1.11"
"""Cepstral mean a new decoder starts from (the average over clean synthesised commands). PocketSphinx's own
start value (40,3,-1) makes the first streamed utterance after start-up come out as nonsense; afterwards
the mean follows the microphone by itself."""
_COMMAND_SAID = {"stop": "S D AA P"}
"""Pronunciations for commands in place of the dictionary's: after S, English T is unaspirated and the acoustic
model takes it for D. Piper's "stop" (28 clips, whole) came back 8 times as S T AA P, 28 times as S D AA P."""
_COMMAND_FIRST = {"read": "R IY D", "we're": "W ER"}
"""Pronunciations to try first in commands, where the dictionary lists another one first: 'read' as in 'red';
'we're' as 'weer' (W IY R), where people run it together into 'wer' (W ER, the dictionary's third)."""
_EVERYDAY = ("the", "you", "grateful", "thank", "we")
"""Words any dictation dictionary must have (a cut dictionary from the cache without them is damaged)."""
_KEY_LETTERS = 6
"""Grammar words this long (e.g. 'grateful', 'thankful') are key words the dictation pass must confirm."""
_CATCH_UP_BYTES = 6400
"""Audio (200 ms) the early dictation pass catches up on per chunk fed, at most (dictation RTF 0.25: ~50 ms)."""
_BYTES_PER_MS = RATE * WIDTH // 1000
_CMN_PRIOR_FRAMES = 500
"""How many frames PocketSphinx's live cepstral mean counts a mean given to `set_cmn` as (its CMN_WIN)."""
_FRAME_SAMPLES, _FRAME_SHIFT = 410, 160
"""PocketSphinx's analysis window and frame shift at 16 kHz (25.6 ms, 10 ms)."""
_SPECULATE_EVERY_MS = 400.0
"""How often (milliseconds of audio) a command stream checks whether a wildcard has started."""


@dataclass(frozen=True)
class PocketSphinxSettings:
    """Search settings; the defaults were tuned with bench/spoken_intents.py (see its report)."""

    garbage_prior: float = 1e-4
    """Probability of entering the garbage branch instead of a command (higher rejects more)."""
    garbage_inside: float = 0.01
    """Probability of leaving a phrase part-way for the garbage loop until the end (0: garbage only for whole
    utterances); any path through garbage is a rejection."""
    garbage_kind: str = "phones"
    """What the garbage loop is made of: 'phones' (any sound) or 'words' (CATCH_ALL, common English words)."""
    garbage_phone: float = 0.002
    """Transition probability of each phone in the garbage loop (lower makes long garbage costlier)."""
    wildcard_phone: float = 0.05
    """Transition probability of each phone in a wildcard's free-speech loop."""
    max_states: int = 1000
    """Grammar states after compaction; PocketSphinx's cost per frame grows with the number of states."""
    beam: float = 1e-48
    """Main pruning beam (smaller prunes harder)."""
    word_beam: float = 1e-40
    """Pruning beam for word ends (smaller keeps more). Every phone of the garbage loop is a one-phone word, so
    PocketSphinx's default (7e-29) pruned rejection paths: on the dev half, 1e-40 took Piper's clean commands from
    75/84 to 80/84 and out-of-domain rejection from 56/60 to 58/60, for about 10% more CPU."""
    phone_beam: float = 1e-48
    """Pruning beam for phone transitions inside words (PocketSphinx's `pbeam`)."""
    max_hmms: int = 30000
    """Most HMMs kept active per frame (PocketSphinx's `maxhmmpf`). 5000 changed neither accuracy nor speed on the
    dev half: the beams already keep fewer."""
    downsample: int = 1
    """Search every n-th 10 ms frame (PocketSphinx's `ds`). On the dev half, 2 cut RTF by about 22% (Piper clean
    0.176 -> 0.125) but Piper's clean commands fell from 84/84 to 64/84: for a slower machine, not a default."""
    top_gaussians: int = 4
    """Gaussians scored per mixture (PocketSphinx's `topn`). On the dev half, 2 cut RTF by about 7% and lost 15 of
    252 clean commands (espeak-ng) and 5 of 84 Piper commands in pink noise."""
    filler_prob: float = 1e-8
    """Probability of a noise filler ([NOISE], [SPEECH]) between words and at the edges."""
    silence_prob: float = 0.005
    """Probability of a pause (<sil>) between words and at the edges."""
    fit_floor: float | None = -34.0
    """Reject a command whose words fit the audio worse than free phones do by more than this (see `word_fit`;
    None: no such check). Tuned on the dev half of bench/phrases.tsv, with `word_beam` at 1e-40 (-30 rejected
    Piper's "next" once the cepstral mean had moved)."""
    fit_slope: float = 1.0
    """How much the floor relaxes as the audio fits the acoustic model worse overall (noise, an unusual voice)."""
    max_variants: int = 1
    """Pronunciations per grammar arc (the dictionary's first, then its alternatives); each is one more arc,
    which costs load time, memory and search time."""
    dictation_max_hmms: int = 5000
    """Most HMMs kept active per frame by the dictation decoder (PocketSphinx's default is 30000). On 60 spoken
    gratitude sentences (Piper, clean and pink noise at 10 dB) 5000 gave the same word error as the default (14.8%
    and 40.9%) for 38% less CPU; 3000 cost a point of word error in noise."""
    dictation_flat_pass: bool = True
    """Run PocketSphinx's second, flat search over each dictated utterance (its `fwdflat`). Off, on 80 spoken
    sentences (Piper, clean and pink noise at 10 dB), the dictation took 27% and 30% less CPU for word error
    14.0% -> 15.7% clean and 43.4% -> 42.2% in noise, but on the dev half of the natural phrasings (Piper, 2026-11-27)
    the second chance then understood 11 fewer of 861 commands in noise and 4 fewer clean, and gratitude text word
    error rose from 28% to 32%, so it stays on (`bench/spoken_intents.py --set dictation_flat_pass=false` measures
    it off). Narrowing its beams instead cost 10 points of word error."""
    retry_ms: float = 4000.0
    """A streamed command rejected at the end of an utterance up to this long is decoded once more, whole, with the
    utterance's own cepstral mean (0: never). A streamed pass decodes with the running mean of the voices before
    it: when two people take turns, the other voice is heard through the wrong mean. Only rejections pay for it,
    after the endpoint (about 0.2 s per second of speech)."""


class PocketSphinxEngine:
    """SpeechToText on PocketSphinx: a grammar decoder for commands, a language-model decoder for dictation."""

    name = "pocketsphinx"
    raw_audio = False
    whole_first = True

    def __init__(
        self,
        grammar: Grammar | None = None,
        matcher: Matcher | None = None,
        settings: PocketSphinxSettings | None = None,
        model_dir: Path | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self.settings = settings or PocketSphinxSettings()
        """Search settings."""
        self.model_dir = model_dir
        """Folder with en-us/ (acoustic model), en-us.lm.bin and cmudict-en-us.dict; None: the wheel's."""
        self.cache_dir = cache_dir
        """Where the compacted command grammar is kept between runs (None: compile it every time)."""
        self._grammar = grammar
        self._graph: Grammar | None = None
        self._wildcard = False
        self._lock = threading.RLock()
        """Held while a decoder loads: `load` may run in a background thread while the first utterance arrives."""
        self._matcher = matcher
        self._command: Any = None
        self._dictation: Any = None
        self._phones: Any = None
        self._open: PocketSphinxStream | None = None

    @property
    def grammar(self) -> Grammar:
        """The command grammar (compiled from the matcher's templates on first use)."""
        if self._grammar is None:
            from intents.grammar import compile_grammar

            if self._matcher is None:
                from intents.matcher import Matcher

                self._matcher = Matcher()
            started = time.perf_counter()
            self._grammar = compile_grammar(self._matcher.intents)
            _LOGGER.debug("Compiled the command grammar in %.2f s", time.perf_counter() - started)
        return self._grammar

    @property
    def graph(self) -> Grammar:
        """The command grammar compacted for decoding, from the cache when the templates did not change."""
        with self._lock:
            if self._graph is None:
                path = None
                if self.cache_dir is not None and self._grammar is None:
                    from intents.grammar import cache_key
                    from intents.matcher import template_files

                    files = self._matcher.files if self._matcher is not None else template_files()
                    key = cache_key(files, f"max_states={self.settings.max_states}")
                    path = self.cache_dir / f"grammar-{key}.json"
                started = time.perf_counter()
                self._graph = cached(path, lambda: compact(self.grammar, self.settings.max_states))
                _LOGGER.debug("Command grammar ready in %.2f s", time.perf_counter() - started)
            return self._graph

    def start(self, mode: Mode) -> PocketSphinxStream:
        """Begin an utterance; a stream still open on this engine is abandoned (one at a time)."""
        if self._open is not None:
            self._open.abandon()
        if mode is Mode.COMMAND:
            command = self._command_decoder()
            wildcard = self._dictation_decoder if self._wildcard else None
            phones = self._phone_decoder() if self.settings.fit_floor is not None else None
            self._open = PocketSphinxStream(mode, command, self._dictation, wildcard, phones, self.settings)
        else:
            self._open = PocketSphinxStream(mode, self._dictation_decoder(), None)
        return self._open

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        """Decode a whole utterance (16 kHz 16-bit mono) in one go."""
        stream = self.start(mode)
        stream.feed(audio, whole=True)
        return stream.finish()

    def load(self, mode: Mode = Mode.COMMAND) -> None:
        """Load the decoder of `mode` now (instead of when an utterance starts); safe to run in a thread.

        The dictation decoder (the open-vocabulary language model: about 100 MB more) loads only for a dictation
        turn or a one-breath gratitude phrase, so a session of commands never holds it.
        """
        if mode is Mode.COMMAND:
            self._command_decoder()
            if self.settings.fit_floor is not None:
                self._phone_decoder()
        else:
            self._dictation_decoder()

    def settle(self) -> None:
        """Finish work set aside at the end of an utterance (a speculative dictation pass the result did not use:
        50-400 ms). Call it when nobody waits, e.g. while a reply plays; otherwise the next one-breath phrase pays."""
        with self._lock:
            if self._dictation is not None:
                _end_set_aside(self._dictation)
        trim_heap()

    def _command_decoder(self) -> Any:
        with self._lock:
            if self._command is None:
                started = time.perf_counter()
                decoder = _grammar_decoder(self.graph, self.settings, self.model_dir)
                self._graph = None  # the decoder has its own copy; the Python graph takes 30 MB
                self._wildcard = decoder.lookup_word(WILDCARD_PREFIX + PHONES[0].lower()) is not None
                self._command = decoder
                _LOGGER.debug("Loaded the PocketSphinx grammar decoder in %.2f s", time.perf_counter() - started)
            return self._command

    def _phone_decoder(self) -> Any:
        """Free phone recognition (the wheel's phone language model): what the best-fitting sounds score, as the
        yardstick for `word_fit`."""
        with self._lock:
            if self._phones is None:
                started = time.perf_counter()
                with _subset_dictionary(self.model_dir, ["a"]) as dictionary:
                    self._phones = _decoder(
                        self.model_dir,
                        dictionary=dictionary,
                        allphone=_model_file(self.model_dir, "en-us-phone.lm.bin"),
                        lw=2.0,
                        beam=1e-20,
                        pbeam=1e-20,
                        ds=self.settings.downsample,
                        topn=self.settings.top_gaussians,
                    )
                _LOGGER.debug("Loaded the PocketSphinx phone decoder in %.2f s", time.perf_counter() - started)
            return self._phones

    def _dictation_decoder(self) -> Any:
        with self._lock:
            return self._load_dictation()

    def _load_dictation(self) -> Any:
        if self._dictation is None:
            started = time.perf_counter()
            lm = _model_file(self.model_dir, "en-us.lm.bin")
            options: dict[str, Any] = {
                "lm": lm,
                "maxhmmpf": self.settings.dictation_max_hmms,
                "fwdflat": self.settings.dictation_flat_pass,
            }
            dictionary = _language_model_dictionary(self.model_dir, lm, self.cache_dir)
            decoder = None
            if dictionary is not None:
                with contextlib.suppress(ModelError):
                    decoder = _decoder(self.model_dir, dictionary=dictionary, **options)
                if decoder is None or not all(map(decoder.lookup_word, _EVERYDAY)):
                    _LOGGER.debug("The cut dictionary %s is damaged; using the full one", dictionary)
                    with contextlib.suppress(OSError):
                        Path(dictionary).unlink()
                    decoder = None
            self._dictation = decoder or _decoder(self.model_dir, **options)
            _LOGGER.debug("Loaded the PocketSphinx dictation decoder in %.2f s", time.perf_counter() - started)
        return self._dictation


class PocketSphinxStream:
    """One utterance being decoded; in COMMAND mode a dictation pass starts once a wildcard is under way."""

    def __init__(
        self,
        mode: Mode,
        decoder: Any,
        dictation: Any,
        load_dictation: Callable[[], Any] | None = None,
        phones: Any = None,
        settings: PocketSphinxSettings | None = None,
    ) -> None:
        self.mode = mode
        self._decoder = decoder
        self._phones = phones
        """The free phone decoder, fed the same audio, for the `word_fit` check (None: no check)."""
        self._settings = settings or PocketSphinxSettings()
        self._dictation = dictation
        """The dictation decoder when already loaded (a wildcard's words are then decoded while spoken)."""
        self._load_dictation = load_dictation
        """Loads it for a wildcard heard before it was loaded (the words are then decoded at the end)."""
        self._buffer: list[bytes] = []
        """Everything fed in COMMAND mode: for a wildcard's dictation pass and for the retry (`retry_ms`)."""
        self._fed_dictation = 0
        self._since_check_ms = 0.0
        self._finished = False
        self._sound = False
        self._streamed = False
        """Fed in pieces as it was spoken (not in one `whole` piece): a rejection may be retried."""
        _start(decoder)
        if phones is not None:
            # Same features for both: the phone pass starts from the command decoder's running cepstral mean.
            phones.set_cmn(decoder.get_cmn(False))
            phones.start_utt()

    def feed(self, chunk: AudioChunk, whole: bool = False) -> None:
        """Decode a 16 kHz 16-bit mono chunk (`whole`: this is the entire utterance)."""
        if self._finished:
            raise SpeechError("this utterance is finished; start a new stream")
        require_standard(chunk, "PocketSphinx", SpeechError)
        self._sound = self._sound or bool(chunk.audio.strip(b"\x00"))
        self._decoder.process_raw(chunk.audio, False, whole)
        if self._phones is not None:
            self._phones.process_raw(chunk.audio, False, whole)
        if self.mode is not Mode.COMMAND:
            return
        self._buffer.append(chunk.audio)
        self._streamed = self._streamed or not whole
        if self._dictation is None:
            return
        self._since_check_ms += chunk.milliseconds
        if self._fed_dictation == 0 and self._since_check_ms >= _SPECULATE_EVERY_MS and not whole:
            self._since_check_ms = 0.0
            partial = self._decoder.hyp()
            if partial is not None and WILDCARD_PREFIX in partial.hypstr:
                _start(self._dictation)
                self._catch_up(_CATCH_UP_BYTES)
        elif self._fed_dictation:
            self._catch_up(_CATCH_UP_BYTES)

    def pause(self, paused: bool) -> None:
        """Nothing to do: the decoder is already up to date with the audio."""

    def abandon(self) -> None:
        """Stop decoding without a result (frees the decoders for the next utterance)."""
        if not self._finished:
            self._finished = True
            self._decoder.end_utt()
            if self._phones is not None:
                self._phones.end_utt()
            if self._fed_dictation:
                _set_aside(self._dictation)

    def finish(self) -> Transcript:
        """End of utterance: the transcript ('' and confidence 0 when rejected)."""
        if self._finished:
            raise SpeechError("this utterance is finished; start a new stream")
        self._finished = True
        started = time.perf_counter()
        self._decoder.end_utt()
        if self._phones is not None:
            self._phones.end_utt()
        hyp = self._decoder.hyp()
        text = hyp.hypstr if hyp is not None else ""
        if self.mode is Mode.DICTATION:
            segments = (self._decoder.seg() or []) if self._sound else []
            scored = [(_base(s.word), min(1.0, max(0.0, float(s.prob)))) for s in segments if _is_word(s.word)]
            return Transcript(
                " ".join(w for w, _ in scored),
                _mean([p for _, p in scored]),
                self.mode,
                _ms_since(started),
                scored,
            )
        if self._fed_dictation:
            if text and GARBAGE_PREFIX not in text and WILDCARD_PREFIX in text and self._sound:
                self._catch_up()
                self._dictation.end_utt()
            else:
                # The wildcard that started the dictation pass is not in the result: ending that pass now would
                # run its second (flat) search over the whole utterance, 50-400 ms between the end of speech and
                # the intent. `settle()` ends it while the reply plays, or the next start of the decoder does.
                _set_aside(self._dictation)
        result = self._command(text, started)
        if result.text or not self._retry():
            return result
        hyp = self._decoder.hyp()
        return self._command(hyp.hypstr if hyp is not None else "", started)

    def _retry(self) -> bool:
        """Decode the streamed utterance again, whole, with its own cepstral mean (see
        `PocketSphinxSettings.retry_ms`); False when it does not qualify."""
        size = sum(map(len, self._buffer))
        if not (self._streamed and self._sound and 0 < size <= self._settings.retry_ms * _BYTES_PER_MS):
            return False
        audio = b"".join(self._buffer)
        learnt = self._decoder.get_cmn(True)  # the running mean, which this utterance moved a little
        # The cheaper phone decoder hears it whole once to learn the utterance's own mean, then both decode with it.
        learner = self._phones or self._decoder
        learner.set_cmn(learnt)
        _whole(learner, audio)
        own = own_mean(learnt, learner.get_cmn(True), len(audio) // WIDTH)
        for decoder in (self._decoder, self._phones):
            if decoder is not None:
                decoder.set_cmn(own)
                _whole(decoder, audio)
                decoder.set_cmn(learnt)  # the next utterance starts as it would have without the retry
        self._buffer, self._fed_dictation = [audio], 0  # a wildcard in the new result is dictated from scratch
        _LOGGER.debug("Retrying a rejected streamed command whole (%d ms)", size // _BYTES_PER_MS)
        return True

    def _command(self, text: str, started: float) -> Transcript:
        """The COMMAND-mode result of the decoders' last utterance, whose best path is `text`."""
        if not text or GARBAGE_PREFIX in text or not self._sound:
            _LOGGER.debug("Rejected: %r", text)
            return Transcript("", 0.0, self.mode, _ms_since(started))
        found = list(self._decoder.seg() or [])
        confidence = 1.0
        if self._phones is not None and self._settings.fit_floor is not None:
            fit = word_fit(found, list(self._phones.seg() or []), self._settings.fit_slope)
            if fit is not None:
                if fit < self._settings.fit_floor:
                    _LOGGER.debug("Rejected: %r fits the audio worse than free phones (%.1f)", text, fit)
                    return Transcript("", 0.0, self.mode, _ms_since(started))
                confidence = _fit_confidence(fit, self._settings.fit_floor)
        segments = [(s.word, s.start_frame, s.end_frame) for s in found]
        if WILDCARD_PREFIX in text:
            words = self._fill_wildcard(segments)
            if not words:
                return Transcript("", 0.0, self.mode, _ms_since(started))
        else:
            words = [w for word, _, _ in segments if _is_word(word) for w in _base(word).split(_JOIN)]
        return Transcript(" ".join(words), confidence, self.mode, _ms_since(started))

    def _catch_up(self, budget: int | None = None) -> None:
        """Feed the dictation pass what it has not heard yet: all of it, or about `budget` bytes (at least one part).

        A budget spreads the catching up over the next chunks: all at once stalled the audio loop for 200-550 ms
        (bench/latency.py 'chunk max'), which delays the endpoint of everything said meanwhile.
        """
        end, size = self._fed_dictation, 0
        while end < len(self._buffer) and (budget is None or size < budget or end == self._fed_dictation):
            self._dictation.process_raw(self._buffer[end], False, False)
            size += len(self._buffer[end])
            end += 1
        self._fed_dictation = end

    def _fill_wildcard(self, segments: list[tuple[str, int, int]]) -> list[str]:
        """Grammar words around the wildcard, and the dictation words heard during it."""
        if self._dictation is None and self._load_dictation is not None:
            self._dictation = self._load_dictation()
        if not self._fed_dictation:
            _start(self._dictation)
            self._dictation.process_raw(b"".join(self._buffer), False, True)
            self._dictation.end_utt()
            self._fed_dictation = len(self._buffer)
        wild = [(start, end) for word, start, end in segments if word.startswith(WILDCARD_PREFIX)]
        first, last = wild[0][0], wild[-1][1]
        spoken = [(s.word, (s.start_frame + s.end_frame) / 2) for s in self._dictation.seg() or [] if _is_word(s.word)]
        words: list[str] = []
        filled = False
        for word, _, _ in segments:
            if word.startswith(WILDCARD_PREFIX):
                if not filled:
                    words.extend(_base(w) for w, middle in spoken if first <= middle <= last)
                    filled = True
            elif _is_word(word):
                words.extend(_base(word).split(_JOIN))
        # Second opinion: the open-vocabulary pass must also have heard the phrase's key words ("grateful")
        # before the free part; otherwise the grammar forced other speech onto a gratitude phrase.
        before = [w for word, _, _ in segments[: segments.index(_first_wild(segments))] for w in _words(word)]
        keys = {w[:5] for w in before if len(w) >= _KEY_LETTERS}
        heard = {_base(w)[:5] for w, middle in spoken if middle < first}
        if keys and not keys & heard:
            _LOGGER.debug("Rejected a gratitude phrase the dictation pass did not hear: %r", words)
            return []
        return words


def _command_options(settings: PocketSphinxSettings) -> dict[str, Any]:
    return {
        "lm": None,
        "bestpath": False,
        # Alternative pronunciations are explicit arcs (see _grammar_decoder); letting PocketSphinx expand every
        # word into all its dictionary variants itself made `add_fsg` 5x slower (8.1 s -> 1.3 s measured).
        "fsgusealtpron": False,
        "beam": settings.beam,
        "wbeam": settings.word_beam,
        "pbeam": settings.phone_beam,
        "maxhmmpf": settings.max_hmms,
        "ds": settings.downsample,
        "topn": settings.top_gaussians,
        "fillprob": settings.filler_prob,
        "silprob": settings.silence_prob,
    }


def _add_words(decoder: Any, words: dict[str, str]) -> None:
    """Add pronunciations (base words before their numbered variants, so each variant finds its base)."""
    ordered = sorted(words.items(), key=lambda item: _variant_order(item[0]))
    for number, (word, pronunciation) in enumerate(ordered):
        decoder.add_word(word, pronunciation, number == len(ordered) - 1)


def _grammar_decoder(graph: Grammar, settings: PocketSphinxSettings, model_dir: Path | None) -> Any:
    """A decoder whose only search is the (compacted) command grammar plus garbage and wildcard loops."""
    words = set(graph.words) | set(CATCH_ALL)
    words |= {w[:-2] for w in words if w.endswith("'s")}
    with _subset_dictionary(model_dir, words) as dictionary:
        decoder = _decoder(model_dir, dictionary=dictionary, **_command_options(settings))
    new_words: dict[str, str] = {}
    for word in graph.words:
        if decoder.lookup_word(word) is None and word.endswith("'s") and decoder.lookup_word(word[:-2]):
            new_words[word] = _possessive(decoder.lookup_word(word[:-2]))
    missing = sorted(w for w in graph.words if decoder.lookup_word(w) is None and w not in new_words)
    if missing:
        raise SpeechError(
            f"no pronunciation for template word(s) {', '.join(missing[:8])}; "
            "use words from the CMU dictionary in intents/templates"
        )
    variants: dict[str, list[str]] = {}
    spellings: dict[str, list[str]] = {}
    """Dictionary words an arc label is said as: 'read' -> ['read', 'read(2)'], 'give us' -> ['give_us']."""
    for label in sorted({a.word for a in graph.arcs if a.word and a.word != WILDCARD}):
        if label in _COMMAND_SAID:
            new_words[f"{label}(9)"] = _COMMAND_SAID[label]
            spellings[label] = [f"{label}(9)"]
            continue
        parts = [variants.setdefault(w, _pronunciations(decoder, w)) for w in label.split()]
        if " " not in label and label not in new_words:
            # The dictionary's own entries ('read(2)'), in the order _pronunciations put their phones.
            names = {decoder.lookup_word(n): n for n in [label, *(f"{label}({k})" for k in range(2, 10))]}
            spellings[label] = [names[phones] for phones in parts[0][: settings.max_variants]]
            continue
        joined = label.replace(" ", _JOIN)
        spellings[label] = []
        for number, variant in enumerate(itertools.islice(_single_swaps(parts), settings.max_variants)):
            name = joined if number == 0 else f"{joined}({number + 1})"
            new_words[name] = " ".join(variant)
            spellings[label].append(name)
    for phone in PHONES:
        new_words[GARBAGE_PREFIX + phone.lower()] = phone
        new_words[WILDCARD_PREFIX + phone.lower()] = phone
    catch_all = {w: decoder.lookup_word(w) for w in CATCH_ALL if decoder.lookup_word(w) is not None}
    if settings.garbage_kind == "words":
        new_words.update((GARBAGE_PREFIX + w, phones) for w, phones in catch_all.items())
    _add_words(decoder, new_words)

    transitions: list[tuple[int, int, float] | tuple[int, int, float, str]] = []
    next_state = graph.num_states

    def phone_loop(src: int, dst: int, prefix: str, phone_prob: float, units: tuple[str, ...] = PHONES) -> None:
        nonlocal next_state
        entry, after = next_state, next_state + 1
        next_state += 2
        transitions.append((src, entry, 1.0))
        transitions.extend((entry, after, phone_prob, prefix + p.lower()) for p in units)
        transitions.extend([(after, entry, 1.0), (after, dst, 1.0)])

    for arc in graph.arcs:
        if arc.word is None:
            transitions.append((arc.src, arc.dst, 1.0))
        elif arc.word == WILDCARD:
            phone_loop(arc.src, arc.dst, WILDCARD_PREFIX, settings.wildcard_phone)
        else:
            transitions.extend((arc.src, arc.dst, 1.0, name) for name in spellings[arc.word])
    garbage, garbage_end = next_state, next_state + 1
    next_state += 2
    transitions.append((graph.start, garbage, settings.garbage_prior))
    units = PHONES if settings.garbage_kind == "phones" else tuple(w for w in CATCH_ALL if w in catch_all)
    phone_loop(garbage, garbage_end, GARBAGE_PREFIX, settings.garbage_phone, units)
    transitions.append((garbage_end, graph.final, 1.0))
    if settings.garbage_inside > 0:
        # Garbage may also take over part-way through a phrase: "i think we need <more milk>". (Handing
        # back to the grammar would need arcs into every state, which makes every frame far slower.)
        # Not from where a phrase may end: trailing noise after a whole command is not a rejection.
        complete = {a.src for a in graph.arcs if a.word is None and a.dst == graph.final}
        inner = {a.src for a in graph.arcs} - complete - {graph.start}
        transitions.extend((state, garbage, settings.garbage_inside) for state in sorted(inner))
    fsg = decoder.create_fsg("commands", graph.start, graph.final, transitions)
    decoder.add_fsg("commands", fsg)
    decoder.activate_search("commands")
    return decoder


_LOG_BASE = math.log(1.0001)
"""PocketSphinx scores are logarithms in base 1.0001; the bindings hand them over as probabilities."""


def word_fit(words: list[Any], phones: list[Any], slope: float = 1.0) -> float | None:
    """How well the grammar words of a command fit the audio, against free phone recognition of the same frames.

    Per 10 ms frame of the words (not pauses, noise or a wildcard's free speech): the words' acoustic score minus
    what the best-fitting phones scored there, minus `slope` times that phone score (a voice or room the model
    fits badly widens the gap for every phrase, commands included). Speech that is not a command is forced onto
    grammar words that fit badly ("turn on the kitchen lights" -> "turn on the date tonight"): a low value.
    Scores are PocketSphinx's (log base 1.0001, senone scores scaled down 1024 times). None when there are no words.
    """
    spans = [(p.start_frame, p.end_frame, _log_score(p.ascore)) for p in phones]
    gap = reference = 0.0
    frames = 0
    for word in words:
        if not _is_word(word.word) or word.word.startswith(WILDCARD_PREFIX):
            continue
        start, end = word.start_frame, word.end_frame
        expected = 0.0
        for first, last, score in spans:
            overlap = min(end, last) - max(start, first) + 1
            if overlap > 0:
                expected += score * overlap / (last - first + 1)
        gap += _log_score(word.ascore) - expected
        reference += expected
        frames += end - start + 1
    if not frames:
        return None
    return (gap - slope * reference) / frames


def _log_score(probability: float) -> float:
    return math.log(probability) / _LOG_BASE if probability > 0 else -1e9


def _fit_confidence(fit: float, floor: float) -> float:
    """0.5 at the floor, towards 1 for a clear fit (a logistic curve over the margin; 10 units: ~0.73)."""
    return round(1.0 / (1.0 + math.exp(-(fit - floor) / 10.0)), 3)


def _possessive(phones: str) -> str:
    """The pronunciation of "<word>'s" from the word's: IH Z after a hissing sound, S after a voiceless one."""
    last = phones.split()[-1]
    if last in ("S", "Z", "SH", "ZH", "CH", "JH"):
        return f"{phones} IH Z"
    return f"{phones} {'S' if last in ('P', 'T', 'K', 'F', 'TH') else 'Z'}"


def _pronunciations(decoder: Any, word: str) -> list[str]:
    """Every pronunciation of a dictionary word: 'read' is R EH D and, as 'read(2)', R IY D (commands are
    imperatives, so `_COMMAND_FIRST` puts R IY D first)."""
    if decoder.lookup_word(word) is None:  # a possessive added by _grammar_decoder
        return [_possessive(decoder.lookup_word(word[:-2]))]
    found = [decoder.lookup_word(word)]
    for number in range(2, 10):
        phones = decoder.lookup_word(f"{word}({number})")
        if phones is None:
            break
        found.append(phones)
    preferred = _COMMAND_FIRST.get(word)
    if preferred in found:
        found.remove(preferred)
        found.insert(0, preferred)
    return found


def _single_swaps(parts: list[list[str]]) -> Iterator[list[str]]:
    """The first pronunciation of every word, then one word at a time in its other pronunciations (a full
    product of all variants makes loading many times slower for little gain)."""
    first = [options[0] for options in parts]
    yield first
    for index, options in enumerate(parts):
        for other in options[1:]:
            yield [*first[:index], other, *first[index + 1 :]]


def _variant_order(word: str) -> tuple[int, str]:
    """Base words before their numbered variants, so each variant finds its base when added."""
    return (1 if word.endswith(")") else 0, word)


@contextlib.contextmanager
def _subset_dictionary(model_dir: Path | None, words: Collection[str]) -> Iterator[str | None]:
    """A temporary dictionary file with only `words` (and their numbered variants) from the model's.

    The command decoder needs about 1,000 of the 134,000 words: the same decoding (checked on 80 clips),
    0.3 s faster to load and 20 MB smaller. None (use the full dictionary) when no temporary file can be written.
    """
    source = Path(_model_file(model_dir, "cmudict-en-us.dict"))
    with contextlib.ExitStack() as stack:
        try:
            with source.open(encoding="utf-8") as full:
                lines = [line for line in full if _headword(line) in words]
            subset = stack.enter_context(
                tempfile.NamedTemporaryFile("w", suffix=".dict", prefix="rekindle-", encoding="utf-8")
            )
            subset.writelines(lines)
            subset.flush()
        except (OSError, UnicodeDecodeError) as err:
            _LOGGER.debug("Using the full dictionary (%s)", err)
            yield None
            return
        yield subset.name


def _language_model_dictionary(model_dir: Path | None, lm: str, cache_dir: Path | None) -> str | None:
    """The model's dictionary cut to the words of the language model `lm`, kept in `cache_dir` (None: the full one).

    The dictation search can only ever hear the language model's 72,544 words; the other 54,000 of the
    dictionary's 126,000 only cost memory: the decoder is 78 MB instead of 91 MB and loads in 0.39 s instead of
    0.50 s. Building it reads the language model once more (about 0.5 s, the first time only).
    """
    if cache_dir is None:
        return None
    source = Path(_model_file(model_dir, "cmudict-en-us.dict"))
    try:
        stamp = "\0".join(f"{p.resolve()}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in (source, Path(lm)))
        path = cache_dir / f"dictation-{hashlib.sha256(stamp.encode()).hexdigest()[:32]}.dict"
        if path.is_file():
            return str(path)
        import pocketsphinx

        model = pocketsphinx.NGramModel.readfile(lm)
        unknown = model.prob(["\x01 not a word \x01"])
        with source.open(encoding="utf-8") as full:
            lines = full.readlines()
        known: dict[str, bool] = {}
        kept = []
        for line in lines:
            word = _headword(line)
            if word not in known:
                known[word] = model.prob([word]) != unknown
            if known[word]:
                kept.append(line)
        del model
        cache_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            partial.write_text("".join(kept), encoding="utf-8")
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
        return str(path)
    except (OSError, UnicodeDecodeError, RuntimeError, ValueError) as err:
        _LOGGER.debug("Using the full dictionary for dictation (%s)", err)
        return None


def _headword(line: str) -> str:
    """The word a dictionary line pronounces, without its variant number ('read(2) R EH D' -> 'read')."""
    return line.split(" ", 1)[0].split("(", 1)[0]


def _decoder(model_dir: Path | None, dictionary: str | None = None, **options: Any) -> Any:
    try:
        import pocketsphinx
    except ImportError as err:
        raise SpeechError("PocketSphinx is not installed; pip install pocketsphinx") from err
    root = model_dir or _default_model_dir()
    hmm = root / "en-us"
    if not (hmm / "mdef").is_file():
        raise ModelError(f"no PocketSphinx acoustic model in {hmm}; reinstall pocketsphinx or fix --model-dir")
    try:
        # Dither (seeded) keeps digital silence from turning the cepstral mean into NaN.
        decoder = pocketsphinx.Decoder(
            hmm=str(hmm),
            dict=dictionary or str(_model_file(model_dir, "cmudict-en-us.dict")),
            loglevel="FATAL",
            dither=True,
            seed=1,
            **options,
        )
    except (RuntimeError, ValueError) as err:
        raise ModelError(f"PocketSphinx could not load the model in {root} ({err}); reinstall pocketsphinx") from err
    decoder.set_cmn(INITIAL_CMN)
    return decoder


def _default_model_dir() -> Path:
    import pocketsphinx

    return Path(pocketsphinx.get_model_path()) / "en-us"


def _model_file(model_dir: Path | None, name: str) -> str:
    path = (model_dir or _default_model_dir()) / name
    if not path.is_file():
        raise ModelError(f"PocketSphinx model file {path} is missing; reinstall pocketsphinx")
    return str(path)


_SET_ASIDE: set[int] = set()
"""Decoders (by id) whose utterance was set aside unfinished: `_start` ends it first."""


def _set_aside(decoder: Any) -> None:
    """Leave a speculative utterance open instead of paying for its end now (see `PocketSphinxStream.finish`)."""
    _SET_ASIDE.add(id(decoder))


def _end_set_aside(decoder: Any) -> None:
    """End the utterance `_set_aside` left open on this decoder, if any."""
    if id(decoder) in _SET_ASIDE:
        _SET_ASIDE.discard(id(decoder))
        with contextlib.suppress(RuntimeError):  # not started after all (a new decoder at a reused id)
            decoder.end_utt()


def _start(decoder: Any) -> None:
    """Start an utterance, first ending one that was set aside."""
    _end_set_aside(decoder)
    decoder.start_utt()


def own_mean(before: str, after: str, samples: int) -> str:
    """The cepstral mean of an utterance of `samples` samples alone, from PocketSphinx's running mean right after
    `set_cmn(before)` and after it decoded the utterance (`after`).

    Once a decoder has streamed, its mean is live: `set_cmn` weighs the given mean as _CMN_PRIOR_FRAMES frames, and
    every frame of the utterance adds its cepstrum (frames of zero energy aside, which dither rules out), so after
    n frames it is (prior x before + n x own) / (prior + n), whatever n (one whole pass shifts its window at most
    once, at the end, which keeps the mean).
    """
    frames = max(1, (samples - _FRAME_SAMPLES) // _FRAME_SHIFT + 1)
    prior = _CMN_PRIOR_FRAMES
    return ",".join(
        f"{((prior + frames) * float(a) - prior * float(b)) / frames:.3f}"
        for a, b in zip(after.split(","), before.split(","), strict=True)
    )


def _whole(decoder: Any, audio: bytes) -> None:
    """Decode `audio` as one whole utterance."""
    decoder.start_utt()
    decoder.process_raw(audio, False, True)
    decoder.end_utt()


def _words(word: str) -> list[str]:
    """Spoken words of one decoder word ('give_us(2)' -> ['give', 'us']; fillers -> [])."""
    return _base(word).split(_JOIN) if _is_word(word) and not word.startswith(WILDCARD_PREFIX) else []


def _first_wild(segments: list[tuple[str, int, int]]) -> tuple[str, int, int]:
    return next(s for s in segments if s[0].startswith(WILDCARD_PREFIX))


def _is_word(word: str) -> bool:
    """False for silence, noise and sentence markers ('<sil>', '[NOISE]', '<s>')."""
    return not (word.startswith(("<", "[", "+", "(")) or word.startswith(GARBAGE_PREFIX))


def _base(word: str) -> str:
    """'the(2)' -> 'the' (alternative pronunciations are numbered)."""
    return word.split("(", 1)[0]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _ms_since(started: float) -> float:
    return 1000.0 * (time.perf_counter() - started)
