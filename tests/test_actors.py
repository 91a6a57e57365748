"""Who acts in a sentence (stance.actors), and the head that reads it."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest
from conftest import REPO, run_stance, write_metadata

from stance import actors
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
    ("The Balkan state has refused to impose sanctions.", True),  # how reporting names Serbia a second time
    ("The Balkan peninsula is mountainous.", False),
    # An office is Serbia's unless marked foreign: by an adjective before it or a holder's name after it.
    ("The Bulgarian government signed a gas deal with Russia.", False),
    ("President Erdoğan attended the parade in Moscow.", False),
    ("Prime Minister Robert Fico met Putin.", False),
    ("Commission President Ursula von der Leyen praised the reforms.", False),
    ("President Aleksandar Vučić met Putin.", True),
    ("Minister Nikola Selaković met Lavrov.", True),  # a surname in -ić is Serbian
    ("The president met Putin.", True),
    ("The Bulgarian government and the president disagreed.", True),  # one office left unmarked
    # In a title-case headline every word is capitalised, so only the adjective marks an office.
    ("Government Rejects Sanctions on Russia", True),
    ("GOVERNMENT REJECTS SANCTIONS ON RUSSIA", True),
    ("Bulgarian Government Rejects Sanctions on Russia", False),
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


@pytest.mark.parametrize("text, pressed", [
    ("Moscow urged Serbia to refuse sanctions.", True),  # pressure is not stance (LABELING.md)
    ("Brussels called on President Vučić to align with EU foreign policy.", True),
    ("The Commission expects the Serbian government to align.", True),
    ("Moscow urged Belgrade to refuse sanctions, and Belgrade has not imposed any.", False),  # Serbia's answer told
    ("He said Moscow expected Belgrade to keep its word.", False),  # opens with a reference back
    ("Brussels urged President Putin to negotiate.", False),  # a foreign holder is pressed
    ("Serbia urged Russia to respect its neutrality.", False),  # Serbia presses, it is not pressed
    ("Vučić asked Moscow for gas.", False),
])
def test_serbia_only_pressed(text, pressed):
    assert ("serbia only pressed" in _set(text)) is pressed


@pytest.mark.parametrize("text, question", [
    ("Will Serbia impose sanctions on Russia?", True),
    ("Will Belgrade now choose a side?”", True),
    ("Asked whether it would join? No, Serbia refused.", False),  # answered in the same sentence
    ("Serbia refused.", False),
])
def test_unanswered_question(text, question):
    assert ("unanswered question" in _set(text)) is question


def test_a_long_sentence_full_of_pressure_is_read_in_linear_time():
    """Each verb of pressure reads only its next four words, not the rest of the sentence, so that a
    one-sentence article of megabytes cannot hang scoring; a timeout guards against a return of that."""
    import multiprocessing

    text = "Moscow urged Belgrade and " * 40_000 + "after long talks in the capital Serbia refused."  # 1 MB
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        row = pool.apply_async(actor_features, ([text],)).get(timeout=120)[0]
    assert row[ACTOR_FEATURES.index("serbia only pressed")] == 0  # "Serbia refused" lies after the last window


def test_a_model_fitted_on_fewer_actor_columns_reads_only_those(hashing_encoder, monkeypatch):
    """A model saved before the last indicators were added keeps reading the columns it was fitted on."""
    texts = ["Serbia refuses sanctions on Russia.", "Moscow urged Serbia to act?", "Serbia opened a road."] * 4
    y = np.array([["favor", "none"], ["none", "none"], ["none", "favor"]] * 4, dtype=object)
    with monkeypatch.context() as patched:
        row = actors._row
        patched.setattr(actors, "_row", lambda text: row(text)[:actors.EARLIER_ACTOR_COLUMNS])
        patched.setattr(actors, "ACTOR_FEATURES", ACTOR_FEATURES[:actors.EARLIER_ACTOR_COLUMNS])
        earlier = StanceClassifier(encoder=hashing_encoder, Cs=(1.0,)).fit(texts, y)
        expected = earlier.predict_proba(texts)
    assert earlier.actor_columns_ == actors.EARLIER_ACTOR_COLUMNS < len(ACTOR_FEATURES)
    for now, then in zip(earlier.predict_proba(texts), expected):
        np.testing.assert_array_equal(now, then)
    assert StanceClassifier(encoder=hashing_encoder, Cs=(1.0,)).fit(texts, y).actor_columns_ == len(ACTOR_FEATURES)


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
    assert meta["features"] == {"context": False, "ngrams": True, "actors": True,
                                "actor_columns": len(ACTOR_FEATURES), "renamed_copies": True, "copy_weight": 0.1,
                                "question_rule": True, "pressure_rule": True}
    model = load_model(trained["model"])
    assert model.actors is True
    probe = ["Hungary refused to impose sanctions on Russia, Orban said."]
    assert model.transform_features(probe).shape[1] == (
        model.encoder_.transform(probe).shape[1] + len(ACTOR_FEATURES) + len(model.vectorizer_.vocabulary_))


@pytest.mark.integration
def test_a_model_folder_from_before_the_last_indicators_reads_fewer_columns(trained, tmp_path):
    import shutil

    from stance.errors import ModelIntegrityError

    folder = shutil.copytree(trained["model"], tmp_path / "model")
    meta = json.loads((folder / "stance.json").read_text())
    del meta["features"]["actor_columns"]  # how stance.json looked before the count was kept
    write_metadata(folder, meta, older=True)
    model = load_model(folder)
    assert model.actor_columns_ == actors.EARLIER_ACTOR_COLUMNS
    probe = ["Moscow urged Serbia to act."]
    assert model.transform_features(probe).shape[1] == (
        model.encoder_.transform(probe).shape[1] + actors.EARLIER_ACTOR_COLUMNS + len(model.vectorizer_.vocabulary_))
    # This head was fitted on all the columns, so the folder's settings now disagree with it: refused, not a traceback.
    with pytest.raises(ModelIntegrityError, match="head reads .* features but the recorded settings give"):
        model.predict(probe)
    article = tmp_path / "article.txt"
    article.write_text("Moscow urged Serbia to act.\n")
    result = run_stance("score", article, "--model", folder)
    assert result.returncode == 1 and "stance.json was edited or damaged" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    meta["features"]["actor_columns"] = len(ACTOR_FEATURES) + 1  # made by a later version that reads more
    write_metadata(folder, meta)
    with pytest.raises(ModelIntegrityError, match="actor_columns.*upgrade"):
        load_model(folder)


# The first, plain implementation, kept as the reference that the faster one must match bit for bit.
def _reference_serbian_actor(text):
    if actors._SERBIA_RE.search(text):
        return True
    words = [w for w in text.split() if w[0].isalpha()]
    headline = len(words) >= 3 and all(w[0].isupper() or w.lower() in actors._SMALL_WORDS for w in words)
    for office in actors._OFFICE_RE.finditer(text):
        if re.search(rf"\b(?:{actors._FOREIGN})\s+$", text[:office.start()], re.IGNORECASE):
            continue
        name, rest = [], text[office.end():]
        while len(name) < 3:  # up to three capitalised words, each after spaces or tabs
            word = re.match(r"[ \t]+([\w'’.-]+)", rest)
            if word is None or not word.group(1)[0].isupper():
                break
            name.append(word.group(1))
            rest = rest[word.end():]
        serbian_name = re.search(rf"\b(?:{actors._SERBIA})\b|i[cć]\b", " ".join(name), re.IGNORECASE)
        if headline or not name or serbian_name:
            return True
    return False


def _reference_speaks(pattern, text):
    for match in pattern.finditer(text):
        clause = re.split(r"[,;:.!?()\"“”]", text[match.end():match.end() + 60], maxsplit=1)[0]
        following = " ".join(clause.split()[:4])
        if actors._CLAIM_RE.search(following):
            return True
    return False


def _reference_only_pressed(text):
    pressure = re.compile(rf"\b(?:{actors._PRESSURE})\b", re.IGNORECASE)
    kept, pressed, at = [], False, 0
    for verb in pressure.finditer(text):
        words = text[verb.end():].split()[:4]
        if _reference_serbian_actor(" ".join(words)):
            pressed = True
            if verb.start() >= at:
                kept.append(text[at:verb.start()])
            end = verb.end()
            for word in words:  # skip the verb's four words and the space around them
                end = text.index(word, end) + len(word)
            end += len(text[end:]) - len(text[end:].lstrip())
            at = max(at, end)
    rest = " | ".join(kept + [text[at:]])
    return pressed and not _reference_serbian_actor(rest) and not actors._ANAPHOR_RE.search(rest)


def reference_actor_features(texts):
    rows = []
    for text in texts:
        serbia, back = _reference_serbian_actor(text), bool(actors._ANAPHOR_RE.search(text))
        first = [m.start() if m else None
                 for m in (p.search(text) for p in (actors._SERBIA_RE, actors._RUSSIA_RE, actors._EU_RE))]
        russia, eu = first[1] is not None, first[2] is not None
        acting = serbia or back
        rows.append((
            serbia, back, acting, russia, eu, russia and eu,
            russia and not acting, eu and not acting,
            first[0] is not None and russia and first[0] < first[1],
            first[0] is not None and eu and first[0] < first[2],
            _reference_speaks(actors._RUSSIA_RE, text), _reference_speaks(actors._EU_RE, text),
            _reference_speaks(actors._SERBIA_RE, text),
            bool(actors._NEGATION_RE.search(text)), bool(actors._HEDGE_RE.search(text)),
            serbia and _reference_only_pressed(text), bool(re.search(r"\?[\s\"'”’)]*$", text)),
        ))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(ACTOR_FEATURES))


def _assert_same_as_reference(texts):
    new, old = actor_features(texts), reference_actor_features(texts)
    assert new.dtype == old.dtype and new.shape == old.shape
    differ = [texts[i] for i in np.flatnonzero((new != old).any(axis=1))]
    assert not differ, differ[:5]
    assert [serbian_actor(t) for t in texts] == [_reference_serbian_actor(t) for t in texts]


def test_matches_the_reference_on_every_labeled_and_seed_sentence():
    texts = [json.loads(line)["text"] for path in sorted((REPO / "labels").glob("*.jsonl"))
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += [line for path in sorted((REPO / "seeds").glob("*.txt"))
              for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(texts) > 1000
    _assert_same_as_reference(texts)


_TRICKY = [
    "", " ", "Prices rose on Tuesday.", "He said so.", "They said nothing, and the government agreed.",
    # the 60-character window: a claim word ending on its edge, cut by it, or made one by the cut
    "Serbia" + " " * 56 + "said", "Serbia" + " " * 57 + "said", "Serbia" + " " * 56 + "saidx",
    "Serbia" + " " * 55 + "said", "Serbia" + " " * 58 + "said it", "Russia" + "\t\n" * 28 + "warned",
    "Russia" + "\xa0" * 56 + "said", "Russia" + "\x1c" * 56 + "said", "Russia \u2003 said", "Russia\u200bsaid",
    "The EU" + " x" * 28 + " said", "The EU" + " x" * 27 + "said",
    "The EU a b c said", "The EU a b said", "The EU a-said", "The EU a_said", "The EU asaid", "The EU said-so",
    # clause marks, straight and curly
    'Serbia "said"', "Serbia “said”", "Serbia ”said", "Serbia (said)", "Serbia) said", "Serbia; said", "Serbia: said",
    "Serbia. Said", "Serbia! said", "Serbia? said", "Serbia, said", "Serbia — said", "Serbia - said", "Serbia/said",
    "Serbia's President said", "Serbia’s President said", "Serbia's President has said", "SERBIA'S PRESIDENT SAID",
    "Russian officials said", "Kremlin officials said", "EU officials said the deal was off.",
    "the Serbian government rejected it, while the Russian government said it would wait",
    "The Russian government and the government said",
    "the government, the government, the Russian government",
    "Serbia, Serbia and again Serbia said no.", "Russia (again) and Russia, later, Russia said so.",
    "The EU, not Brussels, but the E.U. warned", "E.U.said", "the E.U. said", "European Union officials said",
    "the West said", "The West and western powers urged Belgrade", "member states said",
    "Moscow says, Brussels says, Belgrade says", "Putin, Lavrov and Peskov all said",
    "Serbia didn't say", "Serbia didn’t say", "Serbia did not say", "Serbia won't", "Serbia won’t impose it",
    "Vučić said", "VUČIĆ SAID", "Vucic said", "Dačić warned", "DAČIĆ WARNED", "Đurić claimed", "Djuric claimed",
    "đurić Claimed", "Brnabić told reporters", "Selaković noted", "Nissan said", "NIS said", "Serbs say",
    "Serbia ſaid", "Russia \u212a", "Russia İnsisted", "SERBIA INSISTS", "according to Serbia", "Serbia according",
    "Serbia, according to Moscow, said", "Moscow, according to Serbia", "Serbia accordingly", "Serbia resaid",
    "It may be that Serbia could refuse", "If the EU rejects it, Serbia would not", "neither Serbia nor Russia",
    "He said that it might", "Their decision stands.", "  the deal was signed", "...The move was made",
    "Serbia Serbia Serbia Serbia Serbia said", "Russia said Russia said", "Serbia\nsaid", "Serbia\rsaid\r",
    "RUSSIA SAID ſ", "Rusſia said", "The EU SAID – Đ", "THE RUSSIAN GOVERNMENT SAID; THE GOVERNMENT — NOT",
    # offices and their holders
    "President Putin said", "President Putin, Vučić said", "President\tPutin said", "President\nPutin said",
    "President  Vladimir Vladimirovich Putin said", "president putin said", "President Erdoğan said",
    "Prime Minister Robert Fico said", "Minister Selaković said", "Minister Ana Brnabić said", "President Ić said",
    "President's aide said", "President, Putin said", "President 'Putin' said", "The Slovak government said",
    "The government and President Putin said", "Government Says No", "Government says no", "GOVERNMENT SAYS NO.",
]


def test_matches_the_reference_on_tricky_strings():
    _assert_same_as_reference(_TRICKY)
    _assert_same_as_reference([t.upper() for t in _TRICKY] + [t.lower() for t in _TRICKY])


def test_matches_the_reference_on_random_word_salad():
    pieces = ["Serbia", "Serbian", "Vučić", "Russia", "Russian", "Moscow", "EU", "E.U.", "European", "Union",
              "government", "officials", "president", "said", "says", "saidx", "according", "warned", "not",
              "didn’t", "may", "he", "the", "a", "to", ",", ";", ":", ".", "(", ")", '"', "“", "”", "'s", "’s",
              " ", "  ", "\t", "\n", "-", "xx", "Đurić", "ſaid", "Putin", "Fico", "Bulgarian", "Prime", "minister",
              "Ana", "Selaković", "von", "Erdoğan"]
    cases = [str, str, str.upper, str.lower, str.swapcase]
    rng = random.Random(20240901)
    ascii_pieces = [piece for piece in pieces if piece.isascii()]  # half the strings take the ASCII path
    texts = ["".join(rng.choice(cases)(rng.choice(ascii_pieces if i % 2 else pieces)) + rng.choice(["", " ", " ", " "])
                     for _ in range(rng.randint(0, 30)))
             for i in range(4000)]
    _assert_same_as_reference(texts)


def test_pattern_letters_are_lowercase_for_the_lowered_ascii_path():
    # ASCII text is lowercased and matched with case; an uppercase letter in a pattern would never match it.
    for pattern in actors._LOWERED_ASCII:
        letters = re.sub(r"\\.", "", pattern.pattern)  # without escapes such as \b and \W
        assert letters == letters.lower(), pattern.pattern
