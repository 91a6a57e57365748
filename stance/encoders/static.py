"""A static-embedding backend: the bundled MiniLM distilled into a table of token vectors.

``model2vec`` runs every token of MiniLM's vocabulary through the model once,
reduces the vectors with PCA and keeps the table; a sentence's vector is then
the mean of its tokens' vectors, with no transformer at scoring time. The
distillation happens here, from the verified bundled weights, with nothing
downloaded. It is a speed option: its accuracy is in ``experiments/README.md``.
"""

from __future__ import annotations

import json
import os
import shutil
import weakref
from pathlib import Path

import numpy as np

from stance.encoders.transformer import (DEFAULT_MODEL_PACKAGE, SentenceEncoder, _quiet_loading, default_model_path,
                                        first_line, weights_sha256)
from stance.errors import ModelIntegrityError
from stance.fileio import follow_umask, make_temp_dir, replace_folder
from stance.paths import OutputPathError, check_writable, data_home, refuse_holding, write_error

__all__ = ["StaticEncoder", "default_static_path", "distill_static", "ensure_static"]

PCA_DIMS = 256
#: What model2vec writes in a static model folder; distilling replaces the folder whole.
STATIC_ENTRIES = frozenset({"config.json", "model.safetensors", "tokenizer.json", "modules.json", "README.md",
                            "1_Normalize"})
_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # loaded StaticModel -> float32 table


def default_static_path() -> Path:
    """``$STANCE_STATIC``, else ``static-minilm`` in the per-user data folder."""
    if os.environ.get("STANCE_STATIC"):
        return Path(os.environ["STANCE_STATIC"]).expanduser()
    return data_home() / "static-minilm"


def distill_static(out: str | Path | None = None, pca_dims: int = PCA_DIMS, source: str | Path | None = None) -> Path:
    """Distill a sentence-transformers folder into a static model folder, written atomically.

    ``source`` is None for the bundled MiniLM (verified first), a sentence-transformers
    folder, or a model folder of ``stance train`` whose encoder was fine-tuned (its
    ``encoder/`` folder is distilled, so the static model keeps what fine-tuning taught).
    Only the bundled MiniLM is written to :func:`default_static_path`: ``--encoder static``
    trains on that folder and its models are pinned to its SHA-256, so another source needs ``out``.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    out = check_writable(out if out is not None else default_static_path(), "the static model folder",
                         folder=True, replaced=True, ours=is_static_folder)
    if source is not None and _is_bundled(source):
        source = None  # distilled as the default is, its SHA-256 checked first
    if source is not None and _same_folder(out, default_static_path()):
        raise OutputPathError(f"--source {source}: a static model of another encoder is not written over the default "
                              f"one ({out}), which --encoder static and the models trained with it use; "
                              "give --out FOLDER")
    folder = _source_folder(source)
    refuse_holding(out, "the static model folder", [folder])
    from model2vec.distill import distill

    try:
        with _quiet_loading():
            model = distill(model_name=str(folder), pca_dims=pca_dims)
    except Exception as err:  # noqa: BLE001 - a folder it cannot load: safetensors and tokenizers raise their own classes
        raise ModelIntegrityError(f"{folder}: cannot be distilled ({first_line(err)}); "
                                  "give a complete sentence-transformers folder") from None
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(out)
    except OSError as err:
        raise write_error(out, err, "cannot write the static model to") from None
    try:
        model.save_pretrained(str(staging))
        for made in staging.rglob("*"):  # the weights are written through a private temporary file (0600)
            follow_umask(made, folder=made.is_dir())
        replace_folder(staging, out)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(out, err, "cannot write the static model to") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out


def _same_folder(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one folder, through links and relative spellings, whether or not it exists yet."""
    return os.path.realpath(a) == os.path.realpath(b)


def _is_bundled(source: str | Path) -> bool:
    """Whether ``source`` is the bundled MiniLM's folder, so distilling it makes the default static model."""
    try:
        return _same_folder(source, default_model_path())
    except ModelIntegrityError:  # the bundled MiniLM is not installed, so this is not it
        return False


def distilled_from(path: str | Path) -> str | None:
    """The source folder model2vec recorded in a static model's ``config.json``, None when it records none."""
    try:
        recorded = json.loads((Path(path) / "config.json").read_text(encoding="utf-8")).get("tokenizer_name")
    except (OSError, ValueError, AttributeError):
        return None
    return recorded if isinstance(recorded, str) and recorded else None


def is_static_folder(path: Path) -> bool:
    """Whether a folder holds a static model and nothing else, so that distilling may replace it whole."""
    try:
        if any(entry.name not in STATIC_ENTRIES for entry in path.iterdir()):
            return False
        return json.loads((path / "config.json").read_text(encoding="utf-8")).get("model_type") == "model2vec"
    except (OSError, ValueError, AttributeError):
        return False


def _source_folder(source: str | Path | None) -> Path:
    """The sentence-transformers folder to distill (see :func:`distill_static`), its weights checked."""
    if source is None:
        SentenceEncoder().sha256  # refuses weights that fail the official SHA-256
        return default_model_path()
    source = Path(source)
    if (source / "stance.json").is_file():
        from stance.persist import read_metadata

        recorded = read_metadata(source)["encoder"]
        if recorded.get("kind") != "fine-tuned":
            raise ModelIntegrityError(f"{source}: its encoder is not fine-tuned; distill its encoder "
                                      "(or drop --source for the bundled MiniLM)")
        if not isinstance(recorded.get("path"), str) or not isinstance(recorded.get("sha256"), str):
            raise ModelIntegrityError(f"{source / 'stance.json'}: its fine-tuned encoder has no path or SHA-256; retrain")
        folder = source / recorded["path"]
        if weights_sha256(folder) != recorded["sha256"]:
            raise ModelIntegrityError(f"{folder}: weights differ from the SHA-256 in {source / 'stance.json'}; retrain")
        return folder
    weights_sha256(source)  # one-line error for a folder without weights
    return source


def ensure_static(path: str | Path | None = None) -> Path:
    """The static model folder of the bundled MiniLM, distilled first when it is not there yet.

    A folder distilled from another encoder is refused: training on it would silently
    use that encoder's table under the name of the default.
    """
    path = Path(path) if path is not None else default_static_path()
    if not (path / "model.safetensors").is_file():
        distill_static(path)
        return path
    source = distilled_from(path)
    # the bundled package's folder, wherever the environment was when it was distilled
    if source is not None and Path(source).parts[-2:] != (DEFAULT_MODEL_PACKAGE, "model"):
        raise ModelIntegrityError(f"{path}: is a static model of {source}, not of the bundled MiniLM that "
                                  "--encoder static uses; rebuild it with `stance distill`, and distill "
                                  "the other encoder with --out FOLDER")
    return path


class StaticEncoder(SentenceEncoder):
    """:class:`SentenceEncoder` for a model2vec static model folder (see :func:`distill_static`)."""

    @property
    def model_id(self) -> str:
        return f"static:{self.folder.resolve()}"

    @property
    def folder(self) -> Path:
        return Path(self.model_path) if self.model_path is not None else default_static_path()

    @property
    def sha256(self) -> str:
        try:
            return weights_sha256(self.folder)
        except ModelIntegrityError:
            raise ModelIntegrityError(f"{self.folder}: no static model here; build one with `stance distill`, "
                                      "or give the folder it wrote") from None

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """Mean of the tokens' vectors, L2-normalised; model2vec's ``encode`` in one sparse product.

        The table is held in float32 and every sentence is averaged at once
        (a sentence-by-token matrix times the table), which is several times
        faster than averaging per length bucket in float16. Text longer than
        model2vec's limits goes through ``encode`` so truncation stays its own.
        """
        from scipy import sparse

        model, table = self._model(), self._table()
        texts = list(texts)
        limit = model.max_length * model.median_token_length if model.max_length else None
        ids = model.tokenize(texts)
        lengths = np.fromiter(map(len, ids), dtype=np.int64, count=len(ids))
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        flat = np.fromiter((i for row in ids for i in row), dtype=np.int64, count=int(indptr[-1]))
        weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths).astype(np.float32)
        tokens = sparse.csr_matrix((weights, flat, indptr), shape=(len(texts), table.shape[0]))
        vectors = np.asarray(tokens @ table, dtype=np.float32)
        long = [i for i, t in enumerate(texts) if limit and len(t) > limit]
        if long:
            vectors[long] = np.asarray(model.encode([texts[i] for i in long]), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1, norms)

    def _table(self) -> np.ndarray:
        """The loaded model's token vectors in float32, made on first use."""
        model = self._model()
        table = _TABLES.get(model)
        if table is None:
            table = _TABLES[model] = _float32_table(model)
        return table

    @property
    def dimension(self) -> int:
        return int(self._model().dim)

    def _model(self):
        self._current()  # fails clearly on a missing folder
        model = self.__dict__.get("_loaded")
        if model is None:
            folder = self.folder
            from model2vec import StaticModel

            try:
                model = StaticModel.from_pretrained(str(folder), force_download=False)
            except Exception as err:  # noqa: BLE001 - safetensors and tokenizers raise their own classes
                raise ModelIntegrityError(f"{folder}: cannot be loaded as a static model ({first_line(err)}); "
                                          "rebuild it with `stance distill`") from None
            self.__dict__["_loaded"] = model
        return model


def _float32_table(model) -> np.ndarray:
    """Token vectors in float32 with model2vec's token mapping and per-token weights applied.

    One table per loaded model, shared by every encoder holding that model.
    """
    rows = np.arange(model.tokenizer.get_vocab_size())
    mapped = rows if model.token_mapping is None else model.token_mapping[rows]
    table = np.asarray(model.embedding[mapped], dtype=np.float32)
    if model.weights is not None:
        table *= np.asarray(model.weights, dtype=np.float32)[rows, None]
    return table
