"""accounts: TOTP secrets sealed at rest

Existing secrets are sealed with the key the application derives from this deployment's
SECRET_KEY (`techx migrate` runs with the same settings as `techx serve`).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-05 19:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from app.core.config import get_settings
from app.core.sealing import Sealer

# As `app.accounts.totp.SEALING_PURPOSE` was when this revision was written.
SEALING_PURPOSE = "totp-secrets"

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("totp_factors", sa.Column("sealed_secret", sa.String(length=400)))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT user_id, secret FROM totp_factors")).all()
    if rows:
        sealer = Sealer(get_settings().signing_key(), SEALING_PURPOSE)
        for user_id, secret in rows:
            connection.execute(
                sa.text("UPDATE totp_factors SET sealed_secret = :sealed WHERE user_id = :id"),
                {"sealed": sealer.seal(secret), "id": user_id},
            )
    op.alter_column("totp_factors", "sealed_secret", nullable=False)
    op.drop_column("totp_factors", "secret")


def downgrade() -> None:
    op.add_column("totp_factors", sa.Column("secret", sa.String(length=64)))
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT user_id, sealed_secret FROM totp_factors")).all()
    if rows:
        sealer = Sealer(get_settings().signing_key(), SEALING_PURPOSE)
        for user_id, sealed in rows:
            connection.execute(
                sa.text("UPDATE totp_factors SET secret = :secret WHERE user_id = :id"),
                {"secret": sealer.open(sealed), "id": user_id},
            )
    op.alter_column("totp_factors", "secret", nullable=False)
    op.drop_column("totp_factors", "sealed_secret")
