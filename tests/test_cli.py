"""The command line: errors for bad input, and the end-to-end path with the real model."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
from contextlib import closing

import numpy as np
import pytest

from stance.encoders.transformer import DEFAULT_MODEL_SHA256
from stance.segment import read_article

from conftest import REPO, make_scores, one_error_line, run_stance, stance_script

SEED = REPO / "seeds" / "000_abad3842fbdbf470.txt"


def test_help_lists_commands_and_imports_no_torch():
    result = run_stance("--help")
    assert result.returncode == 0 and "train" in result.stdout and "score" in result.stdout
    check = "import sys, stance, stance.cli; assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", check]).returncode == 0
    probe = ("import sys, runpy; sys.argv=['stance','--help']\n"
             "try:\n    runpy.run_module('stance.cli', run_name='__main__')\nexcept SystemExit: pass\n"
             "from stance.cli import app\ntry:\n    app()\nexcept SystemExit: pass\nassert 'torch' not in sys.modules")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


@pytest.mark.parametrize(("module", "argv"), [
    ("typer", ["drift", "--help"]),  # while the command line imports its libraries: was their traceback
    ("pydantic", ["labels", "stats", "nowhere.jsonl"]),  # while typer reads the options: was exit 130 and no word
])
def test_ctrl_c_while_the_command_line_is_still_loading_is_one_line(module, argv):
    probe = ("import builtins, os, signal, sys\n"
             f"sys.argv = ['stance', *{argv!r}]\n"
             "real = builtins.__import__\n"
             "def interrupt_at(name, *args, **kwargs):\n"
             f"    if name == {module!r}:\n"
             "        os.kill(os.getpid(), signal.SIGINT)\n"
             "        os.kill(os.getpid(), signal.SIGINT)  # pressed twice: the line is still written once\n"
             "    return real(name, *args, **kwargs)\n"
             "builtins.__import__ = interrupt_at\n"
             "from stance.__main__ import main\n"
             "main()\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.default_int_handler))
    assert result.returncode == 130 and result.stdout == ""
    assert result.stderr == "error: interrupted before any work began; nothing was written\n"
    started = subprocess.run([sys.executable, "-m", "stance", "drift", "--help"], capture_output=True, text=True)
    assert started.returncode == 0 and "--by" in started.stdout  # once loaded, the commands run as before


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "no such file"), ("dir", "no .txt articles"), (b"", "empty"), (b"\x00\x01", "binary"), (b"\xff\xfe\xfa", "not UTF-8")],
)
def test_bad_articles_get_one_line(tmp_path, isolated_home, content, message):
    path = tmp_path / "article.txt"
    if content == "dir":
        path = tmp_path
    elif content is not None:
        path.write_bytes(content)
    assert message in one_error_line(run_stance("score", path))


def test_no_trained_model_yet(isolated_home):
    assert "stance train" in one_error_line(run_stance("score", SEED))


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--db", "history.sqlite"], "add --record"), (["--replace"], "add one of them")],
)
def test_storage_options_without_storage_are_refused_before_the_model(tmp_path, isolated_home, options, message):
    # No model is trained here: the refusal must come before the model is looked for, and
    # nothing may be created at the --db path.
    result = run_stance("score", SEED, *[str(tmp_path / o) if o.endswith(".sqlite") else o for o in options])
    assert message in one_error_line(result, code=2)
    assert not (tmp_path / "history.sqlite").exists()


def test_bad_date_is_a_usage_error(isolated_home):
    result = run_stance("score", SEED, "--date", "2025-02-30")
    assert result.returncode == 2 and "YYYY-MM-DD" in result.stderr and "Traceback" not in result.stderr


def test_malformed_label_file_names_its_line(tmp_path, isolated_home):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"article": "a", "sentence": 0, "text": "x", "russia": "none", "eu": "none"}\n{oops\n')
    assert "bad.jsonl:2" in one_error_line(run_stance("train", "--labels", path, "--out", tmp_path / "m"))


def _table(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([{"body": "Serbia buys gas.", "day": "2025-01-01"}], "no 'text' column (columns: body, day)"),
        ([{"text": "Serbia buys gas.", "date": "2025-01-01"}, {"text": "x", "date": "the other day"}],
         "row 2: date 'the other day' is not a date"),
    ],
)
def test_bad_tables_get_one_line(tmp_path, isolated_home, rows, message):
    assert message in one_error_line(run_stance("score", _table(tmp_path / "t.jsonl", rows), "--record"))


def test_stdin_cannot_be_recorded(isolated_home):
    result = run_stance("score", "-", "--record", stdin="Serbia buys Russian gas.\n")
    assert "save it to a file" in one_error_line(result)


def test_drift_without_scores_gets_one_line(tmp_path, isolated_home):
    assert "no history database" in one_error_line(run_stance("drift", "--db", tmp_path / "none.sqlite"))
    from stance.store import HistoryStore

    HistoryStore(tmp_path / "empty.sqlite").close()
    assert "no scores recorded yet" in one_error_line(run_stance("drift", "--db", tmp_path / "empty.sqlite"))
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database" * 200)
    assert "not a usable SQLite database" in one_error_line(run_stance("drift", "--db", junk))
    line = one_error_line(run_stance("drift", "--db", tmp_path / "empty.sqlite", "--by", "fortnight"), code=2)
    assert "'fortnight' is not a period" in line and "see 'stance drift --help'" in line


@pytest.mark.parametrize("args, says, help_of", [
    (["score", "--nope", "a.txt"], "No such option: --nope", "stance score"),
    (["score"], "Missing argument", "stance score"),
    (["labels", "merge", "--zz"], "No such option: --zz", "stance labels merge"),
    (["cache", "nope"], "No such command 'nope'", "stance cache"),
    (["nope"], "No such command 'nope'", "stance"),
    (["label", "x.jsonl", "--order", "random"], "'random': use uncertainty or document", "stance label"),
])
def test_usage_errors_are_one_line_naming_the_help_to_read(args, says, help_of, isolated_home):
    line = one_error_line(run_stance(*args), code=2)
    assert says in line and line.endswith(f"see '{help_of} --help'"), line


def test_a_group_without_its_command_still_shows_its_help(isolated_home):
    result = run_stance("labels")
    assert result.returncode == 2 and "Commands:" in result.stdout + result.stderr and "error:" not in result.stderr


# --- integration: the real MiniLM --------------------------------------------------


@pytest.mark.integration
def test_train_beats_majority_and_writes_report(trained):
    metrics = json.loads((trained["report"] / "metrics.json").read_text())
    loao = metrics["evaluations"]["seed_loao"]
    assert loao["n_articles"] == 5
    for target in ("russia", "eu"):
        row = loao["targets"][target]
        assert row["model"]["macro_f1"] > row["majority"]["macro_f1"]
    assert (trained["report"] / "report.md").read_text().startswith("# Evaluation")
    rows = (trained["report"] / "predictions.jsonl").read_text().splitlines()
    assert len(rows) == sum(plan["n_sentences"] for plan in metrics["evaluations"].values())
    meta = json.loads((trained["model"] / "stance.json").read_text())
    assert meta["encoder"]["kind"] == "sentence-transformers" and meta["encoder"]["sha256"] == DEFAULT_MODEL_SHA256
    assert meta["targets"] == ["russia", "eu"] and set(meta["classes"]["eu"]) == {"favor", "against", "none"}
    assert len(meta["head"]["sha256"]) == 64 and len(meta["training"]["labels_sha256"]) == 64
    assert meta["versions"]["scikit-learn"]


@pytest.mark.integration
def test_default_beats_tfidf_and_majority_under_the_same_folds(trained):
    """Macro-F1 averaged over both targets and both evaluations, as the default was chosen."""
    metrics = json.loads((trained["report"] / "metrics.json").read_text())

    def mean(system):
        return np.mean([plan["targets"][t][system]["macro_f1"] for plan in metrics["evaluations"].values()
                        for t in ("russia", "eu")])

    assert mean("model") > mean("tfidf") > mean("majority")
    meta = json.loads((trained["model"] / "stance.json").read_text())
    for target in ("russia", "eu"):
        params = meta["head"]["params"][target]
        assert params["temperature"] > 0 and 0 <= params["threshold"] < 1


@pytest.mark.integration
def test_score_json_contract(trained):
    result = run_stance("score", SEED, REPO / "seeds" / "004_4ed33a92867c5dcf.txt", "--json", "--model", trained["model"],
                        "--date", "2025-11-04")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 2
    doc = json.loads(lines[0])
    assert list(doc) == ["article", "date", "date_source", "source", "title", "url", "content_sha256", "model",
                         "sentences", "skipped", "summary"]
    assert doc["date_source"] == "option" and len(doc["content_sha256"]) == 64
    assert doc["article"] == SEED.stem and doc["date"] == "2025-11-04"
    article = read_article(SEED)
    assert [s["index"] for s in doc["sentences"]] == [s.index for s in article.sentences]
    assert doc["skipped"] == [s.text for s in article.skipped]
    for target in ("russia", "eu"):
        for s in doc["sentences"]:
            assert set(s) == {"index", "text", "russia", "eu"}
            assert s[target]["label"] in ("favor", "against", "none")
            assert list(s[target]["proba"]) == ["favor", "against", "none"]
            assert sum(s[target]["proba"].values()) == pytest.approx(1.0, abs=1e-6)
        summary = doc["summary"][target]
        assert summary["favor"] + summary["against"] + summary["none"] == len(doc["sentences"])
        net = np.mean([s[target]["proba"]["favor"] - s[target]["proba"]["against"] for s in doc["sentences"]])
        assert summary["net"] == pytest.approx(net) and -1 <= summary["net"] <= 1


@pytest.mark.integration
def test_the_evaluation_report_names_the_model_by_the_id_its_scores_carry(trained, tmp_path):
    """A reader of the report must find the model whose scores they see in drift and the database."""
    scored = json.loads(run_stance("score", SEED, "--json", "--model", trained["model"]).stdout)
    metrics = json.loads((trained["report"] / "metrics.json").read_text())
    assert metrics["provenance"]["model_id"] == scored["model"]["id"]
    page = run_stance("report", trained["report"], "--html", tmp_path / "report.html")
    assert page.returncode == 0, page.stderr
    assert f"; model {scored['model']['id']}." in (tmp_path / "report.html").read_text("utf-8")
    assert f"- model_id: {scored['model']['id']}" in (trained["report"] / "report.md").read_text("utf-8")


@pytest.mark.integration
def test_score_stdin_and_human_output(trained):
    result = run_stance("score", "-", "--json", "--model", trained["model"], stdin=SEED.read_text("utf-8"))
    doc = json.loads(result.stdout)
    assert doc["article"] == "-" and (doc["date"], doc["date_source"]) == ("2025-11-04", "text")
    human = run_stance("score", SEED, "--model", trained["model"])
    assert human.returncode == 0
    assert "russia  favor" in human.stdout and "net " in human.stdout and "skipped: " in human.stdout


@pytest.mark.integration
@pytest.mark.parametrize("damage", ["flip head byte", "delete metadata", "garbage metadata", "foreign encoder"])
def test_damaged_model_folders_are_refused(trained, tmp_path, damage):
    model = tmp_path / "model"
    shutil.copytree(trained["model"], model)
    meta_path = model / "stance.json"
    if damage == "flip head byte":
        data = bytearray((model / "head.joblib").read_bytes())
        data[len(data) // 2] ^= 0xFF
        (model / "head.joblib").write_bytes(bytes(data))
    elif damage == "delete metadata":
        meta_path.unlink()
    elif damage == "garbage metadata":
        meta_path.write_text("{not json")
    else:
        meta = json.loads(meta_path.read_text())
        meta["encoder"]["sha256"] = "0" * 64
        meta_path.write_text(json.dumps(meta))
    one_error_line(run_stance("score", SEED, "--model", model))


@pytest.mark.integration
def test_tampered_encoder_weights_are_refused(tmp_path, monkeypatch):
    from stance.encoders.transformer import SentenceEncoder, default_model_path
    from stance.errors import ModelIntegrityError

    copy = tmp_path / "minilm"
    shutil.copytree(default_model_path(), copy)
    with open(copy / "model.safetensors", "ab") as handle:
        handle.write(b"\0")
    monkeypatch.setattr("stance.encoders.transformer.default_model_path", lambda: copy)
    with pytest.raises(ModelIntegrityError, match="SHA-256"):
        SentenceEncoder().transform(["Serbia buys gas."])


@pytest.mark.integration
def test_saved_model_round_trip(trained):
    from stance.model import StanceClassifier

    first = StanceClassifier.load(trained["model"])
    second = StanceClassifier.load(trained["model"])
    texts = [s.text for s in read_article(SEED).sentences]
    for a, b in zip(first.predict_proba(texts), second.predict_proba(texts)):
        np.testing.assert_allclose(a, b, rtol=1e-5)


@pytest.mark.integration
def test_readme_library_snippet_runs(trained, monkeypatch):
    readme = (REPO / "README.md").read_text("utf-8")
    snippet = readme.split("<!-- library-snippet -->", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    monkeypatch.setenv("STANCE_MODEL", str(trained["model"]))
    monkeypatch.chdir(REPO)
    exec(compile(snippet, "README.md", "exec"), {})


@pytest.mark.integration
def test_record_and_drift_end_to_end(trained, tmp_path):
    db = tmp_path / "history.sqlite"
    env = {"STANCE_DB": str(db)}
    table = _table(tmp_path / "extra.jsonl", [
        {"id": "t1", "text": (REPO / "seeds" / "002_59b96ecffaaf4adb.txt").read_text("utf-8"), "date": "2024-07-01",
         "source": "Table Wire"},
        {"id": "t2", "text": "Serbia signs a gas deal with Russia.\nVucic thanks Putin.", "date": None},
    ])
    first = run_stance("score", REPO / "seeds", table, "--record", "--model", trained["model"], "--quiet", env=env)
    assert first.returncode == 0, first.stderr
    assert "recorded 7 articles" in first.stderr
    assert len(first.stdout.strip().splitlines()) == 1 + 7  # one summary line per article
    again = run_stance("score", REPO / "seeds", "--record", "--model", trained["model"], "--quiet", env=env)
    assert again.returncode == 0, again.stderr
    assert "recorded 5 articles" in again.stderr and "(5 were recorded before and are replaced)" in again.stderr

    from stance.store import HistoryStore

    with HistoryStore(db) as store:
        rows = store.articles()
        assert sorted(r["article"] for r in rows) == sorted([p.stem for p in (REPO / "seeds").glob("*.txt")] + ["t1", "t2"])
        by_id = {r["article"]: r for r in rows}
        assert (by_id["t1"]["date"], by_id["t1"]["date_source"], by_id["t1"]["source"]) == ("2024-07-01", "column", "Table Wire")
        assert by_id["000_abad3842fbdbf470"]["date_source"] == "column"  # from seeds/articles.jsonl
        assert by_id["t2"]["date"] is None
        for r in rows:
            assert len(store.sentences(r["id"])) == 2 * r["n_sentences"]

    report = run_stance("drift", "--by", "quarter", "--json", "--plot", tmp_path / "d.png", "--html", tmp_path / "d.html",
                        env=env)
    assert report.returncode == 0, report.stderr
    data = json.loads(report.stdout)
    assert data["by"] == "quarter" and data["undated"] == 1 and data["undated_articles"] == ["t2"]
    labels = [p["period"] for p in data["periods"]]
    assert labels[0] == "2023-Q1" and labels[-1] == "2025-Q4" and len(labels) == 12
    assert sum(p["n_articles"] for p in data["periods"]) == 6
    for p in data["periods"]:
        for t in ("russia", "eu"):
            if p["n_articles"]:
                assert p[t]["low"] <= p[t]["net"] <= p[t]["high"] and isinstance(p[t]["shift"], bool)
            else:
                assert p[t]["net"] is None
    assert set(data["change_points"]) == {"russia", "eu"}
    assert (tmp_path / "d.png").read_bytes()[:4] == b"\x89PNG"
    page = (tmp_path / "d.html").read_text()
    embedded = json.loads(re.search(r'<script type="application/json" id="data">(.*?)</script>', page, re.S).group(1))
    assert [p["russia"]["net"] for p in embedded["periods"]] == [p["russia"]["net"] for p in data["periods"]]
    only = json.loads(run_stance("drift", "--by", "year", "--json", "--source", "Table Wire", env=env).stdout)
    assert [p["n_articles"] for p in only["periods"]] == [1]
    text = run_stance("drift", "--by", "year", env=env).stdout
    assert "undated (1): t2" in text and "2025" in text


@pytest.mark.integration
def test_four_concurrent_score_record_processes_keep_every_row(trained, tmp_path):
    db = tmp_path / "h.sqlite"
    procs = [
        subprocess.Popen([stance_script(), "score", str(REPO / "seeds"), "--record", "--db", str(db), "--source", f"S{i}",
                          "--model", str(trained["model"]), "--quiet", "--json"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=REPO,
                         env={**os.environ, "HF_HUB_OFFLINE": "1"})
        for i in range(4)
    ]
    for p in procs:
        _, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    from stance.store import HistoryStore

    with HistoryStore(db) as store:
        rows = store.articles()
        assert len(rows) == 4 * 5 and {r["source"] for r in rows} == {"S0", "S1", "S2", "S3"}
        assert store.check() == []


@pytest.fixture(scope="session")
def static_model(tmp_path_factory):
    """The static model distilled once per session with `stance distill`."""
    folder = tmp_path_factory.mktemp("static") / "static-minilm"
    result = run_stance("distill", "--out", folder)
    assert result.returncode == 0, result.stderr
    from stance.fileio import current_umask

    umask = current_umask()
    assert {p.name: p.stat().st_mode & 0o777 for p in folder.iterdir()} == {
        p.name: 0o666 & ~umask for p in folder.iterdir()}  # the weights too, though written through a private file
    return folder


@pytest.mark.integration
def test_onnx_backend_scores_like_torch_and_never_imports_it(trained, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    env = {"STANCE_CACHE": "off", "STANCE_HOME": str(tmp_path / "home")}
    from stance.encoders.transformer import default_model_path, encoder_identity

    encoder_sha = json.loads((trained["model"] / "stance.json").read_text())["encoder"]["sha256"]
    assert encoder_identity(default_model_path()).startswith(encoder_sha + ".")  # weights, then settings
    by_torch = run_stance("score", SEED, "--json", "--model", trained["model"], "--backend", "torch", env=env)
    assert by_torch.returncode == 0 and by_torch.stderr == ""  # loading the encoder prints nothing
    assert not (tmp_path / "home" / "onnx").exists()
    by_onnx = run_stance("score", SEED, "--json", "--model", trained["model"], "--backend", "onnx", env=env)
    assert by_onnx.returncode == 0 and by_onnx.stderr == ""  # the first use exports the graph, quietly
    assert (tmp_path / "home" / "onnx" / encoder_identity(default_model_path()) / "model.onnx").is_file()
    by_default = run_stance("score", SEED, "--json", "--model", trained["model"], env=env)
    assert json.loads(by_default.stdout)["sentences"] == json.loads(by_onnx.stdout)["sentences"]  # auto: onnx
    a, b = json.loads(by_torch.stdout), json.loads(by_onnx.stdout)
    assert a["model"] == b["model"] and a["summary"].keys() == b["summary"].keys()
    for x, y in zip(a["sentences"], b["sentences"], strict=True):
        for t in ("russia", "eu"):
            assert x[t]["label"] == y[t]["label"]
            assert list(x[t]["proba"].values()) == pytest.approx(list(y[t]["proba"].values()), abs=1e-4)
    # with the graph on disk, scoring by onnx is done without torch (most of a cold start)
    code = ("import sys\nfrom stance.model import load_model\nfrom stance.scoring import score_article\n"
            "from stance.segment import read_article\n"
            f"r = score_article(load_model({str(trained['model'])!r}, backend='onnx'), read_article({str(SEED)!r}))\n"
            "print(len(r.sentences), 'torch' in sys.modules, 'transformers' in sys.modules)")
    check = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env={**os.environ, **env, "HF_HUB_OFFLINE": "1"})
    assert check.stdout.split() == [str(len(a["sentences"])), "False", "False"], check.stderr
    from_env = run_stance("score", SEED, "--json", "--model", trained["model"], env={**env, "STANCE_BACKEND": "torch"})
    assert json.loads(from_env.stdout)["sentences"] == a["sentences"]
    # a Ray worker given the backend scores the same (called here without Ray)
    import pyarrow as pa

    from stance.distributed import _Scorer

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    batch = pa.Table.from_pylist([{"id": "seed", "text": SEED.read_text("utf-8")}])
    worker = json.loads(_Scorer(str(trained["model"]), None, None, "onnx")(batch).to_pylist()[0]["sentences"])
    assert [s["russia"]["label"] for s in worker] == [s["russia"]["label"] for s in b["sentences"]]
    assert "use auto, torch, torch-bf16 or onnx" in one_error_line(
        run_stance("score", SEED, "--model", trained["model"], "--backend", "tf", env=env))
    cached = {**env, "STANCE_CACHE": str(tmp_path / "cache.sqlite")}
    assert run_stance("score", SEED, "--model", trained["model"], "--backend", "onnx", env=cached).returncode == 0
    info = run_stance("cache", "info", env=cached).stdout
    settings = json.loads((trained["model"] / "stance.json").read_text())["encoder"]["settings_sha256"]
    assert f"encoder {encoder_sha[:16]}.{settings[:8]} (onnx): {len(a['sentences'])} vectors" in info  # apart from torch's


@pytest.mark.integration
def test_an_onnx_export_that_changed_on_disk_is_exported_again_or_refused(trained, tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    env = {"STANCE_CACHE": "off", "STANCE_HOME": str(tmp_path / "home")}
    score = ("score", SEED, "--json", "--model", trained["model"], "--backend", "onnx")
    first = run_stance(*score, env=env)
    assert first.returncode == 0, first.stderr
    [graph] = (tmp_path / "home" / "onnx").glob("*/model.onnx")
    recorded = graph.with_name("model.onnx.sha256").read_text().strip()
    assert recorded == hashlib.sha256(graph.read_bytes()).hexdigest()
    graph.write_bytes(graph.read_bytes()[:100_000])  # truncated, as a full disk or a killed copy leaves it
    again = run_stance(*score, env=env)
    assert again.returncode == 0 and "differs from the export recorded beside it; exporting it again" in again.stderr
    assert again.stdout == first.stdout
    assert hashlib.sha256(graph.read_bytes()).hexdigest() == graph.with_name("model.onnx.sha256").read_text().strip()
    graph.write_bytes(b"garbage")  # and the recorded hash made to match: onnxruntime's refusal is one line
    graph.with_name("model.onnx.sha256").write_text(hashlib.sha256(b"garbage").hexdigest())
    line = one_error_line(run_stance(*score, env=env))
    assert "onnxruntime cannot load it" in line and "--backend torch" in line
    graph.unlink()
    os.mkfifo(graph)  # never replaced, never opened (it would block): named, with what to do
    line = one_error_line(run_stance(*score, env=env, timeout=120))
    assert "is a FIFO (named pipe), where stance keeps its ONNX export; remove it" in line, line
    assert stat.S_ISFIFO(os.lstat(graph).st_mode)


@pytest.mark.integration
def test_bf16_backend_scores_as_torch_does_and_files_its_vectors_apart(trained, tmp_path, monkeypatch):
    from stance.encoders.bf16 import Bf16Encoder, cpu_has_bf16
    from stance.encoders.transformer import SentenceEncoder
    from stance.errors import StanceWarning

    env = {"STANCE_CACHE": str(tmp_path / "cache.sqlite"), "STANCE_HOME": str(tmp_path / "home")}
    by_torch = run_stance("score", SEED, "--json", "--model", trained["model"], "--backend", "torch", env=env)
    by_bf16 = run_stance("score", SEED, "--json", "--model", trained["model"], "--backend", "torch-bf16", env=env)
    assert by_bf16.returncode == 0, by_bf16.stderr
    assert ("no bfloat16 instructions" in by_bf16.stderr) != cpu_has_bf16()  # says so only where it is slow
    a, b = json.loads(by_torch.stdout), json.loads(by_bf16.stdout)
    assert b["model"]["encoder"] == a["model"]["encoder"] + " (bf16)"  # a score says how its vectors were made
    assert b["model"]["id"] == a["model"]["id"]
    pairs = [(x[t], y[t]) for x, y in zip(a["sentences"], b["sentences"], strict=True) for t in ("russia", "eu")]
    for x, y in pairs:
        assert list(y["proba"].values()) == pytest.approx(list(x["proba"].values()), abs=0.03)
    assert sum(x["label"] != y["label"] for x, y in pairs) <= 1
    recorded = json.loads((trained["model"] / "stance.json").read_text())["encoder"]
    shown = f"{recorded['sha256'][:16]}.{recorded['settings_sha256'][:8]}"  # weights, then settings
    info = run_stance("cache", "info", env=env).stdout
    n = len(a["sentences"])
    assert f"encoder {shown}: {n} vectors" in info and f"encoder {shown} (bf16): {n} vectors" in info
    # in process: float32 vectors of unit length close to float32's, and the warning on a CPU without bf16
    monkeypatch.setattr("stance.encoders.bf16.cpu_has_bf16", lambda: False)
    texts = [s.text for s in read_article(SEED).sentences]
    encoder = Bf16Encoder(cache=False)
    with pytest.warns(StanceWarning, match="no bfloat16 instructions.*slower than --backend torch"):
        vectors = encoder.transform(texts)
    reference = SentenceEncoder(cache=False).transform(texts)
    assert vectors.dtype == np.float32 and encoder.transform([]).shape == (0, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert np.sum(vectors * reference, axis=1).min() > 0.999 and not np.array_equal(vectors, reference)


def test_onnx_backend_refuses_models_it_cannot_run(tmp_path):
    from stance.encoders.onnx import _check_supported
    from stance.errors import ModelIntegrityError

    (tmp_path / "1_Pooling").mkdir()
    (tmp_path / "modules.json").write_text(json.dumps([
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]))
    (tmp_path / "sentence_bert_config.json").write_text('{"max_seq_length": 128}')
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_cls_token": true, "pooling_mode_mean_tokens": false}')
    with pytest.raises(ModelIntegrityError, match=r"mean pooling \(this model: Transformer \+ Pooling\); use --backend torch"):
        _check_supported(tmp_path)
    (tmp_path / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    assert _check_supported(tmp_path) == 128
    (tmp_path / "sentence_bert_config.json").unlink()
    with pytest.raises(ModelIntegrityError, match="not a sentence-transformers folder"):
        _check_supported(tmp_path)


@pytest.mark.integration
def test_static_backend_trains_saves_and_scores(static_model, tmp_path):
    from stance.encoders.static import StaticEncoder

    encoder = StaticEncoder(static_model, cache=False)
    texts = ["Serbia buys Russian gas.", "Vucic meets Putin.", "", "Ünïcödé ☃ " * 700, *(s.text for s in read_article(SEED).sentences)]
    vectors = encoder.transform(texts)
    assert vectors.shape == (len(texts), 256) and not vectors[2].any()
    np.testing.assert_allclose(np.linalg.norm(vectors[[0, 1, 3]], axis=1), 1.0, rtol=1e-5)
    # model2vec's own encode (float16 table, bucketed means) gives the same directions
    reference = np.asarray(encoder._model().encode(texts), dtype=np.float32)
    reference /= np.maximum(np.linalg.norm(reference, axis=1, keepdims=True), 1e-12)
    np.testing.assert_allclose(vectors, reference, atol=2e-3)
    env = {"STANCE_STATIC": str(static_model)}
    trained = run_stance("train", "--encoder", "static", "--labels", REPO / "labels" / "seeds.jsonl",
                         "--out", tmp_path / "model", "--report-dir", tmp_path / "report", env=env)
    assert trained.returncode == 0, trained.stderr
    meta = json.loads((tmp_path / "model" / "stance.json").read_text())
    assert meta["encoder"]["kind"] == "static" and meta["encoder"]["path"] == str(static_model.resolve())
    scored = run_stance("score", SEED, "--json", "--model", tmp_path / "model")
    doc = json.loads(scored.stdout)
    assert doc["model"]["encoder"].startswith("static:") and len(doc["sentences"]) == len(read_article(SEED).sentences)
    for backend in ("onnx", "torch-bf16"):
        assert f"{backend} backend does not run" in one_error_line(
            run_stance("score", SEED, "--model", tmp_path / "model", "--backend", backend))
    (static_model / "model.safetensors").rename(static_model / "moved.safetensors")
    try:
        assert "encoder cannot be used" in one_error_line(run_stance("score", SEED, "--model", tmp_path / "model"))
    finally:
        (static_model / "moved.safetensors").rename(static_model / "model.safetensors")


@pytest.mark.integration
def test_output_parts_resume_without_scoring_twice(trained, tmp_path):
    import pandas as pd

    rows = [{"id": f"a{i}", "text": f"Serbia signs deal number {i} with Russia.\nVucic praises Brussels {i}.",
             "date": f"2025-0{1 + i % 9}-01"} for i in range(70)]
    first = _table(tmp_path / "first.jsonl", rows[:40])
    both = _table(tmp_path / "both.jsonl", rows)
    out = tmp_path / "results"
    one = run_stance("score", first, "--output", out, "--model", trained["model"], "--quiet")
    assert one.returncode == 0, one.stderr
    assert one.stdout == "" and "wrote 40 articles" in one.stderr
    single = run_stance("score", REPO / "seeds" / "000_abad3842fbdbf470.txt", "--output", tmp_path / "single",
                        "--model", trained["model"], "--quiet")
    assert single.returncode == 0 and single.stdout == "", single.stderr  # one article too: stdout is for --json
    assert len(list(out.glob("part-*.parquet"))) == 1
    two = run_stance("score", both, "--output", out, "--model", trained["model"], "--quiet")
    assert "holds 40 articles; those given again with the same text are skipped" in two.stderr and "wrote 30 articles" in two.stderr
    frame = pd.read_parquet(out)
    assert sorted(frame["article"]) == sorted(r["id"] for r in rows) and frame["article"].is_unique
    summary = json.loads(frame.set_index("article").loc["a3", "summary"])
    assert set(summary) == {"russia", "eu"} and -1 <= summary["russia"]["net"] <= 1
    again = run_stance("score", both, "--output", out, "--model", trained["model"], "--quiet")
    assert "wrote 0 articles" in again.stderr and len(list(out.glob("part-*.parquet"))) == 2
    db = tmp_path / "h.sqlite"
    run_stance("score", both, "--record", "--db", db, "--model", trained["model"], "--quiet")
    from_results = json.loads(run_stance("drift", "--results", out, "--by", "month", "--json").stdout)
    from_db = json.loads(run_stance("drift", "--db", db, "--by", "month", "--json").stdout)
    assert from_results["periods"] == from_db["periods"] and from_results["change_points"] == from_db["change_points"]
    assert from_results["model"] == from_db["model"] and from_db["model"]["path"] == str(trained["model"])
    assert "no result parts" in one_error_line(run_stance("drift", "--results", tmp_path))
    imported = tmp_path / "imported.sqlite"
    stored = run_stance("record", out, "--db", imported)
    assert stored.returncode == 0 and "recorded 70 articles" in stored.stderr, stored.stderr
    assert "replaced" not in stored.stderr
    assert _history(imported) == _history(db)  # the folder stores exactly what --record stores
    again = run_stance("record", out, "--db", imported)  # again: replaced, not doubled
    assert "recorded 70 articles" in again.stderr and "(70 were recorded before and are replaced)" in again.stderr
    assert _history(imported) == _history(db)
    assert "no result parts" in one_error_line(run_stance("record", tmp_path / "nothing", "--db", imported))
    (tmp_path / "other").mkdir()
    pd.DataFrame({"x": [1]}).to_parquet(tmp_path / "other" / "x.parquet")
    assert "not a stance result part" in one_error_line(run_stance("record", tmp_path / "other", "--db", imported))


def _history(db) -> dict:
    """A history database's contents by (article, source): article fields, and sentence rows per target."""
    import sqlite3

    with closing(sqlite3.connect(db)) as conn:
        articles = conn.execute("SELECT id, article, source, model_id, content_sha256, date, date_source, title, url, "
                                "n_sentences, n_skipped, summary FROM articles").fetchall()
        sentences = conn.execute("SELECT article_row, sentence, target, text, label, p_favor, p_against, p_none "
                                 "FROM sentences ORDER BY sentence, target").fetchall()
    rows = {}
    for row_id, article, source, *fields in articles:
        rows[(article, source)] = (*fields[:-1], json.loads(fields[-1]), [s[1:] for s in sentences if s[0] == row_id])
    return rows


@pytest.mark.integration
def test_ray_engine_equals_the_single_process_path(trained, tmp_path):
    pytest.importorskip("ray")
    import pandas as pd

    rows = [{"id": f"r{i}", "text": (REPO / "seeds" / f).read_text("utf-8"), "date": None, "source": "S" if i % 2 else None}
            for i, f in enumerate(sorted(p.name for p in (REPO / "seeds").glob("*.txt")))]
    rows += [{"id": f"x{i}", "text": f"Serbia signs gas deal {i} with Russia.\nVucic visits Brussels.", "date": "2025-03-01",
              "source": None} for i in range(9)]
    for row in rows:
        row["url"] = None
    rows.append({"id": " ", "text": "Serbia joins the EU summit.", "date": None, "source": None,
                 "url": "https://example.org/summit"})  # a blank id falls back to the url on both paths
    table = _table(tmp_path / "t.jsonl", rows)
    local = run_stance("score", table, "--output", tmp_path / "local", "--model", trained["model"], "--quiet")
    assert local.returncode == 0, local.stderr
    ray_run = run_stance("score", table, "--engine", "ray", "--output", tmp_path / "ray", "--model", trained["model"],
                         "--record", "--db", tmp_path / "ray.sqlite", env={"RAY_AUTH_MODE": "disabled"})
    assert ray_run.returncode == 0, ray_run.stderr[-2000:]
    assert f"recorded {len(rows)} articles" in ray_run.stderr
    run_stance("score", table, "--record", "--db", tmp_path / "local.sqlite", "--model", trained["model"], "--quiet")
    from_ray, from_local = _history(tmp_path / "ray.sqlite"), _history(tmp_path / "local.sqlite")
    assert from_ray.keys() == from_local.keys() and len(from_ray) == len(rows)
    for key, local_row in from_local.items():
        *fields, summary, sentences = from_ray[key]
        assert fields == list(local_row[:-2]) and summary.keys() == local_row[-2].keys()
        assert [s[:4] for s in sentences] == [s[:4] for s in local_row[-1]]  # index, target, text, label
        np.testing.assert_allclose([s[4:] for s in sentences], [s[4:] for s in local_row[-1]], atol=1e-5)
    a = pd.read_parquet(tmp_path / "local").set_index("article").sort_index()
    b = pd.read_parquet(tmp_path / "ray").set_index("article").sort_index()
    assert list(a.index) == list(b.index) == sorted(r["id"].strip() or r["url"] for r in rows)
    columns = ["source", "date", "date_source", "content_sha256", "model_id", "n_sentences", "skipped"]
    pd.testing.assert_frame_equal(a[columns], b[columns])
    for article in a.index:
        left, right = json.loads(a.loc[article, "sentences"]), json.loads(b.loc[article, "sentences"])
        assert [s["russia"]["label"] for s in left] == [s["russia"]["label"] for s in right]
        for x, y in zip(left, right):
            for t in ("russia", "eu"):
                assert x[t]["proba"] == pytest.approx(y[t]["proba"], abs=1e-5)
    drifted = json.loads(run_stance("drift", "--results", tmp_path / "ray", "--json").stdout)
    assert drifted["undated"] + sum(p["n_articles"] for p in drifted["periods"]) == len(rows)
    no_id = _table(tmp_path / "noid.jsonl", [{"text": "Serbia buys gas."}])
    refused = run_stance("score", no_id, "--engine", "ray", "--output", tmp_path / "r2", "--model", trained["model"],
                         env={"RAY_AUTH_MODE": "disabled"})
    assert "needs an 'id' column" in one_error_line(refused)
    no_model = run_stance("score", table, "--engine", "ray", "--output", tmp_path / "r3", "--model", tmp_path / "none",
                          env={"RAY_AUTH_MODE": "disabled"})
    assert "no trained model" in one_error_line(no_model)
    empty = _table(tmp_path / "empty.jsonl", [{"id": "a", "text": "Serbia buys gas."}, {"id": "b", "text": ""}])
    failed = run_stance("score", empty, "--engine", "ray", "--output", tmp_path / "r4", "--model", trained["model"],
                        env={"RAY_AUTH_MODE": "disabled"})
    # a row's error, raised in a worker, ends the run as stance's one error line, with no traceback
    assert failed.returncode == 1 and "Traceback" not in failed.stderr
    assert failed.stderr.strip().splitlines()[-1] == "error: row id 'b': empty text; fill it in or remove the row"


@pytest.mark.integration
def test_a_ray_address_that_is_malformed_or_silent_is_refused_in_seconds(tmp_path, isolated_home, trained):
    pytest.importorskip("ray")
    import socket
    import time

    table = _table(tmp_path / "t.jsonl", [{"id": "a", "text": "Serbia buys gas."}])
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    for address, said in [("garbage", "not host:port"), ("http://localhost:1", "not host:port"),
                          (f"127.0.0.1:{port}", "cannot reach a Ray cluster at"),
                          ("nosuchhost.invalid:6379", "cannot reach a Ray cluster at")]:
        started = time.monotonic()
        line = one_error_line(run_stance("score", table, "--engine", "ray", "--output", tmp_path / "out", "--model",
                                         trained["model"], "--ray-address", address, timeout=120))
        assert said in line and "--ray-address" in line and time.monotonic() - started < 60
    assert not (tmp_path / "out").exists()  # made only once Ray runs


@pytest.mark.integration
def test_a_table_ray_cannot_read_is_one_line_naming_the_fault(tmp_path, isolated_home, trained):
    pytest.importorskip("ray")
    (tmp_path / "bin.jsonl").write_bytes(bytes(range(256)) * 8)
    good = json.dumps({"id": "a", "text": "Serbia buys gas."})
    (tmp_path / "mid.jsonl").write_text(f"{good}\nnot json\n", encoding="utf-8")
    (tmp_path / "bin.parquet").write_bytes(b"not a parquet file")
    (tmp_path / "latin.jsonl").write_bytes(b'{"id": "a", "text": "caf\xe9 \xff"}\n')
    for name, said in [("bin.jsonl", "(UnicodeDecodeError|JSONDecodeError): "), ("mid.jsonl", "JSONDecodeError: "),
                       ("bin.parquet", "ArrowInvalid: "), ("latin.jsonl", "UnicodeDecodeError: ")]:
        result = run_stance("score", tmp_path / name, "--engine", "ray", "--output", tmp_path / "out",
                            "--model", trained["model"], env={"RAY_AUTH_MODE": "disabled"}, timeout=300)
        assert result.returncode == 1 and "Traceback" not in result.stderr  # Ray may log a line of its own first
        line = result.stderr.strip().splitlines()[-1]
        assert re.match(rf"error: {re.escape(str(tmp_path / name))}: Ray could not (read it as a table|score it) \({said}", line)
        assert "\x1b" not in line and "UserCodeException" not in line
        assert (tmp_path / "out").exists() == (name == "latin.jsonl")  # made only once the table reads


@pytest.mark.integration
def test_ray_engine_finishes_a_folder_cut_short_and_refuses_a_changed_text(trained, tmp_path):
    pytest.importorskip("ray")
    import pandas as pd

    from stance.results import ResultsFolder

    rows = [{"id": f"a{i}", "text": f"Serbia signs gas deal {i} with Russia.\nVucic visits Brussels.", "date": "2025-03-01"}
            for i in range(12)]
    table, out, env = _table(tmp_path / "t.jsonl", rows), tmp_path / "out", {"RAY_AUTH_MODE": "disabled"}
    ray_score = ("score", "--engine", "ray", "--output", out, "--model", trained["model"])
    # a run cut short: five articles already in the folder, in parts as either engine writes them
    first = run_stance("score", _table(tmp_path / "first.jsonl", rows[:5]), "--output", out, "--model", trained["model"],
                       "--quiet")
    assert first.returncode == 0, first.stderr
    earlier = {p.name: p.read_bytes() for p in out.glob("*.parquet")}
    rest = run_stance(*ray_score, table, env=env)
    assert rest.returncode == 0, rest.stderr[-2000:]
    assert "wrote 7 articles" in rest.stderr and "skipped 5 articles already in" in rest.stderr
    assert all((out / name).read_bytes() == data for name, data in earlier.items())  # the parts there are untouched
    assert sorted(pd.read_parquet(out)["article"]) == sorted(r["id"] for r in rows)  # every article once
    whole = run_stance("score", table, "--output", tmp_path / "whole", "--model", trained["model"], "--quiet")
    assert whole.returncode == 0, whole.stderr
    a = pd.read_parquet(tmp_path / "whole").set_index("article").sort_index()
    b = pd.read_parquet(out).set_index("article").sort_index()
    assert list(a["content_sha256"]) == list(b["content_sha256"])
    assert [[s["russia"]["label"] for s in json.loads(x)] for x in a["sentences"]] == \
           [[s["russia"]["label"] for s in json.loads(x)] for x in b["sentences"]]
    # another text under a held id: refused with a warning and exit 1, the folder's version kept
    changed = [dict(r, text="Serbia rejects the gas deal with Russia.") if r["id"] == "a3" else r for r in rows]
    changed_table = _table(tmp_path / "changed.jsonl", changed)
    refused = run_stance(*ray_score, changed_table, env=env)
    assert refused.returncode == 1, refused.stderr[-2000:]
    assert "wrote 0 articles" in refused.stderr and "skipped 11 articles already in" in refused.stderr
    assert "not stored: id 'a3' already holds another text" in refused.stderr
    model_id = b["model_id"].iloc[0]
    old_sha = ResultsFolder(out, model_id).versions[("a3", None)][0]
    assert old_sha == b.loc["a3", "content_sha256"]
    replaced = run_stance(*ray_score, changed_table, "--replace", env=env)
    assert replaced.returncode == 0 and "wrote 1 articles" in replaced.stderr, replaced.stderr[-2000:]
    new_sha = ResultsFolder(out, model_id).versions[("a3", None)][0]
    assert new_sha != old_sha and new_sha == hashlib.sha256(changed[3]["text"].encode("utf-8")).hexdigest()
    # two rows with one id: refused before any scoring, as on one machine, the folder as it was
    parts = sorted(p.name for p in out.glob("*.parquet"))
    twice = run_stance(*ray_score, _table(tmp_path / "twice.jsonl", [rows[0], {**rows[1], "id": "a0 "}]), env=env)
    assert "article id 'a0' is given to more than one row" in one_error_line(twice)
    assert sorted(p.name for p in out.glob("*.parquet")) == parts
    os.mkfifo(tmp_path / "fifo.jsonl")  # refused before it is opened: opening a FIFO waits for a writer
    assert "is a FIFO (named pipe)" in one_error_line(run_stance(*ray_score, tmp_path / "fifo.jsonl", env=env))


def test_ray_results_kept_when_the_run_is_interrupted(tmp_path):
    """Ctrl-C while results stream in: the rows received are written as a whole part before the run stops."""
    import pyarrow as pa

    from stance.distributed import _STATUS, PART_ROWS, _write_results
    from stance.results import ResultsFolder, _schema, results_rows

    def row(i, status="scored"):
        return {**results_rows([make_scores(f"a{i}", None, {"russia": 0.1}, model_id="m")])[0], _STATUS: status}

    class Stream:
        def iter_batches(self, **_):
            schema = _schema().append(pa.field(_STATUS, pa.string()))
            yield pa.Table.from_pylist([row(i) for i in range(PART_ROWS + 3)], schema=schema)
            yield pa.Table.from_pylist([row(9000), row(9001, "skipped")], schema=schema)
            raise KeyboardInterrupt

    folder = ResultsFolder(tmp_path / "out", "m")
    run = _write_results(Stream(), folder)
    assert run.interrupted and (run.written, run.skipped, run.refused) == (PART_ROWS + 4, 1, 0)
    again = ResultsFolder(tmp_path / "out", "m")
    assert again.done == {(f"a{i}", None) for i in [*range(PART_ROWS + 3), 9000]}
    assert {p.suffix for p in (tmp_path / "out").iterdir()} == {".parquet"}  # no temporary file left beside the parts
