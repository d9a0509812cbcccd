"""Multi-point collision and companions: ``exchange collide --point … [--min K] | --file points.yaml`` and
``exchange companions ID_OR_PLATE --since … --until …``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.markup import escape
from rich.table import Table

from exchange.cli.app import _catalog, app
from exchange.cli.investigate import Agency, AsJson, CaseNumber, Purpose, _dump, _when
from exchange.cli.render import EXIT_INVALID_ROWS, console, err
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


@app.command("companions")
def companions(ident: Annotated[str, typer.Argument(help="a person (person_uid or ID number) or a vehicle (plate)")],
               since: Annotated[str, typer.Option(help="the window's start, e.g. 2026-11-01")],
               until: Annotated[str, typer.Option(help="the window's end (at most 31 days later)")],
               minutes: Annotated[int, typer.Option(min=1, max=120, help="seen within this many minutes")] = 5,
               times: Annotated[int, typer.Option("--times", min=1, help="at least this many times")] = 2,
               places: Annotated[int, typer.Option("--places", min=1, help="at this many distinct places")] = 2,
               agency: Agency = None, purpose: Purpose = None, case_number: CaseNumber = None,
               as_json: AsJson = False) -> None:
    """Companions (同行): who was seen at the same place within MINUTES of a person or a vehicle, at least
    TIMES times at PLACES distinct places, in a window — each with the pairs of events. Recorded in
    audit.access."""
    from exchange.workspace.collide import companions_of

    start, end = _when(since, "--since"), _when(until, "--until")
    assert start is not None and end is not None
    found = companions_of(ident, start, end, minutes=minutes, min_times=times, min_places=places, agency=agency,
                          settings=_catalog()[0], purpose=purpose, case_number=case_number)
    if found is None:
        within = f" within the grant of {agency}" if agency else ""
        err.print(f"[red]no person or vehicle {escape(ident)}[/]{within}")
        raise typer.Exit(EXIT_INVALID_ROWS)
    if as_json:
        _dump(found)
        return
    terms = f"within {minutes} min, {times}+ times at {places}+ places"
    t = Table(title=f"companions of {found['subject'] or found['plate']}: {found['total']:,} "
                    f"({found['own_events']:,} of its events, {terms})", title_justify="left")
    for col in ("companion", "name / owner", "times", "places", "seen together (place, its time, theirs)"):
        t.add_column(col, overflow="fold")
    for c in found["companions"]:
        who = c.get("person_uid") or c.get("plate")
        label = c.get("label") if c["kind"] == "person" else (f"owner {c['owner']}" if c.get("owner") else "")
        seen = "\n".join(f"{e.get('place_name') or e['place']} {e['subject']['at']} / {e['companion']['at']}"
                         for e in c["evidence"])
        t.add_row(escape(f"{c['kind']} {who}"), escape(str(label or "")), str(c["times"]), str(c["places"]),
                  escape(seen))
    console.print(t)
    if found["truncated"]:
        console.print("[yellow]cut: more events or companions than are read or shown; narrow the window[/]")
