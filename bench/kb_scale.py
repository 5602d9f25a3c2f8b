"""Scale benchmark of knowledge_base: build, memory, persistence, incremental update, search latency.

    python bench/kb_gen.py --articles 50000 --out /tmp/kb50k
    python bench/kb_scale.py /tmp/kb50k [--embed-sample 1000]

Prints one line per measure with the 1-minute load average (`uptime`) beside it. BM25 figures are for the
whole corpus. The embedding model is timed for real on ``--embed-sample`` articles (throughput; both
languages: the model is multilingual); for hybrid search latency every article gets random unit
vectors, since the cost of the dot products does not depend on the values (at 20 000+ articles neither
does the int8 first pass with its fixed-size float32 short list), while each query is encoded for real,
one at a time, as the app does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from knowledge_base import Article, KnowledgeIndex
from knowledge_base.embedding import default_encoder
from knowledge_base.index import embedded_text


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def report(what: str, value: str) -> None:
    print(f"{what:48s} {value:>22s}   ({load()})", flush=True)


def percentiles(samples_s: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples_s)
    p95 = ms[min(len(ms) - 1, int(round(0.95 * len(ms))) - 1)]
    return f"p50 {statistics.median(ms):6.1f} ms  p95 {p95:6.1f} ms"


def read(path: Path) -> list[Article]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        raw = json.loads(line)
        out.append(
            Article(raw["id"], raw["title"], raw["body"], tuple(raw.get("tags", ())), raw.get("language"))
        )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--embed-sample", type=int, default=1000)
    args = ap.parse_args()
    articles = read(args.folder / "articles.jsonl")
    queries = [json.loads(line)["query"] for line in (args.folder / "queries.jsonl").read_text().splitlines()]
    print(f"{len(articles)} articles, {len(queries)} queries; python {sys.version.split()[0]}")
    base_rss = rss_mb()

    started = time.perf_counter()
    index = KnowledgeIndex(articles, encoder=None)
    report("analyse all articles (tokens cached)", f"{time.perf_counter() - started:.1f} s")
    started = time.perf_counter()
    index.rebuild()
    report("build BM25 matrices (bm25s, 2 fields)", f"{time.perf_counter() - started:.2f} s")
    report("process RSS growth for the index", f"{rss_mb() - base_rss:.0f} MB")

    started = time.perf_counter()
    data = index.to_bytes()
    report("serialise to_bytes", f"{time.perf_counter() - started:.2f} s, {len(data) / 1e6:.1f} MB")
    started = time.perf_counter()
    reloaded = KnowledgeIndex.from_bytes(data, encoder=None)
    reloaded.rank("boiler", 1)  # ready to serve: the saved BM25 matrices are used as they are
    report("from_bytes, ready to search (a web process reload)", f"{time.perf_counter() - started:.2f} s")
    del reloaded

    edited = Article(
        "gen-000001", "Edited boiler article E99", "Replace the flame sensor and reset.", language="en"
    )
    started = time.perf_counter()
    index.upsert(edited)
    index.rebuild()
    report("upsert one article + rebuild", f"{time.perf_counter() - started:.2f} s")
    started = time.perf_counter()
    index.set_boosts({"gen-000003": 0.4})  # a vote: patched in place, no rebuild
    index.rank("boiler", 1)
    report("boost change (a vote) + one search", f"{time.perf_counter() - started:.3f} s")
    started = time.perf_counter()
    index.remove("gen-000002")
    index.rebuild()
    report("remove one article + rebuild", f"{time.perf_counter() - started:.2f} s")

    for name, fn in (("rank, BM25 only", index.rank), ("search with snippets, BM25 only", index.search)):
        samples = []
        for query in queries:
            t0 = time.perf_counter()
            fn(query, 5)
            samples.append(time.perf_counter() - t0)
        report(f"{name} ({len(queries)} queries)", percentiles(samples))

    encoder = default_encoder()
    if encoder is None:
        print("no embedding model installed: hybrid figures skipped")
        return
    sample = articles[: args.embed_sample]
    started = time.perf_counter()
    encoder.encode([a.field_text for a in sample])
    encoder.encode([embedded_text(a) for a in sample])  # what the index embeds (clipped text)
    elapsed = time.perf_counter() - started
    report(f"embed {len(sample)} articles (2 texts each)", f"{len(sample) / elapsed:.0f} articles/s")
    report("  so all articles would take", f"{len(articles) / (len(sample) / elapsed) / 60:.0f} min")

    rng = np.random.default_rng(0)
    before = rss_mb()
    vectors = rng.standard_normal((len(articles), 2, 384)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    hybrid = KnowledgeIndex.from_bytes(index.to_bytes(), encoder=None)
    hybrid._encoder = encoder  # attach after loading so the random vectors below are not recomputed
    hybrid._vectors = {a.id: vectors[i] for i, a in enumerate(articles) if a.id in hybrid}
    hybrid.rebuild()
    report("RSS growth for 2 x 384 float32 vectors/article", f"{rss_mb() - before:.0f} MB")
    for name, fn in (
        ("rank, hybrid", hybrid.rank),
        ("rank, hybrid, the same queries again (query-vector cache)", hybrid.rank),
        ("search with snippets, hybrid", hybrid.search),
    ):
        samples = []
        for query in queries:
            t0 = time.perf_counter()
            fn(query, 5)
            samples.append(time.perf_counter() - t0)
        report(f"{name} ({len(queries)} queries)", percentiles(samples))
    report("process RSS at the end (model loaded)", f"{rss_mb():.0f} MB")


if __name__ == "__main__":
    main()
