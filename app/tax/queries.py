"""Reads of the tax package for other packages: whose filing a filing is (webhook audiences)."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.core.errors import NotFound
from app.tax.models import Filing


async def taxpayer_of(session: AsyncSession, filing_id: uuid.UUID) -> uuid.UUID:
    """Whose filing this is. Raises NotFound."""
    taxpayer = await session.scalar(
        select(Filing.taxpayer_organization_id).where(Filing.id == filing_id)
    )
    if taxpayer is None:
        raise NotFound()
    return taxpayer


async def filing_counts(session: AsyncSession) -> list[tuple[str, str, int]]:
    """Filings per kind and state: computed (ready, amended) and what submission made of them
    (submitted, accepted, rejected)."""
    rows = await session.execute(
        select(Filing.kind, Filing.state, func.count()).group_by(Filing.kind, Filing.state)
    )
    return [(kind.value, state.value, int(count)) for kind, state, count in rows]
