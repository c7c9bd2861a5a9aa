"""The listing state machine."""

from __future__ import annotations

from app.listings.models import ListingState

S = ListingState

TRANSITIONS: dict[ListingState, frozenset[ListingState]] = {
    S.draft: frozenset({S.pending_review, S.withdrawn}),
    S.pending_review: frozenset({S.published, S.rejected, S.withdrawn}),
    S.rejected: frozenset({S.pending_review, S.withdrawn}),
    S.published: frozenset({S.closed, S.withdrawn}),
    S.closed: frozenset(),
    S.withdrawn: frozenset(),
}

EDITABLE = frozenset({S.draft, S.rejected})
"""States in which the owner may still change the terms."""

PUBLIC = frozenset({S.published, S.closed})
"""States anyone may see; the others are the owner's (and the platform's)."""

ON_MARKET = frozenset({S.pending_review, S.published})
"""States in which the result behind the listing must not change."""


def can_move(current: ListingState, target: ListingState) -> bool:
    return target in TRANSITIONS[current]
