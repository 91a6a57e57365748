"""What an encoder's vectors are filed under: its weights and its settings, as loaded (the real MiniLM)."""

from __future__ import annotations

import json
import os
import shutil

import numpy as np
import pytest

from stance.encoders.transformer import SentenceEncoder, default_model_path, encoder_identity, settings_sha256
from stance.errors import ModelIntegrityError, StanceWarning

pytestmark = pytest.mark.integration

TEXTS = ["Serbia buys Russian gas while Belgrade keeps talking to Brussels about membership.",
         "The Kremlin praised the agreement."]


def _copy(tmp_path, name: str):
    folder = tmp_path / name
    shutil.copytree(default_model_path(), folder)
    return folder


def _cls_pooling(folder):
    """The same weights, pooled from the first token instead of the mean: other vectors."""
    config = folder / "1_Pooling" / "config.json"
    settings = json.loads(config.read_text())
    settings.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    config.write_text(json.dumps(settings))
    return folder


def _nan_weights(folder):
    from safetensors.numpy import load_file, save_file

    weights = load_file(folder / "model.safetensors")
    name = next(k for k in weights if "word_embeddings" in k)
    weights[name] = np.full_like(weights[name], np.nan)
    save_file(weights, folder / "new.safetensors")
    os.replace(folder / "new.safetensors", folder / "model.safetensors")  # as a save replaces it


def test_the_same_weights_with_other_settings_get_their_own_vectors_and_export(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "home"))
    cache = tmp_path / "cache.sqlite"
    cls = _cls_pooling(_copy(tmp_path, "cls"))
    bundled = SentenceEncoder(cache=cache).transform(TEXTS)  # fills the cache first
    from_cache = SentenceEncoder(model_path=cls, cache=cache).transform(TEXTS)
    truth = SentenceEncoder(model_path=cls, cache=False).transform(TEXTS)
    np.testing.assert_array_equal(from_cache, truth)
    assert np.abs(truth - bundled).max() > 0.1
    assert encoder_identity(cls) != encoder_identity(default_model_path())
    assert encoder_identity(cls).split(".")[0] == SentenceEncoder().sha256  # same weights, told apart by settings
    from stance.encoders.onnx import OnnxEncoder, onnx_path

    assert onnx_path(OnnxEncoder(model_path=cls).identity) != onnx_path(OnnxEncoder().identity)


def test_an_encoder_drops_its_model_when_given_another_or_when_the_weights_are_replaced(tmp_path):
    cache = tmp_path / "cache.sqlite"
    cls = _cls_pooling(_copy(tmp_path, "cls"))
    encoder = SentenceEncoder(cache=cache)
    encoder.transform(["warm up"])
    encoder.set_params(model_path=cls)
    np.testing.assert_array_equal(encoder.transform(TEXTS), SentenceEncoder(model_path=cls, cache=False).transform(TEXTS))
    _nan_weights(cls)  # while the encoder holds the old model: the new file is read, and its NaN refused
    with pytest.raises(ModelIntegrityError, match="vectors that are not numbers.*weights are damaged"):
        encoder.transform(["A sentence not seen before."])
    with pytest.raises(ModelIntegrityError, match="not numbers"):  # nothing was cached for the damaged weights
        SentenceEncoder(model_path=cls, cache=cache).transform(["A sentence not seen before."])


def test_a_model_refuses_an_encoder_folder_with_the_same_weights_but_other_settings(trained, tmp_path):
    from stance.model import load_model

    meta = json.loads((trained["model"] / "stance.json").read_text())
    assert meta["encoder"]["settings_sha256"] == settings_sha256(default_model_path())
    cls = _cls_pooling(_copy(tmp_path, "cls"))
    with pytest.raises(ModelIntegrityError, match="with other settings than .* has .*pooling"):
        load_model(trained["model"], encoder=SentenceEncoder(model_path=cls))
    assert load_model(trained["model"], encoder=SentenceEncoder(model_path=_copy(tmp_path, "same"))).targets_


def test_a_cache_that_cannot_be_made_is_gone_without_said_once(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    encoder = SentenceEncoder(cache=tmp_path / "file" / "cache.sqlite")
    with pytest.warns(StanceWarning, match="embedding cache cannot be made.*going on without it"):
        vectors = encoder.transform(TEXTS)
    np.testing.assert_array_equal(vectors, SentenceEncoder(cache=False).transform(TEXTS))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", StanceWarning)  # said once, not at each call
        encoder.transform(["Another sentence."])


def test_a_loaded_model_refuses_to_go_on_when_its_encoder_files_change(trained, tmp_path):
    from stance.model import load_model

    folder = _copy(tmp_path, "mine")
    model = load_model(trained["model"], encoder=SentenceEncoder(model_path=folder, cache=False))
    before = model.predict_proba(TEXTS)
    _cls_pooling(folder)  # the heads were fitted to mean-pooled vectors
    with pytest.raises(ModelIntegrityError, match="files changed since the model was loaded.*load the model again"):
        model.predict_proba(TEXTS)
    assert model.encoder_.model_path == folder
    again = load_model(trained["model"], encoder=SentenceEncoder(model_path=_copy(tmp_path, "same"), cache=False))
    np.testing.assert_allclose(again.predict_proba(TEXTS)[0], before[0], atol=1e-6)


def test_files_beside_the_settings_do_not_change_an_encoders_identity(tmp_path):
    folder = _copy(tmp_path, "mine")
    before = encoder_identity(folder)
    (folder / "notes.txt").write_text("fine-tuned on Tuesday\n")
    (folder / "checkpoints" / "step-10").mkdir(parents=True)
    (folder / "checkpoints" / "step-10" / "trainer_state.json").write_text("{}")
    assert encoder_identity(folder) == before
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 32, "do_lower_case": False}))
    assert encoder_identity(folder) != before


def test_a_command_goes_on_without_a_cache_it_cannot_make(trained, tmp_path):
    from conftest import REPO, run_stance

    (tmp_path / "file").write_text("not a folder")
    seed = REPO / "seeds" / "000_abad3842fbdbf470.txt"
    result = run_stance("score", seed, "--json", "--model", trained["model"],
                        env={"STANCE_CACHE": str(tmp_path / "file" / "cache.sqlite")})
    assert result.returncode == 0, result.stderr
    assert result.stderr.count("going on without it") == 1, result.stderr
    uncached = run_stance("score", seed, "--json", "--model", trained["model"], env={"STANCE_CACHE": "off"})
    assert result.stdout == uncached.stdout
