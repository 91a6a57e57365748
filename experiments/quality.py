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

from stance.encoders.transformer import SentenceEncoder  # noqa: E402
from stance.evaluation import (  # noqa: E402
    classification_metrics,
    expected_calibration_error,
    out_of_fold,
    scored_sentences,
)
from stance.fileio import atomic_write_bytes, atomic_write_text  # noqa: E402
from stance.finetune import FineTunedClassifier  # noqa: E402
from stance.model import StanceClassifier, _scale, choose_threshold, on_all_cores  # noqa: E402
from stance.schema import STANCES, label_targets, load_labels  # noqa: E402

from finetune_search import TARGETS, kept_labels, mean_difference, shown_difference  # noqa: E402

PLAIN = {"context": False, "ngrams": False, "actors": False, "renamed_copies": False, "pressure_rule": False,
         "calibrate": False, "abstain": False}
#: The default before renamed copies and the pressure rule joined it (2026-12-06): the rows made on it keep it.
BEFORE_COPIES = {"renamed_copies": False, "pressure_rule": False}


class ContrastiveClassifier(StanceClassifier):
    """SetFit's recipe: fine-tune the encoder on sentence pairs (same labels or not), then fit the heads.

    Pairs are drawn at random from the training rows; a pair is positive when
    the two sentences carry the same labels for every target. The loss is
    sentence-transformers' CosineSimilarityLoss, one pass, AdamW at 2e-5, on
    the CPU. Only for this experiment: the fine-tuned encoder is not saved.
    """

    def __init__(self, encoder=None, n_pairs=2000, batch_size=16, seed=0, **params):
        super().__init__(encoder=encoder, **params)
        self.n_pairs = n_pairs
        self.batch_size = batch_size
        self.seed = seed

    def get_params(self, deep=True):
        return {**super().get_params(deep=deep), "n_pairs": self.n_pairs, "batch_size": self.batch_size, "seed": self.seed}

    def fit(self, X, y, groups=None):
        import torch
        from sentence_transformers import SentenceTransformer, losses

        from stance.features import item_text

        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        texts = [item_text(x) for x in X]
        keys = [tuple(row) for row in np.asarray(y, dtype=object)]
        model = SentenceTransformer(str(self.encoder.folder), device="cpu", local_files_only=True)
        loss = losses.CosineSimilarityLoss(model)
        optimizer = torch.optim.AdamW(model.parameters(), lr=2e-5)
        pairs = [tuple(rng.choice(len(texts), 2, replace=False)) for _ in range(self.n_pairs)]
        model.train()
        for start in range(0, len(pairs), self.batch_size):
            batch = pairs[start : start + self.batch_size]
            left = model.tokenize([texts[i] for i, _ in batch])
            right = model.tokenize([texts[j] for _, j in batch])
            target = torch.tensor([float(keys[i] == keys[j]) for i, j in batch])
            optimizer.zero_grad()
            loss([left, right], target).backward()
            optimizer.step()
        model.eval()
        # Not cached: the on-disk cache files vectors under the weights' SHA-256, which the tuned copy
        # shares with the frozen model, so it would hand back the frozen vectors.
        tuned = SentenceEncoder(model_path=self.encoder.model_path, cache=False)
        tuned.__dict__["_loaded"] = model
        saved, self.encoder = self.encoder, tuned
        try:
            return super().fit(X, y, groups=groups)
        finally:
            self.encoder = saved


class ProbabilityAverage:
    """An ensemble: the mean of several StanceClassifiers' probabilities, per target."""

    def __init__(self, makers):
        self.makers = makers

    def fit(self, X, y, groups=None):
        self.members_ = [make().fit(X, y, groups=groups) for make in self.makers]
        self.targets_ = self.members_[0].targets_
        self.classes_ = self.members_[0].classes_
        self.encoder_ = self.members_[0].encoder_
        return self

    def predict_proba(self, X):
        probas = [m.predict_proba(X) for m in self.members_]
        return [np.mean([p[j] for p in probas], axis=0) for j in range(len(self.targets_))]

    def decide(self, target, proba):
        return np.asarray(self.classes_[self.targets_.index(target)])[proba.argmax(axis=1)].astype(object)


def _mpnet():
    from stance.encoders import SentenceEncoder, mpnet_path

    encoder = _mpnet.__dict__.get("encoder")
    if encoder is None:
        encoder = _mpnet.encoder = SentenceEncoder(model_path=mpnet_path())
    return encoder


def _static():
    from stance.encoders.static import StaticEncoder, ensure_static

    encoder = _static.__dict__.get("encoder")
    if encoder is None:
        encoder = _static.encoder = StaticEncoder(model_path=ensure_static())
    return encoder


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
        "default": ("MiniLM + TF-IDF 1-2-grams + actor indicators, renamed copies at weight 0.1, pressure rule, "
                    "LR tuned, temperature, abstention (shipped)",
                    lambda: StanceClassifier(encoder=encoder)),
        "default-raw": ("as default, without temperature or abstention",
                        lambda: StanceClassifier(encoder=encoder, calibrate=False, abstain=False)),
        "default+context": ("as default without renamed copies or pressure rule (the default until 2026-12-06), "
                            "plus the mean embedding of the neighbouring sentences",
                            lambda: StanceClassifier(encoder=encoder, context=True, **BEFORE_COPIES)),
        "static": ("as default without renamed copies or pressure rule, on the static model distilled from MiniLM "
                   "(model2vec, 256 dims)",
                   lambda: StanceClassifier(encoder=_static(), **BEFORE_COPIES)),
        "minilm-lr": ("MiniLM + LR tuned", lambda: StanceClassifier(encoder=encoder, **PLAIN)),
        "minilm-svm": ("MiniLM + linear SVM (C=0.1), sigmoid-calibrated",
                       lambda: StanceClassifier(encoder=encoder, head=svm, **PLAIN)),
        "minilm-knn": ("MiniLM + 15-NN, cosine, distance-weighted",
                       lambda: StanceClassifier(encoder=encoder, head=KNeighborsClassifier(15, weights="distance",
                                                                                           metric="cosine"), **PLAIN)),
        "minilm+context-lr": ("MiniLM + neighbours, LR tuned",
                              lambda: StanceClassifier(encoder=encoder, **{**PLAIN, "context": True})),
        "ensemble": ("mean probabilities of MiniLM + LR and TF-IDF 1-2-grams + LR",
                     lambda: ProbabilityAverage([lambda: StanceClassifier(encoder=encoder, **PLAIN),
                                                 lambda: StanceClassifier(encoder=tfidf(), **PLAIN)])),
        "tfidf-lr": ("TF-IDF 1-2-grams + LR tuned", lambda: StanceClassifier(encoder=tfidf(), **PLAIN)),
        "tfidf-svm": ("TF-IDF 1-2-grams + linear SVM (C=0.1), sigmoid-calibrated (classic stance baseline)",
                      lambda: StanceClassifier(encoder=tfidf(), head=svm, **PLAIN)),
        "majority": ("majority class", lambda: StanceClassifier(encoder=encoder, head=DummyClassifier(), **PLAIN)),
        "finetuned": ("MiniLM, top 2 layers fine-tuned (lower layers cached), heads from LR on frozen embeddings, "
                      "class-weighted cross-entropy, 3 epochs, lr 1e-4 (`stance train --fine-tune`)",
                      lambda: FineTunedClassifier(encoder=encoder, layers=2, epochs=3, lr=1e-4)),
        "finetuned-full": ("MiniLM, all 6 layers fine-tuned, as `finetuned` otherwise, 3 epochs, lr 5e-5",
                           lambda: FineTunedClassifier(encoder=encoder, layers=6, epochs=3, lr=5e-5)),
        "mpnet": ("as default without renamed copies or pressure rule, on all-mpnet-base-v2 (768 dims)",
                  lambda: StanceClassifier(encoder=_mpnet(), **BEFORE_COPIES)),
        "mpnet-finetuned": ("all-mpnet-base-v2, top 2 layers fine-tuned, as `finetuned` otherwise "
                            "(`stance train --encoder mpnet --fine-tune`)",
                            lambda: FineTunedClassifier(encoder=_mpnet(), layers=2, epochs=3, lr=1e-4)),
        "setfit": ("SetFit recipe: MiniLM fine-tuned contrastively (2,000 pairs, 1 epoch, CPU) + LR tuned",
                   lambda: ContrastiveClassifier(encoder=encoder, **PLAIN)),
    }


#: Configurations run when --configs is not given (setfit, the fine-tuned ones and mpnet are opt-in:
#: minutes per fold on a CPU).
DEFAULT_RUN = ["default", "default-raw", "default+context", "static", "minilm-lr", "minilm-svm", "minilm-knn", "minilm+context-lr",
               "ensemble", "tfidf-lr", "tfidf-svm", "majority"]


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
    for member in getattr(model, "members_", [model]):
        if isinstance(member.encoder_, SentenceEncoder):
            fresh = type(member.encoder_)(model_path=member.encoder_.model_path, cache=False)
            fresh.__dict__["_loaded"] = member.encoder_._model()  # same weights, empty memo, no disk cache
            member.encoder_ = fresh
    start = time.perf_counter()
    model.predict_proba(items)
    return train_seconds, len(items) / (time.perf_counter() - start)


def _png(fig) -> bytes:
    """A finished figure as PNG bytes; the figure is closed."""
    import io

    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return buffer.getvalue()


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
    return _png(fig)


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
    return _png(fig)


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
    return _png(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", nargs="+", default=[str(p) for p in sorted((REPO / "labels").glob("*.jsonl"))])
    parser.add_argument("--configs", default=None, help="comma-separated subset of configurations")
    parser.add_argument("--encoder", default=None, help="sentence-transformers folder (default: bundled MiniLM)")
    parser.add_argument("--out", default=str(REPO / "experiments" / "quality"))
    parser.add_argument("--no-extras", action="store_true", help="skip calibration, abstention and learning curve")
    parser.add_argument("--render-only", action="store_true", help="rewrite the Markdown from quality.json, run nothing")
    args = parser.parse_args(argv)
    out = Path(args.out)
    previous = json.loads((out / "quality.json").read_text()) if (out / "quality.json").is_file() else {}
    if args.render_only:
        stamp = time.strftime("%Y-%m-%d", time.localtime((out / "quality.json").stat().st_mtime))
        made = previous.get("made") or {name: {"date": stamp} for name in previous.get("results", {})}
        known = configurations(None)
        # each row described as the code that would make it again describes it
        kept = {k: {**previous["results"][k], "description": known[k][0]} for k in known
                if k in previous.get("results", {})}
        write_report(kept, previous.get("extras", {}), previous.get("targets", ["russia", "eu"]),
                     out, args, made, previous.get("earlier_defaults", []))
        return
    os.chdir(REPO)
    labels = load_labels(args.labels, articles=["seeds"])
    targets = label_targets(labels)
    encoder = SentenceEncoder(model_path=args.encoder)
    configs = configurations(encoder)
    chosen = DEFAULT_RUN if args.configs is None else args.configs.split(",")
    unknown = [c for c in chosen if c not in configs]
    if unknown:
        parser.error(f"unknown configuration {', '.join(unknown)}; known: {', '.join(configs)}")
    out.mkdir(parents=True, exist_ok=True)
    _, texts, items, groups, _, y_all = scored_sentences(labels, targets)
    encoder.transform(texts)  # embed once; every configuration reuses it

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
        if list(targets) == TARGETS:  # the out-of-fold labels, so that rows can be compared sentence by sentence
            results[name]["oof"] = kept_labels(oof)
        if name in ("default", "default-raw"):
            results[name]["_oof"] = oof
        row = results[name]["seed_loao"]
        print(f"{name:18s} " + "  ".join(f"{t} {row[t]['macro_f1']:.3f}/{row[t]['f1_avg']:.3f} ECE {row[t]['ece']:.3f}"
                                          for t in targets) + f"  train {train_seconds:.1f}s", flush=True)

    extras = previous.get("extras", {})
    if not args.no_extras and "default" in chosen:
        extras = run_extras(labels, targets, configs, results, out)
    made = previous.get("made", {})
    earlier = list(previous.get("earlier_defaults", []))
    replaced = previous.get("results", {}).get("default")
    if "default" in results and replaced is not None and "oof" in replaced:
        # kept, so that rows made on the sentences of an earlier default still show their paired difference
        earlier.append({"date": made.get("default", {}).get("date", "?"), "oof": replaced["oof"]})
    for name in results:
        made[name] = {"date": time.strftime("%Y-%m-%d"), "command": _command(name)}
    merged = {**previous.get("results", {}), **{k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                                                 for k, v in results.items()}}
    order = [c for c in configs if c in merged]
    merged = {k: {**merged[k], "description": configs[k][0]} for k in order}
    write_report({k: merged[k] for k in order}, extras, targets, out, args, made, earlier)


def _command(name: str) -> str:
    return f"HF_HUB_OFFLINE=1 .venv/bin/python experiments/quality.py --configs {name}"


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


TABLE_START, TABLE_END = "<!-- quality-table -->", "<!-- /quality-table -->"


SEMEVAL = REPO / "experiments" / "semeval2016" / "results.json"


def _semeval(name: str) -> str:
    """The configuration's mean F1avg on SemEval-2016 6A, from experiments/semeval2016/run.py's results."""
    results = json.loads(SEMEVAL.read_text("utf-8")) if SEMEVAL.is_file() else {}
    row = results.get(name)
    return f"{100 * row['mean_f1_avg']:.1f}" if row else "-"


def _versus_default(name: str, results: dict, earlier=()) -> str:
    """The row's mean macro-F1 (both targets, both evaluations) minus the default's, with its paired interval;
    for a row made on other sentences, minus the latest earlier default made on its sentences, which it names."""
    if name == "default":
        return "reference"
    reference = results.get("default")
    difference = mean_difference(results[name], reference) if reference is not None else None
    if difference is not None:
        return shown_difference(difference)
    for before in reversed(earlier):
        difference = mean_difference(results[name], before)
        if difference is not None:
            return f"{shown_difference(difference)} (vs the default of {before['date']})"
    return "-"


def table_lines(results, targets, made, earlier=()) -> list[str]:
    """One row per configuration, with the command that regenerates it."""
    lines = [
        "| configuration | " + " | ".join(f"{t} macro-F1 | {t} F1avg | {t} ECE" for t in targets)
        + " | written CV macro-F1 (" + "/".join(targets) + ") | mean vs default | SemEval 6A F1avg | train s "
        "| sentences/s | regenerate |",
        "|---|" + "---|" * (3 * len(targets) + 6),
    ]
    for name, r in results.items():
        loao, wcv = r["seed_loao"], r["written_cv"]
        cells = " | ".join(f"{_cell(loao[t], 'macro_f1')} | {_cell(loao[t], 'f1_avg')} | {loao[t]['ece']:.3f}" for t in targets)
        lines.append(f"| `{name}`: {r['description']} | {cells} | "
                     + " / ".join(f"{wcv[t]['macro_f1']:.3f}" for t in targets)
                     + f" | {_versus_default(name, results, earlier)} | {_semeval(name)} | {r['train_seconds']:.1f} "
                     f"| {r['sentences_per_second']:.0f} | `--configs {name}` ({made.get(name, {}).get('date', '?')}) |")
    return lines


def update_readme(lines: list[str], path: Path = REPO / "experiments" / "README.md") -> None:
    """Replace the table between the markers of experiments/README.md."""
    text = path.read_text("utf-8")
    if TABLE_START not in text:
        return
    head, rest = text.split(TABLE_START, 1)
    tail = rest.split(TABLE_END, 1)[1]
    atomic_write_text(path, head + TABLE_START + "\n" + "\n".join(lines) + "\n" + TABLE_END + tail)


def write_report(results, extras, targets, out, args, made=None, earlier=()):
    import sklearn
    import torch

    made = made or {}
    lines = [
        "# Model quality: all configurations under the same folds",
        "",
        "Each row is made by `HF_HUB_OFFLINE=1 .venv/bin/python experiments/quality.py --configs NAME` (date in the "
        "last column; with no `--configs`, every row but `setfit`). "
        f"Data: {', '.join(Path(p).name for p in args.labels)} "
        f"(furniture excluded). Encoder: {args.encoder or 'bundled all-MiniLM-L6-v2'}. "
        f"Machine: {os.cpu_count()} cores, {platform.machine()}; torch {torch.__version__}, scikit-learn {sklearn.__version__}. "
        "Train times exclude embedding the labeled sentences once (about 2.5 s for all of them).",
        "",
        "Headline: leave-one-seed-article-out (94 sentences of 5 real articles; each fold trains on every other "
        "labeled article). Brackets: 95% bootstrap intervals over sentences. ECE: top-label expected calibration "
        "error of the out-of-fold probabilities (10 bins). Train: seconds to fit on all labels (tuning included). "
        "Speed: sentences per second through the whole model with embeddings not cached. "
        "Mean vs default: the mean of the four macro-F1 (both targets, both evaluations) minus the default's, with "
        "a paired 95% bootstrap interval over sentences (1,000 resamples; the same sentences score both rows; "
        "`quality.json` keeps every row's out-of-fold labels, one letter a sentence); a row made on other "
        "sentences than today's default (the splitter changed on 2026-12-05) is paired with the latest earlier "
        "default made on its sentences, which its cell names; `-` for a row made before they were kept.",
        "",
    ]
    table = table_lines(results, targets, made, earlier)
    lines += table
    update_readme(table)
    if extras:
        lines += ["", "## Calibration", "",
                  "Temperature fitted on the written corpus's out-of-fold probabilities of `default-raw`, applied to the "
                  "seed articles' (`reliability.png`). The shipped model fits its temperature on its own training "
                  "folds the same way. On 94 sentences, binned ECE moves by a few hundredths with tiny changes of the "
                  "probabilities (sentences crossing bin edges): read it as rough.", "",
                  "| target | uncalibrated | temperature fitted on the written corpus |", "|---|---|---|"]
        for t in targets:
            (raw_name, raw), (scaled_name, scaled) = extras["calibration"][t].items()
            lines.append(f"| {t} | ECE {raw:.3f} | {scaled_name}: ECE {scaled:.3f} |")
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
    atomic_write_text(out / "quality.json", json.dumps({"targets": list(targets), "results": results, "extras": extras,
                                                        "made": made, "earlier_defaults": list(earlier)},
                                                       indent=2, default=float) + "\n")
    print(f"written {out / 'quality.md'}")


if __name__ == "__main__":
    with on_all_cores():  # the C searches on every core, as in `stance train`: same figures, half the time
        main()
