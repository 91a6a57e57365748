"""Per-user locations, following XDG where set and HOME otherwise."""

from __future__ import annotations

import os
from pathlib import Path


def data_home() -> Path:
    """Root of everything `stance` keeps per user (``$STANCE_HOME`` wins)."""
    if os.environ.get("STANCE_HOME"):
        return Path(os.environ["STANCE_HOME"]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "stance"


def default_model_dir() -> Path:
    """Where `stance train` saves and `stance score` looks (``$STANCE_MODEL`` wins)."""
    if os.environ.get("STANCE_MODEL"):
        return Path(os.environ["STANCE_MODEL"]).expanduser()
    return data_home() / "model"
