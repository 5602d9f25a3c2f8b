"""Whether typed text says anything: the one rule behind every required text field.

`str.strip()` removes whitespace only, so a report of two zero-width spaces (U+200B, pasted from
a chat app or typed with a phone keyboard's "invisible" key) passed as text: it closed the visit
and resolved the ticket with nothing written. Text is blank when no character of it is drawn:
whitespace and separators, control and format characters (U+200B-U+200D, U+2060, U+FEFF, the
bidirectional marks), and the other characters Unicode says to render as nothing
(Default_Ignorable_Code_Point: variation selectors, the Hangul fillers, ...) or that draw an
empty cell (U+2800, the blank braille pattern).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

# Unicode's DerivedCoreProperties.txt, Default_Ignorable_Code_Point (those not already in the
# categories below), and U+2800.
_IGNORABLE: tuple[tuple[int, int], ...] = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian variation selectors
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xFFF0, 0xFFF8),
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0000, 0xE0FFF),  # tags, variation selectors supplement
)
# Separators (spaces, line and paragraph separators), controls, format characters, surrogates.
# Unassigned code points (Cn) count as visible: a newer emoji than this Python knows is one.
_INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cs"})


@lru_cache(maxsize=4096)
def is_visible(char: str) -> bool:
    """True when `char` (one character) is drawn as something."""
    if char.isspace() or unicodedata.category(char) in _INVISIBLE_CATEGORIES:
        return False
    point = ord(char)
    return not any(low <= point <= high for low, high in _IGNORABLE)


def is_blank(text: str | None) -> bool:
    """True when `text` has no visible character (None and "" too). Stops at the first visible
    one, so a long text costs next to nothing."""
    return not text or not any(is_visible(c) for c in text)
