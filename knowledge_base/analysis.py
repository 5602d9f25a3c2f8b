"""Text analysis: the same tokens for articles and queries, Latin-script languages and Simplified Chinese.

A text is cut into runs of CJK ideographs and runs of everything else, so one analyser handles English,
Chinese and the mixed text field service writes ("E4 故障", "锅炉 F28"):

- other runs: NFKC, case-fold, accents folded away, word tokens ``[a-z0-9]+``. A letter+digit code
  written with a separator ("E-04", "F 28") also yields the joined form ("e04") so fault codes match
  however they are typed. No stop words and no stemming: both were measured (bench/kb/en_variants.py)
  and neither helped; dropping question words cost 0.10 NDCG@10 on FAQ matching ("what is" vs "how do").
- CJK runs: jieba's search-mode words (a long word also gives its sub-words) plus every single
  character and character bigram of the run, because jieba segments a query and a paraphrased
  article differently; overlapping characters and bigrams still meet (measured: bench/kb/zh_variants.py).

The Latin analysis has no rule of English (no stop words, no stemmer): German, French, Spanish, Italian
and Dutch text gets the same folded words and codes, and the multilingual encoder does the rest. Two
German rules: "ä/ö/ü" are spelled "ae/oe/ue" (as typed without a German keyboard; an article keeps the
bare-vowel token too), and ``compound_parts`` / ``joined_compounds`` split and join compounds against a
dictionary the index makes from its German articles' words (index.py; docs/knowledge_base.md).
``detect_language`` tells Chinese from the Latin-script languages by script, and those apart with
py3langid (docs/knowledge_base.md, "Language").
"""

from __future__ import annotations

import itertools
import logging
import re
import sys
import unicodedata
from collections.abc import Collection, Container, Iterator, Sequence
from functools import lru_cache
from typing import Any, Literal, get_args

# The languages an article may be in: told apart by detect_language, and the choices of the product's
# language field and filter. "en" is also the answer for a text too short (or too odd) to tell.
Language = Literal["en", "zh", "de", "fr", "es", "it", "nl"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
LANGUAGE_NAMES: dict[Language, str] = {
    "en": "English",
    "zh": "Chinese (Simplified)",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
}
LATIN_LANGUAGES: tuple[Language, ...] = tuple(code for code in LANGUAGES if code != "zh")
# py3langid's normalised probability (over LATIN_LANGUAGES) below which a text is left "en": every
# sentence of tests/knowledge_base/language_samples.py scores >= 0.69, while single words such as
# "pressure" or "boiler" (0.36, 0.48 for French) and bare codes (0.17-0.27) stay below.
LANGUAGE_CONFIDENCE = 0.5
# Bump when analyze() changes: a persisted index made with another version is re-analysed on load.
ANALYSIS_VERSION = 2

# CJK Unified Ideographs, extension A and compatibility ideographs: what jieba segments.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(f"([{CJK_CHARS}]+)|([^{CJK_CHARS}]+)")
_WORD = re.compile(r"[a-z0-9]+")
# A code like "E-04", "e 4", "F.28": letters then digits split by one separator.
_CODE = re.compile(r"\b([a-z]{1,3})[-_ ./]?(\d{1,4})\b")
# German spells an umlaut out where a keyboard has none (Wärme = Waerme); "ß" is already "ss" by case-folding.
_UMLAUT_CHARS = re.compile("[äöü]")
_UMLAUT_MARKS = str.maketrans({"ä": "\ue000", "ö": "\ue001", "ü": "\ue002"})  # private use: fold() keeps them
_MARKS_SPELLED = str.maketrans({"\ue000": "ae", "\ue001": "oe", "\ue002": "ue"})
_MARKS_BARE = str.maketrans({"\ue000": "a", "\ue001": "o", "\ue002": "u"})
_MARKED_WORD = re.compile("[a-z0-9\ue000-\ue002]+")
# German compounds (compound_parts): the shortest part of a full split ("gas", "oel" in "Oelkessel"), the
# shortest head or modifier kept from a partial one, the longest word tried, and the linking letters.
COMPOUND_PART = 3
PARTIAL_PART = 5
MAX_COMPOUND = 40
_LINKS = ("", "s", "n", "en", "es")
_ENDINGS = ("n", "en", "s", "es")
# German function words are no parts worth adding ("sich"-erheitsventil, "nach"-fuellen, schl-"auch").
_GERMAN_SMALL_WORDS = (
    "aus auf auch an bei bis das dem den der des die ein eine einer fuer fur hat ist mit nach noch nicht "
    "sich ueber uber um und unter vom von vor wie wieder zu zum zur"
)
_GERMAN_FUNCTION_WORDS = frozenset(_GERMAN_SMALL_WORDS.split())

# Off (see the module doc); kept so bench/kb/en_variants.py can measure them again.
STEMMING = False
STOP_WORDS: frozenset[str] = frozenset()
_FUNCTION_WORDS = (
    "a an the and or but if then than so of to in on at by for with from into about as is are was were be "
    "been being am do does did doing have has had having i me my we our you your he she it its they them "
    "their this that these those what which who whom whose when where why how can could should would will "
    "shall may might must there here just also too very any some such"
)
ENGLISH_FUNCTION_WORDS = frozenset(_FUNCTION_WORDS.split())

# Particles that carry no meaning in a Chinese query ("吗", "的", "了"), dropped from jieba's words.
_CHINESE_PARTICLES = "的 了 吗 呢 吧 啊 是 在 和 与 或 我 你 他 她 它 我们 怎么 如何 什么 为什么"
CHINESE_STOP_TOKENS = frozenset(_CHINESE_PARTICLES.split())


def fold(text: str) -> str:
    """NFKC, case-fold and strip accents: "Café" -> "cafe", full-width "ＡＢＣ" -> "abc"."""
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFD", text)
    return decomposed if decomposed.isascii() else _NON_ASCII.sub(_strip_mark, decomposed)


_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def _strip_mark(match: re.Match[str]) -> str:
    ch = match.group()
    return "" if unicodedata.category(ch) == "Mn" else ch


def has_cjk(text: str) -> bool:
    return re.search(f"[{CJK_CHARS}]", text) is not None


def detect_language(text: str) -> Language:
    """ "zh" when at least a fifth of the letters are CJK ideographs; else the Latin-script language
    py3langid finds with some confidence (codes such as "F75" left out: they are no language's words);
    else "en", as for a text with no words, in another script, or when py3langid is not installed."""
    cjk = len(re.findall(f"[{CJK_CHARS}]", text))
    letters = sum(1 for ch in text if ch.isalpha())
    if not letters:
        return "en"
    if cjk / letters >= 0.2:
        return "zh"
    words = " ".join(w for w in _LATIN_WORD.findall(text) if not any(ch.isdigit() for ch in w))
    if not words:
        return "en"
    identifier = _language_identifier()
    if identifier is None:
        return "en"
    code, probability = identifier.classify(words[:_DETECT_CHARS])
    if probability < LANGUAGE_CONFIDENCE or code not in LATIN_LANGUAGES:
        return "en"
    language: Language = code
    return language


# Latin-script words (letters, digits, apostrophes and hyphens inside): what the identifier reads.
_LATIN_WORD = re.compile(r"[0-9A-Za-z\u00c0-\u024f]+(?:['’-][0-9A-Za-z\u00c0-\u024f]+)*")
# A few sentences decide a language; the identifier's time grows with the text (a 200 000-character body).
_DETECT_CHARS = 2000


@lru_cache(maxsize=1)
def _language_identifier() -> Any:
    """py3langid's model limited to our Latin languages, loaded once a process (~1.3 s, ~77 MB)."""
    try:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        print(
            "knowledge_base: py3langid is not installed: Latin-script text is taken as English",
            file=sys.stderr,
        )
        return None
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LATIN_LANGUAGES))
    return identifier


@lru_cache(maxsize=1)
def _stemmer() -> object:
    # PyStemmer: only for the STEMMING experiment, not a dependency
    import Stemmer  # type: ignore[import-untyped,import-not-found,unused-ignore]

    return Stemmer.Stemmer("english")


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    result: str = _stemmer().stemWord(word)  # type: ignore[attr-defined]
    return result


@lru_cache(maxsize=1)
def _jieba() -> object:
    import jieba  # type: ignore[import-untyped,import-not-found,unused-ignore]

    jieba.setLogLevel(logging.WARNING)  # it logs the dictionary load to stderr at INFO
    jieba.initialize()
    return jieba


def segment_chinese(run: str) -> list[str]:
    """jieba search-mode words of one CJK run (no bigrams)."""
    words: list[str] = _jieba().lcut_for_search(run)  # type: ignore[attr-defined]
    return words


def _english_tokens(run: str, query: bool) -> Iterator[str]:
    lowered = unicodedata.normalize("NFKC", run).casefold()
    if _UMLAUT_CHARS.search(lowered):
        # "Wärmepumpe" -> "waermepumpe", as an agent without a German keyboard types it; an article also
        # keeps the bare-vowel spelling ("warmepumpe") that a query typed without the dots always met.
        # The umlauts go through fold() as private-use marks, then become "ae" (and "a") word by word.
        marked = fold(lowered.translate(_UMLAUT_MARKS))
        folded = marked.translate(_MARKS_SPELLED)
        words = []
        for word in _MARKED_WORD.findall(marked):
            spelled = word.translate(_MARKS_SPELLED)
            words.append(spelled)
            if not query and spelled != word:
                words.append(word.translate(_MARKS_BARE))
    else:
        folded = fold(lowered)
        words = _WORD.findall(folded)
    for word in words:
        if word not in STOP_WORDS:
            yield stem(word) if STEMMING else word
    for letters, digits in _CODE.findall(folded):
        joined = letters + digits
        if joined not in folded.split():  # already a token as typed
            yield joined


def _chinese_tokens(run: str) -> Iterator[str]:
    for word in segment_chinese(run):
        if word not in CHINESE_STOP_TOKENS:
            yield word
    # Single characters and bigrams catch what segmentation splits differently in query and article
    # ("不加热" / "加热不够"); on bench/kb_zh they lifted NDCG@10 from 0.876 (words only) to 0.935.
    # Bigrams carry a "#" so a two-character jieba word and the same bigram are separate terms.
    yield from run
    for i in range(len(run) - 1):
        yield "#" + run[i : i + 2]


def analyze(text: str, *, query: bool = False) -> list[str]:
    """The index tokens of ``text`` (order kept, repeats kept: BM25 counts them); with ``query`` the
    tokens of a query, which differ only in one thing: a word with an umlaut gives its "ae" spelling
    alone, where an article's also gives the bare-vowel one ("läuft": "laeuft"; "laeuft", "lauft")."""
    tokens: list[str] = []
    for cjk_run, other_run in _RUNS.findall(text):
        if cjk_run:
            tokens.extend(_chinese_tokens(cjk_run))
        else:
            tokens.extend(_english_tokens(other_run, query))
    return tokens


def compound_parts(word: str, words: Container[str]) -> list[str]:
    """The parts of a German compound that are themselves known ``words`` (the German articles' own
    words, KnowledgeIndex): "umwaelzpumpe" -> ["pumpe"], "fehlercode" -> ["fehler", "code"],
    "heizungsanlage" -> ["heizung", "anlage"], "waermepumpen" -> ["waerme", "pumpe"]; [] for a word
    that is not one.

    A split into the fewest known parts of COMPOUND_PART letters or more, with a linking "s", "n", "en" or
    "es" allowed between two ("Heizung-s-anlage") and a plural or genitive ending after the last; each
    part is split again ("waermepumpenstoerung" gives "waermepumpe", "stoerung", "waerme", "pumpe"). A
    word with no full split gives its longest known head and its longest known modifier (each of
    PARTIAL_PART letters or more, leaving as many), since the rest is often no word of its own
    ("umwaelz"-pumpe). German function words are never added as parts ("sich"-erheitsventil).
    """
    return _parts(word, words, {}, {})


def compound_table(words: Collection[str]) -> dict[str, list[str]]:
    """compound_parts of every one of ``words`` that has parts, against ``words`` themselves (what an
    index build needs: one memo for every word, since a compound's parts are often other compounds)."""
    memo: dict[str, list[str] | None] = {}
    done: dict[str, list[str]] = {}
    return {word: found for word in words if (found := _parts(word, words, memo, done))}


def _parts(
    word: str, words: Container[str], memo: dict[str, list[str] | None], done: dict[str, list[str]]
) -> list[str]:
    if word in done:
        return done[word]
    found: list[str] = []
    if 2 * COMPOUND_PART <= len(word) <= MAX_COMPOUND and word.isalpha():
        parts = _split(word, words, memo)
        if parts is None or len(parts) < 2:
            n = len(word)
            head = next(
                (word[i:] for i in range(PARTIAL_PART, n - PARTIAL_PART + 1) if word[i:] in words), None
            )
            modifier = next(
                (word[:i] for i in range(n - PARTIAL_PART, PARTIAL_PART - 1, -1) if word[:i] in words), None
            )
            parts = [p for p in (modifier, head) if p is not None]
        for part in parts:
            for p in (part, *_parts(part, words, memo, done)):
                if p not in found and p != word and p not in _GERMAN_FUNCTION_WORDS:
                    found.append(p)
    done[word] = found
    return found


def _split(word: str, words: Container[str], memo: dict[str, list[str] | None]) -> list[str] | None:
    """The fewest known parts that spell ``word`` (links between them), or None."""
    if word in memo:
        return memo[word]
    best: list[str] | None = [word] if word in words else None
    if best is None:  # a plural or genitive ending on the last part: "...pumpen", "...kessels"
        stem = next(
            (word[: -len(e)] for e in _ENDINGS if word.endswith(e) and word[: -len(e)] in words), None
        )
        best = None if stem is None or len(stem) < COMPOUND_PART else [stem]
    for i in range(COMPOUND_PART, len(word) - COMPOUND_PART + 1):
        first = word[:i]
        if first not in words:
            continue
        for link in _LINKS:
            rest = word[i + len(link) :]
            if len(rest) < COMPOUND_PART or not word.startswith(link, i):
                continue
            tail = _split(rest, words, memo)
            if tail is not None and (best is None or len(tail) + 1 < len(best)):
                best = [first, *tail]
    memo[word] = best
    return best


def joined_compounds(tokens: Sequence[str], words: Container[str]) -> list[str]:
    """Compounds a query typed as two words ("Fehler Code", "Heizung Anlage"): each adjacent pair joined,
    bare or with a linking "s", "n", "en", "es", when that is one of the known ``words``."""
    found: list[str] = []
    for first, second in itertools.pairwise(tokens):
        if first.isalpha() and second.isalpha():
            for link in _LINKS:
                joined = first + link + second
                if joined in words and joined not in found:
                    found.append(joined)
    return found


def baseline_tokens(text: str) -> list[str]:
    """Plain lower-cased word tokens: the BM25 baseline of the eval command, nothing more."""
    return re.findall(r"\w+", text.lower())
