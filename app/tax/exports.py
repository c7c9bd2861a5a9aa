"""A filing as XLSX (openpyxl) and PDF (Chinese font embedded): the same lines, totals and
citations as the JSON. Pure: they take the filing's content."""

from __future__ import annotations

import io
from datetime import datetime
from typing import Any

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace
from openpyxl import Workbook

from app.core.pdf import FONT_NAME, new_document

TITLES = {
    "vat_exemption": "技术转让、技术开发免征增值税申报表",
    "eit_transfer_income": "技术转让所得减免企业所得税申报表",
    "rd_super_deduction": "委托研发费用加计扣除申报表",
    "researcher_reward_relief": "科技人员现金奖励减半计税申报表",
}
LABELS = {
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
}


def _cell(value: Any) -> str:
    if value is True:
        return "是"
    if value is False:
        return "否"
    return "" if value is None else str(value)


def _columns(lines: list[dict[str, Any]]) -> list[str]:
    return sorted({key for line in lines for key in line})


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
        summary.append([LABELS.get(key, key), value])
    lines = content.get("lines", [])
    sheet = book.create_sheet("明细")
    columns = _columns(lines)
    sheet.append(columns)
    for line in lines:
        sheet.append([_cell(line.get(column)) for column in columns])
    excluded = book.create_sheet("不适用")
    excluded.append(["deal_id", "reason"])
    for item in content.get("excluded", []):
        excluded.append([item.get("deal_id"), item.get("reason")])
    citations = book.create_sheet("依据")
    for citation in content.get("rule_set", {}).get("citations", []):
        citations.append([citation])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def filing_pdf(content: dict[str, Any], *, version: int, computed_at: datetime) -> bytes:
    """One or more A4 pages: header, totals, lines (registration number and amounts), citations."""
    title = TITLES.get(content.get("kind", ""), content.get("kind", ""))
    pdf = new_document(title=title, created_at=computed_at)
    pdf.set_font(FONT_NAME, size=16)
    pdf.cell(0, 10, title, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    taxpayer = content.get("taxpayer", {})
    for text in (
        f"纳税人：{taxpayer.get('name')}（{taxpayer.get('credit_code')}）",
        f"所属期：{content.get('period')}　版本：{version}",
    ):
        pdf.cell(0, 7, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    for key, value in content.get("totals", {}).items():
        pdf.cell(60, 7, LABELS.get(key, key))
        pdf.cell(0, 7, str(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    lines = content.get("lines", [])
    if lines:
        pdf.ln(3)
        columns = [c for c in _columns(lines) if c not in {"deal_id", "payment_id"}]
        with pdf.table(headings_style=FontFace(emphasis="")) as table:
            header = table.row()
            for column in columns:
                header.cell(column)
            for line in lines:
                row = table.row()
                for column in columns:
                    row.cell(_cell(line.get(column)))
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=8)
    for citation in content.get("rule_set", {}).get("citations", []):
        pdf.cell(0, 5, f"依据：{citation}", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    return bytes(pdf.output())
