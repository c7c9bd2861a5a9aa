from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from app.results.identifiers import (
    normalize_ipc,
    normalize_patent_number,
    normalize_software_number,
    patent_check_character,
)
from app.results.taxonomy import fields, stage_of


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("CN201710601862.3", "201710601862.3"),
        ("201710601862.3", "201710601862.3"),
        ("ZL 201710601862.3", "201710601862.3"),
        ("95115608.X", "95115608.X"),
        ("cn2017106018623", "201710601862.3"),
    ],
)
def test_patent_numbers_normalize(raw: str, normalized: str) -> None:
    assert normalize_patent_number(raw) == normalized


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("201710601862.4", "patent_check_digit"),
        ("95115608.1", "patent_check_digit"),
        ("2017106018.3", "patent_number_format"),
        ("US201710601862.3", "patent_number_format"),
    ],
)
def test_bad_patent_numbers(raw: str, code: str) -> None:
    with pytest.raises(PydanticCustomError) as raised:
        normalize_patent_number(raw)
    assert raised.value.type == code


def test_check_character_ten_is_x() -> None:
    # 9×2+5×3+1×4+1×5+5×6+6×7+0×8+8×9 = 186 = 16×11 + 10
    assert patent_check_character("95115608") == "X"


@pytest.mark.parametrize(
    ("raw", "ok"), [("2023SR0123456", True), ("2010sr012345", True), ("SR123", False)]
)
def test_software_numbers(raw: str, ok: bool) -> None:
    if ok:
        assert normalize_software_number(raw).startswith(raw[:4])
    else:
        with pytest.raises(PydanticCustomError):
            normalize_software_number(raw)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("H01F 1/057", "H01F 1/057"),
        ("h01f1/057", "H01F 1/057"),
        ("C22C", "C22C"),
        ("A61K 36/00", "A61K 36/00"),
    ],
)
def test_ipc_codes(raw: str, normalized: str) -> None:
    assert normalize_ipc(raw) == normalized


@pytest.mark.parametrize("raw", ["Z01F 1/057", "H1F", "H01F 1/5"])
def test_bad_ipc_codes(raw: str) -> None:
    with pytest.raises(PydanticCustomError):
        normalize_ipc(raw)


def test_taxonomy_covers_the_regional_plans() -> None:
    codes = set(fields())
    assert {
        "new_materials", "new_materials.rare_earths", "energy_saving", "next_gen_it",
        "next_gen_it.ai", "next_gen_it.big_data", "biomedicine",
        "biomedicine.mongolian_chinese_medicine", "high_end_equipment", "modern_agriculture",
        "modern_agriculture.dairy", "new_energy.wind", "new_energy.solar", "new_energy.hydrogen",
        "new_energy.storage", "coal_chemicals", "ecology.desertification", "water_resources",
    } <= codes  # fmt: skip
    assert all(f.parent is None or f.parent in codes for f in fields().values())


@pytest.mark.parametrize(
    ("trl", "stage"),
    [(1, "laboratory"), (3, "laboratory"), (4, "small_scale"), (5, "small_scale"), (6, "pilot"),
     (7, "pilot"), (8, "industrialized"), (9, "industrialized")],
)  # fmt: skip
def test_stage_follows_trl(trl: int, stage: str) -> None:
    assert stage_of(trl) == stage
