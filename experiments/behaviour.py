"""The plain-sentence checks of `stance check` (:mod:`stance.checks`), for several models side by side.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/behaviour.py [--out FOLDER] MODEL [MODEL ...]

A MODEL is a model folder (``stance train --out DIR``), or ``NAME=SETTINGS-JSON``: a setting
of ``experiments/finetune_search.py`` (``default='{"kind": "frozen"}'``, ``actor-swap='{"kind":
"frozen", "variant": "actor-swap"}'``) fitted here on every labeled sentence, as ``stance
train`` fits its final model (for the default, the same labels as the model folder
``stance train`` saves). The sentences and their labels were written before any model read
them, and no setting is chosen by them. Writes ``experiments/behaviour/behaviour.md`` (or
into ``--out``: a table of the models and every failing sentence) and ``behaviour.jsonl`` (every sentence, its
expected labels and each model's).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from stance.checks import ACTIONS, KINDS, TARGETS, check_sentences, run_checks, shown_share  # noqa: E402
from stance.fileio import atomic_write_text  # noqa: E402


def saved_model(path: str):
    """A model folder's name, description and check report."""
    from stance.model import StanceClassifier

    meta = json.loads((Path(path) / "stance.json").read_text("utf-8"))
    encoder = meta.get("encoder", {})
    labels = meta.get("training", {}).get("labels_sha256", "?")[:12]
    described = f"model folder, {encoder.get('id', '?')} ({encoder.get('kind', '?')}), labels {labels}"
    return Path(path).name, described, run_checks(StanceClassifier.load(path))


def search_setting(name: str, settings: dict):
    """A setting of the search fitted on every labeled sentence: its name, description and check report."""
    from actor_variants import applied
    from finetune_search import DEFAULT_KIND, _described, corpus_labels, training_data, unfitted_model, unscoring_contrast
    from stance.evaluation import scored_sentences
    from stance.model import on_all_cores

    extra, contrast_unscored, model_settings = training_data(settings)
    model, variant = unfitted_model(model_settings)
    labels = corpus_labels(extra)
    model = unscoring_contrast(model, labels if contrast_unscored else None)
    _, _, items, groups, _, y = scored_sentences(labels, list(TARGETS))
    with applied(variant), on_all_cores():
        report = run_checks(model.fit(items, y, groups=groups))
    rest = {k: v for k, v in settings.items() if k != "kind"}
    return name, f"search setting `{settings.get('kind', DEFAULT_KIND)}: {_described(rest)}` fitted on all labels", report


def render(rows: list[dict], models: list[tuple[str, str]], summaries: list[dict], argv: list[str]) -> str:
    share = shown_share
    command = " ".join(["experiments/behaviour.py", *(shlex.quote(a) for a in argv)])
    lines = ["# Plain-sentence checks: who does what", "",
             f"Made by `HF_HUB_OFFLINE=1 .venv/bin/python {command}`. "
             f"{len(rows)} template sentences of `stance check`, {len(ACTIONS)} actions said in five ways (see "
             "`stance/checks.py` for the templates and why each kind has its labels). They are plainer than any reporting; "
             "a share right here is not an accuracy on news, but a kind that fails here fails in news too.", "",
             "Models: " + "; ".join(f"`{name}`: {what}" for name, what in models) + ".", ""]
    lines += ["Sentences right on both targets, by kind (the expected labels: " +
              "; ".join(f"*{kind}*, {what}" for kind, what in KINDS.items()) +
              "), and the actions whose six Serbian names all get the same labels:", "",
              "| model | " + " | ".join(KINDS) + " | names agree |",
              "|---|" + "---|" * (len(KINDS) + 1)]
    for (name, _), summary in zip(models, summaries):
        cells = [share(summary[kind]["both"], summary[kind]["n"]) for kind in KINDS]
        agree = summary["names agree"]
        lines.append(f"| `{name}` | " + " | ".join(cells) + f" | {share(agree['same'], agree['n'])} |")
    lines += ["", "Per target (russia / eu right):", "",
              "| model | " + " | ".join(KINDS) + " |", "|---|" + "---|" * len(KINDS)]
    for (name, _), summary in zip(models, summaries):
        lines.append(f"| `{name}` | " + " | ".join(f"{summary[k]['russia']} / {summary[k]['eu']} of {summary[k]['n']}"
                                                  for k in KINDS) + " |")
    lines.append("")
    lines += ["## Every failing sentence", "",
              "Expected labels, then each model's, as russia/eu.", ""]
    for kind in KINDS:
        failing = [r for r in rows if r["kind"] == kind
                   and any(r[m][t] != r["expected"][t] for m, _ in models for t in TARGETS)]
        lines += [f"**{kind}** ({len(failing)} sentences)", ""]
        for r in failing:
            got = "; ".join(f"{r[m]['russia']}/{r[m]['eu']}" for m, _ in models)
            lines.append(f"- {r['text']} expected {r['expected']['russia']}/{r['expected']['eu']}, got {got}")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    given = list(argv)  # the command as typed, --out included, for the page to name
    out = REPO / "experiments" / "behaviour"
    if argv[:1] == ["--out"] and len(argv) > 1:
        out, argv = Path(argv[1]), argv[2:]
    if not argv:
        sys.exit("give one or more model folders (made by `stance train --out DIR`) or NAME='SETTINGS-JSON'")
    for arg in argv:
        if "=" not in arg and not (Path(arg) / "stance.json").is_file():
            sys.exit(f"{arg}: not a model folder (no stance.json); run `stance train --out {arg}` first")
    rows = check_sentences()
    models, summaries = [], []
    for arg in argv:
        if "=" in arg:
            name, settings = arg.split("=", 1)
            name, what, report = search_setting(name, json.loads(settings))
        else:
            name, what, report = saved_model(arg)
        for row, checked in zip(rows, report.sentences):
            row[name] = checked["predicted"]
        models.append((name, what))
        summaries.append(report.summary())
    out.mkdir(parents=True, exist_ok=True)
    keyed = [{**{k: r[k] for k in ("kind", "action", "text", "expected")},
              "predicted": {name: r[name] for name, _ in models}} for r in rows]
    atomic_write_text(out / "behaviour.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in keyed))
    atomic_write_text(out / "behaviour.md", render(rows, models, summaries, given) + "\n")
    for (name, _), summary in zip(models, summaries):
        print(name, {k: (v["both"], v["n"]) for k, v in summary.items() if "both" in v})
    print(f"wrote {out / 'behaviour.md'}")


if __name__ == "__main__":
    main()
