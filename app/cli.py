"""`techx`: serve, worker, migrate, demo-data, create-admin.

Commands that start a service stop like one: SIGTERM (kill, systemd, docker stop) and SIGINT
(Ctrl-C) end uvicorn, the in-process worker and the embedded PostgreSQL, and a database that
is not at the newest migration is one line on stderr and exit status 2, not a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import getpass
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer

from app.core.config import Settings, get_settings

cli = typer.Typer(
    help="techexchange: the technology-transaction marketplace API.", no_args_is_help=True
)

# Keeps the embedded server handle alive for the life of the process.
_embedded: list[Any] = []


def _fail(message: str) -> typer.Exit:
    """One line on stderr and exit status 2: what is wrong and what to run."""
    typer.echo(f"techx: {message}", err=True)
    return typer.Exit(2)


def _settings() -> Settings:
    """Settings with a database: the configured one, or the embedded pgserver instance."""
    from pydantic import ValidationError

    try:
        settings = get_settings()
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(map(str, item['loc'])) or 'settings'}: {item['msg']}"
            for item in error.errors()
        )
        raise _fail(f"configuration refused: {problems}") from None
    if settings.database_url:
        return settings
    from app.core.embedded import embedded_database_url, start_embedded_postgres
    from app.core.jobs import use_database

    server = start_embedded_postgres(settings.data_dir)
    _embedded.append(server)
    url = embedded_database_url(server)
    use_database(url)
    # One process is all the embedded default runs: its rate limits can stay in memory.
    return settings.model_copy(update={"database_url": url, "rate_limit_storage": "memory"})


def _configure_logging(settings: Settings) -> None:
    from app.core.observability import configure_logging

    configure_logging(json_lines=settings.log_json, level=settings.log_level)


def _alembic_config(database_url: str) -> Any:
    from alembic.config import Config

    root = Path(__file__).resolve().parent.parent
    config = Config(str(root / "alembic.ini"))
    config.set_main_option("script_location", str(root / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def run_migrations(database_url: str) -> None:
    from alembic import command

    command.upgrade(_alembic_config(database_url), "head")


def _schema_problem(database_url: str) -> str | None:
    """What keeps this code from using the database, in one line (None: it is at the newest
    migration)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # the answer is the one line
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory
    from sqlalchemy import create_engine, pool
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import OperationalError

    scripts = ScriptDirectory.from_config(_alembic_config(database_url))
    head = scripts.get_current_head()
    url = make_url(database_url).set(drivername="postgresql+psycopg")
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else str(error)
        return f"cannot reach the database ({reason})"
    finally:
        engine.dispose()
    if current == head:
        return None
    run = "run `techx migrate` (or `techx serve --migrate`)"
    if current is None:
        return f"the database has no schema yet: {run}"
    if current not in {script.revision for script in scripts.walk_revisions()}:
        return (
            f"the database is at revision {current}, which this version of techexchange does "
            "not know: install the newer version"
        )
    return f"the database is at revision {current}, behind the newest ({head}): {run}"


def _require_schema(settings: Settings) -> None:
    assert settings.database_url
    problem = _schema_problem(settings.database_url)
    if problem is not None:
        raise _fail(problem)


class _Stopped(Exception):
    """SIGTERM or SIGINT arrived: the service stops, as asked."""


def _stop_on_signals(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signum)


@contextlib.contextmanager
def _service() -> Iterator[None]:
    """Run a long-lived command: SIGTERM and SIGINT end it cleanly (exit 0) — uvicorn, which
    shuts down gracefully first, hands the signal back to these handlers — and the embedded
    PostgreSQL is left (stopped, if this was its last user) however the command ends."""
    from app.core.embedded import stop_embedded_postgres

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, _stop_on_signals)
    try:
        yield
    except _Stopped:
        pass
    finally:
        for number in (signal.SIGTERM, signal.SIGINT):
            signal.signal(number, signal.SIG_IGN)  # a second signal must not cut the cleanup
        while _embedded:
            stop_embedded_postgres(_embedded.pop())


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
    workers: Annotated[
        int | None, typer.Option(min=1, help="API processes (default: one per core).")
    ] = None,
    with_worker: Annotated[bool, typer.Option(help="Run the job worker in this process.")] = False,
    migrate_first: Annotated[
        bool, typer.Option("--migrate", help="Migrate before serving.")
    ] = False,
    demo: Annotated[bool, typer.Option(help="Seed demo data if the database is empty.")] = False,
) -> None:
    """Serve the API with uvicorn (SIGTERM or Ctrl-C stops it, and the embedded database)."""
    import uvicorn

    with _service():
        settings = _settings()
        _configure_logging(settings)
        assert settings.database_url
        if migrate_first:
            run_migrations(settings.database_url)
        _require_schema(settings)
        if demo:
            from app.demo import print_credentials, seed_if_empty

            seeded = asyncio.run(seed_if_empty(settings))
            if seeded is not None:
                print_credentials(seeded)
        asyncio.run(_index_if_empty(settings))
        processes = workers or os.cpu_count() or 1
        options: dict[str, Any] = {
            "host": host or settings.host,
            "port": port or settings.port,
            "log_config": None,
            # Our middleware logs each request with its id. uvicorn's own access line, even
            # when its logger is disabled, is formatted on every request (the path quoted, the
            # client's address) once any handler is installed.
            "access_log": False,
            "proxy_headers": True,
            # A response's head and body in one write (see app/core/transport.py).
            "http": "app.core.transport:CoalescingHttpProtocol",
        }
        if processes == 1:
            uvicorn.run(
                _served_app(settings.model_copy(update={"serve_with_worker": with_worker})),
                **options,
            )
            return
        # Each process builds its app from the environment (uvicorn spawns them): the database
        # this one found or started, counts shared through it, the worker if asked.
        os.environ["DATABASE_URL"] = settings.database_url
        os.environ["RATE_LIMIT_STORAGE"] = "postgres"
        os.environ["SERVE_WITH_WORKER"] = "true" if with_worker else "false"
        uvicorn.run("app.cli:served_app", factory=True, workers=processes, **options)


def served_app() -> Any:
    """The app of one API process that `techx serve --workers N` started."""
    _end_with_parent()
    settings = get_settings()
    _configure_logging(settings)
    return _served_app(settings)


def _end_with_parent() -> None:
    """Ask Linux to send this process SIGTERM when the process that started it dies: a
    supervisor killed outright (SIGKILL, the OOM killer) must not leave API processes serving
    on its port with nobody to stop them."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _served_app(settings: Settings) -> Any:
    from app.core.jobs import use_clock
    from app.main import create_app

    app = create_app(settings)
    # One clock in the process: the jobs this process runs (its worker, a sandbox move's
    # catch-up) read the app's.
    use_clock(app.state.clock)
    if settings.serve_with_worker:
        app.router.lifespan_context = _with_worker(app.router.lifespan_context)
    return app


async def _index_if_empty(settings: Settings) -> None:
    """Build the search index when it is empty: after seeding (which writes no outbox events)
    or on data from before the index existed. Later changes arrive through the outbox."""
    from app.core.clock import SystemClock
    from app.core.db import create_engine, create_sessionmaker
    from search import service
    from search.backend import SearchUnavailable

    engine = create_engine(settings.database_url or "", pool_size=2)
    try:
        sessionmaker = create_sessionmaker(engine, SystemClock())
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
    """Run a job worker (outbox relay and every scheduled job); SIGTERM stops it after the
    jobs in hand."""
    from app.core.clock import SandboxClock
    from app.core.jobs import use_clock
    from app.sandbox.follower import ClockFollower
    from workers.app import worker_app

    async def run(settings: Settings) -> None:
        follower = None
        if settings.sandbox:
            clock = SandboxClock()
            follower = ClockFollower(settings.database_url or "", clock)
            await follower.start()
            use_clock(clock)
        try:
            async with worker_app.open_async():
                await worker_app.run_worker_async(concurrency=concurrency)
        finally:
            if follower is not None:
                await follower.stop()

    with _service():
        settings = _settings()
        _configure_logging(settings)
        _require_schema(settings)
        asyncio.run(run(settings))


@cli.command("demo-data")
def demo_data() -> None:
    """Create the demo market — organizations, people of every role, brokers, a catalogue and a
    year of history up to a live auction — and print the logins and where to look."""
    from app.demo import print_credentials, seed

    settings = _settings()
    _require_schema(settings)
    print_credentials(asyncio.run(seed(settings)))


@cli.command()
def reindex(
    check: Annotated[
        bool, typer.Option("--check", help="Only report drift; change nothing.")
    ] = False,
) -> None:
    """Rebuild the search index from the database, or (--check) report how it has drifted."""
    from app.core.clock import SystemClock
    from app.core.db import create_engine, create_sessionmaker
    from app.listings import service as listings_service
    from search import service

    settings = _settings()
    _configure_logging(settings)
    _require_schema(settings)

    async def run() -> int:
        engine = create_engine(settings.database_url or "", pool_size=2)
        sessionmaker = create_sessionmaker(engine, SystemClock())
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
    from app.core.clock import SystemClock
    from app.core.db import create_engine, create_sessionmaker
    from app.payments import service

    settings = _settings()
    _configure_logging(settings)
    assert settings.database_url

    async def run() -> int:
        engine = create_engine(settings.database_url or "", pool_size=1)
        try:
            async with create_sessionmaker(engine, SystemClock())() as session:
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
    from app.core.clock import SystemClock

    settings = _settings()
    assert settings.database_url
    from pydantic import ValidationError

    from app.core.errors import DomainError

    secret = password or getpass.getpass("Password: ")
    try:
        user_id = asyncio.run(
            create_platform_admin(settings.database_url, email, secret, name, SystemClock())
        )
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
