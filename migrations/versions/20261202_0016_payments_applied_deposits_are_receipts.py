"""payments: an auction winner's applied deposit is a receipt of its deal (kind `deposit`)

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 03:03:00.165802
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PAYMENT_KIND = sa.Enum("milestone", "deposit", name="payment_kind")


def upgrade() -> None:
    PAYMENT_KIND.create(op.get_bind())
    op.add_column(
        "payments",
        sa.Column("kind", PAYMENT_KIND, server_default="milestone", nullable=False),
    )
    op.alter_column("payments", "milestone", existing_type=sa.INTEGER(), nullable=True)
    # Deposits applied before this revision become the receipts they were, dated when their
    # auction settled (the deal opened then).
    op.execute(
        """
        INSERT INTO payments (id, deal_id, kind, milestone, payer_organization_id, amount_fen,
                              state, provider, provider_reference, instructions, created_at,
                              received_at)
        SELECT gen_random_uuid(), d.id, 'deposit', NULL, d.buyer_organization_id,
               d.deposit_applied_fen, 'received', dep.provider, dep.provider_reference, '{}',
               d.opened_at, d.opened_at
        FROM deals d
        JOIN auctions a ON a.deal_id = d.id
        JOIN auction_deposits dep ON dep.auction_id = a.id
             AND dep.organization_id = d.buyer_organization_id AND dep.state = 'applied'
        WHERE d.deposit_applied_fen > 0
        """
    )
    op.create_check_constraint(
        "milestone_iff_paid", "payments", "(kind = 'milestone') = (milestone IS NOT NULL)"
    )


def downgrade() -> None:
    op.drop_constraint("milestone_iff_paid", "payments", type_="check")
    op.execute("DELETE FROM payments WHERE kind = 'deposit'")
    op.alter_column("payments", "milestone", existing_type=sa.INTEGER(), nullable=False)
    op.drop_column("payments", "kind")
    PAYMENT_KIND.drop(op.get_bind())
