"""The visual planner: what each scene shows and how, from what the scene *says*.

A plan (``models.VisualPlan``) is a layout filled with items: ``hero`` (one subject with its context),
``process`` (A -> B -> C), ``comparison`` (A vs B), ``list`` (numbered points), ``stat`` (a number that counts
up), ``phrase`` (the key term set large) and ``closing`` (the title and a one-line takeaway). The layout
comes from the narration's structure — "turns X into Y", "first ... then ...", "X vs Y", "three tips",
"X, Y and Z", "up to 10 times" — and its items from the narration's noun phrases, the scene's keywords and
its visual description, in that order of trust: the narration is what the viewer hears, while a small
model's picture description can wander ("a rainbow with the letter R" in a video about passwords).

Every icon must relate to the scene's narration *and* to the video's topic (:func:`relevance`); an item
whose label has no relevant icon is shown as its words. Consecutive scenes never repeat a hero subject
when the scene has another subject to show; when it has none, the layout changes.

Deterministic and cheap: no model calls beyond the shared MiniLM text embedder (a few dozen short texts
per video, memoised), so it runs in the script stage and its plans are saved in the storyboard, where a
user can edit them like the narration. A plan that a writer or a user gave is checked and repaired
(:func:`repair`), never discarded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..models import PlanItem, Scene, Storyboard, VisualPlan
from ..text import clean, split_sentences
from .icons import _SPLIT as _SPLIT_RE
from .icons import COLOUR_WORDS, STOP_WORDS, STYLE_WORDS, IconIndex, _singular

# ---- relevance ----------------------------------------------------------------------------------

#: an icon must reach this mean of (cosine with the topic, cosine with the scene's narration) ...
RELEVANCE_MEAN = 0.15
#: ... and at least this on one of the two
RELEVANCE_MAX = 0.18
#: a label must match its icon this well (cosine plus the word-match bonus of ``IconIndex.scores``)
MATCH = 0.5
#: two icons this similar are the same subject
SAME_SUBJECT = 0.8
#: a supporting icon (beside a hero) must relate more clearly: the mean relevance it needs
SUPPORT_MEAN = 0.2

_LIST_NOUNS = (
    r"tips|ways|steps|reasons|things|rules|habits|keys|signs|types|kinds|factors|secrets|mistakes|ideas|"
    r"questions|parts|stages|phases|layers|ingredients|benefits|facts|methods|tricks|lessons|principles|"
    r"elements|options|choices|tools|skills|strategies|examples|problems|causes|effects|components|pillars"
)
_NUMBER_WORDS = {
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "hundred": 100, "thousand": 1000, "hundreds": 100, "thousands": 1000,
}  # fmt: skip
_SCALE_WORDS = {"thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion"}
_LIST_RE = re.compile(
    r"\b(\d|two|three|four|five|six|seven|eight|nine|ten)\s+(?:\w+\s+)?(" + _LIST_NOUNS + r")\b", re.I
)
_NUM_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?)(\s*(?:%|percent\b|per cent\b))?"
    r"(?:\s+(thousand|million|billion|trillion)\b)?",
    re.I,
)
_WORD_NUM_RE = re.compile(
    r"\b(two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|forty|fifty|"
    r"a hundred|hundreds of|a thousand|thousands of|a million|millions of)\s+(\w+)",
    re.I,
)
_PREFIX_RE = re.compile(
    r"\b(up to|over|more than|less than|about|around|nearly|almost|only|at least|roughly)\s*$", re.I
)
_COMPARE_RE = re.compile(
    r"\b(?:vs\.?|versus|compared (?:to|with)|unlike|whereas|rather than|instead of|as opposed to|"
    r"(?:more|less)\s+(?:\w+\s+)?than|(?!other\b|rather\b)\w{3,}er\s+than)\b",
    re.I,
)
_TURN_RE = re.compile(
    r"\b(?:turns?|turned|turning|converts?|converted|converting|transforms?|transformed|transforming|"
    r"changes?|changed|changing|makes?|made|processes|breaks? down|becomes?|became)\b(.+?)\binto\b(.+)",
    re.I,
)
_FROM_TO_RE = re.compile(
    r"\bfrom\s+(?:the\s+|a\s+|an\s+)?(\w+(?:\s\w+){0,2}?)\s+(?:to|into)\s+(?:the\s+|a\s+|an\s+)?(\w+(?:\s\w+){0,2})",
    re.I,
)
_SEQUENCE_RE = re.compile(
    r"\b(?:first(?:ly)?|then|next|after that|afterwards|finally|later|eventually|once)\b", re.I
)
_ENUM_RE = re.compile(r"\b(?:first(?:ly)?|second(?:ly)?|third(?:ly)?|fourth|lastly|finally)\b", re.I)
#: units that make a small number worth showing ("3 litres", "2 hours"); "2 cats" is no statistic
_UNITS = frozenset(
    {
        "times", "percent", "litres", "liters", "litre", "liter", "km", "kilometres", "kilometers", "miles",
        "metres", "meters", "feet", "inches", "cm", "mm", "kg", "kilograms", "grams", "tonnes", "tons",
        "pounds", "ounces", "hours", "minutes", "seconds", "days", "weeks", "months", "years", "degrees",
        "watts", "volts", "calories", "mph", "billion", "million", "thousand", "hundred", "x",
    }
)  # fmt: skip
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})$")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’-]*")
_LABEL_MAX_WORDS = 4


@dataclass
class _Context:
    """What the planner knows about the video while it plans scene after scene."""

    index: IconIndex
    title: str
    topic_vec: np.ndarray
    abstract_topic: bool
    shown_heroes: list[str] = field(default_factory=list)  # hero icon code per planned scene ("" = none)
    used_terms: set[str] = field(default_factory=set)
    previous: VisualPlan | None = None  # the last scene's plan
    codes: dict[str, int] = field(default_factory=dict)  # icon code -> index


def relevance_scores(index: IconIndex, icon_rows: np.ndarray, topic_vec: np.ndarray, scene_vec: np.ndarray,
                     abstract_topic: bool = False) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """``(mean, max)`` of each icon's cosine with the topic and with the scene (best over its names)."""
    topic = _best_over_names(index, icon_rows, topic_vec)
    scene = _best_over_names(index, icon_rows, scene_vec)
    if abstract_topic:
        topic = scene
    return (topic + scene) / 2, np.maximum(topic, scene)


def relevance(index: IconIndex, icon_rows: np.ndarray, topic_vec: np.ndarray, scene_vec: np.ndarray,
              abstract_topic: bool = False, mean: float = RELEVANCE_MEAN) -> np.ndarray:  # fmt: skip
    """Whether each icon of ``icon_rows`` (indexes into ``index.icons``) relates to the scene and topic."""
    avg, top = relevance_scores(index, icon_rows, topic_vec, scene_vec, abstract_topic)
    return (avg >= mean) & (top >= RELEVANCE_MAX)


def _best_over_names(index: IconIndex, icon_rows: np.ndarray, vec: np.ndarray) -> np.ndarray:
    sims = index.vectors @ vec
    best = np.maximum.reduceat(sims, index._starts)
    return np.asarray(best[icon_rows], dtype=np.float32)


def is_relevant(index: IconIndex, code: str, topic: str, scene_text: str) -> bool:
    """Whether the icon ``code`` relates to ``topic`` and ``scene_text`` (for tests and repairs)."""
    rows = [i for i, icon in enumerate(index.icons) if icon.code == code]
    if not rows:
        return False
    topic_vec, scene_vec = index.embed_terms([topic, scene_text])
    return bool(relevance(index, np.array(rows), topic_vec, scene_vec, _abstract(index, topic_vec))[0])


def _abstract(index: IconIndex, topic_vec: np.ndarray) -> bool:
    """A topic no icon really depicts ("the meaning of life"): the topic gate then falls to the scene."""
    return float(np.max(index.vectors @ topic_vec)) < 0.3


# ---- text analysis ------------------------------------------------------------------------------


_VERBS = frozenset(
    {"should", "can", "could", "will", "would", "must", "may", "might", "need", "needs", "is", "are", "was",
     "were", "has", "have", "had", "does", "do", "did", "makes", "make", "helps", "help", "lets", "gets"}
)  # fmt: skip


def _label(term: str) -> str:
    words = _WORD.findall(term)
    cut = next((k for k, w in enumerate(words) if k > 0 and w.lower() in _VERBS), len(words))
    words = words[:cut][-_LABEL_MAX_WORDS:]
    while len(words) > 1 and words[-1].lower().endswith("ed"):  # "bicycles shaped": a verb, not a thing
        words = words[:-1]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else ""


def _content_words(text: str) -> list[str]:
    return [
        w for w in (x.lower().strip("'’-") for x in _WORD.findall(text))
        if w and w not in STOP_WORDS and w not in STYLE_WORDS and not w.isdigit()
    ]  # fmt: skip


def _terms(text: str) -> list[str]:
    """Noun-ish chunks of ``text`` (whole: :func:`_refine` finds their depictable words), without chunks
    of colours, pronouns or numbers alone."""
    out: list[str] = []
    for chunk in re.split(_SPLIT_RE, text.lower()):
        words = [w for w in _content_words(chunk) if not re.search(r"\d", w)]
        words = [w for w in words if w not in _PRONOUNS and w not in _VERBS]
        if words and not set(words) <= COLOUR_WORDS:
            term = " ".join(words[:8])
            if term not in out:
                out.append(term)
    return out[:10]


def _main_term(text: str) -> str | None:
    terms = _terms(text)
    return terms[0] if terms else None


def _last_term(text: str) -> str | None:
    terms = _terms(text)
    return terms[-1] if terms else None


_CLAUSE_START = frozenset(
    {"but", "which", "who", "that", "because", "while", "so", "when", "if", "although", "though", "where",
     "then", "as", "since", "until", "unless", "whereas", "yet"}
)  # fmt: skip
_PRONOUNS = frozenset(
    {"i", "you", "we", "they", "he", "she", "it", "them", "us", "him", "me", "one", "ones", "someone",
     "something", "anything", "everything", "everyone", "nothing", "follows", "way", "lot", "thing"}
)  # fmt: skip


def _split_enumeration(text: str) -> list[str]:
    """``"letters, numbers, and special characters"`` -> three items. Only real lists: three or more parts
    with at least one comma between them, every part after the first a short phrase that starts no clause
    and holds no verb we know."""
    for sentence in split_sentences(text):
        tail = re.split(r"[:;—–]", sentence, maxsplit=1)[-1]
        if "," not in tail:
            continue
        parts = [p.strip() for p in re.split(r",\s*(?:and\s+|or\s+)?|\s+(?:and|or)\s+", tail) if p.strip()]
        if len(parts) < 3:
            continue
        later = [_WORD.findall(p.lower()) for p in parts[1:]]
        if any(not w or len(w) > 5 or w[0] in _CLAUSE_START or _VERBS.intersection(w) for w in later):
            continue
        first = (_content_words(parts[0]) or [parts[0]])[-1]  # "... mixes letters": its last word
        items: list[str] = []
        for item in [first, *(" ".join(_content_words(p)) for p in parts[1:])]:
            if item and item not in items and not set(item.split()) <= _PRONOUNS:
                items.append(item)
        if len(items) >= 3:
            return items[:5]
    return []


@dataclass(frozen=True)
class Number:
    text: str  # as shown ("60,000", "3.5", "2 million")
    unit: str  # "%", "times", "litres", ...
    prefix: str  # "up to", "over", ...
    year: bool
    at: str  # the words it was found at (for its cue)


def find_number(text: str) -> Number | None:
    """The first salient number of ``text``: with a unit, a percentage, a large value or a year. A range
    ("7-9 hours") is shown as written, without counting."""
    rng = re.search(r"(?<![\w.,])(\d+(?:\.\d+)?)\s*(?:-|–|to)\s*(\d+(?:\.\d+)?)\s+(\w+)", text)
    if rng and rng.group(3).lower() in _UNITS:
        return Number(f"{rng.group(1)}–{rng.group(2)}", rng.group(3), "", False, rng.group(0))
    for m in _NUM_RE.finditer(text):
        raw, pct, scale = m.group(1), m.group(2), m.group(3)
        after = text[m.end() :]
        before = text[: m.start()]
        unit_words = [w for w in _WORD.findall(after)[:3]]
        unit = ""
        if pct:
            unit = "%"
        elif unit_words and unit_words[0].lower() not in STOP_WORDS | {"and", "or", "to", "in", "of"}:
            unit = unit_words[0]
            if len(unit_words) > 2 and unit_words[1].lower() == "of":
                unit = f"{unit} of {unit_words[2]}"
        value = float(raw.replace(",", ""))
        year = bool(_YEAR.match(raw)) and not unit.lower().startswith(("times", "%", "km", "m", "kg"))
        if year and re.search(r"\b(in|since|by|until|from|around|of)\s*$", before, re.I) is None and unit:
            year = False
        if not (year or pct or value >= 10 or unit.split(" ")[0].lower() in _UNITS):
            continue
        prefix = _PREFIX_RE.search(before)
        shown = raw + (f" {_SCALE_WORDS[scale.lower()]}" if scale else "")
        return Number(shown, "" if year else unit, prefix.group(1).lower() if prefix else "", year, raw)
    for m in _WORD_NUM_RE.finditer(text):
        word, unit = m.group(1).lower(), m.group(2)
        if unit.lower() in STOP_WORDS or re.match(_LIST_NOUNS, unit.lower()):
            continue
        count = _NUMBER_WORDS.get(word) or {
            "hundreds of": 100, "thousands of": 1000, "a hundred": 100, "a thousand": 1000,
            "a million": 1_000_000, "millions of": 1_000_000,
        }.get(word)  # fmt: skip
        if count is None or count < 3:
            continue
        shown = f"{count:,}" if count < 1_000_000 else "1 million"
        lead = "" if not word.endswith(" of") else "over"
        return Number(shown, unit, lead, False, m.group(1))
    return None


# ---- picking icons ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Candidate:
    term: str
    icon: int  # index into IconIndex.icons
    score: float
    relevance: float = 0.0  # mean cosine with the topic and the scene
    topic: float = 0.0  # cosine with the topic


def _best_icons(ctx: _Context, terms: Sequence[str], scene_vec: np.ndarray) -> list[_Candidate | None]:
    """Each term's best relevant icon (or ``None``)."""
    if not terms:
        return []
    idx = ctx.index
    scores = idx.scores(list(terms))
    rows = np.arange(len(idx.icons))
    avg, _ = relevance_scores(idx, rows, ctx.topic_vec, scene_vec, ctx.abstract_topic)
    topic = _best_over_names(idx, rows, ctx.topic_vec)
    ok = relevance(idx, rows, ctx.topic_vec, scene_vec, ctx.abstract_topic)
    out: list[_Candidate | None] = []
    for t, term in enumerate(terms):
        row = np.where(ok, scores[t], -1.0)
        i = int(np.argmax(row))
        found = _Candidate(term, i, float(row[i]), float(avg[i]), float(topic[i]))
        out.append(found if row[i] >= MATCH else None)
    return out


def _refine(ctx: _Context, terms: Sequence[str]) -> list[str]:
    """Each term cut to its most depictable run of 1-3 words ("ancient volcano erupts" -> "volcano")."""
    grams: list[str] = []
    spans: list[list[str]] = []
    for term in terms:
        words = term.split()
        mine = [
            " ".join(words[a:b]) for a in range(len(words)) for b in range(a + 1, min(len(words), a + 3) + 1)
        ]
        spans.append(mine)
        grams.extend(mine)
    if not grams:
        return []
    best = ctx.index.scores(list(dict.fromkeys(grams))).max(axis=1)
    score = dict(zip(dict.fromkeys(grams), best.tolist(), strict=True))
    out: list[str] = []
    for mine in spans:
        pick = max(mine, key=lambda g: score[g] - 0.03 * (len(g.split()) - 1))
        if pick not in out:
            out.append(pick)
    return out


def _same(ctx: _Context, a: int, b: int) -> bool:
    v = ctx.index.icon_vectors
    return a == b or float(v[a] @ v[b]) >= SAME_SUBJECT


def _item(ctx: _Context, cand: _Candidate | None, label_term: str, cue: str | None = None) -> PlanItem:
    label = _label(label_term) or label_term[:60]
    icon = ctx.index.icons[cand.icon].code if cand is not None else ""
    return PlanItem(label=label[:60], icon=icon, cue=(cue or label_term)[:80])


# ---- layouts ------------------------------------------------------------------------------------


def _scene_terms(scene: Scene) -> list[str]:
    """Terms in order of trust: narration's first sentence, keywords said in the narration, the rest of the
    narration, the other keywords, then the visual description."""
    sentences = split_sentences(scene.narration)
    narr_words = set(_singular(w) for w in _content_words(scene.narration))
    first = _terms(sentences[0]) if sentences else []
    rest = [t for s in sentences[1:3] for t in _terms(s)]
    kws = [clean(k).lower() for k in scene.keywords if _content_words(k)]
    kws = [k for k in kws if not set(k.split()) <= COLOUR_WORDS]
    said = [k for k in kws if {_singular(w) for w in _content_words(k)} <= narr_words]
    unsaid = [k for k in kws if k not in said]
    terms = [*first, *said, *rest, *unsaid, *_terms(scene.visual)]
    out: list[str] = []
    for t in terms:
        if t and t not in out:
            out.append(t)
    return out[:14]


def _process_items(sentence: str) -> list[str]:
    m = _TURN_RE.search(sentence)
    if m:
        subject = _last_term(sentence[: m.start()])
        what, into = _main_term(m.group(1)), _main_term(m.group(2))
        if what and into:
            return [x for x in (what, subject, into) if x]
    m = _FROM_TO_RE.search(sentence)
    if m:
        a, b = _main_term(m.group(1)), _main_term(m.group(2))
        if a and b and a != b:
            return [a, b]
    return []


def _sequence_items(text: str) -> list[str]:
    """``first X, then Y, finally Z`` -> the main term of each step (2-4)."""
    if len(_SEQUENCE_RE.findall(text)) < 2:
        return []
    pieces = [p for p in _SEQUENCE_RE.split(text) if p.strip()]
    items = []
    for p in pieces[1:] if len(pieces) > 2 else pieces:
        t = _main_term(p)
        if t and t not in items:
            items.append(t)
    return items[:4] if len(items) >= 2 else []


def _comparison_items(sentence: str) -> list[str]:
    m = _COMPARE_RE.search(sentence)
    if not m:
        return []
    # "X is sweeter than Y", "bees make more honey than humans do": a comparative compares the sentence's
    # subject; "A versus B", "A unlike B": the words right before it
    before = sentence[: m.start()]
    left = _main_term(before) if m.group(0).lower().endswith("than") else _last_term(before)
    right = _main_term(sentence[m.end() :])
    if left and right and left != right:
        return [left, right]
    return []


def _list_items(text: str) -> list[str]:
    items = _split_enumeration(text)
    if items:
        return items
    if len(_ENUM_RE.findall(text)) >= 3:  # "first ..., second ..., third ..."
        pieces = [p for p in _ENUM_RE.split(text) if p.strip()][1:]
        found = [t for t in (_main_term(p) for p in pieces) if t and not set(t.split()) <= _PRONOUNS]
        if len(found) >= 3:
            return found[:4]
    return []


_GENERIC = re.compile(
    r"thanks for watching|stay curious|in a nutshell|more to discover|subscribe|reminder that|"
    r"comes down to|simple ideas|working together",
    re.I,
)


def _shorten(text: str, limit: int = 110) -> str | None:
    """``text`` if it fits ``limit``, else its first clause when that is a sentence of its own."""
    if len(text) <= limit:
        return text
    for m in re.finditer(r",\s|;\s|\s[—–]\s", text):
        if 25 <= m.start() <= limit:
            return text[: m.start()]
    return None


def _list_heading(text: str, items: Sequence[str]) -> str | None:
    """What a list is about: the noun phrase that opens the sentence holding it ("A strong password")."""
    for sentence in split_sentences(text):
        if items and items[-1].split()[-1] in sentence.lower():
            term = _main_term(sentence)
            if term and term not in items:
                return _label(term)
    return None


def _takeaway(ctx: _Context, storyboard: Storyboard) -> str:
    """A one-line takeaway for the closing card: the sentence that says most about the topic (the closing's
    own sentences first, then each scene's opening), never a sign-off."""
    options: list[tuple[str, float]] = []
    last = storyboard.scenes[-1]
    for scene in storyboard.scenes:
        sentences = split_sentences(scene.narration)
        for s in sentences if scene is last else sentences[:1]:
            text = _shorten(s.strip())
            if not text or _GENERIC.search(text) or len(_content_words(text)) < 3:
                continue
            options.append((text.rstrip(".!"), 0.08 if scene is last else 0.0))
    if not options:
        return storyboard.title
    vecs = ctx.index.embed_terms([t for t, _ in options])
    sims = vecs @ ctx.topic_vec
    # a sentence that only restates the title says nothing new
    scores = np.where(sims > 0.85, sims - 0.5, sims) + np.array([b for _, b in options])
    return options[int(np.argmax(scores))][0]


def _plan_scene(ctx: _Context, scene: Scene, position: int, storyboard: Storyboard) -> VisualPlan:
    """The first plan, in order of specificity, that differs from the previous scene's picture in layout or
    subject: the closing card; a process, comparison, list or statistic said in the narration; a hero;
    the key phrase."""
    for plan in _options(ctx, scene, position, storyboard):
        if plan.layout == "closing" or _differs(ctx, plan):
            return _remember(ctx, plan)
    return _remember(ctx, plan)  # the key phrase (its text differs from any shown before)


def _subject(plan: VisualPlan) -> str:
    return next((i.icon for i in plan.items if i.icon), "")


def _differs(ctx: _Context, plan: VisualPlan) -> bool:
    if ctx.previous is None:
        return True
    if plan.layout != ctx.previous.layout:
        return True
    a, b = _subject(plan), _subject(ctx.previous)
    if not a or not b:
        return plan != ctx.previous
    codes = ctx.codes
    return not _same(ctx, codes[a], codes[b])


def _options(ctx: _Context, scene: Scene, position: int, storyboard: Storyboard) -> Iterator[VisualPlan]:
    count = len(storyboard.scenes)
    sentences = split_sentences(scene.narration)
    head = " ".join(sentences[:2])
    scene_vec = ctx.index.embed_terms([" ".join([scene.narration, *scene.keywords])])[0]
    terms = _refine(ctx, _scene_terms(scene))
    found = [c for c in _best_icons(ctx, terms, scene_vec) if c is not None]

    def items_for(labels: Sequence[str]) -> list[PlanItem]:
        """Items labelled with the words said (long ones by their most depictable words), each with its own
        icon: an icon already in the plan is not drawn twice."""
        short = _refine(ctx, labels)
        found_ = _best_icons(ctx, short, scene_vec)
        out: list[PlanItem] = []
        for label, brief, c in zip(labels, short, found_, strict=True):
            item = _item(ctx, c, label if len(label.split()) <= 3 else brief)
            if item.icon and any(item.icon == o.icon for o in out):
                item = item.model_copy(update={"icon": ""})
            out.append(item)
        return out

    def topical(c: _Candidate) -> float:
        return c.topic + 0.15 * c.score

    if position == count - 1 and count >= 3:  # the closing card
        hero = max(found, key=topical, default=None)
        yield VisualPlan(layout="closing", text=_takeaway(ctx, storyboard)[:120],
                         items=(_item(ctx, hero, hero.term),) if hero else ())  # fmt: skip
    for sentence in sentences[:2]:
        proc = items_for(_process_items(sentence))
        if sum(1 for i in proc if i.icon) >= 2:
            yield VisualPlan(layout="process", items=tuple(proc))
    seq = items_for(_sequence_items(head))
    if sum(1 for i in seq if i.icon) >= 2:
        yield VisualPlan(layout="process", items=tuple(seq))
    for sentence in sentences[:2]:
        comp = _refine(ctx, _comparison_items(sentence))  # "cats are far more ..." compares cats
        if len(comp) == 2:
            yield VisualPlan(layout="comparison", items=tuple(items_for(comp)))
    listed = _list_items(head)
    if listed:
        heading = _list_heading(head, listed) or _key_phrase(ctx, terms, scene)
        yield VisualPlan(layout="list", items=tuple(items_for(listed)), text=heading[:120])
    number = find_number(head)
    if number is not None:
        subject = max(found, key=topical, default=None)
        yield VisualPlan(layout="stat", number=number.text, unit=number.unit[:40], text=number.prefix or None,
                         items=(_item(ctx, subject, subject.term),) if subject else ())  # fmt: skip
    # a hero with its context: the trusted term that says most about the video, else another subject of
    # the scene that is clearly on topic
    ranked = sorted(found[:5], key=topical, reverse=True)
    ranked += [c for c in found[5:] if c not in ranked]
    for k, hero in enumerate(ranked):
        weak = hero.topic < 0.3 or hero.score < 0.6 or hero.relevance < SUPPORT_MEAN
        if k > 0 and ((weak and not ctx.abstract_topic) or ctx.index.is_sign(hero.icon)):
            continue  # another subject must be clearly on topic, and a thing rather than a sign
        support: list[_Candidate] = []
        for c in found:
            if len(support) >= 2:
                break
            if c is hero or _same(ctx, c.icon, hero.icon) or any(_same(ctx, c.icon, o.icon) for o in support):
                continue
            if (
                c.score >= MATCH + 0.1
                and c.relevance >= SUPPORT_MEAN
                and (ctx.abstract_topic or c.topic >= 0.2)
            ):
                support.append(c)
        items = [_item(ctx, hero, hero.term), *(_item(ctx, c, c.term) for c in support)]
        # a subject shown before comes back framed the other way
        variant = ctx.shown_heroes.count(ctx.index.icons[hero.icon].code) % 2
        yield VisualPlan(layout="hero", items=tuple(items), variant=variant)
    # the key phrase, with the scene's subject small above it
    subject = max(found, key=topical, default=None)
    yield VisualPlan(layout="phrase", text=_key_phrase(ctx, _scene_terms(scene), scene)[:120],
                     items=(_item(ctx, subject, subject.term),) if subject else (), variant=position % 2)  # fmt: skip


def _key_phrase(ctx: _Context, terms: Sequence[str], scene: Scene) -> str:
    """The scene's key term: of the terms not shown yet and not just the title's words, the one closest to
    what the scene says."""
    title = {_singular(w) for w in _content_words(ctx.title)}
    fresh = [_label(t).lower() for t in terms]
    fresh = [t for t in dict.fromkeys(fresh) if t and t not in ctx.used_terms and 1 <= len(t.split()) <= 4]
    fresh += [k.lower() for k in scene.keywords if k.lower() not in ctx.used_terms and k.lower() not in fresh]
    fresh = [t for t in fresh if not {_singular(w) for w in _content_words(t)} <= title] or fresh
    if not fresh:
        sentences = split_sentences(scene.narration)
        return _label(" ".join(_content_words(sentences[0] if sentences else scene.visual)[:4])) or "…"
    vecs = ctx.index.embed_terms([scene.narration, *fresh])
    scores = (
        vecs[1:] @ vecs[0]
        + 0.5 * (vecs[1:] @ ctx.topic_vec)
        + 0.03 * np.array([len(t.split()) for t in fresh])
    )
    return _label(fresh[int(np.argmax(scores))])


def _remember(ctx: _Context, plan: VisualPlan) -> VisualPlan:
    ctx.shown_heroes.append(_subject(plan) if plan.layout == "hero" else "")
    ctx.previous = plan
    ctx.used_terms.update(i.label.lower() for i in plan.items)
    if plan.text:
        ctx.used_terms.add(plan.text.lower())
    return plan


# ---- the entry points ---------------------------------------------------------------------------


def new_context(index: IconIndex, title: str) -> _Context:
    topic_vec = index.embed_terms([title])[0]
    return _Context(index=index, title=title, topic_vec=topic_vec, abstract_topic=_abstract(index, topic_vec),
                    codes={icon.code: i for i, icon in enumerate(index.icons)})  # fmt: skip


def repair(ctx: _Context, scene: Scene, plan: VisualPlan) -> VisualPlan:
    """A given plan, made drawable: unknown or irrelevant icons re-picked from their labels, a ``stat``
    without a number made a ``hero``, a ``phrase`` without text given the scene's key phrase."""
    scene_vec = ctx.index.embed_terms([" ".join([scene.narration, *scene.keywords])])[0]
    codes = {icon.code: i for i, icon in enumerate(ctx.index.icons)}
    items = []
    for item in plan.items:
        if item.icon == "":
            items.append(item)
            continue
        if item.icon is not None and item.icon in codes:
            items.append(item)  # an icon chosen by its code (by a person or a writer) is their call
            continue
        found = _best_icons(ctx, [item.label.lower()], scene_vec)[0]
        items.append(item.model_copy(update={"icon": ctx.index.icons[found.icon].code if found else ""}))
    update: dict[str, object] = {"items": tuple(items)}
    if plan.layout == "stat" and not plan.number:
        update["layout"] = "hero"
    if plan.layout in ("phrase", "closing") and not plan.text:
        update["text"] = (
            _key_phrase(ctx, _scene_terms(scene), scene) if plan.layout == "phrase" else ctx.title
        )
    if plan.layout in ("process", "comparison", "list") and len(items) < 2:
        update["layout"] = "hero"
    fixed = plan.model_copy(update=update)
    return _remember(ctx, fixed)


class StoryPlanner:
    """Plans a storyboard's scenes one at a time, in order, as they are written: scene *k*'s plan depends
    only on scenes *0..k* (and the scene count), so a streamed storyboard gets the plans that
    :func:`plan_storyboard` gives the finished one."""

    def __init__(self, index: IconIndex, title: str) -> None:
        self.ctx = new_context(index, title)
        self.planned = 0

    def plan(self, storyboard: Storyboard, k: int) -> Scene:
        """Scene ``k`` of ``storyboard`` with its plan. Scenes after ``k`` may be placeholders: only their
        count is read (the last scene is the closing card)."""
        if k != self.planned:
            raise ValueError(f"scenes are planned in order: expected scene {self.planned}, got {k}")
        scene = storyboard.scenes[k]
        plan = (
            repair(self.ctx, scene, scene.plan)
            if scene.plan is not None
            else _plan_scene(self.ctx, scene, k, storyboard)
        )
        self.planned += 1
        return scene.model_copy(update={"plan": plan})


def plan_storyboard(storyboard: Storyboard, index: IconIndex) -> Storyboard:
    """Every scene with a plan: scenes without one are planned, given plans are repaired."""
    planner = StoryPlanner(index, storyboard.title)
    scenes = tuple(planner.plan(storyboard, k) for k in range(len(storyboard.scenes)))
    return storyboard.model_copy(update={"scenes": scenes})


def plan_title(storyboard: Storyboard, index: IconIndex) -> VisualPlan:
    """The title card's plan: the title set large with the video's subject."""
    ctx = new_context(index, storyboard.title)
    terms = _refine(ctx, _terms(storyboard.title)) + _refine(ctx, _terms(storyboard.prompt))
    found = [c for c in _best_icons(ctx, terms, ctx.topic_vec) if c is not None]
    best = max(found, key=lambda c: c.topic + 0.15 * c.score, default=None)
    items = (_item(ctx, best, best.term),) if best else ()
    return VisualPlan(layout="phrase", text=storyboard.title[:120], items=items)
