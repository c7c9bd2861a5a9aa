"""The job queue's schema (procrastinate 3.10.0).

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Procrastinate's schema is shipped as a SQL file next to the migrations, pinned to the version in
pyproject.toml; upgrading procrastinate means a new revision with its migration scripts.
"""

from collections.abc import Sequence
from pathlib import Path

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMA = Path(__file__).resolve().parent.parent / "sql" / "procrastinate-3.10.0-schema.sql"


DROP_ALL = r"""
DO $$
DECLARE item record;
BEGIN
    FOR item IN SELECT tablename FROM pg_tables
        WHERE schemaname = current_schema() AND tablename LIKE 'procrastinate\_%' LOOP
        EXECUTE format('DROP TABLE IF EXISTS %I CASCADE', item.tablename);
    END LOOP;
    FOR item IN SELECT p.oid::regprocedure AS signature FROM pg_proc p
        JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = current_schema() AND p.proname LIKE 'procrastinate\_%' LOOP
        EXECUTE 'DROP FUNCTION IF EXISTS ' || item.signature || ' CASCADE';
    END LOOP;
    FOR item IN SELECT t.typname FROM pg_type t
        JOIN pg_namespace n ON n.oid = t.typnamespace
        WHERE n.nspname = current_schema() AND t.typname LIKE 'procrastinate\_%'
          AND t.typtype IN ('e', 'c') LOOP
        EXECUTE format('DROP TYPE IF EXISTS %I CASCADE', item.typname);
    END LOOP;
END $$;
"""


def _run_raw(sql: str) -> None:
    # The raw psycopg cursor runs multi-statement SQL as is (no parameter parsing of `%`).
    connection = op.get_bind().connection.dbapi_connection
    assert connection is not None
    with connection.cursor() as cursor:
        cursor.execute(sql)


def upgrade() -> None:
    _run_raw(SCHEMA.read_text(encoding="utf-8"))


def downgrade() -> None:
    _run_raw(DROP_ALL)
