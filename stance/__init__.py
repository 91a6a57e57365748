"""stance: sentence-level stance of news reporting on Serbia toward Russia and the EU.

Nothing heavy runs at import: the public names below are loaded on first use,
so ``import stance`` and ``stance --help`` do not import torch.
"""

from importlib import import_module
from importlib.util import find_spec

__all__ = [
    "Bf16Encoder",
    "DriftReport",
    "EvaluationReport",
    "HistoryStore",
    "OnnxEncoder",
    "SentenceEncoder",
    "StanceClassifier",
    "StanceError",
    "evaluate",
    "explain_sentences",
    "export_sentences",
    "load_labels",
    "measure_drift",
    "read_documents",
    "run_checks",
    "score_article",
    "score_documents",
    "stance_over_time",
]

_HOME = {
    "Bf16Encoder": "stance.encoders.bf16",
    "DriftReport": "stance.drift",
    "EvaluationReport": "stance.evaluation",
    "HistoryStore": "stance.store",
    "OnnxEncoder": "stance.encoders.onnx",
    "SentenceEncoder": "stance.encoders.transformer",
    "StanceClassifier": "stance.model",
    "StanceError": "stance.errors",
    "evaluate": "stance.evaluation",
    "explain_sentences": "stance.explain",
    "export_sentences": "stance.export",
    "load_labels": "stance.schema",
    "measure_drift": "stance.drift",
    "read_documents": "stance.corpus",
    "run_checks": "stance.checks",
    "score_article": "stance.scoring",
    "score_documents": "stance.scoring",
    "stance_over_time": "stance.drift",
}


def __getattr__(name):
    if name == "__version__":  # read on first use: the command line starts before importlib.metadata is loaded
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("stance")
        except PackageNotFoundError:  # pragma: no cover - running from a source tree
            return "0.0.0"
    if name in _HOME:
        return getattr(import_module(_HOME[name]), name)
    if not name.startswith("_") and find_spec(f"stance.{name}") is not None:
        return import_module(f"stance.{name}")  # a module the README names, such as stance.drift_plot
    raise AttributeError(f"module 'stance' has no attribute {name!r}")


def __dir__():
    return sorted(__all__ + ["__version__"])
