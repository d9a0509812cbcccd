"""M1 and the operator-read findings: ``exchange sql`` / ``export --query`` can read and nothing else,
and every operator read is on record with the OS account, the database role and the whole query."""

from __future__ import annotations

from pathlib import Path

import pytest

from exchange.errors import ConfigError
from exchange.workspace.exports import export_rows
from exchange.workspace.sharing import operator_query
from tests.pg_city import City

ATTACKS = [
    # the finding: a second statement after a COMMIT
    "SELECT 1; COMMIT; DELETE FROM core.household; COMMIT",
    "WITH gone AS (DELETE FROM core.household RETURNING 1) SELECT count(*) FROM gone",
    "SELECT set_config('session_replication_role', 'replica', false)",
    "SELECT set_config('transaction_read_only', 'off', false), count(*) FROM core.household",
    "SELECT set_config('role', 'postgres', false)",
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()",
    "SELECT * FROM share_fn.pseudonym_key",
    "SELECT pg_sleep(30)",
    "SELECT * FROM pg_read_file('/etc/passwd')",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_an_operator_query_cannot_write_escalate_or_signal(city: City, attack: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXCHANGE_OPERATOR_TIMEOUT", "2")
    before = city.rows("SELECT count(*) FROM core.household")[0][0]
    others = city.rows("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")[0][0]
    with pytest.raises(ConfigError, match="query failed"):
        operator_query(attack, settings=city.settings)
    assert city.rows("SELECT count(*) FROM core.household")[0][0] == before
    assert city.rows("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()")[0][0] >= others - 1
    # the one-query login is gone, and the refusal is on record
    assert not city.rows("SELECT rolname FROM pg_roles WHERE rolname LIKE :p AND rolcanlogin",
                         p=city.prefix.replace("_", r"\_") + "operator%")
    last = city.rows("SELECT channel, status, db_role, detail FROM audit.access ORDER BY id DESC LIMIT 1")[0]
    assert (last.channel, last.status) == ("sql", 400) and last.db_role.startswith(f"{city.prefix}operator_read__")


def test_what_a_read_only_transaction_still_allows_is_rolled_back(city: City) -> None:
    """PostgreSQL lets a READ ONLY transaction create a large object; the operator's transaction is never
    committed, so nothing remains (and the one-query role could be dropped: it owns nothing)."""
    before = city.rows("SELECT count(*) FROM pg_largeobject_metadata")[0][0]
    _cols, rows, _role = operator_query("SELECT lo_create(0)", settings=city.settings)
    assert rows and city.rows("SELECT count(*) FROM pg_largeobject_metadata")[0][0] == before
    assert not city.rows("SELECT rolname FROM pg_roles WHERE rolname LIKE :p AND rolcanlogin",
                         p=city.prefix.replace("_", r"\_") + "operator%")


def test_an_operator_query_reads_and_is_on_record(city: City, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("USER", "someone-else")
    uid_id = city.rows("SELECT id_number FROM core.person WHERE id_number IS NOT NULL LIMIT 1")[0][0]
    query = ("/* " + "a very long comment hiding the query " * 20 + "*/ SELECT name, id_number FROM core.person "
             f"WHERE id_number = '{uid_id}' -- and a trailing one")
    cols, rows, role = operator_query(query, settings=city.settings, purpose="核查")
    assert cols == ["name", "id_number"] and len(rows) >= 1 and role.startswith(f"{city.prefix}operator_read__")
    last = city.rows("SELECT * FROM audit.access ORDER BY id DESC LIMIT 1")[0]
    assert last.status == 200 and last.row_count == len(rows) and last.db_role == role
    masked = f"{uid_id[:6]}**********{uid_id[-2:]}"
    assert last.detail == f"SELECT name, id_number FROM core.person WHERE id_number = '{masked}'"
    assert uid_id not in str(tuple(last)) and "(uid " in last.user_id and "someone-else" in last.user_id


def test_export_query_is_read_only_too(city: City, tmp_path: Path) -> None:
    before = city.rows("SELECT count(*) FROM core.household")[0][0]
    with pytest.raises(ConfigError, match="query failed"):
        export_rows(None, tmp_path / "x.csv", query="SELECT 1; DELETE FROM core.household", settings=city.settings)
    with pytest.raises(ConfigError, match="query failed"):
        export_rows(None, tmp_path / "x.csv", query="WITH d AS (DELETE FROM core.household RETURNING 1) "
                                                    "SELECT * FROM d", settings=city.settings)
    assert city.rows("SELECT count(*) FROM core.household")[0][0] == before
    got = export_rows(None, tmp_path / "ok.csv", query="SELECT household_number FROM core.household",
                      settings=city.settings, purpose="复核")
    assert got.rows == before
    last = city.rows("SELECT channel, status, db_role FROM audit.access ORDER BY id DESC LIMIT 1")[0]
    assert last.channel == "export" and last.status == 200 and "operator_read__" in last.db_role
