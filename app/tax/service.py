"""Rules of the tax package: computing filings from registered contracts and received money.

A filing's content is built from the facts of its period only, in a canonical form (sorted
keys, money as decimal strings, no timestamps), so recomputing unchanged inputs yields the
same bytes. A change before submission rewrites the draft; after submission it creates the
next version — an amendment carrying the difference — and marks the earlier one amended.
Computations of one taxpayer, kind and period are serialized by an advisory lock (and a unique
key), so many workers never duplicate a filing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.core.auth import PlatformRole, Principal
from app.core.errors import DomainError, InvalidState, NotFound, ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import service as deals
from app.deals.models import ContractType
from app.listings import service as listings
from app.payments import service as payments
from app.tax import rules
from app.tax.models import Filing, FilingKind, FilingState

BEIJING = ZoneInfo("Asia/Shanghai")
ANNUAL = frozenset({FilingKind.eit_transfer_income, FilingKind.rd_super_deduction})
SUPPORTED = frozenset(FilingKind)
logger = structlog.get_logger(__name__)


def period_bounds(kind: FilingKind, period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in Beijing time: a year for annual kinds, else a month.
    Raises ValidationFailed(period) for a malformed period."""
    try:
        if kind in ANNUAL:
            year = int(period)
            if len(period) != 4:
                raise ValueError(period)
            return datetime(year, 1, 1, tzinfo=BEIJING), datetime(year + 1, 1, 1, tzinfo=BEIJING)
        year_text, month_text = period.split("-")
        year, month = int(year_text), int(month_text)
        start = datetime(year, month, 1, tzinfo=BEIJING)
    except ValueError:
        raise ValidationFailed("body.period", "period_format") from None
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=BEIJING)
    return start, end


def _yuan(fen: int) -> str:
    return str(Money(fen).amount)


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


# --- content of each kind --------------------------------------------------------------------


async def _receipts(
    session: AsyncSession, taxpayer_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[list[Any], dict[uuid.UUID, deals.ContractFacts]]:
    deal_ids = await deals.deal_ids_of(session, [taxpayer_id])
    facts = await deals.contract_facts(session, deal_ids)
    selling = [d for d, f in facts.items() if f.seller_organization_id == taxpayer_id]
    return await payments.received_between(session, selling, start, end), facts


async def _eit_content(
    session: AsyncSession, taxpayer_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[dict[str, Any], int]:
    rule_set = rules.rule_set("eit_transfer_income", (end - (end - start) / 2).date())
    received, facts = await _receipts(session, taxpayer_id, start, end)
    costs = await deals.declared_costs(session, [p.id for p in received])
    offered = await listings.offered_results(
        session, [f.listing_id for f in facts.values() if f.listing_id]
    )
    by_deal: dict[uuid.UUID, list[Any]] = {}
    for payment in received:
        by_deal.setdefault(payment.deal_id, []).append(payment)
    contracts, unclassified = [], []
    for deal_id, paid in sorted(by_deal.items(), key=lambda item: str(item[0])):
        fact = facts[deal_id]
        result = offered.get(fact.listing_id) if fact.listing_id else None
        if fact.contract_type not in {ContractType.transfer, ContractType.licence}:
            continue  # not a transfer: no technology-transfer income
        if result is None or fact.signed_on is None:
            # Off-platform contracts name no result: marked for a person, not guessed.
            logger.warning("tax_contract_unclassified", deal_id=str(deal_id))
            unclassified.append({"deal_id": str(deal_id), "reason": "unclassified"})
            continue
        contracts.append(
            rules.TransferContract(
                contract_id=str(deal_id),
                transfer="licence" if fact.contract_type == ContractType.licence else "assignment",
                exclusive=fact.exclusivity in {"exclusive", "sole"},
                licence_years=result.licence_years,
                result_kind=result.result_kind,
                registered=fact.registered,
                related_party_100=False,
                signed_on=fact.signed_on,
                revenue_fen=sum(p.amount_fen for p in paid),
                costs_fen=sum(costs.get(p.id, 0) for p in paid),
                taxes_fen=0,
            )
        )
    outcome = rules.eit_transfer_income(rule_set, contracts)
    content = {
        "lines": [
            {
                "deal_id": c.contract_id,
                "registration_number": facts[uuid.UUID(c.contract_id)].registration_number,
                "revenue": _yuan(c.revenue_fen),
                "costs": _yuan(c.costs_fen),
                "income": _yuan(c.revenue_fen - c.costs_fen - c.taxes_fen),
                "included": c.contract_id in outcome.included,
            }
            for c in contracts
        ],
        "excluded": [{"deal_id": e.contract_id, "reason": e.reason} for e in outcome.excluded]
        + unclassified,
        "totals": {
            "income": _yuan(outcome.income_fen),
            "exempt": _yuan(outcome.exempt_fen),
            "excess": _yuan(outcome.halved_fen),
            "taxable_half": _yuan(outcome.taxable_fen),
            "reduced": _yuan(outcome.reduced_fen),
        },
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version


async def _vat_content(
    session: AsyncSession, taxpayer_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[dict[str, Any], int]:
    rule_set = rules.rule_set("vat_exemption", start.date())
    received, facts = await _receipts(session, taxpayer_id, start, end)
    outcome = rules.vat_exemption(
        rule_set,
        taxpayer_kind="general",
        receipts=[
            (
                str(p.id),
                str(facts[p.deal_id].contract_type or ""),
                facts[p.deal_id].registered,
                p.amount_fen,
            )
            for p in received
        ],
    )
    deal_of = {str(p.id): p.deal_id for p in received}
    content = {
        "lines": [
            {
                "payment_id": line.contract_id,
                "deal_id": str(deal_of[line.contract_id]),
                "registration_number": facts[deal_of[line.contract_id]].registration_number,
                "received": _yuan(line.received_fen),
                "exempt": line.exempt,
                "reason": line.reason,
            }
            for line in outcome.lines
        ],
        "totals": {
            "exempt_sales": _yuan(outcome.exempt_sales_fen),
            "taxable_sales": _yuan(outcome.taxable_sales_fen),
            "rate": str(outcome.rate),
            "vat_forgone": _yuan(outcome.vat_forgone_fen),
        },
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version


async def _super_deduction_content(
    session: AsyncSession, taxpayer_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[dict[str, Any], int]:
    """The commissioning buyer's extra deduction on technology-development contracts
    (技术开发 where the taxpayer is the buyer), from what it paid in the year. Industry is not
    recorded yet: every taxpayer is treated as a general, non-excluded enterprise, and the
    filing says so."""
    deal_ids = await deals.deal_ids_of(session, [taxpayer_id])
    facts = await deals.contract_facts(session, deal_ids)
    buying = [
        d
        for d, f in facts.items()
        if f.buyer_organization_id == taxpayer_id and f.contract_type == ContractType.development
    ]
    paid = await payments.received_between(session, buying, start, end)
    lines, excluded = [], []
    counted_total = deduction_total = 0
    version = 0
    for payment in paid:
        fact = facts[payment.deal_id]
        if not fact.registered:
            excluded.append({"deal_id": str(payment.deal_id), "reason": "not_registered"})
            continue
        paid_on = (
            payment.received_at.astimezone(BEIJING).date() if payment.received_at else start.date()
        )
        rule_set = rules.rule_set("rd_super_deduction", paid_on)
        version = max(version, rule_set.version)
        result = rules.rd_super_deduction(
            rule_set,
            expense_fen=payment.amount_fen,
            paid_on=paid_on,
            industry="unspecified",
            manufacturing=False,
        )
        assert result is not None  # "unspecified" is no excluded industry
        counted_total += result.counted_fen
        deduction_total += result.deduction_fen
        lines.append(
            {
                "deal_id": str(payment.deal_id),
                "payment_id": str(payment.id),
                "registration_number": fact.registration_number,
                "paid_on": paid_on.isoformat(),
                "expense": _yuan(payment.amount_fen),
                "counted": _yuan(result.counted_fen),
                "rate": str(result.rate),
                "deduction": _yuan(result.deduction_fen),
            }
        )
    rule_set = rules.rule_set("rd_super_deduction", (end - (end - start) / 2).date())
    content = {
        "lines": lines,
        "excluded": excluded,
        "totals": {"counted": _yuan(counted_total), "deduction": _yuan(deduction_total)},
        "assumptions": ["industry_unspecified_general"],
        "rule_set": {"version": version or rule_set.version, "citations": rule_set.citations},
    }
    return content, version or rule_set.version


async def _reward_relief_content(
    session: AsyncSession, taxpayer_id: uuid.UUID, start: datetime, end: datetime
) -> tuple[dict[str, Any], int]:
    """Per paying organization and month: each researcher's cash reward, the part counted as
    wages (half when the conditions hold) and the conditions (财税〔2018〕58号)."""
    rule_set = rules.rule_set("researcher_reward_relief", start.date())
    rewards = await deals.inventor_rewards_between(session, taxpayer_id, start, end)
    received = await payments.received_dates(session, [r.payment_id for r in rewards])
    lines = []
    taxable_total = relieved_total = 0
    for reward in rewards:
        paid_on = reward.declared_at.astimezone(BEIJING).date()
        income_on = received[reward.payment_id].astimezone(BEIJING).date()
        relief = rules.researcher_reward_relief(
            rule_set,
            reward_fen=reward.amount_fen,
            contract_registered=reward.registration_number is not None,
            reward_published=reward.published_on is not None,
            income_received_on=income_on,
            reward_paid_on=paid_on,
        )
        taxable_total += relief.taxable_fen
        relieved_total += relief.relieved_fen
        lines.append(
            {
                "researcher": reward.inventor_name,
                "deal_id": str(reward.deal_id),
                "registration_number": reward.registration_number,
                "reward": _yuan(relief.reward_fen),
                "taxable": _yuan(relief.taxable_fen),
                "relieved": _yuan(relief.relieved_fen),
                "conditions_met": relief.conditions_met,
                "published_on": reward.published_on.isoformat() if reward.published_on else None,
            }
        )
    content = {
        "lines": lines,
        "totals": {"taxable": _yuan(taxable_total), "relieved": _yuan(relieved_total)},
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version


BUILDERS = {
    FilingKind.researcher_reward_relief: _reward_relief_content,
    FilingKind.eit_transfer_income: _eit_content,
    FilingKind.vat_exemption: _vat_content,
    FilingKind.rd_super_deduction: _super_deduction_content,
}


# --- filings ---------------------------------------------------------------------------------


def _difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = sorted(set(before) | set(after))
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    }


async def compute_filing(
    session: AsyncSession,
    taxpayer_id: uuid.UUID,
    kind: FilingKind,
    period: str,
    *,
    now: datetime,
) -> Filing | None:
    """Compute (or recompute) a taxpayer's filing for a closed period; returns the current
    version, or None when the period has nothing to file. Idempotent: unchanged inputs change
    nothing. Raises ValidationFailed(period) for an open or malformed period, or a kind not
    computed yet."""
    if kind not in SUPPORTED:
        raise ValidationFailed("body.kind", "filing_kind_not_supported")
    start, end = period_bounds(kind, period)
    if end > now:
        raise ValidationFailed("body.period", "period_not_closed")
    await session.execute(
        select(func.pg_advisory_xact_lock(func.hashtext(f"{taxpayer_id}:{kind}:{period}")))
    )
    body, rule_set_version = await BUILDERS[kind](session, taxpayer_id, start, end)
    latest = await session.scalar(
        select(Filing)
        .where(
            Filing.taxpayer_organization_id == taxpayer_id,
            Filing.kind == kind,
            Filing.period == period,
        )
        .order_by(Filing.version.desc())
        .limit(1)
        .with_for_update()
    )
    if latest is None and not body["lines"] and not body.get("excluded"):
        return None
    organization = (await accounts.organizations_by_id(session, [taxpayer_id]))[taxpayer_id]
    content = {
        "kind": kind.value,
        "period": period,
        "taxpayer": {
            "id": str(taxpayer_id),
            "name": organization.name,
            "credit_code": organization.credit_code,
        },
        **body,
    }
    digest = hashlib.sha256(canonical(content)).hexdigest()
    if latest is not None and latest.content_sha256 == digest:
        return latest
    if latest is not None and latest.state in {FilingState.draft, FilingState.ready}:
        latest.content, latest.content_sha256 = content, digest
        latest.rule_set_version, latest.computed_at = rule_set_version, now
        return latest
    version = 1
    amends = None
    if latest is not None:
        version, amends = latest.version + 1, latest
        content["amends_version"] = latest.version
        content["difference"] = _difference(latest.content["totals"], content["totals"])
        digest = hashlib.sha256(canonical(content)).hexdigest()
        latest.state = FilingState.amended
    filing = Filing(
        taxpayer_organization_id=taxpayer_id,
        kind=kind,
        period=period,
        version=version,
        state=FilingState.ready,
        content=content,
        content_sha256=digest,
        rule_set_version=rule_set_version,
        amends_id=amends.id if amends else None,
        computed_at=now,
    )
    session.add(filing)
    await session.flush()
    await record_event(
        session,
        "filing.ready",
        {"filing_id": str(filing.id), "kind": kind.value, "period": period, "version": version},
    )
    return filing


async def request_filing(
    session: AsyncSession,
    principal: Principal,
    *,
    taxpayer_id: uuid.UUID | None,
    kind: FilingKind,
    period: str,
    now: datetime,
) -> Filing:
    """Compute a filing now for the caller's organization (its owners and admins) or, for
    finance staff, any taxpayer. Raises ValidationFailed naming the field (someone else's
    organization, an open period), NotFound when the period has nothing to file."""
    if taxpayer_id is not None and principal.has_platform_role(PlatformRole.finance):
        chosen = taxpayer_id
    else:
        chosen = principal.acting_for(taxpayer_id)
        principal.require_manager(chosen)
    filing = await compute_filing(session, chosen, kind, period, now=now)
    if filing is None:
        raise NotFound(detail_code="detail.nothing_to_file")
    return filing


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.has_platform_role(PlatformRole.finance):
        return Filing.id.is_not(None)
    return Filing.taxpayer_organization_id.in_(list(principal.memberships))


async def list_filings(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    taxpayer_id: uuid.UUID | None = None,
    kind: FilingKind | None = None,
    period: str | None = None,
    state: FilingState | None = None,
) -> tuple[Sequence[Filing], str | None]:
    """The caller's organizations' filings (finance staff: all), newest first."""
    query = select(Filing).where(_visible(principal))
    for column, value in (
        (Filing.taxpayer_organization_id, taxpayer_id),
        (Filing.kind, kind),
        (Filing.period, period),
        (Filing.state, state),
    ):
        if value is not None:
            query = query.where(column == value)
    return await paginate(session, query, params, key=Filing.computed_at, row_id=Filing.id)


async def get_filing_for(
    session: AsyncSession, principal: Principal, filing_id: uuid.UUID
) -> Filing:
    """A filing of the caller's organization, or any for finance staff. Raises NotFound."""
    filing = await session.scalar(select(Filing).where(Filing.id == filing_id, _visible(principal)))
    if filing is None:
        raise NotFound()
    return filing


async def filed_periods(
    session: AsyncSession, taxpayer_id: uuid.UUID
) -> list[tuple[FilingKind, str]]:
    """The (kind, period) pairs a taxpayer has filings for: what a change may amend."""
    rows = await session.execute(
        select(Filing.kind, Filing.period)
        .where(Filing.taxpayer_organization_id == taxpayer_id)
        .distinct()
        .order_by(Filing.kind, Filing.period)
    )
    return [(kind, period) for kind, period in rows]


def last_closed_period(kind: FilingKind, now: datetime) -> str:
    """The most recent period of a kind that has ended by `now` (Beijing time)."""
    local = now.astimezone(BEIJING)
    if kind in ANNUAL:
        return str(local.year - 1)
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    return f"{year}-{month:02d}"


async def taxpayers_to_file(
    session: AsyncSession, kind: FilingKind, period: str
) -> list[uuid.UUID]:
    """Who may have something to file for the period: sellers paid in it (VAT, income tax),
    buyers that paid for development (super-deduction), organizations that declared inventors'
    rewards in it (reward relief)."""
    start, end = period_bounds(kind, period)
    if kind == FilingKind.researcher_reward_relief:
        return await deals.organizations_declaring_between(session, start, end)
    facts = await deals.contract_facts(
        session, await payments.deals_paid_between(session, start, end)
    )
    if kind == FilingKind.rd_super_deduction:
        return sorted(
            {
                f.buyer_organization_id
                for f in facts.values()
                if f.contract_type == ContractType.development
            },
            key=str,
        )
    return sorted({f.seller_organization_id for f in facts.values()}, key=str)


# --- submission --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FilingEndpoint:
    """Where filings go (None: filed by hand, a receipt is recorded)."""

    url: str | None
    token: str | None = None
    attempts: int = 3
    backoff_seconds: float = 0.5


class FilingEndpointUnavailable(DomainError):
    status, code = 503, "filing_endpoint_unavailable"
    detail_code = "detail.filing_endpoint_unavailable"


async def _send(
    http: httpx.AsyncClient, endpoint: FilingEndpoint, filing: Filing
) -> httpx.Response | None:
    """POST the filing; retry transport errors and 5xx with exponential backoff. The
    submission id is the idempotency key, so a retry the endpoint already took is not filed
    twice. None when every attempt failed."""
    assert endpoint.url is not None
    headers = {"Idempotency-Key": str(filing.submission_id)}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    body = {
        "submission_id": str(filing.submission_id),
        "kind": filing.kind.value,
        "period": filing.period,
        "version": filing.version,
        "sha256": filing.content_sha256,
        "content": filing.content,
    }
    for attempt in range(endpoint.attempts):
        if attempt:
            await asyncio.sleep(endpoint.backoff_seconds * 2 ** (attempt - 1))
        try:
            response = await http.post(endpoint.url, json=body, headers=headers)
        except httpx.TransportError as error:
            logger.warning("filing_submission_failed", attempt=attempt + 1, error=str(error))
            continue
        if response.status_code < 500:
            return response
        logger.warning("filing_submission_failed", attempt=attempt + 1, status=response.status_code)
    return None


async def submit_filing(
    session: AsyncSession,
    principal: Principal,
    filing_id: uuid.UUID,
    *,
    endpoint: FilingEndpoint,
    http: httpx.AsyncClient,
    now: datetime,
) -> Filing:
    """Submit a ready (or rejected and recomputed) filing: to the configured endpoint, or as a
    manual filing with a recorded receipt. Submitting again is a no-op. The endpoint's answer
    sets the state: accepted, submitted (received, decision pending) or rejected with its
    reason. Raises NotFound, Forbidden, InvalidState (an amended filing),
    FilingEndpointUnavailable after the retries (the submission id is kept for the next try)."""
    filing = await get_filing_for(session, principal, filing_id)
    if not principal.has_platform_role(PlatformRole.finance):
        principal.require_manager(filing.taxpayer_organization_id)
    await session.refresh(filing, with_for_update=True)
    if filing.state in {FilingState.submitted, FilingState.accepted}:
        return filing
    if filing.state not in {FilingState.ready, FilingState.rejected}:
        raise InvalidState(detail_code="detail.filing_state", state=filing.state.value)
    filing.submission_id = filing.submission_id or uuid.uuid4()
    if endpoint.url is None:
        filing.receipt = {
            "manual": True,
            "reference": f"MANUAL-{filing.submission_id.hex[:12].upper()}",
        }
        filing.state = FilingState.submitted
    else:
        response = await _send(http, endpoint, filing)
        if response is None:
            raise FilingEndpointUnavailable(keep_changes=True)
        answer = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {"text": response.text[:500]}
        )
        filing.receipt = answer
        if response.is_success:
            accepted = answer.get("status") == "accepted"
            filing.state = FilingState.accepted if accepted else FilingState.submitted
        else:
            filing.state = FilingState.rejected
            filing.rejection_reason = str(answer.get("reason") or answer)[:500]
    filing.submitted_at = now
    await record_event(
        session,
        f"filing.{filing.state.value}",
        {"filing_id": str(filing.id), "kind": filing.kind.value, "period": filing.period},
    )
    return filing


async def record_decision(
    session: AsyncSession,
    principal: Principal,
    filing_id: uuid.UUID,
    *,
    accepted: bool,
    reason: str | None,
    now: datetime,
) -> Filing:
    """Finance staff record the tax office's decision on a submitted filing (manual filings, or
    an endpoint that decides later). Raises Forbidden, NotFound, InvalidState,
    ValidationFailed(reason) for a rejection without one."""
    principal.require_platform_role(PlatformRole.finance)
    filing = await get_filing_for(session, principal, filing_id)
    await session.refresh(filing, with_for_update=True)
    if filing.state != FilingState.submitted:
        raise InvalidState(detail_code="detail.filing_state", state=filing.state.value)
    if not accepted and not reason:
        raise ValidationFailed("body.reason", "missing")
    filing.state = FilingState.accepted if accepted else FilingState.rejected
    filing.rejection_reason = None if accepted else reason
    await record_event(
        session,
        f"filing.{filing.state.value}",
        {"filing_id": str(filing.id), "kind": filing.kind.value, "period": filing.period},
    )
    return filing
