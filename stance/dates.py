"""Publication dates: read from a table cell, or found in an article's opening lines.

A date counts only when it names a day, a month and a four-digit year, so that
"now", "on Tuesday" or "in May" never pass for a publication date. The search
looks at the first lines of an article, where a dateline stands; dates further
down are usually about the events reported, not about the report.

Dates run from :data:`FIRST_DATE` to :data:`LAST_DATE`: every drift report
(weeks to years, with the period after the last) can be computed over that
range, and anything outside it is refused where it comes in.
"""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime

__all__ = ["DATELINE_LINES", "DATE_RANGE", "DATE_SOURCES", "FIRST_DATE", "HEAD_LINES", "LAST_DATE", "checked_selection", "date_in_text",
           "in_range", "parse_date"]

#: The first and last date stance takes: periods and their neighbours stay within what ``datetime`` counts.
FIRST_DATE = Date(1800, 1, 1)
LAST_DATE = Date(2199, 12, 31)
DATE_RANGE = f"{FIRST_DATE.isoformat()} to {LAST_DATE.isoformat()}"

#: Where an article's date came from, in the order of precedence; ``inferred``: a column's date that
#: its index marks as a guess (``"date_source": "inferred"``), not a date the article states.
DATE_SOURCES = ("column", "option", "text", "inferred")

#: How many non-empty lines from the top are searched for a date in any line.
HEAD_LINES = 6
#: How many are searched for a line that is a dateline and nothing else (below a site's navigation).
DATELINE_LINES = 12
#: Characters of each opening line searched: the date search's time grows with the line (a minute per MB).
HEAD_CHARS = 300

_LANGUAGES = ["en", "sr-Latn", "sr-Cyrl"]
_SETTINGS = {
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}
_ISO = re.compile(r"\d{4}-\d\d-\d\d([T ].*)?")
_CLOCK = re.compile(r"[T ](\d\d?):(\d\d)")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")
# A full date names a day, a month and a year close together: a month as a number, or
# a month name's first letters (English, Serbian Latin and Cyrillic) with a day number.
# Lines with no such cluster around a year cannot hold one, and dateparser's search
# (milliseconds a line) skips them.
_MONTH_NAME = re.compile(
    r"\b(jan|feb|mar|apr|may|maj|jun|jul|aug|avg|sep|oct|okt|nov|dec|јан|феб|мар|апр|мај|јун|јул|авг|сеп|окт|нов|дец)",
    re.IGNORECASE,
)
_DAY = re.compile(r"(?<![\d.,])\d{1,2}(st|nd|rd|th|\.)?(?!\d)", re.IGNORECASE)
_NUMERIC_DATE = re.compile(
    r"(?<!\d)\d{1,2}\s?[./-]\s?\d{1,2}\s?[./-]\s?(1[89]|2\d)\d\d(?!\d)|(?<!\d)(1[89]|2\d)\d\d[./-]\d{1,2}[./-]\d{1,2}(?!\d)"
)


def _may_hold_date(line: str) -> bool:
    for year in _YEAR.finditer(line):
        around = line[max(0, year.start() - 30) : year.end() + 30]
        if _NUMERIC_DATE.search(around) or (_MONTH_NAME.search(around) and _DAY.search(around)):
            return True
    return False


# Day and month with dots ("03.02.2024", "3. 2. 2024.") are day first wherever they are
# written; dateparser, trying English first, would read 03.02 as March 2.
_DOTTED = re.compile(r"(?<![\d.])(\d{1,2})\.\s?(\d{1,2})\.\s?((?:1[89]|2\d)\d\d)(?!\d)")


def _first_allowed(candidates, allowed=None) -> str | None:
    """The first ``(year, month, day)`` of ``candidates`` that is a date ``allowed`` takes (default
    :func:`_plausible`), as ``YYYY-MM-DD``."""
    for year, month, day in candidates:
        try:
            value = Date(year, month, day)
        except ValueError:
            continue
        if (allowed or _plausible)(value):
            return value.isoformat()
    return None


def _dotted(text: str, allowed=None) -> str | None:
    """The first valid day.month.year date in ``text`` (see :func:`_first_allowed`)."""
    return _first_allowed(((int(y), int(m), int(d)) for d, m, y in _DOTTED.findall(text)), allowed)


# Slashed or dashed numeric dates ("03/04/2025", "03-04-2025") are day first in Serbia and month
# first in the United States, so one whose day and month could swap is no date at all; "13/04/2025" is.
_SLASHED = re.compile(r"(?<![\d/-])(\d{1,2})\s?([/-])\s?(\d{1,2})\s?\2\s?((?:1[89]|2\d)\d\d)(?!\d)")


def _slash_readings(match: re.Match) -> set[Date]:
    """The dates a slashed match names, read day first and month first."""
    first, second, year = int(match.group(1)), int(match.group(3)), int(match.group(4))
    readings = set()
    for day, month in ((first, second), (second, first)):
        try:
            readings.add(Date(year, month, day))
        except ValueError:
            pass
    return readings


# A day, a month's name and a year, day first ("5. maj 2024.", "5. May 2024", "5 маја 2024"), as Serbian
# datelines write them; dateparser's search passes over the dotted form, and over a genitive month.
# Each month as English, Serbian Latin and Serbian Cyrillic write it, whole or cut short, in the
# nominative or the genitive ("maj", "maja", "May", "мај", "маја"): a name such as "Novak" is none.
_MONTH_FORMS = (
    r"jan(?:uar[a]?|uary)?|јан(?:уар[а]?)?", r"feb(?:ruar[a]?|ruary)?|феб(?:руар[а]?)?",
    r"mar(?:ta?|ch)?|мар(?:та?)?", r"apr(?:il[a]?)?|апр(?:ил[а]?)?", r"ma(?:ja?|y)|маја?",
    r"jun(?:[ae])?|јун[а]?", r"jul(?:[ay])?|јул[а]?", r"a(?:vg|ug)(?:ust[a]?)?|авг(?:уст[а]?)?",
    r"sep(?:t(?:ember|embar|embra)?)?|сеп(?:тембар|тембра)?", r"o[kc]t(?:obar|obra|ober)?|окт(?:обар|обра)?",
    r"nov(?:ember|embar|embra)?|нов(?:ембар|ембра)?", r"de[cz](?:ember|embar|embra)?|дец(?:ембар|ембра)?",
)
_DAY_DOT_MONTH = re.compile(
    r"(?<![\d.\-–—/])(\d{1,2})(?:\.\s*|\s+)(" + "|".join(f"(?:{m})" for m in _MONTH_FORMS) + r")(?!\w)\.?,?\s*"
    r"((?:1[89]|2\d)\d\d)(?!\d)",
    re.IGNORECASE,
)


def _day_dot_month(text: str, allowed=None) -> str | None:
    """The first valid "5. maj 2024." date in ``text`` (see :func:`_first_allowed`)."""
    found = _DAY_DOT_MONTH.finditer(text)
    return _first_allowed(((int(m[3]), _month_number(m[2]), int(m[1])) for m in found), allowed)


# A month's name, a day and a year, as English pages write their datelines ("March 28, 2014",
# "Nov. 1, 2024"). dateparser's search misreads this form beside other numbers on the line:
# "March 28, 2014 | 7 min read" became a date of its own making, "No. 21/2024 | November 1, 2024" none.
_MONTH_DAY = re.compile(
    r"(?<!\w)(" + "|".join(f"(?:{m})" for m in _MONTH_FORMS) + r")(?!\w)\.?\s+(\d{1,2})(?:st|nd|rd|th)?(?![\d.:])"
    r"(?:\s?[-–]\s?\d{1,2}(?!\d))?,?\s*((?:1[89]|2\d)\d\d)(?!\d)",  # a range ("May 4-5, 2024") gives its first day
    re.IGNORECASE,
)


_ISO_IN_TEXT = re.compile(r"(?<![\d./-])((?:1[89]|2\d)\d\d)-(\d\d)-(\d\d)(?![\d-])")


def _pattern_dates(text: str) -> list[tuple[int, Date]]:
    """The plausible dates in ``text`` of the forms read without dateparser, each with where it starts:
    "2024-05-03", "03.05.2024", "5. maj 2024", "5 May 2024", "May 5, 2024", and a slashed date
    whose day and month cannot swap."""
    found = [(m.start(), (int(m[1]), int(m[2]), int(m[3]))) for m in _ISO_IN_TEXT.finditer(text)]
    found += [(m.start(), (int(m[3]), int(m[2]), int(m[1]))) for m in _DOTTED.finditer(text)]
    found += [(m.start(), (int(m[3]), _month_number(m[2]), int(m[1]))) for m in _DAY_DOT_MONTH.finditer(text)]
    found += [(m.start(), (int(m[3]), _month_number(m[1]), int(m[2]))) for m in _MONTH_DAY.finditer(text)]
    dates = []
    for start, (year, month, day) in found:
        try:
            value = Date(year, month, day)
        except ValueError:
            continue
        dates.append((start, value))
    for match in _SLASHED.finditer(text):
        readings = _slash_readings(match)
        if len(readings) == 1:
            dates.append((match.start(), readings.pop()))
    return sorted((start, value) for start, value in dates if _plausible(value))


def _month_number(name: str) -> int:
    return next(i for i, form in enumerate(_MONTH_FORMS, 1) if re.fullmatch(form, name, re.IGNORECASE))


def in_range(value: Date) -> bool:
    """Whether a date lies in the range every report can handle."""
    if isinstance(value, datetime):
        value = value.date()
    return FIRST_DATE <= value <= LAST_DATE


def _checked(value: Date) -> str:
    if not in_range(value):
        raise ValueError(f"{value.isoformat()!r} is outside the dates stance takes ({DATE_RANGE})")
    return value.isoformat()


def _plausible(value: Date) -> bool:
    return 1900 <= value.year <= Date.today().year + 1 and in_range(value)


def _is_whole(match: re.Match | None, text: str) -> bool:
    """Whether ``match`` is all of ``text`` but a closing full stop ("5. maj 2024.")."""
    return match is not None and not text[match.end():].strip(". ")


class _AmbiguousDate(ValueError):
    """A slashed date whose day and month could be swapped."""


def parse_date(value: object) -> str | None:
    """A table cell as ``YYYY-MM-DD``; None when empty, ValueError when not a full date or out of range.

    Accepts dates and datetimes, ISO strings and the written forms the text
    search understands ("29.05.2025", "May 28, 2025", "Tue, Nov 4, 2025").
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return _checked(value.date())
    if isinstance(value, Date):
        return _checked(value)
    text = str(value).strip()
    if not text or text.lower() in {"nan", "nat", "none", "null"}:
        return None
    try:
        if _ISO.fullmatch(text):
            clock = _CLOCK.match(text, 10)  # whatever follows the day (a time, a zone) is not read, but an
            if clock and (int(clock[1]) * 60 + int(clock[2]) > 24 * 60 or int(clock[2]) > 59):  # no clock shows it
                raise ValueError(text)
            day = Date.fromisoformat(text[:10])
        elif (dotted := _DOTTED.match(text)) or _is_whole(_DAY_DOT_MONTH.match(text), text):
            found = (_dotted if dotted else _day_dot_month)(text, lambda value: True)  # its range is said below
            if found is None:
                raise ValueError(text)
            day = Date.fromisoformat(found)
        elif slashed := _SLASHED.fullmatch(text):
            readings = _slash_readings(slashed)
            if len(readings) != 1:
                raise (_AmbiguousDate if readings else ValueError)(text)
            day = readings.pop()
        else:
            day = Date.fromisoformat(_parse_written(text))
    except _AmbiguousDate:
        raise ValueError(f"{text!r} may be day or month first; write it as YYYY-MM-DD") from None
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None
    return _checked(day)


def _parse_written(text: str) -> str:
    import dateparser

    if not _YEAR.search(text):
        raise ValueError(text)
    parsed = dateparser.parse(text, languages=_LANGUAGES, settings=_SETTINGS)
    if parsed is None:
        raise ValueError(text)
    return parsed.date().isoformat()  # its range is checked as an ISO date's is


# A clock time ("10.21", "18:02", "6.02 pm"): dateparser reads "7 May 2024 10.21" as 10 May.
_TIME = re.compile(r"(?<![\d.:])\d{1,2}[.:]\d\d(?!\d|[.:]\d)(\s*[ap]\.?m\.?(?!\w))?", re.IGNORECASE)
# An issue's number ("No. 9, November 2022") would be read as the day. Only one that opens the line or
# a field of it (after "|", ",", "·" or a dash) is set aside: "Case no. 5 May 2024" keeps its date, and so
# does an ISO date after the word ("Issue 2024-05-05").
_NUMBERED = re.compile(r"(?:^|(?<=[|,·•(\-–—])\s*)((?:no|nr|br|бр|vol)\.|issue|volume|broj|број)\s*#?\d{1,3}"
                       r"(?:/\d{2,4})?(?![\d\-./])", re.IGNORECASE)
# A version number written like a dotted date ("Version 5.12.2024", "build 11.05.2024"): software's, not a day's.
_VERSION = re.compile(r"\b(version|ver\.|v\.?|build|release|firmware)\s*\d+(\.\d+)+\b", re.IGNORECASE)
_UPDATED = re.compile(r"\b(updated?|modified|edited|changed|ažurirano|ажурирано)\b", re.IGNORECASE)
# Words that say a date is when the page first appeared, which wins over an updated one on the same line.
_PUBLISHED = re.compile(r"\b(published|posted|first published|objavljeno|објављено)\b", re.IGNORECASE)
# What a page's own time stamp shows beside its clock (:data:`_TIME`), and a bare date heading in the
# story ("24 February 2022", "24.02.2022.") does not.
_STAMP_WORDS = re.compile(r"\b(mon|tue|wed|thu|fri|sat|sun)[a-z]*\b|\b(published|posted|updated|modified"
                          r"|objavljeno|ažurirano|објављено|ажурирано)\b", re.IGNORECASE)
# A wire story's first line opens with its dateline: "BELGRADE, May 4, 2024 (Reuters) - Serbia said ...".
_LEAD = re.compile(r"^(.{3,80}?)\s[-—–]+\s")
#: Characters of each opening line whose furniture kind is read: enough for any dateline, heading or
#: headline, and a paragraph of a megabyte is not read whole to find that it is none of them.
_KIND_CHARS = 1000
#: Words from which a line that ends like a sentence is the story itself, below its datelines.
_BODY_WORDS = 8


def _date_in_line(line: str) -> str | None:
    """The first full, plausible date in one line, or None."""
    from dateparser.search import search_dates

    if not _may_hold_date(line):
        return None
    line = _VERSION.sub(" ", _NUMBERED.sub(" ", line))
    found = _pattern_dates(line)
    # The first date the line writes wins ("Published: 2024-05-04, Updated: May 5, 2024"), so dateparser reads
    # only what stands before the first date a pattern found, for a form only it knows ("the 4th of May 2024").
    before = line[: found[0][0]] if found else line
    if _may_hold_date(before):
        before = _TIME.sub(" ", _SLASHED.sub(" ", before))  # an ambiguous slashed date is none, either way it is read
        for phrase, value in search_dates(before, languages=_LANGUAGES, settings=_SETTINGS) or []:
            if _YEAR.search(phrase) and _plausible(value):
                return value.date().isoformat()
    return found[0][1].isoformat() if found else None


def date_in_text(text: str, head_lines: int = HEAD_LINES) -> str | None:
    """The date an article's opening lines (their first 300 characters) give it, as ``YYYY-MM-DD``.

    A line that is a dateline and nothing else wins over a date within a headline or a
    sentence (which is often the date of an event), a published date over an updated one,
    and an earlier line over a later one. Datelines are looked for in the first
    :data:`DATELINE_LINES` lines, dates in sentences in the first ``head_lines``; captions,
    links and other page furniture give none.

    Examples
    --------
    >>> date_in_text("Title\\n15:45, Tue, Nov 4, 2025 Updated: 15:49\\nBody.")
    '2025-11-04'
    >>> date_in_text("Serbia will not sanction Russia now, Vucic says.") is None
    True
    """
    from itertools import islice

    from stance.segment import ends_like_sentence, furniture_kind, line_kinds

    best, in_story = None, False  # (rank, line number, date); whether the story's sentences have begun
    opening = (raw[:_KIND_CHARS] for raw in text.splitlines())  # a dateline is short; so is the reading of a long line
    for number, (_, line, kind) in enumerate(islice(line_kinds(opening), max(head_lines, DATELINE_LINES))):
        line = line[:HEAD_CHARS]  # a dateline is short; a search of a long line is slow
        lead = _LEAD.match(line) if kind is None else None
        if lead and furniture_kind(lead[1]) == "dateline":
            line, kind = lead[1], "dateline"  # the wire story's dateline, not a date in its first sentence
        if kind in ("dateline", "metadata", "byline", "no words"):
            if in_story and not (_TIME.search(line) or _STAMP_WORDS.search(line)):
                continue  # a date heading within the story (a timeline's "24 February 2022"), not the page's
            updated, published = _UPDATED.search(line), _PUBLISHED.search(line)
            rank = 1 if updated else 0
            if updated and published:  # the line's published date, the first it writes or after its updated one
                if published.start() < updated.start():
                    rank = 0
                elif _date_in_line(line[published.start():]):
                    line, rank = line[published.start():], 0
        elif kind is None and number < head_lines:
            rank = 2
            in_story = in_story or (len(line.split()) >= _BODY_WORDS and ends_like_sentence(line))
        else:
            continue
        if best is not None and rank >= best[0]:
            continue
        found = _date_in_line(line)
        if found is not None:
            best = (rank, number, found)
            if rank == 0:
                break
    return best[2] if best else None


#: The source name under which articles recorded without one are broken down, and by which ``--source`` selects them.
UNKNOWN_SOURCE = "(unknown source)"


def source_selected(source: str | None, sources) -> bool:
    """Whether an article recorded under ``source`` (None or "" for none) is among ``sources`` (none: all are).

    :data:`UNKNOWN_SOURCE` selects the articles recorded with no source and any recorded under that name,
    which the drift report counts together."""
    return not sources or (source or UNKNOWN_SOURCE) in sources


def checked_selection(model_id=None, sources=None, since=None, until=None) -> tuple:
    """``(model_id, sources, since, until)`` as a selection of scored articles takes them, or InputError.

    One source is a list of one (not its letters), :data:`UNKNOWN_SOURCE` the articles recorded without
    one, as the drift report names them; ``since``/``until`` are dates
    (``YYYY-MM-DD``, a written form, or a ``date``), never compared as they are
    given, where a number or a typo would silently drop every dated article.
    """
    from collections.abc import Iterable

    from stance.errors import InputError

    if model_id is not None and not isinstance(model_id, str):
        raise InputError(f"model_id is {model_id!r}; give a model id, or its start, as text")
    if model_id is not None:
        from stance.scoring import recorded_model_id

        model_id = recorded_model_id(model_id)
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None:
        if not isinstance(sources, Iterable) or isinstance(sources, bytes):
            raise InputError(f"sources is {sources!r}; give a list of source names")
        sources = list(sources)
        if not all(isinstance(s, str) for s in sources):
            raise InputError(f"sources holds {next(s for s in sources if not isinstance(s, str))!r}; give source names as text")
        if not all(s.strip() for s in sources):  # a database and a results folder would read it differently
            raise InputError(f"sources holds {next(s for s in sources if not s.strip())!r}, which names no source; "
                             "give source names, or no sources to take every article")
    dates = []
    for name, value in (("since", since), ("until", until)):
        if value is None or value == "":
            dates.append(None)
            continue
        if isinstance(value, bool) or not isinstance(value, (str, Date)):
            raise InputError(f"{name} is {value!r}; give a date such as 2025-01-01")
        try:
            dates.append(parse_date(value))
        except ValueError as err:
            raise InputError(f"{name}: {err}; give a date such as 2025-01-01") from None
    if None not in dates and dates[0] > dates[1]:  # every dated article would be dropped, the undated kept
        raise InputError(f"since ({dates[0]}) is after until ({dates[1]}), so no date is in that range; swap them")
    return model_id, sources, *dates
