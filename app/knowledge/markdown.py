"""Article bodies are Markdown written by staff or imported: rendered so that nothing in them runs.

markdown-it-py with raw HTML disabled escapes every tag (``<script>``, ``<img onerror=…>``) as text, and
its link validator drops ``javascript:``, ``vbscript:``, ``file:`` and non-image ``data:`` targets, so the
output holds only the tags Markdown itself produces. Links get ``rel="nofollow noopener noreferrer"``.
"""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Any

from markdown_it import MarkdownIt


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable("table")
    md.enable("strikethrough")

    def link_open(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        tokens[idx].attrSet("rel", "nofollow noopener noreferrer")
        return str(renderer.renderToken(tokens, idx, options, env))

    md.add_render_rule("link_open", link_open)
    return md


def render_markdown(text: str) -> str:
    """Safe HTML for an article body (escaped raw HTML, no script-capable links)."""
    return str(_parser().render(text or ""))


_TAG = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"[ \t]*\n[ \t\n]*")


def plain_text(text: str) -> str:
    """The words of a Markdown body without its markup: what the index and snippets read."""
    rendered = _TAG.sub(" ", render_markdown(text))
    return _SPACE.sub("\n", html.unescape(rendered)).strip()
