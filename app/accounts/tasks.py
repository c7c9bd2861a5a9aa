"""The accounts' housekeeping: sign-in failures nobody repeated for a day are forgotten."""

from __future__ import annotations

import procrastinate

from app.accounts.throttle import purge_failures
from app.core.jobs import clock, sessionmaker

jobs = procrastinate.Blueprint()


@jobs.periodic(cron="23 * * * *", periodic_id="purge_sign_in_failures")
@jobs.task(name="purge_sign_in_failures", queue="maintenance")
async def purge_sign_in_failures(timestamp: int) -> int:
    """Hourly: forget sign-in failures with no block left and none for a day."""
    async with sessionmaker()() as session, session.begin():
        return await purge_failures(session, clock.wall())
