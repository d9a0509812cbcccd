"""``exchange``: the command line of the Agency Data Exchange (Typer + Rich).

Every command calls the same core functions the Airflow tasks call.
"""

from __future__ import annotations

import json
import logging
import os
import re
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
audit_app = typer.Typer(help="For auditors: the hash-chained ledger, lineage of a row, the audit report.",
                        no_args_is_help=True)
app.add_typer(audit_app, name="audit")
quarantine_app = typer.Typer(help="Quarantined rows: re-validate them after a mapping or schema fix.",
                             no_args_is_help=True)
app.add_typer(quarantine_app, name="quarantine")
grants_app = typer.Typer(help="Sharing: grants/<agency>.yaml → roles, masked share_<agency> views, privileges; "
                              "API keys; the access log.", no_args_is_help=True)
app.add_typer(grants_app, name="grants")
grant_keys_app = typer.Typer(help="Per-agency API keys of the profile API (stored hashed).", no_args_is_help=True)
grants_app.add_typer(grant_keys_app, name="key")
link_app = typer.Typer(help="The master person index: link every person record (no subcommand), or work the "
                            "clerical review queue.", invoke_without_command=True)
app.add_typer(link_app, name="link")
review_app = typer.Typer(help="Records the model could not place with confidence: see them, accept a candidate, "
                              "or reject them all. Decisions persist, override the model and go to the ledger.",
                         no_args_is_help=True)
link_app.add_typer(review_app, name="review")

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


# Characters a terminal acts on instead of showing (C0/C1 controls, DEL; bidi overrides that reorder
# what is shown): a value holding them is printed with them escaped, never raw.
_UNSHOWN = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
SHOW_MAX_CHARS = 200


def _plain(value: object, limit: int | None = SHOW_MAX_CHARS) -> str:
    """A warehouse or source value fit for a Rich table: control characters escaped (``\\x1b``), Rich
    markup not interpreted, and a long value cut with a note of what was left out."""
    text = "" if value is None else str(value)
    cut = ""
    if limit is not None and len(text) > limit:
        cut = f"… (+{len(text) - limit:,} characters)"
        text = text[:limit]
    text = _UNSHOWN.sub(lambda m: repr(m.group())[1:-1], text)
    return escape(text) + cut


def _message(exc: Exception) -> str:
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    kind = next((label for cls, label in _KINDS if isinstance(exc, cls)), "error")
    text = _UNSHOWN.sub(lambda m: repr(m.group())[1:-1], redact(str(exc)))  # e.g. a column name's NUL
    return f"[bold red]{kind}:[/] {escape(text)}"


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
    for col in ("feed", "state", "rows in", "loaded", "flagged", "quarantined", "reject %", "top reasons"):
        t.add_column(col, overflow="fold", justify="right" if col in ("rows in", "loaded", "flagged", "quarantined",
                                                                         "reject %") else "left")
    for o in outcomes:
        state = o.state + (" (already)" if o.already_loaded else "")
        style = "green" if o.published else "red"
        reasons = "; ".join(f"{rule}{'(' + fld + ')' if fld else ''} ×{n}" for rule, fld, n in o.top_reasons)
        t.add_row(o.feed, f"[{style}]{state}[/]", f"{o.rows_in:,}", f"{o.rows_loaded:,}", f"{o.rows_flagged:,}",
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
        err.print(f"[red]{escape(outcome.error)}[/]")
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
    from exchange.formats.masking import redact  # numpy/pyarrow: imported on use
    from exchange.runner import validate_file

    try:
        settings, cat = _catalog()
        with _progress() as progress:
            task = progress.add_task(str(file), total=None)
            report = validate_file(file, feed, settings=settings, catalog=cat,
                                   progress=lambda _s, n: progress.advance(task, n))
    except ExchangeError as exc:
        _fail(exc)
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
    flagged = f" ({report.rows_flagged:,} of them with flagged fields)" if report.rows_flagged else ""
    console.print(f"{report.rows_in:,} rows: {report.rows_valid:,} valid{flagged}, {report.rows_rejected:,} would be "
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
    from exchange.runner import operator_query

    try:
        settings, _ = _catalog()
        cols, rows, _role = operator_query(query, limit=limit, settings=settings, purpose=purpose,
                                           case_number=case_number)
    except ExchangeError as exc:
        _fail(exc)
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
    from exchange.runner import export_rows

    if out == Path():
        err.print("[red]--out is required: the .csv or .xlsx file to write[/]")
        raise typer.Exit(EXIT_ERROR)
    try:
        result = export_rows(table, out, query=query, fmt=fmt, limit=limit, purpose=purpose,
                             case_number=case_number)
    except ExchangeError as exc:
        _fail(exc)
    console.print(f"exported {result.rows:,} rows × {result.columns} columns of {escape(table or 'the query')} "
                  f"to {escape(str(result.path))} ({result.format}); {result.neutralised:,} cell(s) that start like "
                  f"a formula neutralised")


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
    if result.linking is not None:
        console.print(_link_table(result.linking))
        if result.linking.metrics:
            console.print(f"person linking against the city's truth: {_metrics_line(result.linking.metrics)}")
        console.print("  profiles      exchange person <person_uid or ID number>   (API: exchange serve)")


# --- audit and quarantine (auditors) --------------------------------------------------------------


def _audit_engine() -> Any:
    """The warehouse, migrated only if it has no ledger yet (so a read-only auditor can verify)."""
    from exchange.runner import audit_engine

    return audit_engine(_catalog()[0])


@audit_app.command("verify")
def audit_verify(anchor: Annotated[list[str] | None, typer.Option(
        help="SEQ:HASH printed by an earlier verify and kept outside the warehouse; repeatable")] = None) -> None:
    """Check the whole hash chain and the tables it vouches for, both ways: audit.batch and
    audit.validation, API keys (audit.api_key) and the sealed ranges of the access log (audit.access).
    Names the first broken entry. Exit 0 intact, 1 broken. Prints the head to record elsewhere."""
    from exchange.runner import verify_audit

    try:
        checked = verify_audit(anchor or [], settings=_catalog()[0])
    except ValueError as exc:
        _fail(ConfigError(str(exc)))
    except ExchangeError as exc:
        _fail(exc)
    result, mismatches = checked.verification, checked.mismatches
    if result.ok:
        console.print(f"[green]ledger intact[/]: {result.entries:,} entries, every hash and link checks out")
    else:
        err.print(f"[bold red]ledger broken at entry {result.first_broken.seq}[/]: {escape(str(result.first_broken))}")
        for p in result.problems[1:20]:
            err.print(f"  also {escape(str(p))}")
    for m in mismatches:
        err.print(f"[red]differs from the ledger:[/] {escape(m)}")
    if checked.unsealed_access_rows:
        console.print(f"[yellow]{checked.unsealed_access_rows:,} audit.access row(s) since the last seal[/]: not "
                      f"protected until `exchange audit seal` records them")
    console.print(f"head (record it elsewhere; check it later with --anchor): {result.anchor}")
    if not result.ok or mismatches:
        raise typer.Exit(EXIT_INVALID_ROWS)


@audit_app.command("seal")
def audit_seal() -> None:
    """Record the digest of the audit.access rows since the last seal in the ledger, so that deleting or
    altering them is found by `exchange audit verify` (rows younger than a minute wait for the next seal)."""
    from exchange.runner import seal_access_log

    try:
        entry = seal_access_log(settings=_catalog()[0])
    except ExchangeError as exc:
        _fail(exc)
    if entry is None:
        console.print("nothing to seal: no audit.access row since the last seal is older than a minute")
        return
    console.print(f"sealed {entry.data['rows']:,} audit.access row(s), ids {entry.data['first_id']}–"
                  f"{entry.data['last_id']}: ledger entry {entry.seq}")


@audit_app.command("log")
def audit_log(kind: Annotated[str | None, typer.Option(help="only this kind of entry")] = None,
              subject: Annotated[str | None, typer.Option(help="only entries about this batch / grant / feed")]
              = None, limit: int = 30) -> None:
    """The newest ledger entries (audit.ledger)."""
    from exchange.audit import chain

    try:
        engine = _audit_engine()
        with engine.connect() as conn:
            found = chain.entries(conn, kind=kind, subject=subject, newest_first=True, limit=limit)
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="audit.ledger (newest first)", title_justify="left")
    for col in ("seq", "recorded (UTC)", "kind", "subject", "hash", "payload"):
        t.add_column(col, overflow="fold")
    for e in found:
        t.add_row(str(e.seq), str(e.recorded_at), e.kind, e.subject, e.hash[:16] + "…",
                  escape(e.payload[:160] + ("…" if len(e.payload) > 160 else "")))
    console.print(t)


@audit_app.command("lineage")
def audit_lineage(table: Annotated[str, typer.Argument(help="core.<entity>, e.g. core.person")],
                  key: Annotated[str, typer.Argument(help="SOURCE_AGENCY:SOURCE_RECORD_ID, e.g. police:R0000123")],
                  as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Where one warehouse row came from: batch, source and its SHA-256, schema and code version,
    validation result, staged files re-checked against the manifest and the ledger, earlier versions.
    Exit 1 when a staged file or the manifest no longer matches, or the row was edited after it was loaded."""
    from exchange.runner import row_lineage

    try:
        settings, cat = _catalog()
        found = row_lineage(table, key, settings=settings, catalog=cat)
    except ExchangeError as exc:
        _fail(exc)
    if found is None:
        err.print(f"[red]{escape(key)} is not in {escape(table)}, its history or its quarantine[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        console.print_json(json.dumps(found, ensure_ascii=False, default=str))
    else:
        _print_lineage(found)
    staged = found.get("staged") or {}
    if found.get("current") and (not staged.get("ok") or found.get("row_hash_ok") is False):
        raise typer.Exit(EXIT_INVALID_ROWS)


def _print_lineage(found: dict[str, Any]) -> None:
    console.print(f"[bold]{escape(found['table'])} {escape(found['key'])}[/]")
    cur, b = found.get("current"), found.get("batch") or {}
    if cur is None:
        console.print("  not in the table now (only earlier or quarantined versions below)")
    else:
        src = b.get("source") or {}
        files = src.get("files") or []
        t = Table(show_header=False, title="current version", title_justify="left")
        t.add_column("what", style="bold")
        t.add_column("value", overflow="fold")
        t.add_row("batch", f"{b.get('batch_id')} ({b.get('feed')}, {b.get('state')}, started {b.get('started_at')})"
                  + (" — reprocessing of quarantined rows" if b.get("reprocessing") else ""))
        t.add_row("loaded at", str(cur["_loaded_at"]))
        t.add_row("source row", f"{cur['_source_file']} record {cur['_source_row']}")
        for f in files:
            t.add_row("source file", f"{f.get('path')}  sha256 {f.get('sha256')}")
        if not files:
            t.add_row("source", escape(json.dumps({k: v for k, v in src.items() if k != 'batches'},
                                                  ensure_ascii=False, default=str)))
        t.add_row("source fingerprint", str(b.get("fingerprint")))
        if found.get("origin"):
            o = found["origin"]
            first_files = ", ".join(f"{f.get('path')} sha256 {f.get('sha256')}"
                                    for f in (o.get("source") or {}).get("files", []))
            t.add_row("first quarantined in", f"{o.get('batch_id')} for {o.get('quarantined_for')}"
                      + (f" (source {first_files})" if first_files else ""))
        t.add_row("schema version", f"{b.get('entity')} {b.get('schema_version')}")
        t.add_row("code version", str(b.get("code_version")))
        v = found.get("validation") or {}
        failing = "; ".join(f"{x['rule']}({x['field']}) {x['unexpected']}/{x['of']}" for x in v.get("failing", []))
        t.add_row("validation", f"suite {v.get('suite')}: {v.get('passed')} of {v.get('expectations')} expectations "
                  f"passed" + (f"; failed: {failing}" if failing else ""))
        t.add_row("row hash", str(cur["_row_hash"]))
        t.add_row("Data Docs", str(b.get("report_path") or "-"))
        t.add_row("ledger entries", ", ".join(f"{e['seq']} {e['kind']}" for e in found.get("ledger", [])) or "none")
        console.print(t)
        staged = found.get("staged") or {}
        s = Table(title=f"staged files ({staged.get('folder')})", title_justify="left")
        for col in ("file", "rows", "sha256 (manifest)", "now"):
            s.add_column(col, overflow="fold")
        for f in staged.get("files", []):
            s.add_row(f["name"], str(f["rows"]), f["sha256"], "[green]matches[/]" if f["ok"] else "[red]DIFFERS[/]")
        console.print(s)
        if staged.get("ok"):
            console.print(f"[green]staged files match the manifest, and the manifest matches ledger entry "
                          f"{staged.get('ledger_entry')}[/]")
        else:
            err.print(f"[bold red]lineage evidence broken:[/] {escape(str(staged.get('problem')))}")
    if found.get("row_hash_ok") is True:
        console.print("[green]the warehouse row equals its sealed staged row[/]")
    elif found.get("current"):
        err.print(f"[bold red]the warehouse row does not match what was loaded:[/] "
                  f"{escape(str(found.get('row_hash_problem')))}")
    if found.get("versions"):
        h = Table(title="earlier versions (newest first)", title_justify="left")
        for col in ("batch", "loaded", "superseded", "by batch", "source", "fields changed since"):
            h.add_column(col, overflow="fold")
        for v in found["versions"]:
            h.add_row(v["batch_id"], v["loaded_at"], v["superseded_at"], v["superseded_by"],
                      f"{v['source_file']} record {v['source_row']}", ", ".join(v["changed_fields"]) or "-")
        console.print(h)
    if found.get("quarantined"):
        q = Table(title="quarantined versions", title_justify="left")
        for col in ("batch", "source", "rules", "status", "resolved / re-checked by"):
            q.add_column(col, overflow="fold")
        for v in found["quarantined"]:
            later = v["resolved_by"] or (f"{v['rechecked_by']} ({v['recheck_rules']})" if v["rechecked_by"] else "-")
            q.add_row(v["batch_id"], f"{v['source_file']} record {v['source_row']}", v["rules"], v["status"], later)
        console.print(q)


@audit_app.command("report")
def audit_report_cmd(since: Annotated[str, typer.Option(help="first day, YYYY-MM-DD (UTC)")],
                     until: Annotated[str | None, typer.Option(help="last day, YYYY-MM-DD (default: now)")] = None,
                     out: Annotated[Path | None, typer.Option(help="HTML file to write (default: "
                                                              "<reports>/audit-report.html)")] = None) -> None:
    """Write the auditors' HTML report: per agency and feed the batches, counts, failure reasons,
    pass-rate trends and Data Docs links; grant changes; access per consumer; ledger integrity."""
    import datetime as dt

    from exchange.runner import audit_report

    try:
        first = dt.date.fromisoformat(since)
        last = dt.date.fromisoformat(until) if until else None
    except ValueError as exc:
        _fail(ConfigError(f"--since/--until: expected YYYY-MM-DD ({exc})"))
    try:
        settings, cat = _catalog()
        path = audit_report(since=first, until=last, out=out, settings=settings, catalog=cat)
    except ExchangeError as exc:
        _fail(exc)
    console.print(f"audit report: {path}")


@audit_app.command("scan")
def audit_scan(
        paths: Annotated[list[Path] | None, typer.Argument(
            help="files or folders to scan (recursively); default: the reports and staging folders")] = None,
        secrets_file: Annotated[list[Path] | None, typer.Option(
            "--secrets-file", help="a file of secrets to look for: NAME=value lines (a .env file; connection "
                                   "URLs give their passwords and tokens) or one per line; repeatable")] = None,
        secret_env: Annotated[list[str] | None, typer.Option(
            "--secret-env", help="an environment variable whose value (or, for a connection, whose password "
                                 "and token) is a secret to look for; repeatable")] = None,
        from_env: Annotated[bool, typer.Option(
            "--env-secrets/--no-env-secrets", help="also look for the secrets of this environment: "
                                                   "EXCHANGE_CONN_*, AIRFLOW_CONN_*, database URLs' passwords, "
                                                   "API, JWT and Fernet keys, *_PASSWORD, *_TOKEN, …")] = True,
        legacy: Annotated[bool, typer.Option(
            "--legacy/--no-legacy", help="also report plausible legacy 15-digit ID numbers")] = True,
        all_files: Annotated[bool, typer.Option(
            "--all-files", help="read every non-binary file, not only .log .json .html .txt .yaml … (.gz too)")]
        = False,
        exclude: Annotated[list[str] | None, typer.Option(help="skip files matching this glob; repeatable")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print the findings as JSON")] = False,
        limit: Annotated[int, typer.Option(help="findings to print")] = 50) -> None:
    """Look for resident ID numbers (valid check character) and secrets in logs, reports, XCom
    dumps, manifests — anything that must hold neither. Prints file, line and a masked excerpt,
    never the value. Exit 0 clean, 1 something found."""
    from exchange.audit import leaks

    secrets: dict[str, str] = leaks.secrets_from_env() if from_env else {}
    try:
        for name in secret_env or []:
            value = os.environ.get(name)
            if not value:
                raise ConfigError(f"--secret-env {name}: the variable is not set")
            found = leaks.connection_secrets(name, value)
            secrets.update({f"{name} (secret {i})": s for i, s in enumerate(found, 1)} if found else {name: value})
        for path in secrets_file or []:
            try:
                secrets.update(leaks.secrets_from_file(path))
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(f"--secrets-file {path}: cannot read it ({exc}); give a UTF-8 text file") from None
        if not paths:
            settings, _ = _catalog()
            paths = [settings.reports_dir, settings.staging_dir]
    except ExchangeError as exc:
        _fail(exc)
    scanner = leaks.LeakScanner(secrets, legacy_ids=legacy)
    result = scanner.scan_paths(paths or [], all_files=all_files, exclude=exclude or [])
    if as_json:
        console.print_json(json.dumps({
            "clean": result.clean, "files_scanned": len(result.scanned), "skipped": result.skipped,
            "secrets_searched": scanner.secret_count, "secrets_too_short": scanner.ignored_secrets,
            "findings": [f.as_dict() for f in result.findings]}, ensure_ascii=False))
    else:
        for f in result.findings[:limit]:
            console.print(escape(str(f)), highlight=False, soft_wrap=True)
        if len(result.findings) > limit:
            console.print(f"… and {len(result.findings) - limit:,} more (--limit, --json)")
        console.print(f"scanned {len(result.scanned):,} files for resident ID numbers and "
                      f"{scanner.secret_count} secrets; skipped: {escape(result.skipped_summary())}")
        if scanner.ignored_secrets:
            err.print(f"[yellow]not searched (shorter than {leaks.MIN_SECRET_CHARS} characters):[/] "
                      f"{escape(', '.join(scanner.ignored_secrets))}")
        if result.clean:
            console.print("[green]no resident ID number and no secret found[/]")
        else:
            err.print(f"[bold red]{len(result.findings):,} finding(s)[/] in "
                      f"{len({f.where for f in result.findings}):,} file(s)")
    if not result.clean:
        raise typer.Exit(EXIT_INVALID_ROWS)


@quarantine_app.command("reprocess")
def quarantine_reprocess(feed: Annotated[str, typer.Argument(help="feed id, <agency>.<feed>")],
                         batch: Annotated[str | None, typer.Option(help="only the open rows of this batch")] = None,
                         by: Annotated[str | None, typer.Option(help="who asks (recorded in the ledger)")] = None
                         ) -> None:
    """Re-validate a feed's open quarantine rows with its current mapping and schema: rows that pass
    are loaded and marked resolved (one ledger entry); the others stay open with their new reasons.
    Exit 0 when every row now passes, 1 when some are still quarantined."""
    from exchange.runner import reprocess_quarantine

    try:
        settings, cat = _catalog()
        outcome = reprocess_quarantine(feed, batch=batch, settings=settings, catalog=cat,
                                       requested_by=by or os.environ.get("USER"))
    except ExchangeError as exc:
        _fail(exc)
    if not outcome.batch_id:
        console.print(f"{feed}: nothing to reprocess — no open quarantine rows, or every open row already failed "
                      f"under the current feed spec, schema and code")
        return
    console.print(_outcome_table([outcome], f"reprocessing batch {outcome.batch_id}"))
    console.print(f"{outcome.rows_in:,} rows re-checked: {outcome.rows_loaded:,} loaded and resolved, "
                  f"{outcome.rows_quarantined:,} still quarantined"
                  + (" (already done: nothing changed since)" if outcome.already_loaded else ""))
    if outcome.rows_quarantined:
        raise typer.Exit(EXIT_INVALID_ROWS)


# --- master person index ----------------------------------------------------------------------------


def _link_table(r: Any) -> Table:
    t = Table(title=f"linking run {r.run_id} (model {r.model_version}"
                    f"{', trained now' if r.model_trained else ''})", title_justify="left")
    for col in ("records", "with ID number", "persons", "new", "merges", "splits", "moves", "retired",
                "pairs scored", "pairs linked", "seconds"):
        t.add_column(col, justify="right")
    t.add_row(f"{r.records:,}", f"{r.records_with_id:,}", f"{r.persons:,}", f"{r.persons_new:,}", str(r.merges),
              str(r.splits), str(r.moves), str(r.retired), f"{r.pairs_scored:,}", f"{r.pairs_linked:,}",
              f"{r.timings.get('total', 0):.1f}")
    return t


def _metrics_line(m: dict[str, Any]) -> str:
    return (f"pairwise precision {m['precision']:.4f}, recall {m['recall']:.4f}, F1 {m['f1']:.4f} "
            f"({m['records']:,} records of {m['persons_true']:,} true persons → {m['persons_found']:,} person_uids)")


@link_app.callback()
def link(ctx: typer.Context,
         evaluate: Annotated[bool, typer.Option("--evaluate", help="measure pairwise precision / recall / F1 "
                                                "against the demo city's truth")] = False,
         retrain: Annotated[bool, typer.Option("--retrain", help="train and save a new model version first")]
         = False,
         truth: Annotated[Path | None, typer.Option(help="with --evaluate: a linking truth file (link_truth.json "
                                                         "of `exchange hard-city`): per hard case and relation")]
         = None) -> None:
    """Link every person record of the warehouse into the master person index (mdm.*): one
    stable person_uid per real person, golden records, merge/split events."""
    from exchange.runner import evaluate_linking, link_persons

    if ctx.invoked_subcommand is not None:
        return

    try:
        settings, cat = _catalog()
        result = link_persons(settings, cat, retrain=retrain, evaluate=evaluate and truth is None,
                              say=lambda m: err.print(m))
        measured = evaluate_linking(truth, settings=settings) if evaluate and truth is not None else None
    except ExchangeError as exc:
        _fail(exc)
    console.print(_link_table(result))
    if result.metrics:
        console.print(_metrics_line(result.metrics))
    if measured:
        _print_evaluation(measured)


@review_app.command("list")
def review_list(status: Annotated[str, typer.Option(help="pending, accepted, rejected, stale or all")] = "pending",
                limit: int = 100) -> None:
    """The review queue."""
    from exchange.runner import link_reviews

    try:
        rows = link_reviews(None if status == "all" else status, limit=limit, settings=_catalog()[0])
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title=f"mdm.review ({status})", title_justify="left")
    for col in ("review", "record", "candidates (probability)", "status", "run", "decided by"):
        t.add_column(col, overflow="fold")
    for r in rows:
        cands = json.loads(r["candidates"])
        t.add_row(r["review_id"], f"{r['source_agency']}/{r['entity']}/{r['source_record_id']}",
                  "; ".join(f"{_masked_id(c['id_number'])} ({c['probability']:.3f})" for c in cands), r["status"],
                  str(r["created_run"]), r["decided_by"] or "")
    console.print(t)


def _masked_id(value: str | None) -> str:
    from exchange.formats.masking import scrub_identifiers

    return scrub_identifiers(value or "")


@review_app.command("show")
def review_show(review_id: str) -> None:
    """One review: the record, both candidates and the evidence per comparison."""
    from exchange.runner import link_review

    try:
        row = link_review(review_id, settings=_catalog()[0])
    except ExchangeError as exc:
        _fail(exc)
    console.print(f"[bold]{row['review_id']}[/] {row['status']}: {row['source_agency']}/{row['entity']}/"
                  f"{row['source_record_id']} ({row['role']}) — {row['reason']}")
    cands = json.loads(row["candidates"])
    t = Table(title_justify="left")
    t.add_column("comparison")
    t.add_column("this record", overflow="fold")
    for i, c in enumerate(cands, 1):
        t.add_column(f"candidate {i}: {c['id_number']} p={c['probability']:.3f} ({c['record']})", overflow="fold")
    for f in cands[0]["evidence"]:
        cells = [escape(str(cands[0]["evidence"][f]["record"] or ""))]
        for c in cands:
            e = c["evidence"][f]
            mark = "" if e["agree"] is None else (" [green]=[/]" if e["agree"] else " [red]≠[/]")
            cells.append(escape(str(e["candidate"] or "")) + mark)
        t.add_row(f, *cells)
    console.print(t)
    console.print("accept: exchange link review accept REVIEW --id-number <candidate's ID number>; "
                  "reject both: exchange link review reject REVIEW")


@review_app.command("accept")
def review_accept(review_id: str,
                  id_number: Annotated[str, typer.Option("--id-number", help="the candidate the record belongs to")],
                  by: Annotated[str | None, typer.Option(help="who decides (recorded)")] = None,
                  note: Annotated[str | None, typer.Option(help="why (recorded)")] = None) -> None:
    """Link the record to the candidate with this ID number (from the next `exchange link` on)."""
    _decide(review_id, id_number, by, note)


@review_app.command("reject")
def review_reject(review_id: str, by: Annotated[str | None, typer.Option(help="who decides (recorded)")] = None,
                  note: Annotated[str | None, typer.Option(help="why (recorded)")] = None) -> None:
    """The record is none of its candidates (it is never linked to them)."""
    _decide(review_id, None, by, note)


def _decide(review_id: str, id_number: str | None, by: str | None, note: str | None) -> None:
    from exchange.runner import decide_review

    try:
        entry = decide_review(review_id, accept=id_number, by=by or os.environ.get("USER"), note=note,
                              settings=_catalog()[0])
    except ExchangeError as exc:
        _fail(exc)
    console.print(f"{review_id} {'accepted' if id_number else 'rejected'}: ledger entry {entry.seq}; it takes "
                  f"effect at the next `exchange link`")


def _print_evaluation(m: dict[str, Any]) -> None:
    o = m["overall"]
    console.print(f"against the truth: pairwise precision {o['precision']:.4f}, recall {o['recall']:.4f}, "
                  f"F1 {o['f1']:.4f} ({o['records']:,} records, {o['indexed']:,} in the index; "
                  f"{o['persons_true']:,} true persons, {o['persons_found']:,} found)")
    t = Table(title="per hard case (pairs involving a record with the tag)", title_justify="left")
    for col in ("tag", "records", "not in index", "true pairs", "precision", "recall", "F1"):
        t.add_column(col, justify="left" if col == "tag" else "right")
    for tag, v in m["tags"].items():
        t.add_row(tag, f"{v['records']:,}", f"{v['not_indexed']:,}", f"{v['true_pairs']:,}",
                  f"{v['precision']:.3f}", f"{v['recall']:.3f}", f"{v['f1']:.3f}")
    console.print(t)
    merges = ", ".join(f"{k} {v}" for k, v in m["false_merges"].items())
    console.print(f"false merges (distinct pairs of different persons in one person_uid): {merges}")


@app.command("hard-city")
def hard_city_cmd(out: Annotated[Path, typer.Argument(help="folder to write the project into")],
                  persons: Annotated[int, typer.Option(help="persons in the city")] = 20_000,
                  seed: Annotated[int, typer.Option(help="random seed")] = 20261205,
                  run: Annotated[bool, typer.Option(help="load every feed, link and evaluate")] = True,
                  id_numbers: Annotated[bool, typer.Option(help="write ID numbers (--no-id-numbers: none at all, "
                                                                "so the model trains without labels)")] = True) -> None:
    """A city of hard cases for the person index (typo'd and copied ID numbers, romanised and variant
    names, twins, namesakes), with a truth per record: loads it through every stage and reports
    precision / recall per hard case."""
    from exchange.runner import hard_city

    try:
        measured = hard_city(out, persons=persons, seed=seed, run=run, id_numbers=id_numbers,
                             say=lambda m: err.print(m))
    except ExchangeError as exc:
        _fail(exc)
    if measured:
        _print_evaluation(measured)
    console.print(f"project: {out} (EXCHANGE_HOME={out} exchange link --evaluate --truth {out}/link_truth.json)")


def _source_text(s: dict[str, Any] | None) -> str:
    if not s:
        return ""
    return f"{s.get('agency')} {s.get('record')} [dim]{s.get('batch')}[/]"


def _print_profile(p: dict[str, Any]) -> None:
    for r in p.get("reviews") or []:
        err.print(f"[yellow]pending review {r['review']}[/]: record {escape(r['record'])} may be this person "
                  f"({escape(r['reason'])}) — exchange link review show {r['review']}")
    console.print(f"[bold]{p['person_uid']}[/] ({p['status']})"
                  + (f" — merged from {', '.join(p['merged_from'])}" if p.get("merged_from") else "")
                  + (f"; agencies: {', '.join(p.get('agencies', []))}" if p.get("agencies") else ""))
    ident = Table(title="identity (golden record)", title_justify="left")
    for col in ("field", "value", "source (agency, record, batch)"):
        ident.add_column(col, overflow="fold")
    for f, v in p.get("identity", {}).items():
        ident.add_row(f, escape(str(v["value"])), _source_text(v["source"]))
    console.print(ident)
    sections: list[tuple[str, list[str], Any]] = [
        ("records", ["agency", "entity", "record", "role", "rule", "probability", "batch"], lambda r: [
            r["agency"], r["entity"], r["record"], r["role"], r["rule"],
            "" if r["probability"] is None else f"{r['probability']:.3f}", r["batch"]]),
        ("households", ["household", "relation", "address", "members", "source"], lambda h: [
            h["household_number"], ", ".join(h["relation"]),
            (h["registrations"][0]["address"] if h["registrations"] else ""),
            ", ".join(f"{m['name']}({m['person_uid'] or '-'})" for m in h["members"]),
            "; ".join(_source_text(r["source"]) for r in h["registrations"])]),
        ("cases", ["case", "role", "type", "reported", "status", "title", "source"], lambda c: [
            c["case_number"], c["role"], c.get("case_type", ""), str(c.get("reported_date", "")),
            c.get("status", ""), c.get("title", ""), _source_text(c["party_source"])]),
        ("disputes", ["dispute", "role", "category", "status", "accepted", "source"], lambda d: [
            d["dispute_number"], str(d["role"]), d["category"], d["status"], str(d["accepted_date"]),
            _source_text(d["source"])]),
        ("programmes", ["programme", "managing unit", "risk", "start", "end", "source"], lambda g: [
            g["programme"], g["managing_unit"], str(g.get("risk_level") or ""), str(g["start_date"]),
            str(g.get("end_date") or ""), _source_text(g["source"])]),
        ("organizations", ["credit code", "name", "role", "status", "source"], lambda o: [
            o["credit_code"], o["name"], o["role"], o["status"], _source_text(o["source"])]),
    ]
    for key, cols, row in sections:
        items = p.get(key) or []
        if not items:
            continue
        t = Table(title=key, title_justify="left")
        for col in cols:
            t.add_column(col, overflow="fold")
        for item in items:
            t.add_row(*[escape(str(x)) if not str(x).startswith(("police", "civil", "justice", "health", "market"))
                        else str(x) for x in row(item)])
        console.print(t)


@app.command("person")
def person(ident: Annotated[str, typer.Argument(help="a person_uid (MP…) or an 18-digit resident ID number")],
           as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
           purpose: Annotated[str | None, typer.Option(help="why you read (recorded in audit.access)")] = None,
           case_number: Annotated[str | None, typer.Option(help="the case or file it is for (recorded)")] = None,
           ) -> None:
    """A person's profile across agencies: identity, households, cases with roles, disputes,
    special-population programmes and organizations — every fact with its source agency and batch."""
    from exchange.runner import person_profile

    try:
        settings, _ = _catalog()
        found = person_profile(ident, settings=settings, purpose=purpose, case_number=case_number)
    except ExchangeError as exc:
        _fail(exc)
    if found is None:
        err.print(f"[red]no person with id {escape(ident)}[/] (run `exchange link` after loading person feeds)")
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        console.print_json(json.dumps(found, ensure_ascii=False, default=str))
    else:
        _print_profile(found)


@app.command("serve")
def serve(host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port")] = 8000,
          workers: Annotated[int, typer.Option(min=1, help="worker processes (each with its own connection pool)")]
          = 1) -> None:
    """Serve the HTTP API (GET /persons/{id}); the admin key is EXCHANGE_API_ADMIN_KEY."""
    import uvicorn

    from exchange.runner import api_app

    try:
        settings, _ = _catalog()
        application = api_app(settings)
    except ExchangeError as exc:
        _fail(exc)
    if not os.environ.get("EXCHANGE_API_ADMIN_KEY"):
        err.print("[yellow]EXCHANGE_API_ADMIN_KEY is not set: every request will be refused (401)[/]")
    if workers == 1:
        uvicorn.run(application, host=host, port=port, log_level="warning")
    else:  # each worker builds the app from the same environment (checked above)
        uvicorn.run("exchange.runner:api_app", factory=True, host=host, port=port, workers=workers,
                    log_level="warning")


# --- sharing: grants, API keys, the access log, the catalogue --------------------------------------------


def _changes_table(changes: list[Any], title: str) -> Table:
    t = Table(title=title, title_justify="left")
    for col in ("agency", "action", "object", "detail"):
        t.add_column(col, overflow="fold")
    for c in changes:
        t.add_row(c.consumer, c.action, c.object, escape(c.detail))
    return t


def _sqlite_note(dialect: str) -> None:
    if dialect != "postgresql":
        err.print("[yellow]SQLite enforces nothing:[/] the share views exist (core.share_<agency>__<entity>), "
                  "but there are no roles or privileges — anyone with the files reads everything. Share data "
                  "from PostgreSQL.")


@grants_app.command("list")
def grants_list() -> None:
    """The grants: per consumer agency its purpose, jurisdiction and the entities it reads."""
    from exchange.access.apply import describe_rows
    from exchange.runner import load_grants

    try:
        settings, cat = _catalog()
        grants = load_grants(settings, cat)
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="grants/", title_justify="left")
    for col in ("agency", "purpose", "entity", "columns (masked / hidden)", "rows", "logins", "profile API"):
        t.add_column(col, overflow="fold")
    for g in grants:
        for i, (entity, share) in enumerate(g.entities.items()):
            masked = sum(1 for r in share.columns if r.treatment != "full")
            t.add_row(f"{g.consumer}\n{g.name}" if i == 0 else "", g.purpose if i == 0 else "", entity,
                      f"{len(share.columns)} ({masked} / {len(share.hidden)})", describe_rows(share),
                      ", ".join(g.logins) if i == 0 else "", ("yes" if g.profile_api else "no") if i == 0 else "")
    console.print(t)


@grants_app.command("check")
def grants_check() -> None:
    """Compare grants/*.yaml with the warehouse: roles, share views (as PostgreSQL deparses them), privileges,
    owners, SECURITY DEFINER functions, default and database privileges. Exit 0 in sync, 1 on drift."""
    from exchange.runner import sync_grants

    try:
        result = sync_grants(apply=False)
    except ExchangeError as exc:
        _fail(exc)
    _sqlite_note(result.dialect)
    if not result.changes:
        console.print(f"[green]in sync[/]: the warehouse ({result.warehouse}) matches grants/")
        return
    console.print(_changes_table(result.changes, f"{len(result.changes)} difference(s) between grants/ and "
                                                 f"{result.warehouse} (`exchange grants apply` removes them)"))
    raise typer.Exit(EXIT_INVALID_ROWS)


@grants_app.command("apply")
def grants_apply(passwords: Annotated[bool, typer.Option(
        "--passwords", help="(re)set login passwords from EXCHANGE_GRANT_PASSWORD_<AGENCY>__<LOGIN>")] = False,
                 by: Annotated[str | None, typer.Option(help="who applies (recorded in the ledger)")] = None) -> None:
    """Materialise the grants: group and login roles, share_<agency> security_barrier views, GRANT on those
    views only; revoke whatever a grant no longer allows. Idempotent; every change goes to the ledger."""
    from exchange.runner import sync_grants

    try:
        result = sync_grants(apply=True, reset_passwords=passwords, by=by or os.environ.get("USER"))
    except ExchangeError as exc:
        _fail(exc)
    _sqlite_note(result.dialect)
    if result.changes:
        console.print(_changes_table(result.changes, f"{len(result.changes)} change(s) applied to {result.warehouse}"))
    refused = [c for c in result.changes if c.refused]
    if refused:
        err.print(f"[bold red]{len(refused)} change(s) could not be made[/] (the others were): "
                  + "; ".join(escape(f"{c.object}: {c.detail}") for c in refused[:5])
                  + " — `exchange grants check` lists what is left")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"[green]grants applied[/]: {len(result.changes)} change(s); the warehouse matches grants/")


@grant_keys_app.command("create")
def grant_key_create(agency: Annotated[str, typer.Argument(help="consumer agency (grants/<agency>.yaml)")],
                     label: Annotated[str | None, typer.Option(help="what the key is for")] = None) -> None:
    """Create an API key for an agency; the token is printed once (only its hash is stored)."""
    from exchange.runner import create_api_key

    try:
        key_id, token = create_api_key(agency, label=label, by=os.environ.get("USER"))
    except ExchangeError as exc:
        _fail(exc)
    err.print(f"API key {key_id} for {agency} — shown once, store it now:")
    console.print(token, highlight=False, soft_wrap=True)


@grant_keys_app.command("revoke")
def grant_key_revoke(key_id: Annotated[str, typer.Argument(help="the key id (exk_<key id>.…)")]) -> None:
    """Revoke an API key."""
    from exchange.runner import revoke_api_key

    try:
        done = revoke_api_key(key_id, by=os.environ.get("USER"))
    except ExchangeError as exc:
        _fail(exc)
    if not done:
        err.print(f"[red]no active key {escape(key_id)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"key {key_id} revoked")


@grant_keys_app.command("list")
def grant_key_list(agency: Annotated[str | None, typer.Option(help="only this agency")] = None) -> None:
    """The API keys (ids, agencies, labels; never the secrets)."""
    from exchange.runner import api_keys

    try:
        rows = api_keys(agency)
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="audit.api_key", title_justify="left")
    for col in ("key id", "agency", "label", "created", "by", "revoked"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(r["key_id"], r["agency"], r["label"] or "", str(r["created_at"]), r["created_by"] or "",
                  str(r["revoked_at"] or ""))
    console.print(t)


@grants_app.command("access")
def grants_access(agency: Annotated[str | None, typer.Option(help="only this agency")] = None,
                  limit: int = 50) -> None:
    """The access log (audit.access): who asked for what, why, and what they got."""
    from exchange.runner import access_log

    try:
        rows = access_log(agency, limit=limit)
    except ExchangeError as exc:
        _fail(exc)
    t = Table(title="audit.access (newest first)", title_justify="left")
    for col in ("at (UTC)", "agency", "user", "purpose", "case", "what", "subject", "rows", "status", "outcome"):
        t.add_column(col, overflow="fold")
    for r in rows:
        t.add_row(str(r["accessed_at"]), r["agency"], escape(r["user_id"] or ""), escape(r["purpose"] or ""),
                  escape(r["case_number"] or ""), escape(r["what"]), r["subject"] or "", str(r["row_count"]),
                  str(r["status"]), escape(r["outcome"]))
    console.print(t)


@app.command("catalog")
def catalog_cmd(agency: Annotated[str | None, typer.Option(help="only the views of this consumer agency")] = None,
                html_path: Annotated[Path | None, typer.Option("--html", help="write a self-contained HTML page")]
                = None) -> None:
    """The consumers' catalogue: every shared view with its description, fields, PII classes and masks,
    owner agency, freshness (last published batch) and quality score (pass rate of the last batches)."""
    from exchange.access import catalogue
    from exchange.runner import sharing_catalogue

    try:
        cat = sharing_catalogue(agency)
    except ExchangeError as exc:
        _fail(exc)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(catalogue.to_html(cat.entries, generated=cat.generated, warehouse=cat.warehouse,
                                               enforced=cat.enforced), encoding="utf-8")
        console.print(f"catalogue of {len(cat.entries)} shared view(s): {html_path}")
        return
    t = Table(title=f"Shared data catalogue ({cat.warehouse})", title_justify="left")
    for col in ("view", "description", "fields: PII class → mask", "owner", "rows", "last published", "quality"):
        t.add_column(col, overflow="fold")
    for en in cat.entries:
        fields = "\n".join(f"{f.name}: {f.pii}" + ("" if f.mask == "full" else f" → {f.mask}") for f in en.fields)
        if en.hidden:
            fields += f"\n(not shared: {', '.join(en.hidden)})"
        t.add_row(en.view, escape(en.description), escape(fields), ", ".join(en.owners) or "-", escape(en.rows),
                  catalogue.when(en.last_published), catalogue.pct(en.quality))
    console.print(t)
    if not cat.enforced:
        _sqlite_note("sqlite")


def _typer_click_errors() -> tuple[type[Exception], ...]:
    """Typer ≥ 0.20 raises usage errors from its own copy of click (``typer._click``): exit 2 with
    the usage text and the closest command name, like click's own."""
    try:
        from typer._click.exceptions import ClickException as TyperClickException
    except ImportError:
        return ()
    return (TyperClickException,)


_TYPER_CLICK_ERRORS = _typer_click_errors()


def run_cli() -> None:
    """Console entry point: expected errors are handled per command; anything else is a bug,
    reported in one line (the traceback only with --verbose, since it can hold row values)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    try:
        code = app(standalone_mode=False)  # click returns (not raises) a command's typer.Exit code here
        if isinstance(code, int) and code:
            sys.exit(code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("aborted")
        sys.exit(130)
    except (click.ClickException, *_TYPER_CLICK_ERRORS) as exc:  # a mistyped command, a missing argument
        exc.show()
        sys.exit(exc.exit_code)
    except ExchangeError as exc:
        _exit_for(exc)
    except Exception as exc:
        if logging.getLogger().isEnabledFor(logging.DEBUG):
            raise
        from exchange.formats.masking import redact  # numpy/pyarrow: imported on use

        err.print(f"[bold red]internal error:[/] {type(exc).__name__}: {escape(redact(str(exc)[:500]))}\n"
                  f"This is a bug in the exchange; rerun with -v for the traceback and report it.")
        sys.exit(3)
