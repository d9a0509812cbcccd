"""The dispute-mediation centre's queues: ``exchange mediation [--window W] [--as-of D]``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import Agency, AsJson, CaseNumber, Purpose, _dump
from exchange.cli.render import console

STEPS = ("intake", "assigned", "mediating", "agreement")


@app.command("mediation")
def mediation(window: Annotated[str | None, typer.Option(help="one intake window (a dispute_category code, "
                                                                "e.g. labour)")] = None,
              as_of: Annotated[str | None, typer.Option("--as-of", help="as the queues stood then (a date: at "
                                                                          "its end; default now)")] = None,
              agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
              as_json: AsJson = False) -> None:
    """The mediation centre's windows: open disputes by step, overdue ones (past the time limit of their
    step, schemas/reference/mediation.yaml), done in the last 30 days; then the overdue list. Recorded in
    audit.access."""
    from exchange.workspace.mediation import mediation_queues

    found = mediation_queues(window, as_of, agency=agency, settings=_catalog()[0], purpose=purpose,
                             case_number=case_number)
    if as_json:
        _dump(found)
        return
    names = found["labels"]["dispute_category"]
    t = Table(title=f"windows as of {found['as_of']}: {found['disputes']:,} disputes, {found['total_overdue']:,} "
                    f"overdue", title_justify="left")
    for col in ("window", *STEPS, "open", "overdue", "done (30 d)"):
        t.add_column(col, justify="left" if col == "window" else "right")
    for w in found["windows"]:
        t.add_row(f"{names.get(w['window'], w['window'])} ({w['window']})", *(str(w[s]) for s in STEPS),
                  str(w["open"]), f"[red]{w['overdue']}[/]" if w["overdue"] else "0", str(w["done_30d"]))
    console.print(t)
    if found["overdue"]:
        o = Table(title="overdue (longest past its limit first)", title_justify="left")
        for col in ("dispute", "window", "step", "since", "days", "limit", "unit"):
            o.add_column(col)
        for x in found["overdue"]:
            o.add_row(x["dispute_number"], names.get(x["window"], x["window"]), x["step"], x["since"],
                      f"{x['days']:.1f}", f"{x['limit']} {x['limit_days']} d", escape(str(x["unit"] or "")))
        console.print(o)
