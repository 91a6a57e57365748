"""The command line: errors for bad input, and the end-to-end path with the real model."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from stance.embed import DEFAULT_MODEL_SHA256
from stance.segment import read_article

from conftest import REPO, run_stance

SEED = REPO / "seeds" / "000_abad3842fbdbf470.txt"


def _one_error_line(result, code=1):
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_help_lists_commands_and_imports_no_torch():
    result = run_stance("--help")
    assert result.returncode == 0 and "train" in result.stdout and "score" in result.stdout
    check = "import sys, stance, stance.cli; assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check]).returncode == 0
    probe = ("import sys, runpy; sys.argv=['stance','--help']\n"
             "try:\n    runpy.run_module('stance.cli', run_name='__main__')\nexcept SystemExit: pass\n"
             "from stance.cli import app\ntry:\n    app()\nexcept SystemExit: pass\nassert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("dir", "is a directory"), (b"", "empty"), (b"\x00\x01", "binary"), (b"\xff\xfe\xfa", "not UTF-8")],
)
def test_bad_articles_get_one_line(tmp_path, isolated_home, content, message):
    path = tmp_path / "article.txt"
    if content == "dir":
        path = tmp_path
    elif content is not None:
        path.write_bytes(content)
    assert message in _one_error_line(run_stance("score", path))


def test_no_trained_model_yet(isolated_home):
    assert "stance train" in _one_error_line(run_stance("score", SEED))


def test_bad_date_is_a_usage_error(isolated_home):
    result = run_stance("score", SEED, "--date", "2025-02-30")
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr


def test_malformed_label_file_names_its_line(tmp_path, isolated_home):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"article": "a", "sentence": 0, "text": "x", "russia": "none", "eu": "none"}\n{oops\n')
    assert "bad.jsonl:2" in _one_error_line(run_stance("train", "--labels", path, "--out", tmp_path / "m"))


# --- integration: the real MiniLM --------------------------------------------------


@pytest.mark.integration
def test_train_beats_majority_and_writes_report(trained):
    metrics = json.loads((trained["report"] / "metrics.json").read_text())
    loao = metrics["evaluations"]["seed_loao"]
    assert loao["n_articles"] == 5
    for target in ("russia", "eu"):
        row = loao["targets"][target]
        assert row["model"]["macro_f1"] > row["majority"]["macro_f1"]
    assert (trained["report"] / "report.md").read_text().startswith("# Evaluation")
    meta = json.loads((trained["model"] / "stance.json").read_text())
    assert meta["encoder"]["sha256"] == DEFAULT_MODEL_SHA256
    assert meta["targets"] == ["russia", "eu"] and set(meta["classes"]["eu"]) == {"favor", "against", "none"}
    assert len(meta["head"]["sha256"]) == 64 and len(meta["training"]["labels_sha256"]) == 64
    assert meta["versions"]["scikit-learn"]


@pytest.mark.integration
def test_score_json_contract(trained):
    result = run_stance("score", SEED, REPO / "seeds" / "004_4ed33a92867c5dcf.txt", "--json", "--model", trained["model"],
                        "--date", "2025-11-04")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    doc = json.loads(lines[0])
    assert list(doc) == ["article", "date", "model", "sentences", "skipped", "summary"]
    assert doc["article"] == SEED.stem and doc["date"] == "2025-11-04"
    article = read_article(SEED)
    assert [s["index"] for s in doc["sentences"]] == [s.index for s in article.sentences]
    assert doc["skipped"] == [s.text for s in article.skipped]
    for target in ("russia", "eu"):
        for s in doc["sentences"]:
            assert set(s) == {"index", "text", "russia", "eu"}
            assert s[target]["label"] in ("favor", "against", "none")
            assert list(s[target]["proba"]) == ["favor", "against", "none"]
            assert sum(s[target]["proba"].values()) == pytest.approx(1.0, abs=1e-6)
        summary = doc["summary"][target]
        assert summary["favor"] + summary["against"] + summary["none"] == len(doc["sentences"])
        net = np.mean([s[target]["proba"]["favor"] - s[target]["proba"]["against"] for s in doc["sentences"]])
        assert summary["net"] == pytest.approx(net) and -1 <= summary["net"] <= 1


@pytest.mark.integration
def test_score_stdin_and_human_output(trained):
    result = run_stance("score", "-", "--json", "--model", trained["model"], stdin=SEED.read_text("utf-8"))
    doc = json.loads(result.stdout)
    assert doc["article"] == "-" and doc["date"] is None
    human = run_stance("score", SEED, "--model", trained["model"])
    assert human.returncode == 0
    assert "russia  favor" in human.stdout and "net " in human.stdout and "skipped: " in human.stdout


@pytest.mark.integration
@pytest.mark.parametrize("damage", ["flip head byte", "delete metadata", "garbage metadata", "foreign encoder"])
def test_damaged_model_folders_are_refused(trained, tmp_path, damage):
    model = tmp_path / "model"
    shutil.copytree(trained["model"], model)
    meta_path = model / "stance.json"
    if damage == "flip head byte":
        data = bytearray((model / "head.joblib").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (model / "head.joblib").write_bytes(bytes(data))
    elif damage == "delete metadata":
        meta_path.unlink()
    elif damage == "garbage metadata":
        meta_path.write_text("{not json")
    else:
        meta = json.loads(meta_path.read_text())
        meta["encoder"]["sha256"] = "0" * 64
        meta_path.write_text(json.dumps(meta))
    _one_error_line(run_stance("score", SEED, "--model", model))


@pytest.mark.integration
def test_tampered_encoder_weights_are_refused(tmp_path, monkeypatch):
    from stance.embed import SentenceEncoder, default_model_path
    from stance.errors import ModelIntegrityError

    copy = tmp_path / "minilm"
    shutil.copytree(default_model_path(), copy)
    with open(copy / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr("stance.embed.default_model_path", lambda: copy)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        SentenceEncoder().transform(["Serbia buys gas."])


@pytest.mark.integration
def test_saved_model_round_trip(trained):
    from stance.model import StanceClassifier

    first = StanceClassifier.load(trained["model"])
    second = StanceClassifier.load(trained["model"])
    texts = [s.text for s in read_article(SEED).sentences]
    for a, b in zip(first.predict_proba(texts), second.predict_proba(texts)):
        np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.integration
def test_readme_library_snippet_runs(trained, monkeypatch):
    readme = (REPO / "README.md").read_text("utf-8")
    snippet = readme.split("<!-- library-snippet -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("STANCE_MODEL", str(trained["model"]))
    monkeypatch.chdir(REPO)
    exec(compile(snippet, "README.md", "exec"), {})
