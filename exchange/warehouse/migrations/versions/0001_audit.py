"""The batch ledger, validation results and feed state (audit.*).

Revision ID: 0001_audit
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_audit"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "batch",
        sa.Column("batch_id", sa.Text(), nullable=False, comment="deterministic: feed + source fingerprint"),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("schema_version", sa.Text(), nullable=False),
        sa.Column("fingerprint", sa.Text(), nullable=False, comment="SHA-256 of what the source read"),
        sa.Column("source", sa.Text(), comment="what was read: files and their SHA-256 (JSON)"),
        sa.Column("state", sa.Text(), nullable=False,
                  comment="started → extracted → validated → staged → loaded → published, or failed"),
        sa.Column("rows_in", sa.BigInteger()),
        sa.Column("rows_valid", sa.BigInteger(), comment="rows that passed validation (held if the batch failed)"),
        sa.Column("rows_loaded", sa.BigInteger(), comment="rows published to core (0 if the batch failed)"),
        sa.Column("rows_quarantined", sa.BigInteger()),
        sa.Column("rows_inserted", sa.BigInteger()),
        sa.Column("rows_updated", sa.BigInteger()),
        sa.Column("rows_unchanged", sa.BigInteger()),
        sa.Column("reject_ratio", sa.Float()),
        sa.Column("max_reject_ratio", sa.Float()),
        sa.Column("error", sa.Text()),
        sa.Column("timings", sa.Text(), comment="seconds per stage (JSON)"),
        sa.Column("code_version", sa.Text(), nullable=False),
        sa.Column("staging_path", sa.Text()),
        sa.Column("report_path", sa.Text(), comment="GX Data Docs page of this batch"),
        sa.Column("attempts", sa.BigInteger(), nullable=False, server_default="1"),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("batch_id", name="pk_batch"),
        schema="audit",
        comment="One row per batch: the ledger auditors and the runner read.",
    )
    op.create_index("ix_batch_feed", "batch", ["feed", "started_at"], schema="audit")
    op.create_table(
        "validation",
        sa.Column("batch_id", sa.Text(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("suite", sa.Text(), nullable=False),
        sa.Column("expectation", sa.Text(), nullable=False),
        sa.Column("field", sa.Text(), nullable=False),
        sa.Column("rule", sa.Text(), nullable=False),
        sa.Column("success", sa.Boolean(), nullable=False),
        sa.Column("element_count", sa.BigInteger(), nullable=False),
        sa.Column("missing_count", sa.BigInteger(), nullable=False),
        sa.Column("unexpected_count", sa.BigInteger(), nullable=False),
        sa.Column("unexpected_percent", sa.Float(), nullable=False),
        sa.Column("sample_values", sa.Text(), comment="masked samples (JSON)"),
        sa.Column("sample_rows", sa.Text(), comment="source record numbers of the samples (JSON)"),
        sa.Column("validated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", "seq", name="pk_validation"),
        schema="audit",
        comment="Great Expectations results per batch and expectation (samples masked).",
    )
    op.create_table(
        "feed_state",
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, comment="connector state after the last loaded batch (JSON)"),
        sa.Column("batch_id", sa.Text(), nullable=False, comment="the batch whose load saved it"),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("feed", name="pk_feed_state"),
        schema="audit",
        comment="Incremental progress per feed: watermarks, files already taken.",
    )


def downgrade() -> None:
    op.drop_table("feed_state", schema="audit")
    op.drop_table("validation", schema="audit")
    op.drop_index("ix_batch_feed", table_name="batch", schema="audit")
    op.drop_table("batch", schema="audit")
