"""StanceClassifier as a researcher uses it: a scikit-learn estimator that keeps its state whole and scores honestly."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score

import stance
from conftest import AGAINST, FAVOR, NONE, make_scores
from stance.errors import StanceError, ValueInputError
from stance.fingerprint import content_sha256
from stance.model import StanceClassifier
from stance.persist import fitted_model_id
from stance.scoring import model_info, saved_model_id

TEXTS = FAVOR + AGAINST + NONE
Y = np.array([["favor", "against"]] * len(FAVOR) + [["against", "favor"]] * len(AGAINST) + [["none", "none"]] * len(NONE),
             dtype=object)
GROUPS = [f"a{i % 6}" for i in range(len(TEXTS))]


def _fitted(**settings) -> StanceClassifier:
    return StanceClassifier(encoder=TfidfVectorizer(), cv=2, Cs=(1.0,), **settings).fit(TEXTS, Y, groups=GROUPS)


class _Stopped(TfidfVectorizer):
    """A TF-IDF encoder stopped (Ctrl-C) while it encodes."""

    def transform(self, raw_documents):
        raise KeyboardInterrupt


class _Lengths:
    """An encoder that is no scikit-learn estimator: only transform."""

    def transform(self, texts):
        return np.array([[len(t), t.count(" ") + 1.0] for t in texts])


def test_a_fit_that_fails_or_is_stopped_leaves_the_fitted_model_as_it_was():
    clf = _fitted()
    before = clf.predict_proba(TEXTS)
    no_eu = Y.copy()
    no_eu[:, 1] = None
    with pytest.raises(ValueInputError, match="no labeled rows for target 'eu'"):
        clf.fit(TEXTS, no_eu, groups=GROUPS)
    with pytest.raises(KeyboardInterrupt):
        clf.set_params(encoder=_Stopped()).fit(TEXTS, Y, groups=GROUPS)
    for kept, now in zip(before, clf.predict_proba(TEXTS)):
        np.testing.assert_array_equal(kept, now)
    refit = clf.set_params(encoder=TfidfVectorizer(), ngrams=False).fit(TEXTS, Y, groups=GROUPS)
    assert refit.vectorizer_ is None and refit.feature_columns(10)["ngrams"] == slice(10, 10)


def test_any_object_with_transform_is_an_encoder_and_a_sparse_one_needs_no_ngrams():
    for encoder in (_Lengths(), TfidfVectorizer()):
        clf = StanceClassifier(encoder=encoder, cv=2, Cs=(1.0,), ngrams=False).fit(TEXTS, Y, groups=GROUPS)
        assert clf.predict(TEXTS).shape == (len(TEXTS), 2)
        assert [p.shape for p in clf.predict_proba([])] == [(0, 3), (0, 3)]
        assert clf.predict([]).shape == (0, 2)


def test_score_leaves_out_a_class_that_neither_the_labels_nor_the_predictions_hold():
    clf = _fitted()
    some = FAVOR + NONE
    predicted = clf.predict(some)
    assert clf.score(some, predicted) == 1.0  # no 'against' anywhere: no error to count
    truth = predicted.copy()
    truth[0, 0] = "none" if truth[0, 0] != "none" else "favor"
    expected = np.mean([f1_score(truth[:, j].astype(str), predicted[:, j].astype(str), average="macro") for j in range(2)])
    assert clf.score(some, truth) == pytest.approx(expected) and clf.score(some, truth) < 1.0


@pytest.mark.parametrize(
    "settings, says",
    [({"cv": 0}, "cv must be a whole number"), ({"Cs": ()}, "Cs is \\(\\); give a non-empty list"),
     ({"Cs": 0.1}, "Cs is 0.1"), ({"Cs": [-1.0, 1.0]}, "Cs holds -1.0; every C is a positive number"),
     ({"Cs": [float("nan")]}, "Cs holds nan"), ({"head": LogisticRegression}, "head is the class LogisticRegression; give an instance")],
)
def test_a_setting_of_the_wrong_value_is_a_stance_error_before_any_encoding(settings, says):
    clf = StanceClassifier(encoder=_Stopped().fit(TEXTS), **settings)  # encoding would stop the test
    with pytest.raises(ValueInputError, match=says) as caught:
        clf.fit(TEXTS, Y, groups=GROUPS)
    assert isinstance(caught.value, StanceError) and isinstance(caught.value, ValueError)


def test_numpy_settings_are_taken_as_their_python_kin():
    clf = StanceClassifier(encoder=TfidfVectorizer(), cv=np.int64(2), Cs=np.logspace(-1, 0, 2)).fit(TEXTS, Y, groups=GROUPS)
    assert set(clf.best_params_["russia"]) >= {"C", "threshold"} and clf.best_params_["russia"]["C"] in (0.1, 1.0)


def test_a_text_of_invisible_characters_is_blank_and_none_for_certain():
    clf = _fitted()
    for proba, classes in zip(clf.predict_proba(["\u200b\u00ad", "Serbia deepens its friendship with Moscow."]), clf.classes_):
        assert proba[0, list(classes).index("none")] == 1.0
        assert proba[1, list(classes).index("none")] < 1.0


def test_drift_names_the_model_its_records_name():
    scores = [make_scores("a", "2025-01-10", {"russia": 0.2}, model_id="m7"),
              make_scores("b", "2025-02-10", {"russia": -0.1}, model_id="m7")]
    report = stance.measure_drift(scores, by="month", n_boot=10, n_perm=10)
    assert report.to_dict()["model"]["id"] == "m7"
    assert "model m7" in report.to_text()


def test_a_loaded_model_saved_again_keeps_its_training_record_and_its_id(trained, tmp_path):
    model = stance.StanceClassifier.load(trained["model"])  # trained in another process, by `stance train`
    again = model.save(tmp_path / "again")
    first, second = (json.loads((folder / "stance.json").read_text("utf-8")) for folder in (trained["model"], again))
    assert second["training"] == first["training"] and first["training"].get("labels_sha256")
    assert len(first["id"]) == 64 and second["id"] == first["id"]  # the head file's bytes may differ; its numbers do not
    assert model_info(model)["id"] == first["id"][:16] == model_info(stance.StanceClassifier.load(again))["id"]


@pytest.mark.integration
def test_a_model_scored_before_it_is_saved_carries_the_id_it_is_saved_under(tmp_path):
    from stance.encoders.transformer import SentenceEncoder

    model = StanceClassifier(encoder=SentenceEncoder(), cv=2, Cs=(1.0,)).fit(TEXTS, Y, groups=GROUPS)
    before = stance.score_article(model, "Serbia signed the gas deal with Moscow.").model["id"]
    saved = json.loads((model.save(tmp_path / "m") / "stance.json").read_text("utf-8"))
    assert before == saved["id"][:16] != saved["head"]["sha256"][:16]


def test_a_model_id_reads_the_fitted_numbers_not_the_process_that_holds_them(tmp_path):
    import subprocess
    import sys

    import joblib

    model = _fitted()
    model.predict(["Serbia buys Russian gas."])  # a transform sets scikit-learn's id(stop_words), a memory address
    joblib.dump({"heads": model.heads_, "vectorizer": model.vectorizer_}, tmp_path / "parts.joblib")
    here = content_sha256({"heads": model.heads_, "vectorizer": model.vectorizer_})
    there = subprocess.run([sys.executable, "-c", "import joblib, sys; from stance.fingerprint import content_sha256; "
                            "print(content_sha256(joblib.load(sys.argv[1])))", str(tmp_path / "parts.joblib")],
                           capture_output=True, text=True, check=True).stdout.strip()
    assert there == here


def test_a_model_id_moves_with_any_fitted_number_or_setting_and_with_nothing_else():
    model = _fitted()
    first = fitted_model_id(model, "0" * 64)
    assert fitted_model_id(_fitted(), "0" * 64) == first  # a fit is deterministic
    assert fitted_model_id(model, "1" * 64) != first  # another encoder
    model.question_rule = not model.question_rule
    assert fitted_model_id(model, "0" * 64) != first
    model.question_rule = not model.question_rule
    head = next(iter(model.heads_.values()))
    coef = getattr(head, "head", head).coef_
    coef.flat[0] = np.nextafter(coef.flat[0], np.inf)  # one unit in the last place
    assert fitted_model_id(model, "0" * 64) != first
    coef.flat[0] = np.nextafter(coef.flat[0], -np.inf)
    assert fitted_model_id(model, "0" * 64) == first
    assert content_sha256({"a": 1, "b": {2.0, 3}}) == content_sha256({"b": {3, 2.0}, "a": 1})  # order is no content
    assert content_sha256([1]) != content_sha256((1,)) and content_sha256(1) != content_sha256(1.0)


def test_a_model_saved_before_ids_were_recorded_keeps_its_head_hash_as_id():
    head = {"sha256": "ab" * 32}
    assert saved_model_id({"head": head}) == "ab" * 8
    assert saved_model_id({"id": "cd" * 32, "head": head}) == "cd" * 8
    assert saved_model_id({}) is None


def test_fitting_on_no_text_says_so_rather_than_naming_a_shape():
    with pytest.raises(ValueInputError, match="X holds no texts; give the labeled sentences to fit on"):
        StanceClassifier(encoder=TfidfVectorizer()).fit([], [])
