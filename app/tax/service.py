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
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    ColumnElement,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import DropTable

from app.accounts import queries as accounts
from app.accounts.models import Organization, VatPeriod, VatTaxpayerKind
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date, beijing_time, month_start, next_month_start
from app.core.db import among
from app.core.errors import DomainError, InvalidState, NotFound, ValidationFailed
from app.core.money import Money, amount_text_sql
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.deals import queries as deals
from app.deals.models import ContractType
from app.listings import queries as listings
from app.payments import queries as payments
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
    """Money received on a contract, with the contract in force."""

    receipt: payments.Receipt
    contract: deals.ContractFacts
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
    deal_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, list[_Received]]:
    """What each party's deals received in the period, in order of receipt, split into the
    technology and the rest (of these deals only, with `deal_ids`): one query
    joining the read models of payments and contracts, driven by the parties' deals, so a chunk
    of taxpayers costs index lookups, not scans."""
    receipts = payments.receipts_select(start, end).subquery("receipts")
    facts = deals.contract_facts_select().subquery("facts")
    party = facts.c.seller_organization_id if side == "seller" else facts.c.buyer_organization_id
    ids = [organization.id for organization in parties]
    query = (
        select(*receipts.c, *facts.c)
        .select_from(receipts.join(facts, facts.c.deal_id == receipts.c.deal_id))
        .where(among(party, ids))
        .order_by(receipts.c.received_at, receipts.c.payment_id, receipts.c.kind)
    )
    if deal_ids is not None:
        query = query.where(among(facts.c.deal_id, deal_ids))
    r = len(receipts.c)
    by_party: dict[uuid.UUID, list[_Received]] = {organization: [] for organization in ids}
    # Core rows fetched at once, sliced by position: a month of contracts is many of them.
    for row in (await (await session.connection()).execute(query)).all():
        contract = deals.contract_facts_of(row[r:])
        by_party[
            contract.seller_organization_id if side == "seller" else contract.buyer_organization_id
        ].append(_Received(payments.receipt_of(row[:r]), contract))
    await _with_parts(session, by_party, start)
    return by_party


async def _eit_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    """Each seller's technology-transfer income of the year: the technology part of the money
    received in the year on each transfer or licence contract (payments, an applied deposit,
    less refunds), less the costs declared against it. A contract's non-technical part is no
    technology-transfer income (国税函〔2009〕212号) and is listed as excluded. A contract paid
    over two years counts in each year for what that year received.

    PostgreSQL does the set work — the sums per contract and the lines of each filing — so a
    year of a million contracts makes no Python object per contract. Python keeps the rules:
    it decides each distinct set of contract terms once (`rules.eit_exclusion`), splits the
    money of the few contracts with a non-technical part (`deals.TechnologyShare`), and works
    out each seller's totals (`rules.eit_totals`)."""
    rule_set = rules.rule_set("eit_transfer_income", _middle(start, end))
    ids = [organization.id for organization in taxpayers]
    receipts = payments.receipts_select(start, end).subquery("receipts")
    facts = deals.contract_facts_select().subquery("facts")
    offered = listings.offered_results_select().subquery("offered")
    costs = deals.declared_costs_select().subquery("costs")
    terms = [
        cast(facts.c.contract_type, String).label("contract_type"),
        cast(facts.c.exclusivity, String).label("exclusivity"),
        offered.c.licence_years,
        cast(offered.c.result_kind, String).label("result_kind"),
        facts.c.registration_number.is_not(None).label("registered"),
        facts.c.signed_on,
    ]
    # The terms as one value, for the rules' decisions to be joined back on.
    key = func.concat_ws(
        "|", *(func.coalesce(cast(term, String), "") for term in terms), type_=String
    )
    # The year's money per contract, read once (one pass over each table) into a table of
    # the transaction that the rest of the computation reads.
    per_contract = (
        select(
            facts.c.seller_organization_id.label("seller"),
            facts.c.deal_id,
            facts.c.registration_number,
            *terms,
            key.label("terms_key"),
            or_(offered.c.result_kind.is_(None), facts.c.signed_on.is_(None)).label("unclassified"),
            (facts.c.transaction_fen < facts.c.total_fen).label("split"),
            func.sum(receipts.c.amount_fen).label("received_fen"),
            # Costs are declared against money that came in; a refund does not bring them back.
            func.coalesce(func.sum(costs.c.costs_fen), 0).label("costs_fen"),
        )
        .select_from(
            receipts.join(facts, facts.c.deal_id == receipts.c.deal_id)
            .outerjoin(offered, offered.c.listing_id == facts.c.listing_id)
            .outerjoin(
                costs,
                and_(costs.c.payment_id == receipts.c.payment_id, receipts.c.kind != "refund"),
            )
        )
        .where(among(facts.c.seller_organization_id, ids), facts.c.contract_type.in_(TRANSFERS))
        .group_by(
            facts.c.deal_id,
            facts.c.seller_organization_id,
            facts.c.registration_number,
            *terms,
            key,
            offered.c.result_kind,
            facts.c.transaction_fen,
            facts.c.total_fen,
        )
    )
    held = Table(
        "eit_contracts",
        MetaData(),
        *(Column(column.name, column.type) for column in per_contract.selected_columns),
        prefixes=["TEMPORARY"],
        postgresql_on_commit="DROP",
    )
    connection = await session.connection()
    await connection.run_sync(held.create)
    await connection.execute(
        insert(held).from_select([column.name for column in held.c], per_contract)
    )
    held_terms = [held.c[term.name] for term in terms]

    # The rules decide each distinct set of terms once; contracts missing a result or a
    # signing date are unclassified, not decided.
    reasons: dict[str, str] = {}
    for row in await connection.execute(
        select(held.c.terms_key, *held_terms).distinct().where(~held.c.unclassified)
    ):
        transfer, exclusivity, licence_years, result_kind, registered, signed_on = row[1:]
        reason = rules.eit_exclusion(
            rule_set,
            rules.TransferTerms(
                transfer="licence" if transfer == LICENCE.value else "assignment",
                exclusive=exclusivity in {"exclusive", "sole"},
                licence_years=licence_years,
                result_kind=result_kind,
                registered=registered,
                related_party_100=False,
                signed_on=signed_on,
            ),
        )
        if reason:
            reasons[row[0]] = reason

    # Contracts with a non-technical part: their receipts split one by one, in order.
    split: dict[uuid.UUID, tuple[int, int]] = {}
    split_deals = list(
        (await connection.execute(select(held.c.deal_id).where(held.c.split))).scalars()
    )
    if split_deals:
        by_seller = await _received(
            session, taxpayers, start, end, side="seller", deal_ids=split_deals
        )
        for item in (item for items in by_seller.values() for item in items):
            technology, other = split.get(item.contract.deal_id, (0, 0))
            split[item.contract.deal_id] = (technology + item.parts[0], other + item.parts[1])

    decided = (
        func.unnest(
            bindparam(None, list(reasons), type_=ARRAY(String())),
            bindparam(None, list(reasons.values()), type_=ARRAY(String())),
        )
        .table_valued("key", "reason")
        .render_derived("decided")
    )
    parted = (
        func.unnest(
            bindparam(None, list(split), type_=ARRAY(Uuid())),
            bindparam(None, [parts[0] for parts in split.values()], type_=ARRAY(BigInteger())),
            bindparam(None, [parts[1] for parts in split.values()], type_=ARRAY(BigInteger())),
        )
        .table_valued("deal_id", "technology_fen", "other_fen")
        .render_derived("parted")
    )
    contract = (
        select(
            held,
            func.coalesce(parted.c.technology_fen, held.c.received_fen).label("revenue_fen"),
            func.coalesce(parted.c.other_fen, 0).label("other_fen"),
            decided.c.reason,
        )
        .select_from(
            held.outerjoin(parted, parted.c.deal_id == held.c.deal_id).outerjoin(
                decided, decided.c.key == held.c.terms_key
            )
        )
        .subquery("contract")
    )
    c = contract.c
    income = c.revenue_fen - c.costs_fen
    classified, included = ~c.unclassified, and_(~c.unclassified, c.reason.is_(None))

    def listed(**fields: Any) -> Any:
        return func.jsonb_agg(
            aggregate_order_by(
                func.jsonb_build_object(*(part for pair in fields.items() for part in pair)),
                c.deal_id,
            )
        )

    bodies: dict[uuid.UUID, Body] = {}
    found: dict[uuid.UUID, Sequence[Any]] = {}
    for row in await session.execute(
        select(
            c.seller,
            listed(
                deal_id=c.deal_id,
                registration_number=c.registration_number,
                revenue=amount_text_sql(c.revenue_fen),
                costs=amount_text_sql(c.costs_fen),
                income=amount_text_sql(income),
                included=included,
            ).filter(classified),
            listed(deal_id=c.deal_id, reason=c.reason).filter(classified, c.reason.is_not(None)),
            listed(deal_id=c.deal_id, reason=literal("unclassified")).filter(c.unclassified),
            listed(
                deal_id=c.deal_id,
                reason=literal("non_technical_part"),
                amount=amount_text_sql(c.other_fen),
            ).filter(c.other_fen != 0),
            func.coalesce(func.sum(income).filter(included), 0),
        ).group_by(c.seller)
    ):
        found[row[0]] = row[1:]
    await connection.execute(DropTable(held))
    for seller in ids:
        lines, excluded, unclassified, non_technical, income_fen = found.get(
            seller, (None, None, None, None, 0)
        )
        for item in unclassified or ():
            # Off-platform contracts name no result: marked for a person, not guessed.
            logger.warning("tax_contract_unclassified", deal_id=item["deal_id"])
        totals = rules.eit_totals(rule_set, int(income_fen))
        content = {
            "lines": lines or [],
            "excluded": [*(excluded or ()), *(unclassified or ()), *(non_technical or ())],
            "totals": {
                "income": _yuan(totals.income_fen),
                "exempt": _yuan(totals.exempt_fen),
                "excess": _yuan(totals.halved_fen),
                "taxable_half": _yuan(totals.taxable_fen),
                "reduced": _yuan(totals.reduced_fen),
            },
            "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
        }
        bodies[seller] = content, rule_set.version
    return bodies


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


def _amending(content: dict[str, Any], amended: Filing) -> dict[str, Any]:
    """The content of an amendment of `amended`: what it amends and how the totals changed."""
    return {
        **content,
        "amends_version": amended.version,
        "difference": _difference(amended.content["totals"], content["totals"]),
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
    versions: dict[uuid.UUID, Filing] = {}
    for version in await session.scalars(
        select(Filing)
        .where(
            among(Filing.taxpayer_organization_id, ids),
            Filing.kind == kind,
            Filing.period == period,
        )
        .with_for_update()
    ):
        versions[version.id] = version
        current = latest.get(version.taxpayer_organization_id)
        if current is None or version.version > current.version:
            latest[version.taxpayer_organization_id] = version
    filings = {}
    for taxpayer in ids:
        last = latest.get(taxpayer)
        amended = versions.get(last.amends_id) if last and last.amends_id else None
        filings[taxpayer] = await _store(
            session, organizations[taxpayer], kind, period, *bodies[taxpayer], last, amended, now
        )
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
    amended: Filing | None,
    now: datetime,
) -> Filing | None:
    """Keep a computed body: nothing new when it is unchanged, the draft rewritten before
    submission, an amendment with the difference after it. `amended` is the version `latest`
    amends, if it is an amendment."""
    if latest is None and not body["lines"] and not body.get("excluded"):
        return None
    computed = {
        "kind": kind.value,
        "period": period,
        "taxpayer": {
            "id": str(taxpayer.id),
            "name": taxpayer.name,
            "credit_code": taxpayer.credit_code,
        },
        **body,
    }
    # An amendment goes on saying what it amends, so recomputing it unchanged changes nothing.
    content = _amending(computed, amended) if amended is not None else computed
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
        content = _amending(computed, latest)
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
