"""The element index follows the batches as their consumer (issue 20): a feed's run is done once its
batch is published; the index then takes every batch in core its watermark (``mdm.search_indexed``)
lacks — after ``exchange run``, in Airflow's ``exchange.index_elements`` DAG, or by ``exchange
search-index``. On PostgreSQL and on the embedded SQLite: what a search finds before and after, the
watermark, a changed record's old value gone, an index failure that leaves the batch published, the
migration of a warehouse indexed by the publish stage, and a rebuild."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from exchange.runner import run_feed
from exchange.spec.settings import Settings
from exchange.workspace.investigate import ToolRequest, investigate, reindex
from tests.conftest import write
from tests.integration.crash import make_rows, q, use_project


@pytest.fixture(params=["postgresql", "sqlite"])
def warehouse(request: pytest.FixtureRequest, project: Path, tmp_path: Path,
              monkeypatch: pytest.MonkeyPatch) -> Settings:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else \
        f"sqlite:///{tmp_path / 'warehouse' / 'exchange.db'}"
    return use_project(project, tmp_path, monkeypatch, url, batch_rows=500)


def _records(settings: Settings, phone: str) -> list[str]:
    found = investigate(ToolRequest("search", phone, kind="phone"), settings=settings, purpose="index test")
    assert found is not None
    return sorted(h["record"] for g in found["groups"] for h in g["hits"] if h["table"] == "core.person")


def _behind(settings: Settings) -> int:
    found = investigate(ToolRequest("search", "13800000001", kind="phone"), settings=settings, purpose="index test")
    assert found is not None
    return found["index_behind"]


def _marked(settings: Settings) -> list[tuple[Any, ...]]:
    return q(settings, "SELECT i.batch_id, b.state FROM mdm.search_indexed i JOIN audit.batch b "
                       "ON b.batch_id = i.batch_id ORDER BY b.started_at")


def test_the_index_takes_published_batches_after_the_run(warehouse: Settings) -> None:
    csv, _bad = make_rows(1200)
    write(warehouse.landing_dir / "police" / "r.csv", csv)

    # a run that leaves the index to its consumer: published, not yet searchable
    first = run_feed("police.residents", settings=warehouse, index=False)
    assert first.state == "published" and first.index == {}
    assert _records(warehouse, "13800000001") == [] and _behind(warehouse) == 1

    # the consumer takes it: found, watermark set, nothing left; a second catch-up has nothing to do
    counts = reindex(warehouse)
    assert counts["person"] == q(warehouse, "SELECT count(*) FROM mdm.search_element WHERE entity = 'person'")[0][0]
    assert counts["person"] >= 3 * first.rows_loaded  # name, ID number and phone of every loaded row at least
    assert _records(warehouse, "13800000001") == ["R0000001"] and _behind(warehouse) == 0
    assert _marked(warehouse) == [(first.batch_id, "published")]
    assert q(warehouse, "SELECT elements FROM mdm.search_indexed") == [(counts["person"],)]
    assert reindex(warehouse) == {}

    # a batch that changes one phone: exchange run indexes it; the old phone no longer finds the record
    write(warehouse.landing_dir / "police" / "r.csv", csv.replace(",13800000002,", ",13900000002,"))
    second = run_feed("police.residents", settings=warehouse)
    assert (second.updated, second.inserted) == (1, 0)
    assert second.index["elements"] >= 3 and second.index["seconds"] >= 0 and "error" not in second.index
    assert _records(warehouse, "13900000002") == ["R0000002"] and _records(warehouse, "13800000002") == []
    assert [b for b, _ in _marked(warehouse)] == [first.batch_id, second.batch_id]
    assert q(warehouse, "SELECT elements FROM mdm.search_indexed WHERE batch_id = '" + second.batch_id + "'") \
        == [(second.index["elements"],)]


def test_an_index_failure_leaves_the_batch_published(warehouse: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.investigate import elements

    csv, _bad = make_rows(300)
    write(warehouse.landing_dir / "police" / "r.csv", csv)

    def broken(*_a: Any, **_k: Any) -> dict[str, int]:
        raise RuntimeError("disk full")

    monkeypatch.setattr(elements, "catch_up", broken)
    out = run_feed("police.residents", settings=warehouse)
    assert out.state == "published" and out.rows_loaded == 297
    assert out.index["error"].startswith("RuntimeError: disk full") and "exchange search-index" in out.index["error"]
    assert q(warehouse, "SELECT state FROM audit.batch") == [("published",)]
    monkeypatch.undo()
    assert _behind(warehouse) == 1
    assert reindex(warehouse)["person"] > 0 and _behind(warehouse) == 0
    assert _records(warehouse, "13800000001") == ["R0000001"]


def test_a_warehouse_indexed_by_the_publish_stage_is_migrated_and_rebuilds_mark_every_batch(
        warehouse: Settings) -> None:
    from exchange.investigate import elements
    from exchange.warehouse.engine import make_engine

    csv, _bad = make_rows(400)
    write(warehouse.landing_dir / "police" / "r.csv", csv)
    out = run_feed("police.residents", settings=warehouse)
    engine = make_engine(warehouse.warehouse_url, root=warehouse.root)
    try:
        # before 2026-12-06 the index had no watermark: every batch in core had been indexed at publish
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE mdm.search_indexed")
        elements.ensure(engine)
        assert _marked(warehouse) == [(out.batch_id, "published")] and _behind(warehouse) == 0

        with engine.begin() as conn:
            conn.exec_driver_sql("DELETE FROM mdm.search_indexed")
        assert _behind(warehouse) == 1
        counts = reindex(warehouse, rebuild=True)
        assert counts["person"] == sum(counts.values()) == q(warehouse, "SELECT count(*) FROM mdm.search_element")[0][0]
        assert _marked(warehouse) == [(out.batch_id, "published")] and _behind(warehouse) == 0
    finally:
        engine.dispose()


def test_a_batch_loaded_while_the_index_reads_is_neither_doubled_nor_lost(pg_url: str, project: Path,
                                                                            tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """A newer version of a record committed while the index builds the elements of the older batch: the
    swap sees the snapshot the build read (REPEATABLE READ), so it replaces the record's elements instead
    of copying in a second set beside them (a primary-key violation that failed the catch-up), and the
    newer batch, left out of the watermark, is taken next."""
    from sqlalchemy import create_engine, text

    from exchange.investigate import elements

    settings = use_project(project, tmp_path, monkeypatch, pg_url, batch_rows=500)
    csv, _bad = make_rows(600)
    write(settings.landing_dir / "police" / "r.csv", csv)
    first = run_feed("police.residents", settings=settings, index=False)
    reindex(settings)
    write(settings.landing_dir / "police" / "r.csv", csv.replace(",13800000002,", ",13900000002,"))
    second = run_feed("police.residents", settings=settings, index=False)
    assert second.updated == 1 and _behind(settings) == 1

    other = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    built = elements.element_table
    moved: list[str] = []

    def build_while_a_load_commits(*args: Any, **kwargs: Any) -> Any:
        if not moved:  # a third batch takes R0000002 from the second while its rows are being read
            with other.connect() as conn:
                conn.execute(text("INSERT INTO audit.batch (batch_id, feed, agency, entity, schema_version, "
                                  "fingerprint, state, code_version, started_at, finished_at) SELECT 'b_third', feed, "
                                  "agency, entity, schema_version, 'x', 'published', code_version, now(), now() "
                                  "FROM audit.batch WHERE batch_id = :b"), {"b": second.batch_id})
                conn.execute(text("UPDATE core.person SET phone = '13700000002', _batch_id = 'b_third' "
                                  "WHERE source_record_id = 'R0000002'"))
            moved.append("R0000002")
        return built(*args, **kwargs)

    monkeypatch.setattr(elements, "element_table", build_while_a_load_commits)
    try:
        taken = reindex(settings)
    finally:
        other.dispose()
    assert moved and taken["person"] >= 3  # the second batch's record, as its snapshot read it
    assert [b for b, _ in _marked(settings)] == [first.batch_id, second.batch_id]
    assert _behind(settings) == 1  # the third batch
    monkeypatch.undo()
    reindex(settings)
    assert _behind(settings) == 0
    assert _records(settings, "13700000002") == ["R0000002"]
    assert _records(settings, "13900000002") == [] and _records(settings, "13800000002") == []
    assert q(settings, "SELECT count(*) FROM mdm.search_element WHERE source_record_id = 'R0000002' "
                       "AND field = 'phone'") == [(1,)]


def test_the_lag_a_search_reports_counts_only_the_tables_the_caller_may_see(warehouse: Settings) -> None:
    import shutil

    from tests.conftest import REPO

    csv, _bad = make_rows(300)
    write(warehouse.landing_dir / "police" / "r.csv", csv)
    run_feed("police.residents", settings=warehouse, index=False)
    (warehouse.root / "grants").mkdir(exist_ok=True)
    shutil.copy(REPO / "grants" / "health.yaml", warehouse.root / "grants" / "health.yaml")

    def behind(agency: str | None) -> int:
        found = investigate(ToolRequest("search", "13800000001", kind="phone"), settings=warehouse,
                            agency=agency, purpose="index test")
        assert found is not None
        return found["index_behind"]

    # the operator is told of the person batch; the health commission, whose grant has no person table, is not
    # (a count of another agency's loads would tell it when that agency loaded)
    assert behind(None) == 1 and behind("health") == 0
    reindex(warehouse)
    assert behind(None) == 0 and behind("health") == 0
