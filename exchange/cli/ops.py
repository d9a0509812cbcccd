"""Operations: ``exchange feeds status [--json]``, ``exchange ops check``, ``exchange ops alerts``."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, feeds_app, ops_app
from exchange.cli.render import console

EXIT_UNHEALTHY = 1
STATE_STYLE = {"ok": "green", "new": "cyan", "degraded": "yellow", "late": "red", "failing": "bold red"}


def _when(value: Any) -> str:
    return f"{value:%Y-%m-%d %H:%M}" if isinstance(value, dt.datetime) else "-"


def health_table(healths: list[Any]) -> Table:
    t = Table(title="Feed health", title_justify="left")
    for col in ("feed", "state", "last success", "next due", "last rows (usual)", "rejected (usual)", "last error",
                "owner"):
        t.add_column(col, overflow="fold")
    for h in healths:
        usual_rows = f" ({h.usual_rows:,.0f})" if h.usual_rows is not None else ""
        rows = f"{h.last_rows:,}{usual_rows}" if h.last_rows is not None else "-"
        usual_ratio = f" ({h.usual_reject_ratio:.1%})" if h.usual_reject_ratio is not None else ""
        ratio = f"{h.last_reject_ratio:.1%}{usual_ratio}" if h.last_reject_ratio is not None else "-"
        error = f"{h.last_error_stage}: {h.last_error}"[:160] if h.last_error and h.state == "failing" else ""
        style = STATE_STYLE.get(h.state, "")
        state = f"[{style}]{h.state}[/]" + (f"\n{escape('; '.join(h.reasons))}" if h.reasons else "")
        t.add_row(h.feed, state, _when(h.last_success), _when(h.next_due), rows, ratio, escape(error),
                  escape(h.owner + (f"\n{h.contact}" if h.contact else "")))
    return t


@feeds_app.command("status")
def feeds_status(as_json: Annotated[bool, typer.Option("--json", help="one JSON object per feed")] = False) -> None:
    """The health of every feed: ok, new, degraded, late or failing (exit 1 if any is late or failing)."""
    from exchange.workspace.ops import feeds_status as status
    from exchange.workspace.ops import status_json

    settings, catalog = _catalog()
    healths = status(settings=settings, catalog=catalog)
    if as_json:
        typer.echo(status_json(healths))
    else:
        console.print(health_table(healths))
    if any(h.state in ("late", "failing") for h in healths):
        raise typer.Exit(EXIT_UNHEALTHY)


@ops_app.command("check")
def ops_check(ledger: Annotated[bool, typer.Option(help="also verify the audit ledger")] = True) -> None:
    """Evaluate every feed (and the ledger); raise new alerts, resolve cleared ones, tell their routes."""
    from exchange.workspace.ops import check

    settings, catalog = _catalog()
    result = check(settings=settings, catalog=catalog, verify_ledger=ledger)
    console.print(health_table(result.health))
    for key in result.fired:
        console.print(f"[red]alert[/] {escape(key)}")
    for key in result.resolved:
        console.print(f"[green]resolved[/] {escape(key)}")
    if result.still_firing:
        console.print(f"still firing (already told): {escape(', '.join(result.still_firing))}")
    for d in result.deliveries:
        console.print(f"  {d['event']} {escape(d['route'])} ({d['channel']} → {escape(d['recipient'])}): "
                      f"{escape(d['status'])}")


@ops_app.command("alerts")
def ops_alerts(limit: Annotated[int, typer.Option(help="newest alerts to show")] = 30) -> None:
    """The newest alerts and who was told what, when (audit.alert, audit.alert_delivery)."""
    from exchange.workspace.ops import alert_history

    rows = alert_history(limit=limit, settings=_catalog()[0])
    t = Table(title="Alerts", title_justify="left")
    for col in ("id", "alert", "state", "summary", "first", "last", "told"):
        t.add_column(col, overflow="fold")
    for r in rows:
        told = "\n".join(f"{_when(d['at'])} {d['event']} → {d['route']} ({d['recipient']}): {d['status']}"
                         for d in r["deliveries"]) or "-"
        t.add_row(str(r["id"]), escape(r["key"]), r["state"], escape(r["summary"]), _when(r["first_at"]),
                  _when(r["last_at"]), escape(told))
    console.print(t)
