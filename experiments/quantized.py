"""Is an int8 MiniLM worth shipping? Export to ONNX, quantize, measure speed and F1.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/quantized.py [--out experiments/quantized.md]

sentence-transformers' own ONNX and OpenVINO backends do not install from PyPI
beside sentence-transformers 6 (``optimum-onnx`` needs transformers < 4.58;
``optimum-intel`` pulls a CUDA build of torch 2.14), so stance exports the
bundled MiniLM with ``torch.onnx`` itself (``stance.encoders.onnx``, shipped as
``--backend onnx``) and this script quantizes that graph's weights to int8 with
``onnxruntime.quantization.quantize_dynamic``. It then compares, on the same
sentences and the same folds as ``experiments/quality.py``: sentences per
second of the encoder (batch 64, 2 threads), cosine similarity to the
PyTorch embeddings, and leave-one-seed-article-out macro-F1 of the default
configuration. Needs ``pip install 'stance[onnx]'``.

The bar: ship the quantized encoder only if macro-F1 drops by less than 0.01 for
every target.
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
        return f"{self.sha256}+onnx-int8"

    def _graph(self) -> Path:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        int8 = Path(self.work) / "minilm-int8.onnx"
        if not int8.is_file():
            quantize_dynamic(str(super()._graph()), str(int8), weight_type=QuantType.QInt8)
        return int8


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
        "PyTorch (sentence-transformers)": SentenceEncoder(cache=False),
        "ONNX fp32 (`--backend onnx`)": OnnxEncoder(cache=False),
        "ONNX int8 (dynamic)": Int8Encoder(work=work),
    }
    reference = encoders["PyTorch (sentence-transformers)"].encode_uncached(texts)
    rows = []
    for name, encoder in encoders.items():
        encoder.encode_uncached(texts[:64])  # warm-up
        seconds = best_of(3, lambda encoder=encoder: encoder.encode_uncached(texts))
        vectors = encoder.encode_uncached(texts)
        cosine = float(np.mean(np.sum(vectors * reference, axis=1)))
        oof = out_of_fold(labels, lambda encoder=encoder: StanceClassifier(encoder=encoder), targets=targets,
                          plans=["seed_loao"])
        run = oof["plans"]["seed_loao"]
        f1 = {t: classification_metrics(oof["y"][run["index"], j], run["pred"][run["index"], j], n_bootstrap=0)["macro_f1"]
              for j, t in enumerate(targets)}
        rows.append((name, len(texts) / seconds, cosine, f1))
        print(name, f"{len(texts) / seconds:.0f} sent/s", f"cos {cosine:.4f}", f1, flush=True)
    base_speed, base_f1 = rows[0][1], rows[0][3]
    lines = [
        "# Quantized MiniLM: speed and accuracy",
        "",
        f"Made by `HF_HUB_OFFLINE=1 .venv/bin/python experiments/quantized.py` on {time.strftime('%Y-%m-%d')}; "
        f"{len(texts)} labeled sentences (furniture excluded), batch 64, {os.cpu_count()} threads. F1: default "
        "configuration, leave-one-seed-article-out, same folds as `experiments/quality.py`.",
        "",
        "| encoder | sentences/s | speed-up | mean cosine to PyTorch | " + " | ".join(f"{t} macro-F1 (change)" for t in targets) + " |",
        "|---|---|---|---|" + "---|" * len(targets),
    ]
    for name, speed, cosine, f1 in rows:
        lines.append(f"| {name} | {speed:.0f} | {speed / base_speed:.2f}x | {cosine:.4f} | "
                     + " | ".join(f"{f1[t]:.3f} ({f1[t] - base_f1[t]:+.3f})" for t in targets) + " |")
    int8 = rows[-1]
    passes = all(base_f1[t] - int8[3][t] < 0.01 for t in targets)
    lines += ["", f"Verdict: int8 is {int8[1] / base_speed:.2f}x the PyTorch encoder and its macro-F1 changes by "
              + ", ".join(f"{int8[3][t] - base_f1[t]:+.3f} ({t})" for t in targets)
              + (". It passes the bar (a drop under 0.01)." if passes else ". It fails the bar (a drop under 0.01) and is not shipped.")]
    atomic_write_text(args.out, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
