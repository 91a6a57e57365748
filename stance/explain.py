"""Why a sentence got its label: the words that pushed the model toward it, per target.

A label alone asks the reader to trust the model; the phrases behind it show
what the model read, and catch one that learned "Moscow" instead of stance.
Two methods, chosen per model, and one rule:

``ngram-weights`` (a logistic regression over [embedding | TF-IDF n-grams], the
default :class:`~stance.model.StanceClassifier`) is exact. With ``W`` the head's
coefficients, one row per class (a binary head's single row ``w`` is read as
``-w/2, +w/2``, which gives the same probabilities), ``x`` the sentence's
features and ``k`` its label, feature ``i`` contributes::

    x[i] * (W[k, i] - mean_c W[c, i])

All contributions plus ``bias = b[k] - mean_c b[c]`` add up to the label's
centred logit ``z[k] - mean_c z[c]`` (``z`` the head's decision function,
before any temperature; it is log P(k) minus the mean log-probability). The
embedding has no words: its features are summed into one term,
``(sentence meaning)`` (``(neighbours)`` for a context model's neighbour block),
so that one sees how much the n-grams explain. Each actor indicator that is set
(:mod:`stance.actors`) is a term of its own, e.g. ``(who acts: russia named,
serbia not)``.

``occlusion`` (any other model: a fine-tuned encoder, no n-grams, another
head) drops each word in turn, every occurrence of it, and weighs it by the fall
in P(label): positive when the word argued for the label. Only the
``MAX_OCCLUDED`` longest distinct words of a sentence are tried, in one
``predict_proba`` call per sentence.

``question-rule``, with no terms: the sentence ends in a question mark and the
model's ``question_rule`` made it ``none`` on every target, whatever its words;
``pressure-rule`` likewise for a sentence in which another actor only presses
Serbia, under the model's ``pressure_rule``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping, Sequence

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.utils.validation import check_is_fitted

from stance.actors import ACTOR_FEATURES
from stance.errors import ValueInputError, check_count, require_fitted
from stance.features import item_text
from stance.model import CalibratedHead, _items, blank_items
from stance.schema import STANCES

__all__ = ["ACTORS", "MEANING", "NEIGHBOURS", "explain_sentences"]

MEANING = "(sentence meaning)"
NEIGHBOURS = "(neighbours)"
ACTORS = "(who acts: {})"
#: Words tried per sentence by occlusion: each costs one more sentence to encode.
MAX_OCCLUDED = 40
_WORD = re.compile(r"\w+")


def explain_sentences(model, X, *, top: int | None = 3, labels: Sequence[Mapping[str, str]] | None = None) -> list[dict]:
    """Per sentence and target, the terms that pushed the model toward the label.

    Parameters
    ----------
    model : fitted StanceClassifier (or FineTunedClassifier)
    X : list of str or of ``{"text", "previous", "next"}``, as for ``predict_proba``.
    top : int or None, default=3
        Keep the ``top`` terms pushing hardest toward the label and the one pushing
        hardest against it (and the embedding terms); None keeps every term.
    labels : list of dict, optional
        Per sentence, ``{target: label}`` to explain instead of the model's own
        labels (e.g. the ones a score printed).

    Returns
    -------
    list of dict
        Per sentence ``{target: {"label", "method", "terms"}}``, ``terms`` being
        ``[{"text", "weight"}]`` by decreasing weight. ``ngram-weights`` also gives
        ``bias``: with ``top=None`` the weights plus ``bias`` are the centred logit.
        ``question-rule`` or ``pressure-rule`` (no terms): one of the model's rules decided the label
        (whatever its head, occlusion included);
        ``no-words`` (no terms): a blank text, none for certain.

    Examples
    --------
    >>> explain_sentences(model, ["Belgrade refuses to sanction Russia."])[0]["russia"]  # doctest: +SKIP
    {'label': 'favor', 'method': 'ngram-weights', 'bias': -1.63,
     'terms': [{'text': '(sentence meaning)', 'weight': 2.82}, {'text': 'refuses to', 'weight': 0.18},
               {'text': 'refuses', 'weight': 0.18}, {'text': 'sanction', 'weight': 0.13}, {'text': 'to', 'weight': -0.09}]}
    """
    require_fitted(model)
    check_is_fitted(model)
    items = _items(X)
    if top is not None:
        check_count(top, "top", of="terms")
    top = None if top is None else int(top)
    if labels is not None:
        labels = list(labels)
        if len(labels) != len(items):
            raise ValueInputError(f"{len(labels)} labels for {len(items)} sentences; "
                                  "give one {target: label} per sentence")
        for i, given in enumerate(labels):
            bad = next((t for t in model.targets_ if not isinstance(given, Mapping) or given.get(t) not in STANCES), None)
            if bad is not None:
                shown = given.get(bad) if isinstance(given, Mapping) else given
                raise ValueInputError(f"labels[{i}] gives {bad} {shown!r}; give one of {', '.join(STANCES)} per target")
    if not items:
        return []
    heads = _linear_heads(model)
    ruling = heads is not None or hasattr(model, "questions")  # a model with the rules of StanceClassifier
    features = model.transform_features(items) if ruling else None
    none = np.zeros(len(items), dtype=bool)
    blank = blank_items(items) if ruling else none  # none for certain, as predict_proba has it
    asked = model.questions(features) if hasattr(model, "questions") else none
    pressed = model.pressed(items) if hasattr(model, "pressed") else none
    rule = np.where(blank, "no-words", np.where(asked, "question-rule", np.where(pressed, "pressure-rule", "")))
    reasons = [{target: {"label": "none", "method": str(rule[i]), "terms": []} for target in model.targets_}
               if rule[i] else None for i in range(len(items))]
    weighed = np.flatnonzero(rule == "")
    if heads is None:
        for i in weighed:
            reasons[i] = _occlusion(model, items[i], None if labels is None else labels[i], top)
        return reasons
    if labels is None:
        decided = model.predict_features(features)
        labels = [dict(zip(model.targets_, row)) for row in decided]
    explained = _ngram_weights(model, heads, [items[i] for i in weighed], features[weighed],
                               [labels[i] for i in weighed], top)
    for i, reason in zip(weighed, explained):
        reasons[i] = reason
    return reasons


# n-gram weights ----------------------------------------------------------------


def _linear_heads(model) -> dict | None:
    """Per target ``(W, b, classes)`` with one row per class, or None when the exact method does not apply."""
    if getattr(model, "vectorizer_", None) is None:
        return None
    heads = {}
    for target in model.targets_:
        head = model.heads_[target]
        head = head.head if isinstance(head, CalibratedHead) else head
        if not isinstance(head, LogisticRegression):  # its probabilities are the softmax of its decision function
            return None
        W, b = np.asarray(head.coef_, dtype=np.float64), np.asarray(head.intercept_, dtype=np.float64).ravel()
        if W.shape[0] == 1 and len(head.classes_) == 2:  # binary: decision w.x + b is the logit of classes_[1]
            W, b = np.vstack([-W / 2, W / 2]), np.array([-b[0] / 2, b[0] / 2])
        heads[target] = (W - W.mean(axis=0), b - b.mean(), [str(c) for c in head.classes_])
    return heads


def _ngram_weights(model, heads, items, features, labels, top) -> list[dict]:
    from scipy import sparse

    features = sparse.csr_matrix(features)
    names = model.vectorizer_.get_feature_names_out()
    blocks = model.feature_columns(features.shape[1])
    own, n_embedded, n_dense = blocks["sentence"].stop, blocks["neighbours"].stop, blocks["ngrams"].start
    out = []
    for i, item in enumerate(items):
        row = features[i]
        columns, values = row.indices, row.data
        words = columns >= n_dense
        spans = _spans(model.vectorizer_, item_text(item))
        result = {}
        for target, (W, b, classes) in heads.items():
            k = classes.index(labels[i][target])
            weights = values * W[k, columns]
            grams = [(spans.get(g, g), float(w)) for g, w in zip(names[columns[words] - n_dense], weights[words])]
            dense = [(MEANING, float(weights[columns < own].sum()))]
            if own < n_embedded:
                dense.append((NEIGHBOURS, float(weights[(columns >= own) & (columns < n_embedded)].sum())))
            dense += [(ACTORS.format(ACTOR_FEATURES[c - n_embedded]), float(w))
                      for c, w in zip(columns, weights) if n_embedded <= c < n_dense and w != 0.0]
            result[target] = {"label": classes[k], "method": "ngram-weights", "bias": float(b[k]),
                              "terms": _terms(grams, top, dense)}
        out.append(result)
    return out


def _spans(vectorizer, text: str) -> dict[str, str]:
    """Each n-gram of ``text`` as the vectorizer names it -> its first occurrence as written.

    Empty when the vectorizer's tokens cannot be found back in the text (a custom
    tokenizer, or lowercasing that changed them): the names are shown instead.
    """
    if vectorizer.analyzer != "word" or vectorizer.tokenizer is not None or vectorizer.stop_words is not None:
        return {}
    found = list(re.finditer(vectorizer.token_pattern, text))
    tokens = vectorizer.build_tokenizer()(vectorizer.build_preprocessor()(text))
    if [m.group().lower() for m in found] != tokens:
        return {}
    low, high = vectorizer.ngram_range
    spans: dict[str, str] = {}
    for n in range(low, high + 1):
        for s in range(len(found) - n + 1):
            spans.setdefault(" ".join(tokens[s : s + n]), text[found[s].start() : found[s + n - 1].end()])
    return spans


# occlusion ----------------------------------------------------------------------


def _occlusion(model, item, labels: Mapping[str, str] | None, top) -> dict:
    text = item_text(item)
    words = _candidates(text)
    edited = [" ".join(re.sub(rf"\b{re.escape(w)}\b", " ", text, flags=re.IGNORECASE).split()) for w in words]
    batch = [item, *({**item, "text": e} if isinstance(item, dict) else e for e in edited)]
    with _no_disk_cache(model.encoder_):
        probas = model.predict_proba(batch)
    result = {}
    for t, target in enumerate(model.targets_):
        classes = [str(c) for c in model.classes_[t]]
        label = labels[target] if labels is not None else str(model.decide(target, probas[t][:1])[0])
        k = classes.index(label)
        drops = probas[t][0, k] - probas[t][1:, k]
        result[target] = {"label": label, "method": "occlusion",
                          "terms": _terms([(w, float(d)) for w, d in zip(words, drops)], top)}
    return result


def _candidates(text: str) -> list[str]:
    """The distinct words of ``text`` (first spelling), the ``MAX_OCCLUDED`` longest, in reading order."""
    first: dict[str, str] = {}
    for m in _WORD.finditer(text):
        first.setdefault(m.group().lower(), m.group())
    words = list(first.values())
    keep = set(sorted(range(len(words)), key=lambda i: -len(words[i]))[:MAX_OCCLUDED])
    return [w for i, w in enumerate(words) if i in keep]


@contextlib.contextmanager
def _no_disk_cache(encoder):
    """Sentences with a word cut out are throwaway: keep them out of the on-disk embedding cache."""
    if not hasattr(encoder, "cache"):
        yield
        return
    saved = encoder.cache
    encoder.cache = False
    try:
        yield
    finally:
        encoder.cache = saved


# both ---------------------------------------------------------------------------


def _terms(weighed: list[tuple[str, float]], top: int | None, always: Sequence[tuple[str, float]] = ()) -> list[dict]:
    """The ``top`` strongest terms for the label and the strongest against it, with ``always``, strongest first."""
    if top is not None:
        ranked = sorted(weighed, key=lambda tw: -tw[1])
        against = [tw for tw in ranked[-1:] if tw[1] < 0]
        weighed = [tw for tw in ranked[:top] if tw[1] > 0] + against
    return [{"text": t, "weight": w} for t, w in sorted([*weighed, *always], key=lambda tw: -tw[1])]
