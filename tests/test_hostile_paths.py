"""Paths, labels, model metadata and caches that cannot be used: one line each, before any long work."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import sqlite3
import stat
import tempfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from stance.encoders.transformer import SentenceEncoder
from stance.errors import StanceWarning

from conftest import REPO, HashingEncoder, make_scores, one_error_line, run_stance, write_corpus, write_metadata


@pytest.fixture
def corpus(tmp_path):
    """A learnable labeled corpus: its label file and its articles' folder."""
    labels = write_corpus(tmp_path / "corpus")
    return labels, labels.parent


@pytest.fixture
def regular_file(tmp_path):
    """A regular file: a path under it can be neither made nor written, even by root."""
    path = tmp_path / "afile"
    path.write_text("not a folder\n")
    return path


# --- 1. output paths ----------------------------------------------------------------


def test_train_refuses_an_out_under_a_file_before_training(tmp_path, isolated_home, corpus, regular_file):
    labels, articles = corpus
    report = tmp_path / "report"
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", regular_file / "sub" / "model",
                        "--report-dir", report)
    line = one_error_line(result)
    assert "--out" in line and str(regular_file) in line
    assert not report.exists()  # nothing evaluated, nothing written
    assert regular_file.read_text() == "not a folder\n"


def test_train_refuses_a_report_dir_under_a_file_before_training(tmp_path, isolated_home, corpus, regular_file):
    labels, articles = corpus
    model = tmp_path / "model"
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", model,
                        "--report-dir", regular_file / "report")
    line = one_error_line(result)
    assert "--report-dir" in line and str(regular_file) in line
    assert not model.exists()


def test_train_refuses_renamed_copies_for_a_fine_tune_before_training(tmp_path, isolated_home, corpus):
    labels, articles = corpus
    model, report = tmp_path / "model", tmp_path / "report"
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", model, "--report-dir", report,
                        "--fine-tune", "--renamed-copies")
    line = one_error_line(result)
    assert "--renamed-copies" in line and "--fine-tune" in line
    assert not model.exists() and not report.exists()


@pytest.mark.parametrize("option", ["--out", "--report-dir"])
def test_train_refuses_a_place_only_an_actual_write_shows_unwritable_before_training(tmp_path, isolated_home,
                                                                                        corpus, option):
    # /proc passes the permission check for root; only making a folder there fails
    if not os.path.isdir("/proc/self"):
        pytest.skip("no /proc here")
    labels, articles = corpus
    paths = {"--out": tmp_path / "model", "--report-dir": tmp_path / "report"}
    paths[option] = Path("/proc/stance-test") / "model"
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", paths["--out"],
                        "--report-dir", paths["--report-dir"])
    line = one_error_line(result)
    assert line.startswith(f"error: {option} /proc/stance-test/model: cannot write in /proc")
    assert not any(p.exists() for p in paths.values() if p.is_relative_to(tmp_path))


def test_an_output_folder_that_holds_other_files_is_refused_before_loading_the_model(tmp_path, isolated_home, corpus):
    """The parts are read as one table (pandas.read_parquet(FOLDER)): a part among articles breaks that reading,
    and the folder being scored is the likeliest such folder."""
    _, articles = corpus
    before = sorted(p.name for p in articles.iterdir())
    for output in (articles, tmp_path / "notes"):
        (tmp_path / "notes").mkdir(exist_ok=True)
        (tmp_path / "notes" / "todo.md").write_text("mine\n", encoding="utf-8")
        line = one_error_line(run_stance("score", articles / "art0.txt", "--model", tmp_path / "none", "--output", output))
        assert "which is no result part" in line and "give --output a new or empty folder" in line, line
    assert sorted(p.name for p in articles.iterdir()) == before
    assert [p.name for p in (tmp_path / "notes").iterdir()] == ["todo.md"]
    line = one_error_line(run_stance("record", articles, "--db", tmp_path / "h.sqlite"))
    assert "no result parts here, only other files" in line and "write them with" not in line, line


def test_score_refuses_an_output_under_a_file_before_loading_the_model(tmp_path, isolated_home, corpus, regular_file):
    _, articles = corpus
    # no model exists: the --output error must come first, before the model is looked for
    line = one_error_line(run_stance("score", articles / "art0.txt", "--model", tmp_path / "none",
                                      "--output", regular_file / "sub" / "results"))
    assert "--output" in line and str(regular_file) in line
    line = one_error_line(run_stance("score", articles / "art0.txt", "--model", tmp_path / "none",
                                      "--output", regular_file))
    assert "--output" in line and "not a folder" in line


def test_score_refuses_a_db_under_a_file_before_loading_the_model(tmp_path, isolated_home, corpus, regular_file):
    _, articles = corpus
    db = regular_file / "sub" / "h.sqlite"
    line = one_error_line(run_stance("score", articles / "art0.txt", "--model", tmp_path / "none", "--record",
                                      "--db", db))
    assert str(db) in line and "--db" in line


@pytest.mark.parametrize("option", ["--plot", "--html"])
def test_drift_refuses_a_chart_path_under_a_file_before_reading(tmp_path, isolated_home, regular_file, option):
    target = regular_file / "sub" / "chart.out"
    line = one_error_line(run_stance("drift", "--db", tmp_path / "none.sqlite", option, target))
    assert option in line and str(regular_file) in line


def test_label_refuses_a_label_file_under_a_file(tmp_path, isolated_home, corpus, regular_file):
    _, articles = corpus
    line = one_error_line(run_stance("label", articles / "art0.txt", "--labels", regular_file / "sub" / "mine.jsonl",
                                      stdin="f\n"))
    assert "--labels" in line and str(regular_file) in line


def test_labels_merge_and_distill_refuse_outs_under_a_file(tmp_path, isolated_home, corpus, regular_file):
    labels, _ = corpus
    line = one_error_line(run_stance("labels", "merge", labels, "--out", regular_file / "sub" / "merged.jsonl"))
    assert "--out" in line and str(regular_file) in line
    line = one_error_line(run_stance("distill", "--out", regular_file / "sub" / "static"))
    assert "--out" in line and str(regular_file) in line
    assert regular_file.read_text() == "not a folder\n"


@pytest.mark.parametrize("command", [("labels", "stats"), ("score",), ("train", "--labels")])
def test_a_symbolic_link_loop_is_named_as_a_loop_not_a_missing_file(tmp_path, isolated_home, command):
    loop = tmp_path / "loop.jsonl"
    loop.symlink_to(loop)
    line = one_error_line(run_stance(*command, loop))
    assert str(loop) in line and "loop of symbolic links" in line and "no such" not in line


def test_a_failed_write_is_one_line_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    from stance.fileio import atomic_write_text
    from stance.paths import OutputPathError

    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputPathError, match="No space left on device; free disk space"):
        atomic_write_text(tmp_path / "report.md", "text")
    assert list(tmp_path.iterdir()) == []


def test_a_fifo_or_a_device_given_as_an_output_file_is_refused_never_replaced(tmp_path):
    """Writing replaces the file: a FIFO, or a link to /dev/null, would become a plain file (as root, /dev/null too)."""
    from stance.fileio import atomic_write_text
    from stance.paths import OutputPathError, check_writable

    fifo = tmp_path / "page.html"
    os.mkfifo(fifo)
    to_null = tmp_path / "chart.png"
    to_null.symlink_to(os.devnull)
    for path, kind in ((fifo, "a FIFO (named pipe)"), (to_null, "a character device")):
        for write in (lambda: check_writable(path, "--html"), lambda: atomic_write_text(path, "x"),
                      lambda: check_writable(path, "--labels", append=True)):
            with pytest.raises(OutputPathError, match=f"{path.name}: is {re.escape(kind)}, not a regular file"):
                write()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert os.readlink(to_null) == os.devnull and stat.S_ISCHR(os.stat(os.devnull).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["chart.png", "page.html"]  # no temporary file left


def test_a_symbolic_link_given_as_an_output_file_is_written_through_and_kept(tmp_path):
    from stance.fileio import atomic_write_text
    from stance.paths import OutputPathError, check_writable

    real = tmp_path / "site" / "page.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "page.html"
    link.symlink_to(real)
    atomic_write_text(link, "new")
    assert link.is_symlink() and real.read_text() == "new"
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["page.html", "page.html", "site"]
    elsewhere = tmp_path / "afile"
    elsewhere.write_text("not a folder")
    link.unlink()
    link.symlink_to(elsewhere / "page.html")  # where the write would land: under a file
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_writable(link, "--html")


@pytest.mark.parametrize("command", [
    ("report", "experiments/minilm-logreg", "--html"),
    ("labels", "merge", "labels/seeds.jsonl", "--out"),
    ("label", "labels/articles", "--labels"),  # appending to a FIFO would wait for a reader
])
def test_the_cli_refuses_a_fifo_as_an_output_file_in_one_line(tmp_path, isolated_home, command):
    fifo = tmp_path / "out.fifo"
    os.mkfifo(fifo)
    line = one_error_line(run_stance(*command, fifo, timeout=120))
    assert f"{fifo}: is a FIFO (named pipe), not a regular file" in line
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode) and sorted(tmp_path.iterdir()) == sorted([fifo, isolated_home])


def _as_unprivileged(work) -> str:
    """Run ``work()`` in a child process with user and group 65534; returns what it returned (a string)."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            answer = work()
        except BaseException as err:  # noqa: BLE001 - report anything to the parent
            answer = f"{type(err).__name__}: {err}"
        os.write(write, answer.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as handle:
        answer = handle.read().decode()
    os.waitpid(pid, 0)
    return answer


def test_an_unwritable_folder_is_refused_for_an_unprivileged_user():
    from stance.fileio import atomic_write_text
    from stance.paths import OutputPathError, check_writable

    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        base.chmod(0o777)
        locked = base / "locked"
        locked.mkdir(mode=0o555)
        locked.chmod(0o555)

        def attempt() -> str:
            answers = []
            for call in (lambda: check_writable(locked / "merged.jsonl", "--out"),
                         lambda: check_writable(locked / "report", "--report-dir", folder=True),
                         lambda: atomic_write_text(locked / "merged.jsonl", "x")):
                try:
                    call()
                    answers.append("written")
                except OutputPathError as err:
                    answers.append(str(err))
            return "\n".join(answers)

        out, report, write = _as_unprivileged(attempt).split("\n")
        assert out.startswith(f"--out {locked}/merged.jsonl: ") and "permission denied" in out
        assert report.startswith("--report-dir") and "permission denied" in report
        assert "Permission denied" in write and "merged.jsonl" in write
        assert list(locked.iterdir()) == []
    finally:
        shutil.rmtree(base)


# --- 2. labels that cannot train ------------------------------------------------------


def _rows(labels: Path) -> list[dict]:
    return [json.loads(line) for line in labels.read_text().splitlines()]


def _write_rows(path: Path, rows) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


LABEL_CASES = {
    "one class": (lambda rows: [{**r, "eu": "none"} for r in rows], "every label for target 'eu' is 'none'"),
    "one article": (lambda rows: [r for r in rows if r["article"] == "art0"], "one article (art0)"),
    "unlabeled target": (lambda rows: [{**r, "eu": None} for r in rows], "no labels for target 'eu'"),
    "target in one article": (lambda rows: [{**r, "eu": r["eu"] if r["article"] == "art0" else None} for r in rows],
                              "no 'eu' labels are left to train on"),
    "contrast only": (lambda rows: [{**r, "origin": "contrast"} for r in rows], "nothing to evaluate on"),
    "one favor among nones": (lambda rows: [{**r, "eu": "favor" if (r["article"], r["sentence"]) == ("art0", 0)
                                             else "none"} for r in rows], "'eu' labels in one of the folds"),
}


@pytest.mark.parametrize("case", list(LABEL_CASES))
def test_labels_that_cannot_train_fail_before_embedding(tmp_path, isolated_home, corpus, case):
    labels, articles = corpus
    change, message = LABEL_CASES[case]
    bad = _write_rows(tmp_path / "bad.jsonl", change(_rows(labels)))
    model, report = tmp_path / "model", tmp_path / "report"
    cache = tmp_path / "cache.sqlite"
    result = run_stance("train", "--labels", bad, "--articles", articles, "--out", model, "--report-dir", report,
                        env={"STANCE_CACHE": str(cache)})
    line = one_error_line(result)
    assert message in line and "label" in line.split(";")[-1]
    assert not model.exists() and not report.exists()
    assert not cache.exists() or _cached_vectors(cache) == 0  # not one sentence embedded


def _cached_vectors(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]


def test_labels_with_nothing_to_train_on_fail_before_the_encoder(tmp_path, isolated_home, corpus):
    labels, articles = corpus
    not_an_encoder = tmp_path / "encoder"
    not_an_encoder.mkdir()
    furniture = _write_rows(tmp_path / "furniture.jsonl", [r for r in _rows(labels) if r["sentence"] == 6])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for bad, message in ((furniture, "no sentence left to train on"), (empty, "no label rows")):
        result = run_stance("train", "--labels", bad, "--articles", articles, "--encoder", not_an_encoder,
                            "--out", tmp_path / "model", "--report-dir", tmp_path / "report")
        line = one_error_line(result)
        assert message in line and "encoder" not in line  # the labels are refused before the encoder is looked at


# --- 3. hand-edited stance.json ---------------------------------------------------------


def _set(meta: dict, key: str, value) -> None:
    *parents, name = key.split(".")
    for parent in parents:
        meta = meta[parent]
    meta[name] = value


METADATA_EDITS = [
    ("targets", "russia", '"targets"'),
    ("classes", ["favor"], '"classes"'),
    ("encoder", 5, '"encoder"'),
    ("encoder.sha256", None, '"encoder.sha256"'),
    ("encoder.path", 3, '"encoder.path"'),
    ("encoder.batch_size", "big", '"encoder.batch_size"'),
    ("head.sha256", None, '"head.sha256"'),
    ("head.file", "/etc/passwd", '"head.file"'),
    ("head.params.russia.temperature", [1, 2], '"head.params.russia.temperature"'),
    ("features.context", "yes", '"features.context"'),
    ("versions.scikit-learn", 1.9, '"versions.scikit-learn"'),
    ("created", 20260101, '"created"'),
]


@pytest.fixture
def model_copy(tmp_path, trained):
    copy = tmp_path / "model"
    shutil.copytree(trained["model"], copy)
    return copy


@pytest.mark.integration
@pytest.mark.parametrize(("key", "value", "named"), METADATA_EDITS, ids=[f"{k}={v!r}" for k, v, _ in METADATA_EDITS])
def test_hand_edited_metadata_is_refused_naming_the_key(model_copy, isolated_home, key, value, named):
    meta_path = model_copy / "stance.json"
    meta = json.loads(meta_path.read_text())
    _set(meta, key, value)
    meta_path.write_text(json.dumps(meta))
    line = one_error_line(run_stance("score", "--model", model_copy, "--json", "-", stdin="Serbia buys Russian gas.\n"))
    assert named in line and "retrain with `stance train`" in line and str(meta_path) in line


@pytest.mark.integration
def test_a_target_the_head_file_lacks_is_refused(model_copy, isolated_home):
    meta_path = model_copy / "stance.json"
    meta = json.loads(meta_path.read_text())
    meta["targets"].append("china")
    meta["classes"]["china"] = ["favor", "against", "none"]
    write_metadata(model_copy, meta)
    line = one_error_line(run_stance("score", "--model", model_copy, "-", stdin="Serbia buys Russian gas.\n"))
    assert "china" in line and "retrain with `stance train`" in line


# --- 4. numeric settings in the environment ----------------------------------------------


@pytest.mark.parametrize("value", ["abc", "-5", "nan", "inf", "0", "1e308", "1e13"])
def test_a_cache_bound_that_is_no_number_is_one_line(tmp_path, isolated_home, value):
    env = {"STANCE_CACHE": str(tmp_path / "c.sqlite"), "STANCE_CACHE_MAX_MB": value}
    line = one_error_line(run_stance("cache", "info", env=env))
    assert f"STANCE_CACHE_MAX_MB={value!r}" in line and "positive number of megabytes" in line


def test_a_bad_cache_bound_stops_training_before_any_work(tmp_path, isolated_home, corpus):
    labels, articles = corpus
    env = {"STANCE_CACHE": str(tmp_path / "c.sqlite"), "STANCE_CACHE_MAX_MB": "2GB"}
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", tmp_path / "model",
                        "--report-dir", tmp_path / "report", env=env)
    assert "STANCE_CACHE_MAX_MB='2GB'" in one_error_line(result)
    assert not (tmp_path / "model").exists() and not (tmp_path / "report").exists()


# --- 5. vectors checked on reading --------------------------------------------------------


class CountingHashEncoder(SentenceEncoder):
    """A SentenceEncoder (so the disk cache is used) whose vectors come from the hashing encoder."""

    embedded: ClassVar[list] = []

    @property
    def cache_key(self) -> str:
        return "hashing-test"

    @property
    def dimension(self) -> int:
        return 256

    def encode_uncached(self, texts):
        CountingHashEncoder.embedded.extend(texts)
        return HashingEncoder().transform(texts)


TEXTS = ["Serbia buys Russian gas.", "Belgrade cancels Russian arms contracts.", "The parade lasted two hours."]


def _key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def test_damaged_cached_vectors_are_dropped_and_embedded_again(tmp_path):
    path = tmp_path / "c.sqlite"
    fresh = HashingEncoder().transform(TEXTS)
    CountingHashEncoder(cache=path).transform(TEXTS)
    with sqlite3.connect(path) as conn:  # same-size garbage for one, a torn vector for another
        conn.execute("UPDATE vectors SET vector = randomblob(1024) WHERE key = ?", [_key(TEXTS[0])])
        conn.execute("UPDATE vectors SET vector = substr(vector, 1, 10) WHERE key = ?", [_key(TEXTS[1])])
    CountingHashEncoder.embedded = []
    with pytest.warns(StanceWarning, match="2 cached vector"):
        again = CountingHashEncoder(cache=path).transform(TEXTS)
    np.testing.assert_array_equal(again, fresh)
    assert sorted(CountingHashEncoder.embedded) == sorted(TEXTS[:2])
    CountingHashEncoder.embedded = []
    np.testing.assert_array_equal(CountingHashEncoder(cache=path).transform(TEXTS), fresh)
    assert CountingHashEncoder.embedded == []  # the recomputed vectors were stored whole


def test_vectors_of_a_cache_made_before_digests_are_not_trusted(tmp_path):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:  # the layout before digests, holding a wrong vector
        conn.execute("CREATE TABLE vectors (encoder TEXT NOT NULL, key BLOB NOT NULL, vector BLOB NOT NULL, "
                     "last_used REAL NOT NULL, PRIMARY KEY (encoder, key)) WITHOUT ROWID")
        conn.execute("INSERT INTO vectors VALUES (?, ?, ?, 0)",
                     ["hashing-test", _key(TEXTS[2]), np.ones(256, dtype=np.float32).tobytes()])
    CountingHashEncoder.embedded = []
    got = CountingHashEncoder(cache=path).transform(TEXTS)
    np.testing.assert_array_equal(got, HashingEncoder().transform(TEXTS))
    assert sorted(CountingHashEncoder.embedded) == sorted(TEXTS)


# --- 6. clearing a damaged cache ------------------------------------------------------------


def test_cache_clear_names_a_cache_path_with_a_line_break_on_one_line(tmp_path, isolated_home):
    from stance.encoders.cache import EmbeddingCache

    path = tmp_path / "two\nlines.sqlite"
    EmbeddingCache(path).close()
    cleared = run_stance("cache", "clear", env={"STANCE_CACHE": str(path)})
    assert cleared.returncode == 0, cleared.stderr
    assert cleared.stdout.strip().splitlines() == ["removed 0 vectors from " + str(tmp_path) + "/two\\x0alines.sqlite"]


def test_cache_clear_removes_a_cache_file_sqlite_cannot_read(tmp_path, isolated_home):
    from stance.encoders.cache import EmbeddingCache

    garbage = tmp_path / "garbage.sqlite"
    EmbeddingCache(garbage).close()
    header = garbage.read_bytes()[:100]
    garbage.write_bytes(header + np.random.default_rng(0).bytes(5000))  # a cache damaged past its header
    env = {"STANCE_CACHE": str(garbage)}
    assert "stance cache clear" in one_error_line(run_stance("cache", "info", env=env))
    cleared = run_stance("cache", "clear", env=env)
    assert cleared.returncode == 0, cleared.stderr
    assert f"removed {garbage}" in cleared.stdout and "cannot read" in cleared.stdout
    info = run_stance("cache", "info", env=env)
    assert info.returncode == 0 and "0 vectors" in info.stdout

    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    cleared = run_stance("cache", "clear", env={"STANCE_CACHE": str(empty)})
    assert cleared.returncode == 0 and "removed 0 vectors" in cleared.stdout


def test_cache_clear_leaves_a_damaged_database_nothing_marks_as_a_cache_alone(tmp_path, isolated_home):
    from stance.store import HistoryStore

    history = tmp_path / "history.sqlite"
    with HistoryStore(history) as store:
        store.record([make_scores("a1", "2025-01-01", {"russia": 0.1})])
    damaged = history.read_bytes()[:8192]  # a history database cut short: `.recover` may still save rows
    history.write_bytes(damaged)
    env = {"STANCE_CACHE": str(history)}
    for command in (["cache", "info"], ["cache", "clear"]):
        line = one_error_line(run_stance(*command, env=env))
        assert "nothing marks it as an embedding cache" in line and "cache clear" not in line
    assert history.read_bytes() == damaged

    unmarked = isolated_home / "stance" / "cache" / "embeddings.sqlite"  # the per-user cache, made before marks
    unmarked.parent.mkdir(parents=True)
    unmarked.write_bytes(b"SQLite format 3\x00" + bytes(84) + np.random.default_rng(0).bytes(5000))
    cleared = run_stance("cache", "clear", env={"STANCE_CACHE": ""})
    assert cleared.returncode == 0 and f"removed {unmarked}" in cleared.stdout, cleared.stderr


def test_cache_clear_leaves_a_file_that_is_no_cache_alone(tmp_path, isolated_home):
    document = tmp_path / "thesis.docx"
    content = b"PK\x03\x04" + np.random.default_rng(1).bytes(4000)
    document.write_bytes(content)
    line = one_error_line(run_stance("cache", "clear", env={"STANCE_CACHE": str(document)}))
    assert "not an SQLite file" in line and "STANCE_CACHE" in line
    assert document.read_bytes() == content
    line = one_error_line(run_stance("cache", "clear", env={"STANCE_CACHE": str(tmp_path)}))
    assert "is a folder" in line
    named_like_one = tmp_path / "important.db"  # a name proves nothing
    named_like_one.write_text("field notes\n", encoding="utf-8")
    line = one_error_line(run_stance("cache", "clear", env={"STANCE_CACHE": str(named_like_one)}))
    assert "not an SQLite file" in line and named_like_one.read_text(encoding="utf-8") == "field notes\n"


# --- 7. modes that follow the umask ------------------------------------------------------------


class _Umask:
    def __init__(self, mask: int):
        self.mask = mask

    def __enter__(self):
        self.saved = os.umask(self.mask)

    def __exit__(self, *exc):
        os.umask(self.saved)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


MASKS = [(0o022, 0o644, 0o755), (0o077, 0o600, 0o700), (0o002, 0o664, 0o775)]


def test_atomic_writes_and_temporary_folders_follow_the_umask(tmp_path):
    from stance.fileio import atomic_write_text, make_temp_dir
    from stance.labeling import LabelLog

    for mask, file_mode, folder_mode in MASKS:
        with _Umask(mask):
            target = tmp_path / f"{mask:o}" / "report.md"
            atomic_write_text(target, "text")
            atomic_write_text(target, "again")  # a replaced file too
            LabelLog(tmp_path / f"{mask:o}" / "labels.jsonl").append({"article": "a", "sentence": 0})
            staged = make_temp_dir(tmp_path / f"model-{mask:o}")
        assert _mode(target) == file_mode, f"umask {mask:o}"
        assert _mode(tmp_path / f"{mask:o}" / "labels.jsonl") == file_mode, f"umask {mask:o}"
        assert _mode(staged) == folder_mode, f"umask {mask:o}"


def test_a_saved_model_folder_follows_the_umask(tmp_path):
    from stance.model import StanceClassifier

    class Saveable(CountingHashEncoder):
        @property
        def sha256(self) -> str:
            return "0" * 64

    texts = ["Serbia buys Russian gas.", "Belgrade cancels Russian arms contracts.", "The parade lasted two hours.",
             "Vucic praises Putin.", "Serbia sells shells to Ukraine.", "Montenegro opened new chapters."]
    y = [["favor"], ["against"], ["none"], ["favor"], ["against"], ["none"]]
    model = StanceClassifier(encoder=Saveable(cache=False), targets=("russia",), Cs=(1.0,), ngrams=False,
                             calibrate=False, abstain=False).fit(texts, y)
    for mask, file_mode, folder_mode in MASKS[:2]:
        with _Umask(mask):
            folder = model.save(tmp_path / f"model-{mask:o}")
        assert _mode(folder) == folder_mode, f"umask {mask:o}"
        assert {p.name: _mode(p) for p in folder.iterdir()} == {"stance.json": file_mode, "head.joblib": file_mode}


def test_train_refuses_to_replace_a_folder_that_is_no_model_before_training(tmp_path, isolated_home, corpus):
    labels, articles = corpus
    folder = tmp_path / "thesis"
    folder.mkdir()
    (folder / "chapter1.md").write_text("keep me\n")
    cache = tmp_path / "cache.sqlite"
    result = run_stance("train", "--labels", labels, "--articles", articles, "--out", folder,
                        "--report-dir", tmp_path / "report", env={"STANCE_CACHE": str(cache)})
    assert "not a stance model folder" in one_error_line(result)
    assert [p.name for p in folder.iterdir()] == ["chapter1.md"]
    assert not cache.exists() or _cached_vectors(cache) == 0  # refused before a sentence was embedded


def leftover_of_a_killed_writer(path: Path, folder: bool = False, tag: str = "tmp") -> Path:
    """What a writer killed with SIGKILL after making its temporary leaves beside ``path``: made by a real child
    process through the library, which then dies, aged past the sweep's grace period."""
    import signal
    import subprocess
    import sys

    made = "make_temp_dir(path, tag)" if folder else "temp_file_beside(path, tag)[1]"
    code = ("import os, signal, sys; from pathlib import Path; from stance.fileio import make_temp_dir, temp_file_beside; "
            f"path, tag = Path(sys.argv[1]), sys.argv[2]; print({made}, flush=True); os.kill(os.getpid(), signal.SIGKILL)")
    child = subprocess.run([sys.executable, "-c", code, str(path), tag], capture_output=True, text=True, check=False)
    assert child.returncode == -signal.SIGKILL, child.stderr
    leftover = Path(child.stdout.strip())
    assert leftover.exists() and leftover.parent == path.parent
    old = leftover.stat().st_mtime - 3600
    os.utime(leftover, (old, old))
    return leftover


def test_the_next_write_removes_what_a_killed_writer_left_and_nothing_else(tmp_path):
    from stance.fileio import atomic_write_text, make_temp_dir, sweep_leftovers, temp_prefix

    target = tmp_path / "scores.csv"
    leftover = leftover_of_a_killed_writer(target)
    recent = leftover_of_a_killed_writer(target)
    os.utime(recent)  # just changed: may be a writer on another machine sharing the folder
    living = tmp_path / (temp_prefix(target, "tmp").replace(f".{os.getpid()}.", f".{os.getppid()}.") + "x")
    living.write_text("a running process's temporary")
    os.utime(living, (0, 0))
    other = leftover_of_a_killed_writer(tmp_path / "other.csv")

    atomic_write_text(target, "new")

    assert target.read_text() == "new"
    assert not leftover.exists()
    assert recent.exists() and living.exists(), "only old leftovers of processes that are gone are removed"
    assert other.exists(), "a write sweeps only its own file's leftovers"
    assert sweep_leftovers(tmp_path) == [other]

    # A retired model folder is all there is if the writer died before moving the new one in.
    model = tmp_path / "model"
    retired = leftover_of_a_killed_writer(model, folder=True, tag="old")
    staging = leftover_of_a_killed_writer(model, folder=True)
    make_temp_dir(model)
    assert retired.exists() and not staging.exists()
    model.mkdir()
    make_temp_dir(model)
    assert not retired.exists()


def test_a_model_folder_is_swapped_in_one_step_so_no_kill_leaves_nothing_at_its_path(tmp_path, monkeypatch):
    """Moving the old folder aside and the new one in took two renames: a kill between them left no model."""
    from stance import fileio

    model = tmp_path / "model"
    model.mkdir()
    (model / "stance.json").write_text("old")
    probe_a, probe_b = tmp_path / "a", tmp_path / "b"
    probe_a.mkdir()
    probe_b.mkdir()
    if not fileio.exchange_paths(probe_a, probe_b):
        pytest.skip("this file system cannot swap two paths in one step")
    staging = fileio.make_temp_dir(model)
    (staging / "stance.json").write_text("new")

    def no_rename_of_the_model(src, dst, *args, **kwargs):
        raise AssertionError(f"renamed {src} to {dst}: a kill here would leave no model")
    monkeypatch.setattr(fileio.os, "replace", no_rename_of_the_model)
    fileio.replace_folder(staging, model)
    assert (model / "stance.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "model"]  # the old folder is gone too


def test_where_no_swap_in_one_step_is_possible_the_folder_is_still_replaced(tmp_path, monkeypatch):
    from stance import fileio

    model = tmp_path / "model"
    model.mkdir()
    (model / "stance.json").write_text("old")
    staging = fileio.make_temp_dir(model)
    (staging / "stance.json").write_text("new")
    monkeypatch.setattr(fileio, "exchange_paths", lambda first, second: False)  # another system, or a sandbox's EPERM
    fileio.replace_folder(staging, model)
    assert (model / "stance.json").read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["model"]


def test_a_symbolic_link_given_as_a_model_folder_is_written_through_and_kept(tmp_path):
    """`train --out LINK` swaps in the folder the link points to; before, the link itself was replaced by a folder."""
    from stance.fileio import make_temp_dir, replace_folder
    from stance.paths import OutputPathError, check_writable

    real = tmp_path / "models" / "current"
    real.mkdir(parents=True)
    (real / "stance.json").write_text("old")
    link = tmp_path / "model"
    link.symlink_to(real, target_is_directory=True)
    assert check_writable(link, "--out", folder=True, replaced=True) == link
    staging = make_temp_dir(link)
    assert staging.parent == real.parent
    (staging / "stance.json").write_text("new")
    replace_folder(staging, link)
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert (real / "stance.json").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model", "models"]
    assert sorted(p.name for p in real.parent.iterdir()) == ["current"]  # no staging or retired copy left
    link.unlink()
    link.symlink_to("/proc/sys", target_is_directory=True)  # the swap would happen in /proc, beside the link's target
    with pytest.raises(OutputPathError, match="cannot write in /proc"):
        check_writable(link, "--out", folder=True, replaced=True)


@contextlib.contextmanager
def _tmpfs(options: str):
    """A folder on a small tmpfs mounted with ``options``; the test is skipped where mounting is not allowed."""
    import subprocess

    place = Path(tempfile.mkdtemp(prefix="stance-tmpfs-"))
    mounted = shutil.which("mount") and subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(place)], capture_output=True).returncode == 0
    if not mounted:
        place.rmdir()
        pytest.skip("cannot mount a file system here")
    try:
        yield place
    finally:
        subprocess.run(["umount", str(place)], check=False)
        place.rmdir()


@pytest.fixture
def read_only_mount():
    with _tmpfs("ro,size=1m") as place:
        yield place


def test_a_read_only_file_system_is_named_as_such(read_only_mount):
    from stance.paths import OutputPathError, check_writable
    from stance.sqlite import writable_problem

    with pytest.raises(OutputPathError, match="cannot write in .*a read-only file system"):
        check_writable(read_only_mount / "out", "--output", folder=True)
    assert "read-only file system" in writable_problem(read_only_mount / "h.sqlite")


def test_a_writable_label_file_in_a_folder_that_cannot_be_written_is_appended_to(tmp_path, isolated_home):
    """Answers are appended to the label file in place, so only the file must be writable: a label file
    mounted writable into a read-only folder was refused as if the folder were written."""
    import subprocess

    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nSerbia joins EU talks.\n", encoding="utf-8")
    real = tmp_path / "real.jsonl"
    real.write_bytes(b"")
    with _tmpfs("size=1m") as place:
        shown = place / "labels.jsonl"
        shown.write_bytes(b"")
        if subprocess.run(["mount", "-o", "remount,ro", str(place)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        if subprocess.run(["mount", "--bind", str(real), str(shown)], capture_output=True).returncode:
            pytest.skip("cannot bind-mount a file here")
        try:
            assert "read-only file system" in one_error_line(run_stance(  # a new file there cannot be made
                "label", article, "--labels", place / "new.jsonl", "--annotator", "ana", stdin="f\n"))
            result = run_stance("label", article, "--labels", shown, "--annotator", "ana", "--order", "document",
                                stdin="f\nn\na\nn\n")
        finally:
            subprocess.run(["umount", str(shown)], check=False)
    assert result.returncode == 0 and "2 answered" in result.stderr, result.stderr
    assert [(r["sentence"], r["russia"], r["eu"]) for r in map(json.loads, real.read_text().splitlines())] == [
        (0, "favor", "none"), (1, "against", "none")]


def test_an_output_that_is_a_loop_of_links_is_called_one(tmp_path):
    from stance.paths import OutputPathError, check_writable

    os.symlink(tmp_path / "b", tmp_path / "a")
    os.symlink(tmp_path / "a", tmp_path / "b")
    for folder in (True, False):
        with pytest.raises(OutputPathError, match="a: is a loop of symbolic links; remove the link"):
            check_writable(tmp_path / "a", "--output", folder=folder)


@pytest.mark.integration
def test_a_full_disk_under_output_keeps_what_was_recorded_and_says_so(tmp_path, isolated_home, trained):
    db = tmp_path / "h.sqlite"
    with _tmpfs("size=8k") as full:
        result = run_stance("score", REPO / "seeds", "--output", full / "out", "--record", "--db", db,
                            "--model", trained["model"], "--quiet")
        line = one_error_line(result)
        assert line.startswith(f"error: cannot write a results part in {full}/out: ") and "errno 28" in line
        assert "wrote 0 articles" in line and "run the same command again" in line
        assert not any(p.suffix == ".parquet" for p in (full / "out").iterdir())
    recorded = int(re.search(r"recorded (\d+) articles", line).group(1))
    with sqlite3.connect(db) as conn:
        assert recorded == conn.execute("SELECT count(*) FROM articles").fetchone()[0] == len(list((REPO / "seeds").glob("*.txt")))


@pytest.mark.integration
def test_auto_scores_on_torch_when_the_onnx_export_cannot_be_written(read_only_mount, trained):
    pytest.importorskip("onnxruntime")
    env = {"STANCE_HOME": str(read_only_mount), "STANCE_CACHE": "off"}
    result = run_stance("score", REPO / "seeds" / "000_abad3842fbdbf470.txt", "--json", "--model", trained["model"],
                        env=env)
    assert result.returncode == 0, result.stderr
    assert "the onnx export cannot be written" in result.stderr and "scoring on torch" in result.stderr
    by_torch = run_stance("score", REPO / "seeds" / "000_abad3842fbdbf470.txt", "--json", "--model", trained["model"],
                          "--backend", "torch", env=env)
    assert result.stdout == by_torch.stdout
    line = one_error_line(run_stance("score", REPO / "seeds" / "000_abad3842fbdbf470.txt", "--model", trained["model"],
                                     "--backend", "onnx", env=env))  # asked for by name: refused, not replaced
    assert "cannot write the ONNX export" in line and "--backend torch" in line


@pytest.mark.integration
@pytest.mark.parametrize("earlier", ["without-its-hash", "filed-under-the-weights-alone"])
def test_an_export_of_an_earlier_version_still_serves_a_read_only_home(tmp_path, trained, earlier):
    pytest.importorskip("onnxruntime")
    import subprocess

    seed = REPO / "seeds" / "000_abad3842fbdbf470.txt"
    writable = {"STANCE_HOME": str(tmp_path / "home"), "STANCE_CACHE": "off"}
    first = run_stance("score", seed, "--json", "--model", trained["model"], "--backend", "onnx", env=writable)
    assert first.returncode == 0, first.stderr
    with _tmpfs("size=300m") as home:
        shutil.copytree(tmp_path / "home" / "onnx", home / "onnx")
        for export in (home / "onnx").iterdir():
            if earlier == "without-its-hash":
                (export / "model.onnx.sha256").unlink()  # as an export made before the hash was written beside it
            else:  # as an export made before the folder's settings were part of its name
                export.rename(export.with_name(export.name.split(".")[0]))
        if subprocess.run(["mount", "-o", "remount,ro", str(home)], capture_output=True).returncode:
            pytest.skip("cannot remount read-only here")
        env = {"STANCE_HOME": str(home), "STANCE_CACHE": "off"}
        for backend in ("auto", "onnx"):
            result = run_stance("score", seed, "--json", "--model", trained["model"], "--backend", backend, env=env)
            assert result.returncode == 0 and result.stdout == first.stdout, result.stderr


# --- train's outputs: a model folder is replaced whole, a report folder file by file -------


def _model_folder(path: Path, *extra: str) -> Path:
    """A folder as `stance train` leaves it (its stance.json names the format), with ``extra`` files of the user's."""
    path.mkdir(parents=True)
    (path / "stance.json").write_text(json.dumps({"format": "stance-model"}))
    (path / "head.joblib").write_bytes(b"head")
    for name in extra:
        (path / name).write_text(f"the user's {name}\n")
    return path


def _train(corpus, tmp_path, *args, labels=None):
    default_labels, articles = corpus
    return run_stance("train", "--labels", labels or default_labels, "--articles", articles, *args,
                      env={"STANCE_CACHE": str(tmp_path / "cache.sqlite")})


def _snapshot(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("case", ["config-named-stance.json", "model-with-notes", "holds-the-labels",
                                  "holds-its-encoder"])
def test_train_never_replaces_a_folder_holding_what_a_model_does_not(tmp_path, isolated_home, corpus, case):
    labels, _ = corpus
    more = []
    if case == "config-named-stance.json":
        out = tmp_path / "project"
        out.mkdir()
        (out / "stance.json").write_text('{"my": "config"}')
        (out / "thesis.tex").write_text("a draft\n")
        says = "is not a stance model folder"
    elif case == "model-with-notes":
        out = _model_folder(tmp_path / "model", "NOTES.txt")
        says = "holds files a model folder does not (NOTES.txt), which saving the model would delete"
    elif case == "holds-the-labels":
        out = _model_folder(tmp_path / "model")
        labels = out / "mine.jsonl"
        shutil.copy(corpus[0], labels)
        says = "holds files a model folder does not (mine.jsonl)"
    else:  # a fine-tuned model's encoder folder, given as the encoder of a new model saved in its place
        out = _model_folder(tmp_path / "model")
        (out / "encoder").mkdir()
        (out / "encoder" / "model.safetensors").write_bytes(b"weights")
        more = ["--encoder", out / "encoder"]
        says = "encoder, which this command reads, and saving would delete it"
    before = _snapshot(out)
    line = one_error_line(_train(corpus, tmp_path, "--out", out, "--report-dir", tmp_path / "r", *more,
                                 labels=labels))
    assert says in line, line
    assert _snapshot(out) == before and not (tmp_path / "r").exists()
    assert not (tmp_path / "cache.sqlite").exists() or _cached_vectors(tmp_path / "cache.sqlite") == 0


def test_an_earlier_report_in_a_model_folder_is_replaced_only_where_the_run_writes_its_own(tmp_path, isolated_home,
                                                                                           corpus):
    """Saving a model replaced its folder whole, report files and all, wherever the new report went: an
    earlier evaluation, and a user's PNG named like a figure, were deleted without a word."""
    from stance.errors import ModelIntegrityError
    from stance.paths import PNG_START
    from stance.persist import check_replaceable

    out = _model_folder(tmp_path / "model")
    (out / "report.md").write_text("# Evaluation\n")
    (out / "metrics.json").write_text('{\n  "targets": ["russia"]}\n')
    (out / "confusion_written_cv.png").write_bytes(PNG_START + b"a figure")
    before = _snapshot(out)
    line = one_error_line(_train(corpus, tmp_path, "--out", out, "--report-dir", tmp_path / "r"))
    assert "holds files a model folder does not (confusion_written_cv.png, metrics.json, report.md)" in line
    assert line.endswith(f"(an earlier report there is written anew with --report-dir {out})")
    assert _snapshot(out) == before and not (tmp_path / "r").exists()
    check_replaceable(out, out)  # the run writes its report there: the earlier one is replaced by it
    check_replaceable(out)  # the save itself, which does not know where the report goes
    for elsewhere in (tmp_path / "r", out / "sub", None):
        with pytest.raises(ModelIntegrityError, match="holds files a model folder does not"):
            check_replaceable(out, elsewhere)
    (out / "confusion_my_chart.png").write_bytes(PNG_START + b"the user's own")  # a name no report writes
    line = one_error_line(_train(corpus, tmp_path, "--out", out, "--report-dir", out))
    assert "holds files a model folder does not (confusion_my_chart.png)" in line
    assert (out / "confusion_my_chart.png").read_bytes() == PNG_START + b"the user's own"


@pytest.mark.parametrize("case", ["report-under-a-dangling-link", "out-under-a-dangling-link", "out-the-working-folder",
                                  "out-holds-the-working-folder", "out-a-mount-point"])
def test_train_outputs_that_cannot_be_replaced_are_refused_before_the_work(tmp_path, isolated_home, corpus, case):
    """Each was found only after training, when the save or the report failed: --out under a dangling link,
    or the working folder, with a message of another cause; --report-dir under one after the model was
    replaced; a mount point, leaving a folder behind."""
    (tmp_path / "dangling").symlink_to(tmp_path / "gone")
    out, report, cwd = tmp_path / "model", tmp_path / "report", tmp_path
    says = {"report-under-a-dangling-link": "--report-dir {report}: lies in {link}, a symbolic link to {gone}",
            "out-under-a-dangling-link": "--out {out}: {link} is a symbolic link to {gone}, which leads to no file",
            "out-the-working-folder": "--out .: is the working folder or holds it, and is replaced whole",
            "out-holds-the-working-folder": "--out {out}: is the working folder or holds it, and is replaced whole",
            "out-a-mount-point": "--out {out}: is a mount point, which cannot be replaced whole; give a folder inside it"}
    with contextlib.ExitStack() as stack:
        if case == "report-under-a-dangling-link":
            report = tmp_path / "dangling" / "report"
        elif case == "out-under-a-dangling-link":
            out = tmp_path / "dangling" / "model"
        elif case == "out-the-working-folder":
            out, cwd = Path("."), _model_folder(tmp_path / "model")
        elif case == "out-holds-the-working-folder":
            cwd = _model_folder(tmp_path / "model") / "sub"
            cwd.mkdir()
        else:
            out = stack.enter_context(_tmpfs("size=1m"))
        before = {p: _snapshot(p) for p in (tmp_path / "model", out) if p.is_absolute() and p.is_dir()}
        result = run_stance("train", "--labels", corpus[0], "--articles", corpus[1], "--out", out, "--report-dir",
                            report, env={"STANCE_CACHE": str(tmp_path / "cache.sqlite")}, cwd=cwd)
        line = one_error_line(result)
        assert says[case].format(out=out, report=report, link=tmp_path / "dangling", gone=tmp_path / "gone") in line
        assert {p: _snapshot(p) for p in before} == before and not os.path.lexists(tmp_path / "gone")
        assert not (tmp_path / "cache.sqlite").exists()  # refused before a sentence was embedded
        if case == "out-a-mount-point":
            assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}")) == []


@pytest.mark.parametrize("case", ["own-report-md", "labels-named-predictions", "link-to-a-chapter", "fifo",
                                  "folder-of-other-files"])
def test_train_never_writes_its_report_over_files_it_did_not_write(tmp_path, isolated_home, corpus, case):
    labels, _ = corpus
    report = tmp_path / "report"
    report.mkdir()
    if case == "own-report-md":
        (report / "metrics.json").write_text('{\n  "targets": ["russia"]}')  # an earlier report's
        (report / "report.md").write_text("my own notes\n")
        says = "holds a report.md that no report wrote"
    elif case == "labels-named-predictions":
        labels = report / "predictions.jsonl"
        shutil.copy(corpus[0], labels)
        says = "would overwrite"
    elif case == "link-to-a-chapter":
        (tmp_path / "chapter.md").write_text("Chapter 1\n")
        (report / "report.md").symlink_to(tmp_path / "chapter.md")
        says = "its report.md is not a regular file a report wrote"
    elif case == "fifo":
        os.mkfifo(report / "metrics.json")
        says = "its metrics.json is not a regular file a report wrote"
    else:
        (report / "a.txt").write_text("the user's\n")
        says = "holds files and no earlier report (a.txt)"
    before = {p.name: os.readlink(p) if p.is_symlink() else None for p in report.iterdir()}
    line = one_error_line(_train(corpus, tmp_path, "--out", tmp_path / "model", "--report-dir", report,
                                 labels=labels))
    assert says in line, line
    assert {p.name: os.readlink(p) if p.is_symlink() else None for p in report.iterdir()} == before
    assert not (tmp_path / "model").exists()
    if case == "link-to-a-chapter":
        assert (tmp_path / "chapter.md").read_text() == "Chapter 1\n"


def test_an_earlier_report_or_a_model_with_its_report_may_be_replaced(tmp_path):
    from stance.evaluation import check_report_folder
    from stance.persist import check_replaceable

    check_report_folder(REPO / "experiments" / "minilm-logreg")  # with notes of its own (errors.md) beside it
    model = _model_folder(tmp_path / "model")
    shutil.copy(REPO / "experiments" / "minilm-logreg" / "report.md", model / "report.md")
    check_replaceable(model)  # --report-dir the same as --out: its report is written again
    check_report_folder(model)


def test_a_model_folder_may_hold_its_report_folder_and_nothing_else(tmp_path, isolated_home, corpus):
    out = tmp_path / "model"
    for _ in range(2):  # the second run replaces the model and the report inside it
        result = _train(corpus, tmp_path, "--out", out, "--report-dir", out / "report")
        assert result.returncode == 0, result.stderr
        assert (out / "stance.json").is_file() and (out / "report" / "metrics.json").is_file()
    (out / "report" / "notes.md").write_text("the user's\n")
    line = one_error_line(_train(corpus, tmp_path, "--out", out, "--report-dir", out / "report"))
    assert "holds files a model folder does not (report)" in line
    assert (out / "report" / "notes.md").read_text() == "the user's\n"


def test_a_report_folder_may_hold_the_model_folder_of_its_run(tmp_path, isolated_home, corpus):
    """--out inside a new --report-dir was refused after training, and every run after it before."""
    report = tmp_path / "run"
    for _ in range(2):
        result = _train(corpus, tmp_path, "--out", report / "model", "--report-dir", report)
        assert result.returncode == 0, result.stderr
        assert (report / "model" / "stance.json").is_file() and (report / "metrics.json").is_file()
    metrics = json.loads((report / "metrics.json").read_text("utf-8"))
    assert metrics["provenance"]["model_folder"] == str(report / "model")


def test_an_output_folder_that_is_a_dangling_link_or_a_fifo_is_named_as_such(tmp_path, isolated_home, corpus):
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    os.mkfifo(tmp_path / "pipe")
    line = one_error_line(_train(corpus, tmp_path, "--out", tmp_path / "dangling"))
    assert "is a symbolic link to" in line and "which does not exist; make that folder" in line
    line = one_error_line(_train(corpus, tmp_path, "--out", tmp_path / "m", "--report-dir", tmp_path / "pipe"))
    assert "is a FIFO (named pipe), not a folder" in line


def test_a_label_file_given_twice_is_named_as_given_twice(tmp_path, isolated_home, corpus):
    labels, articles = corpus
    line = one_error_line(run_stance("train", "--labels", labels, "--labels", labels.parent / "." / labels.name,
                                     "--articles", articles, "--out", tmp_path / "m"))
    assert "is given more than once; give each label file once" in line


def test_cache_info_and_clear_make_no_cache_where_there_is_none(tmp_path, isolated_home):
    """Commands that report or empty the cache write nothing: not at a mistyped path, not into an empty file."""
    folder = tmp_path / "caches"
    folder.mkdir()
    typo = folder / "typo.db"
    for command in (["cache", "info"], ["cache", "clear"]):
        done = run_stance(*command, env={"STANCE_CACHE": str(typo)})
        assert done.returncode == 0 and "0 vectors" in done.stdout, done.stderr
    as_json = run_stance("cache", "info", "--json", env={"STANCE_CACHE": str(typo)})
    assert json.loads(as_json.stdout)["vectors"] == 0 and json.loads(as_json.stdout)["exists"] is False
    assert not os.path.lexists(typo) and os.listdir(folder) == []
    notes = folder / "notes.txt"
    notes.write_bytes(b"")
    for command in (["cache", "info"], ["cache", "clear"]):
        assert run_stance(*command, env={"STANCE_CACHE": str(notes)}).returncode == 0
    assert notes.read_bytes() == b"" and os.listdir(folder) == ["notes.txt"]


def test_a_file_that_is_no_cache_is_named_without_sending_the_user_to_cache_clear(tmp_path, isolated_home):
    """`cache clear` leaves such a file alone, so an error that tells the user to run it goes in a circle."""
    from stance.encoders.cache import CacheError, DamagedCacheError, EmbeddingCache

    settings = tmp_path / "stance.json"
    settings.write_text('{"targets": ["russia", "eu"]}\n', encoding="utf-8")
    with pytest.raises(CacheError) as caught:
        EmbeddingCache(settings)
    assert not isinstance(caught.value, DamagedCacheError)
    line = one_error_line(run_stance("cache", "info", env={"STANCE_CACHE": str(settings)}))
    assert "not an SQLite file" in line and "STANCE_CACHE to another file" in line and "cache clear" not in line
    assert settings.read_text(encoding="utf-8") == '{"targets": ["russia", "eu"]}\n'


def test_an_output_name_too_long_for_its_temporary_is_refused_before_the_work_and_one_that_fits_is_written(
        tmp_path, isolated_home):
    from stance.store import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("a1", "2025-01-01", {"russia": 0.1})])
    long_name = tmp_path / ("b" * 246 + ".csv")  # a valid name: the system takes up to 255 bytes
    line = one_error_line(run_stance("export", "--output", long_name, "--db", db))
    assert "a name of 250 bytes leaves no room for the temporary written beside it" in line
    assert sorted(os.listdir(tmp_path)) == ["h.sqlite", "home"]
    fits = tmp_path / ("b" * 220 + ".csv")
    assert run_stance("export", "--output", fits, "--db", db).returncode == 0 and fits.stat().st_size > 0
