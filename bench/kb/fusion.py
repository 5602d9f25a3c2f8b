"""Ranker experiments for docs/knowledge_base.md ("Experiments"): embedding inputs x score fusions.

    python bench/kb/fusion.py ARTICLES.jsonl QUERIES.jsonl [--cache DIR]

For one labelled set, embeds each article in several ways (title alone, title + body clipped to a token
budget, whole text in 512-token windows, body chunks max-pooled), scores BM25 on the two fields, and
prints NDCG@10 for every (embedding, fusion) pair. It chooses nothing: the choice is made on our own sets
(bench/kb_en, bench/kb_zh) and the other sets are only reported. Embeddings are cached under --cache by a
hash of the texts, so re-runs only re-score.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from knowledge_base.analysis import analyze
from knowledge_base.embedding import default_encoder
from knowledge_base.evaluate import read_articles, read_queries
from knowledge_base.index import KnowledgeIndex, _scores
from knowledge_base.metrics import summarise
from knowledge_base.textclip import chunks, clip

Arr = np.ndarray


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("articles")
    ap.add_argument("queries")
    ap.add_argument("--cache", default="/tmp/kb-fusion-cache")
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    articles = read_articles(args.articles)
    queries = [q for q in read_queries(args.queries) if q.relevant]
    encoder = default_encoder()
    assert encoder is not None, "needs the embedding model"

    def enc(texts: list[str], query: bool) -> Arr:
        key = hashlib.sha1(("q" if query else "p").encode() + "\x00".join(texts).encode()).hexdigest()
        path = cache / f"{key}.npy"
        if path.exists():
            return np.load(path)
        t = time.perf_counter()
        out = encoder.encode(texts, query=query)
        print(f"  encoded {len(texts)} texts in {time.perf_counter() - t:.1f} s", flush=True)
        np.save(path, out)
        return out

    index = KnowledgeIndex(articles, encoder=None)
    built = index._build()
    ids = built.ids
    n = len(ids)
    texts = sorted({q.text for q in queries})
    qv = dict(zip(texts, enc(texts, True), strict=True))
    lex = {}
    for t in texts:
        tok = [index._vocab[x] for x in analyze(t) if x in index._vocab]
        lex[t] = (_scores(built.full, tok, n), _scores(built.field, tok, n))

    field = [a.field_text for a in articles]
    emb: dict[str, Callable[[Arr], Arr]] = {}
    vt = enc(field, False)
    vtq = enc(field, True)
    vfull = enc([a.title + "\n" + a.body for a in articles], False)
    for budget in (64, 128, 256):
        v = enc([clip(a.title + "\n" + a.body, budget) for a in articles], False)
        emb[f"title+body<={budget}"] = lambda q, v=v: v @ q
        emb[f".25 title + .75 body<={budget}"] = lambda q, v=v: 0.25 * (vt @ q) + 0.75 * (v @ q)
    # chunks: title + each ~100-unit piece of the body, max-pooled cosine
    pieces = [(i, a.title + "\n" + c) for i, a in enumerate(articles) for c in chunks(a.body, 100)]
    vc = enc([p for _, p in pieces], False)
    owner = np.array([i for i, _ in pieces])

    def chunkmax(q: Arr) -> Arr:
        s = vc @ q
        out = np.full(n, -1.0)
        np.maximum.at(out, owner, s)
        return out

    emb["title"] = lambda q: vt @ q
    emb["title (query: prefix)"] = lambda q: vtq @ q
    emb["full (512 windows)"] = lambda q: vfull @ q
    emb[".25 title + .75 full (shipped)"] = lambda q: 0.25 * (vt @ q) + 0.75 * (vfull @ q)
    emb["chunks max"] = chunkmax
    emb["max(title, chunks max)"] = lambda q: np.maximum(vt @ q, chunkmax(q))
    emb[".5 title + .5 chunks max"] = lambda q: 0.5 * (vt @ q) + 0.5 * chunkmax(q)

    def rrf(a: Arr, b: Arr, k: float = 60.0, dense_weight: float = 1.0) -> Arr:
        ra = np.empty(n)
        ra[np.argsort(-a, kind="stable")] = np.arange(n)
        rb = np.empty(n)
        rb[np.argsort(-b, kind="stable")] = np.arange(n)
        return 1 / (k + ra) + dense_weight / (k + rb)

    def z(x: Arr) -> Arr:
        sd = x.std()
        return (x - x.mean()) / sd if sd > 0 else x * 0

    def mm(x: Arr) -> Arr:
        lo, hi = x.min(), x.max()
        return (x - lo) / (hi - lo) if hi > lo else x * 0

    def shipped(lx: Arr, s: Arr, w: float = 0.02) -> Arr:
        top = lx.max()
        return w * (lx / top if top > 0 else lx) + (1 - w) * s

    fusions: dict[str, Callable[[Arr, Arr], Arr]] = {
        "dense only": lambda lx, s: s,
        "w.02 lex/max (shipped)": shipped,
        "w.05 lex/max": lambda lx, s: shipped(lx, s, 0.05),
        "w.1 lex/max": lambda lx, s: shipped(lx, s, 0.1),
        "RRF k60": lambda lx, s: rrf(lx, s),
        "RRF k60 dense x2": lambda lx, s: rrf(lx, s, dense_weight=2.0),
        "z .3 lex + .7 dense": lambda lx, s: 0.3 * z(lx) + 0.7 * z(s),
        "z .2 lex + .8 dense": lambda lx, s: 0.2 * z(lx) + 0.8 * z(s),
        "z .5 lex + .5 dense": lambda lx, s: 0.5 * z(lx) + 0.5 * z(s),
        "mm .3 lex + .7 dense": lambda lx, s: 0.3 * mm(lx) + 0.7 * mm(s),
        "mm .2 lex + .8 dense": lambda lx, s: 0.2 * mm(lx) + 0.8 * mm(s),
    }
    lexicals = {
        "full+title": lambda f, t: f + t,
        "full+2*title": lambda f, t: f + 2 * t,
        "full": lambda f, t: f,
    }

    def score(fn: Callable[[str], Arr]) -> float:
        runs = []
        for q in queries:
            order = np.argsort(-fn(q.text), kind="stable")[:10]
            runs.append(([ids[i] for i in order], set(q.relevant or ())))
        value = summarise(runs)["ndcg@10"]
        assert value is not None
        return value

    print(f"{len(queries)} labelled queries, {n} articles; NDCG@10")
    for lname, lfn in lexicals.items():
        print(f"BM25 {lname}: {score(lambda t, lfn=lfn: lfn(*lex[t])):.3f}")
    sem_cache: dict[tuple[str, str], Arr] = {}
    names = list(fusions)
    print("embedding".ljust(34) + " ".join(f"{k[:12]:>12}" for k in names))
    for ename, efn in emb.items():
        for t in texts:
            sem_cache[(ename, t)] = efn(qv[t]).astype(np.float64)
        row = []
        for fname in names:
            ffn = fusions[fname]
            row.append(
                score(lambda t, ffn=ffn, ename=ename: ffn(lex[t][0] + lex[t][1], sem_cache[(ename, t)]))
            )
        print(ename.ljust(34) + " ".join(f"{v:12.3f}" for v in row), flush=True)
    # Dense pseudo-relevance feedback: the query vector moved towards its 3 nearest articles.
    base = ".25 title + .75 body<=256"
    vmix = 0.25 * vt + 0.75 * enc([clip(a.title + "\n" + a.body, 256) for a in articles], False)

    def prf(q: Arr, alpha: float = 0.5, k: int = 3) -> Arr:
        s = vmix @ q
        top = np.argsort(-s)[:k]
        q2 = q + alpha * vmix[top].mean(axis=0)
        return vmix @ (q2 / np.linalg.norm(q2))

    emb["PRF(.25 title + .75 body<=256)"] = prf
    for t in texts:
        sem_cache[("PRF(.25 title + .75 body<=256)", t)] = prf(qv[t]).astype(np.float64)
    print("combinations (lexical, embedding):")
    for lname in ("full+title", "full+2*title"):
        for ename in (base, ".5 title + .5 chunks max", "PRF(.25 title + .75 body<=256)"):
            lfn = lexicals[lname]
            row = [
                score(
                    lambda t, ffn=fusions[f], lfn=lfn, ename=ename: ffn(lfn(*lex[t]), sem_cache[(ename, t)])
                )
                for f in names
            ]
            print(f"[{lname} | {ename}]".ljust(34) + " ".join(f"{v:12.3f}" for v in row), flush=True)
    for lname in ("full+2*title", "full"):
        lfn = lexicals[lname]
        ename = ".25 title + .75 full (shipped)"
        row = [
            score(lambda t, ffn=fusions[f], lfn=lfn, ename=ename: ffn(lfn(*lex[t]), sem_cache[(ename, t)]))
            for f in names
        ]
        print(f"[shipped emb, BM25 {lname}]".ljust(34) + " ".join(f"{v:12.3f}" for v in row), flush=True)


if __name__ == "__main__":
    main()
