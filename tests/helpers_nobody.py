"""Run a `rekindle` command as the unprivileged user 'nobody' (tests run as root here, and root ignores modes).

'nobody' may not start this venv's interpreter (it lives under /root), so the command runs in-process in a
forked child that dropped root (tests/privileges.py). The same command first runs once as root on a scratch copy
of the data directory, so that every module it imports lazily is already loaded: the standard library under
/root cannot be read by 'nobody' either. As an ordinary user, the command simply runs in-process.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from privileges import run_unprivileged


def cli_in_process(args: list[str], data: Path, stdin: str = "") -> dict[str, Any]:
    """Run the `rekindle` entry point in this process: {"rc", "stdout", "stderr"}."""
    from assistant.cli import main

    saved = sys.argv, sys.stdin, sys.stdout, sys.stderr
    out, err = io.StringIO(), io.StringIO()
    sys.argv = ["rekindle", "--data-dir", str(data), *args]
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()), encoding="utf-8")
    sys.stdout, sys.stderr = out, err
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.argv, sys.stdin, sys.stdout, sys.stderr = saved
    return {"rc": code, "stdout": out.getvalue(), "stderr": err.getvalue()}


def as_nobody(*args: str, data: Path, stdin: str = "", warm_up: list[str] | None = None) -> dict[str, Any]:
    """Run `rekindle --data-dir DATA ARGS` as 'nobody'; `warm_up` replaces ARGS for the root run if given
    (e.g. to read a readable file instead of the unreadable one under test)."""
    scratch = Path(tempfile.mkdtemp(prefix="rekindle-warm-"))
    try:
        copy = scratch / "data"
        if data.exists():
            shutil.copytree(data, copy)
        cli_in_process([a.replace(str(data), str(copy)) for a in (warm_up or list(args))], copy, stdin)
    finally:
        shutil.rmtree(scratch)
    result: dict[str, Any] = json.loads(run_unprivileged(lambda: json.dumps(cli_in_process(list(args), data, stdin))))
    return result
