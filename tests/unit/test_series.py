"""Serial-case linking (exchange.investigate.series): the levels two cases show, the weights, what a grant
hides, decisions — and the quality on the hard cases of tests/series_cases.py (generated independently
of the demo), reported per case."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from exchange.access.lens import Lens, Row
from exchange.errors import ConfigError
from exchange.investigate import series, series_read
from tests.series_cases import TAGS, City, as_cases, score

T0 = dt.datetime(2026, 3, 1, 2, 0)


def _case(n: int, *, offence: str = "burglary", entry: str | None = "pry", target: str | None = "cash",
          tools: str = "撬棍", at: dt.datetime = T0, point: tuple[float, float] | None = (109.0, 32.7),
          division: str = "610902001001", **extra: Any) -> series.Case:
    row = Row("case", {"source_agency": "police", "source_record_id": f"R{n}", "_batch_id": "b1",
                       "case_number": f"C{n}", "offence": offence}, Lens(None))
    return series.Case(row=row, number=f"C{n}", offence=offence, entry=entry, target=target,
                       tools=series.tool_set(tools), at=at, point=point, division=division, **extra)


def test_levels_compare_only_what_both_cases_show() -> None:
    a = _case(1)
    b = _case(2, entry="window", tools="撬棍、手套", at=T0 + dt.timedelta(days=5, hours=2), point=(109.02, 32.7))
    lv = series.levels(a, b)
    assert lv == {"entry": "different", "target": "same", "tools": "most", "hour": "3h", "gap": "7d",
                  "distance": "3km"}
    c = _case(3, target=None, tools="", point=None, division="610902001002")
    lv = series.levels(a, c)
    assert "target" not in lv and "tools" not in lv and "distance" not in lv
    assert lv["division"] == "town"  # no point: the division codes stand in
    fraud = [_case(4, offence="fraud", point=(109.0, 32.7)), _case(5, offence="fraud", point=(110.0, 33.5),
                                                                     at=T0 + dt.timedelta(hours=9))]
    assert "distance" not in series.levels(*fraud) and "hour" not in series.levels(*fraud)


def test_one_suspects_phone_is_not_a_second_proof() -> None:
    a = _case(1, suspects={"P1"}, phones={"13900000000"})
    b = _case(2, suspects={"P1"}, phones={"13900000000"})
    lv = series.levels(a, b)
    assert lv["suspect"] == "shared" and "phone" not in lv


def test_pairs_sharing_a_suspect_are_candidates_only_within_one_offence() -> None:
    far = T0 + dt.timedelta(days=300)
    a = _case(1, suspects={"P1"})
    b = _case(2, suspects={"P1"}, at=far, point=(110.1, 33.3))  # far in place and time: only the suspect
    c = _case(3, offence="fight", suspects={"P1"}, entry=None, target=None, tools="")
    pairs = {(x.number, y.number) for x, y in series.candidates([a, b, c])}
    assert pairs == {("C1", "C2")}


def test_u_is_measured_without_the_series_making_itself_look_common() -> None:
    """A city where most burglaries are one series: its closeness in place and time is measured on cases of
    other offences, its manner on pairs too far apart to be candidates — so it still links."""
    cases = [_case(i, at=T0 + dt.timedelta(days=4 * i), point=(109.0 + 0.004 * i, 32.7)) for i in range(5)]
    cases += [_case(10 + i, offence="fight", entry=None, target=None, tools="",
                    at=T0 + dt.timedelta(days=37 * i), point=(108.3 + 0.13 * i, 32.2 + 0.09 * i)) for i in range(12)]
    cases += [_case(30 + i, entry="window", target="jewelry", tools="梯子", at=T0 + dt.timedelta(days=200 + 40 * i),
                    point=(108.5 + 0.2 * i, 33.0)) for i in range(4)]
    links, _pairs, weights = series.score_pairs(cases)
    groups = series.series_of(links)
    members = {c.number for lk in groups[0] for c in (lk.a, lk.b)}
    assert members == {f"C{i}" for i in range(5)}
    assert weights.of(None, "distance", "1km") > 3  # other offences rarely fall within a kilometre


def test_a_hot_spot_of_one_manner_links_nothing() -> None:
    """Forty burglaries a year, all by a prised door, within a kilometre, among a city's other cases: two of
    them a week apart are no series — the place's own rate of that manner at other times says so (without
    that correction they would all be linked)."""
    hot = [_case(i, at=T0 + dt.timedelta(days=9 * i, hours=(i * 7) % 24), point=(109.0 + 0.001 * (i % 7), 32.7))
           for i in range(80)]
    city = [_case(100 + i, offence="fight", entry=None, target=None, tools="", at=T0 + dt.timedelta(days=3 * i),
                  point=(108.3 + 0.011 * (i % 150), 32.2 + 0.007 * (i % 170))) for i in range(240)]
    links, _pairs, weights = series.score_pairs(hot + city)
    assert not links
    pair = next((a, b) for a, b in series.candidates(hot) if abs((a.at - b.at).days) <= 9)
    hot_feature = weights.hotspot(*pair, series.levels(*pair))
    assert hot_feature is not None and hot_feature["weight"] < -3, hot_feature
    without = 0
    for a, b in series.candidates(hot):
        score, features = series.explain(a, b, weights)
        without += score - sum(f["weight"] for f in features if f["feature"] == "hotspot") >= series.THRESHOLD
    assert without > 50, "without the hot-spot correction the place's cases would link"


def test_decisions_override_scores() -> None:
    a, b = _case(1), _case(2, at=T0 + dt.timedelta(days=2))
    far = _case(3, entry="window", target="phone", tools="梯子", at=T0 + dt.timedelta(days=150), point=(109.1, 32.75))
    links, _p, _w = series.score_pairs([a, b, far])
    assert [(lk.a.number, lk.b.number) for lk in links] == [("C1", "C2")]
    decided = {series.pair_key(a.key, b.key): "rejected", series.pair_key(a.key, far.key): "confirmed"}
    links, _p, _w = series.score_pairs([a, b, far], decided)
    assert [(lk.a.number, lk.b.number, lk.decision) for lk in links] == [("C1", "C3", "confirmed")]


def test_a_window_longer_than_three_years_or_backwards_is_refused() -> None:
    with pytest.raises(ConfigError, match="at most"):
        series_read.Window(dt.datetime(2020, 1, 1), dt.datetime(2026, 1, 1)).check()
    with pytest.raises(ConfigError, match="not after"):
        series_read.Window(dt.datetime(2026, 1, 1), dt.datetime(2025, 1, 1)).check()


def test_the_answer_names_each_link_with_what_made_it() -> None:
    cases = [_case(i, at=T0 + dt.timedelta(days=5 * i), point=(109.0 + 0.003 * i, 32.7)) for i in range(3)]
    window = series_read.Window(T0 - dt.timedelta(days=1), T0 + dt.timedelta(days=30))
    links, pairs, _w = series.score_pairs(cases)
    out = series_read.answer(cases, False, links, pairs, window)
    assert out["total"] == 1 and out["series"][0]["size"] == 3
    link = out["series"][0]["links"][0]
    assert {f["feature"] for f in link["shared"]} >= {"entry", "target", "tools", "distance", "gap"}
    assert all(f["weight"] > 0 for f in link["shared"]) and all(f["weight"] <= 0 for f in link["apart"])
    assert out["series"][0]["cases"][0]["provenance"] == {"agency": "police", "entity": "case", "record": "R0",
                                                          "batch": "b1"}


# -- quality on cases the scorer was not tuned on -------------------------------------------------------

FLOORS = {"steady": 0.9, "identity_only": 0.8, "no_point": 0.8, "copycat": 0.85}
"""Per-tag recall the hard cases must keep (measured 2026-12-06 on seeds 7-9: steady 1.0, identity_only
0.94-0.95, no_point 1.0, copycat 0.94-1.0); drift, roaming, slow and fraud are reported, not held."""


@pytest.mark.parametrize("seed", [7, 8])
def test_hard_cases_per_tag(seed: int) -> None:
    city = City(seed=seed, ordinary=1500)
    cases = as_cases(city)
    links, pairs, _w = series.score_pairs(cases)
    groups = [[c.number for c in {id(x): x for lk in g for x in (lk.a, lk.b)}.values()]
              for g in series.series_of(links)]
    result = score(city, groups)
    print(f"\nserial-case linking, hard cases seed {seed}: {len(cases)} cases, {pairs} pairs scored, "
          f"{len(links)} links")
    for tag in (*TAGS, "hotspot"):
        r = result[tag]
        recall = "—" if r["recall"] is None else f"{r['recall']:.2f}"
        print(f"  {tag:14} series {r['series']:2}  pairs {r['pairs']:3}  found {r['found']:3}  recall {recall:>4}  "
              f"wrong pairs touching it {r['false']}")
    a = result["all"]
    print(f"  all: precision {a['precision']:.3f} recall {a['recall']:.3f} ({a['found']}/{a['pairs']} pairs, "
          f"{a['proposed']} proposed)")
    for tag, floor in FLOORS.items():
        assert result[tag]["recall"] >= floor, tag
    assert result["copycat_merged"]["pairs"] == 0, "two copycat series merged"
    hotspot = sum(1 for c in city.cases if c.tag == "hotspot")
    assert result["hotspot"]["false"] <= hotspot // 4, "the hot spot's ordinary cases were made series"
    assert a["precision"] >= 0.75 and a["recall"] >= 0.55


def test_the_bulk_scores_are_the_explained_scores() -> None:
    """series_fast scores every candidate pair at once; each must be the pair's score as explained one
    feature at a time, on the same pairs (hard cases: points and none, hot spots, fraud, identifiers)."""
    from exchange.investigate import series_fast

    city = City(seed=11, ordinary=600, per_tag=3)
    cases = as_cases(city)
    weights = series.estimate(cases)
    bulk = {(i, j): bits for i, j, bits in series_fast.scores(cases, weights)}
    assert set(bulk) == set(series.close_pairs(cases))
    shared = series.identity_pairs(cases)
    checked = 0
    for (i, j), bits in bulk.items():
        if (i, j) in shared:  # an identifier shared: always explained in full, never taken from the bulk
            continue
        explained, _features = series.explain(cases[i], cases[j], weights)
        assert abs(explained - bits) < series.MARGIN, (i, j, explained, bits, _features)
        checked += 1
    assert checked > 5000
