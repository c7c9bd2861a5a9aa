"""HTTP routes of the deals package."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.i18n import current_locale
from app.core.idempotency import IdempotencyOf
from app.core.money import Money
from app.core.pagination import Page, PageParams, page_params
from app.deals import imports, queries, registration, service, transformation_income
from app.deals.auth import DealRead, DealWrite, Registrar, RegistrarRead
from app.deals.documents import render_contract_pdf, render_registration_certificate
from app.deals.models import ContractState, ContractVersion, Deal, DealSource
from app.deals.schemas import (
    BrokersNamed,
    ContractOut,
    ContractTerms,
    ContractVersionOut,
    DealCreate,
    DealOut,
    DeductionOut,
    ImportedContractOut,
    IncomeDeclaration,
    IncomeOut,
    InventorRewardOut,
    MilestoneOut,
    PendingRegistrationOut,
    PriceItemOut,
    RegistrationDecision,
    RegistrationFormOut,
    RegistrationImport,
    RightOut,
    Signature,
    SignatureCreate,
    Termination,
)

router = APIRouter(
    prefix="/v1/deals", tags=["deals"], responses=problem_responses(401, 403, 404, 422)
)
registrations_router = APIRouter(
    prefix="/v1/registrations", tags=["deals"], responses=problem_responses(401, 403, 422)
)
Pagination = Annotated[PageParams, Depends(page_params)]


@registrations_router.post(
    "/imports",
    response_model=list[ImportedContractOut],
    status_code=status.HTTP_201_CREATED,
    summary="Import contracts registered at another office",
)
async def import_registrations(
    session: Session,
    now: Now,
    caller: Registrar,
    idempotency: IdempotencyOf,
    body: RegistrationImport,
) -> list[ImportedContractOut]:
    """Platform registrars record contracts another registration office registered (up to 500
    at once, all or none): each number is checked (16 digits, a real division code in the
    seller's region, the year it was registered, not already here), each party must be on the
    platform, and the terms must carry the registration form's data. Each becomes an
    off-platform deal whose contract stands registered under that number and counts from then
    on like any registered contract."""
    await idempotency.claim(caller)
    imported = await imports.import_registrations(session, caller, body.registrations, now=now)
    return await idempotency.remember(
        [ImportedContractOut(deal_id=i.deal_id, registration_number=i.registration_number)
         for i in imported],
        status_code=201,
    )  # fmt: skip


@registrations_router.get(
    "", response_model=list[PendingRegistrationOut], summary="Applications awaiting a decision"
)
async def list_pending_registrations(
    session: Session,
    now: Now,
    caller: RegistrarRead,
    overdue: Annotated[bool, Query(description="Only those past their last day.")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[PendingRegistrationOut]:
    """Platform registrars: the signed contracts whose registration awaits a decision, the
    earliest due first, each with its last day (30 days from the application,
    《技术合同认定登记管理办法》) and whether it is overdue."""
    pending = await registration.pending_registrations(
        session, caller, now=now, overdue_only=overdue, limit=limit
    )
    return [
        PendingRegistrationOut(
            deal_id=p.deal_id,
            registration_number=p.registration_number,
            seller_organization_id=p.seller_organization_id,
            buyer_organization_id=p.buyer_organization_id,
            subject=p.subject,
            applied_at=p.applied_at,
            due_on=p.due_on,
            overdue=registration.overdue(p.applied_at, now),
        )
        for p in pending
    ]


def deal_out(
    deal: Deal, contract_state: ContractState | None, broker_ids: list[uuid.UUID] | None = None
) -> DealOut:
    return DealOut(
        id=deal.id,
        source=deal.source,
        listing_id=deal.listing_id,
        seller_organization_id=deal.seller_organization_id,
        buyer_organization_id=deal.buyer_organization_id,
        price=Money(deal.price_fen) if deal.price_fen is not None else None,
        deposit_applied=Money(deal.deposit_applied_fen),
        opened_at=deal.opened_at,
        contract_state=contract_state,
        broker_ids=broker_ids,
    )


def _signature(user_id: uuid.UUID | None, at: object) -> Signature | None:
    if user_id is None or at is None:
        return None
    return Signature.model_validate({"user_id": user_id, "signed_at": at})


def _version_out(
    version: ContractVersion, outstanding: dict[int, int], effective: bool
) -> ContractVersionOut:
    return ContractVersionOut(
        number=version.number,
        contract_type=version.contract_type,
        subtype=version.subtype,
        subject=version.subject,
        content=version.content,
        technology_field=version.technology_field,
        intellectual_property=[RightOut(**right) for right in version.intellectual_property],
        total=Money(version.total_fen),
        transaction_amount=Money(version.transaction_fen),
        registered_transaction_amount=Money(version.registered_transaction_fen)
        if version.registered_transaction_fen is not None
        else None,
        price_items=[
            PriceItemOut(
                number=int(item["number"]),
                category=item["category"],
                description=item["description"],
                amount=Money(int(item["amount_fen"])),
            )
            for item in version.price_items
        ],
        deductions=[
            DeductionOut(
                item=int(d["item"]), amount=Money(int(d["amount_fen"])), reason=d["reason"]
            )
            for d in version.deductions
        ]
        if version.deductions is not None
        else None,
        starts_on=version.starts_on,
        ends_on=version.ends_on,
        licence_scope=version.licence_scope,
        exclusivity=version.exclusivity,
        milestones=[
            MilestoneOut(
                number=int(m["number"]),
                amount=Money(int(m["amount_fen"])),
                due_on=date.fromisoformat(m["due_on"]),
                description=m.get("description"),
                pays=m.get("pays"),
                outstanding=Money(
                    outstanding.get(int(m["number"]), 0) if effective else int(m["amount_fen"])
                ),
            )
            for m in version.milestones
        ],
        seller_signature=_signature(version.seller_signed_by_id, version.seller_signed_at),
        buyer_signature=_signature(version.buyer_signed_by_id, version.buyer_signed_at),
        registration_form=RegistrationFormOut.model_validate(version.registration_form)
        if version.registration_form is not None
        else None,
        created_at=version.created_at,
    )


def contract_out(view: queries.ContractView) -> ContractOut:
    contract = view.contract
    return ContractOut(
        id=contract.id,
        deal_id=contract.deal_id,
        state=contract.state,
        effective_version=contract.effective_version,
        registration_number=contract.registration_number,
        registered_at=contract.registered_at,
        rejection_reasons=contract.rejection_reasons,
        registration_applied_at=contract.registration_applied_at,
        registration_due_on=registration.registration_due_on(contract.registration_applied_at)
        if contract.registration_applied_at
        and registration.awaits_decision(
            contract, queries.effective_version(contract, view.versions)
        )
        else None,
        terminated_at=contract.terminated_at,
        termination_reason=contract.termination_reason,
        versions=[
            _version_out(v, view.outstanding, v.number == contract.effective_version)
            for v in view.versions
        ],
    )


@router.post(
    "",
    response_model=DealOut,
    status_code=status.HTTP_201_CREATED,
    summary="Open a negotiated or off-platform deal",
    responses=problem_responses(409),
)
async def open_deal(
    session: Session, now: Now, caller: DealWrite, idempotency: IdempotencyOf, body: DealCreate
) -> DealOut:
    """Negotiation (面议): the seller's owner or admin names an intent holder of the closed
    listing and the agreed price. Off-platform: an owner or admin of either party registers a
    deal concluded elsewhere. Deals from fixed-price listings and auctions open by themselves."""
    await idempotency.claim(caller)
    deal = await service.open_agreed_deal(
        session,
        caller,
        source=DealSource(body.source),
        listing_id=body.listing_id,
        seller_organization_id=body.seller_organization_id,
        buyer_organization_id=body.buyer_organization_id,
        price=body.price,
        now=now,
    )
    return await idempotency.remember(deal_out(deal, ContractState.draft), status_code=201)


@router.get("", response_model=Page[DealOut], summary="List your deals")
async def list_deals(session: Session, caller: DealRead, pagination: Pagination) -> Page[DealOut]:
    """Deals your organizations are a party to, newest first (staff: all)."""
    rows, cursor = await service.list_deals(session, caller, pagination)
    return Page(items=[deal_out(deal, state) for deal, state in rows], next_cursor=cursor)


@router.get("/{deal_id}", response_model=DealOut, summary="Get a deal")
async def get_deal(session: Session, caller: DealRead, deal_id: uuid.UUID) -> DealOut:
    """A deal of yours: to anyone else it does not exist."""
    return deal_out(*await service.get_deal_summary(session, caller, deal_id))


@router.put(
    "/{deal_id}/brokers",
    response_model=DealOut,
    summary="Name the deal's brokers",
    responses=problem_responses(409),
)
async def name_brokers(
    session: Session, now: Now, caller: DealWrite, deal_id: uuid.UUID, body: BrokersNamed
) -> DealOut:
    """Either party's owner or admin names the technology brokers (技术经纪人) who helped, until
    the contract is registered; their reward claims start from this list."""
    await service.name_brokers(session, caller, deal_id, body.broker_ids, now=now)
    return deal_out(*await service.get_deal_summary(session, caller, deal_id))


@router.get("/{deal_id}/contract", response_model=ContractOut, summary="Get the contract")
async def get_contract(session: Session, caller: DealRead, deal_id: uuid.UUID) -> ContractOut:
    """Every version of the technology contract, each party's signatures, and what is still
    due on each milestone of the version in force."""
    return contract_out(await service.get_contract_for(session, caller, deal_id))


@router.get(
    "/{deal_id}/registration/certificate.pdf",
    response_class=Response,
    summary="The registration certificate as PDF (技术合同登记证明)",
    responses={
        200: {"content": {"application/pdf": {}}, "description": "技术合同登记证明"},
        **problem_responses(409),
    },
)
async def registration_certificate_pdf(
    session: Session, now: Now, caller: DealRead, deal_id: uuid.UUID
) -> Response:
    """The registered contract's certificate: registration number, parties with their nature
    and region, the total (合同成交额), the declared and the checked (核定) 技术交易额 with each
    deduction and its reason, the registrar and the day. 409 `invalid_state` before
    registration."""
    certificate = await registration.registration_certificate(session, caller, deal_id, now=now)
    return Response(
        render_registration_certificate(certificate, current_locale.get()),
        media_type="application/pdf",
        headers={
            "Content-Disposition": (
                f'inline; filename="certificate-{certificate.registration_number}.pdf"'
            )
        },
    )


@router.get(
    "/{deal_id}/contract.pdf",
    response_class=Response,
    summary="The contract summary as PDF",
    responses={200: {"content": {"application/pdf": {}}, "description": "技术合同摘要"}},
)
async def contract_pdf(
    session: Session, now: Now, caller: DealRead, deal_id: uuid.UUID
) -> Response:
    """The version in force (or the draft) on one A4 page, Chinese font embedded."""
    summary = await service.contract_summary(session, caller, deal_id, now=now)
    return Response(
        render_contract_pdf(summary, current_locale.get()),
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="contract-{deal_id}.pdf"'},
    )


@router.put(
    "/{deal_id}/contract",
    response_model=ContractOut,
    summary="Write the contract's terms",
    responses=problem_responses(409),
)
async def draft_contract(
    session: Session, now: Now, caller: DealWrite, deal_id: uuid.UUID, body: ContractTerms
) -> ContractOut:
    """Either party's owner or admin writes the terms. Before both have signed this replaces
    the draft (and any signature on it); afterwards it starts an amendment."""
    return contract_out(await service.draft_contract(session, caller, deal_id, body, now=now))


@router.post(
    "/{deal_id}/sign",
    response_model=ContractOut,
    summary="Sign the contract for your party",
    responses=problem_responses(409),
)
async def sign_contract(
    session: Session, now: Now, caller: DealWrite, deal_id: uuid.UUID, body: SignatureCreate
) -> ContractOut:
    """An owner or admin signs the named version for their party; with both signatures the
    version takes effect."""
    return contract_out(
        await service.sign_contract(session, caller, deal_id, version=body.version, now=now)
    )


@router.post(
    "/{deal_id}/register",
    response_model=ContractOut,
    summary="Register the contract (认定登记, platform registrars)",
    responses=problem_responses(409),
)
async def register_contract(
    session: Session, now: Now, caller: Registrar, deal_id: uuid.UUID, body: RegistrationDecision
) -> ContractOut:
    """Register a signed contract with the next number of the seller's region and year, or
    refuse it with reasons. An incomplete contract answers 422 `registration_incomplete` with
    `reasons`. The registrar checks (核定) the 技术交易额 against the price list and may deduct
    from its technology lines (each with a reason; 《技术合同认定规则》 第五十一条): the checked
    figure is the one rewards, subsidies, tax filings and statistics count. Only registered
    contracts count for broker rewards and tax filings."""
    return contract_out(
        await registration.decide_registration(
            session,
            caller,
            deal_id,
            register=body.decision == "register",
            reasons=body.reasons,
            deductions=[
                registration.Deduction(d.item, d.amount.fen, d.reason) for d in body.deductions
            ],
            now=now,
        )
    )


@router.post(
    "/{deal_id}/terminate",
    response_model=ContractOut,
    summary="Record the contract's termination (platform registrars)",
    responses=problem_responses(409),
)
async def terminate_contract(
    session: Session, now: Now, caller: Registrar, deal_id: uuid.UUID, body: Termination
) -> ContractOut:
    """On the parties' joint request or a ruling, with the reason. Money received stays with the
    deal until refunded (`POST /v1/payments/{id}/refund`) or paid out."""
    return contract_out(
        await registration.terminate_contract(session, caller, deal_id, reason=body.reason, now=now)
    )


def income_out(view: transformation_income.IncomeView) -> IncomeOut:
    income = view.income
    return IncomeOut(
        id=income.id,
        payment_id=income.payment_id,
        income=Money(income.income_fen),
        costs=Money(income.costs_fen),
        related_taxes=Money(income.related_taxes_fen),
        net_income=Money(income.income_fen - income.costs_fen - income.related_taxes_fen),
        reward_percent=income.reward_percent,
        pool=Money(income.pool_fen),
        rewards=[
            InventorRewardOut(
                inventor_id=reward.inventor_id,
                name=reward.inventor_name,
                share=reward.share,
                amount=Money(reward.amount_fen),
            )
            for reward in view.rewards
        ],
        rewards_published_on=income.rewards_published_on,
        declared_at=income.declared_at,
    )


@router.post(
    "/{deal_id}/inventor-shares",
    response_model=IncomeOut,
    status_code=status.HTTP_201_CREATED,
    summary="Declare a payment's net income and reward the inventors (科技成果转化奖励)",
    responses=problem_responses(409),
)
async def declare_income(
    session: Session,
    now: Now,
    caller: DealWrite,
    idempotency: IdempotencyOf,
    deal_id: uuid.UUID,
    body: IncomeDeclaration,
) -> IncomeOut:
    """A university or institute seller's owner or admin declares the costs against a received
    payment; the inventors' part of the net income (the organization's rate, at least 50 %) is
    split by their shares and recorded for the researchers' income-tax relief."""
    await idempotency.claim(caller)
    view = await transformation_income.declare_transformation_income(
        session,
        caller,
        deal_id,
        payment_id=body.payment_id,
        costs=body.costs,
        related_taxes=body.related_taxes or Money(0),
        published_on=body.rewards_published_on,
        now=now,
    )
    return await idempotency.remember(income_out(view), status_code=201)


@router.get(
    "/{deal_id}/inventor-shares",
    response_model=list[IncomeOut],
    summary="Declared incomes and inventors' rewards",
)
async def list_incomes(session: Session, caller: DealRead, deal_id: uuid.UUID) -> list[IncomeOut]:
    """The seller's declarations on the deal (the buyer does not see them)."""
    return [
        income_out(view)
        for view in await transformation_income.list_transformation_incomes(
            session, caller, deal_id
        )
    ]
