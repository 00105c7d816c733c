"""The `rekindle` command: a thin layer over the library. Errors become one line and an exit code here only."""

from __future__ import annotations

import json
import logging
import math
import queue
import sys
import threading
from pathlib import Path
from typing import Any

import click

from assistant import __version__
from assistant.app import App
from assistant.errors import RekindleError

_LOGGER = logging.getLogger(__name__)


def emit(obj: Any) -> None:
    """Print one JSON object on its own line."""
    click.echo(json.dumps(obj, ensure_ascii=False))


def positive_seconds(_ctx: click.Context, _param: click.Parameter, value: float | None) -> float | None:
    """Click callback: a strictly positive number of seconds."""
    if value is not None and not 0 < value < math.inf:  # nan and inf are floats to click
        raise click.BadParameter(f"{value} is not a positive number of seconds; use e.g. 480 for 8 minutes")
    return value


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, readable=False),
    envvar="REKINDLE_HOME",
    help="Where the journal, clips and models live (default: the per-user data directory).",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(path_type=Path, readable=False),
    envvar="REKINDLE_CONFIG",
    help="A TOML settings file (default: config.toml in the data directory, if present).",
)
@click.option("--debug", is_flag=True, help="Log what each stage does on stderr.")
@click.version_option(__version__, prog_name="rekindle")
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, config_file: Path | None, debug: bool) -> None:
    """Rekindle: an offline voice companion for couples.

    Run with no command to start listening. Example: rekindle ask "give me a conversation starter"
    """
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    app = App(data_dir, config_file)
    ctx.obj = app
    ctx.call_on_close(app.close)
    if ctx.invoked_subcommand is None:
        from assistant.cli_voice import listen

        ctx.invoke(listen)


def voice_first(app: App) -> None:
    """Load the voice before the first turn unless muted: a bad voice setting must fail before an entry is saved
    (and before later lines of a piped chat are dropped), not after."""
    if not app.settings.mute:
        app.voice()


def _reply_line(turn_reply: str) -> None:
    click.echo(turn_reply)


@cli.command()
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of the reply.")
@click.option("--mute", is_flag=True, help="Print the reply without speaking it.")
@click.pass_obj
def ask(app: App, text: str, as_json: bool, mute: bool) -> None:
    """Take one turn and answer it.

    Example: rekindle ask "give me a date night idea" --mute
    """
    if not text.strip():
        raise click.BadParameter('the text is empty; say what you want, e.g. "give me a tip"', param_hint="TEXT")
    app.settings = app.settings.replace(mute=mute or app.settings.mute)
    voice_first(app)
    turn = app.dialog().handle(text)
    emit(turn.to_json()) if as_json else _reply_line(turn.reply)
    app.speak(turn.reply)


def _stdin_lines(lines: queue.Queue[str | None]) -> None:
    stream = sys.stdin
    try:
        for line in stream:
            lines.put(line.rstrip("\r\n"))
    finally:
        lines.put(None)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: turns and date-night prompts.")
@click.option("--mute", is_flag=True, help="Print replies without speaking them.")
@click.option(
    "--date-night-interval",
    type=float,
    callback=positive_seconds,
    metavar="SECONDS",
    help="Seconds between date-night prompts (default 480).",
)
@click.pass_obj
def chat(app: App, as_json: bool, mute: bool, date_night_interval: float | None) -> None:
    """Chat by typing: each line of standard input is one turn (works from a pipe).

    Example: printf 'give me a conversation starter\\nanother one\\n' | rekindle chat --mute
    """
    if isinstance(sys.stdin, __import__("io").TextIOWrapper):
        sys.stdin.reconfigure(errors="replace")
    app.settings = app.settings.replace(mute=mute or app.settings.mute, date_night_interval=date_night_interval)
    voice_first(app)
    dialog = app.dialog()
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=_stdin_lines, args=(lines,), daemon=True).start()

    def prompts() -> None:
        for reply in dialog.poll():
            emit({"event": "prompt", "reply": reply}) if as_json else _reply_line(reply)
            app.speak(reply)

    while True:
        try:
            line = lines.get(timeout=dialog.seconds_until_event())
        except queue.Empty:
            prompts()
            continue
        if line is None:
            break
        prompts()
        if not line.strip():
            continue
        turn = dialog.handle(line)
        emit(turn.to_json()) if as_json else _reply_line(turn.reply)
        app.speak(turn.reply)


@cli.command()
@click.argument("text")
@click.option(
    "-o", "--output", type=click.Path(path_type=Path, dir_okay=False), required=True, help="The WAV file to write."
)
@click.pass_obj
def say(app: App, text: str, output: Path) -> None:
    """Speak TEXT into a WAV file (pyttsx3 with espeak-ng).

    Example: rekindle say "Welcome to date night" -o welcome.wav
    """
    if not text.strip():
        raise click.BadParameter("the text is empty; give something to say", param_hint="TEXT")
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")  # bytes the terminal could not decode
    from audio.tts import save_wav

    save_wav(text, output, app.voice())
    click.echo(str(output))


def main() -> None:
    """Console entry point: exit 0 on success, 1 when an input failed, 2 on usage errors."""
    from assistant import cli_journal, cli_voice

    cli.add_command(cli_journal.journal)
    cli_journal.journal.add_command(cli_voice.retranscribe)
    for command in cli_voice.COMMANDS:
        cli.add_command(command)
    try:
        cli.main(standalone_mode=False, prog_name="rekindle")
    except click.exceptions.Abort:
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except RekindleError as exc:
        click.echo(f"rekindle: {exc}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(0)
