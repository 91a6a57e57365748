"""Model folders: ``stance.json`` metadata beside ``head.joblib``, written atomically.

A joblib file is a pickle and runs code when loaded. So the metadata records
the head file's SHA-256, and loading refuses a head whose hash differs before
unpickling it. Only load model folders you made or trust.

``stance.json`` also records the SHA-256 of its own fields (``metadata_sha256``),
so a hand edit (a threshold, a class name, the versions) is refused rather than
half applied: the scores a model gives must be the ones its id stands for.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

from stance.actors import ACTOR_FEATURES
from stance.errors import InputError, ModelIntegrityError, ModelNotFoundError, StanceWarning, ValueInputError, kind_of
from stance.fileio import atomic_write_text, make_temp_dir, parse_json, read_at_most, replace_folder, sha256_file
from stance.paths import OutputPathError, not_a_file, write_error

__all__ = ["FORMAT", "FORMAT_VERSION", "ModelParts", "package_versions", "read_metadata", "read_model", "save_model"]

FORMAT = "stance-model"
FORMAT_VERSION = 5
# 3 adds fine-tuned encoders, kept in the model folder; 4 the metadata's own SHA-256; 5 the model's id from its content
READABLE_VERSIONS = (2, 3, 4, 5)
SEAL_KEY = "metadata_sha256"
METADATA_FILE = "stance.json"
HEAD_FILE = "head.joblib"
ENCODER_DIR = "encoder"
_PACKAGES = ("stance", "scikit-learn", "sentence-transformers", "torch", "transformers", "numpy", "scipy", "joblib",
             "onnxruntime")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages a model depends on."""
    versions = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_description() -> str:
    """The CPU model and core count: another CPU's last digits can flip a near-tie in training."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text("utf-8", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores"


def recorded_kind(encoder) -> str:
    """How a saved model records its encoder: ``static``, ``fine-tuned`` or ``sentence-transformers``."""
    return {"StaticEncoder": "static", "TunedEncoder": "fine-tuned"}.get(type(encoder).__name__,
                                                                         "sentence-transformers")


def model_features(model) -> dict:
    """The feature settings of a fitted model, as ``stance.json`` records them and its id covers them."""
    actors = bool(getattr(model, "actors", False))
    return {"context": bool(getattr(model, "context", False)), "ngrams": getattr(model, "vectorizer_", None) is not None,
            "actors": actors, "actor_columns": int(getattr(model, "actor_columns_", 0)) if actors else 0,
            "renamed_copies": bool(getattr(model, "renamed_copies", False)),
            # a weight without copies weighs nothing: recorded as 1, so that it never changes an id
            "copy_weight": float(getattr(model, "copy_weight", 1.0)) if getattr(model, "renamed_copies", False) else 1.0,
            "question_rule": bool(getattr(model, "question_rule", False))} | (
        # recorded only when on, so that a model without it keeps the id it always had
        {"pressure_rule": True} if getattr(model, "pressure_rule", False) else {})


def fitted_model_id(model, encoder_sha256: str) -> str | None:
    """A fitted model's id (64 hex digits): the content hash of its heads, vocabulary, classes, features and encoder.

    Unlike the head file's SHA-256 it does not change when the model is loaded
    and saved again, so its recorded scores stay one history. None when a part
    cannot be read by content (a head of a kind stance never fits).
    """
    from stance.fingerprint import content_sha256

    try:
        return content_sha256({
            "targets": list(model.targets_),
            "classes": {t: [str(c) for c in cs] for t, cs in zip(model.targets_, model.classes_)},
            "heads": model.heads_,
            "vectorizer": getattr(model, "vectorizer_", None),
            "features": model_features(model),
            "encoder": encoder_sha256,
        })
    except (ValueError, RecursionError):
        return None


def _check_provenance(provenance: dict) -> None:
    """Refuse, before any file is written, a provenance value ``stance.json`` cannot hold as JSON that any reader
    parses: an object of no JSON type, NaN or infinity (Python writes them, strict readers refuse them), half a
    surrogate pair (no UTF-8)."""
    for key, value in provenance.items():
        try:
            json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
        except RecursionError:
            raise ValueInputError("the model's provenance is nested too deeply to be saved; give plain values") from None
        except (TypeError, ValueError, UnicodeEncodeError) as err:
            why = ("holds text that is not UTF-8 (half a surrogate pair)" if isinstance(err, UnicodeEncodeError)
                   else "holds a number JSON has no place for (NaN or infinity)" if isinstance(err, ValueError)
                   else f"is of type {kind_of(value)}, not a JSON value")
            raise ValueInputError(f"provenance {key!r} {why}; give strings, finite numbers, lists or dicts of them") \
                from None


def save_model(model, path: str | Path, **provenance) -> Path:
    """Write a fitted :class:`StanceClassifier` to a folder, replacing it atomically.

    ``provenance`` is stored under ``"training"`` (e.g. the training-data hash).
    The model object is not changed.
    """
    import joblib
    from sklearn.utils.validation import check_is_fitted

    from stance.encoders.transformer import SentenceEncoder, settings_sha256

    check_is_fitted(model)
    _check_provenance(provenance)
    encoder = model.encoder_
    kind = recorded_kind(encoder)
    if kind != "fine-tuned" and not isinstance(encoder, SentenceEncoder):
        raise TypeError("only models with a SentenceEncoder or a fine-tuned encoder can be saved")
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = make_temp_dir(path)
    except OSError as err:
        raise write_error(path, err, "cannot write the model folder") from None
    try:
        head_path = staging / HEAD_FILE
        with open(head_path, "wb") as handle:
            joblib.dump({"heads": model.heads_, "vectorizer": getattr(model, "vectorizer_", None)}, handle)
            handle.flush()
            os.fsync(handle.fileno())
        if kind == "fine-tuned":
            encoder.save(staging / ENCODER_DIR)
            encoder_meta = {
                "kind": kind,
                "id": encoder.model_id,
                "path": ENCODER_DIR,  # inside the model folder, so the folder can move
                "sha256": sha256_file(staging / ENCODER_DIR / "model.safetensors"),
                "settings_sha256": settings_sha256(staging / ENCODER_DIR),
                "batch_size": encoder.batch_size,
                "base": {"id": encoder.base_id, "sha256": encoder.base_sha256},
            }
        else:
            encoder_meta = {
                "kind": kind,
                "id": encoder.model_id,
                "path": None if encoder.model_path is None and kind != "static" else str(Path(encoder.folder).resolve()),
                "sha256": encoder.sha256,
                "settings_sha256": settings_sha256(encoder.folder),
                "batch_size": encoder.batch_size,
            }
        model_id = fitted_model_id(model, encoder_meta["sha256"])
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            **({"id": model_id} if model_id is not None else {}),
            "targets": list(model.targets_),
            "classes": {t: [str(c) for c in cs] for t, cs in zip(model.targets_, model.classes_)},
            "encoder": encoder_meta,
            "head": {"file": HEAD_FILE, "sha256": sha256_file(head_path), "params": model.best_params_},
            "features": model_features(model),
            "training": provenance,
            "versions": package_versions(),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        try:
            meta[SEAL_KEY] = metadata_seal(json.loads(json.dumps(meta)))  # as a reader will parse it
        except (RecursionError, ValueError):
            raise ValueInputError("the model's provenance is nested too deeply to be saved; give plain values") from None
        atomic_write_text(staging / METADATA_FILE, json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
        _swap_into_place(staging, path)
    except OSError as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise write_error(path, err, "cannot write the model folder") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return path


#: What a model folder holds; saving replaces the folder whole, so anything else in it would be lost.
MODEL_ENTRIES = (METADATA_FILE, HEAD_FILE, ENCODER_DIR)


def metadata_seal(meta: dict) -> str:
    """The SHA-256 of every field of ``stance.json`` but the seal itself and the encoder's path.

    The path may change when an encoder folder moves; the encoder's own SHA-256s
    still tell whether it is the same encoder. Numbers are sealed by value, so a
    tool that writes the file again as it reads it (``jq`` writes ``1.0`` as ``1``)
    changes nothing. Raises ValueError for a document too deep to write back.
    """
    sealed = {key: value for key, value in meta.items() if key != SEAL_KEY}
    if isinstance(sealed.get("encoder"), dict):
        sealed["encoder"] = {key: value for key, value in sealed["encoder"].items() if key != "path"}
    try:
        canonical = json.dumps(_by_value(sealed), sort_keys=True, ensure_ascii=True, separators=(",", ":"))
    except (RecursionError, TypeError) as err:
        raise ValueError(f"cannot be sealed ({type(err).__name__})") from None
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def _seal_or_none(meta: dict) -> str | None:
    try:
        return metadata_seal(meta)
    except ValueError:
        return None


def _by_value(value):
    """``value`` with each whole float as an integer, as a number's value and not its spelling."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _by_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_by_value(item) for item in value]
    return value


def check_replaceable(path: str | Path, report_dir: str | Path | None | bool = True) -> None:
    """Refuse, before training, a folder that saving a model would replace but is not a model folder.

    A model folder is replaced whole: it must hold a ``stance.json`` of a model and
    nothing a model does not (a user's notes, label files, an encoder folder it was given).
    An earlier report in it is replaced only where this run writes its own (``report_dir``
    the folder or a folder in it; ``True``, when that is not known, lets any stand).
    """
    path = Path(path)
    try:
        if os.path.lexists(path) and not os.path.isdir(path):
            raise ModelIntegrityError(f"{path}: is a file, not a model folder; choose another --out or remove it")
        names = sorted(entry.name for entry in path.iterdir()) if os.path.isdir(path) else []
        model = not names or _is_model_metadata(path / METADATA_FILE)
    except OSError as err:
        raise write_error(path, err, "cannot write the model folder") from None
    if not model:
        raise ModelIntegrityError(
            f"{path}: exists and is not a stance model folder; choose another --out or remove it"
        )
    from stance.evaluation import is_report_file, is_report_folder

    # a report written into the model folder (--report-dir the same as --out, or a folder in it) is written
    # again after the save
    rewritten = _report_place(path, report_dir)
    others = [name for name in names if name not in MODEL_ENTRIES and not (
        rewritten in (True, "") and is_report_file(path / name)
        or rewritten in (True, name) and is_report_folder(path / name))]
    if others:
        shown = ", ".join(others[:3]) + (", ..." if len(others) > 3 else "")
        report = any(is_report_file(path / name) or is_report_folder(path / name) for name in others)
        raise ModelIntegrityError(f"{path}: holds files a model folder does not ({shown}), which saving the model "
                                  "would delete; move them out, or choose another --out" + (
                                      f" (an earlier report there is written anew with --report-dir {path})"
                                      if report else ""))


def _report_place(path: Path, report_dir) -> str | bool | None:
    """Where in the model folder ``path`` this run writes its report: ``""`` the folder itself, a
    folder's name, None elsewhere, True where any may be (the report folder is not known)."""
    if report_dir is True:
        return True
    if report_dir is None:
        return None
    report, model = os.path.realpath(report_dir), os.path.realpath(path)
    if report == model:
        return ""
    inside = os.path.relpath(report, model)
    return inside.split(os.sep)[0] if not inside.startswith(os.pardir) else None


#: The most a model's ``stance.json`` may hold: it is some 2 KB, and a huge file is never read whole.
_METADATA_BYTES = 1 << 20


def _is_model_metadata(path: Path) -> bool:
    """Whether ``path`` is a model's ``stance.json`` (a JSON object of the stance-model format), read bounded."""
    if not path.is_file():
        return False
    try:
        meta = json.loads(read_at_most(path, _METADATA_BYTES) or b"")  # too large: no metadata, as empty is none
    except ValueError:
        return False
    return isinstance(meta, dict) and meta.get("format") == FORMAT


def _swap_into_place(staging: Path, path: Path) -> None:
    """Replace ``path`` by ``staging`` so that readers see the old folder or the new one."""
    if path.exists():
        check_replaceable(path)
    replace_folder(staging, path)


def read_metadata(path: str | Path) -> dict:
    """Read and check a model folder's ``stance.json``; one-line errors on anything wrong."""
    path = Path(path)
    if not path.exists():
        from stance.paths import broken_link

        if (link := broken_link(path)) is not None:  # a model was meant to be there: never "run stance train first"
            raise ModelNotFoundError(f"{path}: {link}; point it at the folder `stance train` wrote, or pass --model DIR")
        raise ModelNotFoundError(f"no trained model at {path}; run `stance train` first or pass --model DIR")
    if not path.is_dir():
        raise ModelIntegrityError(f"{path}: is a file, not a model folder; pass the folder `stance train` wrote")
    meta_path = path / METADATA_FILE
    if not meta_path.is_file():
        raise ModelIntegrityError(f"{path}: not a stance model folder ({METADATA_FILE} {not_a_file(meta_path)}); "
                                  "retrain with `stance train`")
    try:
        data = read_at_most(meta_path, _METADATA_BYTES)
    except OSError as err:
        raise ModelIntegrityError(f"{meta_path}: cannot be read ({err.strerror}); check its permissions") from None
    if data is None:
        raise ModelIntegrityError(f"{meta_path}: over {_METADATA_BYTES >> 20} MiB, not stance model metadata (it is "
                                  "some 2 KB); retrain with `stance train`")
    try:
        meta = parse_json(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ModelIntegrityError(f"{meta_path}: corrupted metadata (not JSON); retrain with `stance train`") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelIntegrityError(f"{meta_path}: not stance model metadata; retrain with `stance train`")
    if meta.get("format_version") not in READABLE_VERSIONS or isinstance(meta.get("format_version"), bool):
        raise ModelIntegrityError(
            f"{path}: model format {meta.get('format_version')!r} is not supported by this version "
            f"(expects {FORMAT_VERSION}); retrain with `stance train`"
        )
    problem = _shape_problem(meta)
    if problem is not None:
        raise ModelIntegrityError(f"{meta_path}: {problem}; the file was edited or damaged, "
                                  "retrain with `stance train`")
    if SEAL_KEY in meta and meta[SEAL_KEY] != _seal_or_none(meta):
        raise ModelIntegrityError(f"{meta_path}: its fields differ from the ones saved with the model (the file was "
                                  "edited or damaged); restore it, or retrain with `stance train`")
    return meta


_SHA256 = re.compile(r"[0-9a-f]{64}")
_KINDS = ("sentence-transformers", "static", "fine-tuned")
_NUMERIC_PARAMS = ("C", "temperature", "threshold", "lr", "epochs", "layers")


def _text(v) -> bool:
    return isinstance(v, str) and v != ""


def _number(v) -> bool:
    """A finite JSON number of a size a setting can have (``math.isfinite`` of a 400-digit integer overflows)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return False
    return abs(v) < 1e15 if isinstance(v, int) else math.isfinite(v)


def _plain_name(v) -> bool:
    """A file or folder name inside the model folder: relative, no way out of it."""
    return _text(v) and not Path(v).is_absolute() and ".." not in Path(v).parts and "\\" not in v


def _json_kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true/false"
    return {str: "a string", list: "a list", dict: "an object"}.get(type(v), "a number")


def _shape_problem(meta: dict) -> str | None:
    """The first metadata key whose value is missing or of the wrong shape, said in one phrase; None if all fit."""
    encoder = meta.get("encoder")
    fine_tuned = isinstance(encoder, dict) and encoder.get("kind") == "fine-tuned"
    sha256 = (lambda v: isinstance(v, str) and _SHA256.fullmatch(v), "a SHA-256 (64 hex digits)")
    an_object = (lambda v: isinstance(v, dict), "an object")
    sealed = meta.get("format_version", 0) >= 4  # the format's version is checked before
    # key, required, (is it right, what it must be); later checks rely on the earlier ones
    checks = [
        ("id", False, sha256),
        ("targets", True, (lambda v: isinstance(v, list) and v and all(map(_text, v)) and len(set(v)) == len(v),
                           "a non-empty list of distinct target names")),
        ("classes", True, an_object),
        ("encoder", True, an_object),
        ("encoder.kind", False, (lambda v: v in _KINDS, f"one of {', '.join(_KINDS)}")),
        ("encoder.id", False, (_text, "a name")),
        ("encoder.path", False, (_plain_name, "the encoder folder inside the model folder") if fine_tuned
         else (lambda v: v is None or _text(v), "a folder path or null")),
        ("encoder.sha256", True, sha256),
        ("encoder.settings_sha256", False, sha256),
        ("encoder.batch_size", False, (lambda v: _number(v) and int(v) == v and v > 0, "a positive whole number")),
        ("encoder.base", False, an_object),
        ("head", True, an_object),
        ("head.file", False, (lambda v: _plain_name(v) and len(Path(v).parts) == 1, "a file name in the model folder")),
        ("head.sha256", True, sha256),
        ("head.params", False, an_object),
        ("features", False, an_object),
        ("features.context", False, (lambda v: isinstance(v, bool), "true or false")),
        ("features.ngrams", False, (lambda v: isinstance(v, bool), "true or false")),
        ("features.actors", False, (lambda v: isinstance(v, bool), "true or false")),
        ("features.actor_columns", False, (lambda v: _number(v) and int(v) == v and 0 <= v <= len(ACTOR_FEATURES),
                                           f"a whole number from 0 to {len(ACTOR_FEATURES)} (a newer stance "
                                           "reads more; upgrade it)")),
        ("features.renamed_copies", False, (lambda v: isinstance(v, bool), "true or false")),
        ("features.copy_weight", False, (lambda v: _number(v) and 0 < v <= 1, "a number in (0, 1]")),
        ("features.question_rule", False, (lambda v: isinstance(v, bool), "true or false")),
        ("features.pressure_rule", False, (lambda v: isinstance(v, bool), "true or false")),
        ("training", False, an_object),
        ("versions", False, an_object),
        ("created", False, (lambda v: isinstance(v, str), "a date string")),
        (SEAL_KEY, sealed, sha256),
    ]
    for key, required, (fits, expected) in checks:
        parent, _, name = key.rpartition(".")
        holder = meta.get(parent) if parent else meta
        if not isinstance(holder, dict) or name not in holder:
            if required:
                return f'"{key}" is missing'
            continue
        if not fits(holder[name]):
            return _expected(key, holder[name], expected)
    return _inner_problem(meta)


def _inner_problem(meta: dict) -> str | None:
    """The first wrong entry inside ``classes``, ``head.params`` and ``versions`` (their own shape is checked)."""
    for target in meta["targets"]:
        if target not in meta["classes"]:
            return f'"classes.{target}" is missing'
        names = meta["classes"][target]
        if not (isinstance(names, list) and names and all(map(_text, names))):
            return _expected(f"classes.{target}", names, "a non-empty list of class names")
    for target, params in meta["head"].get("params", {}).items():
        if not isinstance(params, dict):
            return _expected(f"head.params.{target}", params, "an object")
        for name in _NUMERIC_PARAMS:
            if name in params and not _number(params[name]):
                return _expected(f"head.params.{target}.{name}", params[name], "a number")
    for package, version in meta.get("versions", {}).items():
        if not (version is None or isinstance(version, str)):
            return _expected(f"versions.{package}", version, "a version string or null")
    return None


def _expected(key: str, value, expected: str) -> str:
    return f'"{key}" must be {expected}, not {_describe(value)}'


def _describe(value) -> str:
    """A short view of a wrong value: its kind, and the value itself when it is short."""
    shown = json.dumps(value, ensure_ascii=False)
    return _json_kind(value) + (f" ({shown})" if len(shown) <= 40 and not isinstance(value, (dict, type(None))) else "")


def _encoder_folder(path: Path, recorded: dict):
    """The recorded encoder's folder: inside the model folder for a fine-tuned one, None for the bundled MiniLM."""
    folder = recorded.get("path")
    if recorded.get("kind") == "fine-tuned":
        return path / str(folder)
    return folder


def _onnx_serves(folder) -> bool:
    """Whether the onnx backend is installed and runs this sentence-transformers folder (None: bundled MiniLM)."""
    import importlib.util

    if any(importlib.util.find_spec(p) is None for p in ("onnxruntime", "tokenizers")):
        return False
    from stance.encoders.onnx import _check_supported
    from stance.encoders.transformer import default_model_path

    try:
        _check_supported(Path(folder) if folder is not None else default_model_path())
    except ModelIntegrityError:
        return False
    return True


def prepare_onnx(path: str | Path, meta: dict) -> None:
    """Export a saved model's encoder for the onnx backend, if that backend runs it (see :func:`read_model`)."""
    recorded = meta["encoder"]
    folder = _encoder_folder(Path(path), recorded)
    if recorded.get("kind") != "static" and _onnx_serves(folder):
        from stance.encoders.onnx import OnnxEncoder

        try:
            OnnxEncoder(model_path=folder)._graph()
        except OutputPathError as err:  # the model is saved; scoring exports again or runs on torch
            warnings.warn(f"{err}; the model is saved, scoring will need the export or --backend torch",
                          StanceWarning, stacklevel=2)


#: What may run a saved model's sentence-transformers encoder (``backend`` of :func:`read_model`).
BACKENDS = ("auto", "torch", "torch-bf16", "onnx")


@dataclass
class ModelParts:
    """A model folder's parts, checked and read by :func:`read_model`; :func:`stance.model.load_model` assembles them."""

    path: Path
    meta: dict
    encoder: object
    heads: dict
    vectorizer: object


def checked_backend(backend: str) -> str:
    """A ``--backend`` value, lower-cased; InputError for one that names none."""
    backend = str(backend).lower()
    if backend not in BACKENDS:
        raise InputError(f"backend {backend!r}: use {', '.join(BACKENDS[:-1])} or {BACKENDS[-1]}")
    return backend


def read_model(path: str | Path, encoder=None, backend: str = "auto") -> ModelParts:
    """Check a model folder (metadata, the head's SHA-256, versions, the encoder) and read its parts.

    Parameters as :func:`stance.model.load_model`, which turns the parts into a
    :class:`~stance.model.StanceClassifier`.
    """
    import joblib
    import sklearn

    from stance.encoders.transformer import SentenceEncoder, settings_sha256
    from stance.paths import given_path

    path = given_path(path, "model", "give the folder `stance train` wrote")
    if encoder is not None and not all(hasattr(encoder, name) for name in ("transform", "sha256", "model_id")):
        raise InputError(f"encoder {type(encoder).__name__}: is not an encoder; give a SentenceEncoder "
                         "(stance.encoders.make_encoder), or None for the one the model was trained with")
    meta = read_metadata(path)
    head_path = path / meta["head"].get("file", HEAD_FILE)
    if not head_path.is_file():
        raise ModelIntegrityError(f"{head_path}: {not_a_file(head_path)}; the model folder is incomplete, retrain "
                                  "with `stance train`")
    try:
        digest = sha256_file(head_path)
    except OSError as err:
        raise ModelIntegrityError(f"{head_path}: cannot be read ({err.strerror or err}); check its permissions") from None
    if digest != meta["head"]["sha256"]:
        raise ModelIntegrityError(
            f"{head_path}: SHA-256 differs from the one recorded at training; refusing to unpickle it, retrain"
        )
    trained_with = (meta.get("versions") or {}).get("scikit-learn")
    if trained_with and trained_with.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelIntegrityError(
            f"{path}: trained with scikit-learn {trained_with}, this is {sklearn.__version__}; retrain with `stance train`"
        )
    backend = checked_backend(backend)
    recorded = meta["encoder"]
    if backend == "auto" and encoder is None and recorded.get("kind") != "static":
        folder = _encoder_folder(path, recorded)
        backend = "onnx" if _onnx_serves(folder) else "torch"
        if backend == "onnx":
            from stance.encoders.onnx import export_problem
            from stance.encoders.transformer import default_model_path, encoder_identity

            problem = export_problem(encoder_identity(Path(folder) if folder is not None else default_model_path()))
        else:
            problem = None
        if problem is not None:  # auto means onnx where it runs; here it cannot be set up, and torch can score
            warnings.warn(f"{problem}; scoring on torch (set STANCE_HOME to a writable folder for the faster onnx "
                          "backend)", StanceWarning, stacklevel=2)
            backend = "torch"
    if encoder is None and recorded.get("kind") == "static":
        if backend in ("onnx", "torch-bf16"):
            raise InputError(f"{path}: its encoder is a static model, which the {backend} backend does not run; "
                             f"drop --backend {backend}")
        from stance.encoders.static import StaticEncoder

        encoder = StaticEncoder(model_path=recorded.get("path"))
    elif encoder is None:
        kind = SentenceEncoder
        if backend == "onnx":
            from stance.encoders.onnx import OnnxEncoder as kind
        elif backend == "torch-bf16":
            from stance.encoders.bf16 import Bf16Encoder as kind
        encoder = kind(model_path=_encoder_folder(path, recorded), batch_size=recorded.get("batch_size", 64))
    try:
        actual = encoder.sha256
    except ModelIntegrityError as err:
        raise ModelIntegrityError(f"{path}: its encoder cannot be used: {err}") from None
    if actual != recorded["sha256"]:
        raise ModelIntegrityError(
            f"{path}: built for encoder {recorded.get('id')} (sha256 {recorded['sha256'][:12]}), "
            f"not {encoder.model_id} (sha256 {actual[:12]}); use that encoder or retrain"
        )
    folder = getattr(encoder, "folder", None)  # an in-memory fine-tuned encoder has none
    if "settings_sha256" in recorded and folder is not None and settings_sha256(folder) != recorded["settings_sha256"]:
        raise ModelIntegrityError(
            f"{path}: built for encoder {recorded.get('id')} with other settings than {folder} has (pooling, token "
            "limit, layers or tokenizer); use the encoder folder it was built with, or retrain"
        )
    if hasattr(encoder, "pin_identity"):
        encoder.pin_identity()  # the heads read below fit these files' vectors only
    try:
        with open(head_path, "rb") as handle:
            stored = joblib.load(handle)
    except Exception as err:  # a file with the recorded SHA-256 that still does not unpickle: any error may come
        raise ModelIntegrityError(f"{head_path}: cannot be read as a head file ({type(err).__name__}); "
                                  "retrain with `stance train`") from None
    heads = stored.get("heads") if isinstance(stored, dict) else None
    missing = [t for t in meta["targets"] if not isinstance(heads, dict) or not hasattr(heads.get(t), "predict_proba")]
    if missing:
        raise ModelIntegrityError(f"{path}: {METADATA_FILE} names targets the head file has no head for "
                                  f"({', '.join(missing)}); retrain with `stance train`")
    vectorizer = stored.get("vectorizer")
    if vectorizer is not None and not hasattr(vectorizer, "vocabulary_"):
        raise ModelIntegrityError(f"{path}: the head file's n-gram vectorizer is {type(vectorizer).__name__}, "
                                  "not a fitted one; retrain with `stance train`")
    return ModelParts(path=path, meta=meta, encoder=encoder, heads=heads, vectorizer=vectorizer)
