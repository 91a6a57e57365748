"""The search over fine-tuning settings: one setting per run, macro-F1 under the same grouped folds.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/finetune_search.py NAME 'SETTINGS-JSON'

``SETTINGS-JSON`` holds keyword arguments of :class:`stance.finetune.FineTunedClassifier`
(e.g. ``{"layers": 6, "epochs": 3, "lr": 5e-5}``), or ``{"kind": "frozen"}`` for the
frozen default (:class:`stance.model.StanceClassifier`), plus ``"encoder": "mpnet"`` for
all-mpnet-base-v2 and ``"variant": NAME`` for a variant of the actor indicators
(``experiments/actor_variants.py``); ``{"kind": "target-views", "shared": BOOL}`` for one head over
both targets (``experiments/target_views.py``). ``{"kind": "blend", "members": [SETTINGS, ...]}`` averages
its members' probabilities (each member's settings as above, its variant applied to it
alone) and takes the likeliest label, without abstaining; with ``"decide": "first"`` the first
member's own rule decides from the averaged probabilities (its abstention thresholds). Each run computes out-of-fold predictions on leave-one-seed-article-out
and grouped 5-fold over the written corpus (the folds of ``stance train``), appends a row
to ``experiments/finetune/search.jsonl`` and rewrites ``search.md`` from all rows. Labels
as each model decides them (no temperature; the frozen default's abstention threshold
included). Settings are compared by macro-F1 averaged over both targets and both evaluations.

Each row also keeps its out-of-fold labels (one letter a sentence), so that the table can
give every row's difference from the shipped default (``REFERENCE``) with a paired 95%
bootstrap interval: the same resampled sentences score both, which is what tells a real
gain from the noise of 94 seed sentences.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from actor_variants import applied  # noqa: E402
from stance.encoders import make_encoder  # noqa: E402
from stance.encoders.mpnet import MPNET_SHA256  # noqa: E402
from stance.evaluation import classification_metrics, out_of_fold  # noqa: E402
from stance.fileio import atomic_write_text  # noqa: E402
from stance.finetune import FineTunedClassifier  # noqa: E402
from stance.model import StanceClassifier, on_all_cores  # noqa: E402
from stance.schema import STANCES, in_stance_order, load_labels  # noqa: E402
from target_views import TargetViewClassifier  # noqa: E402

OUT = REPO / "experiments" / "finetune"
TARGETS = ["russia", "eu"]
COLUMNS = ["seed_loao/russia", "seed_loao/eu", "written_cv/russia", "written_cv/eu"]
#: The row of the shipped configuration (`stance train`'s default), which every other row is compared with.
REFERENCE = "frozen-default"


def is_reference(row: dict) -> bool:
    """Whether a row is the shipped default's: ``frozen-default``, or ``frozen-default@DATE`` made again on that
    day, when the labels or the splitter had changed the scored sentences, or the default itself had changed
    (``@DATE+WHAT``). Each row compares with the latest default made on its own sentences; a row made before the
    default changed keeps the settings it ran with, written out."""
    return row["name"] == REFERENCE or row["name"].startswith(REFERENCE + "@")

#: The kind of a setting that names none.
DEFAULT_KIND = "fine-tuned"
#: One letter per label in a row's kept predictions; "." where a sentence has no label for the target.
LETTERS = {"favor": "f", "against": "a", "none": "n", None: "."}


class _Setting(NamedTuple):
    """One setting of the search: the model kind, its encoder (built once for all folds), its arguments, its variant."""

    kind: str
    encoder: object
    kwargs: dict
    variant: str | None


def _spec(settings: dict) -> _Setting:
    settings = dict(settings)
    kind = settings.pop("kind", DEFAULT_KIND)
    encoder = make_encoder(settings.pop("encoder", None))
    variant = settings.pop("variant", None)
    return _Setting(kind, encoder, settings, variant)


def _unfitted(spec: _Setting):
    if spec.kind == "fine-tuned":
        return FineTunedClassifier(encoder=spec.encoder, **spec.kwargs)
    if spec.kind == "target-views":
        return TargetViewClassifier(encoder=spec.encoder, **spec.kwargs)
    return StanceClassifier(encoder=spec.encoder, **spec.kwargs)


class _Blend:
    """Members fitted on the same rows; their probabilities averaged, the likeliest label taken.

    ``decide="first"``: the first member's ``decide`` labels the averaged probabilities instead
    (its per-target abstention threshold), so that a blend led by the default abstains as it does.
    """

    targets_ = TARGETS

    def __init__(self, specs: list[_Setting], decide: str = "argmax"):
        if decide not in ("argmax", "first"):
            raise ValueError(f"decide must be 'argmax' or 'first', not {decide!r}")
        self.members = [(_unfitted(spec), spec.variant) for spec in specs]
        self.decide_by = decide

    def fit(self, X, y, groups=None, **unscored):
        for model, variant in self.members:
            with applied(variant):
                model.fit(X, y, groups=groups, **unscored)
        self.classes_ = [np.asarray(STANCES, dtype=object) for _ in TARGETS]
        # What `stance check` reads of a model: its first member's encoder, every member's heads.
        self.encoder_ = self.members[0][0].encoder_
        self.heads_ = [model.heads_ for model, _ in self.members]
        return self

    def predict(self, X) -> np.ndarray:
        return np.stack([self.decide(t, p) for t, p in zip(TARGETS, self.predict_proba(X))], axis=1)

    def predict_proba(self, X) -> list[np.ndarray]:
        total = [np.zeros((len(X), len(STANCES))) for _ in TARGETS]
        for model, variant in self.members:
            with applied(variant):
                for j, proba in enumerate(model.predict_proba(X)):
                    total[j] += in_stance_order(proba, model.classes_[j]) / len(self.members)
        return total

    def decide(self, target: str, proba: np.ndarray) -> np.ndarray:
        if self.decide_by == "first":
            first = self.members[0][0]
            classes = first.classes_[first.targets_.index(target)]
            order = [STANCES.index(c) for c in classes]
            return first.decide(target, proba[:, order])
        return np.asarray(STANCES, dtype=object)[proba.argmax(axis=1)]


def unfitted_model(settings: dict):
    """The model a row's ``settings`` name, unfitted, and the actor variant to apply around it (None for a blend)."""
    if settings.get("kind") == "blend":
        return _Blend([_spec(m) for m in settings["members"]], settings.get("decide", "argmax")), None
    spec = _spec(settings)
    return _unfitted(spec), spec.variant


def corpus_labels(extra: list[str] = ()):
    """The labels every row is made on: the seed articles' and the written corpus's, plus ``extra`` files.

    An extra file (a path from the repository's root) holds ``contrast`` rows, which every fold
    trains on and none scores, so that the scored sentences stay those of every other row.
    """
    extra_files = [REPO / path for path in extra]
    labels = load_labels([REPO / "labels" / "seeds.jsonl", REPO / "labels" / "written.jsonl", *extra_files],
                         articles=[REPO / "seeds"])
    extra_files = set(map(str, extra_files))
    stray = next((source for source, origin in zip(labels["source"], labels["origin"])
                  if origin != "contrast" and source.rsplit(":", 1)[0] in extra_files), None)
    if stray is not None:
        raise SystemExit(f"{stray}: an extra label file's rows must have origin 'contrast': only those stay out of the scored folds")
    return labels


def training_data(settings: dict) -> tuple[list[str], bool, dict]:
    """A setting's extra label files (``"labels": [PATH, ...]``), whether their rows stay out of the head's choices, the rest.

    Contrast rows train every fold's heads and, like any training row, score its choices of C,
    temperature and threshold; ``"contrast_unscored": true`` has them train only
    (``StanceClassifier.fit(unscored=...)``), as ``contrast-70-unscored`` was made.
    """
    rest = {k: v for k, v in settings.items() if k not in ("labels", "contrast_unscored")}
    return list(settings.get("labels", [])), bool(settings.get("contrast_unscored", False)), rest


def unscoring_contrast(model, labels=None):
    """``model``, whose ``fit`` marks the rows of ``labels``' contrast articles ``unscored`` (unchanged without labels)."""
    if labels is not None:
        contrast = sorted({a for a, o in zip(labels["article"], labels["origin"]) if o == "contrast"})
        fit = model.fit
        model.fit = lambda X, y, groups=None: fit(X, y, groups=groups, unscored=np.isin(groups, contrast))
    return model


def read_rows(store: Path) -> list[dict]:
    """The rows kept in a JSON-lines file (none if it is not there yet)."""
    return [json.loads(line) for line in store.read_text("utf-8").splitlines()] if store.is_file() else []


def shown_difference(difference: tuple[float, float, float]) -> str:
    """A paired difference from :func:`mean_difference` as the tables print it."""
    return "{:+.3f} [{:+.3f}, {:+.3f}]".format(*difference)


def run(name: str, settings: dict) -> dict:
    extra, contrast_unscored, settings = training_data(settings)
    labels = corpus_labels(extra)
    unscored = labels if contrast_unscored else None
    start = time.perf_counter()
    if settings.get("kind") == "blend":
        specs = [_spec(m) for m in settings["members"]]
        decide = settings.get("decide", "argmax")
        oof = out_of_fold(labels, lambda: unscoring_contrast(_Blend(specs, decide), unscored), targets=TARGETS)
        shown = {"members": settings["members"]} | ({"decide": decide} if decide != "argmax" else {})
        row = {"name": name, "kind": "blend", "settings": shown,
               "encoder": "+".join(dict.fromkeys(spec.encoder.model_id for spec in specs))}
    else:
        spec = _spec(settings)
        with applied(spec.variant):
            oof = out_of_fold(labels, lambda: unscoring_contrast(_unfitted(spec), unscored), targets=TARGETS)
        shown = {**spec.kwargs, "variant": spec.variant} if spec.variant else spec.kwargs
        row = {"name": name, "kind": spec.kind, "settings": shown, "encoder": spec.encoder.model_id}
    if extra:
        row["settings"] = {**row["settings"], "labels": extra} | ({"contrast_unscored": True} if contrast_unscored else {})
    return scored_row(row, oof, start)


def kept_labels(oof: dict) -> dict:
    """``out_of_fold``'s gold and predicted labels, one letter a sentence, per evaluation and target (the ``COLUMNS``).

    Compact enough to keep with a row, and all :func:`mean_difference` needs.
    """
    kept = {}
    for plan, result in oof["plans"].items():
        index = result["index"]
        for j, target in enumerate(TARGETS):
            gold, pred = oof["y"][index, j], result["pred"][index, j]
            kept[f"{plan}/{target}"] = {"gold": "".join(LETTERS[g] for g in gold),
                                        "pred": "".join(LETTERS[p] if g is not None else "." for g, p in zip(gold, pred))}
    return kept


def scored_row(row: dict, oof: dict, start: float) -> dict:
    """``row`` with the macro-F1 of ``out_of_fold``'s predictions, the kept labels, the mean and the time since ``start``."""
    for plan, result in oof["plans"].items():
        index = result["index"]
        for j, target in enumerate(TARGETS):
            gold = oof["y"][index, j]
            labeled = np.array([g is not None for g in gold])
            m = classification_metrics(gold[labeled], result["pred"][index, j][labeled], n_bootstrap=0)
            row[f"{plan}/{target}"] = round(m["macro_f1"], 3)
    row["oof"] = kept_labels(oof)
    row["mean"] = round(float(np.mean([row[c] for c in COLUMNS])), 4)
    row["cv_seconds"] = round(time.perf_counter() - start)
    row["date"] = time.strftime("%Y-%m-%d")
    return row


def mean_difference(row: dict, reference: dict, n_bootstrap: int = 1000, seed: int = 0) -> tuple[float, float, float] | None:
    """``row``'s mean of the four macro-F1 minus ``reference``'s, with a paired 95% bootstrap interval.

    Each resample draws the sentences of each evaluation with replacement and
    scores both rows on the same draw (both targets of a sentence together).
    None when either row lacks kept predictions or they were made on other labels.
    """
    from stance.evaluation import _confusion, _macro_and_avg

    if "oof" not in row or "oof" not in reference:
        return None
    if any(row["oof"][c]["gold"] != reference["oof"][c]["gold"] for c in COLUMNS):
        return None
    code = {letter: i for i, letter in enumerate("fan")} | {".": -1}

    def decoded(side: dict) -> dict:
        return {column: tuple(np.array([code[c] for c in side["oof"][column][part]], dtype=int)
                              for part in ("gold", "pred")) for column in COLUMNS}

    def mean_f1(side: dict, draws: dict) -> np.ndarray:
        scores = []
        for column in COLUMNS:
            gold, pred = side[column]
            per_draw = []
            for idx in draws[column.split("/")[0]]:
                t, p = gold[idx], pred[idx]
                keep = t >= 0
                per_draw.append(_macro_and_avg(_confusion(t[keep], p[keep], 3))[0])
            scores.append(per_draw)
        return np.mean(scores, axis=0)

    rng = np.random.default_rng(seed)
    sizes = {c.split("/")[0]: len(row["oof"][c]["gold"]) for c in COLUMNS}
    full = {plan: [np.arange(n)] for plan, n in sizes.items()}
    draws = {plan: rng.integers(0, n, (n_bootstrap, n)) for plan, n in sizes.items()}
    row, reference = decoded(row), decoded(reference)
    point = float(mean_f1(row, full)[0] - mean_f1(reference, full)[0])
    low, high = np.percentile(mean_f1(row, draws) - mean_f1(reference, draws), [2.5, 97.5])
    return point, float(low), float(high)


def _described(settings: dict) -> str:
    if "members" in settings:
        decided = ", decided by the first" if settings.get("decide") == "first" else ""
        return " + ".join(f"({m.get('kind', DEFAULT_KIND)}: {_described({k: v for k, v in m.items() if k != 'kind'})})"
                          for m in settings["members"]) + decided
    return ", ".join(f"{k}={v}" for k, v in settings.items()) or "defaults"


def render(rows: list[dict]) -> str:
    lines = ["# Fine-tuning search", "",
             "Rows made by `HF_HUB_OFFLINE=1 .venv/bin/python experiments/finetune_search.py NAME 'SETTINGS'` "
             "(settings in the second column); macro-F1 of the out-of-fold labels as each model decides them "
             "(the frozen default's abstention threshold included, no threshold for the fine-tuned), on the "
             f"folds of `stance train`; `mean` averages the four. `vs {REFERENCE}`: the mean minus the shipped "
             "default's, with a paired 95% bootstrap interval over sentences (1,000 resamples; the same sentences score "
             f"both rows), against the latest `{REFERENCE}` row made on the same sentences (`{REFERENCE}@DATE`: the "
             "default made again on a day when the scored sentences had changed; `@DATE+WHAT`: on a day when the "
             "default changed, since when every row made earlier shows the settings it ran with, written out); "
             "`-` for rows made before their "
             "predictions were kept, which is also before the heads were "
             "solved to 1e-8 and near-ties went to the simpler candidate (`stance.model.SOLVER_TOL`, `TIE_MARGIN`), "
             "when the thread count alone could change a C. `cv s`: wall seconds for all ten folds "
             "on 2 cores, often shared with another run, so compare them loosely.", "",
             "| name | settings | encoder | seed LOAO russia | seed LOAO eu | written CV russia | written CV eu "
             f"| mean | vs {REFERENCE} | cv s | date |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    references = [r for r in rows if is_reference(r)]
    for r in sorted(rows, key=lambda r: -r["mean"]):
        settings = _described(r["settings"])
        encoder = " + ".join("all-mpnet-base-v2" if MPNET_SHA256 in e else Path(e).name for e in r["encoder"].split("+"))
        # against the latest default made on the same sentences (a change to the splitter can move a few)
        difference = None if is_reference(r) else next(
            (d for d in map(lambda ref: mean_difference(r, ref), reversed(references)) if d is not None), None)
        versus = "-" if difference is None else shown_difference(difference)
        lines.append(f"| {r['name']} | {r['kind']}: {settings} | {encoder} | "
                     + " | ".join(f"{r[c]:.3f}" for c in COLUMNS)
                     + f" | **{r['mean']:.3f}** | {versus} | {r['cv_seconds']} | {r['date']} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    row = run(argv[0], json.loads(argv[1]))
    print(json.dumps(row))
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "search.jsonl"
    folder = os.open(OUT, os.O_RDONLY)
    try:  # runs side by side finish one at a time: none of them drops another's row
        fcntl.flock(folder, fcntl.LOCK_EX)
        rows = read_rows(store)
        rows = [r for r in rows if r["name"] != row["name"]] + [row]
        atomic_write_text(store, "".join(json.dumps(r) + "\n" for r in rows))
        atomic_write_text(OUT / "search.md", render(rows))
    finally:
        os.close(folder)


if __name__ == "__main__":
    with on_all_cores():  # the C searches on every core, as in `stance train`: same figures, half the time
        main()
