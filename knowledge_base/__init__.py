"""Knowledge-base search: text analysis (Latin-script languages, Simplified Chinese), an incremental index,
a ranker.

A library like ``dispatch``: it imports nothing from ``app``. The app builds a :class:`KnowledgeIndex`
from its articles, persists ``to_bytes()`` and reloads it with ``KnowledgeIndex.from_bytes`` when the
article set's version changes; ``search`` gives ranked hits with highlighted snippets.
"""

from .analysis import LANGUAGE_NAMES, LANGUAGES, Language, analyze, detect_language
from .index import MAX_QUERY_CHARS, KnowledgeIndex, build_index, suggestion_query
from .model import Article, SearchHit, Snippet

__all__ = [
    "LANGUAGES",
    "LANGUAGE_NAMES",
    "MAX_QUERY_CHARS",
    "Language",
    "Article",
    "KnowledgeIndex",
    "SearchHit",
    "Snippet",
    "analyze",
    "build_index",
    "detect_language",
    "suggestion_query",
]
