"""``audit.access`` (every request of the profile API, refused ones too) and ``audit.api_key``
(per-agency API keys, stored as SHA-256 of a random 256-bit secret).

The versioned migration ``0003_access`` creates both; the declarations here are what the code
reads and writes. On PostgreSQL ``audit.access`` refuses UPDATE, DELETE and TRUNCATE.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, Integer, MetaData, PrimaryKeyConstraint, Table, Text

metadata = MetaData()

ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only

access = Table(
    "access", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("accessed_at", DateTime(), nullable=False, comment="UTC"),
    Column("agency", Text(), nullable=False, comment="consumer agency of the API key ('-' if none was valid)"),
    Column("key_id", Text(), comment="the API key used"),
    Column("user_id", Text(), comment="the person at the agency, as the request names them"),
    Column("purpose", Text(), comment="purpose given with the request"),
    Column("case_number", Text(), comment="case or file number given with the request"),
    Column("channel", Text(), nullable=False, comment="api"),
    Column("what", Text(), nullable=False, comment="what was requested: method and path (ID numbers masked)"),
    Column("entity", Text(), comment="what kind of data: person_profile, ..."),
    Column("subject", Text(), comment="whose data: the person_uid served"),
    Column("row_count", BigInteger(), nullable=False, comment="records returned (0 when refused)"),
    Column("status", Integer(), nullable=False, comment="HTTP status"),
    Column("outcome", Text(), nullable=False, comment="ok, or why it was refused"),
    Column("client", Text(), comment="client address"),
    Column("db_role", Text(), comment="database role the read ran as (operator reads)"),
    Column("detail", Text(), comment="the whole query, comments removed, identifiers masked"),
    Index("ix_access_agency", "agency", "accessed_at"),
    schema="audit",
    comment="Who read what and why: every request of the profile API, refused ones included.",
)

api_key = Table(
    "api_key", metadata,
    Column("key_id", Text(), nullable=False),
    Column("agency", Text(), nullable=False),
    Column("label", Text(), comment="what the key is for (a system, a desk)"),
    Column("secret_sha256", Text(), nullable=False, comment="SHA-256 of the secret part; the token is shown once"),
    Column("created_at", DateTime(), nullable=False),
    Column("created_by", Text()),
    Column("revoked_at", DateTime()),
    PrimaryKeyConstraint("key_id", name="pk_api_key"),
    schema="audit",
    comment="API keys of consumer agencies (hashed).",
)

console_user = Table(
    "console_user", metadata,
    Column("user_name", Text(), nullable=False),
    Column("agency", Text(), nullable=False, comment="the consumer agency whose grant the user reads through"),
    Column("role", Text(), nullable=False, comment="investigator (search, persons) or auditor (batches, logs, ledger)"),
    Column("display_name", Text()),
    Column("password_hash", Text(), nullable=False, comment="scrypt$n$r$p$salt$hash; the password is never stored"),
    Column("created_at", DateTime(), nullable=False),
    Column("created_by", Text()),
    Column("password_set_at", DateTime(), nullable=False),
    Column("disabled_at", DateTime()),
    PrimaryKeyConstraint("user_name", name="pk_console_user"),
    schema="audit",
    comment="Web console users: one per person at a consumer agency, tied to the agency's grant.",
)

console_session = Table(
    "console_session", metadata,
    Column("session_sha256", Text(), nullable=False, comment="SHA-256 of the cookie's random token"),
    Column("user_name", Text(), nullable=False),
    Column("created_at", DateTime(), nullable=False),
    Column("last_seen_at", DateTime(), nullable=False),
    Column("expires_at", DateTime(), nullable=False, comment="absolute end; idle sessions end earlier"),
    Column("purpose", Text(), comment="the purpose the user gave for this session's requests"),
    Column("case_number", Text()),
    Column("csrf", Text(), nullable=False, comment="the token every form of this session carries"),
    Column("ended_at", DateTime(), comment="signed out, expired or the user disabled"),
    PrimaryKeyConstraint("session_sha256", name="pk_console_session"),
    Index("ix_console_session_user", "user_name"),
    schema="audit",
    comment="Web console sessions (server-side; the cookie holds a random token, stored hashed).",
)
