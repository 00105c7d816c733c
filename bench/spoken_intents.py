"""Spoken-intent benchmark: synthesised phrases through the real recogniser and matcher.

Every line of bench/phrases.tsv is spoken by several voices (espeak-ng variants, Piper, flite) at several
speeds, under three conditions (clean, pink noise at 10 dB, babble at 10 dB; on request also two simulated
rooms, `--conditions room-near,room-far`), then decoded in COMMAND mode and matched. Printed per condition and
voice family: intent+slot accuracy on commands, false rejects (a command heard as `none`), rejection of
out-of-domain lines, false accepts, and the real-time factor of decoding (CPU seconds per second of audio), plus
the machine it ran on. A command the grammar rejects gets its second chance, as in `rekindle hear` (dictated and
read again; `--no-second-chance` turns it off); the last column counts what that gave, right and wrong.

    .venv/bin/python bench/spoken_intents.py --quick            # a few minutes
    .venv/bin/python bench/spoken_intents.py --split test       # the held-out half only
    .venv/bin/python bench/spoken_intents.py --garbage-prior 1e-8 --split dev   # tuning
    .venv/bin/python bench/spoken_intents.py --quick --families piper --phrases intents/paraphrases.tsv
                                                                # natural phrasings, one natural voice
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from audio.synth import CONDITIONS, PIPER, ROOMS, Condition, Synthesizer, Voice  # noqa: E402

PHRASES = Path(__file__).with_name("phrases.tsv")
CACHE = ROOT / "tests" / ".cache"

FULL_VOICES = (
    Voice("espeak", "en-us"),
    Voice("espeak", "en-us", 1.25),
    Voice("espeak", "en"),
    Voice("espeak", "en-gb-x-rp", 0.85),
    Voice("espeak", "en+f3"),
    Voice("espeak", "en-us+m3", 1.15),
    Voice("piper", "joe", 0.9),
    PIPER,
    Voice("piper", "joe", 1.15),
    # Debian's flite voices (./setup.sh --dev installs flite): no setting was tuned on them.
    Voice("flite", "slt"),
    Voice("flite", "rms"),
    Voice("flite", "awb"),
    Voice("flite", "kal16"),
)
QUICK_VOICES = (Voice("espeak", "en-us"), Voice("espeak", "en+f3"), PIPER, Voice("flite", "slt"))


@dataclass(frozen=True)
class Phrase:
    """One benchmark line."""

    text: str
    """What is said."""
    intent: str
    """Expected intent (`none` for out-of-domain speech)."""
    slots: dict[str, Any]
    """Expected slots (for free text: only that some text was captured)."""
    split: str
    """'dev' (settings were tuned on it) or 'test' (held out)."""


def load_phrases(path: Path = PHRASES) -> list[Phrase]:
    """The benchmark lines (comments and blank lines skipped)."""
    phrases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, intent, slots, split = line.split("\t")
        phrases.append(Phrase(text, intent, json.loads(slots), split))
    return phrases


_STATE: dict[str, Any] = {}


def _engine_cache() -> Path:
    """Where engines keep what they build once (PocketSphinx's dictation dictionary, Moonshine's prepared model)."""
    from assistant.paths import default_cache_dir

    return default_cache_dir()


def _init(
    settings: dict[str, Any], noise_suppression: str, second_chance: bool, engine_name: str, by_meaning: bool
) -> None:
    from audio.denoise import Denoise
    from audio.stt.pocketsphinx import PocketSphinxSettings
    from audio.stt.registry import create_engine
    from intents.matcher import Matcher

    matcher = Matcher(semantic=by_meaning)
    options: dict[str, Any] = {}
    if engine_name in ("pocketsphinx", "hybrid"):
        options["settings"] = PocketSphinxSettings(**settings)
    if engine_name == "hybrid":
        options["noise"] = noise_suppression
    engine: Any = create_engine(engine_name, matcher=matcher, cache_dir=_engine_cache(), **options)
    engine.load()
    if second_chance:
        from audio.stt import Mode

        engine.load(Mode.DICTATION)  # loaded before the clock runs, as `listen` and `hear` have it loaded by then
    _STATE.update(
        matcher=matcher,
        engine=engine,
        synth=Synthesizer(CACHE),
        denoise=Denoise(noise_suppression),
        second_chance=second_chance,
    )


def _run(job: tuple[Phrase, Voice, Condition]) -> dict[str, Any]:
    from audio.denoise import denoise
    from audio.recognize import recognize_utterance
    from audio.stt import Mode

    phrase, voice, condition = job
    audio = _STATE["synth"].utterance(phrase.text, voice, condition)
    cpu = time.process_time()
    if not _STATE["engine"].raw_audio:
        audio = denoise(audio, _STATE["denoise"])  # as `rekindle hear` does
    heard = recognize_utterance(_STATE["engine"], _STATE["matcher"], audio, Mode.COMMAND, _STATE["second_chance"])
    cpu = time.process_time() - cpu
    got = heard.intent
    last = getattr(_STATE["engine"], "_last", None)  # the hybrid's Moonshine transcript (a benchmark may peek)
    if phrase.intent == "none":
        correct = got.intent == "none"
    elif "text" in phrase.slots:
        correct = got.intent == phrase.intent and bool(got.slots.get("text"))
    else:
        correct = got.intent == phrase.intent and got.slots == phrase.slots
    text_wer = None
    if "text" in phrase.slots and got.slots.get("text"):
        text_wer = word_error(str(phrase.slots["text"]), str(got.slots["text"]))
    return {
        "text": phrase.text,
        "intent": phrase.intent,
        "voice": voice.label,
        "family": voice.engine,
        "condition": condition.name,
        "heard": heard.transcript.text,
        "heard_confidence": round(heard.transcript.confidence, 3),
        "got": got.intent,
        "slots": got.slots,
        "correct": correct,
        "rejected": got.intent == "none",
        "second_chance": heard.second_chance,
        "cpu_s": cpu,
        "audio_s": audio.milliseconds / 1000,
        "text_wer": text_wer,
        **({"moonshine": last[1].text, "moonshine_words": last[1].words} if last is not None else {}),
    }


def word_error(reference: str, hypothesis: str) -> float:
    """Word error rate of `hypothesis` against `reference` (edit distance over words / reference words)."""
    ref, hyp = reference.lower().split(), hypothesis.lower().split()
    row = list(range(len(hyp) + 1))
    for i, word in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, other in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != other))
    return row[len(hyp)] / max(1, len(ref))


def summarise(results: list[dict[str, Any]]) -> list[str]:
    """Report lines per condition and voice family, then overall."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[(r["condition"], r["family"])].append(r)
        groups[(r["condition"], "all")].append(r)
    lines = [
        f"{'condition':10} {'voices':7} {'commands ok':>16} {'false reject':>13} {'OOD rejected':>16} "
        f"{'false accept':>13} {'RTF':>6} {'text WER':>9} {'2nd chance ok/wrong':>20}"
    ]
    for (condition, family), rows in sorted(groups.items()):
        commands = [r for r in rows if r["intent"] != "none"]
        ood = [r for r in rows if r["intent"] == "none"]
        ok = sum(r["correct"] for r in commands)
        fr = sum(r["rejected"] for r in commands)
        rej = sum(r["rejected"] for r in ood)
        rtf = sum(r["cpu_s"] for r in rows) / max(1e-9, sum(r["audio_s"] for r in rows))
        wers = [r["text_wer"] for r in rows if r["text_wer"] is not None]
        wer = f"{100 * sum(wers) / len(wers):.0f}%" if wers else "-"
        second = [r for r in rows if r.get("second_chance")]
        second_ok = sum(r["correct"] for r in second)
        lines.append(
            f"{condition:10} {family:7} {_pct(ok, len(commands)):>16} {_pct(fr, len(commands)):>13} "
            f"{_pct(rej, len(ood)):>16} {_pct(len(ood) - rej, len(ood)):>13} {rtf:6.3f} {wer:>9} {f'{second_ok}/{len(second) - second_ok}':>20}"
        )
    return lines


def machine() -> str:
    """One line about the machine and library versions."""
    cpu = platform.processor() or "?"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    from importlib.metadata import version as installed

    version = installed("pocketsphinx")
    return (
        f"{platform.system()} {platform.machine()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, pocketsphinx {version}"
    )


def _pct(part: int, whole: int) -> str:
    return f"{part}/{whole} {100 * part / whole:.0f}%" if whole else "-"


def _overrides(pairs: list[str]) -> dict[str, Any]:
    """'max_variants=1' -> {'max_variants': 1}, typed like the PocketSphinxSettings field it names ('none': None,
    e.g. fit_floor=none turns the word-fit check off)."""
    from dataclasses import fields

    from audio.stt.pocketsphinx import PocketSphinxSettings

    types = {f.name: type(getattr(PocketSphinxSettings(), f.name)) for f in fields(PocketSphinxSettings)}
    out: dict[str, Any] = {}
    for pair in pairs:
        name, _, value = pair.partition("=")
        if name not in types:
            raise SystemExit(f"unknown setting {name!r}; choose from {', '.join(sorted(types))}")
        if value.lower() == "none":
            out[name] = None
        elif types[name] is bool:
            out[name] = value.lower() in ("1", "true", "yes")
        else:
            out[name] = types[name](value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="3 voices, test split only")
    parser.add_argument("--split", choices=("dev", "test", "all"), default=None, help="which phrases (default all)")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--families", help="only these voice families, e.g. piper,flite (default all)")
    parser.add_argument(
        "--conditions",
        default=",".join(c.name for c in CONDITIONS),
        help=f"any of {','.join(c.name for c in CONDITIONS + ROOMS)} (default: the first three)",
    )
    parser.add_argument("--garbage-prior", type=float, help="override PocketSphinxSettings.garbage_prior")
    parser.add_argument("--garbage-phone", type=float, help="override PocketSphinxSettings.garbage_phone")
    parser.add_argument("--garbage-inside", type=float, help="override PocketSphinxSettings.garbage_inside")
    parser.add_argument("--garbage-kind", choices=("phones", "words"), help="override the garbage loop units")
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="override any PocketSphinxSettings field"
    )
    parser.add_argument(
        "--noise-suppression", choices=("auto", "on", "off"), default="auto", help="as the setting (default auto)"
    )
    parser.add_argument("--json", type=Path, help="also write every result to this JSON-lines file")
    parser.add_argument(
        "--engine",
        choices=("pocketsphinx", "moonshine", "hybrid"),
        default="pocketsphinx",
        help="recogniser (default pocketsphinx)",
    )
    parser.add_argument(
        "--phrases",
        type=Path,
        default=PHRASES,
        help="lines to speak (default bench/phrases.tsv; also e.g. "
        "intents/paraphrases.tsv, the natural phrasings the text benchmark reads)",
    )
    parser.add_argument(
        "--no-second-chance", action="store_true", help="a rejected command is not dictated and read again"
    )
    parser.add_argument(
        "--no-meaning", action="store_true", help="the matcher without its meaning tier (understand_by_meaning off)"
    )
    args = parser.parse_args()

    split = args.split or ("test" if args.quick else "all")
    phrases = [p for p in load_phrases(args.phrases) if split == "all" or p.split == split]
    voices = QUICK_VOICES if args.quick else FULL_VOICES
    if args.families:
        voices = tuple(v for v in voices if v.engine in args.families.split(","))
    wanted = set(args.conditions.split(","))
    conditions = [c for c in CONDITIONS + ROOMS if c.name in wanted]
    settings: dict[str, Any] = {
        key: value
        for key, value in (
            ("garbage_prior", args.garbage_prior),
            ("garbage_phone", args.garbage_phone),
            ("garbage_inside", args.garbage_inside),
        )
        if value is not None
    }
    if args.garbage_kind:
        settings["garbage_kind"] = args.garbage_kind
    settings.update(_overrides(args.set))
    synth = Synthesizer(CACHE)
    for phrase in phrases:  # synthesise once, before the workers read the cache
        for voice in voices:
            synth.speech(phrase.text, voice)
    jobs = [(p, v, c) for p in phrases for v in voices for c in conditions]
    print(f"{len(jobs)} clips: {len(phrases)} phrases ({split}) x {len(voices)} voices x {len(conditions)} conditions")
    started = time.perf_counter()
    with ProcessPoolExecutor(
        args.jobs,
        initializer=_init,
        initargs=(settings, args.noise_suppression, not args.no_second_chance, args.engine, not args.no_meaning),
    ) as pool:
        results = list(pool.map(_run, jobs, chunksize=4))
    if args.json:
        args.json.write_text("".join(json.dumps(r) + "\n" for r in results), encoding="utf-8")
    print(f"machine: {machine()}")
    print(
        f"engine: {args.engine}; noise suppression: {args.noise_suppression}; "
        f"second chance: {'off' if args.no_second_chance else 'on'}; "
        f"meaning tier: {'off' if args.no_meaning else 'on'}; "
        f"settings: {settings or 'defaults'}; wall time {time.perf_counter() - started:.0f} s"
    )
    for line in summarise(results):
        print(line)


if __name__ == "__main__":
    main()
