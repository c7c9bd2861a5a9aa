"""challenges: searchable terms (segmented title, indicators, problem, owner) with a GIN index

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-06 02:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from search.analysis import segment

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "challenges",
        sa.Column(
            "terms",
            postgresql.TSVECTOR(),
            server_default=sa.text("''::tsvector"),
            nullable=False,
        ),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT c.id, c.title, c.indicators, c.problem, o.name FROM challenges c"
            " JOIN organizations o ON o.id = c.organization_id"
        )
    ).all()
    for challenge_id, title, indicators, problem, owner in rows:
        indicator_text = " ".join(f"{i['name']} {i['target']}" for i in indicators)
        bind.execute(
            sa.text(
                "UPDATE challenges SET terms ="
                " setweight(to_tsvector('simple', :a), 'A')"
                " || setweight(to_tsvector('simple', :b), 'B')"
                " || setweight(to_tsvector('simple', :c), 'C')"
                " || setweight(to_tsvector('simple', :d), 'D') WHERE id = :id"
            ),
            {
                "id": challenge_id,
                **{
                    weight: " ".join(segment(text))
                    for weight, text in zip(
                        "abcd", (title, indicator_text, problem, owner), strict=True
                    )
                },
            },
        )
    op.create_index("ix_challenges_terms", "challenges", ["terms"], postgresql_using="gin")


def downgrade() -> None:
    op.drop_index("ix_challenges_terms", table_name="challenges", postgresql_using="gin")
    op.drop_column("challenges", "terms")
