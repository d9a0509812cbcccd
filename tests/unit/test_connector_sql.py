"""The ``sql`` source kind on SQLite: values as text, table or query, incremental reads without
loss or duplicates (ties, overlap, updates), full refresh, spec checks and clear errors."""

from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from connectors.base import connector_for
from connectors.sql import SqlConnector, to_text
from exchange.errors import ConfigError, SourceError, TransientError
from exchange.spec.feed import SqlSourceSpec

T0 = "2026-03-01 08:00:00"


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "agency.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, updated_at TEXT)")
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY", f"sqlite:///{path}")
    return path


def sql(db: Path, statement: str, rows: list[tuple] | None = None) -> None:
    with sqlite3.connect(db) as conn:
        if rows is None:
            conn.execute(statement)
        else:
            conn.executemany(statement, rows)


def insert(db: Path, *rows: tuple[int, str, str]) -> None:
    sql(db, "INSERT INTO people VALUES (?, ?, ?)", list(rows))


def connector(state: dict[str, Any] | None = None, batch_rows: int = 100, **spec: Any) -> SqlConnector:
    options = {"kind": "sql", "conn": "agency", "table": "people", "cursor": "updated_at", "key": ["id"], **spec}
    conn = connector_for(SqlSourceSpec(**options), base_dir=Path("."), feed_id="t.f", batch_rows=batch_rows,
                         state=state)
    assert isinstance(conn, SqlConnector)
    return conn


def run(state: dict[str, Any] | None = None, **spec: Any) -> tuple[list[dict[str, Any]], dict[str, Any] | None, str]:
    conn = connector(state, **spec)
    fp = conn.fingerprint()
    rows = [r for b in conn.batches() for r in b.to_pylist()]
    return rows, conn.new_state(), fp


def names(rows: list[dict[str, Any]]) -> list[str]:
    return [r["name"] for r in rows]


# ---------------------------------------------------------------- values


@pytest.mark.parametrize(("value", "text"), [
    (None, None), ("原样 ", "原样 "), (True, "true"), (False, "false"), (42, "42"), (-7, "-7"),
    (Decimal("100.50"), "100.50"), (Decimal("1E+3"), "1000"), (Decimal("0.000001"), "0.000001"),
    (3.0, "3"), (0.1, "0.1"), (1e300, "1e+300"),
    (dt.datetime(2026, 3, 1, 8, 0, 5), "2026-03-01 08:00:05"),
    (dt.datetime(2026, 3, 1, 8, 0, 5, 120000), "2026-03-01 08:00:05.120000"),
    (dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.UTC), "2026-03-01 08:00:00+00:00"),
    (dt.date(2026, 3, 1), "2026-03-01"), (dt.time(8, 30), "08:30:00"),
    (b"\x00\xff", "00ff"), (memoryview(b"ab"), "6162"), ({"a": [1, "二"]}, '{"a":[1,"二"]}'),
    (uuid.UUID(int=1), "00000000-0000-0000-0000-000000000001"),
])
def test_values_as_text(value: Any, text: str | None) -> None:
    assert to_text(value) == text


def test_table_and_meta_columns(db: Path) -> None:
    insert(db, (1, "甲", T0), (2, "乙", T0))
    rows, _, _ = run()
    assert rows[0] == {"id": "1", "name": "甲", "updated_at": T0, "_source_file": "sql:agency/people",
                       "_source_row": 1, "_parse_error": None}
    assert [r["_source_row"] for r in rows] == [1, 2]


def test_query_source(db: Path) -> None:
    insert(db, (1, "甲", T0), (2, "乙", "2026-03-02 00:00:00"), (3, "丙", T0))
    rows, state, _ = run(table=None, query="SELECT id, name, updated_at, length(name) AS n FROM people "
                                           "WHERE name <> '乙';")
    assert names(rows) == ["甲", "丙"] and rows[0]["n"] == "1"
    assert rows[0]["_source_file"] == "sql:agency/query"
    assert state and state["cursor"] == T0


def test_spec_batch_rows_wins(db: Path) -> None:
    insert(db, *[(i, f"n{i}", T0) for i in range(1, 8)])
    spec = SqlSourceSpec(kind="sql", conn="agency", table="people", cursor="updated_at", batch_rows=3)
    batches = list(connector_for(spec, base_dir=Path("."), feed_id="t.f", batch_rows=100).batches())
    assert [b.num_rows for b in batches] == [3, 3, 1]


# ---------------------------------------------------------------- incremental


def test_ties_at_the_watermark_are_taken_exactly_once(db: Path) -> None:
    insert(db, (1, "a", T0), (2, "b", "2026-03-01 08:00:01"), (3, "c", "2026-03-01 08:00:01"))
    rows, state, _ = run()
    assert names(rows) == ["a", "b", "c"]
    assert state is not None and state["cursor"] == "2026-03-01 08:00:01" and len(state["delivered"]) == 2
    # committed after the first run, with the same updated_at as the watermark
    insert(db, (4, "d", "2026-03-01 08:00:01"), (5, "e", "2026-03-01 08:00:02"))
    rows, state2, _ = run(state)
    assert names(rows) == ["d", "e"]
    rows, state3, fp = run(state2)
    assert rows == [] and fp == state2["fingerprint"] and state3 == state2


def test_updated_rows_arrive_unchanged_rows_do_not(db: Path) -> None:
    insert(db, (1, "a", T0), (2, "b", T0), (3, "c", T0))
    _, state, _ = run()
    sql(db, "UPDATE people SET name = 'B', updated_at = '2026-03-01 09:00:00' WHERE id = 2")
    rows, state, _ = run(state)
    assert [(r["id"], r["name"]) for r in rows] == [("2", "B")]
    # changed again within the same second: still inside the window, so it arrives (digest differs)
    sql(db, "UPDATE people SET name = 'BB' WHERE id = 2")
    rows, state, _ = run(state)
    assert names(rows) == ["BB"]
    rows, _, _ = run(state)
    assert rows == []


def test_overlap_catches_late_rows(db: Path) -> None:
    insert(db, (1, "a", "2026-03-01 08:00:00"), (2, "b", "2026-03-01 08:10:00"))
    _, state, _ = run(overlap=300)
    assert state is not None and len(state["delivered"]) == 1  # only b is inside [08:05, 08:10]
    # a transaction that started earlier commits late: its updated_at is below the watermark
    insert(db, (3, "late, inside the window", "2026-03-01 08:06:00"),
           (4, "late, outside the window", "2026-03-01 08:04:00"))
    rows, state2, _ = run(state, overlap=300)
    assert names(rows) == ["late, inside the window"]
    # without an overlap the late row is not seen
    _, plain, _ = run()
    insert(db, (5, "late again", "2026-03-01 08:09:00"))
    rows, _, _ = run(plain)
    assert rows == []
    rows, _, _ = run(state2, overlap=300)
    assert names(rows) == ["late again"]


def test_integer_cursor(db: Path) -> None:
    insert(db, (1, "a", T0), (2, "b", T0))
    rows, state, _ = run(cursor="id", cursor_type="integer")
    assert state is not None and state["cursor"] == "2"
    insert(db, (3, "c", T0), (10, "d", T0))
    rows, state, _ = run(state, cursor="id", cursor_type="integer")
    assert names(rows) == ["c", "d"] and state and state["cursor"] == "10"


def test_iso_t_and_date_only_cursors(db: Path) -> None:
    insert(db, (1, "a", "2026-03-01T08:00:00"), (2, "b", "2026-03-01T08:00:00"))
    _, state, _ = run()
    insert(db, (3, "c", "2026-03-01T08:00:00"))
    rows, _, _ = run(state)
    assert names(rows) == ["c"]
    sql(db, "DELETE FROM people")
    insert(db, (1, "a", "2026-03-01"), (2, "b", "2026-03-02"))
    _, state, _ = run(overlap=3600)
    insert(db, (3, "c", "2026-03-02"), (4, "d", "2026-03-01"), (5, "e", "2026-02-28"))
    rows, _, _ = run(state, overlap=3600)
    # date-only cursors have whole-day windows: 'd' is inside (and 'a' is not read twice), 'e' is not
    assert names(rows) == ["d", "c"]


def test_null_cursor_rows_are_read_first_time_only(db: Path, caplog: pytest.LogCaptureFixture) -> None:
    insert(db, (1, "a", T0))
    sql(db, "INSERT INTO people VALUES (2, 'no stamp', NULL)")
    with caplog.at_level(logging.WARNING):
        rows, state, _ = run()
    assert sorted(names(rows)) == ["a", "no stamp"]
    assert "have a NULL updated_at" in caplog.text
    rows, _, _ = run(state)
    assert rows == []


def test_full_refresh(db: Path) -> None:
    insert(db, (1, "a", T0), (2, "b", T0))
    rows, state, fp = run(full_refresh=True)
    assert names(rows) == ["a", "b"]
    rows, _, fp2 = run(state, full_refresh=True)
    assert names(rows) == ["a", "b"] and fp2 == fp  # the state is ignored; same data, same batch
    # without a cursor the fingerprint covers every value: an in-place change is a new batch
    _, none_state, fp3 = run(full_refresh=True, cursor=None, key=[])
    assert none_state is None
    sql(db, "UPDATE people SET name = 'A' WHERE id = 1")
    _, _, fp4 = run(full_refresh=True, cursor=None, key=[])
    assert fp4 != fp3


def test_fingerprint_covers_state_interval_and_data(db: Path) -> None:
    insert(db, (1, "a", T0))
    _, state, fp = run()
    assert connector().fingerprint() == fp
    day = (dt.datetime(2026, 3, 1), dt.datetime(2026, 3, 2))
    assert connector_for(SqlSourceSpec(kind="sql", conn="agency", table="people", cursor="updated_at"),
                         base_dir=Path("."), feed_id="t.f", interval=day).fingerprint() != fp
    insert(db, (2, "b", T0))
    assert connector().fingerprint() != fp
    assert connector(state).fingerprint() not in (fp, connector().fingerprint())


def test_describe(db: Path) -> None:
    insert(db, (1, "a", T0))
    conn = connector()
    assert conn.describe()["source"] == "sql:agency/people" and "rows" not in conn.describe()
    list(conn.batches())
    assert conn.describe()["rows"] == 1 and conn.describe()["until"] == T0


# ---------------------------------------------------------------- spec and errors


@pytest.mark.parametrize(("options", "message"), [
    ({"table": "people", "query": "SELECT 1"}, "exactly one of `table` and `query`"),
    ({}, "exactly one of `table` and `query`"),
    ({"table": "people", "cursor": None}, "cursor: required for incremental reads"),
    ({"table": "people", "cursor_type": "integer", "overlap": 2.5}, "whole number of ids"),
    ({"table": "people; DROP TABLE x"}, "String should match pattern"),
    ({"table": "people", "overlap": -1}, "greater than or equal to 0"),
    ({"table": "people", "password": "x"}, "Extra inputs are not permitted"),
])
def test_spec_checks(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SqlSourceSpec(**{"kind": "sql", "conn": "agency", "cursor": "updated_at", **options})


def test_missing_cursor_column(db: Path) -> None:
    with pytest.raises(SourceError, match=r"column\(s\) 'changed' named in source.cursor/source.key not found; "
                                          r"its columns are: id, name, updated_at"):
        connector(cursor="changed").fingerprint()


def test_bad_cursor_value(db: Path) -> None:
    insert(db, (1, "a", "yesterday"))
    with pytest.raises(SourceError, match=r"cursor column 'updated_at' holds 'yesterday', not an ISO timestamp"):
        list(connector().batches())


def test_missing_table_is_terminal(db: Path) -> None:
    with pytest.raises(SourceError, match=r"sql:agency/nope: .*no such table"):
        connector(table="nope").fingerprint()


def test_missing_sqlite_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY", f"sqlite:///{tmp_path / 'nope.db'}")
    with pytest.raises(SourceError, match=r"the SQLite database .*nope.db does not exist; check EXCHANGE_CONN_AGENCY"):
        connector().fingerprint()
    assert not (tmp_path / "nope.db").exists()  # never created by reading


def test_undefined_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EXCHANGE_CONN_AGENCY", raising=False)
    with pytest.raises(ConfigError, match="set EXCHANGE_CONN_AGENCY"):
        connector().fingerprint()


def test_unreachable_server_is_transient_and_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY", "postgresql+psycopg://etl:Sup3r-s3cret@127.0.0.1:9/agency")
    with pytest.raises(TransientError) as info:
        connector().fingerprint()
    message = str(info.value)
    assert "Sup3r-s3cret" not in message
    assert "postgresql+psycopg://etl:***@127.0.0.1:9/agency" in message
    assert "EXCHANGE_CONN_AGENCY" in message


@pytest.mark.parametrize(("url", "message"), [
    ("nosuchdb://host/x", "no SQLAlchemy dialect"),
    ("mssql+pymssql://u:pw@host/x", "its database driver is not installed"),
])
def test_missing_dialect_or_driver(monkeypatch: pytest.MonkeyPatch, url: str, message: str) -> None:
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY", url)
    with pytest.raises(ConfigError, match=message):
        connector().fingerprint()
