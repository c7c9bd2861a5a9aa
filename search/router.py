"""GET /v1/search/listings: public full-text search of the market."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from prometheus_client import Counter
from pydantic import BaseModel, Field

from app.core.errors import DomainError, FieldError, RequestInvalid, problem_responses
from app.core.money import NON_NEGATIVE_AMOUNT, query_fen
from app.core.pagination import cursor_offset, offset_cursor, query_fingerprint
from app.core.ratelimit import RateLimit
from app.listings.models import ListingMode, TransferType
from app.results.models import ResultKind
from app.results.taxonomy import fields
from search.analysis import MAX_QUERY_CHARS
from search.backend import (
    Filters,
    Hit,
    SearchAnswer,
    SearchBackend,
    SearchQuery,
    SearchUnavailable,
    Sort,
)
from search.documents import ListingDocument

router = APIRouter(prefix="/v1/search", tags=["search"])
search_rate = RateLimit("search")
SEARCH_ERRORS = Counter(
    "techx_search_backend_errors", "Searches the search backend could not answer (503)"
)

PARAMETERS = {"q", "field", "kind", "transfer_type", "mode", "region", "price_min", "price_max",
              "maturity", "sort", "cursor", "limit"}  # fmt: skip


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


SearchWords = Annotated[
    str, Query(max_length=MAX_QUERY_CHARS, description="Words in Chinese or English.")
]
"""A search's words (`?q=`): segmented, with synonyms, the last word a prefix."""

FieldParameter = Annotated[
    str | None,
    Query(
        description="A technology field code (GET /v1/taxonomy/fields); its children match too.",
        json_schema_extra={"enum": sorted(fields())},
    ),
]
"""`?field=`: one of the taxonomy's codes, stated in the document so clients can check it."""

SearchEngine = Annotated[SearchBackend, Depends(_backend)]
"""The application's search backend, for routes that search."""


def _fingerprint(query: SearchQuery) -> str:
    return query_fingerprint(query.text, query.filters.__dict__, query.sort)


@router.get(
    "/listings",
    response_model=SearchPage,
    summary="Search the market",
    responses=problem_responses(422)
    | {429: {"description": "Rate limited"}, 503: {"description": "Search is down"}},
    dependencies=[Depends(search_rate)],
)
async def search_listings(
    request: Request,
    response: Response,
    backend: SearchEngine,
    q: SearchWords = "",
    field: FieldParameter = None,
    kind: ResultKind | None = None,
    transfer_type: TransferType | None = None,
    mode: ListingMode | None = None,
    region: Annotated[
        str | None,
        Query(
            pattern=r"^\d{2}(\d{2}(\d{2})?)?$",
            description="Division code prefix: 15, 1502, 150203.",
        ),
    ] = None,
    price_min: Annotated[
        str | None,
        Query(description="Yuan, e.g. 100000.", json_schema_extra={"pattern": NON_NEGATIVE_AMOUNT}),
    ] = None,
    price_max: Annotated[
        str | None, Query(description="Yuan.", json_schema_extra={"pattern": NON_NEGATIVE_AMOUNT})
    ] = None,
    maturity: Literal["laboratory", "small_scale", "pilot", "industrialized"] | None = None,
    sort: Sort = "relevance",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Full-text search of published listings (no login needed): Chinese segmentation,
    synonyms (钕铁硼 = NdFeB = 稀土永磁), prefix matching of the last word, filters, facet
    counts and highlighted matches."""
    reject_unknown_parameters(request, PARAMETERS)
    if field is not None and field not in fields():
        raise RequestInvalid(errors=[FieldError("query.field", "field_unknown", {"code": field})])
    low, high = query_fen("price_min", price_min), query_fen("price_max", price_max)
    if low is not None and high is not None and low > high:
        raise RequestInvalid(errors=[FieldError("query.price_max", "range_inverted")])
    query = SearchQuery(
        text=q.strip(),
        filters=Filters(
            field=field,
            kind=kind.value if kind else None,
            transfer_type=transfer_type.value if transfer_type else None,
            mode=mode.value if mode else None,
            region=region,
            price_min_fen=low,
            price_max_fen=high,
            stage=maturity,
        ),
        sort=sort,
        limit=limit,
    )
    offset = cursor_offset(_fingerprint(query), cursor)
    query = SearchQuery(
        text=query.text, filters=query.filters, sort=sort, offset=offset, limit=limit
    )
    try:
        answer: SearchAnswer = await backend.search(query)
    except SearchUnavailable:
        SEARCH_ERRORS.inc()
        raise SearchUnavailableError(headers={"Retry-After": "30"}) from None
    following = offset + len(answer.hits)
    next_cursor = (
        offset_cursor(_fingerprint(query), following) if following < answer.total else None
    )
    page = (
        f'{{"hits":{hits_json(answer.hits)},"total":{answer.total},'
        f'"facets":{json.dumps(answer.facets, ensure_ascii=False)},'
        f'"next_cursor":{json.dumps(next_cursor)}}}'
    )
    return json_answer(page, dependencies_set=response)


def reject_unknown_parameters(request: Request, known: set[str]) -> None:
    """A search with a misspelt filter would silently answer everything: RequestInvalid
    naming each parameter the route does not take."""
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise RequestInvalid(
            errors=[FieldError(f"query.{name}", "unknown_parameter") for name in unknown]
        )


def hits_json(hits: Sequence[Hit]) -> str:
    """The hits as a JSON array of `SearchHit`s, each listing's document spliced in as the
    index keeps it: a page of search results is written once, never read into models and
    written again (that was a tenth of a search's time)."""
    return (
        "["
        + ",".join(
            f'{{"listing":{hit.document_json},'
            f'"highlights":{json.dumps(hit.highlights, ensure_ascii=False)}}}'
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
