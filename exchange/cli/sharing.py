"""Sharing: ``exchange grants …`` (roles, views, keys, access log) and ``exchange catalog``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import (
    _catalog,
    app,
    grant_keys_app,
    grants_app,
)
from exchange.cli.render import EXIT_INVALID_ROWS, console, err, pct_text, when_text


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
    from exchange.workspace.sharing import describe_share_rows as describe_rows
    from exchange.workspace.sharing import load_grants
    settings, cat = _catalog()
    grants = load_grants(settings, cat)
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
    from exchange.workspace.sharing import sync_grants
    result = sync_grants(apply=False)
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
    from exchange.workspace.sharing import sync_grants
    result = sync_grants(apply=True, reset_passwords=passwords, by=by or os.environ.get("USER"))
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
    from exchange.workspace.sharing import create_api_key
    key_id, token = create_api_key(agency, label=label, by=os.environ.get("USER"))
    err.print(f"API key {key_id} for {agency} — shown once, store it now:")
    console.print(token, highlight=False, soft_wrap=True)


@grant_keys_app.command("revoke")
def grant_key_revoke(key_id: Annotated[str, typer.Argument(help="the key id (exk_<key id>.…)")]) -> None:
    """Revoke an API key."""
    from exchange.workspace.sharing import revoke_api_key
    done = revoke_api_key(key_id, by=os.environ.get("USER"))
    if not done:
        err.print(f"[red]no active key {escape(key_id)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"key {key_id} revoked")


@grant_keys_app.command("list")
def grant_key_list(agency: Annotated[str | None, typer.Option(help="only this agency")] = None) -> None:
    """The API keys (ids, agencies, labels; never the secrets)."""
    from exchange.workspace.sharing import api_keys
    rows = api_keys(agency)
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
    from exchange.workspace.sharing import access_log
    rows = access_log(agency, limit=limit)
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
    from exchange.workspace.sharing import catalogue_html, sharing_catalogue
    cat = sharing_catalogue(agency)
    if html_path is not None:
        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(catalogue_html(cat), encoding="utf-8")
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
                  when_text(en.last_published), pct_text(en.quality))
    console.print(t)
    if not cat.enforced:
        _sqlite_note("sqlite")


