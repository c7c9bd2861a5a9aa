"""A fixed Chinese corpus for relevance tests: 24 listings with distinct subjects."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from search.documents import ListingDocument

# (field, title, abstract, keywords, kind, mode, price in yuan or None, trl, division)
ROWS = [
    ("new_materials.rare_earths", "高矫顽力烧结钕铁硼磁体", "通过晶界扩散重稀土元素提高永磁体矫顽力，降低镝铽用量。", ["稀土永磁", "晶界扩散"], "invention_patent", "fixed_price", 800_000, 6, "150203"),
    ("new_materials.rare_earths", "稀土抛光粉制备方法", "以氧化铈为主要成分，提高液晶玻璃基板抛光速率。", ["氧化铈", "抛光粉"], "invention_patent", "negotiable", None, 7, "150203"),
    ("new_energy.wind", "风电机组叶片除冰系统", "基于电热膜的叶片防除冰系统，提高高寒地区冬季发电量。", ["风电", "除冰"], "utility_model", "fixed_price", 300_000, 7, "150902"),
    ("new_energy.wind", "风电场功率预测方法", "融合数值天气预报与机器学习的风电场超短期功率预测。", ["功率预测"], "software_copyright", "fixed_price", 150_000, 8, "150105"),
    ("new_energy.solar", "光伏组件清扫机器人", "适用于沙漠光伏电站的无水清扫机器人及路径规划方法。", ["光伏", "机器人"], "utility_model", "auction", 500_000, 7, "150602"),
    ("new_energy.solar", "单晶硅拉晶工艺", "优化热场结构与拉速控制，提高光伏用单晶硅棒成晶率。", ["单晶硅"], "technical_secret", "negotiable", None, 8, "150102"),
    ("new_energy.hydrogen", "碱性电解水制氢电极", "高活性镍基析氢电极，在碱性电解液中稳定运行，适配风光波动电源。", ["电解水", "制氢"], "invention_patent", "fixed_price", 1_200_000, 5, "150105"),
    ("new_energy.storage", "全钒液流电池电解液", "高稳定性全钒液流电池电解液配方及其制备方法。", ["液流电池", "储能"], "invention_patent", "fixed_price", 2_000_000, 6, "150203"),
    ("coal_chemicals.coal_to_olefins", "甲醇制烯烃催化剂", "高选择性长寿命SAPO-34分子筛催化剂。", ["甲醇制烯烃", "分子筛"], "invention_patent", "auction", 3_000_000, 7, "150627"),
    ("coal_chemicals.clean_coal", "褐煤提质干燥技术", "低温热解与蒸汽干燥提高褐煤热值。", ["褐煤", "提质"], "technical_secret", "negotiable", None, 6, "150702"),
    ("modern_agriculture.dairy", "低乳糖牛奶生产工艺", "乳糖酶水解与膜过滤结合的低乳糖液态奶工艺。", ["乳业", "低乳糖"], "invention_patent", "fixed_price", 600_000, 8, "150105"),
    ("modern_agriculture.dairy", "益生菌发酵乳", "从传统奶制品分离的乳酸菌株及其在发酵乳中的应用。", ["乳业", "益生菌"], "invention_patent", "fixed_price", 400_000, 6, "150105"),
    ("biomedicine.mongolian_chinese_medicine", "蒙药复方颗粒剂", "依据经典方剂以现代提取工艺制备质量可控的颗粒剂。", ["蒙药", "复方"], "invention_patent", "negotiable", None, 5, "150502"),
    ("biomedicine.mongolian_chinese_medicine", "肉苁蓉有效成分提取方法", "高效提取松果菊苷和毛蕊花糖苷。", ["肉苁蓉", "提取"], "invention_patent", "fixed_price", 250_000, 4, "152900"),
    ("ecology.desertification", "秸秆复合沙障固沙材料", "以秸秆与可降解高分子复合制备的草方格沙障。", ["沙障", "荒漠化"], "utility_model", "fixed_price", 100_000, 7, "152900"),
    ("ecology.desertification", "土地退化遥感监测系统", "基于多源遥感影像的荒漠化动态监测与评价。", ["遥感", "荒漠化"], "software_copyright", "fixed_price", 200_000, 8, "150602"),
    ("next_gen_it.ai", "输电线路缺陷识别系统", "利用无人机巡检图像与深度学习目标检测识别绝缘子缺陷。", ["深度学习", "巡检"], "software_copyright", "fixed_price", 350_000, 7, "150105"),
    ("next_gen_it.big_data", "能源大数据分析平台", "汇聚发电与用能数据，提供负荷预测与能效诊断。", ["大数据", "能效"], "software_copyright", "negotiable", None, 8, "150102"),
    ("high_end_equipment.intelligent_manufacturing", "矿用重型卡车无人驾驶系统", "露天煤矿矿卡的感知、决策与编组调度。", ["无人驾驶", "露天矿"], "invention_patent", "auction", 5_000_000, 7, "150627"),
    ("water_resources.water_saving", "膜下滴灌水肥一体化系统", "基于土壤墒情的玉米滴灌智能控制。", ["滴灌", "水肥一体化"], "utility_model", "fixed_price", 180_000, 8, "150802"),
    ("new_materials.graphite", "石墨烯导热膜", "以氧化石墨烯为原料制备高导热柔性薄膜。", ["石墨烯", "导热"], "invention_patent", "fixed_price", 900_000, 5, "150203"),
    ("energy_saving.pollution_control", "燃煤烟气脱硫脱硝一体化技术", "活性焦吸附与选择性催化还原耦合同步脱除二氧化硫与氮氧化物。", ["脱硫脱硝"], "invention_patent", "negotiable", None, 7, "150202"),
    ("modern_agriculture.breeding", "绒山羊高产品系选育方法", "全基因组选择选育产绒量高的绒山羊品系。", ["绒山羊", "育种"], "invention_patent", "fixed_price", 450_000, 6, "150802"),
    ("modern_agriculture.grassland", "苜蓿青贮调制技术", "添加复合乳酸菌剂提高紫花苜蓿青贮品质。", ["苜蓿", "青贮"], "technical_secret", "fixed_price", 120_000, 8, "150105"),
]  # fmt: skip

STAGES = {1: "laboratory", 2: "laboratory", 3: "laboratory", 4: "small_scale", 5: "small_scale",
          6: "pilot", 7: "pilot", 8: "industrialized", 9: "industrialized"}  # fmt: skip
START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def corpus() -> list[ListingDocument]:
    documents = []
    for n, (field, title, abstract, keywords, kind, mode, price, trl, division) in enumerate(ROWS):
        documents.append(
            ListingDocument(
                id=uuid.UUID(int=n + 1),
                result_id=uuid.UUID(int=1000 + n),
                title=title,
                abstract=abstract,
                keywords=keywords,
                field_code=field,
                field_parent=field.split(".")[0],
                kind=kind,
                transfer_type="assignment",
                mode=mode,
                price_fen=price * 100 if price else None,
                trl=trl,
                stage=STAGES[trl],
                division_code=division,
                prefecture_code=division[:4] + "00",
                province_code=division[:2] + "0000",
                owner_id=uuid.UUID(int=5000),
                owner_kind="university",
                owner_name="内蒙古测试大学",
                ipc_codes=[],
                published_at=START + timedelta(hours=n),
                window_ends_at=START + timedelta(days=15, hours=n),
                auction_state=None,
            )
        )
    return documents


def title_of(number: int) -> str:
    """The title of row `number` (1-based, as in the relevance table)."""
    return ROWS[number - 1][1]
