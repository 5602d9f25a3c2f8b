"""Knowledge articles of the demo company: its product models and fault codes, in English and
Simplified Chinese, plus a generator of N articles for the 50 000-article benchmark.

Plain data as JSONL-style records (the format ``fieldline kb import`` reads): the seed cannot import
``app.knowledge``; the CLI (a composition root) writes them through it. Tags carry the German words
the demo's tickets use (the seeded tickets are written in German), so suggestions meet them.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from app.seed.data import PRODUCTS

Record = dict[str, Any]


def _article(
    language: str,
    key: str,
    title: str,
    symptom: str,
    steps: list[str],
    models: list[str],
    codes: list[str],
    tags: list[str],
) -> Record:
    # The symptom and the steps have fields of their own (shown, and searched, apart from the body),
    # so the body only says what comes after them: repeating them showed every section twice.
    models_text = ", ".join(models)
    if language == "zh":
        body = (
            "## 何时安排上门\n多数情况可在电话中或由客户的设施人员按上述步骤解决。若步骤无效，请从工单"
            f"创建上门服务单，并注明型号（{models_text}）和已做的检查。"
        )
    else:
        body = (
            "## When to book a visit\nMost cases are solved on the phone or with the customer's facility "
            "staff by the steps above. If they do not clear the fault, create a work order from the ticket "
            f"and note the model ({models_text}) and the checks already done, so the engineer brings the "
            "right parts."
        )
    return {
        "id": key,
        "title": title,
        "symptom": symptom,
        "body": body,
        "resolution_steps": steps,
        "product_models": models,
        "fault_codes": codes,
        "tags": tags,
        "language": language,
    }


def _en(key: str, title: str, symptom: str, *rest: list[str]) -> Record:
    return _article("en", key, title, symptom, *rest)


def _zh(key: str, title: str, symptom: str, *rest: list[str]) -> Record:
    return _article("zh", key, title, symptom, *rest)


DEMO_ARTICLES: tuple[Record, ...] = (
    _en(
        "kb-demo-001",
        "Chiller trips on high pressure (HP alarm A1)",
        "The chiller stops with a high-pressure alarm, usually on hot afternoons; it restarts after a reset "
        "and trips again within the hour.",
        [
            "Ask the customer to read the condenser water inlet temperature on the controller.",
            "If above 32 °C, check that the cooling tower fans run and the tower bypass valve is closed.",
            "Check the condenser water flow switch and strainer; clean a blocked strainer.",
            "Reset the HP switch on the unit only after the condenser side is back to normal.",
        ],
        ["CH-30XW", "CH-RTAF"],
        ["A1"],
        ["chiller", "high pressure", "Hochdruckstörung", "Kältemaschine"],
    ),
    _en(
        "kb-demo-002",
        "Chilled water too warm: unit runs but does not reach set point",
        "The chilled water leaving temperature stays 3-5 K above set point although the compressors run.",
        [
            "Check the set point and whether a demand limit is active on the controller.",
            "Compare the evaporator approach with the commissioning sheet; a high approach means fouling.",
            "Check the refrigerant sight glass for bubbles (low charge) and book a leak test if so.",
        ],
        ["CH-30XW", "CH-EWAD", "CH-RTAF"],
        ["A7"],
        ["chiller", "Kaltwassertemperatur", "set point"],
    ),
    _en(
        "kb-demo-003",
        "Chiller cycles off repeatedly: short cycling on low load",
        "The chiller starts and stops every few minutes; the compressor start counter climbs quickly.",
        [
            "Check the minimum water volume: a small system short-cycles at low load.",
            "Raise the control dead band from 1 K to 2 K on the controller.",
            "Enable the anti-cycle timer (minimum 5 minutes between starts).",
        ],
        ["CH-EWAD", "CH-30XW"],
        ["A12"],
        ["chiller", "schaltet wiederholt ab", "short cycling"],
    ),
    _en(
        "kb-demo-004",
        "Compressor oil level low warning",
        "The controller warns of a low oil level in the compressor sight glass.",
        [
            "Let the unit run 20 minutes at full load, then read the sight glass again.",
            "If still below a quarter, check for oil traces at the compressor and the oil filter.",
            "Book a visit to replace the oil filter and top up oil of the specified grade.",
        ],
        ["CH-30XW", "CH-EWAD", "CH-RTAF"],
        ["A23"],
        ["chiller", "Ölstand", "oil"],
    ),
    _en(
        "kb-demo-005",
        "Heat pump shows fault F.75: no heating output",
        "The heat pump display shows F.75 and the house stays cold; the outdoor unit does not start.",
        [
            "F.75 means the pressure sensor saw no pressure rise when the pump started.",
            "Ask the customer to read the system pressure: it must be 1.0 to 2.0 bar.",
            "If it is lower, guide the customer to refill the heating circuit and vent the radiators.",
            "Reset the fault by switching the unit off and on; it should start within 5 minutes.",
        ],
        ["HP-AROT", "HP-VC250"],
        ["F75"],
        ["heat pump", "keine Heizleistung", "Wärmepumpe", "pressure"],
    ),
    _en(
        "kb-demo-006",
        "Heat pump unusually loud at night",
        "The outdoor unit is loud, mostly at night or during defrost; neighbours complain.",
        [
            "Check whether night quiet mode is enabled in the installer menu; enable it (reduces fan speed).",
            "Check that the unit stands on its anti-vibration feet and nothing touches the casing.",
            "Defrost noise every 40-90 minutes in frost is normal; explain it to the customer.",
        ],
        ["HP-VC250", "HP-AROT", "HP-WPL25"],
        [],
        ["heat pump", "laut", "noise"],
    ),
    _en(
        "kb-demo-007",
        "Hot water does not get warm (heat pump)",
        "Domestic hot water stays lukewarm; space heating works.",
        [
            "Check the hot water set point and the legionella schedule in the controller.",
            "Check that the three-way diverter valve switches to hot water (listen for the motor).",
            "Check the cylinder sensor reading against a thermometer; replace a faulty NTC sensor.",
        ],
        ["HP-VC250", "HP-AROT", "HP-WPL25"],
        ["E12"],
        ["heat pump", "Warmwasser", "hot water"],
    ),
    _en(
        "kb-demo-008",
        "Air handling unit filter alarm",
        "The AHU controller reports a filter alarm (differential pressure above limit).",
        [
            "Ask facility staff to read the filter differential pressure on the display.",
            "Above 250 Pa the bag filters are loaded: schedule a filter change.",
            "If the filters were changed recently, check the pressure tubes for kinks.",
        ],
        ["AHU-XCUBE"],
        ["F01"],
        ["ventilation", "Filteralarm", "Lüftungsanlage"],
    ),
    _en(
        "kb-demo-009",
        "Supply air too cold after a frost night",
        "The supply air is too cold in the morning; the frost protection thermostat tripped overnight.",
        [
            "Check whether the frost thermostat tripped (red lamp); reset it on the unit.",
            "Check the heating valve actuator moves when the controller asks for heat.",
            "Check the heating circuit pump runs and the hot water supply temperature is above 50 °C.",
        ],
        ["AHU-XCUBE"],
        ["F07"],
        ["ventilation", "Zuluft zu kalt", "frost"],
    ),
    _en(
        "kb-demo-010",
        "Lift door does not close properly",
        "The car door reopens repeatedly or closes only after several attempts.",
        [
            "Ask the customer to check the door sill for dirt or objects in the track.",
            "A blocked light curtain keeps the door open: clean the light curtain lenses.",
            "If the door still reverses, book a visit to adjust the door belt tension.",
        ],
        ["LI-S3300", "LI-KMS500", "LI-GEN2"],
        ["DE31"],
        ["lift", "Aufzugstür", "door"],
    ),
    _en(
        "kb-demo-011",
        "Lift out of service after a power cut",
        "After a power cut the lift stays at a floor with the display dark or showing a fault.",
        [
            "Check the main switch of the lift in the machine room or control cabinet is on.",
            "Wait 2 minutes: the controller runs a learning trip after power returns.",
            "If the fault persists, reset the drive at the cabinet and note the displayed code.",
        ],
        ["LI-S3300", "LI-KMS500", "LI-EVO200", "LI-GEN2"],
        ["E0030"],
        ["lift", "außer Betrieb", "power"],
    ),
    _en(
        "kb-demo-012",
        "Lift emergency call does not work",
        "The monthly test of the emergency call fails: no connection to the call centre.",
        [
            "Check the GSM module's signal LED; a weak signal needs an external antenna.",
            "Check the SIM card's data plan has not expired.",
            "Book a visit for a hardware fault; the lift must not run without a working call.",
        ],
        ["LI-S3300", "LI-KMS500", "LI-EVO200", "LI-GEN2"],
        ["EC01"],
        ["lift", "Notruf", "emergency call"],
    ),
    _en(
        "kb-demo-013",
        "UPS reports battery fault",
        "The UPS shows a battery fault after its automatic battery test.",
        [
            "Check the age of the battery modules: replace them after 4-5 years.",
            "Ask the customer to run a manual battery test from the display after 24 h on mains.",
            "If the test fails again, book a visit to replace the battery modules.",
        ],
        ["UPS-GVS", "UPS-93PM"],
        ["B104"],
        ["ups", "Batteriefehler", "battery"],
    ),
    _en(
        "kb-demo-014",
        "UPS running on bypass",
        "The UPS transferred the load to bypass and stays there.",
        [
            "Read the event log: an overload or over-temperature forces bypass.",
            "Reduce the load below 90 % and check the UPS fans run.",
            "Transfer back to online mode from the display once the cause is cleared.",
        ],
        ["UPS-GVS", "UPS-93PM"],
        ["W122"],
        ["ups", "Bypass"],
    ),
    _en(
        "kb-demo-015",
        "Generator does not start during the test run",
        "The standby generator fails to start in its weekly test; the starter turns slowly or not at all.",
        [
            "Check the starter battery voltage: below 12.2 V at rest it needs charging or replacing.",
            "Check the battery charger shows no fault and its fuse is intact.",
            "Check the fuel level and that the fuel valve is open.",
        ],
        ["GEN-DS500"],
        ["S03"],
        ["generator", "Probelauf", "startet nicht"],
    ),
    _en(
        "kb-demo-016",
        "Switch not reachable: a floor without network",
        "A switch stack member is not reachable and a floor has no network.",
        [
            "Check the switch has power (PSU LEDs) and whether its stack cable is seated.",
            "Power-cycle the member; the stack re-elects within 3 minutes.",
            "If the PSU LED is amber, the power supply failed: book a visit with a spare PSU.",
        ],
        ["NET-C9300", "NET-AR6300"],
        [],
        ["network", "Switch nicht erreichbar", "Etage ohne Netz"],
    ),
    _en(
        "kb-demo-017",
        "Pump leaking at the shaft seal",
        "Water drips from the pump between motor and pump housing.",
        [
            "A few drops per hour at start-up are normal for a new mechanical seal.",
            "A steady drip means a worn mechanical seal: book a visit to replace it.",
            "Until then, place a drip tray and check the system pressure daily.",
        ],
        ["PU-CR32", "PU-STRATOS", "PU-ETANORM"],
        [],
        ["pump", "undicht", "leak", "seal"],
    ),
    _en(
        "kb-demo-018",
        "Pump does not start: motor protection tripped",
        "The pump does not start; the motor protection switch is off.",
        [
            "Reset the motor protection switch once.",
            "If it trips again at once, compare the motor current with the nameplate (seized impeller?).",
            "Book a visit if it trips twice: the motor or bearings need checking.",
        ],
        ["PU-CR32", "PU-ETANORM", "PU-STRATOS"],
        ["E1"],
        ["pump", "läuft nicht an", "motor protection"],
    ),
    _en(
        "kb-demo-019",
        "Circuit breaker tripped: area without power",
        "A circuit breaker in the main distribution tripped and an area has no power.",
        [
            "Ask the customer which loads were switched on just before the trip.",
            "Check the breaker's trip indicator: overload (L), short circuit (S/I) or earth fault (G).",
            "Reset only after the cause is known; a short-circuit trip needs an electrician on site.",
        ],
        ["SG-S8", "SG-MNS", "SG-PRISMA"],
        [],
        ["switchgear", "Leistungsschalter ausgelöst", "breaker"],
    ),
    _en(
        "kb-demo-020",
        "Rack temperature alarm",
        "The rack's monitoring unit reports a temperature above 35 °C.",
        [
            "Check the room air conditioning runs and the rack doors are closed (airflow).",
            "Check the fan tray of the rack and the blanking panels in empty slots.",
            "Move heavy loads to other racks if the alarm persists.",
        ],
        ["NET-VXIT"],
        ["T35"],
        ["network", "Temperaturalarm", "rack"],
    ),
    _zh(
        "kb-demo-101",
        "冷水机组高压报警停机（A1）",
        "冷水机组在下午高温时因高压报警停机，复位后一小时内再次跳停。",
        [
            "请客户在控制器上读取冷却水进水温度。",
            "若高于32°C，检查冷却塔风机是否运行、旁通阀是否关闭。",
            "检查冷却水流量开关和过滤器，清洗堵塞的过滤器。",
            "冷凝侧恢复正常后再复位高压开关。",
        ],
        ["CH-30XW", "CH-RTAF"],
        ["A1"],
        ["冷水机组", "高压报警"],
    ),
    _zh(
        "kb-demo-102",
        "热泵显示故障F.75，不制热",
        "热泵显示F.75，室内不热，室外机不启动。",
        [
            "F.75表示水泵启动时压力传感器未检测到压力上升。",
            "请客户读取系统水压，正常应在1.0至2.0巴之间。",
            "若水压偏低，指导客户给采暖系统补水并给散热器排气。",
            "关机再开机复位故障，五分钟内应重新启动。",
        ],
        ["HP-AROT", "HP-VC250"],
        ["F75"],
        ["热泵", "不制热", "水压"],
    ),
    _zh(
        "kb-demo-103",
        "电梯门关不上或反复开门",
        "轿厢门反复重新打开，或需要多次才能关闭。",
        [
            "请客户检查门槛导轨内是否有杂物。",
            "光幕被遮挡会使门保持打开：清洁光幕镜片。",
            "若仍然反复开门，预约上门调整门皮带张力。",
        ],
        ["LI-S3300", "LI-KMS500", "LI-GEN2"],
        ["DE31"],
        ["电梯", "电梯门"],
    ),
    _zh(
        "kb-demo-104",
        "UPS电池故障报警",
        "UPS在自动电池测试后显示电池故障。",
        [
            "检查电池模块的使用年限：四到五年后需要更换。",
            "市电运行24小时后，请客户在面板上手动进行电池测试。",
            "若再次失败，预约上门更换电池模块。",
        ],
        ["UPS-GVS", "UPS-93PM"],
        ["B104"],
        ["UPS", "电池故障"],
    ),
    _zh(
        "kb-demo-105",
        "水泵机械密封漏水",
        "水泵电机与泵体之间有水滴落。",
        [
            "新机械密封启动时每小时几滴属于正常。",
            "持续滴水说明机械密封磨损：预约上门更换。",
            "在此之前放置接水盘，并每天检查系统压力。",
        ],
        ["PU-CR32", "PU-STRATOS", "PU-ETANORM"],
        [],
        ["水泵", "漏水", "机械密封"],
    ),
    _zh(
        "kb-demo-106",
        "发电机试运行无法启动",
        "备用发电机每周试运行时无法启动，启动马达转动缓慢或不转。",
        [
            "检查启动电池电压：静置时低于12.2伏需要充电或更换。",
            "检查电池充电器无故障且保险丝完好。",
            "检查燃油液位和燃油阀是否打开。",
        ],
        ["GEN-DS500"],
        ["S03"],
        ["发电机", "无法启动"],
    ),
)

# Vocabulary for the generated (benchmark) articles: realistic field-service prose of 60-400 words.
_COMPONENTS = (
    "expansion valve",
    "pressure switch",
    "flow switch",
    "temperature sensor",
    "control board",
    "inverter",
    "circulation pump",
    "fan motor",
    "door operator",
    "light curtain",
    "battery module",
    "mechanical seal",
    "bearing",
    "contactor",
    "power supply",
    "filter drier",
)
_SYMPTOMS = (
    "trips after a few minutes",
    "shows an alarm on the display",
    "does not start",
    "makes a rattling noise",
    "runs but gives no output",
    "reports a communication error",
    "stops intermittently",
    "overheats under load",
    "leaks at the connection",
    "restarts repeatedly",
)
_CHECKS = (
    "Check the supply voltage at the terminals and compare it with the nameplate.",
    "Read the event log on the controller and note the last three codes.",
    "Inspect the wiring harness for loose plugs and signs of overheating.",
    "Measure the resistance of the sensor and compare it with the table in the manual.",
    "Clean the strainer and check the flow with the valves fully open.",
    "Reset the controller and watch one full start sequence.",
    "Check the settings against the commissioning protocol.",
    "Replace the part if the reading is outside tolerance and test again.",
    "Ask the customer whether work was done on the installation recently.",
    "Verify the firmware version and update it if the release notes mention this fault.",
)
_ZH_SYMPTOMS = (
    "启动后几分钟跳闸",
    "显示屏报警",
    "无法启动",
    "运行时有异响",
    "运行但无输出",
    "通讯故障",
    "间歇性停机",
)
_ZH_CHECKS = (
    "检查端子处的供电电压并与铭牌比较。",
    "读取控制器的事件记录，记下最近三个故障代码。",
    "检查线束插头是否松动、有无过热痕迹。",
    "测量传感器电阻并与手册中的表格对比。",
    "复位控制器并观察完整的启动过程。",
    "按照调试记录核对参数设置。",
)


def generated_articles(count: int, *, seed: int = 7, chinese_share: float = 0.2) -> Iterator[Record]:
    """``count`` articles over the demo's product models: English, and ``chinese_share`` Chinese."""
    rng = random.Random(seed)
    for i in range(count):
        product = rng.choice(PRODUCTS)
        code = f"{rng.choice('AEFHLPSTW')}{rng.randint(1, 399)}"
        if rng.random() < chinese_share:
            symptom = rng.choice(_ZH_SYMPTOMS)
            steps = rng.sample(_ZH_CHECKS, rng.randint(2, len(_ZH_CHECKS)))
            yield {
                "id": f"kb-gen-{i + 1:06d}",
                "title": f"{product.manufacturer} {product.code} {symptom}（故障代码{code}）",
                "symptom": f"设备{symptom}，显示故障代码{code}。",
                "body": "\n".join(f"{n}. {s}" for n, s in enumerate(steps, 1)),
                "resolution_steps": steps,
                "product_models": [product.code],
                "fault_codes": [code],
                "tags": [product.category],
                "language": "zh",
            }
            continue
        component = rng.choice(_COMPONENTS)
        symptom = rng.choice(_SYMPTOMS)
        steps = rng.sample(_CHECKS, rng.randint(3, 8))
        paragraphs = [
            f"The {product.manufacturer} {product.code} {symptom}; the controller shows fault {code}. "
            f"In most reports the {component} is the cause.",
            *(f"- {s}" for s in steps),
            rng.choice(
                (
                    f"If the {component} was replaced in the last year, check the warranty before ordering.",
                    "Document the readings in the visit report so the next engineer can compare them.",
                    "The fault often follows a power cut; ask the customer about recent outages.",
                )
            ),
        ]
        yield {
            "id": f"kb-gen-{i + 1:06d}",
            "title": f"{product.code} {symptom}: fault {code}, {component}",
            "symptom": f"The unit {symptom} and shows {code}.",
            "body": "\n\n".join(paragraphs),
            "resolution_steps": steps,
            "product_models": [product.code],
            "fault_codes": [code],
            "tags": [product.category, component],
            "language": "en",
        }
