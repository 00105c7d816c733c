"""Text-intent benchmark: accuracy per intent, confusions, out-of-domain rejection, grammar size and speed.

    .venv/bin/python bench/intent_text.py [--split dev|test|all] [--errors] [--no-meaning]

Reads intents/paraphrases.tsv (text, intent, slots as JSON, split). Prints one table per run; nothing is
asserted here (tests/test_matcher.py holds the accuracy floors). Dev lines are the meaning tier's examples, so
on them that tier finds each line itself: only the test split measures it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from intents.matcher import INTENT_NAMES, NONE, IntentResult, Matcher

PARAPHRASES = Path(__file__).resolve().parents[1] / "intents" / "paraphrases.tsv"


@dataclass(frozen=True)
class Case:
    """One labelled paraphrase."""

    text: str
    """What the user said."""
    intent: str
    """The intent it should get."""
    slots: dict[str, str | int]
    """The slots it should get."""
    split: str
    """dev (tuned on) or test (held back)."""


def load_cases(path: Path = PARAPHRASES) -> list[Case]:
    """Every labelled line of the paraphrase file."""
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, intent, slots, split = line.split("\t")
        cases.append(Case(text, intent, json.loads(slots), split))
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("dev", "test", "all"), default="all", help="which paraphrases to score")
    parser.add_argument("--errors", action="store_true", help="list every wrong answer")
    parser.add_argument("--no-meaning", action="store_true", help="the matcher without its meaning tier")
    args = parser.parse_args()

    started = time.perf_counter()
    matcher = Matcher(semantic=not args.no_meaning)
    if matcher.semantic is not None:
        matcher.semantic.load()  # counted in the load time, not in the first guess
    load_seconds = time.perf_counter() - started

    cases = [case for case in load_cases() if args.split in ("all", case.split)]
    results: list[tuple[Case, IntentResult, float]] = []
    for case in cases:
        tick = time.perf_counter()
        result = matcher.match(case.text)
        results.append((case, result, time.perf_counter() - tick))

    print(f"{len(cases)} paraphrases ({args.split}) from {PARAPHRASES.name}\n")
    print(f"{'intent':22} {'n':>4} {'intent ok':>10} {'+slots ok':>10}")
    totals = Counter[str]()
    for name in INTENT_NAMES:
        rows = [(case, result) for case, result, _ in results if case.intent == name]
        if not rows:
            continue
        right = sum(result.intent == case.intent for case, result in rows)
        exact = sum(result.intent == case.intent and result.slots == case.slots for case, result in rows)
        totals.update(n=len(rows), right=right, exact=exact)
        print(f"{name:22} {len(rows):4} {right / len(rows):10.1%} {exact / len(rows):10.1%}")
    print(f"{'all':22} {totals['n']:4} {totals['right'] / totals['n']:10.1%} {totals['exact'] / totals['n']:10.1%}")

    in_domain = [(case, result) for case, result, _ in results if case.intent != NONE]
    ood = [(case, result) for case, result, _ in results if case.intent == NONE]
    if ood:
        rejected = sum(result.intent == NONE for _, result in ood)
        print(f"\nout-of-domain rejected: {rejected}/{len(ood)} = {rejected / len(ood):.1%}")
    missed = sum(result.intent == NONE for _, result in in_domain)
    wrong_action = sum(result.intent not in (NONE, case.intent) for case, result in in_domain)
    print(
        f"in-domain answered none: {missed}/{len(in_domain)}; in-domain wrong action: {wrong_action}/{len(in_domain)}"
    )

    by_source = Counter(_source(result) for _, result, _ in results if result.intent != NONE)
    print(f"answers by source: {dict(by_source)}")

    confusions: dict[tuple[str, str], int] = defaultdict(int)
    for case, result, _ in results:
        if result.intent != case.intent:
            confusions[(case.intent, result.intent)] += 1
    if confusions:
        print("\nconfusions (expected -> got: count)")
        for (expected, got), count in sorted(confusions.items(), key=lambda item: -item[1]):
            print(f"  {expected} -> {got}: {count}")
    if args.errors:
        print("\nerrors")
        for case, result, _ in results:
            if result.intent != case.intent or result.slots != case.slots:
                print(
                    f"  [{case.split}] {case.text!r}: want {case.intent} {case.slots}, got {result.intent} "
                    f"{result.slots} ({result.confidence})"
                )

    times = [seconds for _, _, seconds in results]
    print(f"\nmatcher load: {load_seconds * 1000:.0f} ms")
    print(
        f"match time: mean {statistics.mean(times) * 1000:.2f} ms, median {statistics.median(times) * 1000:.2f} ms, "
        f"max {max(times) * 1000:.1f} ms"
    )
    _grammar_report(matcher)


def _source(result: IntentResult) -> str:
    from intents.matcher import CLAUSE_CONFIDENCE, FALLBACK_CONFIDENCE, SEMANTIC_CONFIDENCE

    names = {
        1.0: "template",
        CLAUSE_CONFIDENCE: "clauses",
        FALLBACK_CONFIDENCE: "keywords",
        SEMANTIC_CONFIDENCE: "meaning",
    }
    return names.get(result.confidence, f"confidence {result.confidence}")


def _grammar_report(matcher: Matcher) -> None:
    from hassil.fst import intents_to_fst

    from intents.template_stats import sentence_counts, template_words

    counts = sentence_counts(matcher.intents)
    print(
        f"\ngrammar: {sum(counts.values()):,} template paths (upper bound on distinct sentences), "
        f"{len(template_words(matcher.intents))} distinct words"
    )
    for name, count in sorted(counts.items(), key=lambda item: -item[1]):
        print(f"  {name:22} {count:>16,}")
    fst = intents_to_fst(matcher.intents).remove_spaces()
    arcs = sum(len(arcs) for arcs in fst.arcs.values())
    print(f"hassil FST (slot lists as one token each): {len(fst.states):,} states, {arcs:,} arcs")


if __name__ == "__main__":
    main()
