"""API shapes of the accounts package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, StringConstraints
from pydantic_core import PydanticCustomError

from app.accounts.identifiers import (
    CREDIT_CODE_PATTERN,
    normalize_country_code,
    normalize_credit_code,
    normalize_division_code,
    normalize_nature_code,
    party_natures,
)
from app.accounts.models import (
    BrokerLevel,
    BrokerStatus,
    OrganizationKind,
    VatPeriod,
    VatTaxpayerKind,
    VerificationStatus,
)
from app.core.auth import API_KEY_SCOPES, MemberRole, PlatformRole
from app.core.openapi import NOT_BLANK


def _email(value: str) -> str:
    try:
        # Syntax only: deliverability would need DNS, which a request must not wait on.
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError as error:
        raise PydanticCustomError(
            "email_invalid", "invalid email", {"reason": str(error)}
        ) from None


def check_password(value: str) -> str:
    """At least 10 characters of two kinds among letters, digits and others (password_weak)."""
    kinds = sum(
        [
            any(c.isalpha() for c in value),
            any(c.isdigit() for c in value),
            any(not c.isalnum() for c in value),
        ]
    )
    if len(value) < 10 or kinds < 2:
        raise PydanticCustomError("password_weak", "weak password")
    return value


Email = Annotated[
    str,
    StringConstraints(max_length=254),
    AfterValidator(_email),
    Field(json_schema_extra={"format": "email"}),
]
Password = Annotated[str, StringConstraints(max_length=256), AfterValidator(check_password)]
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), NOT_BLANK
]
CreditCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, max_length=40),
    AfterValidator(normalize_credit_code),
    Field(
        json_schema_extra={"pattern": CREDIT_CODE_PATTERN},
        description="统一社会信用代码 (18 characters, GB 32100-2015 check character).",
        examples=["91150100MA0N00000W"],
    ),
]
DivisionCode = Annotated[
    str,
    StringConstraints(pattern=r"^\d{6}$"),
    AfterValidator(normalize_division_code),
    Field(description="行政区划代码 (GB/T 2260, 6 digits).", examples=["150102"]),
]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500), NOT_BLANK
]
NatureCode = Annotated[
    str,
    StringConstraints(pattern=r"^\d{3}$"),
    AfterValidator(normalize_nature_code),
    Field(
        json_schema_extra={"enum": sorted(party_natures())},
        description="买卖方性质, the registration form's code: 021 科研机构, 022 高等院校, "
        "1x0 domestic enterprises by registration type (150 有限责任公司, 160 股份有限公司, "
        "170 私营企业 …), "
        "2x0 Hong Kong/Macao/Taiwan-invested, 3x0 foreign-invested, 01x government bodies, "
        "030 社团法人, 500 organizations abroad. Unset: 022/021 by kind, else 100 内资企业.",
        examples=["150"],
    ),
]
CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^([A-Za-z]{3}|\d{3})$"),
    AfterValidator(normalize_country_code),
    Field(
        description="国别代码 (GB/T 2659 = ISO 3166-1), three letters or digits; kept as letters.",
        examples=["CHN", "DEU", "276"],
    ),
]


class Strict(BaseModel):
    """Request bodies refuse unknown fields, so a typo is an error, not a silent no-op."""

    model_config = ConfigDict(extra="forbid")


# --- auth --------------------------------------------------------------------------------


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the OAuth2 token type
    expires_in: int = Field(description="Seconds until the access token expires.")
    refresh_token: str
    scope: str


class RefreshRequest(Strict):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=200)]

    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "rt_8f3a…"}]})


# --- users -------------------------------------------------------------------------------


class UserCreate(Strict):
    email: Email
    password: Password
    display_name: Name = Field(max_length=100)

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "email": "wang@imu.edu.cn",
                    "password": "correct-horse-9",
                    "display_name": "王老师",
                }
            ]
        },
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    display_name: str
    created_at: datetime


class MembershipOut(BaseModel):
    organization_id: uuid.UUID
    organization_name: str
    organization_kind: OrganizationKind
    role: MemberRole
    second_factor_required: bool = Field(
        description="The organization lets its members act for it only after a sign-in with a "
        "second factor (TOTP)."
    )
    active: bool = Field(
        description="Whether this sign-in acts for the organization: false when it requires a "
        "second factor and the sign-in proved none (sign in again with `totp`)."
    )


class Me(BaseModel):
    user: UserOut
    memberships: list[MembershipOut]
    platform_roles: list[PlatformRole]
    broker_profile_id: uuid.UUID | None
    scopes: list[str]
    second_factor: bool = Field(description="Whether this sign-in proved a second factor.")


class PlatformRolesUpdate(Strict):
    roles: list[PlatformRole] = Field(max_length=4)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"roles": ["reviewer", "registrar"]}]}
    )


# --- organizations -----------------------------------------------------------------------


CreatableKind = Literal["enterprise", "university", "research_institute", "transfer_agency"]


class OrganizationCreate(Strict):
    kind: CreatableKind = Field(
        description="Platform organizations are made by `techx create-admin`."
    )
    name: Name
    credit_code: CreditCode
    division_code: DivisionCode
    nature_code: NatureCode | None = None
    country_code: CountryCode = "CHN"

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "kind": "university",
                    "name": "内蒙古大学",
                    "credit_code": "12150000460025456R",
                    "division_code": "150104",
                }
            ]
        },
    )


class OrganizationUpdate(Strict):
    name: Name | None = None
    credit_code: CreditCode | None = None
    division_code: DivisionCode | None = None
    nature_code: NatureCode | None = None
    country_code: CountryCode | None = None
    inventor_reward_percent: Decimal | None = Field(
        default=None,
        ge=50,
        le=100,
        decimal_places=2,
        description="Universities and institutes: inventors' part of net transformation income "
        "(at least 50 %, 促进科技成果转化法 第四十五条).",
    )
    stripe_account_id: str | None = Field(
        default=None,
        pattern=r"^acct_[A-Za-z0-9]{6,60}$",
        description="Stripe Connect account (`acct_…`) for payouts when Stripe is the provider.",
    )
    vat_taxpayer_kind: VatTaxpayerKind | None = Field(
        default=None,
        description="一般纳税人 (general, 6 % on technology services) or 小规模纳税人 "
        "(small_scale, 3 %): the rate the VAT-exemption filing shows as forgone.",
    )
    second_factor_required: bool | None = Field(
        default=None,
        description="Owners only: members act for the organization only after signing in with "
        "a second factor (TOTP); turning it on needs such a sign-in of your own.",
    )
    vat_period: VatPeriod | None = Field(
        default=None,
        description="How often the organization files VAT: `month` (periods `2026-07`) or "
        "`quarter` (periods `2026-Q3`).",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"name": "内蒙古科技大学", "vat_taxpayer_kind": "general", "vat_period": "month"}
            ]
        }
    )


class OrganizationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    kind: OrganizationKind
    name: str
    credit_code: str
    division_code: str
    division_name: str = Field(description="Province / prefecture / county names.")
    nature_code: str = Field(description="买卖方性质 (the kind's default unless stated).")
    country_code: str
    verification_status: VerificationStatus
    verified_at: datetime | None
    verification_note: str | None
    inventor_reward_percent: Decimal
    stripe_account_id: str | None
    vat_taxpayer_kind: VatTaxpayerKind
    vat_period: VatPeriod
    second_factor_required: bool
    created_at: datetime


class AgencyRecognitionCreate(Strict):
    valid_from: date
    valid_until: date = Field(description="The last day it holds (inclusive).")
    note: Reason | None = Field(default=None, description="The region's decision it records.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "valid_from": "2026-01-01",
                    "valid_until": "2028-12-31",
                    "note": "内蒙古自治区科技厅认定（示例）",
                }
            ]
        }
    )


class AgencyRecognitionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    valid_from: date
    valid_until: date
    note: str | None
    decided_at: datetime


class VerificationDecision(Strict):
    decision: Literal["verify", "reject"]
    note: Reason | None = Field(default=None, description="Required when rejecting.")

    model_config = ConfigDict(json_schema_extra={"examples": [{"decision": "verify"}]})


# --- members -----------------------------------------------------------------------------


class MemberAdd(Strict):
    email: Email
    role: MemberRole = MemberRole.member

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"email": "li.hua@example.cn", "role": "admin"}]}
    )


class MemberUpdate(Strict):
    role: MemberRole

    model_config = ConfigDict(json_schema_extra={"examples": [{"role": "member"}]})


class MemberOut(BaseModel):
    user_id: uuid.UUID
    email: str
    display_name: str
    role: MemberRole
    created_at: datetime


# --- API keys ----------------------------------------------------------------------------


class ApiKeyCreate(Strict):
    organization_id: uuid.UUID
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), NOT_BLANK
    ]
    scopes: list[str] = Field(
        min_length=1,
        max_length=32,
        examples=[["listings:read", "bids:write"]],
        json_schema_extra={
            "items": {"type": "string", "enum": list[JsonValue](sorted(API_KEY_SCOPES))}
        },
    )
    expires_at: datetime | None = None


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    name: str
    prefix: str = Field(description="The first characters of the key, to tell keys apart.")
    scopes: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The secret. Shown this once; store it now.")


# --- brokers -----------------------------------------------------------------------------


class BrokerCreate(Strict):
    certificate_number: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=4, max_length=40), NOT_BLANK
    ] = Field(description="技术经纪人 certificate number.")
    level: BrokerLevel = Field(description="初级 junior, 中级 intermediate, 高级 senior.")
    agency_id: uuid.UUID | None = Field(default=None, description="A verified transfer agency.")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"certificate_number": "NMJJR-2026-00123", "level": "intermediate"}]
        }
    )


class BrokerUpdate(Strict):
    certificate_number: (
        Annotated[
            str, StringConstraints(strip_whitespace=True, min_length=4, max_length=40), NOT_BLANK
        ]
        | None
    ) = None
    level: BrokerLevel | None = None
    agency_id: uuid.UUID | None = None

    model_config = ConfigDict(json_schema_extra={"examples": [{"level": "senior"}]})


class BrokerStatusChange(Strict):
    status: Literal["active", "suspended", "revoked"]
    reason: Reason | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "suspended", "reason": "证书年审未通过"}]}
    )


class BrokerOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    display_name: str
    certificate_number: str
    level: BrokerLevel
    agency_id: uuid.UUID | None
    status: BrokerStatus
    status_reason: str | None
    created_at: datetime


class TotpEnrolmentOut(BaseModel):
    secret: str = Field(description="Base32; shown this once.")
    otpauth_uri: str = Field(description="For an authenticator app (as a QR code).")
    recovery_codes: list[str] = Field(description="One-time codes; shown this once.")


class TotpCode(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]

    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "492039"}]})
