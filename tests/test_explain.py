"""`stance score --explain`: the terms behind each label, exact for n-gram heads, by occlusion otherwise."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.tree import DecisionTreeClassifier

from stance.explain import MEANING, NEIGHBOURS, explain_sentences
from stance.model import CalibratedHead, StanceClassifier

from conftest import REPO, run_stance

FILLER = ["the", "minister", "spoke", "with", "reporters", "about", "trade", "roads", "schools", "budget", "weather",
          "football", "parliament", "elections", "farmers", "tourism", "energy", "prices", "border", "talks"]


def _sentences(n: int, phrase: str | None, seed: int) -> list[str]:
    """``n`` sentences of random filler words, ``phrase`` inserted at a random place when given."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        words = list(rng.choice(FILLER, size=7))
        if phrase:
            words.insert(int(rng.integers(0, 8)), phrase)
        out.append(" ".join(words).capitalize() + ".")
    return out


def _one_signal_data():
    """``against`` exactly when "harsh sanctions" appears, ``favor`` when "warm friendship" does."""
    texts = _sentences(20, "harsh sanctions", 1) + _sentences(20, "warm friendship", 2) + _sentences(20, None, 3)
    y = np.array(["against"] * 20 + ["favor"] * 20 + ["none"] * 20, dtype=object)
    return texts, y


@pytest.fixture
def xy(synthetic_labels):
    """Sentences, labels and articles of the synthetic corpus, furniture left out."""
    from test_units import _xy

    return _xy(synthetic_labels)


def _words(terms) -> list[str]:
    return [t["text"] for t in terms if not t["text"].startswith("(")]


def test_the_only_signal_for_a_label_is_its_top_phrase(hashing_encoder):
    texts, y = _one_signal_data()
    clf = StanceClassifier(encoder=hashing_encoder, targets=("russia",), Cs=(10.0,)).fit(texts, y)
    why = explain_sentences(clf, ["Farmers spoke about harsh sanctions on the border."])[0]["russia"]
    assert (why["label"], why["method"]) == ("against", "ngram-weights")
    assert set(_words(why["terms"])[:3]) == {"harsh", "sanctions", "harsh sanctions"}
    assert [t["weight"] for t in why["terms"]] == sorted((t["weight"] for t in why["terms"]), reverse=True)
    assert MEANING in [t["text"] for t in why["terms"]]


def test_a_blank_text_is_explained_as_the_none_predict_gives_it(xy, hashing_encoder):
    X, y, groups = xy
    clf = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    blanks = ["", "   ", "\u200b"]
    reasons = explain_sentences(clf, blanks + ["Vucic praises Putin."])
    assert [[why[t]["label"] for t in clf.targets_] for why in reasons] == clf.predict(blanks + ["Vucic praises Putin."]).tolist()
    assert all(why[t] == {"label": "none", "method": "no-words", "terms": []} for why in reasons[:3] for t in clf.targets_)
    assert reasons[3]["russia"]["method"] == "ngram-weights"


@pytest.mark.parametrize("config", ["multinomial", "binary", "with neighbours"])
def test_contributions_add_up_to_the_centred_logit(xy, hashing_encoder, config):
    from stance.features import in_context

    X, y, groups = xy
    two_classes, context = config == "binary", config == "with neighbours"
    if two_classes:
        y[:, 1] = np.where(y[:, 1] == "against", "against", "none")
    clf = StanceClassifier(encoder=hashing_encoder, context=context).fit(in_context(X) if context else X, y, groups=groups)
    sentences = ["Belgrade refuses to sanction Russia again.", "Montenegro opened new chapters.", "Serbia, Russia's ally."]
    sentences = in_context(sentences) if context else sentences
    features = clf.transform_features(sentences)
    before = clf.predict_proba_features(features)
    for head in clf.heads_.values():  # a shift shared by the classes leaves a softmax as it is, and the explanation
        if len(head.classes_) == 3:
            head.head.coef_, head.head.intercept_ = head.head.coef_ + 0.3, head.head.intercept_ + 1.0
    for after, then in zip(clf.predict_proba_features(features), before):
        np.testing.assert_allclose(after, then)
    explained = explain_sentences(clf, sentences, top=None)
    for target in clf.targets_:
        head = clf.heads_[target]
        assert isinstance(head, CalibratedHead) and head.temperature != 1.0  # contributions are before it
        assert len(head.classes_) == (2 if two_classes and target == "eu" else 3)
        logp = np.log(head.head.predict_proba(features))
        centred = logp - logp.mean(axis=1, keepdims=True)  # = z - mean z, z the decision function
        for i, why in enumerate(explained):
            k = list(head.classes_).index(why[target]["label"])
            total = sum(t["weight"] for t in why[target]["terms"]) + why[target]["bias"]
            assert total == pytest.approx(centred[i, k], abs=1e-6)
            assert (NEIGHBOURS in [t["text"] for t in why[target]["terms"]]) == context
    actors = [t["text"] for t in explained[0]["russia"]["terms"] if t["text"].startswith("(who acts")]
    assert "(who acts: serbia named before russia)" in actors  # "Belgrade refuses to sanction Russia again."


@pytest.mark.parametrize("config", ["frozen without n-grams", "n-grams with a tree head"])
def test_occlusion_ranks_the_deciding_word_first(hashing_encoder, config):
    texts, y = _one_signal_data()
    texts = [t.replace("harsh sanctions", "embargo").replace("warm friendship", "alliance") for t in texts]
    if config.startswith("frozen"):
        clf = StanceClassifier(encoder=hashing_encoder, targets=("russia",), ngrams=False, Cs=(10.0,))
    else:
        clf = StanceClassifier(encoder=hashing_encoder, targets=("russia",), head=DecisionTreeClassifier(random_state=0))
    clf.fit(texts, y)
    sentence = "Reporters asked the minister about the embargo and energy prices."
    why = explain_sentences(clf, [sentence])[0]["russia"]
    assert (why["label"], why["method"]) == ("against", "occlusion")
    assert why["terms"][0]["text"] == "embargo" and why["terms"][0]["weight"] > 0.3


def test_terms_are_written_in_the_sentence(xy, hashing_encoder):
    X, y, groups = xy
    sentences = ["Serbia, Russia's ally, REFUSES to sanction   Moscow.", "Vucic praises Putin, and signs a gas deal."]
    with_ngrams = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    without = StanceClassifier(encoder=hashing_encoder, ngrams=False).fit(X, y, groups=groups)
    for clf, method in ((with_ngrams, "ngram-weights"), (without, "occlusion")):
        for sentence, why in zip(sentences, explain_sentences(clf, sentences, top=None)):
            for target in clf.targets_:
                assert why[target]["method"] == method
                words = _words(why[target]["terms"])
                assert words and all(w in sentence for w in words), words
    why = explain_sentences(with_ngrams, sentences[1:], top=None)[0]["russia"]
    assert "Putin, and" in _words(why["terms"])  # a bigram across punctuation, as written


def test_occlusion_tries_at_most_the_longest_forty_words(hashing_encoder):
    from stance.explain import MAX_OCCLUDED, _candidates

    sentence = "Moscow " + " ".join(f"w{i}" for i in range(60)) + " moscow Belgrade."
    words = _candidates(sentence)
    assert len(words) == MAX_OCCLUDED and words[0] == "Moscow" and words[-1] == "Belgrade" and "moscow" not in words
    assert not {f"w{i}" for i in range(10)} & set(words)  # the shortest give way


# --- the command --------------------------------------------------------------------


@pytest.fixture
def scored_with(isolated_home, xy, hashing_encoder, monkeypatch, tmp_path):
    """Run `stance score` in-process on a model trained with the hashing encoder (which cannot be saved)."""
    from typer.testing import CliRunner

    from stance.cli import app

    X, y, groups = xy
    clf = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    monkeypatch.setattr("stance.model.load_model", lambda path, backend="auto": clf)
    for name, text in (("a1", "Belgrade refuses to sanction Russia again.\nMontenegro opened new chapters.\n"),
                       ("a2", "Serbian shells reach Ukraine and anger Moscow.\n")):
        (tmp_path / f"{name}.txt").write_text(text, encoding="utf-8")

    def run(*args):
        return CliRunner().invoke(app, ["score", *[str(tmp_path / a) if a.endswith(".txt") else a for a in args], "-q"])

    return clf, run, tmp_path


def test_json_gains_explain_only_when_asked(scored_with):
    from stance.cli import _json_line
    from stance.corpus import read_documents
    from stance.scoring import score_documents

    clf, run, folder = scored_with
    plain = run("a1.txt", "--json")
    assert plain.exit_code == 0, plain.output
    doc = json.loads(plain.stdout)
    assert all("explain" not in s for s in doc["sentences"])
    [today] = [_json_line(r.to_dict()) for r in score_documents(clf, read_documents([str(folder / "a1.txt")]))]
    assert plain.stdout == today + "\n"  # what the command printed before --explain existed
    explained = json.loads(run("a1.txt", "--json", "--explain").stdout)
    assert {k: v for k, v in explained.items() if k != "sentences"} == {k: v for k, v in doc.items() if k != "sentences"}
    for before, after in zip(doc["sentences"], explained["sentences"]):
        assert {k: v for k, v in after.items() if k != "explain"} == before
        for target in ("russia", "eu"):
            assert after["explain"][target]["method"] == "ngram-weights"
            assert MEANING in [t["text"] for t in after["explain"][target]["terms"]]


def test_table_shows_why_for_every_article_and_ray_is_refused(scored_with):
    _, run, _ = scored_with
    one = run("a1.txt", "--explain")
    assert one.exit_code == 0, one.output
    lines = one.stdout.splitlines()
    table = [i for i, line in enumerate(lines) if line.lstrip().startswith(("0 ", "1 "))]
    assert len(table) == 2
    for i in table:
        assert lines[i + 1].lstrip().startswith("why russia=") and lines[i + 2].lstrip().startswith("why eu=")
    assert '"sanction' in one.stdout and "(sentence meaning) " in one.stdout
    several = run("a1.txt", "a2.txt", "--explain")
    assert several.stdout.count("why russia=") == 3 and "russia net" not in several.stdout
    ray = run("a1.txt", "--explain", "--engine", "ray")
    assert ray.exit_code == 1 and ray.stderr.startswith("error: --explain") and len(ray.stderr.splitlines()) == 1


@pytest.mark.integration
def test_score_explain_json_on_a_seed_article(trained):
    seed = REPO / "seeds" / "000_abad3842fbdbf470.txt"
    result = run_stance("score", seed, "--explain", "--json", "--model", trained["model"])
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["sentences"]
    for s in doc["sentences"]:
        for target in ("russia", "eu"):
            why = s["explain"][target]
            assert why["method"] == "ngram-weights" and why["terms"]
            assert all(w in s["text"] for w in _words(why["terms"]))
