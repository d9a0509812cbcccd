"""Serial-case linking (智能串并): ``exchange series find [--since] [--until] [--offence]`` and an analyst's
``exchange series confirm|reject CASE_A CASE_B --reason …``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import Agency, AsJson, CaseNumber, Purpose, _dump, _when
from exchange.cli.render import EXIT_INVALID_ROWS, console, err

series_app = typer.Typer(help="Serial-case linking (智能串并): candidate series of police cases scored on offence, "
                              "modus operandi, place, time and shared suspects/phones/vehicles; an analyst confirms "
                              "or rejects links (kept across runs, in the ledger).", no_args_is_help=True)
app.add_typer(series_app, name="series")

Reason = Annotated[str | None, typer.Option(help="why (kept with the decision and in the ledger)")]


def _features(features: list[dict[str, object]]) -> str:
    return ", ".join(f"{f['label']} {f['level']} {float(f['weight']):+.1f}" for f in features)  # type: ignore[arg-type]


@series_app.command("find")
def find(since: Annotated[str | None, typer.Option(help="cases from (default: a year before --until)")] = None,
         until: Annotated[str | None, typer.Option(help="cases before (default: tomorrow)")] = None,
         offence: Annotated[str | None, typer.Option(help="only this offence (a code of the offence list, "
                                                          "e.g. burglary)")] = None,
         weights: Annotated[bool, typer.Option("--weights", help="also print every feature's m, u and weight")] = False,
         agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
         as_json: AsJson = False) -> None:
    """Candidate series: cases likely committed by the same offender, each link with its score and the
    features that made it. Recorded in audit.access."""
    from exchange.workspace.series import find_series

    found = find_series(_when(since, "--since"), _when(until, "--until"), offence, agency=agency,
                        settings=_catalog()[0], purpose=purpose, case_number=case_number)
    if as_json:
        _dump(found)
        return
    w = found["window"]
    console.print(f"{found['cases']:,} cases from {w['start']} to {w['end']}"
                  + (f" ({w['offence']})" if w["offence"] else "") + f", {found['pairs_scored']:,} pairs scored, "
                  f"{found['links']:,} links at {found['threshold']} bits or more (or confirmed): "
                  f"{found['total']:,} candidate series")
    for s in found["series"]:
        t = Table(title=f"{s['id']}  {s['offence'] or ''}  {s['size']} cases, mean link {s['score']} bits",
                  title_justify="left")
        for col in ("case", "occurred", "address", "manner", "record"):
            t.add_column(col, overflow="fold")
        for c in s["cases"]:
            manner = " / ".join(str(c[k]) for k in ("mo_entry", "mo_target", "mo_tools") if c.get(k))
            p = c["provenance"]
            t.add_row(escape(str(c.get("case_number"))), escape(str(c.get("occurred_at") or "")),
                      escape(str(c.get("address") or "")), escape(manner), escape(f"{p['agency']} {p['batch']}"))
        console.print(t)
        for lk in s["links"]:
            mark = f" [{lk['decision']}]" if lk["decision"] else ""
            console.print(f"  {lk['a']} ~ {lk['b']}  {lk['score']:+.1f}{mark}  shared: {_features(lk['shared'])}"
                          + (f"; apart: {_features(lk['apart'])}" if lk["apart"] else ""), markup=False)
    if found["cut"]:
        console.print("[yellow]cut: more cases in the window than are compared; narrow it[/]")
    if weights:
        t = Table(title="how it decides: log2(m/u) per feature level", title_justify="left")
        for col in ("feature", "level", "m (prior)", "u (measured)", "weight"):
            t.add_column(col)
        for f in found["weights"]:
            t.add_row(f"{f['label']} ({f['feature']})", str(f["level"]), f"{f['m']:.3f}", f"{f['u']:.4f}",
                      f"{f['weight']:+.2f}")
        console.print(t)


def _decide(a: str, b: str, decision: str, reason: str | None, agency: str | None, purpose: str | None,
            case_number: str | None, as_json: bool) -> None:
    from exchange.workspace.series import decide_link

    done = decide_link(a, b, decision, reason=reason, agency=agency, settings=_catalog()[0], purpose=purpose,
                       case_number=case_number)
    if done is None:
        within = f" within the grant of {agency}" if agency else ""
        err.print(f"[red]no case {escape(a)} or {escape(b)}[/]{within}")
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        _dump(done)
        return
    console.print(f"{done['a']} ~ {done['b']}: {done['decision']} by {done['by']} (ledger entry {done['ledger_seq']})",
                  markup=False)


@series_app.command("confirm")
def confirm(a: Annotated[str, typer.Argument(help="a case number (or AGENCY/RECORD)")],
            b: Annotated[str, typer.Argument(help="the other case")], reason: Reason = None,
            agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
            as_json: AsJson = False) -> None:
    """Confirm that two cases belong to one series: the link stays whatever its score."""
    _decide(a, b, "confirmed", reason, agency, purpose, case_number, as_json)


@series_app.command("reject")
def reject(a: Annotated[str, typer.Argument(help="a case number (or AGENCY/RECORD)")],
           b: Annotated[str, typer.Argument(help="the other case")], reason: Reason = None,
           agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
           as_json: AsJson = False) -> None:
    """Reject a proposed link: it is never proposed again."""
    _decide(a, b, "rejected", reason, agency, purpose, case_number, as_json)
