"""Multi-point collision end to end on the embedded warehouse (the investigation city of
tests/e2e/conftest.py, another seed and size than the demo's): the groups that move together found
from the places and times they were seen together (truth kept by the city), per group; every grant
tried against it — the ones that withhold events, a jurisdiction narrower than the city, plates
masked; the command, the HTTP route through the gate and the access log."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import text

from exchange.errors import ConfigError
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.collide import collide_points
from tests.conftest import REPO
from tests.e2e.test_investigate import ADMIN_KEY, _uids

WINDOW = dt.timedelta(hours=2)


def _points(together: list[list[str]]) -> list[dict[str, Any]]:
    """A point per occasion the group was seen together: its place, two hours either side."""
    out = []
    for _kind, place, at in together:
        t = dt.datetime.fromisoformat(at)
        out.append({"place": place, "start": (t - WINDOW).isoformat(), "end": (t + WINDOW).isoformat()})
    return out


def test_collision_finds_each_group_at_the_places_it_was_seen_together(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    uids = _uids(settings, truth)
    found = expected = extra = 0
    print("\nmulti-point collision, one run per group (all of its occasions, a member at all but one):")
    for n, group in enumerate(truth.groups):
        members = {uids[k] for k in group["members"] if k in uids}
        points = _points(group["together"])
        k = max(2, len(points) - 1)
        out = collide_points(points, k, settings=settings, purpose="collision test")
        persons = {s["person_uid"] for s in out["subjects"] if s["kind"] == "person"}
        hit, noise = len(persons & members), len(persons - members)
        print(f"  group {n}: {len(points)} points, min {k}: {hit}/{len(members)} members, {noise} others; "
              f"events read {[p['events'] for p in out['points']]}")
        found, expected, extra = found + hit, expected + len(members), extra + noise
        for s in out["subjects"]:
            assert s["count"] >= k and len(s["points"]) == s["count"]
            assert {e["point"] for e in s["events"]} == set(s["points"])
            for e in s["events"]:
                assert e["agency"] and e["entity"] and e["record"] and e["batch"] and e["at"]
    print(f"  all groups: {found}/{expected} members found, {extra} non-members")
    # a member whose events or register row were quarantined (seeded defects) can miss an occasion
    assert found >= 0.8 * expected
    assert extra <= 0.25 * max(1, found)


def test_every_grant_answers_only_from_what_it_may_read(city: tuple[Settings, Any], tmp_path: Path) -> None:
    from exchange.access.lens import Lens
    from exchange.access.spec import load_grant
    from exchange.formats import load_division_codes
    from exchange.workspace.collide import run_collide
    from exchange.workspace.space import Workspace

    settings, truth = city
    group = next(g for g in truth.groups if len(g["together"]) >= 3)
    points = _points(group["together"])
    police = collide_points(points, 2, agency="police", settings=settings, purpose="x")
    assert police["subjects"], "the police grant reads every event table"
    for agency in ("civil_affairs", "health", "street_office_hanbin", "police_hanbin"):  # events withheld
        out = collide_points(points, 2, agency=agency, settings=settings, purpose="x")
        assert out["subjects"] == [] and out["total"] == 0, agency
        assert all(p["events"] == 0 for p in out["points"]), agency

    # the police grant narrowed to one district: no event outside it is read or shown
    police_yaml = (REPO / "grants" / "police.yaml").read_text(encoding="utf-8")
    narrowed = police_yaml.replace("consumer: police\n", "consumer: police_local\n")
    for entity in ("hotel_stay", "internet_session", "checkpoint_pass", "compound_access"):  # its events only
        narrowed = narrowed.replace(f"\n  {entity}:", f"\n  {entity}:\n    jurisdiction: [\"610902\"]\n    #", 1)
    masked = narrowed.replace("consumer: police_local\n", "consumer: police_masked\n")
    masked = masked.replace("\n      plate: full", "\n      plate: partial")
    (tmp_path / "grants").mkdir()
    (tmp_path / "grants" / "police_local.yaml").write_text(narrowed, encoding="utf-8")
    (tmp_path / "grants" / "police_masked.yaml").write_text(masked, encoding="utf-8")
    with Workspace(settings) as ws:
        divisions = load_division_codes(REPO / "schemas" / "reference" / "gb2260.csv")
        local = load_grant(tmp_path / "grants" / "police_local.yaml", ws.catalog.schemas, ws.catalog.allowed,
                           root=tmp_path, divisions=divisions)
        plates_masked = load_grant(tmp_path / "grants" / "police_masked.yaml", ws.catalog.schemas,
                                   ws.catalog.allowed, root=tmp_path, divisions=divisions)
        everywhere = [{"division": "6109", "start": "2025-01-01T00:00", "end": "2025-01-31T00:00"},  # nothing then
                      {"division": "6109", "start": "2026-11-01T00:00", "end": "2026-11-20T00:00"},
                      {"division": "6109", "start": "2026-11-20T00:00", "end": "2026-12-10T00:00"}]
        out, _, _ = run_collide(ws.engine, ws, Lens(local), {"points": everywhere, "min_points": 2})
        shown = [e for s in out["subjects"] for e in s["events"]]
        assert shown and all(str(e["division"]).startswith("610902") for e in shown)
        with ws.engine.connect() as conn:
            outside = conn.execute(text(
                "SELECT count(*) FROM core.checkpoint_pass WHERE passed_at >= '2026-11-20' AND passed_at < "
                "'2026-12-10' AND division_code NOT LIKE '610902%'")).scalar()
        assert outside > 0  # there was something to hide
        full, _, _ = run_collide(ws.engine, ws, Lens(None), {"points": everywhere, "min_points": 2})
        assert full["points"][2]["events"] > out["points"][2]["events"]

        # plates masked: no vehicle can be collided, and no masked plate ties a pass to its owner
        masked_out, _, _ = run_collide(ws.engine, ws, Lens(plates_masked), {"points": everywhere, "min_points": 2})
        assert not [s for s in masked_out["subjects"] if s["kind"] == "vehicle"]
        assert not [e for s in masked_out["subjects"] for e in s["events"] if e.get("via")]
        assert masked_out["points"][2]["events"] < out["points"][2]["events"]


def test_points_are_checked_and_each_problem_named(city: tuple[Settings, Any]) -> None:
    settings, _truth = city
    cases = [
        ([{"place": "KK1", "start": "2026-11-01T08:00", "end": "2026-11-01T07:00"}] * 2, "is not after start"),
        ([{"division": "61090", "start": "2026-11-01", "end": "2026-11-02"}] * 2, "4, 6, 9 or 12 digits"),
        ([{"place": "KK1", "division": "610902", "start": "2026-11-01", "end": "2026-11-02"}] * 2,
         "exactly one of place, division or near"),
        ([{"place": "KK1", "start": "2026-01-01", "end": "2026-03-01"}] * 2, "at most 31 days"),
        ([{"near": {"longitude": 109, "latitude": 32.6, "radius_m": 50_000}, "start": "2026-11-01",
           "end": "2026-11-02"}] * 2, "radius_m must be above 0 and at most 5000"),
        ([], "a list of at least two points"),
        (["place=KK1@2026-11-01T08:00/2026-11-01T09:00"], "a collision takes 2 to 10 points (got 1)"),
        (["place=KK1@2026-11-01T08:00/2026-11-01T09:00", "somewhere"], "is not KIND=VALUE@START/END"),
        ([{"place": "KK1", "start": "2026-11-01T08:00+08:00", "end": "2026-11-01T09:00"}] * 2, "without an offset"),
        ([{"place": "KK1", "start": "2026-11-01", "end": "2026-11-02", "radius": 3}] * 2, "unknown key(s) radius"),
    ]
    for points, message in cases:
        with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
            collide_points(points, None, settings=settings, purpose="x")
    with pytest.raises(ConfigError, match="min_points must be between 2 and the number of points, 2"):
        collide_points(["place=KK1@2026-11-01T08:00/2026-11-01T09:00"] * 2, 3, settings=settings, purpose="x")


def test_the_command_and_the_http_route_answer_through_the_gate_on_record(city: tuple[Settings, Any],
                                                                          tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from exchange.api.serve import api_app
    from exchange.cli import app
    from exchange.workspace.sharing import create_api_key

    settings, truth = city
    group = next(g for g in truth.groups if len(g["together"]) >= 3)
    points = _points(group["together"])
    file = tmp_path / "points.yaml"
    file.write_text(yaml.safe_dump({"points": points, "min_points": 2}), encoding="utf-8")
    runner = CliRunner()
    printed = runner.invoke(app, ["collide", "--file", str(file), "--json", "--purpose", "cli collide"])
    assert printed.exit_code == 0, printed.output
    answer = json.loads(printed.output)
    assert answer["subjects"] and answer["min_points"] == 2
    table = runner.invoke(app, ["collide", "--file", str(file), "--purpose", "cli collide"])
    assert table.exit_code == 0 and "present at 2 points or more" in table.output
    bad = runner.invoke(app, ["collide", "-p", "place=KK1@2026-11-01", "-p", "x"])
    assert bad.exit_code == 2 and "is not KIND=VALUE@START/END" in bad.output

    police = create_api_key("police", settings=settings)[1]
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    body = {"points": points, "min_points": 2}
    assert client.post("/collisions", json=body).status_code == 401
    assert client.post("/collisions", json=body, headers={"X-API-Key": police}).status_code == 400  # no purpose
    ok = client.post("/collisions", json=body, params={"purpose": "串并"}, headers={"X-API-Key": police})
    assert ok.status_code == 200 and ok.json()["subjects"] == answer["subjects"], ok.text
    none = client.post("/collisions", json=body, params={"purpose": "网格"}, headers={"X-API-Key": office})
    assert none.status_code == 200 and none.json()["subjects"] == []
    wrong = client.post("/collisions", json={"points": [points[0], {**points[1], "end": points[1]["start"]}]},
                        params={"purpose": "x"}, headers={"X-API-Key": police})
    assert wrong.status_code == 400 and "point P2: end" in wrong.json()["error"]
    assert client.post("/collisions", json={"points": points, "extra": 1}, params={"purpose": "x"},
                       headers={"X-API-Key": police}).status_code == 422
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        log = [dict(r._mapping) for r in conn.execute(text(
            "SELECT agency, entity, status, row_count, what, purpose, channel FROM audit.access "
            "WHERE entity = 'collide' ORDER BY id DESC LIMIT 7"))][::-1]
    engine.dispose()
    # the two commands (the bad one never ran), then every request of the route but the one refused
    # by FastAPI's body check (422, put on record as any other request)
    assert [r["status"] for r in log] == [200, 200, 401, 400, 200, 200, 400]
    assert [r["channel"] for r in log[:2]] == ["cli", "cli"] and log[0]["purpose"] == "cli collide"
    served = log[4]
    assert served["agency"] == "police" and served["row_count"] == ok.json()["total"] and served["purpose"] == "串并"
    assert f"place={points[0]['place']}" in served["what"] and log[5]["agency"] == "street_office_hanbin"
    assert "not readable" in log[6]["what"] or "P2" in log[6]["what"]


def test_companions_of_a_member_are_the_others_of_its_group(city: tuple[Settings, Any]) -> None:
    from exchange.workspace.collide import companions_of

    settings, truth = city
    uids = _uids(settings, truth)
    start, end = dt.datetime(2026, 11, 1), dt.datetime(2026, 12, 1)
    found = expected = extra = 0
    print("\ncompanions (within 5 min, 2+ times at 2+ places, over the days of its occasions) of one member "
          "of each group:")
    for n, group in enumerate(truth.groups):
        members = [uids[k] for k in group["members"] if k in uids]
        times = [dt.datetime.fromisoformat(at) for _kind, _place, at in group["together"]]
        first = min(times).replace(hour=0, minute=0, second=0)
        window = (first, min(max(times) + dt.timedelta(days=1), first + dt.timedelta(days=31)))
        out = companions_of(members[0], *window, settings=settings, purpose="companions test")
        assert out is not None and out["subject"] == members[0]
        persons = {c["person_uid"] for c in out["companions"] if c["kind"] == "person"}
        hit, noise = len(persons & set(members[1:])), len(persons - set(members))
        print(f"  group {n}: {hit}/{len(members) - 1} other members, {noise} others, {out['own_events']} own events")
        found, expected, extra = found + hit, expected + len(members) - 1, extra + noise
        for c in out["companions"]:
            assert c["times"] >= 2 and c["places"] >= 2 and c["evidence"]
            for e in c["evidence"]:
                assert e["subject"]["record"] and e["companion"]["record"] and e["companion"]["batch"]
        vehicle = next((c for c in out["companions"] if c["kind"] == "vehicle"), None)
        if vehicle is not None:  # a vehicle is a subject of its own: its companions include the group's member
            again = companions_of(vehicle["plate"], *window, settings=settings, purpose="companions test")
            assert again is not None and again["subject"] is None and again["plate"] == vehicle["plate"]
            assert again["total"] >= 1
    print(f"  all groups: {found}/{expected} other members, {extra} non-members")
    assert found >= 0.8 * expected
    assert extra <= 0.25 * max(1, found)
    # the grants that withhold events: the person, but no companion; a grant without persons: nobody
    member = uids[truth.groups[0]["members"][0]]
    office = companions_of(member, start, end, agency="street_office_hanbin", settings=settings, purpose="x")
    assert office is None or (office["companions"] == [] and office["own_events"] == 0)
    assert companions_of(member, start, end, agency="health", settings=settings, purpose="x") is None
    with pytest.raises(ConfigError, match="a window of at most 31 days"):
        companions_of(member, start, end + dt.timedelta(days=10), settings=settings, purpose="x")


def test_the_companions_routes_go_through_the_gate(city: tuple[Settings, Any]) -> None:
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app
    from exchange.workspace.sharing import create_api_key

    settings, truth = city
    member = _uids(settings, truth)[truth.groups[0]["members"][0]]
    police = create_api_key("police", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    window = {"since": "2026-11-01T00:00", "until": "2026-12-01T00:00", "purpose": "同行"}
    ok = client.get(f"/persons/{member}/companions", params=window, headers={"X-API-Key": police})
    assert ok.status_code == 200 and ok.json()["companions"], ok.text
    plate = next(c["plate"] for c in ok.json()["companions"] if c["kind"] == "vehicle") if any(
        c["kind"] == "vehicle" for c in ok.json()["companions"]) else None
    if plate is not None:
        car = client.get(f"/vehicles/{plate}/companions", params=window, headers={"X-API-Key": police})
        assert car.status_code == 200 and car.json()["plate"] == plate
    assert client.get(f"/persons/{member}/companions", params={**window, "purpose": ""},
                      headers={"X-API-Key": police}).status_code == 400
    long = client.get(f"/persons/{member}/companions", params={**window, "until": "2027-01-15T00:00"},
                      headers={"X-API-Key": police})
    assert long.status_code == 400 and "at most 31 days" in long.json()["error"]
    assert client.get("/persons/MP9999999999/companions", params=window,
                      headers={"X-API-Key": police}).status_code == 404
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(
            "SELECT agency, status, row_count, subject, what FROM audit.access WHERE entity = 'companions' "
            "ORDER BY id DESC LIMIT 1"))]
    engine.dispose()
    assert rows[0]["status"] == 404
    assert rows and all("minutes=5" in r["what"] for r in rows)
