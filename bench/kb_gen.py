"""Generate a large synthetic knowledge base (and queries) for the scale benchmark.

    python bench/kb_gen.py --articles 50000 --out /tmp/kb50k [--chinese-share 0.2] [--seed 7]

Writes ARTICLES.jsonl and QUERIES.jsonl (200 queries, each a paraphrase-like mix of one article's
words, labelled with it). Articles combine product models, fault codes, components, symptoms and
actions into field-service prose of 40-220 words (English) or 60-300 characters (Chinese), so vocabulary
size and document lengths resemble a real service knowledge base rather than random strings.
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

EQUIPMENT = [
    "boiler",
    "heat pump",
    "air conditioner",
    "furnace",
    "printer",
    "elevator",
    "water heater",
    "chiller",
    "rooftop unit",
    "thermostat",
    "fan coil",
    "compressor",
    "dehumidifier",
    "generator",
]
BRANDS = [
    "Vaillant",
    "Daikin",
    "Bosch",
    "Viessmann",
    "Carrier",
    "Trane",
    "Otis",
    "Kone",
    "HP",
    "Ricoh",
    "Mitsubishi",
    "Worcester",
    "Baxi",
    "Ariston",
    "Lennox",
    "Rheem",
]
COMPONENTS = [
    "ignition electrode",
    "flame sensor",
    "gas valve",
    "pressure switch",
    "expansion vessel",
    "diverter valve",
    "circulation pump",
    "fan motor",
    "condensate trap",
    "heat exchanger",
    "control board",
    "reversing valve",
    "defrost sensor",
    "run capacitor",
    "contactor",
    "fuser unit",
    "drum",
    "door operator",
    "light curtain",
    "brake",
    "limit switch",
    "thermistor",
    "flow sensor",
    "filter",
    "drain pump",
    "float switch",
    "relay",
    "fuse",
]
SYMPTOMS = [
    "does not start",
    "locks out",
    "trips the breaker",
    "makes a loud noise",
    "leaks water",
    "shows an error",
    "stops after a few minutes",
    "gives no heat",
    "blows warm air",
    "runs constantly",
    "freezes up",
    "loses pressure",
    "smells of burning",
    "vibrates",
    "displays nothing",
    "short cycles",
    "overheats",
    "jams",
    "reboots",
    "cannot connect",
]
ACTIONS = [
    "check the supply voltage at the terminals",
    "reset the unit and wait two minutes",
    "clean the component with a soft brush",
    "measure the resistance with a multimeter",
    "replace the part if the reading is out of range",
    "tighten the connections",
    "bleed the air from the circuit",
    "inspect the wiring for damage",
    "update the firmware",
    "verify the setpoint in the installer menu",
    "test the safety chain in order",
    "record the readings on the service report",
    "check the fault history in the log",
    "confirm the gas pressure at the inlet",
    "descale the heat exchanger",
    "re-seat the connector on the control board",
    "recharge to the nameplate amount",
]
ZH_EQUIPMENT = [
    "锅炉",
    "热泵",
    "空调",
    "燃气炉",
    "打印机",
    "电梯",
    "热水器",
    "冷水机组",
    "风机盘管",
    "压缩机",
]
ZH_COMPONENTS = [
    "点火电极",
    "火焰感应针",
    "燃气阀",
    "压力开关",
    "膨胀水箱",
    "三通阀",
    "循环泵",
    "风机",
    "冷凝水存水弯",
    "换热器",
    "控制板",
    "四通阀",
    "化霜传感器",
    "运行电容",
    "接触器",
    "定影器",
]
ZH_SYMPTOMS = [
    "无法启动",
    "锁定停机",
    "跳闸",
    "噪音很大",
    "漏水",
    "显示故障代码",
    "运行几分钟后停止",
    "不制热",
    "吹热风",
    "一直运行",
    "结冰",
    "掉压",
    "有焦糊味",
    "振动",
    "黑屏",
    "频繁启停",
]
ZH_ACTIONS = [
    "检查接线端子电压",
    "复位设备并等待两分钟",
    "用软刷清洁部件",
    "用万用表测量电阻",
    "读数超出范围时更换部件",
    "紧固接线",
    "排出回路中的空气",
    "检查线路是否损坏",
    "升级固件",
    "在安装菜单中确认设定值",
    "按顺序测试安全回路",
    "在服务报告中记录读数",
]


def _code(rng: random.Random) -> str:
    return f"{rng.choice('EFHLPU')}{rng.randint(1, 99):02d}"


def english_article(rng: random.Random, number: int) -> dict[str, object]:
    equipment, brand = rng.choice(EQUIPMENT), rng.choice(BRANDS)
    model = f"{brand} {rng.choice(['X', 'Pro', 'Eco', 'Max', 'S'])}{rng.randint(100, 999)}"
    code, symptom, part = _code(rng), rng.choice(SYMPTOMS), rng.choice(COMPONENTS)
    sentences = [f"When the {equipment} {symptom} and shows {code}, the {part} is the usual cause."]
    for _ in range(rng.randint(3, 14)):
        sentences.append(f"{rng.choice(ACTIONS).capitalize()} on the {rng.choice(COMPONENTS)}.")
    return {
        "id": f"gen-{number:06d}",
        "title": f"{model} {equipment} {symptom} ({code})",
        "body": " ".join(sentences),
        "tags": [equipment, brand.lower()],
        "language": "en",
    }


def chinese_article(rng: random.Random, number: int) -> dict[str, object]:
    equipment, part, symptom, code = (
        rng.choice(ZH_EQUIPMENT),
        rng.choice(ZH_COMPONENTS),
        rng.choice(ZH_SYMPTOMS),
        _code(rng),
    )
    sentences = [f"{equipment}{symptom}并显示{code}时，通常是{part}的问题。"]
    for _ in range(rng.randint(3, 12)):
        sentences.append(f"{rng.choice(ZH_ACTIONS)}，检查{rng.choice(ZH_COMPONENTS)}。")
    return {
        "id": f"gen-{number:06d}",
        "title": f"{rng.choice(BRANDS)} {equipment}{symptom}（{code}）",
        "body": "".join(sentences),
        "tags": [equipment],
        "language": "zh",
    }


def query_for(rng: random.Random, article: dict[str, object]) -> str:
    """A query an agent might type: a few of the article's title words plus one body word or two."""
    title, body = str(article["title"]), str(article["body"])
    if article["language"] == "zh":
        return title[rng.randint(0, 3) :][:10] + body[:6]
    words = title.replace("(", "").replace(")", "").split()
    picked = rng.sample(words, k=min(len(words), rng.randint(2, 4)))
    return " ".join(picked + rng.sample(body.lower().rstrip(".").split(), k=2))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--articles", type=int, default=50_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--chinese-share", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    articles = [
        chinese_article(rng, i) if rng.random() < args.chinese_share else english_article(rng, i)
        for i in range(args.articles)
    ]
    with (args.out / "articles.jsonl").open("w", encoding="utf-8") as f:
        for article in articles:
            f.write(json.dumps(article, ensure_ascii=False) + "\n")
    with (args.out / "queries.jsonl").open("w", encoding="utf-8") as f:
        for _ in range(args.queries):
            article = rng.choice(articles)
            row = {"query": query_for(rng, article), "relevant": [article["id"]]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(articles)} articles and {args.queries} queries to {args.out}")


if __name__ == "__main__":
    main()
