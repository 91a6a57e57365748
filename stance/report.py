"""Rendering an :class:`EvaluationReport` for people: Markdown and confusion-matrix PNGs."""

from __future__ import annotations

import io
from pathlib import Path

from stance.schema import STANCES

SYSTEM_NAMES = {
    "model": "stance model",
    "tfidf": "TF-IDF 1-2-gram + LogisticRegression",
    "majority": "majority class",
}


def _ci(metrics: dict, key: str, signed: bool = False) -> str:
    number = "{:+.3f}" if signed else "{:.3f}"
    bound = "{:+.2f}" if signed else "{:.2f}"
    value = number.format(metrics[key])
    if f"{key}_ci" in metrics:
        low, high = metrics[f"{key}_ci"]
        value += f" [{bound.format(low)}, {bound.format(high)}]"
    return value


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def render_markdown(report) -> str:
    """The human report: headline table, per-class scores, confusion, errors, provenance."""
    prov = report.provenance
    out = [f"# Evaluation: {prov.get('run', 'stance model')}", ""]
    if prov.get("command"):
        out += [f"Made by `{prov['command']}` on {prov.get('date', '?')}.", ""]
    out += [
        "How to read this report: `experiments/README.md`. Macro-F1 averages F1 over favor, against and none; "
        "F1avg is the SemEval-2016 measure, the mean of F1 for favor and against. Brackets hold 95% bootstrap "
        "intervals over sentences.",
        "",
    ]
    for plan, result in report.evaluations.items():
        headline = " (headline)" if plan == "seed_loao" else ""
        out += [f"## {result['description']}{headline}", ""]
        out += [f"{result['n_sentences']} sentences from {result['n_articles']} articles.", ""]
        rows = []
        for target in report.targets:
            for system, name in SYSTEM_NAMES.items():
                m = result["targets"][target][system]
                rows.append([target, name, _ci(m, "macro_f1"), _ci(m, "f1_avg"), f"{m['accuracy']:.3f}"])
        out += _table(["target", "system", "macro-F1", "F1avg (favor, against)", "accuracy"], rows) + [""]
        gains = [(t, result["targets"][t]["gain_over_tfidf"]) for t in report.targets
                 if "gain_over_tfidf" in result["targets"][t]]
        if gains:
            out += ["Model minus TF-IDF on the same sentences (paired bootstrap; an interval holding 0 cannot tell "
                    "them apart): " + "; ".join(f"{t} macro-F1 {_ci(g, 'macro_f1', signed=True)}, F1avg {_ci(g, 'f1_avg', signed=True)}"
                                                for t, g in gains) + ".", ""]
        for target in report.targets:
            m = result["targets"][target]["model"]
            out += [f"### {target}: stance model per class", ""]
            out += _table(
                ["class", "precision", "recall", "F1", "support"],
                [
                    [s, f"{c['precision']:.3f}", f"{c['recall']:.3f}", f"{c['f1']:.3f}", str(c["support"])]
                    for s, c in m["per_class"].items()
                ],
            ) + [""]
            out += ["Confusion (rows: gold, columns: predicted):", ""]
            out += _table(
                ["gold \\ predicted", *STANCES],
                [[s, *map(str, row)] for s, row in zip(STANCES, m["confusion"])],
            ) + [""]
            per_article = result["targets"][target]["per_article"]
            if plan == "seed_loao":
                out += ["Macro-F1 per held-out article: " + ", ".join(f"{a} {v:.2f}" for a, v in per_article.items()), ""]
        out += [f"![confusion matrices](confusion_{plan}.png)", ""]
        params = [f"{f['fold']}: " + ", ".join(f"{t} C={p.get('C', '-')}" for t, p in f["params"].items()) for f in result["folds"]]
        if params and plan == "seed_loao":
            out += ["C chosen inside each fold by grouped cross-validation: " + "; ".join(params) + ".", ""]
    worst = report.worst_errors
    if worst:
        out += [f"## Most confident errors ({worst['plan']})", ""]
        for target in report.targets:
            out += [f"### {target}", ""]
            out += _table(
                ["article", "#", "gold", "predicted", "p", "sentence"],
                [
                    [e["article"], str(e["sentence"]), e["gold"], e["predicted"], f"{e['confidence']:.2f}", e["text"].replace("|", "\\|")]
                    for e in worst[target]
                ],
            ) + [""]
    out += ["## Provenance", ""]
    for key, value in prov.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = ", ".join(map(str, value))
        out.append(f"- {key}: {value}")
    return "\n".join(out) + "\n"


def confusion_png(result: dict, targets: list[str]) -> bytes:
    """Confusion matrices of the stance model, one panel per target, as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(4.2 * len(targets), 4), squeeze=False)
    for ax, target in zip(axes[0], targets):
        cm = result["targets"][target]["model"]["confusion"]
        ax.imshow(cm, cmap="Blues")
        peak = max(max(r) for r in cm) or 1
        for i, row in enumerate(cm):
            for j, v in enumerate(row):
                ax.text(j, i, str(v), ha="center", va="center", color="white" if v > peak / 2 else "black")
        ax.set_xticks(range(len(STANCES)), STANCES)
        ax.set_yticks(range(len(STANCES)), STANCES)
        ax.set_xlabel("predicted")
        ax.set_ylabel("gold")
        m = result["targets"][target]["model"]
        ax.set_title(f"{target}: macro-F1 {m['macro_f1']:.2f}")
    fig.suptitle(result["description"], fontsize=9)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


# --- the evaluation page -------------------------------------------------------

PLAN_NAMES = {"seed_loao": "seeds, leave one article out (headline)", "written_cv": "written corpus, grouped 5-fold"}

HOW_TO_READ = (
    "Every number comes from cross-validation grouped by article: no model saw a sentence of the article it was "
    "tested on. Macro-F1 averages F1 over favor, against and none; F1avg (SemEval-2016) averages favor and against "
    "only. Brackets hold 95% bootstrap intervals over sentences, which are if anything too narrow since sentences "
    "of one article are correlated. The sentences listed are the model's out-of-fold predictions: each confusion "
    "cell lists exactly the sentences it counts."
)


def _regular_file(path: Path, what: str, advice: str = "give a run folder written by `stance train`") -> None:
    """Refuse a missing path or one that is not a regular file (a FIFO would block the read)."""
    from stance.errors import InputError
    from stance.segment import require_regular_file

    if not path.exists():
        raise InputError(f"{path}: not found; {advice} ({what})")
    require_regular_file(path, f"{advice} ({what})")


def _read_json(path: Path, what: str):
    from stance.errors import InputError
    from stance.fileio import parse_json

    _regular_file(path, what)
    try:
        return parse_json(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: cannot be read as {what} ({type(err).__name__}); re-run `stance train`") from None


def _read_predictions(path: Path) -> list[dict]:
    from stance.errors import InputError
    from stance.fileio import parse_json

    _regular_file(path, "its out-of-fold predictions")
    rows = []
    with path.open(encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    rows.append(parse_json(line))
                except ValueError:
                    raise InputError(f"{path}:{number}: not a JSON line; re-run `stance train`") from None
    return rows


def markdown_table(path: str | Path) -> dict | None:
    """The table of a Markdown file (the one between ``<!-- quality-table -->`` markers, else the first one).

    Returns ``{"source", "header", "rows"}`` with ``**`` and backticks removed, or None without a table.
    """
    text = Path(path).read_text(encoding="utf-8", errors="replace")
    if "<!-- quality-table -->" in text:
        text = text.split("<!-- quality-table -->", 1)[1]
    block = []
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            block.append(line.strip())
        elif block:
            break
    if len(block) < 2:
        return None

    def cells(line: str) -> list[str]:
        parts = line.replace("\\|", "\0").strip("|").split("|")
        return [p.strip().replace("\0", "|").replace("**", "").replace("`", "") for p in parts]

    return {"source": Path(path).name, "header": cells(block[0]), "rows": [cells(r) for r in block[2:]]}


def evaluation_page(run_dir: str | Path, *, experiments: str | Path | None = None) -> str:
    """The evaluation report of a ``stance train`` run folder as one self-contained, explorable HTML page.

    It reads ``metrics.json`` and ``predictions.jsonl``; ``experiments`` adds a
    Markdown file's table (e.g. ``experiments/finetune/search.md``).
    """
    from stance.errors import InputError
    from stance.pages import render_page

    run_dir = Path(run_dir)
    metrics = _read_json(run_dir / "metrics.json", "an evaluation report")
    if not isinstance(metrics, dict) or not {"targets", "evaluations", "provenance"} <= set(metrics):
        raise InputError(f"{run_dir / 'metrics.json'}: not a stance evaluation report; give a run folder of `stance train`")
    table = None
    if experiments is not None:
        _regular_file(Path(experiments), "--experiments", "give a Markdown file with a table")
        try:
            table = markdown_table(experiments)
        except OSError as err:
            raise InputError(f"{experiments}: cannot be read ({err.strerror}); give a Markdown file with a table") from None
        if table is None:
            raise InputError(f"{experiments}: holds no Markdown table; give a file such as experiments/finetune/search.md")
    data = {**metrics, "predictions": _read_predictions(run_dir / "predictions.jsonl"), "experiments": table,
            "system_names": SYSTEM_NAMES, "plan_names": PLAN_NAMES, "how_to_read": HOW_TO_READ}
    prov = metrics["provenance"]
    lead = f"Made by {prov.get('command', 'stance train')} on {prov.get('date', '?')} with {prov.get('encoder', '?')}."
    return render_page(f"Evaluation: {prov.get('run', run_dir.name)}", data, "report.js", lead=lead)


def write_evaluation_page(run_dir: str | Path, path: str | Path | None = None, *, experiments=None) -> Path:
    """Write :func:`evaluation_page` atomically (default ``RUN_DIR/report.html``)."""
    from stance.fileio import atomic_write_text

    path = Path(path) if path is not None else Path(run_dir) / "report.html"
    atomic_write_text(path, evaluation_page(run_dir, experiments=experiments))
    return path
