"""Watchlists attacked as each agency that may watch, on PostgreSQL with the grants applied: a watch never
tells its agency of a row its own views do not hold, and what an alert shows of the record is exactly
what the agency's view shows. The district bureau (police_hanbin) watches ID numbers that then turn up in
a table it is not granted (hotel stays) and in a case party outside 汉滨区: no alert; the same numbers in
a case party inside its district: an alert whose values are its view's values, ID number masked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from exchange.runner import run_feed
from exchange.workspace.watch import ADD, ALERTS, use
from tests.pg_city import City
from tests.security.test_investigate_grants import Views
from tests.security.test_series_grants import _same


@pytest.fixture(autouse=True)
def _workspace(city: City) -> Iterator[None]:
    from exchange.workspace.space import Workspace

    with Workspace(city.settings):
        yield


def _write(city: City, feed: str, name: str, text: str, encoding: str = "utf-8") -> None:
    (city.settings.landing_dir / feed.replace(".", "/") / name).write_text(text, encoding=encoding)
    assert run_feed(feed, settings=city.settings).state == "published"


def test_a_watch_tells_only_of_rows_the_agencys_views_hold(city: City) -> None:
    people = city.rows("SELECT id_number, name, gender FROM core.person WHERE id_number IS NOT NULL "
                       "ORDER BY source_record_id DESC LIMIT 2")
    (a_id, a_name, a_gender), (b_id, b_name, b_gender) = people
    watches = {}
    for agency in ("police", "police_hanbin"):
        for number in (a_id, b_id):
            w = use(ADD, {"kind": "id", "value": number, "reason": "attacker test", "case_number": "A-SEC-1"},
                    agency=agency, settings=city.settings, purpose="attacker test")
            watches[(agency, number)] = w["watch_id"]
    (outside,), = city.rows("SELECT case_number FROM core.\"case\" WHERE division_code NOT LIKE '610902%' LIMIT 1")
    (inside,), = city.rows("SELECT case_number FROM core.\"case\" WHERE division_code LIKE '610902%' LIMIT 1")
    cn = {"M": "男", "F": "女"}
    _write(city, "police.hotel_stays", "sec_watch.csv", "lsh,zjhm,xm,lgbm,lgmc,fh,rzsj,tfsj,qhdm,jd,wd\n"
           f"LYSEC1,{a_id},{a_name},LG610902001,汉滨区宾馆,101,2026-12-01 20:00:00,2026-12-02 08:00:00,"
           "610902001001,109.03,32.68\n")
    _write(city, "police.case_parties", "sec_watch.csv", "记录编号,案件编号,涉案角色,身份证号,姓名,性别,联系电话\n"
           f"SEC-1,{outside},证人,{a_id},{a_name},{cn.get(a_gender, '男')},\n"
           f"SEC-2,{inside},证人,{b_id},{b_name},{cn.get(b_gender, '男')},\n", encoding="gb18030")
    police = use(ALERTS, {}, agency="police", settings=city.settings, purpose="attacker test")["alerts"]
    district = use(ALERTS, {}, agency="police_hanbin", settings=city.settings, purpose="attacker test")["alerts"]
    assert {("LYSEC1", watches[("police", a_id)]), ("SEC-1", watches[("police", a_id)]),
            ("SEC-2", watches[("police", b_id)])} <= {(a["record"], a["watch_id"]) for a in police}
    assert [(a["record"], a["watch_id"]) for a in district] == [("SEC-2", watches[("police_hanbin", b_id)])]
    for agency, alerts in (("police", police), ("police_hanbin", district)):
        views = Views(city, agency)
        try:
            for alert in alerts:
                row = views.row(alert["entity"], alert["agency"], alert["record"])
                assert row is not None, f"{agency} was told of {alert['entity']} {alert['record']}, not in its view"
                for column, value in (alert["values"] or {}).items():
                    assert _same(row.get(column), value), (agency, column)
        finally:
            views.close()
    assert "*" in district[0]["values"]["id_number"] and b_id not in str(district[0])
