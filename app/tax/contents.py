"""What every filing kind's content is built from: the money a taxpayer received or paid in a
period on each contract in force (`receipts_of`, with the technology and non-technical parts of
each receipt), and the canonical form content is stored and compared in.

A builder (`Builder`) reads the facts of a whole chunk of taxpayers in a few set-based queries
and gives each taxpayer its body: the content (without the taxpayer header) and the rule-set
version."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from sqlalchemy import (
    ColumnElement,
    String,
    cast,
    func,
    literal,
    literal_column,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
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


@dataclass(frozen=True, slots=True)
class CanonicalJson:
    """A part of a filing's content that PostgreSQL wrote already in the canonical form
    (`canonical_object_sql`): a filing's lines, thousands of them, go into its content as one
    text, never as a Python object each. Not a str, so `json.dumps` refuses it rather than
    quoting it."""

    text: str

    @classmethod
    def array(cls, *arrays: str | None) -> CanonicalJson | list[Any]:
        """One array of the elements of canonical arrays as PostgreSQL wrote them
        (`canonical_array_sql`; None: no elements), in order; an empty list when none has
        any."""
        elements = [text[1:-1] for text in arrays if text is not None and text != "[]"]
        return cls(f"[{','.join(elements)}]") if elements else []

    @staticmethod
    def parsed(value: Any) -> Any:
        """A part of a body as Python values, whether PostgreSQL wrote it or not (for the few
        readers that look inside one seller's lines)."""
        return json.loads(value.text) if isinstance(value, CanonicalJson) else value


_dumps = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode
"""`json.dumps` with the canonical options, its encoder made once (dumps makes one a call)."""


def _canonical_text(value: Any) -> str:
    # Only containers that hold a pre-written part directly are written here; everything else
    # goes to the encoder whole (which refuses a CanonicalJson deeper down: never silent).
    if isinstance(value, CanonicalJson):
        return value.text
    if isinstance(value, dict) and any(isinstance(item, CanonicalJson) for item in value.values()):
        return (
            "{"
            + ",".join(f"{_dumps(key)}:{_canonical_text(value[key])}" for key in sorted(value))
            + "}"
        )
    if isinstance(value, list) and any(isinstance(item, CanonicalJson) for item in value):
        return "[" + ",".join(_canonical_text(item) for item in value) + "]"
    return _dumps(value)


def canonical(content: dict[str, Any]) -> tuple[str, str]:
    """The canonical JSON text of a filing's content (sorted keys, no spaces, characters as
    they are, parts PostgreSQL wrote taken as they are) and the SHA-256 of its UTF-8 bytes:
    the same content gives the same text."""
    text = _canonical_text(content)
    return text, hashlib.sha256(text.encode()).hexdigest()


def canonical_object_sql(
    fields: Mapping[str, Any], *, optional: Mapping[str, Any] | None = None
) -> ColumnElement[str]:
    """The canonical JSON text of an object with these fields, written by PostgreSQL: keys in
    order, no spaces, each value through `to_json`, which escapes a string exactly as
    `json.dumps(ensure_ascii=False)` does (quote, backslash, control characters, lowercase
    hex). A field of `optional` is left out where its value is NULL."""
    written = {
        **{key: (func.coalesce(_json_text(value), "null"), False) for key, value in fields.items()},
        **{key: (_json_text(value), True) for key, value in (optional or {}).items()},
    }
    text: ColumnElement[str] | None = None
    for key in sorted(written):
        value, may_be_absent = written[key]
        # Absent fields are NULL parts: coalesced away; the first comma is dropped after.
        part = literal(f",{_dumps(key)}:", String) + value
        part = func.coalesce(part, "") if may_be_absent else part
        text = part if text is None else text + part
    if text is None:
        return literal("{}", String)
    return literal("{", String) + func.substr(text, 2) + literal("}", String)


def _json_text(value: Any) -> ColumnElement[str]:
    return cast(func.to_json(value), String)


def canonical_array_sql(
    element: ColumnElement[str], order_by: Any, *where: ColumnElement[bool]
) -> ColumnElement[str]:
    """The canonical JSON array of `element` (texts from `canonical_object_sql`) over a
    group's rows where `where` holds, in `order_by`'s order; NULL when no row does."""
    elements = func.string_agg(element, aggregate_order_by(literal_column("','"), order_by))
    return (
        literal("[", String)
        + (elements.filter(*where) if where else elements)
        + literal("]", String)
    )


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
