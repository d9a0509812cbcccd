"""The load overlapped with validation (``exchange.pipeline.preload``, issue 20) on PostgreSQL: the same
warehouse and ledger as one stage after the other, first loads and updates; a batch over its reject ratio
leaves nothing in core; a COPY that fails fails the run with its error, and the rerun loads. (Killed with
the COPY under way: tests/integration/test_crash_recovery.py, the ``overlap-*`` cases.)"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from exchange.errors import DataQualityError
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from tests.conftest import write
from tests.integration.crash import make_rows, q, use_project

FEED_ID = "police.residents"
CONTENTS = ("SELECT source_agency, source_record_id, _row_hash, name, phone, _batch_id FROM core.person "
            "ORDER BY source_record_id")
HISTORY = "SELECT source_record_id, name, _superseded_by FROM core.person_history ORDER BY source_record_id"
LEDGER = ("SELECT batch_id, state, rows_in, rows_valid, rows_loaded, rows_quarantined, rows_flagged, rows_inserted, "
          "rows_updated, rows_unchanged FROM audit.batch ORDER BY started_at")


def _project(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, overlap: bool) -> Settings:
    monkeypatch.setenv("EXCHANGE_OVERLAP_LOAD", "on" if overlap else "off")
    return use_project(project, tmp_path, monkeypatch, url, batch_rows=500)


def _two_batches(settings: Settings) -> list[Any]:
    csv, _bad = make_rows(5000)
    write(settings.landing_dir / "police" / "r.csv", csv)
    outs = [run_feed(FEED_ID, settings=settings, index=False)]
    lines = csv.splitlines()
    for i in range(1, len(lines), 7):  # every seventh row another name: an upsert with history
        lines[i] = lines[i].replace(f",居民{i - 1},", f",改名{i - 1},")
    write(settings.landing_dir / "police" / "r.csv", "\n".join([*lines, "R9999999,新人,,男,1990-01-01,13812345678,"
                                                                             "610902"]) + "\n")
    outs.append(run_feed(FEED_ID, settings=settings, index=False))
    return outs


def test_overlapped_and_sequential_loads_leave_the_same_warehouse(pg_url: str, project: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch,
                                                                    request: pytest.FixtureRequest) -> None:
    from sqlalchemy import create_engine, text

    seen = {}
    for overlap in (True, False):
        url = pg_url if overlap else pg_url.rsplit("/", 1)[0] + "/" + pg_url.rsplit("/", 1)[1] + "_seq"
        if not overlap:
            admin = create_engine(pg_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{url.rsplit("/", 1)[1]}"'))

            def drop(name: str = url.rsplit("/", 1)[1], admin: Any = admin) -> None:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()

            request.addfinalizer(drop)
        root = tmp_path / ("overlap" if overlap else "sequential")
        root.mkdir()
        shutil.copytree(project, root / "project")
        settings = _project(root / "project", root, monkeypatch, url, overlap)
        outs = _two_batches(settings)
        assert [o.state for o in outs] == ["published", "published"]
        assert outs[1].updated > 600 and outs[1].unchanged > 3000
        seen[overlap] = {"core": q(settings, CONTENTS), "history": q(settings, HISTORY),
                         "ledger": [r[1:] for r in q(settings, LEDGER)],
                         "quarantine": q(settings, "SELECT _source_row, reasons FROM quarantine.person "
                                                   "ORDER BY _batch_id, _source_row"),
                         "batches": [o.batch_id for o in outs]}
    assert seen[True]["batches"] == seen[False]["batches"]  # the same ids: the same files
    for part in ("core", "history", "ledger", "quarantine"):
        assert seen[True][part] == seen[False][part], part


def test_a_batch_over_its_reject_ratio_leaves_nothing_in_core(pg_url: str, project: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    settings = _project(project, tmp_path, monkeypatch, pg_url, overlap=True)
    csv, _bad = make_rows(3000, bad_every=2)  # half the phones are none: 50 %, over the 10 % allowed
    write(project / "feeds" / "police" / "residents.yaml",
          (project / "feeds" / "police" / "residents.yaml").read_text().replace("max_reject_ratio: 0.7",
                                                                                 "max_reject_ratio: 0.1"))
    write(settings.landing_dir / "police" / "r.csv", csv)
    with pytest.raises(DataQualityError) as caught:
        run_feed(FEED_ID, settings=settings)
    out = caught.value.outcome  # type: ignore[attr-defined]
    assert out.state == "failed" and out.rows_quarantined == 1500
    assert q(settings, "SELECT count(*) FROM core.person") == [(0,)]
    assert q(settings, "SELECT count(*) FROM quarantine.person") == [(1500,)]
    assert q(settings, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND state LIKE 'idle in transaction%'") == [(0,)]


def test_a_copy_that_fails_fails_the_run_and_the_rerun_loads(pg_url: str, project: Path, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.warehouse.load import CoreUpsert

    settings = _project(project, tmp_path, monkeypatch, pg_url, overlap=True)
    csv, bad = make_rows(4000)
    write(settings.landing_dir / "police" / "r.csv", csv)
    copy = CoreUpsert.copy

    def broken(self: CoreUpsert, batches: Any) -> int:
        for i, _ in enumerate(batches):
            if i == 1:
                raise OSError("connection reset while copying")
        return 0

    monkeypatch.setattr(CoreUpsert, "copy", broken)
    with pytest.raises(OSError, match="connection reset while copying"):
        run_feed(FEED_ID, settings=settings)
    assert q(settings, "SELECT count(*) FROM core.person") == [(0,)]
    assert q(settings, "SELECT state FROM audit.batch") == [("failed",)]
    monkeypatch.setattr(CoreUpsert, "copy", copy)
    out = run_feed(FEED_ID, settings=settings)
    assert (out.state, out.rows_loaded, out.rows_quarantined) == ("published", 4000 - bad, bad)
    assert q(settings, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [
        (4000 - bad, 4000 - bad)]
