"""Streams for engines that decode whole utterances (Moonshine, the hybrid): the audio is kept as it comes and
decoded when the person pauses, in a thread of its own, so the transcript is usually ready when the endpoint
comes (`anticipate_ms` before it, audio/endpoint.py); if they go on speaking, that decode is dropped."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from assistant.errors import SpeechError
from audio.chunk import AudioChunk, require_standard
from audio.stt import Mode, Transcript

_LOGGER = logging.getLogger(__name__)

Decode = Callable[[bytes, Mode, threading.Event | None], Transcript]
"""An engine's whole-utterance decode: (16 kHz 16-bit mono PCM, mode, stop) -> transcript; once `stop` is set it
may end early with a transcript nobody will use."""


class Ahead:
    """A decode of the audio so far, started when the person paused, in a thread of its own."""

    def __init__(self, decode: Decode, audio: bytes, mode: Mode) -> None:
        self._stop = threading.Event()
        self._done = threading.Event()
        self._result: Transcript | None = None
        self._error: Exception | None = None
        args = (decode, audio, mode)
        threading.Thread(target=self._run, args=args, name="rekindle-ahead", daemon=True).start()

    def _run(self, decode: Decode, audio: bytes, mode: Mode) -> None:
        try:
            self._result = decode(audio, mode, self._stop)
        except Exception as err:  # handed to the thread that asks for the result
            self._error = err
        finally:
            self._done.set()

    def cancel(self) -> None:
        """The person went on speaking: stop soon; the result will not be used."""
        self._stop.set()

    def result(self) -> Transcript:
        """The transcript, waiting for the decode if need be; its `decode_ms` is the time waited."""
        started = time.perf_counter()
        self._done.wait()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return replace(self._result, decode_ms=1000.0 * (time.perf_counter() - started))


class WholeStream:
    """Stream: one utterance, decoded by `decode` when the person pauses or else at the end."""

    def __init__(self, decode: Decode, mode: Mode, engine_name: str) -> None:
        self._decode = decode
        self.mode = mode
        self._engine_name = engine_name
        self._parts: list[bytes] = []
        self._ahead: Ahead | None = None
        self._finished = False

    def feed(self, chunk: AudioChunk) -> None:
        if self._finished:
            raise SpeechError("this utterance is finished; start a new stream")
        require_standard(chunk, self._engine_name, SpeechError)
        self._parts.append(chunk.audio)

    def pause(self, paused: bool) -> None:
        if self._ahead is not None:
            self._ahead.cancel()
        self._ahead = Ahead(self._decode, b"".join(self._parts), self.mode) if paused else None

    def finish(self) -> Transcript:
        if self._finished:
            raise SpeechError("this utterance is finished; start a new stream")
        self._finished = True
        if self._ahead is not None:
            transcript = self._ahead.result()
            _LOGGER.debug(
                "%s: decoded from the pause; waited %.0f ms at the end", self._engine_name, transcript.decode_ms
            )
            return transcript
        return self._decode(b"".join(self._parts), self.mode, None)
