"""Sentence encoders and the embedding cache they share.

Every encoder is duck-typed; what the rest of stance relies on is:

* ``transform(list[str]) -> np.ndarray`` of float32, shape ``(n, dim)``, rows
  L2-normalised (a single string is refused);
* ``model_id``: a readable name (``all-MiniLM-L6-v2``, a folder, ``static:<folder>``);
* ``sha256``: the SHA-256 of the weights, what a saved model records and checks
  on load; bundled models (MiniLM, MPNet) are verified against the official one;
* ``cache_key``: the key its vectors are filed under in the disk cache, for an
  encoder that uses it (subclasses of :class:`SentenceEncoder`): its ``identity``,
  the weights' SHA-256 and that of the folder's settings (:func:`encoder_identity`),
  with the backend that runs it;
* ``batch_size``: sentences per forward pass;
* ``model_path``: the folder it was given (None: the bundled model).

Where each one lives, and where a new one goes (a module here, a line in
:func:`make_encoder` if ``--encoder`` should name it, a line in ``_HOME``):

* :mod:`.transformer` -- :class:`SentenceEncoder`, sentence-transformers run by
  PyTorch; the bundled MiniLM (:func:`default_model_path`, :func:`weights_sha256`).
* :mod:`.onnx` -- :class:`OnnxEncoder`, the same models run by onnxruntime.
* :mod:`.bf16` -- :class:`Bf16Encoder`, the same models run by PyTorch in bfloat16.
* :mod:`.static` -- :class:`StaticEncoder`, MiniLM distilled by model2vec.
* :mod:`.tuned` -- :class:`TunedEncoder`, a fine-tuned model in memory
  (trained by :mod:`stance.finetune`).
* :mod:`.mpnet` -- :func:`mpnet_path`, all-mpnet-base-v2 unpacked from its wheels.
* :mod:`.cache` -- :class:`EmbeddingCache`, vectors on disk keyed by ``cache_key``.

A model folder records its encoder's kind and rebuilds it on load; a new kind
that must do more than a :class:`SentenceEncoder` folder does there also needs
a line in :func:`stance.persist.recorded_kind` and :func:`stance.persist.read_model`.

Importing this package imports none of torch, onnxruntime, sentence-transformers
or model2vec: the names below are loaded on first use.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path

__all__ = [
    "Bf16Encoder",
    "DEFAULT_MODEL_SHA256",
    "EmbeddingCache",
    "OnnxEncoder",
    "SentenceEncoder",
    "StaticEncoder",
    "TunedEncoder",
    "default_model_path",
    "encoder_identity",
    "make_encoder",
    "mpnet_path",
    "weights_sha256",
]

_HOME = {
    "Bf16Encoder": "stance.encoders.bf16",
    "DEFAULT_MODEL_SHA256": "stance.encoders.transformer",
    "EmbeddingCache": "stance.encoders.cache",
    "OnnxEncoder": "stance.encoders.onnx",
    "SentenceEncoder": "stance.encoders.transformer",
    "StaticEncoder": "stance.encoders.static",
    "TunedEncoder": "stance.encoders.tuned",
    "default_model_path": "stance.encoders.transformer",
    "encoder_identity": "stance.encoders.transformer",
    "mpnet_path": "stance.encoders.mpnet",
    "weights_sha256": "stance.encoders.transformer",
}


def make_encoder(encoder_path: str | Path | None):
    """The encoder a ``--encoder`` value names: None (bundled MiniLM), ``static``, ``mpnet`` or a folder."""
    from stance.encoders.transformer import SentenceEncoder
    from stance.paths import given_path

    if encoder_path is not None:
        given_path(encoder_path, "encoder", "give a sentence-transformers folder, 'static' or 'mpnet' "
                   "(None for the bundled all-MiniLM-L6-v2)")
    if encoder_path is not None and str(encoder_path) == "static":
        from stance.encoders.static import StaticEncoder, ensure_static

        return StaticEncoder(model_path=ensure_static())
    if encoder_path is not None and str(encoder_path) == "mpnet":
        from stance.encoders.mpnet import mpnet_path

        return SentenceEncoder(model_path=mpnet_path())
    return SentenceEncoder(model_path=encoder_path)


def __getattr__(name):
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    raise AttributeError(f"module 'stance.encoders' has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
