"""Two recognisers, one answer: PocketSphinx's command grammar and Moonshine's open transcript, cross-checked.

Each is strong where the other is weak (dev half of the natural phrasings, Piper at three speeds, 861 commands
and 207 out-of-domain lines a condition, 2026-11-27):
- PocketSphinx's grammar keeps short commands ("skip", "stop") and near-misses a free transcript garbles ("help
  me plan a date night" heard by Moonshine as "help me plant a date night"), but it forces stray speech onto some
  command: 19% of the out-of-domain lines came back as commands, and in background speech it keeps 2%.
- Moonshine hears whole sentences through noise, other talkers and a room, and its words rarely match a
  template by accident (0 of 207 out-of-domain lines accepted), but it returns nothing for some one-word commands.
The rule: Moonshine's transcript, when one of the matcher's templates reads a command in it; otherwise nothing
when Moonshine is sure of a sentence (SURE); otherwise the grammar's command, when Moonshine heard at least half of
its words (for a command of one or two words: or heard one word, or is unsure); otherwise nothing, and the caller's
second chance reads Moonshine's transcript with the matcher's keyword fallback and meaning tier.
Measured on those lines: commands 830/861 clean and 804/861 in pink noise at 10 dB, against 807 and 738 for
PocketSphinx alone and 756 and 720 for Moonshine alone; out-of-domain rejected 191/207 and 195/207, against
168 and 184 for PocketSphinx alone.

PocketSphinx hears the audio with noise suppression (it was tuned on it); Moonshine hears it as recorded (noise
suppression cost it 18 points in pink noise), so the caller hands this engine raw audio (`raw_audio`).
DICTATION turns go to Moonshine alone.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from assistant.errors import SpeechError
from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk, require_standard
from audio.stt import Mode, Transcript
from audio.stt.whole import WholeStream

if TYPE_CHECKING:
    from audio.denoise import Denoise
    from audio.stt.moonshine import MoonshineEngine
    from intents.matcher import Matcher

_LOGGER = logging.getLogger(__name__)

AGREEMENT = 0.5
"""Share of the grammar transcript's distinct words Moonshine must also have heard (tuned on the dev half:
0.3 accepted 11 more out-of-domain lines clean for 3 more commands; 0.6 lost 4 commands clean, 10 in noise)."""


UNSURE = 0.6
"""Moonshine's mean word confidence below which its reading of a short command does not count against the
grammar's (its clear sentences score 0.7-1.0; its misheard single words 0.25-0.6)."""

SURE = 0.9
"""Moonshine's mean word confidence from which its reading of a sentence (SURE_WORDS or more) that no template
reads rules out the grammar's: the grammar bends such speech into a command ("set a timer for ten minutes for the
pasta" -> "set date timer for ten minutes thanks"), and the second chance still reads Moonshine's words. Chosen on
the dev clips of 2026-11-28 (0.9: 18 more out-of-domain clips refused, 6 commands put right, 6 lost to `none`;
0.8: 29 refused, 7 put right, 35 lost)."""
SURE_WORDS = 3


class HybridEngine:
    """SpeechToText: Moonshine (whole utterance) and PocketSphinx's grammar (only when Moonshine read no
    command), cross-checked.

    Both decode the whole utterance, from the moment the person pauses (`Stream.pause`) in a thread of their own,
    so the answer is usually ready at the endpoint; the grammar is not streamed. Measured in one session
    (bench/latency.py --quick, 12 commands, 10 rejected lines, 2026-11-27): streaming the grammar as well gave
    endpoint -> intent 21/27 ms (median/p90) but 657/817 ms for rejected speech (PocketSphinx's retry comes after
    the endpoint) and 0.30 s of CPU per second of speech; decoding both whole from the pause gave 6/10 ms,
    154/199 ms and 0.13 s. Whole-utterance decoding is also what `hear` and the benchmarks measure.
    """

    name = "hybrid"
    raw_audio = True
    """The caller passes audio without noise suppression; this engine denoises PocketSphinx's copy itself."""
    whole_first = False
    """Every utterance is decoded whole anyway."""

    def __init__(self, grammar: Any, moonshine: MoonshineEngine, matcher: Matcher, noise: Denoise) -> None:
        self.grammar = grammar
        """The PocketSphinx engine (commands)."""
        self.moonshine = moonshine
        self.matcher = matcher
        self.noise = noise
        """Noise suppression for the grammar's copy of the audio (the `noise_suppression` setting)."""
        self._grammar_lock = threading.Lock()
        """PocketSphinx's decoder serves one utterance at a time (decodes may overlap: one started at a pause
        the person then ended)."""
        self._last: tuple[bytes, Transcript] | None = None

    def load(self, mode: Mode = Mode.COMMAND) -> None:
        # Moonshine first: its load peaks 45 MB above where it settles, which then does not come on top of the
        # grammar's 90 MB (peak RSS after loading both: 290 MB, against 334 MB the other way round).
        self.moonshine.load()
        if mode is Mode.COMMAND:
            self.grammar.load(Mode.COMMAND)

    def settle(self) -> None:
        with self._grammar_lock:
            self.grammar.settle()

    def start(self, mode: Mode) -> WholeStream:
        return WholeStream(self.decode, mode, "the hybrid recogniser")

    def transcribe(self, audio: AudioChunk, mode: Mode) -> Transcript:
        require_standard(audio, "the hybrid recogniser", SpeechError)
        return self.decode(audio.audio, mode)

    def decode(self, audio: bytes, mode: Mode, stop: threading.Event | None = None) -> Transcript:
        """The answer for a whole utterance of 16 kHz 16-bit mono PCM: Moonshine's reading of it when a template
        reads a command there, else the grammar's transcript when Moonshine agrees (`agree`), else nothing.
        DICTATION: Moonshine's words. Cut short, to be thrown away, once `stop` is set."""
        from intents.matcher import NONE

        started = time.perf_counter()
        if mode is not Mode.COMMAND:
            if self._last is not None and self._last[0] and audio.startswith(self._last[0]):
                # The second chance of a command Moonshine already heard (up to the pause: silence after it).
                return self._last[1]
            return self.moonshine.decode(audio, mode, stop)
        nothing = Transcript("", 0.0, Mode.COMMAND)
        heard = self.moonshine.decode(audio, Mode.COMMAND, stop)
        if stop is not None and stop.is_set():
            return _replace(nothing, started)  # the person went on: nobody waits
        self._last = (audio, heard)
        # Only a template's reading counts here; the matcher's keyword fallback is the second chance's to give
        # (`recognize.interpret`), which callers turn off where stray speech is common (always-on listening).
        reading = self.matcher.match(heard.text, guess=False) if heard.text else None
        if reading is not None and reading.intent != NONE and reading.confidence >= 1.0:
            return _replace(heard, started)
        if len(heard.words) >= SURE_WORDS and heard.confidence >= SURE:
            _LOGGER.debug("Hybrid: Moonshine is sure of %r, which is no command", heard.text)
            return _replace(nothing, started)
        from audio.denoise import denoise

        with self._grammar_lock:
            if stop is not None and stop.is_set():
                return _replace(nothing, started)
            found = self.grammar.transcribe(denoise(AudioChunk(RATE, WIDTH, CHANNELS, audio), self.noise), mode)
        if found.text and agree(found.text, heard):
            return _replace(found, started)
        _LOGGER.debug("Hybrid: grammar %r, Moonshine %r: no command", found.text, heard.text)
        return _replace(nothing, started)


def agree(grammar: str, heard: Transcript) -> bool:
    """True when Moonshine's reading supports the grammar's words: at least AGREEMENT of their distinct words,
    or, for a command of one or two words, Moonshine heard one word or is unsure (UNSURE): on single words it
    often hears nothing, or something else ("pause" as "oz", "skip" as "let's get it let") at low confidence."""
    words, other = set(grammar.split()), heard.text.split()
    if len(words) <= 2 and (len(other) <= 1 or heard.confidence < UNSURE):
        return True
    return len(words & set(other)) >= AGREEMENT * len(words)


def _replace(transcript: Transcript, started: float) -> Transcript:
    elapsed = 1000.0 * (time.perf_counter() - started)
    return Transcript(transcript.text, transcript.confidence, Mode.COMMAND, elapsed, transcript.words)
