"""Make "permission denied" real in tests, also when they run as root (who may read and write anything).

As an ordinary user a test just changes modes and runs its action. As root the action runs in a forked child
that has dropped to the 'nobody' user, with the code under test already imported; the child reports back a
string. The files the child must reach have to sit under a directory 'nobody' can traverse, which pytest's own
temporary root is not: `reachable_dir` gives one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

NOBODY = 65534
"""uid and gid of 'nobody' on Debian."""


def is_root() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def reachable_dir(tmp_path: Path) -> Iterator[Path]:
    """A fresh empty directory the unprivileged action can traverse to."""
    if not is_root():
        yield tmp_path
        return
    base = Path(tempfile.mkdtemp(prefix="rekindle-test-"))
    try:
        base.chmod(0o711)
        yield base
    finally:
        shutil.rmtree(base)


def give_to_nobody(*paths: Path) -> None:
    """As root, let 'nobody' own these paths (so that their modes, not root's powers, decide); else nothing."""
    if is_root():
        for path in paths:
            os.chown(path, NOBODY, NOBODY)


def take_back(*paths: Path) -> None:
    """Undo give_to_nobody."""
    if is_root():
        for path in paths:
            os.chown(path, 0, 0)


def run_unprivileged(action: Callable[[], str]) -> str:
    """Run `action` without root's powers and return what it returns; skip when privileges cannot be dropped."""
    if not is_root():
        return action()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        result = "child did not finish"
        try:
            os.close(read_end)
            try:
                os.setgroups([])
                os.setgid(NOBODY)
                os.setuid(NOBODY)
            except OSError as exc:
                result = f"cannot drop privileges: {exc}"
            else:
                result = action()
        except BaseException as exc:
            result = f"child raised: {exc!r}"
        finally:
            os.write(write_end, result.encode())
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    result = b"".join(chunks).decode()
    if result.startswith("cannot drop privileges"):
        pytest.skip(f"running as root and {result}, so permission denied cannot be made real")
    if result.startswith("child raised: "):
        pytest.fail(result)
    return result
