"""HTTP routes of the results catalogue."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile, status

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import ValidationFailed, problem_responses
from app.core.i18n import current_locale
from app.core.idempotency import IdempotencyOf
from app.core.pagination import Page, PageParams, page_params
from app.results import service
from app.results.auth import ResultRead, ResultWrite
from app.results.importing import UnreadableFile, read_rows
from app.results.models import Result
from app.results.schemas import (
    ImportReport,
    InventorOut,
    ResultCreate,
    ResultOut,
    ResultUpdate,
    TaxonomyField,
)
from app.results.taxonomy import fields, label, stage_of

router = APIRouter(prefix="/v1", tags=["results"], responses=problem_responses(401, 403, 422))
Pagination = Annotated[PageParams, Depends(page_params)]


def result_out(result: Result) -> ResultOut:
    return ResultOut(
        id=result.id,
        organization_id=result.organization_id,
        title=result.title,
        abstract=result.abstract,
        keywords=result.keywords,
        kind=result.kind,
        ip_number=result.ip_number,
        ipc_codes=result.ipc_codes,
        legal_status=result.legal_status,
        field_code=result.field_code,
        field_label=label(result.field_code, current_locale.get()),
        trl=result.trl,
        stage=stage_of(result.trl),
        publicly_funded=result.publicly_funded,
        division_code=result.division_code,
        inventors=[InventorOut.model_validate(inventor) for inventor in result.inventors],
        created_at=result.created_at,
        updated_at=result.updated_at,
    )


@router.get(
    "/taxonomy/fields",
    response_model=list[TaxonomyField],
    summary="Technology fields",
    tags=["taxonomy"],
    responses={},
)
async def list_fields() -> list[TaxonomyField]:
    """The technology-field taxonomy (技术领域) results are filed under, in Chinese and English."""
    return [
        TaxonomyField(code=f.code, parent=f.parent, zh=f.zh, en=f.en) for f in fields().values()
    ]


@router.post(
    "/results",
    response_model=ResultOut,
    status_code=status.HTTP_201_CREATED,
    summary="Add a result",
    responses=problem_responses(404, 409),
)
async def create_result(
    session: Session, caller: ResultWrite, idempotency: IdempotencyOf, body: ResultCreate
) -> ResultOut:
    """Add a result (科技成果) to your organization's catalogue. Patents need their application
    number with its check character; software, its registration number."""
    await idempotency.claim(caller)
    result = result_out(await service.create_result(session, caller, body))
    return await idempotency.remember(result, status_code=201)


@router.get("/results", response_model=Page[ResultOut], summary="List your results")
async def list_results(
    session: Session,
    caller: ResultRead,
    pagination: Pagination,
    organization_id: uuid.UUID | None = None,
    field: Annotated[
        str | None, Query(max_length=60, description="Field code or its parent.")
    ] = None,
) -> Page[ResultOut]:
    """Results (科技成果) you may see: your organizations' own, and those offered in published
    listings."""
    rows, cursor = await service.list_results(
        session, caller, pagination, organization_id=organization_id, field_code=field
    )
    return Page(items=[result_out(row) for row in rows], next_cursor=cursor)


@router.get(
    "/results/{result_id:uuid}",
    response_model=ResultOut,
    summary="Get a result",
    responses=problem_responses(404),
)
async def get_result(session: Session, caller: ResultRead, result_id: uuid.UUID) -> ResultOut:
    """One result with its inventors and IP numbers. Raises 404 when it is not yours to see."""
    return result_out(await service.get_result_for(session, caller, result_id))


@router.put(
    "/results/{result_id:uuid}",
    response_model=ResultOut,
    summary="Replace a result's description",
    responses=problem_responses(404, 409),
)
async def replace_result(
    session: Session, caller: ResultWrite, result_id: uuid.UUID, body: ResultUpdate
) -> ResultOut:
    """Not while a listing of it is under review or published."""
    return result_out(await service.replace_result(session, caller, result_id, body))


@router.post(
    "/results/import",
    response_model=ImportReport,
    summary="Import results from CSV or XLSX",
    responses=problem_responses(404, 413),
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "example": {
                        "organization_id": "0b0f1c3e-6d2a-4c55-9a61-2f4f3b8e9d10",
                        "file": "(results.xlsx, with the columns of the README's table)",
                        "mode": "all_or_nothing",
                    }
                }
            }
        }
    },
)
async def import_results(
    session: Session,
    now: Now,
    caller: ResultWrite,
    organization_id: Annotated[uuid.UUID, Form()],
    file: Annotated[
        UploadFile, File(description="CSV (UTF-8 or GB18030) or XLSX, header row first.")
    ],
    mode: Annotated[Literal["all_or_nothing", "valid_rows"], Form()] = "all_or_nothing",
) -> ImportReport:
    """Bulk-add results. The report lists every rejected row with the field and the rule.
    `all_or_nothing` imports nothing unless every row is good (a 422 problem whose `errors`
    name `rows[N].field` and whose `report` is the full report); `valid_rows` imports the
    good rows and reports the others."""
    content = await file.read()
    locale = current_locale.get()
    try:
        rows = list(read_rows(file.filename or "", content, locale))
    except UnreadableFile as error:
        raise ValidationFailed("body.file", "import_file", reason=str(error)) from None
    return await service.import_results(
        session, caller, organization_id, rows, mode=mode, locale=locale, now=now
    )
