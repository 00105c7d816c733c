"""The hands-free loop: microphone -> wake word / push-to-talk -> endpointing -> recognition -> dialog -> speaker.

Only `Listener.run` touches a device; `Listener.process` takes any iterable of audio chunks, so the whole loop
runs in tests on audio from files or the virtual ALSA microphone.
"""

from __future__ import annotations

import enum
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import click

from assistant.app import App
from assistant.cli import emit
from assistant.errors import RekindleError
from assistant.voice import spoken_turn
from audio.chunk import AudioChunk

if TYPE_CHECKING:
    from assistant.dialog import Dialog
    from audio.recognize import Heard
    from audio.stt import Mode, SpeechToText, Stream

_LOGGER = logging.getLogger(__name__)

AWAKE_TIMEOUT_MS = 6000
"""Milliseconds after a wake word (or a follow-up question) within which speech must start."""


class Attention(str, enum.Enum):
    """Whether the loop is taking commands."""

    ASLEEP = "asleep"
    """Waiting for the wake word or the Enter key."""
    AWAKE = "awake"
    """The next utterance is for Rekindle."""
    ALWAYS = "always"
    """Always-on commands: every utterance is heard, non-commands are rejected silently."""


class Listener:
    """Runs the loop; prints each turn (and speaks it unless muted)."""

    def __init__(
        self, app: App, engine: SpeechToText, dialog: Dialog, *, push_to_talk: bool = False, as_json: bool = False
    ) -> None:
        from audio.endpoint import Endpointer, EndpointSettings

        self.app, self.engine, self.dialog, self.as_json = app, engine, dialog, as_json
        settings = app.settings
        self.endpointer = Endpointer(
            EndpointSettings(
                trailing_silence_ms=settings.trailing_silence_ms, max_utterance_ms=int(settings.max_utterance_s * 1000)
            )
        )
        from audio.denoise import Denoise, LiveDenoiser

        self.denoiser = LiveDenoiser(Denoise.OFF if engine.raw_audio else Denoise(settings.noise_suppression))
        """Steady-noise suppression for the recogniser (the wake word hears the raw audio it was trained on)."""
        self.wake: Any = None
        if settings.wake_word:
            from audio.wake import make_wake_word

            self.wake = make_wake_word(settings.wake_word)
        self.push_to_talk = push_to_talk
        self._key = threading.Event()
        self._base = Attention.ASLEEP if (self.wake or push_to_talk) else Attention.ALWAYS
        self.attention = self._base
        self._awake_since = 0
        self._skip_until = 0
        self.turns = 0
        """Turns taken so far."""
        self._stream: Stream | None = None
        self._stream_mode: Mode | None = None
        self._load_error: RekindleError | None = None
        self._calibrated = not engine.whole_first
        """True once the engine has decoded a whole utterance of this microphone, where it needs one
        (`whole_first`): decoded whole, it is normalised by its own statistics (PocketSphinx's cepstral mean) and
        leaves the engine tuned to the microphone, where a first stream starts from a preset (bench/README.md)."""

    # -- device ----------------------------------------------------------------------------------------
    def run(self, device: int | None = None) -> None:
        """Listen on the microphone until Ctrl-C."""
        from audio.mic import Microphone

        if self.push_to_talk:
            threading.Thread(target=self._read_keys, daemon=True).start()
        with Microphone(device) as mic:
            load = getattr(self.engine, "load", None)
            if callable(load):
                # The recogniser loads while the microphone already listens: speech that ends before it is
                # ready waits for it (its audio is kept by the endpointer), nothing is missed.
                threading.Thread(target=self._load, args=(load,), name="rekindle-load", daemon=True).start()
            self._status()
            self.process(mic.chunks())

    def _prepare(self, mode: Mode) -> None:
        """Load the decoder the next turn needs while the reply plays (the dictation model loads on demand)."""
        from audio.stt import Mode

        load = getattr(self.engine, "load", None)
        if callable(load) and mode is not Mode.COMMAND:
            threading.Thread(target=self._load, args=(lambda: load(mode),), name="rekindle-load", daemon=True).start()

    def _settle(self) -> None:
        settle = getattr(self.engine, "settle", None)
        if callable(settle):
            settle()

    def _load(self, load: Callable[[], object]) -> None:
        started = time.perf_counter()
        try:
            load()
        except RekindleError as err:
            self._load_error = err
        else:
            _LOGGER.debug("Speech recogniser ready after %.2f s", time.perf_counter() - started)

    def _read_keys(self) -> None:
        for _line in sys.stdin:
            self._key.set()

    def _status(self) -> None:
        how = {
            Attention.ALWAYS: "say a command",
            Attention.ASLEEP: "press Enter, then speak"
            if self.push_to_talk
            else f'say "{(self.app.settings.wake_word or "").replace("_", " ")}", then a command',
        }[self._base]
        click.echo(f'Rekindle is listening: {how}. Say "help" for ideas; Ctrl-C to quit.', err=True)

    # -- the loop --------------------------------------------------------------------------------------
    def process(self, chunks: Iterable[AudioChunk]) -> None:
        """Run the loop over audio chunks (16 kHz 16-bit mono).

        Recognition streams: the engine is fed while the person speaks, so the intent is ready at the endpoint.
        """
        from audio.endpoint import SpeechAudio, SpeechEnded, SpeechPaused, SpeechResumed, SpeechStarted

        for chunk in chunks:
            if self._load_error is not None:
                raise self._load_error
            self._prompts()
            clean = self.denoiser.process(chunk)
            if chunk.timestamp < self._skip_until:
                continue  # our own voice, captured while a reply was playing
            if self.attention is Attention.ASLEEP:
                if self._woken(chunk):
                    self._wake_up(chunk.timestamp)
                continue
            for event in self.endpointer.process(clean):
                if isinstance(event, SpeechStarted) and self._calibrated:
                    self._stream_mode = self.dialog.expect
                    self._stream = self.engine.start(self._stream_mode)
                elif isinstance(event, SpeechAudio) and self._stream is not None:
                    self._stream.feed(event.chunk)
                elif isinstance(event, (SpeechPaused, SpeechResumed)) and self._stream is not None:
                    self._stream.pause(isinstance(event, SpeechPaused))  # a whole-utterance engine may start now
                elif isinstance(event, SpeechEnded):
                    self._turn(event.utterance, chunk.timestamp)
            if (
                self.attention is Attention.AWAKE
                and not self.endpointer.in_speech
                and chunk.timestamp - self._awake_since > AWAKE_TIMEOUT_MS
            ):
                self._fall_asleep()

    def _woken(self, chunk: AudioChunk) -> bool:
        if self.push_to_talk:
            if self._key.is_set():
                self._key.clear()
                return True
            return False
        return bool(self.wake is not None and self.wake.process(chunk))

    def _wake_up(self, timestamp: int) -> None:
        self.attention, self._awake_since = Attention.AWAKE, timestamp
        self.endpointer.reset()
        if not self.app.settings.mute:
            from audio.earcon import listening

            self.app.speaker().play(listening())
        _LOGGER.debug("awake at %d ms", timestamp)

    def _fall_asleep(self) -> None:
        self.attention = self._base
        if self.wake is not None:
            self.wake.reset()

    def _heard(self, utterance: AudioChunk, second_chance: bool) -> Heard | None:
        """The streamed result of the utterance that just ended (None: decode it whole instead)."""
        from audio.recognize import interpret

        stream, mode, self._stream = self._stream, self._stream_mode, None
        if stream is None:
            return None
        started = time.perf_counter()
        transcript = stream.finish()
        if mode is not self.dialog.expect:  # the dialog changed its mind while the person spoke
            return None
        return interpret(transcript, self.app.matcher, self.engine, utterance, started, second_chance)

    def _turn(self, utterance: AudioChunk, now_ms: int) -> None:
        woken = self.attention is Attention.AWAKE
        # A rejected command is dictated and read again only when someone addressed us (wake word, Enter, a
        # follow-up): always-on, most rejected speech is the room talking, and reading it again costs CPU and
        # invites false accepts.
        again = woken and self.app.settings.second_chance
        heard = self._heard(utterance, second_chance=again)
        voice_turn = spoken_turn(self.app, self.engine, self.dialog, utterance, heard=heard, second_chance=again)
        self._calibrated = True
        turn = voice_turn.turn
        if not woken and turn.intent.intent == "none" and not voice_turn.transcript:
            _LOGGER.debug("rejected an utterance of %.0f ms", utterance.milliseconds)
            self._settle()
            return  # always-on: speech that is not a command gets no answer
        self.turns += 1
        if self.as_json:
            emit({**turn.to_json(), "transcript": voice_turn.transcript, "decode_ms": round(voice_turn.decode_ms, 1)})
        else:
            click.echo(f"> {voice_turn.transcript}\n{turn.reply}")
        self._say(turn.reply, now_ms)
        self._settle()  # while the reply plays
        self._prepare(self.dialog.expect)
        if self.dialog.awaiting_answer:
            self.attention, self._awake_since = Attention.AWAKE, now_ms  # follow-up without the wake word
        else:
            self._fall_asleep()
        self.endpointer.reset()

    def _prompts(self) -> None:
        for reply in self.dialog.poll():
            emit({"event": "prompt", "reply": reply}) if self.as_json else click.echo(reply)
            self._say(reply, None)

    def _say(self, text: str, now_ms: int | None) -> None:
        if self.app.settings.mute:
            return
        audio = self.app.voice().synthesize(text)
        self.app.speaker().play(audio)
        if now_ms is not None:
            self._skip_until = now_ms + int(audio.milliseconds)
