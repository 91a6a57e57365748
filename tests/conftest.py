"""Shared fixtures: a tiny deterministic encoder for unit tests, the real model for integration."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

REPO = Path(__file__).resolve().parent.parent


class HashingEncoder(TransformerMixin, BaseEstimator):
    """Hashed bag of lowercased words, L2-normalised: deterministic and carries real signal."""

    def __init__(self, dim: int = 256):
        self.dim = dim

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        return tags

    def fit(self, X=None, y=None):
        return self

    def transform(self, X):
        out = np.zeros((len(X), self.dim), dtype=np.float32)
        for i, text in enumerate(X):
            for word in re.findall(r"\w+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1, norms)


FAVOR = ["Serbia deepens its friendship with Moscow.", "Belgrade refuses to sanction Russia again.",
         "Vucic praises Putin and signs a gas deal.", "Serbia stands with its Russian ally."]
AGAINST = ["Serbian shells reach Ukraine and anger Moscow.", "Belgrade cancels Russian arms contracts.",
           "Vucic says Crimea belongs to Ukraine, angering Russia.", "Serbia sells ammunition that ends in Kyiv."]
NONE = ["The weather in Belgrade was mild on Tuesday.", "Kosovo declared independence in 2008.",
        "The parade lasted two hours.", "Montenegro opened new chapters."]


def write_corpus(folder: Path, n_articles: int = 6, origin: str | None = None, prefix: str = "art") -> Path:
    """Write articles and a label file for a learnable synthetic task; returns the label file."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    for a in range(n_articles):
        lines = [FAVOR[a % 4], AGAINST[a % 4], NONE[a % 4], FAVOR[(a + 1) % 4], AGAINST[(a + 2) % 4],
                 NONE[(a + 3) % 4], "Sign up for our daily newsletter"]
        (folder / f"{prefix}{a}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
        for i, line in enumerate(lines):
            label = "favor" if line in FAVOR else "against" if line in AGAINST else "none"
            eu = "against" if "sanction" in line else "favor" if "chapters" in line else "none"
            row = {"article": f"{prefix}{a}", "sentence": i, "text": line, "russia": label, "eu": eu}
            if origin:
                row["origin"] = origin
            rows.append(row)
    path = folder / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="session", autouse=True)
def separate_embedding_cache(tmp_path_factory):
    """Keep the tests' embedding cache (and that of the commands they run) out of the user's."""
    path = tmp_path_factory.mktemp("cache") / "embeddings.sqlite"
    previous = os.environ.get("STANCE_CACHE")
    os.environ["STANCE_CACHE"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("STANCE_CACHE", None)
    else:
        os.environ["STANCE_CACHE"] = previous


def assert_rule_decides(ruled, free, decided, untouched) -> None:
    """A rule's sentences (``decided``) are none for certain with it and not without it; the rest keep the heads' probabilities."""
    assert (free.predict(decided) != "none").any(axis=1).all()  # the heads alone read the topic
    assert (ruled.predict(decided) == "none").all()
    for proba, classes in zip(ruled.predict_proba(decided), ruled.classes_):
        np.testing.assert_array_equal(proba, np.tile(classes == "none", (len(decided), 1)))
    for with_rule, without in zip(ruled.predict_proba(untouched), free.predict_proba(untouched)):
        np.testing.assert_array_equal(with_rule, without)


def _saveable_hashing_encoder():
    from stance.encoders.transformer import SentenceEncoder

    class SaveableHashingEncoder(SentenceEncoder):
        """A SentenceEncoder (so a model folder can hold it) whose vectors come from the hashing encoder."""

        sha256 = "0" * 64

        def transform(self, X):
            return HashingEncoder().transform(list(X))

    return SaveableHashingEncoder


SaveableHashingEncoder = _saveable_hashing_encoder()


@pytest.fixture
def hashing_encoder():
    return HashingEncoder()


@pytest.fixture
def synthetic_labels(tmp_path):
    return write_corpus(tmp_path / "corpus")


@pytest.fixture
def isolated_home(tmp_path, monkeypatch):
    """Per-user locations inside tmp_path, so tests never touch the real home."""
    home = tmp_path / "home"
    home.mkdir()
    for name in ("STANCE_MODEL", "XDG_DATA_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("STANCE_HOME", str(home / "stance"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return home


def stance_script() -> str:
    script = Path(sys.executable).with_name("stance")
    return str(script) if script.exists() else shutil.which("stance")


def one_error_line(result, code: int = 1, prefix: str = "error: ") -> str:
    """The one stderr line of a refused command: exit ``code``, no traceback, starting with ``prefix``.

    ``stance labels check`` names the file and line first, as a linter does: ``prefix=""``.
    """
    assert result.returncode == code, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(prefix), result.stderr
    return lines[0]


def write_metadata(folder: Path, meta: dict, *, older: bool = False) -> None:
    """Write a test's edit of a model's ``stance.json`` as stance would have saved it, sealed.

    ``older=True`` writes it as a format-3 file, saved before ``stance.json`` was sealed.
    """
    from stance.persist import SEAL_KEY, metadata_seal

    meta = {key: value for key, value in meta.items() if key != SEAL_KEY}
    if older:
        meta["format_version"] = 3
    else:
        meta[SEAL_KEY] = metadata_seal(meta)
    (Path(folder) / "stance.json").write_text(json.dumps(meta), encoding="utf-8")


def run_stance(*args, env=None, stdin=None, cwd=REPO, timeout=None):
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}
    return subprocess.run([stance_script(), *map(str, args)], capture_output=True, text=True,
                          env=full_env, input=stdin, cwd=cwd, timeout=timeout)


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """Train the real model once per session through the installed script."""
    root = tmp_path_factory.mktemp("trained")
    result = run_stance("train", "--out", root / "model", "--report-dir", root / "report")
    assert result.returncode == 0, result.stderr
    return {"model": root / "model", "report": root / "report", "stdout": result.stdout}


def make_scores(article: str, date: str | None, nets: dict, *, source: str | None = None, n: int = 4, model_id: str = "m1"):
    """An ArticleScores with ``n`` sentences whose per-target net equals ``nets[target]``."""
    from stance.scoring import ArticleScores

    sentences, summary = [], {}
    for i in range(n):
        row = {"index": i, "text": f"{article} sentence {i}."}
        for target, net in nets.items():
            favor, against = max(net, 0.0), max(-net, 0.0)
            proba = {"favor": favor, "against": against, "none": 1.0 - favor - against}
            row[target] = {"label": max(proba, key=proba.get), "proba": proba}
        sentences.append(row)
    for target, net in nets.items():
        counts = {k: sum(s[target]["label"] == k for s in sentences) for k in ("favor", "against", "none")}
        summary[target] = {**counts, "net": float(net)}
    return ArticleScores(article=article, date=date, model={"id": model_id}, sentences=sentences, summary=summary,
                         source=source, content_sha256=hashlib.sha256(article.encode()).hexdigest())


@pytest.hookimpl(tryfirst=True)  # before -m deselects by marker
def pytest_collection_modifyitems(items):
    """Mark every test of a ``tests/test_hostile_*.py`` file ``hostile`` (`pytest -m hostile` runs them all),
    and every test that uses ``trained`` ``integration``: it trains the real model, minutes that a quick
    ``-m "not integration"`` run must not spend."""
    for item in items:
        if item.path.name.startswith("test_hostile_"):
            item.add_marker(pytest.mark.hostile)
        if "trained" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.integration)
