"""The investigation tools' hot reads (``Dialect.select_rows``, ``Dialect.rows_of``): on PostgreSQL they go
through psycopg's own cursor, past SQLAlchemy's result objects. They must read what ``conn.execute`` reads,
in the same transaction, and fail as it fails (SQLAlchemy's exceptions, parameters hidden), on both
dialects."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, exc, text

from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.dialects.base import expand_in
from exchange.warehouse.engine import make_engine
from exchange.warehouse.outages import is_outage

pytestmark = pytest.mark.integration

ROWS = [("a1", "张三", 150, dt.date(2020, 1, 2)), ("b:2", "100% 李四", None, None),
        ("c3", "it's", 0, dt.date(1999, 12, 31))]


@pytest.fixture(params=["sqlite", "postgresql"])
def conn(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Connection]:
    url = f"sqlite:///{tmp_path / 'w.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    engine = make_engine(url)
    with engine.connect() as c:
        c.execute(text("CREATE TABLE t (k TEXT PRIMARY KEY, name TEXT, amount INTEGER, born DATE)"))
        c.execute(text("INSERT INTO t VALUES (:k, :n, :a, :b)"), [dict(zip("knab", r, strict=True)) for r in ROWS])
        yield c  # the rows are not committed: a read that sees them is in the same transaction
    engine.dispose()


def _execute(c: Connection, sql: str, params: dict[str, object]) -> list[tuple[object, ...]]:
    sql, params = expand_in(sql, params)
    return [tuple(r) for r in c.execute(text(sql), params)]


@pytest.mark.parametrize(("sql", "params"), [
    ("SELECT * FROM t WHERE k IN :ks ORDER BY k", {"ks": ["a1", "c3", "zz"]}),
    ("SELECT * FROM t WHERE k IN :ks", {"ks": []}),
    ("SELECT k, name FROM t WHERE name LIKE :p ESCAPE '\\' ORDER BY k", {"p": "100\\% %"}),
    ("SELECT k FROM t WHERE name = 'it''s' AND k <> :k", {"k": "x"}),
    ("SELECT CAST(k AS TEXT) AS k2 FROM t WHERE k = :k", {"k": "b:2"}),
])
def test_select_rows_reads_what_execute_reads(conn: Connection, sql: str, params: dict[str, object]) -> None:
    dialect = dialect_of(conn)
    got = dialect.select_rows(conn, sql, params)
    assert [tuple(r) for r in got] == _execute(conn, sql, params)
    as_dicts = dialect.select_rows(conn, sql, params, as_dicts=True)
    assert [tuple(d.values()) for d in as_dicts] == [tuple(r) for r in got]


def test_one_of_and_rows_of_are_one_text_for_any_number_of_values(conn: Connection) -> None:
    dialect = dialect_of(conn)
    for keys in (["a1"], ["a1", "b:2", "zz"], []):
        sql = f"SELECT k FROM t WHERE {dialect.one_of('k', 'ks')} ORDER BY k"
        assert [r[0] for r in dialect.select_rows(conn, sql, {"ks": dialect.values(keys)})] == sorted(
            k for k in keys if k != "zz")
    texts = set()
    for wanted in ([("a1", "张三")], [("a1", "张三"), ("c3", "nobody"), ("b:2", "100% 李四")]):
        rows, params = dialect.rows_of("w", ("k", "name"), wanted)
        texts.add(rows)
        sql = f"SELECT t.k FROM {rows} JOIN t ON t.k = w.k AND t.name = w.name ORDER BY t.k"
        assert [r[0] for r in dialect.select_rows(conn, sql, params)] == sorted(
            k for k, n in wanted if (k, n) in {(r[0], r[1]) for r in ROWS})
    assert len(texts) == 1  # the server may keep one plan


def test_a_failed_read_raises_what_execute_raises_without_its_parameters(conn: Connection) -> None:
    dialect = dialect_of(conn)
    with pytest.raises(exc.DBAPIError) as raised:
        dialect.select_rows(conn, "SELECT * FROM no_such_table WHERE k = :k", {"k": "110105199001011234"})
    assert "no_such_table" in str(raised.value)
    assert "110105199001011234" not in str(raised.value)
    assert not is_outage(raised.value)


def test_a_read_on_a_dead_connection_is_an_outage(pg_url: str) -> None:
    engine = make_engine(pg_url)
    with engine.connect() as c, engine.connect() as killer:
        pid = c.execute(text("SELECT pg_backend_pid()")).scalar_one()
        killer.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
        with pytest.raises(exc.DBAPIError) as raised:
            dialect_of(c).select_rows(c, "SELECT 1", {})
        c.invalidate()  # what the pool's pre-ping does with it at the next checkout
    assert is_outage(raised.value)
    engine.dispose()
