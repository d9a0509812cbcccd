"""Who an investigation is about: a person_uid (merges followed) or an ID number — the active person
whose golden ID it is, else the one person its records are linked to; an ID number the index holds for
several persons is refused as ambiguous (their uids are not named), never answered for an arbitrary one."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import insert

from exchange.errors import ConfigError
from exchange.investigate.persons import resolve
from exchange.linking import ensure_mdm_tables
from exchange.linking.tables import person, person_link

ID_A, ID_B, ID_C = "11010519491231002X", "610902199001011234", "610902198502020021"


def _person(uid: str, id_number: str | None, status: str = "active", merged_into: str | None = None) -> dict:
    return {"person_uid": uid, "status": status, "merged_into": merged_into, "id_number": id_number,
            "record_count": 1, "created_run": 1, "updated_run": 1}


def _link(n: int, uid: str, id_number: str) -> dict:
    return {"source_agency": "police", "entity": "person", "source_record_id": f"R{n}", "role": "subject",
            "link_id": n, "person_uid": uid, "id_number": id_number, "match_rule": "id_number", "batch_id": "b",
            "run_id": 1}


@pytest.fixture
def conn(audit_engine: Any) -> Any:
    ensure_mdm_tables(audit_engine)
    with audit_engine.begin() as c:
        c.execute(insert(person), [_person("MP0000000001", ID_A), _person("MP0000000002", None, "merged",
                                                                         "MP0000000001"),
                                   _person("MP0000000003", ID_B), _person("MP0000000004", ID_B),
                                   _person("MP0000000005", None)])
        c.execute(insert(person_link), [_link(1, "MP0000000001", ID_A), _link(2, "MP0000000002", ID_A),
                                        _link(3, "MP0000000005", ID_C)])
    with audit_engine.connect() as c:
        yield c


def test_uids_follow_merges_and_id_numbers_name_one_person(conn: Any) -> None:
    assert resolve(conn, "MP0000000002") == ("MP0000000001", "active", ["MP0000000002"])
    assert resolve(conn, ID_A.lower()) == ("MP0000000001", "active", [])
    assert resolve(conn, ID_C) == ("MP0000000005", "active", [])  # no golden ID: the one person it is linked to
    assert resolve(conn, "110101199003077777") is None
    assert resolve(conn, "MP9999999999") is None


def test_an_id_number_held_by_several_persons_is_refused_without_naming_them(conn: Any) -> None:
    with pytest.raises(ConfigError, match="held by 2 persons") as err:
        resolve(conn, ID_B)
    assert "MP000000000" not in str(err.value)
