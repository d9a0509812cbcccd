"""The export component: rows of a shared table or a read-only query to a file, on record."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.workspace.record import _on_record, _operator_record, _query_errors

# --- exports for spreadsheets (exchange.export) --------------------------------------------------------

_EXPORT_TABLE = r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$"


def export_rows(table: str | None, out: Path, *, query: str | None = None, fmt: str | None = None,
                limit: int | None = None, settings: Settings | None = None, purpose: str | None = None,
                case_number: str | None = None) -> Any:
    """Write a warehouse table or view (``core.person``, ``quarantine.person``, ``audit.batch``, …) or
    the rows of a SELECT to CSV or XLSX, formula injection neutralised (see exchange.export). The
    warehouse's values are never changed. Returns ``exchange.export.ExportResult``.

    Every export that reaches the warehouse is a row of ``audit.access`` (channel ``export``, agency
    ``operator``): the operating-system user and host, the purpose and case number given, what was
    exported, how many rows to which file — or why it failed."""
    import itertools
    import re

    from sqlalchemy import MetaData, Table, inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    from exchange import export
    from exchange.access.changes import role_prefix
    from exchange.access.operator import read_only
    from exchange.access.sqlite import install as install_masks

    kind = export.export_format(out, fmt)
    if (table is None) == (query is None):
        raise ConfigError("export: name a table (e.g. core.person, quarantine.person) or give --query, not both")
    if query is not None and not query.lstrip().lower().startswith(("select", "with")):
        raise ConfigError("export --query: only SELECT / WITH queries can be exported")
    if table is not None and not re.fullmatch(_EXPORT_TABLE, table):
        raise ConfigError(f"export: {table!r} is not a table name of the form <namespace>.<table> "
                          f"(core.person, quarantine.person, core.person_history, audit.batch, …)")
    source = table or "query"
    record = _export_record(table, query, out, purpose, case_number)
    with _on_record(settings, record) as engine, _query_errors(f"export of {source}"):
        install_masks(engine)  # SQLite: the masks the share views call
        with engine.connect() as conn:
            if table is not None:  # a table or view the exchange names: read with the warehouse's own role
                namespace, name = table.split(".")
                inspector = inspect(conn)
                try:
                    known = set(inspector.get_table_names(schema=namespace)) | set(
                        inspector.get_view_names(schema=namespace))
                    if dialect_of(conn).materialized_shares:  # filtered shares are materialized views
                        known |= set(inspector.get_materialized_view_names(schema=namespace))
                except SQLAlchemyError:
                    known = set()
                if name not in known:
                    listed = ", ".join(f"{namespace}.{n}" for n in sorted(known)) or "none"
                    raise ConfigError(f"export: no table {table!r} in the warehouse (tables of {namespace!r}: "
                                      f"{listed})")
                stmt: Any = select(Table(name, MetaData(), schema=namespace, autoload_with=conn))
                result = conn.execution_options(stream_results=True, yield_per=5_000).execute(stmt)
                rows = itertools.islice(result, limit) if limit is not None else result
                written = export.write_export(out, list(result.keys()), rows, fmt=kind, source=source)
                if not dialect_of(conn).embedded:  # a server's role (SQLite has none)
                    record.db_role = conn.exec_driver_sql("SELECT current_user").scalar()
        if query is not None:  # the operator's own SELECT: read-only role, one statement, a timeout
            with _query_errors(f"export of {source}"), \
                    read_only(engine, query, prefix=role_prefix(),
                              on_role=lambda role: setattr(record, "db_role", role)) as found:
                rows = itertools.islice(found.rows, limit) if limit is not None else found.rows
                written = export.write_export(out, found.columns, rows, fmt=kind, source=source)
        record.status, record.outcome, record.row_count = 200, "ok", written.rows
        return written


def _export_record(table: str | None, query: str | None, out: Path, purpose: str | None,
                   case_number: str | None) -> Any:
    from exchange.access.operator import normalise_query

    what = f"export {table or 'query'} to {out.name}" + (f": {normalise_query(query)}" if query else "")
    return _operator_record("export", what, table or "query", purpose, case_number,
                            detail=normalise_query(query) if query else None)


