"""payments: Stripe events are stored with their PaymentIntent and applied by the worker

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 15:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "stripe_events",
        sa.Column(
            "object",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column("stripe_events", sa.Column("applied_at", sa.DateTime(timezone=True)))
    op.add_column("stripe_events", sa.Column("outcome", sa.String(length=20)))
    # Events stored before this revision were applied as they arrived.
    op.execute("UPDATE stripe_events SET applied_at = received_at, outcome = 'applied'")
    op.alter_column("stripe_events", "object", server_default=None)


def downgrade() -> None:
    op.drop_column("stripe_events", "outcome")
    op.drop_column("stripe_events", "applied_at")
    op.drop_column("stripe_events", "object")
