"""Reading result rows from CSV and XLSX files (bulk import), with a report per row.

Headers may be the field codes (`title`) or the Chinese column names universities' systems
export (`成果名称`). Cells are read as text and validated by the same schema as the API.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from app.core.errors import field_errors_from_validation
from app.core.i18n import Locale
from app.results.schemas import ResultFields, RowError

HEADER_ALIASES = {
    "成果名称": "title",
    "名称": "title",
    "摘要": "abstract",
    "成果简介": "abstract",
    "关键词": "keywords",
    "成果类型": "kind",
    "申请号": "ip_number",
    "登记号": "ip_number",
    "申请号/登记号": "ip_number",
    "ipc分类号": "ipc_codes",
    "ipc": "ipc_codes",
    "法律状态": "legal_status",
    "技术领域": "field_code",
    "技术成熟度": "trl",
    "财政资助": "publicly_funded",
    "行政区划代码": "division_code",
    "发明人": "inventors",
}
KIND_ALIASES = {
    "发明专利": "invention_patent",
    "实用新型": "utility_model",
    "外观设计": "design_patent",
    "软件著作权": "software_copyright",
    "集成电路布图设计": "ic_layout",
    "植物新品种": "plant_variety",
    "技术秘密": "technical_secret",
    "其他": "other",
}
STATUS_ALIASES = {
    "审中": "pending",
    "授权": "granted",
    "有效": "granted",
    "失效": "lapsed",
    "不适用": "not_applicable",
}
TRUE = {"true", "1", "yes", "y", "是", "有"}
FALSE = {"false", "0", "no", "n", "否", "无", ""}
_LIST_SEPARATORS = re.compile(r"[;；,，、]")

MAX_ROWS = 50_000


class UnreadableFile(ValueError):
    """The upload is not a CSV or XLSX file we can read."""


@dataclass
class ParsedRow:
    row: int
    fields: ResultFields | None
    errors: list[RowError]


def _split(value: str) -> list[str]:
    return [part.strip() for part in _LIST_SEPARATORS.split(value) if part.strip()]


def _inventors(value: str) -> list[dict[str, Any]]:
    people = []
    for part in _split(value):
        name, _, share = part.partition(":") if ":" in part else part.partition("：")
        people.append({"name": name.strip(), **({"share": share.strip()} if share.strip() else {})})
    return people


def _boolean(value: str) -> bool | str:
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    return value  # let validation name it


def row_to_payload(cells: dict[str, str]) -> dict[str, Any]:
    """Turn text cells into the JSON shape `ResultFields` validates."""
    payload: dict[str, Any] = {}
    for column, raw in cells.items():
        value = raw.strip()
        if column in {"keywords", "ipc_codes"}:
            payload[column] = _split(value)
        elif column == "inventors":
            payload[column] = _inventors(value)
        elif column == "kind":
            payload[column] = KIND_ALIASES.get(value, value)
        elif column == "legal_status":
            payload[column] = STATUS_ALIASES.get(value, value)
        elif column == "publicly_funded":
            payload[column] = _boolean(value)
        elif column == "ip_number":
            payload[column] = value or None
        elif value:
            payload[column] = value
    return payload


def _canonical(header: str) -> str:
    key = header.strip().lower()
    return HEADER_ALIASES.get(key, HEADER_ALIASES.get(header.strip(), key))


def _csv_rows(content: bytes) -> Iterator[list[str]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            # Spreadsheet software in China often saves CSV as GB18030.
            text = content.decode("gb18030")
        except UnicodeDecodeError as error:
            raise UnreadableFile("encoding") from error
    # newline="": the reader itself splits lines, so a line break inside a quoted cell (or a
    # lone carriage return from an old spreadsheet) is read as the csv module defines it.
    try:
        yield from csv.reader(io.StringIO(text, newline=""))
    except csv.Error as error:
        raise UnreadableFile("csv") from error


def _xlsx_rows(content: bytes) -> Iterator[list[str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as error:
        raise UnreadableFile("xlsx") from error
    sheet = workbook.worksheets[0]
    for values in sheet.iter_rows(values_only=True):
        yield ["" if value is None else str(value) for value in values]
    workbook.close()


def read_rows(filename: str, content: bytes, locale: Locale) -> Iterator[ParsedRow]:
    """Each data row of the file, validated. Row numbers count the header as row 1."""
    is_xlsx = filename.lower().endswith(".xlsx") or content[:4] == b"PK\x03\x04"
    rows = _xlsx_rows(content) if is_xlsx else _csv_rows(content)
    header = next(rows, None)
    if not header:
        raise UnreadableFile("empty")
    columns = [_canonical(name) for name in header]
    for number, cells in enumerate(rows, start=2):
        if number - 1 > MAX_ROWS:
            raise UnreadableFile("too_many_rows")
        if not any(cell.strip() for cell in cells):
            continue
        payload = row_to_payload(dict(zip(columns, cells, strict=False)))
        try:
            yield ParsedRow(number, ResultFields.model_validate(payload), [])
        except ValidationError as error:
            yield ParsedRow(
                number,
                None,
                [
                    RowError(row=number, **{**rendered, "field": rendered["field"] or "row"})
                    for rendered in (
                        e.render(locale) for e in field_errors_from_validation(error.errors())
                    )
                ],
            )
