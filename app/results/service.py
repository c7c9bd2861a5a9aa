"""Rules of the results catalogue: who may create, read and change results; bulk import."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Literal

from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from app.core.audit import changed_fields
from app.core.auth import Principal
from app.core.errors import AlreadyExists, FieldError, InvalidState, NotFound, RequestInvalid
from app.core.i18n import Locale, translate
from app.core.outbox import record_event
from app.core.pagination import PageParams, paginate
from app.listings import queries as listings
from app.results.importing import ParsedRow
from app.results.models import Inventor, Result
from app.results.schemas import ImportReport, ResultCreate, ResultFields, RowError

ImportMode = Literal["all_or_nothing", "valid_rows"]


class ImportRejected(RequestInvalid):
    """An all-or-nothing import with bad rows: nothing was imported."""

    code = "import_rejected"


def _inventor_rows(result_id: uuid.UUID, data: ResultFields) -> list[dict[str, object]]:
    return [
        {
            "id": uuid.uuid4(),
            "result_id": result_id,
            "position": position,
            "name": inventor.name,
            "share": inventor.share,
        }
        for position, inventor in enumerate(data.inventors, start=1)
    ]


def _result_values(data: ResultFields) -> dict[str, object]:
    return data.model_dump(exclude={"inventors", "organization_id"})


async def _ensure_ip_number_free(
    session: AsyncSession,
    organization_id: uuid.UUID,
    ip_number: str | None,
    except_id: uuid.UUID | None = None,
) -> None:
    if ip_number is None:
        return
    query = select(Result.id).where(
        Result.organization_id == organization_id, Result.ip_number == ip_number
    )
    if except_id is not None:
        query = query.where(Result.id != except_id)
    if await session.scalar(query) is not None:
        raise AlreadyExists("body.ip_number")


async def create_result(session: AsyncSession, principal: Principal, data: ResultCreate) -> Result:
    """Add a result to an organization's catalogue (any member of it).

    Raises NotFound (not a member), AlreadyExists(ip_number) for a number already catalogued.
    """
    principal.require_member(data.organization_id)
    await _ensure_ip_number_free(session, data.organization_id, data.ip_number)
    result = Result(
        id=uuid.uuid4(),
        organization_id=data.organization_id,
        created_by_id=principal.user_id,
        **_result_values(data),
    )
    session.add(result)
    await session.flush()
    if data.inventors:
        await session.execute(insert(Inventor), _inventor_rows(result.id, data))
    await record_event(session, "result.created", _payload(result, _result_values(data)))
    return await _load(session, result.id)


def _payload(result: Result, fields: dict[str, object]) -> dict[str, object]:
    return {
        "result_id": str(result.id),
        "organization_id": str(result.organization_id),
        **to_jsonable_python(fields),
    }


async def _load(session: AsyncSession, result_id: uuid.UUID) -> Result:
    result = await session.scalar(
        select(Result)
        .where(Result.id == result_id)
        .options(selectinload(Result.inventors))
        .execution_options(populate_existing=True)
    )
    if result is None:
        raise NotFound()
    return result


async def get_result_for(
    session: AsyncSession, principal: Principal, result_id: uuid.UUID
) -> Result:
    """A result of the caller's organization (or any, for platform staff); NotFound otherwise."""
    result = await _load(session, result_id)
    if not principal.is_member_of(result.organization_id) and not principal.platform_roles:
        raise NotFound()
    return result


async def list_results(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    organization_id: uuid.UUID | None = None,
    field_code: str | None = None,
) -> tuple[Sequence[Result], str | None]:
    """Results of the caller's organizations (every one for staff), newest first."""
    query = select(Result).options(selectinload(Result.inventors))
    if not principal.platform_roles:
        query = query.where(Result.organization_id.in_(list(principal.memberships)))
    if organization_id is not None:
        query = query.where(Result.organization_id == organization_id)
    if field_code:
        query = query.where(
            (Result.field_code == field_code) | Result.field_code.startswith(field_code + ".")
        )
    return await paginate(session, query, params, key=Result.created_at, row_id=Result.id)


async def replace_result(
    session: AsyncSession, principal: Principal, result_id: uuid.UUID, data: ResultFields
) -> Result:
    """Replace a result's description (any member). A result under review or on the market is
    fixed: what the reviewer approved is what buyers see. Raises NotFound, InvalidState,
    AlreadyExists(ip_number)."""
    result = await get_result_for(session, principal, result_id)
    principal.require_member(result.organization_id)
    if await listings.result_is_on_market(session, result.id):
        raise InvalidState(detail_code="detail.result_on_market")
    await _ensure_ip_number_free(session, result.organization_id, data.ip_number, result.id)
    values = _result_values(data)
    after, before = changed_fields({name: getattr(result, name) for name in values}, values)
    for name, value in values.items():
        setattr(result, name, value)
    for inventor in list(result.inventors):
        await session.delete(inventor)
    await session.flush()
    if data.inventors:
        await session.execute(insert(Inventor), _inventor_rows(result.id, data))
    await record_event(
        session,
        "result.replaced",
        {**_payload(result, after), "inventors": len(data.inventors)},
        before=before,
    )
    return await _load(session, result.id)


async def import_results(
    session: AsyncSession,
    principal: Principal,
    organization_id: uuid.UUID,
    rows: Iterable[ParsedRow],
    *,
    mode: ImportMode,
    locale: Locale,
    now: datetime,
) -> ImportReport:
    """Bulk-add results from parsed file rows (any member of the organization).

    `all_or_nothing` imports nothing when any row is wrong; `valid_rows` imports the good rows
    and reports the others. Duplicate numbers, in the file or in the catalogue, are row errors.
    """
    principal.require_member(organization_id)
    parsed = list(rows)
    numbers = [row.fields.ip_number for row in parsed if row.fields and row.fields.ip_number]
    taken = set(
        (
            await session.scalars(
                select(Result.ip_number).where(
                    Result.organization_id == organization_id, Result.ip_number.in_(numbers)
                )
            )
        ).all()
    )
    errors: list[RowError] = []
    accepted: list[ResultFields] = []
    seen: set[str] = set()
    for row in parsed:
        errors.extend(row.errors)
        if row.fields is None:
            continue
        number = row.fields.ip_number
        if number is not None and (number in taken or number in seen):
            errors.append(
                RowError(
                    row=row.row,
                    field="ip_number",
                    code="already_exists",
                    message=translate("detail.already_exists", locale, field=number),
                )
            )
            continue
        if number is not None:
            seen.add(number)
        accepted.append(row.fields)

    errors.sort(key=lambda error: error.row)
    report_rejected = len(parsed) - len(accepted)
    if errors and mode == "all_or_nothing":
        raise ImportRejected(
            errors=[
                FieldError(f"rows[{e.row}].{e.field}", e.code, message=e.message) for e in errors
            ],
            extensions={
                "report": ImportReport(
                    mode=mode, rows=len(parsed), imported=0, rejected=len(parsed), errors=errors
                ).model_dump(mode="json")
            },
        )
    if accepted:
        result_rows = []
        inventor_rows: list[dict[str, object]] = []
        for fields in accepted:
            result_id = uuid.uuid4()
            result_rows.append(
                {
                    "id": result_id,
                    "organization_id": organization_id,
                    "created_by_id": principal.user_id,
                    # A bulk insert bypasses the session's stamping: the clock's time, given.
                    "created_at": now,
                    "updated_at": now,
                    **_result_values(fields),
                }
            )
            inventor_rows.extend(_inventor_rows(result_id, fields))
        await session.execute(insert(Result), result_rows)
        if inventor_rows:
            await session.execute(insert(Inventor), inventor_rows)
        await record_event(
            session,
            "result.imported",
            {
                "organization_id": str(organization_id),
                "imported": len(result_rows),
                "result_ids": [str(row["id"]) for row in result_rows],
            },
        )
    return ImportReport(
        mode=mode,
        rows=len(parsed),
        imported=len(accepted),
        rejected=report_rejected,
        errors=errors,
    )


async def get_result_to_offer(
    session: AsyncSession, principal: Principal, result_id: uuid.UUID
) -> Result:
    """A result the caller's organization owns, for making a listing of it."""
    result = await get_result_for(session, principal, result_id)
    principal.require_member(result.organization_id)
    return result
