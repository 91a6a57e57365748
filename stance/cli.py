"""The `stance` command: a thin layer over the library.

Each command parses its options, calls one library function and renders the
result. A :class:`StanceError` becomes one line on stderr and exit code 1;
usage errors exit 2. Heavy imports happen inside the commands, so that
``stance --help`` stays instant.
"""

from __future__ import annotations

import functools
import json
import shlex
import sys
import warnings
from datetime import date as Date
from pathlib import Path
from typing import Annotated, Optional

import typer

from stance.errors import StanceError, StanceWarning

app = typer.Typer(
    help="Sentence-level stance of news reporting on Serbia toward Russia and the EU.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)


def _fail(message: str, code: int = 1):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def user_errors(command):
    """Turn StanceError into one stderr line; show StanceWarnings as one line each."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", StanceWarning)
            try:
                return command(*args, **kwargs)
            except StanceError as err:
                _fail(str(err))
            finally:
                for w in caught:
                    if issubclass(w.category, StanceWarning):
                        typer.echo(f"warning: {w.message}", err=True)

    return wrapper


def _iso_date(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    try:
        return Date.fromisoformat(value).isoformat()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; use YYYY-MM-DD") from None


@app.command()
@user_errors
def train(
    labels: Annotated[
        Optional[list[Path]], typer.Option("--labels", help="Label file (.jsonl); repeat for several. Default: labels/*.jsonl")
    ] = None,
    out: Annotated[Optional[Path], typer.Option(help="Model folder to write. Default: $STANCE_MODEL or ~/.local/share/stance/model")] = None,
    encoder: Annotated[Optional[Path], typer.Option(help="A local sentence-transformers folder. Default: bundled all-MiniLM-L6-v2")] = None,
    articles: Annotated[
        Optional[list[Path]], typer.Option("--articles", help="Folder of labeled articles' .txt, to check labels. Default: seeds/")
    ] = None,
    report_dir: Annotated[Optional[Path], typer.Option(help="Where to write the evaluation report. Default: experiments/<run>")] = None,
):
    """Evaluate by article, train on all labels, save the model and the report."""
    from stance.paths import default_model_dir
    from stance.train import run_name
    from stance.train import train as train_model

    labels = labels or sorted(Path("labels").glob("*.jsonl"))
    if not labels:
        _fail("no label files: pass --labels FILE.jsonl (none found in ./labels/)")
    articles = articles if articles is not None else [p for p in [Path("seeds")] if p.is_dir()]
    run = train_model(
        labels,
        out=out or default_model_dir(),
        encoder_path=encoder,
        articles=articles,
        report_dir=report_dir or Path("experiments") / run_name(encoder),
        command=shlex.join(["stance", *sys.argv[1:]]),
    )
    for plan, result in run.report.evaluations.items():
        typer.echo(f"{result['description']}: {result['n_sentences']} sentences, {result['n_articles']} articles")
        for target in run.report.targets:
            row = result["targets"][target]
            typer.echo(
                f"  {target:7s} macro-F1 {row['model']['macro_f1']:.3f}  F1avg {row['model']['f1_avg']:.3f}"
                f"  (TF-IDF {row['tfidf']['macro_f1']:.3f}, majority {row['majority']['macro_f1']:.3f})"
            )
    typer.echo(f"model saved to {run.model_path}")
    typer.echo(f"report written to {run.report_path / 'report.md'}")


@app.command()
@user_errors
def score(
    files: Annotated[list[str], typer.Argument(metavar="FILE...", help="Article files (UTF-8 text); - reads stdin.")],
    model: Annotated[Optional[Path], typer.Option(help="Model folder. Default: $STANCE_MODEL or ~/.local/share/stance/model")] = None,
    date: Annotated[Optional[str], typer.Option(help="Publication date of the articles, YYYY-MM-DD.", callback=_iso_date)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per article, one per line.")] = False,
):
    """Score articles sentence by sentence for stance toward each target."""
    from stance.paths import default_model_dir
    from stance.persist import load_model
    from stance.scoring import score_articles
    from stance.segment import Article, decode_text, read_article

    if files.count("-") > 1:
        _fail("stdin (-) can be given only once")
    articles = [
        Article.from_text(decode_text(sys.stdin.buffer.read(), "<stdin>"), id="-") if f == "-" else read_article(f)
        for f in files
    ]
    fitted = load_model(model or default_model_dir())
    for result in score_articles(fitted, articles, dates=[date] * len(articles)):
        if as_json:
            typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
        else:
            typer.echo(render_scores(result))


def render_scores(result) -> str:
    """The human view of an :class:`ArticleScores`: a sentence table, then the summary."""
    import shutil

    targets = list(result.summary)
    width = shutil.get_terminal_size((120, 24)).columns
    label_cols = "  ".join(f"{t:>15s}" for t in targets)
    text_width = max(30, width - 6 - 17 * len(targets))
    lines = [f"{result.article}  date {result.date or '-'}  {len(result.sentences)} sentences, {len(result.skipped)} skipped", ""]
    lines.append(f"{'#':>4s}  {label_cols}  text")
    for s in result.sentences:
        cells = "  ".join(f"{s[t]['label']:>8s} {s[t]['proba'][s[t]['label']]:.2f}".rjust(15) for t in targets)
        text = s["text"] if len(s["text"]) <= text_width else s["text"][: text_width - 1] + "…"
        lines.append(f"{s['index']:>4d}  {cells}  {text}")
    lines.append("")
    for t in targets:
        m = result.summary[t]
        lines.append(f"{t:7s} favor {m['favor']:3d}  against {m['against']:3d}  none {m['none']:3d}  net {m['net']:+.3f}")
    if result.skipped:
        lines.append("skipped: " + " | ".join(x if len(x) <= 60 else x[:59] + "…" for x in result.skipped))
    return "\n".join(lines) + "\n"


def main():  # pragma: no cover - console entry point
    app()
