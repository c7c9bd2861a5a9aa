"""Demo market: a few hundred results and listings across the taxonomy, in Chinese.

Deterministic (seeded), so every `make run` on an empty database shows the same market.
Topics reflect Inner Mongolia's industries; numbers carry valid check characters but are
illustrative, not real filings.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.listings.models import (
    LICENCES,
    Listing,
    ListingMode,
    ListingOutcome,
    ListingState,
    ListingTransition,
    TransferType,
)
from app.listings.windows import window_end
from app.results.identifiers import patent_check_character
from app.results.models import Inventor, LegalStatus, Result, ResultKind


@dataclass(frozen=True)
class Topic:
    field: str
    title: str
    abstract: str
    keywords: tuple[str, ...]
    ipc: str


TOPICS = [
    Topic("new_materials.rare_earths", "高矫顽力烧结钕铁硼磁体", "通过晶界扩散重稀土元素，在降低镝、铽用量的同时显著提高烧结钕铁硼磁体的矫顽力，适用于新能源汽车驱动电机。", ("钕铁硼", "晶界扩散", "稀土永磁"), "H01F 1/057"),
    Topic("new_materials.rare_earths", "稀土抛光粉", "以氧化铈为主要成分，控制粒径分布与晶型，提升液晶玻璃基板抛光速率与表面质量。", ("氧化铈", "抛光粉"), "C09K 3/14"),
    Topic("new_materials.rare_earths", "稀土储氢合金", "采用La-Mg-Ni系合金成分设计与退火工艺，提高镍氢电池负极材料的循环寿命。", ("储氢合金", "镍氢电池"), "C22C 19/03"),
    Topic("new_materials.rare_earths", "稀土催化剂", "以铈锆固溶体为载体的机动车尾气净化三效催化剂，提高低温起燃性能与储氧能力。", ("铈锆", "三效催化"), "B01J 23/10"),
    Topic("new_materials.metals", "高强度耐候钢板", "通过微合金化与控轧控冷工艺，生产适用于高寒地区桥梁结构的高强度耐候钢板。", ("耐候钢", "控轧控冷"), "C22C 38/00"),
    Topic("new_materials.metals", "铝合金型材挤压工艺", "优化模具结构与挤压参数，提高高铁车体用大型铝合金型材的成材率。", ("铝合金", "挤压"), "B21C 23/00"),
    Topic("new_materials.polymers", "聚乳酸可降解地膜", "以聚乳酸与PBAT共混改性，制备可在土壤中完全降解的农用地膜，减少白色污染。", ("可降解", "地膜"), "C08L 67/04"),
    Topic("new_materials.graphite", "高纯石墨提纯工艺", "采用碱酸联合法对天然鳞片石墨进行提纯，固定碳含量达到99.95%以上。", ("石墨", "提纯"), "C01B 32/215"),
    Topic("new_materials.graphite", "石墨烯导热膜", "以氧化石墨烯为原料，经涂布、还原与石墨化制备高导热柔性薄膜。", ("石墨烯", "导热膜"), "C01B 32/184"),
    Topic("energy_saving.pollution_control", "燃煤烟气脱硫脱硝一体化技术", "采用活性焦吸附与选择性催化还原耦合工艺，实现烟气中二氧化硫和氮氧化物同步脱除。", ("脱硫脱硝", "活性焦"), "B01D 53/60"),
    Topic("energy_saving.pollution_control", "工业废水零排放处理系统", "集成膜浓缩与蒸发结晶工艺，实现煤化工高盐废水的资源化与零排放。", ("零排放", "蒸发结晶"), "C02F 9/00"),
    Topic("energy_saving.resource_recycling", "粉煤灰提取氧化铝技术", "以高铝粉煤灰为原料，采用酸法工艺提取冶金级氧化铝并联产白炭黑。", ("粉煤灰", "氧化铝"), "C01F 7/20"),
    Topic("energy_saving.resource_recycling", "钢渣综合利用技术", "将转炉钢渣经热闷、磁选后制备道路基层材料与水泥掺合料。", ("钢渣", "综合利用"), "C04B 18/14"),
    Topic("next_gen_it.ai", "基于深度学习的输电线路缺陷识别系统", "利用无人机巡检图像与目标检测网络，自动识别绝缘子破损、异物悬挂等缺陷。", ("深度学习", "无人机巡检"), "G06V 10/82"),
    Topic("next_gen_it.ai", "牧区牲畜智能识别与计数方法", "基于卫星与无人机影像的牲畜目标检测与计数，服务草畜平衡监管。", ("目标检测", "草畜平衡"), "G06V 20/17"),
    Topic("next_gen_it.ai", "蒙古文智能输入与识别引擎", "结合语言模型与手写识别，实现传统蒙古文的智能输入、校对与版面识别。", ("蒙古文", "文字识别"), "G06F 40/126"),
    Topic("next_gen_it.big_data", "能源大数据分析平台", "汇聚发电、电网与用能数据，提供负荷预测、能效诊断与碳排放核算。", ("大数据", "负荷预测"), "G06Q 50/06"),
    Topic("next_gen_it.big_data", "数据中心液冷节能系统", "面向高寒地区数据中心的自然冷源与液冷耦合散热系统，降低电能使用效率值。", ("液冷", "PUE"), "H05K 7/20"),
    Topic("next_gen_it.iot", "智慧牧场物联网监测系统", "通过耳标与环境传感器采集牲畜体温、运动与圈舍环境数据，实现疫病预警。", ("物联网", "智慧牧场"), "A01K 29/00"),
    Topic("biomedicine.mongolian_chinese_medicine", "蒙药复方制剂", "依据蒙医经典方剂，采用现代提取工艺制备质量可控的蒙药复方颗粒剂。", ("蒙药", "复方"), "A61K 36/00"),
    Topic("biomedicine.mongolian_chinese_medicine", "肉苁蓉有效成分提取方法", "以荒漠植物肉苁蓉为原料，高效提取松果菊苷和毛蕊花糖苷。", ("肉苁蓉", "提取"), "A61K 36/46"),
    Topic("biomedicine.mongolian_chinese_medicine", "沙棘黄酮制剂", "以沙棘果渣为原料制备沙棘总黄酮，用于心脑血管保健。", ("沙棘", "黄酮"), "A61K 36/185"),
    Topic("biomedicine.biotech", "动物疫苗佐剂", "一种提高布鲁氏菌病疫苗免疫效果的新型复合佐剂。", ("疫苗", "布病"), "A61K 39/39"),
    Topic("biomedicine.biotech", "微生物发酵生产维生素工艺", "通过菌种改良与发酵条件优化，提高维生素B12发酵单位。", ("发酵", "维生素"), "C12P 19/42"),
    Topic("biomedicine.medical_devices", "便携式超声诊断设备", "面向基层与牧区医疗的低功耗便携式超声成像设备。", ("超声", "便携式"), "A61B 8/00"),
    Topic("high_end_equipment.intelligent_manufacturing", "矿用重型卡车智能驾驶系统", "用于露天煤矿的矿卡无人驾驶感知、决策与编组调度系统。", ("无人驾驶", "露天矿"), "G05D 1/02"),
    Topic("high_end_equipment.intelligent_manufacturing", "工业机器人焊接视觉引导系统", "基于线结构光的焊缝跟踪与焊接路径规划方法。", ("机器人", "焊缝跟踪"), "B23K 9/127"),
    Topic("high_end_equipment.rail_and_aviation", "铁路货车轴承故障诊断装置", "基于声学与振动信号融合的货车轴承在线故障诊断装置。", ("轴承", "故障诊断"), "G01M 13/04"),
    Topic("modern_agriculture.dairy", "低乳糖牛奶生产工艺", "采用乳糖酶水解与膜过滤相结合的低乳糖液态奶生产工艺。", ("低乳糖", "乳糖酶"), "A23C 9/12"),
    Topic("modern_agriculture.dairy", "益生菌发酵乳", "从传统奶制品中分离的乳酸菌株及其在发酵乳中的应用。", ("益生菌", "发酵乳"), "A23C 9/123"),
    Topic("modern_agriculture.dairy", "奶牛乳房炎快速检测试剂盒", "基于乳汁体细胞与特异蛋白的奶牛隐性乳房炎现场快速检测方法。", ("乳房炎", "快速检测"), "G01N 33/04"),
    Topic("modern_agriculture.breeding", "绒山羊高产品系选育方法", "结合全基因组选择与表型测定，选育产绒量高、绒细度优的绒山羊新品系。", ("绒山羊", "基因组选择"), "A01K 67/02"),
    Topic("modern_agriculture.breeding", "马铃薯脱毒种薯繁育技术", "组培脱毒与雾培结合的马铃薯原原种高效繁育技术。", ("马铃薯", "脱毒"), "A01H 4/00"),
    Topic("modern_agriculture.grassland", "苜蓿青贮调制技术", "添加复合乳酸菌剂提高紫花苜蓿青贮品质与有氧稳定性。", ("苜蓿", "青贮"), "A23K 30/18"),
    Topic("new_energy.wind", "风电机组叶片除冰系统", "基于电热膜与气动设计的叶片防除冰系统，提升高寒地区风电场冬季发电量。", ("风电", "除冰"), "F03D 80/40"),
    Topic("new_energy.wind", "风电场功率预测方法", "融合数值天气预报与机器学习的风电场超短期功率预测方法。", ("功率预测", "风电场"), "H02J 3/00"),
    Topic("new_energy.solar", "光伏组件清扫机器人", "适用于沙漠光伏电站的无水清扫机器人及其路径规划方法。", ("光伏", "清扫机器人"), "H02S 40/10"),
    Topic("new_energy.solar", "单晶硅拉晶工艺", "优化热场结构与拉速控制，降低单晶硅棒氧含量并提高成晶率。", ("单晶硅", "拉晶"), "C30B 15/00"),
    Topic("new_energy.hydrogen", "碱性电解水制氢电极", "一种高活性低成本的镍基析氢电极及其制备方法，适配风光波动电源。", ("电解水", "制氢"), "C25B 11/04"),
    Topic("new_energy.hydrogen", "氢燃料电池重卡热管理系统", "面向矿区运输的氢燃料电池重卡低温启动与热管理系统。", ("燃料电池", "热管理"), "H01M 8/04"),
    Topic("new_energy.storage", "全钒液流电池电解液", "高稳定性全钒液流电池电解液配方及其制备方法。", ("液流电池", "储能"), "H01M 8/18"),
    Topic("new_energy.storage", "储能电站电池管理系统", "基于多时间尺度的储能电池荷电状态估计与均衡控制方法。", ("电池管理", "SOC"), "H02J 7/00"),
    Topic("coal_chemicals.coal_to_olefins", "甲醇制烯烃催化剂", "一种高选择性、长寿命的SAPO-34分子筛甲醇制烯烃催化剂。", ("甲醇制烯烃", "分子筛"), "B01J 29/85"),
    Topic("coal_chemicals.coal_to_olefins", "煤焦油加氢制燃料油技术", "中低温煤焦油全馏分加氢生产清洁燃料油的工艺。", ("煤焦油", "加氢"), "C10G 45/00"),
    Topic("coal_chemicals.clean_coal", "褐煤提质干燥技术", "采用低温热解与蒸汽干燥提高褐煤热值、降低自燃倾向。", ("褐煤", "提质"), "C10L 9/08"),
    Topic("coal_chemicals.clean_coal", "煤矸石制备陶粒技术", "以煤矸石为主要原料烧制轻质高强陶粒。", ("煤矸石", "陶粒"), "C04B 38/00"),
    Topic("ecology.desertification", "沙障固沙材料", "以秸秆与可降解高分子复合制备的新型草方格沙障材料。", ("沙障", "固沙"), "E02D 3/12"),
    Topic("ecology.desertification", "荒漠化遥感监测系统", "基于多源遥感影像的土地荒漠化动态监测与评价系统。", ("遥感", "荒漠化"), "G06V 20/13"),
    Topic("ecology.desertification", "梭梭接种肉苁蓉技术", "提高梭梭林下肉苁蓉接种率的生态产业化技术。", ("梭梭", "肉苁蓉"), "A01G 22/00"),
    Topic("ecology.mine_restoration", "露天矿排土场生态修复技术", "土壤重构与乡土植物配置结合的排土场快速复绿技术。", ("矿山修复", "复绿"), "E02D 17/20"),
    Topic("water_resources.water_saving", "膜下滴灌水肥一体化系统", "基于土壤墒情的玉米膜下滴灌水肥一体化智能控制系统。", ("滴灌", "水肥一体化"), "A01G 25/02"),
    Topic("water_resources.water_saving", "矿井水深度处理回用技术", "矿井水经混凝、超滤与反渗透处理后用于工业与生态补水。", ("矿井水", "回用"), "C02F 9/00"),
]  # fmt: skip

VARIANTS = [
    "",
    "及其制备方法",
    "的工业化应用",
    "（第二代）",
    "改进型",
    "的中试工艺",
    "在高寒地区的应用",
]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗包其"
GIVEN = [
    "明",
    "华",
    "强",
    "静",
    "敏",
    "伟",
    "芳",
    "军",
    "娜",
    "勇",
    "巴特尔",
    "乌兰",
    "苏和",
    "其木格",
]

# Which demo organizations own which fields (by their key in the accounts demo).
OWNERS = {
    "new_materials": ["imust", "rare_earth_institute", "imu"],
    "energy_saving": ["imut", "imust"],
    "next_gen_it": ["imu", "imut"],
    "biomedicine": ["mongolian_medicine_institute", "imu"],
    "high_end_equipment": ["imut", "imust"],
    "modern_agriculture": ["imau"],
    "new_energy": ["imut", "imu"],
    "coal_chemicals": ["imust", "imut"],
    "ecology": ["imau", "imu"],
    "water_resources": ["imau", "imut"],
}
KIND_DIGIT = {ResultKind.invention_patent: "1", ResultKind.utility_model: "2"}


def _patent_number(rng: random.Random, kind: ResultKind) -> str:
    digits = f"{rng.randint(2018, 2024)}{KIND_DIGIT[kind]}{rng.randint(1000000, 9999999)}"
    return f"{digits}.{patent_check_character(digits)}"


def _kind(rng: random.Random) -> ResultKind:
    return rng.choices(
        [ResultKind.invention_patent, ResultKind.utility_model, ResultKind.software_copyright,
         ResultKind.technical_secret],
        weights=[55, 20, 10, 15],
    )[0]  # fmt: skip


async def seed_market(
    session: AsyncSession,
    organizations: dict[str, uuid.UUID],
    reviewer_id: uuid.UUID,
    now: datetime,
    *,
    count: int = 320,
) -> int:
    """Insert `count` results, each with a listing; most published with the window open."""
    rng = random.Random(2026)
    result_rows: list[dict[str, object]] = []
    inventor_rows: list[dict[str, object]] = []
    listing_rows: list[dict[str, object]] = []
    transition_rows: list[dict[str, object]] = []
    for index in range(count):
        topic = TOPICS[index % len(TOPICS)]
        variant = VARIANTS[(index // len(TOPICS)) % len(VARIANTS)]
        owner_key = rng.choice(OWNERS[topic.field.split(".")[0]])
        kind = _kind(rng)
        if kind in KIND_DIGIT:
            ip_number: str | None = _patent_number(rng, kind)
            status = rng.choice([LegalStatus.granted, LegalStatus.granted, LegalStatus.pending])
        elif kind == ResultKind.software_copyright:
            ip_number = f"{rng.randint(2018, 2025)}SR{rng.randint(1000000, 1999999)}"
            status = LegalStatus.granted
        else:
            ip_number, status = None, LegalStatus.not_applicable
        title = (
            topic.title + variant if kind != ResultKind.software_copyright else topic.title + "软件"
        )
        result_id = uuid.uuid4()
        created = now - timedelta(days=rng.randint(20, 400))
        result_rows.append(
            {
                "id": result_id,
                "organization_id": organizations[owner_key],
                "title": title,
                "abstract": topic.abstract,
                "keywords": list(topic.keywords),
                "kind": kind,
                "ip_number": ip_number,
                "ipc_codes": [topic.ipc] if kind != ResultKind.software_copyright else [],
                "legal_status": status,
                "field_code": topic.field,
                "trl": rng.randint(3, 9),
                "publicly_funded": rng.random() < 0.7,
                "division_code": "150105" if owner_key in {"imu", "imau"} else "150203",
                "created_at": created,
                "updated_at": created,
            }
        )
        people = rng.randint(1, 4)
        shares = [100 // people] * people
        shares[0] += 100 - sum(shares)
        for position in range(people):
            inventor_rows.append(
                {
                    "id": uuid.uuid4(),
                    "result_id": result_id,
                    "position": position + 1,
                    "name": rng.choice(SURNAMES) + rng.choice(GIVEN),
                    "share": shares[position],
                }
            )
        listing_rows.append(_listing(rng, result_id, organizations[owner_key], created, now))
        listing = listing_rows[-1]
        for from_state, to_state, outcome in _history(listing["state"], listing["outcome"]):  # type: ignore[arg-type]
            transition_rows.append(
                {
                    "id": uuid.uuid4(),
                    "listing_id": listing["id"],
                    "from_state": from_state,
                    "to_state": to_state,
                    "outcome": outcome,
                    "actor_id": reviewer_id if to_state in {ListingState.published} else None,
                    "reason": None,
                    "at": listing["published_at"] or created,
                }
            )
    await session.execute(insert(Result), result_rows)
    await session.execute(insert(Inventor), inventor_rows)
    await session.execute(insert(Listing), listing_rows)
    await session.execute(insert(ListingTransition), transition_rows)
    return count


def _listing(
    rng: random.Random,
    result_id: uuid.UUID,
    organization_id: uuid.UUID,
    created: datetime,
    now: datetime,
) -> dict[str, object]:
    mode = rng.choices(list(ListingMode), weights=[55, 30, 15])[0]
    transfer = rng.choices(list(TransferType), weights=[40, 15, 10, 20, 10, 5])[0]
    state = rng.choices(
        [
            ListingState.published,
            ListingState.pending_review,
            ListingState.draft,
            ListingState.closed,
        ],
        weights=[75, 8, 7, 10],
    )[0]
    window_days = rng.choice([15, 15, 20, 30])
    published_at = None
    if state in {ListingState.published, ListingState.closed}:
        # Open windows started up to 14 days ago; closed ones well before.
        back = rng.randint(0, 14) if state == ListingState.published else rng.randint(40, 90)
        published_at = now - timedelta(days=back, hours=rng.randint(0, 8))
    price = (
        None
        if mode == ListingMode.negotiable
        else rng.choice([5, 8, 10, 20, 30, 50, 80, 120, 200, 500]) * 10_000_00
    )
    return {
        "id": uuid.uuid4(),
        "result_id": result_id,
        "organization_id": organization_id,
        "description": "可提供技术指导与人员培训；欢迎区内外企业洽谈。",
        "mode": mode,
        "transfer_type": transfer,
        "licence_years": rng.choice([3, 5, 10]) if transfer in LICENCES else None,
        "price_fen": price,
        "window_days": window_days,
        "state": state,
        # Closed demo listings expired: no deals or auctions are invented for them.
        "outcome": ListingOutcome.expired if state == ListingState.closed else None,
        "published_at": published_at,
        "window_ends_at": window_end(published_at, window_days) if published_at else None,
        "closed_at": window_end(published_at, window_days)
        if published_at and state == ListingState.closed
        else None,
        "created_at": created,
        "updated_at": created,
    }


def _history(
    state: ListingState, outcome: ListingOutcome | None
) -> list[tuple[ListingState | None, ListingState, ListingOutcome | None]]:
    path: list[tuple[ListingState | None, ListingState, ListingOutcome | None]] = [
        (None, ListingState.draft, None)
    ]
    order = [
        ListingState.draft,
        ListingState.pending_review,
        ListingState.published,
        ListingState.closed,
    ]
    for previous, following in pairwise(order):
        if order.index(state) < order.index(following):
            break
        path.append((previous, following, outcome if following == ListingState.closed else None))
    return path
