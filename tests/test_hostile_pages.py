"""The report and drift pages given what no `stance train` or `stance score` wrote: a file in the way of
--html or --plot, a run folder edited by hand, a history database edited by hand. One line each, and
nothing of the user's replaced."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3

import pytest

from stance.errors import InputError, StanceError
from stance.report import evaluation_page
from stance.store import HistoryStore

from conftest import REPO, make_scores, one_error_line, run_stance

RUN = REPO / "experiments" / "minilm-logreg"


@pytest.fixture
def run(tmp_path):
    """A copy of the shipped run folder, to edit."""
    folder = tmp_path / "run"
    folder.mkdir()
    for name in ("metrics.json", "predictions.jsonl"):
        shutil.copy(RUN / name, folder / name)
    return folder


@pytest.fixture
def history(tmp_path):
    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores(f"a{i}", f"2024-0{i + 1}-15", {"russia": 0.2 * i - 0.3, "eu": 0.1})
                      for i in range(4)])
    return db


def test_a_page_or_chart_replaces_its_own_kind_but_no_other_file(tmp_path, isolated_home, run, history):
    notes = tmp_path / "notes.txt"
    notes.write_text("precious notes\n", encoding="utf-8")
    other_db = tmp_path / "other.sqlite"
    shutil.copy(history, other_db)
    for args in (("report", run, "--html", notes), ("drift", "--db", history, "--html", other_db),
                 ("drift", "--db", history, "--plot", notes)):
        line = one_error_line(run_stance(*args))
        assert "is a file this command did not write" in line and "remove the file first" in line
    assert notes.read_text(encoding="utf-8") == "precious notes\n"
    assert other_db.read_bytes() == history.read_bytes()
    page, chart = tmp_path / "page.html", tmp_path / "chart.png"
    for _ in range(2):  # the second time over the first one's files
        assert run_stance("drift", "--db", history, "--by", "month", "--html", page, "--plot", chart).returncode == 0
        assert run_stance("report", run, "--html", tmp_path / "report.html").returncode == 0
    assert chart.read_bytes().startswith(b"\x89PNG") and page.read_text(encoding="utf-8").startswith("<!doctype html>")


def _edit_metrics(run, change):
    metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
    change(metrics)
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")


def _drop(d, *keys):
    for key in keys[:-1]:
        d = d[key]
    del d[keys[-1]]


@pytest.mark.parametrize("change, said", [
    (lambda m: m.update(evaluations={}), "holds no evaluation"),
    (lambda m: m.update(targets=[]), "its targets are not a list"),
    (lambda m: m.update(targets="russia"), "its targets are not a list"),
    (lambda m: m.update(targets=["russia", "russia"]), "its targets are not a list of distinct names"),
    (lambda m: m.update(targets=["china"]), "target 'china': no scores"),
    (lambda m: m.update(provenance=None), "its provenance is not an object"),
    (lambda m: _drop(m, "evaluations", "seed_loao", "targets", "eu", "tfidf"), "no scores of the TF-IDF"),
    (lambda m: m["evaluations"]["seed_loao"]["targets"]["eu"]["model"].update(confusion=[[1]]), "not 3 x 3 counts"),
    (lambda m: _drop(m, "evaluations", "written_cv", "description"), "'written_cv' lacks its description"),
])
def test_a_metrics_file_the_page_cannot_draw_is_refused(run, change, said):
    _edit_metrics(run, change)
    with pytest.raises(InputError, match=f"metrics.json: .*{said}.*re-run `stance train`"):
        evaluation_page(run)


def _score(plan, target, system, *path):
    def change(m):
        d = m["evaluations"][plan]["targets"][target][system]
        for key in path[:-2]:
            d = d[key]
        d[path[-2]] = path[-1]
    return change


@pytest.mark.parametrize("change, said", [
    (_score("seed_loao", "russia", "model", "macro_f1", 0.99), "the stance model's russia macro_f1 is 0.99, its "
                                                               "predictions give 0.74"),
    (_score("written_cv", "eu", "model", "per_class", "favor", "f1", "high"), "eu favor f1 is 'high'"),
    (_score("seed_loao", "eu", "tfidf", "accuracy", 0.5), "the TF-IDF 1-2-gram \\+ LogisticRegression's eu accuracy is 0.5"),
])
def test_a_score_its_predictions_do_not_give_is_refused_not_shown(run, change, said):
    _edit_metrics(run, change)
    with pytest.raises(InputError, match=f"predictions.jsonl and metrics.json disagree .*{said}"):
        evaluation_page(run)


@pytest.mark.parametrize("row, said", [
    ("null", "a NoneType, not an object"),
    ('{"plan": "elsewhere", "article": "a", "sentence": 0, "text": "t."}', "plan 'elsewhere'"),
    ('{"plan": "seed_loao", "article": "a", "sentence": 0, "text": "t.", '
     '"russia": {"gold": "favor", "predicted": "bogus", "proba": {"favor": 1, "against": 0, "none": 0}}}', "russia: not a gold"),
    ('{"plan": "seed_loao", "article": "a", "sentence": 0, "text": "t.", "eu": {"gold": "none", "predicted": "none"}}',
     "eu: not a gold"),
    ('{"plan": "seed_loao", "article": "a", "sentence": 0, "text": "\\udc00"}', "lone surrogate"),
])
def test_a_prediction_row_unlike_trains_is_refused_naming_its_line(run, row, said):
    with (run / "predictions.jsonl").open("a", encoding="utf-8") as handle:
        handle.write(row + "\n")
    lines = len((run / "predictions.jsonl").read_text(encoding="utf-8").splitlines())
    with pytest.raises(InputError, match=f"predictions.jsonl:{lines}: not a prediction of this run .*{said}"):
        evaluation_page(run)


@pytest.mark.parametrize("value, said", [
    ("-5", "russia: P(favor) is -5, not a probability from 0 to 1"),
    ("NaN", "russia: P(favor) is nan, not a probability"),
    ("1.5", "russia: P(favor) is 1.5, not a probability"),
    ("-Infinity", "russia: P(favor) is -inf, not a probability"),
    ("true", "russia: not a gold label, a predicted one and a probability per class"),
])
def test_a_prediction_whose_probability_is_no_probability_is_refused_naming_its_line(run, value, said):
    path = run / "predictions.jsonl"
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    assert '"proba": {"favor": 0.961302,' in first
    path.write_text(first.replace('"favor": 0.961302,', f'"favor": {value},', 1) + "\n" + rest, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(f"predictions.jsonl:1: not a prediction of this run ({said}")):
        evaluation_page(run)


def test_report_of_a_run_with_a_negative_probability_fails_in_one_line_and_writes_no_page(tmp_path, isolated_home, run):
    path = run / "predictions.jsonl"
    path.write_text(path.read_text(encoding="utf-8").replace('"favor": 0.961302,', '"favor": -5,', 1), encoding="utf-8")
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert "predictions.jsonl:1: not a prediction of this run (russia: P(favor) is -5, not a probability from 0 to 1)" in line
    assert not (tmp_path / "r.html").exists()


def test_drift_of_a_database_row_with_an_empty_id_tells_the_command_line_what_to_do(tmp_path, isolated_home, history):
    db = _tampered(history, tmp_path, "UPDATE articles SET article = '' WHERE article = 'a2'")
    line = one_error_line(run_stance("drift", "--db", db, "--by", "month"))
    assert "a stored article dated 2024-03-15 has an empty id" in line and "--since" in line
    assert "pass scored articles" not in line and "HistoryStore" not in line and "records[" not in line


def test_odd_names_and_escapes_in_a_run_folder_are_one_line_or_shown_escaped(tmp_path, isolated_home, run):
    text = (run / "metrics.json").read_text(encoding="utf-8")
    (run / "metrics.json").write_text(text.replace('"run": "', '"run": "\\ud800', 1), encoding="utf-8")
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "a.html"))
    assert "metrics.json: holds a lone surrogate escape" in line
    (run / "metrics.json").write_text(text, encoding="utf-8")
    table = tmp_path / "search\udcff.md"  # a name that is not UTF-8
    table.write_text("| a | b |\n|---|---|\n| 1 | 2 |\n", encoding="utf-8")
    page = evaluation_page(run, experiments=table)
    assert "search\\\\xff.md" in page  # the JSON string of the shown name
    page.encode("utf-8")


def _tampered(history, tmp_path, sql: str):
    db = tmp_path / "t.sqlite"
    shutil.copy(history, db)
    with sqlite3.connect(db) as conn:
        conn.execute(sql)
    conn.close()
    return db


@pytest.mark.parametrize("sql, said", [
    ("UPDATE articles SET summary = 'not json' WHERE article = 'a1'", "article a1: its recorded summary is not what"),
    ("UPDATE articles SET summary = '[1, 2]'", "its recorded summary is not what stance records"),
    ("UPDATE articles SET model = 'not json'", "its recorded model is not what stance records"),
    ("UPDATE articles SET n_sentences = 'abc' WHERE article = 'a2'", "article a2: its recorded summary or sentence count"),
    ("UPDATE sentences SET p_against = 'x'", "a recorded sentence holds a probability or index that is not a number"),
    ("UPDATE sentences SET text = CAST(X'41eda080' AS TEXT)", "holds text that is not UTF-8"),
    ("UPDATE articles SET summary = replace(summary, '\"eu\"', '\"period\"')", "target name 'period' is also a field"),
])
def test_a_history_database_edited_by_hand_is_one_line(tmp_path, isolated_home, history, sql, said):
    db = _tampered(history, tmp_path, sql)
    line = one_error_line(run_stance("drift", "--db", db, "--by", "month", "--html", tmp_path / "d.html"))
    assert said in line and ("--replace" in line or "field" in line)
    assert not (tmp_path / "d.html").exists()


def test_drift_of_records_with_a_summary_that_is_no_object_is_refused():
    from stance.drift import measure_drift

    good = {"article": "a", "date": "2024-01-01", "n_sentences": 3, "summary": {"russia": {"net": 0.1}}}
    with pytest.raises(StanceError, match="article b: its recorded summary or sentence count"):
        measure_drift([good, {**good, "article": "b", "summary": ["russia"]}], by="month")


def test_report_names_what_is_wrong_with_its_inputs_first(tmp_path, isolated_home, run):
    out = tmp_path / "out"
    out.mkdir()
    line = one_error_line(run_stance("report", run, "--html", out / "f.html", "--experiments", out))
    assert "(--experiments)" in line and "would overwrite" not in line
    huge = tmp_path / "huge.md"
    with huge.open("wb") as handle:
        handle.truncate(17 * 2**20)  # sparse: its size is what is checked, before any read
    assert "over 16 MB" in one_error_line(run_stance("report", run, "--html", out / "f.html", "--experiments", huge))
    line = one_error_line(run_stance("report", run / "metrics.json"))  # the run's own file, not its folder
    assert f"a file, not a run folder; give the folder that holds it, {run}" in line and "--html" not in line
    assert "a file, not a run folder" in one_error_line(run_stance("report", huge, "--html", out / "f.html"))
    assert not any(out.iterdir()) and not (run / "metrics.json" / "report.html").exists()
    loop = tmp_path / "loop"
    loop.symlink_to(tmp_path / "loop2")
    (tmp_path / "loop2").symlink_to(loop)
    for given in ([loop, "--html", out / "f.html"], [loop]):  # the run's fault, not the page's path
        line = one_error_line(run_stance("report", *given))
        assert f"{loop}: is a loop of symbolic links; give the folder" in line and "--html" not in line
    (run / "metrics.json").unlink()
    (run / "metrics.json").symlink_to(run / "metrics.json")
    assert "metrics.json: a loop of symbolic links" in one_error_line(run_stance("report", run, "--html", out / "f.html"))
