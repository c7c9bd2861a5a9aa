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
from app.core.outbox import OutboxEvent

__all__ = [
    "ApiKey",
    "BrokerProfile",
    "Membership",
    "Organization",
    "OutboxEvent",
    "PlatformRoleGrant",
    "RefreshToken",
    "User",
]
