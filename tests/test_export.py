"""`stance export`: scored sentences as CSV or Parquet, from the history database or a results folder."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing

import pandas as pd
import pyarrow.parquet as pq
import pytest

import stance.export
from stance.errors import InputError, StanceWarning
from stance.export import COLUMNS, ExportError, export_sentences, sentence_rows
from stance.results import ResultsFolder
from stance.store import HistoryStore, StoreError

from conftest import make_scores, one_error_line, run_stance
from test_hostile_paths import leftover_of_a_killed_writer


HARD_TEXT = 'Vučić said, "no deal"\nthen left.\r\nA last line, with a comma'


def _scores():
    """Four articles: two outlets, one undated, two ids alike but for the source; targets not in alphabetical order."""
    dated = make_scores("c", "2024-01-01", {"russia": -0.5, "eu": 0.25}, n=3)
    dated.sentences[1]["text"] = HARD_TEXT
    return [
        make_scores("b", "2024-02-01", {"russia": 0.5, "eu": -0.25}, source="Politika"),
        make_scores("a", None, {"russia": 0.1, "eu": 0.0}, n=2),
        dated,
        make_scores("c", "2024-01-01", {"russia": 0.0, "eu": 1.0}, source="N1", n=1),
    ]


@pytest.fixture
def scored(tmp_path):
    """The same scores in a history database and in a results folder."""
    scores = _scores()
    db = tmp_path / "history.sqlite"
    with HistoryStore(db) as store:
        store.record(scores)
    results = tmp_path / "results"
    ResultsFolder(results, "m1").write(scores)
    return {"db": db, "results": results, "scores": scores}


def _read(path) -> list[dict]:
    """A written export back through pandas, missing cells as None."""
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def test_one_row_per_sentence_and_target_with_the_recorded_values(scored, tmp_path):
    out = tmp_path / "out.csv"
    written = export_sentences(out, db=scored["db"])
    rows = _read(out)
    assert list(pd.read_csv(out).columns) == list(COLUMNS)
    assert written == len(rows) == sum(len(s.sentences) * len(s.summary) for s in scored["scores"])
    expected = {
        (s.article, s.source, sentence["index"], target): (sentence["text"], sentence[target]["label"],
                                                           *sentence[target]["proba"].values())
        for s in scored["scores"] for sentence in s.sentences for target in s.summary
    }
    got = {(r["article"], r["source"], r["index"], r["target"]): (r["text"], r["label"], r["p_favor"],
                                                                   r["p_against"], r["p_none"]) for r in rows}
    assert got == expected
    assert {r["model_id"] for r in rows} == {"m1"}


def test_rows_come_by_date_article_source_index_then_summary_target_order(scored):
    rows = list(sentence_rows(db=scored["db"]))
    articles = [(r["article"], r["source"]) for r in rows]
    assert list(dict.fromkeys(articles)) == [("c", None), ("c", "N1"), ("b", "Politika"), ("a", None)]
    first = [(r["index"], r["target"]) for r in rows if r["article"] == "c" and r["source"] is None]
    assert first == [(0, "russia"), (0, "eu"), (1, "russia"), (1, "eu"), (2, "russia"), (2, "eu")]
    assert rows[-1]["date"] is None


def test_results_folder_gives_the_rows_of_the_database(scored):
    assert list(sentence_rows(results=scored["results"])) == list(sentence_rows(db=scored["db"]))


def test_csv_and_parquet_read_back_equal_and_keep_hard_text(scored, tmp_path):
    export_sentences(tmp_path / "out.csv", db=scored["db"])
    export_sentences(tmp_path / "out.parquet", results=scored["results"])
    from_csv, from_parquet = _read(tmp_path / "out.csv"), _read(tmp_path / "out.parquet")
    assert from_csv == from_parquet
    assert HARD_TEXT in {r["text"] for r in from_csv}
    types = {field.name: str(field.type) for field in pq.read_schema(tmp_path / "out.parquet")}
    assert types == {c: "int64" if c == "index" else "double" if c.startswith("p_") else "string" for c in COLUMNS}


def test_parquet_is_written_in_batches(scored, tmp_path, monkeypatch):
    monkeypatch.setattr(stance.export, "PARQUET_BATCH", 5)
    written = export_sentences(tmp_path / "out.parquet", db=scored["db"])
    assert pq.ParquetFile(tmp_path / "out.parquet").num_row_groups == -(-written // 5)


@pytest.mark.parametrize("where", ["db", "results"])
def test_source_and_date_filters_keep_undated_articles(scored, where):
    rows = list(sentence_rows(**{where: scored[where]}, sources=["Politika"]))
    assert {r["article"] for r in rows} == {"b"}
    rows = list(sentence_rows(**{where: scored[where]}, since="2024-01-15"))
    assert {r["article"] for r in rows} == {"b", "a"}  # "a" is undated
    rows = list(sentence_rows(**{where: scored[where]}, until="2024-01-01"))
    assert {(r["article"], r["source"]) for r in rows} == {("c", None), ("c", "N1"), ("a", None)}


@pytest.mark.parametrize("where", ["db", "results"])
def test_the_articles_without_a_source_are_selected_by_the_name_the_drift_report_gives_them(scored, where):
    from stance.drift import UNKNOWN_SOURCE

    literal = make_scores("d", "2024-02-01", {"russia": 0.1, "eu": 0.0}, source=UNKNOWN_SOURCE)  # named as drift names none
    with HistoryStore(scored["db"]) as store:
        store.record([literal])
    ResultsFolder(scored["results"], "m1").write([literal])
    unnamed = {(r["article"], r["source"]) for r in sentence_rows(**{where: scored[where]}, sources=[UNKNOWN_SOURCE])}
    every = {(r["article"], r["source"]) for r in sentence_rows(**{where: scored[where]})}
    assert unnamed == {pair for pair in every if pair[1] in (None, UNKNOWN_SOURCE)} and len(unnamed) == 3
    both = {(r["article"], r["source"]) for r in sentence_rows(**{where: scored[where]}, sources=[UNKNOWN_SOURCE, "N1"])}
    assert both == unnamed | {("c", "N1")}


def test_latest_model_by_default_with_a_warning_and_model_id_chooses(scored):
    with HistoryStore(scored["db"]) as store:
        store.record([make_scores("z", "2024-03-01", {"russia": 0.5, "eu": 0.0}, model_id="m2")])
    with closing(sqlite3.connect(scored["db"])) as conn, conn:
        conn.execute("UPDATE articles SET scored_at = '2000-01-01T00:00:00+00:00' WHERE model_id = 'm1'")
    with pytest.warns(StanceWarning, match="2 models"):
        assert {r["model_id"] for r in sentence_rows(db=scored["db"])} == {"m2"}
    assert {r["model_id"] for r in sentence_rows(db=scored["db"], model_id="m1")} == {"m1"}
    with pytest.raises(ExportError, match="recorded: m2, m1"):
        list(sentence_rows(db=scored["db"], model_id="other"))
    with pytest.raises(ExportError, match="not 'm2'"):
        list(sentence_rows(results=scored["results"], model_id="m2"))


def test_cli_writes_and_says_how_many_rows(scored, tmp_path):
    out = tmp_path / "out.parquet"
    result = run_stance("export", "--results", scored["results"], "--output", out, "--source", "N1",
                        "--source", "Politika", "--since", "2024-01-01")
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == f"wrote {4 * 2 + 1 * 2} rows to {out}"
    assert {r["article"] for r in _read(out)} == {"b", "c"}


def test_cli_without_db_reads_the_default_database(scored, tmp_path):
    result = run_stance("export", "--output", tmp_path / "out.csv", env={"STANCE_DB": str(scored["db"])})
    assert result.returncode == 0, result.stderr
    assert len(_read(tmp_path / "out.csv")) == len(list(sentence_rows(db=scored["db"])))


def test_cli_mistakes_get_one_line(scored, tmp_path):
    assert ".csv or .parquet" in one_error_line(run_stance("export", "--db", scored["db"], "--output", tmp_path / "out.xlsx"))
    missing = tmp_path / "missing.sqlite"
    assert "no history database" in one_error_line(run_stance("export", "--db", missing, "--output", tmp_path / "o.csv"))
    assert not missing.exists()
    both = run_stance("export", "--db", scored["db"], "--results", scored["results"], "--output", tmp_path / "o.csv")
    assert "not both" in one_error_line(both, code=2)
    for db in (scored["db"], missing):  # drift read the folder alone, the database given beside it unread
        assert "not both" in one_error_line(run_stance("drift", "--db", db, "--results", scored["results"]), code=2)
    assert "YYYY-MM-DD" in run_stance("export", "--since", "2024-13-01", "--output", tmp_path / "o.csv").stderr
    for command in (["export", "--output", tmp_path / "o.csv"], ["drift", "--html", tmp_path / "o.html"]):
        line = one_error_line(run_stance(*command, "--db", tmp_path))
        assert "is a directory, not a regular file; give a database file with --db" in line, line
    assert not (tmp_path / "o.csv").exists()


def test_an_unwritable_output_fails_before_any_reading(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    line = one_error_line(run_stance("export", "--db", tmp_path / "missing.sqlite", "--output",
                                      tmp_path / "file" / "out.csv"))
    assert "--output" in line and "missing.sqlite" not in line


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_export_makes_its_folders_and_a_failed_one_leaves_none(scored, tmp_path, suffix):
    out = tmp_path / "new" / "deeper" / f"out{suffix}"
    assert export_sentences(out, db=scored["db"]) == len(_read(out)) > 0
    nowhere = tmp_path / "other" / "deeper" / f"out{suffix}"
    with pytest.raises(ExportError, match="no scored sentences match"):
        export_sentences(nowhere, db=scored["db"], sources=["No such outlet"])
    assert not (tmp_path / "other").exists()


def test_output_inside_the_results_folder_is_refused(scored):
    for name in ("all.parquet", "all.csv"):  # a CSV there stops pandas.read_parquet(FOLDER)
        with pytest.raises(ExportError, match="lies in the results folder .*; write it elsewhere"):
            export_sentences(scored["results"] / name, results=scored["results"])


def test_an_existing_output_is_replaced_whole_or_left_as_it_was(scored, tmp_path, monkeypatch):
    folder = tmp_path / "exports"
    folder.mkdir()
    out = folder / "out.csv"
    old = ",".join(COLUMNS) + "\nold\n"  # an earlier export
    out.write_text(old, encoding="utf-8")
    with pytest.raises(ExportError, match="widen the selection"):
        export_sentences(out, db=scored["db"], sources=["nobody"])
    assert out.read_text(encoding="utf-8") == old

    calls = []

    def failing(self, article_row, article=None):  # the database breaks after the first article's rows are written
        calls.append(article_row)
        if len(calls) > 1:
            raise StoreError("broken")
        return real(self, article_row, article)

    real = HistoryStore.sentences
    monkeypatch.setattr(HistoryStore, "sentences", failing)
    with pytest.raises(StoreError):
        export_sentences(out, db=scored["db"])
    assert out.read_text(encoding="utf-8") == old
    assert [p.name for p in folder.iterdir()] == ["out.csv"]

    monkeypatch.setattr(HistoryStore, "sentences", real)
    assert export_sentences(out, db=scored["db"]) == len(_read(out))
    assert [p.name for p in folder.iterdir()] == ["out.csv"]


def test_an_export_and_a_results_part_remove_what_a_killed_writer_left(scored, tmp_path):
    output = tmp_path / "out.csv"
    leftover = leftover_of_a_killed_writer(output)
    export_sentences(output, db=scored["db"])
    assert not leftover.exists() and len(_read(output)) > 0

    folder = ResultsFolder(scored["results"], "m1")
    part = scored["results"] / "part-00001.parquet"
    assert not part.exists()
    leftover = leftover_of_a_killed_writer(part)
    folder.write([make_scores("d", "2024-03-01", {"russia": 0.2, "eu": 0.0})])
    assert part.is_file() and not leftover.exists()
    assert sorted(p.name for p in scored["results"].iterdir()) == ["part-00000.parquet", "part-00001.parquet"]


def test_an_export_replaces_only_an_export_and_keeps_its_mode(scored, tmp_path):
    notes = tmp_path / "notes.csv"
    notes.write_text("name,phone\nana,123\n", encoding="utf-8")
    for path in (notes, tmp_path / "table.parquet"):
        if path.suffix == ".parquet":
            pd.DataFrame({"x": [1]}).to_parquet(path)
        before = path.read_bytes()
        with pytest.raises(Exception, match="a file this command did not write"):
            export_sentences(path, db=scored["db"])
        assert path.read_bytes() == before
    private = tmp_path / "private.csv"
    export_sentences(private, db=scored["db"])
    private.chmod(0o600)
    export_sentences(private, results=scored["results"])  # an export: replaced, and still private
    assert private.stat().st_mode & 0o777 == 0o600 and len(_read(private)) == len(list(sentence_rows(db=scored["db"])))
    export_sentences(tmp_path / "s.parquet", db=scored["db"])
    export_sentences(tmp_path / "s.parquet", db=scored["db"])


@pytest.mark.parametrize("name", ["out.parquet", "out.csv", "sub/out.csv", "link.parquet"])
def test_an_export_is_never_written_into_a_results_folder(scored, name):
    """Nor into a folder within it, nor through a link into it: pandas.read_parquet(FOLDER) reads those too."""
    output = scored["results"].parent / name if name.startswith("link") else scored["results"] / name
    if name.startswith("link"):
        output.symlink_to(scored["results"] / "all.parquet")
    with pytest.raises(ExportError, match="lies in the results folder"):
        export_sentences(output, db=scored["db"])
    assert all(p.name.startswith("part-") for p in scored["results"].iterdir())


def test_formulas_are_escaped_when_asked(tmp_path):
    scores = make_scores("=1+1", "2024-01-01", {"russia": 0.5}, n=4)
    for i, start in enumerate(['=HYPERLINK("http://x.example")', "+cmd", "-2+3", "@SUM(A1)"]):
        scores.sentences[i]["text"] = start
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([scores])
    kept, escaped = tmp_path / "kept.csv", tmp_path / "escaped.csv"
    export_sentences(kept, db=tmp_path / "h.sqlite")
    export_sentences(escaped, db=tmp_path / "h.sqlite", escape_formulas=True)
    kept, escaped = _read(kept), _read(escaped)
    assert [r["text"] for r in kept] == ['=HYPERLINK("http://x.example")', "+cmd", "-2+3", "@SUM(A1)"]
    assert [r["text"] for r in escaped] == ["'=HYPERLINK(\"http://x.example\")", "'+cmd", "'-2+3", "'@SUM(A1)"]
    assert {r["article"] for r in escaped} == {"'=1+1"} and [r["p_favor"] for r in escaped] == [r["p_favor"] for r in kept]
    with pytest.raises(ExportError, match="--escape-formulas is for CSV"):
        export_sentences(tmp_path / "x.parquet", db=tmp_path / "h.sqlite", escape_formulas=True)


@pytest.mark.parametrize("edit, said", [
    ("UPDATE sentences SET p_against = 'x'", "has p_against 'x', not a number in [0, 1]"),
    ("UPDATE sentences SET p_favor = 5.0", "has p_favor 5.0, not a number in [0, 1]"),
    ("UPDATE sentences SET label = 'maybe'", "has label 'maybe', not one of favor, against, none"),
    ("UPDATE sentences SET text = x'ff00'", "has a text of type bytes"),  # JSON had no bytes
    ("UPDATE sentences SET sentence = -1 WHERE sentence = 1", "has index -1, not a count"),
])
def test_a_sentence_edited_by_hand_is_one_line_in_export_and_drift(scored, tmp_path, isolated_home, edit, said):
    with closing(sqlite3.connect(scored["db"])) as conn, conn:
        assert conn.execute(edit).rowcount
    for out in (tmp_path / "out.csv", tmp_path / "out.parquet"):
        line = one_error_line(run_stance("export", "--db", scored["db"], "--output", out))
        assert said in line and "edited by hand?" in line and not out.exists()
    if "sentence = -1" not in edit:  # drift reads the sentences it names as evidence: here all of them
        line = one_error_line(run_stance("drift", "--db", scored["db"], "--json"))
        assert said in line


def test_an_article_missing_a_sentences_scores_is_not_exported(scored, tmp_path, isolated_home):
    with closing(sqlite3.connect(scored["db"])) as conn, conn:
        assert conn.execute("DELETE FROM sentences WHERE sentence = 1 AND target = 'eu' AND article_row = "
                            "(SELECT id FROM articles WHERE article = 'c' AND source = '')").rowcount == 1
    line = one_error_line(run_stance("export", "--db", scored["db"], "--output", tmp_path / "out.csv"))
    assert "article c: 5 sentence scores are recorded where its 3 sentences and 2 targets make 6" in line


def test_a_whole_model_id_selects_the_scores_its_start_was_recorded_under(tmp_path):
    full = "378d4fe022f39d96" + "fc03818281f079b0e34c6faa5bb034b341071f6fbb721d02"
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores("a", "2024-01-01", {"russia": 0.5}, model_id=full[:16]),
                      make_scores("b", "2024-01-01", {"russia": 0.5}, model_id="ffff000011112222")])
    for given in (full, full[:16], full[:5]):
        assert {r["article"] for r in sentence_rows(db=tmp_path / "h.sqlite", model_id=given)} == {"a"}
    with pytest.raises(ExportError, match="no scores of a model"):
        list(sentence_rows(db=tmp_path / "h.sqlite", model_id=full[:16] + "zz"))  # not an id's digits: taken whole


def test_a_sentence_scored_for_a_target_its_summary_lacks_is_one_line(scored, tmp_path, isolated_home):
    with closing(sqlite3.connect(scored["db"])) as conn, conn:
        assert conn.execute("UPDATE sentences SET target = 'china' WHERE sentence = 0 AND target = 'eu'").rowcount
    line = one_error_line(run_stance("export", "--db", scored["db"], "--output", tmp_path / "out.csv"))
    assert "a recorded sentence is scored for a target its summary lacks" in line
    assert not (tmp_path / "out.csv").exists()


def test_since_after_until_is_refused_before_anything_is_written(scored, tmp_path):
    """Such a range keeps no dated article, only the undated ones: a typo, not a selection."""
    from stance.store import HistoryStore

    out = tmp_path / "o.csv"
    for command in (["export", "--db", scored["db"], "--output", out], ["drift", "--db", scored["db"]]):
        line = one_error_line(run_stance(*command, "--since", "2030-01-01", "--until", "2000-01-01"), code=2)
        assert "--since 2030-01-01 is after --until 2000-01-01" in line and "swap them" in line
    assert not out.exists()
    with HistoryStore(scored["db"], readonly=True) as store, pytest.raises(InputError, match=r"since \(2030-01-01\) is "
                                                                          "after until .* swap them"):
        store.articles(since="2030-01-01", until="2000-01-01")
    assert run_stance("export", "--db", scored["db"], "--output", out, "--since", "2024-01-01",
                      "--until", "2024-01-01").returncode == 0  # one day is a range


def test_a_guessed_date_is_said_to_be_one_where_drift_shows_its_article(tmp_path, isolated_home):
    guessed, stated = make_scores("a1", "2025-01-01", {"russia": 0.5}), make_scores("a2", "2025-02-01", {"russia": -0.5})
    guessed.date_source, stated.date_source = "inferred", "text"
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([guessed, stated])
    shown = run_stance("drift", "--db", db, "--by", "year", "--evidence", "--html", tmp_path / "d.html")
    assert shown.returncode == 0, shown.stderr
    assert "a1 · 2025-01-01 (inferred)" in shown.stdout and "2025-02-01 (inferred)" not in shown.stdout
    page = (tmp_path / "d.html").read_text("utf-8")
    data = json.loads(page.split('<script type="application/json" id="data">', 1)[1].split("</script>", 1)[0])
    items = data["periods"][0]["russia"]["evidence"]
    assert {i["article"]: i["date_source"] for side in ("favor", "against") for i in items[side]} == {
        "a1": "inferred", "a2": "text"}  # the page says "(inferred)" beside such a date
    report = json.loads(run_stance("drift", "--db", db, "--by", "year", "--json").stdout)
    assert set(report["periods"][0]["russia"]["evidence"]["favor"][0]) == {  # --json keeps its documented items
        "article", "date", "source", "title", "url", "index", "text", "proba"}
