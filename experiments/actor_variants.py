"""Variants of the actor indicators tried under the same folds, for the rows of the fine-tuning search.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/finetune_search.py NAME '{"kind": "frozen", "variant": "VARIANT"}'

Each variant patches the frozen default for the length of one run and is named in the
row's settings. None of them is shipped: each row says why (``experiments/README.md``).

- ``subject-position``: three more indicators, whether Serbia, Russia or the EU is named in
  the first five words of the sentence or of its main clause (after a leading "On Friday,"
  or "Asked about it,"): where the subject of a news sentence usually stands.
- ``serbian-clauses``: a second embedding, of only the clauses that name a Serbian actor (the
  whole sentence when none does but it opens with a reference back; zeros when neither), so
  that what Serbia does is read apart from what others do in the same sentence.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np

import stance.actors as actors
import stance.model as model
from stance.features import item_text

_LEAD = re.compile(r"^\W*(?:(?:on|in|at|by|after|before|during|since|last|earlier|later|asked|speaking|meanwhile|"
                   r"however|but|and|yet|still|also|now|today|yesterday|this|that)\b[^,]{0,60},\s*)?", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:()\u2014]\s*|\s+-\s+|\s+(?:but|while|whereas|although|though|because|which|who|"
                           r"after|before|when|as)\s+", re.IGNORECASE)


def _opening(text: str) -> str:
    """The first five words of the sentence and of its main clause."""
    rest = text[_LEAD.match(text).end():]
    return " ".join(rest.split()[:5]) + " | " + " ".join(text.split()[:5])


def _with_subjects(original):
    def actor_features(texts):
        opening = [_opening(t) for t in texts]
        extra = [[actors.serbian_actor(o), bool(actors._RUSSIA_RE.search(o)), bool(actors._EU_RE.search(o))]
                 for o in opening]
        return np.hstack([original(texts), np.asarray(extra, dtype=np.float64).reshape(len(texts), 3)])

    return actor_features


def serbian_part(text: str) -> str:
    """The clauses of ``text`` that name a Serbian actor, joined; the whole text if none does but it opens with a reference back."""
    keep = [c for c in _CLAUSE_BREAK.split(text) if c and c.strip() and actors.serbian_actor(c)]
    if not keep and actors._ANAPHOR_RE.search(text):
        return text
    return " ".join(keep)


def _with_serbian_clauses(original):
    from scipy import sparse

    def transform_features(self, X):
        features = original(self, X)
        parts = [serbian_part(item_text(x)) for x in model._items(X)]
        present = [i for i, p in enumerate(parts) if p]
        block = np.zeros((len(parts), 1))
        if present:
            vectors = np.asarray(self.encoder_.transform([parts[i] for i in present]))
            block = np.zeros((len(parts), vectors.shape[1]))
            block[present] = vectors
        if sparse.issparse(features):
            return sparse.hstack([features, sparse.csr_matrix(block)], format="csr")
        return np.hstack([features, block])

    return transform_features


VARIANTS = {
    "subject-position": (actors, "actor_features", _with_subjects),
    "serbian-clauses": (model.StanceClassifier, "transform_features", _with_serbian_clauses),
}


@contextlib.contextmanager
def applied(variant: str | None):
    """The frozen default with ``variant`` patched in, for the length of the block."""
    if variant is None:
        yield
        return
    if variant not in VARIANTS:
        raise SystemExit(f"unknown variant {variant!r}; choose from {', '.join(VARIANTS)}")
    owner, name, wrap = VARIANTS[variant]
    original = getattr(owner, name)
    setattr(owner, name, wrap(original))
    try:
        yield
    finally:
        setattr(owner, name, original)
