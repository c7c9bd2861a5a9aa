"""Tables of the results catalogue."""

from __future__ import annotations

import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum
from app.core.errors import register_unique_field


class ResultKind(StrEnum):
    invention_patent = "invention_patent"  # 发明专利
    utility_model = "utility_model"  # 实用新型
    design_patent = "design_patent"  # 外观设计
    software_copyright = "software_copyright"  # 软件著作权
    ic_layout = "ic_layout"  # 集成电路布图设计
    plant_variety = "plant_variety"  # 植物新品种
    technical_secret = "technical_secret"  # noqa: S105 - 技术秘密, a kind of result
    other = "other"


# The kind digit of a patent application number for each patent kind (8, 9: PCT national phase).
PATENT_KIND_DIGITS: dict[ResultKind, frozenset[str]] = {
    ResultKind.invention_patent: frozenset({"1", "8"}),
    ResultKind.utility_model: frozenset({"2", "9"}),
    ResultKind.design_patent: frozenset({"3"}),
}


class LegalStatus(StrEnum):
    pending = "pending"  # 审中
    granted = "granted"  # 授权 / 有效
    lapsed = "lapsed"  # 失效
    not_applicable = "not_applicable"  # 技术秘密等


class Result(IdMixin, TimestampMixin, Base):
    """A transferable research result (科技成果) owned by an organization."""

    __tablename__ = "results"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    abstract: Mapped[str] = mapped_column(Text)
    keywords: Mapped[list[str]] = mapped_column(ARRAY(String(40)))
    kind: Mapped[ResultKind] = mapped_column(pg_enum(ResultKind, "result_kind"))
    ip_number: Mapped[str | None] = mapped_column(String(20))
    """Patent application number (`202310123456.7`) or software registration (`2023SR0123456`)."""
    ipc_codes: Mapped[list[str]] = mapped_column(ARRAY(String(20)))
    legal_status: Mapped[LegalStatus] = mapped_column(pg_enum(LegalStatus, "legal_status"))
    field_code: Mapped[str] = mapped_column(String(60))
    trl: Mapped[int]
    """Technology readiness level 1–9 (技术成熟度)."""
    publicly_funded: Mapped[bool]
    """Made with public (fiscal) funding (财政资金支持), which brings reporting duties."""
    division_code: Mapped[str] = mapped_column(String(6))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    inventors: Mapped[list[Inventor]] = relationship(
        order_by="Inventor.position", lazy="raise", passive_deletes=True
    )

    __table_args__ = (
        CheckConstraint("trl BETWEEN 1 AND 9", name="trl_range"),
        UniqueConstraint("organization_id", "ip_number"),
        Index("ix_results_organization_id_created_at", "organization_id", "created_at"),
    )


class Inventor(IdMixin, Base):
    """An inventor (发明人/完成人) of a result, in the order named, with their share."""

    __tablename__ = "result_inventors"

    result_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("results.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int]
    name: Mapped[str] = mapped_column(String(60))
    share: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    """Percent of the inventors' part; shares of one result add up to 100."""

    __table_args__ = (
        UniqueConstraint("result_id", "position"),
        CheckConstraint("share IS NULL OR (share > 0 AND share <= 100)", name="share_range"),
    )


register_unique_field("uq_results_organization_id_ip_number", "body.ip_number")
