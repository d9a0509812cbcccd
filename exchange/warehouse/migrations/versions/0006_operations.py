"""Operations: every run attempt of a feed (``audit.feed_attempt``, failures before a batch exists
included), the alerts raised about feeds and the platform (``audit.alert``) and every message sent
about them (``audit.alert_delivery``: who was told what, when).

Revision ID: 0006_operations
Revises: 0005_flagged_rows
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_operations"
down_revision = "0005_flagged_rows"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "feed_attempt",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("feed", sa.Text(), nullable=False),
        sa.Column("batch_id", sa.Text(), comment="none when the run failed before its batch was known"),
        sa.Column("stage", sa.Text(), nullable=False, comment="the stage the attempt ended in"),
        sa.Column("outcome", sa.Text(), nullable=False, comment="published, no new data, or failed"),
        sa.Column("error", sa.Text(), comment="the error (redacted, capped)"),
        sa.Column("rows_in", sa.BigInteger()),
        sa.Column("at", sa.DateTime(), nullable=False, comment="UTC"),
        schema="audit",
        comment="Every run attempt of every feed, with its outcome: what feed health is computed from.",
    )
    op.create_index("ix_feed_attempt_feed", "feed_attempt", ["feed", "at"], schema="audit")
    op.create_table(
        "alert",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("key", sa.Text(), nullable=False, comment="what the alert is about: kind and subject (dedup key)"),
        sa.Column("kind", sa.Text(), nullable=False, comment="late, failing, degraded, task_failed, ledger"),
        sa.Column("feed", sa.Text()),
        sa.Column("state", sa.Text(), nullable=False, comment="firing or resolved"),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("first_at", sa.DateTime(), nullable=False),
        sa.Column("last_at", sa.DateTime(), nullable=False, comment="last time the condition was seen"),
        sa.Column("resolved_at", sa.DateTime()),
        schema="audit",
        comment="Alerts about feeds and the platform; one firing row per key at a time.",
    )
    op.create_index("ix_alert_key", "alert", ["key", "state"], schema="audit")
    op.create_table(
        "alert_delivery",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("event", sa.Text(), nullable=False, comment="firing or resolved"),
        sa.Column("route", sa.Text(), nullable=False, comment="the route's name (a connection name)"),
        sa.Column("channel", sa.Text(), nullable=False, comment="email or webhook"),
        sa.Column("recipient", sa.Text(), nullable=False, comment="addresses, or the webhook's host"),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False, comment="the message as sent (no ID number, no secret)"),
        sa.Column("status", sa.Text(), nullable=False, comment="sent, or failed: why"),
        sa.Column("at", sa.DateTime(), nullable=False),
        schema="audit",
        comment="Who was told what, when: every alert message sent or attempted.",
    )
    op.create_index("ix_alert_delivery_alert", "alert_delivery", ["alert_id"], schema="audit")


def downgrade() -> None:
    op.drop_table("alert_delivery", schema="audit")
    op.drop_table("alert", schema="audit")
    op.drop_table("feed_attempt", schema="audit")
