"""Two evaluation runs of `stance train` compared on the sentences both evaluated, paired.

    .venv/bin/python experiments/compare_runs.py BEFORE AFTER

BEFORE and AFTER are ``predictions.jsonl`` files, or ``REV`` to read
``experiments/minilm-logreg/predictions.jsonl`` as git commit REV holds it (``HEAD~1``) and
``.`` for the working tree's. Prints, per evaluation and target, how many sentences both
runs scored, how many labels changed, and AFTER's macro-F1 minus BEFORE's with its paired
95% bootstrap interval (1,000 resamples): what a change to the data, the splitter or the
model did, told apart from the noise of a few sentences.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stance.evaluation import paired_difference  # noqa: E402

SHIPPED = "experiments/minilm-logreg/predictions.jsonl"


def _rows(spec: str) -> dict:
    if Path(spec).is_file():
        text = Path(spec).read_text("utf-8")
    elif spec == ".":
        text = (REPO / SHIPPED).read_text("utf-8")
    else:
        text = subprocess.run(["git", "show", f"{spec}:{SHIPPED}"], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout
    rows = (json.loads(line) for line in text.splitlines() if line.strip())
    return {(r["plan"], r["article"], r["sentence"]): r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    args = parser.parse_args()
    before, after = _rows(args.before), _rows(args.after)
    both = sorted(set(before) & set(after))
    targets = [t for t in before[both[0]] if isinstance(before[both[0]][t], dict) and "gold" in before[both[0]][t]]
    print(f"{len(before)} sentences before, {len(after)} after, {len(both)} in both")
    print("| evaluation | target | sentences | labels changed | macro-F1 after - before [95% CI] |")
    print("|---|---|---|---|---|")
    for plan in sorted({k[0] for k in both}):
        keys = [k for k in both if k[0] == plan]
        for t in targets:
            gold = [before[k][t]["gold"] for k in keys]
            old, new = [before[k][t]["predicted"] for k in keys], [after[k][t]["predicted"] for k in keys]
            d = paired_difference(gold, new, old)
            low, high = d["macro_f1_ci"]
            changed = sum(a != b for a, b in zip(old, new))
            print(f"| {plan} | {t} | {len(keys)} | {changed} | {d['macro_f1']:+.3f} [{low:+.3f}, {high:+.3f}] |")


if __name__ == "__main__":
    main()
