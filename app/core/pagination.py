"""Cursor pagination: `?cursor=&limit=`, `next_cursor` in the body.

A cursor is the sort key of the last row seen, opaque to clients (base64url JSON). Keyset
pagination stays correct while rows are inserted and costs the same on page 1 and page 1000.
Ranked search results have no such key: their cursor is an offset tied to the query it pages
(`offset_cursor`), so it cannot be carried to another query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from app.core.errors import FieldError, RequestInvalid, ValidationFailed

T = TypeVar("T")
M = TypeVar("M")

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PageParams(BaseModel):
    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


async def page_params(
    cursor: Annotated[str | None, Query(description="Opaque cursor from `next_cursor`.")] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page.")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )


SortKey = datetime | int


def encode_cursor(key: SortKey, row_id: uuid.UUID) -> str:
    raw = json.dumps([key if isinstance(key, int) else key.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[SortKey, uuid.UUID]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw_key, row_id = json.loads(base64.urlsafe_b64decode(padded.encode()))
        key: SortKey
        if isinstance(raw_key, int) and not isinstance(raw_key, bool):
            key = raw_key
        else:
            key = datetime.fromisoformat(raw_key)
            if key.tzinfo is None:
                raise ValueError("naive cursor")
        return key, uuid.UUID(row_id)
    except (ValueError, TypeError, binascii.Error, json.JSONDecodeError):
        raise ValidationFailed("query.cursor", "cursor_invalid") from None


async def paginate(
    session: AsyncSession,
    statement: Select[M],
    params: PageParams,
    *,
    key: InstrumentedAttribute[datetime] | InstrumentedAttribute[int],
    row_id: InstrumentedAttribute[uuid.UUID],
) -> tuple[Sequence[M], str | None]:
    """Rows of `statement` by `key` descending (newest first), one page after
    `params.cursor`, and the next cursor."""
    if params.cursor:
        after_key, after_id = decode_cursor(params.cursor)
        statement = statement.where(tuple_(key, row_id) < tuple_(after_key, after_id))
    statement = statement.order_by(key.desc(), row_id.desc()).limit(params.limit + 1)
    rows: Sequence[M] = list((await session.scalars(statement)).all())
    next_cursor = None
    if len(rows) > params.limit:
        rows = rows[: params.limit]
        last: Any = rows[-1]
        next_cursor = encode_cursor(getattr(last, key.key), last.id)
    return rows, next_cursor


def query_fingerprint(*parts: object) -> str:
    """A short digest of what a ranked query asks (words, filters, order), for its cursors."""
    shape = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(shape.encode()).hexdigest()[:16]


def offset_cursor(fingerprint: str, offset: int) -> str:
    """The cursor of a ranked result's page starting at `offset`, for the query of
    `fingerprint`."""
    raw = json.dumps({"o": offset, "q": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_offset(fingerprint: str, cursor: str | None) -> int:
    """The offset an `offset_cursor` holds (0 without one). RequestInvalid(query.cursor):
    `cursor_invalid`, or `cursor_other_query` for a cursor of another query."""
    if not cursor:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        offset, made_for = int(data["o"]), str(data["q"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise RequestInvalid(errors=[FieldError("query.cursor", "cursor_invalid")]) from None
    if made_for != fingerprint or offset < 0:
        raise RequestInvalid(errors=[FieldError("query.cursor", "cursor_other_query")])
    return offset
