"""CORS: closed unless origins are configured, and then only for those origins."""

from __future__ import annotations

import httpx

from app.core.clock import FrozenClock
from app.core.config import Settings
from app.main import create_app

PREFLIGHT = {
    "Origin": "https://partner.example.cn",
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,idempotency-key",
}


async def _preflight(settings: Settings, clock: FrozenClock, origin: str) -> httpx.Response:
    app = create_app(settings, clock=clock)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        answer = await c.options("/v1/results", headers={**PREFLIGHT, "Origin": origin})
    await app.state.engine.dispose()
    return answer


async def test_no_origin_is_allowed_by_default(settings: Settings, clock: FrozenClock) -> None:
    answer = await _preflight(settings, clock, "https://partner.example.cn")

    assert "access-control-allow-origin" not in answer.headers


async def test_a_configured_origin_is_allowed_and_no_other(
    settings: Settings, clock: FrozenClock
) -> None:
    configured = settings.model_copy(update={"cors_origins": ["https://partner.example.cn"]})

    allowed = await _preflight(configured, clock, "https://partner.example.cn")
    other = await _preflight(configured, clock, "https://evil.example.com")

    assert allowed.headers["access-control-allow-origin"] == "https://partner.example.cn"
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
