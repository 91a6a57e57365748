"""The label scheme, and reading and writing label files (JSON Lines).

A label file has one object per sentence::

    {"article": "002_59b96ecffaaf4adb", "sentence": 3, "text": "...",
     "russia": "against", "eu": "none", "origin": "seed"}

``sentence`` is the index the project's splitter gives, ``text`` the sentence as
it returns it. Loading validates every line and reports the file and line of
the first problem; it never drops a row silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import unicodedata
import warnings
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from numbers import Real
from pathlib import Path
from typing import TYPE_CHECKING

from stance.errors import LabelFormatError, StanceWarning
from stance.fileio import atomic_write_text, holds_lone_surrogate, parse_json
from stance.segment import (
    decode_text,
    furniture_kind,
    has_invisible,
    iconv_line,
    read_article_bytes,
    require_regular_file,
    split_sentences,
    wide_text_codec,
)

if TYPE_CHECKING:
    import datasets

__all__ = [
    "ORIGINS",
    "STANCES",
    "TARGETS",
    "LabeledSentence",
    "in_stance_order",
    "label_rows",
    "label_targets",
    "labels_sha256",
    "load_labels",
    "write_labels",
]

TARGETS: tuple[str, ...] = ("russia", "eu")
STANCES: tuple[str, ...] = ("favor", "against", "none")
#: Where a label comes from. ``seed``: real reporting, scored leaving one article out;
#: ``written``: the written corpus, scored by grouped k-fold; ``contrast``: sentences written
#: to teach one distinction (who acts), trained on in every fold and never scored.
ORIGINS: tuple[str, ...] = ("seed", "written", "contrast")
#: How far a net or a probability may stray out of its range by rounding (float32 models).
SLACK = 1e-6


def is_within(value, low: float, high: float) -> bool:
    """A number (not a bool) from ``low`` to ``high``, give or take :data:`SLACK`; NaN and text fail.

    How every reader of recorded results tells a net (in [-1, 1]) or a probability (in [0, 1]) it can use.
    """
    return isinstance(value, Real) and not isinstance(value, bool) and low - SLACK <= value <= high + SLACK


def is_count(value) -> bool:
    """A whole number (an int, not a bool or a float), 0 or more: how readers of recorded results and
    run folders tell a count or a sentence index they can use."""
    return type(value) is int and value >= 0


def in_stance_order(proba, classes):
    """A head's probabilities with columns in STANCES order (0 for a class the head lacks).

    Heads order their columns as their training labels sort; every output of
    stance reads favor, against, none.
    """
    import numpy as np

    proba = np.asarray(proba)
    classes = list(classes)
    return np.column_stack([proba[:, classes.index(s)] if s in classes else np.zeros(len(proba)) for s in STANCES])


@dataclass(frozen=True)
class LabeledSentence:
    """One labeled sentence, as stored in a label file."""

    article: str
    sentence: int
    text: str
    russia: str
    eu: str
    origin: str = "seed"


class _ArticleFinder:
    """Find and split the article a label row refers to, once per article."""

    def __init__(self, folders: Iterable[Path]):
        self.folders = [Path(f) for f in folders]
        for folder in self.folders:
            if not folder.is_dir():
                problem = "no such folder" if not os.path.lexists(folder) else "not a folder"
                raise LabelFormatError(f"--articles {folder}: {problem}; give the folder that holds the articles' .txt")
        self._cache: dict[tuple[Path, ...], tuple[Path | None, list | None]] = {}

    def find(self, article: str, near: Path) -> tuple[Path | None, list | None]:
        folders = (*self.folders, near.parent, near.parent / "articles")
        key = (*folders, Path(article))
        if key not in self._cache:
            blocked = None  # the first path where something other than a file stands
            for folder in folders:
                path = folder / f"{article}.txt"
                if os.path.isfile(path):  # False, not an error, for an id too long to be a file name (a URL)
                    text = decode_text(read_article_bytes(path), str(path))
                    self._cache[key] = (path, split_sentences(text))
                    break
                if blocked is None and os.path.lexists(path):  # something, but not a file
                    from stance.paths import not_a_file

                    blocked = (path, not_a_file(path))
            else:
                if blocked is not None:  # else said "not found", and the label's text left unchecked
                    raise LabelFormatError(f"{blocked[0]}: {blocked[1]}, where article {article}'s text would be; "
                                           "put the article's .txt there, or remove it")
                self._cache[key] = (None, None)
        return self._cache[key]


#: Row fields that are not targets; every other field of a label row is one.
RESERVED_FIELDS = (
    "article", "sentence", "text", "origin", "furniture", "source", "annotator", "time", "guess", "model", "undone",
)


#: Names no target may take: a label row's own fields, and the fields beside the targets in what
#: stance writes (a scored sentence's ``index`` and ``explain``, an evaluated sentence's ``plan``).
NOT_TARGET_NAMES = (*RESERVED_FIELDS, "index", "plan", "explain")


def refuse_unusable_targets(targets, where: str, error=ValueError) -> None:
    """Refuse a target named as a field that outputs hold beside the targets (it would overwrite it)."""
    clash = [t for t in targets if t in NOT_TARGET_NAMES]
    if clash:
        raise error(f"{where}: target {clash[0]!r} has the name of a field stance writes beside the targets; "
                    "rename the target (such as " + repr(clash[0] + "_stance") + ")")


def _row_targets(obj: dict) -> list[str]:
    return [k for k in obj if k not in RESERVED_FIELDS]


def is_targets_declaration(obj) -> bool:
    """Whether a parsed line is a label file's ``{"targets": [...]}`` declaration rather than a row."""
    return isinstance(obj, dict) and "targets" in obj and "article" not in obj


def declared_targets(declaration: dict, where: str, *, first: bool = True) -> list[str]:
    """The targets a ``{"targets": [...]}`` line names, or :class:`LabelFormatError`: a name that is no
    text, or is given twice, would be read as a target no row can label (or, as a string, as its letters).
    ``first``: whether the line is the file's first (a declaration after rows is refused too)."""
    targets = declaration["targets"]
    example = '{"targets": ["russia", "eu"]}'
    if first and targets == []:
        raise LabelFormatError(f"{where}: the targets declaration names no target; name those to label, such as {example}")
    if not first or not isinstance(targets, list) or not targets or not all(
        isinstance(t, str) and t and t not in RESERVED_FIELDS for t in targets
    ) or len(set(targets)) < len(targets):
        raise LabelFormatError(
            f"{where}: a targets declaration must be the first line, a non-empty list of distinct names, such as {example}"
        )
    return list(targets)


def file_targets(first, where: str = "the label file's first line") -> list[str] | None:
    """The targets a label file holds, from its first parsed line: its declaration (refused, as
    :class:`LabelFormatError` naming ``where``, if it is malformed), else its row's fields."""
    if not isinstance(first, dict):
        return None
    return declared_targets(first, where) if is_targets_declaration(first) else _row_targets(first)


#: Above any sentence index: an article of the largest size allowed has far fewer sentences,
#: and a larger number would not fit the 64-bit columns the labels are kept in.
MAX_SENTENCE_INDEX = (1 << 31) - 1


def _check_sentence_index(value: int, where: str) -> None:
    if value > MAX_SENTENCE_INDEX:
        shown = f"a {len(str(value))}-digit number" if value > 10**12 else str(value)
        raise LabelFormatError(
            f"{where}: 'sentence' must be an index of the article's sentences, not {shown}; fix the row"
        )


def annotator_name(name: str | None) -> str | None:
    """An annotator's name as compared and stored: NFC, so that "Zoë" typed on two keyboards (one
    precomposed, one with a combining mark) is one annotator, not two who never agree or overlap."""
    return None if name is None else unicodedata.normalize("NFC", name)


def _parse_row(obj: object, where: str, targets: Sequence[str]) -> dict:
    if not isinstance(obj, dict):
        raise LabelFormatError(f"{where}: expected a JSON object per line; fix or remove the line")
    if obj.get("annotator") is not None and not isinstance(obj["annotator"], str):
        raise LabelFormatError(f"{where}: 'annotator' must be a name (a string), not {type(obj['annotator']).__name__}")
    if obj.get("undone") is not None and not isinstance(obj["undone"], bool):
        raise LabelFormatError(f"{where}: 'undone' must be true (an undo row) or left out, not {obj['undone']!r}")
    if obj.get("undone") is True:
        if not isinstance(obj.get("article"), str) or type(obj.get("sentence")) is not int:
            raise LabelFormatError(f"{where}: an undo row needs 'article' and 'sentence'")
        _check_sentence_index(obj["sentence"], where)
        return {"article": obj["article"], "sentence": obj["sentence"], "annotator": annotator_name(obj.get("annotator")),
                "undone": True}
    for key in ("article", "sentence", "text"):
        if key not in obj:
            raise LabelFormatError(f"{where}: missing field '{key}'; every row needs article, sentence, text")
    if not isinstance(obj["article"], str) or not obj["article"]:
        raise LabelFormatError(f"{where}: 'article' must be a non-empty string (the article file's stem)")
    if not isinstance(obj["sentence"], int) or isinstance(obj["sentence"], bool) or obj["sentence"] < 0:
        raise LabelFormatError(f"{where}: 'sentence' must be a 0-based integer index")
    _check_sentence_index(obj["sentence"], where)
    if not isinstance(obj["text"], str):
        raise LabelFormatError(f"{where}: 'text' must be a string")
    row = {"article": obj["article"], "sentence": obj["sentence"], "text": obj["text"]}
    for target in targets:
        if target not in obj:
            raise LabelFormatError(
                f"{where}: missing field '{target}'; give {'|'.join(STANCES)} (or null if unlabeled)"
            )
        value = obj[target]
        if value is not None and value not in STANCES:
            other = not (isinstance(value, str) and value.strip().lower() in STANCES)  # not a miswritten stance
            raise LabelFormatError(f"{where}: '{target}' must be {'|'.join(STANCES)}, not {value!r}" + (
                f"; if '{target}' is no target, start the file with a line naming the targets, such as "
                '{"targets": ["russia", "eu"]}' if other else ""))
        row[target] = value
    extra = [k for k in _row_targets(obj) if k not in targets]
    if extra:
        raise LabelFormatError(
            f"{where}: unknown field {extra[0]!r}; this file's targets are {', '.join(targets)} "
            "(declare targets in a first line {\"targets\": [...]})"
        )
    origin = obj.get("origin")
    if origin is not None and origin not in ORIGINS:
        raise LabelFormatError(f"{where}: 'origin' must be {'|'.join(ORIGINS)}, not {origin!r}")
    row["origin"] = origin
    if "annotator" in obj:
        row["annotator"] = annotator_name(obj["annotator"])
    return row


#: Longest line of a label file, in bytes: a row holds one sentence, far shorter.
MAX_LABEL_LINE = 1 << 20


def json_lines(path: Path) -> Iterator[tuple[int, str]]:
    """A JSON Lines file's lines, numbered from 1, read one at a time.

    Split at newlines only, as JSON Lines is: ``str.splitlines`` would also cut
    a row at a line separator (U+2028) inside its text. A video or a huge log
    given by mistake is refused at its first line, before it is read whole.
    """
    with open(path, "rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LABEL_LINE + 1), b""), start=1):
            if b"\x00" in raw and number > 1 and b"\x00" not in raw.rstrip(b"\r\n").rstrip(b"\x00"):  # a crash's zeros
                raise LabelFormatError(f"{path}:{number}: NUL bytes where a row should be (a write cut short by a "
                                       "crash?); remove that line: the rows above it are whole")
            if b"\x00" in raw:
                raise _binary_label_file(path, handle)
            if len(raw) > MAX_LABEL_LINE:
                raise LabelFormatError(f"{path}:{number}: a line over {MAX_LABEL_LINE >> 20} MiB, not a label row; "
                                       "give .jsonl label files, one sentence a line")
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                raise LabelFormatError(f"{path}:{number}: not UTF-8 text; label files are UTF-8 JSON Lines") from None
            yield number, line


def _binary_label_file(path: Path, handle) -> LabelFormatError:
    """The error for a label file with NUL bytes (``handle`` open on it): text in UTF-16 or UTF-32 is named,
    with how to convert it."""
    handle.seek(0)
    codec = wide_text_codec(handle.read(65536))
    if codec is not None:
        return LabelFormatError(f"{path}: {codec} text, not UTF-8; label files are UTF-8 JSON Lines: convert it, "
                                f"e.g. {iconv_line(codec, '.jsonl')}")
    return LabelFormatError(f"{path}: looks like a binary file, not JSON Lines; give .jsonl label files")


def _read_rows(path: Path, targets: Sequence[str] | None, annotator: str | None = None,
               order: list[str] | None = None) -> tuple[list[str], list[tuple[int, dict]]]:
    """A file's targets and rows; with ``targets=None`` the file declares them.

    A file declares its targets in a first line ``{"targets": [...]}``, or else
    by the fields of its first row (every field that is not reserved). With
    ``annotator``, only that annotator's answers (``""``: rows that name none).
    ``order``, when given, gets every annotator in order of first answer, before
    the log is resolved (a first answer replaced later still counts where it was given).
    """
    if not path.exists() and not path.is_symlink():  # a link's own faults (a loop) are told below
        raise LabelFormatError(f"{path}: no such label file; check the path")
    require_regular_file(path, "give .jsonl label files", LabelFormatError)
    rows = []
    declared = targets is not None
    for number, line in json_lines(path):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        try:
            obj = parse_json(line)
        except json.JSONDecodeError as err:
            raise LabelFormatError(f"{where}: not valid JSON ({err.msg}); fix or remove the line") from None
        if holds_lone_surrogate(obj, line):
            raise LabelFormatError(f"{where}: holds a lone surrogate escape (\\ud800-\\udfff), not text; fix the line")
        if is_targets_declaration(obj):
            named = declared_targets(obj, where, first=not rows)
            if not declared:
                targets, declared = named, True
            continue
        if not declared and isinstance(obj, dict):
            targets, declared = _row_targets(obj), True
            if not targets:
                raise LabelFormatError(f"{where}: no target fields (e.g. \"russia\": \"favor\"); label at least one target")
        if targets and not rows:
            refuse_unusable_targets(targets, where, LabelFormatError)
        rows.append((number, _parse_row(obj, where, targets or ())))
    if order is not None:
        order.extend(dict.fromkeys(r.get("annotator") or "" for _, r in rows))
    rows = resolve_log(rows)
    if annotator is not None:
        rows = [(n, r) for n, r in rows if (r.get("annotator") or "") == annotator_name(annotator)]
        if not rows:
            raise LabelFormatError(f"{path}: no answers of {annotator or 'no annotator'}; check the name")
    if not rows:
        raise LabelFormatError(f"{path}: no label rows (the file is empty, or every answer in it was undone); label "
                               "into it, or leave it out (remove it, or give the other files with --labels)")
    return list(targets), rows


def label_rows(path: str | Path) -> list[dict]:
    """A label file's rows as it states them, its labeling log resolved: ``origin`` is None where
    the file gives none, and ``annotator`` is kept. :func:`load_labels` checks them further."""
    return [row for _, row in _read_rows(Path(path), None)[1]]


def label_annotators(path: str | Path) -> tuple[list[dict], list[str]]:
    """:func:`label_rows`, and who answered in them in order of first answer (``""``: rows that name no
    one): which annotator is A and which B must not hang on one of them answering a sentence again."""
    order: list[str] = []
    rows = [row for _, row in _read_rows(Path(path), None, order=order)[1]]
    present = {r.get("annotator") or "" for r in rows}
    return rows, [name for name in order if name in present]


def resolve_log(rows: list[tuple[int, dict]]) -> list[tuple[int, dict]]:
    """Apply a labeling log's own history: per annotator, a later answer replaces an earlier one.

    Rows that name an ``annotator`` (as ``stance label`` writes them) form a log:
    for each (article, sentence, annotator) the last row counts, and an undo
    row (``"undone": true``) withdraws the answer before it. Rows without an
    annotator are left as they are, but for an undo row without one: it
    withdraws such answers before it, never those after.
    """
    undone = {(row["article"], row["sentence"]) for _, row in rows if row.get("undone") and row.get("annotator") is None}
    latest: dict[tuple, int] = {}
    for position, (_, row) in enumerate(rows):
        if row.get("annotator") is not None or (row["article"], row["sentence"]) in undone:
            latest[(row["article"], row["sentence"], row.get("annotator"))] = position
    kept = []
    for position, (number, row) in enumerate(rows):
        key = (row["article"], row["sentence"], row.get("annotator"))
        if row.get("undone") or (key in latest and latest[key] != position):
            continue
        kept.append((number, row))
    return kept


def refuse_repeated_files(paths: Sequence[str | Path], why: str = "") -> None:
    """:class:`LabelFormatError` for a label file given more than once, by whatever path: its rows are not duplicates."""
    from stance.paths import refuse_repeated_paths

    refuse_repeated_paths(paths, "label file", LabelFormatError, why)


def load_labels(
    paths: str | Path | Sequence[str | Path],
    *,
    articles: str | Path | Sequence[str | Path] = (),
    targets: Sequence[str] | None = None,
    check_text: bool = True,
    annotator: str | None = None,
) -> "datasets.Dataset":
    """Load and validate label files into one ``datasets.Dataset``.

    Parameters
    ----------
    paths : path or list of paths
        JSON Lines label files.
    articles : folder or list of folders
        Where to look for the articles' ``.txt`` files, before the label file's own
        folder and its ``articles/`` subfolder. Found articles are split again and
        every row's ``text`` must equal the sentence at its index.
    targets : list of str, optional
        The targets each row must carry. None (the default) lets each file
        declare its own (a first line ``{"targets": [...]}``, else the fields
        of its first row); a target one file lacks is unlabeled (null) there.
        ``label_targets(dataset)`` lists them.
    check_text : bool
        Set False to skip the splitter check.
    annotator : str, optional
        Only this annotator's answers, from labeling logs that hold several
        (``""``: the rows that name no annotator). None reads every row.

    Returns
    -------
    datasets.Dataset
        Columns ``article, sentence, text, <targets...>, origin, furniture, source``;
        ``furniture`` is the kind of page furniture the sentence is (or None), and
        ``source`` is ``file:line``.

    Raises
    ------
    LabelFormatError
        On unknown values, missing fields, duplicate (article, sentence) keys, and
        text that no longer matches the splitter, naming the file and line.
    """
    import datasets

    from stance.paths import given_path

    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]  # one path, not its characters (nor, as bytes, their codes)
    if articles is None or isinstance(articles, (str, bytes, os.PathLike)):
        articles = [articles] if articles is not None else []
    if isinstance(targets, str):
        targets = [targets]  # one target, not its letters
    if targets is not None and isinstance(targets, Iterable) and not list(targets):
        raise LabelFormatError("targets is empty; name the targets to read, such as ['russia', 'eu'], or pass None "
                               "to read those each file declares")
    if not isinstance(paths, Iterable) or not isinstance(articles, Iterable):
        raise LabelFormatError("paths and articles are paths or lists of paths; pass label files (.jsonl) and "
                               "article folders")
    if targets is not None and not isinstance(targets, Iterable):
        raise LabelFormatError(f"targets is {targets!r}; pass target names, such as ['russia', 'eu']")
    if annotator is not None and not isinstance(annotator, str):
        raise LabelFormatError(f"annotator is {annotator!r}; pass an annotator's name as text, '' for rows that name "
                               "none, or None for every row")
    paths = [given_path(p, "a label file", "give a .jsonl file's path") for p in paths]  # a generator is read once
    articles = [given_path(a, "an article folder", "give a folder of .txt articles") for a in articles]
    if not paths:
        raise LabelFormatError("no label files given; pass at least one .jsonl file")
    refuse_repeated_files(paths)
    finder = _ArticleFinder(articles)
    seen: dict[tuple[str, int], tuple[str, Path, dict]] = {}
    origin_of: dict[str, tuple[str, str]] = {}  # article -> its first row's origin, and where
    unchecked: set[str] = set()
    files = [(path, *_read_rows(path, targets, annotator)) for path in map(Path, paths)]
    if targets is None:
        targets = list(dict.fromkeys(t for _, file_targets, _ in files for t in file_targets))
    columns: dict[str, list] = {k: [] for k in ("article", "sentence", "text", *targets, "origin", "furniture", "source")}
    for path, _, file_rows in files:
        for number, row in file_rows:
            for target in targets:
                row.setdefault(target, None)
            where = f"{path}:{number}"
            key = (row["article"], row["sentence"])
            if key in seen:
                raise LabelFormatError(f"{where}: duplicate label for article {key[0]} sentence {key[1]} "
                                       f"(first at {seen[key][0]}); {_duplicate_advice(seen[key], (path, row))}")
            seen[key] = (where, path, row)
            found, segments = finder.find(row["article"], path) if check_text else (None, None)
            if segments is not None:
                if row["sentence"] >= len(segments):
                    raise LabelFormatError(
                        f"{where}: article {row['article']} has {len(segments)} sentences in {found} as split now, "
                        f"no index {row['sentence']} (shortened since, or another file has the same id); put back the "
                        f"article it was labeled against, or withdraw the answer: append {_undo_line(row)}"
                    )
                expected = segments[row["sentence"]].text
                if row["text"] != expected:
                    hidden = (" (the label's text holds invisible characters, which the splitter removes: "
                              "remove them from it)" if has_invisible(row["text"]) else "")
                    raise LabelFormatError(
                        f"{where}: text no longer matches sentence {row['sentence']} of {found} "
                        f"as split now ({expected[:60]!r}); relabel or fix the index{hidden}"
                    )
            elif check_text:
                unchecked.add(row["article"])
            if row["origin"] is None:
                row["origin"] = "seed" if found is not None and found.parent.name == "seeds" else "written"
            first = origin_of.setdefault(row["article"], (row["origin"], where))
            if first[0] != row["origin"]:  # else its rows fall in two evaluations, and it is trained and tested on
                raise LabelFormatError(
                    f"{where}: article {row['article']} is {row['origin']} here and {first[0]} at {first[1]}; "
                    f"an article has one origin: state the same 'origin' on all its rows"
                )
            # as the splitter marks it in its article (a line under a "Related stories" heading), else by its own shape
            row["furniture"] = segments[row["sentence"]].furniture if segments is not None else furniture_kind(row["text"])
            row["source"] = where
            for name, values in columns.items():
                values.append(row.get(name))
    if unchecked:
        names = ", ".join(sorted(unchecked)[:3]) + (" ..." if len(unchecked) > 3 else "")
        warnings.warn(
            f"text not checked against the splitter for {len(unchecked)} article(s) whose .txt "
            f"was not found ({names}); pass --articles DIR",
            StanceWarning,
            stacklevel=2,
        )
    features = datasets.Features(
        {
            "article": datasets.Value("string"),
            "sentence": datasets.Value("int64"),
            "text": datasets.Value("string"),
            **{t: datasets.Value("string") for t in targets},
            "origin": datasets.Value("string"),
            "furniture": datasets.Value("string"),
            "source": datasets.Value("string"),
        }
    )
    return datasets.Dataset.from_dict(columns, features=features)


def _undo_line(row: dict) -> str:
    """The line that withdraws a row's answer (:func:`resolve_log`), for a user to append: the answer stays in the log."""
    undo = {"article": row["article"], "sentence": row["sentence"],
            **({"annotator": row["annotator"]} if row.get("annotator") is not None else {}), "undone": True}
    return json.dumps(undo, ensure_ascii=False)


def _duplicate_advice(first: tuple[str, Path, dict], second: tuple[Path, dict]) -> str:
    """What to do about a sentence labelled twice: one file's repeated line is removed; two
    annotators' answers (two files, or one shared log) are combined by `stance labels merge`."""
    (_, first_path, first_row), (path, row) = first, second
    if first_path == path and first_row.get("annotator") is None and row.get("annotator") is None:
        return "keep one of the two lines"
    files = " ".join(dict.fromkeys(shlex.quote(str(p)) for p in (first_path, path)))
    return f"combine the two answers with `stance labels merge {files} --out merged.jsonl`"


def label_targets(labels: "datasets.Dataset") -> list[str]:
    """The target columns of a dataset from :func:`load_labels`, in order."""
    return [c for c in labels.column_names if c not in RESERVED_FIELDS]


def labels_sha256(labels: "datasets.Dataset", targets: Sequence[str] | None = None) -> str:
    """A content hash of labeled rows, independent of file names and row order."""
    keys = ("article", "sentence", "text", *(label_targets(labels) if targets is None else targets), "origin")
    rows = sorted(json.dumps([row[k] for k in keys], ensure_ascii=False) for row in labels)
    return hashlib.sha256("\n".join(rows).encode("utf-8")).hexdigest()


def write_labels(rows: Iterable[LabeledSentence | dict], path: str | Path) -> Path:
    """Write label rows as JSON Lines atomically: a crash leaves the old file or the new one."""
    path = Path(path)
    lines = [
        json.dumps(asdict(r) if isinstance(r, LabeledSentence) else r, ensure_ascii=False) + "\n"
        for r in rows
    ]
    atomic_write_text(path, "".join(lines))
    return path
