"""Rules of the tax package: computing filings from registered contracts and received money
(each kind's content: `eit`, `vat`, `super_deduction`, `reward_relief`; submission: `submission`).

A filing's content is built from the facts of its period only, in a canonical form (sorted
keys, money as decimal strings, no timestamps), so recomputing unchanged inputs yields the
same bytes. A change before submission rewrites the draft; after submission it creates the
next version — an amendment carrying the difference — and marks the earlier one amended.
Computations of one taxpayer, kind and period are serialized by an advisory lock (and a unique
key), so many workers never duplicate a filing.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import (
    ColumnElement,
    DateTime,
    bindparam,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.accounts import queries as accounts
from app.accounts.models import Organization
from app.core.auth import PlatformRole, Principal
from app.core.db import among
from app.core.errors import NotFound, ValidationFailed
from app.core.outbox import record_events
from app.core.pagination import PageParams, paginate
from app.deals import queries as deals
from app.deals.models import ContractType
from app.payments import queries as payments
from app.tax.contents import (
    Builder,
    canonical,
)
from app.tax.eit import eit_bodies
from app.tax.models import Filing, FilingKind, FilingState
from app.tax.periods import SUPPORTED, period_bounds, vat_period_of
from app.tax.reward_relief import reward_relief_bodies
from app.tax.super_deduction import super_deduction_bodies
from app.tax.vat import vat_bodies

CHUNK = 2500
"""Taxpayers computed per transaction at the period end: memory stays bounded by the chunk,
not by the year's million contracts."""
logger = structlog.get_logger(__name__)


BUILDERS: dict[FilingKind, Builder] = {
    FilingKind.researcher_reward_relief: reward_relief_bodies,
    FilingKind.eit_transfer_income: eit_bodies,
    FilingKind.vat_exemption: vat_bodies,
    FilingKind.rd_super_deduction: super_deduction_bodies,
}


# --- filings ---------------------------------------------------------------------------------


def _difference(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    keys = sorted(set(before) | set(after))
    return {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in keys
        if before.get(key) != after.get(key)
    }


def _amending(content: dict[str, Any], amended: Filing) -> dict[str, Any]:
    """The content of an amendment of `amended`: what it amends and how the totals changed."""
    return {
        **content,
        "amends_version": amended.version,
        "difference": _difference(amended.content["totals"], content["totals"]),
    }


async def _lock(
    session: AsyncSession, kind: FilingKind, period: str, taxpayers: Sequence[uuid.UUID]
) -> None:
    """Serialize the computation of each (taxpayer, kind, period) across workers. The locks are
    taken in the order of their hashes, the same order in every worker, so two workers with
    overlapping chunks wait for each other instead of deadlocking."""
    await session.execute(
        text(
            "SELECT pg_advisory_xact_lock(held.key) FROM "
            "(SELECT DISTINCT hashtext(name) AS key FROM unnest(CAST(:names AS text[])) AS name) "
            "AS held ORDER BY held.key"
        ),
        {"names": [f"{taxpayer}:{kind}:{period}" for taxpayer in taxpayers]},
    )


async def compute_filings(
    session: AsyncSession,
    taxpayer_ids: Iterable[uuid.UUID],
    kind: FilingKind,
    period: str,
    *,
    now: datetime,
) -> dict[uuid.UUID, uuid.UUID | None]:
    """Compute (or recompute) the filings of these taxpayers for one closed period, reading
    their facts in a few set-based queries; returns the id of each one's current version, or
    None when it has nothing to file. Idempotent: unchanged inputs change nothing. Raises
    ValidationFailed(period) for an open or malformed period, or one no rule set of the kind
    covers."""
    if kind not in SUPPORTED:
        raise ValidationFailed("body.kind", "filing_kind_not_supported")
    start, end = period_bounds(kind, period)
    if end > now:
        raise ValidationFailed("body.period", "period_not_closed")
    ids = sorted(set(taxpayer_ids), key=str)
    await _lock(session, kind, period, ids)
    organizations = await accounts.organizations_by_id(session, ids)
    if len(organizations) != len(ids):
        raise NotFound()  # a taxpayer that does not exist (staff may name any)
    try:
        bodies = await BUILDERS[kind](session, [organizations[i] for i in ids], start, end)
    except LookupError:
        # No rule set of this kind was in force (the policy is younger than the period).
        raise ValidationFailed("body.period", "no_rule_set_in_force") from None
    latest: dict[uuid.UUID, Filing] = {}
    versions: dict[uuid.UUID, Filing] = {}
    for version in await session.scalars(
        select(Filing)
        .where(
            among(Filing.taxpayer_organization_id, ids),
            Filing.kind == kind,
            Filing.period == period,
        )
        .with_for_update()
    ):
        versions[version.id] = version
        current = latest.get(version.taxpayer_organization_id)
        if current is None or version.version > current.version:
            latest[version.taxpayer_organization_id] = version
    filings: dict[uuid.UUID, uuid.UUID | None] = {}
    added: list[_NewVersion] = []
    for taxpayer in ids:
        last = latest.get(taxpayer)
        amended = versions.get(last.amends_id) if last and last.amends_id else None
        kept = _keep(organizations[taxpayer], kind, period, *bodies[taxpayer], last, amended, now)
        if isinstance(kept, _NewVersion):
            added.append(kept)
        filings[taxpayer] = kept.id if kept is not None else None
    await session.flush()  # the drafts rewritten and the versions marked amended
    await _add_versions(session, kind, period, added, now)
    return filings


async def compute_filing(
    session: AsyncSession,
    taxpayer_id: uuid.UUID,
    kind: FilingKind,
    period: str,
    *,
    now: datetime,
) -> Filing | None:
    """One taxpayer's filing (see `compute_filings`)."""
    filing_id = (await compute_filings(session, [taxpayer_id], kind, period, now=now))[taxpayer_id]
    return None if filing_id is None else await session.get(Filing, filing_id)


@dataclass(frozen=True, slots=True)
class _NewVersion:
    """A filing's next version, computed and not yet written (see `_add_versions`)."""

    id: uuid.UUID
    taxpayer_id: uuid.UUID
    version: int
    content: str
    """The canonical JSON text, as hashed."""
    digest: str
    rule_set_version: int
    amends_id: uuid.UUID | None


def _keep(
    taxpayer: Organization,
    kind: FilingKind,
    period: str,
    body: dict[str, Any],
    rule_set_version: int,
    latest: Filing | None,
    amended: Filing | None,
    now: datetime,
) -> Filing | _NewVersion | None:
    """What becomes of a computed body: nothing new when it is unchanged, the draft rewritten
    before submission, the next version after it (an amendment with the difference). `amended`
    is the version `latest` amends, if it is an amendment."""
    if latest is None and not body["lines"] and not body.get("excluded"):
        return None
    computed = {
        "kind": kind.value,
        "period": period,
        "taxpayer": {
            "id": str(taxpayer.id),
            "name": taxpayer.name,
            "credit_code": taxpayer.credit_code,
        },
        **body,
    }
    # An amendment goes on saying what it amends, so recomputing it unchanged changes nothing.
    content = _amending(computed, amended) if amended is not None else computed
    content_text, digest = canonical(content)
    if latest is not None and latest.content_sha256 == digest:
        return latest
    if latest is not None and latest.state in {FilingState.draft, FilingState.ready}:
        # The content as stored: parts PostgreSQL wrote are text until then.
        latest.content, latest.content_sha256 = json.loads(content_text), digest
        latest.rule_set_version, latest.computed_at = rule_set_version, now
        return latest
    if latest is not None:
        content_text, digest = canonical(_amending(computed, latest))
        latest.state = FilingState.amended
    return _NewVersion(
        id=uuid.uuid4(),
        taxpayer_id=taxpayer.id,
        version=latest.version + 1 if latest is not None else 1,
        content=content_text,
        digest=digest,
        rule_set_version=rule_set_version,
        amends_id=latest.id if latest is not None else None,
    )


# Rows, not objects: the period end writes thousands of versions at once, and their content
# goes to PostgreSQL as the very text that was hashed.
_INSERT_VERSIONS = text(
    """
    INSERT INTO tax_filings (id, taxpayer_organization_id, kind, period, version, state, content,
                             content_sha256, rule_set_version, amends_id, computed_at)
    SELECT added.id, added.taxpayer_id, CAST(:kind AS filing_kind), :period, added.version,
           CAST(:state AS filing_state), CAST(added.content AS jsonb), added.digest,
           added.rule_set_version, added.amends_id, :now
    FROM unnest(CAST(:ids AS uuid[]), CAST(:taxpayer_ids AS uuid[]), CAST(:versions AS int[]),
                CAST(:contents AS text[]), CAST(:digests AS text[]),
                CAST(:rule_set_versions AS int[]), CAST(:amends_ids AS uuid[]))
        AS added(id, taxpayer_id, version, content, digest, rule_set_version, amends_id)
    """
).bindparams(bindparam("now", type_=DateTime(timezone=True)))


async def _add_versions(
    session: AsyncSession,
    kind: FilingKind,
    period: str,
    added: Sequence[_NewVersion],
    now: datetime,
) -> None:
    """Write new versions, ready, and announce each (`filing.ready`)."""
    if not added:
        return
    await session.execute(
        _INSERT_VERSIONS,
        {
            "kind": kind.value,
            "period": period,
            "state": FilingState.ready.value,
            "now": now,
            "ids": [version.id for version in added],
            "taxpayer_ids": [version.taxpayer_id for version in added],
            "versions": [version.version for version in added],
            "contents": [version.content for version in added],
            "digests": [version.digest for version in added],
            "rule_set_versions": [version.rule_set_version for version in added],
            "amends_ids": [version.amends_id for version in added],
        },
    )
    await record_events(
        session,
        "filing.ready",
        [
            {
                "filing_id": str(version.id),
                "kind": kind.value,
                "period": period,
                "version": version.version,
            }
            for version in added
        ],
    )


async def request_filing(
    session: AsyncSession,
    principal: Principal,
    *,
    taxpayer_id: uuid.UUID | None,
    kind: FilingKind,
    period: str,
    now: datetime,
) -> Filing:
    """Compute a filing now for the caller's organization (its owners and admins) or, for
    finance staff, any taxpayer. Raises ValidationFailed naming the field (someone else's
    organization, an open period), NotFound when the period has nothing to file."""
    if taxpayer_id is not None and principal.has_platform_role(PlatformRole.finance):
        chosen = taxpayer_id
    else:
        chosen = principal.acting_for(taxpayer_id)
        principal.require_manager(chosen)
    if kind == FilingKind.vat_exemption:
        organization = (await accounts.organizations_by_id(session, [chosen]))[chosen]
        if vat_period_of(period) != organization.vat_period:
            raise ValidationFailed("body.period", "vat_period_mismatch")
    filing = await compute_filing(session, chosen, kind, period, now=now)
    if filing is None:
        raise NotFound(detail_code="detail.nothing_to_file")
    return filing


def _visible(principal: Principal) -> ColumnElement[bool]:
    if principal.has_platform_role(PlatformRole.finance):
        return Filing.id.is_not(None)
    return Filing.taxpayer_organization_id.in_(list(principal.memberships))


async def list_filings(
    session: AsyncSession,
    principal: Principal,
    params: PageParams,
    *,
    taxpayer_id: uuid.UUID | None = None,
    kind: FilingKind | None = None,
    period: str | None = None,
    state: FilingState | None = None,
) -> tuple[Sequence[Filing], str | None]:
    """The caller's organizations' filings (finance staff: all), newest first."""
    query = select(Filing).where(_visible(principal))
    for column, value in (
        (Filing.taxpayer_organization_id, taxpayer_id),
        (Filing.kind, kind),
        (Filing.period, period),
        (Filing.state, state),
    ):
        if value is not None:
            query = query.where(column == value)
    return await paginate(session, query, params, key=Filing.computed_at, row_id=Filing.id)


async def get_filing_for(
    session: AsyncSession, principal: Principal, filing_id: uuid.UUID
) -> Filing:
    """A filing of the caller's organization, or any for finance staff. Raises NotFound."""
    filing = await session.scalar(select(Filing).where(Filing.id == filing_id, _visible(principal)))
    if filing is None:
        raise NotFound()
    return filing


async def filed_periods(
    session: AsyncSession, taxpayer_id: uuid.UUID
) -> list[tuple[FilingKind, str]]:
    """The (kind, period) pairs a taxpayer has filings for: what a change may amend."""
    rows = await session.execute(
        select(Filing.kind, Filing.period)
        .where(Filing.taxpayer_organization_id == taxpayer_id)
        .distinct()
        .order_by(Filing.kind, Filing.period)
    )
    return [(kind, period) for kind, period in rows]


async def taxpayers_to_file(
    session: AsyncSession, kind: FilingKind, period: str
) -> list[uuid.UUID]:
    """Who has something to file for the period and no filing of it yet (later changes reach
    existing filings through the events): sellers paid in it (VAT — those filing by that kind
    of period — and income tax), buyers that paid for development (super-deduction),
    organizations that declared inventors' rewards in it (reward relief)."""
    start, end = period_bounds(kind, period)
    if kind == FilingKind.researcher_reward_relief:
        candidates = await deals.organizations_declaring_between(session, start, end)
    elif kind == FilingKind.rd_super_deduction:
        candidates = await deals.parties_of_deals(
            session,
            payments.deals_paid_between(start, end),
            side="buyer",
            contract_type=ContractType.development,
        )
    else:
        candidates = await deals.parties_of_deals(
            session, payments.deals_paid_between(start, end), side="seller"
        )
    if kind == FilingKind.vat_exemption:
        candidates = await accounts.vat_filers(session, candidates, vat_period_of(period))
    filed = set(
        await session.scalars(
            select(Filing.taxpayer_organization_id)
            .where(Filing.kind == kind, Filing.period == period)
            .distinct()
        )
    )
    return [taxpayer for taxpayer in candidates if taxpayer not in filed]
