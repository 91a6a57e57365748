"""Who acts in a sentence (stance.actors), and the head that reads it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stance.actors import ACTOR_FEATURES, ACTOR_SCALE, actor_features, serbian_actor
from stance.model import StanceClassifier, load_model


def _set(text: str) -> set[str]:
    return {name for name, value in zip(ACTOR_FEATURES, actor_features([text])[0]) if value}


@pytest.mark.parametrize("text, serbian", [
    ("The Kremlin said Belgrade had betrayed it.", True),
    ("Vučić met Putin in Beijing.", True),
    ("The government denied the reports.", True),  # an office not marked foreign is Serbia's (LABELING.md)
    ("The Russian government denied the reports.", False),
    ("The EU urged Hungary to align.", False),
    ("Nissan opened a plant in Hungary.", False),  # NIS, the company, only as a whole word
])
def test_serbian_actor(text, serbian):
    assert serbian_actor(text) is serbian


def test_features_say_who_is_named_who_speaks_and_in_what_order():
    assert _set("The EU urged Hungary to align.") == {"eu named", "eu named, serbia not", "the eu speaks"}
    assert _set("Serbia will not join EU sanctions on Moscow, Vucic said.") == {
        "serbia named", "serbia or a reference back", "russia named", "eu named", "both targets named",
        "serbia named before russia", "serbia named before the eu", "serbia speaks", "negation"}
    assert _set("He said it might reconsider, but Russia's envoy warned against it.") == {
        "opens with a reference back", "serbia or a reference back", "russia named", "russia speaks", "hedge"}
    assert _set("Prices didn’t move.") == {"negation"}
    assert actor_features([]).shape == (0, len(ACTOR_FEATURES))


def test_the_head_sees_the_scaled_block_between_embedding_and_ngrams(hashing_encoder):
    texts = ["Serbia refuses sanctions on Russia.", "Hungary refuses sanctions on Russia.", "Serbia opened a road."] * 4
    y = np.array([["favor", "none"], ["none", "none"], ["none", "favor"]] * 4, dtype=object)
    with_actors = StanceClassifier(encoder=hashing_encoder, Cs=(1.0,)).fit(texts, y)
    without = StanceClassifier(encoder=hashing_encoder, Cs=(1.0,), actors=False).fit(texts, y)
    full, plain = with_actors.transform_features(texts[:3]).toarray(), without.transform_features(texts[:3]).toarray()
    width = hashing_encoder.transform(texts[:1]).shape[1]
    assert full.shape[1] == plain.shape[1] + len(ACTOR_FEATURES)
    np.testing.assert_array_equal(full[:, width:width + len(ACTOR_FEATURES)], actor_features(texts[:3]) * ACTOR_SCALE)
    np.testing.assert_array_equal(np.delete(full, np.s_[width:width + len(ACTOR_FEATURES)], axis=1), plain)


@pytest.mark.integration
def test_the_trained_default_reads_actors_and_keeps_them_when_loaded(trained):
    meta = json.loads((trained["model"] / "stance.json").read_text())
    assert meta["features"] == {"context": False, "ngrams": True, "actors": True}
    model = load_model(trained["model"])
    assert model.actors is True
    probe = ["Hungary refused to impose sanctions on Russia, Orban said."]
    assert model.transform_features(probe).shape[1] == (
        model.encoder_.transform(probe).shape[1] + len(ACTOR_FEATURES) + len(model.vectorizer_.vocabulary_))
