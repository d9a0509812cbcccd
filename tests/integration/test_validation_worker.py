"""Validation in a worker process (``exchange.validation.worker``, issue 20): ``exchange run`` checks a batch of
at least ``EXCHANGE_VALIDATE_WORKER_ROWS`` rows in a process of its own, chunk k+1 there while chunk k is split
here. The warehouse, quarantine, ledger, validation results and report are those of the validator in this
process; a worker that dies fails the stage with what happened, and the rerun loads; a worker that fails
tells its error."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from exchange.runner import run_feed
from exchange.spec.settings import Settings
from tests.conftest import write
from tests.integration.crash import make_rows, q, use_project

FEED_ID = "police.residents"
CONTENTS = ("SELECT source_record_id, _row_hash, name, phone, id_number, _flags FROM core.person "
            "ORDER BY source_record_id")
QUARANTINE = "SELECT source_record_id, reasons FROM quarantine.person ORDER BY source_record_id"
LEDGER = ("SELECT state, rows_in, rows_valid, rows_loaded, rows_quarantined, rows_flagged, rows_inserted, "
          "rows_updated, rows_unchanged FROM audit.batch ORDER BY started_at")
CHECKS = ("SELECT expectation, field, rule, success, element_count, missing_count, unexpected_count, "
          "sample_values, sample_rows FROM audit.validation ORDER BY field, rule, expectation")


def _rows() -> str:
    """5,000 residents (every hundredth with a phone that is none: quarantined), one record sent twice (the
    second quarantined as a duplicate) and one ID number with a wrong check character (loaded, flagged)."""
    csv, _bad = make_rows(5000)
    lines = csv.splitlines()
    parts = lines[3].split(",")
    parts[0], parts[2] = "R9000001", parts[2][:-1] + ("0" if parts[2][-1] != "0" else "1")
    return "\n".join([*lines, lines[1], ",".join(parts)]) + "\n"


class _Spy:
    """Counts the worker processes started, and lets a test act on one."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, on_submit: Any = None) -> None:
        from exchange.validation import worker

        self.started: list[Any] = []
        spy = self

        class Counted(worker.ValidatorProcess):
            def __init__(self, *a: Any, **k: Any) -> None:
                super().__init__(*a, **k)
                spy.started.append(self)

            def submit(self, table: Any, row_numbers: list[int]) -> int:
                if on_submit is not None:
                    on_submit(self)
                return super().submit(table, row_numbers)

        monkeypatch.setattr(worker, "ValidatorProcess", Counted)


def _run(settings: Settings, monkeypatch: pytest.MonkeyPatch, worker_rows: int) -> dict[str, Any]:
    monkeypatch.setenv("EXCHANGE_VALIDATE_WORKER_ROWS", str(worker_rows))
    settings = Settings.from_env(settings.root)
    out = run_feed(FEED_ID, settings=settings, index=False)
    got = {name: q(settings, sql) for name, sql in
           (("core", CONTENTS), ("quarantine", QUARANTINE), ("ledger", LEDGER), ("checks", CHECKS))}
    (report,) = q(settings, "SELECT report_path FROM audit.batch")[0]
    assert report and Path(report).is_file()
    got["report"] = Path(report).read_text(encoding="utf-8").count("unexpected")
    got["outcome"] = (out.state, out.rows_in, out.rows_loaded, out.rows_quarantined, out.rows_flagged)
    return got


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_worker_process_validates_as_this_process_does(project: Path, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch,
                                                           request: pytest.FixtureRequest, dialect: str) -> None:
    found = []
    for worker_rows in (0, 1000):
        work = tmp_path / f"rows{worker_rows}"
        url = (request.getfixturevalue("pg_url") if worker_rows else f"sqlite:///{work / 'in_process.db'}") \
            if dialect == "postgresql" else f"sqlite:///{work / 'warehouse.db'}"
        settings = use_project(project, work, monkeypatch, url, batch_rows=500)  # chunks of 2,000 rows: three
        write(settings.landing_dir / "police" / "r.csv", _rows())
        spy = _Spy(monkeypatch)
        found.append(_run(settings, monkeypatch, worker_rows))
        assert len(spy.started) == (1 if worker_rows else 0)
        if worker_rows:
            assert not spy.started[0]._process.is_alive()  # stopped once the stage was done
    in_process, apart = found
    assert in_process["outcome"] == apart["outcome"] and apart["outcome"][:4] == ("published", 5002, 4951, 51)
    assert apart["outcome"][4] >= 1  # the wrong check character among the flagged
    for part in ("core", "quarantine", "ledger", "checks", "report"):
        assert apart[part] == in_process[part], part
    assert any("key.duplicate" in r for _, r in apart["quarantine"])


def test_a_worker_that_dies_fails_the_stage_and_the_rerun_loads(project: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    settings = use_project(project, tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.db'}", batch_rows=500)
    write(settings.landing_dir / "police" / "r.csv", _rows())
    sent: list[int] = []

    def kill_on_the_second_chunk(worker: Any) -> None:
        sent.append(1)
        if len(sent) == 2:
            os.kill(worker._process.pid, signal.SIGKILL)
            worker._process.join(timeout=10)

    _Spy(monkeypatch, kill_on_the_second_chunk)
    monkeypatch.setenv("EXCHANGE_VALIDATE_WORKER_ROWS", "1")
    with pytest.raises(Exception, match=r"the validation worker \(pid \d+\) stopped with exit code -9"):
        run_feed(FEED_ID, settings=Settings.from_env(settings.root), index=False)
    assert q(settings, "SELECT count(*) FROM core.person") == [(0,)]
    ((state, error),) = q(settings, "SELECT state, error FROM audit.batch")
    assert state == "failed" and error.startswith("TransientError: feed police.residents: the validation worker")

    monkeypatch.undo()
    settings = use_project(project, tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.db'}", batch_rows=500)
    spy = _Spy(monkeypatch)
    out = _run(settings, monkeypatch, 1)  # from the extracted batch: the same batch, its second attempt
    assert out["outcome"][:4] == ("published", 5002, 4951, 51) and len(spy.started) == 1
    assert q(settings, "SELECT count(*), max(attempts) FROM audit.batch") == [(1, 2)]


def test_a_worker_that_cannot_start_tells_why(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.validation.worker import ValidatorProcess

    settings = use_project(project, tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'warehouse.db'}")
    worker = ValidatorProcess(settings.root, "police.nosuchfeed")
    try:
        with pytest.raises(RuntimeError, match=r"validation failed in the worker process: .*nosuchfeed"):
            _ = worker.suite_name
    finally:
        worker.close()
