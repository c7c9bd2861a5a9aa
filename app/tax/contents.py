"""What every filing kind's content is built from: the money a taxpayer received or paid in a
period on each contract in force (`receipts_of`, with the technology and non-technical parts of
each receipt), and the canonical form content is stored and compared in.

A builder (`Builder`) reads the facts of a whole chunk of taxpayers in a few set-based queries
and gives each taxpayer its body: the content (without the taxpayer header) and the rule-set
version."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization
from app.core.clock import beijing_date
from app.core.db import among
from app.core.money import Money
from app.deals import queries as deals
from app.deals.models import ContractType
from app.payments import queries as payments

LICENCE = ContractType.licence


TRANSFERS = frozenset({ContractType.transfer, ContractType.licence})


def yuan(fen: int) -> str:
    return Money(fen).amount_text


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def middle(start: datetime, end: datetime) -> date:
    return beijing_date(start + (end - start) / 2)


Body = tuple[dict[str, Any], int]


Builder = Callable[
    [AsyncSession, Sequence[Organization], datetime, datetime], Awaitable[dict[uuid.UUID, Body]]
]


class Received(NamedTuple):
    """Money received on a contract, with the contract in force."""

    receipt: payments.Receipt
    contract: deals.ContractFacts
    parts: tuple[int, int] = (0, 0)
    """(technology, non-technical) fen of the receipt (`deals.TechnologyShare`)."""


async def with_parts(
    session: AsyncSession, by_party: dict[uuid.UUID, list[Received]], start: datetime
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


async def receipts_of(
    session: AsyncSession,
    parties: Sequence[Organization],
    start: datetime,
    end: datetime,
    *,
    side: Literal["seller", "buyer"],
    deal_ids: Sequence[uuid.UUID] | None = None,
) -> dict[uuid.UUID, list[Received]]:
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
    by_party: dict[uuid.UUID, list[Received]] = {organization: [] for organization in ids}
    # Core rows fetched at once, sliced by position: a month of contracts is many of them.
    for row in (await (await session.connection()).execute(query)).all():
        contract = deals.contract_facts_of(row[r:])
        by_party[
            contract.seller_organization_id if side == "seller" else contract.buyer_organization_id
        ].append(Received(payments.receipt_of(row[:r]), contract))
    await with_parts(session, by_party, start)
    return by_party
