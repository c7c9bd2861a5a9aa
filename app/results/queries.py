"""Reads of the results catalogue (科技成果) for other packages: results by id, a result's
inventors."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.results.models import Inventor, Result


async def results_by_id(session: AsyncSession, ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, Result]:
    """Results by id, for packages that present them (listings); no visibility rule."""
    rows = await session.scalars(select(Result).where(Result.id.in_(list(set(ids)))))
    return {result.id: result for result in rows}


async def inventors_of(session: AsyncSession, result_id: uuid.UUID) -> list[Inventor]:
    """A result's inventors in the order named (for the inventors' rewards)."""
    rows = await session.scalars(
        select(Inventor).where(Inventor.result_id == result_id).order_by(Inventor.position)
    )
    return list(rows.all())
