"""Latency of the hands-free loop (issue 5): end of speech -> endpoint -> intent -> first sample of the reply.

Synthesised commands (Piper and espeak-ng voices) are cut into 30 ms chunks, as a microphone delivers them, and
fed through the real parts: Silero VAD + Endpointer, the default engine's Stream, the matcher, the dialog, the
voice and `aplay` on the virtual speaker (tests/alsa/vmic.conf; a thread polls the speaker's WAV file every
0.1 ms for the first sample after the header). Streaming (and through the Listener), chunks come in real time,
as the microphone hands them over (`common.paced`), so a decode started when the person pauses has the time it
would have live; batch decoding takes them as fast as the code does. Audio-time figures (end of speech -> endpoint) come from the stream's timestamps, wall-time figures from
time.perf_counter / time.monotonic.

    .venv/bin/python bench/latency.py            # 12 commands x 4 voices, both reply voices (~2-3 min)
    .venv/bin/python bench/latency.py --quick    # 6 commands x 2 voices, default reply voice only

Printed: machine details; (a) end of speech -> endpoint per trailing-silence setting, with utterances cut short
by a pause inside them; (b) endpoint -> intent ready, decoding after the endpoint ("batch", what a
non-streaming loop does) against decoding while the audio arrives ("streaming"), in the same run; the loop's
work per 30 ms chunk; (c) endpoint -> first reply sample through `Listener.process` (whatever
assistant/listen.py does now), split into recognition, dialog, synthesis and player start; (d) real-time
factors (CPU seconds per second of audio) of command and dictation decoding and of the voice activity detector;
(e) endpoint -> intent for speech the grammar rejects, with and without the second chance (audio/recognize.py).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    COMMANDS,
    DICTATION,
    QUICK_VOICES,
    REJECTED,
    VOICES,
    Clip,
    Voice,
    alsa_env,
    clip,
    load_engine,
    median,
    mic_chunks,
    p90,
    paced,
    print_machine,
    synthesizer,
    table,
)

CHUNK_MS = 30
"""Milliseconds of audio per microphone chunk (audio/mic.py's default)."""
TRAILING_SWEEP = (200, 300, 400, 500, 600, 800)
"""Trailing-silence settings (ms) tried in (a)."""


# -- (a) endpointing ------------------------------------------------------------------------------------------
@dataclass
class SweepRow:
    trailing_ms: int
    delays: list[float] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)


def vad_frames(clips: Sequence[Clip]) -> tuple[list[list[tuple[bytes, float]]], float, float]:
    """Every clip as (10 ms frame, speech probability) pairs; also the detector's CPU seconds and audio seconds."""
    from audio.vad import FRAME_BYTES, make_vad

    vad = make_vad()
    out, cpu, audio_s = [], 0.0, 0.0
    for c in clips:
        vad.reset()
        data = c.audio.audio
        frames = [data[i : i + FRAME_BYTES] for i in range(0, len(data) - FRAME_BYTES + 1, FRAME_BYTES)]
        started = time.process_time()
        out.append([(f, vad.process(f)) for f in frames])
        cpu += time.process_time() - started
        audio_s += c.audio.milliseconds / 1000
    return out, cpu, audio_s


def sweep(clips: Sequence[Clip], framed: list[list[tuple[bytes, float]]], settings: Sequence[int]) -> list[SweepRow]:
    """Endpoint each clip at each trailing-silence setting (same VAD probabilities for all)."""
    from audio.endpoint import Endpointer, EndpointSettings, SpeechEnded

    rows = []
    for trailing in settings:
        row = SweepRow(trailing)
        for c, frames in zip(clips, framed, strict=True):
            endpointer = Endpointer(EndpointSettings(trailing_silence_ms=trailing))
            ends = [e for f, p in frames for e in endpointer.process_frame(f, p) if isinstance(e, SpeechEnded)]
            if not ends:
                row.missed.append(c.label)
            elif len(ends) > 1 or ends[0].timestamp < c.speech_end_ms:
                row.cut.append(c.label)
            else:
                row.delays.append(ends[0].timestamp - c.speech_end_ms)
        rows.append(row)
    return rows


def longest_pause(frames: list[tuple[bytes, float]], threshold: float = 0.5) -> int:
    """Milliseconds of the longest unvoiced run between the first and last voiced frame."""
    voiced = [p >= threshold for _, p in frames]
    if True not in voiced:
        return 0
    first, last = voiced.index(True), len(voiced) - 1 - voiced[::-1].index(True)
    best = run = 0
    for v in voiced[first : last + 1]:
        run = 0 if v else run + 1
        best = max(best, run)
    return 10 * best


# -- (b) endpoint -> intent, batch vs streaming ---------------------------------------------------------------
@dataclass
class Decoded:
    label: str
    expected: str
    intent: str = ""
    endpoint_audio_ms: float = float("nan")
    """Audio time from the end of speech to the end of the chunk that brought the endpoint."""
    to_intent_ms: float = float("nan")
    """Wall time from the endpointer returning SpeechEnded to the Heard being ready."""
    decode_cpu_s: float = 0.0
    """CPU seconds of the process for this clip, all threads, but for the voice activity detector's (feeds,
    decodes started at pauses, finish, interpret)."""
    utterance_s: float = 0.0
    chunk_ms: list[float] = field(default_factory=list)
    """Wall milliseconds of the loop's work per chunk while speech was under way (VAD + endpointer + feed)."""


def decode_clip(
    engine: Any, matcher: Any, endpointer: Any, c: Clip, expected: str, streaming: bool, second_chance: bool = True
) -> Decoded:
    """Feed one clip chunk by chunk; at SpeechEnded finish (streaming) or decode the whole utterance (batch).
    Streaming, chunks come in real time (`paced`), so a decode started at a pause has the time it has live."""
    from audio.endpoint import SpeechAudio, SpeechEnded, SpeechPaused, SpeechResumed, SpeechStarted
    from audio.recognize import interpret, recognize_utterance
    from audio.stt import Mode

    result = Decoded(c.label, expected)
    endpointer.reset()
    stream = None
    chunks = mic_chunks(c.audio, CHUNK_MS)
    cpu_started, endpointer_cpu = time.process_time(), 0.0
    for chunk in paced(chunks) if streaming else chunks:
        began, cpu = time.perf_counter(), time.thread_time()
        events = endpointer.process(chunk)
        endpointer_cpu += time.thread_time() - cpu  # this thread's only: a decode may run beside it
        after_endpointer = time.perf_counter()
        ended = False
        for event in events:
            if isinstance(event, SpeechStarted) and streaming:
                stream = engine.start(Mode.COMMAND)
            elif isinstance(event, SpeechAudio) and stream is not None:
                stream.feed(event.chunk)
            elif isinstance(event, (SpeechPaused, SpeechResumed)) and stream is not None:
                stream.pause(isinstance(event, SpeechPaused))
            elif isinstance(event, SpeechEnded):
                if stream is not None:
                    heard = interpret(
                        stream.finish(), matcher, engine, event.utterance, after_endpointer, second_chance
                    )
                    stream = None
                else:
                    heard = recognize_utterance(engine, matcher, event.utterance, Mode.COMMAND, second_chance)
                done = time.perf_counter()
                if not result.intent:  # the first utterance is the command; a later one would be a split
                    result.intent = heard.intent.intent
                    result.to_intent_ms = 1000 * (done - after_endpointer)
                    result.endpoint_audio_ms = chunk.timestamp + chunk.milliseconds - c.speech_end_ms
                    result.utterance_s = event.utterance.milliseconds / 1000
                ended = True
        if not ended and any(isinstance(e, SpeechAudio) for e in events):
            result.chunk_ms.append(1000 * (time.perf_counter() - began))
    if not result.intent:
        result.intent = "(no endpoint)"
    # All the process's CPU but the voice activity detector's: a decode run in a thread of its own counts too.
    result.decode_cpu_s = time.process_time() - cpu_started - endpointer_cpu
    settle = getattr(engine, "settle", None)
    if callable(settle):
        settle()  # as `listen` does after each turn, while the reply plays
    return result


def run_decoding(
    engine: Any, matcher: Any, clips: Sequence[Clip], expected: Sequence[str], trailing_ms: int
) -> dict[str, list[Decoded]]:
    """Three passes over all clips: batch, streaming (as in a session), streaming from a cold start each time.

    Separate passes, not interleaved per clip: PocketSphinx carries its live cepstral mean (CMN) from one
    utterance to the next, so a stream right after a whole decode of the same clip would start from that clip's
    own mean and look better than it is. 'cold start' resets the command decoder's CMN to its value after loading
    before every clip: what the first streamed utterance of a session gets.
    """
    from audio.endpoint import Endpointer, EndpointSettings

    endpointer = Endpointer(EndpointSettings(trailing_silence_ms=trailing_ms))
    decoder = getattr(engine, "_command", None)  # PocketSphinx only (private: a benchmark may peek)
    initial_cmn = decoder.get_cmn(False) if hasattr(decoder, "get_cmn") else None
    decode_clip(engine, matcher, endpointer, clips[-1], expected[-1], True)  # warm-up (first-touch costs)
    runs: dict[str, list[Decoded]] = {"batch": [], "streaming": [], "streaming, cold start": []}
    for streaming, name in ((False, "batch"), (True, "streaming"), (True, "streaming, cold start")):
        if name.endswith("cold start") and initial_cmn is None:
            continue
        for c, want in zip(clips, expected, strict=True):
            if name.endswith("cold start"):
                decoder.set_cmn(initial_cmn)
            runs[name].append(decode_clip(engine, matcher, endpointer, c, want, streaming))
    return {name: results for name, results in runs.items() if results}


# -- (c) through Listener.process, to the first sample on the virtual speaker ----------------------------------
@dataclass
class Reply:
    label: str
    expected: str
    intent: str = ""
    marks: dict[str, float] = field(default_factory=dict)
    """time.monotonic() of: endpoint, intent, reply (dialog done), tts (synthesis done), play (player called),
    first (first byte at the speaker)."""

    def span(self, a: str, b: str) -> float:
        if a in self.marks and b in self.marks:
            return 1000 * (self.marks[b] - self.marks[a])
        return float("nan")


def run_listener(engine: Any, clips: Sequence[Clip], expected: Sequence[str], voice: str, tmp: Path) -> list[Reply]:
    """Each clip through a real Listener (fresh dialog each time) with the reply played by aplay."""
    from assistant.app import App
    from assistant.listen import Listener
    from audio.endpoint import SpeechEnded

    app = App(tmp / f"data-{voice or 'default'}", None)
    app.settings = app.settings.replace(mute=False, voice=voice)
    listener = Listener(app, engine, app.dialog())
    tts, speaker = app.voice(), app.speaker()
    tts.synthesize("Warming up.")  # loads Piper's model; espeak-ng is already running
    current: Reply = Reply("", "")

    def hook(obj: Any, name: str, before: str | None, after: str | None, check: Any = None) -> None:
        original = getattr(obj, name)

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if before and before not in current.marks:
                current.marks[before] = time.monotonic()
            value = original(*args, **kwargs)
            if after and after not in current.marks and (check is None or check(value)):
                current.marks[after] = time.monotonic()
            return value

        setattr(obj, name, wrapped)

    hook(listener.endpointer, "process", None, "endpoint", lambda ev: any(isinstance(e, SpeechEnded) for e in ev))
    hook(tts, "synthesize", None, "tts")
    play = speaker.play

    def watched_play(audio: Any) -> Any:
        """Play, while a thread notes when the first sample (after the 44-byte WAV header) lands in the file."""
        current.marks.setdefault("play", time.monotonic())
        stop = threading.Event()
        watcher = threading.Thread(target=_watch, args=(Path(os.environ["VSPK_FILE"]), stop, current.marks))
        watcher.start()
        try:
            return play(audio)
        finally:
            stop.set()
            watcher.join()

    speaker.play = watched_play  # type: ignore[method-assign]
    replies = []
    offset = 0
    for n, (c, want) in enumerate(zip(clips, expected, strict=True)):
        current = Reply(c.label, want)
        dialog = app.dialog()
        handle = dialog.handle

        def handled(*args: Any, _handle: Any = handle, _reply: Reply = current, **kwargs: Any) -> Any:
            _reply.marks.setdefault("intent", time.monotonic())
            turn = _handle(*args, **kwargs)
            _reply.marks.setdefault("reply", time.monotonic())
            _reply.intent = _reply.intent or turn.intent.intent
            return turn

        dialog.handle = handled  # type: ignore[method-assign]
        listener.dialog = dialog
        spk = tmp / f"speaker-{voice or 'default'}-{n}.wav"
        os.environ["VSPK_FILE"] = str(spk)
        with contextlib.redirect_stdout(io.StringIO()):
            listener.process(paced(mic_chunks(c.audio, CHUNK_MS, offset)))
        offset += int(c.audio.milliseconds) + 120_000  # past the reply (the loop skips its own voice)
        current.intent = current.intent or "(no turn)"
        replies.append(current)
    app.close()
    return replies


def _watch(path: Path, stop: threading.Event, marks: dict[str, float]) -> None:
    while "first" not in marks:
        try:
            if path.stat().st_size > 44:
                marks["first"] = time.monotonic()
                return
        except FileNotFoundError:
            pass
        if stop.is_set():
            return
        time.sleep(0.0001)


# -- (d) real-time factors ------------------------------------------------------------------------------------
def dictation_rtf(engine: Any, synth: Any, voices: Sequence[Any]) -> tuple[list[float], list[float], list[str]]:
    """CPU/audio of whole-utterance and streamed dictation decoding; and what was heard."""
    from audio.stt import Mode

    whole, streamed, heard = [], [], []
    for voice in voices:
        for n, text in enumerate(DICTATION):
            c = clip(synth, text, voice, trail_s=0.6, seed=n)
            seconds = c.audio.milliseconds / 1000
            cpu = time.process_time()
            transcript = engine.transcribe(c.audio, Mode.DICTATION)
            whole.append((time.process_time() - cpu) / seconds)
            stream = engine.start(Mode.DICTATION)
            cpu = time.process_time()
            for chunk in mic_chunks(c.audio, CHUNK_MS):
                stream.feed(chunk)
            stream.finish()
            streamed.append((time.process_time() - cpu) / seconds)
            heard.append(f"{voice.label}: {transcript.text!r} (said {text!r})")
    return whole, streamed, heard


# -- report ---------------------------------------------------------------------------------------------------
CHUNK_HEADERS = ("chunk median ms", "chunk p90 ms", "chunk max ms")


def _stats(values: Sequence[float]) -> tuple[float, float, float]:
    return median(values), p90(values), max(values) if values else float("nan")


def _mark(value: float, target: float) -> str:
    return "yes" if value <= target else "NO"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="6 commands x 2 voices, default reply voice only")
    parser.add_argument("--no-piper-reply", action="store_true", help="skip the Piper reply voice in (c)")
    parser.add_argument("--show", action="store_true", help="list every utterance with its figures")
    parser.add_argument("--engine", default="auto", help="recogniser: auto (the default engine), pocketsphinx, hybrid")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="rekindle-latency-"))
    os.environ.update(alsa_env(speaker=str(tmp / "speaker.wav")))  # before anything starts aplay
    print_machine("Rekindle latency benchmark (bench/latency.py)")

    from assistant.config import Settings

    trailing = Settings().trailing_silence_ms
    voices = QUICK_VOICES if args.quick else VOICES
    commands = COMMANDS[::2] if args.quick else COMMANDS
    synth = synthesizer()
    clips, expected = [], []
    for v in voices:
        for n, command in enumerate(commands):
            clips.append(clip(synth, command.text, v, seed=n))
            expected.append(command.intent)
    speech_s = sum(c.speech_ms for c in clips) / 1000
    print(f"{len(clips)} utterances ({len(commands)} commands x {len(voices)} voices, {speech_s:.0f} s of speech), ")
    print(f"{CHUNK_MS} ms chunks, default trailing silence {trailing} ms.\n")

    engine, matcher, load_s = load_engine(name=args.engine)
    print(f"engine: {args.engine} -> {engine.name}")
    print(f"Engine load (matcher + grammar + both decoders): {load_s:.2f} s\n")

    # (a)
    slow = Voice("piper", "joe", 0.8)
    extra = [clip(synth, text, v, seed=n) for v in (*voices, slow) for n, text in enumerate(DICTATION)]
    extra += [clip(synth, c.text, slow, seed=n) for n, c in enumerate(commands)]
    endpointed = [*clips, *extra]
    framed, vad_cpu, vad_audio = vad_frames(endpointed)
    rows = sweep(endpointed, framed, TRAILING_SWEEP)
    pauses = [longest_pause(f) for f in framed]
    print("## (a) End of speech -> endpoint (audio time, 10 ms frames, Silero VAD)\n")
    print(f"The commands plus {len(DICTATION)} dictation sentences per voice and the commands by {slow.label}.\n")
    print(
        table(
            ["trailing silence ms", "median ms", "p90 ms", "cut short", "missed"],
            [
                [
                    f"{r.trailing_ms}{' (default)' if r.trailing_ms == trailing else ''}",
                    median(r.delays),
                    p90(r.delays),
                    f"{len(r.cut)}/{len(endpointed)}",
                    f"{len(r.missed)}/{len(endpointed)}",
                ]
                for r in rows
            ],
        )
    )
    worst = max(range(len(endpointed)), key=lambda i: pauses[i])
    print(f"\nLongest pause inside an utterance: {pauses[worst]} ms ({endpointed[worst].label}); ")
    print(f"median longest pause {median(pauses):.0f} ms. 'cut short': endpointed inside the utterance.")
    for r in rows:
        for label in r.cut[:3]:
            print(f"  cut at {r.trailing_ms} ms: {label}")
    print()

    # (b)
    runs = run_decoding(engine, matcher, clips, expected, trailing)
    print("## (b) Endpoint -> intent ready (wall time after the endpointer returned SpeechEnded)\n")
    brows = []
    for name, results in runs.items():
        ms = [r.to_intent_ms for r in results if r.to_intent_ms == r.to_intent_ms]
        right = sum(r.intent == r.expected for r in results)
        per_chunk = [x for r in results for x in r.chunk_ms]
        brows.append([name, median(ms), p90(ms), max(ms), f"{right}/{len(results)}", *_stats(per_chunk)])
    print(
        table(
            ["decoding", "median ms", "p90 ms", "max ms", "intent right", *CHUNK_HEADERS],
            brows,
        )
    )
    gratitude = [r for r in runs["streaming"] if "grateful that" in r.label]
    if gratitude:
        spans = [r.to_intent_ms for r in gratitude]
        print(
            f"\nOne-breath gratitude (wildcard + dictation), streaming: median {median(spans):.1f} ms, max {max(spans):.1f}"
        )
        plain = [r.to_intent_ms for r in runs["streaming"] if r not in gratitude and r.to_intent_ms == r.to_intent_ms]
        print(
            f"Every other command, streaming: median {median(plain):.1f} ms, p90 {p90(plain):.1f}, max {max(plain):.1f}"
        )
    print(f"'chunk work': VAD + endpointer + stream.feed per {CHUNK_MS} ms chunk while speech is under way.\n")
    if args.show:
        for b, s in zip(runs["batch"], runs["streaming"], strict=True):
            print(
                f"  {s.label[:64]:<64} batch {b.to_intent_ms:6.1f} ms -> {b.intent:<20}"
                f" streaming {s.to_intent_ms:5.1f} ms -> {s.intent}"
            )
        print()

    # (c)
    reply_voices = [""] if args.quick or args.no_piper_reply else ["", "piper"]
    print("## (c) Endpoint -> first sample of the spoken reply (through Listener.process and aplay)\n")
    crows = []
    firsts = []
    for voice in reply_voices:
        session = run_listener(engine, clips, expected, voice, tmp)
        firsts.append((voice, session[0]))
        replies = session[1:]  # the first utterance of a session is decoded whole (see assistant/listen.py)
        spans = {
            "endpoint -> intent": [r.span("endpoint", "intent") for r in replies],
            "dialog": [r.span("intent", "reply") for r in replies],
            "reply -> synthesised": [r.span("reply", "tts") for r in replies],
            "synthesised -> first sample": [r.span("tts", "first") for r in replies],
            "endpoint -> first sample": [r.span("endpoint", "first") for r in replies],
        }
        for name, values in spans.items():
            ok = [v for v in values if v == v]
            crows.append([voice or "espeak-ng (default)", name, median(ok), p90(ok), max(ok) if ok else float("nan")])
    print(table(["reply voice", "stage", "median ms", "p90 ms", "max ms"], crows))
    print(f"\nOver utterances 2-{len(clips)} of a session (a Listener fed them one after another, fresh dialog each).")
    for voice, r in firsts:
        print(
            f"First utterance of the session ({voice or 'espeak-ng'} reply): endpoint -> intent"
            f" {r.span('endpoint', 'intent'):.0f} ms, -> first sample {r.span('endpoint', 'first'):.0f} ms."
        )
    silent = sum(r.intent == "none" for r in runs["streaming"])
    print(f"Utterances heard as `none` get no reply (always-on mode), so no first sample: {silent} here.\n")

    # (d)
    stream_rtf = [r.decode_cpu_s / r.utterance_s for r in runs["streaming"] if r.utterance_s]
    batch_rtf = [r.decode_cpu_s / r.utterance_s for r in runs["batch"] if r.utterance_s]
    whole, streamed, heard = dictation_rtf(engine, synth, voices)
    print("## (d) Real-time factors (CPU seconds per second of audio)\n")
    print(
        table(
            ["what", "median", "p90", "target"],
            [
                ["command decoding, streamed (engine + matcher)", median(stream_rtf), p90(stream_rtf), "0.03"],
                ["command decoding, whole utterance", median(batch_rtf), p90(batch_rtf), "0.03"],
                ["dictation decoding, whole utterance", median(whole), p90(whole), "0.3"],
                ["dictation decoding, streamed", median(streamed), p90(streamed), "0.3"],
                ["voice activity (Silero), all audio", vad_cpu / vad_audio, float("nan"), "-"],
            ],
        )
    )
    if args.show:
        print("\n".join(f"  {h}" for h in heard))
    print()

    # (e)
    print("## (e) Rejected speech: endpoint -> intent with and without the second chance (streaming)\n")
    from audio.endpoint import Endpointer, EndpointSettings

    rejected = [(clip(synth, c.text, v, seed=n), c.intent) for v in voices for n, c in enumerate(REJECTED)]
    endpointer = Endpointer(EndpointSettings(trailing_silence_ms=trailing))
    erows = []
    for again in (False, True):
        done = [decode_clip(engine, matcher, endpointer, c, want, True, again) for c, want in rejected]
        right = sum(d.intent == want for d, (_, want) in zip(done, rejected, strict=True))
        ms = [d.to_intent_ms for d in done]
        erows.append(["on" if again else "off", f"{right}/{len(done)}", median(ms), p90(ms), max(ms)])
        if args.show:
            print("\n".join(f"  {d.label}: {d.intent} ({d.to_intent_ms:.0f} ms)" for d in done))
    print(table(["second chance", "intent right", "median ms", "p90 ms", "max ms"], erows))
    print(
        f"\n{len(REJECTED)} lines x {len(voices)} voices: requests no template holds and lines for no command. "
        "The dictation model was loaded by (d).\n"
    )

    # summary
    stream_ms = [r.to_intent_ms for r in runs["streaming"]]
    first = [r for r in crows if r[0].startswith("espeak") and r[1] == "endpoint -> first sample"]
    default_delay = next(r for r in rows if r.trailing_ms == trailing)
    print("## Summary against the issue-5 targets\n")
    print(
        table(
            ["target", "measured (median / p90)", "limit", "met"],
            [
                [
                    f"end of speech -> endpoint ({trailing} ms trailing silence)",
                    f"{median(default_delay.delays):.0f} / {p90(default_delay.delays):.0f} ms",
                    "-",
                    "-",
                ],
                [
                    "endpoint -> intent (streaming)",
                    f"{median(stream_ms):.1f} / {p90(stream_ms):.1f} ms",
                    "50 ms",
                    _mark(p90(stream_ms), 50),
                ],
                [
                    "endpoint -> first reply sample (espeak-ng voice)",
                    f"{first[0][2]:.0f} / {first[0][3]:.0f} ms" if first else "-",
                    "300 ms",
                    _mark(first[0][3], 300) if first else "-",
                ],
                [
                    "command RTF (streamed)",
                    f"{median(stream_rtf):.4f} / {p90(stream_rtf):.4f}",
                    "0.03",
                    _mark(p90(stream_rtf), 0.03),
                ],
                ["dictation RTF", f"{median(whole):.3f} / {p90(whole):.3f}", "0.3", _mark(p90(whole), 0.3)],
            ],
        )
    )


if __name__ == "__main__":
    main()
