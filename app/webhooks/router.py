"""HTTP routes of the webhooks package: endpoints, their secrets and their delivery log."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response, status

from app.core.clock import Now
from app.core.db import Session
from app.core.errors import problem_responses
from app.core.idempotency import IdempotencyOf
from app.core.pagination import Page, PageParams, page_params
from app.webhooks import service
from app.webhooks.auth import WebhookManage
from app.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint
from app.webhooks.schemas import (
    AttemptOut,
    DeliveryOut,
    EndpointCreate,
    EndpointOut,
    EndpointUpdate,
    EndpointWithSecret,
    SecretRotation,
)

router = APIRouter(
    prefix="/v1/webhook-endpoints",
    tags=["webhooks"],
    responses=problem_responses(401, 403, 404, 422),
)
Pagination = Annotated[PageParams, Depends(page_params)]


def _allow_private(request: Request) -> bool:
    return bool(request.app.state.settings.webhook_allow_private_urls)


def _with_secret(endpoint: WebhookEndpoint) -> EndpointWithSecret:
    return EndpointWithSecret.model_validate(
        {**EndpointOut.model_validate(endpoint).model_dump(), "secret": endpoint.secret}
    )


def _delivery_out(
    delivery: WebhookDelivery, attempts: list[AttemptOut] | None = None
) -> DeliveryOut:
    out = DeliveryOut.model_validate(delivery)
    out.attempt_log = attempts or []
    return out


@router.post(
    "",
    response_model=EndpointWithSecret,
    status_code=status.HTTP_201_CREATED,
    summary="Register a webhook endpoint",
)
async def create_endpoint(
    request: Request,
    session: Session,
    now: Now,
    caller: WebhookManage,
    idempotency: IdempotencyOf,
    body: EndpointCreate,
) -> EndpointWithSecret:
    """Subscribe an HTTPS URL to event types. The answer shows the signing secret once: every
    delivery carries `Techx-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`."""
    await idempotency.claim(caller)
    endpoint = await service.create_endpoint(
        session,
        caller,
        body,
        allow_private=_allow_private(request),
        now=now,
    )
    return await idempotency.remember(_with_secret(endpoint), status_code=201)


@router.get("", response_model=list[EndpointOut], summary="List your webhook endpoints")
async def list_endpoints(session: Session, caller: WebhookManage) -> list[EndpointOut]:
    """Your organizations' webhook endpoints (secrets are never shown again)."""
    return [EndpointOut.model_validate(e) for e in await service.list_endpoints(session, caller)]


@router.get("/{endpoint_id}", response_model=EndpointOut, summary="Get a webhook endpoint")
async def get_endpoint(
    session: Session, caller: WebhookManage, endpoint_id: uuid.UUID
) -> EndpointOut:
    """One webhook endpoint: URL, event types, state, and why it was disabled if it was."""
    return EndpointOut.model_validate(await service.get_endpoint_for(session, caller, endpoint_id))


@router.patch("/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint")
async def update_endpoint(
    request: Request,
    session: Session,
    caller: WebhookManage,
    endpoint_id: uuid.UUID,
    body: EndpointUpdate,
) -> EndpointOut:
    """Change the URL, the event types or the description; `state: active` re-enables an
    endpoint disabled after persistent failures (its pending deliveries then go out)."""
    endpoint = await service.update_endpoint(
        session, caller, endpoint_id, body, allow_private=_allow_private(request)
    )
    return EndpointOut.model_validate(endpoint)


@router.delete(
    "/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a webhook endpoint"
)
async def delete_endpoint(
    session: Session, caller: WebhookManage, endpoint_id: uuid.UUID
) -> Response:
    """Remove an endpoint and its delivery log; nothing more is sent to it."""
    await service.delete_endpoint(session, caller, endpoint_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{endpoint_id}/rotate-secret",
    response_model=EndpointWithSecret,
    summary="Rotate an endpoint's signing secret",
)
async def rotate_secret(
    session: Session,
    now: Now,
    caller: WebhookManage,
    endpoint_id: uuid.UUID,
    body: SecretRotation,
) -> EndpointWithSecret:
    """A new secret, shown once. Deliveries carry a `v1` signature with each of the two secrets
    until the old one expires, so you can deploy the new one without missing an event."""
    endpoint = await service.rotate_secret(
        session,
        caller,
        endpoint_id,
        previous_valid_for=timedelta(hours=body.previous_secret_valid_hours),
        now=now,
    )
    return _with_secret(endpoint)


@router.get(
    "/{endpoint_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="An endpoint's delivery log",
)
async def list_deliveries(
    session: Session,
    caller: WebhookManage,
    endpoint_id: uuid.UUID,
    pagination: Pagination,
    state: DeliveryState | None = None,
) -> Page[DeliveryOut]:
    """Every event sent (or being sent) to the endpoint, newest first: state, attempts, the
    last status code and error."""
    rows, cursor = await service.list_deliveries(
        session, caller, endpoint_id, pagination, state=state
    )
    return Page(items=[_delivery_out(row) for row in rows], next_cursor=cursor)


@router.get(
    "/{endpoint_id}/deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="A delivery with each attempt",
)
async def get_delivery(
    session: Session, caller: WebhookManage, endpoint_id: uuid.UUID, delivery_id: uuid.UUID
) -> DeliveryOut:
    """The body sent and each attempt: when, the status code, latency and an excerpt of the
    receiver's answer."""
    delivery, attempts = await service.get_delivery_for(session, caller, endpoint_id, delivery_id)
    return _delivery_out(delivery, [AttemptOut.model_validate(a) for a in attempts])


@router.post(
    "/{endpoint_id}/deliveries/{delivery_id}/replay",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Send a delivery again",
)
async def replay_delivery(
    session: Session,
    caller: WebhookManage,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
) -> DeliveryOut:
    """Queue the same event (same `id`, same body) for another attempt now."""
    delivery = await service.replay_delivery(session, caller, endpoint_id, delivery_id)
    return _delivery_out(delivery)
