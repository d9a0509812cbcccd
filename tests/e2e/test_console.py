"""The web console over HTTP on the embedded warehouse (the browser test on PostgreSQL is
tests/security/test_console_browser.py): sign-in, sessions, the purpose asked first, the search and
person pages through the user's grant, the auditors' pages, roles, CSRF, redirects, headers, and every
use on record in ``audit.access`` with the user, the purpose and the query masked."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pypinyin import lazy_pinyin
from sqlalchemy import text

from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine

ADMIN_KEY = "console-admin-key-" + "y" * 24
PASSWORD = "correct horse battery 7"


def _rows(settings: Settings, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql), params))
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def users(investigate_city: tuple[Settings, Any, dict[str, str]]) -> dict[str, str]:
    from exchange.workspace.console import add_console_user

    settings = investigate_city[0]
    tag = uuid.uuid4().hex[:6]
    names = {"police": f"police.{tag}", "office": f"office.{tag}", "auditor": f"audit.{tag}"}
    add_console_user(names["police"], "police", "investigator", password=PASSWORD, settings=settings)
    add_console_user(names["office"], "street_office_hanbin", "investigator", password=PASSWORD, settings=settings)
    add_console_user(names["auditor"], "civil_affairs", "auditor", password=PASSWORD, settings=settings)
    return names


@pytest.fixture(scope="module")
def app(investigate_city: tuple[Settings, Any, dict[str, str]]) -> Iterator[Any]:
    from exchange.api.serve import api_app

    yield api_app(investigate_city[0], admin_key=ADMIN_KEY)


def _client(app: Any) -> Any:
    from fastapi.testclient import TestClient

    return TestClient(app, follow_redirects=False)


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def _sign_in(app: Any, user: str, purpose: str | None = "专项排查", case: str = "") -> tuple[Any, str]:
    client = _client(app)
    got = client.post("/console/login?next=/console/search", data={"user": user, "password": PASSWORD})
    assert got.status_code == 303 and got.headers["location"].startswith("/console/purpose"), got.text
    page = client.get(got.headers["location"])
    csrf = _csrf(page.text)
    if purpose is not None:
        done = client.post("/console/purpose", data={"csrf": csrf, "purpose": purpose, "case_number": case,
                                                     "next": "/console/search"})
        assert done.status_code == 303 and done.headers["location"] == "/console/search"
    return client, csrf


def test_sign_in_refuses_wrong_passwords_alike_and_sets_a_strict_cookie(app: Any, users: dict[str, str],
                                                                         city: tuple[Settings, Any]) -> None:
    client = _client(app)
    first = client.get("/console/search")
    assert first.status_code == 303 and first.headers["location"].startswith("/console/login?next=")
    wrong = client.post("/console/login", data={"user": users["police"], "password": "not the password"})
    unknown = client.post("/console/login", data={"user": "nobody.here", "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert "用户名或密码错误" in wrong.text and "用户名或密码错误" in unknown.text
    ok = client.post("/console/login", data={"user": users["police"], "password": PASSWORD})
    cookie = ok.headers["set-cookie"]
    assert ok.status_code == 303 and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    log = _rows(city[0], "SELECT user_id, status, outcome, channel FROM audit.access WHERE entity = 'console_session' "
                         "ORDER BY id DESC LIMIT 3")[::-1]
    assert [(r[1], r[2], r[3]) for r in log] == [(401, "refused: wrong password", "console"),
                                                 (401, "refused: unknown user", "console"), (200, "ok", "console")]
    # the stored session is a hash: the cookie's token is nowhere in the table
    token = re.search(r"exchange_console=([^;]+)", cookie).group(1)
    assert not _rows(city[0], "SELECT 1 FROM audit.console_session WHERE session_sha256 = :t", t=token)


def test_a_purpose_comes_before_any_search_and_goes_with_every_request(app: Any, users: dict[str, str],
                                                                      city: tuple[Settings, Any]) -> None:
    settings, _ = city
    client, csrf = _sign_in(app, users["police"], purpose=None)
    page = client.get("/console/search")
    assert page.status_code == 303 and page.headers["location"].startswith("/console/purpose")
    assert client.post("/console/purpose", data={"csrf": csrf, "purpose": "  "}).status_code == 400
    name, id_number, uid = _rows(settings, "SELECT p.name, p.id_number, l.person_uid FROM core.person p JOIN "
                                           "mdm.person_link l ON l.source_agency = p.source_agency AND "
                                           "l.source_record_id = p.source_record_id AND l.entity = 'person' "
                                           "WHERE p.source_agency = 'police' ORDER BY p.source_record_id LIMIT 1")[0]
    client.post("/console/purpose", data={"csrf": csrf, "purpose": "盗窃案排查", "case_number": "A2026-17"})
    found = client.post("/console/search", data={"csrf": csrf, "q": "".join(lazy_pinyin(name))})
    assert found.status_code == 200 and f"/console/persons/{uid}" in found.text
    by_id = client.post("/console/search", data={"csrf": csrf, "q": id_number, "kind": "id"})
    assert by_id.status_code == 200 and f"/console/persons/{uid}" in by_id.text
    log = _rows(settings, "SELECT agency, user_id, purpose, case_number, channel, entity, what, row_count, status "
                          "FROM audit.access ORDER BY id DESC LIMIT 2")[::-1]
    for r in log:
        assert r[:6] == ("police", users["police"], "盗窃案排查", "A2026-17", "console", "search"), r
        assert r[7] > 0 and r[8] == 200
    assert id_number not in log[1][6] and id_number[-4:] not in log[1][6]  # the query is on record masked
    person = client.get(f"/console/persons/{uid}?depth=2")
    assert person.status_code == 200 and "<svg" in person.text and "关系图" in person.text
    assert re.search(r'<a class="node root" href="/console/persons/' + uid, person.text)
    entities = [r[0] for r in _rows(settings, "SELECT entity FROM audit.access ORDER BY id DESC LIMIT 3")][::-1]
    assert entities == ["person_profile", "timeline", "graph"]


def test_the_search_text_never_appears_in_a_url(app: Any, users: dict[str, str]) -> None:
    client, csrf = _sign_in(app, users["police"])
    page = client.get("/console/search").text
    assert '<form class="card" method="post" action="/console/search">' in page
    got = client.post("/console/search", data={"csrf": csrf, "q": "兴安街"})
    assert got.status_code == 200 and "兴安街" not in str(got.url)


def test_a_form_without_the_session_token_does_nothing(app: Any, users: dict[str, str],
                                                       city: tuple[Settings, Any]) -> None:
    client, _csrf_token = _sign_in(app, users["police"])
    searches = "SELECT count(*) FROM audit.access WHERE entity = 'search'"
    before = _rows(city[0], searches)[0][0]
    forged = client.post("/console/search", data={"csrf": "forged", "q": "兴安街"})
    assert forged.status_code == 303
    assert _rows(city[0], searches)[0][0] == before  # no search ran (the refused request is on record as such)
    last = _rows(city[0], "SELECT what, status, outcome FROM audit.access ORDER BY id DESC LIMIT 1")[0]
    assert tuple(last) == ("POST /console/search", 303, "no data path")
    assert client.post("/console/purpose", data={"csrf": "forged", "purpose": "x"}).status_code == 303
    client.post("/console/logout", data={"csrf": "forged"})  # not signed out by a forged form ...
    assert client.get("/console/search").status_code == 200


def test_the_street_office_sees_masked_names_and_only_its_district(app: Any, users: dict[str, str],
                                                                    city: tuple[Settings, Any]) -> None:
    settings, _ = city
    inside = _rows(settings, "SELECT name, address FROM core.person WHERE division_code LIKE '610902%' AND "
                             "address IS NOT NULL AND length(name) >= 2 ORDER BY source_record_id LIMIT 1")[0]
    district = [r[0] for r in _rows(settings, "SELECT address FROM core.person WHERE division_code LIKE '610902%' "
                                              "AND address IS NOT NULL")]
    far = next(a[-9:] for (a,) in _rows(settings, "SELECT address FROM core.person WHERE division_code NOT LIKE "
                                                  "'610902%' AND address IS NOT NULL ORDER BY source_record_id")
               if not any(a[-9:] in d for d in district))
    office, csrf = _sign_in(app, users["office"])
    police, pcsrf = _sign_in(app, users["police"])
    street = inside[1][-9:]
    seen = office.post("/console/search", data={"csrf": csrf, "q": street, "kind": "address"}).text
    assert "/console/persons/MP" in seen and inside[0] not in seen and inside[0][0] + "*" in seen
    assert "/console/persons/MP" in police.post("/console/search", data={"csrf": pcsrf, "q": far,
                                                                         "kind": "address"}).text
    assert "/console/persons/MP" not in office.post("/console/search", data={"csrf": csrf, "q": far,
                                                                              "kind": "address"}).text


def test_roles_keep_their_pages(app: Any, users: dict[str, str]) -> None:
    investigator, _ = _sign_in(app, users["police"])
    for page in ("/console/audit/batches", "/console/audit/access", "/console/audit/ledger"):
        assert investigator.get(page).status_code == 403
    auditor = _client(app)
    got = auditor.post("/console/login", data={"user": users["auditor"], "password": PASSWORD})
    assert got.headers["location"] == "/console/purpose?next=%2Fconsole%2Faudit%2Fbatches"
    csrf = _csrf(auditor.get(got.headers["location"]).text)
    auditor.post("/console/purpose", data={"csrf": csrf, "purpose": "季度审计", "next": "/console/audit/batches"})
    assert auditor.get("/console/search").status_code == 403
    batches = auditor.get("/console/audit/batches")
    assert batches.status_code == 200
    batch_id = re.search(r'href="/console/audit/batches/([^"]+)"', batches.text).group(1)
    report = auditor.get(f"/console/audit/batches/{batch_id}")
    assert report.status_code == 200 and "校验报告" in report.text and "期望" in report.text
    assert auditor.get("/console/audit/batches/no-such-batch").status_code == 404
    access = auditor.get("/console/audit/access")
    assert access.status_code == 200 and users["police"] in access.text
    ledger = auditor.get("/console/audit/ledger")
    assert ledger.status_code == 200 and "账本完整" in ledger.text


def test_sessions_end_on_sign_out_and_when_the_user_is_disabled(app: Any, city: tuple[Settings, Any]) -> None:
    from exchange.workspace.console import add_console_user, disable_console_user

    name = f"temp.{uuid.uuid4().hex[:6]}"
    add_console_user(name, "police", "investigator", password=PASSWORD, settings=city[0])
    client, csrf = _sign_in(app, name)
    other, _ = _sign_in(app, name)
    client.post("/console/logout", data={"csrf": csrf})
    assert client.get("/console/search").status_code == 303
    assert other.get("/console/search").status_code == 200
    disable_console_user(name, settings=city[0])
    assert other.get("/console/search").status_code == 303
    refused = _client(app).post("/console/login", data={"user": name, "password": PASSWORD})
    assert refused.status_code == 401
    kinds = [r[0] for r in _rows(city[0], "SELECT payload FROM audit.ledger WHERE kind = 'console_user' AND "
                                          "subject = :s ORDER BY seq", s=name)]
    assert ['"action":"create"' in kinds[0], '"action":"disable"' in kinds[1]] == [True, True]


def test_no_open_redirect_and_pages_carry_strict_headers(app: Any, users: dict[str, str]) -> None:
    client = _client(app)
    got = client.post("/console/login?next=https://evil.example/", data={"user": users["police"],
                                                                          "password": PASSWORD})
    assert got.headers["location"] == "/console/purpose?next=%2Fconsole%2Fsearch"
    page = client.get("/console/login")
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"
    assert "<script" not in page.text and "http://" not in page.text and "https://" not in page.text
    assert client.get("/console/static/console.css").headers["content-type"].startswith("text/css")


def test_collision_and_companions_pages_find_a_group_through_the_gate(app: Any, users: dict[str, str],
                                                                      city: tuple[Settings, Any]) -> None:
    import datetime as dt

    from tests.e2e.test_investigate import _uids

    settings, truth = city
    uids = _uids(settings, truth)
    group = next(g for g in truth.groups if len(g["together"]) >= 3)
    members = {uids[k] for k in group["members"] if k in uids}
    client, csrf = _sign_in(app, users["police"], purpose="多点碰撞测试")
    form = client.get("/console/collide")
    assert form.status_code == 200 and "多点碰撞" in form.text and 'name="value5"' in form.text
    data: dict[str, str] = {"csrf": csrf, "min": str(len(group["together"]) - 1)}
    for i, (_kind, place, at) in enumerate(group["together"][:5], start=1):
        t = dt.datetime.fromisoformat(at)
        data.update({f"kind{i}": "place", f"value{i}": place,
                     f"start{i}": (t - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
                     f"end{i}": (t + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")})
    page = client.post("/console/collide", data=data)
    assert page.status_code == 200, page.text[-2000:]
    shown = set(re.findall(r'href="/console/persons/(MP\d+)"', page.text))
    assert len(shown & members) >= len(members) - 1 and 'id="summary"' in page.text
    bad = client.post("/console/collide", data={**data, "end1": data["start1"]})
    assert bad.status_code == 400 and "P1" in bad.text
    assert client.post("/console/collide", data={**data, "csrf": "forged"}).status_code == 303
    member = sorted(members)[0]
    assert "同行人员" in client.get(f"/console/persons/{member}").text
    mates = client.get(f"/console/persons/{member}/companions", params={"since": "2026-11-01", "until": "2026-12-01"})
    assert mates.status_code == 200 and set(re.findall(r"MP\d{10}", mates.text)) & (members - {member})
    office, _ = _sign_in(app, users["office"], purpose="网格排查")
    none = office.post("/console/collide", data={**data, "csrf": _csrf(office.get("/console/collide").text)})
    assert none.status_code == 200 and not re.findall(r'href="/console/persons/(MP\d+)"', none.text.split(
        'id="summary"')[1])
    log = _rows(settings, "SELECT entity, status, purpose, channel FROM audit.access WHERE entity IN "
                          "('collide', 'companions') ORDER BY id DESC LIMIT 4")[::-1]
    assert [(r[0], r[1]) for r in log] == [("collide", 200), ("collide", 400), ("companions", 200), ("collide", 200)]
    assert all(r[3] == "console" for r in log) and log[0][2] == "多点碰撞测试"


def test_the_series_page_shows_the_planted_series_and_takes_a_decision(app: Any, users: dict[str, str],
                                                                      city: tuple[Settings, Any]) -> None:
    import datetime as dt

    settings, truth = city
    today = dt.date.fromisoformat(truth.today)
    query = {"since": str(today - dt.timedelta(days=740)), "until": str(today + dt.timedelta(days=1))}
    client, _csrf_token = _sign_in(app, users["police"], purpose="串并研判")
    page = client.get("/console/series", params=query)
    assert page.status_code == 200, page.text[-2000:]
    assert "智能串并" in page.text and 'id="summary"' in page.text
    shown = set(re.findall(r"<td>(A\d{15})</td>", page.text))
    planted = {n for s in truth.series for n in s["cases"]}
    assert shown and shown <= planted, shown - planted
    row = re.search(r'<tr data-a="(A\d+)" data-b="(A\d+)">', page.text)
    assert row
    form = re.search(r'<form method="post" action="/console/series/decide" class="inline">(.*?)</form>',
                     page.text[row.start():], re.S)
    assert form
    fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form.group(1)))
    fields["back"] = fields["back"].replace("&amp;", "&")
    done = client.post("/console/series/decide", data=fields)
    assert done.status_code == 303 and done.headers["location"].startswith("/console/series?since=")
    assert client.post("/console/series/decide", data={**fields, "csrf": "forged"}).status_code == 303
    after = client.get(done.headers["location"])
    label = {"confirmed": "已确认", "rejected": "已否定"}[fields["decision"]]
    if fields["decision"] == "confirmed":
        assert label in after.text
    else:
        assert f'data-a="{row.group(1)}" data-b="{row.group(2)}"' not in after.text
    client.post("/console/series/decide", data={**fields, "decision": "confirmed"})  # as the other tests expect
    office, _ = _sign_in(app, users["office"], purpose="网格排查")
    none = office.get("/console/series", params=query)
    assert none.status_code == 200 and not re.findall(r"<td>(A\d{15})</td>", none.text)
    log = _rows(settings, "SELECT entity, status, purpose, channel, user_id FROM audit.access WHERE entity LIKE "
                          "'series%' AND channel = 'console' ORDER BY id DESC LIMIT 5")[::-1]
    assert [(r[0], r[1]) for r in log] == [("series", 200), ("series.decide", 200), ("series", 200),
                                          ("series.decide", 200), ("series", 200)]
    assert log[0][2] == "串并研判" and log[1][4] == users["police"]


def test_the_watch_page_registers_lists_and_revokes_a_watch(app: Any, users: dict[str, str],
                                                            city: tuple[Settings, Any]) -> None:
    settings, _truth = city
    (number,) = _rows(settings, "SELECT id_number FROM core.person WHERE id_number IS NOT NULL LIMIT 1")[0]
    client, csrf = _sign_in(app, users["police"], purpose="布控测试", case="A6109022026110002")
    page = client.get("/console/watch")
    assert page.status_code == 200 and "布控预警" in page.text and "登记布控" in page.text
    assert 'value="A6109022026110002"' in page.text  # the session's case number, ready
    done = client.post("/console/watch", data={"csrf": csrf, "kind": "id", "value": number, "reason": "在逃人员",
                                               "case_number": "A6109022026110002", "days": "15"})
    assert done.status_code == 303 and done.headers["location"] == "/console/watch"
    listed = client.get("/console/watch")
    assert number not in listed.text and number[:6] + "**********" + number[-2:] in listed.text
    watch_id = re.findall(r'name="watch_id" value="(W[0-9A-F]{12})"', listed.text)[0]
    bad = client.post("/console/watch", data={"csrf": csrf, "kind": "id", "value": "12345", "reason": "x",
                                              "case_number": "A1", "days": "15"})
    assert bad.status_code == 400 and "not valid" in bad.text
    assert client.post("/console/watch", data={"csrf": "forged", "kind": "id", "value": number, "reason": "x",
                                               "case_number": "A1"}).status_code == 303
    office, office_csrf = _sign_in(app, users["office"], purpose="网格")
    refused = office.post("/console/watch", data={"csrf": office_csrf, "kind": "id", "value": number,
                                                  "reason": "x", "case_number": "A1", "days": "5"})
    assert refused.status_code == 400 and "does not allow watches" in refused.text
    assert office.post("/console/watch/revoke", data={"csrf": office_csrf, "watch_id": watch_id}).status_code == 400
    gone = client.post("/console/watch/revoke", data={"csrf": csrf, "watch_id": watch_id})
    assert gone.status_code == 303 and "已撤销" in client.get("/console/watch").text
    log = _rows(settings, "SELECT entity, status, what FROM audit.access WHERE channel = 'console' AND entity IN "
                          "('watch.add', 'watch.revoke') ORDER BY id")
    assert [(r[0], r[1]) for r in log] == [("watch.add", 200), ("watch.add", 400), ("watch.add", 400),
                                          ("watch.revoke", 400), ("watch.revoke", 200)]
    assert not [r for r in log if number in r[2]]


def test_the_mediation_page_shows_each_windows_queue(app: Any, users: dict[str, str],
                                                    city: tuple[Settings, Any]) -> None:
    client, _csrf_token = _sign_in(app, users["office"], purpose="矛盾排查")
    page = client.get("/console/mediation")
    assert page.status_code == 200 and "矛盾纠纷调解" in page.text and 'id="summary"' in page.text
    assert "交通事故" in page.text and "超期案件" in page.text
    one = client.get("/console/mediation", params={"window": "labour"})
    assert one.status_code == 200 and one.text.count("<tr>") >= 2
    bad = client.get("/console/mediation", params={"window": "nonsense"})
    assert bad.status_code == 400
