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
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path

from stance.errors import StanceError
from stance.paths import data_home
from stance.schema import STANCES
from stance.sqlite import connect, transaction

__all__ = ["SCHEMA_VERSION", "HistoryStore", "StoreError", "default_db_path"]


class StoreError(StanceError):
    """The history database cannot be used as asked."""


def default_db_path() -> Path:
    """``$STANCE_DB``, else ``history.sqlite`` in the per-user data folder."""
    if os.environ.get("STANCE_DB"):
        return Path(os.environ["STANCE_DB"]).expanduser()
    return data_home() / "history.sqlite"


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
]
SCHEMA_VERSION = len(MIGRATIONS)

class HistoryStore:
    """A connection to the history database; use as a context manager.

    Parameters
    ----------
    path : str or Path, optional
        Default :func:`default_db_path`.
    create : bool, default True
        Create the file (and its folder) when missing; with False a missing
        database is an error, as ``stance drift`` wants.
    """

    def __init__(self, path: str | Path | None = None, *, create: bool = True):
        self.path = Path(path) if path is not None else default_db_path()
        if not self.path.exists():
            if not create:
                raise StoreError(f"{self.path}: no history database here; record scores with `stance score FILE... --record`")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        elif self.path.is_dir():
            raise StoreError(f"{self.path}: is a folder; give a database file with --db")
        try:
            self._conn = connect(self.path)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._setup()
        except sqlite3.DatabaseError as err:
            raise StoreError(f"{self.path}: not a usable SQLite database ({err}); give another --db") from None

    # -- plumbing -------------------------------------------------------

    def _transaction(self, work):
        return transaction(self._conn, work)

    def _setup(self):
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: made by a newer stance (schema {version}, this one knows {SCHEMA_VERSION}); upgrade stance"
            )
        if version < SCHEMA_VERSION:
            self._transaction(self._migrate)

    def _migrate(self, conn):
        version = conn.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
        for statements in MIGRATIONS[version:]:
            for statement in statements:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

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

    def record(self, scores: Iterable) -> int:
        """Store scored articles (``ArticleScores``) in one transaction; return how many.

        An article already recorded with the same model and source is replaced.
        """
        scores = list(scores)
        if not scores:
            return 0
        scored_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
        rows = [_article_row(s, scored_at) for s in scores]

        def write(conn):
            for s, row in zip(scores, rows):
                conn.execute(
                    "DELETE FROM articles WHERE article = ? AND source = ? AND model_id = ?",
                    (row["article"], row["source"], row["model_id"]),
                )
                cursor = conn.execute(
                    f"INSERT INTO articles ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(row.values())
                )
                conn.executemany(
                    "INSERT INTO sentences VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    _sentence_rows(cursor.lastrowid, s),
                )
            return len(rows)

        return self._transaction(write)

    def record_results(self, path: str | Path) -> int:
        """Store a results folder (``stance score --output``, local or Ray); return how many articles.

        Each batch of 64 articles is one transaction, as with ``--record``;
        recording a folder again replaces its articles, so it is safe to repeat.
        """
        from stance.results import iter_scores

        return sum(self.record(batch) for batch in iter_scores(path))

    # -- reading --------------------------------------------------------

    def models(self) -> list[dict]:
        """Models with recorded scores, latest first: id, articles, last scored, model info."""
        query = """SELECT model_id, COUNT(*), MAX(scored_at),
                          (SELECT model FROM articles b WHERE b.model_id = a.model_id ORDER BY scored_at DESC LIMIT 1)
                   FROM articles a GROUP BY model_id ORDER BY MAX(scored_at) DESC, model_id"""
        return [
            {"model_id": m, "n_articles": n, "last_scored": last, "model": json.loads(info)}
            for m, n, last, info in self._conn.execute(query)
        ]

    def articles(
        self,
        *,
        model_id: str | None = None,
        sources: Sequence[str] | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> list[dict]:
        """Recorded articles as dicts, ordered by date (undated last) then id.

        ``since``/``until`` (inclusive, ``YYYY-MM-DD``) keep undated articles,
        which drift counts apart; ``model_id`` matches a prefix.
        """
        clauses, params = [], []
        if model_id:
            clauses.append("model_id LIKE ? || '%'")
            params.append(model_id)
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
        out = []
        for values in cursor:
            row = dict(zip(names, values))
            row["summary"] = json.loads(row["summary"])
            row["model"] = json.loads(row["model"])
            row["source"] = row["source"] or None
            out.append(row)
        return out

    def sentences(self, article_row: int) -> list[dict]:
        """The per-sentence results of one recorded article."""
        cursor = self._conn.execute(
            "SELECT sentence, target, text, label, p_favor, p_against, p_none FROM sentences "
            "WHERE article_row = ? ORDER BY sentence, target",
            (article_row,),
        )
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, values)) for values in cursor]

    def check(self) -> list[str]:
        """SQLite's integrity and foreign-key checks; an empty list means sound."""
        problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        problems += [f"orphan sentence rows in {r[0]}" for r in self._conn.execute("PRAGMA foreign_key_check")]
        return problems


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
    }


def _sentence_rows(article_row: int, scores):
    for s in scores.sentences:
        for target in scores.summary:
            p = s[target]["proba"]
            yield (article_row, s["index"], target, s["text"], s[target]["label"], p["favor"], p["against"], p["none"])
