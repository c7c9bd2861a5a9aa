"""Registrations made elsewhere (技术合同认定登记 at another registration office), imported by a
platform registrar so the contracts count where registered contracts count — agencies'
indicators, statistics, the parties' tax filings for money received here.

An import is all or nothing: every row is checked — its number (`numbers`), its dates, its
parties (organizations on the platform, by credit code), its terms as the registration form
needs them — before anything is written. Each row becomes an off-platform deal whose contract
stands registered under the imported number; the platform's own numbers of that region and
year continue after it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.identifiers import division_path
from app.accounts.models import Organization
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date, day_start
from app.core.errors import ValidationFailed
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import queries
from app.deals.models import (
    Contract,
    ContractState,
    ContractVersion,
    DealSource,
)
from app.deals.numbers import parse_registration_number
from app.deals.registration import (
    completeness_problems,
    registration_counter,
    registration_form,
)
from app.deals.schemas import ImportedRegistration
from app.deals.service import (
    check_registered_terms,
    contract_payload,
    open_deal,
    write_registered_terms,
)


@dataclass(frozen=True)
class ImportedContract:
    deal_id: uuid.UUID
    registration_number: str


def _check_row(
    row: ImportedRegistration,
    field: str,
    seller: Organization | None,
    buyer: Organization | None,
    today: date,
) -> tuple[Organization, Organization]:
    """The rules a row must meet (pure); returns its parties. Raises ValidationFailed naming
    the row's field."""
    number = parse_registration_number(row.registration_number)
    if number.year != row.registered_on.year:
        raise ValidationFailed(f"{field}.registration_number", "registration_year_mismatch")
    if row.registered_on > today:
        raise ValidationFailed(f"{field}.registered_on", "in_future")
    if row.signed_on > row.registered_on:
        raise ValidationFailed(f"{field}.signed_on", "signed_after_registration")
    if seller is None:
        raise ValidationFailed(f"{field}.seller_credit_code", "organization_unknown")
    if buyer is None:
        raise ValidationFailed(f"{field}.buyer_credit_code", "organization_unknown")
    if seller.id == buyer.id:
        raise ValidationFailed(f"{field}.buyer_credit_code", "same_party")
    # Contracts are registered where the seller is (卖方所在地): the office's code is the
    # seller's division or one above it.
    if number.division_code not in {d.code for d in division_path(seller.division_code)}:
        raise ValidationFailed(f"{field}.registration_number", "registration_number_region")
    check_registered_terms(row, field)
    return seller, buyer


def _version(row: ImportedRegistration, principal: Principal, now: datetime) -> ContractVersion:
    """The contract's terms as the other office registered them (not yet in the session):
    signed on the day signed, registered on the day registered, its 技术交易额 as checked there,
    one milestone for the whole price (the payments happen where they happen; money received
    here is recorded against it)."""
    signed_at = day_start(row.signed_on)
    version = ContractVersion(
        number=1,
        content=None,
        registered_transaction_fen=row.transaction_amount.fen,
        deductions=[],
        price_items=[],
        milestones=[{"number": 1, "amount_fen": row.total.fen, "due_on": row.ends_on.isoformat()}],
        registered_at=day_start(row.registered_on),
        registered_by_id=principal.user_id,
        created_by_id=principal.user_id,
        created_at=now,
        seller_signed_at=signed_at,
        buyer_signed_at=signed_at,
    )
    write_registered_terms(version, row)
    return version


async def import_registrations(
    session: AsyncSession,
    principal: Principal,
    rows: Sequence[ImportedRegistration],
    *,
    now: datetime,
) -> list[ImportedContract]:
    """Platform registrars import contracts registered elsewhere, all or none. Raises
    Forbidden (not a registrar); ValidationFailed naming the row's field
    (`body.registrations.<i>.…`): the number's form (`numbers`), `registration_year_mismatch`,
    `registration_number_region` (not the seller's region), `registration_number_taken`,
    `duplicate_in_import`, `in_future`, `signed_after_registration`, `organization_unknown`,
    `same_party`, the terms' rules, and `registration_incomplete` with the form's missing
    parts."""
    principal.require_platform_role(PlatformRole.registrar)
    today = beijing_date(now)
    parties = await accounts.organizations_by_credit_code(
        session, [code for row in rows for code in (row.seller_credit_code, row.buyer_credit_code)]
    )
    checked: list[tuple[ImportedRegistration, Organization, Organization, ContractVersion]] = []
    rows_by_number: dict[str, int] = {}
    for index, row in enumerate(rows):
        field = f"body.registrations.{index}"
        seller, buyer = _check_row(
            row,
            field,
            parties.get(row.seller_credit_code),
            parties.get(row.buyer_credit_code),
            today,
        )
        if row.registration_number in rows_by_number:
            raise ValidationFailed(f"{field}.registration_number", "duplicate_in_import")
        rows_by_number[row.registration_number] = index
        version = _version(row, principal, now)
        # The other office checked the contract's text; the form's data it must carry.
        problems = [
            p for p in completeness_problems(version, row.registered_on) if p != "content_missing"
        ]
        if problems:
            raise ValidationFailed(field, "registration_incomplete", reasons=", ".join(problems))
        checked.append((row, seller, buyer, version))
    taken = (
        await session.scalars(
            select(Contract.registration_number).where(
                Contract.registration_number.in_(list(rows_by_number))
            )
        )
    ).all()
    if taken:
        first = min(rows_by_number[number] for number in taken if number)
        raise ValidationFailed(
            f"body.registrations.{first}.registration_number", "registration_number_taken"
        )
    imported = []
    for row, seller, buyer, version in checked:
        number = parse_registration_number(row.registration_number)
        # The platform's own numbers of this region and year continue after the imported one.
        counter = await registration_counter(session, number.division_code, number.year)
        counter.last = max(counter.last, number.serial)
        deal = await open_deal(
            session,
            source=DealSource.off_platform,
            listing_id=None,
            seller_organization_id=seller.id,
            buyer_organization_id=buyer.id,
            price=row.total,
            now=now,
            opened_by_id=principal.user_id,
        )
        contract = await queries.contract_of(session, deal.id, lock=True)
        version.contract_id = contract.id
        version.registration_form = {**registration_form(version, seller, buyer), "imported": True}
        session.add(version)
        contract.state = ContractState.registered
        contract.effective_version = version.number
        contract.registration_number = row.registration_number
        contract.registered_at = version.registered_at
        contract.registered_by_id = principal.user_id
        contract.registered_transaction_fen = version.registered_transaction_fen
        contract.registration_applied_at = version.seller_signed_at
        await session.flush()
        await record_event(
            session,
            "contract.registered",
            {
                **contract_payload(deal, contract, version),
                "registration_number": row.registration_number,
                "registered_transaction_amount": Money(row.transaction_amount.fen).to_api(),
                "deductions": [],
                "imported": True,
            },
            before={"state": ContractState.draft, "registration_number": None},
        )
        imported.append(ImportedContract(deal.id, row.registration_number))
    return imported
