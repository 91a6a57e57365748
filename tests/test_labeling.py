"""The labeling loop and the label-file tools, with a hashing encoder (no real model)."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from stance.corpus import read_documents
from stance.labeling import Candidate, LabelLog, candidates, order_queue, run_session, split_keys
from stance.labeltools import agreement, check_labels, cohen_kappa, label_stats, merge_labels
from stance.model import StanceClassifier
from stance.errors import LabelFormatError, StanceError, StanceWarning
from stance.schema import label_rows, load_labels

from conftest import REPO, HashingEncoder, one_error_line, run_stance, stance_script, write_corpus

TARGETS = ["russia", "eu"]


def _queue(n=4):
    return [Candidate("art", i, f"Sentence number {i}.", guess={"russia": ("favor", 0.9), "eu": ("none", 0.8)})
            for i in range(n)]


def _rows(path):
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_uncertainty_order_puts_the_least_confident_first(tmp_path):
    labels = write_corpus(tmp_path / "c")
    texts = [r["text"] for r in load_labels(labels) if r["furniture"] is None]
    y = [(r["russia"], r["eu"]) for r in load_labels(labels) if r["furniture"] is None]
    model = StanceClassifier(encoder=HashingEncoder(), cv=3).fit(texts, y)
    (tmp_path / "new.txt").write_text("Serbia deepens its friendship with Moscow.\nThe weather was mild.\n"
                                      "Vucic met somebody somewhere about something.\n", encoding="utf-8")
    queue = candidates(read_documents([tmp_path / "new.txt"]), model)
    ordered = order_queue(queue, "uncertainty")
    confidence = [c.confidence for c in ordered]
    assert confidence == sorted(confidence) and ordered[0].confidence == min(c.confidence for c in queue)
    assert [c.sentence for c in order_queue(queue, "document")] == [0, 1, 2]
    assert all(set(c.guess) == {"russia", "eu"} for c in queue)


def test_a_session_with_undo_and_skip_writes_exactly_the_expected_rows(tmp_path):
    log = LabelLog(tmp_path / "out.jsonl")
    # s0: favor/none; s1: skip; s2: against, then undo within the sentence, none/none;
    # s3: accept both guesses, then undo it (at the next sentence's first key) and answer against/against; quit.
    keys = iter(["f", "n", "s", "a", "u", "n", "n", "", "", "u", "a", "a", "q"])
    counts = run_session(_queue(5), log, annotator="ana", targets=TARGETS, keys=keys, show=lambda _: None)
    rows = _rows(log.path)
    answers = [(r["sentence"], r.get("russia"), r.get("eu"), r.get("undone", False)) for r in rows]
    assert answers == [(0, "favor", "none", False), (2, "none", "none", False), (3, "favor", "none", False),
                       (3, None, None, True), (3, "against", "against", False)]
    assert counts["answered"] == 3 and counts["skipped"] == 1 and counts["undone"] == 1
    assert all(r["annotator"] == "ana" for r in rows)
    resolved = load_labels(log.path, check_text=False)
    assert [(r["sentence"], r["russia"]) for r in resolved] == [(0, "favor"), (2, "none"), (3, "against")]


def test_resume_asks_nothing_twice(tmp_path):
    log = LabelLog(tmp_path / "out.jsonl")
    run_session(_queue(4), log, annotator="ana", targets=TARGETS, keys=iter(["f", "f", "n", "n"]), show=lambda _: None)
    asked = []
    run_session(_queue(4), log, annotator="ana", targets=TARGETS, keys=iter(["a", "a", "a", "a"]),
                show=lambda text: asked.append(text))
    screens = [s for s in asked if s.startswith("[")]
    assert [s.split("sentence ")[1].split(" ")[0] for s in screens] == ["2", "3"]
    other = []
    run_session(_queue(4), log, annotator="bo", targets=TARGETS, keys=iter([]), show=other.append)
    assert "sentence 0" in other[0]  # another annotator starts from the top


WORKER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, {tests!r})
    from stance.labeling import Candidate, LabelLog, run_session
    queue = [Candidate("art", i, f"Sentence {{i}}.") for i in range(1000)]
    def keys():
        while True:
            for key in ("f", "n"):
                yield key
            time.sleep(0.01)
    def show(text):
        if text.startswith("["):
            print(text.split("]")[0], flush=True)
    run_session(queue, LabelLog(sys.argv[1]), annotator="ana", targets=["russia", "eu"], keys=keys(), show=show)
    """
).format(tests=str(REPO / "tests"))


def test_killing_the_process_after_n_answers_leaves_n_rows(tmp_path):
    path = tmp_path / "out.jsonl"
    proc = subprocess.Popen([sys.executable, "-c", WORKER, str(path)], stdout=subprocess.PIPE, text=True)
    seen = 0
    while seen < 30:  # the screen of sentence k appears after answer k-1 is on disk
        assert proc.stdout.readline()
        seen += 1
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    rows = _rows(path)
    assert len(rows) >= seen - 1
    assert [r["sentence"] for r in rows] == list(range(len(rows)))
    assert all(r["russia"] == "favor" and r["eu"] == "none" for r in rows)


def test_an_answer_after_a_line_without_its_newline_starts_a_line_of_its_own(tmp_path):
    path = tmp_path / "mine.jsonl"
    path.write_text('{"article": "a", "sentence": 0, "annotator": "ana", "russia": "favor"}', encoding="utf-8")
    log = LabelLog(path)
    log.append({"article": "a", "sentence": 1, "annotator": "ana", "russia": "none"})
    assert [r["sentence"] for r in _rows(path)] == [0, 1]
    assert log.answered("ana") == {("a", 0), ("a", 1)}


FULL_DISK = textwrap.dedent(
    """
    import resource, signal, sys
    from stance.errors import StanceError
    from stance.labeling import LabelLog
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the limit, a write fails with EFBIG instead of killing us
    size = len(open(sys.argv[1], "rb").read())
    resource.setrlimit(resource.RLIMIT_FSIZE, (size + 20, resource.RLIM_INFINITY))
    try:
        LabelLog(sys.argv[1]).append({"article": "a", "sentence": 1, "annotator": "ana", "russia": "against"})
    except StanceError as err:
        print(err)
    """
)


def test_an_answer_the_disk_cannot_hold_is_not_left_half_written(tmp_path):
    path = tmp_path / "mine.jsonl"
    LabelLog(path).append({"article": "a", "sentence": 0, "annotator": "ana", "russia": "favor"})
    before = path.read_bytes()
    # a file size limit: the kernel writes the first 20 bytes of the row, then refuses the rest
    child = subprocess.run([sys.executable, "-c", FULL_DISK, str(path)], capture_output=True, text=True, timeout=120)
    assert child.returncode == 0, child.stderr
    assert "cannot save the answer to" in child.stdout
    assert path.read_bytes() == before
    LabelLog(path).append({"article": "a", "sentence": 2, "annotator": "ana", "russia": "none"})
    assert [r["sentence"] for r in _rows(path)] == [0, 2]


def test_piped_answers_drive_the_cli(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nShare this story\nBelgrade cancels Russian arms contracts.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    result = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="f\nn\na\nn\n")
    assert result.returncode == 0, result.stderr
    assert "no trained model yet" in result.stderr and "2 answered" in result.stderr
    rows = _rows(out)
    assert [(r["sentence"], r["russia"], r["eu"]) for r in rows] == [(0, "favor", "none"), (2, "against", "none")]
    check = run_stance("labels", "check", out, "--articles", tmp_path)
    assert check.returncode == 0, check.stderr
    out.write_text(out.read_text().replace("Serbia buys Russian gas.", "Serbia buys gas."))
    broken = run_stance("labels", "check", out, "--articles", tmp_path)
    assert broken.returncode == 1 and f"{out}:1:" in broken.stderr and "Traceback" not in broken.stderr


# --- label tools -------------------------------------------------------------------


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _row(sentence, russia, eu, **extra):
    return {"article": "x", "sentence": sentence, "text": f"S{sentence}.", "russia": russia, "eu": eu, **extra}


def test_kappa_matches_a_hand_computed_example():
    a = ["favor", "favor", "against", "none", "none", "none", "favor", "against", "none", "none"]
    b = ["favor", "against", "against", "none", "none", "favor", "favor", "against", "none", "against"]
    # observed 7/10; a: 3 favor, 2 against, 5 none; b: 3, 4, 3; expected (3*3 + 2*4 + 5*3)/100 = 0.32
    assert cohen_kappa(a, b) == pytest.approx((0.7 - 0.32) / (1 - 0.32))
    from sklearn.metrics import cohen_kappa_score

    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b))
    assert cohen_kappa(["none"] * 5, ["none"] * 5) == 1.0
    assert cohen_kappa(["none"] * 5, ["favor"] * 5) == 0.0
    assert cohen_kappa(["none", "favor"], ["favor", "none"]) == pytest.approx(-1.0)


def test_agreement_on_shared_sentences(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none"), _row(1, "against", "none"), _row(2, "none", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(1, "against", "favor"), _row(2, "favor", "none"), _row(3, "none", "none")])
    result = agreement(a, b)
    assert result["n"] == 2
    russia = result["targets"]["russia"]
    assert russia["agreement"] == 0.5 and russia["n"] == 2
    assert russia["confusion"]["none"]["favor"] == 1 and russia["confusion"]["against"]["against"] == 1
    assert result["targets"]["eu"]["kappa"] == 0.0  # b uses two classes, a one: no agreement beyond chance
    assert [(d["sentence"], d["target"]) for d in result["disagreements"]] == [(1, "eu"), (2, "russia")]


def test_merge_rules_and_conflicts(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(0, "against", "none"), _row(1, "none", None)])
    c = _write(tmp_path / "c.jsonl", [_row(0, "favor", "favor")])
    later = merge_labels([a, b, c], tmp_path / "later.jsonl", "later")
    rows = {r["sentence"]: r for r in _rows(tmp_path / "later.jsonl")}
    assert rows[0]["russia"] == "favor" and rows[0]["eu"] == "favor" and rows[1]["eu"] == "none"
    assert {(c["sentence"], c["target"]) for c in later["conflicts"]} == {(0, "russia"), (0, "eu")}
    merge_labels([a, b, c], tmp_path / "major.jsonl", "majority")
    rows = {r["sentence"]: r for r in _rows(tmp_path / "major.jsonl")}
    assert rows[0]["russia"] == "favor" and rows[0]["eu"] == "none"
    merge_labels([b, a], tmp_path / "tie.jsonl", "majority")  # 1 vs 1: the later file wins
    assert {r["sentence"]: r for r in _rows(tmp_path / "tie.jsonl")}[0]["russia"] == "favor"


def test_check_and_stats(tmp_path):
    good = write_corpus(tmp_path / "c")
    bad = _write(tmp_path / "bad.jsonl", [_row(0, "favor", "none"), {"article": "x", "sentence": 1, "text": "S1.",
                                                                     "russia": "pro", "eu": "none"}])
    problems = check_labels([good, bad])
    assert len(problems) == 1 and problems[0].startswith(f"{bad}:2:")
    stats = label_stats([good])
    assert stats["targets"]["russia"]["favor"] == 12 and stats["furniture"] == 6
    assert stats["articles"]["art0"]["sentences"] == 6 and stats["origins"] == {"written": 36}
    # sound one by one, refused together: check says what training would
    articles = [good.parent]
    shutil.copy(good, tmp_path / "copy.jsonl")
    assert check_labels([good], articles) == [] and check_labels([tmp_path / "copy.jsonl"], articles) == []
    problems = check_labels([good, tmp_path / "copy.jsonl"], articles)
    assert len(problems) == 1 and "copy.jsonl:1: duplicate label for article art0 sentence 0" in problems[0]
    problems = check_labels([good, tmp_path / "c" / "." / good.name], articles)
    assert len(problems) == 1 and "is given more than once" in problems[0]
    problems = check_labels([good, bad, tmp_path / "copy.jsonl"], articles)  # a bad file hides no other problem
    assert len(problems) == 2 and "bad.jsonl:2:" in problems[0] and "duplicate label" in problems[1]


def test_check_names_a_stance_labeled_on_page_furniture(tmp_path):
    """Such a label is never trained on: without a word it is lost."""
    rows = [json.loads(line) for line in (REPO / "labels" / "seeds.jsonl").read_text("utf-8").splitlines()[:5]]
    assert rows[1]["text"].startswith("15:45, Tue, Nov 4, 2025")  # a dateline
    rows[1]["russia"] = "favor"
    labels = _write(tmp_path / "furn.jsonl", rows)
    assert check_labels([labels], [REPO / "seeds"]) == [
        f"{labels}:2: sentence 1 is page furniture (dateline), never trained on or scored, yet labeled russia favor; "
        "label it none, or check the line"]


def _tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True)


def _wait_for(session, text, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        screen = _tmux("capture-pane", "-p", "-t", session).stdout
        if text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared:\n{screen}")


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed")
def test_single_keystrokes_in_a_real_terminal(tmp_path, isolated_home):
    from conftest import stance_script

    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\nThe parade lasted.\n",
                       encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    session = f"stance-test-{os.getpid()}"
    command = (f"HOME={isolated_home} STANCE_HOME={isolated_home}/stance HF_HUB_OFFLINE=1 "
               f"{stance_script()} label {article} --labels {out} --annotator ana; sleep 30")
    _tmux("new-session", "-d", "-s", session, "-x", "160", "-y", "40", command)
    try:
        _wait_for(session, "russia? [f favor")
        _tmux("send-keys", "-t", session, "f")
        _wait_for(session, "eu? [f favor")
        _tmux("send-keys", "-t", session, "n")  # no Enter: one keystroke per choice
        screen = _wait_for(session, "[2/3]")
        assert "[1/3]" not in screen and "Keys: f favor" in screen  # each sentence on a fresh screen
        assert [(r["sentence"], r["russia"], r["eu"]) for r in _rows(out)] == [(0, "favor", "none")]
        _tmux("send-keys", "-t", session, "sq")  # typed ahead of the next prompt: neither key is lost
        screen = _wait_for(session, "1 answered, 1 skipped")
        assert "[3/3]" in screen and "Keys: f favor" in screen
    finally:
        _tmux("kill-session", "-t", session)
    assert len(_rows(out)) == 1


def test_agreement_and_merge_commands(tmp_path, isolated_home):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(0, "against", "none"), _row(1, "none", "none")])
    result = run_stance("labels", "agreement", a, b, "--json")
    data = json.loads(result.stdout)
    assert set(data) == {"n", "sides", "targets", "disagreements"} and data["n"] == 2
    assert data["sides"] == [str(a), str(b)]
    assert set(data["targets"]["russia"]) == {"kappa", "agreement", "n", "confusion"}
    assert data["targets"]["eu"]["kappa"] == 1.0  # one class only, full agreement
    merged = run_stance("labels", "merge", a, b, "--out", tmp_path / "m.jsonl")
    assert merged.returncode == 0 and "1 conflicts" in merged.stdout and "x:0 russia" in merged.stderr
    refused = run_stance("labels", "merge", a, b, "--out", a)
    assert refused.returncode == 1 and "also an input" in refused.stderr


def test_a_duplicate_label_is_told_the_remedy_that_works_for_it(tmp_path):
    repeated = _write(tmp_path / "plain.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none"), _row(0, "favor", "none")])
    with pytest.raises(Exception, match="duplicate") as plain:
        load_labels(repeated, check_text=False)
    assert str(plain.value).endswith("keep one of the two lines")  # merge would refuse this file as well
    assert run_stance("labels", "merge", repeated, "--out", tmp_path / "no.jsonl").returncode == 1
    shared = _write(tmp_path / "shared log.jsonl", [_row(0, "favor", "none", annotator="ana"),
                                                     _row(0, "against", "none", annotator="bo")])
    with pytest.raises(Exception, match="duplicate") as two:
        load_labels(shared, check_text=False)
    command = shlex.split(re.search(r"`stance (labels merge [^`]+)`", str(two.value)).group(1))
    result = run_stance(*command, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "1 conflicts" in result.stdout  # ana and bo disagree; the later answer is kept
    assert [r["russia"] for r in map(json.loads, (tmp_path / "merged.jsonl").read_text().splitlines())] == ["against"]


def test_a_log_two_annotators_shared_merges_as_one_file_per_annotator(tmp_path):
    shared = _write(tmp_path / "mine.jsonl", [
        _row(0, "favor", "none", annotator="ana"), _row(1, "none", "none", annotator="ana"),
        _row(0, "against", "none", annotator="bo"), _row(1, "none", "none", annotator="bo"),
        _row(0, "favor", "none", annotator="cy"),
    ])
    with pytest.raises(Exception, match="duplicate label"):  # as one file it is ambiguous
        load_labels(shared, check_text=False)
    assert [r["russia"] for r in load_labels(shared, check_text=False, annotator="bo")] == ["against", "none"]
    with pytest.raises(LabelFormatError, match="annotator is 5; pass an annotator's name as text"):
        load_labels(shared, check_text=False, annotator=5)
    result = merge_labels([shared], tmp_path / "m.jsonl", rule="majority")
    (conflict,) = result["conflicts"]
    assert [v["file"] for v in conflict["labels"]] == [f"{shared} ({a})" for a in ("ana", "bo", "cy")]
    assert conflict["kept"] == "favor" and [r["russia"] for r in _rows(tmp_path / "m.jsonl")] == ["favor", "none"]


def test_annotators_keep_the_order_of_their_first_answers_when_one_answers_again(tmp_path):
    """ana answers first; her answer to S0 again, after bo's, once made bo A and the later voter."""
    rows = [_row(0, "favor", "none", annotator="ana"), _row(0, "against", "none", annotator="bo"),
            _row(0, "against", "none", annotator="ana"), _row(3, "none", "none", annotator="ana"),
            _row(3, "favor", "none", annotator="bo")]
    again, once = _write(tmp_path / "again.jsonl", rows), _write(tmp_path / "once.jsonl", rows[:2] + rows[3:])
    for shared in (again, once):
        assert agreement(shared)["sides"] == [f"{shared} (ana)", f"{shared} (bo)"]
        result = merge_labels([shared], tmp_path / f"merged-{shared.name}")
        assert [r["russia"] for r in _rows(tmp_path / f"merged-{shared.name}")] == ["against", "favor"]  # bo is later
        assert [c["kept"] for c in result["conflicts"]] == (["favor"] if shared is again else ["against", "favor"])


def test_agreement_compares_two_annotators_of_a_shared_log(tmp_path):
    shared = _write(tmp_path / "mine.jsonl", [
        _row(0, "favor", "none", annotator="ana"), _row(1, "none", "none", annotator="ana"),
        _row(0, "against", "none", annotator="bo"), _row(1, "none", None, annotator="bo"),
    ])
    result = agreement(shared)
    assert result["n"] == 2 and result["sides"] == [f"{shared} (ana)", f"{shared} (bo)"]
    assert result["targets"]["russia"]["confusion"]["favor"]["against"] == 1 and result["targets"]["eu"]["n"] == 1
    assert [(d["sentence"], d["a"], d["b"]) for d in result["disagreements"]] == [(0, "favor", "against")]
    swapped = agreement(shared, annotators=["bo", "ana"])
    assert swapped["disagreements"][0]["a"] == "against"
    _write(shared, _rows(shared) + [_row(0, "favor", "none", annotator="cy")])
    with pytest.raises(LabelFormatError, match="3 annotator.*ana, bo, cy.*--annotators"):
        agreement(shared)  # which two is the user's choice
    with pytest.raises(LabelFormatError, match="no answers by dee; it holds ana, bo, cy"):
        agreement(shared, annotators=["ana", "dee"])
    with pytest.raises(LabelFormatError, match="compared with itself"):
        agreement(shared, shared, annotators=["ana", "ana"])
    other = _write(tmp_path / "other.jsonl", [_row(0, "favor", "favor")])
    with pytest.raises(LabelFormatError, match="holds answers by 3 annotators"):
        agreement(shared, other)  # a log read as one file would mix their answers
    one_each = agreement(shared, other, annotators=["cy", ""])
    assert one_each["n"] == 1 and one_each["targets"]["eu"]["confusion"]["none"]["favor"] == 1
    cli = run_stance("labels", "agreement", shared, "--annotators", "bo,cy")
    assert cli.returncode == 0, cli.stderr
    assert f"A = {shared} (bo), B = {shared} (cy)" in cli.stdout and "russia: kappa" in cli.stdout


def test_agreement_without_a_shared_sentence_is_refused_not_a_kappa(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(1, "favor", "none")])
    assert agreement(a, b)["n"] == 0
    result = run_stance("labels", "agreement", a, b)
    assert result.returncode == 1 and "no sentence is labeled by both" in result.stderr
    assert "kappa" not in result.stdout and "Traceback" not in result.stderr
    c = _write(tmp_path / "c.jsonl", [_row(1, "favor", None)])
    eu = agreement(b, c)["targets"]["eu"]
    assert eu == {"kappa": None, "agreement": None, "n": 0, "confusion": eu["confusion"]}
    assert "eu: no sentence labeled by both" in run_stance("labels", "agreement", b, c).stdout


def test_agreement_and_merge_refuse_files_that_split_an_article_differently(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none")])
    shifted = _write(tmp_path / "b.jsonl", [dict(_row(0, "favor", "none"), text="S1."), _row(1, "none", "none")])
    for call in (lambda: agreement(a, shifted), lambda: merge_labels([a, shifted], tmp_path / "m.jsonl")):
        with pytest.raises(LabelFormatError, match="b.jsonl:1: the text of article x sentence 0 differs from .*a.jsonl:1"):
            call()


def test_merge_refuses_a_file_given_twice(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(0, "against", "none")])
    with pytest.raises(LabelFormatError, match="a.jsonl is given more than once"):
        merge_labels([a, b, tmp_path / "." / "a.jsonl"], tmp_path / "m.jsonl", rule="majority")
    assert not (tmp_path / "m.jsonl").exists()


def test_ctrl_c_in_a_command_with_nothing_to_keep_is_one_line(tmp_path, isolated_home):
    big = _write(tmp_path / "big.jsonl", [{**_row(i, "favor", "none"), "article": f"a{i // 50}"} for i in range(200_000)])
    process = subprocess.Popen([stance_script(), "labels", "stats", str(big)], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"},  # as from a terminal, even when the tests
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))  # run in the background
    time.sleep(1.5)
    while process.poll() is None:  # again until Python code, not a library's C loop, gets it
        process.send_signal(signal.SIGINT)
        time.sleep(0.5)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130 and "Traceback" not in stderr
    assert stderr.strip().splitlines() == ["error: interrupted; files are written whole or not at all, so none was "
                                           "left half-written"]


def test_a_targets_declaration_naming_a_target_twice_is_refused(tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text('{"targets": ["russia", "russia"]}\n' + json.dumps(_row(0, "favor", "none")) + "\n", encoding="utf-8")
    with pytest.raises(LabelFormatError, match=r"d.jsonl:1: .*distinct names"):
        load_labels(path, check_text=False)


def test_labeling_into_a_file_of_fewer_targets_asks_only_those_and_keeps_the_file_readable(tmp_path, isolated_home):
    article = tmp_path / "art.txt"
    article.write_text("Serbia signs a gas deal with Moscow.\nBelgrade opens an EU chapter.\n", encoding="utf-8")
    declared = tmp_path / "russia-only.jsonl"
    declared.write_text('{"targets": ["russia"]}\n', encoding="utf-8")
    result = run_stance("label", article, "--labels", declared, "--annotator", "bo", "--order", "document", stdin="f\nn\nq\n")
    assert result.returncode == 0, result.stderr
    assert "holds russia labels only" in result.stderr
    rows = load_labels(declared, articles=tmp_path)  # every row is one the file can hold
    assert [(r["sentence"], r["russia"]) for r in rows] == [(0, "favor"), (1, "none")]
    foreign = _write(tmp_path / "nato.jsonl", [{"article": "art", "sentence": 0, "text": "x", "nato": "favor"}])
    before = foreign.read_bytes()
    line = one_error_line(run_stance("label", article, "--labels", foreign, "--annotator", "bo", stdin="f\n"))
    assert "holds labels for nato" in line and foreign.read_bytes() == before


def test_labeling_refuses_its_own_label_file_as_an_article(tmp_path, isolated_home):
    out = _write(tmp_path / "mine.jsonl", [_row(0, "favor", "none", annotator="ana")])
    before = out.read_bytes()
    result = run_stance("label", out, "--labels", tmp_path / "." / "mine.jsonl", "--annotator", "ana", stdin="n\nn\n")
    assert result.returncode == 1 and "is the --labels file answers go to" in result.stderr
    assert out.read_bytes() == before


def test_merge_keeps_the_origin_a_file_states_over_one_inferred(tmp_path):
    stated = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none", origin="seed"), _row(1, "none", "none", origin="seed")])
    silent = _write(tmp_path / "b.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none")])
    merge_labels([stated, silent], tmp_path / "m.jsonl")
    assert [r["origin"] for r in _rows(tmp_path / "m.jsonl")] == ["seed", "seed"]
    partial = _write(tmp_path / "p.jsonl", [_row(0, "favor", "none", origin="written"), _row(1, "none", "none")])
    merge_labels([partial], tmp_path / "m2.jsonl")  # an article has one origin: its silent row takes the stated one
    assert [r["origin"] for r in _rows(tmp_path / "m2.jsonl")] == ["written", "written"]
    with pytest.warns(StanceWarning, match="text not checked against the splitter for 1 article"):
        load_labels(tmp_path / "m2.jsonl")  # the merged file reads back (its article x is not here to check)


def test_merge_refuses_files_that_give_one_article_two_origins_rather_than_write_a_file_none_reads(tmp_path):
    stated = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none", origin="seed")])
    later = _write(tmp_path / "c.jsonl", [_row(1, "favor", "none", origin="written")])
    with pytest.raises(LabelFormatError, match=f"article 'x' is seed in {stated} and written in {later}"):
        merge_labels([stated, later], tmp_path / "m.jsonl")
    assert not (tmp_path / "m.jsonl").exists()


def test_merge_states_no_origin_it_only_guessed_so_a_seed_stays_a_seed(tmp_path):
    seeds = [json.loads(line) for line in (REPO / "labels" / "seeds.jsonl").read_text("utf-8").splitlines()[:3]]
    silent = _write(tmp_path / "mine.jsonl", [{k: v for k, v in r.items() if k != "origin"} for r in seeds])
    merge_labels([silent], tmp_path / "merged.jsonl")
    assert all("origin" not in r for r in _rows(tmp_path / "merged.jsonl"))  # not 'written', guessed without the article
    origins = [r["origin"] for r in load_labels(tmp_path / "merged.jsonl", articles=REPO / "seeds")]
    assert origins == [r["origin"] for r in load_labels(silent, articles=REPO / "seeds")] == ["seed"] * 3


def test_merge_never_writes_over_its_inputs_nor_over_a_file_unasked(tmp_path):
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(0, "against", "none")])
    before = a.read_bytes()
    with pytest.raises(LabelFormatError, match="is also an input"):
        merge_labels([a, b], tmp_path / "." / "a.jsonl")
    with pytest.raises(LabelFormatError, match="exists and would be overwritten"):
        merge_labels([b], a)
    assert a.read_bytes() == before
    merge_labels([b], a, replace=True)
    assert [r["russia"] for r in _rows(a)] == ["against"]
    bom = tmp_path / "bom.jsonl"
    bom.write_bytes(b"\xef\xbb\xbf" + a.read_bytes())  # a label file as some editors save it
    merge_labels([b], bom, replace=True)
    notes = tmp_path / "notes.txt"
    notes.write_text("the annotators' notes\n")
    with pytest.raises(LabelFormatError, match="notes.txt is no label file, and replacing it would lose what it holds"):
        merge_labels([b], notes, replace=True)  # --replace is for a label file, as --html is for a page
    assert notes.read_text() == "the annotators' notes\n"


def test_answered_follows_the_log_per_annotator(tmp_path):
    log = LabelLog(tmp_path / "mine.jsonl")
    for row in [
        {"article": "a", "sentence": 0, "annotator": "ana", "russia": "favor"},
        {"article": "a", "sentence": 1, "annotator": "ana", "russia": "none"},
        {"article": "a", "sentence": 1, "annotator": "ana", "undone": True},
        {"article": "a", "sentence": 2, "annotator": "ana", "undone": True},
        {"article": "a", "sentence": 2, "annotator": "ana", "russia": "against"},
        {"article": "a", "sentence": 3, "annotator": "bo", "russia": "favor"},
    ]:
        log.append(row)
    assert log.answered("ana") == {("a", 0), ("a", 2)}
    assert log.answered("bo") == {("a", 3)}


def _as_from_a_shell():
    """Signals as a terminal's shell leaves them, even when the tests run under nohup (which ignores SIGHUP)."""
    for sig in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP])
def test_a_labeling_session_killed_by_a_signal_gives_the_terminal_back_and_keeps_its_answers(tmp_path, isolated_home,
                                                                                              stop):
    """`kill`, `timeout` or a closed window left the terminal without echo, as if the keyboard were dead."""
    import pty
    import select
    import termios

    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    master, slave = pty.openpty()
    assert termios.tcgetattr(slave)[3] & termios.ECHO  # a terminal as a shell leaves it
    process = subprocess.Popen([stance_script(), "label", str(article), "--labels", str(out), "--annotator", "ana"],
                               stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1", "TERM": "dumb"},
                               preexec_fn=_as_from_a_shell)
    screen = b""

    def until(text: bytes) -> None:
        nonlocal screen
        deadline = time.monotonic() + 120
        while text not in screen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                screen += os.read(master, 4096)
        assert text in screen, screen.decode(errors="replace")

    until(b"russia? [f")
    os.write(master, b"f")
    until(b"eu? [f")
    os.write(master, b"n")
    until(b"[2/2]")
    process.send_signal(stop)
    process.wait(timeout=60)
    while select.select([master], [], [], 0.2)[0]:
        try:
            screen += os.read(master, 4096)
        except OSError:
            break
    mode = termios.tcgetattr(slave)[3]
    os.close(master)
    os.close(slave)
    assert process.returncode == 130 and b"every answer given so far is saved" in screen
    assert mode & termios.ECHO and mode & termios.ICANON  # the shell gets its terminal back
    assert [(r["sentence"], r["russia"], r["eu"]) for r in map(json.loads, out.read_text().splitlines()[-1:])] == [
        (0, "favor", "none")]


@pytest.mark.parametrize("name", ["plan", "index", "explain"])
def test_a_target_named_as_a_field_stance_writes_beside_the_targets_is_refused(tmp_path, name):
    """A target 'plan' overwrote the plan of every evaluated sentence (a traceback after the whole training)."""
    from stance.model import StanceClassifier

    labels = _write(tmp_path / "t.jsonl", [{"article": "a", "sentence": 0, "text": "Serbia buys gas.", name: "favor",
                                            "eu": "none"}])
    with pytest.raises(LabelFormatError, match=f"t.jsonl:1: target '{name}' has the name of a field stance writes"):
        load_labels([labels])
    with pytest.raises(ValueError, match=f"target '{name}' has the name of a field stance writes"):
        StanceClassifier(encoder=HashingEncoder(), targets=(name, "eu")).fit(["Serbia buys gas."] * 2,
                                                                             [["favor", "none"], ["none", "none"]])


def test_an_arrow_or_function_key_is_one_key_wherever_it_falls_in_a_read():
    assert split_keys("n\x1b[Aq") == (["n", "\x1b[A", "q"], "")  # never the 'A' of against
    assert split_keys("f\x1b[1;5") == (["f"], "\x1b[1;5")  # the rest may come with the next read
    assert split_keys("\x1bOPx") == (["\x1bOP", "x"], "")
    assert split_keys("\x1b") == ([], "\x1b")
    log_keys = iter(["\x1b[A", "\t", "n", "n", "q"])  # neither an arrow nor a Tab accepts the guess
    shown = []
    counts = run_session(_queue(1), _NoLog(), annotator="ana", targets=TARGETS, keys=log_keys, show=shown.append)
    assert counts["answered"] == 1 and sum("unknown key" in line for line in shown) == 2


class _NoLog:
    """A label log that keeps its rows in memory."""

    path = "mine.jsonl"

    def __init__(self):
        self.rows = []

    def answered_texts(self, annotator):
        return {}

    def append(self, row):
        self.rows.append(row)


def test_a_sentence_too_long_for_a_label_line_is_not_asked_and_the_file_stays_readable(tmp_path):
    from stance.schema import MAX_LABEL_LINE

    log = LabelLog(tmp_path / "mine.jsonl")
    queue = [Candidate("art", 0, "Serbia. " * (MAX_LABEL_LINE // 8)), *_queue(2)[1:]]
    shown = []
    counts = run_session(queue, log, annotator="ana", targets=TARGETS, keys=iter(["n", "n", "q"]), show=shown.append)
    assert counts["too_long"] == 1 and counts["answered"] == 1 and "1 sentence(s) too long" in shown[0]
    assert [r["sentence"] for r in load_labels(log.path, check_text=False)] == [1]
    with pytest.raises(LabelFormatError, match="over the 1 MiB a label line may hold"):
        log.append({"article": "art", "sentence": 0, "text": queue[0].text, "russia": "none", "eu": "none"})
    assert len(_rows(log.path)) == 1


def test_a_sentence_whose_article_changed_since_its_answer_is_asked_again(tmp_path):
    log = LabelLog(tmp_path / "mine.jsonl")
    run_session(_queue(2), log, annotator="ana", targets=TARGETS, keys=iter(["f", "n", "f", "n"]), show=print)
    edited = [Candidate("art", 0, "Sentence number 0, edited."), *_queue(2)[1:]]
    shown = []
    counts = run_session(edited, log, annotator="ana", targets=TARGETS, keys=iter(["a", "a"]), show=shown.append)
    assert counts["changed"] == 1 and counts["answered"] == 1 and "asked again" in shown[0]
    assert sorted((r["sentence"], r["russia"]) for r in load_labels(log.path, check_text=False)) == [(0, "against"),
                                                                                                       (1, "favor")]


def test_labeling_into_a_file_that_names_no_target_is_refused_before_any_answer(tmp_path, isolated_home):
    (tmp_path / "a.txt").write_text("Serbia buys Russian gas.\nVucic visited Brussels.\n", encoding="utf-8")
    labels = tmp_path / "mine.jsonl"
    labels.write_text('{"targets": []}\n', encoding="utf-8")
    result = run_stance("label", tmp_path / "a.txt", "--labels", labels, "--annotator", "ana", stdin="q\n")
    assert "names no target" in one_error_line(result)
    assert labels.read_text("utf-8") == '{"targets": []}\n'
    with pytest.raises(LabelFormatError, match="no target to ask"):
        run_session(_queue(1), LabelLog(tmp_path / "other.jsonl"), annotator="ana", targets=[], keys=iter(["q"]),
                    show=print)


def test_a_label_file_linked_into_a_missing_folder_is_refused_before_any_answer(tmp_path, isolated_home):
    (tmp_path / "a.txt").write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    (tmp_path / "mine.jsonl").symlink_to("gone/mine.jsonl")
    result = run_stance("label", tmp_path / "a.txt", "--labels", tmp_path / "mine.jsonl", "--annotator", "ana",
                        stdin="f\nn\n")
    assert "is a symbolic link to gone/mine.jsonl, whose folder does not exist" in one_error_line(result)
    assert not (tmp_path / "gone").exists()


def test_an_undo_without_annotator_withdraws_only_the_answers_before_it_and_undone_must_be_true(tmp_path):
    undo = {"article": "x", "sentence": 0, "undone": True}
    path = _write(tmp_path / "log.jsonl", [_row(0, "favor", "none"), undo, _row(0, "against", "none"), _row(1, "none", "none")])
    assert [(r["sentence"], r["russia"]) for r in load_labels(path, check_text=False)] == [(0, "against"), (1, "none")]
    for value in ("yes", 1, [True]):
        odd = _write(tmp_path / "odd.jsonl", [_row(0, "favor", "none"), {**undo, "undone": value}])
        with pytest.raises(LabelFormatError, match=r"odd.jsonl:2: 'undone' must be true \(an undo row\) or left out"):
            load_labels(odd, check_text=False)


def test_a_label_check_that_cannot_find_the_articles_warns_and_passes(tmp_path, isolated_home):
    labels = _write(tmp_path / "x.jsonl", [_row(0, "favor", "none")])
    result = run_stance("labels", "check", labels, "--articles", tmp_path)
    assert result.returncode == 0 and "ok: 1 file(s)" in result.stdout
    assert "warning: " in result.stderr and "text not checked against the splitter" in result.stderr


def test_target_names_from_a_file_reach_the_terminal_escaped(tmp_path, isolated_home):
    labels = _write(tmp_path / "t.jsonl", [{"targets": ["ru\x1b[2J"]},
                                           {"article": "x", "sentence": 0, "text": "S0.", "ru\x1b[2J": "favor"}])
    result = run_stance("labels", "stats", labels, "--articles", tmp_path)
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout and "ru\\x1b[2J" in result.stdout


def test_a_note_in_a_first_row_is_read_as_a_target_and_the_error_says_how_to_declare_the_targets(tmp_path):
    noted = _write(tmp_path / "n.jsonl", [_row(0, "favor", "none", note="double-check")])
    with pytest.raises(LabelFormatError, match=r"'note' must be favor\|against\|none, not 'double-check'; if 'note' "
                                               r"is no target, start the file with a line naming the targets"):
        load_labels(noted, check_text=False)
    with pytest.raises(LabelFormatError, match=r"'russia' must be favor\|against\|none, not 'Favor'$"):
        load_labels(_write(tmp_path / "f.jsonl", [_row(0, "Favor", "none")]), check_text=False)


def test_labeling_refuses_a_folder_s_article_index_as_its_label_file(tmp_path, isolated_home):
    folder = tmp_path / "idx"
    folder.mkdir()
    (folder / "a.txt").write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    result = run_stance("label", folder, "--labels", folder / "articles.jsonl", "--annotator", "ana", stdin="f\nn\n")
    assert "is the article index of" in one_error_line(result) and not (folder / "articles.jsonl").exists()


def test_a_second_session_of_one_annotator_on_one_file_is_refused_until_the_first_ends(tmp_path, isolated_home):
    """Two sessions of one annotator asked the same sentences and wrote each answer twice."""
    import fcntl

    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\nSerbia joins EU talks.\n",
                       encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    first = subprocess.Popen([stance_script(), "label", str(article), "--labels", str(out), "--annotator", "ana",
                              "--order", "document"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, env={**os.environ, "HF_HUB_OFFLINE": "1"})

    def answer(keys: bytes, rows: int) -> None:
        first.stdin.write(keys)
        first.stdin.flush()
        deadline = time.monotonic() + 120
        while not (out.exists() and len(out.read_bytes().splitlines()) == rows) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(out.read_bytes().splitlines()) == rows

    def refused(path=out, **env) -> None:
        before = out.read_bytes()
        line = one_error_line(run_stance("label", article, "--labels", path, "--annotator", "ana", stdin="a\nn\n",
                                         env=env))
        assert f"{path}: ana is labeling into it in another session; quit that one first" in line
        assert out.read_bytes() == before

    try:
        answer(b"f\nn\n", 1)
        os.link(out, tmp_path / "also.jsonl")
        (tmp_path / "elsewhere").mkdir()
        refused()
        refused(tmp_path / "also.jsonl", STANCE_HOME=str(tmp_path / "elsewhere"))  # another name, another data folder
        other = run_stance("label", article, "--labels", out, "--annotator", "bo", "--order", "document", stdin="a\nn\nq\n")
        assert other.returncode == 0 and "1 answered" in other.stderr, other.stderr
        saved = tmp_path / "saved.jsonl"  # saved as an editor saves: a new file renamed over the old
        saved.write_bytes(out.read_bytes())
        os.replace(saved, out)
        answer(b"n\nn\n", 3)  # the session's next answer holds the new file
        refused()
    finally:
        first.kill()  # SIGKILL: no code of its own runs, and the hold goes with the process
        first.wait(timeout=60)
    with open(out, "rb") as held:  # another program's lock on the whole file is not taken for a session
        fcntl.lockf(held, fcntl.LOCK_SH | fcntl.LOCK_NB)
        line = one_error_line(run_stance("label", article, "--labels", out, "--annotator", "zoe", stdin="q\n"))
        assert f"{out}: another program holds a lock on the whole file; wait until it is done" in line
    again = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="a\nn\n")
    assert again.returncode == 0 and "1 answered" in again.stderr, again.stderr
    assert [(r["annotator"], r["sentence"], r["russia"]) for r in _rows(out)] == [
        ("ana", 0, "favor"), ("bo", 0, "against"), ("ana", 1, "none"), ("ana", 2, "against")]


def test_a_label_file_swapped_for_a_fifo_during_a_session_refuses_the_answer_it_would_swallow(tmp_path):
    path = tmp_path / "mine.jsonl"
    log = LabelLog(path)
    row = {"article": "a", "sentence": 0, "annotator": "ana", "russia": "none", "eu": "none"}
    with log.session("ana"):
        log.append(row)
        path.unlink()
        os.mkfifo(path)
        with pytest.raises(LabelFormatError, match=r"mine.jsonl: is now a FIFO \(named pipe\), not a regular file, so "
                                                   "no answer is saved there; put the label file back"):
            log.append({**row, "sentence": 1})


def test_one_name_written_two_ways_in_unicode_is_one_annotator(tmp_path, isolated_home):
    """ "Zoë" precomposed and "Zoë" with a combining mark were two annotators: asked the same sentences
    again, held apart in a session, and compared with herself as a second annotator."""
    composed, combining = "Zo\u00eb", "Zoe\u0308"
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nSerbia joins EU talks.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    out.write_text(json.dumps({"article": "a", "sentence": 0, "text": "Serbia buys Russian gas.", "russia": "favor",
                               "eu": "none", "annotator": combining}) + "\n", encoding="utf-8")
    result = run_stance("label", article, "--labels", out, "--annotator", composed, "--order", "document",
                        stdin="a\nf\n")
    assert result.returncode == 0 and "1 answered" in result.stderr, result.stderr  # sentence 0 is hers already
    assert [(r["sentence"], r["annotator"]) for r in _rows(out)] == [(0, combining), (1, composed)]
    assert LabelLog(out).answered(combining) == LabelLog(out).answered(composed) == {("a", 0), ("a", 1)}
    assert {row["annotator"] for row in label_rows(out)} == {composed}
    with pytest.raises(LabelFormatError, match="holds answers by 1 annotator"):
        agreement(out)
    with LabelLog(out).session(combining):
        with pytest.raises(LabelFormatError, match="is labeling into it in another session"):
            with LabelLog(out).session(composed):
                pass


def test_a_merge_is_not_written_over_a_label_file_a_session_is_saving_into(tmp_path):
    """`labels merge --out labels/mine.jsonl --replace` during a session lost the answers given so far, and the
    session went on saving after the merged rows as if nothing had happened."""
    out = tmp_path / "mine.jsonl"
    one = _write(tmp_path / "one.jsonl", [_row(0, "none", "none")])
    two = _write(tmp_path / "two.jsonl", [_row(0, "against", "against")])
    log = LabelLog(out)
    with log.session("ana"):
        log.append({**_row(0, "favor", "favor"), "annotator": "ana"})
        before = out.read_bytes()
        with pytest.raises(LabelFormatError, match="a `stance label` session is saving answers into it; quit that "
                                                   "session first, or write the merge to a new file"):
            merge_labels([one, two], out, replace=True)
        assert out.read_bytes() == before
    merge_labels([one, two], out, replace=True)  # the session over, the file may be replaced as asked
    assert [r["russia"] for r in _rows(out)] == ["against"]


def test_a_session_quit_before_its_first_answer_leaves_no_empty_label_file(tmp_path, isolated_home):
    """The empty file it left made `stance train`, `labels stats` and `labels check` refuse to run."""
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\n", encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    quit_early = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="q\n")
    assert quit_early.returncode == 0, quit_early.stderr
    assert not out.exists() and "0 answered" in quit_early.stderr and "no label file made" in quit_early.stderr
    out.write_bytes(b"")  # an empty file the user made stays: it is not the session's to remove
    kept = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="q\n")
    assert kept.returncode == 0 and out.exists() and f"saved in {out}" in kept.stderr
    with pytest.raises(LabelFormatError, match="no label rows .*; label into it, or leave it out"):
        load_labels(out)


def test_a_label_file_in_new_folders_makes_them_only_for_an_answer(tmp_path, isolated_home):
    """The folders were made when the command started, and left behind by a refusal or a quit."""
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\n", encoding="utf-8")
    out = tmp_path / "new" / "sub" / "mine.jsonl"
    line = one_error_line(run_stance("label", article, "--labels", out, "--model", tmp_path / "no-model"))
    assert "no trained model at" in line and not (tmp_path / "new").exists()
    quit_early = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="q\n")
    assert quit_early.returncode == 0, quit_early.stderr
    assert not (tmp_path / "new").exists()
    answered = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="n\nn\nq\n")
    assert answered.returncode == 0, answered.stderr
    assert [r["sentence"] for r in _rows(out)] == [0]
    (tmp_path / "there").mkdir()  # a path through ".." names a folder that was there: it stays
    through = tmp_path / "gone" / ".." / "there" / "new" / "mine.jsonl"
    assert run_stance("label", article, "--labels", through, "--annotator", "ana", stdin="q\n").returncode == 0
    assert (tmp_path / "there").is_dir() and not (tmp_path / "there" / "new").exists()
    assert not (tmp_path / "gone").exists()
    too_long = tmp_path / "new2" / "deep" / ("x" * 300 + ".jsonl")  # refused when made: no folder left either
    refused = run_stance("label", article, "--labels", too_long, "--annotator", "ana", stdin="q\n")
    assert refused.returncode == 1 and "Traceback" not in refused.stderr, refused.stderr
    assert refused.stderr.strip().splitlines()[-1].startswith("error: cannot make the label file")
    assert not (tmp_path / "new2").exists()


def test_a_capital_q_or_a_q_with_a_space_quits_and_nothing_is_saved_after_it(tmp_path):
    for quit_key in ("Q", "q ", " Q\r\n"):
        log = LabelLog(tmp_path / f"{len(quit_key)}-{quit_key.strip()}.jsonl")
        counts = run_session(_queue(3), log, annotator="ana", targets=TARGETS,
                             keys=iter(["n", "n", quit_key, "f", "f"]), show=lambda _: None)
        assert counts["answered"] == 1 and counts["remaining"] == 2
        assert [r["sentence"] for r in _rows(log.path)] == [0]


def test_a_long_neighbour_is_shown_cut_short_beside_the_sentence_asked():
    from stance.labeling import CONTEXT_CHARS, render

    long = "Serbia " * 180_000
    screen = render(Candidate("art", 1, "The EU welcomed it.", previous=long, next=long), 1, 3, TARGETS)
    assert len(screen) < 3 * CONTEXT_CHARS and " >> The EU welcomed it." in screen and "…" in screen


def test_a_closed_output_ends_the_session_in_one_line_that_says_the_answers_are_saved(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("".join(f"Serbia signs agreement number {i} with Russia.\n" for i in range(60)), encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    reader = subprocess.Popen(["head", "-c", "2000"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    labeling = subprocess.run([stance_script(), "label", str(article), "--labels", str(out), "--annotator", "ana",
                               "--order", "document"], input=b"n\nn\n" + b"f\nf\n" * 400, stdout=reader.stdin,
                              stderr=subprocess.PIPE, env={**os.environ, "HF_HUB_OFFLINE": "1"}, timeout=120)
    reader.stdin.close()
    reader.wait(timeout=60)
    stderr = labeling.stderr.decode()
    assert labeling.returncode == 1 and "Traceback" not in stderr, stderr
    line = stderr.strip().splitlines()[-1]  # after the note that there is no model yet
    assert f"the output was closed, so no more sentences are asked; every answer given so far is saved in {out}" in line
    assert 1 <= len(_rows(out)) < 60  # a screen is some 300 bytes: answers were given before the reader left


def test_the_last_line_of_a_session_shows_the_label_file_s_name_escaped(tmp_path, isolated_home):
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    out = tmp_path / "esc\x1b]0;retitled\x07.jsonl"
    result = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="n\nn\n")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stderr and "\x07" not in result.stderr
    assert "saved in " + str(tmp_path) + "/esc\\x1b]0;retitled\\x07.jsonl" in result.stderr


@pytest.mark.parametrize("tail", [b"\x00" * 300, b'{"article": "x", "sen' + b"\x00" * 40, b"\x00" * 10 + b"\n"])
def test_a_label_file_ending_in_a_crash_s_zeros_names_the_line_to_remove(tmp_path, tail):
    path = _write(tmp_path / "mine.jsonl", [_row(0, "none", "none"), _row(1, "favor", "none")])
    path.write_bytes(path.read_bytes() + tail)
    with pytest.raises(LabelFormatError, match=r"mine.jsonl:3: NUL bytes where a row should be \(a write cut short by "
                                               r"a crash\?\); remove that line: the rows above it are whole"):
        load_labels(path, check_text=False)
    path.write_bytes("\n".join(['{"a": 1}'] * 2).encode("utf-16"))  # text in another encoding is still named so
    with pytest.raises(LabelFormatError, match="UTF-16 text, not UTF-8"):
        load_labels(path, check_text=False)


def test_answers_past_the_end_of_a_shortened_article_are_kept_said_and_withdrawn_only_when_asked(tmp_path,
                                                                                                  isolated_home):
    """A session on an article shorter than when it was answered appended undo rows for those answers before
    the user pressed a key: answers taken out of use unasked (and sound ones, when another file had the id)."""
    folder = tmp_path / "articles"
    folder.mkdir()
    article = folder / "a.txt"
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\nSerbia joins EU talks.\n",
                       encoding="utf-8")
    out = tmp_path / "mine.jsonl"
    first = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="f\nn\na\nn\nn\nf\n")
    assert first.returncode == 0 and "3 answered" in first.stderr, first.stderr
    answered = out.read_bytes()
    article.write_text("Serbia buys Russian gas.\nBelgrade cancels Russian arms contracts.\n", encoding="utf-8")
    again = run_stance("label", article, "--labels", out, "--annotator", "ana", stdin="q\n")
    assert again.returncode == 0, again.stderr
    assert out.read_bytes() == answered  # nothing withdrawn, nothing written
    assert "1 kept past their article's end" in again.stderr.splitlines()[-1]
    assert ("note: you answered 1 sentence(s) past the end of a (2 sentences) as split now (shortened since, or "
            "another file has the same id); those answers are kept as they are") in again.stdout
    check = run_stance("labels", "check", out, "--articles", folder)
    refused = one_error_line(check, prefix="")
    undo = '{"article": "a", "sentence": 2, "annotator": "ana", "undone": true}'
    assert refused == (f"{out}:3: article a has 2 sentences in {article} as split now, no index 2 (shortened since, or "
                       "another file has the same id); put back the article it was labeled against, or withdraw the "
                       f"answer: append {undo}")
    with out.open("a", encoding="utf-8") as handle:
        handle.write(undo + "\n")  # the user's choice, as the check said it
    assert run_stance("labels", "check", out, "--articles", folder).returncode == 0
    assert [(r["sentence"], r["russia"], r["eu"]) for r in load_labels(out, articles=[folder])] == [
        (0, "favor", "none"), (1, "against", "none")]


def test_answers_past_an_articles_end_count_as_answered_and_write_nothing(tmp_path):
    """Another file with the same id, shorter, must not cost the longer one its answers: back on the
    longer one, nothing is asked again."""
    log = LabelLog(tmp_path / "out.jsonl")
    run_session(_queue(4), log, annotator="ana", targets=TARGETS, keys=iter(["f", "n"] * 4), show=lambda _: None)
    before = log.path.read_bytes()
    shown = []
    counts = run_session(_queue(2), log, annotator="ana", targets=TARGETS, keys=iter(["q"]), show=shown.append,
                         lengths={"art": 2})
    assert log.path.read_bytes() == before and counts["past_end"] == 2 and counts["answered"] == 0
    assert shown == ["note: you answered 2 sentence(s) past the end of art (2 sentences) as split now (shortened "
                     "since, or another file has the same id); those answers are kept as they are, and `stance labels "
                     "check --articles` says what to do with them"]
    screens = []
    counts = run_session(_queue(4), log, annotator="ana", targets=TARGETS, keys=iter([]), show=screens.append,
                         lengths={"art": 4})
    assert screens == [] and counts["remaining"] == 0 and counts["past_end"] == 0
    assert [r["sentence"] for r in load_labels(log.path, check_text=False)] == [0, 1, 2, 3]


MALFORMED_DECLARATIONS = ['{"targets": 5}', '{"targets": null}', '{"targets": [1]}', '{"targets": {"russia": 1}}',
                          '{"targets": ["russia", "russia"]}', '{"targets": "russia"}']


def test_a_malformed_targets_declaration_is_refused_by_a_session_before_the_model_loads(tmp_path, isolated_home):
    """`stance label` gave a TypeError traceback for most of these, appended to a file that names one target
    twice, and read "russia" as the targets r, u, s, s, i, a."""
    article = tmp_path / "a.txt"
    article.write_text("Serbia buys Russian gas.\n", encoding="utf-8")
    labels = tmp_path / "t.jsonl"
    for declaration in MALFORMED_DECLARATIONS:
        labels.write_text(declaration + "\n", encoding="utf-8")
        with pytest.raises(LabelFormatError, match=r"t.jsonl:1: a targets declaration must be the first line, a "
                                                   r"non-empty list of distinct names"):
            LabelLog(labels).held_targets()
        result = run_stance("label", article, "--labels", labels, "--annotator", "ana",  # no such model: refused first
                            "--model", tmp_path / "no-model", stdin="n\nq\n")
        assert one_error_line(result) == (f"error: {labels}:1: a targets declaration must be the first line, a "
                                          'non-empty list of distinct names, such as {"targets": ["russia", "eu"]}')
        assert labels.read_text("utf-8") == declaration + "\n"


def test_a_hard_link_is_the_same_label_file_to_agreement_and_merge(tmp_path):
    """A hard link of a file was taken for a second annotator's (perfect agreement), and a merge was written
    over its own input through one."""
    a = _write(tmp_path / "a.jsonl", [_row(0, "favor", "none"), _row(1, "none", "none")])
    b = _write(tmp_path / "b.jsonl", [_row(0, "against", "none")])
    linked = tmp_path / "h.jsonl"
    os.link(a, linked)
    with pytest.raises(LabelFormatError, match=f"^{re.escape(str(a))} would be compared with itself; give the second"):
        agreement(a, linked)
    before = a.read_bytes()
    with pytest.raises(LabelFormatError, match=f"^{re.escape(str(linked))} is also an input; write the merge to a new"):
        merge_labels([a, b], linked, replace=True)
    assert a.read_bytes() == before
    assert agreement(a, b)["n"] == 1  # two files are still two


def test_a_key_given_twice_in_a_row_is_refused_naming_the_line_and_key(tmp_path, isolated_home):
    """{"russia": "favor", "russia": "none"} was read as none, silently, by every reader of label files."""
    doubled = tmp_path / "d.jsonl"
    doubled.write_text(json.dumps(_row(0, "favor", "none")) + "\n"
                       + '{"article":"x","sentence":1,"text":"S1.","russia":"favor","russia":"none","eu":"none"}\n',
                       encoding="utf-8")
    check = run_stance("labels", "check", doubled)
    assert one_error_line(check, prefix="") == (f"{doubled}:2: not valid JSON (the key 'russia' given twice in one "
                                                "object); fix or remove the line")
    with pytest.raises(LabelFormatError, match=r"d.jsonl:2: not valid JSON \(the key 'russia' given twice"):
        label_stats([doubled])
    with pytest.raises(LabelFormatError, match=r"d.jsonl:2: not valid JSON \(the key 'russia' given twice"):
        LabelLog(doubled).answered("ana")
    nested = _write(tmp_path / "n.jsonl", [{**_row(0, "favor", "none"), "annotator": "ana"}])
    nested.write_text(nested.read_text("utf-8").replace('"annotator"', '"guess": {"eu": "none", "eu": "favor"}, '
                                                                       '"annotator"'), encoding="utf-8")
    with pytest.raises(LabelFormatError, match=r"n.jsonl:1: not valid JSON \(the key 'eu' given twice"):
        load_labels(nested, check_text=False)
    table = tmp_path / "articles.jsonl"
    table.write_text('{"id": "a", "text": "Serbia buys gas.", "text": "Serbia sells gas."}\n', encoding="utf-8")
    with pytest.raises(StanceError, match=r"articles.jsonl:1: not valid JSON \(the key 'text' given twice in one "
                                          r"object\); fix or remove the line"):
        list(read_documents([table]))
    assert load_labels(_write(tmp_path / "ok.jsonl", [_row(0, "favor", "none")]), check_text=False)[0]["russia"] == "favor"
