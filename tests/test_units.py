"""Fast unit tests: splitting, label loading, the classifier, metrics and scoring."""

from __future__ import annotations

import json
import re
import shutil
import warnings

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from stance.drift import stance_over_time
from stance.errors import InputError, LabelFormatError, StanceWarning
from stance.evaluation import classification_metrics, evaluate, out_of_fold, paired_difference
from stance.model import TIE_MARGIN, StanceClassifier, choose_threshold, first_best, fit_temperature, search_C
from stance.schema import label_targets, labels_sha256, load_labels, write_labels
from stance.scoring import score_article
from stance.segment import furniture_kind, read_article, split_sentences

from conftest import AGAINST, FAVOR, NONE, REPO, HashingEncoder, make_scores, write_corpus

# --- splitting -------------------------------------------------------------------


def test_line_breaks_end_sentences_and_lines_split_within():
    segs = split_sentences("Headline without a stop\n\n  Two   spaces here. And a second one.\nLast")
    assert [s.text for s in segs] == ["Headline without a stop", "Two spaces here.", "And a second one.", "Last"]
    assert [s.index for s in segs] == [0, 1, 2, 3]


def test_lines_split_exactly_as_pysbd_splits_them():
    from stance.segment import _segmenter, _split_line

    lines = ["Yes. Yes. Yes.", 'He said: "No." Then left. Then left.', "A. B. C.", "1. First. 2. Second.",
             "Mr. Vucic met Dr. Lavrov in St. Petersburg on Jan. 5. They spoke.", "Wait . . . what? Yes.",
             "U.S. sanctions hit NIS. The E.U. reacted... Belgrade? Yes! ok."]
    lines += [" ".join(raw.split()) for p in sorted((REPO / "seeds").glob("*.txt")) for raw in p.read_text("utf-8").splitlines()]
    for line in filter(None, lines):
        expected = [part.strip() for part in _segmenter().segment(line) if part.strip()]
        assert list(_split_line(line)) == expected, line


@pytest.mark.parametrize(
    "line",
    ["Sign up for our weekly Balkans newsletter", "Photo: Reuters", "READ MORE: Kosovo talks stall",
     "(Reporting by Ana Petrovic; Editing by John Doe)", "Monday 3 March 2025, 10:15 GMT",
     "World | 4 May 2024", "Comments are closed.", "Follow us on Telegram", "- 1,204",
     # a site's chrome, wire datelines and credits, prompts that end with a full stop
     "Advertisement", "Story continues below advertisement", "3 min read", "Copy link", "Comments (37)",
     "AFP via Getty Images", "REUTERS/Marko Djurica", "Reuters contributed to this report.", "Sign up here.",
     "Click here to read the full interview with Vučić.", "BELGRADE/MOSCOW, May 4 (Reuters) -",
     # Serbian datelines end with the date's dot
     "4. maj 2024.", "Објављено: 04.05.2024.", "Beograd, 4. maja 2024.", "subota, 4. maj 2024.",
     # notices as sites write them
     "This publication was produced with the support of the European Union.",
     "The views expressed in this article are those of the author.", "Comments are moderated before publication.",
     "Reproduction without permission is prohibited.", "RFE/RL's Balkan Service contributed to this report.",
     "With reporting by AP and AFP", "This article was originally published by Balkan Insight.", "BELGRADE, Serbia (AP) —"],
)
def test_furniture_is_recognised_by_shape(line):
    assert furniture_kind(line) is not None


@pytest.mark.parametrize(
    "line",
    ["Vucic will visit Moscow on May 9", "Serbia signed the deal on 3 March 2025.",
     "By 2027 Serbia hopes to join the EU.", "Serbia refuses to join EU sanctions on Moscow.",
     "Russian Foreign Intelligence Service (SVR)",
     # sentences that share a word or two with notices
     "Vučić said the views expressed by the European Parliament on Serbia's ties with Russia were unacceptable.",
     "Serbia's ambassador said the EU resolution did not reflect the views of Belgrade.",
     "Vučić's comments will anger Brussels, where Serbia's accession file is effectively closed.",
     "Pro-government tabloids and spam accounts amplified Kremlin talking points.",
     "Serbia has reproduced Russian-designed components under licence, a source in Belgrade said.",
     "Serbia's new pipeline was produced with the support of EU grants, reducing reliance on Russia.",
     # captions and headlines are sentences (LABELING.md)
     "Photo: Vučić has refused to join EU sanctions on Russia", "Serbia refuses to sanction Russia | DW News",
     "Vučić resigned on 9 May 2024.", "Serbia signed the deal on 3 March 2025.", "Vučić resigns (AP)",
     # sentences shaped a little like prompts, notices, credits, bylines or datelines
     "Tap water is scarce in Kosovo.", "Join us in Moscow, Putin told Vučić.", "Subscribe to the EU's sanctions? Never, said Vučić.",
     "Get the latest weapons from Russia, Vučić urged the army.", "The new border crossing was funded with the support of the EU.",
     "This report was first published by the European Commission in 2023.", "EU bans Sputnik, RIA Novosti (May 17, 2024)",
     "Putin tells TASS: 4 May 2024", "Russia, Serbia (AP) -", "China and Russia contributed to the report, which Vučić welcomed.",
     "With reporting by Sputnik, Russia's narrative spreads in Serbia.", "AP/Serbia backs Russia", "Tanjug / Vucic meets Putin",
     "Vučić resigned 4. maja 2024.", "Elections held 17.12.2023.", "Photo: Vucic and Putin in Belgrade", "Vucic meets Putin | Reuters"],
)
def test_real_sentences_are_not_furniture(line):
    assert furniture_kind(line) is None


@pytest.mark.parametrize(
    "line, expected",
    [('“We will never sanction Russia!” Vulin said. He left.', ["“We will never sanction Russia!” Vulin said.", "He left."]),
     ('"Why should Serbia sanction its friends?" Vučić asked reporters on Monday.',
      ['"Why should Serbia sanction its friends?" Vučić asked reporters on Monday.']),
     ("“Enough!” The crowd dispersed.", ["“Enough!”", "The crowd dispersed."]),  # no speaker: two sentences
     ("Is it over? No. Serbia said so!", ["Is it over?", "No.", "Serbia said so!"]),
     ("Trade grew in 2024... Serbia still buys gas.", ["Trade grew in 2024...", "Serbia still buys gas."]),
     ("He met Russia's Amb. Botsan-Kharchenko on Monday. Talks followed.",
      ["He met Russia's Amb. Botsan-Kharchenko on Monday.", "Talks followed."]),
     ("Yes! ok. Then Serbia left.", ["Yes! ok.", "Then Serbia left."]),
     ("Serbia imports c. 80 per cent of its gas from Russia.", ["Serbia imports c. 80 per cent of its gas from Russia."]),
     ("He said it. 5 people died.", ["He said it.", "5 people died."]),  # a number starts a sentence
     ('"Russia is our friend!" Aleksandar Vulin, then interior minister, said.',
      ['"Russia is our friend!" Aleksandar Vulin, then interior minister, said.']),
     # what follows a quotation is a sentence of its own, a lower-case word after a full sentence too
     ('"Not while I live!" Putin said the same.', ['"Not while I live!"', "Putin said the same."]),
     ('"What now?" Putin wrote in his memoir that Serbia was a brother.',
      ['"What now?"', "Putin wrote in his memoir that Serbia was a brother."]),
     ('Putin asked: "Who is with us?" Serbia said yes, Vučić told reporters.',
      ['Putin asked: "Who is with us?"', "Serbia said yes, Vučić told reporters."]),
     ("Serbia said no to sanctions. iPhone sales fell.", ["Serbia said no to sanctions.", "iPhone sales fell."])],
)
def test_a_quotation_its_speaker_and_a_cut_abbreviation_stay_one_sentence(line, expected):
    from stance.segment import _segmenter, _split_line

    assert list(_split_line(line)) == expected
    if len(expected) == 1:  # pysbd alone cuts these; the splitter joins them again
        assert len([p for p in _segmenter().segment(line) if p.strip()]) > 1


def test_a_serbian_text_is_scored_with_a_warning_and_english_headlines_without(hashing_encoder):
    from stance.segment import ENGLISH_SHARE, SERBIAN_SHARE, language_shares

    serbian = ("Srbija neće uvesti sankcije Rusiji, rekao je predsednik Vučić u Beogradu.\n"
               "Beograd je odbio da se uskladi sa spoljnom politikom Evropske unije, a to je rekao i premijer.")
    cyrillic = ("Вучић је рекао да Србија никада неће увести санкције Русији, а премијер је рекао исто у Београду. "
                "Министар је додао да ће Србија наставити пут ка Европској унији.")
    english = [p.read_text("utf-8") for p in sorted((REPO / "seeds").glob("*.txt"))]
    headlines = ["Vučić meets Putin in Moscow", "Serbia rejects EU sanctions on Russia", "Brussels warns Belgrade",
                 "Gazprom Neft sells NIS stake", "Kosovo: Kurti blames Belgrade", "Vučić: Serbia stays neutral",
                 "Serbia buys French Rafale jets"]
    for text in (serbian.split("\n"), [cyrillic]):
        english_part, serbian_part = language_shares(text)
        assert english_part < ENGLISH_SHARE and serbian_part >= SERBIAN_SHARE
    assert min(language_shares([text])[0] for text in english) > 4 * ENGLISH_SHARE
    assert language_shares(headlines)[0] < ENGLISH_SHARE and language_shares(headlines)[1] < SERBIAN_SHARE
    assert language_shares(["Serbia refuses."]) is None  # too short to tell
    opening = serbian.split("\n") * 300  # over 5,000 words: what follows them is not read
    assert language_shares(opening + english * 3) == language_shares(opening)
    assert language_shares(english * 3 + opening)[0] > 4 * ENGLISH_SHARE
    y = np.array([["favor"]] * len(FAVOR) + [["against"]] * len(AGAINST) + [["none"]] * len(NONE), dtype=object)
    clf = StanceClassifier(encoder=hashing_encoder, targets=("russia",), Cs=(1.0,)).fit(FAVOR + AGAINST + NONE, y)
    with pytest.warns(StanceWarning, match=r"^sr: reads as Serbian, not English \(\d+% of its words are common Serbian"):
        score_article(clf, serbian, article_id="sr")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        score_article(clf, english[0], article_id="en")
        score_article(clf, "\n".join(headlines), article_id="headlines")


def test_furniture_keeps_its_index_and_is_skipped():
    segs = split_sentences("Serbia buys gas.\nInvalid email\nVucic met Putin.")
    assert [(s.index, s.furniture is None) for s in segs] == [(0, True), (1, False), (2, True)]


def test_the_headlines_a_related_stories_heading_lists_are_links_until_a_sentence():
    text = ("Serbia buys gas.\nRELATED STORIES\nSerbia's Vucic says Belgrade will not sanction Russia\n"
            "Brussels warns Belgrade\nSerbia said on Monday it would not sanction Russia.\nVucic reacts\n"
            "Related:\nSerbia and Hungary sign a pipeline deal\nReuters contributed to this report.\nIvana Sekularac")
    kinds = [(s.text, s.furniture) for s in split_sentences(text)]
    assert [k for _, k in kinds] == [None, "link", "link", "link", None, None, "link", "link", "byline", None], kinds


def test_skipped_lines_are_listed_as_the_article_has_them(hashing_encoder):
    text = "Serbia buys gas.\n\tAdvertisement\u00a0 \u200b\nVucic met Putin. Photo: Reuters\n"
    y = np.array([["favor"]] * len(FAVOR) + [["against"]] * len(AGAINST) + [["none"]] * len(NONE), dtype=object)
    clf = StanceClassifier(encoder=hashing_encoder, targets=("russia",), Cs=(1.0,)).fit(FAVOR + AGAINST + NONE, y)
    result = score_article(clf, text)
    assert result.skipped == ["\tAdvertisement\u00a0 \u200b", "Photo: Reuters"]
    assert [s.text for s in split_sentences(text) if s.furniture] == ["Advertisement", "Photo: Reuters"]


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty"), (b"abc\x00def", "binary"), (b"caf\xe9 au lait", "not UTF-8")],
)
def test_bad_article_files(tmp_path, content, message):
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_article(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        read_article(tmp_path / "nope.txt")
    with pytest.raises(InputError, match="is a directory"):
        read_article(tmp_path)


def test_bom_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffSerbia buys gas.\n".encode("utf-8"))
    assert read_article(path).segments[0].text == "Serbia buys gas."
    assert read_article(path).id == "bom"


def test_seed_labels_cover_every_segment_of_every_seed():
    rows = [json.loads(line) for line in (REPO / "labels" / "seeds.jsonl").read_text("utf-8").splitlines()]
    for path in sorted((REPO / "seeds").glob("*.txt")):
        texts = [s.text for s in read_article(path).segments]
        labelled = sorted((r["sentence"], r["text"]) for r in rows if r["article"] == path.stem)
        assert labelled == list(enumerate(texts))


# --- labels ------------------------------------------------------------------------


def test_repository_labels_load_with_origins():
    labels = load_labels([REPO / "labels" / "seeds.jsonl", REPO / "labels" / "written.jsonl"], articles=[REPO / "seeds"])
    origins = list(labels["origin"])
    assert origins.count("seed") == 104 and origins.count("written") == 1462
    assert set(labels["russia"]) <= {"favor", "against", "none"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"article": "art0", "sentence": 0, "text": "x", "russia": "pro", "eu": "none"}', "'russia' must be"),
        ('{"article": "art0", "sentence": 0, "text": "x", "russia": "none"}', "missing field 'eu'"),
        ('{"article": "art0", "sentence": 2, "text": "wrong text", "russia": "none", "eu": "none"}', "no longer matches"),
        ('{"article": "art0", "sentence": 99, "text": "x", "russia": "none", "eu": "none"}', "no index 99"),
        ('{"article": "art0", "sentence": 0, "text": "Serbia deepens its friendship with Moscow.", "russia": "none", "eu": "none"}', "duplicate"),
    ],
)
def test_malformed_label_rows_name_file_and_line(synthetic_labels, line, message):
    lines = synthetic_labels.read_text("utf-8").splitlines()
    lines[2] = line  # art0 sentence 2
    synthetic_labels.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelFormatError, match=rf"labels.jsonl:3: .*{message}"):
        load_labels(synthetic_labels)


def test_label_files_declare_their_targets(tmp_path):
    one = tmp_path / "one.jsonl"
    one.write_text('{"targets": ["abortion", "hillary"]}\n'
                   '{"article": "t1", "sentence": 0, "text": "Life first.", "abortion": "against", "hillary": null}\n'
                   '{"article": "t2", "sentence": 0, "text": "Vote Hillary.", "abortion": null, "hillary": "favor"}\n')
    two = tmp_path / "two.jsonl"
    two.write_text('{"article": "t3", "sentence": 0, "text": "Serbia buys gas.", "russia": "favor"}\n')
    with pytest.warns(StanceWarning):
        labels = load_labels([one, two])
    assert label_targets(labels) == ["abortion", "hillary", "russia"]
    assert list(labels["hillary"]) == [None, "favor", None]
    assert list(labels["russia"]) == [None, None, "favor"]
    assert label_targets(load_labels(two, targets="russia", check_text=False)) == ["russia"]  # a name, not letters
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"article": "t1", "sentence": 0, "text": "x", "russia": "none", "eu": "none"}\n'
                   '{"article": "t1", "sentence": 1, "text": "y", "russia": "none", "eu": "none", "rusia": "favor"}\n')
    with pytest.raises(LabelFormatError, match=r"bad.jsonl:2: unknown field 'rusia'"):
        load_labels(bad, check_text=False)


def test_a_target_labeled_on_few_rows_trains_only_on_them(hashing_encoder):
    texts = FAVOR * 3 + AGAINST * 3 + NONE * 3
    first = ["favor"] * 12 + ["against"] * 12 + ["none"] * 12
    second = [None] * 36
    for i in range(0, 36, 3):
        second[i] = first[i]
    y = np.array(list(zip(first, second)), dtype=object)
    clf = StanceClassifier(encoder=hashing_encoder, targets=("a", "b"), cv=3).fit(texts, y)
    assert clf.predict(FAVOR[:1] + AGAINST[:1])[:, 1].tolist() == ["favor", "against"]


def test_labels_without_their_article_load_with_a_warning(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"article": "gone", "sentence": 0, "text": "Hi.", "russia": "none", "eu": "none"}\n')
    with pytest.warns(StanceWarning, match="not checked"):
        labels = load_labels(path)
    assert list(labels["origin"]) == ["written"]


def test_origin_defaults_to_seed_for_articles_in_seeds(tmp_path):
    path = write_corpus(tmp_path / "seeds")
    assert set(load_labels(path)["origin"]) == {"seed"}


def test_contrast_rows_are_trained_on_in_every_fold_and_scored_in_none(tmp_path, hashing_encoder):
    seeds = write_corpus(tmp_path / "seeds", n_articles=3)
    written = write_corpus(tmp_path / "written", n_articles=5, origin="written", prefix="w")
    contrast = write_corpus(tmp_path / "contrast", n_articles=2, origin="contrast", prefix="c")
    labels = load_labels([seeds, written, contrast])
    trained_on = []

    def seen(train, articles, origins):
        trained_on.append(set(articles[train][origins[train] == "contrast"]))
        return train

    oof = out_of_fold(labels, lambda: StanceClassifier(encoder=hashing_encoder), targets=["russia", "eu"], train_filter=seen)
    assert trained_on and all(found == {"c0", "c1"} for found in trained_on)
    for plan in oof["plans"].values():
        assert not any(str(a).startswith("c") for a in oof["articles"][plan["index"]])
    (tmp_path / "odd.jsonl").write_text('{"article": "x", "sentence": 0, "text": "Hi.", "russia": "none", "eu": "none", '
                                        '"origin": "made-up"}\n')
    with pytest.raises(LabelFormatError, match=r"'origin' must be seed\|written\|contrast, not 'made-up'"):
        load_labels(tmp_path / "odd.jsonl")


def test_inner_folds_split_the_scored_rows_and_train_every_fold_on_the_unscored():
    from stance.model import _splitter, inner_folds

    y = np.array(["favor", "against", "none"] * 8)
    groups = np.repeat(np.arange(8), 3)
    plain = inner_folds(y, groups, 5)
    before = list(_splitter(y, groups, 5).split(y, y, groups))
    assert [(list(a), list(b)) for a, b in plain] == [(list(a), list(b)) for a, b in before]
    unscored = groups >= 6
    folds = inner_folds(y, groups, 5, unscored)
    contrast = set(np.flatnonzero(unscored).tolist())
    assert len(folds) == 5 and all(contrast <= set(train.tolist()) and not contrast & set(test.tolist())
                                   for train, test in folds)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == np.flatnonzero(~unscored).tolist()
    with pytest.raises(ValueError, match="one flag per row"):
        inner_folds(y, groups, 5, unscored[:-1])


def test_inner_folds_are_none_when_a_fold_would_train_on_one_class():
    """Three articles, one of them the only favor: every split of two folds trains one on a single class."""
    from stance.model import inner_folds

    groups = np.repeat(["a", "b", "c"], 2)
    assert inner_folds(np.array(["none"] * 4 + ["favor"] * 2, dtype=object), groups, 5) is None
    mixed = inner_folds(np.array(["none", "favor"] * 3, dtype=object), groups, 5)
    assert mixed is not None and len(mixed) == 3


def test_a_fit_that_cannot_choose_C_says_so_and_the_command_line_once(hashing_encoder):
    """Two articles, one all favor: no fold can train on two classes, so C, temperature and threshold are not
    chosen, and the fit says which target, instead of passing the defaults off as chosen."""
    from stance.cli import user_errors
    from stance.model import StanceClassifier

    texts = [f"Serbia backs Moscow on point {i}." for i in range(4)] + [f"Belgrade said nothing {i}." for i in range(4)]
    y = [("favor", "favor" if i % 2 else "none") for i in range(4)] + [("none", "none" if i % 2 else "favor")
                                                                       for i in range(4)]
    groups = ["a"] * 4 + ["b"] * 4
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = StanceClassifier(encoder=hashing_encoder, cv=2, renamed_copies=False).fit(texts, y, groups=groups)
        StanceClassifier(encoder=hashing_encoder, cv=1, renamed_copies=False).fit(texts, y, groups=groups)
    said = [str(w.message) for w in caught if issubclass(w.category, StanceWarning)]
    assert len(said) == 1 and said[0].startswith("target 'russia': ") and "nothing was chosen on folds" in said[0]
    assert model.best_params_["russia"] == {} and set(model.best_params_["eu"]) == {"C", "temperature", "threshold"}
    one_C = StanceClassifier(encoder=hashing_encoder, cv=2, Cs=[3.0], renamed_copies=False).fit(texts, y, groups=groups)
    assert one_C.best_params_["eu"]["C"] == 3.0 and set(one_C.best_params_["eu"]) == {"C", "temperature", "threshold"}

    lines = []

    @user_errors
    def twice():
        for _ in range(2):
            StanceClassifier(encoder=hashing_encoder, cv=2, renamed_copies=False).fit(texts, y, groups=groups)

    import stance.cli as cli

    said_before, cli._say = cli._say, lambda kind, message: lines.append((kind, message))
    try:
        twice()
    finally:
        cli._say = said_before
    assert [kind for kind, _ in lines] == ["warning"] and "target 'russia'" in lines[0][1]


def test_write_labels_round_trip_is_atomic_and_hash_ignores_order(synthetic_labels, tmp_path):
    labels = load_labels(synthetic_labels)
    rows = [{k: r[k] for k in ("article", "sentence", "text", "russia", "eu", "origin")} for r in labels]
    out = write_labels(list(reversed(rows)), tmp_path / "copy" / "copy.jsonl")
    assert [p.name for p in out.parent.iterdir()] == ["copy.jsonl"]
    again = load_labels(out, articles=[synthetic_labels.parent])
    assert labels_sha256(again) == labels_sha256(labels)


# --- classifier --------------------------------------------------------------------


def _xy(path):
    labels = load_labels(path)
    rows = [r for r in labels if r["furniture"] is None]
    return [r["text"] for r in rows], np.array([(r["russia"], r["eu"]) for r in rows], dtype=object), [r["article"] for r in rows]


def test_classifier_follows_sklearn_conventions(synthetic_labels, hashing_encoder):
    X, y, groups = _xy(synthetic_labels)
    clf = StanceClassifier(encoder=hashing_encoder)
    with pytest.raises(NotFittedError):
        clf.predict(X)
    assert clf.fit(X, y, groups=groups) is clf
    assert clf.predict(X).shape == (len(X), 2)
    assert set(clf.predict(X).ravel()) <= {"favor", "against", "none"}
    for proba in clf.predict_proba(X):
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert all(p["C"] in clf.Cs for p in clf.best_params_.values())
    first = clf.predict_proba(X[:3])
    clf.fit(X[::-1], y[::-1], groups=groups[::-1])
    fresh = StanceClassifier(encoder=hashing_encoder).fit(X[::-1], y[::-1], groups=groups[::-1])
    for a, b in zip(clf.predict_proba(X), fresh.predict_proba(X)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert first[0].shape == (3, len(clf.classes_[0]))


def test_unlabeled_cells_are_skipped_per_target(synthetic_labels, hashing_encoder):
    X, y, groups = _xy(synthetic_labels)
    y[:4, 1] = None
    clf = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    assert clf.predict(X).shape == (len(X), 2)


def test_calibrated_probabilities_sum_to_one_and_keep_the_top_class(synthetic_labels, hashing_encoder):
    X, y, groups = _xy(synthetic_labels)
    calibrated = StanceClassifier(encoder=hashing_encoder, abstain=False).fit(X, y, groups=groups)
    raw = StanceClassifier(encoder=hashing_encoder, calibrate=False, abstain=False).fit(X, y, groups=groups)
    for j, target in enumerate(calibrated.targets_):
        assert calibrated.best_params_[target]["temperature"] > 0
        p, q = calibrated.predict_proba(X)[j], raw.predict_proba(X)[j]
        np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
        assert (p.argmax(axis=1) == q.argmax(axis=1)).all()


def test_temperature_and_threshold_are_chosen_by_their_criteria():
    rng = np.random.default_rng(0)
    classes = ["favor", "against", "none"]
    y = rng.choice(classes, 400)
    # overconfident: right 60% of the time but claiming 95%
    top = np.where(rng.random(400) < 0.6, y, rng.choice(classes, 400))
    proba = np.full((400, 3), 0.025)
    proba[np.arange(400), [classes.index(c) for c in top]] = 0.95
    assert fit_temperature(proba, y, classes) > 1.5  # softens
    assert choose_threshold(proba, y, classes, candidates=(0.0, 0.99)) == 0.0  # abstaining on all hurts macro-F1
    unsure = np.tile([0.34, 0.33, 0.33], (400, 1))
    truth = np.array(["none"] * 400)
    assert choose_threshold(unsure, truth, classes, candidates=(0.0, 0.5)) == 0.5


def test_a_near_tie_goes_to_the_preferred_candidate_so_last_digits_cannot_flip_it():
    assert first_best([0.70, 0.70 + TIE_MARGIN / 2, 0.60]) == 0
    assert first_best([0.70, 0.70 + 2 * TIE_MARGIN]) == 1
    assert first_best([float("nan"), 0.5]) == 1
    # Abstaining at 0.5 turns one wrong "favor" among 2,000 sentences into a right "none": better by less than
    # the margin, so no abstention stays.
    from sklearn.metrics import f1_score

    classes = ["favor", "against", "none"]
    y = np.array(["favor"] * 700 + ["against"] * 700 + ["none"] * 600)
    proba = np.zeros((2000, 3))
    proba[np.arange(2000), [classes.index(c) for c in y]] = 0.9
    proba[:, :] += (1 - proba.sum(axis=1, keepdims=True)) / 3
    proba[-1] = [0.45, 0.3, 0.25]  # a "none" sentence called favor, unsure
    gain = (f1_score(y, np.where(proba.max(axis=1) < 0.5, "none", np.array(classes)[proba.argmax(axis=1)]), average="macro")
            - f1_score(y, np.array(classes)[proba.argmax(axis=1)], average="macro"))
    assert 0 < gain < TIE_MARGIN
    assert choose_threshold(proba, y, classes, candidates=(0.5, 0.0)) == 0.0
    assert choose_threshold(proba[-100:], y[-100:], classes, candidates=(0.5, 0.0)) == 0.5  # here it wins clearly


def test_the_C_search_keeps_the_strongest_regularisation_within_the_margin():
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 5))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=300) > 0, "favor", "none")
    search = search_C((0.03, 0.1, 1.0, 10.0), StratifiedKFold(3, shuffle=True, random_state=0)).fit(X, y)
    scores = search.cv_results_["mean_test_score"]
    assert 0 < scores[1] - scores[0] < TIE_MARGIN  # C=0.1 is ahead by a hair
    assert search.best_params_["C"] == 0.03
    assert search.best_estimator_.C == 0.03


def test_heads_over_float32_embeddings_alone_are_solved_in_float64_without_warnings(synthetic_labels):
    # float32 rounding is far above the solver's tolerance: solved in float32, nearly every fit of
    # the C search warned that its line search failed, about a hundred warnings for this small corpus
    X, y, groups = _xy(synthetic_labels)
    encoder = HashingEncoder(64)
    assert encoder.transform(X[:1]).dtype == np.float32
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        clf = StanceClassifier(encoder=encoder, ngrams=False, actors=False, calibrate=False, abstain=False,
                               Cs=(0.1, 1.0, 10.0, 100.0, 1000.0)).fit(X, y, groups=groups)
    assert [str(w.message) for w in caught] == []
    assert all(head.coef_.dtype == np.float64 for head in clf.heads_.values())


def test_the_C_search_on_every_core_scores_and_chooses_as_on_one():
    import joblib
    from sklearn.model_selection import StratifiedKFold

    from stance.model import on_all_cores

    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 5))
    y = np.where(X[:, 0] + 0.5 * rng.normal(size=300) > 0, "favor", "none")
    searches, workers = [], []
    for context in (lambda: joblib.parallel_config(n_jobs=1), on_all_cores):  # a config applies when made
        with context():
            workers.append(joblib.effective_n_jobs(None))  # what a grid search without n_jobs uses
            searches.append(search_C((0.03, 0.1, 1.0, 10.0), StratifiedKFold(3, shuffle=True, random_state=0)).fit(X, y))
    one, every = searches
    assert workers == [1, joblib.cpu_count()]
    np.testing.assert_array_equal(every.cv_results_["mean_test_score"], one.cv_results_["mean_test_score"])
    assert every.best_params_ == one.best_params_
    np.testing.assert_allclose(every.best_estimator_.coef_, one.best_estimator_.coef_, rtol=0, atol=1e-12)


def test_heads_are_solved_to_the_optimum_not_to_where_last_bits_decide(synthetic_labels, hashing_encoder):
    from sklearn.base import clone

    X, y, groups = _xy(synthetic_labels)
    # without renamed copies, whose weights the reference fit below would have to repeat
    clf = StanceClassifier(encoder=hashing_encoder, calibrate=False, abstain=False, renamed_copies=False).fit(
        X, y, groups=groups)
    features = clf.transform_features(X)
    for j, target in enumerate(clf.targets_):
        head = clf.heads_[target]
        mask = np.array([v is not None for v in y[:, j]])
        with warnings.catch_warnings():  # the reference runs into rounding; it still gets closest
            warnings.simplefilter("ignore")
            exact = clone(head).set_params(tol=1e-13, max_iter=100_000).fit(features[mask], y[mask, j].astype(str))
        # at scikit-learn's default tolerance the coefficients stop about 1e-4 short, and the thread count moves them
        np.testing.assert_allclose(head.coef_, exact.coef_, rtol=0, atol=1e-6 * np.abs(exact.coef_).max())


def test_saving_needs_a_sentence_encoder(synthetic_labels, hashing_encoder, tmp_path):
    X, y, groups = _xy(synthetic_labels)
    clf = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    with pytest.raises(TypeError, match="SentenceEncoder"):
        clf.save(tmp_path / "m")


# --- metrics and evaluation ---------------------------------------------------------


def test_metrics_match_a_hand_computed_example():
    gold = ["favor", "favor", "against", "none", "none", "none"]
    pred = ["favor", "against", "against", "none", "none", "favor"]
    m = classification_metrics(gold, pred, n_bootstrap=200)
    # favor: P 1/2 R 1/2 F1 .5; against: P 1/2 R 1 F1 2/3; none: P 1 R 2/3 F1 .8
    assert m["per_class"]["favor"]["f1"] == pytest.approx(0.5)
    assert m["per_class"]["against"]["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["none"]["f1"] == pytest.approx(0.8)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)
    assert m["f1_avg"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert m["macro_f1_ci"][0] <= m["macro_f1"] <= m["macro_f1_ci"][1]


def test_a_paired_difference_separates_what_two_separate_intervals_cannot():
    rng = np.random.default_rng(0)
    stances = np.array(["favor", "against", "none"])
    gold = rng.choice(stances, 300)
    baseline = np.where(rng.random(300) < 0.7, gold, rng.choice(stances, 300))
    better = baseline.copy()
    wrong = np.flatnonzero(better != gold)
    better[wrong[: len(wrong) // 5]] = gold[wrong[: len(wrong) // 5]]  # the same sentences, a fifth of the errors mended
    a, b = classification_metrics(gold, better), classification_metrics(gold, baseline)
    gain = paired_difference(gold, better, baseline)
    assert gain["macro_f1"] == pytest.approx(a["macro_f1"] - b["macro_f1"])
    assert gain["f1_avg"] == pytest.approx(a["f1_avg"] - b["f1_avg"])
    assert a["macro_f1_ci"][0] < b["macro_f1_ci"][1]  # apart, the intervals overlap ...
    assert gain["macro_f1_ci"][0] > 0  # ... paired, the gain is clear
    same = paired_difference(gold, baseline, baseline)
    assert same["macro_f1"] == 0 and same["macro_f1_ci"] == [0.0, 0.0]


def test_evaluation_is_grouped_and_beats_majority(tmp_path, hashing_encoder):
    seeds = write_corpus(tmp_path / "seeds", n_articles=4)
    written = write_corpus(tmp_path / "written", n_articles=6, origin="written", prefix="w")
    labels = load_labels([seeds, written])
    report = evaluate(labels, StanceClassifier(encoder=hashing_encoder), n_bootstrap=100)
    loao = report.evaluations["seed_loao"]
    assert [f["fold"] for f in loao["folds"]] == ["art0", "art1", "art2", "art3"]
    assert loao["n_sentences"] == 4 * 6  # furniture excluded
    for target in ("russia", "eu"):
        row = loao["targets"][target]
        assert row["model"]["macro_f1"] > row["majority"]["macro_f1"]
    folder = report.write(tmp_path / "report")
    assert json.loads((folder / "metrics.json").read_text()) == json.loads(report.to_json())
    assert (folder / "confusion_seed_loao.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Leave-one-article-out" in (folder / "report.md").read_text()
    # every number traces back to its sentences: the metrics recomputed from predictions.jsonl agree
    rows = [json.loads(line) for line in (folder / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == loao["n_sentences"] + report.evaluations["written_cv"]["n_sentences"]
    for plan, result in report.evaluations.items():
        for target in ("russia", "eu"):
            mine = [r[target] for r in rows if r["plan"] == plan and r[target]["gold"] is not None]
            again = classification_metrics([m["gold"] for m in mine], [m["predicted"] for m in mine], n_bootstrap=0)
            assert again["macro_f1"] == pytest.approx(result["targets"][target]["model"]["macro_f1"])
            assert all(sum(m["proba"].values()) == pytest.approx(1, abs=1e-5) for m in mine)
            for system in ("tfidf", "majority"):  # the baselines' figures, and the gain over TF-IDF, too
                theirs = classification_metrics([m["gold"] for m in mine], [m["baselines"][system] for m in mine],
                                                n_bootstrap=0)
                assert theirs["macro_f1"] == pytest.approx(result["targets"][target][system]["macro_f1"])
            gain = result["targets"][target]["gain_over_tfidf"]["macro_f1"]
            assert gain == pytest.approx(again["macro_f1"] - classification_metrics(
                [m["gold"] for m in mine], [m["baselines"]["tfidf"] for m in mine], n_bootstrap=0)["macro_f1"])
    # a later run without seed articles, into the same folder: no figure of the earlier run is left there
    (folder / "notes.md").write_text("the user's\n")
    shutil.copy(folder / "confusion_seed_loao.png", folder / "confusion_seed_loao_2024-baseline.png")  # the user's
    written_only = evaluate(load_labels([written]), StanceClassifier(encoder=hashing_encoder), n_bootstrap=10)
    written_only.write(folder)
    assert sorted(p.name for p in folder.iterdir()) == [
        "confusion_seed_loao_2024-baseline.png", "confusion_written_cv.png", "metrics.json", "notes.md",
        "predictions.jsonl", "report.html", "report.md"]


# --- scoring ---------------------------------------------------------------------


def test_score_article_summary_is_consistent(synthetic_labels, hashing_encoder):
    X, y, groups = _xy(synthetic_labels)
    clf = StanceClassifier(encoder=hashing_encoder).fit(X, y, groups=groups)
    text = "Serbia refuses to sanction Russia.\nShare this story on Facebook\nSerbian shells reach Ukraine."
    result = score_article(clf, text, article_id="a1", date="2025-01-02")
    assert [s["index"] for s in result.sentences] == [0, 2]
    assert result.skipped == ["Share this story on Facebook"]
    for target in ("russia", "eu"):
        summary = result.summary[target]
        assert summary["favor"] + summary["against"] + summary["none"] == 2
        nets = [s[target]["proba"]["favor"] - s[target]["proba"]["against"] for s in result.sentences]
        assert summary["net"] == pytest.approx(np.mean(nets))
        assert -1 <= summary["net"] <= 1
        for s in result.sentences:
            assert set(s[target]["proba"]) == {"favor", "against", "none"}
            assert sum(s[target]["proba"].values()) == pytest.approx(1.0, abs=1e-6)
    empty = score_article(clf, "Invalid email\nLeave a Reply")
    assert empty.sentences == [] and empty.summary["russia"] == {"favor": 0, "against": 0, "none": 0, "net": 0.0}
    frame = stance_over_time([result, score_article(clf, text, date="2025-01-20"), empty], by="month")
    assert list(frame["n_articles"]) == [2, 2]


def test_public_names_stay_functions_after_their_modules_are_imported():
    import importlib

    import stance

    for name in stance.__all__:
        importlib.import_module(stance._HOME[name])
        assert not isinstance(getattr(stance, name), type(stance)), f"stance.{name} is shadowed by a module"


@pytest.mark.parametrize(
    "options",
    [
        {"ngram_range": (1, 2), "sublinear_tf": True},
        {"ngram_range": (1, 3), "norm": "l1"},
        {"ngram_range": (2, 2), "use_idf": False, "strip_accents": "unicode"},
        {"analyzer": "char_wb", "ngram_range": (2, 3)},
    ],
)
def test_ngram_features_equal_the_vectorizer_transform(options):
    from sklearn.feature_extraction.text import TfidfVectorizer

    from stance.features import ngram_features

    fitted = TfidfVectorizer(**options).fit(
        ["Serbia signs a gas deal with Russia.", "Brussels praises Belgrade.", "Ünïcödé CAFÉ café."]
    )
    texts = ["Serbia praises Brussels, not Russia.", "", "...", "café café café Belgrade Belgrade", "gas deal gas deal"]
    expected, got = fitted.transform(texts), ngram_features(fitted, texts)
    assert got.shape == expected.shape and expected.nnz > 0
    np.testing.assert_allclose(got.toarray(), expected.toarray(), atol=1e-12)


@pytest.mark.parametrize("cpus, workers", [(1, None), (2, None), (8, None), (2, 2), (16, 40)])
def test_ray_actors_leave_a_cpu_to_the_read_and_write_tasks(cpus, workers):
    from stance.distributed import _pool_shape

    size, each = _pool_shape(float(cpus), workers)
    assert size >= 1 and 0 <= each <= 1
    assert size * each <= cpus - 1 + 1e-9  # a full CPU stays free, else the tasks feeding the actors wait forever
    if workers is None and cpus >= 2:
        assert size == cpus - 1 and each == 1.0


def test_a_date_the_index_marks_as_inferred_is_recorded_as_inferred_not_as_a_column_fact():
    from stance.corpus import read_documents

    index = {json.loads(line)["id"]: json.loads(line) for line in (REPO / "seeds" / "articles.jsonl").read_text().splitlines()}
    documents = list(read_documents([REPO / "seeds"]))
    assert {d.id for d in documents if d.date_source == "inferred"} == {i for i, r in index.items() if r["date_source"] == "inferred"}
    assert {d.date_source for d in documents} == {"column", "inferred"}
    assert all(d.date == index[d.id]["date"] for d in documents)


def test_an_article_index_that_repeats_an_id_misspells_a_date_source_or_names_no_file_is_told(tmp_path):
    """Before, the last line of a repeated id won, a misspelt date source was a column fact, and a mistyped id
    silently left its article undated."""
    from stance.corpus import read_documents
    from stance.errors import InputError, StanceWarning

    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a1.txt").write_text("Serbia buys Russian gas.\n", "utf-8")
    index = folder / "articles.jsonl"
    for lines, says in (
        (['{"id": "a1", "date": "2024-01-01"}', '{"id": "a1", "date": "2025-01-01"}'],
         "articles.jsonl:2: id 'a1' is listed twice (first on line 1); keep one line per article"),
        (['{"id": "a1", "date": "2024-01-01", "date_source": "guess"}'],
         "articles.jsonl:1: date_source 'guess' is none of column, option, text, inferred"),
    ):
        index.write_text("\n".join(lines) + "\n", "utf-8")
        with pytest.raises(InputError, match=re.escape(says)):
            list(read_documents([folder]))
    index.write_text('{"id": "a1", "date": "2024-01-01"}\n{"id": "A1", "date": "2025-01-01"}\n', "utf-8")
    with pytest.warns(StanceWarning, match=r"1 id\(s\) name no .txt article in its folder \(A1\)"):
        documents = list(read_documents([folder]))
    assert [(d.id, d.date) for d in documents] == [("a1", "2024-01-01")]
    (folder / "sub").mkdir()  # the article moved a folder down: archive/articles.jsonl beside archive/2024/*.txt
    (folder / "a1.txt").rename(folder / "sub" / "a1.txt")
    index.write_text('{"id": "a1", "date": "2024-01-01"}\n', "utf-8")
    with pytest.warns(StanceWarning, match=r"1 id\(s\) name no .txt article in its folder \(a1\).*\(an index serves "
                                           r"the .txt files beside it, not those in folders below"):
        documents = list(read_documents([folder]))
    assert [(d.id, d.date) for d in documents] == [("a1", None)]


def test_invisible_format_characters_are_removed_so_a_text_reads_as_it_looks():
    """A zero-width space inside "Serbia" or a byte-order mark after a full stop changed the scores of text
    that looks the same."""
    import unicodedata

    from stance.segment import _INVISIBLE, split_sentences

    clean = "Serbia rejected the talks. Vucic met Putin in Moscow.\nThe EU replied."
    hidden = "Ser\u200bbia re\u00adjected the talks.\ufeff Vu\u2060cic met Putin in Mos\u200dcow.\n\u200b\nThe \u200eEU replied."
    assert [s.text for s in split_sentences(hidden)] == [s.text for s in split_sentences(clean)]
    spelling = {"\u200c", "\u200d", "\U000e0001", *map(chr, range(0xE0020, 0xE0080))}
    every_cf = [chr(c) for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf" and chr(c) not in spelling]
    assert all(_INVISIBLE.fullmatch(c) for c in every_cf)  # of this Python's Unicode, whichever it is
    assert not any(_INVISIBLE.fullmatch(c) for c in " \u00a0\u2028Sсš€")  # visible text and real spaces stay
    # the joiners spell words and emoji in other scripts: kept there, removed inside a Latin or Cyrillic word
    for kept in ("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u06cc\u0645", "\U0001f468\u200d\U0001f469\u200d\U0001f467",
                 "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "\u0915\u094d\u200d\u0937"):
        assert split_sentences(f"Serbia said {kept} today.")[0].text == f"Serbia said {kept} today."
    assert split_sentences("Sr\u200dbija i Ру\u200cсија.")[0].text == "Srbija i Русија."


def test_a_label_made_before_invisible_characters_were_removed_is_told_why_it_no_longer_matches(tmp_path):
    from stance.labeltools import check_labels

    (tmp_path / "a.txt").write_text("Serbia re\u00adjected the talks.\nVucic met Putin.\n", "utf-8")
    labels = tmp_path / "old.jsonl"
    labels.write_text(json.dumps({"article": "a", "sentence": 0, "text": "Serbia re\u00adjected the talks.",
                                  "russia": "against", "eu": "none"}) + "\n", "utf-8")
    [problem] = check_labels([labels], [tmp_path])
    assert problem.endswith("(the label's text holds invisible characters, which the splitter removes: remove them from it)")


def test_a_net_that_rounds_to_zero_is_printed_without_a_minus():
    """An article whose sentences took no side to speak of read "-0.000", as if it leaned against."""
    from stance.cli import render_scores, summary_line

    result = make_scores("a", "2025-01-01", {"russia": -0.0004, "eu": -0.0006})
    assert summary_line(result).split()[-2:] == ["+0.000", "-0.001"]
    assert "net +0.000" in render_scores(result) and "net -0.001" in render_scores(result)
