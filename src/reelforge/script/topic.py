"""Reading a prompt without knowing its topic: the topic phrase, its subject, whether it is a question,
its content words and a title (``analyse_topic``), with the word lists and small text helpers that takes.

The ``template`` writer fills its sentence banks from a ``Topic``; the LLM writers use it to check that a
piece stays on topic.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from ..text import clean

TITLE_MAX = 60
MAX_TOPIC_WORDS = 12
MAX_SUBJECT_WORDS = 6
MAX_WORD_CHARS = 40
MAX_KEYWORDS = 8

# ---- word lists ------------------------------------------------------------------------------

WH = frozenset({"how", "why", "what", "when", "where", "who", "which", "whose"})
BE = frozenset({"is", "are", "was", "were"})
MODALS = frozenset(
    {"can", "could", "will", "would", "should", "shall", "might", "may", "must", "has", "have", "had"}
)
DO = frozenset({"do", "does", "did"})
PRONOUNS = frozenset({"i", "you", "we", "they", "he", "she", "it", "there", "this", "that", "these", "those"})
DETERMINERS = frozenset(
    {
        "the", "a", "an", "this", "that", "these", "those", "my", "your", "our", "their", "his", "her",
        "its", "some", "many", "most", "all", "every", "each", "any", "no", "one", "two", "three",
    }
)  # fmt: skip
PREPOSITIONS = frozenset(
    {
        "in", "on", "at", "for", "with", "from", "to", "into", "onto", "during", "by", "through",
        "between", "under", "over", "across", "about", "after", "before", "around", "against", "without",
        "within", "along", "among", "toward", "towards", "via", "per", "of", "up", "out", "off", "like",
    }
)  # fmt: skip
VERBISH = (
    BE
    | MODALS
    | DO
    | frozenset(
        {
            "make", "makes", "made", "get", "gets", "got", "work", "works", "happen", "happens", "happened",
            "never", "always", "often", "really", "actually", "still", "can't", "cannot", "don't",
            "doesn't", "didn't", "won't", "isn't", "aren't", "wasn't", "weren't", "need", "needs",
            "use", "uses", "become", "becomes", "keep", "keeps", "help", "helps",
        }
    )
)  # fmt: skip
#: where a noun-phrase subject stops (``of`` and ``and`` keep it going)
SUBJECT_CUT = (PREPOSITIONS - {"of"}) | VERBISH | (WH - {"which"}) | frozenset(
    {"that", "which", "while", "because", "if", "unless", "until", "as", "than", "so", "but", "vs", "versus"}
)  # fmt: skip
STOPWORDS = (
    WH
    | BE
    | MODALS
    | DO
    | PRONOUNS
    | DETERMINERS
    | PREPOSITIONS
    | VERBISH
    | frozenset(
        {
            "and", "or", "but", "nor", "so", "yet", "if", "then", "than", "as", "because", "while", "until",
            "unless", "whether", "not", "me", "him", "them", "us", "mine", "yours", "ours", "theirs",
            "myself", "yourself", "itself", "themselves", "ourselves", "be", "been", "being", "am", "did",
            "done", "doing", "having", "i'm", "you're", "we're", "they're", "it's", "that's", "there's",
            "what's", "how's", "let's", "just", "very", "too", "also", "only", "even", "much", "more",
            "less", "few", "lot", "lots", "such", "other", "another", "same", "own", "here", "now", "again",
            "ever", "way", "ways", "thing", "things", "stuff", "something", "anything",
            "everything", "nothing", "someone", "anyone", "everyone", "people", "go", "goes", "going",
            "went", "gone", "come", "comes", "came", "take", "takes", "took", "give", "gives", "gave",
            "put", "puts", "say", "says", "said", "see", "sees", "saw", "know", "knows", "knew", "want",
            "wants", "like", "likes", "matter", "matters", "mean", "means", "really", "explain",
            "explained", "explaining", "describe", "tell", "show", "teach", "learn", "video", "videos",
            "clip", "short", "quick", "brief", "please", "about", "into", "s", "t", "vs", "versus", "etc",
            "using", "used", "making", "getting", "works", "working",
        }
    )
)  # fmt: skip
ADJECTIVES = frozenset(
    {
        "good", "great", "big", "small", "large", "tiny", "huge", "little", "human", "new", "old", "young",
        "best", "worst", "first", "last", "black", "white", "red", "blue", "green", "yellow", "orange",
        "purple", "pink", "brown", "gray", "grey", "golden", "dark", "bright", "deep", "long", "short",
        "high", "low", "ancient", "modern", "early", "late", "local", "global", "solar", "lunar", "natural",
        "wild", "hot", "cold", "warm", "cool", "fast", "slow", "hard", "soft", "easy", "simple", "strong",
        "weak", "heavy", "light", "dry", "wet", "rich", "poor", "free", "real", "true", "whole", "open",
        "full", "empty", "clean", "fresh", "raw", "sweet", "sour", "bitter", "salty", "happy", "sad",
        "angry", "tall", "quiet", "loud", "busy", "healthy", "important", "different", "common", "rare",
        "safe", "dangerous", "possible", "necessary", "round", "flat", "smart", "sick", "shiny", "noisy",
        "windy", "rainy", "sunny", "cloudy", "scary", "funny", "crazy", "tasty", "sticky",
        "roman", "greek", "french", "english", "american", "african", "european", "asian", "arctic",
        "polar", "electric", "magnetic", "nuclear", "digital", "renewable", "artificial", "social",
        "better", "worse", "faster", "slower", "bigger", "smaller", "easier", "harder", "stronger",
        "higher", "lower", "longer", "healthier", "happier", "cheaper", "safer", "smarter", "more",
    }
)  # fmt: skip
PARTICIPLES = frozenset(
    {
        "made", "done", "built", "grown", "born", "known", "found", "seen", "written", "taken", "given",
        "kept", "held", "sold", "told", "shown", "chosen", "drawn", "eaten", "frozen", "broken", "spoken",
        "stolen", "worn", "thrown", "flown", "hidden", "bitten", "shaken", "woven", "spun", "dug", "won",
        "lost", "caught", "taught", "bought", "brought", "thought", "fought", "sought", "left",
        "felt", "meant", "sent", "spent", "lit", "cut", "set", "shut", "hurt", "split", "spread", "run",
    }
)  # fmt: skip
_MODIFIER_SUFFIXES = ("ful", "ous", "ive", "ble", "less", "ish", "ical", "ian", "ean", "ese", "al")
_PREDICATE_SUFFIXES = ("ful", "ous", "ive", "ble", "less", "ish", "al", "ic", "ant", "ent", "ed", "est", "er")
#: words between a subject and its verb: "honey never spoils", "dogs can smell"
_SKIP_TO_VERB = frozenset(
    {"never", "always", "often", "really", "actually", "still", "also", "can", "could", "will", "would",
     "should", "may", "might", "must", "can't", "cannot", "don't", "doesn't", "didn't", "won't"}
)  # fmt: skip
_ADJ_SUFFIXES = ("ful", "ous", "ive", "less", "ish", "able", "ible")
_PRONOUN_SWAP = {
    "me": "you",
    "my": "your",
    "mine": "yours",
    "myself": "yourself",
    "i'm": "you're",
    "i've": "you've",
    "i'd": "you'd",
    "i'll": "you'll",
}
_TITLE_SMALL = frozenset(
    {
        "a", "an", "the", "and", "but", "or", "nor", "for", "so", "yet", "as", "at", "by", "in", "of",
        "off", "on", "per", "to", "up", "via", "vs", "vs.", "with", "from", "into",
    }
)  # fmt: skip
_BREAKS = (PREPOSITIONS - {"of"}) | frozenset(
    {"and", "or", "but", "that", "which", "who", "while", "because", "when", "where", "if", "so"}
)
_TRAILING_SMALL = _TITLE_SMALL | frozenset({"that", "which", "who", "is", "are", "was", "were", "about"})

_INSTRUCTION_PATTERNS = (
    re.compile(r"^(?:please|hey|hi|ok|okay|so)\b[\s,!:]*", re.I),
    re.compile(r"^(?:eli5|tl;?dr)\b[\s,:]*", re.I),
    re.compile(r"^(?:can|could|would|will) you\s+", re.I),
    re.compile(
        r"^(?:i\s+(?:want|need)(?:\s+to\s+(?:know|learn|understand))?"
        r"|i'?d\s+like\s+to\s+(?:know|learn|understand)"
        r"|(?:explain|describe|tell|teach|show|narrate)(?:\s+(?:me|us))?)\s+",
        re.I,
    ),
    re.compile(
        r"^(?:(?:make|create|generate|produce|write|give|render)(?:\s+(?:me|us))?\s+)?"
        r"(?:(?:a|an|one|some)\s+)?"
        r"(?:(?:short|quick|brief|simple|fun|little|narrated|animated|\d+[\s-]*(?:s|sec|second|min|minute)s?)"
        r"[\s-]+)*"
        r"(?:video|clip|reel|film|movie|documentary|explainer|story|overview|introduction|intro|tutorial"
        r"|guide|presentation|lesson|narration|short)s?"
        r"(?:\s+(?:about|on|of|explaining|showing|describing|covering|for|that\s+explains|that\s+shows))?"
        r"(?:\s+|$)",
        re.I,
    ),
    re.compile(r"^(?:about|on|regarding)\s+", re.I),
)
_TRAILING_PATTERN = re.compile(
    r"[\s,:;-]+(?:explained|(?:for|to)\s+(?:(?:a|an|my|your)\s+)?(?:\w+[\s-]+)?(?:year[\s-]+olds?|kids?"
    r"|children|child|beginners|dummies|everyone|students|toddlers|teens|teenagers|adults|grandma|grandpa"
    r"|laypeople|non-experts)"
    r"|in\s+(?:simple|plain)\s+(?:terms|english|words)|in\s+\d+\s+(?:seconds|minutes|words|steps)"
    r"|in\s+a\s+nutshell|101|eli5|step\s+by\s+step)[\s.!?]*$",
    re.I,
)
#: where the topic phrase ends: sentence ends, clause punctuation, brackets, spaced dashes
_CLAUSE_END = re.compile(r"[.!?…;:。！？؟](?=\s|$)|[,，、;；—–(\[{]|\s-\s")
_QUOTES = re.compile(r"[\"“”„«»‹›]")
_MESSY = frozenset("<>{}[]\\|^~`@#%*=_/")
_QUESTION_MARKS = ("?", "？", "؟")

# ---- small text helpers ------------------------------------------------------------------------


def _is_word_char(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "LMN"


def token_spans(text: str) -> list[tuple[str, int, int]]:
    """Words of ``text`` with their spans: letters, marks and digits, inner apostrophes and hyphens kept."""
    out: list[tuple[str, int, int]] = []
    start = -1
    for i, ch in enumerate(text):
        inner = ch in "'’-" and start >= 0 and i + 1 < len(text) and _is_word_char(text[i + 1])
        if _is_word_char(ch) or inner:
            if start < 0:
                start = i
        elif start >= 0:
            out.append((text[start:i], start, i))
            start = -1
    if start >= 0:
        out.append((text[start:], start, len(text)))
    return out


def tokens(text: str) -> list[str]:
    """Words of ``text`` (see ``token_spans``)."""
    return [t for t, _, _ in token_spans(text)]


def _is_edge_junk(ch: str) -> bool:
    cat = unicodedata.category(ch)
    return cat[0] == "P" or cat in ("Sm", "Sk")


def _strip_edges(word: str) -> str:
    start, end = 0, len(word)
    while start < end and _is_edge_junk(word[start]):
        start += 1
    while end > start and _is_edge_junk(word[end - 1]):
        end -= 1
    return word[start:end]


def _norm(word: str) -> str:
    return _strip_edges(word).lower().replace("’", "'")


def _cut(text: str, limit: int) -> str:
    """``text`` shortened to ``limit`` characters without splitting a combining sequence or emoji."""
    if len(text) <= limit:
        return text
    i = limit
    while i > 0 and (
        unicodedata.combining(text[i])
        or text[i] in "\u200d\ufe0e\ufe0f"
        or 0x1F3FB <= ord(text[i]) <= 0x1F3FF
        or text[i - 1] == "\u200d"
    ):
        i -= 1
    return text[:i] if i > 0 else text[:limit]


def _capitalize(text: str) -> str:
    """First letter upper-cased (the rest untouched), past any opening quotes or brackets."""
    for i, ch in enumerate(text):
        if ch.isalpha():
            if ch.islower():
                return text[:i] + ch.upper() + text[i + 1 :]
            return text
        if not (unicodedata.category(ch) in ("Ps", "Pi") or ch in "\"'¿¡"):
            return text
    return text


def _is_titlecase(word: str) -> bool:
    letters = [c for c in word if c.isalpha()]
    return len(letters) >= 1 and letters[0].isupper() and all(not c.isupper() for c in letters[1:])


def _modifier(word: str) -> bool:
    return word in ADJECTIVES or (len(word) > 4 and word.endswith(_MODIFIER_SUFFIXES))


def _predicate(word: str) -> bool:
    return (
        word in ADJECTIVES
        or word in PARTICIPLES
        or (len(word) > 4 and word.endswith(_PREDICATE_SUFFIXES))
        or (len(word) > 4 and word.endswith("ly") and not word.endswith("ply"))
    )


def _np_len(words: Sequence[str]) -> int:
    """Length of the noun phrase at the start of ``words`` (normalized): det? modifiers* noun (of NP)?"""
    n = len(words)
    i = 0
    if i < n - 1 and words[i] in DETERMINERS:
        i += 1
    while i < n - 1 and _modifier(words[i]) and words[i + 1] not in STOPWORDS:
        i += 1
    i += 1
    if i < n - 1 and words[i] == "of":
        j = i + 1
        if j < n - 1 and words[j] in DETERMINERS:
            j += 1
        while j < n - 1 and _modifier(words[j]) and words[j + 1] not in STOPWORDS:
            j += 1
        if j < n:
            i = j + 1
    return max(1, min(i, n))


def _trim_small(words: list[str]) -> list[str]:
    out = list(words)
    while len(out) > 1 and _norm(out[-1]) in _TRAILING_SMALL:
        out.pop()
    return out


def _first_clause(text: str) -> str:
    m = _CLAUSE_END.search(text)
    head = text[: m.start()] if m else text
    return head.strip() or text


def _shorten_title(text: str, limit: int) -> str:
    head = text[: limit + 1]
    m = _CLAUSE_END.search(head)
    if m and 20 <= m.start() <= limit:
        end = m.start() + (1 if head[m.start()] in "?!" else 0)
        return head[:end].strip()
    space = head.rfind(" ")
    if space >= 20:
        return " ".join(_cut_at_break(head[:space].split(), 30))
    return _cut(text, limit)


def _cut_at_break(words: list[str], keep_chars: int) -> list[str]:
    """Drop a dangling tail ("... across North") by cutting before the last preposition or conjunction,
    if at least ``keep_chars`` characters remain; then drop trailing small words."""
    for j in range(len(words) - 1, 0, -1):
        if _norm(words[j]) in _BREAKS:
            if len(" ".join(words[:j])) >= keep_chars:
                words = words[:j]
            break
    return _trim_small(words)


def title_case(text: str) -> str:
    """Headline-style capitalisation that leaves acronyms, mixed-case words and non-Latin text alone."""
    words = text.split(" ")
    last = len(words) - 1
    out = []
    for i, w in enumerate(words):
        core = _norm(w)
        if 0 < i < last and core in _TITLE_SMALL and (_is_titlecase(w) or w == w.lower()):
            out.append(w.lower())
        elif w == w.lower():
            out.append(_capitalize(w))
        else:
            out.append(w)
    return " ".join(out)


# ---- reading the prompt --------------------------------------------------------------------


@dataclass(frozen=True)
class Topic:
    """What the template writer understood of a prompt."""

    title: str
    #: usable after "about" / "explore": "how bees make honey", "black holes", "why the sky is blue"
    phrase: str
    #: a noun phrase that can stand as an object: "bees", "the sky", "the history of Rome"
    subject: str
    #: the prompt as a direct question ("Why is the sky blue?"), when it is one
    question: str | None
    #: lower-case content words (at most 8)
    keywords: tuple[str, ...]
    #: the things the prompt is about, as narration writes them ("the sky", "NASA"); never empty
    names: tuple[str, ...]


def _strip_instructions(text: str) -> str:
    body = text
    for _ in range(3):
        before = body
        for pat in _INSTRUCTION_PATTERNS:
            stripped = pat.sub("", body, count=1).strip()
            if stripped and any(_is_word_char(c) for c in stripped):
                body = stripped
        m = _TRAILING_PATTERN.search(body)
        if m and m.start() > 0 and any(_is_word_char(c) for c in body[: m.start()]):
            body = body[: m.start()].strip()
        if body == before:
            break
    return body


class _Caser:
    """Decides how a word of the prompt is written in narration (sentence-initial capitals dropped)."""

    def __init__(self, body: str) -> None:
        words = [w for w in body.split() if any(c.isalpha() for c in w)]
        cased = [w for w in words if any(c.isupper() or c.islower() for c in w)]
        content = [w for w in cased if _norm(w) not in STOPWORDS]
        self.shouting = len(cased) >= 2 and all(not any(c.islower() for c in w) for w in cased)
        self.headline = len(content) >= 2 and all(_is_titlecase(w) for w in content)
        # a possessive first word is most likely a name: "Einstein's theory of relativity"
        self.keep_first = bool(words) and words[0].endswith(("'s", "’s"))

    def __call__(self, word: str, first: bool) -> str:
        if self.shouting:
            return word.lower()
        if (self.headline or (first and not self.keep_first)) and _is_titlecase(word) and word != "I":
            return word.lower()
        return word


def _swap_pronouns(words: list[str]) -> list[str]:
    """First person to second person ("How can I sleep better" -> "how can you sleep better")."""
    out = []
    for i, w in enumerate(words):
        core = _norm(w)
        prev = _norm(words[i - 1]) if i else ""
        if w == "I" and (i == 0 or prev in STOPWORDS):
            out.append("you")
        elif core == "am" and (prev == "i" or (i + 1 < len(words) and words[i + 1] == "I")):
            out.append("are")
        elif core in _PRONOUN_SWAP and _strip_edges(w) == w:
            out.append(_PRONOUN_SWAP[core])
        else:
            out.append(w)
    return out


def _invert(wh: str, aux: str, rest: list[str]) -> tuple[list[str], list[str]]:
    """Embedded clause of a question: ("why", "is", "the sky blue") -> "why the sky is blue"."""
    rl = [_norm(w) for w in rest]
    if rl[0] in PRONOUNS:
        k = 1
    elif aux in BE:
        last = rl[-1]
        if (
            len(rest) >= 2
            and rl[-2] not in STOPWORDS
            and (
                last in PARTICIPLES
                or (len(last) > 4 and last.endswith("ed"))
                or (wh in ("why", "how", "whether") and _predicate(last))
            )
        ):
            k = len(rest) - 1
        elif wh in ("what", "who", "which", "whose", "where", "when") and last not in PREPOSITIONS:
            k = len(rest)
        else:
            k = _np_len(rl)
    else:
        k = _np_len(rl)
    k = max(1, min(k, len(rest)))
    clause = [wh, *rest[:k], *([] if aux == "do" else [aux]), *rest[k:]]
    return clause, rest[:k]


def _subject_of(words: list[str]) -> list[str]:
    """The leading noun phrase of a topic that is not a question: cut at prepositions and verbs."""
    out: list[str] = []
    content = False
    for w in words:
        core = _norm(w)
        if content and core in SUBJECT_CUT:
            break
        out.append(w)
        content = content or core not in STOPWORDS
        if len(out) >= MAX_SUBJECT_WORDS:
            break
    return _trim_small(out)


def _possessive(word: str) -> str:
    return re.sub(r"['’]s$", "", word) or word


def _content(key: str) -> bool:
    return key not in STOPWORDS and not (len(key) < 2 and key.isascii())


def _describing(key: str) -> bool:
    """Adjective-looking words: "blue", "better", "famous"; they are not things to talk about."""
    return key in ADJECTIVES or (len(key) > 5 and key.endswith(_ADJ_SUFFIXES))


def _names_fallback(keys: Sequence[str]) -> str:
    return keys[0] if keys else "this topic"


def _things(body: str, spans: list[tuple[str, int, int]], caser: _Caser, skip: set[str]) -> list[str]:
    """Noun-ish phrases of the prompt, as narration writes them: "the Roman Empire", "monarch butterflies"."""
    runs: list[list[int]] = []
    for i, (tok, start, _) in enumerate(spans):
        key = _possessive(tok).lower()
        if not _content(key) or key in skip:
            continue
        prev_end = spans[i - 1][2] if i else -1
        if runs and runs[-1][-1] == i - 1 and len(runs[-1]) < 3 and not body[prev_end:start].strip():
            runs[-1].append(i)
        else:
            runs.append([i])
    out: list[str] = []
    seen: set[str] = set()
    for run in runs:
        while run and _describing(_possessive(spans[run[-1]][0]).lower()):
            run = run[:-1]
        if not run:
            continue
        words = [_cut(caser(_possessive(spans[i][0]), i == 0), MAX_WORD_CHARS) for i in run]
        name = " ".join(words)
        first = run[0]
        if first and spans[first - 1][0].lower() in ("the", "a", "an"):
            name = "the " + name  # "the sky" reads better than a bare "sky"
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(name)
    return out


def _end_of(words: list[str], part: list[str]) -> int:
    """Index just after the first occurrence of ``part`` in ``words`` (len(words) if absent)."""
    m = len(part)
    for i in range(len(words) - m + 1):
        if words[i : i + m] == part:
            return i + m
    return len(words)


def _analyse(words: list[str], asked: bool) -> tuple[list[str] | None, list[str], bool]:
    """(about-phrase words or None, subject words, is a question) for the topic words."""
    lw = [_norm(w) for w in words]
    n = len(words)
    if n >= 2 and lw[0] in WH:
        wh, aux = lw[0], lw[1]
        if n >= 3 and (aux in BE or aux in MODALS or aux == "do"):
            about, subj = _invert(wh, aux, words[2:])
            return about, subj, True
        if n >= 3 and aux in ("does", "did"):
            return None, words[2 : 2 + _np_len(lw[2:])], True
        if wh == "how" and aux == "to" and n >= 3:
            rest = words[3:] or words[2:]
            return words, rest[: _np_len([_norm(w) for w in rest])], asked
        if wh in ("who", "what", "which", "whose") and aux not in DETERMINERS and aux not in PRONOUNS:
            rest = words[2:] or words[1:]
            return words, rest[: _np_len([_norm(w) for w in rest])], asked
        rest = words[1:]
        return words, rest[: _np_len(lw[1:])], asked
    if n >= 3 and (lw[0] in BE or lw[0] in MODALS or lw[0] in DO):
        aux = lw[0]
        if aux in ("does", "did"):
            return None, words[1 : 1 + _np_len(lw[1:])], True
        about, subj = _invert("whether", aux, words[1:])
        return about, subj, True
    subj = _subject_of(words)
    if len(subj) < n and _norm(words[len(subj)]) in VERBISH and lw[0] not in STOPWORDS:
        return ["why", *words], subj, asked  # a statement: "honey never spoils" -> "why honey never spoils"
    return words, subj, asked


def analyse_topic(prompt: str) -> Topic:
    """Read a prompt: title, topic phrase, subject, question form and keywords. Never fails."""
    text = clean(prompt) or "this topic"
    body = _strip_instructions(text)
    asked = body.endswith(_QUESTION_MARKS)
    caser = _Caser(body)

    # keywords: content words of the whole prompt
    spans = token_spans(body)
    keys: list[str] = []
    for pass_no in (0, 1):
        for tok, _, _ in spans:
            key = _cut(_possessive(tok).lower(), MAX_WORD_CHARS)
            if pass_no == 0 and not _content(key):
                continue
            if key not in keys:
                keys.append(key)
            if len(keys) >= MAX_KEYWORDS:
                break
        if keys:
            break
    fallback = ""
    if not keys:  # no letters or digits at all: emoji, symbols
        fallback = _cut(_strip_edges(body.split()[0]) if body.split() else "", MAX_WORD_CHARS)
        keys = [fallback.lower()] if fallback else []

    # the topic phrase: the first clause, markup-ish characters and quotes removed
    head = _QUOTES.sub("", _first_clause(body)).strip()
    if any(c in _MESSY or unicodedata.category(c) in ("Sm", "Sk") for c in head):
        head = " ".join(tokens(head)) or "".join(c for c in head if c not in _MESSY and c != " ")
    raw_words = [_cut(w, MAX_WORD_CHARS) for w in head.split()][:MAX_TOPIC_WORDS]
    if raw_words:
        raw_words[-1] = _strip_edges(raw_words[-1])
    raw_words = [w for w in raw_words if any(not _is_edge_junk(c) for c in w)]
    if not raw_words:
        raw_words = [fallback or (keys[0] if keys else "this topic")]
        asked = False
    words = _swap_pronouns([caser(w, j == 0) for j, w in enumerate(raw_words)])
    if len(head.split()) > MAX_TOPIC_WORDS:
        words = _cut_at_break(words, 12)

    about, subj, is_question = _analyse(words, asked)
    subj = _trim_small(subj[:MAX_SUBJECT_WORDS]) if subj else []
    subj_text = " ".join(subj)
    if not subj or all(_norm(w) in STOPWORDS or not _norm(w) for w in subj):
        subj_text = ""
    phrase = " ".join(about) if about else subj_text
    question = None
    if is_question:
        q = " ".join(words).rstrip("?？؟.!, ")
        question = _capitalize(q) + "?" if q else None

    # the things narration talks about: runs of content words, without the prompt's verb and predicate
    lw = [_norm(w) for w in words]
    not_things: set[str] = set()
    has_subject = bool(subj_text) and not all(_norm(w) in PRONOUNS for w in subj)
    if has_subject:
        after = lw[_end_of(words, subj) :]
        while after and after[0] in _SKIP_TO_VERB:
            after = after[1:]
        not_things.update(after[:1])
    if lw[:2] == ["how", "to"] and len(lw) > 2:
        not_things.add(lw[2])
    if len(lw) > 1 and lw[0] in ("who", "what") and lw[1] not in STOPWORDS:
        not_things.add(lw[1])  # "who invented the telephone"
    for j, w in enumerate(lw[:-1]):
        if w in ("that", "which", "who") and j:  # relative clause: "routines that stick"
            rest = [x for x in lw[j + 1 :] if x not in _SKIP_TO_VERB]
            not_things.update(rest[:1])
    names = _things(body, spans, caser, not_things)
    if fallback or not names:
        names = [fallback or _names_fallback(keys)]
    if has_subject and len(subj) <= 4 and _norm(subj[0]) not in ("a", "an"):
        # the subject noun phrase ("black holes") leads; things inside it are not repeated
        inside = {_norm(w) for w in subj}
        names = [subj_text] + [t for t in names if not inside & {_norm(w) for w in t.split()}]
    subj_text = subj_text or names[0]

    title_src = body.rstrip(" .,;:-–—…/\\")
    if len(title_src) > TITLE_MAX:
        title_src = _shorten_title(title_src, TITLE_MAX)
    title_src = title_src.rstrip(" .,;:-–—…/\\") or _cut(text, TITLE_MAX)
    title = title_src if caser.shouting else title_case(title_src)

    return Topic(
        title=clean(title) or "Untitled",
        phrase=clean(phrase or subj_text) or names[0],
        subject=clean(subj_text) or names[0],
        question=question,
        keywords=tuple(k for k in keys if k),
        names=tuple(names[:MAX_KEYWORDS]),
    )
