"""API shapes of the auctions package."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError

from app.accounts.schemas import Reason, Strict
from app.auctions.increments import IncrementGrid, IncrementTable
from app.auctions.models import AuctionFormat, AuctionState, DepositState, Eligibility
from app.core.money import Money, NonNegativeMoney, PositiveMoney


class IncrementStep(BaseModel):
    """Below `below` (or above every step when null), each bid adds at least `increment`."""

    below: PositiveMoney | None = None
    increment: PositiveMoney


def increment_table(steps: list[IncrementStep]) -> IncrementTable:
    return IncrementTable(
        steps=tuple((step.below.fen, step.increment.fen) for step in steps[:-1] if step.below),
        above=steps[-1].increment.fen,
    )


def increment_steps(table: IncrementTable) -> list[IncrementStep]:
    return [
        *(IncrementStep(below=Money(bound), increment=Money(step)) for bound, step in table.steps),
        IncrementStep(below=None, increment=Money(table.above)),
    ]


class AntiSniping(BaseModel):
    """A bid in the last `window_seconds` moves the end to the bid's time plus
    `extension_seconds`, at most `max_extensions` times (防狙击延时)."""

    window_seconds: int = Field(ge=0, le=3600)
    extension_seconds: int = Field(ge=0, le=3600)
    max_extensions: int = Field(ge=0, le=10_000)


class TwoPhase(BaseModel):
    """The exchanges' timing: a free bidding period (自由报价期) to `free_period_ends_at`, then a
    countdown (限时报价期) of `countdown_seconds` that each bid restarts; the auction ends when
    a countdown runs out with no bid."""

    free_period_ends_at: AwareDatetime
    countdown_seconds: int = Field(ge=30, le=3600, examples=[300])


class DepositOut(BaseModel):
    id: uuid.UUID
    auction_id: uuid.UUID
    organization_id: uuid.UUID
    amount: Money
    state: DepositState
    provider: str
    reference: str = Field(description="Put this in the transfer's remark (附言).")
    instructions: dict[str, Any]
    paddle: int | None = Field(description="Your bidder number (竞买号) once confirmed.")
    created_at: datetime
    confirmed_at: datetime | None
    settled_at: datetime | None


class AuctionOut(BaseModel):
    id: uuid.UUID
    listing_id: uuid.UUID
    seller_organization_id: uuid.UUID
    state: AuctionState
    eligibility: Eligibility
    starts_at: datetime
    ends_at: datetime = Field(description="The current end, after anti-sniping extensions.")
    scheduled_end_at: datetime
    extensions: int
    start_price: Money
    current_price: Money | None = Field(description="The last accepted bid; null before any.")
    minimum_bid: Money = Field(description="The least the next bid may be.")
    bid_count: int
    leader_paddle: int | None
    reserve_met: bool
    reserve: Money | None = Field(
        description="Hidden reserve (保留价): shown to the seller and staff only."
    )
    increments: list[IncrementStep]
    increment_grid: IncrementGrid = Field(
        description="Which amounts a bid may be: `from_price` (the current price — the start "
        "price for the first bid — plus a whole number of increments, the exchanges' "
        "加价幅度的正整数倍), `from_start` (the start price plus whole increments, tier by "
        "tier) or `free` (any amount at or above the minimum)."
    )
    deposit: Money
    format: AuctionFormat = Field(
        description="`english` (多次连续报价: open ascending bids) or `sealed` (一次性报价: "
        "one sealed amount each, opened at the end; `current_price` stays null until then)."
    )
    anti_sniping: AntiSniping
    two_phase: TwoPhase | None = Field(
        description="Set for two-phase timing (自由报价期/限时报价期): the anti-sniping terms are "
        "then the countdown's (window and extension both the countdown)."
    )
    cancel_reason: str | None
    closed_at: datetime | None
    settled_at: datetime | None
    hammer_price: Money | None
    winner_organization_id: uuid.UUID | None = Field(
        description="Shown to the seller, the winner and staff."
    )
    deal_id: uuid.UUID | None
    your_deposits: list[DepositOut] = Field(
        description="Your organizations' deposits on this auction."
    )
    you_lead: bool


class TermsUpdate(Strict):
    """Fields to change while the auction is scheduled; omitted fields stay as they are,
    `reserve: null` removes the reserve."""

    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    start_price: PositiveMoney | None = None
    reserve: PositiveMoney | None = None
    increments: list[IncrementStep] | None = Field(default=None, min_length=1, max_length=20)
    increment_grid: IncrementGrid | None = None
    deposit: NonNegativeMoney | None = None
    anti_sniping: AntiSniping | None = None
    format: AuctionFormat | None = Field(
        default=None,
        description="`sealed` for one sealed amount per bidder (一次性报价), `english` for open "
        "ascending bids (多次连续报价).",
    )
    two_phase: TwoPhase | None = Field(
        default=None,
        description="Two-phase timing instead of `anti_sniping` and `ends_at`: the auction's "
        "first possible end is the free period's end plus one countdown.",
    )

    @field_validator("increments")
    @classmethod
    def _steps_ascend(cls, steps: list[IncrementStep] | None) -> list[IncrementStep] | None:
        if steps is None:
            return None
        bounds = [step.below for step in steps[:-1]]
        if (
            any(bound is None for bound in bounds)
            or steps[-1].below is not None
            or [b.fen for b in bounds if b] != sorted({b.fen for b in bounds if b})
        ):
            raise PydanticCustomError(
                "increments_order",
                "steps must ascend by `below`, the last one without `below`",
            )
        return steps

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "start_price": {"amount": "500000.00", "currency": "CNY"},
                    "reserve": {"amount": "650000.00", "currency": "CNY"},
                }
            ]
        }
    )


class Cancellation(Strict):
    reason: Reason

    model_config = ConfigDict(json_schema_extra={"examples": [{"reason": "卖方撤回挂牌"}]})


class DepositCreate(Strict):
    organization_id: uuid.UUID | None = Field(
        default=None, description="The bidding organization; defaults to your only one."
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"organization_id": "5d1e8a2c-0c4b-4a77-8f3e-1a2b3c4d5e6f"}]
        }
    )


class BidCreate(Strict):
    amount: PositiveMoney
    organization_id: uuid.UUID | None = Field(
        default=None, description="The bidding organization; defaults to your only one."
    )

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"amount": {"amount": "520000.00", "currency": "CNY"}}]}
    )


class SealedBidOut(BaseModel):
    id: uuid.UUID
    auction_id: uuid.UUID
    organization_id: uuid.UUID
    amount: Money
    submitted_at: datetime


class ProxyCreate(Strict):
    maximum: PositiveMoney = Field(description="The most the engine may bid for you.")
    organization_id: uuid.UUID | None = None

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"maximum": {"amount": "700000.00", "currency": "CNY"}}]}
    )


class BidOut(BaseModel):
    sequence: int
    amount: Money
    paddle: int | None = Field(description="The bidder's number (竞买号): bidders are anonymous.")
    by_proxy: bool
    mine: bool
    placed_at: datetime


class BidPlaced(BaseModel):
    """The auction after the bid, and every bid it caused (proxies answer at once)."""

    auction: AuctionOut
    bids: list[BidOut]
    extended: bool = Field(description="True when the bid moved the end (anti-sniping).")


class ProxyOut(BaseModel):
    organization_id: uuid.UUID
    maximum: Money
    set_at: datetime


class ProxySet(BidPlaced):
    proxy: ProxyOut
