"""The collision component (多点碰撞): who was at at least K of N places, each in its own window
(``exchange.investigate.collide``), through a grant and on record in ``audit.access``.

``exchange collide`` is the operator's use (as an agency sees it with ``--agency``); ``POST /collisions``
goes through the API's gate, which calls :func:`run_collide` with the caller's grant. Every use leaves
one ``audit.access`` row: who, the purpose, the points (place and division codes, windows — no
identifier) and how many subjects were found.
"""

from __future__ import annotations

from typing import Any

from exchange.spec.settings import Settings
from exchange.workspace.record import _on_record, _operator_record
from exchange.workspace.space import workspace

TOOL = "collide"


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
    with engine.connect() as conn:
        out = collide(conn, lens, ws.catalog.schemas, points, k)
    return out, out["total"], None


def collide_points(raw: list[Any], min_points: int | None = None, *, agency: str | None = None,
                   settings: Settings | None = None, purpose: str | None = None,
                   case_number: str | None = None) -> dict[str, Any]:
    """``exchange collide``: the operator's collision, as ``agency`` sees it when given, on record in
    ``audit.access`` (channel ``cli``). ``raw``: the points as mappings or ``KIND=VALUE@START/END``;
    ``min_points`` defaults to all of them."""
    from exchange.investigate import elements
    from exchange.investigate.collide import points_of
    from exchange.workspace.investigate import _lens

    points = points_of(raw)
    k = len(points) if min_points is None else min_points
    record = _operator_record("cli", described(points, k) + (f" as {agency}" if agency else ""), TOOL, purpose,
                              case_number)
    with workspace(settings) as ws, _on_record(ws.settings, record) as engine:
        ws.migrated(ws.all_schemas())
        ws.cached("investigate.indexes", lambda: elements.ensure(engine))
        out, count, _ = run_collide(engine, ws, _lens(ws, agency), {"points": points, "min_points": k})
        record.status, record.outcome, record.row_count = 200, "ok", count
        return out
