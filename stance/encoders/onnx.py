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
from pathlib import Path

import numpy as np

from stance.encoders.transformer import SentenceEncoder, _quiet_loading, first_line, unit_rows
from stance.errors import InputError, ModelIntegrityError
from stance.fileio import atomic_write_text, follow_umask, sha256_file, sweep_leftovers, temp_file_beside
from stance.paths import data_home, write_error

__all__ = ["OnnxEncoder", "onnx_path"]

_INSTALL = "pip install 'stance[onnx]'"
_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class OnnxEncoder(SentenceEncoder):
    """A :class:`~stance.encoders.transformer.SentenceEncoder` whose forward pass runs in onnxruntime.

    Takes the same parameters. Its vectors are cached apart from PyTorch's
    (they agree to about 1e-6, not bit for bit).
    """

    @property
    def cache_key(self) -> str:
        return f"{self.identity}+onnx"

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Embed without the memo: tokenize, run the graph, mean-pool, L2-normalise."""
        session, tokenizer = self._model()
        inputs = {i.name for i in session.get_inputs()}  # MPNet takes no token types
        texts = [str(t).strip() for t in texts]
        order = np.argsort([-len(t) for t in texts], kind="stable")  # batches of similar length pad less
        batches = []
        for start in range(0, len(texts), self.batch_size):
            encoded = tokenizer.encode_batch([texts[i] for i in order[start : start + self.batch_size]])
            feeds = {name: np.array([getattr(e, attr) for e in encoded], dtype=np.int64)
                     for name, attr in zip(_INPUTS, ("ids", "attention_mask", "type_ids")) if name in inputs}
            hidden = session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
            batches.append(unit_rows(pooled))
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
        self._current()
        loaded = self.__dict__.get("_loaded")
        if loaded is None:
            for package in ("onnxruntime", "tokenizers"):
                if importlib.util.find_spec(package) is None:
                    raise InputError(f"the onnx backend needs {package}; run: {_INSTALL}, or use --backend torch")
            import onnxruntime as ort
            from tokenizers import Tokenizer

            folder = self.folder
            max_length = _check_supported(folder)
            try:
                tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            except Exception as err:  # noqa: BLE001 - tokenizers raises a bare Exception for a file it cannot parse
                raise ModelIntegrityError(f"{folder / 'tokenizer.json'}: cannot be read as a tokenizer "
                                          f"({first_line(err)[:200]}); give a complete local model folder") from None
            graph = self._graph()  # exported on first use: after what can be checked quickly
            options = ort.SessionOptions()
            options.intra_op_num_threads = os.cpu_count() or 1
            options.log_severity_level = 3
            try:
                session = ort.InferenceSession(str(graph), options, providers=["CPUExecutionProvider"])
            except Exception as err:  # noqa: BLE001 - onnxruntime raises its own classes for a file it cannot read
                raise ModelIntegrityError(f"{graph}: onnxruntime cannot load it ({first_line(err)[:200]}); "
                                          f"delete {graph.parent} to export it again, or use --backend torch") from None
            tokenizer.enable_truncation(max_length=max_length)
            tokenizer.enable_padding(pad_id=_pad_id(folder, tokenizer))
            loaded = self.__dict__["_loaded"] = (session, tokenizer)
        return loaded


    def _graph(self) -> Path:
        """The ONNX file to run: exported on first use, and again when it no longer matches the SHA-256
        recorded beside it at export (a truncated or replaced file would give other vectors, silently)."""
        import warnings

        from stance.errors import StanceWarning

        from stance.paths import OutputPathError, special_file

        graph = onnx_path(self.identity)
        if kind := special_file(graph):  # never replaced: someone put it there
            raise OutputPathError(f"{graph}: is {kind}, where stance keeps its ONNX export; remove it, "
                            "or set STANCE_HOME to another folder")
        sweep_leftovers(graph.parent)  # an export killed part-way leaves a temporary of the graph's size
        state = _export_state(graph)
        if state in ("intact", "unrecorded, and no new export can go there"):
            return graph  # the second: exported before its hash was recorded, and used as before
        if state == "missing" and (earlier := _earlier_export(self.identity)) is not None:
            return earlier
        if state == "changed":
            warnings.warn(f"{graph}: differs from the export recorded beside it; exporting it again",
                          StanceWarning, stacklevel=2)
        export_onnx(self.folder, graph)
        return graph


def _digest_path(graph: Path) -> Path:
    return graph.with_name(graph.name + ".sha256")


def _recorded_sha256(graph: Path) -> str | None:
    """The SHA-256 written beside an export (None for an export made before it was recorded, or none)."""
    try:
        return _digest_path(graph).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None


def _export_state(graph: Path) -> str:
    """``intact`` (its SHA-256 matches the one recorded at export), ``changed``, ``missing``, or
    ``unrecorded, and no new export can go there`` (an export older than the recorded hash, read-only);
    an unrecorded one where a new export can go counts as missing."""
    from stance.paths import folder_problem

    if not graph.is_file():
        return "missing"
    recorded = _recorded_sha256(graph)
    if recorded is None:
        return "missing" if folder_problem(graph.parent) is None else "unrecorded, and no new export can go there"
    return "intact" if recorded == sha256_file(graph) else "changed"


def export_problem(identity: str) -> str | None:
    """Why the export of the model of this identity (:func:`~stance.encoders.transformer.encoder_identity`) cannot
    serve: it would have to be written (missing, or changed since export) where nothing can be written (a read-only
    STANCE_HOME); else None."""
    from stance.paths import folder_problem

    graph = onnx_path(identity)
    problem = folder_problem(graph.parent)
    if problem is None:
        return None  # whatever its state, _graph can export it again
    state = _export_state(graph)
    if state == "missing" and _earlier_export(identity) is None:
        return f"the onnx export cannot be written: {problem}"
    if state == "changed":
        return f"the onnx export {graph} differs from the SHA-256 recorded beside it and cannot be written again: {problem}"
    return None


def _earlier_export(identity: str) -> Path | None:
    """Where no export can be written (a read-only STANCE_HOME), an intact graph that an earlier version filed
    under the weights' SHA-256 alone (the graph runs the transformer only: tokenizer and pooling are applied
    here, from the folder); None where a new export can be written, or there is none."""
    from stance.paths import folder_problem

    earlier = data_home() / "onnx" / identity.split(".")[0] / "model.onnx"
    if folder_problem(onnx_path(identity).parent) is None or earlier.parent.name == identity:
        return None
    return earlier if _export_state(earlier) in ("intact", "unrecorded, and no new export can go there") else None


def onnx_path(identity: str) -> Path:
    """Where the exported graph of the model of this identity (weights and settings) is kept."""
    return data_home() / "onnx" / identity / "model.onnx"


def _check_supported(folder: Path) -> int:
    """The model's token limit, after checking it is a transformer with mean pooling and nothing after.

    Other pooling modes and dense layers would need more than this module does;
    the PyTorch backend runs them.
    """
    try:
        modules = json.loads((folder / "modules.json").read_text(encoding="utf-8"))
        kinds = [m["type"].rsplit(".", 1)[-1] for m in modules]
        pooling = json.loads((folder / modules[1]["path"] / "config.json").read_text(encoding="utf-8"))
        max_length = _max_length(folder)
    except (OSError, ValueError, KeyError, IndexError) as err:
        raise ModelIntegrityError(f"{folder}: not a sentence-transformers folder the onnx backend can read ({err}); "
                                  "use --backend torch") from None
    # sentence-transformers 5 writes one flag per pooling mode; 6 writes "pooling_mode": "mean"
    modes = {k for k, v in pooling.items() if k.startswith("pooling_mode_") and v}
    if isinstance(pooling.get("pooling_mode"), str):
        modes.add(f"pooling_mode_{pooling['pooling_mode']}_tokens")
    mean_only = modes == {"pooling_mode_mean_tokens"}
    if kinds[:2] != ["Transformer", "Pooling"] or set(kinds[2:]) - {"Normalize"} or not mean_only:
        raise ModelIntegrityError(f"{folder}: the onnx backend runs a transformer with mean pooling "
                                  f"(this model: {' + '.join(kinds)}); use --backend torch")
    if not (folder / "tokenizer.json").is_file():
        raise ModelIntegrityError(f"{folder}: no tokenizer.json for the onnx backend; use --backend torch")
    return int(max_length)


def _pad_id(folder: Path, tokenizer) -> int:
    """The padding token's id, as the model's tokenizer config names it ([PAD] for BERT, <pad> for MPNet)."""
    try:
        pad = json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8")).get("pad_token")
    except (OSError, ValueError):
        pad = None
    if isinstance(pad, dict):
        pad = pad.get("content")
    found = tokenizer.token_to_id(pad) if isinstance(pad, str) else None
    return found if found is not None else tokenizer.token_to_id("[PAD]") or 0


def _max_length(folder: Path) -> int:
    """The model's token limit: ``max_seq_length`` (sentence-transformers 5) or the tokenizer's (6)."""
    config = json.loads((folder / "sentence_bert_config.json").read_text(encoding="utf-8"))
    if "max_seq_length" in config:
        return int(config["max_seq_length"])
    return int(json.loads((folder / "tokenizer_config.json").read_text(encoding="utf-8"))["model_max_length"])


def export_onnx(folder: str | Path, target: str | Path, attn_implementation: str | None = None) -> Path:
    """Export the transformer in ``folder`` to an ONNX graph at ``target`` (written atomically).

    ``attn_implementation`` ("eager", "sdpa") picks how attention is written into the graph;
    None keeps the model's own choice, which is what the backend ships
    (``experiments/onnx_graphs.py`` measured "eager" as no faster).
    """
    if importlib.util.find_spec("onnx") is None:
        raise InputError(f"exporting the model for the onnx backend needs onnx; run: {_INSTALL}")
    import torch
    from transformers import AutoModel

    folder, target = Path(folder), Path(target)
    with _quiet_loading():
        chosen = {} if attn_implementation is None else {"attn_implementation": attn_implementation}
        model = AutoModel.from_pretrained(str(folder), local_files_only=True, **chosen).eval()

    import inspect

    names = [n for n in _INPUTS if n in inspect.signature(model.forward).parameters]  # MPNet: no token types

    class _Hidden(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, *tensors):
            return self.inner(**dict(zip(names, tensors))).last_hidden_state

    sample = tuple(torch.ones((2, 8), dtype=torch.int64) for _ in names)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = temp_file_beside(target)
    except OSError as err:
        raise _export_error(target, err) from None
    try:
        follow_umask(fd)
        os.close(fd)
        with _quiet_loading(), torch.no_grad():
            torch.onnx.export(_Hidden(model), sample, tmp, input_names=names, output_names=["hidden"],
                              opset_version=17, dynamo=False,
                              dynamic_axes={n: {0: "batch", 1: "tokens"} for n in [*names, "hidden"]})
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        atomic_write_text(_digest_path(target), sha256_file(tmp) + "\n")  # what _graph checks before each use
        os.replace(tmp, target)
    except OSError as err:
        raise _export_error(target, err) from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def _export_error(target: Path, err: OSError):
    """One line for an export that cannot be written: where, why, and the way around it."""
    return write_error(target, err, "cannot write the ONNX export", "set STANCE_HOME to a writable folder, or use --backend torch")
