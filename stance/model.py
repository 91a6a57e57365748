"""The stance classifier: one encoder, one lightweight head per target."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from stance.schema import TARGETS

__all__ = ["StanceClassifier"]

DEFAULT_CS = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0)


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
        Folds for choosing ``C`` (fewer if there are fewer groups).

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
        Per target, the parameters chosen by cross-validation (empty for a given head).

    Examples
    --------
    >>> clf = StanceClassifier().fit(texts, y, groups=article_ids)  # doctest: +SKIP
    >>> clf.predict(["Serbia refuses to sanction Russia."])  # doctest: +SKIP
    array([['favor', 'none']], dtype=object)
    """

    def __init__(self, encoder=None, head=None, targets: Sequence[str] = TARGETS, Cs=DEFAULT_CS, cv: int = 5):
        self.encoder = encoder
        self.head = head
        self.targets = targets
        self.Cs = Cs
        self.cv = cv

    def fit(self, X, y, groups=None):
        """Fit one head per target; rows whose label is None are skipped for that target.

        Parameters
        ----------
        X : list of str
            Sentences.
        y : array-like of shape (n_samples, n_targets)
            Labels per target, columns in ``targets`` order (a DataFrame with those
            columns also works). None marks an unlabeled cell.
        groups : array-like of shape (n_samples,), default=None
            Article ids: folds for choosing ``C`` never split an article.
        """
        texts = _texts(X)
        labels = _label_matrix(y, self.targets, len(texts))
        groups = None if groups is None else np.asarray(groups)
        self.encoder_ = self._encoder_for(texts)
        features = self.encoder_.transform(texts)
        self.targets_ = list(self.targets)
        self.heads_, self.best_params_, self.classes_ = {}, {}, []
        for j, target in enumerate(self.targets_):
            mask = np.array([v is not None for v in labels[:, j]])
            if not mask.any():
                raise ValueError(f"no labeled rows for target {target!r}")
            yt = labels[mask, j].astype(str)
            head, params = self._fit_head(features[mask], yt, None if groups is None else groups[mask])
            self.heads_[target] = head
            self.best_params_[target] = params
            self.classes_.append(np.asarray(head.classes_))
        return self

    def predict_proba(self, X) -> list[np.ndarray]:
        """Probabilities per target: a list of (n_samples, n_classes) arrays, columns as ``classes_``."""
        check_is_fitted(self)
        return self.predict_proba_features(self.encoder_.transform(_texts(X)))

    def predict(self, X) -> np.ndarray:
        """Labels: an array of shape (n_samples, n_targets) of class names."""
        check_is_fitted(self)
        return self.predict_features(self.encoder_.transform(_texts(X)))

    def predict_proba_features(self, features: np.ndarray) -> list[np.ndarray]:
        """Like :meth:`predict_proba`, on already encoded sentences."""
        check_is_fitted(self)
        if features.shape[0] == 0:
            return [np.zeros((0, len(c))) for c in self.classes_]
        return [self.heads_[t].predict_proba(features) for t in self.targets_]

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        probas = self.predict_proba_features(features)
        columns = [c[p.argmax(axis=1)] for c, p in zip(self.classes_, probas)]
        return np.stack(columns, axis=1).astype(object) if columns else np.empty((features.shape[0], 0), object)

    def save(self, path: str | Path, **provenance) -> Path:
        """Save to a model folder (see :mod:`stance.persist`); returns the folder."""
        from stance.persist import save_model

        return save_model(self, path, **provenance)

    @classmethod
    def load(cls, path: str | Path | None = None, encoder=None) -> "StanceClassifier":
        """Load a model folder (default: where `stance train` saves), verifying it first."""
        from stance.paths import default_model_dir
        from stance.persist import load_model

        return load_model(default_model_dir() if path is None else path, encoder=encoder)

    # internals ------------------------------------------------------------------

    def _encoder_for(self, texts: list[str]):
        if self.encoder is None:
            from stance.embed import SentenceEncoder

            return SentenceEncoder()
        if get_tags(self.encoder).requires_fit:
            return clone(self.encoder).fit(texts)
        return self.encoder

    def _fit_head(self, features, y, groups):
        if self.head is not None:
            return clone(self.head).fit(features, y), {}
        base = LogisticRegression(class_weight="balanced", solver="newton-cg", max_iter=5000)
        splitter = _splitter(y, groups, self.cv)
        if splitter is None or len(self.Cs) == 1:
            return clone(base).set_params(C=self.Cs[0] if len(self.Cs) == 1 else 1.0).fit(features, y), {}
        search = GridSearchCV(base, {"C": list(self.Cs)}, cv=splitter, scoring="f1_macro", n_jobs=1)
        search.fit(features, y, groups=groups)
        return search.best_estimator_, dict(search.best_params_)


def _splitter(y, groups, cv):
    """Folds for choosing C: grouped by article when groups are given."""
    if groups is not None:
        n = min(cv, len(set(groups.tolist())))
        return GroupKFold(n_splits=n) if n >= 2 else None
    smallest = min(np.unique(y, return_counts=True)[1])
    n = min(cv, smallest)
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=0) if n >= 2 else None


def _texts(X) -> list[str]:
    if isinstance(X, str):
        raise TypeError("pass a list of sentences, not a single string")
    return list(X)


def _label_matrix(y, targets, n: int) -> np.ndarray:
    if hasattr(y, "columns"):
        missing = [t for t in targets if t not in y.columns]
        if missing:
            raise ValueError(f"y lacks columns for targets {missing}")
        y = y[list(targets)].to_numpy(dtype=object)
    labels = np.asarray(y, dtype=object)
    if labels.ndim == 1 and len(targets) == 1:
        labels = labels[:, None]
    if labels.shape != (n, len(targets)):
        raise ValueError(f"y must have shape ({n}, {len(targets)}), got {labels.shape}")
    return labels
