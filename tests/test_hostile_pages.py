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
SHIPPED = json.loads((RUN / "metrics.json").read_text(encoding="utf-8"))["evaluations"]


def _shipped_figure(plan, target, *path) -> str:
    """The shipped run's figure as its metrics state it, to five decimals: the page recomputes it from the
    predictions and names it whole, so these digits begin what it says, whichever run `make demo` made last."""
    value = SHIPPED[plan]["targets"][target]
    for key in path:
        value = value[key]
    return str(value)[:7]


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


@pytest.mark.parametrize("option, name, suffixes", [("--plot", "drift.svg", ".png"), ("--plot", "drift", ".png"),
                                                    ("--html", "drift.png", ".html or .htm")])
def test_a_chart_or_page_named_for_another_format_is_refused(tmp_path, isolated_home, run, history, option, name,
                                                             suffixes):
    line = one_error_line(run_stance("drift", "--db", history, option, tmp_path / name), code=2)
    assert line.endswith(f"give a file name ending in {suffixes}") and not (tmp_path / name).exists()
    if option == "--html":
        line = one_error_line(run_stance("report", run, "--html", tmp_path / name), code=2)
        assert "the page is written as HTML" in line and not (tmp_path / name).exists()
    # the suffix in any case
    assert run_stance("drift", "--db", history, "--plot", tmp_path / "a.PNG", "--html", tmp_path / "a.HTM").returncode == 0


def test_a_run_or_table_that_is_not_utf8_is_refused_not_shown_with_replacement_characters(tmp_path, isolated_home, run):
    table = tmp_path / "table.md"
    table.write_bytes(b"| a | b |\n|---|---|\n| \xff bad | x |\n")
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "a.html", "--experiments", table))
    assert line == f"error: {table}: not UTF-8 text; save it as UTF-8, or give another Markdown file"
    predictions = run / "predictions.jsonl"
    lines = predictions.read_bytes().split(b"\n")
    lines[2] = lines[2].replace(b'"text": "', b'"text": "\xff\xfe', 1)
    predictions.write_bytes(b"\n".join(lines))
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "b.html"))
    assert line == f"error: {predictions}:3: not UTF-8 text, as `stance train` writes it; re-run `stance train`"
    assert not (tmp_path / "a.html").exists() and not (tmp_path / "b.html").exists()


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
                                                               "predictions give "
                                                               + _shipped_figure("seed_loao", "russia", "model",
                                                                                 "macro_f1")),
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


def _first_favor_replaced(path, value: str) -> None:
    """Write ``value`` (JSON text) as the first prediction's Russia P(favor), whatever the shipped run holds there."""
    first, rest = path.read_text(encoding="utf-8").split("\n", 1)
    number = re.search(r'"russia": \{[^{}]*"proba": \{"favor": ([^,]+),', first)
    assert number is not None and 0 <= float(number.group(1)) <= 1
    path.write_text(first[:number.start(1)] + value + first[number.end(1):] + "\n" + rest, encoding="utf-8")


@pytest.mark.parametrize("value, said", [
    ("-5", "russia: P(favor) is -5, not a probability from 0 to 1"),
    ("NaN", "russia: P(favor) is nan, not a probability"),
    ("1.5", "russia: P(favor) is 1.5, not a probability"),
    ("-Infinity", "russia: P(favor) is -inf, not a probability"),
    ("true", "russia: not a gold label, a predicted one and a probability per class"),
])
def test_a_prediction_whose_probability_is_no_probability_is_refused_naming_its_line(run, value, said):
    _first_favor_replaced(run / "predictions.jsonl", value)
    with pytest.raises(InputError, match=re.escape(f"predictions.jsonl:1: not a prediction of this run ({said}")):
        evaluation_page(run)


def test_report_of_a_run_with_a_negative_probability_fails_in_one_line_and_writes_no_page(tmp_path, isolated_home, run):
    _first_favor_replaced(run / "predictions.jsonl", "-5")
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
    ("UPDATE sentences SET p_against = 'x'", "a recorded sentence has p_against 'x', not a number in [0, 1]"),
    ("UPDATE sentences SET text = CAST(X'41eda080' AS TEXT)", "holds text that is not UTF-8"),
    ("UPDATE articles SET summary = replace(summary, '\"eu\"', '\"period\"')", "target name 'period' is also a field"),
    # a count the drift table shows, which its sentences do not give
    ("UPDATE articles SET n_sentences = 999 WHERE article = 'a2'", "article a2: its recorded russia labels add up to 4, "
                                                                  "not its 999 sentences"),
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


def _edit_predictions(run, change):
    """Rewrite the run's predictions.jsonl after ``change(rows)`` (the shipped run's first row: seed_loao, russia)."""
    path = run / "predictions.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    change(rows)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


@pytest.mark.parametrize("change, said", [
    (lambda rows: rows[0].update(plan=["seed_loao"]), "predictions.jsonl:1: not a prediction of this run (plan ['seed_loao'] is"),
    (lambda rows: rows[0]["russia"].update(baselines=["tfidf"]), "predictions.jsonl:1: not a prediction of this run "
                                                                 "(russia: its baselines are not a label per baseline"),
    (lambda rows: rows[2]["eu"]["baselines"].update(tfidf="bogus"), "predictions.jsonl:3: not a prediction of this run "
                                                                    "(eu: its baselines are not a label"),
])
def test_a_prediction_whose_plan_or_baselines_are_no_name_is_one_line_not_a_traceback(tmp_path, isolated_home, run,
                                                                                        change, said):
    _edit_predictions(run, change)
    assert said in one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert not (tmp_path / "r.html").exists()


@pytest.mark.parametrize("change, said", [
    (_score("seed_loao", "russia", "tfidf", "per_class", [1, 2]),
     "target 'russia': no per-class scores of the TF-IDF 1-2-gram + LogisticRegression"),
    (_score("seed_loao", "russia", "majority", "per_class", {"favor": 5}), "no per-class scores of the majority class"),
    (_score("written_cv", "eu", "majority", "per_class", "favor", 5), "no per-class scores of the majority class"),
    (_score("seed_loao", "eu", "tfidf", "confusion", [[1]]), "the TF-IDF 1-2-gram + LogisticRegression's confusion "
                                                             "matrix is not 3 x 3 counts"),
])
def test_a_baselines_scores_are_read_as_the_models_are(tmp_path, isolated_home, run, change, said):
    _edit_metrics(run, change)
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert "metrics.json: " in line and said in line and "re-run `stance train`" in line


@pytest.mark.parametrize("change, said", [
    (_score("seed_loao", "russia", "model", "macro_f1_ci", [0.9, 0.99]),
     "the stance model's macro_f1_ci is [0.9, 0.99], which does not hold its macro_f1 0."),
    (_score("seed_loao", "eu", "majority", "f1_avg_ci", [0.5, 0.1]), "the majority class's f1_avg_ci is [0.5, 0.1], "
                                                                     "not a low and a high bound from 0 to 1"),
    (_score("written_cv", "russia", "tfidf", "macro_f1_ci", [-0.5, 1.5]), "macro_f1_ci is [-0.5, 1.5], not a low and "
                                                                          "a high bound from 0 to 1"),
    (_score("seed_loao", "russia", "gain_over_tfidf", "macro_f1_ci", "ab"), "the gain over TF-IDF's macro_f1_ci is 'ab'"),
    (_score("written_cv", "eu", "gain_over_tfidf", "f1_avg_ci", [0.2, 0.3]), "the gain over TF-IDF's f1_avg_ci is "
                                                                             "[0.2, 0.3], which does not hold its f1_avg"),
])
def test_an_interval_that_does_not_hold_its_score_is_refused(run, change, said):
    """A bootstrap interval cannot be recomputed; one that is out of order or range, or misses its point, is none."""
    _edit_metrics(run, change)
    with pytest.raises(InputError, match=f"metrics.json: evaluation .*{re.escape(said)}.*re-run `stance train`"):
        evaluation_page(run)


def _per_article(plan, target, change):
    def edit(m):
        change(m["evaluations"][plan]["targets"][target]["per_article"])
    return edit


def _gain(plan, target, key, value):
    def edit(m):
        gain = m["evaluations"][plan]["targets"][target]["gain_over_tfidf"]
        gain[key] = value
        gain.pop(f"{key}_ci")  # an interval holding the edited point would be refused before
    return edit


@pytest.mark.parametrize("change, said", [
    (_per_article("seed_loao", "russia", lambda d: d.update({a: 0.99 for a in d})),
     "seed_loao: the russia macro-F1 per article: article '000_abad3842fbdbf470' is 0.99, its predictions give "
     + _shipped_figure("seed_loao", "russia", "per_article", "000_abad3842fbdbf470")),
    (_per_article("written_cv", "eu", lambda d: d.pop("2012-05-31_nikolic-sworn-in-vows-to-keep-eu-course")),
     "written_cv: the eu macro-F1 per article: article '2012-05-31_nikolic-sworn-in-vows-to-keep-eu-course' is "
     "missing, though its predictions label"),
    (_per_article("seed_loao", "eu", lambda d: d.update(elsewhere=0.5)),
     "the eu macro-F1 per article: article 'elsewhere' is 0.5, with no labelled sentence of it"),
    (lambda m: m["evaluations"]["seed_loao"].update(n_articles=50), "seed_loao: its predictions are of 5 articles, "
                                                                    "its metrics count 50"),
    (_gain("seed_loao", "russia", "macro_f1", 0.5), "the russia gain over TF-IDF in macro_f1 is 0.5, model minus "
                                                    "TF-IDF gives 0."),
    (_gain("written_cv", "eu", "f1_avg", -0.2), "the eu gain over TF-IDF in f1_avg is -0.2, model minus TF-IDF gives 0."),
])
def test_a_per_article_score_article_count_or_gain_its_predictions_do_not_give_is_refused(tmp_path, isolated_home, run,
                                                                                          change, said):
    _edit_metrics(run, change)
    with pytest.raises(InputError, match=f"predictions.jsonl and metrics.json disagree \\(.*{re.escape(said)}"):
        evaluation_page(run)
    assert said in one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))


def test_a_baseline_missing_from_some_predictions_is_refused_from_all_it_is_not_checked(run):
    """Predictions that keep a baseline's labels in some rows only would switch off the check of its scores."""
    _edit_metrics(run, _score("seed_loao", "russia", "tfidf", "accuracy", 0.5))
    _edit_predictions(run, lambda rows: rows[0]["russia"].pop("baselines"))
    with pytest.raises(InputError, match=re.escape("predictions.jsonl:1: not a prediction of this run (russia: no label "
                                                   "of the majority class, which 93 other predictions of 'seed_loao' hold)")):
        evaluation_page(run)
    _edit_predictions(run, lambda rows: [row[t].pop("baselines", None) for row in rows for t in ("russia", "eu")])
    assert evaluation_page(run).startswith("<!doctype html>")  # as before: no labels, no check of the baselines


def test_an_overlong_prediction_line_or_metrics_file_is_refused_before_it_is_read(tmp_path, isolated_home, run):
    predictions = run / "predictions.jsonl"
    lines = len(predictions.read_text(encoding="utf-8").splitlines())
    with predictions.open("ab") as handle:
        handle.truncate(predictions.stat().st_size + 2 * 2**20)  # sparse: a line of 2 MiB of NULs
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert f"predictions.jsonl:{lines + 1}: a line over 1 MiB, not a prediction" in line and "re-run `stance train`" in line
    with (run / "metrics.json").open("ab") as handle:
        handle.truncate(17 * 2**20)
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert "metrics.json: over 16 MB, too large for an evaluation report" in line
    assert not (tmp_path / "r.html").exists()


def test_a_huge_model_metadata_file_is_refused_unread(tmp_path, isolated_home, monkeypatch):
    from stance.errors import ModelIntegrityError
    from stance.persist import read_metadata

    model = tmp_path / "model"
    model.mkdir()
    padded = json.dumps({"format": "stance-model", "format_version": 5, "pad": "x" * 2**20})
    (model / "stance.json").write_text(padded, encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=r"stance.json: over 1 MiB, not stance model metadata"):
        read_metadata(model)
    reads = []
    monkeypatch.setattr("pathlib.Path.read_text", lambda self, *a, **k: reads.append(self) or "")
    with pytest.raises(ModelIntegrityError, match="over 1 MiB"):
        read_metadata(model)
    assert reads == []  # never read whole
    monkeypatch.undo()
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    assert "stance.json: over 1 MiB, not stance model metadata" in one_error_line(
        run_stance("score", article, "--model", model))
