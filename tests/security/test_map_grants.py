"""The crime and dispute map attacked as each consumer, on PostgreSQL with the grants applied.

For every grant that may count cases or disputes, every answer it can ask for in one year — the five levels,
the year, its quarters and its months, both breakdowns of a case — is collected, and then:

- no count from 1 to ``min_count - 1`` is shown anywhere (an area's count, the period before, a type);
- no shown total has exactly one hidden part, along any of the three ways the numbers add up: an area and
  the areas inside it (across answers at two levels), a count and its types (both breakdowns), a year and
  its quarters and months — so no subtraction recovers a hidden count;
- a count hidden in one answer is hidden in every answer that shows the same cell;
- no area outside the jurisdiction appears (an area holding part of it is marked ``partial``), and asking
  for the inside of another district is refused;
- what it counts is what its own views hold (read with its own database login), or for an entity it only
  counts, the rows of its jurisdiction;
- only a grant that shows the coordinates gets points; the export file hides what the answer hides;
- every request is an ``audit.access`` row with its purpose.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from exchange.errors import ConfigError
from exchange.workspace.area_map import area_map
from tests.pg_city import City

LEVELS = ("city", "district", "town", "community", "compound")
MONTHS = [f"-{m:02d}" for m in range(1, 13)]
QUARTERS = [f"-Q{q}" for q in range(1, 5)]
COUNTERS = [("police", "case"), ("police_hanbin", "case"), ("street_office_hanbin", "case"),
            ("street_office_hanbin", "dispute"), ("civil_affairs", "case"), ("civil_affairs", "dispute")]
BY = {"case": ("case_type", "offence"), "dispute": ("category",)}
WHEN = {"case": "coalesce(occurred_at::date, reported_date)", "dispute": "accepted_date"}


@pytest.fixture(autouse=True)
def _workspace(city: City) -> Iterator[None]:
    from exchange.workspace.space import Workspace

    with Workspace(city.settings):
        yield


def _year(city: City) -> str:
    return str(city.rows("SELECT extract(year FROM coalesce(occurred_at::date, reported_date))::int AS y FROM "
                         "core.\"case\" GROUP BY y ORDER BY count(*) DESC LIMIT 1")[0][0])


def _ask(city: City, agency: str, kind: str, **terms: Any) -> dict[str, Any]:
    return area_map(kind, agency=agency, settings=city.settings, purpose="地图攻击测试", **terms)


def _answers(city: City, agency: str, kind: str, year: str) -> list[dict[str, Any]]:
    out = []
    for by in BY[kind]:
        out += [_ask(city, agency, kind, period=year, level=lv, by=by) for lv in LEVELS]
        out += [_ask(city, agency, kind, period=year + p, level="district", by=by) for p in QUARTERS + MONTHS]
    return out


def _cells(answers: list[dict[str, Any]]) -> dict[tuple[str, ...], int | None]:
    """Every value shown, by what it counts: (period, level, area, breakdown, type) → count or None."""
    cells: dict[tuple[str, ...], int | None] = {}
    for a in answers:
        for r in a["areas"]:
            for key, value in [((a["period"]["label"], r["level"], r["code"], "", "total"), r["count"]),
                               ((a["previous"]["label"], r["level"], r["code"], "", "total"), r["previous"]),
                               *(((a["period"]["label"], r["level"], r["code"], a["by"], t), v)
                                 for t, v in r["by_type"].items())]:
                if key in cells:
                    assert cells[key] == value, f"{key}: {cells[key]} in one answer, {value} in another"
                cells[key] = value
    return cells


@pytest.mark.parametrize(("agency", "kind"), COUNTERS)
def test_no_small_count_can_be_read_or_subtracted(city: City, agency: str, kind: str) -> None:
    year = _year(city)
    answers = _answers(city, agency, kind, year)
    k = answers[0]["min_count"]
    assert k == city.grants.get(agency).aggregates.min_count > 1
    cells = _cells(answers)
    assert not [key for key, v in cells.items() if v is not None and 0 < v < k]
    hidden = sum(v is None for v in cells.values())
    # areas: a shown area never has exactly one hidden area inside it (answers of two levels)
    parent_of = {(a["level"], r["code"]): r["parent"] for a in answers for r in a["areas"]}
    children: dict[tuple[str, str], list[str]] = defaultdict(list)
    for (level, code), parent in parent_of.items():
        if parent is not None:
            children[(level, parent)].append(code)
    checked = 0
    for (level, parent), codes in children.items():
        above = LEVELS[LEVELS.index(level) - 1]
        for key_total in [k_ for k_ in cells if k_[1] == above and k_[2] == parent and k_[0] == year]:
            if cells[key_total] is None:
                continue
            parts = [cells.get((year, level, c, key_total[3], key_total[4]), 0) for c in codes]
            assert sum(p is None for p in parts) != 1, (key_total, codes, parts)
            checked += 1
    # types: a shown count never has exactly one hidden type, in either breakdown
    for key, value in cells.items():
        if value is None or key[3] or key[0] != year:
            continue
        for by in BY[kind]:
            parts = [v for k_, v in cells.items() if k_[:3] == key[:3] and k_[3] == by]
            if parts:
                assert sum(p is None for p in parts) != 1, (key, by)
                checked += 1
    # periods: a shown year (quarter) never has exactly one hidden quarter (month)
    for (period, level, code, by, t), value in cells.items():
        if value is None or level != "district" or period != year:
            continue
        quarters = [cells.get((year + q, level, code, by, t)) for q in QUARTERS]
        months = [cells.get((year + m, level, code, by, t)) for m in MONTHS]
        shown_quarters = [months[3 * i: 3 * i + 3] for i in range(4) if quarters[i] is not None]
        for parts in (quarters, months, *shown_quarters):
            assert sum(p is None for p in parts) != 1, (code, by, t, parts)
        checked += 1
    print(f"\n{agency} {kind} {year}: {len(cells)} cells, {hidden} hidden (min_count {k}), {checked} totals checked")
    assert checked


def _regions(city: City, agency: str, kind: str) -> tuple[str, ...] | None:
    grant = city.grants.get(agency)
    share = grant.share(kind)
    rows = share.rows if share is not None else dict(grant.aggregates.counted)[kind]
    return None if rows.regions is None else tuple(r.code for r in rows.regions)


@pytest.mark.parametrize(("agency", "kind"), COUNTERS)
def test_the_jurisdiction_holds_in_every_answer(city: City, agency: str, kind: str) -> None:
    year = _year(city)
    regions = _regions(city, agency, kind)
    for level in LEVELS:
        got = _ask(city, agency, kind, period=year, level=level)
        for r in got["areas"]:
            code = r["code"].removesuffix("/-")
            if r["code"].startswith("XQ"):
                code = r["parent"]
            inside = regions is None or any(code.startswith(g) for g in regions)
            assert inside or (r["partial"] and any(g.startswith(code[:4] if code.endswith("00") else code)
                                                   for g in regions)), (level, r["code"])
    if regions is not None and not any("610921".startswith(g) for g in regions):
        with pytest.raises(ConfigError, match="outside the jurisdiction"):
            _ask(city, agency, kind, period=year, level="town", inside="610921")


def _view_total(city: City, agency: str, kind: str, year: str) -> int | None:
    conn = city.consumer(agency)
    try:
        return conn.execute(f'SELECT count(*) FROM share_{agency}."{kind}" WHERE extract(year FROM {WHEN[kind]}) = %s '
                            f"AND division_code LIKE '6109%%'", (int(year),)).fetchone()[0]
    except Exception:  # noqa: BLE001 - no view: the entity is counted only
        return None
    finally:
        conn.close()


@pytest.mark.parametrize(("agency", "kind"), COUNTERS)
def test_it_counts_what_its_views_hold_or_its_jurisdiction(city: City, agency: str, kind: str) -> None:
    year = _year(city)
    got = _ask(city, agency, kind, period=year, level="district")
    operator = {r["code"]: r["count"] for r in area_map(kind, period=year, level="district", settings=city.settings,
                                                        purpose="x")["areas"]}
    truth = sum(operator[r["code"]] for r in got["areas"] if not r["partial"])
    view = _view_total(city, agency, kind, year)
    assert (view is None) == got["rows_only"]
    if view is not None:
        assert truth == view
    regions = _regions(city, agency, kind)
    inside = city.rows(f'SELECT count(*) FROM core."{kind}" WHERE extract(year FROM {WHEN[kind]}) = :y AND '
                       f"division_code LIKE '6109%%' AND (:all OR division_code LIKE ANY(:r))",
                       y=int(year), all=regions is None, r=[f"{g}%" for g in regions or ()])[0][0]
    assert truth == inside
    shown = sum(r["count"] for r in got["areas"] if r["count"] is not None and not r["partial"])
    assert shown <= truth


def test_points_only_for_a_grant_that_shows_the_coordinates(city: City, tmp_path: Path) -> None:
    from exchange.warehouse.engine import make_engine
    from exchange.workspace.area_map import run_map
    from exchange.workspace.investigate import _lens
    from exchange.workspace.space import workspace

    year = _year(city)
    engine = make_engine(city.settings.warehouse_url, root=city.settings.root)
    try:
        with workspace(city.settings) as ws:
            seen = {}
            for agency in ("police", "police_hanbin", "street_office_hanbin", "civil_affairs"):
                got, _, _ = run_map(engine, ws, _lens(ws, agency), {"kind": "case", "period": year, "level": "town",
                                                                      "points": True})
                seen[agency] = got.get("points")
    finally:
        engine.dispose()
    assert seen["street_office_hanbin"] is None and seen["civil_affairs"] is None  # counts only
    hanbin = city.rows("SELECT count(*) FROM core.\"case\" WHERE division_code LIKE '610902%' AND longitude IS NOT "
                       "NULL AND extract(year FROM coalesce(occurred_at::date, reported_date)) = :y", y=int(year))[0][0]
    assert len(seen["police_hanbin"]) == hanbin < len(seen["police"])
    got = _ask(city, "street_office_hanbin", "case", period=year, level="community", out=tmp_path / "o.csv")
    with (tmp_path / "o.csv").open(encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    counts = [line[4] for line in lines[1:]] + [v for line in lines[1:] for v in line[9:]]
    assert all(v == "<5" or (v.isdigit() and not 0 < int(v) < 5) for v in counts)
    assert sum(v == "<5" for v in counts) == sum(
        [r["count"] is None for r in got["areas"]] + [v is None for r in got["areas"] for v in r["by_type"].values()])
    log = city.rows("SELECT agency, purpose, status, what FROM audit.access WHERE entity = 'map' ORDER BY id DESC "
                    "LIMIT 1")
    assert log[0][:3] == ("operator", "地图攻击测试", 200)
    assert log[0][3].endswith("as street_office_hanbin") and "level community" in log[0][3]
