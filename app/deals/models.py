"""Tables of the deals package: deals, technology contracts and their versions."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum


class DealSource(StrEnum):
    fixed_price_listing = "fixed_price_listing"  # the one intent when the window closed
    auction = "auction"
    negotiation = "negotiation"  # a negotiable listing (面议), by agreement of both parties
    off_platform = "off_platform"  # a contract concluded elsewhere, registered here
    challenge = "challenge"  # an open challenge's confirmed award (揭榜挂帅): the winner develops


class DealState(StrEnum):
    open = "open"


class Deal(IdMixin, Base):
    """An agreed transaction between a seller and a buyer, on its way to a contract."""

    __tablename__ = "deals"

    listing_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("listings.id"), unique=True)
    seller_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    buyer_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    price_fen: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3), default="CNY", server_default="CNY")
    deposit_applied_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """The winner's auction deposit (保证金), applied towards the price."""
    source: Mapped[DealSource] = mapped_column(pg_enum(DealSource, "deal_source"))
    state: Mapped[DealState] = mapped_column(
        pg_enum(DealState, "deal_state"), default=DealState.open
    )
    opened_at: Mapped[datetime]
    opened_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint("seller_organization_id <> buyer_organization_id", name="two_parties"),
    )


class DealBroker(Base):
    """A technology broker (技术经纪人) the parties name as having helped bring the deal about;
    reward claims (the rewards package) start from here."""

    __tablename__ = "deal_brokers"

    deal_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deals.id", ondelete="CASCADE"), primary_key=True
    )
    broker_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("broker_profiles.id"), primary_key=True)
    named_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    named_at: Mapped[datetime]


class ContractType(StrEnum):
    """The five kinds of technology contract (技术合同) of the Civil Code, book III ch. 20."""

    development = "development"  # 技术开发
    transfer = "transfer"  # 技术转让
    licence = "licence"  # 技术许可
    consulting = "consulting"  # 技术咨询
    service = "service"  # 技术服务


class ContractSubtype(StrEnum):
    """The registration form's contract sub-type (合同类别细分): 民法典 第八百五十一条
    (委托开发, 合作开发), 第八百六十二条 and 第八百七十六条 (the rights transferred or
    licensed), 第八百七十八条 and 《技术合同认定规则》 (技术培训, 技术中介 as kinds of 技术服务)."""

    commissioned_development = "commissioned_development"  # 委托开发
    cooperative_development = "cooperative_development"  # 合作开发
    patent = "patent"  # 专利权转让 / 专利实施许可
    patent_application = "patent_application"  # 专利申请权转让
    technical_secret = "technical_secret"  # noqa: S105 - 技术秘密转让 / 使用许可
    software_copyright = "software_copyright"  # 计算机软件著作权
    ic_layout = "ic_layout"  # 集成电路布图设计专有权
    plant_variety = "plant_variety"  # 植物新品种权
    other_rights = "other_rights"  # 其他知识产权（生物医药新品种等）
    consulting = "consulting"  # 技术咨询（可行性论证、技术预测、专题技术调查、分析评价报告）
    technical_service = "technical_service"  # 技术服务
    training = "training"  # 技术培训
    intermediary = "intermediary"  # 技术中介


_RIGHTS = (
    ContractSubtype.patent,
    ContractSubtype.technical_secret,
    ContractSubtype.software_copyright,
    ContractSubtype.ic_layout,
    ContractSubtype.plant_variety,
    ContractSubtype.other_rights,
)
SUBTYPES: dict[ContractType, frozenset[ContractSubtype]] = {
    ContractType.development: frozenset(
        {ContractSubtype.commissioned_development, ContractSubtype.cooperative_development}
    ),
    ContractType.transfer: frozenset({*_RIGHTS, ContractSubtype.patent_application}),
    ContractType.licence: frozenset(_RIGHTS),  # a patent application is assigned, not licensed
    ContractType.consulting: frozenset({ContractSubtype.consulting}),
    ContractType.service: frozenset(
        {
            ContractSubtype.technical_service,
            ContractSubtype.training,
            ContractSubtype.intermediary,
        }
    ),
}
"""The sub-types each contract type has."""

RIGHT_KINDS: dict[ContractSubtype, frozenset[str]] = {
    ContractSubtype.patent: frozenset({"invention_patent", "utility_model", "design_patent"}),
    ContractSubtype.patent_application: frozenset(
        {"invention_patent", "utility_model", "design_patent"}
    ),
    ContractSubtype.software_copyright: frozenset({"software_copyright"}),
    ContractSubtype.ic_layout: frozenset({"ic_layout"}),
    ContractSubtype.plant_variety: frozenset({"plant_variety"}),
}
"""The kinds of right (the results catalogue's kinds) a sub-type's contract must name: its
registration form lists the patent or registration numbers involved."""


class Exclusivity(StrEnum):
    exclusive = "exclusive"  # 独占许可
    sole = "sole"  # 排他许可
    non_exclusive = "non_exclusive"  # 普通许可


class ContractState(StrEnum):
    draft = "draft"  # no version signed by both parties yet
    signed = "signed"
    registered = "registered"  # 认定登记: counts for broker rewards and tax filings
    performing = "performing"  # money has started to arrive
    completed = "completed"  # every milestone paid
    terminated = "terminated"


class Contract(IdMixin, Base):
    """The technology contract (技术合同) of a deal. Its terms live in numbered versions: once a
    version is signed it is never edited; a change is a new version (an amendment) that both
    parties sign again."""

    __tablename__ = "contracts"

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id"), unique=True)
    state: Mapped[ContractState] = mapped_column(
        pg_enum(ContractState, "contract_state"), default=ContractState.draft
    )
    effective_version: Mapped[int | None]
    """The last version both parties signed."""
    registration_number: Mapped[str | None] = mapped_column(String(20), unique=True)
    registered_at: Mapped[datetime | None]
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    rejection_reasons: Mapped[list[str] | None] = mapped_column(JSONB)
    """The registrar's reasons when registration was last refused."""
    registered_transaction_fen: Mapped[int | None] = mapped_column(BigInteger)
    """技术交易额 as the registrar's last decision set it (registration, or the registration of a
    change, 变更登记): the figure that counts. An amendment signed since counts only once its
    change is registered."""
    registration_applied_at: Mapped[datetime | None]
    """When the version in force was signed by both, which applies for registration (受理): the
    registrar decides within `registration.DECISION_DAYS` of it. An amendment signed after a
    refusal (补正) applies anew."""
    terminated_at: Mapped[datetime | None]
    termination_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime]


class PriceItemCategory(StrEnum):
    """What a line of the price list (报价明细清单) pays for: the technology, or one of the
    non-technical parts the 技术交易额 leaves out (《技术合同认定规则》 第五十一条)."""

    technology = "technology"  # 技术部分
    equipment = "equipment"  # 设备
    instruments = "instruments"  # 仪器
    parts = "parts"  # 零部件
    raw_materials = "raw_materials"  # 原材料
    construction = "construction"  # 工程施工
    other = "other"  # 其他非技术性费用


class ContractVersion(IdMixin, Base):
    """One version of a contract's terms, with each party's signature."""

    __tablename__ = "contract_versions"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"))
    number: Mapped[int]
    contract_type: Mapped[ContractType] = mapped_column(pg_enum(ContractType, "contract_type"))
    subject: Mapped[str] = mapped_column(String(200))
    """The contract's subject (项目名称)."""
    content: Mapped[str | None] = mapped_column(Text)
    total_fen: Mapped[int] = mapped_column(BigInteger)
    transaction_fen: Mapped[int] = mapped_column(BigInteger)
    """Technology-transaction amount (技术交易额): the total less equipment, materials and other
    non-technology parts."""
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    subtype: Mapped[ContractSubtype | None] = mapped_column(
        pg_enum(ContractSubtype, "contract_subtype")
    )
    """The registration form's sub-type; registration requires it."""
    technology_field: Mapped[str | None] = mapped_column(String(60))
    """技术领域: a code of the field taxonomy; registration requires it."""
    intellectual_property: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    """The rights involved: [{"kind": "invention_patent" | "software_copyright" | …,
    "number": "…"}, …] (the patent application or registration numbers)."""
    licence_scope: Mapped[str | None] = mapped_column(String(500))
    exclusivity: Mapped[Exclusivity | None] = mapped_column(pg_enum(Exclusivity, "exclusivity"))
    milestones: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    """[{"number": 1, "amount_fen": n, "due_on": "YYYY-MM-DD", "description": "…"}, …]"""
    price_items: Mapped[list[dict[str, Any]]] = mapped_column(
        JSONB, default=list, server_default=text("'[]'::jsonb")
    )
    """The price list (报价明细清单): [{"number": 1, "category": "technology" | "equipment" | …,
    "description": "…", "amount_fen": n}, …]; empty when the parties gave none."""
    registered_transaction_fen: Mapped[int | None] = mapped_column(BigInteger)
    """技术交易额 as the registrar checked it (核定) when registering this version: the declared
    figure less the deductions. Once set, it is the figure that counts (rewards, subsidies,
    tax filings, statistics)."""
    deductions: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    """The registrar's deductions: [{"item": n, "amount_fen": n, "reason": "…"}, …]."""
    registered_at: Mapped[datetime | None]
    """When the registrar registered this version: the contract's registration, or (an
    amendment of a registered contract) its change registration (变更登记)."""
    registered_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    registration_form: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    """The registration form (技术合同登记表) as registered: both parties as they were that day
    (name, credit code, nature, division and country codes), the signing date and whether the
    contract is a technology import or export; the rest of the form is this version's terms."""
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    seller_signed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    seller_signed_at: Mapped[datetime | None]
    buyer_signed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    buyer_signed_at: Mapped[datetime | None]

    __table_args__ = (
        UniqueConstraint("contract_id", "number"),
        CheckConstraint("total_fen > 0", name="total_positive"),
        CheckConstraint(
            "transaction_fen > 0 AND transaction_fen <= total_fen", name="transaction_within_total"
        ),
        CheckConstraint(
            "registered_transaction_fen IS NULL OR "
            "(registered_transaction_fen > 0 AND registered_transaction_fen <= transaction_fen)",
            name="registered_within_declared",
        ),
        CheckConstraint("starts_on <= ends_on", name="term_order"),
        CheckConstraint(
            "(contract_type = 'licence') = (exclusivity IS NOT NULL)", name="licence_exclusivity"
        ),
    )


class RegistrationCounter(Base):
    """The last registration number given per region and year (numbers have no gaps)."""

    __tablename__ = "contract_registration_counters"

    division_code: Mapped[str] = mapped_column(String(6), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int]


class TransformationIncome(IdMixin, Base):
    """The net income (净收入) a university or institute seller declares for one received
    payment, and the inventors' pool taken from it."""

    __tablename__ = "transformation_incomes"

    deal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deals.id"), index=True)
    payment_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("payments.id"), unique=True)
    income_fen: Mapped[int] = mapped_column(BigInteger)
    costs_fen: Mapped[int] = mapped_column(BigInteger)
    """Costs the seller declares against the income (evaluation, filing, agency fees …)."""
    related_taxes_fen: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    """相关税费 the seller declares against the income: taxes and surcharges other than income
    tax and deductible VAT, contract and lawyers' fees (国税函〔2009〕212号 第三条)."""
    reward_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    pool_fen: Mapped[int] = mapped_column(BigInteger)
    declared_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    declared_at: Mapped[datetime]
    rewards_published_on: Mapped[date | None]
    """When the organization made the rewards public (公示): a condition of the researchers'
    income-tax relief (财税〔2018〕58号)."""

    __table_args__ = (
        CheckConstraint("costs_fen >= 0 AND costs_fen <= income_fen", name="costs_within_income"),
        CheckConstraint("reward_percent BETWEEN 50 AND 100", name="legal_floor"),
    )


class InventorReward(IdMixin, Base):
    """One inventor's reward (科技成果转化奖励) from one declared income, kept for the
    researchers' individual income-tax relief (财税〔2018〕58号)."""

    __tablename__ = "inventor_rewards"

    income_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("transformation_incomes.id", ondelete="CASCADE"), index=True
    )
    inventor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("result_inventors.id", ondelete="SET NULL")
    )
    """None once the result's inventor list was rewritten; name and share are kept here."""
    inventor_name: Mapped[str] = mapped_column(String(60))
    share: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    amount_fen: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("income_id", "inventor_id"),
        CheckConstraint("amount_fen >= 0", name="amount_not_negative"),
    )
