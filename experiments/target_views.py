"""One head for both targets, reading each target's stance from a view of the sentence.

A sentence's Russia stance is read from its text; its EU stance from the same text with the
names of Russia and of the EU swapped ("Belgrade refused to join the EU sanctions on Russia"
becomes "... join Russia sanctions on the EU"). One head learns from both views, each
labeled with its own target's stance, so it sees twice the sentences, and a word that goes with
one target's name in the labeled articles (arms with Russia, accession with the EU) no longer
tells the label by itself: what counts is what Serbia does toward the target named first.

``TargetViewClassifier(shared=True)`` gives the head each view's features three times: as they
are, and once more in a block of each view's own (zero in the other view's rows), the
"frustratingly easy" augmentation of domain adaptation: the C search decides how far the two
targets share their weights. With ``shared=False`` they share them all.

Used by ``experiments/finetune_search.py`` (settings ``{"kind": "target-views", ...}``).
"""

from __future__ import annotations

import re

import numpy as np

from stance.features import item_text
from stance.model import StanceClassifier, _label_matrix

__all__ = ["TargetViewClassifier", "swap_targets"]

# Each name of one target and the name of the other put in its place, longest first.
_RUSSIA_TO_EU = {
    "russian federation": "the European Union", "russians": "Europeans", "russian": "European", "russia": "the EU",
    "moscow": "Brussels", "kremlin": "European Commission", "putin": "von der Leyen", "lavrov": "Borrell",
    "peskov": "Borrell", "zakharova": "Borrell", "medvedev": "Michel", "gazprom": "EU energy firms",
    "rosatom": "EU energy firms", "botsan-kharchenko": "the EU ambassador", "soviet": "European",
    "sputnik": "Euronews", "wagner": "EULEX",
}
_EU_TO_RUSSIA = {
    "european union": "Russia", "european commission": "Kremlin", "european parliament": "Duma",
    "european council": "Kremlin", "eu": "Russia", "e.u.": "Russia", "brussels": "Moscow", "commission": "Kremlin",
    "von der leyen": "Putin", "borrell": "Lavrov", "kallas": "Lavrov", "varhelyi": "Lavrov", "várhelyi": "Lavrov",
    "lajcak": "Lavrov", "lajčak": "Lavrov", "lajčák": "Lavrov", "ashton": "Lavrov", "mogherini": "Lavrov",
    "eulex": "Wagner", "schengen": "Russian", "europe": "Russia", "european": "Russian", "europeans": "Russians",
    "the west": "Russia", "western": "Russian", "member states": "Russian regions",
}
_SWAP = {**_RUSSIA_TO_EU, **_EU_TO_RUSSIA}
_NAMES = sorted(_SWAP, key=len, reverse=True)
# An article before a name goes with it: "the EU" becomes "Russia", "Russia" becomes "the EU", "the Kremlin" stays
# "the European Commission".
_SWAP_RE = re.compile(r"\b(?:(the)\s+)?(" + "|".join(re.escape(n) for n in _NAMES) + r")\b", re.IGNORECASE)
_TAKES_ARTICLE = {"European Commission", "Kremlin", "Duma", "European Union"}


def _swapped(match: re.Match) -> str:
    article, other = match.group(1), _SWAP[match.group(2).lower()]
    return f"{article} {other}" if article and other in _TAKES_ARTICLE else other


def swap_targets(text: str) -> str:
    """``text`` with every name of Russia given as the EU's and every name of the EU as Russia's."""
    return _SWAP_RE.sub(_swapped, text)


class TargetViewClassifier:
    """Both targets' stance from one head over two views of each sentence (see the module).

    Takes :class:`StanceClassifier`'s arguments for the head it fits (targets are
    ``("russia", "eu")``).
    """

    targets = ("russia", "eu")

    def __init__(self, shared: bool = True, **kwargs):
        self.shared = shared
        self.kwargs = kwargs

    @staticmethod
    def _views(X) -> list[dict]:
        """Each sentence as itself (view 0, read for Russia), then each with the targets swapped (view 1, for the EU)."""
        texts = [item_text(x) for x in X]
        return [{"text": t, "view": 0} for t in texts] + [{"text": swap_targets(t), "view": 1} for t in texts]

    def fit(self, X, y, groups=None):
        labels = _label_matrix(y, self.targets, len(X))
        pooled = np.concatenate([labels[:, 0], labels[:, 1]])[:, None]
        groups = None if groups is None else np.concatenate([np.asarray(groups)] * 2)
        self.head_ = _ViewHead(shared=self.shared, targets=("stance",), **self.kwargs)
        self.head_.fit(self._views(X), pooled, groups=groups)
        self.classes_ = [self.head_.classes_[0]] * 2
        self.targets_, self.encoder_, self.heads_ = list(self.targets), self.head_.encoder_, self.head_.heads_
        return self

    def predict(self, X) -> np.ndarray:
        """Labels, shape (n_samples, 2), as :meth:`StanceClassifier.predict` (so that `stance check` reads it)."""
        probas = self.predict_proba(X)
        return np.stack([self.decide(t, p) for t, p in zip(self.targets, probas)], axis=1)

    def predict_proba(self, X) -> list[np.ndarray]:
        proba = self.head_.predict_proba(self._views(X))[0]
        return [proba[:len(X)], proba[len(X):]]

    def decide(self, target: str, proba: np.ndarray) -> np.ndarray:
        return self.head_.decide("stance", proba)


class _ViewHead(StanceClassifier):
    """The default head over items ``{"text", "view"}``; with ``shared``, each view's features also get a block
    of their own."""

    def __init__(self, shared: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.shared = shared

    def transform_features(self, X):
        from scipy import sparse

        items = list(X)
        features = super().transform_features([x["text"] for x in items])
        if not self.shared:
            return features
        view = np.array([x["view"] for x in items], dtype=float)
        features = sparse.csr_matrix(features)
        blocks = [features] + [sparse.diags((view == v).astype(float)) @ features for v in (0, 1)]
        return sparse.hstack(blocks, format="csr")

    def feature_columns(self, width: int) -> dict[str, slice]:
        """The layout of the first block (the question rule reads its indicators); with ``shared`` the view blocks
        after it repeat it."""
        return super().feature_columns(width // 3 if self.shared else width)
