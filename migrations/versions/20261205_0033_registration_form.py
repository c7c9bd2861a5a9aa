"""deals, accounts: the registration form's data (sub-type, field, rights, parties' nature and
country codes, the form as registered)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-05 22:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUBTYPE = postgresql.ENUM(
    "commissioned_development",
    "cooperative_development",
    "patent",
    "patent_application",
    "technical_secret",
    "software_copyright",
    "ic_layout",
    "plant_variety",
    "other_rights",
    "consulting",
    "technical_service",
    "training",
    "intermediary",
    name="contract_subtype",
    create_type=False,
)


def upgrade() -> None:
    SUBTYPE.create(op.get_bind(), checkfirst=True)
    op.add_column("contract_versions", sa.Column("subtype", SUBTYPE, nullable=True))
    op.add_column(
        "contract_versions", sa.Column("technology_field", sa.String(length=60), nullable=True)
    )
    op.add_column(
        "contract_versions",
        sa.Column(
            "intellectual_property",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    op.add_column(
        "contract_versions",
        sa.Column("registration_form", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    )
    op.add_column("organizations", sa.Column("nature_code", sa.String(length=3), nullable=True))
    op.add_column(
        "organizations",
        sa.Column("country_code", sa.String(length=3), server_default="CHN", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_organizations_nature_code_digits"), "organizations", "nature_code ~ '^[0-9]{3}$'"
    )
    op.create_check_constraint(
        op.f("ck_organizations_country_code_letters"),
        "organizations",
        "country_code ~ '^[A-Z]{3}$'",
    )


def downgrade() -> None:
    op.drop_constraint(
        op.f("ck_organizations_country_code_letters"), "organizations", type_="check"
    )
    op.drop_constraint(op.f("ck_organizations_nature_code_digits"), "organizations", type_="check")
    op.drop_column("organizations", "country_code")
    op.drop_column("organizations", "nature_code")
    op.drop_column("contract_versions", "registration_form")
    op.drop_column("contract_versions", "intellectual_property")
    op.drop_column("contract_versions", "technology_field")
    op.drop_column("contract_versions", "subtype")
    SUBTYPE.drop(op.get_bind(), checkfirst=True)
