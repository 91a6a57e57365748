"""Plain-sentence checks (stance.checks, `stance check`): the sentences, their counts, and what the command prints."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest
from conftest import run_stance

from stance.checks import ACTIONS, KINDS, SERBIAN, CheckReport, check_sentences, run_checks
from stance.errors import StanceError
from stance.schema import STANCES


class _Fixed:
    """A fitted model stand-in that answers from a table of texts, else `none`."""

    targets_ = ["eu", "russia"]  # not in check order: labels must be read by target name
    metadata_, path_, encoder_ = {"head": {"sha256": "ab" * 32}}, None, None

    def __init__(self, answers: dict[str, tuple[str, str]] | None = None):
        self.answers = answers or {}

    def predict(self, texts):
        return np.array([self.answers.get(t, ("none", "none"))[::-1] for t in texts], dtype=object)


def test_each_action_is_said_in_five_ways_with_the_labels_the_scheme_gives():
    sentences = check_sentences()
    per_action = {"Serbia acts": 6, "another country acts": 6, "reported": 4, "urged": 3, "asked": 2}
    assert Counter(s["kind"] for s in sentences) == {k: n * len(ACTIONS) for k, n in per_action.items()}
    assert len({s["text"] for s in sentences}) == len(sentences)
    for s in sentences:
        assert set(s["expected"].values()) <= set(STANCES)
        past, base, russia, eu = ACTIONS[s["action"]]
        if s["kind"] in ("Serbia acts", "reported"):
            assert s["expected"] == {"russia": russia, "eu": eu} and s["text"].endswith(f"{past}.")
        else:
            assert s["expected"] == {"russia": "none", "eu": "none"}
    assert all(s["text"].endswith("?") for s in sentences if s["kind"] == "asked")
    # every action has a stance on some target, so that a "none" kind is a real contrast to it
    assert all({russia, eu} != {"none"} for _, _, russia, eu in ACTIONS)


def test_a_model_that_always_says_none_gets_exactly_the_none_kinds_right():
    summary = run_checks(_Fixed()).summary()
    for kind in ("another country acts", "urged", "asked"):
        assert summary[kind]["both"] == summary[kind]["n"]
    expected_none = sum(ACTIONS[a][2] == "none" for a in range(len(ACTIONS)))
    assert summary["Serbia acts"]["russia"] == expected_none * len(SERBIAN)
    assert summary["Serbia acts"]["both"] == 0
    assert summary["names agree"] == {"n": len(ACTIONS), "same": len(ACTIONS)}


def test_labels_are_read_by_target_and_names_that_disagree_are_counted():
    sentences = check_sentences()
    answers = {s["text"]: (s["expected"]["russia"], s["expected"]["eu"]) for s in sentences}
    flipped = next(s for s in sentences if s["kind"] == "Serbia acts" and s["action"] == 0)
    answers[flipped["text"]] = ("against", "none")
    report = run_checks(_Fixed(answers))
    summary = report.summary()
    assert summary["Serbia acts"] == {"n": 108, "russia": 107, "eu": 108, "both": 107}
    assert summary["names agree"] == {"n": len(ACTIONS), "same": len(ACTIONS) - 1}
    assert [s["text"] for s in report.failures()] == [flipped["text"]]
    text = report.to_text(failures=True)
    assert text.splitlines()[0] == "model abababababababab (NoneType)"
    assert "107/108 (99%)" in text and f"{flipped['text']}  favor/none -> against/none" in text


def test_a_model_without_both_targets_is_refused_in_one_line():
    model = _Fixed()
    model.targets_ = ["russia"]
    with pytest.raises(StanceError, match="targets russia and eu; this one has russia"):
        run_checks(model)
    assert CheckReport([]).summary()["asked"] == {"n": 0, "russia": 0, "eu": 0, "both": 0}


@pytest.mark.integration
def test_check_labels_each_sentence_as_score_does_and_counts_them(trained, tmp_path):
    result = run_stance("check", "--model", trained["model"], "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["model"]["path"] == str(trained["model"])
    sentences = data["sentences"]
    assert len(sentences) == len(check_sentences())
    for kind in KINDS:
        inside = [s for s in sentences if s["kind"] == kind]
        assert data["summary"][kind]["both"] == sum(s["predicted"] == s["expected"] for s in inside)
    # The numbers trace to sentences that `stance score` labels the same way.
    picked = [sentences[i] for i in (0, 7, 130, 300, 377)]
    for s in picked:
        article = tmp_path / f"check{s['action']}.txt"
        article.write_text(s["text"] + "\n", encoding="utf-8")
        scored = run_stance("score", article, "--model", trained["model"], "--json")
        assert scored.returncode == 0, scored.stderr
        (sentence,) = json.loads(scored.stdout)["sentences"]
        assert {t: sentence[t]["label"] for t in ("russia", "eu")} == s["predicted"]
    printed = run_stance("check", "--model", trained["model"])
    assert printed.returncode == 0
    assert printed.stdout.splitlines()[0] == f"model {data['model']['id']} (all-MiniLM-L6-v2) at {trained['model']}"
    assert printed.stdout.splitlines()[1].split()[:2] == ["kind", "russia"]
    missing = run_stance("check", "--model", tmp_path / "nothing")
    assert missing.returncode == 1 and "no trained model" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1 and "Traceback" not in missing.stderr
