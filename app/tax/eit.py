"""Enterprise income tax on technology-transfer income (技术转让所得减免企业所得税): each seller's
yearly income from transfer and licence contracts, its exempt and halved parts (`rules`)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Column,
    MetaData,
    String,
    Table,
    Uuid,
    and_,
    bindparam,
    case,
    cast,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import DropTable

from app.accounts.models import Organization
from app.core.db import among
from app.core.money import amount_text_sql
from app.deals import queries as deals
from app.listings import queries as listings
from app.payments import queries as payments
from app.tax import rules
from app.tax.contents import (
    LICENCE,
    TRANSFERS,
    Body,
    CanonicalJson,
    canonical_array_sql,
    canonical_object_sql,
    middle,
    receipts_of,
    yuan,
)

logger = structlog.get_logger(__name__)


async def eit_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    """Each seller's technology-transfer income of the year: the technology part of the money
    received in the year on each transfer or licence contract (payments, an applied deposit,
    less refunds), less the costs and related taxes declared against it (国税函〔2009〕212号
    第三条). A contract's non-technical part is no
    technology-transfer income (国税函〔2009〕212号) and is listed as excluded. A contract paid
    over two years counts in each year for what that year received.

    PostgreSQL does the set work — the sums per contract and the lines of each filing — so a
    year of a million contracts makes no Python object per contract. Python keeps the rules:
    it decides each distinct set of contract terms once (`rules.eit_exclusion`), splits the
    money of the few contracts with a non-technical part (`deals.TechnologyShare`), and works
    out each seller's totals (`rules.eit_totals`)."""
    rule_set = rules.rule_set("eit_transfer_income", middle(start, end))
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
            func.coalesce(func.sum(costs.c.related_taxes_fen), 0).label("taxes_fen"),
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
        by_seller = await receipts_of(
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
    # 技术转让所得 = 收入 − 成本 − 相关税费 (国税函〔2009〕212号 第三条).
    income = c.revenue_fen - c.costs_fen - c.taxes_fen
    classified, included = ~c.unclassified, and_(~c.unclassified, c.reason.is_(None))

    def listed(*where: Any, optional: dict[str, Any] | None = None, **fields: Any) -> Any:
        line = canonical_object_sql(fields, optional=optional)
        return canonical_array_sql(line, c.deal_id, *where)

    bodies: dict[uuid.UUID, Body] = {}
    found: dict[uuid.UUID, Sequence[Any]] = {}
    for row in await session.execute(
        select(
            c.seller,
            listed(
                classified,
                deal_id=c.deal_id,
                registration_number=c.registration_number,
                revenue=amount_text_sql(c.revenue_fen),
                costs=amount_text_sql(c.costs_fen),
                income=amount_text_sql(income),
                included=included,
                # Related taxes appear on a line only where declared, so the filings of
                # sellers who declare none keep the content (and hash) they had.
                optional={"taxes": case((c.taxes_fen != 0, amount_text_sql(c.taxes_fen)))},
            ),
            listed(classified, c.reason.is_not(None), deal_id=c.deal_id, reason=c.reason),
            listed(c.unclassified, deal_id=c.deal_id, reason=literal("unclassified")),
            listed(
                c.other_fen != 0,
                deal_id=c.deal_id,
                reason=literal("non_technical_part"),
                amount=amount_text_sql(c.other_fen),
            ),
            func.array_agg(aggregate_order_by(c.deal_id, c.deal_id)).filter(c.unclassified),
            func.coalesce(func.sum(income).filter(included), 0),
        ).group_by(c.seller)
    ):
        found[row[0]] = row[1:]
    await connection.execute(DropTable(held))
    for seller in ids:
        lines, excluded, unclassified, non_technical, unclassified_ids, income_fen = found.get(
            seller, (None, None, None, None, None, 0)
        )
        for deal_id in unclassified_ids or ():
            # Off-platform contracts name no result: marked for a person, not guessed.
            logger.warning("tax_contract_unclassified", deal_id=str(deal_id))
        totals = rules.eit_totals(rule_set, int(income_fen))
        content = {
            "lines": CanonicalJson.array(lines),
            "excluded": CanonicalJson.array(excluded, unclassified, non_technical),
            "totals": {
                "income": yuan(totals.income_fen),
                "exempt": yuan(totals.exempt_fen),
                "excess": yuan(totals.halved_fen),
                "taxable_half": yuan(totals.taxable_fen),
                "reduced": yuan(totals.reduced_fen),
            },
            "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
        }
        bodies[seller] = content, rule_set.version
    return bodies
