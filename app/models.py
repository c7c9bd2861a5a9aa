"""Every table, imported in one place for Alembic and for tests."""

from app.accounts.models import (
    AgencyRecognition,
    ApiKey,
    BrokerProfile,
    Membership,
    Organization,
    PlatformRoleGrant,
    RecoveryCode,
    RefreshToken,
    SignInFailure,
    TotpFactor,
    User,
)
from app.auctions.models import (
    Auction,
    AuctionEvent,
    Bid,
    Deposit,
    EligibleBidder,
    ProxyBid,
    SealedBid,
)
from app.brokers.models import AgencyEvaluation, Claim, RewardEntry, RewardPayout
from app.challenges.models import Challenge, ChallengeExpert, Proposal, ProposalScore
from app.core.audit import AuditEvent
from app.core.idempotency import IdempotencyKey
from app.core.outbox import OutboxEvent
from app.core.ratelimit import RateLimitCounter
from app.deals.models import Contract, ContractVersion, Deal, RegistrationCounter
from app.demands.models import Demand, SavedSearch
from app.listings.models import Intent, Listing, ListingTransition
from app.payments.models import LedgerEntry, Payment, Payout
from app.results.models import Inventor, Result
from app.sandbox.models import SandboxClockSetting
from app.tax.models import Filing
from app.webhooks.models import DeliveryAttempt, WebhookDelivery, WebhookEndpoint
from search.models import IndexedListing

__all__ = [
    "AgencyEvaluation",
    "AgencyRecognition",
    "ApiKey",
    "Auction",
    "AuctionEvent",
    "AuditEvent",
    "Bid",
    "BrokerProfile",
    "Challenge",
    "ChallengeExpert",
    "Claim",
    "Contract",
    "ContractVersion",
    "Deal",
    "DeliveryAttempt",
    "Demand",
    "Deposit",
    "EligibleBidder",
    "Filing",
    "IdempotencyKey",
    "IndexedListing",
    "Intent",
    "Inventor",
    "LedgerEntry",
    "Listing",
    "ListingTransition",
    "Membership",
    "Organization",
    "OutboxEvent",
    "Payment",
    "Payout",
    "PlatformRoleGrant",
    "Proposal",
    "ProposalScore",
    "ProxyBid",
    "RateLimitCounter",
    "RecoveryCode",
    "RefreshToken",
    "RegistrationCounter",
    "Result",
    "RewardEntry",
    "RewardPayout",
    "SandboxClockSetting",
    "SavedSearch",
    "SealedBid",
    "SignInFailure",
    "TotpFactor",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
]
