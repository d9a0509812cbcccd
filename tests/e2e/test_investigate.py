"""The investigation tools end to end on the embedded warehouse, on a city of another seed and size than
the demo's: element search scored per hard case (tests/search_cases.py, generated independently of the
demo's code), the relation graph against the groups that move together, timelines, the HTTP routes and
the access log. Reports are printed (pytest -s shows them)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from exchange.spec.catalog import load_catalog
from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.investigate import ToolRequest, investigate
from tests.conftest import REPO
from tests.search_cases import CASES, generate, score

ADMIN_KEY = "investigate-admin-key-" + "x" * 24


def _engine(settings: Settings) -> Any:
    return make_engine(settings.warehouse_url, root=settings.root)


def _uids(settings: Settings, truth: Any) -> dict[str, str]:
    """person key of the city → its person_uid (through any record of the person the index linked)."""
    from exchange.workspace.persons import demo_truth_keys

    keys = demo_truth_keys(truth, load_catalog(REPO))
    engine = _engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT source_agency, entity, source_record_id, role, person_uid "
                                 "FROM mdm.person_link")).all()
    engine.dispose()
    return {keys[tuple(r[:4])]: r[4] for r in rows if tuple(r[:4]) in keys}


def test_search_finds_each_hard_case(city: tuple[Settings, Any]) -> None:
    from exchange.access.lens import Lens
    from exchange.workspace.investigate import run_tool
    from exchange.workspace.space import Workspace

    settings, _truth = city
    with Workspace(settings) as ws:  # the search itself, without the per-call access log (tested below)
        with ws.engine.connect() as conn:
            cases = list(generate(conn, per_case=50, seed=3))
        scores = score(cases, lambda q, k: run_tool(ws.engine, ws, Lens(None), ToolRequest("search", q, kind=k,
                                                                                          limit=200))[0])
    print("\nelement search, per hard case (operator, city seed 31):")
    for s in scores.values():
        print("  " + s.line())
    assert set(scores) == set(CASES) - {"name_traditional"} or set(scores) == set(CASES)
    for s in scores.values():
        assert s.recall >= 0.95, s.line()
        if s.case.startswith(("id_full", "plate_exact", "phone_full")):
            assert s.first == s.n, s.line()


def test_the_graph_finds_the_groups_that_move_together(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    uids = _uids(settings, truth)
    from exchange.workspace.space import Workspace

    found = expected = noise = edges = 0
    ws = Workspace(settings).__enter__()
    for group in truth.groups:
        members = [uids[k] for k in group["members"] if k in uids]
        out = investigate(ToolRequest("graph", members[0]), settings=settings, purpose="graph test")
        assert out is not None
        co = {(e["source"], e["target"]) for e in out["edges"] if e["kind"] == "co_presence"}
        linked = {b if a == members[0] else a for a, b in co}
        expected += len(members) - 1
        found += len(linked & set(members[1:]))
        edges += len(co)
        noise += len(linked - set(members))
        for e in out["edges"]:
            assert e["evidence"] and all(r["batch"] for ev in e["evidence"] for r in ev["records"])
    ws.__exit__(None, None, None)
    print(f"\nco-presence edges from one member of each of {len(truth.groups)} groups: found {found}/{expected} "
          f"members, {noise} of {edges} edges to non-members")
    # a member whose register row or events were quarantined (seeded defects) can fall below the
    # co-presence threshold (3 times at 2+ places): recall is measured, not assumed perfect
    assert found >= 0.8 * expected
    assert noise <= 0.2 * max(1, edges)


def test_a_timeline_is_in_time_order_and_follows_the_grant(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    uids = _uids(settings, truth)
    member = uids[truth.groups[0]["members"][0]]
    police = investigate(ToolRequest("timeline", member), agency="police", settings=settings, purpose="t")
    assert police is not None and police["entries"]
    times = [str(e["at"]) for e in police["entries"]]
    assert times == sorted(times)
    assert {e["kind"] for e in police["entries"]} & {"internet_session", "hotel_stay", "checkpoint_pass"}
    for e in police["entries"]:
        assert e["agency"] and e["record"] and e["batch"]
    office = investigate(ToolRequest("timeline", member), agency="street_office_hanbin", settings=settings,
                         purpose="t")
    kinds = {e["kind"] for e in (office or {}).get("entries", [])}
    assert not kinds & {"internet_session", "hotel_stay", "checkpoint_pass", "compound_access", "vehicle"}


def test_every_use_is_on_record_with_the_query_masked(city: tuple[Settings, Any]) -> None:
    settings, _truth = city
    engine = _engine(settings)
    with engine.connect() as conn:
        id_number = conn.execute(text("SELECT id_number FROM core.person WHERE id_number IS NOT NULL LIMIT 1")).scalar()
        before = conn.execute(text("SELECT count(*) FROM audit.access")).scalar()
    found = investigate(ToolRequest("search", id_number), settings=settings, purpose="记录测试", case_number="A-1")
    assert found is not None and found["groups"]
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(
            "SELECT * FROM audit.access ORDER BY id DESC LIMIT :n"), {"n": 1})]
        after = conn.execute(text("SELECT count(*) FROM audit.access")).scalar()
    engine.dispose()
    assert after == before + 1
    row = rows[0]
    assert row["entity"] == "search" and row["purpose"] == "记录测试" and row["case_number"] == "A-1"
    assert row["row_count"] == found["hits"] and row["channel"] == "cli"
    assert id_number not in json.dumps(row, default=str, ensure_ascii=False)
    assert id_number[:6] in row["what"]


def test_the_http_routes_go_through_the_gate(city: tuple[Settings, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app
    from exchange.workspace.sharing import create_api_key

    settings, truth = city
    uids = _uids(settings, truth)
    police = create_api_key("police", settings=settings)[1]
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    engine = _engine(settings)
    with engine.connect() as conn:
        plate = conn.execute(text("SELECT plate FROM core.vehicle LIMIT 1")).scalar()
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    assert client.get("/search", params={"q": plate}).status_code == 401
    assert client.get("/search", params={"q": plate}, headers={"X-API-Key": police}).status_code == 400  # no purpose
    ok = client.get("/search", params={"q": plate, "purpose": "盘查"}, headers={"X-API-Key": police})
    assert ok.status_code == 200 and ok.json()["groups"][0]["hits"][0]["value"] == plate
    hidden = client.get("/search", params={"q": plate, "purpose": "网格"}, headers={"X-API-Key": office})
    assert hidden.status_code == 200 and hidden.json()["groups"] == []
    member = uids[truth.groups[0]["members"][0]]
    graph = client.get(f"/persons/{member}/graph", params={"purpose": "x", "depth": 2}, headers={"X-API-Key": police})
    assert graph.status_code == 200 and graph.json()["edges"]
    timeline = client.get(f"/persons/{member}/timeline", params={"purpose": "x"}, headers={"X-API-Key": police})
    assert timeline.status_code == 200 and timeline.json()["entries"]
    assert client.get("/persons/MP9999999999/graph", params={"purpose": "x"},
                      headers={"X-API-Key": police}).status_code == 404
    bad = client.get("/search", params={"q": "陕G1??45", "kind": "plate", "purpose": "x"},
                     headers={"X-API-Key": police})
    assert bad.status_code == 400 and "one unreadable character" in bad.json()["error"]
    with engine.connect() as conn:
        log = [dict(r._mapping) for r in conn.execute(text(
            "SELECT agency, entity, status, row_count, what FROM audit.access ORDER BY id DESC LIMIT 8"))][::-1]
    engine.dispose()
    assert [(r["entity"], r["status"]) for r in log[-8:]] == [
        ("search", 401), ("search", 400), ("search", 200), ("search", 200), ("graph", 200), ("timeline", 200),
        ("graph", 404), ("search", 400)]
    assert all(plate not in (r["what"] or "") for r in log)
    assert log[3]["agency"] == "street_office_hanbin" and log[3]["row_count"] == 0


def test_the_commands_print_what_the_component_answers(city: tuple[Settings, Any]) -> None:
    from typer.testing import CliRunner

    from exchange.cli import app

    settings, truth = city
    uids = _uids(settings, truth)
    member = uids[truth.groups[0]["members"][0]]
    runner = CliRunner()
    found = runner.invoke(app, ["search", member[:0] + "陕G", "--kind", "plate"])
    assert found.exit_code == 2 and "cannot be searched as plate" in found.output
    graph = runner.invoke(app, ["graph", member, "--json", "--agency", "police", "--purpose", "cli test"])
    assert graph.exit_code == 0, graph.output
    assert json.loads(graph.output)["root"] == member
    table = runner.invoke(app, ["timeline", member, "--since", "2020-01-01"])
    assert table.exit_code == 0 and member in table.output
    assert runner.invoke(app, ["timeline", "MP9999999999"]).exit_code == 1
    bad = runner.invoke(app, ["timeline", member, "--since", "yesterday"])
    assert bad.exit_code == 2 and "2026-11-01" in bad.output
