"""Hidden rows must not be countable: ``EXPLAIN ANALYZE`` on a view reports how many base-table rows its
filter removed — with a condition of the consumer's own pushed down into the scan, whether a given person
outside the jurisdiction exists. Filtered shares are materialized views holding only the visible rows;
they are refreshed when a batch of their entity is published."""

from __future__ import annotations

import json

from exchange.access.apply import refresh_shares
from tests.pg_city import City


def _plan_nodes(plan: dict) -> list[dict]:
    out = [plan]
    for child in plan.get("Plans", []):
        out += _plan_nodes(child)
    return out


def test_explain_analyze_counts_no_hidden_row(city: City) -> None:
    outside = city.rows("SELECT id_number FROM core.person WHERE division_code NOT LIKE '610902%' "
                        "AND id_number IS NOT NULL LIMIT 1")[0][0]
    with city.consumer("street_office_hanbin") as conn:
        visible = conn.execute("SELECT count(*) FROM share_street_office_hanbin.person").fetchone()[0]
        for where in ("", f" WHERE id_number = '{outside}'", " WHERE gender = 'M'"):
            (doc,) = conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) SELECT * FROM share_street_office_hanbin.person"
                                  + where).fetchone()
            plan = (doc if isinstance(doc, list) else json.loads(doc))[0]["Plan"]
            nodes = _plan_nodes(plan)
            relations = {n.get("Relation Name") for n in nodes if n.get("Relation Name")}
            assert relations == {"person"} and all(n.get("Schema", "share_street_office_hanbin") ==
                                                  "share_street_office_hanbin" for n in nodes if "Schema" in n)
            removed = sum(n.get("Rows Removed by Filter", 0) for n in nodes)
            assert removed <= visible  # only rows the consumer may read are ever counted
            assert all(n.get("Relation Name") != "household" for n in nodes)  # no via subquery on core


def test_a_published_batch_refreshes_the_filtered_shares(city: City) -> None:
    (division, household) = city.rows("SELECT division_code, household_number FROM core.household "
                                      "WHERE division_code LIKE '610902%' LIMIT 1")[0]
    city.execute("INSERT INTO core.person (source_agency, source_record_id, id_number, name, gender, "
                 "household_number, _batch_id, _loaded_at, _row_hash) VALUES ('civil_affairs', "
                 f"'REFRESH-1', NULL, '新住户', 'F', '{household}', 'b', now(), 'x')")
    try:
        with city.consumer("street_office_hanbin") as conn:
            query = "SELECT count(*) FROM share_street_office_hanbin.person WHERE source_record_id = 'REFRESH-1'"
            assert conn.execute(query).fetchone()[0] == 0  # not published yet
            engine = city.admin()
            with engine.begin() as admin:
                refreshed = refresh_shares(admin, "person")
            engine.dispose()
            assert "share_street_office_hanbin.person" in refreshed and "share_civil_affairs.person" in refreshed
            assert conn.execute(query).fetchone()[0] == 1
    finally:
        city.execute("DELETE FROM core.person WHERE source_record_id = 'REFRESH-1'")
        engine = city.admin()
        with engine.begin() as admin:
            refresh_shares(admin, "person")
        engine.dispose()
    assert division.startswith("610902")


def test_a_consumer_reads_no_definition_and_no_table_statistics(city: City) -> None:
    from psycopg import errors as pg_errors

    for query in ("SELECT definition FROM pg_views", "SELECT * FROM pg_matviews", "SELECT * FROM pg_rewrite",
                  "SELECT pg_get_viewdef(oid) FROM pg_class WHERE relkind IN ('v', 'm') LIMIT 1",
                  "SELECT n_live_tup FROM pg_stat_user_tables", "SELECT * FROM pg_stat_all_tables"):
        with city.consumer("street_office_hanbin") as conn:
            try:
                conn.execute(query).fetchall()
            except pg_errors.InsufficientPrivilege:
                continue
            raise AssertionError(f"a consumer ran {query!r}")
