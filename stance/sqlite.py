"""SQLite shared by several processes: WAL, writers that take the lock up front, retry when busy."""

from __future__ import annotations

import random
import sqlite3
import time
from pathlib import Path

__all__ = ["connect", "retry", "transaction"]

RETRY_SECONDS = 120.0


def connect(path: str | Path) -> sqlite3.Connection:
    """Open a database in autocommit mode with a busy timeout, switching it to WAL once."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)

    def setup():
        if conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")

    retry(setup)
    return conn


def _is_busy(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return "locked" in text or "busy" in text


def retry(work, seconds: float = RETRY_SECONDS):
    """Run ``work`` and retry with jittered back-off while the database is busy."""
    deadline = time.monotonic() + seconds
    pause = 0.01
    while True:
        try:
            return work()
        except sqlite3.OperationalError as err:
            if not _is_busy(err) or time.monotonic() > deadline:
                raise
            time.sleep(pause * (1 + random.random()))
            pause = min(pause * 2, 1.0)


def transaction(conn: sqlite3.Connection, work):
    """Run ``work(conn)`` in one ``BEGIN IMMEDIATE`` transaction, retried while busy."""

    def attempt():
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = work(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    return retry(attempt)
