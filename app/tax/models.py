"""Tables of the tax package: filings and their versions."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, pg_enum


class FilingKind(StrEnum):
    vat_exemption = "vat_exemption"  # 技术转让、开发免征增值税
    eit_transfer_income = "eit_transfer_income"  # 技术转让所得减免企业所得税
    rd_super_deduction = "rd_super_deduction"  # 研发费用加计扣除
    researcher_reward_relief = "researcher_reward_relief"  # 科技人员现金奖励减半计税


class FilingState(StrEnum):
    draft = "draft"
    ready = "ready"
    submitted = "submitted"
    accepted = "accepted"
    rejected = "rejected"
    amended = "amended"  # superseded by a later version


class Filing(IdMixin, Base):
    """One version of a taxpayer's filing of one kind for one period. The content is canonical
    (no timestamps, sorted keys): recomputing unchanged inputs gives the same bytes and hash."""

    __tablename__ = "tax_filings"

    taxpayer_organization_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    kind: Mapped[FilingKind] = mapped_column(pg_enum(FilingKind, "filing_kind"))
    period: Mapped[str] = mapped_column(String(7))
    """`YYYY` for annual kinds, `YYYY-MM` for monthly ones."""
    version: Mapped[int]
    state: Mapped[FilingState] = mapped_column(pg_enum(FilingState, "filing_state"))
    content: Mapped[dict[str, Any]] = mapped_column(JSONB)
    content_sha256: Mapped[str] = mapped_column(String(64))
    rule_set_version: Mapped[int]
    amends_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tax_filings.id"))
    computed_at: Mapped[datetime]
    submitted_at: Mapped[datetime | None]
    submission_id: Mapped[uuid.UUID | None]
    receipt: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (UniqueConstraint("taxpayer_organization_id", "kind", "period", "version"),)
