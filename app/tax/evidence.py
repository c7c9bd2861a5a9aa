"""The seller's 留存备查 bundle for one registered contract and tax year.

Technology-transfer income tax relief is claimed by the taxpayer itself and its papers kept
for the tax office (自行判别、申报享受、相关资料留存备查, 国家税务总局公告2018年第23号). For a
contract that means the contract, its registration certificate and how the year's income from
it was computed: one ZIP, from the same records as the filings (`eit.eit_bodies`), so what
the bundle shows is what the filing counted.
"""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.core.auth import Principal
from app.core.clock import month_start
from app.core.errors import NotFound, ValidationFailed
from app.core.money import Money
from app.deals import queries as deals
from app.deals import registration
from app.deals import service as deal_service
from app.deals.documents import render_contract_pdf, render_registration_certificate
from app.tax.contents import CanonicalJson, yuan
from app.tax.eit import eit_bodies
from app.tax.exports import filing_xlsx


async def tax_evidence(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID, year: int, *, now: datetime
) -> tuple[str, bytes]:
    """(file name, ZIP) of `contract.pdf`, `certificate.pdf` and `income-<year>.xlsx` (the
    year's technology-transfer income from this contract: revenue, costs, related taxes,
    income, whether it counts, and the exclusions, as the seller's annual filing computes
    them; a running year up to now). The seller's members and platform staff. Raises NotFound
    (outsiders and the buyer: the income is the seller's), InvalidState (not registered),
    ValidationFailed(year) for a year not begun."""
    deal = await deals.get_deal_for(session, principal, deal_id)
    if not principal.platform_roles and not principal.is_member_of(deal.seller_organization_id):
        raise NotFound()
    certificate = await registration.registration_certificate(session, principal, deal.id, now=now)
    summary = await deal_service.contract_summary(session, principal, deal.id, now=now)
    start, end = month_start(year, 1), month_start(year + 1, 1)
    if start >= now:
        raise ValidationFailed("query.year", "year_not_started")
    seller = (await accounts.organizations_by_id(session, [deal.seller_organization_id]))[
        deal.seller_organization_id
    ]
    body, _ = (await eit_bodies(session, [seller], start, min(end, now)))[seller.id]
    mine = str(deal.id)
    lines = [line for line in CanonicalJson.parsed(body["lines"]) if line["deal_id"] == mine]
    counted = [line for line in lines if line.get("included")]
    content = {
        "kind": "eit_transfer_income",
        "period": str(year),
        "taxpayer": {"id": str(seller.id), "name": seller.name, "credit_code": seller.credit_code},
        "lines": lines,
        "excluded": [item for item in body["excluded"] if item["deal_id"] == mine],
        "totals": {
            key: yuan(sum(Money.yuan(line.get(key, "0")).fen for line in counted))
            for key in ("revenue", "costs", "taxes", "income")
        },
        "rule_set": body["rule_set"],
    }
    # Kept for a Chinese tax office: in Chinese, whatever language the request asked for.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("contract.pdf", render_contract_pdf(summary))
        bundle.writestr("certificate.pdf", render_registration_certificate(certificate))
        bundle.writestr(f"income-{year}.xlsx", filing_xlsx(content, version=1))
    name = f"tax-evidence-{certificate.registration_number}-{year}.zip"
    return name, buffer.getvalue()
