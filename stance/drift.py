"""Drift: how the portrayal of each target moves from period to period.

Each article counts once: its ``net`` (mean over its sentences of P(favor) -
P(against)) is averaged over the articles of a period, with a 95% bootstrap
interval over articles. A period is marked as a *shift* when a permutation
test on the article nets tells it apart from the previous period with
articles, at a Holm-adjusted p below ``alpha`` across the whole series (so a
flat series of many periods does not light up by chance). Change points over
the whole series come from ``ruptures`` (PELT, L2 cost) on the article nets in
date order, with a BIC-like penalty scaled by a robust noise estimate.

Copies of one text (a syndicated story recorded under several sources: the
same content SHA-256 and net) are one piece of evidence: each copy still
weighs in a period's net, but the interval resamples and the permutation test
moves texts, not copies, and the change-point search sees each text once, at
its first date. Counted apart, copies would narrow the intervals and invent
shifts and change points that the same story told once does not have.

A stored date that is not a date in the range stance takes (see
:mod:`stance.dates`; a database written before that range was enforced may
hold one) is counted as undated, with a warning, so one bad row never stops
a report.
"""

from __future__ import annotations

import math
import warnings
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date as Date
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import combinations
from numbers import Integral, Real

import numpy as np

from stance.dates import UNKNOWN_SOURCE
from stance.errors import StanceError, StanceWarning, TextsError, ValueInputError, check_count, is_table
from stance.evidence import explain_move, movers, period_evidence, public_items, strongest_sentences
from stance.schema import is_within

__all__ = ["PERIODS", "DriftReport", "measure_drift", "period_count", "period_of", "period_range", "stance_over_time"]

PERIODS = ("week", "month", "quarter", "half", "year")
_MONTHS_PER = {"month": 1, "quarter": 3, "half": 6, "year": 12}


#: Penalty multiplier for change points: pen = BETA * sigma^2 * log(n).
CHANGE_PENALTY = 4.0
CHANGE_MIN_SIZE = 3

#: The most periods one drift shows: beyond it, the table, chart and page stop being read
#: (and take long to make), and a longer period says the same.
MAX_PERIODS = 5000

#: The most bootstrap resamples, and permutations, a drift makes: beyond it an interval or a p-value
#: no longer changes, while the memory and time it takes go on growing (to a MemoryError, or a hang).
MAX_RESAMPLES = 100_000

#: About how many numbers one step of the bootstrap or the permutation test holds at once.
_CHUNK_CELLS = 1 << 21


# --- periods -----------------------------------------------------------------


def period_of(day: Date, by: str) -> tuple[str, Date]:
    """The label and first day of the period holding ``day``.

    Labels: ``2025`` (year), ``2025-H1`` (half), ``2025-Q3`` (quarter),
    ``2025-07`` (month), ``2025-W27`` (ISO week, which starts on Monday and
    may belong to the neighbouring year, as ISO 8601 says).
    """
    if by == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}", Date.fromisocalendar(iso.year, iso.week, 1)
    if by not in _MONTHS_PER:
        raise ValueInputError(f"unknown period {by!r}; use one of {', '.join(PERIODS)}")
    step = _MONTHS_PER[by]
    first_month = (day.month - 1) // step * step + 1
    start = Date(day.year, first_month, 1)
    label = {
        "month": f"{day.year}-{day.month:02d}",
        "quarter": f"{day.year}-Q{(first_month - 1) // 3 + 1}",
        "half": f"{day.year}-H{1 if first_month == 1 else 2}",
        "year": f"{day.year}",
    }[by]
    return label, start


def _next_start(start: Date, by: str) -> Date:
    if by == "week":
        return start + timedelta(days=7)
    months = start.year * 12 + start.month - 1 + _MONTHS_PER[by]
    return Date(months // 12, months % 12 + 1, 1)


def period_count(first: Date, last: Date, by: str) -> int:
    """How many periods :func:`period_range` gives, counted without making them."""
    start, end = period_of(first, by)[1], period_of(last, by)[1]
    if by == "week":
        return (end - start).days // 7 + 1
    months = (end.year - start.year) * 12 + end.month - start.month
    return months // _MONTHS_PER[by] + 1


def period_range(first: Date, last: Date, by: str) -> list[tuple[str, Date]]:
    """Every period from the one holding ``first`` to the one holding ``last``."""
    out = []
    start = period_of(first, by)[1]
    while start <= last:
        out.append(period_of(start, by))
        start = _next_start(start, by)
    return out


# --- statistics --------------------------------------------------------------


def _stream(seed: int, *about: str) -> np.random.Generator:
    """The random numbers of one statistic, drawn from the seed and what it is of (its target and periods).

    One stream shared by every statistic in turn would make a period's interval hang on the
    periods and sources computed before it: the same articles would get another interval under
    ``--since``, ``--source`` or beside a new source, and none could be made again from its own.
    """
    key = "\x1f".join(about).encode("utf-8", "backslashreplace")
    return np.random.default_rng([seed, zlib.crc32(key)])


def _bootstrap_interval(values: np.ndarray, rng: np.random.Generator, n_boot: int,
                        weights: np.ndarray | None = None) -> tuple[float, float]:
    """Resamples ``values`` (one per text), each mean weighted by the ``weights`` (its copies), as the net is."""
    if len(values) == 1:
        return float(values[0]), float(values[0])
    weights = np.ones(len(values)) if weights is None else weights
    weighted, rows = values * weights, max(1, _CHUNK_CELLS // len(values))  # in steps: memory stays bounded
    means = []
    for done in range(0, n_boot, rows):  # the same draws as in one step, so the same interval
        idx = rng.integers(0, len(values), size=(min(rows, n_boot - done), len(values)))
        means.append(weighted[idx].sum(axis=1) / weights[idx].sum(axis=1))
    low, high = np.percentile(np.concatenate(means), [2.5, 97.5])
    return float(low), float(high)


def permutation_p_value(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_perm: int = 5000,
                        weights: tuple[np.ndarray, np.ndarray] | None = None) -> float:
    """Two-sided p-value for a difference in means between ``a`` and ``b``.

    Exact (every split of the pooled values) when there are no more splits
    than ``n_perm``; otherwise Monte Carlo with the usual +1 correction.
    ``weights`` (the copies of each value of ``a`` and of ``b``) weigh the
    means, and a value moves with its copies: copies are no more evidence.
    """
    pooled = np.concatenate([a, b])
    w = np.ones(len(pooled)) if weights is None else np.concatenate(weights).astype(float)
    n, k = len(pooled), len(a)
    pw = pooled * w
    total, whole = float(pw.sum()), float(w.sum())
    observed = abs(pw[k:].sum() / w[k:].sum() - pw[:k].sum() / w[:k].sum()) - 1e-12
    if math.comb(n, k) <= n_perm:
        hits = count = 0
        for idx in combinations(range(n), k):
            s, ws = pw[list(idx)].sum(), w[list(idx)].sum()
            hits += abs((total - s) / (whole - ws) - s / ws) >= observed
            count += 1
        return hits / count
    hits = 0
    done = 0
    while done < n_perm:
        chunk = min(1000, max(1, _CHUNK_CELLS // n), n_perm - done)  # the same draws whatever the step
        order = np.argsort(rng.random((chunk, n)), axis=1)[:, :k]
        s, ws = pw[order].sum(axis=1), w[order].sum(axis=1)
        hits += int(np.sum(np.abs((total - s) / (whole - ws) - s / ws) >= observed))
        done += chunk
    return (hits + 1) / (n_perm + 1)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    m = len(p_values)
    order = np.argsort(p_values)
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted.tolist()


def change_points(values: np.ndarray, *, penalty: float = CHANGE_PENALTY, min_size: int = CHANGE_MIN_SIZE) -> list[int]:
    """Indices where a new level starts in ``values`` (PELT with L2 cost).

    ruptures' kernel search with a linear kernel is the same PELT with the same
    L2 cost, written in C: its ``Pelt`` class, in Python, took minutes on a few
    thousand articles (the cost grows with the square of their number).
    """
    n = len(values)
    if n < 2 * min_size:
        return []
    sigma = noise_scale(values)
    if sigma <= 1e-9:
        return []
    import ruptures

    algo = ruptures.KernelCPD(kernel="linear", min_size=min_size).fit(values.reshape(-1, 1))
    return [b for b in algo.predict(pen=penalty * sigma**2 * math.log(n)) if b < n]


def noise_scale(values: np.ndarray) -> float:
    """The article-to-article noise of a series, from its successive differences: what the penalty scales.

    The median absolute deviation reads it robustly, level changes aside. When most articles tie (a
    confident model; many articles all none) it falls to about 0, below a quarter of the plain
    deviation, and every small step would pass for a change: the plain deviation is taken then.
    """
    diffs = np.diff(values)
    robust = 1.4826 * float(np.median(np.abs(diffs - np.median(diffs))))
    plain = float(np.std(diffs))
    return (robust if robust >= plain / 4 else plain) / math.sqrt(2)


# --- the report --------------------------------------------------------------


@dataclass
class DriftReport:
    """Net stance per period and target, with intervals, shifts and change points.

    ``to_dict()`` is the ``stance drift --json`` shape; ``to_text()`` the
    terminal table; :func:`stance.drift_plot.write_png` and
    :func:`stance.drift_plot.write_html` draw it.
    """

    by: str
    targets: list[str]
    periods: list[dict]
    change_points: dict[str, list[str]]
    undated: list[str] = field(default_factory=list)
    sources: dict[str, dict] = field(default_factory=dict)
    model: dict | None = None
    settings: dict = field(default_factory=dict)

    @property
    def n_articles(self) -> int:
        return sum(p["n_articles"] for p in self.periods)

    def to_dict(self, labels: bool = False) -> dict:
        """The ``--json`` shape; ``labels`` keeps each evidence sentence's label (for the HTML page)."""
        public = (lambda p: p) if labels else (lambda p: _public_period(p, self.targets))
        return {
            "by": self.by,
            "undated": len(self.undated),
            "undated_articles": list(self.undated),
            "periods": [public(p) for p in self.periods],
            "change_points": self.change_points,
            "sources": {name: {**block, "periods": [public(p) for p in block["periods"]]}
                        for name, block in self.sources.items()},
            "model": self.model,
            "settings": self.settings,
        }

    def to_frame(self):
        """One row per (target, period): a tidy ``pandas.DataFrame``."""
        import pandas as pd

        rows = [
            {"target": t, "period": p["period"], "start": p["start"], "n_articles": p["n_articles"],
             "n_sentences": p["n_sentences"], **p[t]}
            for t in self.targets
            for p in self.periods
        ]
        if not rows:  # no dated article: the columns still, so that df["net"] is an empty series
            return pd.DataFrame(columns=["target", "period", "start", "n_articles", "n_sentences", "net", "low", "high"])
        return pd.DataFrame(rows)

    def to_text(self, evidence: bool = False) -> str:
        """The drift table, change points, sources and undated articles, for a terminal.

        With ``evidence``, each period's strongest sentences per side, the
        articles that move it most and, at a shift or change point, what
        changed follow the table.
        """
        model = (self.model or {}).get("id") or "-"
        lines = [
            f"Stance drift by {self.by} · model {model} · {self.n_articles} dated articles, {len(self.undated)} undated",
            "net: mean over articles of P(favor) - P(against), [95% bootstrap interval]; "
            f"* shift from the previous period (permutation test, Holm p < {self.settings.get('alpha', 0.05)})",
            "",
        ]
        head = f"{'period':9s} {'arts':>5s} {'sents':>6s}"
        for t in self.targets:
            head += f"  {t + ' net':>11s} {'[low, high]':>18s} {'fav':>4s} {'agn':>4s}"
        lines.append(head)
        for p in self.periods:
            row = f"{p['period']:9s} {p['n_articles']:5d} {p['n_sentences']:6d}"
            for t in self.targets:
                s = p[t]
                if s["net"] is None:
                    row += f"  {'-':>11s}" + " " * 29
                    continue
                mark = "*" if s["shift"] else " "
                row += (
                    f"  {_fixed(s['net'], 3):>10s}{mark} [{_fixed(s['low'], 3)}, {_fixed(s['high'], 3)}]"
                    f" {_percent(s['favor_share']):>4s} {_percent(s['against_share']):>4s}"
                )
            lines.append(row.rstrip())
        lines.append("")
        for t in self.targets:
            found = self.change_points.get(t) or []
            lines.append(f"change points {t}: {', '.join(found) if found else 'none'}")
        if self.sources:
            width = min(40, max(len("source"), *(len(_escaped(name)) for name in self.sources)))
            lines += ["", f"{'source':{width}s} {'arts':>5s}" + "".join(f"  {t + ' net':>11s} {'[low, high]':>18s}" for t in self.targets)]
            for name, block in self.sources.items():
                shown = _clip(_escaped(name), width)
                row = f"{shown:{width}s} {block['n_articles']:5d}"
                for t in self.targets:
                    o = block["overall"][t]
                    row += f"  {_fixed(o['net'], 3):>11s} [{_fixed(o['low'], 3)}, {_fixed(o['high'], 3)}]"
                lines.append(row)
        if self.undated:
            lines += ["", f"undated ({len(self.undated)}): {', '.join(map(_escaped, self.undated))}"]
        if evidence:
            lines += _evidence_lines(self.periods, self.targets)
        return "\n".join(lines) + "\n"


def _fixed(x: float, digits: int, signed: bool = True) -> str:
    """``x`` to ``digits`` decimals as the drift page writes it (JavaScript's ``toFixed``: a tie goes away
    from 0), so that the table and the page never differ in a last digit; a value that rounds to 0 has no minus."""
    scaled = math.floor(abs(Decimal(x)) * 10**digits + Decimal("0.5"))  # exact: the float's own value, not its repr
    text = f"{scaled / 10**digits:.{digits}f}"
    return ("-" if x < 0 and scaled else "+" if signed else "") + text


def _percent(share: float) -> str:
    """A share as a whole percent, rounded as the drift page rounds it (``Math.round``: a half goes up)."""
    return f"{math.floor(share * 100 + 0.5)}%"


def _escaped(name: str) -> str:
    """An id or source on one line: a line break or other unprintable character in it shown escaped (``\\x0a``)."""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"
                   if ord(c) < 0x10000 else f"\\U{ord(c):08x}" for c in str(name))


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def _one_line(text: str, width: int) -> str:
    """A sentence on one line (runs of white space as one space), clipped to ``width``."""
    return _clip(" ".join(str(text).split()), width)


def _where(item: dict) -> str:
    date = f"{item['date']} (inferred)" if item["date"] and item.get("date_source") == "inferred" else item["date"]
    return " · ".join(_escaped(v) for v in (item["article"], date, item["source"]) if v)


def _evidence_lines(periods: list[dict], targets) -> list[str]:
    """The evidence of each period and target as text (``stance drift --evidence``)."""
    lines = ["", "Evidence: per period and target, the strongest sentence of each of the top articles per side "
             "(P of that side, and the sentence's label when it is another), the articles whose removal moves the period's net most, and what changed at a shift "
             "or change point."]
    for p in periods:
        for t in targets:
            s = p[t]
            if s["net"] is None or "evidence" not in s:
                continue
            mark = "*" if s["shift"] else ""
            lines += ["", f"{p['period']} · {t} · net {_fixed(s['net'], 3)}{mark} ({p['n_articles']} article{'s' if p['n_articles'] != 1 else ''})"]
            for side in ("favor", "against"):
                for item in s["evidence"][side]:
                    lines.append(f"  {side:7s} {_fixed(item['proba'], 2, signed=False)}{_labelled(item, side)}  {_where(item)}: "
                                 f"\"{_one_line(item['text'], 110)}\"")
            moved = ", ".join(f"{_escaped(m['article'])} (net {_fixed(m['net'], 2)}, moves it {_fixed(m['influence'], 3)})"
                              for m in s["movers"])
            lines.append(f"  moved most: {moved}")
            move = s.get("explanation")
            if move:
                lines.append(f"  {' and '.join(move['why'])} from {move['from']} ({_fixed(move['change'], 3)}), toward {move['toward']}:")
                away = "against" if move["toward"] == "favor" else "favor"
                for label, block, side in (("now", move, move["toward"]), ("before", move["before"], away)):
                    arts = ", ".join(f"{_escaped(a['article'])} ({_fixed(a['net'], 2)})" for a in block["articles"])
                    lines.append(f"    {label}: {arts}")
                    for item in block["sentences"]:
                        lines.append(f"      {_fixed(item['proba'], 2, signed=False)}{_labelled(item, side)}  {_where(item)}: "
                                     f"\"{_one_line(item['text'], 96)}\"")
    return lines


def _labelled(item: dict, side: str) -> str:
    """`` (labelled none)`` when the sentence strongest toward ``side`` is labelled otherwise: an article
    with no sentence of that side still has its likeliest one, and the reader should not take it for one."""
    label = item.get("label")
    return f" (labelled {label})" if label is not None and label != side else ""


def _public_period(period: dict, targets) -> dict:
    """A period row as ``--json`` gives it: evidence items without their internal label."""
    out = dict(period)
    for t in targets:
        block = period.get(t)
        if not block or "evidence" not in block:
            continue
        block = {**block, "evidence": {side: public_items(items) for side, items in block["evidence"].items()}}
        move = block.get("explanation")
        if move:
            block["explanation"] = {**move, "sentences": public_items(move["sentences"]),
                                    "before": {**move["before"], "sentences": public_items(move["before"]["sentences"])}}
        out[t] = block
    return out


def _article_view(item, number: int = 0) -> dict:
    """An ArticleScores or a stored article row (the ``number``-th record), as the fields drift needs."""
    advice = "pass scored articles (score_article's results) or the rows of HistoryStore.articles()"
    if not isinstance(item, dict) and not hasattr(item, "summary"):
        raise StanceError(f"records[{number}] is {type(item).__name__}; {advice}")
    get = item.get if isinstance(item, dict) else lambda k, d=None: getattr(item, k, d)
    article = get("article")
    if isinstance(item, dict) and "article" not in item:
        fields = ", ".join(repr(k)[:40] for k in list(item)[:5]) or "none"
        raise StanceError(f"records[{number}] has no article id (its fields: {fields}); {advice}")
    if article == "" and isinstance(item, dict):
        # A dict is a stored row (HistoryStore.articles, a results folder), likely met through `stance drift`:
        # its reader wants to know which article it is and what to do, not which Python objects to pass.
        where = "".join(f" {word} {_escaped(value)}"
                        for word, value in (("from", get("source")), ("dated", get("date"))) if value)
        raise StanceError(f"a stored article{where} has an empty id, which names no article; leave it out of the "
                          "selection (--source, --since, --until) or record the articles again, each with an id, "
                          "in a new database")
    if not isinstance(article, str) or not article:
        import reprlib

        what = "an empty article id" if article == "" else f"article id {reprlib.repr(article)}, not a text"
        raise StanceError(f"records[{number}] has {what}; {advice}")
    n_sentences = get("n_sentences")
    if n_sentences is None:
        n_sentences = len(get("sentences") or [])
    day, bad_date = _report_date(get("date"))
    strongest = get("strongest")
    if strongest is None and get("sentences"):
        strongest = strongest_sentences(get("sentences"), list(get("summary") or {}))
    model = get("model")
    model_id = get("model_id") or (model.get("id") if isinstance(model, dict) else None)
    return {"article": get("article"), "source": get("source"), "date": day, "date_source": get("date_source"),
            "n_sentences": n_sentences,
            "summary": get("summary") or {}, "bad_date": bad_date, "title": get("title"), "url": get("url"),
            "strongest": strongest or {}, "model_id": model_id, "content_sha256": get("content_sha256")}


def _require_one_score_per_article(views: list[dict]) -> None:
    """Refuse scores of several models, or an article counted twice: either would weigh
    some articles more than others (as a history database of two models read whole would)."""
    models = sorted({str(v["model_id"]) for v in views if v["model_id"] is not None})
    if len(models) > 1:
        shown = ", ".join(m[:12] for m in models[:3]) + (", ..." if len(models) > 3 else "")
        raise StanceError(f"the records hold scores of {len(models)} models ({shown}); drift reads one model's "
                          "scores: keep one, e.g. HistoryStore.articles(model_id=...)")
    seen = {}
    for v in views:
        named = v["article"] not in (None, "", "-")  # two texts with no id of their own are two articles
        key = (v["article"], v["source"]) if named else (v["article"], v["source"], v["content_sha256"])
        if key in seen:
            where = f" from {v['source']}" if v["source"] else ""
            versions = (" in two versions (another text under the same id); give its latest version only, as the "
                        "history database keeps it" if seen[key] != v["content_sha256"] else "")
            raise StanceError(f"article {v['article']}{where} is given more than once{versions or '; give each scored article once'}")
        seen[key] = v["content_sha256"]


def _report_date(value) -> tuple[Date | None, bool]:
    """A stored date as a ``date``, and whether it had to be dropped (not a date, or out of range)."""
    from stance.dates import in_range

    if value is None or value == "":
        return None, False
    try:
        day = Date.fromisoformat(value[:10]) if isinstance(value, str) else value
        if isinstance(day, datetime):
            day = day.date()
        if isinstance(day, Date) and in_range(day):
            return day, False
    except (TypeError, ValueError):
        pass
    return None, True


#: The fields of a period row; a target cannot share their names.
PERIOD_FIELDS = ("period", "start", "n_articles", "n_sentences")


def _require_nets(views: list[dict], targets) -> None:
    """Refuse a net no statistic can use (text, NaN, outside [-1, 1]), as a database written by an
    earlier stance or edited by hand may hold, before any is computed."""
    clash = [t for t in targets if t in PERIOD_FIELDS]
    if clash:
        raise StanceError(f"the target name {clash[0]!r} is also a field of each period; "
                          "score the articles again with targets of other names")
    for v in views:
        if not isinstance(v["summary"], dict) or not isinstance(v["n_sentences"], Integral) or isinstance(v["n_sentences"], bool):
            raise StanceError(f"article {v['article']}: its recorded summary or sentence count is not what stance "
                              "records (edited by hand?); score it again with `stance score ... --record --replace`")
        for t in targets:
            counts = v["summary"].get(t)
            if counts is None:
                raise StanceError(f"article {v['article']} was not scored for target {t}, which other articles were; "
                                  f"choose the targets every article has (targets={sorted(v['summary'])!r})")
            net = counts.get("net") if isinstance(counts, dict) else None
            labels = [counts.get(k) for k in ("favor", "against", "none")] if isinstance(counts, dict) else []
            if (labels and all(isinstance(c, Integral) and not isinstance(c, bool) for c in labels)
                    and sum(labels) != v["n_sentences"]):  # every scored sentence takes one label per target
                raise StanceError(f"article {v['article']}: its recorded {t} labels add up to {sum(labels)}, not its "
                                  f"{v['n_sentences']} sentences (edited by hand?); score it again with `stance score "
                                  "... --record --replace`")
            if not is_within(net, -1.0, 1.0):
                raise StanceError(f"article {v['article']}: its recorded net for {t} is {net!r}, not a number "
                                  "from -1 to 1; score it again with `stance score ... --record --replace`")


def _texts(members: list[dict], target: str) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """The nets of the distinct texts among ``members``, how many copies carry each, and where each is first.

    A syndicated story recorded under several sources is one text (one content SHA-256, one net): its
    copies are not independent evidence, and next to each other in date order their differences of 0
    would shrink the noise the change-point penalty reads. A record without a digest is its own text.
    """
    first: dict = {}
    nets, copies, where = [], [], []
    for i, a in enumerate(members):
        net, digest = float(a["summary"][target]["net"]), a.get("content_sha256")
        key = (digest, net) if isinstance(digest, str) and digest else i
        if key in first:
            copies[first[key]] += 1
            continue
        first[key] = len(nets)
        nets.append(net)
        copies.append(1.0)
        where.append(i)
    return np.array(nets, dtype=float), np.array(copies), where


def _series(articles: list[dict], targets, periods, seed, n_boot, n_perm, alpha, k) -> tuple[list[dict], dict]:
    by_period: dict[str, list[dict]] = {}
    for a in articles:
        by_period.setdefault(a["label"], []).append(a)
    rows = []
    for label, start in periods:
        members = by_period.get(label, [])
        row = {"period": label, "start": start.isoformat(), "n_articles": len(members),
               "n_sentences": int(sum(a["n_sentences"] for a in members))}
        for t in targets:
            nets = np.array([a["summary"][t]["net"] for a in members], dtype=float)
            if not len(nets):
                row[t] = {"net": None, "low": None, "high": None, "shift": False, "p_value": None, "change": None,
                          "favor_share": None, "against_share": None}
                if k:
                    row[t].update(evidence=period_evidence([], t, k), movers=[], explanation=None)
                continue
            texts, copies, _ = _texts(members, t)
            low, high = _bootstrap_interval(texts, _stream(seed, "interval", t, label), n_boot, copies)
            n_sent = row["n_sentences"]
            favor = sum(a["summary"][t].get("favor", 0) for a in members)
            against = sum(a["summary"][t].get("against", 0) for a in members)
            row[t] = {"net": float(nets.mean()), "low": low, "high": high, "shift": False, "p_value": None,
                      "change": None, "favor_share": favor / n_sent if n_sent else 0.0,
                      "against_share": against / n_sent if n_sent else 0.0, "_texts": (texts, copies)}
            if k:
                row[t].update(evidence=period_evidence(members, t, k), movers=movers(members, t, k), explanation=None)
        rows.append(row)
    points: dict[str, list[str]] = {}
    ordered = sorted(articles, key=lambda a: (a["date"], a["article"] or ""))
    for t in targets:
        filled = [r for r in rows if r[t]["net"] is not None]
        raw = []
        for prev, cur in zip(filled, filled[1:]):
            (before, w_before), (after, w_after) = prev[t]["_texts"], cur[t]["_texts"]
            rng = _stream(seed, "shift", t, prev["period"], cur["period"])
            raw.append(permutation_p_value(before, after, rng, n_perm, weights=(w_before, w_after)))
            cur[t]["change"] = cur[t]["net"] - prev[t]["net"]
        for cur, p in zip(filled[1:], holm(raw) if raw else []):
            cur[t]["p_value"] = p
            cur[t]["shift"] = bool(p < alpha)
        for r in filled:
            r[t].pop("_texts")
        values, _, where = _texts(ordered, t)  # each text once, at its first date
        labels = []
        for index in change_points(values):
            if ordered[where[index]]["label"] not in labels:
                labels.append(ordered[where[index]]["label"])
        points[t] = labels
        if k:
            _explain_moves(filled, by_period, t, labels, k)
    return rows, points


def _explain_moves(filled: list[dict], by_period: dict, target: str, points: list[str], k: int) -> None:
    """Attach what changed to each period of ``target`` marked as a shift or starting a change point."""
    for prev, cur in zip(filled, filled[1:]):
        why = [w for w, hit in (("shift", cur[target]["shift"]), ("change point", cur["period"] in points)) if hit]
        if why:
            cur[target]["explanation"] = explain_move(
                {"period": prev["period"], "net": prev[target]["net"], "members": by_period[prev["period"]]},
                {"period": cur["period"], "net": cur[target]["net"], "members": by_period[cur["period"]]},
                target, k, why,
            )


def _target_names(targets) -> list[str] | None:
    """``targets`` as a list of distinct names (None: the first article's); one name is one target, not its letters.

    A name given twice would be one column of the report written twice over, and a blank one names no target.
    """
    if targets is None:
        return None
    names = [targets] if isinstance(targets, str) else list(targets) \
        if isinstance(targets, Iterable) and not is_table(targets) else None
    if not names or not all(isinstance(t, str) and t for t in names):
        import reprlib

        raise ValueInputError(f"targets is {reprlib.repr(targets)}; give distinct target names, such as "
                              "('russia', 'eu'), or None for those of the first article")
    repeated = next((t for i, t in enumerate(names) if t in names[:i]), None)
    if repeated is not None:
        raise ValueInputError(f"targets names {repeated!r} more than once; give distinct target names, "
                              "such as ('russia', 'eu')")
    return names


def measure_drift(
    records: Iterable,
    by: str = "month",
    *,
    targets: Sequence[str] | None = None,
    by_source: bool = True,
    n_boot: int = 2000,
    n_perm: int = 5000,
    alpha: float = 0.05,
    seed: int = 0,
    model: dict | None = None,
    evidence: int = 3,
) -> DriftReport:
    """Build a :class:`DriftReport` from scored articles.

    Parameters
    ----------
    records : iterable of ArticleScores, or of article rows from
        :meth:`stance.store.HistoryStore.articles`
    by : {"week", "month", "quarter", "half", "year"}
    targets : the targets to report, each once; default those of the first article
    by_source : also report each source apart when articles name one
    n_boot, n_perm, alpha, seed : bootstrap resamples and permutations (each
        at most :data:`MAX_RESAMPLES`), test level and random seed (results
        are reproducible for a given seed)
    model : what identifies the model, a dict with at least its ``"id"``;
        default ``{"id": ...}`` of the model the records name
    evidence : how many sentences per side, and articles, to keep as the
        evidence of each period and target (see :mod:`stance.evidence`);
        0 leaves evidence out. Sentences come from each record's
        ``sentences`` (ArticleScores) or ``strongest`` (database rows read
        with ``HistoryStore.articles(strongest=True)``).
    """
    counts = {"evidence": (evidence, 0), "n_boot": (n_boot, 1), "n_perm": (n_perm, 1), "seed": (seed, 0)}
    for name, (value, least) in counts.items():
        check_count(value, name, least)
    for name, value, made, result in (("n_boot", n_boot, "bootstrap resamples", "intervals"),
                                      ("n_perm", n_perm, "permutations", "p-values")):
        if value > MAX_RESAMPLES:
            raise ValueInputError(f"{name} is {value:,}, more than the {MAX_RESAMPLES:,} {made} a drift makes; "
                                  f"give at most {MAX_RESAMPLES:,}: beyond it the {result} no longer change, "
                                  "only the time taken")
    if not isinstance(alpha, Real) or not 0 < alpha < 1:
        raise ValueInputError(f"alpha is {alpha!r}; give a test level between 0 and 1, such as 0.05")
    if model is not None and not isinstance(model, dict):  # its "id" names the model in every output
        raise TextsError(f"model is {type(model).__name__}; pass what identifies the model as a dict, such as "
                         "{'id': model_id}, or None for the id the records name")
    if not isinstance(records, Iterable) or isinstance(records, (str, bytes)) or is_table(records):
        raise TextsError(f"records is {type(records).__name__}; pass a list of scored articles "
                          "(score_article's results) or the rows of HistoryStore.articles()")
    targets = _target_names(targets)
    if by not in PERIODS:
        raise ValueInputError(f"unknown period {by!r}; use one of {', '.join(PERIODS)}")
    # A fixed order, so that the same articles give the same intervals whatever their source.
    views = sorted((_article_view(r, i) for i, r in enumerate(records)),
                   key=lambda v: (v["date"] is None, v["date"] or Date.min, str(v["article"]), str(v["source"] or "")))
    if not views:
        raise StanceError("no scored articles to report on; score some with `stance score ... --record` first")
    _require_one_score_per_article(views)
    if model is None:  # the records' own model, which each of them names
        model = next(({"id": v["model_id"]} for v in views if v["model_id"] is not None), None)
    empty = [str(v["article"]) for v in views if not v["n_sentences"]]
    if empty:  # its net is 0 by definition, not a measure: counted, it would pull its period toward 0
        views = [v for v in views if v["n_sentences"]]
        shown = ", ".join(empty[:5]) + (", ..." if len(empty) > 5 else "")
        if not views:
            raise StanceError(f"none of the {len(empty)} articles has a scored sentence (only page furniture, "
                              f"such as {shown}); score articles with text")
        warnings.warn(f"{len(empty)} article(s) have no scored sentence, only page furniture ({shown}); "
                      "left out of the nets", StanceWarning, stacklevel=2)
    dropped = [str(v["article"]) for v in views if v.pop("bad_date")]
    if dropped:
        from stance.dates import DATE_RANGE

        shown = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
        warnings.warn(f"{len(dropped)} article(s) have a stored date that is not a date from {DATE_RANGE} "
                      f"({shown}); counted as undated", StanceWarning, stacklevel=2)
    targets = list(targets or (next(iter(views))["summary"] if isinstance(next(iter(views))["summary"], dict) else []))
    known = {t for v in views if isinstance(v["summary"], dict) for t in v["summary"]}
    if not targets:
        raise StanceError("the records carry no summary of any target; pass scored articles (score_article's "
                          "results) or the rows of HistoryStore.articles()")
    unknown = [t for t in targets if t not in known]
    if unknown:
        raise StanceError(f"no article was scored for target(s) {', '.join(unknown)}; "
                          f"the articles have {', '.join(sorted(known)) or 'none'}")
    _require_nets(views, targets)
    undated = [v["article"] for v in views if v["date"] is None]
    dated = [v for v in views if v["date"] is not None]
    settings = {"n_boot": n_boot, "n_perm": n_perm, "alpha": alpha, "seed": seed, "evidence": evidence,
                "change_penalty": CHANGE_PENALTY, "change_min_size": CHANGE_MIN_SIZE}
    if not dated:
        return DriftReport(by, targets, [], {t: [] for t in targets}, undated, {}, model, settings)
    for v in dated:
        v["label"] = period_of(v["date"], by)[0]
    first, last = min(v["date"] for v in dated), max(v["date"] for v in dated)
    n_periods = period_count(first, last, by)
    if n_periods > MAX_PERIODS:
        longer = next((p for p in PERIODS[PERIODS.index(by) + 1:] if period_count(first, last, p) <= MAX_PERIODS), None)
        raise StanceError(f"the dated articles run from {first} to {last}: {n_periods:,} periods by {by}, more than "
                          f"the {MAX_PERIODS:,} a drift shows; "
                          + (f"use a longer period (--by {longer}), or " if longer else "")
                          + "narrow the dates with --since and --until")
    periods = period_range(first, last, by)
    rows, points = _series(dated, targets, periods, seed, n_boot, n_perm, alpha, evidence)
    sources = {}
    if by_source and any(v["source"] for v in dated):
        for name in sorted({v["source"] or UNKNOWN_SOURCE for v in dated}):
            members = [v for v in dated if (v["source"] or UNKNOWN_SOURCE) == name]
            src_rows, src_points = _series(members, targets, periods, seed, n_boot, n_perm, alpha, evidence)
            overall = {}
            for t in targets:
                nets = np.array([m["summary"][t]["net"] for m in members], dtype=float)
                texts, copies, _ = _texts(members, t)
                low, high = _bootstrap_interval(texts, _stream(seed, "overall", t), n_boot, copies)
                overall[t] = {"net": float(nets.mean()), "low": low, "high": high}
            sources[name] = {"n_articles": len(members), "overall": overall,
                             "periods": [r for r in src_rows if r["n_articles"]], "change_points": src_points}
    return DriftReport(by, targets, rows, points, undated, sources, model, settings)


def stance_over_time(scores: Sequence, by: str = "month"):
    """Net stance per period and target as a tidy ``pandas.DataFrame``.

    A shortcut for ``measure_drift(scores, by).to_frame()``: one row per (target,
    period) with ``n_articles``, ``n_sentences``, ``net``, its interval and
    the shift test. Undated articles are left out (``drift`` lists them).
    """
    return measure_drift(scores, by, by_source=False).to_frame()
