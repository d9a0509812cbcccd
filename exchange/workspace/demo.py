"""The demo: generate the synthetic city, run every feed on it, compare with its truth, link."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from exchange.errors import ConfigError
from exchange.runner import BatchOutcome, refresh_reports_index, run_tolerant
from exchange.spec.catalog import Catalog
from exchange.spec.schema import FLAGS
from exchange.spec.settings import Settings
from exchange.warehouse.dialects import dialect_of
from exchange.warehouse.engine import make_engine
from exchange.warehouse.tables import EntityTables
from exchange.workspace.persons import link_persons

log = logging.getLogger(__name__)


@dataclass
class DemoResult:
    outcomes: list[BatchOutcome]
    warehouse: str
    reports_index: str
    truth_path: str
    mismatches: list[str]
    linking: Any = None
    """The master person index run after the feeds (``exchange.linking.LinkResult``), with
    pairwise precision / recall against the city's truth in ``linking.metrics``."""
    series: dict[str, Any] | None = None
    """Serial-case linking against the city's planted series (``against_truth``)."""

    @property
    def matches_truth(self) -> bool:
        return not self.mismatches


def compare_with_truth(engine: Any, catalog: Catalog, outcomes: list[BatchOutcome], truth: Any) -> list[str]:
    """Every feed's counts, and exactly which rows were quarantined for which rule, against the
    defects the demo seeded. Returns the mismatches (empty when all agree)."""
    from sqlalchemy import select

    problems: list[str] = []
    for o in outcomes:
        ft = truth.feeds.get(o.feed)
        if ft is None:
            continue
        seen = (o.rows_in, o.rows_loaded, o.rows_quarantined, o.rows_flagged)
        if seen != (ft.rows, ft.expected_loaded, len(ft.quarantined), len(ft.flagged)):
            problems.append(f"{o.feed}: in/loaded/quarantined/flagged {'/'.join(map(str, seen))}, seeded "
                            f"{ft.rows}/{ft.expected_loaded}/{len(ft.quarantined)}/{len(ft.flagged)}")
        tables = EntityTables(catalog.schema_for(catalog.feed(o.feed)))
        q, core = tables.quarantine, tables.core
        with engine.connect() as conn:
            got = {int(r): set(rules.split(",")) for r, rules in conn.execute(
                select(q.c._source_row, q.c.rules).where(q.c._batch_id == o.batch_id))}
            flagged = {int(r): {x["rule"] for x in json.loads(flags)} for r, flags in conn.execute(
                select(core.c._source_row, core.c[FLAGS]).where(core.c._batch_id == o.batch_id,
                                                               core.c[FLAGS].is_not(None)))}
        for row in sorted(set(flagged) - set(ft.flagged_rows)):
            problems.append(f"{o.feed}: record {row} loaded with flags ({','.join(sorted(flagged[row]))}) but not "
                            f"seeded")
        for row, d in sorted(ft.flagged_rows.items()):
            if d.rule not in flagged.get(row, set()):
                problems.append(f"{o.feed}: record {row} seeded {d.rule} (a flag), loaded with "
                                f"{','.join(sorted(flagged.get(row, set()))) or 'no flag'}")
        seeded = ft.quarantined_rows
        for row in sorted(set(got) - set(seeded)):
            problems.append(f"{o.feed}: record {row} quarantined ({','.join(sorted(got[row]))}) but not seeded")
        for row, d in sorted(seeded.items()):
            if row not in got:
                problems.append(f"{o.feed}: seeded defect {d.rule} at record {row} was loaded")
            elif d.rule not in got[row]:
                problems.append(f"{o.feed}: record {row} seeded {d.rule}, quarantined for "
                                f"{','.join(sorted(got[row]))}")
    return problems


def run_demo(settings: Settings, catalog: Catalog, *, persons: int = 1000, seed: int | None = None,
             fresh: bool = True, run_one: Callable[[str], BatchOutcome] | None = None,
             say: Callable[[str], None] = log.info) -> DemoResult:
    """Generate the synthetic city into the landing zone and run every feed on it."""
    import shutil

    from exchange.demo import DEFAULT_SEED, demo_sources, generate_city
    from exchange.warehouse.engine import describe, namespace_file

    engine = make_engine(settings.warehouse_url, root=settings.root)
    if fresh:
        for folder in (settings.landing_dir, settings.staging_dir, settings.reports_dir):
            shutil.rmtree(folder, ignore_errors=True)
        if dialect_of(engine).embedded:  # the database files go too
            engine.dispose()
            main = Path(engine.url.database)
            for f in [main, *(namespace_file(main, ns) for ns in ("core", "quarantine", "mdm", "audit"))]:
                f.unlink(missing_ok=True)
        else:
            say("warehouse is not SQLite: keeping its contents (re-runs of the same city are no-ops)")
    say(f"generating a city of {persons:,} residents into {settings.landing_dir}")
    truth = generate_city(settings.landing_dir, persons=persons, seed=seed or DEFAULT_SEED)
    truth_path = settings.landing_dir.parent / "demo_truth.json"
    truth.write(truth_path)
    run_one = run_one or (lambda fid: run_tolerant(fid, settings, catalog))
    with demo_sources(settings.landing_dir, catalog):  # the registry database and the mediation API
        outcomes = [run_one(fid) for fid in sorted(catalog.feeds) if fid in truth.feeds]
    mismatches = compare_with_truth(engine, catalog, outcomes, truth)
    docs_index = refresh_reports_index(engine, settings)
    result = DemoResult(outcomes=outcomes, warehouse=describe(engine), reports_index=str(docs_index),
                        truth_path=str(truth_path), mismatches=mismatches)
    engine.dispose()
    say("linking persons across agencies (master person index)")
    result.linking = link_persons(settings, catalog, truth=truth, say=say)
    result.series = series_against_truth(settings, truth)
    return result


def series_against_truth(settings: Settings, truth: Any) -> dict[str, Any]:
    """Serial-case linking over the city's cases (the operator's use, on record) against its planted series."""
    import datetime as dt

    from exchange.investigate.series_read import MAX_WINDOW, against_truth
    from exchange.workspace.series import find_series

    end = dt.datetime.combine(dt.date.fromisoformat(truth.today) + dt.timedelta(days=1), dt.time())
    found = find_series(end - MAX_WINDOW + dt.timedelta(days=1), end, settings=settings,
                        purpose="make demo: serial-case linking against the city's truth")
    return {**against_truth(found["series"], [s["cases"] for s in truth.series], _case_numbers(settings)),
            "series": len(truth.series), "candidates": found["total"], "cases": found["cases"]}


def _case_numbers(settings: Settings) -> set[str]:
    from sqlalchemy import text

    engine = make_engine(settings.warehouse_url, root=settings.root)
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(text('SELECT case_number FROM core."case"'))}
    finally:
        engine.dispose()


def serve_demo_sources(settings: Settings, catalog: Catalog, env_file: Path, *, port: int = 0,
                       until: Callable[[], None], new_city: tuple[int, int] | None = None) -> dict[str, str]:
    """Serve the demo city's agency sources (its HTTP APIs; its SQL databases are files) until ``until``
    returns, their connections written to ``env_file`` (mode 600: it holds the APIs' tokens) for an
    Airflow started beside it (``set -a; . FILE; set +a``). ``new_city`` (persons, seed): first write a
    new city into the landing zone — the agencies' next exports — so Airflow's next runs load new
    batches instead of finding the demo's already loaded. Returns the variable names → where."""
    import os

    from exchange.demo import demo_sources, generate_city

    if new_city is not None:
        persons, seed = new_city
        generate_city(settings.landing_dir, persons=persons, seed=seed).write(
            settings.landing_dir.parent / "demo_truth.json")
    if not (settings.landing_dir / "police").exists():
        raise ConfigError(f"{settings.landing_dir}: no demo city here yet; run `exchange demo` first")
    with demo_sources(settings.landing_dir, catalog, port=port) as env:
        env_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(env_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("# the demo city's agency connections (written by `exchange demo-sources`; holds tokens)\n")
            fh.writelines(f"{k}='{v}'\n" for k, v in sorted(env.items()))
        shown = {k: v.split("?")[0] for k, v in env.items()}
        until()
    return shown
