"""Labeling in the terminal: least-sure sentences first, every answer kept at once.

A session walks a queue of sentences. For each it asks one keystroke per
target (``f`` favor, ``a`` against, ``n`` none, Enter to accept the model's
guess), or ``s`` to skip the sentence, ``u`` to undo, ``q`` to quit. Each
answered sentence is appended to the label file as one JSON line and flushed
to disk (``fsync``) before the next question, and the file is only ever
appended to: an undo is itself a line (``"undone": true``) that withdraws the
previous answer (see :func:`stance.schema.resolve_log`). Quitting, Ctrl-C or
a killed process loses nothing already answered; running again skips the
sentences this annotator has answered.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from stance.errors import LabelFormatError, StanceError, StanceWarning
from stance.fileio import parse_json
from stance.paths import write_error
from stance.schema import (MAX_LABEL_LINE, annotator_name, declared_targets, file_targets, is_targets_declaration,
                           json_lines, resolve_log)
from stance.segment import file_kind, require_regular_file

__all__ = ["Candidate", "LabelLog", "candidates", "held_by_a_session", "order_queue", "run_session", "split_keys"]

CHOICES = {"f": "favor", "a": "against", "n": "none"}
ACCEPT = {"", "\r", "\n", " ", "."}
SKIP, UNDO, QUIT = "s", "u", "q"
_LOCK_BASE = 1 << 40  # session locks lie far past any label file's end, where no write reaches
_FLOCK = "hhqqi4x"  # Linux's struct flock: type, whence, start, length, pid (and padding)
HELP = "f favor · a against · n none · Enter accept guess · s skip · u undo · q quit"


@dataclass
class Candidate:
    """A sentence to label, with its neighbours and the model's guess per target."""

    article: str
    sentence: int
    text: str
    previous: str | None = None
    next: str | None = None
    guess: dict = field(default_factory=dict)  # target -> (label, probability)

    @property
    def confidence(self) -> float:
        """The model's lowest top probability over the targets (1.0 without a model)."""
        return min((p for _, p in self.guess.values()), default=1.0)


def candidates(documents: Iterable, model=None, targets: Sequence[str] | None = None) -> list[Candidate]:
    """The scored sentences of documents (``stance.corpus.Document``), in reading order, with guesses of
    ``targets`` (default the model's): those asked alone, so that least-sure-first ranks by them."""
    from stance.features import in_context
    from stance.scoring import predict_in_chunks
    from stance.segment import check_sentence_count

    out: list[Candidate] = []
    for doc in documents:
        check_sentence_count(doc.article)
        sentences = doc.article.sentences
        items = in_context([s.text for s in sentences])
        guesses = [{} for _ in sentences]
        if model is not None and sentences:
            probas = predict_in_chunks(model, items)
            for t, target in enumerate(model.targets_):
                if targets is not None and target not in targets:
                    continue
                labels = model.decide(target, probas[t])
                for i, label in enumerate(labels):
                    guesses[i][target] = (str(label), float(probas[t][i].max()))
        for seg, item, guess in zip(sentences, items, guesses):
            out.append(Candidate(doc.id, seg.index, seg.text, item["previous"], item["next"], guess))
    return out


def order_queue(queue: Sequence[Candidate], order: str = "uncertainty") -> list[Candidate]:
    """``uncertainty``: least confident first (ties in reading order); ``document``: reading order."""
    if order == "document":
        return list(queue)
    if order != "uncertainty":
        raise ValueError("order must be 'uncertainty' or 'document'")
    ranks = np.argsort([c.confidence for c in queue], kind="stable")
    return [queue[i] for i in ranks]


class LabelLog:
    """An append-only label file: each row is written, flushed and fsynced on its own."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._held: tuple[int, str] | None = None  # the open file and annotator a session holds
        if self.path.exists():
            require_regular_file(self.path, "give a .jsonl file for the labels", LabelFormatError)

    def _make_folders(self) -> list[Path]:
        """Make the label file's missing folders, only once an answer can come (a command refused before
        leaves none behind); returns those this call made, deepest first (a path through ".." names
        folders that were there, which are not among them)."""
        made = []
        try:
            for folder in reversed(self.path.parents):
                with contextlib.suppress(FileExistsError):
                    os.mkdir(folder)
                    made.append(folder)
        except OSError as err:
            _remove_folders(made[::-1])
            raise write_error(self.path, err, "cannot make the label file's folder") from None
        return made[::-1]

    def answered(self, annotator: str) -> set[tuple[str, int]]:
        """Sentences this annotator has an answer for (undone answers excluded, as :func:`resolve_log` reads)."""
        return set(self.answered_texts(annotator))

    def answered_texts(self, annotator: str) -> dict[tuple[str, int], str | None]:
        """The text of each sentence this annotator has answered, by (article, sentence)."""
        if not self.path.exists():
            return {}
        annotator = annotator_name(annotator)
        mine, seen = [], False
        for number, line in json_lines(self.path):
            if not line.strip():
                continue
            try:
                row = parse_json(line)
            except json.JSONDecodeError as err:
                raise LabelFormatError(f"{self.path}:{number}: not valid JSON ({err.msg}); "
                                       "fix the line before labeling on") from None
            first, seen = not seen, True
            if first and is_targets_declaration(row):
                declared_targets(row, f"{self.path}:{number}")  # the file's declaration of its targets, if well formed
                continue
            if not isinstance(row, dict) or not isinstance(row.get("article"), str) or type(row.get("sentence")) is not int:
                whose = f"a row of {annotator}" if isinstance(row, dict) and _whose(row) == annotator else "a row"
                raise LabelFormatError(f"{self.path}:{number}: {whose} without a string 'article' and an integer "
                                       "'sentence', so not a label file; give --labels a label file, or fix the line")
            if _whose(row) == annotator:
                mine.append((number, {**row, "annotator": annotator}))
        return {(row["article"], row["sentence"]): row.get("text") for _, row in resolve_log(mine)}

    def held_targets(self) -> list[str] | None:
        """The targets the file holds, as :func:`stance.schema.load_labels` reads them (its first line's
        declaration, else its first row's fields); None for a file with no row yet."""
        if not self.path.exists():
            return None
        number, first = next(((n, line) for n, line in json_lines(self.path) if line.strip()), (None, None))
        if first is None:
            return None
        return file_targets(parse_json(first), f"{self.path}:{number}")  # answered() has refused a line that is not JSON

    @contextlib.contextmanager
    def session(self, annotator: str, *, create: bool = True):
        """Hold this annotator's labeling of this file, or refuse: a second session of the same
        annotator would ask the same sentences and write each answer twice.

        The hold is a lock on one byte of the label file's range, chosen by the annotator (an
        open-file-description lock: other annotators' sessions take other bytes, any name or
        link of the file finds the same lock, and it goes with the process however that ends).
        A file replaced during the session (an editor's save) is held in its turn by the next
        answer. The file is made, empty, when there is none yet; without ``create``, the hold
        is only tried (a check before slow work), and a file not there yet is left so. Where
        the system has no such locks (not Linux), the session runs unguarded.
        """
        folders = self._make_folders() if create else []
        made = create and not os.path.lexists(self.path)
        try:
            fd = self._open(create, doing="cannot make the label file")
        except StanceError:
            _remove_folders(folders)  # a file that cannot be made there ("File name too long") leaves none behind
            raise
        if fd is None:
            yield self
            return
        try:
            _hold(fd, self.path, annotator, warn=create)
            if create:
                self._held = (fd, annotator)
            yield self
        finally:
            if self._held is not None and create:
                fd = self._held[0]  # the file held last, if it was replaced during the session
                self._held = None
            if made and self._remove_if_unanswered(fd):
                _remove_folders(folders)
            os.close(fd)

    def _remove_if_unanswered(self, fd: int) -> bool:
        """Remove the file this session made if it is still empty and no other session holds it: a
        session quit before its first answer would leave an empty file that every loader refuses."""
        with contextlib.suppress(OSError):
            now, here = os.fstat(fd), os.stat(self.path)
            if now.st_size == 0 and (now.st_dev, now.st_ino) == (here.st_dev, here.st_ino) and not held_by_a_session(fd):
                os.unlink(self.path)
                return True
        return False

    def _open(self, create: bool = True, doing: str = "cannot save the answer to") -> int | None:
        """The label file open for appending, refused if something else stands at its path now (a FIFO
        would swallow the answers); None when it is not there and ``create`` is off."""
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT if create else 0), 0o666)
        except FileNotFoundError:
            if create:
                raise write_error(self.path, FileNotFoundError(errno.ENOENT, "its folder is gone"), doing) from None
            return None
        except OSError as err:
            raise write_error(self.path, err, doing) from None
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            os.close(fd)
            raise LabelFormatError(f"{self.path}: is now {file_kind(mode)}, not a regular file, so no answer is saved "
                                   "there; put the label file back, and label on")
        return fd

    def _follow(self, fd: int) -> bool:
        """Whether the file just opened for an answer replaces the one the session holds (an editor
        saved it anew, or it was removed): if so it is held from now on, or the answer is refused."""
        held, annotator = self._held
        now, before = os.fstat(fd), os.fstat(held)
        if (now.st_dev, now.st_ino) == (before.st_dev, before.st_ino):
            return False
        try:
            _hold(fd, self.path, annotator)
        except LabelFormatError as err:
            raise LabelFormatError(f"{err}; it was replaced during this session, and this answer is not saved") from None
        os.close(held)
        self._held = (fd, annotator)
        return True

    def append(self, row: dict) -> None:
        """Add one answer as one line, whole or not at all, and on disk before returning.

        A row glued to a line without its newline (a file last saved by an editor
        that adds none) or to half a row (a write stopped by a full disk) would
        make both unreadable, so the row starts a line of its own, and a failed
        write is cut back off.
        """
        data = row_line(row)
        if len(data) > MAX_LABEL_LINE:
            raise LabelFormatError(f"{self.path}: an answer of {len(data):,} bytes, over the {MAX_LABEL_LINE >> 20} "
                                   "MiB a label line may hold, is not saved; label shorter sentences")
        if self._held is None:  # outside a session; within one, a folder gone since it began is said
            self._make_folders()
        fd = self._open()
        kept = False
        try:
            kept = self._held is not None and self._follow(fd)
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                data = b"\n" + data
            _write_whole(fd, data, size)
        except OSError as err:
            raise write_error(self.path, err, "cannot save the answer to") from None
        finally:
            if not kept:
                os.close(fd)


def _remove_folders(folders: Sequence[Path]) -> None:
    """Remove folders a session made, deepest first; one that holds anything now stays, and those above it."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return


def _whose(row: dict) -> str | None:
    """The annotator of a raw label row, as names are compared (:func:`~stance.schema.annotator_name`)."""
    return annotator_name(row["annotator"]) if isinstance(row.get("annotator"), str) else row.get("annotator")


def _hold(fd: int, path: Path, annotator: str, *, warn: bool = True) -> None:
    """Lock ``annotator``'s byte of an open label file, or refuse, naming who holds it: a session of this
    annotator, or another program (a lock over the whole file). Unguarded, with a warning, where the file
    system takes no locks; silently where the system has none."""
    import fcntl
    import hashlib
    import struct
    import warnings

    if not hasattr(fcntl, "F_OFD_SETLK"):
        return
    name = annotator_name(annotator).encode("utf-8", "surrogatepass")
    byte = _LOCK_BASE + int(hashlib.sha256(name).hexdigest()[:12], 16)
    request = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, byte, 1, 0)
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, request)
        return
    except OSError as err:
        if err.errno not in (errno.EAGAIN, errno.EACCES):
            if warn:
                warnings.warn(f"{path}: cannot be held for this session ({err.strerror}); a second session of "
                              f"{annotator} on it would not be refused", StanceWarning, stacklevel=4)
            return
    try:
        kind, _, start, length, _ = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_OFD_GETLK, request))
    except OSError:
        kind, start, length = fcntl.F_WRLCK, byte, 1
    if kind != fcntl.F_UNLCK and (start, length) != (byte, 1):
        raise LabelFormatError(f"{path}: another program holds a lock on the whole file; wait until it is done, or "
                               "label into another file")
    raise LabelFormatError(f"{path}: {annotator} is labeling into it in another session; quit that one first (answers "
                           "given there are saved), or label as another --annotator")


def held_by_a_session(file: int | str | os.PathLike) -> bool:
    """Whether a labeling session holds the label file (an open file, or a path): any annotator's lock.

    Asked of an open file, only other open files' locks count (a session asking about its own file).
    False where the system has no such locks, or the file cannot be opened.
    """
    import fcntl
    import struct

    if not hasattr(fcntl, "F_OFD_GETLK"):
        return False
    fd = file if isinstance(file, int) else None
    try:
        if fd is None:
            fd = os.open(file, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
        request = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, _LOCK_BASE, 0, 0)  # every annotator's byte
        kind = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_OFD_GETLK, request))[0]
    except OSError:
        return False
    finally:
        if fd is not None and not isinstance(file, int):
            os.close(fd)
    return kind != fcntl.F_UNLCK


#: A terminal's escape sequence: CSI (``ESC [`` … final byte), SS3 (``ESC O`` and a letter), or ESC and one key.
_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|[^\[O])", re.DOTALL)
_ESCAPE_BEGUN = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|O)?")


def split_keys(text: str) -> tuple[list[str], str]:
    """A terminal's input as keys: one character each, an arrow or function key's sequence as one key.

    Returns the keys and the start of an escape sequence the text ends in
    (its rest may come with the next read; alone, it is the Esc key). A
    sequence is one key wherever it falls in a read, so the ``A`` of an arrow
    typed after another key is never taken for ``a``.
    """
    keys, i = [], 0
    while i < len(text):
        if text[i] != "\x1b":
            keys.append(text[i])
            i += 1
            continue
        whole = _ESCAPE.match(text, i)
        if whole is not None:
            keys.append(whole.group())
            i = whole.end()
        elif _ESCAPE_BEGUN.fullmatch(text, i):
            return keys, text[i:]
        else:  # ESC before what no sequence holds: the Esc key on its own
            keys.append("\x1b")
            i += 1
    return keys, ""


def row_line(row: dict) -> bytes:
    """A label row as the line a label file holds."""
    return (json.dumps(row, ensure_ascii=False) + "\n").encode("utf-8")


def _write_whole(fd: int, data: bytes, size: int) -> None:
    """Write and sync ``data`` at the end of a file ``size`` bytes long; on failure, cut off what got written."""
    done = 0
    try:
        while done < len(data):
            done += os.write(fd, data[done:])
        os.fsync(fd)
    except OSError:
        with contextlib.suppress(OSError):
            if os.fstat(fd).st_size == size + done:  # nobody else appended since: the part is ours alone
                os.ftruncate(fd, size)
        raise


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def render(candidate: Candidate, position: int, total: int, targets: Sequence[str]) -> str:
    """The screen for one sentence: where it is, its neighbours and the model's guess."""
    guess = ", ".join(f"{t} {candidate.guess[t][0]} {candidate.guess[t][1]:.2f}" for t in targets if t in candidate.guess)
    lines = [f"[{position}/{total}] {candidate.article} · sentence {candidate.sentence}"
             + (f" · model: {guess}" if guess else "")]
    if candidate.previous:
        lines.append(f"    {_context(candidate.previous)}")
    lines.append(f" >> {candidate.text}")
    if candidate.next:
        lines.append(f"    {_context(candidate.next)}")
    return "\n".join(lines)


#: Characters of a neighbouring sentence shown: enough to read what it says, and a megabyte-long
#: line beside the sentence asked does not bury it (it is asked whole when its own turn comes).
CONTEXT_CHARS = 400


def _context(text: str) -> str:
    return text if len(text) <= CONTEXT_CHARS else text[: CONTEXT_CHARS - 1] + "…"


def run_session(
    queue: Sequence[Candidate],
    log: LabelLog,
    *,
    annotator: str,
    targets: Sequence[str],
    keys: Iterator[str],
    show: Callable[[str], None],
    model_id: str | None = None,
    origin: str = "seed",
    new_screen: Callable[[], None] | None = None,
    lengths: dict[str, int] | None = None,
) -> dict:
    """Ask for labels sentence by sentence; returns counts of answered, skipped and undone.

    ``keys`` yields one keystroke (or one input line) at a time; when it runs
    out the session ends as if ``q`` was pressed. ``new_screen``, when given,
    is called before each sentence (a terminal clears itself there). ``lengths``:
    each article's number of lines as split now; this annotator's answers to lines
    past an article's end are said in a note and left as they are: the article may
    have been shortened, or be another file with the same id, and only the user
    knows whether those answers are still wanted.
    """
    if not targets:
        raise LabelFormatError(f"{log.path}: no target to ask; give the targets to label")
    done = log.answered_texts(annotator)
    beyond = [key for key in done if lengths is not None and key[0] in lengths and key[1] >= lengths[key[0]]]
    if beyond:
        show(_past_the_end_note(beyond, lengths))
    edited = {(c.article, c.sentence) for c in queue if done.get((c.article, c.sentence), c.text) not in (c.text, None)}
    changed = len(edited)  # answered when the article read otherwise: asked again, the new answer replaces the old
    queue = [c for c in queue if (c.article, c.sentence) not in done or (c.article, c.sentence) in edited]
    fits = [c for c in queue if len(row_line(_answer(c, dict.fromkeys(targets, "against"), targets, origin, annotator,
                                                       model_id))) <= MAX_LABEL_LINE]
    counts = {"answered": 0, "skipped": 0, "undone": 0, "remaining": len(fits), "changed": changed,
              "too_long": len(queue) - len(fits), "past_end": len(beyond)}
    if changed:
        show(f"note: {changed} sentence(s) answered before read otherwise now (the article changed); asked again")
    if len(fits) < len(queue):
        show(f"note: {len(queue) - len(fits)} sentence(s) too long for a label line ({MAX_LABEL_LINE >> 20} MiB) "
             "are not asked")
    queue = fits
    history: list[int] = []
    i = 0
    while i < len(queue):
        candidate = queue[i]
        if new_screen is not None:
            new_screen()
        show(render(candidate, i + 1, len(queue), targets))
        answers: dict[str, str] = {}
        step = 0
        moved = False
        while step < len(targets):
            target = targets[step]
            guess = candidate.guess.get(target, (None, 0.0))[0]
            show(f"{target}? [{HELP}]" + (f" (guess: {guess})" if guess else ""))
            key = next(keys, None)
            if key is not None:
                key = "" if key in ACCEPT or not key.strip(" \r\n") else key.strip(" \r\n").lower()  # a Tab is no Enter
            if key is None or key == QUIT:  # "Q" (Caps Lock) and "q " quit too: no answer is saved after it
                counts["remaining"] = len(queue) - i
                return counts
            if key in CHOICES:
                answers[target] = CHOICES[key]
                step += 1
            elif key == "" and guess:
                answers[target] = guess
                step += 1
            elif key == SKIP:
                counts["skipped"] += 1
                i += 1
                moved = True
                break
            elif key == UNDO:
                if step > 0:
                    step -= 1
                    answers.pop(targets[step], None)
                elif history:
                    i = history.pop()
                    previous = queue[i]
                    log.append(_undo(previous.article, previous.sentence, annotator))
                    counts["answered"] -= 1
                    counts["undone"] += 1
                    moved = True
                    break
                else:
                    show("nothing to undo")
            else:
                show(f"unknown key {key!r}; {HELP}" if key else "no guess to accept; choose f, a or n")
        if moved:
            continue
        log.append(_answer(candidate, answers, targets, origin, annotator, model_id))
        counts["answered"] += 1
        history.append(i)
        i += 1
    counts["remaining"] = 0
    return counts


def _past_the_end_note(beyond: Sequence[tuple[str, int]], lengths: dict[str, int]) -> str:
    """The note on answers to sentences an article no longer has: kept, since withdrawing them unasked
    would take sound labels out of use when the cause is another file with the same id."""
    articles = sorted({article for article, _ in beyond})
    named = ", ".join(f"{article} ({lengths[article]} sentence{'s' * (lengths[article] != 1)})"
                      for article in articles[:3])
    named += f" and {len(articles) - 3} more" if len(articles) > 3 else ""
    return (f"note: you answered {len(beyond)} sentence(s) past the end of {named} as split now (shortened since, or "
            "another file has the same id); those answers are kept as they are, and `stance labels check --articles` "
            "says what to do with them")


def _undo(article: str, sentence: int, annotator: str) -> dict:
    """The row that withdraws this annotator's answer to a sentence: the log keeps the answer, readers skip it."""
    return {"article": article, "sentence": sentence, "annotator": annotator, "undone": True, "time": _now()}


def _answer(candidate: Candidate, answers: dict, targets: Sequence[str], origin: str, annotator: str,
            model_id: str | None) -> dict:
    """The row an answered sentence appends: its labels, who gave them and when, and the model's guess."""
    return {
        "article": candidate.article, "sentence": candidate.sentence, "text": candidate.text,
        **{t: answers[t] for t in targets}, "origin": origin, "annotator": annotator, "time": _now(),
        "guess": {t: candidate.guess[t][0] for t in targets if t in candidate.guess}, "model": model_id,
    }
