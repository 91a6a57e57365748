"""A fitted model's id from the numbers it computes with, not from its file's bytes.

A pickle's bytes depend on the process that wrote it (the pickle memo shares one
process's equal strings and not another's; scikit-learn keeps ``id(stop_words)``),
so one fitted model saved twice can hash two ways. This hash reads the fitted
arrays, vocabularies and settings themselves: a model loaded and saved again,
in any process, keeps its id, and a model scored before it is saved already
carries the id it will be saved under.
"""

from __future__ import annotations

import hashlib
import types

import numpy as np

__all__ = ["content_sha256"]

#: Attributes that record the writing process or library, not the fit.
PROCESS_STATE = frozenset({"_stop_words_id", "_sklearn_version"})
_MAX_DEPTH = 64


def content_sha256(obj) -> str:
    """SHA-256 of a value by content: numbers by value, arrays by dtype, shape and bytes, dicts and sets unordered.

    Estimators and other objects are read through their attributes (those in
    :data:`PROCESS_STATE` left out); functions and classes by their qualified
    name. Raises ValueError for a value nested too deeply or one it cannot read.
    """
    digest = hashlib.sha256()
    _feed(digest.update, obj, 0)
    return digest.hexdigest()


def _part(obj, depth: int) -> bytes:
    """One value's own digest, for ordering the members of a dict or set."""
    digest = hashlib.sha256()
    _feed(digest.update, obj, depth)
    return digest.digest()


def _feed(put, obj, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise ValueError("nested too deeply to be fingerprinted")
    if obj is None:
        put(b"N")
    elif isinstance(obj, (bool, np.bool_)):
        put(b"B1" if obj else b"B0")
    elif isinstance(obj, (int, np.integer)):
        put(b"I%d;" % int(obj))
    elif isinstance(obj, (float, np.floating)):
        put(b"F" + float(obj).hex().encode("ascii") + b";")
    elif isinstance(obj, str):
        data = obj.encode("utf-8", "surrogatepass")
        put(b"S%d:" % len(data) + data)
    elif isinstance(obj, (bytes, bytearray)):
        put(b"Y%d:" % len(obj) + bytes(obj))
    elif isinstance(obj, np.ndarray):
        _feed_array(put, obj, depth)
    elif isinstance(obj, np.dtype):
        put(b"D" + obj.str.encode("ascii") + b";")
    elif isinstance(obj, (list, tuple)):
        put(b"L%d:" % len(obj) if isinstance(obj, list) else b"T%d:" % len(obj))
        for item in obj:
            _feed(put, item, depth + 1)
    elif isinstance(obj, dict):
        put(b"M%d:" % len(obj))
        for key_part, value in sorted(((_part(k, depth + 1), v) for k, v in obj.items()), key=lambda pair: pair[0]):
            put(key_part)
            _feed(put, value, depth + 1)
    elif isinstance(obj, (set, frozenset)):
        put(b"E%d:" % len(obj))
        for item_part in sorted(_part(item, depth + 1) for item in obj):
            put(item_part)
    elif isinstance(obj, (type, types.FunctionType, types.BuiltinFunctionType)):
        put(b"Q" + _name(obj) + b";")
    elif hasattr(obj, "__dict__"):
        put(b"O" + _name(type(obj)) + b";")
        _feed(put, {k: v for k, v in vars(obj).items() if k not in PROCESS_STATE}, depth + 1)
    else:
        raise ValueError(f"cannot fingerprint a {type(obj).__name__}")


def _feed_array(put, array: np.ndarray, depth: int) -> None:
    put(b"A" + array.dtype.str.encode("ascii") + repr(array.shape).encode("ascii") + b";")
    if array.dtype.hasobject:
        for item in array.ravel(order="C"):
            _feed(put, item, depth + 1)
    else:
        put(np.ascontiguousarray(array).tobytes())


def _name(kind) -> bytes:
    return f"{getattr(kind, '__module__', '')}.{getattr(kind, '__qualname__', repr(kind))}".encode("utf-8", "replace")
