"""M5 and the lineage finding: what someone able to bypass triggers (a superuser, or
``session_replication_role = replica``) can change is found by ``exchange audit verify``: deleted or
rewritten access-log rows (sealed ranges), API keys created, re-enabled or altered behind the exchange's
back, a batch row with no ledger record, a warehouse row edited after it was loaded."""

from __future__ import annotations

from exchange.access.gate import ProfileGate, Request
from exchange.workspace.audit import row_lineage, seal_access_log, verify_audit
from exchange.workspace.sharing import create_api_key, revoke_api_key
from tests.pg_city import City


def _requests(city: City, n: int) -> None:
    engine = city.admin()
    token = create_api_key("police", label="tamper test", settings=city.settings)[1]
    gate = ProfileGate(engine, city.grants, lambda _ident, _evidence: None)
    for i in range(n):
        gate.handle(Request(token, f"MP{i:010d}", purpose=f"核查 {i}", user_id="u1"))
    engine.dispose()


def _bypass(city: City, *statements: str) -> None:
    city.execute("SET LOCAL session_replication_role = replica", *statements)


def test_a_deleted_or_rewritten_access_row_is_found(city: City) -> None:
    _requests(city, 6)
    assert seal_access_log(settings=city.settings, settle_seconds=0) is not None
    clean = verify_audit(settings=city.settings)
    assert clean.verification.ok and not [m for m in clean.mismatches if "audit.access" in m], clean.mismatches
    assert clean.unsealed_access_rows == 0
    (victim,) = city.rows("SELECT max(id) FROM audit.access WHERE agency = 'police'")[0]
    _bypass(city, f"UPDATE audit.access SET purpose = 'routine' WHERE id = {victim}")
    found = verify_audit(settings=city.settings).mismatches
    assert any("audit.access rows" in m and "altered" in m for m in found), found
    _bypass(city, f"DELETE FROM audit.access WHERE id = {victim}")
    found = verify_audit(settings=city.settings).mismatches
    assert any("audit.access rows" in m and "deleted" in m for m in found), found
    _requests(city, 2)  # rows after the last seal are reported as unprotected, not as tampering
    assert verify_audit(settings=city.settings).unsealed_access_rows >= 2


def test_keys_behind_the_exchanges_back_are_found(city: City) -> None:
    key_id, _token = create_api_key("civil_affairs", label="kept", settings=city.settings)
    gone_id, _ = create_api_key("civil_affairs", label="revoked", settings=city.settings)
    assert revoke_api_key(gone_id, settings=city.settings, by="tester")
    before = [m for m in verify_audit(settings=city.settings).mismatches if "api_key" in m]
    assert before == [], before  # every key of this city was made through the exchange
    city.execute("INSERT INTO audit.api_key (key_id, agency, label, secret_sha256, created_at) VALUES "
                 "('0badc0ffee00', 'police', 'backdoor', repeat('0', 64), now())",
                 f"UPDATE audit.api_key SET revoked_at = NULL WHERE key_id = '{gone_id}'",
                 f"UPDATE audit.api_key SET agency = 'police' WHERE key_id = '{key_id}'")
    found = [m for m in verify_audit(settings=city.settings).mismatches if "api_key" in m]
    assert any("0badc0ffee00" in m and "no ledger entry" in m for m in found), found
    assert any(gone_id in m and "re-enabled" in m for m in found), found
    assert any(key_id in m and "agency differs" in m for m in found), found
    city.execute("DELETE FROM audit.api_key WHERE key_id = '0badc0ffee00'",
                 f"UPDATE audit.api_key SET revoked_at = now() WHERE key_id = '{gone_id}'",
                 f"UPDATE audit.api_key SET agency = 'civil_affairs' WHERE key_id = '{key_id}'")


def test_a_batch_without_a_ledger_record_is_found(city: City) -> None:
    cols = city.rows("SELECT column_name FROM information_schema.columns WHERE table_schema = 'audit' "
                     "AND table_name = 'batch' AND is_nullable = 'NO'")
    assert cols
    (row,) = city.rows("SELECT * FROM audit.batch WHERE state IN ('loaded', 'published') LIMIT 1")
    doc = dict(row._mapping)
    doc["batch_id"] = "forged-batch-000"
    names = ", ".join(f'"{k}"' for k in doc)
    engine = city.admin()
    from sqlalchemy import text

    with engine.begin() as conn:
        conn.execute(text(f"INSERT INTO audit.batch ({names}) VALUES ({', '.join(':' + k for k in doc)})"), doc)
    engine.dispose()
    try:
        found = verify_audit(settings=city.settings).mismatches
        assert any("forged-batch-000" in m and "no record of its load" in m for m in found), found
    finally:
        city.execute("DELETE FROM audit.batch WHERE batch_id = 'forged-batch-000'")


def test_lineage_does_not_vouch_for_an_edited_row(city: City) -> None:
    (agency, record) = city.rows("SELECT source_agency, source_record_id FROM core.person "
                                       "ORDER BY source_record_id LIMIT 1")[0]
    key = f"{agency}:{record}"
    assert row_lineage("core.person", key, settings=city.settings)["row_hash_ok"] is True
    city.execute(f"UPDATE core.person SET name = 'X' || name WHERE source_agency = '{agency}' "
                 f"AND source_record_id = '{record}'")
    try:
        found = row_lineage("core.person", key, settings=city.settings)
        assert found["row_hash_ok"] is False and "edited" in found["row_hash_problem"]
    finally:
        city.execute(f"UPDATE core.person SET name = substr(name, 2) WHERE source_agency = '{agency}' "
                     f"AND source_record_id = '{record}'")
