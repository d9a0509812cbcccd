"""Golden record: survivorship per attribute, computed in DuckDB in one aggregation.

For each person and each golden field, among the person's records that hold a value: the
source ranked most trusted for that field (:class:`~exchange.linking.config.Survivorship`),
then the most recently loaded record, then record order. The winning record's link is kept
with the value (``<field>_link``), hence its source agency and batch.

The order is one 64-bit key per record and field — trust rank (bits 58-62), recency (bits
34-57: the rank of the record's load time among all load times, newest first), record number
(bits 0-33) — unique, so the choice never depends on scan order; ranks and recencies come from
two small tables joined once, not from string comparisons on every row.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from exchange.linking.config import GOLDEN_FIELDS, Survivorship

RANK_BITS, RECENCY_BITS, RID_BITS = 5, 24, 34


def rank_table(survivorship: Survivorship, sources: list[tuple[str, str]]) -> pa.Table:
    """(source_agency, entity) → the trust rank for every golden field (columns ``r_<field>``)."""
    cap = (1 << RANK_BITS) - 1
    cols: dict[str, Any] = {"source_agency": [a for a, _ in sources], "entity": [e for _, e in sources]}
    for f in GOLDEN_FIELDS:
        cols[f"r_{f}"] = pa.array([min(survivorship.rank(f, a, e), cap) for a, e in sources], pa.int64())
    return pa.table(cols)


def golden_sql(survivorship: Survivorship, links: str, *, ranks: str = "golden_ranks") -> str:
    """SELECT of one golden row per person_uid from ``links`` (rid, link_id, person_uid,
    source_agency, entity, loaded_at and the golden fields), with ``ranks`` a table made by
    :func:`rank_table` (``survivorship`` is only used to document the ranking)."""
    del survivorship  # the ranks table carries it
    cap = (1 << RECENCY_BITS) - 1
    picks = []
    for f in GOLDEN_FIELDS:
        key = f"CASE WHEN {f} IS NOT NULL THEN (k.r_{f} << {RECENCY_BITS + RID_BITS}) + tk END"
        picks.append(f"arg_min({f}, {key}) AS {f}, arg_min(link_id, {key}) AS {f}_link")
    return (f"WITH recency AS (SELECT loaded_at, least(row_number() OVER (ORDER BY "
            f"try_cast(loaded_at AS TIMESTAMP) DESC NULLS LAST, loaded_at DESC) - 1, {cap})::BIGINT AS age "
            f"FROM (SELECT DISTINCT loaded_at FROM {links})) "
            f"SELECT person_uid, {', '.join(picks)}, count(*) AS record_count, "
            f"array_to_string(list_sort(list_distinct(list(l.source_agency))), ',') AS agencies "
            f"FROM (SELECT *, (coalesce(r.age, {cap}) << {RID_BITS}) + rid AS tk FROM {links} "
            f"LEFT JOIN recency r USING (loaded_at)) l "
            f"JOIN {ranks} k ON k.source_agency = l.source_agency AND k.entity = l.entity GROUP BY person_uid")
