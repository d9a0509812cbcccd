"""Golden record: survivorship per attribute, computed in DuckDB in one aggregation.

For each person and each golden field, among the person's records that hold a value: the
source ranked most trusted for that field (:class:`~exchange.linking.config.Survivorship`),
then the most recently loaded record, then record order. The winning record's link is kept
with the value (``<field>_link``), hence its source agency and batch.
"""

from __future__ import annotations

from exchange.linking.config import GOLDEN_FIELDS, Survivorship


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def rank_sql(survivorship: Survivorship, field: str) -> str:
    """SQL expression: the trust rank of a record (columns source_agency, entity) for ``field``."""
    order = survivorship.ranking(field)
    whens = []
    for i, name in enumerate(order):
        if "." in name:
            agency, entity = name.split(".", 1)
            whens.append((0, f"WHEN source_agency = {_quote(agency)} AND entity = {_quote(entity)} THEN {i}"))
        else:
            whens.append((1, f"WHEN source_agency = {_quote(name)} THEN {i}"))
    # agency.entity entries take precedence over plain agency entries
    ordered = [w for _k, w in sorted(whens, key=lambda t: t[0])]
    return f"(CASE {' '.join(ordered)} ELSE {len(order)} END)" if ordered else "0"


def golden_sql(survivorship: Survivorship, links: str) -> str:
    """SELECT of one golden row per person_uid from ``links`` (rid, link_id, person_uid,
    source_agency, entity, loaded_at and the golden fields).

    The order is one 128-bit key per record and field: trust rank, then recency (newer first),
    then record order — unique, so the choice never depends on scan order."""
    recency = "((1::HUGEINT << 40) - coalesce(epoch(try_cast(loaded_at AS TIMESTAMP)), 0)::BIGINT::HUGEINT)"
    picks = []
    for f in GOLDEN_FIELDS:
        key = f"CASE WHEN {f} IS NOT NULL THEN ({rank_sql(survivorship, f)}::HUGEINT << 110) + tk END"
        picks.append(f"arg_min({f}, {key}) AS {f}, arg_min(link_id, {key}) AS {f}_link")
    return (f"SELECT person_uid, {', '.join(picks)}, count(*) AS record_count, "
            f"array_to_string(list_sort(list_distinct(list(source_agency))), ',') AS agencies "
            f"FROM (SELECT *, ({recency} << 50) + rid AS tk FROM {links}) GROUP BY person_uid")
