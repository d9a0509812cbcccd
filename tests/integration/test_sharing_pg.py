"""Sharing on the real PostgreSQL, attacked as each demo consumer would.

A small demo city is loaded (every feed, then person linking), the repository's grants are applied,
and every consumer agency connects with its own login role. Proven here, for every consumer:

- every table of ``core``, ``quarantine``, ``mdm``, ``audit`` (and the pseudonym keys in ``share_fn``)
  refuses its SELECT; so does every view of every *other* consumer;
- no value read from a masked column is an ID number with a valid check character;
- exactly the rows of its jurisdiction come back (compared with the grant's rule evaluated on
  ``core`` by the test), and no others;
- a function the consumer defines and puts in its WHERE clause (the leaky-view attack) sees only
  rows the view lets through, masked — while the same attack on a view without security_barrier
  does leak (the control that shows the test can see a leak);
- SQL injection through grant names, feed names and API parameters is rejected and changes nothing;
- re-applying is a no-op, drift is found by ``check`` and removed by ``apply``, a removed grant loses
  its views, schema and roles.
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors
from sqlalchemy import text

from exchange.access import masks
from exchange.access.changes import group_role
from exchange.access.gate import ProfileGate, Request
from exchange.access.profile import evidence_columns, row_allowed
from exchange.errors import ConfigError
from exchange.formats import resident_id_check_char
from exchange.workspace.sharing import sharing_catalogue, sync_grants
from tests.conftest import ADMIN, REPO
from tests.pg_city import KEY, City, demo_city
from tests.pg_city import denied as _denied

PROTECTED = ("core", "quarantine", "mdm", "audit")
VALID_ID = re.compile(r"[0-9]{17}[0-9X]")


def is_valid_id(value: Any) -> bool:
    s = str(value)
    return bool(VALID_ID.fullmatch(s)) and resident_id_check_char([s[:17]]).to_pylist()[0] == s[17]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Iterator[City]:
    yield from demo_city(tmp_path_factory.mktemp("sharing"))


def _admin_rows(city: City, sql: str, **params: Any) -> list[Any]:
    return city.rows(sql, **params)


def _consumers(city: City) -> list[str]:
    return [g.consumer for g in city.grants]



# --- the state ------------------------------------------------------------------------------------------


def test_apply_is_idempotent(city: City) -> None:
    assert sync_grants(apply=False, settings=city.settings).changes == []
    assert sync_grants(apply=True, settings=city.settings).changes == []
    changes = _admin_rows(city, "SELECT count(*) FROM audit.ledger WHERE kind = 'grant_change'")[0][0]
    assert changes > 20  # the first apply, every change on record
    assert _admin_rows(city, "SELECT count(*) FROM core.person")[0][0] > 100


def test_login_passwords_come_from_the_environment(city: City) -> None:
    for role, pw in city.passwords.items():
        stored = _admin_rows(city, "SELECT rolpassword FROM pg_authid WHERE rolname = :r", r=role)[0][0]
        assert stored and stored.startswith("SCRAM-SHA-256$") and pw not in stored


# --- item 4: what a consumer cannot read -----------------------------------------------------------------


def test_every_protected_table_refuses_every_consumer(city: City) -> None:
    tables = _admin_rows(city, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname = ANY(:s) "
                               "UNION ALL SELECT schemaname, viewname FROM pg_views WHERE schemaname = ANY(:s)",
                         s=[*PROTECTED, "share_fn"])
    names = {f"{s}.{t}" for s, t in tables}
    assert {"core.person", "core.case_party", "quarantine.person", "mdm.person", "mdm.person_link",
            "audit.batch", "audit.ledger", "audit.access", "audit.api_key", "share_fn.pseudonym_key"} <= names
    for agency in _consumers(city):
        with city.consumer(agency) as conn:
            for schema, table in tables:
                assert _denied(conn, f'SELECT 1 FROM "{schema}"."{table}" LIMIT 1'), f"{agency} read {schema}.{table}"
            # nor as its group role (a login may SET ROLE to it), nor by creating anything there
            conn.execute(f'SET ROLE "{group_role(city.prefix, agency)}"')
            assert _denied(conn, "SELECT 1 FROM core.person LIMIT 1")
            conn.execute("RESET ROLE")
            for schema in (*PROTECTED, "share_fn", f"share_{agency}"):
                assert _denied(conn, f'CREATE TABLE "{schema}".x (a int)'), f"{agency} created in {schema}"


def test_views_outside_the_grant_are_refused(city: City) -> None:
    views = _admin_rows(city, r"SELECT schemaname, viewname FROM pg_views WHERE schemaname LIKE 'share\_%' "
                              r"AND schemaname <> 'share_fn' UNION ALL SELECT schemaname, matviewname "
                              r"FROM pg_matviews WHERE schemaname LIKE 'share\_%'")
    assert len(views) == sum(len(g.entities) for g in city.grants)
    for agency in _consumers(city):
        g = city.grants.get(agency)
        with city.consumer(agency) as conn:
            for schema, view in views:
                if schema == g.schema_name:
                    conn.execute(f'SELECT * FROM "{schema}"."{view}" LIMIT 1').fetchall()
                else:
                    assert _denied(conn, f'SELECT * FROM "{schema}"."{view}" LIMIT 1'), f"{agency} read {schema}.{view}"
            for entity in g.withheld:  # a withheld entity has no view at all
                with pytest.raises(pg_errors.UndefinedTable):
                    conn.execute(f'SELECT 1 FROM "{g.schema_name}"."{entity}"')
            for entity, share in g.entities.items():  # hidden columns do not exist in the view
                for column in share.hidden:
                    with pytest.raises(pg_errors.UndefinedColumn):
                        conn.execute(f'SELECT "{column}" FROM "{g.schema_name}"."{entity}"')


def test_masked_columns_never_hold_a_valid_id_number(city: City) -> None:
    checked = 0
    for g in city.grants:
        with city.consumer(g.consumer) as conn:
            for entity, share in g.entities.items():
                masked = [r.name for r in share.columns if r.treatment != "full"]
                if not masked:
                    continue
                cols = ", ".join(f'"{c}"' for c in masked)
                for row in conn.execute(f'SELECT {cols} FROM "{g.schema_name}"."{entity}"'):
                    for value in row:
                        if value is not None:
                            checked += 1
                            assert not is_valid_id(value), f"{g.consumer}.{entity}: {value}"
    assert checked > 500
    # and the ID columns that are masked did hold valid ID numbers in core
    raw = _admin_rows(city, "SELECT id_number FROM core.person WHERE id_number IS NOT NULL LIMIT 50")
    assert sum(is_valid_id(r[0]) for r in raw) > 40


def test_masks_in_the_database_equal_the_python_masks(city: City) -> None:
    rows = _admin_rows(city, "SELECT d.applicant_id_number AS raw, v.applicant_id_number AS shared "
                             "FROM core.dispute d JOIN share_police.dispute v USING (source_agency, source_record_id)")
    key = masks.consumer_key(KEY.encode(), "police")
    assert rows
    for r in rows:
        assert r.shared == masks.pseudonym(key, r.raw)
    rows = _admin_rows(city, "SELECT d.applicant_phone AS phone, v.applicant_phone AS phone_shared, d.applicant_name "
                             "AS name, v.applicant_name AS name_shared FROM core.dispute d "
                             "JOIN share_street_office_hanbin.dispute v USING (source_agency, source_record_id)")
    assert rows
    for r in rows:
        assert r.phone_shared == masks.partial("phone", r.phone)
        assert r.name_shared == masks.partial("name", r.name)


def _keys_allowed(city: City, g: Any, entity: str) -> tuple[set[tuple[str, str]], int]:
    """The rows the grant allows, by evaluating its rule on core (admin) — independently of the view."""
    share = g.entities[entity]
    rows = [dict(r._mapping) for r in _admin_rows(city, f'SELECT * FROM core."{entity}"')]
    related: dict[Any, list[str]] = {}
    if share.rows.via_entity:
        col, div = share.rows.via_column, share.rows.via_division_column
        for r in _admin_rows(city, f'SELECT "{col}", "{div}" FROM core."{share.rows.via_entity}"'):
            related.setdefault(r[0], []).append(r[1])
    keep = set()
    for r in rows:
        linked = related.get(r.get(share.rows.via_column), []) if share.rows.via_column else []
        if row_allowed(share, r, linked):
            keep.add((r["source_agency"], r["source_record_id"]))
    return keep, len(rows)


def test_only_rows_of_the_jurisdiction_come_back(city: City) -> None:
    restricted = 0
    for g in city.grants:
        with city.consumer(g.consumer) as conn:
            for entity, share in g.entities.items():
                got = {(a, r) for a, r in conn.execute(
                    f'SELECT source_agency, source_record_id FROM "{g.schema_name}"."{entity}"')}
                want, total = _keys_allowed(city, g, entity)
                assert got == want, f"{g.consumer}.{entity}: {len(got - want)} extra, {len(want - got)} missing"
                if not share.rows.unrestricted:
                    assert got, f"{g.consumer}.{entity}: no row at all"
                    restricted += len(got) < total  # the filter excluded rows the consumer may not see
                if share.rows.regions and share.rows.division_column and share.column(share.rows.division_column):
                    for (division,) in conn.execute(f'SELECT "{share.rows.division_column}" FROM '
                                                    f'"{g.schema_name}"."{entity}" WHERE "{share.rows.division_column}"'
                                                    f' IS NOT NULL'):
                        assert any(division.startswith(r.code) for r in share.rows.regions)
    assert restricted >= 8  # the test data exercises the filters


def test_a_consumer_function_cannot_see_filtered_rows(city: City) -> None:
    """The leaky-view attack: a cheap function in the consumer's WHERE clause, raising a NOTICE with what
    it is given, would be evaluated before the view's own filter if the view were not security_barrier."""
    g = city.grants.get("street_office_hanbin")
    allowed, total = _keys_allowed(city, g, "person")
    leak = ("CREATE FUNCTION pg_temp.leak(a text, b text, c text) RETURNS boolean LANGUAGE plpgsql COST 0.0000001 "
            "AS $f$ BEGIN RAISE NOTICE 'LEAK|%|%|%', a, b, c; RETURN true; END $f$")

    def attack(conn: psycopg.Connection, relation: str) -> list[list[str]]:
        seen: list[str] = []
        conn.add_notice_handler(lambda d: seen.append(d.message_primary or ""))
        conn.execute(leak)
        conn.execute(f"SELECT count(*) FROM {relation} WHERE pg_temp.leak(source_agency || ':' || source_record_id, "
                     f"division_code, id_number) AND division_code LIKE '6%'").fetchall()
        return [s.split("|")[1:] for s in seen if s.startswith("LEAK|")]

    grp = group_role(city.prefix, "street_office_hanbin")
    # a consumer has nowhere to create a function
    with city.consumer("street_office_hanbin") as conn, pytest.raises(pg_errors.InsufficientPrivilege):
        conn.execute(leak)
    # as if TEMPORARY had been left to it (PUBLIC's default): security_barrier still holds
    city.execute(f'GRANT TEMPORARY ON DATABASE "{city.dbname}" TO "{grp}"')
    try:
        with city.consumer("street_office_hanbin") as conn:
            seen = attack(conn, "share_street_office_hanbin.person")
    except BaseException:
        city.execute(f'REVOKE TEMPORARY ON DATABASE "{city.dbname}" FROM "{grp}"')
        raise
    assert seen, "the function must have run"
    assert {tuple(s[0].split(":", 1)) for s in seen} <= allowed
    for _key, division, id_number in seen:
        assert division in ("", "None") or division.startswith("610902")
        assert not is_valid_id(id_number)

    # control: the same view without security_barrier, readable by the same role — the attack leaks
    engine = city.admin()
    select = _admin_rows(city, "SELECT pg_get_viewdef('share_street_office_hanbin.person'::regclass)")[0][0]
    with engine.begin() as conn:
        conn.execute(text("CREATE SCHEMA leak_control"))
        conn.execute(text(f"CREATE VIEW leak_control.person AS {select}"))
        conn.execute(text(f'GRANT USAGE ON SCHEMA leak_control TO "{grp}"'))
        conn.execute(text(f'GRANT SELECT ON leak_control.person TO "{grp}"'))
    try:
        with city.consumer("street_office_hanbin") as conn:
            leaked = attack(conn, "leak_control.person")
        outside = {tuple(s[0].split(":", 1)) for s in leaked} - allowed
        assert outside, "control: without security_barrier the function sees rows outside the jurisdiction"
    finally:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA leak_control CASCADE"))
            conn.execute(text(f'REVOKE TEMPORARY ON DATABASE "{city.dbname}" FROM "{grp}"'))
        engine.dispose()
    assert len(allowed) < total


def test_no_pseudonym_oracle_and_no_key_in_sight(city: City) -> None:
    with city.consumer("health") as conn:
        assert _denied(conn, "SELECT * FROM share_fn.pseudonym_key")
        functions = {r[0] for r in conn.execute("SELECT proname FROM pg_proc WHERE pronamespace = "
                                                "'share_fn'::regnamespace")}
        assert functions == {"mask_id", "mask_phone", "mask_credit_code", "mask_division", "mask_name", "mask_year"}
        assert _denied(conn, "SELECT definition FROM pg_views")  # no agency reads another's rules either
    definitions = " ".join(r[0] for r in _admin_rows(city, "SELECT pg_get_viewdef(c.oid) FROM pg_class c WHERE "
                                                           "c.relnamespace = 'share_health'::regnamespace AND "
                                                           "c.relkind IN ('v', 'm')"))
    key = masks.consumer_key(KEY.encode(), "health")
    assert "pseudonym_key" in definitions and key.hex() not in definitions and KEY not in definitions


# --- SQL injection ---------------------------------------------------------------------------------------


def _fingerprint(city: City) -> tuple[int, int, int]:
    return tuple(_admin_rows(city, "SELECT (SELECT count(*) FROM core.person), (SELECT count(*) FROM audit.batch), "
                                   "(SELECT count(*) FROM pg_roles)")[0])


def test_injection_through_grant_names_is_rejected(city: City, tmp_path: Path) -> None:
    before = _fingerprint(city)
    root = tmp_path / "project"
    for d in ("schemas", "feeds", "grants"):
        shutil.copytree(REPO / d, root / d)
    text_ = (root / "grants" / "health.yaml").read_text(encoding="utf-8")
    evil = {
        'consumer: health"; DROP TABLE core.person; --': "consumer",
        "jurisdiction: [\"6109' OR TRUE OR '\"]": "jurisdiction.0",
        "logins: [\"followup; DROP ROLE postgres\"]": "logins.0",
    }
    for line, where in evil.items():
        key = line.split(":", 1)[0]
        bad = re.sub(rf"^{key}:.*$", line, text_, count=1, flags=re.M)
        (root / "grants" / "health.yaml").write_text(bad, encoding="utf-8")
        with pytest.raises(ConfigError) as info:
            sync_grants(apply=True, settings=dataclasses.replace(city.settings, root=root))
        assert any(f"grants/health.yaml: {where}" in p for p in info.value.problems), info.value.problems
    assert _fingerprint(city) == before
    assert sync_grants(apply=False, settings=city.settings).changes == []


def test_injection_through_feed_names_is_rejected(city: City) -> None:
    from exchange.runner import run_feed
    before = _fingerprint(city)
    for name in ("police.residents'; DROP TABLE core.person; --", 'police"."residents', "x; SELECT pg_sleep(10)"):
        with pytest.raises(ConfigError, match="unknown feed"):
            run_feed(name, settings=city.settings)
    with pytest.raises(ConfigError, match="unknown consumer agency"):
        sharing_catalogue("police'; DROP TABLE audit.batch; --", settings=city.settings)
    assert _fingerprint(city) == before


def test_injection_through_api_parameters_is_inert(city: City) -> None:
    from exchange import linking
    from exchange.access.keys import create_key

    engine = city.admin()
    reader = linking.ProfileReader(evidence_columns=evidence_columns(city.grants))

    def profile(ident: str, evidence: bool) -> Any:
        with engine.connect() as conn:
            return reader.profile(conn, ident, evidence)

    gate = ProfileGate(engine, city.grants, profile, master=KEY.encode())
    with engine.begin() as conn:
        _, token = create_key(conn, "civil_affairs", label="integration")
    before = _fingerprint(city)
    for ident in ("' OR '1'='1", "MP0000000001' UNION SELECT * FROM core.person --", "61090219900101101X'--"):
        answer = gate.handle(Request(token, ident, purpose="x'); DROP TABLE core.person; --",
                                     case_number="' OR 1=1", user_id="u"))
        assert answer.status in (400, 404)
    assert _fingerprint(city) == before
    uid = _admin_rows(city, "SELECT person_uid FROM mdm.person p WHERE status = 'active' "
                            "AND division_code LIKE '6109%' ORDER BY person_uid LIMIT 1")[0][0]
    ok = gate.handle(Request(token, uid, purpose="低保审核", case_number="MZ-2026-001", user_id="caseworker7"))
    assert ok.status == 200, ok.body
    assert not is_valid_id(ok.body["identity"].get("id_number", {}).get("value", ""))
    rows = _admin_rows(city, "SELECT agency, purpose, case_number, user_id, status, subject FROM audit.access "
                             "WHERE agency = 'civil_affairs' ORDER BY id")  # the demo's own reads are the operator's
    assert rows[-1] == ("civil_affairs", "低保审核", "MZ-2026-001", "caseworker7", 200, uid)
    assert rows[0].purpose == "x'); DROP TABLE core.person; --"
    engine.dispose()


def test_async_api_answers_exactly_as_the_blocking_gate(city: City) -> None:
    """The PostgreSQL API serves on the event loop over asynchronous connections
    (``exchange.access.gate_pg``); the blocking gate is the reference. Same statuses, same
    documents (masks and rows of the grant; the admin key's profile passed through as the database
    built it), and the same ``audit.access`` rows — refused requests included."""
    import json

    from fastapi.testclient import TestClient

    from exchange import linking
    from exchange.access.keys import create_key, revoke_key
    from exchange.api.serve import api_app
    engine = city.admin()
    reader = linking.ProfileReader(evidence_columns=evidence_columns(city.grants))

    def profile(ident: str, evidence: bool) -> Any:
        with engine.connect() as conn:
            return reader.profile_json(conn, ident, evidence)

    blocking = ProfileGate(engine, city.grants, profile, master=KEY.encode(), admin_key=ADMIN,
                           rank=linking.load_link_config(REPO).survivorship.rank)
    with engine.begin() as conn:
        _, civil = create_key(conn, "civil_affairs", label="async")
        _, health = create_key(conn, "health", label="async")
        revoked_id, revoked = create_key(conn, "justice", label="revoked")
        revoke_key(conn, revoked_id)
    people = _admin_rows(city, "SELECT person_uid, id_number FROM mdm.person WHERE status = 'active' "
                               "ORDER BY person_uid LIMIT 12")
    merged = _admin_rows(city, "SELECT person_uid FROM mdm.person WHERE status <> 'active' LIMIT 2")
    idents = [r[0] for r in people] + [r[1] for r in people if r[1]][:6] + [r[0] for r in merged]
    idents += ["MP9999999999", "110101199003077777", "not an id"]
    asks = [(token, ident, "复核") for token in (ADMIN, civil, health) for ident in idents]
    asks += [(None, idents[0], "x"), (revoked, idents[0], "x"), ("exk_000000000000." + "a" * 43, idents[0], "x"),
             (civil, idents[0], None), (ADMIN, "x" * 80, "x")]
    (start,) = _admin_rows(city, "SELECT coalesce(max(id), 0) FROM audit.access")[0]
    statuses = set()
    with TestClient(api_app(city.settings, admin_key=ADMIN)) as client:
        for token, ident, purpose in asks:
            headers = {"X-User-Id": "u1"} | ({"X-API-Key": token} if token else {})
            got = client.get(f"/persons/{ident}", headers=headers, params={"purpose": purpose} if purpose else {})
            want = blocking.handle(Request(token, ident, purpose=purpose, user_id="u1", client="testclient",
                                           path=f"/persons/{ident}"))
            assert got.status_code == want.status, (token, ident, got.text)
            assert got.json() == json.loads(want.json()), (token, ident)
            statuses.add(got.status_code)
    assert {200, 400, 401, 404} <= statuses
    cols = "agency, key_id, user_id, purpose, channel, what, entity, subject, row_count, status, outcome, client"
    log = _admin_rows(city, f"SELECT {cols} FROM audit.access WHERE id > :start ORDER BY id", start=start)
    assert len(log) == 2 * len(asks)
    assert log[0::2] == log[1::2]  # served (async) then reference (blocking), request by request
    engine.dispose()


# --- drift and removal (last: they change the grants) -----------------------------------------------------


def test_drift_is_found_and_removed(city: City) -> None:
    grp = group_role(city.prefix, "health")
    engine = city.admin()
    with engine.begin() as conn:
        conn.execute(text(f'GRANT USAGE ON SCHEMA core TO "{grp}"'))
        conn.execute(text(f'GRANT SELECT ON core.person TO "{grp}"'))
        conn.execute(text(f'GRANT SELECT (id_number) ON core.special_population TO "{grp}"'))
        conn.execute(text("ALTER VIEW share_police.person SET (security_barrier = false)"))
    engine.dispose()
    with city.consumer("health") as conn:
        conn.execute("SELECT 1 FROM core.person LIMIT 1").fetchall()  # the drift is real
    found = {(c.action, c.object) for c in sync_grants(apply=False, settings=city.settings).changes}
    assert {("revoke", "core"), ("revoke", "core.person"), ("revoke", "core.special_population.id_number"),
            ("replace_view", "share_police.person")} <= found
    sync_grants(apply=True, settings=city.settings)
    assert sync_grants(apply=False, settings=city.settings).changes == []
    with city.consumer("health") as conn:
        assert _denied(conn, "SELECT 1 FROM core.person LIMIT 1")
        conn.execute("SELECT * FROM share_health.special_population").fetchall()


def test_a_removed_grant_loses_its_views_schema_and_roles(city: City, tmp_path: Path) -> None:
    root = tmp_path / "project"
    for d in ("schemas", "feeds", "grants"):
        shutil.copytree(REPO / d, root / d)
    (root / "grants" / "police_hanbin.yaml").unlink()
    narrowed = root / "grants" / "street_office_hanbin.yaml"
    narrowed.write_text(narrowed.read_text(encoding="utf-8").replace(
        "      amount: full\n", "      amount: hidden\n"), encoding="utf-8")
    settings = dataclasses.replace(city.settings, root=root)
    changes = sync_grants(apply=True, settings=settings).changes
    actions = {(c.action, c.object) for c in changes}
    assert ("drop_schema", "share_police_hanbin") in actions
    assert ("drop_role", group_role(city.prefix, "police_hanbin")) in actions
    assert ("replace_view", "share_street_office_hanbin.dispute") in actions
    assert sync_grants(apply=False, settings=settings).changes == []
    gone = group_role(city.prefix, "police_hanbin")
    assert not _admin_rows(city, "SELECT 1 FROM pg_roles WHERE rolname = :r", r=gone)
    with city.consumer("street_office_hanbin") as conn, pytest.raises(pg_errors.UndefinedColumn):
        conn.execute("SELECT amount FROM share_street_office_hanbin.dispute")
    sync_grants(apply=True, settings=city.settings)  # back to the repository's grants
    assert sync_grants(apply=False, settings=city.settings).changes == []
    assert os.environ.get("EXCHANGE_GRANT_ROLE_PREFIX") == city.prefix
