"""What a head sees of a sentence: its embedding, its neighbours' and its words.

A sentence is given as plain text or as ``{"text", "previous", "next"}``, the
neighbours being the article's scored sentences around it: stance toward a
target is often carried by the sentence before ("He added: ..."). The default
model reads a sentence's embedding, its words and who acts in it
(``StanceClassifier(context=False, ngrams=True, actors=True)``, the last from
:mod:`stance.actors`); ``context=True`` adds its neighbours' mean embedding,
which helped the EU and hurt Russia in ``experiments/quality.py``. Without
neighbours a sentence stands for its own context.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["context_embeddings", "in_context", "item_text", "items_with_context", "ngram_features"]


def item_text(item) -> str:
    """The sentence text of an input item (a str or a dict with ``text``)."""
    return item if isinstance(item, str) else item["text"]


def in_context(texts: Sequence[str]) -> list[dict]:
    """One article's sentences, in order, each with its neighbours (None at the edges)."""
    texts = list(texts)
    return [
        {"text": t, "previous": texts[i - 1] if i > 0 else None, "next": texts[i + 1] if i + 1 < len(texts) else None}
        for i, t in enumerate(texts)
    ]


def items_with_context(texts: Sequence[str], articles: Sequence[str], order: Sequence[int]) -> list[dict]:
    """Context items for labeled rows: neighbours are rows of the same article by ``order``."""
    items: list[dict | None] = [None] * len(texts)
    by_article: dict[str, list[int]] = {}
    for i, article in enumerate(articles):
        by_article.setdefault(article, []).append(i)
    for rows in by_article.values():
        rows.sort(key=lambda i: order[i])
        for i, item in zip(rows, in_context([texts[i] for i in rows])):
            items[i] = item
    return items


def context_embeddings(encoder, items: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings of each sentence and the mean of its neighbours' (itself when it has none)."""
    texts = [item_text(x) for x in items]
    own = encoder.transform(texts)
    neighbours = [[x.get("previous"), x.get("next")] if isinstance(x, dict) else [None, None] for x in items]
    wanted = list(dict.fromkeys(n for pair in neighbours for n in pair if n is not None))
    index = {t: i for i, t in enumerate(wanted)}
    table = encoder.transform(wanted) if wanted else np.zeros((0, own.shape[1]), dtype=own.dtype)
    context = own.copy()
    for i, pair in enumerate(neighbours):
        present = [table[index[n]] for n in pair if n is not None]
        if present:
            context[i] = np.mean(present, axis=0)
    return own, context


def ngram_features(vectorizer, texts: Sequence[str]):
    """``vectorizer.transform(texts)`` for a fitted word n-gram ``TfidfVectorizer``, about twice as fast.

    scikit-learn counts features through a Python generator per document; here
    each document's features are looked up with ``map`` and summed by scipy.
    The weighting is the vectorizer's own (``sublinear_tf``, ``idf_``, ``norm``).
    Any other configuration goes through ``vectorizer.transform``.
    """
    from scipy import sparse
    from sklearn.preprocessing import normalize

    if vectorizer.analyzer != "word" or vectorizer.stop_words is not None or vectorizer.binary:
        return vectorizer.transform(texts)
    preprocess, tokenize = vectorizer.build_preprocessor(), vectorizer.build_tokenizer()
    vocabulary, (low, high) = vectorizer.vocabulary_, vectorizer.ngram_range
    columns, indptr = [], [0]
    for text in texts:
        tokens = tokenize(preprocess(text))
        for n in range(low, high + 1):
            grams = tokens if n == 1 else map(" ".join, zip(*(tokens[k:] for k in range(n))))
            columns.extend(j for j in map(vocabulary.get, grams) if j is not None)
        indptr.append(len(columns))
    counts = sparse.csr_matrix(
        (np.ones(len(columns)), np.asarray(columns, dtype=np.int64), np.asarray(indptr, dtype=np.int64)),
        shape=(len(indptr) - 1, len(vocabulary)),
    )
    counts.sum_duplicates()
    if vectorizer.sublinear_tf:
        np.log(counts.data, out=counts.data)
        counts.data += 1
    if vectorizer.use_idf:
        counts = counts @ sparse.diags(vectorizer.idf_)
    return normalize(counts, norm=vectorizer.norm, copy=False) if vectorizer.norm and counts.shape[0] else counts
