"""The sharing component: grants (load, plan, apply), API keys, the access log, the consumers'
catalogue and operator reads."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from exchange.audit import tables as audit_tables
from exchange.pipeline.stamps import now as _now
from exchange.spec.catalog import Catalog
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.workspace.record import _on_record, _operator_record, _query_errors, _seal
from exchange.workspace.space import warehouse, workspace


def operator_query(query: str, *, limit: int | None = None, settings: Settings | None = None,
                   purpose: str | None = None, case_number: str | None = None) -> tuple[list[str], list[Any], str]:
    """``exchange sql``: one read-only statement (``exchange.access.operator``): (columns, rows, role).
    On record in ``audit.access``: OS user, database role, the whole normalised query, rows read."""
    import itertools

    from exchange.access.changes import role_prefix
    from exchange.access.operator import check_select, normalise_query, read_only
    from exchange.access.sqlite import install as install_masks

    record = _operator_record("sql", f"sql: {normalise_query(query)}", "query", purpose, case_number,
                              detail=normalise_query(query))
    with _on_record(settings, record) as engine:
        check_select(query, "exchange sql")  # refused here, and still on record
        install_masks(engine)  # SQLite: the masks the share views call (on every connection it opens)
        with _query_errors("exchange sql"), read_only(engine, query, prefix=role_prefix(),
                                                      on_role=lambda role: setattr(record, "db_role", role)) as result:
            rows = list(itertools.islice(result.rows, limit) if limit is not None else result.rows)
        record.status, record.outcome, record.row_count = 200, "ok", len(rows)
        return result.columns, rows, result.db_role


# --- sharing: grants, API keys, the consumers' catalogue (exchange.access) ---------------------------------


def load_grants(settings: Settings | None = None, catalog: Catalog | None = None) -> Any:
    """Every ``grants/*.yaml``, checked against the schemas (``exchange.access.spec.GrantSet``)."""
    from exchange.access.changes import role_prefix
    from exchange.access.spec import load_grants as load
    from exchange.formats import load_division_codes

    with workspace(settings, catalog) as ws:
        divisions = load_division_codes(ws.settings.root / "schemas" / "reference" / "gb2260.csv")
        return load(ws.settings.root, ws.catalog.schemas, ws.catalog.allowed, divisions=divisions,
                    role_prefix=role_prefix())


@dataclass
class GrantSync:
    changes: list[Any]
    """``exchange.access.changes.Change``: the differences found (and applied, when ``applied``)."""
    dialect: str
    applied: bool
    warehouse: str


def sync_grants(*, apply: bool, settings: Settings | None = None, catalog: Catalog | None = None,
                reset_passwords: bool = False, by: str | None = None) -> GrantSync:
    """``exchange grants check`` (apply=False: the differences only) and ``exchange grants apply``:
    materialise the grants as roles, share_<agency> views and privileges in one transaction, every
    change recorded in the audit ledger (kind ``grant_change``)."""
    from exchange.access import apply as sharing
    from exchange.audit import chain
    from exchange.warehouse.engine import describe

    with workspace(settings, catalog) as ws:
        grants = load_grants(ws.settings, ws.catalog)
        engine = ws.migrated(ws.all_schemas())
        dialect = dialect_of(engine).name
        if not apply:
            with engine.connect() as conn:
                return GrantSync(sharing.plan(conn, grants), dialect, False, describe(engine))

        def record(conn: Any, change: Any, grant: Any) -> None:
            chain.append(conn, "grant_change", change.object[:500], {
                **change.as_payload(), "by": by, "grant_file": grant.file if grant else None,
                "grant_sha256": grant.digest if grant else None})

        with engine.begin() as conn:
            changes = sharing.sync(conn, grants, reset_passwords=reset_passwords, record=record)
            _seal(conn)  # the access log so far goes on record with the grants it was read under
        return GrantSync(changes, dialect, True, describe(engine))


def create_api_key(agency: str, *, label: str | None = None, by: str | None = None,
                   settings: Settings | None = None) -> tuple[str, str]:
    """A new API key of a consumer agency with a grant: (key id, token — shown once, stored hashed)."""
    from exchange.access import keys
    from exchange.audit import chain

    grants = load_grants(settings)
    keys.require_agency(agency, list(grants.grants))
    with warehouse(settings) as engine, engine.begin() as conn:
        key_id, token = keys.create_key(conn, agency, label=label, by=by)
        chain.append(conn, "api_key", key_id, {"action": "create", **keys.key_record(conn, key_id)})
        return key_id, token


def revoke_api_key(key_id: str, *, settings: Settings | None = None, by: str | None = None) -> bool:
    from exchange.access import keys
    from exchange.audit import chain

    with warehouse(settings) as engine, engine.begin() as conn:
        done = keys.revoke_key(conn, key_id)
        if done:
            chain.append(conn, "api_key", key_id, {"action": "revoke", "by": by, **keys.key_record(conn, key_id)})
        return done


def api_keys(agency: str | None = None, *, settings: Settings | None = None) -> list[dict[str, Any]]:
    from exchange.access import keys

    with warehouse(settings) as engine, engine.connect() as conn:
        return keys.list_keys(conn, agency)


def access_log(agency: str | None = None, *, limit: int = 50, settings: Settings | None = None) -> list[dict[str, Any]]:
    """The newest rows of ``audit.access``."""
    from exchange.access import keys

    with warehouse(settings) as engine, engine.connect() as conn:
        return keys.recent_access(conn, agency=agency, limit=limit)


@dataclass
class SharingCatalogue:
    entries: list[Any]
    """``exchange.access.catalogue.Entry`` per shared view."""
    warehouse: str
    enforced: bool
    generated: dt.datetime


def sharing_catalogue(agency: str | None = None, *, settings: Settings | None = None,
                      catalog: Catalog | None = None) -> SharingCatalogue:
    """Every shared view (of one consumer agency, or all) with fields, PII classes, masks, owner
    agencies, freshness and quality score from ``audit.batch``."""
    from sqlalchemy import select

    from exchange.access import catalogue
    from exchange.warehouse.engine import describe

    with workspace(settings, catalog) as ws:
        engine, catalog = ws.migrated(), ws.catalog
        grants = load_grants(ws.settings, catalog)
        if agency is not None:
            grants.get(agency)  # unknown agency → ConfigError naming the known ones
        b = audit_tables.batch
        with engine.connect() as conn:
            batches = [dict(r) for r in conn.execute(
                select(b.c.batch_id, b.c.feed, b.c.state, b.c.rows_in, b.c.rows_valid, b.c.started_at,
                       b.c.finished_at)).mappings()]
        dialect = dialect_of(engine)
        feeds = {fid: (f.agency, f.target_schema) for fid, f in catalog.feeds.items()}
        entries = catalogue.build(grants, feeds, batches, agency=agency, dialect=dialect.name)  # type: ignore[arg-type]
        return SharingCatalogue(entries, describe(engine), not dialect.embedded, _now())


def describe_share_rows(share: Any) -> str:
    """Which rows a share lets its consumer read, in words (``exchange grants list``)."""
    from exchange.access.changes import describe_rows

    return describe_rows(share)


def catalogue_html(found: SharingCatalogue) -> str:
    """The consumers' catalogue as one self-contained HTML page."""
    from exchange.access import catalogue

    return catalogue.to_html(found.entries, generated=found.generated, warehouse=found.warehouse,
                             enforced=found.enforced)
