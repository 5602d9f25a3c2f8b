"""Plain, frozen data in and out of the knowledge-base index."""

from __future__ import annotations

import html
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Article:
    """One article as the index sees it.

    ``language`` is one of ``analysis.LANGUAGES`` ("en", "zh", "de", ...; None: detected from the text).
    ``boost_factor`` >= 0 lifts a proven article (one that solved tickets): its final score is multiplied
    by ``1 + boost_factor``; the app decides the value (e.g. from how often "this solved it" was clicked).
    """

    id: str
    title: str
    body: str
    tags: tuple[str, ...] = ()
    language: str | None = None
    product_models: tuple[str, ...] = ()
    fault_codes: tuple[str, ...] = ()
    boost_factor: float = 0.0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("an article needs a non-empty id")
        if self.boost_factor < 0:
            raise ValueError(f"article {self.id}: boost_factor must be >= 0, got {self.boost_factor}")

    @property
    def field_text(self) -> str:
        """Title, tags, models and codes: the short field scored on its own (a FAQ's question)."""
        return " ".join([self.title, *self.tags, *self.product_models, *self.fault_codes])

    @property
    def full_text(self) -> str:
        return self.field_text + "\n" + self.body


@dataclass(frozen=True, slots=True)
class Snippet:
    """A short excerpt as (text, highlighted) pieces; :meth:`html` escapes and wraps hits in <mark>."""

    fragments: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(piece for piece, _ in self.fragments)

    def html(self) -> str:
        return "".join(
            f"<mark>{html.escape(piece)}</mark>" if hit else html.escape(piece)
            for piece, hit in self.fragments
        )


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked article. ``semantic_score`` is None when the embedding model took no part.

    ``shares_words``: the article holds a word of what was typed (False: found by meaning alone).
    For a search that is ``lexical_score > 0`` (a Chinese query: a shared word or bigram, not a single
    character, ``index._word_tokens``); for a ticket's suggestions only the subject and
    description count, not the asset's model code the query adds (it matched every article of the
    product, so "xyzzy" on a chiller ticket looked like a word match)."""

    article_id: str
    score: float
    lexical_score: float
    semantic_score: float | None
    title: Snippet = field(default_factory=lambda: Snippet(()))
    snippet: Snippet = field(default_factory=lambda: Snippet(()))
    shares_words: bool | None = None  # None: lexical_score > 0 decides

    @property
    def holds_typed_words(self) -> bool:
        return self.lexical_score > 0 if self.shares_words is None else self.shares_words
