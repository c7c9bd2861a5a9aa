"""The PostgreSQL search backend's table (the embedded default's index)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, String
from sqlalchemy.dialects.postgresql import JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base


class IndexedListing(Base):
    """A listing document as the PostgreSQL backend indexes it."""

    __tablename__ = "search_listings"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONB)
    fingerprint: Mapped[str] = mapped_column(String(64))
    terms: Mapped[Any] = mapped_column(TSVECTOR)
    """Segmented title (A), keywords (B), abstract (C), owner and IPC (D)."""
    field_code: Mapped[str] = mapped_column(String(60))
    field_parent: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(40))
    transfer_type: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(20))
    price_fen: Mapped[int | None] = mapped_column(BigInteger)
    stage: Mapped[str] = mapped_column(String(20))
    province_code: Mapped[str] = mapped_column(String(6))
    prefecture_code: Mapped[str] = mapped_column(String(6))
    division_code: Mapped[str] = mapped_column(String(6))
    published_at: Mapped[datetime]
    window_ends_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_search_listings_terms", "terms", postgresql_using="gin"),
        Index("ix_search_listings_field_parent", "field_parent"),
        Index("ix_search_listings_prefecture_code", "prefecture_code"),
        Index("ix_search_listings_published_at", "published_at"),
    )
