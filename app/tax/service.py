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
import re
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

import httpx
import structlog
from sqlalchemy import ColumnElement, and_, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import service as accounts
from app.accounts.models import Organization, VatPeriod, VatTaxpayerKind
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date, beijing_time, month_start, next_month_start
from app.core.db import among
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

ANNUAL = frozenset({FilingKind.eit_transfer_income, FilingKind.rd_super_deduction})
LICENCE = ContractType.licence
TRANSFERS = frozenset({ContractType.transfer, ContractType.licence})
"""Contracts whose income can be technology-transfer income (looked up once: a year of filings
asks a million times)."""
SUPPORTED = frozenset(FilingKind)
CHUNK = 2500
"""Taxpayers computed per transaction at the period end: memory stays bounded by the chunk,
not by the year's million contracts."""
logger = structlog.get_logger(__name__)


def period_bounds(kind: FilingKind, period: str) -> tuple[datetime, datetime]:
    """[start, end) of a period in Beijing time: `YYYY` for annual kinds, `YYYY-MM` for monthly
    ones, and for VAT also `YYYY-Qn` (quarterly filers). Raises ValidationFailed(period) for a
    malformed period."""
    annual = re.fullmatch(r"(20[0-9]{2})", period)
    monthly = re.fullmatch(r"(20[0-9]{2})-(0[1-9]|1[0-2])", period)
    quarterly = re.fullmatch(r"(20[0-9]{2})-Q([1-4])", period)
    if kind in ANNUAL and annual:
        year, month, months = int(annual[1]), 1, 12
    elif kind not in ANNUAL and monthly:
        year, month, months = int(monthly[1]), int(monthly[2]), 1
    elif kind == FilingKind.vat_exemption and quarterly:
        year, month, months = int(quarterly[1]), 3 * int(quarterly[2]) - 2, 3
    else:
        raise ValidationFailed("body.period", "period_format")
    return month_start(year, month), month_start(year, month + months)


def next_period_end(after: datetime) -> datetime:
    """The first end of a period after `after`: the next Beijing midnight that starts a month
    (every kind's periods — months, quarters, years — end on one)."""
    return next_month_start(after)


def vat_period_of(period: str) -> VatPeriod:
    """Whether a VAT period is a month or a quarter."""
    return VatPeriod.quarter if "-Q" in period else VatPeriod.month


def closed_periods(kind: FilingKind, now: datetime) -> list[str]:
    """The most recent periods of a kind that have ended by `now` (Beijing time): the last year
    or month, and for VAT also the last quarter."""
    local = beijing_time(now)
    if kind in ANNUAL:
        return [str(local.year - 1)]
    year, month = (local.year - 1, 12) if local.month == 1 else (local.year, local.month - 1)
    periods = [f"{year}-{month:02d}"]
    if kind == FilingKind.vat_exemption:
        quarter = (local.month - 1) // 3
        periods.append(f"{local.year - 1}-Q4" if quarter == 0 else f"{local.year}-Q{quarter}")
    return periods


def _yuan(fen: int) -> str:
    return Money(fen).amount_text


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def _middle(start: datetime, end: datetime) -> date:
    return beijing_date(start + (end - start) / 2)


# --- content of each kind --------------------------------------------------------------------
#
# A builder reads the facts of a whole chunk of taxpayers in a few set-based queries and gives
# each taxpayer its body: the content (without the taxpayer header) and the rule-set version.

Body = tuple[dict[str, Any], int]
Builder = Callable[
    [AsyncSession, Sequence[Organization], datetime, datetime], Awaitable[dict[uuid.UUID, Body]]
]


class _Received(NamedTuple):
    """Money received on a contract, with the facts the rules need: the contract in force and,
    for income tax, the result it transferred and the costs declared against the money."""

    receipt: payments.Receipt
    contract: deals.ContractFacts
    offered: listings.OfferedResult | None = None
    costs_fen: int = 0
    parts: tuple[int, int] = (0, 0)
    """(technology, non-technical) fen of the receipt (`deals.TechnologyShare`)."""


async def _with_parts(
    session: AsyncSession, by_party: dict[uuid.UUID, list[_Received]], start: datetime
) -> None:
    """Give each receipt its technology and non-technical parts, in order of receipt, the
    pro-rata part rounded on each contract's running total since its first receipt (so a
    contract paid in full counts its 技术交易额 to the fen, across periods too)."""
    deal_ids = {item.contract.deal_id for items in by_party.values() for item in items}
    if not deal_ids:
        return
    earlier = payments.receipts_select(end=start).subquery("earlier")
    running: dict[uuid.UUID, int] = dict.fromkeys(deal_ids, 0)
    facts = {item.contract.deal_id: item.contract for items in by_party.values() for item in items}
    for deal_id, milestone, amount in await session.execute(
        select(earlier.c.deal_id, earlier.c.milestone, func.sum(earlier.c.amount_fen))
        .where(among(earlier.c.deal_id, deal_ids))
        .group_by(earlier.c.deal_id, earlier.c.milestone)
    ):
        share = facts[deal_id].share
        if share is None or share.pro_rata(milestone):
            running[deal_id] += int(amount)
    for items in by_party.values():
        for index, item in enumerate(items):
            amount, milestone = item.receipt.amount_fen, item.receipt.milestone
            share, deal_id = item.contract.share, item.contract.deal_id
            if share is None:
                parts = (amount, 0)
            else:
                parts = share.split(amount, milestone, pro_rata_before_fen=running[deal_id])
            if share is None or share.pro_rata(milestone):
                running[deal_id] += amount
            items[index] = item._replace(parts=parts)


async def _received(
    session: AsyncSession,
    parties: Sequence[Organization],
    start: datetime,
    end: datetime,
    *,
    side: Literal["seller", "buyer"],
    with_results: bool = False,
) -> dict[uuid.UUID, list[_Received]]:
    """What each party's deals received in the period, in order of receipt: one query joining
    the read models of payments, contracts and (for income tax) listings and declared costs,
    driven by the parties' deals, so a chunk of taxpayers costs index lookups, not scans."""
    receipts = payments.receipts_select(start, end).subquery("receipts")
    facts = deals.contract_facts_select().subquery("facts")
    offered = listings.offered_results_select().subquery("offered")
    costs = deals.declared_costs_select().subquery("costs")
    # Each read model's columns in its own order, so each package reads its slice by position.
    columns = [*receipts.c, *facts.c]
    source = receipts.join(facts, facts.c.deal_id == receipts.c.deal_id)
    if with_results:
        columns += [*offered.c, costs.c.costs_fen]
        # Costs are declared against money that came in; a refund does not bring them back.
        source = source.outerjoin(offered, offered.c.listing_id == facts.c.listing_id).outerjoin(
            costs,
            and_(costs.c.payment_id == receipts.c.payment_id, receipts.c.kind != "refund"),
        )
    party = facts.c.seller_organization_id if side == "seller" else facts.c.buyer_organization_id
    ids = [organization.id for organization in parties]
    query = (
        select(*columns)
        .select_from(source)
        .where(among(party, ids))
        .order_by(receipts.c.received_at, receipts.c.payment_id, receipts.c.kind)
    )
    r, f, o = len(receipts.c), len(receipts.c) + len(facts.c), len(receipts.c) + len(facts.c) + 3
    by_party: dict[uuid.UUID, list[_Received]] = {organization: [] for organization in ids}
    # Core rows fetched at once, sliced by position: a year of contracts is a million of them.
    for row in (await (await session.connection()).execute(query)).all():
        contract = deals.contract_facts_of(row[r:f])
        received = _Received(
            payments.receipt_of(row[:r]),
            contract,
            listings.offered_result_of(row[f:o]) if with_results else None,
            int(row[o] or 0) if with_results else 0,
        )
        by_party[
            contract.seller_organization_id if side == "seller" else contract.buyer_organization_id
        ].append(received)
    await _with_parts(session, by_party, start)
    return by_party


async def _eit_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    rule_set = rules.rule_set("eit_transfer_income", _middle(start, end))
    by_seller = await _received(session, taxpayers, start, end, side="seller", with_results=True)
    return {seller: _eit_body(rule_set, received) for seller, received in by_seller.items()}


def _eit_body(rule_set: rules.RuleSet, received: Sequence[_Received]) -> Body:
    """One seller's technology-transfer income of the year: the technology part of the money
    received in the year on each transfer or licence contract (payments, an applied deposit,
    less refunds), less the costs declared against it. A contract's non-technical part is no
    technology-transfer income (国税函〔2009〕212号) and is listed as excluded. A contract paid
    over two years counts in each year for what that year received."""
    by_deal: dict[uuid.UUID, list[_Received]] = {}
    for item in received:
        by_deal.setdefault(item.contract.deal_id, []).append(item)
    registration_numbers = {
        str(deal_id): paid[0].contract.registration_number for deal_id, paid in by_deal.items()
    }
    contracts, unclassified, non_technical = [], [], []
    for deal_id, paid in sorted(by_deal.items(), key=lambda item: str(item[0])):
        fact, result = paid[0].contract, paid[0].offered
        if fact.contract_type not in TRANSFERS:
            continue  # not a transfer: no technology-transfer income
        parts = [p.parts for p in paid]
        other = sum(part[1] for part in parts)
        if other:
            non_technical.append(
                {"deal_id": str(deal_id), "reason": "non_technical_part", "amount": _yuan(other)}
            )
        if result is None or fact.signed_on is None:
            # Off-platform contracts name no result: marked for a person, not guessed.
            logger.warning("tax_contract_unclassified", deal_id=str(deal_id))
            unclassified.append({"deal_id": str(deal_id), "reason": "unclassified"})
            continue
        contracts.append(
            rules.TransferContract(
                contract_id=str(deal_id),
                transfer="licence" if fact.contract_type is LICENCE else "assignment",
                exclusive=fact.exclusivity in {"exclusive", "sole"},
                licence_years=result.licence_years,
                result_kind=result.result_kind,
                registered=fact.registered,
                related_party_100=False,
                signed_on=fact.signed_on,
                revenue_fen=sum(part[0] for part in parts),
                costs_fen=sum(p.costs_fen for p in paid),
                taxes_fen=0,
            )
        )
    outcome = rules.eit_transfer_income(rule_set, contracts)
    included = set(outcome.included)
    content = {
        "lines": [
            {
                "deal_id": c.contract_id,
                "registration_number": registration_numbers[c.contract_id],
                "revenue": _yuan(c.revenue_fen),
                "costs": _yuan(c.costs_fen),
                "income": _yuan(c.revenue_fen - c.costs_fen - c.taxes_fen),
                "included": c.contract_id in included,
            }
            for c in contracts
        ],
        "excluded": [{"deal_id": e.contract_id, "reason": e.reason} for e in outcome.excluded]
        + unclassified
        + non_technical,
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


async def _vat_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    rule_set = rules.rule_set("vat_exemption", beijing_date(start))
    by_seller = await _received(session, taxpayers, start, end, side="seller")
    return {
        seller.id: _vat_body(rule_set, seller.vat_taxpayer_kind, by_seller[seller.id])
        for seller in taxpayers
    }


def _vat_body(
    rule_set: rules.RuleSet,
    taxpayer_kind: VatTaxpayerKind,
    received: Sequence[_Received],
) -> Body:
    """One seller's exempt sales of a VAT period, at its own rate (general or small-scale): a
    line for each receipt's technology part, and one for its non-technical part (taxable)."""
    parts = [
        (item, part, fen)
        for item in received
        for part, fen in zip(("technology", "non_technical"), item.parts, strict=True)
        if fen
    ]
    outcome = rules.vat_exemption(
        rule_set,
        taxpayer_kind=taxpayer_kind.value,
        receipts=[
            rules.VatReceipt(
                str(item.receipt.payment_id),
                str(item.contract.contract_type or ""),
                item.contract.registered,
                fen,
                technical=part == "technology",
            )
            for item, part, fen in parts
        ],
    )
    content = {
        "lines": [
            {
                "payment_id": str(item.receipt.payment_id),
                "kind": item.receipt.kind,
                "part": part,
                "deal_id": str(item.contract.deal_id),
                "registration_number": item.contract.registration_number,
                "received": _yuan(line.received_fen),
                "exempt": line.exempt,
                "reason": line.reason,
            }
            for (item, part, _), line in zip(parts, outcome.lines, strict=True)
        ],
        "totals": {
            "exempt_sales": _yuan(outcome.exempt_sales_fen),
            "taxable_sales": _yuan(outcome.taxable_sales_fen),
            "taxpayer_kind": taxpayer_kind.value,
            "rate": str(outcome.rate),
            "vat_forgone": _yuan(outcome.vat_forgone_fen),
        },
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version


async def _super_deduction_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    by_buyer = await _received(session, taxpayers, start, end, side="buyer")
    return {
        buyer: _super_deduction_body(
            start, end, [r for r in paid if r.contract.contract_type == ContractType.development]
        )
        for buyer, paid in by_buyer.items()
    }


def _super_deduction_body(start: datetime, end: datetime, paid: Sequence[_Received]) -> Body:
    """The commissioning buyer's extra deduction on technology-development contracts
    (技术开发 where the taxpayer is the buyer), from what it paid in the year. Industry is not
    recorded yet: every taxpayer is treated as a general, non-excluded enterprise, and the
    filing says so."""
    lines, excluded = [], []
    counted_total = deduction_total = 0
    version = 0
    for item in paid:
        payment, fact = item.receipt, item.contract
        if not fact.registered:
            excluded.append({"deal_id": str(payment.deal_id), "reason": "not_registered"})
            continue
        expense, other = item.parts
        if other:
            # Equipment and materials bought with the development are no R&D expense.
            excluded.append(
                {
                    "deal_id": str(payment.deal_id),
                    "payment_id": str(payment.payment_id),
                    "reason": "non_technical_part",
                    "amount": _yuan(other),
                }
            )
        if not expense:
            continue
        paid_on = beijing_date(payment.received_at)
        rule_set = rules.rule_set("rd_super_deduction", paid_on)
        version = max(version, rule_set.version)
        result = rules.rd_super_deduction(
            rule_set,
            expense_fen=expense,
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
                "payment_id": str(payment.payment_id),
                "registration_number": fact.registration_number,
                "kind": payment.kind,
                "paid_on": paid_on.isoformat(),
                "expense": _yuan(expense),
                "counted": _yuan(result.counted_fen),
                "rate": str(result.rate),
                "deduction": _yuan(result.deduction_fen),
            }
        )
    rule_set = rules.rule_set("rd_super_deduction", _middle(start, end))
    content = {
        "lines": lines,
        "excluded": excluded,
        "totals": {"counted": _yuan(counted_total), "deduction": _yuan(deduction_total)},
        "assumptions": ["industry_unspecified_general"],
        "rule_set": {"version": version or rule_set.version, "citations": rule_set.citations},
    }
    return content, version or rule_set.version


async def _reward_relief_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    rule_set = rules.rule_set("researcher_reward_relief", beijing_date(start))
    ids = [organization.id for organization in taxpayers]
    rewards = await deals.inventor_rewards_between(session, ids, start, end)
    received = await payments.received_dates(session, {r.payment_id for r in rewards})
    by_payer: dict[uuid.UUID, list[deals.RewardFact]] = {payer: [] for payer in ids}
    for reward in rewards:
        by_payer[reward.organization_id].append(reward)
    return {
        payer: _reward_relief_body(rule_set, paid, received) for payer, paid in by_payer.items()
    }


def _reward_relief_body(
    rule_set: rules.RuleSet,
    rewards: Sequence[deals.RewardFact],
    received: dict[uuid.UUID, datetime],
) -> Body:
    """Per paying organization and month: each researcher's cash reward, the part counted as
    wages (half when the conditions hold) and the conditions (财税〔2018〕58号)."""
    lines = []
    taxable_total = relieved_total = 0
    for reward in rewards:
        relief = rules.researcher_reward_relief(
            rule_set,
            reward_fen=reward.amount_fen,
            contract_registered=reward.registration_number is not None,
            reward_published=reward.published_on is not None,
            income_received_on=beijing_date(received[reward.payment_id]),
            reward_paid_on=beijing_date(reward.declared_at),
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


BUILDERS: dict[FilingKind, Builder] = {
    FilingKind.researcher_reward_relief: _reward_relief_bodies,
    FilingKind.eit_transfer_income: _eit_bodies,
    FilingKind.vat_exemption: _vat_bodies,
    FilingKind.rd_super_deduction: _super_deduction_bodies,
}


# --- filings ---------------------------------------------------------------------------------


def _difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = sorted(set(before) | set(after))
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    }


async def _lock(
    session: AsyncSession, kind: FilingKind, period: str, taxpayers: Sequence[uuid.UUID]
) -> None:
    """Serialize the computation of each (taxpayer, kind, period) across workers. The locks are
    taken in the order of their hashes, the same order in every worker, so two workers with
    overlapping chunks wait for each other instead of deadlocking."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(held.key) FROM "
            "(SELECT DISTINCT hashtext(name) AS key FROM unnest(CAST(:names AS text[])) AS name) "
            "AS held ORDER BY held.key"
        ),
        {"names": [f"{taxpayer}:{kind}:{period}" for taxpayer in taxpayers]},
    )


async def compute_filings(
    session: AsyncSession,
    taxpayer_ids: Iterable[uuid.UUID],
    kind: FilingKind,
    period: str,
    *,
    now: datetime,
) -> dict[uuid.UUID, Filing | None]:
    """Compute (or recompute) the filings of these taxpayers for one closed period, reading
    their facts in a few set-based queries; each gets its current version, or None when it has
    nothing to file. Idempotent: unchanged inputs change nothing. Raises ValidationFailed(period)
    for an open or malformed period, or one no rule set of the kind covers."""
    if kind not in SUPPORTED:
        raise ValidationFailed("body.kind", "filing_kind_not_supported")
    start, end = period_bounds(kind, period)
    if end > now:
        raise ValidationFailed("body.period", "period_not_closed")
    ids = sorted(set(taxpayer_ids), key=str)
    await _lock(session, kind, period, ids)
    organizations = await accounts.organizations_by_id(session, ids)
    if len(organizations) != len(ids):
        raise NotFound()  # a taxpayer that does not exist (staff may name any)
    try:
        bodies = await BUILDERS[kind](session, [organizations[i] for i in ids], start, end)
    except LookupError:
        # No rule set of this kind was in force (the policy is younger than the period).
        raise ValidationFailed("body.period", "no_rule_set_in_force") from None
    latest: dict[uuid.UUID, Filing] = {}
    for version in await session.scalars(
        select(Filing)
        .where(
            among(Filing.taxpayer_organization_id, ids),
            Filing.kind == kind,
            Filing.period == period,
        )
        .with_for_update()
    ):
        current = latest.get(version.taxpayer_organization_id)
        if current is None or version.version > current.version:
            latest[version.taxpayer_organization_id] = version
    filings = {
        taxpayer: await _store(
            session,
            organizations[taxpayer],
            kind,
            period,
            *bodies[taxpayer],
            latest.get(taxpayer),
            now,
        )
        for taxpayer in ids
    }
    await session.flush()
    return filings


async def compute_filing(
    session: AsyncSession,
    taxpayer_id: uuid.UUID,
    kind: FilingKind,
    period: str,
    *,
    now: datetime,
) -> Filing | None:
    """One taxpayer's filing (see `compute_filings`)."""
    return (await compute_filings(session, [taxpayer_id], kind, period, now=now))[taxpayer_id]


async def _store(
    session: AsyncSession,
    taxpayer: Organization,
    kind: FilingKind,
    period: str,
    body: dict[str, Any],
    rule_set_version: int,
    latest: Filing | None,
    now: datetime,
) -> Filing | None:
    """Keep a computed body: nothing new when it is unchanged, the draft rewritten before
    submission, an amendment with the difference after it."""
    if latest is None and not body["lines"] and not body.get("excluded"):
        return None
    content = {
        "kind": kind.value,
        "period": period,
        "taxpayer": {
            "id": str(taxpayer.id),
            "name": taxpayer.name,
            "credit_code": taxpayer.credit_code,
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
    if latest is not None:
        version = latest.version + 1
        content["amends_version"] = latest.version
        content["difference"] = _difference(latest.content["totals"], content["totals"])
        digest = hashlib.sha256(canonical(content)).hexdigest()
        latest.state = FilingState.amended
    filing = Filing(
        id=uuid.uuid4(),
        taxpayer_organization_id=taxpayer.id,
        kind=kind,
        period=period,
        version=version,
        state=FilingState.ready,
        content=content,
        content_sha256=digest,
        rule_set_version=rule_set_version,
        amends_id=latest.id if latest else None,
        computed_at=now,
    )
    session.add(filing)
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
    if kind == FilingKind.vat_exemption:
        organization = (await accounts.organizations_by_id(session, [chosen]))[chosen]
        if vat_period_of(period) != organization.vat_period:
            raise ValidationFailed("body.period", "vat_period_mismatch")
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


async def taxpayer_of(session: AsyncSession, filing_id: uuid.UUID) -> uuid.UUID:
    """Whose filing this is. Raises NotFound."""
    taxpayer = await session.scalar(
        select(Filing.taxpayer_organization_id).where(Filing.id == filing_id)
    )
    if taxpayer is None:
        raise NotFound()
    return taxpayer


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


async def taxpayers_to_file(
    session: AsyncSession, kind: FilingKind, period: str
) -> list[uuid.UUID]:
    """Who has something to file for the period and no filing of it yet (later changes reach
    existing filings through the events): sellers paid in it (VAT — those filing by that kind
    of period — and income tax), buyers that paid for development (super-deduction),
    organizations that declared inventors' rewards in it (reward relief)."""
    start, end = period_bounds(kind, period)
    if kind == FilingKind.researcher_reward_relief:
        candidates = await deals.organizations_declaring_between(session, start, end)
    elif kind == FilingKind.rd_super_deduction:
        candidates = await deals.parties_of_deals(
            session,
            payments.deals_paid_between(start, end),
            side="buyer",
            contract_type=ContractType.development,
        )
    else:
        candidates = await deals.parties_of_deals(
            session, payments.deals_paid_between(start, end), side="seller"
        )
    if kind == FilingKind.vat_exemption:
        candidates = await accounts.vat_filers(session, candidates, vat_period_of(period))
    filed = set(
        await session.scalars(
            select(Filing.taxpayer_organization_id)
            .where(Filing.kind == kind, Filing.period == period)
            .distinct()
        )
    )
    return [taxpayer for taxpayer in candidates if taxpayer not in filed]


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
