"""The library's other public names, given what a hurried user gives them: one StanceError, nothing of theirs lost."""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
from contextlib import closing

import pytest

import stance
from conftest import REPO, make_scores, write_corpus
from stance.errors import InputError, StanceError, StanceWarning, TextsError, ValueInputError
from stance.store import HistoryStore


def _report():
    return stance.measure_drift([make_scores("a", "2025-01-10", {"russia": 0.2, "eu": 0.1}),
                                 make_scores("b", "2025-02-10", {"russia": -0.1, "eu": 0.3})],
                                by="month", n_boot=10, n_perm=10)


def test_the_drift_chart_and_page_replace_only_what_they_wrote(tmp_path):
    db, notes = tmp_path / "h.sqlite", tmp_path / "notes.txt"
    with HistoryStore(db) as store:
        store.record([make_scores("a", "2025-01-10", {"russia": 0.2})])
    notes.write_text("mine\n")
    kept = {db: db.read_bytes(), notes: notes.read_bytes()}
    report = _report()
    for write in (stance.drift_plot.write_png, stance.drift_plot.write_html):  # reachable as the README names it
        for path in kept:
            with pytest.raises(StanceError, match="did not write"):
                write(report, path)
        with pytest.raises(InputError, match="report is dict, not a DriftReport"):
            write(report.to_dict(), tmp_path / "x")
    assert {path: path.read_bytes() for path in kept} == kept
    png, page = tmp_path / "d.png", tmp_path / "d.html"
    for _ in range(2):  # its own chart and page are replaced
        stance.drift_plot.write_png(report, png)
        stance.drift_plot.write_html(report, page)
    assert png.read_bytes().startswith(b"\x89PNG") and "<html" in page.read_text()[:200].lower()


def test_the_evaluation_page_never_replaces_its_run_files_or_a_users_file(tmp_path):
    from stance.report import write_evaluation_page

    run = tmp_path / "run"
    shutil.copytree(REPO / "experiments" / "minilm-logreg", run)
    (tmp_path / "notes.txt").write_text("mine\n")
    for name in ("metrics.json", "predictions.jsonl"):
        before = (run / name).read_bytes()
        with pytest.raises(StanceError, match="which this command reads"):
            write_evaluation_page(run, run / name)
        assert (run / name).read_bytes() == before
    with pytest.raises(StanceError, match="did not write"):
        write_evaluation_page(run, tmp_path / "notes.txt")
    assert (tmp_path / "notes.txt").read_text() == "mine\n"
    with pytest.raises(InputError, match="is not a path"):
        write_evaluation_page(None)


def test_label_files_given_as_a_generator_are_all_read(tmp_path):
    first, second = write_corpus(tmp_path / "a", prefix="a"), write_corpus(tmp_path / "b", prefix="b")
    listed = stance.load_labels([first, second])
    assert len(stance.load_labels(p for p in (first, second))) == len(listed) > 0
    with pytest.raises(StanceError, match="paths and articles are paths"):
        stance.load_labels(5)
    with pytest.raises(InputError, match="a label file None: is not a path"):
        stance.load_labels([None])


def test_a_label_row_whose_article_id_is_too_long_for_a_file_name_is_read(tmp_path):
    labels = tmp_path / "labels.jsonl"
    url = "https://example.com/" + "a" * 300
    labels.write_text(f'{{"article": "{url}", "sentence": 0, "text": "Serbia signs.", "russia": "none", "eu": "none"}}\n')
    with pytest.warns(StanceWarning, match="not checked against the splitter for 1 article"):  # not found: said
        assert stance.load_labels(labels)["article"] == [url]


def test_record_refuses_two_texts_under_one_id_and_what_is_not_a_result(tmp_path):
    one, other = make_scores("same", "2025-01-10", {"russia": 0.2}), make_scores("same", "2025-01-10", {"russia": 0.2})
    other = dataclasses.replace(other, content_sha256="0" * 64)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        with pytest.raises(InputError, match="article id 'same' .* is given twice with different texts"):
            store.record([one, other])
        for given, says in [(one, "not one ArticleScores; pass \\[result\\]"), (None, "not one NoneType"),
                            ([None], "not NoneType"), (["abc"], "not str")]:
            with pytest.raises(TextsError, match=says):
                store.record(given)
        assert store.articles() == []  # nothing half-written
        assert store.record([one, one]) == 1 == len(store.articles())  # the same text twice is one article, counted once


def test_selections_take_one_source_as_one_and_refuse_what_is_no_date(tmp_path):
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("a", "2025-01-10", {"russia": 0.2}, source="s1"),
                      make_scores("b", "2025-03-10", {"russia": 0.2}, source="s12")])
        assert [a["article"] for a in store.articles(sources="s1")] == ["a"]
        assert [a["article"] for a in store.articles(since="10.02.2025")] == ["b"]  # a written date is a date
        assert store.articles(model_id="_1") == [] and len(store.articles(model_id="m")) == 2  # a prefix, not LIKE
        for setting, says in [({"since": 20250301}, "since is 20250301"), ({"until": "garbage"}, "until: 'garbage'"),
                              ({"sources": 5}, "sources is 5"), ({"model_id": ["m1"]}, "model_id is \\['m1'\\]"),
                              ({"sources": [""]}, "sources holds '', which names no source"),
                              ({"sources": ["s1", " "]}, "sources holds ' ', which names no source")]:
            with pytest.raises(InputError, match=says):
                store.articles(**setting)
            with pytest.raises(InputError, match=says):
                stance.export_sentences(tmp_path / "out.csv", db=db, **setting)
    assert not (tmp_path / "out.csv").exists()


def test_read_documents_passes_over_a_folder_named_like_an_article_and_names_what_is_no_path(tmp_path):
    (tmp_path / "one.txt").write_text("Serbia signs.\n")
    (tmp_path / "old.txt").mkdir()
    (tmp_path / "old.txt" / "two.txt").write_text("Serbia waits.\n")
    assert sorted(d.id for d in stance.read_documents(tmp_path)) == ["one", "two"]
    for given, says in [(5, "inputs is int"), ([None], "an input is NoneType, not a path"),
                        ("", "an input is '', an empty path"), ([tmp_path, " "], "an input is ' ', an empty path"),
                        (b"", "an input is '', an empty path")]:
        with pytest.raises(InputError, match=says):
            list(stance.read_documents(given))
    with pytest.raises(InputError, match="date: 'garbage' is not a date"):
        list(stance.read_documents(tmp_path, date="garbage"))
    assert {d.date for d in stance.read_documents(tmp_path, date="29.05.2025")} == {"2025-05-29"}


def test_articles_scored_for_other_targets_are_named_not_a_key_error():
    scores = [make_scores("x", "2024-01-01", {"russia": 0.1}), make_scores("y", "2024-02-01", {"eu": 0.1})]
    with pytest.raises(StanceError, match="article .* was not scored for target"):
        stance.stance_over_time(scores, by="month")
    assert stance.measure_drift(scores[:1], by="month", n_boot=10, n_perm=10).targets == ["russia"]


def test_the_database_stays_whole_after_a_refused_record(tmp_path):
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("a", "2025-01-10", {"russia": 0.2})])
        with pytest.raises(InputError):
            store.record([make_scores("b", None, {"russia": 0.1}),
                          dataclasses.replace(make_scores("b", None, {"russia": 0.1}), content_sha256="1" * 64)])
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert [r[0] for r in conn.execute("SELECT article FROM articles")] == ["a"]


def test_a_closed_store_says_so_and_a_home_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    store = HistoryStore("~/h.sqlite")
    assert store.path == tmp_path / "h.sqlite"
    store.close()
    with pytest.raises(StanceError, match="this HistoryStore was closed; open it again"):
        store.articles()
    with pytest.raises(InputError, match="is not a path"):
        HistoryStore(5)


def test_outputs_and_inputs_that_are_no_path_are_named_and_home_is_expanded(tmp_path, monkeypatch):
    from stance.evaluation import EvaluationReport

    monkeypatch.setenv("HOME", str(tmp_path))
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores("a", "2025-01-10", {"russia": 0.2})])
        with pytest.raises(InputError, match="results None: is not a path"):
            store.record_results(None)
    assert stance.export_sentences(tmp_path / "out.csv", db="~/h.sqlite") == 4  # one article, four sentences
    for call, says in [(lambda: stance.export_sentences(None), "--output None: is not a path"),
                       (lambda: stance.export_sentences(tmp_path / "a\0b.csv"), "holds a NUL character"),
                       (lambda: EvaluationReport(targets=["russia"]).write(None), "the report folder None: is not")]:
        with pytest.raises(InputError, match=says):
            call()


def _sentence(i: int, text: str, proba: dict, label: str = "favor") -> dict:
    return {"index": i, "text": text, "russia": {"label": label, "proba": proba}}


@pytest.mark.parametrize("change, says", [
    ({"model": {}}, "name no model id"),
    ({"article": 5}, "a result's article id is 5"),
    ({"date": "garbage"}, "have date 'garbage'; give a date as YYYY-MM-DD"),
    ({"date": "2025/01/10"}, "have date '2025/01/10'"),
    ({"date": 20250110}, "have a date of type int"),
    ({"date_source": "guess"}, "have date_source 'guess'"),
    ({"content_sha256": None}, "no content_sha256"),
    ({"summary": [1]}, "its summary is not an object of targets"),
    ({"sentences": None}, "cannot be written"),
    ({"sentences": [_sentence(0, "x", {"favor": 0.8, "against": 0.1, "none": 0.1}, label="maybe")]},
     "sentence 0 has label 'maybe' for 'russia', not one of favor, against, none"),
    ({"sentences": [_sentence(0, "x", {"favor": 1.8, "against": 0.1, "none": 0.1})]}, "P\\(favor\\) 1.8"),
    ({"sentences": [_sentence(0, "Beograd\udce9", {"favor": 0.8, "against": 0.1, "none": 0.1})]},
     "sentence 0 holds half a surrogate pair"),
])
def test_a_result_made_by_hand_is_refused_whole_by_the_store_and_the_results_folder(tmp_path, change, says):
    from stance.results import ResultsFolder, result_parts

    good = make_scores("a", "2025-01-10", {"russia": 0.2})
    bad = dataclasses.replace(make_scores("b", "2025-01-10", {"russia": 0.2}), **change)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        with pytest.raises(StanceError, match=says):
            store.record([good, bad])
        assert store.articles() == []  # the good one is not half-kept either
    folder = ResultsFolder(tmp_path / "results", "m1")
    with pytest.raises(StanceError, match=says):
        folder.write([good, bad])
    folder.write([good])  # the folder still reads, and takes a sound result
    assert [p.name for p in result_parts(tmp_path / "results")] == ["part-00000.parquet"]


@pytest.mark.parametrize("article", ["-", "", "  "])
def test_a_result_without_an_id_of_its_own_is_refused_not_stored_over_another(tmp_path, article):
    """score_article names an article "-" unless given an id: five such results once kept only the last."""
    from stance.results import ResultsFolder

    kept = dataclasses.replace(make_scores("x", "2025-01-10", {"russia": 0.2}), article=article)
    with HistoryStore(tmp_path / "h.sqlite") as store:
        with pytest.raises(ValueInputError, match=f"article id is {article!r}, which names no article: .*article_id="):
            store.record([make_scores("y", "2025-01-11", {"russia": -0.2}), kept])
        assert store.articles() == []
    with pytest.raises(ValueInputError, match="names no article"):
        ResultsFolder(tmp_path / "results", "m1").write([kept])


def test_a_drift_report_edited_by_hand_is_named_before_drawing(tmp_path):
    report = dataclasses.replace(_report(), by="day")
    for write in (stance.drift_plot.write_png, stance.drift_plot.write_html):
        with pytest.raises(InputError, match="report by 'day' .* is not one measure_drift made"):
            write(report, tmp_path / "d.out")
    assert list(tmp_path.iterdir()) == []
    for draw in (stance.drift_plot.drift_png, stance.drift_plot.html_report):
        with pytest.raises(InputError, match="report by 'day' .* is not one measure_drift made"):
            draw(report)
        with pytest.raises(InputError, match="report by 'month' with NoneType periods"):
            draw(dataclasses.replace(_report(), periods=None))


def test_counts_are_whole_numbers_everywhere_numpy_integers_included():
    import numpy as np

    records = [make_scores("a", "2025-01-10", {"russia": 0.2}), make_scores("b", "2025-02-10", {"russia": -0.1})]
    assert stance.measure_drift(records, by="month", n_boot=np.int64(10), n_perm=np.int32(10)).by == "month"
    for given in (True, 0, 2.0, "10"):
        with pytest.raises(stance.errors.ValueInputError, match=f"n_boot is {given!r}; give a whole number, 1 or more"):
            stance.measure_drift(records, by="month", n_boot=given)
    with pytest.raises(ValueError, match="batch_articles is 0; give a whole number of articles, 1 or more"):
        list(stance.score_documents(object(), [], batch_articles=0))
