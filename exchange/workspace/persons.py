"""The persons component: the master person index (link, review, evaluate, the hard-case city) and the
profile of one person."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import exchange
from exchange.audit import tables as audit_tables
from exchange.errors import ConfigError
from exchange.pipeline.stamps import now as _now
from exchange.runner import run_tolerant
from exchange.spec.catalog import Catalog, load_catalog
from exchange.spec.settings import Settings
from exchange.workspace.record import _on_record, _operator_record
from exchange.workspace.space import warehouse, workspace

# --- master person index (exchange.linking) and the profile API (exchange.api) ----------------

log = logging.getLogger(__name__)


def demo_truth_keys(truth: Any, catalog: Catalog) -> dict[tuple[str, str, str, str], str]:
    """The demo city's truth as record identity (agency, entity, record id, role) → true person."""
    from exchange.linking.records import primary_role

    keys: dict[tuple[str, str, str, str], str] = {}
    for feed_id, ft in truth.feeds.items():
        if not ft.person_keys or feed_id not in catalog.feeds:
            continue
        spec = catalog.feed(feed_id)
        entity = catalog.schema_for(spec).name
        role = primary_role(entity)
        for record_id, person in ft.person_keys.items():
            keys[(spec.agency, entity, record_id, role)] = person
    return keys


def link_persons(settings: Settings | None = None, catalog: Catalog | None = None, *, retrain: bool = False,
                 evaluate: bool = False, truth: Any = None, say: Callable[[str], None] = log.info) -> Any:
    """Link every person-bearing record of the warehouse into ``mdm.*`` (one person_uid per real
    person). ``evaluate`` (or a demo ``truth``) also measures pairwise precision / recall against the
    demo city's truth (``<landing>/../demo_truth.json``). Returns ``exchange.linking.LinkResult``."""
    from exchange import linking
    from exchange.errors import ConfigError

    with workspace(settings, catalog) as ws:
        if evaluate and truth is None:
            from exchange.demo.truth import CityTruth

            path = ws.settings.landing_dir.parent / "demo_truth.json"
            if not path.exists():
                raise ConfigError(f"{path}: no demo truth to evaluate against; run `exchange demo` first")
            truth = CityTruth.read(path)
        keys = demo_truth_keys(truth, ws.catalog) if truth is not None else None
        engine = ws.migrated(ws.all_schemas(), [linking.metadata])
        result = linking.link_persons(engine, linking.load_link_config(ws.settings.root), retrain=retrain,
                                      truth=keys, say=say)
        linking.ensure_profile_indexes(engine)
        from exchange.investigate import watch_alerts  # records just tied to a watched person

        told = watch_alerts.on_linked(engine, ws.settings, ws.catalog, result.run_id, at=_now())
        if told["matched"]:
            say(f"watches: {told['matched']} new match(es) through the person index")
    return result


def link_reviews(status: str | None = "pending", *, limit: int = 100,
                 settings: Settings | None = None) -> list[dict[str, Any]]:
    """The clerical review queue (``mdm.review``)."""
    from exchange.linking import review, tables

    with warehouse(settings) as engine:
        tables.ensure_mdm_tables(engine)
        with engine.connect() as conn:
            return review.listing(conn, status, limit)


def link_review(review_id: str, *, settings: Settings | None = None) -> dict[str, Any]:
    from exchange.linking import review, tables

    with warehouse(settings) as engine:
        tables.ensure_mdm_tables(engine)
        with engine.connect() as conn:
            row = review.get(conn, review_id)
    if row is None:
        raise ConfigError(f"no review {review_id!r} (exchange link review list)")
    return row


def decide_review(review_id: str, *, accept: str | None, by: str | None, note: str | None = None,
                  settings: Settings | None = None) -> Any:
    """Accept a candidate (its ID number) or reject all, in one transaction with its ledger entry
    (kind ``review_decision``: the record, the decision, who and why; ID numbers as SHA-256 only)."""
    from exchange.audit import chain
    from exchange.linking import review, tables

    with warehouse(settings, metadata=[audit_tables.metadata]) as engine:
        tables.ensure_mdm_tables(engine)
        with engine.begin() as conn:
            try:
                row = review.decide(conn, review_id, accept=accept, by=by, note=note, at=_now())
            except KeyError:
                raise ConfigError(f"no review {review_id!r} (exchange link review list)") from None
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            return chain.append(conn, "review_decision", review_id, {
                "record": f"{row['source_agency']}/{row['entity']}/{row['source_record_id']}/{row['role']}",
                "decision": row["status"], "by": by, "note": note,
                "chosen_sha256": hashlib.sha256(accept.encode()).hexdigest() if accept else None})


def evaluate_linking(truth_path: Path, *, settings: Settings | None = None) -> dict[str, Any]:
    """The index against a linking truth file (``link_truth.json`` of a hard-case city): overall, per
    hard-case tag, false merges by relation — see ``exchange.linking.evaluate``."""
    from exchange.linking import evaluate as link_eval

    try:
        truth = link_eval.read_truth(truth_path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{truth_path}: {exc}") from None
    with workspace(settings) as ws:
        return link_eval.evaluate(ws.engine, truth)


def hard_city(out: Path, *, persons: int = 20_000, seed: int = 20261205, run: bool = True,
              id_numbers: bool = True, say: Callable[[str], None] = log.info) -> dict[str, Any] | None:
    """Write a hard-case city project into ``out`` (``exchange.linking.hard_city``); with ``run``, load
    every feed into its own SQLite warehouse, link, and return the evaluation."""
    from exchange.linking.hard_city import HardCity

    root = Path(exchange.__file__).resolve().parents[1]
    started = time.perf_counter()
    truth = HardCity(persons, seed, id_numbers=id_numbers).write(out, root)
    say(f"hard city: {persons:,} persons written to {out} in {time.perf_counter() - started:.1f}s")
    if not run:
        return None
    settings = Settings(root=out, warehouse_url=f"sqlite:///{out / 'var' / 'exchange.db'}",
                        landing_dir=out / "var" / "landing", staging_dir=out / "var" / "staging",
                        reports_dir=out / "var" / "reports")
    catalog = load_catalog(out)
    for feed_id in sorted(catalog.feeds):
        outcome = run_tolerant(feed_id, settings, catalog)
        say(f"  {feed_id}: {outcome.rows_in:,} rows, {outcome.rows_loaded:,} loaded, "
            f"{outcome.rows_quarantined:,} quarantined")
    link_persons(settings, catalog, say=say)
    return evaluate_linking(truth, settings=settings)


def person_profile(ident: str, *, settings: Settings | None = None, purpose: str | None = None,
                   case_number: str | None = None) -> dict[str, Any] | None:
    """The profile of a person_uid or ID number (``exchange person ID``); None if nobody matches.
    An operator read: on record in ``audit.access`` (channel ``cli``) like an agency's request."""
    from exchange import linking

    record = _operator_record("cli", f"person {ident}", "person_profile", purpose, case_number)
    with _on_record(settings, record) as engine:
        linking.ensure_mdm_tables(engine)
        with engine.connect() as conn:
            found = linking.person_profile(conn, ident)
        record.status, record.outcome = (200, "ok") if found else (404, "not found")
        record.subject, record.row_count = (found or {}).get("person_uid"), len((found or {}).get("records") or [])
        return found
