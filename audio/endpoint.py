"""Endpointing: where an utterance starts and ends in a stream of audio.

A small state machine fed audio chunks of any size (it cuts them into 10 ms frames) and the
voice activity probability of each frame. It has no clock and no device: time is the audio's
own timestamps, so a file, a test and a microphone are all treated alike.

Each call returns events in order. While an utterance is under way every piece of its audio
comes out as a `SpeechAudio` event, so a streaming decoder can be fed while the person speaks;
`SpeechEnded.utterance` holds the same audio joined (pre-roll included).

A pause of `anticipate_ms` inside an utterance gives `SpeechPaused` (the person may have finished: a
recogniser that decodes whole utterances can start now instead of at the endpoint, `trailing_silence_ms` later);
speech after it gives `SpeechResumed`. An utterance that ends by silence always ends paused, so the audio after
its last `SpeechPaused` is silence.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from assistant.errors import AudioError
from audio.chunk import CHANNELS, RATE, WIDTH, AudioChunk, require_standard
from audio.vad import FRAME_BYTES, FRAME_MS, VoiceActivity, make_vad


@dataclass(frozen=True)
class EndpointSettings:
    """When speech counts as started and as finished. Every duration is in milliseconds."""

    threshold: float = 0.5
    """Voice activity probability (0..1) at or above which a 10 ms frame counts as voiced."""
    speech_start_ms: int = 60
    """Milliseconds of consecutive voiced frames that start an utterance (short words like "stop"
    must pass: SpeechRecognition's 300 ms default dropped them)."""
    trailing_silence_ms: int = 600
    """Milliseconds of unvoiced audio after speech that end the utterance. 600 ms clears the longest
    pause measured inside a synthesised sentence (440 ms, slow Piper voice at a comma, Silero VAD);
    free dictation may want ~1000 ms, since people pause longer while thinking."""
    anticipate_ms: int = 150
    """Milliseconds of unvoiced audio after speech that give `SpeechPaused` (0: never). Below
    `trailing_silence_ms`, it leaves the difference for a whole-utterance decode to finish before the endpoint."""
    max_utterance_ms: int = 15_000
    """Milliseconds after which an utterance is cut even if the person is still speaking."""
    pre_roll_ms: int = 300
    """Milliseconds of audio kept from before the first voiced frame (soft word onsets)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold <= 1.0:
            raise AudioError(f"endpoint threshold {self.threshold} is out of range; use a value in (0, 1]")
        for name in ("speech_start_ms", "trailing_silence_ms", "max_utterance_ms"):
            if getattr(self, name) < FRAME_MS:
                raise AudioError(f"endpoint {name} is {getattr(self, name)}; use at least {FRAME_MS} ms")
        if self.pre_roll_ms < 0:
            raise AudioError(f"endpoint pre_roll_ms is {self.pre_roll_ms}; use 0 or more")
        if self.anticipate_ms < 0:
            raise AudioError(f"endpoint anticipate_ms is {self.anticipate_ms}; use 0 (off) or more")


class EndReason(str, enum.Enum):
    """Why an utterance ended."""

    SILENCE = "silence"
    """Trailing silence reached `trailing_silence_ms`."""
    MAX_LENGTH = "max_length"
    """The utterance reached `max_utterance_ms` and was cut."""
    END_OF_STREAM = "end_of_stream"
    """The audio ran out (end of file) while speech was under way."""


@dataclass(frozen=True)
class SpeechStarted:
    """An utterance began."""

    timestamp: int
    """Milliseconds (stream time) of the first voiced frame."""


@dataclass(frozen=True)
class SpeechAudio:
    """The next piece of the utterance under way (the first one carries the pre-roll)."""

    chunk: AudioChunk
    """16 kHz 16-bit mono audio; its timestamp is stream time in milliseconds."""


@dataclass(frozen=True)
class SpeechPaused:
    """The person stopped speaking `anticipate_ms` ago; the utterance may be over (the audio of that pause has
    been handed out already)."""

    timestamp: int
    """Milliseconds (stream time) of the end of the frame that completed the pause."""


@dataclass(frozen=True)
class SpeechResumed:
    """Speech again after a `SpeechPaused`: the utterance goes on."""

    timestamp: int
    """Milliseconds (stream time) of the voiced frame."""


@dataclass(frozen=True)
class SpeechEnded:
    """An utterance finished."""

    utterance: AudioChunk
    """All of the utterance's audio, pre-roll and trailing silence included."""
    timestamp: int
    """Milliseconds (stream time) of the end of the last frame."""
    reason: EndReason = EndReason.SILENCE
    """Why it ended."""


Event = SpeechStarted | SpeechAudio | SpeechPaused | SpeechResumed | SpeechEnded


@dataclass
class _Utterance:
    frames: list[bytes] = field(default_factory=list)
    start_ms: int = 0
    silence_ms: int = 0
    sent: int = 0
    """Frames already handed out in SpeechAudio events."""
    paused: bool = False
    """A SpeechPaused went out and no speech has come since."""


class Endpointer:
    """The endpointing state machine for one audio stream."""

    def __init__(self, settings: EndpointSettings | None = None, vad: VoiceActivity | None = None) -> None:
        self.settings = settings or EndpointSettings()
        """The thresholds in force."""
        self._vad = vad
        self._pending = b""
        self._next_ms = 0
        self._start_frames = max(1, self.settings.speech_start_ms // FRAME_MS)
        self._history: deque[tuple[int, bytes]] = deque(
            maxlen=self.settings.pre_roll_ms // FRAME_MS + self._start_frames
        )
        self._voiced_run = 0
        self._current: _Utterance | None = None

    @property
    def in_speech(self) -> bool:
        """True while an utterance is under way."""
        return self._current is not None

    def process(self, chunk: AudioChunk) -> list[Event]:
        """Feed audio of any length; returns the events it caused, in order."""
        require_standard(chunk, "endpointing")
        if self._vad is None:
            self._vad = make_vad()
        if not self._pending:
            self._next_ms = chunk.timestamp
        data = self._pending + chunk.audio
        whole = len(data) - len(data) % FRAME_BYTES
        self._pending = data[whole:]
        events: list[Event] = []
        for offset in range(0, whole, FRAME_BYTES):
            frame = data[offset : offset + FRAME_BYTES]
            events.extend(self._step(frame, self._vad.process(frame)))
        self._emit_audio(events)
        return events

    def process_frame(self, frame: bytes, probability: float) -> list[Event]:
        """Feed one 10 ms frame with its voice activity probability (no detector involved)."""
        events = self._step(frame, probability)
        self._emit_audio(events)
        return events

    def _step(self, frame: bytes, probability: float) -> list[Event]:
        timestamp = self._next_ms
        self._next_ms += FRAME_MS
        voiced = probability >= self.settings.threshold
        events: list[Event] = []
        current = self._current
        if current is None:
            self._history.append((timestamp, frame))
            self._voiced_run = self._voiced_run + 1 if voiced else 0
            if self._voiced_run >= self._start_frames:
                first_ms = timestamp - (self._start_frames - 1) * FRAME_MS
                self._current = _Utterance(frames=[f for _, f in self._history], start_ms=self._history[0][0])
                self._history.clear()
                self._voiced_run = 0
                events.append(SpeechStarted(first_ms))
            return events
        current.frames.append(frame)
        current.silence_ms = 0 if voiced else current.silence_ms + FRAME_MS
        if voiced and current.paused:
            current.paused = False
            events.append(SpeechResumed(timestamp))
        if current.silence_ms >= self.settings.trailing_silence_ms:
            events.extend(self._end(current, EndReason.SILENCE))
        elif len(current.frames) * FRAME_MS >= self.settings.max_utterance_ms:
            events.extend(self._end(current, EndReason.MAX_LENGTH))
        elif 0 < self.settings.anticipate_ms <= current.silence_ms and not current.paused:
            current.paused = True
            self._emit_audio(events)
            events.append(SpeechPaused(timestamp + FRAME_MS))
        return events

    def flush(self) -> list[Event]:
        """End of the stream: finish an utterance under way (with any last partial frame)."""
        events: list[Event] = []
        if self._current is not None:
            if self._pending:
                self._current.frames.append(self._pending)
            events.extend(self._end(self._current, EndReason.END_OF_STREAM))
        self._pending = b""
        return events

    def reset(self) -> None:
        """Forget everything: a new stream begins (the detector is reset too)."""
        self._pending = b""
        self._history.clear()
        self._voiced_run = 0
        self._current = None
        if self._vad is not None:
            self._vad.reset()

    def _emit_audio(self, events: list[Event]) -> None:
        """Hand out the frames of the current utterance not yet sent."""
        current = self._current
        if current is not None and current.sent < len(current.frames):
            events.append(SpeechAudio(self._chunk(current, current.sent)))
            current.sent = len(current.frames)

    def _end(self, current: _Utterance, reason: EndReason) -> list[Event]:
        events: list[Event] = []
        self._emit_audio(events)
        utterance = self._chunk(current, 0)
        end_ms = current.start_ms + round(utterance.milliseconds)
        events.append(SpeechEnded(utterance, end_ms, reason))
        self._current = None
        return events

    @staticmethod
    def _chunk(current: _Utterance, first: int) -> AudioChunk:
        offset_ms = current.start_ms + first * FRAME_MS
        return AudioChunk(RATE, WIDTH, CHANNELS, b"".join(current.frames[first:]), offset_ms)


def segment(
    chunks: Iterable[AudioChunk],
    settings: EndpointSettings | None = None,
    vad: VoiceActivity | None = None,
) -> Iterator[AudioChunk]:
    """Cut a finite stream (e.g. a loaded file split into chunks) into utterances."""
    endpointer = Endpointer(settings, vad)
    for chunk in chunks:
        for event in endpointer.process(chunk):
            if isinstance(event, SpeechEnded):
                yield event.utterance
    for event in endpointer.flush():
        if isinstance(event, SpeechEnded):
            yield event.utterance
