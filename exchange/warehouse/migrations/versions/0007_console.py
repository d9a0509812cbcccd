"""The web console's users (``audit.console_user``: tied to a consumer agency's grant, passwords
hashed with scrypt) and their sessions (``audit.console_session``: server-side, stored hashed,
idle and absolute expiry).

Revision ID: 0007_console
Revises: 0006_operations
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_console"
down_revision = "0006_operations"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_user",
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False,
                  comment="the consumer agency whose grant the user reads through"),
        sa.Column("role", sa.Text(), nullable=False,
                  comment="investigator (search, persons) or auditor (batches, logs, ledger)"),
        sa.Column("display_name", sa.Text()),
        sa.Column("password_hash", sa.Text(), nullable=False,
                  comment="scrypt$n$r$p$salt$hash; the password is never stored"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column("password_set_at", sa.DateTime(), nullable=False),
        sa.Column("disabled_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("user_name", name="pk_console_user"),
        schema="audit",
        comment="Web console users: one per person at a consumer agency, tied to the agency's grant.",
    )
    op.create_table(
        "console_session",
        sa.Column("session_sha256", sa.Text(), nullable=False, comment="SHA-256 of the cookie's random token"),
        sa.Column("user_name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False, comment="absolute end; idle sessions end earlier"),
        sa.Column("purpose", sa.Text(), comment="the purpose the user gave for this session's requests"),
        sa.Column("case_number", sa.Text()),
        sa.Column("csrf", sa.Text(), nullable=False, comment="the token every form of this session carries"),
        sa.Column("ended_at", sa.DateTime(), comment="signed out, expired or the user disabled"),
        sa.PrimaryKeyConstraint("session_sha256", name="pk_console_session"),
        schema="audit",
        comment="Web console sessions (server-side; the cookie holds a random token, stored hashed).",
    )
    op.create_index("ix_console_session_user", "console_session", ["user_name"], schema="audit")


def downgrade() -> None:
    op.drop_table("console_session", schema="audit")
    op.drop_table("console_user", schema="audit")
