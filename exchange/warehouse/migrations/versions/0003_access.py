"""Sharing: the access log (audit.access) and per-agency API keys (audit.api_key).

Revision ID: 0003_access
Revises: 0002_ledger
Create Date: 2026-11-29

``audit.access`` is append-only (triggers refuse UPDATE, DELETE and TRUNCATE), like the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_access"
down_revision = "0002_ledger"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "access",
        sa.Column("id", ID, primary_key=True, autoincrement=True),
        sa.Column("accessed_at", sa.DateTime(), nullable=False, comment="UTC"),
        sa.Column("agency", sa.Text(), nullable=False,
                  comment="consumer agency of the API key ('-' if none was valid)"),
        sa.Column("key_id", sa.Text(), comment="the API key used"),
        sa.Column("user_id", sa.Text(), comment="the person at the agency, as the request names them"),
        sa.Column("purpose", sa.Text(), comment="purpose given with the request"),
        sa.Column("case_number", sa.Text(), comment="case or file number given with the request"),
        sa.Column("channel", sa.Text(), nullable=False, comment="api"),
        sa.Column("what", sa.Text(), nullable=False,
                  comment="what was requested: method and path (ID numbers masked)"),
        sa.Column("entity", sa.Text(), comment="what kind of data: person_profile, ..."),
        sa.Column("subject", sa.Text(), comment="whose data: the person_uid served"),
        sa.Column("row_count", sa.BigInteger(), nullable=False, comment="records returned (0 when refused)"),
        sa.Column("status", sa.Integer(), nullable=False, comment="HTTP status"),
        sa.Column("outcome", sa.Text(), nullable=False, comment="ok, or why it was refused"),
        sa.Column("client", sa.Text(), comment="client address"),
        schema="audit",
        comment="Who read what and why: every request of the profile API, refused ones included.",
    )
    op.create_index("ix_access_agency", "access", ["agency", "accessed_at"], schema="audit")
    op.create_table(
        "api_key",
        sa.Column("key_id", sa.Text(), nullable=False),
        sa.Column("agency", sa.Text(), nullable=False),
        sa.Column("label", sa.Text(), comment="what the key is for (a system, a desk)"),
        sa.Column("secret_sha256", sa.Text(), nullable=False,
                  comment="SHA-256 of the secret part; the token is shown once"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.Text()),
        sa.Column("revoked_at", sa.DateTime()),
        sa.PrimaryKeyConstraint("key_id", name="pk_api_key"),
        schema="audit",
        comment="API keys of consumer agencies (hashed).",
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE FUNCTION audit.access_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
                   "BEGIN RAISE EXCEPTION 'audit.access is append-only: % is not allowed', TG_OP; END $$")
        op.execute("CREATE TRIGGER access_append_only BEFORE UPDATE OR DELETE ON audit.access "
                   "FOR EACH ROW EXECUTE FUNCTION audit.access_append_only()")
        op.execute("CREATE TRIGGER access_no_truncate BEFORE TRUNCATE ON audit.access "
                   "FOR EACH STATEMENT EXECUTE FUNCTION audit.access_append_only()")
    else:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit.access_no_{op_name.lower()} BEFORE {op_name} ON access "
                       f"BEGIN SELECT RAISE(ABORT, 'audit.access is append-only: {op_name} is not allowed'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS access_no_truncate ON audit.access")
        op.execute("DROP TRIGGER IF EXISTS access_append_only ON audit.access")
        op.execute("DROP FUNCTION IF EXISTS audit.access_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS audit.access_no_update")
        op.execute("DROP TRIGGER IF EXISTS audit.access_no_delete")
    op.drop_table("api_key", schema="audit")
    op.drop_index("ix_access_agency", table_name="access", schema="audit")
    op.drop_table("access", schema="audit")
