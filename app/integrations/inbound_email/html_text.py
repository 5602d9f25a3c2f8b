"""An HTML-only mail as the plain text a person reads on the timeline.

What a browser would not show is dropped (<head>, <style>, <script>, comments, ...), block
elements and <br> become line breaks, list items get a dash, table cells a space, entities are
decoded. The result is text: the pages escape it when they render it, so an `&lt;script&gt;` in
the mail shows as the characters `<script>`, never as markup.

A small scanner instead of html.parser: on Python 3.11 that parser takes minutes for 100 KB of
unclosed tags (`<a <a <a ...`), since it rescans the rest of the input at each one. Here a tag's
search stops at the next `<`, a comment's or a script's runs once to its end, so the work grows
with the length only.
"""

from __future__ import annotations

import html
import re

# Elements whose content no reader sees. The first four hold raw text up to their end tag.
_RAW_TEXT = ("script", "style", "title", "textarea")
_HIDDEN = frozenset({*_RAW_TEXT, "head", "template", "noscript", "object", "svg"})
# Elements that may stand in a <head>; any other start tag ends an unclosed one, as in a browser.
_HEAD_CONTENT = frozenset({"head", "title", "meta", "link", "style", "script", "base", "noscript"})
_LINE = frozenset({"br", "tr", "dt", "dd", "option"})
_PARAGRAPH = frozenset({"p", "blockquote", "pre", "table", "ul", "ol", "dl", "hr", "h1", "h2", "h3"})
_BLOCK = frozenset(
    {
        "div", "h4", "h5", "h6", "thead", "tbody", "tfoot", "section", "article", "header",
        "footer", "nav", "aside", "main", "address", "figure", "figcaption", "form", "fieldset",
        "center", "caption", "body", "html", "li",
    }
)  # fmt: skip
# A tag ends at the next ">"; a "<" that meets another "<" first is text. Declarations are
# <!DOCTYPE ...>, <?xml ...>, <![if ...]>; a comment runs to its "-->".
_TOKEN = re.compile(
    r"<(?:(?P<comment>!--)|(?P<declaration>[!?][^<>]*>)|(?P<closing>/)?(?P<name>[a-zA-Z][a-zA-Z0-9:-]*)[^<>]*>)"
)
_RAW_TEXT_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in _RAW_TEXT}
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")


class _Text:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.newlines = 2  # how many line breaks the text ends with (none wanted at the start)
        self.space = True  # the text ends with a space or a line break
        self.pre = 0

    def text(self, data: str) -> None:
        data = html.unescape(data)
        data = data.replace("\u00a0", " ") if self.pre else _SPACES.sub(" ", data)
        if self.space and not self.pre:
            data = data.lstrip(" ")
        if data:
            self.parts.append(data)
            self.newlines = len(data) - len(data.rstrip("\n")) if self.pre else 0
            self.space = data[-1] in " \n"

    def breaks(self, wanted: int) -> None:
        """At least `wanted` line breaks here (block edges merge; each <br> adds one)."""
        more = max(0, wanted - self.newlines)
        if more:
            self.parts.append("\n" * more)
            self.newlines += more
            self.space = True

    def start(self, tag: str) -> None:
        if tag == "br":
            self.parts.append("\n")
            self.newlines += 1
            self.space = True
        elif tag in _PARAGRAPH:
            self.breaks(2)
        elif tag in _LINE or tag in _BLOCK:
            self.breaks(1)
        elif tag in ("td", "th") and not self.space:
            self.parts.append(" ")
            self.space = True
        if tag == "li":
            self.parts.append("- ")
            self.newlines = 0
        if tag == "pre":
            self.pre += 1

    def end(self, tag: str) -> None:
        if tag in _PARAGRAPH:
            self.breaks(2)
        elif tag in _BLOCK:
            self.breaks(1)
        if tag == "pre":
            self.pre = max(0, self.pre - 1)

    def result(self) -> str:
        lines = (line.rstrip(" ") for line in "".join(self.parts).split("\n"))
        return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(source: str) -> str:
    out = _Text()
    in_head, hidden = False, 0  # inside <head>; inside how many other hidden elements
    pos = 0
    while True:
        token = _TOKEN.search(source, pos)
        if not (in_head or hidden):
            out.text(source[pos : token.start() if token else len(source)])
        if token is None:
            break
        pos = token.end()
        if token["comment"]:
            close = source.find("-->", pos)
            pos = len(source) if close < 0 else close + 3
            continue
        if token["declaration"]:
            continue
        name, closing = token["name"].lower(), bool(token["closing"])
        if name == "head":
            in_head = not closing
        elif in_head and not closing and name not in _HEAD_CONTENT:
            in_head = False  # <body>, <p>, ...: the head was never closed
        self_closing = token[0].endswith("/>")
        if name in _RAW_TEXT and not closing and not self_closing:
            close_tag = _RAW_TEXT_END[name].search(source, pos)
            pos = len(source) if close_tag is None else close_tag.end()
        elif name in _HIDDEN:
            if closing:
                hidden = max(0, hidden - 1)
            elif name != "head" and not self_closing:
                hidden += 1
        elif in_head or hidden:
            continue
        elif closing:
            out.end(name)
        else:
            out.start(name)
    return out.result()
