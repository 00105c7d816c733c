"""Where Rekindle keeps its files: one private data directory per user."""

from __future__ import annotations

import os
from pathlib import Path

from assistant.errors import JournalError

DIR_MODE = 0o700
"""Directories Rekindle creates are readable by the owner only."""
FILE_MODE = 0o600
"""Files Rekindle creates are readable by the owner only."""


def default_data_dir() -> Path:
    """`$REKINDLE_HOME`, else the platform's per-user data directory."""
    env = os.environ.get("REKINDLE_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("rekindle", appauthor=False))


def default_cache_dir() -> Path:
    """Where derived files that can always be rebuilt (the compiled speech grammar) are kept: $REKINDLE_CACHE_DIR,
    else the platform's user cache folder (~/.cache/rekindle). Nothing personal is ever stored there."""
    override = os.environ.get("REKINDLE_CACHE_DIR")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("rekindle", appauthor=False))


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) as an owner-only directory; tighten it if we created it."""
    try:  # exists() itself raises PermissionError when a parent cannot be searched
        if path.exists() and not path.is_dir():
            raise JournalError(f"{path} is a file, not a directory; pass --data-dir with a directory path")
        existed = path.exists()
        old_umask = os.umask(0o077)  # missing parents are made owner-only too (as the XDG base directory spec asks)
        try:
            path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        finally:
            os.umask(old_umask)
        if not existed:
            os.chmod(path, DIR_MODE)
    except PermissionError as exc:
        raise JournalError(f"cannot create data directory {path}: permission denied; pass --data-dir DIR") from exc
    except OSError as exc:
        raise JournalError(f"cannot create data directory {path}: {exc.strerror}; pass --data-dir DIR") from exc
    return path


class DataDir:
    """The layout of one data directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        """The directory itself."""

    @property
    def journal(self) -> Path:
        """The SQLite journal (gratitude entries and small state such as the starter deck)."""
        return self.root / "journal.db"

    @property
    def clips(self) -> Path:
        """Audio clips of spoken gratitude entries."""
        return self.root / "clips"

    @property
    def models(self) -> Path:
        """Downloaded speech models."""
        return self.root / "models"

    @property
    def config(self) -> Path:
        """The default configuration file."""
        return self.root / "config.toml"

    def ensure(self) -> DataDir:
        """Create the root as a private directory."""
        ensure_private_dir(self.root)
        return self
