"""Tables of the demands package."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base, IdMixin, TimestampMixin, pg_enum


class DemandState(StrEnum):
    open = "open"
    closed = "closed"


class Demand(IdMixin, TimestampMixin, Base):
    """A technology need (技术需求) an enterprise posts for the market to answer."""

    __tablename__ = "demands"

    organization_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    field_code: Mapped[str] = mapped_column(String(60))
    budget_min_fen: Mapped[int | None] = mapped_column(BigInteger)
    budget_max_fen: Mapped[int | None] = mapped_column(BigInteger)
    division_code: Mapped[str] = mapped_column(String(6))
    deadline: Mapped[date | None]
    state: Mapped[DemandState] = mapped_column(
        pg_enum(DemandState, "demand_state"), default=DemandState.open
    )
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    __table_args__ = (
        CheckConstraint(
            "budget_min_fen IS NULL OR budget_max_fen IS NULL OR budget_min_fen <= budget_max_fen",
            name="budget_range",
        ),
    )


class SavedSearch(IdMixin, Base):
    """A search a person keeps, to be told when a new listing matches it."""

    __tablename__ = "saved_searches"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    query: Mapped[str] = mapped_column(String(200))
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(server_default=func.now())
