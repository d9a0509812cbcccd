"""The ``http`` connector against a real HTTP server started by the test (127.0.0.1, a free port):
it paginates, answers 429 once (with Retry-After) and 503 once, checks the bearer token, and
serves new records between runs. Then the same API as a feed through ``run_feed``."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from connectors.base import connector_for
from exchange.runner import run_feed
from exchange.spec.catalog import load_catalog
from exchange.spec.feed import HttpSourceSpec
from exchange.warehouse.engine import make_engine
from tests.conftest import write
from tests.http_api import Failure, FakeApi, serve
from tests.integration.sources import HTTP_SOURCE_FEED, people

TOKEN = "integration-t0ken-8d1f"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    with serve(FakeApi(records=people(range(1, 31)), token=TOKEN, since_field="gxsj")) as server:
        monkeypatch.setenv("EXCHANGE_CONN_POLICE_API", f"{server.base_url}/api?auth=bearer&token={TOKEN}")
        yield server


def test_paginates_and_survives_429_and_503(api: FakeApi, caplog: pytest.LogCaptureFixture) -> None:
    api.failures[:] = [Failure(429, {"Retry-After": "1"}), Failure(503)]
    spec = HttpSourceSpec(kind="http", conn="police_api", path="items", records_path="data.items",
                          pagination={"style": "page", "size": 7}, backoff=0.05, max_retries=3)
    conn = connector_for(spec, base_dir=Path("."), feed_id="police.residents", batch_rows=8)
    started = time.monotonic()
    batches = list(conn.batches())
    elapsed = time.monotonic() - started
    rows = [r for b in batches for r in b.to_pylist()]
    assert [r["rybh"] for r in rows] == [f"P{i:04d}" for i in range(1, 31)]
    assert all(b.num_rows <= 8 for b in batches)
    statuses = [q.get("page") for _, q, _ in api.requests]
    assert statuses == ["1", "1", "1", "2", "3", "4", "5"]  # page 1 asked three times: 429, 503, 200
    assert all(h["authorization"] == f"Bearer {TOKEN}" for _, _, h in api.requests)
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    assert "HTTP 429" in caplog.text and "HTTP 503" in caplog.text and TOKEN not in caplog.text


def test_gives_up_after_the_retries(api: FakeApi) -> None:
    from exchange.errors import TransientError

    api.failures[:] = [Failure(503)] * 3
    spec = HttpSourceSpec(kind="http", conn="police_api", path="items", records_path="data.items",
                          max_retries=2, backoff=0.01)
    with pytest.raises(TransientError, match=r"HTTP 503 Service Unavailable \(after 3 attempts\)") as info:
        connector_for(spec, base_dir=Path("."), feed_id="police.residents").fingerprint()
    assert TOKEN not in str(info.value)


def test_run_feed_pulls_only_what_is_new(api: FakeApi, project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", HTTP_SOURCE_FEED)
    catalog = load_catalog(project)
    api.failures[:] = [Failure(503)]
    first = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (first.rows_in, first.rows_loaded) == (30, 30)
    assert run_feed("police.residents", settings=settings, catalog=catalog).already_loaded
    api.records.extend(people(range(31, 34)))                          # tied with the watermark
    api.records[0] = {**api.records[0], "xm": "改名", "gxsj": "2026-03-01 09:00:00"}  # changed
    api.requests.clear()
    second = run_feed("police.residents", settings=settings, catalog=catalog)
    assert (second.rows_in, second.inserted, second.updated) == (4, 3, 1)
    assert {q.get("updated_since") for _, q, _ in api.requests} == {"2026-03-01 08:00:00"}
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        count, renamed = conn.execute(text(
            "SELECT count(*), sum(CASE WHEN name = '改名' THEN 1 ELSE 0 END) FROM core.person")).one()
        state = conn.execute(text("SELECT state FROM audit.feed_state")).scalar()
    engine.dispose()
    assert (count, renamed) == (33, 1)
    assert '"cursor": "2026-03-01 09:00:00"' in state and TOKEN not in state
