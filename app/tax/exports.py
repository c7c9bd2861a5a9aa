"""A filing as XLSX (openpyxl) and PDF (Chinese font embedded): the same lines, totals,
exclusions and citations as the JSON, for the people who read them — Chinese labels for every
column and code, amounts as numbers (a spreadsheet can sum them) or with thousands separators
(a PDF), dates as dates, times in Beijing. Pure: they take the filing's content."""

from __future__ import annotations

import io
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from openpyxl import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from app.core.clock import beijing_time
from app.core.pdf import FONT_NAME, new_document

TITLES = {
    "vat_exemption": "技术转让、技术开发免征增值税申报表",
    "eit_transfer_income": "技术转让所得减免企业所得税申报表",
    "rd_super_deduction": "委托研发费用加计扣除申报表",
    "researcher_reward_relief": "科技人员现金奖励减半计税申报表",
}
LABELS = {
    # totals
    "income": "技术转让所得",
    "exempt": "免税所得",
    "excess": "超过500万元部分",
    "taxable_half": "减半征收的应税所得",
    "reduced": "减免所得合计",
    "exempt_sales": "免税销售额",
    "taxable_sales": "应税销售额",
    "taxpayer_kind": "纳税人类型",
    "rate": "适用税率",
    "vat_forgone": "免征增值税额",
    "counted": "可加计的委托研发费用",
    "deduction": "加计扣除额",
    "taxable": "计入工资薪金的部分",
    "relieved": "减计部分",
    # lines
    "deal_id": "交易编号",
    "payment_id": "收款编号",
    "registration_number": "认定登记编号",
    "kind": "收款类型",
    "part": "合同部分",
    "received": "收款金额",
    "reason": "不适用原因",
    "revenue": "技术转让收入",
    "costs": "成本费用",
    "included": "计入减免",
    "paid_on": "支付日期",
    "expense": "委托研发费用",
    "researcher": "科技人员",
    "reward": "现金奖励",
    "conditions_met": "符合减半条件",
    "published_on": "公示日期",
    "amount": "金额",
}
LINE_LABELS = {**LABELS, "exempt": "是否免税"}
"""Column headings of lines and exclusions, where `exempt` says whether a receipt is."""
VALUES = {
    "kind": {"milestone": "付款节点", "deposit": "保证金转价款", "refund": "退款"},
    "part": {"technology": "技术部分", "non_technical": "非技术部分（设备、材料等）"},
    "taxpayer_kind": {"general": "一般纳税人", "small_scale": "小规模纳税人"},
    "reason": {
        "contract_type": "合同类型不适用",
        "not_registered": "未经技术合同认定登记",
        "non_technical_part": "非技术部分，不属于技术收入（国税函〔2009〕212号）",
        "result_kind": "成果类型不在减免范围内",
        "related_party": "100%关联方之间的转让",
        "licence_term": "许可期限不足5年",
        "non_exclusive_before_2015_10": "2015年10月1日前的非独占许可",
        "unclassified": "未关联科技成果，待人工认定",
    },
}
AMOUNTS = frozenset(
    {
        "income", "exempt", "excess", "taxable_half", "reduced", "exempt_sales",
        "taxable_sales", "vat_forgone", "counted", "deduction", "taxable", "relieved",
        "received", "revenue", "costs", "expense", "reward", "amount",
    }
)  # fmt: skip
DATES = frozenset({"paid_on", "published_on"})
RATES = frozenset({"rate"})
MONEY_FORMAT = "#,##0.00"
"""Spreadsheet amounts: yuan with thousands separators and two decimals."""
ORDER = [
    "deal_id", "payment_id", "registration_number", "researcher", "kind", "part", "paid_on",
    "received", "revenue", "costs", "income", "expense", "counted", "rate", "deduction",
    "reward", "taxable", "relieved", "amount", "exempt", "included", "conditions_met",
    "published_on", "reason",
]  # fmt: skip


def _label(key: str, *, line: bool = False) -> str:
    return (LINE_LABELS if line else LABELS).get(key, key)


def _text(key: str, value: Any) -> str:
    """A value as a person reads it: Chinese for codes, 是/否, thousands separators."""
    if value is True:
        return "是"
    if value is False:
        return "否"
    if value is None:
        return ""
    if key in VALUES:
        return VALUES[key].get(str(value), str(value))
    if key in AMOUNTS:
        return f"{Decimal(str(value)):,.2f}"
    if key in RATES:
        return f"{Decimal(str(value)) * 100:.0f}%"
    return str(value)


def _typed(key: str, value: Any) -> tuple[Any, str | None]:
    """A value for a spreadsheet cell, with its number format: amounts and rates as numbers,
    dates as dates, codes in Chinese."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return _text(key, value), None
    if key in AMOUNTS:
        return Decimal(str(value)), MONEY_FORMAT
    if key in RATES:
        return Decimal(str(value)), "0%"
    if key in DATES:
        return date.fromisoformat(str(value)), "yyyy-mm-dd"
    return _text(key, value), None


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    keys = {key for row in rows for key in row}
    return [key for key in ORDER if key in keys] + sorted(keys - set(ORDER))


def _append(sheet: Worksheet, key_values: list[tuple[str, Any]]) -> None:
    sheet.append([_typed(key, value)[0] for key, value in key_values])
    for cell, (key, value) in zip(sheet[sheet.max_row], key_values, strict=False):
        number_format = _typed(key, value)[1]
        if number_format:
            cell.number_format = number_format


def _table(book: Workbook, title: str, rows: list[dict[str, Any]]) -> None:
    sheet = book.create_sheet(title)
    columns = _columns(rows)
    sheet.append([_label(column, line=True) for column in columns])
    for row in rows:
        _append(sheet, [(column, row.get(column)) for column in columns])


def filing_xlsx(content: dict[str, Any], *, version: int) -> bytes:
    """Sheets: the header and totals, the lines, the exclusions and the citations."""
    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = "申报表"
    taxpayer = content.get("taxpayer", {})
    summary.append([TITLES.get(content.get("kind", ""), content.get("kind", ""))])
    summary.append(
        ["纳税人", taxpayer.get("name"), "统一社会信用代码", taxpayer.get("credit_code")]
    )
    summary.append(["所属期", content.get("period"), "版本", version])
    summary.append([])
    for key, value in content.get("totals", {}).items():
        _append(summary, [("", _label(key)), (key, value)])
    _table(book, "明细", content.get("lines", []))
    _table(book, "不适用", content.get("excluded", []))
    citations = book.create_sheet("依据")
    for citation in content.get("rule_set", {}).get("citations", []):
        citations.append([citation])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filing_pdf(content: dict[str, Any], *, version: int, computed_at: datetime) -> bytes:
    """One or more A4 pages: header, totals, lines (registration number and amounts),
    exclusions, citations, and when it was computed (Beijing time)."""
    title = TITLES.get(content.get("kind", ""), content.get("kind", ""))
    pdf = new_document(title=title, created_at=computed_at)
    pdf.set_font(FONT_NAME, size=16)
    pdf.cell(0, 10, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    taxpayer = content.get("taxpayer", {})
    for text in (
        f"纳税人：{taxpayer.get('name')}（{taxpayer.get('credit_code')}）",
        f"所属期：{content.get('period')}　版本：{version}",
        f"计算时间：{beijing_time(computed_at):%Y-%m-%d %H:%M}（北京时间）",
    ):
        pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for key, value in content.get("totals", {}).items():
        pdf.cell(60, 7, _label(key))
        pdf.cell(0, 7, _text(key, value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for heading, rows in (
        ("明细", content.get("lines", [])),
        ("不适用", content.get("excluded", [])),
    ):
        # Ids are for machines: printed lines name contracts by registration number (an
        # exclusion has only its deal to go by).
        hidden = {"deal_id", "payment_id"} if heading == "明细" else {"payment_id"}
        columns = [c for c in _columns(rows) if c not in hidden]
        if not rows or not columns:
            continue
        pdf.ln(3)
        pdf.cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        with pdf.table(headings_style=FontFace(emphasis="")) as table:
            header = table.row()
            for column in columns:
                header.cell(_label(column, line=True))
            for line in rows:
                row = table.row()
                for column in columns:
                    row.cell(_text(column, line.get(column)))
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=8)
    for citation in content.get("rule_set", {}).get("citations", []):
        pdf.cell(0, 5, f"依据：{citation}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
