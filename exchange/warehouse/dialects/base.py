"""What a warehouse dialect is: the capabilities and statements in which SQLite and PostgreSQL differ.
Code that needs one asks ``dialect_of(conn)`` (:mod:`exchange.warehouse.dialects`) instead of
comparing dialect names."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    import pyarrow as pa
    from sqlalchemy import Connection, Engine, Table
    from sqlalchemy.engine import URL

    from exchange.warehouse.locks import HeldLock


class OverBudget(Exception):
    """A read given a time budget (:meth:`Dialect.time_budget`) ran out of it; the transaction goes on."""


class Dialect:
    name: ClassVar[str]
    embedded: ClassVar[bool]
    """A database file beside the exchange (no server, no roles): SQLite."""
    namespaces_are_schemas: ClassVar[bool]
    """``core``, ``audit``... are schemas of one database (else: attached files, shares as name prefixes)."""
    materialized_shares: ClassVar[bool]
    """Row-filtered shares are materialized views, refreshed after a load."""
    deferred_indexes: ClassVar[bool]
    """Filling an empty table is faster with its indexes dropped and built after."""
    json_profiles: ClassVar[bool]
    """The database builds a person's profile as JSON in one statement."""
    insert: ClassVar[Any]
    """The INSERT construct with ``on_conflict_do_update`` / ``do_nothing``."""

    def make_engine(self, url: URL, *, root: Path | None, echo: bool) -> Engine:
        raise NotImplementedError

    def describe(self, engine: Engine) -> str:
        """Where the warehouse is, for humans (no password)."""
        return engine.url.render_as_string(hide_password=True)

    def feed_lock(self, engine: Engine, feed_id: str, wait_seconds: float) -> AbstractContextManager[HeldLock]:
        """One run of a feed at a time (``exchange.warehouse.locks``)."""
        raise NotImplementedError

    def xact_lock(self, conn: Connection, key: int) -> None:
        """Serialise writers on ``key`` until the transaction ends."""

    def create_schemas(self, conn: Connection, names: Iterable[str]) -> None:
        """Create the namespaces that are schemas (none where they are attached files)."""

    def bulk_insert(self, conn: Connection, table: Table, batches: Iterable[pa.RecordBatch | pa.Table],
                    extra: dict[str, object] | None = None) -> int:
        """Insert Arrow batches (plus constant columns ``extra``) into ``table``; return the rows."""
        raise NotImplementedError

    def one_of(self, column: str, param: str) -> str:
        """SQL: ``column`` (text) is one of the values bound to ``param`` as one parameter (built by
        :meth:`values`): one placeholder however many values, where an expanded ``IN`` list makes the
        driver parse and the server plan one placeholder per value."""
        raise NotImplementedError

    def values(self, items: Iterable[Any]) -> Any:
        """The parameter :meth:`one_of` reads."""
        raise NotImplementedError

    def select_rows(self, conn: Connection, sql: str, params: dict[str, Any], *,
                    as_dicts: bool = False) -> list[Any]:
        """The rows of ``sql`` (``:name`` parameters; a list after ``IN`` expands) as tuples (as dicts:
        ``as_dicts``), in ``conn``'s transaction. The hot reads of the investigation tools: a dialect may
        skip SQLAlchemy's result machinery (about two thirds of a small read's client time)."""
        from sqlalchemy import text

        sql, params = expand_in(sql, params)
        result = conn.execute(text(sql), params)
        return [dict(r._mapping) for r in result] if as_dicts else [tuple(r) for r in result]

    def rows_of(self, alias: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> tuple[str, dict[str, Any]]:
        """A FROM item ``alias`` with the text ``columns``, one row per tuple of ``rows``, and the parameters
        it binds: SQL whose text is the same however many rows (the server plans it once and keeps the
        plan), where a ``UNION`` of a part per kind of row, or an expanded list, is planned anew each time."""
        raise NotImplementedError

    @contextmanager
    def time_budget(self, conn: Connection, milliseconds: int) -> Iterator[None]:
        """Reads inside run for at most ``milliseconds`` (wall time, in the database), else
        :class:`OverBudget` is raised and ``conn``'s transaction carries on as before the block. Only reads
        belong inside: what they changed may be undone. Without a dialect's own, no limit."""
        yield

    @contextmanager
    def generic_plans(self, conn: Connection) -> Iterator[None]:
        """Statements inside are planned once per connection and the plan kept (a server's generic plan),
        not planned again at every execution. For lookups on tables partitioned by month, whose planning
        (every partition's indexes) costs several times their execution. Without a dialect's own, as
        the database plans them."""
        yield

    def stream_query(self, engine: Engine, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        """The rows of ``sql`` as Arrow tables of strings, about ``batch_rows`` at a time."""
        raise NotImplementedError

    def stream_query_in(self, conn: Connection, sql: str, batch_rows: int) -> Iterator[pa.Table]:
        """``stream_query`` inside ``conn``'s open transaction (what it sees; the transaction stays open)."""
        raise NotImplementedError

    def analyze(self, engine: Engine, tables: Iterable[str]) -> None:
        """Fresh planner statistics for tables just rewritten."""


_IN_PARAM = re.compile(r"\bIN :(\w+)")


def expand_in(sql: str, params: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """``IN :name`` with a list bound to ``name`` as ``IN (:name_0, :name_1, ...)`` (``IN (NULL)``, which
    holds for no row, for an empty list); other list parameters stay one (array) parameter."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        values = params.get(name)
        if not isinstance(values, (list, tuple, set, frozenset)):
            return m.group(0)
        items = sorted(values) if isinstance(values, (set, frozenset)) else list(values)
        expanded.update({f"{name}_{i}": v for i, v in enumerate(items)})
        dropped.add(name)
        return "IN (" + (", ".join(f":{name}_{i}" for i in range(len(items))) or "NULL") + ")"

    expanded: dict[str, Any] = {}
    dropped: set[str] = set()
    sql = _IN_PARAM.sub(one, sql)
    if not dropped:
        return sql, params
    return sql, {**{k: v for k, v in params.items() if k not in dropped}, **expanded}
