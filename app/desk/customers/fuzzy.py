"""Near spellings of a caller's name: the words of every stored name key, and the closest of them.

The desk search is exact (folded keys, prefixes, words anywhere); a typo ("Johanes", "Webr") found
nothing. When it finds little, the search asks this vocabulary which stored words lie within a few
edits of each typed word, and looks those words up with its ordinary indexed lookups.

The vocabulary is per process and per database: loaded on the first fuzzy search (one scan of the
account and contact name keys), added to by the flush hook whenever this process writes a name,
and reloaded in a background thread once it is `RELOAD_AFTER` seconds old (the searches meanwhile
use the old one), so names other processes wrote (or the bulk seed) join it by then. A word that is
gone stays in it until the reload: harmless, it just finds no row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import process
from rapidfuzz.distance import OSA
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from app.models import Account, Contact

log = logging.getLogger(__name__)

RELOAD_AFTER = 300.0  # seconds: names written by other processes are matched fuzzily after this
MIN_WORD = 4  # shorter words are matched exactly: one edit away from "haas" lies half the alphabet
PER_WORD = 3  # stored spellings tried per typed word (the closest ones)
COMBINATIONS = 9  # spellings of a multi-word query tried at most (the product of the per-word choices)
AFFIX = 6  # longest head and tail a word is filed under


def max_edits(word: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) tolerated in a word of this length."""
    if len(word) < MIN_WORD:
        return 0
    return 1 if len(word) <= 7 else 2


def distance(word: str, token: str, cutoff: int) -> int:
    """Edit distance, or `cutoff + 1` when it is larger than `cutoff` (the scan stops early)."""
    return int(OSA.distance(word, token, score_cutoff=cutoff))


def _pieces(word: str, cutoff: int) -> tuple[str, str]:
    """A head and a tail of `word` such that every word within `cutoff` edits (OSA) starts with the
    head or ends with the tail, for one edit; for two, unless the two edits sit one in each end.

    One edit touches one position (or two neighbours, a swap): with the head ending at `a` and the
    tail starting at `a + 1`, no edit can spoil both. Two edits spoil both only when one lands
    before `a` and the other from `b` on: a slip at each end of a long word, not looked for.
    """
    half = len(word) // 2
    a, b = (half, half + 1) if cutoff == 1 else (half - 1, half + 1)
    return word[:a][:AFFIX], word[b:][-AFFIX:]


@dataclass
class _Vocabulary:
    """Every word filed under its first and last 1–AFFIX letters: a typed word is compared only with
    the words that share its head or its tail (`_pieces`) and have about its length."""

    loaded_at: float
    heads: dict[str, list[str]] = field(default_factory=dict)
    tails: dict[str, list[str]] = field(default_factory=dict)
    known: set[str] = field(default_factory=set)
    reloading: bool = False
    learned: list[str] = field(default_factory=list)  # while reloading: handed on to the new one

    def add(self, tokens: Iterable[str]) -> None:
        for token in tokens:
            if token in self.known:
                continue
            self.known.add(token)
            if self.reloading:
                self.learned.append(token)
            for i in range(1, min(AFFIX, len(token)) + 1):
                self.heads.setdefault(token[:i], []).append(token)
                self.tails.setdefault(token[-i:], []).append(token)

    def near(self, word: str, cutoff: int) -> list[str]:
        head, tail = _pieces(word, cutoff)
        both = (*self.heads.get(head, ()), *self.tails.get(tail, ()))
        return list({t for t in both if abs(len(t) - len(word)) <= cutoff})


_lock = threading.Lock()
_vocabularies: dict[str, _Vocabulary] = {}


def tokens(key: str, trim: str = ".,;:!?*\"'`()[]") -> list[str]:
    """The words of a folded name key worth a fuzzy match (as long as a typed word can be, less an edit)."""
    return [w for w in (t.strip(trim) for t in key.split()) if len(w) >= MIN_WORD - 1]


def learn(key: str) -> None:
    """A name key this process wrote (the flush hook): its words are matched from now on."""
    words = tokens(key)
    with _lock:
        for vocabulary in _vocabularies.values():
            vocabulary.add(words)


def _load(session: Session) -> _Vocabulary:
    fresh = _Vocabulary(loaded_at=time.monotonic())
    for column in (Account.name_search, Contact.name_search):
        for (key,) in session.execute(select(column).where(column.is_not(None))).yield_per(5000):
            fresh.add(tokens(key))
    return fresh


def _reload(engine: Engine, url: str, stale: _Vocabulary) -> None:
    """Load the vocabulary anew beside the one in use, then swap: no search waits for a reload."""
    try:
        with Session(engine) as session:
            fresh = _load(session)
    except Exception:  # the database is away: keep the stale one, try again on a later search
        log.warning("customer name vocabulary: reload failed", exc_info=True)
        stale.reloading = False
        return
    with _lock:
        fresh.add(stale.learned)  # written by this process while the scan ran
        _vocabularies[url] = fresh


def _vocabulary(session: Session) -> _Vocabulary:
    bind = session.get_bind()  # a Connection in tests, an Engine in the app
    url = str(bind.engine.url)
    with _lock:
        vocabulary = _vocabularies.get(url)
        stale = vocabulary is not None and time.monotonic() - vocabulary.loaded_at >= RELOAD_AFTER
        if vocabulary is not None and stale and not vocabulary.reloading:
            vocabulary.reloading = True
            threading.Thread(
                target=_reload, args=(bind.engine, url, vocabulary), name="customer-vocabulary", daemon=True
            ).start()
    if vocabulary is not None:
        return vocabulary
    fresh = _load(session)  # the process's first fuzzy search loads it (its session sees its writes)
    with _lock:
        return _vocabularies.setdefault(url, fresh)


def forget() -> None:
    """Drop every loaded vocabulary (tests that write around the ORM)."""
    with _lock:
        _vocabularies.clear()


@dataclass(frozen=True)
class Spelling:
    words: tuple[str, ...]  # one stored word (or the typed one, when short) per typed word
    edits: int  # summed over the words


def spellings(session: Session, words: Sequence[str]) -> list[Spelling]:
    """Stored spellings of the typed words, closest first; none when no word can be corrected.

    Each word of `MIN_WORD` letters or more is compared (C code, with a cutoff) with the stored words
    of about its length that share its head or its tail; shorter words are kept as typed.
    """
    if not any(max_edits(w) for w in words):
        return []
    vocabulary = _vocabulary(session)
    choices: list[list[tuple[str, int]]] = []
    for word in words:
        cutoff = max_edits(word)
        if not cutoff:
            choices.append([(word, 0)])
            continue
        found = process.extract(
            word, vocabulary.near(word, cutoff), scorer=OSA.distance, score_cutoff=cutoff, limit=PER_WORD
        )
        near = sorted(((token, int(score)) for token, score, _ in found), key=lambda c: (c[1], c[0]))
        if not near:
            return []  # this word is like no stored word: no name holds all of them
        choices.append(near)
    combos = [Spelling((), 0)]
    for options in choices:
        combos = [Spelling((*c.words, w), c.edits + d) for c in combos for w, d in options]
        combos = sorted(combos, key=lambda c: (c.edits, c.words))[:COMBINATIONS]
    return [c for c in combos if c.edits > 0]
