"""The contract summary as a PDF, with the Chinese font embedded (subset) so that any reader
shows it. Pure: it knows the summary, not the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from app.core.clock import beijing_date, beijing_time
from app.core.money import Money
from app.core.pdf import FONT_NAME, new_document

CONTRACT_TYPES = {
    "development": "技术开发合同",
    "transfer": "技术转让合同",
    "licence": "技术许可合同",
    "consulting": "技术咨询合同",
    "service": "技术服务合同",
}
EXCLUSIVITY = {"exclusive": "独占许可", "sole": "排他许可", "non_exclusive": "普通许可"}
# Who the seller and the buyer are in each kind of contract (民法典 第三编 第二十章).
ROLES = {
    "development": ("研究开发人（卖方）", "委托人（买方）"),
    "transfer": ("让与人（卖方）", "受让人（买方）"),
    "licence": ("许可人（卖方）", "被许可人（买方）"),
    "consulting": ("受托人（卖方）", "委托人（买方）"),
    "service": ("受托人（卖方）", "委托人（买方）"),
}
STATES = {
    "draft": "草拟",
    "signed": "已签署",
    "registered": "已认定登记",
    "performing": "履行中",
    "completed": "履行完毕",
    "terminated": "已终止",
}


@dataclass(frozen=True)
class Party:
    role: str
    name: str
    credit_code: str
    signed_at: datetime | None


@dataclass(frozen=True)
class MilestoneLine:
    number: int
    amount: Money
    due_on: date
    outstanding: Money


@dataclass(frozen=True)
class ContractSummary:
    contract_type: str
    subject: str
    state: str
    version: int
    registration_number: str | None
    registered_at: datetime | None
    parties: list[Party]
    total: Money
    transaction_amount: Money
    starts_on: date
    ends_on: date
    exclusivity: str | None
    licence_scope: str | None
    milestones: list[MilestoneLine]
    printed_at: datetime


def _yuan(money: Money) -> str:
    return f"{money.amount:,} 元"


def render_contract_pdf(summary: ContractSummary) -> bytes:
    """The one-page summary of a technology contract (技术合同摘要)."""
    pdf = new_document(title=f"技术合同摘要 {summary.subject}", created_at=summary.printed_at)
    pdf.set_font(FONT_NAME, size=18)
    pdf.cell(0, 12, "技术合同摘要", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    number = summary.registration_number or "（尚未认定登记）"
    pdf.cell(0, 7, f"登记编号：{number}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    def line(label: str, value: str) -> None:
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(38, 8, label)
        pdf.multi_cell(0, 8, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line("合同名称", summary.subject)
    line("合同类型", CONTRACT_TYPES.get(summary.contract_type, summary.contract_type))
    line("合同状态", f"{STATES.get(summary.state, summary.state)}（第 {summary.version} 版）")
    for party in summary.parties:
        signed = beijing_date(party.signed_at).isoformat() if party.signed_at else "未签署"
        line(party.role, f"{party.name}（{party.credit_code}），签署：{signed}")
    line("合同总额", _yuan(summary.total))
    line("技术交易额", _yuan(summary.transaction_amount))
    line("合同期限", f"{summary.starts_on.isoformat()} 至 {summary.ends_on.isoformat()}")
    if summary.exclusivity:
        line("许可方式", EXCLUSIVITY.get(summary.exclusivity, summary.exclusivity))
    if summary.licence_scope:
        line("许可范围", summary.licence_scope)
    if summary.registered_at:
        line("登记日期", beijing_date(summary.registered_at).isoformat())
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=11)
    pdf.cell(0, 8, "付款节点", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    # The font has no bold face: headings stay regular (fpdf2 would ask for one).
    headings = FontFace(emphasis="")
    with pdf.table(
        col_widths=(12, 40, 30, 40),
        text_align=("CENTER", "RIGHT", "CENTER", "RIGHT"),
        headings_style=headings,
    ) as table:
        header = table.row()
        for title in ("序号", "金额", "到期日", "未付"):
            header.cell(title)
        for milestone in summary.milestones:
            row = table.row()
            row.cell(str(milestone.number))
            row.cell(_yuan(milestone.amount))
            row.cell(milestone.due_on.isoformat())
            row.cell(_yuan(milestone.outstanding))
    pdf.ln(6)
    pdf.set_font(FONT_NAME, size=8)
    printed = beijing_time(summary.printed_at).strftime("%Y-%m-%d %H:%M")
    pdf.cell(0, 6, f"打印时间：{printed}（北京时间，techexchange 技术交易市场）")
    return bytes(pdf.output())
