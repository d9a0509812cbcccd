"""The web console in a real browser (Playwright driving Debian's chromium; no browser download) against
``exchange serve`` started as a user starts it, on the demo city on PostgreSQL with the grants applied:
a police investigator signs in, gives a purpose and a case number, finds a resident by the pinyin of
their name, opens the person and sees the relation graph drawn; a street-office user sees masked names
and only its district; an auditor reads the batches, a validation report, the access log (with the
others' searches and purposes) and the ledger check.

Under CI=true a missing chromium fails the test; elsewhere it skips saying how to install it. With
``EXCHANGE_CONSOLE_SHOTS=<dir>`` the pages are saved as PNG there (the README's screenshots)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pypinyin import lazy_pinyin

from tests.airflow_stack import free_port
from tests.conftest import REPO
from tests.pg_city import KEY, City

CHROMIUM = os.environ.get("EXCHANGE_TEST_CHROMIUM", "/usr/bin/chromium")
ADMIN = "console-browser-admin-" + "k" * 24
PASSWORD = "a long console password 9"
SHOTS = os.environ.get("EXCHANGE_CONSOLE_SHOTS")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def server(city: City, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``exchange serve`` on a free port, in its own process, with the city's environment."""
    port = free_port()
    env = {**os.environ, "EXCHANGE_WAREHOUSE_URL": city.url, "EXCHANGE_HOME": str(REPO),
           "EXCHANGE_API_ADMIN_KEY": ADMIN, "EXCHANGE_PSEUDONYM_KEY": KEY,
           "EXCHANGE_GRANT_ROLE_PREFIX": city.prefix}
    log = tmp_path_factory.mktemp("console") / "serve.log"
    exe = str(Path(sys.executable).parent / "exchange")
    with log.open("w") as out:
        proc = subprocess.Popen([exe, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT,
                                cwd=REPO)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(base + "/health", timeout=1)
                break
            except OSError:
                if proc.poll() is not None:
                    pytest.fail(f"exchange serve exited: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        else:
            pytest.fail(f"exchange serve did not answer: {log.read_text()[-2000:]}")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def users(city: City) -> dict[str, str]:
    from exchange.workspace.console import add_console_user

    tag = uuid.uuid4().hex[:6]
    names = {"police": f"li.{tag}", "office": f"grid.{tag}", "auditor": f"audit.{tag}"}
    add_console_user(names["police"], "police", "investigator", password=PASSWORD, display_name="李明",
                     settings=city.settings)
    add_console_user(names["office"], "street_office_hanbin", "investigator", password=PASSWORD,
                     display_name="赵网格", settings=city.settings)
    add_console_user(names["auditor"], "civil_affairs", "auditor", password=PASSWORD, display_name="孙审计",
                     settings=city.settings)
    return names


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium), or set EXCHANGE_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _sign_in(browser: Any, base: str, user: str, purpose: str, case: str = "", *, shots: bool = False) -> Any:
    page = browser.new_page(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page.goto(base + "/console/")
    assert page.url.startswith(base + "/console/login")
    if shots:
        _shot(page, "login")
    page.fill("#user", user)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    assert "/console/purpose" in page.url, page.content()[:500]
    page.fill("#purpose", purpose)
    page.fill("#case_number", case)
    if shots:
        _shot(page, "purpose")
    page.click("button[type=submit]")
    return page


def _household_member(city: City) -> tuple[str, str]:
    """A resident of a household of several (so the graph has edges), with an unambiguous pinyin."""
    rows = city.rows("SELECT p.person_uid, p.name FROM mdm.person p WHERE p.status = 'active' AND p.name IS NOT NULL "
                     "AND length(p.name) = 3 AND (SELECT count(*) FROM mdm.person q WHERE q.household_number = "
                     "p.household_number) >= 3 ORDER BY p.person_uid")
    for uid, name in rows:
        same = [n for (_, n) in city.rows("SELECT person_uid, name FROM mdm.person WHERE status = 'active'")
                if n and lazy_pinyin(n) == lazy_pinyin(name)]
        if len(same) == 1:
            return uid, name
    raise AssertionError("no household member with a unique pinyin in the city")


def test_police_finds_a_resident_by_pinyin_and_sees_the_graph(browser: Any, server: str, users: dict[str, str],
                                                             city: City) -> None:
    uid, name = _household_member(city)
    page = _sign_in(browser, server, users["police"], "刑事案件侦查", "A6109022026110001", shots=True)
    assert page.url.endswith("/console/search")
    page.fill("#q", "".join(lazy_pinyin(name)))
    page.click("button[type=submit]")
    page.wait_for_selector("#summary")
    _shot(page, "search")
    link = page.locator(f'a[href="/console/persons/{uid}"]').first
    assert link.inner_text() == name
    link.click()
    page.wait_for_selector("svg.graph")
    assert page.locator("svg.graph a.node").count() >= 3  # the person and at least two household members
    assert page.locator("svg.graph g.edge[data-kind=household]").count() >= 2
    assert page.locator("svg.graph a.node.root").get_attribute("data-uid") == uid
    assert name in page.locator("#identity").inner_text()  # police sees the name in full
    _shot(page, "person")
    page.goto(f"{server}/console/persons/{uid}?depth=2")
    page.wait_for_selector("svg.graph")
    rows = city.rows("SELECT user_id, purpose, case_number, channel, entity, status FROM audit.access "
                     "WHERE user_id = :u ORDER BY id", u=users["police"])
    assert [r[4] for r in rows] == ["console_session", "search", "person_profile", "timeline", "graph",
                                    "person_profile", "timeline", "graph"]
    assert all(r[3] == "console" and r[5] == 200 for r in rows)
    assert all((r[1], r[2]) == ("刑事案件侦查", "A6109022026110001") for r in rows[1:])


def test_the_street_office_sees_masked_values_and_only_its_district(browser: Any, server: str,
                                                                    users: dict[str, str], city: City) -> None:
    inside = city.rows("SELECT p.person_uid, p.name, c.address FROM mdm.person p JOIN core.person c ON "
                       "c.id_number = p.id_number WHERE c.division_code LIKE '610902%' AND c.address IS NOT NULL "
                       "AND c.household_number IS NOT NULL AND p.status = 'active' ORDER BY p.person_uid LIMIT 1")[0]
    outside = city.rows("SELECT p.person_uid, p.name FROM mdm.person p WHERE p.status = 'active' AND NOT EXISTS "
                        "(SELECT 1 FROM core.person c WHERE c.id_number = p.id_number AND c.division_code LIKE "
                        "'610902%') AND p.division_code NOT LIKE '610902%' ORDER BY p.person_uid LIMIT 1")[0]
    page = _sign_in(browser, server, users["office"], "矛盾纠纷排查")
    page.fill("#q", inside[2][-10:])
    page.select_option("select[name=kind]", "address")
    page.click("button[type=submit]")
    page.wait_for_selector("#summary")
    text = page.locator("main").inner_text()
    assert inside[1] not in text and inside[1][0] + "*" in text, text[:800]
    _shot(page, "search-street-office")
    page.goto(f"{server}/console/persons/{inside[0]}")
    page.wait_for_selector("svg.graph")
    body = page.locator("main").inner_text()
    assert "no grant allows the person profile" in body  # the grant has no profile_api: no profile section
    assert inside[1] not in body and inside[1] not in page.content()
    root = page.locator("svg.graph a.node.root text").text_content()
    assert root == inside[1][0] + "*" * (len(inside[1]) - 1), root
    _shot(page, "person-street-office")
    page.goto(f"{server}/console/persons/{outside[0]}")
    body = page.locator("main").inner_text()
    assert outside[1] not in body and page.locator("svg.graph a.node").count() == 0
    assert "within your grant" in body
    # the element search finds nothing outside the district (an address only found outside it), and a name
    # the grant masks cannot be searched at all
    district = [a for (a,) in city.rows("SELECT address FROM core.person WHERE division_code LIKE '610902%' "
                                        "AND address IS NOT NULL")]
    far = next(a[-9:] for (a,) in city.rows("SELECT address FROM core.person WHERE division_code NOT LIKE "
                                            "'610902%' AND address IS NOT NULL ORDER BY source_record_id")
               if not any(a[-9:] in d for d in district))
    for query in (far, outside[1]):
        page.goto(f"{server}/console/search")
        page.fill("#q", query)
        page.click("button[type=submit]")
        page.wait_for_selector("#summary")
        assert page.locator("section.group").count() == 0, query


def test_the_auditor_reads_batches_reports_the_access_log_and_the_ledger(browser: Any, server: str,
                                                                         users: dict[str, str]) -> None:
    page = _sign_in(browser, server, users["auditor"], "季度审计")
    assert page.url.endswith("/console/audit/batches")
    _shot(page, "audit-batches")
    page.locator('a[href^="/console/audit/batches/"]').first.click()
    assert "校验报告" in page.locator("h1").inner_text()
    _shot(page, "audit-report")
    page.goto(server + "/console/audit/access")
    text = page.locator("main").inner_text()
    assert users["police"] in text and "刑事案件侦查" in text
    _shot(page, "audit-access")
    page.goto(server + "/console/audit/ledger")
    assert "账本完整" in page.locator("#ledger-state").inner_text()
    _shot(page, "audit-ledger")


def test_police_collides_points_and_opens_a_persons_companions(browser: Any, server: str, users: dict[str, str],
                                                                city: City) -> None:
    import datetime as dt

    # the sessions of one user at three different internet cafés: each a point, two hours either side
    rows = city.rows("SELECT user_id_number, venue_code, start_time FROM core.internet_session WHERE user_id_number "
                     "IN (SELECT user_id_number FROM core.internet_session GROUP BY 1 HAVING count(DISTINCT "
                     "venue_code) >= 3 ORDER BY 1 LIMIT 1) ORDER BY start_time")
    points, seen = [], set()
    for _, venue, at in rows:
        if venue not in seen:
            seen.add(venue)
            points.append((venue, at))
    points = points[:3]
    assert len(points) == 3, rows
    page = _sign_in(browser, server, users["police"], "多点碰撞研判", "A6109022026110002")
    page.goto(f"{server}/console/collide")
    for i, (venue, at) in enumerate(points, start=1):
        page.select_option(f"select[name=kind{i}]", "place")
        page.fill(f"input[name=value{i}]", venue)
        page.fill(f"input[name=start{i}]", (at - dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
        page.fill(f"input[name=end{i}]", (at + dt.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.fill("#min", "3")
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#summary")
    found = page.locator('section.group[data-kind=person] h3 a[href^="/console/persons/"]')
    assert found.count() >= 1, page.locator("main").inner_text()[:1000]
    _shot(page, "collide")
    found.first.click()
    page.wait_for_selector("svg.graph")
    page.locator('a[href$="/companions"]').first.click()
    page.fill("input[name=since]", (points[0][1] - dt.timedelta(days=15)).strftime("%Y-%m-%d"))
    page.fill("input[name=until]", (points[0][1] + dt.timedelta(days=15)).strftime("%Y-%m-%d"))
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#summary")
    _shot(page, "companions")
    rows = city.rows("SELECT entity, status, purpose, case_number, channel FROM audit.access WHERE user_id = :u "
                     "AND purpose = '多点碰撞研判' ORDER BY id", u=users["police"])
    assert [r[0] for r in rows if r[0] in ("collide", "companions")] == ["collide", "companions"]
    assert all(r[1] == 200 and r[3] == "A6109022026110002" and r[4] == "console" for r in rows)


def test_police_reviews_candidate_series_and_confirms_a_link(browser: Any, server: str, users: dict[str, str],
                                                             city: City) -> None:
    import datetime as dt

    since = (dt.date.today() - dt.timedelta(days=740)).isoformat()
    page = _sign_in(browser, server, users["police"], "串并案研判", "A6109022026110002")
    page.goto(f"{server}/console/series")
    page.fill("input[name=since]", since)
    page.click("form.card button[type=submit]")
    page.wait_for_selector("#summary")
    series = page.locator("section.group[data-series]")
    assert series.count() >= 1, page.locator("main").inner_text()[:1000]
    first = page.locator("table.links tbody tr").first
    pair = (first.get_attribute("data-a"), first.get_attribute("data-b"))
    first.locator("button", has_text="确认").click()
    page.wait_for_selector("#summary")
    row = page.locator(f'table.links tr[data-a="{pair[0]}"][data-b="{pair[1]}"]')
    assert "已确认" in row.inner_text()
    _shot(page, "series")
    rows = city.rows("SELECT entity, status, case_number FROM audit.access WHERE user_id = :u AND purpose = "
                     "'串并案研判' ORDER BY id", u=users["police"])
    assert [r[0] for r in rows] == ["series", "series", "series.decide", "series"]
    assert all(r[1] == 200 and r[2] == "A6109022026110002" for r in rows)
    ledger = city.rows("SELECT payload FROM audit.ledger WHERE kind = 'series_decision' ORDER BY seq DESC LIMIT 1")
    assert f"police/{users['police']}" in ledger[0][0]


def test_police_watches_an_id_number_and_acknowledges_the_alert(browser: Any, server: str, users: dict[str, str],
                                                                 city: City) -> None:
    from exchange.runner import run_feed

    (number, name), = city.rows("SELECT id_number, name FROM core.person WHERE id_number IS NOT NULL AND "
                                "division_code LIKE '610902%' ORDER BY source_record_id LIMIT 1")
    page = _sign_in(browser, server, users["police"], "布控研判", "A6109022026110002")
    page.goto(f"{server}/console/watch")
    page.select_option("#kind", "id")
    page.fill("#value", number)
    page.fill("#reason", "涉嫌盗窃在逃")
    page.fill("#days", "30")
    page.click("form.card button.primary")
    page.wait_for_selector("#summary")
    assert number not in page.content()
    # the agency's next export: a hotel stay under that number, published while the console is open
    folder = city.settings.landing_dir / "police" / "hotel_stays"
    (folder / "watched.csv").write_text(
        "lsh,zjhm,xm,lgbm,lgmc,fh,rzsj,tfsj,qhdm,jd,wd\n"
        f"LYWATCH1,{number},{name},LG610902001,汉滨区测试宾馆,808,2026-12-01 21:05:00,2026-12-02 07:40:00,"
        "610902001001,109.030000,32.680000\n", encoding="utf-8")
    assert run_feed("police.hotel_stays", settings=city.settings).state == "published"
    page.goto(f"{server}/console/watch")
    alert = page.locator("section.group[data-match]").first
    assert "身份证号命中" in alert.inner_text() and "LYWATCH1" in alert.inner_text()
    _shot(page, "watch")
    alert.locator("button", has_text="签收").click()
    page.wait_for_selector("#summary")
    assert "已签收" in page.locator("section.group[data-match]").first.inner_text()
    rows = city.rows("SELECT kind FROM audit.ledger WHERE kind IN ('watch', 'watch_match', 'watch_ack') ORDER BY seq")
    assert [r[0] for r in rows][-3:] == ["watch", "watch_match", "watch_ack"]
    payloads = " ".join(r[0] for r in city.rows("SELECT payload FROM audit.ledger WHERE kind LIKE 'watch%'"))
    assert number not in payloads


def test_the_mediation_queues_of_the_city_and_of_a_district(browser: Any, server: str, users: dict[str, str],
                                                            city: City) -> None:
    import re

    page = _sign_in(browser, server, users["police"], "矛盾纠纷研判")
    page.goto(f"{server}/console/mediation")
    page.wait_for_selector("#summary")
    city_count = int(re.search(r"(\d+) 件纠纷", page.locator("#summary").inner_text()).group(1))
    _shot(page, "mediation")
    office = _sign_in(browser, server, users["office"], "矛盾纠纷排查")
    office.goto(f"{server}/console/mediation")
    office.wait_for_selector("#summary")
    district = int(re.search(r"(\d+) 件纠纷", office.locator("#summary").inner_text()).group(1))
    inside = city.rows("SELECT count(DISTINCT dispute_number) FROM core.dispute_step WHERE division_code LIKE "
                       "'610902%'")[0][0]
    assert district == inside < city_count
    rows = city.rows("SELECT status FROM audit.access WHERE user_id IN (:a, :b) AND entity = 'mediation'",
                     a=users["police"], b=users["office"])
    assert len(rows) == 2 and all(r[0] == 200 for r in rows)


def test_the_map_of_the_city_and_of_a_district_through_each_grant(browser: Any, server: str, users: dict[str, str],
                                                                  city: City) -> None:
    year = str(city.rows("SELECT extract(year FROM coalesce(occurred_at::date, reported_date))::int AS y FROM "
                         "core.\"case\" GROUP BY y ORDER BY count(*) DESC LIMIT 1")[0][0])
    page = _sign_in(browser, server, users["police"], "治安形势分析")
    page.goto(f"{server}/console/map?kind=case&period={year}&level=district")
    page.wait_for_selector("svg.map")
    assert page.locator("svg.map a.county").count() == 10  # every county's real outline
    assert page.locator("#map-table tbody tr").count() == 10
    _shot(page, "map")
    page.locator('svg.map a.county[data-code="610902"]').click()
    page.wait_for_selector("#summary")
    assert "inside=610902" in page.url and "level=town" in page.url
    assert page.locator("svg.map circle.pt").count() > 0  # the police see the cases as points
    _shot(page, "map_district")
    with page.expect_download() as download:
        page.locator("a.export", has_text="CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("区划代码,名称,层级") and len(lines) == page.locator("#map-table tbody tr").count() + 1
    office = _sign_in(browser, server, users["office"], "网格治安形势研判")
    office.goto(f"{server}/console/map?kind=case&period={year}&level=community&inside=610902")
    office.wait_for_selector("#summary")
    assert office.locator("svg.map circle.pt").count() == 0 and "不含案件坐标" in office.content()
    codes = office.locator("#map-table tbody tr td:first-child").all_inner_texts()
    assert codes and all(c.startswith("610902") for c in codes)
    shown = office.locator("#map-table tbody tr td:nth-child(5)").all_inner_texts()
    assert all(v == "<5" or not 0 < int(v) < 5 for v in shown)
    office.goto(f"{server}/console/map?kind=case&period={year}&level=town&inside=610921")
    assert "outside the jurisdiction" in office.content()
    rows = city.rows("SELECT status FROM audit.access WHERE user_id IN (:a, :b) AND entity = 'map' ORDER BY id",
                     a=users["police"], b=users["office"])
    assert [r[0] for r in rows] == [200, 200, 200, 200, 400]
