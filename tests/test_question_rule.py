"""The question rule: a sentence ending in a question mark is none on every target (LABELING.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import assert_rule_decides
from stance.model import StanceClassifier, load_model

TEXTS = ["Serbia refuses to sanction Russia.", "Belgrade refuses Russian sanctions again.",
         "Serbia joins the EU foreign policy.", "Belgrade aligns with Brussels on Ukraine.",
         "The weather was mild.", "A new road opened in Nis."] * 3
Y = np.array([["favor", "none"]] * 2 + [["none", "favor"]] * 2 + [["none", "none"]] * 2, dtype=object)
Y = np.vstack([Y] * 3)
GROUPS = np.arange(len(TEXTS)) // 2
QUESTIONS = ["Will Serbia refuse to sanction Russia?", "Will Belgrade join the EU foreign policy?”"]
STATEMENTS = ["Serbia refuses to sanction Russia again.", "Will Serbia join? Belgrade aligns with Brussels."]


def _fitted(encoder, **kwargs):
    return StanceClassifier(encoder=encoder, Cs=(10.0,), calibrate=False, abstain=False, **kwargs).fit(
        TEXTS, Y, groups=GROUPS)


def test_a_question_is_none_on_every_target_and_nothing_else_changes(hashing_encoder):
    ruled, free = _fitted(hashing_encoder), _fitted(hashing_encoder, question_rule=False)
    assert_rule_decides(ruled, free, QUESTIONS, STATEMENTS + TEXTS)
    assert ruled.questions(ruled.transform_features(QUESTIONS + STATEMENTS)).tolist() == [True, True, False, False]


def test_the_rule_needs_the_indicators_it_reads(hashing_encoder):
    plain = _fitted(hashing_encoder, actors=False)
    assert not plain.questions(plain.transform_features(QUESTIONS)).any()


@pytest.mark.integration
def test_the_trained_default_applies_the_rule_and_an_older_folder_goes_without(trained, tmp_path):
    import shutil

    from conftest import run_stance, write_metadata

    question = "Will Serbia join the EU sanctions against Russia?"
    article = tmp_path / "article.txt"
    article.write_text(f"{question}\nSerbia refused to impose sanctions on Russia.\n", encoding="utf-8")
    result = run_stance("score", article, "--model", trained["model"], "--json", "--explain")
    assert result.returncode == 0, result.stderr
    first, second = json.loads(result.stdout)["sentences"]
    for target in ("russia", "eu"):
        assert first[target]["label"] == "none" and first[target]["proba"]["none"] == 1.0
        assert first["explain"][target] == {"method": "question-rule", "terms": []}
        assert second["explain"][target]["method"] == "ngram-weights"
    assert second["russia"]["label"] == "favor"
    printed = run_stance("score", article, "--model", trained["model"], "--explain")
    assert printed.stdout.count("a question without an answer is none") == 2
    folder = shutil.copytree(trained["model"], tmp_path / "model")
    meta = json.loads((folder / "stance.json").read_text())
    assert meta["features"]["question_rule"] is True
    del meta["features"]["question_rule"]  # how stance.json looked before the rule
    write_metadata(folder, meta, older=True)
    older = load_model(folder)
    assert older.question_rule is False
    assert all(p[0].max() < 1.0 for p in older.predict_proba([question]))


def test_stance_train_can_leave_questions_to_the_heads(hashing_encoder):
    from stance.train import make_model

    assert make_model(hashing_encoder, ["russia", "eu"]).question_rule is True
    assert make_model(hashing_encoder, ["russia", "eu"], question_rule=False).question_rule is False
