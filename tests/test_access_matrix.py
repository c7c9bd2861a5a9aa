"""Authorization matrix over every route the app has.

A member of organization B gets 404 for organization A's private objects; a member of A
without the needed role gets 403; a caller without credentials gets 401. A route added to the
app without a row here fails `test_every_route_is_in_the_matrix`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from app.accounts.models import BrokerStatus, OrganizationKind
from app.brokers.models import BrokerRole, Claim, ClaimKind, ClaimState
from app.challenges.models import Challenge, ChallengeState, Proposal, ProposalState
from app.core.auth import MemberRole
from app.core.money import Money
from app.deals import service as deals
from app.deals.models import DealSource
from app.demands.models import Demand, DemandState, SavedSearch
from app.listings.models import ListingState
from app.payments.models import Payment
from app.tax.models import Filing, FilingKind, FilingState
from app.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import RESULT_BODY, MarketFactory, Person

PUBLIC = {
    ("POST", "/v1/auth/token"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/revoke"),
    ("POST", "/v1/users"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("GET", "/v1/taxonomy/fields"),
    ("GET", "/v1/search/listings"),
    ("GET", "/v1/search/challenges"),
    ("GET", "/v1/stats/indicators"),  # public aggregates; staff see more (tests/stats)
    ("POST", "/v1/payments/stripe/webhook"),  # authenticated by Stripe's signature
}
"""Routes open to anyone. Public in part: `GET /v1/listings/{listing_id}` answers a listing on
the market to anyone (a public notice, 公示; tests/listings/test_public_listing.py) and 404 for
anything else; its case below says `anonymous=404`."""


@dataclass(frozen=True)
class Case:
    """One route. `outsider`: what B's owner gets on A's object; `member`: what A's plain
    member gets (None where the route has no such object or role rule)."""

    method: str
    path: str
    body: dict[str, Any] | None = None
    outsider: int | None = None
    member: int | None = None
    upload: bool = False
    anonymous: int = 401
    """What a caller without credentials gets: 401, or 404 on a route whose public part is open
    to anyone (a draft is nobody's public notice)."""


TERMS = {
    "mode": "fixed_price",
    "transfer_type": "assignment",
    "price": {"amount": "100000", "currency": "CNY"},
    "window_days": 15,
}
IMPORTED = {
    "registration_number": "2026150203000041",
    "registered_on": "2026-10-09",
    "signed_on": "2026-09-28",
    "seller_credit_code": "91150100MA0N000000",
    "buyer_credit_code": "91150100MA0N000000",
    "contract_type": "transfer",
    "subtype": "technical_secret",
    "subject": "稀土抛光粉制备技术转让",
    "technology_field": "new_materials",
    "total": {"amount": "300000", "currency": "CNY"},
    "transaction_amount": {"amount": "300000", "currency": "CNY"},
    "starts_on": "2026-09-28",
    "ends_on": "2027-09-27",
}
CHALLENGE = {
    "problem": "风电叶片冬季结冰导致停机，需在零下三十度保持叶片无冰运行。",
    "indicators": [{"name": "除冰时间", "target": "≤ 30 分钟"}],
    "prize": {"amount": "100000", "currency": "CNY"},
    "proposals_due_at": "2027-03-31T16:00:00Z",
}
PROPOSAL = {
    "approach": "采用电热膜与疏冰涂层复合方案，在叶片前缘分区加热，按需启停。",
    "team": [{"name": "张教授", "role": "项目负责人"}],
    "schedule": "样机六个月。",
    "milestones": [
        {
            "description": "样机",
            "due_on": "2027-09-30",
            "amount": {"amount": "1", "currency": "CNY"},
        }
    ],
    "price": {"amount": "1", "currency": "CNY"},
}
SCORES = {
    "scores": {
        "technical_indicators": "30",
        "research_basis": "20",
        "industrial_impact": "15",
        "price": "10",
    },
    "no_conflict": True,
}
DEMAND = {
    "title": "寻求稀土抛光粉技术",
    "description": "需要高性能稀土抛光粉的制备技术与工艺包。",
    "field_code": "new_materials",
    "division_code": "150203",
}
CONTRACT = {
    "contract_type": "transfer",
    "subtype": "technical_secret",
    "technology_field": "new_materials",
    "subject": "稀土抛光粉制备技术转让",
    "total": {"amount": "100000", "currency": "CNY"},
    "transaction_amount": {"amount": "100000", "currency": "CNY"},
    "starts_on": "2026-11-10",
    "ends_on": "2027-11-09",
    "milestones": [{"amount": {"amount": "100000", "currency": "CNY"}, "due_on": "2027-01-01"}],
}
UPLOAD = {
    "file": (
        "r.csv",
        ",".join(RESULT_BODY).encode() + b"\n" + ",".join(map(str, RESULT_BODY.values())).encode(),
    )
}

CASES = [
    Case("GET", "/v1/me"),
    Case("PUT", "/v1/users/{owner}/platform-roles", {"roles": ["admin"]}, 403, 403),
    Case("POST", "/v1/me/totp", {}),
    Case("POST", "/v1/me/totp/confirm", {"code": "123456"}),
    Case("DELETE", "/v1/users/{owner}/totp", None, 403, 403),
    Case("POST", "/v1/organizations", None),
    Case("GET", "/v1/organizations"),
    Case("GET", "/v1/organizations/{org}", None, 404, 200),
    Case("PATCH", "/v1/organizations/{org}", {"name": "改名"}, 404, 403),
    Case("POST", "/v1/organizations/{org}/verify", {"decision": "verify"}, 403, 403),
    Case("POST", "/v1/organizations/{org}/agency-recognitions", {"valid_from": "2026-01-01", "valid_until": "2026-12-31"}, 403, 403),
    Case("GET", "/v1/organizations/{org}/agency-recognitions", None, 404, 200),
    Case("GET", "/v1/organizations/{org}/agency-indicators?year=2026", None, 404, 422),
    Case("PUT", "/v1/organizations/{org}/agency-evaluations/{year}", {"scores": {"reputation": "5"}}, 403, 403),
    Case("GET", "/v1/organizations/{org}/agency-evaluations/{year}", None, 404, 422),
    Case("GET", "/v1/agency-score-sheet", None, 200, 200),
    Case("GET", "/v1/organizations/{org}/members", None, 404, 200),
    Case("POST", "/v1/organizations/{org}/members", {"email": "{outsider_email}"}, 404, 403),
    Case("PATCH", "/v1/organizations/{org}/members/{admin}", {"role": "member"}, 404, 403),
    Case("DELETE", "/v1/organizations/{org}/members/{admin}", None, 404, 403),
    Case("POST", "/v1/api-keys", {"organization_id": "{org}", "name": "k", "scopes": ["listings:read"]}, 404, 403),
    Case("GET", "/v1/api-keys?organization_id={org}", None, 404, 403),
    Case("DELETE", "/v1/api-keys/{key}", None, 404, 403),
    Case("POST", "/v1/brokers", None),
    Case("GET", "/v1/brokers"),
    Case("GET", "/v1/brokers/{broker}", None, 404, None),
    Case("PATCH", "/v1/brokers/{broker}", {"level": "senior"}, 404, None),
    Case("POST", "/v1/brokers/{broker}/status", {"status": "active"}, 403, 403),
    Case("POST", "/v1/results", {**RESULT_BODY, "organization_id": "{org}"}, 404, None),
    Case("GET", "/v1/results"),
    Case("GET", "/v1/results/{result}", None, 404, 200),
    Case("PUT", "/v1/results/{result}", RESULT_BODY, 404, None),
    Case("POST", "/v1/results/import", {"organization_id": "{org}", "mode": "valid_rows"}, 404, None, upload=True),
    Case("POST", "/v1/listings", {**TERMS, "result_id": "{spare_result}"}, 404, 403),
    Case("GET", "/v1/listings"),
    Case("GET", "/v1/listings/{draft}", None, 404, 200, anonymous=404),
    Case("PUT", "/v1/listings/{draft}", TERMS, 404, 403),
    Case("GET", "/v1/listings/{draft}/transitions", None, 404, 200),
    Case("POST", "/v1/listings/{draft}/submit", None, 404, 403),
    Case("POST", "/v1/listings/{pending}/approve", None, 403, 403),
    Case("POST", "/v1/listings/{pending}/reject", {"reason": "x"}, 403, 403),
    Case("POST", "/v1/listings/{draft}/withdraw", {}, 404, 403),
    Case("POST", "/v1/listings/{draft}/intents", {}, 404, None),
    Case("GET", "/v1/listings/{draft}/intents", None, 404, 200),
    Case("POST", "/v1/demands", {**DEMAND, "organization_id": "{org}"}, 404, None),
    Case("GET", "/v1/demands"),
    Case("GET", "/v1/demands/{demand}", None, 404, 200),
    Case("GET", "/v1/demands/{demand}/matches", None, 404, 200),
    # A challenge awaiting screening is its owner's and the reviewers'.
    Case("POST", "/v1/challenges", None),
    Case("GET", "/v1/challenges"),
    Case("GET", "/v1/challenges/{challenge}", None, 404, 200),
    Case("PUT", "/v1/challenges/{challenge}", CHALLENGE, 404, 403),
    Case("POST", "/v1/challenges/{challenge}/approve", {"window_days": 5}, 403, 403),
    Case("POST", "/v1/challenges/{challenge}/reject", {"reasons": ["x"]}, 403, 403),
    # A proposal is its submitter's (the challenge's owner sees it after the deadline only).
    Case("POST", "/v1/challenges/{challenge}/proposals", PROPOSAL, 404, 409),
    Case("GET", "/v1/challenges/{challenge}/proposals", None, 404, 200),
    Case("GET", "/v1/proposals/{proposal}", None, 404, 200),
    Case("PUT", "/v1/proposals/{proposal}", PROPOSAL, 404, 403),
    Case("POST", "/v1/proposals/{proposal}/withdraw", None, 404, 403),
    # Experts are named by reviewers; only they score, and the ranking waits for every score.
    Case("POST", "/v1/challenges/{challenge}/experts", {"user_id": "{owner}"}, 403, 403),
    Case("GET", "/v1/challenges/{challenge}/ranking", None, 404, 409),
    Case("POST", "/v1/proposals/{proposal}/scores", SCORES, 404, 404),
    Case("GET", "/v1/proposal-score-sheet", None, 200, 200),
    # The award is the owner's to make; objections are the objector's, the owner's and staff's.
    Case("POST", "/v1/challenges/{challenge}/award", {"proposal_id": None, "reason": "x"}, 404, 403),
    Case("GET", "/v1/challenges/{challenge}/award", None, 404, 404),
    Case("POST", "/v1/challenges/{challenge}/objections", {"grounds": "x"}, 404, 409),
    Case("GET", "/v1/challenges/{challenge}/objections", None, 404, 200),
    Case("POST", "/v1/challenges/{challenge}/objections/{objection}/resolve", {"upheld": False, "resolution": "x"}, 403, 403),
    Case("POST", "/v1/saved-searches", {"name": "x"}),
    Case("GET", "/v1/saved-searches"),
    Case("DELETE", "/v1/saved-searches/{saved}", None, 404, 404),
    # Auctions are public once their listing was published; changing them is the seller's
    # managers' and staff's (403 to others, the object being visible).
    Case("GET", "/v1/auctions"),
    Case("GET", "/v1/auctions/{auction}", None, 200, 200),
    Case("PATCH", "/v1/auctions/{auction}", {"deposit": {"amount": "1", "currency": "CNY"}}, 403, 403),
    Case("POST", "/v1/auctions/{auction}/cancel", {"reason": "x"}, 403, 403),
    Case("POST", "/v1/auctions/{auction}/deposits", {}),
    Case("GET", "/v1/auctions/{auction}/deposits", None, 200, 200),
    Case("POST", "/v1/auctions/{auction}/deposits/{deposit}/confirm", None, 403, 403),
    Case("POST", "/v1/auctions/{auction}/bids", {"amount": {"amount": "100000", "currency": "CNY"}}, 409, 409),
    Case("GET", "/v1/auctions/{auction}/bids", None, 200, 200),
    Case("POST", "/v1/auctions/{auction}/proxy-bids", {"maximum": {"amount": "100000", "currency": "CNY"}}, 409, 409),
    Case("GET", "/v1/auctions/{auction}/proxy-bids", None, 200, 200),
    # The world's auction takes open bids: a sealed bid is refused as such, to anyone.
    Case("POST", "/v1/auctions/{auction}/sealed-bids", {"amount": {"amount": "100000", "currency": "CNY"}}, 409, 409),
    Case("GET", "/v1/auctions/{auction}/sealed-bids", None, 200, 200),
    Case("GET", "/v1/auctions/{auction}/events"),
    # Deals are private to their two parties: 404 to everyone else.
    Case("POST", "/v1/deals", None),
    Case("GET", "/v1/deals"),
    Case("GET", "/v1/deals/{deal}", None, 404, 200),
    Case("GET", "/v1/deals/{deal}/contract", None, 404, 200),
    Case("GET", "/v1/deals/{deal}/contract.pdf", None, 404, 409),
    Case("GET", "/v1/deals/{deal}/registration/certificate.pdf", None, 404, 409),
    Case("GET", "/v1/deals/{deal}/tax-evidence?year=2026", None, 404, 409),
    Case("PUT", "/v1/deals/{deal}/contract", CONTRACT, 404, 403),
    Case("POST", "/v1/deals/{deal}/sign", {"version": 1}, 404, 403),
    Case("POST", "/v1/deals/{deal}/register", {"decision": "register"}, 403, 403),
    Case("GET", "/v1/registrations?overdue=true", None, 403, 403),
    Case("POST", "/v1/registrations/imports", {"registrations": [IMPORTED]}, 403, 403),
    Case("POST", "/v1/deals/{deal}/payments", {"milestone": 1}, 404, 403),
    Case("GET", "/v1/deals/{deal}/payments", None, 404, 200),
    Case("POST", "/v1/payments/{payment}/confirm", None, 403, 403),
    Case("POST", "/v1/payments/{payment}/refund", {"reason": "x"}, 403, 403),
    Case("POST", "/v1/deals/{deal}/terminate", {"reason": "x"}, 403, 403),
    Case("PUT", "/v1/deals/{deal}/brokers", {"broker_ids": []}, 404, 403),
    # Claims are seen by the claimant, both parties and staff.
    Case("GET", "/v1/reward-policies"),
    Case("POST", "/v1/broker-claims", None),
    Case("GET", "/v1/broker-claims"),
    Case("GET", "/v1/broker-claims/{claim}", None, 404, 200),
    Case("POST", "/v1/broker-claims/{claim}/confirm", None, 404, 403),
    Case("POST", "/v1/broker-claims/{claim}/dispute", {"reason": "x"}, 404, 403),
    Case("POST", "/v1/broker-claims/{claim}/approve", None, 403, 403),
    Case("POST", "/v1/broker-claims/{claim}/reject", {"reason": "x"}, 403, 403),
    Case("PUT", "/v1/broker-claims/{claim}/broker-shares", {"shares": {}}, 404, 422),
    Case("GET", "/v1/rewards"),
    Case("GET", "/v1/rewards/year-to-date?year=2026"),
    Case("POST", "/v1/payouts", {"period": "2026-11"}, 403, 403),
    Case("GET", "/v1/payouts"),
    Case("GET", "/v1/tax/policies"),
    Case("POST", "/v1/tax/filings", None),
    Case("GET", "/v1/tax/filings"),
    Case("GET", "/v1/tax/filings/{filing}", None, 404, 200),
    Case("POST", "/v1/tax/filings/{filing}/submit", None, 404, 403),
    Case("POST", "/v1/tax/filings/{filing}/decision", {"decision": "accepted"}, 403, 403),
    Case(
        "POST",
        "/v1/webhook-endpoints",
        {
            "url": "https://hooks.example.cn/x",
            "event_types": ["listing.published"],
            "organization_id": "{org}",
        },
        404,
        403,
    ),
    Case("GET", "/v1/webhook-endpoints"),
    # The audit trail: an organization's owners read its events; platform admins all.
    Case("GET", "/v1/audit-events?organization_id={org}", None, 404, 403),
    Case("GET", "/v1/webhook-endpoints/{endpoint}", None, 404, 200),
    Case("PATCH", "/v1/webhook-endpoints/{endpoint}", {"description": "x"}, 404, 403),
    Case("DELETE", "/v1/webhook-endpoints/{endpoint}", None, 404, 403),
    Case("POST", "/v1/webhook-endpoints/{endpoint}/rotate-secret", {}, 404, 403),
    Case("GET", "/v1/webhook-endpoints/{endpoint}/deliveries", None, 404, 200),
    Case("GET", "/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}", None, 404, 200),
    Case(
        "POST", "/v1/webhook-endpoints/{endpoint}/deliveries/{delivery}/replay", None, 404, 403
    ),
    Case("POST", "/v1/deals/{deal}/payouts", None, 403, 403),
    Case("POST", "/v1/deals/{deal}/inventor-shares", {"payment_id": "{payment}", "costs": {"amount": "0", "currency": "CNY"}}, 404, 403),
    Case("GET", "/v1/deals/{deal}/inventor-shares", None, 404, 200),
]  # fmt: skip


@dataclass
class World:
    ids: dict[str, str]
    outsider: Person
    member: Person

    def render(self, text: str) -> str:
        return text.format(**self.ids)

    def body(self, case: Case) -> dict[str, Any] | None:
        if case.body is None:
            return None
        return {k: self.render(v) if isinstance(v, str) else v for k, v in case.body.items()}

    async def call(
        self, client: httpx.AsyncClient, case: Case, person: Person | None
    ) -> httpx.Response:
        headers = person.headers if person else {}
        if case.upload:
            return await client.request(
                case.method,
                self.render(case.path),
                data=self.body(case),
                files=UPLOAD,
                headers=headers,
            )
        return await client.request(
            case.method, self.render(case.path), json=self.body(case), headers=headers
        )


@pytest.fixture
async def world(factory: MarketFactory, client: httpx.AsyncClient) -> World:
    # Pending organizations are private to their members.
    a = await factory.organization(OrganizationKind.university, verified=False)
    b = await factory.organization(OrganizationKind.enterprise, verified=False)
    owner = await factory.person(a, MemberRole.owner)
    admin = await factory.person(a, MemberRole.admin)
    member = await factory.person(a, MemberRole.member)
    outsider = await factory.person(b, MemberRole.owner)
    key = await client.post(
        "/v1/api-keys",
        json={"organization_id": str(a.id), "name": "a-app", "scopes": ["listings:read"]},
        headers=owner.headers,
    )
    broker = await factory.broker(admin, status=BrokerStatus.pending)
    result = await factory.result(a)
    spare_result = await factory.result(a)
    draft = await factory.listing(a, state=ListingState.draft, result=result)
    pending = await factory.listing(a, state=ListingState.pending_review)
    demand, saved = await _closed_demand_and_saved_search(factory, a, owner)
    challenge = await _pending_challenge(factory, demand)
    proposal = await _proposal_elsewhere(factory, a)
    auction = await factory.auction(a)
    deposit = await factory.deposit(auction, await factory.organization(), held=False)
    deal, payment = await _deal_with_a_payment(factory, a)
    claim = await _pending_claim(factory, deal, broker.id)
    filing = await _filing(factory, a)
    endpoint, delivery = await _endpoint_with_a_delivery(factory, a)
    return World(
        ids={
            "org": str(a.id),
            "year": "2026",
            "owner": str(owner.user_id),
            "admin": str(admin.user_id),
            "key": key.json()["id"],
            "broker": str(broker.id),
            "outsider_email": outsider.email,
            "result": str(result.id),
            "spare_result": str(spare_result.id),
            "draft": str(draft.id),
            "pending": str(pending.id),
            "demand": str(demand.id),
            "saved": str(saved.id),
            "challenge": str(challenge.id),
            "proposal": str(proposal.id),
            "objection": str(uuid.uuid4()),
            "auction": str(auction.id),
            "deposit": str(deposit.id),
            "deal": str(deal),
            "payment": str(payment),
            "claim": str(claim),
            "filing": str(filing),
            "endpoint": str(endpoint),
            "delivery": str(delivery),
        },
        outsider=outsider,
        member=member,
    )


async def _closed_demand_and_saved_search(
    factory: MarketFactory, organization: Any, owner: Person
) -> tuple[Demand, SavedSearch]:
    """A closed demand (private to its organization) and the owner's saved search."""
    async with factory.sessionmaker() as session, session.begin():
        demand = Demand(
            organization_id=organization.id,
            title="内部需求",
            description="尚未公开的技术需求描述。",
            field_code="new_energy",
            division_code="150102",
            state=DemandState.closed,
        )
        saved = SavedSearch(user_id=owner.user_id, name="mine", query="稀土", filters={})
        session.add_all([demand, saved])
    return demand, saved


async def _pending_challenge(factory: MarketFactory, demand: Demand) -> Challenge:
    """A challenge made of the world's demand, awaiting the reviewers' screening."""
    async with factory.sessionmaker() as session, session.begin():
        challenge = Challenge(
            demand_id=demand.id,
            organization_id=demand.organization_id,
            title=demand.title,
            problem="尚待审核的揭榜任务描述，至少二十个字符长。",
            indicators=[{"name": "效率", "target": "≥ 90%"}],
            field_code=demand.field_code,
            prize_fen=10_000_000,
            proposals_due_at=factory.clock.now() + timedelta(days=90),
            open_beyond_region=True,
            attachments=[],
            state=ChallengeState.pending_review,
            submitted_at=factory.clock.now(),
        )
        session.add(challenge)
    return challenge


async def _proposal_elsewhere(factory: MarketFactory, organization: Any) -> Proposal:
    """The world's organization's proposal to another enterprise's published challenge."""
    owner = await factory.organization(OrganizationKind.enterprise)
    async with factory.sessionmaker() as session, session.begin():
        demand = Demand(
            organization_id=owner.id,
            title="公开需求",
            description="已发榜的技术需求描述。",
            field_code="new_energy",
            division_code="150102",
            state=DemandState.open,
        )
        session.add(demand)
        await session.flush()
        now = factory.clock.now()
        challenge = Challenge(
            demand_id=demand.id,
            organization_id=owner.id,
            title=demand.title,
            problem="已发榜的揭榜任务描述，至少二十个字符长。",
            indicators=[{"name": "效率", "target": "≥ 90%"}],
            field_code=demand.field_code,
            prize_fen=10_000_000,
            proposals_due_at=now + timedelta(days=90),
            open_beyond_region=True,
            attachments=[],
            state=ChallengeState.published,
            submitted_at=now,
            published_at=now,
            window_days=5,
        )
        session.add(challenge)
        await session.flush()
        proposal = Proposal(
            challenge_id=challenge.id,
            organization_id=organization.id,
            approach="采用电热膜与疏冰涂层复合方案。",
            team=[{"name": "张教授", "role": "负责人"}],
            schedule="六个月。",
            milestones=[{"description": "样机", "due_on": "2027-09-30", "amount_fen": 100}],
            price_fen=100,
            result_ids=[],
            state=ProposalState.submitted,
            submitted_at=now,
        )
        session.add(proposal)
    return proposal


async def _deal_with_a_payment(factory: MarketFactory, seller: Any) -> tuple[Any, Any]:
    """A deal of the world's organization (the seller) and a pending payment on it."""
    buyer = await factory.organization()
    async with factory.sessionmaker() as session, session.begin():
        deal = await deals.open_deal(
            session,
            source=DealSource.off_platform,
            listing_id=None,
            seller_organization_id=seller.id,
            buyer_organization_id=buyer.id,
            price=Money(10_000_000),
            now=factory.clock.now(),
        )
        payment = Payment(
            deal_id=deal.id,
            milestone=1,
            payer_organization_id=buyer.id,
            amount_fen=10_000_000,
            provider="offline",
            provider_reference="HTK-MATRIX",
            instructions={},
            created_at=factory.clock.now(),
        )
        session.add(payment)
    return deal.id, payment.id


async def _pending_claim(factory: MarketFactory, deal_id: Any, broker_id: Any) -> Any:
    async with factory.sessionmaker() as session, session.begin():
        claim = Claim(
            deal_id=deal_id,
            kind=ClaimKind.broker,
            policy_code="nm-broker-commission-example",
            policy_year=2026,
            broker_id=broker_id,
            role=BrokerRole.matching,
            share_percent=Decimal(10),
            state=ClaimState.pending,
            filed_at=factory.clock.now(),
        )
        session.add(claim)
    return claim.id


async def _endpoint_with_a_delivery(factory: MarketFactory, organization: Any) -> tuple[Any, Any]:
    async with factory.sessionmaker() as session, session.begin():
        endpoint = WebhookEndpoint(
            id=uuid.uuid4(),
            organization_id=organization.id,
            url="https://hooks.example.cn/a",
            event_types=["deal.opened"],
            secret="whsec_matrix",
            created_at=factory.clock.now(),
        )
        delivery = WebhookDelivery(
            id=uuid.uuid4(),
            endpoint_id=endpoint.id,
            event_id=uuid.uuid4(),
            event_type="deal.opened",
            body={},
            created_at=factory.clock.now(),
        )
        session.add(endpoint)
        await session.flush()
        session.add(delivery)
    return endpoint.id, delivery.id


async def _filing(factory: MarketFactory, taxpayer: Any) -> Any:
    async with factory.sessionmaker() as session, session.begin():
        filing = Filing(
            taxpayer_organization_id=taxpayer.id,
            kind=FilingKind.vat_exemption,
            period="2026-10",
            version=1,
            state=FilingState.ready,
            content={},
            content_sha256="0" * 64,
            rule_set_version=1,
            computed_at=factory.clock.now(),
        )
        session.add(filing)
    return filing.id


def _route_keys(app: FastAPI) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }


def test_every_route_is_in_the_matrix(app: FastAPI) -> None:
    covered = {(case.method, case.path.split("?")[0]) for case in CASES} | PUBLIC
    names = {
        (method, path.replace("{org}", "{organization_id}").replace("{admin}", "{user_id}")
         .replace("{owner}", "{user_id}").replace("{key}", "{key_id}").replace("{broker}", "{broker_id}")
         .replace("{result}", "{result_id}").replace("{draft}", "{listing_id}")
         .replace("{pending}", "{listing_id}").replace("{demand}", "{demand_id}")
         .replace("{saved}", "{saved_search_id}").replace("{auction}", "{auction_id}")
         .replace("{deposit}", "{deposit_id}").replace("{deal}", "{deal_id}")
         .replace("{payment}", "{payment_id}").replace("{claim}", "{claim_id}")
         .replace("{filing}", "{filing_id}").replace("{endpoint}", "{endpoint_id}")
         .replace("{delivery}", "{delivery_id}").replace("{challenge}", "{challenge_id}")
         .replace("{proposal}", "{proposal_id}").replace("{objection}", "{objection_id}"))
        for method, path in covered
    }  # fmt: skip
    assert _route_keys(app) == names


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.method} {c.path}")
async def test_no_credentials_is_401(client: httpx.AsyncClient, world: World, case: Case) -> None:
    response = await world.call(client, case, None)

    assert response.status_code == case.anonymous
    if case.anonymous == 401:
        assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.outsider is not None], ids=lambda c: f"{c.method} {c.path}"
)
async def test_another_organization_cannot_reach_it(
    client: httpx.AsyncClient, world: World, case: Case
) -> None:
    response = await world.call(client, case, world.outsider)

    assert response.status_code == case.outsider, response.text


@pytest.mark.parametrize(
    "case", [c for c in CASES if c.member is not None], ids=lambda c: f"{c.method} {c.path}"
)
async def test_a_member_without_the_role(
    client: httpx.AsyncClient, world: World, case: Case
) -> None:
    response = await world.call(client, case, world.member)

    assert response.status_code == case.member, response.text


async def test_lists_hide_other_organizations_private_objects(
    client: httpx.AsyncClient, world: World
) -> None:
    organizations = await client.get("/v1/organizations", headers=world.outsider.headers)
    brokers = await client.get("/v1/brokers", headers=world.outsider.headers)
    results = await client.get("/v1/results", headers=world.outsider.headers)
    listings = await client.get("/v1/listings", headers=world.outsider.headers)

    assert world.ids["org"] not in organizations.text
    assert world.ids["broker"] not in brokers.text
    assert world.ids["result"] not in results.text
    assert world.ids["draft"] not in listings.text
    assert world.ids["pending"] not in listings.text
