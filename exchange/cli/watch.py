"""Watchlists (布控): ``exchange watch add|list|revoke|alerts|ack|sweep``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import AsJson, CaseNumber, Purpose, _dump, _when
from exchange.cli.render import EXIT_INVALID_ROWS, console, err

watch_app = typer.Typer(help="Watchlists (布控): an agency watches a person, an ID number, a phone or a plate; every "
                             "record or event published afterwards that names it — also through the person index — "
                             "raises one alert for that agency, through its grant.", no_args_is_help=True)
app.add_typer(watch_app, name="watch")

AgencyNeeded = Annotated[str, typer.Option("--agency", help="the agency whose watch it is (its grant: watch: true)")]
AgencySeen = Annotated[str | None, typer.Option("--agency", help="as this agency (default: every agency's)")]


def _use(tool: str, params: dict[str, Any], agency: str | None, purpose: str | None,
         case_number: str | None) -> Any:
    from exchange.workspace.watch import use

    return use(tool, params, agency=agency, settings=_catalog()[0], purpose=purpose, case_number=case_number)


@watch_app.command("add")
def add(kind: Annotated[str, typer.Argument(help="person, id, phone or plate")],
        value: Annotated[str, typer.Argument(help="a person_uid, an ID number, a phone or a plate")],
        agency: AgencyNeeded,
        reason: Annotated[str, typer.Option(help="why (kept with the watch, in the ledger)")],
        for_case: Annotated[str, typer.Option("--for-case", help="the case the watch is for")],
        days: Annotated[int, typer.Option(min=1, max=366, help="it expires after this many days")] = 30,
        notify: Annotated[list[str] | None, typer.Option(help="an alert route (connection name); repeat")] = None,
        purpose: Purpose = None, case_number: CaseNumber = None, as_json: AsJson = False) -> None:
    """Register a watch: matched from now until it expires or is revoked."""
    from exchange.workspace.watch import ADD

    done = _use(ADD, {"kind": kind, "value": value, "reason": reason, "case_number": for_case, "days": days,
                      "notify": notify or []}, agency, purpose, case_number)
    if as_json:
        _dump(done)
        return
    console.print(f"watch {done['watch_id']}: {done['kind']} {done['value']} for {done['agency']}, case "
                  f"{done['case_number']}, until {done['expires_at']}"
                  + (f"; notify {', '.join(done['notify'])}" if done["notify"] else ""), markup=False)


@watch_app.command("list")
def listing(agency: AgencySeen = None, purpose: Purpose = None, as_json: AsJson = False) -> None:
    """The watches (values masked), newest first."""
    from exchange.workspace.watch import LIST

    found = _use(LIST, {}, agency, purpose, None)
    if as_json:
        _dump(found)
        return
    t = Table(title=f"watches: {len(found['watches'])}", title_justify="left")
    for col in ("watch", "agency", "kind", "value", "case", "reason", "until", "state", "by"):
        t.add_column(col, overflow="fold")
    for w in found["watches"]:
        t.add_row(w["watch_id"], w["agency"], w["kind"], escape(w["value"]), escape(w["case_number"]),
                  escape(w["reason"]), w["expires_at"], w["state"], escape(w["created_by"]))
    console.print(t)


@watch_app.command("revoke")
def revoke(watch_id: Annotated[str, typer.Argument(help="W…")], agency: AgencyNeeded,
           reason: Annotated[str | None, typer.Option(help="why (in the ledger)")] = None,
           purpose: Purpose = None) -> None:
    """Revoke a watch: it matches nothing from now on."""
    from exchange.workspace.watch import REVOKE

    done = _use(REVOKE, {"watch_id": watch_id, "reason": reason}, agency, purpose, None)
    if done is None:
        err.print(f"[red]no watch {escape(watch_id)} of {escape(agency)}[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"watch {done['watch_id']}: revoked at {done['revoked_at']}", markup=False)


@watch_app.command("alerts")
def alerts(agency: AgencySeen = None, open_only: Annotated[bool, typer.Option("--open", help="only those not yet "
                                                                              "acknowledged")] = False,
           purpose: Purpose = None, as_json: AsJson = False) -> None:
    """The matches of the watches, newest first: the record through the agency's grant, how it matched."""
    from exchange.workspace.watch import ALERTS

    found = _use(ALERTS, {"open_only": open_only}, agency, purpose, None)
    if as_json:
        _dump(found)
        return
    t = Table(title=f"alerts: {len(found['alerts'])}, {found['open']} not acknowledged", title_justify="left")
    for col in ("match", "watch", "case", "record", "via", "matched", "acknowledged"):
        t.add_column(col, overflow="fold")
    for a in found["alerts"]:
        ack = f"{a['acknowledged_by']} {a['acknowledged_at']}" if a["acknowledged_at"] else "—"
        t.add_row(str(a["match_id"]), f"{a['watch_id']} {a['kind']} {a['watched']}", escape(a["case_number"]),
                  escape(f"{a['entity']} {a['agency']}/{a['record']} ({a['batch']})"), a["via"], a["matched_at"], ack)
    console.print(t)


@watch_app.command("ack")
def ack(match_id: Annotated[int, typer.Argument(help="the match (exchange watch alerts)")], agency: AgencyNeeded,
        note: Annotated[str | None, typer.Option(help="what was done about it")] = None,
        purpose: Purpose = None) -> None:
    """Acknowledge an alert: its alert is resolved, the acknowledgement in the ledger."""
    from exchange.workspace.watch import ACK

    done = _use(ACK, {"match_id": match_id, "note": note}, agency, purpose, None)
    if done is None:
        err.print(f"[red]no alert {match_id} of {escape(agency)}'s watches[/]")
        raise typer.Exit(EXIT_INVALID_ROWS)
    console.print(f"alert {done['match_id']} ({done['watch_id']}): acknowledged by {done['acknowledged_by']} at "
                  f"{done['acknowledged_at']}", markup=False)


@watch_app.command("sweep")
def sweep(since: Annotated[str, typer.Option(help="batches published since, e.g. 2026-12-01")]) -> None:
    """Match the active watches against batches already published (after an outage); nothing twice."""
    from exchange.workspace.watch import sweep as run

    start = _when(since, "--since")
    assert start is not None
    done = run(start, settings=_catalog()[0])
    console.print(f"{done['batches']} batch(es) matched again: {done['alerts']} new alert(s)")
