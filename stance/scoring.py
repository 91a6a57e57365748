"""Scoring articles: per-sentence stance with probabilities, and an article summary."""

from __future__ import annotations

import datetime
import hashlib
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np
from sklearn.utils.validation import check_is_fitted

from stance.dates import parse_date
from stance.errors import InputError, StanceWarning, TextsError, ValueInputError, check_count, check_text, is_table, require_fitted, texts_given
from stance.features import in_context
from stance.schema import STANCES, in_stance_order
from stance.segment import ENGLISH_SHARE, SERBIAN_SHARE, Article, check_sentence_count, language_shares

__all__ = ["ArticleScores", "flat_sentences", "score_article", "score_articles", "score_documents"]


@dataclass
class ArticleScores:
    """The result of scoring one article; ``to_dict()`` is the ``--json`` line.

    ``sentences`` holds, per scored sentence, its index, text and for each
    target ``{"label": ..., "proba": {"favor": p, "against": p, "none": p}}``.
    ``summary`` holds per target the count of each label and ``net``: the mean
    over sentences of P(favor) - P(against), in [-1, 1] (0.0 with no sentence).
    ``date_source`` says where ``date`` came from (``column``, ``option``,
    ``text``); ``source``, ``title`` and ``url`` come from a table when given.
    ``location`` says where the text was read (a path, or a table and row); it
    is kept with recorded scores but is not part of the ``--json`` line.
    """

    article: str
    date: str | None
    model: dict
    sentences: list[dict] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    date_source: str | None = None
    source: str | None = None
    title: str | None = None
    url: str | None = None
    content_sha256: str | None = None
    location: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("location")
        order = ["article", "date", "date_source", "source", "title", "url", "content_sha256", "model"]
        return {**{k: data.pop(k) for k in order}, **data}


def _as_article(article: Article | str, article_id: str) -> Article:
    if isinstance(article, Article):
        return article
    if not isinstance(article, str):
        raise TextsError(f"an article is an Article or its text (str), not {type(article).__name__}")
    check_text(article, "the article")
    check_text(article_id, "article_id")
    return Article.from_text(article, id=article_id)


def _content_sha256(article: Article | str) -> str:
    """What the history store tells article versions apart by: the SHA-256 of the text given (of an Article's lines, joined)."""
    text = article if isinstance(article, str) else "\n".join(s.text for s in article.segments)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _as_date(value) -> str | None:
    try:
        return parse_date(value)
    except ValueError as err:
        raise InputError(f"date: {err}; give YYYY-MM-DD") from None


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
        Publication date per article (YYYY-MM-DD, or a ``datetime.date``), one per article.

    Raises
    ------
    InputError
        A date that is not one, or out of range.
    """
    if hasattr(model, "fit") and not isinstance(model, type):
        check_is_fitted(model)  # an untrained model fails here, not deep inside
    require_fitted(model)  # None, or a model folder's path given for the model
    if isinstance(articles, (str, Article)):
        articles = [articles]
    if is_table(articles) or not isinstance(articles, Iterable):
        texts_given(articles, "articles")  # refused: a table would iterate as keys or column names
    given = list(articles)
    articles = [_as_article(a, "-") for a in given]
    digests = [_content_sha256(a) for a in given]
    if isinstance(dates, (str, datetime.date)):  # one date, not a sequence of its characters
        raise InputError(f"dates is one date ({dates!r}); give one date (or None) per article, "
                         f"e.g. dates=[{str(dates)!r}] * {len(articles)}")
    dates = [_as_date(d) for d in dates] if dates is not None else [None] * len(articles)
    if len(dates) != len(articles):
        raise ValueInputError(f"{len(dates)} dates for {len(articles)} articles; give one date (or None) per article")
    for article in articles:
        check_sentence_count(article)
    for article in articles:
        _warn_unless_english(article)
    items = [item for a in articles for item in in_context([s.text for s in a.sentences])]
    probas = predict_in_chunks(model, items)
    info = model_info(model)
    results, start = [], 0
    for article, date, digest in zip(articles, dates, digests):
        n = len(article.sentences)
        block = [p[start : start + n] for p in probas]
        results.append(_article_scores(model, article, date, info, block))
        results[-1].content_sha256 = digest
        start += n
    return results


def _warn_unless_english(article: Article) -> None:
    shares = language_shares(s.text for s in article.sentences)
    if shares is not None and shares[0] < ENGLISH_SHARE and shares[1] >= SERBIAN_SHARE:
        warnings.warn(f"{article.id}: reads as Serbian, not English ({shares[1]:.0%} of its words are common Serbian words, "
                      f"{shares[0]:.0%} English ones); the model reads English, so its sentences come out mostly none",
                      StanceWarning, stacklevel=3)


#: Sentences whose features are built and scored at once: the features of one sentence take
#: about 5 KB, so an article of a million one-word lines would otherwise need gigabytes.
PREDICT_CHUNK = 2048


def predict_in_chunks(model, items: Sequence, chunk: int | None = None) -> list[np.ndarray]:
    """``model.predict_proba(items)``, computed ``chunk`` (:data:`PREDICT_CHUNK`) sentences at a time so that memory stays bounded."""
    chunk = chunk or PREDICT_CHUNK
    parts = [model.predict_proba(items[start : start + chunk]) for start in range(0, len(items), chunk)]
    if not parts:
        return [np.empty((0, len(classes))) for classes in model.classes_]
    return [np.concatenate([part[t] for part in parts]) for t in range(len(parts[0]))]


_END = object()


def score_documents(model, documents: Iterable, *, batch_articles: int = 64) -> Iterator[ArticleScores]:
    """Score :class:`~stance.corpus.Document` objects lazily, a batch of articles at a time.

    Memory stays bounded by the batch, and each result carries the document's
    date, its date source, source, title, url and content hash. A bad article
    further on (an :class:`InputError` while reading) comes after the results
    of every article read before it.
    """
    check_count(batch_articles, "batch_articles", 1, of="articles")
    from stance.corpus import Document

    if isinstance(documents, (str, bytes, Document)) or is_table(documents) or not isinstance(documents, Iterable):
        raise TextsError(f"documents is a {type(documents).__name__}; pass Documents, such as "
                         "stance.read_documents(paths), or use stance.scoring.score_articles for texts")
    batch: list = []
    documents = iter(documents)
    while True:
        try:
            doc = next(documents, _END)
        except InputError:
            yield from _score_batch(model, batch) if batch else ()
            raise
        if doc is _END:
            break
        if not isinstance(doc, Document):
            yield from _score_batch(model, batch) if batch else ()
            raise TextsError(f"a document is {type(doc).__name__}, not a Document; read files with "
                             "stance.read_documents, or use stance.scoring.score_articles for texts")
        batch.append(doc)
        if len(batch) >= batch_articles:
            yield from _score_batch(model, batch)
            batch = []
    if batch:
        yield from _score_batch(model, batch)


def _score_batch(model, docs) -> list[ArticleScores]:
    results = score_articles(model, [d.article for d in docs], dates=[d.date for d in docs])
    for doc, result in zip(docs, results):
        result.date_source, result.source, result.title, result.url = doc.date_source, doc.source, doc.title, doc.url
        result.content_sha256, result.location = doc.content_sha256, doc.location or None
    return results


def score_article(model, article: Article | str, *, article_id: str = "-", date: str | None = None) -> ArticleScores:
    """Score one article (an :class:`Article` or its raw text).

    ``date`` is the one given, or None: the text is not searched for a dateline here
    (``stance.dates.date_in_text(text)`` finds it as ``stance score`` and ``read_documents`` do).

    Examples
    --------
    >>> result = score_article(model, "Serbia refuses to sanction Russia.")  # doctest: +SKIP
    >>> result.summary["russia"]["net"]  # doctest: +SKIP
    0.71
    """
    result = score_articles(model, [_as_article(article, article_id)], dates=[date])[0]
    if isinstance(article, str):
        result.content_sha256 = _content_sha256(article)  # the raw text, as `stance score` records it
    return result


def target_summary(sentences: list[dict], target: str) -> dict:
    """One target's summary of an article's sentences: the count of each label and the net, the mean of
    P(favor) - P(against) (0 without sentences). What ``ArticleScores.summary`` holds, and what a
    recorded summary is checked against."""
    labels = [s[target]["label"] for s in sentences]
    nets = [s[target]["proba"]["favor"] - s[target]["proba"]["against"] for s in sentences]
    return {**{k: labels.count(k) for k in STANCES}, "net": float(np.mean(nets)) if nets else 0.0}


def _article_scores(model, article: Article, date, info, probas) -> ArticleScores:
    targets = model.targets_
    decided = [model.decide(target, probas[t]) for t, target in enumerate(targets)]
    ordered = [in_stance_order(p, classes).tolist() for p, classes in zip(probas, model.classes_)]
    sentences = []
    for i, seg in enumerate(article.sentences):
        row = {"index": seg.index, "text": seg.text}
        for t, target in enumerate(targets):
            row[target] = {"label": str(decided[t][i]), "proba": dict(zip(STANCES, ordered[t][i]))}
        sentences.append(row)
    summary = {target: target_summary(sentences, target) for target in targets}
    return ArticleScores(
        article=article.id,
        date=date,
        model=info,
        sentences=sentences,
        skipped=[s.as_written for s in article.skipped],
        summary=summary,
    )


def flat_sentences(sentences: Sequence[dict], targets: Sequence[str]) -> Iterator[dict]:
    """Nested sentence results (``ArticleScores.sentences``) as flat (sentence, target) rows, as the history store keeps them."""
    for s in sentences:
        for target in targets:
            p = s[target]["proba"]
            yield {"sentence": s["index"], "target": target, "text": s["text"], "label": s[target]["label"],
                   "p_favor": p["favor"], "p_against": p["against"], "p_none": p["none"]}


#: Hex digits of a model's id as scores record it: the start of its SHA-256.
MODEL_ID_DIGITS = 16


def recorded_model_id(model_id: str) -> str:
    """A model id as given to select scores, as they record it: a whole SHA-256 (as ``stance.json`` holds
    it) cut to its first :data:`MODEL_ID_DIGITS` digits, any other text (an id or its start) as it is."""
    if len(model_id) > MODEL_ID_DIGITS and len(model_id) <= 64 and all(c in "0123456789abcdef" for c in model_id):
        return model_id[:MODEL_ID_DIGITS]
    return model_id


def saved_model_id(meta: dict) -> str | None:
    """The id of a saved model, from its ``stance.json``, cut to 16 digits (None if not saved).

    Its content hash where recorded (format 5); a model saved before that keeps
    the id its scores were recorded under, its head file's SHA-256.
    """
    full = meta.get("id") or (meta.get("head") or {}).get("sha256")
    return full[:MODEL_ID_DIGITS] if full else None


def model_info(model) -> dict:
    """What identifies the model that made a score (for the ``model`` field)."""
    meta = getattr(model, "metadata_", None) or {}
    path = getattr(model, "path_", None)
    head_sha256 = (meta.get("head") or {}).get("sha256")
    return {
        "id": saved_model_id(meta) or _unsaved_id(model),
        "path": None if path is None else str(path),
        "head_sha256": head_sha256,
        "encoder": model.encoder_.model_id if hasattr(model.encoder_, "model_id") else type(model.encoder_).__name__,
        "encoder_sha256": (meta.get("encoder") or {}).get("sha256"),
        "created": meta.get("created"),
    }


def _unsaved_id(model) -> str:
    """The id a model that was never saved will be saved under (a hash of its pickle if its parts cannot be read)."""
    from stance.persist import fitted_model_id

    encoder_sha256 = getattr(model.encoder_, "sha256", None)
    full = fitted_model_id(model, encoder_sha256) if isinstance(encoder_sha256, str) else None
    if full is None:
        import joblib

        full = joblib.hash([model.targets_, model.heads_])
    return full[:MODEL_ID_DIGITS]
