"""The history database and results folders against hostile input: clashing ids, foreign or
read-only databases, broken result parts and dates no report can handle."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

import pytest

from conftest import REPO, make_scores, one_error_line, run_stance, stance_script

NEWS_A = "Serbia signs a gas deal with Russia.\nVucic thanks Putin for the friendship.\n"
NEWS_B = "Belgrade cancels Russian arms contracts.\nSerbia opens new chapters with Brussels.\n"
OTHER = "The weather in Belgrade was mild on Tuesday.\nSerbia stands with its Russian ally.\n"


def _last_error_line(result) -> str:
    """The one error line of a run that did its work and then failed (warnings and notes beside it)."""
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


def _article(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _two_folders(root: Path) -> None:
    """a/ and b/ each hold a news.txt of their own; b/ also holds another article."""
    _article(root / "a" / "news.txt", NEWS_A)
    _article(root / "b" / "news.txt", NEWS_B)
    _article(root / "b" / "other.txt", OTHER)


def _sha(text: str) -> str:
    import hashlib

    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _rows(db: Path) -> list[tuple]:
    """Recorded (article, text hash, location) in article order (location None where not kept)."""
    with closing(sqlite3.connect(db)) as conn:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(articles)")}
        location = "location" if "location" in columns else "NULL"
        return conn.execute(f"SELECT article, content_sha256, {location} FROM articles ORDER BY article").fetchall()


def _snapshot(path: Path) -> tuple[bytes, int, list[str]]:
    """A file's bytes and mtime, and which files sit beside it."""
    return path.read_bytes(), path.stat().st_mtime_ns, sorted(p.name for p in path.parent.iterdir())


def _drift_total(report: dict) -> int:
    return report["undated"] + sum(p["n_articles"] for p in report["periods"])


# --- 1. an id names one article ------------------------------------------------------


@pytest.mark.integration
def test_another_text_under_a_recorded_id_is_refused_then_replaced_on_request(trained, tmp_path):
    _two_folders(tmp_path)
    db = tmp_path / "h.sqlite"
    score = ("score", "--record", "--db", db, "--model", trained["model"], "--quiet", "--date", "2025-01-01")
    first = run_stance(*score[:1], "a", *score[1:], cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    kept = _rows(db)
    assert [row[:2] for row in kept] == [("news", _sha(NEWS_A))]

    second = run_stance(*score[:1], "b", *score[1:], cwd=tmp_path)
    warnings = [line for line in second.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "b/news.txt" in warnings[0] and "a/news.txt" in warnings[0], second.stderr
    last = _last_error_line(second)
    assert "1 article" in last and "distinct ids" in last and "--replace" in last
    lines = second.stderr.strip().splitlines()
    assert lines.index(warnings[0]) < lines.index(last), second.stderr  # the reason comes before the summary
    rows = _rows(db)
    assert rows[0] == kept[0] == ("news", _sha(NEWS_A), "a/news.txt")  # run 1's article is untouched
    assert [r[0] for r in rows] == ["news", "other"]  # the other article went on

    same = run_stance(*score[:1], "a", *score[1:], cwd=tmp_path)  # the same text again: replaced, harmless
    assert same.returncode == 0 and "warning" not in same.stderr, same.stderr

    replaced = run_stance(*score[:1], "b", *score[1:], "--replace", cwd=tmp_path)
    assert replaced.returncode == 0, replaced.stderr
    assert _rows(db) == [("news", _sha(NEWS_B), "b/news.txt"), ("other", _sha(OTHER), "b/other.txt")]
    report = json.loads(run_stance("drift", "--db", db, "--json").stdout)
    assert _drift_total(report) == 2  # news counts once


@pytest.mark.integration
def test_another_text_under_an_id_in_a_results_folder_is_not_resumed_as_done(trained, tmp_path):
    import pandas as pd

    _two_folders(tmp_path)
    out = tmp_path / "results"
    score = ("score", "--output", out, "--model", trained["model"], "--quiet", "--date", "2025-01-01")
    assert run_stance(*score[:1], "a", *score[1:], cwd=tmp_path).returncode == 0

    second = run_stance(*score[:1], "b", *score[1:], cwd=tmp_path)
    warnings = [line for line in second.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "b/news.txt" in warnings[0] and "a/news.txt" in warnings[0], second.stderr
    assert "--replace" in _last_error_line(second)
    frame = pd.read_parquet(out)
    assert sorted(frame["article"]) == ["news", "other"]
    assert frame.set_index("article").loc["news", "content_sha256"] == _sha(NEWS_A)

    _article(tmp_path / "a" / "news.txt", NEWS_A + "An edited closing line.\n")  # an edited article is not resumed
    edited = run_stance(*score[:1], "a", *score[1:], cwd=tmp_path)
    assert "--replace" in _last_error_line(edited)

    replaced = run_stance(*score[:1], "b", *score[1:], "--replace", cwd=tmp_path)
    assert replaced.returncode == 0 and "wrote 1 articles" in replaced.stderr, replaced.stderr
    assert len(pd.read_parquet(out)) == 3  # the new version is appended in a new part
    report = json.loads(run_stance("drift", "--results", out, "--json").stdout)
    assert _drift_total(report) == 2  # the last version counts, once
    db = tmp_path / "h.sqlite"
    assert run_stance("record", out, "--db", db).returncode == 0
    assert [(r[0], r[1]) for r in _rows(db)] == [("news", _sha(NEWS_B)), ("other", _sha(OTHER))]
    resumed = run_stance(*score[:1], "b", *score[1:], cwd=tmp_path)  # the same text again: skipped
    assert resumed.returncode == 0 and "wrote 0 articles" in resumed.stderr, resumed.stderr


def _many_articles(folder: Path, n: int = 200) -> Path:
    """``n`` articles, far more than are scored before a run is cut short, each a seed article with a line of its own."""
    seeds = sorted((REPO / "seeds").glob("*.txt"))
    for i in range(n):
        _article(folder / f"a{i:03d}.txt", seeds[i % len(seeds)].read_text(encoding="utf-8") + f"Copy {i}.\n")
    return folder


def _as_from_a_terminal():
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _cut_short(args: list, stop: str) -> tuple[list[str], str, int]:
    """Run ``stance score ARGS --json`` and cut it short after three articles: Ctrl-C, `kill` (SIGTERM, as
    `timeout` and schedulers send), or a reader that goes.

    Returns the lines printed before, stderr and the exit status.
    """
    import signal

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "STANCE_CACHE": "off", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([stance_script(), "score", *map(str, args), "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_as_from_a_terminal)
    printed = [proc.stdout.readline() for _ in range(3)]  # three articles scored
    assert all(printed), proc.stderr.read()
    if stop in ("ctrl-c", "kill"):
        proc.send_signal(signal.SIGINT if stop == "ctrl-c" else signal.SIGTERM)
    else:
        proc.stdout.close()  # as `stance score ... | head -3` does
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert "Traceback" not in err, err
    return printed, err, proc.returncode


@pytest.mark.integration
@pytest.mark.parametrize(("stop", "code", "reason"), [("ctrl-c", 130, "interrupted"), ("kill", 130, "interrupted"),
                                                     ("reader gone", 1, "standard output closed")])
def test_a_run_cut_short_keeps_every_article_scored_and_says_how_to_finish(trained, tmp_path, stop, code, reason):
    import pandas as pd

    folder = _many_articles(tmp_path / "many")
    db, out = tmp_path / "h.sqlite", tmp_path / "results"
    printed, err, returncode = _cut_short([folder, "--model", trained["model"], "--record", "--db", db,
                                           "--output", out, "--quiet", "--date", "2025-01-01"], stop)

    assert returncode == code, err
    last = err.strip().splitlines()[-1]
    match = re.fullmatch(rf"error: {reason} after (\d+) articles; recorded (\d+) articles in .*; "
                         r"wrote (\d+) articles to .*; run the same command again to finish .*", last)
    assert match, err
    scored, recorded, wrote = map(int, match.groups())
    assert len(printed) <= scored + 1 and scored < 200 and recorded == wrote == scored
    assert len(_rows(db)) == scored and len(pd.read_parquet(out)) == scored
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


@pytest.mark.integration
def test_a_recorded_run_cut_short_is_finished_without_scoring_again_what_it_stored(trained, tmp_path):
    folder = _many_articles(tmp_path / "many")
    db = tmp_path / "h.sqlite"
    args = [folder, "--model", trained["model"], "--record", "--db", db, "--quiet", "--date", "2025-01-01"]
    _, err, returncode = _cut_short(args, "ctrl-c")
    assert returncode == 130, err
    assert err.strip().endswith("run the same command with --skip-recorded to finish "
                                "(articles already recorded are skipped)"), err
    with closing(sqlite3.connect(db)) as conn:
        stored = conn.execute("SELECT article, id, scored_at FROM articles ORDER BY article").fetchall()
    assert 0 < len(stored) < 200

    finished = run_stance("score", *args, "--json", "--skip-recorded")
    assert finished.returncode == 0, finished.stderr
    printed = [json.loads(line)["article"] for line in finished.stdout.splitlines()]
    assert sorted(printed) == sorted({f"a{i:03d}" for i in range(200)} - {row[0] for row in stored})
    assert f"skipped {len(stored)} articles already recorded with this text and model" in finished.stderr
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (200,)
        again = conn.execute(f"SELECT article, id, scored_at FROM articles WHERE article IN "
                             f"({','.join('?' * len(stored))}) ORDER BY article", [r[0] for r in stored]).fetchall()
    assert again == stored  # what the first run stored was left as it was, not scored again


def test_skip_recorded_skips_only_what_every_place_asked_to_keep_holds(tmp_path, isolated_home):
    import warnings

    from stance.corpus import Document
    from stance.errors import StanceWarning
    from stance.results import ResultsFolder, Versions
    from stance.store import HistoryStore

    def chosen(**options) -> tuple[list[str], int, int]:
        """The ids to score, how many were skipped and how many refused (their warnings are counted, not shown)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", StanceWarning)
            versions = Versions("m1", store=store, **options)
            ids = [doc.id for doc in versions.select(documents)]
        return ids, versions.skipped, versions.refused

    # make_scores hashes an article's id as its text: "clash" is recorded with a text other than its document's.
    documents = [Document(name, name if name != "clash" else "an edited text") for name in
                 ("same", "recorded", "clash", "only-in-folder", "new")]
    folder = ResultsFolder(tmp_path / "r", "m1")
    folder.write([make_scores(name, "2025-01-01", {"russia": 0.1}) for name in ("same", "only-in-folder")])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores(name, "2025-01-01", {"russia": 0.1}) for name in ("same", "recorded", "clash")])

        assert chosen(skip_recorded=True) == (["only-in-folder", "new"], 2, 1)
        assert chosen() == (["same", "recorded", "only-in-folder", "new"], 0, 1)  # without it, all is scored again
        assert chosen(skip_recorded=True, replace=True) == (["clash", "only-in-folder", "new"], 2, 0)
        # with a results folder too, an article is skipped only where both hold its text
        assert chosen(skip_recorded=True, folder=folder) == (["recorded", "only-in-folder", "new"], 1, 1)
        assert chosen(folder=folder) == (["recorded", "new"], 2, 1)  # the folder alone resumes, as before


def test_articles_resumed_from_a_results_folder_are_recorded_from_it_when_the_database_lacks_them(
        tmp_path, isolated_home):
    """A run that wrote --output first and then ran again with --record skipped every article (it was in
    the folder) and so recorded none of them, exit 0."""
    import warnings

    from stance.corpus import Document
    from stance.errors import StanceWarning
    from stance.results import ResultsFolder, Versions
    from stance.store import HistoryStore

    documents = [Document(name, name) for name in ("same", "only-in-folder", "other-in-store", "new")]
    ResultsFolder(tmp_path / "r", "m1").write([make_scores(name, "2025-01-01", {"russia": 0.1})
                                                for name in ("same", "only-in-folder", "other-in-store")])
    folder = ResultsFolder(tmp_path / "r", "m1")  # as the second run opens it
    with HistoryStore(tmp_path / "h.sqlite") as store:
        store.record([make_scores(name, "2025-01-01", {"russia": 0.1}) for name in ("same", "other-in-store")])
        with store._conn:  # recorded from another text than the folder's
            store._conn.execute("UPDATE articles SET content_sha256 = ? WHERE article = 'other-in-store'", (_sha("x"),))
        versions = Versions("m1", folder=folder, store=store)
        assert [doc.id for doc in versions.select(documents)] == ["new"] and versions.skipped == 3
        assert versions.unrecorded == {("only-in-folder", None), ("other-in-store", None)}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StanceWarning)
            assert versions.record_resumed(lambda batch: store.record(batch, replace=False)) == 1
        assert store.refused == 1 and "other-in-store" in str(caught[0].message)  # another text: not replaced
        assert not versions.unrecorded and versions.record_resumed(store.record) == 0
    assert [(r[0], r[1] == _sha(r[0])) for r in _rows(tmp_path / "h.sqlite")] == [
        ("only-in-folder", True), ("other-in-store", False), ("same", True)]


def test_an_article_given_again_with_another_date_is_named_and_written_anew_with_replace(tmp_path, isolated_home):
    """Its text was in the results folder, so a corrected --date was skipped with the rest, unseen."""
    from stance.corpus import Document
    from stance.errors import StanceWarning
    from stance.results import ResultsFolder, Versions

    ResultsFolder(tmp_path / "r", "m1").write([make_scores(n, "2025-01-01", {"russia": 0.1}) for n in ("kept", "redated")])
    documents = [Document("kept", "kept", date="2025-01-01"), Document("redated", "redated", date="2025-04-01")]
    versions = Versions("m1", folder=ResultsFolder(tmp_path / "r", "m1"))
    with pytest.warns(StanceWarning, match=r"r holds it dated 2025-01-01, not 2025-04-01 as now; it is kept as it was: "
                                           r"pass --replace to write it with the new date"):
        assert [doc.id for doc in versions.select(documents)] == []
    assert versions.skipped == 2 and versions.redated == 1
    replacing = Versions("m1", folder=ResultsFolder(tmp_path / "r", "m1"), replace=True)
    assert [doc.id for doc in replacing.select(documents)] == ["redated"] and replacing.skipped == 1


@pytest.mark.integration
def test_a_folder_written_first_and_recorded_second_is_recorded_whole(trained, tmp_path):
    folder = _many_articles(tmp_path / "many", 5)
    out, db = tmp_path / "results", tmp_path / "h.sqlite"
    common = [folder, "--model", trained["model"], "--output", out, "--quiet", "--date", "2025-01-01"]
    first = run_stance("score", *common)
    assert first.returncode == 0 and "wrote 5 articles" in first.stderr, first.stderr
    (folder / "a005.txt").write_text("Serbia signs a new gas contract with Russia.\n", encoding="utf-8")
    second = run_stance("score", *common, "--record", "--db", db)
    assert second.returncode == 0, second.stderr
    assert "recorded 6 articles" in second.stderr and "wrote 1 articles" in second.stderr, second.stderr
    assert sorted(r[0] for r in _rows(db)) == [f"a{i:03d}" for i in range(6)]
    again = run_stance("score", *common, "--record", "--db", db)
    assert again.returncode == 0 and "recorded 0 articles" in again.stderr, again.stderr


def test_recording_folders_that_clash_refuses_the_later_text(tmp_path, isolated_home):
    from stance.results import ResultsFolder

    first, second = ResultsFolder(tmp_path / "r1", "m1"), ResultsFolder(tmp_path / "r2", "m1")
    one, two = make_scores("news", "2025-01-01", {"russia": 0.1}), make_scores("news", "2025-01-01", {"russia": 0.9})
    one.location, two.location = "a/news.txt", "b/news.txt"
    two.content_sha256 = _sha("another text")
    first.write([one])
    second.write([two, make_scores("x", "2025-01-01", {"russia": 0.0})])
    db = tmp_path / "h.sqlite"
    result = run_stance("record", tmp_path / "r1", tmp_path / "r2", "--db", db)
    assert "b/news.txt" in result.stderr and "--replace" in _last_error_line(result)
    assert [(r[0], r[2]) for r in _rows(db)] == [("news", "a/news.txt"), ("x", None)]


# --- 2. foreign databases --------------------------------------------------------------


def _foreign(path: Path, kind: str) -> Path:
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "text":
        path.write_text("id,name\n1,not a database\n" * 100)
    else:
        with closing(sqlite3.connect(path)) as conn:
            if kind == "wal":
                conn.execute("PRAGMA journal_mode = WAL")
            if kind == "version-only":
                conn.execute("PRAGMA user_version = 1")
            elif kind == "other-id":
                from stance.store import MIGRATIONS

                for statement in MIGRATIONS[0]:
                    conn.execute(statement)
                conn.execute("PRAGMA user_version = 1")
                conn.execute("PRAGMA application_id = 42")
            elif kind == "same-names":  # tables named as stance's, with other columns, and a schema version
                conn.execute("CREATE TABLE articles (id INTEGER PRIMARY KEY, headline TEXT)")
                conn.execute("CREATE TABLE sentences (article_id INTEGER, body TEXT)")
                conn.execute("INSERT INTO articles VALUES (1, 'Their headline')")
                conn.execute("PRAGMA user_version = 1")
            else:
                conn.execute("CREATE TABLE contacts (name TEXT, phone TEXT)")
                conn.execute("INSERT INTO contacts VALUES ('Ana', '123')")
            conn.commit()
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    return path


@pytest.mark.parametrize(
    ("kind", "message"),
    [("empty", "empty file"), ("text", "not an SQLite file"), ("plain", "another program"), ("wal", "another program"),
     ("version-only", "another program"), ("other-id", "another program"), ("same-names", "another program")],
)
def test_a_foreign_database_is_refused_and_left_untouched(tmp_path, isolated_home, kind, message):
    from stance.results import ResultsFolder

    _article(tmp_path / "x.txt", NEWS_A)
    ResultsFolder(tmp_path / "r", "m1").write([make_scores("x", "2025-01-01", {"russia": 0.1})])
    db = _foreign(tmp_path / "theirs.sqlite", kind)
    before = _snapshot(db)
    for command in (["drift", "--db", db], ["record", tmp_path / "r", "--db", db],
                    ["score", tmp_path / "x.txt", "--record", "--db", db, "--model", tmp_path / "no-model"]):
        line = one_error_line(run_stance(*command))
        assert message in line and str(db) in line, command
        assert _snapshot(db) == before, command  # same bytes, same mtime, no -wal or -shm beside it


def test_an_earlier_stance_database_is_read_untouched_and_upgraded_when_written(tmp_path, isolated_home):
    from stance.results import ResultsFolder
    from stance.store import MIGRATIONS

    db = tmp_path / "old.sqlite"
    with closing(sqlite3.connect(db)) as conn:  # as stance made it before it set an application id
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        summary = {"russia": {"favor": 1, "against": 0, "none": 0, "p_favor": 1.0, "p_against": 0.0, "p_none": 0.0,
                              "net": 0.5}}
        conn.execute("INSERT INTO articles (article, source, model_id, content_sha256, date, n_sentences, n_skipped, "
                     "summary, model, scored_at) VALUES ('old', '', 'm1', 'x', '2025-01-01', 1, 0, ?, ?, ?)",
                     (json.dumps(summary), json.dumps({"id": "m1"}), "2025-01-02T00:00:00+00:00"))
        conn.commit()
    before = _snapshot(db)
    report = run_stance("drift", "--db", db, "--json")
    assert report.returncode == 0 and _drift_total(json.loads(report.stdout)) == 1, report.stderr
    assert _snapshot(db) == before  # read without a write
    scores = make_scores("new", "2025-02-01", {"russia": 0.2})
    scores.location = "x/new.txt"
    ResultsFolder(tmp_path / "r", "m1").write([scores])
    assert run_stance("record", tmp_path / "r", "--db", db).returncode == 0
    assert [(r[0], r[2]) for r in _rows(db)] == [("new", "x/new.txt"), ("old", None)]  # migrated: locations kept
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA application_id").fetchone()[0] != 0  # now marked as stance's


# --- 3. databases that cannot be written -------------------------------------------------


def _powerless(*args, env=None):
    """Run stance as root without its power to ignore file permissions (as any user runs it)."""
    if os.geteuid() != 0:
        prefix = []
    elif shutil.which("setpriv"):
        prefix = [shutil.which("setpriv"), "--bounding-set", "-dac_override,-dac_read_search"]
    else:
        pytest.skip("needs setpriv to drop root's permission override")
    return subprocess.run([*prefix, stance_script(), *map(str, args)], check=False, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})})


def _recorded_db(path: Path) -> Path:
    from stance.store import HistoryStore

    path.parent.mkdir(parents=True, exist_ok=True)
    with HistoryStore(path) as store:
        store.record([make_scores("a", "2025-01-01", {"russia": 0.1}), make_scores("b", "2025-03-01", {"russia": 0.4})])
    return path


def test_recording_into_a_database_that_cannot_be_written_fails_before_scoring(tmp_path, isolated_home):
    _article(tmp_path / "x.txt", NEWS_A)
    read_only_file = _recorded_db(tmp_path / "open" / "h.sqlite")
    read_only_file.chmod(0o444)
    in_read_only_folder = _recorded_db(tmp_path / "closed" / "h.sqlite")
    in_read_only_folder.parent.chmod(0o555)
    try:
        if os.access(read_only_file, os.W_OK) and os.geteuid() != 0:
            pytest.skip("the file stays writable here")
        before = {db: _snapshot(db) for db in (read_only_file, in_read_only_folder)}
        for db, what in [(read_only_file, "is not writable"), (in_read_only_folder, "folder")]:
            # a missing model would fail too: the database is checked first, before any long work
            line = one_error_line(_powerless("score", tmp_path / "x.txt", "--record", "--db", db, "--model",
                                              tmp_path / "no-model"))
            assert str(db) in line and "cannot record scores here" in line and what in line
            assert _snapshot(db) == before[db]
        report = _powerless("drift", "--db", in_read_only_folder, "--json")
        assert report.returncode == 0 and _drift_total(json.loads(report.stdout)) == 2, report.stderr
        assert _snapshot(in_read_only_folder) == before[in_read_only_folder]
    finally:
        in_read_only_folder.parent.chmod(0o755)
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    line = one_error_line(run_stance("score", tmp_path / "x.txt", "--record", "--db", blocked / "sub" / "h.sqlite",
                                      "--model", tmp_path / "no-model"))
    assert "cannot make its folder" in line


# --- 4. results folders ----------------------------------------------------------------------


def _results(folder: Path, n: int = 3) -> Path:
    from stance.results import ResultsFolder

    ResultsFolder(folder, "m1").write([make_scores(f"a{i}", f"2025-0{i + 1}-01", {"russia": 0.1 * i}) for i in range(n)])
    return folder


def _bad_part(folder: Path, kind: str) -> Path:
    import pandas as pd
    import pyarrow.parquet as pq

    good = folder / "part-00000.parquet"
    bad = folder / "zz-bad.parquet"  # read after the good part
    if kind == "truncated":
        data = good.read_bytes()
        bad.write_bytes(data[: len(data) // 2])
    elif kind == "foreign":
        pd.DataFrame({"city": ["Belgrade"], "population": [1_200_000]}).to_parquet(bad)
    else:  # stance's columns, one of them of the wrong type
        frame = pq.read_table(good).to_pandas()
        frame["summary"] = 7
        frame.to_parquet(bad)
    return bad


@pytest.mark.parametrize("kind", ["truncated", "foreign", "wrong-types"])
def test_a_broken_part_is_named_before_anything_is_read_or_written(tmp_path, isolated_home, kind):
    folder = _results(tmp_path / "r")
    bad = _bad_part(folder, kind)
    for command in (["drift", "--results", folder], ["score", _article(tmp_path / "x.txt", NEWS_A), "--output", folder,
                                                      "--model", tmp_path / "no-model"]):
        line = one_error_line(run_stance(*command))
        assert str(bad) in line and "move it out" in line, command
    db = tmp_path / "h.sqlite"
    line = one_error_line(run_stance("record", _results(tmp_path / "fine"), folder, "--db", db))
    assert str(bad) in line and not db.exists()  # nothing recorded, not even from the sound folder
    assert sorted(p.name for p in folder.iterdir()) == ["part-00000.parquet", "zz-bad.parquet"]


# --- 5. dates every report can handle ------------------------------------------------------------


def test_dates_outside_the_range_are_refused_where_they_come_in(tmp_path, isolated_home):
    article = _article(tmp_path / "x.txt", NEWS_A)
    for option in (["score", article, "--date", "9999-12-31"], ["drift", "--since", "0001-01-01"],
                   ["drift", "--until", "2200-01-01"]):
        result = run_stance(*option)
        assert result.returncode == 2 and "1800-01-01 to 2199-12-31" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    table = tmp_path / "t.jsonl"
    table.write_text(json.dumps({"id": "late", "text": NEWS_A, "date": "9999-12-31"}) + "\n", encoding="utf-8")
    line = one_error_line(run_stance("score", table, "--record", "--db", tmp_path / "h.sqlite"))
    assert "row 1" in line and "1800-01-01 to 2199-12-31" in line
    from stance.dates import parse_date

    assert parse_date("1800-01-01") == "1800-01-01" and parse_date("2199-12-31") == "2199-12-31"
    for written in ("1799-12-31", "5. maj 2250.", "5 May 2250"):  # said as out of range, however it is written
        with pytest.raises(ValueError, match="1800-01-01 to 2199-12-31"):
            parse_date(written)


@pytest.mark.parametrize("by", ["week", "month", "quarter", "half", "year"])
def test_drift_counts_stored_dates_it_cannot_use_as_undated(tmp_path, isolated_home, by):
    from stance.store import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores(name, day, {"russia": 0.1, "eu": 0.0}) for name, day in
                      [("first", "1800-01-01"), ("last", "2199-12-31"), ("far", "2025-01-01"), ("junk", "2025-02-01")]])
    with closing(sqlite3.connect(db)) as conn:  # as a database written before the range was enforced holds them
        conn.execute("UPDATE articles SET date = '9999-12-31' WHERE article = 'far'")
        conn.execute("UPDATE articles SET date = 'someday' WHERE article = 'junk'")
        conn.commit()
    result = run_stance("drift", "--db", db, "--by", by, "--json")
    if by == "week":  # four centuries of weeks: past the cap, refused in one line that names a period that fits
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.splitlines()[-1].startswith("error: the dated articles run from 1800-01-01 to 2199-12-31")
        assert "use a longer period (--by month)" in result.stderr
        return
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout)
    assert sorted(report["undated_articles"]) == ["far", "junk"]
    assert sum(p["n_articles"] for p in report["periods"]) == 2
    assert report["periods"][0]["start"] <= "1800-01-01" and report["periods"][-1]["start"] <= "2199-12-31"
    warning = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warning) == 1 and "2 article" in warning[0] and "1800-01-01 to 2199-12-31" in warning[0]


def test_drift_on_a_results_folder_with_a_date_out_of_range(tmp_path, isolated_home):
    from stance.results import ResultsFolder

    ResultsFolder(tmp_path / "r", "m1").write([make_scores("ok", "2025-01-01", {"russia": 0.1}),
                                               make_scores("far", "9999-12-31", {"russia": 0.3})])
    result = run_stance("drift", "--results", tmp_path / "r", "--by", "quarter", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["undated_articles"] == ["far"] and "warning: 1 article" in result.stderr


def test_a_fifo_given_as_the_database_is_named_as_such(tmp_path, isolated_home):
    fifo = tmp_path / "history.sqlite"
    os.mkfifo(fifo)
    for command in (["drift", "--db", fifo], ["export", "--db", fifo, "--output", tmp_path / "out.csv"]):
        result = run_stance(*map(str, command))
        assert "is a FIFO (named pipe), not a regular file; give a database file with --db" in one_error_line(result)
    assert fifo.exists() and not (tmp_path / "out.csv").exists()


def test_a_long_wait_for_a_busy_database_is_said_once(tmp_path, monkeypatch):
    from stance import sqlite as stance_sqlite
    from stance.errors import StanceWarning

    db = tmp_path / "busy.sqlite"
    with closing(sqlite3.connect(db)) as holder, closing(sqlite3.connect(db, timeout=0)) as waiter:
        holder.execute("CREATE TABLE t (x)")
        holder.commit()
        holder.execute("BEGIN EXCLUSIVE")
        monkeypatch.setattr(stance_sqlite, "WAIT_TOLD_AFTER", 0.05)
        with pytest.warns(StanceWarning, match="another process is writing the database") as told:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                stance_sqlite.retry(lambda: waiter.execute("SELECT count(*) FROM t").fetchone(), seconds=0.5)
        assert len([w for w in told if issubclass(w.category, StanceWarning)]) == 1
        holder.rollback()


def test_ctrl_c_beside_begin_or_commit_leaves_no_transaction_open(tmp_path):
    """A KeyboardInterrupt just after BEGIN or just before COMMIT left the transaction open: the next write could not begin."""
    from stance.sqlite import transaction

    conn = sqlite3.connect(tmp_path / "t.sqlite", isolation_level=None)
    conn.execute("CREATE TABLE t (x)")

    class InterruptedAfterBegin:
        in_transaction = property(lambda self: conn.in_transaction)

        def execute(self, sql, *args):
            result = conn.execute(sql, *args)
            if sql.startswith("BEGIN"):
                raise KeyboardInterrupt
            return result

    class InterruptedBeforeCommit(InterruptedAfterBegin):
        def execute(self, sql, *args):
            if sql.startswith("COMMIT"):
                raise KeyboardInterrupt
            return conn.execute(sql, *args)

    for interrupted in (InterruptedAfterBegin(), InterruptedBeforeCommit()):
        with pytest.raises(KeyboardInterrupt):
            transaction(interrupted, lambda c: c.execute("INSERT INTO t VALUES (1)"))
        assert not conn.in_transaction
    transaction(conn, lambda c: c.execute("INSERT INTO t VALUES (2)"))
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]
    conn.close()


def test_a_db_link_to_nothing_yet_makes_the_database_where_it_points_and_a_loop_is_named(tmp_path):
    from stance.store import HistoryStore

    link = tmp_path / "history.sqlite"
    link.symlink_to(tmp_path / "kept" / "real.sqlite")
    HistoryStore(link).record([make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0})])
    assert link.is_symlink() and [r["article"] for r in HistoryStore(link, readonly=True).articles()] == ["a"]
    loop = tmp_path / "loop.sqlite"
    loop.symlink_to(loop)
    line = one_error_line(run_stance("drift", "--db", loop))
    assert "is a loop of symbolic links" in line and "no history database here" not in line


class _Holder:
    """Another process's connection that holds a database's write lock until closed."""

    def __init__(self, db: Path):
        self.conn = sqlite3.connect(db, isolation_level=None)
        self.conn.execute("BEGIN EXCLUSIVE")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.mark.integration
def test_a_database_held_locked_past_the_wait_stops_the_run_keeping_every_article_scored(trained, tmp_path):
    import pandas as pd

    folder = _many_articles(tmp_path / "many", n=70)
    db, out = tmp_path / "h.sqlite", tmp_path / "results"
    args = ["score", folder, "--model", trained["model"], "--record", "--db", db, "--output", out, "--quiet",
            "--date", "2025-01-01"]
    assert run_stance("score", folder / "a000.txt", *args[2:7], "--date", "2025-01-01").returncode == 0
    with _Holder(db):
        held = run_stance(*args, env={"STANCE_DB_WAIT": "1", "STANCE_CACHE": "off"})
    last = _last_error_line(held)
    assert last.startswith(f"error: {db}: another process kept it locked for over 1 s; let that process finish")
    assert last.endswith("; stopped after 64 articles; recorded 0 articles in "
                         f"{db}; wrote 64 articles to {out}; run the same command with --skip-recorded to finish "
                         "(articles already recorded are skipped)")
    assert len(pd.read_parquet(out)) == 64 and len(_rows(db)) == 1  # the batch the database refused is in --output
    finished = run_stance(*args, "--skip-recorded", env={"STANCE_CACHE": "off"})
    assert finished.returncode == 0, finished.stderr
    assert len(_rows(db)) == 70


class _InterruptedAfterCommit:
    """A connection on which a Ctrl-C lands just after COMMIT has returned, once."""

    def __init__(self, conn):
        self.conn, self.fired = conn, False

    @property
    def in_transaction(self):
        return self.conn.in_transaction

    def __getattr__(self, name):  # executemany and the rest: the connection's own
        return getattr(self.conn, name)

    def execute(self, sql, *args):
        cursor = self.conn.execute(sql, *args)
        if sql == "COMMIT" and not self.fired:
            self.fired = True
            raise KeyboardInterrupt
        return cursor


def test_an_interrupt_just_after_commit_counts_the_batch_it_stored(tmp_path, isolated_home):
    """The batch is in the database: counted as stored, so a new database holding it is kept, not removed."""
    from stance.results import ResultsFolder
    from stance.store import HistoryStore

    ResultsFolder(tmp_path / "r", "m1").write([make_scores(f"a{i}", "2025-01-01", {"russia": 0.1}) for i in range(3)])
    with HistoryStore(tmp_path / "h.sqlite") as store:
        real, stored = store._conn, []
        store._conn = _InterruptedAfterCommit(real)
        try:
            with pytest.raises(KeyboardInterrupt):
                store.record_results(tmp_path / "r", progress=stored.append)
        finally:
            store._conn = real
        assert stored == [3] and len(store.articles()) == 3


def test_recording_into_a_database_held_locked_says_what_it_stored_and_a_bad_wait_is_refused(tmp_path, isolated_home):
    from stance.results import ResultsFolder
    from stance.store import HistoryStore

    ResultsFolder(tmp_path / "r", "m1").write([make_scores(f"a{i}", "2025-01-01", {"russia": 0.1}) for i in range(3)])
    db = tmp_path / "h.sqlite"
    HistoryStore(db).close()
    with _Holder(db):
        held = run_stance("record", tmp_path / "r", "--db", db, env={"STANCE_DB_WAIT": "0.5"})
    assert re.fullmatch(rf"error: {db}: another process kept it locked for over 0.5 s; .*; stopped while recording "
                        rf"{tmp_path / 'r'}; the 0 articles stored so far stay in {db}; run the same command again "
                        r"to finish \(recording again replaces them\)", one_error_line(held))
    bad = run_stance("record", tmp_path / "r", "--db", db, env={"STANCE_DB_WAIT": "soon"})
    assert "STANCE_DB_WAIT='soon' is not a wait in seconds" in one_error_line(bad)
    new = tmp_path / "new.sqlite"
    bad = run_stance("record", tmp_path / "r", "--db", new, env={"STANCE_DB_WAIT": "-1"})
    assert "STANCE_DB_WAIT='-1' is not a wait in seconds" in one_error_line(bad) and not new.exists()


def test_a_results_folder_whose_summary_its_sentences_do_not_add_up_to_is_refused_by_every_reader(tmp_path,
                                                                                                  isolated_home):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from stance.results import ResultsFolder

    ResultsFolder(tmp_path / "r", "m1").write([make_scores("a1", "2025-01-01", {"russia": 0.1})])
    part = tmp_path / "r" / "part-00000.parquet"
    table = pq.read_table(part)
    rows = table.to_pylist()
    summary = json.loads(rows[0]["summary"])
    summary["russia"]["net"] = 0.9  # edited by hand: drift would read it; the sentences say 0.1
    rows[0]["summary"] = json.dumps(summary)
    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), part)
    for command in (["drift", "--results", tmp_path / "r"], ["export", "--results", tmp_path / "r", "--output",
                                                             tmp_path / "x.csv"],
                    ["record", tmp_path / "r", "--db", tmp_path / "new.sqlite"]):
        line = one_error_line(run_stance(*command))
        assert "the russia summary (favor 0, against 0, none 4, net +0.900) is not what its sentences add up to" in line
    assert not (tmp_path / "x.csv").exists() and not (tmp_path / "new.sqlite").exists()


def test_a_model_id_start_that_several_models_share_is_refused_not_read_as_the_latest(tmp_path, isolated_home):
    from stance.store import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("a1", "2025-01-01", {"russia": 0.1}, model_id="ab12000000000000")])
        store.record([make_scores("a2", "2025-01-01", {"russia": 0.1}, model_id="ab34000000000000")])
    for command in (["drift", "--db", db, "--model-id", "ab"], ["export", "--db", db, "--model-id", "ab",
                                                               "--output", tmp_path / "x.csv"]):
        line = one_error_line(run_stance(*command))
        assert f"model id 'ab' starts 2 recorded ids in {db} (" in line and line.endswith("); give more of the id")
        assert "ab12000000000000" in line and "ab34000000000000" in line
    exported = run_stance("export", "--db", db, "--model-id", "ab1", "--output", tmp_path / "x.csv")
    assert exported.returncode == 0 and "a1 sentence 0." in (tmp_path / "x.csv").read_text("utf-8")


@pytest.mark.parametrize("name", ["history.parquet", "history.sqlite", "sub/history.sqlite"])
def test_record_refuses_a_database_in_the_folder_it_records(tmp_path, isolated_home, name):
    """Any file there, or in a folder within it, is read as a part by pandas.read_parquet(FOLDER), and stops
    the folder being scored into again."""
    from stance.results import ResultsFolder

    ResultsFolder(tmp_path / "r", "m1").write([make_scores("a1", "2025-01-01", {"russia": 0.1})])
    line = one_error_line(run_stance("record", tmp_path / "r", "--db", tmp_path / "r" / name))
    assert f"lies in the results folder {tmp_path / 'r'}" in line and line.endswith("give the database another folder")
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["part-00000.parquet"]


def test_score_refuses_a_database_in_its_new_output_folder_before_making_either(tmp_path, isolated_home):
    article, out = tmp_path / "a.txt", tmp_path / "new"
    article.write_text("Serbia signed a gas deal with Russia.\n", encoding="utf-8")
    line = one_error_line(run_stance("score", article, "--output", out, "--record", "--db", out / "h.sqlite"))
    assert f"--db {out / 'h.sqlite'}: lies in the results folder {out}" in line and not out.exists()


def test_record_refuses_a_folder_given_twice(tmp_path, isolated_home):
    from stance.results import ResultsFolder

    ResultsFolder(tmp_path / "r", "m1").write([make_scores("a1", "2025-01-01", {"russia": 0.1})])
    (tmp_path / "again").symlink_to(tmp_path / "r")
    line = one_error_line(run_stance("record", tmp_path / "r", tmp_path / "again", "--db", tmp_path / "h.sqlite"))
    assert "is given more than once; give each results folder once" in line and not (tmp_path / "h.sqlite").exists()


def test_a_ctrl_c_while_a_results_part_is_written_leaves_the_database_and_the_folder_the_same_articles(
        tmp_path, isolated_home, monkeypatch, hashing_encoder, synthetic_labels):
    """The 1,024th article filled a part before it joined the batch to record: a Ctrl-C as that part was written
    kept it in --output and never in the database."""
    from typer.testing import CliRunner

    import stance.cli as cli
    from stance.model import StanceClassifier
    from stance.results import read_results
    from stance.store import HistoryStore
    from test_units import _xy

    X, y, groups = _xy(synthetic_labels)
    monkeypatch.setattr("stance.model.load_model", lambda path, backend="auto": StanceClassifier(
        encoder=hashing_encoder, renamed_copies=False).fit(X, y, groups=groups))
    write = cli._write_part

    def written_then_interrupted(folder, part):
        count = write(folder, part)
        if count:
            raise KeyboardInterrupt  # as Ctrl-C lands once the part is in place, before the run goes on
        return count

    monkeypatch.setattr(cli, "_write_part", written_then_interrupted)
    table = tmp_path / "t.jsonl"
    table.write_text("".join(json.dumps({"id": f"a{i}", "text": f"Serbia signs deal number {i} with Moscow."}) + "\n"
                             for i in range(1030)), encoding="utf-8")
    db, out = tmp_path / "h.sqlite", tmp_path / "out"
    result = CliRunner().invoke(cli.app, ["score", str(table), "--record", "--db", str(db), "--output", str(out), "-q"])
    assert result.exit_code == 130, result.output
    with HistoryStore(db) as store:
        recorded = {row["article"] for row in store.articles()}
    in_folder = {row["article"] for row in read_results(out)[0]}
    assert len(in_folder) == 1024 and recorded == in_folder
