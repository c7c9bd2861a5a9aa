"""Tables of the accounts package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Numeric,
    String,
    UniqueConstraint,
    false,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from app.core.auth import MemberRole, PlatformRole
from app.core.db import Base, IdMixin, TimestampMixin, pg_enum
from app.core.errors import register_unique_field


class OrganizationKind(StrEnum):
    enterprise = "enterprise"  # 企业
    university = "university"  # 高等院校
    research_institute = "research_institute"  # 科研院所
    transfer_agency = "transfer_agency"  # 技术转移机构
    platform = "platform"  # 平台运营方


class VerificationStatus(StrEnum):
    pending = "pending"
    verified = "verified"
    rejected = "rejected"


class VatTaxpayerKind(StrEnum):
    """增值税纳税人类型: the rate that exempt sales would otherwise bear."""

    general = "general"  # 一般纳税人
    small_scale = "small_scale"  # 小规模纳税人


class VatPeriod(StrEnum):
    """增值税纳税期限 set by the tax office: a month, or a quarter for small-scale taxpayers and
    the others 增值税暂行条例 第二十三条 names."""

    month = "month"
    quarter = "quarter"


class BrokerLevel(StrEnum):
    """技术经纪人 levels: 初级 / 中级 / 高级."""

    junior = "junior"
    intermediate = "intermediate"
    senior = "senior"


class BrokerStatus(StrEnum):
    pending = "pending"  # awaiting platform review
    active = "active"
    suspended = "suspended"
    revoked = "revoked"


class Organization(IdMixin, TimestampMixin, Base):
    """An organization on the market: enterprise, university, institute, agency or platform."""

    __tablename__ = "organizations"

    kind: Mapped[OrganizationKind] = mapped_column(pg_enum(OrganizationKind, "organization_kind"))
    name: Mapped[str] = mapped_column(String(200))
    credit_code: Mapped[str] = mapped_column(String(18), unique=True)
    """统一社会信用代码 (GB 32100-2015), upper case, check character verified."""
    division_code: Mapped[str] = mapped_column(String(6))
    """行政区划代码 (GB/T 2260) of the organization's seat."""
    nature_code: Mapped[str | None] = mapped_column(String(3))
    """买卖方性质 as the registration form codes it (`identifiers.party_natures`); None: the
    default of its kind (`identifiers.DEFAULT_NATURES`)."""
    country_code: Mapped[str] = mapped_column(String(3), default="CHN", server_default="CHN")
    """国别代码 (GB/T 2659 alpha-3): an organization abroad makes its contracts technology
    imports or exports."""
    verification_status: Mapped[VerificationStatus] = mapped_column(
        pg_enum(VerificationStatus, "verification_status"), default=VerificationStatus.pending
    )
    verified_at: Mapped[datetime | None]
    verified_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    verification_note: Mapped[str | None] = mapped_column(String(500))
    inventor_reward_percent: Mapped[Decimal] = mapped_column(
        Numeric(5, 2), default=Decimal(50), server_default="50"
    )
    """Universities and institutes: the part of net transformation income that goes to the
    inventors (科技成果转化奖励); the law's floor is 50 % (促进科技成果转化法 第四十五条)."""
    stripe_account_id: Mapped[str | None] = mapped_column(String(64))
    """The organization's Stripe Connect account (`acct_…`) that payouts go to."""
    vat_taxpayer_kind: Mapped[VatTaxpayerKind] = mapped_column(
        pg_enum(VatTaxpayerKind, "vat_taxpayer_kind"),
        default=VatTaxpayerKind.general,
        server_default="general",
    )
    vat_period: Mapped[VatPeriod] = mapped_column(
        pg_enum(VatPeriod, "vat_period"), default=VatPeriod.month, server_default="month"
    )
    second_factor_required: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Set by an owner: members act for the organization only when their sign-in proved a
    second factor (TOTP); without one they are, to its objects, outsiders."""

    __table_args__ = (
        CheckConstraint("division_code ~ '^[0-9]{6}$'", name="division_code_digits"),
        CheckConstraint("nature_code ~ '^[0-9]{3}$'", name="nature_code_digits"),
        CheckConstraint("country_code ~ '^[A-Z]{3}$'", name="country_code_letters"),
        CheckConstraint("inventor_reward_percent BETWEEN 50 AND 100", name="inventor_reward_floor"),
        CheckConstraint("credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'", name="credit_code_chars"),
    )


class AgencyRecognition(IdMixin, Base):
    """A transfer agency's recognition by the region (自治区认定的技术转移服务机构) for a period:
    what the transfer agencies' post-subsidy (服务方后补助) requires."""

    __tablename__ = "agency_recognitions"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    valid_from: Mapped[date]
    valid_until: Mapped[date]
    """The last day it holds (inclusive, Beijing days)."""
    note: Mapped[str | None] = mapped_column(String(500))
    decided_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime]

    __table_args__ = (CheckConstraint("valid_from <= valid_until", name="period_ordered"),)


class User(IdMixin, TimestampMixin, Base):
    """A person who signs in."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(200))
    display_name: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool] = mapped_column(default=True)

    __table_args__ = (
        # Unique whatever the case: Alice@x.cn and alice@x.cn are one person.
        Index("uq_users_email", func.lower(email), unique=True),
    )


class Membership(IdMixin, Base):
    """A person's role in an organization."""

    __tablename__ = "memberships"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE")
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[MemberRole] = mapped_column(pg_enum(MemberRole, "member_role"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())

    __table_args__ = (UniqueConstraint("organization_id", "user_id"),)


class PlatformRoleGrant(Base):
    """A staff role held by a person (平台工作人员角色)."""

    __tablename__ = "platform_role_grants"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[PlatformRole] = mapped_column(
        pg_enum(PlatformRole, "platform_role"), primary_key=True
    )
    granted_at: Mapped[datetime] = mapped_column(server_default=func.now())
    granted_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))


class BrokerProfile(IdMixin, TimestampMixin, Base):
    """A technology broker (技术经纪人): a person certified to bring deals about."""

    __tablename__ = "broker_profiles"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), unique=True
    )
    certificate_number: Mapped[str] = mapped_column(String(40), unique=True)
    level: Mapped[BrokerLevel] = mapped_column(pg_enum(BrokerLevel, "broker_level"))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    """The transfer agency (技术转移机构) the broker works for, if any."""
    status: Mapped[BrokerStatus] = mapped_column(
        pg_enum(BrokerStatus, "broker_status"), default=BrokerStatus.pending
    )
    status_reason: Mapped[str | None] = mapped_column(String(500))
    reviewed_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]


class ApiKey(IdMixin, Base):
    """A credential for a third-party app, acting for one organization."""

    __tablename__ = "api_keys"

    organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    created_by_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class RefreshToken(IdMixin, Base):
    """A single-use refresh token. Tokens rotated from one sign-in share a family, so a
    replayed (stolen) token revokes the whole family (RFC 9700 §4.14.2)."""

    __tablename__ = "refresh_tokens"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    family_id: Mapped[uuid.UUID] = mapped_column(index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    second_factor: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Whether the sign-in proved a second factor: tokens refreshed from it keep that."""


register_unique_field("uq_users_email", "body.email")
register_unique_field("uq_organizations_credit_code", "body.credit_code")
register_unique_field("uq_broker_profiles_certificate_number", "body.certificate_number")
register_unique_field("uq_broker_profiles_user_id", "user")
register_unique_field("uq_memberships_organization_id_user_id", "body.email")


class SignInFailure(Base):
    """Consecutive sign-in failures of an account (`account:<sha256 of the email>`), or recent
    ones of an address (`address:<ip>`), and until when the next try must wait."""

    __tablename__ = "sign_in_failures"

    subject: Mapped[str] = mapped_column(String(80), primary_key=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]


class TotpFactor(Base):
    """A person's second factor (TOTP, RFC 6238): the shared secret, whether its enrolment was
    confirmed with a code, and the last time step a code was accepted for (each code works
    once)."""

    __tablename__ = "totp_factors"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    sealed_secret: Mapped[str] = mapped_column(String(400))
    """The shared secret, sealed (`app/core/sealing.py`): the server needs it back to compute
    codes, so it cannot be a hash, and a copy of the database alone must not give it away."""
    confirmed_at: Mapped[datetime | None]
    last_used_step: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())


class RecoveryCode(IdMixin, Base):
    """A one-time code for a person who lost their authenticator, stored hashed."""

    __tablename__ = "recovery_codes"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None]
