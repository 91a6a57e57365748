"""Errors a user can act on.

Every message says what is wrong and what to do about it; the CLI prints it as
one line and exits 1. Any other exception is a bug and keeps its traceback.
"""

from collections.abc import Iterable
from numbers import Integral


class StanceError(Exception):
    """Base class for errors caused by input, data or environment, not by a bug."""


class InputError(StanceError):
    """An article or table given to read cannot be used."""


class TextsError(InputError, TypeError):
    """What the library was given as texts is not texts: a bare string for a list, a table, an item that is
    not a string, or a string with half a surrogate pair. A TypeError too, as Python's own would be."""


def texts_given(X, what: str = "X") -> list[str]:
    """``X`` as a list of texts, or :class:`TextsError` saying what it is instead.

    A string, a mapping or a table would iterate as characters, keys or column
    names, and give a wrong answer without an error.
    """
    if isinstance(X, (str, bytes)):
        raise TextsError(f"{what} is one {type(X).__name__}; pass a list of texts, such as [text]")
    if is_table(X):
        raise TextsError(f"{what} is a {type(X).__name__}; pass a list of texts, such as a table's text column")
    if not isinstance(X, Iterable):
        raise TextsError(f"{what} is {type(X).__name__}; pass a list of texts")
    texts = list(X)
    for i, text in enumerate(texts):
        check_text(text, f"{what}[{i}]")
    return texts


def is_table(X) -> bool:
    """A mapping or a data frame, which iterate as keys or column names (a Series iterates as its values)."""
    from collections.abc import Mapping

    return isinstance(X, Mapping) or hasattr(X, "columns")


class ValueInputError(InputError, ValueError):
    """An argument of the right kind with a value it cannot take (a negative count, labels of another length)."""


def check_count(value, name: str, least: int = 0, of: str = "") -> None:
    """Refuse, as :class:`ValueInputError`, a setting that is not a whole number of at least ``least``.

    A bool is refused too (``True`` is an int to Python, never a count to a user);
    numpy integers are taken. ``of`` names what is counted ("articles").
    """
    if isinstance(value, bool) or not isinstance(value, Integral) or value < least:
        counted = f" of {of}" if of else ""
        raise ValueInputError(f"{name} is {value!r}; give a whole number{counted}, {least} or more")


def kind_of(value) -> str:
    """What a value is, for a message: its type's name, or "the class X" for a class given where an object was meant."""
    return f"the class {value.__name__}" if isinstance(value, type) else type(value).__name__


def require_fitted(model, what: str = "model") -> None:
    """Refuse, in one line, what is not a fitted stance model (a path, a class, an unfitted one)."""
    if isinstance(model, type) or not hasattr(model, "predict") or not getattr(model, "targets_", None):
        raise InputError(f"{what} is {kind_of(model)}, not a fitted stance model; load one with "
                         "stance.StanceClassifier.load(path), or fit it first")


def check_text(text, where: str) -> None:
    """Refuse, as :class:`TextsError`, a text that is not a str, or holds half a surrogate pair (which has no UTF-8)."""
    if not isinstance(text, str):
        raise TextsError(f"{where} is {type(text).__name__}, not a text (str); pass texts only")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as err:
            raise TextsError(f"{where} holds half a surrogate pair ({text[err.start]!r}) at character {err.start}, "
                             "which is not text; decode its bytes with errors='replace'") from None


class LabelFormatError(StanceError):
    """A label file breaks the scheme; the message names the file and line."""


class ModelNotFoundError(StanceError):
    """No trained model where one was expected."""


class ModelIntegrityError(StanceError):
    """A model folder or encoder fails its checks and is refused before use."""


class StanceWarning(UserWarning):
    """Something the user should know that does not stop the command."""
