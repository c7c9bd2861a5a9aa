"""API shapes of the statistics package."""

from __future__ import annotations

from pydantic import BaseModel, Field

from app.core.money import Money


class CellOut(BaseModel):
    key: str = Field(description="Field code, province code, contract type or month.")
    label: str | None = None
    contracts: int
    amount: Money | None = Field(
        description="技术交易额; withheld (null) from the public below the minimum."
    )


class AuctionOutcomes(BaseModel):
    ended: int
    sold: int
    conversion_rate: str | None = Field(
        description="Sold ÷ ended, two decimals.", examples=["0.67"]
    )


class ChallengeFunnelOut(BaseModel):
    """The challenge funnel (揭榜挂帅) of one top-level field in one Beijing month."""

    field: str = Field(examples=["new_energy"])
    month: str = Field(examples=["2027-04"])
    needs_collected: int = Field(description="Enterprises' needs submitted as challenges.")
    published: int = Field(description="Challenges published (发榜).")
    proposals: int = Field(description="Proposals submitted and not withdrawn (揭榜).")
    awarded: int = Field(description="Awards that stood after their publicity (揭榜成功).")
    contracts: int = Field(description="Their development contracts signed by both parties.")
    amount: Money | None = Field(
        description="Those contracts' 技术交易额; withheld (null) from the public below the "
        "minimum."
    )


class IndicatorsOut(BaseModel):
    period_from: str = Field(examples=["2026-01"])
    period_to: str = Field(examples=["2026-12"])
    registered_contracts: int
    transaction_amount: Money | None = Field(
        description="Withheld (null) from the public when fewer contracts than the minimum match."
    )
    by_field: list[CellOut]
    by_region: list[CellOut]
    by_contract_type: list[CellOut]
    by_month: list[CellOut]
    listings_published: int
    intents: int
    auctions: AuctionOutcomes
    median_days_publication_to_contract: float | None
    broker_rewards_paid: Money
    money_received: Money | None = Field(
        description="Money the registered contracts received in the period: payments and "
        "applied auction deposits, less refunds. Withheld (null) from the public when fewer "
        "contracts than the minimum received any."
    )
    withheld_below: int | None = Field(
        description="Cells with fewer contracts show no amount (public view); null for staff."
    )
    challenge_funnel: list[ChallengeFunnelOut] = Field(
        default_factory=list,
        description="Open challenges from need to contract, per top-level field and month: each "
        "step counts in the month it happened (a contract in the month of the last signature).",
    )
    leading_sellers: list[CellOut] = Field(
        default_factory=list, description="Platform staff only: the top sellers by amount."
    )
