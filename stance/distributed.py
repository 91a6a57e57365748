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
    """Refuse, within seconds, a cluster address that is not host:port, where nothing answers, or not Ray.

    ``ray.init`` retries an address that does not answer as Ray for minutes, and
    raises a traceback for one it cannot parse. ``auto`` and ``local`` are left to Ray.
    """
    import socket

    if address is None or address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit() or "/" in host or not 0 < int(port) < 65536:
        raise InputError(f"--ray-address {address!r}: not host:port (e.g. 10.0.0.5:6379), ray://host:port, "
                         "auto or local; check --ray-address / RAY_ADDRESS")
    try:
        conn = socket.create_connection((host.strip("[]"), int(port)), timeout=ADDRESS_TIMEOUT)
    except OSError as err:
        raise InputError(f"cannot reach a Ray cluster at {address} ({err.strerror or err}); "
                         "check --ray-address / RAY_ADDRESS and that the cluster is running") from None
    with conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true") or _speaks_grpc(conn):
            return  # (a cluster behind TLS answers the probe with a TLS alert: left to Ray)
    head = "Ray client server" if address.startswith("ray://") else "Ray cluster's head (GCS)"
    raise InputError(f"--ray-address {address}: answers, but not as a {head}; "
                     "give the address `ray start --head` printed, in --ray-address or RAY_ADDRESS")


#: Seconds to wait for a cluster's address to answer.
ADDRESS_TIMEOUT = 5.0
#: An HTTP/2 client's first bytes: the connection preface and an empty SETTINGS frame.
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])


def _speaks_grpc(conn) -> bool:
    """Whether the server on ``conn`` answers an HTTP/2 preface with a SETTINGS frame, as gRPC (Ray's GCS) does.

    ``ray.init`` given anything else that accepts connections (a web server...)
    retries it for minutes, printing Ray's own log lines.
    """
    answer = b""
    try:
        conn.sendall(_HTTP2_PREFACE)
        while len(answer) < 9:  # a frame header: length (3), type (1), flags (1), stream (4)
            got = conn.recv(9 - len(answer))
            if not got:
                break
            answer += got
    except OSError:  # reset, or silent past ADDRESS_TIMEOUT
        return False
    return len(answer) == 9 and answer[3] == 0x4 and answer[5:] == bytes(4)  # SETTINGS, on stream 0


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

    Ctrl-C (and SIGTERM, under the ``stance`` command) stops it after writing what
    was scored (``RayRun.interrupted``); the same call then finishes the table. A
    Ray it started is shut down when it returns.
    """
    import ray

    from stance.persist import read_metadata
    from stance.segment import require_regular_file

    table, output = Path(table), Path(output)
    require_regular_file(table, "give a .jsonl, .csv or .parquet file")  # a FIFO would block Ray's read
    meta = read_metadata(model_path)  # a missing or broken model fails here, not in every worker
    if table.suffix.lower() not in READERS:
        raise InputError(f"{table}: the ray engine reads one table (.jsonl, .csv or .parquet)")
    address = address or os.environ.get("RAY_ADDRESS") or None
    _check_address(address)  # a cluster that does not answer would hold ray.init for minutes
    started = not ray.is_initialized()
    if started:
        _start_ray(address)
    try:
        return _score(table, model_path, output, meta, date=date, source=source, workers=workers,
                      batch_size=batch_size, backend=backend, replace=replace)
    finally:
        if started:  # however the run ends, no raylet or worker of it outlives it
            ray.shutdown()


def _start_ray(address: str | None) -> None:
    """``ray.init``, keeping this process's Ctrl-C and SIGTERM handlers.

    ``ray.init`` replaces the SIGTERM handler with one that exits 15, and its
    core worker with one that prints a C++ stack dump and dies: a run stopped by
    ``kill`` or ``timeout`` would neither write what came back nor say so.
    """
    import signal
    import threading

    import ray

    own = threading.current_thread() is threading.main_thread()  # only the main thread has handlers to keep
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)} if own else {}
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False)
    except (ValueError, ConnectionError, RuntimeError, ImportError) as err:
        ray.shutdown()  # what a local start had begun
        raise InputError(f"Ray cannot start or join a cluster at {address or 'this machine'} "
                         f"({_first_line(err)}); check --ray-address / RAY_ADDRESS") from None
    except BaseException as stop:
        _restore(saved)
        try:  # Ray's own SIGTERM handler ran inside ray.init (sys.exit(15)): stop as the one it replaced would
            if isinstance(stop, SystemExit) and stop.code == signal.SIGTERM and callable(saved.get(signal.SIGTERM)):
                saved[signal.SIGTERM](signal.SIGTERM, None)
        finally:
            ray.shutdown()
        raise
    finally:
        _restore(saved)


def _restore(handlers: dict) -> None:
    """Put back the signal handlers ``handlers`` saved; one set outside Python (None) cannot be, and is left."""
    import signal

    for sig, handler in handlers.items():
        if handler is not None:
            signal.signal(sig, handler)


def _score(table: Path, model_path: str | Path, output: Path, meta: dict, *, date, source, workers, batch_size,
           backend, replace) -> RayRun:
    """The run of :func:`score_with_ray` once Ray is up: read the table, check it, score it into ``output``."""
    import ray

    from stance.results import ResultsFolder
    from stance.scoring import saved_model_id

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
