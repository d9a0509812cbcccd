"""Materialise grants in the warehouse: compute the desired state, diff it with the database's
catalog, apply only the differences (``exchange grants apply``) or show them (``grants check``).

PostgreSQL, per consumer agency ``c`` (role names start with ``EXCHANGE_GRANT_ROLE_PREFIX``,
default ``exchange_``, because roles are shared by every database of a server):

- group role ``exchange_c`` (NOLOGIN) and login roles ``exchange_c__<login>`` that inherit it
  (passwords from ``EXCHANGE_GRANT_PASSWORD_C__<LOGIN>``, never from YAML);
- schema ``share_c`` of ``security_barrier`` views, one per granted entity (materialized views where the
  grant filters rows, so that no plan shows a count of hidden rows; refreshed when a batch is published);
- ``GRANT USAGE`` on ``share_c`` and ``SELECT`` on its views, and nothing else: any other privilege
  a managed role (or PUBLIC, on ``core``, ``quarantine``, ``mdm``, ``audit``, ``share_fn``) holds on a
  schema or relation is revoked;
- ``share_fn``: the mask functions and the consumers' pseudonym keys (a table only the owner reads).

Every role and schema the exchange manages carries a comment ``exchange-grant <consumer>``; only
those are ever altered or dropped (a consumer whose grant file is gone loses its views, schema and
roles). Re-applying an unchanged grant finds no difference and changes nothing.

SQLite: the views (``core.share_c__<entity>``) are created and compared; there are no roles or
privileges, so nothing is enforced.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection

from exchange.access import sql
from exchange.access.changes import LOCK_TIMEOUT_ENV, Change, Recorder, _rows, describe_rows, role_prefix
from exchange.access.plan_pg import plan_pg
from exchange.access.spec import NAME_RE, GrantSet
from exchange.errors import ConfigError
from exchange.spec.settings import env_seconds
from exchange.warehouse.dialects import dialect_of

log = logging.getLogger(__name__)



def refresh_shares(conn: Connection, entity: str, schema: str = "core") -> list[str]:
    """PostgreSQL: refresh every shared materialized view that reads ``<schema>.<entity>`` (directly or
    through a via rule); run when a batch of the entity is published. Returns the views refreshed."""
    if not dialect_of(conn).materialized_shares:
        return []
    names = [r.name for r in _rows(
        conn, r"SELECT DISTINCT quote_ident(n.nspname) || '.' || quote_ident(v.relname) AS name FROM pg_depend d "
              r"JOIN pg_rewrite w ON w.oid = d.objid JOIN pg_class v ON v.oid = w.ev_class "
              r"JOIN pg_namespace n ON n.oid = v.relnamespace WHERE d.classid = 'pg_rewrite'::regclass "
              r"AND d.refobjid = to_regclass(:t) AND v.relkind = 'm' AND n.nspname LIKE 'share\_%' ORDER BY 1",
        t=f'{schema}."{entity}"')]
    for name in names:
        conn.exec_driver_sql(f"REFRESH MATERIALIZED VIEW CONCURRENTLY {name}")
    return names


def _sqlite_view(consumer: str, entity: str) -> str:
    return f"{sql.share_schema(consumer)}{sql.SQLITE_SEP}{entity}"


def plan_sqlite(conn: Connection, grants: GrantSet) -> list[Change]:
    have = {r.name: r.sql for r in _rows(conn, r"SELECT name, sql FROM core.sqlite_master WHERE type = 'view' "
                                               r"AND name LIKE 'share\_%' ESCAPE '\'")}
    changes: list[Change] = []
    wanted = set()
    for g in grants:
        for entity, share in g.entities.items():
            name = _sqlite_view(g.consumer, entity)
            wanted.add(name)
            create = sql.create_view(g, share, "sqlite")
            select = sql.select_sql(g, share, "sqlite")
            detail = f"{len(share.columns)} column(s), {len(share.hidden)} hidden; rows: {describe_rows(share)}"
            if name not in have:
                changes.append(Change(g.consumer, "create_view", f"core.{name}", detail, tuple(create)))
            elif not (have[name] or "").rstrip().endswith(select):
                changes.append(Change(g.consumer, "replace_view", f"core.{name}", f"definition differs; {detail}",
                                      (f"DROP VIEW core.{sql.ident(name)}", *create)))
    for name in sorted(set(have) - wanted):
        if sql.SQLITE_SEP in name:
            changes.append(Change(name.split(sql.SQLITE_SEP)[0].removeprefix("share_"), "drop_view", f"core.{name}",
                                  "no longer granted", (f"DROP VIEW core.{sql.ident(name)}",)))
    return changes


# --- both ----------------------------------------------------------------------------------------------------


def plan(conn: Connection, grants: GrantSet, *, prefix: str | None = None, env: dict[str, str] | None = None,
         reset_passwords: bool = False) -> list[Change]:
    """Every difference between the grants and the database (empty: in sync)."""
    for g in grants:
        if not re.match(NAME_RE, g.consumer):  # checked at load; checked again where it becomes SQL
            raise ConfigError(f"{g.file}: consumer: {g.consumer!r} is not a safe name")
    if dialect_of(conn).embedded:  # views over the attached files, mask functions in the connection
        return plan_sqlite(conn, grants)
    return plan_pg(conn, grants, prefix=prefix or role_prefix(env), env=env, reset_passwords=reset_passwords)


def lock_timeout_ms(env: dict[str, str] | None = None) -> int:
    return int(env_seconds(LOCK_TIMEOUT_ENV, "5", positive=True, environ=env) * 1000)


def apply_changes(conn: Connection, changes: Iterable[Change], grants: GrantSet,
                  record: Recorder | None = None, *, prefix: str | None = None) -> list[Change]:
    """Run every change in the caller's transaction; then record each (the ledger append comes last).

    PostgreSQL: each change runs in a savepoint with a lock timeout, so one change that cannot be made —
    a view a consumer's open transaction holds, a role that owns objects elsewhere — never undoes the
    others. A change blocked by a lock is retried once after the sessions of its consumer are ended; one
    that still fails runs its ``fallback`` (disable instead of drop) or is reported ``failed`` with the
    reason (``grants check`` keeps showing it)."""
    done: list[Change] = []
    pg = not dialect_of(conn).embedded  # a server: lock timeouts, savepoints, roles
    cursor = conn.connection.cursor()  # the DBAPI cursor: DDL is run verbatim, no placeholder parsing
    try:
        if pg:
            cursor.execute(f"SET LOCAL lock_timeout = '{lock_timeout_ms()}ms'")
        for change in changes:
            if not change.statements and not change.secret:  # reported only (refused, failed)
                done.append(change)
                continue
            if not pg:
                for stmt in (*change.statements, *change.secret):
                    cursor.execute(stmt)
                done.append(change)
                continue
            done.append(_apply_one(cursor, change, prefix))
    finally:
        cursor.close()
    if record is not None:
        for change in done:
            record(conn, change, grants.grants.get(change.consumer))
    return done


def _attempt(cursor: Any, statements: Iterable[str]) -> str | None:
    """Run ``statements`` in a savepoint; None when done, else the database's reason (rolled back)."""
    cursor.execute("SAVEPOINT exchange_change")
    try:
        for stmt in statements:
            cursor.execute(stmt)
    except Exception as exc:  # noqa: BLE001 - any refusal of the database is reported with the change
        cursor.execute("ROLLBACK TO SAVEPOINT exchange_change")
        return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    cursor.execute("RELEASE SAVEPOINT exchange_change")
    return None


def _apply_one(cursor: Any, change: Change, prefix: str | None) -> Change:
    import dataclasses

    error = _attempt(cursor, (*change.statements, *change.secret))
    if error and "lock timeout" in error and prefix and change.consumer != "*":
        log.warning("grants: %s %s waited for a lock; ending the sessions of %s and trying again",
                    change.action, change.object, change.consumer)
        group = prefix + change.consumer
        cursor.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = "
                       f"{sql.literal(group)} OR starts_with(usename, {sql.literal(group + '__')})")
        error = _attempt(cursor, (*change.statements, *change.secret))
    if error is None:
        return change
    if change.fallback and _attempt(cursor, change.fallback) is None:
        return dataclasses.replace(change, action=f"{change.action}_refused", statements=change.fallback, secret=(),
                                   detail=f"{change.detail}; could not be done ({error}): disabled instead")
    return dataclasses.replace(change, action="failed", statements=(), secret=(),
                               detail=f"{change.action}: {change.detail}; the database refused: {error}")


def sync(conn: Connection, grants: GrantSet, *, prefix: str | None = None, env: dict[str, str] | None = None,
         reset_passwords: bool = False, record: Recorder | None = None) -> list[Change]:
    """Plan and apply until the database matches the grants (a second plan must come back empty)."""
    if not dialect_of(conn).embedded:
        prefix = prefix or role_prefix(env)
    changes = plan(conn, grants, prefix=prefix, env=env, reset_passwords=reset_passwords)
    if any(c.action == "create_extension" for c in changes):
        # pgcrypto's schema is only known once it exists: create it, then plan again
        first = [c for c in changes if c.action in ("create_extension", "create_functions")]
        apply_changes(conn, first, grants, record, prefix=prefix)
        rest = plan(conn, grants, prefix=prefix, env=env, reset_passwords=reset_passwords)
        return first + apply_changes(conn, rest, grants, record, prefix=prefix)
    return apply_changes(conn, changes, grants, record, prefix=prefix)
