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
    monkeypatch.setattr(scoring, "MAX_ARTICLE_SENTENCES", 5)
    monkeypatch.setattr(StanceClassifier, "predict_proba", lambda *a: pytest.fail("encoded"))
    article = Article.from_text("\n".join(["x"] * 6), "many")
    with pytest.raises(InputError, match=r"^many: 6 sentences, more than the 5 one article may have; split it"):
        scoring.score_articles(model, [article])
