"""Per-user locations (XDG where set, HOME otherwise), and the check that an output path can be written."""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from pathlib import Path

from stance.errors import StanceError
from stance.segment import file_kind


def data_home() -> Path:
    """Root of everything `stance` keeps per user (``$STANCE_HOME`` wins)."""
    if os.environ.get("STANCE_HOME"):
        return Path(os.environ["STANCE_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "stance"


def default_model_dir() -> Path:
    """Where `stance train` saves and `stance score` looks (``$STANCE_MODEL`` wins)."""
    if os.environ.get("STANCE_MODEL"):
        return Path(os.environ["STANCE_MODEL"]).expanduser()
    return data_home() / "model"


class OutputPathError(StanceError):
    """An output path cannot be written; the message names the option and the path."""


def given_path(value, what: str, advice: str) -> Path:
    """``value`` as a Path, or InputError when it is none: not a str or path, or empty (which would mean "here")."""
    from stance.errors import InputError

    if not isinstance(value, (str, os.PathLike)) or not os.fspath(value) or not str(os.fspath(value)).strip():
        raise InputError(f"{what} {value!r}: is not a path; {advice}")
    if "\0" in str(os.fspath(value)):  # no file system takes it, and os raises ValueError
        raise InputError(f"{what} {value!r}: holds a NUL character, which no path can; {advice}")
    return Path(value)


def refuse_repeated_paths(paths, what: str, error: type, why: str = "") -> None:
    """``error`` for a path given more than once, by whatever name (``./a.csv`` and ``a.csv``): its
    articles or rows would be read twice, and clash with themselves."""
    seen: dict = {}
    for path in paths:
        first = seen.setdefault(_identity(path), path)
        if first is not path:
            same = f" ({first} is the same)" if os.fspath(first) != os.fspath(path) else ""
            raise error(f"{path} is given more than once; give each {what} once{why}{same}")


def same_file(first, second) -> bool:
    """Whether two paths name one file by any name: a symbolic or a hard link too (by :func:`_identity`)."""
    return _identity(first) == _identity(second)


def _identity(path) -> tuple | str:
    """A file or folder by device and inode, so that a hard link is the same; its real path where it cannot
    be read (a link loop resolves to itself, and is read, and named, later)."""
    try:
        st = os.stat(path)
    except OSError:
        return os.path.realpath(path)
    except ValueError:  # a NUL in the name: refused where it is opened
        return str(path)
    return st.st_dev, st.st_ino


def require_utf8_path(path: str | Path, what: str) -> None:
    """Refuse, before any work, a path whose name is not UTF-8 where Parquet files are read or written:
    pyarrow takes only text paths, and would fail after the work is done."""
    from stance.errors import InputError

    try:
        os.fspath(Path(path).absolute()).encode("utf-8")
    except UnicodeEncodeError:
        shown = os.fsencode(Path(path).absolute()).decode("utf-8", "backslashreplace")
        raise InputError(f"{what} {shown}: its path is not UTF-8, and Parquet files cannot be read or written "
                         "there; rename the folder, or choose another path") from None


#: The longest output name: a file is written as ``.NAME.PID.TAG-XXXXXXXX`` beside it first, and a
#: name holds at most 255 bytes.
MAX_NAME_BYTES = 224


def check_writable(path: str | Path, what: str, folder: bool = False, replaced: bool = False,
                   append: bool = False, ours=None) -> Path:
    """Refuse an output path that cannot be written, before any long work is done.

    ``folder``: ``path`` is a folder written into (else a file). ``replaced``: the
    folder is swapped in whole beside itself, so its parent must be writable too.
    ``ours`` (a function of a path, true for what this command writes): a non-empty
    folder or file it does not recognise is refused, since replacing it would lose what
    it holds. ``append``: an existing file is appended to, so it must be writable
    itself. Returns the path, ``~`` expanded.
    """
    path = Path(path).expanduser()
    beside = not append and (replaced or not folder)  # written as a temporary beside it, then renamed
    if beside and len(os.fsencode(path.name)) > MAX_NAME_BYTES:
        raise OutputPathError(f"{what} {path.name[:40]}…: a name of {len(os.fsencode(path.name))} bytes leaves no "
                              f"room for the temporary written beside it; give a name of at most {MAX_NAME_BYTES} bytes")
    if os.path.islink(path) and not os.path.exists(path) and is_link_loop(path):
        raise OutputPathError(f"{what} {path}: is a loop of symbolic links; remove the link or choose another path")
    if folder and os.path.lexists(path) and not os.path.isdir(path):
        if os.path.islink(path) and not os.path.exists(path):
            raise OutputPathError(f"{what} {path}: is a symbolic link to {os.readlink(path)}, which does not exist; "
                                  "make that folder, or give another path")
        raise OutputPathError(f"{what} {path}: is {special_file(path) or 'a file'}, not a folder; give a folder path")
    try:
        if folder:
            foreign = ours is not None and os.path.isdir(path) and any(path.iterdir()) and not ours(path)
        else:
            foreign = ours is not None and os.path.isfile(path) and os.path.getsize(path) > 0 and not ours(path)
    except OSError as err:
        raise OutputPathError(f"{what} {path}: cannot be read ({err.strerror or err}); choose another path") from None
    if foreign and folder:
        raise OutputPathError(f"{what} {path}: holds files that replacing it would delete; "
                              "choose an empty or new folder, or remove it")
    if foreign:
        raise OutputPathError(f"{what} {path}: is a file this command did not write, and replacing it would lose it; "
                              "choose another path, or remove the file first")
    if not folder and os.path.isdir(path):
        raise OutputPathError(f"{what} {path}: is a folder; give a file path")
    lands = link_target(path)  # a symbolic link is written through
    held = results_folder_around(lands.parent)
    if held is not None:
        raise OutputPathError(f"{what} {path}: lies in the results folder {held}, whose every file is read as a part "
                              "of its table; write it elsewhere")
    if not folder and os.path.islink(path) and not os.path.lexists(lands.parent):  # one that is a file is named below
        raise OutputPathError(f"{what} {path}: is a symbolic link to {os.readlink(path)}, whose folder does not "
                              "exist; make that folder, or give another path")
    if folder:
        places = [lands.parent] if replaced else [path]
    else:
        require_replaceable(path, what)
        places = [] if append and os.path.isfile(path) else [lands.parent]  # appended to in place: only it is written
    if replaced and os.path.isdir(lands):
        places.append(lands)  # moving a folder to another parent rewrites its ".." entry
        if os.path.ismount(lands):
            raise OutputPathError(f"{what} {path}: is a mount point, which cannot be replaced whole; give a folder "
                                  "inside it")
        if lies_within(os.path.realpath(os.getcwd()), os.path.realpath(lands)):
            raise OutputPathError(f"{what} {path}: is the working folder or holds it, and is replaced whole; give "
                                  "the path of a folder beside or inside it")
    for place in places:
        problem = folder_problem(place)
        if problem is not None:
            raise OutputPathError(f"{what} {path}: {problem}; choose another path")
    if append and os.path.isfile(path) and not os.access(path, os.W_OK):
        raise OutputPathError(f"{what} {path}: the file is not writable ({denied_because(path)}); choose another path")
    return path


_PART_NAME = re.compile(r"part-[0-9]+\.parquet")  # as stance.results.ResultsFolder names its parts


def results_folder_around(place: str | Path) -> Path | None:
    """The folder at or above ``place`` (links followed) that holds ``part-*.parquet`` files: a results folder,
    every file of which, in subfolders too, a reader of it as one table (``pandas.read_parquet(FOLDER)``) reads."""
    folder = Path(os.path.realpath(Path(place).expanduser()))
    for candidate in (folder, *folder.parents):
        try:
            with os.scandir(candidate) as entries:
                if any(_PART_NAME.fullmatch(e.name) for e in entries):
                    return candidate
        except OSError:  # a folder not there yet, or not readable: none to protect
            continue
    return None


def not_a_file(path: str | Path) -> str:
    """Why a file that is needed is not one: missing, or what stands in its place (said as "is ...")."""
    if not os.path.lexists(path):
        return "missing"
    if os.path.isdir(path):
        return "is a folder, not a file"
    kind = special_file(path)  # links followed: a link to a FIFO or a device is told as what it leads to
    if kind:
        return f"is a symbolic link to {kind}, not to a regular file" if os.path.islink(path) else f"is {kind}, not a regular file"
    return broken_link(path) or "changed while it was read"


def special_file(path: str | Path) -> str | None:
    """What ``path`` is when it exists, links followed, as neither a regular file nor a folder; else None.

    Writing a file means replacing it: a FIFO or a device (``/dev/null``, as root
    too) would be swapped for a plain file, and appending to a FIFO would block.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else file_kind(mode)


def link_target(path: str | Path) -> Path:
    """Where a file written to ``path`` lands: the file a symbolic link points to, else ``path`` itself."""
    path = Path(path)
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def refuse_overwriting(path: str | Path, what: str, inputs) -> None:
    """Refuse an output that would replace what the same command reads: one of ``inputs``, or a file in one that is a folder.

    Written atomically, such an output would still swap the input for itself: a history
    database, a results part or a run's predictions, gone once the command succeeds.
    """
    lands = Path(os.path.realpath(Path(path).expanduser()))
    for source in inputs:
        if source is None:
            continue
        read = Path(os.path.realpath(Path(source).expanduser()))
        if lands == read or (os.path.isdir(read) and read in lands.parents):
            raise OutputPathError(f"{what} {path}: would overwrite {source}, which this command reads; "
                                  "choose another path")


def lies_within(place: str, folder: str) -> bool:
    """Whether ``place`` is ``folder`` or lies below it, both as given (resolve them first to follow links)."""
    return place == folder or place.startswith(folder.rstrip(os.sep) + os.sep)


def refuse_holding(folder: str | Path, what: str, inputs) -> None:
    """Refuse an output folder, replaced whole, that holds (or is) one of ``inputs``: saving would delete what it reads."""
    lands = Path(os.path.realpath(Path(folder).expanduser()))
    for source in inputs:
        read = Path(os.path.realpath(Path(source).expanduser()))
        if read == lands or lands in read.parents:
            raise OutputPathError(f"{what} {folder}: holds {source}, which this command reads, and saving would "
                                  "delete it; choose another folder")


def require_replaceable(path: str | Path, what: str = "") -> None:
    """Refuse, in one line, to write a file over a FIFO, socket or device (see :func:`special_file`)."""
    if kind := special_file(path):
        raise OutputPathError(f"{what + ' ' if what else ''}{path}: is {kind}, not a regular file; give a file path")


def folder_problem(place: Path) -> str | None:
    """Why ``place`` (a folder, or where one would be made) cannot be written in, or None."""
    if (blocked := broken_link(place)) is not None:  # else the walk up passes a dangling link as "not there yet"
        return blocked if blocked.startswith("lies in") else f"{place} {blocked}"
    existing = place
    while not os.path.exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"cannot write in {existing} ({denied_because(existing)})"
    try:  # root passes the access check everywhere, and /proc or /sys refuse only an actual write
        os.rmdir(tempfile.mkdtemp(prefix=".stance-check-", dir=existing))
    except OSError as err:
        return f"cannot write in {existing} ({err.strerror or err})"
    return None


def broken_link(path: str | Path) -> str | None:
    """What keeps a path from existing when something stands in its way (so that it is never called
    "missing"): the path, or the deepest part above it that is there, is a loop of links or a link that
    leads to nothing, or a file where a folder would be; None when nothing is in the way."""
    there = next((p for p in (Path(path), *Path(path).parents) if os.path.lexists(p)), None)
    if there is None or there == Path(path) and not os.path.islink(there):
        return None
    where = "is" if there == Path(path) else f"lies in {there},"
    if os.path.exists(there):
        return None if os.path.isdir(there) else f"{where} a file, not a folder"
    if is_link_loop(there):
        return f"{where} a loop of symbolic links"
    return f"{where} a symbolic link to {os.readlink(there)}, which leads to no file or folder"


def is_link_loop(path: str | Path) -> bool:
    """Whether following ``path`` goes round a loop of symbolic links."""
    try:
        os.stat(path)
    except OSError as err:
        return err.errno == errno.ELOOP
    return False


def denied_because(place: str | Path) -> str:
    """Why ``os.access`` refused a write in ``place``: a read-only mount reads as denied too."""
    try:
        read_only = bool(os.statvfs(place).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    return "a read-only file system" if read_only else "permission denied"


#: The first bytes of every PNG file.
PNG_START = b"\x89PNG\r\n\x1a\n"


#: The ``Software`` text of the charts stance draws, and of Matplotlib's, which drew them before they were signed.
CHART_SOFTWARE = "stance"
_CHART_MARKS = (b"tEXtSoftware\x00" + CHART_SOFTWARE.encode(), b"tEXtSoftware\x00Matplotlib")


def is_chart(path) -> bool:
    """An ``ours`` test for :func:`check_writable`: a PNG chart stance drew (a user's photo or screenshot is not)."""
    with open(path, "rb") as handle:
        head = handle.read(1 << 16)
    return head.startswith(PNG_START) and any(mark in head for mark in _CHART_MARKS)


def starts_with(prefix: str | bytes):
    """An ``ours`` test for :func:`check_writable`: a file that begins with ``prefix`` (a page's, a PNG's)."""
    start = prefix.encode("utf-8") if isinstance(prefix, str) else prefix

    def test(path) -> bool:
        with open(path, "rb") as handle:
            return handle.read(len(start)) == start
    return test


def write_error(path: str | Path, err: OSError, what: str = "cannot write",
                fix: str = "choose another path") -> OutputPathError:
    """A one-line error for an OSError met while writing ``path`` (disk full, permission...)."""
    reason = err.strerror or str(err)
    hint = "free disk space" if err.errno in (errno.ENOSPC, errno.EDQUOT) else "check the path and its permissions"
    return OutputPathError(f"{what} {path}: {reason}; {hint}, or {fix}")
