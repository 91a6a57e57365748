"""Reading articles from hostile input: pipes and devices, huge files and lines, odd encodings,
empty or broken tables, file names that are not UTF-8, and text carrying terminal escape sequences."""

from __future__ import annotations

import io
import json
import os
import random
import re
import sqlite3
import subprocess
import sys

import pytest

from stance.errors import InputError
from stance.labeling import LabelLog

from conftest import REPO, make_scores, one_error_line, stance_script

TIMEOUT = 60  # seconds; reading that blocks shows up as a timeout, which fails the test


def _run(*args, env=None, stdin=None):
    """``stance ARGS`` with a timeout: an input that blocks fails the test instead of hanging it."""
    try:
        return subprocess.run([stance_script(), *map(str, args)], capture_output=True, text=True, timeout=TIMEOUT,
                              errors="backslashreplace",
                              env={**os.environ, "HF_HUB_OFFLINE": "1", **(env or {})}, input=stdin, cwd=REPO)
    except subprocess.TimeoutExpired:
        pytest.fail(f"stance {' '.join(map(str, args))} still running after {TIMEOUT} s")


# --- only regular files are opened -----------------------------------------------------


def test_fifo_given_as_article_is_refused_without_opening_it(tmp_path, isolated_home):
    fifo = tmp_path / "fifo.txt"
    os.mkfifo(fifo)
    line = one_error_line(_run("score", fifo))
    assert "fifo.txt: is a FIFO" in line and "not a regular file" in line


def test_fifo_table_and_device_are_refused(tmp_path, isolated_home):
    table = tmp_path / "feed.jsonl"
    os.mkfifo(table)
    assert "feed.jsonl: is a FIFO" in one_error_line(_run("score", table))
    assert "/dev/null: is a character device, not a regular file" in one_error_line(_run("score", "/dev/null"))


def test_fifo_inside_a_folder_is_skipped_with_a_warning(tmp_path, isolated_home):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    os.mkfifo(folder / "b.txt")
    result = _run("score", folder)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {folder / 'b.txt'}: is a FIFO (named pipe), not a regular file; skipped"]
    assert "stance train" in result.stderr  # the readable article got as far as the (missing) model


def test_a_broken_link_inside_a_folder_is_skipped_with_a_warning(tmp_path, isolated_home):
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    (folder / "b.txt").symlink_to(tmp_path / "moved-away.txt")
    result = _run("score", folder)
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [f"warning: {folder / 'b.txt'}: a symbolic link to nothing (or a loop of links); skipped"]
    assert "stance train" in result.stderr  # the readable article got as far as the (missing) model


# --- a bounded size per article ----------------------------------------------------------


def test_article_over_the_limit_is_refused_with_its_size(tmp_path, isolated_home):
    path = tmp_path / "huge.txt"
    path.write_bytes(b"Serbia buys gas. " * 90_000)  # 1.53 MB
    line = one_error_line(_run("score", path, env={"STANCE_MAX_ARTICLE_MB": "1"}))
    assert "huge.txt: 1.46 MB of text, over the 1 MB limit for one article" in line
    assert "STANCE_MAX_ARTICLE_MB" in line


def test_table_row_over_the_limit_is_refused_naming_the_row(tmp_path, isolated_home):
    table = tmp_path / "t.jsonl"
    rows = [{"text": "Serbia buys gas."}, {"text": "Serbia buys gas. " * 70_000}]
    table.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    line = one_error_line(_run("score", table, env={"STANCE_MAX_ARTICLE_MB": "1"}))
    assert "t.jsonl row 2: 1.13 MB of text, over the 1 MB limit" in line


@pytest.mark.parametrize("value", ["ten", "0", "-3", "nan", "inf", "", "1e308"])
def test_bad_size_limit_setting_is_one_line(tmp_path, isolated_home, value):
    path = tmp_path / "a.txt"
    path.write_text("Serbia buys gas.\n", encoding="utf-8")
    line = one_error_line(_run("score", path, env={"STANCE_MAX_ARTICLE_MB": value}))
    assert f"STANCE_MAX_ARTICLE_MB={value!r} is not a positive number" in line


class _CountingStdin:
    """A stdin whose reads are counted, holding far more than the limit."""

    def __init__(self, size: int):
        self.buffer = self
        self.data, self.given = io.BytesIO(b"x" * size), 0

    def read(self, size: int = -1) -> bytes:
        block = self.data.read(size)
        self.given += len(block)
        return block


def test_stdin_is_read_only_up_to_the_limit(monkeypatch):
    from stance.corpus import read_documents

    monkeypatch.setenv("STANCE_MAX_ARTICLE_MB", "0.5")
    stdin = _CountingStdin(4 * 2**20)
    monkeypatch.setattr(sys, "stdin", stdin)
    with pytest.raises(InputError, match="<stdin>: more than 0.5 MB of text, the limit for one article"):
        list(read_documents(["-"]))
    assert stdin.given == 2**19 + 1


# --- long lines: bounded work in the splitter -------------------------------------------


def _long_line(n_chars: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = "Serbia Russia the EU Vucic said on Tuesday that a gas deal and sanctions were higher".split()
    sentences, size = [], 0
    while size < n_chars:
        sentence = " ".join(rng.choice(words) for _ in range(rng.randint(4, 18))) + rng.choice(".?!.")
        sentences.append(sentence)
        size += len(sentence) + 1
    return " ".join(sentences)


class _RecordingSegmenter:
    """Stands in for pysbd: records every text handed to it and calls it one sentence."""

    def __init__(self):
        self.texts: list[str] = []

    def processor(self, text):
        self.texts.append(text)
        return self

    def process(self):
        return [self.texts[-1]]


def test_a_long_line_reaches_the_splitter_in_bounded_pieces_cut_at_sentence_ends(monkeypatch):
    from stance import segment

    bound = getattr(segment, "MAX_SPLIT_CHARS", 5000)
    recorder = _RecordingSegmenter()
    monkeypatch.setattr(segment, "_segmenter", lambda: recorder)
    short = _long_line(bound - 500)
    list(segment._split_line(short))
    assert recorder.texts == [short]  # a line within the bound is handed over whole, as before
    recorder.texts.clear()
    line = _long_line(2**20)
    pieces = list(segment._split_line(line))
    assert max(map(len, recorder.texts)) <= bound
    assert "".join(recorder.texts) == line and " ".join(pieces) == line
    assert all(text.endswith((". ", "? ", "! ")) for text in recorder.texts[:-1])


def test_notice_pattern_never_scans_a_whole_long_line(monkeypatch):
    from stance import segment

    scanned = []

    class Recording:
        def __init__(self, pattern):
            self.pattern = pattern

        def search(self, text):
            scanned.append(len(text))
            return self.pattern.search(text)

    monkeypatch.setattr(segment, "_BOILERPLATE", Recording(segment._BOILERPLATE))
    segment.split_sentences("comments are x republish y " * 2_500)  # 67,500 characters, no sentence end
    assert scanned == [] or max(scanned) < 10_000


# --- encodings ---------------------------------------------------------------------------


TEXT = "Србија купује руски гас.\nSerbia buys Russian gas. Vucic met Putin.\n"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
def test_utf16_and_utf32_with_a_byte_order_mark_are_text(tmp_path, encoding):
    from stance.corpus import read_documents

    mark = {"utf-16-le": "\ufeff", "utf-16-be": "\ufeff", "utf-32-be": "\ufeff"}.get(encoding, "")
    path = tmp_path / "a.txt"
    path.write_bytes((mark + TEXT).encode(encoding))
    (doc,) = read_documents([path])
    assert doc.text == TEXT
    assert [s.text for s in doc.article.segments][-2:] == ["Serbia buys Russian gas.", "Vucic met Putin."]


@pytest.mark.parametrize(("encoding", "named"), [("utf-16-le", "UTF-16LE"), ("utf-16-be", "UTF-16BE")])
def test_utf16_without_a_byte_order_mark_says_how_to_convert(tmp_path, isolated_home, encoding, named):
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT.encode(encoding))
    line = one_error_line(_run("score", path))
    assert f"looks like {named} text without a byte-order mark" in line and f"iconv -f {named} -t UTF-8" in line
    binary = tmp_path / "b.txt"
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4)
    assert "looks like a binary file" in one_error_line(_run("score", binary))
    stray = tmp_path / "c.txt"  # UTF-8 with one NUL: converting it from UTF-16 would make it garbage
    stray.write_bytes(b"Serbia\x00 and Russia.\n")
    assert "UTF-16" not in one_error_line(_run("score", stray))


def test_an_article_or_a_cell_of_nothing_but_invisible_characters_is_refused_as_a_blank_one_is(tmp_path, isolated_home):
    """Zero-width and direction marks are what the splitter removes: such a file scored 0 sentences and was recorded."""
    marks = "\u200b\u200f\ufeff\n\u200b\n"
    (tmp_path / "marks.txt").write_text(marks, encoding="utf-8")
    (tmp_path / "marks.jsonl").write_text(json.dumps({"id": "m", "text": marks}) + "\n", encoding="utf-8")
    db = tmp_path / "h.sqlite"
    assert "marks.txt: the file holds nothing but invisible characters" in one_error_line(
        _run("score", tmp_path / "marks.txt", "--record", "--db", db))
    assert "marks.jsonl row 1: a text of nothing but invisible characters" in one_error_line(
        _run("score", tmp_path / "marks.jsonl", "--record", "--db", db))
    assert not db.exists()


# --- tables: empty, and broken lines -----------------------------------------------------


def _write_empty_parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"text": pa.array([], pa.string())}), path)


@pytest.mark.parametrize(
    ("name", "content"),
    [("t.csv", "text,id\n"), ("t.csv", ""), ("t.jsonl", ""), ("t.jsonl", "\n\n  \n"), ("t.parquet", None)],
)
def test_tables_without_rows_get_one_line(tmp_path, isolated_home, name, content):
    path = tmp_path / name
    if content is None:
        _write_empty_parquet(path)
    else:
        path.write_text(content, encoding="utf-8")
    assert f"{name}: no rows;" in one_error_line(_run("score", path))


def test_malformed_jsonl_line_is_named_from_one_and_nothing_else_is_printed(tmp_path, isolated_home):
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "Serbia buys gas."}\n\n{"text": oops}\n{"text": "Vucic met Putin."}\n', encoding="utf-8")
    line = one_error_line(_run("score", path))
    assert f"{path}:3: not valid JSON" in line


# --- file names that are not UTF-8 ---------------------------------------------------------


def _bytes_named_file(folder, name: bytes, content: bytes) -> str:
    path = os.path.join(os.fsencode(folder), name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, content)
    os.close(fd)
    return os.fsdecode(path)


def test_non_utf8_file_name_gives_a_printable_unique_id(tmp_path):
    from stance.corpus import read_documents

    folder = tmp_path / "corpus"
    folder.mkdir()
    _bytes_named_file(folder, b"caf\xe9.txt", b"Serbia buys gas.\n")
    _bytes_named_file(folder, b"caf\xe8.txt", b"Vucic met Putin.\n")
    docs = list(read_documents([folder]))
    assert sorted(d.id for d in docs) == ["caf\\xe8", "caf\\xe9"]
    for doc in docs:
        doc.id.encode("utf-8")
        doc.location.encode("utf-8")


@pytest.mark.integration
def test_non_utf8_file_name_can_be_recorded_and_written(tmp_path, isolated_home, trained):
    article = _bytes_named_file(tmp_path, b"caf\xe9.txt", b"Serbia refuses to sanction Russia.\n")
    db, out = tmp_path / "history.sqlite", tmp_path / "results"
    result = _run("score", article, "--model", trained["model"], "--record", "--db", db, "--output", out, "-q")
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    with sqlite3.connect(db) as conn:
        assert [row[0] for row in conn.execute("SELECT article FROM articles")] == ["caf\\xe9"]
    import pyarrow.parquet as pq

    assert pq.read_table(out, columns=["article"]).column("article").to_pylist() == ["caf\\xe9"]


def test_a_folder_whose_name_is_not_utf8_holds_a_history_and_is_refused_for_parquet_in_one_line(tmp_path, isolated_home):
    folder = os.fsdecode(os.path.join(os.fsencode(tmp_path), b"caf\xe9"))
    os.mkdir(folder)
    db = os.path.join(folder, "history.sqlite")
    from stance.store import HistoryStore

    HistoryStore(db).record([make_scores("a", "2025-01-01", {"russia": 0.5, "eu": 0.0})])  # was a traceback: its URI
    shown = _run("drift", "--db", db, "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["periods"][0]["russia"]["net"] == pytest.approx(0.5)
    for args in (["export", "--db", db, "--output", os.path.join(folder, "x.parquet")],
                 ["score", REPO / "seeds" / "000_abad3842fbdbf470.txt", "--output", os.path.join(folder, "results")]):
        assert "its path is not UTF-8" in one_error_line(_run(*args))  # before any work, not pyarrow's traceback after it
    assert not {"x.parquet", "results"} & set(os.listdir(folder))


@pytest.mark.integration
def test_a_bad_row_late_in_a_table_keeps_the_work_before_it(tmp_path, isolated_home, trained):
    table = tmp_path / "late.csv"
    rows = [f"a{i},2025-{1 + i // 28:02d}-{1 + i % 28:02d},Serbia refuses to sanction Russia for the {i}th time." for i in range(70)]
    table.write_text("id,date,text\n" + "\n".join(rows + ["bad,not a day,Vucic met Putin."]) + "\n", encoding="utf-8")
    db, out = tmp_path / "history.sqlite", tmp_path / "results"
    line = one_error_line(_run("score", table, "--model", trained["model"], "--record", "--db", db, "--output", out, "-q"))
    assert "not a date" in line and "stopped after 70 articles" in line and "fix it, then" in line
    assert "recorded 70 articles" in line and "wrote 70 articles" in line
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM articles").fetchone() == (70,)
    import pyarrow.parquet as pq

    assert sorted(set(pq.read_table(out, columns=["article"]).column("article").to_pylist())) == sorted(
        f"a{i}" for i in range(70))


@pytest.mark.integration
def test_one_article_of_too_many_sentences_is_refused_in_one_line_with_nothing_stopped(tmp_path, isolated_home, trained):
    from stance.segment import MAX_ARTICLE_SENTENCES

    article = tmp_path / "dump.txt"
    article.write_text("Serbia buys gas.\n" * (MAX_ARTICLE_SENTENCES + 50_000), encoding="utf-8")  # 4 MB, within the size limit
    line = one_error_line(_run("score", article, "--model", trained["model"]))
    assert line == (f"error: dump: more than {MAX_ARTICLE_SENTENCES:,} sentences, the most one article may have; "
                    "split it into several articles (a table with one row per article)")


# --- nothing from an article acts on the terminal -----------------------------------------

HOSTILE = "Serbia buys gas.\x1b]0;pwned\x07 Vucic met Putin.\nRussia \x1b]52;c;cm0gLXJmIH4=\x07 says no. \x9b31mEU\x1b[2J agrees.\n"
RAW_CONTROLS = ("\x1b", "\x07", "\x9b")


def _no_raw_controls(*outputs: str) -> None:
    for output in outputs:
        assert not any(c in output for c in RAW_CONTROLS), ascii(output)


def test_control_characters_in_names_do_not_reach_error_and_warning_lines(tmp_path, isolated_home):
    empty = tmp_path / "\x1b]0;pwned\x07\x9b31m.txt"
    empty.write_bytes(b"")
    line = one_error_line(_run("score", empty))
    _no_raw_controls(line)
    assert "\\x1b]0;pwned\\x07\\x9b31m.txt: the file is empty" in line
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia buys gas.\n", encoding="utf-8")
    os.mkfifo(folder / "\x1b]52;c;eA==\x07.txt")
    result = _run("score", folder)
    assert "warning: " in result.stderr and "\\x1b]52;c;eA==\\x07.txt" in result.stderr
    _no_raw_controls(result.stderr)


def test_drift_text_shows_control_characters_escaped(tmp_path, isolated_home):
    from stance.store import HistoryStore

    db = tmp_path / "h.sqlite"
    with HistoryStore(db) as store:
        store.record([make_scores("\x1b]0;pwned\x07", None, {"russia": 0.2, "eu": 0.1}, source="\x9b31mTass"),
                      make_scores("b", "2025-01-02", {"russia": 0.1, "eu": 0.0}, source="\x9b31mTass")])
    text, as_json = _run("drift", "--db", db), _run("drift", "--db", db, "--json")
    assert text.returncode == 0 and as_json.returncode == 0, text.stderr + as_json.stderr
    _no_raw_controls(text.stdout, text.stderr, as_json.stdout, as_json.stderr)
    assert "\\x9b31mTass" in text.stdout and "\\x1b]0;pwned\\x07" in text.stdout
    assert json.loads(as_json.stdout)["undated_articles"] == ["\x1b]0;pwned\x07"]


@pytest.mark.integration
def test_score_output_shows_control_characters_escaped(tmp_path, isolated_home, trained):
    article = tmp_path / "hostile.txt"
    article.write_text(HOSTILE, encoding="utf-8")
    other = tmp_path / "\x1b]0;title\x07.txt"
    other.write_text("Serbia buys gas.\n", encoding="utf-8")
    model = ("--model", trained["model"])
    single, several = _run("score", article, *model), _run("score", article, other, *model)
    as_json = _run("score", article, *model, "--json")
    for result in (single, several, as_json):
        assert result.returncode == 0, result.stderr
        _no_raw_controls(result.stdout, result.stderr)
    assert "\\x1b]0;pwned\\x07" in single.stdout and "\\x9b31mEU" in single.stdout
    assert "\\x1b]0;title\\x07" in several.stdout
    doc = json.loads(as_json.stdout)
    texts = [s["text"] for s in doc["sentences"]] + doc["skipped"]
    assert any("\x1b]0;pwned\x07" in t for t in texts) and any("\x9b31mEU\x1b[2J" in t for t in texts)


def test_label_tools_show_control_and_bidi_characters_escaped(tmp_path, isolated_home):
    row = {"article": "a\x1b]0;x\x07\u202eb", "sentence": 0, "text": "Serbia buys gas \u202eevil.", "russia": "favor",
           "eu": "none", "origin": "written"}
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_text(json.dumps(row) + "\n", encoding="utf-8")
    second.write_text(json.dumps({**row, "russia": "against"}) + "\n", encoding="utf-8")
    runs = [_run("labels", "stats", first), _run("labels", "stats", first, "--json"),
            _run("labels", "agreement", first, second), _run("labels", "merge", first, second, "--out", tmp_path / "m.jsonl")]
    for result in runs:
        assert result.returncode == 0, result.stderr
        _no_raw_controls(result.stdout, result.stderr)
        assert "\u202e" not in result.stdout + result.stderr
    assert "a\\x1b]0;x\\x07\\u202eb" in runs[0].stdout and "gas \\u202eevil" in runs[2].stdout
    assert json.loads(runs[1].stdout)["articles"] == {row["article"]: {"sentences": 1, "russia": {"favor": 1}, "eu": {"none": 1}}}
    assert "conflict a\\x1b]0;x\\x07\\u202eb:0 russia" in runs[3].stderr


@pytest.mark.parametrize("command", [("labels", "stats"), ("labels", "check"), ("train", "--labels")])
def test_label_readers_refuse_a_fifo_and_a_device_without_blocking(tmp_path, isolated_home, command):
    fifo = tmp_path / "labels.jsonl"
    os.mkfifo(fifo)
    for path, kind in ((fifo, "is a FIFO (named pipe), not a regular file"), ("/dev/zero", "is a character device")):
        result = _run(*command, path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert kind in result.stderr and "give .jsonl label files" in result.stderr


def test_labeling_into_a_fifo_is_refused_without_blocking(tmp_path, isolated_home):
    fifo = tmp_path / "mine.jsonl"
    os.mkfifo(fifo)
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas. The EU objects.\n", encoding="utf-8")
    result = _run("label", article, "--labels", fifo, stdin="q\n")
    assert "is a FIFO (named pipe), not a regular file" in one_error_line(result)


def test_a_huge_foreign_file_given_as_labels_is_refused_before_it_is_read(tmp_path, isolated_home):
    big = tmp_path / "labels.jsonl"
    with open(big, "wb") as handle:  # sparse: 64 GiB on paper, nothing on disk; reading it whole would exhaust memory
        handle.truncate(64 << 30)
    for command in (("labels", "stats"), ("train", "--labels")):
        assert "looks like a binary file, not JSON Lines" in one_error_line(_run(*command, big))


def test_a_huge_text_file_given_as_labels_is_refused_at_its_first_line(tmp_path, isolated_home):
    big = tmp_path / "server.log"
    with open(big, "wb") as handle:  # 8 GiB of text on one line, written sparsely after a few real bytes
        handle.write(b"GET /index.html 200 " * 100_000)
        handle.seek(8 << 30)
        handle.write(b"\n")
    for command in (("labels", "stats"), ("train", "--labels")):
        line = one_error_line(_run(*command, big))
        assert f"{big}:1: a line over 1 MiB, not a label row" in line


def test_a_line_separator_inside_a_labeled_sentence_keeps_the_row_whole(tmp_path, isolated_home):
    labels = tmp_path / "mine.jsonl"
    LabelLog(labels).append({"article": "a", "sentence": 0, "text": "Serbia\u2028refused the sanctions.",
                             "russia": "favor", "eu": "none", "annotator": "ana"})
    assert LabelLog(labels).answered("ana") == {("a", 0)}
    result = _run("labels", "stats", labels, "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["articles"]["a"]["russia"] == {"favor": 1}


def test_labels_stats_counts_a_seed_article_as_seed_when_its_file_states_no_origin(tmp_path, isolated_home):
    """Rows from `stance label` state no origin; stats, like training, reads it beside the articles."""
    rows = [json.loads(line) for line in (REPO / "labels" / "seeds.jsonl").read_text("utf-8").splitlines()[:12]]
    labels = tmp_path / "mine.jsonl"
    labels.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "origin"}) + "\n" for r in rows), "utf-8")
    by_default = _run("labels", "stats", labels, "--json")  # run in the repository, beside seeds/
    assert by_default.returncode == 0, by_default.stderr
    scored = json.loads(by_default.stdout)["sentences"]
    assert scored > 5 and json.loads(by_default.stdout)["origins"] == {"seed": scored}
    (tmp_path / "none").mkdir()
    elsewhere = _run("labels", "stats", labels, "--json", "--articles", tmp_path / "none")
    assert json.loads(elsewhere.stdout)["origins"] == {"written": scored}


def test_an_article_whose_rows_state_two_origins_is_refused(tmp_path, isolated_home):
    """Its seed rows were scored leaving it out while its written rows trained on it in another fold."""
    from stance.errors import LabelFormatError
    from stance.schema import load_labels

    rows = [json.loads(line) for line in (REPO / "labels" / "seeds.jsonl").read_text("utf-8").splitlines()[:12]]
    for row in rows[5:8]:
        row["origin"] = "written"  # as `stance labels merge` keeps each file's stated origin
    labels = tmp_path / "merged.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    with pytest.raises(LabelFormatError, match=r"merged.jsonl:6: article 000_abad3842fbdbf470 is written here and "
                                               r"seed at .*merged.jsonl:1; an article has one origin"):
        load_labels([labels], articles=[REPO / "seeds"])
    assert "an article has one origin" in one_error_line(_run("train", "--labels", labels, "--out", tmp_path / "m"))
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize("codec, named", [("utf-16", "UTF-16"), ("utf-16-le", "UTF-16LE"), ("utf-32", "UTF-32")])
def test_a_label_file_in_utf16_or_utf32_is_named_with_how_to_convert_it(tmp_path, isolated_home, codec, named):
    """Notepad and PowerShell save UTF-16; calling such a file binary sends the user looking for the wrong fault."""
    labels = tmp_path / "mine.jsonl"
    rows = [{"article": "a", "sentence": 0, "text": "Serbia buys Russian gas.", "russia": "favor", "eu": "none"}]
    labels.write_bytes("".join(json.dumps(r) + "\n" for r in rows).encode(codec))
    for command in (("labels", "stats"), ("train", "--labels")):
        line = one_error_line(_run(*command, labels))
        assert f"{named} text, not UTF-8" in line and f"iconv -f {named} -t UTF-8" in line, line


def test_one_table_given_twice_is_refused_before_the_model_is_loaded(tmp_path, isolated_home):
    table = tmp_path / "t.csv"
    table.write_text('id,text\na1,"Serbia signs a gas deal with Moscow."\n', encoding="utf-8")
    line = one_error_line(_run("score", table, tmp_path / "." / "t.csv"))  # no model here: the check comes first
    assert "is given more than once; give each file or folder once" in line
    line = one_error_line(_run("label", table, tmp_path / "." / "t.csv", "--labels", tmp_path / "l.jsonl"))
    assert "is given more than once; give each file or folder once" in line and not (tmp_path / "l.jsonl").exists()
    folder = tmp_path / "articles"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia signs a gas deal with Moscow.\n", encoding="utf-8")
    line = one_error_line(_run("label", folder, folder / "a.txt", "--labels", tmp_path / "l.jsonl"))
    assert f"{folder / 'a.txt'}: is inside {folder}, which is also given, so its articles would be read twice" in line
    os.link(folder / "a.txt", tmp_path / "b.txt")  # another name of the same file: its article would count twice
    (tmp_path / "c.txt").symlink_to(folder / "a.txt")
    for alias in ("b.txt", "c.txt"):
        line = one_error_line(_run("label", folder, tmp_path / alias, "--labels", tmp_path / "l.jsonl"))
        assert f"{tmp_path / alias}: the same file as {folder / 'a.txt'} (a link to it, or another name" in line
    table.write_text('text\n"Serbia signs a gas deal with Moscow."\n', encoding="utf-8")  # rows without ids
    os.link(table, tmp_path / "u.csv")
    line = one_error_line(_run("score", table, tmp_path / "u.csv"))  # before the model loads
    assert line.endswith(f"u.csv is given more than once; give each file or folder once ({table} is the same)")
    from stance.corpus import read_documents
    from stance.errors import InputError

    with pytest.raises(InputError, match="u.csv: the same file as .*t.csv .a link to it, or another name for it"):
        list(read_documents([table, tmp_path / "u.csv"]))  # rows without ids: u:1 and t:1 would both be scored


def test_a_link_to_another_file_of_the_same_folder_is_refused_before_its_first_article(tmp_path):
    """Found when its turn came, it stopped a run after the articles before it were scored (and recorded)."""
    from stance.corpus import read_documents
    from stance.errors import InputError

    folder = tmp_path / "articles"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Serbia signs a gas deal with Moscow.\n", encoding="utf-8")
    (folder / "C.TXT").write_text("Vucic praised Putin.\n", encoding="utf-8")
    (folder / "sub" / "b.txt").symlink_to(os.path.join("..", "a.txt"))
    documents = read_documents([folder])
    with pytest.raises(InputError, match=r"sub/b.txt: the same file as .*a.txt \(a link to it"):
        next(documents)


@pytest.mark.parametrize("content, says", [
    ("<!DOCTYPE html>\n<html><head><script>var s = 'Serbia loves Russia';</script></head></html>\n", "an HTML page"),
    ("\ufeff  <html lang=\"sr\"><body><p>Serbia buys gas.</p></body></html>\n", "an HTML page"),
    ("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n", "a PDF file"),
])
def test_a_saved_web_page_or_pdf_is_refused_not_scored_as_sentences(tmp_path, content, says):
    from stance.errors import InputError
    from stance.segment import read_article

    path = tmp_path / "article.txt"
    path.write_text(content, "utf-8")
    with pytest.raises(InputError, match=f"^{tmp_path}/article.txt: {says}, not"):
        read_article(path)
    path.write_text("# Serbia\n\nVucic said <b>no</b> to sanctions on Russia.\n", "utf-8")  # Markdown with a tag is text
    assert [s.text for s in read_article(path).sentences] == ["# Serbia", "Vucic said <b>no</b> to sanctions on Russia."]
    for text in ("<html> tag je osnova svake stranice.\n", "%PDF-1.4 je format dokumenta.\n"):  # articles about them
        path.write_text(text, "utf-8")
        assert [s.text for s in read_article(path).sentences] == [text.strip()]


def _closed(fd: int, *args) -> subprocess.CompletedProcess:
    """``stance ARGS`` started with file descriptor ``fd`` closed (a shell's ``<&-`` or ``>&-``)."""
    script = f"import os, sys; os.close({fd}); os.execv(sys.argv[1], sys.argv[1:])"
    streams = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE}
    if fd == 1:
        streams.pop("stdout")
    return subprocess.run([sys.executable, "-c", script, stance_script(), *map(str, args)], stderr=subprocess.PIPE,
                          text=True, timeout=TIMEOUT, env={**os.environ, "HF_HUB_OFFLINE": "1"}, cwd=REPO, **streams)


def test_a_closed_stdin_or_stdout_is_one_line_not_a_traceback_nor_lost_scores(tmp_path, isolated_home):
    article = REPO / "seeds" / "000_abad3842fbdbf470.txt"
    no_stdin = _closed(0, "score", "-", "--model", tmp_path / "no-model")  # refused before the model is looked for
    assert no_stdin.returncode == 1 and no_stdin.stderr.startswith("error: stdin is closed; pipe an article in")
    no_stdout = _closed(1, "score", article, "--model", tmp_path / "no-model")  # the scores would vanish: exit 0 before
    assert no_stdout.returncode == 1 and no_stdout.stderr == (
        "error: standard output is closed; redirect it to a file, or to /dev/null to discard what the command prints\n")
    kept = _run("score", "-", "--output", tmp_path / "out", stdin="Serbia buys gas.\n")  # it could be recorded later
    assert kept.returncode == 1 and "an article from stdin has no id to write it under" in kept.stderr
    assert not (tmp_path / "out").exists()


def test_a_bad_file_late_in_a_folder_is_refused_before_the_first_article_is_given(tmp_path):
    """Before, every article before it was scored (seconds each), then the run stopped at it."""
    from stance.corpus import read_documents
    from stance.errors import InputError

    for i in range(50):
        (tmp_path / f"a{i:02d}.txt").write_text(f"Serbia welcomed EU talks, item {i}.\n", "utf-8")
    (tmp_path / "zz.txt").write_bytes(b"Srbija \xe8e\n")  # Latin-2, not UTF-8
    documents = read_documents([tmp_path])
    with pytest.raises(InputError, match=r"zz.txt: not UTF-8 \(byte 7\)"):
        next(documents)
    (tmp_path / "zz.txt").write_text("Srbija će.\n", "utf-8")
    assert len(list(read_documents([tmp_path]))) == 51


def test_every_input_path_is_checked_before_the_first_article_is_read(tmp_path):
    """A missing last input, or one inside a folder also given, was found when its turn came: after every
    article before it had been scored."""
    from stance.corpus import read_documents
    from stance.errors import InputError

    folder = tmp_path / "articles"
    (folder / "sub" / ".hidden").mkdir(parents=True)
    for name in ("a.txt", "sub/b.txt", "sub/.hidden/c.txt", "notes.md"):
        (folder / name).write_text("Serbia signs a gas deal with Moscow.\n", encoding="utf-8")
    for inputs, problem in [
            ([folder, tmp_path / "missing.txt"], "missing.txt: no such file or folder"),
            ([folder, "/dev/null"], "/dev/null: is a character device"),
            ([folder, folder / "sub" / "b.txt"], f"b.txt: is inside {folder}, which is also given"),
            ([folder / "sub", folder], f"sub: is inside {folder}, which is also given")]:
        documents = read_documents(inputs)
        with pytest.raises(InputError, match=re.escape(problem)):
            next(documents)  # the first article is never given out
    # what a folder does not read may be given beside it: a hidden folder's file, a file not named .txt
    read = [doc.id for doc in read_documents([folder, folder / "sub" / ".hidden" / "c.txt", folder / "notes.md"])]
    assert read == ["a", "b", "c", "notes"]


def test_an_empty_argument_is_refused_not_read_as_the_working_folder(tmp_path, isolated_home):
    """`stance score "$DIR"` with DIR unset scored the whole working folder, and `--output ""` wrote parts into it."""
    (tmp_path / "a.txt").write_text("Serbia signs a gas deal with Moscow.\n", encoding="utf-8")
    for args, shown in [(("score", ""), "an argument is empty"),
                        (("score", "a.txt", "--output", ""), "an argument is empty"),
                        (("export", "--output=", "--db", "h.sqlite"), "--output= is given empty")]:
        result = subprocess.run([stance_script(), *args], cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "HF_HUB_OFFLINE": "1"})
        assert result.returncode == 2 and result.stdout == "", result.stderr
        assert result.stderr == f"error: {shown}, as a shell variable that is not set gives; give its value, or leave it out\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "home"]  # nothing written


@pytest.mark.parametrize("text, codec", [
    ("Srbija će se pridružiti EU, rekao je Vučić, što nije novo.\n", "WINDOWS-1250"),
    ("Србија ће се придружити ЕУ, рекао је Вучић.\n", "WINDOWS-1251"),
    ("\u201cNever!\u201d Vulin said. Serbia\u2019s EU path \u2013 says Vucic \u2013 is firm.\n", "WINDOWS-1252")])
@pytest.mark.parametrize("kind", [".txt", ".jsonl", ".csv"])
def test_a_file_in_a_windows_code_page_is_named_with_the_conversion_that_keeps_its_letters(tmp_path, text, codec, kind):
    """The advice was iconv -f LATIN1 for every file: Serbian Latin lost š and ž, and Western quotes became
    control codes, so the converted article read otherwise."""
    from stance.corpus import read_documents
    from stance.errors import InputError

    body = {".txt": text, ".jsonl": json.dumps({"id": "a", "text": text}, ensure_ascii=False) + "\n",
            ".csv": f'id,text\na,"{text}"\n'}[kind]
    path = tmp_path / f"article{kind}"
    path.write_bytes(body.encode(codec.replace("WINDOWS-", "cp")))
    with pytest.raises(InputError) as caught:
        list(read_documents([path]))
    advised = re.search(r"iconv -f (\S+) -t UTF-8 FILE > FILE\.utf8(\S+)", str(caught.value))
    assert advised and advised.groups() == (codec, kind), caught.value
    converted = tmp_path / f"converted{kind}"  # as the advice converts it
    converted.write_bytes(path.read_bytes().decode(advised.group(1).replace("WINDOWS-", "cp")).encode("utf-8"))
    assert [doc.text for doc in read_documents([converted])] == [text]


def test_a_table_in_utf16_is_named_so_and_a_table_with_one_bad_line_is_sent_to_that_line(tmp_path):
    from stance.corpus import read_documents
    from stance.errors import InputError

    for kind, body in [(".jsonl", '{"id": "a", "text": "x"}\n'), (".csv", "id,text\na,x\n")]:
        (tmp_path / f"t{kind}").write_bytes(body.encode("utf-16"))
        with pytest.raises(InputError, match=re.escape(f"it is UTF-16 text: convert it, e.g. iconv -f UTF-16 -t UTF-8 "
                                                       f"FILE > FILE.utf8{kind}")):
            list(read_documents([tmp_path / f"t{kind}"]))
    (tmp_path / "m.jsonl").write_bytes('{"id": "a", "text": "Vučić"}\n'.encode("utf-8") +  # one line from elsewhere
                                       b'{"id": "b", "text": "Vu\xe8i\xe6"}\n')
    with pytest.raises(InputError, match=r"m\.jsonl:2: not UTF-8 \(byte \d+ of the line\); fix or remove the line$"):
        list(read_documents([tmp_path / "m.jsonl"]))


def test_ids_that_differ_by_an_invisible_character_show_apart_in_the_table_of_scores():
    """Two articles, 'a' and 'a' with a zero-width space (or a soft hyphen), printed alike."""
    from stance.cli import summary_line

    lines = [summary_line(make_scores(article, "2025-01-01", {"russia": 0.1})) for article in ("a", "a\u200b", "b\u00ad")]
    assert lines[0].split()[0] == "a" and lines[1].split()[0] == "a\\u200b" and lines[2].split()[0] == "b\\u00ad"
    assert "Vučić" in summary_line(make_scores("Vučić", None, {"russia": 0.1}))  # letters stay letters
