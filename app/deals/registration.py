"""Registration of technology contracts (技术合同认定登记): what a complete contract needs, the
registrar's decision and its registration number, and terminating a contract."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.identifiers import division_path, nature_of
from app.accounts.models import Organization
from app.core.audit import changed_fields
from app.core.auth import PlatformRole, Principal
from app.core.clock import beijing_date, period_end
from app.core.errors import (
    InvalidState,
    ValidationFailed,
)
from app.core.money import Money
from app.core.outbox import record_event
from app.deals import queries
from app.deals.documents import (
    CertifiedParty,
    DeductionLine,
    RegistrationCertificate,
    Side,
)
from app.deals.models import (
    RIGHT_KINDS,
    Contract,
    ContractState,
    ContractType,
    ContractVersion,
    Deal,
    PriceItemCategory,
    RegistrationCounter,
)
from app.deals.numbers import RegistrationNumber
from app.deals.queries import counted_transaction_fen
from app.deals.service import RegistrationRefused, contract_payload

HOME = "CHN"
"""The platform's country (国别代码): a party elsewhere makes a technology import or export."""

DECISION_DAYS = 30
"""《技术合同认定登记管理办法》(国科发政字〔2000〕063号): the registration office completes the
registration within 30 days of accepting the application (自受理认定登记申请之日起30日内). The
2024 draft revision would make it 15 working days (30 for large or disputed contracts): a
constant here, so a province on other terms changes one figure."""


def registration_due_on(applied_at: datetime) -> date:
    """The last Beijing day for the registrar's decision on an application made at
    `applied_at` (the day of acceptance not counted: `period_end`)."""
    return beijing_date(period_end(applied_at, DECISION_DAYS) - timedelta(microseconds=1))


def overdue(applied_at: datetime, now: datetime) -> bool:
    return now >= period_end(applied_at, DECISION_DAYS)


AWAITING = (ContractState.signed, ContractState.registered, ContractState.performing)
"""States in which the terms in force may await the registrar: a signed contract's
registration, a registered one's amendment (变更登记)."""


def awaits_decision(contract: Contract, effective: ContractVersion | None) -> bool:
    """Whether the terms in force await the registrar: applied (signed by both), not registered
    yet (the contract, or this amendment of it), not refused since."""
    return (
        contract.state in AWAITING
        and effective is not None
        and effective.registered_at is None
        and contract.registration_applied_at is not None
        and not contract.rejection_reasons
    )


@dataclass(frozen=True)
class PendingRegistration:
    deal_id: uuid.UUID
    registration_number: str | None
    """Set for a change registration (变更登记): the number it keeps."""
    seller_organization_id: uuid.UUID
    buyer_organization_id: uuid.UUID
    subject: str
    applied_at: datetime
    due_on: date


async def pending_registrations(
    session: AsyncSession, principal: Principal, *, now: datetime, overdue_only: bool, limit: int
) -> list[PendingRegistration]:
    """The applications awaiting a decision, the earliest due first (at most `limit`); with
    `overdue_only`, those past their last day. Platform registrars. Raises Forbidden."""
    principal.require_platform_role(PlatformRole.registrar)
    query = (
        select(Deal, Contract, ContractVersion.subject)
        .join(Contract, Contract.deal_id == Deal.id)
        .join(
            ContractVersion,
            queries.IN_FORCE,
        )
        .where(
            Contract.state.in_(AWAITING),
            ContractVersion.registered_at.is_(None),
            Contract.registration_applied_at.is_not(None),
            # Not refused since: no reasons (SQL NULL, or the JSON null a cleared list is).
            func.coalesce(func.jsonb_typeof(Contract.rejection_reasons), "null") == "null",
        )
        .order_by(Contract.registration_applied_at, Contract.id)
    )
    rows = (await session.execute(query.limit(limit))).all()
    pending = []
    for deal, contract, subject in rows:
        applied_at = contract.registration_applied_at
        assert applied_at is not None
        pending.append(
            PendingRegistration(
                deal.id,
                contract.registration_number,
                deal.seller_organization_id,
                deal.buyer_organization_id,
                subject,
                applied_at,
                registration_due_on(applied_at),
            )
        )
    # The earliest applications are the overdue ones: the page holds all of them it can.
    return [p for p in pending if overdue(p.applied_at, now)] if overdue_only else pending


@dataclass(frozen=True)
class Deduction:
    """What the registrar takes out of the declared 技术交易额 from one price-list line."""

    item: int
    amount_fen: int
    reason: str


def checked_transaction_fen(version: ContractVersion, deductions: Sequence[Deduction]) -> int:
    """技术交易额 as the registrar checks it (核定): the declared figure less the deductions
    from the `technology` lines of the price list — equipment, instruments, parts, materials or
    works priced as technology, 成套设备 beyond a reasonable quantity — which are not technology
    income (《技术合同认定规则》 第五十一条). Pure.

    Raises ValidationFailed naming the deduction: `no_such_price_item`,
    `price_item_not_technology`, `deduction_above_item` (more than the line has left);
    on `body.deductions`: `nothing_counts` (all deducted: not a technology contract, refuse
    it instead) and `below_designated_technology` (milestones the contract says pay the
    technology hold more: the parties correct the contract first, 补正)."""
    items = {int(item["number"]): item for item in version.price_items}
    left = {
        number: int(item["amount_fen"])
        for number, item in items.items()
        if item["category"] == PriceItemCategory.technology
    }
    for index, deduction in enumerate(deductions):
        field = f"body.deductions.{index}"
        if deduction.item not in items:
            raise ValidationFailed(f"{field}.item", "no_such_price_item")
        if deduction.item not in left:
            raise ValidationFailed(f"{field}.item", "price_item_not_technology")
        if deduction.amount_fen > left[deduction.item]:
            raise ValidationFailed(
                f"{field}.amount",
                "deduction_above_item",
                left=str(Money(left[deduction.item]).amount),
            )
        left[deduction.item] -= deduction.amount_fen
    checked = version.transaction_fen - sum(deduction.amount_fen for deduction in deductions)
    if checked <= 0:
        raise ValidationFailed("body.deductions", "nothing_counts")
    designated = sum(
        int(m["amount_fen"]) for m in version.milestones if m.get("pays") == "technology"
    )
    if checked < designated:
        raise ValidationFailed(
            "body.deductions",
            "below_designated_technology",
            designated=str(Money(designated).amount),
        )
    return checked


def completeness_problems(version: ContractVersion, today: date) -> list[str]:
    """What a registrar requires before registering (pure): reason codes, empty when
    complete — the registration form's data included (sub-type, technology field, and the
    numbers of the rights a patent, software, layout-design or plant-variety contract
    involves)."""
    problems = []
    if not version.content or len(version.content.strip()) < 20:
        problems.append("content_missing")
    if version.contract_type in {ContractType.transfer, ContractType.licence} and (
        version.transaction_fen <= 0
    ):
        problems.append("transaction_amount_missing")
    if version.contract_type == ContractType.licence and not version.licence_scope:
        problems.append("licence_scope_missing")
    if version.subtype is None:
        problems.append("subtype_missing")
    elif version.subtype in RIGHT_KINDS and not any(
        right["kind"] in RIGHT_KINDS[version.subtype] for right in version.intellectual_property
    ):
        problems.append("intellectual_property_missing")
    if version.technology_field is None:
        problems.append("technology_field_missing")
    if version.ends_on < today:
        problems.append("term_ended")
    return problems


async def decide_registration(
    session: AsyncSession,
    principal: Principal,
    deal_id: uuid.UUID,
    *,
    register: bool,
    reasons: Sequence[str],
    deductions: Sequence[Deduction] = (),
    now: datetime,
) -> queries.ContractView:
    """A platform registrar decides the application the terms in force make: a signed
    contract's registration (技术合同认定登记, the next number of the seller's region and year),
    or a registered contract's signed amendment (变更登记, the number kept, what changed
    recorded) — registered with the 技术交易额 checked (核定) against the price list, or refused
    with reasons (未予登记; a refused change leaves the registered terms counting).

    Raises Forbidden (not a registrar), NotFound, InvalidState when nothing awaits a decision,
    RegistrationRefused listing what is incomplete, ValidationFailed (reasons) for a refusal
    without reasons, ValidationFailed from `checked_transaction_fen` for deductions the price
    list does not bear.
    """
    principal.require_platform_role(PlatformRole.registrar)
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    contract = await queries.contract_of(session, deal.id, lock=True)
    versions = await queries.versions_of(session, contract.id)
    effective = queries.effective_version(contract, versions)
    if contract.state not in AWAITING or effective is None or effective.registered_at is not None:
        raise InvalidState(detail_code="detail.contract_not_signed", state=contract.state.value)
    change = contract.registration_number is not None
    if not register:
        if not reasons:
            raise ValidationFailed("body.reasons", "missing")
        before = {"rejection_reasons": contract.rejection_reasons}
        contract.rejection_reasons = list(reasons)
        await record_event(
            session,
            "contract.registration_refused",
            {"deal_id": str(deal.id), "reasons": list(reasons), "change": change},
            before=before,
        )
        return await queries.contract_view(session, deal)
    problems = completeness_problems(effective, beijing_date(now))
    if problems:
        raise RegistrationRefused(extensions={"reasons": problems})
    checked = checked_transaction_fen(effective, deductions)
    parties = await accounts.organizations_by_id(
        session, [deal.seller_organization_id, deal.buyer_organization_id]
    )
    effective.registration_form = registration_form(
        effective, parties[deal.seller_organization_id], parties[deal.buyer_organization_id]
    )
    effective.registered_transaction_fen = checked
    effective.deductions = [
        {"item": d.item, "amount_fen": d.amount_fen, "reason": d.reason} for d in deductions
    ]
    effective.registered_at, effective.registered_by_id = now, principal.user_id
    counted_before = contract.registered_transaction_fen
    contract.registered_transaction_fen = checked
    contract.rejection_reasons = None
    if change:
        return await _register_change(session, deal, contract, versions, effective, counted_before)
    contract.registration_number = await _next_registration_number(
        session, parties[deal.seller_organization_id].division_code, beijing_date(now).year
    )
    contract.registered_at = now
    contract.registered_by_id = principal.user_id
    contract.state = ContractState.registered
    # Money that arrived before registration (an applied deposit, early payments) counts now.
    view = await queries.contract_view(session, deal)
    if any(view.outstanding[m.number] < m.amount_fen for m in queries.milestones_of(effective)):
        contract.state = ContractState.performing
    if not any(view.outstanding.values()):
        contract.state = ContractState.completed
    await record_event(
        session,
        "contract.registered",
        {
            **contract_payload(deal, contract, effective),
            "registration_number": contract.registration_number,
            "registered_transaction_amount": Money(checked).to_api(),
            "deductions": _deductions_payload(effective),
        },
        before={
            "state": ContractState.signed,
            "registration_number": None,
            "transaction_amount": Money(effective.transaction_fen).to_api(),
        },
    )
    return view


def registration_form(
    version: ContractVersion, seller: Organization, buyer: Organization
) -> dict[str, Any]:
    """The parts of the registration form (技术合同登记表) that are not the version's terms:
    both parties as they are now (name, credit code, 买卖方性质, 行政区划代码, 国别代码), the
    signing date (the second signature, Beijing day) and whether the contract is a technology
    import (the seller abroad) or export (the buyer abroad) — 技术进出口合同 are registered too."""

    def party(organization: Organization) -> dict[str, str]:
        return {
            "name": organization.name,
            "credit_code": organization.credit_code,
            "nature_code": nature_of(organization.kind, organization.nature_code),
            "division_code": organization.division_code,
            "country_code": organization.country_code,
        }

    signatures = [t for t in (version.seller_signed_at, version.buyer_signed_at) if t]
    seller_abroad, buyer_abroad = seller.country_code != HOME, buyer.country_code != HOME
    cross_border = None
    if seller_abroad != buyer_abroad:
        cross_border = "import" if seller_abroad else "export"
    return {
        "seller": party(seller),
        "buyer": party(buyer),
        "signed_on": beijing_date(max(signatures)).isoformat() if signatures else None,
        "cross_border": cross_border,
    }


def _deductions_payload(version: ContractVersion) -> list[dict[str, Any]]:
    return [{**d, "amount": Money(d["amount_fen"]).to_api()} for d in version.deductions or []]


def _registered_terms(version: ContractVersion) -> dict[str, Any]:
    """The terms a change registration compares (what the registration form records)."""
    return {
        "version": version.number,
        "contract_type": version.contract_type,
        "subtype": version.subtype,
        "subject": version.subject,
        "technology_field": version.technology_field,
        "intellectual_property": version.intellectual_property,
        "total": Money(version.total_fen).to_api(),
        "transaction_amount": Money(version.transaction_fen).to_api(),
        "registered_transaction_amount": Money(version.registered_transaction_fen or 0).to_api(),
        "starts_on": version.starts_on,
        "ends_on": version.ends_on,
        "licence_scope": version.licence_scope,
        "exclusivity": version.exclusivity,
        "milestones": len(version.milestones),
    }


async def _register_change(
    session: AsyncSession,
    deal: Deal,
    contract: Contract,
    versions: Sequence[ContractVersion],
    effective: ContractVersion,
    counted_before: int | None,
) -> queries.ContractView:
    """变更登记: the amendment's terms are registered under the contract's number; what changed
    against the terms registered before is recorded and announced, so rewards and tax filings
    are computed again (as adjustments and amendments: their engines never rewrite)."""
    previous = next(
        v for v in reversed(versions) if v.registered_at is not None and v is not effective
    )
    changes, before = changed_fields(_registered_terms(previous), _registered_terms(effective))
    await record_event(
        session,
        "contract.registration_changed",
        {
            **contract_payload(deal, contract, effective),
            "registration_number": contract.registration_number,
            "registered_transaction_amount": Money(
                effective.registered_transaction_fen or 0
            ).to_api(),
            "deductions": _deductions_payload(effective),
            "changes": changes,
        },
        before={
            **before,
            "counted_transaction_amount": Money(counted_before or 0).to_api(),
        },
    )
    return await queries.contract_view(session, deal)


async def _next_registration_number(session: AsyncSession, division_code: str, year: int) -> str:
    """`<year><division code><serial:06>`, without gaps per region and year (the counter row
    is locked until the registration commits)."""
    counter = await registration_counter(session, division_code, year)
    counter.last += 1
    return str(RegistrationNumber(year, division_code, counter.last))


async def registration_counter(
    session: AsyncSession, division_code: str, year: int
) -> RegistrationCounter:
    """The region's and year's counter row, created at 0 when new, locked until commit."""
    await session.execute(
        insert(RegistrationCounter)
        .values(division_code=division_code, year=year, last=0)
        .on_conflict_do_nothing()
    )
    counter = await session.scalar(
        select(RegistrationCounter)
        .where(RegistrationCounter.division_code == division_code, RegistrationCounter.year == year)
        .with_for_update()
    )
    assert counter is not None
    return counter


async def terminate_contract(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID, *, reason: str, now: datetime
) -> queries.ContractView:
    """A platform registrar records a contract's termination (解除) — agreed by the parties or
    ruled — with the reason. Money already received stays booked to the deal until refunded or
    paid out. Raises Forbidden, NotFound, InvalidState when it is completed or terminated."""
    principal.require_platform_role(PlatformRole.registrar)
    deal = await queries.get_deal_for(session, principal, deal_id, lock=True)
    contract = await queries.contract_of(session, deal.id, lock=True)
    if contract.state in {ContractState.completed, ContractState.terminated}:
        raise InvalidState(detail_code="detail.contract_closed")
    contract.state = ContractState.terminated
    contract.terminated_at = now
    contract.termination_reason = reason
    await record_event(session, "contract.terminated", {"deal_id": str(deal.id), "reason": reason})
    return await queries.contract_view(session, deal)


async def registration_certificate(
    session: AsyncSession, principal: Principal, deal_id: uuid.UUID, *, now: datetime
) -> RegistrationCertificate:
    """What the registration certificate (技术合同登记证明) shows, for the parties and staff.
    Raises NotFound; InvalidState (`not_registered`) before registration."""
    deal = await queries.get_deal_for(session, principal, deal_id)
    contract = await queries.contract_of(session, deal.id)
    if contract.registration_number is None or contract.registered_at is None:
        raise InvalidState(detail_code="detail.not_registered")
    versions = await queries.versions_of(session, contract.id)
    # The version the registrar's last decision registered (a change registration's amendment).
    registered = next(v for v in reversed(versions) if v.registered_at is not None)
    organizations = await accounts.organizations_by_id(
        session, [deal.seller_organization_id, deal.buyer_organization_id]
    )
    registrar_id = registered.registered_by_id
    registrars = await accounts.users_by_id(session, [registrar_id] if registrar_id else [])
    registrar = registrars.get(registrar_id) if registrar_id else None
    lines = {int(item["number"]): item for item in registered.price_items}
    # The parties as the form recorded them; registrations from before the form was kept
    # show the parties as they are now.
    form = registered.registration_form or registration_form(
        registered,
        organizations[deal.seller_organization_id],
        organizations[deal.buyer_organization_id],
    )
    sides: tuple[Side, ...] = ("seller", "buyer")
    return RegistrationCertificate(
        registration_number=contract.registration_number,
        registered_at=contract.registered_at,
        registrar=registrar.display_name if registrar else "—",
        contract_type=registered.contract_type.value,
        subtype=None if registered.subtype is None else registered.subtype.value,
        subject=registered.subject,
        version=registered.number,
        technology_field=registered.technology_field,
        rights=[(right["kind"], right["number"]) for right in registered.intellectual_property],
        signed_on=None if form["signed_on"] is None else date.fromisoformat(form["signed_on"]),
        cross_border=form["cross_border"],
        parties=[
            CertifiedParty(
                side,
                form[side]["name"],
                form[side]["credit_code"],
                form[side]["nature_code"],
                " ".join(division.name for division in division_path(form[side]["division_code"])),
                form[side]["country_code"],
            )
            for side in sides
        ],
        total=Money(registered.total_fen),
        declared_transaction_amount=Money(registered.transaction_fen),
        registered_transaction_amount=Money(counted_transaction_fen(contract, registered)),
        changed_at=registered.registered_at
        if registered.registered_at != contract.registered_at
        else None,
        deductions=[
            DeductionLine(
                int(d["item"]),
                lines[int(d["item"])]["description"],
                Money(int(d["amount_fen"])),
                d["reason"],
            )
            for d in registered.deductions or []
        ],
        printed_at=now,
    )
