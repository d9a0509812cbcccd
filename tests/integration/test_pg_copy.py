"""COPY in PostgreSQL's binary format loads exactly what the CSV COPY loads (exchange.warehouse.load)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    MetaData,
    Numeric,
    Table,
    Text,
    create_engine,
    select,
)

from exchange.warehouse.dialects import pg_copy

pytestmark = pytest.mark.integration

TEXTS = ["plain", "", None, "张三", "a,b", 'say "hi"', "line\nbreak", "cr\r\nlf", "back\\slash", "\\N", "😀" * 50,
         " spaced ", "tab\there", "x" * 10_000]


def _batch(n: int) -> pa.RecordBatch:
    texts = [TEXTS[i % len(TEXTS)] for i in range(n)]
    return pa.RecordBatch.from_pydict({
        "name": pa.array(texts, pa.string()),
        "born": pa.array([None if i % 7 == 3 else dt.date(1850, 1, 1) + dt.timedelta(days=397 * i) for i in range(n)],
                         pa.date32()),
        "seen": pa.array([None if i % 5 == 1 else dt.datetime(1999, 12, 31, 23, 59, 59, 999_999)
                          + dt.timedelta(seconds=7919 * i, microseconds=i) for i in range(n)], pa.timestamp("us")),
        "row": pa.array([None if i % 11 == 4 else (-1) ** i * (2 ** 62 // (i + 1)) for i in range(n)], pa.int64()),
        "flag": pa.array([None if i % 3 == 2 else i % 2 == 0 for i in range(n)], pa.bool_()),
    })


def _table(md: MetaData, name: str, *extra: Column) -> Table:
    return Table(name, md, Column("name", Text()), Column("born", Date()), Column("seen", DateTime()),
                 Column("row", BigInteger()), Column("flag", Boolean()), Column("batch", Text(), nullable=False),
                 Column("at", DateTime(), nullable=False), Column("later", Text()), *extra)


def test_binary_copy_loads_what_csv_copy_loads(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = create_engine(pg_url)
    md = MetaData()
    binary, csv = _table(md, "via_binary"), _table(md, "via_csv")
    md.create_all(engine)
    batches = [_batch(200), _batch(0), _batch(57)]
    extra = {"batch": "b-1", "at": dt.datetime(2026, 11, 28, 9, 30, 1)}
    encoded: list[int] = []
    real = pg_copy.binary_copy_rows

    def spy(table: pa.Table, sql_types: list[object]) -> bytes | None:
        data = real(table, sql_types)
        encoded.append(-1 if data is None else table.num_rows)
        return data

    monkeypatch.setattr(pg_copy, "binary_copy_rows", spy)
    with engine.begin() as conn:
        assert pg_copy.copy_in(conn, binary, iter(batches), extra) == 257
    assert encoded == [1, 200, 57]  # the first row tried, then every batch in binary
    monkeypatch.setattr(pg_copy, "binary_copy_rows", lambda *_: None)  # the CSV COPY
    with engine.begin() as conn:
        assert pg_copy.copy_in(conn, csv, iter(batches), extra) == 257
    with engine.connect() as conn:
        got = conn.execute(select(binary).order_by(binary.c.seen, binary.c.row, binary.c.name)).all()
        want = conn.execute(select(csv).order_by(csv.c.seen, csv.c.row, csv.c.name)).all()
    engine.dispose()
    assert len(got) == 257
    assert got == want
    assert {r.name for r in got} == set(TEXTS)
    assert any(r.name == "" for r in got) and any(r.name is None for r in got)  # empty string ≠ NULL


def test_a_decimal_column_is_copied_as_csv(pg_url: str) -> None:
    engine = create_engine(pg_url)
    md = MetaData()
    table = Table("with_amount", md, Column("name", Text()), Column("amount", Numeric(20, 4)))
    md.create_all(engine)
    batch = pa.RecordBatch.from_pydict({"name": ["a", None], "amount": pa.array([1, None], pa.decimal128(20, 4))})
    with engine.begin() as conn:
        assert pg_copy.copy_in(conn, table, iter([batch]), {}) == 2
    with engine.connect() as conn:
        rows = sorted(conn.execute(select(table)).all(), key=str)
    engine.dispose()
    assert rows == [("a", Decimal("1.0000")), (None, None)]
