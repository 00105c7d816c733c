"""`rekindle journal ...`: list, export, import, delete, retranscribe."""

from __future__ import annotations

import json
from pathlib import Path

import click

from assistant.app import App
from assistant.errors import JournalError
from assistant.journal import Entry, Journal, recover_entries


@click.group()
def journal() -> None:
    """Read and manage the gratitude journal.

    Example: rekindle journal list --json
    """


def _existing_entries(app: App) -> list[Entry]:
    path = app.data.journal
    try:
        if not path.exists():
            return []
    except PermissionError as exc:  # the data directory cannot be searched
        raise JournalError(f"cannot read journal {path}: permission denied; fix its owner or permissions") from exc
    with Journal(path, readonly=True) as book:
        return book.entries()


@journal.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, newest first.")
@click.pass_obj
def list_entries(app: App, as_json: bool) -> None:
    """List entries, newest first.

    Example: rekindle journal list
    """
    entries = _existing_entries(app)
    if as_json:
        click.echo(json.dumps([e.to_dict() for e in entries], ensure_ascii=False))
        return
    if not entries:
        click.echo('The journal is empty. Try: rekindle ask "I\'m grateful that we laughed today"')
    for e in entries:
        clip = f"  [clip: {e.audio}]" if e.audio else ""
        click.echo(f"{e.id:>4}  {e.created_at}  {e.source:<5}  {e.text}{clip}")


@journal.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "csv", "markdown"]),
    default="json",
    show_default=True,
    help="Output format.",
)
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write to FILE, not stdout.")
@click.pass_obj
def export(app: App, fmt: str, output: Path | None) -> None:
    """Export every entry. Reads what it can even from a damaged journal.

    Example: rekindle journal export --format markdown -o gratitude.md
    """
    from assistant.export import dumps, write_private

    path = app.data.journal
    try:
        entries = _existing_entries(app)
    except JournalError as exc:
        entries = recover_entries(path)  # one line of its own when nothing at all can be read
        click.echo(f"rekindle: warning: {exc}; exporting what can still be read", err=True)
    text = dumps(entries, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_private(output, text)
        click.echo(f"Exported {len(entries)} entries to {output}", err=True)


@journal.command("import")
@click.argument("file", type=click.Path(path_type=Path, readable=False))
@click.pass_obj
def import_entries(app: App, file: Path) -> None:
    """Import an export (JSON, CSV or Markdown, by extension); running it twice adds nothing twice.

    Example: rekindle journal import gratitude.json
    """
    from assistant.export import guess_format, loads

    fmt = guess_format(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise JournalError(f"{file} does not exist; give the path of an export file") from exc
    except IsADirectoryError as exc:
        raise JournalError(f"{file} is a directory; give the path of an export file") from exc
    except UnicodeDecodeError as exc:
        raise JournalError(f"{file} is not UTF-8 text; give a file written by `rekindle journal export`") from exc
    except PermissionError as exc:
        raise JournalError(f"cannot read {file}: permission denied") from exc
    entries = loads(text, fmt, file.name)
    added, skipped = app.journal.import_entries(entries)
    click.echo(f"Imported {added} entries ({skipped} already present).")


@journal.command()
@click.argument("entry_id", metavar="ID", type=int)
@click.pass_obj
def delete(app: App, entry_id: int) -> None:
    """Delete one entry by id (and its audio clip).

    Example: rekindle journal delete 3
    """
    entry = app.journal.get(entry_id)
    if entry is None:
        raise JournalError(f"there is no entry {entry_id}; see `rekindle journal list` for ids")
    app.journal.delete(entry_id)
    if entry.audio:
        Path(entry.audio).unlink(missing_ok=True)
    click.echo(f"Deleted entry {entry_id}.")
