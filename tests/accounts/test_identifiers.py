from __future__ import annotations

import pytest
from pydantic_core import PydanticCustomError

from app.accounts.identifiers import (
    division_path,
    divisions,
    normalize_credit_code,
    normalize_division_code,
)


@pytest.mark.parametrize(
    "code", ["91110000600037341L", "91110000600037341l", "9111 0000 6000 3734 1L"]
)
def test_valid_credit_codes_are_normalized(code: str) -> None:
    assert normalize_credit_code(code) == "91110000600037341L"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("91110000600037341X", "checksum"),
        ("9111000060003734", "length"),
        ("91110000600037341LL", "length"),
        ("9111000060003734IL", "format"),  # I is not in the GB 32100 alphabet
        ("A1110000600037341L", "format"),
    ],
)
def test_invalid_credit_codes_say_why(code: str, reason: str) -> None:
    with pytest.raises(PydanticCustomError) as raised:
        normalize_credit_code(code)
    assert raised.value.type == "uscc_invalid"
    assert raised.value.context == {"reason": reason}


def test_division_table_covers_every_province_and_prefecture() -> None:
    table = divisions()
    provinces = [d for d in table.values() if d.level == "province"]
    prefectures = [d for d in table.values() if d.level == "prefecture"]
    assert len(provinces) == 34
    assert len(prefectures) >= 330


def test_inner_mongolia_is_complete() -> None:
    table = divisions()
    inner_mongolia = [d for code, d in table.items() if code.startswith("15")]
    leagues_and_cities = {d.name for d in inner_mongolia if d.level == "prefecture"}
    counties = [d for d in inner_mongolia if d.level == "county"]
    assert leagues_and_cities == {
        "呼和浩特市", "包头市", "乌海市", "赤峰市", "通辽市", "鄂尔多斯市",
        "呼伦贝尔市", "巴彦淖尔市", "乌兰察布市", "兴安盟", "锡林郭勒盟", "阿拉善盟",
    }  # fmt: skip
    # 103 county-level divisions (旗、县、区、县级市) as of the 2016 康巴什区 change.
    assert len(counties) == 103


def test_division_path_names_province_to_county() -> None:
    assert [d.name for d in division_path("150602")] == ["内蒙古自治区", "鄂尔多斯市", "东胜区"]


@pytest.mark.parametrize("code", ["152100", "999999", "150199"])
def test_retired_or_unknown_codes_are_refused(code: str) -> None:
    with pytest.raises(PydanticCustomError):
        normalize_division_code(code)
