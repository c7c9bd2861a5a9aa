"""`techx`: serve, worker, migrate, demo-data, create-admin."""

from __future__ import annotations

import asyncio
import contextlib
import getpass
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import typer

from app.core.config import Settings, get_settings

cli = typer.Typer(
    help="techexchange: the technology-transaction marketplace API.", no_args_is_help=True
)

# Keeps the embedded server handle alive for the life of the process.
_embedded: list[Any] = []


def _settings() -> Settings:
    """Settings with a database: the configured one, or the embedded pgserver instance."""
    settings = get_settings()
    if settings.database_url:
        return settings
    from app.core.embedded import embedded_database_url, start_embedded_postgres
    from workers.app import use_database

    server = start_embedded_postgres(settings.data_dir)
    _embedded.append(server)
    url = embedded_database_url(server)
    use_database(url)
    # One process is all the embedded default runs: its rate limits can stay in memory.
    return settings.model_copy(update={"database_url": url, "rate_limit_storage": "memory"})


def _configure_logging(settings: Settings) -> None:
    from app.core.observability import configure_logging

    configure_logging(json_lines=settings.log_json, level=settings.log_level)


def run_migrations(database_url: str) -> None:
    from alembic import command
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    command.upgrade(config, "head")


@cli.command()
def migrate() -> None:
    """Apply every database migration (alembic upgrade head)."""
    settings = _settings()
    _configure_logging(settings)
    assert settings.database_url
    run_migrations(settings.database_url)
    typer.echo("database is at the latest revision")


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to bind.")] = None,
    with_worker: Annotated[bool, typer.Option(help="Run the job worker in this process.")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate", help="Migrate before serving.")
    ] = False,
    demo: Annotated[bool, typer.Option(help="Seed demo data if the database is empty.")] = False,
) -> None:
    """Serve the API with uvicorn."""
    import uvicorn

    from app.main import create_app

    settings = _settings()
    _configure_logging(settings)
    assert settings.database_url
    if migrate_first:
        run_migrations(settings.database_url)
    if demo:
        from app.demo import print_credentials, seed_if_empty

        seeded = asyncio.run(seed_if_empty(settings.database_url))
        if seeded is not None:
            print_credentials(seeded)
    asyncio.run(_index_if_empty(settings))
    app = create_app(settings)
    if with_worker:
        app.router.lifespan_context = _with_worker(app.router.lifespan_context)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=True,
    )


async def _index_if_empty(settings: Settings) -> None:
    """Build the search index when it is empty: after seeding (which writes no outbox events)
    or on data from before the index existed. Later changes arrive through the outbox."""
    from app.core.db import create_engine, create_sessionmaker
    from search import service
    from search.backend import SearchUnavailable

    engine = create_engine(settings.database_url or "", pool_size=2)
    try:
        sessionmaker = create_sessionmaker(engine)
        backend = service.backend_for(settings, sessionmaker)
        if not await backend.indexed_versions():
            indexed = await service.reindex(sessionmaker, backend)
            typer.echo(f"search index built: {indexed} listings")
    except SearchUnavailable:
        typer.echo("search is unavailable; run `techx reindex` once it is up", err=True)
    finally:
        await engine.dispose()


def _with_worker(inner: Any) -> Any:
    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        from workers.app import worker_app

        async with worker_app.open_async(), inner(app):
            task = asyncio.create_task(
                worker_app.run_worker_async(install_signal_handlers=False, concurrency=2)
            )
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    return lifespan


@cli.command()
def worker(
    concurrency: Annotated[int, typer.Option(min=1, help="Jobs run at once.")] = 4,
) -> None:
    """Run a job worker (outbox relay and every scheduled job)."""
    settings = _settings()
    _configure_logging(settings)
    from workers.app import worker_app

    async def run() -> None:
        async with worker_app.open_async():
            await worker_app.run_worker_async(concurrency=concurrency)

    asyncio.run(run())


@cli.command("demo-data")
def demo_data() -> None:
    """Create demo organizations, people of every role and brokers; print their logins."""
    from app.demo import print_credentials, seed

    settings = _settings()
    assert settings.database_url
    print_credentials(asyncio.run(seed(settings.database_url)))


@cli.command()
def reindex(
    check: Annotated[
        bool, typer.Option("--check", help="Only report drift; change nothing.")
    ] = False,
) -> None:
    """Rebuild the search index from the database, or (--check) report how it has drifted."""
    from app.core.db import create_engine, create_sessionmaker
    from app.listings import service as listings_service
    from search import service

    settings = _settings()
    _configure_logging(settings)
    assert settings.database_url

    async def run() -> int:
        engine = create_engine(settings.database_url or "", pool_size=2)
        sessionmaker = create_sessionmaker(engine)
        backend = service.backend_for(settings, sessionmaker)
        try:
            if check:
                report = await service.drift(sessionmaker, backend)
                typer.echo(
                    f"missing {len(report.missing)}, stale {len(report.stale)}, "
                    f"extra {len(report.extra)}"
                )
                return 0 if report.clean else 1
            async with sessionmaker() as session:
                expected = await listings_service.count_indexable(session)
            with typer.progressbar(length=expected, label="indexing") as bar:
                total = await service.reindex(sessionmaker, backend, progress=bar.update)
            typer.echo(f"indexed {total} listings")
            return 0
        finally:
            await engine.dispose()

    raise typer.Exit(asyncio.run(run()))


@cli.command("ledger-check")
def ledger_check() -> None:
    """Reconcile the ledger: every journal balanced, each deal's account equal to what was
    received for it less what was paid out. Exits 1 and lists what does not reconcile."""
    from app.core.db import create_engine, create_sessionmaker
    from app.payments import service

    settings = _settings()
    _configure_logging(settings)
    assert settings.database_url

    async def run() -> int:
        engine = create_engine(settings.database_url or "", pool_size=1)
        try:
            async with create_sessionmaker(engine)() as session:
                problems = await service.reconcile(session)
        finally:
            await engine.dispose()
        for problem in problems:
            typer.echo(f"{problem.what}: off by {problem.amount_fen} fen")
        typer.echo("ledger reconciles" if not problems else f"{len(problems)} problem(s)")
        return 1 if problems else 0

    raise typer.Exit(asyncio.run(run()))


@cli.command("create-admin")
def create_admin(
    email: Annotated[str, typer.Option(prompt=True, help="The admin's email.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "平台管理员",
    password: Annotated[str | None, typer.Option(help="Password; asked for when omitted.")] = None,
) -> None:
    """Create a platform administrator (and the platform organization if there is none)."""
    from app.accounts.demo import create_platform_admin

    settings = _settings()
    assert settings.database_url
    from pydantic import ValidationError

    from app.core.errors import DomainError

    secret = password or getpass.getpass("Password: ")
    try:
        user_id = asyncio.run(create_platform_admin(settings.database_url, email, secret, name))
    except DomainError as error:
        problem = error.problem("en", "create-admin")
        details = "; ".join(f"{e['field']}: {e['message']}" for e in problem.get("errors", []))
        typer.echo(f"error: {problem['title']}. {details}", err=True)
        raise typer.Exit(1) from None
    except ValidationError as error:
        for item in error.errors():
            typer.echo(f"error: {'.'.join(map(str, item['loc']))}: {item['msg']}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"platform admin {email} ({user_id})")


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
