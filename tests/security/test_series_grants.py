"""Serial-case linking attacked as each consumer, on PostgreSQL with the grants applied: a candidate series
shows an agency nothing its own views do not show it, and compares nothing it does not see in full.

For every grant: every case named in an answer must be a row of the agency's own share view (read with
its own database login) with the same values in every column shown; the number of cases compared must be
the number of rows its view holds in the window (an aggregate reveals no case it may not see); every
feature a link rests on must come from columns the grant shows in full (a masked plate or a pseudonymised
ID number ties nothing); and a decision on a case outside the grant is refused as not found. Every use
is an ``audit.access`` row."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from exchange.workspace.series import decide_link, find_series
from tests.pg_city import City
from tests.security.test_investigate_grants import CONSUMERS, Views, _norm

FEATURE_COLUMNS = {"entry": ("case", "mo_entry"), "target": ("case", "mo_target"), "tools": ("case", "mo_tools"),
                   "distance": ("case", "longitude"), "division": ("case", "division_code"),
                   "vehicle": ("case", "vehicle_plate"), "phone": ("case_party", "phone"),
                   "hour": ("case", "occurred_at"), "gap": ("case", "occurred_at")}
START, END = dt.datetime(2024, 6, 1), dt.datetime.combine(dt.date.today() + dt.timedelta(days=1), dt.time())


@pytest.fixture(autouse=True)
def _workspace(city: City) -> Iterator[None]:
    from exchange.workspace.space import Workspace

    with Workspace(city.settings):
        yield


def _same(stored: Any, shown: Any) -> bool:
    if isinstance(shown, float) and stored is not None:  # a decimal column, shown as a JSON number
        return float(stored) == shown
    return _norm(stored) == _norm(shown)


def _view_count(city: City, consumer: str) -> int | None:
    conn = city.consumer(consumer)
    try:
        return conn.execute(f'SELECT count(*) FROM share_{consumer}."case" WHERE occurred_at >= %s AND '
                            f'occurred_at < %s', (START, END)).fetchone()[0]
    except Exception:  # noqa: BLE001 - no such view: the entity is withheld
        return None
    finally:
        conn.close()


@pytest.mark.parametrize("consumer", CONSUMERS)
def test_series_show_and_compare_only_what_the_agencys_views_show(city: City, consumer: str) -> None:
    grant = city.grants.get(consumer)
    out = find_series(START, END, agency=consumer, settings=city.settings, purpose="attacker test")
    assert out["cases"] == (_view_count(city, consumer) or 0)
    views = Views(city, consumer)
    try:
        for s in out["series"]:
            for case in s["cases"]:
                p = case["provenance"]
                row = views.row("case", p["agency"], p["record"])
                assert row is not None, f"{consumer}: case {p['record']} is not in its view"
                for column, value in case.items():
                    if column != "provenance":
                        assert _same(row.get(column), value), (consumer, column, row.get(column), value)
            for link in s["links"]:
                for f in link["shared"] + link["apart"]:
                    if f["feature"] in ("prior", "hotspot"):
                        continue
                    if f["feature"] == "suspect":
                        rule = grant.share("case_party").column("id_number")
                        assert rule is not None and rule.treatment in ("full", "partial"), consumer
                        continue
                    entity, column = FEATURE_COLUMNS[f["feature"]]
                    share = grant.share(entity)
                    rule = share.column(column) if share is not None else None
                    assert rule is not None and rule.treatment == "full", (
                        f"{consumer}: a link rests on {entity}.{column}, which it does not see in full")
    finally:
        views.close()
    if consumer == "police":
        assert out["series"], "the police found no series at all: the attack proves nothing"


def test_a_decision_on_a_case_outside_the_grant_is_not_found(city: City) -> None:
    everything = find_series(START, END, agency="police", settings=city.settings, purpose="x")
    cases = [c for s in everything["series"] for c in s["cases"]]
    outside = [c["case_number"] for c in cases if not str(c["division_code"]).startswith("610902")]
    inside = [c["case_number"] for c in cases if str(c["division_code"]).startswith("610902")]
    numbers = [r[0] for r in city.rows('SELECT case_number FROM core."case" ORDER BY case_number')]
    a = outside[0] if outside else next(n for n in numbers if n[1:7] != "610902")
    b = inside[0] if inside else numbers[0]
    for consumer in ("police_hanbin", "street_office_hanbin", "health"):
        assert decide_link(a, b, "confirmed", agency=consumer, settings=city.settings, purpose="x") is None
    rows: list[Any] = city.rows("SELECT agency, entity, status FROM audit.access WHERE entity = 'series.decide' "
                                "ORDER BY id DESC LIMIT 3")
    assert [r[2] for r in rows] == [404, 404, 404]
