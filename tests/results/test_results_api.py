"""The results catalogue over HTTP."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest
from openpyxl import Workbook

from app.accounts.models import OrganizationKind
from app.core.auth import MemberRole
from tests.factories import MarketFactory


def _result(organization_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "organization_id": organization_id,
        "title": "一种高矫顽力钕铁硼永磁材料",
        "abstract": "本发明公开了一种通过晶界扩散提高矫顽力的钕铁硼永磁材料制备方法。",
        "keywords": ["钕铁硼", "稀土永磁"],
        "kind": "invention_patent",
        "ip_number": "CN201710601862.3",
        "ipc_codes": ["h01f1/057"],
        "legal_status": "granted",
        "field_code": "new_materials.rare_earths",
        "trl": 6,
        "publicly_funded": True,
        "division_code": "150203",
        "inventors": [{"name": "张明", "share": 60}, {"name": "李华", "share": 40}],
        **overrides,
    }


async def test_create_and_read_a_result(client: httpx.AsyncClient, factory: MarketFactory) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)

    created = await client.post(
        "/v1/results", json=_result(str(university.id)), headers=member.headers
    )
    english = await client.get(
        f"/v1/results/{created.json()['id']}", headers={**member.headers, "Accept-Language": "en"}
    )

    assert created.status_code == 201, created.text
    body = created.json()
    assert body["ip_number"] == "201710601862.3"
    assert body["ipc_codes"] == ["H01F 1/057"]
    assert body["stage"] == "pilot"
    assert body["field_label"] == "稀土新材料"
    assert [i["name"] for i in body["inventors"]] == ["张明", "李华"]
    assert english.json()["field_label"] == "Rare-earth materials"


@pytest.mark.parametrize(
    ("override", "field", "code"),
    [
        ({"ip_number": "201710601862.4"}, "body.ip_number", "patent_check_digit"),
        (
            {"ip_number": "201720601862.9", "kind": "invention_patent"},
            "body.ip_number",
            "patent_kind_mismatch",
        ),
        ({"ip_number": None}, "body.ip_number", "ip_number_required"),
        (
            {"kind": "software_copyright", "ip_number": "SR-1"},
            "body.ip_number",
            "software_number_format",
        ),
        ({"field_code": "alchemy"}, "body.field_code", "field_unknown"),
        # Found by schemathesis: a know-how's number longer than its column was a 500.
        (
            {"kind": "other", "ip_number": "nm-agency-post-subsidy-example"},
            "body.ip_number",
            "string_too_long",
        ),
        ({"ipc_codes": ["X99"]}, "body.ipc_codes.0", "ipc_format"),
        ({"trl": 10}, "body.trl", "less_than_equal"),
        (
            {"inventors": [{"name": "张", "share": 50}, {"name": "李", "share": 40}]},
            "body.inventors",
            "inventor_shares",
        ),
        ({"division_code": "159999"}, "body.division_code", "division_code_invalid"),
    ],
)
async def test_bad_results_name_field_and_rule(
    client: httpx.AsyncClient,
    factory: MarketFactory,
    override: dict[str, Any],
    field: str,
    code: str,
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)

    response = await client.post(
        "/v1/results", json=_result(str(university.id), **override), headers=member.headers
    )

    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert (error["field"], error["code"]) == (field, code)


async def test_a_number_is_catalogued_once_per_organization(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    await client.post("/v1/results", json=_result(str(university.id)), headers=member.headers)

    again = await client.post(
        "/v1/results", json=_result(str(university.id)), headers=member.headers
    )

    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "body.ip_number"


async def test_results_are_private_to_their_organization(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    result = await factory.result(university)
    stranger = await factory.person(await factory.organization())

    read = await client.get(f"/v1/results/{result.id}", headers=stranger.headers)
    create = await client.post(
        "/v1/results", json=_result(str(university.id)), headers=stranger.headers
    )
    listed = await client.get("/v1/results", headers=stranger.headers)

    assert read.status_code == 404
    assert create.status_code == 404
    assert listed.json()["items"] == []


async def test_a_result_on_the_market_cannot_change(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    listing = await factory.listing(university)
    body = _result(str(university.id))
    del body["organization_id"]

    response = await client.put(
        f"/v1/results/{listing.result_id}", json=body, headers=member.headers
    )

    assert response.status_code == 409
    assert response.json()["code"] == "invalid_state"


async def test_replace_a_result(client: httpx.AsyncClient, factory: MarketFactory) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    result = await factory.result(university)
    body = _result(str(university.id), title="新标题：稀土永磁", inventors=[{"name": "王五"}])
    del body["organization_id"]

    replaced = await client.put(f"/v1/results/{result.id}", json=body, headers=member.headers)

    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["title"] == "新标题：稀土永磁"
    assert [i["name"] for i in replaced.json()["inventors"]] == ["王五"]


# --- bulk import -----------------------------------------------------------------------------

HEADER = ["title", "abstract", "keywords", "kind", "ip_number", "ipc_codes", "legal_status",
          "field_code", "trl", "publicly_funded", "division_code", "inventors"]  # fmt: skip
GOOD = [
    ["风电叶片除冰系统", "一种基于电热膜的风电机组叶片除冰系统，适用于高寒地区风电场。", "风电;除冰", "utility_model",
     "201920123456.5", "F03D 80/40", "granted", "new_energy.wind", "7", "是", "150902", "赵一:50;钱二:50"],
    ["乳清蛋白提取工艺", "一种从奶酪乳清中高效提取乳清蛋白的膜分离工艺。", "乳清;膜分离", "technical_secret",
     "", "A23J 1/20", "not_applicable", "modern_agriculture.dairy", "5", "否", "150105", "孙三"],
    ["荒漠化监测软件", "基于遥感影像的荒漠化动态监测与评估软件系统。", "遥感;荒漠化", "software_copyright",
     "2023SR0123456", "", "granted", "ecology.desertification", "8", "1", "150602", ""],
]  # fmt: skip
BAD = [
    ["坏校验位", "这一行的专利申请号校验位是错的，应被拒绝导入。", "", "invention_patent",
     "201710601862.4", "", "granted", "new_materials", "4", "是", "150102", ""],
    ["未知领域", "这一行的技术领域代码不存在，应被拒绝导入。", "", "other",
     "", "", "pending", "perpetual_motion", "2", "否", "150102", ""],
]  # fmt: skip


def _csv(rows: list[list[str]], header: list[str] = HEADER, encoding: str = "utf-8") -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode(encoding)


def _xlsx(rows: list[list[str]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(HEADER)
    for row in rows:
        sheet.append([int(v) if v.isdigit() and len(v) == 1 else v for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


async def _import(
    client: httpx.AsyncClient, headers: dict[str, str], organization_id: str, content: bytes,
    *, mode: str = "all_or_nothing", filename: str = "results.csv",
) -> httpx.Response:  # fmt: skip
    return await client.post(
        "/v1/results/import",
        data={"organization_id": organization_id, "mode": mode},
        files={"file": (filename, content)},
        headers=headers,
    )


async def test_all_or_nothing_imports_nothing_when_a_row_is_wrong(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)

    response = await _import(client, member.headers, str(university.id), _csv(GOOD + BAD))

    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "import_rejected"
    assert {(e["field"], e["code"]) for e in problem["errors"]} == {
        ("rows[5].ip_number", "patent_check_digit"),
        ("rows[6].field_code", "field_unknown"),
    }
    assert problem["report"]["imported"] == 0
    assert (await client.get("/v1/results", headers=member.headers)).json()["items"] == []


async def test_valid_rows_mode_imports_the_good_ones(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)

    response = await _import(
        client, member.headers, str(university.id), _csv(GOOD + BAD), mode="valid_rows"
    )

    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["rows"], report["imported"], report["rejected"]) == (5, 3, 2)
    assert [e["row"] for e in report["errors"]] == [5, 6]
    results = (await client.get("/v1/results", headers=member.headers)).json()["items"]
    assert len(results) == 3
    wind = next(r for r in results if r["field_code"] == "new_energy.wind")
    assert [(i["name"], i["share"]) for i in wind["inventors"]] == [
        ("赵一", "50.00"),
        ("钱二", "50.00"),
    ]


async def test_xlsx_chinese_headers_and_gb18030(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    chinese = ["成果名称", "摘要", "关键词", "成果类型", "申请号", "IPC分类号", "法律状态",
               "技术领域", "技术成熟度", "财政资助", "行政区划代码", "发明人"]  # fmt: skip
    rows = [[*GOOD[1][:3], "技术秘密", "", "", "不适用", *GOOD[1][7:]]]

    xlsx = await _import(
        client, member.headers, str(university.id), _xlsx(GOOD[:1]), filename="r.xlsx"
    )
    gb = await _import(client, member.headers, str(university.id), _csv(rows, chinese, "gb18030"))

    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.json()["imported"] == 1
    assert gb.status_code == 200, gb.text
    assert gb.json()["imported"] == 1


async def test_duplicates_in_file_and_catalogue_are_row_errors(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    await _import(client, member.headers, str(university.id), _csv(GOOD[:1]))

    again = await _import(
        client,
        member.headers,
        str(university.id),
        _csv([GOOD[2], GOOD[2], GOOD[0]]),
        mode="valid_rows",
    )

    assert again.json()["imported"] == 1
    assert [(e["row"], e["code"]) for e in again.json()["errors"]] == [
        (3, "already_exists"),
        (4, "already_exists"),
    ]


async def test_unreadable_files_and_other_organizations(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    stranger = await factory.person(await factory.organization(), MemberRole.owner)

    garbage = await _import(
        client, member.headers, str(university.id), b"PK\x03\x04not a zip", filename="x.xlsx"
    )
    foreign = await _import(client, stranger.headers, str(university.id), _csv(GOOD))

    assert garbage.status_code == 422
    assert garbage.json()["errors"][0]["field"] == "body.file"
    assert foreign.status_code == 404


@pytest.mark.parametrize(
    ("content", "imported"),
    [
        # A lone carriage return (classic Mac line ends) ends a row, as in any spreadsheet.
        (b"title,abstract\rfoo,bar\r", None),
        # A cell past the csv module's limit (128 KiB) is no table we read.
        (b"title,abstract\nfoo," + b"x" * 200_000 + b"\n", "csv"),
    ],
)
async def test_odd_line_ends_and_binary_csv_are_never_a_500(
    client: httpx.AsyncClient, factory: MarketFactory, content: bytes, imported: str | None
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)

    response = await _import(client, member.headers, str(university.id), content)

    assert response.status_code == 422, response.text
    problem = response.json()
    if imported is None:  # read, and the row refused for its missing fields
        assert problem["code"] == "import_rejected"
    else:
        assert problem["errors"][0]["field"] == "body.file"
        assert "csv" in problem["errors"][0]["message"]


async def test_uploads_may_exceed_the_json_body_limit(
    client: httpx.AsyncClient, factory: MarketFactory
) -> None:
    university = await factory.organization(OrganizationKind.university)
    member = await factory.person(university)
    rows = [[f"成果{n}", *GOOD[1][1:]] for n in range(800)]
    content = _csv(rows)
    assert len(content) > 64 * 1024  # the test settings' JSON limit

    response = await _import(client, member.headers, str(university.id), content)

    assert response.status_code == 200
    assert response.json()["imported"] == 800
