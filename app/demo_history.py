"""A year of the demo market, walked through the API and dated from the clock.

The real app runs in this process on a frozen clock that starts a year back. Each story — a
patent sold at its listed price, a development contract, an auction — is written in its own
time line (`await h.at(instant)`); the history plays them together as a discrete-event
simulation: it always moves the clock to the earliest instant a story waits for, and on the way
the worker's due work runs in time order (`workers.catch_up.run_until`) — windows close,
auctions open and settle, rewards are computed, periods are filed — as it would have. Webhook
deliveries are queued, not sent: the server's worker sends them for real once it runs.

It ends now: an auction open with bids and a proxy bid, ending in about two hours; another
scheduled; a contract awaiting its second signature; a year of registered, paid contracts;
approved broker claims and a buyer's post-subsidy with their rewards, some paid; the demo
university's submitted filings of the last closed periods; a demand with matches; a webhook
endpoint with deliveries; an open challenge (揭榜挂帅) awarded, its development contract signed,
and another published, taking proposals.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import uuid
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts.demo import ORGANIZATIONS
from app.core.auth import ALL_SCOPES
from app.core.clock import FrozenClock, beijing_date, beijing_time, month_start
from app.core.config import Settings
from app.core.jobs import dispose_engines, using_clock
from app.core.security import issue_access_token
from app.main import create_app
from app.payments.provider import PaymentProvider
from app.results.identifiers import patent_check_character
from workers.catch_up import job_queue, run_due, run_until

DIVISIONS = {organization.key: organization.division_code for organization in ORGANIZATIONS}
WEBHOOK_URL = "https://erp.xibao.example/hooks/techx"
"""The demo enterprise's ERP: a reserved name (RFC 2606), so deliveries fail until its owner
points the endpoint at a real receiver and replays them."""

REVIEWER, REGISTRAR, FINANCE = "reviewer@techx.demo", "registrar@techx.demo", "finance@techx.demo"
BROKER = "broker1@agency.techx.demo"
OWNERS = {
    "imu": "tto@imu.techx.demo",
    "imut": "tto@imut.techx.demo",
    "imau": "tto@imau.techx.demo",
    "imust": "tto@imust.techx.demo",
    "rare_earth_institute": "office@ree.techx.demo",
    "rare_earth": "cto@magnet.techx.demo",
    "wind": "rd@wind.techx.demo",
    "dairy": "rd@dairy.techx.demo",
    "coal_chemicals": "rd@coal.techx.demo",
    "mongolian_medicine": "rd@mmpharma.techx.demo",
}


@dataclass
class DemoMarket:
    """What the history left to look at."""

    live_auction_id: str = ""
    live_auction_ends_at: datetime | None = None
    scheduled_auction_id: str = ""
    awaiting_signature_deal_id: str = ""
    registered_deal_ids: list[str] = field(default_factory=list)
    demand_id: str = ""
    awarded_challenge_id: str = ""
    open_challenge_id: str = ""
    webhook_endpoint_id: str = ""
    submitted_filing_ids: list[str] = field(default_factory=list)


TYPICAL_SUBTYPES = {
    "development": "commissioned_development",  # 委托开发
    "transfer": "technical_secret",  # know-how (技术秘密)
    "licence": "technical_secret",
    "consulting": "consulting",
    "service": "technical_service",
}
"""The registration form's sub-type the demo's (and the tests') contracts of each type have."""


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


class History:
    """The app on a frozen clock that only moves forward, the people who use it, and the
    stories waiting for their next instant."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        maker: async_sessionmaker[AsyncSession],
        clock: FrozenClock,
        provider: PaymentProvider,
        tokens: dict[str, str],
        organizations: dict[str, uuid.UUID],
        now: datetime,
    ) -> None:
        self.http, self.maker, self.clock, self.provider = http, maker, clock, provider
        self.tokens, self.organizations = tokens, organizations
        self.now = now
        """The present, where the history ends."""
        self.market = DemoMarket()
        self._waiting: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()

    # --- time ----------------------------------------------------------------------------

    async def at(self, instant: datetime) -> None:
        """Wait until the history reaches `instant` (at once if it is past)."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._waiting, (instant, next(self._order), future))
        self._changed.set()
        await future

    async def play(self, *stories: Coroutine[Any, Any, None]) -> None:
        """Run the stories together, always releasing the one that waits for the earliest
        instant once every story is waiting; then move on to the present."""
        tasks = [asyncio.create_task(story) for story in stories]
        for task in tasks:
            task.add_done_callback(lambda _: self._changed.set())
        try:
            while True:
                await self._changed.wait()
                self._changed.clear()
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise task.exception()  # type: ignore[misc]
                running = sum(not task.done() for task in tasks)
                if not running:
                    break
                if len(self._waiting) < running:
                    continue  # a story is still at work
                instant, _, released = heapq.heappop(self._waiting)
                await self._advance(instant)
                released.set_result(None)
        finally:
            for task in tasks:
                task.cancel()
        await self._advance(self.now)

    async def _advance(self, instant: datetime) -> None:
        async def step_to(step: datetime) -> None:
            self.clock.set(step)

        if instant > self.clock.now():
            await run_until(self.maker, self.clock, step_to, self.provider, None, instant)
            self.clock.set(instant)
        await run_due(self.maker, self.clock, self.provider, None, since=instant, every=False)

    # --- the API, as the people use it ---------------------------------------------------

    async def call(self, method: str, path: str, who: str, **body: Any) -> Any:
        response = await self.http.request(
            method,
            path,
            json=body or None,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
        )
        if response.status_code >= 400:
            raise RuntimeError(f"demo history: {method} {path} as {who}: {response.text}")
        return response.json() if response.content else None

    def org(self, key: str) -> str:
        return str(self.organizations[key])

    async def publish(
        self,
        seller: str,
        title: str,
        field_code: str,
        ipc: str,
        *,
        price: str,
        mode: str = "fixed_price",
        patent: str | None = None,
    ) -> dict[str, Any]:
        """A result (an invention patent when `patent` gives its twelve digits, else know-how)
        and its listing, submitted by the owner and published by the reviewer."""
        owner = OWNERS[seller]
        result = await self.call(
            "POST",
            "/v1/results",
            owner,
            organization_id=self.org(seller),
            title=title,
            abstract=f"{title}：已完成中试验证，可提供工艺包、技术指导与人员培训。",
            keywords=[title[:4]],
            kind="invention_patent" if patent else "technical_secret",
            ip_number=f"{patent}.{patent_check_character(patent)}" if patent else None,
            ipc_codes=[ipc],
            legal_status="granted" if patent else "not_applicable",
            field_code=field_code,
            trl=7,
            publicly_funded=True,
            division_code=DIVISIONS[seller],
            inventors=[{"name": "王明", "share": "60"}, {"name": "李华", "share": "40"}],
        )
        listing = await self.call(
            "POST",
            "/v1/listings",
            owner,
            result_id=result["id"],
            mode=mode,
            transfer_type="assignment",
            price=cny(price),
            window_days=15,
        )
        await self.call("POST", f"/v1/listings/{listing['id']}/submit", owner)
        published: dict[str, Any] = await self.call(
            "POST", f"/v1/listings/{listing['id']}/approve", REVIEWER
        )
        return published

    async def intent(self, listing: dict[str, Any], buyer: str) -> None:
        await self.call(
            "POST",
            f"/v1/listings/{listing['id']}/intents",
            OWNERS[buyer],
            organization_id=self.org(buyer),
        )

    async def after_window(self, listing: dict[str, Any], hours: int) -> None:
        await self.at(datetime.fromisoformat(listing["window_ends_at"]) + timedelta(hours=hours))

    async def deal_of(self, listing: dict[str, Any], buyer: str) -> str:
        deals = (await self.call("GET", "/v1/deals?limit=100", OWNERS[buyer]))["items"]
        return str(next(deal["id"] for deal in deals if deal["listing_id"] == listing["id"]))

    async def auction_of(self, listing: dict[str, Any]) -> dict[str, Any]:
        auctions = (await self.call("GET", "/v1/auctions?limit=100", REVIEWER))["items"]
        found: dict[str, Any] = next(a for a in auctions if a["listing_id"] == listing["id"])
        return found

    async def agreed_off_platform(self, seller: str, buyer: str, price: str) -> str:
        deal = await self.call(
            "POST",
            "/v1/deals",
            OWNERS[buyer],
            source="off_platform",
            seller_organization_id=self.org(seller),
            buyer_organization_id=self.org(buyer),
            price=cny(price),
        )
        return str(deal["id"])

    async def contract(
        self,
        deal_id: str,
        seller: str,
        buyer: str | None,
        kind: str,
        subject: str,
        milestones: list[str],
    ) -> None:
        """Drafted by the seller and signed by it, then by the buyer (None: not yet)."""
        today = beijing_date(self.clock.now())
        total = str(sum(int(amount) for amount in milestones))
        drafted = await self.call(
            "PUT",
            f"/v1/deals/{deal_id}/contract",
            OWNERS[seller],
            contract_type=kind,
            subtype=TYPICAL_SUBTYPES[kind],
            technology_field="new_materials",
            subject=subject,
            content=f"{subject}：甲乙双方就技术内容、交付、验收、付款与保密约定如下。",
            total=cny(total),
            transaction_amount=cny(total),
            starts_on=today.isoformat(),
            ends_on=today.replace(year=today.year + 2).isoformat(),
            milestones=[
                {"amount": cny(amount), "due_on": (today + timedelta(days=60 * n)).isoformat()}
                for n, amount in enumerate(milestones, start=1)
            ],
        )
        version = drafted["versions"][-1]["number"]
        for side in (seller, buyer):
            if side is not None:
                await self.call("POST", f"/v1/deals/{deal_id}/sign", OWNERS[side], version=version)

    async def sold_at_listed_price(
        self,
        listing: dict[str, Any],
        seller: str,
        buyer: str,
        subject: str,
        milestones: list[str],
        *,
        signed_by_buyer: bool = True,
    ) -> str:
        """The buyer registers the only intent two days after publication; the window closes
        into a deal at the listed price; the transfer contract is drafted and signed, and once
        both have signed, registered. Returns the deal."""
        await self.at(datetime.fromisoformat(listing["published_at"]) + timedelta(days=2))
        await self.intent(listing, buyer)
        await self.after_window(listing, hours=9)
        deal = await self.deal_of(listing, buyer)
        signer = buyer if signed_by_buyer else None
        await self.contract(deal, seller, signer, "transfer", subject, milestones)
        if signed_by_buyer:
            await self.register(deal)
        return deal

    async def agreed(
        self, seller: str, buyer: str, kind: str, subject: str, milestones: list[str]
    ) -> str:
        """A contract agreed off the platform, recorded by the buyer, signed and registered."""
        price = str(sum(int(amount) for amount in milestones))
        deal = await self.agreed_off_platform(seller, buyer, price)
        await self.contract(deal, seller, buyer, kind, subject, milestones)
        await self.register(deal)
        return deal

    async def register(self, deal_id: str) -> None:
        await self.call("POST", f"/v1/deals/{deal_id}/register", REGISTRAR, decision="register")
        self.market.registered_deal_ids.append(deal_id)

    async def pay(self, deal_id: str, milestone: int, buyer: str) -> None:
        asked = await self.call(
            "POST", f"/v1/deals/{deal_id}/payments", OWNERS[buyer], milestone=milestone
        )
        await self.call("POST", f"/v1/payments/{asked['id']}/confirm", FINANCE)

    async def broker_claim(self, deal_id: str, party: str, role: str, share: str) -> None:
        """The broker claims attribution, a party confirms, the reviewer approves."""
        claim = await self.call(
            "POST",
            "/v1/broker-claims",
            BROKER,
            kind="broker",
            deal_id=deal_id,
            role=role,
            share=share,
        )
        await self.call("POST", f"/v1/broker-claims/{claim['id']}/confirm", OWNERS[party])
        await self.call("POST", f"/v1/broker-claims/{claim['id']}/approve", REVIEWER)


async def walk_the_year(
    settings: Settings,
    organizations: dict[str, uuid.UUID],
    people: dict[str, uuid.UUID],
    now: datetime,
) -> DemoMarket:
    """A year of the market through the API, ending `now`."""
    # The first sale is paid in the last calendar year, so the university has an income-tax
    # filing of the last closed year to show.
    last_december = month_start(beijing_time(now).year - 1, 12) + timedelta(days=9, hours=10)
    first_paid = min(now - timedelta(days=330), last_december)
    start = first_paid - timedelta(days=30)
    clock = FrozenClock(start)
    # An internal run of the app: no sandbox routes, no rate limits to trip.
    quiet = settings.model_copy(
        update={
            "sandbox": False,
            "rate_limit_storage": "memory",
            "rate_limits": {"search": 10**6, "writes": 10**6, "bids": 10**6},
        }
    )
    app = create_app(quiet, clock=clock)
    tokens = {
        email: issue_access_token(
            user_id=user_id,
            family_id=uuid.uuid4(),
            scopes=ALL_SCOPES,
            now=start,
            ttl=timedelta(days=800),
            key=app.state.signing_key,
        )
        for email, user_id in people.items()
    }
    transport = httpx.ASGITransport(app=app)
    try:
        with using_clock(clock), _quietly():
            async with (
                job_queue(),
                httpx.AsyncClient(transport=transport, base_url="http://demo.techx") as http,
            ):
                h = History(
                    http,
                    app.state.sessionmaker,
                    clock,
                    app.state.payments,
                    tokens,
                    organizations,
                    now,
                )
                await h.play(
                    _magnets(h, first_paid),
                    _alumina(h),
                    _probiotics(h),
                    _blade_inspection(h),
                    _extraction(h),
                    _liquid_cooling(h),
                    _polishing_powder(h),
                    _live_auction(h),
                    _scheduled_auction(h),
                    _reward_payouts(h),
                    _wind_icing_challenge(h),
                    _open_challenge(h),
                    _the_last_hour(h),
                )
    finally:
        await app.state.engine.dispose()
        await dispose_engines()
    return h.market


@contextmanager
def _quietly() -> Iterator[None]:
    """A year of requests and events is not news: the history logs warnings only."""
    names = ("techx.request", "workers", "procrastinate", "httpx")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


# --- the stories ---------------------------------------------------------------------------


async def _magnets(h: History, first_paid: datetime) -> None:
    """内蒙古大学's NdFeB patent to 稀宝永磁 at the listed price, brought about by a broker;
    the buyer applies for the Inner Mongolia post-subsidy (内科发成字〔2021〕12号)."""
    await h.at(first_paid - timedelta(days=26))
    listing = await h.publish(
        "imu",
        "高矫顽力烧结钕铁硼磁体晶界扩散技术",
        "new_materials.rare_earths",
        "H01F 1/057",
        price="800000",
        patent="202110123456",
    )
    deal = await h.sold_at_listed_price(
        listing, "imu", "rare_earth", "高矫顽力钕铁硼磁体制备技术转让", ["400000", "400000"]
    )
    await h.at(first_paid)
    await h.pay(deal, 1, "rare_earth")
    await h.broker_claim(deal, "imu", "matching", "60")
    subsidy = await h.call(
        "POST",
        "/v1/broker-claims",
        OWNERS["rare_earth"],
        kind="party",
        deal_id=deal,
        organization_id=h.org("rare_earth"),
    )
    await h.call("POST", f"/v1/broker-claims/{subsidy['id']}/approve", REVIEWER)
    await h.at(first_paid + timedelta(days=75))
    await h.pay(deal, 2, "rare_earth")


async def _alumina(h: History) -> None:
    """内蒙古科技大学's fly-ash alumina know-how to 煤化新材料."""
    await h.at(h.now - timedelta(days=300))
    listing = await h.publish(
        "imust",
        "高铝粉煤灰酸法提取氧化铝工艺",
        "energy_saving.resource_recycling",
        "C01F 7/20",
        price="300000",
    )
    deal = await h.sold_at_listed_price(
        listing, "imust", "coal_chemicals", "粉煤灰提取氧化铝工艺技术转让", ["300000"]
    )
    await h.at(h.now - timedelta(days=270))
    await h.pay(deal, 1, "coal_chemicals")


async def _probiotics(h: History) -> None:
    """草原乳源 commissions 内蒙古大学 to breed a probiotic starter (委托开发): the buyer's R&D
    super-deduction."""
    await h.at(h.now - timedelta(days=220))
    deal = await h.agreed(
        "imu", "dairy", "development", "益生菌发酵剂菌种选育委托开发", ["200000", "250000"]
    )
    await h.at(h.now - timedelta(days=205))
    await h.pay(deal, 1, "dairy")
    await h.at(h.now - timedelta(days=110))
    await h.pay(deal, 2, "dairy")


async def _blade_inspection(h: History) -> None:
    """内蒙古工业大学 inspects 风云风电's blades by drone (技术服务)."""
    await h.at(h.now - timedelta(days=150))
    deal = await h.agreed("imut", "wind", "service", "风电叶片无人机巡检技术服务", ["120000"])
    await h.at(h.now - timedelta(days=140))
    await h.pay(deal, 1, "wind")


async def _extraction(h: History) -> None:
    """内蒙古大学's Mongolian-medicine extraction patent to 通辽蒙药, by the broker again."""
    await h.at(h.now - timedelta(days=125))
    listing = await h.publish(
        "imu",
        "蒙药复方有效成分超临界萃取方法",
        "biomedicine.mongolian_chinese_medicine",
        "A61K 36/00",
        price="500000",
        patent="202210567890",
    )
    deal = await h.sold_at_listed_price(
        listing, "imu", "mongolian_medicine", "蒙药有效成分萃取方法专利转让", ["250000", "250000"]
    )
    await h.at(h.now - timedelta(days=95))
    await h.pay(deal, 1, "mongolian_medicine")
    await h.broker_claim(deal, "mongolian_medicine", "negotiation", "50")
    await h.at(h.now - timedelta(days=40))
    await h.pay(deal, 2, "mongolian_medicine")


async def _liquid_cooling(h: History) -> None:
    """风云风电 commissions 内蒙古大学's liquid cooling; paid last month too, so the university
    has a VAT filing of the last closed month."""
    this_month = month_start(beijing_time(h.now).year, beijing_time(h.now).month)
    await h.at(h.now - timedelta(days=50))
    deal = await h.agreed(
        "imu", "wind", "development", "数据中心液冷系统委托开发", ["130000", "130000"]
    )
    await h.at(h.now - timedelta(days=46))
    await h.pay(deal, 1, "wind")
    await h.at(this_month - timedelta(days=10))
    await h.pay(deal, 2, "wind")


async def _polishing_powder(h: History) -> None:
    """包头稀土新材料研究院's polishing powder to 稀宝永磁: the contract awaits the buyer's
    signature."""
    await h.at(h.now - timedelta(days=20))
    listing = await h.publish(
        "rare_earth_institute",
        "高性能稀土抛光粉制备工艺",
        "new_materials.rare_earths",
        "C09K 3/14",
        price="1200000",
    )
    h.market.awaiting_signature_deal_id = await h.sold_at_listed_price(
        listing,
        "rare_earth_institute",
        "rare_earth",
        "稀土抛光粉制备工艺转让",
        ["600000", "600000"],
        signed_by_buyer=False,
    )


async def _live_auction(h: History) -> None:
    """内蒙古工业大学's de-icing system at auction: two bidders with deposits, a proxy bid,
    open now and ending in about two hours."""
    await h.at(h.now - timedelta(days=19))
    listing = await h.publish(
        "imut",
        "风电机组叶片覆冰监测与除冰系统",
        "new_energy.wind",
        "F03D 80/40",
        price="2000000",
        mode="auction",
        patent="202310234567",
    )
    await h.after_window(listing, hours=1)
    auction = await h.auction_of(listing)
    # The seller brings the start forward and gives it a two-hour evening.
    ends_at = h.now + timedelta(hours=2)
    await h.call(
        "PATCH",
        f"/v1/auctions/{auction['id']}",
        OWNERS["imut"],
        starts_at=(h.now - timedelta(minutes=40)).isoformat(),
        ends_at=ends_at.isoformat(),
    )
    for hours, bidder in ((26, "rare_earth"), (22, "wind")):
        await h.at(h.now - timedelta(hours=hours))
        deposit = await h.call(
            "POST",
            f"/v1/auctions/{auction['id']}/deposits",
            OWNERS[bidder],
            organization_id=h.org(bidder),
        )
        await h.at(h.now - timedelta(hours=hours - 3))  # the bank transfer arrives
        await h.call(
            "POST", f"/v1/auctions/{auction['id']}/deposits/{deposit['id']}/confirm", FINANCE
        )
    await h.at(h.now - timedelta(minutes=30))
    await h.call(
        "POST",
        f"/v1/auctions/{auction['id']}/proxy-bids",
        OWNERS["rare_earth"],
        maximum=cny("2300000"),
        organization_id=h.org("rare_earth"),
    )
    for minutes, amount in ((20, "2050000"), (8, "2150000")):
        await h.at(h.now - timedelta(minutes=minutes))
        await h.call(
            "POST",
            f"/v1/auctions/{auction['id']}/bids",
            OWNERS["wind"],
            amount=cny(amount),
            organization_id=h.org("wind"),
        )
    h.market.live_auction_id, h.market.live_auction_ends_at = auction["id"], ends_at


async def _scheduled_auction(h: History) -> None:
    """内蒙古科技大学's catalyst regeneration: its window has closed, the auction starts in a day
    or two."""
    await h.at(h.now - timedelta(days=17))
    listing = await h.publish(
        "imust",
        "煤制烯烃催化剂再生工艺",
        "coal_chemicals.coal_to_olefins",
        "B01J 38/00",
        price="900000",
        mode="auction",
    )
    await h.after_window(listing, hours=1)
    h.market.scheduled_auction_id = (await h.auction_of(listing))["id"]


async def _reward_payouts(h: History) -> None:
    """A month ago finance paid the rewards computed up to the end of the month 75 days back;
    the one computed on the extraction patent's second payment (40 days back, always a later
    month) waits for the next run."""
    await h.at(h.now - timedelta(days=30))
    period = beijing_time(h.now - timedelta(days=75)).strftime("%Y-%m")
    await h.call("POST", "/v1/payouts", FINANCE, period=period)


def _proposal(approach: str, price: int, first_due: datetime) -> dict[str, Any]:
    """A proposal paid in two milestones (a prototype, then field validation)."""
    half = price // 2
    return {
        "approach": approach,
        "team": [{"name": "项目负责人", "role": "教授"}, {"name": "技术骨干", "role": "副研究员"}],
        "schedule": "第一阶段完成样机与实验室验证，第二阶段完成现场验证与验收。",
        "milestones": [
            {
                "description": "样机交付与实验室验证",
                "due_on": beijing_date(first_due).isoformat(),
                "amount": cny(str(half)),
            },
            {
                "description": "现场验证与验收",
                "due_on": beijing_date(first_due + timedelta(days=180)).isoformat(),
                "amount": cny(str(price - half)),
            },
        ],
        "price": cny(str(price)),
    }


async def _published_challenge(
    h: History, owner: str, need: dict[str, Any], window_days: int, **terms: Any
) -> str:
    """An enterprise's need (技术需求) posted, made a challenge with `terms`, and published by the
    reviewer; returns the challenge's id."""
    demand = await h.call(
        "POST",
        "/v1/demands",
        OWNERS[owner],
        organization_id=h.org(owner),
        division_code=DIVISIONS[owner],
        **need,
    )
    challenge = await h.call(
        "POST", "/v1/challenges", OWNERS[owner], demand_id=demand["id"], **terms
    )
    await h.call(
        "POST", f"/v1/challenges/{challenge['id']}/approve", REVIEWER, window_days=window_days
    )
    return str(challenge["id"])


async def _wind_icing_challenge(h: History) -> None:
    """风电叶片除冰 (揭榜挂帅): the wind-turbine maker's need published as a challenge; three
    universities propose; two staff experts score; the owner awards the first ranked; no
    objection in the publicity period, so the deal opens with a drafted development contract,
    which both sign."""
    await h.at(h.now - timedelta(days=150))
    wind = OWNERS["wind"]
    due = h.clock.now() + timedelta(days=40)
    h.market.awarded_challenge_id = await _published_challenge(
        h,
        "wind",
        {
            "title": "风电叶片低温除冰技术",
            "description": "乌兰察布风场冬季叶片结冰导致停机，寻求叶片除冰系统或防冰涂层技术。",
            "field_code": "new_energy.wind",
            "budget_max": cny("1200000"),
        },
        10,
        problem="风电叶片冬季结冰导致停机，需在零下三十度保持叶片无冰运行，除冰能耗可控。",
        indicators=[
            {"name": "除冰时间", "target": "≤ 30 分钟"},
            {"name": "除冰能耗", "target": "≤ 额定功率的 5%"},
        ],
        budget_min=cny("600000"),
        budget_max=cny("1200000"),
        proposals_due_at=due.isoformat(),
    )
    url = f"/v1/challenges/{h.market.awarded_challenge_id}"
    for expert in (REVIEWER, REGISTRAR):
        user = await h.call("GET", "/v1/me", expert)
        await h.call("POST", f"{url}/experts", REVIEWER, user_id=user["user"]["id"])
    await h.at(h.clock.now() + timedelta(days=5))
    first_due = due + timedelta(days=150)
    proposals = {
        "imut": _proposal(
            "电热膜分区加热与超疏水涂层复合方案，结冰探测联动按需启停。", 980000, first_due
        ),
        "imu": _proposal(
            "叶片内腔热风循环除冰方案，利用机舱余热，辅以防冰涂层。", 860000, first_due
        ),
        "imust": _proposal(
            "超声导波除冰方案，压电换能器阵列激励叶片表面冰层剥离。", 1150000, first_due
        ),
    }
    for seller, body in proposals.items():
        await h.call(
            "POST", f"{url}/proposals", OWNERS[seller], organization_id=h.org(seller), **body
        )
    await h.at(due + timedelta(hours=3))
    submitted = await h.call("GET", f"{url}/proposals", REVIEWER)
    scores = {  # per submitting organization: the two experts' marks out of 40, 25, 20, 15
        h.org("imut"): ((36, 22, 17, 12), (35, 21, 18, 12)),
        h.org("imu"): ((33, 21, 16, 13), (34, 20, 16, 13)),
        h.org("imust"): ((30, 18, 15, 10), (31, 17, 14, 10)),
    }
    criteria = ("technical_indicators", "research_basis", "industrial_impact", "price")
    for proposal in submitted:
        for expert, marks in zip(
            (REVIEWER, REGISTRAR), scores[proposal["organization_id"]], strict=True
        ):
            await h.call(
                "POST",
                f"/v1/proposals/{proposal['id']}/scores",
                expert,
                scores=dict(zip(criteria, map(str, marks), strict=True)),
                no_conflict=True,
            )
    ranking = await h.call("GET", f"{url}/ranking", wind)
    award = await h.call("POST", f"{url}/award", wind, proposal_id=ranking[0]["proposal_id"])
    await h.at(datetime.fromisoformat(award["publicity_ends_at"]) + timedelta(hours=10))
    deal_id = (await h.call("GET", f"{url}/award", wind))["deal_id"]
    for party in (OWNERS["imut"], wind):
        await h.call("POST", f"/v1/deals/{deal_id}/sign", party, version=1)


async def _open_challenge(h: History) -> None:
    """A dairy's need published as a challenge, taking proposals for another three weeks; a
    university and an institute have proposed (private to them until the deadline)."""
    await h.at(h.now - timedelta(days=12))
    h.market.open_challenge_id = await _published_challenge(
        h,
        "dairy",
        {
            "title": "低温乳清蛋白浓缩与益生菌微胶囊技术",
            "description": "寻求乳清蛋白膜分离浓缩与益生菌微胶囊包埋技术，提升产品货架期活菌数。",
            "field_code": "modern_agriculture.dairy",
            "budget_max": cny("800000"),
        },
        7,
        problem="常温酸奶货架期内益生菌活菌数衰减过快，需要耐酸耐热的微胶囊包埋工艺。",
        indicators=[{"name": "货架期末活菌数", "target": "≥ 1×10^6 CFU/g"}],
        prize=cny("500000"),
        proposals_due_at=(h.now + timedelta(days=21)).isoformat(),
    )
    url = f"/v1/challenges/{h.market.open_challenge_id}"
    await h.at(h.now - timedelta(days=3))
    first_due = h.now + timedelta(days=200)
    for seller, approach, price in (
        ("imau", "海藻酸钠-乳清蛋白双层微胶囊包埋，喷雾干燥工艺放大。", 480000),
        ("rare_earth_institute", "静电喷雾微胶囊化方案，低温成型保护菌体活性。", 450000),
    ):
        await h.call(
            "POST",
            f"{url}/proposals",
            OWNERS[seller],
            organization_id=h.org(seller),
            **_proposal(approach, price, first_due),
        )


async def _the_last_hour(h: History) -> None:
    """A demand with matches, a webhook endpoint, and the university's filings of the last
    closed month and year submitted."""
    await h.at(h.now - timedelta(hours=1))
    demand = await h.call(
        "POST",
        "/v1/demands",
        OWNERS["coal_chemicals"],
        organization_id=h.org("coal_chemicals"),
        title="煤化工高盐废水零排放技术",
        description="寻求煤化工高盐废水膜浓缩与蒸发结晶的成套技术，要求吨水处理成本可控。",
        field_code="energy_saving.pollution_control",
        division_code=DIVISIONS["coal_chemicals"],
        budget_max=cny("3000000"),
    )
    h.market.demand_id = demand["id"]
    endpoint = await h.call(
        "POST",
        "/v1/webhook-endpoints",
        OWNERS["rare_earth"],
        url=WEBHOOK_URL,
        event_types=[
            "auction.bid_placed",
            "auction.extended",
            "auction.closed",
            "deal.opened",
            "contract.signed",
            "contract.registered",
            "payment.received",
        ],
        description="稀宝永磁 ERP（示例地址：改为你的接收地址后重放投递）",
        organization_id=h.org("rare_earth"),
    )
    h.market.webhook_endpoint_id = endpoint["id"]
    await h.at(h.now - timedelta(minutes=5))
    imu = OWNERS["imu"]
    filings = await h.call("GET", f"/v1/tax/filings?taxpayer_id={h.org('imu')}&limit=100", imu)
    latest: dict[str, dict[str, Any]] = {}
    for filing in filings["items"]:
        kept = latest.get(filing["kind"])
        if filing["kind"] in {"vat_exemption", "eit_transfer_income"} and (
            kept is None or filing["period"] > kept["period"]
        ):
            latest[filing["kind"]] = filing
    for filing in latest.values():
        await h.call("POST", f"/v1/tax/filings/{filing['id']}/submit", imu)
        h.market.submitted_filing_ids.append(filing["id"])
