"""A second factor for platform staff (TOTP, RFC 6238, with `pyotp`).

Staff roles (reviewer, registrar, finance, admin) act with the `platform` scope, and a
sign-in gets that scope only with a valid code of a confirmed factor (or a recovery code):
a stolen password alone signs a reviewer in as a plain person. Enrolment gives the secret (as
an `otpauth://` URI for an authenticator app) and ten recovery codes, shown once and stored
hashed; a code confirms it. Each code is accepted once (the step it was accepted for is kept),
each recovery code once. A platform admin may reset another person's factor (who then enrols
anew). Enrolment, confirmation, each verification at sign-in and reset announce themselves (and
so are in the audit trail).

Anyone may enrol: an organization's owners may require a second factor of their members
(`Organization.second_factor_required`), and a sign-in that proved one says so in its tokens
(`amr`, RFC 8176).
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
import structlog
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts.models import RecoveryCode, TotpFactor, User
from app.core import audit, security
from app.core.auth import PlatformRole, Principal
from app.core.errors import AlreadyExists, InvalidCredentials, NotFound, ValidationFailed
from app.core.outbox import record_event
from app.core.sealing import Sealer, Unreadable

logger = structlog.get_logger(__name__)

ISSUER = "techexchange"
SEALING_PURPOSE = "totp-secrets"
RECOVERY_CODES = 10
STEP_SECONDS = 30
WINDOW = 1
"""Codes of the step before and after are accepted too (clock drift of a phone)."""


@dataclass(frozen=True)
class Enrolment:
    secret: str
    otpauth_uri: str
    recovery_codes: list[str]


def _recovery_code() -> str:
    raw = secrets.token_hex(5)  # 40 bits, as `xxxxx-xxxxx`
    return f"{raw[:5]}-{raw[5:]}"


async def enrol(
    session: AsyncSession, principal: Principal, *, sealer: Sealer, now: datetime
) -> Enrolment:
    """A new secret and recovery codes for the caller (replacing an unconfirmed enrolment).
    Raises AlreadyExists(totp) when a confirmed factor is in place (an admin resets it)."""
    assert principal.user_id is not None
    factor = await session.get(TotpFactor, principal.user_id, with_for_update=True)
    if factor is not None and factor.confirmed_at is not None:
        raise AlreadyExists("totp")
    user = await session.get(User, principal.user_id)
    assert user is not None
    secret = pyotp.random_base32()
    if factor is None:
        session.add(TotpFactor(user_id=user.id, sealed_secret=sealer.seal(secret), created_at=now))
    else:
        factor.sealed_secret, factor.last_used_step = sealer.seal(secret), None
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = [_recovery_code() for _ in range(RECOVERY_CODES)]
    for code in codes:
        session.add(RecoveryCode(user_id=user.id, code_hash=security.digest(code)))
    await record_event(session, "totp.enrolled", {"user_id": str(user.id)})
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Enrolment(secret, uri, codes)


async def confirm(
    session: AsyncSession, principal: Principal, code: str, *, sealer: Sealer, now: datetime
) -> None:
    """Confirm the caller's enrolment with a code from the app. Raises NotFound (nothing
    enrolled), ValidationFailed(body.code) for a code that is not valid now."""
    assert principal.user_id is not None
    factor = await session.get(TotpFactor, principal.user_id, with_for_update=True)
    if factor is None:
        raise NotFound()
    if not _accept(factor, code, sealer, now):
        raise ValidationFailed("body.code", "totp_invalid")
    factor.confirmed_at = factor.confirmed_at or now
    await record_event(session, "totp.confirmed", {"user_id": str(factor.user_id)})


async def reset(
    session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, now: datetime
) -> None:
    """A platform admin removes another person's factor and recovery codes. Raises Forbidden,
    NotFound (no factor), ValidationFailed(user_id) for one's own."""
    principal.require_platform_role(PlatformRole.admin)
    if user_id == principal.user_id:
        raise ValidationFailed("path.user_id", "not_your_own")
    removed = await session.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
    if not removed.rowcount:  # type: ignore[attr-defined]
        raise NotFound()
    await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))
    await record_event(session, "totp.reset", {"user_id": str(user_id), "at": now.isoformat()})


async def second_factor(
    session: AsyncSession, user_id: uuid.UUID, code: str | None, *, sealer: Sealer, now: datetime
) -> bool:
    """Whether a sign-in proved the second factor: a current code of a confirmed factor, or an
    unused recovery code (spent now), recorded as `totp.verified` with the method. No code:
    False. Raises InvalidCredentials for a code that is given and wrong, reused or spent, so a
    guess costs as a wrong password does."""
    if not code:
        return False
    factor = await session.get(TotpFactor, user_id, with_for_update=True)
    if factor is None or factor.confirmed_at is None:
        raise InvalidCredentials()
    if code.isdigit():
        if not _accept(factor, code, sealer, now):
            raise InvalidCredentials()
        await _verified(session, user_id, "totp")
        return True
    spent = await session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user_id,
            RecoveryCode.code_hash == security.digest(code.strip().lower()),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .returning(RecoveryCode.id)
    )
    if spent.first() is None:
        raise InvalidCredentials()
    left = await session.scalar(
        select(func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
    )
    await _verified(session, user_id, "recovery_code", recovery_codes_left=left)
    return True


async def _verified(
    session: AsyncSession, user_id: uuid.UUID, method: str, **details: object
) -> None:
    """Record a proved second factor, as the person who proved it (a sign-in has no caller
    yet)."""
    audit.act_as(Principal(kind="user", user_id=user_id, scopes=frozenset()))
    await record_event(
        session, "totp.verified", {"user_id": str(user_id), "method": method, **details}
    )


def _accept(factor: TotpFactor, code: str, sealer: Sealer, now: datetime) -> bool:
    """Whether `code` is valid at `now` (± `WINDOW` steps) for a step after the last accepted
    one; remembers the step, so the same code is refused next time. A secret sealed under
    another `SECRET_KEY` accepts nothing (an admin resets the factor)."""
    try:
        secret = sealer.open(factor.sealed_secret)
    except Unreadable:
        logger.warning("totp_secret_unreadable", user_id=str(factor.user_id))
        return False
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    step = int(now.timestamp()) // STEP_SECONDS
    for candidate in range(step - WINDOW, step + WINDOW + 1):
        if factor.last_used_step is not None and candidate <= factor.last_used_step:
            continue
        if secrets.compare_digest(totp.generate_otp(candidate), code):
            factor.last_used_step = candidate
            return True
    return False
