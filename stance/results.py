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

An article id names one article. When an article comes again with another
text under an id already in the folder (same source; the text's SHA-256
tells), it is not written unless asked (``stance score --replace``); then its
new version goes into a new part, and every reader here (:class:`ResultsFolder`,
:func:`read_results`, :func:`iter_scores`) takes the last version written of
each (article, source): parts in name order (numbers by value: part-100000 after
part-99999), rows in order within a part.
Each row keeps where its text came from (``location``; parts written before
that column read as unknown).

Every part of a folder is checked before any row is read or anything is
written: a regular file, a readable Parquet footer, stance's columns with their
types, one model, and values as :func:`results_rows` writes them (JSON of the
right shape, required fields set, nets in [-1, 1], probabilities in [0, 1]).
A part that fails is named, to be moved out of the folder.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from datetime import date as Date
from datetime import datetime, timezone
from pathlib import Path

from stance.errors import InputError, TextsError, ValueInputError, check_text
from stance.fileio import follow_umask, parse_json, temp_file_beside
from stance.paths import require_utf8_path
from stance.schema import MAX_SENTENCE_INDEX, SLACK, STANCES, is_count, is_within

__all__ = ["ResultsFolder", "Versions", "check_output", "check_results", "check_scores", "folder_model", "iter_scores",
           "read_results", "result_parts", "results_rows"]

COLUMNS = ("article", "source", "date", "date_source", "title", "url", "content_sha256", "model_id",
           "n_sentences", "n_skipped", "summary", "sentences", "skipped", "scored_at", "model", "location")
#: Columns every part has; ``location`` came later and may be missing.
REQUIRED = COLUMNS[:-1]
_INTEGERS = {"n_sentences", "n_skipped"}


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
            "model": json.dumps(s.model, sort_keys=True), "location": s.location,
        }
        for s in scores
    ]


#: Ids that name no article: what ``score_article`` gives one scored without an id (stdin's name, too).
_NO_ID = frozenset({"-"})


def check_scores(scores: Iterable) -> list[dict]:
    """The :func:`results_rows` of these ``ArticleScores``, each checked as a part's rows are when read.

    What ``score_article`` returns always passes. A result made or edited by
    hand (no model id, a date that is no date, a label outside the scheme, a
    probability out of range, half a surrogate pair) is refused here, before
    it is written where every later read would refuse the whole folder or
    database.
    """
    from stance.dates import DATE_SOURCES
    from stance.scoring import ArticleScores

    scores = list(scores)
    for s in scores:
        if not isinstance(s, ArticleScores):
            raise TextsError(f"a result is {type(s).__name__}, not ArticleScores (as score_article returns)")
        where = f"the scores of article {s.article!r}"
        if not isinstance(s.article, str):
            raise ValueInputError(f"a result's article id is {s.article!r}; give every result a text id")
        if s.article in _NO_ID or not s.article.strip():  # each would replace the article last stored under it
            raise ValueInputError(f"a result's article id is {s.article!r}, which names no article: "
                                  "give each its own, score_article(..., article_id='its-id')")
        if not isinstance(s.model, dict) or not isinstance(s.model.get("id"), str) or not s.model["id"]:
            raise ValueInputError(f"{where} name no model id (model['id']); record results as score_article returns them")
        for name in ("source", "title", "url", "content_sha256", "location", "date"):
            if getattr(s, name) is not None and not isinstance(getattr(s, name), str):
                raise ValueInputError(f"{where} have a {name} of type {type(getattr(s, name)).__name__}; give text or None")
        try:  # a date out of the range reports take is kept: readers warn of it and count its article undated
            valid_date = s.date is None or (len(s.date) == 10 and Date.fromisoformat(s.date).isoformat() == s.date)
        except ValueError:
            valid_date = False
        if not valid_date:
            raise ValueInputError(f"{where} have date {s.date!r}; give a date as YYYY-MM-DD, or None")
        if s.date_source is not None and s.date_source not in DATE_SOURCES:
            raise ValueInputError(f"{where} have date_source {s.date_source!r}; give one of "
                                  f"{', '.join(DATE_SOURCES)}, or None")
        for i, sentence in enumerate(s.sentences if isinstance(s.sentences, list) else []):
            if isinstance(sentence, dict) and isinstance(sentence.get("text"), str):
                check_text(sentence["text"], f"{where}: sentence {i}")
        for i, line in enumerate(s.skipped if isinstance(s.skipped, list) else []):
            if isinstance(line, str):
                check_text(line, f"{where}: skipped line {i}")
    try:
        rows = results_rows(scores)
    except (TypeError, ValueError) as err:  # a value JSON cannot hold, or a summary that is no mapping
        raise ValueInputError(f"a result cannot be written ({err}); record results as score_article returns them") from None
    for row in rows:
        where = f"the scores of article {row['article']!r}"
        for column, value in row.items():
            if isinstance(value, str):
                check_text(value, f"{where}: {column}")
        try:
            _check_row(row, sentences=True)
        except ValueError as err:
            raise ValueInputError(f"{where}: {err}; record results as score_article returns them") from None
    for s in scores:
        _require_summary_of_sentences(s)
    _require_same_targets(scores)
    return rows


def _require_same_targets(scores, firsts: dict | None = None) -> dict:
    """Refuse articles scored for other targets than the first of their model (``firsts``: an earlier
    batch's, per model id ``(article, targets)``): one model's scores share its targets, and drift reads them all."""
    firsts = {} if firsts is None else firsts
    for s in scores:
        article, targets = firsts.setdefault(s.model["id"], (s.article, sorted(s.summary)))
        if sorted(s.summary) != targets:
            raise ValueInputError(
                f"the scores of article {s.article!r} are for {', '.join(sorted(s.summary)) or 'no target'}, and those of "
                f"{article!r} for {', '.join(targets) or 'no target'}; one model's scores are for the same targets")
    return firsts


def _require_summary_of_sentences(scores) -> None:
    """Refuse a summary its sentences do not add up to: drift reads the net, and a reader traces it to them."""
    from stance.scoring import target_summary

    for target, summary in scores.summary.items():
        counted = target_summary(scores.sentences, target)
        if any(summary[k] != counted[k] for k in STANCES) or abs(summary["net"] - counted["net"]) > 1e-6:
            shown = [", ".join(f"{k} {d[k]}" for k in STANCES) + f", net {d['net']:+.3f}" for d in (summary, counted)]
            raise ValueInputError(f"the scores of article {scores.article!r}: the {target} summary ({shown[0]}) is not "
                                  f"what its sentences add up to ({shown[1]}); record results as score_article returns them")


class ResultsFolder:
    """A folder of result parts: what is done, and appending more.

    ``done`` holds the (article, source) pairs in the folder; ``versions`` maps
    each to the SHA-256 and location of its last written text.
    """

    def __init__(self, path: str | Path, model_id: str):
        self.path = Path(path)
        models = check_output(self.path)
        parts = _parts(self.path)
        if models - {model_id}:
            raise InputError(
                f"{self.path}: holds results of model {sorted(models)[0]}, not {model_id}; "
                "give a new --output folder for this model"
            )
        self.path.mkdir(parents=True, exist_ok=True)
        self.versions: dict[tuple[str, str | None], tuple[str | None, str | None]] = {}
        self.dates: dict[tuple[str, str | None], str | None] = {}  # the date each article was written with
        self._next = 0
        for part in parts:
            names = _part_columns(part)
            columns = ["article", "source", "content_sha256", "date"] + (["location"] if "location" in names else [])
            rows = _read_part(part, columns).to_pylist()
            self.versions.update(((r["article"], r["source"]), (r["content_sha256"], r.get("location"))) for r in rows)
            self.dates.update(((r["article"], r["source"]), r["date"]) for r in rows)
            if part.stem.startswith("part-") and part.stem[5:].isdecimal():  # isdigit() takes "²", which int() refuses
                self._next = max(self._next, int(part.stem[5:]) + 1)
        self.done: set[tuple[str, str | None]] = set(self.versions)

    def write(self, scores: list) -> Path | None:
        """Append one part with these results (atomically); returns its path. Results made by hand are
        checked first (:func:`check_scores`), so that no part is written that the folder's reader refuses."""
        return self.write_rows(check_scores(scores))

    def write_rows(self, rows: list[dict]) -> Path | None:
        """Append one part with these :func:`results_rows` (atomically); returns its path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not rows:
            return None
        table = pa.Table.from_pylist(rows, schema=_schema())
        target = self.path / f"part-{self._next:05d}.parquet"
        fd, tmp = temp_file_beside(target)
        follow_umask(fd)
        os.close(fd)
        try:
            pq.write_table(table, tmp)
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            target = self._publish(tmp)
        finally:
            Path(tmp).unlink(missing_ok=True)
        self._next = int(target.stem[5:]) + 1
        for r in rows:
            self.versions[(r["article"], r["source"])] = (r["content_sha256"], r["location"])
            self.dates[(r["article"], r["source"])] = r["date"]
            self.done.add((r["article"], r["source"]))
        return target

    def _publish(self, tmp: str) -> Path:
        """Give a written part the first free number from ``_next`` on, never taking a name in use:
        another run writing to the same folder keeps its part (a later part wins, so the order is fine)."""
        number = self._next
        while True:
            target = self.path / f"part-{number:05d}.parquet"
            try:
                os.link(tmp, target)
                return target
            except FileExistsError:
                number += 1
            except OSError:  # a file system without hard links
                if not target.exists():
                    os.replace(tmp, target)
                    return target
                number += 1


class Versions:
    """Which articles to score, given the versions a results folder and the history store hold.

    An article whose text is in ``folder`` already is skipped (resumed); with
    ``skip_recorded``, one whose text ``store`` holds too (same source and model), so
    that a long ``--record`` run cut short can be finished without scoring again what
    it stored (with both, an article is skipped only when both hold its text). One
    whose id holds another text there or in ``store`` is refused with a warning,
    unless ``replace``. :attr:`refused` and :attr:`skipped` count them. An article
    resumed from ``folder`` that ``store`` does not hold in that version is named in
    :attr:`unrecorded`, to be recorded from the folder (:meth:`record_resumed`): a run
    that wrote ``--output`` first and records second would otherwise record nothing.
    """

    def __init__(self, model_id: str, *, folder: ResultsFolder | None = None, store=None, replace: bool = False,
                 skip_recorded: bool = False):
        self.model_id, self.folder, self.store, self.replace = model_id, folder, store, replace
        self.skip_recorded = skip_recorded and store is not None
        self.refused = self.skipped = self.redated = 0
        self.unrecorded: set[tuple[str, str | None]] = set()

    def select(self, documents: Iterable) -> Iterator:
        """The documents to score, lazily."""
        for doc in documents:
            held = self.folder.versions.get((doc.id, doc.source)) if self.folder is not None else None
            in_folder = held is not None and held[0] == doc.content_sha256
            if in_folder and self._redated(doc):
                if self.replace:  # written again with its new date (a later part wins)
                    yield doc
                    continue
                self._warn_of_date(doc)
            if in_folder and not self.skip_recorded:  # resumed from the folder
                self.skipped += 1
                if self.store is not None:
                    recorded = self.store.recorded_version(doc.id, doc.source, self.model_id)
                    if recorded is None or recorded[0] != held[0]:
                        self.unrecorded.add((doc.id, doc.source))
                continue
            asked = self.store is not None and (self.skip_recorded or not self.replace)
            recorded = self.store.recorded_version(doc.id, doc.source, self.model_id) if asked else None
            in_store = recorded is not None and recorded[0] == doc.content_sha256
            if self.skip_recorded and in_store and (in_folder or self.folder is None):
                self.skipped += 1
                continue
            if not self.replace and self._refuse(doc, held, recorded):
                continue
            yield doc

    def _redated(self, doc) -> bool:
        """Whether the folder holds ``doc``'s text under another date than it is given now (a corrected --date)."""
        return self.folder.dates.get((doc.id, doc.source), doc.date) != doc.date

    def _warn_of_date(self, doc) -> None:
        import warnings

        from stance.errors import StanceWarning

        self.redated += 1
        warnings.warn(f"{doc.location}: {self.folder.path} holds it dated {self.folder.dates[(doc.id, doc.source)] or 'none'}, "
                      f"not {doc.date or 'none'} as now; it is kept as it was: pass --replace to write it with the new "
                      "date", StanceWarning, stacklevel=3)

    def record_resumed(self, record: Callable[[list], int], batch_size: int = 64) -> int:
        """Record, by ``record`` (a batch at a time), the articles resumed from the folder that the
        store lacks in their version; return how many were recorded."""
        if not self.unrecorded:
            return 0
        total = 0
        for batch in iter_scores(self.folder.path, batch_size, strict=True):
            if resumed := [s for s in batch if (s.article, s.source) in self.unrecorded]:
                total += record(resumed)
        self.unrecorded.clear()
        return total

    def _refuse(self, doc, in_folder, recorded) -> bool:
        import warnings

        from stance.errors import StanceWarning
        from stance.store import refused_message

        clashes = [(version[1], str(place.path)) for version, place in ((in_folder, self.folder), (recorded, self.store))
                   if version is not None and version[0] and version[0] != doc.content_sha256]
        for location, where in clashes:
            warnings.warn(refused_message(doc.location, doc.id, location, where), StanceWarning, stacklevel=3)
        self.refused += bool(clashes)
        return bool(clashes)


def _schema():
    import pyarrow as pa

    return pa.schema([(c, pa.int64() if c in _INTEGERS else pa.string()) for c in COLUMNS])


def _parts(path: Path) -> list[Path]:
    """The Parquet parts of a folder, in the order they count (a later one wins): by name, numbers by value,
    so that ``part-100000`` comes after ``part-99999`` as it was written."""
    return sorted(path.glob("*.parquet"), key=_part_order) if path.is_dir() else []


def _part_order(part: Path) -> tuple:
    # re.split with a group alternates text and digit runs, so every odd piece is a number ("²" is no digit here).
    return tuple((0, int(piece), "") if i % 2 else (1, 0, piece) for i, piece in enumerate(re.split(r"(\d+)", part.name)))


def result_parts(path: str | Path) -> list[Path]:
    """The Parquet parts of a results folder; an error that says how to make them when there are none."""
    path = Path(path)
    parts = _parts(path)
    if not parts and os.path.lexists(path) and not path.is_dir():
        raise InputError(f"{path}: a file, not a results folder; give a folder that `stance score ... --output` wrote")
    if parts:
        return parts
    other = _not_parts(path)
    if other:
        raise InputError(f"{path}: no result parts here, only other files (such as {other[0].name!r}); "
                         "give the folder `stance score ... --output` wrote")
    raise InputError(f"{path}: no result parts here; write them with `stance score ... --output {path}`")


def _bad_part(part: Path, why: str) -> InputError:
    return InputError(f"{part}: {why}; move it out of {part.parent} (stance reads every .parquet file there)")


def _require_regular(part: Path) -> os.stat_result:
    """A part's stat, refusing anything but a regular file before it is opened (a FIFO would block)."""
    from stance.segment import file_kind

    try:
        st = os.stat(part)
    except OSError as err:
        raise _bad_part(part, f"cannot be read ({err.strerror})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _bad_part(part, f"is {file_kind(st.st_mode)}, not a regular file")
    return st


def _part_columns(part: Path) -> dict:
    """A part's columns and their Arrow types, from its footer."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(part)
    except (pa.ArrowException, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _bad_part(part, f"not a readable Parquet file ({reason})") from None
    return {field.name: field.type for field in schema}


def _read_part(part: Path, columns: list[str]):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return pq.read_table(part, columns=columns)
    except (pa.ArrowException, OSError) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise _bad_part(part, f"cannot be read ({reason})") from None


def _type_fits(column: str, kind) -> bool:
    import pyarrow as pa

    if pa.types.is_null(kind):  # a column with no value in a part (Ray writes these)
        return column not in ("article", "model_id", "summary", "sentences")
    if column in _INTEGERS:
        return pa.types.is_integer(kind)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def check_parts(path: Path, parts: list[Path], *, sentences: bool = True) -> set[str]:
    """Check every part (a file, footer, columns, types, one model, values) before any row is used; return the models.

    Without ``sentences``, the per-sentence results (the bulk of a part) are not checked, for
    readers that do not use them.
    """
    models: set[str] = set()
    for part in parts:
        st = _require_regular(part)
        columns = _part_columns(part)
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise _bad_part(part, f"not a stance result part (no {', '.join(missing)} column)")
        for column in (c for c in COLUMNS if c in columns):
            if not _type_fits(column, columns[column]):
                raise _bad_part(part, f"not a stance result part (column {column} holds {columns[column]})")
        found = set(_read_part(part, ["model_id"]).column("model_id").to_pylist())
        if None in found:
            raise _bad_part(part, "not a stance result part (rows without a model_id)")
        models |= found
        if len(models) > 1:
            raise InputError(f"{path}: holds results of several models ({', '.join(sorted(models))}); "
                             "keep one model per folder")
        key = _part_key(part, st)
        if not _checked.get(key, False) and (sentences or key not in _checked):
            _check_values(part, columns, sentences)
            _checked[key] = sentences or _checked.get(key, False)
    return models


#: Parts whose values were checked, by path and stat (parts are written whole, never changed in place):
#: True when their sentences were checked too. A command checks a folder more than once.
_checked: dict[tuple, bool] = {}


def _part_key(part: Path, st: os.stat_result) -> tuple:
    """A part as it is now: its change time too, which no one can set back (its modification time can be)."""
    if len(_checked) > 10_000 or len(_articles_checked) > 10_000:  # a long-lived process: the memos stay bounded
        _checked.clear()
        _articles_checked.clear()
    return str(part), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns


def _json(text: str, what: str):
    try:
        return parse_json(text)  # too deep or too long a number is a JSONDecodeError there too
    except ValueError:
        raise ValueError(f"{what} not valid JSON") from None


def _summary_targets(text: str | None) -> list[str]:
    """The targets of a ``summary`` cell, checked: per target, label counts and a net in [-1, 1]."""
    if text is None:
        raise ValueError("no summary")
    summary = _json(text, "its summary is")
    if not isinstance(summary, dict):
        raise ValueError("its summary is not an object of targets")
    if not summary:  # drift and export read every article by its targets
        raise ValueError("its summary names no target")
    for target, counts in summary.items():
        if not isinstance(counts, dict) or not all(is_count(counts.get(k)) for k in STANCES):
            raise ValueError(f"its summary of {target!r} lacks counts of {', '.join(STANCES)}")
        net = counts.get("net")
        if not is_within(net, -1.0, 1.0):
            raise ValueError(f"its summary of {target!r} has net {net!r}, not a number in [-1, 1]")
    return list(summary)


def _check_sentences(text: str | None, targets: list[str]) -> int:
    """A ``sentences`` cell, checked: per sentence an index, a text and each target's label and probabilities;
    returns how many it holds."""
    if text is None:
        raise ValueError("no sentences")
    sentences = _json(text, "its sentences are")
    if not isinstance(sentences, list):
        raise ValueError("its sentences are not a list")
    low, high = -SLACK, 1.0 + SLACK
    seen: set[int] = set()
    for i, s in enumerate(sentences):
        if not isinstance(s, dict) or not is_count(s.get("index")) or not isinstance(s.get("text"), str):
            raise ValueError(f"its sentence {i} has no index or text")
        if s["index"] in seen or s["index"] > MAX_SENTENCE_INDEX:
            raise ValueError(f"its sentence {i} has index {s['index']}, "
                             + ("used twice" if s["index"] in seen else f"above {MAX_SENTENCE_INDEX}"))
        seen.add(s["index"])
        for target in targets:
            result = s.get(target)
            proba = result.get("proba") if isinstance(result, dict) else None
            if not isinstance(proba, dict) or "label" not in result:
                raise ValueError(f"its sentence {i} has no label and probabilities for {target!r}")
            if result["label"] not in STANCES:
                raise ValueError(f"its sentence {i} has label {result['label']!r} for {target!r}, "
                                 f"not one of {', '.join(STANCES)}")
            for k in STANCES:
                p = proba.get(k)
                if not (type(p) in (int, float) and low <= p <= high):  # is_within(p, 0, 1), inlined: it runs per sentence
                    raise ValueError(f"its sentence {i} has P({k}) {p!r} for {target!r}, not a number in [0, 1]")
            total = proba["favor"] + proba["against"] + proba["none"]
            if abs(total - 1.0) > SLACK:  # the net is read from them: three of 0.9 would count as a stance
                raise ValueError(f"its sentence {i} has probabilities for {target!r} that add up to {total:.6g}, not 1")
    return len(sentences)


def _check_row(row: dict, sentences: bool) -> None:
    for column in ("article", "content_sha256"):
        if row[column] is None:
            raise ValueError(f"no {column}")
    for column in ("n_sentences", "n_skipped"):
        if row.get(column) is not None and row[column] < 0:
            raise ValueError(f"{column} is {row[column]}, below 0")
    if row.get("model") is not None:
        model = _json(row["model"], "its model is")
        if not isinstance(model, dict) or model.get("id") != row["model_id"]:
            raise ValueError(f"its model does not say its id is {row['model_id']}")
    targets = _summary_targets(row["summary"])
    if sentences:
        counted = {"n_sentences": _check_sentences(row["sentences"], targets)}
        skipped = _json(row["skipped"], "its skipped lines are") if row.get("skipped") is not None else []
        if not isinstance(skipped, list) or not all(isinstance(line, str) for line in skipped):
            raise ValueError("its skipped lines are not a list of texts")
        counted["n_skipped"] = len(skipped)
        for column, n in counted.items():  # drift divides by n_sentences: a wrong one moves every share
            if row.get(column) is not None and row[column] != n:
                raise ValueError(f"{column} is {row[column]}, where it holds {n}")


def _check_values(part: Path, columns: dict, sentences: bool) -> None:
    """Every row of a part as :func:`results_rows` writes it, a batch at a time (memory stays bounded)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    wanted = ["article", "content_sha256", "model_id", "n_sentences", "n_skipped", "summary", "model"]
    if sentences:
        wanted += ["sentences", "skipped"]
    row_number = 0
    try:
        for batch in pq.ParquetFile(part).iter_batches(batch_size=1024, columns=[c for c in wanted if c in columns]):
            for row in batch.to_pylist():
                try:
                    _check_row(row, sentences)
                except ValueError as err:
                    where = f"row {row_number}" + (f", article {row['article']!r}" if row["article"] is not None else "")
                    raise _bad_part(part, f"not a stance result part ({where}: {err})") from None
                row_number += 1
    except (pa.ArrowException, OSError) as err:
        raise _bad_part(part, f"cannot be read ({str(err).strip() or type(err).__name__})") from None


def check_output(path: str | Path) -> set[str]:
    """Check a folder for ``--output`` (it may be new or empty): every part sound; return its models."""
    path = Path(path)
    require_utf8_path(path, "--output")
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: exists and is not a folder; give --output a folder for the result parts")
    other = _not_parts(path)
    if other:
        raise InputError(f"{path}: holds {other[0].name!r}, which is no result part ({len(other)} such); the parts "
                         "are read as one table (pandas.read_parquet(FOLDER)), so give --output a new or empty folder")
    return check_parts(path, _parts(path))


def _not_parts(path: Path) -> list[Path]:
    """What a folder holds besides Parquet parts, in name order: what a reader of the folder as one table
    (pyarrow, pandas) would read too. Names starting with ``.`` or ``_`` (temporaries) are no one's; a
    ``.parquet`` name that is no regular file is a part, named as such by :func:`check_parts`."""
    if not path.is_dir():
        return []
    return sorted(p for p in path.iterdir() if not p.name.startswith((".", "_")) and p.suffix != ".parquet")


def check_results(path: str | Path, *, sentences: bool = True) -> str:
    """Check a results folder whole, before it is read or recorded; return the id of its model.

    ``sentences`` is as in :func:`check_parts`.
    """
    path = Path(path)
    require_utf8_path(path, "the results folder")
    parts = result_parts(path)
    models = check_parts(path, parts, sentences=sentences)
    if not models:
        raise InputError(f"{path}: its parts hold no rows; write them with `stance score ... --output {path}`")
    return next(iter(models))


def read_results(path: str | Path, *, sources=None, since: str | None = None, until: str | None = None,
                 strongest: bool = False) -> tuple[list[dict], str]:
    """Article rows of a results folder (as drift reads them) and the id of the model that made them.

    ``since``/``until`` keep undated articles, as the history store does.
    With ``strongest``, each row also holds its title, url and strongest
    sentences per target and side (the rest of its sentences is not kept).
    """
    from stance.dates import checked_selection, source_selected
    from stance.evidence import strongest_sentences

    _, sources, since, until = checked_selection(None, sources, since, until)
    model = check_results(path)
    check_every_article(path)  # drift reads the summaries: each must be what its sentences add up to
    columns = ["article", "source", "date", "n_sentences", "summary", "model_id"]
    if strongest:
        columns += ["title", "url", "sentences"]
    latest: dict[tuple[str, str | None], dict | None] = {}  # None: the last version is not selected
    for part in result_parts(path):
        held = _part_columns(part)  # a part written before date sources has none
        extra = [c for c in ("date_source", "content_sha256") if c in held]  # copies of one text count once in drift
        for row in _read_part(part, columns + extra).to_pylist():
            key = (row["article"], row["source"])
            day = row["date"]
            if not source_selected(row["source"], sources) or (
                    day is not None and ((since and day < since) or (until and day > until))):
                latest[key] = None
                continue
            row["summary"] = json.loads(row["summary"])
            if strongest:
                row["strongest"] = strongest_sentences(json.loads(row.pop("sentences")), list(row["summary"]))
            latest[key] = row
    return [r for r in latest.values() if r is not None], model


def _last_versions(parts: list[Path]) -> dict[tuple[str, str | None], tuple[int, int]]:
    """Where the last version of each (article, source) is: (part index, row index)."""
    last = {}
    for i, part in enumerate(parts):
        table = _read_part(part, ["article", "source"])
        for j, key in enumerate(zip(table.column("article").to_pylist(), table.column("source").to_pylist())):
            last[key] = (i, j)
    return last


def iter_scores(path: str | Path, batch_size: int = 64, *, strict: bool = False) -> Iterator[list]:
    """The articles of a results folder as ``ArticleScores``, a batch at a time (memory stays bounded).

    The folder is checked whole first, when this is called; each (article, source) comes
    once, in its last version. ``strict`` also checks every article as a database records
    it (:func:`check_scores`: dates, date sources, texts), all before the first batch, so
    that a folder with one row edited by hand is refused before any of it is recorded.
    """
    check_results(path)
    if strict:
        check_every_article(path, batch_size)
    return _batches(path, batch_size)


def check_every_article(path: str | Path, batch_size: int = 64) -> None:
    """Refuse a results folder (checked whole already) if any article is not as a database would record it:
    a summary its sentences do not add up to, a date that is none, another model's targets."""
    key = _folder_key(path)
    if key in _articles_checked:  # `stance record` checks every folder before recording, and recording checks again
        return
    try:
        firsts: dict = {}
        for batch in _batches(path, batch_size):
            check_scores(batch)
            _require_same_targets(batch, firsts)
    except (TextsError, ValueInputError) as err:
        raise type(err)(f"{path}: {err}; the folder is refused whole") from None
    _articles_checked.add(key)


#: Folders whose every article was checked, by the path and stat of each of their parts.
_articles_checked: set[tuple] = set()


def _folder_key(path: str | Path) -> tuple:
    """What a folder's parts are now: a part added, removed or written again changes it."""
    return tuple(_part_key(part, _require_regular(part)) for part in result_parts(path))


def folder_model(path: str | Path) -> dict:
    """What identifies the model of a results folder (checked whole already), as its newest part records it:
    id, path, hashes and encoder, or only the id for parts written before they held more."""
    model_id = check_results(path, sentences=False)
    for part in reversed(result_parts(path)):
        if "model" in _part_columns(part):
            recorded = [m for m in _read_part(part, ["model"]).column("model").to_pylist() if m is not None]
            if recorded:
                return json.loads(recorded[-1])  # checked: an object whose id is the folder's
    return {"id": model_id}


def _batches(path, batch_size: int) -> Iterator[list]:
    """:func:`iter_scores` of a folder already checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stance.scoring import ArticleScores

    parts = result_parts(path)
    last = _last_versions(parts)
    for i, part in enumerate(parts):
        row_number = 0
        try:
            batches = pq.ParquetFile(part).iter_batches(batch_size=batch_size)
            for batch in batches:
                rows = []
                for row in batch.to_pylist():
                    if last[(row["article"], row["source"])] == (i, row_number):
                        rows.append(_scores_of(ArticleScores, row))
                    row_number += 1
                if rows:
                    yield rows
        except (pa.ArrowException, OSError) as err:
            raise _bad_part(part, f"cannot be read ({str(err).strip() or type(err).__name__})") from None


def _scores_of(cls, row: dict):
    """One result row back as the ArticleScores it was written from."""
    model = json.loads(row["model"]) if row.get("model") else {"id": row["model_id"]}
    scores = cls(
        article=row["article"], date=row.get("date"), model=model, sentences=json.loads(row["sentences"]),
        skipped=json.loads(row.get("skipped") or "[]"), summary=json.loads(row["summary"]),
        date_source=row.get("date_source"), source=row.get("source"), title=row.get("title"), url=row.get("url"),
        content_sha256=row.get("content_sha256"), location=row.get("location"),
    )
    scores._scored_at = row.get("scored_at")  # when it was scored, which a database that records it keeps
    return scores
