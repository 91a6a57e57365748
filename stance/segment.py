"""Article text -> sentences with stable indices, and page furniture set aside.

Pure functions, no model. The rules, in order:

* A line break ends a sentence; a line is split further only within itself
  (pysbd, rule-based, deterministic). Invisible format characters (zero-width
  spaces, soft hyphens, byte-order marks; see :data:`_INVISIBLE`) are removed and
  whitespace is normalised inside a line, never across lines, and blank lines
  vanish. A line longer than
  :data:`MAX_SPLIT_CHARS` is cut at sentence ends into pieces of at most that
  length before pysbd, so that splitting time grows linearly.
* Every segment gets the next 0-based index, furniture included, so that label
  files keep their indices when the furniture rules change.
* Page furniture (datelines, bylines, share and sign-up prompts, privacy and
  comment-form notices, image credits, "Read also" links, a site's chrome) is
  recognised by the general shapes in :func:`furniture_kind`, and the headlines
  under a "Related stories" heading by their place; scoring skips it. Captions and
  headlines are sentences (LABELING.md).
"""

from __future__ import annotations

import codecs
import errno
import math
import os
import re
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice
from pathlib import Path

from stance.errors import InputError

__all__ = [
    "ENGLISH_SHARE",
    "MAX_ARTICLE_MB",
    "MAX_ARTICLE_SENTENCES",
    "MAX_SPLIT_CHARS",
    "SERBIAN_SHARE",
    "Article",
    "Segment",
    "check_sentence_count",
    "decode_text",
    "ends_like_sentence",
    "furniture_kind",
    "has_invisible",
    "language_shares",
    "line_kinds",
    "max_article_bytes",
    "printable_name",
    "read_article",
    "read_article_bytes",
    "read_stdin_bytes",
    "regular_file",
    "require_regular_file",
    "split_sentences",
    "visible_line",
]


@dataclass(frozen=True)
class Segment:
    """One sentence of an article; ``furniture`` names why it is skipped, if it is.

    ``raw`` is a line of furniture exactly as the article has it (its spaces and invisible
    characters kept), which ``skipped`` lists; None for a sentence, or for furniture that
    is part of a line.
    """

    index: int
    text: str
    furniture: str | None = None
    raw: str | None = field(default=None, compare=False, repr=False)

    @property
    def as_written(self) -> str:
        """The text as the article has it where it can be told (a whole line), else as it is scored."""
        return self.text if self.raw is None else self.raw


@dataclass(frozen=True)
class Article:
    """An article split into segments; ``id`` is the file stem (``-`` for stdin)."""

    id: str
    segments: tuple[Segment, ...]

    @property
    def sentences(self) -> list[Segment]:
        """Segments that are scored."""
        return [s for s in self.segments if s.furniture is None]

    @property
    def skipped(self) -> list[Segment]:
        """Segments recognised as page furniture."""
        return [s for s in self.segments if s.furniture is not None]

    @property
    def title(self) -> str:
        """The first line of the article, as the splitter returns it."""
        return self.segments[0].text if self.segments else ""

    @classmethod
    def from_text(cls, text: str, id: str = "-") -> "Article":
        """Split ``text``, refusing it as soon as it has more than :data:`MAX_ARTICLE_SENTENCES` segments."""
        segments = []
        for segment in _segments(text):
            if segment.index >= MAX_ARTICLE_SENTENCES:
                raise too_many_sentences(id, None)
            segments.append(segment)
        return cls(id=id, segments=tuple(segments))


#: The most sentences one article may have. Each scored sentence keeps about 4 KB until
#: its article is written, so this bounds one article at about a gigabyte; the size limit
#: alone (``STANCE_MAX_ARTICLE_MB``) lets through millions of one-letter lines. Splitting
#: stops at the first sentence over it, so a longer text costs no more than the limit's worth.
MAX_ARTICLE_SENTENCES = 200_000


def too_many_sentences(id: str, n: int | None) -> InputError:
    """The error for an article over :data:`MAX_ARTICLE_SENTENCES` (``n`` None: found while splitting)."""
    over = (f"more than {MAX_ARTICLE_SENTENCES:,} sentences, the most one article may have" if n is None
            else f"{n:,} sentences, more than the {MAX_ARTICLE_SENTENCES:,} one article may have")
    return InputError(f"{id}: {over}; split it into several articles (a table with one row per article)")


def check_sentence_count(article: Article) -> None:
    """Refuse, before it is encoded, an article with more sentences than :data:`MAX_ARTICLE_SENTENCES`."""
    n = len(article.sentences)
    if n > MAX_ARTICLE_SENTENCES:
        raise too_many_sentences(article.id, n)


# --- reading ---------------------------------------------------------------

#: Largest article accepted, in MB (2**20 bytes) of encoded text, unless
#: ``STANCE_MAX_ARTICLE_MB`` says otherwise: a bound on the memory and time one
#: input can take, far above any news article.
MAX_ARTICLE_MB = 10
_MB = 2**20
_READ_BLOCK = _MB


def max_article_bytes() -> int:
    """The article size limit in bytes: ``STANCE_MAX_ARTICLE_MB``, else :data:`MAX_ARTICLE_MB`."""
    raw = os.environ.get("STANCE_MAX_ARTICLE_MB")
    if raw is None:
        return MAX_ARTICLE_MB * _MB
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value * _MB) and value > 0):  # 1e308 MB overflows once in bytes
        raise InputError(
            f"STANCE_MAX_ARTICLE_MB={raw!r} is not a positive number of megabytes; "
            f"unset it (default {MAX_ARTICLE_MB}) or give one, e.g. STANCE_MAX_ARTICLE_MB=20"
        )
    return max(1, int(value * _MB))


def too_big(name: str, size: int | None, limit: int) -> InputError:
    """The error for an article over the limit (``size`` None: not known beyond the limit)."""
    over = (f"more than {_megabytes(limit)} of text, the limit for one article" if size is None
            else f"{_megabytes(size)} of text, over the {_megabytes(limit)} limit for one article")
    return InputError(f"{name}: {over}; split it, or raise the limit with STANCE_MAX_ARTICLE_MB")


def _megabytes(size: int) -> str:
    return f"{size / _MB:.3g} MB" if size >= _MB / 10 else f"{size} bytes"


def printable_name(path: str | os.PathLike) -> str:
    """A path as text that can be printed and stored: bytes that are not UTF-8 shown as ``\\xe9``.

    A file name that is not UTF-8 decodes to lone surrogates, which no UTF-8
    output (terminal, SQLite, Parquet) accepts.
    """
    return os.fsencode(path).decode("utf-8", "backslashreplace")


_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISDIR, "a directory"),
)


def file_kind(mode: int) -> str:
    """What a file of this ``st_mode`` is, in words ("a FIFO (named pipe)", "a character device", ...)."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file(path: str | Path) -> os.stat_result | str:
    """``path``'s stat when it is a regular file, else what it is (``"a FIFO (named pipe)"``, ...).

    Asked before opening: opening a FIFO waits for a writer, and a device
    like ``/dev/zero`` never ends.
    """
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise InputError(f"{printable_name(path)}: no such file or folder; check the path") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise InputError(f"{printable_name(path)}: a loop of symbolic links; point the link at a real file") from None
        raise InputError(f"{printable_name(path)}: cannot be read ({err.strerror}); check its permissions") from None
    return st if stat.S_ISREG(st.st_mode) else file_kind(st.st_mode)


def require_regular_file(path: str | Path, advice: str | None = None,
                         error: type[Exception] = InputError) -> os.stat_result:
    """``path``'s stat, or ``error`` saying what it is instead and ``advice``, before anything opens it.

    For files a command reads or appends to in place (articles, labels, a
    database): a FIFO would block the open, a device would never end. Without
    ``advice``, the advice is an article's (see :func:`not_regular`).
    """
    found = regular_file(path)
    if isinstance(found, str):
        raise not_regular(printable_name(path), found, advice, error)
    return found


def not_regular(name: str, kind: str, advice: str | None = None, error: type[Exception] = InputError) -> Exception:
    """The error for a path that is not a regular file; ``kind`` comes from :func:`regular_file`.

    The default advice is an article's: a FIFO holding one can be piped to `stance score -`.
    """
    if advice is None:
        advice = "give an article file, a folder or a table" + (
            " (or pipe it to `stance score -`)" if "FIFO" in kind else "")
    return error(f"{name}: is {kind}, not a regular file; {advice}")


_OPEN_FLAGS = sum(getattr(os, flag, 0) for flag in ("O_NONBLOCK", "O_NOCTTY", "O_CLOEXEC"))


def read_article_bytes(path: str | Path) -> bytes:
    """An article file's bytes: regular files only, and at most the size limit."""
    name, limit = printable_name(path), max_article_bytes()
    st = require_regular_file(path)
    if st.st_size > limit:
        raise too_big(name, st.st_size, limit)
    try:  # O_NONBLOCK: should the file have been swapped for a FIFO since, opening it does not wait
        fd = os.open(path, os.O_RDONLY | _OPEN_FLAGS)
    except OSError as err:
        raise InputError(f"{name}: cannot be read ({err.strerror}); check its permissions") from None
    with open(fd, "rb", buffering=0) as stream:
        mode = os.fstat(stream.fileno()).st_mode
        if not stat.S_ISREG(mode):
            raise not_regular(name, file_kind(mode))
        try:
            data = _read_at_most(stream, limit + 1)
        except OSError as err:
            raise InputError(f"{name}: cannot be read ({err.strerror}); check the file") from None
    if len(data) > limit:
        raise too_big(name, None, limit)
    return data


def read_stdin_bytes() -> bytes:
    """Standard input's bytes, at most the size limit."""
    limit = max_article_bytes()
    if sys.stdin is None:  # started with stdin closed (<&-)
        raise InputError("stdin is closed; pipe an article in (stance score - < article.txt), or give its file")
    data = _read_at_most(sys.stdin.buffer, limit + 1)
    if len(data) > limit:
        raise too_big("<stdin>", None, limit)
    return data


def _read_at_most(stream, size: int) -> bytes:
    """Up to ``size`` bytes, a block at a time (one ``read(size)`` would allocate ``size`` up front)."""
    blocks, left = [], size
    while left > 0:
        block = stream.read(min(left, _READ_BLOCK))
        if not block:
            break
        blocks.append(block)
        left -= len(block)
    return b"".join(blocks)


_BOMS = (  # UTF-32 first: its little-endian mark begins with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def decode_text(data: bytes, name: str) -> str:
    """Decode an article's bytes: UTF-8, or UTF-16/32 with a byte-order mark; anything else is an error."""
    limit = max_article_bytes()
    if len(data) > limit:
        raise too_big(name, len(data), limit)
    codec, label = next(((c, lab) for bom, c, lab in _BOMS if data.startswith(bom)), ("utf-8", "UTF-8"))
    if codec == "utf-8" and b"\x00" in data:
        raise _binary_or_utf16(data, name)
    try:
        text = data.decode(codec)
    except UnicodeDecodeError as err:
        # bytes FF FE or FE FF that do not go on as UTF-16 are no UTF-8 either: most likely Latin-1 "ÿþ"
        what = "not UTF-8" if label == "UTF-8" else f"not UTF-8 (byte 0), nor {label} despite its byte-order mark"
        raise InputError(f"{name}: {what} (byte {err.start}); {eight_bit_advice(data)}") from None
    if "\x00" in text:
        raise _binary_or_utf16(data, name)
    if not text.strip():
        raise InputError(f"{name}: the file is empty; give an article with text")
    if not visible_line(text):  # a blank line is one of nothing but format characters too (see visible_line)
        raise InputError(f"{name}: the file holds nothing but invisible characters; give an article with text")
    _refuse_markup(text, name)
    return text


def iconv_line(codec: str, suffix: str = ".txt") -> str:
    """The command that converts a file in ``codec`` to UTF-8, as an error message shows it."""
    return f"iconv -f {codec} -t UTF-8 FILE > FILE.utf8{suffix}"


#: Bytes of Serbian Latin's own letters in Windows-1250 (Š Ž š ž Č č Ć ć Đ đ).
_SERBIAN_1250 = frozenset(b"\x8a\x8e\x9a\x9e\xc8\xe8\xc6\xe6\xd0\xf0")


def eight_bit_advice(data: bytes, suffix: str = ".txt") -> str:
    """How to convert a text saved in a Windows code page, the likeliest first: converted as
    Latin-1, Serbian Latin (1250) loses š and ž and Western quotes (1252) become control codes."""
    sample = data[: 1 << 20]
    high = [b for b in sample if b >= 0x80]
    latin = sum(1 for b in sample if 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A)
    if high and len(high) > latin:  # letters mostly beyond ASCII: Cyrillic
        order = ["WINDOWS-1251", "WINDOWS-1250", "WINDOWS-1252"]
    elif high and 2 * sum(b in _SERBIAN_1250 for b in high) >= len(high):
        order = ["WINDOWS-1250", "WINDOWS-1252", "WINDOWS-1251"]
    else:
        order = ["WINDOWS-1252", "WINDOWS-1250", "WINDOWS-1251"]
    return (f"convert it from the code page it was saved in, e.g. {iconv_line(order[0], suffix)} "
            f"(or {' or '.join(order[1:])}; 1250 is Serbian Latin, 1251 Cyrillic, 1252 Western)")


def file_encoding_advice(path: str | Path) -> str | None:
    """How to convert a file (a table) that is not UTF-8 as a whole: UTF-16 or 32, or a code page; None
    when it is UTF-8 but for some lines, which are then to be fixed one by one."""
    with open(path, "rb") as stream:
        sample = stream.read(1 << 20)
    suffix = Path(path).suffix
    if codec := wide_text_codec(sample):
        return f"it is {codec} text: convert it, e.g. {iconv_line(codec, suffix)}"
    if not any("\x80" <= c != "\ufffd" for c in sample.decode("utf-8", errors="replace")):
        return eight_bit_advice(sample, suffix)  # no byte beyond ASCII reads as UTF-8: the whole file is in a code page
    return None


def _refuse_markup(text: str, name: str) -> None:
    """Refuse a saved web page or a PDF: their markup would be scored as sentences (a script, a menu)."""
    head = text[:1024].lstrip("\ufeff \t\r\n").lower()
    if re.match(r"%pdf-\d\.\d", head) and re.search(r"\bendobj\b|%%eof", text[: 1 << 16].lower()):
        raise InputError(f"{name}: a PDF file, not text; extract its text first, e.g. pdftotext FILE ARTICLE.txt")
    page = head.startswith("<!doctype html") or (
        re.match(r"(<\?xml[^>]*>\s*)?<html[\s>]", head) and re.search(r"<(head|body)[\s>]", text[: 1 << 16].lower()))
    if page:
        raise InputError(f"{name}: an HTML page, not article text; save the article's text alone "
                         "(a browser's reader view, or a text extractor such as trafilatura)")


def _binary_or_utf16(data: bytes, name: str) -> InputError:
    """The error for bytes with NULs: UTF-16 without a byte-order mark is named as such."""
    codec = utf16_without_mark(data)
    if codec is not None:
        return InputError(
            f"{name}: looks like {codec} text without a byte-order mark; convert it to UTF-8, "
            f"e.g. {iconv_line(codec)}"
        )
    return InputError(f"{name}: looks like a binary file, not text; give a UTF-8 .txt article")


def wide_text_codec(data: bytes) -> str | None:
    """``UTF-16``/``UTF-32`` (by a byte-order mark) or ``UTF-16LE``/``BE`` (by :func:`utf16_without_mark`)
    when bytes with NULs are text in a wider encoding than UTF-8; None for a binary file."""
    marked = next((label for bom, _, label in _BOMS if data.startswith(bom) and label != "UTF-8"), None)
    return marked or utf16_without_mark(data)


def utf16_without_mark(data: bytes) -> str | None:
    """``UTF-16LE`` or ``UTF-16BE`` when ``data`` reads as such text, else None.

    Text in UTF-16 has its zero bytes (the high byte of ASCII characters) on one
    side of each pair: odd offsets for little-endian, even for big-endian, and at
    least in its spaces and punctuation (a tenth of the pairs, even in Cyrillic).
    One stray NUL in UTF-8 text is not that.
    """
    sample = data[:65536]
    zeros_even, zeros_odd = sample[0::2].count(0), sample[1::2].count(0)
    codec = "UTF-16LE" if zeros_odd > zeros_even else "UTF-16BE"
    if (min(zeros_even, zeros_odd) <= 0.1 * max(zeros_even, zeros_odd)
            and max(zeros_even, zeros_odd) > 0.1 * (len(sample) // 2) and _reads_as_text(sample, codec)):
        return codec
    return None


def _reads_as_text(sample: bytes, codec: str) -> bool:
    """Whether ``sample`` decodes as ``codec`` to words: printable characters, with spaces or line breaks."""
    try:
        text = codecs.getincrementaldecoder(codec)().decode(sample, final=False)
    except UnicodeDecodeError:
        return False
    readable = sum(c.isprintable() or c in "\n\r\t" for c in text)
    return readable >= 0.95 * len(text) and any(c.isspace() for c in text)


def read_article(path: str | Path) -> Article:
    """Read and split one article file (see :func:`decode_text`); its id is the file stem."""
    path = Path(path)
    if os.path.isdir(path):
        raise InputError(f"{printable_name(path)}: is a directory; give article files (.txt)")
    data = read_article_bytes(path)
    return Article.from_text(decode_text(data, printable_name(path)), id=printable_name(path.stem))


# --- splitting -------------------------------------------------------------

# A line holds more than one sentence only if a terminator is followed by a space;
# lines without one skip the (comparatively slow) segmenter.
_MAYBE_SEVERAL = re.compile(r"[.!?…][\"'”’»)\]]*\s")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


#: Longest text handed to pysbd at once. Its time grows faster than its input
#: (a 50,000-character line costs ten times as much per character as a
#: 2,000-character one), so a longer line is cut into pieces first (see
#: :func:`_chunks`). Real paragraphs are far shorter and split exactly as pysbd
#: splits them.
MAX_SPLIT_CHARS = 5000


def _split_line(line: str) -> Iterator[str]:
    """The sentences of one line, a piece at a time (see :func:`_chunks`)."""
    if not _MAYBE_SEVERAL.search(line):
        yield line
    elif len(line) > MAX_SPLIT_CHARS:
        for chunk in _chunks(line):
            yield from _split_chunk(chunk)
    else:
        yield from _split_chunk(line)


def _split_chunk(text: str) -> list[str]:
    if not _MAYBE_SEVERAL.search(text):
        return [text.strip()] if text.strip() else []
    parts = [part.strip() for part in _rejoined(_in_line(text, _segmenter().processor(text).process()))]
    return [part for part in parts if part]


# Where pysbd cuts a sentence in news text: a quotation ending in "?" or "!" before its speaker
# ('"Never!" Vulin said.'), a piece that goes on in lower case ("6 p.m. on Monday"), one that is
# only punctuation (the last dot of "2024..."), and a diplomat's title or "about" ("Amb. Botsan-Kharchenko", "c. 80").
_QUOTE_CLOSED = re.compile(r"[?!…][\"'”’»]+\s*$")
# The speaker after a quotation: a few words (a name, a title between commas), a verb of saying, and at
# most where or to whom ('Vulin said.', 'Aleksandar Vulin, then interior minister, said.', 'Vučić asked reporters
# in Belgrade on Monday.'); not a new sentence ('Putin said the same.', 'Serbia said yes, Vučić told reporters.').
_SAYING = (r"(said|says|asked|asks|added|adds|told|wrote|writes|tweeted|posted|replied|insisted|stressed|noted"
           r"|declared|warned|claimed|argued|explained|continued|concluded|shouted|exclaimed)\b")
_SPEAKER = re.compile(
    r"^[\w'’.-]+(,?\s+(?!" + _SAYING + r")[\w'’.-]+){0,6},?\s+" + _SAYING
    + r"(\s+(reporters|journalists|him|her|them|us|(the )?[A-ZČĆŠĐŽ][\w'’.-]*( [A-ZČĆŠĐŽ][\w'’.-]*){0,2}))?"
    r"(\s+(on|in|at|after|before|during|when|while|from|to|as)\b((?!\bthat\b)[^.,;:!?\"“”]){0,60})?\.\s*$"
)
_CONTINUES = re.compile(r"^[\W_]*[a-zß-ÿа-яђјљњћџ]")
# A cut after a short word with a dot ("p.m.", "Jan.", "9."), where a lower-case piece goes on; not after
# a sentence's last word ("...fell. iPhone sales rose").
_ABBREVIATION_CUT = re.compile(r"(\b\w{1,4}\.|\.\w+\.|\d\.)\s*$")
_PUNCTUATION_ONLY = re.compile(r"^[\W_]+$")
_TITLE_CUT = re.compile(r"(\bAmbs?|(?<![\w.])(c|ca|approx))\.\s*$")  # "Amb. Botsan-Kharchenko", "c. 80 per cent"


def _rejoined(pieces: list[str]) -> list[str]:
    """pysbd's pieces of one text (each with its trailing spaces), where it cut a sentence joined again."""
    joined: list[str] = []
    for piece in pieces:
        if joined and (
            _PUNCTUATION_ONLY.match(piece)
            or (_CONTINUES.match(piece) and _ABBREVIATION_CUT.search(joined[-1]))
            or (_QUOTE_CLOSED.search(joined[-1]) and _SPEAKER.match(piece))
            or _TITLE_CUT.search(joined[-1])
        ):
            joined[-1] += piece
        else:
            joined.append(piece)
    return joined


def _chunks(line: str) -> Iterator[str]:
    """``line`` in consecutive pieces of at most :data:`MAX_SPLIT_CHARS` characters.

    Each piece ends, within the second half of its window, after the last
    sentence terminator followed by a space, else after the last space, else
    at the window's end. A cut is a sentence break, so on such long lines a
    cut may fall after an abbreviation where pysbd would not have split.
    """
    start, half = 0, MAX_SPLIT_CHARS // 2
    while len(line) - start > MAX_SPLIT_CHARS:
        end = start + MAX_SPLIT_CHARS
        cut = None
        for match in _MAYBE_SEVERAL.finditer(line, start + half, end):
            cut = match.end()
        if cut is None:
            space = line.rfind(" ", start + half, end)
            cut = space + 1 if space >= 0 else end
        yield line[start:cut]
        start = cut
    yield line[start:]


def _in_line(line: str, sentences: list[str]) -> list[str]:
    """pysbd's sentences as they stand in ``line``, each with the spaces after it.

    The same rule as ``pysbd.Segmenter.segment`` (the first occurrence ending
    beyond the previous sentence; one not found is dropped), found with
    ``str.find``: pysbd compiles a regular expression per sentence for this,
    which made up a quarter of the time spent splitting.
    """
    found, prior_end = [], 0
    for sentence in sentences:
        if not sentence:
            continue
        start = line.find(sentence)
        while start >= 0:
            end = start + len(sentence)
            while end < len(line) and line[end].isspace():
                end += 1
            if end > prior_end:
                found.append(line[start:end])
                prior_end = end
                break
            start = line.find(sentence, end)
    return found


# Unicode's format characters (category Cf, as of Unicode 15): zero-width spaces, soft hyphens,
# byte-order marks, bidirectional marks. They are invisible, yet to the model "Ser\u200bbia" is not
# Serbia, and a byte-order mark after a full stop hides the sentence end. The joiners (U+200C, U+200D)
# and the tag characters spell words and emoji in other scripts (Persian, Hindi, a family, a flag):
# the joiners go only beside a Latin, Greek or Cyrillic letter, where they spell nothing.
_INVISIBLE = re.compile(
    "[\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b\u200e\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a]"
    "|(?<=[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])[\u200c\u200d]+"
    "|[\u200c\u200d]+(?=[A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u04ff])"
)


def has_invisible(text: str) -> bool:
    """Whether ``text`` holds a character the splitter removes (see :data:`_INVISIBLE`)."""
    return _INVISIBLE.search(text) is not None


def visible_line(raw: str) -> str:
    """A line as it reads: invisible format characters removed, whitespace runs made one space."""
    return " ".join(_INVISIBLE.sub("", raw).split())


def line_kinds(raw_lines: Iterable[str]) -> Iterator[tuple[str, str, str | None]]:
    """``(raw, line, kind)`` for each line that is not blank: the line as it reads (:func:`visible_line`) and
    its furniture kind, the headlines under a "Related stories" heading marked as links."""
    under_heading = False
    for raw in raw_lines:
        line = visible_line(raw)
        if not line:
            continue
        kind = furniture_kind(line)
        if _LINK_HEADING.match(line.lower()):
            kind, under_heading = "link", True
        elif under_heading and not kind and _headline_like(line):
            kind = "link"  # one of the links a "Related stories" heading lists
        else:
            under_heading = False  # a sentence, or furniture of another kind, ends the list
        yield raw, line, kind


def split_sentences(text: str) -> list[Segment]:
    """Split article text into indexed segments, furniture marked (see module doc)."""
    return list(_segments(text))


def _segments(text: str) -> Iterator[Segment]:
    """The segments of ``text`` one at a time, so that a caller may stop early."""
    index = 0
    for raw, line, kind in line_kinds(text.splitlines()):
        if kind:
            yield Segment(index, line, kind, raw)
            index += 1
            continue
        for piece in _split_line(line):
            yield Segment(index, piece, None if piece == line else furniture_kind(piece))
            index += 1


# --- page furniture ----------------------------------------------------------

# Months and days in English and in Serbian (Latin and Cyrillic, nominative and genitive).
_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec "
    "januar januara februar februara mart marta aprila maj maja juna jula avgust avgusta septembar septembra "
    "oktobar oktobra novembar novembra decembar decembra "
    "јануар јануара фебруар фебруара март марта април априла мај маја јун јуна јул јула август августа "
    "септембар септембра октобар октобра новембар новембра децембар децембра"
).split()
_DAYS = (
    "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun "
    "ponedeljak utorak sreda srijeda četvrtak petak subota nedelja nedjelja "
    "понедељак уторак среда четвртак петак субота недеља"
).split()
_DATE = re.compile(
    r"\b(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}"
    r"|(" + "|".join(_MONTHS) + r")\.?\s+\d{1,2}\b|\d{1,2}\.?\s+(" + "|".join(_MONTHS) + r")(?!\w)"
    r"|(" + "|".join(_MONTHS) + r")\s+\d{4})",
)
# Wire services, whose name in parentheses follows a dateline's places ("BELGRADE/MOSCOW, May 4 (Reuters) -").
_WIRES = "reuters ap afp dpa epa efe ansa tass ria novosti sputnik xinhua anadolu tanjug beta fonet hina mina bloomberg".split()
# Words that carry no content in a dateline: times, zones, and publishing verbs.
_DATELINE_WORDS = set(_MONTHS + _DAYS) | set(
    "am pm gmt bst cet cest eet eest utc est edt pst msk local time updated published posted "
    "last modified min mins read minute minutes ago at on "
    "godine objavljeno ažurirano izmenjeno u h године објављено ажурирано измењено у ч".split()
)
# A line made only of these words is a site's chrome: ads, share buttons, reading times, image sources.
_CHROME_WORDS = set(_WIRES) | set(
    "advertisement advertisements advert sponsored print email e mail share facebook twitter x whatsapp telegram "
    "viber linkedin reddit copy link comments comment most read popular viewed listen to this article min mins "
    "minute minutes audio watch video gallery image images source getty via photo photos credit story continues "
    "below skip main content toggle navigation menu search close".split()
)
_LINK_PREFIX = re.compile(
    r"^(read|see|watch|listen|also read|read more|more|related|recommended|tags?|topics?"
    r"|trending|most read|more from|latest)( (also|more|too|stories|articles|reading))?\s*[:|»>-]",
)
# A heading over a list of links to other stories; the headline-like lines under it are links too.
_LINK_HEADING = re.compile(
    r"^(related|related (stories|articles|news|coverage|content|reading)|read (also|more)|also read|see also"
    r"|more on this (story|topic)|more stories|recommended( stories| for you)?|you (may|might) also like"
    r"|most (read|popular|viewed)|latest (news|stories))\s*:?$"
)
#: Words beyond which a line under such a heading is a paragraph, not a link.
_LINK_WORDS = 14


def _headline_like(line: str) -> bool:
    return len(_words(line)) <= _LINK_WORDS and not ends_like_sentence(line)


_CALL_TO_ACTION = re.compile(
    r"^(please )?(share|follow|subscribe|sign up|sign-up|signup|register|download|join|click|tap"
    r"|get our|get the|enter (your|a)|newsletter|like us|support us)\b",
)
# Prompts however they end: "Click here to read the full interview...", "Sign up here.", "Get the latest
# news on our Telegram channel." (not "Tap water is scarce", "Subscribe to the EU's sanctions? Never").
_PLAIN_PROMPT = re.compile(
    r"^(please )?(click|tap) (here|below|the link|on the link)\b"
    r"|^(please )?(subscribe|sign up|sign-up|signup|register)( here| now| today| for free)?[.!]?$"
    r"|^get (the latest|our) [\w\s,'’-]{0,60}\b(on|via|in|from|with) our\b"
)
# What a prompt points the reader at: a channel, a format, or the site itself.
_PROMPT_OBJECT = re.compile(
    r"\b(our|us|newsletter|e-?mail|telegram|facebook|twitter|x|instagram|vk|whatsapp|youtube|tiktok"
    r"|linkedin|channel|updates|story|article|pdf|app|briefing|podcast|alerts|feed)\b",
)
_BOILERPLATE = re.compile(
    r"privacy (policy|notice|statement)|cookie|unsubscribe|sign-?up|newsletter|e-?mail address"
    r"|invalid e-?mail|required fields|leave a (reply|comment)|comment data|akismet|reduce spam|spam (filter|folder)"
    r"|terms (of use|and conditions|of service)|all rights reserved|adverts? from us"
    r"|javascript|your browser|log ?in (to|or)\b|subscribers? only|available to subscribers"
    # comment forms and comment policies
    r"|have your say|send us your letters|^(all |reader |readers' |your )?comments? (are|is|on this|close|will)\b.*\b(moderated"
    r"|approved|closed|open|reviewed|removed|rules|guidelines|publication|registered)"
    # reproduction, citation and editorial notices
    r"|\b(republish\w*|reprint\w*|reproduction|(be|been|is|are) reproduced)\b.*\b(link|permission|source)\b"
    r"|please cite|\bcite as\b|(views|opinions) expressed (in|here|on|are|by (the |our )?(authors?|contributors?|writers?))\b"
    r"|reflects? (only )?the (views|opinions) of (the |its )?(authors?|contributors?|writers?)|necessarily reflect"
    r"|not necessarily (those|the views)|editorial (standards|board)|thomson reuters trust principles|^our standards:"
    r"|independent of our advertisers|about the authors?:|^the author is an? "
    r"|^this (publication|article|story|report|brief|project|content|material|text|website|page|piece|series|analysis"
    r"|podcast|video|programme|program|newsletter)\b[\w\s-]{0,30}\b(is|was|were|has been) (produced|made|prepared"
    r"|published|funded|supported) with the (financial )?support"
    r"|part of our [\w\s]{1,40} series|^this (article|story|piece) (was |is )?(originally|first) (published|appeared)",
)
_CREDIT = re.compile(
    r"^[(\[]?\s*(image|images|photo|photos|photograph|picture|pic|source|credit|foto|illustration"
    r"|video|footage)s?( credits?)?\s*:[^()]*[)\]]?\s*$|^©|^\(?getty images\)?$",
)
# A photographer's credit: an agency, a slash, a name ("REUTERS/Marko Djurica"; not "AP/Serbia backs Russia").
_PHOTOGRAPHER = re.compile(r"^(?i:" + "|".join(_WIRES) + r"|getty images|shutterstock|pixsell)\s?/\s?"
                           r"[A-ZČĆŠĐŽ][\w'’.-]*( [A-ZČĆŠĐŽ][\w'’.-]*){0,2}$")
# Words that make a "Photo: ..." line a caption, however short: "Photo: Vucic and Putin in Belgrade".
_CAPTION_WORDS = frozenset("in at and with during after before on as meets met speaks spoke attends "
                           "visits shakes signs holds arrives waves".split())
# A wire service's credit in a dateline: "(Reuters)", "(Tanjug) -".
_WIRE_CREDIT = re.compile(r"\((" + "|".join(_WIRES) + r")\)\s*[-—–]?")
# A wire dateline without a date: a place in capitals, the wire, a dash ("BELGRADE, Serbia (AP) —").
_WIRE_DASH = re.compile(r"^[A-ZČĆŠĐŽ][A-ZČĆŠĐŽ/ .-]{2,}\b.{0,40}\((?i:" + "|".join(_WIRES) + r")\)\s*[-—–]$")
#: Words after "Photo:" beyond which the line is a caption, a sentence, not a credit.
_CREDIT_WORDS = 6
_BYLINE = re.compile(r"^\(?\s*((additional )?reporting|writing|editing|edited|written|compiled) by\b"
                     r"|^with (additional )?reporting (by|from)\b[^.]{0,60}$"
                     r"|^[\w\s.,'’/&-]{1,60}\bcontributed (reporting|to this (report|story|article))\.?$")
_BY_NAME = re.compile(r"by\s+\S+(\s+\S+){0,4}$")
# "4. maj 2024.", "04.05.2024.": a Serbian date, day with a dot, ends with one too, and makes no sentence of its line.
_DATE_DOT_END = re.compile(r"\d{1,2}\.\s*(\d{1,2}\.|[^\W\d_]+\.?)\s*\d{4}\.$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


def ends_like_sentence(text: str) -> bool:
    """Whether ``text`` ends as a sentence does: a full stop, "?", "!" or "…", then at most closing quotes or brackets."""
    return _SENTENCE_END.search(text) is not None


# Words that make about a fifth or more of any English news text, and next to none of a Serbian one
# (so not "a", "to" or "on", which are Serbian words too).
_ENGLISH_WORDS = frozenset(
    "the of and in is was for that with by as at from has have had will would said says be been are were "
    "it its his her their not this which who after but an".split()
)
# Serbian's commonest short words, in both scripts: a Serbian news text has a fifth or more of them.
_SERBIAN_WORDS = frozenset(
    "je da i u se na za su od koji koja koje sa iz ne što kao ali ili li bi će biti bio bila nije smo ga mu joj im "
    "је да и у се на за су од који која које са из не што као али или ли би ће бити био била није смо га му јој им".split()
)
#: A text of at least :data:`_LANGUAGE_MIN_WORDS` words with fewer common English words than this share,
#: and at least :data:`SERBIAN_SHARE` common Serbian ones, reads as Serbian.
ENGLISH_SHARE = 0.05
SERBIAN_SHARE = 0.10
_LANGUAGE_MIN_WORDS = 20
_LANGUAGE_SAMPLE_WORDS = 5_000


def language_shares(texts: Iterable[str]) -> tuple[float, float] | None:
    """The shares of common English and of common Serbian words in ``texts``; None when too short to tell.

    The models read English: a Serbian article comes out mostly ``none`` whatever it says,
    so scoring warns of one. The seed and written articles hold 20% and more common English
    words; English headlines, lists and names hold few, but no Serbian ones either.
    """
    found = (match.group().lower() for text in texts for match in _WORD.finditer(text))
    words = list(islice(found, _LANGUAGE_SAMPLE_WORDS))  # an article's opening tells its language as well as all of it
    if len(words) < _LANGUAGE_MIN_WORDS:
        return None
    return (sum(w in _ENGLISH_WORDS for w in words) / len(words), sum(w in _SERBIAN_WORDS for w in words) / len(words))


def furniture_kind(line: str) -> str | None:
    """Name the kind of page furniture a line is, or None for a real sentence.

    The rules look at shape and vocabulary (a dateline is a date with at most two
    other words; a credit is ``Image: ...``; a prompt starts with an imperative
    like *Subscribe* or *Share*), not at any one site's wording, and stay off
    lines that read as full sentences.
    """
    words = _words(line)
    if not words:
        return "no words"
    low = line.lower()  # the patterns are lower case: one lowering beats IGNORECASE on each
    if _PHOTOGRAPHER.match(line):
        return "image credit"
    if _CREDIT.search(low):
        named = _words(low.partition(":")[2])
        if len(named) <= _CREDIT_WORDS and not _CAPTION_WORDS.intersection(named):
            return "image credit"
    if _BYLINE.search(low):
        return "byline"
    if _LINK_PREFIX.search(low):
        return "link"
    sentence_end = ends_like_sentence(line)
    if len(words) <= 60 and _BOILERPLATE.search(low):  # the count first: the pattern's ".*" is slow on long lines
        return "notice"
    if len(words) <= 16 and (
        _PLAIN_PROMPT.search(low)
        or (_CALL_TO_ACTION.search(low) and _PROMPT_OBJECT.search(low) and not sentence_end)
    ):
        return "prompt"
    dot_date = sentence_end and bool(_DATE_DOT_END.search(line))  # at most a place beside it: "Beograd, 4. maja 2024."
    if (not sentence_end or dot_date) and (_DATE.search(low) or _WIRE_DASH.match(line)):
        content = [w for w in _words(_WIRE_CREDIT.sub(" ", low)) if w not in _DATELINE_WORDS]
        if len(content) <= (1 if dot_date else 2):
            return "dateline"
    if " | " in line and not sentence_end:
        fields = [f for f in line.split(" | ") if f.strip()]
        headline = len(fields) == 2 and len(_words(fields[0])) >= 3 and not _DATE.search(low)  # "Headline | DW News"
        if len(fields) >= 2 and all(len(_words(f)) <= 6 for f in fields) and not headline:
            return "dateline" if _DATE.search(low) else "metadata"
    if _BY_NAME.match(low) and not sentence_end:
        return "byline"
    if len(words) <= 6 and all(w.lower() in _CHROME_WORDS for w in words):
        return "page chrome"
    return None
