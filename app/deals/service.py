"""Rules of the deals package: deals, technology contracts, drafting and signing (registration:
`registration`, transformation income: `transformation_income`).

A deal and its contract are private to the two parties (and platform staff): to anyone else
they do not exist (404). Changing a contract or signing it needs an owner or admin of the
party's organization; a contract version signed by both is never edited again — a change is a
new version that both sign (an amendment).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import OrganizationKind, VerificationStatus
from app.core.auth import Principal
from app.core.errors import (
    AlreadyExists,
    DomainError,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import queries
from app.deals.documents import ContractSummary, MilestoneLine, Party, Side
from app.deals.models import (
    SUBTYPES,
    Contract,
    ContractState,
    ContractType,
    ContractVersion,
    Deal,
    DealBroker,
    DealSource,
    PriceItemCategory,
)
from app.deals.schemas import ContractTerms, RegisteredTerms
from app.listings import queries as listings

RESEARCH_SELLERS = frozenset({OrganizationKind.university, OrganizationKind.research_institute})


class RegistrationRefused(DomainError):
    """The registrar found the contract incomplete; `reasons` say what to mend."""

    status, code = 422, "registration_incomplete"
    detail_code = "detail.registration_incomplete"


# --- opening -------------------------------------------------------------------------------


async def open_deal(
    session: AsyncSession,
    *,
    source: DealSource,
    listing_id: uuid.UUID | None,
    seller_organization_id: uuid.UUID,
    buyer_organization_id: uuid.UUID,
    price: Money,
    deposit_applied: Money | None = None,
    now: datetime,
    opened_by_id: uuid.UUID | None = None,
) -> Deal:
    """Open a deal at an agreed price: a fixed-price listing whose window closed with exactly
    one intent (that buyer, at the listed price 挂牌价), a settled auction (the winner, at the
    hammer price 落槌价, with their deposit applied towards it), a negotiated listing, or a
    contract concluded off the platform. Its contract starts as an empty draft."""
    deal = Deal(
        listing_id=listing_id,
        seller_organization_id=seller_organization_id,
        buyer_organization_id=buyer_organization_id,
        price_fen=price.fen,
        currency=price.currency,
        deposit_applied_fen=deposit_applied.fen if deposit_applied else 0,
        source=source,
        opened_at=now,
        opened_by_id=opened_by_id,
    )
    session.add(deal)
    await session.flush()
    session.add(Contract(deal_id=deal.id, state=ContractState.draft, created_at=now))
    await record_event(
        session,
        "deal.opened",
        {
            "deal_id": str(deal.id),
            "listing_id": str(listing_id) if listing_id else None,
            "source": source.value,
            "seller_organization_id": str(seller_organization_id),
            "buyer_organization_id": str(buyer_organization_id),
            "price": price.to_api(),
        },
    )
    return deal


async def open_agreed_deal(
    session: AsyncSession,
    principal: Principal,
    *,
    source: DealSource,
    listing_id: uuid.UUID | None,
    seller_organization_id: uuid.UUID | None,
    buyer_organization_id: uuid.UUID,
    price: Money,
    now: datetime,
) -> Deal:
    """Open a deal agreed outside the automatic paths.

    Negotiation (面议): the seller's owner or admin names one of the listing's intent holders
    and the price they agreed, after the publication window closed. Off-platform: an owner or
    admin of either party names the other; the counterparty must be verified. Both parties
    still sign the contract. Raises NotFound, Forbidden, ValidationFailed naming the field,
    AlreadyExists(listing_id) for a second deal on a listing.
    """
    if source == DealSource.negotiation:
        assert listing_id is not None
        negotiable = await listings.negotiation_of(session, principal, listing_id)
        principal.require_manager(negotiable.seller_organization_id)
        if buyer_organization_id not in negotiable.intent_holders:
            raise ValidationFailed("body.buyer_organization_id", "buyer_not_intent_holder")
        if await session.scalar(select(Deal.id).where(Deal.listing_id == listing_id)):
            raise AlreadyExists("body.listing_id")
        seller = negotiable.seller_organization_id
    else:
        assert seller_organization_id is not None
        seller, listing_id = seller_organization_id, None
        if seller == buyer_organization_id:
            raise ValidationFailed("body.buyer_organization_id", "same_party")
        mine = [o for o in (seller, buyer_organization_id) if principal.is_member_of(o)]
        if not mine:
            raise ValidationFailed("body.seller_organization_id", "not_your_organization")
        principal.require_manager(mine[0])
        other = buyer_organization_id if mine[0] == seller else seller
        counterparty = (await accounts.organizations_by_id(session, [other])).get(other)
        field = (
            "body.buyer_organization_id"
            if other == buyer_organization_id
            else "body.seller_organization_id"
        )
        if counterparty is None:
            raise ValidationFailed(field, "no_such_organization")
        if counterparty.verification_status != VerificationStatus.verified:
            raise ValidationFailed(field, "counterparty_unverified")
    return await open_deal(
        session,
        source=source,
        listing_id=listing_id,
        seller_organization_id=seller,
        buyer_organization_id=buyer_organization_id,
        price=price,
        now=now,
        opened_by_id=principal.user_id,
    )


# --- reading -------------------------------------------------------------------------------


async def get_deal_summary(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID
) -> tuple[Deal, ContractState, list[uuid.UUID]]:
    """A deal the caller may see, with its contract's state and its brokers. Raises NotFound."""
    deal = await queries.get_deal_for(session, principal, deal_id)
    return (
        deal,
        (await queries.contract_of(session, deal.id)).state,
        await brokers_of(session, deal.id),
    )


async def name_brokers(
    session: AsyncSession,
    principal: Principal,
    deal_id: uuid.UUID,
    broker_ids: Sequence[uuid.UUID],
    *,
    now: datetime,
) -> list[uuid.UUID]:
    """Either party's owner or admin names the brokers of the deal (replacing the list), until
    the contract is registered. Raises NotFound, Forbidden, InvalidState after registration,
    ValidationFailed(broker_ids) naming brokers that are not active."""
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    _side(principal, deal)
    contract = await queries.contract_of(session, deal.id)
    if contract.state not in {ContractState.draft, ContractState.signed}:
        raise InvalidState(detail_code="detail.brokers_fixed")
    inactive = await accounts.inactive_brokers(session, broker_ids)
    if inactive:
        raise ValidationFailed(
            "body.broker_ids", "broker_inactive", brokers=", ".join(map(str, inactive))
        )
    named_before = await brokers_of(session, deal.id)
    named = list(dict.fromkeys(broker_ids))
    await session.execute(delete(DealBroker).where(DealBroker.deal_id == deal.id))
    session.add_all(
        DealBroker(
            deal_id=deal.id, broker_id=broker_id, named_by_id=principal.user_id, named_at=now
        )
        for broker_id in named
    )
    await record_event(
        session,
        "deal.brokers_named",
        {"deal_id": str(deal.id), "broker_ids": [str(broker) for broker in named]},
        before={"broker_ids": [str(broker) for broker in named_before]},
    )
    return named


async def brokers_of(session: AsyncSession, deal_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.scalars(
        select(DealBroker.broker_id)
        .where(DealBroker.deal_id == deal_id)
        .order_by(DealBroker.named_at)
    )
    return list(rows.all())


async def list_deals(
    session: AsyncSession, principal: Principal, params: PageParams
) -> tuple[list[tuple[Deal, ContractState | None]], str | None]:
    """The caller's organizations' deals (staff: all), newest first, with their contract's
    state."""
    rows, cursor = await paginate(
        session,
        select(Deal).where(queries.visible_for(principal)),
        params,
        key=Deal.opened_at,
        row_id=Deal.id,
    )
    states = {
        row.deal_id: row.state
        for row in await session.execute(
            select(Contract.deal_id, Contract.state).where(
                Contract.deal_id.in_([deal.id for deal in rows])
            )
        )
    }
    return [(deal, states.get(deal.id)) for deal in rows], cursor


async def get_contract_for(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID
) -> queries.ContractView:
    """The deal's contract with every version and what is still due. Raises NotFound."""
    deal = await queries.get_deal_for(session, principal, deal_id)
    return await queries.contract_view(session, deal)


# --- drafting and signing --------------------------------------------------------------------


def _side(principal: Principal, deal: Deal) -> str:
    """Which party the caller signs for; Forbidden for members who may not bind it."""
    for side, organization in (
        ("seller", deal.seller_organization_id),
        ("buyer", deal.buyer_organization_id),
    ):
        if principal.is_member_of(organization):
            principal.require_manager(organization)
            return side
    raise NotFound()  # staff see deals but are not a party to them


def check_registered_terms(terms: RegisteredTerms, at: str = "body") -> None:
    """The rules the terms a registration form records meet, wherever they come in (drafted
    here or imported); ValidationFailed names the field under `at`."""
    if terms.transaction_amount.fen > terms.total.fen:
        raise ValidationFailed(f"{at}.transaction_amount", "transaction_above_total")
    if terms.ends_on < terms.starts_on:
        raise ValidationFailed(f"{at}.ends_on", "term_inverted")
    if (terms.contract_type == ContractType.licence) != (terms.exclusivity is not None):
        raise ValidationFailed(f"{at}.exclusivity", "licence_exclusivity")
    if terms.subtype is not None and terms.subtype not in SUBTYPES[terms.contract_type]:
        raise ValidationFailed(f"{at}.subtype", "subtype_not_of_type")


def write_registered_terms(version: ContractVersion, terms: RegisteredTerms) -> None:
    """Put the terms a registration form records on a version: drafted here or imported."""
    version.contract_type = terms.contract_type
    version.subtype = terms.subtype
    version.subject = terms.subject
    version.technology_field = terms.technology_field
    version.intellectual_property = [
        right.model_dump(mode="json") for right in terms.intellectual_property
    ]
    version.total_fen = terms.total.fen
    version.transaction_fen = terms.transaction_amount.fen
    version.starts_on = terms.starts_on
    version.ends_on = terms.ends_on
    version.licence_scope = terms.licence_scope
    version.exclusivity = terms.exclusivity


def _check_terms(terms: ContractTerms, deal: Deal) -> None:
    check_registered_terms(terms)
    if terms.price_items:
        if sum(item.amount.fen for item in terms.price_items) != terms.total.fen:
            raise ValidationFailed(
                "body.price_items", "price_items_total", total=str(terms.total.amount)
            )
        technology = sum(
            item.amount.fen
            for item in terms.price_items
            if item.category == PriceItemCategory.technology
        )
        if technology != terms.transaction_amount.fen:
            raise ValidationFailed(
                "body.price_items",
                "price_items_technology",
                transaction_amount=str(terms.transaction_amount.amount),
            )
    if sum(m.amount.fen for m in terms.milestones) != terms.total.fen:
        raise ValidationFailed("body.milestones", "milestones_sum", total=str(terms.total.amount))
    if deal.deposit_applied_fen > terms.total.fen:
        raise ValidationFailed("body.total", "total_below_deposit")
    claimed = {
        part: sum(m.amount.fen for m in terms.milestones if m.pays == part)
        for part in ("technology", "non_technical")
    }
    rest = terms.total.fen - terms.transaction_amount.fen
    if claimed["technology"] > terms.transaction_amount.fen or claimed["non_technical"] > rest:
        raise ValidationFailed(
            "body.milestones",
            "milestone_parts",
            technology=str(terms.transaction_amount.amount),
            rest=str(Money(rest).amount),
        )


async def draft_contract(
    session: AsyncSession,
    principal: Principal,
    deal_id: uuid.UUID,
    terms: ContractTerms,
    *,
    now: datetime,
) -> queries.ContractView:
    """Write the contract's terms (either party's owner or admin). The unsigned version is
    replaced, and any signature on it falls; once a version is signed by both, this starts an
    amendment (the next version).

    Raises NotFound, Forbidden, InvalidState when the contract is completed or terminated,
    ValidationFailed naming the field: milestones not summing to the total, a technology-
    transaction amount above the total, an inverted term, exclusivity outside a licence.
    """
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    _side(principal, deal)
    _check_terms(terms, deal)
    contract = await queries.contract_of(session, deal.id, lock=True)
    if contract.state in {ContractState.completed, ContractState.terminated}:
        raise InvalidState(detail_code="detail.contract_closed")
    versions = await queries.versions_of(session, contract.id)
    latest = versions[-1] if versions else None
    if latest is None or latest.number == contract.effective_version:
        latest = ContractVersion(contract_id=contract.id, number=len(versions) + 1)
        session.add(latest)
    await _write_draft(session, deal, latest, terms, by=principal.user_id, now=now)
    return await queries.contract_view(session, deal)


async def prefill_contract(
    session: AsyncSession, deal: Deal, terms: ContractTerms, *, now: datetime
) -> None:
    """Write the first draft of a new deal's contract for its parties from terms they agreed
    before the deal (a challenge's winning proposal: its price and milestones). Nobody has
    signed it; either party changes it as any draft (`draft_contract`). Raises ValidationFailed
    as `draft_contract` does."""
    _check_terms(terms, deal)
    contract = await queries.contract_of(session, deal.id, lock=True)
    version = ContractVersion(contract_id=contract.id, number=1)
    session.add(version)
    await _write_draft(session, deal, version, terms, by=None, now=now)


async def _write_draft(
    session: AsyncSession,
    deal: Deal,
    version: ContractVersion,
    terms: ContractTerms,
    *,
    by: uuid.UUID | None,
    now: datetime,
) -> None:
    """Put drafted terms on an unsigned version (any signature on it falls) and announce it."""
    write_registered_terms(version, terms)
    version.content = terms.content
    version.price_items = [
        {
            "number": number,
            "category": item.category.value,
            "description": item.description,
            "amount_fen": item.amount.fen,
        }
        for number, item in enumerate(terms.price_items, start=1)
    ]
    version.milestones = [
        {
            "number": number,
            "amount_fen": milestone.amount.fen,
            "due_on": milestone.due_on.isoformat(),
            "description": milestone.description,
            **({"pays": milestone.pays} if milestone.pays else {}),
        }
        for number, milestone in enumerate(terms.milestones, start=1)
    ]
    version.created_by_id = by
    version.created_at = now
    version.seller_signed_by_id = version.buyer_signed_by_id = None
    version.seller_signed_at = version.buyer_signed_at = None
    await session.flush()
    await record_event(
        session,
        "contract.drafted",
        {
            "deal_id": str(deal.id),
            "version": version.number,
            "contract_type": terms.contract_type,
            "total": terms.total.to_api(),
            "transaction_amount": terms.transaction_amount.to_api(),
            "milestones": len(terms.milestones),
        },
    )


async def sign_contract(
    session: AsyncSession,
    principal: Principal,
    deal_id: uuid.UUID,
    *,
    version: int,
    now: datetime,
) -> queries.ContractView:
    """Sign a version for the caller's party (an owner or admin of it). When both have signed,
    the version takes effect: a first one makes the contract `signed`; an amendment replaces
    the terms in force.

    Raises NotFound, Forbidden, InvalidState when that version is not the one awaiting
    signatures (already in effect, replaced, or never written).
    """
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    side = _side(principal, deal)
    contract = await queries.contract_of(session, deal.id, lock=True)
    versions = await queries.versions_of(session, contract.id)
    latest = versions[-1] if versions else None
    if (
        latest is None
        or latest.number != version
        or latest.number == contract.effective_version
        or contract.state in {ContractState.completed, ContractState.terminated}
    ):
        raise InvalidState(detail_code="detail.version_not_awaiting_signature")
    if side == "seller":
        latest.seller_signed_by_id, latest.seller_signed_at = principal.user_id, now
    else:
        latest.buyer_signed_by_id, latest.buyer_signed_at = principal.user_id, now
    if latest.seller_signed_at and latest.buyer_signed_at:
        amendment = contract.effective_version is not None
        contract.effective_version = latest.number
        if contract.state == ContractState.draft:
            contract.state = ContractState.signed
        if contract.state in {
            ContractState.signed,
            ContractState.registered,
            ContractState.performing,
        }:
            # These terms apply for registration: a signed contract's (after a refusal, the
            # corrected contract, 补正, is a new application), or a registered one's change
            # (变更登记), which counts only once registered.
            contract.registration_applied_at = now
            contract.rejection_reasons = None
        await record_event(
            session,
            "contract.amended" if amendment else "contract.signed",
            contract_payload(deal, contract, latest),
        )
    return await queries.contract_view(session, deal)


def contract_payload(deal: Deal, contract: Contract, version: ContractVersion) -> dict[str, Any]:
    return {
        "deal_id": str(deal.id),
        "contract_id": str(contract.id),
        "version": version.number,
        "contract_type": version.contract_type.value,
        "transaction_amount": Money(version.transaction_fen).to_api(),
        "seller_organization_id": str(deal.seller_organization_id),
        "buyer_organization_id": str(deal.buyer_organization_id),
    }


# --- money arriving ---------------------------------------------------------------------------


async def follow_payments(session: AsyncSession, deal_id: uuid.UUID, *, now: datetime) -> None:
    """Move a registered contract along with its money: performing once money has arrived,
    completed when nothing is due, back to performing when a refund makes a milestone due
    again. Unregistered contracts wait: registration looks at the money already there."""
    deal = await session.get(Deal, deal_id)
    assert deal is not None
    contract = await queries.contract_of(session, deal.id, lock=True)
    view = await queries.contract_view(session, deal)
    due = any(view.outstanding.values())
    if contract.state == ContractState.registered:
        contract.state = ContractState.performing
    if contract.state == ContractState.performing and not due:
        contract.state = ContractState.completed
        await record_event(session, "contract.completed", {"deal_id": str(deal.id)})
    elif contract.state == ContractState.completed and due:
        contract.state = ContractState.performing


# --- documents -------------------------------------------------------------------------------


async def contract_summary(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID, *, now: datetime
) -> ContractSummary:
    """What the contract PDF shows: the version in force (or the draft), the parties, the
    milestones and what is still due. Raises NotFound; InvalidState before any terms exist."""
    deal = await queries.get_deal_for(session, principal, deal_id)
    view = await queries.contract_view(session, deal)
    version = queries.effective_version(view.contract, view.versions) or (
        view.versions[-1] if view.versions else None
    )
    if version is None:
        raise InvalidState(detail_code="detail.contract_empty")
    organizations = await accounts.organizations_by_id(
        session, [deal.seller_organization_id, deal.buyer_organization_id]
    )
    effective = version.number == view.contract.effective_version
    sides: tuple[tuple[Side, uuid.UUID, datetime | None], ...] = (
        ("seller", deal.seller_organization_id, version.seller_signed_at),
        ("buyer", deal.buyer_organization_id, version.buyer_signed_at),
    )
    return ContractSummary(
        contract_type=version.contract_type.value,
        subject=version.subject,
        state=view.contract.state.value,
        version=version.number,
        registration_number=view.contract.registration_number,
        registered_at=view.contract.registered_at,
        parties=[
            Party(
                side,
                organizations[organization_id].name,
                organizations[organization_id].credit_code,
                signed_at,
            )
            for side, organization_id, signed_at in sides
        ],
        total=Money(version.total_fen),
        transaction_amount=Money(version.transaction_fen),
        starts_on=version.starts_on,
        ends_on=version.ends_on,
        exclusivity=version.exclusivity.value if version.exclusivity else None,
        licence_scope=version.licence_scope,
        milestones=[
            MilestoneLine(
                int(m["number"]),
                Money(int(m["amount_fen"])),
                date.fromisoformat(m["due_on"]),
                Money(
                    view.outstanding.get(int(m["number"]), 0) if effective else int(m["amount_fen"])
                ),
            )
            for m in version.milestones
        ],
        printed_at=now,
    )
