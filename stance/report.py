"""Rendering an :class:`EvaluationReport` for people: Markdown and confusion-matrix PNGs."""

from __future__ import annotations

import io
from pathlib import Path

from stance.schema import MAX_LABEL_LINE, STANCES, is_count, is_within
from stance.segment import printable_name

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


def _code_span(text: str) -> str:
    """``text`` as one Markdown code span: control characters (an ESC, a line break from a path) shown escaped,
    so that the file neither drives a terminal that prints it nor breaks its line."""
    shown = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
    fence = "``" if "`" in shown else "`"
    return f"{fence} {shown} {fence}" if fence == "``" else f"`{shown}`"


def render_markdown(report) -> str:
    """The human report: headline table, per-class scores, confusion, errors, provenance."""
    prov = report.provenance
    out = [f"# Evaluation: {prov.get('run', 'stance model')}", ""]
    if prov.get("command"):
        out += [f"Made by {_code_span(prov['command'])} on {prov.get('date', '?')}.", ""]
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


#: The largest file the page reads whole: the --experiments table (the search table is some 20 KB) or
#: metrics.json (some 50 KB for 90 articles; it grows with the articles, so far more than a line's limit).
MAX_WHOLE_FILE_BYTES = 16 * 2**20


def require_file(path: Path, what: str, advice: str = "give a run folder written by `stance train`") -> None:
    """Refuse a missing path or one that is not a regular file (a FIFO would block the read)."""
    from stance.errors import InputError
    from stance.segment import require_regular_file

    if not path.exists():
        from stance.paths import is_link_loop

        raise InputError(f"{path}: {'a loop of symbolic links' if is_link_loop(path) else 'not found'}; {advice} ({what})")
    require_regular_file(path, f"{advice} ({what})")


def require_run_folder(run_dir: Path) -> None:
    """Refuse a run that is a file (metrics.json itself, a label file) before the page's path is derived from it."""
    from stance.errors import InputError
    from stance.paths import broken_link

    problem = broken_link(run_dir)  # a loop of links, or one to nothing: the run's fault, not the page's path
    if problem is not None:
        raise InputError(f"{run_dir}: {problem}; give the folder `stance train --report-dir` wrote")
    if run_dir.exists() and not run_dir.is_dir():
        folder = f"the folder that holds it, {run_dir.parent}" if run_dir.name in ("metrics.json", "predictions.jsonl") \
            else "the folder `stance train --report-dir` wrote (it holds metrics.json)"
        raise InputError(f"{run_dir}: a file, not a run folder; give {folder}")


def _read_json(path: Path, what: str):
    """A run folder's JSON file, read bounded: metrics.json is some 50 KB, and a huge file is refused before it is read."""
    from stance.errors import InputError
    from stance.fileio import holds_lone_surrogate, parse_json, read_at_most

    require_file(path, what)
    try:
        data = read_at_most(path, MAX_WHOLE_FILE_BYTES)
    except OSError as err:
        raise InputError(f"{path}: cannot be read as {what} ({type(err).__name__}); re-run `stance train`") from None
    if data is None:
        raise InputError(f"{path}: over {MAX_WHOLE_FILE_BYTES // 2**20} MB, too large for {what} (`stance train` "
                         "writes some 50 KB); give a run folder written by `stance train`")
    try:
        text = data.decode("utf-8")
        value = parse_json(text)
    except (UnicodeDecodeError, ValueError) as err:
        raise InputError(f"{path}: cannot be read as {what} ({type(err).__name__}); re-run `stance train`") from None
    if holds_lone_surrogate(value, text):
        raise InputError(f"{path}: holds a lone surrogate escape (\\ud800-\\udfff), not text; re-run `stance train`")
    return value


def _is_score(value) -> bool:
    """A metric as the page shows it: a number, or None (undefined on its sentences)."""
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _is_confusion(value) -> bool:
    """A confusion matrix as training writes it: a row of counts per gold class, a count per predicted class."""
    return isinstance(value, list) and len(value) == len(STANCES) and all(
        isinstance(row, list) and len(row) == len(STANCES) and all(map(is_count, row)) for row in value)


def _interval_problem(scores: dict, lowest: float) -> str | None:
    """What makes an interval of ``scores`` (``macro_f1_ci`` beside ``macro_f1``) none, or None: not a low and a
    high bound within the scores' range (from ``lowest`` to 1)."""
    for key, interval in scores.items():
        if key.endswith("_ci") and not (isinstance(interval, list) and len(interval) == 2
                                        and all(is_within(v, lowest, 1.0) for v in interval)
                                        and interval[0] <= interval[1]):
            return f"{key} is {interval!r}, not a low and a high bound from {lowest:g} to 1"
    return None


def _missed_point(scores: dict) -> str | None:
    """The interval of ``scores`` that does not hold its point, said in a phrase, or None.

    A bootstrap interval cannot be recomputed without the bootstrap; one that misses its score is none of it.
    """
    for key, (low, high) in ((k, v) for k, v in scores.items() if k.endswith("_ci")):
        point = scores.get(key[:-3])
        if not (_is_score(point) and point is not None and low - 1e-9 <= point <= high + 1e-9):
            return f"{key} is {[low, high]!r}, which does not hold its {key[:-3]} {point!r}"
    return None


def _require_intervals_hold_their_points(metrics: dict, path: Path) -> None:
    """Refuse an interval beside a score (checked by then against the predictions) that does not hold it."""
    from stance.errors import InputError

    for plan, result in metrics["evaluations"].items():
        for target in metrics["targets"]:
            entry = result["targets"][target]
            named = [(SYSTEM_NAMES[system] + "'s", entry[system]) for system in SYSTEM_NAMES]
            for name, scores in named + [("gain over TF-IDF's", entry.get("gain_over_tfidf", {}))]:
                problem = _missed_point(scores)
                if problem is not None:
                    raise InputError(f"{path}: evaluation {plan!r}, target {target!r}: the {name} {problem}; re-run "
                                     "`stance train` to write it again")


def _check_metrics(metrics: dict, path: Path) -> None:
    """Refuse, in one line, a ``metrics.json`` whose shape the page cannot draw (edited, or another program's).

    Every system's scores are checked alike, whether the page shows them or only compares them with its
    predictions: a baseline's per-class scores or confusion are read as the model's are.
    """
    from stance.errors import InputError

    def refuse(what: str):
        raise InputError(f"{path}: {what}; re-run `stance train` to write it again")

    targets = metrics["targets"]
    if (not isinstance(targets, list) or not targets or not all(isinstance(t, str) and t for t in targets)
            or len(set(targets)) < len(targets)):
        refuse("its targets are not a list of distinct names")
    if not isinstance(metrics["provenance"], dict):
        refuse("its provenance is not an object")
    evaluations = metrics["evaluations"]
    if not isinstance(evaluations, dict) or not evaluations:
        refuse("it holds no evaluation")
    for plan, result in evaluations.items():
        if (not isinstance(result, dict) or not isinstance(result.get("description"), str)
                or not all(is_count(result.get(k)) for k in ("n_sentences", "n_articles"))
                or not isinstance(result.get("targets"), dict)):
            refuse(f"evaluation {plan!r} lacks its description, counts or targets")
        for target in targets:
            entry = result["targets"].get(target)
            where = f"evaluation {plan!r}, target {target!r}"
            if not isinstance(entry, dict):
                refuse(f"{where}: no scores")
            for system, name in SYSTEM_NAMES.items():
                m = entry.get(system)
                if not isinstance(m, dict) or not all(_is_score(m.get(k)) for k in ("macro_f1", "f1_avg", "accuracy")):
                    refuse(f"{where}: no scores of the {name}")
                if (system == "model" or "confusion" in m) and not _is_confusion(m.get("confusion")):
                    refuse(f"{where}: the {name}'s confusion matrix is not {len(STANCES)} x {len(STANCES)} counts")
                per_class = m.get("per_class")
                if (system == "model" or "per_class" in m) and not (
                        isinstance(per_class, dict) and set(per_class) == set(STANCES)
                        and all(isinstance(c, dict) for c in per_class.values())):
                    refuse(f"{where}: no per-class scores of the {name} (an object for each of {', '.join(STANCES)})")
                problem = _interval_problem(m, 0.0)
                if problem is not None:
                    refuse(f"{where}: the {name}'s {problem}")
            gain = entry.get("gain_over_tfidf", {})
            if not isinstance(gain, dict) or "gain_over_tfidf" in entry and not all(
                    _is_score(gain.get(k)) and gain.get(k) is not None for k in ("macro_f1", "f1_avg")):
                refuse(f"{where}: gain_over_tfidf is not an object with a macro_f1 and an f1_avg")
            problem = _interval_problem(gain, -1.0)
            if problem is not None:
                refuse(f"{where}: the gain over TF-IDF's {problem}")
            per_article = entry.get("per_article", {})
            if not isinstance(per_article, dict) or not all(
                    _is_score(v) and v is not None for v in per_article.values()):
                refuse(f"{where}: per_article is not an object of a macro-F1 per article")


def _prediction_problem(row, plans, targets) -> str | None:
    """What makes a ``predictions.jsonl`` row unlike those `stance train` writes, or None."""
    if not isinstance(row, dict):
        return f"a {type(row).__name__}, not an object"
    if not isinstance(row.get("plan"), str) or row["plan"] not in plans:
        return f"plan {row.get('plan')!r} is none of this run's evaluations"
    if not isinstance(row.get("article"), str) or not is_count(row.get("sentence")) or not isinstance(row.get("text"), str):
        return "no article, sentence number or text"
    for target in targets:
        given = row.get(target)
        if given is None:
            continue
        proba = given.get("proba") if isinstance(given, dict) else None
        if (not isinstance(given, dict) or given.get("gold") not in (*STANCES, None)
                or given.get("predicted") not in STANCES or not isinstance(proba, dict)
                or set(proba) != set(STANCES) or not all(_is_score(v) and v is not None for v in proba.values())):
            return f"{target}: not a gold label, a predicted one and a probability per class"
        baselines = given.get("baselines", {})
        if not isinstance(baselines, dict) or not all(isinstance(v, str) and v in STANCES for v in baselines.values()):
            return f"{target}: its baselines are not a label per baseline system"
        wrong = next((s for s in STANCES if not is_within(proba[s], 0.0, 1.0)), None)
        if wrong is not None:  # the page would show it, or null for a NaN, as the model's confidence
            return f"{target}: P({wrong}) is {proba[wrong]!r}, not a probability from 0 to 1"
    return None


def _require_same_counts(metrics: dict, predictions: list[dict], run_dir: Path) -> None:
    """Refuse predictions that are not the sentences behind the metrics: the page lists them under its counts.

    Per evaluation, each sentence once and as many as the metrics count, from as many articles; per
    target, the confusion matrix they add up to is the one the metrics hold, and every score the page
    shows (each system's, the gain over TF-IDF, the macro-F1 per article) is the one they give.
    """
    from stance.errors import InputError
    from stance.evaluation import classification_metrics

    def refuse(plan, why):
        raise InputError(f"{run_dir}: predictions.jsonl and metrics.json disagree ({plan}: {why}); they are not of "
                         "one run: re-run `stance train`")

    for plan, result in metrics["evaluations"].items():
        rows = [row for row in predictions if row["plan"] == plan]
        keys = {(row["article"], row["sentence"]) for row in rows}
        if len(keys) < len(rows):
            refuse(plan, "a sentence is predicted twice")
        if len(rows) != result.get("n_sentences"):
            refuse(plan, f"{len(rows)} predictions for {result.get('n_sentences')} sentences")
        n_articles = len({row["article"] for row in rows})
        if n_articles != result.get("n_articles"):
            refuse(plan, f"its predictions are of {n_articles} articles, its metrics count {result.get('n_articles')}")
        for target in metrics["targets"]:
            labelled_rows = [row for row in rows if row.get(target) is not None and row[target]["gold"] is not None]
            labelled = [row[target] for row in labelled_rows]
            gold = [g["gold"] for g in labelled]
            entry = (result.get("targets") or {}).get(target) or {}
            counted = classification_metrics(gold, [g["predicted"] for g in labelled], n_bootstrap=0)
            stated = (entry.get("model") or {}).get("confusion")
            if stated != counted["confusion"]:
                refuse(plan, f"the {target} confusion matrix is {stated}, its predictions add up to {counted['confusion']}")
            scores = {}  # per system, its scores as its predictions give them (a baseline without labels: as stated)
            for system in SYSTEM_NAMES:  # every number the page shows is the one its sentences give
                labels = [g["predicted"] if system == "model" else (g.get("baselines") or {}).get(system)
                          for g in labelled]
                if None in labels:  # predictions that keep no labels of this baseline (all or none do: _read_predictions)
                    scores[system] = entry.get(system) or {}
                    continue
                scores[system] = classification_metrics(gold, labels, n_bootstrap=0)
                problem = _score_problem(entry.get(system) or {}, scores[system])
                if problem is not None:
                    refuse(plan, f"the {SYSTEM_NAMES[system]}'s {target} {problem}")
            if "gain_over_tfidf" in entry:
                for key in ("macro_f1", "f1_avg"):
                    model, tfidf = scores["model"].get(key), scores["tfidf"].get(key)
                    real = model - tfidf if _is_score(tfidf) and tfidf is not None else None
                    if not _same_score(entry["gain_over_tfidf"][key], real):
                        refuse(plan, f"the {target} gain over TF-IDF in {key} is {entry['gain_over_tfidf'][key]!r}, "
                                     f"model minus TF-IDF gives {real!r}")
            if "per_article" in entry:
                problem = _per_article_problem(entry["per_article"], labelled_rows, target)
                if problem is not None:
                    refuse(plan, f"the {target} macro-F1 per article: {problem}")


def _per_article_problem(stated: dict, labelled_rows: list[dict], target: str) -> str | None:
    """How a metrics entry's macro-F1 per article differs from the one its predictions give, or None.

    As training scores it: the model's macro-F1 over each article's sentences labelled for ``target``.
    """
    from stance.evaluation import classification_metrics

    by_article: dict[str, tuple[list, list]] = {}
    for row in labelled_rows:
        gold, predicted = by_article.setdefault(row["article"], ([], []))
        gold.append(row[target]["gold"])
        predicted.append(row[target]["predicted"])
    missing = sorted(set(by_article) - set(stated))
    if missing:
        return (f"article {missing[0]!r} is missing, though its predictions label {len(by_article[missing[0]][0])} "
                "of its sentences")
    for article, given in stated.items():
        if article not in by_article:
            return f"article {article!r} is {given!r}, with no labelled sentence of it in its predictions"
        real = classification_metrics(*by_article[article], n_bootstrap=0)["macro_f1"]
        if not _same_score(given, real):
            return f"article {article!r} is {given!r}, its predictions give {real!r}"
    return None


def _same_score(given, real) -> bool:
    """Whether a stated score is the one recomputed, give or take float rounding; None (undefined) only matches None."""
    return given is None and real is None or (_is_score(given) and given is not None and real is not None
                                              and abs(given - real) <= 1e-9)


def _score_problem(stated: dict, counted: dict) -> str | None:
    """The first score a metrics entry states otherwise than its predictions give, said in a phrase; None if all agree."""
    pairs = [(key, stated.get(key), counted.get(key)) for key in ("n", "accuracy", "macro_f1", "f1_avg")]
    for label, scores in (stated.get("per_class") or {}).items():
        pairs += [(f"{label} {key}", scores.get(key), (counted["per_class"].get(label) or {}).get(key))
                  for key in ("precision", "recall", "f1", "support")]
    for key, given, real in pairs:
        if not _same_score(given, real):
            return f"{key} is {given!r}, its predictions give {real!r}"
    if "confusion" in stated and stated["confusion"] != counted["confusion"]:
        return f"confusion matrix is {stated['confusion']}, its predictions add up to {counted['confusion']}"
    return None


def _read_predictions(path: Path, plans, targets) -> list[dict]:
    """The rows of ``predictions.jsonl``, each checked, read a bounded line at a time (a row holds one sentence).

    A baseline's labels are in every row of an evaluation and target or in none: predictions that lack
    them in some rows would leave that baseline's scores unchecked.
    """
    from stance.errors import InputError
    from stance.fileio import holds_lone_surrogate, parse_json

    require_file(path, "its out-of-fold predictions")
    rows, numbers = [], []
    with path.open("rb") as handle:
        for number, raw in enumerate(iter(lambda: handle.readline(MAX_LABEL_LINE + 1), b""), start=1):
            if len(raw) > MAX_LABEL_LINE:
                raise InputError(f"{path}:{number}: a line over {MAX_LABEL_LINE >> 20} MiB, not a prediction (one "
                                 "sentence a line); re-run `stance train`")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:  # a replacement character would be shown as the sentence's own
                raise InputError(f"{path}:{number}: not UTF-8 text, as `stance train` writes it; re-run "
                                 "`stance train`") from None
            if line.strip():
                try:
                    row = parse_json(line)
                except ValueError:
                    raise InputError(f"{path}:{number}: not a JSON line; re-run `stance train`") from None
                problem = ("holds a lone surrogate escape, not text" if holds_lone_surrogate(row, line)
                           else _prediction_problem(row, plans, targets))
                if problem:
                    raise InputError(f"{path}:{number}: not a prediction of this run ({problem}); re-run `stance train`")
                rows.append(row)
                numbers.append(number)
    gap = _baseline_gap(rows, numbers, targets)
    if gap is not None:
        raise InputError(f"{path}:{gap[0]}: not a prediction of this run ({gap[1]}); re-run `stance train`")
    return rows


def _baseline_gap(rows: list[dict], numbers: list[int], targets) -> tuple[int, str] | None:
    """The line of the first row that lacks a baseline's label other rows of its evaluation and target
    hold, and what it lacks; None when each baseline is in all of them or in none."""
    for target in targets:
        by_plan: dict[str, list[tuple[int, set]]] = {}
        for row, number in zip(rows, numbers):
            if isinstance(row.get(target), dict):
                by_plan.setdefault(row["plan"], []).append((number, set(row[target].get("baselines", {}))))
        for plan, kept in by_plan.items():
            systems = set().union(*(names for _, names in kept))
            for system in sorted(systems):
                lacking = [number for number, names in kept if system not in names]
                if lacking:
                    name = SYSTEM_NAMES.get(system) or repr(system)
                    return lacking[0], (f"{target}: no label of the {name}, which {len(kept) - len(lacking)} other "
                                        f"predictions of {plan!r} hold")
    return None


def markdown_table(path: str | Path) -> dict | None:
    """The table of a Markdown file (the one between ``<!-- quality-table -->`` markers, else the first one).

    Returns ``{"source", "header", "rows"}`` with ``**`` and backticks removed, or None without a table.
    """
    text = Path(path).read_text(encoding="utf-8")
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

    return {"source": printable_name(Path(path).name), "header": cells(block[0]), "rows": [cells(r) for r in block[2:]]}


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
    _check_metrics(metrics, run_dir / "metrics.json")
    table = None
    if experiments is not None:
        require_file(Path(experiments), "--experiments", "give a Markdown file with a table")
        if Path(experiments).stat().st_size > MAX_WHOLE_FILE_BYTES:
            raise InputError(f"{experiments}: over {MAX_WHOLE_FILE_BYTES // 2**20} MB, not a Markdown table of experiments; "
                             "give a file such as experiments/finetune/search.md")
        try:
            table = markdown_table(experiments)
        except OSError as err:
            raise InputError(f"{experiments}: cannot be read ({err.strerror}); give a Markdown file with a table") from None
        except UnicodeDecodeError:
            raise InputError(f"{experiments}: not UTF-8 text; save it as UTF-8, or give another Markdown file") from None
        if table is None:
            raise InputError(f"{experiments}: holds no Markdown table; give a file such as experiments/finetune/search.md")
    predictions = _read_predictions(run_dir / "predictions.jsonl", set(metrics["evaluations"]), metrics["targets"])
    _require_same_counts(metrics, predictions, run_dir)
    _require_intervals_hold_their_points(metrics, run_dir / "metrics.json")  # a wrong point is named first, above
    data = {**metrics, "predictions": predictions, "experiments": table,
            "system_names": SYSTEM_NAMES, "plan_names": PLAN_NAMES, "how_to_read": HOW_TO_READ}
    prov = metrics["provenance"]
    lead = f"Made by {prov.get('command', 'stance train')} on {prov.get('date', '?')} with {prov.get('encoder', '?')}" + (
        f"; model {prov['model_id']}." if isinstance(prov.get("model_id"), str) else ".")
    return render_page(f"Evaluation: {prov.get('run', printable_name(run_dir.name))}", data, "report.js", lead=lead)


def write_evaluation_page(run_dir: str | Path, path: str | Path | None = None, *, experiments=None) -> Path:
    """Write :func:`evaluation_page` atomically (default ``RUN_DIR/report.html``).

    Only a page stance wrote is replaced: never the run's own files, the experiments
    table or a user's file of that name.
    """
    from stance.fileio import atomic_write_text
    from stance.pages import PAGE_START
    from stance.paths import check_writable, given_path, refuse_overwriting, starts_with

    run_dir = given_path(run_dir, "run folder", "give the folder `stance train --report-dir` wrote").expanduser()
    require_run_folder(run_dir)
    path = given_path(path, "the page", "give a file path") if path is not None else run_dir / "report.html"
    if experiments is not None:
        experiments = given_path(experiments, "experiments", "give a Markdown file with a table")
    refuse_overwriting(path, "the page", [run_dir / "metrics.json", run_dir / "predictions.jsonl", experiments])
    path = check_writable(path, "the page", ours=starts_with(PAGE_START))
    atomic_write_text(path, evaluation_page(run_dir, experiments=experiments))
    return path
