"""Knowledge-base search: text analysis (English, Simplified Chinese), an incremental index, a ranker.

A library like ``dispatch``: it imports nothing from ``app``. The app builds a :class:`KnowledgeIndex`
from its articles, persists ``to_bytes()`` and reloads it with ``KnowledgeIndex.from_bytes`` when the
article set's version changes; ``search`` gives ranked hits with highlighted snippets.
"""

from .analysis import analyze, detect_language
from .index import KnowledgeIndex, build_index, suggestion_query
from .model import Article, SearchHit, Snippet

__all__ = [
    "Article",
    "KnowledgeIndex",
    "SearchHit",
    "Snippet",
    "analyze",
    "build_index",
    "detect_language",
    "suggestion_query",
]
