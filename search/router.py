"""GET /v1/search/listings: public full-text search of the market."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, Field
from pydantic_core import to_json

from app.core.errors import DomainError, FieldError, RequestInvalid, problem_responses
from app.core.money import query_fen
from app.core.openapi import query_parameters
from app.core.pagination import cursor_offset, offset_cursor, query_fingerprint
from app.core.ratelimit import RateLimit
from app.core.routing import planned
from search.backend import (
    Filters,
    Hit,
    SearchAnswer,
    SearchBackend,
    SearchQuery,
    SearchUnavailable,
)
from search.documents import ListingDocument
from search.parameters import ListingSearchParameters, query_model

router = APIRouter(prefix="/v1/search", tags=["search"])
search_rate = RateLimit("search")
SEARCH_ERRORS = Counter(
    "techx_search_backend_errors", "Searches the search backend could not answer (503)"
)


class SearchUnavailableError(DomainError):
    status, code = 503, "search_unavailable"


class SearchHit(BaseModel):
    listing: ListingDocument
    highlights: dict[str, str] = Field(description="`title`, `abstract` with <em> around matches.")


class SearchPage(BaseModel):
    hits: list[SearchHit]
    total: int
    facets: dict[str, dict[str, int]] = Field(
        description="Counts per value of field_parent, kind, transfer_type, mode, "
        "prefecture_code and stage, over every hit (not just this page)."
    )
    next_cursor: str | None


async def _backend(request: Request) -> SearchBackend:
    backend: SearchBackend = request.app.state.search
    return backend


SearchEngine = Annotated[SearchBackend, Depends(_backend)]
"""The application's search backend, for routes that search."""


@planned(
    router,
    "/listings",
    methods=["GET"],
    response_model=SearchPage,
    summary="Search the market",
    responses=problem_responses(422)
    | {429: {"description": "Rate limited"}, 503: {"description": "Search is down"}},
    dependencies=[Depends(search_rate)],
    openapi_extra={"parameters": query_parameters(ListingSearchParameters)},
)
async def search_listings(
    response: Response,
    backend: SearchEngine,
    parameters: Annotated[ListingSearchParameters, Depends(query_model(ListingSearchParameters))],
) -> Response:
    """Full-text search of published listings (no login needed): Chinese segmentation,
    synonyms (钕铁硼 = NdFeB = 稀土永磁), prefix matching of the last word, filters, facet
    counts and highlighted matches."""
    p = parameters
    low, high = query_fen("price_min", p.price_min), query_fen("price_max", p.price_max)
    if low is not None and high is not None and low > high:
        raise RequestInvalid(errors=[FieldError("query.price_max", "range_inverted")])
    text = p.q.strip()
    filters = Filters(
        field=p.field,
        kind=p.kind.value if p.kind else None,
        transfer_type=p.transfer_type.value if p.transfer_type else None,
        mode=p.mode.value if p.mode else None,
        region=p.region,
        price_min_fen=low,
        price_max_fen=high,
        stage=p.maturity,
    )
    # What the query asks, not where its page starts: both cursors of a page are bound to it.
    fingerprint = query_fingerprint(text, filters.__dict__, p.sort)
    offset = cursor_offset(fingerprint, p.cursor)
    query = SearchQuery(text=text, filters=filters, sort=p.sort, offset=offset, limit=p.limit)
    try:
        answer: SearchAnswer = await backend.search(query)
    except SearchUnavailable:
        SEARCH_ERRORS.inc()
        raise SearchUnavailableError(headers={"Retry-After": "30"}) from None
    following = offset + len(answer.hits)
    next_cursor = offset_cursor(fingerprint, following) if following < answer.total else None
    page = (
        f'{{"hits":{hits_json(answer.hits)},"total":{answer.total},'
        f'"facets":{to_json(answer.facets).decode()},'
        f'"next_cursor":{to_json(next_cursor).decode()}}}'
    )
    return json_answer(page, dependencies_set=response)


def hits_json(hits: Sequence[Hit]) -> str:
    """The hits as a JSON array of `SearchHit`s, each listing's document spliced in as the
    index keeps it: a page of search results is written once, never read into models and
    written again (that was a tenth of a search's time)."""
    return (
        "["
        + ",".join(
            f'{{"listing":{hit.document_json},"highlights":{to_json(hit.highlights).decode()}}}'
            for hit in hits
        )
        + "]"
    )


def json_answer(body: str, *, dependencies_set: Response | None = None) -> Response:
    """A JSON answer written by hand, with the headers the route's dependencies set (the rate
    limit's), which FastAPI adds only to answers it writes itself. The route keeps its
    `response_model` for the document; `tests/search/test_search_api.py` holds the two to
    each other."""
    answer = Response(body.encode(), media_type="application/json")
    if dependencies_set is not None:
        answer.headers.raw.extend(dependencies_set.headers.raw)
    return answer
