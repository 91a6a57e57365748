"""Scoring articles: per-sentence stance with probabilities, and an article summary."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from stance.schema import STANCES
from stance.segment import Article

__all__ = ["ArticleScores", "score_article", "score_articles"]


@dataclass
class ArticleScores:
    """The result of scoring one article; ``to_dict()`` is the ``--json`` line.

    ``sentences`` holds, per scored sentence, its index, text and for each
    target ``{"label": ..., "proba": {"favor": p, "against": p, "none": p}}``.
    ``summary`` holds per target the count of each label and ``net``: the mean
    over sentences of P(favor) - P(against), in [-1, 1] (0.0 with no sentence).
    """

    article: str
    date: str | None
    model: dict
    sentences: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _as_article(article: Article | str, article_id: str) -> Article:
    return article if isinstance(article, Article) else Article.from_text(article, id=article_id)


def score_articles(
    model,
    articles: Sequence[Article | str],
    *,
    dates: Sequence[str | None] | None = None,
) -> list[ArticleScores]:
    """Score several articles, encoding all their sentences in one batch stream.

    Parameters
    ----------
    model : fitted StanceClassifier
    articles : list of Article or str
        Raw strings get the id ``-``.
    dates : list of str or None, optional
        Publication date per article (YYYY-MM-DD).
    """
    articles = [_as_article(a, "-") for a in articles]
    dates = list(dates) if dates is not None else [None] * len(articles)
    sentences = [s for a in articles for s in a.sentences]
    features = model.encoder_.transform([s.text for s in sentences])
    probas = model.predict_proba_features(features)
    info = model_info(model)
    results, start = [], 0
    for article, date in zip(articles, dates):
        n = len(article.sentences)
        block = [p[start : start + n] for p in probas]
        results.append(_article_scores(model, article, date, info, block))
        start += n
    return results


def score_article(model, article: Article | str, *, article_id: str = "-", date: str | None = None) -> ArticleScores:
    """Score one article (an :class:`Article` or its raw text).

    Examples
    --------
    >>> result = score_article(model, "Serbia refuses to sanction Russia.")  # doctest: +SKIP
    >>> result.summary["russia"]["net"]  # doctest: +SKIP
    0.71
    """
    return score_articles(model, [_as_article(article, article_id)], dates=[date])[0]


def _article_scores(model, article: Article, date, info, probas) -> ArticleScores:
    targets = model.targets_
    # Columns of each head in STANCES order, so that every output reads the same way.
    order = [[list(classes).index(s) if s in classes else None for s in STANCES] for classes in model.classes_]
    sentences = []
    for i, seg in enumerate(article.sentences):
        row = {"index": seg.index, "text": seg.text}
        for t, target in enumerate(targets):
            p = probas[t][i]
            proba = {s: (float(p[k]) if k is not None else 0.0) for s, k in zip(STANCES, order[t])}
            row[target] = {"label": str(model.classes_[t][int(np.argmax(p))]), "proba": proba}
        sentences.append(row)
    summary = {}
    for target in targets:
        counts = {s: sum(1 for r in sentences if r[target]["label"] == s) for s in STANCES}
        net = (
            float(np.mean([r[target]["proba"]["favor"] - r[target]["proba"]["against"] for r in sentences]))
            if sentences
            else 0.0
        )
        summary[target] = {**counts, "net": net}
    return ArticleScores(
        article=article.id,
        date=date,
        model=info,
        sentences=sentences,
        skipped=[s.text for s in article.skipped],
        summary=summary,
    )


def model_info(model) -> dict:
    """What identifies the model that made a score (for the ``model`` field)."""
    meta = getattr(model, "metadata_", None) or {}
    path = getattr(model, "path_", None)
    return {
        "path": None if path is None else str(path),
        "head_sha256": (meta.get("head") or {}).get("sha256"),
        "encoder": model.encoder_.model_id if hasattr(model.encoder_, "model_id") else type(model.encoder_).__name__,
        "encoder_sha256": (meta.get("encoder") or {}).get("sha256"),
        "created": meta.get("created"),
    }


_FREQ = {"week": "W", "month": "M", "quarter": "Q", "year": "Y"}


def stance_over_time(scores: Sequence[ArticleScores], by: str = "month"):
    """Net stance per period and target as a tidy DataFrame.

    One row per (target, period) with ``n_articles``, ``n_sentences``, the
    counts of each label and ``net``: the mean of the articles' nets (each
    article weighs the same). Articles without a date are left out; count them
    with ``sum(s.date is None for s in scores)``.
    """
    import pandas as pd

    if by not in _FREQ:
        raise ValueError(f"by must be one of {', '.join(_FREQ)}")
    rows = []
    for s in scores:
        if s.date is None:
            continue
        period = str(pd.Period(s.date, freq=_FREQ[by]))
        for target, m in s.summary.items():
            rows.append({"target": target, "period": period, "n_sentences": len(s.sentences),
                         **{k: m[k] for k in STANCES}, "net": m["net"]})
    columns = ["target", "period", "n_articles", "n_sentences", *STANCES, "net"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows)
    grouped = frame.groupby(["target", "period"], sort=True)
    out = grouped[["n_sentences", *STANCES]].sum()
    out["n_articles"] = grouped.size()
    out["net"] = grouped["net"].mean()
    return out.reset_index()[columns]
