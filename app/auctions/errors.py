"""The refusals of the auctions package: closed or not yet open, a deposit missing, a bid too
low or from the leader (problem+json codes, localized in `app/core/i18n.py`)."""

from __future__ import annotations

from app.core.errors import (
    DomainError,
    FieldError,
)
from app.core.money import Money


class AuctionClosed(DomainError):
    status, code = 409, "auction_closed"
    detail_code = "detail.auction_closed"


class AuctionNotOpen(DomainError):
    status, code = 409, "auction_not_open"
    detail_code = "detail.auction_not_open"


class DepositRequired(DomainError):
    status, code = 409, "deposit_required"
    detail_code = "detail.deposit_required"


class NotSealed(DomainError):
    """A sealed bid on an auction of open ascending bids."""

    status, code = 409, "auction_not_sealed"
    detail_code = "detail.auction_not_sealed"


class Sealed(DomainError):
    """An open bid or a proxy on a sealed single-round auction (一次性报价)."""

    status, code = 409, "auction_sealed"
    detail_code = "detail.auction_sealed"


class AlreadyLeading(DomainError):
    status, code = 409, "already_leading"
    detail_code = "detail.already_leading"


class BidTooLow(DomainError):
    """The amount is below what the rules accept now; `minimum` is the least that is."""

    status, code = 409, "bid_too_low"
    detail_code = "detail.bid_too_low"

    def __init__(self, minimum: Money, *, field_name: str = "body.amount") -> None:
        # Most bids on a hot auction end here: the amount written once, for all three places.
        shown = minimum.to_api()
        super().__init__(
            errors=[FieldError(field_name, "bid_too_low", {"minimum": shown["amount"]})],
            extensions={"minimum": shown},
            minimum=shown["amount"],
        )


class BidOffGrid(DomainError):
    """The amount is not a whole number of increments above the grid's base (加价幅度的正整数倍);
    the nearest acceptable amounts are named (`below` is absent when it is under the minimum)."""

    status, code = 422, "validation_failed"

    def __init__(self, below: Money | None, above: Money) -> None:
        nearest = [amount for amount in (below, above) if amount is not None]
        super().__init__(
            errors=[
                FieldError(
                    "body.amount",
                    "off_increment_grid",
                    {"nearest": " / ".join(amount.amount_text for amount in nearest)},
                )
            ],
            extensions={"nearest": [amount.to_api() for amount in nearest]},
        )


class ProxyMaximumTooLow(BidTooLow):
    code = "proxy_maximum_too_low"
    detail_code = "detail.proxy_maximum_too_low"

    def __init__(self, minimum: Money) -> None:
        super().__init__(minimum, field_name="body.maximum")
