"""Drift benchmark: prints a Markdown table (and writes it with --out FILE.md).

    .venv/bin/python experiments/drift_bench.py [--out experiments/drift_bench.md]

Measures, on synthetic histories of N articles a day apart (each with 20 scored
sentences per target, nets drawn with one level change halfway, seed 0), the
wall time of `stance.measure_drift` by month (bootstrap, permutation tests,
change points, evidence) and of its change-point search alone, against the
pure-Python PELT of ruptures (`ruptures.Pelt(model="l2", jump=1)`) that the
search replaced, which finds the same change points. The Python PELT is only
timed up to 2,000 articles: its time grows with the square of N.
"""

from __future__ import annotations

import argparse
import math
import platform
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SIZES = (1_000, 2_000, 5_000, 20_000)
PYTHON_PELT_UP_TO = 2_000


def history(n: int, rng: np.random.Generator) -> list:
    """``n`` ArticleScores a day apart; the Russia net moves up by 0.3 halfway."""
    from stance.scoring import ArticleScores

    start = date(1990, 1, 1)
    records = []
    for i in range(n):
        level = 0.3 if i >= n // 2 else 0.0
        sentences, summary = [], {}
        nets = {"russia": float(np.clip(level + rng.normal(0, 0.25), -0.9, 0.9)),
                "eu": float(np.clip(rng.normal(0, 0.25), -0.9, 0.9))}
        for k in range(20):
            row = {"index": k, "text": f"article {i} sentence {k}."}
            for target, net in nets.items():
                favor, against = max(net, 0.0), max(-net, 0.0)
                proba = {"favor": favor, "against": against, "none": 1.0 - favor - against}
                row[target] = {"label": max(proba, key=proba.get), "proba": proba}
            sentences.append(row)
        for target, net in nets.items():
            counts = {s: sum(r[target]["label"] == s for r in sentences) for s in ("favor", "against", "none")}
            summary[target] = {**counts, "net": net}
        records.append(ArticleScores(article=f"a{i}", date=(start + timedelta(days=i)).isoformat(),
                                     model={"id": "bench"}, sentences=sentences, summary=summary))
    return records


def python_pelt(values: np.ndarray) -> list[int]:
    """The change points as ruptures' Python PELT finds them, with drift's penalty."""
    import ruptures

    from stance.drift import CHANGE_MIN_SIZE, CHANGE_PENALTY, noise_scale

    sigma = noise_scale(values)
    algo = ruptures.Pelt(model="l2", min_size=CHANGE_MIN_SIZE, jump=1).fit(values.reshape(-1, 1))
    return [b for b in algo.predict(pen=CHANGE_PENALTY * sigma**2 * math.log(len(values))) if b < len(values)]


def timed(call):
    start = time.perf_counter()
    result = call()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table here")
    args = parser.parse_args()
    from stance.drift import change_points, measure_drift

    rng = np.random.default_rng(0)
    lines = ["| articles | measure_drift by month, s | change points (C search), s | change points (Python PELT), s "
             "| same change points |", "|---|---|---|---|---|"]
    for n in SIZES:
        records = history(n, rng)
        _, whole = timed(lambda: measure_drift(records, by="month", n_boot=200, n_perm=200, evidence=3))
        values = np.array([r.summary["russia"]["net"] for r in records])
        points, fast = timed(lambda: change_points(values))
        if n <= PYTHON_PELT_UP_TO:
            expected, slow = timed(lambda: python_pelt(values))
            slow_cell, same = f"{slow:.2f}", "yes" if expected == points else "NO"
        else:
            slow_cell, same = "-", "-"
        lines.append(f"| {n:,} | {whole:.2f} | {fast:.3f} | {slow_cell} | {same} |")
        print(lines[-1], flush=True)
    machine = f"{platform.processor() or platform.machine()}, {__import__('os').cpu_count()} cores"
    text = ("# Drift speed\n\nMade by `.venv/bin/python experiments/drift_bench.py --out experiments/drift_bench.md` "
            f"on {machine}; synthetic histories (see the script's docstring).\n\n" + "\n".join(lines) + "\n")
    print(text)
    if args.out:
        args.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
