"""Where the model errs: its out-of-fold errors counted by kind of sentence.

    .venv/bin/python experiments/error_analysis.py [experiments/minilm-finetuned]

Reads ``predictions.jsonl`` from a report folder written by ``stance train``
(every labeled sentence's out-of-fold prediction, seed leave-one-article-out and
written grouped CV) and writes ``errors.md`` beside it: per category and target,
how many sentences, how many errors, the error rate against the overall rate,
and a few examples. Categories are found by plain patterns in the text (listed
in the report), so they overlap and miss some cases; they say where to look,
not why each error happened.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stance.fileio import atomic_write_text  # noqa: E402

RUSSIA = r"\b(russia\w*|moscow|kremlin|putin|lavrov|zakharova|peskov|medvedev|gazprom\w*|sputnik)\b"
EU = r"\b(eu|european|europe|brussels|commission|von der leyen|borrell|kallas|union|accession|chapters?)\b"
SERBIA = r"\b(serbia\w*|serb\w*|belgrade|vu[cč]i[cć]|da[cč]i[cć]|brnabi[cć]|nikoli[cć]|tadi[cć]|vulin|selakovi[cć])\b"
CLAIM = r"\b(said|says|say|accus\w*|claim\w*|according to|alleg\w*|warn\w*|urg\w*|report\w*|criticis\w*|condemn\w*)\b"

CATEGORIES = {
    "negation": ("a negation or refusal word (not, no, never, n't, refuse, reject, deny)",
                 lambda t: re.search(r"\b(not|no|never|nor|neither|refus\w*|reject\w*|den(y|ies|ied))\b|n't", t)),
    "hedging": ("a hedge, condition or hypothetical (may, might, could, would, if, unless, whether, reportedly)",
                lambda t: re.search(r"\b(may|might|could|would|if|unless|whether|perhaps|reportedly|allegedly)\b", t)),
    "third-party claims": ("a claim verb (said, accused, warned, urged, according to) and a foreign actor named",
                           lambda t: re.search(CLAIM, t) and (re.search(RUSSIA, t) or re.search(EU, t))),
    "meetings": ("a meeting, visit, call or talks",
                 lambda t: re.search(r"\b(met|meet\w*|talks|visit\w*|call(ed)?|phone\w*|summit|hosted|received)\b", t)),
    "both targets": ("Russia and the EU both named", lambda t: re.search(RUSSIA, t) and re.search(EU, t)),
    "target named, Serbia not": ("a target named but no Serbian actor",
                                 lambda t: (re.search(RUSSIA, t) or re.search(EU, t)) and not re.search(SERBIA, t)),
    "context needed": ("opens with a pronoun or 'the move/decision/deal', or names no target at all",
                       lambda t: re.match(r"(he|she|it|they|this|that|these|those|the (move|decision|deal|step))\b", t)
                       or not (re.search(RUSSIA, t) or re.search(EU, t))),
}


def analyse(rows: list[dict], targets: list[str]) -> dict:
    out = {"n": len(rows), "overall": {}, "categories": {}}
    for target in targets:
        labeled = [r for r in rows if r[target]["gold"] is not None]
        wrong = [r for r in labeled if r[target]["gold"] != r[target]["predicted"]]
        out["overall"][target] = {"n": len(labeled), "errors": len(wrong)}
    for name, (description, matches) in CATEGORIES.items():
        inside = [r for r in rows if matches(r["text"].lower())]
        entry = {"description": description, "n": len(inside), "targets": {}}
        for target in targets:
            labeled = [r for r in inside if r[target]["gold"] is not None]
            wrong = [r for r in labeled if r[target]["gold"] != r[target]["predicted"]]
            wrong.sort(key=lambda r: -max(r[target]["proba"].values()))
            entry["targets"][target] = {
                "n": len(labeled), "errors": len(wrong),
                "examples": [{"text": r["text"], "gold": r[target]["gold"], "predicted": r[target]["predicted"],
                              "article": r["article"], "sentence": r["sentence"]} for r in wrong[:3]],
            }
        out["categories"][name] = entry
    return out


def render(result: dict, targets: list[str], folder: Path) -> str:
    def rate(d):
        return f"{d['errors']}/{d['n']} ({d['errors'] / d['n']:.0%})" if d["n"] else "0/0"

    lines = [f"# Errors of `{folder.name}` by kind of sentence", "",
             f"Made by `.venv/bin/python experiments/error_analysis.py {folder.relative_to(REPO)}` from its "
             "`predictions.jsonl` (out-of-fold predictions of `stance train`'s evaluation: seed "
             "leave-one-article-out and written grouped 5-fold). Categories overlap and are found by patterns, "
             "so read them as where errors gather, not as causes.", "",
             "| category | sentences | " + " | ".join(f"{t} errors" for t in targets) + " |",
             "|---|---|" + "---|" * len(targets),
             "| all sentences | " + str(result["n"]) + " | "
             + " | ".join(rate(result["overall"][t]) for t in targets) + " |"]
    for name, entry in result["categories"].items():
        lines.append(f"| {name}: {entry['description']} | {entry['n']} | "
                     + " | ".join(rate(entry["targets"][t]) for t in targets) + " |")
    lines += ["", "## Examples (the most confident errors per category)", ""]
    for name, entry in result["categories"].items():
        lines.append(f"**{name}**")
        lines.append("")
        for t in targets:
            for ex in entry["targets"][t]["examples"]:
                lines.append(f"- {t}: gold `{ex['gold']}`, predicted `{ex['predicted']}` "
                             f"({ex['article']}:{ex['sentence']}): {ex['text']}")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else REPO / "experiments" / "minilm-finetuned"
    folder = folder if folder.is_absolute() else (Path.cwd() / folder).resolve()
    source = folder / "predictions.jsonl"
    if not source.is_file():
        sys.exit(f"{source}: missing; run `stance train --report-dir {folder}` first")
    rows = [json.loads(line) for line in source.read_text("utf-8").splitlines() if line.strip()]
    targets = [k for k in rows[0] if isinstance(rows[0][k], dict) and "gold" in rows[0][k]]
    result = analyse(rows, targets)
    atomic_write_text(folder / "errors.json", json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(folder / "errors.md", render(result, targets, folder) + "\n")
    print(f"wrote {folder / 'errors.md'}")


if __name__ == "__main__":
    main()
