"""A fine-tuned encoder held in memory: what :mod:`stance.finetune` trains and a model folder saves.

Its weights' SHA-256 is that of the safetensors bytes a save writes, so a saved
model's recorded hash matches the encoder it was trained with.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

__all__ = ["TunedEncoder", "weights_digest"]


def _transformer(model):
    """The Hugging Face model inside a SentenceTransformer (its first module)."""
    return model[0].auto_model


def weights_digest(model) -> str:
    """SHA-256 of a SentenceTransformer's transformer weights as safetensors bytes (what a save writes)."""
    from safetensors.torch import save

    state = {k: v.contiguous() for k, v in _transformer(model).state_dict().items()}
    return hashlib.sha256(save(state)).hexdigest()


class TunedEncoder:
    """An in-memory fine-tuned encoder, used as a :class:`~stance.encoders.transformer.SentenceEncoder` is.

    A fold's model is never saved, so its vectors are not put in the disk cache.
    """

    def __init__(self, model, base_id: str, base_sha256: str):
        self.model = model
        self.base_id = base_id
        self.base_sha256 = base_sha256
        self.batch_size = 64
        self.model_path = None
        self._memo: dict = {}

    @property
    def model_id(self) -> str:
        return f"{self.base_id} (fine-tuned)"

    @property
    def sha256(self) -> str:
        digest = self.__dict__.get("_sha256")
        if digest is None:
            digest = self.__dict__["_sha256"] = weights_digest(self.model)
        return digest

    def transform(self, texts) -> np.ndarray:
        from stance.errors import texts_given

        texts = texts_given(texts, "texts")
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            vectors = self.model.encode(missing, batch_size=self.batch_size, show_progress_bar=False,
                                        normalize_embeddings=True)
            self._memo.update(zip(missing, np.asarray(vectors, dtype=np.float32)))
        if not texts:
            from stance.encoders.transformer import embedding_dimension

            return np.zeros((0, embedding_dimension(self.model)), dtype=np.float32)
        return np.stack([self._memo[t] for t in texts])

    def save(self, folder) -> None:
        """Write the tuned model as a sentence-transformers folder (weights as safetensors).

        The weights are written through a private temporary file (0600); every file
        saved is given the umask's mode, so a shared model is readable as its other files are.
        """
        from stance.encoders.transformer import _quiet_loading
        from stance.fileio import follow_umask

        with _quiet_loading():
            self.model.save(str(folder), safe_serialization=True)
        (Path(folder) / "README.md").unlink(missing_ok=True)  # a generated model card, not ours
        for made in Path(folder).rglob("*"):
            follow_umask(made, folder=made.is_dir())

    def __getstate__(self):
        raise TypeError("a TunedEncoder is saved with StanceClassifier.save, not pickled")
