"""What a head sees of a sentence: its embedding, its neighbours' and its words.

A sentence is given as plain text or as ``{"text", "previous", "next"}``, the
neighbours being the article's scored sentences around it: stance toward a
target is often carried by the sentence before ("He added: ..."). The default
model reads a sentence's embedding and its words (``StanceClassifier(context=
False, ngrams=True)``); ``context=True`` adds its neighbours' mean embedding,
which helped the EU and hurt Russia in ``experiments/quality.py``. Without
neighbours a sentence stands for its own context.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["context_embeddings", "in_context", "item_text", "items_with_context"]


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
