"""Watchlists end to end on the embedded warehouse, on a city of its own (new batches are published into it):
a match by the exact ID number when a batch publishes, a match through the person index only (a record
without the ID number, tied by the linking run), nothing after expiry or revocation, nothing in data
outside the watching agency's grant (a table it is not granted, a case outside its district), each match
told once — by webhook, with no identifier in the message — and acknowledged; every watch, match and
acknowledgement in the ledger; the HTTP routes through the gate."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from typing import Any

import pytest
from sqlalchemy import text

from exchange.runner import run_feed
from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.watch import ACK, ADD, ALERTS, REVOKE, use
from tests.conftest import REPO
from tests.e2e.conftest import _env

ADMIN = "watch-admin-key-" + "w" * 24


@pytest.fixture(scope="module")
def hook() -> Iterator[tuple[list[dict[str, Any]], int]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    yield received, server.server_address[1]
    server.shutdown()


@pytest.fixture(scope="module")
def town(tmp_path_factory: pytest.TempPathFactory, hook: tuple[list, int]) -> Iterator[Settings]:
    from exchange.workspace.demo import run_demo

    work = tmp_path_factory.mktemp("watch")
    mp = pytest.MonkeyPatch()
    for name, value in _env(work).items():
        mp.setenv(name, value)
    mp.delenv("EXCHANGE_PSEUDONYM_KEY", raising=False)
    mp.setenv("EXCHANGE_CONN_WATCH_HOOK", f"http://127.0.0.1:{hook[1]}/hook")
    settings = Settings.from_env(REPO)
    result = run_demo(settings, load_catalog(REPO), persons=300, seed=41, say=lambda _m: None)
    assert not result.mismatches
    yield settings
    mp.undo()


def _rows(settings: Settings, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


def _publish(settings: Settings, feed: str, name: str, header: str, lines: list[str], encoding: str = "utf-8") -> None:
    folder = settings.landing_dir / feed.replace(".", "/")
    (folder / name).write_text("\n".join([header, *lines]) + "\n", encoding=encoding)
    outcome = run_feed(feed, settings=settings)
    assert outcome.state == "published", outcome


def _add(settings: Settings, agency: str, kind: str, value: str, **extra: Any) -> dict[str, Any]:
    params = {"kind": kind, "value": value, "reason": "测试布控", "case_number": "A2026-WATCH", **extra}
    done = use(ADD, params, agency=agency, settings=settings, purpose="布控测试")
    assert done is not None
    return done


def _alerts(settings: Settings, agency: str) -> list[dict[str, Any]]:
    found = use(ALERTS, {}, agency=agency, settings=settings, purpose="布控测试")
    assert found is not None
    return found["alerts"]


HOTEL = "lsh,zjhm,xm,lgbm,lgmc,fh,rzsj,tfsj,qhdm,jd,wd"
PARTIES = "记录编号,案件编号,涉案角色,身份证号,姓名,性别,联系电话"


def test_matches_by_id_by_the_index_and_never_outside_the_grant(town: Settings, hook: tuple[list, int]) -> None:
    settings = town
    people = _rows(settings, "SELECT name, id_number, phone, gender FROM core.person WHERE id_number IS NOT NULL AND "
                             "phone IS NOT NULL AND division_code LIKE '610902%' ORDER BY source_record_id")
    names = [p[0] for p in _rows(settings, "SELECT name FROM core.person")]
    unique = [p for p in people if names.count(p[0]) == 1]
    p, q, r = unique[0], unique[1], unique[2]
    uid_r = _rows(settings, "SELECT person_uid FROM mdm.person_link WHERE id_number = :n LIMIT 1", n=r[1])[0][0]

    by_id = _add(settings, "police", "id", p[1], notify=["watch_hook"])
    expired = _add(settings, "police", "id", p[1])
    revoked = _add(settings, "police", "id", p[1])
    person = _add(settings, "police", "person", uid_r, notify=["watch_hook"])
    city_on_q = _add(settings, "police", "id", q[1])
    district_on_q = _add(settings, "police_hanbin", "id", q[1])
    with pytest.raises(Exception, match="does not allow watches"):
        _add(settings, "street_office_hanbin", "id", q[1])
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.begin() as conn:  # it ran out an hour ago
        conn.execute(text("UPDATE mdm.watch SET expires_at = :t WHERE watch_id = :w"),
                     {"t": dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=1),
                      "w": expired["watch_id"]})
    engine.dispose()
    assert use(REVOKE, {"watch_id": revoked["watch_id"]}, agency="police", settings=settings)["state"] == "revoked"
    assert use(REVOKE, {"watch_id": by_id["watch_id"]}, agency="police_hanbin", settings=settings) is None

    # 1. a hotel stay under p's ID number: the live watch only; police_hanbin is not granted hotel stays
    _publish(settings, "police.hotel_stays", "w1.csv", HOTEL, [
        f"LYW1,{p[1]},{p[0]},LG610902001,汉滨区测试宾馆,301,2026-12-01 20:00:00,2026-12-02 08:00:00,610902001001,"
        f"109.03,32.68"])
    police = _alerts(settings, "police")
    assert [(a["watch_id"], a["record"], a["via"]) for a in police] == [(by_id["watch_id"], "LYW1", "id")]
    assert police[0]["values"]["guest_name"] == p[0]
    assert _alerts(settings, "police_hanbin") == []

    # 2. q's ID number in a case outside 汉滨区: the city police are told, the district bureau is not;
    #    in a case inside 汉滨区 both are (the bureau sees party ID numbers partially: enough to tie them)
    outside = _rows(settings, "SELECT case_number FROM core.\"case\" WHERE division_code NOT LIKE '610902%' LIMIT 1")
    inside = _rows(settings, "SELECT case_number FROM core.\"case\" WHERE division_code LIKE '610902%' LIMIT 1")
    gender = {"M": "男", "F": "女"}
    _publish(settings, "police.case_parties", "w2.csv", PARTIES, [
        f"W2-1,{outside[0][0]},受害人,{q[1]},{q[0]},{gender[q[3]]},",
        f"W2-2,{inside[0][0]},证人,{q[1]},{q[0]},{gender[q[3]]},"], encoding="gb18030")
    city = {(a["watch_id"], a["record"]) for a in _alerts(settings, "police")}
    assert {(city_on_q["watch_id"], "W2-1"), (city_on_q["watch_id"], "W2-2")} <= city
    district = [(a["watch_id"], a["record"], a["via"]) for a in _alerts(settings, "police_hanbin")]
    assert district == [(district_on_q["watch_id"], "W2-2", "id")]
    assert "*" in _alerts(settings, "police_hanbin")[0]["values"]["id_number"]

    # 3. a record of r without any ID number: nothing at publishing, a match once the index ties it
    _publish(settings, "police.case_parties", "w3.csv", PARTIES, [
        f"W3-1,{inside[0][0]},报案人,,{r[0]},{gender[r[3]]},{r[2]}"], encoding="gb18030")
    assert not [a for a in _alerts(settings, "police") if a["watch_id"] == person["watch_id"]]
    from exchange.workspace.persons import link_persons

    link_persons(settings)
    tied = _rows(settings, "SELECT person_uid FROM mdm.person_link WHERE entity = 'case_party' AND "
                           "source_record_id = 'W3-1'")
    assert tied and tied[0][0] == uid_r, "the index did not tie the record: the test proves nothing"
    mine = [a for a in _alerts(settings, "police") if a["watch_id"] == person["watch_id"]]
    assert [(a["record"], a["via"], a["person_uid"]) for a in mine] == [("W3-1", "person", uid_r)]

    # told once: matching everything again tells nothing new
    from exchange.workspace.watch import sweep

    assert sweep(dt.datetime(2020, 1, 1), settings=settings)["alerts"] == 0
    assert not [a for a in _alerts(settings, "police") if a["watch_id"] in (expired["watch_id"],
                                                                             revoked["watch_id"])]
    # the webhook was told of the two watches that name it, with no identifier in the message
    received = hook[0]
    told = {found.group(1) for m in received if (found := re.search(r"watch (W[0-9A-F]{12})", m["subject"]))}
    assert told == {by_id["watch_id"], person["watch_id"]}
    assert not [m for m in received if p[1] in json.dumps(m, ensure_ascii=False) or r[0] in m["text"]]

    # acknowledged once, by the watching agency only; its alert resolved; every step in the ledger
    match_id = police[0]["match_id"]
    assert use(ACK, {"match_id": match_id}, agency="police_hanbin", settings=settings) is None
    done = use(ACK, {"match_id": match_id, "note": "已核查"}, agency="police", settings=settings)
    assert done is not None and done["acknowledged_by"].startswith("police/")
    state = _rows(settings, "SELECT a.state FROM audit.alert a JOIN mdm.watch_match m ON m.alert_id = a.id "
                            "WHERE m.match_id = :m", m=match_id)
    assert state == [("resolved",)]
    kinds = [r[0] for r in _rows(settings, "SELECT kind FROM audit.ledger WHERE kind LIKE 'watch%' ORDER BY seq")]
    assert kinds.count("watch") == 7 and kinds.count("watch_ack") == 1  # six added, one revoked
    assert kinds.count("watch_match") == len(_rows(settings, "SELECT match_id FROM mdm.watch_match"))
    payloads = " ".join(r[0] for r in _rows(settings, "SELECT payload FROM audit.ledger WHERE kind LIKE 'watch%'"))
    assert p[1] not in payloads and q[1] not in payloads


def test_the_http_routes_go_through_the_gate(town: Settings) -> None:
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app
    from exchange.workspace.sharing import create_api_key

    settings = town
    police = create_api_key("police", settings=settings)[1]
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN))
    q = {"purpose": "布控"}
    (number,) = _rows(settings, "SELECT id_number FROM core.person WHERE id_number IS NOT NULL LIMIT 1")[0]
    body = {"kind": "id", "value": number, "reason": "在逃", "case_number": "A2026-9", "days": 7}
    made = client.post("/watches", json=body, params=q, headers={"X-API-Key": police, "X-User-Id": "li.ming"})
    assert made.status_code == 200 and made.json()["value"] != number and "*" in made.json()["value"], made.text
    assert made.json()["created_by"] == "police/li.ming"
    refused = client.post("/watches", json=body, params=q, headers={"X-API-Key": office})
    assert refused.status_code == 400 and "does not allow watches" in refused.json()["error"]
    bad = client.post("/watches", json={**body, "value": "110101199001011230"}, params=q,
                      headers={"X-API-Key": police})
    assert bad.status_code == 400 and "not valid" in bad.json()["error"]
    listed = client.get("/watches", params=q, headers={"X-API-Key": police}).json()["watches"]
    assert made.json()["watch_id"] in {w["watch_id"] for w in listed}
    assert client.get("/watches", params=q, headers={"X-API-Key": office}).json()["watches"] == []
    alerts = client.get("/watches/alerts", params=q, headers={"X-API-Key": police})
    assert alerts.status_code == 200 and alerts.json()["alerts"]
    match_id = alerts.json()["alerts"][0]["match_id"]
    assert client.post(f"/watches/alerts/{match_id}/ack", params=q, headers={"X-API-Key": office}).status_code == 404
    assert client.post(f"/watches/alerts/{match_id}/ack", json={"note": "ok"}, params=q,
                       headers={"X-API-Key": police}).status_code == 200
    gone = client.delete(f"/watches/{made.json()['watch_id']}", params=q, headers={"X-API-Key": police})
    assert gone.status_code == 200 and gone.json()["state"] == "revoked"
    log = _rows(settings, "SELECT entity, status, what, agency FROM audit.access WHERE entity LIKE 'watch%' "
                          "AND channel = 'api' ORDER BY id")
    assert [(r[0], r[1]) for r in log] == [("watch.add", 200), ("watch.add", 400), ("watch.add", 400),
                                          ("watch.list", 200), ("watch.list", 200), ("watch.alerts", 200),
                                          ("watch.ack", 404), ("watch.ack", 200), ("watch.revoke", 200)]
    assert [r[3] for r in log[:2]] == ["police", "street_office_hanbin"]
    assert not [r for r in log if number in r[2]] and "**" in log[0][2]
