"""Results folders and history databases that are damaged past what their headers and schemas tell:
pages of a database, parts that are no files, cells that hold what no stance wrote, and two runs
writing one folder at once."""

from __future__ import annotations

import json
import os
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from conftest import make_scores, one_error_line, run_stance
from stance.errors import StanceError


def _results(folder: Path, names=("a0", "a1", "a2")) -> Path:
    from stance.results import ResultsFolder

    ResultsFolder(folder, "m1").write([make_scores(name, f"2025-0{i + 1}-01", {"russia": 0.1 * i, "eu": -0.1 * i})
                                       for i, name in enumerate(names)])
    return folder


# --- a database damaged past its header -------------------------------------------------------


def _damaged_db(path: Path) -> Path:
    """A history database whose first pages are sound and whose sentence pages are garbage."""
    from stance.store import HistoryStore

    with HistoryStore(path) as store:
        store.record([make_scores(f"a{i:03d}", "2025-01-01", {"russia": 0.2, "eu": -0.1}, n=6) for i in range(150)])
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    assert pages > 20
    with open(path, "r+b") as handle:
        for page in range(pages // 2, pages // 2 + 3):
            handle.seek(page * page_size)
            handle.write(b"\xa5" * page_size)
    return path


def test_a_database_damaged_past_its_header_is_one_error_line_for_every_command(tmp_path, isolated_home):
    db = _damaged_db(tmp_path / "h.sqlite")
    before = db.read_bytes()
    article = tmp_path / "x.txt"
    article.write_text("Serbia signs a gas deal with Russia.\n", encoding="utf-8")
    for command in (["drift", "--db", db, "--evidence"], ["export", "--db", db, "--output", tmp_path / "o.csv"],
                    ["record", _results(tmp_path / "r"), "--db", db],
                    # the damage is found before the model is loaded (and before any scoring)
                    ["score", article, "--record", "--db", db, "--model", tmp_path / "no-model"]):
        line = one_error_line(run_stance(*command))
        assert f"{db}: not a usable SQLite database (" in line and "give another --db" in line, command
    assert db.read_bytes() == before  # nothing rewritten or repaired
    assert not (tmp_path / "o.csv").exists()


def test_store_queries_on_a_damaged_database_raise_store_error(tmp_path, isolated_home):
    from stance.store import HistoryStore, StoreError

    db = _damaged_db(tmp_path / "h.sqlite")
    with HistoryStore(db, readonly=True) as store:
        with pytest.raises(StoreError, match="not a usable SQLite database"):
            store.articles(strongest=True)


# --- parts that are no regular files -----------------------------------------------------------


@pytest.mark.parametrize("kind", ["fifo", "device", "folder"])
def test_a_part_that_is_not_a_regular_file_is_named_and_never_opened(tmp_path, isolated_home, kind):
    folder = _results(tmp_path / "r")
    odd = folder / "part-00001.parquet"
    if kind == "fifo":
        os.mkfifo(odd)
    elif kind == "device":
        odd.symlink_to("/dev/zero")
    else:
        odd.mkdir()
    db = tmp_path / "h.sqlite"
    article = tmp_path / "x.txt"
    article.write_text("Serbia signs a gas deal with Russia.\n", encoding="utf-8")
    for command in (["drift", "--results", folder], ["export", "--results", folder, "--output", tmp_path / "o.csv"],
                    ["record", folder, "--db", db],
                    ["score", article, "--output", folder, "--model", tmp_path / "no-model"]):
        line = one_error_line(run_stance(*command, timeout=60))
        assert str(odd) in line and "not a regular file" in line and "move it out" in line, command
    assert not db.exists() and not (tmp_path / "o.csv").exists()


# --- two runs writing one folder ------------------------------------------------------------------


def test_two_writers_of_one_folder_each_keep_their_part(tmp_path, isolated_home):
    """Both opened the folder while it was empty, so both would name their first part part-00000."""
    from stance.results import ResultsFolder, read_results

    first, second = ResultsFolder(tmp_path / "r", "m1"), ResultsFolder(tmp_path / "r", "m1")
    one = first.write([make_scores(f"a{i}", "2025-01-01", {"russia": 0.1}) for i in range(3)])
    two = second.write([make_scores(f"b{i}", "2025-01-01", {"russia": 0.2}) for i in range(3)])
    assert one.name == "part-00000.parquet" and two.name == "part-00001.parquet"
    three = first.write([make_scores("a0", "2025-01-01", {"russia": 0.3})])  # a later version of a0
    assert three.name == "part-00002.parquet"
    rows, _ = read_results(tmp_path / "r")
    assert sorted(r["article"] for r in rows) == ["a0", "a1", "a2", "b0", "b1", "b2"]
    assert next(r for r in rows if r["article"] == "a0")["summary"]["russia"]["net"] == 0.3
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [f"part-0000{i}.parquet" for i in range(3)]


def test_a_part_numbered_past_99999_comes_after_the_parts_before_it(tmp_path, isolated_home):
    """part-100000 sorts before part-99999 as text; read that way, an article's older version would win."""
    from stance.results import ResultsFolder, iter_scores, read_results

    folder = ResultsFolder(tmp_path / "r", "m1")
    folder._next = 99_999
    older = folder.write([make_scores("a0", "2025-01-01", {"russia": 0.1})])
    newer = folder.write([make_scores("a0", "2025-01-01", {"russia": 0.7})])
    assert (older.name, newer.name) == ("part-99999.parquet", "part-100000.parquet")
    rows, _ = read_results(tmp_path / "r")
    assert [r["summary"]["russia"]["net"] for r in rows] == [0.7]
    assert [s.summary["russia"]["net"] for batch in iter_scores(tmp_path / "r") for s in batch] == [0.7]
    assert ResultsFolder(tmp_path / "r", "m1").write([make_scores("a1", None, {"russia": 0.0})]).name == \
        "part-100001.parquet"


def test_parts_named_with_digits_int_does_not_read_are_read_in_order(tmp_path, isolated_home):
    """"²" is a digit to str.isdigit but not to int(); a sound part under such a name is read, not a traceback."""
    import shutil

    from stance.results import ResultsFolder, read_results

    folder = _results(tmp_path / "r")
    for name in ("part-\u00b2.parquet", "\u00b21.parquet", "part-\u0663.parquet"):  # ², ²1, Arabic-Indic 3
        shutil.copy(folder / "part-00000.parquet", folder / name)
    rows, model = read_results(folder)
    assert model == "m1" and sorted(r["article"] for r in rows) == ["a0", "a1", "a2"]
    assert ResultsFolder(folder, "m1").write([make_scores("b0", None, {"russia": 0.0})]).name == "part-00004.parquet"


# --- cells no stance wrote ---------------------------------------------------------------------------


def _set_summary_net(value):
    def change(row):
        summary = json.loads(row["summary"])
        summary["russia"]["net"] = value
        row["summary"] = json.dumps(summary)
    return change


def _change_sentence(change):
    def apply(row):
        sentences = json.loads(row["sentences"])
        change(sentences[0])
        row["sentences"] = json.dumps(sentences)
    return apply


def _second_index_as_first(row):
    sentences = json.loads(row["sentences"])
    sentences[1]["index"] = sentences[0]["index"]
    row["sentences"] = json.dumps(sentences)


#: (what is changed in one row, what the error says)
BAD_CELLS = {
    "summary-not-json": (lambda r: r.update(summary="not json"), "its summary is not valid JSON"),
    "summary-null": (lambda r: r.update(summary=None), "no summary"),
    "summary-a-list": (lambda r: r.update(summary="[1, 2]"), "its summary is not an object"),
    "summary-empty": (lambda r: r.update(summary="{}"), "its summary names no target"),
    "sentences-miscounted": (lambda r: r.update(n_sentences=999), "n_sentences is 999, where it holds 4"),
    "skipped-miscounted": (lambda r: r.update(n_skipped=3), "n_skipped is 3, where it holds 0"),
    "net-text": (_set_summary_net("high"), "net 'high'"),
    "net-nan": (_set_summary_net(float("nan")), "net nan"),
    "net-5": (_set_summary_net(5.0), "net 5.0, not a number in [-1, 1]"),
    "count-negative": (lambda r: r.update(n_sentences=-1), "n_sentences is -1"),
    "article-null": (lambda r: r.update(article=None), "no article"),
    "sha-null": (lambda r: r.update(content_sha256=None), "no content_sha256"),
    "model-not-json": (lambda r: r.update(model="xx"), "its model is not valid JSON"),
    "sentences-not-json": (lambda r: r.update(sentences="["), "its sentences are not valid JSON"),
    "sentences-too-deep": (lambda r: r.update(sentences="[" * 5000 + "]" * 5000), "its sentences are not valid JSON"),
    "sentences-an-object": (lambda r: r.update(sentences='{"a": 1}'), "its sentences are not a list"),
    "sentence-without-target": (_change_sentence(lambda s: s.pop("russia")), "no label and probabilities for 'russia'"),
    "probability-2": (_change_sentence(lambda s: s["russia"]["proba"].update(favor=2.0)), "P(favor) 2.0"),
    "probability-nan": (_change_sentence(lambda s: s["eu"]["proba"].update(none=float("nan"))), "P(none) nan"),
    "skipped-not-a-list": (lambda r: r.update(skipped='{"x": 1}'), "skipped lines are not a list"),
    "index-used-twice": (_second_index_as_first, "its sentence 1 has index 0, used twice"),
    "index-past-any-article": (_change_sentence(lambda s: s.update(index=2**70)), "above 2147483647"),
}


def _bad_cells(folder: Path, change) -> Path:
    """A part after the good one, as the good one but with one cell changed in its second row."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(folder / "part-00000.parquet")
    rows = table.to_pylist()
    change(rows[1])
    bad = folder / "zz-bad.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), bad)
    return bad


@pytest.mark.parametrize("case", list(BAD_CELLS))
def test_a_cell_no_stance_wrote_is_named_before_anything_is_read(tmp_path, isolated_home, case):
    from stance.errors import InputError
    from stance.results import check_output, check_results, iter_scores, read_results
    from stance.store import HistoryStore

    change, reason = BAD_CELLS[case]
    folder = _results(tmp_path / "r")
    bad = _bad_cells(folder, change)
    for check in (check_results, check_output, lambda f: list(iter_scores(f)), read_results,  # drift reads the
                  lambda f: read_results(f, strongest=True)):  # sentences its summaries are traced to, evidence or not
        with pytest.raises(InputError) as caught:
            check(folder)
        message = str(caught.value)
        assert message.startswith(f"{bad}: not a stance result part (row 1") and reason in message, message
        assert message.endswith(f"move it out of {folder} (stance reads every .parquet file there)")
        assert "\n" not in message
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store, pytest.raises(InputError, match="not a stance result part"):
        store.record_results(folder)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0] == 0  # not even the rows before it


def _rewritten(folder: Path, change) -> None:
    """Each row of the folder's part changed by ``change``, the part written again in place."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = folder / "part-00000.parquet"
    table = pq.read_table(part)
    rows = table.to_pylist()
    for i, row in enumerate(rows):
        change(i, row)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), part)


def test_recording_a_folder_later_keeps_when_it_was_scored_and_counts_each_article_once(tmp_path, isolated_home):
    from stance.store import HistoryStore

    older = _results(tmp_path / "older")  # scored by m1 before m2 scored anything
    _rewritten(older, lambda i, row: row.update(scored_at="2020-01-02T03:04:05+00:00"))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores("b", "2025-05-01", {"russia": 0.1, "eu": 0.0}, model_id="m2")])
        assert store.record_results(older) == 3
        assert [m["model_id"] for m in store.models()] == ["m2", "m1"]  # m2 scored last, and drift shows it
        assert {a["scored_at"] for a in store.articles(model_id="m1")} == {"2020-01-02T03:04:05+00:00"}
    twice = _results(tmp_path / "twice", ("x", "x"))  # one article under no source and under source "": one key
    _rewritten(twice, lambda i, row: row.update(source=None if i == 0 else ""))
    with HistoryStore(tmp_path / "t.sqlite") as store:
        assert store.record_results(twice) == len(store.articles()) == 1


@pytest.mark.parametrize("case", ["net-nan", "sha-null", "sentences-too-deep"])
def test_commands_refuse_a_cell_no_stance_wrote_in_one_line(tmp_path, isolated_home, case):
    folder = _results(tmp_path / "r")
    bad = _bad_cells(folder, BAD_CELLS[case][0])
    db, out = tmp_path / "h.sqlite", tmp_path / "o.csv"
    for command in (["drift", "--results", folder, "--json"], ["export", "--results", folder, "--output", out],
                    ["record", _results(tmp_path / "fine", ("f0",)), folder, "--db", db]):
        line = one_error_line(run_stance(*command))
        assert str(bad) in line and BAD_CELLS[case][1] in line, command
    assert not db.exists() and not out.exists()


def test_rounding_just_past_a_range_is_no_error(tmp_path, isolated_home):
    from stance.results import check_results

    folder = _results(tmp_path / "r")
    _bad_cells(folder, _change_sentence(lambda s: s["russia"].update(proba={"favor": 1.0000001, "against": 0.0, "none": 0.0})))
    assert check_results(folder) == "m1"


# --- a database an earlier stance filled with what drift cannot use ----------------------------------


@pytest.mark.parametrize("net", ["'NaN'", "5.0", "'\"high\"'"])
def test_drift_names_a_recorded_net_it_cannot_use(tmp_path, isolated_home, net):
    from stance.store import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores(f"a{i}", f"2025-0{i + 1}-01", {"russia": 0.1}) for i in range(3)])
    with closing(sqlite3.connect(db)) as conn:  # as `record` of a part with such a net used to store it
        conn.execute(f"UPDATE articles SET summary = json_set(summary, '$.russia.net', json({net})) WHERE article = 'a1'"
                     if net != "'NaN'" else
                     "UPDATE articles SET summary = replace(summary, '\"net\": 0.1', '\"net\": NaN') WHERE article = 'a1'")
        conn.commit()
    line = one_error_line(run_stance("drift", "--db", db))
    assert "article a1: its recorded net for russia is" in line and "--replace" in line


@pytest.mark.parametrize(("net", "usable"), [(1.0000005, True), (-1.0000005, True), (1.00001, False), (True, False)])
def test_a_results_part_and_drift_agree_on_which_nets_are_usable(tmp_path, isolated_home, net, usable):
    """A part that `stance record` accepts gives a database drift reads, and a net one refuses the other does too."""
    from stance.drift import measure_drift
    from stance.errors import InputError, StanceError
    from stance.results import check_results

    folder = _results(tmp_path / "r")
    _bad_cells(folder, _set_summary_net(net))
    try:
        check_results(folder)
        part_usable = True
    except InputError:
        part_usable = False
    records = [make_scores(f"a{i}", f"2025-0{i + 1}-01", {"russia": 0.1}) for i in range(3)]
    records[1].summary["russia"]["net"] = net
    try:
        measure_drift(records, "month", n_boot=10, n_perm=10, evidence=0)
        drift_usable = True
    except StanceError:
        drift_usable = False
    assert part_usable is drift_usable is usable


@pytest.mark.parametrize("column, value", [("date", "2025-13-45"), ("date_source", "guessed")])
def test_record_refuses_a_folder_with_one_row_edited_by_hand_before_storing_any(tmp_path, isolated_home, column, value):
    """The bad row sits in the folder's last batch: the batches before it are not stored either."""
    from stance.results import ResultsFolder, results_rows
    from stance.store import HistoryStore

    rows = results_rows([make_scores(f"a{i:03d}", "2025-01-01", {"russia": 0.2, "eu": -0.1}) for i in range(150)])
    rows[140][column] = value
    folder = tmp_path / "r"
    ResultsFolder(folder, "m1").write_rows(rows)
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("kept", "2024-01-01", {"russia": 0.1, "eu": 0.1})])
    line = one_error_line(run_stance("record", folder, "--db", db))
    assert f"{folder}: the scores of article 'a140' have {column} '{value}'" in line
    assert line.endswith("; the folder is refused whole")
    with HistoryStore(db, readonly=True) as store:
        assert [a["article"] for a in store.articles()] == ["kept"]


def test_a_folder_checked_once_is_checked_again_when_a_part_comes_or_is_written_again(tmp_path):
    """A folder is checked article by article once per command, however often it is read; a new or
    rewritten part is no longer the folder that was checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stance.results import ResultsFolder, check_every_article, results_rows

    def edited_by_hand(name):
        rows = results_rows([make_scores(name, "2025-05-01", {"russia": 0.25, "eu": 0.0})])
        summary = json.loads(rows[0]["summary"])
        summary["russia"]["net"] = 0.9
        rows[0]["summary"] = json.dumps(summary)
        return rows

    folder = _results(tmp_path / "r")
    check_every_article(folder)
    check_every_article(folder)
    checked = set(folder.glob("*.parquet"))
    ResultsFolder(folder, "m1").write_rows(edited_by_hand("late"))
    with pytest.raises(StanceError, match="'late'.*not what its sentences add up to"):
        check_every_article(folder)
    (set(folder.glob("*.parquet")) - checked).pop().unlink()
    check_every_article(folder)  # back to the parts that were checked
    part = sorted(checked)[0]
    pq.write_table(pa.Table.from_pylist(edited_by_hand("a0"), schema=pq.read_schema(part)), part)  # in place
    with pytest.raises(StanceError, match="'a0'.*not what its sentences add up to"):
        check_every_article(folder)


def test_drift_on_a_results_folder_names_its_model_as_the_folder_records_it(tmp_path, isolated_home):
    from stance.results import folder_model

    folder = _results(tmp_path / "r")
    assert folder_model(folder) == {"id": "m1"}  # make_scores records only the id
    report = json.loads(run_stance("drift", "--results", folder, "--json").stdout)
    assert report["model"] == {"id": "m1"}


def test_a_summary_its_sentences_do_not_add_up_to_is_refused_and_a_label_outside_the_scheme_named(tmp_path):
    from stance.store import HistoryStore

    store = HistoryStore(tmp_path / "h.sqlite")
    edited = make_scores("a", "2025-01-01", {"russia": 0.25, "eu": 0.0})
    edited.summary["russia"]["net"] = 0.9  # the net drift would read, not the sentences'
    with pytest.raises(StanceError, match=r"the russia summary .* net \+0.900\) is not what its sentences add up to .* net \+0.250\)"):
        store.record([edited])
    recounted = make_scores("b", "2025-01-01", {"russia": 0.25, "eu": 0.0})
    recounted.summary["eu"]["favor"] += 1
    with pytest.raises(StanceError, match="the eu summary"):
        store.record([recounted])
    misspelt = make_scores("c", "2025-01-01", {"russia": 0.25, "eu": 0.0})
    misspelt.sentences[0]["russia"]["label"] = "Favor"
    with pytest.raises(StanceError, match="has label 'Favor' for 'russia', not one of favor, against, none"):
        store.record([misspelt])
    inflated = make_scores("d", "2025-01-01", {"russia": 0.0, "eu": 0.0})
    for sentence in inflated.sentences:  # the net stays 0, and the counts stay what the labels say
        sentence["russia"]["proba"] = {"favor": 0.9, "against": 0.9, "none": 0.9}
    with pytest.raises(StanceError, match="has probabilities for 'russia' that add up to 2.7, not 1"):
        store.record([inflated])
    assert store.articles() == []


def test_articles_scored_for_other_targets_are_refused_together(tmp_path):
    from stance.store import HistoryStore

    store = HistoryStore(tmp_path / "h.sqlite")
    both = make_scores("a", "2025-01-01", {"russia": 0.25, "eu": 0.0})
    russia_only = make_scores("b", "2025-01-02", {"russia": 0.25})
    with pytest.raises(StanceError, match="the scores of article 'b' are for russia, and those of 'a' for eu, russia"):
        store.record([both, russia_only])  # else every later drift of this database stops at article b
    assert store.articles() == []


def test_recording_stopped_midway_can_say_how_many_articles_stay(tmp_path):
    """`stance record` stopped by Ctrl-C says how many are stored: the batches whose transaction ended."""
    from stance.store import HistoryStore

    from stance.results import ResultsFolder

    folder = tmp_path / "r"
    ResultsFolder(folder, "m1").write([make_scores(f"a{i:03d}", f"2025-01-{1 + i % 28:02d}", {"russia": 0.1, "eu": 0.0})
                                       for i in range(150)])
    stored = []

    def stop_after_the_first(n):
        stored.append(n)
        raise KeyboardInterrupt

    store = HistoryStore(tmp_path / "h.sqlite")
    with pytest.raises(KeyboardInterrupt):
        store.record_results(folder, progress=stop_after_the_first)
    assert stored == [64] and len(store.articles()) == 64
    sizes = []
    assert store.record_results(folder, progress=sizes.append) == 150 and sizes == [64, 64, 22]
    assert len(store.articles()) == 150
