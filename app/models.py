"""Every table, imported in one place for Alembic and for tests."""

from app.accounts.models import (
    ApiKey,
    BrokerProfile,
    Membership,
    Organization,
    PlatformRoleGrant,
    RefreshToken,
    User,
)
from app.auctions.models import Auction, EligibleBidder
from app.core.outbox import OutboxEvent
from app.deals.models import Deal
from app.demands.models import Demand, SavedSearch
from app.listings.models import Intent, Listing, ListingTransition
from app.results.models import Inventor, Result
from search.models import IndexedListing

__all__ = [
    "ApiKey",
    "Auction",
    "BrokerProfile",
    "Deal",
    "Demand",
    "EligibleBidder",
    "IndexedListing",
    "Intent",
    "Inventor",
    "Listing",
    "ListingTransition",
    "Membership",
    "Organization",
    "OutboxEvent",
    "PlatformRoleGrant",
    "RefreshToken",
    "Result",
    "SavedSearch",
    "User",
]
