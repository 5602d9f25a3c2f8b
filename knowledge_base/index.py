"""The search index: BM25 (bm25s) over analysed tokens, plus optional sentence embeddings, and the ranker.

Score of article d for query q (formulas and how each constant was chosen: docs/knowledge_base.md):

    lexical(d)  = BM25(q, full text of d) + BM25(q, title field of d)   # bm25s Lucene BM25, k1 1.5, b 0.75
    semantic(d) = TITLE_SHARE * cos(q, title field) + (1 - TITLE_SHARE) * cos(q, start of full text)
    base(d)     = LEXICAL_WEIGHT * lexical(d) / max_d' lexical(d') + (1 - LEXICAL_WEIGHT) * semantic(d)
    score(d)    = base(d) + boost_factor(d) * max(base(d) - median_d' base(d'), 0.01 * base(d))

The proven boost lifts only what an article scores above the query's median article: e5's cosines are
bunched (0.7-0.9 for any pair), so a boost on the whole score put one proven article above the right one
on unrelated tickets; above the median it lifts a proven article among the relevant ones only.

The model (multilingual-e5-small) embeds articles and queries in any language, English and Chinese alike.
Without the model (``mode == "bm25"``), or for a call with ``semantic=False``, the score is
``lexical * (1 + boost)``. The full-text vector reads the first EMBED_UNITS words (CJK characters) of
title + body: the encoder's cost grows with the length, and the clipped text ranked as well (measured).

German articles' compounds are indexed with their parts, and a query's compounds ask for theirs, against
the German articles' own words (``_compounds``; analysis.compound_parts). What this matches is also what
the snippets highlight and what ``shares_words`` counts (``_query_words``).

Candidates are the articles with a lexical match plus the CANDIDATES nearest by embedding; the rest follow
only when the caller asks for a full list (the eval command wants 10 ids even for a query matching none).

Updates are incremental where it costs: an article is analysed and embedded once, when added or changed
(and, with a VectorCache, not even then if the same text was embedded before); the bm25s matrices are
rebuilt from the cached tokens on the next search (a cheap, measured rebuild); a change of boost alone
patches the built index in place (no rebuild).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Literal

import bm25s  # type: ignore[import-untyped,unused-ignore]
import numpy as np
import numpy.typing as npt

from .analysis import (
    ANALYSIS_VERSION,
    CJK_CHARS,
    LANGUAGES,
    analyze,
    compound_parts,
    compound_table,
    detect_language,
    has_cjk,
    joined_compounds,
)
from .dense import RESCORED, DenseScorer
from .embedding import Encoder, Vectors, default_encoder, same_weights, weight_twins
from .model import Article, SearchHit
from .snippets import highlight_all, make_snippet
from .textclip import clip, clip_chars
from .vector_cache import VectorCache

FORMAT_VERSION = 1
# The two tuned knobs: the argmax of the mean NDCG@10 over our own sets bench/kb_en and bench/kb_zh on a
# 9 x 5 grid (bench/kb/grid.py) with the e5 encoder: w 0.02, share 0.25 (0.957 EN, 0.958 ZH). w is small
# because e5's cosines are bunched (most pairs 0.7-0.9) while the lexical part spans 0-1. Never fitted on
# covidfaq.
LEXICAL_WEIGHT = 0.02
TITLE_SHARE = 0.25
# Hits a ticket's suggestions are ordered from (by product and language, KnowledgeIndex.suggest): the
# demo's 26 articles whole; at 50 000, the 30 best by score hold what the text can find.
SUGGESTION_POOL = 30
# A proven boost lifts at least this share of an article's own score: it still decides between equals
# (two twins, both above a median they make) and is too small to lift an unrelated article (e5's
# relevant and unrelated articles lie 0.02-0.1 apart, 0.6 x 0.01 x 0.8 is 0.005).
BOOST_FLOOR = 0.01
# Rows whose median score is the reference a proven boost lifts above (sampled: exact, and ~20 us).
REFERENCE_SAMPLE = 257
CANDIDATES = 100  # nearest-by-embedding articles added to the lexical matches (not tuned: a recall margin)
# Words (or CJK characters) of title + body that the full-text vector reads. Measured with
# bench/kb/fusion.py: 64, 128, 256 and the whole text (512-token windows) rank within 0.006 NDCG@10 of
# each other on kb_en, kb_zh and covidfaq, while the cost is linear (or worse) in the length: 64 units
# take ~60 % of the CPU of the generated articles' full text (docs/knowledge_base.md).
EMBED_UNITS = 64
# ... and at most this many characters of it (12 a unit: 64 units of the benchmark sets' articles take at
# most 447, median ~360; kb_zh 80). A unit is a whitespace-separated run, so one pasted base64 image or
# 100 000 "a"s was one unit read whole: 12-48 s of encoding an article. At 768 characters such a text
# costs ~0.4 s (base64: ~0.75 model tokens a character). The title field's vector text is capped the same.
EMBED_CHARS = EMBED_UNITS * 12
PROGRESS_STEP = 50  # articles embedded between two progress calls (~2-3 s with e5 on one thread)
EMBED_BATCH = 256  # texts per encoder call when a vector cache keeps them (see _embed)
# Stored with the vectors: vectors made by another recipe (or encoder) are recomputed, not mixed.
EMBED_RECIPE = f"field+clip{EMBED_UNITS}"

# Characters of a query the ranker is given: what the app's search box, /kb/search and the ticket
# suggestions cap a query at (app/knowledge/search.py MAX_QUERY), and what the eval command cuts a query
# to, so both rank the same text. A query longer than this is pasted text, not a question.
MAX_QUERY_CHARS = 2000

# "en" 1, "zh" 2, "de" 3, ...; a language outside analysis.LANGUAGES: 0 (suggestions read it as Latin).
LANGUAGE_CODES: dict[str, int] = {code: i for i, code in enumerate(LANGUAGES, 1)}
CJK_LANGUAGE_CODES = frozenset({LANGUAGE_CODES["zh"]})

EncoderChoice = Encoder | None | Literal["auto"]
FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int32]


@dataclass(frozen=True, slots=True)
class _Analysed:
    """An article's tokens as vocabulary ids: int32 arrays, ~15x smaller than lists of str at 50k articles."""

    full: IntArray
    field: IntArray
    # German text (its language, or detected when it has none): its compounds are split (_Compounds).
    german: bool = False


@dataclass(frozen=True, slots=True)
class _Compounds:
    """German compounds, made per build from the German articles' own words (analysis.compound_parts):
    an article's "umwaelzpumpe" is indexed with "pumpe" too, a query's "fehlercode" asks for "fehler" and
    "code" too, and a query's "fehler code" for "fehlercode". Empty when no article is German."""

    words: frozenset[str] = frozenset()  # every word of a German article
    parts: dict[str, list[str]] = field(default_factory=dict)  # compound -> its known parts
    # part -> the compounds holding it ("pumpe": "umwaelzpumpe", ...): what a query word found in a German
    # article, for its snippets and shares_words (~30 ms a build at 52 000 compounds; reused with parts)
    holders: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True)
class _QueryWords:
    """A query's own tokens, and the tokens that also count as its words in an article (``extra``): in any
    article the parts and joins ``_query_tokens`` adds ("fehlercode" for "Fehler Code"), in a German article
    also its compounds holding one of the query's tokens as a part ("umwaelzpumpe" for "Pumpe": BM25 meets
    it through the "pumpe" the article was indexed with). What the snippets mark and ``shares_words``
    counts, so both follow what BM25 matched; nothing extra without German articles."""

    tokens: list[str]
    anywhere: frozenset[str]
    holders: dict[str, list[str]]  # _Compounds.holders
    in_german: frozenset[str] | None = None  # made when a German article asks (a common part: thousands)

    def extra(self, german: bool) -> frozenset[str]:
        if not german:
            return self.anywhere
        if self.in_german is None:
            held = [self.holders[t] for t in {*self.tokens, *self.anywhere} if t in self.holders]
            self.in_german = self.anywhere.union(*held) if held else self.anywhere
        return self.in_german


@dataclass(slots=True)
class _Built:
    ids: list[str]
    full: bm25s.BM25 | None
    field: bm25s.BM25 | None
    # Over the (n, dim) matrix TITLE_SHARE * title-field vector + (1 - TITLE_SHARE) * full-text vector
    # (zeros for an article without vectors). The cosine mix is linear in q: one matrix-vector product.
    dense: DenseScorer
    boost: FloatArray
    rows: dict[str, int]
    compounds: _Compounds
    # LANGUAGE_CODES per row, made on the first ``rank(..., language=)``: an article without a language
    # has it detected from its text (~35 us each), work a build need not do when nobody filters.
    language: npt.NDArray[np.int8] | None = None


@dataclass(slots=True)
class _Scores:
    """One query's scores over every row. After the int8 dense product (large indexes), ``semantic`` and
    ``fused`` are approximations until ``_make_exact`` replaces them with the float32 ones."""

    built: _Built
    lexical: FloatArray
    fused: FloatArray
    semantic: FloatArray | None = None
    norm: FloatArray | None = None  # lexical / its maximum
    vector: Vectors | None = None
    approximate: npt.NDArray[np.bool_] | None = None  # rows whose scores are still int8 approximations
    first_pass: tuple[FloatArray, FloatArray] | None = None  # int8 semantic and fused, kept to compare alike
    reference: float = 0.0  # the median base score (sampled): a proven boost lifts what scores above it


def _language_code(article: Article) -> int:
    return LANGUAGE_CODES.get(article.language or detect_language(article.full_text), 0)


def _is_german(article: Article) -> bool:
    return (article.language or detect_language(article.full_text)) == "de"


def _holders(parts: dict[str, list[str]]) -> dict[str, list[str]]:
    """The compounds of ``parts`` by each part they hold."""
    holders: dict[str, list[str]] = {}
    for word, found in parts.items():
        for part in found:
            holders.setdefault(part, []).append(word)
    return holders


_CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_CJK_RUN = re.compile(f"[{CJK_CHARS}]+")


def _word_tokens(tokens: Iterable[str], query: str) -> list[str]:
    """The tokens that count as a word ``query`` shares with an article (``shares_words``): all but the
    single Chinese characters. Those help ranking (analysis._chinese_tokens) but are no shared word:
    "高压" (high pressure) and "电压" (voltage) share only "压". A one-character run of the query
    ("水") keeps its character, as the snippets mark it (snippets._Query)."""
    alone = {run for run in _CJK_RUN.findall(query) if len(run) == 1}
    return [t for t in tokens if len(t) != 1 or t in alone or not _CJK_CHAR.match(t)]


def _language_distance(article: int, query: int) -> int:
    """0 same language, 1 same script (German and English: Latin), 2 another script (Chinese)."""
    if article == query:
        return 0
    return 1 if (article in CJK_LANGUAGE_CODES) == (query in CJK_LANGUAGE_CODES) else 2


def _bm25(corpus: list[IntArray], vocab: dict[str, int]) -> bm25s.BM25 | None:
    """A bm25s retriever over ``corpus``, or None (every score 0) when no document has a token: articles
    whose texts are empty or only punctuation ("!!!"). bm25s cannot index those (it takes the max of an
    empty vocabulary), and there is nothing a query could match in them."""
    if not any(len(doc) for doc in corpus):
        return None
    retriever = bm25s.BM25()  # Lucene BM25, k1 1.5, b 0.75: the library defaults, not tuned
    # bm25s takes (ids per document, vocabulary); the id lists are temporary, the arrays stay.
    retriever.index(([doc.tolist() for doc in corpus], dict(vocab)), show_progress=False)
    return retriever


def _loaded_bm25(stored: dict[str, IntArray], name: str, n: int, vocab: dict[str, int]) -> bm25s.BM25:
    """A bm25s retriever around matrices saved by to_bytes (what bm25s' own load() restores)."""
    retriever = bm25s.BM25()
    retriever.scores = {
        "data": stored[f"{name}_data"],
        "indices": stored[f"{name}_indices"],
        "indptr": stored[f"{name}_indptr"],
        "num_docs": n,
    }
    retriever.vocab_dict = dict(vocab)
    retriever.nonoccurrence_array = None  # only BM25L/BM25+ use it; index() sets None for Lucene too
    return retriever


def _reference(built: _Built, norm: FloatArray, query: Vectors) -> float:
    """The query's median base score, over an even sample of REFERENCE_SAMPLE rows scored in float32:
    the same whether the dense pass was int8 or float32 (rankings must not depend on it), and cheap."""
    n = len(built.ids)
    rows = np.unique(np.linspace(0, n - 1, min(n, REFERENCE_SAMPLE)).astype(np.intp))
    return float(np.median(_base(norm[rows], built.dense.exact(rows, query))))


def _base(norm: FloatArray, semantic: FloatArray) -> FloatArray:
    """The fused score before the proven boost."""
    base: FloatArray = LEXICAL_WEIGHT * norm + (1 - LEXICAL_WEIGHT) * semantic
    return base


def _best(rows: npt.NDArray[np.intp], fused: FloatArray, limit: int) -> list[int]:
    """The ``limit`` best rows by score; a stable sort, so ties keep insertion order (reproducible).

    A common word makes most of 50 000 articles candidates, and sorting them all cost ~4 ms a search:
    only the rows scoring at least the ``limit``-th best score are sorted (a linear partition finds it).
    Every row tied with that score is kept, so the result equals the full stable sort's head.
    """
    scores = fused[rows]
    if len(rows) > 4 * limit:
        threshold = np.partition(scores, len(rows) - limit)[len(rows) - limit]
        keep = scores >= threshold
        rows, scores = rows[keep], scores[keep]
    order = np.argsort(-scores, kind="stable")[:limit]
    return [int(i) for i in rows[order]]


def _scores(retriever: bm25s.BM25 | None, token_ids: list[int], n: int) -> FloatArray:
    if retriever is None or not token_ids:
        return np.zeros(n)
    return np.asarray(retriever.get_scores_from_ids(token_ids), dtype=np.float64)


class KnowledgeIndex:
    """Articles by id with their analysed tokens and embeddings; ``search`` ranks them.

    Not thread-safe for writes: a web process builds or loads one, then only searches it (or swaps in a
    freshly loaded one when the article set's version changes).
    """

    def __init__(
        self,
        articles: Iterable[Article] = (),
        *,
        encoder: EncoderChoice = "auto",
        vector_cache: VectorCache | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> None:
        """``progress(done, total)`` is called as articles are embedded (every PROGRESS_STEP articles): a
        command embedding thousands of articles reports what it is doing (the eval command does)."""
        self._encoder: Encoder | None = default_encoder() if encoder == "auto" else encoder
        self._vector_cache = vector_cache
        self._progress = progress
        self.builds = 0  # BM25 builds (tests check that a boost change makes none)
        self._articles: dict[str, Article] = {}
        self._vocab: dict[str, int] = {}  # only grows; ids of tokens no article uses any more are harmless
        self._analysed: dict[str, _Analysed] = {}
        self._vectors: dict[str, Vectors] = {}  # id -> (2, dim): title field, full text
        self._built: _Built | None = None
        # the last build's German compounds, reused while the German words stay the same
        self._last_compounds: _Compounds | None = None
        self.upsert_many(articles)

    # -- the article set ---------------------------------------------------------------------------------
    @property
    def mode(self) -> Literal["hybrid", "bm25"]:
        """ "hybrid" with the embedding model, "bm25" when it is absent (flagged, still works)."""
        return "bm25" if self._encoder is None else "hybrid"

    @property
    def encoder_name(self) -> str | None:
        return None if self._encoder is None else self._encoder.name

    def __len__(self) -> int:
        return len(self._articles)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._articles

    def get(self, article_id: str) -> Article | None:
        return self._articles.get(article_id)

    def ids(self) -> list[str]:
        return list(self._articles)

    def upsert(self, article: Article) -> None:
        self.upsert_many([article])

    def upsert_many(self, articles: Iterable[Article]) -> None:
        """Add or replace articles; only new or changed ones are analysed and embedded.

        An article whose text is unchanged (only its boost or language differ) is patched into the built
        index in place: a vote on a proven article costs no BM25 rebuild.
        """
        changed = [a for a in articles if self._articles.get(a.id) != a]
        if not changed:
            return
        # A later duplicate id in the same batch wins, as it would with one upsert after another.
        latest = {a.id: a for a in changed}
        text_changed = False
        for article in latest.values():
            old = self._articles.get(article.id)
            self._articles[article.id] = article
            if old is not None and (old.full_text, old.field_text) == (article.full_text, article.field_text):
                german = _is_german(article)
                if german != self._analysed[article.id].german:  # compounds split or no longer: rebuild
                    self._analysed[article.id] = replace(self._analysed[article.id], german=german)
                    self._built = None
                if self._built is not None:
                    row = self._built.rows[article.id]
                    self._built.boost[row] = article.boost_factor
                    if self._built.language is not None:
                        self._built.language[row] = _language_code(article)
                continue  # only the boost (or language flag) changed: tokens and vectors still hold
            text_changed = True
            self._analysed[article.id] = self._analyse(article)
            self._vectors.pop(article.id, None)
        if text_changed:
            self._embed_missing()
            self._built = None

    def set_boosts(self, boosts: dict[str, float]) -> int:
        """Change proven-article boosts only (ids not in the index are ignored); no rebuild, no
        re-embedding. Returns how many articles changed."""
        updated = [
            replace(article, boost_factor=factor)
            for article_id, factor in boosts.items()
            if (article := self._articles.get(article_id)) is not None and article.boost_factor != factor
        ]
        self.upsert_many(updated)
        return len(updated)

    def _token_ids(self, tokens: list[str]) -> IntArray:
        vocab = self._vocab
        return np.fromiter(
            (vocab.setdefault(t, len(vocab)) for t in tokens), dtype=np.int32, count=len(tokens)
        )

    def _analyse(self, article: Article) -> _Analysed:
        return _Analysed(
            self._token_ids(analyze(article.full_text)),
            self._token_ids(analyze(article.field_text)),
            _is_german(article),
        )

    def remove(self, article_id: str) -> bool:
        if article_id not in self._articles:
            return False
        del self._articles[article_id]
        del self._analysed[article_id]
        self._vectors.pop(article_id, None)
        self._built = None
        return True

    def _embed_missing(self) -> None:
        if self._encoder is None:
            return
        todo = [a for a in self._articles.values() if a.id not in self._vectors]
        if not todo:
            return
        # With a progress callback, in steps (each text is encoded on its own: the steps change nothing).
        step = len(todo) if self._progress is None else PROGRESS_STEP
        for start in range(0, len(todo), step):
            part = todo[start : start + step]
            field = self._embed([embedded_field(a) for a in part], "field")
            full = self._embed([embedded_text(a) for a in part], "full")
            for i, article in enumerate(part):
                self._vectors[article.id] = np.stack([field[i], full[i]])
            if self._progress is not None:
                self._progress(start + len(part), len(todo))

    def _embed(self, texts: list[str], kind: str) -> Vectors:
        """Passage vectors of ``texts``: from the vector cache where it has them, the rest encoded in one
        batch (and stored)."""
        assert self._encoder is not None
        if self._vector_cache is None:
            return self._encoder.encode(texts)
        namespace = f"{self._encoder.name}|{EMBED_RECIPE}|{kind}"
        found = self._vector_cache.get_many(namespace, texts)
        for twin in weight_twins(self._encoder.name):  # the same weights run by another engine
            missing = [i for i, v in enumerate(found) if v is None]
            if not missing:
                break
            for i, vector in zip(
                missing,
                self._vector_cache.get_many(f"{twin}|{EMBED_RECIPE}|{kind}", [texts[i] for i in missing]),
                strict=True,
            ):
                found[i] = vector
        todo = [i for i, v in enumerate(found) if v is None]
        # In batches, each stored as soon as it is made: a first build of 50 000 articles takes hours,
        # and one that is stopped resumes where it was instead of starting over.
        for start in range(0, len(todo), EMBED_BATCH):
            part = todo[start : start + EMBED_BATCH]
            fresh = self._encoder.encode([texts[i] for i in part])
            self._vector_cache.put_many(namespace, [texts[i] for i in part], fresh)
            for row, i in enumerate(part):
                found[i] = fresh[row]
        return np.stack([v for v in found if v is not None])

    def _build(
        self,
        matrices: dict[str, bm25s.BM25 | None] | None = None,
        stored_compounds: dict[str, list[str]] | None = None,
    ) -> _Built:
        """The search structures; ``matrices`` are BM25 matrices loaded with a persisted index, and
        ``stored_compounds`` its German compounds."""
        if self._built is not None:
            return self._built
        if not matrices:
            self.builds += 1
        ids = list(self._articles)
        dim = next((v.shape[1] for v in self._vectors.values()), 0)
        vec_mix = np.zeros((len(ids), dim), dtype=np.float32)
        for row, article_id in enumerate(ids):
            vectors = self._vectors.get(article_id)
            if vectors is not None:
                vec_mix[row] = TITLE_SHARE * vectors[0] + (1 - TITLE_SHARE) * vectors[1]
        compounds, split = self._compounds(ids, stored_compounds)
        self._built = _Built(
            ids=ids,
            full=matrices["full"]
            if matrices
            else _bm25([split(self._analysed[i], "full") for i in ids], self._vocab),
            field=matrices["field"]
            if matrices
            else _bm25([split(self._analysed[i], "field") for i in ids], self._vocab),
            dense=DenseScorer(vec_mix),
            boost=np.array([self._articles[i].boost_factor for i in ids], dtype=np.float64),
            rows={article_id: row for row, article_id in enumerate(ids)},
            compounds=compounds,
        )
        return self._built

    def _compounds(
        self, ids: list[str], stored: dict[str, list[str]] | None = None
    ) -> tuple[_Compounds, Callable[[_Analysed, str], IntArray]]:
        """The German articles' words and compounds (``stored``: as persisted with the index), and a
        function giving an article's tokens with the parts of its compounds added (German articles only).
        The compounds are kept for the next build while the German words stay the same (a boost, a
        language or an English article changed): splitting every German word is most of a build's cost."""
        german = [self._analysed[i] for i in ids if self._analysed[i].german]
        if not german:
            return _Compounds(), lambda analysed, name: getattr(analysed, name)
        used = np.unique(np.concatenate([a for g in german for a in (g.full, g.field)]))
        spelled = list(self._vocab)
        words = frozenset(spelled[i] for i in used.tolist())
        last = self._last_compounds
        if stored is None and last is not None and last.words == words:
            compounds = last
        else:
            parts = stored if stored is not None else compound_table(words)
            compounds = _Compounds(words, parts, _holders(parts))
        self._last_compounds = compounds
        parts = compounds.parts
        vocab = self._vocab
        made: list[tuple[dict[int, list[int]], npt.NDArray[np.bool_]]] = []  # on the first split only

        def split(analysed: _Analysed, name: str) -> IntArray:
            tokens: IntArray = getattr(analysed, name)
            if not analysed.german:
                return tokens
            if not made:  # (a loaded index splits nothing: its matrices were saved split)
                by_id = {vocab[word]: [vocab[p] for p in found] for word, found in parts.items()}
                is_compound = np.zeros(len(vocab), dtype=bool)
                is_compound[list(by_id)] = True
                made.append((by_id, is_compound))
            part_ids, is_compound = made[0]
            extra: list[int] = []
            for k in np.flatnonzero(is_compound[tokens]).tolist():
                # an umlaut word's bare spelling follows it ("waermepumpe", "warmepumpe"): "pumpe" once
                previous = part_ids.get(int(tokens[k - 1]), []) if k else []
                extra += [p for p in part_ids[int(tokens[k])] if p not in previous]
            return np.concatenate([tokens, np.array(extra, dtype=np.int32)]) if extra else tokens

        return compounds, split

    def _query_tokens(self, built: _Built, query: str) -> tuple[list[str], list[str]]:
        """A query's analysed words, and the tokens the index adds with German articles in it: the parts
        of its compounds (known ones, or split now when the index lacks the word) and the compounds its
        adjacent words spell."""
        tokens = analyze(query, query=True)
        compounds = built.compounds
        extra: list[str] = []
        if compounds.words:
            for token in tokens:
                found = compounds.parts.get(token)
                if found is None and token not in self._vocab:
                    found = compound_parts(token, compounds.words)
                extra += found or ()
            extra += joined_compounds(tokens, compounds.words)
        return tokens, extra

    def _query_ids(self, built: _Built, query: str) -> list[int]:
        """A query's token ids (``_query_tokens``: its words, then what the index adds)."""
        tokens, extra = self._query_tokens(built, query)
        return [self._vocab[t] for t in (*tokens, *extra) if t in self._vocab]

    def _query_words(self, built: _Built, query: str) -> _QueryWords:
        """A query's tokens and the ones that also count as its words in an article (_QueryWords)."""
        tokens, extra = self._query_tokens(built, query)
        return _QueryWords(tokens, frozenset(extra), built.compounds.holders)

    def rebuild(self) -> None:
        """Build the BM25 matrices now (otherwise the next search does)."""
        self._built = None
        self._build()

    # -- ranking -----------------------------------------------------------------------------------------
    def uses_semantic(self, query: str, semantic: bool = True) -> bool:
        """Whether the embedding model takes part for this query (asked for, a model, embedded articles,
        some text)."""
        return semantic and self._encoder is not None and bool(self._vectors) and bool(query.strip())

    def encode_queries(self, queries: Sequence[str]) -> dict[str, Vectors]:
        """Query vectors in one batch (the eval command ranks many queries; batching is ~5x faster)."""
        texts = sorted({q for q in queries if self.uses_semantic(q)})
        if self._encoder is None or not texts:
            return {}
        return dict(zip(texts, self._encoder.encode(texts, query=True), strict=True))

    def _score(self, query: str, query_vector: Vectors | None, semantic_on: bool = True) -> _Scores:
        built = self._build()
        n = len(built.ids)
        token_ids = self._query_ids(built, query)
        lexical = _scores(built.full, token_ids, n) + _scores(built.field, token_ids, n)
        top = float(lexical.max()) if n else 0.0
        scored = _Scores(built, lexical, lexical * (1 + built.boost))
        if (
            self._encoder is not None
            and built.dense.matrix.shape[1]
            and self.uses_semantic(query, semantic_on)
        ):
            q = self._encoder.encode([query], query=True)[0] if query_vector is None else query_vector
            scored.vector = q
            scored.norm = lexical / top if top > 0 else lexical
            scored.semantic = built.dense.scores(q)
            if built.dense.approximate:
                scored.approximate = np.ones(n, dtype=bool)
            if built.boost.any():
                scored.reference = _reference(built, scored.norm, q)
            scored.fused = self._fuse(built, scored, scored.semantic, slice(None))
            if built.dense.approximate:
                # Short lists are picked by these first-pass values, not by a mix of rows made exact
                # and rows still approximate: in a bunched region the int8 error outweighs the gaps,
                # and a row made exact early lost its place to approximations (a deep fill missed one).
                scored.first_pass = (scored.semantic.copy(), scored.fused.copy())
        return scored

    @staticmethod
    def _fuse(
        built: _Built, scored: _Scores, semantic: FloatArray, rows: slice | npt.NDArray[np.intp]
    ) -> FloatArray:
        assert scored.norm is not None
        base = _base(scored.norm[rows], semantic)
        fused: FloatArray = base + built.boost[rows] * np.maximum(base - scored.reference, BOOST_FLOOR * base)
        return fused

    def _make_exact(self, scored: _Scores, rows: npt.NDArray[np.intp]) -> None:
        """Replace the int8 approximations of ``rows`` by the float32 scores (no-op when already exact)."""
        if scored.approximate is None or scored.semantic is None or scored.vector is None:
            return
        rows = rows[scored.approximate[rows]]
        if len(rows) and scored.norm is not None:
            exact = scored.built.dense.exact(rows, scored.vector)
            scored.semantic[rows] = exact
            scored.fused[rows] = self._fuse(scored.built, scored, exact, rows)
            scored.approximate[rows] = False

    def _short_list(
        self, scored: _Scores, rows: npt.NDArray[np.intp], limit: int, *, by_semantic: bool = False
    ) -> npt.NDArray[np.intp]:
        """``rows`` with float32 scores, or, after an int8 pass, the best ``limit + RESCORED`` of them by
        fused (or semantic) score, rescored with float32 (in row order, so ties stay stable)."""
        if scored.approximate is not None and scored.semantic is not None and len(rows) > limit + RESCORED:
            assert scored.first_pass is not None
            values = scored.first_pass[0] if by_semantic else scored.first_pass[1]
            keep = limit + RESCORED
            rows = np.sort(rows[np.argpartition(-values[rows], keep - 1)[:keep]])
        self._make_exact(scored, rows)
        return rows

    def rank(
        self,
        query: str,
        limit: int = 10,
        *,
        fill: bool = False,
        query_vector: Vectors | None = None,
        semantic: bool = True,
        language: str | None = None,
    ) -> list[SearchHit]:
        """The best ``limit`` candidates, best first, without snippets.

        With ``fill`` the list is topped up with non-candidates (by the same score) up to ``limit``.
        ``query_vector`` is the query's embedding when the caller batched it (:meth:`encode_queries`).
        ``semantic=False`` skips the encoder for this call (BM25 x boost only, as in ``mode == "bm25"``):
        for latency-bound callers such as suggestions while an agent types. ``language`` ("en", "zh",
        "de", ...) keeps only that language's articles (a detected one when an article has none).
        """
        scored = self._score(query, query_vector, semantic)
        n = len(scored.built.ids)
        if n == 0 or limit <= 0:
            return []
        candidate = scored.lexical > 0
        if scored.semantic is not None:
            k = min(CANDIDATES, n)
            near = self._short_list(scored, np.arange(n), k, by_semantic=True)
            candidate[near[np.argpartition(-scored.semantic[near], k - 1)[:k]]] = True
        allowed = (
            None if language is None else self._languages(scored.built) == LANGUAGE_CODES.get(language, -1)
        )
        if allowed is not None:
            candidate &= allowed
        rows = self._short_list(scored, np.flatnonzero(candidate), limit)
        chosen = _best(rows, scored.fused, limit)
        if fill and len(chosen) < limit:
            others = ~candidate if allowed is None else ~candidate & allowed
            rest = self._short_list(scored, np.flatnonzero(others), limit - len(chosen))
            chosen += _best(rest, scored.fused, limit - len(chosen))
        return [
            SearchHit(
                article_id=scored.built.ids[i],
                score=float(scored.fused[i]),
                lexical_score=float(scored.lexical[i]),
                semantic_score=None if scored.semantic is None else float(scored.semantic[i]),
            )
            for i in chosen
        ]

    def _languages(self, built: _Built) -> npt.NDArray[np.int8]:
        if built.language is None:
            built.language = np.array([_language_code(self._articles[i]) for i in built.ids], dtype=np.int8)
        return built.language

    def search(
        self, query: str, limit: int = 5, *, semantic: bool = True, language: str | None = None
    ) -> list[SearchHit]:
        """``rank`` plus a highlighted title and body snippet for each hit. A Chinese query's hits have
        ``shares_words`` decided by words and bigrams (``_word_tokens``): BM25 scores single characters
        too, so ``lexical_score > 0`` alone said "高压" shared a word with every "电压" article."""
        hits = self.rank(query, limit, semantic=semantic, language=language)
        if has_cjk(query):
            hits = self._mark_shared(self._build(), query, hits)
        return self._with_snippets(query, hits)

    def _with_snippets(
        self, query: str, hits: Iterable[SearchHit], body_query: str | None = None
    ) -> list[SearchHit]:
        """The hits with a highlighted title and snippet: the query's words marked, and the German
        compound matches BM25 made (``_query_words``). ``body_query``: what places the snippet's
        window, when that is not the whole query (a ticket's suggestions: see ``suggest``)."""
        built = self._build()
        body_query = query if body_query is None else body_query
        # without German articles nothing is derived: the query is not analysed a second time
        words = self._query_words(built, query) if built.compounds.words else None
        body_words = words if body_query == query or words is None else self._query_words(built, body_query)
        out = []
        for hit in hits:
            article = self._articles[hit.article_id]
            german = self._analysed[hit.article_id].german
            extra = words.extra(german) if words else frozenset()
            body_extra = body_words.extra(german) if body_words else frozenset()
            out.append(
                replace(
                    hit,
                    title=highlight_all(article.title, query, extra),
                    snippet=make_snippet(article.body, body_query, extra_terms=body_extra),
                )
            )
        return out

    def suggest(
        self,
        subject: str,
        description: str = "",
        *,
        product_model: str | None = None,
        related_models: Collection[str] = (),
        fault_code: str | None = None,
        set_aside: Collection[str] = (),
        limit: int = 5,
        semantic: bool = True,
    ) -> list[SearchHit]:
        """Articles for a ticket: its subject, description, asset model and fault code as one query.

        The model and code go in as words, so they meet an article's ``product_models``/``fault_codes``
        (indexed in its title field) and a typed "E-04" still finds "E04".

        The best SUGGESTION_POOL hits are then put in this order, each group by score:
        1. articles for the ticket's product: naming ``product_model`` or one of ``related_models`` (the
           app passes the models of the same category), or naming no model at all (general articles);
        2. articles that name only other products: e5 finds any "unit fails with an alarm" text alike,
           and put a generator article on a chiller ticket;
        and within each, the articles in the query's language first, then those in the same script (a
        German ticket: German articles, then English, French, ... ones; an agent reading German does not
        read Chinese, the Chinese article stays reachable below). ``set_aside`` (the articles the agent
        marked "not helpful" on this ticket) follow the ``limit`` others, so the list keeps them, marked
        by the page, instead of letting them fall off its end.
        """
        query = suggestion_query(subject, description, product_model, fault_code)
        pool = self.rank(query, max(limit + len(set_aside), SUGGESTION_POOL), semantic=semantic)
        ours = {m.strip().upper() for m in (product_model or "", *related_models) if m.strip()}
        aside = set(set_aside)
        built = self._build()
        languages, rows = self._languages(built), built.rows
        query_language = LANGUAGE_CODES.get(detect_language(query), 0)

        def order(hit: SearchHit) -> tuple[bool, int]:
            article = self._articles[hit.article_id]
            names = {m.strip().upper() for m in article.product_models}
            other_product = bool(ours and names) and not names & ours
            return other_product, _language_distance(int(languages[rows[hit.article_id]]), query_language)

        ordered = sorted((h for h in pool if h.article_id not in aside), key=order)  # stable: by score
        chosen = ordered[:limit] + [h for h in pool if h.article_id in aside]
        chosen = self._mark_shared(built, f"{subject} {description}", chosen)
        # The snippet shows what matches the problem: the asset's model code, in every suggestion's
        # query, drew each window to the one sentence that lists model codes ("note the model (CH-30XW,
        # CH-EWAD, CH-RTAF) …"), the same boilerplate under every suggestion. The title still marks it.
        problem = suggestion_query(subject, description, None, fault_code)
        return self._with_snippets(query, chosen, body_query=problem if problem.strip() else query)

    def _mark_shared(self, built: _Built, typed_text: str, hits: list[SearchHit]) -> list[SearchHit]:
        """``hits`` with ``shares_words``: whether each holds a word of ``typed_text`` (``_word_tokens``),
        or one of the German compound matches (a part, a join) BM25 makes for it."""
        words = self._query_words(built, typed_text)
        typed: dict[bool, set[int]] = {}  # by German article or not
        for german in {self._analysed[h.article_id].german for h in hits}:
            tokens = _word_tokens((*words.tokens, *words.extra(german)), typed_text)
            typed[german] = {self._vocab[t] for t in tokens if t in self._vocab}
        return [
            replace(h, shares_words=self._holds_any(h.article_id, typed[self._analysed[h.article_id].german]))
            for h in hits
        ]

    def _holds_any(self, article_id: str, token_ids: set[int]) -> bool:
        analysed = self._analysed[article_id]
        return bool(token_ids) and bool(
            token_ids.intersection(analysed.full.tolist()) or token_ids.intersection(analysed.field.tolist())
        )

    # -- persistence -------------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """A zip: manifest, articles, tokens as vocabulary ids, German compounds, embeddings. Reload with
        from_bytes."""
        ids = list(self._articles)
        pieces = [a for i in ids for a in (self._analysed[i].full, self._analysed[i].field)]
        offsets = np.zeros(len(pieces) + 1, dtype=np.int64)
        np.cumsum([len(p) for p in pieces], out=offsets[1:])
        embedded = [i for i in ids if i in self._vectors]
        built = self._build()  # persisted too, so a reloading process skips the rebuild
        matrices = {
            f"{name}_{part}": retriever.scores[part]
            for name, retriever in (("full", built.full), ("field", built.field))
            if retriever is not None
            for part in ("data", "indices", "indptr")
        }
        arrays = io.BytesIO()
        np.savez(
            arrays,
            **matrices,
            token_ids=np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int32),
            offsets=offsets,
            vectors=np.stack([self._vectors[i] for i in embedded]) if embedded else np.zeros((0, 2, 0)),
        )
        manifest = {
            "format": FORMAT_VERSION,
            "analysis": ANALYSIS_VERSION,
            "encoder": self.encoder_name,
            "recipe": EMBED_RECIPE,
            "embedded": embedded,
        }
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            zf.writestr("manifest.json", json.dumps(manifest))
            zf.writestr("articles.jsonl", "\n".join(json.dumps(asdict(self._articles[i])) for i in ids))
            zf.writestr("vocab.json", json.dumps(list(self._vocab)))
            zf.writestr("compounds.json", json.dumps(built.compounds.parts))
            zf.writestr("arrays.npz", arrays.getvalue())
        return out.getvalue()

    @classmethod
    def from_bytes(
        cls, data: bytes, *, encoder: EncoderChoice = "auto", vector_cache: VectorCache | None = None
    ) -> KnowledgeIndex:
        """Reload without re-analysing; embeddings are kept when made by the same model and recipe, else
        recomputed (through ``vector_cache`` when given)."""
        index = cls(encoder=encoder, vector_cache=vector_cache)
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            manifest = json.loads(zf.read("manifest.json"))
            if manifest.get("format") != FORMAT_VERSION:
                raise ValueError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}: rebuild it")
            lines = zf.read("articles.jsonl").decode().splitlines()
            vocab: list[str] = json.loads(zf.read("vocab.json"))
            compounds = json.loads(zf.read("compounds.json")) if "compounds.json" in zf.namelist() else None
            with np.load(io.BytesIO(zf.read("arrays.npz"))) as arrays:
                token_ids, offsets, vectors = arrays["token_ids"], arrays["offsets"], arrays["vectors"]
                stored = {key: arrays[key] for key in arrays.files if key.startswith(("full_", "field_"))}
        same_analysis = manifest.get("analysis") == ANALYSIS_VERSION
        if same_analysis:
            index._vocab = {token: i for i, token in enumerate(vocab)}
        for row, line in enumerate(lines):
            raw = json.loads(line)
            for key in ("tags", "product_models", "fault_codes"):
                raw[key] = tuple(raw[key])
            article = Article(**raw)
            index._articles[article.id] = article
            if same_analysis:
                full = token_ids[offsets[2 * row] : offsets[2 * row + 1]]
                field = token_ids[offsets[2 * row + 1] : offsets[2 * row + 2]]
                index._analysed[article.id] = _Analysed(full, field, _is_german(article))
            else:  # made by an older analyser: its tokens would not meet today's query tokens
                index._analysed[article.id] = index._analyse(article)
        # An index saved before the recipe was recorded holds whole-text vectors of the same model: kept
        # (they ranked as well, docs/knowledge_base.md) rather than re-embedding every article in every
        # process at the first load after an upgrade; an article gets the current recipe when it changes.
        recipe = manifest.get("recipe", EMBED_RECIPE)
        same_vectors = same_weights(manifest.get("encoder"), index.encoder_name) and recipe == EMBED_RECIPE
        if index._encoder is not None and same_vectors:
            for article_id, vec in zip(manifest["embedded"], vectors, strict=True):
                index._vectors[article_id] = np.asarray(vec, dtype=np.float32)
        index._embed_missing()
        if same_analysis and stored:
            index._build(
                {
                    # a field none of whose texts had a token was saved without matrices (_bm25: None)
                    name: _loaded_bm25(stored, name, len(lines), index._vocab)
                    if f"{name}_data" in stored
                    else None
                    for name in ("full", "field")
                },
                compounds,
            )
        return index

    def save(self, directory: str | Path) -> Path:
        """Write ``index.zip`` into ``directory`` atomically (temp file + rename); returns its path."""
        target = Path(directory)
        target.mkdir(parents=True, exist_ok=True)
        path = target / "index.zip"
        tmp = target / "index.zip.tmp"
        tmp.write_bytes(self.to_bytes())
        tmp.replace(path)
        return path

    @classmethod
    def load(
        cls,
        directory: str | Path,
        *,
        encoder: EncoderChoice = "auto",
        vector_cache: VectorCache | None = None,
    ) -> KnowledgeIndex:
        data = (Path(directory) / "index.zip").read_bytes()
        return cls.from_bytes(data, encoder=encoder, vector_cache=vector_cache)


def suggestion_query(
    subject: str, description: str = "", product_model: str | None = None, fault_code: str | None = None
) -> str:
    """The query text a ticket stands for (subject first: it is what the embedding sees best)."""
    return " ".join(
        part.strip() for part in (subject, fault_code or "", product_model or "", description) if part
    )


def embedded_text(article: Article) -> str:
    """What the full-text vector reads: the start of title + body (EMBED_UNITS words or CJK characters,
    at most EMBED_CHARS characters)."""
    return clip(article.title + "\n" + article.body, EMBED_UNITS, EMBED_CHARS)


def embedded_field(article: Article) -> str:
    """What the title-field vector reads: the field text, at most EMBED_CHARS characters."""
    return clip_chars(article.field_text, EMBED_CHARS)


def build_index(
    articles: Sequence[Article], *, encoder: EncoderChoice = "auto", vector_cache: VectorCache | None = None
) -> KnowledgeIndex:
    index = KnowledgeIndex(articles, encoder=encoder, vector_cache=vector_cache)
    index.rebuild()
    return index
