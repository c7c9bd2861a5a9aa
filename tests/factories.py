"""Factories: one line builds a valid object; a test states only what it is about."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.demo import demo_credit_code
from app.accounts.models import (
    ApiKey,
    BrokerLevel,
    BrokerProfile,
    BrokerStatus,
    Membership,
    Organization,
    OrganizationKind,
    PlatformRoleGrant,
    User,
    VerificationStatus,
)
from app.auctions import deposits as auctions_deposits
from app.auctions import service as auctions
from app.auctions.increments import IncrementGrid
from app.auctions.models import Auction, Deposit, DepositState
from app.core import security
from app.core.auth import ALL_SCOPES, MemberRole, PlatformRole
from app.core.clock import Clock
from app.core.money import Money
from app.listings.models import (
    Intent,
    Listing,
    ListingMode,
    ListingOutcome,
    ListingState,
    TransferType,
)
from app.listings.windows import window_end
from app.results.models import LegalStatus, Result, ResultKind

PASSWORD = "Correct-horse-9"
RESULT_BODY = {
    "title": "稀土抛光粉制备技术",
    "abstract": "一种以稀土氧化铈为主要成分的高性能抛光粉制备方法。",
    "kind": "technical_secret",
    "legal_status": "not_applicable",
    "field_code": "new_materials.rare_earths",
    "trl": 5,
    "division_code": "150203",
}
"""A valid `POST /v1/results` body, less the organization."""
_PASSWORD_HASH = security.hash_password(PASSWORD)


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class Factory:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        signing_key: str,
        clock: Clock,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.signing_key = signing_key
        self.clock = clock

    async def organization(
        self,
        kind: OrganizationKind = OrganizationKind.enterprise,
        *,
        verified: bool = True,
        name: str | None = None,
        division_code: str = "150102",
    ) -> Organization:
        name = name or f"测试机构-{uuid.uuid4().hex[:8]}"
        async with self.sessionmaker() as session, session.begin():
            organization = Organization(
                kind=kind,
                name=name,
                credit_code=demo_credit_code(name, division_code, kind),
                division_code=division_code,
                verification_status=(
                    VerificationStatus.verified if verified else VerificationStatus.pending
                ),
                verified_at=self.clock.now() if verified else None,
            )
            session.add(organization)
        return organization

    async def person(
        self,
        organization: Organization | None = None,
        role: MemberRole = MemberRole.member,
        *,
        platform_roles: Iterable[PlatformRole] = (),
        scopes: Iterable[str] = ALL_SCOPES,
        email: str | None = None,
    ) -> Person:
        email = email or f"p-{uuid.uuid4().hex[:10]}@example.cn"
        async with self.sessionmaker() as session, session.begin():
            user = User(email=email, password_hash=_PASSWORD_HASH, display_name="测试用户")
            session.add(user)
            await session.flush()
            if organization is not None:
                session.add(Membership(organization_id=organization.id, user_id=user.id, role=role))
            for platform_role in platform_roles:
                session.add(PlatformRoleGrant(user_id=user.id, role=platform_role))
        token = security.issue_access_token(
            user_id=user.id,
            family_id=uuid.uuid4(),
            scopes=frozenset(scopes),
            now=self.clock.now(),
            ttl=timedelta(days=3 * 365),  # tests move the clock by weeks, some by years
            key=self.signing_key,
        )
        return Person(user.id, email, token)

    async def staff(self, *roles: PlatformRole) -> Person:
        platform = await self.organization(OrganizationKind.platform)
        return await self.person(platform, platform_roles=roles or (PlatformRole.admin,))

    async def api_key(self, organization: Organization, scopes: Iterable[str]) -> str:
        secret, prefix = security.new_api_key()
        async with self.sessionmaker() as session, session.begin():
            owner = User(
                email=f"k-{uuid.uuid4().hex[:10]}@example.cn",
                password_hash=_PASSWORD_HASH,
                display_name="key owner",
            )
            session.add(owner)
            await session.flush()
            session.add(
                ApiKey(
                    organization_id=organization.id,
                    name="test app",
                    prefix=prefix,
                    key_hash=security.digest(secret),
                    scopes=sorted(scopes),
                    created_by_id=owner.id,
                )
            )
        return secret

    async def broker(
        self,
        person: Person,
        *,
        agency: Organization | None = None,
        status: BrokerStatus = BrokerStatus.active,
    ) -> BrokerProfile:
        async with self.sessionmaker() as session, session.begin():
            profile = BrokerProfile(
                user_id=person.user_id,
                certificate_number=f"JJR-{uuid.uuid4().hex[:10]}",
                level=BrokerLevel.intermediate,
                agency_id=agency.id if agency else None,
                status=status,
            )
            session.add(profile)
        return profile


class MarketFactory(Factory):
    """Results and listings in one line each."""

    async def result(self, organization: Organization, **overrides: object) -> Result:
        values: dict[str, object] = {
            "title": "一种高矫顽力钕铁硼永磁材料及其制备方法",
            "abstract": "本发明公开了一种通过晶界扩散提高矫顽力的钕铁硼永磁材料制备方法。",
            "keywords": ["钕铁硼", "晶界扩散"],
            "kind": ResultKind.technical_secret,
            "ip_number": None,
            "ipc_codes": ["H01F 1/057"],
            "legal_status": LegalStatus.not_applicable,
            "field_code": "new_materials.rare_earths",
            "trl": 6,
            "publicly_funded": True,
            "division_code": organization.division_code,
            **overrides,
        }
        async with self.sessionmaker() as session, session.begin():
            result = Result(organization_id=organization.id, **values)
            session.add(result)
        return result

    async def listing(
        self,
        organization: Organization,
        *,
        state: ListingState = ListingState.published,
        mode: ListingMode = ListingMode.fixed_price,
        price_fen: int | None = 50_000_000,
        window_days: int = 15,
        result: Result | None = None,
    ) -> Listing:
        result = result or await self.result(organization)
        now = self.clock.now()
        published = state in {ListingState.published, ListingState.closed}
        async with self.sessionmaker() as session, session.begin():
            listing = Listing(
                result_id=result.id,
                organization_id=organization.id,
                mode=mode,
                transfer_type=TransferType.assignment,
                price_fen=None if mode == ListingMode.negotiable else price_fen,
                window_days=window_days,
                state=state,
                published_at=now if published else None,
                window_ends_at=window_end(now, window_days) if published else None,
            )
            session.add(listing)
        return listing

    async def intent(self, listing: Listing, organization: Organization) -> Intent:
        async with self.sessionmaker() as session, session.begin():
            intent = Intent(
                listing_id=listing.id, organization_id=organization.id, created_at=self.clock.now()
            )
            session.add(intent)
        return intent

    async def auction(
        self,
        seller: Organization | None = None,
        *,
        start_price_fen: int = 10_000_000,
        opens_in: timedelta = timedelta(0),
        lasts: timedelta = timedelta(hours=2),
        reserve_fen: int | None = None,
        intent_holders: list[uuid.UUID] | None = None,
        increment_grid: IncrementGrid | None = None,
    ) -> Auction:
        """An auction-mode listing whose window closed into an auction starting `opens_in`
        from now (opening at once by default) and lasting `lasts`."""
        seller = seller or await self.organization(OrganizationKind.university)
        listing = await self.listing(
            seller, state=ListingState.closed, mode=ListingMode.auction, price_fen=start_price_fen
        )
        now = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            await session.execute(
                Listing.__table__.update()
                .where(Listing.id == listing.id)
                .values(outcome=ListingOutcome.to_auction, closed_at=now)
            )
            auction = await auctions.create_from_listing(
                session,
                listing_id=listing.id,
                seller_organization_id=seller.id,
                start_price=Money(start_price_fen),
                intent_holders=intent_holders,
                now=now,
            )
            auction.starts_at = now + opens_in
            auction.ends_at = auction.scheduled_end_at = now + opens_in + lasts
            auction.reserve_fen = reserve_fen
            if increment_grid is not None:
                auction.increments = {**auction.increments, "grid": increment_grid.value}
        return auction

    async def deposit(
        self, auction: Auction, organization: Organization, *, held: bool = True
    ) -> Deposit:
        """A bidder's deposit, confirmed (held, with a paddle number) unless `held=False`."""
        now: datetime = self.clock.now()
        async with self.sessionmaker() as session, session.begin():
            deposit = Deposit(
                auction_id=auction.id,
                organization_id=organization.id,
                amount_fen=auction.deposit_fen,
                state=DepositState.pending,
                provider="offline",
                provider_reference=f"BZJ-{uuid.uuid4().hex[:10].upper()}",
                instructions={},
                created_at=now,
            )
            session.add(deposit)
            await session.flush()
            if held:
                await auctions_deposits.mark_deposit_held(
                    session, deposit, now=now, confirmed_by_id=None
                )
        return deposit

    async def bidder(self, auction: Auction) -> tuple[Organization, Person]:
        """A verified enterprise with a held deposit and one of its members."""
        organization = await self.organization()
        await self.deposit(auction, organization)
        return organization, await self.person(organization)
