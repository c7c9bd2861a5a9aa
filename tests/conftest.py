"""One real PostgreSQL per test session (pgserver, or TEST_DATABASE_URL), migrated once; each
test starts from empty tables and talks to the real app over HTTP (httpx ASGI transport)."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from app.cli import run_migrations
from app.core.clock import FrozenClock, SystemClock
from app.core.config import Settings
from app.core.db import Base, create_engine, create_sessionmaker
from app.core.jobs import use_clock
from app.main import create_app
from tests.factories import MarketFactory

START = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
SECRET = "test-signing-key-" + "x" * 32


@pytest.fixture(scope="session")
def database_server() -> Iterator[Any]:
    """The embedded server (None when TEST_DATABASE_URL points elsewhere)."""
    if os.environ.get("TEST_DATABASE_URL"):
        yield None
        return
    from app.core.embedded import start_embedded_postgres

    with tempfile.TemporaryDirectory(prefix="techx-test-") as directory:
        server = start_embedded_postgres(Path(directory), cleanup="delete")
        yield server
        # Stop it now, while its directory still exists (its own atexit hook would be late).
        server.cleanup()


@pytest.fixture(scope="session")
def database_url(database_server: Any) -> str:
    if database_server is None:
        url = os.environ["TEST_DATABASE_URL"]
    else:
        from app.core.embedded import embedded_database_url

        url = embedded_database_url(database_server, "techx_test")
    run_migrations(url)
    from app.core.jobs import use_database

    use_database(url)
    return url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        secret_key=SecretStr(SECRET),
        max_body_bytes=64 * 1024,
        data_dir=Path(tempfile.gettempdir()) / "techx-test-data",
    )


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pool_size=2)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine, clock: FrozenClock) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine, clock)


@pytest.fixture(autouse=True)
async def empty_tables(engine: AsyncEngine) -> None:
    tables = ", ".join(f'"{table.name}"' for table in Base.metadata.sorted_tables)
    async with engine.begin() as connection:
        await connection.execute(
            text(f"TRUNCATE {tables}, procrastinate_jobs RESTART IDENTITY CASCADE")
        )


@pytest.fixture
def clock() -> Iterator[FrozenClock]:
    """The test's clock: the app's, and the jobs' too (as `techx serve --with-worker` shares
    its clock with the worker in its process)."""
    frozen = FrozenClock(START)
    use_clock(frozen)
    yield frozen
    use_clock(SystemClock())


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    yield application
    await application.state.engine.dispose()


@asynccontextmanager
async def served(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client of `app` in this process (httpx over ASGI), as the API tests reach an app."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://techx.test") as http:
        yield http


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with served(app) as http:
        yield http


@pytest.fixture
def factory(sessionmaker: async_sessionmaker[AsyncSession], clock: FrozenClock) -> MarketFactory:
    return MarketFactory(sessionmaker, signing_key=SECRET, clock=clock)


def later(clock: FrozenClock, **delta: float) -> None:
    clock.advance(timedelta(**delta))


def new_id() -> str:
    return str(uuid.uuid4())
