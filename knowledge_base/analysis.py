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
and Dutch text gets the same folded words and codes, and the multilingual encoder does the rest.
``detect_language`` tells Chinese from the Latin-script languages by script, and those apart with
py3langid (docs/knowledge_base.md, "Language").
"""

from __future__ import annotations

import logging
import re
import sys
import unicodedata
from collections.abc import Iterator
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
ANALYSIS_VERSION = 1

# CJK Unified Ideographs, extension A and compatibility ideographs: what jieba segments.
CJK_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(f"([{CJK_CHARS}]+)|([^{CJK_CHARS}]+)")
_WORD = re.compile(r"[a-z0-9]+")
# A code like "E-04", "e 4", "F.28": letters then digits split by one separator.
_CODE = re.compile(r"\b([a-z]{1,3})[-_ ./]?(\d{1,4})\b")

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
    return "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")


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


def _english_tokens(run: str) -> Iterator[str]:
    folded = fold(run)
    for word in _WORD.findall(folded):
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


def analyze(text: str) -> list[str]:
    """The index/query tokens of ``text`` (order kept, repeats kept: BM25 counts them)."""
    tokens: list[str] = []
    for cjk_run, other_run in _RUNS.findall(text):
        if cjk_run:
            tokens.extend(_chinese_tokens(cjk_run))
        else:
            tokens.extend(_english_tokens(other_run))
    return tokens


def baseline_tokens(text: str) -> list[str]:
    """Plain lower-cased word tokens: the BM25 baseline of the eval command, nothing more."""
    return re.findall(r"\w+", text.lower())
