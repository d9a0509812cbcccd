"""The crime and dispute map end to end on the embedded warehouse (the investigation city of
tests/e2e/conftest.py): the operator's numbers against counts taken straight from the tables by SQL
(another way of counting), every level adding up to the one above, compounds found by their names in the
addresses, residents from the person index, rates and changes; each grant's view (its district, counts
only, refused); the CSV/XLSX export; the command, the HTTP routes and the console page, on record."""

from __future__ import annotations

import csv
import io
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.area_map import area_map
from tests.e2e.test_investigate import ADMIN_KEY

LEVELS = ("city", "district", "town", "community", "compound")


def _rows(settings: Settings, sql: str, **params: Any) -> list[Any]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql), params))
    engine.dispose()
    return rows


def _busiest_year(settings: Settings) -> str:
    rows = _rows(settings, "SELECT substr(coalesce(occurred_at, reported_date), 1, 4) AS y, count(*) "
                           "FROM core.\"case\" GROUP BY y ORDER BY count(*) DESC LIMIT 1")
    return str(rows[0][0])


def _sql_cases(settings: Settings, year: str, digits: int) -> Counter[str]:
    """Cases of the year per division prefix, counted by SQL (the city's only)."""
    rows = _rows(settings, "SELECT division_code FROM core.\"case\" WHERE substr(coalesce(occurred_at, reported_date), "
                           "1, 4) = :y AND division_code LIKE '6109%'", y=year)
    return Counter(str(d)[:digits] for (d,) in rows if len(str(d)) >= digits)


def test_the_operators_counts_are_the_tables_counts_and_every_level_adds_up(city: tuple[Settings, Any]) -> None:
    settings, _ = city
    year = _busiest_year(settings)
    by_level = {lv: area_map("case", period=year, level=lv, settings=settings, purpose="map test") for lv in LEVELS}
    top = by_level["city"]["areas"]
    assert len(top) == 1 and top[0]["code"] == "610900"
    total = top[0]["count"]
    expected = _sql_cases(settings, year, 6)
    districts = {r["code"]: r for r in by_level["district"]["areas"]}
    assert len([c for c in districts if not c.endswith("/-")]) == 10  # every county on the map, empty ones too
    assert {c: r["count"] for c, r in districts.items() if r["count"] and not c.endswith("/-")} == \
        {c: n for c, n in expected.items() if c != "610900"}
    towns = _sql_cases(settings, year, 9)
    got_towns = {r["code"]: r["count"] for r in by_level["town"]["areas"]
                 if r["count"] and not r["code"].endswith("/-")}
    assert got_towns == {c: n for c, n in towns.items() if int(c[6:]) != 0}
    for lv in LEVELS:
        rows = by_level[lv]["areas"]
        assert sum(r["count"] for r in rows) == total, lv  # every record once at every level
        assert sum(r["residents"] for r in rows) == top[0]["residents"], lv
        for r in rows:
            assert r["count"] == sum(r["by_type"].values())
            assert r["change"] == (r["count"] - r["previous"])
            if r["residents"]:
                assert r["rate"] == round(r["count"] * 10000 / r["residents"], 1)
    persons = _rows(settings, "SELECT count(*) FROM mdm.person WHERE status = 'active' AND division_code LIKE '6109%'")
    assert top[0]["residents"] == persons[0][0]
    town = max(by_level["town"]["areas"], key=lambda r: r["count"])
    inside = area_map("case", period=year, level="community", inside=town["code"], settings=settings, purpose="x")
    assert {r["parent"] for r in inside["areas"]} == {town["code"]}
    assert sum(r["count"] for r in inside["areas"]) == town["count"] == inside["total"]["count"]
    print(f"\nmap on the e2e city, {year}: {total} cases; areas with cases: "
          + ", ".join(f"{lv} {sum(1 for r in by_level[lv]['areas'] if r['count'])}" for lv in LEVELS))


def test_compounds_are_found_by_their_names_in_the_addresses(city: tuple[Settings, Any]) -> None:
    settings, _ = city
    at = _rows(settings, "SELECT substr(coalesce(k.occurred_at, k.reported_date), 1, 4), c.source_record_id FROM "
                         "core.\"case\" k JOIN core.compound c ON k.division_code = c.division_code AND "
                         "instr(k.address, c.name) > 0")
    year = Counter(str(y) for y, _ in at).most_common(1)[0][0]
    expected = Counter(str(code) for y, code in at if str(y) == year)
    got = area_map("case", period=year, level="compound", settings=settings, purpose="x")
    placed = {r["code"]: r["count"] for r in got["areas"] if r["code"].startswith("XQ") and r["count"]}
    assert placed and placed == dict(expected)
    named = {r["code"]: r["name"] for r in got["areas"] if r["code"].startswith("XQ")}
    assert all(not n.startswith("XQ") for n in named.values())


def test_disputes_by_window_and_the_previous_period(city: tuple[Settings, Any]) -> None:
    settings, _ = city
    rows = _rows(settings, "SELECT substr(accepted_date, 1, 7) AS m, count(*) FROM core.dispute GROUP BY m "
                           "ORDER BY count(*) DESC LIMIT 1")
    month = str(rows[0][0])
    got = area_map("dispute", period=month, level="district", settings=settings, purpose="x")
    assert set(got["types"]) >= {"labour", "neighbourhood", "unknown"} and got["by"] == "category"
    by_window = Counter(str(c) for (c,) in _rows(settings, "SELECT category FROM core.dispute WHERE substr("
                                                           "accepted_date, 1, 7) = :m AND division_code LIKE '6109%'",
                                                 m=month))
    summed = Counter()
    for r in got["areas"]:
        summed.update({k: v for k, v in r["by_type"].items() if v})
    assert summed == by_window
    assert got["previous"]["label"] < got["period"]["label"]


def test_each_grant_counts_what_it_may_and_no_more(city: tuple[Settings, Any]) -> None:
    settings, _ = city
    year = _busiest_year(settings)
    everything = {r["code"]: r for r in area_map("case", period=year, level="town", settings=settings,
                                                 purpose="x")["areas"]}
    for agency in ("police_hanbin", "street_office_hanbin"):  # the district's rows; counts only for the office
        got = area_map("case", period=year, level="town", agency=agency, settings=settings, purpose="x")
        assert got["min_count"] == 5 and got["rows_only"] is (agency == "street_office_hanbin")
        assert got["areas"] and all(r["code"].startswith("610902") for r in got["areas"])
        for r in got["areas"]:
            truth = everything[r["code"]]["count"]
            assert (r["count"] == truth) if r["count"] is not None else truth > 0, r  # hidden: never a zero
            assert r["count"] is None or not 0 < r["count"] < 5
        city_row = area_map("case", period=year, level="city", agency=agency, settings=settings, purpose="x")
        assert city_row["areas"][0]["partial"] and city_row["total"]["partial"]
        district = area_map("case", period=year, level="district", agency=agency, settings=settings, purpose="x")
        assert [r["code"] for r in district["areas"]] == ["610902"]
    counted = area_map("dispute", period=year, level="district", agency="civil_affairs", settings=settings,
                       purpose="x")
    assert counted["min_count"] == 10 and len(counted["areas"]) == 10 and counted["rows_only"]
    with pytest.raises(ConfigError, match="health neither shares nor counts case"):
        area_map("case", period=year, agency="health", settings=settings, purpose="x")
    with pytest.raises(ConfigError, match="neither shares nor counts dispute"):
        area_map("dispute", period=year, agency="police_hanbin", settings=settings, purpose="x")


def test_the_table_exports_as_csv_and_xlsx(city: tuple[Settings, Any], tmp_path: Path) -> None:
    from openpyxl import load_workbook

    settings, _ = city
    year = _busiest_year(settings)
    got = area_map("case", period=year, level="town", agency="street_office_hanbin", out=tmp_path / "m.csv",
                   settings=settings, purpose="x")
    with (tmp_path / "m.csv").open(encoding="utf-8-sig", newline="") as f:
        table = list(csv.reader(f))
    assert table[0][:5] == ["区划代码", "名称", "层级", "常住人口", f"{year} 数量"]
    assert len(table) == len(got["areas"]) + 1
    for line, r in zip(table[1:], got["areas"], strict=True):
        assert line[0] == r["code"] and line[4] == ("<5" if r["count"] is None else str(r["count"]))
    area_map("case", period=year, level="town", agency="street_office_hanbin", out=tmp_path / "m.xlsx",
             settings=settings, purpose="x")
    sheet = load_workbook(tmp_path / "m.xlsx").active
    cells = [[c.value for c in row] for row in sheet.iter_rows()]
    assert [str(c[0]) for c in cells[1:]] == [line[0] for line in table[1:]]
    assert [c[4] for c in cells[1:]] == [int(v) if v.isdigit() else v for v in (line[4] for line in table[1:])]


def test_the_command_routes_and_page_answer_through_the_gate(city: tuple[Settings, Any]) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from exchange.api.serve import api_app
    from exchange.cli import app
    from exchange.workspace.sharing import create_api_key

    settings, _ = city
    year = _busiest_year(settings)
    printed = CliRunner().invoke(app, ["map", "--period", year, "--level", "district", "--purpose", "cli"])
    assert printed.exit_code == 0 and "汉滨区" in printed.output, printed.output
    bad = CliRunner().invoke(app, ["map", "--period", "2026-11-01..2026-11-30"])
    assert bad.exit_code != 0 and "arbitrary date ranges" in bad.output.replace("\n", "")
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    ok = client.get("/map", params={"purpose": "网格", "period": year, "level": "town"}, headers={"X-API-Key": office})
    assert ok.status_code == 200 and ok.json()["areas"], ok.text
    assert all(r["code"].startswith("610902") for r in ok.json()["areas"]) and ok.json()["min_count"] == 5
    none = client.get("/map", params={"purpose": "网格", "period": year, "level": "compound", "points": True},
                      headers={"X-API-Key": office})
    assert none.status_code == 200 and none.json().get("points") is None  # counts only: no case placed
    down = client.get("/map/export", params={"purpose": "网格", "period": year, "level": "town", "format": "csv"},
                      headers={"X-API-Key": office})
    assert down.status_code == 200 and down.headers["content-type"].startswith("text/csv")
    assert "attachment" in down.headers["content-disposition"]
    lines = list(csv.reader(io.StringIO(down.content.decode("utf-8-sig"))))
    assert [line[0] for line in lines[1:]] == [r["code"] for r in ok.json()["areas"]]
    refused = client.get("/map", params={"purpose": "x", "kind": "case"},
                         headers={"X-API-Key": create_api_key("health", settings=settings)[1]})
    assert refused.status_code == 400 and "neither shares nor counts" in refused.json()["error"]
    log = _rows(settings, "SELECT agency, status, what, purpose FROM audit.access WHERE entity = 'map' ORDER BY id "
                          "DESC LIMIT 4")
    assert [r[0] for r in log] == ["health", "street_office_hanbin", "street_office_hanbin", "street_office_hanbin"]
    assert log[1][1] == 200 and "export csv" in log[1][2] and log[1][3] == "网格"
