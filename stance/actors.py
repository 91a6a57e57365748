"""Who acts in a sentence: features that say whether Serbia is the one doing something.

A sentence embedding reads topic: "Russia's envoy praised the deal" and "Serbia
signed the deal with Russia" lie close together, yet only the second portrays a
Serbian stance (``LABELING.md``: the question is always what *Serbia* does).
These few indicators, found by word patterns, tell the linear head who is named,
who speaks and in what order, so that it can discount sentences where Russia or
the EU acts and Serbia does not. ``StanceClassifier(actors=True)`` appends them,
scaled by :data:`ACTOR_SCALE`, to the embedding and the n-grams; the scale and
the feature set were chosen by grouped cross-validation (``experiments/README.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

__all__ = ["ACTOR_FEATURES", "ACTOR_SCALE", "actor_features", "serbian_actor"]

#: Weight of the indicator block beside unit-norm embeddings and TF-IDF rows.
ACTOR_SCALE = 3.0

_SERBIA = (
    r"serbia|serbian|serbians|serbs|serb|srbija|belgrade|vu[cč]i[cć]|brnabi[cć]|da[cč]i[cć]|vulin|macut|"
    r"selakovi[cć]|[dđ]j?uri[cć]|nikoli[cć]|tadi[cć]|stefanovi[cć]|yugoimport|kru[sš]ik|nis"
)
_OFFICE = (
    r"government|president|prime minister|foreign minister|defen[cs]e minister|minister|officials|"
    r"authorities|cabinet|parliament"
)
_FOREIGN = (
    r"russian|kremlin|moscow|eu|european|brussels|us|american|ukrainian|chinese|hungarian|croatian|german|"
    r"french|british|western|kosovo|montenegrin|bosnian"
)
_RUSSIA = (
    r"russia|russian|russians|moscow|kremlin|putin|lavrov|peskov|zakharova|medvedev|gazprom|rosatom|"
    r"botsan-kharchenko|soviet|sputnik|wagner"
)
_EU = (
    r"eu|e\.u\.|european union|european commission|european parliament|european council|brussels|commission|"
    r"von der leyen|borrell|kallas|v[aá]rhelyi|laj[cč][aá]k|ashton|mogherini|eulex|schengen|europe|european|"
    r"the west|western|member states"
)
_CLAIM = (
    r"said|says|say|warned|warns|accused|accuses|urged|urges|called|calls|demanded|demands|criticised|criticized|"
    r"condemned|praised|welcomed|insisted|insists|stressed|claimed|claims|told|added|announced|noted|argued|"
    r"reported|according"
)
_NEGATION = r"not|no|never|\w+n['’]t|refuse[sd]?|refusing|reject(?:s|ed|ing)?|den(?:y|ies|ied)|neither|nor|without"
_HEDGE = r"may|might|could|would|if|unless|whether|reportedly|possibly|perhaps|likely|should"
_ANAPHOR = (
    r"^\W*(?:he|she|it|they|this|that|these|those|the move|the decision|the deal|the step|the government|"
    r"the president|its|his|her|their)\b"
)


def _words(pattern: str) -> re.Pattern:
    return re.compile(rf"\b(?:{pattern})\b", re.IGNORECASE)


_SERBIA_RE, _RUSSIA_RE, _EU_RE = _words(_SERBIA), _words(_RUSSIA), _words(_EU)
_OFFICE_RE, _FOREIGN_OFFICE_RE = _words(_OFFICE), re.compile(rf"\b(?:{_FOREIGN})\s+(?:{_OFFICE})\b", re.IGNORECASE)
_CLAIM_RE, _NEGATION_RE, _HEDGE_RE = _words(_CLAIM), _words(_NEGATION), _words(_HEDGE)
_ANAPHOR_RE = re.compile(_ANAPHOR, re.IGNORECASE)

#: Column names of :func:`actor_features`, in order.
ACTOR_FEATURES = (
    "serbia named", "opens with a reference back", "serbia or a reference back",
    "russia named", "eu named", "both targets named",
    "russia named, serbia not", "eu named, serbia not",
    "serbia named before russia", "serbia named before the eu",
    "russia speaks", "the eu speaks", "serbia speaks",
    "negation", "hedge",
)


def serbian_actor(text: str) -> bool:
    """Whether the sentence names the Serbian state: a Serbian name, or an office not marked foreign."""
    if _SERBIA_RE.search(text):
        return True
    return len(_OFFICE_RE.findall(text)) > len(_FOREIGN_OFFICE_RE.findall(text))


def _speaks(pattern: re.Pattern, text: str) -> bool:
    """A mention followed, within four words of its clause, by a verb of saying: the named actor speaks."""
    for match in pattern.finditer(text):
        clause = re.split(r"[,;:.!?()\"“”]", text[match.end():match.end() + 60], maxsplit=1)[0]
        following = " ".join(clause.split()[:4])
        if _CLAIM_RE.search(following):
            return True
    return False


def actor_features(texts: Sequence[str]) -> np.ndarray:
    """One row of 0/1 indicators per sentence, columns as :data:`ACTOR_FEATURES`."""
    rows = []
    for text in texts:
        serbia, back = serbian_actor(text), bool(_ANAPHOR_RE.search(text))
        first = [m.start() if m else None for m in (p.search(text) for p in (_SERBIA_RE, _RUSSIA_RE, _EU_RE))]
        russia, eu = first[1] is not None, first[2] is not None
        acting = serbia or back
        rows.append((
            serbia, back, acting, russia, eu, russia and eu,
            russia and not acting, eu and not acting,
            first[0] is not None and russia and first[0] < first[1],
            first[0] is not None and eu and first[0] < first[2],
            _speaks(_RUSSIA_RE, text), _speaks(_EU_RE, text), _speaks(_SERBIA_RE, text),
            bool(_NEGATION_RE.search(text)), bool(_HEDGE_RE.search(text)),
        ))
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(ACTOR_FEATURES))
