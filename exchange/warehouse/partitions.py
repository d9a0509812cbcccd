"""Monthly partitions of the event tables on PostgreSQL (``core.<event>`` is ``PARTITION BY RANGE`` of its
start time: "this person's events in a window" and "who was at this place in a window" read only the
months of the window, and old months can be detached or moved to cheaper storage whole).

Partitions are named ``core.<entity>_pYYYYMM`` and made before every load: every month from
``MONTHS_BACK`` months ago to ``MONTHS_AHEAD`` months ahead (the checks refuse events in the future).
A ``DEFAULT`` partition takes any older row. Months ahead are made before any row can need them, so
the default partition never holds rows of a month that gets a partition later (PostgreSQL refuses that).
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import Connection, text

from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)

MONTHS_BACK = 36
MONTHS_AHEAD = 3


def _month(d: dt.date, shift: int = 0) -> dt.date:
    index = d.year * 12 + d.month - 1 + shift
    return dt.date(index // 12, index % 12 + 1, 1)


def wanted_months(today: dt.date) -> list[dt.date]:
    """The months that get a partition: rows older than the first go to the default partition (the window
    only moves forward, so no month the default partition holds rows of is ever created)."""
    return [_month(today, i) for i in range(-MONTHS_BACK, MONTHS_AHEAD + 1)]


def is_partitioned(conn: Connection, entity: str) -> bool:
    return bool(conn.execute(text(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'core' AND c.relname = :t"),
        {"t": entity}).first())


def ensure_partitions(conn: Connection, entity: str, today: dt.date) -> list[str]:
    """Create the missing monthly partitions (and the default one) of ``core.<entity>``; return their names.
    A no-op on SQLite and on a table created before partitioning (not partitioned)."""
    if dialect_of(conn).embedded or not is_partitioned(conn, entity):
        return []
    existing = {r[0] for r in conn.execute(text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
        "WHERE n.nspname = 'core' AND p.relname = :t"), {"t": entity})}
    made = []
    default = f"{entity}_pdefault"
    months = wanted_months(today)
    for month in months:
        name = f"{entity}_p{month:%Y%m}"
        if name in existing:
            continue
        nxt = _month(month, 1)
        conn.exec_driver_sql(f'CREATE TABLE IF NOT EXISTS core."{name}" PARTITION OF core."{entity}" '
                             f"FOR VALUES FROM ('{month.isoformat()}') TO ('{nxt.isoformat()}')")
        made.append(name)
    if default not in existing:
        conn.exec_driver_sql(f'CREATE TABLE IF NOT EXISTS core."{default}" PARTITION OF core."{entity}" DEFAULT')
        made.append(default)
    if made:
        log.info("core.%s: created partitions %s", entity, ", ".join(made))
    return made
