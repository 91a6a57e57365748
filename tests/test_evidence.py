"""Drift evidence: the sentences and articles behind each period's number, in every output."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_stance
from stance.drift import measure_drift
from stance.evidence import ITEM_FIELDS, strongest_sentences
from stance.scoring import ArticleScores
from stance.store import HistoryStore

TARGETS = ("russia", "eu")


def varied_scores(article: str, date: str, tilt: float, *, source: str | None = None, n: int = 5, seed: int = 0,
                  url: str | None = None, title: str | None = None) -> ArticleScores:
    """An article whose sentences have distinct probabilities, leaning by ``tilt`` toward favor (+) or against (-)."""
    rng = np.random.default_rng(seed)
    sentences = []
    for i in range(n):
        row = {"index": i, "text": f"{article}: sentence {i} about Serbia."}
        for target in TARGETS:
            raw = rng.dirichlet([1.0, 1.0, 1.0]) + np.array([max(tilt, 0), max(-tilt, 0), 0.0])
            p = raw / raw.sum()
            proba = {"favor": float(p[0]), "against": float(p[1]), "none": float(p[2])}
            row[target] = {"label": max(proba, key=proba.get), "proba": proba}
        sentences.append(row)
    summary = {}
    for target in TARGETS:
        counts = {k: sum(s[target]["label"] == k for s in sentences) for k in ("favor", "against", "none")}
        net = float(np.mean([s[target]["proba"]["favor"] - s[target]["proba"]["against"] for s in sentences]))
        summary[target] = {**counts, "net": net}
    return ArticleScores(article=article, date=date, model={"id": "m1"}, sentences=sentences, summary=summary,
                         source=source, url=url, title=title, content_sha256=article)


def history(shift: float = 1.5) -> list[ArticleScores]:
    """Two years of two outlets; the second year leans against Russia."""
    out = []
    for year, tilt in ((2021, shift), (2022, -shift)):
        for i in range(8):
            out.append(varied_scores(f"{year}-{i}", f"{year}-{i % 12 + 1:02d}-10", tilt, source=("Alpha", "Beta")[i % 2],
                                     seed=year * 10 + i, url=f"https://news.example/{year}/{i}", title=f"Story {year}/{i}"))
    return out


def test_strongest_sentences_agree_between_scored_and_stored_rows():
    scores = varied_scores("a", "2022-01-01", 0.0, n=7, seed=3)
    flat = [{"sentence": s["index"], "target": t, "text": s["text"], "label": s[t]["label"],
             "p_favor": s[t]["proba"]["favor"], "p_against": s[t]["proba"]["against"]}
            for s in scores.sentences for t in TARGETS]
    best = strongest_sentences(scores.sentences, list(TARGETS))
    assert best == strongest_sentences(flat[::-1])
    for t in TARGETS:
        for side in ("favor", "against"):
            top = max(scores.sentences, key=lambda s: s[t]["proba"][side])
            assert best[t][side]["index"] == top["index"]
            assert best[t][side]["proba"] == top[t]["proba"][side]


def test_evidence_has_the_contract_shape_one_item_per_article_and_the_strongest_first():
    report = measure_drift(history(), "year", evidence=3).to_dict()
    for period in report["periods"]:
        for t in TARGETS:
            evidence = period[t]["evidence"]
            assert set(evidence) == {"favor", "against"}
            for side, items in evidence.items():
                assert len(items) == min(3, period["n_articles"])
                assert all(tuple(item) == ITEM_FIELDS for item in items)
                assert len({item["article"] for item in items}) == len(items)
                probas = [item["proba"] for item in items]
                assert probas == sorted(probas, reverse=True)
                # the strongest sentence of the whole period on that side comes first
                members = [s for s in history() if s.date[:4] == period["period"]]
                best = max(s[t]["proba"][side] for a in members for s in a.sentences)
                assert items[0]["proba"] == pytest.approx(best)
                first = next(a for a in members if a.article == items[0]["article"])
                assert items[0]["url"] == first.url and items[0]["title"] == first.title
                assert items[0]["text"] == first.sentences[items[0]["index"]]["text"]


def test_k_is_honoured_and_empty_periods_have_empty_lists():
    scores = [varied_scores(f"a{i}", "2021-01-05", 0.5, seed=i) for i in range(5)]
    scores += [varied_scores(f"b{i}", "2021-03-05", -0.5, seed=10 + i) for i in range(5)]
    report = measure_drift(scores, "month", evidence=2).to_dict()
    february = next(p for p in report["periods"] if p["period"] == "2021-02")
    assert february["russia"]["evidence"] == {"favor": [], "against": []}
    january = next(p for p in report["periods"] if p["period"] == "2021-01")
    assert [len(january["russia"]["evidence"][s]) for s in ("favor", "against")] == [2, 2]
    assert len(january["russia"]["movers"]) == 2
    assert "evidence" not in measure_drift(scores, "month", evidence=0).to_dict()["periods"][0]["russia"]


def test_movers_are_ranked_by_how_far_they_pull_the_period():
    scores = [varied_scores(f"a{i}", "2021-01-05", 0.0, seed=i) for i in range(6)]
    outlier = varied_scores("outlier", "2021-01-06", -4.0, seed=99)
    period = measure_drift([*scores, outlier], "year").periods[0]["russia"]
    nets = {s.article: s.summary["russia"]["net"] for s in [*scores, outlier]}
    top = period["movers"][0]
    assert top["article"] == "outlier"
    others = [v for k, v in nets.items() if k != "outlier"]
    assert top["influence"] == pytest.approx(period["net"] - np.mean(others))
    assert top["net"] == pytest.approx(nets["outlier"])


def test_a_shift_is_explained_by_the_articles_and_sentences_that_moved_it():
    report = measure_drift(history(), "year", evidence=3)
    second = report.to_dict()["periods"][1]["russia"]
    assert second["shift"]
    move = second["explanation"]
    assert move["from"] == "2021" and move["toward"] == "against"
    assert move["change"] == pytest.approx(second["change"])
    nets_now = sorted(s.summary["russia"]["net"] for s in history() if s.date.startswith("2022"))
    assert [a["net"] for a in move["articles"]] == pytest.approx(nets_now[:3])
    nets_before = sorted((s.summary["russia"]["net"] for s in history() if s.date.startswith("2021")), reverse=True)
    assert [a["net"] for a in move["before"]["articles"]] == pytest.approx(nets_before[:3])
    assert all(tuple(item) == ITEM_FIELDS for item in move["sentences"] + move["before"]["sentences"])
    assert report.to_dict()["periods"][0]["russia"]["explanation"] is None


def test_per_source_periods_carry_their_own_evidence():
    report = measure_drift(history(), "year").to_dict()
    for name, block in report["sources"].items():
        for period in block["periods"]:
            for item in period["russia"]["evidence"]["favor"]:
                assert item["source"] == name


@pytest.fixture
def recorded(tmp_path):
    db = tmp_path / "history.sqlite"
    with HistoryStore(db) as store:
        store.record(history())
    return db


def test_the_database_gives_the_same_evidence_as_the_scores(recorded):
    with HistoryStore(recorded, readonly=True) as store:
        rows = store.articles(strongest=True)
    from_db = measure_drift(rows, "year").to_dict()["periods"]
    from_scores = measure_drift(history(), "year").to_dict()["periods"]
    for a, b in zip(from_db, from_scores):
        for t in TARGETS:
            assert a[t]["evidence"] == b[t]["evidence"]
            assert a[t]["movers"] == b[t]["movers"]


def test_drift_json_and_text_show_the_evidence(recorded):
    out = run_stance("drift", "--db", recorded, "--by", "year", "--json", "--top", "2")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    items = report["periods"][1]["russia"]["evidence"]["against"]
    assert len(items) == 2
    text = run_stance("drift", "--db", recorded, "--by", "year", "--evidence", "--top", "2")
    assert text.returncode == 0, text.stderr
    assert f'"{items[0]["text"]}"' in text.stdout
    assert "shift" in text.stdout.split("Evidence:")[1]
    plain = run_stance("drift", "--db", recorded, "--by", "year")
    assert "Evidence:" not in plain.stdout


def test_drift_results_folder_gives_the_same_evidence_as_the_database(recorded, tmp_path):
    from stance.results import ResultsFolder

    folder = tmp_path / "results"
    ResultsFolder(folder, "m1").write(history())
    a = json.loads(run_stance("drift", "--results", folder, "--by", "year", "--json").stdout)
    b = json.loads(run_stance("drift", "--db", recorded, "--by", "year", "--json").stdout)
    assert [p["eu"]["evidence"] for p in a["periods"]] == [p["eu"]["evidence"] for p in b["periods"]]


def test_top_must_be_positive(recorded):
    out = run_stance("drift", "--db", recorded, "--top", "0")
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_text_evidence_marks_a_sentence_labelled_otherwise():
    """An article's likeliest favor sentence may be labelled none or against: the text says so, never silently."""
    report = measure_drift(history(), "year", evidence=8)
    sections: dict[str, list[str]] = {}
    current = None
    for line in report.to_text(evidence=True).split("Evidence:")[1].splitlines():
        if line and not line.startswith(" "):
            current = sections.setdefault(line.split(" · net")[0], [])
        elif current is not None:
            current.append(line)
    marked = unmarked = 0
    for period in report.to_dict(labels=True)["periods"]:
        for t in TARGETS:
            for side in ("favor", "against"):
                for item in period[t]["evidence"][side]:
                    shown = [line for line in sections[f"{period['period']} · {t}"]
                             if line.startswith(f"  {side:7s} ") and f'"{item["text"]}"' in line]
                    assert len(shown) == 1
                    if item["label"] == side:
                        assert "(labelled" not in shown[0]
                        unmarked += 1
                    else:
                        assert f"{item['proba']:.2f} (labelled {item['label']})  " in shown[0]
                        marked += 1
    assert marked and unmarked  # the history holds both kinds
