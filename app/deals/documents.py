"""The contract summary and the registration certificate (技术合同登记证明) as PDFs, with the
Chinese font embedded (subset) so that any reader shows it. Pure: they know what they print,
not the database."""

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


# The party's nature as the registration form codes it (买卖方性质), by organization kind.
NATURES = {
    "enterprise": "企业",
    "university": "高等院校",
    "research_institute": "科研机构",
    "transfer_agency": "技术转移机构",
    "platform": "其他",
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


@dataclass(frozen=True)
class CertifiedParty:
    role: str
    name: str
    credit_code: str
    nature: str
    division: str


@dataclass(frozen=True)
class DeductionLine:
    item: int
    description: str
    amount: Money
    reason: str


@dataclass(frozen=True)
class RegistrationCertificate:
    registration_number: str
    registered_at: datetime
    registrar: str
    contract_type: str
    subject: str
    version: int
    parties: list[CertifiedParty]
    total: Money
    declared_transaction_amount: Money
    registered_transaction_amount: Money
    deductions: list[DeductionLine]
    changed_at: datetime | None
    """When the terms shown were registered as a change (变更登记), if they were."""
    printed_at: datetime


def render_registration_certificate(certificate: RegistrationCertificate) -> bytes:
    """The registration certificate (技术合同登记证明): the number, the parties, the contract's
    total (合同成交额) and the 技术交易额 as the registrar checked it (核定), with what was
    deducted and why, the registrar and the day — what the parties show a tax office or a
    subsidy programme (《技术合同认定登记管理办法》: 登记证明载明经核定的技术性收入额)."""
    title = f"技术合同登记证明 {certificate.registration_number}"
    pdf = new_document(title=title, created_at=certificate.printed_at)
    pdf.set_font(FONT_NAME, size=18)
    pdf.cell(0, 12, "技术合同登记证明", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    pdf.cell(
        0,
        7,
        f"登记编号：{certificate.registration_number}",
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)

    def line(label: str, value: str) -> None:
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(42, 8, label)
        pdf.multi_cell(0, 8, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line("项目名称", certificate.subject)
    line("合同类型", CONTRACT_TYPES.get(certificate.contract_type, certificate.contract_type))
    line("合同版本", f"第 {certificate.version} 版")
    for party in certificate.parties:
        line(party.role, f"{party.name}（{party.credit_code}）")
        line("　性质／所在地", f"{party.nature}／{party.division}")
    line("合同成交额", _yuan(certificate.total))
    line("申报技术交易额", _yuan(certificate.declared_transaction_amount))
    line("核定技术交易额", _yuan(certificate.registered_transaction_amount))
    if certificate.deductions:
        pdf.ln(2)
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(0, 8, "核减明细", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT_NAME, size=10)
        with pdf.table(
            col_widths=(12, 40, 30, 60),
            text_align=("CENTER", "LEFT", "RIGHT", "LEFT"),
            headings_style=FontFace(emphasis=""),
        ) as table:
            header = table.row()
            for heading in ("明细项", "内容", "核减金额", "理由"):
                header.cell(heading)
            for deduction in certificate.deductions:
                row = table.row()
                row.cell(str(deduction.item))
                row.cell(deduction.description)
                row.cell(_yuan(deduction.amount))
                row.cell(deduction.reason)
        pdf.ln(2)
    line("登记日期", beijing_date(certificate.registered_at).isoformat())
    if certificate.changed_at is not None:
        line("变更登记日期", beijing_date(certificate.changed_at).isoformat())
    line("登记员", certificate.registrar)
    pdf.ln(6)
    pdf.set_font(FONT_NAME, size=8)
    printed = beijing_time(certificate.printed_at).strftime("%Y-%m-%d %H:%M")
    pdf.cell(0, 6, f"打印时间：{printed}（北京时间，techexchange 技术合同登记）")
    return bytes(pdf.output())
