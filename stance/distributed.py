"""Scoring on Ray Data: the single-machine pipeline, one model per worker actor.

``stance score TABLE --engine ray --output FOLDER`` reads the table with Ray
Data, scores it with ``map_batches`` on a pool of actors (each loads the model
once), and writes Parquet with the same columns as ``--output`` on one
machine, so ``stance drift --results FOLDER`` reads either. Without an
address Ray starts on this machine; ``--ray-address`` or ``RAY_ADDRESS``
points it at a running cluster (``ray.init(address=...)``), whose workers
need stance installed and the model folder at the same path.
"""

from __future__ import annotations

import os
from pathlib import Path

from stance.errors import InputError, StanceError

__all__ = ["score_with_ray"]


class _Scorer:
    """A Ray actor: loads the model once, scores batches of table rows."""

    def __init__(self, model_path: str, date: str | None, source: str | None, backend: str = "auto"):
        from stance.model import load_model

        self.model = load_model(model_path, backend=backend)
        self.date, self.source = date, source

    def __call__(self, batch):
        import pandas as pd

        from stance.corpus import _present, _resolve_date, row_document
        from stance.results import results_rows
        from stance.scoring import score_documents

        docs = []
        for row in batch.to_pylist():  # the Python values the single-process path reads
            if _present(row.get("id")) is not None:
                where = f"row id {str(row['id']).strip()!r}"
            else:
                where = f"the row whose text begins {str(row.get('text'))[:40]!r}"
            doc = row_document(row, where)
            if doc.source is None:
                doc.source = self.source
            docs.append(_resolve_date(doc, self.date))
        results = list(score_documents(self.model, docs, batch_articles=max(1, len(docs))))
        return pd.DataFrame(results_rows(results))


def _quiet_ray() -> None:
    """Ray Data logs every execution at INFO; keep stance's own output readable."""
    import logging

    for name in list(logging.root.manager.loggerDict):
        if name.startswith("ray"):  # a failed task is logged with its traceback; stance reports it in one line
            logging.getLogger(name).setLevel(logging.CRITICAL)


def _stance_message(err: BaseException) -> str | None:
    """The message of a StanceError raised in a worker, found in what Ray raises here.

    Ray wraps the worker's exception, and the original may not survive the trip
    between processes; its ``stance.errors.<Name>: message`` line in the
    wrapper's text always does.
    """
    import re

    cause = err
    while cause is not None:
        if isinstance(cause, StanceError):
            return str(cause)
        cause = cause.__cause__ or getattr(cause, "cause", None)
    found = re.findall(r"^stance\.errors\.\w+: (.+)$", str(err), flags=re.MULTILINE)
    return found[-1] if found else None


def _pool_shape(cpus: float, workers: int | None) -> tuple[int, float]:
    """Scoring actors and the CPUs each reserves, leaving one CPU's worth to Ray Data's read and write tasks.

    Actors that reserve every CPU leave the tasks that feed them and write their
    output waiting for a CPU forever: the run hangs.
    """
    size = workers or max(1, int(cpus) - 1)
    return size, min(1.0, max(cpus - 1.0, 0.0) / size)


def _read(path: Path):
    import ray.data

    reader = {".jsonl": ray.data.read_json, ".csv": ray.data.read_csv, ".parquet": ray.data.read_parquet}
    if path.suffix.lower() not in reader:
        raise InputError(f"{path}: the ray engine reads one table (.jsonl, .csv or .parquet)")
    return reader[path.suffix.lower()](str(path))


def score_with_ray(
    table: str | Path,
    model_path: str | Path,
    output: str | Path,
    *,
    date: str | None = None,
    source: str | None = None,
    address: str | None = None,
    workers: int | None = None,
    batch_size: int = 64,
    backend: str = "auto",
) -> int:
    """Score a table on Ray into a Parquet folder; returns the number of articles written."""
    import ray

    from stance.persist import read_metadata

    table, output = Path(table), Path(output)
    if not table.is_file():
        raise InputError(f"{table}: no such table; give a .jsonl, .csv or .parquet file")
    read_metadata(model_path)  # a missing or broken model fails here, not in every worker
    if output.exists() and any(output.iterdir()):
        raise InputError(f"{output}: not empty; the ray engine writes a new folder")
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        ray.init(address=address or os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_progress_bar_name_truncation = True
    data = _read(table)
    _quiet_ray()
    if "id" not in (data.columns() or []):
        raise InputError(f"{table}: the ray engine needs an 'id' column, so that every article keeps its id")
    if "text" not in data.columns():
        raise InputError(f"{table}: no 'text' column; name the article-text column 'text'")
    keep = [c for c in ("text", "id", "date", "source", "title", "url") if c in data.columns()]
    size, cpus_each = _pool_shape(ray.available_resources().get("CPU", 1.0), workers)
    scored = data.select_columns(keep).map_batches(
        _Scorer, fn_constructor_args=(str(Path(model_path).resolve()), date, source, backend), batch_size=batch_size,
        batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=size), num_cpus=cpus_each,
    )
    try:
        scored.write_parquet(str(output))
    except Exception as err:  # noqa: BLE001 - a worker's StanceError arrives wrapped by Ray
        message = _stance_message(err)
        if message is not None:
            raise InputError(message) from None
        raise
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(p).metadata.num_rows for p in output.glob("*.parquet"))
