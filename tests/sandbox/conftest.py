"""Sandbox tests run on the sandbox clock only: the real system time, moved by the API."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from fastapi import FastAPI

from app.core.clock import SandboxClock, SystemClock
from app.core.config import Settings
from app.core.jobs import use_clock
from app.main import create_app


@pytest.fixture
def clock() -> Iterator[SandboxClock]:  # type: ignore[override]
    """This process's sandbox clock, shared by the app and the jobs as under `make run`."""
    sandbox = SandboxClock()
    use_clock(sandbox)
    yield sandbox
    use_clock(SystemClock())


@pytest.fixture
def sandbox_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"sandbox": True, "webhook_allow_private_urls": True})


@pytest.fixture
async def app(sandbox_settings: Settings, clock: SandboxClock) -> AsyncIterator[FastAPI]:
    application = create_app(sandbox_settings, clock=clock)
    yield application
    await application.state.engine.dispose()
