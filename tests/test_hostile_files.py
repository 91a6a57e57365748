"""Files a user gives or names by mistake: each refused in one line, and nothing of theirs changed or deleted."""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time

import joblib
import numpy as np
import pytest

from conftest import one_error_line, run_stance, write_corpus, write_metadata
from conftest import SaveableHashingEncoder as Saveable

# --- outputs that would replace what is not ours -----------------------------------------------------


def test_distill_refuses_a_folder_that_holds_other_files_before_distilling(tmp_path, isolated_home):
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.md").write_text("keep me\n", encoding="utf-8")
    line = one_error_line(run_stance("distill", "--out", folder, timeout=60))
    assert "holds files that replacing it would delete" in line
    assert [p.name for p in folder.iterdir()] == ["chapter1.md"]


def test_distill_never_replaces_a_static_model_folder_holding_more_or_its_source(tmp_path, isolated_home):
    static = tmp_path / "static"
    static.mkdir()
    (static / "config.json").write_text('{"model_type": "model2vec"}', encoding="utf-8")
    (static / "model.safetensors").write_bytes(b"\0" * 64)
    (static / "tokenizer.json").write_text("{}", encoding="utf-8")
    line = one_error_line(run_stance("distill", "--out", static, "--source", static, timeout=60))
    assert f"holds {static}, which this command reads" in line
    (static / "notes.md").write_text("keep me\n", encoding="utf-8")
    line = one_error_line(run_stance("distill", "--out", static, timeout=60))
    assert "holds files that replacing it would delete" in line
    assert sorted(p.name for p in static.iterdir()) == ["config.json", "model.safetensors", "notes.md", "tokenizer.json"]


def test_merge_refuses_to_overwrite_an_existing_file_unless_told(tmp_path, isolated_home):
    first, second = write_corpus(tmp_path / "a"), write_corpus(tmp_path / "b")
    mine = tmp_path / "mine.jsonl"
    mine.write_text('{"article": "x", "sentence": 0, "text": "kept", "russia": "none", "eu": "none"}\n', encoding="utf-8")
    before = mine.read_bytes()
    line = one_error_line(run_stance("labels", "merge", first, second, "--out", mine))
    assert "exists and would be overwritten" in line and "--replace" in line and mine.read_bytes() == before
    replaced = run_stance("labels", "merge", first, second, "--out", mine, "--replace")
    assert replaced.returncode == 0, replaced.stderr
    assert len(mine.read_text(encoding="utf-8").splitlines()) == len(first.read_text(encoding="utf-8").splitlines())


def test_merge_refuses_files_that_split_an_article_differently(tmp_path, isolated_home):
    first = write_corpus(tmp_path / "a")
    second = tmp_path / "b.jsonl"
    rows = [json.loads(line) for line in first.read_text(encoding="utf-8").splitlines()]
    rows[1]["text"] = "Another sentence at the same index."
    second.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    line = one_error_line(run_stance("labels", "merge", first, second, "--out", tmp_path / "m.jsonl"), prefix="")
    assert "sentence 1 differs from" in line and not (tmp_path / "m.jsonl").exists()


def test_cache_clear_keeps_a_file_named_like_a_database(tmp_path, isolated_home):
    notes = tmp_path / "important.db"
    notes.write_text("field notes\n", encoding="utf-8")
    line = one_error_line(run_stance("cache", "clear", env={"STANCE_CACHE": str(notes)}))
    assert "not an SQLite file" in line and notes.read_text(encoding="utf-8") == "field notes\n"


def test_a_chart_through_a_dangling_link_makes_no_folders(tmp_path, isolated_home):
    from stance.fileio import atomic_write_bytes
    from stance.paths import OutputPathError

    link = tmp_path / "chart.png"
    link.symlink_to(tmp_path / "nowhere" / "deeper" / "chart.png")
    with pytest.raises(OutputPathError, match="a symbolic link into a folder that does not exist"):
        atomic_write_bytes(link, b"png")
    assert not (tmp_path / "nowhere").exists()
    atomic_write_bytes(tmp_path / "made" / "chart.png", b"png")  # the path given still gets its folders
    assert (tmp_path / "made" / "chart.png").read_bytes() == b"png"


def test_recording_a_file_says_it_wants_a_results_folder(tmp_path, isolated_home):
    article = tmp_path / "art.txt"
    article.write_text("Serbia signs.\n", encoding="utf-8")
    line = one_error_line(run_stance("record", article, "--db", tmp_path / "h.sqlite"))
    assert "a file, not a results folder" in line and not (tmp_path / "h.sqlite").exists()


def test_a_name_too_long_for_the_file_system_is_one_line(tmp_path, isolated_home):
    long = tmp_path / ("x" * 300) / "history.sqlite"
    line = one_error_line(run_stance("drift", "--db", long))
    assert "File name too long" in line and "give a shorter path" in line


# --- label files and tables with values no file can hold ---------------------------------------------


@pytest.mark.parametrize("row, message", [
    ('{"article": "a", "sentence": 0, "text": "x\\udc00", "russia": "none", "eu": "none"}', "lone surrogate"),
    ('{"article": "a", "sentence": 0, "text": "x", "russia": "none", "eu": "none", "annotator": ["x"]}',
     "'annotator' must be a name"),
    ('{"article": "a", "sentence": true, "annotator": "ana", "undone": true}', "an undo row needs"),
])
def test_label_rows_no_tool_can_use_are_named(tmp_path, isolated_home, row, message):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"article": "a", "sentence": 1, "text": "y", "russia": "none", "eu": "none"}\n' + row + "\n",
                    encoding="utf-8")
    for command in (("labels", "stats"), ("labels", "check")):
        line = one_error_line(run_stance(*command, path), prefix="")
        assert f"{path}:2" in line and message in line, command


def test_a_surrogate_pair_escape_is_text(tmp_path, isolated_home):
    path = tmp_path / "labels.jsonl"
    path.write_text('{"article": "a", "sentence": 0, "text": "x \\ud83d\\ude00", "russia": "none", "eu": "none"}\n',
                    encoding="utf-8")
    result = run_stance("labels", "stats", path)
    assert result.returncode == 0 and "1 rows" in result.stdout, result.stderr


def test_an_articles_folder_that_is_not_one_is_refused(tmp_path, isolated_home):
    labels = write_corpus(tmp_path / "corpus")
    for articles, problem in ((tmp_path / "nope", "no such folder"), (labels, "not a folder")):
        line = one_error_line(run_stance("labels", "check", labels, "--articles", articles), prefix="")
        assert f"--articles {articles}: {problem}" in line


@pytest.mark.parametrize("line, message", [
    ('{"id": "x\\ud800", "text": "Serbia signs."}', "lone surrogate"),
    ('{"id": "x", "text": "' + "a" * 800_000 + '"}', "a line over"),
])
def test_table_lines_no_article_can_be_are_refused_before_scoring(tmp_path, isolated_home, line, message):
    table = tmp_path / "table.jsonl"
    table.write_text(line + "\n", encoding="utf-8")
    refused = one_error_line(run_stance("score", table, "--model", tmp_path / "no-model",
                                        env={"STANCE_MAX_ARTICLE_MB": "0.1"}))
    assert message in refused


def _last_error_line(result) -> str:
    """The error line that ends a refused labeling session (after the note that no model is trained yet)."""
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: "), result.stderr
    return last


@pytest.mark.parametrize("ids, kind", [([["a"], ["b"]], "lists or records"), ([True, False], "bool")])
def test_parquet_ids_json_lines_would_refuse_are_refused(tmp_path, isolated_home, ids, kind):
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = tmp_path / "table.parquet"
    pq.write_table(pa.table({"id": ids, "text": ["Serbia signs.", "Serbia waits."]}), table)
    line = one_error_line(run_stance("score", table, "--model", tmp_path / "no-model"))
    assert f"column id holds {kind}, not text or whole numbers" in line


def test_a_date_with_a_time_that_is_none_is_refused(tmp_path, isolated_home):
    table = tmp_path / "table.jsonl"
    for stamp in ("2024-01-01T25:99", "2024-01-01T24:59"):  # 24:00 ends a day; 24:59 is on no clock
        table.write_text(f'{{"id": "a", "date": "{stamp}", "text": "Serbia signs."}}\n', encoding="utf-8")
        line = one_error_line(run_stance("score", table, "--model", tmp_path / "no-model"))
        assert f"'{stamp}' is not a date" in line
    from stance.dates import parse_date

    for stamp in ("2024-01-05 10:00:00 UTC", "2024-01-05T10:00:00+01:00[Europe/Belgrade]", "2024-01-05T24:00:00",
                  "2024-01-05 1:05", "2024-01-05T"):  # what exporters write after the day is not read
        assert parse_date(stamp) == "2024-01-05", stamp


@pytest.mark.parametrize("kind", ["dangling link", "link loop"])
def test_a_model_folder_given_as_a_broken_link_is_named_so_not_as_no_model(tmp_path, isolated_home, kind):
    """"Run stance train first" would send the user to train a model that exists elsewhere."""
    _NO_FILE[kind](tmp_path / "model")
    for command in (["score", "-"], ["label", tmp_path / "a.txt", "--labels", tmp_path / "l.jsonl"]):
        (tmp_path / "a.txt").write_text("Serbia buys gas.\n", encoding="utf-8")
        line = one_error_line(run_stance(*command, "--model", tmp_path / "model", stdin="Serbia buys gas.\n"))
        said = "a loop of symbolic links" if kind == "link loop" else f"a symbolic link to {tmp_path / 'gone'}"
        assert f"model: is {said}" in line and "run `stance train` first" not in line, line
    line = one_error_line(run_stance("score", "-", "--model", tmp_path / "model" / "inner", stdin="Serbia buys gas.\n"))
    assert f"inner: lies in {tmp_path / 'model'}, {said}" in line
    assert not (tmp_path / "l.jsonl").exists()


def test_a_backend_typo_or_a_missing_model_leaves_no_database_behind(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia signs.\n", encoding="utf-8")
    db = tmp_path / "new.sqlite"
    line = one_error_line(run_stance("score", article, "--record", "--db", db, "--backend", "onxx"))
    assert "backend 'onxx'" in line and not db.exists()
    line = one_error_line(run_stance("score", article, "--record", "--db", db, "--model", tmp_path / "no-model"))
    assert "no trained model at" in line and not db.exists()
    line = one_error_line(run_stance("score", article, "--record", "--db", db, "--model", tmp_path / "no-model",
                                     "--engine", "ray", "--output", tmp_path / "out"))
    assert "no trained model at" in line and not db.exists()


def test_labeling_refuses_a_stream_that_is_not_answers(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\nVucic met Putin.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    line = _last_error_line(run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="\0" * 5000))
    assert "stdin is not answers" in line
    line = _last_error_line(run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="n" * 5000))
    assert "stdin is not answers" in line and not out.exists()  # made when the questions start, removed unanswered


def test_an_answer_line_of_the_longest_length_ending_in_crlf_is_one_answer(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    result = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="x" * 1024 + "\r\nq\n")
    assert result.returncode == 0, result.stderr
    assert not out.exists() or not out.read_text(encoding="utf-8").strip()  # no empty line taken as the guess


def test_a_labeling_log_row_without_a_sentence_is_named(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    out.write_text('{"article": "a", "annotator": "ana"}\n', encoding="utf-8")
    line = _last_error_line(run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="n\n"))
    assert f"{out}:1" in line and "integer 'sentence'" in line


@pytest.mark.parametrize("foreign", [
    '{"article": "a", "date": null, "model": {"id": "m1"}, "sentences": [], "summary": {}}\n',  # score --json, no index
    '{"a": 1}\n',
    '[1, 2]\n',
])
def test_labeling_never_appends_to_a_json_lines_file_that_is_no_label_file(tmp_path, isolated_home, foreign):
    """A `stance score --json` output or any other JSON Lines file given as --labels is refused, byte for byte kept."""
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    out = tmp_path / "scores.jsonl"
    out.write_text(foreign, encoding="utf-8")
    line = _last_error_line(run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="f\nn\n",
                                       env={"STANCE_MODEL": str(tmp_path / "no-model")}))
    assert f"{out}:1" in line and "not a label file" in line
    assert out.read_text(encoding="utf-8") == foreign


def test_labeling_keeps_a_file_that_declares_its_targets_first(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    out.write_text('{"targets": ["russia", "eu"]}\n', encoding="utf-8")
    result = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="f\nn\n",
                        env={"STANCE_MODEL": str(tmp_path / "no-model")})
    assert result.returncode == 0, result.stderr
    assert [json.loads(row)["russia"] for row in out.read_text(encoding="utf-8").splitlines()[1:]] == ["favor"]


@pytest.mark.parametrize("name, said", [("  ", "not blank"), ("a\nb", "not blank"), ("ana\x1b[31m", "not blank"),
                                        # `labels agreement --annotators A,B` splits at commas and strips
                                        ("Smith, J", "without a comma or spaces at its ends"),
                                        (" bo", "without a comma or spaces at its ends"),
                                        ("bo ", "without a comma or spaces at its ends")])
def test_an_annotator_name_that_is_blank_not_one_line_or_not_nameable_in_agreement_is_refused(tmp_path, isolated_home,
                                                                                                name, said):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys gas.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    line = _last_error_line(run_stance("label", article, "--labels", out, "--annotator", name, stdin="f\nn\n"))
    assert "--annotator" in line and said in line and not out.exists()


# --- model folders whose files match their hashes but not their kind ---------------------------------


@pytest.fixture
def saved_model(tmp_path):
    from stance.model import StanceClassifier

    texts = ["Serbia buys Russian gas.", "Belgrade cancels Russian arms contracts.", "The parade lasted two hours.",
             "Vucic praises Putin.", "Serbia sells shells to Ukraine.", "Montenegro opened new chapters."]
    y = [["favor"], ["against"], ["none"], ["favor"], ["against"], ["none"]]
    # without renamed copies: its copy weight recorded as 1.0, a whole number another tool may write as 1
    model = StanceClassifier(encoder=Saveable(cache=False), targets=("russia",), Cs=(1.0,), calibrate=False,
                             abstain=False, renamed_copies=False).fit(texts, y)
    return model.save(tmp_path / "model")


def _rehash(folder) -> None:
    from stance.fileio import sha256_file

    meta = json.loads((folder / "stance.json").read_text(encoding="utf-8"))
    meta["head"]["sha256"] = sha256_file(folder / "head.joblib")
    write_metadata(folder, meta)


@pytest.mark.parametrize("head, message", [
    (b"", "cannot be read as a head file"),
    (b"not a pickle at all", "cannot be read as a head file"),
    ("vectorizer", "n-gram vectorizer is str"),
])
def test_a_head_file_with_its_hash_updated_that_is_no_head_is_refused(saved_model, head, message):
    from stance.errors import ModelIntegrityError
    from stance.model import load_model

    path = saved_model / "head.joblib"
    if head == "vectorizer":
        stored = joblib.load(path)
        stored["vectorizer"] = "not a vectorizer"
        joblib.dump(stored, path)
    else:
        path.write_bytes(head)
    _rehash(saved_model)
    with pytest.raises(ModelIntegrityError, match=message):
        load_model(saved_model, encoder=Saveable())


def test_a_setting_of_four_hundred_digits_is_refused(saved_model):
    from stance.errors import ModelIntegrityError
    from stance.persist import read_metadata

    meta_path = saved_model / "stance.json"
    text = meta_path.read_text(encoding="utf-8")
    meta = json.loads(text)
    meta["encoder"]["batch_size"] = 64
    meta_path.write_text(json.dumps(meta).replace('"batch_size": 64', '"batch_size": 1' + "0" * 400), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="batch_size"):
        read_metadata(saved_model)


@pytest.mark.parametrize("edit", ["threshold", "classes", "question rule", "versions deleted", "provenance",
                                  "date"])
def test_a_hand_edited_setting_is_refused_not_half_applied(saved_model, edit):
    """A threshold or class edited by hand would show in the model's settings but not in its scores."""
    from stance.errors import ModelIntegrityError
    from stance.persist import read_metadata

    meta_path = saved_model / "stance.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    if edit == "threshold":
        meta["head"]["params"]["russia"]["threshold"] = 0.9
    elif edit == "classes":
        meta["classes"]["russia"] = ["pro", "anti", "neutral"]
    elif edit == "question rule":
        meta["features"]["question_rule"] = not meta["features"]["question_rule"]
    elif edit == "versions deleted":
        del meta["versions"]
    elif edit == "provenance":
        meta["training"] = {"labels_sha256": "0" * 64}
    else:
        meta["created"] = "2020-01-01T00:00:00+00:00"
    meta_path.write_text(json.dumps(meta, indent=2), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match="fields differ from the ones saved with the model.*retrain"):
        read_metadata(saved_model)


def test_a_sealed_file_moves_its_encoder_and_an_older_unsealed_file_still_reads(saved_model):
    from stance.errors import ModelIntegrityError
    from stance.model import load_model
    from stance.persist import SEAL_KEY, read_metadata

    meta_path = saved_model / "stance.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    expected = load_model(saved_model, encoder=Saveable()).predict_proba(["Vucic praises Putin."])
    meta["encoder"]["path"] = "/somewhere/the/encoder/moved"  # its weights' SHA-256 still tells whether it is the same
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    assert read_metadata(saved_model)["encoder"]["path"] == "/somewhere/the/encoder/moved"
    del meta[SEAL_KEY]
    meta_path.write_text(json.dumps(meta), encoding="utf-8")
    with pytest.raises(ModelIntegrityError, match=f'"{SEAL_KEY}" is missing'):
        read_metadata(saved_model)
    write_metadata(saved_model, meta, older=True)  # saved before the seal: read as it is
    older = load_model(saved_model, encoder=Saveable()).predict_proba(["Vucic praises Putin."])
    np.testing.assert_array_equal(older[0], expected[0])


def test_a_sealed_file_written_again_by_another_tool_is_accepted_and_a_seal_is_never_left_empty(saved_model):
    from functools import reduce

    from stance.errors import StanceError
    from stance.model import load_model
    from stance.persist import read_metadata

    meta_path = saved_model / "stance.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["features"]["copy_weight"] == 1.0 and isinstance(meta["features"]["copy_weight"], float)

    def as_jq_writes(value):  # jq and JavaScript write a whole float without its ".0", and keys in their own order
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, dict):
            return {key: as_jq_writes(value[key]) for key in sorted(value, reverse=True)}
        return [as_jq_writes(item) for item in value] if isinstance(value, list) else value

    meta_path.write_text(json.dumps(as_jq_writes(meta), indent=4), encoding="utf-8")
    assert read_metadata(saved_model)["features"]["copy_weight"] == 1
    model = load_model(saved_model, encoder=Saveable())
    deep = reduce(lambda inner, _: [inner], range(990), 1)
    with pytest.raises(StanceError, match="nested too deeply to be saved"):
        model.save(saved_model.parent / "deep", note=deep)
    assert not (saved_model.parent / "deep").exists()


def test_an_unreadable_head_file_is_named(saved_model, monkeypatch):
    from stance.errors import ModelIntegrityError
    from stance.model import load_model

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("stance.persist.sha256_file", refuse)
    with pytest.raises(ModelIntegrityError, match="cannot be read .Permission denied.; check its permissions"):
        load_model(saved_model, encoder=Saveable())
    assert os.path.exists(saved_model / "head.joblib")


def test_a_report_page_holds_a_metric_that_is_not_a_number_as_null():
    from stance.pages import embed_json

    assert embed_json({"macro_f1": float("nan"), "interval": [0.5, float("inf")], "text": "</script>"}) == (
        '{"macro_f1": null, "interval": [0.5, null], "text": "\\u003c/script\\u003e"}')


def test_an_article_index_that_is_not_utf8_is_named(tmp_path, isolated_home):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia signs.\n", encoding="utf-8")
    (folder / "articles.jsonl").write_bytes(b'\xff\xfe{"id": "a"}\n')
    line = one_error_line(run_stance("score", folder, "--model", tmp_path / "no-model"))
    assert "articles.jsonl: not UTF-8" in line


def test_labeling_without_stdin_or_a_name_says_what_to_do(tmp_path, isolated_home):
    import subprocess

    from conftest import stance_script

    article = tmp_path / "a.txt"
    article.write_text("Serbia signs.\n", encoding="utf-8")
    closed = subprocess.run(f"{stance_script()} label {article} --labels {tmp_path / 'm.jsonl'} --annotator ana <&-",
                            shell=True, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert "stdin is closed" in closed.stderr and "Traceback" not in closed.stderr and closed.returncode == 1
    nameless = subprocess.run(["setpriv", "--reuid", "54321", "--regid", "54321", "--clear-groups", stance_script(),
                               "label", str(article), "--labels", "/dev/shm/never.jsonl"], capture_output=True,
                              text=True, env={k: v for k, v in os.environ.items() if k not in ("USER", "LOGNAME")},
                              input="q\n") if os.geteuid() == 0 and shutil.which("setpriv") else None
    if nameless is not None:  # as root, run as a user id with no name
        assert "pass --annotator NAME" in nameless.stderr and "Traceback" not in nameless.stderr


def test_distill_from_a_model_whose_fine_tuned_encoder_names_no_path_is_one_line(tmp_path, isolated_home, trained):
    source = tmp_path / "source"
    shutil.copytree(trained["model"], source)
    meta = json.loads((source / "stance.json").read_text(encoding="utf-8"))
    meta["encoder"] = {**meta["encoder"], "kind": "fine-tuned"}
    meta["encoder"].pop("path", None)
    write_metadata(source, meta)
    line = one_error_line(run_stance("distill", "--out", tmp_path / "static", "--source", source, timeout=120))
    assert "its fine-tuned encoder has no path or SHA-256; retrain" in line and not (tmp_path / "static").exists()


def test_a_stop_asked_for_while_a_model_and_its_report_are_written_lets_both_land(capfd, monkeypatch):
    """A Ctrl-C or SIGTERM between the model and its report would leave one beside the other's old self."""
    import signal

    from stance.fileio import writes_that_land_together

    def stop(signum, frame):
        raise KeyboardInterrupt(signum)

    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    signal.signal(signal.SIGINT, stop)  # as the command line has them
    signal.signal(signal.SIGTERM, stop)
    try:
        done = []
        with pytest.raises(KeyboardInterrupt) as stopped:  # the stop acts once both are written ...
            with writes_that_land_together("the model and its report"):
                os.kill(os.getpid(), signal.SIGTERM)
                os.kill(os.getpid(), signal.SIGINT)  # a second stop, ignored as after any first
                done.append("model")
                time.sleep(0.1)
                done.append("report")
        assert done == ["model", "report"] and stopped.value.args == (signal.SIGTERM,)
        assert capfd.readouterr().err == "stopping: finishing the model and its report first, so that they stay together\n"
        assert signal.getsignal(signal.SIGINT) is stop and signal.getsignal(signal.SIGTERM) is stop
        monkeypatch.setattr(sys, "stderr", None)  # ... even when it cannot say so (stderr closed, or a pipe gone)
        with pytest.raises(KeyboardInterrupt):
            with writes_that_land_together("the model and its report"):
                os.kill(os.getpid(), signal.SIGINT)
                done.append("again")
        assert done[-1] == "again"
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


_NO_FILE = {"fifo": os.mkfifo, "folder": os.mkdir, "dangling link": lambda p: os.symlink(p.parent / "gone", p),
            "link loop": lambda p: os.symlink(p, p), "link to a device": lambda p: os.symlink("/dev/zero", p)}


@pytest.mark.parametrize("kind", list(_NO_FILE))
def test_a_model_file_replaced_by_no_file_is_named_for_what_it_is_not_missing(tmp_path, isolated_home, trained, kind):
    model = tmp_path / "m"
    shutil.copytree(trained["model"], model)
    head = model / "head.joblib"
    head.unlink()
    _NO_FILE[kind](head)
    line = one_error_line(run_stance("score", "-", "--model", model, stdin="Serbia buys gas.\n"), prefix="error: ")
    said = {"fifo": "is a FIFO", "folder": "is a folder, not a file", "link loop": "is a loop of symbolic links",
            "dangling link": f"is a symbolic link to {model / 'gone'}, which leads to no file or folder",
            "link to a device": "is a symbolic link to a character device, not to a regular file"}[kind]  # not "a file"
    assert f"head.joblib: {said}" in line and "missing" not in line


@pytest.mark.parametrize("kind", list(_NO_FILE))
def test_an_article_that_is_no_file_is_named_not_taken_for_missing(tmp_path, isolated_home, kind):
    """A FIFO there was said to be "not found" (and a label's text went unchecked)."""
    labels, articles = tmp_path / "labels.jsonl", tmp_path / "articles"
    labels.write_text('{"article": "x", "sentence": 0, "text": "Serbia buys gas.", "russia": "favor", "eu": "none"}\n'
                      '{"article": "y", "sentence": 0, "text": "Rain fell.", "russia": "none", "eu": "none"}\n',
                      encoding="utf-8")
    articles.mkdir()
    _NO_FILE[kind](articles / "x.txt")
    said = {"fifo": "is a FIFO", "folder": "is a folder, not a file", "link loop": "is a loop of symbolic links",
            "dangling link": "is a symbolic link to", "link to a device": "is a symbolic link to a character device"}[kind]
    line = one_error_line(run_stance("labels", "check", labels, "--articles", articles, timeout=60), prefix="")
    assert line.startswith(f"{articles / 'x.txt'}: {said}") and "article x's text" in line
    line = one_error_line(run_stance("train", "--labels", labels, "--articles", articles, "--out", tmp_path / "m",
                                     timeout=60))
    assert f"{articles / 'x.txt'}: {said}" in line and not (tmp_path / "m").exists()
    (tmp_path / "articles-too").mkdir()  # the text in a folder searched later is found, the stray entry passed by
    (tmp_path / "articles-too" / "x.txt").write_text("Serbia buys gas.\n", encoding="utf-8")
    (tmp_path / "articles-too" / "y.txt").write_text("Rain fell.\n", encoding="utf-8")
    found = run_stance("labels", "check", labels, "--articles", articles, "--articles", tmp_path / "articles-too",
                       timeout=60)
    assert found.returncode == 0 and "not found" not in found.stderr, found.stderr


def test_a_label_file_given_as_articles_is_refused_not_read_as_one_sentence_articles(tmp_path, isolated_home):
    labels = tmp_path / "seeds.jsonl"
    labels.write_text(json.dumps({"article": "a", "sentence": 0, "text": "Serbia buys gas.", "russia": "favor",
                                  "eu": "none"}) + "\n", encoding="utf-8")
    for command in (("label", labels, "--labels", tmp_path / "mine.jsonl", "--annotator", "ana"), ("score", labels)):
        line = _last_error_line(run_stance(*command, stdin="f\nn\n"))
        assert "its rows are labeled sentences (article, sentence), not articles" in line
    assert not (tmp_path / "mine.jsonl").exists()


def test_least_sure_first_ranks_by_the_targets_asked_alone(tmp_path, isolated_home, monkeypatch, hashing_encoder):
    """A label file of Russia labels only: a model unsure of the EU must not put a sure Russia guess first."""
    from typer.testing import CliRunner

    import stance.cli as cli
    from stance.model import StanceClassifier

    texts = ["Serbia buys Russian gas.", "Belgrade cancels Russian arms contracts.", "The parade lasted two hours.",
             "Vucic praises Putin.", "Serbia sells shells to Ukraine.", "Montenegro opened new chapters.",
             "Serbia opens an EU chapter.", "Belgrade rejects Brussels' demands."]
    y = [["favor", "none"], ["against", "none"], ["none", "none"], ["favor", "against"], ["against", "favor"],
         ["none", "none"], ["none", "favor"], ["none", "against"]]
    model = StanceClassifier(encoder=hashing_encoder, Cs=(1.0,), calibrate=False, abstain=False,
                             renamed_copies=False).fit(texts, y)
    monkeypatch.setattr("stance.model.load_model", lambda path, backend="auto": model)
    article = tmp_path / "a.txt"
    article.write_text("\n".join(texts + ["Serbia and Russia sign a deal; the EU objects.", "Brussels waits."]) + "\n",
                       encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    out.write_text('{"targets": ["russia"]}\n', encoding="utf-8")
    result = CliRunner().invoke(cli.app, ["label", str(article), "--labels", str(out), "--annotator", "ana"],
                                input="s\n" * 10)
    shown = [float(m) for m in re.findall(r"model: russia \w+ ([0-9.]+)", result.output)]
    assert len(shown) == 10 and shown == sorted(shown), result.output
