"""Small file helpers: atomic writes, modes that follow the umask, and content hashes."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from stance.paths import write_error


def current_umask() -> int:
    """The process umask, read without changing it where the system tells it (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def follow_umask(target: int | str | Path, folder: bool = False) -> None:
    """Give a file or folder made by ``tempfile`` (mode 0600 / 0700) the mode a plain ``open``
    or ``mkdir`` would have given it, so that output is shared as the umask says.

    ``target`` is a path or an open file descriptor.
    """
    os.chmod(target, (0o777 if folder else 0o666) & ~current_umask())


def make_temp_dir(parent: str | Path, prefix: str) -> Path:
    """``tempfile.mkdtemp`` in ``parent``, its mode following the umask (a folder renamed into place)."""
    folder = Path(tempfile.mkdtemp(dir=parent, prefix=prefix))
    follow_umask(folder, folder=True)
    return folder


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file through a fsynced temporary file and ``os.replace``.

    A crash leaves either the old file or the new one, never a torn one. The
    file's mode follows the umask. An OSError (disk full, permission) becomes
    a one-line :class:`~stance.paths.OutputPathError`.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as err:
        raise write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            follow_umask(handle.fileno())
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except OSError as err:
        Path(tmp).unlink(missing_ok=True)
        raise write_error(path, err) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """UTF-8 text version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()
