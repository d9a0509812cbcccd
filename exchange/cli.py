"""``exchange``: the command line of the Agency Data Exchange (Typer + Rich).

Every command calls the same core functions the Airflow tasks call.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import click
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from exchange.errors import ConfigError, DataQualityError, ExchangeError, TerminalError, TransientError

app = typer.Typer(help="Agency Data Exchange: validate agency feeds against shared schemas and land "
                       "them in the common warehouse.", no_args_is_help=True, add_completion=False,
                  pretty_exceptions_show_locals=False)
schemas_app = typer.Typer(help="The shared canonical schemas.", invoke_without_command=True)
app.add_typer(schemas_app, name="schemas")

# Wide tables when piped (CI logs, files); the terminal's width otherwise.
console = Console(width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 200)

EXIT_INVALID_ROWS = 1
EXIT_ERROR = 2


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("great_expectations", "urllib3", "faker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="debug logging")] = False) -> None:
    _setup_logging(verbose)


_KINDS = ((ConfigError, "configuration error"), (TransientError, "transient error (a retry may succeed)"),
          (DataQualityError, "data quality"), (TerminalError, "error"))


def _message(exc: Exception) -> str:
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    return f"[bold red]{kind}:[/] {escape(str(exc))}"


def _fail(exc: Exception) -> None:
    err.print(_message(exc), highlight=False)
    raise typer.Exit(EXIT_ERROR)


def _exit_for(exc: Exception) -> None:
    err.print(_message(exc), highlight=False)
    sys.exit(EXIT_ERROR)


def _catalog() -> Any:
    from exchange.spec.catalog import load_catalog
    from exchange.spec.settings import Settings

    settings = Settings.from_env()
    return settings, load_catalog(settings.root)


# --- schemas -------------------------------------------------------------------------------------


@schemas_app.callback()
def schemas_list(ctx: typer.Context) -> None:
    """List the shared schemas (``exchange schemas show NAME`` for one)."""
    if ctx.invoked_subcommand:
        return
    try:
        _, cat = _catalog()
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="Shared canonical schemas", title_justify="left")
    for col in ("schema", "version", "fields", "PII fields", "feeds", "description"):
        t.add_column(col, overflow="fold")
    for name, s in sorted(cat.schemas.items()):
        feeds = [f for f, spec in cat.feeds.items() if spec.target_schema == name]
        pii = sum(1 for f in s.fields.values() if f.pii != "none")
        t.add_row(name, s.version, str(len(s.fields)), str(pii), ", ".join(sorted(feeds)) or "-",
                  s.description.strip())
    console.print(t)


@schemas_app.command("show")
def schemas_show(name: str, suite: Annotated[bool, typer.Option(help="print the compiled GX suite")] = False
                 ) -> None:
    """Show one schema's fields as a table (or its compiled Great Expectations suite)."""
    try:
        _, cat = _catalog()
        s = cat.schema(name)
    except ExchangeError as exc:
        _fail(exc)
    if suite:
        from exchange.validation.suites import compile_suite, suite_to_golden

        console.print_json(json.dumps(suite_to_golden(compile_suite(s, cat)), ensure_ascii=False))
        return
    t = Table(title=f"{s.name} {s.version} — {s.description.strip()}", title_justify="left")
    for col in ("field", "type", "format", "required", "PII", "allowed values", "description"):
        t.add_column(col, overflow="fold")
    for fname, f in s.fields.items():
        allowed = s.allowed_values(fname, cat.codes)
        t.add_row(fname + (" 🔑" if fname in s.natural_key else ""), f.type, f.format or "",
                  "yes" if f.required else "", f.pii, ", ".join(allowed) if allowed else "", f.description)
    console.print(t)
    console.print(f"natural key: (source_agency, {', '.join(s.natural_key)})")


@schemas_app.command("check")
def schemas_check(against: Annotated[str, typer.Option(help="git revision holding the published schemas")]
                  = "HEAD") -> None:
    """Check that every changed schema raised its version enough (breaking change → major)."""
    import subprocess

    import yaml

    from exchange.spec.compat import check, compare
    from exchange.spec.loading import parse_model
    from exchange.spec.schema import CodeList, EntitySchema

    try:
        settings, cat = _catalog()
    except ExchangeError as exc:
        _fail(exc)

    def show(path: str) -> str | None:
        res = subprocess.run(["git", "-C", str(settings.root), "show", f"{against}:{path}"],
                             capture_output=True, text=True)
        return res.stdout if res.returncode == 0 else None

    old_codes_text = show("schemas/reference/codes.yaml")
    old_cat = type(cat)(root=cat.root)
    if old_codes_text:
        old_cat.codes = {k: parse_model(CodeList, v, f"{against}:codes.yaml")
                         for k, v in yaml.safe_load(old_codes_text).items()}
    problems: list[str] = []
    t = Table(title=f"schema changes since {against}", title_justify="left")
    for col in ("schema", "version", "change", "needs"):
        t.add_column(col, overflow="fold")
    for name, new in sorted(cat.schemas.items()):
        text = show(f"schemas/{name}.yaml")
        if text is None:
            t.add_row(name, new.version, "new schema", "-")
            continue
        old = parse_model(EntitySchema, yaml.safe_load(text), f"{against}:schemas/{name}.yaml")
        for c in compare(old, new, old_cat, cat):
            t.add_row(name, f"{old.version} → {new.version}", c.what, c.level)
        problems.extend(check(old, new, old_cat, cat))
    console.print(t)
    if problems:
        for p in problems:
            err.print(f"[red]{escape(p)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print("[green]every schema change carries the version it needs[/]")


# --- feeds -------------------------------------------------------------------------------------------


@app.command("feeds")
def feeds_list() -> None:
    """List the declared feeds."""
    try:
        _, cat = _catalog()
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="Feeds", title_justify="left")
    for col in ("feed", "target", "source", "schedule", "max reject", "spec file"):
        t.add_column(col, overflow="fold")
    for fid, f in sorted(cat.feeds.items()):
        t.add_row(fid, f.target, f.source.summary(), f.schedule or "-",
                  f"{f.quality.max_reject_ratio:.0%}", cat.feed_files[fid])
    console.print(t)


def _outcome_table(outcomes: list[Any], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("feed", "state", "rows in", "loaded", "quarantined", "reject %", "top reasons"):
        t.add_column(col, overflow="fold", justify="right" if col in ("rows in", "loaded", "quarantined",
                                                                         "reject %") else "left")
    for o in outcomes:
        state = o.state + (" (already)" if o.already_loaded else "")
        style = "green" if o.published else "red"
        reasons = "; ".join(f"{rule}{'(' + fld + ')' if fld else ''} ×{n}" for rule, fld, n in o.top_reasons)
        t.add_row(o.feed, f"[{style}]{state}[/]", f"{o.rows_in:,}", f"{o.rows_loaded:,}",
                  f"{o.rows_quarantined:,}", f"{o.reject_ratio:.1%}", reasons or "-")
    return t


def _progress() -> Progress:
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(bar_width=None),
                    TextColumn("{task.completed:,} rows"), TimeElapsedColumn(), console=err,
                    transient=True, disable=not err.is_terminal)


def _run_one(feed_id: str, settings: Any, cat: Any, progress: Progress) -> Any:
    from exchange.runner import run_feed

    task = progress.add_task(feed_id, total=None)
    current = {"stage": ""}

    def advance(stage: str, n: int) -> None:
        if stage != current["stage"]:  # one counter per stage: rows extracted, then rows validated
            current["stage"] = stage
            progress.update(task, description=f"{feed_id}: {stage}", completed=0)
        progress.advance(task, n)

    try:
        return run_feed(feed_id, settings=settings, catalog=cat, progress=advance)
    except DataQualityError as exc:
        outcome = getattr(exc, "outcome", None)
        if outcome is None:
            raise
        return outcome
    finally:
        progress.remove_task(task)


@app.command("run")
def run(feed: Annotated[str, typer.Argument(help="feed id, <agency>.<feed>")]) -> None:
    """Run one batch of a feed: extract, validate, stage, load, record."""
    try:
        settings, cat = _catalog()
        with _progress() as progress:
            outcome = _run_one(feed, settings, cat, progress)
    except ExchangeError as exc:
        _fail(exc)
    console.print(_outcome_table([outcome], f"batch {outcome.batch_id}"))
    if outcome.error:
        err.print(f"[red]{outcome.error}[/]")
    if outcome.report_path:
        console.print(f"validation report: {outcome.report_path}")
    if not outcome.published:
        raise typer.Exit(EXIT_INVALID_ROWS)


@app.command("validate")
def validate(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="file to check")],
             feed: Annotated[str, typer.Option("--feed", help="the feed whose spec applies")],
             show: Annotated[int, typer.Option(help="rejected rows to show")] = 20) -> None:
    """Validate a file against a feed's mapping and schema without loading anything.

    Exit code 0: every row valid; 1: some rows would be quarantined; 2: the file or spec is unusable.
    """
    from exchange.runner import validate_file

    try:
        settings, cat = _catalog()
        with _progress() as progress:
            task = progress.add_task(str(file), total=None)
            report = validate_file(file, feed, settings=settings, catalog=cat,
                                   progress=lambda _s, n: progress.advance(task, n))
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title=f"{file} as {feed}", title_justify="left")
    for col in ("record", "source_record_id", "field", "rule", "value", "message"):
        t.add_column(col, overflow="fold")
    for r in report.rejects[:show]:
        for reason in r["reasons"]:
            t.add_row(str(r["row"]), r["source_record_id"] or "", reason["field"] or "", reason["rule"],
                      reason["value"] if reason["value"] is not None else "", reason["message"])
    if report.rejects:
        console.print(t)
    console.print(f"{report.rows_in:,} rows: {report.rows_valid:,} valid, {report.rows_rejected:,} would be "
                  f"quarantined ({report.reject_ratio:.1%}; feed allows {report.max_reject_ratio:.0%})")
    if report.rows_rejected:
        raise typer.Exit(EXIT_INVALID_ROWS)


@app.command("batches")
def batches(feed: Annotated[str | None, typer.Option(help="only this feed")] = None,
            limit: int = 20) -> None:
    """Show recent batches from the ledger (audit.batch)."""
    from exchange.audit import ledger
    from exchange.audit import tables as audit_tables
    from exchange.warehouse.engine import make_engine
    from exchange.warehouse.load import ensure_tables

    try:
        settings, _ = _catalog()
        engine = make_engine(settings.warehouse_url, root=settings.root)
        ensure_tables(engine, [], audit_tables.metadata)
        with engine.connect() as conn:
            rows = ledger.recent_batches(conn, feed, limit)
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="audit.batch", title_justify="left")
    for col in ("batch", "feed", "state", "in", "valid", "loaded", "quarantined", "started", "error"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["batch_id"], r["feed"], r["state"], str(r["rows_in"] or 0), str(r["rows_valid"] or 0),
                  str(r["rows_loaded"] or 0), str(r["rows_quarantined"] or 0), str(r["started_at"]),
                  (r["error"] or "")[:120])
    console.print(t)


@app.command("migrate")
def migrate_cmd() -> None:
    """Create or upgrade the warehouse (Alembic): the fixed tables and every schema's tables."""
    from exchange.warehouse.engine import describe, make_engine
    from exchange.warehouse.migrate import migrate

    try:
        settings, cat = _catalog()
        engine = make_engine(settings.warehouse_url, root=settings.root)
        applied = migrate(engine, cat.schemas.values())
    except ExchangeError as exc:
        _fail(exc)
    for line in applied:
        console.print(f"  {line}")
    console.print(f"warehouse {describe(engine)} is up to date ({len(applied)} change(s) applied)")


@app.command("sql")
def sql(query: Annotated[str, typer.Argument(help="a SELECT over core.*, quarantine.*, audit.*")],
        limit: int = 50) -> None:
    """Run a read-only query against the warehouse and print the result."""
    from sqlalchemy import text

    from exchange.warehouse.engine import make_engine

    if not query.lstrip().lower().startswith(("select", "with")):
        err.print("[red]only SELECT / WITH queries are allowed here[/]")
        raise typer.Exit(EXIT_ERROR)
    try:
        settings, _ = _catalog()
        engine = make_engine(settings.warehouse_url, root=settings.root)
        with engine.connect() as conn:
            res = conn.execute(text(query))
            cols = list(res.keys())
            rows = res.fetchmany(limit)
    except ExchangeError as exc:
        _fail(exc)
    except Exception as exc:  # noqa: BLE001 - SQL errors are shown, not raised
        err.print(f"[red]query failed:[/] {exc}")
        raise typer.Exit(EXIT_ERROR) from None
    t = Table(title_justify="left")
    for c in cols:
        t.add_column(c, overflow="fold")
    for r in rows:
        t.add_row(*["" if v is None else str(v) for v in r])
    console.print(t)


@app.command("demo")
def demo(persons: Annotated[int, typer.Option(help="residents in the synthetic city")] = 1000,
         seed: Annotated[int, typer.Option(help="random seed of the city")] = 20261128,
         fresh: Annotated[bool, typer.Option(help="start from an empty landing zone, staging, "
                                                  "reports and warehouse")] = True) -> None:
    """Generate a synthetic city with several agencies and run every demo feed."""
    from exchange.runner import run_demo

    try:
        settings, cat = _catalog()
        with _progress() as progress:
            result = run_demo(settings, cat, persons=persons, seed=seed, fresh=fresh,
                              run_one=lambda fid: _run_one(fid, settings, cat, progress),
                              say=lambda msg: err.print(msg))
    except ExchangeError as exc:
        _fail(exc)
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


def run_cli() -> None:
    """Console entry point: expected errors are handled per command; anything else is a bug,
    reported in one line (the traceback only with --verbose, since it can hold row values)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    try:
        app(standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except ExchangeError as exc:
        _exit_for(exc)
    except Exception as exc:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {str(exc)[:500]}\n"
                  f"This is a bug in the exchange; rerun with -v for the traceback and report it.")
        sys.exit(3)
