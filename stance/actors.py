"""Who acts in a sentence: features that say whether Serbia is the one doing something.

A sentence embedding reads topic: "Russia's envoy praised the deal" and "Serbia
signed the deal with Russia" lie close together, yet only the second portrays a
Serbian stance (``LABELING.md``: the question is always what *Serbia* does).
These few indicators, found by word patterns, tell the linear head who is named,
who speaks and in what order, so that it can discount sentences where Russia or
the EU acts and Serbia does not; and, for two more rules of the scheme, whether
Serbia is only pressed ("Brussels urged Belgrade to align": pressure is not
stance) and whether the sentence is a question, which reports no stance.
``StanceClassifier(actors=True)`` appends them, scaled by :data:`ACTOR_SCALE`,
to the embedding and the n-grams; the scale and the feature set were chosen by
grouped cross-validation (``experiments/README.md``).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

__all__ = ["ACTOR_FEATURES", "ACTOR_SCALE", "actor_features", "pressed_by_another", "serbian_actor"]

#: Weight of the indicator block beside unit-norm embeddings and TF-IDF rows.
ACTOR_SCALE = 3.0

_SERBIA = (
    r"serbia|serbian|serbians|serbs|serb|srbija|belgrade|vu[cč]i[cć]|brnabi[cć]|da[cč]i[cć]|vulin|macut|"
    r"selakovi[cć]|[dđ]j?uri[cć]|nikoli[cć]|tadi[cć]|stefanovi[cć]|yugoimport|kru[sš]ik|nis|"
    r"balkan (?:state|country|nation)"  # how reporting on Serbia names it a second time
)
_OFFICE = (
    r"government|president|prime minister|foreign minister|defen[cs]e minister|minister|officials|"
    r"authorities|cabinet|parliament"
)
_FOREIGN = (
    r"russian|kremlin|moscow|eu|european|brussels|us|american|ukrainian|chinese|hungarian|croatian|german|"
    r"french|british|western|kosovo|montenegrin|bosnian|slovak|bulgarian|turkish|polish|italian|greek|romanian|"
    r"austrian|czech|slovenian|macedonian|albanian|azerbaijani|belarusian|dutch|spanish|swedish|finnish|israeli|"
    r"iranian|japanese|indian"
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
# Verbs of pressure: what another actor wants Serbia to do ("Brussels urged Belgrade to align"). The pressure
# rule reads them as verbs only (_PRESSING, without "pressure", as often a noun: "under Western pressure"); the
# indicator reads the noun too (_PRESSURE).
_PRESSING = (
    r"urg(?:e|es|ed|ing)|press(?:es|ed|ing)?|call(?:s|ed|ing)? on|ask(?:s|ed|ing)?|demand(?:s|ed|ing)?|"
    r"push(?:es|ed|ing)?|pressur(?:es|ed|ing)|expect(?:s|ed|ing)?|want(?:s|ed|ing)?|warn(?:s|ed|ing)?|"
    r"encourag(?:e|es|ed|ing)|invit(?:e|es|ed|ing)|requir(?:e|es|ed|ing)|insist(?:s|ed|ing)? that"
)
_PRESSURE = _PRESSING + r"|pressure"
_ANAPHOR = (
    r"^\W*(?:he|she|it|they|this|that|these|those|the move|the decision|the deal|the step|the government|"
    r"the president|its|his|her|their)\b"
)


class _Patterns(NamedTuple):
    """The word patterns as one set: compiled without case for any text, with case for lowered ASCII."""

    serbia: re.Pattern
    russia: re.Pattern
    eu: re.Pattern
    office: re.Pattern
    foreign_office: re.Pattern
    claim: re.Pattern
    claim_start: re.Pattern
    negation: re.Pattern
    hedge: re.Pattern
    pressure: re.Pattern
    anaphor: re.Pattern

    @classmethod
    def compile(cls, flags: int) -> _Patterns:
        def words(pattern: str) -> re.Pattern:
            return re.compile(rf"\b(?:{pattern})\b", flags)

        return cls(
            serbia=words(_SERBIA), russia=words(_RUSSIA), eu=words(_EU), office=words(_OFFICE),
            foreign_office=re.compile(rf"\b(?:{_FOREIGN})\s+(?:{_OFFICE})\b", flags),
            claim=words(_CLAIM),
            # A claim word that starts a word; see _mentions. The closing boundary is left out on
            # purpose: the 60-character window can cut "saidx" to a claimed "said".
            claim_start=re.compile(rf"\b(?:{_CLAIM})", flags),
            negation=words(_NEGATION), hedge=words(_HEDGE), pressure=words(_PRESSURE),
            anaphor=re.compile(_ANAPHOR, flags),
        )


# Matching without case is slow in ``re``. So ASCII text, the usual case, is lowercased and matched
# with case by the same patterns, whose letters are all lowercase: for ASCII that is exactly what
# matching without case does, and every position stays. Other text is matched without case (beyond
# ASCII the two differ: "ſ" matches "s" without case, and "İ".lower() is two characters).
_ANY_CASE = _Patterns.compile(re.IGNORECASE)
_LOWERED_ASCII = _Patterns.compile(0)

_SERBIA_RE, _RUSSIA_RE, _EU_RE = _ANY_CASE.serbia, _ANY_CASE.russia, _ANY_CASE.eu
_OFFICE_RE, _FOREIGN_OFFICE_RE = _ANY_CASE.office, _ANY_CASE.foreign_office
_CLAIM_RE, _NEGATION_RE, _HEDGE_RE = _ANY_CASE.claim, _ANY_CASE.negation, _ANY_CASE.hedge
_ANAPHOR_RE = _ANY_CASE.anaphor

# The words after an office, read on the original text: capitalised ones name its holder ("President Putin").
_FOLLOWING_WORDS_RE = re.compile(r"(?:[ \t]+[\w'’.-]+){1,3}")
# A Serbian holder: a Serbian name, or a surname in -ić ("President Aleksandar Vučić", "Minister Nikola Selaković").
_SERBIAN_NAME_RE = re.compile(rf"\b(?:{_SERBIA})\b|i[cć]\b", re.IGNORECASE)

# Words a title-case headline leaves in lower case.
_SMALL_WORDS = frozenset("a an the and but or nor for on in at to of by as with from into over vs via per".split())

# The four words after a verb of pressure, with the space around them: whom it presses.
_FOUR_WORDS_RE = re.compile(r"\s*(?:\S{1,100}\s*){0,4}")  # a word of at most 100 characters: a line of no spaces stays linear
# The pressure rule (:func:`pressed_by_another`). A verb of pressure, its presser (Russia, the EU or another
# country) named before it in the same clause, and Serbia its object right after it ("urged Belgrade",
# "called on President Vučić", "demanding that Belgrade", "urged the Serbian authorities"), then what Serbia
# is pressed to do ("to align", "not to deepen", ", as a candidate, to move"; after "that", the verb itself).
_PRESSING_RE = re.compile(rf"\b(?:{_PRESSING})\b", re.IGNORECASE)
_PRESSER_RE = re.compile(rf"\b(?:{_RUSSIA}|{_EU}|{_FOREIGN})\b", re.IGNORECASE)
_PRESSED_OBJECT_RE = re.compile(
    r"\s+(?P<that>that\s+)?(?:the\s+)?(?:(?:serbian|president|prime|foreign|defen[cs]e|interior|minister|government|"
    r"authorities|leadership|officials|cabinet|(?-i:[A-ZČĆŽŠĐ][\w’'.-]*))\s+){0,3}"
    rf"(?:{_SERBIA})\b(?!['’]s)(?:\s+(?:government|authorities|leadership|officials|president|cabinet|parliament)\b)?",
    re.IGNORECASE)
_PRESSED_TO_RE = re.compile(r"(?:\s*,[^,;:]{1,40},)?\s+(?:not\s+|never\s+)?to\s+(\w+)", re.IGNORECASE)
_PRESSED_THAT_RE = re.compile(r"\s+(?:not\s+)?(\w+)", re.IGNORECASE)
# Acts Serbia would be asked to go on with, stop or account for: the sentence then tells its conduct.
_CONDUCT_RE = re.compile(
    r"(?:continue|keep|maintain|stop|cease|end|reverse|abandon|drop|reconsider|explain|justify|honou?r|stick|remain|"
    r"stay|resume|revoke|renounce|halt|quit|retract|withdraw|deliver|fulfill?)", re.IGNORECASE)
# Before the pressure: a contrast or a refusal ("Despite two years of refusals, the EU still urges ...").
_CONTRAST_RE = re.compile(
    r"\b(?:but|yet|while|whereas|although|though|despite|undeterred|however|refus\w*|reject\w*|defian\w*|vain)\b",
    re.IGNORECASE)
# After it: anything that could tell Serbia's answer or its conduct: a contrast, a reply, a negation, a reference
# back ("it", "the country"), what became of the call ("a request ... brushed aside", "unheeded"), or a
# reason given with it ("noting that alignment has fallen").
_ANSWER_RE = re.compile(
    r"\b(?:but|yet|while|whereas|although|though|despite|however|it|he|she|they|country|government|leadership|"
    r"authorities|nation|state|refus\w*|reject\w*|declin\w*|ignor\w*|rebuff\w*|dismiss\w*|resist\w*|"
    r"def(?:y|ied|ies|ying)|defian\w*|compl(?:y|ied|ies|ying)|agree\w*|accept\w*|heed\w*|unheeded|answer\w*|"
    r"respond\w*|repl(?:y|ied|ies|ying)|dodg\w*|brush\w*|avail|vain|call|request|appeal|demand|plea|not|no|never|"
    r"noting|adding|citing|pointing|complain\w*|criticis\w*|criticiz\w*|"
    r"\w+n['’]t)\b", re.IGNORECASE)
_FIRST_PERSON_RE = re.compile(r"\b(?:[Ww]e|us|[Oo]urs?|I)\b")
#: How far back from a verb of pressure its presser is looked for, in characters (a long line stays linear).
PRESSER_WINDOW = 300

# A question that ends the sentence, closing quotes and brackets aside.
_QUESTION_RE = re.compile(r"\?[\s\"'”’)]*$")

# Where a mention's clause ends: the first of these characters after it.
_CLAUSE_RE = re.compile(r"[^,;:.!?()\"“”]*")

#: Column names of :func:`actor_features`, in order.
ACTOR_FEATURES = (
    "serbia named", "opens with a reference back", "serbia or a reference back",
    "russia named", "eu named", "both targets named",
    "russia named, serbia not", "eu named, serbia not",
    "serbia named before russia", "serbia named before the eu",
    "russia speaks", "the eu speaks", "serbia speaks",
    "negation", "hedge",
    "serbia only pressed", "unanswered question",
)

#: How many of the columns a model saved before the last two were added reads.
EARLIER_ACTOR_COLUMNS = 15
#: The column of "unanswered question", which a model's question rule reads.
QUESTION_COLUMN = ACTOR_FEATURES.index("unanswered question")


def _prepared(text: str) -> tuple[_Patterns, str]:
    """The patterns to use and the text to match them on: lowercased if it is ASCII (see _LOWERED_ASCII)."""
    if text.isascii():
        return _LOWERED_ASCII, text.lower()
    return _ANY_CASE, text


def serbian_actor(text: str) -> bool:
    """Whether the sentence names the Serbian state: a Serbian name, or an office not marked foreign."""
    patterns, matched = _prepared(text)
    return patterns.serbia.search(matched) is not None or _unmarked_office(patterns, matched, text)


def _unmarked_office(patterns: _Patterns, matched: str, original: str) -> bool:
    """Whether an office is named that nothing marks foreign, so that it is Serbia's (``LABELING.md``).

    An office is foreign when a foreign adjective precedes it ("the Russian government") or a
    name that is not Serbian follows it ("President Putin", "Prime Minister Robert Fico"). Names
    are capitalised words, read on the original text; in a title-case or upper-case line every
    word is, so there only the adjective counts.
    """
    offices = {m.end() for m in patterns.office.finditer(matched)}
    if not offices:
        return False
    offices -= {m.end() for m in patterns.foreign_office.finditer(matched)}
    if offices and not _title_case(original):
        offices = {end for end in offices if not _foreign_holder(original, end)}
    return bool(offices)


def _foreign_holder(original: str, end: int) -> bool:
    """Whether capitalised words right after position ``end`` name someone, and not a Serbian."""
    following = _FOLLOWING_WORDS_RE.match(original, end)
    if following is None:
        return False
    name = []
    for word in following.group().split():
        if not word[0].isupper():
            break
        name.append(word)
    return bool(name) and _SERBIAN_NAME_RE.search(" ".join(name)) is None


def _title_case(original: str) -> bool:
    """Whether the line is in title case or capitals: every word capitalised but the small ones ("on", "the")."""
    words = [w for w in original.split() if w[0].isalpha()]
    return len(words) >= 3 and all(w[0].isupper() or w.lower() in _SMALL_WORDS for w in words)


def _claim_follows(patterns: _Patterns, text: str, end: int) -> bool:
    """Whether a verb of saying is among the first four words of the clause that starts at ``end``.

    The clause is cut at 60 characters and at the first clause mark; the words are rejoined by single
    spaces before the word-bounded search, so the answer depends only on those four words.
    """
    clause = _CLAUSE_RE.match(text, end, end + 60).group()
    return patterns.claim.search(" ".join(clause.split()[:4])) is not None


def _mentions(patterns: _Patterns, name: re.Pattern, text: str, claims: bool) -> tuple[int | None, bool]:
    """Where the actor is first named (None if not at all), and whether any mention of it speaks.

    One scan of the sentence serves both. The clauses after the mentions are read only if the
    sentence has a claim word at all (``claims``): a claim found among a clause's words lies inside one
    word of the sentence and starts a word there too, so ``patterns.claim_start`` finds it.
    """
    first, speaks = None, False
    for match in name.finditer(text):
        if first is None:
            first = match.start()
        if not claims:
            break
        if _claim_follows(patterns, text, match.end()):
            speaks = True
            break
    return first, speaks


def _pressure_spans(patterns: _Patterns, matched: str, original: str) -> list[tuple[int, int]]:
    """Where a verb of pressure and its next four words name a Serbian actor: (start, end), in order."""
    spans = []
    for verb in patterns.pressure.finditer(matched):
        pressed = _FOUR_WORDS_RE.match(original, verb.end())  # read no further: a long line stays linear
        if serbian_actor(" ".join(pressed.group().split())):
            spans.append((verb.start(), pressed.end()))
    return spans


def _only_pressed(patterns: _Patterns, matched: str, original: str) -> bool:
    """Whether Serbia is named only as the one another actor presses ("Moscow urged Belgrade to ...").

    Pressure is not stance (``LABELING.md``), unless the sentence also tells what Serbia
    did: so a verb of pressure must have a Serbian actor among its next four words, and,
    those words and the verb taken out, no Serbian actor or opening reference back may remain.
    """
    spans = _pressure_spans(patterns, matched, original)
    if not spans:
        return False
    kept, at = [], 0
    for start, end in spans:  # in order; a verb inside the words of the one before starts no new piece
        if start >= at:
            kept.append(original[at:start])
        at = max(at, end)
    rest = " | ".join([*kept, original[at:]])
    return not serbian_actor(rest) and _ANAPHOR_RE.search(rest) is None


def pressed_by_another(text: str) -> bool:
    """Whether the sentence only tells that another actor presses Serbia ("Brussels urged Belgrade to align").

    ``LABELING.md``: pressure is not stance unless the sentence also tells Serbia's answer. This
    decides a label (``StanceClassifier(pressure_rule=True)``), so it asks much more than the
    "serbia only pressed" indicator, which only informs a head: the presser is named before the
    verb in its clause; Serbia is the verb's object and is pressed *to do* something it is not
    already doing ("to stop", "to explain" or "to reverse its decision" tell its conduct); no
    other Serbian actor, reference back or first person is in the sentence; and nothing before
    the pressure (a contrast, a refusal) or after it (a reply, a negation, "the country", "a
    request ... brushed aside") could be Serbia's answer. A sentence it misses is left to the heads.
    """
    if _FIRST_PERSON_RE.search(text) or _ANAPHOR_RE.search(text):
        return False
    for verb in _PRESSING_RE.finditer(text):
        pressed = _PRESSED_OBJECT_RE.match(text, verb.end())
        if pressed is None:
            continue
        clause = re.split(r"[,;:]", text[max(0, verb.start() - PRESSER_WINDOW):verb.start()])[-1]
        if not _PRESSER_RE.search(clause):
            continue
        asked = (_PRESSED_THAT_RE if pressed.group("that") else _PRESSED_TO_RE).match(text, pressed.end())
        if asked is None or _CONDUCT_RE.fullmatch(asked.group(1)):
            return False
        before, after = text[:verb.start()], text[asked.end():]
        return not (serbian_actor(before) or serbian_actor(after) or _CONTRAST_RE.search(before)
                    or _ANSWER_RE.search(after))
    return False


def _row(text: str) -> tuple[bool, ...]:
    """The indicators of one sentence, in the order of :data:`ACTOR_FEATURES`."""
    original = text
    patterns, text = _prepared(text)
    claims = patterns.claim_start.search(text) is not None
    (at_serbia, serbia_speaks), (at_russia, russia_speaks), (at_eu, eu_speaks) = (
        _mentions(patterns, name, text, claims) for name in (patterns.serbia, patterns.russia, patterns.eu))
    serbia = at_serbia is not None or _unmarked_office(patterns, text, original)  # serbian_actor, reusing the scan
    back = patterns.anaphor.search(text) is not None
    russia, eu = at_russia is not None, at_eu is not None
    acting = serbia or back
    return (
        serbia, back, acting, russia, eu, russia and eu,
        russia and not acting, eu and not acting,
        at_serbia is not None and russia and at_serbia < at_russia,
        at_serbia is not None and eu and at_serbia < at_eu,
        russia_speaks, eu_speaks, serbia_speaks,
        patterns.negation.search(text) is not None, patterns.hedge.search(text) is not None,
        serbia and _only_pressed(patterns, text, original), _QUESTION_RE.search(original) is not None,
    )


def actor_features(texts: Sequence[str]) -> np.ndarray:
    """One row of 0/1 indicators per sentence, columns as :data:`ACTOR_FEATURES`."""
    rows = [_row(text) for text in texts]
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), len(ACTOR_FEATURES))
