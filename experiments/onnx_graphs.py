"""Can the ONNX graph of MiniLM run faster? Fused attention and batch sizes, measured.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/onnx_graphs.py [--out experiments/onnx_graphs.md]

``--backend onnx`` runs the graph ``stance.encoders.onnx.export_onnx`` writes:
PyTorch's scaled-dot-product attention, exported op by op, and onnxruntime's own
graph optimisations at load. onnxruntime also ships an offline optimiser for
BERT-like graphs (``onnxruntime.transformers.optimizer``) that fuses attention,
layer norms and GELU into single kernels, but it only recognises attention
written out as in the eager implementation. This script exports the bundled
MiniLM both ways into a temporary folder, optimises each, and measures every
graph on the same sentences as ``experiments/bench.py`` (every line of seeds/
and labels/articles/, two prefixed copies): sentences per second of the encoder
(tokenize, run, mean-pool, normalise; best of three), at batch 64 (the shipped
setting) and 32, and the largest difference of any vector component from the
shipped graph's. Needs ``pip install 'stance[onnx]'`` and torch (to export).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import best_of, corpus  # noqa: E402


def fused(graph: Path, target: Path) -> str:
    """``graph`` through onnxruntime's BERT optimiser, saved at ``target``; returns the fused operators it made."""
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = optimize_model(str(graph), model_type="bert", num_heads=12, hidden_size=384)
    optimized.save_model_to_file(str(target))
    counts = optimized.get_fused_operator_statistics()
    return ", ".join(f"{n} {name}" for name, n in counts.items() if n) or "none"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="also write the table to this Markdown file")
    args = parser.parse_args()

    import onnxruntime as ort

    from stance.encoders.onnx import OnnxEncoder, export_onnx
    from stance.encoders.transformer import default_model_path

    texts = [line for article in corpus(2) for line in article.splitlines()]
    folder = default_model_path()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["STANCE_HOME"] = str(tmp / "home")
        encoder = OnnxEncoder(folder)
        encoder.cache = False
        _, tokenizer = encoder._model()  # exports the shipped graph into the temporary home
        shipped = encoder._graph()
        export_onnx(folder, tmp / "eager.onnx", attn_implementation="eager")
        graphs = {"shipped (scaled-dot-product attention)": (shipped, "none (onnxruntime's own at load)"),
                  "eager attention": (tmp / "eager.onnx", "none (onnxruntime's own at load)")}
        graphs["shipped, BERT optimiser"] = (tmp / "sdpa.opt.onnx", fused(shipped, tmp / "sdpa.opt.onnx"))
        graphs["eager attention, BERT optimiser"] = (tmp / "eager.opt.onnx", fused(tmp / "eager.onnx", tmp / "eager.opt.onnx"))

        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count() or 1
        options.log_severity_level = 3
        reference = None
        rows = []
        for name, (graph, fusions) in graphs.items():
            encoder.__dict__["_loaded"] = (ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"]),
                                           tokenizer)
            encoder.batch_size = 64
            vectors = encoder.encode_uncached(texts)
            reference = vectors if reference is None else reference
            speeds = {}
            for batch in (64, 32):
                encoder.batch_size = batch
                speeds[batch] = len(texts) / best_of(3, lambda: encoder.encode_uncached(texts))
            difference = float(np.abs(vectors - reference).max())
            rows.append(f"| {name} | {fusions} | {speeds[64]:.0f} | {speeds[32]:.0f} | {difference:.1e} |")
    table = "\n".join([
        "| graph | fused operators | sentences/s, batch 64 | batch 32 | max vector difference |",
        "|---|---|---|---|---|", *rows, "",
        f"{len(texts)} sentences; {os.cpu_count()} threads; onnxruntime {ort.__version__}.",
        "Command: `HF_HUB_OFFLINE=1 .venv/bin/python experiments/onnx_graphs.py --out experiments/onnx_graphs.md`.",
    ])
    print(table)
    if args.out:
        args.out.write_text(table + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
