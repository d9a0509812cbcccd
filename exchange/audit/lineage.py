"""Lineage of one warehouse row: where it came from, what checked it, what it replaced.

For ``core.<entity>`` and a key ``source_agency:source_record_id``: the batch that loaded the
current version, the source (files and their SHA-256, or the query and the fingerprint of
what it returned), the schema and code versions, the batch's validation summary, the staged
files checked again against the sealed manifest — and the manifest against the hash-chained
ledger —, the row's earlier versions from ``core.<entity>_history`` and its quarantined
versions. A row loaded by reprocessing also names the batch it was first quarantined in.

Row values are never shown: only which fields changed between versions. Tables are passed
in (this module does not know how they are derived from the schemas).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, select

from exchange.audit import chain
from exchange.audit.ledger import get_batch, validation_rows
from exchange.audit.records import MANIFEST, sha256_file
from exchange.spec.schema import FLAGS

SOURCE_AGENCY, SOURCE_RECORD_ID = "source_agency", "source_record_id"
LINEAGE = ("_batch_id", "_source_file", "_source_row", "_row_hash", "_loaded_at")
HISTORY = ("_superseded_at", "_superseded_by")


def parse_key(key: str) -> tuple[str, str]:
    agency, sep, record = key.partition(":")
    if not sep or not agency or not record:
        raise ValueError(f"key {key!r}: expected SOURCE_AGENCY:SOURCE_RECORD_ID, e.g. police:R0000123")
    return agency, record


def _batch_info(conn: Connection, batch_id: str | None) -> dict[str, Any] | None:
    if not batch_id:
        return None
    row = get_batch(conn, batch_id)
    if row is None:
        return {"batch_id": batch_id, "missing": True}
    source = json.loads(row["source"]) if row.get("source") else {}
    return {
        "batch_id": batch_id, "feed": row["feed"], "agency": row["agency"], "state": row["state"],
        "entity": row["entity"], "schema_version": row["schema_version"], "code_version": row["code_version"],
        "fingerprint": row["fingerprint"], "source": source, "started_at": str(row["started_at"]),
        "finished_at": str(row["finished_at"] or ""), "attempts": row["attempts"],
        "rows": {k: row.get(k) for k in ("rows_in", "rows_valid", "rows_loaded", "rows_quarantined")},
        "report_path": row.get("report_path"), "staging_path": row.get("staging_path"),
        "reprocessing": source.get("kind") == "quarantine",
    }


def validation_summary(conn: Connection, batch_id: str) -> dict[str, Any]:
    rows = validation_rows(conn, batch_id)
    failing = [{"rule": r["rule"], "field": r["field"], "unexpected": int(r["unexpected_count"]),
                "of": int(r["element_count"])} for r in rows if not r["success"]]
    return {"suite": rows[0]["suite"] if rows else None, "expectations": len(rows),
            "passed": len(rows) - len(failing), "failed": len(failing), "failing": failing}


def staged_check(conn: Connection, batch_id: str, staging_path: str | None) -> dict[str, Any]:
    """Recompute the SHA-256 of every staged file against the manifest, and the manifest's own
    SHA-256 against the ledger's ``batch_manifest`` entry."""
    out: dict[str, Any] = {"folder": staging_path, "files": [], "ok": False}
    entry = chain.latest(conn, "batch_manifest", batch_id)
    out["ledger_entry"] = entry.seq if entry else None
    if not staging_path or not (Path(staging_path) / MANIFEST).exists():
        out["problem"] = f"no staged manifest at {staging_path}"
        return out
    folder = Path(staging_path)
    manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    problems = []
    for name, meta in sorted(manifest.get("files", {}).items()):
        now = sha256_file(folder / name)
        ok = now == meta.get("sha256")
        out["files"].append({"name": name, "sha256": meta.get("sha256"), "rows": meta.get("rows"),
                             "now": now, "ok": ok})
        if not ok:
            problems.append(f"{name} {'is missing' if now is None else 'changed since it was sealed'}")
    actual = sha256_file(folder / MANIFEST)
    out["manifest_sha256"] = actual
    if entry is None:
        problems.append("the ledger holds no batch_manifest entry for this batch")
    elif entry.data.get("files", {}).get(MANIFEST) != actual:
        problems.append(f"manifest.json differs from the one recorded in ledger entry {entry.seq}")
    out["ok"] = not problems
    if problems:
        out["problem"] = "; ".join(problems)
    return out


def _same(a: Any, b: Any) -> bool:
    """Equal as stored and as staged (a database may hand back a date or number as another type)."""
    if a == b or str(a) == str(b):
        return True
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def staged_row_check(staging_path: str | None, current: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """The warehouse row against its own row in the batch's sealed ``valid.parquet``: a row edited in the
    warehouse after it was loaded no longer equals what was validated (and its ``_row_hash``)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    path = Path(staging_path or "") / "valid.parquet"
    if not staging_path or not path.exists():
        return {"ok": None, "problem": f"no staged valid rows at {path}: the row cannot be checked"}
    table = pq.read_table(path)
    found = table.filter(pc.equal(table.column(SOURCE_RECORD_ID), current[SOURCE_RECORD_ID]))
    if found.num_rows == 0:
        return {"ok": False, "problem": "the row is not among the batch's staged valid rows"}
    staged = found.to_pylist()[-1]
    changed = [f for f in fields if f in staged and not _same(current.get(f), staged[f])]
    if "_row_hash" in staged and staged["_row_hash"] != current.get("_row_hash"):
        changed.append("_row_hash")
    if changed:
        return {"ok": False, "changed": changed, "problem": f"edited in the warehouse after it was loaded: "
                                                            f"{', '.join(changed)} differ from the sealed staged row"}
    return {"ok": True}


def _changed(newer: dict[str, Any], older: dict[str, Any], fields: list[str]) -> list[str]:
    return [f for f in fields if newer.get(f) != older.get(f)]


def lineage(conn: Connection, *, core: Table, history: Table, quarantine: Table | None,
            agency: str, record_id: str) -> dict[str, Any] | None:
    """Everything an auditor needs about one row, or None when the key is nowhere."""
    key = (core.c[SOURCE_AGENCY] == agency) & (core.c[SOURCE_RECORD_ID] == record_id)
    current = conn.execute(select(core).where(key)).mappings().first()
    hkey = (history.c[SOURCE_AGENCY] == agency) & (history.c[SOURCE_RECORD_ID] == record_id)
    older = [dict(r) for r in conn.execute(select(history).where(hkey).order_by(history.c._superseded_at.desc(),
                                                                               history.c._loaded_at.desc()))
             .mappings()]
    held: list[dict[str, Any]] = []
    if quarantine is not None:
        qkey = (quarantine.c[SOURCE_AGENCY] == agency) & (quarantine.c[SOURCE_RECORD_ID] == record_id)
        held = [dict(r) for r in conn.execute(select(quarantine).where(qkey)
                                              .order_by(quarantine.c._quarantined_at)).mappings()]
    if current is None and not older and not held:
        return None
    fields = [c.name for c in core.columns if not c.name.startswith("_") and c.name not in (SOURCE_AGENCY,)]
    out: dict[str, Any] = {"table": f"{core.schema}.{core.name}", "key": f"{agency}:{record_id}",
                           "current": None, "batch": None, "origin": None, "validation": None,
                           "staged": None, "ledger": [], "versions": [], "quarantined": []}
    if current is not None:
        cur = dict(current)
        out["current"] = {k: str(cur[k]) if k == "_loaded_at" else cur[k] for k in LINEAGE}
        batch = _batch_info(conn, cur["_batch_id"])
        out["batch"] = batch
        out["validation"] = validation_summary(conn, cur["_batch_id"])
        out["staged"] = staged_check(conn, cur["_batch_id"], (batch or {}).get("staging_path"))
        out["flags"] = json.loads(cur[FLAGS]) if cur.get(FLAGS) else []
        row = staged_row_check((batch or {}).get("staging_path"), cur, [*fields, FLAGS]) if out["staged"]["ok"] else {
            "ok": None, "problem": "not checked: the staged files are not the sealed ones"}
        out["row_hash_ok"], out["row_hash_problem"] = row["ok"], row.get("problem")
        out["ledger"] = [{"seq": e.seq, "kind": e.kind, "hash": e.hash, "recorded_at": str(e.recorded_at)}
                         for kind in ("validation_result", "batch_manifest", "batch_load", "quarantine_resolution")
                         for e in chain.entries(conn, kind=kind, subject=cur["_batch_id"])]
        if batch and batch.get("reprocessing"):
            first = next((q for q in held if q.get("resolved_by") == cur["_batch_id"]), None)
            if first is not None:
                out["origin"] = {**(_batch_info(conn, first["_batch_id"]) or {}),
                                 "quarantined_for": first["rules"], "quarantined_at": str(first["_quarantined_at"])}
        newer = cur
    else:
        newer = {}
    for h in older:
        out["versions"].append({
            "batch_id": h["_batch_id"], "loaded_at": str(h["_loaded_at"]), "superseded_at": str(h["_superseded_at"]),
            "superseded_by": h["_superseded_by"], "source_file": h["_source_file"], "source_row": h["_source_row"],
            "row_hash": h["_row_hash"], "changed_fields": _changed(newer, h, fields) if newer else [],
            "source_sha256": _source_hashes(conn, h["_batch_id"]),
        })
        newer = h
    for q in held:
        out["quarantined"].append({
            "batch_id": q["_batch_id"], "source_file": q["_source_file"], "source_row": q["_source_row"],
            "rules": q["rules"], "status": q["status"], "quarantined_at": str(q["_quarantined_at"]),
            "resolved_by": q.get("resolved_by"), "rechecked_by": q.get("rechecked_by"),
            "recheck_rules": ",".join(dict.fromkeys(r["rule"] for r in json.loads(q["recheck_reasons"])))
            if q.get("recheck_reasons") else None,
        })
    return out


def _source_hashes(conn: Connection, batch_id: str) -> list[str]:
    info = _batch_info(conn, batch_id) or {}
    files = (info.get("source") or {}).get("files") or []
    return [f"{f.get('path')} {f.get('sha256')}" for f in files] or ([info["fingerprint"]]
                                                                      if info.get("fingerprint") else [])
