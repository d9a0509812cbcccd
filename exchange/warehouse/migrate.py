"""Create and upgrade the warehouse — never drop and recreate it.

Two mechanisms, both Alembic:

1. Versioned migrations (``exchange/warehouse/migrations/versions``) for the fixed tables
   (``audit.*``), run with ``upgrade head``; the version is kept in ``audit.alembic_version``.
2. The tables generated from the shared schemas (``core.<entity>``, its history,
   ``quarantine.<entity>``, and any other MetaData handed in such as ``mdm.*``) follow their
   YAML: Alembic's autogenerate compares them with the database and the *additive* changes
   (a new table, a new nullable column, a new index, a column made nullable) are applied.
   Anything else (a dropped or retyped column, a column made required) would break
   consumers or lose data: it is refused with an error that asks for a major schema version
   and a written migration.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, Engine, MetaData

from exchange.errors import ConfigError
from exchange.spec.schema import EntitySchema
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.engine import NAMESPACES
from exchange.warehouse.tables import EntityTables

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(conn: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = conn
    return cfg


def migrate(engine: Engine, schemas: Iterable[EntitySchema], *extra: MetaData) -> list[str]:
    """Bring the warehouse up to date; return a line per change applied."""
    metadata = MetaData()
    for s in schemas:
        EntityTables(s, metadata)
    for md in extra:
        for table in md.tables.values():
            table.to_metadata(metadata)
    with engine.begin() as conn:
        dialect = dialect_of(conn)
        dialect.xact_lock(conn, 4242424242)  # serialise concurrent first runs (two feeds on an empty warehouse)
        dialect.create_schemas(conn, NAMESPACES)
        command.upgrade(alembic_config(conn), "head")
        return sync_tables(conn, metadata)


def _only_declared(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    # Tables and indexes that exist in the database but not in the metadata handed in belong to
    # other schemas or to the versioned migrations: never a reason to drop anything.
    return not (reflected and compare_to is None)


def _include_name(name: str | None, type_: str, parent_names: dict[str, Any]) -> bool:
    if type_ == "schema":
        return name in NAMESPACES
    return True


def sync_tables(conn: Connection, metadata: MetaData) -> list[str]:
    ctx = MigrationContext.configure(conn, opts={
        "include_schemas": True, "include_object": _only_declared, "include_name": _include_name,
        "compare_type": True, "compare_server_default": False})
    diffs = compare_metadata(ctx, metadata)
    ops = Operations(ctx)
    applied: list[str] = []
    refused: list[str] = []
    for diff in _flatten(diffs):
        kind = diff[0]
        if kind == "add_table":
            table = diff[1]
            table.create(conn)
            applied.append(f"created table {table.schema}.{table.name}")
        elif kind == "add_column":
            _, schema, tname, column = diff
            if not column.nullable and column.server_default is None:
                refused.append(f"{schema}.{tname}.{column.name}: a new required column cannot be added to "
                               f"existing rows")
                continue
            ops.add_column(tname, column.copy(), schema=schema)
            applied.append(f"added column {schema}.{tname}.{column.name}")
        elif kind == "add_index":
            index = diff[1]
            index.create(conn)
            applied.append(f"created index {index.name}")
        elif kind == "modify_nullable":
            _, schema, tname, cname, info, _old, new = diff
            if new is True:
                ops.alter_column(tname, cname, nullable=True, schema=schema, existing_type=info.get("existing_type"))
                applied.append(f"made {schema}.{tname}.{cname} nullable")
            else:
                refused.append(f"{schema}.{tname}.{cname}: making a column required breaks existing rows")
        elif kind in ("modify_comment", "modify_table_comment", "add_table_comment"):
            continue
        else:
            refused.append(f"{_describe(diff)}")
    if refused:
        raise ConfigError("the warehouse cannot follow these schema changes without a major version and a "
                          "written migration (nothing was changed)", refused)
    for line in applied:
        log.info("warehouse: %s", line)
    return applied


def _flatten(diffs: list[Any]) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for d in diffs:
        if isinstance(d, list):  # column-level modifications come grouped
            out.extend(d)
        else:
            out.append(d)
    return out


def _describe(diff: tuple[Any, ...]) -> str:
    kind = diff[0]
    if kind == "modify_type":
        _, schema, tname, cname, _info, old, new = diff
        return f"{schema}.{tname}.{cname}: type {old} → {new}"
    if kind == "remove_column":
        _, schema, tname, column = diff
        return f"{schema}.{tname}.{column.name}: column removed"
    return f"{kind}: {diff[1:]!r}"[:300]
