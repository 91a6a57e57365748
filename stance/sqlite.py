"""SQLite shared by several processes: WAL, writers that take the lock up front, retry when busy.

:func:`peek` and :func:`connect_readonly` read a file without writing a byte
or leaving a ``-wal``/``-shm`` file behind, so that a file can be looked at
before it is trusted, and read where nothing may be written.
"""

from __future__ import annotations

import math
import os
import random
import sqlite3
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from stance.errors import InputError, StanceWarning

__all__ = ["HEADER", "Peek", "connect", "connect_reader", "connect_readonly", "is_busy", "peek", "retry",
           "table_columns", "transaction", "wait_seconds", "writable_problem"]

#: Seconds a writer waits for a database another process holds, unless ``$STANCE_DB_WAIT`` says otherwise.
RETRY_SECONDS = 120.0

#: The first 16 bytes of every SQLite database file.
HEADER = b"SQLite format 3\x00"


@dataclass(frozen=True)
class Peek:
    """What a database file says about itself: its ids and the names of its tables."""

    application_id: int
    user_version: int
    tables: frozenset[str]
    columns: dict = field(default_factory=dict)  # table name -> frozenset of its column names


def _uri(path: Path, **params: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"file:{quote(os.fsencode(path.resolve()))}?{query}"  # bytes: a name that is not UTF-8 is kept as it is


def _in_wal_mode(path: Path) -> bool:
    """The header's read and write versions are 2 in WAL mode (bytes 18 and 19)."""
    with open(path, "rb") as handle:
        head = handle.read(20)
    return head[18:20] == b"\x02\x02"


def connect_readonly(path: str | Path) -> sqlite3.Connection:
    """Open a database for reading only, writing nothing, even where nothing can be written.

    A read-only connection to a WAL database creates ``-wal`` and ``-shm`` files
    and cannot remove them; when no ``-wal`` file exists, every committed page is
    in the main file and it is opened as immutable instead, which needs neither.
    """
    path = Path(path)
    wal = Path(f"{path}-wal")
    if _in_wal_mode(path) and not wal.exists():
        return sqlite3.connect(_uri(path, immutable="1"), uri=True, isolation_level=None)
    return sqlite3.connect(_uri(path, mode="ro"), uri=True, timeout=min(30.0, wait_seconds()), isolation_level=None)


def connect_reader(path: str | Path) -> sqlite3.Connection:
    """A connection that only reads: shared with writers where it can be, else :func:`connect_readonly`.

    Where the file and its folder are writable, an ordinary connection (with
    ``query_only``) takes part in WAL's locking, so a writer's checkpoint never
    moves pages under it; its ``-wal``/``-shm`` go when it closes, as any's do.
    """
    if writable_problem(path) is not None:
        return connect_readonly(path)
    conn = sqlite3.connect(path, timeout=min(30.0, wait_seconds()), isolation_level=None)
    conn.execute("PRAGMA query_only = ON")
    return conn


def table_columns(conn: sqlite3.Connection, table: str) -> frozenset[str]:
    """The names of a table's columns."""
    return frozenset(row[0] for row in conn.execute("SELECT name FROM pragma_table_info(?)", (table,)))


def peek(path: str | Path) -> Peek | None:
    """The ids and tables of an SQLite file, read without changing it; None when it is no SQLite file.

    Raises ``sqlite3.DatabaseError`` when the header is SQLite's but the rest is not readable.
    """
    path = Path(path)
    with open(path, "rb") as handle:
        if handle.read(len(HEADER)) != HEADER:
            return None
    conn = connect_readonly(path)
    try:
        def read():
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            tables = frozenset(t for t in tables if not t.startswith("sqlite_"))
            return Peek(
                application_id=conn.execute("PRAGMA application_id").fetchone()[0],
                user_version=conn.execute("PRAGMA user_version").fetchone()[0],
                tables=tables,
                columns={t: table_columns(conn, t) for t in tables},
            )

        return retry(read)
    finally:
        conn.close()


def writable_problem(path: str | Path) -> str | None:
    """Why a database could not be written here (file, its folder, or its WAL files), or None.

    WAL needs ``-wal`` and ``-shm`` files beside the database, so its folder must
    be writable too, even when the file is.
    """
    from stance.paths import denied_because

    path = Path(path)
    folder = path.parent
    if not os.access(folder, os.W_OK | os.X_OK):
        return (f"its folder {folder} is not writable ({denied_because(folder)}; "
                f"SQLite needs to write {path.name}-wal and -shm beside it)")
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        if candidate.exists() and not os.access(candidate, os.W_OK):
            return f"{candidate} is not writable ({denied_because(candidate)})"
    return None


def connect(path: str | Path) -> sqlite3.Connection:
    """Open a database in autocommit mode with a busy timeout, switching it to WAL once."""
    conn = sqlite3.connect(path, timeout=min(30.0, wait_seconds()), isolation_level=None)

    def setup():
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")

    retry(setup)
    return conn


def is_busy(err: sqlite3.OperationalError) -> bool:
    """Whether SQLite refused because another connection holds the database (a wait may end it)."""
    text = str(err).lower()
    return "locked" in text or "busy" in text


#: Seconds of waiting for a busy database after which the wait is said.
WAIT_TOLD_AFTER = 3.0


def wait_seconds() -> float:
    """How long to wait for a database another process holds: ``$STANCE_DB_WAIT`` seconds, else :data:`RETRY_SECONDS`."""
    raw = os.environ.get("STANCE_DB_WAIT", "").strip()
    if not raw:
        return RETRY_SECONDS
    try:
        seconds = float(raw)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= 86400:  # a NaN fails both
        raise InputError(f"STANCE_DB_WAIT={raw!r} is not a wait in seconds; give a number from 0 to 86400, or unset it")
    return seconds


def retry(work, seconds: float | None = None):
    """Run ``work`` and retry with jittered back-off while the database is busy, for ``seconds``
    (default :func:`wait_seconds`).

    A wait of more than a few seconds is said once (a StanceWarning), so that a long one is not silent.
    """
    seconds = wait_seconds() if seconds is None else seconds
    start = time.monotonic()
    deadline, told = start + seconds, False
    pause = 0.01
    while True:
        try:
            return work()
        except sqlite3.OperationalError as err:
            now = time.monotonic()
            if not is_busy(err) or now > deadline:
                raise
            if not told and now - start > WAIT_TOLD_AFTER:
                warnings.warn(f"another process is writing the database; waiting up to {seconds:.0f} s for it",
                              StanceWarning, stacklevel=2)
                told = True
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 1.0)


class CommittedInterrupt(KeyboardInterrupt):
    """A Ctrl-C or SIGTERM that landed just after COMMIT: the work is stored, and ``result`` is what it returned,
    so that a caller counting what was stored (and removing a new database that holds nothing) counts it too."""

    def __init__(self, result):
        super().__init__()
        self.result = result


def transaction(conn: sqlite3.Connection, work):
    """Run ``work(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried while busy."""

    def attempt():
        done = False
        try:  # BEGIN and COMMIT inside: a Ctrl-C that lands beside either must not leave the transaction open
            conn.execute("BEGIN IMMEDIATE")
            result = work(conn)
            done = True
            conn.execute("COMMIT")
        except BaseException as stop:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            elif done and isinstance(stop, KeyboardInterrupt) and not isinstance(stop, CommittedInterrupt):
                raise CommittedInterrupt(result) from None
            raise
        return result

    return retry(attempt)
