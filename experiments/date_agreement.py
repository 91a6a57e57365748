"""How often the date search finds an article's own date in its text, on articles whose index states it.

    .venv/bin/python experiments/date_agreement.py [FOLDER ...]

Each FOLDER holds ``.txt`` articles and an ``articles.jsonl`` index with each one's ``date``
(default: ``labels/articles`` and ``seeds``). The search (:func:`stance.dates.date_in_text`)
reads only the text, as it does for an article scored without a date column; the index is the
truth. Prints, per folder, how many articles it dates right, dates wrong (with the line it read
them from, so a reader can see why) and leaves undated. An undated article is recorded as such
and counted apart by drift; a wrong date moves it to another period, which is worse.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stance.corpus import read_documents  # noqa: E402
from stance.dates import HEAD_LINES, date_in_text  # noqa: E402


def _agreement(folder: Path) -> tuple[int, int, list[str], int]:
    """(articles the index dates, right, wrong ones described, undated) for one folder."""
    total, right, wrong, undated = 0, 0, [], 0
    for doc in read_documents(folder):
        if doc.date_source not in ("column", "inferred"):  # the index gives no date: nothing to compare with
            continue
        total += 1
        found = date_in_text(doc.text)
        if found == doc.date:
            right += 1
        elif found is None:
            undated += 1
        else:
            opening = " | ".join(line.strip() for line in doc.text.splitlines()[:HEAD_LINES] if line.strip())
            wrong.append(f"{doc.id}: found {found}, index {doc.date}; opening: {opening[:160]}")
    return total, right, wrong, undated


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[REPO / "labels" / "articles", REPO / "seeds"])
    args = parser.parse_args(argv)
    print("| folder | articles | dated right | dated wrong | undated |")
    print("|---|---|---|---|---|")
    wrong_all = []
    for folder in args.folders:
        total, right, wrong, undated = _agreement(folder)
        wrong_all += wrong
        shown = folder.resolve().relative_to(REPO) if folder.resolve().is_relative_to(REPO) else folder
        print(f"| {shown} | {total} | {right} | {len(wrong)} | {undated} |")
    for line in wrong_all:
        print(f"- {line}")


if __name__ == "__main__":
    main()
