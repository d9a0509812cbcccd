"""An analyst's decisions on proposed links between cases (串并案: confirmed or rejected), kept across runs
in ``mdm.series_decision``: one row per pair of cases (the latest decision; every decision is also a
``series_decision`` entry of the ledger, written by the caller in the same transaction).

A confirmed link stays in its series whatever its score; a rejected one never comes back.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Column, Connection, DateTime, Engine, MetaData, PrimaryKeyConstraint, Table, Text, select

from exchange.errors import ConfigError

metadata = MetaData()
DECISIONS = ("confirmed", "rejected")

decision = Table(
    "series_decision", metadata,
    Column("a_agency", Text(), nullable=False, comment="first case of the pair (the smaller key)"),
    Column("a_record", Text(), nullable=False),
    Column("b_agency", Text(), nullable=False, comment="second case of the pair"),
    Column("b_record", Text(), nullable=False),
    Column("decision", Text(), nullable=False, comment="confirmed or rejected"),
    Column("decided_by", Text(), nullable=False, comment="who decided: agency/user"),
    Column("reason", Text(), comment="why, in the analyst's words"),
    Column("case_number", Text(), comment="the investigation the decision was taken for"),
    Column("decided_at", DateTime(), nullable=False),
    PrimaryKeyConstraint("a_agency", "a_record", "b_agency", "b_record", name="pk_mdm_series_decision"),
    schema="mdm", comment="Analysts' decisions on links between cases proposed by serial-case linking.",
)

Key = tuple[str, str]


def ensure(engine: Engine) -> None:
    metadata.create_all(engine, checkfirst=True)


def ordered(a: Key, b: Key) -> tuple[Key, Key]:
    if a == b:
        raise ConfigError(f"a case cannot be linked to itself ({a[0]}/{a[1]})")
    return (a, b) if a <= b else (b, a)


def decided(conn: Connection) -> dict[tuple[Key, Key], str]:
    """Every pair decided → its latest decision."""
    d = decision.c
    return {((r.a_agency, r.a_record), (r.b_agency, r.b_record)): r.decision
            for r in conn.execute(select(d.a_agency, d.a_record, d.b_agency, d.b_record, d.decision))}


def record(conn: Connection, a: Key, b: Key, what: str, *, by: str, reason: str | None, case_number: str | None,
           at: dt.datetime) -> dict[str, Any]:
    """Store ``what`` (confirmed/rejected) for the pair; returns the row as stored."""
    if what not in DECISIONS:
        raise ConfigError(f"decision {what!r}: one of {', '.join(DECISIONS)}")
    (aa, ar), (ba, br) = ordered(a, b)
    row = {"a_agency": aa, "a_record": ar, "b_agency": ba, "b_record": br, "decision": what, "decided_by": by,
           "reason": reason, "case_number": case_number, "decided_at": at}
    d = decision.c
    where = (d.a_agency == aa) & (d.a_record == ar) & (d.b_agency == ba) & (d.b_record == br)
    if conn.execute(select(d.decision).where(where)).first() is None:
        conn.execute(decision.insert().values(**row))
    else:
        conn.execute(decision.update().where(where).values(**row))
    return row
