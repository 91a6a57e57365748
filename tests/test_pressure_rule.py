"""The pressure rule: a sentence in which another actor only presses Serbia is none (LABELING.md)."""

from __future__ import annotations

import json

import pytest

from conftest import SaveableHashingEncoder, assert_rule_decides, write_metadata
from stance.actors import pressed_by_another
from stance.model import load_model
from test_question_rule import TEXTS, _fitted

PRESSED = [
    "Moscow urged Serbia to refuse to impose sanctions on Russia.",
    "Brussels urged Belgrade to join the EU sanctions against Russia.",
    "Moscow urged Serbian President Aleksandar Vučić to reject the EU's demands.",
    "The EU has long called on Serbia to align its foreign policy with the bloc.",
    "Western partners have been demanding that Belgrade show its colors.",
    "Commission spokesman Peter Stano said that Brussels expects Serbia not to deepen its ties with Russia.",
    "Russia urged the Serbian authorities to reject the Western demands.",
    "EU Foreign Policy Chief Urges Serbia To Impose Sanctions On Russia",
    "Moscow called on Serbia not to yield to Western blackmail.",
    "The European Commission said it still expected Serbia, as a candidate, to move step by step towards the EU.",
]
# Each names a verb of pressure and Serbia, yet tells Serbia's answer or is not pressure on Serbia.
NOT_ONLY_PRESSED = [
    "Brussels urged Belgrade to align, which it refused.",  # the answer, by a pronoun
    "Brussels urged Belgrade to align, but the call was rejected.",  # the answer, by a verb of reply
    "Brussels' demand that Serbia impose sanctions was rejected.",
    "Brussels urged Belgrade to align, and Serbia refused.",  # Serbia acts besides
    "Vučić said Brussels urged Serbia to impose sanctions.",
    "Under Western pressure, Belgrade backs the move to suspend Russia.",  # a noun, and Belgrade acts
    "Asked about Serbia's decision, he said Moscow understood.",  # no presser before the verb
    "Russian experts have asked why Belgrade chose to go public.",  # Belgrade is not the one asked
    "Russian commentators warn that Serbia's reliance on the West could erode Russia's foothold.",
    "The EU urged Serbia's government to align.",
    '"Nobody in Brussels will tell us whom to invite to Belgrade," an official said.',  # a Serbian voice
    "Serbia refused to impose sanctions on Russia.",
    # Serbia's answer told without a verb of reply, or before the pressure
    "The EU has urged Serbia to align with its foreign policy, but the country has not done so.",
    "EU leaders urged Serbia to align, a request the country's leadership has brushed aside.",
    "Brussels urged Serbia to impose sanctions, a call that went unheeded.",
    "Despite two years of refusals, the EU still urges Serbia to sanction Moscow.",
    "Brussels urged Belgrade to align with sanctions, noting that alignment has fallen to 45%.",
    # pressure that tells Serbia's conduct
    "Moscow warned Belgrade over ammunition supplies reaching Ukraine.",
    "Brussels pressed Belgrade to stop blaming the West for the protests.",
    "The EU urged Serbia to reverse its decision to buy Russian fighter jets.",
    "EU diplomats expect Belgrade to continue dodging sanctions on Russia.",
    "The Kremlin urged Belgrade to explain Serbian ammunition sales to Ukraine.",
    # not pressed by Russia, the EU or another country; not pressure
    "Speaking in Moscow, Vučević urged Serbia never to join sanctions against Russia.",
    "Brussels urged Belgrade to impose sanctions, while Moscow thanked the country for its loyalty.",
    "Lavrov called on Vučić in Belgrade to discuss gas supplies.",
]

@pytest.mark.parametrize("text", PRESSED)
def test_a_sentence_that_only_presses_serbia_is_marked(text):
    assert pressed_by_another(text)


@pytest.mark.parametrize("text", NOT_ONLY_PRESSED)
def test_a_sentence_that_tells_more_than_pressure_is_left_to_the_heads(text):
    assert not pressed_by_another(text)


def test_a_long_line_of_pressure_is_read_to_its_end():
    filler = " and the weather was mild" * 20_000
    assert pressed_by_another("Moscow urged Belgrade to sign the deal" + filler + ".")
    assert not pressed_by_another("Moscow urged Belgrade to sign the deal" + filler + ", which it refused.")
    assert not pressed_by_another("Serbia " + "urged." * 20_000)  # a verb of pressure in every word


def test_the_indicators_read_a_line_without_spaces_a_few_words_at_a_time():
    """Each verb of pressure read the rest of a line without spaces as its next word: 64 KB took 20 s."""
    from stance.actors import _FOUR_WORDS_RE, ACTOR_FEATURES, actor_features

    line = "Serbia " + "urged." * 20_000
    assert _FOUR_WORDS_RE.match(line, len("Serbia urged")).end() <= len("Serbia urged") + 4 * 100
    row = actor_features(["Brussels urged Belgrade." + "urged." * 20_000])[0]
    assert row[ACTOR_FEATURES.index("serbia only pressed")] == 1.0


def test_the_rule_makes_pressure_none_and_changes_nothing_else(hashing_encoder):
    ruled, free = _fitted(hashing_encoder), _fitted(hashing_encoder, pressure_rule=False)
    pressed = PRESSED[:2]
    assert_rule_decides(ruled, free, pressed, NOT_ONLY_PRESSED + TEXTS)
    assert ruled.pressed(pressed + NOT_ONLY_PRESSED[:1]).tolist() == [True, True, False]
    assert not free.pressed(pressed).any()


def test_explain_names_the_rule_that_decided(hashing_encoder):
    from stance.cli import _reason_lines
    from stance.explain import explain_sentences

    model = _fitted(hashing_encoder, pressure_rule=True)
    pressed, free = explain_sentences(model, [PRESSED[0], TEXTS[0]])
    assert pressed == {t: {"label": "none", "method": "pressure-rule", "terms": []} for t in ("russia", "eu")}
    assert free["russia"]["method"] == "ngram-weights"
    shown = {t: {"label": "none"} for t in ("russia", "eu")}
    assert all("pressure is not stance" in line for line in _reason_lines(shown, pressed))


def test_explain_by_occlusion_names_the_rules_too(hashing_encoder):
    """A head with no linear weights was explained by occlusion: all zero, the rule that decided unnamed."""
    from sklearn.tree import DecisionTreeClassifier

    from stance.explain import explain_sentences

    model = _fitted(hashing_encoder, pressure_rule=True, head=DecisionTreeClassifier(random_state=0))
    pressed, asked, blank, free = explain_sentences(model, [PRESSED[0], "Will Serbia join the EU?", " ", TEXTS[0]])
    assert [why["russia"]["method"] for why in (pressed, asked, blank, free)] == [
        "pressure-rule", "question-rule", "no-words", "occlusion"]


def test_a_saved_model_keeps_the_rule_and_one_without_keeps_its_id(tmp_path):
    ruled = _fitted(SaveableHashingEncoder(cache=False))
    free = _fitted(SaveableHashingEncoder(cache=False), pressure_rule=False)
    ruled_meta, free_meta = (json.loads((m.save(tmp_path / name) / "stance.json").read_text("utf-8"))
                             for m, name in ((ruled, "ruled"), (free, "free")))
    assert ruled_meta["features"]["pressure_rule"] is True
    assert "pressure_rule" not in free_meta["features"]  # the ids of models saved before the rule stay theirs
    assert ruled_meta["id"] != free_meta["id"]
    loaded = load_model(tmp_path / "ruled", encoder=SaveableHashingEncoder())
    assert loaded.pressure_rule is True and (loaded.predict(PRESSED[:2]) == "none").all()
    assert load_model(tmp_path / "free", encoder=SaveableHashingEncoder()).pressure_rule is False


def test_a_loaded_model_whose_settings_change_scores_under_the_id_of_what_it_now_is(tmp_path):
    """Rules turned off on a loaded model changed its labels but kept the folder's id: its scores were recorded, and
    compared, as the saved model's."""
    from stance.errors import ValueInputError
    from stance.scoring import model_info

    folder = _fitted(SaveableHashingEncoder(cache=False)).save(tmp_path / "ruled")
    loaded = load_model(folder, encoder=SaveableHashingEncoder())
    saved_id = json.loads((folder / "stance.json").read_text("utf-8"))["id"]
    assert model_info(loaded)["id"] == saved_id[:16] and (loaded.predict(PRESSED[:2]) == "none").all()
    loaded.set_params(pressure_rule=True)  # the same value: still the saved model
    assert model_info(loaded)["id"] == saved_id[:16] and model_info(loaded)["path"] == str(folder)
    loaded.set_params(pressure_rule=False)
    changed = model_info(loaded)
    resaved = json.loads((loaded.save(tmp_path / "free") / "stance.json").read_text("utf-8"))["id"]
    assert changed["id"] != saved_id[:16] and changed["id"] == resaved[:16] and changed["path"] is None
    again = load_model(folder, encoder=SaveableHashingEncoder())
    again.actors = False  # what shapes the features, changed in memory: said so, not blamed on stance.json
    with pytest.raises(ValueInputError, match="changed after it was fitted; set it back, or fit again"):
        again.predict(PRESSED[:1])


def test_a_hand_set_rule_is_refused(tmp_path):
    from stance.errors import ModelIntegrityError

    folder = _fitted(SaveableHashingEncoder(cache=False), pressure_rule=False).save(tmp_path / "model")
    meta = json.loads((folder / "stance.json").read_text("utf-8"))
    meta["features"]["pressure_rule"] = "yes"
    write_metadata(folder, meta)
    with pytest.raises(ModelIntegrityError, match="pressure_rule.*true or false"):
        load_model(folder, encoder=SaveableHashingEncoder())


def test_the_rule_is_the_frozen_models(hashing_encoder):
    from conftest import one_error_line, run_stance
    from stance.train import make_model

    assert make_model(hashing_encoder, ["russia", "eu"]).pressure_rule is True  # the default, since 2026-12-06
    assert make_model(hashing_encoder, ["russia", "eu"], pressure_rule=False).pressure_rule is False
    assert not hasattr(make_model(hashing_encoder, ["russia", "eu"], fine_tune=True), "pressure_rule")
    with pytest.raises(ValueError, match="pressure rule"):
        make_model(hashing_encoder, ["russia", "eu"], fine_tune=True, pressure_rule=True)
    result = run_stance("train", "--fine-tune", "--pressure-rule")
    assert result.returncode != 0 and "--pressure-rule is the frozen model's" in one_error_line(result)
