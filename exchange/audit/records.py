"""What the batch stages write to the hash-chained ledger, and the check that the mutable
audit tables still agree with it.

- ``batch_manifest`` (stage step): the sealed manifest — source files / query and their
  SHA-256, schema version, counts, the SHA-256 of every staged file — plus the SHA-256 of
  ``manifest.json``, ``extract.json`` and ``validation.json`` themselves and the code version.
- ``validation_result`` (validate step): suite, counts and per expectation its pass/fail and
  element / missing / unexpected counts. Never sample values: those can hold identifiers.
- ``batch_load`` (load step): the outcome recorded in ``audit.batch`` — state, rows in / valid /
  loaded / quarantined, inserted / updated / unchanged.

Each is appended in the transaction that records the stage in ``audit.batch``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from exchange.audit import chain
from exchange.audit.ledger import get_batch
from exchange.audit.tables import batch, validation

MANIFEST, EXTRACT, VALIDATION = "manifest.json", "extract.json", "validation.json"
COUNTS = ("rows_in", "rows_valid", "rows_loaded", "rows_quarantined", "rows_flagged", "rows_inserted",
          "rows_updated", "rows_unchanged")


def sha256_file(path: Path) -> str | None:
    if not path.exists():
        return None
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def record_manifest(conn: Connection, batch_id: str, folder: Path) -> chain.Entry:
    row = get_batch(conn, batch_id) or {}
    manifest = _read(folder / MANIFEST)
    return chain.append(conn, "batch_manifest", batch_id, {
        "batch_id": batch_id, "feed": manifest.get("feed"), "agency": row.get("agency"),
        "manifest": manifest, "code_version": row.get("code_version"), "attempt": row.get("attempts"),
        "files": {name: sha256_file(folder / name) for name in (MANIFEST, EXTRACT, VALIDATION)},
    })


def validation_payload(batch_id: str, checked: dict[str, Any], validation_sha256: str | None) -> dict[str, Any]:
    expectations = [{k: e.get(k) for k in ("expectation", "field", "rule", "success", "element_count",
                                           "missing_count", "unexpected_count")}
                    for e in checked.get("expectations") or []]
    return {
        "batch_id": batch_id, "suite": checked.get("suite"), "rows_in": checked.get("rows_in"),
        "rows_valid": checked.get("rows_valid"), "rows_rejected": checked.get("rows_rejected"),
        "passed": sum(1 for e in expectations if e["success"]),
        "failed": sum(1 for e in expectations if not e["success"]),
        "expectations": expectations,
        "top_reasons": [list(r) for r in checked.get("top_reasons") or []],
        "validation_json_sha256": validation_sha256,
    }


def record_validation_result(conn: Connection, batch_id: str, folder: Path) -> chain.Entry:
    checked = _read(folder / VALIDATION)
    return chain.append(conn, "validation_result", batch_id,
                        validation_payload(batch_id, checked, sha256_file(folder / VALIDATION)))


def record_load(conn: Connection, batch_id: str, **extra: Any) -> chain.Entry:
    row = get_batch(conn, batch_id) or {}
    payload = {"batch_id": batch_id, "feed": row.get("feed"), "agency": row.get("agency"),
               "entity": row.get("entity"), "state": row.get("state"), "fingerprint": row.get("fingerprint"),
               "schema_version": row.get("schema_version"), "code_version": row.get("code_version"),
               **{k: row.get(k) for k in COUNTS}, **extra}
    return chain.append(conn, "batch_load", batch_id, payload)


# --- consistency of audit.batch / audit.validation with the ledger ------------------------------


def _latest_by_subject(conn: Connection, kind: str) -> dict[str, chain.Entry]:
    out: dict[str, chain.Entry] = {}
    for e in chain.entries(conn, kind=kind):
        out[e.subject] = e
    return out


def crosscheck(conn: Connection) -> list[str]:
    """Rows of ``audit.batch`` and ``audit.validation`` that no longer say what the ledger recorded."""
    problems: list[str] = []
    batches = {r["batch_id"]: dict(r) for r in conn.execute(select(batch)).mappings()}
    for subject, e in _latest_by_subject(conn, "batch_load").items():
        row, data = batches.get(subject), e.data
        if row is None:
            problems.append(f"audit.batch: batch {subject} is gone, ledger entry {e.seq} recorded its load")
            continue
        for k in ("fingerprint", "schema_version", *COUNTS):
            if k in data and data[k] != row.get(k):
                problems.append(f"audit.batch {subject}: {k} is {row.get(k)!r}, ledger entry {e.seq} recorded "
                                f"{data[k]!r}")
        ok_states = {"loaded": ("loaded", "published"), "published": ("published",)}.get(data.get("state"),
                                                                                         (data.get("state"),))
        if row.get("state") not in ok_states and row.get("state") not in ("started", "extracted", "validated",
                                                                           "staged"):
            problems.append(f"audit.batch {subject}: state is {row.get('state')!r}, ledger entry {e.seq} "
                            f"recorded {data.get('state')!r}")
    loads = _latest_by_subject(conn, "batch_load")
    for batch_id, row in sorted(batches.items()):  # and the other way: every loaded batch is on record
        if row.get("state") in ("loaded", "published") and batch_id not in loads:
            problems.append(f"audit.batch {batch_id}: state {row.get('state')!r} but the ledger has no record of its "
                            f"load (a row written behind the exchange's back)")
    for subject, e in _latest_by_subject(conn, "validation_result").items():
        if subject not in batches:
            continue
        recorded = [(x["rule"], x["field"], x["success"], x["unexpected_count"]) for x in e.data["expectations"]]
        stored = [(r.rule, r.field, bool(r.success), int(r.unexpected_count)) for r in conn.execute(
            select(validation).where(validation.c.batch_id == subject).order_by(validation.c.seq))]
        if stored and stored != recorded:
            diff = next(((a, b) for a, b in zip(stored, recorded, strict=False) if a != b), None)
            detail = f"; first difference {diff[0]} vs recorded {diff[1]}" if diff else \
                f"; {len(stored)} rows vs {len(recorded)} recorded"
            problems.append(f"audit.validation {subject}: results differ from ledger entry {e.seq}{detail}")
    return problems
