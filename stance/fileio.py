"""Small file helpers: atomic writes, writes that land together, modes that follow the umask, and content hashes."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from stance.paths import link_target, require_replaceable, write_error


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


def keep_mode(target: int | str | Path, replaced: str | Path) -> None:
    """Give the new file ``target`` (a descriptor or path) the permissions of the file it will replace, so
    that a private file stays private; a file that is new gets the umask's (:func:`follow_umask`).

    Set once the new file is written, since a read-only mode would bar writing it by path.
    """
    try:
        mode = os.stat(replaced).st_mode & 0o777
    except OSError:
        follow_umask(target)
    else:
        os.chmod(target, mode)


#: A leftover must be this many seconds old before it is removed, so that a writer on another
#: machine sharing the folder (whose process number means nothing here) is left alone while it works.
LEFTOVER_AGE = 600.0


def temp_prefix(path: str | Path, tag: str) -> str:
    """``.NAME.PID.TAG-``: the name start of a temporary beside ``path`` that says which process owns it."""
    return f".{Path(path).name}.{os.getpid()}.{tag}-"


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):  # another user's process, or not a number we can ask about: keep
        return True
    return True


def sweep_leftovers(folder: str | Path, name: str = r"[^/]+", min_age: float = LEFTOVER_AGE) -> list[Path]:
    """Remove the temporaries that writers killed before cleaning up (SIGKILL, power loss) left in ``folder``.

    A leftover is named as :func:`temp_prefix` names it, for a file whose name matches the regular
    expression ``name``, by a process that is no longer running, and was last changed at least
    ``min_age`` seconds ago. A retired copy (tag ``old``) stays while nothing has replaced it.
    Returns what was removed; failures to remove are ignored.
    """
    pattern = re.compile(rf"^\.(?P<name>{name})\.(?P<pid>\d+)\.(?P<tag>tmp|old|new)-")
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = pattern.match(entry.name)
        if not match or int(match["pid"]) == os.getpid() or _running(int(match["pid"])):
            continue
        if match["tag"] == "old" and not os.path.lexists(os.path.join(folder, match["name"])):
            continue  # killed between retiring the old copy and moving the new one in: the old one is all there is
        try:
            if now - entry.stat(follow_symlinks=False).st_mtime < min_age:
                continue
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
        except OSError:
            continue
        removed.append(Path(entry.path))
    return removed


def _swept_prefix(path: Path, tag: str) -> str:
    """:func:`temp_prefix` for a new temporary, once the leftovers of ``path``'s name are swept."""
    sweep_leftovers(path.parent, re.escape(path.name))
    return temp_prefix(path, tag)


def temp_file_beside(path: str | Path, tag: str = "tmp") -> tuple[int, str]:
    """``tempfile.mkstemp`` beside ``path``, named for its owner, after sweeping leftovers of ``path``'s name.

    The temporary file is to replace ``path``: a FIFO or a device there is refused, never replaced.
    """
    path = Path(path)
    require_replaceable(path)
    return tempfile.mkstemp(dir=path.parent, prefix=_swept_prefix(path, tag))


def make_temp_dir(path: str | Path, tag: str = "tmp") -> Path:
    """A folder beside ``path`` (renamed into place later), named as :func:`temp_file_beside` names
    files, its mode following the umask; beside the folder a symbolic link points to, as
    :func:`replace_folder` replaces that one."""
    path = link_target(path)
    folder = Path(tempfile.mkdtemp(dir=path.parent, prefix=_swept_prefix(path, tag)))
    follow_umask(folder, folder=True)
    return folder


def exchange_paths(first: str | Path, second: str | Path) -> bool:
    """Swap two paths in one step (Linux ``renameat2`` with ``RENAME_EXCHANGE``): no instant holds
    neither. False, with nothing moved, where the system, the file system or a sandbox cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a C library without it
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_cwd, rename_exchange = -100, 2
    # any failure (no support, a seccomp filter's EPERM) leaves both in place: the caller's two renames
    # then run, and say what is wrong if something is
    return renameat2(at_cwd, os.fsencode(first), at_cwd, os.fsencode(second), rename_exchange) == 0


def replace_folder(staging: str | Path, path: str | Path) -> None:
    """Put the folder ``staging`` at ``path``, so that readers see the old folder or the new one.

    Where the system can, the two are swapped in one step and the old folder, now
    at ``staging``, is removed: a process killed at any instant leaves one of them at
    ``path``. Elsewhere the old folder is moved aside first (a sweep keeps it while
    nothing stands at ``path``) and removed once the new one is in place. A symbolic
    link is written through: the folder it points to is replaced and the link kept
    (``staging`` made by :func:`make_temp_dir` lies beside that folder).
    """
    staging, path = Path(staging), link_target(path)
    if not path.exists():
        os.replace(staging, path)
        return
    if path.is_dir() and exchange_paths(staging, path):
        shutil.rmtree(staging, ignore_errors=True)  # the old folder; a kill before this leaves it to the sweep
        return
    retired = make_temp_dir(path, "old")
    os.replace(path, retired / path.name)
    os.replace(staging, path)
    shutil.rmtree(retired, ignore_errors=True)


@contextlib.contextmanager
def writes_that_land_together(what: str):
    """Hold Ctrl-C and SIGTERM back until the writes inside are all done, then let the first one act.

    Each file is written atomically, but some belong together (a model and the report
    made of its evaluation): a stop between them would leave the new one beside the
    old other. A stop asked for inside is told, once, that ``what`` is being finished;
    once the writes end, it acts as it would have (the command stops, exit 130). Only
    the main thread can hold signals; elsewhere this does nothing (and SIGKILL it cannot hold).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    held = {sig: signal.getsignal(sig) for sig in signals}
    received: list[int] = []

    def hold(signum, frame):
        if not received:
            received.append(signum)
            with contextlib.suppress(Exception):  # a closed or broken stderr must not break the writes
                sys.stderr.write(f"stopping: finishing {what} first, so that they stay together\n")
                sys.stderr.flush()

    for sig, handler in held.items():
        if handler not in (signal.SIG_IGN, None):
            signal.signal(sig, hold)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, signals)  # no signal between two restored handlers
        try:
            for sig, handler in held.items():
                if handler is not None:
                    signal.signal(sig, handler)
        finally:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
    if received:
        signal.raise_signal(received[0])  # to the handler it was held from


def through_link(path: str | Path) -> Path:
    """``path``, or the file its symbolic link points to: the write replaces that file and keeps the link.

    A FIFO or a device there, link or not, is refused under the name given.
    """
    require_replaceable(path)
    return link_target(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write a file through a fsynced temporary file and ``os.replace``.

    A crash leaves either the old file or the new one, never a torn one. A
    replaced file keeps its mode; a new one's follows the umask. An OSError (disk full, permission) becomes
    a one-line :class:`~stance.paths.OutputPathError`. A symbolic link is written through.
    """
    given, path = Path(path), through_link(path)
    try:
        if path != given and not path.parent.is_dir():  # folders are made for the path given, never for a link's
            raise FileNotFoundError(2, "a symbolic link into a folder that does not exist", str(given))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(path)
    except OSError as err:
        raise write_error(path, err) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            keep_mode(handle.fileno(), path)
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


#: A JSON escape of a surrogate (``\\ud800``-``\\udfff``): the only way a JSON line can spell half a pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")


def holds_lone_surrogate(value, line: str | bytes) -> bool:
    """Whether ``value``, parsed from the JSON ``line``, holds half a surrogate pair, which no UTF-8 file,
    table or database can; the line is searched first, so that a line without such an escape costs little."""
    if not (_SURROGATE_ESCAPE_BYTES if isinstance(line, bytes) else _SURROGATE_ESCAPE).search(line):
        return False
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


class UnreadableJSON(json.JSONDecodeError):
    """Valid JSON syntax Python cannot read: nested too deeply, or a number of too many digits."""


def read_at_most(path: str | Path, limit: int) -> bytes | None:
    """A small file's bytes, or None when it holds more than ``limit``: read bounded whatever its size
    says (it may grow while it is read), so that a huge file given by mistake is never read whole."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    return None if len(data) > limit else data


def _unique_keys(pairs: list[tuple[str, object]]) -> dict:
    """An object's members as a dict, or :class:`UnreadableJSON` for a key given twice: Python keeps the
    last value silently, so a row that says ``"russia": "favor"`` and then ``"russia": "none"`` would be
    read as one of the two unasked."""
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen = set()
        key = next(k for k, _ in pairs if k in seen or seen.add(k))
        raise UnreadableJSON(f"the key {key!r} given twice in one object", "", 0)
    return obj


#: One decoder for every line: ``json.loads`` with a hook would build a decoder per call.
_DECODER = json.JSONDecoder(object_pairs_hook=_unique_keys)


def parse_json(text: str | bytes):
    """``json.loads`` whose every failure is a :class:`json.JSONDecodeError` with a short ``msg``.

    Besides broken syntax, a document nested too deeply for Python's parser
    (``RecursionError``), a number of more digits than Python converts
    (``ValueError``) and an object that gives one key twice fail this way, as an
    :class:`UnreadableJSON` (whose position means nothing), so that a reader
    reports them as it reports any line that is not valid JSON, naming the file
    and line, never with a traceback.
    """
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8")
    try:
        if text.startswith("\ufeff"):
            return json.loads(text)  # refused there, as a byte-order mark the caller should have dropped
        return _DECODER.decode(text)
    except json.JSONDecodeError:
        raise
    except RecursionError:
        raise UnreadableJSON("nested too deeply", text, 0) from None
    except ValueError as err:  # an integer of more than sys.get_int_max_str_digits() digits
        raise UnreadableJSON(f"a number of more than {sys.get_int_max_str_digits()} digits", text, 0) from None
