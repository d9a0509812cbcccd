"""Feeds and batches: ``exchange feeds | run | validate | batches | migrate | sql | export | demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from exchange.cli.app import (
    _catalog,
    app,
    feeds_app,
)
from exchange.cli.render import (
    EXIT_ERROR,
    EXIT_INVALID_ROWS,
    _link_table,
    _metrics_line,
    _outcome_table,
    _plain,
    _progress,
    console,
    err,
)
from exchange.errors import DataQualityError


@feeds_app.callback()
def feeds_list(ctx: typer.Context) -> None:
    """List the declared feeds (``exchange feeds``); ``exchange feeds status``: their health."""
    if ctx.invoked_subcommand is not None:
        return
    _, cat = _catalog()
    t = Table(title="Feeds", title_justify="left")
    for col in ("feed", "target", "source", "schedule", "new data every", "max reject", "contact", "spec file"):
        t.add_column(col, overflow="fold")
    for fid, f in sorted(cat.feeds.items()):
        fresh = f"{f.freshness.expect_every} (+{f.freshness.grace})" if f.freshness else "-"
        t.add_row(fid, f.target, f.source.summary(), f.schedule or "-", fresh,
                  f"{f.quality.max_reject_ratio:.0%}", escape(f.contact or f.owner), cat.feed_files[fid])
    console.print(t)


def _run_one(feed_id: str, settings: Any, cat: Any, progress: Progress, index: bool = True) -> Any:
    from exchange.workspace.batches import run_feed
    task = progress.add_task(feed_id, total=None)
    current = {"stage": ""}

    def advance(stage: str, n: int) -> None:
        if stage != current["stage"]:  # one counter per stage: rows extracted, then rows validated
            current["stage"] = stage
            progress.update(task, description=f"{feed_id}: {stage}", completed=0)
        progress.advance(task, n)

    try:
        return run_feed(feed_id, settings=settings, catalog=cat, progress=advance, index=index)
    except DataQualityError as exc:
        outcome = getattr(exc, "outcome", None)
        if outcome is None:
            raise
        return outcome
    finally:
        progress.remove_task(task)


def _print_notes(notes: list[str]) -> None:
    """The batch report's notes on the source as a whole (see ``exchange.pipeline.records.Validated.notes``)."""
    for note in notes:
        console.print(f"[yellow]note:[/] {escape(note)}")


@app.command("run")
def run(feed: Annotated[str, typer.Argument(help="feed id, <agency>.<feed>")],
        index: Annotated[bool, typer.Option("--index/--no-index", help="bring the element index up to the published "
                                            "batch afterwards (else `exchange search-index` or Airflow's "
                                            "exchange.index_elements does)")] = True) -> None:
    """Run one batch of a feed: extract, validate, stage, load, publish; then the element index takes it."""
    settings, cat = _catalog()
    with _progress() as progress:
        outcome = _run_one(feed, settings, cat, progress, index)
    console.print(_outcome_table([outcome], f"batch {outcome.batch_id}"))
    _print_notes(outcome.notes)
    _print_index(outcome.index)
    if outcome.error:
        err.print(f"[red]{escape(outcome.error)}[/]")
    if outcome.report_path:
        console.print(f"validation report: {outcome.report_path}")
    if not outcome.published:
        raise typer.Exit(EXIT_INVALID_ROWS)


def _print_index(index: dict[str, Any]) -> None:
    """What the element index's catch-up after a run did."""
    if "error" in index:
        err.print(f"[yellow]element index behind:[/] {escape(index['error'])}")
    elif index:
        console.print(f"element index: {index['elements']:,} elements in {index['seconds']:.1f} s")


@app.command("validate")
def validate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="file to check")],
             feed: Annotated[str, typer.Option("--feed", help="the feed whose spec applies")],
             show: Annotated[int, typer.Option(help="rejected rows to show")] = 20) -> None:
    """Validate a file against a feed's mapping and schema without loading anything.

    Exit code 0: every row valid; 1: some rows would be quarantined; 2: the file or spec is unusable.
    """
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    from exchange.workspace.batches import validate_file
    settings, cat = _catalog()
    with _progress() as progress:
        task = progress.add_task(str(file), total=None)
        report = validate_file(file, feed, settings=settings, catalog=cat,
                               progress=lambda _s, n: progress.advance(task, n))
    for title, rows in ((f"{file} as {feed}: rows that would be quarantined", report.rejects),
                        (f"{file} as {feed}: rows that would load with flagged fields (value kept as "
                         f"<field>_unverified, the field left empty)", report.flagged)):
        t = Table(title=title, title_justify="left")
        for col in ("record", "source_record_id", "field", "rule", "value", "message"):
            t.add_column(col, overflow="fold")
        for r in rows[:show]:
            for reason in r["reasons"]:
                # a message may quote the source (an unreadable record's text): masked and escaped like a value
                t.add_row(str(r["row"]), _plain(r["source_record_id"]), reason["field"] or "", reason["rule"],
                          _plain(redact(reason["value"])) if reason["value"] is not None else "",
                          _plain(redact(reason["message"]), None))
        if rows:
            console.print(t)
    _print_notes(report.notes)
    flagged = f" ({report.rows_flagged:,} of them with flagged fields)" if report.rows_flagged else ""
    console.print(f"{report.rows_in:,} rows: {report.rows_valid:,} valid{flagged}, {report.rows_rejected:,} would be "
                  f"quarantined ({report.reject_ratio:.1%}; feed allows {report.max_reject_ratio:.0%})")
    if report.rows_rejected:
        raise typer.Exit(EXIT_INVALID_ROWS)


@app.command("batches")
def batches(feed: Annotated[str | None, typer.Option(help="only this feed")] = None,
            limit: int = 20) -> None:
    """Show recent batches from the ledger (audit.batch)."""
    from exchange.workspace.batches import recent_batches

    rows = recent_batches(feed, limit, settings=_catalog()[0])
    t = Table(title="audit.batch", title_justify="left")
    for col in ("batch", "feed", "state", "in", "valid", "loaded", "quarantined", "started", "error"):
        t.add_column(col, overflow="fold")
    uncounted = False
    for r in rows:
        counts = [r[c] for c in ("rows_in", "rows_valid", "rows_loaded", "rows_quarantined")]
        uncounted |= r["state"] == "failed" and r["rows_in"] is None
        t.add_row(r["batch_id"], r["feed"], r["state"], *("—" if n is None else f"{n:,}" for n in counts),
                  str(r["started_at"]), (r["error"] or "")[:120])
    console.print(t)
    if uncounted:
        console.print("— not counted: the batch failed before its rows were validated (the source could not be "
                      "read, or a mapped column is missing); see its error")


@app.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the warehouse (Alembic): the fixed tables and every schema's tables."""
    from exchange.workspace.batches import migrate_warehouse

    settings, cat = _catalog()
    applied, warehouse = migrate_warehouse(settings=settings, catalog=cat)
    for line in applied:
        console.print(f"  {line}")
    console.print(f"warehouse {warehouse} is up to date ({len(applied)} change(s) applied)")


@app.command("sql")
def sql(query: Annotated[str, typer.Argument(help="a SELECT over core.*, quarantine.*, audit.*")],
        limit: int = 50,
        max_chars: Annotated[int, typer.Option(help="characters shown of a long value (0: all)")] = 1000,
        purpose: Annotated[str | None, typer.Option(help="why you read (recorded in audit.access)")] = None,
        case_number: Annotated[str | None, typer.Option(help="the case or file it is for (recorded)")] = None,
        ) -> None:
    """Run one read-only query against the warehouse and print the result.

    One statement, in a read-only transaction with a timeout (EXCHANGE_OPERATOR_TIMEOUT, seconds); on
    PostgreSQL as a one-query login role that can read and nothing else. Recorded in audit.access
    (your OS account, the database role, the whole query, the rows read). A terminal table, not a file
    format: control characters in values are shown escaped (\\x1b), never sent to the terminal. To
    hand rows to a spreadsheet use ``exchange export``."""
    from exchange.workspace.sharing import operator_query
    settings, _ = _catalog()
    cols, rows, _role = operator_query(query, limit=limit, settings=settings, purpose=purpose,
                                       case_number=case_number)
    t = Table(title_justify="left")
    for c in cols:
        t.add_column(_plain(c), overflow="fold")
    for r in rows:
        t.add_row(*[_plain(v, max_chars or None) for v in r])
    console.print(t)


@app.command("export")
def export_cmd(table: Annotated[str | None, typer.Argument(
                   help="a table or view: core.person, quarantine.person, core.person_history, audit.batch, …")] = None,
               out: Annotated[Path, typer.Option("--out", "-o", help="the file to write (.csv or .xlsx)")] = Path(),
               fmt: Annotated[str | None, typer.Option("--format", help="csv or xlsx (default: from --out)")] = None,
               query: Annotated[str | None, typer.Option(help="export the rows of this SELECT instead")] = None,
               limit: Annotated[int | None, typer.Option(help="at most this many rows")] = None,
               purpose: Annotated[str | None, typer.Option(help="why the data leaves the warehouse (recorded)")] = None,
               case_number: Annotated[str | None, typer.Option(help="the case or file it is for (recorded)")] = None,
               ) -> None:
    """Export a warehouse table (or a SELECT) to CSV or Excel for a spreadsheet.

    Cells that a spreadsheet would run as a formula (text starting with = + - @, TAB or CR) are
    neutralised: a ' in front in CSV, a string cell with Excel's quote prefix in XLSX. The values in
    the warehouse are never changed. Every export is recorded in audit.access (channel export: user,
    host, purpose, case number, what, rows) — see `exchange grants access`."""
    from exchange.workspace.exports import export_rows
    if out == Path():
        err.print("[red]--out is required: the .csv or .xlsx file to write[/]")
        raise typer.Exit(EXIT_ERROR)
    result = export_rows(table, out, query=query, fmt=fmt, limit=limit, purpose=purpose,
                         case_number=case_number)
    console.print(f"exported {result.rows:,} rows × {result.columns} columns of {escape(table or 'the query')} "
                  f"to {escape(str(result.path))} ({result.format}); {result.neutralised:,} cell(s) that start like "
                  f"a formula neutralised")


@app.command("demo")
def demo(persons: Annotated[int, typer.Option(help="residents in the synthetic city")] = 1000,
         seed: Annotated[int, typer.Option(help="random seed of the city")] = 20261128,
         fresh: Annotated[bool, typer.Option(help="start from an empty landing zone, staging, "
                                                  "reports and warehouse")] = True) -> None:
    """Generate a synthetic city with several agencies and run every demo feed."""
    from exchange.workspace.demo import run_demo
    settings, cat = _catalog()
    with _progress() as progress:
        result = run_demo(settings, cat, persons=persons, seed=seed, fresh=fresh,
                          run_one=lambda fid: _run_one(fid, settings, cat, progress),
                          say=lambda msg: err.print(msg))
    console.print(_outcome_table(result.outcomes, f"Demo city: {persons:,} residents, "
                                                  f"{len(result.outcomes)} feeds"))
    console.print(f"[bold]Where to look[/]\n"
                  f"  warehouse     {result.warehouse}\n"
                  f"                exchange sql \"SELECT * FROM core.person LIMIT 5\"\n"
                  f"                exchange sql \"SELECT _source_row, rules FROM quarantine.person\"\n"
                  f"  ledger        exchange batches\n"
                  f"  reports       {result.reports_index}  (open in a browser: every batch → its GX Data Docs)\n"
                  f"  staging       {settings.staging_dir}\n"
                  f"  agency files  {settings.landing_dir}\n"
                  f"  seeded truth  {result.truth_path}")
    if not result.matches_truth:
        err.print("[red]the demo's counts do not match its seeded defects:[/]")
        for line in result.mismatches:
            err.print(f"  {line}")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print("[green]every feed's loaded and quarantined counts match the seeded defects[/]")
    if result.linking is not None:
        console.print(_link_table(result.linking))
        if result.linking.metrics:
            console.print(f"person linking against the city's truth: {_metrics_line(result.linking.metrics)}")
    if result.series is not None:
        sr = result.series
        console.print(f"serial-case linking against the city's truth: precision {sr['precision']:.3f}, recall "
                      f"{sr['recall']:.3f} ({sr['series']} planted series, {sr['pairs']} pairs; {sr['candidates']} "
                      f"candidate series among {sr['cases']} cases)   exchange series find --since …")
        console.print("  profiles      exchange person <person_uid or ID number>   (API: exchange serve)")
        console.print("  map           exchange map --period <year> --level town --agency street_office_hanbin   "
                      "(犯罪制图: counts per area, small counts suppressed)")
        console.print("  console       exchange console user add NAME --agency police, then exchange serve → "
                      "http://127.0.0.1:8000/console")




@app.command("demo-sources")
def demo_sources_cmd(env_file: Annotated[Path, typer.Option(help="where to write the connections (mode 600)")]
                     = Path("var/demo-connections.env"),
                     port: Annotated[int, typer.Option(help="port of the demo's HTTP API (0: any free one)")]
                     = 0,
                     new_city: Annotated[int | None, typer.Option(
                         help="first write a new city with this seed into the landing zone (the agencies' next "
                              "exports), so Airflow's next runs have new batches to load")] = None,
                     persons: Annotated[int, typer.Option(help="residents of the new city")] = 1000) -> None:
    """Serve the demo city's agency sources (the mediation centre's HTTP API) until Ctrl-C, their
    connections written to ENV_FILE, so an Airflow started beside it finds them."""
    import contextlib
    import threading

    from exchange.workspace.demo import serve_demo_sources

    settings, cat = _catalog()

    def until() -> None:
        console.print(f"demo sources up; their connections are in {escape(str(env_file))}: load them into "
                      f"Airflow's environment with  set -a; . {escape(str(env_file))}; set +a   (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()

    shown = serve_demo_sources(settings, cat, env_file, port=port, until=until,
                               new_city=(persons, new_city) if new_city is not None else None)
    console.print("stopped: " + ", ".join(f"{k} ({v})" for k, v in sorted(shown.items())))
