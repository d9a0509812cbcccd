"""The investigation routes: ``GET /search``, ``GET /persons/{id}/timeline``, ``GET /persons/{id}/graph``.

Each goes through the same gate as the profile (key, purpose, the agency's grant, one ``audit.access``
row with the query masked and the number of results); the service's ``tools`` hook does the rest."""

from __future__ import annotations

import datetime as dt
import inspect
from collections.abc import Callable
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from exchange.api.app import _gate_request, _json_response

SEARCH_DOC = """Element joint search (要素联查): ``q`` is a name (汉字, traditional or simplified, or pinyin),
an ID number or its last digits, a phone, a plate (one unreadable character as ``?``), an address, an
organization or a case number; ``kind`` restricts it. Results are grouped by person (else vehicle or
organization), each hit naming its agency, table, record and batch, through the caller's grant.
``purpose`` is required."""
TIMELINE_DOC = """A person's events and dated records in time order, with places, through the caller's grant."""
GRAPH_DOC = """Persons related to a person (household, case, dispute, phone, address, hotel room, vehicle,
co-presence), each edge with its kind, weight and evidence records; ``depth`` 1-3."""

COLLIDE_DOC = """Multi-point collision (多点碰撞): the persons and vehicles present at at least ``min_points`` of the
``points`` (default: all), each point a place code (``place``), a division code of 4, 6, 9 or 12 digits
(``division``) or a circle (``near: {longitude, latitude, radius_m}``), with its ``start`` and ``end``
(local times); each subject with the events that put it there, through the caller's grant. ``purpose`` is
required."""

COMPANIONS_DOC = """Companions (同行) of a person (person_uid or ID number) or a vehicle (plate) between ``since``
and ``until`` (at most 31 days, local times): who was seen at the same place within ``minutes`` of it, at
least ``min_times`` times at ``min_places`` distinct places, with the pairs of events; through the
caller's grant. ``purpose`` is required."""

SERIES_DOC = """Serial-case linking (智能串并): candidate series among the police cases between ``since`` and
``until`` (default: the last year; at most three years), optionally of one ``offence``; each link with its
score (bits) and the features that made it (offence, modus operandi, place, time, a shared suspect, phone
or vehicle), and the weights used (``weights``: m, u and log2(m/u) per feature level). Through the
caller's grant: cases it may not see are not compared, columns it sees masked are not compared.
``purpose`` is required."""

DECISION_DOC = """An analyst's decision on the link between two cases (case numbers, or AGENCY/RECORD):
``confirmed`` keeps it in its series whatever its score, ``rejected`` removes it for good. The caller must
see both cases through its grant (404 otherwise). Stored, and written to the ledger (``series_decision``)."""

WATCH_DOC = """Watchlists (布控) of the caller's agency (its grant: ``watch: true``): register a watch on a
person (person_uid), an ID number, a phone or a plate, with its reason, case number, days and alert routes;
list them (values masked), revoke one; read the alerts (each record through the caller's grant, how it
matched: by the value, or through the person index) and acknowledge one. Every change is in the ledger.
``purpose`` is required."""

MEDIATION_DOC = """The dispute-mediation centre's queues (矛盾纠纷调解): per intake window the open disputes by step
(intake, assigned, mediating, agreement), the overdue ones (past the time limit of their step:
schemas/reference/mediation.yaml), those done in the last 30 days; and the overdue list. ``as_of``: as they
stood then (a date: at its end). Through the caller's grant (its jurisdiction). ``purpose`` is required."""

MAP_DOC = """The crime and dispute map's numbers (犯罪制图): per area of ``level`` (city, district, town, community,
compound; ``inside`` one district/town/community) the count of cases by type (``by`` case_type or offence)
or of disputes by intake window in ``period`` (a month 2026-11, a quarter 2026-Q4 or a year; default last
month), the rate per 10,000 residents, the previous period's count and the change. Through the caller's
grant: only its jurisdiction, and counts below its ``aggregates.min_count`` suppressed (``null``) together
with enough others that no subtraction recovers them. ``points``: the cases as points, for a grant that
shows their coordinates. ``purpose`` is required."""

MAP_EXPORT_DOC = """The same table as ``GET /map`` as a CSV or XLSX file (suppressed counts as ``<N``; text that a
spreadsheet could run as a formula neutralised, as every export). ``purpose`` is required."""

ToolHook = Callable[[dict[str, Any], str, dict[str, Any]], Any]


class CompanionTerms:
    """The query parameters of both companions routes (a person's, a vehicle's)."""

    def __init__(self, since: dt.datetime, until: dt.datetime, minutes: Annotated[int, Query(ge=1, le=120)] = 5,
                 min_times: Annotated[int, Query(ge=1, le=100)] = 2,
                 min_places: Annotated[int, Query(ge=1, le=100)] = 2) -> None:
        self.since, self.until, self.minutes = since, until, minutes
        self.min_times, self.min_places = min_times, min_places


class SeriesDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: str = Field(min_length=1, max_length=140, description="a case number, or AGENCY/RECORD")
    b: str = Field(min_length=1, max_length=140, description="the other case")
    decision: Literal["confirmed", "rejected"]
    reason: str | None = Field(default=None, max_length=500, description="why (kept with the decision)")


class WatchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["person", "id", "phone", "plate"]
    value: str = Field(min_length=1, max_length=40, description="person_uid, ID number, phone or plate")
    reason: str = Field(min_length=1, max_length=500)
    case_number: str = Field(min_length=1, max_length=64, description="the case the watch is for")
    days: int = Field(default=30, ge=1, le=366, description="it expires after this many days")
    notify: list[str] = Field(default_factory=list, max_length=10, description="alert routes (connection names)")


class WatchNote(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = Field(default=None, max_length=500)


class CollisionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    points: list[dict[str, Any] | str] = Field(min_length=2, max_length=10, description=(
        "each {place|division|near, start, end} or KIND=VALUE@START/END"))
    min_points: int | None = Field(default=None, ge=2, le=10, description="present at this many points at least")


def add_investigation_routes(app: FastAPI, tools: ToolHook) -> FastAPI:
    responses: dict[int | str, dict[str, Any]] = {400: {}, 401: {}, 403: {}, 404: {}, 429: {}, 503: {}}

    async def gated(request: Request, tool: str, ident: str, params: dict[str, Any], shown: str
                    ) -> tuple[int, str]:
        from exchange.workspace.investigate import recorded_query as recorded

        info = _gate_request(request, ident)
        info["path"] = f"{request.url.path}" + (f"?q={recorded(ident)}" if tool == "search" else "") + shown
        request.state.recorded = True  # the gate writes this request's audit.access row
        if inspect.iscoroutinefunction(tools):
            return await tools(info, tool, params)
        return await run_in_threadpool(tools, info, tool, params)  # the blocking gate

    async def answer(request: Request, tool: str, ident: str, params: dict[str, Any], shown: str) -> Response:
        return _json_response(await gated(request, tool, ident, params, shown))

    @app.get("/search", responses=responses, description=SEARCH_DOC)
    async def search(request: Request, q: Annotated[str, Query(max_length=100)],
                     kind: Annotated[str | None, Query(pattern="^(id|phone|name|address|plate|org|case)$")] = None,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> Response:
        return await answer(request, "search", q, {"kind": kind, "limit": limit}, f"&kind={kind}" if kind else "")

    @app.get("/persons/{ident}/timeline", responses=responses, description=TIMELINE_DOC)
    async def timeline(request: Request, ident: str, since: dt.datetime | None = None,
                       until: dt.datetime | None = None) -> Response:
        return await answer(request, "timeline", ident, {"start": since, "end": until}, "")

    @app.get("/persons/{ident}/graph", responses=responses, description=GRAPH_DOC)
    async def graph(request: Request, ident: str, depth: Annotated[int, Query(ge=1, le=3)] = 1,
                    fan_out: Annotated[int, Query(ge=1, le=200)] = 25) -> Response:
        return await answer(request, "graph", ident, {"depth": depth, "fan_out": fan_out}, f"?depth={depth}")

    async def companion_answer(request: Request, ident: str, terms: CompanionTerms) -> Response:
        params = {"start": terms.since, "end": terms.until, "minutes": terms.minutes, "min_times": terms.min_times,
                  "min_places": terms.min_places}
        return await answer(request, "companions", ident, params,
                            f"?since={terms.since:%Y-%m-%dT%H:%M}&until={terms.until:%Y-%m-%dT%H:%M}"
                            f"&minutes={terms.minutes}&min_times={terms.min_times}&min_places={terms.min_places}")

    @app.get("/persons/{ident}/companions", responses=responses, description=COMPANIONS_DOC)
    async def person_companions(request: Request, ident: str, terms: Annotated[CompanionTerms, Depends()]
                                ) -> Response:
        return await companion_answer(request, ident, terms)

    @app.get("/vehicles/{plate}/companions", responses=responses, description=COMPANIONS_DOC)
    async def vehicle_companions(request: Request, plate: str, terms: Annotated[CompanionTerms, Depends()]
                                 ) -> Response:
        return await companion_answer(request, plate, terms)

    @app.post("/collisions", responses=responses, description=COLLIDE_DOC)
    async def collisions(request: Request, body: CollisionRequest) -> Response:
        from exchange.workspace.collide import on_record

        shown = on_record(body.points, body.min_points)  # the points go on record in the request's path
        return await answer(request, "collide", f"{len(body.points)} points",
                            {"points": body.points, "min_points": body.min_points}, f" {shown}")

    _case_routes(app, answer, responses)
    _map_routes(app, gated, responses)
    _watch_routes(app, answer, responses)
    return app


Answer = Callable[[Request, str, str, dict[str, Any], str], Any]
"""(request, tool, what is asked, params, what the request's path adds on record) → the gate's response."""


def _case_routes(app: FastAPI, answer: Answer, responses: dict[int | str, dict[str, Any]]) -> None:
    """Serial-case linking and the mediation centre's queues."""

    @app.get("/series", responses=responses, description=SERIES_DOC)
    async def series(request: Request, since: dt.date | None = None, until: dt.date | None = None,
                     offence: Annotated[str | None, Query(max_length=32, pattern="^[a-z_]+$")] = None) -> Response:
        from exchange.workspace.series import described

        params = {"start": since, "end": until, "offence": offence}
        return await answer(request, "series", "series", params, f" {described(params)}")

    @app.post("/series/decisions", responses=responses, description=DECISION_DOC)
    async def series_decision(request: Request, body: SeriesDecision) -> Response:
        from exchange.workspace.series import DECIDE

        return await answer(request, DECIDE, f"{body.a} {body.b}", body.model_dump(),
                            f" {body.decision} {body.a} {body.b}")

    @app.get("/mediation", responses=responses, description=MEDIATION_DOC)
    async def mediation(request: Request, window: Annotated[str | None, Query(max_length=40,
                                                                              pattern="^[a-z_]+$")] = None,
                        as_of: Annotated[str | None, Query(max_length=19)] = None) -> Response:
        from exchange.workspace.mediation import described

        params = {"window": window, "as_of": as_of}
        return await answer(request, "mediation", "mediation", params, f" {described(params)}")


class MapTerms:
    """The query parameters of both map routes."""

    def __init__(self, kind: Literal["case", "dispute"] = "case",
                 period: Annotated[str | None, Query(max_length=7, pattern=r"^\d{4}(-\d{1,2}|-?[Qq][1-4])?$")] = None,
                 level: Literal["city", "district", "town", "community", "compound"] = "district",
                 by: Literal["case_type", "offence", "category"] | None = None,
                 inside: Annotated[str | None, Query(pattern=r"^\d{6}(\d{3}){0,2}$")] = None,
                 points: bool = False) -> None:
        self.params = {"kind": kind, "period": period, "level": level, "by": by, "inside": inside, "points": points}


def _map_routes(app: FastAPI, gated: Callable[..., Any], responses: dict[int | str, dict[str, Any]]) -> None:
    """The crime and dispute map's numbers, as JSON and as a CSV/XLSX download."""
    from exchange.workspace.area_map import TOOL, described, download

    @app.get("/map", responses=responses, description=MAP_DOC)
    async def area_map(request: Request, terms: Annotated[MapTerms, Depends()]) -> Response:
        params = terms.params
        return _json_response(await gated(request, TOOL, "map", params, f" {described(params)}"))

    @app.get("/map/export", responses=responses, description=MAP_EXPORT_DOC)
    async def area_map_export(request: Request, terms: Annotated[MapTerms, Depends()],
                              format: Literal["csv", "xlsx"] = "csv") -> Response:
        import json

        params = {**terms.params, "points": False, "format": format}
        status, text = await gated(request, TOOL, "map", params, f" {described(params)}")
        if status != 200:
            return _json_response((status, text))
        found = json.loads(text)
        body, media, headers = await run_in_threadpool(download, found, format)
        return Response(body, media_type=media, headers=headers)


def _watch_routes(app: FastAPI, answer: Answer, responses: dict[int | str, dict[str, Any]]) -> None:
    """Watchlists: register, list, revoke; the alerts, acknowledged."""
    from exchange.workspace.watch import ACK, ADD, ALERTS, LIST, REVOKE
    from exchange.workspace.watch import described as watch_described

    @app.get("/watches", responses=responses, description=WATCH_DOC)
    async def watches(request: Request) -> Response:
        return await answer(request, LIST, "watches", {}, "")

    @app.post("/watches", responses=responses, description=WATCH_DOC)
    async def watch_add(request: Request, body: WatchRequest) -> Response:
        params = body.model_dump()
        return await answer(request, ADD, watch_described(ADD, params), params, f" {watch_described(ADD, params)}")

    @app.delete("/watches/{watch_id}", responses=responses, description=WATCH_DOC)
    async def watch_revoke(request: Request, watch_id: Annotated[str, Path(max_length=20)]) -> Response:
        return await answer(request, REVOKE, watch_id, {"watch_id": watch_id}, "")

    @app.get("/watches/alerts", responses=responses, description=WATCH_DOC)
    async def watch_alerts(request: Request, open_only: bool = False,
                           limit: Annotated[int, Query(ge=1, le=500)] = 200) -> Response:
        return await answer(request, ALERTS, "alerts", {"open_only": open_only, "limit": limit}, "")

    @app.post("/watches/alerts/{match_id}/ack", responses=responses, description=WATCH_DOC)
    async def watch_ack(request: Request, match_id: int, body: WatchNote | None = None) -> Response:
        return await answer(request, ACK, str(match_id), {"match_id": match_id, "note": body.note if body else None},
                            "")
