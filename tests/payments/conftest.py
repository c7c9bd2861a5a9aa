"""The app over HTTP as the Stripe tests call it: each module provides its `stripe_app` (Stripe
at respx's address, or at localstripe's)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from tests.conftest import served


@pytest.fixture
async def stripe_client(stripe_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with served(stripe_app) as http:
        yield http
