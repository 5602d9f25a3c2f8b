"""Highlighted snippets: which words of an article match the query, and the best short window of it.

A word is a hit when its analysed tokens meet the query's (so "E-04" lights up for "e04", and "Wärmepumpe"
for "Waermepumpe"), or one of the ``extra_terms`` the caller adds: the index passes the tokens its German
compound matching derived from the query ("Umwälzpumpe" for "Pumpe", "Fehlercode" for "Fehler Code"), so
what BM25 matched is what lights up; the whole word is marked. In Chinese a hit is any occurrence of a
query word or bigram.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Collection
from functools import lru_cache
from unicodedata import east_asian_width

from .analysis import CJK_CHARS, analyze
from .model import Snippet

SNIPPET_CHARS = 180
_LATIN_WORD = re.compile(r"[^\W_]+(?:[-./][^\W_]+)*")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")
_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_CJK_TERM = re.compile(f"#?[{CJK_CHARS}]")


@lru_cache(maxsize=100_000)
def _word_tokens(word: str) -> tuple[str, ...] | None:
    """analyze() of one Latin word, cached: a snippet analyses every word of a body, and words repeat a
    lot. None for a word holding CJK (a Latin-word match also takes ideographs): those go by run, below."""
    return None if _CJK_CHAR.search(word) else tuple(analyze(word))


class _Query:
    """A query's analysed terms, its Chinese terms to look for in CJK runs (longest first), and which
    query term each Latin word seen so far hits. One search asks for the title and snippet of every hit
    with the same query, and bodies share most words: each distinct word is analysed and tested once."""

    def __init__(self, query: str, extra_terms: frozenset[str]) -> None:
        self.terms = frozenset(analyze(query, query=True))
        # a Latin word with one of these tokens is a hit too (kept apart: the index's set can be large)
        self.extra_terms = extra_terms
        # Chinese: words and bigrams only. Single characters help ranking but would light up every "水".
        cjk = {t.lstrip("#") for t in self.terms if _CJK_TERM.match(t) and len(t.lstrip("#")) > 1}
        cjk |= {run for run in _CJK_RUN.findall(query) if len(run) == 1}  # a one-character query run
        self.cjk_terms = tuple(sorted(cjk, key=lambda t: (-len(t), t)))
        self._hit: dict[str, str] = {}  # word -> the query term it hits, "" for none

    def hit(self, word: str) -> str:
        found = self._hit.get(word)
        if found is None:
            tokens = _word_tokens(word)
            terms, extra = self.terms, self.extra_terms
            if tokens is None:
                found = ""
            elif extra:
                found = next((t for t in tokens if t in terms or t in extra), "")
            else:
                found = next((t for t in tokens if t in terms), "")
            if len(self._hit) < 50_000:  # bounded: a query lives for one request's snippets
                self._hit[word] = found
        return found


@lru_cache(maxsize=64)
def _query(query: str, extra_terms: frozenset[str]) -> _Query:
    return _Query(query, extra_terms)


def _hit_spans(text: str, query: str, extra_terms: Collection[str]) -> list[tuple[int, int, str]]:
    """(start, end, matched term) for every hit in ``text``, sorted, not overlapping."""
    q = _query(query, frozenset(extra_terms))  # (a frozenset passed in is used as it is: no copy)
    if not q.terms and not q.extra_terms:
        return []
    spans: list[tuple[int, int, str]] = []
    hit = q.hit
    for match in _LATIN_WORD.finditer(text):
        term = hit(match.group())
        if term:
            spans.append((*match.span(), term))
    cjk_terms = q.cjk_terms
    for run in _CJK_RUN.finditer(text):
        covered = [""] * len(run.group())
        for term in cjk_terms:
            start = run.group().find(term)
            while start >= 0:
                for k in range(start, start + len(term)):
                    covered[k] = covered[k] or term
                start = run.group().find(term, start + 1)
        k = 0
        while k < len(covered):
            if covered[k]:
                j = k
                while j < len(covered) and covered[j]:
                    j += 1
                spans.append((run.start() + k, run.start() + j, covered[k]))
                k = j
            else:
                k += 1
    spans.sort()
    return spans


def _fragments(text: str, spans: list[tuple[int, int, str]], lo: int, hi: int) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    pos = lo
    for start, end, _ in spans:
        if end <= lo or start >= hi:
            continue
        start, end = max(start, lo), min(end, hi)
        if start > pos:
            out.append((text[pos:start], False))
        out.append((text[start:end], True))
        pos = end
    if pos < hi:
        out.append((text[pos:hi], False))
    return out


def highlight_all(text: str, query: str, extra_terms: Collection[str] = ()) -> Snippet:
    """The whole ``text`` (a title) with its hits marked; a word holding one of ``extra_terms`` (analysed
    tokens, as analyze() makes them) is a hit too."""
    return Snippet(tuple(_fragments(text, _hit_spans(text, query, extra_terms), 0, len(text))))


_BREAKS = re.compile(r"[\s。，；！？、]")  # Chinese has no spaces: its clauses end in these


def _last_break(text: str, lo: int, hi: int) -> int:
    """The index of the last space or Chinese clause mark in text[lo:hi], else -1."""
    found = -1
    for m in _BREAKS.finditer(text, max(lo, 0), hi):
        found = m.start()
    return found


def _chars_for_columns(text: str, columns: int) -> int:
    """How many characters of ``text`` fill about ``columns`` Latin-letter widths.

    A Chinese character is drawn about two letters wide and says about as much as a short word: a
    snippet of 180 of them was twice as long on the page as an English one and said far more.
    """
    wide = sum(1 for ch in text if east_asian_width(ch) in "WF")  # CJK and full-width punctuation
    return max(1, round(columns * len(text) / (len(text) + wide))) if text else columns


def make_snippet(
    text: str, query: str, width: int = SNIPPET_CHARS, extra_terms: Collection[str] = ()
) -> Snippet:
    """A window of about ``width`` letter widths (a Chinese character counts two) holding the most
    distinct query terms, hits marked; a word holding one of ``extra_terms`` (analysed tokens) is a hit
    too, and counts as a term of its own.

    Whitespace is collapsed first; "…" marks a cut at either end. With no hit it is the text's start.
    """
    text = " ".join(text.split())
    width = _chars_for_columns(text, width)
    spans = _hit_spans(text, query, extra_terms)
    if len(text) <= width:
        return Snippet(tuple(_fragments(text, spans, 0, len(text))))
    best_lo, best_count = 0, -1
    starts = [start for start, _, _ in spans]
    for start in starts:
        lo = max(0, start - width // 5)  # a little context before the first hit
        # The spans inside [lo, lo + width]: sorted by start, so from the first at or after lo until one
        # starts past the end (a body with a common query word has dozens of hits: no quadratic scan).
        first, last = bisect_left(starts, lo), bisect_right(starts, lo + width)
        count = len({term for _, e, term in spans[first:last] if e <= lo + width})
        if count > best_count:
            best_lo, best_count = lo, count
    lo = best_lo
    if lo <= 15:
        lo = 0  # so close to the start that cutting would only drop part of the first word
    else:  # start on a word (or Chinese clause) boundary when there is one close by
        space = _last_break(text, lo - 15, lo)
        lo = space + 1 if space >= 0 else lo
    hi = min(len(text), lo + width)
    if hi < len(text):
        space = _last_break(text, hi - 15, hi)
        hi = space + (text[space] != " ") if space > lo else hi  # a "。" stays, a space goes
    fragments = _fragments(text, spans, lo, hi)
    if lo > 0:
        fragments.insert(0, ("…", False))
    if hi < len(text):
        fragments.append(("…", False))
    return Snippet(tuple(fragments))
