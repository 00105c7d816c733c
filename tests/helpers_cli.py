"""Run the `rekindle` console script as a separate process, the way a person at a terminal or a pipe does."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

REKINDLE = Path(sys.executable).with_name("rekindle")
"""The console script installed next to the interpreter running the tests (the project's venv)."""
if not REKINDLE.exists():  # pragma: no cover - a system-wide install
    REKINDLE = Path(shutil.which("rekindle") or "rekindle")

TIMEOUT = 60.0
"""Seconds any one command may take before the test fails instead of hanging."""


def clean_env(**extra: str) -> dict[str, str]:
    """The test's environment without Rekindle's own variables (so a developer's setup cannot leak in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REKINDLE_")}
    env.update(extra)
    return env


def rekindle(
    *args: str | Path,
    data_dir: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `rekindle [--data-dir DIR] ARGS...` to completion; stdout and stderr are captured as text."""
    command = [str(REKINDLE)]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    command += [str(a) for a in args]
    return subprocess.run(
        command,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env if env is not None else clean_env(),
        timeout=TIMEOUT,
        check=False,
    )


def ctrl_c_as_in_a_terminal() -> None:
    """Popen `preexec_fn` for a child the test will Ctrl-C: a test run started in the background (`pytest &`,
    nohup) ignores SIGINT, children inherit that, and Python then never raises KeyboardInterrupt in them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def popen(*args: str | Path, data_dir: Path) -> subprocess.Popen[str]:
    """Start `rekindle --data-dir DIR ARGS...` with stdin held open for the test to write to."""
    return subprocess.Popen(
        [str(REKINDLE), "--data-dir", str(data_dir), *(str(a) for a in args)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        encoding="utf-8",
        env=clean_env(),
        preexec_fn=ctrl_c_as_in_a_terminal,
    )


def json_lines(stdout: str) -> list[dict[str, Any]]:
    """Each line of `chat --json` output as an object (fails the test on a line that is not one JSON object)."""
    objects = []
    for line in stdout.splitlines():
        value = json.loads(line)
        assert isinstance(value, dict), line
        objects.append(value)
    return objects


def one_error_line(stderr: str) -> str:
    """The single line a failed command printed on stderr (asserts there is exactly one and no traceback)."""
    lines = stderr.strip().splitlines()
    assert "Traceback" not in stderr, stderr
    assert len(lines) == 1, stderr
    return lines[0]


class LineReader:
    """Reads a running process's stdout on a thread, so a test can wait for the next line with a deadline."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(process.stdout,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def next(self, timeout: float = TIMEOUT) -> str | None:
        """The next line, or None at the end of output; fails the test after `timeout` seconds."""
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s") from None

    def rest(self, timeout: float = TIMEOUT) -> list[str]:
        """Every remaining line up to the end of output."""
        lines = []
        while (line := self.next(timeout)) is not None:
            lines.append(line)
        return lines
