"""Serial-case linking end to end on the embedded warehouse (the investigation city of tests/e2e/conftest.py,
another seed and size than the demo's): the planted series found against the city's truth; decisions kept
across runs and written to the ledger; every grant tried against it (cases withheld, a jurisdiction, a
masked column); the command, the HTTP routes through the gate, and the access log."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url, text

from exchange.investigate.series_read import against_truth
from exchange.spec.settings import Settings
from exchange.warehouse.engine import NAMESPACES, make_engine, namespace_file
from exchange.workspace.series import decide_link, find_series
from tests.conftest import REPO
from tests.e2e.test_investigate import ADMIN_KEY


def _window(truth: Any) -> tuple[dt.date, dt.date]:
    today = dt.date.fromisoformat(truth.today)
    return today - dt.timedelta(days=740), today + dt.timedelta(days=1)


def _loaded(settings: Settings) -> set[str]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        numbers = {r[0] for r in conn.execute(text('SELECT case_number FROM core."case"'))}
    engine.dispose()
    return numbers


def test_the_planted_series_are_found(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    start, end = _window(truth)
    out = find_series(start, end, settings=settings, purpose="series test")
    measured = against_truth(out["series"], [s["cases"] for s in truth.series], _loaded(settings))
    print(f"\nserial-case linking on the e2e city: {out['cases']} cases, {out['pairs_scored']} pairs scored, "
          f"{len(truth.series)} planted series ({measured['pairs']} pairs), {out['total']} proposed "
          f"({measured['proposed']} pairs): precision {measured['precision']:.3f}, recall {measured['recall']:.3f}")
    assert measured["pairs"] and measured["precision"] >= 0.8 and measured["recall"] >= 0.8
    for s in out["series"]:
        for link in s["links"]:
            assert link["score"] >= out["threshold"] and link["shared"]
            assert all(f["weight"] > 0 for f in link["shared"])
        for c in s["cases"]:
            assert c["provenance"]["agency"] == "police" and c["provenance"]["batch"]
    assert {w["feature"] for w in out["weights"]} >= {"entry", "target", "tools", "distance", "gap", "suspect"}


@pytest.fixture
def own_city(city: tuple[Settings, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Settings, Any]:
    """A copy of the city's warehouse for a test that leaves decisions in it (the console's series page reads
    the shared city and expects only the planted series there, whichever runs first)."""
    settings, truth = city
    shared = Path(make_url(settings.warehouse_url).database or "")
    for part in (shared, *(namespace_file(shared, ns) for ns in NAMESPACES)):  # the main file, one per namespace
        with closing(sqlite3.connect(part)) as source, closing(sqlite3.connect(tmp_path / part.name)) as target:
            source.backup(target)  # a consistent copy, whatever a journal still holds
    url = f"sqlite:///{tmp_path / shared.name}"
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", url)
    return dataclasses.replace(settings, warehouse_url=url), truth


def test_a_decision_holds_across_runs_and_is_in_the_ledger(own_city: tuple[Settings, Any]) -> None:
    settings, truth = own_city
    start, end = _window(truth)
    out = find_series(start, end, settings=settings, purpose="series test")
    link = out["series"][0]["links"][0]
    done = decide_link(link["a"], link["b"], "rejected", reason="不同作案人", settings=settings, purpose="研判")
    assert done is not None and done["decision"] == "rejected" and done["ledger_seq"] > 0
    again = find_series(start, end, settings=settings, purpose="series test")
    assert not [lk for s in again["series"] for lk in s["links"] if {lk["a"], lk["b"]} == {link["a"], link["b"]}]
    # two cases no score joins, confirmed by an analyst: linked whatever their score
    lone = sorted(_loaded(settings) - {c["case_number"] for s in again["series"] for c in s["cases"]})
    decide_link(lone[0], lone[1], "confirmed", reason="同一嫌疑人供述", settings=settings, purpose="研判")
    decide_link(link["a"], link["b"], "confirmed", settings=settings, purpose="研判")  # and changed its mind
    third = find_series(start, end, settings=settings, purpose="series test")
    links = {frozenset((lk["a"], lk["b"])): lk for s in third["series"] for lk in s["links"]}
    assert links[frozenset(lone[:2])]["decision"] == "confirmed"
    assert links[frozenset((link["a"], link["b"]))]["decision"] == "confirmed"
    assert decide_link("A000", lone[0], "confirmed", settings=settings) is None  # unknown case
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        ledger = [json.loads(r[0]) for r in conn.execute(text(
            "SELECT payload FROM audit.ledger WHERE kind = 'series_decision' ORDER BY seq"))]
        access = [dict(r._mapping) for r in conn.execute(text(
            "SELECT entity, status, what, purpose FROM audit.access WHERE entity LIKE 'series%' ORDER BY id"))]
    engine.dispose()
    assert [p["decision"] for p in ledger[-3:]] == ["rejected", "confirmed", "confirmed"]
    assert ledger[-3]["reason"] == "不同作案人" and ledger[-3]["by"].startswith("operator/")
    assert {"series", "series.decide"} <= {a["entity"] for a in access}
    assert any(a["status"] == 404 and a["entity"] == "series.decide" for a in access)


def test_every_grant_compares_only_what_it_may_see(city: tuple[Settings, Any], tmp_path: Path) -> None:
    from exchange.access.lens import Lens
    from exchange.access.spec import load_grant
    from exchange.formats import load_division_codes
    from exchange.workspace.series import run_series
    from exchange.workspace.space import Workspace

    settings, truth = city
    start, end = _window(truth)
    params = {"start": start, "end": end}
    everything = find_series(start, end, settings=settings, purpose="x")
    for agency in ("street_office_hanbin", "civil_affairs", "health"):  # cases withheld
        out = find_series(start, end, agency=agency, settings=settings, purpose="x")
        assert out["cases"] == 0 and out["series"] == [], agency
    district = find_series(start, end, agency="police_hanbin", settings=settings, purpose="x")
    assert 0 < district["cases"] < everything["cases"]
    shown = [c for s in district["series"] for c in s["cases"]]
    assert all(str(c["division_code"]).startswith("610902") for c in shown)
    # police_hanbin sees plates partially: no link may rest on a plate, and none is shown in full
    assert not [f for s in district["series"] for lk in s["links"] for f in lk["shared"] + lk["apart"]
                if f["feature"] == "vehicle"]
    assert all("*" in str(c["vehicle_plate"]) for c in shown if c.get("vehicle_plate"))
    outside = next(c["case_number"] for s in everything["series"] for c in s["cases"]
                   if not str(c["division_code"]).startswith("610902"))
    inside = next(c["case_number"] for c in shown) if shown else None
    if inside:
        assert decide_link(outside, inside, "confirmed", agency="police_hanbin", settings=settings) is None

    # the city grant without the manner columns: cases are read, the manner is never compared
    police_yaml = (REPO / "grants" / "police.yaml").read_text(encoding="utf-8")
    blind = police_yaml.replace("consumer: police\n", "consumer: police_blind\n")
    for column in ("mo_entry", "mo_target", "mo_tools"):
        blind = blind.replace(f"\n      {column}: full", f"\n      {column}: hidden")
    (tmp_path / "grants").mkdir()
    (tmp_path / "grants" / "police_blind.yaml").write_text(blind, encoding="utf-8")
    with Workspace(settings) as ws:
        divisions = load_division_codes(REPO / "schemas" / "reference" / "gb2260.csv")
        grant = load_grant(tmp_path / "grants" / "police_blind.yaml", ws.catalog.schemas, ws.catalog.allowed,
                           root=tmp_path, divisions=divisions)
        out, _n, _s = run_series(ws.engine, ws, Lens(grant), params)
    assert out["cases"] == everything["cases"]
    features = {f["feature"] for s in out["series"] for lk in s["links"] for f in lk["shared"] + lk["apart"]}
    assert not features & {"entry", "target", "tools"}
    assert not [c for s in out["series"] for c in s["cases"] if {"mo_entry", "mo_target", "mo_tools"} & set(c)]


def test_the_command_and_the_http_routes_answer_through_the_gate(city: tuple[Settings, Any]) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from exchange.api.serve import api_app
    from exchange.cli import app
    from exchange.workspace.sharing import create_api_key

    settings, truth = city
    start, end = _window(truth)
    runner = CliRunner()
    printed = runner.invoke(app, ["series", "find", "--since", str(start), "--until", str(end), "--json",
                                  "--purpose", "cli series"])
    assert printed.exit_code == 0, printed.output
    answer = json.loads(printed.output)
    table = runner.invoke(app, ["series", "find", "--since", str(start), "--until", str(end), "--weights"])
    assert table.exit_code == 0 and "candidate series" in table.output and "log2(m/u)" in table.output
    bad = runner.invoke(app, ["series", "find", "--since", "2020-01-01", "--until", "2026-01-01"])
    assert bad.exit_code != 0 and "at most 1098 days" in bad.output
    unknown = runner.invoke(app, ["series", "reject", "NOPE1", "NOPE2"])
    assert unknown.exit_code != 0 and "no case NOPE1 or NOPE2" in unknown.output

    police = create_api_key("police", settings=settings)[1]
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    query = {"since": str(start), "until": str(end), "purpose": "串并"}
    assert client.get("/series", params=query).status_code == 401
    ok = client.get("/series", params=query, headers={"X-API-Key": police})
    assert ok.status_code == 200 and ok.json()["series"] == answer["series"], ok.text
    none = client.get("/series", params=query, headers={"X-API-Key": office})
    assert none.status_code == 200 and none.json()["cases"] == 0
    link = answer["series"][0]["links"][0]
    body = {"a": link["a"], "b": link["b"], "decision": "confirmed", "reason": "现场勘查"}
    done = client.post("/series/decisions", json=body, params={"purpose": "研判"},
                       headers={"X-API-Key": police, "X-User-Id": "zhang.san"})
    assert done.status_code == 200 and done.json()["by"] == "police/zhang.san", done.text
    hidden = client.post("/series/decisions", json=body, params={"purpose": "研判"}, headers={"X-API-Key": office})
    assert hidden.status_code == 404
    assert client.post("/series/decisions", json={**body, "decision": "maybe"}, params={"purpose": "x"},
                       headers={"X-API-Key": police}).status_code == 422
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        log = [dict(r._mapping) for r in conn.execute(text(
            "SELECT agency, entity, status, row_count, what FROM audit.access WHERE entity LIKE 'series%' "
            "ORDER BY id DESC LIMIT 5"))][::-1]
    engine.dispose()
    assert [(r["entity"], r["status"]) for r in log] == [("series", 401), ("series", 200), ("series", 200),
                                                        ("series.decide", 200), ("series.decide", 404)]
    assert log[1]["agency"] == "police" and log[1]["row_count"] == answer["total"]
    assert "series from" in log[1]["what"] and log[2]["agency"] == "street_office_hanbin"
