"""Sharing on the embedded SQLite warehouse: the views exist with the same masks and rows as on
PostgreSQL (nothing is enforced there), re-applying is idempotent, and a changed or removed grant
replaces or drops its views."""

from __future__ import annotations

import datetime as dt
import shutil
from typing import Any

import pytest
from sqlalchemy import insert, text

from exchange.access import masks
from exchange.access.sqlite import install
from exchange.spec.catalog import load_catalog
from exchange.warehouse.engine import make_engine
from exchange.warehouse.load import ensure_tables
from exchange.warehouse.tables import EntityTables
from exchange.workspace.sharing import sync_grants
from tests.conftest import REPO

KEY = "unit-test-pseudonym-key-0123456789"
NOW = dt.datetime(2026, 11, 28, 12, 0)
ID_HB = "11010519491231002X"  # a valid ID number (check character X)
ID_OTHER = "610902199001021234"


def _row(**values: Any) -> dict[str, Any]:
    return {"source_agency": "police", "_batch_id": "b1", "_row_hash": "h", "_loaded_at": NOW, **values}


CITY: dict[str, list[dict[str, Any]]] = {
    "person": [
        _row(source_record_id="P1", id_number=ID_HB, name="张三", gender="F", birth_date=dt.date(1949, 12, 31),
             phone="13812345678", division_code="610902001001", household_number="H1", ethnicity="汉族"),
        _row(source_record_id="P2", id_number=ID_OTHER, name="李四", gender="M", division_code="610921100001",
             household_number="H2"),
        # no division of its own: in 汉滨区 through its household H1
        _row(source_agency="civil_affairs", source_record_id="C1", name="王五", gender="M", household_number="H1"),
        # no division and a household elsewhere: outside
        _row(source_agency="civil_affairs", source_record_id="C2", name="赵六", gender="F", household_number="H2"),
    ],
    "household": [
        _row(source_agency="civil_affairs", source_record_id="H1", household_number="H1", head_name="张三",
             head_id_number=ID_HB, address="汉滨区", division_code="610902001001", low_income=True),
        _row(source_agency="civil_affairs", source_record_id="H2", household_number="H2", head_name="李四",
             address="汉阴县", division_code="610921100001", low_income=False),
    ],
    "case": [
        _row(source_record_id="A1", case_number="A1", case_type="criminal", reported_date=dt.date(2026, 1, 2),
             division_code="610902001001", status="open"),
        _row(source_record_id="A2", case_number="A2", case_type="incident", reported_date=dt.date(2026, 1, 3),
             division_code="610921100001", status="open"),
    ],
    "case_party": [
        _row(source_record_id="CP1", case_number="A1", role="suspect", id_number=ID_HB, name="张三"),
        _row(source_record_id="CP2", case_number="A2", role="victim", id_number=ID_OTHER, name="李四"),
    ],
    "dispute": [
        _row(source_agency="justice", source_record_id="D1", dispute_number="D1", category="labour",
             status="accepted", accepted_date=dt.date(2026, 2, 1), applicant_name="张三", applicant_id_number=ID_HB,
             applicant_phone="13812345678", division_code="610902001001", summary="工资"),
    ],
    "special_population": [
        _row(source_agency="health", source_record_id="S1", id_number=ID_HB, name="张三",
             programme="severe_mental_disorder", managing_unit="卫生院", start_date=dt.date(2025, 1, 1),
             division_code="610902001001"),
        _row(source_agency="justice", source_record_id="S2", id_number=ID_OTHER, name="李四",
             programme="community_correction", managing_unit="司法所", start_date=dt.date(2025, 1, 1),
             division_code="610902001001"),
    ],
}


def mini_city(engine: Any, catalog: Any) -> None:
    ensure_tables(engine, [catalog.schemas[n] for n in sorted(catalog.schemas)])
    with engine.begin() as conn:
        for entity, rows in CITY.items():
            table = EntityTables(catalog.schemas[entity]).core
            full = [{c.name: r.get(c.name) for c in table.columns} for r in rows]
            conn.execute(insert(table), full)


@pytest.fixture
def shared(settings: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("EXCHANGE_PSEUDONYM_KEY", KEY)
    shutil.copytree(REPO / "grants", settings.root / "grants")
    catalog = load_catalog(settings.root)
    engine = make_engine(settings.warehouse_url, root=settings.root)
    mini_city(engine, catalog)
    engine.dispose()
    return settings


def _query(settings: Any, sql: str) -> list[dict[str, Any]]:
    engine = install(make_engine(settings.warehouse_url, root=settings.root))
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql)).mappings()]
    finally:
        engine.dispose()


def test_apply_creates_views_with_masks_and_rows(shared: Any) -> None:
    result = sync_grants(apply=True, settings=shared)
    assert result.dialect == "sqlite" and result.applied
    assert {c.action for c in result.changes} == {"create_view"}
    street = {r["source_record_id"]: r for r in _query(shared, "SELECT * FROM core.share_street_office_hanbin__person")}
    assert set(street) == {"P1", "C1"}  # C1 through its household; P2 and C2 are outside 汉滨区
    p1 = street["P1"]
    assert p1["id_number"] == "110105**********2X"
    assert p1["name"] == "张*" and p1["phone"] == "138****5678" and p1["birth_date"] == "1949"
    assert "ethnicity" not in p1
    assert p1["household_number"] == "H1"
    parties = _query(shared, "SELECT source_record_id, id_number FROM core.share_police_hanbin__case_party")
    assert parties == [{"source_record_id": "CP1", "id_number": "110105**********2X"}]  # via its case A1
    health = _query(shared, "SELECT source_record_id, id_number FROM core.share_health__special_population")
    key = masks.consumer_key(KEY.encode(), "health")
    assert health == [{"source_record_id": "S1", "id_number": masks.pseudonym(key, ID_HB)}]
    police = _query(shared, "SELECT applicant_id_number FROM core.share_police__dispute")
    assert police[0]["applicant_id_number"] != health[0]["id_number"]  # a key per consumer: not joinable
    assert police[0]["applicant_id_number"].startswith("ps_") and len(police[0]["applicant_id_number"]) == 35


def test_reapplying_changes_nothing_and_check_is_clean(shared: Any) -> None:
    sync_grants(apply=True, settings=shared)
    assert sync_grants(apply=False, settings=shared).changes == []
    assert sync_grants(apply=True, settings=shared).changes == []


def test_a_changed_grant_replaces_its_view_and_a_removed_grant_drops_them(shared: Any) -> None:
    sync_grants(apply=True, settings=shared)
    path = shared.root / "grants" / "street_office_hanbin.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("      phone: partial\n", "      phone: hidden\n", 1),
                    encoding="utf-8")
    (shared.root / "grants" / "health.yaml").unlink()
    check = sync_grants(apply=False, settings=shared)
    got = {(c.action, c.object) for c in check.changes}
    assert got == {("replace_view", "core.share_street_office_hanbin__person"),
                   ("drop_view", "core.share_health__compound"),
                   ("drop_view", "core.share_health__special_population")}
    sync_grants(apply=True, settings=shared)
    row = _query(shared, "SELECT * FROM core.share_street_office_hanbin__person WHERE source_record_id = 'P1'")[0]
    assert "phone" not in row
    assert sync_grants(apply=False, settings=shared).changes == []


def test_grant_changes_are_recorded_in_the_ledger(shared: Any) -> None:
    from exchange.audit import chain

    result = sync_grants(apply=True, settings=shared, by="tester")
    engine = make_engine(shared.warehouse_url, root=shared.root)
    with engine.connect() as conn:
        found = chain.entries(conn, kind="grant_change")
        assert chain.verify(conn).ok
    engine.dispose()
    assert len(found) == len(result.changes)
    payload = found[0].data
    assert payload["by"] == "tester" and payload["grant_sha256"] and payload["grant_file"].startswith("grants/")


def test_cli_grants_check_apply_keys_and_access(shared: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from exchange.cli import app

    monkeypatch.setenv("EXCHANGE_HOME", str(shared.root))
    cli = CliRunner()
    res = cli.invoke(app, ["grants", "check"])
    assert res.exit_code == 1 and "create_view" in res.output and "SQLite enforces nothing" in res.output
    res = cli.invoke(app, ["grants", "apply", "--by", "li"])
    assert res.exit_code == 0, res.output
    assert cli.invoke(app, ["grants", "check"]).exit_code == 0
    res = cli.invoke(app, ["grants", "list"])
    assert res.exit_code == 0 and "street_office_hanbin" in res.output
    res = cli.invoke(app, ["grants", "key", "create", "police", "--label", "case system"])
    assert res.exit_code == 0 and "exk_" in res.output
    res = cli.invoke(app, ["grants", "key", "create", "nobody"])
    assert res.exit_code == 2 and "unknown consumer agency 'nobody'" in res.output
    res = cli.invoke(app, ["grants", "key", "list"])
    assert res.exit_code == 0 and "case system" in res.output
    assert cli.invoke(app, ["grants", "access"]).exit_code == 0
    res = cli.invoke(app, ["sql", "SELECT name FROM core.share_street_office_hanbin__person WHERE source_record_id = "
                                  "'P1'"])
    assert res.exit_code == 0 and "张*" in res.output, res.output
