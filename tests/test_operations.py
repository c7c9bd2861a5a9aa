"""What a platform team watches: /metrics serves the platform's state read at each scrape (the
outbox's lag, the job queue, webhooks, auctions, filings, the pool) beside the process's own
counters, and every metric the dashboard and the alert rules in `deploy/` name is served."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import httpx
import yaml
from sqlalchemy import update

from app.auctions.models import Auction, AuctionState
from app.core.clock import FrozenClock
from app.core.outbox import record_event
from tests.factories import MarketFactory
from tests.scrape import samples

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
NAME = re.compile(r"\btechx_[a-z_]+")


def _served(text: str) -> set[str]:
    """Every metric name the exposition carries, with a family's sample suffixes."""
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            family, kind = line.split()[2:4]
            names.add(family)
            suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
            names.update(family + suffix for suffix in suffixes.get(kind, []))
        elif line and not line.startswith("#"):
            names.add(line.split("{")[0].split()[0])
    return names


def _named_in_deploy() -> set[str]:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    rules = yaml.safe_load((DEPLOY / "prometheus-alerts.yml").read_text(encoding="utf-8"))
    expressions = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    expressions += [rule["expr"] for group in rules["groups"] for rule in group["rules"]]
    return {name for expression in expressions for name in NAME.findall(expression)}


async def test_the_platform_state_is_served_and_the_dashboard_names_only_served_metrics(
    client: httpx.AsyncClient, factory: MarketFactory, clock: FrozenClock
) -> None:
    closing = await factory.auction(lasts=timedelta(minutes=50))
    await factory.auction(lasts=timedelta(hours=3))
    async with factory.sessionmaker() as session, session.begin():
        await session.execute(update(Auction).values(state=AuctionState.open))
        await record_event(session, "listing.published", {"listing_id": str(closing.id)})
    clock.advance(timedelta(minutes=7))  # the event has waited seven minutes for the relay

    scraped = await client.get("/metrics")

    assert scraped.status_code == 200
    text = scraped.text
    served = samples(text)
    assert served["techx_database_reachable"] == 1
    assert served["techx_outbox_backlog"] >= 1
    assert served["techx_outbox_lag_seconds"] >= 7 * 60
    assert served["techx_auctions_open"] == 2
    assert served["techx_auctions_closing_within_hour"] == 1
    missing = _named_in_deploy() - _served(text)
    assert missing == set()
    assert len(_named_in_deploy()) >= 12
