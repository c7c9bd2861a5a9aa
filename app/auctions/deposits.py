"""Deposits (保证金): requested before bidding (an offline transfer or a provider's payment),
held when the money is confirmed, which gives the bidder a paddle, and released to the losers or
applied to the winner's price when the auction settles."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.accounts.models import Organization, VerificationStatus
from app.auctions.errors import AuctionClosed
from app.auctions.models import (
    LIVE,
    Auction,
    Deposit,
    DepositState,
    Eligibility,
    EligibleBidder,
)
from app.auctions.queries import auction_by_id
from app.core.auth import PlatformRole, Principal
from app.core.errors import (
    AlreadyExists,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.payments import ledger
from app.payments import service as payments
from app.payments.provider import PaymentProvider


async def _check_eligible(
    session: AsyncSession, auction: Auction, organization: Organization
) -> None:
    if organization.id == auction.seller_organization_id:
        raise ValidationFailed("body.organization_id", "bid_own_listing")
    if organization.verification_status != VerificationStatus.verified:
        raise ValidationFailed("body.organization_id", "bidder_unverified")
    if auction.eligibility == Eligibility.intent_holders:
        admitted = await session.scalar(
            select(EligibleBidder.organization_id).where(
                EligibleBidder.auction_id == auction.id,
                EligibleBidder.organization_id == organization.id,
            )
        )
        if admitted is None:
            raise ValidationFailed("body.organization_id", "bidder_not_intent_holder")


async def request_deposit(
    session: AsyncSession,
    principal: Principal,
    provider: PaymentProvider,
    auction_id: uuid.UUID,
    *,
    organization_id: uuid.UUID | None,
    now: datetime,
) -> Deposit:
    """Open a bidder's deposit (保证金) through the payments provider and return it with the
    payment instructions. Once confirmed, the organization may bid.

    Raises NotFound; AuctionClosed after the end; ValidationFailed(organization_id) for
    someone else's organization, the seller, an unverified or ineligible organization;
    AlreadyExists(organization_id) for a second deposit.
    """
    auction = await auction_by_id(session, auction_id)
    if auction.state not in LIVE or now >= auction.ends_at:
        raise AuctionClosed()
    organization = await accounts.acting_organization(session, principal, organization_id)
    await _check_eligible(session, auction, organization)
    existing = await session.scalar(
        select(Deposit.id).where(
            Deposit.auction_id == auction.id, Deposit.organization_id == organization.id
        )
    )
    if existing is not None:
        raise AlreadyExists("body.organization_id")
    amount = Money(auction.deposit_fen)
    hold = await provider.create_hold(amount, purpose="bzj", payer_name=organization.name)
    deposit = Deposit(
        auction_id=auction.id,
        organization_id=organization.id,
        amount_fen=amount.fen,
        state=DepositState.pending,
        provider=hold.provider,
        provider_reference=hold.reference,
        instructions=hold.instructions,
        requested_by_id=principal.user_id,
        created_at=now,
    )
    session.add(deposit)
    await session.flush()
    if hold.confirmed or amount.fen == 0:
        await mark_deposit_held(session, deposit, now=now, confirmed_by_id=None)
    await record_event(
        session,
        "deposit.requested",
        {
            "deposit_id": str(deposit.id),
            "auction_id": str(auction.id),
            "organization_id": str(organization.id),
        },
    )
    return deposit


async def mark_deposit_held(
    session: AsyncSession,
    deposit: Deposit,
    *,
    now: datetime,
    confirmed_by_id: uuid.UUID | None,
) -> Deposit:
    """Record that the provider holds a deposit: give the bidder their number (竞买号). The one
    path for the offline confirmation and the provider's webhook (idempotent)."""
    if deposit.state != DepositState.pending:
        return deposit
    # The auction row lock numbers paddles without gaps or duplicates.
    auction = await auction_by_id(session, deposit.auction_id, lock=True)
    last = await session.scalar(
        select(func.max(Deposit.paddle)).where(Deposit.auction_id == auction.id)
    )
    deposit.state = DepositState.held
    deposit.paddle = (last or 0) + 1
    deposit.confirmed_at = now
    deposit.confirmed_by_id = confirmed_by_id
    ledger.transfer(
        session,
        debit=ledger.bank(deposit.provider),
        credit=ledger.deposit_account(auction.id, deposit.organization_id),
        amount_fen=deposit.amount_fen,
        memo="deposit held",
        now=now,
    )
    await record_event(
        session,
        "deposit.held",
        {
            "deposit_id": str(deposit.id),
            "auction_id": str(auction.id),
            "organization_id": str(deposit.organization_id),
            "state": deposit.state.value,
            "paddle": deposit.paddle,
        },
        before={"state": DepositState.pending, "paddle": None},
    )
    return deposit


async def cancel_pending_deposit(session: AsyncSession, deposit: Deposit, *, now: datetime) -> None:
    """The provider dropped a deposit that was never confirmed (idempotent; a confirmed deposit
    is released only by the auction's end)."""
    if deposit.state == DepositState.pending:
        deposit.state = DepositState.cancelled
        deposit.settled_at = now


async def confirm_deposit(
    session: AsyncSession,
    principal: Principal,
    auction_id: uuid.UUID,
    deposit_id: uuid.UUID,
    *,
    now: datetime,
) -> Deposit:
    """Platform finance confirms that an offline deposit arrived (idempotent).

    Raises Forbidden for anyone but finance staff; NotFound; InvalidState when the deposit
    was cancelled or the auction has ended.
    """
    principal.require_platform_role(PlatformRole.finance)
    deposit = await session.scalar(
        select(Deposit)
        .where(Deposit.id == deposit_id, Deposit.auction_id == auction_id)
        .with_for_update()
    )
    if deposit is None:
        raise NotFound()
    if deposit.state not in {DepositState.pending, DepositState.held}:
        raise InvalidState(detail_code="detail.deposit_settled")
    return await mark_deposit_held(session, deposit, now=now, confirmed_by_id=principal.user_id)


async def list_deposits(
    session: AsyncSession, principal: Principal, auction_id: uuid.UUID
) -> list[Deposit]:
    """Deposits of an auction: the caller's organizations', or all of them for finance and
    admin staff. Raises NotFound."""
    auction = await auction_by_id(session, auction_id)
    query = select(Deposit).where(Deposit.auction_id == auction.id).order_by(Deposit.created_at)
    if not principal.has_platform_role(PlatformRole.finance):
        query = query.where(Deposit.organization_id.in_(list(principal.memberships)))
    return list((await session.scalars(query)).all())


async def release_deposits(
    session: AsyncSession,
    provider: PaymentProvider,
    auction: Auction,
    *,
    winner: tuple[uuid.UUID, uuid.UUID] | None,
    now: datetime,
) -> None:
    """Release every held deposit but the winner's, which is applied to their deal
    (`winner` = (organization, deal)); cancel unconfirmed ones. Each movement is booked."""
    deposits = (
        await session.scalars(
            select(Deposit).where(Deposit.auction_id == auction.id).with_for_update()
        )
    ).all()
    for deposit in deposits:
        amount = Money(deposit.amount_fen)
        account = ledger.deposit_account(auction.id, deposit.organization_id)
        if deposit.state == DepositState.pending:
            deposit.state = DepositState.cancelled
        elif deposit.state != DepositState.held:
            continue
        elif winner is not None and deposit.organization_id == winner[0]:
            await provider.capture_hold(deposit.provider_reference, amount)
            deposit.state = DepositState.applied
            ledger.transfer(
                session,
                debit=account,
                credit=ledger.deal_account(winner[1]),
                amount_fen=amount.fen,
                memo="deposit applied to the price",
                now=now,
                deal_id=winner[1],
            )
            await payments.record_applied_deposit(
                session,
                deal_id=winner[1],
                payer_organization_id=deposit.organization_id,
                amount_fen=amount.fen,
                provider=deposit.provider,
                reference=deposit.provider_reference,
                now=now,
            )
        else:
            await provider.release_hold(deposit.provider_reference, amount)
            deposit.state = DepositState.released
            ledger.transfer(
                session,
                debit=account,
                credit=ledger.bank(deposit.provider),
                amount_fen=amount.fen,
                memo="deposit released",
                now=now,
            )
        deposit.settled_at = now
        await record_event(
            session,
            f"deposit.{deposit.state.value}",
            {
                "deposit_id": str(deposit.id),
                "auction_id": str(auction.id),
                "organization_id": str(deposit.organization_id),
            },
        )
