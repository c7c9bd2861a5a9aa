"""The double-entry ledger (复式记账) of every money movement.

Accounts are named by what they hold:
- `bank:<provider>`: money the platform holds with a provider (an asset);
- `deposit:<auction>:<organization>`: a bidder's deposit the platform owes back (a liability);
- `deal:<deal>`: money received for a deal and not yet passed to its seller.

A journal's lines sum to zero (the database refuses a commit otherwise). So a deal reconciles
when `deal:<deal>` is back at zero after its payouts, and a finished auction when each of its
deposit accounts is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.payments.models import LedgerEntry


def bank(provider: str) -> str:
    return f"bank:{provider}"


def deposit_account(auction_id: uuid.UUID, organization_id: uuid.UUID) -> str:
    return f"deposit:{auction_id}:{organization_id}"


def deal_account(deal_id: uuid.UUID) -> str:
    return f"deal:{deal_id}"


def transfer(
    session: AsyncSession,
    *,
    debit: str,
    credit: str,
    amount_fen: int,
    memo: str,
    now: datetime,
    deal_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """Record `amount_fen` moving from `credit` to `debit` as one balanced journal; returns its
    id. Nothing is written for a zero amount."""
    if amount_fen < 0:
        raise ValueError("a transfer moves a positive amount")
    journal_id = uuid.uuid4()
    if amount_fen:
        session.add_all(
            [
                LedgerEntry(
                    journal_id=journal_id,
                    account=account,
                    amount_fen=signed,
                    deal_id=deal_id,
                    memo=memo,
                    at=now,
                )
                for account, signed in ((debit, amount_fen), (credit, -amount_fen))
            ]
        )
    return journal_id


async def balance(session: AsyncSession, account: str) -> int:
    """Debits less credits of an account, in fen."""
    total = await session.scalar(
        select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
            LedgerEntry.account == account
        )
    )
    return int(total or 0)


@dataclass(frozen=True)
class Imbalance:
    what: str
    amount_fen: int


async def unbalanced_journals(session: AsyncSession) -> list[Imbalance]:
    """Journals whose lines do not sum to zero (the commit-time trigger makes this empty)."""
    return [
        Imbalance(f"journal {journal_id}", int(total))
        for journal_id, total in await session.execute(
            select(LedgerEntry.journal_id, func.sum(LedgerEntry.amount_fen))
            .group_by(LedgerEntry.journal_id)
            .having(func.sum(LedgerEntry.amount_fen) != 0)
        )
    ]


async def balances(session: AsyncSession, prefix: str) -> dict[str, int]:
    """account → balance, for the accounts whose name starts with `prefix`."""
    rows = await session.execute(
        select(LedgerEntry.account, func.sum(LedgerEntry.amount_fen))
        .where(LedgerEntry.account.startswith(prefix))
        .group_by(LedgerEntry.account)
    )
    return {account: int(total) for account, total in rows}
