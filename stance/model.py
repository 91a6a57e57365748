"""The stance classifier: one encoder, one lightweight head per target."""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from numbers import Integral, Real
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from stance.errors import (ModelIntegrityError, StanceWarning, TextsError, ValueInputError, check_text, is_table,
                           kind_of, texts_given)
from stance.features import context_embeddings, item_text, ngram_features
from stance.persist import read_model, save_model
from stance.schema import STANCES, TARGETS
from stance.segment import visible_line

__all__ = ["StanceClassifier", "load_model"]

DEFAULT_CS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)
#: Candidate abstention thresholds: below the top probability, a sentence counts as none.
THRESHOLDS = (0.0, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8)
#: Cross-validated scores this close to the best count as a tie, won by the earlier candidate. Another CPU
#: computes the embeddings' last digits differently; without a margin, that alone can flip a near-tie and
#: change the model.
TIE_MARGIN = 1e-3
#: The heads' solver (Newton's method) stops at this gradient size. At scikit-learn's 1e-4 it stops where the
#: arithmetic's last bits (another CPU, another thread count) decide, enough to move fold scores by 0.001 and
#: change C; at 1e-8 the fold scores agree across them, for a few more Newton steps.
SOLVER_TOL = 1e-8


class CalibratedHead:
    """A fitted head with a temperature for its probabilities and an abstention threshold.

    ``predict_proba`` is the head's, sharpened or softened by ``temperature``
    (one number per target, fitted on out-of-fold predictions; it never changes
    the most probable class). ``decide`` turns probabilities into labels, with
    ``none`` when the top probability is below ``threshold``.
    """

    def __init__(self, head, temperature: float = 1.0, threshold: float = 0.0):
        self.head = head
        self.temperature = temperature
        self.threshold = threshold
        self.classes_ = head.classes_

    def predict_proba(self, X) -> np.ndarray:
        return _scale(self.head.predict_proba(X), self.temperature)

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return _decide(proba, self.classes_, self.threshold)


def _scale(proba: np.ndarray, temperature: float) -> np.ndarray:
    if temperature == 1.0:
        return proba
    logits = np.log(np.clip(proba, 1e-12, 1.0)) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    out = np.exp(logits)
    return out / out.sum(axis=1, keepdims=True)


def _decide(proba: np.ndarray, classes, threshold: float) -> np.ndarray:
    classes = np.asarray(classes)
    labels = classes[proba.argmax(axis=1)].astype(object)
    if threshold > 0 and "none" in set(classes.tolist()):
        labels[proba.max(axis=1) < threshold] = "none"
    return labels


def fit_temperature(proba: np.ndarray, y: np.ndarray, classes) -> float:
    """The temperature minimising the log-loss of out-of-fold probabilities."""
    from scipy.optimize import minimize_scalar

    index = {c: i for i, c in enumerate(classes)}
    rows = np.arange(len(y))
    cols = np.array([index[v] for v in y])

    def loss(log_t):
        return -np.mean(np.log(np.clip(_scale(proba, float(np.exp(log_t)))[rows, cols], 1e-12, 1.0)))

    return float(np.exp(minimize_scalar(loss, bounds=(-3.0, 3.0), method="bounded").x))


def first_best(scores, margin: float = TIE_MARGIN) -> int:
    """The index of the first score within ``margin`` of the best (NaN counts as the worst).

    Candidates come in order of preference (no abstention first, the strongest
    regularisation first), so a later one must win by more than the margin.
    """
    scores = np.nan_to_num(np.asarray(scores, dtype=float), nan=-np.inf)
    return int(np.flatnonzero(scores >= scores.max() - margin)[0])


def on_all_cores():
    """A context in which the heads' C searches run on every core (the model is the same as on one).

    The arrays are sent to the workers rather than memory-mapped, so a killed run leaves nothing in /dev/shm.
    """
    import joblib

    return joblib.parallel_config(n_jobs=-1, max_nbytes=None)


def in_float64(features):
    """Features as the heads' solver needs them: float64, dense or sparse.

    The heads are solved to SOLVER_TOL, below float32's precision: on float32
    embeddings alone newton-cg stops at rounding instead, with a line-search
    warning on nearly every fit (the default's n-grams made its features float64 already).
    """
    return features.astype(np.float64, copy=False)


def search_C(Cs, splitter) -> GridSearchCV:
    """A grid search of a balanced logistic regression's ``C`` by macro-F1 over ``splitter``'s folds, tie-stable.

    It runs on one core unless called inside :func:`on_all_cores`, as `stance train` does.
    """
    base = LogisticRegression(class_weight="balanced", solver="newton-cg", tol=SOLVER_TOL, max_iter=5000)
    return GridSearchCV(base, {"C": list(Cs)}, cv=splitter, scoring="f1_macro", refit=_first_best_row)


def _first_best_row(cv_results) -> int:
    return first_best(cv_results["mean_test_score"])


def choose_threshold(proba: np.ndarray, y: np.ndarray, classes, candidates=THRESHOLDS) -> float:
    """The abstention threshold with the best macro-F1 on out-of-fold probabilities (the lowest on a tie)."""
    from sklearn.metrics import f1_score

    ordered = sorted(candidates)
    scores = [f1_score(y, _decide(proba, classes, t).astype(str), average="macro", zero_division=0) for t in ordered]
    return ordered[first_best(scores)]


#: What a renamed copy weighs by default in the heads' fit: enough to teach who acts, too little to cost the
#: labeled articles in grouped CV (``experiments/README.md``).
COPY_WEIGHT = 0.1


class StanceClassifier(ClassifierMixin, BaseEstimator):
    """Predict a stance (favor / against / none) toward each target for sentences.

    Parameters
    ----------
    encoder : transformer, default=None
        Anything with ``transform(list[str]) -> array``. A stateless encoder (its
        sklearn tags say ``requires_fit=False``, like :class:`SentenceEncoder`) is
        shared as is; one that needs fitting (e.g. ``TfidfVectorizer``) is cloned
        and fitted on the training texts. None means the bundled MiniLM.
    head : classifier, default=None
        Anything with ``fit``/``predict_proba``; cloned once per target. None means
        ``LogisticRegression(class_weight="balanced")`` with ``C`` chosen from
        ``Cs`` by cross-validation grouped by ``groups`` (articles) when given.
    targets : sequence of str, default=("russia", "eu")
        Names of the columns of ``y``.
    Cs : sequence of float
        Candidate inverse regularisation strengths for the default head.
    cv : int, default=5
        Folds for choosing ``C`` (fewer if there are fewer groups), the temperature
        and the threshold; 1 skips them all (``C`` is 1.0, or the one value of ``Cs``).
        One value in ``Cs`` skips the search alone.
    context : bool, default=False
        Also give the head the mean embedding of each sentence's neighbours
        (inputs given as ``{"text", "previous", "next"}``; see
        :mod:`stance.features`). Only for a stateless encoder.
    ngrams : bool, default=True
        Also give the head TF-IDF word 1-2-grams of the sentence.
    actors : bool, default=True
        Also give the head who is named and who speaks (:mod:`stance.actors`):
        whether Serbia is the one acting, which frozen embeddings do not tell.
    renamed_copies : bool, default=True
        Also train on a copy of each stance-bearing sentence with its Serbian actors
        renamed as another country's, labeled ``none`` (:mod:`stance.counterfactuals`):
        the same words said by someone else portray no Serbian stance. It mends
        another country's act read as Serbia's (``stance check``); at weight 1 it cost
        the labeled articles macro-F1 in grouped CV, at 0.1 it does not
        (``experiments/README.md``).
    copy_weight : float, default=0.1
        Weight of each renamed copy in the heads' fit, in (0, 1]: below 1 the copies
        nudge the head rather than outvote the labeled sentences. Below 1, ``C``, the
        temperature and the threshold are chosen on the labeled sentences alone.
    question_rule : bool, default=True
        Label a sentence that ends in a question mark ``none`` on every target,
        whatever the heads say: ``LABELING.md`` makes a question without an answer
        ``none``, and the labeled sentences hold too few questions for a head to learn
        it. Its probabilities become 1 for ``none``. Reads the actor indicators, so
        only with ``actors=True``.
    pressure_rule : bool, default=True
        Label a sentence that only tells that another actor presses Serbia ("Brussels
        urged Belgrade to align") ``none`` on every target, whatever the heads say:
        ``LABELING.md`` makes pressure no stance unless the sentence also tells Serbia's
        answer (:func:`stance.actors.pressed_by_another` says which sentences do not).
        Its probabilities become 1 for ``none``.
    calibrate : bool, default=True
        Fit a temperature per target on out-of-fold probabilities (default head).
    abstain : bool, default=True
        Choose per target, on out-of-fold probabilities, a threshold below
        which the top label gives way to ``none`` (default head).

    Attributes
    ----------
    encoder_ : transformer
        The encoder used (fitted if it needed fitting).
    heads_ : dict[str, classifier]
        Fitted head per target.
    classes_ : list[ndarray]
        Class labels per target, in ``targets`` order (as in ``predict_proba``).
    targets_ : list[str]
        Targets the model predicts.
    best_params_ : dict[str, dict]
        Per target, the parameters chosen by cross-validation (empty for a given
        head): ``C``, ``temperature`` and ``threshold``.
    vectorizer_ : TfidfVectorizer or None
        The fitted n-gram vectorizer when ``ngrams``.

    Examples
    --------
    >>> clf = StanceClassifier().fit(texts, y, groups=article_ids)  # doctest: +SKIP
    >>> clf.predict(["Serbia refuses to sanction Russia."])  # doctest: +SKIP
    array([['favor', 'none']], dtype=object)
    """

    def __init__(
        self,
        encoder=None,
        head=None,
        targets: Sequence[str] = TARGETS,
        Cs=DEFAULT_CS,
        cv: int = 5,
        context: bool = False,
        ngrams: bool = True,
        actors: bool = True,
        renamed_copies: bool = True,
        copy_weight: float = COPY_WEIGHT,
        question_rule: bool = True,
        pressure_rule: bool = True,
        calibrate: bool = True,
        abstain: bool = True,
    ):
        self.encoder = encoder
        self.head = head
        self.targets = targets
        self.Cs = Cs
        self.cv = cv
        self.context = context
        self.ngrams = ngrams
        self.actors = actors
        self.renamed_copies = renamed_copies
        self.copy_weight = copy_weight
        self.question_rule = question_rule
        self.pressure_rule = pressure_rule
        self.calibrate = calibrate
        self.abstain = abstain

    def __setattr__(self, name, value):
        # A loaded model whose setting changes (set_params, or an attribute set) is no longer the one its folder
        # holds: it forgets the folder, so that its scores get the id of what it now is, not of what was saved.
        if "metadata_" in vars(self) and name in self._get_param_names() and getattr(self, name, None) is not value:
            for loaded in ("metadata_", "path_"):
                vars(self).pop(loaded, None)
        super().__setattr__(name, value)

    def fit(self, X, y, groups=None, unscored=None):
        """Fit one head per target; rows whose label is None are skipped for that target.

        A fit that fails or is stopped leaves the model as it was: it is made on a copy
        whose fitted state replaces this one's only at the end.

        Parameters
        ----------
        X : list of str or of dict
            Sentences, or ``{"text", "previous", "next"}`` items with their neighbours.
        y : array-like of shape (n_samples, n_targets)
            Labels per target, columns in ``targets`` order (a DataFrame with those
            columns, or one dict per row keyed by target, also works). None marks
            an unlabeled cell.
        groups : array-like of shape (n_samples,), default=None
            Article ids: folds for choosing ``C`` never split an article.
        unscored : array-like of bool, shape (n_samples,), default=None
            Rows that every fit trains on but no choice scores (sentences written to
            teach, not to judge by): ``C``, temperature and threshold are chosen on the
            other rows.
        """
        staged = copy.copy(self)  # the parameters shared, the fitted state its own
        for name in _fitted_names(staged):
            delattr(staged, name)
        staged._fit(X, y, groups, unscored)
        for name in _fitted_names(self):
            delattr(self, name)
        for name in _fitted_names(staged):
            setattr(self, name, getattr(staged, name))
        return self

    def _fit(self, X, y, groups, unscored) -> None:
        if isinstance(self.cv, bool) or not isinstance(self.cv, Integral) or self.cv < 1:
            raise ValueInputError(f"cv must be a whole number of folds (1: no search), not {self.cv!r}")
        self._check_Cs()
        if isinstance(self.head, type):
            raise ValueInputError(f"head is {kind_of(self.head)}; give an instance, such as {self.head.__name__}()")
        if self.head is not None and not hasattr(self.head, "predict_proba"):
            raise ValueInputError(f"head {type(self.head).__name__} gives no probabilities (predict_proba); "
                             "use a probabilistic classifier, or wrap it in CalibratedClassifierCV")
        targets = target_names(self.targets)
        items = _items(X)
        if not items:
            raise ValueInputError("X holds no texts; give the labeled sentences to fit on")
        labels = _label_matrix(y, targets, len(items))
        groups = _group_ids(groups, len(items))
        n_labeled = len(items)
        unscored = unscored_mask(unscored, n_labeled)
        if unscored.all():
            raise ValueInputError("unscored marks every row; leave the labeled sentences to judge by unmarked (C, the "
                                  "temperature and the threshold are chosen on them)")
        for j, target in enumerate(targets):  # before any encoding: a target without labels fails at once
            if all(v is None for v in labels[:, j]):
                raise ValueInputError(f"no labeled rows for target {target!r}")
        if self.renamed_copies:
            from stance.counterfactuals import with_renamed_copies

            weight = self.copy_weight
            if isinstance(weight, bool) or not isinstance(weight, Real) or not 0 < weight <= 1:
                raise ValueInputError(f"copy_weight must be a number in (0, 1], got {weight!r}")
            items, labels, groups = with_renamed_copies(items, labels, groups)
        if self.head is None:  # a logistic regression needs two classes (renamed copies may add the second, 'none')
            _check_two_classes(labels, targets)
        copies = np.arange(len(items)) >= n_labeled
        unscored = np.concatenate([unscored, np.zeros(len(items) - n_labeled, dtype=bool)])
        texts = [item_text(x) for x in items]
        self.encoder_ = self._encoder_for(texts)
        if self.actors:
            from stance.actors import actor_features

            self.actor_columns_ = actor_features([]).shape[1]  # all of them; a model saved earlier reads fewer
        self.vectorizer_ = None
        if self.ngrams:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.vectorizer_ = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(texts)
        self._copies_in_fit = len(items) - n_labeled  # said apart in an encoder's error (fit runs on a copy)
        features = self.transform_features(items)
        self.targets_ = targets
        self.heads_, self.best_params_, self.classes_ = {}, {}, []
        for j, target in enumerate(self.targets_):
            mask = np.array([v is not None for v in labels[:, j]])
            yt = labels[mask, j].astype(str)
            self._target_in_fit = target  # named by _fit_head's warning (its signature is patched by experiments)
            head, params = self._fit_head(features[mask], yt, None if groups is None else groups[mask], copies[mask],
                                          unscored[mask])
            self.heads_[target] = head
            self.best_params_[target] = params
            self.classes_.append(np.asarray(head.classes_))

    def _check_Cs(self) -> None:
        Cs = self.Cs.tolist() if isinstance(self.Cs, np.ndarray) and self.Cs.ndim == 1 else self.Cs  # np.logspace(...)
        if isinstance(Cs, (str, bytes)) or not isinstance(Cs, Sequence) or not Cs:
            raise ValueInputError(f"Cs is {Cs!r}; give a non-empty list of inverse regularisation strengths, such as [0.1, 1.0]")
        bad = next((c for c in Cs if isinstance(c, bool) or not isinstance(c, Real) or not math.isfinite(c) or c <= 0), None)
        if bad is not None:
            raise ValueInputError(f"Cs holds {bad!r}; every C is a positive number")

    def predict_proba(self, X) -> list[np.ndarray]:
        """Probabilities per target: a list of (n_samples, n_classes) arrays, columns as ``classes_``."""
        check_is_fitted(self)
        items = _items(X)
        if not items:  # no sentence to encode (a fitted TF-IDF refuses zero rows)
            return [np.zeros((0, len(c))) for c in self.classes_]
        probas = self.predict_proba_features(self.transform_features(items))
        # no word, no stance: never the head's guess from the encoder's empty-text vector
        return _certainly_none(probas, self.classes_, blank_items(items) | self.pressed(items))

    def predict(self, X) -> np.ndarray:
        """Labels: an array of shape (n_samples, n_targets) of class names (``none`` for a blank text)."""
        check_is_fitted(self)
        items = _items(X)
        return self._labels(self.predict_proba(items), len(items))

    def score(self, X, y, sample_weight=None) -> float:
        """Macro-F1 over favor, against and none, averaged over the targets (the figure the reports give).

        Cells of ``y`` that are None are left out of their target's score, and a target
        with no labeled cell out of the average.
        """
        from sklearn.metrics import f1_score

        check_is_fitted(self)
        if sample_weight is not None:
            raise ValueInputError("sample_weight is not supported; score weighs every labeled sentence alike")
        items = _items(X)
        labels, predicted = _label_matrix(y, self.targets_, len(items)), self.predict(items)
        scores = []
        for j in range(labels.shape[1]):
            labeled = np.array([v is not None for v in labels[:, j]])
            if labeled.any():  # a target no row labels has no score
                truth, guessed = labels[labeled, j].astype(str), predicted[labeled, j].astype(str)
                held = set(truth) | set(guessed)
                seen = [c for c in STANCES if c in held]  # a class neither holds is no error
                scores.append(f1_score(truth, guessed, labels=seen, average="macro", zero_division=0))
        if not scores:
            raise ValueInputError("y labels no sentence for any target; give at least one label")
        return float(np.mean(scores))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # sentences in, one label per target out
        tags.input_tags.two_d_array = False
        tags.target_tags.multi_output = True
        return tags

    def transform_features(self, X):
        """What the heads see: embedding, neighbours' embedding, actors, n-grams (as configured)."""
        items = _items(X)
        texts = [item_text(x) for x in items]
        if not self.context:
            blocks = [self.encoder_.transform(texts)]
        else:
            blocks = list(context_embeddings(self.encoder_, items))
        for block in blocks:
            _check_encoded(block, len(texts), self.encoder_, getattr(self, "_copies_in_fit", 0))
        if getattr(self, "actors", False):
            from stance.actors import ACTOR_SCALE, actor_features

            found = actor_features(texts)
            blocks.append(found[:, :getattr(self, "actor_columns_", found.shape[1])] * ACTOR_SCALE)
        from scipy import sparse

        if getattr(self, "vectorizer_", None) is None:
            if len(blocks) == 1:
                return blocks[0]
            return sparse.hstack(blocks, format="csr") if any(map(sparse.issparse, blocks)) else np.hstack(blocks)

        dense = [sparse.csr_matrix(np.asarray(b)) if not sparse.issparse(b) else b for b in blocks]
        return sparse.hstack([*dense, ngram_features(self.vectorizer_, texts)], format="csr")

    def predict_proba_features(self, features: np.ndarray) -> list[np.ndarray]:
        """Like :meth:`predict_proba`, on already encoded sentences."""
        check_is_fitted(self)
        if features.shape[0] == 0:
            return [np.zeros((0, len(c))) for c in self.classes_]
        self._check_width(features.shape[1])
        probas = [self.heads_[t].predict_proba(features) for t in self.targets_]
        return _certainly_none(probas, self.classes_, self.questions(features))

    def questions(self, features) -> np.ndarray:
        """Rows of ``features`` that ``question_rule`` labels ``none``: those whose "unanswered question" indicator is set."""
        from stance.actors import QUESTION_COLUMN as column

        actors = self.feature_columns(features.shape[1])["actors"] if getattr(self, "question_rule", False) else None
        if actors is None or column >= actors.stop - actors.start:
            return np.zeros(features.shape[0], dtype=bool)
        found = features[:, actors.start + column]
        return np.asarray(found.toarray() if hasattr(found, "toarray") else found).ravel() > 0

    def pressed(self, X) -> np.ndarray:
        """Sentences that ``pressure_rule`` labels ``none``: those that only tell that another actor presses Serbia."""
        items = _items(X)
        if not getattr(self, "pressure_rule", False):
            return np.zeros(len(items), dtype=bool)
        from stance.actors import pressed_by_another

        return np.fromiter((pressed_by_another(item_text(x)) for x in items), dtype=bool, count=len(items))

    def feature_columns(self, width: int) -> dict[str, slice]:
        """Where each block of :meth:`transform_features` sits in its rows of ``width`` columns.

        ``sentence`` (its embedding), ``neighbours`` (theirs, empty without ``context``),
        ``actors`` (the indicators) and ``ngrams`` (TF-IDF), in that order.
        """
        n_words = len(self.vectorizer_.vocabulary_) if getattr(self, "vectorizer_", None) is not None else 0
        n_actors = getattr(self, "actor_columns_", 0) if getattr(self, "actors", False) else 0
        n_embedded = width - n_words - n_actors
        own = n_embedded // 2 if getattr(self, "context", False) else n_embedded
        return {"sentence": slice(0, own), "neighbours": slice(own, n_embedded),
                "actors": slice(n_embedded, n_embedded + n_actors), "ngrams": slice(n_embedded + n_actors, width)}

    def _check_width(self, width: int) -> None:
        """Refuse features of another width than a head was fitted on: a model folder whose settings were edited,
        or a fitted model's settings changed in memory."""
        for target in self.targets_:
            head = self.heads_[target]
            fitted = getattr(getattr(head, "head", head), "n_features_in_", None)
            if fitted is None or fitted == width:
                continue
            if getattr(self, "path_", None) is None:
                raise ValueInputError(
                    f"the {target} head reads {fitted} features but the model's settings give {width}: a setting "
                    "that shapes the features (actors, context, the encoder) was changed after it was fitted; set "
                    "it back, or fit again")
            raise ModelIntegrityError(
                f"{self.path_}: the {target} head reads {fitted} features but the recorded settings give {width}; "
                "stance.json was edited or damaged, retrain with `stance train`")

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        return self._labels(self.predict_proba_features(features), features.shape[0])

    def _labels(self, probas: list[np.ndarray], n: int) -> np.ndarray:
        columns = [self.decide(t, p) for t, p in zip(self.targets_, probas)]
        return np.stack(columns, axis=1).astype(object) if columns else np.empty((n, 0), object)

    def decide(self, target: str, proba: np.ndarray) -> np.ndarray:
        """Labels for one target from its probabilities (abstaining below its threshold)."""
        head = self.heads_[target]
        return head.decide(proba) if hasattr(head, "decide") else _decide(proba, head.classes_, 0.0)

    def save(self, path: str | Path, **provenance) -> Path:
        """Save to a model folder (see :mod:`stance.persist`); returns the folder.

        A model loaded and saved again keeps the training record of its folder (the
        labels' hash, the cross-validated F1) unless ``provenance`` gives another.
        """
        if not provenance:
            provenance = dict((getattr(self, "metadata_", None) or {}).get("training") or {})
        return save_model(self, path, **provenance)

    @classmethod
    def load(cls, path: str | Path | None = None, encoder=None, backend: str = "auto") -> "StanceClassifier":
        """Load a model folder (default: where `stance train` saves), verifying it first.

        ``backend="onnx"`` runs its sentence-transformers encoder in onnxruntime, ``"torch"``
        in PyTorch, ``"torch-bf16"`` in PyTorch with bfloat16 matrix products; ``"auto"``
        takes onnxruntime when it serves.
        """
        from stance.paths import default_model_dir

        return load_model(default_model_dir() if path is None else path, encoder=encoder, backend=backend)

    # internals ------------------------------------------------------------------

    def _encoder_for(self, texts: list[str]):
        if self.encoder is None:
            from stance.encoders.transformer import SentenceEncoder

            return SentenceEncoder()
        if isinstance(self.encoder, (str, bytes, type)) or not callable(getattr(self.encoder, "transform", None)):
            raise ValueInputError(f"encoder is {kind_of(self.encoder)}, not an encoder (an object with transform(texts)); give "
                             "one such as stance.encoders.make_encoder(name_or_path), or None for the bundled MiniLM")
        if _requires_fit(self.encoder):
            if self.context:
                raise ValueInputError("context needs a stateless encoder; set context=False")
            return clone(self.encoder).fit(texts)
        return self.encoder

    def _fit_head(self, features, y, groups, copies, unscored):
        """One target's head: ``C`` by grouped CV, then temperature and threshold from out-of-fold probabilities.

        Renamed copies weighted below 1 weigh ``copy_weight`` in every fit and are left
        out of every score, and ``unscored`` rows join every fold's training side and no
        score, so that only labeled sentences choose the settings. A head of the user's that
        takes no ``sample_weight`` trains on the labeled sentences alone, never on copies it
        cannot weigh.
        """
        weighted = bool(copies.any()) and self.copy_weight != 1
        fit_params = {"sample_weight": np.where(copies, self.copy_weight, 1.0)} if weighted else {}
        if self.head is not None:
            head = clone(self.head)
            if weighted and not has_fit_parameter(head, "sample_weight"):
                return head.fit(features[~copies], y[~copies]), {}
            return head.fit(features, y, **fit_params), {}
        features = in_float64(features)
        folds = inner_folds(y, groups, self.cv, unscored)
        fixed_C = self.Cs[0] if len(self.Cs) == 1 else None  # one C given: nothing to search, still calibrated
        if folds is None:
            if self.cv > 1 and (fixed_C is None or self.calibrate or self.abstain):
                import warnings

                target = getattr(self, "_target_in_fit", "?")
                warnings.warn(f"target {target!r}: its labeled sentences cannot be split into folds that each train "
                              "on two classes (too few articles or labels), so nothing was chosen on folds: fitted "
                              f"at C={fixed_C or 1.0}, without temperature or abstention; label more articles, or give "
                              "cv=1 to fit so knowingly", StanceWarning, stacklevel=4)
            head = clone(search_C(self.Cs, None).estimator).set_params(C=fixed_C or 1.0)
            return head.fit(features, y, **fit_params), {}
        if weighted:
            folds = [(train, test[~copies[test]]) for train, test in folds]
        if fixed_C is not None:
            best = clone(search_C(self.Cs, None).estimator).set_params(C=fixed_C).fit(features, y, **fit_params)
            params = {"C": fixed_C}
        else:
            search = search_C(self.Cs, folds).fit(features, y, **fit_params)
            params = dict(search.best_params_)
            best = search.best_estimator_
        if not (self.calibrate or self.abstain):
            return best, params
        oof = _out_of_fold_proba(best, features, y, folds, fit_params.get("sample_weight"))
        scored = ~unscored & ~(copies & weighted)
        temperature = fit_temperature(oof[scored], y[scored], best.classes_) if self.calibrate else 1.0
        threshold = (choose_threshold(_scale(oof[scored], temperature), y[scored], best.classes_)
                     if self.abstain else 0.0)
        params.update(temperature=temperature, threshold=threshold)
        return CalibratedHead(best, temperature, threshold), params


def _fitted_names(model) -> list[str]:
    """The attributes fitting sets (scikit-learn's ``name_``), not the parameters."""
    return [name for name in vars(model) if name.endswith("_") and not name.startswith("_")]


def _requires_fit(encoder) -> bool:
    """Whether an encoder learns from the texts (a TF-IDF does); any object with ``transform`` is an encoder."""
    if hasattr(encoder, "__sklearn_tags__"):
        return get_tags(encoder).requires_fit
    return callable(getattr(encoder, "fit", None))


def _out_of_fold_proba(estimator, features, y, folds, sample_weight=None) -> np.ndarray:
    """Each test row's probabilities from a copy of ``estimator`` fitted on its fold's training rows.

    Columns follow ``estimator.classes_``; a class a fold's training rows lack gets 0.
    """
    oof = np.zeros((len(y), len(estimator.classes_)))
    for train, test in folds:
        weight = {} if sample_weight is None else {"sample_weight": sample_weight[train]}
        fold = clone(estimator).fit(features[train], y[train], **weight)
        oof[np.ix_(test, np.searchsorted(estimator.classes_, fold.classes_))] = fold.predict_proba(features[test])
    return oof

def load_model(path: str | Path, encoder=None, backend: str = "auto") -> StanceClassifier:
    """Load a model folder after checking metadata, the head's SHA-256 and the encoder.

    Parameters
    ----------
    path : folder written by :func:`stance.persist.save_model`.
    encoder : SentenceEncoder, default=None
        Use this encoder instead of the recorded one; refused unless its weights
        have the recorded SHA-256.
    backend : {"auto", "torch", "torch-bf16", "onnx"}, default="auto"
        What runs a sentence-transformers encoder: PyTorch, PyTorch in bfloat16
        (:mod:`stance.encoders.bf16`; vectors to a cosine of about 0.9999, faster on
        CPUs with AMX or AVX-512 BF16), or onnxruntime (:mod:`stance.encoders.onnx`;
        same vectors, faster, no torch import). ``auto`` takes onnxruntime when it is
        installed and runs the model, else PyTorch.
    """
    from stance.encoders.cache import check_cache

    parts = read_model(path, encoder=encoder, backend=backend)
    check_cache()  # a bad cache setting or file shows before the encoder loads
    meta, encoder, heads, vectorizer = parts.meta, parts.encoder, parts.heads, parts.vectorizer
    features = meta.get("features") or {}
    model = StanceClassifier(
        encoder=encoder, targets=tuple(meta["targets"]), context=features.get("context", False),
        ngrams=vectorizer is not None, actors=features.get("actors", False),
        renamed_copies=features.get("renamed_copies", False), copy_weight=features.get("copy_weight", 1.0),
        question_rule=features.get("question_rule", False), pressure_rule=features.get("pressure_rule", False),
    )
    model.encoder_ = encoder
    if model.actors:
        from stance.actors import EARLIER_ACTOR_COLUMNS

        model.actor_columns_ = int(features.get("actor_columns", EARLIER_ACTOR_COLUMNS))
    model.vectorizer_ = vectorizer
    model.targets_ = list(meta["targets"])
    model.heads_ = heads
    model.best_params_ = meta["head"].get("params", {})
    model.classes_ = [heads[t].classes_ for t in model.targets_]
    model.metadata_ = meta
    model.path_ = parts.path
    return model


def head_training_sets(groups, cv: int = 5) -> list[np.ndarray]:
    """Rows each logistic regression of a head searching C is fitted on: all rows, then each fold's training rows.

    ``groups`` are the articles of a target's labeled rows, as :meth:`StanceClassifier.fit`
    passes them; the folds are the ones the search uses, so that a caller can
    check before any embedding that each one has two classes to separate.
    """
    groups = np.asarray(groups)
    everything = np.arange(len(groups))
    splitter = _splitter(None, groups, cv)
    if splitter is None:
        return [everything]
    return [everything, *(train for train, _ in splitter.split(everything, groups=groups))]


def unscored_mask(unscored, n: int) -> np.ndarray:
    """``unscored`` as a boolean array of ``n`` rows (all False when None)."""
    if unscored is None:
        return np.zeros(n, dtype=bool)
    flags = np.asarray(unscored, dtype=object)
    if flags.shape != (n,):
        raise ValueInputError(f"unscored must hold one flag per row ({n}), not shape {flags.shape}")
    bad = next((f for f in flags.tolist() if not isinstance(f, (bool, np.bool_))), None)
    if bad is not None:  # "no" would be read as True, and 0.5 as what?
        raise ValueInputError(f"unscored holds {bad!r}; give one True or False per row")
    return flags.astype(bool)


def inner_folds(y, groups, cv, unscored=None) -> list[tuple[np.ndarray, np.ndarray]] | None:
    """Folds for choosing C: the scored rows split as :func:`_splitter` splits them, the unscored rows in every training side.

    None when the scored rows cannot be split, or a fold would train on one class (a few articles, where
    renamed copies, all ``none``, move which article lands in which fold).
    """
    unscored = unscored_mask(unscored, len(y))
    pool, extra = np.flatnonzero(~unscored), np.flatnonzero(unscored)
    splitter = _splitter(y[pool], None if groups is None else groups[pool], cv)
    if splitter is None:
        return None
    folds = [(np.concatenate([pool[train], extra]), pool[test])
             for train, test in splitter.split(pool, y[pool], None if groups is None else groups[pool])]
    return folds if all(len(np.unique(y[train])) > 1 for train, _ in folds) else None


def _splitter(y, groups, cv):
    """Folds for choosing C: grouped by article when groups are given."""
    if groups is not None:
        n = min(cv, len(set(groups.tolist())))
        return GroupKFold(n_splits=n) if n >= 2 else None
    smallest = min(np.unique(y, return_counts=True)[1])
    n = min(cv, smallest)
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=0) if n >= 2 else None


def blank_items(items: Sequence) -> np.ndarray:
    """Which items have no visible word: none for certain on every target, whatever a head makes of their vector."""
    return np.array([not visible_line(item_text(x)) for x in items], dtype=bool)


def _group_ids(groups, n: int) -> np.ndarray | None:
    """``groups`` as an array of ``n`` article ids, or an error that names what is wrong with it."""
    if groups is None:
        return None
    if isinstance(groups, (str, bytes, Mapping, set, frozenset)) or not isinstance(groups, Iterable):
        raise ValueInputError(f"groups is {kind_of(groups)}; give one article id per sentence, in a list")
    given = groups.tolist() if isinstance(groups, np.ndarray) else list(groups)
    ids = np.asarray(given)  # a NaN among strings becomes the text 'nan' here: looked for in what was given
    if ids.shape != (n,):
        raise ValueInputError(f"groups must have shape ({n},), got {ids.shape}")
    missing = next((i for i, g in enumerate(given) if _no_group(g)), None)
    if missing is not None:
        raise ValueInputError(f"groups[{missing}] is {given[missing]!r}; every sentence needs its article's id")
    return ids


def _no_group(g) -> bool:
    """Whether a group id is missing: None, a NaN of any float type, or pandas' NA (neither equal nor not)."""
    if g is None:
        return True
    try:
        return bool(g != g)
    except TypeError:
        return True


def _check_encoded(vectors, n: int, encoder, copies: int = 0) -> None:
    """Refuse what an encoder returned unless it is one row of finite numbers per sentence: any object with
    ``transform`` may be one, and a wrong shape or a NaN would fail deep in scipy or scikit-learn instead.

    ``copies`` of the ``n`` sentences are renamed copies the fit added, said apart so that the count the
    error names is the user's own."""
    from scipy import sparse

    try:
        values = vectors.data if sparse.issparse(vectors) else np.asarray(vectors)  # a list of rows serves too
    except ValueError:  # rows of different lengths
        values = None
    shape = vectors.shape if sparse.issparse(vectors) else getattr(values, "shape", None)
    if shape is None or len(shape) != 2 or shape[0] != n:
        got = f"an array of shape {tuple(shape)}" if shape is not None else f"a {type(vectors).__name__}"
    elif not np.issubdtype(values.dtype, np.number) or not np.isfinite(values).all():
        got = "values that are not finite numbers"
    else:
        return
    given = f"{n} sentences" if not copies else f"{n} sentences ({n - copies} given, {copies} renamed copies)"
    raise ValueInputError(f"the encoder ({type(encoder).__name__}) gave {got} for {given}; an encoder's "
                          "transform(list of str) returns one row of finite numbers per sentence")


def _items(X) -> list:
    if isinstance(X, (str, bytes)) or is_table(X) or not isinstance(X, Iterable):
        texts_given(X)  # refuses it in one line: it would iterate as characters, keys or column names
    if isinstance(X, (set, frozenset)):
        raise TextsError(f"X is a {type(X).__name__}, whose order is no order: its rows could not be matched to "
                         "the sentences; pass a list")
    items = list(X)
    for i, x in enumerate(items):
        if not (isinstance(x, str) or (isinstance(x, dict) and isinstance(x.get("text"), str))):
            raise TextsError(f"X[{i}] is {type(x).__name__}; each item is a sentence (str) or a dict with its 'text'")
        check_text(x if isinstance(x, str) else x["text"], f"X[{i}]")
        for side in ("previous", "next") if isinstance(x, dict) else ():
            if x.get(side) is not None:  # None: the article's first or last sentence
                check_text(x[side], f"X[{i}][{side!r}]")
    return items


def target_names(targets) -> list[str]:
    """``targets`` as a list of distinct names; one name alone is one target, not its letters."""
    names = [targets] if isinstance(targets, str) else list(targets) if isinstance(targets, Iterable) else None
    if not names or not all(isinstance(t, str) and t for t in names) or len(set(names)) < len(names):
        raise ValueInputError(f"targets is {targets!r}; give distinct target names, such as ('russia', 'eu')")
    from stance.schema import refuse_unusable_targets

    refuse_unusable_targets(names, "targets")
    return names


def _certainly_none(probas: list[np.ndarray], classes_: list, rows: np.ndarray) -> list[np.ndarray]:
    """``probas`` with the given rows set to ``none`` with probability 1, in every head that has that class."""
    if rows.any():
        for proba, classes in zip(probas, classes_):
            if "none" in classes:
                proba[rows] = np.asarray(classes) == "none"
    return probas


def _rows_of_labels(rows: Sequence[Mapping], targets) -> list[list]:
    """Label rows as dicts (``{"russia": "favor", "eu": None}``, or whole rows of a label file) as a
    matrix in ``targets`` order: a missing target is unlabeled, a field that is no target is refused."""
    from stance.schema import RESERVED_FIELDS

    for i, row in enumerate(rows):
        stray = [k for k in row if k not in targets and k not in RESERVED_FIELDS]
        if stray:
            raise ValueInputError(f"y[{i}] has {stray[0]!r}, which is no target ({', '.join(targets)}); "
                             "check the spelling, or set targets=")
    return [[row.get(t) for t in targets] for row in rows]


def _label_matrix(y, targets, n: int) -> np.ndarray:
    """``y`` as an object array (n, n_targets) of stance names and None; ValueError on anything else."""
    if hasattr(y, "columns"):
        missing = [t for t in targets if t not in y.columns]
        if missing:
            raise ValueInputError(f"y lacks columns for targets {missing}")
        y = y[list(targets)].to_numpy(dtype=object)
    if y is None:
        raise ValueInputError(f"y is None; give the labels, shape ({n}, {len(targets)}): one column per target")
    if isinstance(y, Iterator):  # a generator of rows, as X may be
        y = list(y)
    if isinstance(y, (list, tuple)) and y and all(isinstance(row, Mapping) for row in y):
        y = _rows_of_labels(y, targets)
    labels = np.array(y, dtype=object)  # a copy: unlabeled cells are set to None below, never in the caller's y
    if labels.ndim == 1 and len(targets) == 1:
        labels = labels[:, None]
    if labels.shape != (n, len(targets)):
        raise ValueInputError(f"y must have shape ({n}, {len(targets)}), got {labels.shape}")
    for (i, j), value in np.ndenumerate(labels):
        if value is None or (isinstance(value, float) and value != value) or type(value).__name__ == "NAType":
            labels[i, j] = None  # an unlabeled cell, however a table spells it
        elif value not in STANCES:
            raise ValueInputError(f"y[{i}, {j}] is {value!r}; a label is one of {', '.join(STANCES)}, or None when unlabeled")
    return labels


def _check_two_classes(labels: np.ndarray, targets) -> None:
    for j, target in enumerate(targets):
        present = {v for v in labels[:, j] if v is not None}
        if len(present) == 1:
            raise ValueInputError(f"every {target!r} label is {present.pop()!r}; a head needs sentences of two classes")
