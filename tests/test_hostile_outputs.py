"""An output path that names what the same command reads is refused, and the input is kept.

Written atomically, such an output would still replace its input once the command
succeeds: a history database swapped for a PNG, a results part for an HTML page.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import make_scores, one_error_line, run_stance


def _history(path: Path) -> Path:
    from stance.store import HistoryStore

    with HistoryStore(path) as store:
        store.record([make_scores(f"a{i}", f"2025-0{i + 1}-01", {"russia": 0.2 * i, "eu": -0.1}) for i in range(3)])
    return path


def _results(folder: Path) -> Path:
    from stance.results import ResultsFolder

    ResultsFolder(folder, "m1").write([make_scores(f"a{i}", "2025-01-01", {"russia": 0.1}) for i in range(3)])
    return folder


@pytest.mark.parametrize("option", ["--plot", "--html"])
def test_drift_does_not_write_over_its_history_database(tmp_path, isolated_home, option):
    db = _history(tmp_path / "history.sqlite")
    before = db.read_bytes()
    line = one_error_line(run_stance("drift", "--db", db, option, db))
    assert line == f"error: {option} {db}: would overwrite {db}, which this command reads; choose another path"
    assert db.read_bytes() == before
    assert run_stance("drift", "--db", db, "--json").returncode == 0


def test_drift_does_not_write_over_the_default_database(tmp_path, isolated_home):
    from stance.store import default_db_path

    db = _history(default_db_path())
    line = one_error_line(run_stance("drift", "--plot", db))
    assert "which this command reads" in line and db.is_file()


def test_drift_does_not_write_into_its_results_folder(tmp_path, isolated_home):
    folder = _results(tmp_path / "results")
    part = next(folder.glob("*.parquet"))
    before = part.read_bytes()
    line = one_error_line(run_stance("drift", "--results", folder, "--html", part))
    assert f"would overwrite {folder}" in line
    assert part.read_bytes() == before and sorted(p.name for p in folder.iterdir()) == [part.name]


def test_drift_refuses_one_file_for_both_the_chart_and_the_page(tmp_path, isolated_home):
    db = _history(tmp_path / "history.sqlite")
    page = tmp_path / "drift.out"
    line = one_error_line(run_stance("drift", "--db", db, "--plot", page, "--html", page), code=2)
    assert "--plot and --html both name" in line and not page.exists()


@pytest.mark.parametrize("name", ["metrics.json", "predictions.jsonl"])
def test_report_does_not_write_over_the_run_it_renders(tmp_path, isolated_home, name):
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text("{}", encoding="utf-8")
    (run / "predictions.jsonl").write_text("", encoding="utf-8")
    line = one_error_line(run_stance("report", run, "--html", run / name))
    assert f"would overwrite {run / name}" in line
    assert (run / "metrics.json").read_text(encoding="utf-8") == "{}"


def test_export_does_not_write_over_its_history_database(tmp_path, isolated_home):
    db = _history(tmp_path / "history.csv")  # any name is a database when --db says so
    before = db.read_bytes()
    line = one_error_line(run_stance("export", "--db", db, "--output", db))
    assert "which this command reads" in line and db.read_bytes() == before


@pytest.mark.parametrize("inside", ["", "results"])
def test_score_does_not_write_its_results_into_the_model_folder(tmp_path, isolated_home, inside):
    """Parts written there made the folder one that a model can no longer be saved over."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "stance.json").write_text("{}")
    (tmp_path / "a.txt").write_text("Serbia signs a gas deal with Moscow.\n", encoding="utf-8")
    output = model / inside if inside else model
    result = run_stance("score", tmp_path / "a.txt", "--model", model, "--output", output)
    assert one_error_line(result) == f"error: --output {output}: is in the model folder {model}; write results to a " \
                                     "folder of their own"
    assert sorted(p.name for p in model.iterdir()) == ["stance.json"]


def test_drift_replaces_a_chart_it_drew_but_never_a_photo(tmp_path, isolated_home):
    """Any PNG was replaced: a user's photo or screenshot given as --plot was lost."""
    import struct
    import zlib

    from stance.drift import measure_drift
    from stance.drift_plot import write_png
    from stance.paths import OutputPathError

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    photo = tmp_path / "photo.png"  # a one-pixel PNG as a camera or an editor writes it: no Software of ours
    photo.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
                      + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
    before = photo.read_bytes()
    db = _history(tmp_path / "h.sqlite")
    line = one_error_line(run_stance("drift", "--db", db, "--plot", photo))
    assert f"--plot {photo}: is a file this command did not write" in line and photo.read_bytes() == before
    from stance.store import HistoryStore

    with HistoryStore(db) as store:
        report = measure_drift(store.articles(), "month")
    with pytest.raises(OutputPathError, match="did not write"):
        write_png(report, photo)
    assert photo.read_bytes() == before
    chart = tmp_path / "chart.png"
    for _ in range(2):  # a chart it drew is replaced
        result = run_stance("drift", "--db", db, "--plot", chart)
        assert result.returncode == 0, result.stderr
    assert b"tEXtSoftware\x00stance" in chart.read_bytes()
    shipped = Path(__file__).resolve().parents[1] / "experiments" / "drift" / "drift.png"
    old = tmp_path / "old.png"  # drawn by an earlier version, before charts were signed
    old.write_bytes(shipped.read_bytes().replace(b"tEXtSoftware\x00stance", b"tEXtSoftware\x00Matplotlib"))
    write_png(report, old)
    assert b"tEXtSoftware\x00stance" in old.read_bytes()
