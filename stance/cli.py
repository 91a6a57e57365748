"""The `stance` command: a thin layer over the library.

Each command parses its options, calls one library function and renders the
result. A :class:`StanceError` becomes one line on stderr and exit code 1;
usage errors exit 2. Heavy imports happen inside the commands, so that
``stance --help`` stays instant.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import os
import shlex
import sys
import warnings
from datetime import date as Date
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer.core import TyperGroup

from stance.errors import InputError, StanceError, StanceWarning

# click's classes, whether typer vendors click or uses it.
_UsageError = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "UsageError")
_NoArgsIsHelpError = getattr(sys.modules[_UsageError.__module__], "NoArgsIsHelpError", ())


INTERRUPTED = "interrupted; files are written whole or not at all, so none was left half-written"
BEFORE_ANY_WORK = "interrupted before any work began; nothing was written"  # as stance.__main__ says it


@contextlib.contextmanager
def _usage_in_one_line(interrupted: str = INTERRUPTED):
    """A usage error (an unknown option, a bad value) as one ``error:`` line and exit 2.

    click prints the usage block, a hint and the error on three lines; stance
    says each error in one line, and names the help to read in it. Ctrl-C is one
    line too, where typer would exit 130 in silence.
    """
    try:
        yield
    except KeyboardInterrupt:
        _fail(interrupted, code=130)
    except _NoArgsIsHelpError:
        raise
    except _UsageError as err:
        hint = f"; see '{err.ctx.command_path} --help'" if err.ctx is not None else ""
        _say("error", err.format_message().rstrip(".") + hint)
        raise typer.Exit(err.exit_code) from None


class _Commands(TyperGroup):
    """stance's command group: its usage errors, and those of every command under it, in one line."""

    def make_context(self, *args, **kwargs):
        with _usage_in_one_line(interrupted=BEFORE_ANY_WORK):  # typer imports as it reads the options
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx):
        with _usage_in_one_line():
            return super().invoke(ctx)


app = typer.Typer(
    cls=_Commands,
    help="Sentence-level stance of news reporting on Serbia toward Russia and the EU.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _say(kind: str, message: str) -> None:
    """One ``error:`` or ``warning:`` line on stderr, whatever the message holds."""
    typer.echo(f"{kind}: {_for_terminal(message, one_line=True)}", err=True)


def _fail(message: str, code: int = 1):
    _say("error", message)
    raise typer.Exit(code)


_CONTROLS = [*range(0x00, 0x20), 0x7F, *range(0x80, 0xA0)]  # C0, DEL, C1
# Bidirectional embeddings, overrides and isolates: printed as such, they reorder what the
# terminal shows, so that a line reads otherwise than it is.
_BIDI = [*range(0x202A, 0x202F), *range(0x2066, 0x206A)]


def _escapes(codes, keep=()) -> dict:
    return {c: f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}" for c in codes if c not in keep}


_SHOWN_CONTROLS = _escapes([*_CONTROLS, *_BIDI], keep=(0x09, 0x0A))
_SHOWN_CONTROLS_ONE_LINE = _escapes([*_CONTROLS, *_BIDI])
_JSON_ESCAPES = {c: f"\\u{c:04x}" for c in [0x7F, *range(0x80, 0xA0), *_BIDI, *range(0xD800, 0xE000)]}


def _for_terminal(text: str, one_line: bool = False) -> str:
    """``text`` safe to print: control characters shown as ``\\x1b`` rather than acted on.

    Article text, ids and file names reach the terminal, where ESC, BEL or a
    C1 CSI would start a sequence that retitles the window, writes the
    clipboard or recolours the screen. Lone surrogates (from file names that
    are not UTF-8) are shown as ``\\udce9``.
    """
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text.translate(_SHOWN_CONTROLS_ONE_LINE if one_line else _SHOWN_CONTROLS)


def _shown(path) -> str:
    """A path the user gave, as one printable line."""
    return _for_terminal(str(path), one_line=True)


def _json_line(data) -> str:
    """``data`` as one JSON line that is safe to print: JSON escapes C0 only, so DEL, C1 and lone surrogates too."""
    return json.dumps(data, ensure_ascii=False).translate(_JSON_ESCAPES)


def user_errors(command):
    """Turn StanceError (and an OSError nothing else caught) into one stderr line, and Ctrl-C into one line and
    exit 130; show each StanceWarning as one line when it happens, and once.

    Shown as they happen, the warnings of a long run come while it runs, and those
    that explain a refusal come before the error line that sums it up. One said again
    (a fit in every fold of an evaluation) is not repeated.
    """

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("always", StanceWarning)
            other = warnings.showwarning
            shown = set()

            def show(message, category, *rest, **options):
                if not issubclass(category, StanceWarning):
                    return other(message, category, *rest, **options)
                if str(message) not in shown:
                    shown.add(str(message))
                    _say("warning", str(message))

            warnings.showwarning = show
            try:
                return command(*args, **kwargs)
            except StanceError as err:
                _fail(str(err))
            except BrokenPipeError:
                raise
            except OSError as err:  # one the command did not foresee: still one line, saying what to do
                _fail(_os_error_line(err))
            except KeyboardInterrupt:  # commands with work to keep (score, record, label) say what they kept
                _fail(INTERRUPTED, code=130)

    return wrapper


def _os_error_line(err: OSError) -> str:
    """An operating-system error as the one line a user acts on."""
    import errno

    hint = {errno.ENOSPC: "free some disk space and run it again",
            errno.ENAMETOOLONG: "give a shorter path",
            errno.EACCES: "check the permissions, or choose another path",
            errno.EPERM: "check the permissions, or choose another path",
            errno.EROFS: "the file system is read-only; choose another path",
            errno.ECONNREFUSED: "check that what it connects to is running"}.get(
        err.errno, "check the path" if err.filename else "check what it names and run it again")
    where = "".join(f"{name}: " for name in (err.filename, err.filename2) if name)
    return f"{where}{err.strerror or err}; {hint}"


def _iso_date(value: Optional[str]) -> Optional[str]:
    from stance.dates import DATE_RANGE, in_range

    if value is None:
        return None
    try:
        day = Date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None
    if not in_range(day):
        raise typer.BadParameter(f"{value!r} is outside the dates stance takes; use one from {DATE_RANGE}")
    return day.isoformat()


def _require_one_store(db, results) -> None:
    """Refuse --db with --results: one would be read and the other silently not."""
    if db is not None and results is not None:
        _fail("give --db or --results, not both", code=2)


def _require_date_range(since: Optional[str], until: Optional[str]) -> None:
    """Refuse --since after --until (both checked ISO dates) before any work: no dated article is between them."""
    if since is not None and until is not None and since > until:
        _fail(f"--since {since} is after --until {until}, so no date is in that range; swap them", code=2)


def _article_folders(articles: list[Path] | None) -> list[Path]:
    """The labeled articles' folders: those given, else seeds/ when there is one."""
    return articles if articles is not None else [p for p in [Path("seeds")] if p.is_dir()]


@app.command()
@user_errors
def train(
    labels: Annotated[
        Optional[list[Path]], typer.Option("--labels", help="Label file (.jsonl); repeat for several. Default: labels/*.jsonl")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Model folder to write. Default: $STANCE_MODEL or ~/.local/share/stance/model")] = None,
    encoder: Annotated[
        Optional[str],
        typer.Option(help="A local sentence-transformers folder, 'mpnet' (all-mpnet-base-v2; pip install "
                     "'stance[mpnet]'), or 'static' (MiniLM distilled with model2vec, built on first use). "
                     "Default: bundled all-MiniLM-L6-v2"),
    ] = None,
    fine_tune: Annotated[
        bool,
        typer.Option("--fine-tune/--frozen", help="Fine-tune the encoder's top layers with the heads, or keep it "
                     "frozen and fit logistic regression on its embeddings and TF-IDF n-grams (the default: the "
                     "better of the two for MiniLM in grouped cross-validation; all-mpnet-base-v2 gains a "
                     "little from fine-tuning; see experiments/README.md). 'static' is always frozen."),
    ] = False,
    articles: Annotated[
        Optional[list[Path]], typer.Option("--articles", help="Folder of labeled articles' .txt, to check labels. Default: seeds/")
    ] = None,
    report_dir: Annotated[Optional[Path], typer.Option(help="Where to write the evaluation report. Default: experiments/<run>")] = None,
    renamed_copies: Annotated[
        Optional[bool],
        typer.Option("--renamed-copies/--no-renamed-copies", help="Also train the frozen model on a copy of each "
                     "sentence with a Serbian stance, Serbia's actors renamed as another country's and labelled "
                     "none, so that it reads another country's act as no Serbian stance (stance check). On by "
                     "default for the frozen model, at --copy-weight 0.1 (see experiments/README.md).", show_default=False),
    ] = None,
    copy_weight: Annotated[
        Optional[float],
        typer.Option("--copy-weight", help="What each renamed copy weighs in the heads' fit, in (0, 1] "
                     "(default 0.1: the copies teach who acts without costing the labeled articles; "
                     "see experiments/README.md).", show_default=False),
    ] = None,
    question_rule: Annotated[
        bool,
        typer.Option("--question-rule/--no-question-rule", help="Label a sentence that ends in a question mark none "
                     "on both targets, as LABELING.md reads a question without an answer (frozen model). Turn it "
                     "off for a label scheme that reads stance into questions."),
    ] = True,
    pressure_rule: Annotated[
        Optional[bool],
        typer.Option("--pressure-rule/--no-pressure-rule", help="Label a sentence in which another actor only presses "
                     "Serbia (\"Brussels urged Belgrade to align\") none on both targets, as LABELING.md reads "
                     "pressure (on by default for the frozen model; see experiments/README.md).", show_default=False),
    ] = None,
):
    """Evaluate by article, train on all labels, save the model and the report."""
    from stance.paths import check_writable, default_model_dir
    from stance.train import fine_tunes, run_name
    from stance.train import train as train_model

    labels = labels or sorted(Path("labels").glob("*.jsonl"))
    if not labels:
        _fail("no label files: pass --labels FILE.jsonl (none found in ./labels/)")
    frozen = not fine_tunes(encoder, fine_tune)
    if renamed_copies and not frozen:
        _fail("--renamed-copies trains the frozen model; drop --fine-tune or --renamed-copies")
    if copy_weight is not None and (renamed_copies is False or not frozen):
        _fail("--copy-weight weighs the frozen model's renamed copies; drop --copy-weight, --no-renamed-copies "
              "or --fine-tune")
    if copy_weight is not None and not 0 < copy_weight <= 1:  # NaN too
        _fail(f"--copy-weight {copy_weight}: give a weight above 0 and at most 1")
    if pressure_rule and not frozen:
        _fail("--pressure-rule is the frozen model's; drop --fine-tune or --pressure-rule")
    articles = _article_folders(articles)
    out = check_writable(out or default_model_dir(), "--out", folder=True, replaced=True)
    report_dir = report_dir or Path("experiments") / run_name(encoder, fine_tune, renamed_copies, pressure_rule,
                                                              copy_weight)
    report_dir = check_writable(report_dir, "--report-dir", folder=True)
    run = train_model(
        labels,
        out=out,
        encoder_path=encoder,
        articles=articles,
        report_dir=report_dir,
        command=shlex.join(["stance", *sys.argv[1:]]),
        fine_tune=fine_tune,
        renamed_copies=renamed_copies,
        copy_weight=copy_weight,
        question_rule=question_rule,
        pressure_rule=pressure_rule,
    )
    for plan, result in run.report.evaluations.items():
        typer.echo(f"{result['description']}: {result['n_sentences']} sentences, {result['n_articles']} articles")
        for target in run.report.targets:
            row = result["targets"][target]
            typer.echo(
                f"  {target:7s} macro-F1 {row['model']['macro_f1']:.3f}  F1avg {row['model']['f1_avg']:.3f}"
                f"  (TF-IDF {row['tfidf']['macro_f1']:.3f}, majority {row['majority']['macro_f1']:.3f})"
            )
    typer.echo(f"model saved to {_shown(run.model_path)}")
    typer.echo(f"report written to {_shown(run.report_path / 'report.md')}")


@app.command()
@user_errors
def distill(
    out: Annotated[Optional[Path], typer.Option(help="Folder to write. Default: $STANCE_STATIC or "
                                                "~/.local/share/stance/static-minilm")] = None,
    source: Annotated[Optional[Path], typer.Option(help="A sentence-transformers folder, or a model folder whose "
                                                   "encoder `stance train` fine-tuned. Default: the bundled MiniLM")] = None,
):
    """Build the static-embedding model from the bundled MiniLM (model2vec, offline)."""
    import time

    from stance.encoders.static import default_static_path, distill_static, is_static_folder
    from stance.paths import check_writable

    out = check_writable(out or default_static_path(), "--out", folder=True, replaced=True, ours=is_static_folder)
    start = time.perf_counter()
    folder = distill_static(out, source=source)
    typer.echo(f"static model written to {_shown(folder)} in {time.perf_counter() - start:.0f} s; "
               "train on it with `stance train --encoder static`")


# Options several commands share, declared once.
DbOption = Annotated[
    Optional[Path], typer.Option(help="History database. Default: $STANCE_DB or ~/.local/share/stance/history.sqlite")
]
ResultsOption = Annotated[
    Optional[Path], typer.Option(help="Read a results folder written by `stance score --output` instead of --db.")
]
SourcesOption = Annotated[Optional[list[str]], typer.Option("--source", help="Only this outlet; repeat for several.")]
SinceOption = Annotated[Optional[str], typer.Option(help="First date, YYYY-MM-DD.", callback=_iso_date)]
UntilOption = Annotated[Optional[str], typer.Option(help="Last date, YYYY-MM-DD.", callback=_iso_date)]
ModelIdOption = Annotated[
    Optional[str], typer.Option("--model-id", help="Scores of this model (an id prefix). Default: the latest recorded.")
]


BACKEND_OPTION = typer.Option(
    envvar="STANCE_BACKEND",
    help="What runs a sentence-transformers encoder: onnx (onnxruntime: same vectors, faster, no torch import), "
    "torch, torch-bf16 (PyTorch in bfloat16: vectors to a cosine of 0.9999, near 3x torch's speed on CPUs "
    "with AMX or AVX-512 BF16, usually slower without), or auto (onnx when it runs the model, else torch).",
)


@app.command()
@user_errors
def score(
    inputs: Annotated[
        list[str],
        typer.Argument(
            metavar="INPUT...",
            help="Article files (UTF-8 text), folders of .txt (recursive), tables (.jsonl/.csv/.parquet "
            "with a 'text' column); - reads stdin.",
        ),
    ],
    model: Annotated[Optional[Path], typer.Option(help="Model folder. Default: $STANCE_MODEL or ~/.local/share/stance/model")] = None,
    date: Annotated[
        Optional[str],
        typer.Option(help="Publication date, YYYY-MM-DD, for articles whose table gives none (wins over a date in the text).",
                     callback=_iso_date),
    ] = None,
    source: Annotated[Optional[str], typer.Option(help="Outlet, for articles whose table gives none.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per article, one per line.")] = False,
    record: Annotated[bool, typer.Option("--record", help="Also store the scores in the history database.")] = False,
    db: DbOption = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    output: Annotated[
        Optional[Path],
        typer.Option(help="Also write results as Parquet parts into this folder, incrementally; "
                     "run again to resume (articles already there are skipped)."),
    ] = None,
    engine: Annotated[str, typer.Option(help="local, or ray (Ray Data; one table, needs --output).")] = "local",
    ray_address: Annotated[
        Optional[str], typer.Option("--ray-address", help="Ray cluster to use. Default: $RAY_ADDRESS, else a local Ray.")
    ] = None,
    backend: Annotated[str, BACKEND_OPTION] = "auto",
    replace: Annotated[
        bool,
        typer.Option("--replace", help="An article whose id is already recorded (or in --output) with another text: "
                     "score the new text and replace the recorded version. Without it such articles are refused."),
    ] = False,
    skip_recorded: Annotated[
        bool,
        typer.Option("--skip-recorded", help="With --record: skip articles the database already holds with the same "
                     "text and model (they are neither scored nor printed), to finish a long run that was cut short."),
    ] = False,
    explain: Annotated[
        bool,
        typer.Option("--explain", help="Show under each sentence, per target, the words that pushed its label: their "
                     "contribution to the label's logit before calibration (a model with n-grams; the embedding shows as "
                     "'(sentence meaning)'), else the fall in its probability without the word. Prints the sentence "
                     "table of every article, even of several; with --json adds an 'explain' field per sentence. "
                     "Changes only what is printed, not what --record or --output keep; not with --engine ray."),
    ] = False,
):
    """Score articles sentence by sentence for stance toward each target."""
    import itertools

    if engine not in ("local", "ray"):
        raise typer.BadParameter(f"{engine!r}: use local or ray", param_hint="--engine")
    if db is not None and not record:  # else the user would believe the scores stored
        _fail("--db names the database that --record stores in; add --record to store these scores there", code=2)
    if replace and not (record or output is not None):
        _fail("--replace replaces versions kept by --record or --output; add one of them", code=2)
    if skip_recorded and not record:
        _fail("--skip-recorded skips articles that --record stored before; add --record", code=2)
    if engine == "ray":
        if explain:
            _fail("--explain shows its reasons in printed scores and --engine ray prints none; use --engine local")
        if skip_recorded:
            _fail("--skip-recorded works with --engine local; a results folder given to --output resumes by itself")
        from stance.distributed import score_with_ray
        from stance.paths import default_model_dir

        if output is None or len(inputs) != 1 or as_json:
            _fail("--engine ray scores one table into --output FOLDER (no --json); then "
                  "`stance drift --results FOLDER`")
        from stance.paths import check_writable

        check_writable(output, "--output", folder=True)
        _refuse_output_in_model(output, model or default_model_dir())
        store, new_db = _open_recording_store(db, [output]) if record else (None, False)  # a bad --db fails before Ray
        try:
            run = score_with_ray(inputs[0], model or default_model_dir(), output, date=date, source=source,
                                 address=ray_address, backend=backend, replace=replace)
        except BaseException:
            _close_after_failure(store, new_db)
            raise
        try:
            kept = [f"wrote {run.written} articles to {_shown(output)}"]
            if run.skipped:
                kept.append(f"skipped {run.skipped} articles already in {_shown(output)}")
            if store is not None:  # the whole folder, so that a run finished in two goes is recorded whole
                kept.append(_recorded(store.record_results(output, replace=replace), store, store.replaced))
        finally:
            if store is not None:
                store.close()
        if run.interrupted:
            _stopped_early(KeyboardInterrupt(), run.written, kept, again=_how_to_finish(True, False, False))
        for line in kept:
            typer.echo(line, err=True)
        _refuse_clashes(run.refused + (store.refused if store is not None else 0))
        return

    from stance.corpus import read_documents
    from stance.model import load_model
    from stance.paths import default_model_dir, refuse_repeated_paths
    from stance.scoring import model_info, score_documents

    if inputs.count("-") > 1:
        _fail("stdin (-) can be given only once")
    if (record or output is not None) and "-" in inputs:
        _fail(f"an article from stdin has no id to {'record' if record else 'write'} it under; "
              "save it to a file (its name is the id) and score that")
    if "-" in inputs and sys.stdin is None:
        _fail("stdin is closed; pipe an article in (stance score - < article.txt), or give its file")
    refuse_repeated_paths([i for i in inputs if i != "-"], "file or folder", InputError)  # else its ids clash late
    documents = read_documents(inputs, date=date, source=source)
    head = list(itertools.islice(documents, 2))
    if not head:
        _fail("no articles to score in the inputs given; check the table has rows")
    single = len(head) == 1
    documents = itertools.chain(head, documents)
    from stance.paths import check_writable
    from stance.results import ResultsFolder, Versions, check_output

    if output is not None:
        check_writable(output, "--output", folder=True)
        _refuse_output_in_model(output, model or default_model_dir())
    from stance.persist import checked_backend

    checked_backend(backend)  # before --db is made, so that a typo leaves no empty database behind
    store, new_db = _open_recording_store(db, [output]) if record else (None, False)  # a bad --db or --output fails first
    try:
        if output is not None:
            check_output(output)
        fitted = load_model(model or default_model_dir(), backend=backend)
        model_id = model_info(fitted)["id"]
        results_folder = ResultsFolder(output, model_id) if output is not None else None
    except BaseException:
        _close_after_failure(store, new_db)
        raise
    if results_folder is not None and results_folder.done and not skip_recorded:  # else counted at the end
        typer.echo(f"resuming: {_shown(output)} holds {len(results_folder.done)} articles; "
                   "those given again with the same text are skipped", err=True)
    versions = Versions(model_id, folder=results_folder, store=store, replace=replace, skip_recorded=skip_recorded)
    documents = versions.select(documents)
    progress = _progress(None if not single else 1, quiet)
    batch, part, written, saved, recorded, header, stopped = [], [], 0, 0, 0, False, None
    try:
        try:
            for result in score_documents(fitted, documents):
                progress.update(1)
                reasons = explain_scores(fitted, result) if explain else None
                if as_json:
                    typer.echo(_json_line(result.to_dict() if reasons is None else _with_reasons(result.to_dict(), reasons)))
                elif explain or (single and output is None):  # with --output, stdout is for --json alone
                    typer.echo(render_scores(result, reasons))
                elif output is None:
                    if not header:
                        typer.echo(summary_header(list(result.summary)))
                        header = True
                    typer.echo(summary_line(result))
                written += 1
                # in both lists before either is written: a Ctrl-C while a part is written leaves the article
                # in the batch still to record, so that the database and --output keep the same articles
                if results_folder is not None:
                    part.append(result)
                if store is not None:
                    batch.append(result)
                if results_folder is not None and len(part) >= 1024:
                    saved += _write_part(results_folder, part)
                    part = []
                if store is not None and len(batch) >= 64:
                    recorded += _record_batch(store, batch, replace)
                    batch = []
        except (KeyboardInterrupt, BrokenPipeError, InputError, _PartNotWritten, _NotRecorded) as stop:  # Ctrl-C, a
            stopped = stop  # reader such as `head` gone, a bad article, a full disk, a database held locked: what
            # was done before is kept
        if store is not None and not isinstance(stopped, _NotRecorded):
            try:
                recorded += _record_batch(store, batch, replace)
                if stopped is None:  # what a first run wrote to --output only: recorded from there
                    recorded += versions.record_resumed(lambda resumed: _record_batch(store, resumed, replace))
            except _NotRecorded as stop:
                stopped = stop
        if results_folder is not None and not isinstance(stopped, _PartNotWritten):
            try:
                saved += _write_part(results_folder, part)
            except _PartNotWritten as stop:
                stopped = stop
    finally:
        progress.close()
        if store is not None:
            store.close()
    kept = []
    if store is not None:
        kept.append(_recorded(recorded, store, store.replaced))
    if results_folder is not None:
        kept.append(f"wrote {saved} articles to {_shown(output)}")
    if skip_recorded:
        kept.append(f"skipped {versions.skipped} articles already recorded with this text and model")
    if single and not written and isinstance(stopped, InputError):
        _fail(str(stopped))  # the one article given was refused: nothing was done to speak of
    if stopped is not None:  # a batch not recorded is in --output, which a plain resume would skip
        _stopped_early(stopped, written, kept, again=_how_to_finish(
            results_folder is not None and not isinstance(stopped, _NotRecorded), store is not None, skip_recorded))
    for line in kept:
        typer.echo(line, err=True)
    _refuse_clashes(versions.refused + (store.refused if store is not None else 0))


def _refuse_output_in_model(output: Path, model: Path) -> None:
    """A results folder in the model folder would make it one a new model cannot replace, and mix two kinds of file."""
    from stance.paths import lies_within

    if lies_within(os.path.realpath(output), os.path.realpath(model)):
        _fail(f"--output {_shown(output)}: is in the model folder {_shown(model)}; write results to a folder of their "
              "own")


class _PartNotWritten(Exception):
    """A results part could not be written (a full disk, say): the run stops, keeping what is stored."""


class _NotRecorded(Exception):
    """The history database refused a batch (held locked too long, a full disk): the run stops, keeping the rest."""


def _record_batch(store, batch: list, replace: bool) -> int:
    from stance.store import StoreError

    try:
        return store.record(batch, replace=replace)
    except StoreError as err:
        raise _NotRecorded(str(err)) from None


def _write_part(folder, part: list) -> int:
    from stance.paths import write_error

    try:
        folder.write(part)
    except OSError as err:
        raise _PartNotWritten(str(write_error(folder.path, err, "cannot write a results part in"))) from None
    return len(part)


def _how_to_finish(resumes_output: bool, records: bool, skips_recorded: bool) -> str:
    """What finishes a scoring run cut short without scoring again what it kept."""
    if resumes_output:
        return "run the same command again to finish (articles already in --output are skipped)"
    if records:
        return (f"run the same command{' again' if skips_recorded else ' with --skip-recorded'} to finish "
                "(articles already recorded are skipped)")
    return "run the same command again to finish"


def _quiet_stdout() -> None:
    """After a closed stdout: nothing more can reach the reader, so what is left goes to /dev/null and exit does
    not fail too."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def _stopped_early(stop: BaseException, written: int, kept: list[str], *, again: str):
    """End a scoring run cut short, saying what was kept and how to finish: Ctrl-C exits 130, a closed stdout or a bad article 1."""
    if isinstance(stop, BrokenPipeError):
        _quiet_stdout()
        if not kept:
            raise typer.Exit(1)  # as `head` expects: nothing was to be stored, so nothing to say
    if isinstance(stop, (InputError, _PartNotWritten)):
        reason, again = f"{stop}; stopped", f"fix it, then {again}"
    elif isinstance(stop, _NotRecorded):
        reason = f"{stop}; stopped"
    else:
        reason = "interrupted" if isinstance(stop, KeyboardInterrupt) else "standard output closed"
    _fail(f"{reason} after {written} articles" + "".join(f"; {k}" for k in kept) + f"; {again}",
          code=130 if isinstance(stop, KeyboardInterrupt) else 1)


def _recorded(count: int, store, replaced: int, folder: Optional[Path] = None) -> str:
    """What recording did; a run finished in two goes stores again what its first go stored, so say how many."""
    again = "" if not replaced else f" ({replaced} was recorded before and is replaced)" if replaced == 1 else \
        f" ({replaced} were recorded before and are replaced)"
    return f"recorded {count} articles{f' from {_shown(folder)}' if folder else ''} in {_shown(store.path)}{again}"


def _refuse_clashes(refused: int) -> None:
    """Exit 1 after the work when articles were refused for an id that holds another text."""
    if refused:
        raise StanceError(
            f"{refused} article{'s' if refused != 1 else ''} not stored: {'their ids' if refused != 1 else 'its id'} "
            f"already {'hold' if refused != 1 else 'holds'} another text (see the warnings); give them distinct ids "
            "(a table with an id column) or pass --replace to replace the recorded versions"
        )


@app.command()
@user_errors
def record(
    results: Annotated[list[Path], typer.Argument(metavar="RESULTS...", help="Folders written by `stance score --output`.")],
    db: DbOption = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="An article already recorded with another text under its id: replace it. "
                           "Without it such articles are refused.")
    ] = False,
):
    """Store results folders (local or Ray) in the history database, as --record would have."""
    from stance.paths import refuse_repeated_paths
    from stance.results import check_every_article, check_results
    from stance.store import StoreError

    refuse_repeated_paths(results, "results folder", InputError)  # else recorded twice, the second time as replacing
    for folder in results:  # every part and article of every folder is checked before the database is touched
        check_results(folder)
        check_every_article(folder)
    store, new_db = _open_recording_store(db, results)
    with store:
        for number, folder in enumerate(results):
            stored: list[int] = []
            replaced_before = store.replaced
            try:
                recorded = store.record_results(folder, replace=replace, progress=stored.append)
            except (KeyboardInterrupt, StoreError) as stop:  # batches of 64 are whole transactions: what was stored stays
                removed = number == 0 and not sum(stored) and new_db
                if number == 0 and not sum(stored):
                    _close_after_failure(store, new_db)  # a database made moments ago, with nothing in it, goes
                kept = (f"nothing was stored, and {_shown(store.path)}, made for it, is removed" if removed else
                        f"the {sum(stored)} articles stored so far stay in {_shown(store.path)}")
                _fail(("interrupted" if isinstance(stop, KeyboardInterrupt) else f"{stop}; stopped") + " while "
                      f"recording {_shown(folder)}; {kept}; run the same command again to finish (recording again "
                      "replaces them)", code=130 if isinstance(stop, KeyboardInterrupt) else 1)
            typer.echo(_recorded(recorded, store, store.replaced - replaced_before, folder), err=True)
    _refuse_clashes(store.refused)


def _progress(total: Optional[int], quiet: bool):
    """A progress bar on stderr for long runs, off when quiet, for one article, or not on a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="article", disable=quiet or total == 1 or not sys.stderr.isatty(), file=sys.stderr)


def _open_recording_store(db: Optional[Path], results=()):
    """The store --record writes to, and whether this command creates its file; refused in a results folder
    (``results``, or one around it), whose every file a reader of the folder as one table reads as a part."""
    from stance.paths import link_target, lies_within, results_folder_around
    from stance.store import default_db_path

    place = (db if db is not None else default_db_path()).expanduser()
    lands = os.path.realpath(link_target(place))
    held = results_folder_around(os.path.dirname(lands)) or next(
        (folder for folder in results if folder is not None and lies_within(lands, os.path.realpath(folder))), None)
    if held is not None:
        _fail(f"--db {_shown(place)}: lies in the results folder {_shown(held)}, whose every file is read as a part "
              "of its table; give the database another folder")
    new = not os.path.lexists(place)
    return _open_store(db), new


def _close_after_failure(store, new: bool) -> None:
    """Close the store of a run that failed before recording anything: a database this command
    created moments ago (a missing model, say) is removed with its WAL files, so nothing empty stays."""
    if store is None:
        return
    store.close()
    if new:
        for made in (store.path, Path(f"{store.path}-wal"), Path(f"{store.path}-shm")):
            made.unlink(missing_ok=True)


def _open_store(db: Optional[Path], readonly: bool = False):
    from stance.store import HistoryStore

    return HistoryStore(db, create=not readonly, readonly=readonly)


@app.command()
@user_errors
def drift(
    db: DbOption = None,
    by: Annotated[str, typer.Option(help="Period: week, month, quarter, half or year.")] = "month",
    source: SourcesOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    model_id: ModelIdOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="The report as one JSON object.")] = False,
    plot: Annotated[Optional[Path], typer.Option(help="Write the chart to this PNG file.")] = None,
    html: Annotated[Optional[Path], typer.Option(help="Write the explorable one-file HTML page: chart, periods and the evidence behind them.")] = None,
    results: ResultsOption = None,
    evidence: Annotated[
        bool, typer.Option("--evidence", help="After the table, the sentences and articles behind each period's "
                           "number, and what changed at each shift (always in --json and --html).")
    ] = False,
    top: Annotated[
        int, typer.Option("--top", min=1, max=100, help="Evidence sentences per side, and articles, per period and target.")
    ] = 3,
):
    """Show how net stance moves from period to period, from the recorded scores."""
    from stance.drift import PERIODS
    from stance.drift import measure_drift

    if by not in PERIODS:
        raise typer.BadParameter(f"{by!r} is not a period; use one of {', '.join(PERIODS)}", param_hint="--by")
    _require_one_store(db, results)
    _require_date_range(since, until)
    from stance.pages import PAGE_START
    from stance.paths import check_writable, is_chart, refuse_overwriting, starts_with
    from stance.store import default_db_path, require_database_file

    if results is None:
        require_database_file(db or default_db_path())
    for path, option, ours in ((plot, "--plot", is_chart), (html, "--html", starts_with(PAGE_START))):
        if path is not None:
            refuse_overwriting(path, option, [results if results is not None else db or default_db_path()])
            check_writable(path, option, ours=ours)
    if plot is not None and html is not None and os.path.realpath(plot) == os.path.realpath(html):
        _fail(f"--plot and --html both name {plot}; give each its own file", code=2)
    _require_suffix(plot, "--plot", CHART_FORMAT)
    _require_suffix(html, "--html", PAGE_FORMAT)
    with_evidence = evidence or as_json or html is not None
    if results is not None:
        from stance.results import folder_model, read_results

        rows, _ = read_results(results, sources=source, since=since, until=until, strongest=with_evidence)
        if not rows:
            _fail("no results match --source/--since/--until; widen the selection"
                  + (_sources_held(read_results(results)[0]) if source else ""))
        report = measure_drift(rows, by, model=folder_model(results), evidence=top if with_evidence else 0)
        _report_drift(report, plot, html, as_json, evidence)
        return
    with _open_store(db, readonly=True) as store:
        picked, held = store.chosen_model(model_id)
        if held > 1 and model_id is None:
            typer.echo(f"note: {_shown(store.path)} holds scores of {held} models; showing the latest, "
                       f"{picked['model_id']} (choose with --model-id)", err=True)
        rows = store.articles(model_id=picked["model_id"], sources=source, since=since, until=until,
                              strongest=with_evidence)
        held_sources = _sources_held(store.articles(model_id=picked["model_id"])) if source and not rows else ""
    if not rows:
        _fail("no recorded articles match --source/--since/--until; widen the selection" + held_sources)
    report = measure_drift(rows, by, model={"id": picked["model_id"], **picked["model"]}, evidence=top if with_evidence else 0)
    _report_drift(report, plot, html, as_json, evidence)


#: What each written format is, and the names a viewer opens it by.
CHART_FORMAT = ("the chart is written as PNG", (".png",))
PAGE_FORMAT = ("the page is written as HTML", (".html", ".htm"))


def _require_suffix(path: Optional[Path], option: str, output_format: tuple[str, tuple[str, ...]]) -> None:
    """Refuse an output named for another format: a PNG chart in ``drift.svg`` opens in no viewer."""
    written, suffixes = output_format
    if path is not None and path.suffix.lower() not in suffixes:
        _fail(f"{option} {_shown(path)}: {written}; give a file name ending in {' or '.join(suffixes)}", code=2)


def _sources_held(rows: list[dict], shown: int = 5) -> str:
    """What a --source that matched nothing could have named: "; the sources held: A, B (and 3 more)"."""
    from stance.dates import UNKNOWN_SOURCE

    names = sorted({row.get("source") or UNKNOWN_SOURCE for row in rows})
    more = f" (and {len(names) - shown} more)" if len(names) > shown else ""
    return f"; the sources held: {', '.join(map(repr, names[:shown]))}{more}" if names else ""


def _report_drift(report, plot: Optional[Path], html: Optional[Path], as_json: bool, evidence: bool = False) -> None:
    """Write the chart and page if asked, then print the report."""
    if plot is not None:
        from stance.drift_plot import write_png

        write_png(report, plot)
        typer.echo(f"chart written to {_shown(plot)}", err=True)
    if html is not None:
        from stance.drift_plot import write_html

        write_html(report, html)
        typer.echo(f"HTML report written to {_shown(html)}", err=True)
    if as_json:
        typer.echo(_json_line(report.to_dict()))
    else:
        typer.echo(_for_terminal(report.to_text(evidence=evidence)), nl=False)


@app.command()
@user_errors
def report(
    run: Annotated[Path, typer.Argument(help="A run folder written by `stance train` (metrics.json, predictions.jsonl).")] = Path(
        "experiments/minilm-logreg"),
    html: Annotated[Optional[Path], typer.Option(help="Where to write the page. Default: RUN/report.html")] = None,
    experiments: Annotated[
        Optional[Path], typer.Option(help="Also show this Markdown file's table (e.g. experiments/finetune/search.md).")
    ] = None,
):
    """Render a training run's evaluation as one explorable HTML page (confusion cells list their sentences)."""
    from stance.pages import PAGE_START
    from stance.paths import check_writable, refuse_overwriting, starts_with
    from stance.report import require_file, require_run_folder, write_evaluation_page

    require_run_folder(run)
    target = html if html is not None else run / "report.html"
    if experiments is not None:  # before the output checks, which would take a folder given here as one to protect
        require_file(experiments, "--experiments", "give a Markdown file with a table")
    refuse_overwriting(target, "--html", [run / "metrics.json", run / "predictions.jsonl", experiments])
    check_writable(target, "--html", ours=starts_with(PAGE_START))
    _require_suffix(html, "--html", PAGE_FORMAT)
    written = write_evaluation_page(run, target, experiments=experiments)
    typer.echo(f"evaluation page written to {_shown(written)}", err=True)


@app.command()
@user_errors
def label(
    inputs: Annotated[list[str], typer.Argument(metavar="FILE...", help="Articles to label: files, folders or tables.")],
    labels: Annotated[Path, typer.Option("--labels", help="Label file to append to (JSON Lines).")] = Path(
        "labels/mine.jsonl"),
    annotator: Annotated[Optional[str], typer.Option(help="Your name, stored with every answer. Default: $USER.")] = None,
    order: Annotated[str, typer.Option(help="uncertainty (least sure first) or document (reading order).")] = "uncertainty",
    model: Annotated[Optional[Path], typer.Option(help="Model whose guesses to show. Default: the trained one.")] = None,
    backend: Annotated[str, BACKEND_OPTION] = "auto",
):
    """Label sentences in the terminal, least-sure first; every answer is saved at once."""
    import getpass

    from stance.corpus import read_documents
    from stance.errors import InputError
    from stance.labeling import LabelLog
    from stance.paths import check_writable, refuse_repeated_paths
    from stance.schema import annotator_name

    if order not in ("uncertainty", "document"):
        raise typer.BadParameter(f"{order!r}: use uncertainty or document", param_hint="--order")
    if "-" in inputs:
        _fail("labeling reads answers from stdin; give the articles as files")
    refuse_repeated_paths(inputs, "file or folder", InputError)
    if sys.stdin is None:
        _fail("stdin is closed; labeling reads answers from the terminal or a pipe")
    try:
        annotator = annotator or os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):  # no $USER and a user id with no name, as in some containers
        _fail(f"cannot tell who is labeling (no $USER, and user id {os.getuid()} has no name); pass --annotator NAME")
    if not annotator.strip() or not annotator.isprintable():
        _fail(f"--annotator {annotator!r}: give a name on one line, not blank; it marks every answer in the label file")
    if "," in annotator or annotator != annotator.strip():  # `labels agreement --annotators A,B` could not name it
        _fail(f"--annotator {annotator!r}: give a name without a comma or spaces at its ends (such as "
              f"{annotator.replace(',', '').strip().replace('  ', ' ')!r}); `stance labels agreement --annotators A,B` "
              "names annotators so")
    annotator = annotator_name(annotator)
    log = LabelLog(check_writable(labels, "--labels", append=True))
    log.answered(annotator)  # a file that is not a label file is refused before the model loads, never appended to
    held = log.held_targets()  # a row with a target the file does not hold would make the whole file unreadable
    if held == []:  # answers to no target would be rows without labels
        _fail(f"{_shown(labels)} names no target (its first line declares none, or its first row labels none); give "
              "--labels a label file of the targets to label, or a new one")
    for item in inputs:
        if log.path.exists() and os.path.exists(item) and os.path.samefile(item, log.path):
            _fail(f"{item} is the --labels file answers go to, not an article; give the articles to label")
        if log.path.name == "articles.jsonl" and os.path.isdir(item) and os.path.samefile(item, log.path.parent):
            _fail(f"{_shown(labels)} is the article index of {_shown(item)}, not a label file; give --labels another "
                  "name or folder")
    documents = list(read_documents(inputs))
    with log.session(annotator, create=False):  # a session of this annotator already running: refused before the model loads
        pass
    _label_session(log, labels, documents, annotator, held, model, backend, order)


def _label_session(log, labels: Path, documents: list, annotator: str, held, model, backend, order: str) -> None:
    """`stance label` once its inputs are checked: the model's guesses, then the questions."""
    from stance.errors import ModelNotFoundError
    from stance.labeling import HELP, candidates, order_queue, run_session
    from stance.model import load_model
    from stance.paths import default_model_dir
    from stance.schema import TARGETS
    from stance.scoring import model_info

    try:
        fitted = load_model(model or default_model_dir(), backend=backend)
    except ModelNotFoundError:
        if model is not None:
            raise
        fitted = None
        order = "document"
    targets = list(fitted.targets_) if fitted is not None else list(TARGETS)
    if held is not None and not set(held) <= set(targets):
        _fail(f"{labels} holds labels for {', '.join(held)}, and the model labels {', '.join(targets)}; "
              "give --labels a label file for this model's targets, or a new one")
    if held is not None and set(held) != set(targets):
        typer.echo(_for_terminal(f"note: {_shown(labels)} holds {', '.join(held)} labels only; only those are asked",
                                 True), err=True)
        targets = [t for t in targets if t in held]
    queue = order_queue(candidates(documents, fitted, targets), order)
    interactive = sys.stdin.isatty()
    redraw = interactive and sys.stdout.isatty() and os.environ.get("TERM", "dumb") != "dumb"
    intro = f"Labeling as {_for_terminal(annotator, True)} into {_shown(labels)}. Keys: {HELP}"
    if fitted is None:
        note = "note: no trained model yet, so no guesses and reading order; run `stance train` to get them"
        if redraw:
            intro = f"{note}\n{intro}"  # on every screen, since each one starts clean
        else:
            typer.echo(note, err=True)
    if interactive and not redraw:
        typer.echo(intro)
    counts = {"answered": 0}
    model_id = model_info(fitted)["id"] if fitted is not None else None  # as score and drift name it
    try:
        with log.session(annotator), _keystrokes() if interactive else contextlib.nullcontext(_lines()) as keys:
            counts = run_session(queue, log, annotator=annotator, targets=targets, keys=keys,
                                 show=lambda text: typer.echo(_for_terminal(text)),  # article text, never commands
                                 model_id=model_id, lengths={d.id: len(d.article.segments) for d in documents},
                                 new_screen=(lambda: typer.echo("\x1b[H\x1b[2J" + intro)) if redraw else None)
    except KeyboardInterrupt:
        typer.echo("\ninterrupted; every answer given so far is saved", err=True)
        raise typer.Exit(130) from None
    except BrokenPipeError:  # `stance label ... | head`: the questions can no longer be read
        _quiet_stdout()
        kept = (f"every answer given so far is saved in {_shown(labels)}" if log.path.exists()
                else "nothing was answered, so no label file was made")
        _fail(f"the output was closed, so no more sentences are asked; {kept}")
    asked_again = f", {counts['changed']} asked again (their article changed)" if counts.get("changed") else ""
    too_long = f", {counts['too_long']} too long to label" if counts.get("too_long") else ""
    too_long += f", {counts['past_end']} kept past their article's end" if counts.get("past_end") else ""
    where = f"saved in {_shown(labels)}" if log.path.exists() else "no label file made, since nothing was answered"
    typer.echo(f"{counts['answered']} answered, {counts.get('skipped', 0)} skipped, {counts.get('undone', 0)} undone, "
               f"{counts.get('remaining', 0)} left{asked_again}{too_long}; {where}", err=True)


@contextlib.contextmanager
def _keystrokes():
    """Single keystrokes from the terminal, which stays in cbreak mode for the whole session.

    The mode is set once and without flushing input, so keys typed ahead of a prompt are
    kept; switching per key (as ``click.getchar`` does, with TCSAFLUSH) drops them.
    """
    import signal
    import termios
    import tty

    def stop(signum, frame):  # `kill`, `timeout`, a closed window: stop as Ctrl-C does, the terminal given back
        raise KeyboardInterrupt

    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd)
    before = {}
    try:
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) is not signal.SIG_IGN:  # a signal the user chose to ignore stays ignored
                before[sig] = signal.signal(sig, stop)
        tty.setcbreak(fd, termios.TCSANOW)
        yield _read_keys(fd)
    finally:
        with contextlib.suppress(termios.error, OSError):  # a terminal that hung up has no mode to restore
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        for sig, handler in before.items():
            signal.signal(sig, signal.SIG_DFL if handler is None else handler)  # None: one set outside Python


def _read_keys(fd: int):
    """One key at a time, even when several arrive in one read; an arrow or function key is one key, not a choice."""
    import select

    from stance.labeling import split_keys

    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    while chunk := os.read(fd, 64):  # empty: the terminal hung up
        keys, begun = split_keys(decoder.decode(chunk))
        while begun and select.select([fd], [], [], 0.05)[0] and (chunk := os.read(fd, 64)):
            more, begun = split_keys(begun + decoder.decode(chunk))  # the rest of a sequence split across reads
            keys += more
        for key in keys + ([begun] if begun else []):  # a sequence still begun: the Esc key, alone
            if key == "\x04":  # Ctrl-D ends the session like q
                return
            yield key


#: The longest answer line read from a pipe; answers are single keys, so a longer line is not answers.
MAX_ANSWER_BYTES = 1024


def _lines():
    """Answers from a pipe, one per line; a stream without line breaks is refused, never read whole."""
    while line := sys.stdin.buffer.readline(MAX_ANSWER_BYTES + 2):  # room for the answer and "\r\n"
        if len(line.rstrip(b"\r\n")) > MAX_ANSWER_BYTES or b"\0" in line:
            raise InputError(f"stdin is not answers (a line over {MAX_ANSWER_BYTES} bytes, or NUL bytes); "
                             "pipe one answer per line, such as f, a, n, s or q")
        yield line.decode("utf-8", "replace").rstrip("\r\n")


labels_app = typer.Typer(help="Check, count, compare and merge label files.", no_args_is_help=True,
                         rich_markup_mode=None, add_completion=False)
app.add_typer(labels_app, name="labels")


@labels_app.command("check")
@user_errors
def labels_check(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Label files (.jsonl).")],
    articles: Annotated[Optional[list[Path]], typer.Option("--articles", help="Folder of the labeled articles.")] = None,
):
    """Validate label files against the scheme and the splitter."""
    from stance.labeltools import check_labels

    problems = check_labels(files, _article_folders(articles))
    for line in problems:
        typer.echo(_for_terminal(line, one_line=True), err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo(f"ok: {len(files)} file(s)")


@labels_app.command("stats")
@user_errors
def labels_stats(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Label files (.jsonl).")],
    articles: Annotated[Optional[list[Path]], typer.Option(
        "--articles", help="Folder of the labeled articles: a row that states no origin is 'seed' when its "
        "article is there, else 'written'. Default: seeds/")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
):
    """Counts per target and class, per article and per origin."""
    from stance.labeltools import label_stats

    stats = label_stats(files, _article_folders(articles))
    if as_json:
        typer.echo(_json_line(stats))
        return
    typer.echo(f"{stats['rows']} rows: {stats['sentences']} sentences, {stats['furniture']} furniture")
    typer.echo(_for_terminal("origins: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["origins"].items())), True))
    typer.echo(f"{'target':10s} {'favor':>6s} {'against':>8s} {'none':>6s} {'unlabeled':>10s}")
    for t, c in stats["targets"].items():
        typer.echo(f"{_for_terminal(t, True):10s} {c['favor']:6d} {c['against']:8d} {c['none']:6d} {c['unlabeled']:10d}")
    targets = list(stats["targets"])
    typer.echo("")
    typer.echo(f"{'article':48s} {'sents':>5s}  " + "  ".join(f"{_for_terminal(t, True) + ' f/a/n':>14s}" for t in targets))
    for name, a in stats["articles"].items():
        cells = "  ".join(f"{a[t].get('favor', 0):>4d}/{a[t].get('against', 0)}/{a[t].get('none', 0)}".rjust(14)
                          for t in targets)
        typer.echo(f"{_for_terminal(name[:48], one_line=True):48s} {a['sentences']:5d}  {cells}")


@labels_app.command("agreement")
@user_errors
def labels_agreement(
    a: Annotated[Path, typer.Argument(help="First annotator's label file, or a labeling log two annotators shared.")],
    b: Annotated[Optional[Path], typer.Argument(help="Second annotator's label file.")] = None,
    annotators: Annotated[Optional[str], typer.Option(
        "--annotators", metavar="A,B",
        help="The two annotators to compare: one per file, or two of a shared log's.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False,
):
    """Cohen's kappa, percent agreement and confusion per target on the sentences both label."""
    from stance.labeltools import agreement

    names = None if annotators is None else [n.strip() for n in annotators.split(",")]
    result = agreement(a, b, annotators=names)
    if not result["n"]:
        _fail(f"no sentence is labeled by both {result['sides'][0]} and {result['sides'][1]}; "
              "compare annotators who labeled the same articles")
    if not result["targets"]:
        _fail(f"{result['sides'][0]} and {result['sides'][1]} label no target in common; "
              "compare files that label the same targets")
    if as_json:
        typer.echo(_json_line(result))
        return
    typer.echo(_for_terminal(f"{result['n']} sentences labeled by both: A = {result['sides'][0]}, B = {result['sides'][1]}",
                             one_line=True))
    for t, r in result["targets"].items():
        if not r["n"]:
            typer.echo(_for_terminal(f"\n{t}: no sentence labeled by both"))
            continue
        typer.echo(_for_terminal(f"\n{t}: kappa {r['kappa']:.3f}, agreement {r['agreement']:.1%} over {r['n']} sentences"))
        typer.echo("  " + "A/B".ljust(10) + "".join(f"{s:>9s}" for s in ("favor", "against", "none")))
        for x, row in r["confusion"].items():
            typer.echo(f"  {x:10s}" + "".join(f"{row[y]:9d}" for y in ("favor", "against", "none")))
    if result["disagreements"]:
        typer.echo(f"\ndisagreements ({len(result['disagreements'])}):")
        for d in result["disagreements"]:
            typer.echo(_for_terminal(f"  {d['article']}:{d['sentence']} {d['target']}: A {d['a']}, B {d['b']}  {d['text'][:70]}",
                                     one_line=True))


@labels_app.command("merge")
@user_errors
def labels_merge(
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="Label files, earliest first.")],
    out: Annotated[Path, typer.Option("--out", help="Merged label file to write.")],
    rule: Annotated[str, typer.Option(help="later (the last file wins) or majority (ties: the later file).")] = "later",
    replace: Annotated[bool, typer.Option("--replace", help="Overwrite --out when it already exists.")] = False,
):
    """Combine label files into one, one label per sentence, and report conflicts."""
    from stance.labeltools import merge_labels
    from stance.paths import check_writable

    check_writable(out, "--out")
    result = merge_labels(files, out, rule, replace=replace)
    short = len({f.name for f in files}) == len(files)  # a file's name, unless two share it (x/labels.jsonl, y/labels.jsonl)
    for c in result["conflicts"]:
        given = ", ".join(f"{Path(x['file']).name if short else x['file']}: {x['label']}" for x in c["labels"])
        typer.echo(_for_terminal(f"conflict {c['article']}:{c['sentence']} {c['target']}: {given} -> kept {c['kept']}", True),
                   err=True)
    typer.echo(f"wrote {result['rows']} rows to {_shown(out)} ({len(result['conflicts'])} conflicts, rule {rule})")


cache_app = typer.Typer(help="The on-disk embedding cache.", no_args_is_help=True, rich_markup_mode=None,
                        add_completion=False)
app.add_typer(cache_app, name="cache")


@cache_app.command("info")
@user_errors
def cache_info(as_json: Annotated[bool, typer.Option("--json", help="As one JSON object.")] = False):
    """Where the cache is, its size and bound, and vectors per encoder."""
    from stance.encoders.cache import cache_info as read_cache_info

    info = read_cache_info()
    if as_json:
        typer.echo(json.dumps(info))
        return
    made = (f"file {info['file_bytes'] / 2**20:.1f} MB" if info["file_bytes"] or info["vectors"]
            else "no vectors yet: made on first use")
    typer.echo(f"{_shown(info['path'])}: {info['vectors']} vectors, {info['bytes'] / 2**20:.1f} MB of "
               f"{info['max_bytes'] / 2**20:.0f} MB allowed ({made})")
    for encoder, row in info["encoders"].items():
        identity, _, runner = encoder.partition("+")  # "<weights sha256>.<settings>+onnx" for the onnx backend
        weights, _, settings = identity.partition(".")
        shown = (f"{weights[:16]}.{settings[:8]}" if settings else f"{weights[:16]} (from an earlier version)") + (
            f" ({runner})" if runner else "")
        typer.echo(f"  encoder {shown}: {row['vectors']} vectors, {row['bytes'] / 2**20:.1f} MB")


@cache_app.command("clear")
@user_errors
def cache_clear():
    """Delete every cached vector (a cache file SQLite cannot read is removed)."""
    from stance.encoders.cache import clear_cache

    typer.echo(_for_terminal(clear_cache(), one_line=True))  # names STANCE_CACHE's path, which may hold a line break


@app.command()
@user_errors
def export(
    output: Annotated[Path, typer.Option(help="File to write: .csv or .parquet (the suffix says which).")],
    db: DbOption = None,
    results: ResultsOption = None,
    source: SourcesOption = None,
    since: SinceOption = None,
    until: UntilOption = None,
    model_id: ModelIdOption = None,
    escape_formulas: Annotated[bool, typer.Option(
        "--escape-formulas", help="Put ' before a CSV cell that starts with = + - @ (or a tab or carriage return), "
        "which a spreadsheet would run as a formula (article text is written by others).")] = False,
):
    """Write one row per scored sentence and target to a CSV or Parquet file, for pandas, R or a spreadsheet."""
    from stance.export import export_sentences

    _require_one_store(db, results)
    _require_date_range(since, until)
    written = export_sentences(output, db=db, results=results, model_id=model_id, sources=source, since=since,
                               until=until, escape_formulas=escape_formulas)
    typer.echo(f"wrote {written} rows to {_shown(output)}", err=True)


@app.command()
@user_errors
def check(
    model: Annotated[Optional[Path], typer.Option(help="Model folder. Default: $STANCE_MODEL or ~/.local/share/stance/model")] = None,
    backend: Annotated[str, BACKEND_OPTION] = "auto",
    failures: Annotated[bool, typer.Option("--failures", help="Also list every sentence the model gets wrong.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object: the summary and every sentence.")] = False,
):
    """Label plain sentences whose labels are known, to see whether the model reads who acts or only what is named."""
    from stance.checks import run_checks
    from stance.model import load_model
    from stance.paths import default_model_dir

    result = run_checks(load_model(model or default_model_dir(), backend=backend))
    typer.echo(_json_line(result.to_dict()) if as_json else _for_terminal(result.to_text(failures=failures)))


def explain_scores(model, result) -> list[dict]:
    """Per sentence of ``result``, why each target got the label it shows (see :mod:`stance.explain`)."""
    from stance.explain import explain_sentences
    from stance.features import in_context

    targets = list(result.summary)
    return explain_sentences(model, in_context([s["text"] for s in result.sentences]),
                             labels=[{t: s[t]["label"] for t in targets} for s in result.sentences])


def _with_reasons(data: dict, reasons: list[dict]) -> dict:
    """A ``--json`` object with each sentence's ``explain`` field: per target the method and the terms."""
    for sentence, why in zip(data["sentences"], reasons):
        sentence["explain"] = {
            target: {"method": w["method"], "terms": [{"text": x["text"], "weight": round(x["weight"], 4)} for x in w["terms"]]}
            for target, w in why.items()
        }
    return data


#: How ``--explain`` words a label that a rule decided, not the heads.
RULES_SHOWN = {"question-rule": "a question without an answer is none (the label scheme's rule)",
               "pressure-rule": "another actor only presses Serbia: pressure is not stance (the label scheme's rule)",
               "no-words": "no words, no stance"}


def _reason_lines(sentence: dict, why: dict) -> list[str]:
    """``why russia=favor: "phrase" +0.42, (sentence meaning) +0.31`` for each target of a sentence."""
    from stance.explain import MEANING, NEIGHBOURS

    lines = []
    for target, w in why.items():
        if w["method"] in RULES_SHOWN:
            rule = RULES_SHOWN[w["method"]]
            lines.append(f"      why {target}={sentence[target]['label']}: {rule}")
            continue
        terms = ", ".join(f"{x['text'] if x['text'] in (MEANING, NEIGHBOURS) else json.dumps(x['text'], ensure_ascii=False)}"
                          f" {x['weight']:+.2f}" for x in w["terms"])
        lines.append(f"      why {target}={sentence[target]['label']}: {terms or '(no word stands out)'}")
    return lines


def render_scores(result, reasons: Optional[list[dict]] = None) -> str:
    """The human view of an :class:`ArticleScores`: a sentence table, then the summary.

    ``reasons`` (from :func:`explain_scores`) adds under each sentence the terms behind its labels.
    """
    import shutil

    targets = list(result.summary)
    width = shutil.get_terminal_size((120, 24)).columns
    label_cols = "  ".join(f"{t:>15s}" for t in targets)
    text_width = max(30, width - 6 - 17 * len(targets))
    name = _for_terminal(result.article, one_line=True)
    lines = [f"{name}  date {result.date or '-'}  {len(result.sentences)} sentences, {len(result.skipped)} skipped", ""]
    lines.append(f"{'#':>4s}  {label_cols}  text")
    for i, s in enumerate(result.sentences):
        cells = "  ".join(f"{s[t]['label']:>8s} {s[t]['proba'][s[t]['label']]:.2f}".rjust(15) for t in targets)
        text = _clip(s["text"], text_width)
        lines.append(f"{s['index']:>4d}  {cells}  {text}")
        if reasons is not None:
            lines.extend(_reason_lines(s, reasons[i]))
    lines.append("")
    for t in targets:
        m = result.summary[t]
        lines.append(f"{t:7s} favor {m['favor']:3d}  against {m['against']:3d}  none {m['none']:3d}  net {_net(m['net'])}")
    if result.skipped:
        lines.append("skipped: " + " | ".join(_clip(x, 60) for x in result.skipped))
    return _for_terminal("\n".join(lines) + "\n")


SUMMARY_WIDTH = 48


def _clip(text: str, width: int) -> str:
    """``text`` cut to ``width`` characters, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def summary_header(targets) -> str:
    """Column heads for :func:`summary_line`."""
    return f"{'article':{SUMMARY_WIDTH}s} {'date':10s} {'sents':>5s}" + "".join(f" {t + ' net':>11s}" for t in targets)


def _id_for_terminal(article_id: str) -> str:
    """An article id as one printable line whose invisible characters show: ``a`` and ``a`` with a zero-width
    space after it are two articles, and the table of scores would print them alike."""
    import unicodedata

    shown = _for_terminal(article_id, one_line=True)
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) == "Cf" else c for c in shown)


def summary_line(result) -> str:
    """One line per article (date, sentences, net per target) when several are scored."""
    name = _clip(_id_for_terminal(result.article), SUMMARY_WIDTH)
    return (f"{name:{SUMMARY_WIDTH}s} {result.date or '-':10s} {len(result.sentences):5d}"
            + "".join(f" {_net(result.summary[t]['net']):>11s}" for t in result.summary))


def _net(value: float) -> str:
    """A net to three decimals, signed; one that rounds to zero is +0.000, never -0.000 (a side it did not take)."""
    text = f"{value:+.3f}"
    return "+0.000" if text == "-0.000" else text


def main():  # pragma: no cover - console entry point
    app()
