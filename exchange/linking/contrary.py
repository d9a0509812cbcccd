"""Contrary evidence: what keeps records apart even when a rule or the model would join them.

- :func:`unkey_contradicted_names`: a valid ID number shared by records whose names contradict is no
  key for the records that disagree with the number's anchor (a number copied from another row);
- :func:`touched_facts`: the facts of the records a linking run's pairs touch, the cannot-link
  constraints of :func:`exchange.linking.cluster.cluster_records`.

SQL on the run's DuckDB tables (``rec``).
"""

from __future__ import annotations

import logging
from typing import Any

import pyarrow as pa

from exchange.linking.cluster import Facts

log = logging.getLogger(__name__)


def unkey_contradicted_names(con: Any) -> int:
    """No merge by rule against contrary evidence: a record sharing a valid ID number whose name contradicts
    the name of that number's anchor record keeps the number only as contradicted evidence; the model
    places it. The anchor: the name most of the number's records carry, then the record that says the
    most about the person (a register entry over a case party naming someone), then the first. Names
    contradict when they share no character and no pinyin word, or when their surnames differ in sound
    (刘 and 劉 agree) and their given names share no character. Returns how many were un-keyed."""
    rich = ("(r.birth_date IS NOT NULL)::INT + (r.phone IS NOT NULL)::INT + (r.address IS NOT NULL)::INT + "
            "(r.household_number IS NOT NULL)::INT + (r.division_code IS NOT NULL)::INT")
    con.execute(
        f"CREATE TEMP TABLE _anchor AS SELECT id_number, first(name ORDER BY n DESC, rich DESC, rid) AS name, "
        f"first(name_tok ORDER BY n DESC, rich DESC, rid) AS tok, first(surname ORDER BY n DESC, rich DESC, rid) "
        f"AS surname, first(surname_fpy ORDER BY n DESC, rich DESC, rid) AS sfpy FROM (SELECT r.id_number, r.name, "
        f"r.name_tok, r.surname, r.surname_fpy, r.rid, {rich} AS rich, count(*) OVER (PARTITION BY r.id_number, "
        f"r.name) AS n FROM rec r WHERE r.id_number IN (SELECT id_number FROM rec WHERE id_number IS NOT NULL "
        f"GROUP BY id_number HAVING count(DISTINCT name) > 1)) GROUP BY id_number")
    con.execute(
        "CREATE TEMP TABLE _unkey AS SELECT r.rid FROM rec r JOIN _anchor a USING (id_number) WHERE r.name <> a.name "
        "AND ((r.name_tok IS NOT NULL AND a.tok IS NOT NULL "
        "AND NOT list_has_any(string_split(r.name, ''), string_split(a.name, '')) "
        "AND NOT list_has_any(string_split(r.name_tok, '|'), string_split(a.tok, '|'))) "
        "OR (r.surname <> a.surname AND r.surname_fpy <> a.sfpy "
        "AND NOT list_has_any(string_split(substr(r.name, 2), ''), string_split(substr(a.name, 2), ''))))")
    n = con.execute("SELECT count(*) FROM _unkey").fetchone()[0]
    if n:
        # what the number encodes is no longer the record's: a copied number's birth date is another's
        con.execute("UPDATE rec SET id_unverified = id_number, id_number = NULL, id_conflict = true, "
                    "birth_date = CASE WHEN birth_from_id THEN NULL ELSE birth_date END, "
                    "gender = CASE WHEN gender_from_id THEN NULL ELSE gender END "
                    "WHERE rid IN (SELECT rid FROM _unkey)")
        log.info("linking: %s record(s) share an ID number with records of another name: scored, not keyed", n)
    con.execute("DROP TABLE _anchor")
    con.execute("DROP TABLE _unkey")
    return int(n)


def touched_facts(con: Any, rids: list[int], registers: list[str]) -> dict[int, Facts]:
    """Record → its facts, for ``rids``: the record's own birth date and gender (not those derived from a
    number), its name, its surname's sound, and its register when it comes from one of ``registers``
    (``agency.entity``)."""
    wanted = {tuple(r.split(".", 1)) for r in registers}
    con.register("_touched", pa.table({"rid": pa.array(rids, pa.int64())}))
    try:
        rows = con.execute(
            "SELECT r.rid, CASE WHEN NOT r.birth_from_id THEN r.birth_date END, CASE WHEN NOT r.gender_from_id "
            "THEN r.gender END, r.name, r.surname_fpy, r.source_agency, r.entity "
            "FROM rec r JOIN _touched USING (rid)").fetchall()
    finally:
        con.unregister("_touched")
    return {int(rid): Facts(birth, gender, name, sfpy, f"{agency}.{entity}" if (agency, entity) in wanted else None,
                            int(rid))
            for rid, birth, gender, name, sfpy, agency, entity in rows}
