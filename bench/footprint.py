"""Footprint of the `rekindle` command (issue 5): peak memory of `listen`, cold starts, and what imports cost.

    .venv/bin/python bench/footprint.py            # 5 timed runs of each cold start, 3 listen sessions (~2 min)
    .venv/bin/python bench/footprint.py --quick    # 3 runs, 1 listen session

Printed, after the machine's details:
- `rekindle ask TEXT --mute`: wall time of the whole process (median and p90 of the runs after one untimed
  warm-up), and its peak RSS; once for a request a template reads, once for one only the meaning tier reads.
- `rekindle listen` on the virtual microphone (tests/alsa/vmic.conf; replies spoken to the virtual speaker, the
  default engine): time to the "Rekindle is listening" line (the engine is loaded before it is printed), time to
  the first reply, and the process's peak RSS (VmHWM from /proc just before Ctrl-C, and ru_maxrss from wait4) after
  it answered a few spoken commands.
- `python -X importtime` of both commands: the heaviest top-level imports (cumulative) and the heaviest single
  modules (self time).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    COMMANDS,
    PIPER,
    REKINDLE,
    alsa_env,
    median,
    p90,
    print_machine,
    quiet,
    synthesizer,
    table,
)

ASK_TEXT = "give me a date night idea"
ASK_BY_MEANING = "we feel like flatmates passing each other in the hallway"
"""A request no template or keyword rule reads: the meaning tier loads and answers it (a test line)."""
READY = "Rekindle is listening"
LOADED = "Speech recogniser ready after"
SPOKEN = (COMMANDS[0], COMMANDS[2], COMMANDS[7])
"""Commands said to `rekindle listen`: a starter, advice, the journal."""
GAP_S = 20.0
"""Seconds of quiet after each command: longer than any spoken reply, which the loop does not listen through."""


def _env(data: Path, **alsa: Path | str | None) -> dict[str, str]:
    env = alsa_env(**alsa)  # type: ignore[arg-type]
    env["REKINDLE_HOME"] = str(data)
    return env


# -- ask ------------------------------------------------------------------------------------------------------
def ask_runs(data: Path, runs: int, text: str = ASK_TEXT) -> tuple[list[float], list[float]]:
    """Wall seconds and peak RSS (MB) of `rekindle ask TEXT --mute`, after one untimed warm-up."""
    walls, peaks = [], []
    for n in range(runs + 1):
        started = time.perf_counter()
        process = subprocess.Popen([str(REKINDLE), "ask", text, "--mute"], stdout=subprocess.DEVNULL, env=_env(data))
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"rekindle ask failed (status {status})")
        if n:
            walls.append(wall)
            peaks.append(usage.ru_maxrss / 1024)
    return walls, peaks


# -- listen ---------------------------------------------------------------------------------------------------
@dataclass
class Session:
    ready_s: float = float("nan")
    """Seconds from starting the process to the 'Rekindle is listening' line."""
    first_reply_s: float = float("nan")
    """Seconds from starting the process to the first turn on stdout."""
    turns: list[str] = field(default_factory=list)
    """Intents of the turns, in order."""
    loaded_s: float = float("nan")
    """Seconds from starting the process to the recogniser being loaded (its --debug line)."""
    hwm_mb: float = float("nan")
    """VmHWM (peak resident set) just before Ctrl-C."""
    rss_ready_mb: float = float("nan")
    """VmRSS when the ready line came."""
    maxrss_mb: float = float("nan")
    """ru_maxrss from wait4 after exit."""
    stderr: list[str] = field(default_factory=list)


def mic_file(path: Path) -> Path:
    """The spoken commands between quiet gaps, then a long quiet tail (the device replays stale audio past EOF)."""
    synth = synthesizer()
    parts = [quiet(0.5)]
    for n, command in enumerate(SPOKEN):
        parts += [synth.utterance(command.text, PIPER).audio, quiet(GAP_S, seed=n + 2)]
    parts.append(quiet(180.0, seed=99))
    path.write_bytes(b"".join(parts))
    return path


def _status(pid: int, key: str) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return float("nan")
    for line in lines:
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def listen_session(data: Path, mic: Path, speaker: Path, timeout: float = 180.0) -> Session:
    """`rekindle listen --json` on the virtual microphone until every spoken command got a turn, then Ctrl-C."""
    session = Session()
    started = time.monotonic()
    process = subprocess.Popen(
        [str(REKINDLE), "--debug", "listen", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(data, mic=mic, speaker=str(speaker)),
        preexec_fn=_default_sigint,
    )
    assert process.stdout is not None and process.stderr is not None

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            session.stderr.append(line.rstrip())
            if READY in line and session.ready_s != session.ready_s:
                session.ready_s = time.monotonic() - started
                session.rss_ready_mb = _status(process.pid, "VmRSS")
            if LOADED in line and session.loaded_s != session.loaded_s:
                session.loaded_s = time.monotonic() - started

    def read_stdout() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            turn = json.loads(line)
            if "intent" in turn:
                if not session.turns:
                    session.first_reply_s = time.monotonic() - started
                session.turns.append(turn["intent"])

    readers = [threading.Thread(target=f, daemon=True) for f in (read_stderr, read_stdout)]
    for reader in readers:
        reader.start()
    deadline = started + timeout
    while len(session.turns) < len(SPOKEN) and time.monotonic() < deadline and readers[1].is_alive():
        if session.ready_s == session.ready_s:  # ready: the commands take seconds, not minutes
            deadline = min(deadline, started + session.ready_s + 15.0)
        time.sleep(0.05)
    session.hwm_mb = _status(process.pid, "VmHWM")  # nan once it has exited
    session.maxrss_mb = _interrupt(process.pid) / 1024
    for reader in readers:
        reader.join(timeout=5)
    return session


def _interrupt(pid: int, grace_s: float = 15.0) -> float:
    """Ctrl-C the process (SIGTERM after `grace_s`) and reap it; returns its ru_maxrss (KB)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + grace_s
    while True:
        done, _, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return float(usage.ru_maxrss)
        if time.monotonic() > deadline:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = float("inf")
        time.sleep(0.05)


def _default_sigint() -> None:
    """In the child: Ctrl-C as in a terminal, even when this benchmark runs in the background (where SIGINT is
    ignored, and an ignored SIGINT would be inherited and stop Python from turning it into KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


# -- imports --------------------------------------------------------------------------------------------------
def import_times(args: list[str], env: dict[str, str], stop_at: str | None = None) -> list[tuple[str, int, int]]:
    """(module, self µs, cumulative µs) from `python -X importtime -m assistant ARGS`.

    With `stop_at`, the process gets Ctrl-C once that text shows on stderr (for `listen`).
    """
    process = subprocess.Popen(
        [sys.executable, "-X", "importtime", "-m", "assistant", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        preexec_fn=_default_sigint,
    )
    assert process.stderr is not None
    rows = []
    for line in process.stderr:
        if stop_at and stop_at in line:
            process.send_signal(signal.SIGINT)
        if line.startswith("import time:") and "|" in line:
            fields = line.removeprefix("import time:").split("|")
            try:
                rows.append((fields[2].rstrip("\n")[1:], int(fields[0]), int(fields[1])))
            except ValueError:
                continue  # the header line
    process.wait()
    return rows


def import_report(title: str, rows: list[tuple[str, int, int]], top: int) -> None:
    total = sum(own for _, own, _ in rows) / 1e6
    tops = sorted((r for r in rows if not r[0].startswith(" ")), key=lambda r: -r[2])
    print(f"### {title}: {len(rows)} modules, {total:.3f} s of import time in all\n")
    cumulative = [[name.strip(), cum / 1000, own / 1000] for name, own, cum in tops[:top]]
    print(table(["top-level import", "cumulative ms", "self ms"], cumulative))
    print()
    heaviest = sorted(rows, key=lambda r: -r[1])[:top]
    print(table(["module (any depth)", "self ms"], [[name.strip(), own / 1000] for name, own, _ in heaviest]))
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 ask runs, 1 listen session")
    parser.add_argument("--top", type=int, default=12, help="rows in the import tables")
    args = parser.parse_args()
    runs, sessions = (3, 1) if args.quick else (5, 3)
    tmp = Path(tempfile.mkdtemp(prefix="rekindle-footprint-"))
    print_machine("Rekindle footprint benchmark (bench/footprint.py)")

    walls, peaks = ask_runs(tmp / "ask-data", runs)
    meaning_walls, meaning_peaks = ask_runs(tmp / "ask-data", runs, ASK_BY_MEANING)
    mic = mic_file(tmp / "mic.raw")
    results = [listen_session(tmp / f"listen-{n}", mic, tmp / f"speaker-{n}.wav") for n in range(sessions)]
    ready = [s.ready_s for s in results]
    first = [s.first_reply_s for s in results]
    loaded = [s.loaded_s for s in results]
    hwm = [s.hwm_mb for s in results]
    maxrss = [s.maxrss_mb for s in results]
    for s in results:
        if len(s.turns) < len(SPOKEN):
            print(f"listen answered only {s.turns}; stderr tail: {s.stderr[-3:]}")

    print("## Cold start and memory\n")
    print(
        table(
            ["measure", "median", "p90 / max", "target", "met"],
            [
                ["`rekindle ask ... --mute` wall s", median(walls), p90(walls), "1.0 s", _met(p90(walls), 1.0)],
                ["`rekindle ask` peak RSS MB", median(peaks), max(peaks), "-", "-"],
                [
                    "`rekindle ask` read by meaning, wall s",
                    median(meaning_walls),
                    p90(meaning_walls),
                    "1.0 s",
                    _met(p90(meaning_walls), 1.0),
                ],
                ["`rekindle ask` read by meaning, peak RSS MB", median(meaning_peaks), max(meaning_peaks), "-", "-"],
                ["`rekindle listen` to ready line s", median(ready), max(ready), "1.0 s", _met(max(ready), 1.0)],
                ["`rekindle listen` to recogniser loaded s", median(loaded), max(loaded), "-", "-"],
                ["`rekindle listen` to first reply s", median(first), max(first), "-", "-"],
                ["`rekindle listen` RSS at ready MB", median([s.rss_ready_mb for s in results]), "", "-", "-"],
                ["`rekindle listen` peak RSS (VmHWM) MB", median(hwm), max(hwm), "150 MB", _met(max(hwm), 150)],
                [
                    "`rekindle listen` peak RSS (wait4) MB",
                    median(maxrss),
                    max(maxrss),
                    "150 MB",
                    _met(max(maxrss), 150),
                ],
            ],
        )
    )
    print(
        f"\n{runs} ask runs after a warm-up; {sessions} listen session(s), each answering: "
        + ", ".join(repr(c.text) for c in SPOKEN)
        + f" (heard: {results[0].turns}); replies spoken to the virtual speaker.\n"
    )

    print("## Import time (python -X importtime)\n")
    env = _env(tmp / "ask-data")
    import_report(f"rekindle ask {ASK_TEXT!r} --mute", import_times(["ask", ASK_TEXT, "--mute"], env), args.top)
    listen_env = _env(tmp / "imports", mic=None)
    import_report(
        "rekindle listen --mute, up to the ready line",
        import_times(["listen", "--mute"], listen_env, stop_at=READY),
        args.top,
    )


def _met(value: float, limit: float) -> str:
    return "-" if value != value else ("yes" if value <= limit else "NO")


if __name__ == "__main__":
    main()
