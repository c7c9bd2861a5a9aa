"""The contract summary and the registration certificate (技术合同登记证明) as PDFs, with the
Chinese font embedded (subset) so that any reader shows it, in the reader's language (Chinese,
or English under `Accept-Language: en`) and with times in Beijing time. Pure: they know what
they print, not the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Literal

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from app.accounts.identifiers import party_natures
from app.core.clock import beijing_date, beijing_time
from app.core.i18n import Locale, Text, aside, in_locale, listed, said
from app.core.money import Money
from app.core.pdf import FONT_NAME, new_document
from app.results.taxonomy import label as field_label

Side = Literal["seller", "buyer"]

CONTRACT_TYPES: dict[str, Text] = {
    "development": ("技术开发合同", "Technology development contract"),
    "transfer": ("技术转让合同", "Technology transfer contract"),
    "licence": ("技术许可合同", "Technology licence contract"),
    "consulting": ("技术咨询合同", "Technology consulting contract"),
    "service": ("技术服务合同", "Technology service contract"),
}
EXCLUSIVITY: dict[str, Text] = {
    "exclusive": ("独占许可", "Exclusive licence"),
    "sole": ("排他许可", "Sole licence"),
    "non_exclusive": ("普通许可", "Non-exclusive licence"),
}
# Who the seller and the buyer are in each kind of contract (民法典 第三编 第二十章).
ROLES: dict[str, tuple[Text, Text]] = {
    "development": (
        ("研究开发人（卖方）", "Developer (seller)"),
        ("委托人（买方）", "Client (buyer)"),
    ),
    "transfer": (("让与人（卖方）", "Assignor (seller)"), ("受让人（买方）", "Assignee (buyer)")),
    "licence": (("许可人（卖方）", "Licensor (seller)"), ("被许可人（买方）", "Licensee (buyer)")),
    "consulting": (("受托人（卖方）", "Consultant (seller)"), ("委托人（买方）", "Client (buyer)")),
    "service": (
        ("受托人（卖方）", "Service provider (seller)"),
        ("委托人（买方）", "Client (buyer)"),
    ),
}
STATES: dict[str, Text] = {
    "draft": ("草拟", "draft"),
    "signed": ("已签署", "signed"),
    "registered": ("已认定登记", "registered"),
    "performing": ("履行中", "performing"),
    "completed": ("履行完毕", "completed"),
    "terminated": ("已终止", "terminated"),
}
SUBTYPES: dict[str, Text] = {
    "commissioned_development": ("委托开发", "commissioned development"),
    "cooperative_development": ("合作开发", "cooperative development"),
    "patent": ("专利", "patent"),
    "patent_application": ("专利申请权", "patent application"),
    "technical_secret": ("技术秘密", "technical secret"),
    "software_copyright": ("计算机软件著作权", "software copyright"),
    "ic_layout": ("集成电路布图设计专有权", "integrated-circuit layout design"),
    "plant_variety": ("植物新品种权", "plant variety"),
    "other_rights": ("其他知识产权", "other rights"),
    "consulting": ("技术咨询", "consulting"),
    "technical_service": ("技术服务", "technical service"),
    "training": ("技术培训", "training"),
    "intermediary": ("技术中介", "intermediary"),
}
RIGHTS: dict[str, Text] = {
    "invention_patent": ("发明专利", "invention patent"),
    "utility_model": ("实用新型", "utility model"),
    "design_patent": ("外观设计", "design patent"),
    "software_copyright": ("软件著作权", "software copyright"),
    "ic_layout": ("集成电路布图设计", "layout design"),
    "plant_variety": ("植物新品种", "plant variety"),
    "technical_secret": ("技术秘密", "technical secret"),
    "other": ("其他", "other"),
}
CROSS_BORDER: dict[str, Text] = {
    "import": ("技术进口", "technology import"),
    "export": ("技术出口", "technology export"),
}
LABELS: dict[str, Text] = {
    "summary": ("技术合同摘要", "Technology contract summary"),
    "certificate": ("技术合同登记证明", "Technology contract registration certificate"),
    "number": ("登记编号", "Registration number"),
    "not_registered": ("（尚未认定登记）", "(not registered yet)"),
    "subject": ("合同名称", "Contract"),
    "project": ("项目名称", "Project"),
    "type": ("合同类型", "Contract type"),
    "state": ("合同状态", "State"),
    "version": ("合同版本", "Version"),
    "signed": ("签署", "signed"),
    "unsigned": ("未签署", "not signed"),
    "nature": ("　性质／所在地", "  Nature / region"),
    "field": ("技术领域", "Technology field"),
    "rights": ("涉及知识产权", "Rights involved"),
    "signed_on": ("签订日期", "Signed on"),
    "cross_border": ("技术进出口", "Import / export"),
    "total": ("合同总额", "Contract total"),
    "deal_total": ("合同成交额", "Contract total"),
    "transaction": ("技术交易额", "Technology-transaction amount"),
    "declared": ("申报技术交易额", "Technology-transaction amount declared"),
    "checked": ("核定技术交易额", "Technology-transaction amount checked"),
    "term": ("合同期限", "Term"),
    "to": ("至", "to"),
    "exclusivity": ("许可方式", "Licence"),
    "scope": ("许可范围", "Licence scope"),
    "registered_on": ("登记日期", "Registered on"),
    "changed_on": ("变更登记日期", "Change registered on"),
    "registrar": ("登记员", "Registrar"),
    "milestones": ("付款节点", "Payment milestones"),
    "deductions": ("核减明细", "Deductions"),
    "line": ("明细项", "Line"),
    "content": ("内容", "Item"),
    "deducted": ("核减金额", "Deducted"),
    "reason": ("理由", "Reason"),
    "no": ("序号", "No."),
    "amount": ("金额", "Amount"),
    "due_on": ("到期日", "Due on"),
    "outstanding": ("未付", "Outstanding"),
    "printed": ("打印时间", "Printed"),
    "beijing": ("北京时间", "Beijing time"),
    "summary_footer": ("techexchange 技术交易市场", "techexchange technology market"),
    "certificate_footer": ("techexchange 技术合同登记", "techexchange contract registration"),
}


def _label(locale: Locale, key: str) -> str:
    return in_locale(locale, LABELS[key])


def _coded(locale: Locale, table: dict[str, Text], code: str) -> str:
    text = table.get(code)
    return in_locale(locale, text) if text else code


def role_of(contract_type: str, side: Side, locale: Locale) -> str:
    seller, buyer = ROLES[contract_type]
    return in_locale(locale, seller if side == "seller" else buyer)


@dataclass(frozen=True)
class Party:
    side: Side
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


def _yuan(money: Money, locale: Locale = "zh-CN") -> str:
    return f"CNY {money.amount:,}" if locale == "en" else f"{money.amount:,} 元"


def render_contract_pdf(summary: ContractSummary, locale: Locale = "zh-CN") -> bytes:
    """The one-page summary of a technology contract (技术合同摘要)."""

    def label(key: str) -> str:
        return _label(locale, key)

    def money(amount: Money) -> str:
        return _yuan(amount, locale)

    pdf = new_document(title=f"{label('summary')} {summary.subject}", created_at=summary.printed_at)
    pdf.set_font(FONT_NAME, size=18)
    pdf.cell(0, 12, label("summary"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    number = summary.registration_number or label("not_registered")
    pdf.cell(0, 7, f"{label('number')}: {number}", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)

    def line(key: str, value: str) -> None:
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(50 if locale == "en" else 38, 8, label(key) if key in LABELS else key)
        pdf.multi_cell(0, 8, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line("subject", summary.subject)
    line("type", _coded(locale, CONTRACT_TYPES, summary.contract_type))
    version = f"(version {summary.version})" if locale == "en" else f"（第 {summary.version} 版）"
    line("state", f"{_coded(locale, STATES, summary.state)} {version}")
    for party in summary.parties:
        signed = beijing_date(party.signed_at).isoformat() if party.signed_at else label("unsigned")
        line(
            role_of(summary.contract_type, party.side, locale),
            listed(
                locale,
                aside(locale, party.name, party.credit_code),
                said(locale, label("signed"), signed),
            ),
        )
    line("total", money(summary.total))
    line("transaction", money(summary.transaction_amount))
    line(
        "term",
        f"{summary.starts_on.isoformat()} {label('to')} {summary.ends_on.isoformat()}",
    )
    if summary.exclusivity:
        line("exclusivity", _coded(locale, EXCLUSIVITY, summary.exclusivity))
    if summary.licence_scope:
        line("scope", summary.licence_scope)
    if summary.registered_at:
        line("registered_on", beijing_date(summary.registered_at).isoformat())
    pdf.ln(4)
    pdf.set_font(FONT_NAME, size=11)
    pdf.cell(0, 8, label("milestones"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    # The font has no bold face: headings stay regular (fpdf2 would ask for one).
    headings = FontFace(emphasis="")
    with pdf.table(
        col_widths=(12, 40, 30, 40),
        text_align=("CENTER", "RIGHT", "CENTER", "RIGHT"),
        headings_style=headings,
    ) as table:
        header = table.row()
        for key in ("no", "amount", "due_on", "outstanding"):
            header.cell(label(key))
        for milestone in summary.milestones:
            row = table.row()
            row.cell(str(milestone.number))
            row.cell(money(milestone.amount))
            row.cell(milestone.due_on.isoformat())
            row.cell(money(milestone.outstanding))
    pdf.ln(6)
    _footer(pdf, summary.printed_at, "summary_footer", locale)
    return bytes(pdf.output())


def _footer(pdf: FPDF, printed_at: datetime, source: str, locale: Locale) -> None:
    printed = beijing_time(printed_at).strftime("%Y-%m-%d %H:%M")
    pdf.set_font(FONT_NAME, size=8)
    note = listed(locale, _label(locale, "beijing"), _label(locale, source))
    pdf.cell(0, 6, aside(locale, said(locale, _label(locale, "printed"), printed), note))


@dataclass(frozen=True)
class CertifiedParty:
    side: Side
    name: str
    credit_code: str
    nature_code: str
    """买卖方性质 as the registration form codes it."""
    division: str
    country_code: str


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
    subtype: str | None
    subject: str
    version: int
    technology_field: str | None
    rights: list[tuple[str, str]]
    """(kind, number) of each right the contract involves."""
    signed_on: date | None
    cross_border: str | None
    parties: list[CertifiedParty]
    total: Money
    declared_transaction_amount: Money
    registered_transaction_amount: Money
    deductions: list[DeductionLine]
    changed_at: datetime | None
    """When the terms shown were registered as a change (变更登记), if they were."""
    printed_at: datetime


def render_registration_certificate(
    certificate: RegistrationCertificate, locale: Locale = "zh-CN"
) -> bytes:
    """The registration certificate (技术合同登记证明): the number, the parties, the contract's
    total (合同成交额) and the 技术交易额 as the registrar checked it (核定), with what was
    deducted and why, the registrar and the day — what the parties show a tax office or a
    subsidy programme (《技术合同认定登记管理办法》: 登记证明载明经核定的技术性收入额)."""

    def label(key: str) -> str:
        return _label(locale, key)

    def money(amount: Money) -> str:
        return _yuan(amount, locale)

    title = f"{label('certificate')} {certificate.registration_number}"
    pdf = new_document(title=title, created_at=certificate.printed_at)
    pdf.set_font(FONT_NAME, size=16 if locale == "en" else 18)
    pdf.cell(0, 12, label("certificate"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT_NAME, size=10)
    pdf.cell(
        0,
        7,
        said(locale, label("number"), certificate.registration_number),
        align="C",
        new_x=XPos.LMARGIN,
        new_y=YPos.NEXT,
    )
    pdf.ln(4)

    def line(key: str, value: str) -> None:
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(62 if locale == "en" else 42, 8, label(key) if key in LABELS else key)
        pdf.multi_cell(0, 8, value, new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    line("project", certificate.subject)
    kind = _coded(locale, CONTRACT_TYPES, certificate.contract_type)
    if certificate.subtype is not None:
        kind = f"{kind}／{_coded(locale, SUBTYPES, certificate.subtype)}"
    line("type", kind)
    if certificate.cross_border is not None:
        line("cross_border", _coded(locale, CROSS_BORDER, certificate.cross_border))
    line("version", str(certificate.version))
    if certificate.signed_on is not None:
        line("signed_on", certificate.signed_on.isoformat())
    if certificate.technology_field is not None:
        line("field", field_label(certificate.technology_field, locale))
    if certificate.rights:
        line(
            "rights",
            listed(locale, *(f"{_coded(locale, RIGHTS, k)} {n}" for k, n in certificate.rights)),
        )
    for party in certificate.parties:
        line(
            role_of(certificate.contract_type, party.side, locale),
            aside(locale, party.name, party.credit_code),
        )
        nature = party_natures().get(party.nature_code)
        described = [
            f"{party.nature_code} {in_locale(locale, (nature.zh, nature.en)) if nature else ''}",
            party.division,
        ]
        if party.country_code != "CHN":
            described.append(party.country_code)
        line("nature", "／".join(part.strip() for part in described if part.strip()))
    line("deal_total", money(certificate.total))
    line("declared", money(certificate.declared_transaction_amount))
    line("checked", money(certificate.registered_transaction_amount))
    if certificate.deductions:
        pdf.ln(2)
        pdf.set_font(FONT_NAME, size=11)
        pdf.cell(0, 8, label("deductions"), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.set_font(FONT_NAME, size=10)
        with pdf.table(
            col_widths=(12, 40, 30, 60),
            text_align=("CENTER", "LEFT", "RIGHT", "LEFT"),
            headings_style=FontFace(emphasis=""),
        ) as table:
            header = table.row()
            for key in ("line", "content", "deducted", "reason"):
                header.cell(label(key))
            for deduction in certificate.deductions:
                row = table.row()
                row.cell(str(deduction.item))
                row.cell(deduction.description)
                row.cell(money(deduction.amount))
                row.cell(deduction.reason)
        pdf.ln(2)
    line("registered_on", beijing_date(certificate.registered_at).isoformat())
    if certificate.changed_at is not None:
        line("changed_on", beijing_date(certificate.changed_at).isoformat())
    line("registrar", certificate.registrar)
    pdf.ln(6)
    _footer(pdf, certificate.printed_at, "certificate_footer", locale)
    return bytes(pdf.output())
