"""Time and peak memory of the sentence splitter on one long line without line breaks.

    python experiments/splitter_bench.py [--sizes 10000 100000 1000000 5000000] [--whole-up-to 100000]

Each size runs in a fresh process: seconds to split the line (``split_sentences``,
furniture rules included) and the peak resident memory above what the process
held before (``ru_maxrss``). The line is made of short random sentences, a few
with abbreviations. With ``--whole-up-to N`` the lines of at most N characters are
also split the way they were before lines were cut into pieces: pysbd on the
whole line, whose cost per character grows with the line.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys

WORDS = ("Serbia Russia the EU Vucic said on Tuesday that a gas deal Mr. Lavrov and U.S. sanctions were higher "
         "Belgrade Moscow Brussels talks energy prices ministers met 5.5 percent").split()


def long_line(n_chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    sentences, size = [], 0
    while size < n_chars:
        sentence = " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 20))) + rng.choice(".?!.")
        sentences.append(sentence[0].upper() + sentence[1:])
        size += len(sentence) + 1
    return " ".join(sentences)[:n_chars]


def measure(n_chars: int, whole: bool) -> dict:
    """Split one line of ``n_chars`` characters in this process; seconds and extra peak MB."""
    import resource
    import time

    from stance import segment

    segment.split_sentences(long_line(2000, seed=1))  # load pysbd before the baseline
    if whole:
        segment.MAX_SPLIT_CHARS = 10**12
    line = long_line(n_chars)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    segments = segment.split_sentences(line)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before  # KB on Linux
    return {"chars": n_chars, "seconds": seconds, "peak_mb": peak / 1024, "segments": len(segments)}


def run(n_chars: int, whole: bool) -> dict:
    args = [sys.executable, __file__, "--measure", str(n_chars)] + (["--whole"] if whole else [])
    return json.loads(subprocess.run(args, capture_output=True, text=True, check=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000, 5_000_000])
    parser.add_argument("--whole-up-to", type=int, default=0, help="Also time pysbd on whole lines up to this length.")
    parser.add_argument("--measure", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--whole", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.whole)))
        return
    print(f"{'line':>10s} {'how':>7s} {'seconds':>9s} {'us/char':>8s} {'peak MB':>8s} {'segments':>9s}")
    for n in args.sizes:
        for whole in (False, True) if n <= args.whole_up_to else (False,):
            r = run(n, whole)
            print(f"{n:>10,d} {'whole' if whole else 'pieces':>7s} {r['seconds']:9.2f} "
                  f"{r['seconds'] / n * 1e6:8.1f} {r['peak_mb']:8.1f} {r['segments']:9,d}")


if __name__ == "__main__":
    main()
