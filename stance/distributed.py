"""Scoring on Ray Data: the single-machine pipeline, one model per worker actor.

``stance score TABLE --engine ray --output FOLDER`` reads the table with Ray
Data and scores it with ``map_batches`` on a pool of actors (each loads the model
once). The results come back to this process, which writes them into FOLDER
as the single-machine ``--output`` does: atomic Parquet parts, so a run that is
killed leaves only whole parts, and the same command run again skips the
articles already there (an id that holds another text is refused unless
``--replace``). ``stance drift --results FOLDER`` reads either. Without an
address Ray starts on this machine; ``--ray-address`` or ``RAY_ADDRESS``
points it at a running cluster (``ray.init(address=...)``), whose workers
need stance installed and the model folder at the same path.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import NamedTuple

from stance.errors import InputError, StanceError, StanceWarning

__all__ = ["RayRun", "score_with_ray"]

#: Scored rows go into a new part of the results folder this many at a time.
PART_ROWS = 1024
#: The extra column of the actors' rows: what became of the article.
_STATUS = "status"


class RayRun(NamedTuple):
    """What :func:`score_with_ray` did: articles written, skipped (already in the folder) and refused."""

    written: int
    skipped: int
    refused: int
    interrupted: bool = False


class _Scorer:
    """A Ray actor: loads the model once, scores batches of table rows.

    ``held`` maps (article, source) to the SHA-256 of the text the results folder
    holds for it: such an article is not scored again when its text is the same
    (a resumed run), nor, unless ``replace``, when it is another (refused, as on
    one machine). Each returned row says which in its ``status`` column.
    """

    def __init__(self, model_path: str, date: str | None, source: str | None, backend: str = "auto",
                 held: dict | None = None, replace: bool = False):
        from stance.model import load_model

        self.model = load_model(model_path, backend=backend)
        self.date, self.source = date, source
        self.held, self.replace = held or {}, replace

    def __call__(self, batch):
        import pyarrow as pa

        from stance.corpus import _present, _resolve_date, row_document
        from stance.results import _schema, results_rows
        from stance.scoring import score_documents

        docs, passed = [], []
        for row in batch.to_pylist():  # the Python values the single-process path reads
            if _present(row.get("id")) is not None:
                where = f"row id {str(row['id']).strip()!r}"
            else:
                where = f"the row whose text begins {str(row.get('text'))[:40]!r}"
            doc = row_document(row, where)
            if doc.source is None:
                doc.source = self.source
            held = self.held.get((doc.id, doc.source))
            if held is not None and held == doc.content_sha256:
                passed.append({"article": doc.id, "source": doc.source, "location": doc.location, _STATUS: "skipped"})
            elif held and not self.replace:
                passed.append({"article": doc.id, "source": doc.source, "location": doc.location, _STATUS: "refused"})
            else:
                docs.append(_resolve_date(doc, self.date))
        results = list(score_documents(self.model, docs, batch_articles=max(1, len(docs))))
        rows = [{**row, _STATUS: "scored"} for row in results_rows(results)] + passed
        return pa.Table.from_pylist(rows, schema=_schema().append(pa.field(_STATUS, pa.string())))


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
    """Scoring actors and the CPUs each reserves, leaving one CPU's worth to Ray Data's read tasks.

    Actors that reserve every CPU leave the tasks that feed them waiting for a
    CPU forever: the run hangs.
    """
    size = workers or max(1, int(cpus) - 1)
    return size, min(1.0, max(cpus - 1.0, 0.0) / size)


#: About this many bytes of the table per block: a block's results come back when the block is done, so a
#: run stopped early keeps all but the blocks in progress (a few hundred articles each).
BLOCK_BYTES = 256 * 1024


#: The Ray Data reader of each table suffix.
READERS = {".jsonl": "read_json", ".csv": "read_csv", ".parquet": "read_parquet"}


def _read(path: Path):
    import ray.data

    blocks = min(10_000, max(1, -(-path.stat().st_size // BLOCK_BYTES)))
    return getattr(ray.data, READERS[path.suffix.lower()])(str(path), override_num_blocks=blocks)


def _check_address(address: str | None) -> None:
    """Refuse, within seconds, a cluster address that is not host:port or where nothing answers.

    ``ray.init`` retries an address that does not answer for minutes, and raises a
    traceback for one it cannot parse. ``auto`` and ``local`` are left to Ray.
    """
    import socket

    if address is None or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or "/" in host or not 0 < int(port) < 65536:
        raise InputError(f"--ray-address {address!r}: not host:port (e.g. 10.0.0.5:6379), ray://host:port, "
                         "auto or local; check --ray-address / RAY_ADDRESS")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=ADDRESS_TIMEOUT).close()
    except OSError as err:
        raise InputError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); "
                         "check --ray-address / RAY_ADDRESS and that the cluster is running") from None


#: Seconds to wait for a cluster's address to answer.
ADDRESS_TIMEOUT = 5.0


def _first_line(err: BaseException) -> str:
    """An exception's message as one line, without the colour codes Ray puts in it."""
    import re

    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()
    return f"{type(err).__name__}: {text.splitlines()[0] if text else ''}".rstrip(": ")


def _unreadable(table: Path | str, err: BaseException, doing: str = "read it as a table") -> InputError:
    """What Ray met reading or scoring ``table``, as one line: the worker's own exception, which names the fault.

    A task's error arrives as text holding the worker's traceback, whose last
    ``Name: message`` line is the fault (the exception object itself may not
    survive the trip between processes whole).
    """
    import re

    message = _stance_message(err)
    if message is not None:
        return InputError(message)
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err))
    faults = [f for f in re.findall(r"^((?:\w+\.)*\w*(?:Error|Exception|Invalid)): (.+)$", text, flags=re.MULTILINE)
              if not f[0].startswith("ray.")]  # Ray's own wrappers ("UDF failed to process a data block") say nothing
    fault = f"{faults[-1][0].rsplit('.', 1)[-1]}: {faults[-1][1]}" if faults else _first_line(err)
    return InputError(f"{table}: Ray could not {doing} ({fault}); "
                      "score it with --engine local to find the line at fault")


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
    replace: bool = False,
) -> RayRun:
    """Score a table on Ray into a results folder, skipping the articles already there.

    Ctrl-C stops it after writing what was scored (``RayRun.interrupted``); the
    same call then finishes the table.
    """
    import ray

    from stance.persist import read_metadata
    from stance.results import ResultsFolder
    from stance.scoring import saved_model_id
    from stance.segment import require_regular_file

    table, output = Path(table), Path(output)
    require_regular_file(table, "give a .jsonl, .csv or .parquet file")  # a FIFO would block Ray's read
    meta = read_metadata(model_path)  # a missing or broken model fails here, not in every worker
    if table.suffix.lower() not in READERS:
        raise InputError(f"{table}: the ray engine reads one table (.jsonl, .csv or .parquet)")
    address = address or os.environ.get("RAY_ADDRESS") or None
    _check_address(address)  # a cluster that does not answer would hold ray.init for minutes
    if not ray.is_initialized():
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        except (ValueError, ConnectionError, RuntimeError, ImportError) as err:
            raise InputError(f"Ray cannot start or join a cluster at {address or 'this machine'} "
                             f"({_first_line(err)}); check --ray-address / RAY_ADDRESS") from None
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_progress_bar_name_truncation = True
    _quiet_ray()
    try:
        data = _read(table)
        columns = data.columns() or []
        if "id" not in columns:
            raise InputError(f"{table}: the ray engine needs an 'id' column, so that every article keeps its id")
        if "text" not in columns:
            raise InputError(f"{table}: no 'text' column; name the article-text column 'text'")
        _check_distinct_ids(data, table)
    except StanceError:
        raise
    except Exception as err:  # noqa: BLE001 - Ray wraps what its read tasks met (bytes that are not UTF-8...)
        raise _unreadable(table, err) from None
    folder = ResultsFolder(output, saved_model_id(meta))  # made once the table reads; the id its scores will carry
    held = {key: version[0] for key, version in folder.versions.items()}
    keep = [c for c in ("text", "id", "date", "source", "title", "url") if c in columns]
    size, cpus_each = _pool_shape(ray.available_resources().get("CPU", 1.0), workers)
    scored = data.select_columns(keep).map_batches(
        _Scorer, fn_constructor_args=(str(Path(model_path).resolve()), date, source, backend, held, replace),
        batch_size=batch_size, batch_format="pyarrow", compute=ray.data.ActorPoolStrategy(size=size),
        num_cpus=cpus_each,
    )
    return _write_results(scored, folder, table)


def _check_distinct_ids(data, table: Path) -> None:
    """Refuse a table in which two rows give the same article id, as one machine does, before any scoring.

    Reads only the id and url columns. A row with neither is left to the actor, which refuses it.
    """
    from stance.corpus import _present

    seen: set[str] = set()
    columns = [c for c in ("id", "url") if c in data.columns()]
    for batch in data.select_columns(columns).iter_batches(batch_format="pyarrow", batch_size=None):
        for row in batch.to_pylist():
            raw = _present(row.get("id"))
            found = _present(row.get("url")) if raw is None else raw
            if found is None:
                continue
            article = str(found).strip()
            if article in seen:
                raise InputError(f"{table}: article id {article!r} is given to more than one row; "
                                 "give every article a distinct id")
            seen.add(article)


def _write_results(scored, folder, table: Path | str = "the table") -> RayRun:
    """Collect the actors' rows here and write the scored ones into ``folder``, a part every PART_ROWS.

    However the run ends (done, Ctrl-C, a worker's error), what has come back is written.
    """
    from stance.store import refused_message

    counts = {"scored": 0, "skipped": 0, "refused": 0}
    part: list[dict] = []
    interrupted = False
    try:
        for batch in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in batch.to_pylist():
                status = row.pop(_STATUS)
                counts[status] += 1
                if status == "scored":
                    part.append(row)
                elif status == "refused":
                    recorded = folder.versions[(row["article"], row["source"])][1]
                    warnings.warn(refused_message(row["location"], row["article"], recorded, str(folder.path)),
                                  StanceWarning, stacklevel=2)
            if len(part) >= PART_ROWS:
                folder.write_rows(part)
                part = []
    except KeyboardInterrupt:
        interrupted = True
    except StanceError:
        raise
    except Exception as err:  # noqa: BLE001 - a worker's StanceError, or a read task's fault, arrives wrapped by Ray
        raise _unreadable(table, err, "score it") from None
    finally:
        folder.write_rows(part)
    return RayRun(counts["scored"], counts["skipped"], counts["refused"], interrupted)
