"""The dispute-mediation centre's queues end to end on the embedded warehouse (the investigation city of
tests/e2e/conftest.py): the disputes past a time limit are those the city planted as overdue (a dispute
whose step rows a seeded defect quarantined is left out: its flow has a hole the centre would see too);
every window accounted for; the grants decide which disputes a queue holds; the command, the HTTP route
and the console page, on record."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import text

from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from exchange.workspace.mediation import mediation_queues
from tests.e2e.test_investigate import ADMIN_KEY


def _rows(settings: Settings, sql: str) -> list[Any]:
    engine = make_engine(settings.warehouse_url, root=settings.root)
    with engine.connect() as conn:
        rows = list(conn.execute(text(sql)))
    engine.dispose()
    return rows


def _holes(settings: Settings) -> tuple[set[str], int]:
    """Disputes with a quarantined step, and how many quarantined steps name no dispute at all."""
    named, anonymous = set(), 0
    for (original,) in _rows(settings, "SELECT original FROM quarantine.dispute_step"):
        number = json.loads(original).get("登记编号")
        if number:
            named.add(number)
        else:
            anonymous += 1
    return named, anonymous


def test_the_overdue_disputes_are_those_the_city_planted(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    as_of = f"{truth.mediation['today']}T00:00"
    out = mediation_queues(as_of=as_of, settings=settings, purpose="mediation test")
    holes, anonymous = _holes(settings)
    found = {x["dispute_number"] for x in out["overdue"]} - holes
    planted = set(truth.mediation["overdue"]) - holes
    print(f"\nmediation queues on the e2e city: {out['disputes']} disputes, {len(truth.mediation['open'])} open, "
          f"{len(truth.mediation['overdue'])} planted overdue; found {len(found)} overdue "
          f"({len(found & planted)} planted, {len(found - planted)} others, {len(planted - found)} missed; "
          f"{len(holes)} disputes with a quarantined step left out, {anonymous} steps naming none)")
    assert planted and len(found ^ planted) <= anonymous, (found, planted)
    assert {w["window"] for w in out["windows"]} == set(out["labels"]["dispute_category"])
    assert sum(w["overdue"] for w in out["windows"]) == out["total_overdue"]
    for x in out["overdue"]:
        assert x["days"] > x["limit_days"] and x["over_by"] > 0
    traffic = mediation_queues("traffic_accident", as_of, settings=settings, purpose="x")
    assert [w["window"] for w in traffic["windows"]] == ["traffic_accident"]
    assert all(x["window"] == "traffic_accident" for x in traffic["overdue"])


def test_each_grant_queues_only_the_disputes_it_may_read(city: tuple[Settings, Any]) -> None:
    settings, truth = city
    as_of = f"{truth.mediation['today']}T00:00"
    everything = mediation_queues(as_of=as_of, settings=settings, purpose="x")
    district = mediation_queues(as_of=as_of, agency="street_office_hanbin", settings=settings, purpose="x")
    assert 0 < district["disputes"] < everything["disputes"]
    assert all(str(x["division_code"]).startswith("610902") for x in district["overdue"])
    inside = _rows(settings, "SELECT count(DISTINCT dispute_number) FROM core.dispute_step WHERE division_code "
                             "LIKE '610902%'")[0][0]
    assert district["disputes"] == inside
    for agency in ("health", "civil_affairs", "police_hanbin"):  # withheld
        assert mediation_queues(as_of=as_of, agency=agency, settings=settings, purpose="x")["disputes"] == 0


def test_the_command_route_and_page_answer_through_the_gate(city: tuple[Settings, Any]) -> None:
    from fastapi.testclient import TestClient
    from typer.testing import CliRunner

    from exchange.api.serve import api_app
    from exchange.cli import app
    from exchange.workspace.sharing import create_api_key

    settings, truth = city
    printed = CliRunner().invoke(app, ["mediation", "--as-of", truth.mediation["today"], "--purpose", "cli"])
    assert printed.exit_code == 0 and "overdue" in printed.output, printed.output
    bad = CliRunner().invoke(app, ["mediation", "--window", "nonsense"])
    assert bad.exit_code != 0 and "one of traffic_accident" in bad.output.replace("\n", "")
    office = create_api_key("street_office_hanbin", settings=settings)[1]
    client = TestClient(api_app(settings, admin_key=ADMIN_KEY))
    ok = client.get("/mediation", params={"purpose": "网格", "as_of": truth.mediation["today"]},
                    headers={"X-API-Key": office})
    assert ok.status_code == 200 and ok.json()["disputes"] > 0, ok.text
    log = _rows(settings, "SELECT agency, status, what FROM audit.access WHERE entity = 'mediation' ORDER BY id DESC "
                          "LIMIT 1")
    assert log[0][0] == "street_office_hanbin" and log[0][1] == 200 and "mediation queues" in log[0][2]
