"""Renamed copies: training sentences whose Serbian actors another country's replace, labeled none.

A frozen embedding reads what a sentence is about, so "Serbia refused to impose sanctions on
Russia" and "Hungary refused to impose sanctions on Russia" lie close together and a head
trained on the first alone gives the second Serbia's stance. Under ``LABELING.md`` only the
first portrays one. Each training sentence that does (``favor`` or ``against`` on a target) is
therefore copied with its Serbian actors renamed as Hungarian, Croatian or Montenegrin ones
("Serbia" to "Hungary", "Vučić" to "Orbán", "Belgrade" to "Budapest"), and the copy is labeled
``none`` on every target: the same words about Russia or the EU, said by someone else. The pairs
teach the head who acts.

``StanceClassifier(renamed_copies=True)`` (the default) adds them to its training rows, each
weighing ``copy_weight`` (0.1) of a labeled sentence: at full weight grouped CV over the
labeled articles preferred the model without them, at 0.1 it does not (see
``experiments/README.md``); the copies share their sentence's article, so the grouped folds
that choose ``C`` keep them together. They never reach evaluation: a held-out fold is
scored as it is.
"""

from __future__ import annotations

import re
import zlib

import numpy as np

from stance import actors
from stance.features import item_text

__all__ = ["renamed", "with_renamed_copies"]

# Each swap: a Serbian name (lowercase) and its replacement; longest names match first, so that
# "Aleksandar Vučić" goes whole.
_SWAPS = (
    {"aleksandar vučić": "Viktor Orbán", "aleksandar vucic": "Viktor Orbán", "vučić": "Orbán", "vucic": "Orbán",
     "ivica dačić": "Péter Szijjártó", "ivica dacic": "Péter Szijjártó", "dačić": "Szijjártó", "dacic": "Szijjártó",
     "ana brnabić": "Katalin Novák", "ana brnabic": "Katalin Novák", "brnabić": "Novák", "brnabic": "Novák",
     "serbians": "Hungarians", "serbian": "Hungarian", "serbs": "Hungarians", "serb": "Hungarian",
     "serbia": "Hungary", "srbija": "Magyarország", "belgrade": "Budapest"},
    {"aleksandar vučić": "Andrej Plenković", "aleksandar vucic": "Andrej Plenković", "vučić": "Plenković",
     "vucic": "Plenković", "ivica dačić": "Gordan Grlić Radman", "ivica dacic": "Gordan Grlić Radman",
     "dačić": "Grlić Radman", "dacic": "Grlić Radman", "ana brnabić": "Marija Pejčinović",
     "ana brnabic": "Marija Pejčinović", "brnabić": "Pejčinović", "brnabic": "Pejčinović",
     "serbians": "Croatians", "serbian": "Croatian", "serbs": "Croats", "serb": "Croat",
     "serbia": "Croatia", "srbija": "Hrvatska", "belgrade": "Zagreb"},
    {"aleksandar vučić": "Milo Đukanović", "aleksandar vucic": "Milo Djukanovic", "vučić": "Đukanović",
     "vucic": "Djukanovic", "ivica dačić": "Srđan Darmanović", "ivica dacic": "Srdjan Darmanovic",
     "dačić": "Darmanović", "dacic": "Darmanovic", "ana brnabić": "Duško Marković", "ana brnabic": "Dusko Markovic",
     "brnabić": "Marković", "brnabic": "Markovic", "serbians": "Montenegrins", "serbian": "Montenegrin",
     "serbs": "Montenegrins", "serb": "Montenegrin", "serbia": "Montenegro", "srbija": "Crna Gora",
     "belgrade": "Podgorica"},
)
_SERBIAN_NAMES_RE = re.compile(
    r"\b(?:" + "|".join(sorted(map(re.escape, _SWAPS[0]), key=len, reverse=True)) + r")\b", re.IGNORECASE)
_STANCES = ("favor", "against")


def renamed(text: str, swap: int | None = None) -> str | None:
    """``text`` with its Serbian actors renamed, or None when a Serbian actor would remain.

    ``swap`` picks the country (0 Hungary, 1 Croatia, 2 Montenegro); None picks it from the
    text itself, so that a sentence gets the same copy whatever else is trained beside it.
    A copy is refused when it still names Serbia (a name not in the swap list, an office not
    marked foreign) or opens with a reference back ("He said ..."), which the next sentence's
    reader would take for Serbia's.
    """
    names = _SWAPS[(zlib.crc32(text.encode("utf-8")) if swap is None else swap) % len(_SWAPS)]

    def rename(match: re.Match) -> str:
        new = names[match.group(0).lower()]
        return new.upper() if match.group(0).isupper() and len(match.group(0)) > 1 else new

    new = _SERBIAN_NAMES_RE.sub(rename, text)
    if new == text or actors.serbian_actor(new) or actors._ANAPHOR_RE.search(new):
        return None
    return new


def with_renamed_copies(items: list, labels: np.ndarray, groups=None,
                        every_country: bool = False) -> tuple[list, np.ndarray, np.ndarray | None]:
    """``items``, ``labels`` and ``groups`` with each stance-bearing row's renamed copy appended.

    Items are sentences or ``{"text", ...}`` dicts (a copy keeps the other keys); labels are
    the (n_samples, n_targets) matrix, None for an unlabeled cell. A copy is labeled ``none``
    on every target and belongs to its sentence's group. ``every_country``: one copy per
    country instead of one per sentence.
    """
    sources, copies = [], []
    for i, item in enumerate(items):
        if not any(value in _STANCES for value in labels[i]):
            continue
        for swap in range(len(_SWAPS)) if every_country else [None]:
            new = renamed(item_text(item), swap)
            if new is not None:
                sources.append(i)
                copies.append(new if isinstance(item, str) else {**item, "text": new})
    if not copies:
        return items, labels, groups
    extra = np.full((len(copies), labels.shape[1]), "none", dtype=object)
    if groups is not None:
        groups = np.concatenate([np.asarray(groups), np.asarray(groups)[sources]])
    return list(items) + copies, np.vstack([labels, extra]), groups
