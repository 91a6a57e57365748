"""The history store: scored articles kept in SQLite, so drift can be tracked.

One row per (article, source, model) in ``articles``, with the per-target
summary as JSON; one row per (sentence, target) in ``sentences``. The view
``article_stance`` spreads the summaries into one row per (article, target)
for plain SQL. Re-recording an article with the same model replaces its rows.

Writers take the lock up front (``BEGIN IMMEDIATE``), in WAL mode, and retry
while another process holds it, so concurrent ``stance score --record`` runs
lose nothing; each batch is one transaction, so a killed writer leaves either
the whole batch or none of it. The schema version lives in ``user_version``
and each newer version is reached by the migrations below, in order.

An article id names one article. Recording under an id that already holds
another text (same source and model; the text's SHA-256 tells) replaces it
only when asked (``replace=True``, ``stance score --replace``); otherwise the
new text is refused with a warning naming both locations (the ``location``
column), the rest are stored, and :attr:`HistoryStore.refused` counts it. The
same text again is replaced, which changes nothing but the scores' model run.

Only stance's own databases are opened: stance sets ``application_id`` to
:data:`APPLICATION_ID` when it creates one (databases of earlier versions have
0 there, and are known by their ``articles`` and ``sentences`` tables). Any other
file (not SQLite, empty, another program's tables or id) is refused after a
look that writes nothing, before WAL mode or a migration could change it. A
store opened ``readonly`` (``stance drift``) never writes, so it works in a
folder it cannot write to; one opened for writing first checks that the
file, its folder and its WAL files can be written, and that SQLite finds it
sound (``PRAGMA quick_check``, read only), so a run fails before any scoring
rather than at its first write. Damage found later, by any query, is the same
one-line error (:class:`StoreError`), never a traceback; nothing is repaired.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import json
import os
import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

from stance.errors import StanceError, StanceWarning
from stance.fileio import follow_umask, temp_file_beside
from stance.paths import data_home
from stance.schema import STANCES
from stance.segment import require_regular_file
from stance.sqlite import (
    CommittedInterrupt,
    connect,
    connect_reader,
    is_busy,
    peek,
    retry,
    table_columns,
    transaction,
    wait_seconds,
    writable_problem,
)

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "HistoryStore", "StoreError", "default_db_path", "refused_message",
           "require_database_file"]


class StoreError(StanceError):
    """The history database cannot be used as asked."""


def _unusable(path: Path, why) -> StoreError:
    return StoreError(f"{path}: not a usable SQLite database ({why}); give another --db")


def _is_damage(err: sqlite3.DatabaseError) -> bool:
    """SQLite found the file damaged or not a database (not a busy lock, a full disk or a broken constraint)."""
    text = str(err).lower()
    return type(err) is sqlite3.DatabaseError or "malformed" in text or "not a database" in text


def _damage_is_an_error(method):
    """A store method whose queries meet a damaged file raises the one-line :class:`StoreError`
    (a generator's too, while it is iterated)."""
    if inspect.isgeneratorfunction(method):
        @functools.wraps(method)
        def guarded_rows(self, *args, **kwargs):
            with _store_errors(self.path):
                yield from method(self, *args, **kwargs)
        return guarded_rows

    @functools.wraps(method)
    def guarded(self, *args, **kwargs):
        with _store_errors(self.path):
            return method(self, *args, **kwargs)
    return guarded


@contextlib.contextmanager
def _store_errors(path: Path):
    try:
        yield
    except sqlite3.IntegrityError as err:
        raise StoreError(f"{path}: refused scores that break its rules ({err}); results edited by hand? "
                         "score those articles again") from None
    except sqlite3.ProgrammingError as err:
        if "closed" not in str(err):
            raise
        raise StoreError(f"{path}: this HistoryStore was closed; open it again with HistoryStore(path)") from None
    except sqlite3.DatabaseError as err:
        if _is_damage(err):
            raise _unusable(path, err) from None
        if isinstance(err, sqlite3.OperationalError) and is_busy(err):  # held past retry's deadline
            raise StoreError(f"{path}: another process kept it locked for over {wait_seconds():g} s; let that "
                             "process finish (or stop it), then run the command again") from None
        if "could not decode" in str(err).lower():
            raise StoreError(f"{path}: holds text that is not UTF-8 ({err}); edited by hand? score those "
                             "articles again with --replace, or give another --db") from None
        if any(s in str(err).lower() for s in ("disk i/o", "unable to open", "disk is full")):
            raise StoreError(f"{path}: SQLite cannot use it here ({err}); free disk space and check that "
                             "its folder is writable (SQLite keeps -wal and -shm files beside it)") from None
        raise


def default_db_path() -> Path:
    """``$STANCE_DB``, else ``history.sqlite`` in the per-user data folder."""
    if os.environ.get("STANCE_DB"):
        return Path(os.environ["STANCE_DB"]).expanduser()
    return data_home() / "history.sqlite"


def require_database_file(path: str | Path) -> None:
    """Refuse, in one line, a database path that names a folder, a FIFO or a device (a missing one is for the caller).

    Checked before anything else about a command's paths, so that a folder given
    as ``--db`` is named as such, not as the folder of another output.
    """
    if os.path.exists(path):
        require_regular_file(path, "give a database file with --db", StoreError)


# Each entry takes the schema from version i to i + 1. Append, never edit.
MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            article TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT '',
            model_id TEXT NOT NULL,
            content_sha256 TEXT NOT NULL,
            date TEXT,
            date_source TEXT,
            title TEXT,
            url TEXT,
            n_sentences INTEGER NOT NULL,
            n_skipped INTEGER NOT NULL,
            summary TEXT NOT NULL,
            model TEXT NOT NULL,
            scored_at TEXT NOT NULL,
            UNIQUE (article, source, model_id)
        )""",
        "CREATE INDEX articles_by_date ON articles (model_id, date)",
        """CREATE TABLE sentences (
            article_row INTEGER NOT NULL REFERENCES articles (id) ON DELETE CASCADE,
            sentence INTEGER NOT NULL,
            target TEXT NOT NULL,
            text TEXT NOT NULL,
            label TEXT NOT NULL,
            p_favor REAL NOT NULL,
            p_against REAL NOT NULL,
            p_none REAL NOT NULL,
            PRIMARY KEY (article_row, sentence, target)
        ) WITHOUT ROWID""",
        """CREATE VIEW article_stance AS
            SELECT a.id AS article_row, a.article, NULLIF(a.source, '') AS source, a.date, a.model_id,
                   t.key AS target,
                   json_extract(t.value, '$.favor') AS favor,
                   json_extract(t.value, '$.against') AS against,
                   json_extract(t.value, '$.none') AS "none",
                   json_extract(t.value, '$.p_favor') AS p_favor,
                   json_extract(t.value, '$.p_against') AS p_against,
                   json_extract(t.value, '$.p_none') AS p_none,
                   json_extract(t.value, '$.net') AS net
            FROM articles AS a, json_each(a.summary) AS t""",
    ],
    ["ALTER TABLE articles ADD COLUMN location TEXT"],
]
SCHEMA_VERSION = len(MIGRATIONS)

#: ``PRAGMA application_id`` of a stance history database ("STNC").
APPLICATION_ID = 0x53544E43

#: The tables a history database of any schema version holds.
STANCE_TABLES = frozenset({"articles", "sentences"})

@functools.cache
def _first_columns() -> dict[str, frozenset[str]]:
    """The columns of each table at schema version 1, which every stance database has."""
    conn = sqlite3.connect(":memory:")
    try:
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        return {t: table_columns(conn, t) for t in STANCE_TABLES}
    finally:
        conn.close()


class HistoryStore:
    """A connection to the history database; use as a context manager.

    Parameters
    ----------
    path : str or Path, optional
        Default :func:`default_db_path`.
    create : bool, default True
        Create the file (and its folder) when missing; with False a missing
        database is an error, as ``stance drift`` wants.
    readonly : bool, default False
        Only read: nothing is migrated or written, and no write access is needed.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True, readonly: bool = False):
        from stance.paths import given_path

        self.path = (given_path(path, "the history database", "give a .sqlite file's path").expanduser()
                     if path is not None else default_db_path())
        self.readonly = readonly
        wait_seconds()  # a $STANCE_DB_WAIT that is no wait is refused before any file is made
        #: Articles refused by :meth:`record` because their id holds another text.
        self.refused = 0
        #: Articles :meth:`record` stored in place of an earlier record of theirs (same id, source and model).
        self.replaced = 0
        require_database_file(self.path)
        if self.path.is_symlink() and not self.path.exists():
            from stance.paths import is_link_loop

            if is_link_loop(self.path):
                raise StoreError(f"{self.path}: is a loop of symbolic links; remove the link or give another --db")
            self.path = Path(os.path.realpath(self.path))  # a link to a database yet to be made: made where it points
        if not self.path.exists() and (not create or readonly):
            raise StoreError(f"{self.path}: no history database here; record scores with `stance score FILE... --record`")
        try:
            if not self.path.exists():
                self._create()
            self._version = self._identify()
            if not readonly:
                self._check_writable()
                self._check_sound()
            self._conn = connect_reader(self.path) if readonly else connect(self.path)
            self._conn.execute("PRAGMA foreign_keys = ON")
            if not readonly:
                self._setup()
        except sqlite3.DatabaseError as err:
            raise _unusable(self.path, err) from None
        except OSError as err:
            raise StoreError(f"{self.path}: cannot be read ({err.strerror}); check its permissions or give another --db") from None

    # -- plumbing -------------------------------------------------------

    def _transaction(self, work):
        return transaction(self._conn, work)

    def _create(self):
        """A new database with stance's schema and id, put in place whole (so no one sees it half made)."""
        folder = self.path.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise StoreError(f"{self.path}: cannot make its folder ({err.strerror}); give another --db") from None
        problem = writable_problem(self.path)
        if problem:
            raise StoreError(f"{self.path}: cannot be created: {problem}; give another --db")
        fd, tmp = temp_file_beside(self.path, "new")
        follow_umask(fd)
        os.close(fd)
        try:
            conn = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.execute("BEGIN")
                _migrate(conn)
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()
            try:
                os.link(tmp, self.path)  # fails if another process made it first: theirs is used
            except FileExistsError:
                pass
            except OSError:  # a file system without hard links
                if not self.path.exists():
                    os.replace(tmp, self.path)
        finally:
            Path(tmp).unlink(missing_ok=True)

    def _identify(self) -> int:
        """The schema version of a stance database; refuse anything else before it is opened for real."""
        if self.path.stat().st_size == 0:
            raise StoreError(f"{self.path}: empty file, not a history database; delete it or give another --db")
        found = peek(self.path)
        if found is None:
            raise StoreError(f"{self.path}: not a usable SQLite database (not an SQLite file); give another --db")
        foreign = f"{self.path}: an SQLite database of another program, not a stance history; give another --db"
        if found.application_id not in (0, APPLICATION_ID):
            raise StoreError(foreign)
        ours = found.application_id == APPLICATION_ID
        newer = StoreError(
            f"{self.path}: made by a newer stance (schema {found.user_version}, this one knows {SCHEMA_VERSION}); "
            "upgrade stance"
        )
        if ours and found.user_version > SCHEMA_VERSION:
            raise newer
        if found.user_version == 0:
            if found.tables and not ours:
                raise StoreError(foreign)
            return 0
        if not STANCE_TABLES <= found.tables or (not ours and found.tables - STANCE_TABLES):
            raise StoreError(foreign)
        if not ours and any(not columns <= found.columns.get(table, frozenset())
                            for table, columns in _first_columns().items()):
            raise StoreError(foreign)  # tables named as ours, but not ours: migrating would change them
        if found.user_version > SCHEMA_VERSION:
            raise newer
        return found.user_version

    def _check_writable(self):
        problem = writable_problem(self.path)
        if problem:
            raise StoreError(f"{self.path}: cannot record scores here: {problem}; fix the permissions or give another --db")

    def _check_sound(self):
        """Before writing (and before the long work that comes first), SQLite's quick check, read only."""
        conn = connect_reader(self.path)
        try:
            problems = [row[0] for row in retry(lambda: conn.execute("PRAGMA quick_check(1)").fetchall())]
        finally:
            conn.close()
        if problems != ["ok"]:
            detail = " ".join(line for line in problems[0].splitlines() if not line.startswith("***"))
            raise _unusable(self.path, f"damaged: {detail or problems[0].strip()}")

    def _setup(self):
        if self._version < SCHEMA_VERSION:
            self._transaction(_migrate)
        self._version = SCHEMA_VERSION

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def close(self):
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing --------------------------------------------------------

    @_damage_is_an_error
    def recorded_version(self, article: str, source: str | None, model_id: str) -> tuple[str | None, str | None] | None:
        """The text hash and location recorded for an article, or None when it is not recorded."""
        if self._version == 0:
            return None
        location = "location" if self._version >= 2 else "NULL"
        return retry(lambda: self._conn.execute(
            f"SELECT content_sha256, {location} FROM articles WHERE article = ? AND source = ? AND model_id = ?",
            (article, source or "", model_id),
        ).fetchone())

    @_damage_is_an_error
    def record(self, scores: Iterable, *, replace: bool = True) -> int:
        """Store scored articles (``ArticleScores``) in one transaction; return how many articles it
        stored (one given twice counts once).

        An article already recorded with the same model and source is replaced;
        with ``replace=False`` only when its text is the same: another text under
        its id is refused with a warning and counted in :attr:`refused`.
        """
        if self.readonly:
            raise StoreError(f"{self.path}: opened for reading only")
        from stance.errors import TextsError
        from stance.results import check_scores
        from stance.scoring import ArticleScores

        if isinstance(scores, ArticleScores) or not isinstance(scores, Iterable):
            raise TextsError(f"record takes a list of ArticleScores, not one {type(scores).__name__}"
                             + ("; pass [result]" if isinstance(scores, ArticleScores) else ""))
        scores = list(scores)
        for wrong in (s for s in scores if not isinstance(s, ArticleScores)):
            raise TextsError(f"record takes ArticleScores (as score_article returns), not {type(wrong).__name__}"
                             + ("; pass the result itself, not its to_dict()" if isinstance(wrong, dict) else ""))
        if not scores:
            return 0
        check_scores(scores)  # a result made by hand is refused whole, before anything is written
        return self._store(scores, replace)

    @_damage_is_an_error
    def _store(self, scores: list, replace: bool) -> int:
        """:meth:`record` of results already checked (:func:`stance.results.check_scores`)."""
        if self.readonly:
            raise StoreError(f"{self.path}: opened for reading only")
        from stance.errors import InputError

        now = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [_article_row(s, _scored_at(s) or now) for s in scores]
        texts: dict[tuple, str] = {}
        for row in rows:  # one call holding two texts under one id would keep the last, silently
            key = (row["article"], row["source"], row["model_id"])
            if texts.setdefault(key, row["content_sha256"]) != row["content_sha256"]:
                raise InputError(f"article id {row['article']!r} (source {row['source']!r}) is given twice with "
                                 "different texts; give every article a distinct id")
        refusals: list[str] = []

        def write(conn):
            refusals.clear()  # a retried transaction starts again
            replaced = 0
            stored = set()  # an article given twice in one call replaces only itself
            for s, row in zip(scores, rows):
                key = (row["article"], row["source"], row["model_id"])
                if not replace:
                    held = conn.execute(
                        "SELECT content_sha256, location FROM articles WHERE article = ? AND source = ? AND model_id = ?",
                        key,
                    ).fetchone()
                    if held is not None and held[0] != row["content_sha256"]:
                        refusals.append(refused_message(row["location"], row["article"], held[1], str(self.path)))
                        continue
                deleted = conn.execute("DELETE FROM articles WHERE article = ? AND source = ? AND model_id = ?", key)
                if deleted.rowcount and key not in stored:
                    replaced += 1
                stored.add(key)
                cursor = conn.execute(
                    f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
                )
                conn.executemany(
                    "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    _sentence_rows(cursor.lastrowid, s),
                )
            written = len(stored)  # an article given twice (its source once None, once "") is stored once
            if conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
                conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")  # a database of an earlier stance
            return written, replaced

        try:
            written, replaced = self._transaction(write)
        except CommittedInterrupt as stop:  # stored all the same: counted, then the interrupt goes on
            stop.stored, self.replaced = stop.result[0], self.replaced + stop.result[1]
            raise
        except sqlite3.OperationalError as err:
            if _is_write_failure(err):
                raise StoreError(f"{self.path}: cannot be written ({err}); free space or fix the permissions, "
                                 "or give another --db") from None
            raise
        for message in refusals:
            warnings.warn(message, StanceWarning, stacklevel=2)
        self.refused += len(refusals)
        self.replaced += replaced
        return written

    def record_results(self, path: str | Path, *, replace: bool = True, progress=None) -> int:
        """Store a results folder (``stance score --output``, local or Ray); return how many articles.

        Each batch of 64 articles is one transaction, as with ``--record``;
        recording a folder again replaces its articles, so it is safe to repeat.
        ``replace`` is as in :meth:`record`; ``progress``, when given, is called with
        the number of articles of each batch once it is stored (an interrupted caller
        can then say how many stay).
        """
        from stance.paths import given_path
        from stance.results import iter_scores

        path = given_path(path, "results", "give a folder `stance score --output` wrote").expanduser()
        total = 0
        # Every article is checked before the first is stored: a row edited by hand refuses the folder whole.
        for batch in iter_scores(path, strict=True):
            try:
                stored = self._store(batch, replace)
            except CommittedInterrupt as stop:  # the batch is in: the caller's count must hold it
                if progress is not None:
                    progress(stop.stored)
                raise
            total += stored
            if progress is not None:
                progress(stored)
        return total

    # -- reading --------------------------------------------------------

    @_damage_is_an_error
    def models(self) -> list[dict]:
        """Models with recorded scores, latest first: id, articles, last scored, model info."""
        if self._version == 0:  # an empty database opened for reading: no tables yet
            return []
        query = """SELECT model_id, COUNT(*), MAX(scored_at),
                          (SELECT model FROM articles b WHERE b.model_id = a.model_id ORDER BY scored_at DESC LIMIT 1)
                   FROM articles a GROUP BY model_id ORDER BY MAX(scored_at) DESC, model_id"""
        return [
            {"model_id": m, "n_articles": n, "last_scored": last, "model": self._recorded(info, "model", f"model {m}")}
            for m, n, last, info in self._conn.execute(query)
        ]

    @_damage_is_an_error
    def chosen_model(self, model_id: str | None = None) -> tuple[dict, int]:
        """The model whose scores to read (as :meth:`models` gives it) and how many models the store holds.

        ``model_id`` is an id or its start; without it, the latest recorded. A
        start that several ids share is refused: a reader would get the scores
        of a model it did not name.
        """
        models = self.models()
        if not models:
            raise StoreError(f"{self.path}: no scores recorded yet; run `stance score FILE... --record` first")
        if model_id is None:
            return models[0], len(models)
        from stance.scoring import recorded_model_id

        model_id = recorded_model_id(model_id)
        chosen = [m for m in models if m["model_id"].startswith(model_id)]
        exact = [m for m in chosen if m["model_id"] == model_id]
        if not chosen:
            raise StoreError(f"no scores of a model {model_id!r} in {self.path}; "
                             f"recorded: {', '.join(m['model_id'] for m in models)}")
        if len(chosen) > 1 and not exact:
            raise StoreError(f"model id {model_id!r} starts {len(chosen)} recorded ids in {self.path} "
                             f"({', '.join(m['model_id'] for m in chosen)}); give more of the id")
        return (exact or chosen)[0], len(models)

    def _recorded(self, text, column: str, whose: str) -> dict:
        """A JSON column as stance records it (an object), or a one-line error for one edited by hand."""
        try:
            value = json.loads(text)
        except (TypeError, ValueError):
            value = None
        if not isinstance(value, dict) or (column == "summary" and not all(isinstance(v, dict) for v in value.values())):
            raise StoreError(f"{self.path}: {whose}: its recorded {column} is not what stance records (edited by hand?); "
                             "score it again with `stance score ... --record --replace`, or give another --db")
        return value

    @_damage_is_an_error
    def articles(
        self,
        *,
        model_id: str | None = None,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
        strongest: bool = False,
    ) -> list[dict]:
        """Recorded articles as dicts, ordered by date (undated last) then id.

        ``since``/``until`` (inclusive, ``YYYY-MM-DD``) keep undated articles,
        which drift counts apart; ``model_id`` matches a prefix. With
        ``strongest``, each row also holds its strongest sentences per target
        and side (:func:`stance.evidence.strongest_sentences`), which drift
        shows as evidence.
        """
        out = list(self.iter_articles(model_id=model_id, sources=sources, since=since, until=until))
        if strongest:
            self._attach_strongest(out)
        return out

    @_damage_is_an_error
    def iter_articles(
        self,
        *,
        model_id: str | None = None,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Iterator[dict]:
        """:meth:`articles` one at a time, so that memory does not grow with them (as export reads them)."""
        from stance.dates import UNKNOWN_SOURCE, checked_selection

        model_id, sources, since, until = checked_selection(model_id, sources, since, until)
        if sources and UNKNOWN_SOURCE in sources:  # as drift names them: those stored with no name, and any under it
            sources = [*sources, ""]
        if self._version == 0:
            return
        clauses, params = [], []
        if model_id:
            clauses.append("substr(model_id, 1, length(?)) = ?")  # a prefix, as typed: no LIKE wildcards
            params.extend([model_id, model_id])
        if sources:
            clauses.append(f"source IN ({', '.join('?' * len(sources))})")
            params.extend(sources)
        if since:
            clauses.append("(date IS NULL OR date >= ?)")
            params.append(since)
        if until:
            clauses.append("(date IS NULL OR date <= ?)")
            params.append(until)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        cursor = self._conn.execute(
            f"SELECT * FROM articles {where} ORDER BY date IS NULL, date, article, source", params
        )
        names = [d[0] for d in cursor.description]
        for values in cursor:
            row = dict(zip(names, values))
            row["summary"] = self._recorded(row["summary"], "summary", f"article {row['article']}")
            row["model"] = self._recorded(row["model"], "model", f"article {row['article']}")
            row["source"] = row["source"] or None
            yield row

    def _attach_strongest(self, rows: list[dict], chunk: int = 500) -> None:
        """Give each article row its strongest sentences, reading only those sentences from SQLite."""
        from stance.evidence import strongest_sentences

        by_id = {row["id"]: row for row in rows}
        ids = list(by_id)
        for start in range(0, len(ids), chunk):
            part = ids[start : start + chunk]
            cursor = self._conn.execute(
                f"""SELECT article_row, sentence, target, text, label, p_favor, p_against FROM (
                        SELECT *, ROW_NUMBER() OVER (PARTITION BY article_row, target ORDER BY p_favor DESC, sentence) AS f,
                                  ROW_NUMBER() OVER (PARTITION BY article_row, target ORDER BY p_against DESC, sentence) AS a
                        FROM sentences WHERE article_row IN ({', '.join('?' * len(part))}))
                    WHERE f = 1 OR a = 1 ORDER BY article_row""",
                part,
            )
            names = [d[0] for d in cursor.description]
            found: dict[int, list[dict]] = {}
            for values in cursor:
                row = dict(zip(names, values))
                self._require_recorded(row, by_id[row["article_row"]]["article"])
                found.setdefault(row["article_row"], []).append(row)
            for article_row, sentences in found.items():
                by_id[article_row]["strongest"] = strongest_sentences(sentences)

    @_damage_is_an_error
    def sentences(self, article_row: int, article: str | None = None) -> list[dict]:
        """The per-sentence results of one recorded article (``article``: its id, to name it in an error)."""
        cursor = self._conn.execute(
            "SELECT sentence, target, text, label, p_favor, p_against, p_none FROM sentences "
            "WHERE article_row = ? ORDER BY sentence, target",
            (article_row,),
        )
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, values)) for values in cursor]
        for row in rows:
            self._require_recorded(row, article if article is not None else f"row {article_row}")
        return rows

    def _require_recorded(self, row: dict, article: str) -> None:
        """Refuse a sentence row as no ``--record`` writes it, as only a hand edit leaves it: an index or a
        probability that is no number or out of [0, 1], a text that is no text, a label outside the scheme.
        Drift and export pass these on as the sentences behind their numbers."""
        problem = _recorded_sentence_problem(row)
        if problem is not None:
            raise StoreError(f"{self.path}: article {article}: a recorded sentence {problem} (edited by hand?); "
                             "score it again with `stance score ... --record --replace`")

    @_damage_is_an_error
    def check(self) -> list[str]:
        """SQLite's integrity and foreign-key checks; an empty list means sound."""
        problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"orphan sentence rows in {r[0]}" for r in self._conn.execute("PRAGMA foreign_key_check")]
        return problems


def _recorded_sentence_problem(row: dict) -> str | None:
    """What is wrong with a stored sentence row (of the columns it has), or None."""
    from stance.schema import SLACK

    index = row.get("sentence")
    if "sentence" in row and not (type(index) is int and index >= 0):
        return f"has index {index!r}, not a count"
    if "text" in row and not isinstance(row["text"], str):
        return f"has a text of type {type(row['text']).__name__}"
    if "label" in row and row["label"] not in STANCES:
        return f"has label {row['label']!r}, not one of {', '.join(STANCES)}"
    for k in ("p_favor", "p_against", "p_none"):
        p = row.get(k, 0.0)
        if not (type(p) in (int, float) and -SLACK <= p <= 1.0 + SLACK):
            return f"has {k} {p!r}, not a number in [0, 1]"
    return None


def _migrate(conn):
    """Bring the schema to :data:`SCHEMA_VERSION` and mark the file as stance's (in a write transaction)."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
    for statements in MIGRATIONS[version:]:
        for statement in statements:
            conn.execute(statement)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _is_write_failure(err: sqlite3.OperationalError) -> bool:
    text = str(err).lower()
    return any(s in text for s in ("readonly", "read-only", "disk i/o", "disk is full", "unable to open"))


def refused_message(location: str | None, article: str, recorded: str | None, where: str) -> str:
    """The warning for an article whose id already holds another text in ``where``."""
    return (f"{location or article}: not stored: id {article!r} already holds another text in {where} "
            f"(from {recorded or 'an earlier run'})")


def _scored_at(scores) -> str | None:
    """When a result read from a results folder was scored (``results._scores_of`` keeps it), as stored:
    recording the folder later must not make its model the latest. None when it is not a time stance wrote."""
    stamp = getattr(scores, "_scored_at", None)
    try:
        when = datetime.fromisoformat(stamp) if isinstance(stamp, str) else None
    except ValueError:
        return None
    if when is None or when.tzinfo is None:
        return None
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


def _article_row(scores, scored_at: str) -> dict:
    summary = {}
    for target, counts in scores.summary.items():
        probas = [s[target]["proba"] for s in scores.sentences]
        means = {f"p_{k}": (sum(p[k] for p in probas) / len(probas) if probas else 0.0) for k in STANCES}
        summary[target] = {**{k: counts[k] for k in STANCES}, **means, "net": counts["net"]}
    return {
        "article": scores.article,
        "source": scores.source or "",
        "model_id": scores.model["id"],
        "content_sha256": scores.content_sha256,
        "date": scores.date,
        "date_source": scores.date_source,
        "title": scores.title,
        "url": scores.url,
        "n_sentences": len(scores.sentences),
        "n_skipped": len(scores.skipped),
        "summary": json.dumps(summary),
        "model": json.dumps(scores.model, sort_keys=True),
        "scored_at": scored_at,
        "location": scores.location,
    }


def _sentence_rows(article_row: int, scores):
    from stance.scoring import flat_sentences

    for r in flat_sentences(scores.sentences, list(scores.summary)):
        yield (article_row, r["sentence"], r["target"], r["text"], r["label"], r["p_favor"], r["p_against"], r["p_none"])
