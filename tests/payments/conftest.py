"""The app over HTTP as the Stripe tests call it: each module provides its `stripe_app` (Stripe
at respx's address, or at localstripe's)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI


@pytest.fixture
async def stripe_client(stripe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=stripe_app), base_url="http://techx.test"
    ) as http:
        yield http
