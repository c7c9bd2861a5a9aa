"""API shapes of the deals package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from app.accounts.schemas import CreditCode, Reason, Strict
from app.core.money import Money, NonNegativeMoney, PositiveMoney
from app.core.openapi import NOT_BLANK
from app.deals.models import (
    ContractState,
    ContractSubtype,
    ContractType,
    DealSource,
    Exclusivity,
    PriceItemCategory,
)
from app.deals.numbers import normalize_registration_number
from app.results.models import ResultKind
from app.results.schemas import FieldCode, normalize_ip_number

Subject = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200), NOT_BLANK
]


class DealCreate(Strict):
    """Open a deal: from a negotiable listing (面议) whose window closed with intents — the
    seller names the buyer and the agreed price — or for a contract concluded off the
    platform, by either party."""

    source: Literal["negotiation", "off_platform"]
    listing_id: uuid.UUID | None = Field(default=None, description="negotiation: the listing")
    seller_organization_id: uuid.UUID | None = Field(
        default=None, description="off_platform: the seller"
    )
    buyer_organization_id: uuid.UUID
    price: PositiveMoney

    @model_validator(mode="after")
    def _source_fields(self) -> DealCreate:
        if self.source == "negotiation" and self.listing_id is None:
            raise PydanticCustomError("listing_required", "a negotiation needs its listing")
        if self.source == "off_platform" and self.seller_organization_id is None:
            raise PydanticCustomError("seller_required", "an off-platform deal names its seller")
        return self

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "source": "negotiation",
                    "listing_id": "0b0f1c3e-6d2a-4c55-9a61-2f4f3b8e9d10",
                    "buyer_organization_id": "5d1e8a2c-0c4b-4a77-8f3e-1a2b3c4d5e6f",
                    "price": {"amount": "600000.00", "currency": "CNY"},
                }
            ]
        }
    )


class MilestoneIn(BaseModel):
    amount: PositiveMoney
    due_on: date
    description: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = (
        None
    )
    pays: Literal["technology", "non_technical"] | None = Field(
        default=None,
        description="Which part of the contract this milestone pays: `technology` (技术交易额) or "
        "`non_technical` (equipment, instruments, parts, raw materials delivered with it). "
        "Unset: its money divides pro rata to what no milestone claims. The filings count only "
        "the technology part as exempt technology income.",
    )


class RightIn(Strict):
    """A right the contract involves, by its number (专利申请号 with check character, 软件著作权
    登记号, or the registration number of a layout design or plant variety)."""

    kind: ResultKind
    number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40), NOT_BLANK
    ]

    @model_validator(mode="after")
    def _number_fits_the_kind(self) -> RightIn:
        self.number = normalize_ip_number(self.kind, self.number) or self.number
        return self


class RightOut(BaseModel):
    kind: ResultKind
    number: str


class PriceItemIn(BaseModel):
    category: PriceItemCategory
    description: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NOT_BLANK
    ]
    amount: PositiveMoney


class RegisteredTerms(Strict):
    """The terms a registration form records (技术合同登记表): those of a contract drafted here,
    and of a registration imported from another office."""

    contract_type: ContractType = Field(
        description="development 技术开发, transfer 技术转让, licence 技术许可, "
        "consulting 技术咨询, service 技术服务"
    )
    subject: Subject
    subtype: ContractSubtype | None = Field(
        default=None,
        description="The registration form's sub-type, one of the contract type's: development — "
        "commissioned_development 委托开发, cooperative_development 合作开发; transfer and "
        "licence — patent, technical_secret, software_copyright, ic_layout, plant_variety, "
        "other_rights (transfer also patent_application); consulting — consulting; service — "
        "technical_service, training 技术培训, intermediary 技术中介. Registration requires it.",
    )
    technology_field: FieldCode | None = Field(
        default=None, description="技术领域 (GET /v1/taxonomy/fields). Registration requires it."
    )
    intellectual_property: list[RightIn] = Field(
        default_factory=list,
        max_length=50,
        description="The rights involved, by number. A patent, patent-application, software, "
        "layout-design or plant-variety sub-type registers with at least one of its kind.",
    )
    total: PositiveMoney = Field(description="合同成交额.")
    transaction_amount: PositiveMoney = Field(
        description="技术交易额: the total less equipment, materials and other non-technology parts"
    )
    starts_on: date
    ends_on: date
    licence_scope: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)] | None
    ) = None
    exclusivity: Exclusivity | None = Field(default=None, description="Licences only.")


class ContractTerms(RegisteredTerms):
    """The terms of a technology contract (技术合同)."""

    content: (
        Annotated[
            str,
            StringConstraints(strip_whitespace=True, min_length=20, max_length=20000),
            NOT_BLANK,
        ]
        | None
    ) = Field(
        default=None,
        description="The technical content (技术内容): at least 20 characters, which registration "
        "(认定登记) requires; a draft may leave it out until then.",
    )
    milestones: list[MilestoneIn] = Field(min_length=1, max_length=50)
    price_items: list[PriceItemIn] = Field(
        default_factory=list,
        max_length=100,
        description="The price list (报价明细清单), numbered from 1 in this order: it adds up to "
        "the total, and its `technology` lines to the `transaction_amount`. The registrar "
        "checks (核定) the 技术交易额 against it and may deduct from its technology lines.",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "contract_type": "transfer",
                    "subtype": "technical_secret",
                    "technology_field": "new_materials.rare_earths",
                    "subject": "稀土永磁材料制备技术转让",
                    "content": "甲方将其拥有的稀土永磁材料制备技术转让给乙方。",
                    "total": {"amount": "600000.00", "currency": "CNY"},
                    "transaction_amount": {"amount": "600000.00", "currency": "CNY"},
                    "starts_on": "2026-12-01",
                    "ends_on": "2027-11-30",
                    "milestones": [
                        {
                            "amount": {"amount": "300000.00", "currency": "CNY"},
                            "due_on": "2026-12-31",
                        },
                        {
                            "amount": {"amount": "300000.00", "currency": "CNY"},
                            "due_on": "2027-06-30",
                        },
                    ],
                }
            ]
        }
    )


class Signature(BaseModel):
    user_id: uuid.UUID
    signed_at: datetime


class MilestoneOut(BaseModel):
    number: int
    amount: Money
    due_on: date
    description: str | None
    pays: Literal["technology", "non_technical"] | None
    outstanding: Money


class PriceItemOut(BaseModel):
    number: int
    category: PriceItemCategory
    description: str
    amount: Money


class DeductionOut(BaseModel):
    item: int = Field(description="The price-list line it deducts from.")
    amount: Money
    reason: str


class RegisteredPartyOut(BaseModel):
    name: str
    credit_code: str
    nature_code: str = Field(description="买卖方性质, the registration form's code.")
    division_code: str
    country_code: str = Field(description="国别代码 (GB/T 2659, alpha-3).")


class RegistrationFormOut(BaseModel):
    """The registration form (技术合同登记表) as registered; the rest is the version's terms."""

    seller: RegisteredPartyOut
    buyer: RegisteredPartyOut
    signed_on: date = Field(description="合同签订日期: the day the second party signed.")
    cross_border: Literal["import", "export"] | None = Field(
        description="A technology import (技术进口: the seller abroad) or export (技术出口)."
    )
    imported: bool = Field(
        default=False, description="Registered at another office and imported by a registrar."
    )


class ContractVersionOut(BaseModel):
    number: int
    contract_type: ContractType
    subtype: ContractSubtype | None
    subject: str
    content: str | None
    technology_field: str | None
    intellectual_property: list[RightOut]
    total: Money
    transaction_amount: Money = Field(description="技术交易额 as the parties declared it.")
    registered_transaction_amount: Money | None = Field(
        description="技术交易额 as the registrar checked it (核定) when registering this version: "
        "the figure that counts for rewards, subsidies, tax filings and statistics."
    )
    price_items: list[PriceItemOut]
    deductions: list[DeductionOut] | None = Field(
        description="The registrar's deductions from technology lines, with reasons."
    )
    starts_on: date
    ends_on: date
    licence_scope: str | None
    exclusivity: Exclusivity | None
    milestones: list[MilestoneOut]
    seller_signature: Signature | None
    buyer_signature: Signature | None
    registration_form: RegistrationFormOut | None = Field(
        description="Set when this version was registered."
    )
    created_at: datetime


class ContractOut(BaseModel):
    id: uuid.UUID
    deal_id: uuid.UUID
    state: ContractState
    effective_version: int | None
    registration_number: str | None
    registered_at: datetime | None
    rejection_reasons: list[str] | None
    registration_applied_at: datetime | None = Field(
        description="When the terms in force were signed by both: the application for "
        "registration (受理); an amendment after a refusal (补正) applies anew."
    )
    registration_due_on: date | None = Field(
        description="While the application awaits the registrar: the last Beijing day for the "
        "decision (30 days, 《技术合同认定登记管理办法》)."
    )
    terminated_at: datetime | None
    termination_reason: str | None
    versions: list[ContractVersionOut] = Field(description="Oldest first; amendments follow.")


class PendingRegistrationOut(BaseModel):
    deal_id: uuid.UUID
    registration_number: str | None = Field(
        description="Set when the application is a registered contract's change (变更登记): the "
        "number it keeps."
    )
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    subject: str
    applied_at: datetime
    due_on: date = Field(description="The last Beijing day for the registrar's decision.")
    overdue: bool


class DealOut(BaseModel):
    id: uuid.UUID
    source: DealSource
    listing_id: uuid.UUID | None
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    price: Money | None
    deposit_applied: Money
    opened_at: datetime
    contract_state: ContractState | None
    broker_ids: list[uuid.UUID] | None = Field(
        default=None, description="The brokers the parties named (on a single deal's page)."
    )


class BrokersNamed(Strict):
    broker_ids: list[uuid.UUID] = Field(max_length=10, description="Active broker profiles.")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"broker_ids": ["7c9e6679-7425-40de-944b-e07fc1f90ae7"]}]}
    )


class SignatureCreate(Strict):
    version: int = Field(ge=1, description="The version you read and sign.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 1}]})


class Termination(Strict):
    reason: Reason

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "双方协商一致解除合同"}]})


class DeductionIn(BaseModel):
    item: int = Field(ge=1, description="The number of a `technology` line of the price list.")
    amount: PositiveMoney
    reason: Reason = Field(
        description="Why it is not technology income, e.g. 成套设备超出合理数量."
    )


class RegistrationDecision(Strict):
    decision: Literal["register", "reject"]
    reasons: list[Reason] = Field(default_factory=list, max_length=20)
    deductions: list[DeductionIn] = Field(
        default_factory=list,
        max_length=100,
        description="Registering: what the registrar deducts from the declared 技术交易额, line by "
        "line of the price list, each with its reason (《技术合同认定规则》 第五十一条).",
    )

    model_config = ConfigDict(json_schema_extra={"examples": [{"decision": "register"}]})


class IncomeDeclaration(Strict):
    payment_id: uuid.UUID = Field(description="A received payment of the deal.")
    costs: NonNegativeMoney = Field(description="Costs declared against this income.")
    related_taxes: NonNegativeMoney | None = Field(
        default=None,
        description="相关税费 against this income: taxes and surcharges other than income tax "
        "and deductible VAT, contract and lawyers' fees (国税函〔2009〕212号 第三条). The net "
        "income, and the technology-transfer income the annual filing counts, leave them out.",
    )
    rewards_published_on: date | None = Field(
        default=None, description="When the rewards were made public (公示), if they were."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "payment_id": "2f1b7a9e-3c4d-4e5f-8a9b-0c1d2e3f4a5b",
                    "costs": {"amount": "20000.00", "currency": "CNY"},
                    "rewards_published_on": "2026-12-05",
                }
            ]
        }
    )


class InventorRewardOut(BaseModel):
    inventor_id: uuid.UUID | None
    name: str
    share: Decimal | None = Field(description="Percent of the inventors' part; null: equal parts.")
    amount: Money


class IncomeOut(BaseModel):
    id: uuid.UUID
    payment_id: uuid.UUID
    income: Money
    costs: Money
    related_taxes: Money
    net_income: Money
    reward_percent: Decimal
    pool: Money = Field(description="The inventors' part of the net income.")
    rewards: list[InventorRewardOut]
    rewards_published_on: date | None
    declared_at: datetime


RegistrationNumberText = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(normalize_registration_number),
    Field(
        description="技术合同登记编号: 16 digits, `<year><division code (GB/T 2260)><serial:06>`.",
        examples=["2025150100000123"],
    ),
]


class ImportedRegistration(RegisteredTerms):
    """A contract registered at another registration office, as its registration form says."""

    registration_number: RegistrationNumberText
    registered_on: date = Field(description="The day the other office registered it.")
    signed_on: date
    seller_credit_code: CreditCode
    buyer_credit_code: CreditCode
    subtype: ContractSubtype
    technology_field: FieldCode
    transaction_amount: PositiveMoney = Field(
        description="技术交易额 as the other office checked (核定) it."
    )


class RegistrationImport(Strict):
    registrations: list[ImportedRegistration] = Field(min_length=1, max_length=500)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "registrations": [
                        {
                            "registration_number": "2025150100000123",
                            "registered_on": "2025-06-18",
                            "signed_on": "2025-06-02",
                            "seller_credit_code": "12150000460025456R",
                            "buyer_credit_code": "91150100MA0N0XXXX0",
                            "contract_type": "transfer",
                            "subtype": "technical_secret",
                            "subject": "稀土抛光粉制备技术转让",
                            "technology_field": "new_materials.rare_earths",
                            "total": {"amount": "300000.00", "currency": "CNY"},
                            "transaction_amount": {"amount": "300000.00", "currency": "CNY"},
                            "starts_on": "2025-06-02",
                            "ends_on": "2026-06-01",
                        }
                    ]
                }
            ]
        }
    )


class ImportedContractOut(BaseModel):
    deal_id: uuid.UUID
    registration_number: str
