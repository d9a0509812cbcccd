"""The audit component: lineage of a row, the auditor's report, the check of the whole ledger, sealing
the access log."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.audit import records as audit_records
from exchange.errors import ConfigError
from exchange.pipeline.stamps import now as _now
from exchange.spec.catalog import Catalog
from exchange.spec.settings import Settings
from exchange.warehouse.tables import EntityTables
from exchange.workspace.record import _seal
from exchange.workspace.space import warehouse, workspace


def row_lineage(table: str, key: str, *, settings: Settings | None = None,
                catalog: Catalog | None = None) -> dict[str, Any] | None:
    """Lineage of one warehouse row (``core.person``, ``police:R0000123``); see exchange.audit.lineage."""
    from exchange.audit import lineage as audit_lineage

    namespace, _, name = table.rpartition(".")
    with workspace(settings, catalog) as ws:
        if namespace not in ("", "core") or name not in ws.catalog.schemas:
            raise ConfigError(f"lineage covers core.<entity>; {table!r} is not one of: "
                              f"{', '.join('core.' + s for s in sorted(ws.catalog.schemas))}")
        try:
            agency, record = audit_lineage.parse_key(key)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        schema = ws.catalog.schemas[name]
        t = EntityTables(schema)
        with ws.migrated([schema]).connect() as conn:
            return audit_lineage.lineage(conn, core=t.core, history=t.history, quarantine=t.quarantine,
                                         agency=agency, record_id=record)


def audit_report(*, since: dt.date, until: dt.date | None = None, out: Path | None = None,
                 settings: Settings | None = None, catalog: Catalog | None = None) -> Path:
    """Write the auditors' HTML report (see exchange.audit.report); return its path."""
    from exchange.audit import report as audit_report_html
    from exchange.warehouse.engine import describe

    with workspace(settings, catalog) as ws:
        engine = ws.migrated(ws.all_schemas())
        tables = [EntityTables(s) for s in ws.all_schemas()]
        with engine.connect() as conn:
            return audit_report_html.write_report(
                conn, out or ws.settings.reports_dir / "audit-report.html", since=since, until=until,
                quarantines={t.schema.name: t.quarantine for t in tables}, warehouse=describe(engine), now=_now(),
                cores={t.schema.name: t.core for t in tables})


def seal_access_log(*, settings: Settings | None = None, settle_seconds: float | None = None) -> Any:
    """Append the digest of the ``audit.access`` rows since the last seal to the ledger (kind
    ``access_digest``); returns the ledger entry, or None when there was nothing to seal."""
    with warehouse(settings) as engine, engine.begin() as conn:
        return _seal(conn, settle_seconds)


@dataclass
class AuditCheck:
    verification: Any
    """``exchange.audit.chain.Verification`` of the ledger itself."""
    mismatches: list[str]
    """Tables that no longer say what the ledger recorded (batches, validations, API keys, the access log)."""
    unsealed_access_rows: int


def verify_audit(anchors: list[str] | None = None, *, settings: Settings | None = None) -> AuditCheck:
    """``exchange audit verify``: the ledger's chain, and the tables it vouches for, both ways — every
    ledger record against its table (batches, validation results, API keys, sealed access-log ranges) and
    every batch and key against the ledger (a row written behind the exchange's back has no entry)."""
    from exchange.access import digest, keys
    from exchange.audit import chain

    with audit_engine(settings) as engine:
        with engine.connect() as conn:
            verification = chain.verify(conn, anchors=anchors or [])
            mismatches = audit_records.crosscheck(conn)
            mismatches += keys.crosscheck(conn, [(e.seq, e.subject, e.data) for e in chain.entries(conn,
                                                                                                   kind="api_key")])
            after = 0
            for e in chain.entries(conn, kind="access_digest"):
                recorded = e.data
                first, last = int(recorded["first_id"]), int(recorded["last_id"])
                if first != after + 1:
                    mismatches.append(f"audit.access: sealed ranges are not contiguous: entry {e.seq} starts at id "
                                      f"{first}, the previous seal ended at {after}")
                now = digest.digest(conn, first, last)
                if (now.rows, now.sha256) != (int(recorded["rows"]), recorded["sha256"]):
                    mismatches.append(f"audit.access rows {first}–{last}: {now.rows} row(s) now, ledger entry {e.seq} "
                                      f"sealed {recorded['rows']}; "
                                      + ("rows were deleted or added" if now.rows != int(recorded["rows"])
                                         else "rows were altered"))
                after = last
            unsealed = digest.unsealed(conn, after)
        return AuditCheck(verification, mismatches, unsealed)


@contextlib.contextmanager
def audit_engine(settings: Settings | None) -> Iterator[Any]:
    """The warehouse, migrated only if it has no ledger yet (so a read-only auditor can verify)."""
    from sqlalchemy import inspect

    with workspace(settings) as ws:
        engine = ws.engine
        with engine.connect() as conn:
            migrated = inspect(conn).has_table("ledger", schema="audit")
        yield engine if migrated else ws.migrated()


def ledger_entries(*, kind: str | None = None, subject: str | None = None, limit: int = 30,
                   settings: Settings | None = None) -> list[Any]:
    """The newest entries of the hash-chained ledger (``audit.ledger``), newest first."""
    from exchange.audit import chain

    with audit_engine(settings) as engine, engine.connect() as conn:
        return chain.entries(conn, kind=kind, subject=subject, newest_first=True, limit=limit)


@dataclass
class LeakScan:
    result: Any
    """``exchange.audit.leaks.ScanResult``: findings, files scanned and skipped."""
    secrets_searched: int
    secrets_too_short: list[str]
    min_secret_chars: int


def scan_for_leaks(paths: list[Path], *, from_env: bool = True, secret_env: list[str] | None = None,
                   secrets_files: list[Path] | None = None, legacy: bool = True, all_files: bool = False,
                   exclude: list[str] | None = None, settings: Settings | None = None) -> LeakScan:
    """Resident ID numbers and secrets in logs, reports, staging (``exchange audit scan``): the secrets of
    this environment, of the named variables and of the files given; by default the reports and the
    staging folders."""
    import os

    from exchange.audit import leaks

    secrets: dict[str, str] = leaks.secrets_from_env() if from_env else {}
    for name in secret_env or []:
        value = os.environ.get(name)
        if not value:
            raise ConfigError(f"--secret-env {name}: the variable is not set")
        found = leaks.connection_secrets(name, value)
        secrets.update({f"{name} (secret {i})": s for i, s in enumerate(found, 1)} if found else {name: value})
    for path in secrets_files or []:
        try:
            secrets.update(leaks.secrets_from_file(path))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"--secrets-file {path}: cannot read it ({exc}); give a UTF-8 text file") from None
    if not paths:
        with workspace(settings) as ws:
            paths = [ws.settings.reports_dir, ws.settings.staging_dir]
    scanner = leaks.LeakScanner(secrets, legacy_ids=legacy)
    result = scanner.scan_paths(paths, all_files=all_files, exclude=exclude or [])
    return LeakScan(result, scanner.secret_count, list(scanner.ignored_secrets), leaks.MIN_SECRET_CHARS)
