"""For auditors: ``exchange audit …`` (ledger, lineage, report, scan) and ``exchange quarantine reprocess``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import (
    _catalog,
    audit_app,
    quarantine_app,
)
from exchange.cli.errors import _fail
from exchange.cli.render import EXIT_INVALID_ROWS, _outcome_table, console, err
from exchange.errors import ConfigError


@audit_app.command("verify")
def audit_verify(anchor: Annotated[list[str] | None, typer.Option(
        help="SEQ:HASH printed by an earlier verify and kept outside the warehouse; repeatable")] = None) -> None:
    """Check the whole hash chain and the tables it vouches for, both ways: audit.batch and
    audit.validation, API keys (audit.api_key) and the sealed ranges of the access log (audit.access).
    Names the first broken entry. Exit 0 intact, 1 broken. Prints the head to record elsewhere."""
    from exchange.workspace.audit import verify_audit

    try:
        checked = verify_audit(anchor or [], settings=_catalog()[0])
    except ValueError as exc:
        _fail(ConfigError(str(exc)))
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
    from exchange.workspace.audit import seal_access_log

    entry = seal_access_log(settings=_catalog()[0])
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
    from exchange.workspace.audit import ledger_entries

    found = ledger_entries(kind=kind, subject=subject, limit=limit, settings=_catalog()[0])
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
    from exchange.workspace.audit import row_lineage

    settings, cat = _catalog()
    found = row_lineage(table, key, settings=settings, catalog=cat)
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

    from exchange.workspace.audit import audit_report

    try:
        first = dt.date.fromisoformat(since)
        last = dt.date.fromisoformat(until) if until else None
    except ValueError as exc:
        _fail(ConfigError(f"--since/--until: expected YYYY-MM-DD ({exc})"))
    settings, cat = _catalog()
    path = audit_report(since=first, until=last, out=out, settings=settings, catalog=cat)
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
    from exchange.workspace.audit import scan_for_leaks

    scan = scan_for_leaks(list(paths or []), from_env=from_env, secret_env=secret_env, secrets_files=secrets_file,
                          legacy=legacy, all_files=all_files, exclude=exclude, settings=_catalog()[0])
    result = scan.result
    if as_json:
        console.print_json(json.dumps({
            "clean": result.clean, "files_scanned": len(result.scanned), "skipped": result.skipped,
            "secrets_searched": scan.secrets_searched, "secrets_too_short": scan.secrets_too_short,
            "findings": [f.as_dict() for f in result.findings]}, ensure_ascii=False))
    else:
        for f in result.findings[:limit]:
            console.print(escape(str(f)), highlight=False, soft_wrap=True)
        if len(result.findings) > limit:
            console.print(f"… and {len(result.findings) - limit:,} more (--limit, --json)")
        console.print(f"scanned {len(result.scanned):,} files for resident ID numbers and "
                      f"{scan.secrets_searched} secrets; skipped: {escape(result.skipped_summary())}")
        if scan.secrets_too_short:
            err.print(f"[yellow]not searched (shorter than {scan.min_secret_chars} characters):[/] "
                      f"{escape(', '.join(scan.secrets_too_short))}")
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
    from exchange.workspace.batches import reprocess_quarantine

    settings, cat = _catalog()
    outcome = reprocess_quarantine(feed, batch=batch, settings=settings, catalog=cat,
                                   requested_by=by or os.environ.get("USER"))
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


