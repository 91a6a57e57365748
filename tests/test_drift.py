"""Corpora, dates, the history store and drift statistics, without a model."""

from __future__ import annotations

import json
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from contextlib import closing
from datetime import date as Date
from datetime import timedelta

import numpy as np
import pytest

from stance.corpus import read_documents, row_document
from stance.dates import date_in_text, parse_date
from stance import drift
from stance.drift import MAX_RESAMPLES, holm, measure_drift, period_count, period_of, period_range, permutation_p_value
from stance.errors import InputError, StanceError, StanceWarning, TextsError, ValueInputError
from stance.store import SCHEMA_VERSION, HistoryStore, StoreError

from conftest import REPO, make_scores

TESTS = REPO / "tests"


# --- periods -------------------------------------------------------------------


@pytest.mark.parametrize(
    "day, by, label, start",
    [
        ("2024-12-31", "year", "2024", "2024-01-01"),
        ("2025-01-01", "year", "2025", "2025-01-01"),
        ("2025-06-30", "half", "2025-H1", "2025-01-01"),
        ("2025-07-01", "half", "2025-H2", "2025-07-01"),
        ("2025-03-31", "quarter", "2025-Q1", "2025-01-01"),
        ("2025-04-01", "quarter", "2025-Q2", "2025-04-01"),
        ("2025-12-31", "quarter", "2025-Q4", "2025-10-01"),
        ("2025-01-31", "month", "2025-01", "2025-01-01"),
        ("2025-02-01", "month", "2025-02", "2025-02-01"),
        ("2024-02-29", "month", "2024-02", "2024-02-01"),
        ("2025-07-02", "week", "2025-W27", "2025-06-30"),
        ("2024-12-30", "week", "2025-W01", "2024-12-30"),  # ISO week 1 starts in the old year
        ("2021-01-03", "week", "2020-W53", "2020-12-28"),  # and the new year can end the old one's last week
    ],
)
def test_period_edges(day, by, label, start):
    assert period_of(Date.fromisoformat(day), by) == (label, Date.fromisoformat(start))


def test_period_range_fills_gaps_across_year_ends():
    labels = [p[0] for p in period_range(Date(2024, 11, 15), Date(2025, 2, 1), "month")]
    assert labels == ["2024-11", "2024-12", "2025-01", "2025-02"]
    weeks = [p[0] for p in period_range(Date(2020, 12, 25), Date(2021, 1, 5), "week")]
    assert weeks == ["2020-W52", "2020-W53", "2021-W01"]
    assert [p[0] for p in period_range(Date(2024, 5, 1), Date(2025, 8, 1), "half")] == ["2024-H1", "2024-H2", "2025-H1", "2025-H2"]


@pytest.mark.parametrize("by", ["week", "month", "quarter", "half", "year"])
def test_period_count_is_the_length_of_the_range_without_making_it(by):
    rng = np.random.default_rng(0)
    for _ in range(200):
        first = Date(1800, 1, 1) + timedelta(days=int(rng.integers(0, 140_000)))
        last = first + timedelta(days=int(rng.integers(0, 8000)))
        assert period_count(first, last, by) == len(period_range(first, last, by)), (first, last)


def test_a_drift_of_more_periods_than_it_can_show_is_refused_with_the_period_that_fits():
    nets = {"russia": 0.1, "eu": 0.0}
    scores = [make_scores("old", "1800-01-06", nets), make_scores("new", "2199-12-20", nets)]
    with pytest.raises(StanceError, match=r"20,8\d\d periods by week.*use a longer period \(--by month\)"):
        measure_drift(scores, by="week", n_boot=10, n_perm=10)
    assert len(measure_drift(scores, by="month", n_boot=10, n_perm=10, evidence=0).periods) == 4800


# --- dates ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("Headline\n15:45, Tue, Nov 4, 2025 Updated: 15:49, Tue, Nov 4, 2025\nBody.", "2025-11-04"),
        ("Russia Accuses Serbia\n11- 29.05.2025, 18:03\n- 10,242\nBody.", "2025-05-29"),
        ("Headline\nBy a correspondent | May 28, 2025\nBody text.", "2025-05-28"),
        ("BELGRADE, 4 November 2025 - Serbia said on Tuesday it would sell shells.", "2025-11-04"),
        ("Serbia will not impose sanctions now, Vucic said on Tuesday.\nIn May he said the same.", None),
        ("Policy brief\nBelgrade Policy Forum | July 2026\nText.", None),
        ("Objavljeno: 03.02.2024. u 10:15\nTekst.", "2024-02-03"),
        ("Headline\nUpdated: 2024/03/02\nBody.", "2024-03-02"),
        ("Headline\nSeptember 14th, 2023\nBody.", "2023-09-14"),
        # a decade is not a date (dateparser alone reads this line as today)
        ("Rearmament\nThree decades after the wars of the 1990s, neighbours worry.\nBody.", None),
        # a Serbian dateline, which dateparser's search passes over
        ("Beograd, 5. maj 2024.\nSrbija.", "2024-05-05"),
        ("05. мај 2024. године\nСрбија.", "2024-05-05"),
        # slashed: taken only when day and month cannot swap; an ambiguous one is passed over
        ("Headline\nPosted 13/04/2025\nBody.", "2025-04-13"),
        ("Headline\nPosted 04/13/2025\nBody.", "2025-04-13"),
        ("Headline\nPosted 03/04/2025\nBody.", None),
        ("Headline\nPosted 03/04/2025 | May 28, 2025\nBody.", "2025-05-28"),
        ("Headline\nPosted 03-04-2025\nBody.", None),  # dashed alike
        ("Beograd, 1. Novak 2024 Đoković pobedio\nTekst.", None),  # a name is no month
        # a clock with a dot is no day ("10.21" is not the 10th), with or without the weekday
        ("Headline\nTue 7 May 2024 10.21 BST\nBody.", "2024-05-07"),
        ("Headline\n7 May 2024 10.21 BST\nBody.", "2024-05-07"),
        ("Headline\nThu 2 Jan 2025 09.05 GMT\nBody.", "2025-01-02"),
        ("Headline\nMay 4, 2024 at 10:21 a.m. EDT\nBody.", "2024-05-04"),
        # the dateline wins over an event's date in the headline, the standfirst or a caption
        ("Serbia will hold snap elections on December 17, 2023, Vucic says\nNovember 1, 2023\nBody.", "2023-11-01"),
        ("Headline\nVucic, who visited Moscow on 9 May 2025, spoke on Saturday.\nSaturday 17 May 2025 11:00, UK\nBody.",
         "2025-05-17"),
        ("Headline\nPhoto: Vucic at the parade in Moscow, May 9, 2025. REUTERS/Maxim Shemetov\nMay 12, 2025\nBody.",
         "2025-05-12"),
        ("Headline\nSerbia signed the gas deal on 3 March 2025 in Moscow, officials said.\nBody.", "2025-03-03"),
        # published over updated, whichever comes first
        ("Headline\nUpdated 5 May 2024 10:21 BST\nPublished 4 May 2024 18:02 BST\nBody.", "2024-05-04"),
        ("Headline\nPublished: 4 May 2024 18:02\nLast updated: 6 May 2024 09:00\nBody.", "2024-05-04"),
        # a dateline below a site's navigation, and lines of nothing but invisible characters, which count for none
        ("Skip to main content\nWorld\nEurope\nHeadline\nBy Ivana Sekularac\n3 min read\nMay 4, 2024 6:02 PM GMT+2\nBody.",
         "2024-05-04"),
        ("\u200b\n\u200b\n\u200b\n\u200b\n\u200b\n\u200b\nHeadline\nMay 4, 2024\nBody.", "2024-05-04"),
        # a byline's other numbers were read as the day, or hid the date
        ("Headline\n28 March 2014 | 7 min read\nBody.", "2014-03-28"),
        ("Headline\nMarch 28, 2014 | 7 min read\nBody.", "2014-03-28"),
        ("Headline\nNov. 1, 2024 · 5 min read\nBody.", "2024-11-01"),
        ("Headline\nPublished 2 hours ago | March 3, 2024\nBody.", "2024-03-03"),
        ("Policy Brief\nBrief No. 21/2024 | 1 November 2024\nBody.", "2024-11-01"),
        ("Policy Brief\nBrief No. 21/2024 | November 1, 2024\nBody.", "2024-11-01"),
        ("Brief\nMedia and Democracy Programme | No. 9, November 2022\nBody.", None),  # no day: no date
        ("Headline\nSept. 30th, 2023\nBody.", "2023-09-30"),
        ("Tue, Nov 4, 2025 and Wed, Nov 5, 2025\nBody.", "2025-11-04"),  # the first date the line writes
        # Serbian datelines without the day's dot
        ("Naslov\nBeograd, 5 maja 2024\nTekst.", "2024-05-05"),
        ("Наслов\nОбјављено: 5 маја 2024\nТекст.", "2024-05-05"),
        ("Headline\nNovak 5, 2024\nBody.", None),
        # the first date a line writes, whichever way it is written: published before updated
        ("Headline\nPublished: 2024-05-04, Updated: May 5, 2024\nBody.", "2024-05-04"),
        ("Headline\n13/05/2024 | updated 14 May 2024\nBody.", "2024-05-13"),
        ("Headline\nPublished on the 4th of May 2024, updated 5 May 2024\nBody.", "2024-05-04"),
        # one line, updated first: the published date all the same (it took the next month's)
        ("Updated: 08:10, Tue, Jul 1, 2025 Published: 22:40, Mon, Jun 30, 2025\nSerbia thanked Russia.", "2025-06-30"),
        ("Headline\nUpdated 1 July 2025, published 30 June 2025\nBody.", "2025-06-30"),
        ("Headline\nAžurirano 01.07.2025. Objavljeno 30.06.2025.\nTekst.", "2025-06-30"),
        ("Headline\nUpdated: Jul 1, 2025 | Published\nBody.", "2025-07-01"),  # a published date it does not give
        # a range gives its first day
        ("Headline\nConference, 4-6 June 2024, Belgrade\nBody.", "2024-06-04"),
        ("Headline\nMay 4–5, 2024\nBody.", "2024-05-04"),
        # "no." or "broj" inside a sentence is no issue number, and an ISO date after the word stays
        ("Naslov\nUkupan broj 15. maja 2024. iznosio je 300\nTekst.", "2024-05-15"),
        ("Headline\nCase no. 5 May 2024\nBody.", "2024-05-05"),
        ("Newsletter\nIssue 2024-05-05\nBody.", "2024-05-05"),
        # a version number written like a dotted date is software's, not the day's
        ("Release notes\nVersion 5.12.2024\nBody.", None),
        ("Release notes\nBuild 11.05.2024 | 4 May 2024\nBody.", "2024-05-04"),
        ("Release notes\nv5.12.2024 is out\nBody.", None),
    ],
)
def test_date_in_text(text, expected):
    assert date_in_text(text) == expected


def test_the_date_search_reads_only_the_start_of_a_long_line(monkeypatch):
    from stance import segment

    seen = []
    kind = segment.furniture_kind
    monkeypatch.setattr(segment, "furniture_kind", lambda line: seen.append(len(line)) or kind(line))
    assert date_in_text("Headline\n4 May 2024\n" + "Serbia buys gas. " * 100_000) == "2024-05-04"
    assert date_in_text("Serbia buys gas. " * 100_000 + "\nMay 4, 2024\nBody.") == "2024-05-04"
    assert seen and max(seen) <= 1000


def test_date_deep_in_the_body_is_not_a_publication_date():
    text = "\n".join(["Headline"] + [f"Sentence {i} of the story." for i in range(10)] + ["On 24 February 2022 Russia invaded."])
    assert date_in_text(text) is None


@pytest.mark.parametrize("value, expected", [("2025-11-04", "2025-11-04"), ("29.05.2025", "2025-05-29"),
                                             ("May 28, 2025", "2025-05-28"), ("03.02.2024", "2024-02-03"), ("", None), (None, None),
                                             (Date(2025, 1, 2), "2025-01-02"), ("5. maj 2024.", "2024-05-05"),
                                             ("13/04/2025", "2025-04-13"), ("04/04/2025", "2025-04-04"),
                                             ("5. маја 2024.", "2024-05-05"), ("1. septembra 2023", "2023-09-01"),
                                             ("13-04-2025", "2025-04-13"), ("5 маја 2024", "2024-05-05"),
                                             # a written date takes the range an ISO one does, not a dateline's
                                             ("May 28, 1850", "1850-05-28"), ("05.05.2030", "2030-05-05")])
def test_parse_date_accepts(value, expected):
    assert parse_date(value) == expected


@pytest.mark.parametrize("value", ["yesterday", "2025-13-01", "May 2025", "31.02.2025", "31.02.2025 10:00", "soon", "31/31/2025"])
def test_parse_date_refuses(value):
    with pytest.raises(ValueError, match="not a date"):
        parse_date(value)


@pytest.mark.parametrize("value", ["03/04/2025", "03-04-2025"])
def test_a_slashed_date_whose_day_and_month_could_swap_is_refused_in_a_column(value):
    with pytest.raises(ValueError, match=f"'{value}' may be day or month first; write it as YYYY-MM-DD"):
        parse_date(value)


# --- corpora -------------------------------------------------------------------


def _write_table(path, rows):
    import pandas as pd

    frame = pd.DataFrame(rows)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    elif path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".jsonl", ".csv", ".parquet"])
def test_tables_give_documents_with_their_columns(tmp_path, suffix):
    rows = [
        {"id": "a", "text": "Serbia refuses sanctions.\nSecond line.", "date": "2025-03-01", "source": "Wire"},
        {"id": "b", "text": "Headline\n29.05.2025\nBody.", "date": None, "source": None},
    ]
    docs = list(read_documents([_write_table(tmp_path / f"t{suffix}", rows)], date=None, source="Fallback"))
    assert [d.id for d in docs] == ["a", "b"]
    assert (docs[0].date, docs[0].date_source, docs[0].source) == ("2025-03-01", "column", "Wire")
    assert (docs[1].date, docs[1].date_source, docs[1].source) == ("2025-05-29", "text", "Fallback")


def test_date_precedence_column_then_option_then_text(tmp_path):
    table = _write_table(tmp_path / "t.jsonl", [{"id": "c", "text": "H\n29.05.2025\nB.", "date": "2024-01-01"},
                                               {"id": "o", "text": "H\n29.05.2025\nB."}])
    docs = {d.id: d for d in read_documents([table], date="2023-06-06")}
    assert (docs["c"].date, docs["c"].date_source) == ("2024-01-01", "column")
    assert (docs["o"].date, docs["o"].date_source) == ("2023-06-06", "option")
    (tmp_path / "plain.txt").write_text("Plain article with no date.\n", encoding="utf-8")
    plain = next(read_documents([tmp_path / "plain.txt"]))
    assert (plain.date, plain.date_source) == (None, None)


def test_folders_are_read_recursively_with_their_index(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("One.\n", encoding="utf-8")
    (tmp_path / "a" / "b" / "two.txt").write_text("Two\n4 November 2025\nBody.\n", encoding="utf-8")
    (tmp_path / "a" / "b" / "notes.md").write_text("not an article", encoding="utf-8")
    (tmp_path / "a" / "articles.jsonl").write_text(json.dumps({"id": "one", "date": "2020-02-02", "source": "X"}) + "\n")
    docs = {d.id: d for d in read_documents([tmp_path / "a"])}
    assert set(docs) == {"one", "two"}
    assert (docs["one"].date, docs["one"].source, docs["one"].date_source) == ("2020-02-02", "X", "column")
    assert (docs["two"].date, docs["two"].date_source) == ("2025-11-04", "text")


def test_a_folder_reads_txt_in_any_case_and_names_articles_saved_in_other_formats(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.txt").write_text("One.\n", encoding="utf-8")
    (tmp_path / "a" / "b" / "TWO.TXT").write_text("Two.\n", encoding="utf-8")
    (tmp_path / "a" / "README.md").write_text("not an article", encoding="utf-8")  # no warning: a folder's notes
    (tmp_path / "a" / "b" / "three.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / "a" / "four.pdf").write_bytes(b"%PDF-1.7")
    with pytest.warns(StanceWarning, match=r"a: 1 \.docx and 1 \.pdf files not read \(b/three\.docx, four\.pdf\): "
                                           r"only \.txt files in a folder are articles") as caught:
        assert sorted(d.id for d in read_documents([tmp_path / "a"])) == ["TWO", "one"]
    assert len(caught) == 1
    (tmp_path / "a" / "one.txt").unlink()
    (tmp_path / "a" / "b" / "TWO.TXT").unlink()
    with pytest.raises(InputError, match=r"no \.txt articles in this folder \(it holds 1 \.docx and 1 \.pdf files\)"):
        list(read_documents([tmp_path / "a"]))


@pytest.mark.parametrize(
    "rows, message",
    [
        ([{"body": "x", "published": "2025-01-01"}], r"no 'text' column \(columns: body, published\)"),
        ([{"text": "x", "date": "2025-01-01"}, {"text": "y", "date": "last week"}], r"row 2: date 'last week' is not a date"),
        ([{"text": "x"}, {"text": "  "}], r"row 2: empty text"),
        ([{"id": "same", "text": "x"}, {"id": "same", "text": "y"}], r"article id 'same' is also used"),
    ],
)
def test_bad_tables_say_what_is_wrong(tmp_path, rows, message):
    with pytest.raises(InputError, match=message):
        list(read_documents([_write_table(tmp_path / "bad.jsonl", rows)]))


def test_rows_without_id_are_known_by_url_then_row(tmp_path):
    table = _write_table(tmp_path / "feed.jsonl", [{"text": "x", "url": "https://example.org/a"}, {"text": "y"}])
    assert [d.id for d in read_documents([table])] == ["https://example.org/a", "feed:2"]


def test_rows_scored_away_from_their_file_need_an_id_or_url(tmp_path):
    import pyarrow as pa

    rows = [{"id": 7, "text": "x", "url": None}, {"id": None, "text": "y", "url": None}]
    first, second = pa.Table.from_pylist(rows).to_pylist()  # as a Ray worker reads its batch
    assert row_document(first, "row 1").id == "7" == next(read_documents([_write_table(tmp_path / "t.jsonl", rows[:1])])).id
    with pytest.raises(InputError, match=r"^row 2: no id and no url; give every row an id$"):
        row_document(second, "row 2")
    assert row_document(second, "row 2", fallback_id="feed:2").id == "feed:2"
    assert row_document({**second, "url": "https://example.org/y"}, "row 2").id == "https://example.org/y"
    # pandas records carry an empty cell as NaN: missing, not the text "nan"
    assert row_document({"id": float("nan"), "text": "y", "date": float("nan")}, "row 3", "t:3").id == "t:3"
    with pytest.raises(InputError, match="empty text"):
        row_document({"id": "a", "text": float("nan")}, "row 4")


def test_unknown_extra_columns_are_named_in_a_warning(tmp_path):
    table = _write_table(tmp_path / "t.jsonl", [{"text": "x", "outlet": "A"}])
    with pytest.warns(StanceWarning, match="ignored columns outlet"):
        docs = list(read_documents([table]))
    assert docs[0].id == "t:1"


def test_unreadable_table_is_an_input_error(tmp_path):
    bad = tmp_path / "broken.jsonl"
    bad.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match="broken.jsonl:1: not valid JSON"):
        list(read_documents([bad]))


# --- drift statistics ----------------------------------------------------------


def _monthly_corpus(rng, shift_month=None, months=12, per_month=8, jump=0.45, noise=0.12):
    scores = []
    for m in range(1, months + 1):
        for k in range(per_month):
            level = jump if shift_month is not None and m >= shift_month else 0.0
            nets = {"russia": float(np.clip(level + rng.normal(0, noise), -1, 1)),
                    "eu": float(np.clip(rng.normal(0, noise), -1, 1))}
            scores.append(make_scores(f"a{m:02d}{k}", f"2025-{m:02d}-{1 + 3 * k:02d}", nets))
    return scores


def test_a_known_shift_is_found_at_its_period_and_only_there():
    report = measure_drift(_monthly_corpus(np.random.default_rng(7), shift_month=7), "month")
    shifted = {t: [p["period"] for p in report.periods if p[t]["shift"]] for t in ("russia", "eu")}
    assert shifted == {"russia": ["2025-07"], "eu": []}
    assert report.change_points == {"russia": ["2025-07"], "eu": []}
    july = next(p for p in report.periods if p["period"] == "2025-07")["russia"]
    assert july["change"] > 0.3 and july["low"] <= july["net"] <= july["high"]


def test_change_points_are_those_of_the_plain_pelt_search_of_ruptures():
    """The C search in use must find what ruptures' Python PELT (L2 cost, every index a candidate) finds."""
    import math

    import ruptures

    from stance.drift import CHANGE_MIN_SIZE, CHANGE_PENALTY, change_points

    rng = np.random.default_rng(3)
    found = 0
    for trial in range(24):
        n = int(rng.integers(8, 160))
        levels = np.repeat(rng.normal(0, 0.5, 4), n // 4 + 1)[:n] if trial % 2 else np.zeros(n)
        values = np.clip(levels + rng.normal(0, 0.25, n), -1, 1).round(2)
        diffs = np.diff(values)
        robust = 1.4826 * np.median(np.abs(diffs - np.median(diffs)))
        sigma = (robust if robust >= np.std(diffs) / 4 else np.std(diffs)) / math.sqrt(2)
        pelt = ruptures.Pelt(model="l2", min_size=CHANGE_MIN_SIZE, jump=1).fit(values.reshape(-1, 1))
        expected = [b for b in pelt.predict(pen=CHANGE_PENALTY * sigma**2 * math.log(n)) if b < n]
        assert change_points(values) == expected, (trial, n)
        found += len(expected)
    assert found > 5  # series with levels do have change points to agree on


def test_articles_that_mostly_tie_have_no_change_point_at_every_step():
    """Most nets equal to a millionth (a confident model): the robust noise estimate falls to 0."""
    from stance.drift import change_points

    rng = np.random.default_rng(5)
    ties = np.full(40, 0.125) + 1e-6 * rng.random(40)
    ties[::7] = 0.5  # a few articles of another net, scattered: no level changes
    assert change_points(ties) == []
    exact = np.where(rng.random(300) < 0.9, 0.0, rng.choice([-1.0, 1.0], 300))  # most exactly 0, some a full side
    assert change_points(exact) == []
    level = np.full(40, 0.125) + 1e-6 * rng.random(40)
    assert change_points(np.r_[level[:20], level[20:] + 0.4]) == [20]  # a real change among ties is still found


def _syndicated(scores, copies, days_later=0):
    """``scores`` with each article carried again by ``copies - 1`` other outlets: the same text (digest) and net."""
    out = list(scores)
    for c in range(1, copies):
        for s in scores:
            day = (Date.fromisoformat(s.date) + timedelta(days=days_later)).isoformat()
            copy = make_scores(s.article, day, {t: s.summary[t]["net"] for t in s.summary}, source=f"Syndicate {c}")
            assert copy.content_sha256 == s.content_sha256
            out.append(copy)
    return out


@pytest.mark.parametrize("copies, days_later", [(2, 0), (6, 0), (2, 1)])
def test_copies_of_one_text_find_the_change_points_shifts_and_intervals_of_the_text_told_once(copies, days_later):
    """A syndicated story is one piece of evidence: told by six outlets, it made every period a change point."""
    once = _monthly_corpus(np.random.default_rng(7), shift_month=7)
    base = measure_drift(once, "month", by_source=False, evidence=0)
    again = measure_drift(_syndicated(once, copies, days_later), "month", by_source=False, evidence=0)
    assert base.change_points == {"russia": ["2025-07"], "eu": []}
    assert again.change_points == base.change_points
    assert [p["n_articles"] for p in again.periods] == [copies * p["n_articles"] for p in base.periods]
    for p, q in zip(base.periods, again.periods):
        for t in ("russia", "eu"):
            assert q[t]["shift"] == p[t]["shift"], (p["period"], t)
            for key in ("net", "low", "high", "p_value"):  # the net as before: every story has as many copies
                assert q[t][key] == pytest.approx(p[t][key], abs=1e-9), (p["period"], t, key)


def test_copies_read_back_from_a_database_or_a_results_folder_are_known_as_copies(tmp_path):
    """Drift reads a results folder's rows without their text digests unless asked: copies read from there
    were told apart again."""
    from stance.results import ResultsFolder, read_results
    from stance.store import HistoryStore

    once = _monthly_corpus(np.random.default_rng(7), shift_month=7)
    base = measure_drift(once, "month", by_source=False, evidence=0).change_points
    copied = _syndicated(once, 6)
    ResultsFolder(tmp_path / "r", "m1").write(copied)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(copied)
        from_store = store.articles()
    from_folder, _ = read_results(tmp_path / "r")
    for rows in (from_store, from_folder):
        assert len(rows) == len(copied)
        assert measure_drift(rows, "month", by_source=False, evidence=0).change_points == base


def test_articles_of_other_texts_that_tie_still_count_apart_and_a_copy_keeps_its_weight_in_the_net():
    """Only copies of one text count once: many all-none articles of their own texts are many articles
    (counted once by value, this level change would be two values, too few to find); and each copy is
    still read, so the period's net stays the mean over articles."""
    tied = [make_scores(f"m{m}-{k}", f"2025-{m:02d}-{1 + k:02d}", {"russia": 0.0 if m < 6 else 0.5})
            for m in range(1, 11) for k in range(4)]
    assert measure_drift(tied, "month", by_source=False, evidence=0).change_points == {"russia": ["2025-06"]}
    three = [make_scores("x", "2025-01-02", {"russia": 0.5}), make_scores("y", "2025-01-03", {"russia": 0.5}),
             make_scores("z", "2025-01-04", {"russia": -0.5})]
    copied = three + [make_scores("z", "2025-01-04", {"russia": -0.5}, source="Syndicate")]
    (period,) = measure_drift(copied, "month", by_source=False, evidence=0).periods
    assert period["n_articles"] == 4 and period["russia"]["net"] == pytest.approx(0.0)


def test_a_periods_interval_and_shift_test_hang_on_its_own_articles_not_on_what_else_is_reported():
    """One random stream shared by every statistic in turn gave the same articles another interval under
    --since, --source or beside another outlet: no figure could be made again from its own articles."""
    alpha = _monthly_corpus(np.random.default_rng(7), shift_month=7)
    beta = [make_scores(f"b{i}", f"2025-{1 + i % 12:02d}-20", {"russia": 0.3 - 0.05 * (i % 5), "eu": 0.1},
                        source="beta") for i in range(30)]
    alpha = [make_scores(s.article, s.date, {t: s.summary[t]["net"] for t in s.summary}, source="alpha") for s in alpha]
    whole = measure_drift(alpha + beta, "month", evidence=0).to_dict()
    alone = measure_drift(alpha, "month", evidence=0).to_dict()
    later = measure_drift([s for s in alpha if s.date >= "2025-06"], "month", evidence=0).to_dict()
    by_month = {p["period"]: p for p in alone["periods"]}
    for view in (whole["sources"]["alpha"]["periods"], alone["sources"]["alpha"]["periods"], later["periods"]):
        for p in view:
            for t in ("russia", "eu"):
                assert (p[t]["low"], p[t]["high"]) == (by_month[p["period"]][t]["low"], by_month[p["period"]][t]["high"])
    assert whole["sources"]["alpha"]["overall"] == alone["sources"]["alpha"]["overall"]
    july = [p["russia"]["p_value"] for p in (by_month["2025-07"], next(p for p in later["periods"] if p["period"] == "2025-07"))]
    assert july[1] <= july[0]  # Holm over fewer tests; the raw test is the same draws
    raw = [drift.permutation_p_value(np.array([0.1, 0.2, 0.0] * 9), np.array([0.5, 0.4, 0.6] * 9),
                                     drift._stream(0, "shift", "russia", "2025-06", "2025-07"), 2000) for _ in range(2)]
    assert raw[0] == raw[1]


def test_two_versions_of_one_article_are_refused_and_copies_give_one_piece_of_evidence():
    from stance.scoring import ArticleScores

    first = make_scores("a1", "2025-01-10", {"russia": 0.5})
    second = make_scores("a1", "2025-01-10", {"russia": -0.5})
    second.content_sha256 = "0" * 64  # the same id and source, another text: the database keeps one of them
    with pytest.raises(StanceError, match="a1 is given more than once in two versions"):
        measure_drift([first, second], "month")
    unnamed = [make_scores("-", "2025-01-10", {"russia": 0.5}), make_scores("-", "2025-01-11", {"russia": 0.2})]
    unnamed[1].content_sha256 = "1" * 64
    assert measure_drift(unnamed, "month").periods[0]["n_articles"] == 2  # texts with no id of their own stay two
    story = make_scores("wire", "2025-01-10", {"russia": 0.9})
    copies = [ArticleScores(**{**vars(story), "source": s}) for s in ("A", "B", "C")]
    other = make_scores("own", "2025-01-12", {"russia": 0.3})
    evidence = measure_drift(copies + [other], "month", evidence=3).periods[0]["russia"]["evidence"]["favor"]
    assert [e["source"] for e in evidence] == ["A", None]  # one of the three copies, then the next text


def test_a_flat_series_has_no_shift_and_no_change_point():
    report = measure_drift(_monthly_corpus(np.random.default_rng(11)), "month")
    assert not any(p[t]["shift"] for p in report.periods for t in ("russia", "eu"))
    assert report.change_points == {"russia": [], "eu": []}


def test_empty_periods_are_listed_and_undated_articles_counted():
    scores = [make_scores("jan", "2025-01-10", {"russia": 0.2, "eu": 0.0}),
              make_scores("apr", "2025-04-02", {"russia": -0.2, "eu": 0.1}),
              make_scores("nodate", None, {"russia": 0.9, "eu": 0.9})]
    data = measure_drift(scores, "month").to_dict()
    assert [p["period"] for p in data["periods"]] == ["2025-01", "2025-02", "2025-03", "2025-04"]
    assert [p["n_articles"] for p in data["periods"]] == [1, 0, 0, 1]
    assert data["periods"][1]["russia"]["net"] is None and data["periods"][1]["russia"]["low"] is None
    assert data["undated"] == 1 and data["undated_articles"] == ["nodate"]
    assert data["periods"][3]["start"] == "2025-04-01"
    assert set(data) >= {"by", "undated", "periods", "change_points"}


def test_an_id_or_source_with_a_line_break_stays_on_its_line_in_the_drift_table():
    scores = [make_scores("jan", "2025-01-10", {"russia": 0.2, "eu": 0.0}, source="wire\ncopy"),
              make_scores("new\nline", None, {"russia": 0.9, "eu": 0.9})]
    lines = measure_drift(scores, "month").to_text(evidence=True).splitlines()
    assert "undated (1): new\\x0aline" in lines
    assert any(line.startswith("wire\\x0acopy ") for line in lines)
    assert not any(line in ("line", "copy") or line.startswith(("line", "copy ")) for line in lines)


def test_net_is_article_weighted_and_sources_are_broken_down():
    # a long article and a short one: each counts once in the period's net
    scores = [make_scores("long", "2025-01-03", {"russia": 0.6, "eu": 0.0}, n=40, source="A"),
              make_scores("short", "2025-01-04", {"russia": -0.2, "eu": 0.0}, n=2, source="B")]
    report = measure_drift(scores, "month")
    assert report.periods[0]["russia"]["net"] == pytest.approx(0.2)
    assert report.periods[0]["n_sentences"] == 42
    assert report.sources["A"]["overall"]["russia"]["net"] == pytest.approx(0.6)
    assert report.sources["B"]["n_articles"] == 1
    long_name = "Serbian pro-government outlet translated to English"
    scores.append(make_scores("third", "2025-01-05", {"russia": 0.0, "eu": 0.0}, n=2, source=long_name))
    rows = measure_drift(scores, "month").to_text().splitlines()
    head = rows.index(next(r for r in rows if r.startswith("source")))
    assert rows[head + 1].startswith("A ")
    assert rows[head + 1].index(" 1 ") + 1 == rows[head].index("arts") + 3  # counts stay under their head
    assert rows[head + 3].startswith(long_name[:39] + "…")  # clipped at 40 columns, the cut shown


def test_permutation_test_and_holm_behave():
    rng = np.random.default_rng(0)
    same = np.array([0.1, 0.2, 0.3])
    assert permutation_p_value(same, same.copy(), rng) == pytest.approx(1.0)
    assert permutation_p_value(np.array([0.0]), np.array([1.0]), rng) == 1.0  # two articles cannot show a shift
    far = permutation_p_value(rng.normal(0, 0.1, 30), rng.normal(1, 0.1, 30), rng, n_perm=999)
    assert far == pytest.approx(1 / 1000)
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])


def test_drift_reports_plot_and_html(tmp_path):
    from stance.drift_plot import write_html, write_png

    report = measure_drift(_monthly_corpus(np.random.default_rng(3), shift_month=5, months=8), "month")
    png = write_png(report, tmp_path / "d.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    page = write_html(report, tmp_path / "d.html").read_text()
    assert "2025-05" in page and "bootstrap" in page
    assert not re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", page)  # one self-contained file, nothing fetched
    text = report.to_text()
    assert "change points russia: 2025-05" in text
    may = next(line for line in text.splitlines() if line.startswith("2025-05"))
    assert "*" in may.split("[")[0]  # the shift is marked in its row


# --- history store -------------------------------------------------------------


def test_rerecording_replaces_and_keeps_sentences_consistent(tmp_path):
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("a", "2025-01-01", {"russia": 0.1, "eu": 0.0})])
        store.record([make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0}, n=2)])
        store.record([make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0}, model_id="m2")])
        rows = store.articles(model_id="m1")
        assert len(rows) == 1 and rows[0]["summary"]["russia"]["net"] == 0.5 and rows[0]["n_sentences"] == 2
        assert len(store.sentences(rows[0]["id"])) == 2 * 2
        assert {m["model_id"]: m["n_articles"] for m in store.models()} == {"m1": 1, "m2": 1}
        assert store.schema_version == SCHEMA_VERSION and store.check() == []
        assert store.replaced == 1  # the second record of "a" by m1; m2's is its first
        store.record([make_scores("b", None, {"russia": 0.1}, model_id="m2"),
                      make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0}, n=2)])
        assert store.replaced == 2
    with HistoryStore(tmp_path / "twice.sqlite") as store:  # one article given twice in a call replaces only itself
        twice = make_scores("c", None, {"russia": 0.1})
        assert store.record([twice, twice]) == 1 and store.replaced == 0  # one article stored, counted once
        other = make_scores("c", None, {"russia": 0.3}, n=2)
        other.content_sha256 = "0" * 64  # another text under its id
        with pytest.warns(StanceWarning, match="already holds another text"):
            store.record([other], replace=False)
        assert store.replaced == 0 and store.refused == 1
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0] == 2 * 2 + 4 * 2 + 4  # b: one target
    view = conn.execute("SELECT target, net FROM article_stance WHERE model_id='m1' ORDER BY target").fetchall()
    assert view == [("eu", 0.0), ("russia", 0.5)]


def test_store_filters_by_source_and_dates(tmp_path):
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores("x", "2025-01-01", {"russia": 0.1}, source="A"),
                      make_scores("y", "2025-06-01", {"russia": 0.1}, source="B"),
                      make_scores("z", None, {"russia": 0.1}, source="A")])
        assert [r["article"] for r in store.articles(sources=["A"])] == ["x", "z"]
        assert [r["article"] for r in store.articles(since="2025-02-01")] == ["y", "z"]
        assert [r["article"] for r in store.articles(until="2025-02-01", sources=["B"])] == []


def test_a_source_that_matches_nothing_is_told_the_sources_held(tmp_path, isolated_home):
    from stance.results import ResultsFolder

    from conftest import one_error_line, run_stance

    scores = [make_scores("x", "2025-01-01", {"russia": 0.1}, source="Politika"),
              make_scores("y", "2025-06-01", {"russia": 0.1}, source="N1"),
              make_scores("z", "2025-07-01", {"russia": 0.1})]
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record(scores)
    ResultsFolder(tmp_path / "r", "m1").write(scores)
    for where in (("--db", tmp_path / "h.sqlite"), ("--results", tmp_path / "r")):
        line = one_error_line(run_stance("drift", *where, "--source", "politika"))
        assert line.endswith("widen the selection; the sources held: '(unknown source)', 'N1', 'Politika'"), line
        line = one_error_line(run_stance("drift", *where, "--since", "2026-01-01"))
        assert line.endswith("widen the selection"), line  # no --source given: no source to suggest


def test_store_refuses_what_it_cannot_use(tmp_path):
    with pytest.raises(StoreError, match="no history database"):
        HistoryStore(tmp_path / "missing.sqlite", create=False)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreError, match="not a usable SQLite database"):
        HistoryStore(junk)
    newer = tmp_path / "newer.sqlite"
    HistoryStore(newer).close()
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer stance"):
        HistoryStore(newer)


def test_a_database_of_another_program_is_refused_and_left_alone(tmp_path):
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).execute("CREATE TABLE notes (x)").connection.commit()
    before = other.read_bytes()
    with pytest.raises(StoreError):
        HistoryStore(other)
    assert other.read_bytes() == before


WORKER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from conftest import make_scores
    from stance.store import HistoryStore
    worker, batches, size = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    with HistoryStore(sys.argv[4]) as store:
        for b in range(batches):
            store.record([make_scores(f"w{{worker}}-{{b}}-{{i}}", "2025-01-01", {{"russia": 0.1, "eu": -0.1}}, n=5)
                          for i in range(size)])
            print(b, flush=True)
    """
).format(tests=str(TESTS))


def test_four_concurrent_writers_lose_no_row(tmp_path):
    db = tmp_path / "h.sqlite"
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(w), "40", "5", str(db)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for w in range(4)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    with HistoryStore(db) as store:
        rows = store.articles()
        assert len(rows) == 4 * 40 * 5 and store.check() == []
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT COUNT(*) FROM sentences").fetchone()[0] == 4 * 40 * 5 * 5 * 2


def test_a_killed_writer_leaves_a_consistent_database(tmp_path):
    db = tmp_path / "h.sqlite"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, "0", "100000", "50", str(db)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    for _ in range(5):  # let a few batches land, then kill it mid-stream
        assert proc.stdout.readline(), proc.stderr.read()
    time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    with HistoryStore(db) as store:
        assert store.check() == []
        rows = store.articles()
        assert len(rows) >= 5 * 50 and len(rows) % 50 == 0  # whole batches only
        for row in rows[:: max(1, len(rows) // 20)]:
            assert len(store.sentences(row["id"])) == row["n_sentences"] * 2


def test_results_folder_refuses_another_model_and_knows_what_is_done(tmp_path):
    import pandas as pd

    from stance.results import ResultsFolder

    folder = ResultsFolder(tmp_path / "r", "m1")
    folder.write([make_scores("a", "2025-01-01", {"russia": 0.2}), make_scores("b", None, {"russia": -0.1}, source="S")])
    again = ResultsFolder(tmp_path / "r", "m1")
    assert again.done == {("a", None), ("b", "S")}
    again.write([make_scores("c", "2025-02-01", {"russia": 0.0})])
    assert sorted(pd.read_parquet(tmp_path / "r")["article"]) == ["a", "b", "c"]
    with pytest.raises(InputError, match="holds results of model m1"):
        ResultsFolder(tmp_path / "r", "m2")
    assert not list((tmp_path / "r").glob(".part-*"))  # no temporary file left behind


def test_drift_counts_each_article_once_and_reads_one_models_scores(tmp_path):
    nets = {"russia": 0.5, "eu": 0.0}
    first = [make_scores(f"a{i}", f"2025-0{1 + i}-10", nets) for i in range(3)]
    second = [make_scores(f"a{i}", f"2025-0{1 + i}-10", {"russia": -0.5, "eu": 0.0}, model_id="m2") for i in range(3)]
    store = HistoryStore(tmp_path / "h.sqlite")
    store.record(first)
    store.record(second)
    with pytest.raises(StanceError, match="scores of 2 models"):  # read whole, the database mixes them
        measure_drift(store.articles(), by="month")
    with pytest.raises(StanceError, match="article a0 is given more than once"):
        measure_drift(first + first, by="month")
    one = measure_drift(store.articles(model_id="m2"), by="month")
    assert [p["n_articles"] for p in one.periods] == [1, 1, 1]
    assert [p["russia"]["net"] for p in one.periods] == pytest.approx([-0.5] * 3)
    elsewhere = make_scores("a0", "2025-01-10", nets, source="another outlet")  # the same id from another source
    assert [p["n_articles"] for p in measure_drift(first + [elsewhere], by="month").periods] == [2, 1, 1]


def test_an_article_with_no_scored_sentence_is_left_out_of_its_periods_net():
    one = make_scores("text", "2023-03-01", {"russia": 1.0, "eu": 0.0}, n=1)
    furniture = [make_scores(f"photo{i}", "2023-03-02", {"russia": 0.0, "eu": 0.0}, n=0) for i in range(4)]
    with pytest.warns(StanceWarning, match="4 article\\(s\\) have no scored sentence, only page furniture"):
        report = measure_drift([one, *furniture], by="month", n_boot=50, n_perm=50)
    (period,) = report.periods
    assert period["n_articles"] == 1 and period["russia"]["net"] == pytest.approx(1.0)  # not 0.2, pulled toward 0
    with pytest.raises(StanceError, match="none of the 4 articles has a scored sentence"):
        measure_drift(furniture, by="month")


def test_records_with_no_summary_are_refused_not_reported_as_no_target():
    with pytest.raises(StanceError, match="the records carry no summary of any target"):
        measure_drift([{"article": "a", "date": "2025-01-01", "n_sentences": 3}], by="month")
    with pytest.raises(StanceError, match=r"records\[0\] has no article id \(its fields: 'a'\); pass scored articles"):
        measure_drift([{"a": 1}], by="month")
    good = make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0})
    for article, said in ((["x"], "article id ['x'], not a text"), (5, "article id 5, not a text"),
                          (None, "article id None, not a text")):
        with pytest.raises(StanceError, match=re.escape(f"records[1] has {said}; pass scored articles")):
            measure_drift([good, {"article": article, "date": "2025-01-02", "summary": good.summary}], by="month")


def test_a_stored_row_with_an_empty_id_is_named_by_its_source_and_date_not_by_python_advice(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    store.record([make_scores(f"a{i}", f"2025-0{i + 1}-10", {"russia": 0.5, "eu": 0.0}, source="wire") for i in range(2)])
    with closing(sqlite3.connect(tmp_path / "h.sqlite")) as conn, conn:  # as a database of an earlier stance may hold
        conn.execute("UPDATE articles SET article = '' WHERE article = 'a1'")
    with pytest.raises(StanceError, match=r"^a stored article from wire dated 2025-02-10 has an empty id, which names "
                                          r"no article; leave it out of the selection \(--source") as caught:
        measure_drift(store.articles(), by="month")
    assert "pass scored articles" not in str(caught.value) and "HistoryStore" not in str(caught.value)


@pytest.mark.parametrize("targets, said", [
    (["eu", "eu"], "targets names 'eu' more than once; give distinct target names"),
    (["russia", "eu", "russia"], "targets names 'russia' more than once"),
    (["eu", ""], r"targets is \['eu', ''\]; give distinct target names"),
    (["eu", 5], r"targets is \['eu', 5\]; give distinct target names"),
    ([], r"targets is \[\]; give distinct target names, such as \('russia', 'eu'\), or None"),
    (5, "targets is 5; give distinct target names"),
])
def test_targets_repeated_blank_or_not_names_are_refused_before_any_statistic(targets, said):
    scores = [make_scores(f"a{i}", f"2025-0{i + 1}-10", {"russia": 0.5, "eu": 0.0}) for i in range(2)]
    with pytest.raises(ValueInputError, match=said):
        measure_drift(scores, by="year", targets=targets)


@pytest.mark.parametrize("setting, huge, made", [("n_boot", 10**12, "bootstrap resamples"),
                                                  ("n_perm", 10**10, "permutations")])
def test_more_resamples_than_a_drift_makes_are_refused_not_a_memory_error_or_a_hang(setting, huge, made):
    scores = [make_scores(f"a{i}", f"2025-0{i % 2 + 1}-1{i}", {"russia": 0.1 * i, "eu": 0.0}) for i in range(8)]
    for value in (MAX_RESAMPLES + 1, huge):  # the first, quick to run, comes first: without the bound, a failure, not a hang
        said = f"{setting} is {value:,}, more than the 100,000 {made} a drift makes; give at most 100,000"
        with pytest.raises(ValueInputError, match=re.escape(said)):
            measure_drift(scores, by="month", **{setting: value})
    measure_drift(scores, by="month", **{setting: MAX_RESAMPLES})  # the bound itself is taken


def test_bootstrap_in_steps_draws_the_interval_of_one_step():
    values, weights = np.random.default_rng(1).random(7), np.arange(1.0, 8.0)
    idx = np.random.default_rng(5).integers(0, 7, size=(3001, 7))
    low, high = np.percentile((values * weights)[idx].sum(axis=1) / weights[idx].sum(axis=1), [2.5, 97.5])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(drift, "_CHUNK_CELLS", 70)  # steps of 10 resamples
        assert drift._bootstrap_interval(values, np.random.default_rng(5), 3001, weights) == (low, high)


@pytest.mark.parametrize("model", ["abc", ["abc"], 5])
def test_a_model_that_is_no_dict_is_refused_at_the_call_not_by_to_text(model):
    scores = [make_scores("a", "2025-01-10", {"russia": 0.5, "eu": 0.0})]
    with pytest.raises(TextsError, match=rf"model is {type(model).__name__}; pass what identifies the model as a dict"):
        measure_drift(scores, by="month", model=model)
    assert "model m9 ·" in measure_drift(scores, by="month", model={"id": "m9"}).to_text()
