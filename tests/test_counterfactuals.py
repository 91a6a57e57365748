"""Renamed copies (stance.counterfactuals): the same words said by another country, labeled none."""

from __future__ import annotations

import numpy as np
import pytest

from stance.actors import serbian_actor
from stance.counterfactuals import renamed, with_renamed_copies
from stance.model import StanceClassifier


@pytest.mark.parametrize("text, swap, expected", [
    ("Serbia refused to impose sanctions on Russia, Vučić said.", 0,
     "Hungary refused to impose sanctions on Russia, Orbán said."),
    ("President Aleksandar Vučić thanked Moscow.", 0, "President Viktor Orbán thanked Moscow."),
    ("Belgrade and the Serbian army joined the drill with Russia.", 1,
     "Zagreb and the Croatian army joined the drill with Russia."),
    ("SERBIA SAYS NO TO SANCTIONS", 2, "MONTENEGRO SAYS NO TO SANCTIONS"),
    ("Vucic met Putin.", 2, "Djukanovic met Putin."),
])
def test_renames_every_serbian_actor_keeping_capitals(text, swap, expected):
    assert renamed(text, swap) == expected
    assert not serbian_actor(expected)


@pytest.mark.parametrize("text", [
    "Russia warned the EU.",  # no Serbian actor to rename
    "Serbia and the government agreed to buy Russian gas.",  # the office stays Serbia's
    "He said Serbia would never impose sanctions.",  # opens with a reference back
    "Foreign Minister Selaković said Serbia would not join.",  # a Serbian name not in the swaps
])
def test_refuses_a_copy_in_which_serbia_would_remain(text):
    assert all(renamed(text, swap) is None for swap in range(3))


def test_the_country_follows_from_the_text_alone():
    text = "Serbia signed a gas deal with Russia."
    chosen = renamed(text)
    assert chosen in {renamed(text, swap) for swap in range(3)}
    assert all(renamed(text) == chosen for _ in range(3))
    countries = {renamed(f"Serbia signed deal number {i} with Russia.").split()[0] for i in range(30)}
    assert countries == {"Hungary", "Croatia", "Montenegro"}


def test_copies_only_stance_bearing_rows_labeled_none_in_their_sources_group():
    items = ["Serbia refused sanctions on Russia.", "Serbia opened a road.", {"text": "Belgrade applied to the EU.",
                                                                            "previous": "x"}, "Russia warned."]
    labels = np.array([["favor", "none"], ["none", "none"], [None, "favor"], ["none", "against"]], dtype=object)
    groups = np.array(["a", "a", "b", "c"])
    new_items, new_labels, new_groups = with_renamed_copies(items, labels, groups)
    assert new_items[:4] == items and len(new_items) == 6  # row 3 has a stance but no Serbian actor to rename
    assert not serbian_actor(new_items[4]) and new_items[4].endswith("refused sanctions on Russia.")
    assert new_items[5]["previous"] == "x" and not serbian_actor(new_items[5]["text"])
    assert new_labels[4:].tolist() == [["none", "none"], ["none", "none"]]
    np.testing.assert_array_equal(new_labels[:4], labels)
    assert new_groups.tolist() == ["a", "a", "b", "c", "a", "b"]
    assert with_renamed_copies(items[1:2], labels[1:2], None)[0] == items[1:2]


def test_the_copies_teach_the_head_that_another_country_acting_is_none(hashing_encoder):
    texts = ["Serbia refuses to sanction Russia.", "Belgrade praises its Russian ally.",
             "Serbia signs a gas deal with Russia.", "Vucic thanks Putin for his support.",
             "Serbia cancels the Russian arms deal.", "Belgrade condemns the Russian invasion.",
             "Serbia sends shells to Ukraine.", "Vucic votes against Russia at the UN.",
             "Serbia opens a chapter of its EU accession talks.", "Belgrade welcomes the EU enlargement plan.",
             "The weather was mild.", "Prices rose in the spring.", "A new road opened.", "The match ended in a draw."]
    y = np.array([["favor", "none"]] * 4 + [["against", "none"]] * 4 + [["none", "favor"]] * 2 + [["none", "none"]] * 4,
                 dtype=object)
    groups = np.arange(len(texts)) % 4
    probe = [f"{country} {text.split(' ', 1)[1]}" for country in ("Hungary", "Croatia", "Montenegro")
             for text in texts[:8] if text.startswith("Serbia ")]
    # without the actor indicators, which tell the head who acts by other means
    common = dict(encoder=hashing_encoder, Cs=(10.0,), actors=False, calibrate=False, abstain=False)
    with_copies = StanceClassifier(renamed_copies=True, copy_weight=1.0, **common).fit(texts, y, groups=groups)
    without = StanceClassifier(renamed_copies=False, **common).fit(texts, y, groups=groups)

    def none_share(model):
        proba = model.predict_proba(probe)[0]
        return proba[:, list(model.classes_[0]).index("none")]

    assert (none_share(with_copies) > none_share(without) + 0.1).all()
    assert (with_copies.predict(probe)[:, 0] == "none").mean() > (without.predict(probe)[:, 0] == "none").mean()
    assert with_copies.predict(texts[:8])[:, 0].tolist() == y[:8, 0].tolist()


def test_a_lighter_copy_weight_moves_the_head_less(hashing_encoder):
    texts = ["Serbia refuses to sanction Russia.", "Belgrade praises its Russian ally.",
             "Serbia signs a gas deal with Russia.", "Vucic thanks Putin for his support.",
             "Serbia opens an EU chapter.", "Belgrade welcomes the EU plan.", "A new road opened.", "The match ended."] * 2
    y = np.array(([["favor", "none"]] * 4 + [["none", "favor"]] * 2 + [["none", "none"]] * 2) * 2, dtype=object)
    groups = np.arange(len(texts)) % 4
    probe = ["Hungary refuses to sanction Russia.", "Croatia signs a gas deal with Russia."]
    common = dict(encoder=hashing_encoder, Cs=(10.0,), actors=False, calibrate=False, abstain=False)

    def none_share(**kwargs):
        model = StanceClassifier(**common, **kwargs).fit(texts, y, groups=groups)
        return model.predict_proba(probe)[0][:, list(model.classes_[0]).index("none")]

    without, light, heavy = (none_share(renamed_copies=False), none_share(copy_weight=0.2),
                             none_share(renamed_copies=True, copy_weight=1.0))
    assert (without < light).all() and (light < heavy).all()
    for weight in (0, -1, 1.5):
        with pytest.raises(ValueError, match="copy_weight"):
            StanceClassifier(**common, renamed_copies=True, copy_weight=weight).fit(texts, y, groups=groups)


def test_weighted_copies_are_left_out_of_the_scores_that_choose_c(hashing_encoder, monkeypatch):
    """C, the temperature and the threshold are chosen on the labeled sentences alone: a copy is easy none."""
    from stance import model as model_module

    texts = ["Serbia refuses to sanction Russia.", "Belgrade praises its Russian ally.", "Serbia sends shells to Ukraine.",
             "Vucic condemns the Russian invasion.", "Serbia opens an EU chapter.", "A new road opened."] * 4
    y = np.array(([["favor", "none"]] * 2 + [["against", "none"]] * 2 + [["none", "favor"], ["none", "none"]]) * 4,
                 dtype=object)
    groups = np.arange(len(texts)) // 3
    scored = []
    threshold = model_module.choose_threshold
    monkeypatch.setattr(model_module, "choose_threshold", lambda proba, yt, *a, **k: scored.append(len(yt)) or
                        threshold(proba, yt, *a, **k))
    fitted = StanceClassifier(encoder=hashing_encoder, actors=False, renamed_copies=True, copy_weight=0.5).fit(
        texts, y, groups=groups)
    assert scored == [len(texts), len(texts)]  # the copies (one per stance-bearing sentence) not among them
    assert set(fitted.best_params_["russia"]) == {"C", "temperature", "threshold"}


def test_stance_train_names_and_builds_the_option(hashing_encoder):
    from stance.train import make_model, run_name

    made = make_model(hashing_encoder, ["russia", "eu"])  # the default since 2026-12-06: copies at 0.1
    assert (made.renamed_copies, made.copy_weight) == (True, 0.1)
    assert make_model(hashing_encoder, ["russia", "eu"], renamed_copies=False).renamed_copies is False
    assert make_model(hashing_encoder, ["russia", "eu"], copy_weight=0.5).copy_weight == 0.5
    assert not hasattr(make_model(hashing_encoder, ["russia", "eu"], fine_tune=True), "copy_weight")
    # the default keeps its report folder; a run without one of its parts gets its own
    assert run_name(None) == "minilm-logreg"
    assert run_name(None, renamed_copies=False) == "minilm-logreg-no-copies"
    assert run_name(None, renamed_copies=False, pressure_rule=False) == "minilm-logreg-no-copies-no-pressure"
    assert run_name("mpnet", pressure_rule=False) == "mpnet-logreg-no-pressure"
    assert run_name("static", fine_tune=True, renamed_copies=False) == "static-logreg-no-copies"
    assert run_name("mpnet", fine_tune=True, renamed_copies=False, pressure_rule=False) == "mpnet-finetuned"
    # another weight than the default's never writes over the default's report either
    assert run_name(None, copy_weight=0.1) == "minilm-logreg"
    assert run_name(None, copy_weight=1.0) == "minilm-logreg-copies-w1"
    assert run_name(None, copy_weight=0.25, pressure_rule=False) == "minilm-logreg-copies-w0.25-no-pressure"
    # a transformer folder that happens to be named "static" is fine-tuned, and its report says so
    assert run_name("/models/Static", fine_tune=True) == "static-finetuned"
    for frozen_only in ({"renamed_copies": True}, {"copy_weight": 0.1}):
        with pytest.raises(ValueError, match="frozen"):
            make_model(hashing_encoder, ["russia", "eu"], fine_tune=True, **frozen_only)


@pytest.mark.parametrize("options, said", [
    (["--no-renamed-copies", "--copy-weight", "0.1"], "--copy-weight weighs the frozen model's renamed copies"),
    (["--fine-tune", "--copy-weight", "0.1"], "--copy-weight weighs the frozen model's renamed copies"),
    (["--copy-weight", "0"], "--copy-weight 0.0: give a weight above 0 and at most 1"),
    (["--renamed-copies", "--copy-weight", "nan"], "--copy-weight nan: give a weight above 0"),
    (["--renamed-copies", "--copy-weight", "1.5"], "--copy-weight 1.5: give a weight above 0"),
])
def test_a_copy_weight_stance_train_cannot_use_is_refused_before_any_work(tmp_path, isolated_home, options, said):
    from conftest import one_error_line, run_stance

    line = one_error_line(run_stance("train", *options, "--out", tmp_path / "m", "--report-dir", tmp_path / "r"))
    assert said in line and not (tmp_path / "m").exists() and not (tmp_path / "r").exists()


def test_a_head_of_ones_own_weighs_the_copies_or_never_sees_them(hashing_encoder):
    """A head given by the user gets the copies at copy_weight, or, if it takes no sample_weight, none of them."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier

    seen = {}

    class Weighed(LogisticRegression):
        def fit(self, X, y, sample_weight=None):
            seen["weighed"] = (X.shape[0], None if sample_weight is None else sorted(set(sample_weight)))
            return super().fit(X, y, sample_weight=sample_weight)

    class Unweighed(KNeighborsClassifier):
        def fit(self, X, y):
            seen["unweighed"] = X.shape[0]
            return super().fit(X, y)

    texts = ["Serbia refuses to sanction Russia.", "Belgrade praises its Russian ally.", "A new road opened.",
             "The match ended in a draw."]
    y = [["favor"], ["favor"], ["none"], ["none"]]
    for head in (Weighed(), Unweighed(n_neighbors=1)):
        StanceClassifier(encoder=hashing_encoder, targets=("russia",), head=head).fit(texts, y)
    assert seen["weighed"] == (6, [0.1, 1.0])  # two copies, of the two sentences with a stance
    assert seen["unweighed"] == 4
