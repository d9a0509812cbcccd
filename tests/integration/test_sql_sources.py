"""The ``sql`` connector against real agency databases: PostgreSQL and MariaDB.

Each test gets a fresh database (fixtures ``pg_url`` / ``mariadb_url``), creates an agency
table, inserts rows, updates some, inserts more (some tied with the watermark, one arriving
late inside the overlap window) and runs incrementally: exactly the new and changed rows
arrive, once. Then the same through ``run_feed`` into the warehouse, with the watermark kept
in ``audit.feed_state``.
"""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from connectors.base import connector_for
from connectors.sql import SqlConnector
from exchange.runner import run_feed
from exchange.spec.catalog import load_catalog
from exchange.spec.feed import SqlSourceSpec
from exchange.warehouse.engine import make_engine
from tests.conftest import write
from tests.integration.sources import DDL, SQL_FEED, T0, execute, insert


@pytest.fixture(params=["postgresql", "mariadb"])
def agency_db(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    url = request.getfixturevalue("pg_url" if request.param == "postgresql" else "mariadb_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(DDL[engine.dialect.name]))
    engine.dispose()
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY_DB", url)
    return url


def connector(state: dict[str, Any] | None = None, **spec: Any) -> SqlConnector:
    options = {"kind": "sql", "conn": "agency_db", "table": "residents", "cursor": "updated_at", "key": ["id"],
               "overlap": 600, "batch_rows": 10, **spec}
    conn = connector_for(SqlSourceSpec(**options), base_dir=Path("."), feed_id="police.residents", state=state)
    assert isinstance(conn, SqlConnector)
    return conn


def read(conn: SqlConnector) -> list[dict[str, Any]]:
    return [r for b in conn.batches() for r in b.to_pylist()]


def test_incremental_reads_exactly_the_new_and_changed_rows(agency_db: str) -> None:
    insert(agency_db, range(1, 26), T0)
    first = connector()
    batches = list(first.batches())
    assert [b.num_rows for b in batches] == [10, 10, 5]
    rows = [r for b in batches for r in b.to_pylist()]
    assert sorted(int(r["id"]) for r in rows) == list(range(1, 26))
    one = next(r for r in rows if r["id"] == "3")
    assert (one["name"], one["gender"], one["amount"], one["born"], one["updated_at"]) == \
        ("居民3", "男", "3.50", "1990-01-02", "2026-03-01 08:00:00")
    assert one["active"] in ("false", "0")  # PostgreSQL boolean / MariaDB tinyint, as the database says
    assert one["_source_file"] == "sql:agency_db/residents"
    state = first.new_state()
    assert state is not None and state["cursor"] == "2026-03-01 08:00:00" and len(state["delivered"]) == 25

    # the agency's system works on: updates, new rows tied with the watermark, later rows,
    # and a row committed late whose updated_at is below the watermark (inside the overlap)
    execute(agency_db, "UPDATE residents SET name = '改名', updated_at = :t WHERE id IN (4, 5)",
            [{"t": T0 + dt.timedelta(hours=1)}])
    insert(agency_db, range(26, 29), T0)                                   # tied with the watermark
    insert(agency_db, range(29, 31), T0 + dt.timedelta(hours=1))           # later
    insert(agency_db, range(31, 32), T0 + dt.timedelta(minutes=55))        # late, inside the 10 min overlap
    second = connector(state)
    rows = read(second)
    assert sorted(int(r["id"]) for r in rows) == [4, 5, 26, 27, 28, 29, 30, 31]
    assert {r["name"] for r in rows if r["id"] in ("4", "5")} == {"改名"}
    state2 = second.new_state()
    assert state2 is not None and state2["cursor"] == "2026-03-01 09:00:00"

    third = connector(state2)
    assert third.fingerprint() == state2["fingerprint"]  # nothing new: the same batch, a no-op
    assert read(third) == []
    insert(agency_db, range(32, 33), T0 + dt.timedelta(hours=1))  # tied with the new watermark
    assert [r["id"] for r in read(connector(state2))] == ["32"]


def test_query_source_and_full_refresh(agency_db: str) -> None:
    insert(agency_db, range(1, 6), T0)
    rows = read(connector(table=None, query="SELECT id, name, updated_at FROM residents WHERE gender = '男'",
                          full_refresh=True))
    assert [r["id"] for r in rows] == ["1", "3", "5"]
    assert set(rows[0]) == {"id", "name", "updated_at", "_source_file", "_source_row", "_parse_error"}


def test_rows_stream_through_a_server_side_cursor(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(DDL["postgresql"]))
        conn.execute(text("INSERT INTO residents SELECT g, 'n' || g, '男', g, DATE '1990-01-02', true, "
                          "TIMESTAMP '2026-03-01 08:00:00' + g * INTERVAL '1 second' FROM generate_series(1, 5000) g"))
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY_DB", pg_url)
    batches = connector(batch_rows=1000).batches()
    first = next(batches)  # paused after the first batch: the rest is still on the server
    with engine.connect() as conn:
        open_cursors = conn.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND (query ILIKE 'FETCH%' OR query ILIKE 'DECLARE%')")).scalar()
    rest = sum(b.num_rows for b in batches)
    engine.dispose()
    assert first.num_rows == 1000 and rest == 4000
    assert open_cursors == 1


def test_run_feed_keeps_the_watermark_in_the_warehouse(agency_db: str, project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", SQL_FEED)
    catalog = load_catalog(project)
    insert(agency_db, range(1, 11), T0)
    first = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (first.rows_in, first.rows_loaded, first.inserted) == (10, 10, 10)
    assert run_feed("police.residents", settings=settings, catalog=catalog).already_loaded
    execute(agency_db, "UPDATE residents SET name = '新名', updated_at = :t WHERE id = 2",
            [{"t": T0 + dt.timedelta(minutes=30)}])
    insert(agency_db, range(11, 13), T0)  # tied with the watermark
    second = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (second.rows_in, second.inserted, second.updated) == (3, 2, 1)
    warehouse = make_engine(settings.warehouse_url, root=settings.root)
    with warehouse.connect() as conn:
        names = dict(conn.execute(text("SELECT source_record_id, name FROM core.person")).all())
        state = conn.execute(text("SELECT state, batch_id FROM audit.feed_state WHERE feed = 'police.residents'")).one()
    warehouse.dispose()
    assert len(names) == 12 and names["2"] == "新名"
    assert '"cursor": "2026-03-01 08:30:00"' in state[0] and state[1] == second.batch_id


def test_concurrent_writer_does_not_lose_rows(agency_db: str) -> None:
    """Rows committed while a run reads are either in this run or in the next one, never lost."""
    insert(agency_db, range(1, 201), T0)
    state: dict[str, Any] | None = None
    seen: list[int] = []
    stop = threading.Event()

    def writer() -> None:
        i = 1000
        while not stop.is_set() and i < 1100:
            insert(agency_db, range(i, i + 1), T0 + dt.timedelta(seconds=i % 7))
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        for _ in range(5):
            conn = connector(state, batch_rows=50)
            seen.extend(int(r["id"]) for r in read(conn))
            state = conn.new_state()
    finally:
        stop.set()
        thread.join()
    conn = connector(state)
    seen.extend(int(r["id"]) for r in read(conn))
    engine = create_engine(agency_db)
    with engine.connect() as c:
        everything = sorted(r[0] for r in c.execute(text("SELECT id FROM residents")))
    engine.dispose()
    assert sorted(seen) == everything  # every row exactly once
