"""VAT exemption on technology transfer and development (技术转让、技术开发免征增值税): each
seller's exempt sales of a month or quarter, at its own rate, and the taxable non-technical
parts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import Organization, VatTaxpayerKind
from app.core.clock import beijing_date
from app.tax import rules
from app.tax.contents import (
    Body,
    Received,
    receipts_of,
    yuan,
)


async def vat_bodies(
    session: AsyncSession, taxpayers: Sequence[Organization], start: datetime, end: datetime
) -> dict[uuid.UUID, Body]:
    rule_set = rules.rule_set("vat_exemption", beijing_date(start))
    by_seller = await receipts_of(session, taxpayers, start, end, side="seller")
    return {
        seller.id: vat_body(rule_set, seller.vat_taxpayer_kind, by_seller[seller.id])
        for seller in taxpayers
    }


def vat_body(
    rule_set: rules.RuleSet,
    taxpayer_kind: VatTaxpayerKind,
    received: Sequence[Received],
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
                "received": yuan(line.received_fen),
                "exempt": line.exempt,
                "reason": line.reason,
            }
            for (item, part, _), line in zip(parts, outcome.lines, strict=True)
        ],
        "totals": {
            "exempt_sales": yuan(outcome.exempt_sales_fen),
            "taxable_sales": yuan(outcome.taxable_sales_fen),
            "taxpayer_kind": taxpayer_kind.value,
            "rate": str(outcome.rate),
            "vat_forgone": yuan(outcome.vat_forgone_fen),
        },
        "rule_set": {"version": rule_set.version, "citations": rule_set.citations},
    }
    return content, rule_set.version
