"""The library as a notebook user calls it: clear errors for wrong arguments, and sklearn conventions."""

from __future__ import annotations

import datetime
import pickle
import sqlite3

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import stance
from stance.errors import InputError, LabelFormatError, StanceError
from stance.counterfactuals import with_renamed_copies
from stance.model import StanceClassifier
from stance.schema import load_labels
from stance.scoring import score_article, score_articles
from stance.store import HistoryStore
from conftest import FAVOR, AGAINST, NONE, make_scores, write_corpus

TEXTS = FAVOR + AGAINST + NONE
GOLD = [("favor", "none")] * 4 + [("against", "none")] * 4 + [("none", "favor")] * 2 + [("none", "against")] * 2
GROUPS = [f"a{i % 6}" for i in range(len(TEXTS))]


@pytest.fixture
def fitted(hashing_encoder):
    return StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=GROUPS)


def test_a_table_with_missing_cells_trains_the_three_stances_only(hashing_encoder):
    pd = pytest.importorskip("pandas")
    y = pd.DataFrame(GOLD, columns=["russia", "eu"])
    y.loc[[0, 5], "russia"] = np.nan  # how a table spells an unlabeled cell
    y.loc[[8], "eu"] = None
    model = StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, y, groups=GROUPS)
    assert [list(c) for c in model.classes_] == [["against", "favor", "none"]] * 2


@pytest.mark.parametrize("y, message", [
    ([("pro", "none")] + GOLD[1:], r"y\[0, 0\] is 'pro'"),
    ([(1, "none")] + GOLD[1:], r"y\[0, 0\] is 1"),
    ([("none", e) for _, e in GOLD], "every 'russia' label is 'none'"),
])
def test_labels_outside_the_scheme_or_of_one_class_are_refused_before_encoding(y, message):
    class Untouchable:
        def transform(self, X):
            raise AssertionError("encoded before the labels were checked")

    with pytest.raises(ValueError, match=message):
        StanceClassifier(encoder=Untouchable()).fit(TEXTS, y)


def test_settings_no_fit_can_use_are_refused(hashing_encoder):
    from sklearn.svm import LinearSVC

    with pytest.raises(ValueError, match="cv must be a whole number of folds"):
        StanceClassifier(encoder=hashing_encoder, cv=0).fit(TEXTS, GOLD)
    with pytest.raises(ValueError, match="head LinearSVC gives no probabilities"):
        StanceClassifier(encoder=hashing_encoder, head=LinearSVC()).fit(TEXTS, GOLD)


def test_groups_of_another_length_are_refused(hashing_encoder):
    with pytest.raises(ValueError, match=r"groups must have shape \(12,\)"):
        StanceClassifier(encoder=hashing_encoder).fit(TEXTS, GOLD, groups=GROUPS[:5])


def test_items_that_are_not_sentences_are_named(fitted):
    with pytest.raises(TypeError, match=r"X\[1\] is NoneType"):
        fitted.predict(["Serbia signs.", None])
    with pytest.raises(TypeError, match=r"X\[0\] is dict"):
        fitted.predict([{"txt": "Serbia signs."}])


@pytest.mark.parametrize("given, says", [
    ("Serbia signs.", "X is one str; pass a list of texts"),
    ({"a": "Serbia signs."}, "X is a dict"),
    (None, "X is NoneType; pass a list of texts"),
    (5, "X is int; pass a list of texts"),
    (["Serbia \udce9 signs."], r"X\[0\] holds half a surrogate pair \('\\udce9'\) at character 7"),
    ([{"text": "a\ud800"}], r"X\[0\] holds half a surrogate pair"),
])
def test_texts_that_would_be_misread_are_refused_as_input_and_type_errors(fitted, given, says):
    for call in (fitted.predict, fitted.predict_proba):
        with pytest.raises(InputError, match=says) as refused:
            call(given)
        assert isinstance(refused.value, TypeError)  # what Python itself would raise for a wrong type


def test_a_data_frame_is_refused_and_its_text_column_is_read(fitted):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"text": ["Serbia signs.", "Serbia waits."]})
    with pytest.raises(InputError, match="X is a DataFrame; pass a list of texts, such as a table's text column"):
        fitted.predict(frame)
    assert fitted.predict(frame["text"]).tolist() == fitted.predict(["Serbia signs.", "Serbia waits."]).tolist()


def test_no_sentences_give_empty_predictions(fitted):
    assert fitted.predict([]).shape == (0, 2)
    assert [p.shape for p in fitted.predict_proba([])] == [(0, 3), (0, 3)]


def test_labels_as_one_dict_per_row_train_the_same_model_and_a_misspelt_target_is_named(fitted, hashing_encoder):
    rows = [{"text": t, "russia": r, "eu": e} for t, (r, e) in zip(TEXTS, GOLD)]
    from_dicts = StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, rows, groups=GROUPS)
    assert np.allclose(from_dicts.predict_proba(TEXTS)[0], fitted.predict_proba(TEXTS)[0])
    assert from_dicts.score(TEXTS, rows) == fitted.score(TEXTS, GOLD)
    with pytest.raises(ValueError, match="y\\[2\\] has 'russa', which is no target"):
        StanceClassifier(encoder=hashing_encoder).fit(TEXTS, rows[:2] + [{"russa": "favor"}] + rows[3:])


def test_a_blank_text_has_no_stance_whatever_the_heads_make_of_its_vector(fitted):
    texts = ["", " \n\t", FAVOR[0]]
    labels, probas = fitted.predict(texts), fitted.predict_proba(texts)
    assert labels[:2].tolist() == [["none", "none"]] * 2
    for proba, classes in zip(probas, fitted.classes_):
        assert proba[:2].tolist() == [[float(c == "none") for c in classes]] * 2  # certain, not the head's guess
    assert labels[2].tolist() == fitted.predict([FAVOR[0]])[0].tolist()  # the others as before
    assert np.allclose(probas[0][2], fitted.predict_proba([FAVOR[0]])[0][0])


def test_score_is_the_reports_macro_f1_averaged_over_targets(fitted):
    from sklearn.metrics import f1_score

    predicted = fitted.predict(TEXTS)
    expected = np.mean([f1_score([g[j] for g in GOLD], predicted[:, j], labels=["favor", "against", "none"],
                                 average="macro", zero_division=0) for j in range(2)])
    assert fitted.score(TEXTS, GOLD) == pytest.approx(expected)
    wrong = [("against" if r == "favor" else "favor", e) for r, e in GOLD]
    assert fitted.score(TEXTS, wrong) < fitted.score(TEXTS, GOLD)


def test_cross_val_score_works_with_its_default_scoring(hashing_encoder):
    from sklearn.model_selection import GroupKFold, cross_val_score

    scores = cross_val_score(StanceClassifier(encoder=hashing_encoder, cv=2), TEXTS * 2, GOLD * 2,
                             groups=[f"g{i % 4}" for i in range(24)], cv=GroupKFold(2))
    assert scores.shape == (2,) and np.all((0 <= scores) & (scores <= 1))


def test_the_classifier_says_it_reads_text_with_several_outputs():
    from sklearn.utils import get_tags

    tags = get_tags(StanceClassifier())
    assert tags.input_tags.string and not tags.input_tags.two_d_array and tags.target_tags.multi_output


def test_an_encoder_with_an_open_cache_pickles_without_it(tmp_path, monkeypatch):
    from stance.encoders.transformer import SentenceEncoder

    monkeypatch.setenv("STANCE_CACHE", str(tmp_path / "cache.sqlite"))
    encoder = SentenceEncoder()
    assert encoder._disk_cache() is not None  # the database connection a transform opens
    restored = pickle.loads(pickle.dumps(encoder))
    assert "_cache" not in restored.__dict__ and restored.get_params() == encoder.get_params()
    assert restored._disk_cache() is not None  # and opens its own again


def test_a_scored_article_can_be_recorded(fitted, tmp_path):
    result = score_article(fitted, "Serbia stands with its Russian ally.\nThe parade lasted two hours.",
                           article_id="a1", date=datetime.date(2025, 3, 1))
    assert result.date == "2025-03-01" and len(result.content_sha256) == 64
    store = HistoryStore(tmp_path / "history.sqlite")
    assert store.record([result]) == 1
    with sqlite3.connect(tmp_path / "history.sqlite") as conn:
        assert conn.execute("SELECT content_sha256, date FROM articles").fetchall() == [
            (result.content_sha256, "2025-03-01")]


def test_scoring_refuses_what_is_not_an_article_or_a_date(fitted):
    with pytest.raises(TypeError, match="not NoneType"):
        score_article(fitted, None)
    with pytest.raises(InputError, match="the article holds half a surrogate pair"):
        score_article(fitted, "Srbija \udce9 potpisuje.")
    with pytest.raises(InputError, match="article_id is int, not a text"):
        score_article(fitted, "Serbia signs.", article_id=7)
    with pytest.raises(InputError, match="articles is a dict"):
        score_articles(fitted, {"a": "Serbia signs."})
    with pytest.raises(InputError, match="articles is NoneType"):
        score_articles(fitted, None)
    with pytest.raises(InputError, match="'next tuesday' is not a date"):
        score_article(fitted, "Serbia signs.", date="next tuesday")
    with pytest.raises(stance.errors.ValueInputError, match="1 dates for 2 articles"):
        score_articles(fitted, ["Serbia signs.", "Serbia waits."], dates=["2025-01-01"])
    with pytest.raises(NotFittedError):
        score_article(StanceClassifier(), "Serbia signs.")


def test_score_documents_takes_documents_and_names_anything_else(fitted, tmp_path):
    (tmp_path / "one.txt").write_text("Serbia signs.\n", encoding="utf-8")
    for given, says in [("Serbia signs.", "documents is a str; pass Documents"), (None, "documents is a NoneType"),
                        (["Serbia signs."], "a document is str, not a Document")]:
        with pytest.raises(InputError, match=says) as refused:
            list(stance.score_documents(fitted, given))
        assert isinstance(refused.value, TypeError)
    docs = list(stance.read_documents(tmp_path))
    with pytest.raises(InputError, match="a document is dict"):
        list(stance.score_documents(fitted, [docs[0], {"text": "Serbia waits."}]))
    before = stance.score_documents(fitted, [docs[0], None])  # the article before a bad item is still scored
    assert next(before).article == "one"
    with pytest.raises(InputError, match="a document is NoneType"):
        next(before)


def test_one_path_is_read_as_one_path_not_as_its_characters(tmp_path):
    (tmp_path / "one.txt").write_text("Serbia signs.\n", encoding="utf-8")
    assert [d.id for d in stance.read_documents(str(tmp_path))] == ["one"]
    assert [d.id for d in stance.read_documents(tmp_path / "one.txt")] == ["one"]


def test_one_articles_folder_is_read_as_a_folder(tmp_path):
    from conftest import write_corpus

    articles = tmp_path / "articles"
    labels = (tmp_path / "labels").mkdir() or tmp_path / "labels" / "labels.jsonl"
    write_corpus(articles).rename(labels)
    with pytest.warns(stance.errors.StanceWarning):  # articles not found: the check is skipped
        load_labels(labels)
    text = (articles / "art0.txt").read_text(encoding="utf-8").replace("Moscow", "Kyiv")
    (articles / "art0.txt").write_text(text, encoding="utf-8")
    with pytest.raises(LabelFormatError, match="art0"):  # found through the one folder given: checked
        load_labels(labels, articles=str(articles))


@pytest.mark.integration
def test_saving_a_model_over_a_file_is_refused_and_keeps_it(trained, tmp_path):
    from stance.errors import ModelIntegrityError

    precious = tmp_path / "precious.csv"
    precious.write_text("a,b\n", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="is a file, not a model folder"):
        StanceClassifier.load(trained["model"]).save(precious)
    assert precious.read_text(encoding="utf-8") == "a,b\n"


def test_evaluate_refuses_labels_no_fold_can_train_on_before_encoding(tmp_path, hashing_encoder):
    from conftest import write_corpus

    labels = load_labels(write_corpus(tmp_path / "corpus", n_articles=1))
    with pytest.raises(LabelFormatError, match="cannot be evaluated by article"):
        stance.evaluate(labels, StanceClassifier(encoder=hashing_encoder))


def test_evaluate_fits_an_encoder_that_needs_fitting_in_each_fold(tmp_path):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from conftest import write_corpus

    labels = load_labels(write_corpus(tmp_path / "corpus", n_articles=10, origin="written"))
    report = stance.evaluate(labels, StanceClassifier(encoder=TfidfVectorizer(), cv=2, Cs=(1.0,)), n_bootstrap=10)
    assert 0 <= report.evaluations["written_cv"]["targets"]["russia"]["model"]["macro_f1"] <= 1


def test_drift_names_a_target_no_article_has():
    records = [make_scores(f"a{i}", f"2025-0{i + 1}-01", {"russia": 0.2, "eu": -0.1}) for i in range(3)]
    with pytest.raises(StanceError, match="no article was scored for target.*china"):
        stance.measure_drift(records, by="month", targets=["china"])
    assert stance.measure_drift(records, by="month", targets="eu", n_boot=10, n_perm=10).targets == ["eu"]
    for setting, says in [({"n_boot": 0}, "n_boot is 0; give a whole number, 1 or more"),
                          ({"n_perm": 2.5}, "n_perm is 2.5"), ({"seed": -1}, "seed is -1"),
                          ({"evidence": "3"}, "evidence is '3'"), ({"alpha": 2}, "alpha is 2; give a test level"),
                          ({"by": "decade"}, "unknown period 'decade'")]:
        with pytest.raises(stance.errors.ValueInputError, match=says):  # a wrong setting is a ValueError, as promised
            stance.measure_drift(records, **{"by": "month", **setting})
    for records, says in [(None, "records is NoneType"), (5, "records is int"), ({"a": records[0]}, "records is dict")]:
        with pytest.raises(stance.errors.TextsError, match=says):  # and records of the wrong shape a TypeError
            stance.measure_drift(records, by="month")
    with pytest.raises(StanceError, match="records\\[0\\] is str; pass scored articles"):
        stance.measure_drift(["a", "b"], by="month")


def test_recording_a_results_dict_says_to_pass_the_result(fitted, tmp_path):
    result = score_article(fitted, "Serbia signs.", article_id="a1")
    with pytest.raises(TypeError, match="not its to_dict"):
        HistoryStore(tmp_path / "history.sqlite").record([result.to_dict()])


def test_stance_over_time_of_undated_articles_has_its_columns():
    frame = stance.stance_over_time([make_scores("a", None, {"russia": 0.2})], by="month")
    assert frame.empty and {"target", "period", "net", "low", "high"} <= set(frame.columns)


def test_explaining_with_labels_that_do_not_fit_is_refused(fitted):
    with pytest.raises(ValueError, match="1 labels for 2 sentences"):
        stance.explain_sentences(fitted, TEXTS[:2], labels=[{"russia": "favor", "eu": "none"}])
    with pytest.raises(ValueError, match=r"labels\[0\] gives russia 'pro'"):
        stance.explain_sentences(fitted, TEXTS[:1], labels=[{"russia": "pro", "eu": "none"}])
    with pytest.raises(ValueError, match="top is .*; give a whole number of terms"):
        stance.explain_sentences(fitted, TEXTS[:1], top=-1)


def test_score_article_records_the_hash_of_the_text_it_was_given(fitted):
    import hashlib

    text = "Serbia stands with its Russian ally.\n\n  The parade lasted two hours.  \n"
    assert score_article(fitted, text, article_id="a").content_sha256 == hashlib.sha256(text.encode()).hexdigest()


def test_score_leaves_out_a_target_no_row_labels(fitted):
    only_russia = [(r, None) for r, _ in GOLD]
    from sklearn.metrics import f1_score

    expected = f1_score([r for r, _ in GOLD], fitted.predict(TEXTS)[:, 0], labels=["favor", "against", "none"],
                        average="macro", zero_division=0)
    assert fitted.score(TEXTS, only_russia) == pytest.approx(expected)
    with pytest.raises(ValueError, match="labels no sentence"):
        fitted.score(TEXTS, [(None, None)] * len(TEXTS))


def test_fit_leaves_the_callers_labels_as_they_were(hashing_encoder):
    y = np.array(GOLD, dtype=object)
    y[0, 0] = np.nan
    StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, y, groups=GROUPS)
    assert isinstance(y[0, 0], float) and np.isnan(y[0, 0])


def test_renamed_copies_may_give_a_target_its_second_class(hashing_encoder):
    texts = ["Vucic praises Putin.", "Belgrade thanks Moscow for gas.", "Serbia backs Russia at the UN.",
             "Vucic meets Putin in Sochi."]
    model = StanceClassifier(encoder=hashing_encoder, targets=("russia",), cv=1, renamed_copies=True)
    assert list(model.fit(texts, [["favor"]] * 4).classes_[0]) == ["favor", "none"]


@pytest.mark.parametrize("bad", ["", "  ", 5, b"/tmp/model"])
def test_an_encoder_or_model_that_is_no_path_is_refused(bad):
    from stance.encoders import make_encoder

    with pytest.raises(InputError, match="is not a path"):
        make_encoder(bad)  # "" would otherwise mean the folder it runs in
    with pytest.raises(InputError, match="is not a path; give the folder `stance train` wrote"):
        StanceClassifier.load(bad)


def test_a_model_is_given_an_encoder_or_told_what_one_is(tmp_path):
    with pytest.raises(InputError, match="encoder str: is not an encoder"):
        StanceClassifier.load(tmp_path, encoder="all-MiniLM-L6-v2")


def test_a_missing_static_model_says_how_to_build_one(tmp_path):
    from stance.encoders.static import StaticEncoder

    with pytest.raises(StanceError, match="no static model here; build one with `stance distill`"):
        StaticEncoder(model_path=tmp_path / "none", cache=False).transform(["Serbia signs."])


def test_evaluate_and_explain_name_what_they_cannot_take(fitted, tmp_path):
    labels = stance.load_labels(write_corpus(tmp_path / "c"))
    for given, says in [({"labels": "labels.jsonl"}, "labels is str; pass the Dataset"),
                        ({"labels": labels, "model": "model"}, "model is str; pass a StanceClassifier"),
                        ({"labels": labels, "model": StanceClassifier}, "model is the class StanceClassifier"),
                        ({"labels": labels, "n_bootstrap": -1}, "n_bootstrap is -1"),
                        ({"labels": labels, "n_written_folds": 1}, "n_written_folds is 1"),
                        ({"labels": labels, "model": StanceClassifier(targets=("abortion",))},
                         "the labels have no column 'abortion'")]:
        with pytest.raises(StanceError, match=says):
            stance.evaluate(**given)
    for model, says in [("model", "model is str, not a fitted stance model"),
                        (StanceClassifier(), "model is StanceClassifier, not a fitted")]:
        with pytest.raises(InputError, match=says):
            stance.explain_sentences(model, ["Serbia signs."])
        with pytest.raises(InputError, match=says):
            stance.run_checks(model)
    with pytest.raises(ValueError, match="top is .*; give a whole number of terms"):  # an InputError and a ValueError
        stance.explain_sentences(fitted, ["Serbia signs."], top=-1)
    assert stance.explain_sentences(fitted, ["Serbia signs."], top=__import__("numpy").int64(1))



@pytest.mark.parametrize("model", [None, "/models/stance", StanceClassifier])
def test_scoring_with_no_model_or_its_path_names_what_was_given(model):
    with pytest.raises(InputError, match="not a fitted stance model; load one with stance.StanceClassifier.load"):
        score_article(model, "Serbia signs.")


@pytest.mark.parametrize("encoder", ["tfidf", StanceClassifier, 3])
def test_an_encoder_that_is_no_encoder_is_named_before_fitting(encoder):
    with pytest.raises(ValueError, match="not an encoder .an object with transform"):
        StanceClassifier(encoder=encoder, cv=2).fit(TEXTS, GOLD, groups=GROUPS)


class _BrokenEncoder:
    """An encoder whose vectors are damaged as ``damage`` says."""

    def __init__(self, damage):
        from conftest import HashingEncoder

        self.damage, self.inner = damage, HashingEncoder()

    def transform(self, texts):
        vectors = self.inner.transform(texts)
        if self.damage == "nan":
            vectors[:] = np.nan
        elif self.damage == "one row too many":
            vectors = np.vstack([vectors, vectors[:1]])
        elif self.damage == "3-d":
            vectors = vectors[:, :, None]
        return vectors if self.damage != "list" else vectors.tolist()


@pytest.mark.parametrize("damage, says", [("nan", "values that are not finite numbers"),
                                          ("one row too many", r"an array of shape \(13, 256\) for 12 sentences"),
                                          ("3-d", r"an array of shape \(12, 256, 1\)")])
def test_an_encoder_whose_vectors_no_head_can_read_is_named_not_a_scipy_error(damage, says):
    with pytest.raises(stance.errors.ValueInputError, match=r"the encoder \(_BrokenEncoder\) gave " + says):
        StanceClassifier(encoder=_BrokenEncoder(damage), cv=2, renamed_copies=False).fit(TEXTS, GOLD, groups=GROUPS)
    with pytest.raises(stance.errors.ValueInputError) as refused:  # the default adds renamed copies: said apart
        StanceClassifier(encoder=_BrokenEncoder(damage), cv=2).fit(TEXTS, GOLD, groups=GROUPS)
    copies = len(with_renamed_copies(TEXTS, np.array(GOLD, dtype=object), np.array(GROUPS))[0]) - len(TEXTS)
    assert copies > 0 and (damage != "one row too many" or
                           f"for {len(TEXTS) + copies} sentences ({len(TEXTS)} given, {copies} renamed copies)"
                           in str(refused.value))
    model = StanceClassifier(encoder=_BrokenEncoder("list"), cv=2).fit(TEXTS, GOLD, groups=GROUPS)  # rows as lists serve
    assert model.predict(["Serbia signs."]).shape == (1, 2)


@pytest.mark.parametrize("missing", [np.float32("nan"), None, float("nan")])
def test_a_missing_group_of_any_kind_is_named(hashing_encoder, missing):
    groups = np.array(GROUPS, dtype=object)
    groups[3] = missing
    with pytest.raises(ValueError, match=r"groups\[3\] is .*; every sentence needs its article's id"):
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=groups)
    floats = np.arange(len(TEXTS), dtype=np.float32) % 6
    floats[5] = np.nan
    with pytest.raises(ValueError, match=r"groups\[5\] is"):
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=floats)
    pd = pytest.importorskip("pandas")
    with pytest.raises(ValueError, match=r"groups\[0\] is <NA>"):  # pandas' NA is neither equal nor unequal
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=pd.Series([pd.NA] * len(TEXTS)))
    listed = [missing] + GROUPS[1:]  # among strings, numpy made a NaN the article 'nan'
    with pytest.raises(ValueError, match=r"groups\[0\] is"):
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=listed)
    for wrong, kind in [("abcdef", "str"), ({"a": 1}, "dict")]:
        with pytest.raises(ValueError, match=f"groups is {kind}; give one article id per sentence, in a list"):
            StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=wrong)


def test_a_set_of_sentences_is_refused_for_its_rows_would_have_no_order(fitted):
    with pytest.raises(stance.errors.TextsError, match="pass a list"):
        fitted.predict(set(TEXTS[:3]))


def test_labels_given_as_none_or_as_a_generator(hashing_encoder):
    with pytest.raises(ValueError, match="y is None"):
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, None)
    lazily = StanceClassifier(encoder=hashing_encoder, cv=2).fit(iter(TEXTS), (row for row in GOLD), groups=GROUPS)
    at_once = StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=GROUPS)
    np.testing.assert_array_equal(lazily.predict(TEXTS), at_once.predict(TEXTS))


@pytest.mark.parametrize(("targets", "says"), [
    (("russia", "russia"), "give distinct target names"), ((), "give distinct target names"), (("russia", 3), "give distinct"),
])
def test_target_names_that_would_mix_up_heads_are_refused(hashing_encoder, targets, says):
    with pytest.raises(ValueError, match=says):  # two heads of one name: the second overwrote the first
        StanceClassifier(encoder=hashing_encoder, targets=targets).fit(TEXTS, GOLD)


def test_one_target_given_as_a_name_is_that_target_not_its_letters(hashing_encoder):
    one = StanceClassifier(encoder=hashing_encoder, targets="russia", cv=2).fit(TEXTS, [g[0] for g in GOLD], groups=GROUPS)
    assert one.targets_ == ["russia"] and one.predict(TEXTS).shape == (len(TEXTS), 1)
    assert one.score(TEXTS, [g[0] for g in GOLD]) > 0.5


def test_a_missing_article_id_or_neighbour_that_is_no_text_is_named(hashing_encoder, fitted):
    with pytest.raises(ValueError, match=r"groups\[0\] is None; every sentence needs its article's id"):
        StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=[None] + GROUPS[1:])
    with pytest.raises(TypeError, match=r"X\[0\]\['next'\] is int"):
        fitted.predict([{"text": "Serbia signs.", "previous": None, "next": 5}])
    assert fitted.predict([{"text": "Serbia signs.", "previous": None, "next": None}]).shape == (1, 2)


@pytest.mark.parametrize("settings, fit, says", [
    ({}, {"unscored": ["no"] * len(TEXTS)}, "unscored holds 'no'; give one True or False per row"),
    ({}, {"unscored": [0.5] * len(TEXTS)}, "unscored holds 0.5"),
    ({}, {"unscored": [True] * len(TEXTS)}, "unscored marks every row"),
    ({"copy_weight": "0.1"}, {}, "copy_weight must be a number in \\(0, 1\\], got '0.1'"),
    ({"copy_weight": True}, {}, "copy_weight must be a number"),
])
def test_fit_settings_of_the_wrong_kind_are_named_not_a_scikit_learn_error(hashing_encoder, settings, fit, says):
    """'no' was read as True; every row unscored failed deep in scikit-learn; a weight as text in a comparison."""
    with pytest.raises(stance.errors.ValueInputError, match=says):
        StanceClassifier(encoder=hashing_encoder, cv=2, **settings).fit(TEXTS, GOLD, groups=GROUPS, **fit)
    flags = np.arange(len(TEXTS)) < 2  # numpy's own booleans serve
    assert StanceClassifier(encoder=hashing_encoder, cv=2).fit(TEXTS, GOLD, groups=GROUPS, unscored=flags).targets_


@pytest.mark.parametrize("value, says", [(object(), "provenance 'note' is of type object, not a JSON value"),
                                         (float("nan"), "provenance 'note' holds a number JSON has no place for"),
                                         ({"x": float("inf")}, "NaN or infinity"),
                                         ("\udcff", "holds text that is not UTF-8")])
def test_provenance_stance_json_cannot_hold_is_refused_before_anything_is_written(tmp_path, value, says):
    from conftest import SaveableHashingEncoder

    model = StanceClassifier(encoder=SaveableHashingEncoder(cache=False), cv=2).fit(TEXTS, GOLD, groups=GROUPS)
    with pytest.raises(stance.errors.ValueInputError, match=says):
        model.save(tmp_path / "model", note=value)
    assert list(tmp_path.iterdir()) == []
    assert (model.save(tmp_path / "model", note=[1.5, "plain"]) / "stance.json").is_file()
