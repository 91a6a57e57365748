"""Drawing a :class:`~stance.drift.DriftReport`: a PNG chart and a one-file HTML report."""

from __future__ import annotations

import io
from datetime import date as Date
from datetime import timedelta
from pathlib import Path

from stance.fileio import atomic_write_bytes, atomic_write_text

__all__ = ["METHOD", "drift_png", "write_html", "write_png"]

COLORS = {"russia": "#c0392b", "eu": "#1f5fa8"}
NAMES = {"russia": "Russia", "eu": "EU"}
_FALLBACK = ["#2a9d55", "#8e44ad", "#d68910", "#566573"]

METHOD = (
    "Each article's net stance is the mean over its sentences of P(favor) − P(against); a period's net is the mean "
    "over its articles, with a 95% bootstrap interval over articles. A period is marked as a shift when a permutation "
    "test on article nets separates it from the previous period with articles (Holm-adjusted p < {alpha}), and change "
    "points over the whole series come from PELT (ruptures, L2 cost) on the article nets in date order."
)


def _color(target: str, i: int) -> str:
    return COLORS.get(target, _FALLBACK[i % len(_FALLBACK)])


def _middle(start: str, end: str | None, by: str) -> Date:
    first = Date.fromisoformat(start)
    if end is None:
        span = {"week": 7, "month": 30, "quarter": 91, "half": 182, "year": 365}[by]
        return first + timedelta(days=span // 2)
    return first + (Date.fromisoformat(end) - first) / 2


def drift_png(report, *, title: str | None = None) -> bytes:
    """The drift chart as PNG bytes: net per target with interval bands, shifts and change points."""
    _require_report(report)
    import matplotlib

    from stance.paths import CHART_SOFTWARE

    matplotlib.use("Agg", force=False)
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    periods = report.periods
    starts = [p["start"] for p in periods]
    x = [_middle(s, e, report.by) for s, e in zip(starts, starts[1:] + [None])]
    fig, (ax, ax_n) = plt.subplots(
        2, 1, figsize=(10, 6.2), sharex=True, gridspec_kw={"height_ratios": [4, 1], "hspace": 0.08}
    )
    ax.axhline(0, color="#888888", lw=0.8)
    for i, t in enumerate(report.targets):
        color = _color(t, i)
        net = [p[t]["net"] if p[t]["net"] is not None else float("nan") for p in periods]
        low = [p[t]["low"] if p[t]["low"] is not None else float("nan") for p in periods]
        high = [p[t]["high"] if p[t]["high"] is not None else float("nan") for p in periods]
        name = NAMES.get(t, t)
        ax.fill_between(x, low, high, color=color, alpha=0.15, lw=0, label=f"{name}: 95% interval")
        ax.plot(x, net, color=color, lw=1.8, marker="o", ms=4, label=f"{name}: net stance")
        shifts = [(xi, p[t]["net"]) for xi, p in zip(x, periods) if p[t]["shift"]]
        if shifts:
            ax.scatter(*zip(*shifts), s=150, facecolors="none", edgecolors=color, linewidths=2, zorder=5,
                       label=f"{name}: shift from previous period")
        for label in report.change_points.get(t, []):
            start = next(p["start"] for p in periods if p["period"] == label)
            ax.axvline(Date.fromisoformat(start), color=color, ls="--", lw=1.2, alpha=0.8)
            ax.annotate(f"change point: {name}", (Date.fromisoformat(start), 0.97), xycoords=("data", "axes fraction"),
                        rotation=90, va="top", ha="right", fontsize=8, color=color)
    values = [abs(p[t][k]) for p in periods for t in report.targets for k in ("low", "high") if p[t][k] is not None]
    reach = min(1.0, max(0.25, 1.15 * max(values, default=0.25)))
    ax.set_ylim(-reach, reach)
    ax.set_ylabel("net stance\nP(favor) − P(against)")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncol=len(report.targets), frameon=False)
    model = (report.model or {}).get("id")
    names = [NAMES.get(t, t) for t in report.targets]
    heading = title or f"Portrayed stance of Serbia toward {' and '.join(names)}, by {report.by}".replace("and EU", "and the EU")
    ax.set_title(heading + (f"\nmodel {model}, {report.n_articles} articles, {len(report.undated)} undated" if model else ""),
                 fontsize=11)
    width = {"week": 5, "month": 20, "quarter": 60, "half": 120, "year": 250}[report.by]
    ax_n.bar(x, [p["n_articles"] for p in periods], width=width, color="#7f8c8d")
    ax_n.set_ylabel("articles")
    ax_n.set_xlabel("publication date")
    locator = mdates.AutoDateLocator()
    ax_n.xaxis.set_major_locator(locator)
    ax_n.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=130, bbox_inches="tight", metadata={"Software": CHART_SOFTWARE})
    plt.close(fig)
    return buffer.getvalue()


def _require_report(report) -> None:
    """Refuse what is not a DriftReport as measure_drift makes them (a dict, one edited by hand)."""
    from stance.drift import PERIODS, DriftReport
    from stance.errors import InputError

    if not isinstance(report, DriftReport):
        raise InputError(f"report is {type(report).__name__}, not a DriftReport; pass what stance.measure_drift returns")
    if report.by not in PERIODS or not isinstance(report.periods, list) or not all(isinstance(p, dict) for p in report.periods):
        raise InputError(f"report by {report.by!r} with {type(report.periods).__name__} periods is not one measure_drift "
                         "made; measure it again with stance.measure_drift(..., by=one of " + ", ".join(PERIODS) + ")")


def _checked(report, path, what: str, ours) -> Path:
    """The output path, after refusing what is not a DriftReport and a file this would replace but did not write."""
    from stance.paths import check_writable, given_path

    _require_report(report)
    # a notes file, a database or a photo in the way is never replaced
    return check_writable(given_path(path, what, "give a file path"), what, ours=ours)


def write_png(report, path: str | Path) -> Path:
    """Write :func:`drift_png` to ``path`` atomically; only a PNG already there is replaced."""
    from stance.paths import is_chart

    path = _checked(report, path, "the chart", is_chart)
    atomic_write_bytes(path, drift_png(report))
    return path


def html_report(report) -> str:
    """The drift explorer: one self-contained page with the chart, the periods and their evidence.

    It embeds the report (as ``--json`` gives it, plus each evidence
    sentence's label) and draws it in the browser: choose a target, a source
    and a period to read the sentences and articles behind the number.
    """
    from stance.pages import render_page

    _require_report(report)
    data = {**report.to_dict(labels=True), "targets": list(report.targets),
            "names": {t: NAMES.get(t, t) for t in report.targets},
            "colors": {t: _color(t, i) for i, t in enumerate(report.targets)},
            "method": METHOD.format(alpha=report.settings.get("alpha", 0.05))}
    model = (report.model or {}).get("id") or "-"
    lead = f"Model {model}; {report.n_articles} dated articles, {len(report.undated)} undated."
    return render_page(f"Stance drift by {report.by}", data, "drift.js", lead=lead)


def write_html(report, path: str | Path) -> Path:
    """Write :func:`html_report` to ``path`` atomically; only a page stance wrote is replaced."""
    from stance.pages import PAGE_START
    from stance.paths import starts_with

    path = _checked(report, path, "the drift page", starts_with(PAGE_START))
    atomic_write_text(path, html_report(report))
    return path
