"""``audit.batch`` (one row per batch), ``audit.validation`` (one row per expectation),
``audit.feed_state`` and ``audit.ledger`` (the hash-chained record, see ``exchange.audit.chain``).

The versioned migrations (``exchange/warehouse/migrations/versions``) create these tables;
the declarations here are what the code reads and writes.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

metadata = MetaData()

batch = Table(
    "batch", metadata,
    Column("batch_id", Text(), nullable=False, comment="deterministic: feed + source fingerprint"),
    Column("feed", Text(), nullable=False),
    Column("agency", Text(), nullable=False),
    Column("entity", Text(), nullable=False),
    Column("schema_version", Text(), nullable=False),
    Column("fingerprint", Text(), nullable=False, comment="SHA-256 of what the source read"),
    Column("source", Text(), comment="what was read: files and their SHA-256 (JSON)"),
    Column("state", Text(), nullable=False,
           comment="started → extracted → validated → staged → loaded → published, or failed"),
    Column("rows_in", BigInteger()),
    Column("rows_valid", BigInteger(), comment="rows that passed validation (held if the batch failed)"),
    Column("rows_loaded", BigInteger(), comment="rows published to core (0 if the batch failed)"),
    Column("rows_quarantined", BigInteger()),
    Column("rows_flagged", BigInteger(), comment="loaded rows with flagged fields (inside rows_loaded)"),
    Column("rows_inserted", BigInteger()),
    Column("rows_updated", BigInteger()),
    Column("rows_unchanged", BigInteger()),
    Column("reject_ratio", Float()),
    Column("max_reject_ratio", Float()),
    Column("error", Text()),
    Column("timings", Text(), comment="seconds per stage (JSON)"),
    Column("code_version", Text(), nullable=False),
    Column("staging_path", Text()),
    Column("report_path", Text(), comment="GX Data Docs page of this batch"),
    Column("notes", Text(), comment="what the batch report says of the source as a whole (JSON list of texts)"),
    Column("attempts", BigInteger(), nullable=False, server_default="1"),
    Column("started_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
    PrimaryKeyConstraint("batch_id", name="pk_batch"),
    Index("ix_batch_feed", "feed", "started_at"),
    schema="audit",
    comment="One row per batch: the ledger auditors and the runner read.",
)

validation = Table(
    "validation", metadata,
    Column("batch_id", Text(), nullable=False),
    Column("seq", BigInteger(), nullable=False),
    Column("suite", Text(), nullable=False),
    Column("expectation", Text(), nullable=False),
    Column("field", Text(), nullable=False),
    Column("rule", Text(), nullable=False),
    Column("success", Boolean(), nullable=False),
    Column("element_count", BigInteger(), nullable=False),
    Column("missing_count", BigInteger(), nullable=False),
    Column("unexpected_count", BigInteger(), nullable=False),
    Column("unexpected_percent", Float(), nullable=False),
    Column("sample_values", Text(), comment="masked samples (JSON)"),
    Column("sample_rows", Text(), comment="source record numbers of the samples (JSON)"),
    Column("validated_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("batch_id", "seq", name="pk_validation"),
    schema="audit",
    comment="Great Expectations results per batch and expectation (samples masked).",
)

feed_state = Table(
    "feed_state", metadata,
    Column("feed", Text(), nullable=False),
    Column("state", Text(), nullable=False, comment="connector state after the last loaded batch (JSON)"),
    Column("batch_id", Text(), nullable=False, comment="the batch whose load saved it"),
    Column("updated_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("feed", name="pk_feed_state"),
    schema="audit",
    comment="Incremental progress per feed: watermarks, files already taken.",
)

ledger = Table(
    "ledger", metadata,
    Column("seq", BigInteger(), nullable=False, autoincrement=False, comment="1, 2, 3, … without gaps"),
    Column("kind", Text(), nullable=False,
           comment="batch_manifest, validation_result, batch_load, grant_change, quarantine_resolution, …"),
    Column("subject", Text(), nullable=False, comment="batch id, grant, feed, … the entry is about"),
    Column("payload", Text(), nullable=False, comment="canonical JSON (sorted keys, no floats)"),
    Column("recorded_at", DateTime(), nullable=False, comment="UTC"),
    Column("prev_hash", String(64), nullable=False, comment="hash of entry seq-1 (64 zeros for seq 1)"),
    Column("hash", String(64), nullable=False,
           comment="SHA-256(prev_hash ‖ seq ‖ kind ‖ subject ‖ recorded_at ‖ payload), 0x1f-separated"),
    PrimaryKeyConstraint("seq", name="pk_ledger"),
    Index("ix_ledger_subject", "kind", "subject"),
    schema="audit",
    comment="Append-only, hash-chained record of manifests, validation results, loads, grant changes "
            "and quarantine resolutions; `exchange audit verify` checks it.",
)


ID = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only

feed_attempt = Table(
    "feed_attempt", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("feed", Text(), nullable=False),
    Column("batch_id", Text(), comment="none when the run failed before its batch was known"),
    Column("stage", Text(), nullable=False, comment="the stage the attempt ended in"),
    Column("outcome", Text(), nullable=False, comment="published, no new data, or failed"),
    Column("error", Text(), comment="the error (redacted, capped)"),
    Column("rows_in", BigInteger()),
    Column("at", DateTime(), nullable=False, comment="UTC"),
    Index("ix_feed_attempt_feed", "feed", "at"),
    schema="audit",
    comment="Every run attempt of every feed, with its outcome: what feed health is computed from.",
)

alert = Table(
    "alert", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("key", Text(), nullable=False, comment="what the alert is about: kind and subject (dedup key)"),
    Column("kind", Text(), nullable=False, comment="late, failing, degraded, task_failed, ledger"),
    Column("feed", Text()),
    Column("state", Text(), nullable=False, comment="firing or resolved"),
    Column("summary", Text(), nullable=False),
    Column("first_at", DateTime(), nullable=False),
    Column("last_at", DateTime(), nullable=False, comment="last time the condition was seen"),
    Column("resolved_at", DateTime()),
    Index("ix_alert_key", "key", "state"),
    schema="audit",
    comment="Alerts about feeds and the platform; one firing row per key at a time.",
)

alert_delivery = Table(
    "alert_delivery", metadata,
    Column("id", ID, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger(), nullable=False),
    Column("event", Text(), nullable=False, comment="firing or resolved"),
    Column("route", Text(), nullable=False, comment="the route's name (a connection name)"),
    Column("channel", Text(), nullable=False, comment="email or webhook"),
    Column("recipient", Text(), nullable=False, comment="addresses, or the webhook's host"),
    Column("subject", Text(), nullable=False),
    Column("body", Text(), nullable=False, comment="the message as sent (no ID number, no secret)"),
    Column("status", Text(), nullable=False, comment="sent, or failed: why"),
    Column("at", DateTime(), nullable=False),
    Index("ix_alert_delivery_alert", "alert_id"),
    schema="audit",
    comment="Who was told what, when: every alert message sent or attempted.",
)
