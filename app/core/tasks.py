"""The platform's housekeeping jobs: forget old Idempotency-Keys and rate-limit windows, put
back the jobs of workers that died, and log every relayed event."""

from __future__ import annotations

import procrastinate
import structlog
from procrastinate.exceptions import UniqueViolation
from procrastinate.jobs import Status

from app.core import idempotency, ratelimit
from app.core.jobs import clock, sessionmaker
from app.core.outbox import OutboxEvent, Subscribers

jobs = procrastinate.Blueprint()
subscribers = Subscribers()
logger = structlog.get_logger(__name__)

STALLED_AFTER_SECONDS = 30.0
"""A worker silent this long is dead (procrastinate's workers beat every 10 s and prune peers
silent for 30 s)."""


@jobs.periodic(cron="17 * * * *", periodic_id="purge_idempotency_keys")
@jobs.task(name="purge_idempotency_keys", queue="maintenance")
async def purge_idempotency_keys(timestamp: int) -> int:
    """Forget Idempotency-Keys older than 24 hours (hourly)."""
    async with sessionmaker()() as session, session.begin():
        return await idempotency.purge_expired(session, clock.wall())


@jobs.periodic(cron="* * * * *", periodic_id="retry_stalled_jobs")
@jobs.task(
    name="retry_stalled_jobs", queue="maintenance", queueing_lock="retry_stalled", pass_context=True
)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> int:
    """Every minute: put back the jobs of workers that died mid-job."""
    return await requeue_stalled_jobs(context.app, seconds_since_heartbeat=STALLED_AFTER_SECONDS)


async def requeue_stalled_jobs(app: procrastinate.App, *, seconds_since_heartbeat: float) -> int:
    """Requeue the jobs left `doing` by workers with no heartbeat for that long. A job's
    transaction died with its worker, and every job re-reads state and writes under unique keys
    and locks, so the rerun finishes the work once. When a twin already waits under the same
    queueing lock (a periodic run deferred since, as the daily filing's is at 00:05), the twin
    does that work and the dead job is closed as failed instead. Returns how many stalled jobs
    were put back or handed to their twin."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        try:
            await app.job_manager.retry_job(job)
        except UniqueViolation:
            logger.warning("job_stalled_twin_waits", job_id=job.id, task=job.task_name)
            await app.job_manager.finish_job(job, status=Status.FAILED, delete_job=False)
        else:
            logger.warning("job_stalled_requeued", job_id=job.id, task=job.task_name)
    return len(stalled)


@jobs.periodic(cron="*/5 * * * *", periodic_id="purge_rate_limit_counters")
@jobs.task(name="purge_rate_limit_counters", queue="maintenance")
async def purge_rate_limit_counters(timestamp: int) -> int:
    """Forget rate-limit windows that have passed (every five minutes)."""
    async with sessionmaker()() as session, session.begin():
        return await ratelimit.purge_counters(session, clock.wall())


@subscribers.on("*")
async def log_event(event: OutboxEvent) -> None:
    logger.info("domain_event", event_id=str(event.id), topic=event.topic)
