"""Flagged rows: ``audit.batch.rows_flagged`` counts the loaded rows that carry flagged fields (an ID
number kept as unverified); they are inside rows_loaded, so rows_in = rows_loaded + rows_quarantined
still holds.

Revision ID: 0005_flagged_rows
Revises: 0004_operator_reads
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_flagged_rows"
down_revision = "0004_operator_reads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch", sa.Column("rows_flagged", sa.BigInteger(),
                                     comment="loaded rows with flagged fields (inside rows_loaded)"),
                  schema="audit")


def downgrade() -> None:
    op.drop_column("batch", "rows_flagged", schema="audit")
