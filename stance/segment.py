"""Article text -> sentences with stable indices, and page furniture set aside.

Pure functions, no model. The rules, in order:

* A line break ends a sentence; a line is split further only within itself
  (pysbd, rule-based, deterministic). Whitespace is normalised inside a line,
  never across lines, and blank lines vanish.
* Every segment gets the next 0-based index, furniture included, so that label
  files keep their indices when the furniture rules change.
* Page furniture (datelines, bylines, share and sign-up prompts, privacy and
  comment-form notices, image credits, "Read also" links) is recognised by the
  general shapes in :func:`furniture_kind` and is skipped by scoring.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from stance.errors import InputError

__all__ = [
    "Article",
    "Segment",
    "decode_text",
    "furniture_kind",
    "read_article",
    "split_sentences",
]


@dataclass(frozen=True)
class Segment:
    """One sentence of an article; ``furniture`` names why it is skipped, if it is."""

    index: int
    text: str
    furniture: str | None = None


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
        return cls(id=id, segments=tuple(split_sentences(text)))


# --- reading ---------------------------------------------------------------


def decode_text(data: bytes, name: str) -> str:
    """Decode an article's bytes as UTF-8 (a BOM is dropped); anything else is an error."""
    if b"\x00" in data:
        raise InputError(f"{name}: looks like a binary file, not text; give a UTF-8 .txt article")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise InputError(
            f"{name}: not UTF-8 (byte {err.start}); convert it, e.g. iconv -f LATIN1 -t UTF-8"
        ) from None
    if not text.strip():
        raise InputError(f"{name}: the file is empty; give an article with text")
    return text


def read_article(path: str | Path) -> Article:
    """Read and split one UTF-8 article file; its id is the file stem."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such file; check the path")
    if path.is_dir():
        raise InputError(f"{path}: is a directory; give article files (.txt)")
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"{path}: cannot be read ({err.strerror}); check its permissions") from None
    return Article.from_text(decode_text(data, str(path)), id=path.stem)


# --- splitting -------------------------------------------------------------

# A line holds more than one sentence only if a terminator is followed by a space;
# lines without one skip the (comparatively slow) segmenter.
_MAYBE_SEVERAL = re.compile(r"[.!?…][\"'”’»)\]]*\s")


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False)


def _split_line(line: str) -> list[str]:
    if not _MAYBE_SEVERAL.search(line):
        return [line]
    parts = [part.strip() for part in _in_line(line, _segmenter().processor(line).process())]
    return [part for part in parts if part]


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


def split_sentences(text: str) -> list[Segment]:
    """Split article text into indexed segments, furniture marked (see module doc)."""
    segments: list[Segment] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        kind = furniture_kind(line)
        pieces = [line] if kind else _split_line(line)
        for piece in pieces:
            piece_kind = kind if kind or piece == line else furniture_kind(piece)
            segments.append(Segment(len(segments), piece, piece_kind))
    return segments


# --- page furniture ----------------------------------------------------------

_MONTHS = (
    "january february march april may june july august september october november december "
    "jan feb mar apr jun jul aug sep sept oct nov dec"
).split()
_DAYS = "monday tuesday wednesday thursday friday saturday sunday mon tue tues wed thu thur thurs fri sat sun".split()
_DATE = re.compile(
    r"\b(\d{1,2}[./-]\d{1,2}[./-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}"
    r"|(" + "|".join(_MONTHS) + r")\.?\s+\d{1,2}\b|\d{1,2}\s+(" + "|".join(_MONTHS) + r")\b"
    r"|(" + "|".join(_MONTHS) + r")\s+\d{4})",
)
# Words that carry no content in a dateline: times, zones, and publishing verbs.
_DATELINE_WORDS = set(_MONTHS + _DAYS) | set(
    "am pm gmt bst cet cest eet eest utc est edt pst msk local time updated published posted "
    "last modified min mins read minute minutes ago at on".split()
)
_LINK_PREFIX = re.compile(
    r"^(read|see|watch|listen|also read|read more|more|related|recommended|tags?|topics?"
    r"|trending|most read|more from|latest)( (also|more|too|stories|articles|reading))?\s*[:|»>-]",
)
_CALL_TO_ACTION = re.compile(
    r"^(please )?(share|follow|subscribe|sign up|sign-up|signup|register|download|join|click|tap"
    r"|get our|get the|enter (your|a)|newsletter|like us|support us)\b",
)
# What a prompt points the reader at: a channel, a format, or the site itself.
_PROMPT_OBJECT = re.compile(
    r"\b(our|us|newsletter|e-?mail|telegram|facebook|twitter|x|instagram|vk|whatsapp|youtube|tiktok"
    r"|linkedin|channel|updates|story|article|pdf|app|briefing|podcast|alerts|feed)\b",
)
_BOILERPLATE = re.compile(
    r"privacy (policy|notice|statement)|cookie|unsubscribe|sign-?up|newsletter|e-?mail address"
    r"|invalid e-?mail|required fields|leave a (reply|comment)|comment data|akismet|spam\b"
    r"|terms (of use|and conditions|of service)|all rights reserved|adverts? from us"
    r"|javascript|your browser|log ?in (to|or)\b|subscribers? only|available to subscribers"
    # comment forms and comment policies
    r"|have your say|send us your letters|\bcomments? (are|is|on this|close|will)\b.*\b(moderated|approved"
    r"|closed|open|reviewed|removed|rules|guidelines|publication|registered)"
    # reproduction, citation and editorial notices
    r"|\b(republish|reprint|reproduc)\w*\b.*\b(link|permission|source)\b|please cite|\bcite as\b"
    r"|views expressed|reflects? the views|not necessarily (those|the views)|editorial (standards|board)"
    r"|independent of our advertisers|about the authors?:|^the author is an? |produced with the support"
    r"|part of our [\w\s]{1,40} series",
)
_CREDIT = re.compile(
    r"^[(\[]?\s*(image|images|photo|photos|photograph|picture|pic|source|credit|foto|illustration"
    r"|video|footage)s?( credits?)?\s*:[^()]*[)\]]?\s*$|^©|^\(?getty images\)?$",
)
_BYLINE = re.compile(r"^\(?\s*((additional )?reporting|writing|editing|edited|written|compiled) by\b")
_BY_NAME = re.compile(r"by\s+\S+(\s+\S+){0,4}$")
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(text)


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
    if _CREDIT.search(low):
        return "image credit"
    if _BYLINE.search(low):
        return "byline"
    if _LINK_PREFIX.search(low):
        return "link"
    ends_like_sentence = bool(_SENTENCE_END.search(line))
    if _BOILERPLATE.search(low) and len(words) <= 60:
        return "notice"
    if (
        _CALL_TO_ACTION.search(low)
        and _PROMPT_OBJECT.search(low)
        and len(words) <= 16
        and not ends_like_sentence
    ):
        return "prompt"
    if not ends_like_sentence and _DATE.search(low):
        content = [w for w in words if w.lower() not in _DATELINE_WORDS]
        if len(content) <= 2:
            return "dateline"
    if " | " in line and not ends_like_sentence:
        fields = [f for f in line.split(" | ") if f.strip()]
        if len(fields) >= 2 and all(len(_words(f)) <= 6 for f in fields):
            return "dateline" if _DATE.search(low) else "metadata"
    if _BY_NAME.match(low) and not ends_like_sentence:
        return "byline"
    return None
