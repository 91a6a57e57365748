"""A sweep of hostile inputs across every command: each ends quickly, in one line, with no traceback.

Every case builds its inputs in a fresh folder and runs the installed ``stance``
script with a time limit. What is asserted is the contract of the CLI for bad
input: a non-zero exit (1 for bad data, 2 for bad usage), no traceback, a short
message that starts with ``error:`` (or typer's usage form), and no hang. The
narrower tests of each class (what exactly is refused, what is kept) live in
the other ``test_hostile_*`` files.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from conftest import REPO, stance_script, write_corpus

SEED = REPO / "seeds" / "000_abad3842fbdbf470.txt"
TIMEOUT = 120


def _file(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _fifo(folder: Path, name: str = "pipe.txt") -> Path:
    path = folder / name
    os.mkfifo(path)
    return path


def _sqlite(folder: Path, name: str, *statements: str) -> Path:
    """An SQLite file of another program, made by running ``statements``."""
    path = folder / name
    with sqlite3.connect(path) as conn:
        for statement in statements:
            conn.execute(statement)
    return path


def _foreign_sqlite(folder: Path) -> Path:
    return _sqlite(folder, "foreign.sqlite", "CREATE TABLE notes (x TEXT)", "INSERT INTO notes VALUES ('mine')")


def _versioned_sqlite(folder: Path) -> Path:
    return _sqlite(folder, "v1.sqlite", "PRAGMA user_version = 1", "CREATE TABLE other (x)")


_METRICS = json.dumps({"targets": ["russia"], "evaluations": {}, "provenance": {}}).encode()


def _run_folder(folder: Path, metrics: bytes, predictions: bytes | None) -> Path:
    """A training run folder with the given metrics.json and predictions.jsonl (None: a FIFO in its place)."""
    run = folder / "run"
    run.mkdir()
    _file(run, "metrics.json", metrics)
    if predictions is None:
        _fifo(run, "predictions.jsonl")
    else:
        _file(run, "predictions.jsonl", predictions)
    return run


def _labels(folder: Path, rows: list[dict]) -> Path:
    path = folder / "labels.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _one_class_labels(folder: Path) -> Path:
    path = write_corpus(folder / "corpus")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    for row in rows:
        row["russia"] = "none"
    return _labels(folder, rows)


def _one_article_labels(folder: Path) -> Path:
    path = write_corpus(folder / "corpus", n_articles=1)
    return path


def _parquet_garbage(folder: Path) -> Path:
    results = folder / "results"
    results.mkdir()
    _file(results, "part-00000.parquet", b"PAR1" + b"\x00" * 100)
    return results


def _table(folder: Path, name: str, data: str) -> Path:
    return _file(folder, name, data.encode("utf-8"))


def _under_file(folder: Path, tail: str) -> Path:
    blocker = _file(folder, "blocker", b"a regular file")
    return blocker / tail


# Each case: an id, the exit code wanted, and a function of a tmp folder giving the arguments
# (and optionally environment variables). Cases that need a trained model use "{model}".
CASES = [
    # articles
    ("score-missing-file", 1, lambda d: ["score", d / "nope.txt"]),
    ("score-fifo", 1, lambda d: ["score", _fifo(d)]),
    ("score-dev-zero", 1, lambda d: ["score", "/dev/zero"]),
    ("score-binary", 1, lambda d: ["score", _file(d, "a.txt", b"\x00\x01\x02" * 50)]),
    ("score-utf16-no-bom", 1, lambda d: ["score", _file(d, "a.txt", "Serbia buys gas.\n".encode("utf-16-le"))]),
    ("score-empty-file", 1, lambda d: ["score", _file(d, "a.txt", b"")]),
    ("score-csv-header-only", 1, lambda d: ["score", _table(d, "t.csv", "id,text,date\n")]),
    ("score-jsonl-empty", 1, lambda d: ["score", _table(d, "t.jsonl", "")]),
    ("score-jsonl-malformed", 1, lambda d: ["score", _table(d, "t.jsonl", '{"text": "Serbia."}\n{oops\n')]),
    ("score-parquet-garbage", 1, lambda d: ["score", _file(d, "t.parquet", b"not parquet at all")]),
    ("score-bad-date", 2, lambda d: ["score", SEED, "--date", "yesterday"]),
    ("score-far-date", 2, lambda d: ["score", SEED, "--date", "9999-12-31"]),
    ("score-table-far-date", 1, lambda d: ["score", _table(d, "t.jsonl", '{"text": "Serbia buys gas.", "date": "9999-12-31"}\n'),
                                            "--model", "{model}"]),
    ("score-model-missing", 1, lambda d: ["score", SEED, "--model", d / "no-model"]),
    ("score-model-is-file", 1, lambda d: ["score", SEED, "--model", _file(d, "m", b"x")]),
    ("score-model-empty-folder", 1, lambda d: ["score", SEED, "--model", d]),
    ("score-output-under-file", 1, lambda d: ["score", SEED, "--model", "{model}", "--output", _under_file(d, "out")]),
    ("score-db-under-file", 1, lambda d: ["score", SEED, "--model", "{model}", "--record", "--db", _under_file(d, "h.sqlite")]),
    ("score-db-is-folder", 1, lambda d: ["score", SEED, "--model", "{model}", "--record", "--db", d]),
    ("score-db-foreign", 1, lambda d: ["score", SEED, "--model", "{model}", "--record", "--db", _foreign_sqlite(d)]),
    ("score-db-empty-file", 1, lambda d: ["score", SEED, "--model", "{model}", "--record", "--db", _file(d, "h.sqlite", b"")]),
    ("score-bad-engine", 2, lambda d: ["score", SEED, "--engine", "spark"]),
    # drift and record
    ("drift-db-missing", 1, lambda d: ["drift", "--db", d / "none.sqlite"]),
    ("drift-db-foreign", 1, lambda d: ["drift", "--db", _foreign_sqlite(d)]),
    ("drift-db-version-1-foreign", 1, lambda d: ["drift", "--db", _versioned_sqlite(d)]),
    ("drift-db-empty-file", 1, lambda d: ["drift", "--db", _file(d, "h.sqlite", b"")]),
    ("drift-db-garbage", 1, lambda d: ["drift", "--db", _file(d, "h.sqlite", b"garbage" * 1000)]),
    ("drift-results-empty-folder", 1, lambda d: ["drift", "--results", d]),
    ("drift-results-garbage-part", 1, lambda d: ["drift", "--results", _parquet_garbage(d)]),
    ("drift-bad-since", 2, lambda d: ["drift", "--since", "2025-13-01"]),
    ("drift-far-until", 2, lambda d: ["drift", "--until", "0001-01-01"]),
    ("drift-plot-under-file", 1, lambda d: ["drift", "--results", _parquet_garbage(d), "--plot", _under_file(d, "x.png")]),
    ("record-garbage-part", 1, lambda d: ["record", _parquet_garbage(d), "--db", d / "h.sqlite"]),
    ("drift-top-zero", 2, lambda d: ["drift", "--results", _parquet_garbage(d), "--top", "0"]),
    ("drift-html-under-file", 1, lambda d: ["drift", "--results", _parquet_garbage(d), "--html", _under_file(d, "d.html")]),
    # the sentence export
    ("export-db-missing", 1, lambda d: ["export", "--db", d / "none.sqlite", "--output", d / "s.csv"]),
    ("export-db-foreign", 1, lambda d: ["export", "--db", _foreign_sqlite(d), "--output", d / "s.csv"]),
    ("export-results-garbage-part", 1, lambda d: ["export", "--results", _parquet_garbage(d), "--output", d / "s.parquet"]),
    ("export-unknown-suffix", 1, lambda d: ["export", "--db", d / "none.sqlite", "--output", d / "s.xlsx"]),
    ("export-output-under-file", 1, lambda d: ["export", "--db", _foreign_sqlite(d), "--output", _under_file(d, "s.csv")]),
    ("export-db-and-results", 2, lambda d: ["export", "--db", d / "h.sqlite", "--results", d, "--output", d / "s.csv"]),
    ("check-model-missing", 1, lambda d: ["check", "--model", d / "no-model"]),
    ("check-model-is-fifo", 1, lambda d: ["check", "--model", _fifo(d, "m")]),
    ("check-model-empty-folder", 1, lambda d: ["check", "--model", d]),
    ("check-bad-backend", 1, lambda d: ["check", "--model", "{model}", "--backend", "gpu"]),
    # the evaluation page
    ("report-folder-missing", 1, lambda d: ["report", d / "none", "--html", d / "r.html"]),
    ("report-metrics-garbage", 1, lambda d: ["report", _run_folder(d, b"\x00garbage", b"{}\n"), "--html", d / "r.html"]),
    ("report-metrics-foreign", 1, lambda d: ["report", _run_folder(d, b'{"a": 1}', b"{}\n"), "--html", d / "r.html"]),
    ("report-predictions-garbage", 1, lambda d: ["report", _run_folder(d, _METRICS, b"{not json\n"), "--html", d / "r.html"]),
    ("report-metrics-fifo", 1, lambda d: ["report", _fifo(d, "metrics.json").parent, "--html", d / "r.html"]),
    ("report-predictions-fifo", 1, lambda d: ["report", _run_folder(d, _METRICS, None), "--html", d / "r.html"]),
    ("report-experiments-no-table", 1, lambda d: ["report", _run_folder(d, _METRICS, b""), "--html", d / "r.html",
                                                  "--experiments", _file(d, "t.md", b"no table here")]),
    ("report-html-under-file", 1, lambda d: ["report", _run_folder(d, _METRICS, b""), "--html", _under_file(d, "r.html")]),
    # training and labels
    ("train-labels-missing", 1, lambda d: ["train", "--labels", d / "none.jsonl", "--out", d / "m"]),
    ("train-labels-empty", 1, lambda d: ["train", "--labels", _file(d, "l.jsonl", b""), "--out", d / "m"]),
    ("train-labels-binary", 1, lambda d: ["train", "--labels", _file(d, "l.jsonl", b"\x00\xff" * 40), "--out", d / "m"]),
    ("train-one-class", 1, lambda d: ["train", "--labels", _one_class_labels(d), "--articles", d / "corpus",
                                      "--out", d / "m", "--report-dir", d / "r"]),
    ("train-one-article", 1, lambda d: ["train", "--labels", _one_article_labels(d), "--articles", d / "corpus",
                                        "--out", d / "m", "--report-dir", d / "r"]),
    ("train-out-under-file", 1, lambda d: ["train", "--labels", write_corpus(d / "corpus"), "--articles", d / "corpus",
                                           "--out", _under_file(d, "m"), "--report-dir", d / "r"]),
    ("train-report-under-file", 1, lambda d: ["train", "--labels", write_corpus(d / "corpus"), "--articles", d / "corpus",
                                              "--out", d / "m", "--report-dir", _under_file(d, "r")]),
    ("train-encoder-missing", 1, lambda d: ["train", "--labels", write_corpus(d / "corpus"), "--encoder", d / "no-encoder",
                                            "--out", d / "m", "--report-dir", d / "r"]),
    ("label-labels-under-file", 1, lambda d: ["label", SEED, "--labels", _under_file(d, "l.jsonl")]),
    ("labels-stats-binary", 1, lambda d: ["labels", "stats", _file(d, "l.jsonl", b"\xff\xfe\x00garbage")]),
    ("labels-merge-out-under-file", 1, lambda d: ["labels", "merge", write_corpus(d / "corpus"), "--out", _under_file(d, "m.jsonl")]),
    ("distill-out-under-file", 1, lambda d: ["distill", "--out", _under_file(d, "static")]),
    # caches and environment
    ("cache-max-mb-not-a-number", 1, lambda d: (["cache", "info"], {"STANCE_CACHE_MAX_MB": "abc"})),
    ("cache-info-garbage-file", 1, lambda d: (["cache", "info"], {"STANCE_CACHE": str(_file(d, "c.sqlite", b"junk" * 500))})),
]


@pytest.fixture(scope="module")
def hostile_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("hostile-home")
    return {**os.environ, "HOME": str(home), "STANCE_HOME": str(home / "stance"), "HF_HUB_OFFLINE": "1",
            "STANCE_CACHE": str(home / "cache.sqlite")}


def _run(args, env, cwd):
    try:
        return subprocess.run([stance_script(), *map(str, args)], capture_output=True, text=True, env=env,
                              cwd=cwd, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"stance {' '.join(map(str, args))} did not end within {TIMEOUT} s")


def _param(case, code, build):
    """A case as a test parameter; one that needs the trained model is an integration test (it trains for minutes)."""
    consts = [c for const in build.__code__.co_consts for c in (const if isinstance(const, tuple) else (const,))]
    return pytest.param(case, code, build, id=case, marks=[pytest.mark.integration] if "{model}" in consts else [])


@pytest.mark.parametrize(("case", "code", "build"), [_param(*c) for c in CASES])
def test_hostile_input_ends_in_one_line(case, code, build, tmp_path, hostile_home, request):
    built = build(tmp_path)
    args, extra = built if isinstance(built, tuple) else (built, {})
    if "{model}" in args:
        model = request.getfixturevalue("trained")["model"]
        args = [model if a == "{model}" else a for a in args]
    result = _run(args, {**hostile_home, **extra}, cwd=tmp_path)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not line.startswith("warning: ")]
    if code == 1:
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    else:  # typer's usage form: a usage line, a hint and the error
        assert len(lines) <= 4 and any("Error" in line or "error" in line for line in lines), result.stderr
