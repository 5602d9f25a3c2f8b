"""LIKE patterns from typed text, which matches literally: "100%" finds "100% Service GmbH" and
not "1000 Services", "50%_off" no other name. Compare with `escape=LIKE_ESCAPE`:

    Account.name_search.like(like_contains(typed), escape=LIKE_ESCAPE)
"""

from __future__ import annotations

import re

LIKE_ESCAPE = "\\"
_SPECIAL = re.compile(r"([\\%_])")  # the escape character itself and LIKE's two wildcards


def like_literal(text: str) -> str:
    """The text with LIKE's wildcards (and the escape character) escaped."""
    return _SPECIAL.sub(r"\\\1", text)


def like_prefix(text: str) -> str:
    """'x%': values starting with the text."""
    return like_literal(text) + "%"


def like_contains(text: str) -> str:
    """'%x%': values containing the text."""
    return "%" + like_literal(text) + "%"
