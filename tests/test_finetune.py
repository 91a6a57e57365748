"""Fine-tuning: the head arithmetic (fast) and the real MiniLM tuned on a few sentences (integration)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from stance.finetune import LinearHead, _class_weights, _warm_head
from stance.schema import STANCES

from conftest import AGAINST, FAVOR, NONE


def test_linear_head_is_a_softmax_over_its_classes():
    rng = np.random.default_rng(0)
    coef, intercept, X = rng.normal(size=(3, 5)), rng.normal(size=3), rng.normal(size=(4, 5))
    head = LinearHead(coef, intercept, STANCES)
    logits = X @ coef.T + intercept
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    assert head.predict_proba(X) == pytest.approx(expected)
    assert list(head.predict(X)) == [STANCES[i] for i in logits.argmax(axis=1)]


def test_warm_head_puts_classes_in_stance_order_and_keeps_a_missing_class_improbable():
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(loc=+2, size=(10, 4)), rng.normal(loc=-2, size=(10, 4))])
    y = np.array(["none"] * 10 + ["favor"] * 10)  # two classes only: sklearn keeps one coefficient row
    head, C = _warm_head(X, y, None, (1.0,), 5)
    assert list(head.classes_) == list(STANCES) and C == 1.0
    proba = head.predict_proba(X)
    assert (proba[:, STANCES.index("against")] < 1e-3).all()
    assert list(head.predict(X)) == list(y)


def test_class_weights_balance_the_labeled_rows_and_ignore_unlabeled():
    weights = _class_weights(np.array(["favor", "favor", "favor", "none", None], dtype=object))
    assert weights[STANCES.index("against")] == 0
    counts = {"favor": 3, "none": 1}
    for s, n in counts.items():  # each present class weighs the same in total
        assert weights[STANCES.index(s)] * n == pytest.approx(2.0)


# --- integration: the real encoder ----------------------------------------------------

TEXTS = FAVOR + AGAINST + NONE
Y = np.array([["favor", "none"]] * 4 + [["against", "none"]] * 4 + [["none", None]] * 4, dtype=object)


@pytest.fixture(scope="module")
def minilm():
    from stance.encoders.transformer import SentenceEncoder

    return SentenceEncoder(cache=False)


@pytest.mark.integration
def test_cached_lower_layers_plus_top_layers_equal_the_whole_encoder(minilm):
    import torch

    from stance import finetune as ft

    model = minilm._model()
    states = ft.lower_states(model, TEXTS, 4, 128)
    hidden, mask = ft._pad_states(states)
    with torch.no_grad():
        pooled = ft._pool(ft._run_layers(ft._transformer(model), ft._transformer(model).encoder.layer[4:], hidden, mask), mask).numpy()
    assert pooled == pytest.approx(minilm.transform(TEXTS), abs=1e-5)


@pytest.mark.integration
def test_fine_tuning_trains_only_the_top_layers_is_seeded_and_leaves_the_base_alone(minilm):
    import torch

    from stance.finetune import FineTunedClassifier, _transformer

    base = {k: v.clone() for k, v in _transformer(minilm._model()).state_dict().items()}
    first = FineTunedClassifier(encoder=minilm, epochs=3, layers=2).fit(TEXTS, Y)
    tuned = _transformer(first.encoder_.model).state_dict()
    changed = {k for k, v in tuned.items() if not torch.equal(v, base[k])}
    assert changed and all(k.startswith(("encoder.layer.4.", "encoder.layer.5.")) for k in changed)
    assert all(torch.equal(v, base[k]) for k, v in _transformer(minilm._model()).state_dict().items())
    again = FineTunedClassifier(encoder=minilm, epochs=3, layers=2).fit(TEXTS, Y)
    for a, b in zip(first.predict_proba(TEXTS), again.predict_proba(TEXTS)):
        assert a == pytest.approx(b, abs=1e-6)
    # the training labels are learnt better than by the frozen start (the eu column is mostly 'none')
    frozen = FineTunedClassifier(encoder=minilm, epochs=0).fit(TEXTS, Y)
    gold = np.array([STANCES.index(v) for v in Y[:, 0]])

    def loss(model):
        return -np.log(model.predict_proba(TEXTS)[0][np.arange(len(gold)), gold]).mean()

    assert loss(first) < loss(frozen)


@pytest.mark.integration
def test_a_fine_tuned_model_saves_its_weights_verifies_them_and_runs_in_onnx(minilm, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    from stance.errors import ModelIntegrityError
    from stance.finetune import FineTunedClassifier
    from stance.fileio import sha256_file
    from stance.model import load_model

    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "home"))
    model = FineTunedClassifier(encoder=minilm, epochs=2, temperature={"russia": 1.7}).fit(TEXTS, Y)
    expected = model.predict_proba(TEXTS)
    model.save(tmp_path / "model")
    meta = json.loads((tmp_path / "model" / "stance.json").read_text())
    weights = tmp_path / "model" / "encoder" / "model.safetensors"
    assert meta["encoder"]["kind"] == "fine-tuned" and meta["encoder"]["path"] == "encoder"
    assert meta["encoder"]["sha256"] == sha256_file(weights)
    assert meta["encoder"]["base"]["sha256"] == minilm.sha256
    assert meta["head"]["params"]["russia"]["temperature"] == pytest.approx(1.7)
    moved = tmp_path / "elsewhere"
    (tmp_path / "model").rename(moved)  # the encoder travels with the folder
    by_torch = load_model(moved, backend="torch")
    by_onnx = load_model(moved, backend="onnx")
    assert type(load_model(moved).encoder_).__name__ == "OnnxEncoder"  # auto takes onnxruntime
    vectors = by_torch.encoder_.transform(TEXTS)
    assert vectors == pytest.approx(model.encoder_.transform(TEXTS), abs=1e-6)
    assert by_onnx.encoder_.transform(TEXTS) == pytest.approx(vectors, abs=1e-5)
    for a, b, c in zip(expected, by_torch.predict_proba(TEXTS), by_onnx.predict_proba(TEXTS)):
        assert b == pytest.approx(a, abs=1e-6) and c == pytest.approx(a, abs=1e-4)
    # the fine-tuned encoder distills into a static model, as the bundled one does
    from stance.encoders.static import StaticEncoder, distill_static

    static = distill_static(tmp_path / "static", source=moved)
    vectors = StaticEncoder(model_path=static, cache=False).transform(TEXTS)
    assert vectors.shape[0] == len(TEXTS) and np.isfinite(vectors).all()
    weights = moved / "encoder" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError, match="built for encoder"):
        load_model(moved, backend="torch")
    with pytest.raises(ModelIntegrityError, match="differ from the SHA-256"):
        distill_static(tmp_path / "static2", source=moved)


def test_a_target_with_one_class_gets_a_head_that_always_says_it():
    head, _ = _warm_head(np.ones((3, 4)), np.array(["none"] * 3), None, (1.0,), 5)
    assert list(head.predict(np.random.default_rng(0).normal(size=(5, 4)))) == ["none"] * 5


@pytest.mark.integration
def test_stance_train_fine_tune_saves_a_model_that_scores_without_torch(tmp_path):
    from conftest import run_stance, write_corpus

    labels = write_corpus(tmp_path / "corpus", n_articles=5)
    env = {"STANCE_HOME": str(tmp_path / "home"), "STANCE_CACHE": "off"}
    trained = run_stance("train", "--fine-tune", "--labels", labels, "--articles", tmp_path / "corpus",
                         "--out", tmp_path / "model", "--report-dir", tmp_path / "report", env=env)
    assert trained.returncode == 0, trained.stderr
    meta = json.loads((tmp_path / "model" / "stance.json").read_text())
    assert meta["encoder"]["kind"] == "fine-tuned"
    assert {meta["head"]["params"][t]["layers"] for t in ("russia", "eu")} == {2}
    # the graph was exported at training time, so scoring (default backend) needs no torch
    from stance.encoders.transformer import encoder_identity

    identity = encoder_identity(tmp_path / "model" / meta["encoder"]["path"])
    assert identity.startswith(meta["encoder"]["sha256"] + ".")
    assert (tmp_path / "home" / "onnx" / identity / "model.onnx").is_file()
    rows = [json.loads(line) for line in (tmp_path / "report" / "predictions.jsonl").read_text().splitlines()]
    assert {r["article"] for r in rows} == {f"art{i}" for i in range(5)}
    article = tmp_path / "corpus" / "art0.txt"
    code = ("import sys\nfrom stance.model import load_model\nfrom stance.scoring import score_article\n"
            "from stance.segment import read_article\n"
            f"r = score_article(load_model({str(tmp_path / 'model')!r}), read_article({str(article)!r}))\n"
            "print(len(r.sentences), type(r.model).__name__, 'torch' in sys.modules)")
    import os
    import subprocess
    import sys

    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, **env, "HF_HUB_OFFLINE": "1"})
    assert check.stdout.split() == ["6", "dict", "False"], check.stderr
