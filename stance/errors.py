"""Errors a user can act on.

Every message says what is wrong and what to do about it; the CLI prints it as
one line and exits 1. Any other exception is a bug and keeps its traceback.
"""


class StanceError(Exception):
    """Base class for errors caused by input, data or environment, not by a bug."""


class InputError(StanceError):
    """An article or table given to read cannot be used."""


class LabelFormatError(StanceError):
    """A label file breaks the scheme; the message names the file and line."""


class ModelNotFoundError(StanceError):
    """No trained model where one was expected."""


class ModelIntegrityError(StanceError):
    """A model folder or encoder fails its checks and is refused before use."""


class StanceWarning(UserWarning):
    """Something the user should know that does not stop the command."""
