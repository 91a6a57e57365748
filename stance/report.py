"""Rendering an :class:`EvaluationReport` for people: Markdown and confusion-matrix PNGs."""

from __future__ import annotations

import io

from stance.schema import STANCES

SYSTEM_NAMES = {
    "model": "stance model",
    "tfidf": "TF-IDF 1-2-gram + LogisticRegression",
    "majority": "majority class",
}


def _ci(metrics: dict, key: str) -> str:
    value = f"{metrics[key]:.3f}"
    if f"{key}_ci" in metrics:
        low, high = metrics[f"{key}_ci"]
        value += f" [{low:.2f}, {high:.2f}]"
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
