"""The embedding cache: sentence vectors kept on disk, so no sentence is embedded twice.

Vectors are keyed by the encoder's identity (the SHA-256 of its weights and of
its settings files) and the SHA-256 of the sentence text, so a retrained head or a re-scored archive reuses them and
another encoder never sees them. The cache lives in one SQLite file shared by
every process (WAL, writers retry while another holds the lock).

Eviction: the cache is bounded by ``max_bytes`` (``$STANCE_CACHE_MAX_MB``,
default 2048 MB of vectors). After each write that takes it above the bound,
the least recently used vectors are deleted until it is at 90% of the bound;
reading a vector counts as using it.

Each vector is stored with a digest of its bytes (and of what it is filed
under). A vector that fails its digest on reading (a damaged file, or a
cache made before digests, whose vectors have none) is deleted and counts as
missing, so it is embedded again rather than trusted.
"""

from __future__ import annotations

import hashlib
import math
import os
import sqlite3
import stat
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from stance.errors import StanceError, StanceWarning
from stance.paths import data_home, folder_problem
from stance.sqlite import connect, retry, transaction

__all__ = ["CacheError", "EmbeddingCache", "cache_info", "cache_max_bytes", "check_cache", "clear_cache",
           "default_cache_path", "open_cache"]

DEFAULT_MAX_MB = 2048
_SCHEMA = """CREATE TABLE IF NOT EXISTS vectors (
    encoder TEXT NOT NULL,
    key BLOB NOT NULL,
    vector BLOB NOT NULL,
    last_used REAL NOT NULL,
    digest BLOB,
    PRIMARY KEY (encoder, key)
) WITHOUT ROWID"""
_COLUMNS = {"encoder", "key", "vector", "last_used"}  # what a table named vectors must have to be this cache's
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
_SQLITE_HEADER = b"SQLite format 3\x00"
_SETTING = (f"set it to a positive number of megabytes (default {DEFAULT_MAX_MB}), "
            "or turn the cache off with STANCE_CACHE=off")


class CacheError(StanceError):
    """The embedding cache, or a setting of it, cannot be used."""


class UnavailableCacheError(CacheError):
    """The cache cannot be opened or made here (a read-only folder, a lock held too long): encoding goes on without it."""


class DamagedCacheError(CacheError):
    """The cache file is not a database SQLite can read: `stance cache clear` removes it."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def cache_max_bytes() -> int:
    """The bound from ``$STANCE_CACHE_MAX_MB`` (megabytes, default 2048) in bytes; refuses a value that is no bound."""
    raw = os.environ.get("STANCE_CACHE_MAX_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_MB * 2**20
    try:
        megabytes = float(raw)
    except ValueError:
        megabytes = math.nan
    if not math.isfinite(megabytes * 2**20) or megabytes <= 0 or megabytes * 2**20 >= 2**63:  # SQLite's integers
        raise CacheError(f"STANCE_CACHE_MAX_MB={raw!r} is not a size in megabytes: {_SETTING}")
    return max(1, int(megabytes * 2**20))


def check_cache() -> None:
    """Check the cache's settings and file before long work, so a problem shows up first, in one line."""
    cache_max_bytes()
    if os.environ.get("STANCE_CACHE") != "off" and (opened := open_cache()) is not None:
        opened.close()


_GIVEN_UP: set[str] = set()  # caches this process found unavailable: not tried again, warned of once


def open_cache(path: str | Path | None = None) -> EmbeddingCache | None:
    """The cache at ``path``, or None where it cannot be opened or made here: encoding goes on without it.

    The cache only saves time, so a read-only folder or a lock held too long is one
    warning, once per process; a damaged or foreign cache file is still an error, for it
    needs the user.
    """
    where = Path(path) if path is not None else default_cache_path()
    if str(where) in _GIVEN_UP:
        return None
    try:
        return EmbeddingCache(where)
    except UnavailableCacheError as err:
        give_up(where, err)
        return None


def give_up(path: str | Path, err: UnavailableCacheError) -> None:
    """Go on without the cache at ``path`` for the rest of this process, with one warning."""
    if str(path) not in _GIVEN_UP:
        _GIVEN_UP.add(str(path))
        warnings.warn(f"{err}; going on without it", StanceWarning, stacklevel=3)


def default_cache_path() -> Path:
    """``$STANCE_CACHE``, else ``cache/embeddings.sqlite`` in the per-user data folder."""
    if os.environ.get("STANCE_CACHE") and os.environ["STANCE_CACHE"] != "off":
        return Path(os.environ["STANCE_CACHE"]).expanduser()
    return _per_user_path()


def _per_user_path() -> Path:
    return data_home() / "cache" / "embeddings.sqlite"


#: SQLite's application id of an embedding cache ("STEC"), beside the history database's "STNC".
APPLICATION_ID = 0x53544543


def _create(conn) -> None:
    """Tables, index and the running total (counted once for a cache made without it).

    A cache made before digests gets the column; its vectors, without one, are
    dropped as they are read. A database that holds other tables is refused.
    """
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "vectors" not in tables:
        raise CacheError(f"is a database of something else (tables: {', '.join(sorted(tables))}), not an embedding "
                         "cache; set STANCE_CACHE to another file")
    for statement in [_SCHEMA, _INDEX, *_TOTAL]:
        conn.execute(statement)
    columns = {row[1] for row in conn.execute("PRAGMA table_info(vectors)")}
    if not _COLUMNS <= columns:
        raise CacheError("holds a table 'vectors' that is not an embedding cache's; set STANCE_CACHE to another file")
    if "digest" not in columns:
        conn.execute("ALTER TABLE vectors ADD COLUMN digest BLOB")
    if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # marks the file, so clear removes only caches
    if conn.execute("SELECT COUNT(*) FROM total").fetchone()[0] == 0:
        conn.execute("INSERT INTO total SELECT 0, COALESCE(SUM(LENGTH(vector)), 0) FROM vectors")


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def _digest(encoder: str, key: bytes, vector: bytes) -> bytes:
    """What a stored vector is checked against: its bytes and where it is filed."""
    digest = hashlib.blake2b(digest_size=16)
    for part in (encoder.encode("utf-8"), b"\0", key, vector):
        digest.update(part)
    return digest.digest()


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """Whether SQLite says the file is not a database, or a damaged one."""
    name = getattr(err, "sqlite_errorname", "")
    text = str(err).lower()
    return name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or "malformed" in text or "not a database" in text


class EmbeddingCache:
    """Vectors per (encoder, sentence) on disk.

    Parameters
    ----------
    path : default :func:`default_cache_path`
    max_bytes : bound on the stored vectors' bytes; default ``$STANCE_CACHE_MAX_MB`` MB (2048).
    """

    def __init__(self, path: str | Path | None = None, max_bytes: int | None = None):
        self.path = Path(path) if path is not None else default_cache_path()
        self.max_bytes = cache_max_bytes() if max_bytes is None else max_bytes
        self._writes = True
        if os.path.isdir(self.path):
            raise CacheError(f"{self.path}: is a folder, not an embedding cache file; set STANCE_CACHE to a file path")
        if os.path.exists(self.path) and not os.path.isfile(self.path):  # SQLite would say "disk I/O error"
            kind = "a FIFO" if stat.S_ISFIFO(os.stat(self.path).st_mode) else "a device or socket"
            raise CacheError(f"{self.path}: is {kind}, not an embedding cache file; set STANCE_CACHE to a file path, "
                             "or STANCE_CACHE=off")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            problem = folder_problem(self.path.parent) or err.strerror
            raise UnavailableCacheError(f"{self.path}: the embedding cache cannot be made ({problem}); set STANCE_CACHE "
                             "to a file in a writable folder, or STANCE_CACHE=off") from None
        self._conn = None
        try:
            self._conn = connect(self.path)
            transaction(self._conn, _create)
        except CacheError as err:
            self.close()
            raise CacheError(f"{self.path}: {err}") from None
        except sqlite3.DatabaseError as err:
            self.close()
            raise self._error(err) from None

    def _error(self, err: sqlite3.DatabaseError) -> CacheError:
        """The one-line error for what SQLite said: damage (which `stance cache clear` removes) or else."""
        if _is_damage(err):
            if not _may_be_cache(self.path):
                return CacheError(f"{self.path}: is not an SQLite file, so not an embedding cache (it is left alone); "
                                  "set STANCE_CACHE to another file, or STANCE_CACHE=off")
            if not _may_be_marked(self.path):  # `cache clear` would leave it alone: never send the user there
                return CacheError(f"{self.path}: SQLite cannot read it ({err}), and nothing marks it as an embedding "
                                  "cache (it is left alone); set STANCE_CACHE to another file, or delete it yourself")
            return DamagedCacheError(f"{self.path}: the embedding cache is damaged ({err}); "
                                     "remove it with `stance cache clear`, or set STANCE_CACHE to another file", str(err))
        return UnavailableCacheError(f"{self.path}: the embedding cache cannot be used ({err}); set STANCE_CACHE to "
                                     "a file in a writable folder, or STANCE_CACHE=off")

    def get(self, encoder: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of those texts that have one, marking them as used.

        A vector that fails its digest is deleted and left out, so that it is embedded again.
        """
        wanted = {_key(t): t for t in dict.fromkeys(texts)}
        found: dict[str, np.ndarray] = {}
        failed, damaged = [], 0
        keys = list(wanted)
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                rows = retry(lambda chunk=chunk: self._conn.execute(
                    f"SELECT key, vector, digest FROM vectors WHERE encoder = ? AND key IN ({', '.join('?' * len(chunk))})",
                    [encoder, *chunk]).fetchall())
                for key, blob, digest in rows:
                    if digest is not None and digest == _digest(encoder, key, blob):
                        found[wanted[key]] = np.frombuffer(blob, dtype=np.float32)
                    else:
                        failed.append((encoder, key))
                        damaged += digest is not None  # no digest: stored before digests, not damage
            now = time.time()
            hits = [(now, encoder, _key(t)) for t in found]

            def mark(conn):
                conn.executemany("UPDATE vectors SET last_used = ? WHERE encoder = ? AND key = ?", hits)
                conn.executemany("DELETE FROM vectors WHERE encoder = ? AND key = ?", failed)

            if hits or failed:
                self._write(mark)
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None
        if damaged:
            warnings.warn(f"{self.path}: {damaged} cached vector(s) failed their check and were dropped; "
                          "they are embedded again", StanceWarning, stacklevel=2)
        return found

    def put(self, encoder: str, texts: Sequence[str], vectors: np.ndarray) -> None:
        """Store vectors (float32) for texts, then evict if over the bound."""
        now = time.time()
        rows = []
        for t, v in zip(texts, vectors):
            key, blob = _key(t), np.asarray(v, dtype=np.float32).tobytes()
            rows.append((encoder, key, blob, now, _digest(encoder, key, blob)))

        def write(conn):
            conn.executemany(
                "INSERT INTO vectors (encoder, key, vector, last_used, digest) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (encoder, key) DO UPDATE SET vector = excluded.vector, "
                "last_used = excluded.last_used, digest = excluded.digest",
                rows,
            )
            self._evict(conn)

        try:
            self._write(write)
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None

    def _write(self, work) -> None:
        """Run a writing transaction; when the disk is full or the file read-only, warn once and stop writing.

        The cache only saves time, so a long run goes on without it.
        """
        if not self._writes:
            return
        try:
            transaction(self._conn, work)
        except sqlite3.OperationalError as err:
            if _is_damage(err) or not any(w in str(err).lower() for w in ("full", "readonly", "read-only", "i/o")):
                raise
            self._writes = False
            warnings.warn(f"{self.path}: the embedding cache cannot be written ({err}); going on without "
                          "storing vectors (free disk space, or set STANCE_CACHE)", StanceWarning, stacklevel=3)

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
        try:
            rows = retry(lambda: self._conn.execute(
                "SELECT encoder, COUNT(*), COALESCE(SUM(LENGTH(vector)), 0) FROM vectors GROUP BY encoder").fetchall())
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None
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
        try:
            count = transaction(self._conn, lambda c: c.execute("DELETE FROM vectors").rowcount)
            retry(lambda: self._conn.execute("VACUUM"))
        except sqlite3.DatabaseError as err:
            raise self._error(err) from None
        return count

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def cache_info(path: str | Path | None = None) -> dict:
    """:meth:`EmbeddingCache.info` of the cache at ``path``, without making one where there is none.

    A path with nothing there, or an empty file, holds no vectors: it is reported so and
    left as it is (a command that reports writes nothing).
    """
    path = Path(path) if path is not None else default_cache_path()
    max_bytes = cache_max_bytes()
    if _no_cache_yet(path):
        return {"path": str(path), "vectors": 0, "bytes": 0, "max_bytes": max_bytes, "file_bytes": 0, "encoders": {},
                "exists": os.path.lexists(path)}
    with EmbeddingCache(path, max_bytes=max_bytes) as cache:
        return {**cache.info(), "exists": True}


def _no_cache_yet(path: Path) -> bool:
    """Nothing at ``path`` (not even a dangling link), or an empty regular file: no vectors, and nothing to write."""
    try:
        held = os.stat(path)
    except FileNotFoundError:
        return not os.path.islink(path)  # a dangling link is left to EmbeddingCache to name
    except OSError:
        return False
    return stat.S_ISREG(held.st_mode) and held.st_size == 0 and not any(
        os.path.lexists(f"{path}{s}") for s in ("-wal", "-journal"))


def clear_cache(path: str | Path | None = None) -> str:
    """Empty the cache, or remove its file when SQLite cannot read it; says what was done.

    Only a file that is a cache is removed: empty, or an SQLite file marked as an
    embedding cache by its application id (whatever its name), or an unmarked one at
    the per-user cache path (made before caches were marked); anything else at the
    path is left alone. Where there
    is no cache yet, nothing is made.
    """
    path = Path(path) if path is not None else default_cache_path()
    if _no_cache_yet(path):
        return f"removed 0 vectors from {path} (there is no cache there yet)"
    try:
        with EmbeddingCache(path, max_bytes=DEFAULT_MAX_MB * 2**20) as cache:
            return f"removed {cache.clear()} vectors from {path}"
    except DamagedCacheError as err:
        reason = err.reason
    if not _looks_like_cache(path):
        raise CacheError(f"{path}: is not an SQLite file, so not removed as an embedding cache; check STANCE_CACHE, "
                         "or delete the file yourself")
    if not _marked_as_cache(path):
        raise CacheError(f"{path}: SQLite cannot read it ({reason}), and nothing marks it as an embedding cache (it "
                         "may be another program's data), so it is left alone; check STANCE_CACHE, or delete the file "
                         "yourself")
    try:
        for leftover in (path, *(Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal"))):
            leftover.unlink(missing_ok=True)
    except OSError as err:
        raise CacheError(f"{path}: SQLite cannot read it ({reason}) and it cannot be removed ({err.strerror}); "
                         "delete it yourself, or set STANCE_CACHE to another file") from None
    return f"removed {path}: SQLite cannot read it ({reason}); a new cache is made on next use"


def _marked_as_cache(path: Path) -> bool:
    """Whether a damaged SQLite file is an embedding cache to remove: marked by its application id, or
    (made before caches were marked) at the per-user cache path, where only stance writes."""
    with open(path, "rb") as handle:
        header = handle.read(100)
    if len(header) < 72 or int.from_bytes(header[68:72], "big") == APPLICATION_ID:
        return True
    return int.from_bytes(header[68:72], "big") == 0 and os.path.abspath(path) == os.path.abspath(_per_user_path())


def _may_be_marked(path: Path) -> bool:
    """:func:`_marked_as_cache`, or a file that cannot be read to tell."""
    try:
        return _marked_as_cache(path)
    except OSError:
        return True


def _may_be_cache(path: Path) -> bool:
    """:func:`_looks_like_cache`, or a file that cannot be read to tell (its error then says why)."""
    try:
        return _looks_like_cache(path)
    except OSError:
        return True


def _looks_like_cache(path: Path) -> bool:
    """Whether a file SQLite cannot read may be removed as a damaged cache (see :func:`clear_cache`).

    Only by its content: an SQLite header (damage further in) or nothing. A name
    ending in ``.db`` or ``.sqlite`` proves nothing, and the file may be someone's data.
    """
    with open(path, "rb") as handle:
        head = handle.read(len(_SQLITE_HEADER))
    return head in (b"", _SQLITE_HEADER)
