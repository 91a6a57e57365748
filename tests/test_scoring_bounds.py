"""Scoring keeps its memory bounded however many sentences an article has."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import AGAINST, FAVOR, NONE
from stance import scoring
from stance.errors import InputError
from stance.features import in_context
from stance.model import StanceClassifier
from stance.segment import Article


@pytest.fixture(scope="module")
def model():
    from conftest import HashingEncoder

    texts = FAVOR + AGAINST + NONE
    y = [["favor"]] * 4 + [["against"]] * 4 + [["none"]] * 4
    return StanceClassifier(encoder=HashingEncoder(), targets=("russia",), context=True, Cs=(1.0,)).fit(
        in_context(texts), np.array(y, dtype=object))


def test_chunks_give_the_probabilities_of_one_pass(model):
    items = in_context(FAVOR + AGAINST + NONE + ["Serbia, Russia's ally, abstained."])
    whole = model.predict_proba(items)
    for chunk in (1, 5, 13, 100):
        chunked = scoring.predict_in_chunks(model, items, chunk=chunk)
        assert [p.shape for p in chunked] == [p.shape for p in whole]
        np.testing.assert_allclose(chunked[0], whole[0], rtol=0, atol=1e-12)
    assert scoring.predict_in_chunks(model, [])[0].shape == (0, 3)


def test_an_article_is_scored_a_chunk_at_a_time(model, monkeypatch):
    sizes = []
    predict = StanceClassifier.predict_proba

    def counted(self, X):
        sizes.append(len(X))
        return predict(self, X)

    monkeypatch.setattr(StanceClassifier, "predict_proba", counted)
    monkeypatch.setattr(scoring, "PREDICT_CHUNK", 7)
    result = scoring.score_article(model, "\n".join(f"Serbia buys gas, part {i}." for i in range(20)))
    assert len(result.sentences) == 20
    assert sizes == [7, 7, 6]


def test_an_article_of_too_many_sentences_is_refused_before_it_is_encoded(model, monkeypatch):
    from stance import segment

    monkeypatch.setattr(segment, "MAX_ARTICLE_SENTENCES", 5)
    monkeypatch.setattr(StanceClassifier, "predict_proba", lambda *a: pytest.fail("encoded"))
    article = Article("many", tuple(segment.Segment(i, "x") for i in range(6)))  # built, not split
    with pytest.raises(InputError, match=r"^many: 6 sentences, more than the 5 one article may have; split it"):
        scoring.score_articles(model, [article])


def test_splitting_stops_at_the_first_sentence_over_the_limit(monkeypatch):
    """A text of millions of sentences is refused after the limit's worth of splitting, not all of it."""
    from stance import segment

    monkeypatch.setattr(segment, "MAX_ARTICLE_SENTENCES", 5)
    seen = []
    kind = segment.furniture_kind
    monkeypatch.setattr(segment, "furniture_kind", lambda line: seen.append(line) or kind(line))
    text = "Serbia buys gas. Russia sells it. " * 3 + "\n" + "\n".join(f"Line {i} of many." for i in range(10_000))
    with pytest.raises(InputError, match=r"^long: more than 5 sentences, the most one article may have; split it"):
        Article.from_text(text, "long")
    assert len(seen) <= 12  # the first line's pieces and the lines up to the sixth sentence
    assert len(Article.from_text("\n".join(["Serbia buys gas."] * 5), "five").segments) == 5
