"""Which jobs and subscribers the worker runs: every package's own (`tasks.py`), gathered here
in one place, and the relay job that hands committed outbox events to the subscribers.

A package's jobs are registered under its name (`auctions:advance_auction`); the name each job
had before the packages held their own tasks stays an alias, so jobs queued by an earlier
release still run.
"""

from __future__ import annotations

import procrastinate

from app.accounts import tasks as accounts
from app.auctions import tasks as auctions
from app.brokers import tasks as brokers
from app.challenges import tasks as challenges
from app.core import tasks as core
from app.core.jobs import clock, sessionmaker
from app.core.outbox import Subscribers
from app.demands import tasks as demands
from app.integrations import tasks as integrations
from app.listings import tasks as listings
from app.tax import tasks as tax
from app.webhooks import tasks as webhooks
from search import tasks as search
from workers.relay import relay_pending

SUBSCRIBERS = Subscribers.gathered(
    core.subscribers,
    listings.subscribers,
    auctions.subscribers,
    brokers.subscribers,
    tax.subscribers,
    webhooks.subscribers,
    search.subscribers,
    demands.subscribers,
    challenges.subscribers,
    integrations.subscribers,
)
"""Every package's outbox subscribers; an event goes to its topic's, in this order, then to
those of "*"."""

relay = procrastinate.Blueprint()


@relay.periodic(cron="* * * * *", periodic_id="relay_outbox")
@relay.task(name="relay_outbox", queue="outbox", queueing_lock="relay_outbox")
async def relay_outbox(timestamp: int) -> int:
    """Relay committed outbox events to their subscribers (every minute)."""
    return await relay_pending(sessionmaker(), clock.now, SUBSCRIBERS)


JOBS = {
    "workers": relay,
    "core": core.jobs,
    "accounts": accounts.jobs,
    "listings": listings.jobs,
    "auctions": auctions.jobs,
    "challenges": challenges.jobs,
    "tax": tax.jobs,
    "webhooks": webhooks.jobs,
}
"""Each package's jobs by the namespace they are registered under."""


def register(app: procrastinate.App) -> None:
    """Give `app` every package's jobs, each also under the name it had before (an alias)."""
    for namespace, blueprint in JOBS.items():
        earlier = dict(blueprint.tasks)
        app.add_tasks_from(blueprint, namespace=namespace)
        for name, task in earlier.items():
            app.add_task_alias(task, name)
