"""Multi-point collision: ``exchange collide --point … --point … [--min K] | --file points.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import Agency, AsJson, CaseNumber, Purpose, _dump
from exchange.cli.render import console
from exchange.errors import ConfigError


def _file_points(path: Path) -> tuple[list[Any], int | None]:
    """``points:`` (a list of mappings or KIND=VALUE@START/END texts) and ``min_points:`` of a YAML file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the points ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise ConfigError(f"{path}: expected a mapping with points: [...] (and min_points: K)")
    unknown = set(data) - {"points", "min_points"}
    if unknown:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(sorted(unknown))}; the file holds points and min_points")
    return data["points"], data.get("min_points")


POINT_HELP = ("KIND=VALUE@START/END, KIND place (a hotel, café, checkpoint or compound code), division (4/6/9/12 "
              "digits) or near (LONGITUDE,LATITUDE,RADIUS_M); repeat")


@app.command("collide")
def collide(point: Annotated[list[str] | None, typer.Option("--point", "-p", help=POINT_HELP)] = None,
            file: Annotated[Path | None, typer.Option("--file", "-f", exists=True, dir_okay=False,
                                                      help="a YAML file of points: and min_points:")] = None,
            min_points: Annotated[int | None, typer.Option("--min", help="present at this many points at least "
                                                                         "(default: all of them)")] = None,
            agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
            as_json: AsJson = False) -> None:
    """Multi-point collision (多点碰撞): the persons and vehicles present at K of N places, each in its own
    time window, with the events that put them there (a vehicle's events also count for its registered
    owner). Recorded in audit.access."""
    from exchange.workspace.collide import collide_points

    raw: list[Any] = list(point or [])
    if file is not None:
        listed, k = _file_points(file)
        raw += listed
        min_points = min_points if min_points is not None else k
    found = collide_points(raw, min_points, agency=agency, settings=_catalog()[0], purpose=purpose,
                           case_number=case_number)
    if as_json:
        _dump(found)
        return
    t = Table(title="points", title_justify="left")
    for col in ("point", "place", "window", "events"):
        t.add_column(col, overflow="fold")
    for p in found["points"]:
        where = p.get("place") or (f"{p['division']} ({p['level']})" if p.get("division") else
                                   "{longitude},{latitude} r={radius_m:.0f} m".format(**p["near"]))
        t.add_row(p["label"], escape(str(where)), f"{p['start']} – {p['end']}",
                  f"{p['events']:,}" + (" (cut)" if p["truncated"] else ""))
    console.print(t)
    r = Table(title=f"present at {found['min_points']} points or more: {found['total']:,}", title_justify="left")
    for col in ("subject", "name / owner", "points", "events (agency, table, record, time, place)"):
        r.add_column(col, overflow="fold")
    for s in found["subjects"]:
        who = s.get("person_uid") or s.get("plate")
        label = s.get("label") if s["kind"] == "person" else (f"owner {s['owner']}" if s.get("owner") else "")
        events = "\n".join(f"{e['agency']} {e['entity']} {e['record']} {e['at']} {e.get('place_name') or e['place']}"
                           + (f" (via {e['via']})" if e.get("via") else "") for e in s["events"])
        r.add_row(escape(f"{s['kind']} {who}"), escape(str(label or "")), ", ".join(s["points"]), escape(events))
    console.print(r)
    if found["truncated"]:
        console.print("[yellow]cut: a point had more events than are read, or more subjects than are shown; "
                      "narrow the windows[/]")
