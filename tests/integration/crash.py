"""Shared by the crash-recovery and outage tests: a residents feed with generated rows, queries on
the warehouse (PostgreSQL or SQLite, also while a paused child holds its write lock), and
``exchange run`` in child processes stopped at a named fault point (``exchange.spec.faults``)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from exchange import formats
from exchange.spec.settings import Settings
from exchange.warehouse.engine import NAMESPACES, namespace_file
from tests.conftest import write
from tests.residents import FEED  # police.residents, a file feed of person records

__all__ = ["FEED", "Children", "finish", "make_rows", "q", "sigkill", "use_project", "wait_for"]


def use_project(project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, warehouse_url: str, *,
                feed: str = FEED, batch_rows: int = 1000) -> Settings:
    """The environment of the test and of the ``exchange run`` children it starts: the project with
    the feed police.residents, the warehouse, landing / staging / reports under ``tmp_path`` and
    small chunks (``EXCHANGE_BATCH_ROWS``), so that a source is read in several batches."""
    write(project / "feeds" / "police" / "residents.yaml", feed)
    env = {"EXCHANGE_HOME": str(project), "EXCHANGE_WAREHOUSE_URL": warehouse_url,
           "EXCHANGE_LANDING_DIR": str(tmp_path / "landing"), "EXCHANGE_STAGING_DIR": str(tmp_path / "staging"),
           "EXCHANGE_REPORTS_DIR": str(tmp_path / "reports"), "EXCHANGE_BATCH_ROWS": str(batch_rows)}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings.from_env(project)


def make_rows(n: int, *, bad_every: int = 100, seed: int = 1) -> tuple[str, int]:
    """n resident rows with valid ID numbers; every ``bad_every``-th has a phone number that is none (a
    quarantine reason: a wrong check character would only flag the ID number)."""
    rng = np.random.default_rng(seed)
    days = rng.integers(0, 20000, n)
    births = (np.datetime64("1950-01-01") + days).astype("datetime64[D]").astype(str)
    seq = rng.integers(0, 1000, n)
    first17 = [f"610902{b.replace('-', '')}{s:03d}" for b, s in zip(births, seq, strict=True)]
    checks = formats.resident_id_check_char(pa.array(first17)).to_pylist()
    lines = ["人员编号,姓名,身份证号,性别,出生日期,联系电话,行政区划代码"]
    bad = 0
    for i in range(n):
        rid = first17[i] + checks[i]
        phone = f"138{i % 100000000:08d}"
        if bad_every and i % bad_every == bad_every - 1:
            phone = "12345"
            bad += 1
        gender = "男" if int(first17[i][16]) % 2 else "女"
        lines.append(f"R{i:07d},居民{i},{rid},{gender},{births[i]},{phone},610902")
    return "\n".join(lines) + "\n", bad


def q(settings: Settings | str, sql: str) -> list[tuple]:
    """Rows of ``sql`` on the warehouse. SQLite is read through a plain connection that only takes a
    shared lock, so a check never waits for the write lock a paused child holds (the exchange's engine
    takes it up front), and rolls back the journal a killed one left."""
    url = settings if isinstance(settings, str) else settings.warehouse_url
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        main = Path(parsed.database or "")
        if not main.is_absolute() and not isinstance(settings, str):
            main = settings.root / main
        conn = sqlite3.connect(f"file:{main}?mode=rw", uri=True, timeout=60)
        try:
            for ns in NAMESPACES:
                conn.execute(f"ATTACH DATABASE ? AS {ns}", (f"file:{namespace_file(main, ns)}?mode=rw",))
            return [tuple(r) for r in conn.execute(sql)]
        finally:
            conn.close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql))]
    finally:
        engine.dispose()


class Children:
    """``exchange run`` child processes of one test; ``reap`` kills whatever is still running."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen] = []

    def spawn(self, feed: str, *, point: str, marker: Path, pause: bool = False,
              env: dict[str, str] | None = None) -> subprocess.Popen:
        """Run the feed in a child (its own process group) that stops at ``point``: for good (to be
        killed), or with ``pause`` until ``marker`` is removed."""
        full = {**os.environ, **(env or {}), "EXCHANGE_FAULT_POINT": point, "EXCHANGE_FAULT_FILE": str(marker)}
        if pause:
            full["EXCHANGE_FAULT_MODE"] = "pause"
        proc = subprocess.Popen([sys.executable, "-c", "from exchange.cli import run_cli; run_cli()", "run", feed],
                                env=full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        return proc

    def reap(self) -> None:
        while self.procs:
            proc = self.procs.pop()
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 180) -> None:
    """Until the child reaches its fault point (and wrote ``marker``)."""
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"process ended before the fault point: {proc.stdout.read().decode()[-2000:]}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError("fault point not reached in time")
        time.sleep(0.1)


def sigkill(proc: subprocess.Popen) -> None:
    """SIGKILL the child's whole process group: no handler, no cleanup, no rollback by the client."""
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


def finish(proc: subprocess.Popen, timeout: float = 300) -> tuple[int, str]:
    """Wait for the child to end by itself: its exit code and output."""
    out, _ = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(errors="replace")
