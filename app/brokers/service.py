"""Rules of the brokers package: claims, their review and reward computation (payouts:
`payouts`).

A claim is visible to its claimant (the broker, or the applying party's members), to both
parties of the deal, and to platform staff. Approving a broker's claim locks the deal's row, so
the approved shares of one contract never add up to more than 100 % however many reviewers
approve at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.brokers.agency_subsidy import agency_application, agency_reward, split
from app.brokers.models import (
    BrokerRole,
    Claim,
    ClaimKind,
    ClaimState,
    RewardEntry,
)
from app.brokers.policies import RewardPolicy, policy_for, policy_in_force
from app.brokers.queries import claims_visible_to
from app.brokers.tiers import Working, compute
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date, period_end
from app.core.db import one_or_not_found
from app.core.errors import (
    DomainError,
    Forbidden,
    InvalidState,
    NotFound,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import queries as deals
from app.deals.queries import RegisteredContract

REWARD_FUND = "fund:rewards"


class ShareOverRemainder(DomainError):
    """The approved shares of one contract would exceed 100 %."""

    status, code = 409, "share_over_remainder"
    detail_code = "detail.share_over_remainder"


# --- filing ----------------------------------------------------------------------------------


def ineligibility(
    policy: RewardPolicy, contract: RegisteredContract, region_code: str, broker_level: str | None
) -> str | None:
    """Why a contract does not qualify under a policy (a reason code), or None (pure)."""
    if not region_code.startswith(policy.region):
        return "outside_region"
    if contract.contract_type.value not in policy.contract_types:
        return "contract_type"
    minimum = policy.fen(policy.minimum_contract)
    if minimum is not None and contract.transaction_fen < minimum:
        return "below_minimum"
    levels = policy.broker_levels
    if broker_level is not None and levels is not None and broker_level not in levels:
        return "broker_level"
    return None


async def _approved_share(session: AsyncSession, deal_id: uuid.UUID) -> Decimal:
    total = await session.scalar(
        select(func.coalesce(func.sum(Claim.share_percent), 0)).where(
            Claim.deal_id == deal_id,
            Claim.kind == ClaimKind.broker,
            Claim.state == ClaimState.approved,
        )
    )
    return Decimal(total or 0)


async def file_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    kind: ClaimKind,
    deal_id: uuid.UUID | None,
    year: int | None,
    role: BrokerRole | None,
    share: Decimal | None,
    organization_id: uuid.UUID | None,
    policy_code: str | None,
    deadline_days: int,
    now: datetime,
) -> Claim:
    """File a claim: on a registered contract, a broker's attribution (role and share) or a
    party's post-subsidy application (once per party, contract, policy and year; the contract
    must have been paid); or a transfer agency's post-subsidy application for a year of service
    (`agency_subsidy.agency_application`).

    Raises ValidationFailed naming the field: no active broker profile, a share over what is
    left, an unregistered or unpaid contract, a policy that does not apply, a claim after the
    deadline; NotFound for a deal that does not exist, or a party claim on someone else's deal;
    AlreadyExists through the unique indexes for a second claim.
    """
    if kind == ClaimKind.agency:
        if year is None:
            raise ValidationFailed("body.year", "missing")
        claim = await agency_application(
            session, principal, organization_id=organization_id, year=year,
            policy_code=policy_code, now=now,
        )  # fmt: skip
    else:
        if deal_id is None:
            raise ValidationFailed("body.deal_id", "missing")
        claim = await _deal_claim(
            session, principal, deal_id=deal_id, kind=kind, role=role, share=share,
            organization_id=organization_id, policy_code=policy_code,
            deadline_days=deadline_days, now=now,
        )  # fmt: skip
    claim.filed_by_id = principal.user_id
    claim.filed_at = now
    session.add(claim)
    await session.flush()
    await record_event(session, "claim.filed", _payload(claim))
    return claim


async def _deal_claim(
    session: AsyncSession,
    principal: Principal,
    *,
    deal_id: uuid.UUID,
    kind: ClaimKind,
    role: BrokerRole | None,
    share: Decimal | None,
    organization_id: uuid.UUID | None,
    policy_code: str | None,
    deadline_days: int,
    now: datetime,
) -> Claim:
    await deals.parties_of(session, deal_id)  # NotFound for a deal that does not exist
    contract = await deals.registered_contract(session, deal_id)
    if contract is None:
        raise ValidationFailed("body.deal_id", "contract_not_registered")
    # Counted in Beijing days like any legal period: the day of registration is not counted,
    # the last day runs to 24:00.
    if now >= period_end(contract.registered_at, deadline_days):
        raise ValidationFailed("body.deal_id", "claim_deadline_passed", days=deadline_days)
    year = beijing_date(contract.registered_at).year
    if kind == ClaimKind.broker:
        broker = await accounts.broker_of_user(session, principal.user_id)
        if broker is None or not broker.active:
            raise ValidationFailed("body.kind", "not_a_broker")
        if role is None or share is None:
            raise ValidationFailed("body.role" if role is None else "body.share", "missing")
        policy = policy_for(
            policy_code,
            {"broker"},
            on=beijing_date(contract.registered_at),
            region=contract.seller_division_code,
        )
        reason = ineligibility(policy, contract, contract.seller_division_code, broker.level)
        if reason:
            raise ValidationFailed("body.policy_code", f"not_eligible_{reason}")
        if share > Decimal(100) - await _approved_share(session, deal_id):
            raise ValidationFailed("body.share", "share_over_remainder")
        claim = Claim(
            deal_id=deal_id,
            kind=kind,
            policy_code=policy.code,
            policy_year=year,
            broker_id=broker.id,
            agency_id=broker.agency_id,
            role=role,
            share_percent=share,
            state=ClaimState.pending,
        )
    else:
        side = principal.acting_for(organization_id)
        principal.require_manager(side)
        if side not in (contract.seller_organization_id, contract.buyer_organization_id):
            raise NotFound()
        beneficiary = "seller" if side == contract.seller_organization_id else "buyer"
        policy = policy_for(
            policy_code,
            {beneficiary},
            on=beijing_date(contract.registered_at),
            region=contract.seller_division_code,
        )
        region = (
            contract.seller_division_code
            if beneficiary == "seller"
            else contract.buyer_division_code
        )
        reason = ineligibility(policy, contract, region, None)
        if reason:
            raise ValidationFailed("body.policy_code", f"not_eligible_{reason}")
        if contract.received_fen <= 0:
            raise ValidationFailed("body.deal_id", "contract_not_paid")
        claim = Claim(
            deal_id=deal_id,
            kind=kind,
            policy_code=policy.code,
            policy_year=year,
            organization_id=side,
            share_percent=Decimal(100),
            # The party applies for itself: nobody else has to confirm it.
            state=ClaimState.confirmed,
            confirmed_by_id=principal.user_id,
            confirmed_at=now,
        )
    return claim


def _payload(claim: Claim) -> dict[str, Any]:
    return {
        "claim_id": str(claim.id),
        "deal_id": None if claim.deal_id is None else str(claim.deal_id),
        "kind": claim.kind.value,
        "state": claim.state.value,
    }


# --- reading ---------------------------------------------------------------------------------


async def get_claim_for(
    session: AsyncSession, principal: Principal, claim_id: uuid.UUID, *, lock: bool = False
) -> Claim:
    """A claim the caller may see (claimant, either party, staff). Raises NotFound."""
    query = select(Claim).where(Claim.id == claim_id, await claims_visible_to(session, principal))
    return await one_or_not_found(session, query, lock=lock)


async def list_claims(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    deal_id: uuid.UUID | None = None,
    state: ClaimState | None = None,
) -> tuple[Sequence[Claim], str | None]:
    """Claims the caller may see, newest first."""
    query = select(Claim).where(await claims_visible_to(session, principal))
    if deal_id is not None:
        query = query.where(Claim.deal_id == deal_id)
    if state is not None:
        query = query.where(Claim.state == state)
    return await paginate(session, query, params, key=Claim.filed_at, row_id=Claim.id)


# --- review ----------------------------------------------------------------------------------


async def respond_to_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    confirm: bool,
    reason: str | None,
    now: datetime,
) -> Claim:
    """A party to the deal (owner or admin) confirms a broker's claim or disputes it with a
    reason. Raises NotFound, Forbidden (not a party's manager), InvalidState (not pending),
    ValidationFailed(reason) for a dispute without one."""
    claim = await get_claim_for(session, principal, claim_id, lock=True)
    if claim.deal_id is None:  # an agency's application: nobody but the reviewers decides
        raise InvalidState(detail_code="detail.claim_state", state=claim.state.value)
    seller, buyer = await deals.parties_of(session, claim.deal_id)
    sides = [o for o in (seller, buyer) if principal.is_member_of(o)]
    if not sides:
        raise Forbidden(detail_code="detail.party_confirms")
    principal.require_manager(sides[0])
    if claim.state != ClaimState.pending:
        raise InvalidState(detail_code="detail.claim_state", state=claim.state.value)
    if not confirm and not reason:
        raise ValidationFailed("body.reason", "missing")
    before = {"state": claim.state}
    claim.state = ClaimState.confirmed if confirm else ClaimState.disputed
    claim.confirmed_by_id, claim.confirmed_at = principal.user_id, now
    claim.dispute_reason = None if confirm else reason
    await record_event(session, f"claim.{claim.state.value}", _payload(claim), before=before)
    return claim


async def decide_claim(
    session: AsyncSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    approve: bool,
    reason: str | None,
    now: datetime,
) -> Claim:
    """A platform reviewer approves a confirmed claim or rejects a claim with a reason.

    Raises Forbidden, NotFound, InvalidState (approving what is not confirmed, deciding twice),
    ShareOverRemainder when approval would take the contract's approved shares over 100 %,
    ValidationFailed(reason) for a rejection without one.
    """
    principal.require_platform_role(PlatformRole.reviewer)
    claim = await get_claim_for(session, principal, claim_id)
    if claim.deal_id is not None:
        # The deal row orders every decision on this contract's shares.
        await deals.registered_contract(session, claim.deal_id, lock=True)
    await session.refresh(claim, with_for_update=True)
    if claim.state in {ClaimState.approved, ClaimState.rejected}:
        raise InvalidState(detail_code="detail.claim_state", state=claim.state.value)
    before = {"state": claim.state}
    if approve:
        if claim.state != ClaimState.confirmed:
            raise InvalidState(detail_code="detail.claim_state", state=claim.state.value)
        if claim.kind == ClaimKind.broker and claim.deal_id is not None:
            left = Decimal(100) - await _approved_share(session, claim.deal_id)
            if claim.share_percent > left:
                raise ShareOverRemainder(extensions={"remaining_share": str(left)})
        claim.state = ClaimState.approved
    else:
        if not reason:
            raise ValidationFailed("body.reason", "missing")
        claim.state = ClaimState.rejected
        claim.rejection_reason = reason
    claim.decided_by_id, claim.decided_at = principal.user_id, now
    await record_event(session, f"claim.{claim.state.value}", _payload(claim), before=before)
    return claim


# --- computation -----------------------------------------------------------------------------


def _plain(value: object) -> object:
    return str(value) if isinstance(value, Decimal) else value


def _working_data(
    working: Working | None, policy: RewardPolicy, reason: str | None
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "policy": policy.code,
        "version": policy.version,
        "source": policy.source,
    }
    if reason is not None:
        data["not_eligible"] = reason
    if working is not None:
        data.update({k: _plain(v) for k, v in asdict(working).items() if k != "lines"})
        data["lines"] = [{k: _plain(v) for k, v in asdict(line).items()} for line in working.lines]
    return data


async def _recorded(session: AsyncSession, claim_id: uuid.UUID) -> int | None:
    """The claim's reward so far, or None before its first computation."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(RewardEntry.amount_fen), 0)).where(
                RewardEntry.claim_id == claim_id
            )
        )
    ).one()
    return int(row[1]) if row[0] else None


async def _agency_used(
    session: AsyncSession, agency_id: uuid.UUID, year: int, except_broker: uuid.UUID
) -> int:
    total = await session.scalar(
        select(func.coalesce(func.sum(RewardEntry.amount_fen), 0))
        .join(Claim, Claim.id == RewardEntry.claim_id)
        .where(
            Claim.agency_id == agency_id,
            Claim.kind == ClaimKind.broker,
            Claim.policy_year == year,
            Claim.broker_id != except_broker,
        )
    )
    return int(total or 0)


async def compute_rewards(session: AsyncSession, deal_id: uuid.UUID, *, now: datetime) -> int:
    """Compute the rewards of every approved claim on a deal, and — because per-year caps tie
    them together — of the same beneficiaries' other approved claims that year, in the order of
    their contracts' registration. A result differing from what is recorded is appended as an
    adjustment; equal results append nothing, so this is idempotent and may run any number of
    times. The transfer agencies' claims of the contract's year follow too, since their
    brokered amount may have changed. Returns the number of entries appended."""
    claims = (
        await session.scalars(
            select(Claim).where(Claim.deal_id == deal_id, Claim.state == ClaimState.approved)
        )
    ).all()
    appended = 0
    for beneficiary, year in {(c.broker_id or c.organization_id, c.policy_year) for c in claims}:
        appended += await _compute_beneficiary_year(session, beneficiary, year, now=now)
    contract = await deals.registered_contract(session, deal_id)
    if contract is not None:
        year = beijing_date(contract.registered_at).year
        appended += await compute_agency_claims(session, year=year, now=now)
    return appended


async def compute_claim(session: AsyncSession, claim_id: uuid.UUID, *, now: datetime) -> int:
    """Compute an approved claim's reward with whatever its computation ties it to (its deal's
    claims, or its agency's year). Returns the number of entries appended."""
    claim = await session.get(Claim, claim_id)
    if claim is None:
        return 0
    if claim.deal_id is not None:
        return await compute_rewards(session, claim.deal_id, now=now)
    return await compute_agency_claims(
        session, year=claim.policy_year, organization_id=claim.organization_id, now=now
    )


async def compute_agency_claims(
    session: AsyncSession,
    *,
    year: int,
    organization_id: uuid.UUID | None = None,
    now: datetime,
) -> int:
    """Compute the approved transfer-agency claims of a year (one agency's, or all), each as
    `agency_subsidy.agency_reward` says, less the shares the agency passed to its brokers
    (`agency_subsidy.split`: the parts and the agency's rest add up to the subsidy); recorded
    like every reward (an adjustment when the result changes). Returns the number of entries
    appended."""
    query = select(Claim).where(
        Claim.kind == ClaimKind.agency,
        Claim.policy_year == year,
        Claim.state == ClaimState.approved,
    )
    if organization_id is not None:
        query = query.where(Claim.organization_id == organization_id)
    rows = (await session.scalars(query.order_by(Claim.id).with_for_update())).all()
    agencies = await accounts.organizations_by_id(
        session, [c.organization_id for c in rows if c.organization_id]
    )
    appended = 0
    for claim in rows:
        assert claim.organization_id is not None
        reward = await agency_reward(session, claim, agencies[claim.organization_id], now=now)
        if reward is None:
            continue
        data = _working_data(reward.working, reward.policy, reward.reason)
        data["basis"] = reward.basis
        whole = 0 if reward.working is None else reward.working.amount_fen
        shares = (
            await session.scalars(
                select(Claim)
                .where(Claim.agency_claim_id == claim.id)
                .order_by(Claim.broker_id)
                .with_for_update()
            )
        ).all()
        parts = split(whole, [share.share_percent for share in shares])
        for share, part in zip(shares, parts, strict=True):
            passed = {
                "policy": reward.policy.code,
                "version": reward.policy.version,
                "source": reward.policy.source,
                "agency_claim_id": str(claim.id),
                "agency_reward_fen": whole,
                "share": str(share.share_percent),
                "amount_fen": part,
            }
            appended += await _record(session, share, reward.policy, part, passed, now=now)
        data["agency_reward_fen"] = whole
        data["passed_to_brokers_fen"] = sum(parts)
        own = whole - sum(parts)
        appended += await _record(session, claim, reward.policy, own, data, now=now)
    return appended


async def _compute_beneficiary_year(
    session: AsyncSession, beneficiary: uuid.UUID | None, year: int, *, now: datetime
) -> int:
    rows = (
        await session.scalars(
            select(Claim)
            .where(
                or_(Claim.broker_id == beneficiary, Claim.organization_id == beneficiary),
                Claim.deal_id.is_not(None),
                Claim.policy_year == year,
                Claim.state == ClaimState.approved,
            )
            .with_for_update()
        )
    ).all()
    contracts: dict[uuid.UUID | None, RegisteredContract | None] = {
        c.deal_id: await deals.registered_contract(session, c.deal_id) for c in rows if c.deal_id
    }
    ordered = sorted(
        (c for c in rows if contracts[c.deal_id] is not None),
        key=lambda c: (contracts[c.deal_id].registered_at, str(c.id)),  # type: ignore[union-attr]
    )
    brokers = await accounts.brokers_by_id(session, [c.broker_id for c in ordered if c.broker_id])
    used: dict[str, int] = {}
    appended = 0
    for claim in ordered:
        contract = contracts[claim.deal_id]
        assert contract is not None
        policy = policy_in_force(claim.policy_code, beijing_date(contract.registered_at))
        if policy is None:
            continue
        broker = brokers.get(claim.broker_id) if claim.broker_id else None
        if (
            claim.kind == ClaimKind.party
            and claim.organization_id == contract.buyer_organization_id
        ):
            region = contract.buyer_division_code
        else:
            region = contract.seller_division_code
        reason = ineligibility(policy, contract, region, broker.level if broker else None)
        working = None
        amount = 0
        if reason is None:
            agency_room = None
            agency_cap = policy.fen(policy.agency_year_cap)
            if (
                claim.agency_id is not None
                and claim.broker_id is not None
                and agency_cap is not None
            ):
                agency_room = agency_cap - await _agency_used(
                    session, claim.agency_id, year, claim.broker_id
                )
            working = compute(
                transaction_fen=contract.transaction_fen,
                tiers=policy.rate_tiers(),
                contract_cap_fen=policy.fen(policy.contract_cap),
                share=claim.share_percent,
                received_fen=contract.received_fen if policy.pro_rata_to_received else None,
                year_cap_fen=policy.fen(policy.year_cap),
                year_used_fen=used.get(policy.code, 0),
                agency_room_fen=agency_room,
            )
            amount = working.amount_fen
            used[policy.code] = used.get(policy.code, 0) + amount
        data = _working_data(working, policy, reason)
        appended += await _record(session, claim, policy, amount, data, now=now)
    return appended


async def _record(
    session: AsyncSession,
    claim: Claim,
    policy: RewardPolicy,
    amount: int,
    working: dict[str, Any],
    *,
    now: datetime,
) -> int:
    """Append an entry when `amount` differs from the claim's reward so far (the first
    computation is recorded even at zero, so its working shows why). Returns 1 or 0."""
    recorded = await _recorded(session, claim.id)
    if amount == recorded:
        return 0
    session.add(
        RewardEntry(
            claim_id=claim.id,
            amount_fen=amount - (recorded or 0),
            total_fen=amount,
            policy_code=policy.code,
            policy_version=policy.version,
            working=working,
            computed_at=now,
        )
    )
    await session.flush()
    await record_event(
        session,
        "reward.computed",
        {
            "claim_id": str(claim.id),
            "deal_id": None if claim.deal_id is None else str(claim.deal_id),
            "amount": Money(amount).to_api(),
        },
    )
    return 1
