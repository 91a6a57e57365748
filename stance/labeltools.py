"""Working with label files: check, count, compare two annotators, merge.

Every function reads files as :func:`stance.schema.load_labels` does (a
labeling log is resolved first: per annotator the last answer counts).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from stance.errors import LabelFormatError, StanceWarning
from stance.paths import same_file
from stance.schema import (STANCES, annotator_name, label_annotators, label_targets, load_labels,
                           refuse_repeated_files, write_labels)

__all__ = ["agreement", "check_labels", "cohen_kappa", "label_stats", "merge_labels"]


def check_labels(paths: Sequence[str | Path], articles: Sequence[str | Path] = ()) -> list[str]:
    """Problems in label files as ``file:line: message`` lines (empty when all is well).

    Each file is checked on its own against the scheme and the splitter;
    a file stops at its first problem, the others are still checked. The files
    sound on their own are then read together, as training reads them: a
    sentence labeled in two files, or one file given twice, is a problem too.
    A file whose articles cannot be found is not checked against the splitter,
    and a :class:`~stance.errors.StanceWarning` says so.
    """
    import warnings

    problems, sound, unchecked = [], [], []
    for path in paths:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                labels = load_labels([path], articles=articles)
            except LabelFormatError as err:
                problems.append(str(err))
            else:
                sound.append(path)
                problems += _stances_on_furniture(labels)
        unchecked += [f"{path}: {w.message}" for w in caught if "not checked" in str(w.message)]
    if len(sound) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # told above, per file
            try:
                load_labels(sound, articles=articles)
            except LabelFormatError as err:
                problems.append(str(err))
    for note in unchecked:  # a check that cannot be made is said, and is no problem of the file's
        warnings.warn(note, StanceWarning, stacklevel=2)
    return problems


def _is_label_file(path) -> bool:
    """Whether ``path`` is empty or opens as a label file does (a row, or a targets declaration)."""
    from stance.fileio import parse_json
    from stance.schema import is_targets_declaration, json_lines

    try:  # its first line, as LabelLog reads it: a byte-order mark dropped, a huge or binary line refused
        first = next((line for _, line in json_lines(Path(path)) if line.strip()), None)
        row = None if first is None else parse_json(first)
    except (LabelFormatError, ValueError):
        return False
    return first is None or isinstance(row, dict) and ("article" in row or is_targets_declaration(row))


def _stances_on_furniture(labels) -> list[str]:
    """A stance on a line the splitter takes for page furniture: it is never trained on, so it is lost unseen."""
    targets = label_targets(labels)
    return [f"{row['source']}: sentence {row['sentence']} is page furniture ({row['furniture']}), never trained on "
            f"or scored, yet labeled {', '.join(f'{t} {row[t]}' for t in targets if row[t] in ('favor', 'against'))}; "
            "label it none, or check the line"
            for row in labels if row["furniture"] is not None and any(row[t] in ("favor", "against") for t in targets)]


def _rows(paths, articles=(), annotator: str | None = None) -> tuple[list[str], list[dict]]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        labels = load_labels(list(paths), articles=articles, check_text=bool(articles), annotator=annotator)
    return label_targets(labels), list(labels)


def _named(name: str) -> str:
    return name or "rows without an annotator"


def _listed(names: list[str]) -> str:
    return ", ".join(map(_named, names)) or "no answers at all"


def label_stats(paths: Sequence[str | Path], articles: Sequence[str | Path] = ()) -> dict:
    """Counts per target and class, per article and per origin (furniture counted apart)."""
    targets, rows = _rows(paths, articles)
    sentences = [r for r in rows if r["furniture"] is None]
    per_target = {t: {**{s: sum(r[t] == s for r in sentences) for s in STANCES},
                      "unlabeled": sum(r[t] is None for r in sentences)} for t in targets}
    per_article = {}
    for r in sentences:
        entry = per_article.setdefault(r["article"], {"sentences": 0, **{t: Counter() for t in targets}})
        entry["sentences"] += 1
        for t in targets:
            entry[t][r[t] or "unlabeled"] += 1
    per_article = {a: {"sentences": e["sentences"], **{t: dict(e[t]) for t in targets}} for a, e in sorted(per_article.items())}
    return {
        "rows": len(rows),
        "sentences": len(sentences),
        "furniture": len(rows) - len(sentences),
        "targets": per_target,
        "origins": dict(Counter(r["origin"] for r in sentences)),
        "articles": per_article,
    }


def cohen_kappa(a: Sequence[str], b: Sequence[str]) -> float:
    """Cohen's kappa of two label sequences.

    When both annotators use a single class only, chance agreement is 1 and
    kappa is undefined; it is then 1.0 if they agree on every sentence and
    0.0 otherwise.
    """
    n = len(a)
    if n == 0:
        return 0.0
    observed = sum(x == y for x, y in zip(a, b)) / n
    ca, cb = Counter(a), Counter(b)
    expected = sum(ca[k] * cb[k] for k in set(ca) | set(cb)) / (n * n)
    if expected >= 1.0:
        return 1.0 if observed == 1.0 else 0.0
    return (observed - expected) / (1 - expected)


def agreement(path_a: str | Path, path_b: str | Path | None = None, *,
              annotators: Sequence[str] | None = None) -> dict:
    """Agreement of two annotators on the sentences both label, per target.

    Two label files, one annotator each; or one labeling log two annotators
    shared (``path_b`` None). ``annotators`` names the two to compare: one per
    file, or two of the log's. Returns ``{"n", "sides", "targets": {t: {"kappa",
    "agreement", "n", "confusion"}}, "disagreements": [...]}``;
    ``confusion[a_label][b_label]`` counts sentences, and ``kappa`` and
    ``agreement`` are None for a target no shared sentence labels.
    """
    sides = _agreement_sides(path_a, path_b, annotators)
    (targets_a, rows_a), (targets_b, rows_b) = (_rows([path], annotator=name) for path, name in sides)
    by_key_b = {(r["article"], r["sentence"]): r for r in rows_b}
    shared = [(r, by_key_b[(r["article"], r["sentence"])]) for r in rows_a if (r["article"], r["sentence"]) in by_key_b]
    for ra, rb in shared:
        _require_same_text(rb, ra)
    out = {"n": len(shared), "sides": [str(path) if name is None else f"{path} ({_named(name)})" for path, name in sides],
           "targets": {}, "disagreements": []}
    for target in [t for t in targets_a if t in targets_b]:
        pairs = [(ra, rb) for ra, rb in shared if ra[target] is not None and rb[target] is not None]
        a = [ra[target] for ra, _ in pairs]
        b = [rb[target] for _, rb in pairs]
        confusion = {x: {y: 0 for y in STANCES} for x in STANCES}
        for x, y in zip(a, b):
            confusion[x][y] += 1
        out["targets"][target] = {
            "kappa": cohen_kappa(a, b) if a else None,
            "agreement": (sum(x == y for x, y in zip(a, b)) / len(a)) if a else None,
            "n": len(a),
            "confusion": confusion,
        }
        out["disagreements"] += [
            {"article": ra["article"], "sentence": ra["sentence"], "text": ra["text"], "target": target,
             "a": ra[target], "b": rb[target]}
            for ra, rb in pairs if ra[target] != rb[target]
        ]
    out["disagreements"].sort(key=lambda d: (d["article"], d["sentence"], d["target"]))
    return out


def _require_same_text(row: dict, first: dict) -> None:
    """Refuse two labels of one (article, sentence) whose texts differ: the files split the article differently."""
    if row["text"] != first["text"]:
        raise LabelFormatError(f"{row['source']}: the text of article {row['article']} sentence {row['sentence']} "
                               f"differs from {first['source']}; both files must label the same split of the article")


def _agreement_sides(path_a, path_b, annotators) -> list[tuple[str | Path, str | None]]:
    """The (file, annotator) pair of each side; a shared log without names must hold exactly two."""
    if annotators is not None:
        annotators = [annotator_name(a) for a in ([annotators] if isinstance(annotators, str) else annotators)]
        if len(annotators) != 2:
            raise LabelFormatError(f"{len(annotators)} annotator(s) named; name two, A's then B's (e.g. ana,bo)")
    files = [path_a, path_a] if path_b is None else [path_a, path_b]
    if annotators is None:
        if path_b is None:
            present = label_annotators(path_a)[1]
            if len(present) != 2:
                raise LabelFormatError(
                    f"{path_a} holds answers by {len(present)} annotator(s) ({_listed(present)}); "
                    "give a second label file, or name two annotators with --annotators A,B")
            return list(zip(files, present))
        for path in files:
            present = label_annotators(path)[1]
            if len(present) > 1:
                raise LabelFormatError(
                    f"{path} holds answers by {len(present)} annotators ({_listed(present)}); "
                    "give it alone to compare two of them, or name one per file with --annotators A,B")
        sides = [(path, None) for path in files]
    else:
        sides = list(zip(files, annotators))
        for path, name in sides:
            present = label_annotators(path)[1]
            if name not in present:
                raise LabelFormatError(f"{path} holds no answers by {_named(name)}; it holds {_listed(present)}")
    if same_file(sides[0][0], sides[1][0]) and sides[0][1] == sides[1][1]:
        raise LabelFormatError(f"{sides[0][0]} would be compared with itself; give the second annotator's file or name")
    return sides


def merge_labels(paths: Sequence[str | Path], out: str | Path, rule: str = "later", *, replace: bool = False) -> dict:
    """Combine label files into one, one label per sentence and target.

    ``later``: the last file that labels a sentence's target wins. ``majority``:
    the label most files give wins; a tie goes to the later file. A labeling log
    that holds several annotators' answers counts as one file per annotator, in
    the order they first appear. Every sentence whose files disagree on a target
    is reported as a conflict. An article's origin is the one the files state
    for any of its rows (files that state two are refused); where none does,
    the merged rows state none either, so that loading them infers the origin
    again (a seed is a seed only beside its article). The output is
    written atomically, never over one of ``paths``, and over an existing file only
    with ``replace``.
    """
    import warnings

    if rule not in ("later", "majority"):
        raise LabelFormatError(f"unknown merge rule {rule!r}; use later or majority")
    refuse_repeated_files(paths, ", so that each votes once")
    if any(same_file(out, p) for p in paths):
        raise LabelFormatError(f"{out} is also an input; write the merge to a new file")
    if os.path.lexists(out) and not replace:
        raise LabelFormatError(f"{out} exists and would be overwritten; pass it as an input too and write a new "
                               "file, or replace it (--replace, replace=True)")
    if os.path.isfile(out) and not _is_label_file(out):
        raise LabelFormatError(f"{out} is no label file, and replacing it would lose what it holds; write the "
                               "merge to a new file")
    from stance.labeling import held_by_a_session

    if os.path.isfile(out) and held_by_a_session(out):  # its next answers would go after the merge, its last ones lost
        raise LabelFormatError(f"{out}: a `stance label` session is saving answers into it; quit that session "
                               "first, or write the merge to a new file")
    voters = []  # (name, targets, rows, stated origins): one per file, or per annotator of a shared log
    for path in paths:
        stated, annotators = label_annotators(path)
        origins = {(r["article"], r["sentence"]): r["origin"] for r in stated if r["origin"] is not None}
        for annotator in annotators if len(annotators) > 1 else [None]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                labels = load_labels([path], check_text=False, annotator=annotator)
            name = str(path) if annotator is None else f"{path} ({_named(annotator)})"
            voters.append((name, label_targets(labels), list(labels), origins))
    targets = list(dict.fromkeys(t for _, ts, _, _ in voters for t in ts))
    merged: dict[tuple[str, int], dict] = {}
    votes: dict[tuple[str, int], dict[str, list[tuple[int, str]]]] = {}
    stated: dict[str, tuple[str, str]] = {}  # article -> (origin, the file that states it)
    for order, (name, _, rows, origins) in enumerate(voters):
        for r in rows:
            key = (r["article"], r["sentence"])
            base = merged.setdefault(key, {"article": r["article"], "sentence": r["sentence"], "text": r["text"],
                                            "origin": None, "source": r["source"]})
            _require_same_text(r, base)
            if key in origins:
                first, where = stated.setdefault(r["article"], (origins[key], name))
                if first != origins[key]:  # the merged file would be refused by every reader
                    raise LabelFormatError(f"article {r['article']!r} is {first} in {where} and {origins[key]} in "
                                           f"{name}; an article has one origin: make the files agree, then merge")
                base["origin"] = origins[key]
            for t in targets:
                value = r.get(t)
                if value is not None:
                    votes.setdefault(key, {}).setdefault(t, []).append((order, value))
    for (article, _), row in merged.items():
        if row["origin"] is None and article in stated:
            row["origin"] = stated[article][0]  # its other rows state it, and an article has one origin
    conflicts = []
    for key, row in merged.items():
        for t in targets:
            given = votes.get(key, {}).get(t, [])
            if not given:
                row[t] = None
                continue
            labels = [v for _, v in given]
            if rule == "later":
                row[t] = labels[-1]
            else:
                counts = Counter(labels)
                best = max(counts.values())
                row[t] = next(v for v in reversed(labels) if counts[v] == best)
            if len(set(labels)) > 1:
                conflicts.append({"article": key[0], "sentence": key[1], "target": t,
                                  "labels": [{"file": voters[o][0], "label": v} for o, v in given], "kept": row[t]})
    rows = [{"article": r["article"], "sentence": r["sentence"], "text": r["text"], **{t: r[t] for t in targets},
             **({"origin": r["origin"]} if r["origin"] is not None else {})}
            for _, r in sorted(merged.items())]
    write_labels(rows, out)
    return {"rows": len(rows), "targets": targets, "rule": rule, "conflicts": conflicts}
