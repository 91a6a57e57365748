"""Model quality: every configuration under the same article-grouped folds, in one table.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/quality.py [--configs a,b] [--out experiments/quality]

For each configuration: macro-F1 and SemEval F1avg per target with a 95%
bootstrap interval, on leave-one-seed-article-out (the headline; each fold
trains on every other labeled article) and on grouped 5-fold over the written
corpus; the expected calibration error (ECE) of the headline's out-of-fold
probabilities; the time to train on all labels; scoring speed (sentences per
second through the whole model, embeddings not cached). Then, for the default
configuration: a reliability diagram, the abstention trade-off, the effect of
the written corpus, and a learning curve. Writes ``README.md``-ready Markdown
(``quality.md``), ``quality.json`` and PNGs into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from stance.embed import SentenceEncoder  # noqa: E402
from stance.evaluation import classification_metrics, expected_calibration_error, out_of_fold  # noqa: E402
from stance.features import items_with_context  # noqa: E402
from stance.fileio import atomic_write_bytes, atomic_write_text  # noqa: E402
from stance.model import StanceClassifier, _scale, choose_threshold  # noqa: E402
from stance.schema import STANCES, label_targets, load_labels  # noqa: E402

PLAIN = {"context": False, "ngrams": False, "calibrate": False, "abstain": False}


def configurations(encoder):
    """Name -> (description, factory). The first row is the shipped default."""
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.dummy import DummyClassifier
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import LinearSVC

    def tfidf():
        return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)

    svm = CalibratedClassifierCV(LinearSVC(C=0.1, class_weight="balanced"), cv=3)
    return {
        "default": ("MiniLM + neighbours + TF-IDF 1-2-grams, LR tuned, temperature, abstention (shipped)",
                    lambda: StanceClassifier(encoder=encoder)),
        "default-raw": ("as default, without temperature or abstention",
                        lambda: StanceClassifier(encoder=encoder, calibrate=False, abstain=False)),
        "minilm-lr": ("MiniLM + LR tuned", lambda: StanceClassifier(encoder=encoder, **PLAIN)),
        "minilm-svm": ("MiniLM + linear SVM (C=0.1), sigmoid-calibrated",
                       lambda: StanceClassifier(encoder=encoder, head=svm, **PLAIN)),
        "minilm-knn": ("MiniLM + 15-NN, cosine, distance-weighted",
                       lambda: StanceClassifier(encoder=encoder, head=KNeighborsClassifier(15, weights="distance",
                                                                                           metric="cosine"), **PLAIN)),
        "minilm+context-lr": ("MiniLM + neighbours, LR tuned",
                              lambda: StanceClassifier(encoder=encoder, **{**PLAIN, "context": True})),
        "minilm+tfidf-lr": ("MiniLM + TF-IDF 1-2-grams, LR tuned",
                            lambda: StanceClassifier(encoder=encoder, **{**PLAIN, "ngrams": True})),
        "tfidf-lr": ("TF-IDF 1-2-grams + LR tuned", lambda: StanceClassifier(encoder=tfidf(), **PLAIN)),
        "tfidf-svm": ("TF-IDF 1-2-grams + linear SVM (C=0.1), sigmoid-calibrated (classic stance baseline)",
                      lambda: StanceClassifier(encoder=tfidf(), head=svm, **PLAIN)),
        "majority": ("majority class", lambda: StanceClassifier(encoder=encoder, head=DummyClassifier(), **PLAIN)),
    }


def _metrics(result, plan, targets):
    run = result["plans"][plan]
    out = {}
    for j, target in enumerate(targets):
        idx = run["index"][[result["y"][i, j] is not None for i in run["index"]]]
        m = classification_metrics(result["y"][idx, j], run["pred"][idx, j], n_bootstrap=1000)
        m["ece"] = expected_calibration_error(run["proba"][j][idx], result["y"][idx, j], run["classes"])
        out[target] = m
    return out


def _speed(make, items, y, groups, encoder_path):
    """Train time on all labels, then sentences/s through a fresh (uncached) encoder."""
    start = time.perf_counter()
    model = make().fit(items, y, groups=groups)
    train_seconds = time.perf_counter() - start
    if isinstance(model.encoder_, SentenceEncoder):
        fresh = SentenceEncoder(model_path=encoder_path)
        fresh.__dict__["_loaded"] = model.encoder_._model()  # same weights, empty memo
        model.encoder_ = fresh
    start = time.perf_counter()
    model.predict_proba(items)
    return train_seconds, len(items) / (time.perf_counter() - start)


def _reliability_png(curves, targets) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(4.6 * len(targets), 4.2), squeeze=False)
    for ax, target in zip(axes[0], targets):
        ax.plot([0, 1], [0, 1], color="#999", lw=1, ls="--", label="perfect")
        for name, (conf, acc, ece) in curves[target].items():
            ax.plot(conf, acc, marker="o", label=f"{name} (ECE {ece:.3f})")
        ax.set_title(f"{target}: reliability, out-of-fold")
        ax.set_xlabel("top-label confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="upper left")
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _bins(proba, y, classes, n_bins=10):
    conf = proba.max(axis=1)
    correct = np.asarray(classes)[proba.argmax(axis=1)] == y
    b = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    xs, ys = [], []
    for k in range(n_bins):
        if (b == k).sum() >= 3:
            xs.append(conf[b == k].mean())
            ys.append(correct[b == k].mean())
    return xs, ys


def _abstention(proba, y, classes):
    """Per threshold: precision and recall of favor+against, and macro-F1."""
    from sklearn.metrics import f1_score

    rows = []
    for t in np.round(np.arange(0.0, 0.95, 0.05), 2):
        labels = np.asarray(classes)[proba.argmax(axis=1)].astype(object)
        labels[proba.max(axis=1) < t] = "none"
        stance_pred = labels != "none"
        stance_true = y != "none"
        hit = (labels == y) & stance_pred
        precision = hit.sum() / stance_pred.sum() if stance_pred.sum() else 1.0
        recall = hit.sum() / stance_true.sum() if stance_true.sum() else 0.0
        rows.append({"threshold": float(t), "precision": float(precision), "recall": float(recall),
                     "macro_f1": float(f1_score(y, labels.astype(str), average="macro", zero_division=0))})
    return rows


def _abstention_png(curves, chosen, targets) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(targets), figsize=(4.6 * len(targets), 4.2), squeeze=False)
    for ax, target in zip(axes[0], targets):
        rows = curves[target]
        t = [r["threshold"] for r in rows]
        ax.plot(t, [r["precision"] for r in rows], label="precision (favor+against)")
        ax.plot(t, [r["recall"] for r in rows], label="recall (favor+against)")
        ax.plot(t, [r["macro_f1"] for r in rows], label="macro-F1", color="black")
        ax.axvline(chosen[target], color="#c0392b", ls="--", lw=1, label=f"chosen by CV: {chosen[target]:.2f}")
        ax.set_xlabel("abstention threshold (top probability)")
        ax.set_ylabel("score, seed articles out-of-fold")
        ax.set_title(f"{target}: abstention trade-off")
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8, loc="lower left")
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _learning_png(points, targets) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for target in targets:
        xs = [p["n_train_mean"] for p in points]
        ax.plot(xs, [p[target]["macro_f1"] for p in points], marker="o", label=target)
        ax.fill_between(xs, [p[target]["macro_f1_ci"][0] for p in points], [p[target]["macro_f1_ci"][1] for p in points],
                        alpha=0.15)
    ax.set_xlabel("labeled training sentences (mean over folds)")
    ax.set_ylabel("macro-F1, leave-one-seed-article-out")
    ax.set_title("Learning curve of the default configuration")
    ax.set_ylim(0, 1)
    ax.legend()
    buf = __import__("io").BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", nargs="+", default=[str(p) for p in sorted((REPO / "labels").glob("*.jsonl"))])
    parser.add_argument("--configs", default=None, help="comma-separated subset of configurations")
    parser.add_argument("--encoder", default=None, help="sentence-transformers folder (default: bundled MiniLM)")
    parser.add_argument("--out", default=str(REPO / "experiments" / "quality"))
    parser.add_argument("--no-extras", action="store_true", help="skip calibration, abstention and learning curve")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    labels = load_labels(args.labels, articles=["seeds"])
    targets = label_targets(labels)
    encoder = SentenceEncoder(model_path=args.encoder)
    configs = configurations(encoder)
    chosen = list(configs) if args.configs is None else args.configs.split(",")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    scored = labels.select([i for i, f in enumerate(labels["furniture"]) if f is None])
    items = items_with_context(list(scored["text"]), list(scored["article"]), list(scored["sentence"]))
    y_all = np.stack([np.asarray(scored[t], dtype=object) for t in targets], axis=1)
    groups = list(scored["article"])
    encoder.transform(list(scored["text"]))  # embed once; every configuration reuses it

    results = {}
    for name in chosen:
        description, make = configs[name]
        started = time.perf_counter()
        oof = out_of_fold(labels, make, targets=targets)
        train_seconds, speed = _speed(make, items, y_all, groups, args.encoder)
        results[name] = {
            "description": description,
            "seed_loao": _metrics(oof, "seed_loao", targets),
            "written_cv": _metrics(oof, "written_cv", targets),
            "train_seconds": train_seconds,
            "sentences_per_second": speed,
            "cv_seconds": time.perf_counter() - started,
        }
        if name in ("default", "default-raw"):
            results[name]["_oof"] = oof
        row = results[name]["seed_loao"]
        print(f"{name:18s} " + "  ".join(f"{t} {row[t]['macro_f1']:.3f}/{row[t]['f1_avg']:.3f} ECE {row[t]['ece']:.3f}"
                                          for t in targets) + f"  train {train_seconds:.1f}s", flush=True)

    extras = {}
    if not args.no_extras and "default" in configs:
        extras = run_extras(labels, targets, configs, results, out)
    write_report(results, extras, targets, out, args)


def run_extras(labels, targets, configs, results, out):
    """Calibration, abstention, the written corpus's effect and a learning curve for the default."""
    extras = {}
    raw = results.get("default-raw", {}).get("_oof") or out_of_fold(labels, configs["default-raw"][1], targets=targets)
    run = raw["plans"]["seed_loao"]
    curves, abstention, chosen = {}, {}, {}
    for j, target in enumerate(targets):
        idx = run["index"][[raw["y"][i, j] is not None for i in run["index"]]]
        proba, y = run["proba"][j][idx], raw["y"][idx, j].astype(str)
        # Temperature fitted on the written corpus's out-of-fold probabilities, applied to the seeds'.
        wrun = raw["plans"]["written_cv"]
        widx = wrun["index"][[raw["y"][i, j] is not None for i in wrun["index"]]]
        from stance.model import fit_temperature

        temperature = fit_temperature(wrun["proba"][j][widx], raw["y"][widx, j].astype(str), STANCES)
        scaled = _scale(proba, temperature)
        curves[target] = {
            "uncalibrated": (*_bins(proba, y, STANCES), expected_calibration_error(proba, y, STANCES)),
            f"temperature {temperature:.2f}": (*_bins(scaled, y, STANCES), expected_calibration_error(scaled, y, STANCES)),
        }
        abstention[target] = _abstention(scaled, y, STANCES)
        chosen[target] = choose_threshold(_scale(wrun["proba"][j][widx], temperature), raw["y"][widx, j].astype(str), STANCES)
    atomic_write_bytes(out / "reliability.png", _reliability_png(curves, targets))
    atomic_write_bytes(out / "abstention.png", _abstention_png(abstention, chosen, targets))
    extras["calibration"] = {t: {k: v[2] for k, v in curves[t].items()} for t in targets}
    extras["abstention"] = {"chosen_on_written": chosen, "curve": abstention}

    make = configs["default"][1]

    def seeds_only(train, articles, origins):
        return train[origins[train] == "seed"]

    only = out_of_fold(labels, make, targets=targets, plans=["seed_loao"], train_filter=seeds_only)
    extras["seeds_only"] = _metrics(only, "seed_loao", targets)

    points = []
    for fraction in (0.0, 0.25, 0.5, 0.75, 1.0):
        rng = np.random.default_rng(0)
        sizes = []

        def subsample(train, articles, origins, fraction=fraction, rng=rng, sizes=sizes):
            written = sorted(set(articles[train][origins[train] == "written"].tolist()))
            keep_written = set(rng.permutation(written)[: int(round(fraction * len(written)))].tolist())
            mask = (origins[train] == "seed") | np.isin(articles[train], list(keep_written))
            sizes.append(int(mask.sum()))
            return train[mask]

        res = out_of_fold(labels, make, targets=targets, plans=["seed_loao"], train_filter=subsample)
        metrics = _metrics(res, "seed_loao", targets)
        points.append({"written_fraction": fraction, "n_train_mean": float(np.mean(sizes)),
                       **{t: {"macro_f1": metrics[t]["macro_f1"], "macro_f1_ci": metrics[t]["macro_f1_ci"],
                              "f1_avg": metrics[t]["f1_avg"]} for t in targets}})
        print(f"learning curve: {fraction:.2f} of written, {np.mean(sizes):.0f} sentences: "
              + "  ".join(f"{t} {metrics[t]['macro_f1']:.3f}" for t in targets), flush=True)
    atomic_write_bytes(out / "learning_curve.png", _learning_png(points, targets))
    extras["learning_curve"] = points
    return extras


def _cell(m, key):
    low, high = m[f"{key}_ci"]
    return f"{m[key]:.3f} [{low:.2f}, {high:.2f}]"


def write_report(results, extras, targets, out, args):
    import sklearn
    import torch

    command = "HF_HUB_OFFLINE=1 .venv/bin/python experiments/quality.py" + (f" --configs {args.configs}" if args.configs else "")
    lines = [
        "# Model quality: all configurations under the same folds",
        "",
        f"Made by `{command}` on {time.strftime('%Y-%m-%d')}. Data: {', '.join(Path(p).name for p in args.labels)} "
        f"(furniture excluded). Encoder: {args.encoder or 'bundled all-MiniLM-L6-v2'}. "
        f"Machine: {os.cpu_count()} cores, {platform.machine()}; torch {torch.__version__}, scikit-learn {sklearn.__version__}.",
        "",
        "Headline: leave-one-seed-article-out (94 sentences of 5 real articles; each fold trains on every other "
        "labeled article). Brackets: 95% bootstrap intervals over sentences. ECE: top-label expected calibration "
        "error of the out-of-fold probabilities (10 bins). Train: seconds to fit on all labels (tuning included). "
        "Speed: sentences per second through the whole model with embeddings not cached.",
        "",
        "| configuration | " + " | ".join(f"{t} macro-F1 | {t} F1avg | {t} ECE" for t in targets)
        + " | written CV macro-F1 (" + "/".join(targets) + ") | train s | sentences/s |",
        "|---|" + "---|" * (3 * len(targets) + 3),
    ]
    for name, r in results.items():
        loao, wcv = r["seed_loao"], r["written_cv"]
        cells = " | ".join(f"{_cell(loao[t], 'macro_f1')} | {_cell(loao[t], 'f1_avg')} | {loao[t]['ece']:.3f}" for t in targets)
        lines.append(f"| `{name}`: {r['description']} | {cells} | "
                     + " / ".join(f"{wcv[t]['macro_f1']:.3f}" for t in targets)
                     + f" | {r['train_seconds']:.1f} | {r['sentences_per_second']:.0f} |")
    if extras:
        lines += ["", "## Calibration", "",
                  "Temperature fitted on the written corpus's out-of-fold probabilities of `default-raw`, applied to the "
                  "seed articles' (`reliability.png`). The shipped model fits its temperature on its own training "
                  "folds the same way.", "",
                  "| target | " + " | ".join(next(iter(extras["calibration"].values())).keys()) + " |",
                  "|---|" + "---|" * len(next(iter(extras["calibration"].values()))), ]
        for t in targets:
            lines.append(f"| {t} | " + " | ".join(f"ECE {v:.3f}" for v in extras["calibration"][t].values()) + " |")
        chosen = extras["abstention"]["chosen_on_written"]
        lines += ["", "## Abstention", "",
                  "Below the threshold, a sentence's top label gives way to `none` (`abstention.png`: precision and "
                  "recall of favor+against and macro-F1 on the seed articles, out of fold). Chosen on the written "
                  "corpus's out-of-fold probabilities: " + ", ".join(f"{t} {chosen[t]:.2f}" for t in targets) + ".", ""]
        so = extras["seeds_only"]
        lines += ["## The written corpus", "",
                  "Default configuration, leave-one-seed-article-out, trained on the other seed articles only: "
                  + ", ".join(f"{t} macro-F1 {_cell(so[t], 'macro_f1')}" for t in targets)
                  + "; with the written corpus added: "
                  + ", ".join(f"{t} {_cell(results['default']['seed_loao'][t], 'macro_f1')}" for t in targets
                              if "default" in results) + ".", "",
                  "## Learning curve", "",
                  "Default configuration, leave-one-seed-article-out; each fold trains on the other seed articles plus "
                  "a random share of the written articles (`learning_curve.png`).", "",
                  "| written share | training sentences | " + " | ".join(f"{t} macro-F1" for t in targets) + " |",
                  "|---|---|" + "---|" * len(targets)]
        for p in extras["learning_curve"]:
            lines.append(f"| {p['written_fraction']:.2f} | {p['n_train_mean']:.0f} | "
                         + " | ".join(f"{p[t]['macro_f1']:.3f}" for t in targets) + " |")
    atomic_write_text(out / "quality.md", "\n".join(lines) + "\n")
    clean = {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")} for k, v in results.items()}
    atomic_write_text(out / "quality.json", json.dumps({"results": clean, "extras": extras}, indent=2, default=float) + "\n")
    print(f"written {out / 'quality.md'}")


if __name__ == "__main__":
    main()
