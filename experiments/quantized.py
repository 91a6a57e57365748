"""Is an int8 MiniLM worth shipping? Export to ONNX, quantize, measure speed and F1.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/quantized.py [--out experiments/quantized.md]

sentence-transformers' own ONNX and OpenVINO backends do not install from PyPI
beside sentence-transformers 6 (``optimum-onnx`` needs transformers < 4.58;
``optimum-intel`` pulls a CUDA build of torch 2.14), so this script exports the
bundled MiniLM with ``torch.onnx`` and quantizes its weights to int8 with
``onnxruntime.quantization.quantize_dynamic``. It then compares, on the same
sentences and the same folds as ``experiments/quality.py``: sentences per
second of the encoder (batch 64, 2 threads), cosine similarity to the
PyTorch embeddings, and leave-one-seed-article-out macro-F1 of the default
configuration. Needs ``pip install onnx onnxruntime`` (not dependencies of
stance: the path is not shipped unless it passes the bar below).

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
from stance.embed import SentenceEncoder, default_model_path  # noqa: E402
from stance.evaluation import classification_metrics, out_of_fold  # noqa: E402
from stance.fileio import atomic_write_text  # noqa: E402
from stance.model import StanceClassifier  # noqa: E402
from stance.schema import label_targets, load_labels  # noqa: E402


def export(folder: Path, out: Path) -> tuple[Path, Path]:
    """MiniLM as ONNX (fp32) and its int8 dynamic quantization."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModel.from_pretrained(str(folder)).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tokenizer(["Serbia buys gas.", "A longer sentence about Belgrade and Brussels."], padding=True,
                       return_tensors="pt")
    names = ["input_ids", "attention_mask", "token_type_ids"]
    fp32, int8 = out / "minilm.onnx", out / "minilm-int8.onnx"
    torch.onnx.export(Encoder(model), tuple(sample[n] for n in names), str(fp32), input_names=names,
                      output_names=["hidden"], opset_version=17, dynamo=False,
                      dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return fp32, int8


class OnnxEncoder(SentenceEncoder):
    """MiniLM through onnxruntime: the same tokenizer, mean pooling and normalisation."""

    def __init__(self, onnx_path=None, model_path=None, batch_size=64, cache=False):
        super().__init__(model_path=model_path, batch_size=batch_size, cache=cache)
        self.onnx_path = onnx_path

    def get_params(self, deep=True):
        return {**super().get_params(deep), "onnx_path": self.onnx_path}

    @property
    def model_id(self) -> str:
        return f"onnx:{self.onnx_path}"

    def encode_uncached(self, texts):
        session, tokenizer = self._session()
        out = []
        for start in range(0, len(texts), self.batch_size):
            enc = tokenizer(list(texts[start : start + self.batch_size]), padding=True, truncation=True,
                            max_length=256, return_tensors="np")
            feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            out.append(pooled / np.linalg.norm(pooled, axis=1, keepdims=True))
        return np.concatenate(out).astype(np.float32)

    def _session(self):
        loaded = self.__dict__.get("_session_pair")
        if loaded is None:
            import onnxruntime as ort
            from transformers import AutoTokenizer

            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            loaded = (ort.InferenceSession(str(self.onnx_path), options, providers=["CPUExecutionProvider"]),
                      AutoTokenizer.from_pretrained(str(self.folder)))
            self.__dict__["_session_pair"] = loaded
        return loaded


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "experiments" / "quantized.md")
    args = parser.parse_args(argv)
    os.chdir(REPO)
    labels = load_labels(sorted((REPO / "labels").glob("*.jsonl")), articles=["seeds"])
    targets = label_targets(labels)
    texts = [r["text"] for r in labels if r["furniture"] is None]
    work = Path(tempfile.mkdtemp(prefix="stance-onnx-"))
    fp32_path, int8_path = export(default_model_path(), work)
    encoders = {
        "PyTorch (sentence-transformers)": SentenceEncoder(cache=False),
        "ONNX fp32": OnnxEncoder(fp32_path),
        "ONNX int8 (dynamic)": OnnxEncoder(int8_path),
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
