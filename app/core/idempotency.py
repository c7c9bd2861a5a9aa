"""Idempotency keys: a POST retried with the same `Idempotency-Key` gets the first answer.

The key is claimed with an INSERT in the request's own transaction, before the work: a second
request with the same key waits on that row until the first commits, then replays its stored
answer. The answer is stored in the same transaction as the change it reports, so a change is
never made twice and never reported without having been made. A request that fails stores
nothing (its transaction rolls back), so retrying it runs it again. Keys live 24 hours of wall
time (`Clock.wall`): clients retry in real time, even in a sandbox whose clock jumped a month.

Routes use it explicitly, so a reader sees it:

    await idempotency.claim(caller)
    ...
    return await idempotency.remember(answer, status_code=201)

A change made by one statement and nothing else (a bid) takes the key without a session
(`RequestKeyOf`) and claims it in that statement instead, with its answer: the key's row, read
beforehand, is decided on by `check_used`, and `stored_row` is what the statement inserts.
The row's primary key does what the claim's INSERT does — a key already used makes the whole
statement fail, and nothing is changed twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Annotated, Any, TypeVar

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import DateTime, String, bindparam, delete, select, tuple_, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from app.core.auth import Principal
from app.core.clock import Clock
from app.core.db import Base, Session
from app.core.errors import Conflict, DomainError, FieldError
from app.core.reads import PreparedRead, ReadPool, Transient

KEY_LIFETIME = timedelta(hours=24)
Answer = TypeVar("Answer", bound=BaseModel | list[Any])


def _json(answer: BaseModel | list[Any]) -> Any:
    if isinstance(answer, list):
        return [item.model_dump(mode="json") for item in answer]
    return answer.model_dump(mode="json")


class IdempotencyKey(Base):
    """A claimed key and, once the request committed, the answer it got."""

    __tablename__ = "idempotency_keys"

    owner: Mapped[str] = mapped_column(String(60), primary_key=True)
    """Who used the key ("user:<id>" or "api_key:<id>"): keys of different callers never meet."""
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    """SHA-256 of the method, path and canonical body."""
    status_code: Mapped[int | None]
    response: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime]


class IdempotencyKeyReused(DomainError):
    status, code = 422, "idempotency_key_reused"
    detail_code = "detail.idempotency_key_reused"

    def __init__(self) -> None:
        super().__init__(errors=[FieldError("header.idempotency-key", "idempotency_key_reused")])


class Replay(Exception):
    """Raised by `claim` when the key has an answer already; answered by `replay_response`."""

    def __init__(self, status_code: int, body: Any) -> None:
        super().__init__(status_code)
        self.status_code = status_code
        self.body = body


def _owner(principal: Principal | None) -> str:
    if principal is None:
        # Signing up has no caller yet: keys are shared, but a replay needs the same body —
        # the same email and password — so it tells nobody anything they did not send.
        return "anonymous"
    return principal.subject


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"))
"""Sorted, compact JSON: made once (`json.dumps` with options makes an encoder per call)."""


def _canonical(body: bytes) -> bytes:
    """The body as sorted, compact JSON, or as it came when it is not JSON (or not UTF-8)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return body
    return _CANONICAL.encode(parsed).encode()


@dataclass(frozen=True)
class Asked:
    """What a request asked — its method, path and body — as far as a replay must repeat it."""

    method: str
    path: str
    body: bytes

    def fingerprint(self) -> str:
        """SHA-256 of the method, the path and the canonical body."""
        digest = hashlib.sha256()
        for part in (self.method.encode(), self.path.encode(), _canonical(self.body)):
            digest.update(part + b"\0")
        return digest.hexdigest()


class RequestKey:
    """The Idempotency-Key of one request (or none: then every call runs) and the fingerprint
    of what it asked, for a change made by one statement (a bid): the key's row is read with
    what the change decides on (`check_used`) and inserted by the statement that makes it
    (`stored_row`)."""

    def __init__(self, key: str | None, asked: Asked, now: datetime) -> None:
        self.key = key
        self.asked = asked
        self.now = now
        self.owner: str | None = None

    @cached_property
    def fingerprint(self) -> str:
        """The fingerprint of what the request asked (`Asked.fingerprint`), worked out when the
        key's row is first decided on or written: most bids are refused before either."""
        return self.asked.fingerprint()

    def used_key(self, principal: Principal) -> tuple[str, str] | None:
        """The key as its row names it — (owner, key) — for a change that claims it in its own
        statement; None without a key."""
        if self.key is None:
            return None
        self.owner = _owner(principal)
        return self.owner, self.key

    def check_used(self, used: IdempotencyKey | None) -> bool:
        """Decide on the key's row as a read found it (none: the key is new). Raises Replay
        with the stored answer, IdempotencyKeyReused or Conflict; True when the row expired
        and must be forgotten (`forget_expired`) before the key is used again."""
        return used is not None and self._expired(used)

    def stored_row(self, answer: BaseModel, *, status_code: int) -> dict[str, Any] | None:
        """The key's row, answer included, for the statement that makes the change (none
        without a key)."""
        if self.key is None or self.owner is None:
            return None
        return {
            "owner": self.owner,
            "key": self.key,
            "fingerprint": self.fingerprint,
            "status_code": status_code,
            "response": _json(answer),
            "created_at": self.now.isoformat(),
        }

    async def used_row(self, reads: ReadPool) -> IdempotencyKey | None:
        """The key's row as it stands (a statement claiming the key found it taken)."""
        row = await reads.one(_USED, owner=self.owner, key=self.key)
        return _key_row(row) if row is not None else None

    async def forget_expired(self, reads: ReadPool) -> None:
        """Forget this request's key, expired (`check_used` said so), so that it may be used
        afresh: a statement of its own (a forgotten expired key is no loss, whatever happens
        to the request)."""
        await reads.run(
            _FORGET_EXPIRED, owner=self.owner, key=self.key, expired_by=self.now - KEY_LIFETIME
        )

    def _expired(self, existing: IdempotencyKey) -> bool:
        """True when the key's row outlived its lifetime (the key may be used afresh); else
        the answer to give: Replay, IdempotencyKeyReused or Conflict."""
        if existing.created_at <= self.now - KEY_LIFETIME:
            return True
        if existing.fingerprint != self.fingerprint:
            raise IdempotencyKeyReused()
        if existing.status_code is None:
            # Committed without an answer (a route that forgot `remember`): running it again
            # could repeat the change, so refuse.
            raise Conflict()
        raise Replay(existing.status_code, existing.response)


class Idempotency(RequestKey):
    """The Idempotency-Key of a request whose change is its session's transaction: claimed in
    it before the work (`claim`), its answer stored with the change (`remember`)."""

    def __init__(self, session: AsyncSession, key: str | None, asked: Asked, now: datetime) -> None:
        super().__init__(key, asked, now)
        self.session = session

    async def claim(self, principal: Principal | None) -> None:
        """Claim the key for this request, or raise Replay with the stored answer, or
        IdempotencyKeyReused when the key came with a different request."""
        if self.key is None:
            return
        self.owner = _owner(principal)
        claimed = await self.session.scalar(
            insert(IdempotencyKey)
            .values(
                owner=self.owner,
                key=self.key,
                fingerprint=self.fingerprint,
                created_at=self.now,
            )
            .on_conflict_do_nothing()
            .returning(IdempotencyKey.key)
        )
        if claimed is not None:
            return
        existing = await self.session.scalar(
            select(IdempotencyKey)
            .where(IdempotencyKey.owner == self.owner, IdempotencyKey.key == self.key)
            .with_for_update()
        )
        assert existing is not None  # the conflicting row committed before our insert returned
        if self._expired(existing):
            existing.fingerprint = self.fingerprint
            existing.created_at = self.now
            existing.status_code = existing.response = None

    async def remember(self, answer: Answer, *, status_code: int) -> Answer:
        """Store the answer (a model or a list of them) with the key, in the request's
        transaction, and return it."""
        if self.key is not None and self.owner is not None:
            # One UPDATE, no read first: the row was claimed in this very transaction.
            await self.session.execute(
                update(IdempotencyKey)
                .where(IdempotencyKey.owner == self.owner, IdempotencyKey.key == self.key)
                .values(status_code=status_code, response=_json(answer))
            )
        return answer


_USED = PreparedRead(
    select(IdempotencyKey).where(
        IdempotencyKey.owner == bindparam("owner"), IdempotencyKey.key == bindparam("key")
    )
)
_key_row = Transient(IdempotencyKey)
_FORGET_EXPIRED = PreparedRead(
    delete(IdempotencyKey).where(
        IdempotencyKey.owner == bindparam("owner"),
        IdempotencyKey.key == bindparam("key"),
        IdempotencyKey.created_at <= bindparam("expired_by", type_=DateTime(timezone=True)),
    )
)


KeyHeader = Annotated[
    str | None,
    Header(
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="Retry-safe key (printable ASCII, ≤ 255): the same key and body within "
        "24 h returns the first answer; the same key with another body is a 422.",
    ),
]


async def _asked(request: Request) -> Asked:
    return Asked(request.method, request.scope["path"], await request.body())


async def _request_key(request: Request, idempotency_key: KeyHeader = None) -> RequestKey:
    clock: Clock = request.app.state.clock
    return RequestKey(idempotency_key, await _asked(request), clock.wall())


async def _idempotency(
    request: Request, session: Session, idempotency_key: KeyHeader = None
) -> Idempotency:
    clock: Clock = request.app.state.clock
    return Idempotency(session, idempotency_key, await _asked(request), clock.wall())


RequestKeyOf = Annotated[RequestKey, Depends(_request_key)]
"""The request's key for a change made by one statement, outside the request's session."""
IdempotencyOf = Annotated[Idempotency, Depends(_idempotency)]
"""The request's key, claimed in the request's session (`claim`, `remember`)."""


async def purge_expired(session: AsyncSession, wall_now: datetime) -> int:
    """Forget keys older than their lifetime, by the wall clock. A key some request holds now
    (reclaiming it) is skipped, never waited for."""
    stale = (
        select(IdempotencyKey.owner, IdempotencyKey.key)
        .where(IdempotencyKey.created_at <= wall_now - KEY_LIFETIME)
        .with_for_update(skip_locked=True)
    )
    result = await session.execute(
        delete(IdempotencyKey).where(tuple_(IdempotencyKey.owner, IdempotencyKey.key).in_(stale))
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


async def _replay_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Replay)
    return JSONResponse(
        exc.body, status_code=exc.status_code, headers={"Idempotent-Replayed": "true"}
    )


def install_replay_handler(app: FastAPI) -> None:
    app.add_exception_handler(Replay, _replay_handler)
