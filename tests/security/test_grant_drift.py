"""M2, M3 and M4: what an administrator's mistake (or an attacker with owner rights) can do to a grant
without touching a privilege, and a consumer blocking its own revocation. Each attack is made real first
(the consumer reads what it should not), then ``grants check`` must name it and ``grants apply`` must
remove it. Every test leaves the grants applied as the repository declares them."""

from __future__ import annotations

import dataclasses
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from exchange.access.changes import group_role, login_role
from exchange.workspace.sharing import sync_grants
from tests.conftest import REPO
from tests.pg_city import City
from tests.pg_city import denied as _denied


def _found(city: City) -> set[tuple[str, str]]:
    return {(c.action, c.object) for c in sync_grants(apply=False, settings=city.settings).changes}



@pytest.fixture
def restored(city: City) -> Iterator[City]:
    yield city
    sync_grants(apply=True, settings=city.settings)
    assert _found(city) == set()


# --- M2: a view edited in place ----------------------------------------------------------------------------


PSEUDONYMS = "SELECT applicant_id_number FROM {view} WHERE applicant_id_number IS NOT NULL"


def test_a_view_edited_in_place_is_found_and_replaced(restored: City) -> None:
    """CREATE OR REPLACE VIEW keeps the view's comment (and so the fingerprint the exchange wrote there):
    the pseudonymised dispute parties of the police view become raw ID numbers."""
    city = restored
    view = "share_police.dispute"
    (definition,) = city.rows("SELECT pg_get_viewdef(CAST(:v AS regclass))", v=view)[0]
    raw = re.sub(r"\('ps_'::text \|\| .*?\) AS (\w+)", r"t.\1 AS \1", definition, flags=re.S)
    assert raw != definition and "hmac" not in raw
    with city.consumer("police") as conn:
        assert all(str(v).startswith("ps_") for (v,) in conn.execute(PSEUDONYMS.format(view=view)))
    city.execute(f"CREATE OR REPLACE VIEW {view} WITH (security_barrier = true) AS {raw}")
    with city.consumer("police") as conn:  # the attack is real: raw ID numbers
        assert any(not str(v).startswith("ps_") for (v,) in conn.execute(PSEUDONYMS.format(view=view)))
    assert ("replace_view", view) in _found(city)
    sync_grants(apply=True, settings=city.settings)
    with city.consumer("police") as conn:
        assert all(str(v).startswith("ps_") for (v,) in conn.execute(PSEUDONYMS.format(view=view)))


def test_a_materialized_share_recreated_with_its_comment_is_found(restored: City) -> None:
    """A filtered share is a materialized view: dropped and created again over every row, with the
    exchange's comment copied back and the consumer's SELECT granted again."""
    city = restored
    view = "share_street_office_hanbin.person"
    grp = group_role(city.prefix, "street_office_hanbin")
    (definition, comment) = city.rows("SELECT pg_get_viewdef(CAST(:v AS regclass)), "
                                      "obj_description(CAST(:v AS regclass), 'pg_class')", v=view)[0]
    raw = re.sub(r"share_fn\.mask_year\(\(?(t\.\w+)\)?(?:::date)?\)", r"(\1)::text", definition)
    raw = re.sub(r"share_fn\.mask_\w+\((t\.\w+)\)", r"\1", raw)
    raw = raw[:raw.index("WHERE")] if "WHERE" in raw else raw
    with city.consumer("street_office_hanbin") as conn:
        before = conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0]
    quoted = comment.replace("'", "''")
    city.execute(f"DROP MATERIALIZED VIEW {view}", f"CREATE MATERIALIZED VIEW {view} AS {raw}",
                 f"COMMENT ON MATERIALIZED VIEW {view} IS '{quoted}'", f'GRANT SELECT ON {view} TO "{grp}"')
    with city.consumer("street_office_hanbin") as conn:  # the attack is real: city-wide rows
        assert conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0] > before
    assert ("replace_view", view) in _found(city)
    sync_grants(apply=True, settings=city.settings)
    with city.consumer("street_office_hanbin") as conn:
        assert conn.execute(f"SELECT count(*) FROM {view}").fetchone()[0] == before


@pytest.mark.parametrize("option", ["check_option = local", "security_invoker = true"])
def test_a_view_option_set_by_hand_is_found(restored: City, option: str) -> None:
    restored.execute(f"ALTER VIEW share_police.person SET ({option})")
    assert ("replace_view", "share_police.person") in _found(restored)


# --- M3: ownership, functions, default and database privileges -------------------------------------------------


def test_an_exchange_table_given_to_a_consumer_is_taken_back(restored: City) -> None:
    city = restored
    grp = group_role(city.prefix, "health")
    city.execute(f'ALTER TABLE quarantine.person OWNER TO "{grp}"', f'GRANT USAGE ON SCHEMA quarantine TO "{grp}"')
    with city.consumer("health") as conn:
        conn.execute("SELECT count(*) FROM quarantine.person").fetchall()  # the owner reads it
    assert ("alter_owner", "quarantine.person") in _found(city)
    sync_grants(apply=True, settings=city.settings)
    with city.consumer("health") as conn:
        assert _denied(conn, "SELECT count(*) FROM quarantine.person")


def test_a_security_definer_function_is_closed(restored: City) -> None:
    city = restored
    fn = f"public.peek_{uuid.uuid4().hex[:6]}"
    city.execute(f"CREATE FUNCTION {fn}() RETURNS TABLE (id text) LANGUAGE sql SECURITY DEFINER "
                 f"AS $$ SELECT id_number FROM core.person $$")
    try:
        with city.consumer("street_office_hanbin") as conn:
            assert conn.execute(f"SELECT count(*) FROM {fn}()").fetchone()[0] > 0  # reads core.person
        assert ("revoke_execute", f"{fn.split('.')[1]}()") in _found(city)
        sync_grants(apply=True, settings=city.settings)
        with city.consumer("street_office_hanbin") as conn:
            assert _denied(conn, f"SELECT count(*) FROM {fn}()")
    finally:
        city.execute(f"DROP FUNCTION {fn}()")


def test_default_and_database_privileges_are_revoked(restored: City) -> None:
    city = restored
    grp = group_role(city.prefix, "police")
    city.execute(f'ALTER DEFAULT PRIVILEGES IN SCHEMA core GRANT SELECT ON TABLES TO "{grp}"',
                 "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC",
                 f'GRANT CREATE, TEMPORARY ON DATABASE "{city.dbname}" TO "{grp}"',
                 f'GRANT CONNECT, TEMPORARY ON DATABASE "{city.dbname}" TO PUBLIC',
                 f'GRANT CREATE ON SCHEMA public TO "{grp}"')
    found = _found(city)
    assert {a for a, _ in found} >= {"revoke_default", "revoke_database", "revoke"}, found
    sync_grants(apply=True, settings=city.settings)
    assert not city.rows("SELECT 1 FROM pg_default_acl")
    with city.consumer("police") as conn:
        assert _denied(conn, "CREATE TEMPORARY TABLE t (x int)")
        assert _denied(conn, "CREATE SCHEMA mine")
        assert _denied(conn, "CREATE TABLE public.mine (x int)")


def test_public_holds_nothing_on_the_warehouse_database(city: City) -> None:
    rows = city.rows("SELECT a.grantee, a.privilege_type FROM pg_database d, aclexplode(coalesce(d.datacl, "
                     "acldefault('d', d.datdba))) a WHERE d.datname = current_database()")
    assert not [r for r in rows if r.grantee == 0]
    for g in city.grants:
        with city.consumer(g.consumer) as conn:  # CONNECT comes from the consumer's own group role
            assert _denied(conn, "CREATE TEMPORARY TABLE t (x int)")


# --- M4: a consumer cannot block its own revocation ---------------------------------------------------------------


def _without(city: City, tmp_path: Path, consumer: str) -> object:
    root = tmp_path / "project"
    for d in ("schemas", "feeds", "grants"):
        shutil.copytree(REPO / d, root / d)
    (root / "grants" / f"{consumer}.yaml").unlink()
    civil = root / "grants" / "civil_affairs.yaml"  # an unrelated masking change in the same apply
    civil.write_text(civil.read_text(encoding="utf-8").replace("      name: full\n", "      name: partial\n", 1),
                     encoding="utf-8")
    return dataclasses.replace(city.settings, root=root)


def test_a_large_object_elsewhere_does_not_block_revocation(city: City, tmp_path: Path) -> None:
    role = login_role(city.prefix, "health", city.grants.get("health").logins[0])
    other = f"exchange_other_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(host="127.0.0.1", port=5432, dbname=city.dbname, user="postgres", autocommit=True)
    admin.execute(f'CREATE DATABASE "{other}"')
    try:
        with psycopg.connect(host="127.0.0.1", port=5432, dbname=other, user=role,
                             password=city.passwords[role], autocommit=True) as conn:
            conn.execute("SELECT lo_create(0)")
        settings = _without(city, tmp_path, "health")
        changes = sync_grants(apply=True, settings=settings).changes
        by_action = {(c.action, c.object) for c in changes}
        assert ("drop_role_refused", role) in by_action, by_action
        assert ("replace_view", "share_civil_affairs.person") in by_action  # not rolled back with it
        names = city.rows("SELECT name FROM share_civil_affairs.person WHERE name IS NOT NULL LIMIT 5")
        assert names and all(n[0].endswith("*") for n in names)
        assert city.rows("SELECT rolcanlogin FROM pg_roles WHERE rolname = :r", r=role) == [(False,)]
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(host="127.0.0.1", port=5432, dbname=city.dbname, user=role,
                            password=city.passwords[role]).close()
        again = {(c.action, c.object) for c in sync_grants(apply=False, settings=settings).changes}
        assert ("drop_role_refused", role) in again  # reported until someone cleans the other database
    finally:
        with psycopg.connect(host="127.0.0.1", port=5432, dbname=other, user="postgres", autocommit=True) as conn:
            conn.execute(f'REASSIGN OWNED BY "{role}" TO postgres')
        admin.execute(f'DROP DATABASE "{other}" WITH (FORCE)')
        admin.close()
        city.execute(f'ALTER ROLE "{role}" LOGIN')
        sync_grants(apply=True, settings=city.settings)
    assert _found(city) == set()


def test_an_open_transaction_does_not_stall_apply(city: City, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_GRANTS_LOCK_TIMEOUT", "1")
    holder = city.consumer("civil_affairs")
    holder.autocommit = False
    holder.execute("SELECT count(*) FROM share_civil_affairs.person").fetchall()  # holds its lock, idle in transaction
    settings = _without(city, tmp_path, "police_hanbin")
    started = time.monotonic()
    done: list[object] = []
    worker = threading.Thread(target=lambda: done.append(sync_grants(apply=True, settings=settings)))
    worker.start()
    worker.join(60)
    try:
        assert done, "apply did not finish within 60 s"
        assert time.monotonic() - started < 30
        changes = {(c.action, c.object) for c in done[0].changes}
        assert ("replace_view", "share_civil_affairs.person") in changes
        with pytest.raises(psycopg.OperationalError):  # the blocking session was ended
            holder.execute("SELECT 1")
    finally:
        holder.close()
        sync_grants(apply=True, settings=city.settings)
    assert _found(city) == set()
