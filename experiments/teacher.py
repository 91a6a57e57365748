"""all-mpnet-base-v2 as a teacher: does the fast default learn what the bigger encoder knows from its labels?

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/teacher.py [--labeled FRACTION]

A user has labeled a few articles and has many more unlabeled. A teacher (the frozen
default on all-mpnet-base-v2, about ten times slower to score) can label the rest, and the
fast student (the shipped default on MiniLM) can train on the user's labels and the
teacher's. This measures whether that helps, under the folds of `stance train` (leave one
seed article out; grouped 5-fold over the written corpus): in each fold, the training
seeds and a fixed share of the written articles (``--labeled``, 0.25 by default; the same
articles in every fold) keep their labels, and the other training articles' labels are
hidden. Rows, each scored on the same held-out sentences:

- ``student alone``: the default on the labeled articles only;
- ``teacher alone``: the default on all-mpnet-base-v2, labeled articles only;
- ``student taught``: the default on the labeled articles plus the teacher's labels of the
  hidden ones (as the teacher decides them, abstention included);
- ``student taught, sure labels``: the same with only the teacher's labels whose (calibrated)
  probability is at least 0.8, fixed beforehand; the other hidden sentences stay unlabeled;
- ``student self-taught``: the same with the student's own labels instead (the control: is it
  the teacher that helps, or training on more sentences as such?);
- ``all labels``: the default on every training label (what the hidden labels were worth);
  this is the search's ``frozen-default`` row (``finetune/search.jsonl``), taken from there
  when it kept its predictions, since it is the same model on the same folds.

Writes ``experiments/teacher/rows.jsonl`` (one row a run, kept predictions included, so a
killed run resumes at the next row) and ``experiments/teacher/teacher.md``: each row's
macro-F1 and the paired differences that answer the question, with 95% bootstrap intervals
over the same sentences (``finetune_search.mean_difference``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from finetune_search import OUT as SEARCH  # noqa: E402
from finetune_search import (  # noqa: E402
    COLUMNS,
    REFERENCE,
    TARGETS,
    corpus_labels,
    mean_difference,
    read_rows,
    scored_row,
    shown_difference,
)
from stance.encoders import make_encoder  # noqa: E402
from stance.evaluation import out_of_fold  # noqa: E402
from stance.fileio import atomic_write_text  # noqa: E402
from stance.model import StanceClassifier, on_all_cores  # noqa: E402

OUT = REPO / "experiments" / "teacher"
#: For ``student taught, sure labels``: the teacher's labels whose probability is below this are left out.
SURE = 0.8
#: The comparisons the table answers: (row, minus row).
COMPARISONS = [
    ("student taught", "student alone"),
    ("student taught", "student self-taught"),
    ("student taught, sure labels", "student alone"),
    ("teacher alone", "student alone"),
    ("student taught", "teacher alone"),
    ("all labels", "student alone"),
]


def labeled_articles(labels, fraction: float, seed: int = 0) -> set[str]:
    """The written articles whose labels every fold keeps: a fixed random share, by article."""
    written = sorted({a for a, o in zip(labels["article"], labels["origin"]) if o == "written"})
    chosen = np.random.default_rng(seed).permutation(written)[: round(fraction * len(written))]
    return set(chosen.tolist())


class Taught:
    """A student fitted on the labeled rows plus a teacher's labels of the others.

    The teacher is fitted on the labeled rows of the same training set (never on a held-out
    article) and labels the hidden rows as it would decide them when scoring.
    """

    def __init__(self, student, teacher, keep, min_confidence: float = 0.0):
        self.student, self.teacher, self.keep = student, teacher, keep
        self.min_confidence = min_confidence

    def fit(self, X, y, groups=None):
        groups = np.asarray(groups, dtype=object)
        kept = np.array([self.keep(a) for a in groups])
        X, y = list(X), np.asarray(y, dtype=object)
        self.teacher.fit([X[i] for i in np.flatnonzero(kept)], y[kept], groups=groups[kept])
        taught = y.copy()
        hidden = np.flatnonzero(~kept)
        if len(hidden):
            probas = self.teacher.predict_proba([X[i] for i in hidden])
            for j, (target, proba) in enumerate(zip(self.teacher.targets_, probas)):
                labels = self.teacher.decide(target, proba)
                labels[proba.max(axis=1) < self.min_confidence] = None  # left unlabeled for this target
                taught[hidden, j] = labels
        self.student.fit(X, taught, groups=groups)
        self.classes_ = self.student.classes_
        return self

    def predict_proba(self, X):
        return self.student.predict_proba(X)

    def decide(self, target, proba):
        return self.student.decide(target, proba)


def rows_to_run(labels, fraction: float):
    """(name, model factory, training filter) per row; the encoders are built once and shared."""
    minilm, mpnet = make_encoder(None), make_encoder("mpnet")
    chosen = labeled_articles(labels, fraction)
    seeds = {a for a, o in zip(labels["article"], labels["origin"]) if o == "seed"}

    def keep(article) -> bool:
        return article in seeds or article in chosen

    def only_labeled(train, articles, origins):
        return train[np.array([keep(articles[i]) for i in train], dtype=bool)]

    # The default as it was when these rows were made (before renamed copies and the pressure rule joined it).
    def student():
        return StanceClassifier(encoder=minilm, renamed_copies=False, pressure_rule=False)

    def teacher():
        return StanceClassifier(encoder=mpnet, renamed_copies=False, pressure_rule=False)

    return [
        ("student alone", student, only_labeled),
        ("teacher alone", teacher, only_labeled),
        ("student taught", lambda: Taught(student(), teacher(), keep), None),
        ("student taught, sure labels", lambda: Taught(student(), teacher(), keep, SURE), None),
        ("student self-taught", lambda: Taught(student(), student(), keep), None),
        ("all labels", student, None),
    ], len(chosen)


def render(rows: list[dict], order: list[str]) -> str:
    """The page: one section per share of labeled articles, its rows and the paired differences."""
    lines = [
        "# all-mpnet-base-v2 as a teacher of the MiniLM default", "",
        "Made by `HF_HUB_OFFLINE=1 .venv/bin/python experiments/teacher.py --labeled SHARE`; labels "
        "`labels/seeds.jsonl` + `labels/written.jsonl`. In each fold of `stance train`'s evaluation the training "
        "seeds and the same written articles (a fixed random share) keep their labels; the other training "
        "articles' labels are hidden, and the teacher (the frozen default on all-mpnet-base-v2, fitted on the kept "
        "labels) labels them for the taught student. Macro-F1 of the out-of-fold labels as each model decides "
        "them; `mean` averages the four; `cv s`, wall seconds for the ten folds on 2 cores. The rows are described "
        "in the script's docstring.",
    ]
    for share in sorted({r["labeled"] for r in rows}):
        section = sorted((r for r in rows if r["labeled"] == share), key=lambda r: order.index(r["name"]))
        by_name = {r["name"]: r for r in section}
        lines += ["", f"## {section[0]['labeled_articles']} written articles labeled (share {share}), "
                  f"{max(r['date'] for r in section)}",
                  "", "| row | seed LOAO russia | seed LOAO eu | written CV russia | written CV eu | mean | cv s |",
                  "|---|---|---|---|---|---|---|"]
        for r in section:
            lines.append(f"| {r['name']} | " + " | ".join(f"{r[c]:.3f}" for c in COLUMNS)
                         + f" | **{r['mean']:.3f}** | {r['cv_seconds']} |")
        lines += ["", "Paired differences of the mean (1,000 resamples of the same sentences; an interval that "
                  "holds 0 cannot tell the two apart):", ""]
        for name, minus in COMPARISONS:
            if name in by_name and minus in by_name:
                difference = mean_difference(by_name[name], by_name[minus])
                shown = "- (made on other labels)" if difference is None else shown_difference(difference)
                lines.append(f"- {name} minus {minus}: {shown}")
    return "\n".join(lines) + "\n"


def _shipped_default_row(share: float, n_chosen: int) -> dict | None:
    """The search's row of the shipped default, which is ``all labels`` (same model, folds and labels), if kept."""
    row = next((r for r in read_rows(SEARCH / "search.jsonl") if r["name"] == REFERENCE and "oof" in r), None)
    if row is None:
        return None
    return {**row, "name": "all labels", "labeled": share, "labeled_articles": n_chosen,
            "from": f"finetune/search.jsonl, row {REFERENCE}"}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labeled", type=float, default=0.25, help="share of written articles whose labels are kept")
    args = parser.parse_args(argv)
    if not 0 < args.labeled < 1:
        parser.error("--labeled must lie between 0 and 1 (a share of the written articles)")
    labels = corpus_labels()
    runs, n_chosen = rows_to_run(labels, args.labeled)
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "rows.jsonl"
    stored = read_rows(store)
    others = [r for r in stored if r.get("labeled") != args.labeled]
    done = [r for r in stored if r.get("labeled") == args.labeled]
    for name, factory, train_filter in runs:
        if any(r["name"] == name for r in done):
            continue
        if name == "all labels" and (reused := _shipped_default_row(args.labeled, n_chosen)) is not None:
            done.append(reused)
            continue
        start = time.perf_counter()
        oof = out_of_fold(labels, factory, targets=TARGETS, train_filter=train_filter)
        row = scored_row({"name": name, "labeled": args.labeled, "labeled_articles": n_chosen}, oof, start)
        print(json.dumps({k: v for k, v in row.items() if k != "oof"}), flush=True)
        done.append(row)
        atomic_write_text(store, "".join(json.dumps(r) + "\n" for r in others + done))
    atomic_write_text(OUT / "teacher.md", render(others + done, [name for name, _, _ in runs]))


if __name__ == "__main__":
    with on_all_cores():  # the C searches on every core, as in `stance train`: same figures, half the time
        main()
