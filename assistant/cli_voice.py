"""Voice commands: hear, converse, listen, models, doctor, journal retranscribe."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from assistant.app import App
from assistant.cli import emit, positive_seconds, voice_first
from assistant.errors import RekindleError
from audio.stt.registry import engine_names

ENGINE_CHOICE = click.Choice(engine_names())
_engine_option = click.option("--engine", type=ENGINE_CHOICE, help="Speech-to-text engine (default: auto).")
_vosk_option = click.option(
    "--vosk-model",
    type=click.Path(path_type=Path, readable=False),
    envvar="REKINDLE_VOSK_MODEL",
    help="A Vosk model directory.",
)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per file.")
@_engine_option
@_vosk_option
@click.pass_obj
def hear(app: App, files: tuple[Path, ...], as_json: bool, engine: str | None, vosk_model: Path | None) -> None:
    """Recognise each audio file on its own, as a command (no dialog state).

    Example: rekindle hear --json starter.wav weather.wav
    """
    from assistant.voice import hear_file_audio, load_recording
    from audio.stt import Mode

    stt = open_engine_or_exit(app, engine, vosk_model)
    failed = 0
    for path in files:
        try:
            audio = load_recording(app, path, app.settings.max_utterance_s * 2, stt)
            heard = hear_file_audio(stt, app.matcher, audio, Mode.COMMAND, app.settings.second_chance)
        except RekindleError as exc:
            failed += 1
            if as_json:
                emit({"file": str(path), "error": str(exc)})
            click.echo(f"rekindle: {exc}", err=True)
            continue
        result: dict[str, Any] = {
            "file": str(path),
            "transcript": heard.transcript.text,
            "intent": heard.intent.intent,
            "slots": heard.intent.slots,
            "confidence": round(heard.intent.confidence, 3),
            "decode_ms": round(heard.decode_ms, 1),
        }
        if as_json:
            emit(result)
        else:
            slots = " ".join(f"{k}={v}" for k, v in heard.intent.slots.items())
            click.echo(f'{path}: "{heard.transcript.text}" -> {heard.intent.intent} {slots}'.rstrip())
    if failed:
        sys.exit(1)


def open_engine_or_exit(app: App, engine: str | None, vosk_model: Path | None) -> Any:
    """Validate the engine choice through settings, then load it."""
    from assistant.voice import open_engine

    if engine:
        app.settings = app.settings.replace(engine=engine)
    return open_engine(app, engine, vosk_model)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path, readable=False))
@click.option("--json", "as_json", is_flag=True, help="One JSON object per turn.")
@click.option(
    "--out-dir", type=click.Path(path_type=Path, file_okay=False), help="Write each spoken reply as a WAV file here."
)
@_engine_option
@_vosk_option
@click.pass_obj
def converse(
    app: App, files: tuple[Path, ...], as_json: bool, out_dir: Path | None, engine: str | None, vosk_model: Path | None
) -> None:
    """Take the files as consecutive spoken turns of one conversation.

    Example: rekindle converse --json --out-dir replies log-gratitude.wav entry.wav
    """
    from assistant.voice import load_recording, spoken_turn
    from audio.tts import save_wav

    stt = open_engine_or_exit(app, engine, vosk_model)
    if out_dir is not None:
        app.voice()  # a bad voice setting fails before the first turn, not after it
    dialog = app.dialog()
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # replies may read journal entries aloud
    failed = 0
    for number, path in enumerate(files, 1):
        try:
            audio = load_recording(app, path, app.settings.max_utterance_s * 4, stt)
            voice_turn = spoken_turn(app, stt, dialog, audio, second_chance=app.settings.second_chance)
        except RekindleError as exc:
            failed += 1
            if as_json:
                emit({"file": str(path), "error": str(exc)})
            click.echo(f"rekindle: {exc}", err=True)
            continue
        turn = voice_turn.turn
        result = {
            "file": str(path),
            **turn.to_json(),
            "transcript": voice_turn.transcript,
            "decode_ms": round(voice_turn.decode_ms, 1),
        }
        if out_dir is not None:
            reply_wav = out_dir / f"reply-{number:03d}.wav"
            save_wav(turn.reply, reply_wav, app.voice())
            result["reply_audio"] = str(reply_wav)
        if as_json:
            emit(result)
        else:
            click.echo(f"> {voice_turn.transcript}\n{turn.reply}")
    if failed:
        sys.exit(1)


@click.command()
@click.option(
    "--wake-word",
    type=click.Choice(["okay_nabu", "hey_jarvis", "hey_mycroft", "alexa"]),
    help="Wait for this wake word before each command.",
)
@click.option("--push-to-talk", is_flag=True, help="Press Enter, then speak.")
@_engine_option
@_vosk_option
@click.option("--mute", is_flag=True, help="Print replies without speaking them.")
@click.option("--json", "as_json", is_flag=True, help="Print turns and prompts as JSON lines.")
@click.option(
    "--date-night-interval",
    type=float,
    callback=positive_seconds,
    metavar="SECONDS",
    help="Seconds between date-night prompts (default 480).",
)
@click.option("--device", type=int, help="Microphone index (see `rekindle doctor`).")
@click.pass_obj
def listen(
    app: App,
    wake_word: str | None = None,
    push_to_talk: bool = False,
    engine: str | None = None,
    vosk_model: Path | None = None,
    mute: bool = False,
    as_json: bool = False,
    date_night_interval: float | None = None,
    device: int | None = None,
) -> None:
    """Listen on the microphone and answer aloud, hands-free. Ctrl-C to quit.

    Example: rekindle listen --wake-word hey_jarvis
    """
    from assistant.listen import Listener

    if wake_word and push_to_talk:
        raise click.UsageError("choose either --wake-word or --push-to-talk, not both")
    app.settings = app.settings.replace(
        mute=mute or app.settings.mute,
        date_night_interval=date_night_interval,
        wake_word=wake_word,
    )
    voice_first(app)
    stt = open_engine_or_exit(app, engine, vosk_model)
    listener = Listener(app, stt, app.dialog(), push_to_talk=push_to_talk, as_json=as_json)
    _stop_on_sigterm()
    try:
        listener.run(device)
    except KeyboardInterrupt:
        click.echo("", err=True)


def _stop_on_sigterm() -> None:
    """A service manager (systemd on a Pi) stops `listen` with SIGTERM: end as Ctrl-C does, closing the microphone
    and exiting 0, instead of dying wherever the signal lands."""
    import signal

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)


@click.group()
def models() -> None:
    """List or download optional speech models (the only command that uses the network).

    Example: rekindle models download vosk-small-en
    """


@models.command("list")
@click.pass_obj
def models_list(app: App) -> None:
    """Show known models and whether each is installed.

    Example: rekindle models list
    """
    from audio.models import list_models

    for status in list_models(app.data.root):
        state = "installed" if status.installed else "not installed"
        click.echo(f"{status.name:<16} {state:<14} {status.path}  ({status.spec.description})")


@models.command("download")
@click.argument("name")
@click.option("--url", help="Download from this mirror instead (the checksum must still match).")
@click.pass_obj
def models_download(app: App, name: str, url: str | None) -> None:
    """Download, check and unpack a model into the data directory.

    Example: rekindle models download vosk-small-en --url http://mirror.local/vosk-model-small-en-us-0.15.zip
    """
    from audio.models import download

    app.data.ensure()
    path = download(name, app.data.root, url=url, progress=sys.stderr.isatty())
    click.echo(f"Installed {name} in {path}")


@click.command()
@_vosk_option
@click.pass_obj
def doctor(app: App, vosk_model: Path | None) -> None:
    """Check microphone, speaker, voices, models and the data directory; print a fix for each problem.

    Example: rekindle doctor
    """
    from assistant.doctor import report, run_checks
    from audio.models import find_vosk_model

    explicit = vosk_model or (Path(app.settings.vosk_model) if app.settings.vosk_model else None)
    checks = run_checks(app.data.root, find_vosk_model(explicit, app.data.root))
    click.echo(report(checks))
    if not all(c.ok for c in checks):
        sys.exit(1)


@click.command()
@_engine_option
@_vosk_option
@click.pass_obj
def retranscribe(app: App, engine: str | None, vosk_model: Path | None) -> None:
    """Transcribe every voice entry again from its saved clip (e.g. after installing a better model).

    Example: rekindle journal retranscribe --engine vosk
    """
    from assistant.voice import load_recording
    from audio.stt import Mode

    stt = open_engine_or_exit(app, engine, vosk_model)
    changed = missing = 0
    for entry in app.journal.entries():
        if entry.source != "voice" or not entry.audio:
            continue
        clip = Path(entry.audio)
        if not clip.is_file():
            missing += 1
            click.echo(f"rekindle: warning: entry {entry.id}: clip {clip} is missing; kept its text", err=True)
            continue
        text = stt.transcribe(load_recording(app, clip, 600, stt), Mode.DICTATION).text.strip()
        if text and text != entry.text:
            app.journal.update_text(entry.id, text)
            changed += 1
            click.echo(f"{entry.id}: {text}")
    click.echo(f"Re-transcribed {changed} entries ({missing} clips missing).")
    if missing:
        sys.exit(1)


COMMANDS = [hear, converse, listen, models, doctor]
