"""The private data directory: where it is, how it is created, what lives in it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from privileges import reachable_dir, run_unprivileged

from assistant.errors import JournalError
from assistant.paths import DIR_MODE, FILE_MODE, DataDir, default_data_dir, ensure_private_dir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_modes_are_owner_only() -> None:
    assert DIR_MODE == 0o700
    assert FILE_MODE == 0o600


# -- ensure_private_dir ---------------------------------------------------------------------------------


def test_creates_an_owner_only_directory(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "data")
    assert made == tmp_path / "data"
    assert made.is_dir()
    assert mode(made) == 0o700


def test_creates_missing_parents(tmp_path: Path) -> None:
    made = ensure_private_dir(tmp_path / "a" / "b" / "data")
    assert made.is_dir()
    assert mode(made) == 0o700


def test_owner_only_even_with_an_open_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        made = ensure_private_dir(tmp_path / "data")
    finally:
        os.umask(old)
    assert mode(made) == 0o700


def test_existing_directory_is_accepted_again(tmp_path: Path) -> None:
    first = ensure_private_dir(tmp_path / "data")
    (first / "keep.txt").write_text("kept")
    assert ensure_private_dir(tmp_path / "data") == first
    assert (first / "keep.txt").read_text() == "kept"
    assert mode(first) == 0o700


def test_existing_directory_mode_is_left_to_its_owner(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o750)
    ensure_private_dir(shared)
    assert mode(shared) == 0o750


def test_a_file_in_the_way_is_refused(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    with pytest.raises(JournalError, match="is a file, not a directory; pass --data-dir") as caught:
        ensure_private_dir(tmp_path / "data")
    assert "\n" not in str(caught.value)
    assert (tmp_path / "data").read_text() == "not a directory"


def test_a_file_as_parent_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x")
    with pytest.raises(JournalError, match=r"cannot create data directory .*; pass --data-dir DIR") as caught:
        ensure_private_dir(tmp_path / "blocker" / "data")
    assert "\n" not in str(caught.value)


def try_to_ensure(path: Path) -> str:
    try:
        ensure_private_dir(path)
    except JournalError as exc:
        return f"JournalError: {exc}"
    return "created"


@pytest.mark.parametrize(
    ("parent_mode", "inner"),
    [(0o555, "data"), (0o000, "data"), (0o000, "deeper/data")],
    ids=["read-only-parent", "unsearchable-parent", "unsearchable-grandparent"],
)
def test_permission_denied_is_a_one_line_error(tmp_path: Path, parent_mode: int, inner: str) -> None:
    with reachable_dir(tmp_path) as base:
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(parent_mode)
        target = locked / inner
        try:
            result = run_unprivileged(lambda: try_to_ensure(target))
        finally:
            locked.chmod(0o700)
        assert result == f"JournalError: cannot create data directory {target}: permission denied; pass --data-dir DIR"
        assert list(locked.iterdir()) == []


# -- default location ------------------------------------------------------------------------------------


def test_rekindle_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REKINDLE_HOME", str(tmp_path / "home"))
    assert default_data_dir() == tmp_path / "home"


def test_rekindle_home_expands_tilde(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("REKINDLE_HOME", "~/rk")
    assert default_data_dir() == tmp_path / "rk"


@pytest.mark.parametrize("value", [None, ""])
def test_platform_directory_without_rekindle_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("REKINDLE_HOME", raising=False)
    else:
        monkeypatch.setenv("REKINDLE_HOME", value)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "rekindle"


def test_default_data_dir_is_not_created(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REKINDLE_HOME", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    default_data_dir()
    assert not (tmp_path / "xdg").exists()


# -- layout ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("attribute", "name"),
    [("journal", "journal.db"), ("clips", "clips"), ("models", "models"), ("config", "config.toml")],
)
def test_layout(tmp_path: Path, attribute: str, name: str) -> None:
    assert getattr(DataDir(tmp_path), attribute) == tmp_path / name


def test_layout_creates_nothing(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    assert data.journal.parent == data.root
    assert not data.root.exists()


def test_ensure_creates_a_private_root_and_returns_itself(tmp_path: Path) -> None:
    data = DataDir(tmp_path / "data")
    assert data.ensure() is data
    assert mode(data.root) == 0o700
    assert list(data.root.iterdir()) == []


def test_ensure_refuses_a_file_root(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("x")
    with pytest.raises(JournalError, match="is a file"):
        DataDir(tmp_path / "data").ensure()
