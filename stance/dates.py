"""Publication dates: read from a table cell, or found in an article's opening lines.

A date counts only when it names a day, a month and a four-digit year, so that
"now", "on Tuesday" or "in May" never pass for a publication date. The search
looks at the first lines of an article, where a dateline stands; dates further
down are usually about the events reported, not about the report.
"""

from __future__ import annotations

import re
from datetime import date as Date
from datetime import datetime

__all__ = ["DATE_SOURCES", "HEAD_LINES", "date_in_text", "parse_date"]

#: Where an article's date came from, in the order of precedence.
DATE_SOURCES = ("column", "option", "text")

#: How many non-empty lines from the top are searched for a dateline.
HEAD_LINES = 6

_LANGUAGES = ["en", "sr-Latn", "sr-Cyrl"]
_SETTINGS = {
    "STRICT_PARSING": True,
    "REQUIRE_PARTS": ["day", "month", "year"],
    "RETURN_AS_TIMEZONE_AWARE": False,
}
_ISO = re.compile(r"\d{4}-\d\d-\d\d([T ].*)?")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|2\d\d\d)(?!\d)")


def _plausible(value: datetime) -> bool:
    return 1900 <= value.year <= Date.today().year + 1


def parse_date(value: object) -> str | None:
    """A table cell as ``YYYY-MM-DD``; None when empty, ValueError when not a full date.

    Accepts dates and datetimes, ISO strings and the written forms the text
    search understands ("29.05.2025", "May 28, 2025", "Tue, Nov 4, 2025").
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, Date):
        return value.isoformat()
    text = str(value).strip()
    if not text or text.lower() in {"nan", "nat", "none", "null"}:
        return None
    try:
        if _ISO.fullmatch(text):
            return Date.fromisoformat(text[:10]).isoformat()
        return _parse_written(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date") from None


def _parse_written(text: str) -> str:
    import dateparser

    if not _YEAR.search(text):
        raise ValueError(text)
    parsed = dateparser.parse(text, languages=_LANGUAGES, settings=_SETTINGS)
    if parsed is None or not _plausible(parsed):
        raise ValueError(text)
    return parsed.date().isoformat()


def date_in_text(text: str, head_lines: int = HEAD_LINES) -> str | None:
    """The first full date stated in an article's opening lines, as ``YYYY-MM-DD``.

    Examples
    --------
    >>> date_in_text("Title\\n15:45, Tue, Nov 4, 2025 Updated: 15:49\\nBody.")
    '2025-11-04'
    >>> date_in_text("Serbia will not sanction Russia now, Vucic says.") is None
    True
    """
    from dateparser.search import search_dates

    lines = [line for line in text.splitlines() if line.strip()][:head_lines]
    for line in lines:
        if not _YEAR.search(line):
            continue
        found = search_dates(line, languages=_LANGUAGES, settings=_SETTINGS) or []
        for phrase, value in found:
            if _YEAR.search(phrase) and _plausible(value):
                return value.date().isoformat()
    return None
