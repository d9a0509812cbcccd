"""``mdm.*``: the master person index.

- ``mdm.person`` — one row per person_uid ever issued: its status (active / merged / retired),
  the golden record and, per golden field, the link (``<field>_link`` → ``mdm.person_link``)
  whose record supplied the value, hence its source agency and batch;
- ``mdm.person_link`` — every person record of the warehouse → its person_uid, with the rule
  or model that linked it and the match probability;
- ``mdm.person_event`` — merges, splits, moves and retirements, so consumers can follow ids;
- ``mdm.link_run`` — one row per linking run (model, prior, counts, timings, accuracy);
- ``mdm.link_model`` — every trained model (Splink JSON), versioned by content hash;
- ``mdm.review`` — records not linked silently because their two best candidates were close: the
  clerical review queue, with each decision (which persists and overrides the model).

``metadata`` is public so the warehouse's migrations can include these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
)
from sqlalchemy.engine import Engine

from exchange.linking.config import GOLDEN_FIELDS
from exchange.warehouse.dialects import dialect_of

SCHEMA = "mdm"
metadata = MetaData()

_GOLDEN_TYPES = {"birth_date": Date}

person = Table(
    "person", metadata,
    Column("person_uid", Text(), nullable=False, comment="stable id of one real person (MP + 10 digits)"),
    Column("status", Text(), nullable=False, comment="active, merged (see merged_into) or retired"),
    Column("merged_into", Text(), comment="the person_uid that absorbed this one"),
    *[Column(f, _GOLDEN_TYPES.get(f, Text)(), comment=f"golden {f}") for f in GOLDEN_FIELDS],
    *[Column(f"{f}_link", BigInteger(), comment=f"mdm.person_link.link_id whose record supplied {f}")
      for f in GOLDEN_FIELDS],
    Column("record_count", BigInteger(), nullable=False, server_default="0"),
    Column("agencies", Text(), comment="agencies holding records of this person, comma-separated"),
    Column("golden_hash", Text(), comment="hash of the golden values and their links (change detection)"),
    Column("created_run", BigInteger(), nullable=False),
    Column("updated_run", BigInteger(), nullable=False),
    PrimaryKeyConstraint("person_uid", name="pk_mdm_person"),
    Index("ix_mdm_person_id_number", "id_number"),
    schema=SCHEMA, comment="One row per person_uid: status and golden record with provenance.",
)

person_link = Table(
    "person_link", metadata,
    Column("source_agency", Text(), nullable=False),
    Column("entity", Text(), nullable=False, comment="core table of the record"),
    Column("source_record_id", Text(), nullable=False),
    Column("role", Text(), nullable=False, comment="the person's part in the record (subject, applicant, head...)"),
    Column("link_id", BigInteger(), nullable=False,
           comment="stable surrogate of the record (unique; issued by the linking run)"),
    Column("person_uid", Text(), nullable=False),
    Column("id_number", Text(), comment="validated ID number of the record, if any"),
    Column("match_rule", Text(), nullable=False,
           comment="id_number (deterministic), model:<version> (Splink) or none (first record of a person)"),
    Column("match_probability", Float(), comment="1 for id_number; the model's probability otherwise"),
    Column("batch_id", Text(), nullable=False, comment="batch of the record version linked"),
    Column("loaded_at", Text(), comment="when that version was loaded"),
    Column("run_id", BigInteger(), nullable=False, comment="linking run that last changed this row"),
    PrimaryKeyConstraint("source_agency", "entity", "source_record_id", "role", name="pk_mdm_person_link"),
    Index("ix_mdm_person_link_uid", "person_uid"),
    schema=SCHEMA, comment="Every person record → its person_uid, rule and probability.",
)

person_event = Table(
    "person_event", metadata,
    Column("event_id", BigInteger(), nullable=False, comment="run_id * 10^9 + sequence"),
    Column("run_id", BigInteger(), nullable=False),
    Column("event", Text(), nullable=False, comment="merge, split, move or retire"),
    Column("person_uid", Text(), nullable=False, comment="the person_uid records left"),
    Column("other_uid", Text(), comment="where they went (merge/split/move)"),
    Column("records", BigInteger(), nullable=False, comment="how many records moved"),
    Column("created_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("event_id", name="pk_mdm_person_event"),
    Index("ix_mdm_person_event_uid", "person_uid"),
    Index("ix_mdm_person_event_other", "other_uid"),
    schema=SCHEMA, comment="How person_uids changed: consumers follow merges and splits from here.",
)

link_run = Table(
    "link_run", metadata,
    Column("run_id", BigInteger(), nullable=False),
    Column("started_at", DateTime(), nullable=False),
    Column("finished_at", DateTime()),
    Column("model_version", Text(), nullable=False),
    Column("prior", Float(), nullable=False, comment="probability two random records match, this run"),
    Column("match_threshold", Float(), nullable=False),
    Column("records", BigInteger(), nullable=False),
    Column("records_with_id", BigInteger(), nullable=False),
    Column("persons", BigInteger(), nullable=False, comment="active persons after the run"),
    Column("persons_new", BigInteger(), nullable=False),
    Column("merges", BigInteger(), nullable=False),
    Column("splits", BigInteger(), nullable=False),
    Column("moves", BigInteger(), nullable=False),
    Column("retired", BigInteger(), nullable=False),
    Column("pairs_scored", BigInteger(), nullable=False,
           comment="candidate pairs the blocking rules gave and the model scored"),
    Column("pairs_linked", BigInteger(), nullable=False),
    Column("pairs_refused", BigInteger(), nullable=False, comment="would have joined two ID numbers"),
    Column("timings", Text(), comment="seconds per step (JSON)"),
    Column("metrics", Text(), comment="accuracy against a known truth, when evaluated (JSON)"),
    PrimaryKeyConstraint("run_id", name="pk_mdm_link_run"),
    schema=SCHEMA, comment="One row per linking run.",
)

link_model = Table(
    "link_model", metadata,
    Column("version", Text(), nullable=False, comment="pm- + SHA-256 of the Splink settings"),
    Column("created_at", DateTime(), nullable=False),
    Column("model", Text(), nullable=False, comment="the model (Splink settings JSON and training summary)"),
    PrimaryKeyConstraint("version", name="pk_mdm_link_model"),
    schema=SCHEMA, comment="Trained person-matching models, versioned; the newest is used.",
)


review = Table(
    "review", metadata,
    Column("review_id", Text(), nullable=False, comment="rv- + SHA-256 of the record and its candidates"),
    Column("source_agency", Text(), nullable=False),
    Column("entity", Text(), nullable=False),
    Column("source_record_id", Text(), nullable=False),
    Column("role", Text(), nullable=False),
    Column("reason", Text(), nullable=False, comment="why the record was not linked silently"),
    Column("candidate_ids", Text(), nullable=False, comment="the candidates' ID numbers, comma-separated"),
    Column("candidates", Text(), nullable=False, comment="per candidate: probability, weight and the evidence "
                                                          "per comparison (JSON)"),
    Column("status", Text(), nullable=False, comment="pending, accepted, rejected or stale (no longer doubtful)"),
    Column("chosen_id", Text(), comment="accepted: the ID number the record belongs to"),
    Column("created_run", BigInteger(), nullable=False),
    Column("updated_run", BigInteger(), nullable=False),
    Column("decided_at", DateTime()),
    Column("decided_by", Text()),
    Column("note", Text()),
    PrimaryKeyConstraint("review_id", name="pk_mdm_review"),
    Index("ix_mdm_review_record", "source_agency", "entity", "source_record_id", "role"),
    schema=SCHEMA, comment="Doubtful linking decisions waiting for (or decided by) a records officer.",
)


def ensure_mdm_tables(engine: Engine) -> None:
    """Create the mdm schema (PostgreSQL) and missing tables; never drops or alters anything."""
    with engine.begin() as conn:
        dialect_of(engine).create_schemas(conn, [SCHEMA])
        metadata.create_all(conn, checkfirst=True)
