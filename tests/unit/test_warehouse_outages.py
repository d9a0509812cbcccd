"""Warehouse outages become TransientError (exchange.warehouse.outages): which errors are outages,
what the message says, and that a stage hit by one records the batch failed, raises
TransientError (which the Airflow tasks let through, so Airflow retries) and reruns cleanly.
The real outages — a PostgreSQL restart in the middle of COPY — are in
tests/integration/test_outages.py."""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path

import psycopg
import pytest
from psycopg import errors as pg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text

from exchange.errors import ConfigError, TerminalError, TransientError
from exchange.runner import run_feed
from exchange.warehouse.engine import make_engine
from exchange.warehouse.outages import as_transient, is_outage, is_setup_error, outages_as_transient
from tests.conftest import REPO, write
from tests.residents import FEED, GOOD_ROWS, HEADER

pytestmark = [pytest.mark.gx, pytest.mark.airflow]  # not in `make check`: see the Makefile


def wrapped(cls: type[sa_exc.DBAPIError], orig: Exception, invalidated: bool = False) -> sa_exc.DBAPIError:
    return cls("INSERT INTO core.person ...", {}, orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(("exc", "outage"), [
    (psycopg.OperationalError("consuming input failed: server closed the connection unexpectedly"), True),
    (wrapped(sa_exc.OperationalError, psycopg.OperationalError("connection refused")), True),
    (wrapped(sa_exc.OperationalError, pg.AdminShutdown("terminating connection due to administrator command")),
     True),
    (wrapped(sa_exc.OperationalError, pg.SerializationFailure("could not serialize access")), True),
    (wrapped(sa_exc.OperationalError, pg.DeadlockDetected("deadlock detected")), True),
    (wrapped(sa_exc.OperationalError, pg.TooManyConnections("too many clients already")), True),
    (wrapped(sa_exc.DBAPIError, Exception("anything"), invalidated=True), True),
    (sa_exc.DisconnectionError("pool could not reconnect"), True),
    (wrapped(sa_exc.OperationalError, sqlite3.OperationalError("database is locked")), True),
    # not outages: a retry would fail the same way
    (wrapped(sa_exc.OperationalError, pg.InvalidPassword("password authentication failed")), False),
    (wrapped(sa_exc.IntegrityError, pg.UniqueViolation("duplicate key value")), False),
    (wrapped(sa_exc.ProgrammingError, pg.UndefinedTable('relation "core.person" does not exist')), False),
    (wrapped(sa_exc.OperationalError, sqlite3.OperationalError("no such table: person")), False),
    (psycopg.OperationalError('connection failed: connection to server at "127.0.0.1", port 5432 failed: FATAL:  '
                              'database "warehouse" does not exist'), False),
    (psycopg.OperationalError('connection failed: FATAL:  password authentication failed for user "exchange"'),
     False),
    (TerminalError("bad file"), False),
    (TransientError("already mapped"), False),
    (ValueError("bug"), False),
])
def test_which_errors_are_outages(exc: BaseException, outage: bool) -> None:
    assert is_outage(exc) is outage


def test_a_connection_refused_for_setup_is_a_config_error() -> None:
    refused = psycopg.OperationalError('connection failed: FATAL:  role "exchange" does not exist')
    assert is_setup_error(refused) and not is_setup_error(psycopg.OperationalError("Connection refused"))
    with pytest.raises(ConfigError, match=r"EXCHANGE_WAREHOUSE_URL: connecting: cannot connect to "
                                          r"postgresql\+psycopg://exchange:\*\*\*@db:5432/w \(connection failed: "
                                          r"FATAL: role \"exchange\" does not exist\)"), \
            outages_as_transient("postgresql+psycopg://exchange:pw@db:5432/w", "connecting"):
        raise wrapped(sa_exc.OperationalError, refused)


def test_warehouse_down_before_anything_started_is_transient(project: Path, settings) -> None:
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    down = dataclasses.replace(settings, warehouse_url="postgresql+psycopg://postgres@127.0.0.1:1/warehouse")
    with pytest.raises(TransientError, match=r"warehouse postgresql\+psycopg://postgres@127.0.0.1:1/warehouse: "
                                             r"feed police.residents: preparing the warehouse tables: the database "
                                             r"is unavailable \(connection failed: .*refused"):
        run_feed("police.residents", settings=down)


def test_message_names_the_warehouse_and_step_without_the_password() -> None:
    exc = wrapped(sa_exc.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"))
    mapped = as_transient(exc, "postgresql+psycopg://exchange:s3cret-pw@db.example:5432/warehouse",
                          "feed police.residents, batch b1: load")
    assert isinstance(mapped, TransientError)
    message = str(mapped)
    assert "s3cret-pw" not in message
    assert message.startswith("warehouse postgresql+psycopg://exchange:***@db.example:5432/warehouse: feed "
                              "police.residents, batch b1: load: the database is unavailable (server closed")
    assert "no row is loaded twice" in message
    assert as_transient(ValueError("bug"), "sqlite:///x.db", "load") is None


def test_connection_lost_during_the_load_is_transient_and_retried(project: Path, settings,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import exchange.pipeline.load

    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")

    def lost(*_args: object, **_kwargs: object) -> None:
        raise wrapped(sa_exc.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly"),
                      invalidated=True)

    with monkeypatch.context() as patch:
        patch.setattr(exchange.pipeline.load, "upsert_core", lost)
        with pytest.raises(TransientError, match=r"batch police-residents-\w+: load: the database is unavailable "
                                                 r"\(server closed the connection unexpectedly\)") as caught:
            run_feed("police.residents", settings=settings)

    # the Airflow task lets it through unchanged: Airflow retries the task
    monkeypatch.syspath_prepend(str(REPO / "dags"))
    from exchange_airflow.tasks import failing_fast

    with pytest.raises(TransientError), failing_fast("feed police.residents, load"):
        raise caught.value

    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            state, error = conn.execute(text("SELECT state, error FROM audit.batch")).one()
            assert state == "failed" and error.startswith("TransientError: warehouse sqlite")
            assert conn.execute(text("SELECT count(*) FROM core.person")).scalar() == 0
        out = run_feed("police.residents", settings=settings)
        assert (out.state, out.rows_loaded) == ("published", len(GOOD_ROWS))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT state, attempts, error FROM audit.batch")).one() == (
                "published", 2, None)
            assert conn.execute(text("SELECT count(*), count(DISTINCT source_record_id) FROM core.person")).one() \
                == (len(GOOD_ROWS), len(GOOD_ROWS))
    finally:
        engine.dispose()
