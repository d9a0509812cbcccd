"""One conformance suite every connector passes: file (snapshot), file (drop folder), sql (SQLite)
and http (a real local server).

Each source starts with records 1..10 (``id``, ``name``, ``amount``, ``updated_at``) and can
grow (``add``): new files, inserted rows (some tied with the previous watermark), new API
records. The suite checks what the connector protocol promises (connectors/base.py).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from connectors.base import META_COLUMNS, Connector, connector_for
from exchange.errors import ConfigError, SourceError, TransientError
from exchange.spec.feed import FileSourceSpec, HttpSourceSpec, SqlSourceSpec
from tests.http_api import FakeApi, serve

FIRST = range(1, 11)
STAMP = "2026-03-01 08:00:00"
SECRET = "conformance-s3cret"


def record(i: int, stamp: str = STAMP) -> dict[str, str]:
    return {"id": str(i), "name": f"名称{i}", "amount": f"{i}.50", "updated_at": stamp}


class Source:
    name = ""
    incremental = True

    def add(self, ids: range, stamp: str = STAMP) -> None:
        raise NotImplementedError

    def connector(self, *, state: dict[str, Any] | None = None, batch_rows: int = 4) -> Connector:
        raise NotImplementedError

    def unreachable(self) -> Connector:
        raise NotImplementedError


class FileSource(Source):
    def __init__(self, root: Path, mode: str) -> None:
        self.root, self.mode, self.parts = root, mode, 0
        self.name = f"file-{mode}"
        self.incremental = mode == "drop_folder"

    def add(self, ids: range, stamp: str = STAMP) -> None:
        self.parts += 1
        lines = ["id,name,amount,updated_at"] + [",".join(record(i, stamp).values()) for i in ids]
        path = self.root / "drop" / f"part-{self.parts:03d}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def spec(self, path: str = "drop/*.csv") -> FileSourceSpec:
        return FileSourceSpec(kind="file", path=path, mode=self.mode, settle_seconds=0)

    def connector(self, *, state: dict[str, Any] | None = None, batch_rows: int = 4) -> Connector:
        return connector_for(self.spec(), base_dir=self.root, feed_id="test.feed", batch_rows=batch_rows,
                             state=state)

    def unreachable(self) -> Connector:
        return connector_for(self.spec("gone/*.csv").model_copy(update={"mode": "snapshot"}), base_dir=self.root,
                             feed_id="test.feed")


class SqliteSource(Source):
    name = "sql-sqlite"

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.db = root / "agency.db"
        with sqlite3.connect(self.db) as conn:
            conn.execute("CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT, amount TEXT, updated_at TEXT)")
        monkeypatch.setenv("EXCHANGE_CONN_AGENCY_DB", f"sqlite:///{self.db}")
        monkeypatch.setenv("EXCHANGE_CONN_GONE_DB", f"sqlite:///{root / 'missing' / 'x.db'}")

    def add(self, ids: range, stamp: str = STAMP) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)",
                             [(i, f"名称{i}", f"{i}.50", stamp) for i in ids])

    def connector(self, *, state: dict[str, Any] | None = None, batch_rows: int = 4,
                  conn: str = "agency_db") -> Connector:
        spec = SqlSourceSpec(kind="sql", conn=conn, table="items", cursor="updated_at", key=["id"])
        return connector_for(spec, base_dir=self.db.parent, feed_id="test.feed", batch_rows=batch_rows, state=state)

    def unreachable(self) -> Connector:
        return self.connector(conn="gone_db")


class HttpSource(Source):
    name = "http"

    def __init__(self, api: FakeApi, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api = api
        monkeypatch.setenv("EXCHANGE_CONN_AGENCY_API", f"{api.base_url}/api?auth=bearer&token={SECRET}")
        monkeypatch.setenv("EXCHANGE_CONN_GONE_API", f"http://127.0.0.1:9/api?auth=bearer&token={SECRET}")

    def add(self, ids: range, stamp: str = STAMP) -> None:
        self.api.records.extend(record(i, stamp) for i in ids)

    def connector(self, *, state: dict[str, Any] | None = None, batch_rows: int = 4,
                  conn: str = "agency_api") -> Connector:
        spec = HttpSourceSpec(kind="http", conn=conn, path="items", records_path="data.items",
                              pagination={"style": "page", "size": 3},
                              incremental={"field": "updated_at", "param": "updated_since"},
                              max_retries=1, backoff=0)
        return connector_for(spec, base_dir=Path("."), feed_id="test.feed", batch_rows=batch_rows, state=state)

    def unreachable(self) -> Connector:
        return self.connector(conn="gone_api")


@pytest.fixture(params=["file-snapshot", "file-drop_folder", "sql-sqlite", "http"])
def source(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Source]:
    kind = request.param
    if kind.startswith("file-"):
        src: Source = FileSource(tmp_path, kind.removeprefix("file-"))
        src.add(FIRST)
        yield src
    elif kind == "sql-sqlite":
        src = SqliteSource(tmp_path, monkeypatch)
        src.add(FIRST)
        yield src
    else:
        with serve(FakeApi(token=SECRET)) as api:
            src = HttpSource(api, monkeypatch)
            src.add(FIRST)
            yield src


def read(conn: Connector) -> list[dict[str, Any]]:
    return [row for batch in conn.batches() for row in batch.to_pylist()]


def ids(rows: list[dict[str, Any]]) -> list[int]:
    return sorted(int(r["id"]) for r in rows)


def test_schema_is_stable_and_typed(source: Source) -> None:
    conn = source.connector(batch_rows=3)
    batches = list(conn.batches())
    assert len(batches) >= 4
    schema = batches[0].schema
    assert all(b.schema == schema for b in batches)
    assert schema.names == [*conn.columns(), *META_COLUMNS]
    assert {"id", "name", "amount", "updated_at"} <= set(conn.columns())
    for f in schema:
        assert f.type == (pa.int64() if f.name == "_source_row" else pa.string()), f.name


def test_batches_are_bounded_and_complete(source: Source) -> None:
    conn = source.connector(batch_rows=4)
    batches = list(conn.batches())
    assert all(0 < b.num_rows <= 4 for b in batches)
    rows = [r for b in batches for r in b.to_pylist()]
    assert ids(rows) == list(FIRST)
    positions = [(r["_source_file"], r["_source_row"]) for r in rows]
    assert len(set(positions)) == len(rows)
    assert min(r["_source_row"] for r in rows) == 1
    first = next(r for r in rows if r["id"] == "1")
    assert first["name"] == "名称1" and first["amount"] == "1.50" and first["updated_at"] == STAMP
    assert all(r["_parse_error"] is None for r in rows)


def test_fingerprint_is_deterministic(source: Source) -> None:
    a, b = source.connector(), source.connector(batch_rows=2)
    fp = a.fingerprint()
    assert len(fp) == 64 and int(fp, 16) >= 0
    assert b.fingerprint() == fp  # batch size is not part of what is read
    read(a)
    assert a.fingerprint() == fp  # reading does not change it
    source.add(range(11, 12))
    assert source.connector().fingerprint() != fp


def test_incremental_resume_is_exact(source: Source) -> None:
    first = source.connector()
    assert ids(read(first)) == list(FIRST)
    state = first.new_state()
    # new records, some tied with the previous watermark (same updated_at), some later
    source.add(range(11, 14), STAMP)
    source.add(range(14, 16), "2026-03-01 09:30:00")
    second = source.connector(state=state)
    rows = read(second)
    if not source.incremental:
        assert state is None and second.new_state() is None
        assert ids(rows) == list(range(1, 16))  # a snapshot reads everything, every run
        return
    assert ids(rows) == list(range(11, 16))
    state2 = second.new_state()
    assert state2 is not None and state2["fingerprint"] == second.fingerprint()
    # nothing new: the run is the batch that produced the state (re-running is a no-op)
    third = source.connector(state=state2)
    assert third.fingerprint() == state2["fingerprint"]
    assert read(third) == []
    # and one more record after that is exactly one record
    source.add(range(16, 17), "2026-03-01 09:30:00")
    fourth = source.connector(state=state2)
    assert fourth.fingerprint() != state2["fingerprint"]
    assert ids(read(fourth)) == [16]


def test_state_is_json(source: Source) -> None:
    import json

    conn = source.connector()
    read(conn)
    state = conn.new_state()
    if source.incremental:
        assert json.loads(json.dumps(state)) == state
    else:
        assert state is None


def test_unreachable_source_fails_clearly(source: Source) -> None:
    conn = source.unreachable()
    with pytest.raises((SourceError, TransientError, ConfigError)) as info:
        conn.fingerprint()
        read(conn)
    message = str(info.value)
    assert SECRET not in message
    assert any(word in message for word in ("gone", "missing", "127.0.0.1:9")), message
    assert len(message) < 600
