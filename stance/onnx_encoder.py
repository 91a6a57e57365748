"""The sentence encoder run by onnxruntime instead of PyTorch.

Same model, same tokenizer, same mean pooling and normalisation, so the
vectors match the PyTorch ones to float precision and a model trained on one
scores with the other. It is about 1.4 times as fast on a CPU, and a process
that scores with it never imports torch, which is most of a cold start.

The ONNX graph is exported from the model's weights on first use (this once
needs torch and ``onnx``) and kept under ``$STANCE_HOME/onnx/<weights SHA-256>/``.
Needs ``pip install 'stance[onnx]'``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from stance.embed import SentenceEncoder, _quiet_loading
from stance.errors import InputError, ModelIntegrityError
from stance.paths import data_home

__all__ = ["OnnxEncoder", "onnx_path"]

_INSTALL = "pip install 'stance[onnx]'"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxEncoder(SentenceEncoder):
    """A :class:`~stance.embed.SentenceEncoder` whose forward pass runs in onnxruntime.

    Takes the same parameters. Its vectors are cached apart from PyTorch's
    (they agree to about 1e-6, not bit for bit).
    """

    @property
    def cache_key(self) -> str:
        return f"{self.sha256}+onnx"

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Embed without the memo: tokenize, run the graph, mean-pool, L2-normalise."""
        session, tokenizer = self._model()
        texts = [str(t).strip() for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")  # batches of similar length pad less
        batches = []
        for start in range(0, len(texts), self.batch_size):
            encoded = tokenizer.encode_batch([texts[i] for i in order[start : start + self.batch_size]])
            feeds = {name: np.array([getattr(e, attr) for e in encoded], dtype=np.int64)
                     for name, attr in zip(_INPUTS, ("ids", "attention_mask", "type_ids"))}
            hidden = session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            batches.append(pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None))
        if not batches:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = np.empty((len(texts), batches[0].shape[1]), dtype=np.float32)
        vectors[order] = np.concatenate(batches)  # back to the order given
        return vectors

    @property
    def dimension(self) -> int:
        session, _ = self._model()
        return int(session.get_outputs()[0].shape[-1])

    def _model(self):
        loaded = self.__dict__.get("_loaded")
        if loaded is None:
            for package in ("onnxruntime", "tokenizers"):
                if importlib.util.find_spec(package) is None:
                    raise InputError(f"the onnx backend needs {package}; run: {_INSTALL}, or use --backend torch")
            import onnxruntime as ort
            from tokenizers import Tokenizer

            folder = self.folder
            max_length = _check_supported(folder)
            graph = self._graph()
            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3
            session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            tokenizer.enable_truncation(max_length=max_length)
            tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]") or 0)
            loaded = self.__dict__["_loaded"] = (session, tokenizer)
        return loaded


    def _graph(self) -> Path:
        """The ONNX file to run, exported on first use."""
        graph = onnx_path(self.sha256)
        if not graph.is_file():
            export_onnx(self.folder, graph)
        return graph


def onnx_path(sha256: str) -> Path:
    """Where the exported graph of the model whose weights have this SHA-256 is kept."""
    return data_home() / "onnx" / sha256 / "model.onnx"


def _check_supported(folder: Path) -> int:
    """The model's token limit, after checking it is a transformer with mean pooling and nothing after.

    Other pooling modes and dense layers would need more than this module does;
    the PyTorch backend runs them.
    """
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        max_length = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"]
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise ModelIntegrityError(f"{folder}: not a sentence-transformers folder the onnx backend can read ({err}); "
                                  "use --backend torch") from None
    mean_only = pooling.get("pooling_mode_mean_tokens") and not any(
        v for k, v in pooling.items() if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens")
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or not mean_only:
        raise ModelIntegrityError(f"{folder}: the onnx backend runs a transformer with mean pooling "
                                  f"(this model: {' + '.join(kinds)}); use --backend torch")
    if not (folder / "tokenizer.json").is_file():
        raise ModelIntegrityError(f"{folder}: no tokenizer.json for the onnx backend; use --backend torch")
    return int(max_length)


def export_onnx(folder: str | Path, target: str | Path) -> Path:
    """Export the transformer in ``folder`` to an ONNX graph at ``target`` (written atomically)."""
    if importlib.util.find_spec("onnx") is None:
        raise InputError(f"exporting the model for the onnx backend needs onnx; run: {_INSTALL}")
    import torch
    from transformers import AutoModel

    folder, target = Path(folder), Path(target)
    with _quiet_loading():
        model = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            return self.inner(input_ids=input_ids, attention_mask=attention_mask,
                              token_type_ids=token_type_ids).last_hidden_state

    sample = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in _INPUTS)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".export-", suffix=".onnx")
    os.close(fd)
    try:
        with _quiet_loading(), torch.no_grad():
            torch.onnx.export(_Hidden(model), sample, tmp, input_names=list(_INPUTS), output_names=["hidden"],
                              opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*_INPUTS, "hidden"]})
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target
