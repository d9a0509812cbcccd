"""Alerts through real channels: a local SMTP server (aiosmtpd) and a local HTTP receiver get the
messages of ``exchange.workspace.ops``: a late feed, a feed failing before any batch exists, a task
failed after its retries — each told once while it lasts and once when it clears, every message on
record, none carrying an ID number or a secret."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import write
from tests.residents import FEED, GOOD_ROWS, HEADER, TODAY

pytestmark = pytest.mark.gx

TOKEN = "hook-token-Zq81xW3v"
OPS = """\
freshness: {expect_every: 1d, grace: 2h}
contact: police records office, desk 4411
alerts: [ops_mail, ops_hook]
"""
BROKEN_FEED = """\
agency: civil_affairs
feed: registry
description: a SQL source whose connection was never given
source: {kind: sql, conn: registry_db, table: residents, full_refresh: true}
target: person@2
mapping: {pid: source_record_id, xm: name, xb: gender, csrq: birth_date, xzqh: division_code}
alerts: [ops_mail]
"""


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:  # aiosmtpd checks it is up by connecting to the port it was given
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def hook() -> Iterator[tuple[list[dict[str, Any]], int]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"path": self.path, "auth": self.headers.get("Authorization"), **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield received, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def routes(smtp: tuple[Mailbox, int], hook: tuple[list, int], monkeypatch: pytest.MonkeyPatch) -> tuple:
    box, smtp_port = smtp
    received, hook_port = hook
    monkeypatch.setenv("EXCHANGE_CONN_OPS_MAIL",
                       f"smtp://127.0.0.1:{smtp_port}?from=exchange@city.gov&to=oncall@city.gov,duty@city.gov")
    monkeypatch.setenv("EXCHANGE_CONN_OPS_HOOK", f"http://127.0.0.1:{hook_port}/hook?auth=bearer&token={TOKEN}")
    return box, received


def _texts(box: Mailbox, received: list[dict[str, Any]]) -> str:
    return "\n".join([str(m) for m in box.messages] + [json.dumps(r, ensure_ascii=False) for r in received])


def test_a_late_feed_is_told_once_by_mail_and_webhook_and_its_recovery_once(project: Path, settings,
                                                                          routes: tuple) -> None:
    from exchange.runner import run_feed
    from exchange.workspace import ops

    box, received = routes
    write(project / "feeds" / "police" / "residents.yaml", FEED + OPS)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    assert run_feed("police.residents", settings=settings, today=TODAY).state == "published"
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)

    fresh = ops.check(settings=settings, now=now + dt.timedelta(hours=25))
    assert fresh.fired == [] and box.messages == [] and received == []

    late = ops.check(settings=settings, now=now + dt.timedelta(days=1, hours=3))
    assert late.fired == ["late:police.residents"]
    assert len(box.messages) == 1 and len(received) == 1
    mail = box.messages[0]
    assert mail["To"] == "oncall@city.gov, duty@city.gov" and mail["From"] == "exchange@city.gov"
    assert mail["Subject"].startswith("[exchange] ALERT police.residents: late — no new data since")
    assert "police records office, desk 4411" in mail.get_content()
    assert received[0]["event"] == "firing" and received[0]["kind"] == "late"
    assert received[0]["feed"] == "police.residents" and received[0]["auth"] == f"Bearer {TOKEN}"

    again = ops.check(settings=settings, now=now + dt.timedelta(days=1, hours=4))
    assert again.fired == [] and again.still_firing == ["late:police.residents"]
    assert len(box.messages) == 1 and len(received) == 1, "a lasting condition is told once"

    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(GOOD_ROWS[:2]) + "\n")  # new data
    assert run_feed("police.residents", settings=settings, today=TODAY).state == "published"
    back = ops.check(settings=settings, now=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    assert back.resolved == ["late:police.residents"]
    assert box.messages[1]["Subject"].startswith("[exchange] RESOLVED police.residents: late")
    assert received[1]["event"] == "resolved"

    history = ops.alert_history(settings=settings)
    assert [(a["key"], a["state"]) for a in history] == [("late:police.residents", "resolved")]
    told = [(d["event"], d["route"], d["channel"], d["status"]) for d in history[0]["deliveries"]]
    assert told == [("firing", "ops_mail", "email", "sent"), ("firing", "ops_hook", "webhook", "sent"),
                    ("resolved", "ops_mail", "email", "sent"), ("resolved", "ops_hook", "webhook", "sent")]
    assert history[0]["deliveries"][0]["recipient"] == "oncall@city.gov, duty@city.gov"
    sent = _texts(box, received)
    assert "11010519491231002X" not in sent and TOKEN not in sent.replace(f"Bearer {TOKEN}", "")


def test_a_failure_before_any_batch_is_health_and_an_alert_naming_the_stage(project: Path, settings,
                                                                           routes: tuple) -> None:
    from exchange.errors import ConfigError
    from exchange.runner import run_feed
    from exchange.workspace import ops

    box, received = routes
    write(project / "feeds" / "civil_affairs" / "registry.yaml", BROKEN_FEED)
    with pytest.raises(ConfigError, match="registry_db"):
        run_feed("civil_affairs.registry", settings=settings)
    [health] = ops.feeds_status(settings=settings)
    assert (health.state, health.last_error_stage) == ("failing", "extract")
    assert health.last_error.startswith("ConfigError: connection 'registry_db' is not defined")
    result = ops.check(settings=settings, verify_ledger=False)
    assert result.fired == ["failing:civil_affairs.registry"]
    assert len(box.messages) == 1 and received == []  # this feed's only route is the mail
    assert "EXCHANGE_CONN_REGISTRY_DB" in box.messages[0].get_content()


def test_a_failed_task_is_told_once_and_a_broken_route_is_on_record(project: Path, settings, routes: tuple,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.workspace import ops

    box, _ = routes
    monkeypatch.setenv("EXCHANGE_CONN_OPS_HOOK", "http://127.0.0.1:9/closed")  # nothing listens on port 9
    write(project / "feeds" / "police" / "residents.yaml", FEED + OPS)
    error = "TerminalError: feed police.residents: row 3 id_number 11010519491231002X: password=hunter2"
    first = ops.task_failed(dag_id="feed.police.residents", task_id="load", feed="police.residents", error=error,
                            try_number=4, settings=settings)
    second = ops.task_failed(dag_id="feed.police.residents", task_id="load", feed="police.residents", error=error,
                             try_number=4, settings=settings)
    assert first[0]["status"] == "sent" and first[1]["status"].startswith("failed: URLError")
    assert second == [] and len(box.messages) == 1
    body = box.messages[0].get_content()
    assert "task feed.police.residents.load failed after 4 tries" in box.messages[0]["Subject"]
    assert "11010519491231002X" not in body and "hunter2" not in body


def test_a_ledger_that_no_longer_verifies_is_an_alert_to_the_platform_routes(project: Path, settings,
                                                                             routes: tuple,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    from exchange.runner import run_feed
    from exchange.warehouse.engine import make_engine
    from exchange.workspace import ops
    from tests.ledger_tampering import flip_one_byte

    box, _ = routes
    monkeypatch.setenv("EXCHANGE_ALERT_ROUTES", "ops_mail")
    write(project / "feeds" / "police" / "residents.yaml", FEED)
    write(settings.landing_dir / "police" / "r.csv", HEADER + "\n".join(GOOD_ROWS) + "\n")
    run_feed("police.residents", settings=settings, today=TODAY)
    assert ops.check(settings=settings).fired == []
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        flip_one_byte(engine, 2, "payload")
    finally:
        engine.dispose()
    result = ops.check(settings=settings)
    assert result.fired == ["ledger"]
    [mail] = box.messages
    assert mail["Subject"].startswith("[exchange] ALERT ledger — the audit ledger does not verify")
    assert "entry 2" in mail.get_content()


def test_a_run_past_its_deadline_is_told_once_and_cleared_once_the_feed_succeeds(project: Path, settings,
                                                                                  routes: tuple) -> None:
    """Airflow's deadline alert calls ``exchange_airflow.notify.run_overdue``, which records this."""
    from exchange.audit import attempts
    from exchange.workspace import ops
    from exchange.workspace.space import Workspace

    box, received = routes
    write(project / "feeds" / "police" / "residents.yaml", FEED + OPS)
    told = [ops.run_overdue(dag_id="feed.police.residents", run_id=f"scheduled__2026-06-0{n}", feed="police.residents",
                            queued_at="2026-06-01T00:00:05Z", deadline="2026-06-01T04:00:05Z", settings=settings)
            for n in (1, 2)]
    assert [d["status"] for d in told[0]] == ["sent", "sent"] and told[1] == []  # once while it lasts
    assert "run scheduled__2026-06-01 of feed.police.residents not finished by its deadline" in \
        box.messages[0]["Subject"]
    assert "deadline 2026-06-01T04:00:05Z" in box.messages[0].get_content()
    with Workspace(settings) as ws, ws.migrated().begin() as conn:  # the feed succeeds again
        attempts.record_attempt(conn, feed="police.residents", stage="extract", batch_id=None,
                                outcome=attempts.NO_NEW_DATA, at=dt.datetime.now(dt.UTC).replace(tzinfo=None))
    result = ops.check(settings=settings, verify_ledger=False)
    assert "overdue:feed.police.residents" in result.resolved
    assert len(box.messages) == 2 and "cleared" in box.messages[1]["Subject"]
    assert len(received) == 2
