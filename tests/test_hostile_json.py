"""JSON that Python's parser cannot take (nested too deeply, numbers of too many digits) and table cells
that must be read as written: every reader answers with one line naming the file and line, never a
traceback, and never hands such input to a library that crashes on it."""

from __future__ import annotations

import json
import shutil

import pytest

from stance.corpus import read_documents
from stance.errors import InputError, LabelFormatError, ModelIntegrityError

from conftest import REPO, one_error_line, run_stance

DEEP = "[" * 20_000 + "]" * 20_000  # deeper than Python's recursion limit; crashed pyarrow's JSON reader (SIGSEGV)
HUGE = "9" * 5_000  # more digits than Python converts to an int
ROW = {"article": "a", "sentence": 0, "text": "Serbia buys gas.", "russia": "favor", "eu": "none"}


def _label_file(path, bad_value: str):
    """A label file whose second row carries ``bad_value`` (raw JSON) in an extra field."""
    path.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "sentence": 1})[:-1] + f', "x": {bad_value}}}\n',
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("bad, why", [(DEEP, "nested too deeply"), (HUGE, "a number of more than 4300 digits")])
@pytest.mark.parametrize("command", [("labels", "check"), ("labels", "stats"), ("labels", "agreement", "{0}"),
                                     ("labels", "merge", "{2}", "--out", "{1}"), ("train", "--labels")])
def test_unreadable_json_in_label_files_is_one_line(tmp_path, isolated_home, command, bad, why):
    labels = _label_file(tmp_path / "labels.jsonl", bad)
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    args = [a.format(labels, tmp_path / "merged.jsonl", other) for a in command]
    line = one_error_line(run_stance(*args, labels, timeout=120), prefix="")
    assert f"{labels}:2: not valid JSON ({why})" in line


def test_unreadable_json_in_a_labeling_log_is_one_line(tmp_path, isolated_home):
    labels = _label_file(tmp_path / "mine.jsonl", DEEP)
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas. The EU objects.\n", encoding="utf-8")
    result = run_stance("label", article, "--labels", labels, stdin="q\n", timeout=120)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1] == f"error: {labels}:2: not valid JSON (nested too deeply); fix the line before labeling on"


def test_a_sentence_index_beyond_64_bits_is_refused_naming_the_line(tmp_path, isolated_home):
    labels = tmp_path / "labels.jsonl"
    labels.write_text(json.dumps(ROW) + "\n" + json.dumps({**ROW, "sentence": 10**30}) + "\n", encoding="utf-8")
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(ROW) + "\n", encoding="utf-8")
    for args in (("stats", labels), ("agreement", other, labels), ("merge", other, labels, "--out", tmp_path / "m.jsonl")):
        line = one_error_line(run_stance("labels", *args, timeout=120), prefix="")
        assert f"{labels}:2: 'sentence' must be an index of the article's sentences" in line


@pytest.mark.parametrize("bad, why", [(DEEP, "nested too deeply"), (HUGE, "a number of more than 4300 digits")])
def test_unreadable_json_in_tables_and_indexes_is_one_line(tmp_path, isolated_home, bad, why):
    table = tmp_path / "t.jsonl"
    table.write_text('{"text": "Serbia buys gas."}\n{"text": "Serbia sells gas.", "x": ' + bad + "}\n", encoding="utf-8")
    assert f"{table}:2: not valid JSON ({why}); fix or remove the line" in one_error_line(run_stance("score", table))
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia buys gas.\n", encoding="utf-8")
    (folder / "articles.jsonl").write_text('{"id": "a", "date": ' + bad + "}\n", encoding="utf-8")
    line = one_error_line(run_stance("score", folder))
    assert f"{folder / 'articles.jsonl'}:1: not valid JSON ({why})" in line


@pytest.mark.parametrize("bad", [DEEP, HUGE])
def test_unreadable_json_in_model_metadata_and_run_folders_is_one_line(tmp_path, isolated_home, bad):
    from stance.persist import read_metadata
    from stance.report import _read_predictions

    model = tmp_path / "model"
    model.mkdir()
    (model / "stance.json").write_text('{"format": ' + bad + "}", encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="corrupted metadata"):
        read_metadata(model)
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    assert "stance.json: corrupted metadata" in one_error_line(run_stance("score", article, "--model", model))
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text('{"targets": ' + bad + "}", encoding="utf-8")
    (run / "predictions.jsonl").write_text("", encoding="utf-8")
    line = one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))
    assert "metrics.json: cannot be read as an evaluation report" in line
    shutil.copy(REPO / "experiments" / "minilm-logreg" / "metrics.json", run / "metrics.json")
    shipped = (REPO / "experiments" / "minilm-logreg" / "predictions.jsonl").read_text(encoding="utf-8")
    (run / "predictions.jsonl").write_text(shipped.splitlines()[0] + "\n" + bad + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"predictions.jsonl:2: not a JSON line"):
        _read_predictions(run / "predictions.jsonl", {"seed_loao", "written_cv"}, ["russia", "eu"])
    assert "predictions.jsonl:2: not a JSON line" in one_error_line(run_stance("report", run, "--html", tmp_path / "r.html"))


# --- table cells are read as written ---------------------------------------------------------------


def test_csv_cells_are_text_as_written(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("id,text,source,title,date\n"
                     "007,Serbia buys gas.,NA,1.10,2025-01-01\n"
                     "7,Serbia sells gas.,N/A,007,\n"
                     "1e3,Vucic met Putin.,,TRUE,\n"
                     "NA,The EU objects.,nan,,\n", encoding="utf-8")
    docs = list(read_documents([table]))
    assert [(d.id, d.source, d.title, d.date) for d in docs] == [
        ("007", "NA", "1.10", "2025-01-01"), ("7", "N/A", "007", None), ("1e3", None, "TRUE", None), ("NA", "nan", None, None)]


def test_csv_row_with_more_fields_than_the_header_is_refused(tmp_path, isolated_home):
    table = tmp_path / "t.csv"
    table.write_text("id,text\na,Serbia buys gas.\nb,Serbia sells gas, says the EU.,extra\n", encoding="utf-8")
    line = one_error_line(run_stance("score", table))
    assert f"{table} row 2 (line 3): 4 fields, the header has 2; quote the fields that hold commas" in line


def test_jsonl_ids_are_taken_as_written(tmp_path):
    table = tmp_path / "t.jsonl"
    rows = [{"id": 1, "text": "a"}, {"id": "1.0", "text": "b"}, {"id": 2**63, "text": "c"}, {"id": 2**63 - 1, "text": "d"},
            {"id": 10**40, "text": "e"}, {"id": 10**40 + 1, "text": "f", "title": 5, "source": "007"}]
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    docs = list(read_documents([table]))
    assert [d.id for d in docs] == ["1", "1.0", str(2**63), str(2**63 - 1), str(10**40), str(10**40 + 1)]
    assert (docs[-1].title, docs[-1].source) == ("5", "007")


@pytest.mark.parametrize("row, message", [
    ('{"id": 2.5, "text": "x"}', "id is a JSON number with a fraction or an exponent, not a string or an integer"),
    ('{"id": ["a"], "text": "x"}', "id is a JSON array, not a string or an integer"),
    ('{"id": "b", "text": "x", "url": {"a": 1}}', "url is a JSON object, not a string or an integer"),
    ('{"id": "b", "text": 5}', "text is a JSON number, not a string"),
    ('{"id": "b", "text": ["a", "b"]}', "text is a JSON array, not a string"),
])
def test_jsonl_cells_of_the_wrong_kind_are_refused_naming_the_row(tmp_path, isolated_home, row, message):
    table = tmp_path / "t.jsonl"
    table.write_text('{"id": 1, "text": "Serbia buys gas."}\n\n' + row + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.jsonl row 2 \(line 3\): "):
        list(read_documents([table]))
    assert f"{table} row 2 (line 3): {message}" in one_error_line(run_stance("score", table))
