"""The sentences and articles behind a drift number.

A period's net is a mean over articles, so what a reader needs to check it is
(1) the sentences that weigh most toward each side, one per article (and one per
text: copies of a syndicated story count once) so that no article fills the list, (2) the articles that move the
period's net most, and (3) at a shift or change point, what separates the
period from the one before it. All three come from each article's *strongest
sentences*: per target, the sentence with the highest P(favor) and the one
with the highest P(against). That is all drift keeps of an article's
sentences, so a report over a large history stays small in memory.

Evidence items have the fields of ``stance drift --json``: ``article, date,
source, title, url, index, text, proba`` (``proba`` is P(favor) or
P(against)); the sentence's decided label rides along under ``label`` for the
HTML page and is dropped from the JSON by :func:`public_items`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = ["SIDES", "explain_move", "movers", "period_evidence", "public_items", "strongest_sentences"]

SIDES = ("favor", "against")

#: Fields of an evidence item in ``--json`` (the sentence's label stays internal).
ITEM_FIELDS = ("article", "date", "source", "title", "url", "index", "text", "proba")


def strongest_sentences(rows: Iterable[dict], targets: Sequence[str] | None = None) -> dict:
    """Per target and side, the article's sentence with the highest probability of that side.

    ``rows`` are flat rows as the history database stores them (``{"sentence",
    "target", "text", "label", "p_favor", "p_against"}``) or, with
    ``targets``, scored sentences as in ``ArticleScores.sentences`` (flattened
    by :func:`stance.scoring.flat_sentences`). Ties go to the earlier
    sentence. Returns ``{target: {"favor": {index, text, label, proba},
    "against": {...}}}``; a target without sentences is left out.
    """
    if targets is not None:
        from stance.scoring import flat_sentences

        rows = flat_sentences(list(rows), targets)
    best: dict[str, dict[str, dict]] = {}
    for row in rows:
        sides = best.setdefault(row["target"], {})
        index = int(row["sentence"])
        for side in SIDES:
            held = sides.get(side)
            p = float(row[f"p_{side}"])
            if held is None or p > held["proba"] or (p == held["proba"] and index < held["index"]):
                sides[side] = {"index": index, "text": row["text"], "label": row["label"], "proba": p}
    return best


def _article_fields(a: dict) -> dict:
    return {"article": a["article"], "date": a["date"].isoformat() if a.get("date") else None,
            "date_source": a.get("date_source"), "source": a.get("source"), "title": a.get("title"), "url": a.get("url")}


def _order(a: dict) -> tuple:
    return (a["date"].isoformat() if a.get("date") else "", str(a["article"]), str(a.get("source") or ""))


def _side_items(members: list[dict], target: str, side: str, k: int) -> list[dict]:
    """The ``k`` strongest sentences toward ``side`` among ``members``, at most one per article and one per text
    (copies of a syndicated story, known by their SHA-256, are one piece of evidence, as they are one in drift's intervals)."""
    held = [(a, a["strongest"][target][side]) for a in members if target in (a.get("strongest") or {})]
    held.sort(key=lambda pair: (-pair[1]["proba"], _order(pair[0]), pair[1]["index"]))
    chosen, texts = [], set()
    for a, s in held:
        if len(chosen) >= k:
            break
        digest = a.get("content_sha256")
        if isinstance(digest, str) and digest:
            if digest in texts:
                continue
            texts.add(digest)
        chosen.append({**_article_fields(a), "index": s["index"], "text": s["text"], "proba": s["proba"], "label": s["label"]})
    return chosen


def period_evidence(members: list[dict], target: str, k: int) -> dict:
    """``{"favor": [...], "against": [...]}`` for one period and target (empty lists without articles)."""
    return {side: _side_items(members, target, side, k) for side in SIDES}


def movers(members: list[dict], target: str, k: int) -> list[dict]:
    """The ``k`` articles whose removal would change the period's net most.

    ``influence`` is the period's net minus the mean of the other articles:
    how far this article pulls the period (the article's own net when it is
    the only one).
    """
    nets = [a["summary"][target]["net"] for a in members]
    if not nets:
        return []
    total, n = sum(nets), len(nets)
    out = []
    for a, net in zip(members, nets):
        influence = net if n == 1 else total / n - (total - net) / (n - 1)
        out.append({**_article_fields(a), "net": float(net), "influence": float(influence),
                    "n_sentences": int(a["n_sentences"])})
    out.sort(key=lambda m: (-abs(m["influence"]), m["date"] or "", str(m["article"]), str(m["source"] or "")))
    return out[:k]


def _articles_toward(members: list[dict], target: str, sign: float, k: int) -> list[dict]:
    ranked = sorted(members, key=lambda a: (-sign * a["summary"][target]["net"], _order(a)))
    return [{**_article_fields(a), "net": float(a["summary"][target]["net"])} for a in ranked[:k]]


def explain_move(previous: dict, current: dict, target: str, k: int, why: list[str]) -> dict:
    """What separates ``current`` from ``previous`` (two periods with articles) for ``target``.

    The move goes ``toward`` favor when the net rose, against when it fell.
    ``articles`` and ``sentences`` are the current period's articles and
    sentences furthest in that direction; ``before`` holds the previous
    period's furthest the other way: what the period moved away from.
    """
    change = current["net"] - previous["net"]
    toward = "favor" if change >= 0 else "against"
    away = "against" if toward == "favor" else "favor"
    sign = 1.0 if toward == "favor" else -1.0
    return {
        "why": why,
        "from": previous["period"],
        "change": float(change),
        "toward": toward,
        "articles": _articles_toward(current["members"], target, sign, k),
        "sentences": _side_items(current["members"], target, toward, k),
        "before": {
            "articles": _articles_toward(previous["members"], target, -sign, k),
            "sentences": _side_items(previous["members"], target, away, k),
        },
    }


def public_items(items: list[dict]) -> list[dict]:
    """Evidence items in the ``--json`` shape (without the internal label)."""
    return [{f: item[f] for f in ITEM_FIELDS} for item in items]
