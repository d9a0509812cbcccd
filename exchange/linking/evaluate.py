"""Measure the master person index against a known truth, overall and per hard case.

``evaluate(engine, truth)`` reads who the index says each record is (``mdm.person_link``) and compares
it with the truth (:mod:`exchange.linking.hard_city`'s ``link_truth.json``): pairwise precision, recall
and F1 over every record of the truth — a record the pipeline quarantined, so the index never saw it,
counts as a person of its own (its pairs are missed) — then, per tag, the recall of the true pairs that
involve a record with that tag and the precision of the predicted ones, and the false merges by the
relation of the two persons merged (twins, namesakes born the same day, household members, others).

Every figure is also given over the *informative* records only: those that say more about the person
than a name and a gender (an ID number, even unverified, a birth date, a phone, an address or a
household). A case party known only as 魏佳晶, male, cannot be told from the other 魏佳晶s and 魏嘉晶s of
a city, and an index that linked it anyway would be guessing; its pairs count in the plain figures
and not in the informative ones. A record the index never saw counts as informative (its loss shows).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa
from sqlalchemy import Engine, select

from exchange.linking import tables as mdm
from exchange.linking.records import IDENTITY

TRUTH_FORMAT = "exchange-link-truth/1"
RELATION_ORDER = ("twins", "namesake", "household")


def read_truth(path: Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != TRUTH_FORMAT:
        raise ValueError(f"{path}: not a linking truth file (format {data.get('format')!r}, expected {TRUTH_FORMAT!r})")
    return data


def _pairs(group: str) -> str:
    return (f"SELECT a.i AS i, b.i AS j FROM t a JOIN t b ON a.{group} = b.{group} AND a.i < b.i")


def evaluate(engine: Engine, truth: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    link = mdm.person_link
    with engine.connect() as conn:
        rows = conn.execute(select(link.c.source_agency, link.c.entity, link.c.source_record_id, link.c.role,
                                   link.c.person_uid)).all()
    found = {(r[0], r[1], r[2], r[3]): r[4] for r in rows}
    recs = truth["records"]
    keys = [(r["agency"], r["entity"], r["record"], r["role"]) for r in recs]
    clusters = [found.get(k) for k in keys]
    says = _informative(engine)
    info = [says.get(k, True) for k in keys]
    con = duckdb.connect()
    try:
        con.register("t0", pa.table({
            "i": pa.array(range(len(recs)), pa.int64()), "person": [r["person"] for r in recs],
            "tag": [r["tag"] for r in recs],
            "cluster": [c if c is not None else f"missing:{i}" for i, c in enumerate(clusters)],
            "indexed": [c is not None for c in clusters], "info": info}))
        con.execute("CREATE TABLE t AS SELECT * FROM t0")
        con.execute(f"CREATE TABLE tp AS {_pairs('person')}")
        con.execute(f"CREATE TABLE pp AS {_pairs('cluster')}")
        true_pairs, pred_pairs = (con.execute(f"SELECT count(*) FROM {x}").fetchone()[0] for x in ("tp", "pp"))
        hits = con.execute("SELECT count(*) FROM tp JOIN pp USING (i, j)").fetchone()[0]
        overall = _prf(hits, pred_pairs, true_pairs)
        overall.update({"records": len(recs), "indexed": int(sum(1 for c in clusters if c is not None)),
                        "persons_true": len({r["person"] for r in recs}),
                        "persons_found": len(set(c for c in clusters if c is not None))})
        both = "a.info AND b.info"
        overall["informative"] = {"records": int(sum(info)), **_counted(con, both, [])}
        per_tag = {}
        for (tag,) in con.execute("SELECT DISTINCT tag FROM t ORDER BY 1").fetchall():
            n, missing, n_info = con.execute("SELECT count(*), count(*) FILTER (WHERE NOT indexed), "
                                             "count(*) FILTER (WHERE info) FROM t WHERE tag = ?", [tag]).fetchone()
            either = "(a.tag = ? OR b.tag = ?)"
            per_tag[tag] = {"records": n, "not_indexed": missing, **_counted(con, either, [tag, tag]),
                            "informative": {"records": n_info,
                                            **_counted(con, f"{either} AND {both}", [tag, tag])}}
        relation: dict[frozenset[str], str] = {}
        for a, b, kind in truth.get("relations", []):
            key = frozenset((a, b))
            if key not in relation or RELATION_ORDER.index(kind) < RELATION_ORDER.index(relation[key]):
                relation[key] = kind
        wrong = con.execute("SELECT DISTINCT least(a.person, b.person), greatest(a.person, b.person) FROM pp x "
                            "JOIN t a ON a.i = x.i JOIN t b ON b.i = x.j WHERE a.person <> b.person").fetchall()
        merges: dict[str, int] = {k: 0 for k in (*RELATION_ORDER, "other")}
        for a, b in wrong:
            merges[relation.get(frozenset((a, b)), "other")] += 1
        return {"overall": overall, "tags": per_tag, "false_merges": merges,
                "relations": {k: sum(1 for v in relation.values() if v == k) for k in RELATION_ORDER}}
    finally:
        con.close()


def _counted(con: Any, where: str, params: list[Any]) -> dict[str, Any]:
    """Precision / recall / F1 over the true and predicted pairs whose records ``a``, ``b`` meet ``where``."""
    q = "SELECT count(*) FROM {p} x JOIN t a ON a.i = x.i JOIN t b ON b.i = x.j WHERE " + where
    t_true = con.execute(q.format(p="tp"), params).fetchone()[0]
    t_pred = con.execute(q.format(p="pp"), params).fetchone()[0]
    t_hit = con.execute("SELECT count(*) FROM tp x JOIN pp USING (i, j) JOIN t a ON a.i = x.i "
                        "JOIN t b ON b.i = x.j WHERE " + where, params).fetchone()[0]
    return _prf(t_hit, t_pred, t_true)


def _informative(engine: Engine) -> dict[tuple[str, str, str, str], bool]:
    """Record identity → does the record say more than a name and a gender (see the module's doc)."""
    from exchange.linking.records import read_person_records

    out: dict[tuple[str, str, str, str], bool] = {}
    telling = ("id_number", "id_unverified", "birth_date", "phone", "address", "household_number")
    for batch in read_person_records(engine, pinyin=False):
        cols = {c: batch.column(c).to_pylist() for c in (*telling, "source_agency", "entity", "source_record_id",
                                                          "role")}
        for i in range(batch.num_rows):
            key = (cols["source_agency"][i], cols["entity"][i], cols["source_record_id"][i], cols["role"][i])
            out[key] = any(cols[c][i] is not None for c in telling)
    return out


def _prf(hits: int, predicted: int, true: int) -> dict[str, Any]:
    precision = hits / predicted if predicted else 1.0
    recall = hits / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"true_pairs": int(true), "predicted_pairs": int(predicted), "true_positives": int(hits),
            "precision": precision, "recall": recall, "f1": f1}


def evaluate_pairs(con: Any, truth: Mapping[tuple[str, str, str, str], str]) -> dict[str, Any]:
    """Pairwise precision, recall and F1 of the clustering over the records with a known person."""
    keys = list(truth)
    columns = {name: pa.array([k[i] for k in keys], pa.string()) for i, name in enumerate(IDENTITY)}
    con.register("_truth", pa.table({**columns, "true_key": pa.array([truth[k] for k in keys], pa.string())}))
    con.execute("CREATE OR REPLACE TABLE ev AS SELECT l.person_uid, t.true_key FROM lnk_full l JOIN _truth t "
                "USING (source_agency, entity, source_record_id, role)")
    con.unregister("_truth")
    records, tp, pred, true = con.execute(
        "SELECT (SELECT count(*) FROM ev), "
        "(SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) n FROM ev GROUP BY person_uid, true_key)), "
        "(SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) n FROM ev GROUP BY person_uid)), "
        "(SELECT coalesce(sum(n * (n - 1) / 2), 0) FROM (SELECT count(*) n FROM ev GROUP BY true_key))").fetchall()[0]
    precision = tp / pred if pred else 1.0
    recall = tp / true if true else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    persons_true = con.execute("SELECT count(DISTINCT true_key) FROM ev").fetchone()[0]
    persons_found = con.execute("SELECT count(DISTINCT person_uid) FROM ev").fetchone()[0]
    return {"records": int(records), "true_pairs": int(true), "predicted_pairs": int(pred), "true_positives": int(tp),
            "precision": precision, "recall": recall, "f1": f1, "persons_true": int(persons_true),
            "persons_found": int(persons_found)}
