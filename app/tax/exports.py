"""A filing as XLSX (openpyxl) and PDF (Chinese font embedded): the same lines, totals,
exclusions and citations as the JSON, for the people who read them — labels for every column
and code in the reader's language (Chinese, or English under `Accept-Language: en`; the
citations stay as the law writes them), amounts as numbers (a spreadsheet can sum them) or
with thousands separators (a PDF), dates as dates, times in Beijing. Pure: they take the
filing's content."""

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
from app.core.i18n import Locale, Text, aside, in_locale, said
from app.core.pdf import FONT_NAME, new_document

TITLES: dict[str, Text] = {
    "vat_exemption": (
        "技术转让、技术开发免征增值税申报表",
        "VAT exemption for technology transfer and development",
    ),
    "eit_transfer_income": (
        "技术转让所得减免企业所得税申报表",
        "Income tax relief on technology-transfer income",
    ),
    "rd_super_deduction": (
        "委托研发费用加计扣除申报表",
        "Super-deduction of commissioned R&D expenses",
    ),
    "researcher_reward_relief": (
        "科技人员现金奖励减半计税申报表",
        "Half taxation of researchers' cash rewards",
    ),
}
LABELS: dict[str, Text] = {
    # totals
    "income": ("技术转让所得", "Technology-transfer income"),
    "exempt": ("免税所得", "Exempt income"),
    "excess": ("超过500万元部分", "Part above CNY 5,000,000"),
    "taxable_half": ("减半征收的应税所得", "Taxable at half"),
    "reduced": ("减免所得合计", "Relieved income"),
    "exempt_sales": ("免税销售额", "Exempt sales"),
    "taxable_sales": ("应税销售额", "Taxable sales"),
    "taxpayer_kind": ("纳税人类型", "Taxpayer kind"),
    "rate": ("适用税率", "Rate"),
    "vat_forgone": ("免征增值税额", "VAT exempted"),
    "counted": ("可加计的委托研发费用", "Commissioned R&D counted"),
    "deduction": ("加计扣除额", "Super-deduction"),
    "taxable": ("计入工资薪金的部分", "Taxed as wages"),
    "relieved": ("减计部分", "Relieved"),
    # lines
    "deal_id": ("交易编号", "Deal"),
    "payment_id": ("收款编号", "Payment"),
    "registration_number": ("认定登记编号", "Registration number"),
    "kind": ("收款类型", "Receipt"),
    "part": ("合同部分", "Part of the contract"),
    "received": ("收款金额", "Received"),
    "reason": ("不适用原因", "Why not counted"),
    "revenue": ("技术转让收入", "Revenue"),
    "costs": ("成本费用", "Costs"),
    "taxes": ("相关税费", "Related taxes"),
    "included": ("计入减免", "Counted"),
    "paid_on": ("支付日期", "Paid on"),
    "expense": ("委托研发费用", "Commissioned R&D expense"),
    "researcher": ("科技人员", "Researcher"),
    "reward": ("现金奖励", "Cash reward"),
    "conditions_met": ("符合减半条件", "Conditions met"),
    "published_on": ("公示日期", "Made public on"),
    "amount": ("金额", "Amount"),
}
LINE_LABELS: dict[str, Text] = {**LABELS, "exempt": ("是否免税", "Exempt")}
"""Column headings of lines and exclusions, where `exempt` says whether a receipt is."""
VALUES: dict[str, dict[str, Text]] = {
    "kind": {
        "milestone": ("付款节点", "milestone"),
        "deposit": ("保证金转价款", "deposit applied"),
        "refund": ("退款", "refund"),
    },
    "part": {
        "technology": ("技术部分", "technology"),
        "non_technical": ("非技术部分（设备、材料等）", "non-technical (equipment, materials …)"),
    },
    "taxpayer_kind": {
        "general": ("一般纳税人", "general taxpayer"),
        "small_scale": ("小规模纳税人", "small-scale taxpayer"),
    },
    "reason": {
        "contract_type": ("合同类型不适用", "contract type not covered"),
        "not_registered": ("未经技术合同认定登记", "contract not registered"),
        "non_technical_part": (
            "非技术部分，不属于技术收入（国税函〔2009〕212号）",
            "non-technical part: not technology income (国税函〔2009〕212号)",
        ),
        "result_kind": ("成果类型不在减免范围内", "kind of result not covered"),
        "related_party": ("100%关联方之间的转让", "transfer between 100 % related parties"),
        "licence_term": ("许可期限不足5年", "licence shorter than 5 years"),
        "non_exclusive_before_2015_10": (
            "2015年10月1日前的非独占许可",
            "non-exclusive licence before 1 October 2015",
        ),
        "unclassified": ("未关联科技成果，待人工认定", "no result linked: to be classified"),
    },
}
HEADINGS: dict[str, Text] = {
    "filing": ("申报表", "Filing"),
    "lines": ("明细", "Lines"),
    "excluded": ("不适用", "Not counted"),
    "citations": ("依据", "Legal basis"),
    "taxpayer": ("纳税人", "Taxpayer"),
    "credit_code": ("统一社会信用代码", "Unified social credit code"),
    "period": ("所属期", "Period"),
    "version": ("版本", "Version"),
    "computed": ("计算时间", "Computed"),
    "beijing": ("北京时间", "Beijing time"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


AMOUNTS = frozenset(
    {
        "income", "exempt", "excess", "taxable_half", "reduced", "exempt_sales",
        "taxable_sales", "vat_forgone", "counted", "deduction", "taxable", "relieved",
        "received", "revenue", "costs", "taxes", "expense", "reward", "amount",
    }
)  # fmt: skip
DATES = frozenset({"paid_on", "published_on"})
RATES = frozenset({"rate"})
MONEY_FORMAT = "#,##0.00"
"""Spreadsheet amounts: yuan with thousands separators and two decimals."""
ORDER = [
    "deal_id", "payment_id", "registration_number", "researcher", "kind", "part", "paid_on",
    "received", "revenue", "costs", "taxes", "income", "expense", "counted", "rate", "deduction",
    "reward", "taxable", "relieved", "amount", "exempt", "included", "conditions_met",
    "published_on", "reason",
]  # fmt: skip


def _label(key: str, locale: Locale, *, line: bool = False) -> str:
    text = (LINE_LABELS if line else LABELS).get(key)
    return in_locale(locale, text) if text else key


def _text(key: str, value: Any, locale: Locale) -> str:
    """A value as a person reads it: codes in words, yes/no, thousands separators."""
    if value is True:
        return in_locale(locale, HEADINGS["yes"])
    if value is False:
        return in_locale(locale, HEADINGS["no"])
    if value is None:
        return ""
    if key in VALUES:
        text = VALUES[key].get(str(value))
        return in_locale(locale, text) if text else str(value)
    if key in AMOUNTS:
        return f"{Decimal(str(value)):,.2f}"
    if key in RATES:
        return f"{Decimal(str(value)) * 100:.0f}%"
    return str(value)


def _typed(key: str, value: Any, locale: Locale) -> tuple[Any, str | None]:
    """A value for a spreadsheet cell, with its number format: amounts and rates as numbers,
    dates as dates, codes in words."""
    if value is None:
        return None, None
    if isinstance(value, bool):
        return _text(key, value, locale), None
    if key in AMOUNTS:
        return Decimal(str(value)), MONEY_FORMAT
    if key in RATES:
        return Decimal(str(value)), "0%"
    if key in DATES:
        return date.fromisoformat(str(value)), "yyyy-mm-dd"
    return _text(key, value, locale), None


def _columns(rows: list[dict[str, Any]]) -> list[str]:
    keys = {key for row in rows for key in row}
    return [key for key in ORDER if key in keys] + sorted(keys - set(ORDER))


def _append(sheet: Worksheet, key_values: list[tuple[str, Any]], locale: Locale) -> None:
    typed = [_typed(key, value, locale) for key, value in key_values]
    sheet.append([value for value, _ in typed])
    for cell, (_, number_format) in zip(sheet[sheet.max_row], typed, strict=False):
        if number_format:
            cell.number_format = number_format


def _table(book: Workbook, title: str, rows: list[dict[str, Any]], locale: Locale) -> None:
    sheet = book.create_sheet(title)
    columns = _columns(rows)
    sheet.append([_label(column, locale, line=True) for column in columns])
    for row in rows:
        _append(sheet, [(column, row.get(column)) for column in columns], locale)


def _title(content: dict[str, Any], locale: Locale) -> str:
    kind = content.get("kind", "")
    return in_locale(locale, TITLES[kind]) if kind in TITLES else kind


def filing_xlsx(content: dict[str, Any], *, version: int, locale: Locale = "zh-CN") -> bytes:
    """Sheets: the header and totals, the lines, the exclusions and the citations."""

    def heading(key: str) -> str:
        return in_locale(locale, HEADINGS[key])

    book = Workbook()
    summary = book.active
    assert summary is not None
    summary.title = heading("filing")
    taxpayer = content.get("taxpayer", {})
    summary.append([_title(content, locale)])
    summary.append(
        [
            heading("taxpayer"),
            taxpayer.get("name"),
            heading("credit_code"),
            taxpayer.get("credit_code"),
        ]
    )
    summary.append([heading("period"), content.get("period"), heading("version"), version])
    summary.append([])
    for key, value in content.get("totals", {}).items():
        _append(summary, [("", _label(key, locale)), (key, value)], locale)
    _table(book, heading("lines"), content.get("lines", []), locale)
    _table(book, heading("excluded"), content.get("excluded", []), locale)
    citations = book.create_sheet(heading("citations"))
    for citation in content.get("rule_set", {}).get("citations", []):
        citations.append([citation])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filing_pdf(
    content: dict[str, Any], *, version: int, computed_at: datetime, locale: Locale = "zh-CN"
) -> bytes:
    """One or more A4 pages: header, totals, lines (registration number and amounts),
    exclusions, citations, and when it was computed (Beijing time)."""

    def heading(key: str) -> str:
        return in_locale(locale, HEADINGS[key])

    title = _title(content, locale)
    pdf = new_document(title=title, created_at=computed_at)
    pdf.set_font(FONT_NAME, size=16)
    pdf.cell(0, 10, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    taxpayer = content.get("taxpayer", {})
    computed = f"{beijing_time(computed_at):%Y-%m-%d %H:%M}"
    gap = "  " if locale == "en" else "　"
    header = (
        said(
            locale,
            heading("taxpayer"),
            aside(locale, str(taxpayer.get("name")), str(taxpayer.get("credit_code"))),
        ),
        said(locale, heading("period"), content.get("period"))
        + gap
        + said(locale, heading("version"), version),
        said(locale, heading("computed"), aside(locale, computed, heading("beijing"))),
    )
    for text in header:
        pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for key, value in content.get("totals", {}).items():
        pdf.cell(70 if locale == "en" else 60, 7, _label(key, locale))
        pdf.cell(0, 7, _text(key, value, locale), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    for part, rows in (
        ("lines", content.get("lines", [])),
        ("excluded", content.get("excluded", [])),
    ):
        # Ids are for machines: printed lines name contracts by registration number (an
        # exclusion has only its deal to go by).
        hidden = {"deal_id", "payment_id"} if part == "lines" else {"payment_id"}
        columns = [c for c in _columns(rows) if c not in hidden]
        if not rows or not columns:
            continue
        pdf.ln(3)
        pdf.cell(0, 7, heading(part), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        with pdf.table(headings_style=FontFace(emphasis="")) as table:
            row = table.row()
            for column in columns:
                row.cell(_label(column, locale, line=True))
            for line in rows:
                row = table.row()
                for column in columns:
                    row.cell(_text(column, line.get(column), locale))
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=8)
    for citation in content.get("rule_set", {}).get("citations", []):
        pdf.cell(
            0, 5, said(locale, heading("citations"), citation), new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    return bytes(pdf.output())
