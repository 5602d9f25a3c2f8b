"""Small article sets and a deterministic stand-in encoder for the knowledge-base tests."""

from __future__ import annotations

import hashlib
import re

import numpy as np

from knowledge_base import Article
from knowledge_base.embedding import Vectors

EN_ARTICLES = [
    Article(
        "boiler-e1",
        "Boiler shows E1 ignition failure",
        "The burner did not light. Check the gas valve.",
        ("boiler",),
    ),
    Article(
        "boiler-pressure", "Boiler pressure too low", "Refill with the filling loop to 1.5 bar.", ("boiler",)
    ),
    Article(
        "printer-jam",
        "Printer paper jam in the fuser",
        "Open the rear door and pull the sheet out.",
        ("printer",),
    ),
    Article("lift-stuck", "Elevator stopped between floors", "Stay inside and press the alarm button."),
]
ZH_ARTICLES = [
    Article("zh-ignition", "锅炉显示E1点火失败", "燃烧器没有点着火，请检查燃气阀门是否打开。", language="zh"),
    Article("zh-pressure", "锅炉水压过低", "用补水阀补水到1.5巴。", language="zh"),
    Article("zh-ac-leak", "空调室内机漏水", "冷凝水排水管堵塞或者机器安装不水平。", language="zh"),
]


class HashEncoder:
    """Bag of words hashed into 64 dimensions: similar wording gives similar vectors; records its input."""

    def __init__(self, name: str = "hash-64") -> None:
        self.name = name
        self.seen: list[str] = []  # article texts (passages)
        self.queries: list[str] = []  # texts encoded as queries

    def times_embedded(self, body: str) -> int:
        """How often an article with this body was embedded (its full text holds the body)."""
        return sum(1 for text in self.seen if text.endswith("\n" + body))

    def encode(self, texts: list[str], *, query: bool = False) -> Vectors:
        (self.queries if query else self.seen).extend(texts)
        out = np.zeros((len(texts), 64), dtype=np.float32)
        for row, text in enumerate(texts):
            # Latin words and single CJK characters, so Chinese wording is compared too (the real model
            # is multilingual).
            for word in re.findall(r"[a-z0-9]+|[\u4e00-\u9fff]", text.lower()):
                out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % 64] += 1.0
            norm = np.linalg.norm(out[row])
            if norm:
                out[row] /= norm
        return out
