"""Entities a grant withholds — the vehicle register and the activity events among them — are out of
reach of that consumer through every relation: no share view of them exists for it, the core table
refuses it, and the catalogue of its relations does not name them. The police, who are granted them,
read them through their share views only."""

from __future__ import annotations

import pytest
from psycopg import errors as pg_errors

from tests.pg_city import City

NEW_ENTITIES = ("vehicle", "hotel_stay", "internet_session", "checkpoint_pass", "compound_access")


@pytest.mark.parametrize("consumer", ["civil_affairs", "health", "police_hanbin", "street_office_hanbin"])
def test_a_withheld_entity_is_reachable_by_no_relation(city: City, consumer: str) -> None:
    withheld = set(city.grants.get(consumer).withheld)
    assert set(NEW_ENTITIES) <= withheld
    with city.consumer(consumer) as conn:
        visible = {r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE has_table_privilege(c.oid, 'SELECT') AND n.nspname NOT IN ('pg_catalog', 'information_schema')")}
        assert not visible & withheld, f"{consumer} can read {visible & withheld}"
        for entity in sorted(withheld):
            for relation in (f"core.{entity}", f"share_{consumer}.{entity}"):
                with pytest.raises((pg_errors.InsufficientPrivilege, pg_errors.UndefinedTable)):
                    conn.execute(f"SELECT count(*) FROM {relation}")


def test_the_police_read_the_register_and_the_events_through_their_views_only(city: City) -> None:
    with city.consumer("police") as conn:
        for entity in NEW_ENTITIES:
            assert conn.execute(f"SELECT count(*) FROM share_police.{entity}").fetchone()[0] >= 0
            with pytest.raises(pg_errors.InsufficientPrivilege):
                conn.execute(f"SELECT count(*) FROM core.{entity}")

