"""Corpora of dated articles: files, folders and tables, read the same way.

``stance score`` and :func:`read_documents` accept, in any mix:

* an article file (UTF-8 text, or UTF-16/32 with a byte-order mark; its id is
  the file stem) or ``-`` for stdin;
* a folder, searched recursively for ``*.txt`` (in any case; a Word, PDF or HTML
  file there is named in a warning, not read); an ``articles.jsonl`` index in
  a folder (one object per article: ``id`` = file stem, and any of ``date``,
  ``source``, ``title``, ``url``) supplies their metadata like a table would;
* a table (``.jsonl``, ``.csv``, ``.parquet``) with a ``text`` column and
  optional ``id``, ``date``, ``source``, ``title`` and ``url`` columns.

An article's date comes from, in order: its table (or index) column, the
``date`` given by the caller, a date stated in its opening lines, else none.
``Document.date_source`` records which (``column``, ``option``, ``text``; ``inferred``
for an index's date that its line marks ``"date_source": "inferred"``, a guess).

Only regular files are read (a FIFO or a device given by name is refused, one
in a folder skipped with a warning), and no article may exceed
``STANCE_MAX_ARTICLE_MB`` (default 10 MB) of text.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import tempfile
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from stance.dates import DATE_SOURCES, date_in_text, parse_date
from stance.errors import InputError, StanceWarning
from stance.fileio import UnreadableJSON, holds_lone_surrogate, parse_json
from stance.paths import lies_within
from stance.segment import (
    Article,
    decode_text,
    file_encoding_advice,
    max_article_bytes,
    not_regular,
    printable_name,
    read_article_bytes,
    read_stdin_bytes,
    regular_file,
    require_regular_file,
    too_big,
    visible_line,
)

__all__ = ["COLUMNS", "TABLE_SUFFIXES", "Document", "read_documents", "read_table"]

#: Columns a table may have; ``text`` is required.
COLUMNS = ("text", "id", "date", "source", "title", "url")
TABLE_SUFFIXES = (".jsonl", ".csv", ".parquet")
INDEX_NAME = "articles.jsonl"


@dataclass
class Document:
    """One article to score, with what is known about it."""

    id: str
    text: str
    date: str | None = None
    date_source: str | None = None
    source: str | None = None
    title: str | None = None
    url: str | None = None
    location: str = field(default="", repr=False)

    @cached_property
    def article(self) -> Article:
        return Article.from_text(self.text, id=self.id)

    @cached_property
    def content_sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def _resolve_date(doc: Document, date: str | None) -> Document:
    """Apply the precedence column > option > text to a document."""
    if doc.date is not None:
        doc.date_source = "inferred" if doc.date_source == "inferred" else "column"
    elif date is not None:
        doc.date, doc.date_source = date, "option"
    else:
        found = date_in_text(doc.text)
        doc.date, doc.date_source = found, ("text" if found else None)
    return doc


def read_documents(
    inputs: Iterable[str | Path],
    *,
    date: str | None = None,
    source: str | None = None,
) -> Iterator[Document]:
    """Read articles from files, folders, tables and ``-`` (stdin), lazily.

    Parameters
    ----------
    inputs : path or list of paths, ``-`` for stdin
    date : str, optional
        ``YYYY-MM-DD`` for articles whose table gives none; a date found in
        the text counts only when neither is given.
    source : str, optional
        Outlet for articles whose table gives none.

    Raises
    ------
    InputError
        A path that does not exist or is not a regular file, an article over
        the size limit, a table without a ``text`` column, a cell that is
        not a date, or two articles sharing an id.
    """
    max_article_bytes()  # a bad STANCE_MAX_ARTICLE_MB fails before any reading
    if isinstance(inputs, (str, bytes, os.PathLike)):
        inputs = [inputs]  # one path, not its characters
    if not isinstance(inputs, Iterable):
        raise InputError(f"inputs is {type(inputs).__name__}; pass a path or a list of paths (files, folders, tables)")
    if date is not None:
        try:
            date = parse_date(date)
        except ValueError as err:
            raise InputError(f"date: {err}; give a date such as 2025-11-04") from None
    items = [os.fsdecode(item) if isinstance(item, bytes) else item for item in inputs]  # bytes: a name not UTF-8
    for item in items:
        if not isinstance(item, (str, os.PathLike)):
            raise InputError(f"an input is {type(item).__name__}, not a path; pass paths of files, folders or tables")
        if not os.fspath(item).strip():  # Path("") is ".": an unset variable would read the working folder
            raise InputError(f"an input is {os.fspath(item)!r}, an empty path; pass paths of files, folders or "
                             "tables ('.' for the working folder)")
    _check_paths(items)
    seen: dict[str, str] = {}
    files: dict[tuple[int, int], str] = {}  # an article file by device and inode: by a link or another name, it is one
    for item in items:
        for doc in _read_one(item):
            file, name = getattr(doc, "_file", (None, None))
            if file in files:  # it would count twice, under one id or two
                raise _read_twice(name, files[file])
            if file is not None:
                files[file] = name
            if doc.id in seen:
                raise InputError(
                    f"{doc.location}: article id {doc.id!r} is also used by {seen[doc.id]}; give every article a distinct id"
                )
            seen[doc.id] = doc.location
            if doc.source is None:
                doc.source = source
            yield _resolve_date(doc, date)


def _read_twice(name: str, first: str) -> InputError:
    """The error for a file read a second time, as ``name``, after ``first``."""
    if first == name:
        return InputError(f"{name}: given twice (a file named again, or inside a folder also given); give each file once")
    return InputError(f"{name}: the same file as {first} (a link to it, or another name for it); give each file once, "
                      "or remove the link")


def _check_paths(items: list) -> None:
    """Refuse an input that is not there, or neither a regular file nor a folder, and a file or folder
    inside a folder also given, before the first article is read: found when its turn came, a typo in
    the last input stopped a long run at its end, with the work before it lost unless it was kept."""
    folders = []
    for item in items:
        if str(item) == "-":
            continue
        path = Path(item)
        found = regular_file(path)
        if isinstance(found, str) and not path.is_dir():
            raise not_regular(printable_name(path), found)
        if isinstance(found, str):
            folders.append((path, os.path.realpath(path)))
    for item in items:
        if str(item) == "-":
            continue
        inside = _where(item)
        for folder, real in folders:
            if inside != real and lies_within(inside, real) and _read_in_folder(item, inside, real):
                raise InputError(f"{printable_name(item)}: is inside {printable_name(folder)}, which is also given, so "
                                 "its articles would be read twice; give the folder or what is in it, not both")


def _where(path) -> str:
    """Where ``path`` lies, its folders' links followed but not a link it is itself (that names another
    file, and is told apart as such when it is read)."""
    absolute = os.path.abspath(path)
    return os.path.join(os.path.realpath(os.path.dirname(absolute)), os.path.basename(absolute))


def _read_in_folder(path, inside: str, real: str) -> bool:
    """Whether reading a folder (at ``real``) reads ``path`` (at ``inside``, below it) too: a folder, or a
    ``.txt`` file, on no hidden path below it."""
    below = Path(inside).relative_to(real).parts
    return not any(part.startswith(".") for part in below) and (os.path.isdir(path) or is_article_name(path))


def is_article_name(path: str | os.PathLike) -> bool:
    """Whether a folder's file is read as an article: named ``.txt``, in any case (``NOTE.TXT`` too)."""
    return Path(path).suffix.lower() == ".txt"


#: Formats an article is often saved in that a folder's reading passes over (only text is read):
#: named, so that no article is left out unseen. Markdown is not among them: a folder's README is no article.
OTHER_FORMATS = frozenset({".doc", ".docx", ".odt", ".rtf", ".pdf", ".htm", ".html", ".xhtml", ".mht", ".epub"})


def _read_one(item: str | Path) -> Iterator[Document]:
    if str(item) == "-":
        yield Document(id="-", text=decode_text(read_stdin_bytes(), "<stdin>"), location="<stdin>")
        return
    path = Path(item)
    found = regular_file(path)  # before any open: a FIFO would block it
    if isinstance(found, str) and path.is_dir():
        yield from _read_folder(path)
    elif isinstance(found, str):
        raise not_regular(printable_name(path), found)
    elif path.suffix.lower() in TABLE_SUFFIXES:
        for row, doc in enumerate(read_table(path)):
            doc._file = ((found.st_dev, found.st_ino, row), printable_name(path))  # see read_documents
            yield doc
    else:
        yield _read_text_file(path)


def _read_text_file(path: Path, meta: dict | None = None) -> Document:
    """One article file; its id is its stem, shown printable when the name is not UTF-8."""
    name = printable_name(path)
    doc = Document(id=printable_name(path.stem), text=decode_text(read_article_bytes(path), name), location=name)
    with contextlib.suppress(OSError):
        st = os.stat(path)
        doc._file = ((st.st_dev, st.st_ino), name)  # which file it is, whatever its name: see read_documents
    for key, value in (meta or {}).items():
        setattr(doc, key, value)
    return doc


def _read_folder(folder: Path) -> Iterator[Document]:
    entries = [p for p in folder.rglob("*") if not any(part.startswith(".") for part in p.relative_to(folder).parts)]
    files = sorted(p for p in entries if is_article_name(p))
    others = sorted(p for p in entries if p.suffix.lower() in OTHER_FORMATS and p.is_file())
    if not files:
        held = f" (it holds {_counted_formats(others)})" if others else ""
        raise InputError(f"{printable_name(folder)}: no .txt articles in this folder{held}; give article files "
                         "(UTF-8 text), a folder of them or a table")
    if others:
        shown = ", ".join(printable_name(p.relative_to(folder)) for p in others[:3]) + (", ..." if len(others) > 3 else "")
        warnings.warn(f"{printable_name(folder)}: {_counted_formats(others)} not read ({shown}): only .txt files in a "
                      "folder are articles; save each article as UTF-8 text", StanceWarning, stacklevel=3)
    files = [path for path in files if not _skipped(path)]
    indexes: dict[Path, dict[str, dict]] = {}
    inodes: dict[tuple[int, int], str] = {}  # a link to a file of the same folder, found before the first article
    for path in files:  # every file read and decoded first: a bad one late in the folder stops no long run
        decode_text(read_article_bytes(path), printable_name(path))
        with contextlib.suppress(OSError):
            st = os.stat(path)
            if (st.st_dev, st.st_ino) in inodes:
                raise _read_twice(printable_name(path), inodes[(st.st_dev, st.st_ino)])
            inodes[(st.st_dev, st.st_ino)] = printable_name(path)
        if path.parent not in indexes:
            indexes[path.parent] = _read_index(path.parent / INDEX_NAME)
            _warn_of_ids_without_files(path.parent, indexes[path.parent])
    if folder not in indexes and os.path.lexists(folder / INDEX_NAME):  # an index above the articles it names
        _warn_of_ids_without_files(folder, _read_index(folder / INDEX_NAME))
    for path in files:
        yield _read_text_file(path, indexes[path.parent].get(printable_name(path.stem)))


def _counted_formats(paths: list[Path]) -> str:
    """How many files of each format there are, as "3 .docx and 1 .pdf files"."""
    counts = Counter(p.suffix.lower() for p in paths)
    parts = [f"{n} {suffix}" for suffix, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else parts[0]) + (" file" if len(paths) == 1 else " files")


def _warn_of_ids_without_files(folder: Path, index: dict[str, dict]) -> None:
    """Warn of index lines that name no article of their folder: a mistyped id loses its article's date unseen."""
    stems = {printable_name(p.stem) for p in folder.iterdir() if is_article_name(p)}
    missing = sorted(set(index) - stems)
    if missing:
        shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
        warnings.warn(f"{printable_name(folder / INDEX_NAME)}: {len(missing)} id(s) name no .txt article in its folder "
                      f"({shown}); their dates and sources are used by none: check each id is its file's name (an "
                      f"index serves the .txt files beside it, not those in folders below)",
                      StanceWarning, stacklevel=3)


def _skipped(path: Path) -> bool:
    """Whether a folder's ``*.txt`` entry is passed over: a FIFO, a device or a broken link (with a warning), or a folder."""
    if os.path.islink(path) and not os.path.exists(path):
        warnings.warn(f"{printable_name(path)}: a symbolic link to nothing (or a loop of links); skipped",
                      StanceWarning, stacklevel=3)
        return True
    if path.is_dir():  # a folder named like an article: its own articles are in the listing already
        return True
    found = regular_file(path)
    if isinstance(found, str):
        warnings.warn(f"{printable_name(path)}: is {found}, not a regular file; skipped", StanceWarning, stacklevel=3)
        return True
    return False


def _read_index(path: Path) -> dict[str, dict]:
    """A folder's ``articles.jsonl``: metadata per article id (absent file: empty)."""
    if not path.is_file():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 (byte {err.start}); save the article index as UTF-8") from None
    index, lines = {}, {}
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = parse_json(line)
        except json.JSONDecodeError as err:
            raise InputError(f"{path}:{line_no}: not valid JSON ({err.msg}); fix or remove the line") from None
        if not isinstance(row, dict) or not row.get("id"):
            raise InputError(f"{path}:{line_no}: each line needs an object with an \"id\" (the file stem)")
        if str(row["id"]) in lines:
            raise InputError(f"{path}:{line_no}: id {row['id']!r} is listed twice (first on line {lines[str(row['id'])]}); "
                             "keep one line per article")
        if _present(row.get("date_source")) not in (None, *DATE_SOURCES):  # a blank cell is no source
            raise InputError(f"{path}:{line_no}: date_source {row['date_source']!r} is none of {', '.join(DATE_SOURCES)}; "
                             "mark a date guessed from the article's events \"inferred\"")
        lines[str(row["id"])] = line_no
        meta = index[str(row["id"])] = _metadata(row, f"{path}:{line_no}")
        if meta["date"] is not None and row.get("date_source") == "inferred":  # a guess stays marked as one
            meta["date_source"] = "inferred"
    return index


def _present(value):
    """A cell's value, or None when it is missing: None, blank or NaN (pandas' empty number)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return None if isinstance(value, str) and not value.strip() else value


def _metadata(row: dict, where: str) -> dict:
    """The optional columns of a table row or index line, checked."""
    meta = {}
    try:
        meta["date"] = parse_date(_present(row.get("date")))
    except ValueError as err:
        advice = "" if "YYYY-MM-DD" in str(err) else "; use YYYY-MM-DD"
        raise InputError(f"{where}: date {err}{advice}") from None
    for key in ("source", "title", "url"):
        value = _present(row.get(key))
        meta[key] = None if value is None else str(value).strip()
    return meta


def read_table(path: str | Path) -> Iterator[Document]:
    """Articles from a ``.jsonl``, ``.csv`` or ``.parquet`` table (one row each), lazily.

    JSON Lines and CSV are read by stance itself, one row at a time, in two
    passes: the first checks every line (valid JSON, one object, cells of the
    right kind; CSV rows no longer than the header) before any article is
    given out, the second gives the articles. A CSV cell is the text written
    there (no type guessing: ``007`` stays ``007``, ``NA`` is text); an empty
    cell is missing. A JSON id, title, source or url is a string or an integer
    (written in decimal). Parquet is converted once to a memory-mapped Arrow
    file in a temporary folder and read a batch at a time. A row's id is its
    ``id``, else its ``url``, else ``<file stem>:<row>`` (rows counted from 1).
    """
    path = Path(path)
    require_regular_file(path)
    if path.suffix.lower() == ".parquet":
        yield from _read_parquet(path)
        return
    rows = _json_rows if path.suffix.lower() == ".jsonl" else _csv_rows
    columns: dict[str, None] = {}
    count = 0
    for _, row in rows(path):  # the first pass: every row checked before the first article
        columns.update(dict.fromkeys(row))
        count += 1
    used = _used_columns(path, count, list(columns))
    for number, row in rows(path):
        yield _table_document(path, number, {c: row.get(c) for c in used})


def _used_columns(path: Path, rows: int, columns: list[str]) -> list[str]:
    """The columns of a table that stance reads; a table without rows or a ``text`` column is refused."""
    name = printable_name(path)
    if rows == 0:
        raise _no_rows(name)
    if {"article", "sentence"} <= set(columns) and "id" not in columns:  # each row would be an article of one sentence
        raise InputError(f"{name}: its rows are labeled sentences (article, sentence), not articles; give the articles "
                         "they were labeled from (such as labels/articles/), or a table with an id column")
    if "text" not in columns:
        raise InputError(
            f"{name}: no 'text' column (columns: {', '.join(columns) or 'none'}); "
            f"name the article-text column 'text' (others used: {', '.join(COLUMNS[1:])})"
        )
    unknown = [c for c in columns if c not in COLUMNS]
    if unknown:
        warnings.warn(
            f"{name}: ignored columns {', '.join(unknown)} (used: {', '.join(COLUMNS)})", StanceWarning, stacklevel=3
        )
    return [c for c in columns if c in COLUMNS]


def _read_parquet(path: Path) -> Iterator[Document]:
    with tempfile.TemporaryDirectory(prefix="stance-table-") as cache:
        table = _load_table(path, cache)
        used = _used_columns(path, table.num_rows, list(table.column_names))
        for column in ("id", "title", "source", "url"):  # as JSON Lines takes them: text or whole numbers
            kind = getattr(table.features.get(column), "dtype", None) if column in used else "string"
            if not (kind in ("string", "large_string", "null") or str(kind).startswith(("int", "uint"))):
                raise InputError(f"{printable_name(path)}: column {column} holds {kind or 'lists or records'}, "
                                 f"not text or whole numbers; write the {column} as text")
        number = 0
        for start in range(0, table.num_rows, _TABLE_BATCH):
            batch = table.select_columns(used)[start : start + _TABLE_BATCH]
            for k in range(len(batch["text"])):
                number += 1
                yield _table_document(path, number, {c: batch[c][k] for c in used})


def _json_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """A JSON Lines table's rows, numbered from 1 (blank lines skipped), each checked: one JSON object
    whose ``text`` is a string and whose id, title, source and url are strings or integers."""
    name = printable_name(path)
    number = 0
    with open(path, "rb") as stream:
        for line_no, raw in enumerate(_bounded_lines(stream, name), 1):
            if not raw.strip():
                continue
            try:
                row = parse_json(raw.decode("utf-8-sig" if line_no == 1 else "utf-8"))
            except UnicodeDecodeError as err:
                advice = file_encoding_advice(path) or "fix or remove the line"
                raise InputError(f"{name}:{line_no}: not UTF-8 (byte {err.start} of the line); {advice}") from None
            except json.JSONDecodeError as err:
                at = "" if isinstance(err, UnreadableJSON) else f" at column {err.colno}"
                raise InputError(f"{name}:{line_no}: not valid JSON ({err.msg}{at}); fix or remove the line") from None
            if not isinstance(row, dict):
                raise InputError(f"{name}:{line_no}: a JSON {_json_kind(row)}, not an object (one article per line); "
                                 "fix or remove the line")
            if holds_lone_surrogate(row, raw):
                raise InputError(f"{name}:{line_no}: holds a lone surrogate escape (\\ud800-\\udfff), not text; "
                                 "fix the line")
            number += 1
            for key in ("id", "title", "source", "url"):
                value = row.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    row[key] = str(value)
                elif value is not None and not isinstance(value, str):
                    raise InputError(f"{name} row {number} (line {line_no}): {key} is a JSON {_json_kind(value)}, "
                                     f"not a string or an integer; write the {key} as a string")
            _check_text(row.get("text"), f"{name} row {number} (line {line_no})")
            yield number, row


def _bounded_lines(stream, name: str):
    """A table's lines, each read with a bound: a file with no line breaks is refused, never read whole.

    A line may hold a whole article, escaped (JSON's ``\\uXXXX`` takes six bytes for one).
    """
    limit = 6 * max_article_bytes() + (1 << 16)
    while line := stream.readline(limit + 1):
        if len(line) > limit:
            raise InputError(f"{name}: a line over {limit / (1 << 20):.1f} MB, longer than an article may be "
                             "(STANCE_MAX_ARTICLE_MB); give a table with one article per line")
        yield line


def _json_kind(value) -> str:
    """The JSON name of a parsed value's type."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "number"
    if isinstance(value, float):
        return "number with a fraction or an exponent"
    return {dict: "object", list: "array", str: "string"}.get(type(value), type(value).__name__)


def _check_text(value, where: str) -> None:
    if value is not None and not isinstance(value, str):
        raise InputError(f"{where}: text is a JSON {_json_kind(value)}, not a string; give the article text as a string")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict]]:
    """A CSV table's rows, numbered from 1 (blank lines skipped), as the text of each cell.

    A row with more fields than the header is refused (a comma left unquoted
    would shift its text into another column); a shorter row's last cells are missing.
    Duplicate header names get ``.1``, ``.2``, ... as pandas names them.
    """
    import csv

    name = printable_name(path)
    csv.field_size_limit(max(csv.field_size_limit(), 4 * max_article_bytes() + 1))
    header: list[str] | None = None
    number = 0
    with open(path, encoding="utf-8-sig", newline="") as stream:
        records = csv.reader(_bounded_lines(stream, name), strict=True)
        while True:
            try:
                record = next(records, None)
            except UnicodeDecodeError as err:
                advice = file_encoding_advice(path) or "save the table as UTF-8"
                raise InputError(f"{name}: not UTF-8 text (byte {err.start}); {advice}") from None
            except csv.Error as err:
                raise InputError(f"{name}:{records.line_num}: cannot be read as CSV ({err}); check the quoting") from None
            if record is None:
                return
            if not record:
                continue
            if header is None:
                header = _csv_header(record)
                continue
            number += 1
            if len(record) > len(header):
                raise InputError(
                    f"{name} row {number} (line {records.line_num}): {len(record)} fields, the header has {len(header)}; "
                    "quote the fields that hold commas"
                )
            yield number, dict(zip(header, record + [None] * (len(header) - len(record))))


def _csv_header(record: list[str]) -> list[str]:
    header, seen = [], {}
    for column in record:
        if column in seen:
            seen[column] += 1
            column = f"{column}.{seen[column]}"
        else:
            seen[column] = 0
        header.append(column)
    return header


_TABLE_BATCH = 1000


def _table_document(path: Path, number: int, row: dict) -> Document:
    return row_document(row, f"{printable_name(path)} row {number}", fallback_id=f"{printable_name(path.stem)}:{number}")


def row_document(row: dict, where: str, fallback_id: str | None = None) -> Document:
    """The article in one table row; its id is ``id``, else ``url``, else ``fallback_id``.

    Without a fallback (a row scored far from its file, where its number is
    unknown) a row with neither id nor url is refused rather than given an id
    that would merge it with other such rows.
    """
    text = _present(row.get("text"))
    if text is None:
        raise InputError(f"{where}: empty text; fill it in or remove the row")
    if not visible_line(text):
        raise InputError(f"{where}: a text of nothing but invisible characters; fill it in or remove the row")
    _check_text(text, where)
    limit = max_article_bytes()
    if len(text) > limit // 4 and len(text.encode("utf-8", "surrogatepass")) > limit:  # 4 bytes per character at most
        raise too_big(where, len(text.encode("utf-8", "surrogatepass")), limit)
    meta = _metadata(row, where)
    raw_id = _present(row.get("id"))
    doc_id = str(raw_id).strip() if raw_id is not None else meta["url"] or fallback_id
    if doc_id is None:
        raise InputError(f"{where}: no id and no url; give every row an id")
    return Document(id=doc_id, text=text, location=where, **meta)


def _load_table(path: Path, cache: str):
    import datasets

    datasets.disable_progress_bars()
    try:
        with _library_quiet(datasets):
            return datasets.Dataset.from_parquet(str(path), cache_dir=cache, keep_in_memory=False)
    except Exception as err:  # noqa: BLE001 - any reader failure is the file's fault
        raise _table_error(path, err) from None


@contextlib.contextmanager
def _library_quiet(datasets):
    """No log lines or warnings from the table readers: a failure is reported in stance's one line."""
    import logging

    level = datasets.logging.get_verbosity()
    datasets.logging.set_verbosity(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        datasets.logging.set_verbosity(level)


def _table_error(path: Path, err: Exception) -> InputError:
    """What is wrong with a Parquet table the reader failed on: no rows, else the reader's words."""
    name = printable_name(path)
    if _has_no_rows(path):
        return _no_rows(name)
    cause = err.__cause__ or err
    reason = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
    return InputError(f"{name}: cannot be read as a {path.suffix[1:]} table ({reason}); check the file")


def _no_rows(name: str) -> InputError:
    return InputError(f"{name}: no rows; give a table with one article per row in a 'text' column")


def _has_no_rows(path: Path) -> bool:
    """Whether a Parquet table holds no data row: an empty file or one of 0 rows."""
    try:
        import pyarrow.parquet as pq

        return path.stat().st_size == 0 or pq.ParquetFile(path).metadata.num_rows == 0
    except Exception:  # noqa: BLE001 - not readable this way either: the reader's own reason is reported
        return False
