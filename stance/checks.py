"""Plain-sentence checks: does a model read who does what, or only what is named?

Cross-validated macro-F1 says how often a model agrees with labels like its training
labels; it cannot say *why*. A model over sentence embeddings can score well while it
reads topic ("sanctions", "Moscow", "accession") rather than stance, and news is full of
sentences that name Russia or the EU without Serbia acting. These checks, in the manner of
behavioural test suites for NLP models (one capability at a time, the expected label known
by construction), say each of 18 actions with a stance in five ways:

- *Serbia acts*: six names of the Serbian state do it: the action's labels; the six should
  also agree (``names agree``).
- *another country acts*: Slovakia, Bulgaria or Turkey does it: ``none`` on both targets.
- *reported*: "According to Lavrov, Serbia ...": the action's labels (a third party's
  account of what Serbia did counts).
- *urged*: Moscow or Brussels urges Serbia to do it: ``none`` (pressure is not stance).
- *asked*: "Will Serbia ...?": ``none`` (an unanswered question).

The labels follow the project's label scheme (``labels/README.md``). The sentences are far
plainer than reporting: a share right here is no accuracy on news, but a kind of sentence
that fails here fails in news too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from stance.errors import StanceError, require_fitted

TARGETS = ("russia", "eu")

#: (past tense, base form, russia, eu) when a Serbian actor does it.
ACTIONS = (
    ("refused to impose sanctions on Russia", "refuse to impose sanctions on Russia", "favor", "none"),
    ("signed a new gas deal with Russia", "sign a new gas deal with Russia", "favor", "none"),
    ("attended the Victory Day parade in Moscow", "attend the Victory Day parade in Moscow", "favor", "none"),
    ("thanked Moscow for its support over Kosovo", "thank Moscow for its support over Kosovo", "favor", "none"),
    ("praised the traditional friendship with Russia", "praise the traditional friendship with Russia",
     "favor", "none"),
    ("condemned Russia's invasion of Ukraine", "condemn Russia's invasion of Ukraine", "against", "none"),
    ("cancelled the arms contracts with Russia", "cancel the arms contracts with Russia", "against", "none"),
    ("sent ammunition to Ukraine", "send ammunition to Ukraine", "against", "none"),
    ("voted for the UN resolution condemning Russia", "vote for the UN resolution condemning Russia",
     "against", "none"),
    ("joined the EU sanctions against Russia", "join the EU sanctions against Russia", "against", "favor"),
    ("refused to join the EU sanctions against Russia", "refuse to join the EU sanctions against Russia",
     "favor", "against"),
    ("pledged the reforms needed to join the European Union",
     "pledge the reforms needed to join the European Union", "none", "favor"),
    ("opened a new chapter in the accession talks with the EU",
     "open a new chapter in the accession talks with the EU", "none", "favor"),
    ("welcomed the EU's enlargement plan for the Western Balkans",
     "welcome the EU's enlargement plan for the Western Balkans", "none", "favor"),
    ("reaffirmed that EU membership is the strategic goal", "reaffirm that EU membership is the strategic goal",
     "none", "favor"),
    ("refused to align with EU foreign policy", "refuse to align with EU foreign policy", "none", "against"),
    ("blamed Brussels for the protests", "blame Brussels for the protests", "none", "against"),
    ("accused the EU of double standards", "accuse the EU of double standards", "none", "against"),
)
SERBIAN = ("Serbia", "Belgrade", "President Vučić", "President Vucic", "The Serbian government",
           "Serbia's foreign minister")
OTHERS = ("Slovakia", "Bratislava", "Prime Minister Fico", "The Bulgarian government", "Turkey", "President Erdoğan")
SOURCES = ("According to Lavrov", "According to the European Commission")
#: Each kind of check and the labels it expects.
KINDS = {
    "Serbia acts": "a Serbian actor does it: the action's labels",
    "another country acts": "Slovakia, Bulgaria or Turkey does it: none",
    "reported": "a Russian or EU source says Serbia did it: the action's labels",
    "urged": "Moscow or Brussels urges Serbia to do it: none",
    "asked": '"Will Serbia ...?": none',
}
_NONE = {"russia": "none", "eu": "none"}


def shown_share(k: int, n: int) -> str:
    """``k`` of ``n`` as the check tables print it: "94/108 (87%)"."""
    return f"{k}/{n} ({k / n:.0%})" if n else "0/0"


def check_sentences() -> list[dict]:
    """Every check sentence: its ``kind``, ``action`` (index into :data:`ACTIONS`), ``text`` and ``expected`` labels."""
    out = []
    for action, (past, base, russia, eu) in enumerate(ACTIONS):
        labels = {"russia": russia, "eu": eu}
        pressing = "Moscow" if russia == "favor" or eu == "against" else "Brussels"
        texts = {
            "Serbia acts": [(f"{name} {past}.", labels) for name in SERBIAN],
            "another country acts": [(f"{name} {past}.", _NONE) for name in OTHERS],
            "reported": [(f"{source}, {name} {past}.", labels)
                         for source in SOURCES for name in ("Serbia", "President Vučić")],
            "urged": [(f"{pressing} urged {name} to {base}.", _NONE)
                      for name in ("Serbia", "Belgrade", "President Vučić")],
            "asked": [(f"Will {name} {base}?", _NONE) for name in ("Serbia", "the Serbian government")],
        }
        for kind, items in texts.items():
            out += [{"kind": kind, "action": action, "text": text, "expected": dict(expected)}
                    for text, expected in items]
    return out


@dataclass
class CheckReport:
    """The check sentences with a model's labels; :meth:`summary` counts them by kind."""

    sentences: list[dict] = field(default_factory=list)
    model: dict | None = None  # what identifies the model checked, as the ``model`` field of scores

    def summary(self) -> dict:
        """Per kind: ``n`` sentences, how many are right per target and on ``both``; and ``names agree``."""
        out = {}
        for kind in KINDS:
            inside = [s for s in self.sentences if s["kind"] == kind]
            out[kind] = {"n": len(inside),
                         **{t: sum(s["predicted"][t] == s["expected"][t] for s in inside) for t in TARGETS},
                         "both": sum(s["predicted"] == s["expected"] for s in inside)}
        serbian = [s for s in self.sentences if s["kind"] == "Serbia acts"]
        actions = sorted({s["action"] for s in serbian})
        same = sum(len({tuple(s["predicted"][t] for t in TARGETS) for s in serbian if s["action"] == a}) == 1
                   for a in actions)
        out["names agree"] = {"n": len(actions), "same": same}
        return out

    def failures(self) -> list[dict]:
        """The sentences whose labels differ from the expected ones, in check order."""
        return [s for s in self.sentences if s["predicted"] != s["expected"]]

    def to_dict(self) -> dict:
        return {"model": self.model, "summary": self.summary(), "sentences": self.sentences}

    def to_text(self, failures: bool = False) -> str:
        """A table of shares right by kind; with ``failures``, every failing sentence under it."""
        summary = self.summary()
        share = shown_share
        width = max(map(len, KINDS))
        lines = [] if self.model is None else [
            f"model {self.model['id']} ({self.model['encoder']}){' at ' + self.model['path'] if self.model['path'] else ''}"]
        lines += [f"{'kind':<{width}}  {'russia right':>14}  {'eu right':>14}  {'both right':>14}  expected"]
        for kind, expected in KINDS.items():
            s = summary[kind]
            lines.append(f"{kind:<{width}}  {share(s['russia'], s['n']):>14}  {share(s['eu'], s['n']):>14}  "
                         f"{share(s['both'], s['n']):>14}  {expected.split(': ', 1)[1]}")
        agree = summary["names agree"]
        lines.append(f"actions whose six Serbian names get the same labels: {share(agree['same'], agree['n'])}")
        if failures:
            lines += ["", "failing sentences (expected -> predicted, russia/eu):"]
            lines += [f"  [{s['kind']}] {s['text']}  {s['expected']['russia']}/{s['expected']['eu']} -> "
                      f"{s['predicted']['russia']}/{s['predicted']['eu']}" for s in self.failures()]
        return "\n".join(lines)


def run_checks(model) -> CheckReport:
    """Label every check sentence with a fitted model (targets ``russia`` and ``eu``)."""
    require_fitted(model)
    targets = list(model.targets_)
    if not set(TARGETS) <= set(targets):
        raise StanceError(f"the checks need a model of the targets russia and eu; this one has "
                          f"{', '.join(targets) or 'none'}")
    from stance.scoring import model_info

    sentences = check_sentences()
    labels = model.predict([s["text"] for s in sentences])
    for sentence, row in zip(sentences, labels):
        sentence["predicted"] = {t: str(row[targets.index(t)]) for t in TARGETS}
    return CheckReport(sentences, model_info(model))
