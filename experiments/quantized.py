"""Lower precision for MiniLM: is bfloat16 or int8 worth using? Speed, vectors and F1.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/quantized.py [--out experiments/quantized.md]

sentence-transformers' own ONNX and OpenVINO backends do not install from PyPI
beside sentence-transformers 6 (``optimum-onnx`` needs transformers < 4.58;
``optimum-intel`` pulls a CUDA build of torch 2.14), so stance exports the
bundled MiniLM with ``torch.onnx`` itself (``stance.encoders.onnx``, shipped as
``--backend onnx``) and this script quantizes that graph's weights to int8 with
``onnxruntime.quantization.quantize_dynamic``. bfloat16 is PyTorch's autocast
(``stance.encoders.bf16``, shipped as ``--backend torch-bf16``). It then
compares, on every labeled sentence and the same folds as
``experiments/quality.py``: sentences per second of the encoder (batch 64, all
threads), cosine similarity to the float32 PyTorch embeddings, and macro-F1 of
the default configuration leaving one seed article out and in grouped 5-fold
over the written corpus, with the share of out-of-fold labels that agree with
float32's. Needs ``pip install 'stance[onnx]'``.

It does so twice. First each encoder's model is trained and tested on that
encoder's own vectors (what ``stance train`` would give with it). Then the
float32 models of the same folds score the test sentences with each encoder's
vectors: what a ``--backend`` does when it scores a model trained in float32,
whose head, temperature and abstention threshold were fitted on float32 vectors.

The bar: an encoder may replace float32 only if macro-F1 drops by less than
0.01 for every target under both plans.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import best_of  # noqa: E402 - experiments/bench.py, beside this script
from stance.encoders.bf16 import Bf16Encoder, cpu_has_bf16  # noqa: E402
from stance.encoders.onnx import OnnxEncoder  # noqa: E402
from stance.encoders.transformer import SentenceEncoder  # noqa: E402
from stance.evaluation import classification_metrics, out_of_fold  # noqa: E402
from stance.fileio import atomic_write_text  # noqa: E402
from stance.model import StanceClassifier  # noqa: E402
from stance.schema import label_targets, load_labels  # noqa: E402


class Int8Encoder(OnnxEncoder):
    """The shipped ONNX encoder with its graph's weights quantized to int8 (dynamic quantization)."""

    def __init__(self, model_path=None, batch_size=64, cache=False, work=None):
        super().__init__(model_path=model_path, batch_size=batch_size, cache=cache)
        self.work = work

    @property
    def cache_key(self) -> str:
        return f"{self.identity}+onnx-int8"

    def _graph(self) -> Path:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = Path(self.work) / "minilm-int8.onnx"
        if not int8.is_file():
            quantize_dynamic(str(super()._graph()), str(int8), weight_type=QuantType.QInt8)
        return int8


PLANS = {"seed_loao": "seed LOAO", "written_cv": "written CV"}
BAR = 0.01


class _FloatTrained(StanceClassifier):
    """The default model, fitted on float32 vectors, that also labels each test fold with other encoders' vectors.

    ``out_of_fold`` calls ``predict_proba`` once per fold, in the order of its
    plans' test indices, so the labels are kept in that order.
    """

    scored_by: dict = {}
    labels: dict = {}

    def predict_proba(self, X):
        items = list(X)
        own = self.encoder_
        for name, encoder in self.scored_by.items():
            self.encoder_ = encoder
            try:
                probas = super().predict_proba(items)
            finally:
                self.encoder_ = own
            decided = np.stack([self.decide(t, p) for t, p in zip(self.targets_, probas)], axis=1)
            self.labels.setdefault(name, []).append(decided)
        return super().predict_proba(items)


def _scored(oof, pred_of, targets) -> tuple[dict, dict]:
    """Per plan, the labels in test order, and macro-F1 per (plan, target)."""
    f1, pred = {}, {}
    for plan, run in oof["plans"].items():
        pred[plan] = pred_of(plan, run)
        for j, t in enumerate(targets):
            f1[plan, t] = classification_metrics(oof["y"][run["index"], j], pred[plan][:, j], n_bootstrap=0)["macro_f1"]
    return f1, pred


def measured(encoder, labels, texts, targets, reference, make_model=None) -> dict:
    """Speed (best of 3), cosine to the float32 vectors, and out-of-fold labels and F1 per plan."""
    encoder.encode_uncached(texts[:64])  # warm-up
    seconds = best_of(3, lambda: encoder.encode_uncached(texts))
    vectors = encoder.encode_uncached(texts)
    cosine = np.sum(vectors * reference, axis=1)
    # the default as these rows were made (before renamed copies and the pressure rule joined it)
    make_model = make_model or (lambda: StanceClassifier(encoder=encoder, renamed_copies=False, pressure_rule=False))
    oof = out_of_fold(labels, make_model, targets=targets, plans=list(PLANS))
    f1, pred = _scored(oof, lambda plan, run: run["pred"][run["index"]], targets)
    return {"speed": len(texts) / seconds, "cosine": float(cosine.mean()), "worst": float(cosine.min()),
            "f1": f1, "pred": pred, "oof": oof}


def float_trained(oof, labels_in_call_order: list, targets) -> dict:
    """F1 and labels of the float32 fold models scoring with another encoder's vectors."""
    stacked = np.concatenate(labels_in_call_order)
    start, by_plan = 0, {}
    for plan, run in oof["plans"].items():
        by_plan[plan] = stacked[start:start + len(run["index"])]
        start += len(run["index"])
    if start != len(stacked):
        raise RuntimeError(f"{len(stacked)} labels kept for {start} test sentences: "
                           "predict_proba was called outside the test folds")
    f1, pred = _scored(oof, lambda plan, run: by_plan[plan], targets)
    return {"f1": f1, "pred": pred}


def _agreement(row, base) -> float:
    return float(np.mean(np.concatenate([(row["pred"][plan] == base["pred"][plan]).ravel() for plan in PLANS])))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "quantized.md")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    labels = load_labels(sorted((REPO / "labels").glob("*.jsonl")), articles=["seeds"])
    targets = label_targets(labels)
    texts = [r["text"] for r in labels if r["furniture"] is None]
    work = Path(tempfile.mkdtemp(prefix="stance-onnx-"))
    encoders = {
        "PyTorch fp32 (`--backend torch`)": SentenceEncoder(cache=False),
        "PyTorch bf16 (`--backend torch-bf16`)": Bf16Encoder(cache=False),
        "ONNX fp32 (`--backend onnx`)": OnnxEncoder(cache=False),
        "ONNX int8 (dynamic)": Int8Encoder(work=work),
    }
    float32 = next(iter(encoders.values()))
    reference = float32.encode_uncached(texts)
    _FloatTrained.scored_by = {name: encoder for name, encoder in list(encoders.items())[1:]}
    rows = {}
    for name, encoder in encoders.items():
        make = (lambda: _FloatTrained(encoder=float32)) if encoder is float32 else None
        rows[name] = measured(encoder, labels, texts, targets, reference, make_model=make)
        print(name, f"{rows[name]['speed']:.0f} sent/s", f"cos {rows[name]['cosine']:.5f}", rows[name]["f1"], flush=True)
    base = next(iter(rows.values()))
    served = {name: float_trained(base["oof"], _FloatTrained.labels[name], targets) for name in _FloatTrained.scored_by}
    columns = [(plan, t) for plan in PLANS for t in targets]
    lines = [
        "# Lower precision for MiniLM: speed and accuracy",
        "",
        f"Made by `HF_HUB_OFFLINE=1 .venv/bin/python experiments/quantized.py` on {time.strftime('%Y-%m-%d')}; "
        f"{len(texts)} labeled sentences (furniture excluded), batch 64, {os.cpu_count()} threads, "
        f"bfloat16 in hardware: {'yes' if cpu_has_bf16() else 'no'}. F1: the default configuration's macro-F1 "
        "leaving one seed article out and in grouped 5-fold over the written corpus (same folds as "
        "`experiments/quality.py`); in brackets the change from PyTorch fp32. Agreement: the share of "
        "out-of-fold labels (both targets, both plans) equal to fp32's.",
        "",
        "## Trained and scored with the same encoder",
        "",
        "| encoder | sentences/s | speed-up | cosine to fp32 (mean / lowest) | "
        + " | ".join(f"{PLANS[plan]} {t} macro-F1" for plan, t in columns) + " | labels as fp32 |",
        "|---|---|---|---|" + "---|" * len(columns) + "---|",
    ]
    verdicts = []
    for name, row in rows.items():
        same = _agreement(row, base)
        lines.append(f"| {name} | {row['speed']:.0f} | {row['speed'] / base['speed']:.2f}x | "
                     f"{row['cosine']:.5f} / {row['worst']:.5f} | "
                     + " | ".join(f"{row['f1'][c]:.3f} ({row['f1'][c] - base['f1'][c]:+.3f})" for c in columns)
                     + f" | {same:.1%} |")
        if row is base:
            continue
        worst = min(row["f1"][c] - base["f1"][c] for c in columns)
        verdicts.append(f"- {name}: {row['speed'] / base['speed']:.2f}x fp32's speed; its macro-F1 changes by "
                        f"{worst:+.3f} at worst: {'passes' if -worst < BAR else 'fails'} the bar (a drop under {BAR}).")
    lines += ["", "## Trained on float32 vectors, scored with the encoder (as a `--backend` scores a saved model)", "",
              "The float32 models of the folds above, each scoring its test sentences with the encoder's vectors.",
              "",
              "| encoder | " + " | ".join(f"{PLANS[plan]} {t} macro-F1" for plan, t in columns) + " | labels as fp32 |",
              "|---|" + "---|" * len(columns) + "---|"]
    for name, row in served.items():
        same = _agreement(row, base)
        lines.append(f"| {name} | " + " | ".join(f"{row['f1'][c]:.3f} ({row['f1'][c] - base['f1'][c]:+.3f})"
                                               for c in columns) + f" | {same:.1%} |")
        worst = min(row["f1"][c] - base["f1"][c] for c in columns)
        verdicts.append(f"- {name}, scoring a float32-trained model: its macro-F1 changes by {worst:+.3f} at worst, "
                        f"{same:.1%} of labels as fp32: "
                        f"{'passes' if -worst < BAR else 'fails'} the bar.")
    lines += ["", "Verdicts:", "", *verdicts]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
