"""Outages: each surfaces as a ``TransientError`` with a clear message (the CLI prints "transient
error (a retry may succeed)", Airflow retries the task), and a later run succeeds with nothing
duplicated and nothing lost.

- the warehouse's PostgreSQL restarted while a load is inside COPY — on a private server this
  test starts (initdb in a temporary folder, its own port and socket), never the shared one;
  and restarted between two stages, which silently drops the run's feed lock;
- an HTTP API that hangs past the feed's time-out on every retry of one page;
- an agency database (MariaDB, PostgreSQL) whose connection is killed in the middle of the read.

The child ``exchange run`` pauses at a fault point (``EXCHANGE_FAULT_MODE=pause``) until the test,
having caused the outage, removes the marker file; then it goes on and meets the outage.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from exchange.errors import TransientError
from exchange.runner import run_feed
from exchange.spec.settings import Settings
from tests.conftest import write
from tests.http_api import Failure, FakeApi, serve
from tests.integration.conftest import unavailable
from tests.integration.crash import Children, finish, make_rows, q, use_project, wait_for
from tests.integration.sources import DDL, HTTP_SOURCE_FEED, SQL_FEED, T0, insert, people

PG_BIN = Path(os.environ.get("EXCHANGE_TEST_PG_BIN", "/usr/lib/postgresql/15/bin"))
FEED_ID = "police.residents"
TRANSIENT = "transient error (a retry may succeed)"


def assert_transient_exit(proc_result: tuple[int, str], *needles: str) -> None:
    """The child ended on a TransientError, told as such, with no traceback; the message says ``needles``."""
    code, out = proc_result
    assert code == 2, out[-3000:]
    assert TRANSIENT in out and "Traceback" not in out, out[-3000:]
    flat = " ".join(out.split())
    for needle in needles:
        assert needle in flat, out[-3000:]


def assert_failed_then_rerun_loads_once(settings: Settings, rows: int, rejected: int, because: str,
                                        resumes: bool = False, unrecorded: bool = False) -> None:
    """The outage left the batch failed with its TransientError and nothing in core; a rerun takes up the
    same batch (a second attempt) and loads every row once — from its sealed staged files, not read
    from the source again, when the outage came after they were sealed."""
    (batch_id, state, error, folder), = q(settings, "SELECT batch_id, state, error, staging_path FROM audit.batch")
    if unrecorded and state != "failed":  # the outage was met while the server was still down: the batch stays
        assert state == "extracted" and error is None, (state, error)  # at its last recorded stage
    else:
        assert state == "failed" and error.startswith("TransientError: ") and because in error, error
    assert q(settings, "SELECT count(*) FROM core.person") == [(0,)]
    staged = {f.name: f.stat().st_mtime_ns for f in Path(folder).iterdir()} if resumes else {}
    if resumes:
        assert {"raw.parquet", "valid.parquet", "manifest.json"} <= set(staged), staged
    out = run_feed(FEED_ID, settings=settings)
    assert {f: Path(folder, f).stat().st_mtime_ns for f in staged} == staged  # resumed: nothing rewritten
    assert (out.state, out.batch_id, out.rows_in, out.rows_loaded, out.rows_quarantined) == (
        "published", batch_id, rows, rows - rejected, rejected)
    assert q(settings, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [
        (rows - rejected, rows - rejected)]
    assert q(settings, f"SELECT count(*) FROM quarantine.person WHERE _batch_id = '{batch_id}'") == [(rejected,)]
    assert q(settings, "SELECT state, attempts, error FROM audit.batch") == [("published", 2, None)]


# --- a private PostgreSQL server the test may restart ------------------------------------------------


@dataclass
class PrivatePg:
    bin: Path
    data: Path
    port: int
    user: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @property
    def log(self) -> Path:
        return self.data.parent / "server.log"

    def ctl(self, *args: str) -> None:
        # the server's output goes to its log file: a pipe left open by the server would never end
        subprocess.run([str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log), *args], check=True,
                       user=self.user, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)

    def restart(self) -> None:
        """Fast shutdown (every session is terminated) and start again on the same port."""
        self.ctl("-w", "-m", "fast", "restart")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def private_pg() -> Iterator[PrivatePg]:
    """A PostgreSQL 15 of this test alone: initdb into a temporary folder, trust auth, a free port,
    its unix socket in that folder. Always stopped and removed afterwards, whatever happened."""
    initdb = PG_BIN / "initdb"
    if not initdb.exists():
        unavailable("PostgreSQL server binaries", FileNotFoundError(str(initdb)),
                    "Install PostgreSQL 15 (apt-get install postgresql-15) or set EXCHANGE_TEST_PG_BIN to the "
                    "folder holding initdb and pg_ctl.")
    user = None
    base = Path(tempfile.mkdtemp(prefix="exchange-pg-"))
    if os.geteuid() == 0:  # the server refuses to run as root: run it as the postgres user
        user = "postgres"
        try:
            entry = pwd.getpwnam(user)
        except KeyError as exc:
            shutil.rmtree(base, ignore_errors=True)
            unavailable("a 'postgres' system user", exc, "Running as root, the private server needs one.")
        os.chown(base, entry.pw_uid, entry.pw_gid)
    server = PrivatePg(PG_BIN, base / "data", _free_port(), user)
    started = False
    try:
        subprocess.run([str(initdb), "-D", str(server.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                        "--locale=C", "--no-sync"], check=True, user=user, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=300)
        options = (f"-p {server.port} -k {base} -c listen_addresses=127.0.0.1 -c fsync=off "
                   f"-c full_page_writes=off -c shared_buffers=32MB")
        server.ctl("-w", "-o", options, "start")
        started = True
        yield server
    finally:
        if started:
            with contextlib.suppress(subprocess.SubprocessError, OSError):
                server.ctl("-w", "-m", "immediate", "stop")
        shutil.rmtree(base, ignore_errors=True)


def copy_backends(url: str) -> list[tuple]:
    return q(url, "SELECT state, left(query, 4) FROM pg_stat_activity WHERE datname = current_database() "
                  "AND pid <> pg_backend_pid() AND query LIKE 'COPY%'")


RESTARTS = {
    # inside the load stage's COPY (EXCHANGE_OVERLAP_LOAD=off): the load's own connection is gone
    "load.copy": ("load.copy", False, ("batch police-residents-", ": load: the database is unavailable",
                                       "no row is loaded twice")),
    # inside the COPY that overlaps validation (exchange.pipeline.preload): whichever stage meets the outage
    # first — validation's ledger write or the load taking the copy — fails, transient
    "overlapped-copy": ("load.copy", True, ("batch police-residents-", "the database is unavailable",
                                            "no row is loaded twice")),
    # between two stages: the run's statements reconnect, but its advisory lock went with its old session
    # (another run of the feed could now be loading the same rows), so the load must not commit
    "stage.sealed": ("stage.sealed", False, ("this run lost its lock", "nothing of this step was committed")),
    # the same with the copy overlapping validation: the copy's connection went with the server, and the load
    # that takes it over finds it gone
    "overlapped-sealed": ("stage.sealed", True, ("batch police-residents-", ": load: the database is unavailable",
                                                 "no row is loaded twice")),
}


@pytest.mark.parametrize("case", list(RESTARTS))
def test_warehouse_restart_is_transient_then_rerun_loads_once(
        case: str, private_pg: PrivatePg, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        children: Children) -> None:
    point, overlap, needles = RESTARTS[case]
    settings = use_project(project, tmp_path, monkeypatch, private_pg.url)
    csv, bad = make_rows(6000)
    write(settings.landing_dir / "police" / "r.csv", csv)
    marker = tmp_path / "paused"
    proc = children.spawn(FEED_ID, point=point, marker=marker, pause=True,
                          env={"EXCHANGE_OVERLAP_LOAD": "on" if overlap else "off"})
    wait_for(marker, proc)
    if point == "load.copy":
        assert copy_backends(private_pg.url) == [("active", "COPY")]  # the child is inside COPY on the server
    private_pg.restart()
    marker.unlink()  # the child goes on, into a server session that is gone
    assert_transient_exit(finish(proc), *needles)
    # the sequential load resumes from its sealed files; an outage met while validating (the copy overlapping
    # it) validates again — met while the server was still restarting, it could not even be recorded
    overlapped = overlap and point == "load.copy"
    assert_failed_then_rerun_loads_once(settings, 6000, bad, because=needles[-2], resumes=not overlapped,
                                        unrecorded=overlapped)


# --- an HTTP API that stops answering ------------------------------------------------------------------

HTTP_FEED = HTTP_SOURCE_FEED.replace("  backoff: 0.05\n", "  backoff: 0.05\n  timeout: 1.5\n  max_retries: 2\n")


def test_http_api_timing_out_is_transient_then_a_run_succeeds(project: Path, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert "timeout: 1.5" in HTTP_FEED
    settings = use_project(project, tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'wh' / 'exchange.db'}",
                           feed=HTTP_FEED)
    # page 1 answers; page 2 then hangs far beyond the 1.5 s time-out on the first try and both retries
    # (with a valid answer at the end, which nobody waits for)
    with serve(FakeApi(records=people(range(1, 31)), since_field="gxsj", failures_after=1,
                       failures=[Failure(200, body='{"data": {"items": []}}', delay=20)] * 3)) as api:
        monkeypatch.setenv("EXCHANGE_CONN_POLICE_API", f"{api.base_url}/api")
        with pytest.raises(TransientError) as info:
            run_feed(FEED_ID, settings=settings)
        message = str(info.value)
        assert "http:police_api/items: GET" in message and "offset=8" in message
        assert "timed out after 1.5s" in message and "(after 3 attempts)" in message
        assert [query.get("offset") for _, query, _ in api.requests] == ["0", "8", "8", "8"]
        # the pages are read before the batch starts: nothing recorded, nothing loaded
        assert q(settings, "SELECT count(*) FROM audit.batch") == [(0,)]
        assert q(settings, "SELECT count(*) FROM core.person") == [(0,)]

        out = run_feed(FEED_ID, settings=settings)  # the API answers again
        again = run_feed(FEED_ID, settings=settings)
    assert (out.state, out.rows_in, out.rows_loaded) == ("published", 30, 30)
    assert again.already_loaded and again.batch_id == out.batch_id
    assert q(settings, "SELECT count(*), count(DISTINCT source_record_id) FROM core.person") == [(30, 30)]
    assert q(settings, "SELECT batch_id, state, attempts FROM audit.batch") == [(out.batch_id, "published", 1)]


# --- an agency database that drops the connection mid-read ---------------------------------------------

# the child's streaming connection, what it is doing, and how to kill it
READER = {
    "mysql": ("SELECT ID, COMMAND FROM information_schema.PROCESSLIST WHERE DB = DATABASE() "
              "AND ID <> CONNECTION_ID()", ("Query",), "KILL CONNECTION {}"),
    "postgresql": ("SELECT pid, left(query, 5) FROM pg_stat_activity WHERE datname = current_database() "
                   "AND pid <> pg_backend_pid()", ("FETCH", "DECLA"), "SELECT pg_terminate_backend({})"),
}


@pytest.mark.parametrize("source", ["mariadb", "postgresql"])
def test_source_connection_killed_mid_read_is_transient_then_rerun_reads_all(
        source: str, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, children: Children,
        request: pytest.FixtureRequest) -> None:
    rows = 4000
    url = request.getfixturevalue("mariadb_url" if source == "mariadb" else "pg_url")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(DDL[engine.dialect.name]))
    insert(url, range(1, rows + 1), T0)
    with engine.begin() as conn:
        # 12 kB of notes a row, 48 MB in all: more than the socket buffers hold, so when the child
        # pauses after its first 500 rows the server is still sending (MariaDB streams the whole
        # result at once; a small table would already sit complete in the client's buffers)
        conn.execute(text("ALTER TABLE residents ADD COLUMN note TEXT"))
        conn.execute(text("UPDATE residents SET note = repeat('x', 12000)"))
    monkeypatch.setenv("EXCHANGE_CONN_AGENCY_DB", url)
    settings = use_project(project, tmp_path, monkeypatch, f"sqlite:///{tmp_path / 'wh' / 'exchange.db'}",
                           feed=SQL_FEED, batch_rows=500)
    marker = tmp_path / "first-batch"
    proc = children.spawn(FEED_ID, point="extract.batch", marker=marker, pause=True)
    try:
        wait_for(marker, proc)  # 500 of 4,000 rows read; the rest still to come from the server
        find, busy, kill = READER[engine.dialect.name]
        with engine.connect() as conn:
            readers = [tuple(r) for r in conn.execute(text(find))]
            assert len(readers) == 1 and readers[0][1] in busy, readers  # the child's read, under way
            conn.execute(text(kill.format(int(readers[0][0]))))
            conn.commit()
    finally:
        engine.dispose()
    marker.unlink()
    assert_transient_exit(finish(proc), "sql:agency_db/residents: cannot read from", "retrying may succeed")
    assert_failed_then_rerun_loads_once(settings, rows, 0, because="sql:agency_db/residents: cannot read from")
    assert q(settings, "SELECT min(CAST(source_record_id AS INTEGER)), max(CAST(source_record_id AS INTEGER)) "
                       "FROM core.person") == [(1, rows)]
    assert '"cursor": "2026-03-01 08:00:00"' in q(settings, "SELECT state FROM audit.feed_state")[0][0]
