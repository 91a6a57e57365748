"""The HTML pages in a real headless browser: they load cleanly, their filters work, their numbers equal --json.

Chromium comes from Debian (``make test`` installs it); Playwright drives it.
"""

from __future__ import annotations

import json
import re
import os
import shutil
from pathlib import Path

import pytest

from conftest import REPO, run_stance
from test_evidence import history

CHROMIUM = os.environ.get("STANCE_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make test` (it installs Debian's chromium) or set STANCE_CHROMIUM")
    from playwright.sync_api import sync_playwright

    from stance.pages import open_chromium

    with sync_playwright() as p:
        b = open_chromium(p, CHROMIUM)
        yield b
        b.close()


class Page:
    """A page opened from disk, with every console error and uncaught exception kept."""

    def __init__(self, browser, path: Path):
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page = browser.new_page()
        self.page.on("console", lambda m: self.problems.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.problems.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.resolve().as_uri())

    def texts(self, selector: str) -> list[str]:
        return self.page.locator(selector).all_inner_texts()

    def attrs(self, selector: str, name: str) -> list[str]:
        return [e.get_attribute(name) for e in self.page.locator(selector).element_handles()]


@pytest.fixture(scope="module")
def drift_page(tmp_path_factory):
    """A drift page of two years and two outlets, one article with hostile text and a javascript: link."""
    from stance.store import HistoryStore

    root = tmp_path_factory.mktemp("drift-page")
    scores = history()
    scores[0].sentences[0]["text"] = '</script><img src=x onerror="window.pwned=1">Serbia & <b>Russia</b>'
    scores[0].sentences[0]["russia"]["proba"] = {"favor": 0.999, "against": 0.0005, "none": 0.0005}
    probas = [s["russia"]["proba"] for s in scores[0].sentences]  # the net its sentences now add up to
    scores[0].summary["russia"]["net"] = sum(p["favor"] - p["against"] for p in probas) / len(probas)
    scores[1].url = "javascript:window.pwned=2"
    with HistoryStore(root / "h.sqlite") as store:
        store.record(scores)
    page = root / "drift.html"
    out = run_stance("drift", "--db", root / "h.sqlite", "--by", "year", "--json", "--html", page)
    assert out.returncode == 0, out.stderr
    return page, json.loads(out.stdout)


def _evidence_on_page(p: Page, side: str) -> list[tuple[str, str]]:
    selector = f"#{side} li.evidence-item"
    return list(zip(p.attrs(selector, "data-article"), p.texts(f"{selector} .proba")))


def _evidence_in_json(period: dict, target: str, side: str) -> list[tuple[str, str]]:
    return [(i["article"], f"{i['proba']:.3f}") for i in period[target]["evidence"][side]]


def test_drift_page_loads_offline_and_its_numbers_equal_json(browser, drift_page):
    path, report = drift_page
    p = Page(browser, path)
    assert p.problems == []
    assert all(url.startswith("file:") for url in p.requests)
    for target in ("russia", "eu"):
        p.page.select_option("#target", target)
        shown = dict(zip(p.attrs("table.periods tbody tr", "data-period"), p.texts("table.periods td.net")))
        assert {k: v.replace(" *", "").strip() for k, v in shown.items()} == {
            q["period"]: f"{q[target]['net']:+.3f}" for q in report["periods"]}
        # the default period is the last shift, and its evidence is the one in --json
        period = report["periods"][1]
        assert period[target]["shift"]
        assert p.page.input_value("#period") == period["period"]
        for side in ("favor", "against"):
            assert _evidence_on_page(p, side) == _evidence_in_json(period, target, side)
        movers = list(zip(p.attrs("table.movers tbody tr", "data-article"), p.texts("table.movers td.influence")))
        assert movers == [(m["article"], f"{m['influence']:+.3f}") for m in period[target]["movers"]]
    assert p.problems == []


def test_drift_page_filters_change_what_is_shown(browser, drift_page):
    path, report = drift_page
    p = Page(browser, path)
    before = _evidence_on_page(p, "favor")
    p.page.select_option("#target", "eu")
    assert _evidence_on_page(p, "favor") != before
    p.page.select_option("#target", "russia")
    p.page.select_option("#source", "Beta")
    beta = next(q for q in report["sources"]["Beta"]["periods"] if q["period"] == p.page.input_value("#period"))
    assert _evidence_on_page(p, "against") == _evidence_in_json(beta, "russia", "against")
    assert p.texts("#against li.evidence-item .meta") and all(" · Beta · " in m for m in p.texts("#against li.evidence-item .meta"))
    p.page.select_option("#source", "")
    p.page.click("circle.point[data-period='2021']")
    assert p.page.input_value("#period") == "2021"
    assert _evidence_on_page(p, "favor") == _evidence_in_json(report["periods"][0], "russia", "favor")
    p.page.click("table.periods tr[data-period='2022']")
    assert "2022" in p.page.inner_text("#evidence-title")
    assert p.problems == []


def test_drift_page_shows_article_text_as_text_and_links_only_to_the_web(browser, drift_page):
    path, report = drift_page
    p = Page(browser, path)
    p.page.click("circle.point[data-period='2021']")
    assert "</script><img" in p.page.inner_text("#favor")  # the strongest favor sentence, shown literally
    assert p.page.evaluate("window.pwned") is None
    assert p.page.locator("#app img").count() == 0
    hrefs = p.attrs("#app a", "href")
    assert hrefs and all(h.startswith("https://news.example/") for h in hrefs)
    assert p.problems == []


@pytest.fixture(scope="module")
def report_page(tmp_path_factory):
    run = REPO / "experiments" / "minilm-logreg"
    page = tmp_path_factory.mktemp("report") / "report.html"
    out = run_stance("report", run, "--html", page, "--experiments", REPO / "experiments" / "finetune" / "search.md")
    assert out.returncode == 0, out.stderr
    return page, json.loads((run / "metrics.json").read_text())


def test_the_shipped_report_page_is_what_its_command_writes_today(report_page):
    # a search row or a metric changed without `stance report` re-run leaves the page showing old numbers
    path, _ = report_page
    shipped = REPO / "experiments" / "minilm-logreg" / "report.html"
    assert shipped.read_bytes() == path.read_bytes(), (
        "re-run: stance report experiments/minilm-logreg --experiments experiments/finetune/search.md")


def _check_confusion(p: Page, metrics: dict, plan: str, target: str):
    matrix = metrics["evaluations"][plan]["targets"][target]["model"]["confusion"]
    stances = ["favor", "against", "none"]
    cells = p.page.locator("table.confusion button")
    assert [int(t) for t in cells.all_inner_texts()] == [v for row in matrix for v in row]
    for i, gold in enumerate(stances):
        for j, predicted in enumerate(stances):
            p.page.click(f"table.confusion button[data-gold={gold}][data-predicted={predicted}]")
            title = p.page.inner_text("#sentences-title")
            assert f"({matrix[i][j]} sentences" in title
            rows = p.page.locator("tr.sentence-row")
            assert rows.count() == min(matrix[i][j], 60)
            if rows.count():
                badges = p.texts("tr.sentence-row td .badge")
                assert set(badges[0::2]) == {gold} and set(badges[1::2]) == {predicted}


def test_report_page_confusion_cells_list_exactly_their_sentences(browser, report_page):
    path, metrics = report_page
    p = Page(browser, path)
    assert p.problems == []
    _check_confusion(p, metrics, "seed_loao", "russia")
    p.page.select_option("#target", "eu")
    p.page.select_option("#plan", "written_cv")
    _check_confusion(p, metrics, "written_cv", "eu")
    assert p.problems == []


def test_report_page_scores_equal_the_metrics_and_show_the_experiments(browser, report_page):
    path, metrics = report_page
    p = Page(browser, path)
    for plan in ("seed_loao", "written_cv"):
        p.page.select_option("#plan", plan)
        for target in ("russia", "eu"):
            p.page.select_option("#target", target)
            shown = p.texts("table.systems td.macro-f1")
            systems = metrics["evaluations"][plan]["targets"][target]
            assert [s.split(" ")[0] for s in shown] == [f"{systems[k]['macro_f1']:.3f}" for k in ("model", "tfidf", "majority")]
            gain = systems["gain_over_tfidf"]
            assert p.page.inner_text("p.gain").startswith(
                "Model minus TF-IDF on the same sentences") and f"macro-F1 {gain['macro_f1']:+.3f} [" in p.page.inner_text("p.gain")
    errors = p.texts("tr.sentence-row td.proba")
    assert errors == sorted(errors, reverse=True)  # worst errors first
    assert p.page.locator("table.experiments tbody tr").count() >= 1
    assert p.problems == []


@pytest.mark.integration
def test_stance_train_writes_an_evaluation_page(browser, trained):
    path = Path(trained["report"]) / "report.html"
    p = Page(browser, path)
    metrics = json.loads((Path(trained["report"]) / "metrics.json").read_text())
    _check_confusion(p, metrics, "seed_loao", "russia")
    gain = metrics["evaluations"]["seed_loao"]["targets"]["russia"]["gain_over_tfidf"]
    assert f"F1avg {gain['f1_avg']:+.3f} [" in p.page.inner_text("p.gain")
    assert p.problems == []


def test_report_refuses_a_folder_without_a_run(tmp_path):
    out = run_stance("report", tmp_path, "--html", tmp_path / "r.html")
    assert out.returncode == 1 and out.stderr.startswith("error: ") and "Traceback" not in out.stderr
    assert not (tmp_path / "r.html").exists()


@pytest.mark.integration
def test_the_demo_drift_page_shows_the_evidence_of_json(browser, trained, tmp_path):
    """The demo's pipeline with the real model: every period's evidence on the page is the one --json gives."""
    db, page = tmp_path / "h.sqlite", tmp_path / "drift.html"
    out = run_stance("score", "seeds", "labels/articles", "--record", "--db", db, "--quiet", "--model", trained["model"])
    assert out.returncode == 0, out.stderr
    out = run_stance("drift", "--db", db, "--by", "year", "--json", "--html", page)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    p = Page(browser, page)
    for target in ("russia", "eu"):
        p.page.select_option("#target", target)
        for period in report["periods"]:
            if not period["n_articles"]:
                continue
            p.page.select_option("#period", period["period"])
            for side in ("favor", "against"):
                assert _evidence_on_page(p, side) == _evidence_in_json(period, target, side)
                texts = p.texts(f"#{side} li.evidence-item .quote")
                shown = [" ".join(t.split("“", 1)[1].removesuffix("”").split()) for t in texts]
                assert shown == [" ".join(i["text"].split()) for i in period[target]["evidence"][side]]
    assert p.problems == []


@pytest.mark.parametrize("tamper, says", [
    (lambda rows: rows[:5], "seed_loao: 5 predictions for 94 sentences"),
    (lambda rows: rows + rows[:1], "seed_loao: a sentence is predicted twice"),
    (lambda rows: [dict(r, russia=dict(r["russia"], predicted="none")) if i == 0 else r for i, r in enumerate(rows)],
     "the russia confusion matrix is"),
])
def test_predictions_that_are_not_the_sentences_behind_the_metrics_are_refused(tmp_path, tamper, says):
    """The page lists sentences under the counts of metrics.json: the two files must be of one run."""
    from stance.errors import InputError
    from stance.report import evaluation_page

    shipped = REPO / "experiments" / "minilm-logreg"
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(shipped / "metrics.json", run / "metrics.json")
    rows = [json.loads(line) for line in (shipped / "predictions.jsonl").read_text("utf-8").splitlines()]
    assert rows[0]["plan"] == "seed_loao" and rows[0]["russia"]["predicted"] != "none"
    (run / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in tamper(rows)), "utf-8")
    with pytest.raises(InputError, match=f"predictions.jsonl and metrics.json disagree .*{re.escape(says)}"):
        evaluation_page(run)
