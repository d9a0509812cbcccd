"""The hash-chained audit ledger (audit.ledger).

Revision ID: 0002_ledger
Revises: 0001_audit
Create Date: 2026-11-28

Updates and deletes are refused by triggers (defence in depth: whoever drops the triggers to
rewrite history is still caught by ``exchange audit verify``). Later revisions (e.g.
``audit.access`` for sharing) revise this one, keeping a single head.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_ledger"
down_revision = "0001_audit"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ledger",
        sa.Column("seq", sa.BigInteger(), nullable=False, autoincrement=False,
                  comment="1, 2, 3, … without gaps"),
        sa.Column("kind", sa.Text(), nullable=False,
                  comment="batch_manifest, validation_result, batch_load, grant_change, quarantine_resolution, …"),
        sa.Column("subject", sa.Text(), nullable=False, comment="batch id, grant, feed, … the entry is about"),
        sa.Column("payload", sa.Text(), nullable=False, comment="canonical JSON (sorted keys, no floats)"),
        sa.Column("recorded_at", sa.DateTime(), nullable=False, comment="UTC"),
        sa.Column("prev_hash", sa.String(64), nullable=False, comment="hash of entry seq-1 (64 zeros for seq 1)"),
        sa.Column("hash", sa.String(64), nullable=False,
                  comment="SHA-256(prev_hash ‖ seq ‖ kind ‖ subject ‖ recorded_at ‖ payload), 0x1f-separated"),
        sa.PrimaryKeyConstraint("seq", name="pk_ledger"),
        schema="audit",
        comment="Append-only, hash-chained record of manifests, validation results, loads, grant changes "
                "and quarantine resolutions; `exchange audit verify` checks it.",
    )
    op.create_index("ix_ledger_subject", "ledger", ["kind", "subject"], schema="audit")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit.ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit.ledger is append-only: % is not allowed', TG_OP; END $$")
        op.execute("CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON audit.ledger "
                   "FOR EACH ROW EXECUTE FUNCTION audit.ledger_append_only()")
        op.execute("CREATE TRIGGER ledger_no_truncate BEFORE TRUNCATE ON audit.ledger "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit.ledger_append_only()")
    else:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit.ledger_no_{op_name.lower()} BEFORE {op_name} ON ledger "
                       f"BEGIN SELECT RAISE(ABORT, 'audit.ledger is append-only: {op_name} is not allowed'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS ledger_no_truncate ON audit.ledger")
        op.execute("DROP TRIGGER IF EXISTS ledger_append_only ON audit.ledger")
        op.execute("DROP FUNCTION IF EXISTS audit.ledger_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit.ledger_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit.ledger_no_delete")
    op.drop_index("ix_ledger_subject", table_name="ledger", schema="audit")
    op.drop_table("ledger", schema="audit")
