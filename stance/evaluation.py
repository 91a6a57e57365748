"""Evaluation grouped by article, with baselines, intervals and the worst errors.

Two evaluations, never mixed:

* ``seed_loao`` (the headline): leave one real seed article out at a time,
  train on everything else (other seeds and the written corpus), predict it.
* ``written_cv``: grouped k-fold over the written articles, each fold trained
  on everything else. Written text is cleaner than real reporting, so its
  scores are reported apart and say less about real articles.

Sentences are never split randomly: an article's sentences share wording and
context, and a random split would let a model see its own test article.
Page furniture is neither trained on nor scored, as in :func:`score_article`.
Each system (the model, TF-IDF + LogisticRegression, and the majority class)
is trained and tested on the same folds; sentences are embedded once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from stance.errors import LabelFormatError
from stance.features import items_with_context
from stance.fileio import atomic_write_bytes, atomic_write_text
from stance.paths import write_error
from stance.schema import STANCES, in_stance_order

__all__ = ["EvaluationReport", "classification_metrics", "evaluate", "expected_calibration_error", "out_of_fold",
           "paired_difference", "scored_sentences", "training_problem"]

SYSTEMS = ("model", "tfidf", "majority")
#: The systems the model is compared with; their out-of-fold labels are kept in predictions.jsonl too.
BASELINES = SYSTEMS[1:]


# --- metrics --------------------------------------------------------------------


#: The evaluations a report may hold, headline first: seed leave-one-article-out, written grouped k-fold.
PLANS = ("seed_loao", "written_cv")


def _confusion(true_idx: np.ndarray, pred_idx: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(true_idx * k + pred_idx, minlength=k * k).reshape(k, k)


def _scores_from_confusion(cm: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    tp = np.diag(cm).astype(float)
    pred, true = cm.sum(axis=0), cm.sum(axis=1)
    precision = np.divide(tp, pred, out=np.zeros_like(tp), where=pred > 0)
    recall = np.divide(tp, true, out=np.zeros_like(tp), where=true > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return precision, recall, f1


def _macro_and_avg(cm: np.ndarray) -> tuple[float, float]:
    f1 = _scores_from_confusion(cm)[2]
    return float(f1.mean()), float(f1[:2].mean())  # STANCES order: favor, against, none


def _codes(labels: Sequence[str]) -> np.ndarray:
    index = {s: i for i, s in enumerate(STANCES)}
    return np.array([index[v] for v in labels], dtype=int)


def _bootstrap_interval(statistic, n: int, n_bootstrap: int, random_state: int) -> np.ndarray:
    """The 2.5th and 97.5th percentiles of ``statistic(idx)`` over ``n_bootstrap`` resamples of ``n`` sentences."""
    rng = np.random.default_rng(random_state)
    samples = np.array([statistic(idx) for idx in rng.integers(0, n, (n_bootstrap, n))])
    return np.percentile(samples, [2.5, 97.5], axis=0)


def classification_metrics(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    *,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> dict:
    """Per-class P/R/F1, macro-F1 over the three classes, SemEval F1avg, confusion, 95% CIs.

    ``f1_avg`` is the SemEval-2016 measure: the mean of F1(favor) and F1(against).
    Intervals are percentile bootstrap over sentences (resampled with replacement),
    which ignores the correlation of sentences within an article and so is, if
    anything, too narrow; the per-article scores show the spread between articles.
    A class absent from both gold and predictions scores F1 = 0.
    """
    k = len(STANCES)
    t, p = _codes(y_true), _codes(y_pred)
    cm = _confusion(t, p, k)
    precision, recall, f1 = _scores_from_confusion(cm)
    macro, f1_avg = _macro_and_avg(cm)
    result = {
        "n": int(len(t)),
        "accuracy": float((t == p).mean()) if len(t) else 0.0,
        "macro_f1": macro,
        "f1_avg": f1_avg,
        "per_class": {
            s: {"precision": float(precision[i]), "recall": float(recall[i]), "f1": float(f1[i]), "support": int(cm[i].sum())}
            for i, s in enumerate(STANCES)
        },
        "confusion": cm.tolist(),
    }
    if n_bootstrap and len(t):
        low, high = _bootstrap_interval(lambda idx: _macro_and_avg(_confusion(t[idx], p[idx], k)), len(t),
                                        n_bootstrap, random_state)
        result["macro_f1_ci"] = [float(low[0]), float(high[0])]
        result["f1_avg_ci"] = [float(low[1]), float(high[1])]
    return result


def paired_difference(
    y_true: Sequence[str],
    y_pred: Sequence[str],
    y_baseline: Sequence[str],
    *,
    n_bootstrap: int = 1000,
    random_state: int = 0,
) -> dict:
    """Macro-F1 and F1avg of ``y_pred`` minus those of ``y_baseline``, with paired 95% bootstrap intervals.

    Each resample scores both systems on the same sentences, so the interval
    is that of the difference itself: far narrower than two separate
    intervals, and the honest test of "beats the baseline". An interval that
    holds 0 means the sentences cannot tell the two apart.
    """
    k = len(STANCES)
    t, p, b = _codes(y_true), _codes(y_pred), _codes(y_baseline)

    def gain(idx) -> np.ndarray:
        return np.subtract(_macro_and_avg(_confusion(t[idx], p[idx], k)), _macro_and_avg(_confusion(t[idx], b[idx], k)))

    point = gain(np.arange(len(t)))
    result = {"macro_f1": float(point[0]), "f1_avg": float(point[1])}
    if n_bootstrap and len(t):
        low, high = _bootstrap_interval(gain, len(t), n_bootstrap, random_state)
        result["macro_f1_ci"] = [float(low[0]), float(high[0])]
        result["f1_avg_ci"] = [float(low[1]), float(high[1])]
    return result


def expected_calibration_error(proba: np.ndarray, y_true: Sequence[str], classes, n_bins: int = 10) -> float:
    """Top-label ECE: the sentence-weighted gap between confidence and accuracy over equal-width bins."""
    proba = np.asarray(proba, dtype=float)
    if not len(proba):
        return 0.0
    confidence = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == np.asarray(y_true)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    gap = 0.0
    for b in range(n_bins):
        inside = bins == b
        if inside.any():
            gap += inside.sum() * abs(confidence[inside].mean() - correct[inside].mean())
    return float(gap / len(proba))


# --- cross-validation --------------------------------------------------------------


def _folds(articles: np.ndarray, origins: np.ndarray, n_written_folds: int) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """Named fold plans: (fold name, train indices, test indices)."""
    from sklearn.model_selection import GroupKFold

    plans: dict[str, list] = {}
    everything = np.arange(len(articles))
    seeds = sorted(set(articles[origins == "seed"].tolist()))
    if seeds:
        plans["seed_loao"] = [(a, everything[articles != a], everything[articles == a]) for a in seeds]
    written = everything[origins == "written"]
    n_articles = len(set(articles[written].tolist()))
    if n_articles >= 2:
        splitter = GroupKFold(n_splits=min(n_written_folds, n_articles))
        plans["written_cv"] = []
        for i, (_, test_pos) in enumerate(splitter.split(written, groups=articles[written])):
            test = written[test_pos]
            plans["written_cv"].append((f"fold {i + 1}", np.setdiff1d(everything, test), test))
    return plans


def training_problem(labels, targets: Sequence[str], *, cv: int = 5, n_written_folds: int = 5) -> str | None:
    """Why these labels cannot be evaluated by article and trained on, or None.

    Every logistic regression that :func:`evaluate` and the final fit will train
    (each fold's, and each fold's search for C, grouped by article) needs labels
    of two classes per target; this finds the first that would not have them,
    from the labels alone, before any sentence is embedded.
    """
    unprintable = next((t for t in targets if not t.isprintable() or not t.strip()), None)
    if unprintable is not None:  # a model's target names head every output: its report, its scores, its pages
        return (f"target {unprintable!r} is blank or holds a control character (a stray escape code?); rename it "
                "in the label files to plain text, such as 'russia'")
    _, texts, _, articles, origins, y = scored_sentences(labels, targets)
    if not len(texts):
        return "no sentence left to train on (all rows are page furniture); label real sentences"
    for j, target in enumerate(targets):
        present = sorted({v for v in y[:, j] if v is not None})
        if not present:
            return f"no labels for target {target!r}; label sentences for it, or leave it out of the label files"
        if len(present) == 1:
            return (f"every label for target {target!r} is {present[0]!r}; training needs two classes of "
                    f"favor/against/none: label {target} sentences of another class")
    names = sorted(set(articles.tolist()))
    if len(names) < 2:
        return (f"every labeled sentence is from one article ({names[0]}); evaluation by article needs at least "
                "two: label sentences of another article")
    plans = _folds(articles, origins, n_written_folds)
    if not plans:
        return ("nothing to evaluate on: contrast labels are trained on, never scored, and the rest come from fewer "
                "than two articles; add labels of seed or written articles")
    sets = [("", np.arange(len(texts)))]
    for plan, folds in plans.items():
        for name, train, test in folds:
            held_out = name if plan == "seed_loao" else ", ".join(sorted(set(articles[test].tolist())))
            sets.append((f"without article(s) {held_out}", train))
    for where, rows in sets:
        problem = _fit_problem(y[rows], articles[rows], targets, cv)
        if problem is not None:
            return " ".join(filter(None, [where, problem]))
    return None


def _fit_problem(y, groups, targets, cv) -> str | None:
    """Why a fit on these rows would fail (a target with no labels, or one class in a fit), or None."""
    from stance.model import head_training_sets

    for j, target in enumerate(targets):
        labeled = np.array([v is not None for v in y[:, j]], dtype=bool)
        if not labeled.any():
            return (f"no {target!r} labels are left to train on; label {target} sentences in more articles")
        gold = y[labeled, j]
        for i, rows in enumerate(head_training_sets(groups[labeled], cv)):
            present = sorted(set(gold[rows].tolist()))
            if len(present) < 2:
                inside = " in one of the folds that choose C" if i else ""
                return (f"the {target!r} labels{inside} are all {present[0]!r}, and every fit (grouped by article) "
                        f"needs two classes; label {target} sentences of another class in more articles")
    return None


def scored_sentences(labels, targets: Sequence[str]):
    """The labeled sentences that are scored (furniture left out), as the folds use them.

    Returns the selected rows, their texts, context items, article and origin
    arrays, and the gold labels as an object array of shape (n, n_targets).
    """
    rows = labels.select([i for i, f in enumerate(labels["furniture"]) if f is None])
    texts = list(rows["text"])
    items = items_with_context(texts, list(rows["article"]), list(rows["sentence"]))
    articles = np.asarray(rows["article"], dtype=object)
    origins = np.asarray(rows["origin"], dtype=object)
    y = np.stack([np.asarray(rows[t], dtype=object) for t in targets], axis=1)
    return rows, texts, items, articles, origins, y


def out_of_fold(labels, make_model, *, targets: Sequence[str], n_written_folds: int = 5, plans=None,
                train_filter=None) -> dict:
    """Out-of-fold predictions of a configuration under the evaluation plans.

    ``make_model()`` returns an unfitted :class:`StanceClassifier`;
    ``train_filter(train_indices, articles, origins)`` may narrow each fold's
    training rows (e.g. seeds only). Returns, per plan, the test ``index``
    array, ``y`` (gold, object array n x targets), ``pred`` (labels) and
    ``proba`` (per target, probabilities in ``classes`` order), plus ``rows``
    information shared by the plans.
    """
    rows, texts, items, articles, origins, y = scored_sentences(labels, targets)
    out = {"texts": texts, "articles": articles, "origins": origins, "y": y, "plans": {}}
    for plan, folds in _folds(articles, origins, n_written_folds).items():
        if plans is not None and plan not in plans:
            continue
        index = np.concatenate([test for _, _, test in folds])
        pred = np.empty((len(texts), len(targets)), dtype=object)
        proba = [np.zeros((len(texts), len(STANCES))) for _ in targets]
        for _, train, test in folds:
            if train_filter is not None:
                train = train_filter(train, articles, origins)
            fitted = make_model().fit([items[i] for i in train], y[train], groups=articles[train])
            fold_proba = fitted.predict_proba([items[i] for i in test])
            for j, target in enumerate(targets):
                proba[j][test] = in_stance_order(fold_proba[j], fitted.classes_[j])
                pred[test, j] = fitted.decide(target, fold_proba[j])
        out["plans"][plan] = {"index": index, "pred": pred, "proba": proba, "classes": list(STANCES)}
    return out


PLAN_DESCRIPTIONS = {
    "seed_loao": "Leave-one-article-out over the real seed articles (each fold trained on all other labeled articles)",
    "written_cv": "Grouped k-fold over the written corpus (each fold trained on all other labeled articles)",
}


def _systems(model, encoder):
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.model import DEFAULT_CS, StanceClassifier

    params = model.get_params(deep=False)
    common = {"targets": params["targets"], "Cs": DEFAULT_CS, "cv": 5, "context": False, "ngrams": False, "actors": False,
              "renamed_copies": False, "question_rule": False, "pressure_rule": False, "calibrate": False, "abstain": False}
    return {
        "model": lambda: type(model)(**{**params, "encoder": encoder}),
        "tfidf": lambda: StanceClassifier(
            encoder=TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1), **common
        ),
        "majority": lambda: StanceClassifier(encoder=encoder, head=DummyClassifier(strategy="most_frequent"), **common),
    }


@dataclass
class EvaluationReport:
    """Results of :func:`evaluate`: metrics per plan, target and system, plus provenance.

    ``evaluations[plan]["targets"][target][system]`` holds the output of
    :func:`classification_metrics`; ``plan`` is ``seed_loao`` (headline) or
    ``written_cv``; ``system`` is ``model``, ``tfidf`` or ``majority``. Beside
    them, ``gain_over_tfidf`` (:func:`paired_difference`, model minus TF-IDF)
    and ``per_article`` (the model's macro-F1 per held-out article).
    """

    targets: list[str]
    evaluations: dict = field(default_factory=dict)
    worst_errors: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)

    def out_of_fold_probabilities(self, target: str) -> tuple[np.ndarray, np.ndarray]:
        """The model's out-of-fold probabilities (STANCES order) and gold labels for a target, all plans pooled."""
        j = self.targets.index(target)
        proba, gold = [], []
        for plan in getattr(self, "out_of_fold_", {}).values():
            labeled = np.array([v is not None for v in plan["y"][:, j]], dtype=bool)
            proba.append(plan["proba"][j][labeled])
            gold.append(plan["y"][labeled, j].astype(str))
        if not proba:
            return np.zeros((0, len(STANCES))), np.zeros(0, dtype=str)
        return np.concatenate(proba), np.concatenate(gold)

    def predictions_jsonl(self) -> str:
        """Every evaluated sentence's out-of-fold prediction, one JSON object a line.

        ``{"plan", "article", "sentence", "text", target: {"gold", "predicted", "proba": {...},
        "baselines": {"tfidf": label, "majority": label}}}``: the sentences behind every number
        of the report, the baselines' figures and the gains over them included.
        """
        lines = []
        for plan, run in self.out_of_fold_.items():
            sentence_rows = zip(run["article"], run["sentence"], run["text"], run["y"], run["pred"])
            for i, (article, sentence, text, gold, pred) in enumerate(sentence_rows):
                row = {"plan": plan, "article": article, "sentence": sentence, "text": text}
                for j, target in enumerate(self.targets):
                    row[target] = {"gold": gold[j], "predicted": pred[j],
                                   "proba": {s: round(float(p), 6) for s, p in zip(STANCES, run["proba"][j][i])}}
                    if "baselines" in run:
                        row[target]["baselines"] = {system: run["baselines"][system][i][j] for system in BASELINES}
                lines.append(json.dumps(row, ensure_ascii=False))
        return "".join(line + "\n" for line in lines)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    def headline(self, target: str, system: str = "model") -> dict | None:
        """Metrics of the headline plan (seed LOAO, else written CV) for a target."""
        for plan in PLANS:
            if plan in self.evaluations:
                by_target = self.evaluations[plan]["targets"]
                if target not in by_target or system not in by_target[target]:
                    from stance.errors import InputError

                    raise InputError(f"no {system!r} metrics for target {target!r}; this report has targets "
                                     f"{', '.join(by_target)} and systems {', '.join(next(iter(by_target.values()), {}))}")
                return by_target[target][system]
        return None

    def to_markdown(self) -> str:
        from stance.report import render_markdown

        return render_markdown(self)

    def write(self, folder: str | Path) -> Path:
        """Write ``report.md``, ``metrics.json``, confusion-matrix PNGs and, with predictions, ``report.html`` into ``folder``."""
        from stance.paths import given_path
        from stance.report import confusion_png

        folder = given_path(folder, "the report folder", "give a folder path").expanduser()
        check_report_folder(folder, model_dir=self.provenance.get("model_folder"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise write_error(folder, err, "cannot write the report to") from None
        for plan, result in self.evaluations.items():
            atomic_write_bytes(folder / f"confusion_{plan}.png", confusion_png(result, self.targets))
        atomic_write_text(folder / "metrics.json", self.to_json())
        if getattr(self, "out_of_fold_", None):
            atomic_write_text(folder / "predictions.jsonl", self.predictions_jsonl())
            from stance.report import write_evaluation_page

            write_evaluation_page(folder)
        atomic_write_text(folder / "report.md", self.to_markdown())
        for plan in set(PLANS) - set(self.evaluations):  # an earlier report's figure of a plan this run has not
            stale = folder / f"confusion_{plan}.png"
            if is_report_file(stale):
                stale.unlink(missing_ok=True)
        return folder


def _check_evaluation(labels, model, **settings) -> None:
    """Refuse, before any sentence is embedded, labels that are no Dataset, a model that is none, a count that is none."""
    from stance.errors import InputError, check_count, kind_of

    if not hasattr(labels, "column_names") or not hasattr(labels, "select"):
        raise InputError(f"labels is {type(labels).__name__}; pass the Dataset stance.load_labels returns")
    if model is not None and (isinstance(model, type) or not hasattr(model, "targets") or not hasattr(model, "encoder")):
        raise InputError(f"model is {kind_of(model)}; pass a StanceClassifier to cross-validate (not fitted), or None")
    least = {"n_written_folds": 2, "n_bootstrap": 1, "n_worst": 0, "random_state": 0}
    for name, value in settings.items():
        check_count(value, name, least[name])


def evaluate(
    labels,
    model=None,
    *,
    n_written_folds: int = 5,
    n_bootstrap: int = 1000,
    n_worst: int = 10,
    random_state: int = 0,
) -> EvaluationReport:
    """Cross-validate a (not yet fitted) model by article, beside two baselines.

    Parameters
    ----------
    labels : datasets.Dataset
        As returned by :func:`load_labels` (columns article, text, targets, origin, furniture).
    model : StanceClassifier, default=None
        The configuration to evaluate; its encoder is shared across folds. None
        means ``StanceClassifier()`` with the bundled MiniLM.

    Returns
    -------
    EvaluationReport
    """
    from stance.encoders.transformer import SentenceEncoder
    from stance.model import StanceClassifier, target_names

    from sklearn.utils import get_tags

    _check_evaluation(labels, model, n_written_folds=n_written_folds, n_bootstrap=n_bootstrap, n_worst=n_worst,
                      random_state=random_state)
    model = StanceClassifier() if model is None else model
    encoder = model.encoder if model.encoder is not None else SentenceEncoder()
    targets = target_names(model.targets)
    missing = [c for c in ("article", "sentence", "text", "origin", "furniture", *targets) if c not in labels.column_names]
    if missing:
        raise LabelFormatError(f"the labels have no column {missing[0]!r}; load them with stance.load_labels, and give "
                               f"the model the targets they were labeled for (StanceClassifier(targets=...))")
    problem = training_problem(labels, targets, cv=getattr(model, "cv", 5), n_written_folds=n_written_folds)
    if problem is not None:
        raise LabelFormatError(f"labels cannot be evaluated by article: {problem}")
    rows, texts, items, articles, origins, y = scored_sentences(labels, targets)
    sentence_index = list(rows["sentence"])
    if not get_tags(encoder).requires_fit:
        encoder.transform(texts)  # embed every sentence once; folds reuse the memo
    factories = _systems(model, encoder)
    report = EvaluationReport(targets=targets)
    report.out_of_fold_ = {}  # per plan, the model's out-of-fold predictions (written as predictions.jsonl)
    for plan, folds in _folds(articles, origins, n_written_folds).items():
        test_all = np.concatenate([test for _, _, test in folds])
        predictions = {s: np.empty((len(texts), len(targets)), dtype=object) for s in SYSTEMS}
        confidence = np.zeros((len(texts), len(targets)))
        model_proba = np.zeros((len(targets), len(texts), len(STANCES)))
        chosen = []
        for name, train, test in folds:
            for system, make in factories.items():
                fitted = make().fit([items[i] for i in train], y[train], groups=articles[train])
                probas = fitted.predict_proba([items[i] for i in test])  # features built once for both uses
                predictions[system][test] = np.stack([fitted.decide(t, p) for t, p in zip(targets, probas)], axis=1)
                if system == "model":
                    confidence[test] = np.stack([p.max(axis=1) for p in probas], axis=1)
                    for j, p in enumerate(probas):
                        model_proba[j][test] = in_stance_order(p, fitted.classes_[j])
                    chosen.append({"fold": name, "params": fitted.best_params_})
        result = {
            "description": PLAN_DESCRIPTIONS[plan],
            "n_articles": int(len(set(articles[test_all].tolist()))),
            "n_sentences": int(len(test_all)),
            "folds": chosen,
            "targets": {},
        }
        for j, target in enumerate(targets):
            labeled = test_all[[y[i, j] is not None for i in test_all]]
            per_target = {
                system: classification_metrics(
                    y[labeled, j], predictions[system][labeled, j], n_bootstrap=n_bootstrap, random_state=random_state
                )
                for system in SYSTEMS
            }
            per_target["gain_over_tfidf"] = paired_difference(
                y[labeled, j], predictions["model"][labeled, j], predictions["tfidf"][labeled, j],
                n_bootstrap=n_bootstrap, random_state=random_state,
            )
            per_target["per_article"] = {
                a: classification_metrics(
                    y[idx, j], predictions["model"][idx, j], n_bootstrap=0
                )["macro_f1"]
                for a in sorted(set(articles[labeled].tolist()))
                for idx in [labeled[articles[labeled] == a]]
            }
            result["targets"][target] = per_target
        report.evaluations[plan] = result
        report.out_of_fold_[plan] = {
            "index": test_all, "y": y[test_all], "proba": model_proba[:, test_all],
            "pred": predictions["model"][test_all], "text": [texts[i] for i in test_all],
            "baselines": {system: predictions[system][test_all] for system in BASELINES},
            "article": articles[test_all].tolist(), "sentence": [int(sentence_index[i]) for i in test_all],
        }
        if not report.worst_errors:
            report.worst_errors = _worst_errors(
                plan, targets, test_all, y, predictions["model"], confidence, texts, articles, rows, n_worst
            )
    report.provenance = {
        "n_sentences_scored": len(texts),
        "n_furniture_excluded": len(labels) - len(texts),
        "by_origin": {o: int((origins == o).sum()) for o in sorted(set(origins.tolist()))},
        "encoder": getattr(encoder, "model_id", type(encoder).__name__),
        "n_bootstrap": n_bootstrap,
        "random_state": random_state,
    }
    return report


def _worst_errors(plan, targets, test_all, y, predicted, confidence, texts, articles, rows, n_worst) -> dict:
    """The most confident wrong predictions of the model, per target."""
    worst = {"plan": plan}
    sentence_index = rows["sentence"]
    for j, target in enumerate(targets):
        wrong = [i for i in test_all if y[i, j] is not None and predicted[i, j] != y[i, j]]
        wrong.sort(key=lambda i: -confidence[i, j])
        worst[target] = [
            {
                "article": str(articles[i]),
                "sentence": int(sentence_index[i]),
                "text": texts[i],
                "gold": y[i, j],
                "predicted": predicted[i, j],
                "confidence": float(confidence[i, j]),
            }
            for i in wrong[:n_worst]
        ]
    return worst


def _report_files() -> dict:
    """What a report folder holds, by name, with the test that a file of that name is one a report wrote."""
    from stance.pages import PAGE_START
    from stance.paths import PNG_START, starts_with

    return {"metrics.json": starts_with('{\n  "targets": ['), "predictions.jsonl": starts_with('{"plan": "'),
            "report.md": starts_with("# Evaluation"), "report.html": starts_with(PAGE_START),
            **{f"confusion_{plan}.png": starts_with(PNG_START) for plan in PLANS}}


def _report_test(name: str):
    """The test that a file of this name is one a report wrote; None for a name a report does not write."""
    import fnmatch

    return next((test for pattern, test in _report_files().items() if fnmatch.fnmatchcase(name, pattern)), None)


def is_report_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (not a link) that a report wrote under its name."""
    test = _report_test(path.name)
    return test is not None and not os.path.islink(path) and path.is_file() and test(path)


def is_report_folder(path: Path) -> bool:
    """Whether ``path`` is a folder (not a link) holding report files and nothing else."""
    try:
        entries = list(path.iterdir()) if path.is_dir() and not os.path.islink(path) else []
    except OSError:
        return False
    return bool(entries) and all(is_report_file(entry) for entry in entries)


def check_report_folder(folder: str | Path, inputs=(), model_dir: str | Path | None = None) -> None:
    """Refuse, before any training, a report folder whose files a report would replace but did not write.

    A folder is new, empty, or an earlier report's (other files, such as notes, stay beside it);
    each file a report writes there must be a regular file an earlier report wrote, never a
    user's file of the same name, a link to one, or one of ``inputs`` (the label files). The
    model folder of the same run (``model_dir``) may stand in it.
    """
    from stance.paths import OutputPathError, refuse_overwriting, special_file

    folder = Path(folder)
    if not folder.is_dir():
        return
    try:
        names = [entry.name for entry in folder.iterdir()]
        ours = 0
        for name in sorted(names):
            test = _report_test(name)
            if test is None:
                continue
            path = folder / name
            refuse_overwriting(path, "--report-dir", inputs)
            if os.path.islink(path) or special_file(path) or path.is_dir():
                raise OutputPathError(f"--report-dir {folder}: its {name} is not a regular file a report wrote "
                                      "(a link, a folder or a FIFO); remove it, or choose another folder")
            if not test(path):
                raise OutputPathError(f"--report-dir {folder}: holds a {name} that no report wrote, and writing the "
                                      "report would replace it; choose another folder, or move the file")
            ours += 1
    except OSError as err:
        raise OutputPathError(f"--report-dir {folder}: cannot be read ({err.strerror or err}); choose another folder") from None
    from stance.persist import MODEL_ENTRIES

    # A model folder may hold its own report (--report-dir = --out), and a report folder its model.
    own_model = {Path(model_dir).name} if model_dir is not None and _same_folder(Path(model_dir).parent, folder) else set()
    others = sorted(set(names) - set(MODEL_ENTRIES) - own_model)
    if others and not ours:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        raise OutputPathError(f"--report-dir {folder}: holds files and no earlier report ({shown}); "
                              "choose an empty or new folder, or one a report was written to")


def _same_folder(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False
