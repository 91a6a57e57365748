"""Scoring results written as they come: a folder of Parquet parts that resumes.

``stance score ... --output RESULTS`` appends one Parquet file per batch of
1,024 articles to the folder ``RESULTS`` (``part-00000.parquet``, ...), each written
to a temporary name and renamed, so an interrupted run leaves whole parts
only. Run again with the same folder and the articles already in it are
skipped, so nothing finished is scored twice. A folder holds the results of
one model; another model is refused. The parts are one Parquet data set,
readable by pandas, pyarrow or Ray (``pd.read_parquet(RESULTS)``), and
:func:`iter_scores` turns them back into ``ArticleScores`` for the history
store (``stance record RESULTS``, or ``--record`` beside ``--engine ray``).
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from stance.errors import InputError

__all__ = ["ResultsFolder", "iter_scores", "read_results", "result_parts", "results_rows"]

COLUMNS = ("article", "source", "date", "date_source", "title", "url", "content_sha256", "model_id",
           "n_sentences", "n_skipped", "summary", "sentences", "skipped", "scored_at", "model")


def results_rows(scores: Iterable) -> list[dict]:
    """ArticleScores as flat rows: per-target summary, sentences and skipped lines as JSON text."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    return [
        {
            "article": s.article, "source": s.source, "date": s.date, "date_source": s.date_source, "title": s.title,
            "url": s.url, "content_sha256": s.content_sha256, "model_id": s.model["id"],
            "n_sentences": len(s.sentences), "n_skipped": len(s.skipped),
            "summary": json.dumps(s.summary), "sentences": json.dumps(s.sentences, ensure_ascii=False),
            "skipped": json.dumps(s.skipped, ensure_ascii=False), "scored_at": stamp,
            "model": json.dumps(s.model, sort_keys=True),
        }
        for s in scores
    ]


class ResultsFolder:
    """A folder of result parts: what is done, and appending more."""

    def __init__(self, path: str | Path, model_id: str):
        import pyarrow.parquet as pq

        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise InputError(f"{self.path}: exists and is not a folder; give --output a folder for the result parts")
        self.path.mkdir(parents=True, exist_ok=True)
        self.done: set[tuple[str, str | None]] = set()
        self._next = 0
        for part in sorted(self.path.glob("part-*.parquet")):
            table = pq.read_table(part, columns=["article", "source", "model_id"])
            models = set(table.column("model_id").to_pylist())
            if models - {model_id}:
                raise InputError(
                    f"{self.path}: holds results of model {sorted(models)[0]}, not {model_id}; "
                    "give a new --output folder for this model"
                )
            self.done.update(zip(table.column("article").to_pylist(), table.column("source").to_pylist()))
            self._next = max(self._next, int(part.stem.split("-")[1]) + 1)

    def write(self, scores: list) -> Path | None:
        """Append one part with these results (atomically); returns its path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = results_rows(scores)
        if not rows:
            return None
        table = pa.Table.from_pylist(rows, schema=_schema())
        target = self.path / f"part-{self._next:05d}.parquet"
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=".part-", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._next += 1
        self.done.update((r["article"], r["source"]) for r in rows)
        return target


def _schema():
    import pyarrow as pa

    ints = {"n_sentences", "n_skipped"}
    return pa.schema([(c, pa.int64() if c in ints else pa.string()) for c in COLUMNS])


def result_parts(path: str | Path) -> list[Path]:
    """The Parquet parts of a results folder; an error that says how to make them when there are none."""
    path = Path(path)
    parts = sorted(path.glob("*.parquet")) if path.is_dir() else []
    if not parts:
        raise InputError(f"{path}: no result parts here; write them with `stance score ... --output {path}`")
    return parts


def read_results(path: str | Path, *, sources=None, since: str | None = None, until: str | None = None) -> tuple[list[dict], str]:
    """Article rows of a results folder (as drift reads them) and the id of the model that made them.

    ``since``/``until`` keep undated articles, as the history store does.
    """
    import pyarrow.parquet as pq

    columns = ["article", "source", "date", "n_sentences", "summary", "model_id"]
    rows = [row for part in result_parts(path) for row in pq.read_table(part, columns=columns).to_pylist()]
    models = sorted({r["model_id"] for r in rows})
    if len(models) > 1:
        raise InputError(f"{path}: holds results of several models ({', '.join(models)}); keep one model per folder")
    kept = []
    for r in rows:
        if sources and r["source"] not in sources:
            continue
        if r["date"] is not None and ((since and r["date"] < since) or (until and r["date"] > until)):
            continue
        kept.append({**r, "summary": json.loads(r["summary"])})
    return kept, models[0]


def iter_scores(path: str | Path, batch_size: int = 64) -> Iterator[list]:
    """The articles of a results folder as ``ArticleScores``, a batch at a time (memory stays bounded)."""
    import pyarrow.parquet as pq

    from stance.scoring import ArticleScores

    for part in result_parts(path):
        parquet = pq.ParquetFile(part)
        names = set(parquet.schema_arrow.names)
        missing = {"article", "model_id", "summary", "sentences"} - names
        if missing:
            raise InputError(f"{part}: not a stance result part (no {', '.join(sorted(missing))} column)")
        for batch in parquet.iter_batches(batch_size=batch_size):
            yield [_scores_of(ArticleScores, row) for row in batch.to_pylist()]


def _scores_of(cls, row: dict):
    """One result row back as the ArticleScores it was written from."""
    model = json.loads(row["model"]) if row.get("model") else {"id": row["model_id"]}
    return cls(
        article=row["article"], date=row.get("date"), model=model, sentences=json.loads(row["sentences"]),
        skipped=json.loads(row.get("skipped") or "[]"), summary=json.loads(row["summary"]),
        date_source=row.get("date_source"), source=row.get("source"), title=row.get("title"), url=row.get("url"),
        content_sha256=row.get("content_sha256"),
    )
