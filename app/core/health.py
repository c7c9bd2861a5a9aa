"""Liveness and readiness endpoints for orchestrators (metrics: `app/operations`)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.core.errors import ServiceUnavailable

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    status: Literal["ok", "ready"]


_ALIVE = Health(status="ok").model_dump_json().encode()


@router.get("/healthz", summary="Liveness", response_model=Health)
async def healthz() -> Response:
    """The process is up. Does not touch the database, so a slow database never kills pods."""
    # Probed every few seconds by every orchestrator: the answer is serialized once.
    return Response(_ALIVE, media_type="application/json")


@router.get(
    "/readyz",
    summary="Readiness",
    response_model=Health,
    responses={503: {"description": "The database is unreachable."}},
)
async def readyz(request: Request) -> Health:
    """Ready to serve: the database answers."""
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except (SQLAlchemyError, OSError) as error:
        raise ServiceUnavailable() from error
    return Health(status="ready")
