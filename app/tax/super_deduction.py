"""The R&D super-deduction (研发费用加计扣除) of a commissioning buyer: its payments on
technology-development contracts in the year, and the deductible share of them."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization
from app.core.clock import beijing_date
from app.deals.models import ContractType
from app.tax import rules
from app.tax.contents import (
    Body,
    Received,
    middle,
    receipts_of,
    yuan,
)


async def super_deduction_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    by_buyer = await receipts_of(session, taxpayers, start, end, side="buyer")
    return {
        buyer: super_deduction_body(
            start, end, [r for r in paid if r.contract.contract_type == ContractType.development]
        )
        for buyer, paid in by_buyer.items()
    }


def super_deduction_body(start: datetime, end: datetime, paid: Sequence[Received]) -> Body:
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
                    "amount": yuan(other),
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
                "expense": yuan(expense),
                "counted": yuan(result.counted_fen),
                "rate": str(result.rate),
                "deduction": yuan(result.deduction_fen),
            }
        )
    rule_set = rules.rule_set("rd_super_deduction", middle(start, end))
    content = {
        "lines": lines,
        "excluded": excluded,
        "totals": {"counted": yuan(counted_total), "deduction": yuan(deduction_total)},
        "assumptions": ["industry_unspecified_general"],
        "rule_set": {"version": version or rule_set.version, "citations": rule_set.citations},
    }
    return content, version or rule_set.version
