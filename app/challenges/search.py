"""Searching the market's challenges (揭榜挂帅) with the listings' Chinese search: the same
segmentation, synonyms and prefix matching (`search.analysis`) over the same weighted text
vectors (`search.postgres`), with filters and facet counts for field, status and money on offer.

Challenges are searched in PostgreSQL whichever engine searches the listings: a province
publishes tens to a few hundred a year (one city's 2023 round published 68), which a GIN index
answers in a few milliseconds, and a challenge's terms are written in its own transaction — no
second index to keep in step, nothing to reindex.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import Field
from sqlalchemy import ColumnElement, String, case, cast, desc, func, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.challenges.models import Challenge, ChallengeState
from app.challenges.service import PUBLIC_STATES
from app.core.pagination import query_fingerprint
from search.analysis import highlighter, query_terms
from search.parameters import SearchParameters
from search.postgres import (
    facet_counts_select,
    matching,
    parsed_tsquery,
    read_facet_counts,
    text_rank,
    tsquery_text,
)

BUDGET_BANDS: tuple[tuple[str, int], ...] = (
    ("up_to_500k", 50_000_000),
    ("up_to_1m", 100_000_000),
    ("up_to_5m", 500_000_000),
)
"""Bands of the money on offer — a prize, else the budget's top — by their upper bound in fen
(inclusive: 1,000,000 CNY is `up_to_1m`); above the last, `over_5m`; none stated, `unstated`."""
BudgetBand = Literal["up_to_500k", "up_to_1m", "up_to_5m", "over_5m", "unstated"]
FACETS = ("field_parent", "status", "budget_band")
Sort = Literal["relevance", "newest", "closing_soon", "budget_desc"]


def _on_offer() -> ColumnElement[int]:
    return func.coalesce(Challenge.prize_fen, Challenge.budget_max_fen)


def _budget_band() -> ColumnElement[str]:
    on_offer = _on_offer()
    return case(
        (on_offer.is_(None), literal("unstated")),
        *((on_offer <= bound, literal(name)) for name, bound in BUDGET_BANDS),
        else_=literal("over_5m"),
    )


class ChallengeSearchParameters(SearchParameters):
    """`GET /v1/search/challenges`'s query."""

    status: ChallengeState | None = Field(
        None, description="published (发榜), awarded (结果公示), concluded, unawarded (流榜)."
    )
    open: bool = Field(False, description="Only those still taking proposals.")
    budget: BudgetBand | None = Field(
        None, description="The band of the money on offer (a prize, else the budget's top)."
    )
    sort: Sort = "relevance"


@dataclass(frozen=True)
class ChallengeQuery:
    text: str = ""
    field: str | None = None
    """A field code: it and its children."""
    status: ChallengeState | None = None
    open_only: bool = False
    """Only those still taking proposals."""
    budget_band: BudgetBand | None = None
    sort: Sort = "relevance"
    offset: int = 0
    limit: int = 20

    def fingerprint(self) -> str:
        """What the query asks, for its page cursors (not where a page starts)."""
        return query_fingerprint(
            self.text, self.field, self.status, self.open_only, self.budget_band, self.sort
        )


@dataclass(frozen=True)
class ChallengeHit:
    challenge: Challenge
    highlights: dict[str, str]
    """`title` and `problem` with matched terms in <em>…</em> (HTML-escaped)."""


@dataclass(frozen=True)
class ChallengeAnswer:
    hits: list[ChallengeHit]
    total: int
    facets: dict[str, dict[str, int]]


async def search_challenges(
    session: AsyncSession, query: ChallengeQuery, *, now: datetime
) -> ChallengeAnswer:
    """The published challenges (and those awarded or closed since) matching the words and
    filters, ranked by relevance (title over indicators over problem over owner) or the order
    asked, with facet counts over every match."""
    terms = query_terms(query.text)
    where: list[ColumnElement[bool]] = [Challenge.state.in_(PUBLIC_STATES)]
    rank: ColumnElement[Any] = literal(0.0)
    if terms:
        tsquery = parsed_tsquery(tsquery_text(terms))
        where.append(matching(Challenge.terms, tsquery))
        rank = text_rank(Challenge.terms, tsquery)
    if query.field:
        where.append(
            or_(
                Challenge.field_code == query.field,
                Challenge.field_code.startswith(query.field + "."),
            )
        )
    if query.status is not None:
        where.append(Challenge.state == query.status)
    if query.open_only:
        where += [Challenge.state == ChallengeState.published, Challenge.proposals_due_at > now]
    if query.budget_band:
        where.append(_budget_band() == query.budget_band)
    rows = await session.scalars(
        select(Challenge)
        .where(*where)
        .order_by(*_ordering(query.sort, bool(terms), rank))
        .offset(query.offset)
        .limit(query.limit)
    )
    columns = [
        func.split_part(Challenge.field_code, ".", 1),
        cast(Challenge.state, String),
        _budget_band(),
    ]
    counts = (await session.execute(facet_counts_select(columns, where))).all()
    total, facets = read_facet_counts(counts, FACETS)
    highlight = highlighter(terms)
    return ChallengeAnswer(
        hits=[
            ChallengeHit(
                challenge,
                {"title": highlight(challenge.title), "problem": highlight(challenge.problem)},
            )
            for challenge in rows.all()
        ],
        total=total,
        facets=facets,
    )


def _ordering(sort: Sort, terms: bool, rank: ColumnElement[Any]) -> Sequence[Any]:
    tie = [desc(Challenge.published_at), Challenge.id]
    if sort == "newest" or (sort == "relevance" and not terms):
        return tie
    if sort == "closing_soon":
        return [Challenge.proposals_due_at.asc(), *tie]
    if sort == "budget_desc":
        return [_on_offer().desc().nulls_last(), *tie]
    return [desc(rank), *tie]
