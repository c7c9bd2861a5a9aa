"""HTTP routes of the statistics package."""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from app.accounts.service import division_label
from app.core.auth import Principal, optional_principal
from app.core.clock import Now, beijing_time, month_start
from app.core.db import Session
from app.core.errors import ValidationFailed, problem_responses
from app.core.money import Money
from app.deals.models import ContractType
from app.stats import service
from app.stats.schemas import AuctionOutcomes, CellOut, ChallengeFunnelOut, IndicatorsOut

router = APIRouter(prefix="/v1/stats", tags=["statistics"], responses=problem_responses(401, 422))
Month = Annotated[str | None, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$", examples=["2026-01"])]


def _month_start(month: str, *, after: int = 0) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return month_start(year, number + after)


def _cells(cells: list[service.Cell], *, regions: bool = False) -> list[CellOut]:
    return [
        CellOut(
            key=cell.key,
            label=division_label(cell.key) if regions else None,
            contracts=cell.count,
            amount=Money(cell.amount_fen) if cell.amount_fen is not None else None,
        )
        for cell in cells
    ]


@router.get("/indicators", response_model=IndicatorsOut, summary="Market indicators (统计指标)")
async def indicators(
    session: Session,
    now: Now,
    caller: Annotated[Principal | None, Depends(optional_principal)],
    period_from: Month = None,
    period_to: Month = None,
    field: Annotated[str | None, Query(max_length=60, examples=["new_materials"])] = None,
    region: Annotated[
        str | None,
        Query(pattern=r"^[0-9]{2}([0-9]{2}){0,2}$", description="Division code prefix: 15, 1502…"),
    ] = None,
    contract_type: ContractType | None = None,
) -> IndicatorsOut:
    """Registered technology contracts (count and 技术交易额) by field, region, contract type and
    month; listings published, intents, auction conversion, median days from publication to the
    signed contract, broker rewards paid; the open challenges' funnel from need to contract.
    Months are Beijing time, `period_to` inclusive (default: this year so far). Anyone may
    ask; cells of fewer than three contracts show no amount except to platform staff, who also
    see the leading sellers."""
    local = beijing_time(now)
    first = period_from or f"{local.year}-01"
    last = period_to or f"{local.year}-{local.month:02d}"
    if last < first:
        raise ValidationFailed("query.period_to", "before_period_from")
    end = _month_start(last, after=1)
    result = await service.indicators(
        session,
        caller,
        service.Filters(
            start=_month_start(first),
            end=end,
            field=field,
            region=region,
            contract_type=contract_type.value if contract_type else None,
        ),
    )
    rate = None
    if result.auctions_ended:
        rate = str(
            (Decimal(result.auctions_sold) / result.auctions_ended).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_UP
            )
        )
    return IndicatorsOut(
        period_from=first,
        period_to=last,
        registered_contracts=result.contracts,
        transaction_amount=Money(result.amount_fen) if result.amount_fen is not None else None,
        by_field=_cells(result.by_field),
        by_region=_cells(result.by_region, regions=True),
        by_contract_type=_cells(result.by_contract_type),
        by_month=_cells(result.by_month),
        listings_published=result.listings_published,
        intents=result.intents,
        auctions=AuctionOutcomes(
            ended=result.auctions_ended, sold=result.auctions_sold, conversion_rate=rate
        ),
        median_days_publication_to_contract=result.median_days_to_contract,
        broker_rewards_paid=Money(result.broker_rewards_paid_fen),
        money_received=(
            Money(result.money_received_fen) if result.money_received_fen is not None else None
        ),
        withheld_below=result.withheld_below,
        challenge_funnel=[
            ChallengeFunnelOut(
                field=cell.field,
                month=cell.month,
                needs_collected=cell.stages["collected"],
                published=cell.stages["published"],
                proposals=cell.stages["proposal"],
                awarded=cell.stages["awarded"],
                contracts=cell.contracts,
                amount=Money.optional(cell.amount_fen),
            )
            for cell in result.challenge_funnel
        ],
        leading_sellers=_cells(result.leading_sellers),
    )
