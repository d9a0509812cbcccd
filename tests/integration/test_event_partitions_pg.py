"""Event tables on PostgreSQL: partitioned by month of their start; a reload moves a corrected event to
its new month's partition, keeps the old version in history, and the indexes serve "a person's events in
a window" and "who was at a place in a window" from the window's partitions only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from exchange.spec.settings import Settings
from tests.event_tables import check, load_twice

pytestmark = [pytest.mark.integration, pytest.mark.gx]


def test_events_are_partitioned_by_month_and_reloads_move_them(project: Path, tmp_path: Path, pg_url: str) -> None:
    settings = Settings(root=project, warehouse_url=pg_url, landing_dir=tmp_path / "landing",
                        staging_dir=tmp_path / "staging", reports_dir=tmp_path / "reports")
    first, second, engine = load_twice(project, settings)
    try:
        check(first, second, engine)
        with engine.connect() as conn:
            where = {r[0]: r[1] for r in conn.execute(text(
                "SELECT source_record_id, tableoid::regclass::text FROM core.hotel_stay"))}
            assert where == {"LY1": "core.hotel_stay_p202611", "LY2": "core.hotel_stay_p202611",
                             "LY3": "core.hotel_stay_p202611", "LY4": "core.hotel_stay_p202611"}
            parts = {r[0] for r in conn.execute(text(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'core.hotel_stay'::regclass"))}
            assert {"hotel_stay_p202610", "hotel_stay_p202611", "hotel_stay_pdefault"} <= parts
            conn.execute(text("ANALYZE core.hotel_stay"))
            plan = "\n".join(r[0] for r in conn.execute(text(
                "EXPLAIN SELECT * FROM core.hotel_stay WHERE guest_id_number = '11010519491231002X' "
                "AND check_in >= '2026-11-01' AND check_in < '2026-12-01'")))
            assert "hotel_stay_p202611" in plan and "hotel_stay_p202610" not in plan, plan
    finally:
        engine.dispose()
