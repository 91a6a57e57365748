"""The embedding cache: sentence vectors kept on disk, so no sentence is embedded twice.

Vectors are keyed by the encoder's weights (their SHA-256) and the SHA-256 of
the sentence text, so a retrained head or a re-scored archive reuses them and
another encoder never sees them. The cache lives in one SQLite file shared by
every process (WAL, writers retry while another holds the lock).

Eviction: the cache is bounded by ``max_bytes`` (``$STANCE_CACHE_MAX_MB``,
default 2048 MB of vectors). After each write that takes it above the bound,
the least recently used vectors are deleted until it is at 90% of the bound;
reading a vector counts as using it.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.errors import StanceError
from stance.paths import data_home
from stance.sqlite import connect, retry, transaction

__all__ = ["EmbeddingCache", "default_cache_path"]

DEFAULT_MAX_MB = 2048
_SCHEMA = """CREATE TABLE IF NOT EXISTS vectors (
    encoder TEXT NOT NULL,
    key BLOB NOT NULL,
    vector BLOB NOT NULL,
    last_used REAL NOT NULL,
    PRIMARY KEY (encoder, key)
) WITHOUT ROWID"""
_INDEX = "CREATE INDEX IF NOT EXISTS vectors_by_use ON vectors (last_used)"
# The stored bytes, kept up to date by triggers in the writing transaction, so that the
# bound is checked without scanning every vector on each write.
_TOTAL = [
    "CREATE TABLE IF NOT EXISTS total (id INTEGER PRIMARY KEY CHECK (id = 0), bytes INTEGER NOT NULL)",
    """CREATE TRIGGER IF NOT EXISTS total_insert AFTER INSERT ON vectors
       BEGIN UPDATE total SET bytes = bytes + LENGTH(NEW.vector); END""",
    """CREATE TRIGGER IF NOT EXISTS total_delete AFTER DELETE ON vectors
       BEGIN UPDATE total SET bytes = bytes - LENGTH(OLD.vector); END""",
    """CREATE TRIGGER IF NOT EXISTS total_update AFTER UPDATE OF vector ON vectors
       BEGIN UPDATE total SET bytes = bytes + LENGTH(NEW.vector) - LENGTH(OLD.vector); END""",
]
_CHUNK = 500  # SQLite's default limit on host parameters is 999


def default_cache_path() -> Path:
    """``$STANCE_CACHE``, else ``cache/embeddings.sqlite`` in the per-user data folder."""
    if os.environ.get("STANCE_CACHE") and os.environ["STANCE_CACHE"] != "off":
        return Path(os.environ["STANCE_CACHE"]).expanduser()
    return data_home() / "cache" / "embeddings.sqlite"


def _create(conn) -> None:
    """Tables, index and the running total (counted once for a cache made without it)."""
    for statement in [_SCHEMA, _INDEX, *_TOTAL]:
        conn.execute(statement)
    if conn.execute("SELECT COUNT(*) FROM total").fetchone()[0] == 0:
        conn.execute("INSERT INTO total SELECT 0, COALESCE(SUM(LENGTH(vector)), 0) FROM vectors")


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


class EmbeddingCache:
    """Vectors per (encoder, sentence) on disk.

    Parameters
    ----------
    path : default :func:`default_cache_path`
    max_bytes : bound on the stored vectors' bytes; default ``$STANCE_CACHE_MAX_MB`` MB (2048).
    """

    def __init__(self, path: str | Path | None = None, max_bytes: int | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        if max_bytes is None:
            max_bytes = int(float(os.environ.get("STANCE_CACHE_MAX_MB", DEFAULT_MAX_MB)) * 1024 * 1024)
        self.max_bytes = max_bytes
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = connect(self.path)
            transaction(self._conn, _create)
        except sqlite3.DatabaseError as err:
            raise StanceError(f"{self.path}: the embedding cache cannot be used ({err}); "
                              "remove it with `stance cache clear` or set STANCE_CACHE") from None

    def get(self, encoder: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of those texts that have one, marking them as used."""
        wanted = {_key(t): t for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        keys = list(wanted)
        for start in range(0, len(keys), _CHUNK):
            chunk = keys[start : start + _CHUNK]
            rows = retry(lambda chunk=chunk: self._conn.execute(
                f"SELECT key, vector FROM vectors WHERE encoder = ? AND key IN ({', '.join('?' * len(chunk))})",
                [encoder, *chunk]).fetchall())
            for key, blob in rows:
                found[wanted[key]] = np.frombuffer(blob, dtype=np.float32)
        if found:
            now = time.time()
            hits = [(now, encoder, _key(t)) for t in found]
            transaction(self._conn, lambda c: c.executemany(
                "UPDATE vectors SET last_used = ? WHERE encoder = ? AND key = ?", hits))
        return found

    def put(self, encoder: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (float32) for texts, then evict if over the bound."""
        now = time.time()
        rows = [(encoder, _key(t), np.asarray(v, dtype=np.float32).tobytes(), now) for t, v in zip(texts, vectors)]

        def write(conn):
            conn.executemany(
                "INSERT INTO vectors VALUES (?, ?, ?, ?) ON CONFLICT (encoder, key) "
                "DO UPDATE SET vector = excluded.vector, last_used = excluded.last_used",
                rows,
            )
            self._evict(conn)

        transaction(self._conn, write)

    def _evict(self, conn) -> None:
        total = conn.execute("SELECT bytes FROM total").fetchone()[0]
        if total <= self.max_bytes:
            return
        target = 0.9 * self.max_bytes
        cursor = conn.execute("SELECT encoder, key, LENGTH(vector) FROM vectors ORDER BY last_used")
        doomed = []
        for encoder, key, size in cursor:
            if total <= target:
                break
            doomed.append((encoder, key))
            total -= size
        conn.executemany("DELETE FROM vectors WHERE encoder = ? AND key = ?", doomed)

    def info(self) -> dict:
        """Where the cache is, how many vectors and bytes it holds, per encoder."""
        rows = self._conn.execute(
            "SELECT encoder, COUNT(*), COALESCE(SUM(LENGTH(vector)), 0) FROM vectors GROUP BY encoder").fetchall()
        return {
            "path": str(self.path),
            "vectors": sum(r[1] for r in rows),
            "bytes": sum(r[2] for r in rows),
            "max_bytes": self.max_bytes,
            "file_bytes": sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file()),
            "encoders": {r[0]: {"vectors": r[1], "bytes": r[2]} for r in rows},
        }

    def clear(self) -> int:
        """Delete every vector; returns how many there were."""
        count = transaction(self._conn, lambda c: c.execute("DELETE FROM vectors").rowcount)
        retry(lambda: self._conn.execute("VACUUM"))
        return count

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
