"""The collision component: multi-point collision (多点碰撞, who was at at least K of N places, each in its
own window: ``exchange.investigate.collide``) and companions (同行, who was seen with a person or a
vehicle: ``exchange.investigate.companions``), through a grant and on record in ``audit.access``.

``exchange collide`` is the operator's use (as an agency sees it with ``--agency``); ``POST /collisions``
goes through the API's gate, which calls :func:`run_collide` with the caller's grant. Every use leaves
one ``audit.access`` row: who, the purpose, the points (place and division codes, windows — no
identifier) and how many subjects were found.
"""

from __future__ import annotations

from typing import Any

from exchange.spec.settings import Settings
from exchange.warehouse.engine import reading
from exchange.workspace.investigate import operator_tool
from exchange.workspace.record import _operator_record

TOOL = "collide"
COMPANIONS = "companions"


def described(points: list[Any], min_points: int) -> str:
    """The request as it goes on record: the points' places and windows."""
    parts = []
    for p in points:
        where = (f"place={p.place}" if p.place is not None else f"division={p.division}" if p.division is not None
                 else "near={:.5f},{:.5f},{:.0f}m".format(*p.near))
        # words between a code and a time: the access log's masking takes a run of digits for an ID number
        parts.append(f"{p.label} {where} from {p.start:%Y-%m-%dT%H:%M} to {p.end:%Y-%m-%dT%H:%M}")
    return f"collide {len(points)} points min {min_points}: " + "; ".join(parts)


def on_record(raw: list[Any], min_points: int | None) -> str:
    """What the access log says of a collision request: its points, or that they could not be read."""
    from exchange.errors import ConfigError
    from exchange.investigate.collide import points_of

    try:
        points = points_of(raw)
    except ConfigError:
        return f"collide {len(raw)} points (not readable)"
    return described(points, len(points) if min_points is None else min_points)


def run_collide(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any], int, None]:
    """(answer, subjects found, no single subject) of one collision through ``lens``; ``params`` holds
    ``points`` (parsed, or as sent: mappings or texts) and ``min_points`` (None: all of them). A point
    that cannot be read is a ConfigError naming it (the API answers 400)."""
    from exchange.investigate.collide import Point, collide, points_of

    points = params["points"]
    if not all(isinstance(p, Point) for p in points):
        points = points_of(points)
    k = params.get("min_points") or len(points)
    with reading(engine) as conn:
        out = collide(conn, lens, ws.catalog.schemas, points, k)
    return out, out["total"], None


def collide_points(raw: list[Any], min_points: int | None = None, *, agency: str | None = None,
                   settings: Settings | None = None, purpose: str | None = None,
                   case_number: str | None = None) -> dict[str, Any]:
    """``exchange collide``: the operator's collision, as ``agency`` sees it when given, on record in
    ``audit.access`` (channel ``cli``). ``raw``: the points as mappings or ``KIND=VALUE@START/END``;
    ``min_points`` defaults to all of them."""
    from exchange.investigate.collide import points_of

    points = points_of(raw)
    k = len(points) if min_points is None else min_points
    record = _operator_record("cli", described(points, k) + (f" as {agency}" if agency else ""), TOOL, purpose,
                              case_number)
    return operator_tool(record, settings, agency,
                         lambda engine, ws, lens: run_collide(engine, ws, lens, {"points": points, "min_points": k}))


def _plate(ident: str) -> str | None:
    """``ident`` as a plate when it is one (normalised: 陕A·12345 → 陕A12345), else None."""
    from exchange.formats.plate import check_plate, normalize_plate

    value = normalize_plate([ident])[0].as_py()
    return value if value and check_plate([value])[0].as_py() is None else None


def run_companions(engine: Any, ws: Any, lens: Any, params: dict[str, Any]) -> tuple[dict[str, Any] | None, int,
                                                                                      str | None]:
    """(answer or None when the person is unknown to the caller, companions found, the person) for
    ``params``: ``ident`` (a person_uid, an ID number or a plate), ``start``, ``end`` and the terms."""
    from exchange.investigate.companions import Terms, companions
    from exchange.investigate.persons import subject

    terms = Terms(start=params["start"], end=params["end"], minutes=params.get("minutes") or 5,
                  min_times=params.get("min_times") or 2, min_places=params.get("min_places") or 2)
    terms.check()
    ident = str(params["ident"]).strip()
    plate = _plate(ident)
    with reading(engine) as conn:
        who = None if plate else subject(conn, lens, ident)
        if plate is None and who is None:
            return None, 0, None
        out = companions(conn, lens, ws.catalog.schemas, who, plate, terms)
    return out, out["total"], who.person_uid if who is not None else None


def companions_of(ident: str, start: Any, end: Any, *, minutes: int = 5, min_times: int = 2, min_places: int = 2,
                  agency: str | None = None, settings: Settings | None = None, purpose: str | None = None,
                  case_number: str | None = None) -> dict[str, Any] | None:
    """``exchange companions``: the operator's use (as ``agency`` sees it when given), on record in
    ``audit.access`` (channel ``cli``); None when nobody matches ``ident``."""
    from exchange.investigate.query import recorded

    what = (f"companions {recorded(ident)} from {start:%Y-%m-%dT%H:%M} to {end:%Y-%m-%dT%H:%M} within {minutes} min, "
            f"{min_times} times at {min_places} places" + (f" as {agency}" if agency else ""))
    record = _operator_record("cli", what, COMPANIONS, purpose, case_number)
    params = {"ident": ident, "start": start, "end": end, "minutes": minutes, "min_times": min_times,
              "min_places": min_places}
    return operator_tool(record, settings, agency, lambda engine, ws, lens: run_companions(engine, ws, lens, params))
