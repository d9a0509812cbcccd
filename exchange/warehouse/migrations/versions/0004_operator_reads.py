"""Operator reads on record: ``audit.access`` names the database role a read ran as and keeps the
whole normalised query (identifiers masked), not only the clipped ``what``.

Revision ID: 0004_operator_reads
Revises: 0003_access
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_operator_reads"
down_revision = "0003_access"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("access", sa.Column("db_role", sa.Text(), comment="database role the read ran as (operator reads)"),
                  schema="audit")
    op.add_column("access", sa.Column("detail", sa.Text(),
                                      comment="the whole query, comments removed, identifiers masked"),
                  schema="audit")


def downgrade() -> None:
    op.drop_column("access", "detail", schema="audit")
    op.drop_column("access", "db_role", schema="audit")
