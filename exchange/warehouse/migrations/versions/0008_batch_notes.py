"""Batch notes: ``audit.batch.notes`` holds what the batch report says of the source as a whole — an
unnamed empty column the reader left out, a column of ID numbers a spreadsheet rounded (JSON list
of texts; no row values beyond one example of a rounded number's form).

Revision ID: 0008_batch_notes
Revises: 0007_console
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_batch_notes"
down_revision = "0007_console"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("batch", sa.Column(
        "notes", sa.Text(), comment="what the batch report says of the source as a whole (JSON list of texts)"),
        schema="audit")


def downgrade() -> None:
    op.drop_column("batch", "notes", schema="audit")
