"""Demo data for `make run` and `techx demo-data`: accounts first, then the market."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.demo import Credential, seed_accounts
from app.accounts.models import Organization
from app.core.db import create_engine, create_sessionmaker
from app.listings.demo import seed_market


async def _seed(session: AsyncSession) -> list[Credential]:
    accounts = await seed_accounts(session)
    await seed_market(session, accounts.organizations, accounts.reviewer_id, datetime.now(UTC))
    return accounts.credentials


async def seed(database_url: str) -> list[Credential]:
    """Add the demo data (fails with a conflict if it is there already)."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await _seed(session)
    finally:
        await engine.dispose()


async def seed_if_empty(database_url: str) -> list[Credential] | None:
    """Seed on first start only: when there is no organization yet."""
    engine = create_engine(database_url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            # Serialize concurrent first starts.
            await session.execute(select(func.pg_advisory_xact_lock(0x7465636878)))
            if await session.scalar(select(func.count()).select_from(Organization)):
                return None
            return await _seed(session)
    finally:
        await engine.dispose()


def print_credentials(credentials: list[Credential]) -> None:
    print("\nDemo logins (POST /v1/auth/token with username=email, password):")
    width = max(len(c.email) for c in credentials)
    for credential in credentials:
        print(f"  {credential.email:<{width}}  {credential.password}  {credential.what}")
    print()
