"""Statements a search repeats are planned once per connection on PostgreSQL.

psycopg prepares a statement once its text has run a few times on a connection, and forgets every one it
prepared when a ``ROLLBACK`` (``ROLLBACK TO SAVEPOINT`` included) goes through it. The event lookups have one
text whatever the values (an array parameter, the limit a parameter) and run under ``generic_plans``: planned
once, where the server had planned the 41 monthly partitions of each table again at every search (0.9 ms of
planning against 0.2 ms of execution at a million persons). A scoped setting (the substring budget, the
generic plans) comes back as it was without rolling back, so the connection keeps what it prepared."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from sqlalchemy import Connection, Engine, create_engine, text

from exchange.access.lens import Lens
from exchange.investigate.search import _event_hits
from exchange.spec.catalog import load_catalog
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.dialects.base import OverBudget
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables
from exchange.warehouse.partitions import ensure_partitions
from tests.conftest import REPO

pytestmark = pytest.mark.integration

ID = "11010519491231002X"


@pytest.fixture()
def engine(pg_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


def _prepared(conn: Connection) -> dict[str, tuple[int, int]]:
    """Statement text → (generic plans, custom plans) of what the server holds prepared for this connection."""
    return {r[0]: (r[1], r[2]) for r in conn.execute(text(
        "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"))}


def test_a_scoped_setting_comes_back_and_the_prepared_statements_stay(engine: Engine) -> None:
    with engine.connect() as conn:
        dialect = dialect_of(conn)
        conn.execute(text("SET statement_timeout = 45000"))  # the session's own (a role's, say)
        for _ in range(6):  # psycopg prepares a text it has run 5 times
            dialect.select_rows(conn, "SELECT 1 + :x", {"x": 1})
        assert len(_prepared(conn)) == 1
        with dialect.generic_plans(conn):
            assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "force_generic_plan"
            dialect.select_rows(conn, "SELECT 1 + :x", {"x": 2})
        with dialect.time_budget(conn, 5000):
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "5s"
        assert conn.execute(text("SHOW plan_cache_mode")).scalar() == "auto"
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "45s"
        dialect.select_rows(conn, "SELECT 1 + :x", {"x": 3})
        assert len(_prepared(conn)) == 1  # a ROLLBACK would have made psycopg deallocate it
        with pytest.raises(OverBudget), dialect.time_budget(conn, 50):  # a cancelled read: rolled back to
            dialect.select_rows(conn, "SELECT pg_sleep(2)", {})
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "45s"
        assert conn.execute(text("SELECT 2")).scalar() == 2  # the transaction goes on


def test_event_lookups_have_one_text_and_are_planned_once(engine: Engine) -> None:
    catalog = load_catalog(REPO)
    hotel = catalog.schemas["hotel_stay"]
    ensure_tables(engine, [hotel])
    now = dt.datetime(2026, 11, 20, 22, 0)
    with engine.begin() as conn:
        ensure_partitions(conn, "hotel_stay", now.date())
        cols = {"source_agency": "police", "_batch_id": "b1", "_loaded_at": now, "_source_file": "f",
                "_source_row": 1, "_row_hash": "h", "hotel_code": "H1", "hotel_name": "某酒店", "room": "301",
                "division_code": "610902", "guest_name": "张三", "guest_id_number": ID}
        names = [c.name for c in conn.execute(text("SELECT * FROM core.hotel_stay LIMIT 0")).cursor.description]
        for i in range(3):
            row = {**{k: v for k, v in cols.items() if k in names}, "source_record_id": f"LY{i}",
                   "check_in": now - dt.timedelta(days=31 * i), "check_out": now - dt.timedelta(days=31 * i - 1)}
            row = {k: v for k, v in row.items() if k in names}
            conn.execute(text(f"INSERT INTO core.hotel_stay ({', '.join(row)}) VALUES "
                              f"({', '.join(':' + k for k in row)})"), row)
    with engine.connect() as conn:
        for _ in range(7):
            hits = _event_hits(conn, Lens(None), [hotel], {"id": {ID}})
            assert sorted(h.record for h in hits) == ["LY0", "LY1", "LY2"]
        for _ in range(6):  # several values, another limit: the same statement
            assert len(_event_hits(conn, Lens(None), [hotel], {"id": {ID, "110105194912310039"}})) == 3
        lookups = {s: plans for s, plans in _prepared(conn).items() if "core.hotel_stay" in s or
                   'core."hotel_stay"' in s}
        assert len(lookups) == 1, lookups
        generic, custom = next(iter(lookups.values()))
        assert generic >= 2 and custom == 0, lookups


def test_a_served_request_leaves_its_prepared_statements_to_the_next(pg_url: str) -> None:
    """``run_tool`` (what ``exchange serve`` runs for a search, a timeline, a graph) ends its read with a
    commit: the pooled connection keeps what psycopg prepared. Closing it with the transaction open rolled
    back, and psycopg then dropped every prepared statement: each request planned its lookups anew."""
    from types import SimpleNamespace

    from exchange.investigate import elements
    from exchange.workspace.investigate import ToolRequest, run_tool

    catalog = load_catalog(REPO)
    engine = make_engine(pg_url)
    try:
        ensure_tables(engine, list(catalog.schemas.values()))
        elements.ensure_tables(engine)
    finally:
        engine.dispose()
    pooled = create_engine(pg_url, pool_size=1, max_overflow=0)  # every request on the one connection
    try:
        ws = SimpleNamespace(catalog=catalog)
        for _ in range(7):
            answer, hits, _who = run_tool(pooled, ws, Lens(None), ToolRequest("search", ID))
            assert answer is not None and hits == 0
        with pooled.connect() as conn:
            held = _prepared(conn)
            conn.commit()
        assert any('core."hotel_stay"' in s for s in held), sorted(held)
    finally:
        pooled.dispose()


def test_reading_commits_reads_made_through_the_driver_alone(pg_url: str) -> None:
    """The investigation tools read through psycopg's own cursor (``select_rows``), which starts the driver's
    transaction without SQLAlchemy knowing: ``reading`` begins the transaction itself so that its commit
    reaches the driver, and the next request on the pooled connection finds the statement prepared."""
    from exchange.warehouse.engine import reading

    pooled = create_engine(pg_url, pool_size=1, max_overflow=0)
    try:
        for x in range(2):
            with reading(pooled) as conn:
                for _ in range(3):  # 6 runs in all: prepared only if the first request's survive
                    dialect_of(conn).select_rows(conn, "SELECT 2 + :x", {"x": x})
        with reading(pooled) as conn:
            assert "SELECT 2 + $1" in _prepared(conn)
    finally:
        pooled.dispose()
