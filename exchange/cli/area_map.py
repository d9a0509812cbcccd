"""The crime and dispute map's numbers: ``exchange map [case|dispute] [--period P] [--level L] [--inside CODE]
[--out FILE.csv|.xlsx]``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import Agency, AsJson, CaseNumber, Purpose, _dump
from exchange.cli.render import console


@app.command("map")
def area_map(kind: Annotated[str, typer.Argument(help="case (by case_type, or --by offence) or dispute (by "
                                                       "intake window)")] = "case",
             period: Annotated[str | None, typer.Option(help="a month 2026-11, a quarter 2026-Q4 or a year 2026 "
                                                              "(default: last month); compared with the one "
                                                              "before")] = None,
             level: Annotated[str, typer.Option(help="city, district, town, community or compound")] = "district",
             by: Annotated[str | None, typer.Option(help="what to break the count down by: case_type or offence "
                                                          "(cases), category (disputes)")] = None,
             inside: Annotated[str | None, typer.Option(help="only the areas inside this district, town or "
                                                              "community (its code)")] = None,
             out: Annotated[Path | None, typer.Option(help="also write the table to this .csv or .xlsx file")] = None,
             agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
             as_json: AsJson = False) -> None:
    """Counts per area and period with the rate per 10,000 residents and the change against the period
    before, through the agency's grant (counts below its aggregates.min_count shown as <N). Recorded in
    audit.access."""
    from exchange.workspace.area_map import area_map as run
    from exchange.workspace.area_map import table

    found = run(kind, period=period, level=level, by=by, inside=inside, out=out, agency=agency,
                settings=_catalog()[0], purpose=purpose, case_number=case_number)
    if as_json:
        _dump(found)
        return
    columns, rows = table(found)
    total = found["total"] or {}
    title = (f"{found['label']} by {found['by']}, {found['period']['label']} vs {found['previous']['label']}, "
             f"per {found['level']}" + (f" inside {found['inside']}" if found["inside"] else "") +
             (f" — {total.get('name')}: {_n(total.get('count'), found['min_count'])}" if total else "") +
             (f"; counts below {found['min_count']} suppressed" if found["min_count"] > 1 else ""))
    t = Table(title=title, title_justify="left")
    for i, col in enumerate(columns):
        t.add_column(col, justify="left" if i < 3 else "right")
    for row in rows:
        t.add_row(*(escape(str(v)) for v in row))
    console.print(t)
    if found.get("written"):
        console.print(f"written: {found['written']}")


def _n(value: int | None, k: int) -> str:
    return f"<{k}" if value is None else f"{value:,}"
