"""The master person index on PostgreSQL: a demo city through every feed into a fresh database,
linking (COPY in and out), stable ids on re-run, and the profile over HTTP."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import text

from exchange.spec.settings import Settings
from exchange.warehouse.engine import make_engine
from tests.conftest import ADMIN, REPO


@pytest.fixture
def pg_settings(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("EXCHANGE_WAREHOUSE_URL", pg_url)
    monkeypatch.setenv("EXCHANGE_LANDING_DIR", str(tmp_path / "landing"))
    monkeypatch.setenv("EXCHANGE_STAGING_DIR", str(tmp_path / "staging"))
    monkeypatch.setenv("EXCHANGE_REPORTS_DIR", str(tmp_path / "reports"))
    monkeypatch.setenv("EXCHANGE_HOME", str(REPO))
    return Settings.from_env(REPO)


def test_linking_and_profiles_on_postgresql(pg_settings: Settings) -> None:
    from fastapi.testclient import TestClient

    from exchange.api.serve import api_app
    from exchange.spec.catalog import load_catalog
    from exchange.workspace.demo import run_demo
    from exchange.workspace.persons import link_persons

    catalog = load_catalog(REPO)
    result = run_demo(pg_settings, catalog, persons=600, seed=99)
    assert result.mismatches == []
    first = result.linking
    assert first.metrics["precision"] >= 0.99 and first.metrics["recall"] >= 0.99, first.metrics
    assert first.model_trained and first.links_written == first.records

    engine = make_engine(pg_settings.warehouse_url)
    with engine.connect() as conn:
        before = conn.execute(text("SELECT source_agency, entity, source_record_id, role, person_uid "
                                   "FROM mdm.person_link ORDER BY 1, 2, 3, 4")).all()
        uid, id_number = conn.execute(text(
            "SELECT p.person_uid, p.id_number FROM mdm.person p JOIN mdm.person_link l USING (person_uid) "
            "WHERE p.id_number IS NOT NULL GROUP BY 1, 2 HAVING count(DISTINCT l.entity) >= 2 "
            "ORDER BY count(*) DESC, 1 LIMIT 1")).one()
        indexes = {r[0] for r in conn.execute(text("SELECT indexname FROM pg_indexes WHERE schemaname = 'core'"))}
    assert {"ix_person_household_number", "ix_case_case_number"} <= indexes

    again = link_persons(pg_settings, catalog, evaluate=True)
    assert (again.persons_new, again.merges, again.splits, again.links_written) == (0, 0, 0, 0)
    assert again.metrics == first.metrics
    with engine.connect() as conn:
        after = conn.execute(text("SELECT source_agency, entity, source_record_id, role, person_uid "
                                  "FROM mdm.person_link ORDER BY 1, 2, 3, 4")).all()
    assert after == before

    # the one-statement profile (PostgreSQL) and the portable one agree exactly, section by section
    # with the evidence a grant is applied to: every row rule column of the demo grants
    from exchange.access.profile import evidence_columns
    from exchange.linking import ProfileReader
    from exchange.workspace.sharing import load_grants
    reader = ProfileReader(evidence_columns=evidence_columns(load_grants(pg_settings)))
    with engine.connect() as conn:
        sample = [r[0] for r in conn.execute(text(
            "SELECT person_uid FROM (SELECT person_uid, row_number() OVER (PARTITION BY entity ORDER BY person_uid) n "
            "FROM mdm.person_link) x WHERE n <= 12 UNION SELECT person_uid FROM mdm.person_link "
            "GROUP BY person_uid HAVING count(*) >= 4"))]
        assert len(sample) > 40
        for ident in sample:
            fast = reader.profile_json(conn, ident)
            assert fast is not None and fast.person_uid == ident
            assert json.loads(fast.body) == reader.profile_portable(conn, ident), ident
            with_evidence = reader.profile_json(conn, ident, evidence=True)
            doc = json.loads(with_evidence.body)
            assert doc == reader.profile_portable(conn, ident, evidence=True), ident
            assert len(doc["evidence"]) == len(doc["records"]), ident
        assert reader.profile_json(conn, id_number).person_uid == uid
        assert reader.profile_json(conn, "MP9999999999") is None

    with TestClient(api_app(pg_settings, admin_key=ADMIN)) as client:  # the lifespan opens the pool
        got = client.get(f"/persons/{id_number}", headers={"X-API-Key": ADMIN, "X-Purpose": "integration test"})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["person_uid"] == uid
        assert body["identity"]["id_number"]["source"]["batch"]
        assert client.get(f"/persons/{uid}").status_code == 401
        # a server restart breaks the pool's idle connections: the next request is still answered
        with engine.connect() as conn:
            killed = conn.execute(text("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                       "WHERE application_name = 'exchange-profile-api'")).scalar_one()
        assert killed >= 1
        again = client.get(f"/persons/{uid}", headers={"X-API-Key": ADMIN, "X-Purpose": "after a restart"})
        assert again.status_code == 200, again.text
        assert again.json() == {**body, "query": uid}
    engine.dispose()
