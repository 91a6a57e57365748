"""Scored sentences as one flat table, for work that goes on in pandas, R or a spreadsheet.

One row per scored sentence and target, columns :data:`COLUMNS`, read from the
history database or from a results folder; both give the same rows in the
same order: by date (undated last), article, source, sentence index, and
target in the order of the article's summary. Rows are streamed, so memory
does not grow with the sentences: the database's sentences are read an
article at a time, and a results folder is sorted through a temporary
SQLite table on disk. The file (``.csv`` or ``.parquet``, by its suffix) is written to a
temporary file beside it and renamed, so a failed export leaves the old
file, or none, never half of one.
"""

from __future__ import annotations

import csv
import itertools
import json
import os
import sqlite3
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path

from stance.errors import StanceError, StanceWarning
from stance.fileio import keep_mode, temp_file_beside, through_link
from stance.paths import check_writable, refuse_overwriting, write_error

__all__ = ["COLUMNS", "ExportError", "export_sentences", "sentence_rows"]

COLUMNS = ("article", "source", "date", "title", "url", "model_id",
           "index", "text", "target", "label", "p_favor", "p_against", "p_none")
_ARTICLE_COLUMNS = COLUMNS[:6]
FORMATS = (".csv", ".parquet")
PARQUET_BATCH = 10_000


class ExportError(StanceError):
    """The export cannot be made as asked."""


def export_sentences(
    output: str | Path,
    *,
    db: str | Path | None = None,
    results: str | Path | None = None,
    model_id: str | None = None,
    sources: Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
    escape_formulas: bool = False,
) -> int:
    """Write the scored sentences to ``output`` (.csv or .parquet); return how many rows.

    Reads ``results`` (a folder written by ``stance score --output``) when given,
    else the history database ``db`` (default :func:`stance.store.default_db_path`),
    with the scores of ``model_id`` (an id prefix; default the latest recorded).
    ``sources``, ``since`` and ``until`` select articles as ``stance drift`` does
    (undated articles are kept). Nothing matching is an error, and leaves
    ``output`` as it was. ``escape_formulas`` (CSV only) puts ``'`` before a text
    cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (:data:`FORMULA_STARTS`),
    which a spreadsheet would otherwise run as a formula: article text is written
    by others, and such a cell can fetch a web address or run a command.
    """
    from stance.paths import given_path, link_target, require_utf8_path, results_folder_around

    output = given_path(output, "--output", "give a .csv or .parquet file's path").expanduser()
    db = given_path(db, "--db", "give a history database's path").expanduser() if db is not None else None
    if results is not None:
        results = given_path(results, "--results", "give a results folder's path").expanduser()
    suffix = output.suffix.lower()
    if suffix not in FORMATS:
        found = f"unknown format {output.suffix!r}" if output.suffix else "no suffix"
        raise ExportError(f"--output {output}: {found}; give a file name ending in .csv or .parquet")
    if db is not None and results is not None:
        raise ExportError("give --db or --results, not both")
    if suffix == ".parquet":
        require_utf8_path(output, "--output")
    if escape_formulas and suffix != ".csv":
        raise ExportError("--escape-formulas is for CSV files a spreadsheet opens; Parquet keeps texts as they are")
    held = results_folder_around(link_target(output).parent)  # through a link, and from a subfolder too
    if held is not None or (results is not None and os.path.realpath(output.parent) == os.path.realpath(results)):
        # a Parquet file would become one of its parts; any other file stops pandas.read_parquet(FOLDER)
        raise ExportError(f"--output {output}: lies in the results folder {held or output.parent}, whose files are "
                          "its parts; write it elsewhere")
    if results is None:
        from stance.store import default_db_path, require_database_file

        require_database_file(db or default_db_path())
        refuse_overwriting(output, "--output", [db or default_db_path()])
    check_writable(output, "--output", ours=_is_export)
    rows = sentence_rows(db=db, results=results, model_id=model_id, sources=sources, since=since, until=until)
    with _replacing(output) as tmp:
        written = _write_csv(rows, tmp, escape_formulas) if suffix == ".csv" else _write_parquet(rows, tmp)
        if not written:
            raise ExportError("no scored sentences match --source/--since/--until; widen the selection")
    return written


def _is_export(path: Path) -> bool:
    """Whether an existing file is an export (its columns are :data:`COLUMNS`), which a new export may replace."""
    if path.suffix.lower() == ".csv":
        with open(path, "rb") as handle:
            return handle.readline(4096).rstrip(b"\r\n") == ",".join(COLUMNS).encode()
    import pyarrow.parquet as pq

    try:
        return tuple(pq.read_schema(path).names) == COLUMNS
    except Exception:  # noqa: BLE001 - whatever pyarrow cannot read as Parquet is not an export
        return False


def sentence_rows(
    *,
    db: str | Path | None = None,
    results: str | Path | None = None,
    model_id: str | None = None,
    sources: Sequence[str] | None = None,
    since: str | None = None,
    until: str | None = None,
) -> Iterator[dict]:
    """The rows :func:`export_sentences` writes, as dicts keyed by :data:`COLUMNS`, one at a time."""
    from stance.dates import checked_selection

    model_id, sources, since, until = checked_selection(model_id, sources, since, until)
    if results is not None:
        return _results_rows(Path(results), model_id, sources, since, until)
    return _store_rows(db, model_id, sources, since, until)


# -- reading ----------------------------------------------------------------


def _store_rows(db, model_id, sources, since, until) -> Iterator[dict]:
    from stance.store import HistoryStore

    with HistoryStore(db, create=False, readonly=True) as store:
        picked = _latest_model(store, model_id)
        for article in store.iter_articles(model_id=picked, sources=sources, since=since, until=until):
            order = {t: i for i, t in enumerate(article["summary"])}
            sentences = store.sentences(article["id"], article["article"])
            problem = None
            if any(s["target"] not in order for s in sentences):
                problem = "a recorded sentence is scored for a target its summary lacks"
            elif len(sentences) != article["n_sentences"] * len(order):  # each sentence once per target
                problem = (f"{len(sentences)} sentence scores are recorded where its {article['n_sentences']} "
                           f"sentences and {len(order)} targets make {article['n_sentences'] * len(order)}")
            if problem is not None:
                raise ExportError(f"{store.path}: article {article['article']}: {problem} (edited by hand?); "
                                  "score it again with --record --replace")
            yield from _rows(article, sorted(sentences, key=lambda s: (s["sentence"], order[s["target"]])))


def _latest_model(store, model_id: str | None) -> str:
    """The id of the model whose scores to export: the latest recorded, or the one ``model_id`` names."""
    from stance.store import StoreError

    try:
        chosen, held = store.chosen_model(model_id)
    except StoreError as err:  # none recorded, none of that id, or an id start several share
        raise ExportError(str(err)) from None
    if held > 1 and model_id is None:
        warnings.warn(f"{store.path} holds scores of {held} models; exporting the latest, {chosen['model_id']} "
                      "(choose with --model-id)", StanceWarning, stacklevel=2)
    return chosen["model_id"]


def _results_rows(path: Path, model_id, sources, since, until) -> Iterator[dict]:
    from stance.results import check_results, iter_scores
    from stance.scoring import flat_sentences

    made_by = check_results(path)
    if model_id and not made_by.startswith(model_id):
        raise ExportError(f"{path}: holds scores of model {made_by}, not {model_id!r}")
    spill = sqlite3.connect("")  # a private table on disk, deleted on close: sorting it keeps memory bounded
    try:
        spill.execute("CREATE TABLE articles (date TEXT, article TEXT, source TEXT, head TEXT, sentences TEXT)")
        for batch in iter_scores(path, strict=True):  # every row exported is one a database would record
            spill.executemany("INSERT INTO articles VALUES (?, ?, ?, ?, ?)", [
                (s.date, s.article, s.source or "", json.dumps(_head(s)), json.dumps(s.sentences))
                for s in batch if _selected(s, sources, since, until)
            ])
        for head, sentences in spill.execute(
            "SELECT head, sentences FROM articles ORDER BY date IS NULL, date, article, source"
        ):
            article = json.loads(head)
            yield from _rows(article, flat_sentences(json.loads(sentences), article["targets"]))
    finally:
        spill.close()


def _head(scores) -> dict:
    """What a results article gives every one of its rows, and its targets in summary order."""
    return {"article": scores.article, "source": scores.source, "date": scores.date, "title": scores.title,
            "url": scores.url, "model_id": scores.model["id"], "targets": list(scores.summary)}


def _selected(scores, sources, since, until) -> bool:
    """The history store's selection (undated articles pass the date bounds), for a results article."""
    from stance.dates import source_selected

    if not source_selected(scores.source, sources):
        return False
    day = scores.date
    return day is None or not ((since and day < since) or (until and day > until))


def _rows(article: dict, sentences: Iterable[dict]) -> Iterator[dict]:
    head = {k: article[k] for k in _ARTICLE_COLUMNS}
    for s in sentences:
        yield {**head, "index": s["sentence"], "text": s["text"], "target": s["target"], "label": s["label"],
               "p_favor": s["p_favor"], "p_against": s["p_against"], "p_none": s["p_none"]}


# -- writing ----------------------------------------------------------------


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` that replaces it (fsynced, with the old file's mode, else the umask's)
    once the block ends well."""
    given, path = path, through_link(path)
    missing = [folder for folder in path.parents if not folder.exists()]  # made here, removed again on failure
    try:
        if path != given and missing:  # folders are made for the path given, never for a link's
            raise FileNotFoundError(2, "a symbolic link into a folder that does not exist", str(given))
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(path)
    except OSError as err:
        raise write_error(path, err) from None
    done = False
    try:
        os.close(fd)
        yield Path(tmp)
        keep_mode(tmp, path)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
        done = True
    except OSError as err:
        raise write_error(path, err) from None
    finally:
        Path(tmp).unlink(missing_ok=True)
        for folder in missing if not done else ():
            with suppress(OSError):
                folder.rmdir()


#: What a spreadsheet reads as the start of a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _write_csv(rows: Iterable[dict], path: Path, escape_formulas: bool = False) -> int:
    """UTF-8 with a header; texts with commas, quotes or line breaks are quoted, so they read back whole."""
    written = 0
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            if escape_formulas:
                row = {k: "'" + v if isinstance(v, str) and v.startswith(FORMULA_STARTS) else v for k, v in row.items()}
            writer.writerow(row)
            written += 1
    return written


def _write_parquet(rows: Iterable[dict], path: Path) -> int:
    """Row groups of :data:`PARQUET_BATCH` rows, so only one batch is held at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = pa.schema([(c, pa.int64() if c == "index" else pa.float64() if c.startswith("p_") else pa.string())
                        for c in COLUMNS])
    rows = iter(rows)
    written = 0
    with pq.ParquetWriter(path, schema) as writer:
        while batch := list(itertools.islice(rows, PARQUET_BATCH)):
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            written += len(batch)
    return written
