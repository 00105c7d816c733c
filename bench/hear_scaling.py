"""Does `rekindle hear` scale linearly? (issue 5): one process over 1, 10 and 100 files.

    .venv/bin/python bench/hear_scaling.py            # 1, 10, 100 files (~2 min, mostly three engine loads)
    .venv/bin/python bench/hear_scaling.py --quick    # 1 and 10 files

The files are synthesised commands (Piper and espeak-ng voices, a dozen phrases, different lead/trail each) written
as WAVs. Each run is one `rekindle --debug hear --json FILES...` process. Printed: wall time of the process, a
least-squares line through the runs (seconds once per process + milliseconds per file; linear scaling means the
line fits every run), the one-off loads from the --debug log, the engine's own decode time per file (`decode_ms`
of the JSON lines) and how many times the matcher, grammar and decoders were loaded (1 each = once per process).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import COMMANDS, REKINDLE, VOICES, alsa_env, median, print_machine, synthesizer, table

LOADS = {
    "matcher": re.compile(r"Loaded \d+ intents from \d+ files in ([\d.]+) s"),
    "grammar": re.compile(r"Compiled the command grammar in ([\d.]+) s"),
    "command decoder": re.compile(r"Loaded the PocketSphinx grammar decoder in ([\d.]+) s"),
    "dictation decoder": re.compile(r"Loaded the PocketSphinx dictation decoder in ([\d.]+) s"),
}
"""--debug log lines that time each one-off load (seconds)."""


def write_files(folder: Path, count: int) -> list[Path]:
    """`count` WAVs: commands x voices, cycling, each with its own lead/trail (seed)."""
    synth = synthesizer()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        command = COMMANDS[n % len(COMMANDS)]
        voice = VOICES[(n // len(COMMANDS)) % len(VOICES)]
        audio = synth.utterance(command.text, voice, seed=n)
        path = folder / f"{n:03d}-{command.intent}.wav"
        with wave.open(str(path), "wb") as out:
            out.setnchannels(audio.channels)
            out.setsampwidth(audio.width)
            out.setframerate(audio.rate)
            out.writeframes(audio.audio)
        paths.append(path)
    return paths


def hear(files: list[Path], data: Path) -> dict[str, object]:
    """One `rekindle hear` process over `files`."""
    env = alsa_env()
    env["REKINDLE_HOME"] = str(data)
    started = time.perf_counter()
    done = subprocess.run(
        [str(REKINDLE), "--debug", "hear", "--json", *map(str, files)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    wall = time.perf_counter() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"rekindle hear failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    loads: dict[str, list[float]] = {name: [] for name in LOADS}
    for line in done.stderr.splitlines():
        for name, pattern in LOADS.items():
            found = pattern.search(line)
            if found:
                loads[name].append(float(found.group(1)))
    right = sum(r.get("intent") == Path(r["file"]).stem.split("-", 1)[1] for r in results)
    return {"wall": wall, "results": results, "loads": loads, "right": right}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1 and 10 files only")
    args = parser.parse_args()
    sizes = (1, 10) if args.quick else (1, 10, 100)
    print_machine("Rekindle `hear` scaling (bench/hear_scaling.py)")
    tmp = Path(tempfile.mkdtemp(prefix="rekindle-hear-"))
    files = write_files(tmp / "wav", max(sizes))
    rows, walls = [], []
    for size in sizes:
        run = hear(files[:size], tmp / f"data-{size}")
        loads = run["loads"]
        assert isinstance(loads, dict)
        wall = float(run["wall"])  # type: ignore[arg-type]
        walls.append(wall)
        results = run["results"][1:]  # type: ignore[index]  # the first file's decode_ms includes the engine load
        decode = [float(r["decode_ms"]) for r in results if "decode_ms" in r]
        counts = "/".join(str(len(v)) for v in loads.values())
        load_s = max(loads["command decoder"] or [0.0]) + max(loads["matcher"] or [0.0])
        rows.append([size, wall, 1000 * wall / size, load_s, median(decode), counts, f"{run['right']}/{size}"])
    intercept, slope = _fit(list(sizes), walls)
    for row in rows:
        row.insert(3, f"{intercept + slope * row[0]:.2f}")
    print(
        table(
            [
                "files",
                "process wall s",
                "wall per file ms",
                "linear fit s",
                "load (matcher + decoders) s",
                "decode_ms median (files 2+)",
                "loads (matcher/grammar/cmd/dict)",
                "intent right",
            ],
            rows,
        )
    )
    print(
        f"\nLinear fit over the runs: {intercept:.2f} s once per process + {1000 * slope:.0f} ms per file."
        " 'loads' counts the --debug lines of each one-off load: 1 each = loaded once per process, not per file."
    )


def _fit(xs: list[int], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    var = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var if var else 0.0
    return my - slope * mx, slope


if __name__ == "__main__":
    main()
